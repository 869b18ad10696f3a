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
// moves the cursor, in one transaction; see outbox.Store. The log is the
// cases' events and the sanctions', each read past its own cursor.
func (s *Store) Enqueue(ctx context.Context, sub duban.Subscription, limit int) (int, error) {
	// Idle, as a subscription mostly is, this writes nothing: a look at
	// the cursors and at the logs past them, and only then a transaction.
	cases, sanctions, err := s.cursors(ctx, s.pool, sub.Name, "")
	if errors.Is(err, pgx.ErrNoRows) {
		// A new subscription starts at the logs' end: it is offered what
		// happens from now on, not the history.
		_, err = s.pool.Exec(ctx, `INSERT INTO outbox_cursors (subscription, tx, position, sanction_tx, sanction_position)
			SELECT $1, end_tx, 9223372036854775807, end_tx, 9223372036854775807
			FROM (SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1)::text::xid8 AS end_tx) AS log_end
			ON CONFLICT DO NOTHING`, sub.Name)
		return 0, readErr(err)
	} else if err != nil {
		return 0, readErr(err)
	}
	next, err := readLog(ctx, s.pool, cases, 1)
	if err != nil {
		return 0, err
	}
	if len(next) == 0 {
		if next, err = readSanctionLog(ctx, s.pool, sanctions, 1); err != nil || len(next) == 0 {
			return 0, err
		}
	}
	read := 0
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cases, sanctions, err := s.cursors(ctx, tx, sub.Name, " FOR UPDATE")
		if err != nil {
			return err
		}
		events, err := readLog(ctx, tx, cases, limit)
		if err != nil {
			return err
		}
		more, err := readSanctionLog(ctx, tx, sanctions, limit)
		if err != nil {
			return err
		}
		read = len(events) + len(more)
		if read == 0 {
			return nil
		}
		batch := &pgx.Batch{}
		for _, e := range append(events, more...) {
			if sub.Wants(e.Type, e.Unit) {
				batch.Queue(`INSERT INTO deliveries (subscription, event_id, case_id, next_at) VALUES ($1, $2, $3, now())
					ON CONFLICT DO NOTHING`, sub.Name, e.ID, e.CaseID)
			}
		}
		if len(events) > 0 {
			cases = events[len(events)-1].Cursor
		}
		if len(more) > 0 {
			sanctions = more[len(more)-1].Cursor
		}
		batch.Queue(`UPDATE outbox_cursors SET tx = $2::text::xid8, position = $3, sanction_tx = $4::text::xid8, sanction_position = $5
			WHERE subscription = $1`, sub.Name, strconv.FormatUint(cases.Tx, 10), cases.Position,
			strconv.FormatUint(sanctions.Tx, 10), sanctions.Position)
		return tx.SendBatch(ctx, batch).Close()
	})
	return read, readErr(err)
}

// cursors reads a subscription's places in the cases' log and in the
// sanctions' (pgx.ErrNoRows: none yet).
func (s *Store) cursors(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, sub, lock string) (cases, sanctions app.LogCursor, err error) {
	var casesTx, sanctionsTx int64
	err = q.QueryRow(ctx, `SELECT tx::text::bigint, position, sanction_tx::text::bigint, sanction_position
		FROM outbox_cursors WHERE subscription = $1`+lock, sub).Scan(&casesTx, &cases.Position, &sanctionsTx, &sanctions.Position)
	cases.Tx, sanctions.Tx = uint64(casesTx), uint64(sanctionsTx)
	return cases, sanctions, err
}

// readSanctionLog reads the sanctions' events after the cursor, as
// readLog reads the cases': each as the outbox offers it, with its unit.
func readSanctionLog(ctx context.Context, q querier, after app.LogCursor, limit int) ([]app.Logged, error) {
	rows, err := q.Query(ctx, `
		SELECT tx::text::bigint, position, id, sanction_id, version, type, unit, occurred_at, actor, data
		FROM sanction_events
		WHERE (tx, position) > ($1::text::xid8, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY tx, position
		LIMIT $3`, strconv.FormatUint(after.Tx, 10), after.Position, limit)
	if err != nil {
		return nil, readErr(err)
	}
	defer rows.Close()
	var out []app.Logged
	for rows.Next() {
		var tx, position int64
		var e duban.SanctionEvent
		var unit string
		if err := rows.Scan(&tx, &position, &e.ID, &e.SanctionID, &e.Version, &e.Type, &unit, &e.OccurredAt, &e.Actor, &e.Data); err != nil {
			return nil, err
		}
		e.OccurredAt = e.OccurredAt.UTC()
		out = append(out, app.Logged{Event: e.Outbox(position), Unit: unit, Cursor: app.LogCursor{Tx: uint64(tx), Position: position}})
	}
	return out, readErr(rows.Err())
}

// Claim leases the due deliveries of sub; see outbox.Store. In order, a
// case is due when its first pending delivery is, and then all its pending
// deliveries are leased with it. A sanction's events are a stream as a
// case's are.
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
			RETURNING seq, attempts + 1 AS attempt, event_id, case_id)
		SELECT c.seq, c.attempt, coalesce(e.position, se.position), c.event_id, c.case_id, coalesce(e.version, se.version),
			coalesce(e.type, se.type), coalesce(e.occurred_at, se.occurred_at), coalesce(e.actor, se.actor), coalesce(e.data, se.data)
		FROM claimed c LEFT JOIN events e ON e.id = c.event_id LEFT JOIN sanction_events se ON se.id = c.event_id
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
	rows, err := s.pool.Query(ctx, `SELECT d.event_id::text, d.case_id::text, coalesce(e.position, se.position), coalesce(e.type, se.type),
			d.attempts, coalesce(d.last_error, '')
		FROM deliveries d LEFT JOIN events e ON e.id = d.event_id LEFT JOIN sanction_events se ON se.id = d.event_id
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
