package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
	"github.com/duban/duban/internal/memstore"
)

// The handlers' tests run the API over the application layer with the
// in-memory store and engine: every door path, no PostgreSQL or Temporal.

type door struct {
	t   *testing.T
	srv *httptest.Server
}

func newDoor(t *testing.T, ready ...api.Dependency) *door {
	store := memstore.New()
	svc := &app.Service{Policy: duban.DefaultPolicy(), Store: store, Engine: &memstore.Engine{Store: store}}
	s := &api.Server{Policy: svc.Policy, Cases: svc, Commands: svc, Ready: ready, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &door{t: t, srv: srv}
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request as the principal with token; body is JSON-encoded
// unless it is a string. headers are name, value pairs.
func (d *door) call(method, path, token string, body any, headers ...string) answer {
	d.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, d.srv.URL+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b}
}

type wireCase struct {
	ID         string   `json:"id"`
	Status     string   `json:"status"`
	Unit       *string  `json:"unit"`
	Version    int64    `json:"version"`
	Duplicates []string `json:"duplicates"`
}

type problem struct {
	Status int                `json:"status"`
	Detail string             `json:"detail"`
	Errors []duban.FieldError `json:"errors"`
}

// expect checks the status and decodes the body into v, if not nil.
func (a answer) expect(t *testing.T, status int, v any) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	if v != nil {
		if err := json.Unmarshal(a.body, v); err != nil {
			t.Fatalf("%s: %v", a.body, err)
		}
	}
}

// refused checks a problem answer: its status, and the field named first.
func (a answer) refused(t *testing.T, status int, field, message string) problem {
	t.Helper()
	var p problem
	a.expect(t, status, &p)
	if a.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("content type %q", a.header.Get("Content-Type"))
	}
	if field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != field || !strings.HasPrefix(p.Errors[0].Message, message)) {
		t.Fatalf("errors %+v, want %s %q", p.Errors, field, message)
	}
	return p
}

func littering() map[string]any {
	return map[string]any{
		"category": "littering", "description": "bags dumped at the bus stop",
		"location": map[string]any{"lat": 39.865, "lon": 111.238, "area": "old-town"},
	}
}

func (d *door) open(body any, headers ...string) wireCase {
	d.t.Helper()
	var c wireCase
	d.call("POST", "/v1/cases", "dev-inspector", body, headers...).expect(d.t, 201, &c)
	return c
}

func TestCommandsGoThroughTheApplicationLayer(t *testing.T) {
	d := newDoor(t)
	res := d.call("POST", "/v1/cases", "dev-inspector", littering())
	var c wireCase
	res.expect(t, 201, &c)
	if c.Status != "dispatched" || *c.Unit != "sanitation" || res.header.Get("Location") != "/v1/cases/"+c.ID || res.header.Get("ETag") != `"2"` {
		t.Fatalf("opened %+v, headers %v", c, res.header)
	}
	p := "/v1/cases/" + c.ID
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil).expect(t, 200, &c)
	if c.Status != "in_progress" || c.Version != 3 {
		t.Fatalf("acknowledged %+v", c)
	}
	var got wireCase
	d.call("GET", p, "dev-sanitation", nil).expect(t, 200, &got)
	if got.Version != 3 {
		t.Fatalf("read after the command: %+v", got)
	}
	var events struct{ Items []duban.Event }
	d.call("GET", p+"/events", "dev-supervisor", nil).expect(t, 200, &events)
	if len(events.Items) != 3 || events.Items[2].Type != duban.EventCaseAcknowledged {
		t.Fatalf("events %+v", events.Items)
	}
	// Another unit: the case does not exist for it, to read or to command.
	d.call("GET", p, "dev-traffic-police", nil).refused(t, 404, "", "")
	d.call("GET", p+"/events", "dev-traffic-police", nil).refused(t, 404, "", "")
	d.call("POST", p+"/comments", "dev-traffic-police", map[string]any{"text": "hi"}).refused(t, 404, "", "")
	var list struct{ Items []wireCase }
	d.call("GET", "/v1/cases?unit=sanitation", "dev-traffic-police", nil).expect(t, 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("another unit lists %+v", list.Items)
	}
	d.call("GET", "/v1/cases", "dev-sanitation", nil).expect(t, 200, &list)
	if len(list.Items) != 1 {
		t.Fatalf("the unit lists %+v", list.Items)
	}
	// A role the command is not for.
	d.call("POST", p+"/resolve", "dev-inspector", map[string]any{"note": "x"}).refused(t, 403, "", "")
	d.call("GET", "/v1/escalations", "dev-sanitation", nil).refused(t, 403, "", "")
	d.call("GET", "/v1/escalations", "dev-inspector", nil).refused(t, 403, "", "")
	d.call("GET", "/v1/escalations", "dev-supervisor", nil).expect(t, 200, nil)
	// The state does not allow it; a stale If-Match.
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil).refused(t, 409, "", "")
	d.call("POST", p+"/comments", "dev-supervisor", map[string]any{"text": "seen"}, "If-Match", `"2"`).refused(t, 412, "", "")
}

// What the policy and other cases say is decided by Decide, on the facts
// the application layer gives the command.
func TestRefusalsOnResolvedFacts(t *testing.T) {
	d := newDoor(t)
	body := littering()
	body["category"] = "noise"
	d.call("POST", "/v1/cases", "dev-inspector", body).refused(t, 400, "category", "is not a known category: littering, graffiti")

	c := d.open(littering())
	p := "/v1/cases/" + c.ID
	d.call("POST", p+"/assign", "dev-supervisor", map[string]any{"unit": "parks"}).
		refused(t, 400, "unit", "is not a unit of the policy: sanitation, urban-management")

	original := d.open(littering())
	closed := d.open(littering())
	d.call("POST", "/v1/cases/"+closed.ID+"/cancel", "dev-supervisor", map[string]any{"reason": "not a problem"}).expect(t, 200, nil)
	cancel := func(dupOf string) answer {
		return d.call("POST", p+"/cancel", "dev-supervisor", map[string]any{"reason": "reported twice", "duplicate_of": dupOf})
	}
	cancel("0194f2a0-0000-7000-8000-000000000042").refused(t, 400, "duplicate_of", "is not a case")
	cancel("case-7").refused(t, 400, "duplicate_of", "must be a case id")
	cancel(c.ID).refused(t, 400, "duplicate_of", "a case cannot be a duplicate of itself")
	cancel(closed.ID).refused(t, 409, "", "")
	var after wireCase
	cancel(original.ID).expect(t, 200, &after)
	if after.Status != "cancelled" {
		t.Fatalf("cancelled %+v", after)
	}
	var orig wireCase
	d.call("GET", "/v1/cases/"+original.ID, "dev-supervisor", nil).expect(t, 200, &orig)
	if len(orig.Duplicates) != 1 || orig.Duplicates[0] != c.ID {
		t.Fatalf("original %+v", orig)
	}
}

// The door refuses only what it cannot decode; everything it reports is
// a problem answer naming what is wrong.
func TestDecodingErrors(t *testing.T) {
	d := newDoor(t)
	c := d.open(littering())
	p := "/v1/cases/" + c.ID
	noLat := littering()
	noLat["location"] = map[string]any{"lon": 111.2}
	d.call("POST", "/v1/cases", "dev-inspector", noLat).refused(t, 400, "location.lat", "is required")
	d.call("POST", "/v1/cases", "dev-inspector", `{"category":`).refused(t, 400, "", "")
	d.call("POST", "/v1/cases", "dev-inspector", `{"colour": "red"}`).refused(t, 400, "colour", "is not a known field")
	d.call("POST", "/v1/cases", "dev-inspector", littering(), "Content-Type", "text/plain").refused(t, 415, "", "")
	d.call("POST", "/v1/cases", "dev-inspector", littering(), "Idempotency-Key", "a key\twith a tab").refused(t, 400, "Idempotency-Key", "")
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil, "If-Match", "three").refused(t, 400, "If-Match", "")
	d.call("POST", p+"/verify", "dev-inspector", map[string]any{"note": "x"}).refused(t, 400, "passed", "is required")
	d.call("POST", p+"/suspend", "dev-supervisor", map[string]any{"reason": "rain", "until": "tomorrow"}).refused(t, 400, "until", "must be an RFC 3339 time")
	d.call("POST", p+"/extensions/first/decision", "dev-supervisor", map[string]any{"approved": true}).refused(t, 404, "", "")
	d.call("GET", "/v1/cases?colour=red&limit=0", "dev-supervisor", nil).refused(t, 400, "colour", "is not a filter")
	d.call("GET", "/v1/escalations?limit=0", "dev-supervisor", nil).refused(t, 400, "limit", "")
	d.call("GET", "/v1/cases/"+c.ID, "", nil).refused(t, 401, "", "")
	d.call("GET", "/v1/nothing", "dev-supervisor", nil).refused(t, 404, "", "")
	// What Decide finds in the same body comes with the rest of the fields.
	bad := map[string]any{"category": "", "severity": "extreme", "description": " ", "location": map[string]any{"lat": 91, "lon": 0}}
	pr := d.call("POST", "/v1/cases", "dev-inspector", bad).refused(t, 400, "category", "is required")
	var fields []string
	for _, e := range pr.Errors {
		fields = append(fields, e.Field)
	}
	if strings.Join(fields, " ") != "category severity description location.lat" {
		t.Fatalf("fields %v", fields)
	}
}

// The same Idempotency-Key from the same principal is the same case; the
// same key with another request is a conflict. A command repeated with its
// key after the case moved on answers as it did the first time.
func TestIdempotencyKeys(t *testing.T) {
	d := newDoor(t)
	first := d.open(littering(), "Idempotency-Key", "patrol-1")
	var again wireCase
	d.call("POST", "/v1/cases", "dev-inspector", littering(), "Idempotency-Key", "patrol-1").expect(t, 200, &again)
	if again.ID != first.ID {
		t.Fatalf("a repeated open made case %s, then %s", first.ID, again.ID)
	}
	other := littering()
	other["description"] = "something else"
	d.call("POST", "/v1/cases", "dev-inspector", other, "Idempotency-Key", "patrol-1").refused(t, 409, "", "")
	if another := d.open(littering(), "Idempotency-Key", "patrol-2"); another.ID == first.ID {
		t.Fatal("another key, the same case")
	}
	// Another principal's key is its own.
	var theirs wireCase
	d.call("POST", "/v1/cases", "dev-supervisor", littering(), "Idempotency-Key", "patrol-1").expect(t, 201, &theirs)
	if theirs.ID == first.ID {
		t.Fatal("two principals share a key")
	}

	p := "/v1/cases/" + first.ID
	var acked wireCase
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-1").expect(t, 200, &acked)
	d.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}).expect(t, 200, nil)
	var repeat wireCase
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-1").expect(t, 200, &repeat)
	if repeat.Version != acked.Version || repeat.Status != "in_progress" {
		t.Fatalf("the repeat answered %+v, the first %+v", repeat, acked)
	}
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-2").refused(t, 409, "", "")
}

func TestReadiness(t *testing.T) {
	ok := newDoor(t, api.Dependency{Name: "database", Check: func(context.Context) error { return nil }})
	ok.call("GET", "/readyz", "", nil).expect(t, 200, nil)
	down := newDoor(t, api.Dependency{Name: "database", Check: func(context.Context) error { return errors.New("refused") }})
	var body struct {
		Status string
		Checks map[string]string
	}
	down.call("GET", "/readyz", "", nil).expect(t, 503, &body)
	if body.Status != "unavailable" || body.Checks["database"] != "unavailable" {
		t.Fatalf("readiness %+v", body)
	}
}

// A request's id is the client's when it reads well in a log, else one of
// duban's own; a panic in a handler is a 500 that says nothing of it.
func TestRequestIDsAndPanics(t *testing.T) {
	d := newDoor(t)
	if got := d.call("GET", "/healthz", "", nil, "X-Request-Id", "patrol-7.2").header.Get("X-Request-Id"); got != "patrol-7.2" {
		t.Fatalf("request id %q", got)
	}
	if got := d.call("GET", "/healthz", "", nil, "X-Request-Id", "a b<c>").header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " <>") {
		t.Fatalf("request id %q", got)
	}
	s := &api.Server{Policy: duban.DefaultPolicy(), Cases: panicking{}, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	p := &door{t: t, srv: srv}
	res := p.call("GET", "/v1/cases", "dev-supervisor", nil)
	if res.status != 500 || strings.Contains(string(res.body), "secret") {
		t.Fatalf("a panic answered %d: %s", res.status, res.body)
	}
}

// panicking is a reader with a bug.
type panicking struct{ api.CaseReader }

func (panicking) Cases(context.Context, duban.Principal, duban.CaseFilter) ([]app.Listed, *duban.CaseCursor, error) {
	panic("secret internals")
}
