package duban

import (
	"net/url"
	"regexp"
	"slices"
	"time"
)

// Subscription is a party outside duban that is offered its events, in the
// order of the log, each at least once: a machine that takes a webhook. The
// group robots and mail of people's subscriptions are not built yet.
type Subscription struct {
	Name string
	Kind string // SubscriptionWebhook
	// URL is where deliveries go, or URLEnv the environment variable that
	// holds it; SecretEnv the variable holding the webhook's signing
	// secret (whsec_<base64>). Secrets never sit in the policy file.
	URL, URLEnv, SecretEnv string
	// Events and Units, when given, narrow what is offered: those event
	// types, of cases assigned to those units.
	Events []EventType
	Units  []string
	// AllowPrivate lets deliveries go to loopback and private addresses,
	// refused otherwise (a policy must not point duban at its own network).
	AllowPrivate bool
}

// SubscriptionWebhook is a subscription that takes each event as a signed
// HTTP POST (Standard Webhooks).
const SubscriptionWebhook = "webhook"

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
	Name         string   `yaml:"name"`
	Kind         string   `yaml:"kind"`
	URL          string   `yaml:"url"`
	URLEnv       string   `yaml:"url_env"`
	SecretEnv    string   `yaml:"secret_env"`
	Events       []string `yaml:"events"`
	Units        []string `yaml:"units"`
	AllowPrivate bool     `yaml:"allow_private"`
	Hours        string   `yaml:"hours"`
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
	case "wecom", "dingtalk", "email":
		c.problem(append(path, "kind"), "kind %s is not delivered by this version of duban yet: use webhook", rs.Kind)
	default:
		c.problem(append(path, "kind"), "unknown kind %q: use webhook", rs.Kind)
	}
	switch {
	case (rs.URL == "") == (rs.URLEnv == ""):
		c.problem(path, "give url or url_env (the environment variable holding the URL), one of them")
	case rs.URLEnv != "" && !envPattern.MatchString(rs.URLEnv):
		c.problem(append(path, "url_env"), "%q is not an environment variable's name", rs.URLEnv)
	case rs.URL != "":
		if err := CheckDeliveryURL(rs.URL); err != nil {
			c.problem(append(path, "url"), "%s", ErrorMessage(err))
		}
	}
	if !envPattern.MatchString(rs.SecretEnv) {
		c.problem(append(path, "secret_env"), "a webhook needs secret_env: the environment variable holding its secret, whsec_<base64>")
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
	if rs.Hours != "" {
		c.problem(append(path, "hours"), "a webhook is a machine: it takes every event at once, whatever the hour")
	}
	p.Subscriptions = append(p.Subscriptions, s)
}

// CheckDeliveryURL refuses a URL deliveries cannot go to: only absolute
// http and https URLs without credentials.
func CheckDeliveryURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return Errorf(EINVALID, "not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return Errorf(EINVALID, "only http and https URLs, not %q", u.Scheme)
	case u.Host == "":
		return Errorf(EINVALID, "the URL has no host")
	case u.User != nil:
		return Errorf(EINVALID, "the URL carries credentials: keep secrets in the environment (url_env)")
	}
	return nil
}
