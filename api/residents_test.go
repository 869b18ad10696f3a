package api_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/api"
	"github.com/duban/duban/app"
	"github.com/duban/duban/blobs"
	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/memstore"
	"github.com/duban/duban/internal/testimage"
)

// residentDoor is a door whose clock the test moves, with the public
// desk, on policy p (the default's when nil).
type residentDoor struct {
	*door
	now time.Time
}

func newResidentDoor(t *testing.T, p *duban.Policy) *residentDoor {
	rd := &residentDoor{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	rd.door = residentServer(t, p, func() time.Time { return rd.now })
	rd.door.t = t
	return rd
}

// residentServer serves the API with the public desk on policy p (the
// default's when nil), its clock now; its door has no test yet.
func residentServer(tb testing.TB, p *duban.Policy, now func() time.Time) *door {
	if p == nil {
		p = duban.DefaultPolicy()
	}
	store := memstore.New()
	blobDir := tb.TempDir()
	files, err := blobs.NewDir(blobDir)
	if err != nil {
		tb.Fatal(err)
	}
	svc := &app.Service{Policy: p, Store: store, Engine: &memstore.Engine{Store: store, Now: now}, Now: now,
		Attachments: store, Blobs: files, Residents: store}
	s := &api.Server{Policy: p, Cases: svc, Commands: svc, Reports: svc, Attachments: svc, Residents: svc,
		Logger: slog.New(slog.DiscardHandler), Now: now}
	srv := httptest.NewServer(s.Handler())
	tb.Cleanup(srv.Close)
	return &door{srv: srv, store: store, blobs: blobDir}
}

const phone = "138 0013 8000"

// report posts a resident's report of littering in the old town with a
// photo, and returns the answer.
func (d *residentDoor) report(fields ...string) apitest.Response {
	d.t.Helper()
	photo := testimage.JPEG(testimage.Picture(320, 240), nil)
	form := apitest.Form{
		Fields: append([]string{"category", "littering", "description", "公交站旁垃圾成堆", "lat", "39.865", "lon", "111.238", "address", "新华街公交站"}, fields...),
		Files:  []apitest.File{{Field: "photo", Name: "IMG_1.jpg", Data: photo}},
	}
	return d.call("POST", "/v1/public/reports", "", form)
}

type wireReported struct {
	Token     string `json:"token"`
	FollowURL string `json:"follow_url"`
	Status    string `json:"status"`
}

type wireFollowed struct {
	Status  string `json:"status"`
	Outcome string `json:"outcome"`
	Replies []struct {
		Kind string `json:"kind"`
		Text string `json:"text"`
	} `json:"replies"`
	Photos []struct {
		N     int    `json:"n"`
		Stage string `json:"stage"`
		URL   string `json:"url"`
	} `json:"photos"`
	Rating *struct {
		Rating string `json:"rating"`
	} `json:"rating"`
	MayRate  bool   `json:"may_rate"`
	Rejected string `json:"rejected"`
	Points   *struct {
		Earned  int `json:"earned"`
		Balance int `json:"balance"`
	} `json:"points"`
	Merged *struct {
		Status string `json:"status"`
	} `json:"merged_into"`
}

func (d *residentDoor) follow(token string) wireFollowed {
	d.t.Helper()
	var f wireFollowed
	r := d.call("GET", "/v1/public/reports/"+token, "", nil)
	r.Expect(d.t, http.StatusOK, &f)
	if bytes.Contains(r.Body, []byte("13800138000")) || bytes.Contains(r.Body, []byte("138****8000")) || bytes.Contains(r.Body, []byte("resident:")) {
		d.t.Fatalf("the follow link shows who reported: %s", r.Body)
	}
	return f
}

// awaitingCheck returns the one report awaiting the office's check.
func (d *residentDoor) awaitingCheck() wireCase {
	d.t.Helper()
	var list struct{ Items []wireCase }
	d.call("GET", "/v1/cases?status=reported", "dev-supervisor", nil).Expect(d.t, 200, &list)
	if len(list.Items) != 1 {
		d.t.Fatalf("%d reports await a check, want 1", len(list.Items))
	}
	return list.Items[0]
}

func replyKinds(f wireFollowed) string {
	var kinds []string
	for _, r := range f.Replies {
		kinds = append(kinds, r.Kind)
	}
	return strings.Join(kinds, " ")
}

// The whole loop: reported → confirmed → dispatched → resolved → verified
// → closed → rated 不满意 → reopened → closed → rated 满意, with points
// and the photos before and after; no answer to anyone carries the
// reporter's phone.
func TestResidentReportLoop(t *testing.T) {
	d := newResidentDoor(t, nil)
	var rep wireReported
	d.report("phone", phone).Expect(t, http.StatusCreated, &rep)
	if rep.Status != "reported" || rep.FollowURL != "/r/"+rep.Token || len(rep.Token) < 20 {
		t.Fatalf("reported %+v", rep)
	}
	if f := d.follow(rep.Token); f.Status != "reported" || replyKinds(f) != "reported" || len(f.Photos) != 1 || f.Photos[0].Stage != "before" {
		t.Fatalf("followed %+v", f)
	}
	c := d.awaitingCheck()
	for _, token := range []string{"dev-supervisor", "dev-inspector"} {
		for _, path := range []string{"/v1/cases/" + c.ID, "/v1/cases/" + c.ID + "/events", "/v1/cases?status=reported"} {
			r := d.call("GET", path, token, nil)
			if r.Status != 200 || bytes.Contains(r.Body, []byte("13800138000")) || bytes.Contains(r.Body, []byte("8000\"")) {
				t.Fatalf("GET %s as %s: %d %s", path, token, r.Status, r.Body)
			}
		}
	}
	// A unit sees nothing of a report before it is filed.
	d.call("GET", "/v1/cases/"+c.ID, "dev-sanitation", nil).Expect(t, http.StatusNotFound, nil)
	refused(t, d.call("POST", "/v1/cases/"+c.ID+"/confirm", "dev-sanitation", nil), http.StatusNotFound, "", "")

	p := "/v1/cases/" + c.ID
	var after wireCase
	d.call("POST", p+"/confirm", "dev-inspector", map[string]any{"note": "属实，已立案"}).Expect(t, 200, &after)
	if after.Status != "dispatched" || after.Unit == nil || *after.Unit != "sanitation" {
		t.Fatalf("confirmed: %+v", after)
	}
	d.call("POST", p+"/acknowledge", "dev-sanitation", nil).Expect(t, 200, nil)
	fixed := testimage.JPEG(testimage.Picture(300, 200), nil)
	var att wireAttachment
	d.upload("dev-sanitation", "fixed.jpg", fixed).Expect(t, http.StatusCreated, &att)
	d.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "已清扫", "evidence": []map[string]string{{"attachment": att.ID, "kind": "photo"}}}).Expect(t, 200, nil)
	if f := d.follow(rep.Token); len(f.Photos) != 1 || f.MayRate {
		t.Fatalf("before closing: %d photos, may rate %v", len(f.Photos), f.MayRate)
	}
	d.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}).Expect(t, 200, nil)
	f := d.follow(rep.Token)
	if f.Status != "closed" || !f.MayRate || len(f.Photos) != 2 || f.Photos[1].Stage != "after" || f.Points == nil || f.Points.Earned != 10 || f.Points.Balance != 10 {
		t.Fatalf("closed: %+v", f)
	}
	if got := replyKinds(f); got != "reported confirmed dispatched resolved closed" {
		t.Fatalf("replies %q", got)
	}
	photo := d.call("GET", f.Photos[1].URL, "", nil)
	if photo.Status != 200 || photo.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("the after photo: %d %s", photo.Status, photo.Header)
	}
	d.call("GET", "/v1/public/reports/"+rep.Token+"/photos/2", "", nil).Expect(t, http.StatusNotFound, nil)

	d.now = d.now.Add(time.Hour)
	refused(t, d.call("POST", "/v1/public/reports/"+rep.Token+"/rating", "", map[string]any{"rating": "great"}), 400, "rating", "must be")
	d.call("POST", "/v1/public/reports/"+rep.Token+"/rating", "", map[string]any{"rating": "dissatisfied", "comment": "还是脏"}).Expect(t, 200, &f)
	if f.Rating == nil || f.Rating.Rating != "dissatisfied" || f.MayRate {
		t.Fatalf("rated: %+v", f)
	}
	refused(t, d.call("POST", "/v1/public/reports/"+rep.Token+"/rating", "", map[string]any{"rating": "satisfied"}), 409, "", "")
	refused(t, d.call("POST", p+"/reopen", "dev-inspector", map[string]any{"reason": "不满意"}), 403, "", "")
	d.call("POST", p+"/reopen", "dev-supervisor", map[string]any{"reason": "居民不满意，返工"}).Expect(t, 200, &after)
	if after.Status != "in_progress" {
		t.Fatalf("reopened: %+v", after)
	}
	d.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "再次清扫"}).Expect(t, 200, nil)
	d.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}).Expect(t, 200, nil)
	d.call("POST", "/v1/public/reports/"+rep.Token+"/rating", "", map[string]any{"rating": "satisfied"}).Expect(t, 200, &f)
	if got := replyKinds(f); got != "reported confirmed dispatched resolved closed rated reopened resolved closed rated" || f.Rating.Rating != "satisfied" {
		t.Fatalf("after the second closing: %q, %+v", got, f.Rating)
	}
	var c2 struct {
		ReworkCount int `json:"rework_count"`
	}
	d.call("GET", p, "dev-supervisor", nil).Expect(t, 200, &c2)
	if c2.ReworkCount != 1 {
		t.Fatalf("rework count %d", c2.ReworkCount)
	}
	// After the window, neither a rating nor a reopening.
	d.now = d.now.Add(8 * 24 * time.Hour)
	refused(t, d.call("POST", p+"/reopen", "dev-supervisor", map[string]any{"reason": "again"}), 409, "", "")

	// The office records a redemption; the balance shows on the link.
	refused(t, d.call("POST", "/v1/reporters/redemptions", "dev-inspector", map[string]any{"phone": phone, "points": 5}), 403, "", "")
	refused(t, d.call("POST", "/v1/reporters/redemptions", "dev-supervisor", map[string]any{"phone": phone, "points": 11}), 409, "", "")
	var bal struct{ Balance int }
	d.call("POST", "/v1/reporters/redemptions", "dev-supervisor", map[string]any{"phone": "+86 13800138000", "points": 4, "note": "公交卡"}).Expect(t, 201, &bal)
	if f := d.follow(rep.Token); bal.Balance != 6 || f.Points.Balance != 6 || f.Points.Earned != 10 {
		t.Fatalf("balance %d, followed %+v", bal.Balance, f.Points)
	}
	var board struct {
		Items []duban.Leader `json:"items"`
	}
	d.call("GET", "/v1/public/leaderboard?month=2026-12", "", nil).Expect(t, 200, &board)
	if len(board.Items) != 1 || board.Items[0].Masked != "138****8000" || board.Items[0].Points != 10 {
		t.Fatalf("leaderboard %+v", board.Items)
	}
}

func TestRejectedAndDuplicateReports(t *testing.T) {
	d := newResidentDoor(t, nil)
	var rep wireReported
	d.report().Expect(t, http.StatusCreated, &rep)
	c := d.awaitingCheck()
	refused(t, d.call("POST", "/v1/cases/"+c.ID+"/reject", "dev-inspector", map[string]any{}), 400, "reason", "is required")
	d.call("POST", "/v1/cases/"+c.ID+"/reject", "dev-inspector", map[string]any{"reason": "照片中看不到问题"}).Expect(t, 200, nil)
	if f := d.follow(rep.Token); f.Status != "cancelled" || f.Outcome != "invalid" || f.Rejected != "照片中看不到问题" || replyKinds(f) != "reported rejected" || f.Points.Earned != 0 {
		t.Fatalf("rejected: %+v", f)
	}

	var open wireCase
	d.call("POST", "/v1/cases", "dev-inspector", map[string]any{"category": "littering", "description": "垃圾",
		"location": map[string]any{"lat": 39.865, "lon": 111.238}}).Expect(t, 201, &open)
	d.report().Expect(t, http.StatusCreated, &rep)
	dup := d.awaitingCheck()
	var after wireCase
	d.call("POST", "/v1/cases/"+dup.ID+"/confirm", "dev-supervisor", map[string]any{"duplicate_of": open.ID}).Expect(t, 200, &after)
	if after.Status != "cancelled" {
		t.Fatalf("confirmed as a duplicate: %+v", after)
	}
	f := d.follow(rep.Token)
	if f.Outcome != "duplicate" || f.Merged == nil || f.Merged.Status != "dispatched" || replyKinds(f) != "reported confirmed merged" {
		t.Fatalf("merged: %+v", f)
	}
	d.call("GET", "/v1/cases/"+open.ID, "dev-supervisor", nil).Expect(t, 200, &after)
	if len(after.Duplicates) != 1 || after.Duplicates[0] != dup.ID {
		t.Fatalf("the original's duplicates %v", after.Duplicates)
	}
}

func TestPublicReportRefusals(t *testing.T) {
	d := newResidentDoor(t, nil)
	for name, tc := range map[string]struct {
		fields []string
		status int
		field  string
	}{
		"a category residents may not report": {[]string{"category", "volunteer-service"}, 400, "category"},
		"outside the city":                    {[]string{"lat", "31.23", "lon", "121.47"}, 400, "location"},
		"no coordinates":                      {[]string{"lat", "north"}, 400, "lat"},
		"a bad phone":                         {[]string{"phone", "call me"}, 400, "phone"},
		"a description too long":              {[]string{"description", strings.Repeat("脏", duban.MaxDescription+1)}, 400, "description"},
	} {
		t.Run(name, func(t *testing.T) {
			form := map[string]string{"category": "littering", "description": "垃圾", "lat": "39.865", "lon": "111.238"}
			for i := 0; i+1 < len(tc.fields); i += 2 {
				form[tc.fields[i]] = tc.fields[i+1]
			}
			var fields []string
			for k, v := range form {
				fields = append(fields, k, v)
			}
			r := d.call("POST", "/v1/public/reports", "", apitest.Form{Fields: fields, Files: []apitest.File{{Field: "photo", Name: "a.jpg", Data: testimage.JPEG(testimage.Picture(64, 64), nil)}}})
			refused(t, r, tc.status, tc.field, "")
		})
	}
	noPhoto := d.call("POST", "/v1/public/reports", "", apitest.Form{Fields: []string{"category", "littering", "description", "垃圾", "lat", "39.865", "lon", "111.238"}})
	refused(t, noPhoto, 400, "photo", "needs at least 1")
	html := d.call("POST", "/v1/public/reports", "", apitest.Form{Fields: []string{"category", "littering", "description", "垃圾", "lat", "39.865", "lon", "111.238"},
		Files: []apitest.File{{Field: "photo", Name: "x.jpg", Data: []byte("<html><script>alert(1)</script></html>")}}})
	refused(t, html, http.StatusUnsupportedMediaType, "photo[0]", "")
	d.call("GET", "/v1/public/reports/not-a-token", "", nil).Expect(t, http.StatusNotFound, nil)
}

// Posting is limited per address in an hour and per phone in a day: 429
// with Retry-After, and the window's end lets posts in again.
func TestReportRateLimits(t *testing.T) {
	p := duban.DefaultPolicy()
	p.Public.PerAddress, p.Public.PerPhone = 4, 2
	d := newResidentDoor(t, p)
	for range 2 {
		d.report("phone", phone).Expect(t, http.StatusCreated, nil)
	}
	r := d.report("phone", phone)
	refused(t, r, http.StatusTooManyRequests, "", "too many reports with this phone")
	if s, _ := strconv.Atoi(r.Header.Get("Retry-After")); s < 23*3600 || s > 24*3600 {
		t.Fatalf("Retry-After %q, want about a day", r.Header.Get("Retry-After"))
	}
	d.report().Expect(t, http.StatusCreated, nil) // another phone (none): the address's fourth
	r = d.report()
	refused(t, r, http.StatusTooManyRequests, "", "too many reports from this address")
	if s, _ := strconv.Atoi(r.Header.Get("Retry-After")); s < 3000 || s > 3600 {
		t.Fatalf("Retry-After %q, want about an hour", r.Header.Get("Retry-After"))
	}
	d.now = d.now.Add(time.Hour)
	d.report().Expect(t, http.StatusCreated, nil)
	refused(t, d.report("phone", phone), http.StatusTooManyRequests, "", "too many reports with this phone")
}
