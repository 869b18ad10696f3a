package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

// unitOf is the principal of unit, acting for it.
func unitOf(unit string) duban.CommandMeta {
	return duban.CommandMeta{By: duban.Principal{ID: unit + "-1", Role: duban.RoleUnit, Unit: unit}}
}

var office = duban.CommandMeta{By: supervisor}

// at is a time of November 2026 (UTC), or of the days around it.
func at(month time.Month, day, hour, minute int) time.Time {
	return time.Date(2026, month, day, hour, minute, 0, 0, time.UTC)
}

// expected is a unit's row worked out by hand: its counts, and its
// median minutes to acknowledge and to resolve (-1: none).
type expected struct {
	dispatched, handled, onTime, overdue, verifications, rework, closed, extensions, urges, nfa int
	escalations                                                                                 map[string]int
	ackP50, resolveP50                                                                          float64
}

func (e expected) String() string {
	return fmt.Sprintf("dispatched %d handled %d on time %d overdue %d verifications %d rework %d closed %d extensions %d urges %d nfa %d escalations %v ack p50 %g resolve p50 %g",
		e.dispatched, e.handled, e.onTime, e.overdue, e.verifications, e.rework, e.closed, e.extensions, e.urges, e.nfa, e.escalations, e.ackP50, e.resolveP50)
}

func got(r duban.UnitRow) expected {
	p50 := func(m duban.Minutes) float64 {
		if m.P50 == nil {
			return -1
		}
		return *m.P50
	}
	esc := map[string]int{}
	for level, n := range r.Escalations {
		if n > 0 {
			esc[level] = n
		}
	}
	return expected{r.Dispatched, r.Handled, r.HandledOnTime, r.OverdueOpen, r.Verifications, r.Rework, r.Closed,
		r.ExtensionsApproved, r.Urges, r.NoFurtherAction, esc, p50(r.AckMinutes), p50(r.ResolveMinutes)}
}

// testScorecards plays, each for a unit of its own, the cases the
// assessment's definitions are hardest on, and checks November's row of
// each unit against one worked out by hand (terms: acknowledge in 30m,
// resolve in 24h, verify in 4h, every hour counted; escalation at the
// deadline, +4h, +24h, a warning at -25%).
func testScorecards(t *testing.T, s Store) {
	ctx := context.Background()
	w := &writer{t: t, s: s}
	units := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	assign := func(id, unit string, now time.Time) {
		w.do(id, duban.Assign{CommandMeta: office, Unit: unit, Units: units}, now, "assign-"+unit)
	}

	// Reassigned twice: a's and b's obligations are void (each escalated
	// at its acknowledge deadline before the next assignment); c handles.
	c := w.open(at(11, 2, 9, 0), "littering", "a", "old-town", duban.SeverityNormal)
	assign(c, "b", at(11, 2, 10, 0))
	assign(c, "c", at(11, 2, 11, 0))
	w.do(c, duban.Acknowledge{CommandMeta: unitOf("c")}, at(11, 2, 11, 20), "ack")
	w.do(c, duban.Resolve{CommandMeta: unitOf("c"), Note: "swept"}, at(11, 2, 12, 0), "resolve")
	w.do(c, duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: true}, at(11, 2, 13, 0), "verify")

	// Disputed, then assigned straight back: two dispatches, two
	// acknowledgements (10 and 5 minutes), one resolution an hour after
	// the second dispatch.
	d := w.open(at(11, 3, 9, 0), "littering", "d", "", duban.SeverityNormal)
	w.do(d, duban.Acknowledge{CommandMeta: unitOf("d")}, at(11, 3, 9, 10), "ack-1")
	w.do(d, duban.Dispute{CommandMeta: unitOf("d"), Reason: "the market's"}, at(11, 3, 10, 0), "dispute")
	assign(d, "d", at(11, 3, 11, 0))
	w.do(d, duban.Acknowledge{CommandMeta: unitOf("d")}, at(11, 3, 11, 5), "ack-2")
	w.do(d, duban.Resolve{CommandMeta: unitOf("d"), Note: "swept"}, at(11, 3, 12, 0), "resolve")

	// Suspended over the period's end, its deadline (30 Nov 09:00) before
	// it: not overdue at the end. f, the same but never acknowledged (its
	// level 1 recorded before the suspension), resumed on 2 December after
	// four days: its deadline moves to 3 December 09:00.
	e := w.open(at(11, 29, 9, 0), "littering", "e", "", duban.SeverityNormal)
	w.do(e, duban.Acknowledge{CommandMeta: unitOf("e")}, at(11, 29, 9, 5), "ack")
	w.do(e, duban.Suspend{CommandMeta: office, Reason: "waiting for a crane"}, at(11, 29, 10, 0), "suspend")
	f := w.open(at(11, 28, 9, 0), "littering", "f", "", duban.SeverityNormal)
	w.do(f, duban.Suspend{CommandMeta: office, Reason: "waiting for a crane"}, at(11, 28, 10, 0), "suspend")
	w.do(f, duban.Resume{CommandMeta: office}, at(12, 2, 10, 0), "resume")

	// Extended after being overdue (level 1 recorded at its deadline, 6
	// November 09:00, when the request came), then resolved before the
	// new deadline: on time. Urged once.
	g := w.open(at(11, 5, 9, 0), "graffiti", "g", "riverside", duban.SeverityNormal)
	w.do(g, duban.Acknowledge{CommandMeta: unitOf("g")}, at(11, 5, 9, 10), "ack")
	w.do(g, duban.RequestExtension{CommandMeta: unitOf("g"), Until: at(11, 10, 9, 0), Reason: "parts"}, at(11, 6, 10, 0), "ask")
	w.do(g, duban.DecideExtension{CommandMeta: office, N: 1, Approved: true}, at(11, 6, 11, 0), "decide")
	w.do(g, duban.Urge{CommandMeta: office, Note: "the mayor passes by"}, at(11, 6, 12, 0), "urge")
	w.do(g, duban.Resolve{CommandMeta: unitOf("g"), Note: "painted over"}, at(11, 8, 9, 0), "resolve")

	// Reworked three times: four obligations, each resolved an hour after
	// it began, on time; four verifications, three failed; closed.
	h := w.open(at(11, 10, 9, 0), "littering", "h", "", duban.SeverityNormal)
	w.do(h, duban.Acknowledge{CommandMeta: unitOf("h")}, at(11, 10, 9, 5), "ack")
	for i := range 4 {
		w.do(h, duban.Resolve{CommandMeta: unitOf("h"), Note: "swept"}, at(11, 10, 10+2*i, 0), fmt.Sprint("resolve-", i))
		w.do(h, duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Passed: i == 3, Note: "not yet"}, at(11, 10, 11+2*i, 0), fmt.Sprint("verify-", i))
	}

	// Cancelled as a duplicate of j's case, after its resolution: i counts
	// nowhere. j's case, never acknowledged, is overdue at the end.
	j := w.open(at(11, 12, 8, 0), "littering", "j", "", duban.SeverityNormal)
	i := w.open(at(11, 12, 9, 0), "littering", "i", "", duban.SeverityNormal)
	w.do(i, duban.Acknowledge{CommandMeta: unitOf("i")}, at(11, 12, 9, 5), "ack")
	w.do(i, duban.Resolve{CommandMeta: unitOf("i"), Note: "swept"}, at(11, 12, 10, 0), "resolve")
	original, _ := s.Case(ctx, j)
	w.do(i, duban.Cancel{CommandMeta: office, Reason: "reported twice", DuplicateOf: j, Original: original.Ref()}, at(11, 12, 11, 0), "cancel")

	// Cancelled with no further action: counted as such, its obligation
	// void; its level 1, due at 09:30, recorded before the cancellation.
	k := w.open(at(11, 14, 9, 0), "littering", "k", "", duban.SeverityNormal)
	w.do(k, duban.Cancel{CommandMeta: office, Reason: "private land", Outcome: duban.OutcomeNoFurtherAction}, at(11, 14, 10, 0), "cancel")

	// Dispatched in October, resolved a day late in November: handled in
	// November, late, its three levels recorded (at the resolution, in
	// November) before it; dispatched in October, not overdue at its end.
	l := w.open(at(10, 31, 9, 0), "littering", "l", "", duban.SeverityNormal)
	w.do(l, duban.Acknowledge{CommandMeta: unitOf("l")}, at(10, 31, 9, 10), "ack")
	w.do(l, duban.Resolve{CommandMeta: unitOf("l"), Note: "swept"}, at(11, 2, 9, 0), "resolve")

	november := duban.ReportQuery{Period: duban.Period{From: at(11, 1, 0, 0), To: at(12, 1, 0, 0)}, Now: at(12, 15, 0, 0)}
	none := map[string]int{}
	want := map[string]expected{
		"a": {dispatched: 1, escalations: map[string]int{"1": 1}, ackP50: -1, resolveP50: -1},
		"b": {dispatched: 1, escalations: map[string]int{"1": 1}, ackP50: -1, resolveP50: -1},
		"c": {dispatched: 1, handled: 1, onTime: 1, verifications: 1, closed: 1, escalations: none, ackP50: 20, resolveP50: 60},
		"d": {dispatched: 2, handled: 1, onTime: 1, escalations: none, ackP50: 7.5, resolveP50: 60},
		"e": {dispatched: 1, escalations: none, ackP50: 5, resolveP50: -1},
		"f": {dispatched: 1, escalations: map[string]int{"1": 1}, ackP50: -1, resolveP50: -1},
		"g": {dispatched: 1, handled: 1, onTime: 1, extensions: 1, urges: 1, escalations: map[string]int{"1": 1}, ackP50: 10, resolveP50: 3 * 24 * 60},
		"h": {dispatched: 1, handled: 4, onTime: 4, verifications: 4, rework: 3, closed: 1, escalations: none, ackP50: 5, resolveP50: 60},
		"j": {dispatched: 1, overdue: 1, escalations: none, ackP50: -1, resolveP50: -1},
		"k": {dispatched: 1, nfa: 1, escalations: map[string]int{"1": 1}, ackP50: -1, resolveP50: -1},
		"l": {handled: 1, escalations: map[string]int{"1": 1, "2": 1, "3": 1}, ackP50: -1, resolveP50: 2 * 24 * 60},
	}
	rows, err := s.UnitCounts(ctx, november)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Unit] = true
		if w, ok := want[r.Unit]; !ok {
			t.Errorf("unit %s has a row: %s", r.Unit, got(r))
		} else if g := got(r); g.String() != w.String() {
			t.Errorf("unit %s:\n got %s\nwant %s", r.Unit, g, w)
		}
	}
	for unit := range want {
		if !seen[unit] {
			t.Errorf("unit %s has no row", unit)
		}
	}
	// The cases behind the figures, and the months around.
	for _, tc := range []struct {
		unit, figure string
		cases        []string
	}{
		{"h", "handled", []string{h}}, {"h", "rework", []string{h}}, {"c", "dispatched", []string{c}},
		{"j", "overdue_open", []string{j}}, {"j", "due", []string{j}}, {"g", "due", []string{g}},
		{"i", "handled", nil}, {"l", "handled_on_time", nil}, {"k", "no_further_action", []string{k}},
		{"a", "escalations", []string{c}}, {"g", "extensions_approved", []string{g}},
	} {
		q := november
		q.Unit = tc.unit
		ids, err := s.FigureCases(ctx, q, tc.figure)
		if err != nil || strings.Join(ids, " ") != strings.Join(tc.cases, " ") {
			t.Errorf("%s's %s: %v, %v; want %v", tc.unit, tc.figure, ids, err, tc.cases)
		}
	}
	october := duban.ReportQuery{Period: duban.Period{From: at(10, 1, 0, 0), To: at(11, 1, 0, 0)}, Now: november.Now}
	december := duban.ReportQuery{Period: duban.Period{From: at(12, 1, 0, 0), To: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}, Now: at(12, 15, 0, 0)}
	for _, tc := range []struct {
		name string
		q    duban.ReportQuery
		unit string
		want expected
	}{
		{"l in October", october, "l", expected{dispatched: 1, escalations: none, ackP50: 10, resolveP50: -1}},
		// December up to the 15th: f's deadline moved to 3 December, past.
		{"f in December", december, "f", expected{overdue: 1, escalations: none, ackP50: -1, resolveP50: -1}},
		{"e in December", december, "e", expected{escalations: none, ackP50: -1, resolveP50: -1}},
	} {
		tc.q.Unit = tc.unit
		rows, err := s.UnitCounts(ctx, tc.q)
		var g expected
		if len(rows) == 1 {
			g = got(rows[0])
		} else {
			g = expected{escalations: none, ackP50: -1, resolveP50: -1}
		}
		if err != nil || len(rows) > 1 || g.String() != tc.want.String() {
			t.Errorf("%s: %v (%d rows), %v\nwant %s", tc.name, g, len(rows), err, tc.want)
		}
	}
	// Filters: graffiti in riverside is g's case alone.
	q := november
	q.Category, q.Area = "graffiti", "riverside"
	if rows, err := s.UnitCounts(ctx, q); err != nil || len(rows) != 1 || rows[0].Unit != "g" {
		t.Errorf("graffiti in riverside: %+v, %v", rows, err)
	}
	// Inspectors: eight opened in November (l's in October, i's a
	// duplicate); five verifications (c's one, h's four), all on time.
	inspectors, err := s.InspectorCounts(ctx, november)
	if err != nil || len(inspectors) != 1 {
		t.Fatalf("inspectors %+v, %v", inspectors, err)
	}
	if r := inspectors[0]; r.Inspector != "inspector-1" || r.Opened != 8 || r.Verifications != 5 || r.VerifiedOnTime != 5 {
		t.Errorf("inspector-1: %+v", r)
	}
}
