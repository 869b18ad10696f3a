package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/duban/duban/internal/testimage"
)

// cutter is the network between the phone and duban. Cut (offline), it
// drops every connection unanswered. Otherwise it counts the requests it
// passes, and for the nth request of a route it is told to cut, lets duban
// handle it whole and drops the connection without the answer, as a
// network that fails in the middle of sending does.
type cutter struct {
	proxy   *httputil.ReverseProxy
	mu      sync.Mutex
	off     bool
	dropped int            // requests dropped while offline
	seen    map[string]int // "POST /v1/cases" → requests passed
	cut     map[string]int // "POST /v1/cases" → which one loses its answer
}

func (c *cutter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	c.mu.Lock()
	offline := c.off
	if offline {
		c.dropped++
	} else {
		c.seen[route]++
	}
	lose := !offline && c.cut[route] != 0 && c.cut[route] == c.seen[route]
	c.mu.Unlock()
	if !offline && !lose {
		c.proxy.ServeHTTP(w, r)
		return
	}
	if lose {
		c.proxy.ServeHTTP(httptest.NewRecorder(), r) // duban does it all
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close() // and no answer arrives
	}
}

// newCutter puts a cutter in front of the stack s, and answers it and the
// address the browser is to use.
func newCutter(t *testing.T, s *stack) (*cutter, string) {
	t.Helper()
	api, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	cut := &cutter{proxy: httputil.NewSingleHostReverseProxy(api), seen: map[string]int{}, cut: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := &http.Server{Handler: cut}
	go func() { _ = front.Serve(l) }()
	t.Cleanup(func() { front.Close() })
	return cut, "http://" + l.Addr().String()
}

// offline cuts the network of the browser tab (and its service worker)
// and the front, or gives it back.
func (c *cutter) offline(t *testing.T, tab context.Context, off bool) {
	t.Helper()
	c.mu.Lock()
	c.off = off
	c.mu.Unlock()
	conditions := []*network.Conditions{}
	if off {
		conditions = append(conditions, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	if _, err := chromedp.Call(tab, network.EmulateNetworkConditionsByRule,
		network.EmulateNetworkConditionsByRuleParams{EmulateOfflineServiceWorker: &off, MatchedNetworkConditions: conditions}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, network.OverrideNetworkState,
		network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatal(err)
	}
}

func (c *cutter) count(route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[route]
}

// An inspector in a dead zone: the field page, opened once with a network,
// takes three reports with photos with the network cut, keeps them through
// a reload, and sends them when the network returns, photos first, each
// report with its own Idempotency-Key: three cases, each with its photo,
// none twice, also though the connection drops in the middle of sending a
// photo and a report. The network is cut twice over: DevTools' offline
// emulation (the page's requests fail, navigator.onLine is false) and the
// cutter, which drops every connection (the emulation did not reach the
// service worker's own requests here: Chromium 156).
func TestFieldPageOffline(t *testing.T) {
	c := newChrome(t)
	s := newStack(t, browserPolicy)
	s.start("serve")
	cut, base := newCutter(t, s)

	dir := t.TempDir()
	var photos []string
	for i := range 3 {
		name := filepath.Join(dir, fmt.Sprintf("IMG_%04d.jpg", i+1))
		photo := testimage.JPEG(testimage.Picture(640+8*i, 480), testimage.EXIF{Taken: "2026:11:30 09:1" + fmt.Sprint(i) + ":00"}.Bytes())
		if err := os.WriteFile(name, photo, 0o644); err != nil {
			t.Fatal(err)
		}
		photos = append(photos, name)
	}

	inspector := c.person(base, "inspector-1", "inspector-pw")
	run(t, inspector, "the field page, online", chromedp.Navigate(base+"/field"), chromedp.WaitVisible(chromedp.CSS(`#net.online`)))
	waitFor(t, inspector, "the service worker in charge", `navigator.serviceWorker.controller !== null`)
	c.checkA11y(inspector, "the field page")

	offline := func(off bool) { t.Helper(); cut.offline(t, inspector, off) }
	offline(true)
	run(t, inspector, "offline", chromedp.WaitVisible(chromedp.CSS(`#net.offline`)))
	for i, photo := range photos {
		run(t, inspector, fmt.Sprintf("report %d, offline", i+1),
			chromedp.SetValue(chromedp.CSS(`#category`), "littering"),
			chromedp.SendKeys(chromedp.CSS(`#description`), fmt.Sprintf("离线上报 %d：路边垃圾", i+1)),
			chromedp.SetValue(chromedp.CSS(`#lat`), "39.865"),
			chromedp.SetValue(chromedp.CSS(`#lon`), "111.238"),
			chromedp.SetUploadFiles(chromedp.CSS(`#photos`), []string{photo}),
			chromedp.Click(chromedp.CSS(`#report button[type=submit]`)),
		)
		waitFor(t, inspector, "the report queued", fmt.Sprintf(`document.querySelectorAll("#queue li").length === %d`, i+1))
	}
	run(t, inspector, "reload, offline", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#net.offline`)))
	waitFor(t, inspector, "the three reports still queued", `document.querySelectorAll("#queue li").length === 3`)
	c.screenshot(inspector, "field-offline")

	// The network returns; the third photo's answer and the second
	// report's are lost on the way back.
	cut.mu.Lock()
	cut.cut["POST /v1/attachments"] = 3
	cut.cut["POST /v1/cases"] = 2
	cut.mu.Unlock()
	offline(false)
	deadline := time.Now().Add(time.Minute)
	for !get(t, inspector, "the queue", chromedp.Evaluate[bool](`document.querySelectorAll("#queue li").length === 0`)) {
		if time.Now().After(deadline) {
			queue := get(t, inspector, "the queue", chromedp.Text(chromedp.CSS(`#queue`)))
			t.Fatalf("reports still queued a minute after the network returned: %s", queue)
		}
		// What a waiting inspector does: press "send now" now and then.
		run(t, inspector, "send now", chromedp.Click(chromedp.CSS(`#send`)), chromedp.Sleep(time.Second))
	}
	c.screenshot(inspector, "field-sent")
	if n := cut.count("POST /v1/cases"); n < 4 {
		t.Fatalf("%d reports were sent: the one whose answer was lost was not sent again", n)
	}

	// Exactly three cases, each with its photo.
	var list struct {
		Items []struct {
			ID          string `json:"id"`
			Description string `json:"description"`
			Evidence    []struct {
				Attachment string `json:"attachment"`
			} `json:"evidence"`
		} `json:"items"`
	}
	s.call("GET", "/v1/cases?limit=100", "dev-supervisor", nil).Expect(t, 200, &list)
	seen := map[string]int{}
	for _, item := range list.Items {
		if !strings.HasPrefix(item.Description, "离线上报") {
			continue
		}
		seen[item.Description]++
		if len(item.Evidence) != 1 || item.Evidence[0].Attachment == "" {
			t.Errorf("%s has evidence %+v, want its photo", item.Description, item.Evidence)
			continue
		}
		if r := s.call("GET", "/v1/attachments/"+item.Evidence[0].Attachment+"/thumbnail", "dev-inspector", nil); r.Status != 200 {
			t.Errorf("%s: its photo's thumbnail: %d", item.Description, r.Status)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("cases from the field page: %v, want three", seen)
	}
	for d, n := range seen {
		if n != 1 {
			t.Errorf("%q was opened %d times", d, n)
		}
	}
	if n := len(get(t, inspector, "sent", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#sent li a")).map(a => a.textContent)`))); n != 3 {
		t.Errorf("the page lists %d reports sent, want 3", n)
	}

	// The unit resolves one with a photo of the fix; the inspector sees
	// the two photos side by side, and verifies.
	var first string
	for _, item := range list.Items {
		if item.Description == "离线上报 1：路边垃圾" {
			first = item.ID
		}
	}
	fix := filepath.Join(dir, "fixed.jpg")
	if err := os.WriteFile(fix, testimage.JPEG(testimage.Picture(480, 640), testimage.EXIF{Taken: "2026:11:30 15:40:00", GPS: true, Lat: 39.8651, Lon: 111.2382}.Bytes()), 0o644); err != nil {
		t.Fatal(err)
	}
	unit := c.person(base, "sanitation-1", "sanitation-pw")
	run(t, unit, "acknowledge", chromedp.Navigate(base+"/cases/"+first), submit(`#cmd-acknowledge`))
	run(t, unit, "resolve with a photo", chromedp.SendKeys(chromedp.CSS(`#resolve-note`), "已清理"),
		chromedp.SetUploadFiles(chromedp.CSS(`#resolve-photo`), []string{fix}), submit(`#cmd-resolve`))
	run(t, inspector, "the case, both photos", chromedp.Navigate(base+"/cases/"+first),
		chromedp.ScrollIntoView(chromedp.CSS(`.compare`)))
	waitFor(t, inspector, "the report's photo and the fix's, drawn",
		`Array.from(document.querySelectorAll(".compare img")).filter(i => i.complete && i.naturalWidth > 0).length === 2`)
	c.screenshot(inspector, "case-photos")
	c.checkA11y(inspector, "the case with photos")

	// The inspector finds it still dirty, with a photo; the unit fixes it
	// again, with another; the inspector passes it. Every photo stays on
	// the page, the first fix's too; the case, closed, says of each stage
	// when it was done, none as overdue now; a refusal is never English.
	still, again := filepath.Join(dir, "still.jpg"), filepath.Join(dir, "again.jpg")
	for name, size := range map[string][2]int{still: {640, 480}, again: {500, 700}} {
		if err := os.WriteFile(name, testimage.JPEG(testimage.Picture(size[0], size[1]), testimage.EXIF{Taken: "2026:11:30 16:00:00"}.Bytes()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, inspector, "verify: not fixed", chromedp.Click(chromedp.CSS(`#cmd-verify input[value=no]`)),
		chromedp.SendKeys(chromedp.CSS(`#verify-note`), "仍有垃圾"),
		chromedp.SetUploadFiles(chromedp.CSS(`#verify-photo`), []string{still}), submit(`#cmd-verify`))
	run(t, unit, "resolve again", chromedp.Navigate(base+"/cases/"+first), chromedp.SendKeys(chromedp.CSS(`#resolve-note`), "已彻底清理"),
		chromedp.SetUploadFiles(chromedp.CSS(`#resolve-photo`), []string{again}), submit(`#cmd-resolve`))
	run(t, inspector, "verify", chromedp.Navigate(base+"/cases/"+first),
		chromedp.Click(chromedp.CSS(`#cmd-verify input[value=yes]`)), submit(`#cmd-verify`))
	if status := get(t, inspector, "the status", chromedp.Text(chromedp.CSS(`#summary`))); !strings.Contains(status, "已结案") {
		t.Fatalf("after verification: %s", status)
	}
	waitFor(t, inspector, "every photo, drawn", `new Set(Array.from(document.querySelectorAll("img[src$='/thumbnail']")).filter(i => i.complete && i.naturalWidth > 0).map(i => i.src)).size === 4`)
	if deadlines := get(t, inspector, "the deadlines", chromedp.Text(chromedp.CSS(`section[aria-labelledby=deadlines]`))); strings.Contains(deadlines, "已超期") || !strings.Contains(deadlines, "已签收") || !strings.Contains(deadlines, "已核查") {
		t.Fatalf("a closed case's stages read:\n%s", deadlines)
	}
	// A refusal on a Chinese page is said in Chinese: a wrong password.
	stranger := c.anonymous(base)
	run(t, stranger, "a wrong password", chromedp.Navigate(base+"/lang?to=zh&next=/login"),
		chromedp.SendKeys(chromedp.CSS("#user"), "inspector-1"), chromedp.SendKeys(chromedp.CSS("#password"), "wrong"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.problem`)))
	if problem := get(t, stranger, "the refusal", chromedp.Text(chromedp.CSS(`.problem`))); !strings.Contains(problem, "用户名或密码错误") ||
		get(t, stranger, "English in it", chromedp.Evaluate[bool](`document.querySelector(".problem [lang=en]") !== null`)) {
		t.Fatalf("the refusal of a wrong password on a Chinese page: %q", problem)
	}
}

// waitFor waits, up to 30 s, until the expression is true on p's page.
func waitFor(t *testing.T, p context.Context, what, expression string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !get(t, p, what, chromedp.Evaluate[bool](expression)) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 30 s (%s)", what, expression)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A round worked offline on the phone: the inspector's five sites and
// their checklists are kept on the page; with the network cut (and the
// page reloaded) each site is inspected, one item failing at three of
// them, a photo with the first; when the network returns, every
// inspection and every case arrives exactly once, though one answer is
// lost on the way back.
func TestFieldRoundOffline(t *testing.T) {
	c := newChrome(t)
	s := newStack(t, browserPolicy+marketType)
	s.start("serve")
	cut, base := newCutter(t, s)
	sites := []string{"m-1", "m-2", "m-3", "m-4", "m-5"}
	for i, id := range sites {
		s.call("POST", "/v1/sites", "dev-admin", map[string]any{"id": id, "name": fmt.Sprintf("农贸市场 %d", i+1), "type": "market",
			"location": map[string]any{"lat": 39.86 + float64(i)/1000, "lon": 111.23}, "unit": "sanitation"}).Expect(t, 201, nil)
	}
	var round e2eRound
	s.call("POST", "/v1/rounds", "dev-supervisor", map[string]any{"name": "第49周 明查", "inspectors": []string{"inspector-1"},
		"due_by": time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)}).Expect(t, 201, &round)

	photo := filepath.Join(t.TempDir(), "IMG_0100.jpg")
	if err := os.WriteFile(photo, testimage.JPEG(testimage.Picture(640, 480), testimage.EXIF{Taken: "2026:12:07 09:10:00"}.Bytes()), 0o644); err != nil {
		t.Fatal(err)
	}
	inspector := c.person(base, "inspector-1", "inspector-pw")
	run(t, inspector, "the field page, online", chromedp.Navigate(base+"/field"), chromedp.WaitVisible(chromedp.CSS(`#net.online`)))
	waitFor(t, inspector, "the service worker in charge", `navigator.serviceWorker.controller !== null`)
	waitFor(t, inspector, "the round's five sites kept", `document.querySelectorAll("#rounds li button").length === 5`)

	cut.offline(t, inspector, true)
	run(t, inspector, "reload, offline", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#net.offline`)))
	waitFor(t, inspector, "the five sites still there", `document.querySelectorAll("#rounds li button").length === 5`)
	for i, site := range sites {
		run(t, inspector, "open "+site, chromedp.Click(chromedp.CSS(`#rounds li[data-site="`+site+`"] button`)), chromedp.WaitVisible(chromedp.CSS(`#inspect`)))
		if i == 0 {
			c.checkA11y(inspector, "a site's checklist")
			run(t, inspector, "a photo of the failure", chromedp.SetUploadFiles(chromedp.CSS(`#photo-1`), []string{photo}))
			// Where the inspector stands, from the phone.
			lat, lon, accuracy := 39.86123, 111.23456, 8.0
			if _, err := chromedp.Call(inspector, browser.SetPermission, browser.SetPermissionParams{
				Permission: &browser.PermissionDescriptor{Name: "geolocation"}, Setting: browser.PermissionSettingGranted, Origin: base,
				BrowserContextID: chromedp.FromContext(inspector).BrowserContextID}); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(inspector, emulation.SetGeolocationOverride,
				emulation.SetGeolocationOverrideParams{Latitude: &lat, Longitude: &lon, Accuracy: &accuracy}); err != nil {
				t.Fatal(err)
			}
			run(t, inspector, "locate", chromedp.Click(chromedp.CSS(`#inspect button[data-locate]`)))
			waitFor(t, inspector, "the position filled in", `document.getElementById("inspect-lat").value === "39.861230"`)
		}
		fail := i < 3 // the bins fail at the first three sites
		get(t, inspector, "answer the checklist", chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
			document.querySelectorAll("#items fieldset.item").forEach(f => {
				const failing = %v && f.dataset.item === "market-bins";
				f.querySelector("input[value=" + (failing ? "fail" : "pass") + "]").checked = true;
				if (failing) f.querySelector("input.note").value = "垃圾桶不足";
			});
			return true;
		})()`, fail)))
		run(t, inspector, "save "+site, chromedp.Click(chromedp.CSS(`#inspect button[type=submit]`)))
		waitFor(t, inspector, site+" saved", `document.querySelector('#rounds li[data-site="`+site+`"] strong.state') !== null`)
	}
	c.screenshot(inspector, "field-round-offline")

	// The network returns; m-2's answer is lost on the way back.
	cut.mu.Lock()
	cut.cut["POST /v1/rounds/"+round.ID+"/sites/m-2/inspection"] = 1
	cut.mu.Unlock()
	cut.offline(t, inspector, false)
	deadline := time.Now().Add(time.Minute)
	for !get(t, inspector, "the round", chromedp.Evaluate[bool](`document.querySelectorAll("#rounds li").length === 0`)) {
		if time.Now().After(deadline) {
			t.Fatalf("sites still on the phone a minute after the network returned: %s", get(t, inspector, "the round", chromedp.Text(chromedp.CSS(`#rounds`))))
		}
		run(t, inspector, "send now", chromedp.Click(chromedp.CSS(`#send`)), chromedp.Sleep(time.Second))
	}
	c.screenshot(inspector, "field-round-sent")
	if n := cut.count("POST /v1/rounds/" + round.ID + "/sites/m-2/inspection"); n < 2 {
		t.Fatalf("m-2's inspection was sent %d times: the one whose answer was lost was not sent again", n)
	}

	// The round is done; three cases, one per failure, the first with its photo.
	got := s.round(round.ID)
	if got.Status != "done" {
		t.Fatalf("the round after the sync: %+v", got)
	}
	var list struct {
		Items []struct {
			Site     string `json:"site"`
			Item     string `json:"item"`
			Evidence []struct {
				Attachment string `json:"attachment"`
			} `json:"evidence"`
		} `json:"items"`
	}
	s.call("GET", "/v1/cases?round="+round.ID, "dev-supervisor", nil).Expect(t, 200, &list)
	bySite := map[string]int{}
	for _, item := range list.Items {
		bySite[item.Site]++
		if item.Item != "market-bins" {
			t.Errorf("a case of item %s at %s", item.Item, item.Site)
		}
		if item.Site == "m-1" && (len(item.Evidence) != 1 || item.Evidence[0].Attachment == "") {
			t.Errorf("m-1's case has evidence %+v, want the photo", item.Evidence)
		}
	}
	if len(list.Items) != 3 || bySite["m-1"] != 1 || bySite["m-2"] != 1 || bySite["m-3"] != 1 {
		t.Fatalf("the round's cases by site: %v, want one at each of m-1, m-2, m-3", bySite)
	}
}
