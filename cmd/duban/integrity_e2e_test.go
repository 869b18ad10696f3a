package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/postgres"
)

// runOnce runs a one-shot duban command line on the stack's database, as an
// operator would, and returns what it printed and its error.
func (s *stack) runOnce(args ...string) (string, error) {
	s.t.Helper()
	return s.runOnceOn(s.dbURL, args...)
}

// runOnceOn runs a one-shot duban command with DATABASE_URL dbURL.
func (s *stack) runOnceOn(dbURL string, args ...string) (string, error) {
	s.t.Helper()
	var out bytes.Buffer
	m := NewMain()
	m.Config.Stdout, m.Config.Stderr = &out, s.logs
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	}
	if err := m.ParseArgs(append(args, "--log-level", "error"), getenv); err != nil {
		s.t.Fatalf("duban %s: %v", strings.Join(args, " "), err)
	}
	err := m.Run(context.Background())
	m.Close()
	return out.String(), err
}

// tamper changes the store by hand, with the append-only guard lifted, as
// someone holding the database owner's password could.
func (s *stack) tamper(sql string) {
	s.t.Helper()
	ctx := context.Background()
	store, err := postgres.Open(ctx, s.dbURL)
	if err != nil {
		s.t.Fatal(err)
	}
	defer store.Close()
	for _, stmt := range []string{`ALTER TABLE events DISABLE TRIGGER events_append_only`, sql, `ALTER TABLE events ENABLE TRIGGER events_append_only`} {
		if err := store.Exec(ctx, stmt); err != nil {
			s.t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// `duban audit verify` holds for a history made through the API and finds a
// hand-edited event; `duban projections rebuild --check` finds a hand-edited
// projection row and `duban projections rebuild` puts it right.
func TestAuditAndRebuildCommands(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	var ids []string
	for range 3 {
		c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
		s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", map[string]any{}), 200)
		s.caseOf(s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-sanitation", map[string]any{"text": "crew on the way"}), 200)
		ids = append(ids, c.ID)
	}

	out, err := s.runOnce("audit", "verify")
	if err != nil || !strings.Contains(out, "audit: 3 cases, 12 events: every chain holds") {
		t.Fatalf("audit of an untouched store: %v\n%s", err, out)
	}
	s.tamper(`UPDATE events SET data = jsonb_set(data, '{text}', '"fixed already"') WHERE case_id = '` + ids[1] + `' AND type = 'CommentAdded'`)
	out, err = s.runOnce("audit", "verify")
	if err == nil || !strings.Contains(out, "case "+ids[1]+", event 4: its hash does not match") || strings.Count(out, "case ") != 1 {
		t.Fatalf("audit after a hand edit: %v\n%s", err, out)
	}

	if out, err := s.runOnce("projections", "rebuild", "--check"); err != nil || !strings.Contains(out, "3 cases folded, 0 rows differ") {
		t.Fatalf("check of a sound projection: %v\n%s", err, out)
	}
	s.tamper(`UPDATE cases SET status = 'closed', view = NULL, doc = doc || '{"status": "closed"}' WHERE id = '` + ids[2] + `'`)
	out, err = s.runOnce("projections", "rebuild", "--check")
	if want := "case " + ids[2] + ": its projection is not the fold of its events: status, doc.status, view"; err == nil || !strings.Contains(out, want) {
		t.Fatalf("check of a hand-edited projection: %v\n%s", err, out)
	}
	var c wireCase
	s.call("GET", "/v1/cases/"+ids[2], "dev-supervisor", nil).Expect(t, 200, &c)
	if c.Status != "closed" {
		t.Fatalf("the check wrote: the case is %s", c.Status)
	}
	if out, err := s.runOnce("projections", "rebuild"); err != nil || !strings.Contains(out, "1 rows differed, 1 rewritten") {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	s.call("GET", "/v1/cases/"+ids[2], "dev-supervisor", nil).Expect(t, 200, &c)
	if c.Status != "in_progress" {
		t.Fatalf("after the rebuild the case is %s", c.Status)
	}
}

// Many clients commanding one case at once: exactly the commands the case
// allows succeed, the others get 409 (not allowed any more) or 412 (the
// case moved past the version they named), and the history stays whole.
// A client told 429 (too many commands in flight on the case) tries again,
// as its Retry-After says.
func TestConcurrentCommandsOnOneCase(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	etag := `"` + strconv.FormatInt(c.Version, 10) + `"`
	path := "/v1/cases/" + c.ID

	type attempt struct {
		what    string
		path    string
		body    any
		headers []string
	}
	var attempts []attempt
	for range 6 {
		attempts = append(attempts,
			attempt{"acknowledge", path + "/acknowledge", map[string]any{}, nil},
			attempt{"comment", path + "/comments", map[string]any{"text": "seen"}, nil},
			attempt{"comment if unchanged", path + "/comments", map[string]any{"text": "seen first"}, []string{"If-Match", etag}})
	}
	statuses := map[string]map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r apitest.Response
			for try := 0; ; try++ {
				r = s.call("POST", a.path, "dev-sanitation", a.body, a.headers...)
				if r.Status != http.StatusTooManyRequests || try == 50 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if statuses[a.what] == nil {
				statuses[a.what] = map[int]int{}
			}
			statuses[a.what][r.Status]++
		}()
	}
	wg.Wait()
	if got := statuses["acknowledge"]; got[200] != 1 || got[409] != 5 {
		t.Errorf("acknowledge: %v, want one 200 and five 409", got)
	}
	if got := statuses["comment"]; got[200] != 6 {
		t.Errorf("comment: %v, want six 200", got)
	}
	conditional := statuses["comment if unchanged"]
	if conditional[200] > 1 || conditional[200]+conditional[412] != 6 {
		t.Errorf("comment if unchanged: %v, want at most one 200 and the rest 412", conditional)
	}

	events := s.events(c.ID) // checks versions 1..n and positions
	counts := map[string]int{}
	for _, e := range events {
		counts[e.Type]++
	}
	if counts["CaseAcknowledged"] != 1 || counts["CommentAdded"] != 6+conditional[200] || len(events) != 2+1+6+conditional[200] {
		t.Fatalf("history %s", types(events))
	}
	if out, err := s.runOnce("projections", "rebuild", "--check"); err != nil {
		t.Fatalf("the projection is not the fold of the events: %v\n%s", err, out)
	}
}
