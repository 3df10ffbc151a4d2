package plots

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"
)

var (
	nan  = math.NaN()
	pinf = math.Inf(1)
	ninf = math.Inf(-1)
)

// Pixel sizes of 6 x 4 and 5.5 x 4 inch figures at gonum/plot's default
// 96 dpi.
const (
	wantW, wantH = 576, 384
	wantMapW     = 528
)

// checkPNG asserts that path holds a decodable, non-blank PNG of
// wantW x wantH pixels and no temporary file is left beside it.
func checkPNG(t *testing.T, path string, wantW, wantH int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
		t.Fatalf("%s is %dx%d, want %dx%d", path, b.Dx(), b.Dy(), wantW, wantH)
	}
	if countColors(img, 3) < 3 {
		t.Fatalf("%s looks blank", path)
	}
	// No temporary files may be left next to the figure.
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("leftover temporary file %s", e.Name())
		}
	}
}

// countColors returns the number of distinct colours in img, stopping
// once it reaches limit.
func countColors(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

func epochs(n int, f func(i float64) float64) Series {
	s := Series{X: make([]float64, n), Y: make([]float64, n)}
	for i := range n {
		s.X[i] = float64(i + 1)
		s.Y[i] = f(float64(i + 1))
	}
	return s
}

func TestLines(t *testing.T) {
	train := epochs(30, func(e float64) float64 { return 2 * math.Exp(-e/6) })
	train.Name = "train"
	val := epochs(30, func(e float64) float64 { return 2*math.Exp(-e/7) + 0.05 })
	val.Name = "validation"
	cases := []struct {
		name   string
		logY   bool
		series []Series
	}{
		{"two curves", false, []Series{train, val}},
		{"two curves log", true, []Series{train, val}},
		{"no series", false, nil},
		{"no series log", true, nil},
		{"empty series", false, []Series{{Name: "empty"}, train}},
		{"non-finite", false, []Series{{Name: "bad", X: []float64{1, 2, 3, 4, nan}, Y: []float64{nan, 1, pinf, ninf, 2}}}},
		{"all non-finite", true, []Series{{Name: "bad", X: []float64{1, 2}, Y: []float64{nan, pinf}}}},
		{"log non-positive", true, []Series{{Name: "neg", Y: []float64{0, -1, -2}}}},
		{"log single point", true, []Series{{Name: "one", Y: []float64{0.3}}}},
		{"log narrow range", true, []Series{{Name: "narrow", Y: []float64{0.31, 0.33, 0.39}}}},
		{"log huge range", true, []Series{{Name: "huge", Y: []float64{1e-300, 1, 1e300}}}},
		{"extreme values", false, []Series{{Name: "ext", X: []float64{-math.MaxFloat64, math.MaxFloat64}, Y: []float64{math.MaxFloat64, -math.MaxFloat64}}}},
		{"large values", false, []Series{{Name: "large", X: []float64{-1e300, 1e300}, Y: []float64{1e300, -1e300}}}},
		{"log tiny values", true, []Series{{Name: "tiny", Y: []float64{5e-324, 1e-300, 1e300}}}},
		{"index X and ragged", false, []Series{{Name: "noX", Y: []float64{3, 2, 1}}, {Name: "ragged", X: []float64{0, 1, 2, 3}, Y: []float64{1, 2}}}},
		{"many series", false, func() []Series {
			var ss []Series
			for i := range 23 {
				s := epochs(5, func(e float64) float64 { return e + float64(i) })
				s.Name = "s"
				ss = append(ss, s)
			}
			return ss
		}()},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "lines"+string(rune('a'+i))+".png")
			if err := Lines(path, "loss", "epoch", "loss", tc.logY, tc.series...); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, path, wantW, wantH)
		})
	}
}

func TestHistograms(t *testing.T) {
	mk := func(name string, n int, mu float64) Series {
		s := Series{Name: name, Y: make([]float64, n)}
		for i := range n {
			// Deterministic bell-ish spread around mu.
			u := (float64(i) + 0.5) / float64(n)
			s.Y[i] = mu + 0.8*math.Tan(math.Pi*(u-0.5)*0.8)
		}
		return s
	}
	cases := []struct {
		name        string
		bins        int
		series      []Series
		wantDropped int
	}{
		{"three classes", 30, []Series{mk("class 0", 200, 3), mk("class 1", 200, 5), mk("class 2", 100, 6)}, 0},
		{"no series", 10, nil, 0},
		{"empty series", 10, []Series{{Name: "empty"}, mk("full", 50, 1)}, 0},
		{"non-finite", 10, []Series{{Name: "bad", Y: []float64{nan, 1, 2, pinf, ninf, 2}}}, 3},
		{"all non-finite", 10, []Series{{Name: "bad", Y: []float64{nan, pinf}}}, 2},
		{"zero bins", 0, []Series{mk("a", 40, 0)}, 0},
		{"one bin", 1, []Series{mk("a", 40, 0)}, 0},
		{"constant", 10, []Series{{Name: "c", Y: []float64{4, 4, 4}}}, 0},
		{"extreme values", 10, []Series{{Name: "ext", Y: []float64{-math.MaxFloat64, 0, math.MaxFloat64}}}, 2},
		{"large values", 10, []Series{{Name: "large", Y: []float64{-1e300, 0, 1e300}}, {Name: "tiny", Y: []float64{5e-324}}}, 0},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bins := tc.bins
			if bins < 1 {
				bins = defaultBins
			}
			hs, dropped := binSeries(bins, tc.series)
			if dropped != tc.wantDropped {
				t.Errorf("dropped %d, want %d", dropped, tc.wantDropped)
			}
			for si, h := range hs {
				finiteN := 0
				for _, v := range tc.series[si].Y {
					if plottable(v) {
						finiteN++
					}
				}
				if h == nil {
					if finiteN > 0 {
						t.Errorf("series %d: no histogram for %d values", si, finiteN)
					}
					continue
				}
				if len(h.Bins) != bins {
					t.Errorf("series %d: %d bins, want %d", si, len(h.Bins), bins)
				}
				sum := 0.0
				for _, b := range h.Bins {
					sum += b.Weight
				}
				if int(sum) != finiteN {
					t.Errorf("series %d: counted %v values, want %d", si, sum, finiteN)
				}
			}
			path := filepath.Join(dir, "hist"+string(rune('a'+i))+".png")
			if err := Histograms(path, "output spike times", "t (ms)", tc.bins, tc.series...); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, path, wantW, wantH)
		})
	}
}

func TestClassMap(t *testing.T) {
	circle := func(x, y float64) int {
		switch d := math.Hypot(x-0.5, y-0.5); {
		case d < 0.25:
			return 0
		case d < 0.45:
			return 1
		}
		return -1
	}
	pts := []Point{
		{X: 0.5, Y: 0.5, Label: 0, Pred: 0},
		{X: 0.8, Y: 0.5, Label: 1, Pred: 1},
		{X: 0.55, Y: 0.45, Label: 1, Pred: 0},
		{X: 0.05, Y: 0.05, Label: 1, Pred: -1},
	}
	cases := []struct {
		name   string
		n      int
		class  func(x, y float64) int
		points []Point
	}{
		{"circle", 60, circle, pts},
		{"nil class no points", 10, nil, nil},
		{"default n", 0, circle, nil},
		{"one cell", 1, func(x, y float64) int { return 3 }, pts},
		{"huge n clamped", 1 << 30, func(x, y float64) int { return 0 }, nil},
		{"non-finite points", 20, circle, []Point{{X: nan, Y: 0.5}, {X: 0.5, Y: pinf}, {X: ninf, Y: ninf, Label: 2}}},
		{"odd labels", 20, func(x, y float64) int { return int(x*15) - 2 }, []Point{{X: 0.2, Y: 0.2, Label: 13, Pred: 3}, {X: 0.9, Y: 0.9, Label: -5, Pred: -5}}},
		{"points outside square", 20, circle, []Point{{X: -0.5, Y: 1.5, Label: 0, Pred: 1}}},
		{"far points", 20, circle, []Point{{X: -1e300, Y: 1e300}, {X: math.MaxFloat64, Y: 0.5}}},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "map"+string(rune('a'+i))+".png")
			if err := ClassMap(path, "classification map", tc.n, tc.class, tc.points); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, path, wantMapW, wantH)
		})
	}
}

func TestClassMapClampsCalls(t *testing.T) {
	calls := 0
	path := filepath.Join(t.TempDir(), "m.png")
	if err := ClassMap(path, "", 1<<20, func(x, y float64) int { calls++; return 0 }, nil); err != nil {
		t.Fatal(err)
	}
	if calls != maxMapCells*maxMapCells {
		t.Fatalf("class called %d times, want %d", calls, maxMapCells*maxMapCells)
	}
}

func TestWriteFailure(t *testing.T) {
	s := []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1, 2}}}
	writers := []struct {
		name  string
		write func(path string) error
	}{
		{"Lines", func(p string) error { return Lines(p, "t", "x", "y", false, s...) }},
		{"Histograms", func(p string) error { return Histograms(p, "t", "x", 5, s...) }},
		{"ClassMap", func(p string) error {
			return ClassMap(p, "t", 5, func(x, y float64) int { return 0 }, []Point{{X: 0.5, Y: 0.5}})
		}},
	}
	for _, w := range writers {
		t.Run(w.name+"/missing dir", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "missing", "fig.png")
			err := w.write(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			if _, serr := os.Stat(filepath.Dir(path)); !os.IsNotExist(serr) {
				t.Fatalf("something was created: %v", serr)
			}
			assertOnly(t, dir)
		})
		t.Run(w.name+"/path is a directory", func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "fig.png")
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
			err := w.write(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			assertOnly(t, dir, "fig.png")
		})
	}
}

// assertOnly fails unless dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}

func TestLogTicks(t *testing.T) {
	cases := []struct {
		lo, hi     float64
		wantLabels []string
	}{
		{0.01, 10, []string{"0.01", "0.1", "1", "10"}},
		{0.3, 4, []string{"0.5", "1", "2"}},
		{1e-300, 1e300, nil}, // many decades: only checked for some labels
	}
	for _, tc := range cases {
		var labels []string
		for _, tk := range (logTicks{}).Ticks(tc.lo, tc.hi) {
			if tk.Value < tc.lo || tk.Value > tc.hi {
				t.Errorf("[%g,%g]: tick %g out of range", tc.lo, tc.hi, tk.Value)
			}
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if tc.wantLabels == nil {
			if len(labels) < 2 || len(labels) > 8 {
				t.Errorf("[%g,%g]: labels %v", tc.lo, tc.hi, labels)
			}
			continue
		}
		if strings.Join(labels, " ") != strings.Join(tc.wantLabels, " ") {
			t.Errorf("[%g,%g]: labels %v, want %v", tc.lo, tc.hi, labels, tc.wantLabels)
		}
	}
	// Narrow ranges fall back to linear ticks.
	n := 0
	for _, tk := range (logTicks{}).Ticks(0.31, 0.39) {
		if tk.Label != "" {
			n++
		}
	}
	if n < 2 {
		t.Errorf("narrow range: %d labelled ticks", n)
	}
}

func TestPlaceLegend(t *testing.T) {
	ramp := func(f func(x float64) float64) plotter.XYs {
		var xys plotter.XYs
		for i := range 21 {
			x := float64(i) / 20
			xys = append(xys, plotter.XY{X: x, Y: f(x)})
		}
		return xys
	}
	cases := []struct {
		name      string
		xys       plotter.XYs
		top, left bool
	}{
		{"falling", ramp(func(x float64) float64 { return 1 - x }), true, false},
		{"rising", ramp(func(x float64) float64 { return x }), true, true},
		{"saturating", ramp(func(x float64) float64 { return 1 - math.Exp(-8*x) }), false, false},
		{"valley", ramp(func(x float64) float64 { return math.Abs(x - 0.5) }), false, false},
		{"hill", ramp(func(x float64) float64 { return 1 - math.Abs(x-0.5) }), true, false},
	}
	for _, tc := range cases {
		p := newPlot("", "", "")
		p.Legend.Add("training accuracy")
		p.Legend.Add("validation accuracy")
		placeLegend(p, lineSamples([]plotter.XYs{tc.xys}, false))
		if p.Legend.Top != tc.top || p.Legend.Left != tc.left {
			t.Errorf("%s: legend top=%v left=%v, want top=%v left=%v", tc.name, p.Legend.Top, p.Legend.Left, tc.top, tc.left)
		}
	}
}

// TestWriteSamples writes one figure of each kind to $PLOTS_SAMPLE_DIR
// for a visual check; it is skipped when the variable is unset.
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("PLOTS_SAMPLE_DIR")
	if dir == "" {
		t.Skip("PLOTS_SAMPLE_DIR not set")
	}
	train := epochs(40, func(e float64) float64 { return 2*math.Exp(-e/6) + 0.02 })
	train.Name = "train"
	val := epochs(40, func(e float64) float64 { return 2*math.Exp(-e/8) + 0.08 + 0.002*e })
	val.Name = "validation"
	if err := Lines(filepath.Join(dir, "lines.png"), "XOR loss", "epoch", "loss", false, train, val); err != nil {
		t.Fatal(err)
	}
	acc := epochs(40, func(e float64) float64 { return 0.97 - 0.6*math.Exp(-e/5) })
	acc.Name = "train accuracy"
	vacc := epochs(40, func(e float64) float64 { return 0.93 - 0.6*math.Exp(-e/6) })
	vacc.Name = "validation accuracy"
	if err := Lines(filepath.Join(dir, "lines_acc.png"), "XOR accuracy", "epoch", "accuracy", false, acc, vacc); err != nil {
		t.Fatal(err)
	}
	if err := Lines(filepath.Join(dir, "lines_log.png"), "XOR loss", "epoch", "loss", true, train, val, Series{Name: "empty"}); err != nil {
		t.Fatal(err)
	}
	var hs []Series
	for k := range 3 {
		s := Series{Name: "class " + string(rune('0'+k))}
		for i := range 300 {
			u := (float64(i) + 0.5) / 300
			s.Y = append(s.Y, 8+3*float64(k)+2*math.Tan(math.Pi*(u-0.5)*0.7))
		}
		hs = append(hs, s)
	}
	hs[1].Y = append(hs[1].Y, nan, pinf)
	if err := Histograms(filepath.Join(dir, "hist.png"), "output spike times", "t (ms)", 40, hs...); err != nil {
		t.Fatal(err)
	}
	class := func(x, y float64) int {
		switch {
		case math.Hypot(x-0.5, y-0.5) < 0.08:
			return -1
		case math.Hypot(x-0.3, y-0.65) < 0.22:
			return 0
		case x > y:
			return 1
		}
		return 2
	}
	var pts []Point
	for i := range 150 {
		x := math.Mod(float64(i)*0.618034, 1)
		y := math.Mod(float64(i)*0.7548777+0.1, 1)
		lab := class(x, y)
		if lab < 0 {
			lab = 0
		}
		pred := class(x, y)
		if i%17 == 0 {
			pred = (lab + 1) % 3
		}
		pts = append(pts, Point{X: x, Y: y, Label: lab, Pred: pred})
	}
	if err := ClassMap(filepath.Join(dir, "classmap.png"), "Yin-Yang classification", 120, class, pts); err != nil {
		t.Fatal(err)
	}
}
