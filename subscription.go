package duban

import (
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// Subscription is a party outside duban that is offered its events, in the
// order of the log, each at least once: a machine that takes a webhook, or
// a work chat group's robot (WeCom, DingTalk) or a mailbox that shows people
// a message in Chinese.
type Subscription struct {
	Name string
	Kind string // SubscriptionWebhook, SubscriptionWeCom, SubscriptionDingTalk or SubscriptionEmail
	// URL is where deliveries go, or URLEnv the environment variable that
	// holds it (a robot's URL holds its key: always URLEnv; mail goes
	// through the SMTP server at smtp://[user@]host[:port] or smtps://...);
	// SecretEnv the variable holding the secret: a webhook's
	// whsec_<base64>, a DingTalk robot's 加签 secret, the SMTP user's
	// password. Secrets never sit in the policy file.
	URL, URLEnv, SecretEnv string
	// From and To are a mail subscription's sender and recipients.
	From string
	To   []string
	// PlaintextRelay lets mail go unencrypted to an smtp:// server that
	// offers no STARTTLS: a relay on the same host or private network,
	// said so on purpose. Without it such a server is refused, so that
	// no one on the path can strip STARTTLS from the server's answer and
	// read the mail.
	PlaintextRelay bool
	// Events and Units, when given, narrow what is offered: those event
	// types, of cases assigned to those units.
	Events []EventType
	Units  []string
	// AllowPrivate lets deliveries go to loopback and private addresses,
	// refused otherwise (a policy must not point duban at its own network).
	AllowPrivate bool
	// Hours is HoursBusiness for people's subscriptions that must not be
	// sent messages outside working hours: those are held, and sent as one
	// digest when the policy's calendar next opens.
	Hours string
}

// The kinds of subscription.
const (
	// SubscriptionWebhook takes each event as a signed HTTP POST (Standard
	// Webhooks).
	SubscriptionWebhook = "webhook"
	// SubscriptionWeCom and SubscriptionDingTalk are group robots of the
	// work chats (企业微信, 钉钉): a markdown message in Chinese for people.
	SubscriptionWeCom    = "wecom"
	SubscriptionDingTalk = "dingtalk"
	// SubscriptionEmail mails the same message, through an SMTP server.
	SubscriptionEmail = "email"
)

// HoursBusiness holds a people's subscription's messages outside working hours.
const HoursBusiness = "business"

// ForPeople reports whether the subscription's messages are read by people
// (a chat group), not by a machine.
func (s Subscription) ForPeople() bool { return s.Kind != SubscriptionWebhook }

// Wants reports whether the subscription is offered an event of type t of
// a case assigned to unit.
func (s Subscription) Wants(t EventType, unit string) bool {
	return (len(s.Events) == 0 || slices.Contains(s.Events, t)) && (len(s.Units) == 0 || slices.Contains(s.Units, unit))
}

// DeliveryRetries are the waits between a delivery's attempts: about 5 s,
// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h; after the last a
// delivery is kept as failed, for replay.
var DeliveryRetries = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour}

// Subscription returns the policy's subscription named name.
func (p *Policy) Subscription(name string) (Subscription, bool) {
	for _, s := range p.Subscriptions {
		if s.Name == name {
			return s, true
		}
	}
	return Subscription{}, false
}

// envPattern is what an environment variable's name looks like.
var envPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

type rawSubscription struct {
	Name           string   `yaml:"name"`
	Kind           string   `yaml:"kind"`
	URL            string   `yaml:"url"`
	URLEnv         string   `yaml:"url_env"`
	SecretEnv      string   `yaml:"secret_env"`
	Events         []string `yaml:"events"`
	Units          []string `yaml:"units"`
	AllowPrivate   bool     `yaml:"allow_private"`
	Hours          string   `yaml:"hours"`
	From           string   `yaml:"from"`
	To             []string `yaml:"to"`
	PlaintextRelay bool     `yaml:"plaintext_relay"`
}

func (c *policyChecker) subscription(p *Policy, i int, rs rawSubscription) {
	path := at("subscriptions", i)
	s := Subscription{Name: rs.Name, Kind: rs.Kind, URL: rs.URL, URLEnv: rs.URLEnv, SecretEnv: rs.SecretEnv,
		Units: rs.Units, AllowPrivate: rs.AllowPrivate}
	switch {
	case !idPattern.MatchString(rs.Name):
		c.problem(append(path, "name"), "a subscription's name must be lower-case letters, digits, - or _ (it appears in URLs)")
	case slices.ContainsFunc(p.Subscriptions, func(o Subscription) bool { return o.Name == rs.Name }):
		c.problem(append(path, "name"), "subscription %q is listed twice", rs.Name)
	}
	switch rs.Kind {
	case SubscriptionWebhook:
		if !envPattern.MatchString(rs.SecretEnv) {
			c.problem(append(path, "secret_env"), "a webhook needs secret_env: the environment variable holding its secret, whsec_<base64>")
		}
		if rs.Hours != "" {
			c.problem(append(path, "hours"), "a webhook is a machine: it takes every event at once, whatever the hour")
		}
	case SubscriptionWeCom, SubscriptionDingTalk, SubscriptionEmail:
		switch {
		case rs.Kind != SubscriptionEmail && rs.URL != "":
			c.problem(append(path, "url"), "a group robot's URL holds its key: give url_env, the environment variable holding it")
		case rs.Kind == SubscriptionEmail:
			c.mailbox(path, rs)
		}
		s.From, s.To, s.PlaintextRelay = rs.From, rs.To, rs.PlaintextRelay
		switch {
		case rs.Kind == SubscriptionWeCom && rs.SecretEnv != "":
			c.problem(append(path, "secret_env"), "WeCom robots are not signed: leave secret_env out")
		case rs.SecretEnv != "" && !envPattern.MatchString(rs.SecretEnv):
			c.problem(append(path, "secret_env"), "%q is not an environment variable's name", rs.SecretEnv)
		}
		switch {
		case rs.Hours != "" && rs.Hours != HoursBusiness:
			c.problem(append(path, "hours"), "hours is business, or left out (at any hour)")
		case rs.Hours == HoursBusiness && p.BusinessHours == nil:
			c.problem(append(path, "hours"), "hours: business needs the policy's business_hours")
		}
		s.Hours = rs.Hours
	default:
		c.problem(append(path, "kind"), "unknown kind %q: use webhook, wecom, dingtalk or email", rs.Kind)
	}
	if rs.Kind != SubscriptionEmail && (rs.From != "" || len(rs.To) > 0 || rs.PlaintextRelay) {
		c.problem(path, "from, to and plaintext_relay are for kind email")
	}
	switch {
	case (rs.URL == "") == (rs.URLEnv == ""):
		c.problem(path, "give url or url_env (the environment variable holding the URL), one of them")
	case rs.URLEnv != "" && !envPattern.MatchString(rs.URLEnv):
		c.problem(append(path, "url_env"), "%q is not an environment variable's name", rs.URLEnv)
	case rs.URL != "":
		if err := CheckDeliveryURL(rs.Kind, rs.URL); err != nil {
			c.problem(append(path, "url"), "%s", ErrorMessage(err))
		}
	}
	for j, e := range rs.Events {
		if _, ok := eventDataTypes[EventType(e)]; !ok {
			c.problem(append(path, "events", j), "unknown event type %q", e)
		}
		s.Events = append(s.Events, EventType(e))
	}
	for j, u := range rs.Units {
		if !p.hasUnit(u) {
			c.problem(append(path, "units", j), "unknown unit %q", u)
		}
	}
	p.Subscriptions = append(p.Subscriptions, s)
}

// mailbox checks a mail subscription's sender and recipients.
func (c *policyChecker) mailbox(path []any, rs rawSubscription) {
	if _, err := mail.ParseAddress(rs.From); err != nil {
		c.problem(append(path, "from"), "mail needs from, the sender's address: %v", err)
	}
	if len(rs.To) == 0 {
		c.problem(append(path, "to"), "mail needs to, the recipients' addresses")
	}
	for j, to := range rs.To {
		if _, err := mail.ParseAddress(to); err != nil {
			c.problem(append(path, "to", j), "%q is not a mail address: %v", to, err)
		}
	}
	if rs.PlaintextRelay && !rs.AllowPrivate {
		c.problem(append(path, "plaintext_relay"), "a relay taking mail in plaintext is on this host or its private network: say so with allow_private: true too")
	}
}

// CheckDeliveryURL refuses a URL deliveries of a subscription of kind
// cannot go to: for mail an SMTP server, smtp://[user@]host[:port] (with
// STARTTLS) or smtps:// (TLS from the start);
// for the others an absolute http or https URL. No password in either.
func CheckDeliveryURL(kind, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return Errorf(EINVALID, "not a URL: %v", err)
	}
	if kind == SubscriptionEmail {
		switch {
		case u.Scheme != "smtp" && u.Scheme != "smtps":
			return Errorf(EINVALID, "mail goes through an SMTP server: smtp://[user@]host[:port] or smtps://..., not %q", u.Scheme)
		case u.Path != "" || u.RawQuery != "":
			return Errorf(EINVALID, "an SMTP server's URL is smtp://[user@]host[:port], with nothing after the port")
		}
	} else if u.Scheme != "http" && u.Scheme != "https" {
		return Errorf(EINVALID, "only http and https URLs, not %q", u.Scheme)
	}
	switch {
	case u.Host == "":
		return Errorf(EINVALID, "the URL has no host")
	case kind == SubscriptionEmail && u.User != nil:
		if _, has := u.User.Password(); has {
			return Errorf(EINVALID, "the URL carries a password: keep it in the environment (secret_env)")
		}
	case u.User != nil:
		return Errorf(EINVALID, "the URL carries credentials: keep secrets in the environment (url_env)")
	}
	return nil
}
