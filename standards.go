package duban

import "time"

// SiteType is a kind of site (点位类型: 农贸市场, 背街小巷 …) and its
// checklist of standards (测评体系): what an inspection of such a site
// answers, item by item.
type SiteType struct {
	Code  string
	Name  Names
	Items []StandardItem
}

// StandardItem is one standard of a site type's checklist: a failure
// deducts Points from the site's score and opens a case of Category.
type StandardItem struct {
	Code     string
	Name     Names
	Category string
	Points   int
}

// Inspection is how site inspections are judged: a site passes at
// PassScore or above (out of 100); a failure of the same item at the same
// site within Recurrence.Window of the last one recurs (顽疾), and the
// ListAt-th in a row opens listed (挂牌督办).
type Inspection struct {
	PassScore  int
	Recurrence Recurrence
}

// Recurrence says when a failure recurs (顽疾) and when its case opens
// listed.
type Recurrence struct {
	Window time.Duration
	ListAt int
}

// defaultInspection is the inspection block of a policy that gives none:
// pass at 85, a repeat within 30 days recurs, the third in a row is listed.
var defaultInspection = Inspection{PassScore: 85, Recurrence: Recurrence{Window: 30 * 24 * time.Hour, ListAt: 3}}

// SiteType returns the site type with code.
func (p *Policy) SiteType(code string) (SiteType, bool) {
	for _, t := range p.SiteTypes {
		if t.Code == code {
			return t, true
		}
	}
	return SiteType{}, false
}

// Item returns the item of the checklist with code.
func (t SiteType) Item(code string) (StandardItem, bool) {
	for _, it := range t.Items {
		if it.Code == code {
			return it, true
		}
	}
	return StandardItem{}, false
}
