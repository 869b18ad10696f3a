package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/duban/duban/postgres"
)

// measureReads loads z.Rows cases straight into the event store, then
// times reading a case by id and a filtered, ordered list, raw in
// PostgreSQL and through the API, and the API's own overhead on /healthz.
func measureReads(ctx context.Context, r *benchRun) error {
	s, z := r.s, r.z
	store, err := r.dubanStore(ctx)
	if err != nil {
		return err
	}
	r.logf("  loading %d cases through the event store", z.Rows)
	start, now := time.Now(), time.Now()
	sample, err := seed(ctx, store, z.Rows, func(rng *rand.Rand) postgres.CaseHistory { return seedHistory(rng, now) }, func(done int) {
		if done%100_000 == 0 {
			r.logf("    %d", done)
		}
	})
	if err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, "ANALYZE cases; ANALYZE events"); err != nil {
		return err
	}
	loaded := time.Since(start).Seconds()
	r.fig.LoadSeconds = &loaded
	if r.profileDir != "" {
		r.logf("  lists for %s, profiled into %s", profileFor, r.profileDir)
		profiled := s.captureProfiles(filepath.Join(r.profileDir, "reads"))
		if _, err := timedFor(z.ReadClients, profileFor, func() error {
			return r.c.call("GET", "/v1/cases?status=in_progress&unit=sanitation&limit=50", "bench-supervisor", nil, 200, nil)
		}); err != nil {
			return err
		}
		if err := profiled(); err != nil {
			return err
		}
	}
	r.logf("  reads at %d cases: raw and through the API, %d clients", z.Rows, z.ReadClients)
	return readLatencies(ctx, s, sample, z, r.fig)
}

// readLatencies times the reads of measureReads into fig.
func readLatencies(ctx context.Context, s *stack, sample []string, z sizes, fig *figures) error {
	c := newCaller(s.apiBase, z.ReadClients)
	pick := func() string { return sample[rand.IntN(len(sample))] }
	steps := []struct {
		into **dist
		op   func() error
	}{
		{&fig.CeilingPKRead, func() error {
			var doc []byte
			return s.db.QueryRow(ctx, `SELECT doc FROM cases WHERE id = $1`, pick()).Scan(&doc)
		}},
		// The query postgres.Store.Cases runs for ?status=in_progress&unit=sanitation&limit=50.
		{&fig.CeilingListQuery, func() error {
			rows, err := s.db.Query(ctx, `SELECT doc FROM cases WHERE status = ANY($1) AND unit = $2
				ORDER BY opened_at DESC, id DESC LIMIT $3`, []string{"in_progress"}, "sanitation", 51)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			return rows.Err()
		}},
		{&fig.HTTPOverhead, func() error { return c.call("GET", "/healthz", "", nil, 200, nil) }},
		{&fig.GetCase, func() error { return c.call("GET", "/v1/cases/"+pick(), "bench-supervisor", nil, 200, nil) }},
		{&fig.ListCases, func() error {
			return c.call("GET", "/v1/cases?status=in_progress&unit=sanitation&limit=50", "bench-supervisor", nil, 200, nil)
		}},
	}
	// In rounds, each measure in turn, so that whatever else the machine
	// does weighs on all alike.
	const n = 8
	lat, marks := make([]latencies, len(steps)), make([]rounds, len(steps))
	for range n {
		for i, st := range steps {
			if err := timedInto(&lat[i], z.ReadClients, z.Reads/n, st.op); err != nil {
				return err
			}
			marks[i].end(&lat[i])
		}
	}
	for i, st := range steps {
		d := marks[i].dist(&lat[i])
		*st.into = &d
	}
	return nil
}
