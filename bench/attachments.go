package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/duban/duban/blobs"
)

// The attachments: photos from the street taken in through the API beside
// the same bytes written to the same store directly, and a thumbnail served
// beside a static file of its size, both over loopback.

// attachmentFigures are what the attachments phase measured.
type attachmentFigures struct {
	Photos     int   `json:"photos"`
	PhotoBytes int64 `json:"photo_bytes"` // on average
	// Upload and Direct are MiB/s, one client after the other; Bare the
	// same forms sent to a handler that only writes them to the store.
	Upload float64 `json:"upload_mib_s"`
	Direct float64 `json:"direct_mib_s"`
	Bare   float64 `json:"bare_mib_s,omitempty"`
	// Thumbnail and Static are latencies of GETs, one client; Access the
	// query that says who may see the photo (postgres.Store.AttachmentAccess)
	// and PKRead a case read by its id, both run raw in the same rounds.
	ThumbnailBytes int   `json:"thumbnail_bytes"`
	Thumbnail      dist  `json:"thumbnail"`
	Static         dist  `json:"static"`
	Access         *dist `json:"access,omitempty"`
	PKRead         *dist `json:"pk_read,omitempty"`
}

// photoFor is a JPEG of noise, which compresses as little as a photo of a
// street does: about 2 MiB at 1700 × 1230, quality 92.
func photoFor(seed uint64) []byte { return noisePhoto(seed, 1700, 1230, 92) }

// noisePhoto is a JPEG of noise of w × h at quality, its own bytes for
// each seed.
func noisePhoto(seed uint64, w, h, quality int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
	}
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 0xFF
	}
	img.SetRGBA(0, 0, color.RGBA{R: uint8(seed), G: uint8(seed >> 8), A: 0xFF}) // every photo its own bytes
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: quality})
	return b.Bytes()
}

func measureAttachments(ctx context.Context, r *benchRun) error {
	n := 20
	if r.z.Commands > 1000 {
		n = 60
	}
	photos := make([][]byte, n)
	var total int64
	for i := range photos {
		photos[i] = photoFor(uint64(time.Now().UnixNano()) + uint64(i))
		total += int64(len(photos[i]))
	}
	f := &attachmentFigures{Photos: n, PhotoBytes: total / int64(n)}
	r.fig.Attachments = f
	r.logf("  attachments: %d photos of %.1f MiB each, through the API and straight into the store", n, float64(f.PhotoBytes)/(1<<20))
	hc := &http.Client{Timeout: time.Minute}
	// The forms are made before the clock starts: a phone's work, not duban's.
	forms, types := make([][]byte, n), make([]string, n)
	for i, photo := range photos {
		forms[i], types[i] = uploadForm(photo)
	}
	upload := func(i int) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, "POST", r.s.apiBase+"/v1/attachments", bytes.NewReader(forms[i]))
		req.Header.Set("Authorization", "Bearer bench-inspector")
		req.Header.Set("Content-Type", types[i])
		res, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		var a struct{ ID string }
		if err := json.NewDecoder(res.Body).Decode(&a); err != nil || res.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("upload answered %d: %v", res.StatusCode, err)
		}
		return a.ID, nil
	}
	// Through the API, the same bytes straight to the store, and the same
	// forms to a bare handler that writes them to the store as they come
	// (what any upload over HTTP pays), in alternating halves so that none
	// meets the disk alone.
	store, err := blobs.NewDir(r.s.blobDir())
	if err != nil {
		return err
	}
	bareURL, stopBare, err := bareUploads(store)
	if err != nil {
		return err
	}
	defer stopBare()
	var apiTime, directTime, bareTime time.Duration
	var ids []string
	for half := range 2 {
		for i := half; i < n; i += 2 {
			start := time.Now()
			id, err := upload(i)
			if err != nil {
				return err
			}
			apiTime += time.Since(start)
			ids = append(ids, id)
		}
		for i := half; i < n; i += 2 {
			start := time.Now()
			if err := store.Put(ctx, fmt.Sprintf("bench/%d-%d", time.Now().UnixNano(), i), bytes.NewReader(photos[i]), int64(len(photos[i])), "image/jpeg"); err != nil {
				return err
			}
			directTime += time.Since(start)
		}
		for i := half; i < n; i += 2 {
			start := time.Now()
			res, err := hc.Post(bareURL, types[i], bytes.NewReader(forms[i]))
			if err != nil {
				return err
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				return fmt.Errorf("the bare upload answered %d", res.StatusCode)
			}
			bareTime += time.Since(start)
		}
	}
	mib := float64(total) / (1 << 20)
	f.Upload, f.Direct, f.Bare = mib/apiTime.Seconds(), mib/directTime.Seconds(), mib/bareTime.Seconds()
	if r.profileDir != "" {
		// Photos of their own bytes for as long as a profile runs: a JPEG
		// comment after the first photo's start marker, with a counter.
		r.logf("  uploads for %s, profiled into %s", profileFor, r.profileDir)
		profiled := r.s.captureProfiles(filepath.Join(r.profileDir, "uploads"))
		for i, deadline := 0, time.Now().Add(profileFor); time.Now().Before(deadline); i++ {
			forms[0], types[0] = uploadForm(photos[0][:2], fmt.Appendf(nil, "\xff\xfe\x00\x0a%08d", i), photos[0][2:])
			if _, err := upload(0); err != nil {
				return err
			}
		}
		if err := profiled(); err != nil {
			return err
		}
	}

	// A case refers to a photo; its thumbnail, read as the case's reporter.
	report := fmt.Sprintf(`{"category":"littering","description":"bench photo","location":{"lat":39.9,"lon":116.4},"evidence":[{"attachment":%q,"kind":"photo"}]}`, ids[0])
	req, _ := http.NewRequestWithContext(ctx, "POST", r.s.apiBase+"/v1/cases", strings.NewReader(report))
	req.Header.Set("Authorization", "Bearer bench-inspector")
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		return fmt.Errorf("a case with a photo: %d", res.StatusCode)
	}
	get := func(url, token string) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err == nil && res.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %d", url, res.StatusCode)
		}
		return len(b), err
	}
	thumb := r.s.apiBase + "/v1/attachments/" + ids[0] + "/thumbnail"
	size, err := get(thumb, "bench-inspector") // made now if the upload's background had not yet
	if err != nil {
		return err
	}
	f.ThumbnailBytes = size
	// The same number of bytes as a static file, served by Go's file server.
	dir, err := os.MkdirTemp(r.s.dir, "static-")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "thumb.jpg"), bytes.Repeat([]byte{'x'}, size), 0o644); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	static := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = static.Serve(l) }()
	defer static.Close()
	if r.profileDir != "" {
		r.logf("  thumbnails for %s, profiled into %s", profileFor, r.profileDir)
		profiled := r.s.captureProfiles(filepath.Join(r.profileDir, "thumbnails"))
		for deadline := time.Now().Add(profileFor); time.Now().Before(deadline); {
			if _, err := get(thumb, "bench-inspector"); err != nil {
				return err
			}
		}
		if err := profiled(); err != nil {
			return err
		}
	}
	db, err := r.dubanStore(ctx)
	if err != nil {
		return err
	}
	var caseID string
	if err := r.s.db.QueryRow(ctx, `SELECT id::text FROM cases LIMIT 1`).Scan(&caseID); err != nil {
		return err
	}
	const reads = 500
	var thumbLat, staticLat, accessLat, pkLat []time.Duration
	for range reads {
		for _, t := range []struct {
			op   func() error
			into *[]time.Duration
		}{
			{func() error { _, err := get(thumb, "bench-inspector"); return err }, &thumbLat},
			{func() error { _, err := get("http://"+l.Addr().String()+"/thumb.jpg", ""); return err }, &staticLat},
			{func() error { _, _, err := db.AttachmentAccess(ctx, ids[0]); return err }, &accessLat},
			{func() error {
				var doc []byte
				return r.s.db.QueryRow(ctx, `SELECT doc FROM cases WHERE id = $1`, caseID).Scan(&doc)
			}, &pkLat},
		} {
			start := time.Now()
			if err := t.op(); err != nil {
				return err
			}
			*t.into = append(*t.into, time.Since(start))
		}
	}
	access, pk := summarize(accessLat), summarize(pkLat)
	f.Thumbnail, f.Static, f.Access, f.PKRead = summarize(thumbLat), summarize(staticLat), &access, &pk
	r.logf("  attachments: upload %.1f MiB/s beside %.1f written directly; thumbnail (%d bytes) p50 %.2f ms beside a static file's %.2f ms",
		f.Upload, f.Direct, f.ThumbnailBytes, f.Thumbnail.P50, f.Static.P50)
	return nil
}

// uploadForm is multipart/form-data with a file, in the field "file",
// made of parts, and its content type.
func uploadForm(parts ...[]byte) ([]byte, string) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, _ := w.CreateFormFile("file", "IMG.jpg")
	for _, p := range parts {
		_, _ = part.Write(p)
	}
	_ = w.Close()
	return body.Bytes(), w.FormDataContentType()
}

// bareUploads serves, on loopback, a handler that writes a form's file to
// store as it arrives: an upload over HTTP with nothing of duban's in it.
func bareUploads(store *blobs.Dir) (url string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var n atomic.Int64
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		part, err := mr.NextPart()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		spool, err := store.Spool(r.Context())
		if err == nil {
			if _, err = io.Copy(spool, part); err != nil {
				spool.Discard()
			} else {
				err = spool.Keep(fmt.Sprintf("bench/bare-%d", n.Add(1)))
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String() + "/", func() { srv.Close() }, nil
}

// attachmentRows are the attachments phase's rows.
func attachmentRows(f *attachmentFigures) []row {
	rows := []row{
		compare(fmt.Sprintf("photo upload, %d × %.1f MiB (vs the store written directly)", f.Photos, float64(f.PhotoBytes)/(1<<20)), "MiB/s", f.Upload, f.Direct, 0.7, true),
	}
	if f.Bare > 0 {
		rows = append(rows, compare("photo upload (vs the same forms to a bare handler writing the store)", "MiB/s", f.Upload, f.Bare, 0, true))
	}
	rows = append(rows,
		compare(fmt.Sprintf("thumbnail served, %d bytes, p50 (vs a static file)", f.ThumbnailBytes), "ms", f.Thumbnail.P50, f.Static.P50, 2, false),
		compare("thumbnail served, p99 (vs a static file)", "ms", f.Thumbnail.P99, f.Static.P99, 2, false))
	if f.Access != nil {
		rows = append(rows, compare("  who may see it, the query run raw, p50 (vs a case read by id)", "ms", f.Access.P50, f.PKRead.P50, 0, false))
	}
	return rows
}
