package duban

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Policy is the campaign office's rulebook: units, problem categories with
// their SLAs, routing, the escalation ladder and, for development, the
// principals' tokens. It is loaded once at start; each case keeps the Terms it
// was opened under.
type Policy struct {
	// Version fingerprints the policy's text; each case records it.
	Version string
	// Source names where the policy came from, for messages.
	Source string
	// Office is the campaign office's name, as its printed bulletins are
	// headed.
	Office   Names
	TimeZone string
	Calendar Calendar
	// Assign is how long a supervisor has to dispatch an unrouted or
	// disputed case, unless a category's SLA says otherwise.
	Assign time.Duration
	Units  []Unit
	// Areas are the districts or zones a case's location may name; when
	// the policy lists none, an area is free text.
	Areas      []Area
	Categories []Category
	Routing    []Route
	Escalation []Rung
	Principals []PrincipalEntry
	// Assessment says how units are scored (综合评价).
	Assessment Assessment
	// SiteTypes are the kinds of site and their standards (测评体系);
	// Inspection how an inspection of a site is judged.
	SiteTypes  []SiteType
	Inspection Inspection
	// Rounds are the rounds the policy schedules (on Temporal Schedules).
	Rounds []RoundSchedule
	// Map names the city's own tile server, drawn under the map; nil:
	// the map is duban's outlines alone.
	Map *MapTiles
	// Subscriptions are offered the events (outbox).
	Subscriptions []Subscription
	// BusinessHours is the business calendar of business_hours, holidays
	// and workdays, whichever calendar deadlines count on; nil without
	// business_hours. People's subscriptions keep its hours.
	BusinessHours *Calendar
	// Public is how residents' reports are taken (SPEC, "Residents");
	// Open311 the clients that may post them.
	Public  PublicPolicy
	Open311 []APIKey
	// Honours are the red and black lists each bulletin publishes, and
	// Sanctions the ladder a unit on the black list climbs (SPEC,
	// "Reward and penalty").
	Honours   Honours
	Sanctions []SanctionRule

	tokens map[[sha256.Size]byte]Principal
	// users are the principals' indexes in Principals by user name, in
	// lower case: user names are not case-sensitive.
	users map[string]int
}

// Names is a name in the campaign's languages.
type Names struct {
	Zh string `yaml:"zh" json:"zh"`
	En string `yaml:"en" json:"en"`
}

// In is the name in lang ("zh" or "en"), else in the other language; ""
// when the policy gives none.
func (n Names) In(lang string) string {
	if lang == "en" {
		return cmp.Or(n.En, n.Zh)
	}
	return cmp.Or(n.Zh, n.En)
}

// Unit is a responsible unit (责任单位).
type Unit struct {
	ID   string
	Name Names
	// Duty is whom the office calls about the unit's cases; nil when the
	// policy names no one.
	Duty *Duty
}

// Duty is a unit's duty contact (值班联系人): a person and a phone.
type Duty struct {
	Person string `yaml:"person"`
	Phone  string `yaml:"phone"`
}

// Area is a district or zone of the city (片区), as routing rules, lists
// and reports name it.
type Area struct {
	ID   string
	Name Names
	// Outline is the area's boundary for the map (一张图): rings of
	// [lon, lat] as GeoJSON's, the first the outer one; nil when the
	// policy draws none.
	Outline [][][2]float64
}

// Category is a kind of problem, the unit that handles it by default and its
// deadlines by severity.
type Category struct {
	Code string
	Name Names
	Unit string // empty: cases of this category wait for a supervisor to assign them
	SLA  map[Severity]CategorySLA
	// Public: residents may report it (随手拍, Open311).
	Public bool
}

// CategorySLA is a category's deadlines for one severity and the calendar they
// are counted on.
type CategorySLA struct {
	SLA
	Calendar Calendar
}

// Route sends cases of a category, in an area, to a unit other than the
// category's own. An empty Category or Area matches any.
type Route struct {
	Category string
	Area     string
	Unit     string
}

// PrincipalEntry is a principal of the policy and how it signs in: Token is
// empty when the policy holds only the token's hash (or there is none);
// User is its name on the office pages, and Password its password when the
// policy holds it in the clear (development).
type PrincipalEntry struct {
	Token    string
	User     string
	Password string
	Principal
	hash passwordHash
}

//go:embed default-policy.yaml
var defaultPolicy []byte

// DefaultPolicy returns the policy that ships in the binary.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy("default-policy.yaml", defaultPolicy)
	if err != nil {
		panic("duban: the embedded default policy is invalid: " + err.Error())
	}
	return p
}

// Category returns the category with code.
func (p *Policy) Category(code string) (Category, bool) {
	for _, c := range p.Categories {
		if c.Code == code {
			return c, true
		}
	}
	return Category{}, false
}

// Unit returns the unit with id.
func (p *Policy) Unit(id string) (Unit, bool) {
	for _, u := range p.Units {
		if u.ID == id {
			return u, true
		}
	}
	return Unit{}, false
}

// Route returns the unit responsible for a case of category in area, and
// what decided it: the first matching routing rule, else the category's own
// unit. An empty unit means no one is responsible: the case waits for a
// supervisor.
func (p *Policy) Route(category, area string) (unit string, why *Routing) {
	for i, r := range p.Routing {
		if (r.Category == "" || r.Category == category) && (r.Area == "" || r.Area == area) {
			return r.Unit, &Routing{Rule: i + 1, Category: r.Category, Area: r.Area}
		}
	}
	if c, ok := p.Category(category); ok && c.Unit != "" {
		return c.Unit, &Routing{Category: category}
	}
	return "", nil
}

// Routing is what sent a case to its unit, as its dispatch records it:
// a supervisor's assignment (AssignedBy), a routing rule of the policy
// (Rule, from 1, with the category and area it names, either may be
// empty), or else the category's own unit (the category alone).
type Routing struct {
	AssignedBy string `json:"assigned_by,omitempty"`
	Rule       int    `json:"rule,omitempty"`
	Category   string `json:"category,omitempty"`
	Area       string `json:"area,omitempty"`
	// Site is the site whose unit (包保单位) answers for what an inspection
	// found there.
	Site string `json:"site,omitempty"`
}

// Reason says the routing in English, as a dispatch's reason.
func (r Routing) Reason(unit string) string {
	switch {
	case r.AssignedBy != "":
		return "assigned by " + r.AssignedBy
	case r.Rule > 0:
		return fmt.Sprintf("routing rule %d (category %q, area %q)", r.Rule, r.Category, r.Area)
	case r.Site != "":
		return fmt.Sprintf("site %s is answered for by %s", r.Site, unit)
	}
	return fmt.Sprintf("category %q is handled by %s", r.Category, unit)
}

// Terms returns the terms a new case of category and severity runs by.
func (p *Policy) Terms(category string, severity Severity) (Terms, bool) {
	c, ok := p.Category(category)
	if !ok {
		return Terms{}, false
	}
	sla, ok := c.SLA[severity]
	if !ok {
		return Terms{}, false
	}
	return Terms{SLA: sla.SLA, Calendar: sla.Calendar, Ladder: p.Escalation}, true
}

// Resolve returns cmd with the facts its decision needs from this policy:
// for an open, the severity if none was given (normal), the category's
// terms, the unit routing finds, the policy's version and its categories;
// for an assignment, the policy's units. Other commands need nothing of
// the policy and are returned as they are.
func (p *Policy) Resolve(cmd Command) Command {
	switch c := cmd.(type) {
	case OpenCase:
		if c.Severity == "" {
			c.Severity = SeverityNormal
		}
		c.Terms, _ = p.Terms(c.Category, c.Severity)
		c.Unit, c.Routing = p.Route(c.Category, c.Location.Area)
		if c.Finding != nil {
			f := *c.Finding
			f.Recurrence = p.Inspection.Recurrence
			if f.Unit != "" { // the site's unit answers for it
				c.Unit, c.Routing = f.Unit, &Routing{Site: f.Site}
			}
			c.Finding = &f
		}
		c.PolicyVersion = p.Version
		c.Categories = make([]string, len(p.Categories))
		for i, cat := range p.Categories {
			c.Categories[i] = cat.Code
		}
		c.Areas = p.areaIDs()
		if c.Public != nil {
			p.resolvePublic(&c)
		}
		return c
	case Assign:
		c.Units = make([]string, len(p.Units))
		for i, u := range p.Units {
			c.Units[i] = u.ID
		}
		return c
	}
	return cmd
}

// PlaintextSecrets returns the ids of the principals whose tokens or
// passwords the policy holds in the clear (development principals), not as
// their hashes.
func (p *Policy) PlaintextSecrets() []string {
	var ids []string
	for _, e := range p.Principals {
		if e.Token != "" || e.Password != "" {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// Authenticate returns the principal a bearer token stands for. Tokens are
// compared by their SHA-256 digests, so the comparison's timing does not
// depend on how much of a guess was right.
func (p *Policy) Authenticate(token string) (Principal, bool) {
	if token == "" {
		return Principal{}, false
	}
	pr, ok := p.tokens[sha256.Sum256([]byte(token))]
	return pr, ok
}

// SignIn returns the principal whose user name (in any case) and password
// these are. It takes as long for an unknown user as for a known one, so
// that the time does not tell which user names exist.
func (p *Policy) SignIn(user, password string) (Principal, bool) {
	i, ok := p.users[strings.ToLower(user)]
	if !ok {
		decoy().matches(password)
		return Principal{}, false
	}
	e := p.Principals[i]
	if e.Password != "" {
		decoy().matches(password)
		return e.Principal, subtle.ConstantTimeCompare([]byte(password), []byte(e.Password)) == 1
	}
	return e.Principal, e.hash.matches(password)
}

// decoy is checked against when there is no hash to check: it costs what a
// real check costs.
var decoy = sync.OnceValue(func() passwordHash {
	h, err := parsePasswordHash(HashPassword("decoy password"))
	if err != nil {
		panic("duban: HashPassword makes a hash it cannot read: " + err.Error())
	}
	return h
})

// Principal returns the principal with id: a session names its principal by
// id, and a principal removed from the policy signs no one in any more.
func (p *Policy) Principal(id string) (Principal, bool) {
	for _, e := range p.Principals {
		if e.ID == id {
			return e.Principal, true
		}
	}
	return Principal{}, false
}

func (p *Policy) hasUser(name string) bool {
	_, ok := p.users[strings.ToLower(name)]
	return ok
}

func (p *Policy) hasArea(id string) bool {
	_, ok := p.Area(id)
	return ok
}

// areaIDs are the policy's areas' ids; nil when it lists none.
func (p *Policy) areaIDs() []string {
	var ids []string
	for _, a := range p.Areas {
		ids = append(ids, a.ID)
	}
	return ids
}

// siteTypeCodes are the policy's site types' codes.
func (p *Policy) siteTypeCodes() []string {
	var codes []string
	for _, t := range p.SiteTypes {
		codes = append(codes, t.Code)
	}
	return codes
}

// Area returns the area with id.
func (p *Policy) Area(id string) (Area, bool) {
	for _, a := range p.Areas {
		if a.ID == id {
			return a, true
		}
	}
	return Area{}, false
}

func (p *Policy) hasUnit(id string) bool {
	_, ok := p.Unit(id)
	return ok
}

func (p *Policy) hasCategory(code string) bool {
	_, ok := p.Category(code)
	return ok
}
