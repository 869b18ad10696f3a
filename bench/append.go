package main

import (
	"context"
	"strings"
	"time"
)

// ceilingAppend times one-row INSERT transactions from z.Clients
// connections: what PostgreSQL does beside duban's appends.
func ceilingAppend(ctx context.Context, r *benchRun) error {
	s, clients, n := r.s, r.z.Clients, r.z.Commands
	r.logf("  ceiling: one-row append transactions in PostgreSQL")
	if _, err := s.db.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_append (
		position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, case_id uuid NOT NULL, data jsonb NOT NULL)`); err != nil {
		return err
	}
	payload := `{"note": "` + strings.Repeat("x", 500) + `"}`
	start := time.Now()
	d, err := timed(clients, n, func() error {
		tx, err := s.db.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO bench_append (case_id, data) VALUES (gen_random_uuid(), $1)`, payload); err != nil {
			tx.Rollback(ctx)
			return err
		}
		return tx.Commit(ctx)
	})
	rate := float64(n) / time.Since(start).Seconds()
	r.fig.CeilingAppendLatency, r.fig.CeilingAppendPerS = &d, &rate
	return err
}
