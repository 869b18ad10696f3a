package outbox_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/internal/pgtest"
	"github.com/duban/duban/outbox"
	"github.com/duban/duban/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // 24 bytes, base64

var (
	t0        = time.Now().UTC().Truncate(time.Millisecond)
	inspector = duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}
	unit      = duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}
	terms     = duban.Terms{SLA: duban.SLA{Acknowledge: time.Hour, Resolve: 24 * time.Hour, Verify: time.Hour},
		Calendar: duban.Calendar{Kind: duban.Calendar24x7}}
)

func newStore(t *testing.T) *postgres.Store {
	t.Helper()
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// do decides cmd on case id as stored and appends its events.
func do(t *testing.T, s *postgres.Store, id string, cmd duban.Command) {
	t.Helper()
	doAt(t, s, id, cmd, time.Now())
}

// doAt is do at the instant now.
func doAt(t *testing.T, s *postgres.Store, id string, cmd duban.Command, now time.Time) {
	t.Helper()
	ctx := context.Background()
	stored, err := s.EventsAfter(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := duban.Fold(duban.Case{}, stored)
	events, err := duban.Decide(c, cmd, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, duban.Append{CaseID: id, ExpectedVersion: c.Version, CommandID: cmd.Name() + strconv.Itoa(len(stored)), Events: events, Before: c}); err != nil {
		t.Fatal(err)
	}
}

// placeCursors places each target's cursor at the log's end, as a
// deliverer's first round does: what the test appends next is offered.
// (Placed by a deliverer run for a while instead, a cursor placed late on
// a loaded machine skipped the test's first events.)
func placeCursors(t *testing.T, s *postgres.Store, targets []outbox.Target) {
	t.Helper()
	for _, tg := range targets {
		if _, err := s.Enqueue(context.Background(), tg.Subscription, 500); err != nil {
			t.Fatal(err)
		}
	}
}

func open(t *testing.T, s *postgres.Store, n int) string {
	id := fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", n)
	do(t, s, id, duban.OpenCase{CommandMeta: duban.CommandMeta{By: inspector}, CaseID: id, Category: "littering",
		Severity: duban.SeverityNormal, Description: "bags", Location: duban.Location{Lat: 39.9, Lon: 116.4}, Unit: "sanitation",
		Terms: terms, RequestHash: "h"})
	return id
}

// received is one request the receiver took.
type received struct {
	header http.Header
	body   []byte
	ok     bool
}

// receiver answers 503 to the first two attempts of every message, slowly
// to some, and records everything.
type receiver struct {
	mu       sync.Mutex
	all      []received
	attempts map[string]int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	r.attempts[id]++
	n := r.attempts[id]
	ok := n > 2
	r.all = append(r.all, received{req.Header.Clone(), body, ok})
	r.mu.Unlock()
	if n == 2 {
		time.Sleep(300 * time.Millisecond) // slow, then failing all the same
	}
	if !ok {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// taken counts the messages the receiver took, each once however many
// times it took it.
func (r *receiver) taken() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, m := range r.all {
		if m.ok {
			seen[m.header.Get("webhook-id")] = true
		}
	}
	return len(seen)
}

// Every event reaches the receiver, signed, in order within each case,
// through refusals, slowness and the receiver going away for a while.
func TestDeliveries(t *testing.T) {
	s := newStore(t)
	rcv := &receiver{attempts: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: rcv}}
	srv.Start()
	defer func() { srv.Close() }()

	sub := duban.Subscription{Name: "sink", Kind: duban.SubscriptionWebhook, URL: srv.URL + "/hook", SecretEnv: "SINK_SECRET", AllowPrivate: true}
	targets, err := outbox.Targets([]duban.Subscription{sub}, env{"SINK_SECRET": secret}.get)
	if err != nil {
		t.Fatal(err)
	}
	d := &outbox.Deliverer{Store: s, Targets: targets, Poll: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Retries: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
			200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// The subscription starts at the log's end: what came before is not offered.
	before := open(t, s, 99)
	if _, err := s.Enqueue(ctx, sub, 500); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()

	var ids []string
	for i := range 10 {
		if i == 5 {
			// Once it has taken a delivery, the receiver goes away
			// (connections refused) while cases 5 to 7 are opened, and
			// comes back on the same address.
			for rcv.taken() == 0 {
				time.Sleep(10 * time.Millisecond)
			}
			srv.Close()
			go func() {
				time.Sleep(600 * time.Millisecond)
				l, err := net.Listen("tcp", l.Addr().String())
				if err != nil {
					t.Errorf("the receiver cannot come back: %v", err)
					return
				}
				srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: rcv}}
				srv.Start()
			}()
		}
		if i == 8 {
			time.Sleep(700 * time.Millisecond)
		}
		id := open(t, s, i)
		do(t, s, id, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}})
		do(t, s, id, duban.AddComment{CommandMeta: duban.CommandMeta{By: unit}, Text: "on it"})
		ids = append(ids, id)
	}
	var want []duban.Event
	for _, id := range ids {
		events, err := s.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, events...)
	}
	deadline := time.Now().Add(30 * time.Second)
	for rcv.taken() < len(want) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	<-done

	key, _ := outbox.ParseSecret(secret)
	taken := map[string][]int64{} // case → versions, in the order taken
	seen, repeats := map[string]bool{}, 0
	for _, r := range rcv.all {
		id, ts := r.header.Get("webhook-id"), r.header.Get("webhook-timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			t.Fatalf("webhook-timestamp %q", ts)
		}
		if want := outbox.Sign(key, id, time.Unix(sec, 0), r.body); !hmac.Equal([]byte(want), []byte(r.header.Get("webhook-signature"))) {
			t.Errorf("message %s: signature %q, want %q", id, r.header.Get("webhook-signature"), want)
		}
		var msg struct {
			Type string      `json:"type"`
			Data duban.Event `json:"data"`
		}
		if err := json.Unmarshal(r.body, &msg); err != nil || msg.Data.ID != id || msg.Type != string(msg.Data.Type) {
			t.Fatalf("message %s: %v: %s", id, err, r.body)
		}
		if msg.Data.CaseID == before {
			t.Errorf("an event from before the subscription was offered: %s", msg.Type)
		}
		// Taken again, it is the same message with its webhook-id: at least
		// once allows it when an answer is lost, as it can be when the
		// receiver goes away while answering. The order per case is that
		// of first takes.
		if r.ok && seen[id] {
			repeats++
		} else if r.ok {
			seen[id] = true
			taken[msg.Data.CaseID] = append(taken[msg.Data.CaseID], msg.Data.Version)
		}
	}
	t.Logf("%d messages taken, %d taken again", len(seen), repeats)
	for _, e := range want {
		if !seen[e.ID] {
			t.Errorf("event %s %d of case %s never delivered (%d attempts reached the receiver)", e.Type, e.Version, e.CaseID, rcv.attempts[e.ID])
		}
	}
	for id, versions := range taken {
		if !slices.IsSorted(versions) {
			t.Errorf("case %s's events were taken out of order: %v", id, versions)
		}
	}
	// Up to its first take: an answer lost as the receiver goes away
	// brings the message again after.
	firstTaken := 0
	for _, r := range rcv.all {
		if r.header.Get("webhook-id") == want[0].ID {
			if firstTaken++; r.ok {
				break
			}
		}
	}
	if firstTaken != 3 {
		t.Errorf("the first event was taken at attempt %d, want 3 (two refused)", firstTaken)
	}
	verifyIndependently(t, rcv.all)
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

// verifyIndependently checks the signatures with the Standard Webhooks
// reference library (npm standardwebhooks), when node and the package are
// installed (.ci/run installs them; CI fails without).
func verifyIndependently(t *testing.T, all []received) {
	t.Helper()
	lib := filepath.Join("..", "node_modules", "standardwebhooks")
	if _, err := os.Stat(lib); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node_modules/standardwebhooks is not installed: .ci/run installs it")
		}
		t.Log("standardwebhooks (npm) is not installed: signatures checked by duban's own code only")
		return
	}
	type msg struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	var msgs []msg
	for _, r := range all {
		msgs = append(msgs, msg{map[string]string{"webhook-id": r.header.Get("webhook-id"), "webhook-timestamp": r.header.Get("webhook-timestamp"),
			"webhook-signature": r.header.Get("webhook-signature")}, string(r.body)})
	}
	b, _ := json.Marshal(msgs)
	script := `const { Webhook } = require(process.argv[1]);
const wh = new Webhook(process.argv[2]);
let n = 0;
for (const m of JSON.parse(require("fs").readFileSync(0, "utf8"))) { wh.verify(m.body, m.headers); n++; }
console.log(n);`
	abs, _ := filepath.Abs(lib)
	cmd := exec.Command("node", "-e", script, abs, secret)
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("standardwebhooks refused a signature: %v\n%s", err, out)
	}
	if got := string(out); got != strconv.Itoa(len(msgs))+"\n" {
		t.Fatalf("standardwebhooks verified %q of %d", got, len(msgs))
	}
	// The check can fail: under another secret, it does.
	cmd = exec.Command("node", "-e", script, abs, "whsec_"+base64.StdEncoding.EncodeToString([]byte("another secret, 24 bytes")))
	cmd.Stdin = bytes.NewReader(b)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("standardwebhooks verified the messages under another secret: %s", out)
	}
}

// A receiver that answers 410 Gone disables its subscription; one that
// never takes a delivery leaves it failed after the last retry; a replay
// offers the failed ones again and enables the subscription.
func TestGoneFailedAndReplayed(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var mu sync.Mutex
	answer := http.StatusGone
	var taken []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if answer == http.StatusOK {
			taken = append(taken, r.Header.Get("webhook-id"))
		}
		w.WriteHeader(answer)
	}))
	defer srv.Close()
	run := func(subs ...duban.Subscription) {
		t.Helper()
		targets, err := outbox.Targets(subs, env{"S": secret}.get)
		if err != nil {
			t.Fatal(err)
		}
		d := &outbox.Deliverer{Store: s, Targets: targets, Poll: 10 * time.Millisecond, Retries: []time.Duration{time.Millisecond, time.Millisecond},
			Logger: slog.New(slog.DiscardHandler)}
		runCtx, stop := context.WithTimeout(ctx, time.Second)
		defer stop()
		d.Run(runCtx)
	}
	sub := duban.Subscription{Name: "gone", Kind: duban.SubscriptionWebhook, URL: srv.URL, SecretEnv: "S", AllowPrivate: true}
	if _, err := s.Enqueue(ctx, sub, 500); err != nil { // the cursor starts here
		t.Fatal(err)
	}
	open(t, s, 1)
	run(sub)
	if disabled, err := s.Disabled(ctx, "gone"); err != nil || !disabled {
		t.Fatalf("after a 410 the subscription is disabled: %v, %v", disabled, err)
	}
	failed, err := s.FailedDeliveries(ctx, "gone", 100)
	if err != nil || len(failed) != 1 || failed[0].LastError != "410 Gone" {
		t.Fatalf("failed deliveries after a 410: %+v, %v", failed, err)
	}

	// Answering 500 to every attempt: failed after the last retry, the rest kept.
	mu.Lock()
	answer = http.StatusInternalServerError
	mu.Unlock()
	if n, err := s.Replay(ctx, "gone"); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	open(t, s, 2)
	run(sub)
	failed, _ = s.FailedDeliveries(ctx, "gone", 100)
	if len(failed) < 3 { // case 1's two events, case 2's first; case 2's second waits behind its first
		t.Fatalf("failed deliveries after every retry: %+v", failed)
	}
	for _, f := range failed {
		if f.LastError != "answered 500" || f.Attempts != 3 {
			t.Errorf("a failed delivery: %+v, want three attempts answered 500", f)
		}
	}
	// The receiver is fixed: a replay delivers everything, none twice.
	mu.Lock()
	answer = http.StatusOK
	mu.Unlock()
	if _, err := s.Replay(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	run(sub)
	failed, _ = s.FailedDeliveries(ctx, "gone", 100)
	mu.Lock()
	defer mu.Unlock()
	if len(failed) != 0 || len(taken) != 4 {
		t.Fatalf("after the replay: %d failed, %d taken (%v), want 0 and 4", len(failed), len(taken), taken)
	}
}

// Deliveries go nowhere private unless the subscription allows it, and
// follow no redirect.
func TestOutboundSafety(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.org/", http.StatusFound)
	}))
	defer srv.Close()
	if _, err := outbox.Client(false).Post(srv.URL, "application/json", nil); err == nil {
		t.Fatal("a delivery reached 127.0.0.1 without allow_private")
	}
	res, err := outbox.Client(true).Post(srv.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("a redirect was followed: %d", res.StatusCode)
	}
}

// robot is a work chat's group robot: it records each message and answers
// as the robots do, 200 with an errcode.
type robot struct {
	mu       sync.Mutex
	messages []map[string]any
	queries  []url.Values
	refuse   int // errcode answers left
}

func (r *robot) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var msg map[string]any
	json.NewDecoder(req.Body).Decode(&msg)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse > 0 {
		r.refuse--
		fmt.Fprint(w, `{"errcode": 310000, "errmsg": "keywords not in content"}`)
		return
	}
	r.messages = append(r.messages, msg)
	r.queries = append(r.queries, req.URL.Query())
	fmt.Fprint(w, `{"errcode": 0, "errmsg": "ok"}`)
}

func (r *robot) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.messages {
		md, _ := m["markdown"].(map[string]any)
		text, _ := md["content"].(string)
		if text == "" {
			text, _ = md["text"].(string)
		}
		out = append(out, text)
	}
	return out
}

const chatPolicy = `timezone: Asia/Shanghai
calendar: business
business_hours:
  days: [mon, tue, wed, thu, fri]
  hours: ["08:30-12:00", "14:30-18:00"]
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 30m, resolve: 24h, verify: 4h}
subscriptions:
  - {name: sanitation-group, kind: wecom, url_env: WECOM_URL, units: [sanitation], events: [CaseDispatched, CaseUrged], hours: business}
  - {name: office-group, kind: dingtalk, url_env: DINGTALK_URL, secret_env: DINGTALK_SECRET, events: [CaseDispatched]}
`

// A unit's group hears of its cases in Chinese: a WeCom group kept to
// business hours gets nothing at night and one digest when the day begins;
// a DingTalk group at once, on a signed URL, through a refusal.
func TestChatGroups(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// 22:00 on the night after tomorrow in Shanghai, whatever day the test
	// runs; the next working day a holiday: the messages wait for 08:30 on
	// the working day after it.
	sh, _ := time.LoadLocation("Asia/Shanghai")
	y, m, day := time.Now().In(sh).AddDate(0, 0, 2).Date()
	night := time.Date(y, m, day, 22, 0, 0, 0, sh)
	nextWorkday := func(t time.Time) time.Time {
		for t = t.AddDate(0, 0, 1); t.Weekday() == time.Saturday || t.Weekday() == time.Sunday; t = t.AddDate(0, 0, 1) {
		}
		return t
	}
	holiday := nextWorkday(night)
	after := nextWorkday(holiday)
	morning := time.Date(after.Year(), after.Month(), after.Day(), 8, 30, 0, 0, sh)
	policy, err := duban.ParsePolicy("chat.yaml", []byte(strings.Replace(chatPolicy, "\nunits:", fmt.Sprintf("\nholidays: [%q]\nunits:", holiday.Format(time.DateOnly)), 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, opens := policy.BusinessHours.OpenAt(night); !opens.Equal(morning) {
		t.Fatalf("after %s the calendar opens at %s, want %s (the holiday %s skipped)", night, opens.In(sh), morning, holiday.Format(time.DateOnly))
	}
	wecom, dingtalk := &robot{}, &robot{refuse: 1}
	wecomSrv, dingtalkSrv := httptest.NewServer(wecom), httptest.NewServer(dingtalk)
	defer wecomSrv.Close()
	defer dingtalkSrv.Close()
	targets, err := outbox.Targets(policy.Subscriptions, env{"WECOM_URL": wecomSrv.URL + "/cgi-bin/webhook/send?key=k",
		"DINGTALK_URL": dingtalkSrv.URL + "/robot/send?access_token=t", "DINGTALK_SECRET": "SECdingtalk"}.get)
	if err != nil {
		t.Fatal(err)
	}
	for i := range targets {
		targets[i].AllowPrivate = true // the robots here are on loopback
	}
	// The clock runs from where the test sets it.
	var clock, set time.Time
	var clockMu sync.Mutex
	setClock := func(t time.Time) { clockMu.Lock(); clock, set = t, time.Now(); clockMu.Unlock() }
	setClock(night)
	d := &outbox.Deliverer{Store: s, Targets: targets, Policy: policy, PublicURL: "https://duban.example.gov.cn",
		Poll: 10 * time.Millisecond, Retries: []time.Duration{time.Millisecond}, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock.Add(time.Since(set)) }}
	run := func() {
		runCtx, stop := context.WithTimeout(ctx, 700*time.Millisecond)
		defer stop()
		d.Run(runCtx)
	}
	placeCursors(t, s, targets)
	a, b := open(t, s, 1), open(t, s, 2)
	do(t, s, a, duban.Urge{CommandMeta: duban.CommandMeta{By: duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}}, Note: "今天下班前"})
	run()
	if got := wecom.texts(); len(got) != 0 {
		t.Fatalf("the WeCom group kept to business hours got %d messages at night: %v", len(got), got)
	}
	dt := dingtalk.texts()
	if len(dt) != 2 {
		t.Fatalf("the DingTalk group got %d messages, want one per dispatch (after one refusal): %v", len(dt), dt)
	}
	for _, q := range dingtalk.queries {
		ts, sign := q.Get("timestamp"), q.Get("sign")
		mac := hmac.New(sha256.New, []byte("SECdingtalk"))
		mac.Write([]byte(ts + "\nSECdingtalk"))
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); sign != want || q.Get("access_token") != "t" {
			t.Errorf("DingTalk URL signed %q at %s, want %q", sign, ts, want)
		}
	}

	setClock(morning.Add(-time.Minute)) // the holiday's over, the day not begun
	run()
	if got := wecom.texts(); len(got) != 0 {
		t.Fatalf("the WeCom group got %d messages before the day began: %v", len(got), got)
	}
	setClock(morning)
	run()
	got := wecom.texts()
	if len(got) != 1 {
		t.Fatalf("at %s the WeCom group got %d messages, want one digest: %v", morning.In(sh), len(got), got)
	}
	t.Logf("the morning's digest:\n%s", got[0])
	for _, want := range []string{"非工作时间的 3 条提醒", "派遣", "催办：今天下班前", "乱扔垃圾", "环卫中心", "https://duban.example.gov.cn/cases/" + a, "https://duban.example.gov.cn/cases/" + b} {
		if !strings.Contains(got[0], want) {
			t.Errorf("the digest lacks %q:\n%s", want, got[0])
		}
	}
}

// The office's urges of one case are numbered per working day in the
// unit's group: one made at night counts with the morning that reads it.
func TestUrgesCountedPerWorkingDay(t *testing.T) {
	s := newStore(t)
	policy, err := duban.ParsePolicy("chat.yaml", []byte(strings.Replace(chatPolicy, "  - {name: sanitation-group",
		"  - {name: urges, kind: wecom, url_env: WECOM_URL, events: [CaseUrged]}\n  - {name: sanitation-group", 1)))
	if err != nil {
		t.Fatal(err)
	}
	group := &robot{}
	srv := httptest.NewServer(group)
	defer srv.Close()
	targets, err := outbox.Targets(policy.Subscriptions[:1], env{"WECOM_URL": srv.URL + "/cgi-bin/webhook/send?key=k"}.get)
	if err != nil {
		t.Fatal(err)
	}
	targets[0].AllowPrivate = true
	d := &outbox.Deliverer{Store: s, Targets: targets, Policy: policy, PublicURL: "https://duban.example.gov.cn",
		Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	run := func() {
		ctx, stop := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer stop()
		d.Run(ctx)
	}
	placeCursors(t, s, targets)
	// A Tuesday some weeks ahead, in Shanghai (working hours 08:30-12:00, 14:30-18:00).
	sh, _ := time.LoadLocation("Asia/Shanghai")
	tue := time.Now().In(sh).AddDate(0, 0, 21)
	for tue.Weekday() != time.Tuesday {
		tue = tue.AddDate(0, 0, 1)
	}
	at := func(day, hour int) time.Time {
		return time.Date(tue.Year(), tue.Month(), tue.Day()+day, hour, 0, 0, 0, sh)
	}
	id := fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", 1)
	doAt(t, s, id, duban.OpenCase{CommandMeta: duban.CommandMeta{By: inspector}, CaseID: id, Category: "littering",
		Severity: duban.SeverityNormal, Description: "bags", Location: duban.Location{Lat: 39.9, Lon: 116.4}, Unit: "sanitation",
		Terms: terms, RequestHash: "h"}, at(0, 9))
	supervisor := duban.CommandMeta{By: duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}}
	for _, u := range []struct {
		note      string
		day, hour int
	}{{"tue-10", 0, 10}, {"tue-16", 0, 16}, {"tue-22", 0, 22}, {"wed-09", 1, 9}} {
		doAt(t, s, id, duban.Urge{CommandMeta: supervisor, Note: u.note}, at(u.day, u.hour))
	}
	run()
	want := map[string]string{"tue-10": "催办：tue-10", "tue-16": "催办（本工作日第 2 次）：tue-16",
		"tue-22": "催办：tue-22", "wed-09": "催办（本工作日第 2 次）：wed-09"}
	texts := group.texts()
	if len(texts) != len(want) {
		t.Fatalf("the group got %d messages, want %d: %v", len(texts), len(want), texts)
	}
	for note, line := range want {
		if !slices.ContainsFunc(texts, func(text string) bool { return strings.Contains(text, "**"+line+"**") }) {
			t.Errorf("no message says %q (the urge %s): %v", line, note, texts)
		}
	}
}

// A receiver that hangs on one case's delivery holds that case only:
// another case's events, appended while it hangs, arrive at once; and
// when the receiver recovers, the held case's events arrive all, in order.
func TestSlowCaseHoldsOnlyItself(t *testing.T) {
	s := newStore(t)
	slowCase := fmt.Sprintf("0194f2a0-0000-7000-8000-%012d", 1)
	hanging, release := make(chan struct{}), make(chan struct{})
	var hangOnce, releaseOnce sync.Once
	defer releaseOnce.Do(func() { close(release) })
	var mu sync.Mutex
	var takenIDs []string // event ids, in the order first taken
	takenBy := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Data duban.Event `json:"data"`
		}
		json.NewDecoder(r.Body).Decode(&msg)
		hang := false
		if msg.Data.CaseID == slowCase {
			hangOnce.Do(func() { hang = true })
		}
		if hang {
			// The first attempt of the slow case's first event hangs
			// until released (or until its attempt times out), then fails.
			close(hanging)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		if !takenBy[msg.Data.ID] {
			takenBy[msg.Data.ID] = true
			takenIDs = append(takenIDs, msg.Data.ID)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	targets := webhookTo(t, s, "sink", srv.URL)
	d := &outbox.Deliverer{Store: s, Targets: targets, Poll: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Retries: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()
	work := func(id string) {
		do(t, s, id, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: unit}})
		do(t, s, id, duban.AddComment{CommandMeta: duban.CommandMeta{By: unit}, Text: "on it"})
	}
	waitTaken := func(id string, within time.Duration) []duban.Event {
		t.Helper()
		events, err := s.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(within)
		for {
			mu.Lock()
			n := 0
			for _, e := range events {
				if takenBy[e.ID] {
					n++
				}
			}
			mu.Unlock()
			if n == len(events) {
				return events
			}
			if time.Now().After(deadline) {
				t.Fatalf("case %s: %d of its %d events taken after %s", id, n, len(events), within)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	if open(t, s, 1) != slowCase {
		t.Fatal("the slow case is not case 1")
	}
	work(slowCase)
	select {
	case <-hanging:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow case's first event never reached the receiver")
	}
	other := open(t, s, 2)
	work(other)
	waitTaken(other, 2*time.Second)

	releaseOnce.Do(func() { close(release) })
	slow := waitTaken(slowCase, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	var order []string
	for _, id := range takenIDs {
		if slices.ContainsFunc(slow, func(e duban.Event) bool { return e.ID == id }) {
			order = append(order, id)
		}
	}
	for i, e := range slow {
		if order[i] != e.ID {
			t.Fatalf("the slow case's events were taken out of order: %v, want %v", order, slow)
		}
	}
}

// syncBuffer is a log's output that a test reads while the log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log's records, decoded.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("a log line: %v: %s", err, line)
		}
		out = append(out, r)
	}
	return out
}

// A failed attempt is logged as a warning that names the subscription, the
// case, the event, the attempt, the answer or the error, and when the next
// attempt is; the last, that the delivery is kept as failed, for replay.
func TestFailedAttemptsLogged(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := "http://" + l.Addr().String() + "/hook"
	l.Close() // connections to it are refused
	subs := []duban.Subscription{
		{Name: "failing", Kind: duban.SubscriptionWebhook, URL: srv.URL, SecretEnv: "S", AllowPrivate: true},
		{Name: "refusing", Kind: duban.SubscriptionWebhook, URL: refusing, SecretEnv: "S", AllowPrivate: true},
	}
	for _, sub := range subs { // the cursors start here
		if _, err := s.Enqueue(ctx, sub, 500); err != nil {
			t.Fatal(err)
		}
	}
	targets, err := outbox.Targets(subs, env{"S": secret}.get)
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	retry := 50 * time.Millisecond
	d := &outbox.Deliverer{Store: s, Targets: targets, Poll: 10 * time.Millisecond, Retries: []time.Duration{retry},
		Logger: slog.New(slog.NewJSONHandler(&out, nil))}
	id := open(t, s, 1)
	events, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	first := events[0]
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	// Each subscription's first delivery: two attempts, the last given up.
	deadline := time.Now().Add(10 * time.Second)
	for {
		failed := 0
		for _, sub := range subs {
			f, err := s.FailedDeliveries(ctx, sub.Name, 10)
			if err != nil {
				t.Fatal(err)
			}
			failed += min(len(f), 1)
		}
		if failed == len(subs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deliveries were not given up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done

	found := map[string]bool{}
	for _, r := range out.records(t) {
		if r["level"] != "WARN" || r["event_id"] != first.ID {
			continue
		}
		sub, _ := r["subscription"].(string)
		attempt, _ := r["attempt"].(float64)
		if r["case_id"] != id || r["event_type"] != string(first.Type) {
			t.Errorf("a failed attempt's warning names another case or type: %v", r)
		}
		switch sub {
		case "failing":
			if r["status"] != float64(http.StatusServiceUnavailable) {
				t.Errorf("the warning does not give the answer 503: %v", r)
			}
		case "refusing":
			if e, _ := r["error"].(string); !strings.Contains(e, "connection refused") {
				t.Errorf("the warning does not give the error: %v", r)
			}
		}
		switch attempt {
		case 1:
			next, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["next_attempt_at"]))
			logged, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(r["time"]))
			// The next attempt is retry after the failure, a moment before the log's time.
			if err != nil || next.Sub(logged) > retry || next.Sub(logged) < retry-time.Second {
				t.Errorf("the first attempt's warning gives its next at %v (%v), want %s after %v: %v", r["next_attempt_at"], err, retry, r["time"], r)
			}
		case 2:
			if msg, _ := r["msg"].(string); !strings.Contains(msg, "kept as failed") {
				t.Errorf("the last attempt's warning does not say the delivery is kept as failed: %v", r)
			}
		}
		found[fmt.Sprintf("%s %v", sub, attempt)] = true
	}
	for _, want := range []string{"failing 1", "failing 2", "refusing 1", "refusing 2"} {
		if !found[want] {
			t.Errorf("no warning for subscription %s's attempt %s of event %s: %v", strings.Fields(want)[0], strings.Fields(want)[1], first.ID, out.records(t))
		}
	}
}

// A case's sender starts no attempt its lease could end during: with two
// replicas delivering and a receiver so slow that a case's backlog takes
// longer than the lease, every event is still sent once, one at a time,
// in order — never again by the other replica while the first still sends.
func TestNoAttemptPastTheLease(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var clockMu sync.Mutex
	clock := time.Now().Add(time.Minute) // past when the deliveries are recorded (at the database's time): due
	now := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return clock }
	var mu sync.Mutex
	var got []string // event ids, in the order received
	sending := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if sending {
			t.Errorf("two attempts of the case at once")
		}
		sending = true
		got = append(got, r.Header.Get("webhook-id"))
		mu.Unlock()
		time.Sleep(50 * time.Millisecond) // what the receiver takes, and 20 s on the deliverers' clock
		clockMu.Lock()
		clock = clock.Add(20 * time.Second)
		clockMu.Unlock()
		mu.Lock()
		sending = false
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	targets := webhookTo(t, s, "slow", srv.URL)
	id := open(t, s, 1)
	for range 2 {
		do(t, s, id, duban.AddComment{CommandMeta: duban.CommandMeta{By: unit}, Text: "on it"})
	}
	events, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 4 {
		t.Fatalf("the case has %d events: too few to outlast the lease", len(events))
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 { // two replicas
		d := &outbox.Deliverer{Store: s, Targets: targets, Poll: 10 * time.Millisecond, Now: now, Logger: slog.New(slog.DiscardHandler)}
		wg.Go(func() { d.Run(runCtx) })
	}
	// Until every delivery is recorded as taken: nothing is sent after.
	deadline := time.Now().Add(10 * time.Second)
	for {
		counts, err := s.OutboxCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(events) && counts["slow"][0] == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	wg.Wait()
	var want []string
	for _, e := range events {
		want = append(want, e.ID)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Fatalf("the receiver got %v, want each event once, in order: %v", got, want)
	}
}

// flakyMarks is a store that cannot mark deliveries taken the first time
// it is asked: PostgreSQL restarting the moment a receiver took them.
type flakyMarks struct {
	*postgres.Store
	failed atomic.Bool
}

func (f *flakyMarks) Delivered(ctx context.Context, seqs []int64, at time.Time) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("the database system is starting up")
	}
	return f.Store.Delivered(ctx, seqs, at)
}

// Deliveries the receiver took while the store could not record it are
// recorded on a later pass, not sent again when their lease ends.
func TestTakenRecordedOnceTheStoreIsBack(t *testing.T) {
	s := newStore(t)
	var mu sync.Mutex
	taken := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		taken[r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	targets := webhookTo(t, s, "sink", srv.URL)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	store := &flakyMarks{Store: s}
	d := &outbox.Deliverer{Store: store, Targets: targets, Poll: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { stop(); <-done }()
	id := open(t, s, 1)
	events, err := s.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, _ := s.OutboxCounts(ctx)
		if pending["sink"][0] == 0 && store.failed.Load() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries still pending: %v", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range events {
		if taken[e.ID] != 1 {
			t.Errorf("event %d (%s) was taken %d times, want once", e.Version, e.Type, taken[e.ID])
		}
	}
}

// webhookTo is a webhook subscription name to url, resolved as a target,
// whose cursor starts at the log's end: it is offered what comes next.
func webhookTo(t *testing.T, s *postgres.Store, name, url string) []outbox.Target {
	t.Helper()
	sub := duban.Subscription{Name: name, Kind: duban.SubscriptionWebhook, URL: url, SecretEnv: "S", AllowPrivate: true}
	if _, err := s.Enqueue(context.Background(), sub, 500); err != nil {
		t.Fatal(err)
	}
	targets, err := outbox.Targets([]duban.Subscription{sub}, env{"S": secret}.get)
	if err != nil {
		t.Fatal(err)
	}
	return targets
}

// A message says what its event says: a dispatch sent after the case was
// reassigned names the unit it was dispatched to, not the new one; the
// reassignment, the unit it goes to.
func TestMessagesSayTheCaseAsOfTheEvent(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	policy, err := duban.ParsePolicy("two.yaml", []byte(twoUnits+`subscriptions:
  - {name: office-group, kind: wecom, url_env: WECOM_URL, events: [CaseDispatched, CaseAssigned]}
`))
	if err != nil {
		t.Fatal(err)
	}
	group := &robot{}
	srv := httptest.NewServer(group)
	defer srv.Close()
	targets, err := outbox.Targets(policy.Subscriptions, env{"WECOM_URL": srv.URL + "/cgi-bin/webhook/send?key=k"}.get)
	if err != nil {
		t.Fatal(err)
	}
	targets[0].AllowPrivate = true
	placeCursors(t, s, targets)
	id := open(t, s, 1)
	do(t, s, id, duban.Assign{CommandMeta: duban.CommandMeta{By: duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}},
		Unit: "parks", Reason: "the park's lawn", Units: []string{"sanitation", "parks"}})
	// Both are sent once the case is the parks': the messages go now.
	d := &outbox.Deliverer{Store: s, Targets: targets, Policy: policy, PublicURL: "https://duban.example.gov.cn",
		Poll: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { d.Run(runCtx); close(stopped) }()
	for deadline := time.Now().Add(20 * time.Second); len(group.texts()) < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-stopped
	// The assignment is two events: CaseAssigned, then CaseDispatched to
	// the new unit.
	got := group.texts()
	if len(got) != 3 {
		t.Fatalf("the group got %d messages, want the dispatch's, the assignment's and the new dispatch's: %v", len(got), got)
	}
	for i, want := range []string{"**派遣**：乱扔垃圾\n> 责任单位：环卫中心", "**改派**：乱扔垃圾\n> 责任单位：园林局", "**派遣**：乱扔垃圾\n> 责任单位：园林局"} {
		if !strings.Contains(got[i], want) {
			t.Errorf("message %d:\n%s\nwant it to say\n%s", i+1, got[i], want)
		}
	}
}
