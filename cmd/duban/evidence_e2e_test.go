package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duban/duban/internal/apitest"
	"github.com/duban/duban/internal/testimage"
)

type wireAttachment struct {
	ID       string `json:"id"`
	TakenAt  string `json:"taken_at"`
	Location *struct{ Lat, Lon float64 }
}

// The closed loop with photos, through the whole stack: the inspector
// reports with a photo, the unit resolves with a photo of the fix, the
// inspector sees both and verifies. The audit then finds a photo removed
// from the store and one changed by hand.
func TestEvidenceFromTheStreet(t *testing.T) {
	s := newStack(t, "")
	s.start("serve")
	upload := func(token, name string, data []byte) wireAttachment {
		var a wireAttachment
		s.call("POST", "/v1/attachments", token, apitest.File{Field: "file", Name: name, Data: data}).Expect(t, http.StatusCreated, &a)
		return a
	}
	before := testimage.JPEG(testimage.Picture(1600, 1200), testimage.EXIF{Taken: "2026:11:30 09:15:02", GPS: true, Lat: 39.865, Lon: 111.238}.Bytes())
	b := upload("dev-inspector", "before.jpg", before)
	if b.TakenAt != "2026-11-30T01:15:02Z" || b.Location == nil {
		t.Fatalf("the report's photo: %+v", b)
	}
	report := map[string]any{"category": "littering", "description": "bags dumped at the bus stop",
		"location": map[string]any{"lat": 39.865, "lon": 111.238}, "evidence": []map[string]string{{"attachment": b.ID, "kind": "photo"}}}
	c := s.caseOf(s.call("POST", "/v1/cases", "dev-inspector", report), http.StatusCreated)
	p := "/v1/cases/" + c.ID
	s.caseOf(s.call("POST", p+"/acknowledge", "dev-sanitation", nil), http.StatusOK)
	after := testimage.JPEG(testimage.Picture(1200, 1600), testimage.EXIF{Taken: "2026:11:30 15:40:00", GPS: true, Lat: 39.8651, Lon: 111.2381}.Bytes())
	a := upload("dev-sanitation", "after.jpg", after)
	s.caseOf(s.call("POST", p+"/resolve", "dev-sanitation", map[string]any{"note": "swept",
		"evidence": []map[string]string{{"attachment": a.ID, "kind": "photo"}}}), http.StatusOK)
	for id, want := range map[string][]byte{b.ID: before, a.ID: after} {
		if r := s.call("GET", "/v1/attachments/"+id, "dev-inspector", nil); r.Status != 200 || !bytes.Equal(r.Body, want) {
			t.Fatalf("the inspector got %s: %d, %d bytes", id, r.Status, len(r.Body))
		}
	}
	s.caseOf(s.call("POST", p+"/verify", "dev-inspector", map[string]any{"passed": true}), http.StatusOK)

	if out, err := s.runOnce("audit", "verify", "--blob-store", s.blobs); err != nil || !strings.Contains(out, "2 attachments referred to, 2 whole, 0 missing") {
		t.Fatalf("audit of a whole store: %v\n%s", err, out)
	}
	hexOf := func(id string) string { return strings.TrimPrefix(id, "sha256:") }
	if err := os.Remove(filepath.Join(s.blobs, "sha256", hexOf(b.ID))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.blobs, "sha256", hexOf(a.ID)), append(after, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := s.runOnce("audit", "verify", "--blob-store", s.blobs)
	if err == nil || !strings.Contains(out, "attachment "+b.ID+": missing") || !strings.Contains(out, "attachment "+a.ID+": its bytes have changed") {
		t.Fatalf("audit of a store with a photo removed and one changed: %v\n%s", err, out)
	}
}
