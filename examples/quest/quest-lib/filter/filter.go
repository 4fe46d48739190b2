// Package filter holds the image filters the quest service applies: a local module the app
// reaches through a `replace` directive, standing for the dependency a real service would fetch.
package filter

import (
	"fmt"
	"image"
	"image/color"
	"sort"
)

// Func turns one image into another of the same bounds.
type Func func(image.Image) *image.RGBA

var filters = map[string]Func{
	"gray":   Gray,
	"invert": Invert,
	"blur":   Blur,
}

// Names lists the filters, sorted.
func Names() []string {
	names := make([]string, 0, len(filters))
	for n := range filters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the filter called name.
func Lookup(name string) (Func, error) {
	f, ok := filters[name]
	if !ok {
		return nil, fmt.Errorf("no filter %q (have %v)", name, Names())
	}
	return f, nil
}

func each(src image.Image, f func(r, g, b, a uint8) color.RGBA) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(src.At(x, y)).(color.RGBA)
			dst.SetRGBA(x, y, f(c.R, c.G, c.B, c.A))
		}
	}
	return dst
}

// Gray converts to luminance (ITU-R BT.601 weights).
func Gray(src image.Image) *image.RGBA {
	return each(src, func(r, g, b, a uint8) color.RGBA {
		y := uint8((299*uint32(r) + 587*uint32(g) + 114*uint32(b)) / 1000)
		return color.RGBA{y, y, y, a}
	})
}

// Invert flips every colour channel.
func Invert(src image.Image) *image.RGBA {
	return each(src, func(r, g, b, a uint8) color.RGBA {
		return color.RGBA{255 - r, 255 - g, 255 - b, a}
	})
}

// Blur is a 3x3 box blur.
func Blur(src image.Image) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			var sr, sg, sb, sa, n uint32
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					p := image.Pt(x+dx, y+dy)
					if !p.In(b) {
						continue
					}
					c := color.RGBAModel.Convert(src.At(p.X, p.Y)).(color.RGBA)
					sr, sg, sb, sa, n = sr+uint32(c.R), sg+uint32(c.G), sb+uint32(c.B), sa+uint32(c.A), n+1
				}
			}
			dst.SetRGBA(x, y, color.RGBA{uint8(sr / n), uint8(sg / n), uint8(sb / n), uint8(sa / n)})
		}
	}
	return dst
}
