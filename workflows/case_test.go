package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
	"github.com/duban/duban/internal/memstore"
	"github.com/duban/duban/workflows"
)

var (
	t0         = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	inspector  = duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	sanitation = duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}
)

const caseID = "0b5a6c1e-8a51-4f7e-9d0c-2f6a1b3c4d5e"

// harnessStore is the in-memory event store the workflow runs on, with
// what the tests read of its one case.
type harnessStore struct{ *memstore.Store }

// events returns the case's events in version order.
func (m harnessStore) events() []duban.Event {
	events, _ := m.EventsAfter(context.Background(), caseID, 0)
	return events
}

// types returns the types of the case's events, in version order.
func (m harnessStore) types() []duban.EventType {
	var out []duban.EventType
	for i, e := range m.events() {
		if e.Version != int64(i+1) {
			panic(fmt.Sprintf("event %d has version %d", i, e.Version))
		}
		out = append(out, e.Type)
	}
	return out
}

// policyTerms: acknowledge in 30m, resolve in 24h, verify in 4h, counted
// 24x7; warn at -25%, escalate at 0, +4h and +24h.
func policyTerms() duban.Terms {
	return duban.Terms{
		SLA:      duban.SLA{Acknowledge: 30 * time.Minute, Resolve: 24 * time.Hour, Verify: 4 * time.Hour},
		Calendar: duban.Calendar{Kind: duban.Calendar24x7},
		Ladder:   duban.DefaultPolicy().Escalation,
	}
}

func openCmd() duban.OpenCase {
	return duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector},
		CaseID:      caseID, Category: "littering", Severity: duban.SeverityNormal,
		Description: "bags at the bus stop", Location: duban.Location{Lat: 39.9, Lon: 116.4},
		Unit: "sanitation", Terms: policyTerms(), RequestHash: "h",
	}
}

type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	store harnessStore
	n     int
}

func newHarness(t *testing.T) *harness {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))))
	env := suite.NewTestWorkflowEnvironment()
	store := harnessStore{memstore.New()}
	env.RegisterWorkflow(workflows.CaseWorkflow)
	env.RegisterActivity(&activities.Activities{Store: store})
	env.SetStartTime(t0)
	return &harness{t: t, env: env, store: store}
}

// at sends cmd at offset after the start; check sees the update's outcome.
func (h *harness) at(offset time.Duration, cmd duban.Command, check func(c duban.Case, err error)) {
	h.n++
	id := fmt.Sprintf("u%d", h.n)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(cmd.Name(), id, &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { check(duban.Case{}, err) },
			OnAccept:   func() {},
			OnComplete: func(v any, err error) { c, _ := v.(duban.Case); check(c, err) },
		}, cmd)
	}, offset)
}

// ok fails the test when a command is refused.
func (h *harness) ok(c duban.Case, err error) {
	if err != nil {
		h.t.Errorf("command refused: %v", err)
	}
}

func (h *harness) cancelAt(offset time.Duration) {
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, offset)
}

func (h *harness) run(in workflows.Input) {
	if in.CaseID == "" {
		in.CaseID = caseID
	}
	if in.Revision == 0 {
		in.Revision = workflows.Revision
	}
	h.env.ExecuteWorkflow(workflows.CaseWorkflow, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
}

func by(p duban.Principal) duban.CommandMeta { return duban.CommandMeta{By: p} }

func TestFullLoopEndsTheWorkflow(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), func(c duban.Case, err error) {
		if err != nil || c.Status != duban.StatusDispatched || c.Unit != "sanitation" || c.Version != 2 {
			t.Errorf("open answered %+v, %v", c, err)
		}
	})
	h.at(10*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok)
	h.at(2*time.Hour, duban.Resolve{CommandMeta: by(sanitation), Note: "cleared"}, h.ok)
	h.at(3*time.Hour, duban.Verify{CommandMeta: by(inspector), Note: "bags are back"}, func(c duban.Case, err error) {
		if err != nil || c.Status != duban.StatusInProgress || c.ReworkCount != 1 || !c.Deadlines.ResolveBy.Equal(t0.Add(27*time.Hour)) {
			t.Errorf("failed verification answered %+v, %v", c, err)
		}
	})
	h.at(4*time.Hour, duban.Resolve{CommandMeta: by(sanitation), Note: "cleared again"}, h.ok)
	h.at(5*time.Hour, duban.Verify{CommandMeta: by(inspector), Passed: true}, func(c duban.Case, err error) {
		if err != nil || c.Status != duban.StatusClosed {
			t.Errorf("passed verification answered %+v, %v", c, err)
		}
	})
	h.run(workflows.Input{})
	if err := h.env.GetWorkflowError(); err != nil {
		t.Fatalf("a closed case ends its workflow cleanly: %v", err)
	}
	want := []duban.EventType{duban.EventCaseReported, duban.EventCaseDispatched, duban.EventCaseAcknowledged,
		duban.EventCaseResolved, duban.EventVerificationFailed, duban.EventCaseResolved,
		duban.EventVerificationPassed, duban.EventCaseClosed}
	if got := h.store.types(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v\nwant %v", got, want)
	}
}

func TestLadderFiresWithNoOneLooking(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), h.ok)
	h.cancelAt(30 * time.Hour)
	h.run(workflows.Input{})
	ackBy := t0.Add(30 * time.Minute)
	want := []struct {
		typ   duban.EventType
		level int
		at    time.Time
	}{
		{duban.EventDeadlineWarned, 0, t0.Add(22*time.Minute + 30*time.Second)},
		{duban.EventCaseEscalated, 1, ackBy},
		{duban.EventCaseEscalated, 2, ackBy.Add(4 * time.Hour)},
		{duban.EventCaseEscalated, 3, ackBy.Add(24 * time.Hour)},
	}
	events := h.store.events()[2:]
	if len(events) != len(want) {
		t.Fatalf("events %v", h.store.types())
	}
	for i, w := range want {
		e := events[i]
		if e.Type != w.typ || e.Actor != duban.System || !e.OccurredAt.Equal(w.at) {
			t.Errorf("step %d: %s by %v at %v, want %s at %v", i, e.Type, e.Actor, e.OccurredAt, w.typ, w.at)
		}
		if esc, ok := e.Data.(duban.CaseEscalated); ok && (esc.Level != w.level || esc.Stage != duban.StageAcknowledge || !esc.Deadline.Equal(ackBy)) {
			t.Errorf("step %d data %+v", i, esc)
		}
	}
}

func TestMetObligationCancelsItsLadder(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), h.ok)
	h.at(25*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok) // after the warning, before level 1
	h.cancelAt(20 * time.Hour)
	h.run(workflows.Input{})
	want := []duban.EventType{duban.EventCaseReported, duban.EventCaseDispatched, duban.EventDeadlineWarned,
		duban.EventCaseAcknowledged, duban.EventDeadlineWarned}
	if got := h.store.types(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v\nwant %v", got, want)
	}
	if w := h.store.events()[4].Data.(duban.DeadlineWarned); w.Stage != duban.StageResolve || !w.DueAt.Equal(t0.Add(18*time.Hour)) {
		t.Fatalf("resolve warning %+v", w)
	}
}

// A case keeps one timer for its next wake: commands that leave the wake
// where it was start none, one that moves it cancels the old, and a closed
// case's run ends with nothing left to fire.
func TestOneTimerPerWake(t *testing.T) {
	h := newHarness(t)
	var started, cancelled []time.Duration
	h.env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { started = append(started, d) })
	h.env.SetOnTimerCanceledListener(func(string) { cancelled = append(cancelled, 0) })
	h.at(0, openCmd(), h.ok)
	for i := range 3 {
		h.at(time.Duration(i+1)*time.Minute, duban.AddComment{CommandMeta: by(inspector), Text: "still there"}, h.ok)
	}
	h.at(10*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok)
	h.at(11*time.Minute, duban.Urge{CommandMeta: by(duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}), Note: "today please"}, h.ok)
	h.at(2*time.Hour, duban.Resolve{CommandMeta: by(sanitation), Note: "cleared"}, h.ok)
	h.at(3*time.Hour, duban.Verify{CommandMeta: by(inspector), Passed: true}, h.ok)
	h.run(workflows.Input{})
	// The acknowledge warning (22m30s), then the resolve warning (18h after
	// opening, from 10m), then the verify warning (3h after resolving).
	want := []time.Duration{22*time.Minute + 30*time.Second, 18*time.Hour - 10*time.Minute, 3 * time.Hour}
	if fmt.Sprint(started) != fmt.Sprint(want) || len(cancelled) != 2 {
		t.Fatalf("timers started %v, %d cancelled; want %v, 2 cancelled", started, len(cancelled), want)
	}
}

func TestRefusedCommandsLeaveNoTrace(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), h.ok)
	expect := func(code string) func(duban.Case, error) {
		return func(_ duban.Case, err error) {
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != code {
				t.Errorf("got %v, want %s", err, code)
			}
		}
	}
	h.at(time.Minute, duban.Acknowledge{CommandMeta: by(inspector)}, expect(duban.EFORBIDDEN))
	h.at(2*time.Minute, duban.Verify{CommandMeta: by(inspector), Passed: true}, expect(duban.ECONFLICT))
	h.at(3*time.Minute, duban.Resolve{CommandMeta: by(sanitation)}, expect(duban.EINVALID))
	h.at(4*time.Minute, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation, IfMatch: 1}}, expect(duban.EPRECONDITION))
	h.cancelAt(10 * time.Minute)
	h.run(workflows.Input{})
	if got := h.store.types(); len(got) != 2 {
		t.Fatalf("refused commands wrote events: %v", got)
	}
}

// A run whose open command is refused ends at once, having written
// nothing, so the case id can be opened again.
func TestRefusedOpenEndsTheRun(t *testing.T) {
	h := newHarness(t)
	open := openCmd()
	open.Category = ""
	h.at(0, open, func(_ duban.Case, err error) {
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != duban.EINVALID {
			t.Errorf("open answered %v, want %s", err, duban.EINVALID)
		}
	})
	h.run(workflows.Input{})
	var appErr *temporal.ApplicationError
	if err := h.env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != "NotOpened" {
		t.Fatalf("workflow ended with %v, want NotOpened", err)
	}
	if h.env.Now().After(t0) || len(h.store.types()) != 0 {
		t.Fatalf("the run ended at %v with events %v", h.env.Now(), h.store.types())
	}
}

// The Temporal server lost the open's update after its events were
// committed; the client, repeating the open, was answered from the store and
// goes on with the case. The run takes the case from the store and runs its
// deadlines.
func TestLostOpenTakesTheCaseFromTheStore(t *testing.T) {
	h := newHarness(t)
	events, err := duban.Decide(duban.Case{}, openCmd(), t0)
	if err == nil {
		_, err = h.store.Append(context.Background(), duban.Append{CaseID: caseID, CommandID: "lost-open", Events: events})
	}
	if err != nil {
		t.Fatal(err)
	}
	h.at(40*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok)
	h.cancelAt(time.Hour)
	h.run(workflows.Input{})
	want := []duban.EventType{duban.EventCaseReported, duban.EventCaseDispatched, duban.EventDeadlineWarned, duban.EventCaseEscalated, duban.EventCaseAcknowledged}
	if got := h.store.types(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

// An append that committed but whose answer was lost is retried, finds its
// events in the store and takes them: nothing is written twice.
func TestLostAppendAnswerIsNotDoubled(t *testing.T) {
	h := newHarness(t)
	// The test environment checks local-activity retry deadlines against the
	// wall clock: a start time in the past would time every retry out.
	h.env.SetStartTime(time.Now())
	h.store.LoseAnswers = 2 // the open's and the acknowledgement's
	h.at(0, openCmd(), func(c duban.Case, err error) {
		if err != nil || c.Version != 2 || c.Status != duban.StatusDispatched {
			t.Errorf("open answered %+v, %v", c, err)
		}
	})
	h.at(time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, func(c duban.Case, err error) {
		if err != nil || c.Version != 3 {
			t.Errorf("acknowledge answered %+v, %v", c, err)
		}
	})
	h.cancelAt(5 * time.Minute)
	h.run(workflows.Input{})
	if got := h.store.types(); len(got) != 3 {
		t.Fatalf("events %v", got)
	}
}

// The store can be ahead of the run: a Temporal server that crashed after
// a command's events were committed, before its update was recorded, loses
// the update. The next command the run would refuse on its stale state is
// judged again on what the store holds.
func TestCatchesUpWithTheStore(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), func(c duban.Case, err error) {
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		// The lost update's acknowledgement, committed behind the run's back.
		events, err := duban.Decide(c, duban.Acknowledge{CommandMeta: by(sanitation)}, t0)
		if err == nil {
			_, err = h.store.Append(context.Background(), duban.Append{CaseID: caseID, ExpectedVersion: c.Version,
				CommandID: "lost", Events: events, Before: c})
		}
		if err != nil {
			t.Fatalf("acknowledge behind the run's back: %v", err)
		}
	})
	h.at(time.Minute, duban.Resolve{CommandMeta: by(sanitation), Note: "swept"}, func(c duban.Case, err error) {
		if err != nil || c.Status != duban.StatusResolved || c.Version != 4 {
			t.Errorf("resolve answered %s v%d, %v", c.Status, c.Version, err)
		}
	})
	// A command the store's state refuses too is still refused.
	h.at(2*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, func(_ duban.Case, err error) {
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != duban.ECONFLICT {
			t.Errorf("a second acknowledgement: %v", err)
		}
	})
	h.cancelAt(5 * time.Minute)
	h.run(workflows.Input{})
	want := []duban.EventType{duban.EventCaseReported, duban.EventCaseDispatched, duban.EventCaseAcknowledged, duban.EventCaseResolved}
	if got := h.store.types(); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestContinuesAsNewWithItsState(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), h.ok)
	for i := 1; i <= 3; i++ {
		h.at(time.Duration(i)*time.Second, duban.AddComment{CommandMeta: by(inspector), Text: fmt.Sprintf("note %d", i)}, h.ok)
	}
	// The test environment keeps no history: say it has grown long.
	h.env.RegisterDelayedCallback(func() { h.env.SetCurrentHistoryLength(40) }, 5*time.Second)
	h.run(workflows.Input{HistoryLimit: 40})
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next workflows.Input
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	stored := h.store.types()
	if next.CaseID != caseID || next.HistoryLimit != 40 || next.Case.Version != int64(len(stored)) || next.Case.Status != duban.StatusDispatched {
		t.Fatalf("continued with %+v after %d events", next, len(stored))
	}
}

var supervisor = duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}

// A suspension with an end resumes by itself, with no one looking, and the
// case escalates from its moved deadline; nothing fires while suspended.
func TestSuspensionEndsByItsTimer(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), h.ok)
	h.at(5*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok) // resolve by t0+24h
	until := t0.Add(48 * time.Hour)
	h.at(time.Hour, duban.Suspend{CommandMeta: by(supervisor), Reason: "waiting for parts", Until: &until}, h.ok)
	h.cancelAt(73 * time.Hour)
	h.run(workflows.Input{})
	want := []duban.EventType{duban.EventCaseReported, duban.EventCaseDispatched, duban.EventCaseAcknowledged,
		duban.EventCaseSuspended, duban.EventCaseResumed, duban.EventDeadlineWarned, duban.EventCaseEscalated}
	if got := h.store.types(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v\nwant %v", got, want)
	}
	resumed := h.store.events()[4]
	if resumed.Actor != duban.System || !resumed.OccurredAt.Equal(until) {
		t.Fatalf("resumed by %v at %v", resumed.Actor, resumed.OccurredAt)
	}
	// 47 hours suspended: the resolve deadline moved from t0+24h to t0+71h.
	movedDeadline := t0.Add(71 * time.Hour)
	if got := *resumed.Data.(duban.CaseResumed).Deadlines.ResolveBy; !got.Equal(movedDeadline) {
		t.Fatalf("resolve by %v, want %v", got, movedDeadline)
	}
	if esc := h.store.events()[6]; !esc.OccurredAt.Equal(movedDeadline) {
		t.Fatalf("escalated at %v, want %v", esc.OccurredAt, movedDeadline)
	}
}

// After an approved extension the case escalates at the new deadline; the
// timer armed for the old one records nothing.
func TestExtensionMovesTheLadder(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), h.ok)
	h.at(5*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok) // resolve by t0+24h, warn at t0+18h
	until := t0.Add(30 * time.Hour)
	h.at(time.Hour, duban.RequestExtension{CommandMeta: by(sanitation), Until: until, Reason: "parts"}, h.ok)
	h.at(2*time.Hour, duban.DecideExtension{CommandMeta: by(supervisor), N: 1, Approved: true}, h.ok)
	h.cancelAt(31 * time.Hour)
	h.run(workflows.Input{})
	var escalations []duban.Event
	for _, e := range h.store.events() {
		if e.Type == duban.EventCaseEscalated || e.Type == duban.EventDeadlineWarned {
			escalations = append(escalations, e)
		}
	}
	// Warned at -25% of 24h before the new deadline (t0+24h), level 1 at t0+30h.
	if len(escalations) != 2 || !escalations[0].OccurredAt.Equal(t0.Add(24*time.Hour)) || !escalations[1].OccurredAt.Equal(until) {
		t.Fatalf("ladder steps: %+v", escalations)
	}
}

// refused expects an update refused with code, by its validator or its
// handler: what the client gives the caller as a domain error.
func (h *harness) refused(code string) func(duban.Case, error) {
	return func(_ duban.Case, err error) {
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != code {
			h.t.Errorf("got %v, want a refusal with code %s", err, code)
		}
	}
}

// A command given straight to the workflow is refused on the facts it
// carries, as the application layer refuses it: a duplicate merged into a
// case that is closed, an assignment whose policy units were not resolved.
func TestWorkflowRefusesWhatTheFactsRuleOut(t *testing.T) {
	const original = "5d2a1f3e-6a4b-4d2e-9a51-0c7f5b1e2d3a"
	dup := func(status duban.Status) duban.Cancel {
		return duban.Cancel{CommandMeta: by(supervisor), Reason: "reported twice", DuplicateOf: original,
			Original: &duban.CaseRef{ID: original, Status: status}}
	}
	h := newHarness(t)
	h.at(0, openCmd(), h.ok)
	h.at(time.Minute, dup(duban.StatusClosed), h.refused(duban.ECONFLICT))
	h.at(2*time.Minute, duban.Cancel{CommandMeta: by(supervisor), Reason: "reported twice", DuplicateOf: original}, h.refused(duban.EINVALID))
	h.at(3*time.Minute, duban.Assign{CommandMeta: by(supervisor), Unit: "traffic-police"}, h.refused(duban.EINVALID))
	h.at(4*time.Minute, duban.Assign{CommandMeta: by(supervisor), Unit: "traffic-police", Units: []string{"sanitation", "traffic-police"}}, h.ok)
	h.at(5*time.Minute, dup(duban.StatusInProgress), h.ok)
	h.run(workflows.Input{})
	want := []duban.EventType{duban.EventCaseReported, duban.EventCaseDispatched, duban.EventCaseAssigned,
		duban.EventCaseDispatched, duban.EventCaseCancelled}
	if got := h.store.types(); !slices.Equal(got, want) {
		t.Fatalf("events %v\nwant %v", got, want)
	}
}

// A run of a revision before the commands carried their facts takes a
// command without them as the API of its time had checked it.
func TestOlderRevisionTakesCommandsAsChecked(t *testing.T) {
	h := newHarness(t)
	h.at(0, openCmd(), h.ok)
	h.at(time.Minute, duban.Assign{CommandMeta: by(supervisor), Unit: "traffic-police"}, h.ok)
	h.at(2*time.Minute, duban.Cancel{CommandMeta: by(supervisor), Reason: "reported twice", DuplicateOf: "5d2a1f3e-6a4b-4d2e-9a51-0c7f5b1e2d3a"}, h.ok)
	h.run(workflows.Input{Revision: 2})
	if got := h.store.types(); len(got) != 5 || got[4] != duban.EventCaseCancelled {
		t.Fatalf("events %v", got)
	}
}

// A command that reaches a run before its case does (its open is still
// being handled, its append retried) waits for the case, and is decided on
// it: it is not refused as a command to a case that does not exist.
func TestCommandWaitsForTheOpenStillUnderWay(t *testing.T) {
	h := newHarness(t)
	h.env.SetStartTime(time.Now()) // local-activity retries are timed by the wall clock
	h.store.LoseAnswers = 1        // the open's append commits, its answer is lost, it is retried
	h.at(0, openCmd(), h.ok)
	h.at(time.Millisecond, duban.Acknowledge{CommandMeta: by(sanitation)}, func(c duban.Case, err error) {
		if err != nil || c.Status != duban.StatusInProgress {
			t.Errorf("acknowledge answered %+v, %v", c, err)
		}
	})
	h.cancelAt(time.Minute)
	h.run(workflows.Input{})
	if got := h.store.types(); len(got) != 3 || got[2] != duban.EventCaseAcknowledged {
		t.Fatalf("events %v", got)
	}
}

// A command that reaches a run whose open the server lost, before the run
// has taken the case from the store, is decided on the case once taken.
func TestCommandWaitsForTheCaseTakenFromTheStore(t *testing.T) {
	h := newHarness(t)
	events, _ := duban.Decide(duban.Case{}, openCmd(), t0)
	if _, err := h.store.Append(context.Background(), duban.Append{CaseID: caseID, CommandID: "lost-open", Events: events}); err != nil {
		t.Fatal(err)
	}
	h.at(0, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok)
	h.cancelAt(time.Hour)
	h.run(workflows.Input{})
	if got := h.store.types(); len(got) != 3 || got[2] != duban.EventCaseAcknowledged {
		t.Fatalf("events %v", got)
	}
}

// A disputed case's assign deadline escalates with no one looking, and the
// assignment ends its ladder: the workflow needs nothing of its own for a
// stage, the case's clock says when to wake.
func TestAssignStageEscalatesWithNoOneLooking(t *testing.T) {
	h := newHarness(t)
	open := openCmd()
	open.Terms.SLA.Assign = 2 * time.Hour
	h.at(0, open, h.ok)
	h.at(10*time.Minute, duban.Acknowledge{CommandMeta: by(sanitation)}, h.ok)
	h.at(20*time.Minute, duban.Dispute{CommandMeta: by(sanitation), Reason: "the market's"}, h.ok)
	h.at(6*time.Hour+30*time.Minute, duban.Assign{CommandMeta: by(supervisor), Unit: "traffic-police", Units: []string{"traffic-police"}}, h.ok)
	h.cancelAt(6*time.Hour + 55*time.Minute)
	h.run(workflows.Input{})
	assignBy := t0.Add(2*time.Hour + 20*time.Minute)
	events := h.store.events()
	var steps []string
	for _, e := range events {
		switch d := e.Data.(type) {
		case duban.DeadlineWarned:
			steps = append(steps, fmt.Sprintf("warn %s %s", d.Stage, e.OccurredAt.Sub(t0)))
		case duban.CaseEscalated:
			steps = append(steps, fmt.Sprintf("level %d %s %s", d.Level, d.Stage, e.OccurredAt.Sub(t0)))
		}
	}
	// Before the dispute: the acknowledgement's warning (at 22m30s it was
	// met already, so none). After it: the assign stage's warning at -25%
	// of 2h, levels 1 and 2 at its deadline and 4h after, none after the
	// assignment (then the new unit's acknowledge stage warns).
	want := []string{
		fmt.Sprintf("warn assign %s", assignBy.Add(-30*time.Minute).Sub(t0)),
		fmt.Sprintf("level 1 assign %s", assignBy.Sub(t0)),
		fmt.Sprintf("level 2 assign %s", assignBy.Add(4*time.Hour).Sub(t0)),
		fmt.Sprintf("warn acknowledge %s", (6*time.Hour + 30*time.Minute + 22*time.Minute + 30*time.Second)),
	}
	if strings.Join(steps, "; ") != strings.Join(want, "; ") {
		t.Fatalf("steps\n got %v\nwant %v", steps, want)
	}
}

// upsert is a write of search attributes, at its offset from t0.
type upsert struct {
	at    time.Duration
	attrs string
}

func (u upsert) String() string { return u.at.String() + ": " + u.attrs }

// A run keeps the case's search attributes current: every one at the open,
// then only what changed, CaseOverdue at the deadline itself even when no
// step of the ladder falls there, and nothing when nothing changed.
func TestSearchAttributesFollowTheCase(t *testing.T) {
	h := newHarness(t)
	var got []upsert
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		var parts []string
		for _, k := range []temporal.SearchAttributeKeyKeyword{
			temporal.NewSearchAttributeKeyKeyword("CaseStatus"), temporal.NewSearchAttributeKeyKeyword("CaseUnit"),
			temporal.NewSearchAttributeKeyKeyword("CaseCategory"),
		} {
			if v, ok := sa.GetKeyword(k); ok {
				parts = append(parts, k.GetName()+"="+v)
			} else if sa.ContainsKey(k) {
				parts = append(parts, k.GetName()+" unset")
			}
		}
		if v, ok := sa.GetBool(temporal.NewSearchAttributeKeyBool("CaseOverdue")); ok {
			parts = append(parts, fmt.Sprint("CaseOverdue=", v))
		}
		got = append(got, upsert{h.env.Now().Sub(t0), strings.Join(parts, " ")})
	}).Return()
	open := openCmd()
	// Level 1 an hour after the deadline: the run wakes at the deadline
	// only to say the case is overdue.
	open.Terms.Ladder = []duban.Rung{{At: duban.Offset{Duration: time.Hour}, Level: 1}}
	h.at(0, open, h.ok)
	h.at(10*time.Minute, duban.AddComment{CommandMeta: by(inspector), Text: "still there"}, h.ok)
	h.at(40*time.Minute, duban.Assign{CommandMeta: by(supervisor), Unit: "traffic-police", Units: []string{"sanitation", "traffic-police"}}, h.ok)
	h.at(2*time.Hour+15*time.Minute, duban.Cancel{CommandMeta: by(supervisor), Reason: "gone"}, h.ok)
	h.run(workflows.Input{})
	want := []upsert{
		{0, "CaseStatus=dispatched CaseUnit=sanitation CaseCategory=littering CaseOverdue=false"},
		{30 * time.Minute, "CaseOverdue=true"},
		{40 * time.Minute, "CaseUnit=traffic-police CaseOverdue=false"},
		{70 * time.Minute, "CaseOverdue=true"},
		// Level 1 at 130m changes nothing searched: no write.
		{2*time.Hour + 15*time.Minute, "CaseStatus=cancelled CaseOverdue=false"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("search attributes written\n%v\nwant\n%v", got, want)
	}
	// A run of an older revision writes none.
	h = newHarness(t)
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(mock.Arguments) { t.Error("revision 3 wrote search attributes") }).Return()
	h.at(0, openCmd(), h.ok)
	h.cancelAt(2 * time.Hour)
	h.run(workflows.Input{Revision: 3})
}
