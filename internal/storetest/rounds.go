package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/duban/duban"
)

// testRounds records a round and its inspections, and finds the last case
// of an item at a site, as the application layer does.
func testRounds(t *testing.T, s Store) {
	ctx := context.Background()
	var sites []duban.Site
	for i := range 4 {
		sites = append(sites, duban.Site{ID: fmt.Sprintf("NM-%03d", i+1), Active: true,
			SiteFields: duban.SiteFields{Name: "market", Type: "market", Area: "old-town", Unit: "sanitation", Location: duban.Location{Lat: 39.9, Lon: 116.4}}})
	}
	plan := func(id string, inspectors ...string) duban.Round {
		t.Helper()
		r, err := duban.DecideRound(duban.PlanRound{By: supervisor, RoundID: id, Name: "week 49", DueBy: t0.Add(72 * time.Hour),
			Inspectors: inspectors, Seed: 1, Sites: sites, Types: []string{"market"}, KnownInspectors: []string{"inspector-1", "inspector-2"}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r1 := plan("round-1", "inspector-1", "inspector-2")
	stored, created, err := s.RecordRound(ctx, r1)
	if err != nil || !created || !reflect.DeepEqual(stored, r1) {
		t.Fatalf("record: created %v, %v\n got %+v\nwant %+v", created, err, stored, r1)
	}
	again := r1
	again.Name = "another"
	if stored, created, err := s.RecordRound(ctx, again); err != nil || created || stored.Name != "week 49" {
		t.Fatalf("recorded again: created %v, name %q, %v; want the first left as it was", created, stored.Name, err)
	}
	r2 := plan("round-2", "inspector-2")
	r2.PlannedAt = t0.Add(time.Hour)
	if _, _, err := s.RecordRound(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Round(ctx, "round-3"); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("a round not there: %v", err)
	}
	for _, tc := range []struct {
		inspector string
		want      []string
	}{{"", []string{"round-2", "round-1"}}, {"inspector-1", []string{"round-1"}}, {"inspector-2", []string{"round-2", "round-1"}}, {"inspector-3", nil}} {
		rounds, err := s.Rounds(ctx, tc.inspector, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rounds {
			got = append(got, r.ID)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("rounds of %q: %v, want %v", tc.inspector, got, tc.want)
		}
	}
	if rounds, _ := s.Rounds(ctx, "", 1); len(rounds) != 1 || rounds[0].ID != "round-2" {
		t.Errorf("the latest round, limit 1: %v", rounds)
	}

	// The ladder's steps: each level once, read back with the round.
	step := duban.RoundStep{Round: "round-1", Level: 1, DueAt: t0.Add(72 * time.Hour), RecordedAt: t0.Add(72*time.Hour + time.Second), Left: []string{"NM-001", "NM-002"}}
	warn := duban.RoundStep{Round: "round-1", Level: 0, DueAt: t0.Add(54 * time.Hour), RecordedAt: t0.Add(54 * time.Hour), Left: []string{"NM-001", "NM-002", "NM-003"}}
	for _, st := range []duban.RoundStep{step, warn} {
		if recorded, err := s.RecordRoundStep(ctx, st); err != nil || !recorded {
			t.Fatalf("record step %d: %v, %v", st.Level, recorded, err)
		}
	}
	if recorded, err := s.RecordRoundStep(ctx, step); err != nil || recorded {
		t.Fatalf("a step again: recorded %v, %v", recorded, err)
	}
	if r, _ := s.Round(ctx, "round-1"); !reflect.DeepEqual(r.Steps, []duban.RoundStep{warn, step}) || r.EscalationLevel != 1 {
		t.Fatalf("steps read back %+v, level %d", r.Steps, r.EscalationLevel)
	}

	// Inspections: once per site and round; the round is done when every
	// site is.
	if in, err := s.Inspection(ctx, "round-1", "NM-001"); err != nil || in != nil {
		t.Fatalf("no inspection yet: %v, %v", in, err)
	}
	inspect := func(site string, score int) duban.SiteInspection {
		return duban.SiteInspection{Round: "round-1", Site: site, Type: "market", Unit: "sanitation", Area: "old-town", Inspector: "inspector-1",
			At: t0.Add(2 * time.Hour), Location: duban.Location{Lat: 39.9, Lon: 116.4}, Items: []duban.ItemAnswer{{Item: "market-scale", Result: duban.ResultFail}},
			Score: score, Passed: score >= 85, Cases: []string{}, RecordedAt: t0.Add(3 * time.Hour), RequestHash: "h"}
	}
	first := inspect("NM-001", 98)
	if got, created, err := s.RecordInspection(ctx, first); err != nil || !created || !reflect.DeepEqual(got, first) {
		t.Fatalf("record inspection: created %v, %v, %+v", created, err, got)
	}
	if got, created, err := s.RecordInspection(ctx, inspect("NM-001", 50)); err != nil || created || got.Score != 98 {
		t.Fatalf("a second inspection of the site: created %v, score %d, %v; want the first answered", created, got.Score, err)
	}
	if got, err := s.Inspection(ctx, "round-1", "NM-001"); err != nil || got == nil || !reflect.DeepEqual(*got, first) {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	r, _ := s.Round(ctx, "round-1")
	if site, _ := r.Site("NM-001"); !site.Inspected || r.Status != duban.RoundStatusOpen {
		t.Fatalf("after one inspection: %+v", r)
	}
	for _, site := range []string{"NM-002", "NM-003", "NM-004"} {
		if _, _, err := s.RecordInspection(ctx, inspect(site, 90)); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := s.Round(ctx, "round-1"); r.Status != duban.RoundStatusDone {
		t.Fatalf("every site inspected: status %s", r.Status)
	}

	// The site report counts them by type; a site's inspections list.
	period := duban.Period{From: t0, To: t0.Add(24 * time.Hour)}
	counted, err := s.SiteCounts(ctx, duban.SiteReportQuery{Period: period})
	// (These sites are not registered: none counts for coverage.)
	want := []duban.SiteTypeRow{{Type: "market", Inspected: 0, Inspections: 4, Passed: 4, ScoreSum: 98 + 3*90,
		Items: []duban.ItemCount{{Item: "market-scale", Failed: 4}}}}
	if err != nil || !reflect.DeepEqual(counted, want) {
		t.Fatalf("site counts: %+v, %v; want %+v", counted, err, want)
	}
	for _, q := range []duban.SiteReportQuery{
		{Period: period, Unit: "traffic-police"},
		{Period: period, Type: "toilet"},
		{Period: duban.Period{From: t0.Add(3 * time.Hour), To: t0.Add(24 * time.Hour)}},
	} {
		if counted, err := s.SiteCounts(ctx, q); err != nil || len(counted) != 0 {
			t.Errorf("site counts %+v: %+v, %v; want none", q, counted, err)
		}
	}
	scores, err := s.SiteScores(ctx, duban.SiteReportQuery{Period: period})
	worst := duban.WorstSites(scores, 2)
	if err != nil || len(scores) != 4 || len(worst) != 2 || worst[0].Site != "NM-002" || *worst[0].MeanScore != 90 || worst[0].Failed != 1 {
		t.Fatalf("site scores: %+v, worst %+v, %v", scores, worst, err)
	}
	if ins, err := s.Inspections(ctx, "NM-001", period.From, period.To); err != nil || len(ins) != 1 || ins[0].Score != 98 {
		t.Fatalf("NM-001's inspections: %+v, %v", ins, err)
	}

	// The last case of an item at a site: the latest opened, but the one
	// asked about and those found to be nothing.
	w := &writer{t: t, s: s}
	openFound := func(at time.Time, site, item string, last *duban.LastFinding) string {
		w.n++
		id := fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", w.n)
		w.do(id, duban.OpenCase{
			CommandMeta: duban.CommandMeta{By: inspector}, CaseID: id, Category: "market-order", Severity: duban.SeverityNormal,
			Description: "no fair scale", Location: duban.Location{Lat: 39.9, Lon: 116.4}, Unit: "sanitation", Terms: terms, RequestHash: "h",
			Finding: &duban.Finding{Site: site, Item: item, Round: "round-1", Last: last, Recurrence: duban.Recurrence{Window: 30 * 24 * time.Hour, ListAt: 3}},
		}, at, "open")
		return id
	}
	if last, err := s.LastFinding(ctx, "NM-001", "market-scale", ""); err != nil || last != nil {
		t.Fatalf("no case yet: %+v, %v", last, err)
	}
	a := openFound(t0, "NM-001", "market-scale", nil)
	openFound(t0.Add(time.Hour), "NM-002", "market-scale", nil)
	openFound(t0.Add(time.Hour), "NM-001", "market-ads", nil)
	b := openFound(t0.Add(24*time.Hour), "NM-001", "market-scale", &duban.LastFinding{Case: a, OpenedAt: t0, Recurrence: 1})
	last, err := s.LastFinding(ctx, "NM-001", "market-scale", "")
	if want := (&duban.LastFinding{Case: b, OpenedAt: t0.Add(24 * time.Hour), Recurrence: 2}); err != nil || !reflect.DeepEqual(last, want) {
		t.Fatalf("last finding: %+v, %v; want %+v", last, err, want)
	}
	if last, _ := s.LastFinding(ctx, "NM-001", "market-scale", b); last == nil || last.Case != a {
		t.Fatalf("the last but b: %+v, want %s", last, a)
	}
	w.do(b, duban.Cancel{CommandMeta: duban.CommandMeta{By: supervisor}, Reason: "the scale was there", Outcome: duban.OutcomeInvalid}, t0.Add(25*time.Hour), "cancel")
	if last, _ := s.LastFinding(ctx, "NM-001", "market-scale", ""); last == nil || last.Case != a {
		t.Fatalf("b cancelled as invalid: last %+v, want %s", last, a)
	}
	// A listed case reads listed in lists too.
	c := openFound(t0.Add(48*time.Hour), "NM-001", "market-ads", &duban.LastFinding{OpenedAt: t0.Add(47 * time.Hour), Recurrence: 2})
	row, err := s.Case(ctx, c)
	if err != nil || !row.Case.Listed || row.Case.Found.Recurrence != 3 {
		t.Fatalf("a third recurrence: listed %v, found %+v, %v", row.Case.Listed, row.Case.Found, err)
	}
	// Lists keep the cases found at a site, of an item, in a round, listed.
	yes := true
	for _, tc := range []struct {
		f    duban.CaseFilter
		want []string
	}{
		{duban.CaseFilter{Site: "NM-001", Item: "market-scale"}, []string{b, a}},
		{duban.CaseFilter{Site: "NM-001"}, []string{c, b, "0194f2a0-0000-7000-8000-000000000003", a}},
		{duban.CaseFilter{Round: "round-1", Item: "market-ads"}, []string{c, "0194f2a0-0000-7000-8000-000000000003"}},
		{duban.CaseFilter{Round: "round-9"}, nil},
		{duban.CaseFilter{Listed: &yes}, []string{c}},
	} {
		got, _, err := s.Cases(ctx, tc.f)
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("cases %+v: %v, %v; want %v", tc.f, ids(got), err, tc.want)
		}
	}
}
