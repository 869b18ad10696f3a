package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/duban/duban/postgres"
)

// benchRun is one stack's measurements in progress: what each phase needs
// of the ones before it, and the figures they fill.
type benchRun struct {
	s          *stack
	c          *caller // 16 keep-alive clients of duban's API
	z          sizes
	fig        *figures
	profileDir string
	logf       func(string, ...any)

	// The opens' cases and bare workflows, per client, which the commands
	// phase goes on with, and the open rates that size later phases.
	bareIDs, caseIDs   [][]string
	bareRate, openRate float64
	// store reads and loads the projection directly; opened by the first
	// phase that needs it.
	store *postgres.Store
}

// phase is a part of a run; -only runs some of them.
type phase struct {
	name string
	run  func(ctx context.Context, r *benchRun) error
}

// phases are the parts of a run, in order, each ceiling measured just
// before the duban figure it is compared with. The opens come before them
// all, whatever -only says: every phase needs cases, and the rate of opens
// sizes the later phases.
var phases = []phase{
	{"open", measureSingle},
	{"commands", measureCommands},
	{"long", measureLongCase},
	{"memory", measureClosedCases},
	{"timers", measureTimers},
	{"escalation", measureEscalation},
	{"append", ceilingAppend},
	{"reads", measureReads},
	{"scale", measureVisibleAtScale},
	{"scorecards", measureScorecards},
	{"web", measureWeb},
	{"outbox", measureOutbox},
	{"attachments", measureAttachments},
	{"sites", measureSites},
	{"residents", measureResidents},
}

func phaseNames() []string {
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = p.name
	}
	return names
}

// measureStack runs the selected phases on one stack.
func measureStack(ctx context.Context, name, dir, binary string, z sizes, only map[string]bool, profileDir string, logf func(string, ...any)) (sr stackReport, err error) {
	sr = stackReport{Name: name, Shape: "Temporal on PostgreSQL, 4 history shards"}
	if name == "dev" {
		sr.Shape = "Temporal on SQLite (WAL), 4 history shards, as duban dev"
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := startStack(ctx, name, dir, binary, logger)
	defer func() {
		sr.Figures.PostsRepeatedAfter503 = repeated503.Swap(0)
		sr.Rows = tableRows(&sr.Figures, z)
		if err != nil {
			showLogTails(dir, logf) // the temporary directory goes at the end
		}
	}()
	if err != nil {
		return sr, err
	}
	defer s.close()
	if err := s.startDuban(ctx, mainPolicy); err != nil {
		return sr, err
	}
	bare, err := startBareWorker(s.tc)
	if err != nil {
		return sr, err
	}
	defer bare.Stop()
	r := &benchRun{s: s, c: newCaller(s.apiBase, z.Clients), z: z, fig: &sr.Figures, profileDir: profileDir, logf: logf}
	defer func() {
		if r.store != nil {
			r.store.Close()
		}
	}()
	if err := measureOpens(ctx, r); err != nil {
		return sr, err
	}
	for _, p := range phases {
		if len(only) > 0 && !only[p.name] {
			continue
		}
		if err := p.run(ctx, r); err != nil {
			return sr, err
		}
	}
	return sr, nil
}

// restartDuban starts duban again on policy, and points the run's clients
// at its new address.
func (r *benchRun) restartDuban(ctx context.Context, policy string) error {
	if err := r.s.startDuban(ctx, policy); err != nil {
		return err
	}
	r.c = newCaller(r.s.apiBase, r.z.Clients)
	return nil
}

// dubanStore opens duban's database for the phases that read or load it
// directly.
func (r *benchRun) dubanStore(ctx context.Context) (*postgres.Store, error) {
	if r.store == nil {
		var err error
		if r.store, err = postgres.Open(ctx, r.s.dubanURL); err != nil {
			return nil, err
		}
	}
	return r.store, nil
}
