package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban/dev/devserver"
	"github.com/duban/duban/dev/localpg"
	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/pgtest"
	"github.com/duban/duban/postgres"
)

// The read-only commands read only: a role that may only SELECT runs
// `duban audit verify` and `duban projections rebuild --check`; a database
// not yet migrated is named as such, not migrated behind its back.
func TestReadOnlyCommandsUnderAReadOnlyRole(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	role := "reader_" + randomHex(4)
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD 'reads-only'",
		"GRANT USAGE ON SCHEMA public TO " + role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + role,
	} {
		s.tamper(stmt)
	}
	t.Cleanup(func() { s.tamper("DROP OWNED BY " + role + "; DROP ROLE " + role) })
	u, _ := url.Parse(s.dbURL)
	u.User = url.UserPassword(role, "reads-only")
	if out, err := s.runOnceOn(u.String(), "audit", "verify"); err != nil || !strings.Contains(out, "every chain holds") {
		t.Fatalf("audit verify as %s: %v\n%s", role, err, out)
	}
	if out, err := s.runOnceOn(u.String(), "projections", "rebuild", "--check"); err != nil || !strings.Contains(out, "0 rows differ") {
		t.Fatalf("projections rebuild --check as %s: %v\n%s", role, err, out)
	}
	if _, err := s.runOnceOn(u.String(), "projections", "rebuild"); err == nil {
		t.Fatal("a read-only role rebuilt the projection")
	}
	// A database without duban's schema is not given one by a reader.
	empty := newStack(t, "")
	if _, err := empty.runOnce("audit", "verify"); err == nil || !strings.Contains(err.Error(), "run duban migrate") {
		t.Fatalf("audit of an empty database: %v", err)
	}
	store, err := postgres.Open(context.Background(), empty.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.CheckMigrated(context.Background()); err == nil {
		t.Fatal("the audit migrated the database")
	}
}

// `duban serve` and `duban api` refuse a policy whose principals have
// plaintext tokens (the built-in one's are public), unless told
// --allow-dev-tokens; a policy of hashed tokens runs.
func TestServeRefusesDevelopmentTokens(t *testing.T) {
	s := newStack(t, "")
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return s.dbURL
		}
		return ""
	}
	run := func(args ...string) error {
		m := NewMain()
		m.Config.Stdout, m.Config.Stderr = io.Discard, s.logs
		if err := m.ParseArgs(append(args, "--addr", "127.0.0.1:0", "--temporal", temporalAddr, "--task-queue", s.queue), getenv); err != nil {
			t.Fatal(err)
		}
		err := m.Run(context.Background())
		m.Close()
		return err
	}
	for _, cmd := range []string{"serve", "api"} {
		if err := run(cmd); err == nil || !strings.Contains(err.Error(), "plaintext tokens") || !strings.Contains(err.Error(), "--allow-dev-tokens") {
			t.Fatalf("%s with the built-in policy: %v", cmd, err)
		}
	}
	if err := run("serve", "--allow-dev-tokens"); err != nil {
		t.Fatalf("serve --allow-dev-tokens: %v", err)
	}
	sum := sha256.Sum256([]byte("a-secret-token"))
	file := t.TempDir() + "/city.yaml"
	hashed := strings.Replace(shortPolicy, "principals:\n", "principals:\n  - {token_sha256: "+hex.EncodeToString(sum[:])+", id: office-1, role: supervisor}\n", 1)
	hashed = hashed[:strings.Index(hashed, "  - {token: dev-inspector")]
	writeFile(t, file, hashed)
	if err := run("api", "--policy", file); err != nil {
		t.Fatalf("api with hashed tokens: %v", err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Each command's -h says what it does, lists its own flags and names
// DATABASE_URL; `policy check -h` is help, not a file named -h.
func TestCommandHelp(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		has, not []string
	}{
		{[]string{"policy", "check", "-h"}, []string{"usage: duban policy check FILE"}, nil},
		{[]string{"projections", "-h"}, []string{"duban projections rebuild", "-check", "DATABASE_URL"}, []string{"-policy"}},
		{[]string{"audit", "verify", "-h"}, []string{"reads only", "DATABASE_URL"}, []string{"-policy"}},
		{[]string{"migrate", "-h"}, []string{"DATABASE_URL"}, []string{"-policy", "-debug-addr"}},
		{[]string{"serve", "-h"}, []string{"-policy", "-allow-dev-tokens", "DATABASE_URL"}, nil},
		{[]string{"worker", "-h"}, []string{"-policy"}, []string{"-allow-dev-tokens", "\n  -addr "}},
	} {
		var out strings.Builder
		m := NewMain()
		m.Config.Stderr = &out
		if err := m.ParseArgs(tc.args, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%v: %v", tc.args, err)
		}
		for _, s := range tc.has {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%v does not say %q:\n%s", tc.args, s, out.String())
			}
		}
		for _, s := range tc.not {
			if strings.Contains(out.String(), s) {
				t.Errorf("%v says %q:\n%s", tc.args, s, out.String())
			}
		}
	}
}

// With the database or the Temporal server down, reads and commands answer
// 503 with Retry-After within a second, not 500 and not after the command's
// 30 s; once they are back, duban answers again.
func TestUnavailableDependenciesAnswer503Quickly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a PostgreSQL and a Temporal server of its own")
	}
	ctx := context.Background()
	pgDir := pgtest.ReachableDir(t)
	// As duban dev's, the cluster comes back on the port it had.
	pg, err := localpg.Start(ctx, localpg.Options{Dir: pgDir, KeepPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { pg.Stop() }()
	dbURL, err := localpg.CreateDatabase(ctx, pg.URL, "duban")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := devserver.Start(ctx, devserver.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Stop()
	s := newStack(t, shortPolicy)
	s.dbURL = dbURL
	m := NewMain()
	m.Config = Config{Command: "serve", Addr: "127.0.0.1:0", DatabaseURL: dbURL, TemporalAddr: ts.HostPort, Namespace: ts.Namespace,
		TaskQueue: s.queue, LogLevel: "info", LogFormat: "text", Stdout: io.Discard, Stderr: s.logs, AllowDevTokens: true}
	m.Policy = s.policy
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s.base = "http://" + m.Addr()
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
	comment := map[string]any{"text": "seen"}

	quick503 := func(what string, call func() apitest.Response) {
		t.Helper()
		start := time.Now()
		res := call()
		if took := time.Since(start); res.Status != 503 || res.Header.Get("Retry-After") == "" || took > time.Second {
			t.Errorf("%s: %d after %s (Retry-After %q): %s", what, res.Status, took, res.Header.Get("Retry-After"), res.Body)
		}
	}
	notReady := func(dependency string) {
		t.Helper()
		eventually(t, 10*time.Second, dependency+" seen down", func() bool {
			var r struct{ Checks map[string]string }
			res := s.call("GET", "/readyz", "", nil)
			_ = json.Unmarshal(res.Body, &r)
			return res.Status == 503 && r.Checks[dependency] == "unavailable"
		})
		time.Sleep(1500 * time.Millisecond) // the service's own watch: a round of checks a second
	}

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	notReady("database")
	quick503("GET a case", func() apitest.Response { return s.call("GET", "/v1/cases/"+c.ID, "dev-supervisor", nil) })
	quick503("GET the list", func() apitest.Response { return s.call("GET", "/v1/cases", "dev-supervisor", nil) })
	quick503("open a case", func() apitest.Response { return s.call("POST", "/v1/cases", "dev-inspector", littering) })
	quick503("a command", func() apitest.Response {
		return s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-supervisor", comment)
	})
	if pg, err = localpg.Start(ctx, localpg.Options{Dir: pgDir, KeepPort: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "commands once the database is back", func() bool {
		return s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-supervisor", comment).Status == 200
	})

	ts.Stop()
	notReady("temporal")
	quick503("a command", func() apitest.Response {
		return s.call("POST", "/v1/cases/"+c.ID+"/comments", "dev-supervisor", comment)
	})
	quick503("open a case", func() apitest.Response { return s.call("POST", "/v1/cases", "dev-inspector", littering) })
	s.call("GET", "/v1/cases/"+c.ID, "dev-supervisor", nil).Expect(t, 200, nil) // reads need no engine
}
