package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/duban/duban"
)

// testSiteMonth works a month of rounds by hand, as the application layer
// does (decided by the domain, recorded in the store): 12 sites of three
// types, two rounds of them all and a third of the markets, with the
// failures below; a market's scale failing three rounds in a row opens
// listed. The site report, the units' recurrences and listings, and the
// lists of cases found are then exactly what the month says.
func testSiteMonth(t *testing.T, s Store) {
	ctx := context.Background()
	sw := newSiteWorker(t, s)
	policy := sw.policy
	var ids []string
	for _, typ := range []struct{ code, prefix, unit string }{
		{"market", "M", "market-supervision"}, {"back-street", "B", "sanitation"}, {"toilet", "W", "sanitation"},
	} {
		for i := 1; i <= 4; i++ {
			id := fmt.Sprintf("%s%d", typ.prefix, i)
			ids = append(ids, id)
			sw.register(id, typ.code, typ.unit, "old-town")
		}
	}
	plan, inspect := sw.plan, func(round, id string, at time.Time, failed ...string) { sw.inspect(round, id, at, failed...) }
	cases := func() int { return sw.cases }
	day := func(n int, h int) time.Time {
		return t0.Add(time.Duration(n)*24*time.Hour + time.Duration(h)*time.Hour)
	}
	plan("week-1", day(0, 0))
	for _, id := range ids {
		failed := map[string][]string{
			"M1": {"market-scale"},
			"M3": {"market-scale", "market-zoning", "market-clean", "market-bins", "market-clutter", "market-smoking"}, // 83: fails
			"B1": {"bs-clean"},
			"W1": {"wc-clean"},
		}[id]
		inspect("week-1", id, day(1, 1), failed...)
	}
	plan("week-2", day(7, 0))
	for _, id := range ids {
		failed := map[string][]string{"M1": {"market-scale"}, "B1": {"bs-clean", "bs-graffiti"}, "W2": {"wc-supplies"}}[id]
		inspect("week-2", id, day(8, 1), failed...)
	}
	plan("week-3", day(14, 0), "market")
	for _, id := range ids[:4] {
		failed := map[string][]string{"M1": {"market-scale"}, "M2": {"market-ads"}}[id]
		inspect("week-3", id, day(15, 1), failed...)
	}
	if cases() != 15 {
		t.Fatalf("the month opened %d cases, want 15", cases())
	}

	// The site report of the month.
	month := duban.Period{From: day(-1, 0), To: day(29, 0)}
	q := duban.SiteReportQuery{Period: month}
	counted, err := s.SiteCounts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	rows := policy.SiteRows(counted, q)
	f := func(v float64) *float64 { return &v }
	want := map[string]duban.SiteTypeRow{
		"market": {Type: "market", Sites: 4, Inspected: 4, CoverageRate: f(1), Inspections: 12, Passed: 11, MeanScore: f(97.8), PassRate: f(0.9167),
			Items: []duban.ItemCount{{Item: "market-scale", Failed: 4}, {Item: "market-ads", Failed: 1}, {Item: "market-bins", Failed: 1},
				{Item: "market-clean", Failed: 1}, {Item: "market-clutter", Failed: 1}}},
		"back-street": {Type: "back-street", Sites: 4, Inspected: 4, CoverageRate: f(1), Inspections: 8, Passed: 8, MeanScore: f(98.9), PassRate: f(1),
			Items: []duban.ItemCount{{Item: "bs-clean", Failed: 2}, {Item: "bs-graffiti", Failed: 1}}},
		"toilet": {Type: "toilet", Sites: 4, Inspected: 4, CoverageRate: f(1), Inspections: 8, Passed: 8, MeanScore: f(99.3), PassRate: f(1),
			Items: []duban.ItemCount{{Item: "wc-clean", Failed: 1}, {Item: "wc-supplies", Failed: 1}}},
	}
	if len(rows) != len(policy.SiteTypes) {
		t.Fatalf("%d rows, want one per site type", len(rows))
	}
	for _, r := range rows {
		r.ScoreSum = 0
		w, ok := want[r.Type]
		if !ok {
			w = duban.SiteTypeRow{Type: r.Type, Items: []duban.ItemCount{}}
		}
		if !reflect.DeepEqual(r, w) {
			t.Errorf("%s's row:\n got %s\nwant %s", r.Type, jsonOf(r), jsonOf(w))
		}
	}
	worst := duban.WorstSites(must(s.SiteScores(ctx, q)), 3)
	if len(worst) != 3 || worst[0].Site != "M3" || worst[1].Site != "B1" || worst[2].Site != "M1" {
		t.Errorf("the worst sites: %s", jsonOf(worst))
	}

	// The units' recurrences and listings: the scale's second and third
	// failures and the back street's second, for their units.
	counts, err := s.UnitCounts(ctx, duban.ReportQuery{Period: month, Now: day(29, 0)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][3]int{}
	for _, r := range counts {
		got[r.Unit] = [3]int{r.Dispatched, r.Recurrences, r.Listed}
	}
	if w := map[string][3]int{"market-supervision": {10, 2, 1}, "sanitation": {5, 1, 0}}; !reflect.DeepEqual(got, w) {
		t.Errorf("dispatched, recurrences, listed by unit: %v, want %v", got, w)
	}
	for _, figure := range []struct {
		name string
		n    int
	}{{"recurrences", 2}, {"listed", 1}} {
		ids, err := s.FigureCases(ctx, duban.ReportQuery{Period: month, Now: day(29, 0), Unit: "market-supervision"}, figure.name)
		if err != nil || len(ids) != figure.n {
			t.Errorf("market-supervision's %s opens %v, %v; want %d cases", figure.name, ids, err, figure.n)
		}
	}

	// The lists of what was found.
	yes := true
	for _, tc := range []struct {
		f    duban.CaseFilter
		want int
	}{
		{duban.CaseFilter{Site: "M1", Item: "market-scale"}, 3},
		{duban.CaseFilter{Listed: &yes}, 1},
		{duban.CaseFilter{Round: "week-3"}, 2},
		{duban.CaseFilter{Site: "M3"}, 6},
		{duban.CaseFilter{Item: "bs-clean", Unit: "sanitation"}, 2},
	} {
		listed, _, err := s.Cases(ctx, tc.f)
		if err != nil || len(listed) != tc.want {
			t.Errorf("cases %+v: %d, %v; want %d", tc.f, len(listed), err, tc.want)
		}
	}
	// A site retired leaves the coverage: three toilets, three inspected.
	retire := policy.ResolveSite(duban.SiteCommand{By: admin, Kind: duban.RetireSite, SiteID: "W4"})
	w4, _ := s.Site(ctx, "W4")
	if err := s.AppendSite(ctx, w4, must(duban.DecideSite(w4, retire, day(20, 0)))); err != nil {
		t.Fatal(err)
	}
	for _, r := range policy.SiteRows(must(s.SiteCounts(ctx, q)), q) {
		if r.Type == "toilet" && (r.Sites != 3 || r.Inspected != 3 || *r.CoverageRate != 1 || r.Inspections != 8) {
			t.Errorf("the toilets with W4 retired: %s", jsonOf(r))
		}
	}
	listed, _, _ := s.Cases(ctx, duban.CaseFilter{Listed: &yes})
	if row, _ := s.Case(ctx, listed[0].ID); row.Case.Found == nil || row.Case.Found.Site != "M1" || row.Case.Found.Recurrence != 3 {
		t.Errorf("the listed case: %+v", row.Case.Found)
	}
}

// siteWorker plays rounds and inspections as the application layer does:
// decided by the domain, recorded in the store, each failure's case
// opened on the case as the store holds it.
type siteWorker struct {
	t      *testing.T
	s      Store
	w      *writer
	policy *duban.Policy
	cases  int
	// recorded are the inspections recorded, in order.
	recorded []duban.SiteInspection
}

func newSiteWorker(t *testing.T, s Store) *siteWorker {
	return &siteWorker{t: t, s: s, w: &writer{t: t, s: s}, policy: duban.DefaultPolicy()}
}

// register adds a site of typ, answered for by unit, in area.
func (sw *siteWorker) register(id, typ, unit, area string) {
	sw.t.Helper()
	cmd := sw.policy.ResolveSite(duban.SiteCommand{By: admin, Kind: duban.RegisterSite, SiteID: id, Fields: duban.SiteFields{
		Name: id, Type: typ, Area: area, Unit: unit, Location: duban.Location{Lat: 39.86, Lon: 111.23}}})
	events, err := duban.DecideSite(duban.Site{}, cmd, t0.Add(-time.Hour))
	if err != nil {
		sw.t.Fatal(err)
	}
	if err := sw.s.AppendSite(context.Background(), duban.Site{}, events); err != nil {
		sw.t.Fatal(err)
	}
}

// plan plans round id at at: every site of types (every type when none),
// for inspector-1.
func (sw *siteWorker) plan(id string, at time.Time, types ...string) {
	sw.t.Helper()
	ctx := context.Background()
	sites, _, err := sw.s.Sites(ctx, duban.SiteFilter{Limit: 1000})
	if err != nil {
		sw.t.Fatal(err)
	}
	r, err := duban.DecideRound(sw.policy.ResolveRound(duban.PlanRound{By: duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor},
		RoundID: id, Name: id, SiteTypes: types, DueBy: at.Add(72 * time.Hour), Inspectors: []string{"inspector-1"}, Seed: 1, Sites: sites}), at)
	if err != nil {
		sw.t.Fatal(err)
	}
	if _, _, err := sw.s.RecordRound(ctx, r); err != nil {
		sw.t.Fatal(err)
	}
}

// inspect inspects site id in round at at, the items failed failing.
func (sw *siteWorker) inspect(round, id string, at time.Time, failed ...string) duban.SiteInspection {
	sw.t.Helper()
	ctx := context.Background()
	r, err := sw.s.Round(ctx, round)
	if err != nil {
		sw.t.Fatal(err)
	}
	site, err := sw.s.Site(ctx, id)
	if err != nil {
		sw.t.Fatal(err)
	}
	typ, _ := sw.policy.SiteType(site.Type)
	var items []duban.ItemAnswer
	for _, it := range typ.Items {
		a := duban.ItemAnswer{Item: it.Code, Result: duban.ResultPass}
		if slices.Contains(failed, it.Code) {
			a.Result = duban.ResultFail
		}
		items = append(items, a)
	}
	in, found, err := duban.DecideInspection(sw.policy.ResolveInspection(duban.InspectSite{By: inspector, At: at,
		Location: site.Location, Items: items, Round: &r, Site: site}), at)
	if err != nil {
		sw.t.Fatalf("%s in %s: %v", id, round, err)
	}
	in.Cases = []string{}
	for _, item := range found {
		last, err := sw.s.LastFinding(ctx, id, item.Code, "")
		if err != nil {
			sw.t.Fatal(err)
		}
		open := sw.policy.Resolve(in.FindingCase(inspector, site, item, last)).(duban.OpenCase)
		sw.cases++
		open.CaseID, open.RequestHash = fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", 900+sw.cases), "h"
		sw.w.do(open.CaseID, open, at, "open")
		in.Cases = append(in.Cases, open.CaseID)
	}
	if _, _, err := sw.s.RecordInspection(ctx, in); err != nil {
		sw.t.Fatal(err)
	}
	sw.recorded = append(sw.recorded, in)
	return in
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
