// Package media reads what duban needs of an uploaded photo or document,
// from its bytes alone (never its name): which type it is, whether it is
// whole, its pixel size before anything is decoded (a decompression bomb
// is refused unread), when and where it was taken (EXIF), a copy without
// that metadata, and a thumbnail. It is pure and fuzzed: any input gives a
// result or an error, never a panic.
package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered so that DecodeConfig names a GIF as one, to refuse it by name
	"image/jpeg"
	"image/png"
	"time"

	"golang.org/x/image/webp"
)

// The types duban takes.
const (
	JPEG = "image/jpeg"
	PNG  = "image/png"
	WebP = "image/webp"
	HEIC = "image/heic"
	PDF  = "application/pdf"
)

// Limits of what is taken.
const (
	// MaxSize is the largest file: 20 MiB.
	MaxSize = 20 << 20
	// MaxPixels and MaxSide bound an image's declared size, checked
	// before any decoding: a phone's 200-megapixel photo passes, a
	// 100,000 × 100,000 PNG of a few kilobytes does not.
	MaxPixels = 200_000_000
	MaxSide   = 30_000
)

// Info is what an upload's bytes say of it.
type Info struct {
	ContentType   string
	Width, Height int // images only
	// TakenAt and Location come from EXIF, when it has them.
	TakenAt  *time.Time
	Location *GPS
	// Orientation is EXIF's (1 to 8; 0 when not given).
	Orientation int
}

// GPS is where a photo was taken.
type GPS struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Error is a refusal of the upload, saying why in words for the uploader.
type Error struct {
	// Unsupported is set when the type is not one duban takes.
	Unsupported bool
	Msg         string
}

func (e *Error) Error() string { return e.Msg }

func refuse(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Inspect reads data's type, checks it is whole and not too large to
// decode, and reads its EXIF. zone is where a time without an offset was
// taken (the city's). An upload it refuses gets an *Error.
func Inspect(data []byte, zone *time.Location) (Info, error) {
	if len(data) == 0 {
		return Info{}, refuse("the file is empty")
	}
	if len(data) > MaxSize {
		return Info{}, refuse("the file is %d bytes: at most %d (20 MiB)", len(data), MaxSize)
	}
	info := Info{ContentType: Sniff(data)}
	var exif []byte
	var err error
	switch info.ContentType {
	case JPEG, PNG, WebP:
		if err := info.checkConfig(data); err != nil {
			return Info{}, err
		}
		exif, err = exifOf(info.ContentType, data)
		if err == nil && info.ContentType == JPEG {
			err = jpegWhole(data)
		}
	case HEIC:
		info.Width, info.Height, exif, err = heic(data)
		if err == nil {
			err = checkSize(info.Width, info.Height)
		}
	case PDF:
		if !bytes.Contains(data[max(0, len(data)-1024):], []byte("%%EOF")) {
			return Info{}, refuse("the PDF is cut short: it has no end (%%%%EOF)")
		}
		return info, nil
	default:
		return Info{}, &Error{Unsupported: true, Msg: "not a photo (JPEG, PNG, WebP, HEIC) or a PDF, whatever its name says"}
	}
	if err != nil {
		return Info{}, err
	}
	if exif != nil {
		x, err := parseEXIF(exif, zone)
		if err != nil {
			return Info{}, refuse("the photo's EXIF is malformed: %v", err)
		}
		info.TakenAt, info.Location, info.Orientation = x.takenAt, x.gps, x.orientation
	}
	return info, nil
}

// Sniff names data's type from its first bytes: one of the types above,
// or "" for any other.
func Sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return WebP
	case len(data) >= 12 && string(data[4:8]) == "ftyp" && heifBrand(data):
		return HEIC
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return PDF
	}
	return ""
}

// jpegWhole refuses a JPEG cut short: one whose image data has no end
// (EOI). The data of the main image follows its first SOS marker, where a
// 0xFF byte is followed only by 0x00 or a marker, so the first EOI there
// is its end; an embedded thumbnail's EOI comes before, and what phones
// append after (a motion photo's video) does not matter.
func jpegWhole(data []byte) error {
	sos := -1
	_ = walk(JPEG, data, func(name string, _, raw []byte) bool {
		if name == "SOS" {
			sos = len(data) - len(raw)
		}
		return true
	})
	if sos < 0 || !bytes.Contains(data[sos:], []byte{0xFF, 0xD9}) {
		return refuse("the JPEG is cut short: its image data has no end")
	}
	return nil
}

// checkConfig reads the image's declared size, without decoding it, and
// refuses one too large.
func (info *Info) checkConfig(data []byte) error {
	var cfg image.Config
	var err error
	switch info.ContentType {
	case JPEG:
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case PNG:
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case WebP:
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
	}
	if err != nil {
		return refuse("the image cannot be read: %v", err)
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	return checkSize(cfg.Width, cfg.Height)
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return refuse("the image declares no size")
	}
	if w > MaxSide || h > MaxSide || int64(w)*int64(h) > MaxPixels {
		return refuse("the image is %d × %d pixels: at most %d a side and %d megapixels", w, h, MaxSide, MaxPixels/1_000_000)
	}
	return nil
}

// decode decodes an image Inspect took (JPEG, PNG or WebP). A file cut
// short fails here.
func decode(data []byte, info Info) (image.Image, error) {
	var img image.Image
	var err error
	switch info.ContentType {
	case JPEG:
		img, err = jpeg.Decode(bytes.NewReader(data))
	case PNG:
		img, err = png.Decode(bytes.NewReader(data))
	case WebP:
		img, err = webp.Decode(bytes.NewReader(data))
	default:
		return nil, errors.New("not an image duban decodes")
	}
	if err != nil {
		return nil, refuse("the image cannot be read whole (cut short?): %v", err)
	}
	return img, nil
}
