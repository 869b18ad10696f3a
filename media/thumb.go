package media

import (
	"bytes"
	"image"
	"image/jpeg"

	"golang.org/x/image/draw"
)

// ThumbnailSide is the longer side of a thumbnail, in pixels.
const ThumbnailSide = 320

// Thumbnail decodes an image Inspect took (JPEG, PNG or WebP: not HEIC,
// whose HEVC duban does not decode) and returns it as a JPEG of at most
// ThumbnailSide a side, upright by its EXIF orientation and carrying no
// metadata. A file cut short fails here, refused as Inspect refuses.
func Thumbnail(data []byte, info Info) ([]byte, error) {
	img, err := decode(data, info)
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	scale := min(1, float64(ThumbnailSide)/float64(max(w, h)))
	tw, th := max(1, int(float64(w)*scale+0.5)), max(1, int(float64(h)*scale+0.5))
	// Down to twice the size by the fast approximation, then the last
	// halving by the true bilinear filter: near the quality of the true
	// filter all the way, at a tenth of its cost on a large photo.
	src, sb := img, b
	if w > 4*tw {
		mid := image.NewRGBA(image.Rect(0, 0, 2*tw, 2*th))
		draw.ApproxBiLinear.Scale(mid, mid.Bounds(), img, b, draw.Src, nil)
		src, sb = mid, mid.Bounds()
	}
	small := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.BiLinear.Scale(small, small.Bounds(), src, sb, draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, orient(small, info.Orientation), &jpeg.Options{Quality: 80}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// orient turns an image as EXIF orientation o (1 to 8) says it was taken.
func orient(img *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return img
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			out.SetRGBA(x, y, img.RGBAAt(sx, sy))
		}
	}
	return out
}
