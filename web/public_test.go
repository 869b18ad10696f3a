package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/duban/duban"
	"github.com/duban/duban/internal/testimage"
)

// postReport sends the public page's form as a browser without its script
// does.
func (b *browser) postReport(form url.Values, photo []byte) page {
	b.t.Helper()
	body, contentType := multipartForm(form, photo)
	return b.send("POST", "/report", body, contentType)
}

// A resident reports from /report with no sign-in, follows the report on
// its link, and rates it once closed; a refused form is shown again with
// what was typed and what is wrong.
func TestResidentPages(t *testing.T) {
	s := newSite(t)
	resident := s.browser()
	p := resident.do("GET", "/report", nil)
	if p.status != 200 || !strings.Contains(p.body, "随手拍") || !strings.Contains(p.body, `<option value="littering"`) || strings.Contains(p.body, `value="volunteer-service"`) {
		t.Fatalf("the report page: %d\n%s", p.status, p.body)
	}
	form := url.Values{"category": {"littering"}, "description": {"<b>垃圾</b>成堆"}, "lat": {"39.865"}, "lon": {"111.238"}, "phone": {"13800138000"}}
	refused := resident.postReport(form, nil)
	if refused.status != 400 || !strings.Contains(refused.body, "&lt;b&gt;垃圾&lt;/b&gt;成堆") || !strings.Contains(refused.body, "至少需要 1 张问题照片") {
		t.Fatalf("a report without a photo: %d\n%s", refused.status, refused.body)
	}
	sent := resident.postReport(form, testimage.JPEG(testimage.Picture(320, 240), nil))
	follow := sent.header.Get("Location")
	if sent.status != http.StatusSeeOther || !strings.HasPrefix(follow, "/r/") {
		t.Fatalf("a report: %d, to %q", sent.status, follow)
	}
	f := resident.do("GET", follow, nil)
	if f.status != 200 || !strings.Contains(f.body, "待核实") || !strings.Contains(f.body, "&lt;b&gt;垃圾&lt;/b&gt;成堆") || strings.Contains(f.body, "13800138000") ||
		strings.Contains(f.body, "resident:") || !strings.Contains(f.body, follow[len("/r/"):]+"/photos/0?size=thumbnail") {
		t.Fatalf("the follow page: %d\n%s", f.status, f.body)
	}
	if f.header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatal("the follow page lets its link out in a Referer")
	}

	// The office files it, the unit fixes it, the inspector closes it.
	ctx := t.Context()
	inspector := duban.CommandMeta{By: duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}}
	unit := duban.CommandMeta{By: duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}}
	list, _, err := s.app.Cases(ctx, inspector.By, duban.CaseFilter{Statuses: []duban.Status{duban.StatusReported}})
	if err != nil || len(list) != 1 {
		t.Fatalf("reports awaiting a check: %v, %v", list, err)
	}
	// The check page offers the open case of the same category 40 m away
	// to merge it into; the inspector files it as a new case instead.
	near, err := s.app.Open(ctx, duban.OpenCase{CommandMeta: inspector, Category: "littering", Description: "站台垃圾",
		Location: duban.Location{Lat: 39.86536, Lon: 111.238}}, "")
	if err != nil {
		t.Fatal(err)
	}
	board := s.signedIn("supervisor-1", "dev-supervisor").do("GET", "/board", nil)
	if !strings.Contains(board.body, "随手拍待核实 1 件") {
		t.Fatalf("the board does not count the report awaiting its check:\n%s", board.body)
	}
	office := s.signedIn("inspector-1", "dev-inspector")
	check := office.do("GET", "/cases/"+list[0].ID, nil)
	for _, want := range []string{`id="cmd-confirm"`, `id="cmd-reject"`, `value="` + near.Case.ID + `"`, "与此案件为同一问题", "40 米", "站台垃圾"} {
		if !strings.Contains(check.body, want) {
			t.Fatalf("the check page lacks %q:\n%s", want, check.body)
		}
	}
	for _, cmd := range []duban.Command{duban.Confirm{CommandMeta: inspector}, duban.Acknowledge{CommandMeta: unit},
		duban.Resolve{CommandMeta: unit, Note: "已清扫"}, duban.Verify{CommandMeta: inspector, Passed: true}} {
		if _, err := s.app.Execute(ctx, list[0].ID, cmd, ""); err != nil {
			t.Fatalf("%s: %v", cmd.Name(), err)
		}
	}
	f = resident.do("GET", follow, nil)
	for _, want := range []string{"已办结", "核实立案", "创城办核查通过，已办结", "您对办理结果满意吗？", "本条积分：10"} {
		if !strings.Contains(f.body, want) {
			t.Fatalf("the closed report's page lacks %q:\n%s", want, f.body)
		}
	}
	rated := resident.do("POST", follow+"/rating", url.Values{"rating": {"dissatisfied"}, "comment": {"还是脏"}})
	if rated.status != http.StatusSeeOther {
		t.Fatalf("rating: %d %s", rated.status, rated.body)
	}
	f = resident.do("GET", follow, nil)
	if !strings.Contains(f.body, "您的评价：不满意") || strings.Contains(f.body, "您对办理结果满意吗？") {
		t.Fatalf("after the rating:\n%s", f.body)
	}
	if board := s.signedIn("supervisor-1", "dev-supervisor").do("GET", "/board", nil); !strings.Contains(board.body, "不满意回访 1 件") || strings.Contains(board.body, "随手拍待核实") {
		t.Fatalf("the board after the rating:\n%s", board.body)
	}
	again := resident.do("POST", follow+"/rating", url.Values{"rating": {"satisfied"}})
	if again.status != http.StatusConflict || !strings.Contains(again.body, "该案件已评价") {
		t.Fatalf("a second rating: %d\n%s", again.status, again.body)
	}
	if p := resident.do("GET", "/r/not-a-token", nil); p.status != 404 {
		t.Fatalf("an unknown follow link: %d", p.status)
	}
}
