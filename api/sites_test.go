package api_test

import (
	"testing"
)

type wireSite struct {
	ID       string `json:"id"`
	Version  int64  `json:"version"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Unit     string `json:"unit"`
	Active   bool   `json:"active"`
	Location struct {
		Lat float64 `json:"lat"`
	} `json:"location"`
	Head *struct {
		Phone string `json:"phone"`
	} `json:"head"`
}

func marketSite(id string) map[string]any {
	return map[string]any{"id": id, "name": "人民路农贸市场", "type": "market", "area": "old-town",
		"location": map[string]any{"lat": 39.865, "lon": 111.238}, "unit": "market-supervision",
		"head": map[string]any{"name": "王芳", "phone": "13800000000"}}
}

// Admins manage sites at /v1/sites: registered once however often the same
// registration comes (a re-import), changed field by field, retired; the
// point-chief's phone is the office's only; a unit reads the sites it
// answers for.
func TestSites(t *testing.T) {
	d := newDoor(t)
	var s wireSite
	res := d.call("POST", "/v1/sites", "dev-admin", marketSite("m-001"))
	res.Expect(t, 201, &s)
	if s.Version != 1 || !s.Active || s.Head == nil || res.Header.Get("Location") != "/v1/sites/m-001" || res.Header.Get("ETag") != `"1"` {
		t.Fatalf("registered %+v %v", s, res.Header)
	}
	d.call("POST", "/v1/sites", "dev-admin", marketSite("m-001")).Expect(t, 200, &s)
	if s.Version != 1 {
		t.Fatalf("a repeated registration made version %d", s.Version)
	}
	other := marketSite("m-001")
	other["name"] = "另一个"
	refused(t, d.call("POST", "/v1/sites", "dev-admin", other), 409, "", "")
	refused(t, d.call("POST", "/v1/sites", "dev-supervisor", marketSite("m-002")), 403, "", "")
	bad := marketSite("m-003")
	bad["type"] = "mall"
	refused(t, d.call("POST", "/v1/sites", "dev-admin", bad), 400, "type", "is not a site type of the policy: market, back-street")
	refused(t, d.call("POST", "/v1/sites", "dev-admin", map[string]any{"id": "x"}), 400, "name", "is required")

	d.call("PATCH", "/v1/sites/m-001", "dev-admin", map[string]any{"unit": "sanitation"}).Expect(t, 200, &s)
	if s.Version != 2 || s.Unit != "sanitation" || s.Name != "人民路农贸市场" || s.Location.Lat != 39.865 {
		t.Fatalf("changed %+v", s)
	}
	refused(t, d.call("PATCH", "/v1/sites/m-001", "dev-admin", map[string]any{"name": "x"}, "If-Match", `"1"`), 412, "", "")
	refused(t, d.call("PATCH", "/v1/sites/m-001", "dev-admin", map[string]any{"id": "m-009"}), 400, "id", "is the site's")

	// The office sees the point-chief; an inspector does not; the unit
	// answerable reads the site, another unit finds none.
	d.call("GET", "/v1/sites/m-001", "dev-supervisor", nil).Expect(t, 200, &s)
	if s.Head == nil || s.Head.Phone != "13800000000" {
		t.Fatalf("the office reads %+v", s)
	}
	var seen wireSite
	d.call("GET", "/v1/sites/m-001", "dev-inspector", nil).Expect(t, 200, &seen)
	if seen.Head != nil || seen.Name == "" {
		t.Fatalf("an inspector reads the point-chief: %+v", seen)
	}
	d.call("GET", "/v1/sites/m-001", "dev-sanitation", nil).Expect(t, 200, &s)
	refused(t, d.call("GET", "/v1/sites/m-001", "dev-traffic-police", nil), 404, "", "")

	d.call("POST", "/v1/sites", "dev-admin", map[string]any{"id": "wc-01", "name": "鼓楼公厕", "type": "toilet",
		"location": map[string]any{"lat": 39.86, "lon": 111.24}}).Expect(t, 201, nil)
	d.call("POST", "/v1/sites/m-001/retire", "dev-admin", map[string]any{"reason": "市场搬迁"}).Expect(t, 200, &s)
	if s.Active || s.Version != 3 {
		t.Fatalf("retired %+v", s)
	}
	var list struct {
		Items      []wireSite `json:"items"`
		NextCursor *string    `json:"next_cursor"`
	}
	for query, want := range map[string]string{"": "m-001 wc-01", "?active=true": "wc-01", "?type=market": "m-001", "?limit=1": "m-001"} {
		d.call("GET", "/v1/sites"+query, "dev-supervisor", nil).Expect(t, 200, &list)
		var got string
		for i, it := range list.Items {
			if i > 0 {
				got += " "
			}
			got += it.ID
		}
		if got != want {
			t.Errorf("%s: %s, want %s", query, got, want)
		}
	}
	d.call("GET", "/v1/sites?limit=1", "dev-supervisor", nil).Expect(t, 200, &list)
	d.call("GET", "/v1/sites?limit=1&cursor="+*list.NextCursor, "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != "wc-01" || list.NextCursor != nil {
		t.Fatalf("the second page %+v", list)
	}
	refused(t, d.call("GET", "/v1/sites?active=maybe", "dev-supervisor", nil), 400, "active", "must be true or false")
}
