package duban_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

// The case of caseIn: dispatched at t0, acknowledged at t0+1m; acknowledge
// by t0+30m, resolve by t0+24h, verify within 4h. Ladder: warn at -25%,
// levels at 0, +4h, +24h.

func TestDisputeThenAssign(t *testing.T) {
	c := caseIn(t, duban.StatusInProgress)
	c, events := apply(t, c, duban.Dispute{CommandMeta: by(sanitation), Reason: "the bins belong to the market"}, t0.Add(time.Hour))
	if d := dataOf[duban.CaseDisputed](t, events); d.Unit != "sanitation" || d.Stage != duban.StageResolve || !d.Deadline.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("dispute data %+v", d)
	}
	if c.Unit != "" || c.Dispute == nil || c.Dispute.Unit != "sanitation" || c.OverdueAt(t0.Add(48*time.Hour)) {
		t.Fatalf("disputed case %+v", c)
	}
	// The case has left the unit's view.
	if _, err := duban.Decide(c, duban.AddComment{CommandMeta: by(sanitation), Text: "x"}, t0); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("the disputing unit still sees the case: %v", err)
	}
	assignedAt := t0.Add(3 * time.Hour)
	c, events = apply(t, c, duban.Assign{CommandMeta: by(supervisor), Unit: "traffic-police", Reason: "parking area", Units: units}, assignedAt)
	if a := dataOf[duban.CaseAssigned](t, events); a.Unit != "traffic-police" || a.From != "sanitation" || events[0].Actor != supervisor {
		t.Fatalf("assigned %+v by %v", a, events[0].Actor)
	}
	if c.Status != duban.StatusDispatched || c.Unit != "traffic-police" || c.Dispute != nil {
		t.Fatalf("case %+v", c)
	}
	if !c.Deadlines.AcknowledgeBy.Equal(assignedAt.Add(30*time.Minute)) || !c.Deadlines.ResolveBy.Equal(assignedAt.Add(24*time.Hour)) {
		t.Fatalf("fresh deadlines %+v", c.Deadlines)
	}
	if _, err := duban.Decide(c, duban.Acknowledge{CommandMeta: by(traffic)}, assignedAt); err != nil {
		t.Fatalf("the new unit acknowledges: %v", err)
	}
}

func TestExtensions(t *testing.T) {
	c := caseIn(t, duban.StatusInProgress)
	until := t0.Add(72 * time.Hour)
	ask := duban.RequestExtension{CommandMeta: by(sanitation), Until: until, Reason: "the paving stones are on order"}
	c, events := apply(t, c, ask, t0.Add(time.Hour))
	if r := dataOf[duban.ExtensionRequested](t, events); r.N != 1 || !r.ResolveBy.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("requested %+v", r)
	}
	if len(c.Extensions) != 1 || c.Extensions[0].Status != duban.ExtensionPending || c.Extensions[0].RequestedBy != "sanitation-1" {
		t.Fatalf("extensions %+v", c.Extensions)
	}
	if _, err := duban.Decide(c, ask, t0.Add(2*time.Hour)); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("a second request while one is pending: %v", err)
	}
	for _, bad := range []time.Time{t0.Add(23 * time.Hour), t0.Add(400 * 24 * time.Hour)} {
		early := caseIn(t, duban.StatusInProgress)
		if _, err := duban.Decide(early, duban.RequestExtension{CommandMeta: by(sanitation), Until: bad, Reason: "x"}, t0.Add(time.Hour)); duban.ErrorCode(err) != duban.EINVALID {
			t.Fatalf("until %s: %v", bad, err)
		}
	}
	if _, err := duban.Decide(c, duban.DecideExtension{CommandMeta: by(supervisor), N: 2, Approved: true}, t0); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("deciding a request that does not exist: %v", err)
	}
	if _, err := duban.Decide(c, duban.DecideExtension{CommandMeta: by(sanitation), N: 1, Approved: true}, t0); duban.ErrorCode(err) != duban.EFORBIDDEN {
		t.Fatalf("a unit decides its own request: %v", err)
	}

	// Refused: nothing changes but the request's status.
	refused, _ := apply(t, c, duban.DecideExtension{CommandMeta: by(supervisor), N: 1, Note: "no"}, t0.Add(2*time.Hour))
	if !refused.Deadlines.ResolveBy.Equal(t0.Add(24*time.Hour)) || refused.Extensions[0].Status != duban.ExtensionRefused {
		t.Fatalf("refused %+v", refused)
	}
	// Approved: the resolve deadline moves, and the ladder with it.
	c, _ = apply(t, c, duban.DecideExtension{CommandMeta: by(supervisor), N: 1, Approved: true}, t0.Add(2*time.Hour))
	if !c.Deadlines.ResolveBy.Equal(until) || c.Extensions[0].Status != duban.ExtensionApproved || c.Extensions[0].DecidedBy != "supervisor-1" {
		t.Fatalf("approved %+v", c)
	}
	if _, err := duban.Decide(c, duban.DecideExtension{CommandMeta: by(supervisor), N: 1}, t0.Add(3*time.Hour)); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("deciding twice: %v", err)
	}
	oldDeadline := t0.Add(24 * time.Hour)
	if c.OverdueAt(oldDeadline) || c.EscalationLevelAt(oldDeadline.Add(time.Hour)) != 0 {
		t.Fatal("the case escalates at the old deadline")
	}
	if !c.OverdueAt(until) || c.EscalationLevelAt(until) != 1 {
		t.Fatal("the case does not escalate at the new deadline")
	}
	// A timer armed for the old deadline records nothing.
	if _, events := apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, oldDeadline.Add(5*time.Hour)); len(events) != 0 {
		t.Fatalf("the old deadline escalated: %v", events)
	}
	_, events = apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, until)
	if len(events) != 2 || events[1].Data.(duban.CaseEscalated).Deadline != until {
		t.Fatalf("escalation at the new deadline: %+v", events)
	}
}

func TestPendingExtensionLapses(t *testing.T) {
	c := caseIn(t, duban.StatusInProgress)
	c, _ = apply(t, c, duban.RequestExtension{CommandMeta: by(sanitation), Until: t0.Add(48 * time.Hour), Reason: "rain"}, t0.Add(time.Hour))
	c, _ = apply(t, c, duban.Resolve{CommandMeta: by(sanitation), Note: "done after all"}, t0.Add(2*time.Hour))
	if c.Extensions[0].Status != duban.ExtensionLapsed {
		t.Fatalf("extension %+v", c.Extensions[0])
	}
	if _, err := duban.Decide(c, duban.DecideExtension{CommandMeta: by(supervisor), N: 1, Approved: true}, t0.Add(3*time.Hour)); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("deciding a lapsed request: %v", err)
	}
}

func TestUrge(t *testing.T) {
	c := caseIn(t, duban.StatusDispatched)
	c, _ = apply(t, c, duban.Urge{CommandMeta: by(supervisor), Note: "the mayor walks past at noon"}, t0.Add(40*time.Minute))
	c, events := apply(t, c, duban.Urge{CommandMeta: by(admin), Note: "now"}, t0.Add(50*time.Minute))
	u := dataOf[duban.CaseUrged](t, events)
	if u.Unit != "sanitation" || u.UrgeCount != 2 || u.Stage != duban.StageAcknowledge || u.LateSeconds != 20*60 {
		t.Fatalf("urged %+v", u)
	}
	if c.UrgeCount != 2 || !c.LastUrgedAt.Equal(t0.Add(50*time.Minute)) || c.Status != duban.StatusDispatched {
		t.Fatalf("case %+v", c)
	}
}

func TestCancelAsDuplicate(t *testing.T) {
	c := caseIn(t, duban.StatusDispatched)
	if _, err := duban.Decide(c, duban.Cancel{CommandMeta: by(supervisor), Reason: "dup", DuplicateOf: c.ID, Original: c.Ref()}, t0); duban.ErrorCode(err) != duban.EINVALID {
		t.Fatalf("a duplicate of itself: %v", err)
	}
	if _, err := duban.Decide(c, duban.Cancel{CommandMeta: by(supervisor), Reason: "dup", DuplicateOf: "case-7"}, t0); duban.ErrorCode(err) != duban.EINVALID {
		t.Fatalf("a duplicate of a non-id: %v", err)
	}
	original := "4c1f0f2e-6a4b-4d2e-9a51-0c7f5b1e2d3a"
	open := &duban.CaseRef{ID: original, Status: duban.StatusInProgress, Unit: "sanitation"}
	// What the store says of the original decides: there must be one, the
	// canceller must see it, and it must stay open.
	refusals := []struct {
		name     string
		original *duban.CaseRef
		code     string
	}{
		{"not looked up or not found", nil, duban.EINVALID},
		{"another case's facts", &duban.CaseRef{ID: "5d2a1f3e-6a4b-4d2e-9a51-0c7f5b1e2d3a", Status: duban.StatusInProgress}, duban.EINVALID},
		{"closed", &duban.CaseRef{ID: original, Status: duban.StatusClosed, Unit: "sanitation"}, duban.ECONFLICT},
		{"cancelled", &duban.CaseRef{ID: original, Status: duban.StatusCancelled}, duban.ECONFLICT},
	}
	for _, r := range refusals {
		_, err := duban.Decide(c, duban.Cancel{CommandMeta: by(supervisor), Reason: "dup", DuplicateOf: original, Original: r.original}, t0)
		if duban.ErrorCode(err) != r.code {
			t.Errorf("original %s: %v, want %s", r.name, err, r.code)
		}
	}
	c, events := apply(t, c, duban.Cancel{CommandMeta: by(supervisor), Reason: "reported twice", DuplicateOf: original, Original: open}, t0.Add(time.Hour))
	if c.Status != duban.StatusCancelled || c.DuplicateOf != original || dataOf[duban.CaseCancelled](t, events).DuplicateOf != original {
		t.Fatalf("cancelled %+v", c)
	}
	if _, _, running := c.RunningStage(); running {
		t.Fatal("a cancelled case has no running stage")
	}
}

// An assignment names a unit of the policy; which ones there are travels
// in the command.
func TestAssignNamesAUnitOfThePolicy(t *testing.T) {
	c := caseIn(t, duban.StatusUnrouted)
	for _, cmd := range []duban.Assign{
		{CommandMeta: by(supervisor), Unit: "parks", Units: units},
		{CommandMeta: by(supervisor), Unit: "sanitation"}, // the policy's units were not resolved
	} {
		_, err := duban.Decide(c, cmd, t0)
		var e *duban.Error
		if !asError(err, &e) || e.Code != duban.EINVALID || e.Fields[0].Field != "unit" || !strings.HasPrefix(e.Fields[0].Message, "is not a unit of the policy") {
			t.Errorf("assign to %q with units %v: %v", cmd.Unit, cmd.Units, err)
		}
	}
	// A unit that may not see the case is told it does not exist, before
	// anything is said of the unit it names.
	if _, err := duban.Decide(c, duban.Assign{CommandMeta: by(sanitation), Unit: "parks"}, t0); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Errorf("a unit assigns an unrouted case: %v", err)
	}
}

func TestSuspendStopsEveryClock(t *testing.T) {
	c := caseIn(t, duban.StatusDispatched) // acknowledge by t0+30m, resolve by t0+24h
	suspendedAt := t0.Add(10 * time.Minute)
	c, _ = apply(t, c, duban.Suspend{CommandMeta: by(supervisor), Reason: "road closed by the police"}, suspendedAt)
	if c.Status != duban.StatusSuspended || c.Suspension.From != duban.StatusDispatched {
		t.Fatalf("suspended %+v", c)
	}
	if _, ok := c.NextWake(); ok {
		t.Fatal("a case suspended without an end has nothing to wake for")
	}
	// Long past its deadlines, the suspended case neither shows overdue nor escalates.
	later := t0.Add(30 * time.Hour)
	if c.OverdueAt(later) || c.EscalationLevelAt(later) != 0 {
		t.Fatal("a suspended case shows overdue")
	}
	if _, events := apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, later); len(events) != 0 {
		t.Fatalf("a suspended case escalated: %v", events)
	}
	resumedAt := suspendedAt.Add(26 * time.Hour)
	c, events := apply(t, c, duban.Resume{CommandMeta: by(supervisor), Note: "road open"}, resumedAt)
	r := dataOf[duban.CaseResumed](t, events)
	if r.SuspendedSeconds != 26*3600 {
		t.Fatalf("suspended for %d s", r.SuspendedSeconds)
	}
	if c.Status != duban.StatusDispatched || c.Suspension != nil {
		t.Fatalf("resumed %+v", c)
	}
	// Both deadlines not yet met moved on by exactly the suspended time.
	if !c.Deadlines.AcknowledgeBy.Equal(t0.Add(30*time.Minute+26*time.Hour)) || !c.Deadlines.ResolveBy.Equal(t0.Add(50*time.Hour)) {
		t.Fatalf("deadlines %+v", c.Deadlines)
	}
	if c.OverdueAt(resumedAt) {
		t.Fatal("20 minutes were left on the clock")
	}
}

// On a business calendar the deadlines move by the working time suspended.
func TestSuspendOnBusinessCalendar(t *testing.T) {
	at := func(date string, hh, mm int) time.Time { return local(shanghai, date, hh, mm) }
	cmd := openCmd("sanitation")
	cmd.Terms.Calendar = campaignCalendar()
	cmd.Terms.SLA = duban.SLA{Acknowledge: 30 * time.Minute, Resolve: 4 * time.Hour, Verify: 2 * time.Hour}
	c, _ := apply(t, duban.Case{}, cmd, at("2026-11-10", 11, 0)) // Tuesday: resolve by 17:30
	c, _ = apply(t, c, duban.Acknowledge{CommandMeta: by(sanitation)}, at("2026-11-10", 11, 10))
	c, _ = apply(t, c, duban.Suspend{CommandMeta: by(supervisor), Reason: "waiting for the gas company"}, at("2026-11-10", 16, 0))
	// Suspended from Tuesday 16:00 to Thursday 10:00: 2h Tuesday, 7h
	// Wednesday, 1h30 Thursday = 10h30 of working time.
	c, events := apply(t, c, duban.Resume{CommandMeta: by(supervisor)}, at("2026-11-12", 10, 0))
	if s := dataOf[duban.CaseResumed](t, events).SuspendedSeconds; s != int64((10*time.Hour+30*time.Minute)/time.Second) {
		t.Fatalf("suspended %ds", s)
	}
	// 17:30 Tuesday + 10h30 working: 30m Tuesday, 7h Wednesday, 3h Thursday → 11:30 Thursday.
	if want := at("2026-11-12", 11, 30); !c.Deadlines.ResolveBy.Equal(want) {
		t.Fatalf("resolve by %s, want %s", c.Deadlines.ResolveBy.In(shanghai), want)
	}
	if !c.Deadlines.AcknowledgeBy.Equal(at("2026-11-10", 11, 30)) {
		t.Fatalf("the met acknowledge deadline moved: %s", c.Deadlines.AcknowledgeBy.In(shanghai))
	}
}

// A suspension with an end resumes by itself, counted to its end even when
// the tick comes late, and the ladder's steps already taken stay taken.
func TestSuspensionEndsByItself(t *testing.T) {
	c := caseIn(t, duban.StatusInProgress) // resolve by t0+24h
	deadline := t0.Add(24 * time.Hour)
	c, _ = apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, deadline) // warned and at level 1
	if c.EscalationLevel != 1 || !c.Warned {
		t.Fatalf("before suspension: level %d", c.EscalationLevel)
	}
	until := deadline.Add(2 * time.Hour)
	if _, err := duban.Decide(c, duban.Suspend{CommandMeta: by(supervisor), Reason: "x", Until: ptrTime(deadline.Add(-time.Hour))}, deadline); duban.ErrorCode(err) != duban.EINVALID {
		t.Fatalf("a suspension ending in the past: %v", err)
	}
	c, _ = apply(t, c, duban.Suspend{CommandMeta: by(supervisor), Reason: "storm warning", Until: &until}, deadline)
	if wake, ok := c.NextWake(); !ok || !wake.Equal(until) {
		t.Fatalf("wakes at %v", wake)
	}
	if _, events := apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, until.Add(-time.Second)); len(events) != 0 {
		t.Fatalf("resumed early: %v", events)
	}
	c, events := apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, until.Add(10*time.Minute)) // the worker was late
	r := dataOf[duban.CaseResumed](t, events)
	if events[0].Actor != duban.System || r.SuspendedSeconds != 2*3600 || !r.Deadlines.ResolveBy.Equal(deadline.Add(2*time.Hour)) {
		t.Fatalf("resumed %+v by %v", r, events[0].Actor)
	}
	if c.Status != duban.StatusInProgress || c.EscalationLevel != 1 || !c.Warned {
		t.Fatalf("after resuming: %+v", c)
	}
	// Level 1 is not recorded twice; level 2 comes 4h after the moved deadline.
	if _, events := apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, until.Add(3*time.Hour)); len(events) != 0 {
		t.Fatalf("recorded again: %v", events)
	}
	if _, events := apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, until.Add(4*time.Hour)); len(events) != 1 || dataOf[duban.CaseEscalated](t, events).Level != 2 {
		t.Fatalf("level 2: %v", events)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }

// Every event type of SPEC.md has a payload that survives JSON, as the store
// and Temporal carry it.
func TestEveryEventTypeRoundTrips(t *testing.T) {
	var all []duban.Event
	run := func(c duban.Case, at time.Duration, cmds ...duban.Command) duban.Case {
		for i, cmd := range cmds {
			var events []duban.Event
			c, events = apply(t, c, cmd, t0.Add(at+time.Duration(i)*time.Minute))
			all = append(all, events...)
		}
		return c
	}
	c := run(duban.Case{}, 0, openCmd("sanitation"), duban.Tick{CommandMeta: by(duban.System)})
	run(c, time.Hour, duban.Tick{CommandMeta: by(duban.System)}, duban.Dispute{CommandMeta: by(sanitation), Reason: "no"},
		duban.Assign{CommandMeta: by(supervisor), Unit: "sanitation", Units: units}, duban.Acknowledge{CommandMeta: by(sanitation)},
		duban.RequestExtension{CommandMeta: by(sanitation), Until: t0.Add(48 * time.Hour), Reason: "parts"},
		duban.DecideExtension{CommandMeta: by(supervisor), N: 1, Approved: true},
		duban.Urge{CommandMeta: by(supervisor), Note: "now"}, duban.AddComment{CommandMeta: by(inspector), Text: "hm"},
		duban.Suspend{CommandMeta: by(supervisor), Reason: "rain"}, duban.Resume{CommandMeta: by(admin)},
		duban.Resolve{CommandMeta: by(sanitation), Note: "done"}, duban.Verify{CommandMeta: by(inspector), Note: "no"},
		duban.Resolve{CommandMeta: by(sanitation), Note: "done"}, duban.Verify{CommandMeta: by(inspector), Passed: true})
	run(duban.Case{}, 0, openCmd(""), duban.Cancel{CommandMeta: by(supervisor), Reason: "dup", DuplicateOf: "4c1f0f2e-6a4b-4d2e-9a51-0c7f5b1e2d3a",
		Original: &duban.CaseRef{ID: "4c1f0f2e-6a4b-4d2e-9a51-0c7f5b1e2d3a", Status: duban.StatusInProgress}})
	report := run(duban.Case{}, 0, reportCmd(), duban.Confirm{CommandMeta: by(inspector), Unit: "sanitation", Points: points},
		duban.Acknowledge{CommandMeta: by(sanitation)}, duban.Resolve{CommandMeta: by(sanitation), Note: "done"},
		duban.Verify{CommandMeta: by(inspector), Passed: true}, duban.Rate{CommandMeta: by(resident), Rating: duban.RatingDissatisfied, Comment: "脏"},
		duban.Reopen{CommandMeta: by(supervisor), Reason: "again"})
	if report.Status != duban.StatusInProgress {
		t.Fatalf("the resident's report is %s", report.Status)
	}
	run(duban.Case{}, 0, reportCmd(), duban.Reject{CommandMeta: by(inspector), Reason: "not a problem"})
	seen := map[duban.EventType]bool{}
	for _, e := range all {
		seen[e.Type] = true
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back duban.Event
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, e) {
			t.Fatalf("%s does not survive JSON: %v\n got %+v\nwant %+v", e.Type, err, back, e)
		}
	}
	for _, typ := range []duban.EventType{duban.EventCaseReported, duban.EventCaseDispatched, duban.EventCaseUnrouted,
		duban.EventCaseAcknowledged, duban.EventCaseDisputed, duban.EventCaseAssigned, duban.EventCaseResolved,
		duban.EventVerificationPassed, duban.EventVerificationFailed, duban.EventCaseClosed, duban.EventCaseCancelled,
		duban.EventDeadlineWarned, duban.EventCaseEscalated, duban.EventExtensionRequested, duban.EventExtensionDecided,
		duban.EventCaseUrged, duban.EventCommentAdded, duban.EventCaseSuspended, duban.EventCaseResumed,
		duban.EventReportConfirmed, duban.EventReportRejected, duban.EventReporterRated, duban.EventCaseReopened} {
		if !seen[typ] {
			t.Errorf("no %s was produced", typ)
		}
	}
}

// withAssign is terms() with a supervisor's 2 hours to dispatch an
// unrouted or disputed case.
func withAssign(cmd duban.OpenCase) duban.OpenCase {
	cmd.Terms.SLA.Assign = 2 * time.Hour
	return cmd
}

// An unrouted case has a running stage: a supervisor must dispatch it by
// its assign deadline, warned and escalated on the ladder like any other.
func TestUnroutedCaseHasAnAssignDeadline(t *testing.T) {
	c, events := apply(t, duban.Case{}, withAssign(openCmd("")), t0)
	assignBy := t0.Add(2 * time.Hour)
	if u := dataOf[duban.CaseUnrouted](t, events); u.AssignBy == nil || !u.AssignBy.Equal(assignBy) {
		t.Fatalf("unrouted %+v", u)
	}
	stage, deadline, ok := c.RunningStage()
	if !ok || stage != duban.StageAssign || !deadline.Equal(assignBy) || *c.View().Stage != duban.StageAssign {
		t.Fatalf("running stage %s %s %v", stage, deadline, ok)
	}
	if c.OverdueAt(assignBy.Add(-time.Second)) || !c.OverdueAt(assignBy) || c.EscalationLevelAt(assignBy.Add(4*time.Hour)) != 2 {
		t.Fatal("the assign stage is not overdue and escalated on its ladder")
	}
	// The warning at -25% of two hours, then level 1, recorded by the system.
	c, events = apply(t, c, duban.Tick{CommandMeta: by(duban.System)}, assignBy)
	if len(events) != 2 || dataOf[duban.DeadlineWarned](t, events).Stage != duban.StageAssign || c.EscalationLevel != 1 {
		t.Fatalf("ticked %+v", events)
	}
	// Assigned late: the assignment records by how much, and the stage is over.
	c, events = apply(t, c, duban.Assign{CommandMeta: by(supervisor), Unit: "sanitation", Units: units}, assignBy.Add(30*time.Minute))
	a := dataOf[duban.CaseAssigned](t, events)
	if a.Stage != duban.StageAssign || !a.Deadline.Equal(assignBy) || a.LateSeconds != 1800 || a.DisputeOverruled {
		t.Fatalf("assigned %+v", a)
	}
	if stage, _, _ := c.RunningStage(); stage != duban.StageAcknowledge || c.EscalationLevel != 0 || c.Deadlines.AssignBy != nil {
		t.Fatalf("after assignment: stage %s, level %d, deadlines %+v", stage, c.EscalationLevel, c.Deadlines)
	}
}

// A disputed case waits for a supervisor against a fresh assign deadline;
// assigning it straight back to the unit that disputed it is recorded as a
// dispute overruled, assigning it elsewhere as a dispute upheld.
func TestDisputedCaseHasAnAssignDeadline(t *testing.T) {
	opened, _ := apply(t, duban.Case{}, withAssign(openCmd("sanitation")), t0)
	disputedAt := t0.Add(10 * time.Minute)
	c, events := apply(t, opened, duban.Dispute{CommandMeta: by(sanitation), Reason: "the market's"}, disputedAt)
	if d := dataOf[duban.CaseDisputed](t, events); d.AssignBy == nil || !d.AssignBy.Equal(disputedAt.Add(2*time.Hour)) || d.Stage != duban.StageAcknowledge {
		t.Fatalf("disputed %+v", d)
	}
	if stage, deadline, ok := c.RunningStage(); !ok || stage != duban.StageAssign || !deadline.Equal(disputedAt.Add(2*time.Hour)) {
		t.Fatalf("running stage %s %s %v", stage, deadline, ok)
	}
	for _, tc := range []struct {
		unit      string
		overruled bool
	}{{"sanitation", true}, {"traffic-police", false}} {
		_, events := apply(t, c, duban.Assign{CommandMeta: by(supervisor), Unit: tc.unit, Units: units}, disputedAt.Add(time.Hour))
		if a := dataOf[duban.CaseAssigned](t, events); a.DisputeOverruled != tc.overruled || a.From != "sanitation" || a.Stage != duban.StageAssign || a.LateSeconds != 0 {
			t.Errorf("assigned to %s: %+v", tc.unit, a)
		}
	}
}

// Cases opened under terms without an assign deadline (before it existed)
// keep no clock while unrouted or disputed, as they did.
func TestOlderTermsHaveNoAssignStage(t *testing.T) {
	c := caseIn(t, duban.StatusDisputed)
	if _, _, ok := c.RunningStage(); ok || c.Deadlines.AssignBy != nil {
		t.Fatalf("deadlines %+v", c.Deadlines)
	}
	var sla duban.SLA
	if err := json.Unmarshal([]byte(`{"acknowledge":"30m0s","resolve":"24h0m0s","verify":"4h0m0s"}`), &sla); err != nil || sla.Assign != 0 {
		t.Fatalf("older terms: %+v, %v", sla, err)
	}
	b, _ := json.Marshal(sla)
	if string(b) != `{"acknowledge":"30m0s","resolve":"24h0m0s","verify":"4h0m0s"}` {
		t.Fatalf("older terms written as %s", b)
	}
}

// A finished case says how it ended: fixed when closed after a passed
// verification; a cancellation's outcome as given, invalid by default,
// duplicate with duplicate_of; one recorded before outcomes existed reads
// the same way.
func TestOutcomes(t *testing.T) {
	closed := caseIn(t, duban.StatusClosed)
	if closed.Outcome != duban.OutcomeFixed || closed.View().Outcome != duban.OutcomeFixed {
		t.Fatalf("closed: %q", closed.Outcome)
	}
	if open := caseIn(t, duban.StatusInProgress); open.Outcome != "" {
		t.Fatalf("an open case has outcome %q", open.Outcome)
	}
	original := &duban.CaseRef{ID: "4c1f0f2e-6a4b-4d2e-9a51-0c7f5b1e2d3a", Status: duban.StatusInProgress}
	for _, tc := range []struct {
		cmd  duban.Cancel
		want duban.Outcome
	}{
		{duban.Cancel{Reason: "not a problem"}, duban.OutcomeInvalid},
		{duban.Cancel{Reason: "seen twice", DuplicateOf: original.ID, Original: original}, duban.OutcomeDuplicate},
		{duban.Cancel{Reason: "the wall is private", Outcome: duban.OutcomeNoFurtherAction}, duban.OutcomeNoFurtherAction},
	} {
		tc.cmd.CommandMeta = by(supervisor)
		c, events := apply(t, caseIn(t, duban.StatusInProgress), tc.cmd, t0.Add(time.Hour))
		if c.Outcome != tc.want || dataOf[duban.CaseCancelled](t, events).Outcome != tc.want {
			t.Errorf("cancelled %+v: outcome %q, want %q", tc.cmd, c.Outcome, tc.want)
		}
	}
	for _, bad := range []duban.Cancel{
		{Reason: "x", Outcome: "lost"},
		{Reason: "x", Outcome: duban.OutcomeDuplicate},
		{Reason: "x", Outcome: duban.OutcomeInvalid, DuplicateOf: original.ID, Original: original},
	} {
		bad.CommandMeta = by(supervisor)
		if _, err := duban.Decide(caseIn(t, duban.StatusInProgress), bad, t0); duban.ErrorCode(err) != duban.EINVALID {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	for data, want := range map[string]duban.Outcome{
		`{"reason":"x"}`: duban.OutcomeInvalid, `{"reason":"x","duplicate_of":"` + original.ID + `"}`: duban.OutcomeDuplicate,
	} {
		d, err := duban.DecodeEventData(duban.EventCaseCancelled, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		c := caseIn(t, duban.StatusInProgress)
		c = duban.Evolve(c, duban.Event{CaseID: c.ID, Version: c.Version + 1, Type: duban.EventCaseCancelled, Data: d})
		if c.Outcome != want {
			t.Errorf("a cancellation recorded as %s reads as %q, want %q", data, c.Outcome, want)
		}
	}
}
