// Package plots writes PNG figures of training runs: loss curves,
// histograms of spike times or weights, and classification maps of
// two-dimensional tasks.
//
// Figures are 6 x 4 inches (class maps 5.5 x 4), rendered with
// gonum.org/v1/plot at its default PNG resolution of 96 dpi (576 x 384
// pixels; class maps 528 x 384), and written atomically through
// internal/atomicfile, so a reader never sees a partial file. Non-finite input values (NaN, ±Inf, and magnitudes above
// 1e300, whose ranges would overflow the axis arithmetic) are skipped
// rather than reported as errors, and empty input still yields a valid
// figure.
package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/delgrad-go/delgrad/internal/atomicfile"
)

// Size of the line and histogram figures.
const (
	figWidth  = 6 * vg.Inch
	figHeight = 4 * vg.Inch
)

// defaultBins is the number of histogram bins used when Histograms is
// asked for fewer than one.
const defaultBins = 20

// Series is one named line or histogram.
type Series struct {
	// Name labels the series in the legend.
	Name string
	// X and Y are the coordinates of a line; a histogram uses only Y,
	// as its values. For a line with empty X, Y[i] is drawn at x = i;
	// otherwise only the first min(len(X), len(Y)) points are drawn.
	X, Y []float64
}

// Lines draws curves (e.g. train/validation loss per epoch) with a
// legend and writes them as a PNG to path. logY puts Y on a log scale;
// points with Y <= 0 are then skipped, as are non-finite points always.
// If no point at all is positive, the Y axis stays linear. A series
// with no drawable point is listed in the legend as "(no data)". The
// legend goes into the corner of the plot that the curves cover least.
func Lines(path, title, xlabel, ylabel string, logY bool, series ...Series) error {
	p := newPlot(title, xlabel, ylabel)
	p.Add(newGrid())

	curves := make([]curve, len(series))
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		n := len(s.Y)
		if len(s.X) > 0 {
			n = min(n, len(s.X))
		}
		xys := make(plotter.XYs, 0, n)
		for j := range n {
			x := float64(j)
			if len(s.X) > 0 {
				x = s.X[j]
			}
			y := s.Y[j]
			if !plottable(x) || !plottable(y) || (logY && y <= 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
			ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
		}
		curves[i] = curve{name: s.Name, xys: xys}
	}
	haveData := ymin <= ymax
	if logY && haveData {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}

	for i, c := range curves {
		col := classColor(i)
		if len(c.xys) == 0 {
			p.Legend.Add(c.name+" (no data)", swatch{fill: color.Transparent, border: col})
			continue
		}
		l := &plotter.Line{XYs: c.xys, LineStyle: draw.LineStyle{
			Color:  col,
			Width:  vg.Points(1.5),
			Dashes: dashes(i),
		}}
		p.Add(l)
		thumbs := []plot.Thumbnailer{l}
		// Markers keep short curves (and single points) visible.
		if len(c.xys) <= 40 {
			sc := &plotter.Scatter{XYs: c.xys, GlyphStyle: draw.GlyphStyle{
				Color:  col,
				Radius: vg.Points(2.2),
				Shape:  draw.CircleGlyph{},
			}}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		p.Legend.Add(c.name, thumbs...)
	}

	if logY && haveData {
		// Set the range explicitly: the log scale must never see a
		// bound <= 0, which the default sanitizing could produce.
		if ymin == ymax {
			ymin, ymax = ymin/2, ymax*2
		}
		p.Y.Min, p.Y.Max = ymin, ymax
	}
	if !haveData {
		p.Title.Text = appendNote(title, "no data")
	} else {
		placeLegend(p, lineSamples(curvesXYs(curves), logY))
	}
	return save(p, figWidth, figHeight, path, "line plot")
}

// curve is the drawable part of one line series.
type curve struct {
	name string
	xys  plotter.XYs
}

// curvesXYs returns the points of each curve.
func curvesXYs(cs []curve) []plotter.XYs {
	out := make([]plotter.XYs, len(cs))
	for i, c := range cs {
		out[i] = c.xys
	}
	return out
}

// Histograms draws one histogram per series, all with the same bins
// equal-width bins spanning the finite values of all series, overlaid
// with transparency, with a legend, and writes them as a PNG to path.
// Typical uses are output spike times per class or weights per layer.
// Non-finite values are dropped and counted; the title says how many
// were dropped, if any. bins < 1 selects a default of 20. The legend
// goes into the corner of the plot that the bars cover least.
func Histograms(path, title, xlabel string, bins int, series ...Series) error {
	if bins < 1 {
		bins = defaultBins
	}
	p := newPlot(title, xlabel, "count")
	p.Add(newGrid())

	hs, dropped := binSeries(bins, series)
	total := 0
	for i, h := range hs {
		col := classColor(i)
		if h == nil {
			p.Legend.Add(series[i].Name+" (no data)", swatch{fill: color.Transparent, border: col})
			continue
		}
		total++
		// Empty bins would draw as a flat line along the axis.
		h.Bins = slices.DeleteFunc(h.Bins, func(b plotter.HistogramBin) bool { return b.Weight == 0 })
		h.FillColor = withAlpha(col, 0x50)
		h.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1)}
		p.Add(h)
		p.Legend.Add(series[i].Name, h)
	}

	placeLegend(p, histSamples(hs))
	switch {
	case total == 0 && dropped > 0:
		p.Title.Text = appendNote(title, "no finite data, "+droppedNote(dropped))
	case total == 0:
		p.Title.Text = appendNote(title, "no data")
	case dropped > 0:
		p.Title.Text = appendNote(title, droppedNote(dropped))
	}
	return save(p, figWidth, figHeight, path, "histogram")
}

// binSeries counts the finite values of each series into bins common
// equal-width bins spanning all of them. A series without finite values
// gets a nil histogram. dropped is the number of non-finite values.
func binSeries(bins int, series []Series) (hs []*plotter.Histogram, dropped int) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, v := range s.Y {
			if !plottable(v) {
				dropped++
				continue
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	hs = make([]*plotter.Histogram, len(series))
	if lo > hi {
		return hs, dropped
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	// Scale before subtracting so that extreme ranges do not overflow.
	w := hi/float64(bins) - lo/float64(bins)
	edge := func(i int) float64 {
		if i == bins {
			return hi
		}
		return lo + float64(i)*w
	}
	for si, s := range series {
		var hb []plotter.HistogramBin
		for _, v := range s.Y {
			if !plottable(v) {
				continue
			}
			if hb == nil {
				hb = make([]plotter.HistogramBin, bins)
				for i := range hb {
					hb[i].Min, hb[i].Max = edge(i), edge(i+1)
				}
			}
			k := int(v/w - lo/w)
			k = max(0, min(bins-1, k)) // v == hi and rounding land at the ends
			hb[k].Weight++
		}
		if hb != nil {
			hs[si] = &plotter.Histogram{Bins: hb, Width: w}
		}
	}
	return hs, dropped
}

// unitPoint is a position in the data area scaled to [0,1]^2.
type unitPoint struct{ x, y float64 }

// unitScale returns a function mapping [lo, hi] linearly (or, if log,
// logarithmically) onto [0,1]; a degenerate range maps to 0.5.
func unitScale(lo, hi float64, log bool) func(float64) float64 {
	if log {
		lo, hi = math.Log(lo), math.Log(hi)
	}
	return func(v float64) float64 {
		if log {
			v = math.Log(v)
		}
		if !(hi > lo) {
			return 0.5
		}
		return (v - lo) / (hi - lo)
	}
}

// lineSamples returns points along the curves, scaled to [0,1]^2 the
// way the axes will show them, for placing the legend.
func lineSamples(curves []plotter.XYs, logY bool) []unitPoint {
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, xys := range curves {
		for _, q := range xys {
			xmin, xmax = math.Min(xmin, q.X), math.Max(xmax, q.X)
			ymin, ymax = math.Min(ymin, q.Y), math.Max(ymax, q.Y)
		}
	}
	sx, sy := unitScale(xmin, xmax, false), unitScale(ymin, ymax, logY)
	var out []unitPoint
	for _, xys := range curves {
		for i, q := range xys {
			b := unitPoint{sx(q.X), sy(q.Y)}
			if i == 0 {
				out = append(out, b)
				continue
			}
			a := out[len(out)-1]
			for k := 1; k <= 8; k++ {
				t := float64(k) / 8
				out = append(out, unitPoint{a.x + t*(b.x-a.x), a.y + t*(b.y-a.y)})
			}
		}
	}
	return out
}

// histSamples returns points covering the histogram bars, scaled to
// [0,1]^2 the way the axes will show them, for placing the legend.
func histSamples(hs []*plotter.Histogram) []unitPoint {
	xmin, xmax, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, h := range hs {
		if h == nil {
			continue
		}
		for _, b := range h.Bins {
			xmin, xmax = math.Min(xmin, b.Min), math.Max(xmax, b.Max)
			ymax = math.Max(ymax, b.Weight)
		}
	}
	sx, sy := unitScale(xmin, xmax, false), unitScale(0, ymax, false)
	var out []unitPoint
	for _, h := range hs {
		if h == nil {
			continue
		}
		for _, b := range h.Bins {
			for _, x := range [...]float64{b.Min, (b.Min + b.Max) / 2, b.Max} {
				for k := range 9 {
					out = append(out, unitPoint{sx(x), sy(b.Weight * float64(k) / 8)})
				}
			}
		}
	}
	return out
}

// placeLegend puts the legend of p into the corner of the data area
// that covers fewest of pts, preferring top right, then top left,
// bottom right and bottom left. The legend's extent is estimated from
// its text and the figure size.
func placeLegend(p *plot.Plot, pts []unitPoint) {
	size := p.Legend.Rectangle(draw.Canvas{}).Size()
	bw := float64((size.X + vg.Points(10)) / (figWidth - vg.Points(70)))
	bh := float64((size.Y + vg.Points(8)) / (figHeight - vg.Points(75)))
	corners := [...]struct{ top, left bool }{{true, false}, {true, true}, {false, false}, {false, true}}
	best, bestN := 0, -1
	for i, c := range corners {
		n := 0
		for _, q := range pts {
			inX := (c.left && q.x <= bw) || (!c.left && q.x >= 1-bw)
			inY := (c.top && q.y >= 1-bh) || (!c.top && q.y <= bh)
			if inX && inY {
				n++
			}
		}
		if bestN < 0 || n < bestN {
			best, bestN = i, n
		}
	}
	c := corners[best]
	p.Legend.Top, p.Legend.Left = c.top, c.left
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(4), -vg.Points(2)
	if c.left {
		p.Legend.XOffs = vg.Points(8)
	}
	if !c.top {
		p.Legend.YOffs = vg.Points(4)
	}
}

// droppedNote describes n dropped non-finite values.
func droppedNote(n int) string {
	if n == 1 {
		return "1 non-finite value dropped"
	}
	return strconv.Itoa(n) + " non-finite values dropped"
}

// appendNote returns title followed by note in parentheses.
func appendNote(title, note string) string {
	if title == "" {
		return "(" + note + ")"
	}
	return title + " (" + note + ")"
}

// newPlot returns a plot with the given title and axis labels and the
// legend in the top right corner of the data area.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.Padding = vg.Points(2)
	p.Legend.XOffs = -vg.Points(4)
	p.Legend.YOffs = -vg.Points(2)
	return p
}

// New returns an empty figure in this package's style, for figures it
// does not draw itself (a sweep's report): the title, axis labels, the
// legend at the top right and light grid lines at the major ticks. Add
// the data, then write it with Save.
func New(title, xlabel, ylabel string) *plot.Plot {
	p := newPlot(title, xlabel, ylabel)
	p.Add(newGrid())
	return p
}

// Save renders p as a w x h PNG and writes it atomically to path; a panic
// inside the plotting library is an error.
func Save(p *plot.Plot, w, h vg.Length, path string) error {
	return save(p, w, h, path, "figure")
}

// newGrid returns light background grid lines at the major ticks.
func newGrid() *plotter.Grid {
	g := plotter.NewGrid()
	st := draw.LineStyle{Color: color.Gray{Y: 225}, Width: vg.Points(0.5)}
	g.Vertical, g.Horizontal = st, st
	return g
}

// save renders p as a w x h PNG and writes it atomically to path.
func save(p *plot.Plot, w, h vg.Length, path, kind string) error {
	wt, err := render(p, w, h)
	if err != nil {
		return fmt.Errorf("plots: rendering %s %s: %w", kind, path, err)
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("plots: writing %s %s: %w", kind, path, err)
	}
	return nil
}

// render draws p into an in-memory PNG canvas. A panic inside the
// plotting library (a degenerate range it did not expect) is turned
// into an error rather than crashing a training run.
func render(p *plot.Plot, w, h vg.Length) (wt io.WriterTo, err error) {
	defer func() {
		if r := recover(); r != nil {
			wt, err = nil, fmt.Errorf("drawing failed: %v", r)
		}
	}()
	return p.WriterTo(w, h, "png")
}

// maxAbs bounds the magnitude of plotted values. Beyond it the span of
// an axis can overflow to +Inf, on which gonum/plot's tick placement
// never terminates.
const maxAbs = 1e300

// plottable reports whether v is drawn: not NaN and |v| <= 1e300, which
// excludes ±Inf. Other values count as non-finite throughout.
func plottable(v float64) bool { return math.Abs(v) <= maxAbs }

// classColor returns the fixed colour of series or class k: ten
// distinct hues, repeated for k >= 10. Negative k gives grey.
func classColor(k int) color.RGBA {
	pal := [...]color.RGBA{
		{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
		{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
		{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
		{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
		{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
		{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
		{R: 0xe3, G: 0x77, B: 0xc2, A: 0xff}, // pink
		{R: 0x39, G: 0x3b, B: 0x79, A: 0xff}, // navy
		{R: 0xbc, G: 0xbd, B: 0x22, A: 0xff}, // olive
		{R: 0x17, G: 0xbe, B: 0xcf, A: 0xff}, // cyan
	}
	if k < 0 {
		return color.RGBA{R: 0x80, G: 0x80, B: 0x80, A: 0xff}
	}
	return pal[k%len(pal)]
}

// dashes returns the dash pattern of series i: solid for the first ten
// series, so that colours repeat only with a different pattern.
func dashes(i int) []vg.Length {
	switch (i / 10) % 3 {
	case 1:
		return []vg.Length{vg.Points(5), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(1.5), vg.Points(2)}
	}
	return nil
}

// withAlpha returns c with alpha a, premultiplied as color.RGBA needs.
func withAlpha(c color.RGBA, a uint8) color.RGBA {
	f := func(v uint8) uint8 { return uint8(uint32(v) * uint32(a) / 0xff) }
	return color.RGBA{R: f(c.R), G: f(c.G), B: f(c.B), A: a}
}

// lighten blends c towards white; t = 0 keeps c, t = 1 gives white.
func lighten(c color.RGBA, t float64) color.RGBA {
	f := func(v uint8) uint8 { return uint8(math.Round(float64(v) + (255-float64(v))*t)) }
	return color.RGBA{R: f(c.R), G: f(c.G), B: f(c.B), A: 0xff}
}

// swatch is a legend thumbnail: a filled, outlined square.
type swatch struct {
	fill, border color.Color
}

// Thumbnail draws the swatch into c, implementing plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	h := c.Max.Y - c.Min.Y
	cx := (c.Min.X + c.Max.X) / 2
	half := h / 2
	pts := []vg.Point{
		{X: cx - half, Y: c.Min.Y}, {X: cx + half, Y: c.Min.Y},
		{X: cx + half, Y: c.Max.Y}, {X: cx - half, Y: c.Max.Y},
	}
	if s.fill != nil {
		c.FillPolygon(s.fill, pts)
	}
	if s.border != nil {
		c.StrokeLines(draw.LineStyle{Color: s.border, Width: vg.Points(0.75)}, append(pts, pts[0]))
	}
}

// logTicks places ticks on a log axis: labelled powers of ten, or
// 1-2-5 steps when the range holds fewer than two powers, or linear
// ticks when even those are too sparse.
type logTicks struct{}

// Ticks returns the ticks for [lo, hi], implementing plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi >= lo) || !plottable(lo) || !plottable(hi) {
		return nil
	}
	e0 := int(math.Floor(math.Log10(lo)))
	e1 := int(math.Ceil(math.Log10(hi)))
	step := max(1, (e1-e0+5)/6) // at most about six labelled decades
	inRange := func(v float64) bool { return v >= lo*(1-1e-9) && v <= hi*(1+1e-9) }
	val := func(m, e int) float64 {
		v, _ := strconv.ParseFloat(strconv.Itoa(m)+"e"+strconv.Itoa(e), 64)
		return v
	}
	for _, labelled := range [][]int{{1}, {1, 2, 5}} {
		var ticks []plot.Tick
		n := 0
		for e := e0; e <= e1; e++ {
			for m := 1; m <= 9; m++ {
				v := val(m, e)
				if !inRange(v) {
					continue
				}
				t := plot.Tick{Value: v}
				if slices.Contains(labelled, m) && (m != 1 || (e-e0)%step == 0) {
					t.Label = strconv.FormatFloat(v, 'g', -1, 64)
					n++
				}
				ticks = append(ticks, t)
			}
		}
		if n >= 2 {
			return ticks
		}
	}
	return plot.DefaultTicks{}.Ticks(lo, hi)
}
