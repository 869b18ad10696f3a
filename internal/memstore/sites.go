package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/duban/duban"
)

// siteStore holds the sites and their events.
type siteStore struct {
	sites       map[string]duban.Site
	siteEvents  map[string][]duban.SiteEvent
	rounds      map[string]duban.Round
	roundSteps  map[string][]duban.RoundStep
	inspections map[[2]string]duban.SiteInspection // by round and site
}

// AppendSite records a site command's events and the site after them; it
// is refused (ECONFLICT) when the site is no longer at before.Version.
func (s *Store) AppendSite(_ context.Context, before duban.Site, events []duban.SiteEvent) error {
	if len(events) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sites.init()
	id := events[0].SiteID
	if int64(len(s.sites.siteEvents[id])) != before.Version {
		return duban.Errorf(duban.ECONFLICT, "site %s was changed meanwhile: read it again", id)
	}
	after := before
	for _, e := range events {
		after = duban.EvolveSite(after, e)
	}
	s.sites.siteEvents[id] = append(s.sites.siteEvents[id], events...)
	s.sites.sites[id] = after
	return nil
}

// Site returns a site; ENOTFOUND when there is none.
func (s *Store) Site(_ context.Context, id string) (duban.Site, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	site, ok := s.sites.sites[id]
	if !ok {
		return duban.Site{}, duban.Errorf(duban.ENOTFOUND, "site not found")
	}
	return site, nil
}

// Sites lists the sites f selects, by id, and the id to list the next
// page after ("" on the last).
func (s *Store) Sites(_ context.Context, f duban.SiteFilter) ([]duban.Site, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []duban.Site
	for _, site := range s.sites.sites {
		if f.Matches(site) && site.ID > f.After {
			out = append(out, site)
		}
	}
	slices.SortFunc(out, func(a, b duban.Site) int { return strings.Compare(a.ID, b.ID) })
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if len(out) <= limit {
		return out, "", nil
	}
	return out[:limit], out[limit-1].ID, nil
}

// SiteEvents returns a site's events in version order.
func (s *Store) SiteEvents(_ context.Context, id string) ([]duban.SiteEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sites.siteEvents[id]), nil
}

func (s *siteStore) init() {
	if s.sites == nil {
		*s = siteStore{sites: map[string]duban.Site{}, siteEvents: map[string][]duban.SiteEvent{},
			rounds: map[string]duban.Round{}, roundSteps: map[string][]duban.RoundStep{}, inspections: map[[2]string]duban.SiteInspection{}}
	}
}

// RecordRound records a planned round; one whose id is there already is
// left as it is and answered, created false.
func (s *Store) RecordRound(_ context.Context, r duban.Round) (duban.Round, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sites.init()
	_, there := s.sites.rounds[r.ID]
	if !there {
		r.Sites = slices.Clone(r.Sites)
		s.sites.rounds[r.ID] = r
	}
	return s.round(r.ID), !there, nil
}

// round is the round id as planned, with what of it is inspected.
func (s *Store) round(id string) duban.Round {
	r := s.sites.rounds[id]
	r.Sites = slices.Clone(r.Sites)
	r.Steps = slices.Clone(s.sites.roundSteps[id])
	for i := range r.Sites {
		_, r.Sites[i].Inspected = s.sites.inspections[[2]string{id, r.Sites[i].Site}]
	}
	r.Settle()
	return r
}

// Round returns a round and what of it is inspected; ENOTFOUND when
// there is none.
func (s *Store) Round(_ context.Context, id string) (duban.Round, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sites.rounds[id]; !ok {
		return duban.Round{}, duban.Errorf(duban.ENOTFOUND, "round not found")
	}
	return s.round(id), nil
}

// Rounds lists the latest rounds planned, at most limit: those with a
// site for inspector, or every one when inspector is "".
func (s *Store) Rounds(_ context.Context, inspector string, limit int) ([]duban.Round, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []duban.Round
	for id, r := range s.sites.rounds {
		if inspector == "" || slices.ContainsFunc(r.Sites, func(rs duban.RoundSite) bool { return rs.Inspector == inspector }) {
			out = append(out, s.round(id))
		}
	}
	slices.SortFunc(out, func(a, b duban.Round) int {
		return cmp.Or(b.PlannedAt.Compare(a.PlannedAt), strings.Compare(b.ID, a.ID))
	})
	return out[:min(limit, len(out))], nil
}

// RecordRoundStep records a step of a round's ladder, unless that level
// is recorded already (recorded false).
func (s *Store) RecordRoundStep(_ context.Context, step duban.RoundStep) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sites.init()
	steps := s.sites.roundSteps[step.Round]
	if slices.ContainsFunc(steps, func(t duban.RoundStep) bool { return t.Level == step.Level }) {
		return false, nil
	}
	steps = append(steps, step)
	slices.SortStableFunc(steps, func(a, b duban.RoundStep) int { return cmp.Or(a.DueAt.Compare(b.DueAt), a.Level-b.Level) })
	s.sites.roundSteps[step.Round] = steps
	return true, nil
}

// RecordInspection records a site's inspection in its round; one there
// already is left as it is and answered, created false.
func (s *Store) RecordInspection(_ context.Context, in duban.SiteInspection) (duban.SiteInspection, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sites.init()
	key := [2]string{in.Round, in.Site}
	if there, ok := s.sites.inspections[key]; ok {
		return there, false, nil
	}
	r, ok := s.sites.rounds[in.Round]
	if _, drawn := r.Site(in.Site); !ok || !drawn {
		return duban.SiteInspection{}, false, fmt.Errorf("site %s is not in round %s", in.Site, in.Round)
	}
	s.sites.inspections[key] = in
	return in, true, nil
}

// Inspection returns site's inspection in round; nil when there is none.
func (s *Store) Inspection(_ context.Context, round, site string) (*duban.SiteInspection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.sites.inspections[[2]string{round, site}]
	if !ok {
		return nil, nil
	}
	return &in, nil
}

// LastFinding returns the last case opened for item at site but the case
// except; nil when there is none. A case cancelled as invalid or as a
// duplicate found nothing, and does not count.
func (s *Store) LastFinding(_ context.Context, site, item, except string) (*duban.LastFinding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last *duban.LastFinding
	for id, st := range s.cases {
		c := st.c
		if f := c.Found; f == nil || f.Site != site || f.Item != item || id == except ||
			c.Outcome == duban.OutcomeInvalid || c.Outcome == duban.OutcomeDuplicate {
			continue
		}
		if last == nil || c.OpenedAt.After(last.OpenedAt) || c.OpenedAt.Equal(last.OpenedAt) && id > last.Case {
			last = &duban.LastFinding{Case: id, OpenedAt: c.OpenedAt, Recurrence: c.Found.Recurrence}
		}
	}
	return last, nil
}

// SiteCounts counts the site report's figures over q, per site type with
// an active site or an inspection.
func (s *Store) SiteCounts(_ context.Context, q duban.SiteReportQuery) ([]duban.SiteTypeRow, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := map[string]*duban.SiteTypeRow{}
	row := func(typ string) *duban.SiteTypeRow {
		if rows[typ] == nil {
			rows[typ] = &duban.SiteTypeRow{Type: typ}
		}
		return rows[typ]
	}
	for _, site := range s.sites.sites {
		if site.Active && q.Selects(site.Type, site.Area, site.Unit) {
			row(site.Type).Sites++
		}
	}
	inspected := map[string]map[string]bool{}
	failed := map[string]map[string]int{}
	for _, in := range s.sites.inspections {
		if in.At.Before(q.From) || !in.At.Before(q.To) || !q.Selects(in.Type, in.Area, in.Unit) {
			continue
		}
		r := row(in.Type)
		r.Inspections++
		r.ScoreSum += in.Score
		if in.Passed {
			r.Passed++
		}
		if inspected[in.Type] == nil {
			inspected[in.Type], failed[in.Type] = map[string]bool{}, map[string]int{}
		}
		if site, ok := s.sites.sites[in.Site]; ok && site.Active && site.Type == in.Type && q.Selects(site.Type, site.Area, site.Unit) {
			inspected[in.Type][in.Site] = true // coverage counts the sites counted
		}
		for _, item := range in.Failed() {
			failed[in.Type][item]++
		}
	}
	out := make([]duban.SiteTypeRow, 0, len(rows))
	for typ, r := range rows {
		r.Inspected = len(inspected[typ])
		for item, n := range failed[typ] {
			r.Items = append(r.Items, duban.ItemCount{Item: item, Failed: n})
		}
		out = append(out, *r)
	}
	return out, nil
}

// Inspections lists the inspections of site in [from, to), the latest
// first.
func (s *Store) Inspections(_ context.Context, site string, from, to time.Time) ([]duban.SiteInspection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []duban.SiteInspection
	for _, in := range s.sites.inspections {
		if in.Site == site && !in.At.Before(from) && in.At.Before(to) {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b duban.SiteInspection) int {
		return cmp.Or(b.At.Compare(a.At), strings.Compare(b.Round, a.Round))
	})
	return out, nil
}

// SiteScores counts each site inspected over q: its inspections, the sum
// of their scores and the items they failed.
func (s *Store) SiteScores(_ context.Context, q duban.SiteReportQuery) ([]duban.SiteScore, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	bySite := map[string]*duban.SiteScore{}
	for _, in := range s.sites.inspections {
		if in.At.Before(q.From) || !in.At.Before(q.To) || !q.Selects(in.Type, in.Area, in.Unit) {
			continue
		}
		r := bySite[in.Site]
		if r == nil {
			r = &duban.SiteScore{Site: in.Site, Type: in.Type}
			bySite[in.Site] = r
		}
		r.Type = min(r.Type, in.Type) // as PostgreSQL's min(type), whatever the order
		r.Inspections++
		r.ScoreSum += in.Score
		r.Failed += len(in.Failed())
	}
	out := make([]duban.SiteScore, 0, len(bySite))
	for _, r := range bySite {
		out = append(out, *r)
	}
	return out, nil
}
