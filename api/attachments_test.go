package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image/jpeg"
	"io/fs"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/testimage"
)

type wireAttachment struct {
	ID          string  `json:"id"`
	ContentType string  `json:"content_type"`
	Size        int64   `json:"size"`
	TakenAt     *string `json:"taken_at"`
	Location    *struct{ Lat, Lon float64 }
	Thumbnail   bool `json:"thumbnail"`
}

func (d *door) upload(token, name string, data []byte) apitest.Response {
	d.t.Helper()
	return d.call("POST", "/v1/attachments", token, apitest.File{Field: "file", Name: name, Data: data})
}

// blobFiles counts the files stored as uploaded (not their thumbnails,
// made in the background).
func (d *door) blobFiles() int {
	n := 0
	_ = filepath.WalkDir(filepath.Join(d.blobs, "sha256"), func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			n++
		}
		return err
	})
	return n
}

// A photo from the street: stored once by its bytes' hash, with when and
// where it was taken; referred to by a case; seen whole by the case's
// reporter and unit and the office, without its EXIF by other
// inspectors, not at all by other units.
func TestAttachments(t *testing.T) {
	d := newDoor(t)
	exif := testimage.EXIF{Orientation: 1, Taken: "2026:11:30 09:15:02", GPS: true, Lat: 39.86512, Lon: 111.23809}.Bytes()
	photo := testimage.JPEG(testimage.Picture(640, 480), exif)
	sum := sha256.Sum256(photo)
	id := "sha256:" + hex.EncodeToString(sum[:])

	var a wireAttachment
	d.upload("dev-inspector", "IMG_0001.jpg", photo).Expect(t, http.StatusCreated, &a)
	if a.ID != id || a.ContentType != "image/jpeg" || a.Size != int64(len(photo)) || !a.Thumbnail ||
		a.TakenAt == nil || *a.TakenAt != "2026-11-30T01:15:02Z" || a.Location == nil || math.Abs(a.Location.Lat-39.86512) > 1e-6 {
		t.Fatalf("uploaded %+v, taken %v at %+v", a, a.TakenAt, a.Location)
	}
	stored := d.blobFiles()
	if stored != 1 {
		t.Fatalf("%d files stored, want 1", stored)
	}
	d.upload("dev-inspector-2", "same.jpg", photo).Expect(t, http.StatusCreated, &a)
	if a.ID != id || d.blobFiles() != stored {
		t.Fatalf("the same bytes again: %+v, %d blobs", a, d.blobFiles())
	}

	// Bad input: each a clear refusal, nothing stored.
	whole := testimage.JPEG(testimage.Picture(64, 48), nil)
	for _, tt := range []struct {
		name, file string
		data       []byte
		status     int
		says       string
	}{
		{"HTML named photo.jpg", "photo.jpg", []byte("<!doctype html><script>alert(1)</script>"), 415, "not a photo"},
		{"decompression bomb", "bomb.png", testimage.PNGDeclaring(100_000, 100_000), 400, "100000 × 100000 pixels"},
		{"truncated", "cut.jpg", whole[:len(whole)-100], 400, "cut short"},
		{"empty", "empty.jpg", nil, 400, "empty"},
		{"a path for a name", "../../etc/cron.d/evil.jpg", whole, 400, "holds a path"},
		{"lying EXIF", "liar.jpg", testimage.JPEG(testimage.Picture(8, 8), testimage.EXIF{GPS: true, Lat: 91, Lon: 116}.Bytes()), 400, "not on Earth"},
		{"larger than 20 MiB", "huge.jpg", append(bytes.Clone(whole), make([]byte, 20<<20)...), 413, "20 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := refused(t, d.upload("dev-inspector", tt.file, tt.data), tt.status, "", "")
			if !strings.Contains(p.Detail, tt.says) {
				t.Fatalf("refused with %q, want it to say %q", p.Detail, tt.says)
			}
			if n := d.blobFiles(); n != stored {
				t.Fatalf("%d blobs after a refusal, want %d", n, stored)
			}
			// An upload is written as it arrives: a refused one leaves no
			// temporary file.
			if left, _ := filepath.Glob(filepath.Join(d.blobs, ".tmp", "*")); len(left) != 0 {
				t.Fatalf("a refused upload left %v", left)
			}
		})
	}
	refused(t, d.upload("", "x.jpg", photo), http.StatusUnauthorized, "", "")

	// A case refers to it; one not stored cannot be referred to.
	report := littering()
	report["evidence"] = []map[string]string{{"attachment": id, "kind": "photo"}}
	c := d.open(report)
	report["evidence"] = []map[string]string{{"attachment": "sha256:" + strings.Repeat("0", 64), "kind": "photo"}}
	refused(t, d.call("POST", "/v1/cases", "dev-inspector", report), http.StatusBadRequest, "evidence[0].attachment", "is not stored")

	get := func(token, path string) apitest.Response { return d.call("GET", path, token, nil) }
	for _, token := range []string{"dev-inspector", "dev-sanitation", "dev-supervisor"} {
		r := get(token, "/v1/attachments/"+id)
		if r.Status != 200 || !bytes.Equal(r.Body, photo) || r.Header.Get("Content-Type") != "image/jpeg" {
			t.Errorf("%s got %d, %d bytes, want the photo whole", token, r.Status, len(r.Body))
		}
	}
	// Another inspector sees the case, and the photo without its EXIF.
	r := get("dev-inspector-2", "/v1/attachments/"+id)
	if r.Status != 200 || bytes.Contains(r.Body, []byte("Exif")) || bytes.Contains(r.Body, []byte("2026:11:30")) {
		t.Fatalf("another inspector got %d, %d bytes, with EXIF: %v", r.Status, len(r.Body), bytes.Contains(r.Body, []byte("Exif")))
	}
	if _, err := jpeg.Decode(bytes.NewReader(r.Body)); err != nil {
		t.Fatalf("the copy without EXIF does not decode: %v", err)
	}
	// Another unit does not see it at all.
	refused(t, get("dev-traffic-police", "/v1/attachments/"+id), http.StatusNotFound, "", "")
	thumb := get("dev-inspector-2", "/v1/attachments/"+id+"/thumbnail")
	if thumb.Status != 200 || thumb.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("thumbnail: %d %s", thumb.Status, thumb.Body)
	}
	if img, err := jpeg.Decode(bytes.NewReader(thumb.Body)); err != nil || img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
		t.Fatalf("thumbnail: %v", err)
	}
	// A thumbnail's URL names its bytes: kept by the browser, and asked
	// again with its ETag, not sent again, once who asks may see it.
	tag := thumb.Header.Get("ETag")
	if !strings.HasPrefix(tag, `"thumbnail/`) || !strings.Contains(thumb.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("thumbnail served with ETag %s, Cache-Control %q", tag, thumb.Header.Get("Cache-Control"))
	}
	if again := d.call("GET", "/v1/attachments/"+id+"/thumbnail", "dev-supervisor", nil, "If-None-Match", tag); again.Status != http.StatusNotModified || len(again.Body) != 0 {
		t.Fatalf("asked again with its ETag: %d, %d bytes", again.Status, len(again.Body))
	}
	refused(t, d.call("GET", "/v1/attachments/"+id+"/thumbnail", "dev-traffic-police", nil, "If-None-Match", tag), http.StatusNotFound, "", "")
	// The file itself differs by who asks (whole or stripped): so does its ETag.
	if whole, stripped := get("dev-inspector", "/v1/attachments/"+id), get("dev-inspector-2", "/v1/attachments/"+id); whole.Header.Get("ETag") == stripped.Header.Get("ETag") ||
		strings.Contains(whole.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("whole and stripped copies share the ETag %s, or are immutable (%q)", whole.Header.Get("ETag"), whole.Header.Get("Cache-Control"))
	}

	// The unit resolves with a photo of the fix.
	after := testimage.JPEG(testimage.Picture(320, 240), testimage.EXIF{Taken: "2026:11:30 15:40:00"}.Bytes())
	var b wireAttachment
	d.upload("dev-sanitation", "after.jpg", after).Expect(t, http.StatusCreated, &b)
	// Before any case refers to it, only its uploader sees it.
	refused(t, get("dev-inspector", "/v1/attachments/"+b.ID), http.StatusNotFound, "", "")
	d.call("POST", "/v1/cases/"+c.ID+"/acknowledge", "dev-sanitation", nil).Expect(t, http.StatusOK, nil)
	d.call("POST", "/v1/cases/"+c.ID+"/resolve", "dev-sanitation", map[string]any{"note": "swept",
		"evidence": []map[string]string{{"attachment": b.ID, "kind": "photo"}}}).Expect(t, http.StatusOK, nil)
	if r := get("dev-inspector", "/v1/attachments/"+b.ID); r.Status != 200 || !bytes.Equal(r.Body, after) {
		t.Fatalf("the reporter got the fix's photo: %d", r.Status)
	}
}
