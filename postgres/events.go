package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/duban/duban"
)

// Append writes a command's events and the projected case in one
// transaction, sent as one batch: one round trip. It is idempotent: when the
// case is already past ExpectedVersion, it writes nothing and returns what is
// stored there, so a retry of an append that committed is recognised, never
// doubled.
func (s *Store) Append(ctx context.Context, a duban.Append) (duban.Appended, error) {
	if err := a.Check(); err != nil {
		return duban.Appended{}, err
	}
	out, err := s.appendBatch(ctx, a)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || (pgErr.Code != "DB001" && pgErr.Code != "23505") {
		return out, err
	}
	// The case is not at ExpectedVersion: an earlier attempt of this
	// command committed, or another writer did. Return what is there.
	events, commandIDs, err := readEvents(ctx, s.pool, a.CaseID, a.ExpectedVersion)
	if err != nil {
		return duban.Appended{}, err
	}
	if len(events) == 0 {
		return duban.Appended{}, duban.Errorf(duban.EINTERNAL, "case %s is behind version %d in the store", a.CaseID, a.ExpectedVersion)
	}
	return duban.Appended{Events: events, CommandIDs: commandIDs}, nil
}

// appendBatch sends the version check, the events, the projection row and
// what the events change of the scorecards' facts and stretches as one
// batch. PostgreSQL runs a batch as one implicit transaction: if any
// statement fails, none of it is kept.
func (s *Store) appendBatch(ctx context.Context, a duban.Append) (duban.Appended, error) {
	batch := &pgx.Batch{}
	batch.Queue(`SELECT duban_expect_version($1, $2)`, a.CaseID, a.ExpectedVersion)
	for _, e := range a.Events {
		actor, data, err := marshalEvent(e)
		if err != nil {
			return duban.Appended{}, err
		}
		batch.Queue(`INSERT INTO events (id, case_id, version, type, occurred_at, actor, data, command_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING position`,
			e.ID, e.CaseID, e.Version, e.Type, e.OccurredAt, actor, data, a.CommandID)
	}
	after := a.After()
	row, err := projectionRow(after)
	if err != nil {
		return duban.Appended{}, err
	}
	batch.Queue(upsertCase, row...)
	if after.DuplicateOf != "" && after.Status == duban.StatusCancelled {
		batch.Queue(`UPDATE cases SET duplicates = array_append(duplicates, $1::uuid)
			WHERE id = $2 AND NOT $1::uuid = ANY(duplicates)`, a.CaseID, after.DuplicateOf)
	}
	queueAssessed(batch, a)
	queueEarned(batch, a)
	results := s.pool.SendBatch(ctx, batch)
	defer results.Close()
	if _, err := results.Exec(); err != nil {
		return duban.Appended{}, err
	}
	out := duban.Appended{Events: make([]duban.Event, len(a.Events))}
	for i, e := range a.Events {
		if err := results.QueryRow().Scan(&e.Position); err != nil {
			return duban.Appended{}, err
		}
		out.Events[i] = e
		out.CommandIDs = append(out.CommandIDs, a.CommandID)
	}
	for i := 0; i < batch.Len()-1-len(a.Events); i++ {
		if _, err := results.Exec(); err != nil {
			return duban.Appended{}, err
		}
	}
	return out, results.Close()
}

func marshalEvent(e duban.Event) (actor, data []byte, err error) {
	if actor, err = json.Marshal(e.Actor); err != nil {
		return nil, nil, err
	}
	if data, err = json.Marshal(e.Data); err != nil {
		return nil, nil, err
	}
	return actor, data, nil
}

// Events returns a case's events in version order; ENOTFOUND when it has none.
func (s *Store) Events(ctx context.Context, caseID string) ([]duban.Event, error) {
	if !validID(caseID) {
		return nil, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	events, _, err := readEvents(ctx, s.pool, caseID, 0)
	if err != nil {
		return nil, readErr(err)
	}
	if len(events) == 0 {
		return nil, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	return events, nil
}

// EventsAfter returns a case's events after version, in version order.
func (s *Store) EventsAfter(ctx context.Context, caseID string, version int64) ([]duban.Event, error) {
	if !validID(caseID) {
		return nil, nil
	}
	events, _, err := readEvents(ctx, s.pool, caseID, version)
	return events, err
}

// CaseAfter returns a case as it stood after the last event the command
// commandID recorded, and false when that command recorded nothing: what
// the command answered, for a repeat of it whose first answer was lost.
func (s *Store) CaseAfter(ctx context.Context, caseID, commandID string) (duban.Case, bool, error) {
	if !validID(caseID) {
		return duban.Case{}, false, nil
	}
	events, commandIDs, err := readEvents(ctx, s.pool, caseID, 0)
	if err != nil {
		return duban.Case{}, false, readErr(err)
	}
	for i := len(commandIDs) - 1; i >= 0; i-- {
		if commandIDs[i] == commandID {
			return duban.Fold(duban.Case{}, events[:i+1]), true, nil
		}
	}
	return duban.Case{}, false, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// eventColumns selects events as scanEvents reads them.
const eventColumns = `SELECT position, id, case_id, version, type, occurred_at, actor, data, command_id FROM events`

func readEvents(ctx context.Context, q querier, caseID string, after int64) ([]duban.Event, []string, error) {
	rows, err := q.Query(ctx, eventColumns+` WHERE case_id = $1 AND version > $2 ORDER BY version`, caseID, after)
	if err != nil {
		return nil, nil, err
	}
	return scanEvents(rows)
}

// scanEvents reads rows selected with eventColumns, and closes them.
func scanEvents(rows pgx.Rows) ([]duban.Event, []string, error) {
	defer rows.Close()
	var events []duban.Event
	var commandIDs []string
	for rows.Next() {
		var e duban.Event
		var actor, data []byte
		var commandID string
		if err := rows.Scan(&e.Position, &e.ID, &e.CaseID, &e.Version, &e.Type, &e.OccurredAt, &actor, &data, &commandID); err != nil {
			return nil, nil, err
		}
		if err := decodeEvent(&e, actor, data); err != nil {
			return nil, nil, err
		}
		events = append(events, e)
		commandIDs = append(commandIDs, commandID)
	}
	return events, commandIDs, rows.Err()
}

// decodeEvent fills e's actor and data from their stored JSON.
func decodeEvent(e *duban.Event, actor, data []byte) error {
	if err := json.Unmarshal(actor, &e.Actor); err != nil {
		return fmt.Errorf("event %s: actor: %w", e.ID, err)
	}
	var err error
	if e.Data, err = duban.DecodeEventData(e.Type, data); err != nil {
		return fmt.Errorf("event %s: %w", e.ID, err)
	}
	e.OccurredAt = e.OccurredAt.UTC()
	return nil
}
