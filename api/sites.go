package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// SiteKeeper keeps the sites (点位): the office's commands through
// duban.DecideSite, and reads as the principal may see them.
type SiteKeeper interface {
	CommandSite(ctx context.Context, cmd duban.SiteCommand) (duban.Site, bool, error)
	Site(ctx context.Context, by duban.Principal, id string) (duban.Site, error)
	ListSites(ctx context.Context, by duban.Principal, f duban.SiteFilter) ([]duban.Site, string, error)

	// Rounds and their inspections: app.Service's.
	PlanRound(ctx context.Context, cmd duban.PlanRound, key string) (duban.Round, bool, error)
	Round(ctx context.Context, by duban.Principal, id string) (duban.Round, error)
	Rounds(ctx context.Context, by duban.Principal) ([]duban.Round, error)
	Inspect(ctx context.Context, round, site string, cmd duban.InspectSite) (app.Inspected, error)
	SiteReport(ctx context.Context, by duban.Principal, r app.SiteReportRequest) (app.SiteReport, error)
	SiteHistory(ctx context.Context, by duban.Principal, id string, r app.SiteReportRequest) (duban.Period, app.SiteHistory, error)
}

// siteCursor is a position in the sites' list: the last id of a page.
type siteCursor struct {
	ID string `json:"id"`
}

// siteRequest is the body of POST /v1/sites and PATCH /v1/sites/{id}:
// pointers tell a field left out (a PATCH keeps it) from one given.
type siteRequest struct {
	ID       *string          `json:"id"`
	Name     *string          `json:"name"`
	Type     *string          `json:"type"`
	Area     *string          `json:"area"`
	Location *duban.Location  `json:"location"`
	Unit     *string          `json:"unit"`
	Head     **duban.SiteHead `json:"head"`
}

// apply gives f what the request says of it.
func (q siteRequest) apply(f *duban.SiteFields) {
	for _, s := range []struct {
		dst *string
		src *string
	}{{&f.Name, q.Name}, {&f.Type, q.Type}, {&f.Area, q.Area}, {&f.Unit, q.Unit}} {
		if s.src != nil {
			*s.dst = strings.TrimSpace(*s.src)
		}
	}
	if q.Location != nil {
		f.Location = *q.Location
	}
	if q.Head != nil {
		f.Head = *q.Head
	}
}

func (s *Server) registerSite(w http.ResponseWriter, r *http.Request) {
	var q siteRequest
	if err := decode(r, &q, false); err != nil {
		fail(w, r, err)
		return
	}
	var missing []duban.FieldError
	for _, f := range []struct {
		name  string
		given bool
	}{{"id", q.ID != nil}, {"name", q.Name != nil}, {"type", q.Type != nil}, {"location", q.Location != nil}} {
		if !f.given {
			missing = append(missing, duban.Field(f.name, "is required"))
		}
	}
	if len(missing) > 0 {
		fail(w, r, duban.Invalid(missing...))
		return
	}
	cmd := duban.SiteCommand{By: principal(r), Kind: duban.RegisterSite, SiteID: *q.ID}
	q.apply(&cmd.Fields)
	site, created, err := s.Sites.CommandSite(r.Context(), cmd)
	if err != nil {
		fail(w, r, err)
		return
	}
	replySite(w, createdAt(w, created, "/v1/sites/"+site.ID), site)
}

func (s *Server) changeSite(w http.ResponseWriter, r *http.Request) {
	var q siteRequest
	if err := decode(r, &q, false); err != nil {
		fail(w, r, err)
		return
	}
	id := chi.URLParam(r, "id")
	if q.ID != nil && *q.ID != id {
		fail(w, r, duban.Invalid(duban.Field("id", "is the site's, in the path: a site's id does not change")))
		return
	}
	by := principal(r)
	ifMatch, err := ifMatch(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	now, err := s.Sites.Site(r.Context(), by, id) // another unit's is not found; DecideSite refuses any but admins
	if err != nil {
		fail(w, r, err)
		return
	}
	if err := by.MayManageSites(); err != nil { // before the fields as read (no point-chief for a unit) are taken for the change
		fail(w, r, err)
		return
	}
	cmd := duban.SiteCommand{By: by, Kind: duban.ChangeSite, SiteID: id, IfMatch: ifMatch, Fields: now.SiteFields}
	if ifMatch == 0 {
		cmd.IfMatch = now.Version // the fields not given are as read: nothing may change them meanwhile
	}
	q.apply(&cmd.Fields)
	site, _, err := s.Sites.CommandSite(r.Context(), cmd)
	if err != nil {
		fail(w, r, err)
		return
	}
	replySite(w, http.StatusOK, site)
}

func (s *Server) retireSite(w http.ResponseWriter, r *http.Request) {
	var q struct {
		Reason string `json:"reason"`
	}
	if err := decode(r, &q, true); err != nil {
		fail(w, r, err)
		return
	}
	ifMatch, err := ifMatch(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	site, _, err := s.Sites.CommandSite(r.Context(), duban.SiteCommand{By: principal(r), Kind: duban.RetireSite,
		SiteID: chi.URLParam(r, "id"), IfMatch: ifMatch, Reason: strings.TrimSpace(q.Reason)})
	if err != nil {
		fail(w, r, err)
		return
	}
	replySite(w, http.StatusOK, site)
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) {
	site, err := s.Sites.Site(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	replySite(w, http.StatusOK, site)
}

// siteParams are the query parameters of GET /v1/sites.
var siteParams = []string{"type", "area", "unit", "active", "limit", "cursor"}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	errs := queryProblems(q, siteParams)
	f := duban.SiteFilter{Type: q.Get("type"), Area: q.Get("area"), Unit: q.Get("unit"),
		Active: queryBool(q, "active", &errs), Limit: queryLimit(q, 100, 1000, &errs)}
	if v := q.Get("cursor"); v != "" {
		c, err := DecodeCursor[siteCursor](v)
		if err != nil {
			fail(w, r, err)
			return
		}
		f.After = c.ID
	}
	if err := invalidQuery(errs); err != nil {
		fail(w, r, err)
		return
	}
	sites, next, err := s.Sites.ListSites(r.Context(), principal(r), f)
	if err != nil {
		fail(w, r, err)
		return
	}
	var cursor *string
	if next != "" {
		c := EncodeCursor(&siteCursor{ID: next})
		cursor = &c
	}
	if sites == nil {
		sites = []duban.Site{}
	}
	reply(w, http.StatusOK, struct {
		Items      []duban.Site `json:"items"`
		NextCursor *string      `json:"next_cursor"`
	}{sites, cursor})
}

// createdAt is the status of an answer that may have created something:
// 201 with its location (when it has one), else 200.
func createdAt(w http.ResponseWriter, created bool, location string) int {
	if !created {
		return http.StatusOK
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	return http.StatusCreated
}

// replySite answers with a site and its version as its ETag.
func replySite(w http.ResponseWriter, status int, site duban.Site) {
	w.Header().Set("ETag", etag(site.Version))
	reply(w, status, site)
}
