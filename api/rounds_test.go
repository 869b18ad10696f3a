package api_test

import (
	"testing"
	"time"
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
