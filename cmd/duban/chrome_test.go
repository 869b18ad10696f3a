package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chrome is headless Chromium (Debian's chromium) for the browser tests:
// people signed in, each in a browser context of their own, the pages'
// accessibility checked with axe-core when node_modules/axe-core is
// installed (.ci/run installs it), screenshots in artifacts/screenshots.
type chrome struct {
	t     *testing.T
	ctx   context.Context
	axe   []byte
	shots string
}

// newChrome starts Chromium for the test, which it skips without one
// (outside CI), and stops when the test ends.
func newChrome(t *testing.T) *chrome {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed: .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	c := &chrome{t: t, shots: filepath.Join("..", "..", "artifacts", "screenshots")}
	if err := os.MkdirAll(c.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	c.axe, _ = os.ReadFile(filepath.Join("..", "..", "node_modules", "axe-core", "axe.min.js"))
	if c.axe == nil && os.Getenv("CI") != "" {
		t.Fatal("node_modules/axe-core is not installed: .ci/run installs it (npm install axe-core)")
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))...)
	t.Cleanup(cancel)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	t.Cleanup(cancel)
	c.ctx = ctx
	return c
}

// person is one person's browser, signed in at base: a context of its own,
// with its own cookies and storage.
func (c *chrome) person(base, user, password string) context.Context {
	t := c.t
	t.Helper()
	p, _ := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	// The first action on a context opens its tab, which lives as long
	// as that action's context: not a step's, which ends with the step.
	if err := chromedp.Do(p); err != nil {
		t.Fatal(err)
	}
	run(t, p, "sign in as "+user,
		chromedp.Navigate(base+"/lang?to=zh&next=/login"), // whatever the browser's language
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.who`)), // signed in
	)
	return p
}

// anonymous opens a tab for someone not signed in.
func (c *chrome) anonymous(base string) context.Context {
	p, _ := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(p); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// checkA11y runs axe-core's WCAG 2 A and AA rules on the page p shows.
func (c *chrome) checkA11y(p context.Context, name string) {
	t := c.t
	t.Helper()
	if c.axe == nil {
		return
	}
	var result struct {
		Passes     int `json:"passes"`
		Violations []struct {
			ID    string `json:"id"`
			Help  string `json:"help"`
			Nodes []struct {
				Target []any `json:"target"`
			} `json:"nodes"`
		} `json:"violations"`
	}
	run(t, p, "axe on "+name, chromedp.Evaluate[chromedp.Void](string(c.axe)))
	raw := get(t, p, "axe on "+name, chromedp.Evaluate[string](
		`axe.run(document, {runOnly: ["wcag2a", "wcag2aa"]}).then(r => JSON.stringify({passes: r.passes.length, violations: r.violations}))`, chromedp.EvalAwaitPromise))
	if err := json.Unmarshal([]byte(raw), &result); err != nil {
		t.Fatal(err)
	}
	if result.Passes == 0 {
		t.Fatalf("axe on %s checked nothing", name)
	}
	t.Logf("axe on %s: %d rules pass, %d fail", name, result.Passes, len(result.Violations))
	for _, v := range result.Violations {
		t.Errorf("%s: accessibility: %s (%s) at %v", name, v.Help, v.ID, v.Nodes)
	}
}

// screenshot writes the page p shows to artifacts/screenshots/name.png.
func (c *chrome) screenshot(p context.Context, name string) {
	t := c.t
	t.Helper()
	png := get(t, p, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(c.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
