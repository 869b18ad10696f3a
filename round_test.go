package duban_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/duban/duban"
)

func sitesOf(types map[string]int) []duban.Site {
	var out []duban.Site
	for typ, n := range types {
		for i := range n {
			out = append(out, duban.Site{ID: fmt.Sprintf("%s-%02d", typ, i), Active: true,
				SiteFields: duban.SiteFields{Name: typ, Type: typ, Area: []string{"east", "west"}[i%2], Location: duban.Location{Lat: 39.8, Lon: 111.2}}})
		}
	}
	return out
}

func countTypes(sites []duban.Site) map[string]int {
	m := map[string]int{}
	for _, s := range sites {
		m[s.Type]++
	}
	return m
}

// TestDrawSites: a sample is stratified by type in proportion, the
// remainders to the largest fractions; the same seed draws the same
// sites whatever their order, another seed others.
func TestDrawSites(t *testing.T) {
	sites := sitesOf(map[string]int{"market": 6, "street": 3, "toilet": 1})
	if got := duban.DrawSites(sites, 0, 7); len(got) != 10 {
		t.Fatalf("sample 0 drew %d of 10, want all", len(got))
	}
	drawn := duban.DrawSites(sites, 5, 7)
	// 5 of 10: market 6 → 3, street 3 → 1.5, toilet 1 → 0.5; the one left
	// goes to the tie first by code, street.
	if got, want := countTypes(drawn), map[string]int{"market": 3, "street": 2}; !reflect.DeepEqual(got, want) {
		t.Fatalf("drew %v, want %v", got, want)
	}
	reversed := slices.Clone(sites)
	slices.Reverse(reversed)
	if again := duban.DrawSites(reversed, 5, 7); !reflect.DeepEqual(again, drawn) {
		t.Fatalf("the same seed drew %v, then %v", drawn, again)
	}
	differs := false
	for seed := int64(8); seed < 18 && !differs; seed++ {
		differs = !reflect.DeepEqual(duban.DrawSites(sites, 5, seed), drawn)
	}
	if !differs {
		t.Fatal("ten other seeds all drew the same sites")
	}
}

func planRound() duban.PlanRound {
	return duban.PlanRound{
		By: supervisor, RoundID: "r1", Name: "第49周 明查", DueBy: t0.Add(72 * time.Hour), Inspectors: []string{"inspector-1", "inspector-2"},
		Seed: 42, Sites: sitesOf(map[string]int{"market": 4, "street": 3}),
		Types: []string{"market", "street", "toilet"}, KnownAreas: []string{"east", "west"}, KnownInspectors: []string{"inspector-1", "inspector-2", "inspector-3"},
	}
}

func TestDecideRound(t *testing.T) {
	r, err := duban.DecideRound(planRound(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != duban.RoundOpen || r.Status != duban.RoundStatusOpen || r.DrawnFrom != 7 || len(r.Sites) != 7 || r.PlannedBy != "supervisor-1" {
		t.Fatalf("round %+v", r)
	}
	per := map[string]int{}
	for i, s := range r.Sites {
		per[s.Inspector]++
		if i > 0 && s.Area < r.Sites[i-1].Area {
			t.Fatalf("sites not in runs by area: %v", r.Sites)
		}
	}
	if per["inspector-1"] != 4 || per["inspector-2"] != 3 {
		t.Fatalf("shared %v, want 4 and 3", per)
	}

	refused := []struct {
		name  string
		edit  func(*duban.PlanRound)
		code  string
		field string
	}{
		{"a unit", func(c *duban.PlanRound) { c.By = sanitation }, duban.EFORBIDDEN, ""},
		{"an inspector", func(c *duban.PlanRound) { c.By = inspector }, duban.EFORBIDDEN, ""},
		{"no name", func(c *duban.PlanRound) { c.Name = " " }, duban.EINVALID, "name"},
		{"a kind", func(c *duban.PlanRound) { c.Kind = "surprise" }, duban.EINVALID, "kind"},
		{"a type", func(c *duban.PlanRound) { c.SiteTypes = []string{"market", "zoo"} }, duban.EINVALID, "site_types[1]"},
		{"an area", func(c *duban.PlanRound) { c.Areas = []string{"north"} }, duban.EINVALID, "areas[0]"},
		{"a past due_by", func(c *duban.PlanRound) { c.DueBy = t0.Add(-time.Minute) }, duban.EINVALID, "due_by"},
		{"no inspectors", func(c *duban.PlanRound) { c.Inspectors = nil }, duban.EINVALID, "inspectors"},
		{"a stranger", func(c *duban.PlanRound) { c.Inspectors = []string{"inspector-1", "supervisor-1"} }, duban.EINVALID, "inspectors[1]"},
		{"twice", func(c *duban.PlanRound) { c.Inspectors = []string{"inspector-1", "inspector-1"} }, duban.EINVALID, "inspectors[1]"},
		{"no site", func(c *duban.PlanRound) { c.SiteTypes = []string{"toilet"} }, duban.ECONFLICT, ""},
	}
	for _, tc := range refused {
		cmd := planRound()
		tc.edit(&cmd)
		_, err := duban.DecideRound(cmd, t0)
		refusedAs(t, tc.name, err, tc.code, tc.field)
	}
}

func marketType() duban.SiteType {
	return duban.SiteType{Code: "market", Items: []duban.StandardItem{
		{Code: "market-ads", Category: "damaged-ads", Points: 4},
		{Code: "market-scale", Category: "market-order", Points: 2},
		{Code: "market-litter", Category: "littering", Points: 10},
	}}
}

func TestDecideInspection(t *testing.T) {
	r, err := duban.DecideRound(planRound(), t0)
	if err != nil {
		t.Fatal(err)
	}
	entry := r.Sites[0] // market-00, east, inspector-1
	site := duban.Site{ID: entry.Site, Active: true, SiteFields: duban.SiteFields{Name: "东关市场", Type: "market", Area: "east", Unit: "sanitation", Location: duban.Location{Lat: 39.8, Lon: 111.2}}}
	answers := func(results ...duban.ItemResult) []duban.ItemAnswer {
		var out []duban.ItemAnswer
		for i, item := range marketType().Items {
			out = append(out, duban.ItemAnswer{Item: item.Code, Result: results[i]})
		}
		return out
	}
	cmd := func(items []duban.ItemAnswer) duban.InspectSite {
		return duban.InspectSite{By: inspector, At: t0.Add(time.Hour), Location: duban.Location{Lat: 39.8001, Lon: 111.2001},
			Items: items, Round: &r, Site: site, Type: marketType(), PassScore: 90}
	}
	now := t0.Add(2 * time.Hour)
	in, failed, err := duban.DecideInspection(cmd(answers(duban.ResultFail, duban.ResultFail, duban.ResultNA)), now)
	if err != nil {
		t.Fatal(err)
	}
	if in.Score != 94 || !in.Passed || len(failed) != 2 || failed[0].Code != "market-ads" || in.Unit != "sanitation" || !in.RecordedAt.Equal(now) {
		t.Fatalf("inspection %+v, failed %v", in, failed)
	}
	if in, _, _ := duban.DecideInspection(cmd(answers(duban.ResultFail, duban.ResultFail, duban.ResultFail)), now); in.Score != 84 || in.Passed {
		t.Fatalf("three failures: score %d passed %v, want 84 and not passed", in.Score, in.Passed)
	}
	heavy := cmd(answers(duban.ResultFail, duban.ResultFail, duban.ResultFail))
	heavy.Type.Items[2].Points = 100
	if in, _, _ := duban.DecideInspection(heavy, now); in.Score != 0 {
		t.Fatalf("a score below 0 reads %d, want 0", in.Score)
	}

	// The same inspection synced again is the one recorded; another is refused.
	again := cmd(answers(duban.ResultFail, duban.ResultFail, duban.ResultNA))
	again.Done = &in
	if got, failed, err := duban.DecideInspection(again, now.Add(time.Hour)); err != nil || failed != nil || !reflect.DeepEqual(got, in) {
		t.Fatalf("a repeat: %v, %v, %+v", err, failed, got)
	}
	other := cmd(answers(duban.ResultPass, duban.ResultPass, duban.ResultPass))
	other.Done = &in
	if _, _, err := duban.DecideInspection(other, now); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("a second inspection: %v, want conflict", err)
	}

	refused := []struct {
		name  string
		edit  func(*duban.InspectSite)
		code  string
		field string
	}{
		{"no round", func(c *duban.InspectSite) { c.Round = nil }, duban.ENOTFOUND, ""},
		{"a unit", func(c *duban.InspectSite) { c.By = sanitation }, duban.EFORBIDDEN, ""},
		{"a site not drawn", func(c *duban.InspectSite) { c.Site.ID = "zoo-1" }, duban.ENOTFOUND, ""},
		{"another inspector", func(c *duban.InspectSite) { c.By = duban.Principal{ID: "inspector-2", Role: duban.RoleInspector} }, duban.EFORBIDDEN, ""},
		{"a supervisor", func(c *duban.InspectSite) { c.By = supervisor }, duban.EFORBIDDEN, ""},
		{"no time", func(c *duban.InspectSite) { c.At = time.Time{} }, duban.EINVALID, "at"},
		{"a future time", func(c *duban.InspectSite) { c.At = now.Add(time.Hour) }, duban.EINVALID, "at"},
		{"before the plan", func(c *duban.InspectSite) { c.At = t0.Add(-time.Hour) }, duban.EINVALID, "at"},
		{"no location", func(c *duban.InspectSite) { c.Location = duban.Location{} }, duban.EINVALID, "location"},
		{"an item missing", func(c *duban.InspectSite) { c.Items = c.Items[:2] }, duban.EINVALID, "items"},
		{"an unknown item", func(c *duban.InspectSite) { c.Items[1].Item = "zoo-gate" }, duban.EINVALID, ""},
		{"an item twice", func(c *duban.InspectSite) { c.Items = append(c.Items, c.Items[0]) }, duban.EINVALID, "items[3].item"},
		{"a result", func(c *duban.InspectSite) { c.Items[0].Result = "meh" }, duban.EINVALID, "items[0].result"},
	}
	for _, tc := range refused {
		c := cmd(answers(duban.ResultPass, duban.ResultPass, duban.ResultPass))
		tc.edit(&c)
		_, _, err := duban.DecideInspection(c, now)
		refusedAs(t, tc.name, err, tc.code, tc.field)
	}
}

// TestFindingCase: a failed item opens a case of its category at the
// site, for the site's unit, with the item's note and photos.
func TestFindingCase(t *testing.T) {
	in := duban.SiteInspection{Round: "r1", Site: "NM-001", Location: duban.Location{Lat: 39.81, Lon: 111.21},
		Items: []duban.ItemAnswer{{Item: "market-scale", Result: duban.ResultFail, Note: "秤坏了", Evidence: []duban.Evidence{{Attachment: "sha256:" + fmt.Sprintf("%064x", 1), Kind: "photo"}}}}}
	site := duban.Site{ID: "NM-001", SiteFields: duban.SiteFields{Name: "东关市场", Type: "market", Area: "old-town", Unit: "market-supervision"}}
	item := duban.StandardItem{Code: "market-scale", Name: duban.Names{Zh: "设置公平秤", En: "A fair scale"}, Category: "market-order", Points: 2}
	open := in.FindingCase(inspector, site, item, nil)
	if open.Category != "market-order" || open.Description != "东关市场：设置公平秤。秤坏了" || open.Location.Area != "old-town" ||
		open.Location.Lat != 39.81 || len(open.Evidence) != 1 || open.Finding.Unit != "market-supervision" || open.Finding.Round != "r1" {
		t.Fatalf("open %+v, finding %+v", open, open.Finding)
	}
}

// TestRoundLadder: a round warns and escalates around its due time while
// sites are left, each step once; a round done takes none.
func TestRoundLadder(t *testing.T) {
	cmd := planRound()
	cmd.Ladder = terms().Ladder // warn at -25%, escalate at 0, 4h, 24h
	r, err := duban.DecideRound(cmd, t0)
	if err != nil {
		t.Fatal(err)
	}
	due := r.Due()
	want := []duban.StepAt{{Level: 0, At: t0.Add(54 * time.Hour)}, {Level: 1, At: t0.Add(72 * time.Hour)}, {Level: 2, At: t0.Add(76 * time.Hour)}, {Level: 3, At: t0.Add(96 * time.Hour)}}
	if !reflect.DeepEqual(due, want) {
		t.Fatalf("due %v, want %v", due, want)
	}
	if _, ok := r.Step(0, t0.Add(53*time.Hour)); ok {
		t.Fatal("a warning taken before it is due")
	}
	r.Sites[0].Inspected = true
	r.Settle()
	step, ok := r.Step(0, t0.Add(55*time.Hour))
	if !ok || step.Level != 0 || !step.DueAt.Equal(want[0].At) || len(step.Left) != len(r.Sites)-1 || slices.Contains(step.Left, r.Sites[0].Site) {
		t.Fatalf("the warning: %+v, %v", step, ok)
	}
	r.Steps = append(r.Steps, step)
	if _, ok := r.Step(0, t0.Add(56*time.Hour)); ok {
		t.Fatal("the warning taken twice")
	}
	step, _ = r.Step(2, t0.Add(80*time.Hour))
	r.Steps = append(r.Steps, step)
	r.Settle()
	if r.EscalationLevel != 2 {
		t.Fatalf("escalation level %d, want 2", r.EscalationLevel)
	}
	for i := range r.Sites {
		r.Sites[i].Inspected = true
	}
	r.Settle()
	if _, ok := r.Step(3, t0.Add(100*time.Hour)); ok || r.Status != duban.RoundStatusDone {
		t.Fatalf("a round done took a step (status %s)", r.Status)
	}
}

// refusedAs checks that err is a refusal with code, naming field alone
// when field is given.
func refusedAs(t *testing.T, name string, err error, code, field string) {
	t.Helper()
	var e *duban.Error
	if !asError(err, &e) || e.Code != code {
		t.Errorf("%s: %v, want %s", name, err, code)
		return
	}
	if field != "" && (len(e.Fields) != 1 || e.Fields[0].Field != field) {
		t.Errorf("%s: fields %v, want %s", name, e.Fields, field)
	}
}
