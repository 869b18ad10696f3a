package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/duban/duban"
	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/postgres"
	"github.com/duban/duban/workflows"
)

// store opens the stack's database; it is closed when the test ends.
func (s *stack) store() *postgres.Store {
	s.t.Helper()
	store, err := postgres.Open(context.Background(), s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(store.Close)
	return store
}

// publish keeps a bulletin of b's period with the rows counted now.
func (s *stack) publish(b duban.Bulletin) {
	s.t.Helper()
	ctx := context.Background()
	store := s.store()
	counted, err := store.UnitCounts(ctx, duban.ReportQuery{Period: b.Period, Now: b.To})
	if err != nil {
		s.t.Fatal(err)
	}
	b.Rows = s.policy.Scorecard(counted, "")
	if _, err := store.PublishBulletin(ctx, b); err != nil {
		s.t.Fatal(err)
	}
}

// startWorker runs `duban worker` on the stack as a child process, which
// the test may kill.
func (s *stack) startWorker(policyFile string) *exec.Cmd {
	s.t.Helper()
	cmd := exec.Command(os.Args[0], "worker", "--temporal", temporalAddr, "--task-queue", s.queue,
		"--policy", policyFile, "--log-level", "warn", "--log-format", "text")
	cmd.Env = append(os.Environ(), reexecEnv+"=1", "DATABASE_URL="+s.dbURL)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	return cmd
}

// honouredPolicy puts every unit scored under 100 on the black list, and
// the best on the red one, unless it is black.
const honouredPolicy = shortPolicy + `
honours:
  red_list: {top: 1}
  black_list: {below: 100}
sanctions:
  - {when: black_list, times: 2, within: 3, action: yellow_card}
  - {when: black_list, times: 1, action: notice}
`

// A period ends while its only worker is killed (-9): the bulletin is
// published once the next worker is up, with the rows as they stood at
// the period's end, not with what was done after it, with one set of
// lists and sanctions, and none of it changes afterwards.
func TestBulletinPublishedOnceAcrossAKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a worker across a period's end")
	}
	s := newStack(t, honouredPolicy)
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(honouredPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Namespace: "default", Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	// The bulletin workflow of the stack's task queue, its first period
	// ending 25 seconds from now, started before any worker (whose start
	// then finds it running).
	start := time.Now().UTC().Truncate(time.Second)
	period := duban.Period{Name: "2026-09", From: start.Add(-time.Hour), To: start.Add(25 * time.Second)}
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.BulletinWorkflowID(s.queue), TaskQueue: s.queue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}, workflows.BulletinWorkflow, workflows.BulletinInput{Next: &period, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.start("api")
	first := s.startWorker(policyFile)

	// Before the end: one case handled, one acknowledged. Run alone, this
	// test's worker is the first to add the search attributes: the API
	// refuses commands (503) until its next check of Temporal finds them.
	var opened apitest.Response
	eventually(t, 30*time.Second, "the API taking commands", func() bool {
		opened = s.call("POST", "/v1/cases", "dev-inspector", littering)
		return opened.Status != http.StatusServiceUnavailable
	})
	handled := s.caseOf(opened, 201)
	s.caseOf(s.call("POST", "/v1/cases/"+handled.ID+"/acknowledge", "dev-sanitation", nil), 200)
	s.caseOf(s.call("POST", "/v1/cases/"+handled.ID+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}), 200)
	// Reworked once: under 100, on the black list.
	s.caseOf(s.call("POST", "/v1/cases/"+handled.ID+"/verify", "dev-inspector", map[string]any{"passed": false, "note": "still there"}), 200)
	s.caseOf(s.call("POST", "/v1/cases/"+handled.ID+"/resolve", "dev-sanitation", map[string]any{"note": "swept again"}), 200)
	s.caseOf(s.call("POST", "/v1/cases/"+handled.ID+"/verify", "dev-inspector", map[string]any{"passed": true}), 200)
	late := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	s.caseOf(s.call("POST", "/v1/cases/"+late.ID+"/acknowledge", "dev-sanitation", nil), 200)
	if time.Now().After(period.To.Add(-2 * time.Second)) {
		t.Fatal("the cases took too long: the period ended before the worker could be killed")
	}

	for time.Now().Before(period.To.Add(-time.Second)) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	for time.Now().Before(period.To.Add(2 * time.Second)) {
		time.Sleep(20 * time.Millisecond)
	}
	var list struct{ Items []duban.Bulletin }
	s.call("GET", "/v1/reports/bulletins", "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("published with no worker running: %+v", list.Items)
	}

	// The next worker: the timer that fired while no worker ran is handled
	// now. The late case's resolution, after the end, is not in the bulletin.
	s.startWorker(policyFile)
	s.caseOf(s.call("POST", "/v1/cases/"+late.ID+"/resolve", "dev-sanitation", map[string]any{"note": "swept, late"}), 200)
	var b duban.Bulletin
	eventually(t, 60*time.Second, "the bulletin published", func() bool {
		return s.call("GET", "/v1/reports/bulletins/2026-09", "dev-supervisor", nil).Status == 200
	})
	s.call("GET", "/v1/reports/bulletins/2026-09", "dev-supervisor", nil).Expect(t, 200, &b)
	if !b.From.Equal(period.From) || !b.To.Equal(period.To) || b.PublishedAt.Before(period.To) || len(b.Rows) != 2 {
		t.Fatalf("bulletin %+v", b)
	}
	if r := b.Rows[0]; r.Unit != "sanitation" || r.Dispatched != 2 || r.Handled != 2 || r.Rework != 1 || r.Due != 2 || r.Rank == nil || *r.Rank != 1 {
		t.Fatalf("sanitation's row as published: %+v", r)
	}
	// Sanitation, the only unit scored, ranks first but is under the
	// black list's line: black, not red; one notice, imposed as the
	// bulletin was published, by one event.
	if len(b.RedList.Units) != 0 || len(b.BlackList.Units) != 1 || b.BlackList.Units[0].Unit != "sanitation" || len(b.Sanctions) != 1 {
		t.Fatalf("the lists %+v %+v and sanctions %+v", b.RedList, b.BlackList, b.Sanctions)
	}
	if sn := b.Sanctions[0]; sn.ID != "2026-09.sanitation" || sn.Action != duban.ActionNotice || sn.RuleN != 2 ||
		!sn.Imposed.Equal(b.PublishedAt) || sn.Status != duban.SanctionOpen {
		t.Fatalf("the sanction %+v", sn)
	}
	// The same rows the store counts for the period now, at its end.
	store := s.store()
	counted, err := store.UnitCounts(ctx, duban.ReportQuery{Period: period, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := jsonOf(t, b.Rows), jsonOf(t, s.policy.Scorecard(counted, "")); got != want {
		t.Fatalf("published:\n%s\ncounted now for the period:\n%s", got, want)
	}

	// Published once: the workflow waits for the next period, and the
	// bulletin is as it was.
	eventually(t, 30*time.Second, "the workflow waiting for the next period", func() bool {
		d, err := tc.DescribeWorkflowExecution(ctx, run.GetID(), "")
		return err == nil && len(d.GetPendingActivities()) == 0 && d.GetWorkflowExecutionInfo().GetHistoryLength() > 10
	})
	var again duban.Bulletin
	s.call("GET", "/v1/reports/bulletins/2026-09", "dev-supervisor", nil).Expect(t, 200, &again)
	s.call("GET", "/v1/reports/bulletins", "dev-supervisor", nil).Expect(t, 200, &list)
	if jsonOf(t, again) != jsonOf(t, b) || len(list.Items) != 1 {
		t.Fatalf("the bulletin changed: %+v, was %+v; %d bulletins", again, b, len(list.Items))
	}
	if err := store.Exec(ctx, `UPDATE bulletins SET rows = '[]'`); err == nil || !strings.Contains(err.Error(), "a published bulletin does not change") {
		t.Fatalf("a bulletin rewritten by hand: %v", err)
	}
	var events struct{ Items []duban.SanctionEvent }
	s.call("GET", "/v1/sanctions/2026-09.sanitation/events", "dev-supervisor", nil).Expect(t, 200, &events)
	if len(events.Items) != 1 || events.Items[0].Type != duban.EventSanctionImposed {
		t.Fatalf("the sanction's events: %+v", events.Items)
	}
	if err := store.Exec(ctx, `UPDATE sanction_events SET type = 'SanctionDone'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("a sanction's event rewritten by hand: %v", err)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// `duban report` prints the table the API serves, and with --csv the
// API's CSV byte for byte.
func TestReportCommand(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	for range 2 {
		c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
		s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil), 200)
	}
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil), 200)
	s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}), 200)
	s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/verify", "dev-inspector", map[string]any{"passed": true}), 200)
	loc, _ := time.LoadLocation(s.policy.TimeZone)
	today := time.Now().In(loc)
	from, to := today.Format(time.DateOnly), today.AddDate(0, 0, 1).Format(time.DateOnly)

	report := func(args ...string) (string, error) {
		var out bytes.Buffer
		m := NewMain()
		m.Config.Stdout, m.Config.Stderr = &out, io.Discard
		if err := m.ParseArgs(append([]string{"report"}, args...), func(k string) string {
			if k == "DATABASE_URL" {
				return s.dbURL
			}
			return ""
		}); err != nil {
			return "", err
		}
		err := m.Run(context.Background())
		m.Close()
		return out.String(), err
	}
	csvOut, err := report("--from", from, "--to", to, "--csv")
	if err != nil {
		t.Fatal(err)
	}
	api := s.call("GET", "/v1/reports/units?from="+from+"&to="+to, "dev-admin", nil, "Accept", "text/csv")
	if api.Status != 200 || string(api.Body) != csvOut {
		t.Fatalf("duban report --csv:\n%s\nthe API:\n%s", csvOut, api.Body)
	}
	table, err := report("--from", from, "--to", to)
	if err != nil {
		t.Fatal(err)
	}
	// sanitation: 3 dispatched, 1 handled on time and closed, nothing
	// overdue yet: 1 due; ranked first, as the only unit with something
	// due. The columns: rank, unit, score, due, handled, handled_on_time,
	// overdue_open, handling_rate, on_time_rate, rework_rate,
	// extension_rate, closed, urges, escalations.
	lines := map[string]string{}
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > 2 {
			lines[f[1]] = strings.Join(f, " ")
		}
	}
	if got := lines["sanitation"]; got != "1 sanitation 100 1 1 1 0 1 1 0 0 1 0 0/0/0" {
		t.Errorf("sanitation's line %q in\n%s", got, table)
	}
	if got := lines["traffic-police"]; got != "- traffic-police - 0 0 0 0 - - - - 0 0 0/0/0" {
		t.Errorf("traffic police's line %q in\n%s", got, table)
	}
	// Bad input: named, with nothing printed.
	for _, args := range [][]string{{"--from", to, "--to", from}, {"--from", "2026-11-31", "--to", to}, {"--to", to}, {"--from", from, "--to", to, "--unit", "police"}} {
		out, err := report(args...)
		if err == nil || out != "" {
			t.Errorf("duban report %v: %q, %v", args, out, err)
		}
	}
}
