package app

import (
	"context"
	"time"

	"github.com/duban/duban"
)

// Open311 GeoReport v2 sees the cases of the public categories (its
// services) as the public does: never who reported them.

// PublicRequest is a case as Open311 shows it: never who reported it.
type PublicRequest struct {
	Number      string
	Status      duban.Status
	Outcome     duban.Outcome
	Category    string
	Description string
	Address     string
	Lat, Lon    float64
	Unit        string // "" for none
	OpenedAt    time.Time
	UpdatedAt   time.Time
	ResolveBy   *time.Time
	// Media are the URLs of its photos given as URLs (an Open311 client's
	// media_url); attachments are served by the follow link only.
	Media []string
}

// PublicUpdate is a change of a case's status, as mySociety's
// servicerequestupdates lists them.
type PublicUpdate struct {
	ID          string // the event's
	Number      string
	Status      duban.Status
	Outcome     duban.Outcome
	At          time.Time
	Description string
}

// maxPublicRequests bounds an Open311 list.
const maxPublicRequests = 1000

// publicReader reads for Open311: every case of the public categories.
var publicReader = duban.Principal{ID: "open311", Role: duban.RoleSystem}

// PublicRequests lists the cases of the public categories f selects,
// newest first, at most 1,000.
func (s *Service) PublicRequests(ctx context.Context, f duban.CaseFilter) ([]PublicRequest, error) {
	if err := s.residentsServed(); err != nil {
		return nil, err
	}
	f.Categories = s.Policy.PublicCategories()
	if f.Limit <= 0 || f.Limit > maxPublicRequests {
		f.Limit = maxPublicRequests
	}
	return s.Residents.PublicRequests(ctx, f)
}

// PublicRequest returns the case of a public category with number.
func (s *Service) PublicRequest(ctx context.Context, number string) (PublicRequest, error) {
	if !duban.LooksLikeCaseNumber(number) {
		return PublicRequest{}, duban.Errorf(duban.ENOTFOUND, "no service request %s", number)
	}
	rs, err := s.PublicRequests(ctx, duban.CaseFilter{Text: number, Limit: 1})
	if err != nil {
		return PublicRequest{}, err
	}
	if len(rs) == 0 {
		return PublicRequest{}, duban.Errorf(duban.ENOTFOUND, "no service request %s", number)
	}
	return rs[0], nil
}

// FollowedNumber returns the number of the report a follow token (an
// Open311 token) leads to.
func (s *Service) FollowedNumber(ctx context.Context, token string) (string, error) {
	row, err := s.followed(ctx, token)
	return row.Number, err
}

// PublicUpdates lists the changes of status of the cases of the public
// categories from from to to, both included, at most 1,000 cases' worth.
func (s *Service) PublicUpdates(ctx context.Context, from, to time.Time) ([]PublicUpdate, error) {
	if err := s.residentsServed(); err != nil {
		return nil, err
	}
	listed, _, err := s.Cases(ctx, publicReader, duban.CaseFilter{Categories: s.Policy.PublicCategories(), UpdatedFrom: from, Limit: maxPublicRequests})
	if err != nil {
		return nil, err
	}
	var out []PublicUpdate
	for _, l := range listed {
		events, err := s.Store.Events(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		var c duban.Case
		for _, e := range events {
			before := c.Status
			c = duban.Evolve(c, e)
			if c.Status == before && e.Type != duban.EventCaseReopened || e.OccurredAt.Before(from) || e.OccurredAt.After(to) {
				continue
			}
			u := PublicUpdate{ID: e.ID, Number: c.Number, Status: c.Status, Outcome: c.Outcome, At: e.OccurredAt}
			if r, ok := reply(e); ok {
				u.Description = r.Text
			}
			out = append(out, u)
		}
	}
	return out, nil
}
