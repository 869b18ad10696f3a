package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/duban/duban"
)

var admin = duban.Principal{ID: "admin-1", Role: duban.RoleAdmin}

// testSites registers, changes, retires and lists sites as the application
// layer does: decided on the site as the store holds it.
func testSites(t *testing.T, s Store) {
	ctx := context.Background()
	policy := duban.DefaultPolicy()
	do := func(cmd duban.SiteCommand) duban.Site {
		t.Helper()
		before, err := s.Site(ctx, cmd.SiteID)
		if duban.ErrorCode(err) == duban.ENOTFOUND {
			before = duban.Site{}
		} else if err != nil {
			t.Fatal(err)
		}
		events, err := duban.DecideSite(before, policy.ResolveSite(cmd), t0)
		if err != nil {
			t.Fatalf("%s %s: %v", cmd.Kind, cmd.SiteID, err)
		}
		if err := s.AppendSite(ctx, before, events); err != nil {
			t.Fatalf("append %s: %v", cmd.SiteID, err)
		}
		after, err := s.Site(ctx, cmd.SiteID)
		if err != nil {
			t.Fatal(err)
		}
		return after
	}
	site := func(id, typ, unit string) duban.SiteCommand {
		return duban.SiteCommand{By: admin, Kind: duban.RegisterSite, SiteID: id, Fields: duban.SiteFields{Name: "点位 " + id, Type: typ,
			Area: "old-town", Location: duban.Location{Lat: 39.86, Lon: 111.23}, Unit: unit, Head: &duban.SiteHead{Name: "王芳", Phone: "13800000000"}}}
	}
	for i := 1; i <= 5; i++ {
		typ, unit := "market", "market-supervision"
		if i%2 == 0 {
			typ, unit = "toilet", "sanitation"
		}
		got := do(site(fmt.Sprintf("s-%02d", i), typ, unit))
		if got.Version != 1 || !got.Active || got.Head == nil || got.Head.Phone != "13800000000" {
			t.Fatalf("registered %+v", got)
		}
	}
	change := site("s-02", "toilet", "urban-management")
	change.Kind = duban.ChangeSite
	if got := do(change); got.Version != 2 || got.Unit != "urban-management" {
		t.Fatalf("changed %+v", got)
	}
	retire := duban.SiteCommand{By: admin, Kind: duban.RetireSite, SiteID: "s-03", Reason: "搬迁"}
	if got := do(retire); got.Active || got.Version != 2 {
		t.Fatalf("retired %+v", got)
	}
	// An append decided on a version the site has left is refused.
	stale, _ := duban.DecideSite(duban.Site{}, policy.ResolveSite(site("s-01", "market", "sanitation")), t0)
	if err := s.AppendSite(ctx, duban.Site{}, stale); duban.ErrorCode(err) != duban.ECONFLICT {
		t.Fatalf("a stale append: %v", err)
	}
	if events, err := s.SiteEvents(ctx, "s-02"); err != nil || len(events) != 2 || events[1].Type != "SiteChanged" ||
		events[1].Data.(duban.SiteChanged).Unit != "urban-management" {
		t.Fatalf("s-02's events %+v, %v", events, err)
	}
	if _, err := s.Site(ctx, "nowhere"); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("no site: %v", err)
	}

	yes, no := true, false
	for _, tt := range []struct {
		name string
		f    duban.SiteFilter
		want []string
	}{
		{"all", duban.SiteFilter{}, []string{"s-01", "s-02", "s-03", "s-04", "s-05"}},
		{"type", duban.SiteFilter{Type: "toilet"}, []string{"s-02", "s-04"}},
		{"unit", duban.SiteFilter{Unit: "market-supervision"}, []string{"s-01", "s-03", "s-05"}},
		{"active", duban.SiteFilter{Active: &yes}, []string{"s-01", "s-02", "s-04", "s-05"}},
		{"retired", duban.SiteFilter{Active: &no}, []string{"s-03"}},
		{"area", duban.SiteFilter{Area: "riverside"}, nil},
	} {
		got, next, err := s.Sites(ctx, tt.f)
		if err != nil || next != "" || !slices.Equal(siteIDs(got), tt.want) {
			t.Errorf("%s: %v (next %q), %v; want %v", tt.name, siteIDs(got), next, err, tt.want)
		}
	}
	var paged []string
	f := duban.SiteFilter{Limit: 2}
	for {
		got, next, err := s.Sites(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, siteIDs(got)...)
		if next == "" {
			break
		}
		f.After = next
	}
	if !slices.Equal(paged, []string{"s-01", "s-02", "s-03", "s-04", "s-05"}) {
		t.Fatalf("paged %v", paged)
	}
}

func siteIDs(sites []duban.Site) []string {
	var out []string
	for _, s := range sites {
		out = append(out, s.ID)
	}
	return out
}
