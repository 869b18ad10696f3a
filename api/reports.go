package api

import (
	"bytes"
	"cmp"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/messages"
)

// reportQuery reads a report's query: from and to (dates), and those of
// the other filters the route takes.
func reportQuery(q url.Values, filters ...string) (app.ReportRequest, error) {
	if err := invalidQuery(queryProblems(q, append([]string{"from", "to"}, filters...))); err != nil {
		return app.ReportRequest{}, err
	}
	return app.ReportRequest{From: q.Get("from"), To: q.Get("to"), Unit: q.Get("unit"), Category: q.Get("category"), Area: q.Get("area")}, nil
}

// period is a report's period as answered: the dates asked for.
type period struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// wantsCSV reports whether the client asks for CSV rather than JSON.
func wantsCSV(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/csv")
}

// replyCSV answers with a report as a CSV file named file, written by
// write: field names and ids, or with ?lang=zh (or en) the columns, units,
// site types and items by name, as a spreadsheet for people.
func (s *Server) replyCSV(w http.ResponseWriter, r *http.Request, file string, write func(io.Writer, duban.CSVNames) error) {
	names, err := s.csvNames(r.URL.Query().Get("lang"))
	if err != nil {
		fail(w, r, err)
		return
	}
	var b bytes.Buffer
	if err := write(&b, names); err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+file+`"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// scorecardCSV writes rows as a scorecard's CSV.
func scorecardCSV(rows []duban.UnitRow) func(io.Writer, duban.CSVNames) error {
	return func(w io.Writer, names duban.CSVNames) error { return duban.WriteScorecardCSV(w, rows, names) }
}

// csvNames are a scorecard CSV's names in lang: none ("", field names and
// unit ids), zh or en.
func (s *Server) csvNames(lang string) (duban.CSVNames, error) {
	if lang == "" {
		return duban.CSVNames{}, nil
	}
	if !slices.Contains(messages.Languages, lang) {
		return duban.CSVNames{}, duban.Invalid(duban.Field("lang", "must be one of %s", strings.Join(messages.Languages, ", ")))
	}
	s.catalogsOnce.Do(func() { s.catalogs, s.catalogsErr = messages.Load() })
	if s.catalogsErr != nil {
		return duban.CSVNames{}, s.catalogsErr
	}
	return ReportNames(s.Policy, s.catalogs[lang], lang), nil
}

// ReportNames say a report CSV's columns (the catalogue's csv.* texts),
// units, site types and items (the policy's names) in lang, for people:
// the API's with ?lang, the office pages' always.
func ReportNames(p *duban.Policy, cat messages.Catalog, lang string) duban.CSVNames {
	return duban.CSVNames{
		Column: func(c string) string {
			if name, ok := cat.T("csv." + c); ok {
				return name
			}
			return c
		},
		Unit: func(id string) string {
			u, _ := p.Unit(id)
			return cmp.Or(u.Name.In(lang), id)
		},
		Type: func(code string) string {
			t, _ := p.SiteType(code)
			return cmp.Or(t.Name.In(lang), code)
		},
		Item: func(code string) string {
			it, _ := p.StandardItem(code)
			return cmp.Or(it.Name.In(lang), code)
		},
	}
}

func (s *Server) unitScorecards(w http.ResponseWriter, r *http.Request) {
	req, err := reportQuery(r.URL.Query(), "unit", "category", "area", "lang")
	if err != nil {
		fail(w, r, err)
		return
	}
	_, rows, err := s.Reports.UnitScorecards(r.Context(), principal(r), req)
	if err != nil {
		fail(w, r, err)
		return
	}
	if wantsCSV(r) {
		s.replyCSV(w, r, "scorecard-"+req.From+"-"+req.To+".csv", scorecardCSV(rows))
		return
	}
	reply(w, http.StatusOK, struct {
		period
		Items []duban.UnitRow `json:"items"`
	}{period{req.From, req.To}, rows})
}

func (s *Server) figureCases(w http.ResponseWriter, r *http.Request) {
	req, err := reportQuery(r.URL.Query(), "figure", "category", "area")
	if err != nil {
		fail(w, r, err)
		return
	}
	ids, err := s.Reports.FigureCases(r.Context(), principal(r), chi.URLParam(r, "unit"), r.URL.Query().Get("figure"), req)
	if err != nil {
		fail(w, r, err)
		return
	}
	if ids == nil {
		ids = []string{}
	}
	reply(w, http.StatusOK, items[string]{Items: ids})
}

func (s *Server) inspectorReport(w http.ResponseWriter, r *http.Request) {
	req, err := reportQuery(r.URL.Query(), "category", "area")
	if err != nil {
		fail(w, r, err)
		return
	}
	_, rows, err := s.Reports.InspectorReport(r.Context(), principal(r), req)
	if err != nil {
		fail(w, r, err)
		return
	}
	if rows == nil {
		rows = []duban.InspectorRow{}
	}
	reply(w, http.StatusOK, struct {
		period
		Items []duban.InspectorRow `json:"items"`
	}{period{req.From, req.To}, rows})
}

func (s *Server) bulletins(w http.ResponseWriter, r *http.Request) {
	bs, err := s.Reports.Bulletins(r.Context(), principal(r))
	if err != nil {
		fail(w, r, err)
		return
	}
	if bs == nil {
		bs = []duban.Bulletin{}
	}
	reply(w, http.StatusOK, items[duban.Bulletin]{Items: bs})
}

func (s *Server) bulletin(w http.ResponseWriter, r *http.Request) {
	b, err := s.Reports.Bulletin(r.Context(), principal(r), chi.URLParam(r, "period"))
	if err != nil {
		fail(w, r, err)
		return
	}
	if wantsCSV(r) {
		s.replyCSV(w, r, "bulletin-"+b.Name+".csv", scorecardCSV(b.Rows))
		return
	}
	if b.Rows == nil {
		b.Rows = []duban.UnitRow{}
	}
	reply(w, http.StatusOK, b)
}
