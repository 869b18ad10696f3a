package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
)

// openRequest is the body of POST /v1/cases. Pointers tell a missing field
// from a zero one.
type openRequest struct {
	Category    string           `json:"category"`
	Severity    duban.Severity   `json:"severity"`
	Description string           `json:"description"`
	Location    *locationRequest `json:"location"`
	Evidence    []duban.Evidence `json:"evidence"`
}

type locationRequest struct {
	Lat     *float64 `json:"lat"`
	Lon     *float64 `json:"lon"`
	Address string   `json:"address"`
	Area    string   `json:"area"`
}

// command builds the open the request asks for, or says which of the
// location's coordinates it lacks.
func (req openRequest) command(by duban.Principal) (duban.OpenCase, error) {
	cmd := duban.OpenCase{CommandMeta: duban.CommandMeta{By: by}, Category: req.Category, Severity: req.Severity,
		Description: req.Description, Evidence: req.Evidence}
	l := req.Location
	if l == nil {
		return cmd, duban.Invalid(duban.Field("location", "is required"))
	}
	var missing []duban.FieldError
	if l.Lat == nil {
		missing = append(missing, duban.Field("location.lat", "is required"))
	}
	if l.Lon == nil {
		missing = append(missing, duban.Field("location.lon", "is required"))
	}
	if len(missing) > 0 {
		return cmd, duban.Invalid(missing...)
	}
	cmd.Location = duban.Location{Lat: *l.Lat, Lon: *l.Lon, Address: l.Address, Area: l.Area}
	return cmd, nil
}

func (s *Server) openCase(w http.ResponseWriter, r *http.Request) {
	var req openRequest
	key, err := idempotencyKey(r)
	if err == nil {
		err = decode(r, &req, false)
	}
	var cmd duban.OpenCase
	if err == nil {
		cmd, err = req.command(principal(r))
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	a, err := s.Commands.Open(r.Context(), cmd, key)
	if err != nil {
		fail(w, r, err)
		return
	}
	entry(r).caseID = a.Case.ID
	status := http.StatusOK // a repeat of the open that made it
	if a.Created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/v1/cases/"+a.Case.ID)
	s.replyCase(w, status, a.Case, a.Duplicates)
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	entry(r).caseID = id
	l, err := s.Cases.CaseView(r.Context(), principal(r), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.replyListed(w, http.StatusOK, l)
}

func (s *Server) caseEvents(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	entry(r).caseID = id
	events, err := s.Cases.Events(r.Context(), principal(r), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, items[duban.Event]{Items: events})
}

// listParams are the query parameters the lists understand: GET /v1/cases
// and GET /v1/escalations alike.
var listParams = []string{"status", "unit", "category", "severity", "area", "q", "reporter", "opened_from", "opened_until",
	"site", "item", "round", "listed", "rating", "overdue", "escalated", "limit", "cursor"}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	f, raw, err := ListQuery(r.URL.Query(), s.Policy, 50, 200)
	if err == nil && raw != "" {
		f.After, err = DecodeCursor[duban.CaseCursor](raw)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	cases, next, err := s.Cases.Cases(r.Context(), principal(r), f)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.replyList(w, cases, EncodeCursor(next))
}

func (s *Server) escalations(w http.ResponseWriter, r *http.Request) {
	f, raw, err := ListQuery(r.URL.Query(), s.Policy, 100, 1000)
	var after *duban.BoardCursor
	if err == nil && raw != "" {
		after, err = DecodeCursor[duban.BoardCursor](raw)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	cases, next, err := s.Cases.Escalations(r.Context(), principal(r), f, after)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.replyList(w, cases, EncodeCursor(next))
}

// maxSearch bounds a list's search text.
const maxSearch = 100

// ListQuery reads a list's filters, its page size (limit, up to maxLimit)
// and its cursor, still encoded: each list has a cursor of its own. Dates
// are days in the policy's time zone.
func ListQuery(q url.Values, p *duban.Policy, limit, maxLimit int) (f duban.CaseFilter, cursor string, err error) {
	f = duban.CaseFilter{}
	errs := queryProblems(q, listParams)
	bad := func(field, format string, args ...any) { errs = append(errs, duban.Field(field, format, args...)) }
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			if !duban.Status(st).Valid() {
				bad("status", "has an unknown status %q", st)
			}
			f.Statuses = append(f.Statuses, duban.Status(st))
		}
	}
	f.Unit, f.Category, f.Area = q.Get("unit"), q.Get("category"), q.Get("area")
	f.Text, f.Reporter = strings.TrimSpace(q.Get("q")), q.Get("reporter")
	if utf8.RuneCountInString(f.Text) > maxSearch {
		bad("q", "must be at most %d characters", maxSearch)
	}
	var daysErr *duban.Error
	if f.OpenedFrom, f.OpenedBefore, err = p.Days("opened_from", q.Get("opened_from"), "opened_until", q.Get("opened_until")); errors.As(err, &daysErr) {
		errs = append(errs, daysErr.Fields...)
	}
	if v := q.Get("severity"); v != "" {
		if f.Severity = duban.Severity(v); !f.Severity.Valid() {
			bad("severity", "must be normal or urgent")
		}
	}
	f.Site, f.Item, f.Round = q.Get("site"), q.Get("item"), q.Get("round")
	f.Listed = queryBool(q, "listed", &errs)
	if v := q.Get("rating"); v != "" {
		if f.Rating = duban.Rating(v); !f.Rating.Valid() {
			bad("rating", "must be satisfied, basically_satisfied or dissatisfied")
		}
	}
	f.Overdue, f.Escalated = queryBool(q, "overdue", &errs), queryBool(q, "escalated", &errs)
	f.Limit = queryLimit(q, limit, maxLimit, &errs)
	if err := invalidQuery(errs); err != nil {
		return f, "", err
	}
	return f, q.Get("cursor"), nil
}
