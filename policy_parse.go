package duban

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// PolicyError reports every problem found in a policy file, each with its line.
type PolicyError struct {
	File     string
	Problems []PolicyProblem
}

// PolicyProblem is one problem at one line of a policy file.
type PolicyProblem struct {
	Line    int
	Message string
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: %s", e.File, p.Line, p.Message)
		} else {
			fmt.Fprintf(&b, "%s: %s", e.File, p.Message)
		}
	}
	return b.String()
}

// The policy file as written.
type rawPolicy struct {
	Office        Names              `yaml:"office"`
	TimeZone      string             `yaml:"timezone"`
	Calendar      string             `yaml:"calendar"`
	BusinessHours *rawHours          `yaml:"business_hours"`
	Holidays      []string           `yaml:"holidays"`
	Workdays      []string           `yaml:"workdays"`
	Units         []rawUnit          `yaml:"units"`
	Areas         []rawArea          `yaml:"areas"`
	Categories    []rawCategory      `yaml:"categories"`
	Routing       []rawRoute         `yaml:"routing"`
	Assign        string             `yaml:"assign"`
	Assessment    *rawAssessment     `yaml:"assessment"`
	SiteTypes     []rawSiteType      `yaml:"site_types"`
	Inspection    *rawInspection     `yaml:"inspection"`
	Rounds        []rawRoundSchedule `yaml:"rounds"`
	Map           *MapTiles          `yaml:"map"`
	Escalation    *[]rawRung         `yaml:"escalation"`
	Principals    []rawPrincipal     `yaml:"principals"`
	Subscriptions []rawSubscription  `yaml:"subscriptions"`
	Public        *rawPublic         `yaml:"public"`
	Open311       *rawOpen311        `yaml:"open311"`
	Honours       *rawHonours        `yaml:"honours"`
	Sanctions     []rawSanction      `yaml:"sanctions"`
}

type rawAssessment struct {
	PeriodStartDay *int                `yaml:"period_start_day"`
	Weights        map[string]*float64 `yaml:"weights"`
}

type rawHours struct {
	Days  []string `yaml:"days"`
	Hours []string `yaml:"hours"`
}

type rawUnit struct {
	ID   string `yaml:"id"`
	Name Names  `yaml:"name"`
	// Duty is a unit's duty contact (a unit's only; not an area's).
	Duty *Duty `yaml:"duty"`
}

// rawArea is an area as written: as a unit, with its outline for the map.
type rawArea struct {
	ID      string      `yaml:"id"`
	Name    Names       `yaml:"name"`
	Duty    *Duty       `yaml:"duty"` // a unit's only: refused
	Outline *rawOutline `yaml:"outline"`
}

// rawOutline is a GeoJSON polygon: rings of [lon, lat], the first the
// outer one; or, written as a name, the GeoJSON file that has it (File).
type rawOutline struct {
	Type        string        `yaml:"type" json:"type"`
	Coordinates [][][]float64 `yaml:"coordinates" json:"coordinates"`
	File        string        `yaml:"-" json:"-"`
}

type rawCategory struct {
	Code string            `yaml:"code"`
	Name Names             `yaml:"name"`
	Unit string            `yaml:"unit"`
	SLA  map[string]rawSLA `yaml:"sla"`
	// Public: residents may report it (随手拍, Open311).
	Public bool `yaml:"public"`
}

type rawSLA struct {
	Assign      string `yaml:"assign"`
	Acknowledge string `yaml:"acknowledge"`
	Resolve     string `yaml:"resolve"`
	Verify      string `yaml:"verify"`
	Calendar    string `yaml:"calendar"`
}

type rawRoute struct {
	Category string `yaml:"category"`
	Area     string `yaml:"area"`
	Unit     string `yaml:"unit"`
}

type rawRung struct {
	At     string `yaml:"at"`
	Action string `yaml:"action"`
	Level  *int   `yaml:"level"`
}

type rawPrincipal struct {
	Token string `yaml:"token"`
	// TokenSHA256 is the hex SHA-256 of the token, for policies that must
	// not hold tokens in the clear: printf %s TOKEN | sha256sum
	TokenSHA256 string `yaml:"token_sha256"`
	ID          string `yaml:"id"`
	Role        string `yaml:"role"`
	Unit        string `yaml:"unit"`
	// User and PasswordHash (argon2id, from duban passwd) sign in to the
	// office pages; Password is a development password in the clear.
	User         string `yaml:"user"`
	PasswordHash string `yaml:"password_hash"`
	Password     string `yaml:"password"`
}

// defaultAssign is how long a supervisor has to dispatch an unrouted or
// disputed case when the policy does not say.
const defaultAssign = 2 * time.Hour

// defaultLadder applies when a policy says nothing of escalation.
var defaultLadder = []Rung{
	{At: Offset{Percent: -25, Relative: true}, Level: 0},
	{At: Offset{Duration: 0}, Level: 1},
	{At: Offset{Duration: 4 * time.Hour}, Level: 2},
	{At: Offset{Duration: 24 * time.Hour}, Level: 3},
}

// idPattern is what unit ids and category codes look like: they appear in
// URLs, filters and reports.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ParsePolicy reads and checks a policy. name is the file's name, used in
// messages; every problem found is reported with its line.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	return ParsePolicyWith(name, data, nil)
}

// ParsePolicyWith is ParsePolicy for a policy that may name other files
// (an area's outline, a GeoJSON file): read reads one by the name the
// policy gives it; nil, and the policy may name none. Their contents count
// in the policy's version.
func ParsePolicyWith(name string, data []byte, read func(name string) ([]byte, error)) (*Policy, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		// A syntax error has no node to take a line from: the library
		// gives it only in its message, "yaml: line N: ...".
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if n, rest, ok := strings.Cut(strings.TrimPrefix(msg, "line "), ": "); ok && strings.HasPrefix(msg, "line ") {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, rest
			}
		}
		return nil, &PolicyError{File: name, Problems: []PolicyProblem{{line, msg}}}
	}
	if len(root.Content) == 0 || root.Content[0].ShortTag() == "!!null" {
		return nil, &PolicyError{File: name, Problems: []PolicyProblem{{0, "the policy is empty"}}}
	}
	c := &policyChecker{root: root.Content[0], read: read}
	var raw rawPolicy
	c.decode(root.Content[0], reflect.ValueOf(&raw).Elem())
	p := c.build(&raw)
	if len(c.problems) > 0 {
		slices.SortStableFunc(c.problems, func(a, b PolicyProblem) int { return a.Line - b.Line })
		return nil, &PolicyError{File: name, Problems: c.problems}
	}
	sum := sha256.Sum256(slices.Concat(append([][]byte{data}, c.included...)...))
	p.Version = hex.EncodeToString(sum[:6])
	p.Source = name
	return p, nil
}

// policyChecker builds a Policy from its raw form and collects every problem,
// placing each at the line of the YAML node it concerns.
type policyChecker struct {
	root     *yaml.Node
	problems []PolicyProblem
	decoded  int // values decoded, aliases expanded
	// read reads a file the policy names; included are those read.
	read     func(name string) ([]byte, error)
	included [][]byte
}

// problem records msg at the node found by path: map keys and list indexes.
func (c *policyChecker) problem(path []any, format string, args ...any) {
	c.problems = append(c.problems, PolicyProblem{Line: lineOf(c.root, path), Message: pathString(path) + ": " + fmt.Sprintf(format, args...)})
}

// listedID checks the id or code at path of a kind ("unit"): its shape,
// and that it is listed once (seen: an item before has it).
func (c *policyChecker) listedID(path []any, kind, id string, seen bool) {
	switch {
	case !idPattern.MatchString(id):
		c.problem(path, "%s %q must be lower-case letters, digits, - or _", kind, id)
	case seen:
		c.problem(path, "%s %q is listed twice", kind, id)
	}
}

// lineOf returns the line of the node at path, or of its deepest ancestor found.
func lineOf(n *yaml.Node, path []any) int {
	line := n.Line
	for _, seg := range path {
		var next *yaml.Node
		switch s := seg.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						next = n.Content[i+1]
						line = n.Content[i].Line
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

func pathString(path []any) string {
	var b strings.Builder
	for _, seg := range path {
		switch s := seg.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		}
	}
	return b.String()
}

func at(path ...any) []any { return path }

func (c *policyChecker) build(raw *rawPolicy) *Policy {
	p := &Policy{Office: raw.Office, TimeZone: raw.TimeZone, tokens: map[[sha256.Size]byte]Principal{}, users: map[string]int{}}
	if p.TimeZone == "" {
		p.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil {
		c.problem(at("timezone"), "unknown time zone %q", p.TimeZone)
	}
	business := c.businessCalendar(raw, p.TimeZone)
	p.Calendar = c.calendar(at("calendar"), raw.Calendar, Calendar{Kind: Calendar24x7}, business)
	p.BusinessHours = business

	for i, u := range raw.Units {
		c.listedID(at("units", i, "id"), "unit", u.ID, p.hasUnit(u.ID))
		p.Units = append(p.Units, Unit{ID: u.ID, Name: u.Name, Duty: u.Duty})
	}
	for i, a := range raw.Areas {
		c.listedID(at("areas", i, "id"), "area", a.ID, p.hasArea(a.ID))
		if a.Duty != nil {
			c.problem(at("areas", i, "duty"), "an area has no duty contact: a unit has")
		}
		p.Areas = append(p.Areas, Area{ID: a.ID, Name: a.Name, Outline: c.outline(at("areas", i, "outline"), a.Outline)})
	}
	p.Assign = defaultAssign
	if raw.Assign != "" {
		p.Assign = c.duration(at("assign"), raw.Assign)
	}
	for i, rc := range raw.Categories {
		p.Categories = append(p.Categories, c.category(p, i, rc, business))
	}
	if len(p.Categories) == 0 {
		c.problem(at("categories"), "the policy has no categories")
	}
	for i, r := range raw.Routing {
		if r.Category == "" && r.Area == "" {
			c.problem(at("routing", i), "a routing rule needs a category, an area or both")
		}
		if _, ok := p.Category(r.Category); r.Category != "" && !ok {
			c.problem(at("routing", i, "category"), "unknown category %q", r.Category)
		}
		if r.Area != "" && len(p.Areas) > 0 && !p.hasArea(r.Area) {
			c.problem(at("routing", i, "area"), "unknown area %q", r.Area)
		}
		if !p.hasUnit(r.Unit) {
			c.problem(at("routing", i, "unit"), "unknown unit %q", r.Unit)
		}
		p.Routing = append(p.Routing, Route(r))
	}
	p.Escalation = c.ladder(raw.Escalation)
	p.Assessment = c.assessment(raw.Assessment)
	p.SiteTypes = c.siteTypes(p, raw.SiteTypes)
	p.Inspection = c.inspection(raw.Inspection)
	for i, rp := range raw.Principals {
		c.principal(p, i, rp)
	}
	p.Rounds = c.roundSchedules(p, raw.Rounds)
	p.Map = c.mapTiles(raw.Map)
	for i, rs := range raw.Subscriptions {
		c.subscription(p, i, rs)
	}
	areas, hasAreas := p.Bounds()
	p.Public = c.public(raw.Public, areas, hasAreas)
	p.Open311 = c.open311(raw.Open311)
	p.Honours = c.honours(raw.Honours)
	p.Sanctions = c.sanctions(raw.Sanctions)
	if len(p.Sanctions) > 0 && p.Honours.Units.Below == nil {
		c.problem(at("sanctions"), "sanctions count the black list: honours.black_list.below is needed")
	}
	return p
}

// calendar resolves a calendar key ("24x7", "business" or empty for dflt).
func (c *policyChecker) calendar(path []any, kind string, dflt Calendar, business *Calendar) Calendar {
	switch kind {
	case "":
		return dflt
	case Calendar24x7:
		return Calendar{Kind: Calendar24x7}
	case CalendarBusiness:
		if business == nil {
			c.problem(path, "a business calendar needs business_hours: {days: [...], hours: [...]}")
			return dflt
		}
		return *business
	}
	c.problem(path, "unknown calendar %q: use 24x7 or business", kind)
	return dflt
}

// businessCalendar builds the policy's business calendar from its
// business_hours, holidays and workdays; nil when it has no business_hours.
func (c *policyChecker) businessCalendar(raw *rawPolicy, tz string) *Calendar {
	holidays := c.dates("holidays", raw.Holidays)
	workdays := c.dates("workdays", raw.Workdays)
	for i, d := range raw.Workdays {
		if _, found := slices.BinarySearch(holidays, d); found {
			c.problem(at("workdays", i), "%s is both a holiday and a make-up working day", d)
		}
	}
	if raw.BusinessHours == nil {
		return nil
	}
	cal := &Calendar{Kind: CalendarBusiness, TimeZone: tz, Holidays: holidays, Workdays: workdays}
	if len(raw.BusinessHours.Days) == 0 {
		c.problem(at("business_hours", "days"), "business hours need at least one working day")
	}
	for i, s := range raw.BusinessHours.Days {
		d, err := ParseWeekday(s)
		if err != nil {
			c.problem(at("business_hours", "days", i), "%v", err)
		} else if slices.Contains(cal.Days, d) {
			c.problem(at("business_hours", "days", i), "%s is listed twice", s)
		} else {
			cal.Days = append(cal.Days, d)
		}
	}
	slices.Sort(cal.Days)
	if len(raw.BusinessHours.Hours) == 0 {
		c.problem(at("business_hours", "hours"), "business hours need at least one range, e.g. 08:30-12:00")
	}
	for i, s := range raw.BusinessHours.Hours {
		w, err := ParseWindow(s)
		if err != nil {
			c.problem(at("business_hours", "hours", i), "%v", err)
			continue
		}
		for _, o := range cal.Hours {
			if w.Start < o.End && o.Start < w.End {
				c.problem(at("business_hours", "hours", i), "hours %s overlap %s", w, o)
			}
		}
		cal.Hours = append(cal.Hours, w)
	}
	slices.SortFunc(cal.Hours, func(a, b Window) int { return a.Start - b.Start })
	return cal
}

// dates checks a list of dates and returns them sorted, without repeats.
func (c *policyChecker) dates(key string, list []string) []string {
	var out []string
	for i, s := range list {
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			c.problem(at(key, i), "bad date %q: want YYYY-MM-DD", s)
			continue
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (c *policyChecker) category(p *Policy, i int, rc rawCategory, business *Calendar) Category {
	cat := Category{Code: rc.Code, Name: rc.Name, Unit: rc.Unit, SLA: map[Severity]CategorySLA{}, Public: rc.Public}
	c.listedID(at("categories", i, "code"), "category", rc.Code, p.hasCategory(rc.Code))
	if rc.Unit != "" && !p.hasUnit(rc.Unit) {
		c.problem(at("categories", i, "unit"), "unknown unit %q", rc.Unit)
	}
	if len(rc.SLA) == 0 {
		c.problem(at("categories", i), "category %q has no sla", rc.Code)
		return cat
	}
	for _, key := range slices.Sorted(maps.Keys(rc.SLA)) {
		rs := rc.SLA[key]
		sev := Severity(key)
		if !sev.Valid() {
			c.problem(at("categories", i, "sla", key), "unknown severity %q: use normal or urgent", key)
			continue
		}
		sla := CategorySLA{Calendar: c.calendar(at("categories", i, "sla", key, "calendar"), rs.Calendar, p.Calendar, business)}
		for _, f := range []struct {
			name string
			text string
			dst  *time.Duration
		}{{"acknowledge", rs.Acknowledge, &sla.Acknowledge}, {"resolve", rs.Resolve, &sla.Resolve}, {"verify", rs.Verify, &sla.Verify}} {
			path := at("categories", i, "sla", key, f.name)
			if f.text == "" {
				c.problem(path, "missing %s deadline", f.name)
				continue
			}
			*f.dst = c.duration(path, f.text)
		}
		sla.Assign = p.Assign
		if rs.Assign != "" {
			sla.Assign = c.duration(at("categories", i, "sla", key, "assign"), rs.Assign)
		}
		cat.SLA[sev] = sla
	}
	if _, ok := cat.SLA[SeverityNormal]; !ok {
		c.problem(at("categories", i, "sla"), "category %q has no sla for severity normal", rc.Code)
	} else if _, ok := cat.SLA[SeverityUrgent]; !ok {
		cat.SLA[SeverityUrgent] = cat.SLA[SeverityNormal]
	}
	return cat
}

// assessment reads the assessment block: the default's, where it says
// nothing.
func (c *policyChecker) assessment(raw *rawAssessment) Assessment {
	a := Assessment{PeriodStartDay: defaultAssessment.PeriodStartDay, Weights: defaultAssessment.Weights}
	if raw == nil {
		return a
	}
	if d := raw.PeriodStartDay; d != nil {
		if *d < 1 || *d > 28 {
			c.problem(at("assessment", "period_start_day"), "must be a day from 1 to 28, not %d", *d)
		}
		a.PeriodStartDay = *d
	}
	if raw.Weights == nil {
		return a
	}
	a.Weights = map[string]float64{}
	var sum float64
	for _, name := range slices.Sorted(maps.Keys(raw.Weights)) {
		w := raw.Weights[name]
		switch {
		case !slices.Contains(RateNames, name):
			c.problem(at("assessment", "weights", name), "unknown rate %q: use %s", name, strings.Join(RateNames, ", "))
		case w == nil:
			c.problem(at("assessment", "weights", name), "needs a weight, e.g. 20 or -10")
		default:
			a.Weights[name] = *w
			sum += math.Abs(*w)
		}
	}
	if math.Abs(sum-100) > 1e-9 {
		c.problem(at("assessment", "weights"), "the weights' absolute values sum to %g, not 100", sum)
	}
	return a
}

// duration reads a stage's positive duration, recording a problem (and
// returning 0) when text is not one.
func (c *policyChecker) duration(path []any, text string) time.Duration {
	d, err := time.ParseDuration(text)
	if err != nil || d <= 0 {
		c.problem(path, "bad duration %q: want a positive Go duration such as 30m or 24h", text)
		return 0
	}
	return d
}

func (c *policyChecker) ladder(raw *[]rawRung) []Rung {
	if raw == nil {
		return defaultLadder
	}
	var out []Rung
	warned, level := false, 0
	for i, rr := range *raw {
		off, err := ParseOffset(rr.At)
		if err != nil {
			c.problem(at("escalation", i, "at"), "%v", err)
			continue
		}
		switch {
		case rr.Action == "warn" && rr.Level == nil:
			if warned {
				c.problem(at("escalation", i), "the ladder has more than one warning")
			}
			if !off.Negative() {
				c.problem(at("escalation", i, "at"), "a warning comes before the deadline: its offset must be negative, not %s", off)
			}
			warned = true
			out = append(out, Rung{At: off})
		case (rr.Action == "" || rr.Action == "escalate") && rr.Level != nil:
			if *rr.Level != level+1 {
				c.problem(at("escalation", i, "level"), "escalation levels count 1, 2, 3 in order: expected level %d, not %d", level+1, *rr.Level)
			}
			if off.Negative() {
				c.problem(at("escalation", i, "at"), "escalation comes at or after the deadline: its offset must not be negative")
			}
			if n := len(out); n > 0 && out[n-1].Level > 0 && !off.Relative && !out[n-1].At.Relative && off.Duration <= out[n-1].At.Duration {
				c.problem(at("escalation", i, "at"), "level %d must come after level %d", *rr.Level, out[n-1].Level)
			}
			level = *rr.Level
			out = append(out, Rung{At: off, Level: level})
		default:
			c.problem(at("escalation", i), "a step is either {at, action: warn} or {at, level: N}")
		}
	}
	return out
}

func (c *policyChecker) principal(p *Policy, i int, rp rawPrincipal) {
	pr := Principal{ID: rp.ID, Role: Role(rp.Role), Unit: rp.Unit}
	path := at("principals", i)
	switch {
	case rp.ID == "":
		c.problem(append(path, "id"), "missing id")
	case !pr.Role.Valid():
		c.problem(append(path, "role"), "unknown role %q: use inspector, unit, supervisor or admin", rp.Role)
	case pr.Role == RoleUnit && rp.Unit == "":
		c.problem(path, "a principal with role unit needs unit: the id of one of the policy's units")
	case pr.Role == RoleUnit && !p.hasUnit(rp.Unit):
		c.problem(append(path, "unit"), "unknown unit %q", rp.Unit)
	case pr.Role != RoleUnit && rp.Unit != "":
		c.problem(append(path, "unit"), "only principals with role unit belong to a unit")
	}
	entry := PrincipalEntry{Token: rp.Token, User: rp.User, Password: rp.Password, Principal: pr}
	if rp.Token == "" && rp.TokenSHA256 == "" && rp.User == "" {
		c.problem(path, "give the principal a token (or token_sha256) for the API, a user and password_hash for the office pages, or both")
		return
	}
	if rp.User != "" && c.user(p, path, rp, &entry) {
		p.users[strings.ToLower(rp.User)] = len(p.Principals)
	}
	if rp.Token != "" || rp.TokenSHA256 != "" {
		c.token(p, path, rp, pr)
	}
	p.Principals = append(p.Principals, entry)
}

// token checks a principal's bearer token and lets it in.
func (c *policyChecker) token(p *Policy, path []any, rp rawPrincipal, pr Principal) {
	key := sha256.Sum256([]byte(rp.Token))
	switch {
	case rp.Token != "" && rp.TokenSHA256 != "":
		c.problem(append(path, "token_sha256"), "give token or token_sha256, not both")
		return
	case rp.TokenSHA256 != "":
		b, err := hex.DecodeString(rp.TokenSHA256)
		if err != nil || len(b) != sha256.Size {
			c.problem(append(path, "token_sha256"), "must be the 64 hex digits of the token's SHA-256 (printf %%s TOKEN | sha256sum)")
			return
		}
		key = [sha256.Size]byte(b)
	case len(rp.Token) < 8:
		c.problem(append(path, "token"), "a token must be at least 8 characters")
		return
	}
	if _, dup := p.tokens[key]; dup {
		c.problem(append(path, "token"), "this token is already given to another principal")
	}
	p.tokens[key] = pr
}

// userPattern is what a user name looks like: it is typed into a form.
var userPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// user checks a principal's sign-in, filling entry's hash; ok is false when
// the principal cannot sign in.
func (c *policyChecker) user(p *Policy, path []any, rp rawPrincipal, entry *PrincipalEntry) (ok bool) {
	switch {
	case !userPattern.MatchString(rp.User):
		c.problem(append(path, "user"), "a user name is 1–64 letters, digits and . _ @ -, starting with a letter or digit")
	case p.hasUser(rp.User):
		c.problem(append(path, "user"), "user %q is already another principal's", rp.User)
	case rp.PasswordHash != "" && rp.Password != "":
		c.problem(append(path, "password"), "give password_hash or password, not both")
	case rp.PasswordHash != "":
		h, err := parsePasswordHash(rp.PasswordHash)
		if err != nil {
			c.problem(append(path, "password_hash"), "%v", err)
			return false
		}
		entry.hash = h
		return true
	case len(rp.Password) >= 8:
		return true
	case rp.Password != "":
		c.problem(append(path, "password"), "a password must be at least 8 characters")
	default:
		c.problem(append(path, "user"), "a user needs password_hash (made by duban passwd) to sign in")
	}
	return false
}
