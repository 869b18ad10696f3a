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
	Window time.Duration `json:"window"`
	ListAt int           `json:"list_at"`
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

// StandardItem returns the item with code, of whichever site type has it
// (items are coded once across the site types).
func (p *Policy) StandardItem(code string) (StandardItem, bool) {
	for _, t := range p.SiteTypes {
		if it, ok := t.Item(code); ok {
			return it, true
		}
	}
	return StandardItem{}, false
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

// Found is where a site inspection found a problem: the site, the item of
// its checklist that failed, the round, and the n of the failure: how many
// times in a row the item has failed at the site (1 for a first; 顽疾 from 2).
type Found struct {
	Site       string `json:"site"`
	Item       string `json:"item"`
	Round      string `json:"round"`
	Recurrence int    `json:"recurrence"`
}

// Finding is what an open needs to know of a failed item to open its
// case: the facts the application layer gives, and the policy's rule.
type Finding struct {
	Site  string `json:"site"`
	Item  string `json:"item"`
	Round string `json:"round"`
	// Unit is the site's unit (包保单位), who answers for what fails there
	// whatever the routing says; empty: the routing decides.
	Unit string `json:"unit,omitempty"`
	// Last is the last case opened for the item at the site, from the
	// store; nil when there is none.
	Last *LastFinding `json:"last,omitempty"`
	// Recurrence is the policy's rule (resolved by Policy.Resolve).
	Recurrence Recurrence `json:"recurrence"`
}

// LastFinding is the last case opened for an item at a site.
type LastFinding struct {
	Case       string    `json:"case"`
	OpenedAt   time.Time `json:"opened_at"`
	Recurrence int       `json:"recurrence"`
}

// found is where the finding's case records it was found at now: the n-th
// failure in a row when the last case for the item at the site opened
// within the window before now, else the first.
func (f Finding) found(now time.Time) Found {
	n := 1
	if l := f.Last; l != nil && now.Sub(l.OpenedAt) <= f.Recurrence.Window {
		n = max(l.Recurrence, 1) + 1
	}
	return Found{Site: f.Site, Item: f.Item, Round: f.Round, Recurrence: n}
}

// listed reports whether a failure found n-th in a row opens its case
// listed (挂牌督办).
func (f Finding) listed(n int) bool {
	return f.Recurrence.ListAt > 0 && n >= f.Recurrence.ListAt
}
