// Package testimage makes the photos duban's tests upload: real JPEG and
// PNG images with EXIF blocks written as cameras write them (or lying),
// WebP and HEIC structures, and decompression bombs.
package testimage

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
)

// EXIF builds a little-endian EXIF block: orientation (0: none), the
// time taken ("" none) with its offset ("" none), and a GPS position
// (nil none), as a camera writes them.
type EXIF struct {
	Orientation  uint16
	Taken, Zone  string
	Lat, Lon     float64
	GPS          bool
	LatRef       string // default N or S by sign
	BadIFDOffset bool
}

// Bytes is the block.
func (x EXIF) Bytes() []byte {
	le := binary.LittleEndian
	type ent struct {
		tag, typ uint16
		count    uint32
		data     []byte // > 4 bytes go to the data area
	}
	var data []byte
	const ifd0At = 8
	ifd := func(base int, es []ent) []byte {
		// base: where this IFD starts; data follows it.
		size := 2 + 12*len(es) + 4
		var out, extra []byte
		out = le.AppendUint16(out, uint16(len(es)))
		for _, e := range es {
			out = le.AppendUint16(out, e.tag)
			out = le.AppendUint16(out, e.typ)
			out = le.AppendUint32(out, e.count)
			if len(e.data) <= 4 {
				v := make([]byte, 4)
				copy(v, e.data)
				out = append(out, v...)
			} else {
				out = le.AppendUint32(out, uint32(base+size+len(extra)))
				extra = append(extra, e.data...)
			}
		}
		out = le.AppendUint32(out, 0)
		return append(out, extra...)
	}
	ascii := func(s string) []byte { return append([]byte(s), 0) }
	rational := func(v float64) []byte {
		v = math.Abs(v)
		d := math.Floor(v)
		m := math.Floor((v - d) * 60)
		s := ((v-d)*60 - m) * 60
		var out []byte
		for _, p := range [][2]uint32{{uint32(d), 1}, {uint32(m), 1}, {uint32(s * 1000), 1000}} {
			out = le.AppendUint32(out, p[0])
			out = le.AppendUint32(out, p[1])
		}
		return out
	}
	// Lay out: header, IFD0, Exif IFD, GPS IFD.
	var ifd0 []ent
	if x.Orientation != 0 {
		ifd0 = append(ifd0, ent{0x0112, 3, 1, le.AppendUint16(nil, x.Orientation)})
	}
	var exifIFD, gpsIFD []ent
	if x.Taken != "" {
		exifIFD = append(exifIFD, ent{0x9003, 2, uint32(len(x.Taken) + 1), ascii(x.Taken)})
		if x.Zone != "" {
			exifIFD = append(exifIFD, ent{0x9011, 2, uint32(len(x.Zone) + 1), ascii(x.Zone)})
		}
	}
	if x.GPS {
		latRef, lonRef := "N", "E"
		if x.Lat < 0 {
			latRef = "S"
		}
		if x.Lon < 0 {
			lonRef = "W"
		}
		if x.LatRef != "" {
			latRef = x.LatRef
		}
		gpsIFD = []ent{{1, 2, 2, ascii(latRef)}, {2, 5, 3, rational(x.Lat)}, {3, 2, 2, ascii(lonRef)}, {4, 5, 3, rational(x.Lon)}}
	}
	// Sizes are known once the pointers are in IFD0: two passes.
	ptrs := 0
	if exifIFD != nil {
		ptrs++
	}
	if gpsIFD != nil {
		ptrs++
	}
	ifd0Len := len(ifd(ifd0At, append(ifd0, make([]ent, ptrs)...)))
	exifAt := ifd0At + ifd0Len
	exifLen := 0
	if exifIFD != nil {
		exifLen = len(ifd(exifAt, exifIFD))
		ifd0 = append(ifd0, ent{0x8769, 4, 1, le.AppendUint32(nil, uint32(exifAt))})
	}
	gpsAt := exifAt + exifLen
	if gpsIFD != nil {
		ifd0 = append(ifd0, ent{0x8825, 4, 1, le.AppendUint32(nil, uint32(gpsAt))})
	}
	data = append(data, "II"...)
	data = le.AppendUint16(data, 42)
	first := uint32(ifd0At)
	if x.BadIFDOffset {
		first = 1 << 30
	}
	data = le.AppendUint32(data, first)
	data = append(data, ifd(ifd0At, ifd0)...)
	if exifIFD != nil {
		data = append(data, ifd(exifAt, exifIFD)...)
	}
	if gpsIFD != nil {
		data = append(data, ifd(gpsAt, gpsIFD)...)
	}
	return data
}

// Picture is a w × h image, red in its top-left quarter, blue elsewhere.
func Picture(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{0, 0, 255, 255}
			if x < w/2 && y < h/2 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// JPEG is a JPEG of img with an EXIF block (nil: none) and a comment.
func JPEG(img image.Image, exif []byte) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err) // an image in memory always encodes
	}
	b := buf.Bytes()
	var seg []byte
	if exif != nil {
		body := append([]byte("Exif\x00\x00"), exif...)
		seg = append([]byte{0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(body)+2))...)
		seg = append(seg, body...)
	}
	com := []byte("taken by inspector-1")
	seg = append(seg, 0xFF, 0xFE)
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(com)+2))
	seg = append(seg, com...)
	return append(append(append([]byte{}, b[:2]...), seg...), b[2:]...)
}

// pngChunk is a PNG chunk with its CRC.
func pngChunk(typ string, body []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	out = append(out, typ...)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), body...)))
}

// PNG is a PNG of img with an eXIf chunk and a text chunk inserted
// after its header.
func PNG(img image.Image, exif []byte) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // an image in memory always encodes
	}
	b := buf.Bytes()
	ihdrEnd := 8 + 12 + 13
	extra := append(pngChunk("eXIf", exif), pngChunk("tEXt", []byte("Author\x00inspector-1"))...)
	return append(append(append([]byte{}, b[:ihdrEnd]...), extra...), b[ihdrEnd:]...)
}

// webp1x1 is a 1 × 1 lossless WebP.
var webp1x1 = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")

// WebP wraps the 1 × 1 WebP in the extended format with an EXIF chunk.
func WebP(exif []byte) []byte {
	le := binary.LittleEndian
	vp8x := []byte("VP8X")
	vp8x = le.AppendUint32(vp8x, 10)
	vp8x = append(vp8x, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0) // EXIF flag; canvas 1 × 1 (stored minus one)
	exifChunk := le.AppendUint32([]byte("EXIF"), uint32(len(exif)))
	exifChunk = append(exifChunk, exif...)
	if len(exif)%2 == 1 {
		exifChunk = append(exifChunk, 0)
	}
	body := append(append(append([]byte("WEBP"), vp8x...), webp1x1[12:]...), exifChunk...)
	return append(le.AppendUint32([]byte("RIFF"), uint32(len(body))), body...)
}

// HEIC is an HEIC's box structure (no real HEVC data): a 4032 × 3024
// image and an Exif item holding exif.
func HEIC(exif []byte) []byte {
	be := binary.BigEndian
	box := func(typ string, body ...[]byte) []byte {
		b := bytes.Join(body, nil)
		return append(be.AppendUint32(nil, uint32(len(b)+8)), append([]byte(typ), b...)...)
	}
	full := func(version byte) []byte { return []byte{version, 0, 0, 0} }
	ftyp := box("ftyp", []byte("heic"), be.AppendUint32(nil, 0), []byte("mif1heic"))
	infe := box("infe", full(2), be.AppendUint16(nil, 1), be.AppendUint16(nil, 0), []byte("Exif"), []byte{0})
	iinf := box("iinf", full(0), be.AppendUint16(nil, 1), infe)
	ispe := box("ispe", full(0), be.AppendUint32(nil, 4032), be.AppendUint32(nil, 3024))
	iprp := box("iprp", box("ipco", ispe))
	payload := append(be.AppendUint32(nil, 6), append([]byte("Exif\x00\x00"), exif...)...)
	// iloc v0: offset 4, length 4, base 0; one item, one extent.
	ilocBody := func(offset uint32) []byte {
		b := append(full(0), 0x44, 0x00)
		b = be.AppendUint16(b, 1)
		b = be.AppendUint16(b, 1) // item 1
		b = be.AppendUint16(b, 0) // data reference
		b = be.AppendUint16(b, 1) // one extent
		b = be.AppendUint32(b, offset)
		return be.AppendUint32(b, uint32(len(payload)))
	}
	meta := func(offset uint32) []byte {
		return box("meta", full(0), box("hdlr", full(0), make([]byte, 4), []byte("pict"), make([]byte, 13)), iinf, box("iloc", ilocBody(offset)), iprp)
	}
	head := append(ftyp, meta(0)...)
	offset := uint32(len(head) + 8) // mdat's body
	return append(append(ftyp, meta(offset)...), box("mdat", payload)...)
}

// PNGDeclaring is a tiny PNG whose header declares w × h pixels.
func PNGDeclaring(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr)...)
	out = append(out, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(out, pngChunk("IEND", nil)...)
}
