package duban

import (
	"cmp"
	"slices"
)

// SiteReportQuery selects a site report: a period and, optionally, a site
// type, an area and a unit (包保单位), of the sites and of the inspections
// (as the site was when inspected).
type SiteReportQuery struct {
	Period
	Type, Area, Unit string
}

// SiteTypeRow is a site type's row of the site report (SPEC, "Sites and
// standards"): its active sites, those inspected in the period and how
// often, their mean score and pass rate, and the items failed most.
type SiteTypeRow struct {
	Type         string      `json:"type"`
	Sites        int         `json:"sites"`
	Inspected    int         `json:"inspected"` // distinct sites
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
		if r.Inspections > 0 {
			r.MeanScore = tenth(ptrTo(float64(r.ScoreSum) / float64(r.Inspections)))
		}
		slices.SortFunc(r.Items, func(a, b ItemCount) int { return cmp.Or(b.Failed-a.Failed, cmp.Compare(a.Item, b.Item)) })
		r.Items = slices.Clip(r.Items[:min(len(r.Items), maxItemsShown)])
		if r.Items == nil {
			r.Items = []ItemCount{}
		}
	}
	return out
}
