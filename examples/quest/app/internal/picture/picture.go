// Package picture makes the input image the filters run on, so the service needs no files.
package picture

import (
	"image"
	"image/color"
)

// Gradient is a w×h picture: red across, green down, blue on the diagonal.
func Gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(255 * x / w), uint8(255 * y / h), uint8(255 * (x + y) / (w + h)), 255})
		}
	}
	return img
}
