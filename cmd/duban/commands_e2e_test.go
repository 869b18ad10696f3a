package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/workflows"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// quickPolicy: acknowledge in 1h, resolve in 3s, verify in 1h; a level every
// second from the deadline on.
const quickPolicy = `
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
  - {id: traffic-police, name: {zh: 交警大队, en: Traffic Police}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 1h, resolve: 3s, verify: 1h}
escalation:
  - {at: 0s, level: 1}
  - {at: 1s, level: 2}
  - {at: 2s, level: 3}
principals:
  - {token: dev-inspector, id: inspector-1, role: inspector}
  - {token: dev-sanitation, id: sanitation-1, role: unit, unit: sanitation}
  - {token: dev-traffic-police, id: traffic-police-1, role: unit, unit: traffic-police}
  - {token: dev-supervisor, id: supervisor-1, role: supervisor}
  - {token: dev-admin, id: admin-1, role: admin}
`

func waitUntil(t time.Time) {
	for time.Now().Before(t) {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDisputeAndAssign(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	path := "/v1/cases/" + c.ID
	disputed := s.caseOf(s.call("POST", path+"/dispute", "dev-sanitation", map[string]any{"reason": "the bins belong to the market"}), 200)
	if disputed.Status != "disputed" || disputed.Unit != nil || disputed.Overdue {
		t.Fatalf("disputed %+v", disputed)
	}
	// It has left the unit's view.
	s.call("GET", path, "dev-sanitation", nil).Expect(t, 404, nil)
	var page struct{ Items []wireCase }
	s.call("GET", "/v1/cases", "dev-sanitation", nil).Expect(t, 200, &page)
	if len(page.Items) != 0 {
		t.Fatalf("sanitation still lists %+v", page.Items)
	}
	// Only a supervisor assigns, only to a unit of the policy; the role is
	// refused before the body is judged.
	s.call("POST", path+"/assign", "dev-inspector", map[string]any{"unit": "nobody"}).Expect(t, 403, nil)
	var p wireProblem
	s.call("POST", path+"/assign", "dev-supervisor", map[string]any{"unit": "nobody"}).Expect(t, 400, &p)
	if len(p.Errors) != 1 || p.Errors[0].Field != "unit" {
		t.Fatalf("problem %+v", p)
	}
	before := time.Now()
	assigned := s.caseOf(s.call("POST", path+"/assign", "dev-supervisor", map[string]any{"unit": "traffic-police", "reason": "it is a parking bay"}), 200)
	// Fresh deadlines count from now; on the default policy's business
	// calendar, outside its hours, they fall when the next hours begin, as
	// the first ones did.
	if assigned.Status != "dispatched" || *assigned.Unit != "traffic-police" || assigned.Deadlines.AcknowledgeBy.Before(*c.Deadlines.AcknowledgeBy) {
		t.Fatalf("assigned %+v", assigned)
	}
	if !assigned.Deadlines.ResolveBy.After(before) {
		t.Fatalf("fresh deadlines: %+v", assigned.Deadlines)
	}
	s.caseOf(s.call("POST", path+"/acknowledge", "dev-traffic-police", nil), 200)
	if got := types(s.events(c.ID)); got != "CaseReported CaseDispatched CaseDisputed CaseAssigned CaseDispatched CaseAcknowledged" {
		t.Fatalf("events %s", got)
	}
	// Reassigning to the unit it already has is a conflict.
	s.call("POST", path+"/assign", "dev-supervisor", map[string]any{"unit": "traffic-police"}).Expect(t, 409, nil)
}

// An approved extension moves resolve_by; the case escalates at the new
// deadline and not the old one. A refused one changes nothing.
func TestExtensions(t *testing.T) {
	s := newStack(t, quickPolicy)
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	path := "/v1/cases/" + c.ID
	s.caseOf(s.call("POST", path+"/acknowledge", "dev-sanitation", nil), 200)
	oldDeadline := *c.Deadlines.ResolveBy
	until := oldDeadline.Add(4 * time.Second)

	s.call("POST", path+"/extensions", "dev-sanitation", map[string]any{"until": "next week", "reason": "parts"}).Expect(t, 400, nil)
	s.call("POST", path+"/extensions", "dev-supervisor", map[string]any{"until": until.Format(time.RFC3339Nano), "reason": "parts"}).Expect(t, 403, nil)
	var asked struct {
		wireCase
		Extensions []struct {
			N      int       `json:"n"`
			Until  time.Time `json:"until"`
			Reason string    `json:"reason"`
			Status string    `json:"status"`
		} `json:"extensions"`
	}
	s.call("POST", path+"/extensions", "dev-sanitation", map[string]any{"until": until.Format(time.RFC3339Nano), "reason": "the paving stones are on order"}).Expect(t, 200, &asked)
	if len(asked.Extensions) != 1 || asked.Extensions[0].N != 1 || asked.Extensions[0].Status != "pending" || !asked.Extensions[0].Until.Equal(until) {
		t.Fatalf("extensions %+v", asked.Extensions)
	}
	s.call("POST", path+"/extensions", "dev-sanitation", map[string]any{"until": until.Format(time.RFC3339Nano), "reason": "again"}).Expect(t, 409, nil)
	s.call("POST", path+"/extensions/2/decision", "dev-supervisor", map[string]any{"approved": true}).Expect(t, 404, nil)
	s.call("POST", path+"/extensions/1/decision", "dev-sanitation", map[string]any{"approved": true}).Expect(t, 403, nil)
	s.call("POST", path+"/extensions/1/decision", "dev-supervisor", map[string]any{}).Expect(t, 400, nil)
	approved := s.caseOf(s.call("POST", path+"/extensions/1/decision", "dev-supervisor", map[string]any{"approved": true, "note": "once"}), 200)
	if !approved.Deadlines.ResolveBy.Equal(until) {
		t.Fatalf("resolve by %v, want %v", approved.Deadlines.ResolveBy, until)
	}
	s.call("POST", path+"/extensions/1/decision", "dev-supervisor", map[string]any{"approved": false}).Expect(t, 409, nil)

	waitUntil(oldDeadline.Add(500 * time.Millisecond))
	if got := s.caseOf(s.call("GET", path, "dev-supervisor", nil), 200); got.Overdue || got.EscalationLevel != 0 {
		t.Fatalf("past the old deadline: overdue=%v level=%d", got.Overdue, got.EscalationLevel)
	}
	waitUntil(until)
	if got := s.caseOf(s.call("GET", path, "dev-supervisor", nil), 200); !got.Overdue || got.EscalationLevel < 1 {
		t.Fatalf("at the new deadline: overdue=%v level=%d", got.Overdue, got.EscalationLevel)
	}
	var events []wireEvent
	eventually(t, 30*time.Second, "level 3 at the new deadline", func() bool {
		events = s.events(c.ID)
		return strings.Count(types(events), "CaseEscalated") == 3
	})
	for _, e := range events {
		if e.Type == "CaseEscalated" {
			if d, _ := time.Parse(time.RFC3339Nano, e.Data["deadline"].(string)); !d.Equal(until) {
				t.Fatalf("escalated against deadline %v, want %v", d, until)
			}
		}
	}

	// A refused request leaves the deadline as it was.
	c2 := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	p2 := "/v1/cases/" + c2.ID
	s.caseOf(s.call("POST", p2+"/extensions", "dev-sanitation", map[string]any{"until": time.Now().Add(time.Hour).Format(time.RFC3339), "reason": "rain"}), 200)
	refused := s.caseOf(s.call("POST", p2+"/extensions/1/decision", "dev-admin", map[string]any{"approved": false, "note": "it is not raining"}), 200)
	if !refused.Deadlines.ResolveBy.Equal(*c2.Deadlines.ResolveBy) || refused.Deadlines.AcknowledgeBy == nil {
		t.Fatalf("refused: %+v", refused.Deadlines)
	}
}

// A suspended case does not escalate; when it resumes, at its until, its
// deadlines have moved on by exactly the suspended time.
func TestSuspendAndResume(t *testing.T) {
	s := newStack(t, shortPolicy) // acknowledge in 2s, counted 24x7
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	path := "/v1/cases/" + c.ID
	until := time.Now().Add(3 * time.Second).UTC()
	s.call("POST", path+"/suspend", "dev-sanitation", map[string]any{"reason": "rain"}).Expect(t, 403, nil)
	s.call("POST", path+"/suspend", "dev-supervisor", map[string]any{"reason": "rain", "until": "soon"}).Expect(t, 400, nil)
	suspended := s.caseOf(s.call("POST", path+"/suspend", "dev-supervisor", map[string]any{"reason": "heavy rain: no sweeping", "until": until.Format(time.RFC3339Nano)}), 200)
	if suspended.Status != "suspended" {
		t.Fatalf("suspended %+v", suspended)
	}
	s.call("POST", path+"/acknowledge", "dev-sanitation", nil).Expect(t, 409, nil)
	// Past the acknowledge deadline, the suspended case is not overdue.
	waitUntil(c.Deadlines.AcknowledgeBy.Add(200 * time.Millisecond))
	if got := s.caseOf(s.call("GET", path, "dev-supervisor", nil), 200); got.Overdue || got.EscalationLevel != 0 {
		t.Fatalf("suspended but overdue=%v level=%d", got.Overdue, got.EscalationLevel)
	}
	var esc struct{ Items []wireCase }
	s.call("GET", "/v1/escalations", "dev-supervisor", nil).Expect(t, 200, &esc)
	if len(esc.Items) != 0 {
		t.Fatalf("a suspended case is on the escalation board: %+v", esc.Items)
	}
	var resumed wireCase
	eventually(t, 30*time.Second, "the system resumes the case", func() bool {
		resumed = s.caseOf(s.call("GET", path, "dev-supervisor", nil), 200)
		return resumed.Status == "dispatched"
	})
	events := s.events(c.ID)
	var suspendedAt time.Time
	for _, e := range events {
		if e.Type == "CaseSuspended" {
			suspendedAt = e.OccurredAt
		}
		if e.Type == "CaseEscalated" || e.Type == "DeadlineWarned" {
			if e.OccurredAt.Before(until) {
				t.Fatalf("escalated while suspended: %+v", e)
			}
		}
	}
	paused := until.Truncate(time.Millisecond).Sub(suspendedAt)
	if got := resumed.Deadlines.AcknowledgeBy.Sub(*c.Deadlines.AcknowledgeBy); got != paused {
		t.Fatalf("acknowledge_by moved by %s, suspended %s", got, paused)
	}
	if got := resumed.Deadlines.ResolveBy.Sub(*c.Deadlines.ResolveBy); got != paused {
		t.Fatalf("resolve_by moved by %s, suspended %s", got, paused)
	}
	last := events[len(events)-1]
	if last.Type != "CaseResumed" || last.Actor.ID != "system" {
		t.Fatalf("last event %+v", last)
	}
	// Resuming by hand.
	s.caseOf(s.call("POST", path+"/suspend", "dev-admin", map[string]any{"reason": "waiting for the gas company"}), 200)
	back := s.caseOf(s.call("POST", path+"/resume", "dev-supervisor", nil), 200)
	if back.Status != "dispatched" {
		t.Fatalf("resumed by hand: %+v", back)
	}
	s.call("POST", path+"/resume", "dev-supervisor", nil).Expect(t, 409, nil)
}

func TestUrgeAndCancel(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	original := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	dup := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector-2", littering), 201)
	op := "/v1/cases/" + original.ID

	s.call("POST", op+"/urge", "dev-inspector", map[string]any{"note": "hurry"}).Expect(t, 403, nil)
	s.call("POST", op+"/urge", "dev-supervisor", map[string]any{}).Expect(t, 400, nil)
	s.caseOf(s.call("POST", op+"/urge", "dev-supervisor", map[string]any{"note": "the inspection team comes at noon"}), 200)
	var urged struct {
		wireCase
		UrgeCount   int        `json:"urge_count"`
		LastUrgedAt *time.Time `json:"last_urged_at"`
	}
	s.call("POST", op+"/urge", "dev-admin", map[string]any{"note": "now"}).Expect(t, 200, &urged)
	if urged.UrgeCount != 2 || urged.LastUrgedAt == nil {
		t.Fatalf("urged %+v", urged)
	}
	events := s.events(original.ID)
	if n := events[len(events)-1]; n.Type != "CaseUrged" || n.Data["unit"] != "sanitation" || n.Data["urge_count"] != float64(2) {
		t.Fatalf("the unit's notification %+v", n)
	}

	dp := "/v1/cases/" + dup.ID
	s.call("POST", dp+"/cancel", "dev-sanitation", map[string]any{"reason": "dup"}).Expect(t, 403, nil)
	s.call("POST", dp+"/cancel", "dev-supervisor", map[string]any{"reason": "dup", "duplicate_of": "0190d4a4-0000-7000-8000-000000000000"}).Expect(t, 400, nil)
	s.call("POST", dp+"/cancel", "dev-supervisor", map[string]any{"reason": "dup", "duplicate_of": dup.ID}).Expect(t, 400, nil)
	var cancelled struct {
		wireCase
		DuplicateOf string `json:"duplicate_of"`
	}
	s.call("POST", dp+"/cancel", "dev-supervisor", map[string]any{"reason": "the same bags, reported twice", "duplicate_of": original.ID}).Expect(t, 200, &cancelled)
	if cancelled.Status != "cancelled" || cancelled.DuplicateOf != original.ID {
		t.Fatalf("cancelled %+v", cancelled)
	}
	// Both cases show the link.
	var survivor struct {
		wireCase
		Duplicates []string `json:"duplicates"`
	}
	s.call("GET", op, "dev-supervisor", nil).Expect(t, 200, &survivor)
	if fmt.Sprint(survivor.Duplicates) != fmt.Sprint([]string{dup.ID}) {
		t.Fatalf("duplicates %v", survivor.Duplicates)
	}
	s.call("POST", dp+"/urge", "dev-supervisor", map[string]any{"note": "x"}).Expect(t, 409, nil)
	// A duplicate is merged into a case that stays open.
	third := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	s.call("POST", "/v1/cases/"+third.ID+"/cancel", "dev-supervisor", map[string]any{"reason": "dup", "duplicate_of": dup.ID}).Expect(t, 409, nil)
}

// Deadlines in the API's answers are counted on the policy's business
// calendar: today is a holiday and tomorrow, though not a working weekday,
// is a make-up working day, so counting starts tomorrow at midnight; the
// urgent SLA is counted 24x7.
func TestBusinessCalendarThroughTheAPI(t *testing.T) {
	now := time.Now().UTC()
	if midnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour); midnight.Sub(now) < 2*time.Minute {
		waitUntil(midnight.Add(time.Second)) // the test's "today" must not change under it
		now = time.Now().UTC()
	}
	today := now.Format(time.DateOnly)
	tomorrow := now.Add(24 * time.Hour)
	var days []string
	for d := time.Sunday; d <= time.Saturday; d++ {
		if d != tomorrow.Weekday() {
			days = append(days, strings.ToLower(d.String()[:3]))
		}
	}
	policy := fmt.Sprintf(`
timezone: UTC
calendar: business
business_hours: {days: [%s], hours: ["00:00-24:00"]}
holidays: [%q]
workdays: [%q]
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 30m, resolve: 4h, verify: 1h}
      urgent: {acknowledge: 10m, resolve: 2h, verify: 1h, calendar: 24x7}
principals:
  - {token: dev-inspector, id: inspector-1, role: inspector}
`, strings.Join(days, ", "), today, tomorrow.Format(time.DateOnly))
	s := newStack(t, policy)
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	start := tomorrow.Truncate(24 * time.Hour)
	if !c.Deadlines.AcknowledgeBy.Equal(start.Add(30*time.Minute)) || !c.Deadlines.ResolveBy.Equal(start.Add(4*time.Hour)) {
		t.Fatalf("deadlines %v and %v, want %v and %v", c.Deadlines.AcknowledgeBy, c.Deadlines.ResolveBy, start.Add(30*time.Minute), start.Add(4*time.Hour))
	}
	urgent := map[string]any{"category": "littering", "severity": "urgent", "description": "glass on the playground",
		"location": map[string]any{"lat": 39.9, "lon": 116.4}}
	var u struct {
		wireCase
		OpenedAt time.Time `json:"opened_at"`
	}
	s.call("POST", "/v1/cases", "dev-inspector", urgent).Expect(t, 201, &u)
	if !u.Deadlines.ResolveBy.Equal(u.OpenedAt.Add(2 * time.Hour)) {
		t.Fatalf("urgent resolve by %v, opened %v", u.Deadlines.ResolveBy, u.OpenedAt)
	}
	if u.PolicyVersion != s.policy.Version || duban.DefaultPolicy().Version == u.PolicyVersion {
		t.Fatalf("policy version %q", u.PolicyVersion)
	}
}

// The Temporal server indexes each case workflow by its search attributes,
// which the worker registered: an operator finds the overdue cases of a
// unit in the Temporal Web UI, and nothing people wrote is among them.
func TestCasesAreSearchableInTemporal(t *testing.T) {
	s := newStack(t, shortPolicy) // acknowledge in 2s
	s.start("serve")
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Namespace: "default", Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	found := func(query string) func() bool {
		return func() bool {
			r, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
				Query: fmt.Sprintf("WorkflowId = %q AND %s", c.ID, query),
			})
			return err == nil && len(r.GetExecutions()) == 1
		}
	}
	eventually(t, 10*time.Second, "the case found dispatched and not overdue",
		found(`CaseStatus = "dispatched" AND CaseUnit = "sanitation" AND CaseCategory = "littering" AND CaseOverdue = false`))
	eventually(t, 10*time.Second, "the case found overdue", found(`CaseStatus = "dispatched" AND CaseOverdue = true`))
	s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil), 200)
	eventually(t, 10*time.Second, "the acknowledged case found in progress, not overdue", found(`CaseStatus = "in_progress" AND CaseOverdue = false`))
	d, err := tc.DescribeWorkflowExecution(context.Background(), c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
		if _, ours := workflows.SearchAttributes[name]; !ours && strings.HasPrefix(name, "Case") {
			t.Errorf("search attribute %s is not one of duban's", name)
		}
		if strings.Contains(string(p.GetData()), "bags") {
			t.Errorf("search attribute %s holds the description: %s", name, p.GetData())
		}
	}
}
