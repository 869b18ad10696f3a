package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// Log returns up to limit events after the cursor, in the order of the
// writing transaction, then position, of transactions that ended before the
// oldest one still running began: a later commit can then never land
// behind what a reader has read. Each comes with the unit its case is
// assigned to now.
func (s *Store) Log(ctx context.Context, after app.LogCursor, limit int) ([]app.Logged, error) {
	return readLog(ctx, s.pool, after, limit)
}

// readLog is Log, in a transaction or out of one.
func readLog(ctx context.Context, q querier, after app.LogCursor, limit int) ([]app.Logged, error) {
	rows, err := q.Query(ctx, `
		SELECT e.tx::text::bigint, c.unit, e.position, e.id, e.case_id, e.version, e.type, e.occurred_at, e.actor, e.data, e.command_id
		FROM events e LEFT JOIN cases c ON c.id = e.case_id
		WHERE (e.tx, e.position) > ($1::text::xid8, $2) AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY e.tx, e.position
		LIMIT $3`, strconv.FormatUint(after.Tx, 10), after.Position, limit)
	if err != nil {
		return nil, readErr(err)
	}
	defer rows.Close()
	var out []app.Logged
	for rows.Next() {
		var l app.Logged
		var tx int64
		var unit *string
		var actor, data []byte
		var commandID string
		e := &l.Event
		if err := rows.Scan(&tx, &unit, &e.Position, &e.ID, &e.CaseID, &e.Version, &e.Type, &e.OccurredAt, &actor, &data, &commandID); err != nil {
			return nil, err
		}
		if err := decodeEvent(e, actor, data); err != nil {
			return nil, err
		}
		if unit != nil {
			l.Unit = *unit
		}
		l.Cursor = app.LogCursor{Tx: uint64(tx), Position: e.Position}
		out = append(out, l)
	}
	return out, readErr(rows.Err())
}

// LogCursorAt returns the cursor of the event at position, or for 0, the
// cursor before every event of a transaction still running or yet to
// start.
func (s *Store) LogCursorAt(ctx context.Context, position int64) (app.LogCursor, error) {
	var tx int64
	var err error
	if position == 0 {
		err = s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1`).Scan(&tx)
		position = 1<<63 - 1
	} else {
		err = s.pool.QueryRow(ctx, `SELECT tx::text::bigint FROM events WHERE position = $1`, position).Scan(&tx)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return app.LogCursor{}, duban.Errorf(duban.ENOTFOUND, "no event at position %d", position)
	} else if err != nil {
		return app.LogCursor{}, readErr(err)
	}
	return app.LogCursor{Tx: uint64(tx), Position: position}, nil
}

// CreateSession stores a session, and forgets those that have expired.
func (s *Store) CreateSession(ctx context.Context, sess app.StoredSession) error {
	batch := &pgx.Batch{}
	batch.Queue(`DELETE FROM sessions WHERE expires_at < now()`)
	batch.Queue(`INSERT INTO sessions (id_sha256, principal_id, expires_at) VALUES ($1, $2, $3)`,
		sess.Hash, sess.PrincipalID, sess.Expires)
	return readErr(s.pool.SendBatch(ctx, batch).Close())
}

// Session returns the unexpired session whose id hashes to hash.
func (s *Store) Session(ctx context.Context, hash []byte, now time.Time) (app.StoredSession, error) {
	sess := app.StoredSession{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT principal_id, expires_at FROM sessions WHERE id_sha256 = $1 AND expires_at > $2`,
		hash, now).Scan(&sess.PrincipalID, &sess.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return app.StoredSession{}, duban.Errorf(duban.ENOTFOUND, "no such session")
	}
	return sess, readErr(err)
}

// DeleteSession forgets a session.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_sha256 = $1`, hash)
	return readErr(err)
}

// SignInFailures returns the wrong passwords counted under keys.
func (s *Store) SignInFailures(ctx context.Context, keys []string) (map[string]app.SignInFailures, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, n, last_at FROM sign_in_failures WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, readErr(err)
	}
	out := map[string]app.SignInFailures{}
	var key string
	var f app.SignInFailures
	_, err = pgx.ForEachRow(rows, []any{&key, &f.N, &f.Last}, func() error {
		out[key] = f
		return nil
	})
	return out, readErr(err)
}

// FailSignIn counts a wrong password under each of keys at now, in one
// statement per key (a count last failed before since starts again), and
// forgets counts a day old.
func (s *Store) FailSignIn(ctx context.Context, keys []string, now, since time.Time) error {
	batch := &pgx.Batch{}
	for _, k := range keys {
		batch.Queue(`INSERT INTO sign_in_failures AS f (key, n, last_at) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO UPDATE SET n = CASE WHEN f.last_at < $3 THEN 1 ELSE f.n + 1 END, last_at = $2`, k, now, since)
	}
	batch.Queue(`DELETE FROM sign_in_failures WHERE last_at < $1::timestamptz - interval '1 day'`, now)
	return readErr(s.pool.SendBatch(ctx, batch).Close())
}

// ForgetSignInFailures forgets the count under key.
func (s *Store) ForgetSignInFailures(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sign_in_failures WHERE key = $1`, key)
	return readErr(err)
}
