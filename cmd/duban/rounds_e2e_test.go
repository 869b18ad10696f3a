package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/duban/duban"
	"github.com/duban/duban/workflows"
)

// marketType is a site type of two items, for a test policy.
const marketType = `site_types:
  - code: market
    name: {zh: 农贸市场, en: Farmers' market}
    items:
      - {code: market-clean, name: {zh: 地面整洁, en: Clean floor}, category: littering, points: 4}
      - {code: market-bins, name: {zh: 垃圾桶定点设置, en: Bins in place}, category: littering, points: 3}
`

// roundsPolicy is the short policy with a site type of two items and a
// round it schedules each Monday, due three seconds after it starts.
const roundsPolicy = shortPolicy + marketType + `rounds:
  - code: weekly-markets
    name: 每周农贸市场明查
    every: mon 08:30
    site_types: [market]
    due: 3s
    inspectors: [inspector-1]
`

type e2eRound struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	PlannedBy       string `json:"planned_by"`
	EscalationLevel int    `json:"escalation_level"`
	Sites           []struct {
		Site      string `json:"site"`
		Inspected bool   `json:"inspected"`
	} `json:"sites"`
	Steps []struct {
		Level int      `json:"level"`
		Left  []string `json:"left"`
	} `json:"steps"`
}

func (s *stack) registerMarkets(ids ...string) {
	s.t.Helper()
	for _, id := range ids {
		s.call("POST", "/v1/sites", "dev-admin", map[string]any{"id": id, "name": "农贸市场 " + id, "type": "market",
			"location": map[string]any{"lat": 39.865, "lon": 111.238}, "unit": "sanitation"}).Expect(s.t, 201, nil)
	}
}

func (s *stack) round(id string) e2eRound {
	s.t.Helper()
	var r e2eRound
	s.call("GET", "/v1/rounds/"+id, "dev-supervisor", nil).Expect(s.t, 200, &r)
	return r
}

// A round's ladder fires with no one looking: a warning before its due
// time and escalations at and after it, each naming the sites left; a
// round done takes no more.
func TestRoundLadderFires(t *testing.T) {
	s := newStack(t, roundsPolicy)
	s.start("serve")
	s.registerMarkets("m-1", "m-2")
	var r e2eRound
	s.call("POST", "/v1/rounds", "dev-supervisor", map[string]any{"name": "临时明查", "inspectors": []string{"inspector-1"},
		"due_by": time.Now().Add(4 * time.Second).UTC().Format(time.RFC3339Nano)}).Expect(t, 201, &r)
	s.call("POST", "/v1/rounds/"+r.ID+"/sites/m-1/inspection", "dev-inspector", map[string]any{
		"at": time.Now().UTC().Format(time.RFC3339Nano), "location": map[string]any{"lat": 39.8651, "lon": 111.2381},
		"items": []map[string]any{{"item": "market-clean", "result": "pass"}, {"item": "market-bins", "result": "fail", "note": "桶不够"}},
	}).Expect(t, 201, nil)
	eventually(t, 30*time.Second, "the round at level 3", func() bool { return s.round(r.ID).EscalationLevel == 3 })
	r = s.round(r.ID)
	var levels []int
	for _, step := range r.Steps {
		levels = append(levels, step.Level)
		if !slices.Equal(step.Left, []string{"m-2"}) {
			t.Errorf("step %d says %v are left, want m-2", step.Level, step.Left)
		}
	}
	if !slices.Equal(levels, []int{0, 1, 2, 3}) || r.Status != "open" {
		t.Fatalf("steps %v, status %s", levels, r.Status)
	}
}

// A round the policy schedules is a real Temporal Schedule: started by
// the server (triggered here, rather than waiting for Monday), it plans
// the round as the system, and its ladder runs.
func TestScheduledRound(t *testing.T) {
	s := newStack(t, roundsPolicy)
	s.start("serve")
	s.registerMarkets("m-1", "m-2")
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Namespace: "default", Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	ctx := context.Background()
	schedule := tc.ScheduleClient().GetHandle(ctx, workflows.RoundScheduleID(s.queue, "weekly-markets"))
	d, err := schedule.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cal := d.Schedule.Spec.Calendars; len(cal) != 1 || cal[0].DayOfWeek[0].Start != 1 || cal[0].Hour[0].Start != 8 || cal[0].Minute[0].Start != 30 ||
		d.Schedule.Spec.TimeZoneName != s.policy.TimeZone {
		t.Fatalf("the schedule's spec: %+v", d.Schedule.Spec)
	}
	if err := schedule.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var planned e2eRound
	eventually(t, 30*time.Second, "the scheduled round planned", func() bool {
		var list struct{ Items []e2eRound }
		s.call("GET", "/v1/rounds", "dev-supervisor", nil).Expect(t, 200, &list)
		if len(list.Items) == 1 {
			planned = list.Items[0]
		}
		return len(list.Items) == 1
	})
	if planned.PlannedBy != "system" || planned.Name != "每周农贸市场明查" || len(planned.Sites) != 2 {
		t.Fatalf("planned %+v", planned)
	}
	eventually(t, 30*time.Second, "its ladder at level 3", func() bool { return s.round(planned.ID).EscalationLevel == 3 })
}

// areasBlock draws the test city: two areas around the places the tests
// use.
const areasBlock = `areas:
  - id: old-town
    name: {zh: 老城区, en: Old town}
    outline: {type: Polygon, coordinates: [[[111.20, 39.84], [111.26, 39.84], [111.26, 39.89], [111.20, 39.89], [111.20, 39.84]]]}
  - id: riverside
    name: {zh: 滨河片区, en: Riverside}
    outline: {type: Polygon, coordinates: [[[111.10, 39.84], [111.20, 39.84], [111.20, 39.89], [111.10, 39.89], [111.10, 39.84]]]}
`

// The map in a browser: a case's escalation shows on it without a
// reload, within two seconds of its time; the map passes axe.
func TestMapInABrowser(t *testing.T) {
	c := newChrome(t)
	s := newStack(t, browserPolicy+marketType+areasBlock)
	s.start("serve")
	s.registerMarkets("m-1")
	var opened struct {
		ID        string `json:"id"`
		Deadlines struct {
			AcknowledgeBy time.Time `json:"acknowledge_by"`
		} `json:"deadlines"`
	}
	s.call("POST", "/v1/cases", "dev-inspector", map[string]any{"category": "littering", "description": "东关市场门口垃圾",
		"location": map[string]any{"lat": 39.866, "lon": 111.239, "area": "old-town"}}).Expect(t, 201, &opened)
	supervisor := c.person(s.base, "supervisor-1", "supervisor-pw")
	run(t, supervisor, "the map", chromedp.Navigate(s.base+"/map"), chromedp.WaitVisible(chromedp.CSS(`svg.map`)))
	waitFor(t, supervisor, "the case drawn, on time", `document.querySelector('a[data-case="`+opened.ID+`"] circle.case.on-time') !== null`)
	waitFor(t, supervisor, "following the stream", `document.getElementById("live").classList.contains("on")`)
	c.checkA11y(supervisor, "the map")
	// Level 1 is due at the acknowledge deadline (6 s after the open).
	due := opened.Deadlines.AcknowledgeBy
	time.Sleep(time.Until(due))
	deadline := due.Add(2 * time.Second)
	for !get(t, supervisor, "the case's marker", chromedp.Evaluate[bool](`document.querySelector('a[data-case="`+opened.ID+`"] circle.case.level-1') !== null`)) {
		if time.Now().After(deadline) {
			t.Fatalf("the map does not show the escalation two seconds after it was due")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.screenshot(supervisor, "map")
}

// `duban policy check` reads an area's outline from the GeoJSON file the
// policy names, beside the policy, and says a missing one by its line.
func TestPolicyOutlineFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "areas"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "areas", "old-town.geojson"), `{"type": "Polygon", "coordinates": [[[111.20, 39.84], [111.26, 39.84], [111.26, 39.89], [111.20, 39.89], [111.20, 39.84]]]}`)
	policy := shortPolicy + "areas:\n  - id: old-town\n    name: {zh: 老城区, en: Old town}\n    outline: areas/old-town.geojson\n"
	writeFile(t, filepath.Join(dir, "city.yaml"), policy)
	check := func() (string, error) {
		var out strings.Builder
		m := NewMain()
		m.Config.Stdout, m.Config.Stderr = &out, &out
		if err := m.ParseArgs([]string{"policy", "check", filepath.Join(dir, "city.yaml")}, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		err := m.Run(context.Background())
		m.Close()
		return out.String(), err
	}
	if out, err := check(); err != nil || !strings.Contains(out, "1 area") {
		t.Fatalf("policy check: %v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(dir, "areas", "old-town.geojson")); err != nil {
		t.Fatal(err)
	}
	if _, err := check(); err == nil || !strings.Contains(err.Error(), "areas[0].outline: cannot read the outline") {
		t.Fatalf("a missing outline file: %v", err)
	}
}

// A round recorded by a process that stopped before it started the
// round's ladder gets one when a worker starts.
func TestLadderOfARoundLeftWithout(t *testing.T) {
	s := newStack(t, roundsPolicy)
	s.start("migrate")
	store := s.store()
	due := time.Now().Add(3 * time.Second).UTC()
	r := duban.Round{ID: "left-without", Name: "left", Kind: duban.RoundOpen, DueBy: due, Status: duban.RoundStatusOpen, Seed: 1, DrawnFrom: 1,
		Sites: []duban.RoundSite{{Site: "m-1", Type: "market", Inspector: "inspector-1"}}, PlannedBy: "supervisor-1",
		PlannedAt: time.Now().UTC(), Ladder: s.policy.Escalation}
	if _, _, err := store.RecordRound(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	s.start("serve")
	eventually(t, 30*time.Second, "the round's ladder at level 3", func() bool { return s.round(r.ID).EscalationLevel == 3 })
}
