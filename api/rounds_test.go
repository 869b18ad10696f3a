package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/activities"
)

type wireRound struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Seed   int64  `json:"seed"`
	Sites  []struct {
		Site      string `json:"site"`
		Inspector string `json:"inspector"`
		Inspected bool   `json:"inspected"`
	} `json:"sites"`
}

type wireInspection struct {
	Round  string   `json:"round"`
	Site   string   `json:"site"`
	Score  int      `json:"score"`
	Passed bool     `json:"passed"`
	Cases  []string `json:"cases"`
}

// marketAnswers answers the default policy's market checklist: the items
// given fail, the others pass.
func marketAnswers(failed ...string) []map[string]any {
	var out []map[string]any
	for _, item := range []string{"market-ads", "market-scale", "market-zoning", "market-clean", "market-bins", "market-clutter", "market-smoking"} {
		a := map[string]any{"item": item, "result": "pass"}
		for _, f := range failed {
			if f == item {
				a["result"], a["note"] = "fail", "不达标"
			}
		}
		out = append(out, a)
	}
	return out
}

// A round planned by the office, inspected by the inspector it went to:
// each failure opens its case at the site, for the site's unit; the same
// inspection synced again is the one recorded; a failure that comes back
// counts on, and the third in a row opens listed.
func TestRoundsAndInspections(t *testing.T) {
	d := newDoor(t)
	d.call("POST", "/v1/sites", "dev-admin", marketSite("m-001")).Expect(t, 201, nil)
	plan := func() wireRound {
		t.Helper()
		var r wireRound
		res := d.call("POST", "/v1/rounds", "dev-supervisor", map[string]any{"name": "第49周 明查", "site_types": []string{"market"},
			"due_by": time.Now().Add(48 * time.Hour).Format(time.RFC3339), "inspectors": []string{"inspector-1"}})
		res.Expect(t, 201, &r)
		if r.Status != "open" || len(r.Sites) != 1 || r.Sites[0].Site != "m-001" || r.Sites[0].Inspector != "inspector-1" || res.Header.Get("Location") != "/v1/rounds/"+r.ID {
			t.Fatalf("planned %+v", r)
		}
		return r
	}
	inspect := func(r wireRound, failed ...string) map[string]any {
		return map[string]any{"at": time.Now().Add(-time.Minute).Format(time.RFC3339), "location": map[string]any{"lat": 39.8651, "lon": 111.2381},
			"items": marketAnswers(failed...)}
	}
	r := plan()
	path := "/v1/rounds/" + r.ID + "/sites/m-001/inspection"
	refused(t, d.call("POST", path, "dev-inspector-2", inspect(r)), 404, "", "") // not their round
	refused(t, d.call("POST", path, "dev-supervisor", inspect(r)), 403, "", "")
	refused(t, d.call("POST", path, "dev-sanitation", inspect(r)), 403, "", "")
	refused(t, d.call("GET", "/v1/rounds/"+r.ID, "dev-sanitation", nil), 403, "", "")
	refused(t, d.call("GET", "/v1/rounds", "dev-sanitation", nil), 403, "", "")
	refused(t, d.call("POST", path, "dev-inspector", map[string]any{"at": time.Now().Format(time.RFC3339), "location": map[string]any{"lat": 39.8, "lon": 111.2},
		"items": marketAnswers()[:3]}), 400, "items", "must answer every item of site type market")

	body := inspect(r, "market-scale", "market-clean")
	var in wireInspection
	d.call("POST", path, "dev-inspector", body).Expect(t, 201, &in)
	if in.Score != 95 || !in.Passed || len(in.Cases) != 2 {
		t.Fatalf("inspected %+v", in)
	}
	var again wireInspection
	d.call("POST", path, "dev-inspector", body).Expect(t, 200, &again)
	if again.Score != in.Score || len(again.Cases) != 2 || again.Cases[0] != in.Cases[0] {
		t.Fatalf("synced again: %+v, want %+v", again, in)
	}
	refused(t, d.call("POST", path, "dev-inspector", inspect(r)), 409, "", "")
	var got wireRound
	d.call("GET", "/v1/rounds/"+r.ID, "dev-inspector", nil).Expect(t, 200, &got)
	if got.Status != "done" || !got.Sites[0].Inspected {
		t.Fatalf("after its one site: %+v", got)
	}

	var c struct {
		Category   string  `json:"category"`
		Unit       *string `json:"unit"`
		Site       string  `json:"site"`
		Item       string  `json:"item"`
		Round      string  `json:"round"`
		Recurrence int     `json:"recurrence"`
		Listed     bool    `json:"listed"`
	}
	d.call("GET", "/v1/cases/"+in.Cases[0], "dev-supervisor", nil).Expect(t, 200, &c)
	if c.Category != "market-order" || c.Unit == nil || *c.Unit != "market-supervision" || c.Site != "m-001" || c.Item != "market-scale" ||
		c.Round != r.ID || c.Recurrence != 1 || c.Listed {
		t.Fatalf("the scale's case: %+v", c)
	}

	// The scale fails twice more: the third in a row opens listed.
	for n := 2; n <= 3; n++ {
		r := plan()
		d.call("POST", "/v1/rounds/"+r.ID+"/sites/m-001/inspection", "dev-inspector", inspect(r, "market-scale")).Expect(t, 201, &in)
		d.call("GET", "/v1/cases/"+in.Cases[0], "dev-supervisor", nil).Expect(t, 200, &c)
		if c.Recurrence != n || c.Listed != (n == 3) {
			t.Fatalf("failure %d: recurrence %d, listed %v", n, c.Recurrence, c.Listed)
		}
	}
	d.call("POST", "/v1/cases/"+in.Cases[0]+"/delist", "dev-supervisor", map[string]any{"reason": "整改方案已报"}).Expect(t, 200, &c)
	if c.Listed {
		t.Fatal("delisted, still listed")
	}
	refused(t, d.call("POST", "/v1/cases/"+in.Cases[0]+"/list", "dev-inspector", map[string]any{"reason": "x"}), 403, "", "")

	var list struct{ Items []wireRound }
	d.call("GET", "/v1/rounds", "dev-inspector", nil).Expect(t, 200, &list)
	if len(list.Items) != 3 {
		t.Fatalf("the inspector's rounds: %d, want 3", len(list.Items))
	}
	d.call("GET", "/v1/rounds", "dev-inspector-2", nil).Expect(t, 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("another inspector's rounds: %d, want none", len(list.Items))
	}
}

// The site report counts each site type's sites, coverage, inspections,
// mean score, pass rate and the items failed most; a site's history its
// inspections, open cases and recurrences; a unit reads its own sites.
func TestSiteReports(t *testing.T) {
	d := newDoor(t)
	for _, id := range []string{"m-001", "m-002", "m-003"} {
		d.call("POST", "/v1/sites", "dev-admin", marketSite(id)).Expect(t, 201, nil)
	}
	var r wireRound
	d.call("POST", "/v1/rounds", "dev-supervisor", map[string]any{"name": "明查", "site_types": []string{"market"},
		"due_by": time.Now().Add(48 * time.Hour).Format(time.RFC3339), "inspectors": []string{"inspector-1"}}).Expect(t, 201, &r)
	inspect := func(site string, failed ...string) {
		d.call("POST", "/v1/rounds/"+r.ID+"/sites/"+site+"/inspection", "dev-inspector", map[string]any{
			"at": time.Now().Add(-time.Minute).Format(time.RFC3339), "location": map[string]any{"lat": 39.8651, "lon": 111.2381},
			"items": marketAnswers(failed...)}).Expect(t, 201, nil)
	}
	inspect("m-001", "market-scale", "market-clean", "market-zoning", "market-ads") // 100-2-3-4-4 = 87
	inspect("m-002", "market-scale")                                                // 98
	day := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
	query := "?from=" + day + "&to=" + time.Now().Add(48*time.Hour).Format("2006-01-02")
	var report struct {
		Items []struct {
			Type         string   `json:"type"`
			Sites        int      `json:"sites"`
			Inspected    int      `json:"inspected"`
			CoverageRate *float64 `json:"coverage_rate"`
			Inspections  int      `json:"inspections"`
			MeanScore    *float64 `json:"mean_score"`
			PassRate     *float64 `json:"pass_rate"`
			Items        []struct {
				Item   string `json:"item"`
				Failed int    `json:"failed"`
			} `json:"items"`
		} `json:"items"`
		Worst []struct {
			Site      string   `json:"site"`
			MeanScore *float64 `json:"mean_score"`
			Failed    int      `json:"failed"`
		} `json:"worst"`
	}
	d.call("GET", "/v1/reports/sites"+query, "dev-supervisor", nil).Expect(t, 200, &report)
	if len(report.Items) < 2 || report.Items[0].Type != "market" {
		t.Fatalf("rows %+v", report.Items)
	}
	m := report.Items[0]
	if m.Sites != 3 || m.Inspected != 2 || *m.CoverageRate != 0.6667 || m.Inspections != 2 || *m.MeanScore != 92.5 || *m.PassRate != 1 ||
		len(m.Items) != 4 || m.Items[0].Item != "market-scale" || m.Items[0].Failed != 2 {
		t.Fatalf("the market row: %+v", m)
	}
	if other := report.Items[1]; other.Sites != 0 || other.CoverageRate != nil || other.MeanScore != nil {
		t.Fatalf("a type with no site: %+v", other)
	}
	if len(report.Worst) != 2 || report.Worst[0].Site != "m-001" || *report.Worst[0].MeanScore != 87 || report.Worst[0].Failed != 4 {
		t.Fatalf("the worst sites: %+v", report.Worst)
	}
	// The market sites answer to market-supervision: another unit reads
	// none of them.
	d.call("GET", "/v1/reports/sites"+query, "dev-sanitation", nil).Expect(t, 200, &report)
	if report.Items[0].Sites != 0 {
		t.Fatalf("another unit reads the market's sites: %+v", report.Items[0])
	}
	refused(t, d.call("GET", "/v1/reports/sites?from=2026-12-01", "dev-supervisor", nil), 400, "to", "")

	var h struct {
		Inspections []wireInspection `json:"inspections"`
		MeanScore   float64          `json:"mean_score"`
		Failures    int              `json:"failures"`
		OpenCases   []string         `json:"open_cases"`
	}
	d.call("GET", "/v1/reports/sites/m-001"+query, "dev-inspector", nil).Expect(t, 200, &h)
	if len(h.Inspections) != 1 || h.Inspections[0].Score != 87 || h.MeanScore != 87 || h.Failures != 4 || len(h.OpenCases) != 4 {
		t.Fatalf("m-001's history: %+v", h)
	}
	refused(t, d.call("GET", "/v1/reports/sites/m-001"+query, "dev-sanitation", nil), 404, "", "")

	// The period's bulletin lists the sites by their inspections' mean
	// score: m-003, failing all but one item, under the black list's 85;
	// the others on the red list, the best first; m-003 is no longer
	// inspected in this round, so a second round draws it.
	var again wireRound
	d.call("POST", "/v1/rounds", "dev-supervisor", map[string]any{"name": "暗访", "kind": "covert", "site_types": []string{"market"},
		"due_by": time.Now().Add(48 * time.Hour).Format(time.RFC3339), "inspectors": []string{"inspector-1"}}).Expect(t, 201, &again)
	d.call("POST", "/v1/rounds/"+again.ID+"/sites/m-003/inspection", "dev-inspector", map[string]any{
		"at": time.Now().Add(-time.Minute).Format(time.RFC3339), "location": map[string]any{"lat": 39.8651, "lon": 111.2381},
		"items": marketAnswers("market-ads", "market-scale", "market-zoning", "market-clean", "market-bins", "market-clutter")}).Expect(t, 201, nil)
	policy := duban.DefaultPolicy()
	period := policy.AssessmentPeriodOf(time.Now())
	if err := (&activities.Bulletins{Policy: policy, Store: d.store}).PublishBulletin(context.Background(), period); err != nil {
		t.Fatal(err)
	}
	var b duban.Bulletin
	d.call("GET", "/v1/reports/bulletins/"+period.Name, "dev-supervisor", nil).Expect(t, 200, &b)
	var red, black []string
	for _, l := range b.RedList.Sites {
		red = append(red, fmt.Sprintf("%s %.1f", l.Site, l.MeanScore))
	}
	for _, l := range b.BlackList.Sites {
		black = append(black, fmt.Sprintf("%s %.1f", l.Site, l.MeanScore))
	}
	if fmt.Sprint(red) != "[m-002 98.0 m-001 87.0]" || len(black) != 1 || !strings.HasPrefix(black[0], "m-003 ") {
		t.Fatalf("the sites' red list %v and black list %v", red, black)
	}
}
