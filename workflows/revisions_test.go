package workflows

import (
	"testing"
	"time"

	"github.com/duban/duban"
)

// A run keeps the If-Match rule of the revision it started with: from
// ownSteps on, duban's own steps since the version a command names do not
// make it stale; runs before refused any version but the case's, and
// replay as they ran.
func TestIfMatchByRevision(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	c := duban.Case{}
	for i, cmd := range []duban.Command{
		duban.OpenCase{
			CommandMeta: duban.CommandMeta{By: duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}},
			CaseID:      "0b5a6c1e-8a51-4f7e-9d0c-2f6a1b3c4d5e", Category: "littering", Severity: duban.SeverityNormal,
			Description: "bags at the bus stop", Location: duban.Location{Lat: 39.9, Lon: 116.4}, Unit: "sanitation",
			Terms: duban.Terms{
				SLA:      duban.SLA{Acknowledge: 30 * time.Minute, Resolve: 24 * time.Hour, Verify: 4 * time.Hour},
				Calendar: duban.Calendar{Kind: duban.Calendar24x7},
				Ladder:   []duban.Rung{{At: duban.Offset{}, Level: 1}},
			},
		},
		duban.Tick{CommandMeta: duban.CommandMeta{By: duban.System}},
	} {
		events, err := duban.Decide(c, cmd, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		c = duban.Fold(c, events)
	}
	if c.EscalationLevel != 1 {
		t.Fatalf("the case is not escalated: %+v", c)
	}
	unit := duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}
	seen := duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit, IfMatch: c.Version - 1}}
	for _, tt := range []struct {
		revision int
		want     string
	}{{ownSteps - 1, duban.EPRECONDITION}, {ownSteps, ""}, {latest, ""}} {
		r := &run{in: Input{Revision: tt.revision}, state: c}
		if _, err := r.decide(seen, t0.Add(2*time.Hour)); duban.ErrorCode(err) != tt.want {
			t.Errorf("revision %d: acknowledge on the version before the escalation: %v, want %q", tt.revision, err, tt.want)
		}
		// Refusals keep their order: a case another unit may not see is
		// not found, whatever its If-Match.
		other := seen
		other.By = duban.Principal{ID: "traffic-1", Role: duban.RoleUnit, Unit: "traffic-police"}
		if _, err := r.decide(other, t0.Add(2*time.Hour)); duban.ErrorCode(err) != duban.ENOTFOUND {
			t.Errorf("revision %d: another unit's acknowledge: %v", tt.revision, err)
		}
	}
}
