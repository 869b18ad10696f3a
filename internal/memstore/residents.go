package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// residents is what the store keeps of residents' reports.
type residents struct {
	follows   map[[32]byte]string
	reporters map[[32]byte]reporter
	ledger    []entry
}

type reporter struct{ id, masked string }

type entry struct {
	reporter string
	at       time.Time
	points   int
}

// earn adds the points a's events earned to the ledger; the caller holds mu.
func (s *Store) earn(a duban.Append) {
	for _, e := range a.Events {
		if n := e.Earned(); n > 0 {
			s.residents.ledger = append(s.residents.ledger, entry{a.Before.Reporter, e.OccurredAt, n})
		}
	}
}

// AddFollow records a follow link.
func (s *Store) AddFollow(_ context.Context, token [32]byte, caseID string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.residents.follows == nil {
		s.residents.follows = map[[32]byte]string{}
	}
	s.residents.follows[token] = caseID
	return nil
}

// FollowedCase returns the case of a follow link.
func (s *Store) FollowedCase(_ context.Context, token [32]byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.residents.follows[token]
	if !ok {
		return "", duban.Errorf(duban.ENOTFOUND, "no report has this follow link")
	}
	return id, nil
}

// Reporter returns the id of the reporter with phone, recording newID for
// it on first sight.
func (s *Store) Reporter(_ context.Context, phone [32]byte, masked, newID string, _ time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.residents.reporters == nil {
		s.residents.reporters = map[[32]byte]reporter{}
	}
	r, ok := s.residents.reporters[phone]
	if !ok {
		r = reporter{newID, masked}
		s.residents.reporters[phone] = r
	}
	return r.id, nil
}

// KnownReporter returns the id of the reporter with phone.
func (s *Store) KnownReporter(_ context.Context, phone [32]byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.residents.reporters[phone]
	if !ok {
		return "", duban.Errorf(duban.ENOTFOUND, "no reporter has this phone")
	}
	return r.id, nil
}

// Points tallies a reporter's ledger.
func (s *Store) Points(_ context.Context, id string, day, month time.Time) (duban.PointsTally, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t duban.PointsTally
	for _, e := range s.residents.ledger {
		if e.reporter != id {
			continue
		}
		t.Balance += e.points
		if e.points > 0 && !e.at.Before(day) {
			t.Today += e.points
		}
		if e.points > 0 && !e.at.Before(month) {
			t.Month += e.points
		}
	}
	return t, nil
}

// Redeem records a redemption within the balance.
func (s *Store) Redeem(ctx context.Context, r duban.Redemption) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	balance := 0
	for _, e := range s.residents.ledger {
		if e.reporter == r.Reporter {
			balance += e.points
		}
	}
	if err := r.Within(balance); err != nil {
		return 0, err
	}
	s.residents.ledger = append(s.residents.ledger, entry{r.Reporter, r.At, -r.Points})
	return balance - r.Points, nil
}

// Leaderboard ranks reporters by the points earned in [from, to).
func (s *Store) Leaderboard(_ context.Context, from, to time.Time, n int) ([]duban.Leader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	masked := map[string]string{}
	for _, r := range s.residents.reporters {
		masked[r.id] = r.masked
	}
	type tally struct {
		duban.Leader
		id    string
		first time.Time
	}
	byID := map[string]*tally{}
	for _, e := range s.residents.ledger {
		m, known := masked[e.reporter]
		if e.points <= 0 || !known || e.at.Before(from) || !e.at.Before(to) {
			continue
		}
		t := byID[e.reporter]
		if t == nil {
			t = &tally{Leader: duban.Leader{Masked: m}, id: e.reporter, first: e.at}
			byID[e.reporter] = t
		}
		t.Points += e.points
		t.Reports++
		if e.at.Before(t.first) {
			t.first = e.at
		}
	}
	var all []*tally
	for _, t := range byID {
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, b *tally) int {
		return cmp.Or(b.Points-a.Points, a.first.Compare(b.first), cmp.Compare(a.id, b.id))
	})
	var out []duban.Leader
	for i, t := range all[:min(n, len(all))] {
		t.Rank = i + 1
		out = append(out, t.Leader)
	}
	return out, nil
}

// PublicRequests returns the cases f selects as Open311 shows them.
func (s *Store) PublicRequests(_ context.Context, f duban.CaseFilter) ([]app.PublicRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []duban.Case
	for _, st := range s.cases {
		if matches(st.c, f) {
			hits = append(hits, st.c)
		}
	}
	slices.SortFunc(hits, func(a, b duban.Case) int {
		return cmp.Or(b.OpenedAt.Compare(a.OpenedAt), uuidCompare(b.ID, a.ID))
	})
	out := []app.PublicRequest{}
	for _, c := range hits[:min(len(hits), pageSize(f))] {
		r := app.PublicRequest{Number: c.Number, Status: c.Status, Outcome: c.Outcome, Category: c.Category, Description: c.Description,
			Address: c.Location.Address, Lat: c.Location.Lat, Lon: c.Location.Lon, Unit: c.Unit, OpenedAt: c.OpenedAt, UpdatedAt: c.UpdatedAt,
			ResolveBy: c.Deadlines.ResolveBy}
		for _, e := range c.Evidence {
			if e.Kind == "photo" && e.URL != "" {
				r.Media = append(r.Media, e.URL)
			}
		}
		out = append(out, r)
	}
	return out, nil
}
