package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// exifOf returns the EXIF block (a TIFF structure) of a JPEG, PNG or WebP,
// or nil when it has none. A file whose structure does not hold together
// is refused.
func exifOf(kind string, data []byte) ([]byte, error) {
	var found []byte
	err := walk(kind, data, func(name string, body, _ []byte) bool {
		switch {
		case kind == JPEG && name == "APP1" && bytes.HasPrefix(body, []byte("Exif\x00\x00")):
			found = body[6:]
		case kind == PNG && name == "eXIf":
			found = body
		case kind == WebP && name == "EXIF":
			found = bytes.TrimPrefix(body, []byte("Exif\x00\x00"))
		default:
			return true
		}
		return false
	})
	return found, err
}

// walk calls each with the name, body and whole bytes of each part of a
// JPEG (its segments: "APP1", "COM", ..., and last "SOS", the image data
// to the end), a PNG (its chunks) or a WebP (its RIFF chunks, after the
// header), in order, until each returns false.
func walk(kind string, data []byte, each func(name string, body, raw []byte) bool) error {
	switch kind {
	case JPEG:
		for i := 2; ; {
			if i+4 > len(data) || data[i] != 0xFF {
				return refuse("the JPEG's structure is broken (at byte %d)", i)
			}
			marker := data[i+1]
			if marker == 0xFF { // fill byte
				i++
				continue
			}
			if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
				if !each(fmt.Sprintf("%02X", marker), nil, data[i:i+2]) {
					return nil
				}
				i += 2
				continue
			}
			if marker == 0xDA || marker == 0xD9 { // the image data: no metadata after it
				each("SOS", nil, data[i:])
				return nil
			}
			n := int(binary.BigEndian.Uint16(data[i+2:]))
			if n < 2 || i+2+n > len(data) {
				return refuse("the JPEG's structure is broken (a segment runs past the end)")
			}
			name := fmt.Sprintf("%02X", marker)
			switch {
			case marker >= 0xE0 && marker <= 0xEF:
				name = fmt.Sprintf("APP%d", marker-0xE0)
			case marker == 0xFE:
				name = "COM"
			}
			if !each(name, data[i+4:i+2+n], data[i:i+2+n]) {
				return nil
			}
			i += 2 + n
		}
	case PNG:
		for i := 8; i+12 <= len(data); {
			n := binary.BigEndian.Uint32(data[i:])
			if uint64(n) > uint64(len(data)-i-12) {
				return refuse("the PNG's structure is broken (a chunk runs past the end)")
			}
			name := string(data[i+4 : i+8])
			if !each(name, data[i+8:i+8+int(n)], data[i:i+12+int(n)]) || name == "IEND" {
				return nil
			}
			i += 12 + int(n)
		}
		return refuse("the PNG is cut short: it has no end (IEND)")
	case WebP:
		if len(data) < 12 || uint64(binary.LittleEndian.Uint32(data[4:]))+8 != uint64(len(data)) {
			return refuse("the WebP's size does not match the file's: cut short?")
		}
		for i := 12; i < len(data); {
			if i+8 > len(data) {
				return refuse("the WebP's structure is broken")
			}
			n := binary.LittleEndian.Uint32(data[i+4:])
			if uint64(n) > uint64(len(data)-i-8) {
				return refuse("the WebP's structure is broken (a chunk runs past the end)")
			}
			end := min(i+8+int(n)+int(n&1), len(data))
			if !each(string(data[i:i+4]), data[i+8:i+8+int(n)], data[i:end]) {
				return nil
			}
			i = end
		}
	}
	return nil
}

// exifData is what duban reads of EXIF.
type exifData struct {
	takenAt     *time.Time
	gps         *GPS
	orientation int
}

// tiff is an EXIF block: a TIFF header and its IFDs.
type tiff struct {
	b  []byte
	bo binary.ByteOrder
}

// entry is an IFD entry: its type, count, and where its 4 value bytes are.
type entry struct {
	typ   uint16
	count uint32
	at    int
}

// parseEXIF reads the orientation, the time taken (zone where it has no
// offset) and the GPS position. Offsets, counts and values are all
// checked: a block that points outside itself, or says what cannot be
// (a 13th month, a latitude of 91°), is an error.
func parseEXIF(b []byte, zone *time.Location) (exifData, error) {
	var x exifData
	if len(b) < 8 {
		return x, errors.New("too short")
	}
	t := tiff{b: b}
	switch string(b[:2]) {
	case "II":
		t.bo = binary.LittleEndian
	case "MM":
		t.bo = binary.BigEndian
	default:
		return x, errors.New("no byte order")
	}
	if t.bo.Uint16(b[2:]) != 42 {
		return x, errors.New("not a TIFF structure")
	}
	ifd0, err := t.ifd(t.bo.Uint32(b[4:]))
	if err != nil {
		return x, err
	}
	if e, ok := ifd0[0x0112]; ok {
		v, err := t.uint(e)
		if err != nil || v < 1 || v > 8 {
			return x, fmt.Errorf("orientation %d is not 1 to 8", v)
		}
		x.orientation = int(v)
	}
	exif, err := t.sub(ifd0, 0x8769)
	if err != nil {
		return x, err
	}
	if x.takenAt, err = t.time(exif, zone); err != nil {
		return x, err
	}
	gps, err := t.sub(ifd0, 0x8825)
	if err != nil {
		return x, err
	}
	x.gps, err = t.gps(gps)
	return x, err
}

// sub reads the IFD an entry of ifd points to (the Exif IFD, the GPS
// IFD); none (nil) when ifd has no such entry.
func (t tiff) sub(ifd map[uint16]entry, tag uint16) (map[uint16]entry, error) {
	e, ok := ifd[tag]
	if !ok {
		return nil, nil
	}
	off, err := t.uint(e)
	if err != nil {
		return nil, err
	}
	return t.ifd(off)
}

// ifd reads the entries of the IFD at off.
func (t tiff) ifd(off uint32) (map[uint16]entry, error) {
	if uint64(off)+2 > uint64(len(t.b)) {
		return nil, fmt.Errorf("an IFD at %d, past the block's end", off)
	}
	n := int(t.bo.Uint16(t.b[off:]))
	start := int(off) + 2
	if start+12*n > len(t.b) {
		return nil, fmt.Errorf("an IFD of %d entries runs past the block's end", n)
	}
	out := make(map[uint16]entry, n)
	for i := range n {
		at := start + 12*i
		out[t.bo.Uint16(t.b[at:])] = entry{typ: t.bo.Uint16(t.b[at+2:]), count: t.bo.Uint32(t.b[at+4:]), at: at + 8}
	}
	return out, nil
}

// typeSizes are the byte sizes of TIFF's value types.
var typeSizes = map[uint16]uint64{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}

// value returns the entry's value bytes, inline or at their offset.
func (t tiff) value(e entry) ([]byte, error) {
	size, ok := typeSizes[e.typ]
	if !ok {
		return nil, fmt.Errorf("unknown value type %d", e.typ)
	}
	n := size * uint64(e.count)
	if n <= 4 {
		return t.b[e.at : e.at+int(n)], nil
	}
	off := uint64(t.bo.Uint32(t.b[e.at:]))
	if off+n > uint64(len(t.b)) {
		return nil, fmt.Errorf("a value of %d bytes at %d, past the block's end", n, off)
	}
	return t.b[off : off+n], nil
}

// uint reads a SHORT or LONG entry's first value.
func (t tiff) uint(e entry) (uint32, error) {
	v, err := t.value(e)
	switch {
	case err != nil:
		return 0, err
	case e.count == 0:
		return 0, errors.New("an empty value")
	case e.typ == 3:
		return uint32(t.bo.Uint16(v)), nil
	case e.typ == 4:
		return t.bo.Uint32(v), nil
	}
	return 0, fmt.Errorf("a number of type %d", e.typ)
}

// ascii reads an ASCII entry, without its NUL.
func (t tiff) ascii(e entry) (string, error) {
	if e.typ != 2 {
		return "", fmt.Errorf("text of type %d", e.typ)
	}
	v, err := t.value(e)
	return strings.TrimRight(string(v), "\x00 "), err
}

// time reads DateTimeOriginal, with OffsetTimeOriginal when given.
func (t tiff) time(sub map[uint16]entry, zone *time.Location) (*time.Time, error) {
	e, ok := sub[0x9003]
	if !ok {
		return nil, nil
	}
	s, err := t.ascii(e)
	if err != nil {
		return nil, err
	}
	if strings.Trim(s, " :0") == "" { // cameras write blanks or zeros when they do not know
		return nil, nil
	}
	loc := zone
	if oe, ok := sub[0x9011]; ok {
		off, err := t.ascii(oe)
		if err != nil {
			return nil, err
		}
		ot, err := time.Parse("-07:00", off)
		if err != nil {
			return nil, fmt.Errorf("OffsetTimeOriginal %q is not an offset", off)
		}
		_, secs := ot.Zone()
		loc = time.FixedZone(off, secs)
	}
	taken, err := time.ParseInLocation("2006:01:02 15:04:05", s, loc)
	if err != nil {
		return nil, fmt.Errorf("DateTimeOriginal %q is not a time", s)
	}
	taken = taken.UTC()
	return &taken, nil
}

// gps reads the GPS IFD's latitude and longitude; nil when it has none.
func (t tiff) gps(sub map[uint16]entry) (*GPS, error) {
	latE, hasLat := sub[2]
	lonE, hasLon := sub[4]
	if !hasLat || !hasLon {
		return nil, nil
	}
	lat, err := t.degrees(latE)
	if err != nil {
		return nil, err
	}
	lon, err := t.degrees(lonE)
	if err != nil {
		return nil, err
	}
	if ref, ok := sub[1]; ok {
		if s, err := t.ascii(ref); err != nil || (s != "N" && s != "S") {
			return nil, fmt.Errorf("GPS latitude reference %q is not N or S", s)
		} else if s == "S" {
			lat = -lat
		}
	}
	if ref, ok := sub[3]; ok {
		if s, err := t.ascii(ref); err != nil || (s != "E" && s != "W") {
			return nil, fmt.Errorf("GPS longitude reference %q is not E or W", s)
		} else if s == "W" {
			lon = -lon
		}
	}
	if math.Abs(lat) > 90 || math.Abs(lon) > 180 {
		return nil, fmt.Errorf("GPS position %.5f, %.5f is not on Earth", lat, lon)
	}
	return &GPS{Lat: math.Round(lat*1e7) / 1e7, Lon: math.Round(lon*1e7) / 1e7}, nil
}

// degrees reads three RATIONALs, degrees, minutes and seconds.
func (t tiff) degrees(e entry) (float64, error) {
	if e.typ != 5 || e.count != 3 {
		return 0, fmt.Errorf("a GPS coordinate of type %d, count %d: want 3 rationals", e.typ, e.count)
	}
	v, err := t.value(e)
	if err != nil {
		return 0, err
	}
	var parts [3]float64
	for i := range parts {
		num, den := t.bo.Uint32(v[8*i:]), t.bo.Uint32(v[8*i+4:])
		if den == 0 {
			return 0, errors.New("a GPS coordinate divides by zero")
		}
		parts[i] = float64(num) / float64(den)
	}
	if parts[1] >= 60 || parts[2] >= 60 {
		return 0, fmt.Errorf("a GPS coordinate of %g minutes, %g seconds", parts[1], parts[2])
	}
	return parts[0] + parts[1]/60 + parts[2]/3600, nil
}
