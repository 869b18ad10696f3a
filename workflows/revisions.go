package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/duban/duban"
)

// Revisions of CaseWorkflow. duban versions the workflow one way only: a
// run's behaviour is fixed by the Revision in its Input when it starts, so
// that a run started by older code replays exactly as it ran. New runs,
// continued ones included, get Revision. The histories recorded from real
// runs of each revision (testdata/histories/revN-*.json, recorded by
// cmd/duban's TestRecordHistories) replay in TestReplayRecordedHistories.
//
// To change what a running case does: add a revision here, branch on it
// where the behaviour changes, keep the older path in this file, raise
// latest, and record the new revision's histories (README, "Changing
// the workflow").
//
// Every path of an older revision is in this file. A path of revision N
// can go, with the histories of revisions up to N, once no run of a
// revision up to N is open: every run of CaseWorkflow started before the
// release that brought revision N+1 has ended or continued as new. An
// operator lists those left with
//
//	temporal workflow list --query 'WorkflowType="CaseWorkflow" AND ExecutionStatus="Running" AND StartTime < "<that release's time>"'
const (
	// Runs of revision 0 waited up to openTimeout for the open command,
	// and started a timer each time the case changed, never cancelling
	// one: each fired later, for nothing, costing the server a task.

	// timerPerWake: a run keeps one timer for the case's next wake and
	// cancels the timers it no longer needs; it waits for the open
	// command's handler, not for a time.
	timerPerWake = 1
	// openFromStore: a run whose open command it did not see (the Temporal
	// server lost the update after its events were committed) takes the
	// case from the store rather than ending without it.
	openFromStore = 2
	// commandFacts: commands carry the facts their decision needs (the
	// policy's units for an assignment, the original of a duplicate), and
	// the workflow refuses what they rule out, as the application layer does.
	commandFacts = 3
	// searchAttributes: a run keeps the case's search attributes current
	// (search.go), waking at the running stage's deadline, if no step of
	// the ladder falls there, to set CaseOverdue.
	searchAttributes = 4
	// residents: a resident's report, once closed, keeps its run until
	// its rating window ends, for the reporter's rating and the office's
	// reopening (CaseReopened puts it back in the unit's hands).
	residents = 5
	// ownSteps: a command's If-Match is not made stale by duban's own
	// warnings and escalations since (duban.Case.Stale), only by other
	// changes. Runs before refused any version but the
	// case's (staleOfOldRevisions).
	ownSteps = 6

	// latest is the newest revision: what new runs get (Revision, in
	// revision.go), but in a build for a release's rehearsal.
	latest = ownSteps
)

// openTimeout bounds how long a run of revision 0 waits for its open
// command.
const openTimeout = time.Minute

// awaitOpenV0 is how runs of revision 0 wait for their open command.
func (r *run) awaitOpenV0(ctx workflow.Context) error {
	_, err := workflow.AwaitWithTimeout(ctx, openTimeout, func() bool { return r.state.Version > 0 })
	return err
}

// waitForNextStepV0 is waitForNextStep as runs of revision 0 replay it.
func (r *run) waitForNextStepV0(ctx workflow.Context, next time.Time, ok bool) error {
	version := r.state.Version
	changed := func() bool { return r.state.Version != version || r.continueAsNew(ctx) }
	if !ok {
		return workflow.Await(ctx, changed)
	}
	if wait := next.Sub(workflow.Now(ctx)); wait > 0 {
		woke, err := workflow.AwaitWithTimeout(ctx, wait, changed)
		if err != nil || woke {
			return err
		}
	}
	return r.tick(ctx)
}

// factsOfOldRevisions gives a command sent to a run of a revision before
// commandFacts the facts it did not carry then: the API of that time had
// checked them before sending it (the unit it assigns to is the policy's;
// the original it merges a duplicate into exists, is visible and open), so
// that the command's decision replays as it was made. A command that
// carries its facts is decided on them, whatever the run's revision.
func (r *run) factsOfOldRevisions(cmd duban.Command) duban.Command {
	if r.in.Revision >= commandFacts {
		return cmd
	}
	switch c := cmd.(type) {
	case duban.Assign:
		if c.Units == nil {
			c.Units = []string{c.Unit}
		}
		return c
	case duban.Cancel:
		if c.DuplicateOf != "" && c.Original == nil {
			// "Open", as the API had found it; which open status does not matter.
			c.Original = &duban.CaseRef{ID: c.DuplicateOf, Status: duban.StatusInProgress}
		}
		return c
	}
	return cmd
}

// staleOfOldRevisions judges cmd's If-Match as runs of a revision before
// ownSteps did, given Decide's answer on the run's state: any version but
// the case's was stale, refused after a case not found and a role
// forbidden, as Decide orders its refusals.
func (r *run) staleOfOldRevisions(cmd duban.Command, events []duban.Event, err error) ([]duban.Event, error) {
	v := cmd.Meta().IfMatch
	if r.in.Revision >= ownSteps || v == 0 || v == r.state.Version {
		return events, err
	}
	if code := duban.ErrorCode(err); code == duban.ENOTFOUND || code == duban.EFORBIDDEN {
		return nil, err
	}
	return nil, duban.Errorf(duban.EPRECONDITION, "the case is at version %d, not %d", r.state.Version, v)
}
