package media

import (
	"encoding/binary"
	"errors"
	"slices"
)

// HEIC (HEIF with HEVC images, what iPhones take) is an ISO base media
// file: boxes of (size, type, body). duban reads its size from the image
// spatial extents ('ispe') and its EXIF from the item of type 'Exif'; it
// does not decode HEVC, so it makes no thumbnail of one.

var heifBrands = []string{"heic", "heix", "heim", "heis", "hevc", "hevx"}

// heifBrand reports whether the 'ftyp' box names an HEVC-coded HEIF.
func heifBrand(data []byte) bool {
	size := int(binary.BigEndian.Uint32(data))
	if size < 16 || size > len(data) || size%4 != 0 {
		return false
	}
	for i := 8; i+4 <= size; i += 4 {
		if i == 12 {
			continue // the minor version
		}
		if slices.Contains(heifBrands, string(data[i:i+4])) {
			return true
		}
	}
	return false
}

// box is an ISO BMFF box: its type and body.
type box struct {
	typ  string
	body []byte
}

// boxes splits data into boxes, which must fill it exactly.
func boxes(data []byte) ([]box, error) {
	var out []box
	for i := 0; i < len(data); {
		if i+8 > len(data) {
			return nil, errors.New("a box is cut short")
		}
		size := uint64(binary.BigEndian.Uint32(data[i:]))
		head := uint64(8)
		switch size {
		case 0:
			size = uint64(len(data) - i) // to the end
		case 1:
			if i+16 > len(data) {
				return nil, errors.New("a box is cut short")
			}
			size, head = binary.BigEndian.Uint64(data[i+8:]), 16
		}
		if size < head || size > uint64(len(data)-i) {
			return nil, errors.New("a box runs past the end of the file")
		}
		out = append(out, box{typ: string(data[i+4 : i+8]), body: data[uint64(i)+head : uint64(i)+size]})
		i += int(size)
	}
	return out, nil
}

func find(bs []box, typ string) (box, bool) {
	for _, b := range bs {
		if b.typ == typ {
			return b, true
		}
	}
	return box{}, false
}

// heic reads an HEIC's pixel size and its EXIF block (nil when none).
func heic(data []byte) (w, h int, exif []byte, err error) {
	top, err := boxes(data)
	if err != nil {
		return 0, 0, nil, refuse("the HEIC's structure is broken (cut short?): %v", err)
	}
	meta, ok := find(top, "meta")
	if !ok || len(meta.body) < 4 {
		return 0, 0, nil, refuse("the HEIC has no metadata box")
	}
	inner, err := boxes(meta.body[4:])
	if err != nil {
		return 0, 0, nil, refuse("the HEIC's metadata is broken: %v", err)
	}
	// The size: the largest image spatial extent (a grid's tiles are smaller).
	if iprp, ok := find(inner, "iprp"); ok {
		props, err := boxes(iprp.body)
		if err != nil {
			return 0, 0, nil, refuse("the HEIC's properties are broken: %v", err)
		}
		if ipco, ok := find(props, "ipco"); ok {
			items, err := boxes(ipco.body)
			if err != nil {
				return 0, 0, nil, refuse("the HEIC's properties are broken: %v", err)
			}
			for _, b := range items {
				if b.typ == "ispe" && len(b.body) >= 12 {
					iw, ih := int(binary.BigEndian.Uint32(b.body[4:])), int(binary.BigEndian.Uint32(b.body[8:]))
					if int64(iw)*int64(ih) > int64(w)*int64(h) {
						w, h = iw, ih
					}
				}
			}
		}
	}
	id, ok, err := exifItem(inner)
	if err != nil || !ok {
		return w, h, nil, err
	}
	exif, err = itemData(inner, id, data)
	if err != nil {
		return 0, 0, nil, refuse("the HEIC's EXIF is malformed: %v", err)
	}
	// An Exif item starts with the offset of its TIFF header.
	if len(exif) < 4 || uint64(binary.BigEndian.Uint32(exif))+4 > uint64(len(exif)) {
		return 0, 0, nil, refuse("the HEIC's EXIF is malformed: a bad header offset")
	}
	return w, h, exif[4+binary.BigEndian.Uint32(exif):], nil
}

// exifItem finds the id of the item of type 'Exif' in the item info box.
func exifItem(meta []box) (uint32, bool, error) {
	iinf, ok := find(meta, "iinf")
	if !ok || len(iinf.body) < 6 {
		return 0, false, nil
	}
	skip := 6 // version, flags, entry count (16 bits)
	if iinf.body[0] > 0 {
		skip = 8
	}
	if skip > len(iinf.body) {
		return 0, false, refuse("the HEIC's item list is broken")
	}
	infes, err := boxes(iinf.body[skip:])
	if err != nil {
		return 0, false, refuse("the HEIC's item list is broken: %v", err)
	}
	for _, b := range infes {
		if b.typ != "infe" || len(b.body) < 4 || b.body[0] < 2 {
			continue
		}
		var id uint32
		var typ []byte
		switch {
		case b.body[0] == 2 && len(b.body) >= 12:
			id, typ = uint32(binary.BigEndian.Uint16(b.body[4:])), b.body[8:12]
		case b.body[0] >= 3 && len(b.body) >= 14:
			id, typ = binary.BigEndian.Uint32(b.body[4:]), b.body[10:14]
		default:
			continue
		}
		if string(typ) == "Exif" {
			return id, true, nil
		}
	}
	return 0, false, nil
}

// itemData returns the bytes of item id, by the item location box: its
// first extent, in the file (construction method 0).
func itemData(meta []box, id uint32, file []byte) ([]byte, error) {
	iloc, ok := find(meta, "iloc")
	if !ok || len(iloc.body) < 8 {
		return nil, errors.New("no item locations")
	}
	b := iloc.body
	version := b[0]
	offSize, lenSize, baseSize := int(b[4]>>4), int(b[4]&15), int(b[5]>>4)
	idxSize := 0
	if version == 1 || version == 2 {
		idxSize = int(b[5] & 15)
	}
	r := reader{b: b, at: 6}
	count := r.n(2)
	if version == 2 {
		count = r.n(4)
	}
	for range count {
		if r.err != nil {
			return nil, r.err
		}
		itemID := r.n(2)
		if version == 2 {
			itemID = r.n(4)
		}
		method := uint64(0)
		if version == 1 || version == 2 {
			method = r.n(2) & 15
		}
		r.n(2) // data reference index
		base := r.n(baseSize)
		extents := r.n(2)
		for e := range extents {
			r.n(idxSize)
			off, n := r.n(offSize), r.n(lenSize)
			if r.err != nil {
				return nil, r.err
			}
			if uint32(itemID) != id || e > 0 {
				continue
			}
			if method != 0 {
				return nil, errors.New("EXIF stored other than in the file")
			}
			start := base + off
			if start < base || n > uint64(len(file)) || start > uint64(len(file))-n {
				return nil, errors.New("the EXIF's place is outside the file")
			}
			return file[start : start+n], nil
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return nil, errors.New("the EXIF item has no location")
}

// reader reads big-endian numbers of 0, 2, 4 or 8 bytes, remembering the
// first read past the end.
type reader struct {
	b   []byte
	at  int
	err error
}

func (r *reader) n(size int) uint64 {
	if r.err != nil {
		return 0
	}
	if size != 0 && size != 2 && size != 4 && size != 8 || r.at+size > len(r.b) {
		r.err = errors.New("the item locations are cut short or malformed")
		return 0
	}
	var v uint64
	for _, c := range r.b[r.at : r.at+size] {
		v = v<<8 | uint64(c)
	}
	r.at += size
	return v
}
