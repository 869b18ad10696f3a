package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/duban/duban/internal/freeport"
)

// The office web in a real browser (Debian's chromium, headless): the day of
// an inspector, a unit's clerk and a supervisor whose board is open the whole
// time, on the whole stack. Screenshots of the board, a case page and the
// inbox are written to artifacts/screenshots; axe-core checks each page's
// accessibility when node_modules/axe-core is installed (.ci/run installs it).

// browserPolicy is shortPolicy with passwords, and deadlines a page can be
// watched through: acknowledge in 6 s, levels 1 and 2 at 0 s and 30 s.
var browserPolicy = "timezone: Asia/Shanghai\n" + strings.NewReplacer(
	"acknowledge: 2s", "acknowledge: 6s",
	"{at: 1s, level: 2}", "{at: 30s, level: 2}",
	"{at: 2s, level: 3}", "{at: 1h, level: 3}",
	"id: inspector-1,", "id: inspector-1, user: inspector-1, password: inspector-pw,",
	"id: sanitation-1,", "id: sanitation-1, user: sanitation-1, password: sanitation-pw,",
	"id: supervisor-1,", "id: supervisor-1, user: supervisor-1, password: supervisor-pw,",
).Replace(shortPolicy)

// xss is typed where people type: none of it may run.
const xss = `<script>window.__xss=1</script><img src=x onerror="window.__xss=1"> "引号"，‘单引号’ & <b>粗</b>`

func TestOfficeWebInABrowser(t *testing.T) {
	c := newChrome(t)
	s := newStack(t, browserPolicy)
	// The API and the worker apart, the API on a port of its own: the API
	// goes away under the open board, and comes back on the same address.
	port, err := freeport.Get()
	if err != nil {
		t.Fatal(err)
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.start("worker")
	api := s.start("api")
	person := func(user, password string) context.Context { return c.person(s.base, user, password) }
	checkA11y, screenshot := c.checkA11y, c.screenshot
	noScriptRan := func(p context.Context, where string) {
		t.Helper()
		if get(t, p, "xss check", chromedp.Evaluate[bool](`window.__xss === 1`)) {
			t.Fatalf("%s: typed text ran as a script", where)
		}
	}

	// The supervisor opens the board, and keeps it open all day. Its
	// minute tick (times drawn again against now, events or not) comes
	// every second once window.__quick is set, for the test not to wait.
	supervisor := person("supervisor-1", "supervisor-pw")
	if _, err := chromedp.Call(supervisor, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `(function () {
			var every = window.setInterval;
			window.setInterval = function (f, ms) {
				if (ms !== 60000) { return every(f, ms); }
				var n = 0;
				return every(function () { if (window.__quick || ++n % 60 === 0) { f(); } }, 1000);
			};
		})()`}); err != nil {
		t.Fatal(err)
	}
	run(t, supervisor, "the board", chromedp.Navigate(s.base+"/board"), chromedp.WaitVisible(chromedp.CSS(`#live.on`)),
		chromedp.Evaluate[chromedp.Void](`window.__sameDocument = true`))
	checkA11y(supervisor, "board")

	// The inspector opens two cases from the street.
	inspector := person("inspector-1", "inspector-pw")
	open := func(description, address string) string {
		t.Helper()
		run(t, inspector, "open a case",
			chromedp.Navigate(s.base+"/cases/new"),
			chromedp.SetValue(chromedp.CSS(`#category`), "littering"),
			chromedp.SendKeys(chromedp.CSS(`#description`), description),
			chromedp.SendKeys(chromedp.CSS(`#address`), address),
			chromedp.SendKeys(chromedp.CSS(`#lat`), "39.865"),
			chromedp.SendKeys(chromedp.CSS(`#lon`), "111.238"),
			submit(`form.card`),
		)
		return get(t, inspector, "the case's id", chromedp.AttributeValue(chromedp.CSS(`[data-live-case]`), "data-live-case")).Value
	}
	checkA11y(inspector, "new case") // the page before the first open is drawn again below
	first := open("塑料袋堆在公交站 "+xss, "人民路 1 号")
	noScriptRan(inspector, "the case page")
	second := open("墙上小广告", "解放路 8 号")
	checkA11y(inspector, "case page")

	// The unit finds both in its inbox and acknowledges the first.
	unit := person("sanitation-1", "sanitation-pw")
	run(t, unit, "the inbox", chromedp.Navigate(s.base+"/inbox"), chromedp.WaitVisible(chromedp.CSS(`table.cases`)))
	inbox := get(t, unit, "the inbox", chromedp.OuterHTML(chromedp.CSS(`table.cases`)))
	if !strings.Contains(inbox, `"/cases/`+first+`"`) || !strings.Contains(inbox, `"/cases/`+second+`"`) {
		t.Fatalf("the inbox shows %q", inbox)
	}
	noScriptRan(unit, "the inbox")
	checkA11y(unit, "inbox")
	screenshot(unit, "inbox")
	run(t, unit, "acknowledge", chromedp.Navigate(s.base+"/cases/"+first),
		submit(`#cmd-acknowledge`))
	if status := get(t, unit, "the status", chromedp.Text(chromedp.CSS(`#summary`))); !strings.Contains(status, "处置中") {
		t.Fatalf("after acknowledging, the case reads %q", status)
	}

	// A third comes in, for the board to show more than one.
	third := open("果皮箱满溢，垃圾散落", "和平路与解放路口")

	// The second case is left alone: the board, never reloaded, shows it
	// overdue at level 1, then at level 2 — which it reaches while the API
	// is down: the board says so, reconnects when the API is back, and
	// catches up. (Level 2 comes 30 s after level 1: the steps above take
	// 10 s on a busy machine.)
	run(t, supervisor, "the board shows the second case at level 1",
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-case=%q].level-1`, second))))
	var secondCase wireCase
	s.call("GET", "/v1/cases/"+second, "dev-supervisor", nil).Expect(t, 200, &secondCase)
	levelTwo := secondCase.Deadlines.AcknowledgeBy.Add(30 * time.Second)
	closing := time.Now()
	if err := api.Close(); err != nil {
		t.Fatalf("the API's shutdown: %v", err)
	}
	if took := time.Since(closing); took > 5*time.Second {
		t.Fatalf("the API took %s to shut down under an open board: its stream held it", took)
	}
	run(t, supervisor, "the board sees the API go", chromedp.WaitVisible(chromedp.CSS(`#live.lost`)))
	time.Sleep(time.Until(levelTwo) + time.Second) // level 2 comes due, recorded by the worker
	s.start("api")
	run(t, supervisor, "the board is back", chromedp.WaitVisible(chromedp.CSS(`#live.on`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-case=%q].level-2`, second))))
	if !get(t, supervisor, "no reload", chromedp.Evaluate[bool](`window.__sameDocument === true`)) {
		t.Fatal("the board was reloaded")
	}
	run(t, supervisor, "the board shows the third case", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-case=%q]`, third))))
	noScriptRan(supervisor, "the board")
	screenshot(supervisor, "board")
	// How long the second case is overdue moves on the open board, though
	// nothing happens to the case (its minutes froze until the board drew
	// itself again each minute).
	lateCell := fmt.Sprintf(`tr[data-case=%q] td:nth-child(9)`, second)
	late := get(t, supervisor, "how late", chromedp.Text(chromedp.CSS(lateCell)))
	run(t, supervisor, "a quick minute", chromedp.Evaluate[chromedp.Void](`window.__quick = true`))
	minute, cancel := context.WithTimeout(supervisor, 90*time.Second)
	defer cancel()
	if _, err := chromedp.Run(minute, chromedp.Poll[bool](fmt.Sprintf(`document.querySelector(%q).textContent !== %q`, lateCell, late),
		chromedp.WithPollingTimeout(80*time.Second))); err != nil {
		t.Fatalf("the second case stays %q overdue on the open board: %v", late, err)
	}

	// The supervisor urges the first case and reassigns it from its page.
	run(t, supervisor, "urge", chromedp.Navigate(s.base+"/cases/"+first),
		chromedp.SendKeys(chromedp.CSS(`#urge-note`), "今天下班前处理完"), submit(`#cmd-urge`))
	run(t, supervisor, "reassign", chromedp.SetValue(chromedp.CSS(`#assign-unit`), "traffic-police"),
		chromedp.SendKeys(chromedp.CSS(`#assign-reason`), "占道，交警负责"), submit(`#cmd-assign`))
	timeline := get(t, supervisor, "the timeline", chromedp.Text(chromedp.CSS(`.timeline`)))
	for _, want := range []string{"催办", "今天下班前处理完", "改派", "交警大队"} {
		if !strings.Contains(timeline, want) {
			t.Fatalf("the timeline lacks %q:\n%s", want, timeline)
		}
	}
	screenshot(supervisor, "case")

	// A refused command says why: the unit's page, drawn before the case
	// was reassigned away, offers a resolve the case no longer allows.
	run(t, unit, "a stale form", chromedp.SendKeys(chromedp.CSS(`#resolve-note`), "已清理"), submit(`#cmd-resolve`))
	if problem := get(t, unit, "the refusal", chromedp.Text(chromedp.CSS(`.problem`))); !strings.Contains(problem, "找不到") {
		t.Fatalf("the refusal reads %q", problem)
	}
	checkA11y(unit, "a refusal")
}

// submit sends the form and waits for the page that answers it.
func submit(form string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](`document.body.dataset.sent = "1"`),
		chromedp.Click(chromedp.CSS(form+` button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`body:not([data-sent]) main h1`)),
	)
}

// run does the browser's steps, failing the test after 30 s.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get returns what the browser's action gives.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(step, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}
