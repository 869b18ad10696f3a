// Package activities holds what the case workflow does to the world:
// appending events to the event store, and reading what it holds. Every
// activity is idempotent.
package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/duban/duban"
)

// EventStore appends and reads events. The PostgreSQL store is the real
// one; tests use the in-memory one (internal/memstore), held to the same
// contract (internal/storetest).
type EventStore interface {
	Append(ctx context.Context, a duban.Append) (duban.Appended, error)
	EventsAfter(ctx context.Context, caseID string, version int64) ([]duban.Event, error)
}

// Activities are the case workflow's activities.
type Activities struct {
	Store EventStore
}

// AppendEvents appends a command's events and updates the projection in one
// transaction. A retry after a committed attempt writes nothing and returns
// the stored events. A store that cannot be reached is retried; an
// inconsistency the store reports is not.
func (a *Activities) AppendEvents(ctx context.Context, in duban.Append) (duban.Appended, error) {
	out, err := a.Store.Append(ctx, in)
	var e *duban.Error
	if errors.As(err, &e) {
		return out, temporal.NewNonRetryableApplicationError(e.Message, e.Code, err)
	}
	return out, err
}

// EventsAfter returns the events the store holds for a case after version.
func (a *Activities) EventsAfter(ctx context.Context, caseID string, version int64) ([]duban.Event, error) {
	return a.Store.EventsAfter(ctx, caseID, version)
}
