package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
)

// RecordRound records a planned round and the sites it drew. A round
// whose id is there already is left as it is and answered, created false.
func (s *Store) RecordRound(ctx context.Context, r duban.Round) (duban.Round, bool, error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return duban.Round{}, false, err
	}
	created := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO rounds (id, planned_at, due_by, doc) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.PlannedAt, r.DueBy, doc)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		created = true
		rows := make([][]any, len(r.Sites))
		for i, rs := range r.Sites {
			rows[i] = []any{r.ID, rs.Site, rs.Inspector}
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"round_sites"}, []string{"round", "site", "inspector"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return duban.Round{}, false, err
	}
	stored, err := s.Round(ctx, r.ID)
	return stored, created, err
}

// roundColumns are what reads of rounds select: the round as planned,
// its sites inspected and the steps of its ladder taken.
const roundColumns = `doc, ARRAY(SELECT site FROM inspections WHERE round = rounds.id),
	(SELECT coalesce(jsonb_agg(doc ORDER BY due_at, level), '[]') FROM round_steps WHERE round = rounds.id)`

func scanRound(row pgx.CollectableRow) (duban.Round, error) {
	var doc, steps []byte
	var inspected []string
	if err := row.Scan(&doc, &inspected, &steps); err != nil {
		return duban.Round{}, err
	}
	var r duban.Round
	if err := json.Unmarshal(doc, &r); err != nil {
		return duban.Round{}, fmt.Errorf("decode round: %w", err)
	}
	if err := json.Unmarshal(steps, &r.Steps); err != nil {
		return duban.Round{}, fmt.Errorf("decode round steps: %w", err)
	}
	if len(r.Steps) == 0 {
		r.Steps = nil
	}
	done := make(map[string]bool, len(inspected))
	for _, site := range inspected {
		done[site] = true
	}
	for i := range r.Sites {
		r.Sites[i].Inspected = done[r.Sites[i].Site]
	}
	r.Settle()
	return r, nil
}

// Round returns a round and what of it is inspected; ENOTFOUND when
// there is none.
func (s *Store) Round(ctx context.Context, id string) (duban.Round, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+roundColumns+` FROM rounds WHERE id = $1`, id)
	if err != nil {
		return duban.Round{}, readErr(err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRound)
	if errors.Is(err, pgx.ErrNoRows) {
		return duban.Round{}, duban.Errorf(duban.ENOTFOUND, "round not found")
	}
	return r, readErr(err)
}

// Rounds lists the latest rounds planned, at most limit: those with a
// site for inspector, or every one when inspector is "".
func (s *Store) Rounds(ctx context.Context, inspector string, limit int) ([]duban.Round, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+roundColumns+` FROM rounds
		WHERE $1 = '' OR id IN (SELECT round FROM round_sites WHERE inspector = $1)
		ORDER BY planned_at DESC, id DESC LIMIT $2`, inspector, limit)
	if err != nil {
		return nil, readErr(err)
	}
	rounds, err := pgx.CollectRows(rows, scanRound)
	return rounds, readErr(err)
}

// RecordRoundStep records a step of a round's ladder, unless that level
// is recorded already (recorded false).
func (s *Store) RecordRoundStep(ctx context.Context, step duban.RoundStep) (bool, error) {
	doc, err := json.Marshal(step)
	if err != nil {
		return false, err
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO round_steps (round, level, due_at, recorded_at, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (round, level) DO NOTHING`, step.Round, step.Level, step.DueAt, step.RecordedAt, doc)
	return tag.RowsAffected() == 1, err
}

// RecordInspection records a site's inspection in its round. One there
// already is left as it is and answered, created false.
func (s *Store) RecordInspection(ctx context.Context, in duban.SiteInspection) (duban.SiteInspection, bool, error) {
	doc, err := json.Marshal(in)
	if err != nil {
		return duban.SiteInspection{}, false, err
	}
	failed := in.Failed()
	if failed == nil {
		failed = []string{}
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO inspections (round, site, type, unit, area, inspector, at, recorded_at, score, passed, failed, doc)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (round, site) DO NOTHING`,
		in.Round, in.Site, in.Type, nullable(in.Unit), nullable(in.Area), in.Inspector, in.At, in.RecordedAt, in.Score, in.Passed, failed, doc)
	if err != nil {
		return duban.SiteInspection{}, false, err
	}
	if tag.RowsAffected() == 1 {
		return in, true, nil
	}
	stored, err := s.Inspection(ctx, in.Round, in.Site)
	if err == nil && stored == nil {
		err = fmt.Errorf("inspection of %s in %s neither recorded nor found", in.Site, in.Round)
	}
	if err != nil {
		return duban.SiteInspection{}, false, err
	}
	return *stored, false, nil
}

// Inspection returns site's inspection in round; nil when there is none.
func (s *Store) Inspection(ctx context.Context, round, site string) (*duban.SiteInspection, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM inspections WHERE round = $1 AND site = $2`, round, site).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, readErr(err)
	}
	var in duban.SiteInspection
	if err := json.Unmarshal(doc, &in); err != nil {
		return nil, fmt.Errorf("decode inspection: %w", err)
	}
	return &in, nil
}

// LastFinding returns the last case opened for item at site but the case
// except; nil when there is none. A case cancelled as invalid or as a
// duplicate found nothing, and does not count.
func (s *Store) LastFinding(ctx context.Context, site, item, except string) (*duban.LastFinding, error) {
	var last duban.LastFinding
	err := s.pool.QueryRow(ctx, `SELECT id::text, opened_at, coalesce((doc->'found'->>'recurrence')::int, 1) FROM cases
		WHERE site = $1 AND item = $2 AND id::text <> $3 AND coalesce(doc->>'outcome', '') NOT IN ('invalid', 'duplicate')
		ORDER BY opened_at DESC, id DESC LIMIT 1`, site, item, except).Scan(&last.Case, &last.OpenedAt, &last.Recurrence)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, readErr(err)
	}
	last.OpenedAt = last.OpenedAt.UTC()
	return &last, nil
}

// siteFilters adds q's type, area and unit to w, as the columns of a
// site or of an inspection (the site as it was) say them.
func siteFilters(w *query, q duban.SiteReportQuery) {
	for _, eq := range []struct{ col, val string }{{"type", q.Type}, {"area", q.Area}, {"unit", q.Unit}} {
		if eq.val != "" {
			w.and(eq.col + " = " + w.arg(eq.val))
		}
	}
}

// SiteCountsSQL is the statement SiteCounts runs for q, and its
// arguments: the benchmarks time it raw.
func SiteCountsSQL(q duban.SiteReportQuery) (string, []any) {
	var w query
	w.and("active")
	siteFilters(&w, q)
	sites := w.whereClause()
	w.and("at >= " + w.arg(q.From))
	w.and("at < " + w.arg(q.To))
	siteFilters(&w, q)
	inspected := w.whereClause()
	return `WITH a AS MATERIALIZED (
			SELECT id, type FROM sites` + sites + `
		), s AS (
			SELECT type, count(*) AS sites FROM a GROUP BY type
		), i AS MATERIALIZED (
			SELECT type, site, score, passed, failed FROM inspections` + inspected + `
		), c AS (
			SELECT i.type, count(DISTINCT a.id) AS inspected, count(*) AS inspections, count(*) FILTER (WHERE passed) AS passed,
				sum(score) AS score_sum
			FROM i LEFT JOIN a ON a.id = i.site AND a.type = i.type GROUP BY i.type
		), f AS (
			SELECT type, jsonb_agg(jsonb_build_object('item', item, 'failed', n)) AS items
			FROM (SELECT type, item, count(*) AS n FROM i, unnest(failed) AS item GROUP BY type, item) AS by_item
			GROUP BY type
		)
		SELECT type, coalesce(sites, 0), coalesce(inspected, 0), coalesce(inspections, 0), coalesce(passed, 0),
			coalesce(score_sum, 0), coalesce(items, '[]')
		FROM s FULL JOIN c USING (type) LEFT JOIN f USING (type)`, w.args
}

// SiteCounts counts the site report's figures over q, per site type with
// an active site or an inspection; Policy.SiteRows completes them.
func (s *Store) SiteCounts(ctx context.Context, q duban.SiteReportQuery) ([]duban.SiteTypeRow, error) {
	sql, args := SiteCountsSQL(q)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.SiteTypeRow, error) {
		var r duban.SiteTypeRow
		var items []byte
		if err := row.Scan(&r.Type, &r.Sites, &r.Inspected, &r.Inspections, &r.Passed, &r.ScoreSum, &items); err != nil {
			return r, err
		}
		return r, json.Unmarshal(items, &r.Items)
	})
	return out, readErr(err)
}

// Inspections lists the inspections of site in [from, to), the latest
// first.
func (s *Store) Inspections(ctx context.Context, site string, from, to time.Time) ([]duban.SiteInspection, error) {
	rows, err := s.pool.Query(ctx, `SELECT doc FROM inspections WHERE site = $1 AND at >= $2 AND at < $3 ORDER BY at DESC, round DESC`,
		site, from, to)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.SiteInspection, error) {
		var doc []byte
		var in duban.SiteInspection
		if err := row.Scan(&doc); err != nil {
			return in, err
		}
		return in, json.Unmarshal(doc, &in)
	})
	return out, readErr(err)
}

// SiteScoresSQL is the statement SiteScores runs for q, and its
// arguments: the benchmarks time it raw.
func SiteScoresSQL(q duban.SiteReportQuery) (string, []any) {
	var w query
	w.and("at >= " + w.arg(q.From))
	w.and("at < " + w.arg(q.To))
	siteFilters(&w, q)
	return `SELECT site, min(type), count(*), sum(score), sum(cardinality(failed)) FROM inspections` + w.whereClause() + ` GROUP BY site`, w.args
}

// SiteScores counts each site inspected over q: its inspections, the sum
// of their scores and the items they failed.
func (s *Store) SiteScores(ctx context.Context, q duban.SiteReportQuery) ([]duban.SiteScore, error) {
	sql, args := SiteScoresSQL(q)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.SiteScore, error) {
		var r duban.SiteScore
		return r, row.Scan(&r.Site, &r.Type, &r.Inspections, &r.ScoreSum, &r.Failed)
	})
	return out, readErr(err)
}
