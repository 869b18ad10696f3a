package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/duban/duban/internal/testimage"
)

// A resident on a phone (390×844) with a weak connection: the report, with
// its photo, made offline, is sent when the network returns, and filed
// once though the answer to its first sending is lost; its follow link
// shows each step; rated 不满意 once fixed, it lands on the office's list
// and goes back to the unit. The pages pass axe.
func TestResidentReportInABrowser(t *testing.T) {
	c := newChrome(t)
	s := newStack(t, strings.Replace(residentsPolicy, "check: 3s, rating_window: 20s", "check: 2h, rating_window: 1h", 1))
	s.start("serve")
	cut, base := newCutter(t, s)
	photo := filepath.Join(t.TempDir(), "IMG_2041.jpg")
	if err := os.WriteFile(photo, testimage.JPEG(testimage.Picture(1200, 900), testimage.EXIF{Taken: "2026:12:05 08:10:00", GPS: true, Lat: 39.8651, Lon: 111.2381}.Bytes()), 0o644); err != nil {
		t.Fatal(err)
	}

	phone := c.anonymous(base)
	run(t, phone, "the report page on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile),
		chromedp.Navigate(base+"/lang?to=zh&next=/report"), chromedp.WaitVisible(chromedp.CSS(`#public-report`)))
	c.checkA11y(phone, "the report page")

	cut.offline(t, phone, true)
	run(t, phone, "a report, offline",
		chromedp.SetValue(chromedp.CSS(`#category`), "littering"),
		chromedp.SetUploadFiles(chromedp.CSS(`#photo`), []string{photo}),
		chromedp.SendKeys(chromedp.CSS(`#description`), "公交站旁垃圾成堆"),
		chromedp.SendKeys(chromedp.CSS(`#address`), "新华街公交站"),
		chromedp.SetValue(chromedp.CSS(`#lat`), "39.865"),
		chromedp.SetValue(chromedp.CSS(`#lon`), "111.238"),
		chromedp.SendKeys(chromedp.CSS(`#phone`), "13800138000"),
		chromedp.Click(chromedp.CSS(`#public-report button[type=submit]`)),
	)
	waitFor(t, phone, "the report kept on the phone", `document.querySelector("#report-status").textContent.includes("网络恢复后自动提交")`)
	if n := cut.count("POST /v1/public/reports"); n != 0 {
		t.Fatalf("%d reports reached duban while offline", n)
	}

	// The network returns; the answer to the first sending is lost.
	cut.mu.Lock()
	cut.cut["POST /v1/public/reports"] = 1
	cut.mu.Unlock()
	cut.offline(t, phone, false)
	deadline := time.Now().Add(time.Minute)
	for !get(t, phone, "my reports", chromedp.Evaluate[bool](`document.querySelectorAll("#mine li a").length === 1`)) {
		if time.Now().After(deadline) {
			t.Fatalf("the report was not sent a minute after the network returned: %s", get(t, phone, "status", chromedp.Text(chromedp.CSS(`#report-status`))))
		}
		// What the page does every 30 s, or when the phone says it is online.
		run(t, phone, "online again", chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event("online"))`), chromedp.Sleep(time.Second))
	}
	if n := cut.count("POST /v1/public/reports"); n < 2 {
		t.Fatalf("the report was sent %d times: the one whose answer was lost was not sent again", n)
	}
	var list struct{ Items []wireCase }
	s.call("GET", "/v1/cases?status=reported", "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d reports filed, want one", len(list.Items))
	}
	id := list.Items[0].ID
	c.screenshot(phone, "resident-report")

	run(t, phone, "follow it", chromedp.Click(chromedp.CSS(`#mine li a`)), chromedp.WaitVisible(chromedp.CSS(`#steps-title`)))
	if page := get(t, phone, "the follow page", chromedp.Text(chromedp.CSS(`main`))); !strings.Contains(page, "待核实") || strings.Contains(page, "13800138000") {
		t.Fatalf("the follow page reads:\n%s", page)
	}
	follow := get(t, phone, "the follow link", chromedp.Evaluate[string](`location.pathname`))

	// The office files it, the unit fixes it, the inspector closes it.
	p := "/v1/cases/" + id
	s.caseOf(s.call("POST", p+"/confirm", "dev-inspector", map[string]any{"note": "属实，已立案"}), 200)
	s.caseOf(s.call("POST", p+"/acknowledge", "dev-sanitation", nil), 200)
	s.caseOf(s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "已清扫干净"}), 200)
	s.caseOf(s.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}), 200)
	run(t, phone, "the closed report", chromedp.Navigate(base+follow), chromedp.WaitVisible(chromedp.CSS(`input[value=dissatisfied]`)))
	page := get(t, phone, "the follow page", chromedp.Text(chromedp.CSS(`main`)))
	for _, want := range []string{"已办结", "核实立案：属实，已立案", "已派遣责任单位", "责任单位反馈已整改：已清扫干净", "创城办核查通过，已办结", "本条积分：10"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the closed report's page lacks %q:\n%s", want, page)
		}
	}
	waitFor(t, phone, "the photo, drawn", `Array.from(document.querySelectorAll(".photos img")).filter(i => i.complete && i.naturalWidth > 0).length === 1`)
	c.checkA11y(phone, "the follow page")
	c.screenshot(phone, "resident-follow")

	run(t, phone, "rate it 不满意", chromedp.Click(chromedp.CSS(`input[value=dissatisfied]`)),
		chromedp.SendKeys(chromedp.CSS(`#comment`), "垃圾桶旁还是很脏"), submit(`form[action$="/rating"]`))
	if page := get(t, phone, "rated", chromedp.Text(chromedp.CSS(`main`))); !strings.Contains(page, "您的评价：不满意") {
		t.Fatalf("after the rating:\n%s", page)
	}
	s.call("GET", "/v1/cases?status=closed&rating=dissatisfied", "dev-supervisor", nil).Expect(t, 200, &list)
	if len(list.Items) != 1 || list.Items[0].ID != id {
		t.Fatalf("the office's list of 不满意: %+v", list.Items)
	}
	s.caseOf(s.call("POST", p+"/reopen", "dev-supervisor", map[string]any{"reason": "居民反映仍不干净"}), 200)
	run(t, phone, "reopened", chromedp.Navigate(base+follow), chromedp.WaitVisible(chromedp.CSS(`#steps-title`)))
	if page := get(t, phone, "reopened", chromedp.Text(chromedp.CSS(`main`))); !strings.Contains(page, "根据您的评价，已退回重办") || !strings.Contains(page, "办理中") {
		t.Fatalf("after the reopening:\n%s", page)
	}
}
