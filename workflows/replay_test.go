package workflows_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/duban/duban/workflows"
)

// Every history recorded from a real run of CaseWorkflow, of every revision
// (testdata/histories/revN-*.json, recorded by cmd/duban's
// TestRecordHistories), must replay against the current code: a change that
// would make a running case non-deterministic fails here, in CI, before it
// can break cases in production. Such a change needs a new revision
// (revisions.go), and the new revision needs histories of its own. So must
// the bulletin workflow's (bulletin-*.json), which runs for a year at a
// time, and the round workflow's (round-*.json), which runs a round's
// ladder: a change to either must keep its recorded runs replaying.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/histories/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories: %v", err)
	}
	current, _ := filepath.Glob(fmt.Sprintf("testdata/histories/rev%d-*.json", workflows.Revision))
	if len(current) == 0 {
		t.Errorf("revision %d, what new runs get, has no recorded histories: record them (README, \"Changing the workflow\")", workflows.Revision)
	}
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(workflows.CaseWorkflow)
			r.RegisterWorkflow(workflows.BulletinWorkflow)
			r.RegisterWorkflow(workflows.RoundWorkflow)
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatalf("%s does not replay: %v", f, err)
			}
		})
	}
}
