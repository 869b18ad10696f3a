package duban

import (
	"cmp"
	"io"
	"slices"
	"strconv"
	"strings"
)

// SiteReportQuery selects a site report: a period and, optionally, a site
// type, an area and a unit (包保单位), of the sites and of the inspections
// (as the site was when inspected).
type SiteReportQuery struct {
	Period
	Type, Area, Unit string
}

// Selects reports whether q keeps a site (or an inspection, the site as
// it was) of typ, in area, answered for by unit.
func (q SiteReportQuery) Selects(typ, area, unit string) bool {
	return (q.Type == "" || typ == q.Type) && (q.Area == "" || area == q.Area) && (q.Unit == "" || unit == q.Unit)
}

// SiteTypeRow is a site type's row of the site report (SPEC, "Sites and
// standards"): its active sites, those inspected in the period and how
// often, their mean score and pass rate, and the items failed most.
type SiteTypeRow struct {
	Type         string      `json:"type"`
	Sites        int         `json:"sites"`
	Inspected    int         `json:"inspected"` // distinct sites of Sites inspected: coverage
	CoverageRate *float64    `json:"coverage_rate"`
	Inspections  int         `json:"inspections"`
	Passed       int         `json:"passed"`
	MeanScore    *float64    `json:"mean_score"`
	PassRate     *float64    `json:"pass_rate"`
	Items        []ItemCount `json:"items"` // failed most first
	// ScoreSum is what MeanScore is taken of; the store counts it.
	ScoreSum int `json:"-"`
}

// ItemCount is how often an item failed.
type ItemCount struct {
	Item   string `json:"item"`
	Failed int    `json:"failed"`
}

// MeanScore is the mean of n scores summing to sum, to one decimal; nil
// for none.
func MeanScore(sum, n int) *float64 {
	if n == 0 {
		return nil
	}
	return tenth(new(float64(sum) / float64(n)))
}

// maxItemsShown bounds the items a site type's row lists.
const maxItemsShown = 5

// SiteRows completes the rows a store counted: one per site type of the
// policy (that q selects), in the policy's order, with none counted
// zero; rates and the mean score; the items failed most, at most five,
// ties by code. A type no longer in the policy keeps its row, last.
func (p *Policy) SiteRows(counted []SiteTypeRow, q SiteReportQuery) []SiteTypeRow {
	var out []SiteTypeRow
	for _, t := range p.SiteTypes {
		if q.Type != "" && t.Code != q.Type {
			continue
		}
		row := SiteTypeRow{Type: t.Code}
		if i := slices.IndexFunc(counted, func(r SiteTypeRow) bool { return r.Type == t.Code }); i >= 0 {
			row = counted[i]
		}
		out = append(out, row)
	}
	for _, r := range counted {
		if _, ok := p.SiteType(r.Type); !ok {
			out = append(out, r)
		}
	}
	for i := range out {
		r := &out[i]
		r.CoverageRate, r.PassRate = rate(r.Inspected, r.Sites), rate(r.Passed, r.Inspections)
		r.MeanScore = MeanScore(r.ScoreSum, r.Inspections)
		slices.SortFunc(r.Items, func(a, b ItemCount) int { return cmp.Or(b.Failed-a.Failed, cmp.Compare(a.Item, b.Item)) })
		r.Items = slices.Clip(r.Items[:min(len(r.Items), maxItemsShown)])
		if r.Items == nil {
			r.Items = []ItemCount{}
		}
	}
	return out
}

// SiteScore is a site's standing over a period: its inspections, their
// mean score and the items they failed.
type SiteScore struct {
	Site        string   `json:"site"`
	Type        string   `json:"type"`
	Inspections int      `json:"inspections"`
	MeanScore   *float64 `json:"mean_score"`
	Failed      int      `json:"failed"`
	// ScoreSum is what MeanScore is taken of; the store counts it.
	ScoreSum int `json:"-"`
}

// WorstSites ranks the sites a store counted, the lowest mean score first
// (then the most items failed, then by id), and keeps the first n, their
// mean scores to one decimal.
func WorstSites(counted []SiteScore, n int) []SiteScore {
	for i := range counted {
		counted[i].MeanScore = MeanScore(counted[i].ScoreSum, counted[i].Inspections)
	}
	slices.SortFunc(counted, func(a, b SiteScore) int {
		return cmp.Or(cmp.Compare(float64(a.ScoreSum)*float64(b.Inspections), float64(b.ScoreSum)*float64(a.Inspections)),
			b.Failed-a.Failed, cmp.Compare(a.Site, b.Site))
	})
	return slices.Clip(counted[:min(n, len(counted))])
}

// siteRowColumns are the CSV columns of a site report.
var siteRowColumns = []string{"type", "sites", "inspected", "coverage_rate", "inspections", "passed", "mean_score", "pass_rate", "items"}

// WriteSiteRowsCSV writes a site report's rows as CSV a spreadsheet opens
// as it is, as WriteScorecardCSV does: names says the columns, the site
// types and the items in a language, or leaves them. The items failed
// most are one cell, "item ×n; …".
func WriteSiteRowsCSV(w io.Writer, rows []SiteTypeRow, names CSVNames) error {
	say := func(f func(string) string, s string) string {
		if f == nil {
			return s
		}
		return f(s)
	}
	cw, err := newSheet(w, siteRowColumns, names.Column)
	if err != nil {
		return err
	}
	for _, r := range rows {
		var items []string
		for _, it := range r.Items {
			items = append(items, say(names.Item, it.Item)+" ×"+strconv.Itoa(it.Failed))
		}
		record := []string{say(names.Type, r.Type), strconv.Itoa(r.Sites), strconv.Itoa(r.Inspected), decimal(r.CoverageRate),
			strconv.Itoa(r.Inspections), strconv.Itoa(r.Passed), decimal(r.MeanScore), decimal(r.PassRate), strings.Join(items, "; ")}
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
