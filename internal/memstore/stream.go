package memstore

import (
	"context"
	"slices"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// logged is an event of the log and its case. Appends take the store's
// lock, so positions commit in order: an event's cursor is its position
// twice over.
type logged struct {
	e  duban.Event
	st *stored
}

// Log returns up to limit events after the cursor, with their cases' units now.
func (s *Store) Log(_ context.Context, after app.LogCursor, limit int) ([]app.Logged, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.log, after.Position, func(l logged, p int64) int { return int(l.e.Position - p) })
	if i < len(s.log) && s.log[i].e.Position == after.Position {
		i++
	}
	var out []app.Logged
	for _, l := range s.log[i:min(len(s.log), i+limit)] {
		out = append(out, app.Logged{Event: l.e, Unit: l.st.c.Unit, Cursor: app.LogCursor{Tx: uint64(l.e.Position), Position: l.e.Position}})
	}
	return out, nil
}

// LogCursorAt returns the cursor of the event at position, or for 0, of the last event.
func (s *Store) LogCursorAt(_ context.Context, position int64) (app.LogCursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if position == 0 {
		return app.LogCursor{Tx: uint64(s.position), Position: s.position}, nil
	}
	if position < 0 || position > s.position {
		return app.LogCursor{}, duban.Errorf(duban.ENOTFOUND, "no event at position %d", position)
	}
	return app.LogCursor{Tx: uint64(position), Position: position}, nil
}

// CreateSession stores a session.
func (s *Store) CreateSession(_ context.Context, sess app.StoredSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions == nil {
		s.sessions = map[string]app.StoredSession{}
	}
	s.sessions[string(sess.Hash)] = sess
	return nil
}

// Session returns the unexpired session whose id hashes to hash.
func (s *Store) Session(_ context.Context, hash []byte, now time.Time) (app.StoredSession, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[string(hash)]
	if !ok || !sess.Expires.After(now) {
		return app.StoredSession{}, duban.Errorf(duban.ENOTFOUND, "no such session")
	}
	return sess, nil
}

// DeleteSession forgets a session.
func (s *Store) DeleteSession(_ context.Context, hash []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, string(hash))
	return nil
}

// SignInFailures returns the wrong passwords counted under keys.
func (s *Store) SignInFailures(_ context.Context, keys []string) (map[string]app.SignInFailures, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]app.SignInFailures{}
	for _, k := range keys {
		if f, ok := s.signInFailures[k]; ok {
			out[k] = f
		}
	}
	return out, nil
}

// FailSignIn counts a wrong password under each of keys at now; a count
// last failed before since starts again.
func (s *Store) FailSignIn(_ context.Context, keys []string, now, since time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signInFailures == nil {
		s.signInFailures = map[string]app.SignInFailures{}
	}
	for _, k := range keys {
		f := s.signInFailures[k]
		if f.Last.Before(since) {
			f.N = 0
		}
		s.signInFailures[k] = app.SignInFailures{N: f.N + 1, Last: now}
	}
	return nil
}

// ForgetSignInFailures forgets the count under key.
func (s *Store) ForgetSignInFailures(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.signInFailures, key)
	return nil
}

// CaseCounts counts the cases by status, and the open ones overdue and
// escalated at now.
func (s *Store) CaseCounts(_ context.Context, now time.Time) (duban.CaseCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := duban.CaseCounts{ByStatus: map[duban.Status]int{}, Escalated: map[int]int{}}
	for _, st := range s.cases {
		counts.ByStatus[st.c.Status]++
		if k := st.c.Clock(); k.Overdue(now) {
			counts.Overdue++
			if level := k.Level(now); level > 0 {
				counts.Escalated[level]++
			}
		}
	}
	return counts, nil
}
