package api_test

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/memstore"
)

// schemas is the document's components/schemas, as JSON values.
type schemas map[string]map[string]any

func documentSchemas(t *testing.T) schemas {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas schemas `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas
}

// resolve returns the schema s refers to, or s.
func (all schemas) resolve(t *testing.T, s map[string]any) map[string]any {
	t.Helper()
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	target, ok := all[strings.TrimPrefix(ref, "#/components/schemas/")]
	if !ok {
		t.Fatalf("no schema %s", ref)
	}
	return all.resolve(t, target)
}

// fields adds the properties of s, its allOf's included, to fields: true
// for those it requires.
func (all schemas) fields(t *testing.T, s map[string]any, fields map[string]bool) {
	t.Helper()
	s = all.resolve(t, s)
	parts, _ := s["allOf"].([]any)
	for _, part := range parts {
		all.fields(t, part.(map[string]any), fields)
	}
	properties, _ := s["properties"].(map[string]any)
	for name := range properties {
		fields[name] = fields[name] || false
	}
	required, _ := s["required"].([]any)
	for _, name := range required {
		fields[name.(string)] = true
	}
}

// jsonFields adds the fields of a struct's JSON to fields, those of the
// structs it embeds included: true for those always there (not omitempty).
func jsonFields(typ reflect.Type, fields map[string]bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, options, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			jsonFields(f.Type, fields)
		case f.IsExported():
			if name == "" {
				name = f.Name
			}
			opts := strings.Split(options, ",")
			fields[name] = !slices.Contains(opts, "omitempty") && !slices.Contains(opts, "omitzero")
		}
	}
}

// goEventTypes returns the event types event.go declares: the EventType
// constants.
func goEventTypes(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "event.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			v := spec.(*ast.ValueSpec)
			if typ, ok := v.Type.(*ast.Ident); !ok || typ.Name != "EventType" {
				continue
			}
			for _, value := range v.Values {
				lit, ok := value.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("event.go: an EventType constant that is not a string literal: %T", value)
				}
				s, _ := strconv.Unquote(lit.Value)
				types = append(types, s)
			}
		}
	}
	if len(types) == 0 {
		t.Fatal("event.go declares no EventType constants")
	}
	return types
}

// The document's Event is one schema a type, for every event type
// event.go declares, and each type's data has the fields of its Go
// struct's JSON, required where Go always writes them.
func TestOpenAPIEventsAreEventGo(t *testing.T) {
	all := documentSchemas(t)
	types := goEventTypes(t)
	var enum []string
	for _, v := range all["EventType"]["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(enum, types) {
		t.Errorf("EventType is %v, event.go has %v", enum, types)
	}
	event := all["Event"]
	mapping := event["discriminator"].(map[string]any)["mapping"].(map[string]any)
	if got := slices.Sorted(maps.Keys(mapping)); !slices.Equal(got, slices.Sorted(slices.Values(types))) {
		t.Errorf("Event's discriminator maps %v, event.go has %v", got, types)
	}
	if n := len(event["oneOf"].([]any)); n != len(types) {
		t.Errorf("Event is one of %d schemas, event.go has %d types", n, len(types))
	}
	for _, typ := range types {
		ref, ok := mapping[typ].(string)
		if !ok {
			continue // reported above
		}
		variant := all.resolve(t, map[string]any{"$ref": ref})
		parts := variant["allOf"].([]any)
		own := parts[len(parts)-1].(map[string]any)["properties"].(map[string]any)
		if c := own["type"].(map[string]any)["const"]; c != typ {
			t.Errorf("%s: type is %v", ref, c)
		}
		docFields := map[string]bool{}
		all.fields(t, own["data"].(map[string]any), docFields)
		data, err := duban.DecodeEventData(duban.EventType(typ), []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		goFields := map[string]bool{}
		jsonFields(reflect.TypeOf(data), goFields)
		if !maps.Equal(docFields, goFields) {
			t.Errorf("%s's data: the document has %v, Go writes %v (true: always there)", typ, docFields, goFields)
		}
	}
}

// eventsDoor is a door over the default policy with one more category,
// which no unit takes, and a clock the test moves.
type eventsDoor struct {
	*door
	now    time.Time
	engine *memstore.Engine
	policy *duban.Policy
}

func newEventsDoor(t *testing.T) *eventsDoor {
	yaml, err := os.ReadFile(filepath.Join("..", "default-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	yaml = []byte(strings.Replace(string(yaml), "\ncategories:\n", `
categories:
  - code: stray-dogs
    name: {zh: 流浪犬, en: Stray dogs}
    sla:
      normal: {acknowledge: 1h, resolve: 8h, verify: 4h}
`, 1))
	policy, err := duban.ParsePolicy("test-policy.yaml", yaml)
	if err != nil {
		t.Fatal(err)
	}
	d := &eventsDoor{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), policy: policy}
	now := func() time.Time { return d.now }
	store := memstore.New()
	d.engine = &memstore.Engine{Store: store, Now: now}
	svc := &app.Service{Policy: policy, Store: store, Engine: d.engine, Now: now}
	s := &api.Server{Policy: policy, Cases: svc, Commands: svc, Reports: svc, Logger: slog.New(slog.DiscardHandler), Now: now}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	d.door = &door{t: t, srv: srv, store: store}
	return d
}

// command gives a command as the principal with token, which must take.
func (d *eventsDoor) command(token, path string, body any) {
	d.t.Helper()
	d.call("POST", path, token, body).Expect(d.t, 200, nil)
}

// A case's events, every type of them, are what the document says: as
// GET /v1/cases/{id}/events answers them (checked as every answer is),
// and as the body of a webhook's delivery.
func TestOpenAPIDescribesEveryEvent(t *testing.T) {
	d := newEventsDoor(t)
	urgent := littering()
	urgent["severity"] = "urgent" // deadlines on a 24x7 calendar: acknowledge within 10 minutes
	a := d.open(urgent)
	pa := "/v1/cases/" + a.ID
	d.now = d.now.Add(11 * time.Minute)
	if _, err := d.engine.Execute(context.Background(), a.ID, duban.Tick{CommandMeta: duban.CommandMeta{By: duban.System}}, ""); err != nil {
		t.Fatal(err)
	}
	d.command("dev-sanitation", pa+"/acknowledge", nil)
	d.command("dev-sanitation", pa+"/comments", map[string]any{"text": "on our way"})
	d.command("dev-supervisor", pa+"/urge", map[string]any{"note": "the market opens at noon"})
	d.command("dev-sanitation", pa+"/extensions", map[string]any{"until": d.now.Add(4 * time.Hour).Format(time.RFC3339), "reason": "a truck is needed"})
	d.command("dev-supervisor", pa+"/extensions/1/decision", map[string]any{"approved": true, "note": "once"})
	d.command("dev-supervisor", pa+"/suspend", map[string]any{"reason": "a storm", "until": d.now.Add(2 * time.Hour).Format(time.RFC3339)})
	d.now = d.now.Add(30 * time.Minute)
	d.command("dev-supervisor", pa+"/resume", map[string]any{"note": "the storm is over"})
	d.command("dev-sanitation", pa+"/resolve", map[string]any{"note": "cleared", "evidence": []any{map[string]any{"url": "https://example.org/after.jpg", "kind": "photo"}}})
	d.command("dev-inspector", pa+"/verify", map[string]any{"passed": false, "note": "one bag is left"})
	d.command("dev-sanitation", pa+"/resolve", map[string]any{"note": "all cleared"})
	d.command("dev-inspector", pa+"/verify", map[string]any{"passed": true})

	b := d.open(littering())
	d.command("dev-sanitation", "/v1/cases/"+b.ID+"/dispute", map[string]any{"reason": "the bus stop is the road's"})
	d.command("dev-supervisor", "/v1/cases/"+b.ID+"/assign", map[string]any{"unit": "traffic-police", "reason": "their stop"})
	d.command("dev-supervisor", "/v1/cases/"+b.ID+"/list", map[string]any{"reason": "the third time at this stop"})
	d.command("dev-admin", "/v1/cases/"+b.ID+"/delist", nil)
	c := d.open(littering())
	d.command("dev-supervisor", "/v1/cases/"+c.ID+"/cancel", map[string]any{"reason": "reported twice", "outcome": "duplicate", "duplicate_of": b.ID})
	dogs := littering()
	dogs["category"] = "stray-dogs"
	unrouted := d.open(dogs)

	// Residents' reports: one filed, fixed, rated and reopened; one rejected.
	report := func(id string) string {
		cmd := d.policy.Resolve(duban.OpenCase{CommandMeta: duban.CommandMeta{By: duban.Resident("r1")}, CaseID: id, Category: "littering",
			Description: "垃圾", Location: duban.Location{Lat: 39.865, Lon: 111.238}, RequestHash: "h",
			Evidence: []duban.Evidence{{URL: "https://example.org/before.jpg", Kind: "photo"}}, Public: &duban.PublicOpen{Channel: duban.ChannelWeb}})
		if _, err := d.engine.Open(context.Background(), cmd.(duban.OpenCase)); err != nil {
			t.Fatal(err)
		}
		return id
	}
	filed := report("0194f2a0-0000-7000-8000-000000000101")
	pf := "/v1/cases/" + filed
	d.command("dev-inspector", pf+"/confirm", map[string]any{"note": "属实"})
	d.command("dev-sanitation", pf+"/acknowledge", nil)
	d.command("dev-sanitation", pf+"/resolve", map[string]any{"note": "cleared"})
	d.command("dev-inspector", pf+"/verify", map[string]any{"passed": true})
	if _, err := d.engine.Execute(context.Background(), filed, duban.Rate{CommandMeta: duban.CommandMeta{By: duban.Resident("r1")}, Rating: duban.RatingDissatisfied}, ""); err != nil {
		t.Fatal(err)
	}
	d.command("dev-supervisor", pf+"/reopen", map[string]any{"reason": "the reporter is not satisfied"})
	rejected := report("0194f2a0-0000-7000-8000-000000000102")
	d.command("dev-inspector", "/v1/cases/"+rejected+"/reject", map[string]any{"reason": "nothing in the photo"})

	seen := map[string]bool{}
	for _, id := range []string{a.ID, b.ID, c.ID, unrouted.ID, filed, rejected} {
		var events struct{ Items []json.RawMessage }
		d.call("GET", "/v1/cases/"+id+"/events", "dev-supervisor", nil).Expect(t, 200, &events)
		for _, raw := range events.Items {
			var e duban.Event
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			seen[string(e.Type)] = true
			// The outbox's webhook body: {type, timestamp, data: event}.
			body, err := json.Marshal(map[string]any{"type": e.Type, "timestamp": e.OccurredAt, "data": raw})
			if err != nil {
				t.Fatal(err)
			}
			apitest.ConformsToSchema(t, "WebhookMessage", body)
		}
	}
	for _, typ := range goEventTypes(t) {
		if !seen[typ] {
			t.Errorf("no %s event was checked", typ)
		}
	}
}
