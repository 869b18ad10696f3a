package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban"
	"github.com/duban/duban/app"
	"github.com/duban/duban/media"
)

// An attachment is recorded once (the same bytes again change nothing),
// its derived blobs recorded after, and the cases whose report, resolution
// or verification names it are found with it, each once.
func testAttachments(t *testing.T, s Store) {
	ctx := context.Background()
	id := "sha256:" + strings.Repeat("ab", 32)
	if _, err := s.Attachment(ctx, id); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("an attachment never stored: %v", err)
	}
	taken := time.Date(2026, 11, 30, 1, 15, 2, 0, time.UTC)
	a := app.Attachment{ID: id, ContentType: media.JPEG, Size: 2 << 20, Width: 4032, Height: 3024, TakenAt: &taken,
		Location: &media.GPS{Lat: 39.86512, Lon: 116.23809}, Name: "IMG_0001.jpg", UploadedBy: "inspector-1",
		UploadedAt: t0, Thumbnail: true}
	if err := s.PutAttachment(ctx, a); err != nil {
		t.Fatal(err)
	}
	again := a
	again.UploadedBy, again.Name = "inspector-2", "same.jpg"
	if err := s.PutAttachment(ctx, again); err != nil {
		t.Fatal(err)
	}
	got, err := s.Attachment(ctx, id)
	if err != nil || !sameJSON(got, a) || got.UploadedBy != "inspector-1" || got.Derived {
		t.Fatalf("read back %+v, %v\nwant %+v", got, err, a)
	}
	if err := s.Derived(ctx, id, false, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Attachment(ctx, id); !got.Derived || got.Thumbnail || !got.Stripped {
		t.Fatalf("after derivation: %+v", got)
	}

	w := &writer{t: t, s: s}
	photo := []duban.Evidence{{Attachment: id, Kind: "photo"}}
	reported := w.open(t0, "littering", "sanitation", "old-town", duban.SeverityNormal)
	w.n++
	withPhoto := "0194f2a0-0000-7000-8000-000000000099"
	w.do(withPhoto, duban.OpenCase{CommandMeta: duban.CommandMeta{By: inspector}, CaseID: withPhoto, Category: "littering",
		Severity: duban.SeverityNormal, Description: "bags", Location: duban.Location{Lat: 39.9, Lon: 116.4}, Evidence: photo,
		Stored: []string{id}, Unit: "sanitation", Terms: terms, RequestHash: "h"}, t0, "open")
	w.do(reported, duban.Acknowledge{CommandMeta: duban.CommandMeta{By: sanitation}}, t0.Add(time.Minute), "ack")
	w.do(reported, duban.Resolve{CommandMeta: duban.CommandMeta{By: sanitation}, Note: "swept", Evidence: photo, Stored: []string{id}}, t0.Add(time.Hour), "fix")
	w.do(reported, duban.Verify{CommandMeta: duban.CommandMeta{By: inspector}, Note: "again", Evidence: photo, Stored: []string{id}}, t0.Add(2*time.Hour), "check")
	w.open(t0, "littering", "sanitation", "old-town", duban.SeverityNormal) // names no photo
	_, cases, err := s.AttachmentAccess(ctx, id)
	want := []app.AttachmentCase{{ID: reported, Unit: "sanitation", Reporter: "inspector-1"}, {ID: withPhoto, Unit: "sanitation", Reporter: "inspector-1"}}
	slices.SortFunc(want, func(a, b app.AttachmentCase) int { return strings.Compare(a.ID, b.ID) })
	if err != nil || !slices.Equal(cases, want) {
		t.Fatalf("cases that refer to it: %v, %v; want %v", cases, err, want)
	}
	if _, _, err := s.AttachmentAccess(ctx, "sha256:"+strings.Repeat("cd", 32)); duban.ErrorCode(err) != duban.ENOTFOUND {
		t.Fatalf("the access to an attachment never stored: %v", err)
	}
	other := "sha256:" + strings.Repeat("ef", 32)
	if err := s.PutAttachment(ctx, app.Attachment{ID: other, ContentType: media.PDF, Size: 1, UploadedBy: "inspector-1", UploadedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if a, cases, err := s.AttachmentAccess(ctx, other); err != nil || a.ID != other || len(cases) != 0 {
		t.Fatalf("an attachment no event names: %+v, %v, %v", a, cases, err)
	}
}
