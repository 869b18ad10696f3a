package web

import (
	"encoding/json"
	"net/http"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
)

// The field page (/field): an inspector's phone reports problems from the
// street, also without a network. The page, its script and its service
// worker are served here; the reports and their photos go to the API
// (POST /v1/attachments, POST /v1/cases with an Idempotency-Key), with the
// session cookie.

// fieldPage draws the field page for someone who may open cases.
func (s *Server) fieldPage(w http.ResponseWriter, r *http.Request) {
	if err := session(r).Principal.MayOpen(); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "field", s.newPage(r, "fieldpage.title"))
}

// checklist is a site type's checklist as the field page keeps it, in the
// page's language.
type checklist struct {
	Name  string          `json:"name"`
	Items []checklistItem `json:"items"`
}

type checklistItem struct {
	Code   string `json:"code"`
	Name   string `json:"name"`
	Points int    `json:"points"`
}

// Checklists are the policy's site types' checklists, by type, as JSON
// for the field page: kept with the page on the phone, so that a round is
// inspected without a network.
func (p *page) Checklists() string {
	out := map[string]checklist{}
	for _, t := range p.s.Policy.SiteTypes {
		c := checklist{Name: p.name(t.Name, t.Code)}
		for _, it := range t.Items {
			c.Items = append(c.Items, checklistItem{Code: it.Code, Name: p.name(it.Name, it.Code), Points: it.Points})
		}
		out[t.Code] = c
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// fieldSession answers who is signed in, which a field page opened from
// the phone's cache asks before it sends: JSON, 401 when signed out (not a
// redirect to the sign-in page).
func (s *Server) fieldSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	sess, err := s.cookieSession(r)
	if err != nil {
		w.WriteHeader(api.Status(err))
		_ = json.NewEncoder(w).Encode(map[string]string{"detail": duban.ErrorMessage(err)})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"principal": sess.Principal.ID})
}

// fieldAsset serves a file of the field page that must sit at the root:
// the service worker (its scope, /field, must be under its own path) and
// the manifest.
func fieldAsset(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := files.ReadFile("static/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		// A new service worker is picked up on the next visit.
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}
