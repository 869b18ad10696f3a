package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/messages"
)

// Target is a subscription with what its delivery needs from the
// environment: its URL and its signing key.
type Target struct {
	duban.Subscription
	URL string
	Key []byte
	// RootCAs, when set, are the authorities a mail server's certificate
	// is checked against instead of the system's (a test's own).
	RootCAs *x509.CertPool
}

// Targets resolves the policy's subscriptions against the environment
// (getenv): each one's URL (url or url_env) and its secret (secret_env: a
// webhook's whsec_<base64>, a DingTalk robot's signing secret). A variable
// missing or malformed is an error that names it.
func Targets(subs []duban.Subscription, getenv func(string) string) ([]Target, error) {
	var out []Target
	for _, s := range subs {
		t := Target{Subscription: s, URL: s.URL}
		if s.URLEnv != "" {
			if t.URL = getenv(s.URLEnv); t.URL == "" {
				return nil, fmt.Errorf("subscription %s: %s is not set (its URL)", s.Name, s.URLEnv)
			}
			if err := duban.CheckDeliveryURL(s.Kind, t.URL); err != nil {
				return nil, fmt.Errorf("subscription %s: %s: %s", s.Name, s.URLEnv, duban.ErrorMessage(err))
			}
		}
		switch {
		case s.Kind == duban.SubscriptionWebhook:
			key, err := ParseSecret(getenv(s.SecretEnv))
			if err != nil {
				return nil, fmt.Errorf("subscription %s: %s: %v", s.Name, s.SecretEnv, err)
			}
			t.Key = key
		case s.SecretEnv != "":
			if t.Key = []byte(getenv(s.SecretEnv)); len(t.Key) == 0 {
				return nil, fmt.Errorf("subscription %s: %s is not set (the robot's signing secret, or the mail server's password)", s.Name, s.SecretEnv)
			}
		case s.Kind == duban.SubscriptionEmail && namesUser(t.URL):
			return nil, fmt.Errorf("subscription %s: the mail server's URL names a user: give its password in secret_env", s.Name)
		}
		out = append(out, t)
	}
	return out, nil
}

// namesUser reports whether a mail server's URL names a user to sign in as.
func namesUser(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.User != nil
}

// ParseSecret reads a Standard Webhooks secret, whsec_<base64>: the key is
// the decoded bytes.
func ParseSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New("not set, or not a secret of the form whsec_<base64>")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 16 {
		return nil, errors.New("the secret after whsec_ must be at least 16 bytes in base64")
	}
	return key, nil
}

// Sign returns the webhook-signature of a message, as Standard Webhooks
// define it: v1, and the base64 HMAC-SHA256 of "id.timestamp.body".
func Sign(key []byte, id string, timestamp time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, timestamp.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Deliverer sends each target's deliveries.
type Deliverer struct {
	Store   Store
	Targets []Target
	// Policy names categories and units in chat messages, and keeps the
	// business hours; PublicURL is where the office pages are, for the
	// messages' links to cases.
	Policy    *duban.Policy
	PublicURL string
	Logger    *slog.Logger
	// Poll is how often a subscription idle is looked at again (default
	// 250 ms): the most a new event waits.
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Retries are the waits between attempts (default duban.DeliveryRetries).
	Retries []time.Duration

	loaded sync.Once
	zh     messages.Catalog
	zone   *time.Location
}

const (
	// attemptTimeout bounds one attempt: connecting, sending, the answer.
	attemptTimeout = 15 * time.Second
	// lease is how long an attempt keeps its delivery from being sent
	// again: longer than an attempt can take.
	lease = time.Minute
	// maxAnswer is how much of a receiver's answer is read.
	maxAnswer = 64 << 10
)

func (d *Deliverer) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

// Run delivers until ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Poll <= 0 {
		d.Poll = 250 * time.Millisecond
	}
	var wg sync.WaitGroup
	for _, t := range d.Targets {
		wg.Go(func() { d.follow(ctx, t) })
	}
	wg.Wait()
}

// follow records and sends one subscription's deliveries until ctx ends:
// a webhook's case by case (followCases), a chat group's or a mailbox's
// in rounds, one message after the other.
func (d *Deliverer) follow(ctx context.Context, t Target) {
	client := Client(t.AllowPrivate)
	logger := d.Logger.With("subscription", t.Name)
	if !t.ForPeople() {
		d.followCases(ctx, client, t, logger)
		return
	}
	failing := false
	for ctx.Err() == nil {
		sent, err := d.round(ctx, client, t)
		failing = d.storeFailing(ctx, logger, failing, err)
		if sent == 0 || err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(d.Poll):
			}
		}
	}
}

// storeFailing logs err, when it starts a run of errors reading or
// recording deliveries (the first after a success, not each), and returns
// whether the run goes on.
func (d *Deliverer) storeFailing(ctx context.Context, logger *slog.Logger, failing bool, err error) bool {
	if err != nil && !failing && ctx.Err() == nil {
		logger.Warn("outbox: cannot read or record deliveries", "error", err)
	}
	return err != nil
}

// enqueue records the deliveries the log has for t, past its cursor, and
// says whether the subscription is disabled.
func (d *Deliverer) enqueue(ctx context.Context, t Target) (disabled bool, err error) {
	if disabled, err := d.Store.Disabled(ctx, t.Name); err != nil || disabled {
		return disabled, err
	}
	for {
		n, err := d.Store.Enqueue(ctx, t.Subscription, 500)
		if err != nil || n < 500 {
			return false, err
		}
	}
}

// round records what the log has for t, a chat group or a mailbox, and
// sends what is due; it returns how many deliveries it sent.
func (d *Deliverer) round(ctx context.Context, client *http.Client, t Target) (int, error) {
	if disabled, err := d.enqueue(ctx, t); err != nil || disabled {
		return 0, err
	}
	return d.roundForPeople(ctx, client, t)
}

// roundForPeople sends a chat group what is due: a message each, or, for a
// subscription kept to business hours, nothing while they are closed, and
// what was held as one digest once they open.
func (d *Deliverer) roundForPeople(ctx context.Context, client *http.Client, t Target) (int, error) {
	held := t.Hours == duban.HoursBusiness
	if held {
		if open, _ := d.Policy.BusinessHours.OpenAt(d.now()); !open {
			return 0, nil
		}
	}
	due, err := d.Store.Claim(ctx, t.Name, d.now(), lease, 50, false)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	batches := [][]Delivery{due}
	if !held {
		batches = batches[:0]
		for _, dl := range due {
			batches = append(batches, []Delivery{dl})
		}
	}
	var errs []error
	var taken []int64
	for _, batch := range batches {
		title, ns, err := d.notices(ctx, batch)
		if err != nil { // sent again when the lease ends
			errs = append(errs, err)
			continue
		}
		var status int
		var wait time.Duration
		if t.Kind == duban.SubscriptionEmail {
			// The first event's id: a repeat of the message keeps it.
			if err = sendMail(ctx, t, batch[0].Event.ID, title, ns, d.now()); err == nil {
				status = http.StatusOK
			}
		} else {
			status, wait, err = sendChat(ctx, client, t, title, ns, d.now())
		}
		for _, dl := range batch {
			ok, serr := d.settle(ctx, t, dl, status, wait, err)
			if ok {
				taken = append(taken, dl.Seq)
			}
			errs = append(errs, serr)
		}
	}
	// Those it cannot mark are sent again when their lease ends, with the
	// same ids: at least once.
	_, err = d.record(ctx, taken, nil)
	return len(due), errors.Join(append(errs, err)...)
}

// settle records an attempt's outcome: tried again later (after the retry
// schedule's wait, or longer if the receiver asked), given up, or, for
// 410 Gone, the subscription disabled; a failed attempt is logged as a
// warning, with when the next is. A delivery taken it only reports: those
// are recorded together, in one statement.
func (d *Deliverer) settle(ctx context.Context, t Target, dl Delivery, status int, retryAfter time.Duration, err error) (bool, error) {
	now := d.now()
	switch {
	case took(status, err):
		return true, nil
	case err == nil && status == http.StatusGone:
		d.Logger.Warn("outbox: the receiver answered 410 Gone: the subscription is disabled until a replay", "subscription", t.Name)
		if err := d.Store.Disable(ctx, t.Name, "the receiver answered 410 Gone"); err != nil {
			return false, err
		}
		return false, d.Store.GiveUp(ctx, dl.Seq, dl.Attempt, "410 Gone")
	}
	reason, answer := fmt.Sprintf("answered %d", status), slog.Int("status", status)
	if err != nil {
		reason, answer = err.Error(), slog.String("error", err.Error())
	}
	logger := d.Logger.With("subscription", t.Name, "case_id", dl.Event.CaseID, "event_id", dl.Event.ID,
		"event_type", dl.Event.Type, "attempt", dl.Attempt, answer)
	retries := d.Retries
	if retries == nil {
		retries = duban.DeliveryRetries
	}
	if dl.Attempt > len(retries) {
		logger.Warn("outbox: a delivery's last attempt failed: it is kept as failed, for replay")
		return false, d.Store.GiveUp(ctx, dl.Seq, dl.Attempt, reason)
	}
	next := now.Add(max(retries[dl.Attempt-1], min(retryAfter, 24*time.Hour)))
	logger.Warn("outbox: a delivery's attempt failed: it is tried again", "next_attempt_at", next)
	return false, d.Store.Retry(ctx, dl.Seq, dl.Attempt, next, reason)
}

// took says whether an attempt's outcome is the receiver taking it.
func took(status int, err error) bool {
	return err == nil && status >= 200 && status < 300
}

// message is a webhook's body: Standard Webhooks' shape.
type message struct {
	Type      duban.EventType `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      duban.Event     `json:"data"`
}

// send posts e to t, signed, and returns the answer's status and the wait
// its Retry-After asks for.
func send(ctx context.Context, client *http.Client, t Target, e duban.Event, now time.Time) (int, time.Duration, error) {
	body, err := json.Marshal(message{Type: e.Type, Timestamp: e.OccurredAt, Data: e})
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "duban")
	req.Header.Set("webhook-id", e.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(t.Key, e.ID, now, body))
	res, err := client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer))
	return res.StatusCode, retryAfter(res.Header.Get("Retry-After"), now), nil
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Client returns the HTTP client deliveries go out with: no redirects
// followed (a 3xx is a failed attempt), no proxy from the environment, a
// 15 s bound on an attempt, and, unless allowPrivate, no connection to a
// loopback, private, link-local or unspecified address — checked on the
// address connected to, after the name is resolved, so that a name that
// resolves inside the network is refused too.
func Client(allowPrivate bool) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DialContext: dialer(allowPrivate).DialContext, TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute},
		Timeout:       attemptTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialer connects deliveries (HTTP and SMTP): unless allowPrivate, to no
// loopback, private, link-local or unspecified address.
func dialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if a := ap.Addr().Unmap(); a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
				a.IsUnspecified() || a.IsMulticast() {
				return fmt.Errorf("%s is a loopback, private or local address: the subscription does not allow_private", a)
			}
			return nil
		}
	}
	return d
}
