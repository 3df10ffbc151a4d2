package plots

import (
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Grid resolution limits of ClassMap.
const (
	defaultMapCells = 100  // used when n < 1
	maxMapCells     = 1000 // larger n is clamped, bounding calls to class at 10^6
)

// rasterSide is the least number of raster pixels per side of the map.
const rasterSide = 600

// mapWidth is the width of a ClassMap figure (its height is figHeight):
// enough for a square map and its legend.
const mapWidth = 5.5 * vg.Inch

// maxLegendClasses is the number of classes ClassMap names in its
// legend; further classes are summarised in one entry.
const maxLegendClasses = 10

// Point is one labelled sample in the plane.
type Point struct {
	// X and Y locate the sample; ClassMap skips non-finite ones.
	X, Y float64
	// Label is the true class and Pred the predicted one; a point
	// with Pred != Label is drawn as misclassified.
	Label, Pred int
}

// ClassMap draws a classification map over [0,1]^2 and writes it as a
// PNG to path. The square is divided into a grid of n x n cells, each
// coloured by class(x, y) evaluated at the cell centre; a negative class
// (-1: outside, or no output spike) is drawn light grey. A nil class
// leaves the whole map grey. n < 1 selects 100 cells per side, and n is
// clamped to 1000.
//
// The points are scattered on top, coloured by Label; points with
// Pred != Label get a bold black ring and are counted in the legend.
// Classes use a fixed palette of ten colours (light shades for the map,
// full ones for the points), repeated for classes >= 10. The legend,
// right of the map, names the classes that occur. The figure is
// 5.5 x 4 inches.
func ClassMap(path, title string, n int, class func(x, y float64) int, points []Point) error {
	if n < 1 {
		n = defaultMapCells
	}
	n = min(n, maxMapCells)
	p := newPlot(title, "x", "y")
	p.X.Tick.Marker, p.Y.Tick.Marker = unitTicks{}, unitTicks{}

	g := classGrid{n: n, s: max(1, (rasterSide+n-1)/n), z: make([]float64, n*n)}
	var classes []int // distinct classes in the map or among the labels
	noSpike := false
	for r := range n {
		for c := range n {
			k := -1
			if class != nil {
				k = class((float64(c)+0.5)/float64(n), (float64(r)+0.5)/float64(n))
			}
			if k < 0 {
				noSpike = true
				continue // z = 0: the "outside" palette entry
			}
			g.z[r*n+c] = float64(k%10 + 1)
			if !slices.Contains(classes, k) {
				classes = append(classes, k)
			}
		}
	}
	hm := plotter.NewHeatMap(g, classPalette())
	hm.Min, hm.Max = 0, 10
	hm.Rasterized = true
	p.Add(mapLayer{hm})

	var right, wrong plotter.XYs
	var rightLab, wrongLab []int
	for _, pt := range points {
		if !plottable(pt.X) || !plottable(pt.Y) {
			continue
		}
		if !slices.Contains(classes, pt.Label) {
			classes = append(classes, pt.Label)
		}
		if pt.Pred == pt.Label {
			right = append(right, plotter.XY{X: pt.X, Y: pt.Y})
			rightLab = append(rightLab, pt.Label)
		} else {
			wrong = append(wrong, plotter.XY{X: pt.X, Y: pt.Y})
			wrongLab = append(wrongLab, pt.Label)
		}
	}
	okStyle := draw.GlyphStyle{Radius: vg.Points(2.6), Shape: dot{outline: color.Gray{Y: 40}, width: vg.Points(0.5)}}
	badStyle := draw.GlyphStyle{Radius: vg.Points(3.6), Shape: dot{outline: color.Black, width: vg.Points(1.6)}}
	addPoints := func(xys plotter.XYs, labels []int, sty draw.GlyphStyle) {
		if len(xys) == 0 {
			return
		}
		p.Add(&plotter.Scatter{XYs: xys, GlyphStyleFunc: func(i int) draw.GlyphStyle {
			s := sty
			s.Color = classColor(labels[i])
			return s
		}})
	}
	addPoints(right, rightLab, okStyle)
	addPoints(wrong, wrongLab, badStyle) // on top, so errors stay visible

	slices.Sort(classes)
	leg := plot.NewLegend()
	leg.Top, leg.Left = true, true
	leg.TextStyle.Font.Size = vg.Points(10)
	leg.Padding = vg.Points(2)
	for i, k := range classes {
		if i == maxLegendClasses {
			leg.Add("+" + strconv.Itoa(len(classes)-i) + " more classes")
			break
		}
		pt := okStyle
		pt.Color = classColor(k)
		leg.Add("class "+strconv.Itoa(k), swatch{fill: mapColor(k)}, glyphThumb(pt))
	}
	if noSpike {
		leg.Add("no spike", swatch{fill: mapColor(-1), border: color.Gray{Y: 170}})
	}
	if nPts := len(right) + len(wrong); nPts > 0 {
		bad := badStyle
		bad.Color = color.White
		leg.Add("wrong "+strconv.Itoa(len(wrong))+"/"+strconv.Itoa(nPts), glyphThumb(bad))
	}
	// The legend goes right of the map, in a margin that also keeps
	// the map about square.
	side := &sideLegend{legend: leg, gap: vg.Points(12)}
	side.width = leg.Rectangle(draw.Canvas{}).Size().X
	side.margin = max(side.gap+side.width+vg.Points(4), mapWidth-figHeight+vg.Points(20))
	p.Add(side)
	return save(p, mapWidth, figHeight, path, "class map")
}

// mapColor returns the map shade of class k (light grey for k < 0).
func mapColor(k int) color.RGBA {
	if k < 0 {
		return color.RGBA{R: 0xee, G: 0xee, B: 0xee, A: 0xff}
	}
	return lighten(classColor(k), 0.55)
}

// classPaletteColors is the heat-map palette of ClassMap: entry 0 for
// cells outside every class, entry k+1 for class k mod 10.
type classPaletteColors []color.Color

// Colors returns the palette entries, implementing palette.Palette.
func (p classPaletteColors) Colors() []color.Color { return p }

// classPalette returns the eleven map colours.
func classPalette() classPaletteColors {
	p := make(classPaletteColors, 11)
	for i := range p {
		p[i] = mapColor(i - 1)
	}
	return p
}

// classGrid holds the n x n map cells over [0,1]^2, stored row by row
// from the bottom, and presents them to plotter.HeatMap as a grid of
// (n*s) x (n*s) sub-cells. The renderer scales the raster bilinearly;
// with at least rasterSide sub-cells per side that smears only a
// sliver of each cell, so coarse maps keep crisp cell edges.
type classGrid struct {
	n, s int
	z    []float64
}

// Dims returns the number of sub-cell columns and rows, implementing
// plotter.GridXYZ.
func (g classGrid) Dims() (c, r int) { return g.n * g.s, g.n * g.s }

// Z returns the palette index of the cell holding sub-cell (c, r),
// implementing plotter.GridXYZ.
func (g classGrid) Z(c, r int) float64 { return g.z[(r/g.s)*g.n+c/g.s] }

// X returns the centre of sub-cell column c, implementing plotter.GridXYZ.
func (g classGrid) X(c int) float64 { return (float64(c) + 0.5) / float64(g.n*g.s) }

// Y returns the centre of sub-cell row r, implementing plotter.GridXYZ.
func (g classGrid) Y(r int) float64 { return (float64(r) + 0.5) / float64(g.n*g.s) }

// mapLayer draws a heat map without reporting one glyph box per cell,
// which would only slow down layout.
type mapLayer struct{ h *plotter.HeatMap }

// Plot draws the map, implementing plot.Plotter.
func (m mapLayer) Plot(c draw.Canvas, p *plot.Plot) { m.h.Plot(c, p) }

// DataRange returns the extent of the map, implementing plot.DataRanger.
func (m mapLayer) DataRange() (xmin, xmax, ymin, ymax float64) { return m.h.DataRange() }

// sideLegend draws a legend right of the data area. Its glyph box
// makes the plot leave a margin for it.
type sideLegend struct {
	legend plot.Legend
	gap    vg.Length // between the data area and the legend
	width  vg.Length // of the legend
	margin vg.Length // right of the data area, at least gap + width
}

// Plot draws the legend next to the data area c, implementing
// plot.Plotter.
func (s *sideLegend) Plot(c draw.Canvas, _ *plot.Plot) {
	x := c.Max.X + s.gap
	s.legend.Draw(draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: x, Y: c.Min.Y},
		Max: vg.Point{X: x + s.width, Y: c.Max.Y},
	}})
}

// GlyphBoxes returns one box of the margin's width at the right edge
// of the data area, implementing plot.GlyphBoxer.
func (s *sideLegend) GlyphBoxes(*plot.Plot) []plot.GlyphBox {
	return []plot.GlyphBox{{X: 1, Y: 0.5, Rectangle: vg.Rectangle{Max: vg.Point{X: s.margin}}}}
}

// dot is a filled circle in the glyph colour with an outline.
type dot struct {
	outline color.Color
	width   vg.Length
}

// DrawGlyph draws the dot, implementing draw.GlyphDrawer.
func (d dot) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	var path vg.Path
	path.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	path.Arc(pt, sty.Radius, 0, 2*math.Pi)
	path.Close()
	c.SetColor(sty.Color)
	c.Fill(path)
	c.SetLineStyle(draw.LineStyle{Color: d.outline, Width: d.width})
	c.Stroke(path)
}

// glyphThumb is a legend thumbnail showing one glyph.
type glyphThumb draw.GlyphStyle

// Thumbnail draws the glyph at the centre of c, implementing plot.Thumbnailer.
func (g glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(draw.GlyphStyle(g), c.Center())
}

// unitTicks labels 0, 0.25, ..., 1 when the axis is about [0,1], and
// falls back to plot.DefaultTicks when points widen it.
type unitTicks struct{}

// Ticks returns the ticks for [lo, hi], implementing plot.Ticker.
func (unitTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo < -0.05 || hi > 1.05 {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	var ticks []plot.Tick
	for i := range 9 {
		v := float64(i) / 8
		if v < lo-1e-9 || v > hi+1e-9 { // the map's range has rounding error
			continue
		}
		t := plot.Tick{Value: v}
		if i%2 == 0 {
			t.Label = strconv.FormatFloat(v, 'g', -1, 64)
		}
		ticks = append(ticks, t)
	}
	return ticks
}
