package duban_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

var (
	t0         = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	inspector  = duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	sanitation = duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}
	traffic    = duban.Principal{ID: "traffic-1", Role: duban.RoleUnit, Unit: "traffic-police"}
	supervisor = duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}
	admin      = duban.Principal{ID: "admin-1", Role: duban.RoleAdmin}
	// units are the policy's, as an assignment carries them.
	units = []string{"sanitation", "traffic-police", "urban-management"}
)

// terms: acknowledge in 30m, resolve in 24h, verify in 4h; warn at -25%,
// escalate at the deadline, 4h and 24h after it.
func terms() duban.Terms {
	return duban.Terms{
		SLA:      duban.SLA{Acknowledge: 30 * time.Minute, Resolve: 24 * time.Hour, Verify: 4 * time.Hour},
		Calendar: duban.Calendar{Kind: duban.Calendar24x7},
		Ladder: []duban.Rung{
			{At: duban.Offset{Percent: -25, Relative: true}},
			{At: duban.Offset{}, Level: 1},
			{At: duban.Offset{Duration: 4 * time.Hour}, Level: 2},
			{At: duban.Offset{Duration: 24 * time.Hour}, Level: 3},
		},
	}
}

func openCmd(unit string) duban.OpenCase {
	return duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector},
		CaseID:      "0b5a6c1e-8a51-4f7e-9d0c-2f6a1b3c4d5e",
		Category:    "littering",
		Severity:    duban.SeverityNormal,
		Description: "bags dumped at the bus stop",
		Location:    duban.Location{Lat: 39.865, Lon: 111.238, Area: "old-town"},
		Unit:        unit,
		Terms:       terms(),
		RequestHash: "h1",
	}
}

// apply decides cmd at now and folds its events, failing the test on refusal.
func apply(t *testing.T, c duban.Case, cmd duban.Command, now time.Time) (duban.Case, []duban.Event) {
	t.Helper()
	events, err := duban.Decide(c, cmd, now)
	if err != nil {
		t.Fatalf("%s refused: %v", cmd.Name(), err)
	}
	for i, e := range events {
		if want := c.Version + int64(i) + 1; e.Version != want {
			t.Fatalf("%s: event %d has version %d, want %d", cmd.Name(), i, e.Version, want)
		}
	}
	return duban.Fold(c, events), events
}

// caseIn returns a case brought to status through the allowed path, starting
// at t0 and taking a minute per step.
func caseIn(t *testing.T, status duban.Status) duban.Case {
	t.Helper()
	switch status {
	case duban.StatusUnrouted:
		c, _ := apply(t, duban.Case{}, openCmd(""), t0)
		return c
	case duban.StatusDisputed:
		c, _ := apply(t, caseIn(t, duban.StatusDispatched), duban.Dispute{CommandMeta: by(sanitation), Reason: "the bins are the market's"}, t0.Add(time.Minute))
		return c
	case duban.StatusSuspended:
		c, _ := apply(t, caseIn(t, duban.StatusInProgress), duban.Suspend{CommandMeta: by(supervisor), Reason: "waiting for a new bin"}, t0.Add(2*time.Minute))
		return c
	case duban.StatusCancelled:
		c, _ := apply(t, caseIn(t, duban.StatusDispatched), duban.Cancel{CommandMeta: by(supervisor), Reason: "reported twice"}, t0.Add(time.Minute))
		return c
	}
	c, _ := apply(t, duban.Case{}, openCmd("sanitation"), t0)
	steps := []struct {
		reached duban.Status
		cmd     duban.Command
	}{
		{duban.StatusInProgress, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}},
		{duban.StatusResolved, duban.Resolve{CommandMeta: duban.CommandMeta{By: sanitation}, Note: "cleared"}},
		{duban.StatusClosed, duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: true}},
	}
	now := t0
	for _, s := range steps {
		if c.Status == status {
			return c
		}
		now = now.Add(time.Minute)
		c, _ = apply(t, c, s.cmd, now)
		if c.Status != s.reached {
			t.Fatalf("expected %s, got %s", s.reached, c.Status)
		}
	}
	if c.Status != status {
		t.Fatalf("cannot bring a case to %s", status)
	}
	return c
}

func by(p duban.Principal) duban.CommandMeta { return duban.CommandMeta{By: p} }

func TestDecideTransitions(t *testing.T) {
	ack := func(p duban.Principal) duban.Command { return duban.Acknowledge{CommandMeta: by(p)} }
	resolve := func(p duban.Principal) duban.Command { return duban.Resolve{CommandMeta: by(p), Note: "cleared"} }
	pass := func(p duban.Principal) duban.Command { return duban.Verify{CommandMeta: by(p), Passed: true} }
	fail := func(p duban.Principal) duban.Command {
		return duban.Verify{CommandMeta: by(p), Passed: false, Note: "still dirty"}
	}
	comment := func(p duban.Principal) duban.Command { return duban.AddComment{CommandMeta: by(p), Text: "seen"} }
	dispute := func(p duban.Principal) duban.Command { return duban.Dispute{CommandMeta: by(p), Reason: "not ours"} }
	assign := func(p duban.Principal, unit string) duban.Command {
		return duban.Assign{CommandMeta: by(p), Unit: unit, Units: units}
	}
	extend := func(p duban.Principal) duban.Command {
		return duban.RequestExtension{CommandMeta: by(p), Until: t0.Add(48 * time.Hour), Reason: "parts on order"}
	}
	urge := func(p duban.Principal) duban.Command { return duban.Urge{CommandMeta: by(p), Note: "today, please"} }
	cancel := func(p duban.Principal) duban.Command { return duban.Cancel{CommandMeta: by(p), Reason: "withdrawn"} }
	suspend := func(p duban.Principal) duban.Command { return duban.Suspend{CommandMeta: by(p), Reason: "rain"} }
	resume := func(p duban.Principal) duban.Command { return duban.Resume{CommandMeta: by(p)} }
	list := func(p duban.Principal) duban.Command {
		return duban.List{CommandMeta: by(p), Reason: "third time this month"}
	}
	delist := func(p duban.Principal) duban.Command { return duban.Delist{CommandMeta: by(p)} }

	tests := []struct {
		from   duban.Status
		cmd    duban.Command
		code   string            // expected error code, or "" for success
		to     duban.Status      // expected status after success
		events []duban.EventType // expected event types after success
	}{
		// acknowledge
		{duban.StatusDispatched, ack(sanitation), "", duban.StatusInProgress, []duban.EventType{duban.EventCaseAcknowledged}},
		{duban.StatusDispatched, ack(traffic), duban.ENOTFOUND, "", nil},
		{duban.StatusDispatched, ack(inspector), duban.EFORBIDDEN, "", nil},
		{duban.StatusDispatched, ack(supervisor), duban.EFORBIDDEN, "", nil},
		{duban.StatusUnrouted, ack(supervisor), duban.EFORBIDDEN, "", nil},
		{duban.StatusInProgress, ack(sanitation), duban.ECONFLICT, "", nil},
		{duban.StatusResolved, ack(sanitation), duban.ECONFLICT, "", nil},
		{duban.StatusClosed, ack(sanitation), duban.ECONFLICT, "", nil},
		// resolve
		{duban.StatusInProgress, resolve(sanitation), "", duban.StatusResolved, []duban.EventType{duban.EventCaseResolved}},
		{duban.StatusInProgress, resolve(traffic), duban.ENOTFOUND, "", nil},
		{duban.StatusInProgress, resolve(inspector), duban.EFORBIDDEN, "", nil},
		{duban.StatusInProgress, resolve(admin), duban.EFORBIDDEN, "", nil},
		{duban.StatusDispatched, resolve(sanitation), duban.ECONFLICT, "", nil},
		{duban.StatusResolved, resolve(sanitation), duban.ECONFLICT, "", nil},
		{duban.StatusClosed, resolve(sanitation), duban.ECONFLICT, "", nil},
		// verify
		{duban.StatusResolved, pass(inspector), "", duban.StatusClosed, []duban.EventType{duban.EventVerificationPassed, duban.EventCaseClosed}},
		{duban.StatusResolved, pass(supervisor), "", duban.StatusClosed, []duban.EventType{duban.EventVerificationPassed, duban.EventCaseClosed}},
		{duban.StatusResolved, fail(inspector), "", duban.StatusInProgress, []duban.EventType{duban.EventVerificationFailed}},
		{duban.StatusResolved, pass(sanitation), duban.EFORBIDDEN, "", nil},
		{duban.StatusResolved, pass(traffic), duban.ENOTFOUND, "", nil},
		{duban.StatusInProgress, pass(inspector), duban.ECONFLICT, "", nil},
		{duban.StatusDispatched, fail(inspector), duban.ECONFLICT, "", nil},
		{duban.StatusClosed, pass(inspector), duban.ECONFLICT, "", nil},
		{duban.StatusUnrouted, pass(inspector), duban.ECONFLICT, "", nil},
		// list and delist (挂牌督办): the office, on an open case
		{duban.StatusDispatched, list(supervisor), "", duban.StatusDispatched, []duban.EventType{duban.EventCaseListed}},
		{duban.StatusUnrouted, list(admin), "", duban.StatusUnrouted, []duban.EventType{duban.EventCaseListed}},
		{duban.StatusSuspended, list(supervisor), "", duban.StatusSuspended, []duban.EventType{duban.EventCaseListed}},
		{duban.StatusInProgress, list(inspector), duban.EFORBIDDEN, "", nil},
		{duban.StatusInProgress, list(sanitation), duban.EFORBIDDEN, "", nil},
		{duban.StatusInProgress, list(traffic), duban.ENOTFOUND, "", nil},
		{duban.StatusClosed, list(supervisor), duban.ECONFLICT, "", nil},
		{duban.StatusCancelled, list(supervisor), duban.ECONFLICT, "", nil},
		{duban.StatusInProgress, delist(supervisor), duban.ECONFLICT, "", nil}, // not listed
		// comment: anyone with access, on an open case
		{duban.StatusUnrouted, comment(supervisor), "", duban.StatusUnrouted, []duban.EventType{duban.EventCommentAdded}},
		{duban.StatusDispatched, comment(inspector), "", duban.StatusDispatched, []duban.EventType{duban.EventCommentAdded}},
		{duban.StatusInProgress, comment(sanitation), "", duban.StatusInProgress, []duban.EventType{duban.EventCommentAdded}},
		{duban.StatusResolved, comment(admin), "", duban.StatusResolved, []duban.EventType{duban.EventCommentAdded}},
		{duban.StatusDispatched, comment(traffic), duban.ENOTFOUND, "", nil},
		{duban.StatusUnrouted, comment(sanitation), duban.ENOTFOUND, "", nil},
		{duban.StatusDispatched, comment(duban.System), duban.EFORBIDDEN, "", nil},
		{duban.StatusClosed, comment(inspector), duban.ECONFLICT, "", nil},
		{duban.StatusDisputed, comment(supervisor), "", duban.StatusDisputed, []duban.EventType{duban.EventCommentAdded}},
		{duban.StatusSuspended, comment(sanitation), "", duban.StatusSuspended, []duban.EventType{duban.EventCommentAdded}},
		{duban.StatusCancelled, comment(supervisor), duban.ECONFLICT, "", nil},
		{duban.StatusDisputed, ack(sanitation), duban.ENOTFOUND, "", nil}, // out of the unit's view
		{duban.StatusSuspended, ack(sanitation), duban.ECONFLICT, "", nil},
		{duban.StatusSuspended, resolve(sanitation), duban.ECONFLICT, "", nil},
		// dispute: the assigned unit, before it resolves
		{duban.StatusDispatched, dispute(sanitation), "", duban.StatusDisputed, []duban.EventType{duban.EventCaseDisputed}},
		{duban.StatusInProgress, dispute(sanitation), "", duban.StatusDisputed, []duban.EventType{duban.EventCaseDisputed}},
		{duban.StatusDispatched, dispute(traffic), duban.ENOTFOUND, "", nil},
		{duban.StatusDispatched, dispute(supervisor), duban.EFORBIDDEN, "", nil},
		{duban.StatusResolved, dispute(sanitation), duban.ECONFLICT, "", nil},
		{duban.StatusSuspended, dispute(sanitation), duban.ECONFLICT, "", nil},
		// assign: supervisors and admins, fresh dispatch
		{duban.StatusUnrouted, assign(supervisor, "traffic-police"), "", duban.StatusDispatched, []duban.EventType{duban.EventCaseAssigned, duban.EventCaseDispatched}},
		{duban.StatusDisputed, assign(admin, "traffic-police"), "", duban.StatusDispatched, []duban.EventType{duban.EventCaseAssigned, duban.EventCaseDispatched}},
		{duban.StatusDisputed, assign(supervisor, "sanitation"), "", duban.StatusDispatched, []duban.EventType{duban.EventCaseAssigned, duban.EventCaseDispatched}},
		{duban.StatusDispatched, assign(supervisor, "traffic-police"), "", duban.StatusDispatched, []duban.EventType{duban.EventCaseAssigned, duban.EventCaseDispatched}},
		{duban.StatusInProgress, assign(supervisor, "traffic-police"), "", duban.StatusDispatched, []duban.EventType{duban.EventCaseAssigned, duban.EventCaseDispatched}},
		{duban.StatusDispatched, assign(supervisor, "sanitation"), duban.ECONFLICT, "", nil},
		{duban.StatusUnrouted, assign(inspector, "sanitation"), duban.EFORBIDDEN, "", nil},
		{duban.StatusDispatched, assign(sanitation, "traffic-police"), duban.EFORBIDDEN, "", nil},
		{duban.StatusResolved, assign(supervisor, "traffic-police"), duban.ECONFLICT, "", nil},
		{duban.StatusSuspended, assign(supervisor, "traffic-police"), duban.ECONFLICT, "", nil},
		{duban.StatusClosed, assign(supervisor, "traffic-police"), duban.ECONFLICT, "", nil},
		{duban.StatusCancelled, assign(supervisor, "traffic-police"), duban.ECONFLICT, "", nil},
		// extension requests: the assigned unit, while the case is in its hands
		{duban.StatusDispatched, extend(sanitation), "", duban.StatusDispatched, []duban.EventType{duban.EventExtensionRequested}},
		{duban.StatusInProgress, extend(sanitation), "", duban.StatusInProgress, []duban.EventType{duban.EventExtensionRequested}},
		{duban.StatusInProgress, extend(supervisor), duban.EFORBIDDEN, "", nil},
		{duban.StatusResolved, extend(sanitation), duban.ECONFLICT, "", nil},
		{duban.StatusSuspended, extend(sanitation), duban.ECONFLICT, "", nil},
		// urge: supervisors and admins, any open state
		{duban.StatusUnrouted, urge(supervisor), "", duban.StatusUnrouted, []duban.EventType{duban.EventCaseUrged}},
		{duban.StatusDispatched, urge(admin), "", duban.StatusDispatched, []duban.EventType{duban.EventCaseUrged}},
		{duban.StatusSuspended, urge(supervisor), "", duban.StatusSuspended, []duban.EventType{duban.EventCaseUrged}},
		{duban.StatusResolved, urge(supervisor), "", duban.StatusResolved, []duban.EventType{duban.EventCaseUrged}},
		{duban.StatusDispatched, urge(inspector), duban.EFORBIDDEN, "", nil},
		{duban.StatusDispatched, urge(sanitation), duban.EFORBIDDEN, "", nil},
		{duban.StatusClosed, urge(supervisor), duban.ECONFLICT, "", nil},
		// cancel: supervisors and admins, any open state
		{duban.StatusUnrouted, cancel(supervisor), "", duban.StatusCancelled, []duban.EventType{duban.EventCaseCancelled}},
		{duban.StatusDisputed, cancel(admin), "", duban.StatusCancelled, []duban.EventType{duban.EventCaseCancelled}},
		{duban.StatusSuspended, cancel(supervisor), "", duban.StatusCancelled, []duban.EventType{duban.EventCaseCancelled}},
		{duban.StatusResolved, cancel(supervisor), "", duban.StatusCancelled, []duban.EventType{duban.EventCaseCancelled}},
		{duban.StatusDispatched, cancel(inspector), duban.EFORBIDDEN, "", nil},
		{duban.StatusClosed, cancel(supervisor), duban.ECONFLICT, "", nil},
		{duban.StatusCancelled, cancel(supervisor), duban.ECONFLICT, "", nil},
		// suspend and resume: supervisors and admins
		{duban.StatusDispatched, suspend(supervisor), "", duban.StatusSuspended, []duban.EventType{duban.EventCaseSuspended}},
		{duban.StatusInProgress, suspend(admin), "", duban.StatusSuspended, []duban.EventType{duban.EventCaseSuspended}},
		{duban.StatusUnrouted, suspend(supervisor), duban.ECONFLICT, "", nil},
		{duban.StatusResolved, suspend(supervisor), duban.ECONFLICT, "", nil},
		{duban.StatusSuspended, suspend(supervisor), duban.ECONFLICT, "", nil},
		{duban.StatusInProgress, suspend(sanitation), duban.EFORBIDDEN, "", nil},
		{duban.StatusSuspended, resume(supervisor), "", duban.StatusInProgress, []duban.EventType{duban.EventCaseResumed}},
		{duban.StatusSuspended, resume(sanitation), duban.EFORBIDDEN, "", nil},
		{duban.StatusInProgress, resume(supervisor), duban.ECONFLICT, "", nil},
		// tick belongs to the system
		{duban.StatusDispatched, duban.Tick{CommandMeta: by(supervisor)}, duban.EFORBIDDEN, "", nil},
		{duban.StatusDispatched, duban.Tick{CommandMeta: by(duban.System)}, "", duban.StatusDispatched, []duban.EventType{duban.EventDeadlineWarned, duban.EventCaseEscalated}},
		{duban.StatusUnrouted, duban.Tick{CommandMeta: by(duban.System)}, "", duban.StatusUnrouted, nil},
	}
	for _, tt := range tests {
		name := string(tt.from) + "/" + tt.cmd.Name() + "/" + tt.cmd.Meta().By.ID
		t.Run(name, func(t *testing.T) {
			c := caseIn(t, tt.from)
			// Before the first step of any ladder, but ticks come when due.
			now := t0.Add(10 * time.Minute)
			if _, ok := tt.cmd.(duban.Tick); ok {
				now = t0.Add(time.Hour)
			}
			events, err := duban.Decide(c, tt.cmd, now)
			if got := duban.ErrorCode(err); got != tt.code {
				t.Fatalf("error code %q (%v), want %q", got, err, tt.code)
			}
			if err != nil {
				if events != nil {
					t.Fatalf("a refused command returned events: %v", events)
				}
				return
			}
			var types []duban.EventType
			for _, e := range events {
				types = append(types, e.Type)
			}
			if !reflect.DeepEqual(types, tt.events) {
				t.Fatalf("events %v, want %v", types, tt.events)
			}
			if got := duban.Fold(c, events).Status; got != tt.to {
				t.Fatalf("status %s, want %s", got, tt.to)
			}
		})
	}
}

func TestDecideOpen(t *testing.T) {
	t.Run("routed", func(t *testing.T) {
		c, events := apply(t, duban.Case{}, openCmd("sanitation"), t0)
		if len(events) != 2 || events[0].Type != duban.EventCaseReported || events[1].Type != duban.EventCaseDispatched {
			t.Fatalf("events %+v", events)
		}
		if events[0].Actor != inspector || events[1].Actor != duban.System {
			t.Fatalf("actors %v, %v", events[0].Actor, events[1].Actor)
		}
		if c.Status != duban.StatusDispatched || c.Unit != "sanitation" || c.Reporter != "inspector-1" || c.Version != 2 {
			t.Fatalf("case %+v", c)
		}
		if !c.Deadlines.AcknowledgeBy.Equal(t0.Add(30*time.Minute)) || !c.Deadlines.ResolveBy.Equal(t0.Add(24*time.Hour)) || c.Deadlines.VerifyBy != nil {
			t.Fatalf("deadlines %+v", c.Deadlines)
		}
	})
	t.Run("unrouted", func(t *testing.T) {
		c, events := apply(t, duban.Case{}, openCmd(""), t0)
		if len(events) != 2 || events[1].Type != duban.EventCaseUnrouted {
			t.Fatalf("events %+v", events)
		}
		if c.Status != duban.StatusUnrouted || c.Unit != "" || c.Deadlines.AcknowledgeBy != nil {
			t.Fatalf("case %+v", c)
		}
		if _, _, ok := c.RunningStage(); ok {
			t.Fatal("an unrouted case has no running stage")
		}
	})
	t.Run("idempotent retry", func(t *testing.T) {
		c := caseIn(t, duban.StatusInProgress)
		events, err := duban.Decide(c, openCmd("sanitation"), t0.Add(time.Hour))
		if err != nil || len(events) != 0 {
			t.Fatalf("retried open: %v, %v", events, err)
		}
	})
	t.Run("key reused for another request", func(t *testing.T) {
		c := caseIn(t, duban.StatusDispatched)
		cmd := openCmd("sanitation")
		cmd.RequestHash = "h2"
		if _, err := duban.Decide(c, cmd, t0); duban.ErrorCode(err) != duban.ECONFLICT {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("roles", func(t *testing.T) {
		for _, p := range []duban.Principal{inspector, supervisor, admin} {
			cmd := openCmd("sanitation")
			cmd.By = p
			if _, err := duban.Decide(duban.Case{}, cmd, t0); err != nil {
				t.Errorf("%s may open: %v", p.Role, err)
			}
		}
		cmd := openCmd("sanitation")
		cmd.By = sanitation
		if _, err := duban.Decide(duban.Case{}, cmd, t0); duban.ErrorCode(err) != duban.EFORBIDDEN {
			t.Errorf("a unit may not open: %v", err)
		}
	})
	t.Run("command on a case that does not exist", func(t *testing.T) {
		_, err := duban.Decide(duban.Case{}, duban.Acknowledge{CommandMeta: by(sanitation)}, t0)
		if duban.ErrorCode(err) != duban.ENOTFOUND {
			t.Fatalf("got %v", err)
		}
	})
}

func TestDecideInvalidInput(t *testing.T) {
	tooLong := strings.Repeat("字", duban.MaxDescription+1)
	tests := []struct {
		name  string
		c     duban.Case
		cmd   duban.Command
		field string
	}{
		{"blank description", duban.Case{}, func() duban.Command { c := openCmd("x"); c.Description = "  "; return c }(), "description"},
		{"long description", duban.Case{}, func() duban.Command { c := openCmd("x"); c.Description = tooLong; return c }(), "description"},
		// Every door's open: a location left out (0,0) is refused by the
		// domain, not only by the doors that ask for one.
		{"no location", duban.Case{}, func() duban.Command { c := openCmd("x"); c.Location = duban.Location{Address: "人民路"}; return c }(), "location"},
		{"latitude", duban.Case{}, func() duban.Command { c := openCmd("x"); c.Location.Lat = 91; return c }(), "location.lat"},
		{"longitude", duban.Case{}, func() duban.Command { c := openCmd("x"); c.Location.Lon = -180.5; return c }(), "location.lon"},
		{"severity", duban.Case{}, func() duban.Command { c := openCmd("x"); c.Severity = "extreme"; return c }(), "severity"},
		{"evidence url", duban.Case{}, func() duban.Command {
			c := openCmd("x")
			c.Evidence = []duban.Evidence{{URL: "javascript:alert(1)", Kind: "photo"}}
			return c
		}(), "evidence[0].url"},
		{"evidence kind", duban.Case{}, func() duban.Command {
			c := openCmd("x")
			c.Evidence = []duban.Evidence{{URL: "https://example.org/a.jpg", Kind: "hologram"}}
			return c
		}(), "evidence[0].kind"},
		{"control characters", duban.Case{}, func() duban.Command { c := openCmd("x"); c.Description = "a\x00b"; return c }(), "description"},
		{"resolve without note", caseIn(t, duban.StatusInProgress), duban.Resolve{CommandMeta: by(sanitation)}, "note"},
		{"failed verification without note", caseIn(t, duban.StatusResolved), duban.Verify{CommandMeta: by(inspector)}, "note"},
		{"empty comment", caseIn(t, duban.StatusDispatched), duban.AddComment{CommandMeta: by(inspector)}, "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := duban.Decide(tt.c, tt.cmd, t0)
			var e *duban.Error
			if !asError(err, &e) || e.Code != duban.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
			if len(e.Fields) == 0 || e.Fields[0].Field != tt.field {
				t.Fatalf("fields %+v, want %s", e.Fields, tt.field)
			}
		})
	}
}

func asError(err error, target **duban.Error) bool { return errors.As(err, target) }

// A command given on a version is stale when the case has changed since,
// not when duban has only warned or escalated it.
func TestDecideIfMatch(t *testing.T) {
	c := caseIn(t, duban.StatusDispatched)
	seen := c.Version
	ack := func(v int64) duban.Acknowledge {
		return duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation, IfMatch: v}}
	}
	refused := func(c duban.Case, v int64, why string) {
		t.Helper()
		if _, err := duban.Decide(c, ack(v), t0); duban.ErrorCode(err) != duban.EPRECONDITION {
			t.Errorf("%s: If-Match %d on version %d: %v, want a stale refusal", why, v, c.Version, err)
		}
	}
	accepted := func(c duban.Case, v int64, why string) {
		t.Helper()
		if _, err := duban.Decide(c, ack(v), t0); err != nil {
			t.Errorf("%s: If-Match %d on version %d: %v", why, v, c.Version, err)
		}
	}
	accepted(c, seen, "the current version")
	acked := caseIn(t, duban.StatusInProgress)
	resolve := duban.Resolve{CommandMeta: duban.CommandMeta{By: sanitation, IfMatch: acked.Version - 1}, Note: "cleared"}
	if _, err := duban.Decide(acked, resolve, t0); duban.ErrorCode(err) != duban.EPRECONDITION {
		t.Errorf("If-Match from before the acknowledgement: %v, want a stale refusal", err)
	}
	refused(c, seen+1, "a version the case never had")
	refused(c, seen-1, "the open's report, before duban dispatched it")

	// duban warns and escalates: the unit's page of before still acts.
	tick := duban.Tick{CommandMeta: by(duban.System)}
	c, _ = apply(t, c, tick, t0.Add(23*time.Minute))
	escalated, _ := apply(t, c, tick, t0.Add(31*time.Minute))
	if escalated.Version != seen+2 {
		t.Fatalf("want a warning and an escalation, the case is at version %d", escalated.Version)
	}
	accepted(escalated, seen, "duban's own steps since")
	accepted(escalated, seen+1, "duban's own step since")

	// A person's comment, an urge or a reassignment is a change.
	commented, _ := apply(t, escalated, duban.AddComment{CommandMeta: by(supervisor), Text: "先别动，等园林局"}, t0.Add(32*time.Minute))
	refused(commented, seen, "a comment since")
	accepted(commented, commented.Version, "the comment's version")
	urged, _ := apply(t, escalated, duban.Urge{CommandMeta: by(supervisor), Note: "快"}, t0.Add(32*time.Minute))
	refused(urged, seen, "an urge since")

	// A case folded before ChangedVersion was kept: any change counts.
	old := escalated
	old.ChangedVersion = 0
	refused(old, seen, "a case without ChangedVersion")
	accepted(old, old.Version, "a case without ChangedVersion, current")
}

func TestVerificationFailedReopens(t *testing.T) {
	c := caseIn(t, duban.StatusResolved)
	failedAt := t0.Add(3 * time.Hour)
	c, events := apply(t, c, duban.Verify{CommandMeta: by(inspector), Note: "bags are back"}, failedAt)
	data := dataOf[duban.VerificationFailed](t, events)
	if data.ReworkCount != 1 || data.Note != "bags are back" || !data.ResolveBy.Equal(failedAt.Add(24*time.Hour)) {
		t.Fatalf("event data %+v", data)
	}
	if c.Status != duban.StatusInProgress || c.ReworkCount != 1 || !c.Deadlines.ResolveBy.Equal(failedAt.Add(24*time.Hour)) || c.Deadlines.VerifyBy != nil {
		t.Fatalf("case %+v", c)
	}
	c, _ = apply(t, c, duban.Resolve{CommandMeta: by(sanitation), Note: "cleared again"}, failedAt.Add(time.Hour))
	c, _ = apply(t, c, duban.Verify{CommandMeta: by(inspector), Note: "no"}, failedAt.Add(2*time.Hour))
	if c.ReworkCount != 2 {
		t.Fatalf("rework count %d, want 2", c.ReworkCount)
	}
}

func TestLatenessIsRecorded(t *testing.T) {
	c := caseIn(t, duban.StatusDispatched) // acknowledge by t0+30m
	_, events := apply(t, c, duban.Acknowledge{CommandMeta: by(sanitation)}, t0.Add(45*time.Minute))
	got := dataOf[duban.CaseAcknowledged](t, events)
	if !got.Deadline.Equal(t0.Add(30*time.Minute)) || got.LateSeconds != 15*60 {
		t.Fatalf("lateness %+v", got)
	}
	_, events = apply(t, c, duban.Acknowledge{CommandMeta: by(sanitation)}, t0.Add(5*time.Minute))
	if got := dataOf[duban.CaseAcknowledged](t, events); got.LateSeconds != 0 {
		t.Fatalf("on time, but late by %d s", got.LateSeconds)
	}
}

func TestLadder(t *testing.T) {
	c := caseIn(t, duban.StatusDispatched) // dispatched at t0, acknowledge by t0+30m
	ackBy := t0.Add(30 * time.Minute)
	want := []duban.Step{
		{Stage: duban.StageAcknowledge, Deadline: ackBy, Level: 0, At: t0.Add(22*time.Minute + 30*time.Second)},
		{Stage: duban.StageAcknowledge, Deadline: ackBy, Level: 1, At: ackBy},
		{Stage: duban.StageAcknowledge, Deadline: ackBy, Level: 2, At: ackBy.Add(4 * time.Hour)},
		{Stage: duban.StageAcknowledge, Deadline: ackBy, Level: 3, At: ackBy.Add(24 * time.Hour)},
	}
	if got := c.Ladder(); !reflect.DeepEqual(got, want) {
		t.Fatalf("ladder\n got %+v\nwant %+v", got, want)
	}

	tick := duban.Tick{CommandMeta: by(duban.System)}
	if _, events := apply(t, c, tick, t0.Add(10*time.Minute)); len(events) != 0 {
		t.Fatalf("nothing is due yet, got %v", events)
	}
	if next, _ := c.NextStep(); !next.At.Equal(want[0].At) {
		t.Fatalf("next step %v", next)
	}
	// The level is visible from the clock before any timer records it.
	if c.OverdueAt(ackBy.Add(-time.Second)) || !c.OverdueAt(ackBy) || c.EscalationLevelAt(ackBy) != 1 || c.EscalationLevelAt(ackBy.Add(-time.Second)) != 0 {
		t.Fatal("overdue and level must follow the clock")
	}

	c, events := apply(t, c, tick, t0.Add(23*time.Minute))
	if len(events) != 1 || events[0].Type != duban.EventDeadlineWarned || !c.Warned {
		t.Fatalf("warning: %v", events)
	}
	// A worker that was down for hours records every step that came due, in order.
	c, events = apply(t, c, tick, ackBy.Add(5*time.Hour))
	if len(events) != 2 || dataOf[duban.CaseEscalated](t, events).Level != 1 || events[1].Data.(duban.CaseEscalated).Level != 2 {
		t.Fatalf("escalations: %+v", events)
	}
	if e := events[1].Data.(duban.CaseEscalated); e.Stage != duban.StageAcknowledge || !e.Deadline.Equal(ackBy) || !e.DueAt.Equal(want[2].At) {
		t.Fatalf("escalation data %+v", e)
	}
	if c.EscalationLevel != 2 {
		t.Fatalf("level %d", c.EscalationLevel)
	}
	if _, events := apply(t, c, tick, ackBy.Add(5*time.Hour)); len(events) != 0 {
		t.Fatalf("a step is recorded once: %v", events)
	}

	// A command given after steps came due whose timers have not fired
	// (the engine was busy or down) follows those steps, recorded by the
	// system, in order.
	late, events := apply(t, caseIn(t, duban.StatusDispatched), duban.AddComment{CommandMeta: by(inspector), Text: "still there"}, ackBy.Add(5*time.Hour))
	var types []duban.EventType
	for _, e := range events[:3] {
		types = append(types, e.Type)
		if e.Actor != duban.System {
			t.Fatalf("%s recorded as %v, not the system", e.Type, e.Actor)
		}
	}
	if want := []duban.EventType{duban.EventDeadlineWarned, duban.EventCaseEscalated, duban.EventCaseEscalated}; len(events) != 4 || !reflect.DeepEqual(types, want) || events[3].Type != duban.EventCommentAdded || events[3].Actor != inspector {
		t.Fatalf("a late comment: %v", events)
	}
	if late.EscalationLevel != 2 || !late.Warned {
		t.Fatalf("level %d, warned %v after a late comment", late.EscalationLevel, late.Warned)
	}

	// Acknowledging meets the obligation: the resolve stage starts clean.
	c, _ = apply(t, c, duban.Acknowledge{CommandMeta: by(sanitation)}, ackBy.Add(5*time.Hour))
	if stage, deadline, _ := c.RunningStage(); stage != duban.StageResolve || !deadline.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("running stage %s %v", stage, deadline)
	}
	if c.EscalationLevel != 0 || c.Warned {
		t.Fatalf("level %d, warned %v after acknowledgement", c.EscalationLevel, c.Warned)
	}
	now := ackBy.Add(5 * time.Hour)
	if c.OverdueAt(now) || c.EscalationLevelAt(now) != 0 {
		t.Fatal("the resolve stage is not overdue yet")
	}
	// A timer armed for the acknowledge stage's level 2 finds nothing to do:
	// the resolve stage's first step is its warning at t0+18h.
	if _, events := apply(t, c, tick, t0.Add(18*time.Hour-time.Second)); len(events) != 0 {
		t.Fatalf("a step of a stage that is over fired: %v", events)
	}
}

// A ladder mixing a relative and an absolute offset can put level 2 before
// level 1: with a 4h acknowledge SLA, level 1 at +50% comes 2h after the
// deadline and level 2 at +1h one hour after it. The case is at level 2 from
// +1h, and its clock says so: each level's time is the earliest of its own
// and the higher levels', so the projection can count them.
func TestLadderOutOfOrder(t *testing.T) {
	cmd := openCmd("sanitation")
	cmd.Terms.SLA.Acknowledge = 4 * time.Hour
	cmd.Terms.Ladder = []duban.Rung{
		{At: duban.Offset{Percent: 50, Relative: true}, Level: 1},
		{At: duban.Offset{Duration: time.Hour}, Level: 2},
	}
	c, _ := apply(t, duban.Case{}, cmd, t0)
	ackBy := t0.Add(4 * time.Hour)
	if got, want := c.Clock().Levels, []time.Time{ackBy.Add(time.Hour), ackBy.Add(time.Hour)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("levels %v, want %v", got, want)
	}
	for _, tc := range []struct {
		at    time.Duration
		level int
	}{{0, 0}, {time.Hour - time.Second, 0}, {time.Hour, 2}, {2 * time.Hour, 2}} {
		if got := c.EscalationLevelAt(ackBy.Add(tc.at)); got != tc.level {
			t.Fatalf("level %d at deadline+%s, want %d", got, tc.at, tc.level)
		}
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	c := caseIn(t, duban.StatusResolved)
	_, events := apply(t, c, duban.Verify{CommandMeta: by(inspector), Note: "no", Evidence: []duban.Evidence{{URL: "https://e.org/1.jpg", Kind: "photo"}}}, t0.Add(time.Hour))
	all := append([]duban.Event{}, events...)
	_, opened := apply(t, duban.Case{}, openCmd("sanitation"), t0)
	all = append(all, opened...)
	for _, e := range all {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back duban.Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip changed the event\n got %+v\nwant %+v", back, e)
		}
	}
	b, _ := json.Marshal(c)
	var back duban.Case
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("case round trip: %v\n got %+v\nwant %+v", err, back, c)
	}
}

func TestTimesAreMilliseconds(t *testing.T) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	c, events := apply(t, duban.Case{}, openCmd("sanitation"), now)
	want := time.Date(2026, 11, 2, 1, 0, 0, 123000000, time.UTC)
	if !events[0].OccurredAt.Equal(want) || events[0].OccurredAt.Location() != time.UTC {
		t.Fatalf("occurred at %v", events[0].OccurredAt)
	}
	if !c.Deadlines.AcknowledgeBy.Equal(want.Add(30 * time.Minute)) {
		t.Fatalf("acknowledge by %v", c.Deadlines.AcknowledgeBy)
	}
}

// dataOf returns the data of the first event of type T among events: a
// command given late follows the ladder steps that came due before it.
func dataOf[T duban.EventData](t *testing.T, events []duban.Event) T {
	t.Helper()
	for _, e := range events {
		if d, ok := e.Data.(T); ok {
			return d
		}
	}
	var zero T
	t.Fatalf("no %s among %v", zero.EventType(), events)
	return zero
}

// A refusal says who may not do what in words a person reads.
func TestRefusalsSayWhatWasRefused(t *testing.T) {
	c, _ := apply(t, caseIn(t, duban.StatusInProgress), duban.RequestExtension{CommandMeta: by(sanitation), Until: t0.Add(48 * time.Hour), Reason: "rain"}, t0.Add(time.Hour))
	for _, tc := range []struct {
		cmd  duban.Command
		want string
	}{
		{duban.DecideExtension{CommandMeta: by(sanitation), N: 1, Approved: true}, "a unit may not decide extensions of this case"},
		{duban.Cancel{CommandMeta: by(inspector), Reason: "x"}, "an inspector may not cancel this case"},
		{duban.RequestExtension{CommandMeta: by(admin), Until: t0.Add(72 * time.Hour), Reason: "x"}, "an admin may not ask for an extension of this case"},
	} {
		if _, err := duban.Decide(c, tc.cmd, t0.Add(2*time.Hour)); duban.ErrorMessage(err) != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd.Name(), duban.ErrorMessage(err), tc.want)
		}
	}
	open := openCmd("sanitation")
	open.By = sanitation
	if _, err := duban.Decide(duban.Case{}, open, t0); duban.ErrorMessage(err) != "a unit may not open cases" {
		t.Errorf("a unit opens: %v", err)
	}
}

func TestListAndDelist(t *testing.T) {
	c := caseIn(t, duban.StatusInProgress)
	if _, err := duban.Decide(c, duban.List{CommandMeta: by(supervisor)}, t0.Add(time.Hour)); duban.ErrorCode(err) != duban.EINVALID {
		t.Fatalf("a listing without a reason: %v, want invalid", err)
	}
	c, _ = apply(t, c, duban.List{CommandMeta: by(supervisor), Reason: "third time this month"}, t0.Add(time.Hour))
	if !c.Listed || !c.View().Listed {
		t.Fatalf("listed case reads listed=%v, view %v", c.Listed, c.View().Listed)
	}
	if _, err := duban.Decide(c, duban.List{CommandMeta: by(admin), Reason: "again"}, t0.Add(time.Hour)); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("listing a listed case: %v, want conflict", err)
	}
	c, _ = apply(t, c, duban.Delist{CommandMeta: by(admin)}, t0.Add(2*time.Hour))
	if c.Listed {
		t.Fatal("a delisted case still reads listed")
	}
}

// TestFindingRecurs: a failed item's case records where it was found and
// the n of the failure; a repeat within the window counts on from the
// last case, one after it starts again, and the list_at-th opens listed
// by the system.
func TestFindingRecurs(t *testing.T) {
	rule := duban.Recurrence{Window: 30 * 24 * time.Hour, ListAt: 3}
	open := func(last *duban.LastFinding) duban.OpenCase {
		cmd := openCmd("sanitation")
		cmd.Finding = &duban.Finding{Site: "NM-001", Item: "market-scale", Round: "r1", Last: last, Recurrence: rule}
		return cmd
	}
	cases := []struct {
		name   string
		last   *duban.LastFinding
		n      int
		listed bool
	}{
		{"first", nil, 1, false},
		{"second within the window", &duban.LastFinding{OpenedAt: t0.Add(-29 * 24 * time.Hour), Recurrence: 1}, 2, false},
		{"third within the window", &duban.LastFinding{OpenedAt: t0.Add(-24 * time.Hour), Recurrence: 2}, 3, true},
		{"fourth", &duban.LastFinding{OpenedAt: t0.Add(-time.Hour), Recurrence: 3}, 4, true},
		{"after the window", &duban.LastFinding{OpenedAt: t0.Add(-31 * 24 * time.Hour), Recurrence: 5}, 1, false},
	}
	for _, tc := range cases {
		c, events := apply(t, duban.Case{}, open(tc.last), t0)
		v := c.View()
		if v.Site != "NM-001" || v.Item != "market-scale" || v.Round != "r1" || v.Recurrence != tc.n || v.Listed != tc.listed {
			t.Errorf("%s: site %q item %q round %q recurrence %d listed %v, want NM-001 market-scale r1 %d %v",
				tc.name, v.Site, v.Item, v.Round, v.Recurrence, v.Listed, tc.n, tc.listed)
		}
		if last := events[len(events)-1]; tc.listed && (last.Type != duban.EventCaseListed || last.Actor != duban.System ||
			last.Data.(duban.CaseListed).Recurrence != tc.n) {
			t.Errorf("%s: last event %s by %v, want CaseListed by the system with recurrence %d", tc.name, last.Type, last.Actor, tc.n)
		}
	}
	never := open(&duban.LastFinding{OpenedAt: t0.Add(-time.Hour), Recurrence: 9})
	never.Finding.Recurrence.ListAt = 0
	if c, _ := apply(t, duban.Case{}, never, t0); c.Listed || c.Found.Recurrence != 10 {
		t.Errorf("list_at 0: listed %v at recurrence %d, want not listed at 10", c.Listed, c.Found.Recurrence)
	}
}
