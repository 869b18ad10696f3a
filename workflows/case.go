// Package workflows holds CaseWorkflow, the single writer of a case's
// history, and the client (the engine of package app) that reaches it.
//
// One workflow runs per open case, its id the case id. Commands arrive as
// Updates: the validator asks Decide whether the command is allowed before
// anything is written, the handler decides again on the current state,
// appends the events through a local activity and answers with the case.
// Deadlines are timers: the workflow sleeps until the next step of the
// running stage's ladder and records it as the system. The code here is
// orchestration only; every rule is in duban.Decide.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
)

// TaskQueue is where case workflows and their activities run.
const TaskQueue = "duban-cases"

// DefaultHistoryLimit is the history length after which a case continues as
// new, well below Temporal's limits (51,200 events, 2,000 updates a run).
const DefaultHistoryLimit = 4000

// Input starts or continues a case workflow.
type Input struct {
	CaseID string
	// Case is the state carried over by continue-as-new; zero for a new case.
	Case duban.Case
	// HistoryLimit overrides DefaultHistoryLimit (tests use small values).
	HistoryLimit int
	// Revision is how the run behaves, fixed when it starts so that a run
	// started by older code replays as it ran; new runs, continued ones
	// included, get Revision (see revisions.go).
	Revision int
}

// acts is only used to name activity methods.
var acts *activities.Activities

// run is one run of a case workflow: its state and the lock that makes
// commands and deadline ticks take turns.
type run struct {
	in        Input
	state     duban.Case
	busy      bool
	published searchAttrs
}

// CaseWorkflow is the life of one case.
func CaseWorkflow(ctx workflow.Context, in Input) error {
	r := &run{in: in, state: in.Case}
	if err := r.register(ctx); err != nil {
		return err
	}
	if r.state.Version == 0 {
		if err := r.awaitOpen(ctx); err != nil {
			return err
		}
	}
	r.rehearse(ctx)
	for {
		if !r.live(ctx) {
			return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		}
		if r.continueAsNew(ctx) {
			if err := workflow.Await(ctx, func() bool { return !r.busy && workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			return workflow.NewContinueAsNewError(ctx, CaseWorkflow, Input{CaseID: in.CaseID, Case: r.state, HistoryLimit: in.HistoryLimit, Revision: Revision})
		}
		r.publish(ctx)
		if err := r.waitForNextStep(ctx); err != nil {
			return err
		}
	}
}

// awaitOpen waits for the open command's handler. Update-with-Start
// delivers the command with the run's first workflow task, and its handler
// starts before the workflow function runs: if none has run or is running,
// the command was refused, or the server lost it. A lost open may have
// committed its events first (the client, told so when it repeats the open,
// goes on with the case): the run then takes the case from the store. With
// nothing there, no case will open in this run.
func (r *run) awaitOpen(ctx workflow.Context) error {
	if r.in.Revision < timerPerWake {
		if err := r.awaitOpenV0(ctx); err != nil {
			return err
		}
	} else if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	if r.state.Version == 0 && r.in.Revision >= openFromStore {
		if err := r.takeFromStore(ctx); err != nil {
			return err
		}
	}
	if r.state.Version == 0 {
		return temporal.NewNonRetryableApplicationError("no case was opened: the open command was refused or never came", "NotOpened", nil)
	}
	return nil
}

// takeFromStore folds what the store holds past the run's state, taking its
// turn as a command does (a repeated open may be running).
func (r *run) takeFromStore(ctx workflow.Context) error {
	if err := r.takeTurn(ctx); err != nil {
		return err
	}
	defer r.endTurn()
	for {
		var stored []duban.Event
		err := workflow.ExecuteLocalActivity(localActivity(ctx), acts.EventsAfter, r.in.CaseID, r.state.Version).Get(ctx, &stored)
		if err == nil {
			r.state = duban.Fold(r.state, stored)
			return nil
		}
		// The store is unreachable: ending now could leave a case without
		// its workflow; ask again shortly.
		workflow.GetLogger(ctx).Warn("reading a case's events failed", "error", err)
		if err := workflow.Sleep(ctx, 10*time.Second); err != nil {
			return err
		}
	}
}

// waitForNextStep sleeps until the case next needs the system (the running
// stage's next ladder step, or the end of a suspension) and ticks it, or
// returns early when that time moves (a command met the obligation or moved
// the deadline), the case closes or the run should continue as new.
func (r *run) waitForNextStep(ctx workflow.Context) error {
	next, ok := r.nextWake(ctx)
	if r.in.Revision < timerPerWake {
		return r.waitForNextStepV0(ctx, next, ok)
	}
	moved := func() bool {
		n, ok2 := r.nextWake(ctx)
		return ok2 != ok || !n.Equal(next) || !r.live(ctx) || r.continueAsNew(ctx)
	}
	if !ok {
		return workflow.Await(ctx, moved)
	}
	if wait := next.Sub(workflow.Now(ctx)); wait > 0 {
		// One timer per wake time: a command that leaves it where it was
		// (a comment, an urge) costs no timer, and one that moves it
		// cancels it, so no stale timer fires later for nothing.
		timerCtx, cancel := workflow.WithCancel(ctx)
		timer := workflow.NewTimer(timerCtx, wait)
		if err := workflow.Await(ctx, func() bool { return timer.IsReady() || moved() }); err != nil {
			return err
		}
		if !timer.IsReady() {
			if r.live(ctx) && !r.continueAsNew(ctx) {
				cancel() // a run that ends takes its timers with it
			}
			return nil
		}
	}
	return r.tick(ctx)
}

// nextWake is when the run next needs to wake: the case's next wake or,
// from revision searchAttributes on, the running stage's deadline if that
// is still to come, and first, so that CaseOverdue is set when it passes.
func (r *run) nextWake(ctx workflow.Context) (time.Time, bool) {
	next, ok := r.state.NextWake()
	if r.in.Revision >= searchAttributes {
		_, deadline, running := r.state.RunningStage()
		if running && deadline.After(workflow.Now(ctx)) && (!ok || deadline.Before(next)) {
			return deadline, true
		}
	}
	return next, ok
}

// tick records what has come due as the system.
func (r *run) tick(ctx workflow.Context) error {
	if err := r.execute(ctx, duban.Tick{CommandMeta: duban.CommandMeta{By: duban.System}}, fmt.Sprintf("tick:%d", r.state.Version)); err != nil {
		// The store is unreachable: try again shortly; the step stays due.
		workflow.GetLogger(ctx).Warn("a deadline tick failed", "error", err)
		return workflow.Sleep(ctx, 10*time.Second)
	}
	return nil
}

// live reports whether the run still has a case to keep: an open one or,
// from revision residents on, a resident's closed case within its rating
// window, which its reporter may rate and the office reopen.
func (r *run) live(ctx workflow.Context) bool {
	if r.in.Revision < residents {
		return r.state.Status.Open()
	}
	return r.state.Live(workflow.Now(ctx))
}

func (r *run) continueAsNew(ctx workflow.Context) bool {
	limit := r.in.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= limit
}

// register installs an Update handler, with its validator, per command.
func (r *run) register(ctx workflow.Context) error {
	for _, err := range []error{
		handle[duban.OpenCase](ctx, r),
		handle[duban.Acknowledge](ctx, r),
		handle[duban.Resolve](ctx, r),
		handle[duban.Verify](ctx, r),
		handle[duban.AddComment](ctx, r),
		handle[duban.Dispute](ctx, r),
		handle[duban.Assign](ctx, r),
		handle[duban.RequestExtension](ctx, r),
		handle[duban.DecideExtension](ctx, r),
		handle[duban.Urge](ctx, r),
		handle[duban.Cancel](ctx, r),
		handle[duban.Suspend](ctx, r),
		handle[duban.Resume](ctx, r),
		handle[duban.List](ctx, r),
		handle[duban.Delist](ctx, r),
		handle[duban.Confirm](ctx, r),
		handle[duban.Reject](ctx, r),
		handle[duban.Rate](ctx, r),
		handle[duban.Reopen](ctx, r),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// handle registers the Update for command type C. The validator refuses, with
// nothing written, what Decide refuses on the state as it is; the handler then
// executes the command, answering with the case after it.
func handle[C duban.Command](ctx workflow.Context, r *run) error {
	var zero C
	return workflow.SetUpdateHandlerWithOptions(ctx, zero.Name(),
		func(ctx workflow.Context, cmd C) (duban.Case, error) {
			if err := r.execute(ctx, r.factsOfOldRevisions(cmd), workflow.GetCurrentUpdateInfo(ctx).ID); err != nil {
				return duban.Case{}, toTemporal(err)
			}
			return r.state, nil
		},
		workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, cmd C) error {
				_, err := r.decide(r.factsOfOldRevisions(cmd), workflow.Now(ctx))
				if r.mayBeBehind(cmd, err) {
					return nil // the handler judges it once caught up
				}
				return toTemporal(err)
			},
		})
}

// decide is duban.Decide on the run's state, as runs of its revision decide.
func (r *run) decide(cmd duban.Command, now time.Time) ([]duban.Event, error) {
	events, err := duban.Decide(r.state, cmd, now)
	return r.staleOfOldRevisions(cmd, events, err)
}

// execute waits its turn, decides cmd on the current state, appends the
// events and folds what the store holds. If the store already holds events past this state
// (an earlier attempt of this workflow task committed them), those are
// folded instead; if they were another command's, cmd is decided again.
func (r *run) execute(ctx workflow.Context, cmd duban.Command, commandID string) error {
	if err := r.takeTurn(ctx); err != nil {
		return err
	}
	defer r.endTurn()
	defer r.publish(ctx) // whatever the command or tick changed, even if refused once caught up
	caughtUp := false
	for {
		events, err := r.decide(cmd, workflow.Now(ctx))
		if !caughtUp && r.mayBeBehind(cmd, err) {
			caughtUp = true
			var newer []duban.Event
			if err := workflow.ExecuteLocalActivity(localActivity(ctx), acts.EventsAfter, r.in.CaseID, r.state.Version).Get(ctx, &newer); err != nil {
				workflow.GetLogger(ctx).Error("reading events failed", "command", cmd.Name(), "error", err)
				return duban.Errorf(duban.EUNAVAILABLE, "the event store is unavailable; nothing was recorded")
			}
			if len(newer) > 0 {
				r.state = duban.Fold(r.state, newer)
				continue
			}
		}
		if err != nil || len(events) == 0 {
			return err
		}
		var out duban.Appended
		err = workflow.ExecuteLocalActivity(localActivity(ctx), acts.AppendEvents, duban.Append{
			CaseID:          events[0].CaseID,
			ExpectedVersion: r.state.Version,
			CommandID:       commandID,
			Events:          events,
			Before:          r.state,
		}).Get(ctx, &out)
		if err != nil {
			workflow.GetLogger(ctx).Error("appending events failed", "command", cmd.Name(), "error", err)
			return duban.Errorf(duban.EUNAVAILABLE, "the event store is unavailable; nothing was recorded")
		}
		r.state = duban.Fold(r.state, out.Events)
		if n := len(out.CommandIDs); n > 0 && out.CommandIDs[n-1] == commandID {
			return nil
		}
	}
}

// takeTurn waits until no command, tick or read of the store is running,
// and holds the run for the caller until endTurn.
func (r *run) takeTurn(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return !r.busy }); err != nil {
		return err
	}
	r.busy = true
	return nil
}

func (r *run) endTurn() { r.busy = false }

// mayBeBehind reports whether err refuses cmd on a state the case may have
// moved past, so that the command is judged again once caught up. A run
// with no case yet refuses a command as to a case that does not exist: its
// open may still be under way (its handler waiting on the store, or the
// run about to take the case from the store), so the handler, which waits
// its turn behind them, decides it. And the store can be ahead of the run:
// the events of a command whose update the Temporal server lost (it
// crashed after they were committed, before the update was recorded) are
// in the store but not in this run; a conflict or a stale If-Match is
// judged again on what the store holds.
func (r *run) mayBeBehind(cmd duban.Command, err error) bool {
	code := duban.ErrorCode(err)
	if r.state.Version == 0 {
		_, open := cmd.(duban.OpenCase)
		return !open && code == duban.ENOTFOUND
	}
	return code == duban.ECONFLICT || code == duban.EPRECONDITION
}

func localActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    100 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Second,
		},
	})
}
