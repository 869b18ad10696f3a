// Package storetest is the contract of duban's event stores: the PostgreSQL
// store and the in-memory one that the tests of the workflow and of the
// doors use run the same cases here, so that they cannot drift apart.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
)

// Store is what the contract covers: what the case workflow writes and
// reads (activities.EventStore) and what the application layer reads.
type Store interface {
	app.Store
	app.SiteStore
	app.LogStore
	app.SessionStore
	app.AttachmentStore
	app.ResidentStore
	CaseCounts(ctx context.Context, now time.Time) (duban.CaseCounts, error)
	Append(ctx context.Context, a duban.Append) (duban.Appended, error)
	EventsAfter(ctx context.Context, caseID string, version int64) ([]duban.Event, error)
	PublishBulletin(ctx context.Context, b duban.Bulletin) (bool, error)
}

// Run runs the contract against the stores newStore makes: an empty one
// for each test.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		test func(t *testing.T, s Store)
	}{
		{"append and read back", testAppendAndRead},
		{"a retried append writes nothing", testRetriedAppend},
		{"an append behind the store is answered with what is there", testStaleAppend},
		{"appends that cannot be right are refused", testBadAppends},
		{"a command's case after it", testCaseAfter},
		{"what is not there", testNotFound},
		{"duplicates are listed on their original", testDuplicates},
		{"lists filter, order and page", testCases},
		{"case numbers, a sequence per year", testCaseNumbers},
		{"sites", testSites},
		{"rounds and inspections", testRounds},
		{"a month of rounds, worked by hand", testSiteMonth},
		{"two months of random rounds, against a naive walk", testSiteMonthNaive},
		{"the escalation board", testEscalations},
		{"lists say how late on the case's calendar", testLateOnTheCalendar},
		{"the map's cases, as the list has them", testPlotted},
		{"the scorecards, worked out by hand", testScorecards},
		{"the scorecards, recomputed from the events by a naive path", testScorecardsNaive},
		{"the log, read whole", testLog},
		{"sessions", testSessions},
		{"sign-in failures", testSignInFailures},
		{"the cases counted for the metrics", testCaseCounts},
		{"attachments and the cases that refer to them", testAttachments},
		{"residents' follow links and points", testResidents},
		{"bulletins with their lists and sanctions, followed up", testHonours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, newStore(t)) })
	}
}

var (
	t0         = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	inspector  = duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	sanitation = duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}
	supervisor = duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}
)

// terms: acknowledge in 30m, resolve in 24h, verify in 4h, every hour
// counted; warn at -25%, escalate at the deadline, 4h and 24h after it.
var terms = duban.Terms{
	SLA:      duban.SLA{Acknowledge: 30 * time.Minute, Resolve: 24 * time.Hour, Verify: 4 * time.Hour},
	Calendar: duban.Calendar{Kind: duban.Calendar24x7},
	Ladder: []duban.Rung{
		{At: duban.Offset{Percent: -25, Relative: true}},
		{At: duban.Offset{}, Level: 1},
		{At: duban.Offset{Duration: 4 * time.Hour}, Level: 2},
		{At: duban.Offset{Duration: 24 * time.Hour}, Level: 3},
	},
}

// writer gives commands to cases as their workflow does: decided on the
// case as the store holds it, appended under the command's id.
type writer struct {
	t *testing.T
	s Store
	n int
}

// open opens a case of category in area at now, routed to unit ("" for
// none), and returns its id.
func (w *writer) open(now time.Time, category, unit, area string, severity duban.Severity) string {
	w.t.Helper()
	w.n++
	id := fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", w.n)
	w.do(id, duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector}, CaseID: id, Number: duban.CaseNumber(2026, w.n), Category: category, Severity: severity,
		Description: "bags at the bus stop", Location: duban.Location{Lat: 39.9, Lon: 116.4, Area: area},
		Unit: unit, Terms: terms, RequestHash: "h",
	}, now, "open")
	return id
}

// report opens a resident's report of category in area at now, awaiting
// its check, and returns its id.
func (w *writer) report(now time.Time, category, area string) string {
	w.t.Helper()
	w.n++
	id := fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", w.n)
	tm := terms
	tm.SLA.Check = 2 * time.Hour
	w.do(id, duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: duban.Principal{ID: fmt.Sprint("resident:r", w.n), Role: duban.RoleResident}}, CaseID: id,
		Number: duban.CaseNumber(2026, w.n), Category: category, Severity: duban.SeverityNormal,
		Description: "bags at the bus stop", Location: duban.Location{Lat: 39.9, Lon: 116.4, Area: area}, Terms: tm, RequestHash: "h",
		Public: &duban.PublicOpen{Channel: duban.ChannelWeb, Categories: []string{"littering", "graffiti"}, RatingWindow: 7 * 24 * time.Hour},
	}, now, "open")
	return id
}

// openFound opens a case as a site inspection's failure does, found the
// n-th time in a row (listed from the third), and returns its id.
func (w *writer) openFound(now time.Time, category, unit, area string, n int) string {
	w.t.Helper()
	w.n++
	id := fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", w.n)
	var last *duban.LastFinding
	if n > 1 {
		last = &duban.LastFinding{OpenedAt: now.Add(-24 * time.Hour), Recurrence: n - 1}
	}
	w.do(id, duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector}, CaseID: id, Number: duban.CaseNumber(2026, w.n), Category: category, Severity: duban.SeverityNormal,
		Description: "bins overflowing again", Location: duban.Location{Lat: 39.9, Lon: 116.4, Area: area}, Unit: unit, Terms: terms, RequestHash: "h",
		Finding: &duban.Finding{Site: "NM-001", Item: "market-bins", Round: "round-1", Last: last, Recurrence: duban.Recurrence{Window: 30 * 24 * time.Hour, ListAt: 3}},
	}, now, "open")
	return id
}

// do decides cmd on case id at now and appends its events as commandID.
func (w *writer) do(id string, cmd duban.Command, now time.Time, commandID string) (duban.Case, duban.Appended) {
	w.t.Helper()
	after, out, err := w.decide(id, cmd, now, commandID)
	if err != nil {
		w.t.Fatalf("%s refused: %v", cmd.Name(), err)
	}
	return after, out
}

// try is do for a command the case may refuse: it reports whether the
// case took it and recorded something.
func (w *writer) try(id string, cmd duban.Command, now time.Time, commandID string) bool {
	w.t.Helper()
	_, out, err := w.decide(id, cmd, now, commandID)
	return err == nil && len(out.Events) > 0
}

// decide decides cmd on the case as the store holds it, as its workflow
// does, and appends the events, if any; a refusal is returned.
func (w *writer) decide(id string, cmd duban.Command, now time.Time, commandID string) (duban.Case, duban.Appended, error) {
	w.t.Helper()
	ctx := context.Background()
	stored, err := w.s.EventsAfter(ctx, id, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	c := duban.Fold(duban.Case{}, stored)
	events, err := duban.Decide(c, cmd, now)
	if err != nil || len(events) == 0 {
		return c, duban.Appended{}, err
	}
	out, err := w.s.Append(ctx, duban.Append{CaseID: id, ExpectedVersion: c.Version, CommandID: commandID, Events: events, Before: c})
	if err != nil {
		w.t.Fatalf("append %s: %v", cmd.Name(), err)
	}
	return duban.Fold(c, events), out, nil
}

func testAppendAndRead(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	id := w.open(t0, "littering", "sanitation", "old-town", duban.SeverityNormal)
	c, out := w.do(id, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}, t0.Add(time.Minute), "ack")
	if len(out.Events) != 1 || out.Events[0].Version != 3 || !slices.Equal(out.CommandIDs, []string{"ack"}) {
		t.Fatalf("appended %+v", out)
	}
	events, err := s.Events(ctx, id)
	if err != nil || len(events) != 3 {
		t.Fatalf("events %v, %v", events, err)
	}
	for i, e := range events {
		if e.Version != int64(i+1) || e.Position <= 0 || (i > 0 && e.Position <= events[i-1].Position) {
			t.Fatalf("event %d: version %d, position %d", i, e.Version, e.Position)
		}
	}
	if events[2].Position != out.Events[0].Position || !sameJSON(events[2], out.Events[0]) {
		t.Fatalf("stored %+v, appended %+v", events[2], out.Events[0])
	}
	after, err := s.EventsAfter(ctx, id, 1)
	if err != nil || len(after) != 2 || !sameJSON(after, events[1:]) {
		t.Fatalf("events after 1: %v, %v", after, err)
	}
	row, err := s.Case(ctx, id)
	if err != nil || !sameJSON(row.Case, c) || row.Duplicates != nil {
		t.Fatalf("case %+v, %v; want %+v", row, err, c)
	}
	l, err := s.Listing(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	checkListed(t, l, c, nil)
}

// checkListed checks that l is c as reads send it.
func checkListed(t *testing.T, l app.Listed, c duban.Case, duplicates []string) {
	t.Helper()
	view, _ := json.Marshal(c.View())
	var got, want any
	if err := json.Unmarshal(l.View, &got); err != nil {
		t.Fatalf("view %s: %v", l.View, err)
	}
	_ = json.Unmarshal(view, &want)
	if !sameJSON(got, want) {
		t.Fatalf("view\n got %s\nwant %s", l.View, view)
	}
	k := c.Clock()
	if l.ID != c.ID || l.Unit != c.Unit || !l.OpenedAt.Equal(c.OpenedAt) || l.Version != c.Version || !slices.Equal(l.Duplicates, duplicates) {
		t.Fatalf("listed %+v, case %+v", l, c)
	}
	if (l.Clock.Deadline == nil) != (k.Deadline == nil) || (k.Deadline != nil && !l.Clock.Deadline.Equal(*k.Deadline)) ||
		!slices.EqualFunc(l.Clock.Levels, k.Levels, time.Time.Equal) || l.Clock.Recorded != k.Recorded {
		t.Fatalf("clock %+v, want %+v", l.Clock, k)
	}
}

func testRetriedAppend(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	id := w.open(t0, "littering", "sanitation", "", duban.SeverityNormal)
	stored, _ := s.EventsAfter(ctx, id, 0)
	c := duban.Fold(duban.Case{}, stored)
	ack := duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}
	events, _ := duban.Decide(c, ack, t0.Add(time.Minute))
	a := duban.Append{CaseID: id, ExpectedVersion: c.Version, CommandID: "ack", Events: events, Before: c}
	first, err := s.Append(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(ctx, a)
	if err != nil || !sameJSON(again, first) {
		t.Fatalf("retried append: %+v, %v; first %+v", again, err, first)
	}
	if all, _ := s.Events(ctx, id); len(all) != 3 {
		t.Fatalf("%d events after a retried append", len(all))
	}
}

func testStaleAppend(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	id := w.open(t0, "littering", "sanitation", "", duban.SeverityNormal)
	stored, _ := s.EventsAfter(ctx, id, 0)
	c := duban.Fold(duban.Case{}, stored)
	w.do(id, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}, t0.Add(time.Minute), "ack")
	// A comment decided on the case before the acknowledgement.
	comment := duban.AddComment{CommandMeta: duban.CommandMeta{By: supervisor}, Text: "seen"}
	events, _ := duban.Decide(c, comment, t0.Add(2*time.Minute))
	out, err := s.Append(ctx, duban.Append{CaseID: id, ExpectedVersion: c.Version, CommandID: "comment", Events: events, Before: c})
	if err != nil || len(out.Events) != 1 || out.Events[0].Type != duban.EventCaseAcknowledged || !slices.Equal(out.CommandIDs, []string{"ack"}) {
		t.Fatalf("stale append: %+v, %v", out, err)
	}
	if row, _ := s.Case(ctx, id); row.Status != duban.StatusInProgress || row.Version != 3 {
		t.Fatalf("the stale append changed the case: %+v", row.Case)
	}
}

func testBadAppends(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	id := w.open(t0, "littering", "sanitation", "", duban.SeverityNormal)
	stored, _ := s.EventsAfter(ctx, id, 0)
	c := duban.Fold(duban.Case{}, stored)
	events, _ := duban.Decide(c, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}, t0.Add(time.Minute))
	bad := []struct {
		name string
		a    duban.Append
	}{
		{"no events", duban.Append{CaseID: id, ExpectedVersion: 2, CommandID: "x", Before: c}},
		{"the store is behind", duban.Append{CaseID: id, ExpectedVersion: 5, CommandID: "x", Events: renumber(events, 6), Before: caseAt(c, 5)}},
		{"a version skipped", duban.Append{CaseID: id, ExpectedVersion: 2, CommandID: "x", Events: renumber(events, 4), Before: c}},
		{"another case's events", duban.Append{CaseID: "0194f2a0-0000-7000-8000-999999999999", ExpectedVersion: 2, CommandID: "x", Events: events, Before: c}},
		{"a case before at another version", duban.Append{CaseID: id, ExpectedVersion: 2, CommandID: "x", Events: events, Before: caseAt(c, 1)}},
	}
	for _, b := range bad {
		if _, err := s.Append(ctx, b.a); err == nil {
			t.Errorf("%s: appended", b.name)
		}
	}
	if all, _ := s.Events(ctx, id); len(all) != 2 {
		t.Fatalf("%d events after refused appends", len(all))
	}
}

// caseAt returns c as if it were at version v.
func caseAt(c duban.Case, v int64) duban.Case {
	c.Version = v
	return c
}

// renumber returns events as if they came after version v-1.
func renumber(events []duban.Event, v int64) []duban.Event {
	out := slices.Clone(events)
	for i := range out {
		out[i].Version = v + int64(i)
		out[i].ID = duban.EventID(out[i].CaseID, out[i].Version)
	}
	return out
}

func testCaseAfter(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	id := w.open(t0, "littering", "sanitation", "", duban.SeverityNormal)
	acked, _ := w.do(id, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}, t0.Add(time.Minute), "ack")
	w.do(id, duban.AddComment{CommandMeta: duban.CommandMeta{By: supervisor}, Text: "seen"}, t0.Add(2*time.Minute), "comment")
	c, applied, err := s.CaseAfter(ctx, id, "ack")
	if err != nil || !applied || !sameJSON(c, acked) {
		t.Fatalf("case after ack: %+v, %v, %v", c, applied, err)
	}
	if _, applied, err := s.CaseAfter(ctx, id, "never"); err != nil || applied {
		t.Fatalf("a command that recorded nothing: %v, %v", applied, err)
	}
}

func testNotFound(t *testing.T, s Store) {
	ctx := context.Background()
	for _, id := range []string{"0194f2a0-0000-7000-8000-000000000042", "not-a-uuid", ""} {
		if _, err := s.Case(ctx, id); duban.ErrorCode(err) != duban.ENOTFOUND {
			t.Errorf("Case(%q): %v", id, err)
		}
		if _, err := s.Listing(ctx, id); duban.ErrorCode(err) != duban.ENOTFOUND {
			t.Errorf("Listing(%q): %v", id, err)
		}
		if _, err := s.Events(ctx, id); duban.ErrorCode(err) != duban.ENOTFOUND {
			t.Errorf("Events(%q): %v", id, err)
		}
		if events, err := s.EventsAfter(ctx, id, 0); err != nil || len(events) != 0 {
			t.Errorf("EventsAfter(%q): %v, %v", id, events, err)
		}
		if _, applied, err := s.CaseAfter(ctx, id, "open"); err != nil || applied {
			t.Errorf("CaseAfter(%q): %v, %v", id, applied, err)
		}
	}
}

func testDuplicates(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	original := w.open(t0, "littering", "sanitation", "", duban.SeverityNormal)
	var dups []string
	for i := range 2 {
		dup := w.open(t0.Add(time.Duration(i+1)*time.Minute), "littering", "sanitation", "", duban.SeverityNormal)
		row, _ := s.Case(ctx, original)
		w.do(dup, duban.Cancel{CommandMeta: duban.CommandMeta{By: supervisor}, Reason: "reported twice", DuplicateOf: original, Original: row.Ref()},
			t0.Add(time.Hour), "cancel")
		dups = append(dups, dup)
	}
	row, err := s.Case(ctx, original)
	if err != nil || !slices.Equal(row.Duplicates, dups) {
		t.Fatalf("duplicates %v, %v; want %v", row.Duplicates, err, dups)
	}
	l, err := s.Listing(ctx, original)
	if err != nil {
		t.Fatal(err)
	}
	checkListed(t, l, row.Case, dups)
	if dup, _ := s.Case(ctx, dups[0]); dup.DuplicateOf != original || dup.Duplicates != nil {
		t.Fatalf("the duplicate %+v", dup)
	}
}

func testCases(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	ack := duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}
	// Opened a minute apart, newest last: listed newest first.
	a := w.open(t0, "littering", "sanitation", "old-town", duban.SeverityNormal)
	b := w.open(t0.Add(time.Minute), "littering", "sanitation", "new-town", duban.SeverityUrgent)
	w.do(b, ack, t0.Add(2*time.Minute), "ack")
	c := w.open(t0.Add(2*time.Minute), "graffiti", "", "old-town", duban.SeverityNormal)
	d := w.open(t0.Add(3*time.Minute), "graffiti", "traffic-police", "old-town", duban.SeverityNormal)
	// a and d are overdue from t0+30m and t0+33m (acknowledge); b's resolve
	// deadline is a day away; c runs no clock.
	yes, no := true, false
	at := t0.Add(32 * time.Minute)
	filters := []struct {
		name string
		f    duban.CaseFilter
		want []string
	}{
		{"all", duban.CaseFilter{}, []string{d, c, b, a}},
		{"status", duban.CaseFilter{Statuses: []duban.Status{duban.StatusDispatched, duban.StatusUnrouted}}, []string{d, c, a}},
		{"unit", duban.CaseFilter{Unit: "sanitation"}, []string{b, a}},
		{"category", duban.CaseFilter{Category: "graffiti"}, []string{d, c}},
		{"severity", duban.CaseFilter{Severity: duban.SeverityUrgent}, []string{b}},
		{"area", duban.CaseFilter{Area: "old-town"}, []string{d, c, a}},
		{"overdue", duban.CaseFilter{Overdue: &yes, Now: at}, []string{a}},
		{"not overdue", duban.CaseFilter{Overdue: &no, Now: at}, []string{d, c, b}},
		{"escalated", duban.CaseFilter{Escalated: &yes, Now: at}, []string{a}},
		{"not escalated", duban.CaseFilter{Escalated: &no, Now: at}, []string{d, c, b}},
		{"escalated later", duban.CaseFilter{Escalated: &yes, Now: t0.Add(time.Hour)}, []string{d, a}},
		{"together", duban.CaseFilter{Area: "old-town", Category: "graffiti", Statuses: []duban.Status{duban.StatusDispatched}}, []string{d}},
		{"after a cursor", duban.CaseFilter{After: &duban.CaseCursor{OpenedAt: t0.Add(2 * time.Minute), ID: c}}, []string{b, a}},
		{"a number", duban.CaseFilter{Text: "2026-000002"}, []string{b}},
		{"a number not given", duban.CaseFilter{Text: "2026-000009"}, nil},
		{"text, any case", duban.CaseFilter{Text: "BUS Stop"}, []string{d, c, b, a}},
		{"text with LIKE's wildcards, taken as they are", duban.CaseFilter{Text: "bags%stop"}, nil},
		{"text found nowhere", duban.CaseFilter{Text: "_"}, nil},
		{"opened in a range", duban.CaseFilter{OpenedFrom: t0.Add(time.Minute), OpenedBefore: t0.Add(3 * time.Minute)}, []string{c, b}},
		{"reporter", duban.CaseFilter{Reporter: inspector.ID}, []string{d, c, b, a}},
		{"another reporter", duban.CaseFilter{Reporter: "inspector-2"}, nil},
	}
	for _, f := range filters {
		got, next, err := s.Cases(ctx, f.f)
		if err != nil || next != nil || !slices.Equal(ids(got), f.want) {
			t.Errorf("%s: %v (next %v), %v; want %v", f.name, ids(got), next, err, f.want)
		}
		if f.f.After == nil {
			if n, err := s.CountCases(ctx, f.f); n != len(f.want) || err != nil {
				t.Errorf("%s: counted %d, %v; want %d", f.name, n, err, len(f.want))
			}
		}
	}
	var paged []string
	f := duban.CaseFilter{Limit: 3}
	for page := 0; ; page++ {
		got, next, err := s.Cases(ctx, f)
		if err != nil || page > 2 {
			t.Fatalf("page %d: %v, %v", page, ids(got), err)
		}
		paged = append(paged, ids(got)...)
		if next == nil {
			break
		}
		if last := got[len(got)-1]; next.ID != last.ID || !next.OpenedAt.Equal(last.OpenedAt) {
			t.Fatalf("cursor %+v after %s", next, last.ID)
		}
		f.After = next
	}
	if !slices.Equal(paged, []string{d, c, b, a}) {
		t.Fatalf("paged %v", paged)
	}
	one, err := s.Listing(ctx, b)
	if err != nil || !json.Valid(one.View) || !strings.Contains(string(one.View), `"number":"2026-000002"`) {
		t.Fatalf("b's view %s, %v", one.View, err)
	}
}

func testCaseNumbers(t *testing.T, s Store) {
	ctx := context.Background()
	var got []int
	for _, year := range []int{2026, 2026, 2027, 2026} {
		n, err := s.NextCaseNumber(ctx, year)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if !slices.Equal(got, []int{1, 2, 1, 3}) {
		t.Fatalf("drew %v, want each year's sequence from 1", got)
	}
}

// A list's case says how late it is as its page does: on the calendar its
// deadlines are counted on (duban.Clock.Late), working time on a business
// calendar, not the hours of a night and a weekend.
func testLateOnTheCalendar(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	business := terms
	business.Calendar = duban.Calendar{Kind: duban.CalendarBusiness, TimeZone: "UTC",
		Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}, Hours: []duban.Window{{Start: 9 * 60, End: 17 * 60}}}
	friday := time.Date(2026, 11, 6, 16, 0, 0, 0, time.UTC) // acknowledge by 16:30
	monday := time.Date(2026, 11, 9, 10, 0, 0, 0, time.UTC) // half an hour of Friday, an hour of Monday
	id := "0194f2a0-0000-7000-8000-00000000ca1e"
	w.do(id, duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: inspector}, CaseID: id, Number: duban.CaseNumber(2026, 999), Category: "littering",
		Severity: duban.SeverityNormal, Description: "bags at the bus stop", Location: duban.Location{Lat: 39.9, Lon: 116.4},
		Unit: "sanitation", Terms: business, RequestHash: "h",
	}, friday, "open")
	w.open(friday, "littering", "sanitation", "", duban.SeverityNormal) // on every hour: 66 h late
	board, _, err := s.Escalations(ctx, duban.CaseFilter{Now: monday, Limit: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	late := map[string]time.Duration{}
	for _, l := range board {
		late[l.ID] = l.Clock.Late(monday)
	}
	if late[id] != 90*time.Minute || len(late) != 2 {
		t.Fatalf("on the board, late %v; want %s 1h30m late on its business calendar", late, id)
	}
	for _, l := range board {
		if l.ID != id && late[l.ID] != 65*time.Hour+30*time.Minute {
			t.Fatalf("a case on every hour is late %s, want 65h30m", late[l.ID])
		}
	}
	listed, _, err := s.Cases(ctx, duban.CaseFilter{Now: monday, Limit: 10, Overdue: new(true)})
	if err != nil || len(listed) != 2 {
		t.Fatalf("overdue cases %v, %v", listed, err)
	}
	for _, l := range listed {
		if l.Clock.Late(monday) != late[l.ID] {
			t.Fatalf("case %s: the list says %s late, the board %s", l.ID, l.Clock.Late(monday), late[l.ID])
		}
	}
}

// The map reads the open cases as the list does, newest first, only what
// it draws: where each is, what it is, its clock; a closed case is not
// drawn, and a limit says whether more were left.
func testPlotted(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	var ids []string
	for i := range 4 {
		ids = append(ids, w.open(t0.Add(time.Duration(i)*time.Minute), "littering", "sanitation", "old-town", duban.SeverityNormal))
	}
	w.do(ids[1], duban.Cancel{CommandMeta: duban.CommandMeta{By: supervisor}, Reason: "reported twice"}, t0.Add(5*time.Minute), "cancel")
	w.do(ids[2], duban.List{CommandMeta: duban.CommandMeta{By: supervisor}, Reason: "本月第三次"}, t0.Add(5*time.Minute), "list")
	open := duban.CaseFilter{Statuses: duban.OpenStatuses(), Now: t0.Add(time.Hour)}
	listed, _, err := s.Cases(ctx, open)
	if err != nil {
		t.Fatal(err)
	}
	plotted, more, err := s.Plotted(ctx, open, 10)
	if err != nil || more || len(plotted) != 3 || len(listed) != 3 {
		t.Fatalf("plotted %+v (more %v), %v; listed %d", plotted, more, err, len(listed))
	}
	for i, p := range plotted {
		l := listed[i]
		var v duban.View
		if err := json.Unmarshal(l.View, &v); err != nil {
			t.Fatal(err)
		}
		if p.ID != l.ID || p.Number != v.Number || p.Category != v.Category || p.Status != v.Status || p.Listed != v.Listed ||
			p.Lat != v.Location.Lat || p.Lon != v.Location.Lon || !reflect.DeepEqual(p.Clock, l.Clock) {
			t.Errorf("plotted %+v, listed %+v %+v", p, l.Clock, v)
		}
	}
	if !plotted[1].Listed || plotted[1].ID != ids[2] {
		t.Errorf("the listed case %s is not drawn as listed: %+v", ids[2], plotted[1])
	}
	first, more, err := s.Plotted(ctx, open, 2)
	if err != nil || !more || len(first) != 2 || first[0].ID != ids[3] {
		t.Fatalf("the first two: %+v (more %v), %v", first, more, err)
	}
}

func testEscalations(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	// a is due at t0+30m, b and c at t0+40m, d at t0+50m: at t0+4h40m, a
	// and b and c are at level 2 (a due longest), d at level 1.
	a := w.open(t0, "littering", "sanitation", "", duban.SeverityNormal)
	c := w.open(t0.Add(10*time.Minute), "littering", "sanitation", "", duban.SeverityNormal)
	b := w.open(t0.Add(10*time.Minute), "littering", "sanitation", "", duban.SeverityNormal)
	d := w.open(t0.Add(20*time.Minute), "littering", "sanitation", "riverside", duban.SeverityNormal)
	fresh := w.open(t0.Add(4*time.Hour+20*time.Minute), "littering", "sanitation", "", duban.SeverityNormal)
	// d's level 1 is recorded, as its workflow would: it stays level 1.
	w.do(d, duban.Tick{CommandMeta: duban.CommandMeta{By: duban.System}}, t0.Add(51*time.Minute), "tick")
	w.do(w.open(t0, "littering", "", "", duban.SeverityNormal), duban.AddComment{CommandMeta: duban.CommandMeta{By: supervisor}, Text: "no clock"}, t0, "c")
	at := t0.Add(4*time.Hour + 40*time.Minute)
	board := func(f duban.CaseFilter, after *duban.BoardCursor) ([]app.Listed, *duban.BoardCursor) {
		t.Helper()
		f.Now = at
		got, next, err := s.Escalations(ctx, f, after)
		if err != nil {
			t.Fatal(err)
		}
		return got, next
	}
	got, next := board(duban.CaseFilter{Limit: 10}, nil)
	bc := []string{b, c}
	slices.SortFunc(bc, func(x, y string) int { return compareUUID(x, y) })
	want := []string{a, bc[0], bc[1], d}
	if !slices.Equal(ids(got), want) || next != nil {
		t.Fatalf("board %v (next %v); want %v (fresh %s not overdue)", ids(got), next, want, fresh)
	}
	if got[3].Clock.Level(at) != 1 || got[0].Clock.Level(at) != 2 || got[3].Clock.Recorded != 1 {
		t.Fatalf("levels %+v, %+v", got[0].Clock, got[3].Clock)
	}
	// A page at a time, each going on where the last ended.
	var paged []string
	var after *duban.BoardCursor
	for page := 0; page < 3; page++ {
		got, next := board(duban.CaseFilter{Limit: 3}, after)
		paged = append(paged, ids(got)...)
		if next == nil {
			break
		}
		after = next
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("paged %v, want %v", paged, want)
	}
	if top, next := board(duban.CaseFilter{Limit: 2}, nil); !slices.Equal(ids(top), want[:2]) || next == nil || next.ID != want[1] || next.Level != 2 {
		t.Fatalf("first two %v, next %+v", ids(top), next)
	}
	// Filtered as lists are.
	if got, _ := board(duban.CaseFilter{Area: "riverside", Statuses: []duban.Status{duban.StatusDispatched}}, nil); !slices.Equal(ids(got), []string{d}) {
		t.Fatalf("riverside %v", ids(got))
	}
	if got, _ := board(duban.CaseFilter{Unit: "traffic-police"}, nil); len(got) != 0 {
		t.Fatalf("another unit's %v", ids(got))
	}
}

func ids(ls []app.Listed) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

// compareUUID orders the ids this contract makes (same length, hex) as
// PostgreSQL orders uuids.
func compareUUID(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sameJSON reports whether a and b encode to the same JSON: stores may
// differ in a time's location, never in its instant.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}
