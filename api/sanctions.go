package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
)

// The sanctions a bulletin's black list brought (SPEC.md, "Reward and
// penalty"), and their follow-up.

func (s *Server) sanctions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list, err := s.Reports.Sanctions(r.Context(), principal(r), duban.SanctionFilter{
		Status: duban.SanctionStatus(q.Get("status")), Unit: q.Get("unit"), Period: q.Get("period")})
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, items[duban.Sanction]{Items: list})
}

func (s *Server) sanction(w http.ResponseWriter, r *http.Request) {
	sn, err := s.Reports.Sanction(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, sn)
}

func (s *Server) sanctionEvents(w http.ResponseWriter, r *http.Request) {
	events, err := s.Reports.SanctionEvents(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, items[duban.SanctionEvent]{Items: events})
}

type sanctionDoneRequest struct {
	Note string     `json:"note"`
	At   *time.Time `json:"at"`
}

func (s *Server) sanctionDone(w http.ResponseWriter, r *http.Request) {
	var req sanctionDoneRequest
	if err := decode(r, &req, false); err != nil {
		fail(w, r, err)
		return
	}
	sn, err := s.Reports.SanctionDone(r.Context(), principal(r), chi.URLParam(r, "id"), req.Note, req.At)
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, sn)
}
