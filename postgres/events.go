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

// Append is one command's events for one case, and the case after them.
type Append struct {
	CaseID string
	// ExpectedVersion is the case's version before Events (0 for a new case).
	ExpectedVersion int64
	// CommandID names the command; stored with each event.
	CommandID string
	Events    []duban.Event
	Case      duban.Case
}

// Appended is what the store holds after ExpectedVersion once Append is done.
type Appended struct {
	// Events are the case's events after ExpectedVersion, as stored, with
	// their positions: the ones appended, or, when the case had already
	// moved past ExpectedVersion (a retried command whose first attempt was
	// committed), the ones found there.
	Events []duban.Event
	// CommandIDs are the command ids of Events, one each.
	CommandIDs []string
	// Written is true when this call appended the events.
	Written bool
}

// Append writes a command's events and the projected case in one
// transaction. It is idempotent: when the case is already past
// ExpectedVersion, it writes nothing and returns what is stored there, so a
// retry of an append that committed is recognised, never doubled.
func (s *Store) Append(ctx context.Context, a Append) (Appended, error) {
	if len(a.Events) == 0 {
		return Appended{}, errors.New("append: no events")
	}
	for i, e := range a.Events {
		if e.CaseID != a.CaseID || e.Version != a.ExpectedVersion+int64(i)+1 {
			return Appended{}, fmt.Errorf("append: event %d is %s v%d, want %s v%d", i, e.CaseID, e.Version, a.CaseID, a.ExpectedVersion+int64(i)+1)
		}
	}
	if a.Case.Version != a.Events[len(a.Events)-1].Version {
		return Appended{}, fmt.Errorf("append: case is at version %d, events end at %d", a.Case.Version, a.Events[len(a.Events)-1].Version)
	}
	for attempt := 0; ; attempt++ {
		out, err := s.append(ctx, a)
		var pgErr *pgconn.PgError
		if attempt == 0 && errors.As(err, &pgErr) && pgErr.Code == "23505" {
			// Another transaction created the case first: look again.
			continue
		}
		return out, err
	}
}

func (s *Store) append(ctx context.Context, a Append) (Appended, error) {
	var out Appended
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The projection row is the case's lock: it is always at the version
		// of the case's last event, because both are written together.
		var current int64
		err := tx.QueryRow(ctx, `SELECT version FROM cases WHERE id = $1 FOR UPDATE`, a.CaseID).Scan(&current)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if current > a.ExpectedVersion {
			out.Events, out.CommandIDs, err = readEvents(ctx, tx, a.CaseID, a.ExpectedVersion)
			return err
		}
		if current < a.ExpectedVersion {
			return duban.Errorf(duban.EINTERNAL, "case %s is at version %d in the store, but %d was expected", a.CaseID, current, a.ExpectedVersion)
		}
		batch := &pgx.Batch{}
		for _, e := range a.Events {
			actor, data, err := marshalEvent(e)
			if err != nil {
				return err
			}
			batch.Queue(`INSERT INTO events (id, case_id, version, type, occurred_at, actor, data, command_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING position`,
				e.ID, e.CaseID, e.Version, e.Type, e.OccurredAt, actor, data, a.CommandID)
		}
		results := tx.SendBatch(ctx, batch)
		out.Events = make([]duban.Event, len(a.Events))
		for i, e := range a.Events {
			if err := results.QueryRow().Scan(&e.Position); err != nil {
				results.Close()
				return err
			}
			out.Events[i] = e
			out.CommandIDs = append(out.CommandIDs, a.CommandID)
		}
		if err := results.Close(); err != nil {
			return err
		}
		out.Written = true
		return project(ctx, tx, a.Case)
	})
	if err != nil {
		return Appended{}, err
	}
	return out, nil
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
		return nil, err
	}
	if len(events) == 0 {
		return nil, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	return events, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func readEvents(ctx context.Context, q querier, caseID string, after int64) ([]duban.Event, []string, error) {
	rows, err := q.Query(ctx, `SELECT position, id, case_id, version, type, occurred_at, actor, data, command_id
		FROM events WHERE case_id = $1 AND version > $2 ORDER BY version`, caseID, after)
	if err != nil {
		return nil, nil, err
	}
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
		if err := json.Unmarshal(actor, &e.Actor); err != nil {
			return nil, nil, fmt.Errorf("event %s: actor: %w", e.ID, err)
		}
		if e.Data, err = duban.DecodeEventData(e.Type, data); err != nil {
			return nil, nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
		e.OccurredAt = e.OccurredAt.UTC()
		events = append(events, e)
		commandIDs = append(commandIDs, commandID)
	}
	return events, commandIDs, rows.Err()
}
