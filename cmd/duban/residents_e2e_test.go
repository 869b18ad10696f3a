package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/testimage"
)

// residentsPolicy is the short policy with littering open to residents: a
// check of 3 seconds, a rating window of 20.
var residentsPolicy = strings.Replace(strings.Replace(shortPolicy, "    unit: sanitation\n", "    unit: sanitation\n    public: true\n", 1),
	"\nescalation:", "\npublic: {check: 3s, rating_window: 20s, bounds: [[39.0, 111.0], [40.0, 112.0]]}\nescalation:", 1)

// residentLoop runs a resident's report through the whole loop on s:
// reported (its check escalated), confirmed, fixed, closed, rated
// 不满意, reopened, fixed, closed, rated 满意. It returns the case's id
// and the follow link's token.
func residentLoop(s *stack) (id, token string) {
	t := s.t
	var rep struct{ Token, Status string }
	s.call("POST", "/v1/public/reports", "", apitest.Form{
		Fields: []string{"category", "littering", "description", "公交站旁垃圾成堆", "lat", "39.865", "lon", "111.238", "phone", "13800138000"},
		Files:  []apitest.File{{Field: "photo", Name: "IMG_1.jpg", Data: testimage.JPEG(testimage.Picture(320, 240), nil)}},
	}).Expect(t, http.StatusCreated, &rep)
	var list struct{ Items []wireCase }
	s.call("GET", "/v1/cases?status=reported", "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d reports await a check", len(list.Items))
	}
	id = list.Items[0].ID
	eventually(t, time.Minute, "the check escalated", func() bool {
		return strings.HasSuffix(types(s.events(id)), "CaseReported DeadlineWarned CaseEscalated CaseEscalated CaseEscalated")
	})
	p := "/v1/cases/" + id
	if c := s.caseOf(s.call("POST", p+"/confirm", "dev-inspector", map[string]any{"note": "属实"}), 200); c.Status != "dispatched" {
		t.Fatalf("confirmed: %s", c.Status)
	}
	s.caseOf(s.call("POST", p+"/acknowledge", "dev-sanitation", nil), 200)
	s.caseOf(s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "已清扫"}), 200)
	s.caseOf(s.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}), 200)
	rate := "/v1/public/reports/" + rep.Token + "/rating"
	s.call("POST", rate, "", map[string]any{"rating": "dissatisfied", "comment": "还是脏"}).Expect(t, 200, nil)
	if c := s.caseOf(s.call("POST", p+"/reopen", "dev-supervisor", map[string]any{"reason": "居民不满意"}), 200); c.Status != "in_progress" || c.ReworkCount != 1 {
		t.Fatalf("reopened: %s, rework %d", c.Status, c.ReworkCount)
	}
	s.caseOf(s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "再次清扫"}), 200)
	s.caseOf(s.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}), 200)
	s.call("POST", rate, "", map[string]any{"rating": "satisfied"}).Expect(t, 200, nil)
	return id, rep.Token
}

// A resident's report through duban as it runs: Temporal, PostgreSQL,
// the case's workflow kept for the rating window and ended with it.
func TestResidentReportLoop(t *testing.T) {
	s := newStack(t, residentsPolicy)
	s.start("serve")
	id, token := residentLoop(s)
	// The acknowledge and resolve stages of 2 and 30 seconds may warn or
	// escalate on a slow machine: the events are read without them.
	var steps []string
	for _, typ := range strings.Fields(types(s.events(id))[len("CaseReported DeadlineWarned CaseEscalated CaseEscalated CaseEscalated "):]) {
		if typ != "DeadlineWarned" && typ != "CaseEscalated" {
			steps = append(steps, typ)
		}
	}
	want := "ReportConfirmed CaseDispatched CaseAcknowledged CaseResolved VerificationPassed CaseClosed ReporterRated CaseReopened CaseResolved VerificationPassed CaseClosed ReporterRated"
	if got := strings.Join(steps, " "); got != want {
		t.Fatalf("events after the check %s\nwant %s", got, want)
	}
	var f struct {
		Points struct{ Earned, Balance int }
		Rating struct{ Rating string }
	}
	s.call("GET", "/v1/public/reports/"+token, "", nil).Expect(t, 200, &f)
	if f.Points.Earned != 10 || f.Points.Balance != 10 || f.Rating.Rating != "satisfied" {
		t.Fatalf("followed: %+v", f)
	}
	// The unit's scorecard counts the two ratings, one satisfied.
	var card struct {
		Items []struct {
			Unit             string
			Rated, Satisfied int
			SatisfactionRate *float64 `json:"satisfaction_rate"`
		}
	}
	today := time.Now().UTC()
	s.call("GET", "/v1/reports/units?from="+today.Format(time.DateOnly)+"&to="+today.AddDate(0, 0, 1).Format(time.DateOnly), "dev-supervisor", nil).Expect(t, 200, &card)
	for _, r := range card.Items {
		if r.Unit == "sanitation" && (r.Rated != 2 || r.Satisfied != 1 || r.SatisfactionRate == nil || *r.SatisfactionRate != 0.5) {
			t.Fatalf("sanitation's row: %+v", r)
		}
	}
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	running := func() bool {
		d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() == nil
	}
	if !running() {
		t.Fatal("the closed report's workflow ended within its rating window")
	}
	eventually(t, time.Minute, "the workflow ended with the rating window", func() bool { return !running() })
	refused := s.call("POST", "/v1/cases/"+id+"/reopen", "dev-supervisor", map[string]any{"reason": "again"})
	if refused.Status != http.StatusConflict {
		t.Fatalf("a reopening after the window: %d %s", refused.Status, refused.Body)
	}
}
