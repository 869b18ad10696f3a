package duban_test

import (
	"slices"
	"testing"
	"time"

	"github.com/duban/duban"
)

// A finished stage is measured at the moment it was done: a case closed on
// time shows every stage on time, whenever it is read; a stage done late
// shows by how much; the running stage alone has no time done. A rework
// runs the resolve stage again.
func TestStageTimes(t *testing.T) {
	var log []duban.Event
	c := duban.Case{}
	step := func(cmd duban.Command, at time.Duration) {
		t.Helper()
		var events []duban.Event
		c, events = apply(t, c, cmd, t0.Add(at))
		log = append(log, events...)
	}
	step(openCmd("sanitation"), 0)
	step(duban.Acknowledge{CommandMeta: by(sanitation)}, 34*time.Minute) // due at 30m: 4 minutes late
	step(duban.Resolve{CommandMeta: by(sanitation), Note: "cleared"}, 2*time.Hour)
	step(duban.Verify{CommandMeta: by(inspector), Passed: false, Note: "still dirty"}, 3*time.Hour)

	got := duban.StageTimes(log)
	if len(got) != 3 || got[0].Stage != duban.StageAcknowledge || got[1].Stage != duban.StageResolve || got[2].Stage != duban.StageVerify {
		t.Fatalf("stages %+v", got)
	}
	if a := got[0]; a.Done == nil || !a.Done.Equal(t0.Add(34*time.Minute)) || a.OnTime() || !a.DoneDue.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("acknowledged 4 minutes late: %+v", a)
	}
	if r := got[1]; !r.Running || r.Done != nil {
		t.Fatalf("the rework's resolve stage runs, not done: %+v", r)
	}
	if v := got[2]; v.Done == nil || !v.OnTime() || v.Running {
		t.Fatalf("verified (failed) within its 4 hours: %+v", v)
	}

	step(duban.Resolve{CommandMeta: by(sanitation), Note: "cleared again"}, 4*time.Hour)
	step(duban.Verify{CommandMeta: by(inspector), Passed: true}, 5*time.Hour)
	if c.Status != duban.StatusClosed {
		t.Fatalf("status %s", c.Status)
	}
	for _, s := range duban.StageTimes(log) {
		if s.Running || s.Done == nil {
			t.Fatalf("a closed case's stage %+v is not done", s)
		}
		if s.Stage != duban.StageAcknowledge && !s.OnTime() {
			t.Fatalf("stage %s done on time shows late: %+v", s.Stage, s)
		}
	}
}

// A dispatch records what sent the case to its unit: the category's own
// unit at the open, a supervisor's assignment later; the English reason
// says the same.
func TestDispatchesRecordWhatRoutedThem(t *testing.T) {
	open := openCmd("sanitation")
	open.Routing = &duban.Routing{Category: "littering"}
	c, events := apply(t, duban.Case{}, open, t0)
	d := events[1].Data.(duban.CaseDispatched)
	if d.Routing == nil || *d.Routing != (duban.Routing{Category: "littering"}) || d.Reason != `category "littering" is handled by sanitation` {
		t.Fatalf("the open's dispatch %+v", d)
	}
	_, events = apply(t, c, duban.Assign{CommandMeta: by(supervisor), Unit: "traffic-police", Units: units}, t0.Add(time.Minute))
	d = events[len(events)-1].Data.(duban.CaseDispatched)
	if d.Routing == nil || d.Routing.AssignedBy != supervisor.ID || d.Reason != "assigned by supervisor-1" {
		t.Fatalf("the assignment's dispatch %+v", d)
	}
}

// A unit's inbox shows the open cases in its hands or awaiting the
// verification of its work, and no others.
func TestInboxStatuses(t *testing.T) {
	in := duban.InboxStatuses()
	for _, s := range duban.Statuses {
		want := s.Open() && s != duban.StatusReported && s != duban.StatusUnrouted && s != duban.StatusDisputed
		if slices.Contains(in, s) != want {
			t.Errorf("status %s in the inbox: %v, want %v", s, slices.Contains(in, s), want)
		}
	}
}
