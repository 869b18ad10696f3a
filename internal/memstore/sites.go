package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/duban/duban"
)

// siteStore holds the sites and their events.
type siteStore struct {
	sites      map[string]duban.Site
	siteEvents map[string][]duban.SiteEvent
}

// AppendSite records a site command's events and the site after them; it
// is refused (ECONFLICT) when the site is no longer at before.Version.
func (s *Store) AppendSite(_ context.Context, before duban.Site, events []duban.SiteEvent) error {
	if len(events) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sites.sites == nil {
		s.sites = siteStore{sites: map[string]duban.Site{}, siteEvents: map[string][]duban.SiteEvent{}}
	}
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
