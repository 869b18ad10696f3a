package web_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
	"github.com/duban/duban/blobs"
	"github.com/duban/duban/internal/memstore"
	"github.com/duban/duban/web"
)

// The pages' tests run the office web and the API together over the
// application layer with the in-memory store and engine, as a browser
// does: cookies, forms, redirects. The browser tests (cmd/duban) run them
// in Chromium on the whole stack.

// site is the office web on a clock the test moves.
type site struct {
	t     *testing.T
	url   string
	store *memstore.Store
	app   *app.Service
	mu    sync.Mutex
	now   time.Time
}

func (s *site) clock() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *site) advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
}

func newSite(t *testing.T, configure ...func(*web.Server)) *site {
	st := &site{t: t, store: memstore.New(), now: time.Now()}
	feed := &app.Feed{Store: st.store, Poll: 10 * time.Millisecond}
	files, err := blobs.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := &app.Service{Policy: duban.DefaultPolicy(), Store: st.store, Engine: &memstore.Engine{Store: st.store, Now: st.clock},
		Now: st.clock, Feed: feed, Sessions: st.store, Attachments: st.store, Blobs: files, Sites: st.store, Residents: st.store}
	st.app = svc
	ctx, cancel := context.WithCancel(context.Background())
	go feed.Run(ctx)
	logger := slog.New(slog.DiscardHandler)
	ws := &web.Server{App: svc, Policy: svc.Policy, Logger: logger, Now: st.clock}
	for _, c := range configure {
		c(ws)
	}
	pages, err := ws.Handler()
	if err != nil {
		t.Fatal(err)
	}
	a := &api.Server{Policy: svc.Policy, Cases: svc, Commands: svc, Reports: svc, Streams: svc, Sessions: svc, Attachments: svc, Residents: svc,
		Pages: pages, Logger: logger, Now: st.clock}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { cancel(); srv.Close() })
	st.url = srv.URL
	return st
}

// browser is a person's browser: cookies kept, redirects not followed.
type browser struct {
	t    *testing.T
	site *site
	c    *http.Client
	lang string
	// forwardedFor, when set, is sent as X-Forwarded-For: what a proxy
	// in front of duban adds, or what a client forges.
	forwardedFor string
	// fetchSite is the Sec-Fetch-Site the browser sends: where the page
	// that sends the request comes from ("same-origin" when empty).
	fetchSite string
}

func (s *site) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, site: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	if form == nil {
		return b.send(method, path, nil, "")
	}
	return b.send(method, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
}

// send sends a request with body of contentType (none when empty).
func (b *browser) send(method, path string, body io.Reader, contentType string) page {
	b.t.Helper()
	req, err := http.NewRequest(method, b.site.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Sec-Fetch-Site", cmp.Or(b.fetchSite, "same-origin"))
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	if b.forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", b.forwardedFor)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Header, string(out)}
}

func (b *browser) get(path string) page { b.t.Helper(); return b.do("GET", path, nil) }

// post sends form to action, as a form of duban's own pages.
func (b *browser) post(action string, form url.Values) page {
	b.t.Helper()
	return b.do("POST", action, form)
}

func (b *browser) signIn(user, password string) page {
	b.t.Helper()
	return b.post("/login", url.Values{"user": {user}, "password": {password}})
}

func (s *site) signedIn(user, password string) *browser {
	s.t.Helper()
	b := s.browser()
	if p := b.signIn(user, password); p.status != http.StatusSeeOther {
		s.t.Fatalf("sign in as %s: %d %s", user, p.status, p.body)
	}
	return b
}

// englishProblem is a problem's text a page marks as English: on a
// Chinese page, one the catalogue (messages/refusals.zh.json) lacks.
var englishProblem = regexp.MustCompile(`(?s)<div class="problem" role="alert">.*?<span lang="en">[^<]*</span>`)

func expect(t *testing.T, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status %d, want %d:\n%s", p.status, status, p.body)
	}
	if m := englishProblem.FindString(p.body); m != "" && strings.Contains(p.body, `<html lang="zh`) {
		t.Fatalf("a Chinese page says a problem in English, %s:\n%s", m, p.body)
	}
	for _, c := range contains {
		if !strings.Contains(p.body, c) {
			t.Fatalf("the page lacks %q:\n%s", c, p.body)
		}
	}
}

func TestSignInAndOut(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	if p := b.get("/board"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?next=%2Fboard" {
		t.Fatalf("the board, signed out: %d to %s", p.status, p.header.Get("Location"))
	}
	expect(t, b.signIn("supervisor-1", "wrong password"), http.StatusUnauthorized, "用户名或密码错误")
	b.lang = "en"
	expect(t, b.signIn("supervisor-1", "wrong password"), http.StatusUnauthorized, "wrong user name or password")
	b.lang = ""
	// A sign-in posted by another site's page is refused (login CSRF).
	b.fetchSite = "cross-site"
	expect(t, b.signIn("supervisor-1", "dev-supervisor"), http.StatusForbidden)
	b.fetchSite = ""

	p := b.signIn("SUPERVISOR-1", "dev-supervisor")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/board" {
		t.Fatalf("sign in: %d to %q", p.status, p.header.Get("Location"))
	}
	var cookie string
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, app.SessionCookie+"=") {
			cookie = c
		}
	}
	for _, want := range []string{app.SessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("the session cookie %q lacks %s", cookie, want)
		}
	}
	expect(t, b.get("/board"), http.StatusOK, "督办看板")
	// The session uses the API (the field page sends its reports there).
	expect(t, b.get("/v1/escalations"), http.StatusOK)
	opened := b.send("POST", "/v1/cases", strings.NewReader(`{"category":"littering","description":"a bag by the gate","location":{"lat":39.9,"lon":116.4}}`), "application/json")
	expect(t, opened, http.StatusCreated, `"reporter":"supervisor-1"`)
	b.fetchSite = "cross-site"
	expect(t, b.send("POST", "/v1/cases", strings.NewReader(`{"category":"littering","description":"forged","location":{"lat":39.9,"lon":116.4}}`), "application/json"), http.StatusForbidden)
	b.fetchSite = ""

	// Signing out ends the session for the pages and the API.
	if p := b.post("/logout", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.status)
	}
	if p := b.get("/board"); p.status != http.StatusSeeOther {
		t.Fatalf("the board after signing out: %d", p.status)
	}
}

// Repeated wrong passwords make the next attempt wait, the right one too.
func TestWrongPasswordsAreSlowedDown(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	for range 3 {
		expect(t, b.signIn("inspector-1", "guess"), http.StatusUnauthorized)
	}
	expect(t, b.signIn("inspector-1", "guess"), http.StatusUnauthorized) // the fourth counts, and sets a wait
	expect(t, b.signIn("inspector-1", "dev-inspector"), http.StatusTooManyRequests, "密码错误次数过多：请 ", "秒后再试")
	// Another user is not held back by them.
	if p := s.browser().signIn("inspector-2", "dev-inspector-2"); p.status != http.StatusSeeOther {
		t.Fatalf("another user: %d", p.status)
	}
	s.advance(2 * time.Second)
	if p := b.signIn("inspector-1", "dev-inspector"); p.status != http.StatusSeeOther {
		t.Fatalf("after the wait: %d %s", p.status, p.body)
	}
}

// Behind a reverse proxy every request comes from the proxy's address:
// wrong passwords are counted by the client's address, which only a
// trusted proxy may name, and someone guessing a user's password slows
// only their own tries, never the user's.
func TestSignInBehindAProxy(t *testing.T) {
	// The test's requests come from 127.0.0.1: here, the proxy.
	s := newSite(t, func(w *web.Server) { w.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	guesser := s.browser()
	guesser.forwardedFor = "203.0.113.7"
	for range 4 {
		expect(t, guesser.signIn("inspector-1", "guess"), http.StatusUnauthorized)
	}
	expect(t, guesser.signIn("inspector-1", "dev-inspector"), http.StatusTooManyRequests, "密码错误次数过多")
	// The owner, at the office, signs in: the guesser locked no one out.
	owner := s.browser()
	owner.forwardedFor = "198.51.100.20"
	if p := owner.signIn("inspector-1", "dev-inspector"); p.status != http.StatusSeeOther {
		t.Fatalf("the owner, from another address: %d", p.status)
	}
	// A client's own X-Forwarded-For comes first; the proxy appends the
	// address it saw: the guesser forging the owner's address is still
	// counted at its own.
	guesser.forwardedFor = "198.51.100.20, 203.0.113.7"
	expect(t, guesser.signIn("inspector-1", "dev-inspector"), http.StatusTooManyRequests)
	// Many wrong passwords from one address, for any users, hold back
	// that address only.
	for i := range 21 {
		guesser.signIn(fmt.Sprintf("nobody-%d", i), "guess")
	}
	expect(t, guesser.signIn("supervisor-1", "dev-supervisor"), http.StatusTooManyRequests)
	colleague := s.browser()
	colleague.forwardedFor = "198.51.100.21"
	if p := colleague.signIn("supervisor-1", "dev-supervisor"); p.status != http.StatusSeeOther {
		t.Fatalf("a colleague behind the same proxy, from their own address: %d", p.status)
	}
}

// Without trusted proxies, X-Forwarded-For is anyone's to write: it is
// ignored, and a guesser cannot change address by forging it.
func TestForwardedForIgnoredFromAnyone(t *testing.T) {
	s := newSite(t)
	guesser := s.browser()
	for i := range 5 {
		guesser.forwardedFor = fmt.Sprintf("203.0.113.%d", i+1)
		guesser.signIn("inspector-1", "guess")
	}
	guesser.forwardedFor = "203.0.113.99"
	expect(t, guesser.signIn("inspector-1", "dev-inspector"), http.StatusTooManyRequests)
}

const hostile = `<script>document.title="owned"</script> "quoted" 'single' ＜全角＞，“中文引号”`

// open opens a case from the new-case form and returns its id.
func (b *browser) open(description string) string {
	b.t.Helper()
	p := b.post("/cases/new", url.Values{"key": {description}, "category": {"littering"}, "severity": {"normal"},
		"description": {description}, "address": {`人民路 1 号 <b>bold</b>`}, "area": {"old-town"},
		"location.lat": {"39.86"}, "location.lon": {"111.2"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/cases/") {
		b.t.Fatalf("open: %d %s", p.status, p.body)
	}
	return openedID(b.t, p)
}

// openedID is the id of the case an open's answer leads to, which confirms
// the open on the case's page.
func openedID(t *testing.T, p page) string {
	t.Helper()
	id, ok := strings.CutSuffix(strings.TrimPrefix(p.header.Get("Location"), "/cases/"), "?done=open")
	if !ok {
		t.Fatalf("an open leads to %q, not to its case with a confirmation", p.header.Get("Location"))
	}
	return id
}

// A day's work through the pages: the inspector opens, the unit sees it in
// its inbox and acknowledges, a refused command says why in the page's
// language, and what anyone typed stays text.
func TestADayOnThePages(t *testing.T) {
	s := newSite(t)
	inspector := s.signedIn("inspector-1", "dev-inspector")
	id := inspector.open(hostile)
	if again := inspector.open(hostile); again != id {
		t.Fatalf("the same form sent twice opened %s and %s", id, again)
	}

	unit := s.signedIn("sanitation-1", "dev-sanitation")
	inbox := unit.get("/inbox")
	expect(t, inbox, http.StatusOK, "/cases/"+id)
	casePage := unit.get("/cases/" + id)
	expect(t, casePage, http.StatusOK, `action="/cases/`+id+`/acknowledge"`, "剩余工作时间")
	for _, p := range []page{inbox, casePage, inspector.get("/cases")} {
		if strings.Contains(p.body, "<script>document") || strings.Contains(p.body, "<b>bold") {
			t.Fatalf("typed markup is markup on the page:\n%s", p.body)
		}
	}
	if !strings.Contains(casePage.body, "&lt;script&gt;document.title=&#34;owned&#34;&lt;/script&gt;") ||
		!strings.Contains(casePage.body, "＜全角＞，“中文引号”") {
		t.Fatalf("the description is not shown as its text:\n%s", casePage.body)
	}
	version := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(casePage.body)[1]

	// A form of another site's page: refused, and nothing changes.
	unit.fetchSite = "cross-site"
	expect(t, unit.post("/cases/"+id+"/acknowledge", url.Values{"version": {version}, "key": {"k"}}), http.StatusForbidden)
	unit.fetchSite = ""
	ack := unit.post("/cases/"+id+"/acknowledge", url.Values{"version": {version}, "key": {"k"}})
	if ack.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d %s", ack.status, ack.body)
	}
	// The case page it leads to confirms it, with the case's number.
	expect(t, unit.get(ack.header.Get("Location")), http.StatusOK, `<p class="done" role="status">已签收（`)
	// The office sees whom to call at the unit; the unit itself does not
	// need to.
	expect(t, s.signedIn("supervisor-1", "dev-supervisor").get("/cases/"+id), http.StatusOK, "值班：值班室，电话 0000-0000000")
	if strings.Contains(unit.get("/cases/"+id).body, "值班：") {
		t.Fatal("the unit's page shows its own duty contact")
	}
	// A wrong link keeps the navigation, and the browser finds an icon.
	expect(t, unit.get("/no/such/page"), http.StatusNotFound, `href="/inbox"`, "没有这个页面")
	if p := unit.get("/favicon.ico"); p.status != http.StatusMovedPermanently || p.header.Get("Location") != "/static/icon-192.png" {
		t.Fatalf("favicon: %d %v", p.status, p.header)
	}
	expect(t, unit.get("/cases/"+id), http.StatusOK, "处置中", `action="/cases/`+id+`/resolve"`)

	// A command the state does not allow: the page says so, in its language.
	v2 := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(unit.get("/cases/" + id).body)[1]
	refused := unit.post("/cases/"+id+"/acknowledge", url.Values{"version": {v2}, "key": {"k2"}})
	expect(t, refused, http.StatusConflict, `role="alert"`, "案件当前状态不允许此操作")
	unit.lang = "en-GB,en;q=0.8"
	refused = unit.post("/cases/"+id+"/acknowledge", url.Values{"version": {v2}, "key": {"k3"}})
	expect(t, refused, http.StatusConflict, "The case&#39;s state does not allow this")
	// A page drawn before the case moved on is refused, not applied.
	stale := unit.post("/cases/"+id+"/comments", url.Values{"version": {version}, "key": {"k4"}, "text": {"x"}})
	expect(t, stale, http.StatusNotFound)
	stale = unit.post("/cases/"+id+"/comment", url.Values{"version": {version}, "key": {"k4"}, "text": {"x"}})
	expect(t, stale, http.StatusPreconditionFailed, "The case has changed")
	// Invalid input names its field.
	expect(t, unit.post("/cases/"+id+"/resolve", url.Values{"version": {v2}, "key": {"k5"}}), http.StatusBadRequest, "Note")
}

// A unit sees only its own cases: not another's page, forms or events.
func TestUnitsSeeTheirOwnOnly(t *testing.T) {
	s := newSite(t)
	traffic := s.signedIn("traffic-police-1", "dev-traffic-police")
	stream := traffic.stream(t, "")
	id := s.signedIn("inspector-1", "dev-inspector").open("bins overflowing") // sanitation's
	expect(t, traffic.get("/cases/"+id), http.StatusNotFound)
	expect(t, traffic.post("/cases/"+id+"/acknowledge", url.Values{"version": {"2"}, "key": {"k"}}), http.StatusNotFound)
	expect(t, traffic.get("/v1/cases/"+id), http.StatusNotFound)
	if strings.Contains(traffic.get("/inbox").body, id) || strings.Contains(traffic.get("/cases").body, id) {
		t.Fatal("another unit's case is listed")
	}
	expect(t, traffic.get("/board"), http.StatusForbidden)

	sanitation := s.signedIn("sanitation-1", "dev-sanitation")
	own := sanitation.stream(t, "")
	sanitation.post("/cases/"+id+"/comment", url.Values{"text": {"on our way"}, "key": {"c"}})
	if e := own.next(t); e["case_id"] != id {
		t.Fatalf("sanitation's stream sent %v", e)
	}
	stream.none(t)
}

// sse reads a stream's events.
type sse struct {
	events chan map[string]any
}

func (b *browser) stream(t *testing.T, lastEventID string) *sse {
	t.Helper()
	req, _ := http.NewRequest("GET", b.site.url+"/v1/stream", nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	res, err := b.c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := &sse{events: make(chan map[string]any, 10_000)}
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e map[string]any
				if err := jsonUnmarshal(data, &e); err == nil {
					out.events <- e
				}
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // the stream has its cursor
	return out
}

func (s *sse) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(2 * time.Second):
		t.Fatal("no event on the stream")
	}
	return nil
}

func (s *sse) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-s.events:
		t.Fatalf("the stream sent %v", e)
	case <-time.After(100 * time.Millisecond):
	}
}

// Every page draws in both languages with every text from the catalogue,
// under a policy that allows no inline script.
func TestEveryPageInBothLanguages(t *testing.T) {
	s := newSite(t)
	id := s.signedIn("inspector-1", "dev-inspector").open("bins overflowing")
	s.advance(48 * time.Hour) // overdue on the business calendar, whenever the test runs: on the board
	supervisor := s.signedIn("supervisor-1", "dev-supervisor")
	inspector := s.signedIn("inspector-1", "dev-inspector")
	unit := s.signedIn("sanitation-1", "dev-sanitation")
	pages := []struct {
		b    *browser
		path string
	}{
		{supervisor, "/board"}, {supervisor, "/board?part=board"}, {supervisor, "/cases"}, {supervisor, "/cases?status=dispatched&overdue=true"},
		{supervisor, "/cases/" + id}, {supervisor, "/reports"}, {supervisor, "/reports/sites"}, {supervisor, "/logout"}, {inspector, "/cases/new"},
		{unit, "/inbox"}, {unit, "/cases/" + id}, {unit, "/reports"}, {unit, "/reports/sites"}, {s.browser(), "/login"},
	}
	for _, lang := range []string{"zh-CN", "en"} {
		for _, pg := range pages {
			pg.b.lang = lang
			p := pg.b.get(pg.path)
			if p.status != http.StatusOK {
				t.Fatalf("%s %s: %d\n%s", lang, pg.path, p.status, p.body)
			}
			if m := regexp.MustCompile(`\?[a-z_]+\.[^?\s<]+\?`).FindString(p.body); m != "" {
				t.Errorf("%s %s shows a key with no message: %s", lang, pg.path, m)
			}
			if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("%s: Content-Security-Policy %q", pg.path, csp)
			}
			if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " onclick=") {
				t.Errorf("%s has an inline script", pg.path)
			}
		}
	}
	// The inspectors' figures are on the scorecards' page, for the office.
	supervisor.lang = "zh-CN"
	sh, _ := time.LoadLocation("Asia/Shanghai")
	opened := time.Now().In(sh)
	period := "/reports?from=" + opened.AddDate(0, 0, -1).Format(time.DateOnly) + "&to=" + opened.AddDate(0, 0, 5).Format(time.DateOnly)
	expect(t, supervisor.get(period), http.StatusOK, "按时核查率", `<th scope="row">inspector-1</th><td>1</td>`)
	supervisor.lang = "en"
	board := supervisor.get("/board")
	expect(t, board, http.StatusOK, "Escalation board", `data-case="`+id+`"`, "人民路 1 号 &lt;b&gt;bold&lt;/b&gt;")
	if strings.Contains(board.body, "<b>bold") {
		t.Fatal("an address typed with markup is markup on the board")
	}
	// The switch outlasts the browser's languages.
	supervisor.get("/lang?to=zh&next=/board")
	expect(t, supervisor.get("/board"), http.StatusOK, "督办看板", "一级督办")
	if p := supervisor.get("/lang?to=en&next=//evil.example/"); p.header.Get("Location") != "/" {
		t.Fatalf("the switch sends to %q", p.header.Get("Location"))
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// A stream whose client stops reading holds up no one: the others get every
// event while it sits, its socket full.
func TestAStalledStreamHoldsNoOneUp(t *testing.T) {
	s := newSite(t)
	supervisor := s.signedIn("supervisor-1", "dev-supervisor")
	id := s.signedIn("inspector-1", "dev-inspector").open("bins overflowing")

	// The stalled client: asks for the stream, then never reads a byte.
	u, _ := url.Parse(s.url)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetReadBuffer(4096)
	}
	fmt.Fprintf(conn, "GET /v1/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer dev-supervisor\r\nLast-Event-ID: 1\r\n\r\n", u.Host)

	live := supervisor.stream(t, "")
	long := strings.Repeat("很", 1900) // near 6 KB an event: more than the stalled socket's buffers hold
	const n = 1500
	for i := range n {
		p := supervisor.post("/cases/"+id+"/comment", url.Values{"text": {long}, "key": {strconv.Itoa(i)}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("comment %d: %d", i, p.status)
		}
	}
	deadline := time.After(20 * time.Second)
	for got := 0; got < n; {
		select {
		case e := <-live.events:
			if e["type"] == "CommentAdded" {
				got++
			}
		case <-deadline:
			t.Fatalf("the live stream had %d of %d comments while another stalled", got, n)
		}
	}
}

// A session ends by itself after its lifetime.
func TestSessionsExpire(t *testing.T) {
	s := newSite(t)
	b := s.signedIn("supervisor-1", "dev-supervisor")
	s.advance(app.SessionLifetime - time.Minute)
	expect(t, b.get("/board"), http.StatusOK)
	s.advance(2 * time.Minute)
	if p := b.get("/board"); p.status != http.StatusSeeOther {
		t.Fatalf("the board after the session's lifetime: %d", p.status)
	}
	if p := b.get("/v1/escalations"); p.status != http.StatusUnauthorized {
		t.Fatalf("the API after the session's lifetime: %d", p.status)
	}
}

// Behind a TLS proxy, the session cookie is Secure.
func TestSecureCookieBehindTLS(t *testing.T) {
	s := newSite(t)
	b := s.browser()
	req, _ := http.NewRequest("POST", s.url+"/login", strings.NewReader(url.Values{"user": {"inspector-1"}, "password": {"dev-inspector"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == app.SessionCookie && !c.Secure {
			t.Fatalf("the session cookie over TLS is not Secure: %+v", c)
		} else if c.Name == app.SessionCookie {
			return
		}
	}
	t.Fatalf("no session cookie: %d", res.StatusCode)
}

// A page drawn before duban recorded a warning or an escalation still acts:
// any other change makes it stale, a comment or an urge included
// (duban.Case.Stale: the API's If-Match is judged the same way).
func TestAPageOutlivesDubansOwnSteps(t *testing.T) {
	s := newSite(t)
	id := s.signedIn("inspector-1", "dev-inspector").open("bins overflowing")
	unit := s.signedIn("sanitation-1", "dev-sanitation")
	version := func() string {
		return regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(unit.get("/cases/" + id).body)[1]
	}
	supervisor := s.signedIn("supervisor-1", "dev-supervisor")
	for _, c := range []struct{ name, field, text string }{
		{"suspend", "reason", "施工中"}, {"resume", "note", "施工结束"}, {"comment", "text", "先别动，等园林局"}, {"urge", "note", "今天处理"},
	} {
		seen := version()
		if p := supervisor.post("/cases/"+id+"/"+c.name, url.Values{c.field: {c.text}, "key": {c.name}}); p.status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", c.name, p.status, p.body)
		}
		if c.name != "resume" { // a suspended case's page offers no acknowledge anyway
			expect(t, unit.post("/cases/"+id+"/acknowledge", url.Values{"version": {seen}, "key": {"a-" + c.name}}), http.StatusPreconditionFailed,
				"案件已被他人更新")
		}
	}
	// On to the acknowledge deadline, an hour at a time, whatever day of
	// the business calendar the test runs on (10 hours from a Saturday
	// pass no working time at all).
	seen := version()
	for hours := 1; ; hours++ {
		s.advance(time.Hour)
		a, err := s.app.Execute(context.Background(), id, duban.Tick{CommandMeta: duban.CommandMeta{By: duban.System}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if strconv.FormatInt(a.Case.Version, 10) != seen {
			break
		}
		if hours > 14*24 {
			t.Fatal("no step of the ladder came due in two weeks")
		}
	}
	unit = s.signedIn("sanitation-1", "dev-sanitation") // a session lasts 12 hours
	if p := unit.post("/cases/"+id+"/acknowledge", url.Values{"version": {seen}, "key": {"a2"}}); p.status != http.StatusSeeOther {
		t.Fatalf("acknowledge from a page drawn before duban's own events: %d %s", p.status, p.body)
	}
	expect(t, unit.get("/cases/"+id), http.StatusOK, "处置中")
}

// An office finds its cases: by the number people say on the phone, by a
// word of the description, by who reported them and when; it sees how
// many there are and takes them all as a spreadsheet in its language. An
// area is chosen from the policy's, and one not there is refused with the
// list.
func TestFindingCases(t *testing.T) {
	s := newSite(t)
	inspector := s.signedIn("inspector-1", "dev-inspector")
	first := inspector.open("垃圾桶满溢 near the gate")
	second := inspector.open("小广告 on the bridge")
	year := s.clock().In(shanghai).Year()
	n1, n2 := fmt.Sprintf("%d-000001", year), fmt.Sprintf("%d-000002", year)
	// What routed it is said in the page's language, not as recorded in English.
	expect(t, inspector.get("/cases/"+second), http.StatusOK, "案件编号", n2, "“乱扔垃圾”由环卫中心负责")

	list := inspector.get("/cases")
	expect(t, list, http.StatusOK, "共 2 件", ">"+n1+"</a>", ">"+n2+"</a>", "我上报的", "待我核查", `>老城区</option>`)
	found := inspector.get("/cases?q=" + n1)
	expect(t, found, http.StatusOK, "共 1 件", "/cases/"+first)
	if strings.Contains(found.body, "/cases/"+second) {
		t.Fatalf("a search by number lists another case:\n%s", found.body)
	}
	expect(t, inspector.get("/cases?q=bridge"), http.StatusOK, "共 1 件", "/cases/"+second)
	today := s.clock().In(shanghai).Format(time.DateOnly)
	expect(t, inspector.get("/cases?opened_from="+today+"&opened_until="+today), http.StatusOK, "共 2 件")
	expect(t, inspector.get("/cases?opened_until=2020-01-01"), http.StatusOK, "共 0 件")
	expect(t, inspector.get("/cases?status=resolved&reporter=inspector-1"), http.StatusOK, "共 0 件", "上报人 inspector-1")
	expect(t, inspector.get("/cases?opened_from=2026-13-01"), http.StatusBadRequest, "opened_from")

	csv := inspector.get("/cases.csv?q=bridge")
	if csv.status != http.StatusOK || !strings.HasPrefix(csv.body, "\ufeff案件编号,案件,状态,问题类别") ||
		!strings.Contains(csv.body, n2+","+second+",已派遣,乱扔垃圾,一般,环卫中心,老城区,") || strings.Contains(csv.body, n1) {
		t.Fatalf("CSV %d:\n%s", csv.status, csv.body)
	}

	p := inspector.post("/cases/new", url.Values{"key": {"k"}, "category": {"littering"}, "severity": {"normal"},
		"description": {"x"}, "area": {"老城区"}, "location.lat": {"39.86"}, "location.lon": {"111.2"}})
	expect(t, p, http.StatusBadRequest, "old-town, new-district, riverside, station, university")
	expect(t, inspector.get("/cases/new"), http.StatusOK, `<select id="area" name="area"><option value="">未指定</option>`)
}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// The case page tells the truth about time: outside working hours it says
// the clock is paused and when it starts; a stage done says when and
// whether on time, measured then, not now; a case closed on time shows no
// 已超期 days later; a 24×7 deadline is not said to be working time.
func TestStagesAreMeasuredWhenDone(t *testing.T) {
	s := newSite(t)
	// A Saturday at 10:00 still to come (the browser's cookie jar keeps
	// sessions by the real clock).
	sat := time.Now().In(shanghai).AddDate(0, 0, 1)
	for sat.Weekday() != time.Saturday {
		sat = sat.AddDate(0, 0, 1)
	}
	s.now = time.Date(sat.Year(), sat.Month(), sat.Day(), 10, 0, 0, 0, shanghai)
	monday := s.now.AddDate(0, 0, 2).Format(time.DateOnly)
	inspector := s.signedIn("inspector-1", "dev-inspector")
	unit := s.signedIn("sanitation-1", "dev-sanitation")
	supervisor := s.signedIn("supervisor-1", "dev-supervisor")
	id := inspector.open("周六上报的垃圾")
	expect(t, inspector.get("/cases/"+id), http.StatusOK, "剩余工作时间 30分钟", "非工作时间，计时暂停，"+monday+" 08:30 起算")
	expect(t, supervisor.get("/board"), http.StatusOK, "非工作时间：按工作时间计算的期限暂停计时，"+monday+" 08:30 起算")

	version := func(b *browser) string {
		return regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(b.get("/cases/" + id).body)[1]
	}
	s.advance(46*time.Hour + 40*time.Minute) // Monday 08:40: signed in again, sessions being shorter
	inspector = s.signedIn("inspector-1", "dev-inspector")
	unit = s.signedIn("sanitation-1", "dev-sanitation")
	supervisor = s.signedIn("supervisor-1", "dev-supervisor")
	if p := supervisor.get("/board"); p.status != http.StatusOK || strings.Contains(p.body, "非工作时间") {
		t.Fatal("the board says the clock is paused in working hours")
	}
	expect(t, unit.post("/cases/"+id+"/acknowledge", url.Values{"version": {version(unit)}, "key": {"ack"}}), http.StatusSeeOther)
	s.advance(80 * time.Minute) // 10:00
	expect(t, unit.post("/cases/"+id+"/resolve", url.Values{"version": {version(unit)}, "key": {"fix"}, "note": {"已清理"}}), http.StatusSeeOther)
	s.advance(30 * time.Minute)
	expect(t, inspector.post("/cases/"+id+"/verify", url.Values{"version": {version(inspector)}, "key": {"ok"}, "passed": {"yes"}}), http.StatusSeeOther)

	s.advance(50 * time.Hour) // Wednesday: every deadline long past
	inspector = s.signedIn("inspector-1", "dev-inspector")
	p := inspector.get("/cases/" + id)
	expect(t, p, http.StatusOK, "已结案", "已签收 "+monday+" 08:40 · 按期", "已处置 "+monday+" 10:00 · 按期", "已核查 "+monday+" 10:30 · 按期")
	for _, wrong := range []string{"已超期", "剩余", "计时暂停"} {
		if strings.Contains(p.body, wrong) {
			t.Fatalf("a case closed on time shows %q:\n%s", wrong, p.body)
		}
	}

	// Urgent deadlines count every hour: not "working time".
	urgent := inspector.post("/cases/new", url.Values{"key": {"u"}, "category": {"littering"}, "severity": {"urgent"},
		"description": {"急"}, "location.lat": {"39.86"}, "location.lon": {"111.2"}})
	p = inspector.get(urgent.header.Get("Location"))
	expect(t, p, http.StatusOK, "剩余 10分钟")
	if strings.Contains(p.body, "工作时间") {
		t.Fatalf("a 24×7 deadline is called working time:\n%s", p.body)
	}
}

// Periods read as people say them: the last day included, not the first
// day after; the printed bulletin is headed with the office's name and its
// dates; times are said to be Beijing time.
func TestPeriodsReadAsPeopleSayThem(t *testing.T) {
	s := newSite(t)
	supervisor := s.signedIn("supervisor-1", "dev-supervisor")
	inspector := s.signedIn("inspector-1", "dev-inspector")
	inspector.open("一件案件")
	for _, path := range []string{"/reports?from=2026-12-01&to=2027-01-01", "/reports?from=2026-12-01&until=2026-12-31"} {
		p := supervisor.get(path)
		expect(t, p, http.StatusOK, "各单位综合评价 2026-12-01 – 2026-12-31", `name="until" type="date" value="2026-12-31"`, "时间均为北京时间")
		if strings.Contains(p.body, "2027-01-01</caption>") {
			t.Fatalf("%s ends its period on the day after it", path)
		}
	}
	expect(t, supervisor.get("/reports?from=2026-12-01&until=2026-12-32"), http.StatusBadRequest)
	// The scorecards' CSV from a Chinese page is in Chinese, units by name.
	csv := supervisor.get("/reports/units.csv?from=2026-12-01&to=2027-01-01")
	if !strings.HasPrefix(csv.body, "\ufeff责任单位,排名,综合得分,派遣数,") || !strings.Contains(csv.body, "\n环卫中心,") {
		t.Fatalf("the Chinese page's CSV:\n%s", csv.body)
	}
	supervisor.lang = "en"
	if csv := supervisor.get("/reports/units.csv?from=2026-12-01&to=2027-01-01"); !strings.HasPrefix(csv.body, "\ufeffunit,rank,score,") {
		t.Fatalf("the English page's CSV:\n%s", csv.body)
	}
	supervisor.lang = ""
	dec := duban.Period{Name: "2026-12", From: time.Date(2026, 12, 1, 0, 0, 0, 0, shanghai), To: time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai)}
	if _, err := s.store.PublishBulletin(context.Background(), duban.Bulletin{Period: dec, PublishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	expect(t, supervisor.get("/reports/bulletins/2026-12"), http.StatusOK, "创建全国文明城市工作督办室", "2026-12（2026-12-01 至 2026-12-31）")
}

// A supervisor lists a case from its page: a plate hangs on it, it leads
// the board overdue or not, and lists mark it; delisted, it leaves the
// board's top.
func TestPlatesLeadTheBoard(t *testing.T) {
	s := newSite(t)
	id := s.signedIn("inspector-1", "dev-inspector").open("垃圾又堆在菜场门口")
	office := s.signedIn("supervisor-1", "dev-supervisor")
	page := office.get("/cases/" + id)
	expect(t, page, http.StatusOK, `action="/cases/`+id+`/list"`)
	if strings.Contains(page.body, `action="/cases/`+id+`/delist"`) {
		t.Fatal("a case not listed offers its delisting")
	}
	version := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(page.body)[1]
	listed := office.post("/cases/"+id+"/list", url.Values{"version": {version}, "key": {"l1"}, "reason": {"本月第三次"}})
	if listed.status != http.StatusSeeOther {
		t.Fatalf("list: %d %s", listed.status, listed.body)
	}
	expect(t, office.get(listed.header.Get("Location")), http.StatusOK, "已挂牌督办", `<span class="plate">挂牌</span>`, `action="/cases/`+id+`/delist"`)
	board := office.get("/board")
	expect(t, board, http.StatusOK, `<table class="cases plates">`, "挂牌督办（1 件）", `data-case="`+id+`"`)
	expect(t, office.get("/cases"), http.StatusOK, `<span class="plate">挂牌</span>`)

	page = office.get("/cases/" + id)
	version = regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(page.body)[1]
	if p := office.post("/cases/"+id+"/delist", url.Values{"version": {version}, "key": {"d1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("delist: %d %s", p.status, p.body)
	}
	if strings.Contains(office.get("/board").body, "plates") {
		t.Fatal("a delisted case still leads the board")
	}
}

// The sites tab of the reports: each site type's coverage, scores and the
// items failed most, each item opening its cases; the worst sites; a CSV
// in the page's language.
func TestSiteReportPage(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	admin := duban.Principal{ID: "admin-1", Role: duban.RoleAdmin}
	for _, id := range []string{"m-1", "m-2"} {
		if _, _, err := s.app.CommandSite(ctx, duban.SiteCommand{By: admin, Kind: duban.RegisterSite, SiteID: id, Fields: duban.SiteFields{
			Name: "农贸市场 " + id, Type: "market", Area: "old-town", Location: duban.Location{Lat: 39.86, Lon: 111.2}}}); err != nil {
			t.Fatal(err)
		}
	}
	round, _, err := s.app.PlanRound(ctx, duban.PlanRound{By: duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}, Name: "明查",
		DueBy: s.clock().Add(48 * time.Hour), Inspectors: []string{"inspector-1"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	var items []duban.ItemAnswer
	for _, it := range must(s.app.Policy.SiteType("market")).Items {
		result := duban.ResultPass
		if it.Code == "market-scale" {
			result = duban.ResultFail
		}
		items = append(items, duban.ItemAnswer{Item: it.Code, Result: result})
	}
	if _, err := s.app.Inspect(ctx, round.ID, "m-1", duban.InspectSite{By: duban.Principal{ID: "inspector-1", Role: duban.RoleInspector},
		At: s.clock(), Location: duban.Location{Lat: 39.86, Lon: 111.2}, Items: items}); err != nil {
		t.Fatal(err)
	}
	office := s.signedIn("supervisor-1", "dev-supervisor")
	sh, _ := time.LoadLocation("Asia/Shanghai")
	from, until := s.clock().In(sh).AddDate(0, 0, -1).Format(time.DateOnly), s.clock().In(sh).AddDate(0, 0, 1).Format(time.DateOnly)
	page := office.get("/reports/sites?from=" + from + "&until=" + until)
	expect(t, page, http.StatusOK, `<th scope="row">农贸市场</th>`, "<td>2</td><td>1</td><td>50.0%</td><td>1</td>\n<td>98.0</td><td>100.0%</td>",
		`<a href="/cases?item=market-scale&amp;opened_from=`+from+`&amp;opened_until=`+until+`">设置公平秤 ×1</a>`, "得分最低的点位", `<a href="/cases?site=m-1">m-1</a>`)
	expect(t, office.get("/cases?item=market-scale&opened_from="+from+"&opened_until="+until), http.StatusOK, "共 1 件")
	csv := office.get("/reports/sites.csv?from=" + from + "&until=" + until)
	expect(t, csv, http.StatusOK, "点位类型,点位数,已测评点位数", "农贸市场,2,1,0.5,1,1,98,1,设置公平秤 ×1")
}

func must[T any](v T, ok bool) T {
	if !ok {
		panic("not found")
	}
	return v
}

// The map (一张图) draws the policy's areas, the active sites and the open
// cases by escalation level, listed ones ringed, each a link; the office
// only; its live region alone with ?part=map.
func TestMapPage(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	if _, _, err := s.app.CommandSite(ctx, duban.SiteCommand{By: duban.Principal{ID: "admin-1", Role: duban.RoleAdmin}, Kind: duban.RegisterSite,
		SiteID: "m-1", Fields: duban.SiteFields{Name: "东关市场", Type: "market", Area: "old-town", Location: duban.Location{Lat: 39.86, Lon: 111.23}}}); err != nil {
		t.Fatal(err)
	}
	inspector := s.signedIn("inspector-1", "dev-inspector")
	onTime := inspector.open("刚发现的垃圾")
	late := inspector.open("放了好几天的垃圾")
	office := s.signedIn("supervisor-1", "dev-supervisor")
	version := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(office.get("/cases/" + late).body)[1]
	office.post("/cases/"+late+"/list", url.Values{"version": {version}, "key": {"l"}, "reason": {"反复"}})
	closed := inspector.open("已经处理的")
	version = regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(office.get("/cases/" + closed).body)[1]
	office.post("/cases/"+closed+"/cancel", url.Values{"version": {version}, "key": {"c"}, "reason": {"重复"}, "outcome": {"invalid"}})

	page := office.get("/map")
	expect(t, page, http.StatusOK, `<svg class="map" viewBox="0 0 1000 `, `<path class="area" d="M`, `>老城区</text>`,
		`<a href="/cases?site=m-1" data-site="m-1"`, `data-case="`+onTime+`"`, `data-case="`+late+`"`, `<circle class="plate-ring"`,
		`<span class="n">2</span> 未升级督办`)
	if strings.Contains(page.body, closed) {
		t.Fatal("the map draws a case that is over")
	}
	part := office.get("/map?part=map")
	expect(t, part, http.StatusOK, `data-case="`+onTime+`"`)
	if strings.Contains(part.body, "<nav") {
		t.Fatal("the live region comes with the page around it")
	}
	expect(t, inspector.get("/map"), http.StatusForbidden)
}

// Under a city's tile server named in the policy, the map is drawn in Web
// Mercator over its tiles, with their attribution, and the page may load
// images from that server and no other.
func TestMapOverACitysTiles(t *testing.T) {
	s := newSite(t)
	s.app.Policy.Map = &duban.MapTiles{Tiles: "https://tiles.example.gov.cn/{z}/{x}/{y}.png", Attribution: "底图 © 市测绘院"}
	id := s.signedIn("inspector-1", "dev-inspector").open("门口垃圾")
	page := s.signedIn("supervisor-1", "dev-supervisor").get("/map")
	expect(t, page, http.StatusOK, `<image href="https://tiles.example.gov.cn/`, "底图 © 市测绘院", `data-case="`+id+`"`, `class="area over-tiles"`)
	if n := strings.Count(page.body, "<image "); n < 4 || n > 40 {
		t.Errorf("%d tiles under a map 1,000 wide", n)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://tiles.example.gov.cn;") {
		t.Errorf("the map's Content-Security-Policy: %q", csp)
	}
}

// A form posted to duban from another site is refused at every door,
// whatever it carries: the browser says where it comes from (Sec-Fetch-Site,
// or Origin where a browser sends no Sec-Fetch-Site).
func TestCrossOriginPostsRefusedAtEveryDoor(t *testing.T) {
	s := newSite(t)
	signedIn := s.signedIn("inspector-1", "dev-inspector")
	doors := []string{"/login", "/logout", "/cases/new", "/v1/cases", "/open311/v2/requests.json", "/v1/public/reports"}
	for _, door := range doors {
		for _, from := range []http.Header{{"Sec-Fetch-Site": {"cross-site"}}, {"Origin": {"https://evil.example"}}} {
			req, err := http.NewRequest("POST", s.url+door, strings.NewReader("user=inspector-1&password=dev-inspector"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer dev-inspector")
			maps.Copy(req.Header, from)
			res, err := signedIn.c.Do(req) // with the session's cookie, as a browser sends it
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "another site") {
				t.Errorf("POST %s with %v: %d %s, want 403", door, from, res.StatusCode, body)
			}
		}
	}
	// From duban's own pages the browser says same-origin, and its Origin
	// is duban's: the post goes on.
	req, _ := http.NewRequest("POST", s.url+"/v1/cases", strings.NewReader(`{"category": "littering", "severity": "normal",
		"description": "bags", "location": {"lat": 39.86, "lon": 111.2}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer dev-inspector")
	req.Header.Set("Idempotency-Key", "same-origin-open")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", s.url)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("an open from duban's own origin: %d %s", res.StatusCode, body)
	}
}
