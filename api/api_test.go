package api_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
	"github.com/duban/duban/blobs"
	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/memstore"
)

// The handlers' tests run the API over the application layer with the
// in-memory store and engine: every door path, no PostgreSQL or Temporal.

type door struct {
	t     *testing.T
	srv   *httptest.Server
	store *memstore.Store
	blobs string // the attachments' directory
}

func newDoor(t *testing.T, ready ...app.Dependency) *door { return newDoorAt(t, time.Now, ready...) }

// newDoorAt is newDoor with every part reading the clock now.
func newDoorAt(t *testing.T, now func() time.Time, ready ...app.Dependency) *door {
	store := memstore.New()
	blobDir := t.TempDir()
	files, err := blobs.NewDir(blobDir)
	if err != nil {
		t.Fatal(err)
	}
	svc := &app.Service{Policy: duban.DefaultPolicy(), Store: store, Engine: &memstore.Engine{Store: store, Now: now}, Now: now,
		Attachments: store, Blobs: files, Sites: store}
	s := &api.Server{Policy: svc.Policy, Cases: svc, Commands: svc, Reports: svc, Attachments: svc, Sites: svc, Ready: ready,
		Logger: slog.New(slog.DiscardHandler), Now: now}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &door{t: t, srv: srv, store: store, blobs: blobDir}
}

// call sends a request as the principal with token.
func (d *door) call(method, path, token string, body any, headers ...string) apitest.Response {
	d.t.Helper()
	return apitest.Call(d.t, d.srv.URL, method, path, token, body, headers...)
}

type wireCase struct {
	ID         string   `json:"id"`
	Number     string   `json:"number"`
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

// refused checks a problem answer: its status, and the field named first.
func refused(t *testing.T, a apitest.Response, status int, field, message string) problem {
	t.Helper()
	var p problem
	a.Expect(t, status, &p)
	if a.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("content type %q", a.Header.Get("Content-Type"))
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
	d.call("POST", "/v1/cases", "dev-inspector", body, headers...).Expect(d.t, 201, &c)
	return c
}

func TestCommandsGoThroughTheApplicationLayer(t *testing.T) {
	d := newDoor(t)
	res := d.call("POST", "/v1/cases", "dev-inspector", littering())
	var c wireCase
	res.Expect(t, 201, &c)
	if c.Status != "dispatched" || *c.Unit != "sanitation" || res.Header.Get("Location") != "/v1/cases/"+c.ID || res.Header.Get("ETag") != `"2"` {
		t.Fatalf("opened %+v, headers %v", c, res.Header)
	}
	p := "/v1/cases/" + c.ID
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil).Expect(t, 200, &c)
	if c.Status != "in_progress" || c.Version != 3 {
		t.Fatalf("acknowledged %+v", c)
	}
	var got wireCase
	d.call("GET", p, "dev-sanitation", nil).Expect(t, 200, &got)
	if got.Version != 3 {
		t.Fatalf("read after the command: %+v", got)
	}
	var events struct{ Items []duban.Event }
	d.call("GET", p+"/events", "dev-supervisor", nil).Expect(t, 200, &events)
	if len(events.Items) != 3 || events.Items[2].Type != duban.EventCaseAcknowledged {
		t.Fatalf("events %+v", events.Items)
	}
	// Another unit: the case does not exist for it, to read or to command.
	refused(t, d.call("GET", p, "dev-traffic-police", nil), 404, "", "")
	refused(t, d.call("GET", p+"/events", "dev-traffic-police", nil), 404, "", "")
	refused(t, d.call("POST", p+"/comments", "dev-traffic-police", map[string]any{"text": "hi"}), 404, "", "")
	var list struct{ Items []wireCase }
	d.call("GET", "/v1/cases?unit=sanitation", "dev-traffic-police", nil).Expect(t, 200, &list)
	if len(list.Items) != 0 {
		t.Fatalf("another unit lists %+v", list.Items)
	}
	d.call("GET", "/v1/cases", "dev-sanitation", nil).Expect(t, 200, &list)
	if len(list.Items) != 1 {
		t.Fatalf("the unit lists %+v", list.Items)
	}
	// A role the command is not for.
	refused(t, d.call("POST", p+"/resolve", "dev-inspector", map[string]any{"note": "x"}), 403, "", "")
	refused(t, d.call("GET", "/v1/escalations", "dev-sanitation", nil), 403, "", "")
	refused(t, d.call("GET", "/v1/escalations", "dev-inspector", nil), 403, "", "")
	d.call("GET", "/v1/escalations", "dev-supervisor", nil).Expect(t, 200, nil)
	// The state does not allow it; a stale If-Match.
	refused(t, d.call("POST", p+"/acknowledge", "dev-sanitation", nil), 409, "", "")
	refused(t, d.call("POST", p+"/comments", "dev-supervisor", map[string]any{"text": "seen"}, "If-Match", `"2"`), 412, "", "")
}

// Each case has a number of its year (the policy's time zone), in the
// first answer and every read; a refused open draws none. A list finds a
// case by it, by text, by reporter and by the days it was opened.
func TestCaseNumbersAndSearch(t *testing.T) {
	d := newDoor(t)
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	year := time.Now().In(shanghai).Year()
	a := d.open(littering())
	bad := littering()
	bad["category"] = "no-such-thing"
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", bad), 400, "category", "is not a known category")
	other := littering()
	other["description"] = "Posters glued over the 100% recycled bin"
	other["location"].(map[string]any)["address"] = "12 Drum Tower Street"
	b := d.open(other)
	if a.Number != fmt.Sprintf("%d-000001", year) || b.Number != fmt.Sprintf("%d-000002", year) {
		t.Fatalf("numbers %q, %q", a.Number, b.Number)
	}
	var got wireCase
	d.call("GET", "/v1/cases/"+b.ID, "dev-supervisor", nil).Expect(t, 200, &got)
	if got.Number != b.Number {
		t.Fatalf("read %+v", got)
	}
	today := time.Now().In(shanghai).Format(time.DateOnly)
	tomorrow := time.Now().In(shanghai).AddDate(0, 0, 1).Format(time.DateOnly)
	for query, want := range map[string][]string{
		"q=" + b.Number:                       {b.ID},
		"q=drum+tower":                        {b.ID},
		"q=100%25":                            {b.ID},
		"q=bus+stop":                          {a.ID},
		"q=%25":                               {b.ID}, // the % of "100%", not a wildcard
		"reporter=inspector-1":                {b.ID, a.ID},
		"reporter=inspector-2":                {},
		"opened_from=" + today:                {b.ID, a.ID},
		"opened_from=" + tomorrow:             {},
		"opened_until=" + today:               {b.ID, a.ID},
		"q=bin&opened_until=" + today:         {b.ID},
		"q=" + fmt.Sprintf("%d-000003", year): {},
	} {
		var list struct{ Items []wireCase }
		d.call("GET", "/v1/cases?"+query, "dev-supervisor", nil).Expect(t, 200, &list)
		var ids []string
		for _, c := range list.Items {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s: %v, want %v", query, ids, want)
		}
	}
	refused(t, d.call("GET", "/v1/cases?opened_from=2026-13-01", "dev-supervisor", nil), 400, "opened_from", "must be a date")
	refused(t, d.call("GET", "/v1/cases?opened_from=2026-12-02&opened_until=2026-12-01", "dev-supervisor", nil), 400, "opened_until", "must not be before")
	refused(t, d.call("GET", "/v1/cases?q="+strings.Repeat("x", 101), "dev-supervisor", nil), 400, "q", "must be at most 100")
}

// What the policy and other cases say is decided by Decide, on the facts
// the application layer gives the command.
func TestRefusalsOnResolvedFacts(t *testing.T) {
	d := newDoor(t)
	body := littering()
	body["category"] = "noise"
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", body), 400, "category", "is not a known category: littering, graffiti")

	c := d.open(littering())
	p := "/v1/cases/" + c.ID
	refused(t, d.call("POST", p+"/assign", "dev-supervisor", map[string]any{"unit": "parks"}),
		400, "unit", "is not a unit of the policy: sanitation, urban-management")

	original := d.open(littering())
	closed := d.open(littering())
	d.call("POST", "/v1/cases/"+closed.ID+"/cancel", "dev-supervisor", map[string]any{"reason": "not a problem"}).Expect(t, 200, nil)
	cancel := func(dupOf string) apitest.Response {
		return d.call("POST", p+"/cancel", "dev-supervisor", map[string]any{"reason": "reported twice", "duplicate_of": dupOf})
	}
	refused(t, cancel("0194f2a0-0000-7000-8000-000000000042"), 400, "duplicate_of", "is not a case")
	refused(t, cancel("case-7"), 400, "duplicate_of", "must be a case id")
	refused(t, cancel(c.ID), 400, "duplicate_of", "a case cannot be a duplicate of itself")
	refused(t, cancel(closed.ID), 409, "", "")
	var after wireCase
	cancel(original.ID).Expect(t, 200, &after)
	if after.Status != "cancelled" {
		t.Fatalf("cancelled %+v", after)
	}
	var orig wireCase
	d.call("GET", "/v1/cases/"+original.ID, "dev-supervisor", nil).Expect(t, 200, &orig)
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
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", noLat), 400, "location.lat", "is required")
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", `{"category":`), 400, "", "")
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", `{"colour": "red"}`), 400, "colour", "is not a known field")
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", littering(), "Content-Type", "text/plain"), 415, "", "")
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", littering(), "Idempotency-Key", "a key\twith a tab"), 400, "Idempotency-Key", "")
	refused(t, d.call("POST", p+"/acknowledge", "dev-sanitation", nil, "If-Match", "three"), 400, "If-Match", "")
	refused(t, d.call("POST", p+"/verify", "dev-inspector", map[string]any{"note": "x"}), 400, "passed", "is required")
	refused(t, d.call("POST", p+"/suspend", "dev-supervisor", map[string]any{"reason": "rain", "until": "tomorrow"}), 400, "until", "must be an RFC 3339 time")
	refused(t, d.call("POST", p+"/extensions/first/decision", "dev-supervisor", map[string]any{"approved": true}), 404, "", "")
	refused(t, d.call("GET", "/v1/cases?colour=red&limit=0", "dev-supervisor", nil), 400, "colour", "is not a filter")
	refused(t, d.call("GET", "/v1/escalations?limit=0", "dev-supervisor", nil), 400, "limit", "must be a whole number from 1 to 1000")
	refused(t, d.call("GET", "/v1/escalations?unit=sanitation&colour=red", "dev-supervisor", nil), 400, "colour", "is not a filter")
	refused(t, d.call("GET", "/v1/escalations?cursor=abc", "dev-supervisor", nil), 400, "cursor", "is not a cursor")
	refused(t, d.call("GET", "/v1/cases/"+c.ID, "", nil), 401, "", "")
	refused(t, d.call("GET", "/v1/nothing", "dev-supervisor", nil), 404, "", "")
	// An empty open names what it lacks, once each.
	pr := refused(t, d.call("POST", "/v1/cases", "dev-inspector", map[string]any{}), 400, "location", "is required")
	if len(pr.Errors) != 1 {
		t.Fatalf("{}: %+v", pr.Errors)
	}
	pr = refused(t, d.call("POST", "/v1/cases", "dev-inspector", map[string]any{"location": map[string]any{"lat": 1, "lon": 2}}), 400, "category", "is required")
	if len(pr.Errors) != 2 || pr.Errors[1].Field != "description" {
		t.Fatalf("an open with a place only: %+v", pr.Errors)
	}
	// What Decide finds in the same body comes with the rest of the fields.
	bad := map[string]any{"category": "", "severity": "extreme", "description": " ", "location": map[string]any{"lat": 91, "lon": 0}}
	pr = refused(t, d.call("POST", "/v1/cases", "dev-inspector", bad), 400, "category", "is required")
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
	d.call("POST", "/v1/cases", "dev-inspector", littering(), "Idempotency-Key", "patrol-1").Expect(t, 200, &again)
	if again.ID != first.ID {
		t.Fatalf("a repeated open made case %s, then %s", first.ID, again.ID)
	}
	other := littering()
	other["description"] = "something else"
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", other, "Idempotency-Key", "patrol-1"), 409, "", "")
	if another := d.open(littering(), "Idempotency-Key", "patrol-2"); another.ID == first.ID {
		t.Fatal("another key, the same case")
	}
	// Another principal's key is its own.
	var theirs wireCase
	d.call("POST", "/v1/cases", "dev-supervisor", littering(), "Idempotency-Key", "patrol-1").Expect(t, 201, &theirs)
	if theirs.ID == first.ID {
		t.Fatal("two principals share a key")
	}

	p := "/v1/cases/" + first.ID
	var acked wireCase
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-1").Expect(t, 200, &acked)
	d.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}).Expect(t, 200, nil)
	var repeat wireCase
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-1").Expect(t, 200, &repeat)
	if repeat.Version != acked.Version || repeat.Status != "in_progress" {
		t.Fatalf("the repeat answered %+v, the first %+v", repeat, acked)
	}
	refused(t, d.call("POST", p+"/acknowledge", "dev-sanitation", nil, "Idempotency-Key", "ack-2"), 409, "", "")
}

func TestReadiness(t *testing.T) {
	ok := newDoor(t, app.Dependency{Name: "database", Check: func(context.Context) error { return nil }})
	ok.call("GET", "/readyz", "", nil).Expect(t, 200, nil)
	down := newDoor(t, app.Dependency{Name: "database", Check: func(context.Context) error { return errors.New("refused") }})
	var body struct {
		Status string
		Checks map[string]string
	}
	down.call("GET", "/readyz", "", nil).Expect(t, 503, &body)
	if body.Status != "unavailable" || body.Checks["database"] != "unavailable" {
		t.Fatalf("readiness %+v", body)
	}
}

// A request's id is the client's when it reads well in a log, else one of
// duban's own; a panic in a handler is a 500 that says nothing of it.
func TestRequestIDsAndPanics(t *testing.T) {
	d := newDoor(t)
	if got := d.call("GET", "/healthz", "", nil, "X-Request-Id", "patrol-7.2").Header.Get("X-Request-Id"); got != "patrol-7.2" {
		t.Fatalf("request id %q", got)
	}
	if got := d.call("GET", "/healthz", "", nil, "X-Request-Id", "a b<c>").Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " <>") {
		t.Fatalf("request id %q", got)
	}
	s := &api.Server{Policy: duban.DefaultPolicy(), Cases: panicking{}, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	p := &door{t: t, srv: srv}
	res := p.call("GET", "/v1/cases", "dev-supervisor", nil)
	if res.Status != 500 || strings.Contains(string(res.Body), "secret") {
		t.Fatalf("a panic answered %d: %s", res.Status, res.Body)
	}
}

// panicking is a reader with a bug.
type panicking struct{ api.CaseReader }

func (panicking) Cases(context.Context, duban.Principal, duban.CaseFilter) ([]app.Listed, *duban.CaseCursor, error) {
	panic("secret internals")
}

// A disputed case waits for the campaign office against its assign
// deadline, on the policy's business calendar, and is on the escalation
// board once that has passed; the board filters and pages as lists do.
func TestDisputedCasesOnTheBoard(t *testing.T) {
	now := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC) // a Monday, 09:00 in Shanghai
	d := newDoorAt(t, func() time.Time { return now })
	var disputed []string
	for range 3 {
		c := d.open(littering())
		d.call("POST", "/v1/cases/"+c.ID+"/dispute", "dev-sanitation", map[string]any{"reason": "the market's"}).Expect(t, 200, nil)
		disputed = append(disputed, c.ID)
		now = now.Add(time.Minute)
	}
	var c struct {
		Stage     string
		Deadlines struct {
			AssignBy *time.Time `json:"assign_by"`
		}
		Overdue bool
	}
	d.call("GET", "/v1/cases/"+disputed[0], "dev-supervisor", nil).Expect(t, 200, &c)
	if want := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC); c.Stage != "assign" || c.Deadlines.AssignBy == nil || !c.Deadlines.AssignBy.Equal(want) || c.Overdue {
		t.Fatalf("disputed case: %+v, want assign by %s", c, want)
	}
	type board struct {
		Items []struct {
			ID              string
			Overdue         bool
			EscalationLevel int `json:"escalation_level"`
		}
		NextCursor *string `json:"next_cursor"`
	}
	var b board
	d.call("GET", "/v1/escalations", "dev-supervisor", nil).Expect(t, 200, &b)
	if len(b.Items) != 0 {
		t.Fatalf("before the deadline: %+v", b)
	}
	now = time.Date(2026, 11, 30, 3, 5, 0, 0, time.UTC)
	var paged []string
	path := "/v1/escalations?status=disputed&limit=2"
	for range 3 {
		b = board{}
		d.call("GET", path, "dev-supervisor", nil).Expect(t, 200, &b)
		for _, it := range b.Items {
			if !it.Overdue || it.EscalationLevel != 1 {
				t.Fatalf("on the board: %+v", it)
			}
			paged = append(paged, it.ID)
		}
		if b.NextCursor == nil {
			break
		}
		path = "/v1/escalations?status=disputed&limit=2&cursor=" + *b.NextCursor
	}
	if strings.Join(paged, " ") != strings.Join(disputed, " ") {
		t.Fatalf("paged %v, want the longest overdue first %v", paged, disputed)
	}
	d.call("GET", "/v1/escalations?unit=sanitation", "dev-supervisor", nil).Expect(t, 200, &b)
	if len(b.Items) != 0 {
		t.Fatalf("a disputed case is no longer the unit's: %+v", b)
	}
}
