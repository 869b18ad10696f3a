package media_test

import (
	"bytes"
	"image/jpeg"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/duban/duban/internal/testimage"
	"github.com/duban/duban/media"
)

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

func TestInspectReadsWhatPhotosSay(t *testing.T) {
	exif := testimage.EXIF{Orientation: 6, Taken: "2026:11:30 09:15:02", GPS: true, Lat: 39.86512, Lon: 116.23809}.Bytes()
	for _, tt := range []struct {
		name string
		data []byte
		kind string
		w, h int
	}{
		{"jpeg", testimage.JPEG(testimage.Picture(64, 48), exif), media.JPEG, 64, 48},
		{"png", testimage.PNG(testimage.Picture(64, 48), exif), media.PNG, 64, 48},
		{"webp", testimage.WebP(exif), media.WebP, 1, 1},
		{"heic", testimage.HEIC(exif), media.HEIC, 4032, 3024},
	} {
		t.Run(tt.name, func(t *testing.T) {
			info, err := media.Inspect(tt.data, shanghai)
			if err != nil {
				t.Fatal(err)
			}
			want := time.Date(2026, 11, 30, 9, 15, 2, 0, shanghai)
			if info.ContentType != tt.kind || info.Width != tt.w || info.Height != tt.h || info.Orientation != 6 ||
				info.TakenAt == nil || !info.TakenAt.Equal(want) ||
				info.Location == nil || math.Abs(info.Location.Lat-39.86512) > 1e-5 || math.Abs(info.Location.Lon-116.23809) > 1e-5 {
				t.Fatalf("inspected %+v (taken %v, at %+v)", info, info.TakenAt, info.Location)
			}
		})
	}
	// An offset in EXIF wins over the city's zone.
	info, err := media.Inspect(testimage.JPEG(testimage.Picture(8, 8), testimage.EXIF{Taken: "2026:11:30 09:15:02", Zone: "+01:00"}.Bytes()), shanghai)
	if err != nil || !info.TakenAt.Equal(time.Date(2026, 11, 30, 8, 15, 2, 0, time.UTC)) || info.Location != nil {
		t.Fatalf("taken %v at %+v, %v", info.TakenAt, info.Location, err)
	}
	// A PDF is taken whole; a photo without EXIF says nothing of time or place.
	if info, err := media.Inspect([]byte("%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"), shanghai); err != nil || info.ContentType != media.PDF {
		t.Fatalf("pdf: %+v, %v", info, err)
	}
	if info, err := media.Inspect(testimage.JPEG(testimage.Picture(8, 8), nil), shanghai); err != nil || info.TakenAt != nil || info.Location != nil {
		t.Fatalf("no EXIF: %+v, %v", info, err)
	}
}

func TestInspectRefusesBadInput(t *testing.T) {
	whole := testimage.JPEG(testimage.Picture(64, 48), nil)
	for _, tt := range []struct {
		name, data, want string
		unsupported      bool
	}{
		{"empty", "", "the file is empty", false},
		{"HTML named photo.jpg", "<!doctype html><script>alert(1)</script>", "not a photo", true},
		{"GIF", "GIF89a\x01\x00\x01\x00\x00\x00\x00;", "not a photo", true},
		{"decompression bomb", string(testimage.PNGDeclaring(100_000, 100_000)), "100000 × 100000 pixels", false},
		{"JPEG cut in its header", string(whole[:40]), "cannot be read", false},
		{"JPEG cut in its image data", string(whole[:len(whole)-100]), "cut short", false},
		{"PNG without its end", string(testimage.PNGDeclaring(10, 10)[:60]), "cut short", false},
		{"EXIF pointing outside itself", string(testimage.JPEG(testimage.Picture(8, 8), testimage.EXIF{BadIFDOffset: true, Orientation: 1}.Bytes())), "EXIF is malformed", false},
		{"EXIF at latitude 91", string(testimage.JPEG(testimage.Picture(8, 8), testimage.EXIF{GPS: true, Lat: 91, Lon: 116}.Bytes())), "not on Earth", false},
		{"EXIF in the 13th month", string(testimage.JPEG(testimage.Picture(8, 8), testimage.EXIF{Taken: "2026:13:30 09:15:02"}.Bytes())), "is not a time", false},
		{"EXIF orientation 9", string(testimage.JPEG(testimage.Picture(8, 8), testimage.EXIF{Orientation: 9}.Bytes())), "orientation 9", false},
		{"EXIF latitude east", string(testimage.JPEG(testimage.Picture(8, 8), testimage.EXIF{GPS: true, Lat: 39, Lon: 116, LatRef: "E"}.Bytes())), "not N or S", false},
		{"HEIC cut short", string(testimage.HEIC(nil)[:100]), "HEIC's structure is broken", false},
		{"PDF cut short", "%PDF-1.7\n1 0 obj\n<<", "cut short", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := media.Inspect([]byte(tt.data), shanghai)
			var e *media.Error
			if !errorsAs(err, &e) || !strings.Contains(e.Msg, tt.want) || e.Unsupported != tt.unsupported {
				t.Fatalf("got %v, want a refusal saying %q", err, tt.want)
			}
		})
	}
}

func errorsAs(err error, target **media.Error) bool {
	e, ok := err.(*media.Error)
	if ok {
		*target = e
	}
	return ok
}

// The copy served beyond the case's participants says nothing of where,
// when or by whom; the Picture is the same.
func TestStrip(t *testing.T) {
	exif := testimage.EXIF{Taken: "2026:11:30 09:15:02", GPS: true, Lat: 39.86512, Lon: 116.23809}.Bytes()
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"jpeg", testimage.JPEG(testimage.Picture(64, 48), exif)},
		{"png", testimage.PNG(testimage.Picture(64, 48), exif)},
		{"webp", testimage.WebP(exif)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, err := media.Inspect(tt.data, shanghai)
			if err != nil {
				t.Fatal(err)
			}
			out, ok, err := media.Strip(before.ContentType, tt.data)
			if err != nil || !ok {
				t.Fatalf("strip: %v, %v", ok, err)
			}
			after, err := media.Inspect(out, shanghai)
			if err != nil {
				t.Fatal(err)
			}
			if after.TakenAt != nil || after.Location != nil || after.Width != before.Width || after.Height != before.Height {
				t.Fatalf("stripped: %+v", after)
			}
			for _, leak := range []string{"inspector-1", "2026:11:30"} {
				if bytes.Contains(out, []byte(leak)) {
					t.Errorf("the stripped copy still holds %q", leak)
				}
			}
			if before.ContentType != media.WebP {
				if _, err := media.Thumbnail(out, after); err != nil {
					t.Fatalf("the stripped copy does not decode: %v", err)
				}
			}
		})
	}
	if _, ok, _ := media.Strip(media.HEIC, testimage.HEIC(exif)); ok {
		t.Fatal("an HEIC was stripped")
	}
}

// A thumbnail is upright by the photo's orientation and at most 320 a side.
func TestThumbnail(t *testing.T) {
	// Orientation 6: the camera was turned; the Picture is shown turned 90° clockwise.
	data := testimage.JPEG(testimage.Picture(800, 400), testimage.EXIF{Orientation: 6}.Bytes())
	info, err := media.Inspect(data, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := media.Thumbnail(data, info)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(thumb))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 160 || b.Dy() != 320 {
		t.Fatalf("thumbnail %v, want 160 × 320", b)
	}
	// The red quarter, top-left in the file, is top-right once turned.
	red := func(x, y int) bool { r, g, b, _ := img.At(x, y).RGBA(); return r > 0xC000 && g < 0x4000 && b < 0x4000 }
	if !red(120, 40) || red(40, 40) {
		t.Fatal("the thumbnail is not turned as the orientation says")
	}
}

func FuzzInspect(f *testing.F) {
	exif := testimage.EXIF{Orientation: 3, Taken: "2026:11:30 09:15:02", Zone: "+08:00", GPS: true, Lat: -33.8, Lon: 151.2}.Bytes()
	for _, seed := range [][]byte{testimage.JPEG(testimage.Picture(16, 16), exif), testimage.PNG(testimage.Picture(16, 16), exif), testimage.WebP(exif),
		testimage.HEIC(exif), testimage.PNGDeclaring(100_000, 100_000), []byte("%PDF-1.4\n%%EOF"), exif} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := media.Inspect(data, shanghai)
		if err != nil {
			return
		}
		out, ok, err := media.Strip(info.ContentType, data)
		if err == nil && ok {
			if after, err := media.Inspect(out, shanghai); err != nil || after.ContentType != info.ContentType || after.TakenAt != nil || after.Location != nil {
				if info.ContentType != media.PDF {
					t.Fatalf("the stripped copy inspects as %+v, %v", after, err)
				}
			}
		}
		if info.Width*info.Height <= 1<<16 && info.ContentType != media.HEIC && info.ContentType != media.PDF {
			_, _ = media.Thumbnail(data, info)
		}
	})
}
