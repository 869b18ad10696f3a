package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/testimage"
)

// The principals of the matrix, by their development tokens. The case under
// test is always littering, assigned to sanitation.
var matrixPrincipals = []struct{ name, token string }{
	{"inspector", "dev-inspector"},
	{"supervisor", "dev-supervisor"},
	{"admin", "dev-admin"},
	{"own unit", "dev-sanitation"},
	{"other unit", "dev-traffic-police"},
	{"no token", ""},
	{"unknown token", "not-a-token-anyone-has"},
}

// authzRow is what SPEC.md says of one route: who may use it, on a case
// brought to the state the route needs, with a body it accepts.
type authzRow struct {
	public bool     // no token needed
	may    []string // the principals allowed; the rest are refused
	// setup brings a fresh case to the state the route needs and returns its
	// path prefix ("/v1/cases/ID"); nil for routes of no case.
	setup func(s *stack) string
	path  string // the route's path after the case's, or whole when setup is nil
	body  any
	ok    int // the status an allowed principal gets
	// hidden: another unit not allowed is answered 404, as for a case of
	// another unit (routes of a case are hidden so already); shown: it is
	// refused as any principal not allowed (403), though the row has a
	// setup (the route hides nothing from units: it refuses them all).
	hidden, shown bool
	// prepare readies what the route needs before each principal's call.
	prepare func(s *stack)
	// stream: the answer does not end; only its status is read.
	stream bool
	// unseen: no unit sees the case (a resident's report awaiting its
	// check): units not allowed are answered 404.
	unseen bool
	// contentType, when set, is the body's (a string sent as it is).
	contentType string
}

var (
	everyone  = []string{"inspector", "supervisor", "admin", "own unit", "other unit"}
	withSight = []string{"inspector", "supervisor", "admin", "own unit"} // all but another unit
	overseers = []string{"supervisor", "admin"}
	scorers   = []string{"supervisor", "admin", "own unit", "other unit"} // a unit reads its own row
)

// month is a report's period, as the report routes take it.
const month = "from=2026-11-01&to=2026-12-01"

// The matrix: every route the API serves must have a row here, or the test
// fails; so a new route cannot be added without saying who may use it.
func authzMatrix() map[string]authzRow {
	dispatched := func(s *stack) string { return "/v1/cases/" + s.openLittering() }
	inProgress := func(s *stack) string {
		p := dispatched(s)
		s.call("POST", p+"/acknowledge", "dev-sanitation", nil).Expect(s.t, 200, nil)
		return p
	}
	resolved := func(s *stack) string {
		p := inProgress(s)
		s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}).Expect(s.t, 200, nil)
		return p
	}
	extensionAsked := func(s *stack) string {
		p := inProgress(s)
		s.call("POST", p+"/extensions", "dev-sanitation", extensionBody()).Expect(s.t, 200, nil)
		return p
	}
	listed := func(s *stack) string {
		p := dispatched(s)
		s.call("POST", p+"/list", "dev-supervisor", map[string]any{"reason": "the third time this month"}).Expect(s.t, 200, nil)
		return p
	}
	suspended := func(s *stack) string {
		p := dispatched(s)
		s.call("POST", p+"/suspend", "dev-supervisor", map[string]any{"reason": "waiting for a crane"}).Expect(s.t, 200, nil)
		return p
	}
	// A photo the inspector reported a case with: the own unit sees it
	// (its case), another unit does not.
	photo := apitest.File{Field: "file", Name: "photo.jpg", Data: testimage.JPEG(testimage.Picture(64, 48), nil)}
	attached := func(s *stack) string {
		var a struct{ ID string }
		s.call("POST", "/v1/attachments", "dev-inspector", photo).Expect(s.t, 201, &a)
		report := map[string]any{"category": "littering", "description": "bags", "location": map[string]any{"lat": 1, "lon": 2},
			"evidence": []map[string]string{{"attachment": a.ID, "kind": "photo"}}}
		s.call("POST", "/v1/cases", "dev-inspector", report).Expect(s.t, 201, nil)
		return "/v1/attachments/" + a.ID
	}
	// A site sanitation answers for, registered by the admin: its own unit
	// reads it, another unit finds none.
	sites := 0
	site := func() map[string]any {
		sites++
		return map[string]any{"id": "authz-" + strconv.Itoa(sites), "name": "人民路农贸市场", "type": "market",
			"location": map[string]any{"lat": 39.865, "lon": 111.238}, "unit": "sanitation"}
	}
	registered := func(s *stack) string {
		body := site()
		s.call("POST", "/v1/sites", "dev-admin", body).Expect(s.t, 201, nil)
		return "/v1/sites/" + body["id"].(string)
	}
	siteReported := func(s *stack) string {
		return "/v1/reports/sites/" + strings.TrimPrefix(registered(s), "/v1/sites/") + "?" + month
	}
	// A round drawing every market site, the fresh one among them, all
	// for inspector-1, and an inspection of that site.
	plan := func(s *stack) (round, site string) {
		site = strings.TrimPrefix(registered(s), "/v1/sites/")
		var r struct{ ID string }
		s.call("POST", "/v1/rounds", "dev-supervisor", roundBody()).Expect(s.t, 201, &r)
		return r.ID, site
	}
	planned := func(s *stack) string {
		round, _ := plan(s)
		return "/v1/rounds/" + round
	}
	roundOf := func(s *stack) string {
		round, site := plan(s)
		return "/v1/rounds/" + round + "/sites/" + site
	}
	marketItems := []map[string]any{}
	for _, item := range []string{"market-ads", "market-scale", "market-zoning", "market-clean", "market-bins", "market-clutter", "market-smoking"} {
		marketItems = append(marketItems, map[string]any{"item": item, "result": "pass"})
	}
	inspection := lazyJSON(func() any {
		return map[string]any{"at": time.Now().UTC().Format(time.RFC3339), "location": map[string]any{"lat": 39.8651, "lon": 111.2381}, "items": marketItems}
	})
	// A resident's report, with its follow link; filed, fixed and closed.
	reportForm := apitest.Form{Fields: []string{"category", "littering", "description", "垃圾", "lat", "39.865", "lon", "111.238", "phone", "13800138000"},
		Files: []apitest.File{{Field: "photo", Name: "IMG_1.jpg", Data: testimage.JPEG(testimage.Picture(64, 48), nil)}}}
	type reported struct{ id, token, number string }
	report := func(s *stack) reported {
		var rep struct{ Token, Number string }
		s.call("POST", "/v1/public/reports", "", reportForm).Expect(s.t, 201, &rep)
		var list struct{ Items []wireCase }
		s.call("GET", "/v1/cases?q="+rep.Number, "dev-supervisor", nil).Expect(s.t, 200, &list)
		return reported{list.Items[0].ID, rep.Token, rep.Number}
	}
	followed := func(s *stack) string { return "/v1/public/reports/" + report(s).token }
	checking := func(s *stack) string { return "/v1/cases/" + report(s).id }
	closedReport := func(s *stack) reported {
		r := report(s)
		p := "/v1/cases/" + r.id
		s.call("POST", p+"/confirm", "dev-inspector", nil).Expect(s.t, 200, nil)
		s.call("POST", p+"/acknowledge", "dev-sanitation", nil).Expect(s.t, 200, nil)
		s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "swept"}).Expect(s.t, 200, nil)
		s.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}).Expect(s.t, 200, nil)
		return r
	}
	const form = "application/x-www-form-urlencoded"
	open311Post := "api_key=dev-open311-key&service_code=littering&lat=39.865&long=111.238&description=bags&media_url=https%3A%2F%2Ffms.example.org%2F1.jpg"
	published := func(s *stack) string {
		s.publish(duban.Bulletin{Period: s.policy.AssessmentPeriodOf(time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))})
		return "/v1/reports/bulletins/2026-10"
	}
	// A bulletin of a period of its own, sanitation under the line: its
	// sanction, open.
	sanctioned := 0
	sanction := func(s *stack) string {
		sanctioned++
		b := duban.Bulletin{Period: s.policy.AssessmentPeriodOf(time.Date(2020, 1, 15, 0, 0, 0, 0, time.UTC).AddDate(0, sanctioned, 0)),
			Rows: []duban.UnitRow{{Unit: "sanitation", Rank: new(1), Score: new(50.0)}}}
		s.policy.Honour(&b, nil, nil)
		if _, err := s.store().PublishBulletin(context.Background(), b); err != nil {
			s.t.Fatal(err)
		}
		return "/v1/sanctions/" + b.Sanctions[0].ID
	}
	return map[string]authzRow{
		"GET /healthz":                                   {public: true, path: "/healthz", ok: 200},
		"GET /readyz":                                    {public: true, path: "/readyz", ok: 200},
		"GET /v1/openapi.json":                           {public: true, path: "/v1/openapi.json", ok: 200},
		"POST /v1/cases":                                 {may: []string{"inspector", "supervisor", "admin"}, path: "/v1/cases", body: littering, ok: 201},
		"GET /v1/cases":                                  {may: everyone, path: "/v1/cases", ok: 200},
		"GET /v1/escalations":                            {may: overseers, path: "/v1/escalations", ok: 200},
		"GET /v1/cases/{id}":                             {may: withSight, setup: dispatched, ok: 200},
		"GET /v1/cases/{id}/events":                      {may: withSight, setup: dispatched, path: "/events", ok: 200},
		"POST /v1/cases/{id}/acknowledge":                {may: []string{"own unit"}, setup: dispatched, path: "/acknowledge", ok: 200},
		"POST /v1/cases/{id}/dispute":                    {may: []string{"own unit"}, setup: dispatched, path: "/dispute", body: map[string]any{"reason": "the market's stretch"}, ok: 200},
		"POST /v1/cases/{id}/resolve":                    {may: []string{"own unit"}, setup: inProgress, path: "/resolve", body: map[string]any{"note": "swept"}, ok: 200},
		"POST /v1/cases/{id}/extensions":                 {may: []string{"own unit"}, setup: inProgress, path: "/extensions", body: extensionBody(), ok: 200},
		"POST /v1/cases/{id}/verify":                     {may: []string{"inspector", "supervisor", "admin"}, setup: resolved, path: "/verify", body: map[string]any{"passed": true}, ok: 200},
		"POST /v1/cases/{id}/comments":                   {may: withSight, setup: dispatched, path: "/comments", body: map[string]any{"text": "seen"}, ok: 200},
		"POST /v1/cases/{id}/assign":                     {may: overseers, setup: dispatched, path: "/assign", body: map[string]any{"unit": "urban-management", "reason": "theirs"}, ok: 200},
		"POST /v1/cases/{id}/extensions/{n}/decision":    {may: overseers, setup: extensionAsked, path: "/extensions/1/decision", body: map[string]any{"approved": false}, ok: 200},
		"POST /v1/cases/{id}/urge":                       {may: overseers, setup: dispatched, path: "/urge", body: map[string]any{"note": "today, please"}, ok: 200},
		"POST /v1/cases/{id}/suspend":                    {may: overseers, setup: dispatched, path: "/suspend", body: map[string]any{"reason": "waiting for a crane"}, ok: 200},
		"POST /v1/cases/{id}/resume":                     {may: overseers, setup: suspended, path: "/resume", body: map[string]any{}, ok: 200},
		"POST /v1/cases/{id}/cancel":                     {may: overseers, setup: dispatched, path: "/cancel", body: map[string]any{"reason": "reported twice"}, ok: 200},
		"POST /v1/cases/{id}/list":                       {may: overseers, setup: dispatched, path: "/list", body: map[string]any{"reason": "the third time this month"}, ok: 200},
		"POST /v1/cases/{id}/delist":                     {may: overseers, setup: listed, path: "/delist", body: map[string]any{}, ok: 200},
		"GET /v1/reports/units":                          {may: scorers, path: "/v1/reports/units?" + month, ok: 200},
		"GET /v1/reports/units/{unit}/cases":             {may: []string{"supervisor", "admin", "own unit"}, hidden: true, path: "/v1/reports/units/sanitation/cases?figure=handled&" + month, ok: 200},
		"GET /v1/reports/inspectors":                     {may: overseers, path: "/v1/reports/inspectors?" + month, ok: 200},
		"GET /v1/reports/sites":                          {may: everyone, path: "/v1/reports/sites?" + month, ok: 200}, // a unit's own sites
		"GET /v1/reports/sites/{site}":                   {may: withSight, setup: siteReported, ok: 200},
		"GET /v1/reports/bulletins":                      {may: scorers, path: "/v1/reports/bulletins", ok: 200},
		"GET /v1/reports/bulletins/{period}":             {may: scorers, setup: published, ok: 200},
		"GET /v1/sanctions":                              {may: scorers, path: "/v1/sanctions", ok: 200},
		"GET /v1/sanctions/{id}":                         {may: []string{"supervisor", "admin", "own unit"}, setup: sanction, ok: 200, hidden: true},
		"GET /v1/sanctions/{id}/events":                  {may: []string{"supervisor", "admin", "own unit"}, setup: sanction, path: "/events", ok: 200, hidden: true},
		"POST /v1/sanctions/{id}/done":                   {may: overseers, setup: sanction, path: "/done", body: map[string]any{"note": "约谈已进行"}, ok: 200, hidden: true},
		"GET /v1/stream":                                 {may: everyone, path: "/v1/stream", ok: 200, stream: true},
		"POST /v1/attachments":                           {may: everyone, path: "/v1/attachments", body: photo, ok: 201},
		"GET /v1/attachments/{id}":                       {may: withSight, setup: attached, ok: 200},
		"GET /v1/attachments/{id}/thumbnail":             {may: withSight, setup: attached, path: "/thumbnail", ok: 200},
		"GET /v1/sites":                                  {may: everyone, path: "/v1/sites", ok: 200},
		"POST /v1/sites":                                 {may: []string{"admin"}, path: "/v1/sites", body: site(), ok: 201},
		"GET /v1/sites/{id}":                             {may: withSight, setup: registered, hidden: true, ok: 200},
		"PATCH /v1/sites/{id}":                           {may: []string{"admin"}, setup: registered, body: map[string]any{"name": "农贸市场（新）"}, ok: 200},
		"POST /v1/sites/{id}/retire":                     {may: []string{"admin"}, setup: registered, path: "/retire", body: map[string]any{"reason": "搬迁"}, ok: 200},
		"GET /v1/rounds":                                 {may: []string{"inspector", "supervisor", "admin"}, path: "/v1/rounds", ok: 200},
		"POST /v1/rounds":                                {may: overseers, prepare: func(s *stack) { registered(s) }, path: "/v1/rounds", body: lazyJSON(roundBody), ok: 201},
		"GET /v1/rounds/{id}":                            {may: []string{"inspector", "supervisor", "admin"}, setup: planned, shown: true, ok: 200},
		"POST /v1/rounds/{id}/sites/{site}/inspection":   {may: []string{"inspector"}, setup: roundOf, shown: true, path: "/inspection", body: inspection, ok: 201},
		"POST /v1/public/reports":                        {public: true, path: "/v1/public/reports", body: reportForm, ok: 201},
		"GET /v1/public/reports/{token}":                 {public: true, setup: followed, ok: 200},
		"GET /v1/public/reports/{token}/photos/{n}":      {public: true, setup: followed, path: "/photos/0", ok: 200},
		"POST /v1/public/reports/{token}/rating":         {public: true, setup: func(s *stack) string { return "/v1/public/reports/" + closedReport(s).token }, path: "/rating", body: map[string]any{"rating": "satisfied"}, ok: 200},
		"GET /v1/public/leaderboard":                     {public: true, path: "/v1/public/leaderboard", ok: 200},
		"POST /v1/cases/{id}/confirm":                    {may: []string{"inspector", "supervisor", "admin"}, setup: checking, unseen: true, path: "/confirm", body: map[string]any{}, ok: 200},
		"POST /v1/cases/{id}/reject":                     {may: []string{"inspector", "supervisor", "admin"}, setup: checking, unseen: true, path: "/reject", body: map[string]any{"reason": "nothing there"}, ok: 200},
		"POST /v1/cases/{id}/reopen":                     {may: overseers, setup: func(s *stack) string { return "/v1/cases/" + closedReport(s).id }, path: "/reopen", body: map[string]any{"reason": "not satisfied"}, ok: 200},
		"GET /open311/v2/discovery.{format}":             {public: true, path: "/open311/v2/discovery.json", ok: 200},
		"GET /open311/v2/services.{format}":              {public: true, path: "/open311/v2/services.xml", ok: 200},
		"GET /open311/v2/services/{code}.{format}":       {public: true, path: "/open311/v2/services/littering.json", ok: 200},
		"GET /open311/v2/requests.{format}":              {public: true, path: "/open311/v2/requests.json", ok: 200},
		"POST /open311/v2/requests.{format}":             {public: true, path: "/open311/v2/requests.json", body: open311Post, contentType: form, ok: 201},
		"GET /open311/v2/requests/{id}.{format}":         {public: true, setup: func(s *stack) string { return "/open311/v2/requests/" + report(s).number }, path: ".xml", ok: 200},
		"GET /open311/v2/tokens/{token}.{format}":        {public: true, setup: func(s *stack) string { return "/open311/v2/tokens/" + report(s).token }, path: ".json", ok: 200},
		"GET /open311/v2/servicerequestupdates.{format}": {public: true, path: "/open311/v2/servicerequestupdates.json", ok: 200},
		"POST /v1/reporters/redemptions":                 {may: overseers, prepare: func(s *stack) { closedReport(s) }, path: "/v1/reporters/redemptions", body: map[string]any{"phone": "13800138000", "points": 1}, ok: 201},
		// The default policy has no subscriptions: the allowed are told so.
		"GET /v1/subscriptions/{name}/failed":  {may: overseers, path: "/v1/subscriptions/none/failed", ok: 404},
		"POST /v1/subscriptions/{name}/replay": {may: overseers, path: "/v1/subscriptions/none/replay", ok: 404},
	}
}

// roundBody plans a round of every market site for inspector-1.
func roundBody() any {
	return map[string]any{"name": "第49周 明查", "site_types": []string{"market"}, "inspectors": []string{"inspector-1"},
		"due_by": time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)}
}

// lazyJSON is a body made when it is sent: one that says the time then.
type lazyJSON func() any

func (f lazyJSON) MarshalJSON() ([]byte, error) { return json.Marshal(f()) }

func extensionBody() map[string]any {
	return map[string]any{"until": time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339), "reason": "the paving crew is booked"}
}

func (s *stack) openLittering() string {
	s.t.Helper()
	var c wireCase
	s.call("POST", "/v1/cases", "dev-inspector", littering).Expect(s.t, 201, &c)
	return c.ID
}

// Every route × every principal: an allowed one gets the route's answer; a
// known principal not allowed gets 403, or 404 for a case of another unit
// (which does not exist for it); no token or an unknown one gets 401.
func TestAuthorizationMatrix(t *testing.T) {
	matrix := authzMatrix()
	var routes []string
	walk := func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	}
	if err := chi.Walk((&api.Server{}).Handler().(chi.Routes), walk); err != nil {
		t.Fatal(err)
	}
	for _, route := range routes {
		if _, ok := matrix[route]; !ok {
			t.Errorf("%s is served but has no row in the authorization matrix", route)
		}
	}
	for route := range matrix {
		if !slices.Contains(routes, route) {
			t.Errorf("the matrix has %s, which the API does not serve", route)
		}
	}
	if t.Failed() {
		return
	}

	// The default policy, but for its limits on residents' posts: every
	// principal posts reports for each row that needs one.
	policy, err := os.ReadFile("../../default-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	limits := "limits: {per_address: 30, per_phone: 20}"
	if !strings.Contains(string(policy), limits) {
		t.Fatal("the default policy's limits are not the ones this test raises")
	}
	s := newStack(t, strings.Replace(string(policy), limits, "limits: {per_address: 10000, per_phone: 10000}", 1))
	s.start("serve")
	for _, route := range routes {
		row := matrix[route]
		method := strings.Fields(route)[0]
		t.Run(route, func(t *testing.T) {
			s.t = t
			for _, p := range matrixPrincipals {
				path := row.path
				if row.prepare != nil {
					row.prepare(s)
				}
				if row.setup != nil {
					path = row.setup(s) + row.path // a fresh case for each, as an allowed command changes it
				}
				var r apitest.Response
				if row.stream {
					r = s.streamStatus(path, p.token)
				} else {
					var headers []string
					if row.contentType != "" {
						headers = []string{"Content-Type", row.contentType}
					}
					r = s.call(method, path, p.token, row.body, headers...)
				}
				want := row.ok
				switch {
				case row.public || slices.Contains(row.may, p.name):
				case p.token == "" || p.name == "unknown token":
					want = 401
				case p.name == "other unit" && (row.setup != nil && !row.shown || row.hidden), row.unseen && strings.HasSuffix(p.name, "unit"):
					want = 404
				default:
					want = 403
				}
				if r.Status != want {
					t.Errorf("%s as %s: %d, want %d: %s", route, p.name, r.Status, want, r.Body)
				}
			}
		})
	}
}

// streamStatus opens a stream as the principal with token and answers with
// its status (and body, when it is a refusal), without waiting for the end.
func (s *stack) streamStatus(path, token string) apitest.Response {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	r := apitest.Response{Status: res.StatusCode, Header: res.Header}
	if res.StatusCode != http.StatusOK {
		r.Body, _ = io.ReadAll(res.Body)
	}
	return r
}
