package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/workflows"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// recordEnv names the directory TestRecordHistories writes to. Recording is
// done by hand, before a change to CaseWorkflow is released:
//
//	DUBAN_RECORD_HISTORIES=$PWD/workflows/testdata/histories go test ./cmd/duban -run TestRecordHistories
//
// The workflows package replays every recorded history against the current
// code, so a change that would break a case already running fails CI.
const recordEnv = "DUBAN_RECORD_HISTORIES"

// recordPrefix names the histories after the workflow revision they were
// recorded with (workflows/revisions.go): rev3-closed-after-rework-run1.json.
// The replay test fails until the current revision has some.
var recordPrefix = fmt.Sprintf("rev%d", workflows.Revision)

func TestRecordHistories(t *testing.T) {
	dir := os.Getenv(recordEnv)
	if dir == "" {
		t.Skip("set " + recordEnv + " to record workflow histories")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Namespace: "default", Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	scenarios := map[string]func(s *stack) string{
		"closed-after-rework": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			p := "/v1/cases/" + c.ID
			s.caseOf(s.call("POST", p+"/acknowledge", "dev-sanitation", nil), 200)
			s.caseOf(s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}), 200)
			s.caseOf(s.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": false, "note": "not yet"}), 200)
			s.caseOf(s.call("POST", p+"/comments", "dev-supervisor", map[string]any{"text": "please hurry"}), 200)
			s.caseOf(s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "swept again"}), 200)
			s.caseOf(s.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}), 200)
			return c.ID
		},
		"escalated-then-acknowledged": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			eventually(s.t, time.Minute, "level 3", func() bool {
				return strings.HasSuffix(types(s.events(c.ID)), "CaseEscalated CaseEscalated CaseEscalated")
			})
			// On the version the unit saw at the open: duban's own steps
			// since do not make it stale (revision ownSteps on).
			s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil, "If-Match", fmt.Sprintf(`"%d"`, c.Version)), 200)
			s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/resolve", "dev-sanitation", map[string]any{"note": "done"}), 200)
			eventually(s.t, time.Minute, "verify stage level 1", func() bool {
				return strings.HasSuffix(types(s.events(c.ID)), "DeadlineWarned CaseEscalated")
			})
			return c.ID
		},
		"continued-as-new": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			for i := range 12 {
				s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-inspector", map[string]any{"text": fmt.Sprint("note ", i)}), 200)
			}
			s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil), 200)
			return c.ID
		},
		"suspended-until-then-escalated": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			until := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
			s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/suspend", "dev-supervisor", map[string]any{"reason": "rain", "until": until}), 200)
			eventually(s.t, time.Minute, "resumed and escalated", func() bool {
				return strings.HasSuffix(types(s.events(c.ID)), "CaseResumed DeadlineWarned CaseEscalated CaseEscalated CaseEscalated")
			})
			s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/suspend", "dev-supervisor", map[string]any{"reason": "parts"}), 200)
			s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/resume", "dev-admin", map[string]any{"note": "parts came"}), 200)
			return c.ID
		},
		"extension-approved-then-escalated": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			p := "/v1/cases/" + c.ID
			s.caseOf(s.call("POST", p+"/acknowledge", "dev-sanitation", nil), 200)
			until := c.Deadlines.ResolveBy.Add(time.Second).Format(time.RFC3339Nano)
			s.caseOf(s.call("POST", p+"/extensions", "dev-sanitation", map[string]any{"until": until, "reason": "parts"}), 200)
			s.caseOf(s.call("POST", p+"/extensions/1/decision", "dev-supervisor", map[string]any{"approved": true}), 200)
			eventually(s.t, time.Minute, "escalated at the new deadline", func() bool {
				return strings.HasSuffix(types(s.events(c.ID)), "CaseEscalated CaseEscalated CaseEscalated")
			})
			return c.ID
		},
		"disputed-assigned-urged-cancelled": func(s *stack) string {
			original := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			p := "/v1/cases/" + c.ID
			s.caseOf(s.call("POST", p+"/dispute", "dev-sanitation", map[string]any{"reason": "not ours"}), 200)
			s.caseOf(s.call("POST", p+"/assign", "dev-supervisor", map[string]any{"unit": "traffic-police"}), 200)
			s.caseOf(s.call("POST", p+"/urge", "dev-supervisor", map[string]any{"note": "today"}), 200)
			s.caseOf(s.call("POST", p+"/cancel", "dev-supervisor", map[string]any{"reason": "reported twice", "duplicate_of": original.ID}), 200)
			return c.ID
		},
		"disputed-escalated-then-assigned": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			p := "/v1/cases/" + c.ID
			s.caseOf(s.call("POST", p+"/dispute", "dev-sanitation", map[string]any{"reason": "the market's"}), 200)
			eventually(s.t, time.Minute, "the assign stage at level 3", func() bool {
				return strings.HasSuffix(types(s.events(c.ID)), "CaseDisputed DeadlineWarned CaseEscalated CaseEscalated CaseEscalated")
			})
			s.caseOf(s.call("POST", p+"/assign", "dev-supervisor", map[string]any{"unit": "sanitation", "reason": "it is theirs"}), 200)
			return c.ID
		},
		// Level 1 two seconds after the deadline (policy below): the run
		// wakes at the deadline to set CaseOverdue, with nothing to record.
		"overdue-then-escalated": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			eventually(s.t, time.Minute, "level 3", func() bool {
				return strings.HasSuffix(types(s.events(c.ID)), "CaseEscalated CaseEscalated CaseEscalated")
			})
			s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil), 200)
			return c.ID
		},
		"listed-then-delisted": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
			p := "/v1/cases/" + c.ID
			s.caseOf(s.call("POST", p+"/list", "dev-supervisor", map[string]any{"reason": "the third time this month"}), 200)
			s.caseOf(s.call("POST", p+"/acknowledge", "dev-sanitation", nil), 200)
			s.caseOf(s.call("POST", p+"/delist", "dev-admin", map[string]any{"reason": "a plan is agreed"}), 200)
			return c.ID
		},
		// A resident's report, checked late, rated, reopened, rated again;
		// its run ends with the rating window.
		"resident-reopened-then-rated": func(s *stack) string {
			id, _ := residentLoop(s)
			eventually(s.t, time.Minute, "the rating window over", func() bool {
				d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
				return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
			})
			return id
		},
		// The round workflow (not revisioned: round-*.json): a round
		// planned through the API, its ladder run to its end with a site
		// left; and one the policy schedules, triggered on its Schedule.
		"round-escalated": func(s *stack) string {
			s.registerMarkets("m-1", "m-2")
			var r e2eRound
			s.call("POST", "/v1/rounds", "dev-supervisor", map[string]any{"name": "临时明查", "inspectors": []string{"inspector-1"},
				"due_by": time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)}).Expect(s.t, 201, &r)
			s.call("POST", "/v1/rounds/"+r.ID+"/sites/m-1/inspection", "dev-inspector", map[string]any{
				"at": time.Now().UTC().Format(time.RFC3339Nano), "location": map[string]any{"lat": 39.8651, "lon": 111.2381},
				"items": []map[string]any{{"item": "market-clean", "result": "fail"}, {"item": "market-bins", "result": "pass"}},
			}).Expect(s.t, 201, nil)
			id := workflows.RoundWorkflowID(r.ID)
			eventually(s.t, time.Minute, "the ladder over", func() bool {
				d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
				return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
			})
			return id
		},
		"round-scheduled": func(s *stack) string {
			s.registerMarkets("m-1")
			schedule := tc.ScheduleClient().GetHandle(context.Background(), workflows.RoundScheduleID(s.queue, "weekly-markets"))
			if err := schedule.Trigger(context.Background(), client.ScheduleTriggerOptions{}); err != nil {
				s.t.Fatal(err)
			}
			var id string
			eventually(s.t, time.Minute, "the scheduled round's ladder over", func() bool {
				d, err := schedule.Describe(context.Background())
				if err != nil || len(d.Info.RecentActions) == 0 {
					return false
				}
				id = d.Info.RecentActions[0].StartWorkflowResult.WorkflowID
				w, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
				return err == nil && w.GetWorkflowExecutionInfo().GetCloseTime() != nil
			})
			return id
		},
		"unrouted": func(s *stack) string {
			c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", map[string]any{
				"category": "orphan", "description": "a sign nobody owns", "location": map[string]any{"lat": 1, "lon": 2},
			}), 201)
			s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-supervisor", map[string]any{"text": "whose is this?"}), 200)
			return c.ID
		},
		// The bulletin workflow (not revisioned: bulletin-*.json) through one
		// period, of three seconds, and on to the next.
		"bulletin-published": func(s *stack) string {
			id := "record-" + workflows.BulletinWorkflowID(s.queue)
			period := duban.Period{Name: "2026-09", From: time.Now().UTC().Add(-time.Hour), To: time.Now().UTC().Add(2 * time.Second)}
			if _, err := tc.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: s.queue},
				workflows.BulletinWorkflow, workflows.BulletinInput{Next: &period, Grace: time.Second}); err != nil {
				s.t.Fatal(err)
			}
			eventually(s.t, time.Minute, "the bulletin published, and the next period waited for", func() bool {
				d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
				return s.call("GET", "/v1/reports/bulletins/2026-09", "dev-supervisor", nil).Status == 200 &&
					err == nil && len(d.GetPendingActivities()) == 0 && d.GetWorkflowExecutionInfo().GetHistoryLength() > 15
			})
			return id
		},
	}
	for name, run := range scenarios {
		t.Run(name, func(t *testing.T) {
			policy := strings.Replace(shortPolicy, "\nescalation:", recordOrphan+"assign: 2s\nescalation:", 1)
			if strings.HasPrefix(name, "round-") {
				policy = roundsPolicy
			}
			if strings.HasPrefix(name, "resident-") {
				policy = residentsPolicy
			}
			if name == "overdue-then-escalated" {
				was := policy
				policy = strings.Replace(policy, "{at: 0s, level: 1}\n  - {at: 1s, level: 2}\n  - {at: 2s, level: 3}",
					"{at: 2s, level: 1}\n  - {at: 3s, level: 2}\n  - {at: 4s, level: 3}", 1)
				if policy == was {
					t.Fatal("the test policy's ladder is not the one this scenario moves")
				}
			}
			s := newStack(t, policy)
			if name == "continued-as-new" {
				s.historyLimit = 30
			}
			s.start("serve")
			id := run(s)
			for i, h := range runs(t, tc, id) {
				b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(dir, fmt.Sprintf("%s-%s-run%d.json", recordPrefix, name, i+1))
				if strings.HasPrefix(name, "bulletin-") || strings.HasPrefix(name, "round-") {
					file = filepath.Join(dir, fmt.Sprintf("%s-run%d.json", name, i+1))
				}
				if err := os.WriteFile(file, b, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d events)", file, len(h.Events))
			}
		})
	}
}

// recordOrphan adds a category no unit handles, for the unrouted scenario.
const recordOrphan = `
  - code: orphan
    name: {zh: 无主, en: Nobody's}
    sla:
      normal: {acknowledge: 1h, resolve: 2h, verify: 1h}
`

// runs returns the histories of every run of workflow id, first to last.
func runs(t *testing.T, tc client.Client, id string) []*historypb.History {
	t.Helper()
	ctx := context.Background()
	d, err := tc.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	var out []*historypb.History
	for runID := d.GetWorkflowExecutionInfo().GetFirstRunId(); runID != ""; {
		h := &historypb.History{}
		it := tc.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			h.Events = append(h.Events, e)
		}
		out = append(out, h)
		runID = ""
		if last := h.Events[len(h.Events)-1]; last.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
			runID = last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		}
	}
	return out
}
