package media

import (
	"encoding/binary"
	"slices"
	"strings"
)

// Strip returns data without what says where and when it was taken, or
// by what: a JPEG without its EXIF, XMP, IPTC and comments (its colour
// profile kept), a PNG without eXIf and text chunks, a WebP without EXIF
// and XMP. A PDF is returned as it is. An HEIC, whose metadata is woven
// into its item tables, cannot be stripped here: ok is false.
func Strip(kind string, data []byte) (out []byte, ok bool, err error) {
	switch kind {
	case PDF:
		return data, true, nil
	case JPEG:
		out = append(out, data[:2]...)
	case PNG:
		out = append(out, data[:8]...)
	case WebP:
		out = append(out, data[:12]...)
	default:
		return nil, false, nil
	}
	err = walk(kind, data, func(name string, body, raw []byte) bool {
		switch kind {
		case JPEG:
			if name == "COM" || (strings.HasPrefix(name, "APP") && !slices.Contains([]string{"APP0", "APP2", "APP14"}, name)) {
				return true
			}
		case PNG:
			if slices.Contains([]string{"eXIf", "tEXt", "zTXt", "iTXt", "tIME"}, name) {
				return true
			}
		case WebP:
			switch name {
			case "EXIF", "XMP ":
				return true
			case "VP8X":
				if len(raw) > 8 {
					raw = slices.Clone(raw)
					raw[8] &^= 0x08 | 0x04 // the EXIF and XMP flags
				}
			}
		}
		out = append(out, raw...)
		return true
	})
	if err != nil {
		return nil, false, err
	}
	if kind == WebP {
		binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	}
	return out, true, nil
}
