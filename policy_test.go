package duban_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
)

func TestDefaultPolicy(t *testing.T) {
	p := duban.DefaultPolicy()
	for _, code := range []string{"littering", "graffiti", "spitting", "street-vending", "jaywalking",
		"damaged-ads", "broken-pavement", "overflowing-bins", "illegal-parking"} {
		c, ok := p.Category(code)
		if !ok {
			t.Errorf("category %s missing", code)
			continue
		}
		if c.Name.Zh == "" || c.Name.En == "" {
			t.Errorf("category %s lacks a zh or en name", code)
		}
		if _, ok := p.Unit(c.Unit); !ok {
			t.Errorf("category %s is handled by unknown unit %q", code, c.Unit)
		}
		for _, sev := range []duban.Severity{duban.SeverityNormal, duban.SeverityUrgent} {
			terms, ok := p.Terms(code, sev)
			if !ok || terms.SLA.Acknowledge <= 0 || terms.SLA.Resolve <= terms.SLA.Acknowledge || terms.SLA.Verify <= 0 {
				t.Errorf("category %s %s: terms %+v", code, sev, terms)
			}
		}
	}
	for _, tok := range []string{"dev-inspector", "dev-sanitation", "dev-supervisor", "dev-admin"} {
		if _, ok := p.Authenticate(tok); !ok {
			t.Errorf("token %s does not authenticate", tok)
		}
	}
	if pr, _ := p.Authenticate("dev-sanitation"); pr != (duban.Principal{ID: "sanitation-1", Role: duban.RoleUnit, Unit: "sanitation"}) {
		t.Errorf("dev-sanitation is %+v", pr)
	}
	if _, ok := p.Authenticate("dev-sanitation "); ok {
		t.Error("a token that is almost right must not authenticate")
	}
	if p.Version == "" || len(p.Version) != 12 {
		t.Errorf("version %q", p.Version)
	}
}

func TestRoute(t *testing.T) {
	p := duban.DefaultPolicy()
	tests := []struct{ category, area, unit string }{
		{"street-vending", "old-town", "market-supervision"}, // the rule wins
		{"street-vending", "new-district", "urban-management"},
		{"littering", "old-town", "sanitation"},
		{"illegal-parking", "", "traffic-police"},
		{"no-such-category", "old-town", ""},
	}
	for _, tt := range tests {
		if unit, _ := p.Route(tt.category, tt.area); unit != tt.unit {
			t.Errorf("Route(%q, %q) = %q, want %q", tt.category, tt.area, unit, tt.unit)
		}
	}
	// What decided it is recorded as what it is, said in English apart.
	if _, why := p.Route("street-vending", "old-town"); why == nil || *why != (duban.Routing{Rule: 1, Category: "street-vending", Area: "old-town"}) ||
		why.Reason("market-supervision") != `routing rule 1 (category "street-vending", area "old-town")` {
		t.Errorf("the rule's routing %+v", why)
	}
	if _, why := p.Route("littering", "old-town"); why == nil || *why != (duban.Routing{Category: "littering"}) ||
		why.Reason("sanitation") != `category "littering" is handled by sanitation` {
		t.Errorf("the category's routing %+v", why)
	}
	if _, why := p.Route("no-such-category", ""); why != nil {
		t.Errorf("nothing routes an unknown category, yet %+v", why)
	}
}

const minimalPolicy = `timezone: Asia/Shanghai
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 30m, resolve: 24h, verify: 4h}
      urgent: {acknowledge: 10m, resolve: 2h, verify: 1h, calendar: 24x7}
  - code: orphan
    name: {zh: 无主, en: Nobody's}
    sla:
      normal: {acknowledge: 1h, resolve: 2h, verify: 1h}
escalation:
  - {at: -10%, action: warn}
  - {at: 0s, level: 1}
  - {at: 90s, level: 2}
principals:
  - {token: secret-inspector, id: inspector-1, role: inspector}
`

func TestParsePolicy(t *testing.T) {
	p, err := duban.ParsePolicy("city.yaml", []byte(minimalPolicy))
	if err != nil {
		t.Fatal(err)
	}
	terms, ok := p.Terms("littering", duban.SeverityUrgent)
	if !ok || terms.SLA.Resolve != 2*time.Hour || len(terms.Ladder) != 3 || terms.Ladder[2].At.Duration != 90*time.Second {
		t.Fatalf("terms %+v", terms)
	}
	if unit, _ := p.Route("orphan", "x"); unit != "" {
		t.Fatalf("a category without a unit routes nowhere, got %q", unit)
	}
	if p.Source != "city.yaml" {
		t.Fatalf("source %q", p.Source)
	}
	// Without an escalation key, the default ladder applies.
	q, err := duban.ParsePolicy("p.yaml", []byte(strings.Split(minimalPolicy, "escalation:")[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Escalation) != 4 || q.Escalation[0].Level != 0 || !q.Escalation[0].At.Relative {
		t.Fatalf("default ladder %+v", q.Escalation)
	}
	// An urgent SLA defaults to the normal one.
	if terms, _ := p.Terms("orphan", duban.SeverityUrgent); terms.SLA.Acknowledge != time.Hour {
		t.Fatalf("urgent fallback %+v", terms.SLA)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want string // the whole first line of the message
	}{
		{"unknown key", func(s string) string {
			return strings.Replace(s, "    unit: sanitation\n", "    unit: sanitation\n    colour: red\n", 1)
		}, `city.yaml:8: unknown key "colour"`},
		{"unknown unit", func(s string) string {
			return strings.Replace(s, "unit: sanitation", "unit: sanitatoin", 1)
		}, `city.yaml:7: categories[0].unit: unknown unit "sanitatoin"`},
		{"an area listed twice", func(s string) string {
			return strings.Replace(s, "categories:", "areas:\n  - {id: old-town}\n  - {id: old-town}\ncategories:", 1)
		}, `city.yaml:6: areas[1].id: area "old-town" is listed twice`},
		{"a routing rule's unknown area", func(s string) string {
			return strings.Replace(s, "categories:", "areas:\n  - {id: old-town}\nrouting:\n  - {area: 老城区, unit: sanitation}\ncategories:", 1)
		}, `city.yaml:7: routing[0].area: unknown area "老城区"`},
		{"bad duration", func(s string) string {
			return strings.Replace(s, "resolve: 24h", "resolve: 24", 1)
		}, `city.yaml:9: categories[0].sla.normal.resolve: bad duration "24": want a positive Go duration such as 30m or 24h`},
		{"bad percentage", func(s string) string {
			return strings.Replace(s, "-10%", "-ten%", 1)
		}, `city.yaml:16: escalation[0].at: bad percentage "-ten%": want e.g. -25%`},
		{"warning after the deadline", func(s string) string {
			return strings.Replace(s, "-10%", "10%", 1)
		}, `city.yaml:16: escalation[0].at: a warning comes before the deadline: its offset must be negative, not 10%`},
		{"levels out of order", func(s string) string {
			return strings.Replace(s, "level: 2", "level: 3", 1)
		}, `city.yaml:18: escalation[2].level: escalation levels count 1, 2, 3 in order: expected level 2, not 3`},
		{"category without sla", func(s string) string {
			return strings.Replace(s, "    sla:\n      normal: {acknowledge: 1h, resolve: 2h, verify: 1h}\n", "", 1)
		}, `city.yaml:11: categories[1]: category "orphan" has no sla`},
		{"unknown severity", func(s string) string {
			return strings.Replace(s, "urgent: {", "critical: {", 1)
		}, `city.yaml:10: categories[0].sla.critical: unknown severity "critical": use normal or urgent`},
		{"unknown time zone", func(s string) string {
			return strings.Replace(s, "Asia/Shanghai", "Asia/Atlantis", 1)
		}, `city.yaml:1: timezone: unknown time zone "Asia/Atlantis"`},
		{"wrong type", func(s string) string {
			return strings.Replace(s, "units:\n", "units: 3\nx:\n", 1)
		}, `city.yaml:2: the number "3" is not allowed here: expected a list`},
		{"list for a text value", func(s string) string {
			return strings.Replace(s, "code: orphan", "code: [orphan]", 1)
		}, `city.yaml:11: a list is not allowed here: expected a text value`},
		{"mapping for a list", func(s string) string {
			return strings.Replace(s, "principals:\n  - {token: secret-inspector, id: inspector-1, role: inspector}", "principals: {id: inspector-1}", 1)
		}, `city.yaml:19: a mapping is not allowed here: expected a list`},
		{"key given twice", func(s string) string {
			return strings.Replace(s, "    unit: sanitation\n", "    unit: sanitation\n    unit: parks\n", 1)
		}, `city.yaml:8: "unit" is given twice (first on line 7)`},
		{"text for a number", func(s string) string {
			return strings.Replace(s, "level: 2", "level: two", 1)
		}, `city.yaml:18: the value "two" is not allowed here: expected a whole number`},
		{"syntax", func(s string) string {
			return strings.Replace(s, "  - code: orphan", "  - code: orphan: [", 1)
		}, `city.yaml:11: mapping values are not allowed in this context`},
		{"unit principal without unit", func(s string) string {
			return strings.Replace(s, "role: inspector}", "role: unit}", 1)
		}, `city.yaml:20: principals[0]: a principal with role unit needs unit: the id of one of the policy's units`},
		{"token and its hash", func(s string) string {
			return strings.Replace(s, "role: inspector}", "role: inspector, token_sha256: "+strings.Repeat("ab", 32)+"}", 1)
		}, `city.yaml:20: principals[0].token_sha256: give token or token_sha256, not both`},
		{"bad token hash", func(s string) string {
			return strings.Replace(s, "token: secret-inspector", "token_sha256: 12ab", 1)
		}, `city.yaml:20: principals[0].token_sha256: must be the 64 hex digits of the token's SHA-256 (printf %s TOKEN | sha256sum)`},
		{"user without password", func(s string) string {
			return strings.Replace(s, "role: inspector}", "role: inspector, user: insp}", 1)
		}, `city.yaml:20: principals[0].user: a user needs password_hash (made by duban passwd) to sign in`},
		{"bad password hash", func(s string) string {
			return strings.Replace(s, "role: inspector}", "role: inspector, user: insp, password_hash: '$2b$10$abc'}", 1)
		}, `city.yaml:20: principals[0].password_hash: not an argon2id hash ($argon2id$v=19$m=…,t=…,p=…$salt$hash): make one with duban passwd`},
		{"costly password hash", func(s string) string {
			return strings.Replace(s, "role: inspector}", "role: inspector, user: insp, password_hash: '$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$"+strings.Repeat("A", 43)+"'}", 1)
		}, `city.yaml:20: principals[0].password_hash: argon2id parameters out of range: m 8192–262144 KiB, t 1–10, p 1–16`},
		{"user given twice", func(s string) string {
			return strings.Replace(s, "role: inspector}", "role: inspector, user: Insp, password: secret-pw}\n  - {id: inspector-2, role: inspector, user: insp, password: secret-pw}", 1)
		}, `city.yaml:21: principals[1].user: user "insp" is already another principal's`},
		{"principal with no way in", func(s string) string {
			return strings.Replace(s, "token: secret-inspector, ", "", 1)
		}, `city.yaml:20: principals[0]: give the principal a token (or token_sha256) for the API, a user and password_hash for the office pages, or both`},
		{"subscription without a secret", func(s string) string {
			return s + "subscriptions:\n  - {name: city, kind: webhook, url: \"https://example.org/hook\"}\n"
		}, `city.yaml:22: subscriptions[0].secret_env: a webhook needs secret_env: the environment variable holding its secret, whsec_<base64>`},
		{"subscription of an unknown event", func(s string) string {
			return s + "subscriptions:\n  - {name: city, kind: webhook, url: \"https://example.org/hook\", secret_env: S, events: [CaseExploded]}\n"
		}, `city.yaml:22: subscriptions[0].events[0]: unknown event type "CaseExploded"`},
		{"subscription to a file URL", func(s string) string {
			return s + "subscriptions:\n  - {name: city, kind: webhook, url: \"file:///etc/passwd\", secret_env: S}\n"
		}, `city.yaml:22: subscriptions[0].url: only http and https URLs, not "file"`},
		{"subscription of an unknown kind", func(s string) string {
			return s + "subscriptions:\n  - {name: fax, kind: fax, url_env: FAX_URL}\n"
		}, `city.yaml:22: subscriptions[0].kind: unknown kind "fax": use webhook, wecom, dingtalk or email`},
		{"mail without recipients", func(s string) string {
			return s + "subscriptions:\n  - {name: mail, kind: email, url: \"smtp://mail.example.org\", from: duban@example.org}\n"
		}, `city.yaml:22: subscriptions[0].to: mail needs to, the recipients' addresses`},
		{"mail to a bad address", func(s string) string {
			return s + "subscriptions:\n  - {name: mail, kind: email, url: \"smtp://mail.example.org\", from: duban@example.org, to: [chief@, boss@example.org]}\n"
		}, `city.yaml:22: subscriptions[0].to[0]: "chief@" is not a mail address: mail: missing '@' or angle-addr`},
		{"mail through a web server", func(s string) string {
			return s + "subscriptions:\n  - {name: mail, kind: email, url: \"https://mail.example.org\", from: duban@example.org, to: [boss@example.org]}\n"
		}, `city.yaml:22: subscriptions[0].url: mail goes through an SMTP server: smtp://[user@]host[:port] or smtps://..., not "https"`},
		{"mail server's password in the policy", func(s string) string {
			return s + "subscriptions:\n  - {name: mail, kind: email, url: \"smtps://duban:hunter2@mail.example.org\", from: duban@example.org, to: [boss@example.org]}\n"
		}, `city.yaml:22: subscriptions[0].url: the URL carries a password: keep it in the environment (secret_env)`},
		{"recipients of a webhook", func(s string) string {
			return s + "subscriptions:\n  - {name: city, kind: webhook, url: \"https://example.org/hook\", secret_env: S, to: [boss@example.org]}\n"
		}, `city.yaml:22: subscriptions[0]: from, to and plaintext_relay are for kind email`},
		{"a plaintext relay anywhere", func(s string) string {
			return s + "subscriptions:\n  - {name: mail, kind: email, url: \"smtp://mail.example.org\", from: duban@example.org, to: [boss@example.org], plaintext_relay: true}\n"
		}, `city.yaml:22: subscriptions[0].plaintext_relay: a relay taking mail in plaintext is on this host or its private network: say so with allow_private: true too`},
		{"robot with its key in the policy", func(s string) string {
			return s + "subscriptions:\n  - {name: group, kind: wecom, url: \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc\"}\n"
		}, `city.yaml:22: subscriptions[0].url: a group robot's URL holds its key: give url_env, the environment variable holding it`},
		{"webhook with business hours", func(s string) string {
			return s + "subscriptions:\n  - {name: city, kind: webhook, url: \"https://example.org/hook\", secret_env: S, hours: business}\n"
		}, `city.yaml:22: subscriptions[0].hours: a webhook is a machine: it takes every event at once, whatever the hour`},
		{"empty", func(string) string { return "" }, `city.yaml: the policy is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := duban.ParsePolicy("city.yaml", []byte(tt.edit(minimalPolicy)))
			if err == nil {
				t.Fatal("accepted")
			}
			if first := strings.Split(err.Error(), "\n")[0]; first != tt.want {
				t.Fatalf("message\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// A policy may hold a token's SHA-256 instead of the token: the token
// authenticates all the same, and the policy shows no token.
func TestHashedTokens(t *testing.T) {
	sum := sha256.Sum256([]byte("secret-inspector"))
	p, err := duban.ParsePolicy("city.yaml", []byte(strings.Replace(minimalPolicy, "token: secret-inspector", "token_sha256: "+hex.EncodeToString(sum[:]), 1)))
	if err != nil {
		t.Fatal(err)
	}
	if pr, ok := p.Authenticate("secret-inspector"); !ok || pr.ID != "inspector-1" {
		t.Fatalf("the hashed token authenticates as %+v, %v", pr, ok)
	}
	if _, ok := p.Authenticate(hex.EncodeToString(sum[:])); ok {
		t.Fatal("the hash itself authenticates")
	}
	if p.Principals[0].Token != "" {
		t.Fatalf("the policy shows the token %q", p.Principals[0].Token)
	}
}

// A principal signs in with its user name, in any case, and its password,
// from a hash duban passwd makes or, in development, in the clear.
func TestSignIn(t *testing.T) {
	hash := duban.HashPassword("correct horse")
	p, err := duban.ParsePolicy("city.yaml", []byte(strings.Replace(minimalPolicy, "role: inspector}",
		"role: inspector, user: Wang.Li, password_hash: '"+hash+"'}\n  - {id: inspector-2, role: inspector, user: dev, password: dev-password}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, password string
		want           string
	}{
		{"wang.li", "correct horse", "inspector-1"},
		{"Wang.Li", "correct horse", "inspector-1"},
		{"wang.li", "correct horse ", ""},
		{"wang.li", "", ""},
		{"dev", "dev-password", "inspector-2"},
		{"dev", "dev-passwor", ""},
		{"nobody", "correct horse", ""},
	} {
		pr, ok := p.SignIn(tc.user, tc.password)
		if ok != (tc.want != "") || ok && pr.ID != tc.want {
			t.Errorf("SignIn(%q, %q) = %+v, %v; want %q", tc.user, tc.password, pr, ok, tc.want)
		}
	}
	if ids := p.PlaintextSecrets(); !slices.Equal(ids, []string{"inspector-1", "inspector-2"}) {
		t.Errorf("plaintext secrets of %v", ids)
	}
	if pr, ok := p.Principal("inspector-2"); !ok || pr.Role != duban.RoleInspector {
		t.Errorf("Principal(inspector-2) = %+v, %v", pr, ok)
	}
	if h1, h2 := duban.HashPassword("x"), duban.HashPassword("x"); h1 == h2 {
		t.Error("two hashes of one password are the same: no fresh salt")
	}
}

// The example policies in the repository stay valid.
func TestExamplePolicies(t *testing.T) {
	files, _ := filepath.Glob("examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example policies")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := duban.ParsePolicy(f, b); err != nil {
			t.Errorf("%v", err)
		}
	}
	// The policy docker-compose runs duban serve with holds no token in
	// the clear, and its example tokens stand for the principals it names.
	b, err := os.ReadFile("deploy/duban/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := duban.ParsePolicy("deploy/duban/policy.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if ids := p.PlaintextSecrets(); len(ids) != 0 {
		t.Fatalf("plaintext tokens for %v", ids)
	}
	if pr, ok := p.Authenticate("example-supervisor-change-me"); !ok || pr.ID != "supervisor-1" {
		t.Fatalf("the example supervisor token: %+v, %v", pr, ok)
	}
	if pr, ok := p.SignIn("supervisor-1", "example-supervisor-change-me"); !ok || pr.ID != "supervisor-1" {
		t.Fatalf("the example supervisor password: %+v, %v", pr, ok)
	}
	if ids := duban.DefaultPolicy().PlaintextSecrets(); len(ids) == 0 {
		t.Fatal("the built-in policy's development tokens are not seen as such")
	}
}

// SPEC.md's policy example, with its business calendar.
const specPolicy = `timezone: Asia/Shanghai
calendar: business
business_hours:
  days: [mon, tue, wed, thu, fri]
  hours: ["08:30-12:00", "14:30-18:00"]
holidays: ["2026-10-01", "2026-10-02"]
workdays: ["2026-09-27"]
units:
  - {id: sanitation, name: {zh: 环卫中心, en: Sanitation Centre}}
  - {id: market-supervision, name: {zh: 市场监管局, en: Market Supervision}}
categories:
  - code: littering
    name: {zh: 乱扔垃圾, en: Littering}
    unit: sanitation
    sla:
      normal: {acknowledge: 30m, resolve: 24h, verify: 4h}
      urgent: {acknowledge: 10m, resolve: 2h, verify: 1h, calendar: 24x7}
  - code: street-vending
    name: {zh: 占道经营, en: Street vending}
    unit: sanitation
    sla:
      normal: {acknowledge: 30m, resolve: 4h, verify: 4h}
routing:
  - {category: street-vending, area: old-town, unit: market-supervision}
escalation:
  - {at: -25%, action: warn}
  - {at: 0s, level: 1}
  - {at: 4h, level: 2}
  - {at: 24h, level: 3}
principals:
  - {token: dev-inspector, id: inspector-1, role: inspector}
  - {token: dev-sanitation, id: sanitation-1, role: unit, unit: sanitation}
  - {token: dev-supervisor, id: supervisor-1, role: supervisor}
`

func TestParseBusinessPolicy(t *testing.T) {
	p, err := duban.ParsePolicy("spec.yaml", []byte(specPolicy))
	if err != nil {
		t.Fatal(err)
	}
	normal, _ := p.Terms("littering", duban.SeverityNormal)
	want := duban.Calendar{
		Kind: duban.CalendarBusiness, TimeZone: "Asia/Shanghai",
		Days:     []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
		Hours:    []duban.Window{{510, 720}, {870, 1080}},
		Holidays: []string{"2026-10-01", "2026-10-02"},
		Workdays: []string{"2026-09-27"},
	}
	if !reflect.DeepEqual(normal.Calendar, want) {
		t.Fatalf("calendar %+v", normal.Calendar)
	}
	if urgent, _ := p.Terms("littering", duban.SeverityUrgent); urgent.Calendar.Kind != duban.Calendar24x7 {
		t.Fatalf("the urgent SLA is counted 24x7: %+v", urgent.Calendar)
	}
	// SPEC's worked example: resolve 4h, dispatched Friday 17:00, due Monday 11:30.
	vending, _ := p.Terms("street-vending", duban.SeverityNormal)
	friday := time.Date(2026, 11, 6, 17, 0, 0, 0, shanghai)
	if due := vending.Calendar.Add(friday, vending.SLA.Resolve); !due.Equal(time.Date(2026, 11, 9, 11, 30, 0, 0, shanghai)) {
		t.Fatalf("due %s", due.In(shanghai))
	}
}

func TestParseBusinessPolicyErrors(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"inverted hours", `"14:30-18:00"`, `"18:00-14:30"`, `spec.yaml:5: business_hours.hours[1]: hours "18:00-14:30" end before they start`},
		{"overlapping hours", `"14:30-18:00"`, `"11:00-13:00"`, `spec.yaml:5: business_hours.hours[1]: hours 11:00-13:00 overlap 08:30-12:00`},
		{"bad hours", `"14:30-18:00"`, `"2pm-6pm"`, `spec.yaml:5: business_hours.hours[1]: bad hours "2pm-6pm": want HH:MM-HH:MM, e.g. 08:30-12:00`},
		{"unknown day", `days: [mon,`, `days: [monday,`, `spec.yaml:4: business_hours.days[0]: unknown day "monday": use mon, tue, wed, thu, fri, sat or sun`},
		{"bad date", `"2026-10-02"]`, `"2026-10-32"]`, `spec.yaml:6: holidays[1]: bad date "2026-10-32": want YYYY-MM-DD`},
		{"holiday and workday", `workdays: ["2026-09-27"]`, `workdays: ["2026-10-01"]`, `spec.yaml:7: workdays[0]: 2026-10-01 is both a holiday and a make-up working day`},
		{"business without hours", "business_hours:\n  days: [mon, tue, wed, thu, fri]\n  hours: [\"08:30-12:00\", \"14:30-18:00\"]\n", "", `spec.yaml:2: calendar: a business calendar needs business_hours: {days: [...], hours: [...]}`},
		{"unknown calendar", "calendar: 24x7}", "calendar: 9to5}", `spec.yaml:17: categories[0].sla.urgent.calendar: unknown calendar "9to5": use 24x7 or business`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(specPolicy, tt.old, tt.new, 1)
			if text == specPolicy {
				t.Fatalf("%q not found", tt.old)
			}
			_, err := duban.ParsePolicy("spec.yaml", []byte(text))
			if err == nil {
				t.Fatal("accepted")
			}
			if first := strings.Split(err.Error(), "\n")[0]; first != tt.want {
				t.Fatalf("message\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

// Resolve gives an open and an assignment what the policy says of them, and
// Decide refuses what the policy does not know.
func TestResolve(t *testing.T) {
	p := duban.DefaultPolicy()
	open := p.Resolve(duban.OpenCase{
		CommandMeta: duban.CommandMeta{By: duban.Principal{ID: "inspector-1", Role: duban.RoleInspector}},
		CaseID:      "0b5a6c1e-8a51-4f7e-9d0c-2f6a1b3c4d5e", Category: "littering", Description: "bags",
		Location: duban.Location{Lat: 39.9, Lon: 116.4},
	}).(duban.OpenCase)
	wantTerms, _ := p.Terms("littering", duban.SeverityNormal)
	if open.Severity != duban.SeverityNormal || open.Unit != "sanitation" || open.PolicyVersion != p.Version ||
		!reflect.DeepEqual(open.Terms, wantTerms) || len(open.Categories) != len(p.Categories) {
		t.Fatalf("resolved open %+v", open)
	}
	if _, err := duban.Decide(duban.Case{}, open, time.Now()); err != nil {
		t.Fatalf("resolved open refused: %v", err)
	}
	open.Category = "noise"
	unknown := p.Resolve(open).(duban.OpenCase)
	_, err := duban.Decide(duban.Case{}, unknown, time.Now())
	var e *duban.Error
	if !errors.As(err, &e) || len(e.Fields) != 1 || e.Fields[0].Field != "category" ||
		!strings.HasPrefix(e.Fields[0].Message, "is not a known category: littering, ") {
		t.Fatalf("unknown category: %v", err)
	}
	assign := p.Resolve(duban.Assign{Unit: "sanitation"}).(duban.Assign)
	if len(assign.Units) != len(p.Units) || !slices.Contains(assign.Units, "sanitation") {
		t.Fatalf("resolved assign %+v", assign)
	}
	if urge := p.Resolve(duban.Urge{Note: "x"}); urge.(duban.Urge).Note != "x" {
		t.Fatalf("urge %+v", urge)
	}
}

// Aliases cannot make a small file a huge policy: decoding stops with a
// problem instead of running on.
func TestPolicyAliasesAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("units:\n  - &u {id: x, name: {zh: a, en: b}}\ncategories:\n  - &c\n    code: c\n    sla:\n")
	for i := range 1500 {
		fmt.Fprintf(&b, "      s%d: {acknowledge: 1h, resolve: 2h, verify: 1h}\n", i)
	}
	for range 1500 {
		b.WriteString("  - *c\n")
	}
	_, err := duban.ParsePolicy("big.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "the policy is too large") {
		t.Fatalf("got %v", err)
	}
}

// A supervisor's time to dispatch an unrouted or disputed case: the
// policy's `assign`, 2h when it says nothing, a category's SLA may say
// otherwise; it is in the terms a case is opened under.
func TestPolicyAssign(t *testing.T) {
	p, err := duban.ParsePolicy("city.yaml", []byte(minimalPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if terms, _ := p.Terms("littering", duban.SeverityNormal); terms.SLA.Assign != 2*time.Hour || p.Assign != 2*time.Hour {
		t.Fatalf("default assign %s, policy %s", terms.SLA.Assign, p.Assign)
	}
	edited := strings.Replace(minimalPolicy, "escalation:", "assign: 45m\nescalation:", 1)
	edited = strings.Replace(edited, "urgent: {acknowledge: 10m,", "urgent: {assign: 10m, acknowledge: 10m,", 1)
	if p, err = duban.ParsePolicy("city.yaml", []byte(edited)); err != nil {
		t.Fatal(err)
	}
	normal, _ := p.Terms("littering", duban.SeverityNormal)
	urgent, _ := p.Terms("littering", duban.SeverityUrgent)
	if normal.SLA.Assign != 45*time.Minute || urgent.SLA.Assign != 10*time.Minute {
		t.Fatalf("assign %s (normal), %s (urgent)", normal.SLA.Assign, urgent.SLA.Assign)
	}
	_, err = duban.ParsePolicy("city.yaml", []byte(strings.Replace(minimalPolicy, "escalation:", "assign: soon\nescalation:", 1)))
	if err == nil || !strings.Contains(err.Error(), `city.yaml:15: assign: bad duration "soon"`) {
		t.Fatalf("bad assign: %v", err)
	}
}

// An unknown key does not stop the check: every problem of the file is
// listed, each at its line.
func TestPolicyCheckListsEveryProblem(t *testing.T) {
	bad := strings.Replace(minimalPolicy, "    unit: sanitation\n", "    unit: sanitation\n    colour: red\n", 1)
	bad = strings.Replace(bad, "resolve: 24h", "resolve: 24", 1)
	bad = strings.Replace(bad, "Asia/Shanghai", "Asia/Atlantis", 1)
	_, err := duban.ParsePolicy("city.yaml", []byte(bad))
	var pe *duban.PolicyError
	if !errors.As(err, &pe) || len(pe.Problems) != 3 {
		t.Fatalf("got %v", err)
	}
	for i, want := range []string{`timezone: unknown time zone`, `unknown key "colour"`, `categories[0].sla.normal.resolve: bad duration "24"`} {
		if !strings.HasPrefix(pe.Problems[i].Message, want) {
			t.Errorf("problem %d: %s, want %s", i, pe.Problems[i].Message, want)
		}
	}
}

// The assessment block: the day periods begin on and the weights, which
// name rates and whose absolute values sum to 100.
func TestPolicyAssessment(t *testing.T) {
	p := duban.DefaultPolicy()
	if p.Assessment.PeriodStartDay != 1 || p.Assessment.Weights["handling_rate"] != 30 || p.Assessment.Weights["rework_rate"] != -20 {
		t.Fatalf("default assessment %+v", p.Assessment)
	}
	ok := strings.Replace(minimalPolicy, "escalation:", "assessment:\n  period_start_day: 21\n  weights: {handling_rate: 60, overdue_open_rate: -40}\nescalation:", 1)
	if p, err := duban.ParsePolicy("city.yaml", []byte(ok)); err != nil || p.Assessment.PeriodStartDay != 21 || len(p.Assessment.Weights) != 2 {
		t.Fatalf("%+v, %v", p, err)
	}
	for _, tc := range []struct{ block, want string }{
		{"  period_start_day: 31\n", "assessment.period_start_day: must be a day from 1 to 28, not 31"},
		{"  weights: {handling_rate: 60, speed: 40}\n", `assessment.weights.speed: unknown rate "speed"`},
		{"  weights: {handling_rate: 60, rework_rate: -30}\n", "assessment.weights: the weights' absolute values sum to 90, not 100"},
	} {
		_, err := duban.ParsePolicy("city.yaml", []byte(strings.Replace(minimalPolicy, "escalation:", "assessment:\n"+tc.block+"escalation:", 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %s", tc.block, err, tc.want)
		}
	}
}

// The standards (测评体系) are policy: site types with checklists, read
// with their defaults, every problem placed by line.
func TestSiteTypesInThePolicy(t *testing.T) {
	standards := strings.Replace(minimalPolicy, "escalation:", `site_types:
  - code: market
    name: {zh: 农贸市场, en: Farmers' market}
    items:
      - {code: market-clean, name: {zh: 地面整洁, en: Clean floor}, category: littering, points: 4}
      - {code: market-scale, name: {zh: 设置公平秤, en: A public scale}, category: orphan, points: 2}
inspection:
  pass_score: 90
  recurrence: {window: 14d, list_at: 4}
escalation:`, 1)
	p, err := duban.ParsePolicy("city.yaml", []byte(standards))
	if err != nil {
		t.Fatal(err)
	}
	market, ok := p.SiteType("market")
	if !ok || len(market.Items) != 2 || market.Name.Zh != "农贸市场" {
		t.Fatalf("site type %+v", market)
	}
	if item, ok := market.Item("market-scale"); !ok || item.Category != "orphan" || item.Points != 2 {
		t.Fatalf("item %+v", item)
	}
	if p.Inspection.PassScore != 90 || p.Inspection.Recurrence.Window != 14*24*time.Hour || p.Inspection.Recurrence.ListAt != 4 {
		t.Fatalf("inspection %+v", p.Inspection)
	}
	// Without the block: pass at 85, a repeat within 30 days recurs, the third is listed.
	plain, err := duban.ParsePolicy("p.yaml", []byte(minimalPolicy))
	if err != nil || plain.Inspection.PassScore != 85 || plain.Inspection.Recurrence.Window != 30*24*time.Hour || plain.Inspection.Recurrence.ListAt != 3 {
		t.Fatalf("default inspection %+v, %v", plain.Inspection, err)
	}

	for _, tt := range []struct{ name, from, to, want string }{
		{"an unknown category", "category: orphan", "category: orphn", `city.yaml:20: site_types[0].items[1].category: unknown category "orphn"`},
		{"an item listed twice", "code: market-scale", "code: market-clean", `city.yaml:20: site_types[0].items[1].code: item "market-clean" is listed twice`},
		{"points out of range", "points: 4", "points: 0", `city.yaml:19: site_types[0].items[0].points: must be from 1 to 100, not 0`},
		{"no points", ", points: 2}", "}", `city.yaml:20: site_types[0].items[1].points: item "market-scale" needs points: what a failure deducts, 1 to 100`},
		{"a bad site type code", "code: market\n", "code: Market\n", `city.yaml:16: site_types[0].code: site type "Market" must be lower-case letters, digits, - or _`},
		{"a pass score over 100", "pass_score: 90", "pass_score: 190", `city.yaml:22: inspection.pass_score: must be from 0 to 100, not 190`},
		{"a window in weeks", "window: 14d", "window: 1.5d", `city.yaml:23: inspection.recurrence.window: bad duration "1.5d": want whole days such as 30d, or a Go duration such as 720h`},
		{"listed at the first failure", "list_at: 4", "list_at: 1", `city.yaml:23: inspection.recurrence.list_at: must be 2 or more (the first failure is no recurrence), not 1`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := duban.ParsePolicy("city.yaml", []byte(strings.Replace(standards, tt.from, tt.to, 1)))
			if err == nil || strings.Split(err.Error(), "\n")[0] != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// The default policy ships a realistic set of standards: the site types
// every city inspects, 5 to 12 items each, in both languages, each
// opening a case of a category with a unit.
func TestDefaultStandards(t *testing.T) {
	p := duban.DefaultPolicy()
	var names []string
	for _, st := range p.SiteTypes {
		names = append(names, st.Name.Zh)
		if n := len(st.Items); n < 5 || n > 12 {
			t.Errorf("%s has %d items", st.Code, n)
		}
		if st.Name.Zh == "" || st.Name.En == "" {
			t.Errorf("%s lacks a name: %+v", st.Code, st.Name)
		}
		for _, it := range st.Items {
			c, ok := p.Category(it.Category)
			if !ok || c.Unit == "" || it.Name.Zh == "" || it.Name.En == "" || it.Points < 1 {
				t.Errorf("%s/%s: %+v (category %+v)", st.Code, it.Code, it, c)
			}
		}
	}
	for _, want := range []string{"农贸市场", "背街小巷", "居民小区", "学校周边", "公共广场", "交通路口", "公交站点", "公厕"} {
		if !slices.Contains(names, want) {
			t.Errorf("the default standards lack %s: %v", want, names)
		}
	}
}

// Rounds the policy schedules: started weekly, daily or on a cron line,
// drawing from what the policy has; every problem placed by line.
func TestRoundSchedulesInThePolicy(t *testing.T) {
	scheduled := strings.Replace(minimalPolicy, "escalation:", `site_types:
  - code: market
    name: {zh: 农贸市场, en: Farmers' market}
    items:
      - {code: market-clean, name: {zh: 地面整洁, en: Clean floor}, category: littering, points: 4}
rounds:
  - code: weekly-markets
    name: 每周农贸市场明查
    every: mon 08:30
    site_types: [market]
    sample: 5
    due: 5d
    inspectors: [inspector-1]
  - code: evening-covert
    name: 夜间暗访
    every: "0 20 * * 5"
    kind: covert
    due: 36h
    inspectors: [inspector-1]
escalation:`, 1)
	p, err := duban.ParsePolicy("city.yaml", []byte(scheduled))
	if err != nil {
		t.Fatal(err)
	}
	weekly, ok := p.RoundSchedule("weekly-markets")
	if !ok || weekly.Weekday != 1 || weekly.Hour != 8 || weekly.Minute != 30 || weekly.Cron != "" || weekly.Kind != duban.RoundOpen ||
		weekly.Due != 5*24*time.Hour || weekly.Sample != 5 {
		t.Fatalf("weekly %+v", weekly)
	}
	if evening, _ := p.RoundSchedule("evening-covert"); evening.Cron != "0 20 * * 5" || evening.Kind != duban.RoundCovert || evening.Due != 36*time.Hour {
		t.Fatalf("evening %+v", evening)
	}
	plan := weekly.Plan(t0)
	if plan.By != duban.System || !plan.DueBy.Equal(t0.Add(5*24*time.Hour)) || plan.Name != "每周农贸市场明查" || plan.Sample != 5 {
		t.Fatalf("plan %+v", plan)
	}
	for _, tt := range []struct{ name, from, to, want string }{
		{"a bad time", "every: mon 08:30", "every: monday 8:30", `city.yaml:23: rounds[0].every: bad time "monday 8:30": want a day and a time such as "mon 08:30" or "daily 17:00", or a cron line such as "30 8 * * 1"`},
		{"an unknown site type", "site_types: [market]", "site_types: [mall]", `city.yaml:24: rounds[0].site_types[0]: unknown site type "mall"`},
		{"no due time", "    due: 5d\n", "", `city.yaml:21: rounds[0].due: a scheduled round needs its due time after its start, such as 5d`},
		{"a stranger", "inspectors: [inspector-1]\n  - code", "inspectors: [supervisor-9]\n  - code", `city.yaml:27: rounds[0].inspectors[0]: "supervisor-9" is not an inspector of the policy`},
		{"a kind", "kind: covert", "kind: loud", `city.yaml:31: rounds[1].kind: must be open (明查) or covert (暗访), not "loud"`},
		{"a code twice", "code: evening-covert", "code: weekly-markets", `city.yaml:28: rounds[1].code: round "weekly-markets" is listed twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := duban.ParsePolicy("city.yaml", []byte(strings.Replace(scheduled, tt.from, tt.to, 1)))
			if err == nil || strings.Split(err.Error(), "\n")[0] != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// Areas may have outlines for the map: GeoJSON polygons, checked by line;
// together they bound where a site may be.
func TestAreaOutlines(t *testing.T) {
	outlined := strings.Replace(minimalPolicy, "escalation:", `areas:
  - id: old-town
    name: {zh: 老城区, en: Old town}
    outline: {type: Polygon, coordinates: [[[111.20, 39.84], [111.26, 39.84], [111.26, 39.89], [111.20, 39.89], [111.20, 39.84]]]}
  - id: riverside
    name: {zh: 滨河, en: Riverside}
escalation:`, 1)
	p, err := duban.ParsePolicy("city.yaml", []byte(outlined))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := p.Bounds()
	if !ok || b != (duban.Bounds{MinLat: 39.84, MinLon: 111.20, MaxLat: 39.89, MaxLon: 111.26}) {
		t.Fatalf("bounds %+v, %v", b, ok)
	}
	if !b.Contains(duban.Location{Lat: 39.865, Lon: 111.238}) || b.Contains(duban.Location{Lat: 39.865, Lon: 112}) {
		t.Fatal("the bounds hold the wrong places")
	}
	if _, ok := minimal(t).Bounds(); ok {
		t.Fatal("a policy with no outline has bounds")
	}
	for _, tt := range []struct{ name, from, to, want string }{
		{"not a polygon", "type: Polygon", "type: Point", `city.yaml:18: areas[0].outline: must be a GeoJSON Polygon, {type: Polygon, coordinates: [[[lon, lat], ...]]}, not "Point"`},
		{"an open ring", "[111.20, 39.89], [111.20, 39.84]]]", "[111.20, 39.89], [111.21, 39.84]]]", `city.yaml:18: areas[0].outline.coordinates[0]: a ring must end where it starts`},
		{"lat and lon swapped", "[111.20, 39.84], [111.26", "[39.84, 111.20], [111.26", `city.yaml:18: areas[0].outline.coordinates[0]: [39.84 111.2] is not a [lon, lat] on the globe`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := duban.ParsePolicy("city.yaml", []byte(strings.Replace(outlined, tt.from, tt.to, 1)))
			if err == nil || strings.Split(err.Error(), "\n")[0] != tt.want {
				t.Fatalf("got %v\nwant %s", err, tt.want)
			}
		})
	}
	// A site outside the bounds is refused, saying them.
	cmd := p.ResolveSite(duban.SiteCommand{By: duban.Principal{ID: "a", Role: duban.RoleAdmin}, Kind: duban.RegisterSite, SiteID: "far",
		Fields: duban.SiteFields{Name: "far away", Type: "", Location: duban.Location{Lat: 31.2, Lon: 121.5}}})
	_, err = duban.DecideSite(duban.Site{}, cmd, t0)
	var e *duban.Error
	if !errors.As(err, &e) || !slices.ContainsFunc(e.Fields, func(f duban.FieldError) bool {
		return f.Field == "location" && f.Message == "is outside the policy's map: latitude 39.84 to 39.89, longitude 111.2 to 111.26"
	}) {
		t.Fatalf("a site in another city: %v", err)
	}
}

func minimal(t *testing.T) *duban.Policy {
	t.Helper()
	p, err := duban.ParsePolicy("p.yaml", []byte(minimalPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// An outline may be kept in a GeoJSON file beside the policy: a Polygon,
// or a Feature of one; its contents count in the policy's version.
func TestAreaOutlineFiles(t *testing.T) {
	files := map[string]string{
		"old-town.geojson":  `{"type": "Feature", "properties": {"name": "老城区"}, "geometry": {"type": "Polygon", "coordinates": [[[111.20, 39.84], [111.26, 39.84], [111.26, 39.89], [111.20, 39.89], [111.20, 39.84]]]}}`,
		"riverside.geojson": `{"type": "Polygon", "coordinates": [[[111.10, 39.84], [111.20, 39.84], [111.20, 39.89], [111.10, 39.84]]]}`,
	}
	read := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fmt.Errorf("open %s: no such file", name)
	}
	policy := strings.Replace(minimalPolicy, "escalation:", `areas:
  - id: old-town
    name: {zh: 老城区, en: Old town}
    outline: old-town.geojson
  - id: riverside
    name: {zh: 滨河, en: Riverside}
    outline: riverside.geojson
escalation:`, 1)
	p, err := duban.ParsePolicyWith("city.yaml", []byte(policy), read)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := p.Bounds(); b != (duban.Bounds{MinLat: 39.84, MinLon: 111.10, MaxLat: 39.89, MaxLon: 111.26}) || len(p.Areas[0].Outline[0]) != 5 {
		t.Fatalf("bounds %+v, old town %v", b, p.Areas[0].Outline)
	}
	files["riverside.geojson"] = strings.Replace(files["riverside.geojson"], "111.10, 39.84]]]", "111.10, 39.85]]]", 1)
	if _, err := duban.ParsePolicyWith("city.yaml", []byte(policy), read); err == nil || !strings.Contains(err.Error(), "city.yaml:21: areas[1].outline.coordinates[0]: a ring must end where it starts") {
		t.Fatalf("an open ring in a file: %v", err)
	}
	files["riverside.geojson"] = strings.Replace(files["riverside.geojson"], "111.10, 39.85]]]", "111.10, 39.84]]]", 1)
	files["old-town.geojson"] = strings.Replace(files["old-town.geojson"], "111.26, 39.89", "111.27, 39.89", 1)
	changed, err := duban.ParsePolicyWith("city.yaml", []byte(policy), read)
	if err != nil || changed.Version == p.Version {
		t.Fatalf("a changed outline file leaves the version %s (%v)", p.Version, err)
	}
	for _, tc := range []struct {
		read func(string) ([]byte, error)
		want string
	}{
		{nil, `city.yaml:18: areas[0].outline: an outline file "old-town.geojson" is read from beside a policy file only: give the polygon here`},
		{func(string) ([]byte, error) { return nil, errors.New("open old-town.geojson: permission denied") }, `city.yaml:18: areas[0].outline: cannot read the outline: open old-town.geojson: permission denied`},
		{func(string) ([]byte, error) { return []byte("<kml/>"), nil }, `city.yaml:18: areas[0].outline: old-town.geojson is not GeoJSON: invalid character '<' looking for beginning of value`},
	} {
		if _, err := duban.ParsePolicyWith("city.yaml", []byte(policy), tc.read); err == nil || strings.Split(err.Error(), "\n")[0] != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
	}
}

// A city's tile server may be named: a URL template of {z}, {x}, {y} and
// its attribution, checked by line.
func TestMapTilesInThePolicy(t *testing.T) {
	tiled := strings.Replace(minimalPolicy, "escalation:", `map:
  tiles: https://tiles.example.gov.cn/{z}/{x}/{y}.png
  attribution: 底图 © 市测绘院
escalation:`, 1)
	p, err := duban.ParsePolicy("city.yaml", []byte(tiled))
	if err != nil {
		t.Fatal(err)
	}
	if p.Map.Origin() != "https://tiles.example.gov.cn" || p.Map.Tile(14, 13060, 6180) != "https://tiles.example.gov.cn/14/13060/6180.png" {
		t.Fatalf("tiles %+v", p.Map)
	}
	for _, tt := range []struct{ from, to, want string }{
		{"{z}/{x}/{y}.png", "tile.png", `city.yaml:16: map.tiles: must hold {z}, {x} and {y}: "https://tiles.example.gov.cn/tile.png"`},
		{"https://tiles", "ftp://tiles", `city.yaml:16: map.tiles: must be an http(s) URL template, such as https://tiles.example.gov.cn/{z}/{x}/{y}.png, not "ftp://tiles.example.gov.cn/{z}/{x}/{y}.png"`},
		{"  attribution: 底图 © 市测绘院\n", "", `city.yaml:15: map.attribution: a tile server's attribution is required: its licence asks for it`},
	} {
		_, err := duban.ParsePolicy("city.yaml", []byte(strings.Replace(tiled, tt.from, tt.to, 1)))
		if err == nil || strings.Split(err.Error(), "\n")[0] != tt.want {
			t.Errorf("got %v\nwant %s", err, tt.want)
		}
	}
}
