package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/duban/duban/internal/freeport"
	"github.com/duban/duban/internal/pgtest"
)

// Ready means ready: duban dev started on a fresh data directory, a case
// opened the instant /readyz first answers 200 is opened at once and its
// ladder is recorded on time — not refused by a Temporal server whose
// services do not see the case search attributes yet and retried ten
// seconds later. Repeated on fresh directories: it was a race.
func TestFirstCaseAfterAFreshStart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts duban dev on fresh directories")
	}
	needDevStack(t)
	dir := pgtest.ReachableDir(t)
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(shortPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		s := newStack(t, shortPolicy)
		port, err := freeport.Get()
		if err != nil {
			t.Fatal(err)
		}
		s.base = "http://127.0.0.1:" + strconv.Itoa(port)
		cmd := exec.Command(os.Args[0], "dev", "--data-dir", filepath.Join(dir, "data-"+strconv.Itoa(round)), "--policy", policy,
			"--addr", "127.0.0.1:"+strconv.Itoa(port), "--temporal-port", "0", "--log-level", "info")
		cmd.Env = append(os.Environ(), reexecEnv+"=1", "DATABASE_URL=")
		cmd.Stderr = s.logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
		}
		t.Cleanup(stop)

		deadline := time.Now().Add(3 * time.Minute)
		for !ready(s.base) {
			select {
			case <-exited:
				t.Fatalf("round %d: duban dev exited before it was ready", round)
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: /readyz did not answer 200 within 3 minutes", round)
			}
		}
		opened := time.Now()
		c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", littering), 201)
		took := time.Since(opened)

		var events []wireEvent
		eventually(t, 30*time.Second, "level 1 recorded", func() bool {
			events = s.events(c.ID)
			return strings.Contains(types(events), "CaseEscalated")
		})
		for _, e := range events[2:] {
			due, err := time.Parse(time.RFC3339Nano, e.Data["due_at"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if late := e.OccurredAt.Sub(due); late < 0 || late > time.Second {
				t.Errorf("round %d: %s (level %v) recorded %s after it was due; the open took %s", round, e.Type, e.Data["level"], late, took)
			}
		}
		stop()
		for _, line := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(line, "workflow_type=CaseWorkflow") && strings.Contains(line, "refused a workflow task") {
				t.Errorf("round %d: a case's workflow task was refused: %s", round, line)
			}
		}
		t.Logf("round %d: open answered in %s", round, took.Round(time.Millisecond))
	}
}

// ready reports whether base's /readyz answers 200.
func ready(base string) bool {
	res, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// An API alone on a namespace without the case search attributes is not
// ready, and says which are missing and how to add them; once a worker has
// added them (and seen its first task accepted), it is.
func TestAPINotReadyWithoutSearchAttributes(t *testing.T) {
	s := newStack(t, shortPolicy)
	s.namespace = "bare-" + randomHex(4)
	ctx := context.Background()
	nc, err := client.NewNamespaceClient(client.Options{HostPort: temporalAddr, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: s.namespace, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the namespace known", func() bool { _, err := nc.Describe(ctx, s.namespace); return err == nil })

	s.start("api")
	var health struct{ Checks map[string]string }
	s.call("GET", "/readyz", "", nil).Expect(t, 503, &health)
	if health.Checks["temporal"] != "unavailable" {
		t.Fatalf("readyz: %+v", health)
	}
	logs := s.logs.String()
	for _, want := range []string{"lacks the case search attributes CaseCategory, CaseOverdue, CaseStatus, CaseUnit",
		"temporal operator search-attribute create --namespace " + s.namespace + " --name CaseOverdue --type Bool"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the API's log does not say %q:\n%s", want, logs)
		}
	}
	s.start("worker")
	eventually(t, 30*time.Second, "ready once a worker added them", func() bool { return ready(s.base) })
}
