package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/duban/duban"
	"github.com/duban/duban/postgres"
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

// caseIDSpace is the UUID namespace of case ids derived from Idempotency-Keys.
var caseIDSpace = uuid.MustParse("3d0f6a52-9b1e-4c67-8a2d-51e0c4b7f9a3")

func (s *Server) openCase(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if err := p.MayOpen(); err != nil {
		fail(w, r, err)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var req openRequest
	if err := decode(r, &req, false); err != nil {
		fail(w, r, err)
		return
	}
	cmd, problems := s.openCommand(p, req)
	if key != "" {
		cmd.CaseID = uuid.NewSHA1(caseIDSpace, []byte(p.ID+"\n"+key)).String()
	}
	info(r).caseID = cmd.CaseID
	if _, err := duban.Decide(duban.Case{}, cmd, s.Now()); err != nil || len(problems) > 0 {
		fail(w, r, withFieldErrors(err, problems))
		return
	}
	if key != "" {
		// A retried open: the same request gets the case, another one a conflict.
		if existing, err := s.Store.Case(r.Context(), cmd.CaseID); err == nil {
			s.answerRetriedOpen(w, r, existing, cmd)
			return
		} else if duban.ErrorCode(err) != duban.ENOTFOUND {
			fail(w, r, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.CommandTimeout)
	defer cancel()
	c, err := s.Cases.Open(ctx, cmd)
	if err != nil {
		// A retry racing this request may have opened the case, or opened and
		// finished it, so that its workflow refuses a new start.
		if key != "" {
			if existing, readErr := s.Store.Case(r.Context(), cmd.CaseID); readErr == nil {
				s.answerRetriedOpen(w, r, existing, cmd)
				return
			}
		}
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/cases/"+c.ID)
	s.replyCase(w, http.StatusCreated, c, nil)
}

func (s *Server) answerRetriedOpen(w http.ResponseWriter, r *http.Request, existing postgres.Row, cmd duban.OpenCase) {
	if _, err := duban.Decide(existing.Case, cmd, s.Now()); err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/cases/"+existing.ID)
	s.replyCase(w, http.StatusOK, existing.Case, existing.Duplicates)
}

// openCommand resolves an open request against the policy: the category's
// terms, the unit routing finds, the request's fingerprint. It returns the
// problems only the API can see (a missing field, an unknown category);
// Decide finds the rest.
func (s *Server) openCommand(p duban.Principal, req openRequest) (duban.OpenCase, []duban.FieldError) {
	var errs []duban.FieldError
	if req.Severity == "" {
		req.Severity = duban.SeverityNormal
	}
	cmd := duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: p},
		CaseID:      uuid.Must(uuid.NewV7()).String(),
		Category:    req.Category,
		Severity:    req.Severity,
		Description: req.Description,
		Evidence:    req.Evidence,
	}
	if req.Location == nil {
		errs = append(errs, duban.FieldError{Field: "location", Message: "is required"})
	} else {
		if req.Location.Lat == nil {
			errs = append(errs, duban.FieldError{Field: "location.lat", Message: "is required"})
		}
		if req.Location.Lon == nil {
			errs = append(errs, duban.FieldError{Field: "location.lon", Message: "is required"})
		}
		cmd.Location = duban.Location{Address: req.Location.Address, Area: req.Location.Area}
		if req.Location.Lat != nil && req.Location.Lon != nil {
			cmd.Location.Lat, cmd.Location.Lon = *req.Location.Lat, *req.Location.Lon
		}
	}
	if _, ok := s.Policy.Category(req.Category); !ok && req.Category != "" {
		errs = append(errs, duban.FieldError{Field: "category", Message: "is not a known category: " + strings.Join(s.categoryCodes(), ", ")})
	}
	cmd.Terms, _ = s.Policy.Terms(req.Category, req.Severity)
	cmd.Unit, cmd.RouteReason = s.Policy.Route(req.Category, cmd.Location.Area)
	cmd.PolicyVersion = s.Policy.Version
	fingerprint, _ := json.Marshal(req)
	sum := sha256.Sum256(fingerprint)
	cmd.RequestHash = hex.EncodeToString(sum[:16])
	return cmd, errs
}

// withFieldErrors joins the API's field errors to err's: a refusal that is
// not about input (403) wins; otherwise one EINVALID lists every field, the
// API's first, without a second error for a field already named.
func withFieldErrors(err error, fields []duban.FieldError) error {
	var e *duban.Error
	if err != nil && (!errors.As(err, &e) || e.Code != duban.EINVALID) {
		return err
	}
	all := slices.Clone(fields)
	if e != nil {
		for _, f := range e.Fields {
			if !slices.ContainsFunc(fields, func(g duban.FieldError) bool { return g.Field == f.Field }) {
				all = append(all, f)
			}
		}
	}
	return duban.Invalid(all...)
}

func (s *Server) categoryCodes() []string {
	var codes []string
	for _, c := range s.Policy.Categories {
		codes = append(codes, c.Code)
	}
	return codes
}

// idempotencyKey returns the request's Idempotency-Key, checked.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return "", duban.Invalid(duban.FieldError{Field: "Idempotency-Key", Message: "must be at most 200 visible ASCII characters"})
	}
	return key, nil
}

// visibleCase loads the case in the URL, if the principal may see it.
func (s *Server) visibleCase(r *http.Request) (postgres.Row, error) {
	id := chi.URLParam(r, "id")
	info(r).caseID = id
	row, err := s.Store.Case(r.Context(), id)
	if err != nil {
		return postgres.Row{}, err
	}
	if !principal(r).CanSee(&row.Case) {
		return postgres.Row{}, duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	return row, nil
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	info(r).caseID = id
	l, err := s.Store.Listing(r.Context(), id)
	if err == nil && !principal(r).CanSeeAssigned(l.Unit) {
		err = duban.Errorf(duban.ENOTFOUND, "case not found")
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	s.replyListed(w, http.StatusOK, l)
}

func (s *Server) caseEvents(w http.ResponseWriter, r *http.Request) {
	if _, err := s.visibleCase(r); err != nil {
		fail(w, r, err)
		return
	}
	events, err := s.Store.Events(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, items[duban.Event]{Items: events})
}

// listParams are the query parameters GET /v1/cases understands.
var listParams = []string{"status", "unit", "category", "severity", "area", "overdue", "escalated", "limit", "cursor"}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	f, none, err := s.caseFilter(r.URL.Query(), principal(r))
	if err != nil {
		fail(w, r, err)
		return
	}
	var cases []postgres.Listed
	var next *duban.CaseCursor
	if !none {
		if cases, next, err = s.Store.Cases(r.Context(), f); err != nil {
			fail(w, r, err)
			return
		}
	}
	s.replyList(w, cases, true, next)
}

// caseFilter reads the list's query. A unit sees only its own cases; none is
// true when it asks for another unit's, which no case can match.
func (s *Server) caseFilter(q url.Values, p duban.Principal) (f duban.CaseFilter, none bool, err error) {
	f = duban.CaseFilter{Now: s.Now(), Limit: 50}
	var errs []duban.FieldError
	bad := func(field, msg string) { errs = append(errs, duban.FieldError{Field: field, Message: msg}) }
	for name, values := range q {
		if !slices.Contains(listParams, name) {
			bad(name, "is not a filter; use "+strings.Join(listParams, ", "))
		} else if len(values) > 1 {
			bad(name, "is given more than once")
		}
	}
	if v := q.Get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			if !duban.Status(st).Valid() {
				bad("status", "has an unknown status "+strconv.Quote(st))
			}
			f.Statuses = append(f.Statuses, duban.Status(st))
		}
	}
	f.Unit, f.Category, f.Area = q.Get("unit"), q.Get("category"), q.Get("area")
	if v := q.Get("severity"); v != "" {
		if f.Severity = duban.Severity(v); !f.Severity.Valid() {
			bad("severity", "must be normal or urgent")
		}
	}
	for _, b := range []struct {
		name string
		dst  **bool
	}{{"overdue", &f.Overdue}, {"escalated", &f.Escalated}} {
		if v := q.Get(b.name); v != "" {
			val, err := strconv.ParseBool(v)
			if err != nil {
				bad(b.name, "must be true or false")
			}
			*b.dst = &val
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			bad("limit", "must be a whole number from 1 to 200")
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		if f.After, err = decodeCursor(v); err != nil {
			return f, false, err
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b duban.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return f, false, duban.Invalid(errs...)
	}
	if p.Role == duban.RoleUnit {
		none = f.Unit != "" && f.Unit != p.Unit
		f.Unit = p.Unit
	}
	return f, none, nil
}

func (s *Server) escalations(w http.ResponseWriter, r *http.Request) {
	if !principal(r).Oversees() {
		fail(w, r, duban.Errorf(duban.EFORBIDDEN, "only supervisors and admins watch escalations"))
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			fail(w, r, duban.Invalid(duban.FieldError{Field: "limit", Message: "must be a whole number from 1 to 1000"}))
			return
		}
		limit = n
	}
	cases, err := s.Store.Escalations(r.Context(), s.Now(), limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.replyList(w, cases, false, nil)
}
