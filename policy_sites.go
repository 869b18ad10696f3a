package duban

import (
	"strconv"
	"strings"
	"time"
)

// The site types and the inspection block as written.
type rawSiteType struct {
	Code  string    `yaml:"code"`
	Name  Names     `yaml:"name"`
	Items []rawItem `yaml:"items"`
}

type rawItem struct {
	Code     string `yaml:"code"`
	Name     Names  `yaml:"name"`
	Category string `yaml:"category"`
	Points   *int   `yaml:"points"`
}

type rawInspection struct {
	PassScore  *int           `yaml:"pass_score"`
	Recurrence *rawRecurrence `yaml:"recurrence"`
}

type rawRecurrence struct {
	Window string `yaml:"window"`
	ListAt *int   `yaml:"list_at"`
}

// siteTypes reads the site types: each code once, items coded once across
// all types (a case names its item alone), each opening a case of a known
// category and deducting 1 to 100 points.
func (c *policyChecker) siteTypes(p *Policy, raw []rawSiteType) []SiteType {
	var out []SiteType
	items := map[string]bool{}
	for i, rt := range raw {
		seen := false
		for _, t := range out {
			seen = seen || t.Code == rt.Code
		}
		c.listedID(at("site_types", i, "code"), "site type", rt.Code, seen)
		if len(rt.Items) == 0 {
			c.problem(at("site_types", i), "site type %q has no items", rt.Code)
		}
		t := SiteType{Code: rt.Code, Name: rt.Name}
		for j, ri := range rt.Items {
			path := func(key string) []any { return at("site_types", i, "items", j, key) }
			c.listedID(path("code"), "item", ri.Code, items[ri.Code])
			items[ri.Code] = true
			if _, ok := p.Category(ri.Category); !ok {
				c.problem(path("category"), "unknown category %q", ri.Category)
			}
			item := StandardItem{Code: ri.Code, Name: ri.Name, Category: ri.Category}
			switch {
			case ri.Points == nil:
				c.problem(path("points"), "item %q needs points: what a failure deducts, 1 to 100", ri.Code)
			case *ri.Points < 1 || *ri.Points > 100:
				c.problem(path("points"), "must be from 1 to 100, not %d", *ri.Points)
			default:
				item.Points = *ri.Points
			}
			t.Items = append(t.Items, item)
		}
		out = append(out, t)
	}
	return out
}

// inspection reads the inspection block: the default's, where it says
// nothing.
func (c *policyChecker) inspection(raw *rawInspection) Inspection {
	in := defaultInspection
	if raw == nil {
		return in
	}
	if s := raw.PassScore; s != nil {
		if *s < 0 || *s > 100 {
			c.problem(at("inspection", "pass_score"), "must be from 0 to 100, not %d", *s)
		}
		in.PassScore = *s
	}
	if r := raw.Recurrence; r != nil {
		if r.Window != "" {
			in.Recurrence.Window = c.days(at("inspection", "recurrence", "window"), r.Window)
		}
		if n := r.ListAt; n != nil {
			if *n < 2 {
				c.problem(at("inspection", "recurrence", "list_at"), "must be 2 or more (the first failure is no recurrence), not %d", *n)
			}
			in.Recurrence.ListAt = *n
		}
	}
	return in
}

// days reads a duration that may be given in whole days ("30d"), as a
// window of weeks is said, or as a Go duration.
func (c *policyChecker) days(path []any, text string) time.Duration {
	if n, ok := strings.CutSuffix(text, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d > 0 {
			return time.Duration(d) * 24 * time.Hour
		}
		c.problem(path, "bad duration %q: want whole days such as 30d, or a Go duration such as 720h", text)
		return 0
	}
	return c.duration(path, text)
}
