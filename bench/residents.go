package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/postgres"
)

// The residents phase: residents' reports posted with a photo each, half
// through the public page's API and half through Open311, against this
// run's plain opens; the Open311 list of 1,000 over every case, against
// its raw statement; and the rate limiter's own cost.

// residentsPolicy is what the bench policy adds for residents: littering
// is public, the limits are out of the way, and one Open311 client.
const residentsPolicy = `public:
  bounds: [[39.0, 111.0], [40.5, 112.0]]
  limits: {per_address: 1000000, per_phone: 1000000}
open311:
  api_keys:
    - {name: bench, key_sha256: 13e8c42f2a9ecb53c17a84f825b6b99954bc784068c84a6174cda0a2ef201fb1}
`

// open311Key is the bench client's api_key (its SHA-256 is the policy's).
const open311Key = "bench-open311"

type residentFigures struct {
	// Posted reports, each with one photo of PhotoBytes, took PostSeconds
	// with as many clients as the opens; OpenRate is this run's plain
	// opens a second.
	Posted      int     `json:"posted"`
	PhotoBytes  int     `json:"photo_bytes"`
	PostSeconds float64 `json:"post_seconds"`
	OpenRate    float64 `json:"open_rate"`
	// List is GET /open311/v2/requests.json (1,000 requests) over Cases
	// cases; Ceiling its statement, raw.
	List, Ceiling dist
	Cases         int `json:"cases"`
	Listed        int `json:"listed"` // requests a list holds: 1,000 when there are as many

	// Limiter is one check of the rate limiter, in the API's process.
	Limiter dist `json:"limiter"`
}

// smallPhotoFor is a JPEG of noise of about 300 KB: a phone's photo as a
// WeChat page sends it, compressed.
func smallPhotoFor(seed uint64) []byte { return noisePhoto(seed, 640, 480, 85) }

func measureResidents(ctx context.Context, r *benchRun) error {
	s, z := r.s, r.z
	f := &residentFigures{OpenRate: r.openRate}
	r.fig.Residents = f
	n := 200
	if z.Rows >= 1_000_000 {
		n = 600
	}
	photos := make([][]byte, n)
	for i := range photos {
		photos[i] = smallPhotoFor(uint64(i + 1))
		f.PhotoBytes += len(photos[i])
	}
	f.PhotoBytes /= n
	client := newCaller(s.apiBase, z.Clients).http
	post := func(i int) error {
		var req *http.Request
		var err error
		if i%2 == 0 { // the public page's API: multipart, the photo's bytes
			var body bytes.Buffer
			w := multipart.NewWriter(&body)
			for k, v := range map[string]string{"category": "littering", "description": "公交站旁垃圾成堆", "lat": "39.865", "lon": "111.238", "phone": fmt.Sprintf("138%08d", i%5000)} {
				_ = w.WriteField(k, v)
			}
			part, _ := w.CreateFormFile("photo", fmt.Sprintf("IMG_%04d.jpg", i))
			_, _ = part.Write(photos[i])
			_ = w.Close()
			req, err = http.NewRequestWithContext(ctx, "POST", s.apiBase+"/v1/public/reports", &body)
			if err == nil {
				req.Header.Set("Content-Type", w.FormDataContentType())
			}
		} else { // an Open311 client: form-encoded, the photo by its URL
			form := url.Values{"api_key": {open311Key}, "service_code": {"littering"}, "lat": {"39.865"}, "long": {"111.238"},
				"description": {"公交站旁垃圾成堆"}, "media_url": {fmt.Sprintf("https://fms.example.org/photo/%d.jpeg", i)}}
			req, err = http.NewRequestWithContext(ctx, "POST", s.apiBase+"/open311/v2/requests.json", strings.NewReader(form.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		}
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, res.StatusCode, b)
		}
		return nil
	}
	var next atomic.Int64
	start := time.Now()
	if _, err := run(z.Clients, func(int64) bool { return next.Load() >= int64(n) }, func(int) error {
		i := next.Add(1) - 1
		if i >= int64(n) {
			return nil
		}
		return post(int(i))
	}); err != nil {
		return err
	}
	f.Posted, f.PostSeconds = n, time.Since(start).Seconds()

	// The Open311 list of the last 90 days, 1,000 newest, and its
	// statement as postgres.Store.Cases runs it.
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM cases`).Scan(&f.Cases); err != nil {
		return err
	}
	now := time.Now().UTC()
	sql, args := postgres.PublicRequestsSQL(duban.CaseFilter{Categories: []string{"littering"}, OpenedFrom: now.Add(-90 * 24 * time.Hour),
		OpenedBefore: now.Add(time.Minute), Limit: 1000})
	rawList := rawQuery(ctx, s, sql, args)
	c := newCaller(s.apiBase, 1)
	var list []struct {
		ServiceRequestID string `json:"service_request_id"`
	}
	if err := c.call("GET", "/open311/v2/requests.json", "", nil, 200, &list); err != nil {
		return err
	}
	f.Listed = len(list)
	if f.Listed == 0 {
		return fmt.Errorf("the Open311 list is empty")
	}
	var raw, api latencies
	for range 10 {
		if err := timedInto(&raw, 1, 4, rawList); err != nil {
			return err
		}
		if err := timedInto(&api, 1, 4, func() error { return c.call("GET", "/open311/v2/requests.json", "", nil, 200, nil) }); err != nil {
			return err
		}
	}
	f.List, f.Ceiling = api.dist(), raw.dist()
	if r.profileDir != "" {
		r.logf("  Open311 lists for %s, profiled into %s", profileFor, r.profileDir)
		profiled := r.s.captureProfiles(filepath.Join(r.profileDir, "open311"))
		for deadline := time.Now().Add(profileFor); time.Now().Before(deadline); {
			if err := c.call("GET", "/open311/v2/requests.json", "", nil, 200, nil); err != nil {
				return errors.Join(err, profiled())
			}
		}
		if err := profiled(); err != nil {
			return err
		}
	}

	// The limiter, as the API's process runs it, from as many goroutines
	// as clients, each post from an address and a phone of its own.
	policy, err := duban.ParsePolicy("bench", []byte(mainPolicy))
	if err != nil {
		return err
	}
	svc := &app.Service{Policy: policy}
	var checks latencies
	var k atomic.Int64
	if err := timedInto(&checks, z.Clients, 200_000, func() error {
		i := k.Add(1)
		return svc.MayPost(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprintf("139%08d", i))
	}); err != nil {
		return err
	}
	f.Limiter = checks.dist()
	r.logf("  %d reports with a photo of %d KB in %.1f s: %.0f/s (plain opens %.0f/s); Open311 list of 1000 over %d cases p99 %.1f ms (raw %.1f ms); limiter p99 %.3f ms",
		f.Posted, f.PhotoBytes/1000, f.PostSeconds, float64(f.Posted)/f.PostSeconds, f.OpenRate, f.Cases, f.List.P99, f.Ceiling.P99, f.Limiter.P99)
	return nil
}

func residentRows(f *residentFigures) []row {
	posts := compare(fmt.Sprintf("residents' reports with a photo of %d KB (page API and Open311), a second (vs plain opens)", f.PhotoBytes/1000), "/s",
		float64(f.Posted)/f.PostSeconds, f.OpenRate, 0, true)
	postsMet := float64(f.Posted)/f.PostSeconds >= 0.6*f.OpenRate
	posts.Target, posts.Met = "≥ 0.6×", &postsMet
	list := compare(fmt.Sprintf("Open311 requests.json, %d of %d cases, p99 (vs its raw SQL)", f.Listed, f.Cases), "ms", f.List.P99, f.Ceiling.P99, 2, false)
	limiterMet := f.Limiter.P99 <= 1
	return []row{posts, list, alone("rate limiter, one check, p99", "ms", f.Limiter.P99, "≤ 1 ms", &limiterMet)}
}
