package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/pgtest"
)

// The closed loop with each role's token, as SPEC.md describes it.
func TestCaseLifecycle(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")

	res := s.call("POST", "/v1/cases", "dev-inspector", littering)
	c := s.caseOf(res, 201)
	if c.Status != "dispatched" || c.Unit == nil || *c.Unit != "sanitation" || c.Reporter != "inspector-1" || c.Version != 2 {
		t.Fatalf("opened %+v", c)
	}
	if c.Deadlines.AcknowledgeBy == nil || c.Deadlines.ResolveBy == nil || c.Deadlines.VerifyBy != nil || c.Overdue || c.EscalationLevel != 0 {
		t.Fatalf("deadlines %+v", c)
	}
	if res.Header.Get("Location") != "/v1/cases/"+c.ID || c.PolicyVersion != s.policy.Version {
		t.Fatalf("Location %q, policy %q", res.Header.Get("Location"), c.PolicyVersion)
	}
	id := c.ID
	path := "/v1/cases/" + id

	// Only the assigned unit sees the case.
	s.caseOf(s.call("GET", path, "dev-sanitation", nil), 200)
	s.call("GET", path, "dev-traffic-police", nil).Expect(t, 404, nil)
	s.call("POST", path+"/comments", "dev-traffic-police", map[string]any{"text": "hello"}).Expect(t, 404, nil)
	var page struct {
		Items      []wireCase `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}
	s.call("GET", "/v1/cases", "dev-traffic-police", nil).Expect(t, 200, &page)
	if len(page.Items) != 0 || page.NextCursor != nil {
		t.Fatalf("traffic police lists %+v", page)
	}
	s.call("GET", "/v1/cases?unit=sanitation", "dev-traffic-police", nil).Expect(t, 200, &page)
	if len(page.Items) != 0 {
		t.Fatalf("a unit listed another unit's cases: %+v", page)
	}
	s.call("GET", "/v1/cases?status=dispatched", "dev-sanitation", nil).Expect(t, 200, &page)
	if len(page.Items) != 1 || page.Items[0].ID != id {
		t.Fatalf("sanitation lists %+v", page)
	}

	step := func(token, command string, body any, wantStatus string) wireCase {
		t.Helper()
		after := s.caseOf(s.call("POST", path+"/"+command, token, body), 200)
		if after.Status != wantStatus {
			t.Fatalf("%s: status %s, want %s", command, after.Status, wantStatus)
		}
		// Read-your-writes: a GET right after sees the command.
		if got := s.caseOf(s.call("GET", path, "dev-supervisor", nil), 200); got.Version != after.Version || got.Status != after.Status {
			t.Fatalf("GET after %s: %+v, answer was %+v", command, got, after)
		}
		return after
	}
	step("dev-sanitation", "acknowledge", nil, "in_progress")
	resolved := step("dev-sanitation", "resolve", map[string]any{"note": "bags removed"}, "resolved")
	if resolved.Deadlines.VerifyBy == nil {
		t.Fatal("a resolved case has a verify deadline")
	}
	reopened := step("dev-inspector", "verify", map[string]any{"passed": false, "note": "two bags behind the shelter"}, "in_progress")
	// A fresh resolve deadline, counted from now: never before the first
	// (equal to it outside the business calendar's hours).
	if reopened.ReworkCount != 1 || reopened.Deadlines.ResolveBy.Before(*c.Deadlines.ResolveBy) || reopened.Deadlines.VerifyBy != nil {
		t.Fatalf("reopened %+v", reopened)
	}
	step("dev-sanitation", "resolve", map[string]any{"note": "all removed"}, "resolved")
	step("dev-sanitation", "comments", map[string]any{"text": "the shelter is clean now"}, "resolved")
	closed := step("dev-supervisor", "verify", map[string]any{"passed": true, "note": "checked on site"}, "closed")
	if closed.ReworkCount != 1 {
		t.Fatalf("closed %+v", closed)
	}

	events := s.events(id)
	want := "CaseReported CaseDispatched CaseAcknowledged CaseResolved VerificationFailed CaseResolved CommentAdded VerificationPassed CaseClosed"
	if got := types(events); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	if events[0].Actor.ID != "inspector-1" || events[1].Actor.ID != "system" || events[2].Actor.ID != "sanitation-1" || events[4].Data["rework_count"] != float64(1) {
		t.Fatalf("the events do not tell who did what: %+v", events)
	}
	if events[1].Data["unit"] != "sanitation" || events[1].Data["deadlines"] == nil {
		t.Fatalf("CaseDispatched data %v", events[1].Data)
	}
	// A closed case takes no more commands.
	s.call("POST", path+"/acknowledge", "dev-sanitation", nil).Expect(t, 409, nil)
	s.call("POST", path+"/comments", "dev-inspector", map[string]any{"text": "late"}).Expect(t, 409, nil)
}

// A case no one acknowledges is overdue, at level 1 and in /v1/escalations
// from the instant of its deadline, and the ladder's steps are recorded as
// events by the system with no one looking.
func TestEscalation(t *testing.T) {
	s := newStack(t, shortPolicy)
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	deadline := *c.Deadlines.AcknowledgeBy

	inEscalations := func() bool {
		var out struct{ Items []wireCase }
		s.call("GET", "/v1/escalations", "dev-supervisor", nil).Expect(t, 200, &out)
		for _, e := range out.Items {
			if e.ID == c.ID {
				return e.Overdue && e.EscalationLevel >= 1
			}
		}
		return false
	}
	if time.Now().Before(deadline) && inEscalations() {
		t.Fatal("listed as escalated before its deadline")
	}
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Read off the clock: no waiting for a timer.
	got := s.caseOf(s.call("GET", "/v1/cases/"+c.ID, "dev-supervisor", nil), 200)
	if !got.Overdue || got.EscalationLevel < 1 {
		t.Fatalf("at its deadline the case shows overdue=%v level=%d", got.Overdue, got.EscalationLevel)
	}
	if !inEscalations() {
		t.Fatal("at its deadline the case is not in /v1/escalations")
	}
	var overdue struct{ Items []wireCase }
	s.call("GET", "/v1/cases?overdue=true&escalated=true", "dev-supervisor", nil).Expect(t, 200, &overdue)
	if len(overdue.Items) != 1 || overdue.Items[0].ID != c.ID {
		t.Fatalf("overdue filter: %+v", overdue.Items)
	}

	// The ladder climbs, recorded by the workflow's timers.
	var events []wireEvent
	eventually(t, 60*time.Second, "level 3 recorded", func() bool {
		events = s.events(c.ID)
		return strings.HasSuffix(types(events), "CaseEscalated") && events[len(events)-1].Data["level"] == float64(3)
	})
	if want := "CaseReported CaseDispatched DeadlineWarned CaseEscalated CaseEscalated CaseEscalated"; types(events) != want {
		t.Fatalf("events %s", types(events))
	}
	for i, e := range events[2:] {
		due, _ := time.Parse(time.RFC3339Nano, e.Data["due_at"].(string))
		if e.Actor.ID != "system" || e.OccurredAt.Before(due) || e.Data["stage"] != "acknowledge" {
			t.Fatalf("step %d: %+v", i, e)
		}
		if i > 0 && e.Data["level"] != float64(i) {
			t.Fatalf("step %d has level %v", i, e.Data["level"])
		}
	}
	if got := s.caseOf(s.call("GET", "/v1/cases/"+c.ID, "dev-supervisor", nil), 200); got.EscalationLevel != 3 {
		t.Fatalf("level %d", got.EscalationLevel)
	}

	// A command given on the version its giver saw before duban's own
	// warning and escalations is not stale; after a person's comment it is.
	seen := fmt.Sprintf(`"%d"`, c.Version)
	commented := s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-supervisor", map[string]any{"text": "今天处理"}, "If-Match", seen), 200)
	s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil, "If-Match", seen).Expect(t, 412, nil)

	// Meeting the obligation ends the stage's escalation: the resolve stage
	// (30s from dispatch) starts at level 0.
	acked := s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil, "If-Match", fmt.Sprintf(`"%d"`, commented.Version)), 200)
	if acked.Overdue || acked.EscalationLevel != 0 {
		t.Fatalf("after acknowledgement: overdue=%v level=%d", acked.Overdue, acked.EscalationLevel)
	}
	var ack wireEvent
	for _, e := range s.events(c.ID) {
		if e.Type == "CaseAcknowledged" {
			ack = e
		}
	}
	if late, _ := ack.Data["late_seconds"].(float64); late < 2 {
		t.Fatalf("the acknowledgement records its lateness: %v", ack.Data)
	}
}

func TestIdempotentOpen(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	first := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering, "Idempotency-Key", "patrol-7/42"), 201)
	again := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering, "Idempotency-Key", "patrol-7/42"), 200)
	if again.ID != first.ID {
		t.Fatalf("a retried open made a second case: %s, %s", first.ID, again.ID)
	}
	other := map[string]any{"category": "littering", "description": "something else", "location": map[string]any{"lat": 1, "lon": 2}}
	var p wireProblem
	s.call("POST", "/v1/cases", "dev-inspector", other, "Idempotency-Key", "patrol-7/42").Expect(t, 409, &p)
	if p.Status != 409 || !strings.Contains(p.Detail, "Idempotency-Key") {
		t.Fatalf("problem %+v", p)
	}
	// The key belongs to its principal: another inspector's is another case.
	theirs := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector-2", littering, "Idempotency-Key", "patrol-7/42"), 201)
	if theirs.ID == first.ID {
		t.Fatal("two principals' keys made the same case")
	}
	// Concurrent retries of one open make one case.
	var wg sync.WaitGroup
	ids := make([]string, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.call("POST", "/v1/cases", "dev-supervisor", littering, "Idempotency-Key", "burst")
			if res.Status != 201 && res.Status != 200 {
				t.Errorf("status %d: %s", res.Status, res.Body)
				return
			}
			var c wireCase
			res.Expect(t, res.Status, &c)
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent retries made several cases: %v", ids)
		}
	}
	if n := len(s.events(ids[0])); n != 2 {
		t.Fatalf("the case has %d events, want 2", n)
	}
}

// A command repeated with its Idempotency-Key (its first answer lost to a
// timeout or a crash) answers as the first did, and is recorded once, even
// when the case has moved on and would refuse it as a new command.
func TestIdempotentCommands(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	path := "/v1/cases/" + c.ID
	ack := s.caseOf(s.call("POST", path+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-1"), 200)
	comment := map[string]any{"text": "on our way"}
	commented := s.caseOf(s.call("POST", path+"/comments", "dev-inspector", comment, "Idempotency-Key", "note-1",
		"If-Match", fmt.Sprintf(`"%d"`, ack.Version)), 200)
	resolved := s.caseOf(s.call("POST", path+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}, "Idempotency-Key", "fix-1"), 200)

	for _, repeat := range []struct {
		what  string
		res   apitest.Response
		first wireCase
	}{
		{"acknowledge", s.call("POST", path+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-1"), ack},
		{"comment with If-Match", s.call("POST", path+"/comments", "dev-inspector", comment, "Idempotency-Key", "note-1",
			"If-Match", fmt.Sprintf(`"%d"`, ack.Version)), commented},
		{"resolve", s.call("POST", path+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}, "Idempotency-Key", "fix-1"), resolved},
	} {
		got := s.caseOf(repeat.res, 200)
		if got.Version != repeat.first.Version || got.Status != repeat.first.Status {
			t.Errorf("repeated %s: version %d %s, first answer %d %s", repeat.what, got.Version, got.Status, repeat.first.Version, repeat.first.Status)
		}
	}
	// Without the key, or with another, it is a new command, refused.
	s.call("POST", path+"/acknowledge", "dev-sanitation", nil).Expect(t, 409, nil)
	s.call("POST", path+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-2").Expect(t, 409, nil)
	// The key is the principal's own: another's is not a repeat.
	s.call("POST", path+"/resolve", "dev-supervisor", map[string]any{"note": "swept"}, "Idempotency-Key", "fix-1").Expect(t, 403, nil)

	counts := map[string]int{}
	for _, e := range s.events(c.ID) {
		counts[e.Type]++
	}
	if counts["CaseAcknowledged"] != 1 || counts["CommentAdded"] != 1 || counts["CaseResolved"] != 1 {
		t.Fatalf("events %v", counts)
	}
}

func TestRefusals(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	path := "/v1/cases/" + c.ID
	tests := []struct {
		name    string
		method  string
		path    string
		token   string
		body    any
		headers []string
		status  int
		field   string // the first field error, if any
	}{
		{"no token", "GET", path, "", nil, nil, 401, ""},
		{"unknown token", "GET", path, "dev-nobody", nil, nil, 401, ""},
		{"unit opens", "POST", "/v1/cases", "dev-sanitation", littering, nil, 403, ""},
		{"inspector acknowledges", "POST", path + "/acknowledge", "dev-inspector", nil, nil, 403, ""},
		{"unit verifies", "POST", path + "/verify", "dev-sanitation", map[string]any{"passed": true}, nil, 403, ""},
		{"unit watches escalations", "GET", "/v1/escalations", "dev-sanitation", nil, nil, 403, ""},
		{"another unit's case", "GET", path, "dev-traffic-police", nil, nil, 404, ""},
		{"another unit acknowledges", "POST", path + "/acknowledge", "dev-traffic-police", nil, nil, 404, ""},
		{"no such case", "GET", "/v1/cases/0190d4a4-0000-7000-8000-000000000000", "dev-inspector", nil, nil, 404, ""},
		{"not a case id", "GET", "/v1/cases/..%2f..%2fetc", "dev-inspector", nil, nil, 404, ""},
		{"verify a dispatched case", "POST", path + "/verify", "dev-inspector", map[string]any{"passed": true}, nil, 409, ""},
		{"resolve before acknowledging", "POST", path + "/resolve", "dev-sanitation", map[string]any{"note": "done"}, nil, 409, ""},
		{"stale If-Match", "POST", path + "/acknowledge", "dev-sanitation", nil, []string{"If-Match", `"1"`}, 412, ""},
		{"bad If-Match", "POST", path + "/acknowledge", "dev-sanitation", nil, []string{"If-Match", "yesterday"}, 400, "If-Match"},
		{"unknown category", "POST", "/v1/cases", "dev-inspector", map[string]any{"category": "ufo", "description": "x", "location": map[string]any{"lat": 1, "lon": 1}}, nil, 400, "category"},
		{"missing location", "POST", "/v1/cases", "dev-inspector", map[string]any{"category": "littering", "description": "x"}, nil, 400, "location"},
		{"bad latitude", "POST", "/v1/cases", "dev-inspector", map[string]any{"category": "littering", "description": "x", "location": map[string]any{"lat": 91, "lon": 1}}, nil, 400, "location.lat"},
		{"too long", "POST", "/v1/cases", "dev-inspector", map[string]any{"category": "littering", "description": strings.Repeat("脏", 2001), "location": map[string]any{"lat": 1, "lon": 1}}, nil, 400, "description"},
		{"unknown field", "POST", "/v1/cases", "dev-inspector", `{"category":"littering","priority":"high"}`, nil, 400, "priority"},
		{"wrong type", "POST", "/v1/cases", "dev-inspector", `{"category":"littering","location":{"lat":"north"}}`, nil, 400, "location.lat"},
		{"malformed", "POST", "/v1/cases", "dev-inspector", `{"category":`, nil, 400, ""},
		{"resolve without a note", "POST", path + "/resolve", "dev-sanitation", map[string]any{}, nil, 400, ""},
		{"too large", "POST", "/v1/cases", "dev-inspector", `{"description":"` + strings.Repeat("a", 70000) + `"}`, nil, 413, ""},
		{"not JSON", "POST", "/v1/cases", "dev-inspector", "category=littering", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
		{"unknown filter", "GET", "/v1/cases?colour=red", "dev-inspector", nil, nil, 400, "colour"},
		{"bad cursor", "GET", "/v1/cases?cursor=Zm9v", "dev-inspector", nil, nil, 400, "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.call(tt.method, tt.path, tt.token, tt.body, tt.headers...)
			var p wireProblem
			res.Expect(t, tt.status, &p)
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if p.Status != tt.status || p.Title == "" || p.Detail == "" || p.Type == "" {
				t.Fatalf("problem %+v", p)
			}
			if tt.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tt.field) {
				t.Fatalf("errors %+v, want one for %s", p.Errors, tt.field)
			}
		})
	}
	// Nothing refused left a trace.
	if n := len(s.events(c.ID)); n != 2 {
		t.Fatalf("refused commands changed the case: %d events", n)
	}
}

// The worker stops in the middle of a case and another takes over: the
// command sent meanwhile completes, and the deadlines keep firing.
func TestWorkerRestart(t *testing.T) {
	s := newStack(t, shortPolicy)
	s.start("api")
	w := s.start("worker")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil), 200)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	answered := make(chan apitest.Response, 1)
	go func() {
		answered <- s.call("POST", "/v1/cases/"+c.ID+"/resolve", "dev-sanitation", map[string]any{"note": "swept"})
	}()
	select {
	case res := <-answered:
		t.Fatalf("answered with no worker running: %d %s", res.Status, res.Body)
	case <-time.After(500 * time.Millisecond):
	}
	s.start("worker")
	resolved := s.caseOf(<-answered, 200)
	if resolved.Status != "resolved" {
		t.Fatalf("after the restart: %+v", resolved)
	}
	// The verify deadline (4s) is kept by the new worker.
	eventually(t, 60*time.Second, "verify stage escalated by the new worker", func() bool {
		return strings.HasSuffix(types(s.events(c.ID)), "CaseResolved DeadlineWarned CaseEscalated CaseEscalated CaseEscalated")
	})
}

// A case with a long history continues as new and goes on as before.
func TestContinueAsNew(t *testing.T) {
	s := newStack(t, "")
	s.historyLimit = 30
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	for i := range 12 {
		s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-inspector", map[string]any{"text": "note " + string(rune('a'+i))}), 200)
	}
	tc, err := client.Dial(client.Options{HostPort: temporalAddr, Namespace: "default", Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	eventually(t, 30*time.Second, "a new run", func() bool {
		d, err := tc.DescribeWorkflowExecution(context.Background(), c.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		info := d.GetWorkflowExecutionInfo()
		return info.GetExecution().GetRunId() != info.GetFirstRunId()
	})
	after := s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil), 200)
	if after.Status != "in_progress" || after.Version != 15 {
		t.Fatalf("after continue-as-new: %+v", after)
	}
	if n := len(s.events(c.ID)); n != 15 {
		t.Fatalf("%d events", n)
	}
}

// `duban dev` is killed with deadlines pending and started again on the same
// data directory: every case is there, nothing is recorded twice, and the
// deadlines that came due while it was down fire at once.
func TestDevSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts duban dev twice")
	}
	needDevStack(t)
	dir := pgtest.ReachableDir(t)
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(shortPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, shortPolicy)
	dev := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "dev", "--data-dir", filepath.Join(dir, "data"), "--policy", policy,
			"--addr", "127.0.0.1:0", "--temporal-port", "0", "--log-level", "warn")
		cmd.Env = append(os.Environ(), reexecEnv+"=1", "DATABASE_URL=")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = s.logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		api := regexp.MustCompile(`API\s+(http://\S+)`)
		found := make(chan string, 1)
		go func() {
			buf := make([]byte, 0, 4096)
			tmp := make([]byte, 1024)
			for {
				n, err := out.Read(tmp)
				buf = append(buf, tmp[:n]...)
				if m := api.FindSubmatch(buf); m != nil {
					found <- string(m[1])
					_, _ = io.Copy(io.Discard, out)
					return
				}
				if err != nil {
					close(found)
					return
				}
			}
		}()
		select {
		case base, ok := <-found:
			if !ok {
				t.Fatal("duban dev exited before it was ready")
			}
			s.base = base
		case <-time.After(3 * time.Minute):
			t.Fatal("duban dev did not start")
		}
		return cmd
	}

	first := dev()
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering, "Idempotency-Key", "before-the-crash"), 201)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	// Stay down until every step of the acknowledge ladder is due.
	for time.Now().Before(c.Deadlines.AcknowledgeBy.Add(3 * time.Second)) {
		time.Sleep(50 * time.Millisecond)
	}
	second := dev()
	// Another duban dev on the same data directory is refused, naming the
	// process that has it, and leaves that one's PostgreSQL running.
	other := NewMain()
	other.Config = Config{Command: "dev", DataDir: filepath.Join(dir, "data"), Addr: "127.0.0.1:0",
		LogLevel: "error", LogFormat: "text", Stdout: io.Discard, Stderr: s.logs}
	other.Policy = s.policy
	err := other.Run(context.Background())
	other.Close()
	if want := fmt.Sprintf("is in use by process %d", second.Process.Pid); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("a second duban dev on the data directory: %v, want %q", err, want)
	}
	got := s.caseOf(s.call("GET", "/v1/cases/"+c.ID, "dev-supervisor", nil), 200)
	if got.EscalationLevel != 3 || !got.Overdue {
		t.Fatalf("after the restart: %+v", got)
	}
	eventually(t, 60*time.Second, "the missed steps recorded", func() bool {
		return types(s.events(c.ID)) == "CaseReported CaseDispatched DeadlineWarned CaseEscalated CaseEscalated CaseEscalated"
	})
	again := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering, "Idempotency-Key", "before-the-crash"), 200)
	if again.ID != c.ID {
		t.Fatal("a retried open made a second case after the restart")
	}
	s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil), 200)
	if got := types(s.events(c.ID)); got != "CaseReported CaseDispatched DeadlineWarned CaseEscalated CaseEscalated CaseEscalated CaseAcknowledged" {
		t.Fatalf("events %s", got)
	}
}
