package outbox_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/outbox"
)

// twoUnits is a policy's units and category, for the tests' policies
// that need a second unit.
const twoUnits = `timezone: Asia/Shanghai
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
  - {id: parks, name: {zh: 园林局, en: Parks}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 30m, resolve: 24h, verify: 4h}
`

const honoursPolicy = twoUnits + `honours:
  black_list: {below: 85}
sanctions:
  - {when: black_list, times: 1, action: notice}
subscriptions:
  - {name: sanitation-group, kind: wecom, url_env: WECOM_URL, units: [sanitation], events: [SanctionImposed, SanctionDone]}
  - {name: parks-group, kind: dingtalk, url_env: DINGTALK_URL, units: [parks]}
  - {name: office-bus, kind: webhook, url_env: HOOK_URL, secret_env: HOOK_SECRET}
`

// A bulletin's sanctions reach the work-chat group of each unit (its own
// only) and the office's webhook, as the cases' events do; so does the
// office's follow-up. A webhook receives the sanction as the event's data.
func TestSanctionsTold(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	policy, err := duban.ParsePolicy("honours.yaml", []byte(honoursPolicy))
	if err != nil {
		t.Fatal(err)
	}
	wecom, dingtalk, hook := &robot{}, &robot{}, &receiver{attempts: map[string]int{}}
	wecomSrv, dingtalkSrv, hookSrv := httptest.NewServer(wecom), httptest.NewServer(dingtalk), httptest.NewServer(hook)
	defer wecomSrv.Close()
	defer dingtalkSrv.Close()
	defer hookSrv.Close()
	targets, err := outbox.Targets(policy.Subscriptions, env{"WECOM_URL": wecomSrv.URL + "/send?key=k", "DINGTALK_URL": dingtalkSrv.URL + "/robot/send?access_token=t",
		"HOOK_URL": hookSrv.URL, "HOOK_SECRET": secret}.get)
	if err != nil {
		t.Fatal(err)
	}
	for i := range targets {
		targets[i].AllowPrivate = true
	}
	d := &outbox.Deliverer{Store: s, Targets: targets, Policy: policy, PublicURL: "https://duban.example.gov.cn",
		Poll: 10 * time.Millisecond, Retries: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}, Logger: slog.New(slog.DiscardHandler)}
	// One deliverer runs throughout: stopped between steps, it would leave
	// an attempt it cut short leased (for a minute), not sent again.
	placeCursors(t, s, targets)
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { d.Run(runCtx); close(stopped) }()
	defer func() { stop(); <-stopped }()
	// waitFor waits until done says so, at most 20 s (a receiver that
	// fails each message twice, slowly, takes a while under -race).
	waitFor := func(done func() bool) {
		for deadline := time.Now().Add(20 * time.Second); !done() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	id := open(t, s, 1)
	period := duban.Period{Name: "2026-11", From: time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)}
	b := duban.Bulletin{Period: period, Rows: []duban.UnitRow{{Unit: "sanitation", Rank: new(1), Score: new(80.0)}, {Unit: "parks", Rank: new(2), Score: new(60.0)}}}
	policy.Honour(&b, nil, nil)
	if ok, err := s.PublishBulletin(ctx, b); !ok || err != nil {
		t.Fatalf("published %v %v", ok, err)
	}
	waitFor(func() bool { return len(wecom.texts()) >= 1 && len(dingtalk.texts()) >= 1 })

	got := wecom.texts()
	if len(got) != 1 {
		t.Fatalf("sanitation's group got %d messages, want its sanction's: %v", len(got), got)
	}
	for _, want := range []string{"红黑榜问责", "通报批评", "责任单位：环卫中心", "考核期：2026-11", "第1条：1次上黑榜（2026-11）",
		"https://duban.example.gov.cn/sanctions?status=#2026-11.sanitation"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("sanitation's message lacks %q:\n%s", want, got[0])
		}
	}
	if parks := dingtalk.texts(); len(parks) != 1 || !strings.Contains(parks[0], "园林局") || strings.Contains(parks[0], "环卫中心") {
		t.Fatalf("the parks' group got %v, want its own sanction only", parks)
	}

	sn, err := s.Sanction(ctx, "2026-11.sanitation")
	if err != nil {
		t.Fatal(err)
	}
	done, err := sn.Done(duban.Principal{ID: "supervisor-1", Role: duban.RoleSupervisor}, "已约谈", time.Now().Add(-time.Hour), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSanction(ctx, done); err != nil {
		t.Fatal(err)
	}
	waitFor(func() bool { return len(wecom.texts()) >= 2 && hook.taken() >= 5 })
	if got := wecom.texts(); len(got) != 2 || !strings.Contains(got[1], "问责已落实") || !strings.Contains(got[1], "落实情况：已约谈") {
		t.Fatalf("sanitation's group after the follow-up: %v", got)
	}

	// The office's webhook: the case's two events, then the sanctions'
	// three, each taken once, signed, the sanction as the data.
	var types []string
	var sanctions []duban.Sanction
	seen := map[string]bool{}
	hook.mu.Lock()
	all := slices.Clone(hook.all)
	hook.mu.Unlock()
	for _, m := range all {
		if !m.ok || seen[m.header.Get("webhook-id")] {
			continue
		}
		seen[m.header.Get("webhook-id")] = true
		var msg struct {
			Type string
			Data struct {
				CaseID string `json:"case_id"`
				Data   json.RawMessage
			}
		}
		if err := json.Unmarshal(m.body, &msg); err != nil {
			t.Fatal(err)
		}
		types = append(types, msg.Type)
		if strings.HasPrefix(msg.Type, "Sanction") {
			var sn duban.Sanction
			if err := json.Unmarshal(msg.Data.Data, &sn); err != nil {
				t.Fatal(err)
			}
			if msg.Data.CaseID != duban.SanctionStream(sn.ID) {
				t.Errorf("the sanction's event names stream %s, want %s", msg.Data.CaseID, duban.SanctionStream(sn.ID))
			}
			sanctions = append(sanctions, sn)
		} else if msg.Data.CaseID != id {
			t.Errorf("a case's event of %s", msg.Data.CaseID)
		}
	}
	slices.Sort(types)
	if strings.Join(types, " ") != "CaseDispatched CaseReported SanctionDone SanctionImposed SanctionImposed" {
		t.Fatalf("the webhook took %v", types)
	}
	if len(sanctions) != 3 || sanctions[2].ID != "2026-11.sanitation" || sanctions[2].Status != duban.SanctionDone {
		t.Fatalf("the sanctions the webhook took: %+v", sanctions)
	}
}
