package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/duban/duban"
)

// The 红黑榜 printed as an office posts it: the period's bulletin, in
// Chinese, its red list beside its black list and the sanctions with why,
// on one A4 page; the office records a follow-up from the sanctions page;
// a unit's clerk sees only their own sanctions. The pages pass axe.
func TestRedAndBlackListsInABrowser(t *testing.T) {
	c := newChrome(t)
	s := newStack(t, "")
	s.start("serve")
	// October and November as the bulletin workflow publishes them:
	// sanitation under the line twice (a notice, then a yellow card).
	var earlier []duban.Bulletin
	for _, month := range []string{"2026-10", "2026-11"} {
		period, err := s.policy.AssessmentPeriod(month)
		if err != nil {
			t.Fatal(err)
		}
		scores := map[string]float64{"urban-management": 96.5, "traffic-police": 93.2, "publicity": 91.0,
			"market-supervision": 86.4, "municipal-engineering": 82.1, "sanitation": 71.3}
		if month == "2026-10" {
			scores["municipal-engineering"] = 88.0
		}
		b := duban.Bulletin{Period: period}
		for _, u := range []string{"urban-management", "traffic-police", "publicity", "market-supervision", "municipal-engineering", "sanitation"} {
			b.Rows = append(b.Rows, duban.UnitRow{Unit: u, Score: new(scores[u])})
		}
		slicesSortByScore(b.Rows)
		s.policy.Honour(&b, nil, earlier)
		if _, err := s.store().PublishBulletin(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		earlier = append(earlier, b)
	}

	office := c.person(s.base, "supervisor-1", "dev-supervisor")
	run(t, office, "the bulletin, printed on A4",
		chromedp.Navigate(s.base+"/reports/bulletins/2026-11"), chromedp.WaitVisible(chromedp.CSS(`.honours`)))
	c.checkA11y(office, "the printed 红黑榜")
	text := get(t, office, "the bulletin's text", chromedp.Text(chromedp.CSS(`main`)))
	for _, want := range []string{"2026-11 红黑榜", "红榜", "城市管理综合执法局", "公安交警大队", "宣传部（文明办）", "黑榜", "环卫中心", "市政工程管理处",
		"黄牌警告", "第3条：近3期内2次上黑榜（2026-10、2026-11）", "通报批评", "第4条：1次上黑榜（2026-11）"} {
		if !strings.Contains(text, want) {
			t.Errorf("the printed 红黑榜 lacks %q:\n%s", want, text)
		}
	}
	pdf := get(t, office, "the bulletin as a PDF", chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize()))
	// Its lists and sanctions on the first page, the scores after them.
	if pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1)); pages < 1 || pages > 2 {
		t.Errorf("the 红黑榜 prints on %d A4 pages", pages)
	}
	run(t, office, "the print view, A4 wide", media("print"), chromedp.EmulateViewport(794, 1123))
	c.screenshot(office, "honours-print")
	run(t, office, "back to the screen", media(""), chromedp.EmulateViewport(1280, 900))

	run(t, office, "a follow-up recorded",
		chromedp.Navigate(s.base+"/sanctions"), chromedp.WaitVisible(chromedp.CSS(`form[action="/sanctions/2026-11.sanitation/done"]`)),
		chromedp.SendKeys(chromedp.CSS(`#note-2026-11\.sanitation`), "12月3日约谈环卫中心主任，限期一周整改"),
		chromedp.Click(chromedp.CSS(`form[action="/sanctions/2026-11.sanitation/done"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.done`)))
	c.checkA11y(office, "the sanctions page")
	if done := get(t, office, "the confirmation", chromedp.Text(chromedp.CSS(`p.done`))); !strings.Contains(done, "2026-11.sanitation") {
		t.Fatalf("confirmation %q", done)
	}
	var sn duban.Sanction
	s.call("GET", "/v1/sanctions/2026-11.sanitation", "dev-supervisor", nil).Expect(t, 200, &sn)
	if sn.Status != duban.SanctionDone || sn.FollowUp.Note != "12月3日约谈环卫中心主任，限期一周整改" {
		t.Fatalf("the sanction after the form: %+v", sn)
	}

	run(t, office, "the year's lists", chromedp.Navigate(s.base+"/reports/honours?year=2026"), chromedp.WaitVisible(chromedp.CSS(`table.honours-year`)))
	c.checkA11y(office, "the year's 红黑榜")
	if year := get(t, office, "the year's lists", chromedp.Text(chromedp.CSS(`table.honours-year`))); !strings.Contains(year, "黑 71.3") ||
		!strings.Contains(year, "红 96.5") || !strings.Contains(year, "2026-11 黄牌警告") {
		t.Fatalf("the year's lists:\n%s", year)
	}

	clerk := c.person(s.base, "sanitation-1", "dev-sanitation")
	run(t, clerk, "the clerk's sanctions", chromedp.Navigate(s.base+"/sanctions?status="), chromedp.WaitVisible(chromedp.CSS(`table.sanctions`)))
	own := get(t, clerk, "the clerk's sanctions", chromedp.Text(chromedp.CSS(`main`)))
	if !strings.Contains(own, "环卫中心") || strings.Contains(own, "市政工程管理处") || !strings.Contains(own, "黄牌警告") {
		t.Fatalf("sanitation's clerk reads:\n%s", own)
	}
	if n := get(t, clerk, "follow-up forms", chromedp.Evaluate[int](`document.querySelectorAll("form.followup").length`)); n != 0 {
		t.Fatalf("the clerk is offered %d follow-up forms", n)
	}
	c.checkA11y(clerk, "a unit's sanctions")
}

// media makes the page render for a CSS media type ("print"; "" the
// screen's).
func media(m string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m})
		return err
	})
}

// slicesSortByScore ranks rows as a scorecard does: by score, then unit.
func slicesSortByScore(rows []duban.UnitRow) {
	for i := range rows {
		for j := i + 1; j < len(rows); j++ {
			if *rows[j].Score > *rows[i].Score || (*rows[j].Score == *rows[i].Score && rows[j].Unit < rows[i].Unit) {
				rows[i], rows[j] = rows[j], rows[i]
			}
		}
	}
	for i := range rows {
		rows[i].Rank = new(i + 1)
	}
}
