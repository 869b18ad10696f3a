// Package memstore is an in-memory event store and case projection with
// the PostgreSQL store's semantics, held to the same contract
// (internal/storetest), and an engine that decides commands in-process. It
// serves the tests of the workflow and of the doors, which then need no
// PostgreSQL or Temporal server.
package memstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// Store holds events and the projection of their cases in memory.
type Store struct {
	mu        sync.Mutex
	position  int64
	cases     map[string]*stored
	bulletins map[string]duban.Bulletin
	// sanctions are the bulletins' sanctions as they are now,
	// sanctionEvents what made them so.
	sanctions      map[string]duban.Sanction
	sanctionEvents []duban.SanctionEvent
	log            []logged // every event, in position order
	sessions       map[string]app.StoredSession
	signInFailures map[string]app.SignInFailures
	numbers        map[int]int // the last case number drawn, by year
	sites          siteStore
	attached       map[string]app.Attachment
	residents      residents

	// LoseAnswers makes the next n appends commit, then fail as if the
	// answer was lost on the way back.
	LoseAnswers int
}

// stored is one case: its events, the command id of each, the projected
// case and the cases cancelled as its duplicates, in the order they were.
type stored struct {
	events     []duban.Event
	commandIDs []string
	c          duban.Case
	duplicates []string
}

// New returns an empty store.
func New() *Store { return &Store{cases: map[string]*stored{}} }

// Append appends a command's events and projects the case, as one step. It
// is idempotent: when the case is already past ExpectedVersion, it writes
// nothing and returns what is stored there.
func (s *Store) Append(_ context.Context, a duban.Append) (duban.Appended, error) {
	if err := a.Check(); err != nil {
		return duban.Appended{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cases[a.CaseID]
	if st == nil {
		st = &stored{}
	}
	switch have := int64(len(st.events)); {
	case have > a.ExpectedVersion:
		return duban.Appended{Events: slices.Clone(st.events[a.ExpectedVersion:]), CommandIDs: slices.Clone(st.commandIDs[a.ExpectedVersion:])}, nil
	case have < a.ExpectedVersion:
		return duban.Appended{}, duban.Errorf(duban.EINTERNAL, "case %s is behind version %d in the store", a.CaseID, a.ExpectedVersion)
	}
	s.cases[a.CaseID] = st
	out := duban.Appended{}
	for _, e := range a.Events {
		s.position++
		e.Position = s.position
		st.events = append(st.events, e)
		st.commandIDs = append(st.commandIDs, a.CommandID)
		out.Events = append(out.Events, e)
		out.CommandIDs = append(out.CommandIDs, a.CommandID)
		s.log = append(s.log, logged{e, st})
	}
	st.c = a.After()
	s.earn(a)
	if st.c.Status == duban.StatusCancelled && st.c.DuplicateOf != "" {
		if o := s.cases[st.c.DuplicateOf]; o != nil && !slices.Contains(o.duplicates, a.CaseID) {
			o.duplicates = append(o.duplicates, a.CaseID)
		}
	}
	if s.LoseAnswers > 0 {
		s.LoseAnswers--
		return duban.Appended{}, errors.New("connection reset")
	}
	return out, nil
}

// NextCaseNumber draws the next number of year's sequence.
func (s *Store) NextCaseNumber(_ context.Context, year int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.numbers == nil {
		s.numbers = map[int]int{}
	}
	s.numbers[year]++
	return s.numbers[year], nil
}

// EventsAfter returns a case's events after version, in version order.
func (s *Store) EventsAfter(_ context.Context, caseID string, version int64) ([]duban.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cases[caseID]
	if st == nil || version >= int64(len(st.events)) {
		return nil, nil
	}
	return slices.Clone(st.events[max(version, 0):]), nil
}

// Events returns a case's events in version order; ENOTFOUND when it has none.
func (s *Store) Events(ctx context.Context, caseID string) ([]duban.Event, error) {
	events, _ := s.EventsAfter(ctx, caseID, 0)
	if len(events) == 0 {
		return nil, notFound()
	}
	return events, nil
}

// CaseAfter returns a case as it stood after the last event the command
// commandID recorded, and false when that command recorded nothing.
func (s *Store) CaseAfter(_ context.Context, caseID, commandID string) (duban.Case, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cases[caseID]
	if st == nil {
		return duban.Case{}, false, nil
	}
	for i := len(st.commandIDs) - 1; i >= 0; i-- {
		if st.commandIDs[i] == commandID {
			return duban.Fold(duban.Case{}, st.events[:i+1]), true, nil
		}
	}
	return duban.Case{}, false, nil
}

// Case returns the case with id, whole; ENOTFOUND when there is none.
func (s *Store) Case(_ context.Context, id string) (app.Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cases[id]
	if st == nil {
		return app.Row{}, notFound()
	}
	return app.Row{Case: st.c, Duplicates: slices.Clone(st.duplicates)}, nil
}

// Listing returns the case with id as reads send it; ENOTFOUND when there
// is none.
func (s *Store) Listing(_ context.Context, id string) (app.Listed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cases[id]
	if st == nil {
		return app.Listed{}, notFound()
	}
	return st.listed()
}

func (st *stored) listed() (app.Listed, error) {
	view, err := json.Marshal(st.c.View())
	if err != nil {
		return app.Listed{}, err
	}
	return app.Listed{ID: st.c.ID, Unit: st.c.Unit, OpenedAt: st.c.OpenedAt, Version: st.c.Version, View: view,
		Clock: st.c.Clock(), Duplicates: slices.Clone(st.duplicates)}, nil
}

// Cases lists the cases matching f, newest opened first, and the cursor of
// the next page (nil on the last page).
func (s *Store) Cases(_ context.Context, f duban.CaseFilter) ([]app.Listed, *duban.CaseCursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []*stored
	for _, st := range s.cases {
		if matches(st.c, f) {
			hits = append(hits, st)
		}
	}
	slices.SortFunc(hits, func(a, b *stored) int {
		return cmp.Or(b.c.OpenedAt.Compare(a.c.OpenedAt), uuidCompare(b.c.ID, a.c.ID))
	})
	var next *duban.CaseCursor
	if limit := pageSize(f); len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1].c
		next = &duban.CaseCursor{OpenedAt: last.OpenedAt, ID: last.ID}
	}
	out, err := listAll(hits)
	return out, next, err
}

// Plotted returns the first limit cases f selects, newest opened first, as
// the map draws them, and whether more were left.
func (s *Store) Plotted(ctx context.Context, f duban.CaseFilter, limit int) ([]app.Plotted, bool, error) {
	f.Limit = limit
	ls, next, err := s.Cases(ctx, f)
	if err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]app.Plotted, 0, len(ls))
	for _, l := range ls {
		c := s.cases[l.ID].c
		out = append(out, app.Plotted{ID: c.ID, Number: c.Number, Category: c.Category, Status: c.Status,
			Lat: c.Location.Lat, Lon: c.Location.Lon, Listed: c.Listed, Clock: l.Clock})
	}
	return out, next != nil, nil
}

// CountCases counts the cases f selects, all pages.
func (s *Store) CountCases(_ context.Context, f duban.CaseFilter) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.After = nil
	n := 0
	for _, st := range s.cases {
		if matches(st.c, f) {
			n++
		}
	}
	return n, nil
}

// matches reports whether f selects c: what the WHERE clause of
// postgres.Store.Cases says.
func matches(c duban.Case, f duban.CaseFilter) bool {
	clock := c.Clock()
	switch {
	case len(f.Statuses) > 0 && !slices.Contains(f.Statuses, c.Status),
		f.Unit != "" && c.Unit != f.Unit,
		f.Category != "" && c.Category != f.Category,
		f.Categories != nil && !slices.Contains(f.Categories, c.Category),
		!f.UpdatedFrom.IsZero() && c.UpdatedAt.Before(f.UpdatedFrom),
		f.Severity != "" && c.Severity != f.Severity,
		f.Area != "" && c.Location.Area != f.Area,
		f.Reporter != "" && c.Reporter != f.Reporter,
		f.Text != "" && !c.HasText(f.Text),
		(f.Site != "" || f.Item != "" || f.Round != "") && (c.Found == nil ||
			f.Site != "" && c.Found.Site != f.Site || f.Item != "" && c.Found.Item != f.Item || f.Round != "" && c.Found.Round != f.Round),
		f.Listed != nil && c.Listed != *f.Listed,
		f.Rating != "" && (c.Public == nil || c.Public.Rating != f.Rating),
		!f.OpenedFrom.IsZero() && c.OpenedAt.Before(f.OpenedFrom),
		!f.OpenedBefore.IsZero() && !c.OpenedAt.Before(f.OpenedBefore),
		f.Overdue != nil && clock.Overdue(f.Now) != *f.Overdue,
		f.Escalated != nil && (len(clock.Levels) > 0 && !f.Now.Before(clock.Levels[0])) != *f.Escalated,
		f.After != nil && cmp.Or(c.OpenedAt.Compare(f.After.OpenedAt), uuidCompare(c.ID, f.After.ID)) >= 0:
		return false
	}
	return true
}

// Escalations returns the open cases f selects whose running stage is
// overdue at f.Now, the highest escalation level first, then the longest
// overdue, from the position after, and the position of the next page.
func (s *Store) Escalations(_ context.Context, f duban.CaseFilter, after *duban.BoardCursor) ([]app.Listed, *duban.BoardCursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type ranked struct {
		st    *stored
		level int
		due   time.Time
	}
	var hits []ranked
	for _, st := range s.cases {
		k := st.c.Clock()
		if !k.Overdue(f.Now) || !matches(st.c, f) {
			continue
		}
		r := ranked{st, k.Level(f.Now), *k.Deadline}
		if after != nil && cmp.Or(cmp.Compare(after.Level, r.level), r.due.Compare(after.Deadline), uuidCompare(st.c.ID, after.ID)) <= 0 {
			continue
		}
		hits = append(hits, r)
	}
	slices.SortFunc(hits, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(b.level, a.level), a.due.Compare(b.due), uuidCompare(a.st.c.ID, b.st.c.ID))
	})
	var next *duban.BoardCursor
	if limit := pageSize(f); len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		next = &duban.BoardCursor{Level: last.level, Deadline: last.due, ID: last.st.c.ID}
	}
	page := make([]*stored, len(hits))
	for i, h := range hits {
		page[i] = h.st
	}
	out, err := listAll(page)
	return out, next, err
}

// pageSize is f's page size, 50 when it says none.
func pageSize(f duban.CaseFilter) int {
	if f.Limit <= 0 {
		return 50
	}
	return f.Limit
}

func listAll(hits []*stored) ([]app.Listed, error) {
	out := make([]app.Listed, 0, len(hits))
	for _, st := range hits {
		l, err := st.listed()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// uuidCompare orders ids as PostgreSQL orders uuids: by their bytes.
func uuidCompare(a, b string) int {
	ua, errA := uuid.Parse(a)
	ub, errB := uuid.Parse(b)
	if errA != nil || errB != nil {
		return cmp.Compare(a, b)
	}
	return slices.Compare(ua[:], ub[:])
}

func notFound() error { return duban.Errorf(duban.ENOTFOUND, "case not found") }
