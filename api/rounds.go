package api

import (
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// roundRequest is the body of POST /v1/rounds.
type roundRequest struct {
	Name       string          `json:"name"`
	Kind       duban.RoundKind `json:"kind"`
	SiteTypes  []string        `json:"site_types"`
	Areas      []string        `json:"areas"`
	Sample     int             `json:"sample"`
	DueBy      string          `json:"due_by"`
	Inspectors []string        `json:"inspectors"`
}

func (s *Server) planRound(w http.ResponseWriter, r *http.Request) {
	var q roundRequest
	key, err := idempotencyKey(r)
	if err == nil {
		err = decode(r, &q, false)
	}
	cmd := duban.PlanRound{By: principal(r), Name: strings.TrimSpace(q.Name), Kind: q.Kind, SiteTypes: q.SiteTypes, Areas: q.Areas,
		Sample: q.Sample, Inspectors: q.Inspectors}
	if err == nil && q.DueBy != "" { // none: DecideRound says it is required
		cmd.DueBy, err = parseTime("due_by", q.DueBy)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	round, created, err := s.Sites.PlanRound(r.Context(), cmd, key)
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, createdAt(w, created, "/v1/rounds/"+round.ID), onWire(round))
}

func (s *Server) getRound(w http.ResponseWriter, r *http.Request) {
	round, err := s.Sites.Round(r.Context(), principal(r), chi.URLParam(r, "id"))
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, onWire(round))
}

// onWire is a round as clients read it: its ladder is where its steps
// fall (steps say what was taken), kept with the round, not said.
func onWire(r duban.Round) duban.Round {
	r.Ladder = nil
	return r
}

func (s *Server) listRounds(w http.ResponseWriter, r *http.Request) {
	if err := invalidQuery(queryProblems(r.URL.Query(), nil)); err != nil {
		fail(w, r, err)
		return
	}
	rounds, err := s.Sites.Rounds(r.Context(), principal(r))
	if err != nil {
		fail(w, r, err)
		return
	}
	for i := range rounds {
		rounds[i] = onWire(rounds[i])
	}
	if rounds == nil {
		rounds = []duban.Round{}
	}
	reply(w, http.StatusOK, struct {
		Items []duban.Round `json:"items"`
	}{rounds})
}

// inspectionRequest is the body of POST /v1/rounds/{id}/sites/{site}/inspection.
type inspectionRequest struct {
	At       string             `json:"at"`
	Location duban.Location     `json:"location"`
	Items    []duban.ItemAnswer `json:"items"`
}

func (s *Server) inspect(w http.ResponseWriter, r *http.Request) {
	var q inspectionRequest
	err := decode(r, &q, false)
	cmd := duban.InspectSite{By: principal(r), Location: q.Location, Items: q.Items}
	if err == nil && q.At != "" { // none: DecideInspection says it is required
		cmd.At, err = parseTime("at", q.At)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	in, err := s.Sites.Inspect(r.Context(), chi.URLParam(r, "id"), chi.URLParam(r, "site"), cmd)
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, createdAt(w, in.Created, ""), in.SiteInspection) // 200: recorded before, synced again
}

// siteReportQuery reads a site report's query: the period, and filters.
func siteReportQuery(q url.Values, filters ...string) (app.SiteReportRequest, error) {
	if err := invalidQuery(queryProblems(q, append([]string{"from", "to"}, filters...))); err != nil {
		return app.SiteReportRequest{}, err
	}
	return app.SiteReportRequest{From: q.Get("from"), To: q.Get("to"), Type: q.Get("type"), Area: q.Get("area"), Unit: q.Get("unit")}, nil
}

func (s *Server) siteReport(w http.ResponseWriter, r *http.Request) {
	req, err := siteReportQuery(r.URL.Query(), "type", "area", "unit", "lang")
	if err != nil {
		fail(w, r, err)
		return
	}
	report, err := s.Sites.SiteReport(r.Context(), principal(r), req)
	if err != nil {
		fail(w, r, err)
		return
	}
	if wantsCSV(r) {
		s.replyCSV(w, r, "sites-"+req.From+"-"+req.To+".csv", func(w io.Writer, names duban.CSVNames) error {
			return duban.WriteSiteRowsCSV(w, report.Rows, names)
		})
		return
	}
	if report.Rows == nil {
		report.Rows = []duban.SiteTypeRow{}
	}
	if report.Worst == nil {
		report.Worst = []duban.SiteScore{}
	}
	reply(w, http.StatusOK, struct {
		period
		Items []duban.SiteTypeRow `json:"items"`
		Worst []duban.SiteScore   `json:"worst"`
	}{period{req.From, req.To}, report.Rows, report.Worst})
}

func (s *Server) siteHistory(w http.ResponseWriter, r *http.Request) {
	req, err := siteReportQuery(r.URL.Query())
	if err != nil {
		fail(w, r, err)
		return
	}
	_, h, err := s.Sites.SiteHistory(r.Context(), principal(r), chi.URLParam(r, "site"), req)
	if err != nil {
		fail(w, r, err)
		return
	}
	reply(w, http.StatusOK, struct {
		period
		app.SiteHistory
	}{period{req.From, req.To}, h})
}
