package web

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
)

// boardLimit is how many cases the board shows: the worst first.
const boardLimit = 1000

type boardData struct {
	Unit, Area string
	// Plates are the open cases listed (挂牌督办): they lead the board,
	// overdue or not.
	Plates []listed
	// Rows are the cases' rows, each drawn by the template board-row.
	Rows []template.HTML
	// Levels counts the cases at each escalation level, 0 (overdue, not
	// yet escalated) to 3.
	Levels []int
	// Total counts the overdue cases shown, every level.
	Total int
	More  bool
	// Resumes, when now is outside working hours, is when working time
	// begins again: the clocks counting working time are paused until then.
	Resumes *time.Time
	// Checks counts the residents' reports awaiting the office's check,
	// Dissatisfied the closed ones rated 不满意: the office's two queues.
	Checks, Dissatisfied int
	// Sanctions are the sanctions still open (红黑榜's consequences).
	Sanctions []duban.Sanction
}

// board is the campaign office's escalation board, worst first; with
// ?part=board only its live region, which static/live.js fetches again
// when the stream says a case moved.
func (s *Server) board(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := boardData{Unit: q.Get("unit"), Area: q.Get("area")}
	f := duban.CaseFilter{Unit: d.Unit, Area: d.Area, Limit: boardLimit}
	ls, next, err := s.App.Escalations(r.Context(), session(r).Principal, f, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "board.title")
	cases, err := s.decodeListed(ls, p.now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	listed := true
	plates, _, err := s.App.Cases(r.Context(), session(r).Principal, duban.CaseFilter{Unit: d.Unit, Area: d.Area,
		Listed: &listed, Statuses: duban.OpenStatuses(), Now: p.now, Limit: boardLimit})
	if err == nil {
		d.Plates, err = s.decodeListed(plates, p.now)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.More, d.Total = next != nil, len(cases)
	by := session(r).Principal
	if d.Checks, err = s.App.CountCases(r.Context(), by, duban.CaseFilter{Unit: d.Unit, Area: d.Area, Statuses: []duban.Status{duban.StatusReported}}); err == nil {
		d.Dissatisfied, err = s.App.CountCases(r.Context(), by, duban.CaseFilter{Unit: d.Unit, Area: d.Area,
			Statuses: []duban.Status{duban.StatusClosed}, Rating: duban.RatingDissatisfied})
	}
	if err == nil {
		d.Sanctions, err = s.openSanctions(r, d.Unit)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if bh := s.Policy.BusinessHours; bh != nil {
		if open, next := bh.OpenAt(p.now); !open {
			d.Resumes = &next
		}
	}
	d.Levels = make([]int, 4)
	d.Rows = make([]template.HTML, len(cases))
	for i, c := range cases {
		d.Levels[min(c.Level, 3)]++
		if d.Rows[i], err = s.rows.draw(s.pages["board"], "board-row", p.boardRow(c)); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	p.Data = d
	if q.Get("part") == "board" {
		p.Part = "board-part"
	}
	s.render(w, r, http.StatusOK, "board", p)
}

// boardRow is what a case's row of the board shows, its texts in the
// page's language, for the template board-row to draw (and escape).
type boardRow struct {
	ID, Level, LevelName, Number, Summary string
	// Plate is the plate's text when the case is listed (挂牌督办).
	Plate string
	// Cells are the rest, in the columns' order.
	Cells [8]string
}

// drawnCache keeps what a template drew for a board row, by what the row
// shows. The board holds up to a thousand cases, drawn again for every
// office watching it at each escalation, over mostly the same cases:
// html/template escaping them field by field by reflection is most of
// their drawing (a thousand rows: 12 ms, BenchmarkBoardParts), a row
// looked up here a fraction of that. What html/template drew for a row is
// the same each time, so it is kept; a row that changed (a case a minute
// later, its status moved) is drawn again.
type drawnCache struct {
	mu sync.Mutex
	m  map[boardRow]template.HTML
}

// drawnCacheSize bounds the rows the cache keeps: when full, it starts
// again.
const drawnCacheSize = 8 * boardLimit

// draw returns what t's template name draws for v.
func (c *drawnCache) draw(t *template.Template, name string, v boardRow) (template.HTML, error) {
	c.mu.Lock()
	h, ok := c.m[v]
	c.mu.Unlock()
	if ok {
		return h, nil
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, name, v); err != nil {
		return "", err
	}
	h = template.HTML(b.String()) // html/template's output: escaped as it drew it
	c.mu.Lock()
	if c.m == nil || len(c.m) >= drawnCacheSize {
		c.m = make(map[boardRow]template.HTML)
	}
	c.m[v] = h
	c.mu.Unlock()
	return h, nil
}

func (p *page) boardRow(c listed) boardRow {
	stage := ""
	if st := c.StageName(); st != "" {
		stage = p.T("stage." + st)
	}
	urges := ""
	if c.UrgeCount > 0 {
		urges = strconv.Itoa(c.UrgeCount)
	}
	r := boardRow{ID: c.ID, Level: strconv.Itoa(c.Level), LevelName: p.T("level." + strconv.Itoa(min(c.Level, 3))),
		Number: cmp.Or(c.Number, c.ID[:min(8, len(c.ID))]), Summary: c.Summary(),
		Cells: [8]string{p.Category(c.Category), p.Unit(c.Unit), p.T("status." + string(c.Status)), stage,
			p.Time(c.Deadline), p.Duration(c.Late), urges, c.Location.Address}}
	if c.Listed {
		r.Plate = p.T("plate")
	}
	return r
}

type casesData struct {
	Query  url.Values
	Cases  []listed
	Next   string // the next page's query, or ""
	Filter duban.CaseFilter
	// Total counts the cases the filter selects, on every page; CSV is
	// the link to them all as CSV.
	Total int
	CSV   string
	// Me is the reader's id, for "my reports" and "awaiting my
	// verification".
	Me string
}

// casesQuery reads the list's query, as the API's filters: an empty field
// of the filter form means any.
func (s *Server) casesQuery(r *http.Request, limit, maxLimit int) (url.Values, duban.CaseFilter, error) {
	q := r.URL.Query()
	for k, v := range q {
		if len(v) == 1 && v[0] == "" {
			delete(q, k)
		}
	}
	f, raw, err := api.ListQuery(q, s.Policy, limit, maxLimit)
	if err == nil && raw != "" {
		f.After, err = api.DecodeCursor[duban.CaseCursor](raw)
	}
	return q, f, err
}

// cases lists the cases the reader may see, with the API's filters.
func (s *Server) cases(w http.ResponseWriter, r *http.Request) {
	q, f, err := s.casesQuery(r, 50, 200)
	p := s.newPage(r, "cases.title")
	by := session(r).Principal
	d := casesData{Query: q, Filter: f, Me: by.ID}
	if err != nil {
		p.Problem = s.problem(p, err)
		p.Data = d
		s.render(w, r, api.Status(err), "cases", p)
		return
	}
	ls, next, err := s.App.Cases(r.Context(), by, f)
	if err == nil {
		d.Cases, err = s.decodeListed(ls, p.now)
	}
	if err == nil {
		d.Total, err = s.App.CountCases(r.Context(), by, f)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cq := url.Values{}
	for k, v := range q {
		if k != "cursor" && k != "limit" {
			cq[k] = v
		}
	}
	d.CSV = "/cases.csv?" + cq.Encode()
	if next != nil {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", api.EncodeCursor(next))
		d.Next = nq.Encode()
	}
	p.Data = d
	s.render(w, r, http.StatusOK, "cases", p)
}

// Selected reports whether the list's query has name=value.
func (d casesData) Selected(name, value string) bool { return d.Query.Get(name) == value }

// inboxLimit bounds the cases an inbox reads.
const inboxLimit = 1000

type inboxData struct {
	Cases []listed
	More  bool
}

// inbox is a unit's open cases, soonest deadline first.
func (s *Server) inbox(w http.ResponseWriter, r *http.Request) {
	by := session(r).Principal
	if by.Role != duban.RoleUnit {
		http.Redirect(w, r, "/cases", http.StatusSeeOther)
		return
	}
	p := s.newPage(r, "inbox.title")
	var d inboxData
	f := duban.CaseFilter{Limit: 200, Statuses: duban.InboxStatuses()}
	for {
		ls, next, err := s.App.Cases(r.Context(), by, f)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		cs, err := s.decodeListed(ls, p.now)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Cases = append(d.Cases, cs...)
		if next == nil {
			break
		}
		if len(d.Cases) >= inboxLimit {
			d.More = true
			break
		}
		f.After = next
	}
	byDeadline(d.Cases)
	p.Data = d
	s.render(w, r, http.StatusOK, "inbox", p)
}

// caseData is the case page: the case, its deadlines, its timeline and a
// form for each command the reader may give now.
type caseData struct {
	Case       duban.Case
	Duplicates []string
	Overdue    bool
	Level      int
	Deadlines  []deadlineView
	Events     []eventView
	Offers     []string
	// Pending is the extension request waiting for a decision, if any.
	Pending *duban.Extension
	// Evidence is the report's photos beside the last resolution's (and
	// its verification's), for the inspector who verifies.
	Evidence []evidenceColumn
	// Key is the Idempotency-Key of the forms drawn, so that a form sent
	// twice (a double click, a resend after a lost answer) acts once.
	Key string
	// Form is what a refused form held, to show again.
	Form url.Values
	// Done confirms the action that led here ("" for none).
	Done string
	// Nearby are the open cases a resident's report awaiting its check
	// may be merged into.
	Nearby []app.NearbyCase
}

// deadlineView is a stage's row: a running stage counts down (or up, once
// late) against now; a stage done says when, and whether by its deadline.
type deadlineView struct {
	Stage   string
	At      time.Time
	Running bool
	// Working is whether the case's calendar counts working time only.
	Working bool
	// For the running stage: the time left on the case's calendar, or how
	// long it is late; Resumes, when working time next begins if now is
	// outside it (the clock is paused).
	Left, Late time.Duration
	Resumes    *time.Time
	// For a stage done: when, and how late (0: on time).
	Done     *time.Time
	DoneLate time.Duration
}

type eventView struct {
	duban.Event
	Details []detail
	// Photos are the evidence the event gave: every photo stays on the
	// page where it was given, also those the comparison above no longer
	// shows after a rework.
	Photos []photoView
}

type detail struct {
	Key   string // a message key, or the field's name
	Value string
}

// Offers reports whether the page offers command name.
func (d caseData) Offer(name string) bool { return slices.Contains(d.Offers, name) }

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	s.showCase(w, r, http.StatusOK, nil, nil)
}

// showCase draws the case page, with the problem a refused form met and
// what it held.
func (s *Server) showCase(w http.ResponseWriter, r *http.Request, status int, refusal error, form url.Values) {
	by := session(r).Principal
	id := chi.URLParam(r, "id")
	row, err := s.App.CaseRow(r.Context(), by, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events, err := s.App.Events(r.Context(), by, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "case.title")
	now := p.now
	c := row.Case
	clock := c.Clock()
	d := caseData{Case: c, Duplicates: row.Duplicates, Overdue: clock.Overdue(now), Level: clock.Level(now),
		Offers: c.Offers(by, now), Key: rand.Text(), Form: form}
	if d.Offer("confirm") {
		if d.Nearby, err = s.App.Nearby(r.Context(), by, c); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	cal := c.Terms.Calendar
	for _, st := range duban.StageTimes(events) {
		v := deadlineView{Stage: string(st.Stage), At: st.Due, Running: st.Running, Working: cal.Kind == duban.CalendarBusiness, Done: st.Done}
		switch {
		case st.Running && now.Before(st.Due):
			v.Left = cal.Between(now, st.Due)
			if open, next := cal.OpenAt(now); !open {
				v.Resumes = &next
			}
		case st.Running:
			v.Late = clock.Late(now) // as the board and the lists say it
		case st.Done != nil && !st.OnTime():
			v.DoneLate = cal.Between(st.DoneDue, *st.Done)
		}
		d.Deadlines = append(d.Deadlines, v)
	}
	for i := range c.Extensions {
		if c.Extensions[i].Status == duban.ExtensionPending {
			d.Pending = &c.Extensions[i]
		}
	}
	// Each event's photos are looked up once, for the timeline and the
	// comparison alike.
	photos := map[int64][]photoView{} // by the version of the event that gave them
	for _, e := range events {
		if ev := e.Evidence(); len(ev) > 0 {
			photos[e.Version] = s.photoViews(r, by, c, ev)
		}
	}
	d.Evidence = evidence(events, photos)
	for i := len(events) - 1; i >= 0; i-- { // the latest first
		d.Events = append(d.Events, eventView{Event: events[i], Details: p.eventDetails(c, events[i]), Photos: photos[events[i].Version]})
	}
	if refusal != nil {
		p.Problem = s.problem(p, refusal)
	} else if done := r.URL.Query().Get("done"); p.Has("done." + done) {
		d.Done = p.T("done."+done, cmp.Or(c.Number, c.ID))
	}
	p.Data = d
	s.render(w, r, status, "case", p)
}

// detailFields are the event data a timeline shows, in this order.
var detailFields = []string{"unit", "stage", "level", "deadline", "passed", "approved", "until", "outcome", "duplicate_of",
	"reason", "note", "text", "description", "rework_count"}

// details are what a timeline says of an event's data.
func details(e duban.Event) []detail {
	b, err := json.Marshal(e.Data)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	var out []detail
	for _, k := range detailFields {
		v, ok := m[k]
		if !ok || v == nil || v == "" {
			continue
		}
		var text string
		switch v := v.(type) {
		case string:
			text = v
		case bool:
			text = "no"
			if v {
				text = "yes"
			}
		case float64:
			b, _ := json.Marshal(v)
			text = string(b)
		default:
			continue
		}
		out = append(out, detail{Key: k, Value: text})
	}
	return out
}

// eventDetails are what a timeline says of an event, in the page's
// language: what routed a case is said from what was recorded (an older
// dispatch's English reason stays as it was).
func (p *page) eventDetails(c duban.Case, e duban.Event) []detail {
	out := details(e)
	var reason string
	switch d := e.Data.(type) {
	case duban.CaseDispatched:
		switch r := d.Routing; {
		case r == nil:
		case r.AssignedBy != "":
			reason = p.T("route.assigned", r.AssignedBy)
		case r.Rule > 0:
			reason = p.T("route.rule", r.Rule, cmp.Or(p.Category(r.Category), p.T("route.any_category")), cmp.Or(p.Area(r.Area), p.T("route.any_area")))
		case r.Site != "":
			reason = p.T("route.site", r.Site, p.Unit(d.Unit))
		default:
			reason = p.T("route.category", p.Category(r.Category), p.Unit(d.Unit))
		}
	case duban.CaseUnrouted:
		reason = p.T("route.none", p.Category(c.Category))
	case duban.CaseListed:
		if d.Recurrence > 0 {
			reason = p.T("listed.recurrence", d.Recurrence)
		}
	}
	for i := range out {
		if out[i].Key == "reason" && reason != "" {
			out[i].Value = reason
		}
	}
	return out
}

// Detail says a timeline detail in the page's language: times in the
// policy's zone, units and stages by their names.
func (p *page) Detail(d detail) string {
	switch d.Key {
	case "deadline", "until":
		if t, err := time.Parse(time.RFC3339Nano, d.Value); err == nil {
			return p.Time(t)
		}
	case "unit":
		return p.Unit(d.Value)
	case "stage", "outcome":
		if p.Has(d.Key + "." + d.Value) {
			return p.T(d.Key + "." + d.Value)
		}
	case "passed", "approved":
		return p.T("answer." + d.Value)
	}
	return d.Value
}

type newData struct {
	Key  string
	Form url.Values
}

func (s *Server) newCasePage(w http.ResponseWriter, r *http.Request) {
	s.showNew(w, r, http.StatusOK, nil, url.Values{"severity": {"normal"}})
}

func (s *Server) showNew(w http.ResponseWriter, r *http.Request, status int, refusal error, form url.Values) {
	if err := session(r).Principal.MayOpen(); err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "new.title")
	key := form.Get("key")
	if key == "" {
		key = rand.Text()
	}
	p.Data = newData{Key: key, Form: form}
	if refusal != nil {
		p.Problem = s.problem(p, refusal)
	}
	s.render(w, r, status, "new", p)
}

// openCase opens a case from the new-case form. The form's key is the
// open's Idempotency-Key: sent twice, it opens one case.
func (s *Server) openCase(w http.ResponseWriter, r *http.Request) {
	err := s.takePhoto(r)
	form := r.PostForm
	var cmd duban.OpenCase
	if err == nil {
		s.placeFromPhoto(r, form)
		cmd, err = openFrom(session(r).Principal, form)
	}
	if err == nil {
		a, openErr := s.App.Open(r.Context(), cmd, strings.TrimSpace(form.Get("key")))
		if err = openErr; err == nil {
			http.Redirect(w, r, "/cases/"+a.Case.ID+"?done=open", http.StatusSeeOther)
			return
		}
	}
	s.showNew(w, r, api.Status(err), err, form)
}

// placeFromPhoto fills the form's coordinates, when both are empty, from
// the first of its photos that was taken with its place: what a phone's
// camera records is better than nothing typed.
func (s *Server) placeFromPhoto(r *http.Request, form url.Values) {
	if strings.TrimSpace(form.Get("location.lat")) != "" || strings.TrimSpace(form.Get("location.lon")) != "" {
		return
	}
	for _, id := range form["attachment"] {
		if a, err := s.App.AttachmentInfo(r.Context(), session(r).Principal, id); err == nil && a.Location != nil {
			form.Set("location.lat", strconv.FormatFloat(a.Location.Lat, 'f', 6, 64))
			form.Set("location.lon", strconv.FormatFloat(a.Location.Lon, 'f', 6, 64))
			return
		}
	}
}

// commandForm is what a case page's form for one command is drawn from.
type commandForm struct {
	*page
	Name string
	C    caseData
}

// Command returns the form of command name on the case page.
func (p *page) Command(name string) commandForm {
	return commandForm{page: p, Name: name, C: p.Data.(caseData)}
}

// Value is what the form's field held when this form was sent and refused.
func (f commandForm) Value(field string) string {
	if f.C.Form.Get("cmd") != f.Name {
		return ""
	}
	return f.C.Form.Get(field)
}

// textField is a text area of a command's form.
type textField struct {
	ID, Name, Label, Optional, Value string
	Required                         bool
}

// Field returns the text area for field of this form.
func (f commandForm) Field(field string, required bool) textField {
	return textField{ID: f.Name + "-" + field, Name: field, Label: f.T("field." + field), Optional: f.T("field.optional"),
		Value: f.Value(field), Required: required}
}

// casesCSVLimit bounds the cases one CSV export holds.
const casesCSVLimit = 10000

// casesCSV is the list's cases, every page (up to casesCSVLimit), as CSV
// in the page's language: UTF-8 with a BOM, so that a spreadsheet opens it
// as it is.
func (s *Server) casesCSV(w http.ResponseWriter, r *http.Request) {
	_, f, err := s.casesQuery(r, 200, 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.newPage(r, "cases.title")
	by := session(r).Principal
	var b bytes.Buffer
	b.WriteString("\ufeff")
	cw := csv.NewWriter(&b)
	header := []string{}
	for _, key := range []string{"field.number", "field.case", "field.status", "field.category", "field.severity", "field.unit",
		"field.location.area", "field.location.address", "field.description", "field.reporter", "field.opened_at",
		"field.deadline", "field.overdue", "field.level"} {
		header = append(header, p.T(key))
	}
	cw.Write(header)
	for n := 0; n < casesCSVLimit; {
		ls, next, err := s.App.Cases(r.Context(), by, f)
		var cs []listed
		if err == nil {
			cs, err = s.decodeListed(ls, p.now)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, c := range cs {
			overdue := p.T("answer.no")
			if c.Overdue {
				overdue = p.T("answer.yes")
			}
			cw.Write([]string{c.Number, c.ID, p.T("status." + string(c.Status)), p.Category(c.Category), p.T("severity." + string(c.Severity)),
				p.Unit(c.Unit), p.Area(c.Location.Area), c.Location.Address, c.Description, c.Reporter, p.Time(c.OpenedAt),
				p.Time(c.Deadline), overdue, strconv.Itoa(c.Level)})
		}
		n += len(cs)
		if next == nil {
			break
		}
		f.After = next
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="cases-`+p.now.In(s.zone).Format("20060102-1504")+`.csv"`)
	w.Write(b.Bytes())
}
