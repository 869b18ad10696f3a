package workflows

import (
	"context"
	"errors"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
)

// RoundInput starts a round's workflow: for a round planned through the
// API, its id; for one the policy schedules, the schedule's code, and the
// workflow plans it first.
type RoundInput struct {
	RoundID  string
	Schedule string
}

// rounds is only used to name the round activities.
var rounds *activities.Rounds

// RoundWorkflow runs a round's ladder: at each step's time it records the
// step while sites are left (a warning, then escalations), and ends when
// the round is done or its ladder is over. Its timers are durable, so the
// steps are taken with no one looking, after a restart too; each is
// recorded once.
func RoundWorkflow(ctx workflow.Context, in RoundInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	id := in.RoundID
	if in.Schedule != "" {
		// The workflow's id is the schedule's action for one start: the
		// key that makes a retried plan answer the round it planned.
		key := "schedule\n" + workflow.GetInfo(ctx).WorkflowExecution.ID
		if err := workflow.ExecuteActivity(ctx, rounds.PlanScheduledRound, in.Schedule, key).Get(ctx, &id); err != nil {
			return err
		}
	}
	var steps []duban.StepAt
	if err := workflow.ExecuteActivity(ctx, rounds.RoundLadder, id).Get(ctx, &steps); err != nil {
		return err
	}
	for _, step := range steps {
		if wait := step.At.Sub(workflow.Now(ctx)); wait > 0 {
			if err := workflow.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		var done bool
		if err := workflow.ExecuteActivity(ctx, rounds.RecordRoundStep, id, step.Level).Get(ctx, &done); err != nil || done {
			return err
		}
	}
	return nil
}

// RoundWorkflowID names a round's workflow.
func RoundWorkflowID(roundID string) string { return "duban-round/" + roundID }

// StartRound starts the ladder of round id, unless it runs or ran already.
func (c *Client) StartRound(ctx context.Context, id string) error {
	_, err := c.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       RoundWorkflowID(id),
		TaskQueue:                c.taskQueue(),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, RoundWorkflow, RoundInput{RoundID: id})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil // it ran, and ended: the round is done or its ladder over
	}
	return fromTemporal(err)
}

// openRoundsChecked bounds how many of the latest rounds StartLadders
// looks at.
const openRoundsChecked = 1000

// StartLadders starts the ladder of each open round among the latest that
// has none: a round recorded by a process that stopped before it started
// its ladder. A ladder running or run is left as it is. Every worker
// calls it at its start.
func StartLadders(ctx context.Context, c *Client, rounds interface {
	Rounds(ctx context.Context, inspector string, limit int) ([]duban.Round, error)
}) error {
	latest, err := rounds.Rounds(ctx, "", openRoundsChecked)
	if err != nil {
		return err
	}
	for _, r := range latest {
		if r.Status == duban.RoundStatusOpen {
			if err := c.StartRound(ctx, r.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// RoundScheduleID names the Temporal Schedule of a round the policy
// schedules.
func RoundScheduleID(taskQueue, code string) string { return "duban-rounds/" + taskQueue + "/" + code }

// ScheduleRounds makes the task queue's Temporal Schedules those of the
// policy's rounds: each created, or updated to what the policy says now;
// those of rounds the policy no longer has deleted. Every worker calls it
// at its start.
func ScheduleRounds(ctx context.Context, c client.Client, policy *duban.Policy, taskQueue string) error {
	if taskQueue == "" {
		taskQueue = TaskQueue
	}
	schedules := c.ScheduleClient()
	wanted := map[string]bool{}
	for _, r := range policy.Rounds {
		id := RoundScheduleID(taskQueue, r.Code)
		wanted[id] = true
		spec := roundSpec(r, policy.TimeZone)
		action := &client.ScheduleWorkflowAction{
			ID: RoundWorkflowID(r.Code), Workflow: RoundWorkflow, Args: []any{RoundInput{Schedule: r.Code}}, TaskQueue: taskQueue,
		}
		_, err := schedules.Create(ctx, client.ScheduleOptions{ID: id, Spec: spec, Action: action,
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL})
		if errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
			err = schedules.GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
				DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
					in.Description.Schedule.Spec = &spec
					in.Description.Schedule.Action = action
					return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
				},
			})
		}
		if err != nil {
			return err
		}
	}
	list, err := schedules.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return err
	}
	prefix := RoundScheduleID(taskQueue, "")
	for list.HasNext() {
		entry, err := list.Next()
		if err != nil {
			return err
		}
		if strings.HasPrefix(entry.ID, prefix) && !wanted[entry.ID] {
			if err := schedules.GetHandle(ctx, entry.ID).Delete(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// roundSpec is when a scheduled round starts, in the policy's zone.
func roundSpec(r duban.RoundSchedule, zone string) client.ScheduleSpec {
	spec := client.ScheduleSpec{TimeZoneName: zone}
	if r.Cron != "" {
		spec.CronExpressions = []string{r.Cron}
		return spec
	}
	cal := client.ScheduleCalendarSpec{
		Hour:   []client.ScheduleRange{{Start: r.Hour}},
		Minute: []client.ScheduleRange{{Start: r.Minute}},
		Second: []client.ScheduleRange{{Start: 0}},
	}
	if r.Weekday >= 0 {
		cal.DayOfWeek = []client.ScheduleRange{{Start: r.Weekday}}
	}
	spec.Calendars = []client.ScheduleCalendarSpec{cal}
	return spec
}
