package main

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// statement is PostgreSQL's time executing one statement over a burst, by
// pg_stat_statements (planning not included), in whichever database ran it:
// duban's, Temporal's persistence or its visibility store.
type statement struct {
	Database string  `json:"database"`
	Query    string  `json:"query"`
	Calls    int64   `json:"calls"`
	TotalMS  float64 `json:"total_ms"`
}

// topStatements is how many statements a burst keeps, the costliest first.
const topStatements = 15

// resetStatementsAt forgets PostgreSQL's statement times at instant at, so
// that statementsSince tells the burst's; the returned function waits for
// it. The connection is taken beforehand, so that the reset is on time.
func (s *stack) resetStatementsAt(ctx context.Context, at time.Time) func() error {
	done := make(chan error, 1)
	go func() {
		conn, err := s.admin.Acquire(ctx)
		if err != nil {
			done <- err
			return
		}
		defer conn.Release()
		time.Sleep(time.Until(at))
		_, err = conn.Exec(ctx, `SELECT pg_stat_statements_reset()`)
		done <- err
	}()
	return func() error { return <-done }
}

// statementsSince returns the costliest statements since the last reset.
func (s *stack) statementsSince(ctx context.Context) ([]statement, error) {
	rows, err := s.admin.Query(ctx, `SELECT d.datname, left(regexp_replace(s.query, '\s+', ' ', 'g'), 200), s.calls, s.total_exec_time
		FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
		ORDER BY s.total_exec_time DESC LIMIT $1`, topStatements)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (statement, error) {
		var st statement
		err := row.Scan(&st.Database, &st.Query, &st.Calls, &st.TotalMS)
		st.TotalMS = math.Round(st.TotalMS*10) / 10
		return st, err
	})
}
