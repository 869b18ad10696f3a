package memstore

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/duban/duban"
)

// Engine runs commands on the cases of a Store in-process, as a case's
// workflow does without Temporal: one command at a time, decided on the
// case as stored, its events appended; a command repeated with the same
// command id answers as the first one did. It serves the tests of the
// doors.
type Engine struct {
	Store *Store
	// Now is the clock commands are decided at (default time.Now).
	Now func() time.Time

	mu sync.Mutex
}

// Open opens the case cmd names, as Execute does.
func (e *Engine) Open(ctx context.Context, cmd duban.OpenCase) (duban.Case, error) {
	return e.Execute(ctx, cmd.CaseID, cmd, "open:"+cmd.RequestHash)
}

// Execute decides cmd on the case as stored and appends its events.
func (e *Engine) Execute(ctx context.Context, caseID string, cmd duban.Command, commandID string) (duban.Case, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if commandID == "" {
		commandID = uuid.NewString() // one command, whatever happens
	} else if after, applied, err := e.Store.CaseAfter(ctx, caseID, commandID); err != nil || applied {
		return after, err
	}
	stored, err := e.Store.EventsAfter(ctx, caseID, 0)
	if err != nil {
		return duban.Case{}, err
	}
	c := duban.Fold(duban.Case{}, stored)
	now := time.Now()
	if e.Now != nil {
		now = e.Now()
	}
	events, err := duban.Decide(c, cmd, now)
	if err != nil || len(events) == 0 {
		return c, err
	}
	after := duban.Fold(c, events)
	if _, err := e.Store.Append(ctx, duban.Append{CaseID: caseID, ExpectedVersion: c.Version, CommandID: commandID, Events: events, Before: c}); err != nil {
		return duban.Case{}, err
	}
	return after, nil
}
