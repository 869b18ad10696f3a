package postgres

import (
	"context"
	"fmt"
)

// Flaw is one thing an audit found wrong with the stored history.
type Flaw struct {
	CaseID  string
	Version int64 // 0 when the flaw is the case's, not one event's
	Problem string
}

func (f Flaw) String() string {
	if f.Version == 0 {
		return fmt.Sprintf("case %s: %s", f.CaseID, f.Problem)
	}
	return fmt.Sprintf("case %s, event %d: %s", f.CaseID, f.Version, f.Problem)
}

// Audit is what Verify found.
type Audit struct {
	Cases, Events int64
	// Flaws lists up to MaxFlaws of the flaws found; FlawCount counts them all.
	Flaws     []Flaw
	FlawCount int64
}

// MaxFlaws bounds the flaws an Audit lists.
const MaxFlaws = 100

// Verify checks the whole event store against its hash chains: every
// event's hash must be duban_event_hash of it and its predecessor's hash,
// every case's versions must run 1..n with no gap, and every case's
// projection row must stand at its last event. An event changed, removed or
// moved by hand shows up as a flaw; Verify itself writes nothing.
func (s *Store) Verify(ctx context.Context) (Audit, error) {
	var a Audit
	rows, err := s.pool.Query(ctx, `
		WITH chained AS (
			SELECT case_id, version,
			       hash = duban_event_hash(lag(hash) OVER w, e) AS hash_ok,
			       version = coalesce(lag(version) OVER w, 0) + 1 AS in_place
			FROM events AS e
			WINDOW w AS (PARTITION BY case_id ORDER BY version)
		), heads AS (
			SELECT case_id, max(version) AS version FROM events GROUP BY case_id
		)
		SELECT case_id::text, version,
		       CASE WHEN NOT in_place THEN 'its case has a gap before it: an event was removed or renumbered'
		            ELSE 'its hash does not match its content and its predecessor: it, or an event before it, was changed' END
		FROM chained WHERE NOT (hash_ok AND in_place)
		UNION ALL
		SELECT coalesce(c.id, h.case_id)::text, 0,
		       CASE WHEN h.case_id IS NULL THEN 'the projection has the case but the event store has no event of it'
		            WHEN c.id IS NULL THEN 'the event store has the case but the projection has no row for it'
		            ELSE format('the projection is at version %s but the last event is %s: events were removed or the projection is stale', c.version, h.version) END
		FROM cases AS c FULL JOIN heads AS h ON h.case_id = c.id
		WHERE c.id IS NULL OR h.case_id IS NULL OR c.version <> h.version
		ORDER BY 1, 2`)
	if err != nil {
		return a, fmt.Errorf("audit: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f Flaw
		if err := rows.Scan(&f.CaseID, &f.Version, &f.Problem); err != nil {
			return a, fmt.Errorf("audit: %w", err)
		}
		a.FlawCount++
		if len(a.Flaws) < MaxFlaws {
			a.Flaws = append(a.Flaws, f)
		}
	}
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("audit: %w", err)
	}
	err = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM events)`).Scan(&a.Cases, &a.Events)
	return a, err
}
