package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// queueEarned queues the ledger's rows for the points a.Events earned, in
// the append's batch: earned exactly when the event is recorded.
func queueEarned(batch *pgx.Batch, a duban.Append) {
	for _, e := range a.Events {
		if n := e.Earned(); n > 0 {
			batch.Queue(`INSERT INTO reporter_points (reporter, at, points, case_id) VALUES ($1, $2, $3, $4)`,
				a.Before.Reporter, e.OccurredAt, n, e.CaseID)
		}
	}
}

// AddFollow records a follow link.
func (s *Store) AddFollow(ctx context.Context, token [32]byte, caseID string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO follow_links (token_sha256, case_id, created_at) VALUES ($1, $2, $3)`, token[:], caseID, at)
	return err
}

// FollowedCase returns the case of a follow link.
func (s *Store) FollowedCase(ctx context.Context, token [32]byte) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT case_id::text FROM follow_links WHERE token_sha256 = $1`, token[:]).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", duban.Errorf(duban.ENOTFOUND, "no report has this follow link")
	}
	return id, readErr(err)
}

// Reporter returns the id of the reporter with phone, recording newID for
// it on first sight.
func (s *Store) Reporter(ctx context.Context, phone [32]byte, masked, newID string, at time.Time) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO reporters (id, phone_sha256, masked, first_seen) VALUES ($1, $2, $3, $4)
			ON CONFLICT (phone_sha256) DO NOTHING RETURNING id)
		SELECT id FROM ins UNION ALL SELECT id FROM reporters WHERE phone_sha256 = $2 LIMIT 1`,
		newID, phone[:], masked, at).Scan(&id)
	return id, readErr(err)
}

// KnownReporter returns the id of the reporter with phone.
func (s *Store) KnownReporter(ctx context.Context, phone [32]byte) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT id FROM reporters WHERE phone_sha256 = $1`, phone[:]).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", duban.Errorf(duban.ENOTFOUND, "no reporter has this phone")
	}
	return id, readErr(err)
}

// Points tallies a reporter's ledger.
func (s *Store) Points(ctx context.Context, reporter string, day, month time.Time) (duban.PointsTally, error) {
	var t duban.PointsTally
	err := s.pool.QueryRow(ctx, `SELECT
			coalesce(sum(points) FILTER (WHERE points > 0 AND at >= $2), 0),
			coalesce(sum(points) FILTER (WHERE points > 0 AND at >= $3), 0),
			coalesce(sum(points), 0)
		FROM reporter_points WHERE reporter = $1`, reporter, day, month).Scan(&t.Today, &t.Month, &t.Balance)
	return t, readErr(err)
}

// Redeem records a redemption within the balance: the reporter's rows are
// locked while the balance is read, so two redemptions never both spend it.
func (s *Store) Redeem(ctx context.Context, r duban.Redemption) (int, error) {
	var balance int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, r.Reporter); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(points), 0) FROM reporter_points WHERE reporter = $1`, r.Reporter).Scan(&balance); err != nil {
			return err
		}
		if err := r.Within(balance); err != nil {
			return err
		}
		balance -= r.Points
		_, err := tx.Exec(ctx, `INSERT INTO reporter_points (reporter, at, points, by_actor, note) VALUES ($1, $2, $3, $4, $5)`,
			r.Reporter, r.At, -r.Points, r.By, r.Note)
		return err
	})
	return balance, readErr(err)
}

// Leaderboard ranks reporters by the points earned in [from, to).
func (s *Store) Leaderboard(ctx context.Context, from, to time.Time, n int) ([]duban.Leader, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.masked, sum(p.points)::int, count(*)::int
		FROM reporter_points p JOIN reporters r ON r.id = p.reporter
		WHERE p.points > 0 AND p.at >= $1 AND p.at < $2
		GROUP BY r.id, r.masked ORDER BY sum(p.points) DESC, min(p.at), r.id LIMIT $3`, from, to, n)
	if err != nil {
		return nil, readErr(err)
	}
	leaders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (duban.Leader, error) {
		var l duban.Leader
		err := row.Scan(&l.Masked, &l.Points, &l.Reports)
		return l, err
	})
	for i := range leaders {
		leaders[i].Rank = i + 1
	}
	return leaders, readErr(err)
}

// PublicRequestsSQL is the statement PublicRequests runs for f, and its
// arguments: the benchmarks time it raw.
func PublicRequestsSQL(f duban.CaseFilter) (string, []any) {
	var q query
	q.filter(f)
	return `SELECT coalesce(number, ''), status, coalesce(doc->>'outcome', ''), category, doc->>'description',
			coalesce(doc->'location'->>'address', ''), (doc->'location'->>'lat')::float8, (doc->'location'->>'lon')::float8,
			coalesce(unit, ''), opened_at, updated_at, (doc->'deadlines'->>'resolve_by')::timestamptz,
			ARRAY(SELECT e->>'url' FROM jsonb_array_elements(coalesce(doc->'evidence', '[]')) AS e WHERE e->>'kind' = 'photo' AND e ? 'url')
		FROM cases` + q.whereClause() + ` ORDER BY opened_at DESC, id DESC LIMIT ` + q.arg(pageSize(f)), q.args
}

// PublicRequests returns the cases f selects as Open311 shows them, read
// from the columns and the case's JSON without decoding it in Go.
func (s *Store) PublicRequests(ctx context.Context, f duban.CaseFilter) ([]app.PublicRequest, error) {
	sql, args := PublicRequestsSQL(f)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (app.PublicRequest, error) {
		var r app.PublicRequest
		err := row.Scan(&r.Number, &r.Status, &r.Outcome, &r.Category, &r.Description, &r.Address, &r.Lat, &r.Lon,
			&r.Unit, &r.OpenedAt, &r.UpdatedAt, &r.ResolveBy, &r.Media)
		if len(r.Media) == 0 {
			r.Media = nil
		}
		return r, err
	})
	return out, readErr(err)
}
