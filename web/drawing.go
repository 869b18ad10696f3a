package web

// What drawing every page shares: the templates, the page's language and
// its helpers, the cases of lists as pages show them. (pages.go holds the
// office pages' handlers.)

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	xlanguage "golang.org/x/text/language"
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/messages"
)

// pageNames are the pages, each a template of its own over the layout.
var pageNames = []string{"login", "logout", "error", "board", "cases", "case", "new", "inbox", "reports", "sites", "map", "figure", "bulletin", "field", "photo", "report", "follow", "sanctions", "honours"}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// language is the page's language: the one chosen with the switch, else
// the one of the browser's duban speaks that it prefers most (by its
// q-values), else Chinese.
func language(r *http.Request) string {
	if c, err := r.Cookie("duban_lang"); err == nil && slices.Contains(messages.Languages, c.Value) {
		return c.Value
	}
	tags, _, err := xlanguage.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return messages.Languages[0]
	}
	if _, i, confidence := spoken.Match(tags...); confidence != xlanguage.No {
		return messages.Languages[i]
	}
	return messages.Languages[0]
}

// spoken matches a browser's languages with duban's, in messages.Languages'
// order (the first the default).
var spoken = xlanguage.NewMatcher(func() []xlanguage.Tag {
	tags := make([]xlanguage.Tag, len(messages.Languages))
	for i, l := range messages.Languages {
		tags[i] = xlanguage.MustParse(l)
	}
	return tags
}())

// switchLanguage remembers the language chosen and goes back to the page.
func (s *Server) switchLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.URL.Query().Get("to")
	if slices.Contains(messages.Languages, lang) {
		http.SetCookie(w, &http.Cookie{Name: "duban_lang", Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: overTLS(r)})
	}
	http.Redirect(w, r, localPath(r.URL.Query().Get("next"), "/"), http.StatusSeeOther)
}

// page is what every template is given: the reader, their language and
// what the layout shows, and the page's own data.
type page struct {
	Lang    string
	Title   string // a message key
	Session app.Session
	// Path is the page's path and query, to come back to.
	Path    string
	Problem *problemView
	// Part, when set, is the template to render instead of the whole page.
	Part string
	Data any

	s   *Server
	cat messages.Catalog
	now time.Time
}

func (s *Server) newPage(r *http.Request, title string) *page {
	lang := language(r)
	return &page{Lang: lang, Title: title, Session: session(r), Path: r.URL.RequestURI(), s: s, cat: s.catalogs[lang], now: s.now()}
}

// T is the message key in the page's language, formatted with args.
func (p *page) T(key string, args ...any) string {
	msg, ok := p.cat.T(key, args...)
	if !ok {
		p.s.Logger.Error("web: no message " + key)
		return "?" + key + "?"
	}
	return msg
}

// Has reports whether the catalogue has a message for key.
func (p *page) Has(key string) bool { _, ok := p.cat[key]; return ok }

// Time is t in the policy's time zone, to the minute.
func (p *page) Time(t any) string {
	switch t := t.(type) {
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.In(p.s.zone).Format("2006-01-02 15:04")
	case *time.Time:
		if t == nil {
			return ""
		}
		return p.Time(*t)
	}
	return ""
}

// Zone names the policy's time zone.
func (p *page) Zone() string { return p.s.Policy.TimeZone }

// Meters says a distance in metres.
func (p *page) Meters(m int) string { return p.T("unit.meters", m) }

// Duration says d in days, hours and minutes, in the page's language.
func (p *page) Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d < time.Minute {
		return p.T("duration.under_minute")
	}
	d = d.Round(time.Minute)
	days, hours, minutes := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, p.T("duration.days", days))
	}
	if hours > 0 {
		parts = append(parts, p.T("duration.hours", hours))
	}
	if minutes > 0 || len(parts) == 0 {
		parts = append(parts, p.T("duration.minutes", minutes))
	}
	return strings.Join(parts, p.T("duration.separator"))
}

// Name picks a policy name in the page's language.
func (p *page) name(n duban.Names, fallback string) string {
	return cmp.Or(n.In(p.Lang), fallback)
}

// Unit names a unit; an empty one is "none".
func (p *page) Unit(id any) string {
	var s string
	switch id := id.(type) {
	case string:
		s = id
	case *string:
		if id != nil {
			s = *id
		}
	}
	if s == "" {
		return p.T("unit.none")
	}
	u, _ := p.s.Policy.Unit(s)
	return p.name(u.Name, s)
}

// Category names a category.
func (p *page) Category(code string) string {
	c, _ := p.s.Policy.Category(code)
	return p.name(c.Name, code)
}

// ZoneName is the policy's time zone, as the IANA names it.
func (p *page) ZoneName() string { return p.s.Policy.TimeZone }

// SiteType is a site type's name, by its code.
func (p *page) SiteType(code string) string {
	t, _ := p.s.Policy.SiteType(code)
	return p.name(t.Name, code)
}

// Item is a standard's name, by its code (items are coded once across
// the site types).
func (p *page) Item(code string) string {
	it, _ := p.s.Policy.StandardItem(code)
	return p.name(it.Name, code)
}

// Duty is unit's duty contact, nil when the policy names none.
func (p *page) Duty(unit string) *duban.Duty {
	u, _ := p.s.Policy.Unit(unit)
	return u.Duty
}

// Office is the campaign office's name, as the policy gives it.
func (p *page) Office() string { return p.name(p.s.Policy.Office, "") }

// Date is t's day in the policy's time zone.
func (p *page) Date(t time.Time) string { return t.In(p.s.zone).Format(time.DateOnly) }

// LastDate is the day before t's in the policy's time zone: the last day
// of a period that ends at t.
func (p *page) LastDate(t time.Time) string {
	return t.In(p.s.zone).AddDate(0, 0, -1).Format(time.DateOnly)
}

// Area names an area: by the policy's name, else as it was given.
func (p *page) Area(id string) string {
	a, _ := p.s.Policy.Area(id)
	return p.name(a.Name, id)
}

// areaField is an area's input: a choice of the policy's areas, or free
// text when the policy lists none.
type areaField struct {
	Options  []option
	Selected string
	// Blank is the label of the empty choice: any area, or none.
	Blank string
}

// AreaField is the area's input with selected chosen; blankKey labels the
// empty choice.
func (p *page) AreaField(selected, blankKey string) areaField {
	f := areaField{Selected: selected, Blank: p.T(blankKey)}
	for _, a := range p.s.Policy.Areas {
		f.Options = append(f.Options, option{a.ID, p.name(a.Name, a.ID)})
	}
	return f
}

// Units are the policy's units, for choosing one.
func (p *page) Units() []option {
	var out []option
	for _, u := range p.s.Policy.Units {
		out = append(out, option{u.ID, p.name(u.Name, u.ID)})
	}
	return out
}

// Categories are the policy's categories, for choosing one.
func (p *page) Categories() []option {
	var out []option
	for _, c := range p.s.Policy.Categories {
		out = append(out, option{c.Code, p.name(c.Name, c.Code)})
	}
	return out
}

// Statuses are the case statuses, for choosing one.
func (p *page) Statuses() []option {
	var out []option
	for _, st := range []duban.Status{duban.StatusReported, duban.StatusUnrouted, duban.StatusDispatched, duban.StatusDisputed,
		duban.StatusInProgress, duban.StatusSuspended, duban.StatusResolved, duban.StatusClosed, duban.StatusCancelled} {
		out = append(out, option{string(st), p.T("status." + string(st))})
	}
	return out
}

// MayOpen reports whether the reader may open cases.
func (p *page) MayOpen() bool { return p.Session.Principal.MayOpen() == nil }

// Oversees reports whether the reader is a supervisor or an admin.
func (p *page) Oversees() bool { return p.Session.Principal.Oversees() }

// IsUnit reports whether the reader works for a unit.
func (p *page) IsUnit() bool { return p.Session.Principal.Role == duban.RoleUnit }

type option struct{ Value, Label string }

// problemView is a refusal as a page shows it.
type problemView struct {
	Title  string
	Detail string
	Fields []fieldView
	// English marks a detail the catalogue has no text of in the page's
	// language: shown as it is, in English, and marked so.
	English bool
}

type fieldView struct {
	Field, Message string
	English        bool
}

// say is a message of the domain in the page's language, and false when
// the catalogue lacks it (then english, as the domain gave it). Arguments
// the catalogue knows (roles, deeds, statuses) are said in it too.
func (p *page) say(t duban.Text, english string) (string, bool) {
	if p.Lang == "en" {
		return english, true
	}
	format, ok := p.cat.Refusal(t.Key)
	if !ok || t.Key == "" {
		return english, false
	}
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		args[i] = a
		if w, ok := p.cat.Refusal(a); ok {
			args[i] = w
		}
	}
	return fmt.Sprintf(format, args...), true
}

// problem says err in the page's language: a title by its code, and the
// fields in question by their labels; the domain's own message, in English
// (the domain speaks one language), follows as the detail, marked so. An
// internal failure says nothing of its cause.
func (s *Server) problem(p *page, err error) *problemView {
	code := duban.ErrorCode(err)
	key := "problem." + code
	if !p.Has(key) {
		key = "problem." + duban.EINTERNAL
	}
	v := &problemView{Title: p.T(key)}
	var e *duban.Error
	ok := errors.As(err, &e)
	if code != duban.EINTERNAL && ok && len(e.Fields) == 0 {
		var said bool
		v.Detail, said = p.say(e.Text, e.Message)
		v.English = !said
	}
	if ok {
		for _, f := range e.Fields {
			label := f.Field
			if p.Has("field." + f.Field) {
				label = p.T("field." + f.Field)
			}
			msg, said := p.say(f.Text, f.Message)
			v.Fields = append(v.Fields, fieldView{label, msg, !said})
		}
	}
	return v
}

// listed is a case in a list, as pages show it: of its view, what lists
// show (decoding no more is a third of the time of decoding it whole).
type listed struct {
	listView
	Overdue bool
	Level   int
	// Deadline is the running stage's; Late how long it has passed, on
	// the case's calendar (duban.Clock.Late).
	Deadline *time.Time
	Late     time.Duration
}

type listView struct {
	ID          string         `json:"id"`
	Number      string         `json:"number"`
	Status      duban.Status   `json:"status"`
	Category    string         `json:"category"`
	Severity    duban.Severity `json:"severity"`
	Description string         `json:"description"`
	Location    struct {
		Lat     float64 `json:"lat"`
		Lon     float64 `json:"lon"`
		Address string  `json:"address"`
		Area    string  `json:"area"`
	} `json:"location"`
	Reporter  string       `json:"reporter"`
	UrgeCount int          `json:"urge_count"`
	Unit      *string      `json:"unit"`
	Stage     *duban.Stage `json:"stage"`
	OpenedAt  time.Time    `json:"opened_at"`
	// Listed: a plate hangs on it (挂牌督办); Recurrence, the n of a
	// failure a site inspection found again.
	Listed     bool `json:"listed"`
	Recurrence int  `json:"recurrence"`
}

// summaryRunes bounds a description as a list shows it.
const summaryRunes = 40

// Summary is the description, cut to a list's width.
func (c listView) Summary() string {
	if r := []rune(c.Description); len(r) > summaryRunes {
		return string(r[:summaryRunes]) + "…"
	}
	return c.Description
}

// StageName is the running stage's name, or "" when none runs.
func (c listed) StageName() string {
	if c.Stage == nil {
		return ""
	}
	return string(*c.Stage)
}

// decodeListed reads the cases of a list at now.
func (s *Server) decodeListed(ls []app.Listed, now time.Time) ([]listed, error) {
	out := make([]listed, 0, len(ls))
	for _, l := range ls {
		var c listed
		var err error
		if c.listView, err = s.views.decode(l); err != nil {
			return nil, fmt.Errorf("case %s: %w", l.ID, err)
		}
		c.Overdue, c.Level, c.Deadline, c.Late = l.Clock.Overdue(now), l.Clock.Level(now), l.Clock.Deadline, l.Clock.Late(now)
		out = append(out, c)
	}
	return out, nil
}

// viewCache keeps the views lists decoded, by case and version: a case's
// view at a version never changes, and the board, drawn again for each
// office watching it at every escalation, shows mostly the same cases
// (decoding a thousand views is a third of drawing it). What it holds is
// shared: read, never changed.
type viewCache struct {
	mu sync.Mutex
	m  map[string]cachedView
}

type cachedView struct {
	version int64
	view    listView
}

// viewCacheSize bounds the views kept: when full, it starts again.
const viewCacheSize = 20_000

func (c *viewCache) decode(l app.Listed) (listView, error) {
	c.mu.Lock()
	e, ok := c.m[l.ID]
	c.mu.Unlock()
	if ok && e.version == l.Version {
		return e.view, nil
	}
	var v listView
	if err := json.Unmarshal(l.View, &v); err != nil {
		return listView{}, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= viewCacheSize {
		c.m = make(map[string]cachedView)
	}
	c.m[l.ID] = cachedView{l.Version, v}
	c.mu.Unlock()
	return v, nil
}

// byDeadline orders cases soonest deadline first; those with none last.
func byDeadline(cs []listed) {
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i].Deadline, cs[j].Deadline
		switch {
		case a == nil:
			return false
		case b == nil:
			return true
		}
		return a.Before(*b)
	})
}
