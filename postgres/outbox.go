package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/outbox"
)

// Enqueue records the deliveries sub wants of the log past its cursor and
// moves the cursor, in one transaction; see outbox.Store.
func (s *Store) Enqueue(ctx context.Context, sub duban.Subscription, limit int) (int, error) {
	// Idle, as a subscription mostly is, this writes nothing: a look at
	// the cursor and at the log past it, and only then a transaction.
	cursor, err := s.cursor(ctx, s.pool, sub.Name, "")
	if errors.Is(err, pgx.ErrNoRows) {
		// A new subscription starts at the log's end: it is offered what
		// happens from now on, not the history.
		_, err = s.pool.Exec(ctx, `INSERT INTO outbox_cursors (subscription, tx, position)
			VALUES ($1, (pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1)::text::xid8, 9223372036854775807)
			ON CONFLICT DO NOTHING`, sub.Name)
		return 0, readErr(err)
	} else if err != nil {
		return 0, readErr(err)
	}
	if next, err := readLog(ctx, s.pool, cursor, 1); err != nil || len(next) == 0 {
		return 0, err
	}
	read := 0
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cursor, err := s.cursor(ctx, tx, sub.Name, " FOR UPDATE")
		if err != nil {
			return err
		}
		events, err := readLog(ctx, tx, cursor, limit)
		if err != nil || len(events) == 0 {
			return err
		}
		read = len(events)
		batch := &pgx.Batch{}
		for _, e := range events {
			if sub.Wants(e.Type, e.Unit) {
				batch.Queue(`INSERT INTO deliveries (subscription, event_id, case_id, next_at) VALUES ($1, $2, $3, now())
					ON CONFLICT DO NOTHING`, sub.Name, e.ID, e.CaseID)
			}
		}
		last := events[len(events)-1].Cursor
		batch.Queue(`UPDATE outbox_cursors SET tx = $2::text::xid8, position = $3 WHERE subscription = $1`,
			sub.Name, strconv.FormatUint(last.Tx, 10), last.Position)
		return tx.SendBatch(ctx, batch).Close()
	})
	return read, readErr(err)
}

// cursor reads a subscription's place in the log (pgx.ErrNoRows: none yet).
func (s *Store) cursor(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, sub, lock string) (app.LogCursor, error) {
	var c app.LogCursor
	var txID int64
	err := q.QueryRow(ctx, `SELECT tx::text::bigint, position FROM outbox_cursors WHERE subscription = $1`+lock, sub).Scan(&txID, &c.Position)
	c.Tx = uint64(txID)
	return c, err
}

// Claim leases the due deliveries of sub; see outbox.Store. In order, a
// case is due when its first pending delivery is, and then all its pending
// deliveries are leased with it.
func (s *Store) Claim(ctx context.Context, sub string, now time.Time, lease time.Duration, limit int, inOrder bool) ([]outbox.Delivery, error) {
	rows, err := s.pool.Query(ctx, `
		WITH due AS (
			SELECT d.seq, d.case_id FROM deliveries d
			WHERE d.subscription = $1 AND d.status = 'pending' AND d.next_at <= $2
			  AND (NOT $5 OR NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.subscription = d.subscription AND p.case_id = d.case_id
			                  AND p.status = 'pending' AND p.seq < d.seq))
			ORDER BY d.seq LIMIT $4
			FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE deliveries SET next_at = $2::timestamptz + $3 * interval '1 millisecond'
			WHERE seq IN (SELECT seq FROM due)
			   OR ($5 AND subscription = $1 AND status = 'pending' AND case_id IN (SELECT case_id FROM due))
			RETURNING seq, attempts + 1 AS attempt, event_id)
		SELECT c.seq, c.attempt, e.position, e.id, e.case_id, e.version, e.type, e.occurred_at, e.actor, e.data
		FROM claimed c JOIN events e ON e.id = c.event_id
		ORDER BY c.seq`, sub, now, lease.Milliseconds(), limit, inOrder)
	if err != nil {
		return nil, readErr(err)
	}
	defer rows.Close()
	var out []outbox.Delivery
	for rows.Next() {
		var d outbox.Delivery
		var actor, data []byte
		e := &d.Event
		if err := rows.Scan(&d.Seq, &d.Attempt, &e.Position, &e.ID, &e.CaseID, &e.Version, &e.Type, &e.OccurredAt, &actor, &data); err != nil {
			return nil, err
		}
		if err := decodeEvent(e, actor, data); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, readErr(rows.Err())
}

// Delivered marks deliveries taken.
func (s *Store) Delivered(ctx context.Context, seqs []int64, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = 'delivered', delivered_at = $2, last_error = NULL WHERE seq = ANY($1)`, seqs, at)
	return readErr(err)
}

// Retry records a delivery's failed attempt and sets its next.
func (s *Store) Retry(ctx context.Context, seq int64, attempt int, next time.Time, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET attempts = $2, next_at = $3, last_error = $4 WHERE seq = $1 AND status = 'pending'`,
		seq, attempt, next, reason)
	return readErr(err)
}

// GiveUp records a delivery's last failed attempt and keeps it as failed,
// for replay.
func (s *Store) GiveUp(ctx context.Context, seq int64, attempt int, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET status = 'failed', attempts = $2, last_error = $3 WHERE seq = $1 AND status = 'pending'`,
		seq, attempt, reason)
	return readErr(err)
}

// Release makes deliveries leased but not attempted due at at.
func (s *Store) Release(ctx context.Context, seqs []int64, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE deliveries SET next_at = $2 WHERE seq = ANY($1) AND status = 'pending'`, seqs, at)
	return readErr(err)
}

// Disable stops a subscription until a replay.
func (s *Store) Disable(ctx context.Context, sub, reason string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO subscriptions_disabled (subscription, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING`, sub, reason)
	return readErr(err)
}

// Disabled says whether a subscription is disabled.
func (s *Store) Disabled(ctx context.Context, sub string) (bool, error) {
	var disabled bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM subscriptions_disabled WHERE subscription = $1)`, sub).Scan(&disabled)
	return disabled, readErr(err)
}

// FailedDeliveries lists up to limit deliveries of sub kept as failed, the
// oldest first.
func (s *Store) FailedDeliveries(ctx context.Context, sub string, limit int) ([]app.FailedDelivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.event_id::text, d.case_id::text, e.position, e.type, d.attempts, coalesce(d.last_error, '')
		FROM deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.subscription = $1 AND d.status = 'failed' ORDER BY d.seq LIMIT $2`, sub, limit)
	if err != nil {
		return nil, readErr(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[app.FailedDelivery])
	return out, readErr(err)
}

// Replay offers sub's failed deliveries again, from their first attempt,
// and enables the subscription if a 410 had disabled it; it returns how
// many deliveries it put back.
func (s *Store) Replay(ctx context.Context, sub string) (int, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', attempts = 0, next_at = now() WHERE subscription = $1 AND status = 'failed'`, sub)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM subscriptions_disabled WHERE subscription = $1`, sub)
		return err
	})
	return int(n), readErr(err)
}

// OutboxCounts counts each subscription's deliveries waiting (pending) and
// kept as failed.
func (s *Store) OutboxCounts(ctx context.Context) (map[string][2]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT subscription, count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'failed')
		FROM deliveries WHERE status IN ('pending', 'failed') GROUP BY subscription`)
	if err != nil {
		return nil, readErr(err)
	}
	out := map[string][2]int{}
	var sub string
	var pending, failed int
	_, err = pgx.ForEachRow(rows, []any{&sub, &pending, &failed}, func() error { out[sub] = [2]int{pending, failed}; return nil })
	return out, readErr(err)
}
