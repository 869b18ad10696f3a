package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/duban/duban"
)

// testSiteMonthNaive plays two random months of rounds over 30 sites of
// three types, in two areas, for three units, and checks the site report
// for several queries, and each case's recurrence and listing, against a
// naive walk over what was inspected that follows SPEC.md's words and
// shares no code with the store's counts or the policy's rows.
func testSiteMonthNaive(t *testing.T, s Store) {
	ctx := context.Background()
	sw := newSiteWorker(t, s)
	rng := rand.New(rand.NewPCG(28, 1205))
	types := []string{"market", "back-street", "toilet"}
	units := []string{"sanitation", "market-supervision", "urban-management"}
	type siteOf struct{ typ, unit, area string }
	sites := map[string]siteOf{}
	for i := range 30 {
		id := fmt.Sprintf("S%02d", i)
		sites[id] = siteOf{types[i%3], units[rng.IntN(3)], []string{"old-town", "riverside"}[rng.IntN(2)]}
		sw.register(id, sites[id].typ, sites[id].unit, sites[id].area)
	}
	ids := make([]string, 0, len(sites))
	for id := range sites {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for k := range 8 {
		at := t0.Add(time.Duration(k) * 7 * 24 * time.Hour)
		round := fmt.Sprintf("round-%d", k)
		sw.plan(round, at)
		for _, id := range ids {
			if rng.IntN(4) == 0 {
				continue // left uninspected
			}
			typ, _ := sw.policy.SiteType(sites[id].typ)
			var failed []string
			for _, it := range typ.Items {
				if rng.IntN(6) == 0 {
					failed = append(failed, it.Code)
				}
			}
			sw.inspect(round, id, at.Add(time.Duration(1+rng.IntN(48))*time.Hour), failed...)
		}
	}
	if sw.cases < 50 {
		t.Fatalf("the months opened only %d cases: too thin to compare", sw.cases)
	}

	// "A site inspection's score is 100 less the points of its failed items,
	// floor 0; it passes at pass_score. Per site type: its active sites,
	// those inspected (distinct), coverage, the inspections, their mean
	// score and pass rate, the items failed most."
	points := map[string]int{}
	for _, st := range sw.policy.SiteTypes {
		for _, it := range st.Items {
			points[it.Code] = it.Points
		}
	}
	round4 := func(n, d int) *float64 {
		if d == 0 {
			return nil
		}
		v := math.Round(float64(n)/float64(d)*1e4) / 1e4
		return &v
	}
	for _, q := range []duban.SiteReportQuery{
		{Period: duban.Period{From: t0, To: t0.Add(60 * 24 * time.Hour)}},
		{Period: duban.Period{From: t0.Add(14 * 24 * time.Hour), To: t0.Add(35 * 24 * time.Hour)}},
		{Period: duban.Period{From: t0, To: t0.Add(60 * 24 * time.Hour)}, Type: "toilet"},
		{Period: duban.Period{From: t0, To: t0.Add(60 * 24 * time.Hour)}, Unit: "sanitation", Area: "riverside"},
	} {
		rows := sw.policy.SiteRows(must(s.SiteCounts(ctx, q)), q)
		for _, typ := range types {
			if q.Type != "" && typ != q.Type {
				continue
			}
			var want struct {
				sites, inspected, inspections, passed, sum int
				failed                                     map[string]int
			}
			want.failed = map[string]int{}
			seen := map[string]bool{}
			for _, site := range sites {
				if site.typ == typ && (q.Unit == "" || site.unit == q.Unit) && (q.Area == "" || site.area == q.Area) {
					want.sites++
				}
			}
			for _, in := range sw.recorded {
				site := sites[in.Site]
				if site.typ != typ || in.At.Before(q.From) || !in.At.Before(q.To) || q.Unit != "" && site.unit != q.Unit || q.Area != "" && site.area != q.Area {
					continue
				}
				score := 100
				for _, a := range in.Items {
					if a.Result == duban.ResultFail {
						score -= points[a.Item]
						want.failed[a.Item]++
					}
				}
				score = max(score, 0)
				want.inspections++
				want.sum += score
				if score >= sw.policy.Inspection.PassScore {
					want.passed++
				}
				if !seen[in.Site] {
					seen[in.Site] = true
					want.inspected++
				}
			}
			var row duban.SiteTypeRow
			for _, r := range rows {
				if r.Type == typ {
					row = r
				}
			}
			var mean *float64
			if want.inspections > 0 {
				v := math.Round(float64(want.sum)/float64(want.inspections)*10) / 10
				mean = &v
			}
			type kv struct {
				item string
				n    int
			}
			var most []kv
			for item, n := range want.failed {
				most = append(most, kv{item, n})
			}
			sort.Slice(most, func(i, j int) bool {
				return most[i].n > most[j].n || most[i].n == most[j].n && most[i].item < most[j].item
			})
			if len(most) > 5 {
				most = most[:5]
			}
			var gotMost []kv
			for _, it := range row.Items {
				gotMost = append(gotMost, kv{it.Item, it.Failed})
			}
			if row.Sites != want.sites || row.Inspected != want.inspected || row.Inspections != want.inspections || row.Passed != want.passed ||
				!equalRate(row.MeanScore, mean) || !equalRate(row.PassRate, round4(want.passed, want.inspections)) ||
				!equalRate(row.CoverageRate, round4(want.inspected, want.sites)) || !slices.Equal(gotMost, most) {
				t.Errorf("%+v, %s: the store's row %s, the naive walk's %+v (mean %v, most %v)", q, typ, jsonOf(row), want, fmtRate(mean), most)
			}
		}
	}

	// "A failure of the same item at the same site within the window of the
	// last case for it opens a case with recurrence n; at list_at it opens
	// listed."
	type found struct {
		id string
		at time.Time
	}
	bySiteItem := map[string][]found{}
	for _, in := range sw.recorded {
		for i, id := range in.Cases {
			key := in.Site + "/" + in.Failed()[i]
			bySiteItem[key] = append(bySiteItem[key], found{id, in.RecordedAt})
		}
	}
	window, listAt := sw.policy.Inspection.Recurrence.Window, sw.policy.Inspection.Recurrence.ListAt
	recurred := 0
	for key, cases := range bySiteItem {
		sort.Slice(cases, func(i, j int) bool { return cases[i].at.Before(cases[j].at) })
		n := 0
		for i, c := range cases {
			if i > 0 && c.at.Sub(cases[i-1].at) <= window {
				n++
			} else {
				n = 1
			}
			row, err := s.Case(ctx, c.id)
			if err != nil {
				t.Fatal(err)
			}
			if row.Case.Found == nil || row.Case.Found.Recurrence != n || row.Case.Listed != (n >= listAt) {
				t.Errorf("%s, case %d: found %+v listed %v, want recurrence %d", key, i+1, row.Case.Found, row.Case.Listed, n)
			}
			if n > 1 {
				recurred++
			}
		}
	}
	if recurred == 0 {
		t.Fatal("no failure recurred: the months are too thin to compare")
	}
}

func equalRate(a, b *float64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func fmtRate(v *float64) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}
