package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/internal/memstore"
)

// A spreadsheet imported twice registers its sites once; a row changed
// since changes its site; a dry run says what an import would do and
// writes nothing.
func TestImportSites(t *testing.T) {
	store := memstore.New()
	svc := &app.Service{Policy: duban.DefaultPolicy(), Store: store, Sites: store}
	admin := duban.Principal{ID: "admin-1", Role: duban.RoleAdmin}
	ctx := context.Background()
	file := "id,name,type,area,lat,lon,unit\n" +
		"m-001,人民路农贸市场,农贸市场,老城区,39.865,111.238,市场监督管理局\n" +
		"wc-01,鼓楼公厕,公厕,老城区,39.86,111.24,环卫中心\n"
	run := func(file string, dryRun bool) map[string]int {
		t.Helper()
		rows, problems, err := svc.Policy.ReadSitesCSV(strings.NewReader(file), admin)
		if err != nil || len(problems) > 0 {
			t.Fatalf("read: %v %v", problems, err)
		}
		counts := map[string]int{}
		for _, r := range rows {
			what, err := svc.ImportSite(ctx, r.Command, dryRun)
			if err != nil {
				t.Fatalf("line %d: %v", r.Line, err)
			}
			counts[what]++
		}
		return counts
	}
	if got := run(file, true); got[app.SiteNew] != 2 {
		t.Fatalf("a dry run of a new file: %v", got)
	}
	if sites, _, _ := store.Sites(ctx, duban.SiteFilter{}); len(sites) != 0 {
		t.Fatalf("a dry run wrote %d sites", len(sites))
	}
	if got := run(file, false); got[app.SiteNew] != 2 {
		t.Fatalf("the import: %v", got)
	}
	if got := run(file, false); got[app.SiteSame] != 2 {
		t.Fatalf("the same file again: %v", got)
	}
	if got := run(strings.Replace(file, "环卫中心", "城市管理综合执法局", 1), false); got[app.SiteChanged] != 1 || got[app.SiteSame] != 1 {
		t.Fatalf("a changed row: %v", got)
	}
	wc, err := store.Site(ctx, "wc-01")
	if err != nil || wc.Unit != "urban-management" || wc.Version != 2 {
		t.Fatalf("wc-01 after the change: %+v, %v", wc, err)
	}
	if sites, _, _ := store.Sites(ctx, duban.SiteFilter{}); len(sites) != 2 {
		t.Fatalf("%d sites after three imports", len(sites))
	}
}
