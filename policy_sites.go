package duban

import (
	"cmp"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
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

// rawRoundSchedule is a round the policy schedules, as written.
type rawRoundSchedule struct {
	Code       string    `yaml:"code"`
	Name       string    `yaml:"name"`
	Every      string    `yaml:"every"`
	Kind       RoundKind `yaml:"kind"`
	SiteTypes  []string  `yaml:"site_types"`
	Areas      []string  `yaml:"areas"`
	Sample     int       `yaml:"sample"`
	Due        string    `yaml:"due"`
	Inspectors []string  `yaml:"inspectors"`
}

var (
	// everyWeekday is a time of the week or of every day: "mon 08:30",
	// "daily 17:00".
	everyWeekday = regexp.MustCompile(`^(mon|tue|wed|thu|fri|sat|sun|daily) ([01][0-9]|2[0-3]):([0-5][0-9])$`)
	// everyCron is a cron line's shape: five fields, as Temporal reads them.
	everyCron = regexp.MustCompile(`^[0-9A-Za-z*,/?-]+( [0-9A-Za-z*,/?-]+){4}$`)
)

// roundSchedules reads the rounds the policy schedules: each coded once,
// starting at a weekly or daily time or on a cron line, drawing from site
// types, areas and inspectors the policy has, due a while after its start.
func (c *policyChecker) roundSchedules(p *Policy, raw []rawRoundSchedule) []RoundSchedule {
	var out []RoundSchedule
	for i, r := range raw {
		path := func(key string) []any { return at("rounds", i, key) }
		c.listedID(path("code"), "round", r.Code, slices.ContainsFunc(out, func(s RoundSchedule) bool { return s.Code == r.Code }))
		s := RoundSchedule{Code: r.Code, Name: strings.TrimSpace(r.Name), Every: r.Every, Kind: cmp.Or(r.Kind, RoundOpen),
			SiteTypes: r.SiteTypes, Areas: r.Areas, Sample: r.Sample, Inspectors: r.Inspectors}
		if s.Name == "" {
			c.problem(path("name"), "a scheduled round needs a name")
		}
		switch m := everyWeekday.FindStringSubmatch(r.Every); {
		case m != nil:
			s.Weekday = slices.Index([]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, m[1]) // -1: daily
			s.Hour, _ = strconv.Atoi(m[2])
			s.Minute, _ = strconv.Atoi(m[3])
		case everyCron.MatchString(r.Every):
			s.Cron = r.Every
		default:
			c.problem(path("every"), "bad time %q: want a day and a time such as \"mon 08:30\" or \"daily 17:00\", or a cron line such as \"30 8 * * 1\"", r.Every)
		}
		if s.Kind != RoundOpen && s.Kind != RoundCovert {
			c.problem(path("kind"), "must be open (明查) or covert (暗访), not %q", s.Kind)
		}
		for j, t := range r.SiteTypes {
			if _, ok := p.SiteType(t); !ok {
				c.problem(at("rounds", i, "site_types", j), "unknown site type %q", t)
			}
		}
		for j, a := range r.Areas {
			if len(p.Areas) > 0 && !p.hasArea(a) {
				c.problem(at("rounds", i, "areas", j), "unknown area %q", a)
			}
		}
		if r.Sample < 0 {
			c.problem(path("sample"), "must be 0 (every site) or more, not %d", r.Sample)
		}
		if r.Due == "" {
			c.problem(path("due"), "a scheduled round needs its due time after its start, such as 5d")
		} else {
			s.Due = c.days(path("due"), r.Due)
		}
		if len(r.Inspectors) == 0 {
			c.problem(path("inspectors"), "a scheduled round needs its inspectors")
		}
		for j, id := range r.Inspectors {
			if !slices.ContainsFunc(p.Principals, func(e PrincipalEntry) bool { return e.ID == id && e.Role == RoleInspector }) {
				c.problem(at("rounds", i, "inspectors", j), "%q is not an inspector of the policy", id)
			}
		}
		out = append(out, s)
	}
	return out
}

// outline reads an area's outline: a GeoJSON Polygon whose rings are
// closed, of four points or more, each a [lon, lat] on the globe.
func (c *policyChecker) outline(path []any, raw *rawOutline) [][][2]float64 {
	if raw == nil {
		return nil
	}
	if raw.File != "" {
		if raw = c.outlineFile(path, raw.File); raw == nil {
			return nil
		}
	}
	if raw.Type != "Polygon" {
		c.problem(path, "must be a GeoJSON Polygon, {type: Polygon, coordinates: [[[lon, lat], ...]]}, not %q", raw.Type)
		return nil
	}
	if len(raw.Coordinates) == 0 {
		c.problem(path, "a polygon needs a ring of points")
	}
	out := make([][][2]float64, len(raw.Coordinates))
	for i, ring := range raw.Coordinates {
		at := append(slices.Clip(path), "coordinates", i)
		for _, pt := range ring {
			if len(pt) != 2 || pt[0] < -180 || pt[0] > 180 || pt[1] < -90 || pt[1] > 90 {
				c.problem(at, "%v is not a [lon, lat] on the globe", pt)
				return nil
			}
			out[i] = append(out[i], [2]float64{pt[0], pt[1]})
		}
		switch {
		case len(ring) < 4:
			c.problem(at, "a ring needs four points or more, the last the first again")
		case out[i][0] != out[i][len(ring)-1]:
			c.problem(at, "a ring must end where it starts")
		}
	}
	return out
}

// outlineFile reads an outline kept in a GeoJSON file: a Polygon, or a
// Feature whose geometry is one.
func (c *policyChecker) outlineFile(path []any, name string) *rawOutline {
	if c.read == nil {
		c.problem(path, "an outline file %q is read from beside a policy file only: give the polygon here", name)
		return nil
	}
	b, err := c.read(name)
	if err != nil {
		c.problem(path, "cannot read the outline: %v", err)
		return nil
	}
	c.included = append(c.included, b)
	var g struct {
		rawOutline
		Geometry *rawOutline `json:"geometry"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		c.problem(path, "%s is not GeoJSON: %v", name, err)
		return nil
	}
	if g.Type == "Feature" && g.Geometry != nil {
		return g.Geometry
	}
	return &g.rawOutline
}

// Bounds is a box of the globe: the policy's areas' outlines, together.
type Bounds struct {
	MinLat, MinLon, MaxLat, MaxLon float64
}

// Contains reports whether b holds l.
func (b Bounds) Contains(l Location) bool {
	return l.Lat >= b.MinLat && l.Lat <= b.MaxLat && l.Lon >= b.MinLon && l.Lon <= b.MaxLon
}

// Bounds returns the box around the areas' outlines; false when the
// policy draws none.
func (p *Policy) Bounds() (Bounds, bool) {
	var points [][2]float64
	for _, a := range p.Areas {
		for _, ring := range a.Outline {
			points = append(points, ring...)
		}
	}
	return Around(points)
}

// Around returns the box around points, each [lon, lat] as GeoJSON's;
// false when there are none.
func Around(points [][2]float64) (Bounds, bool) {
	b := Bounds{MinLat: 90, MinLon: 180, MaxLat: -90, MaxLon: -180}
	for _, pt := range points {
		b.MinLon, b.MaxLon = min(b.MinLon, pt[0]), max(b.MaxLon, pt[0])
		b.MinLat, b.MaxLat = min(b.MinLat, pt[1]), max(b.MaxLat, pt[1])
	}
	return b, len(points) > 0
}

// MapTiles is a city's tile server: a URL template with {z}, {x} and {y}
// (Web Mercator tiles of 256 pixels, as OpenStreetMap's), and the
// attribution its licence asks for.
type MapTiles struct {
	Tiles       string `yaml:"tiles"`
	Attribution string `yaml:"attribution"`
}

// mapTiles checks the tile server the policy names.
func (c *policyChecker) mapTiles(raw *MapTiles) *MapTiles {
	if raw == nil {
		return nil
	}
	u, err := url.Parse(strings.NewReplacer("{z}", "0", "{x}", "0", "{y}", "0").Replace(raw.Tiles))
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		c.problem(at("map", "tiles"), "must be an http(s) URL template, such as https://tiles.example.gov.cn/{z}/{x}/{y}.png, not %q", raw.Tiles)
	case !strings.Contains(raw.Tiles, "{z}") || !strings.Contains(raw.Tiles, "{x}") || !strings.Contains(raw.Tiles, "{y}"):
		c.problem(at("map", "tiles"), "must hold {z}, {x} and {y}: %q", raw.Tiles)
	}
	if strings.TrimSpace(raw.Attribution) == "" {
		c.problem(at("map", "attribution"), "a tile server's attribution is required: its licence asks for it")
	}
	return raw
}

// Origin is the scheme and host the tiles come from.
func (m *MapTiles) Origin() string {
	u, err := url.Parse(strings.NewReplacer("{z}", "0", "{x}", "0", "{y}", "0").Replace(m.Tiles))
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// Tile is the URL of tile x, y at zoom z.
func (m *MapTiles) Tile(z, x, y int) string {
	return strings.NewReplacer("{z}", strconv.Itoa(z), "{x}", strconv.Itoa(x), "{y}", strconv.Itoa(y)).Replace(m.Tiles)
}
