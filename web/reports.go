package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
)

type reportsData struct {
	From, To string // the period's days, [From, To), as links carry them
	// Until is the period's last day, as people say it and the form holds it.
	Until     string
	Period    duban.Period
	Rows      []duban.UnitRow
	Chart     []bar
	Bulletins []duban.Bulletin
	// Inspectors are the inspectors' figures, for those who oversee.
	Inspectors []duban.InspectorRow
}

// bar is one unit's bar in the score chart, laid out by the server.
type bar struct {
	Label string
	Score float64
	Y     int // top of the bar
	Width float64
}

// chartWidth is the width of the score chart's bars at 100 points.
const chartWidth = 400

// reportRequest reads the period the page asks for: from and to as the
// API's, or from and the last day (until, as the form sends it); the
// current assessment period when it asks none.
func (s *Server) reportRequest(r *http.Request) app.ReportRequest {
	q := r.URL.Query()
	req := app.ReportRequest{From: q.Get("from"), To: q.Get("to")}
	if until := q.Get("until"); until != "" {
		req.To = until + "+1" // not a date: refused as such unless it is one
		if d, err := time.Parse(time.DateOnly, until); err == nil {
			req.To = d.AddDate(0, 0, 1).Format(time.DateOnly)
		}
	}
	if req.From == "" && req.To == "" {
		p := s.Policy.AssessmentPeriodOf(s.now())
		req.From = p.From.In(s.zone).Format(time.DateOnly)
		req.To = p.To.In(s.zone).Format(time.DateOnly)
	}
	return req
}

// reports shows the units' scorecards of a period, ranked, with a chart of
// their scores, each count linking to its cases, and the bulletins.
func (s *Server) reports(w http.ResponseWriter, r *http.Request) {
	by := session(r).Principal
	req := s.reportRequest(r)
	p := s.newPage(r, "reports.title")
	d := reportsData{From: req.From, To: req.To, Until: lastDay(req.To)}
	period, rows, err := s.App.UnitScorecards(r.Context(), by, req)
	if duban.ErrorCode(err) == duban.EINVALID {
		p.Problem = s.problem(p, err)
		p.Data = d
		s.render(w, r, http.StatusBadRequest, "reports", p)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Period, d.Rows = period, rows
	for _, row := range rows {
		if row.Score == nil {
			continue
		}
		d.Chart = append(d.Chart, bar{Label: p.Unit(row.Unit), Score: *row.Score, Y: 8 + 28*len(d.Chart), Width: *row.Score / 100 * chartWidth})
	}
	if by.Oversees() {
		if d.Bulletins, err = s.App.Bulletins(r.Context(), by); err != nil {
			s.fail(w, r, err)
			return
		}
		if _, d.Inspectors, err = s.App.InspectorReport(r.Context(), by, req); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	p.Data = d
	s.render(w, r, http.StatusOK, "reports", p)
}

// ChartHeight is the height of the score chart.
func (d reportsData) ChartHeight() int { return 16 + 28*len(d.Chart) }

// Percent says a rate as a percentage, or a dash when it has none.
func (p *page) Percent(rate *float64) string {
	if rate == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", *rate*100)
}

// Score says a score, or a dash when there is none.
func (p *page) Score(score *float64) string {
	if score == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f", *score)
}

// reportCSV is the period's scorecards as CSV, as the API's.
func (s *Server) reportCSV(w http.ResponseWriter, r *http.Request) {
	req := s.reportRequest(r)
	period, rows, err := s.App.UnitScorecards(r.Context(), session(r).Principal, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := fmt.Sprintf("scorecards-%s-%s.csv", period.From.In(s.zone).Format(time.DateOnly), period.To.In(s.zone).Format(time.DateOnly))
	s.csvFile(w, r, name, func(w io.Writer, names duban.CSVNames) error { return duban.WriteScorecardCSV(w, rows, names) })
}

// csvFile answers with a report as a CSV file named name, written by
// write with the names of the page's language.
func (s *Server) csvFile(w http.ResponseWriter, r *http.Request, name string, write func(io.Writer, duban.CSVNames) error) {
	var b bytes.Buffer
	p := s.newPage(r, "reports.title")
	if err := write(&b, api.ReportNames(s.Policy, p.cat, p.Lang)); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Write(b.Bytes())
}

type figureData struct {
	Unit, Figure, From, To string
	Until                  string // the last day of [From, To)
	// Cases are the cases behind the count, each once; Count is the count
	// as the scorecard shows it (n), which a case may make more than once
	// (resolved twice after a rework: two obligations handled).
	Cases []listed
	Count int
}

// Repeats reports whether the count is more than the cases behind it.
func (d figureData) Repeats() bool { return d.Count > len(d.Cases) }

// figureCases lists the cases behind one count of a unit's scorecard.
func (s *Server) figureCases(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := s.reportRequest(r)
	d := figureData{Unit: q.Get("unit"), Figure: q.Get("figure"), From: req.From, To: req.To, Until: lastDay(req.To)}
	ids, err := s.App.FigureCases(r.Context(), session(r).Principal, d.Unit, d.Figure, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "figure.title")
	ls := make([]app.Listed, 0, len(ids))
	for _, id := range ids {
		l, err := s.App.CaseView(r.Context(), session(r).Principal, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ls = append(ls, l)
	}
	if d.Cases, err = s.decodeListed(ls, p.now); err != nil {
		s.fail(w, r, err)
		return
	}
	d.Count, _ = strconv.Atoi(q.Get("n"))
	p.Data = d
	s.render(w, r, http.StatusOK, "figure", p)
}

// bulletin is a published bulletin, laid out for printing.
func (s *Server) bulletin(w http.ResponseWriter, r *http.Request) {
	b, err := s.App.Bulletin(r.Context(), session(r).Principal, chi.URLParam(r, "period"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "bulletin.title")
	p.Data = b
	s.render(w, r, http.StatusOK, "bulletin", p)
}

// lastDay is the day before to (YYYY-MM-DD): the last day of a period
// [from, to); to as it is when it is no date.
func lastDay(to string) string {
	d, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return to
	}
	return d.AddDate(0, 0, -1).Format(time.DateOnly)
}

// figureLink is a count of a scorecard, linking to its cases.
type figureLink struct {
	Unit, Figure, From, To string
	N                      int
}

// Figure returns the link of a unit's count on the reports page.
func (p *page) Figure(unit, figure string, n int) figureLink {
	d := p.Data.(reportsData)
	return figureLink{Unit: unit, Figure: figure, From: d.From, To: d.To, N: n}
}

type siteReportData struct {
	From, To, Until string
	Report          app.SiteReport
}

// siteReport is the sites tab of the reports: each site type's coverage,
// scores and the items failed most in the period, each count opening its
// list, and the sites scored worst.
func (s *Server) siteReport(w http.ResponseWriter, r *http.Request) {
	by := session(r).Principal
	req := s.reportRequest(r)
	p := s.newPage(r, "sites.title")
	d := siteReportData{From: req.From, To: req.To, Until: lastDay(req.To)}
	report, err := s.App.SiteReport(r.Context(), by, app.SiteReportRequest{From: req.From, To: req.To})
	if duban.ErrorCode(err) == duban.EINVALID {
		p.Problem = s.problem(p, err)
		p.Data = d
		s.render(w, r, http.StatusBadRequest, "sites", p)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Report = report
	p.Data = d
	s.render(w, r, http.StatusOK, "sites", p)
}

// siteReportCSV is the period's site report as CSV, as the API's.
func (s *Server) siteReportCSV(w http.ResponseWriter, r *http.Request) {
	req := s.reportRequest(r)
	report, err := s.App.SiteReport(r.Context(), session(r).Principal, app.SiteReportRequest{From: req.From, To: req.To})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.csvFile(w, r, fmt.Sprintf("sites-%s-%s.csv", req.From, lastDay(req.To)), func(w io.Writer, names duban.CSVNames) error {
		return duban.WriteSiteRowsCSV(w, report.Rows, names)
	})
}
