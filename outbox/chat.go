package outbox

import (
	"bytes"
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/messages"
)

// People's subscriptions (a work chat group's robot, WeCom or DingTalk, or
// a mailbox) get one message in Chinese per delivery, or one digest of
// those held outside working hours: what happened, to which case, where,
// whose it is, its deadline, and a link to the case's page.

// notice is what a message says of one event, in Chinese: the lines a
// robot's markdown and a mail's text both show.
type notice struct {
	what, category string
	// facts are "label：value" lines: the case number, the place, the
	// unit, the deadline.
	facts     []string
	open, url string
}

// notices says deliveries in Chinese, with the message's title.
func (d *Deliverer) notices(ctx context.Context, ds []Delivery) (title string, out []notice, err error) {
	d.load()
	say := d.say
	title = say("chat.title")
	if len(ds) > 1 {
		title = say("chat.digest", len(ds))
	}
	history := map[string][]duban.Event{} // each case's events, read once for the message
	for _, dl := range ds {
		e := dl.Event
		if sn, ok := e.Data.(duban.Sanction); ok {
			out = append(out, d.sanctionNotice(sn))
			continue
		}
		events, ok := history[e.CaseID]
		if !ok {
			if events, err = d.Store.Events(ctx, e.CaseID); err != nil {
				return "", nil, err
			}
			history[e.CaseID] = events
		}
		// The message says what the event says: the case as it stood once
		// the event happened (its unit, its deadline), not as it stands
		// when the message goes, maybe the next morning.
		// (A case's versions run 1..n.)
		c := duban.Fold(duban.Case{}, events[:min(int(e.Version), len(events))])
		what := say("event." + string(e.Type))
		switch data := e.Data.(type) {
		case duban.CaseEscalated:
			what += "（" + say("level."+strconv.Itoa(min(data.Level, 3))) + "）"
		case duban.CaseUrged:
			what = say("chat.urged", data.Note)
			if n := d.urgesThatDay(events, e); n > 1 {
				what = say("chat.urged_again", n, data.Note)
			}
		}
		unit := c.Unit
		if a, ok := e.Data.(duban.CaseAssigned); ok {
			unit = a.Unit // the unit it goes to, dispatched by the next event
		}
		cat, _ := d.Policy.Category(c.Category)
		u, _ := d.Policy.Unit(unit)
		n := notice{what: what, category: cmp.Or(cat.Name.In("zh"), c.Category), open: say("chat.open"),
			url: strings.TrimRight(d.PublicURL, "/") + "/cases/" + url.PathEscape(c.ID)}
		if c.Number != "" { // what people say on the phone about it
			n.facts = append(n.facts, say("field.number")+"："+c.Number)
		}
		if place := strings.TrimSpace(c.Location.Address); place != "" {
			n.facts = append(n.facts, say("chat.place")+"："+place)
		}
		if name := cmp.Or(u.Name.In("zh"), unit); name != "" {
			n.facts = append(n.facts, say("field.unit")+"："+name)
		}
		if stage, deadline, ok := c.RunningStage(); ok {
			n.facts = append(n.facts, fmt.Sprintf("%s：%s（%s）", say("chat.deadline"), deadline.In(d.zone).Format("2006-01-02 15:04"), say("stage."+string(stage))))
		}
		out = append(out, n)
	}
	return title, out, nil
}

// say is the Chinese message key formatted with args (d.load first).
func (d *Deliverer) say(key string, args ...any) string {
	msg, _ := d.zh.T(key, args...)
	return msg
}

// sanctionNotice says a sanction a bulletin brought, or its follow-up:
// the action, the unit, the period, why, and a link to the sanctions'
// page.
func (d *Deliverer) sanctionNotice(sn duban.Sanction) notice {
	say := d.say
	u, _ := d.Policy.Unit(sn.Unit)
	n := notice{what: say("event." + string(sn.EventType())), category: say("action." + string(sn.Action)), open: say("chat.open_sanction"),
		url: strings.TrimRight(d.PublicURL, "/") + "/sanctions?status=#" + url.PathEscape(sn.ID)}
	n.facts = append(n.facts, say("field.unit")+"："+cmp.Or(u.Name.In("zh"), sn.Unit), say("bulletin.period")+"："+sn.Period,
		say("sanctions.reason")+"："+d.zh.SanctionReason(sn))
	if f := sn.FollowUp; f != nil {
		n.facts = append(n.facts, say("sanctions.follow_up")+"："+f.Note)
	}
	return n
}

// urgesThatDay counts the urges among events (e's case's), e included, on the business
// day e counts toward (businessDay): repeated reminders are numbered per
// working day, so that the office's third urge of a morning reads so, and
// the one of the night before is counted with the morning that reads it.
func (d *Deliverer) urgesThatDay(events []duban.Event, e duban.Event) int {
	day, n := d.businessDay(e.OccurredAt), 0
	for _, o := range events {
		if o.Type == duban.EventCaseUrged && o.Version <= e.Version && d.businessDay(o.OccurredAt) == day {
			n++
		}
	}
	return n
}

// businessDay is the working day an instant counts toward for people: its
// own day while the policy's business hours are open, else the day they
// next open (what happens at night is read in the morning; at the weekend,
// on Monday). Without business hours, its calendar day.
func (d *Deliverer) businessDay(t time.Time) string {
	if bh := d.Policy.BusinessHours; bh != nil {
		if open, next := bh.OpenAt(t); !open {
			t = next
		}
	}
	return t.In(d.zone).Format(time.DateOnly)
}

// chatMarkdown is a group robot's markdown of notices: a heading for a
// digest, and a paragraph per event.
func chatMarkdown(title string, ns []notice) string {
	var b strings.Builder
	if len(ns) > 1 {
		fmt.Fprintf(&b, "### %s\n\n", title)
	}
	for _, n := range ns {
		fmt.Fprintf(&b, "**%s**：%s\n", markdown(n.what), markdown(n.category))
		for _, f := range n.facts {
			fmt.Fprintf(&b, "> %s\n", markdown(f))
		}
		fmt.Fprintf(&b, "> [%s](%s)\n\n", n.open, n.url)
	}
	return strings.TrimSpace(b.String())
}

// markdown keeps text people typed from being read as markup or links.
func markdown(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "[", "［", "]", "］", "*", "＊", "`", "'", "<", "＜", ">", "＞").Replace(s)
}

// load reads, once, the message catalogue's Chinese and the policy's time
// zone, which chat messages are written in.
func (d *Deliverer) load() {
	d.loaded.Do(func() {
		all, err := messages.Load()
		if err != nil {
			panic("outbox: the embedded message catalogue is invalid: " + err.Error())
		}
		d.zh = all["zh"]
		d.zone = d.Policy.Location()
	})
}

// robotAnswer is what both robots answer, with HTTP 200 even to a refusal.
type robotAnswer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// sendChat posts the message to the group robot. A robot refuses with an
// errcode in a 200 answer: that is a failed attempt too.
func sendChat(ctx context.Context, client *http.Client, t Target, title string, ns []notice, now time.Time) (int, time.Duration, error) {
	text := chatMarkdown(title, ns)
	var payload any
	target := t.URL
	switch t.Kind {
	case duban.SubscriptionWeCom:
		payload = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": text}}
	case duban.SubscriptionDingTalk:
		payload = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": text}}
		if len(t.Key) > 0 {
			target = DingTalkSign(t.URL, t.Key, now)
		}
	default:
		return 0, 0, fmt.Errorf("kind %s is not a group robot", t.Kind)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	wait := retryAfter(res.Header.Get("Retry-After"), now)
	if res.StatusCode/100 != 2 {
		return res.StatusCode, wait, nil
	}
	var a robotAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return res.StatusCode, wait, fmt.Errorf("the robot's answer is not JSON: %.100q", answer)
	}
	if a.ErrCode != 0 {
		return res.StatusCode, wait, fmt.Errorf("the robot refused: errcode %d, %s", a.ErrCode, a.ErrMsg)
	}
	return res.StatusCode, wait, nil
}

// DingTalkSign returns a DingTalk robot's URL signed with its secret (加签):
// timestamp (ms) and sign, the base64 HMAC-SHA256 of "timestamp\nsecret".
func DingTalkSign(robotURL string, secret []byte, now time.Time) string {
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "\n" + string(secret)))
	sign := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	sep := "?"
	if strings.Contains(robotURL, "?") {
		sep = "&"
	}
	return robotURL + sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(sign)
}
