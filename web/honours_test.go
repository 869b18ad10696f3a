package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

// publishHonours publishes November's and December's bulletins of 2026
// as the bulletin workflow does: sanitation under the line both months
// (a notice, then a yellow card), market supervision in December (a
// notice), urban management on the red list.
func publishHonours(t *testing.T, s *site) {
	t.Helper()
	ctx := context.Background()
	p := s.app.Policy
	var earlier []duban.Bulletin
	for _, month := range []string{"2026-11", "2026-12"} {
		period, err := p.AssessmentPeriod(month)
		if err != nil {
			t.Fatal(err)
		}
		market := 88.0
		if month == "2026-12" {
			market = 79.5
		}
		b := duban.Bulletin{Period: period, Rows: []duban.UnitRow{
			{Unit: "urban-management", Rank: new(1), Score: new(96.0)},
			{Unit: "market-supervision", Rank: new(2), Score: &market},
			{Unit: "sanitation", Rank: new(3), Score: new(70.0)},
		}}
		p.Honour(&b, nil, earlier)
		if _, err := s.store.PublishBulletin(ctx, b); err != nil {
			t.Fatal(err)
		}
		earlier = append(earlier, b)
	}
}

// The printed 红黑榜: the lists, the sanctions with their reasons; the
// board lists the open sanctions; the office records a follow-up; a unit
// sees its own sanctions only; the year's history of each unit.
func TestRedAndBlackLists(t *testing.T) {
	s := newSite(t)
	publishHonours(t, s)
	s.now = time.Date(2027, 1, 3, 10, 0, 0, 0, shanghai)
	office := s.signedIn("supervisor-1", "dev-supervisor")
	expect(t, office.get("/reports/bulletins/2026-12"), http.StatusOK, "2026-12 红黑榜", `<h3 id="red-list">红榜</h3>`,
		"城市管理综合执法局 <span class=\"score\">96.0</span>", `<h3 id="black-list">黑榜</h3>`,
		"环卫中心 <span class=\"score\">70.0</span> <span class=\"rank\">第3名</span>",
		"黄牌警告", "第3条：近3期内2次上黑榜（2026-11、2026-12）", "第4条：1次上黑榜（2026-12）", "待落实")
	expect(t, office.get("/board"), http.StatusOK, "待落实问责 3 项", `href="/sanctions#2026-12.sanitation"`)

	list := office.get("/sanctions")
	expect(t, list, http.StatusOK, `id="2026-12.sanitation"`, `id="2026-12.market-supervision"`, `action="/sanctions/2026-12.sanitation/done"`)
	if strings.Contains(list.body, `id="2026-11.sanitation"`) == false {
		t.Fatal("November's notice is not listed as open")
	}
	refused := office.post("/sanctions/2026-12.sanitation/done", url.Values{"note": {" "}})
	expect(t, refused, http.StatusBadRequest, "落实情况", `role="alert"`)
	future := office.post("/sanctions/2026-12.sanitation/done", url.Values{"note": {"约谈"}, "at": {"2027-02-01T09:00"}})
	expect(t, future, http.StatusBadRequest, "不能晚于现在", "约谈</textarea>")
	done := office.post("/sanctions/2026-12.sanitation/done", url.Values{"note": {"已约谈环卫中心主任，<b>限期整改</b>"}, "at": {"2027-01-02T15:30"}})
	if done.status != http.StatusSeeOther {
		t.Fatalf("done: %d %s", done.status, done.body)
	}
	after := office.get(done.header.Get("Location"))
	expect(t, after, http.StatusOK, "问责 2026-12.sanitation 的落实情况已登记")
	if strings.Contains(after.body, `id="2026-12.sanitation"`) {
		t.Fatal("a sanction followed up is still listed as open")
	}
	expect(t, office.get("/sanctions?status=done"), http.StatusOK, "已于 2027-01-02 15:30 落实", "已约谈环卫中心主任，&lt;b&gt;限期整改&lt;/b&gt;")
	expect(t, office.get("/board"), http.StatusOK, "待落实问责 2 项") // November's notice and market supervision's

	clerk := s.signedIn("sanitation-1", "dev-sanitation")
	own := clerk.get("/sanctions?status=")
	expect(t, own, http.StatusOK, `id="2026-11.sanitation"`, `id="2026-12.sanitation"`)
	if strings.Contains(own.body, "market-supervision") || strings.Contains(own.body, "市场监督管理局") || strings.Contains(own.body, `action="/sanctions/`) {
		t.Fatalf("a unit's clerk sees another's sanction or a follow-up form:\n%s", own.body)
	}
	bulletin := clerk.get("/reports/bulletins/2026-12")
	expect(t, bulletin, http.StatusOK, "环卫中心", "黄牌警告")
	if strings.Contains(bulletin.body, "市场监督管理局") || strings.Contains(bulletin.body, "城市管理综合执法局") {
		t.Fatal("a unit's clerk sees another unit on the printed lists")
	}
	expect(t, clerk.post("/sanctions/2026-11.sanitation/done", url.Values{"note": {"我们整改了"}}), http.StatusForbidden)

	year := office.get("/reports/honours?year=2026")
	expect(t, year, http.StatusOK, "2026 年各单位红黑榜及问责", `<td class="listed-black">黑 70.0</td>`, `<td class="listed-red">红 96.0</td>`,
		"2026-11 通报批评", "2026-12 黄牌警告</a> ✓")
	expect(t, clerk.get("/reports/honours?year=2026"), http.StatusOK, "环卫中心")
	if strings.Contains(clerk.get("/reports/honours?year=2026").body, "市场监督管理局") {
		t.Fatal("a unit's clerk sees another unit's year")
	}
}
