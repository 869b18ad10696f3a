package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/dev/devserver"
	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/pgtest"
)

// reexecEnv makes the test binary run main() instead of the tests: the crash
// test starts `duban dev` as a child process this way.
const reexecEnv = "DUBAN_TEST_RUN_MAIN"

// temporalAddr is the Temporal server the tests share; each test has its
// own task queue and database.
var temporalAddr string

func TestMain(m *testing.M) {
	if os.Getenv(reexecEnv) == "1" {
		main()
		return
	}
	os.Exit(runTests(m))
}

// needDevStack skips t in a build without the development stack: the
// tests that run `duban dev` need -tags devstack, as make test gives.
func needDevStack(t *testing.T) {
	t.Helper()
	if !devStackLinked {
		t.Skip("runs duban dev: needs -tags devstack (make test)")
	}
}

func runTests(m *testing.M) int {
	apitest.Conform = true // every answer the tests get is checked against the OpenAPI document
	ts, err := devserver.Start(context.Background(), devserver.Options{
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start Temporal:", err)
		return 1
	}
	defer ts.Stop()
	temporalAddr = ts.HostPort
	return pgtest.Main(m)
}

// shortPolicy has deadlines of seconds: acknowledge in 2s, resolve in 30s,
// verify in 4s; a warning at -25%, levels at 0s, 1s and 2s.
const shortPolicy = `
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
  - {id: traffic-police, name: {zh: 交警大队, en: Traffic Police}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 2s, resolve: 30s, verify: 4s}
escalation:
  - {at: -25%, action: warn}
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

// stack is duban running for one test: its own database and task queue.
type stack struct {
	t      *testing.T
	dbURL  string
	queue  string
	policy *duban.Policy
	base   string
	logs   *syncBuffer
	// HistoryLimit for new workflows (0: the default).
	historyLimit int
	// addr is where the API listens (default: any free port).
	addr string
	// env is the environment duban reads (the subscriptions' secrets).
	env map[string]string
	// blobs is the directory attachments are kept in.
	blobs string
	// namespace is the Temporal namespace (default "default").
	namespace string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newStack(t *testing.T, policyYAML string) *stack {
	t.Helper()
	s := &stack{t: t, dbURL: pgtest.NewDatabase(t), queue: "test-" + randomHex(6), logs: &syncBuffer{}, blobs: t.TempDir()}
	s.policy = duban.DefaultPolicy()
	if policyYAML != "" {
		var err error
		if s.policy, err = duban.ParsePolicy("test-policy.yaml", []byte(policyYAML)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("duban's logs:\n%s", s.logs)
		}
	})
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// start runs a duban command ("serve", "api" or "worker") on the stack and
// returns it; it is closed when the test ends, or earlier by the caller.
func (s *stack) start(command string) *Main {
	s.t.Helper()
	m := NewMain()
	m.Config = Config{
		Command: command, Addr: cmp.Or(s.addr, "127.0.0.1:0"), DatabaseURL: s.dbURL,
		TemporalAddr: temporalAddr, Namespace: cmp.Or(s.namespace, "default"), TaskQueue: s.queue,
		LogLevel: "info", LogFormat: "text", Stdout: io.Discard, Stderr: s.logs,
		AllowDevTokens: true, // the tests' policies give their principals tokens in the clear
		BlobStore:      s.blobs,
	}
	m.Policy = s.policy
	m.HistoryLimit = s.historyLimit
	m.Getenv = func(k string) string { return s.env[k] }
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { m.Close() })
	if m.Addr() != "" {
		s.base = "http://" + m.Addr()
	}
	return m
}

// call sends a request as the principal with token; body is JSON-encoded
// unless it is a string or nil. headers are name, value pairs.
func (s *stack) call(method, path, token string, body any, headers ...string) apitest.Response {
	s.t.Helper()
	return apitest.Call(s.t, s.base, method, path, token, body, headers...)
}

// wireCase is a case as a client reads it.
type wireCase struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	Category    string  `json:"category"`
	Unit        *string `json:"unit"`
	Reporter    string  `json:"reporter"`
	Version     int64   `json:"version"`
	ReworkCount int     `json:"rework_count"`
	Deadlines   struct {
		AcknowledgeBy *time.Time `json:"acknowledge_by"`
		ResolveBy     *time.Time `json:"resolve_by"`
		VerifyBy      *time.Time `json:"verify_by"`
	} `json:"deadlines"`
	Overdue         bool   `json:"overdue"`
	EscalationLevel int    `json:"escalation_level"`
	PolicyVersion   string `json:"policy_version"`
}

type wireEvent struct {
	ID         string          `json:"id"`
	CaseID     string          `json:"case_id"`
	Version    int64           `json:"version"`
	Position   int64           `json:"position"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Actor      duban.Principal `json:"actor"`
	Data       map[string]any  `json:"data"`
}

type wireProblem struct {
	Type   string             `json:"type"`
	Title  string             `json:"title"`
	Status int                `json:"status"`
	Detail string             `json:"detail"`
	Errors []duban.FieldError `json:"errors"`
}

func (s *stack) caseOf(r apitest.Response, status int) wireCase {
	s.t.Helper()
	var c wireCase
	r.Expect(s.t, status, &c)
	if etag := r.Header.Get("ETag"); etag != fmt.Sprintf(`"%d"`, c.Version) {
		s.t.Fatalf("ETag %s for version %d", etag, c.Version)
	}
	return c
}

func (s *stack) events(id string) []wireEvent {
	s.t.Helper()
	var out struct{ Items []wireEvent }
	s.call("GET", "/v1/cases/"+id+"/events", "dev-supervisor", nil).Expect(s.t, 200, &out)
	for i, e := range out.Items {
		if e.Version != int64(i+1) || e.CaseID != id || (i > 0 && e.Position <= out.Items[i-1].Position) {
			s.t.Fatalf("event %d of %d is version %d, position %d", i, len(out.Items), e.Version, e.Position)
		}
	}
	return out.Items
}

func types(events []wireEvent) string {
	var out []string
	for _, e := range events {
		out = append(out, e.Type)
	}
	return strings.Join(out, " ")
}

// eventually polls check until it returns true or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var littering = map[string]any{
	"category": "littering", "severity": "normal", "description": "bags dumped at the bus stop",
	"location": map[string]any{"lat": 39.865, "lon": 111.238, "address": "Heping Rd bus stop", "area": "old-town"},
	"evidence": []map[string]string{{"url": "https://example.org/p/1.jpg", "kind": "photo"}},
}
