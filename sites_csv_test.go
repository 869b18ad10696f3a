package duban_test

import (
	"strings"
	"testing"

	"github.com/duban/duban"
)

// An office's spreadsheet of sites, in Chinese, names its types, units and
// areas as people do; every bad row is named by its line, the good ones
// read as registrations.
func TestReadSitesCSV(t *testing.T) {
	p := duban.DefaultPolicy()
	file := "\uFEFF编号,名称,类型,片区,纬度,经度,包保单位,点位长,电话\n" +
		"m-001,人民路农贸市场,农贸市场,老城区,39.865,111.238,市场监督管理局,王芳,13800000000\n" +
		"wc-01,鼓楼公厕,toilet,old-town,39.86,111.24,sanitation,,\n" +
		"\n" +
		"x-01,商场,商场,老城区,39.86,111.24,,,\n" +
		"x-02,\"有逗号, 的点位\",公厕,老城区,北纬39,111.24,,,\n" +
		"m-001,又一个市场,农贸市场,,39.8,111.2,园林局,,\n"
	rows, problems, err := p.ReadSitesCSV(strings.NewReader(file), siteAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Line != 2 || rows[1].Line != 3 {
		t.Fatalf("rows %+v", rows)
	}
	m := rows[0].Command
	if m.SiteID != "m-001" || m.Fields.Type != "market" || m.Fields.Area != "old-town" || m.Fields.Unit != "market-supervision" ||
		m.Fields.Head == nil || m.Fields.Head.Phone != "13800000000" || m.Kind != duban.RegisterSite {
		t.Fatalf("the market %+v", m)
	}
	if rows[1].Command.Fields.Head != nil {
		t.Fatalf("a site without a point-chief has one: %+v", rows[1].Command.Fields.Head)
	}
	var got []string
	for _, pr := range problems {
		got = append(got, pr.String())
	}
	want := []string{
		`line 5: type: is not a site type of the policy: market, back-street, residential, school, square, crossing, bus-stop, toilet`,
		`line 6: lat: must be a number, in degrees, not "北纬39"`,
		`line 7: unit: is not a unit of the policy: sanitation, urban-management, market-supervision, traffic-police, publicity, municipal-engineering`,
		`line 7: id: site m-001 is on line 2 already`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A GBK file (Excel's CSV on Chinese Windows) is refused, saying what to do.
	gbk := []byte("id,name,type,lat,lon\nm-1,\xc5\xa9\xc3\xb3\xca\xd0\xb3\xa1,market,39.8,111.2\n") // 农贸市场 in GBK
	if _, _, err := p.ReadSitesCSV(strings.NewReader(string(gbk)), siteAdmin); err == nil || !strings.Contains(err.Error(), "GBK") || !strings.Contains(err.Error(), "CSV UTF-8") {
		t.Fatalf("a GBK file: %v", err)
	}
	for _, bad := range []string{"", "id,name,colour\n", "id,name,type,lat\n"} {
		if _, _, err := p.ReadSitesCSV(strings.NewReader(bad), siteAdmin); err == nil {
			t.Errorf("%q read", bad)
		}
	}
}
