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

// A work chat group's robot (WeCom, DingTalk) shows people one markdown
// message in Chinese per delivery, or one digest of those held outside
// working hours: what happened, to which case, where, whose it is, its
// deadline, and a link to the case's page.

// chatText says deliveries as a group robot's markdown: a title, and a
// paragraph per event.
func (d *Deliverer) chatText(ctx context.Context, ds []Delivery) (title, text string, err error) {
	d.load()
	zh := d.zh
	say := func(key string, args ...any) string {
		msg, _ := zh.T(key, args...)
		return msg
	}
	title = say("chat.title")
	var b strings.Builder
	if len(ds) > 1 {
		title = say("chat.digest", len(ds))
		fmt.Fprintf(&b, "### %s\n\n", title)
	}
	zone := d.zone
	for _, dl := range ds {
		e := dl.Event
		row, err := d.Store.Case(ctx, e.CaseID)
		if err != nil {
			return "", "", err
		}
		c := row.Case
		what := say("event." + string(e.Type))
		switch data := e.Data.(type) {
		case duban.CaseEscalated:
			what += "（" + say("level."+strconv.Itoa(min(data.Level, 3))) + "）"
		case duban.CaseUrged:
			what = say("chat.urged", data.Note)
		}
		cat, _ := d.Policy.Category(c.Category)
		u, _ := d.Policy.Unit(c.Unit)
		category, unit := cmp.Or(cat.Name.In("zh"), c.Category), cmp.Or(u.Name.In("zh"), c.Unit)
		fmt.Fprintf(&b, "**%s**：%s\n", markdown(what), markdown(category))
		if place := strings.TrimSpace(c.Location.Address); place != "" {
			fmt.Fprintf(&b, "> %s：%s\n", say("chat.place"), markdown(place))
		}
		if unit != "" {
			fmt.Fprintf(&b, "> %s：%s\n", say("field.unit"), markdown(unit))
		}
		if stage, deadline, ok := c.RunningStage(); ok {
			fmt.Fprintf(&b, "> %s：%s（%s）\n", say("chat.deadline"), deadline.In(zone).Format("2006-01-02 15:04"), say("stage."+string(stage)))
		}
		fmt.Fprintf(&b, "> [%s](%s/cases/%s)\n\n", say("chat.open"), strings.TrimRight(d.PublicURL, "/"), url.PathEscape(c.ID))
	}
	return title, strings.TrimSpace(b.String()), nil
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
		if d.zone, err = time.LoadLocation(d.Policy.TimeZone); err != nil {
			d.zone = time.UTC
		}
	})
}

// robotAnswer is what both robots answer, with HTTP 200 even to a refusal.
type robotAnswer struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// sendChat posts the message to the group robot. A robot refuses with an
// errcode in a 200 answer: that is a failed attempt too.
func sendChat(ctx context.Context, client *http.Client, t Target, title, text string, now time.Time) (int, time.Duration, error) {
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
