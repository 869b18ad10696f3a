package workflows

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
)

// BulletinInput starts or continues the bulletin workflow.
type BulletinInput struct {
	// Next is the period to publish next; nil: the one the workflow's
	// start falls in.
	Next *duban.Period
	// Grace is how long after a period's end its bulletin is published, so
	// that an event decided just before the end and stored just after it
	// is counted; 0: DefaultBulletinGrace.
	Grace time.Duration
}

// DefaultBulletinGrace is how long after a period's end its bulletin is
// published.
const DefaultBulletinGrace = time.Minute

// bulletinsPerRun bounds a run's history: a year of periods, then the
// workflow continues as new.
const bulletinsPerRun = 12

// bulletins is only used to name the bulletin activities.
var bulletins *activities.Bulletins

// BulletinWorkflow publishes each assessment period's bulletin (通报) at the
// period's end: a durable timer, so it fires even when no one is looking,
// and after a restart when the end passed while duban was down; the
// publication is idempotent, so it happens once.
func BulletinWorkflow(ctx workflow.Context, in BulletinInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	next, grace := in.Next, in.Grace
	if grace <= 0 {
		grace = DefaultBulletinGrace
	}
	for range bulletinsPerRun {
		if next == nil {
			var p duban.Period
			if err := workflow.ExecuteActivity(ctx, bulletins.PeriodOf, workflow.Now(ctx)).Get(ctx, &p); err != nil {
				return err
			}
			next = &p
		}
		if wait := next.To.Add(grace).Sub(workflow.Now(ctx)); wait > 0 {
			if err := workflow.Sleep(ctx, wait); err != nil {
				return err
			}
		}
		if err := workflow.ExecuteActivity(ctx, bulletins.PublishBulletin, *next).Get(ctx, nil); err != nil {
			return err
		}
		var following duban.Period
		if err := workflow.ExecuteActivity(ctx, bulletins.PeriodOf, next.To).Get(ctx, &following); err != nil {
			return err
		}
		next = &following
	}
	return workflow.NewContinueAsNewError(ctx, BulletinWorkflow, BulletinInput{Next: next, Grace: in.Grace})
}

// BulletinWorkflowID names the one bulletin workflow of a task queue.
func BulletinWorkflowID(taskQueue string) string { return "duban-bulletins/" + taskQueue }

// StartBulletins starts the bulletin workflow of the task queue, unless it
// runs already: every worker calls it at its start.
func StartBulletins(ctx context.Context, c client.Client, taskQueue string) error {
	if taskQueue == "" {
		taskQueue = TaskQueue
	}
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       BulletinWorkflowID(taskQueue),
		TaskQueue:                taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, BulletinWorkflow, BulletinInput{})
	return err
}
