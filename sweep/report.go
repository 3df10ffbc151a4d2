package sweep

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/delgrad-go/delgrad/internal/atomicfile"
	"github.com/delgrad-go/delgrad/trainer"
	"github.com/delgrad-go/delgrad/trainer/plots"
)

// Files of a sweep's report.
const (
	ReportFile    = "report.md"
	ReportCSVFile = "report.csv"
	ReportPlots   = "plots"
)

// Stats summarises one quantity over a grid point's seeds.
type Stats struct {
	N                              int
	Mean, SD, SE, Median, Min, Max float64
}

// NewStats computes the statistics of v (SD with n-1; 0 for one value).
func NewStats(v []float64) Stats {
	s := Stats{N: len(v)}
	if len(v) == 0 {
		return Stats{Mean: math.NaN(), SD: math.NaN(), SE: math.NaN(), Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	w := slices.Clone(v)
	slices.Sort(w)
	s.Min, s.Max = w[0], w[len(w)-1]
	if n := len(w); n%2 == 1 {
		s.Median = w[n/2]
	} else {
		s.Median = (w[n/2-1] + w[n/2]) / 2
	}
	for _, x := range w {
		s.Mean += x
	}
	s.Mean /= float64(len(w))
	if len(w) > 1 {
		for _, x := range w {
			s.SD += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(s.SD / float64(len(w)-1))
	}
	s.SE = s.SD / math.Sqrt(float64(len(w)))
	return s
}

// PointResult is a grid point's results: its runs' summaries and their
// statistics.
type PointResult struct {
	Point Point
	// Seeds and Summaries are the finished runs'; Missing counts the runs
	// without a summary.
	Seeds     []uint64
	Summaries []trainer.Summary
	Missing   int
	// Test and BestValTest are the statistics of the final test accuracy
	// and of the test accuracy at the best validation epoch; Seconds is
	// the mean training time.
	Test, BestValTest Stats
	Seconds           float64
}

// Results reads the summaries of every run of the sweep in dir, by grid
// point in the grid's order.
func Results(dir string) (*Spec, []PointResult, error) {
	raw, err := os.ReadFile(filepath.Join(dir, SpecFile))
	if err != nil {
		return nil, nil, InputError{fmt.Errorf("sweep: %s is not a sweep directory: %w", dir, err)}
	}
	spec, err := Decode(raw)
	if err != nil {
		return nil, nil, InputError{fmt.Errorf("sweep: %s: %w", filepath.Join(dir, SpecFile), err)}
	}
	pts, err := spec.Points()
	if err != nil {
		return nil, nil, InputError{err}
	}
	var out []PointResult
	for _, p := range pts {
		r := PointResult{Point: p}
		var test, best, secs []float64
		for _, seed := range spec.Seeds {
			s, err := ReadSummary(filepath.Join(dir, RunDir(p.Name, seed)))
			if err != nil {
				r.Missing++
				continue
			}
			r.Seeds = append(r.Seeds, seed)
			r.Summaries = append(r.Summaries, s)
			test, best, secs = append(test, s.TestAccuracy), append(best, s.BestValTestAccuracy), append(secs, s.TrainSeconds)
		}
		r.Test, r.BestValTest = NewStats(test), NewStats(best)
		r.Seconds = NewStats(secs).Mean
		out = append(out, r)
	}
	return spec, out, nil
}

// Report aggregates the sweep in dir: report.md (a table per grid point),
// report.csv (a row per run and the points' statistics) and plots (the
// accuracy's distribution per point; the mean accuracy, with standard
// errors, against each of the sweep file's report params). It returns the
// files written.
func Report(dir string) ([]string, error) {
	spec, res, err := Results(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	md := filepath.Join(dir, ReportFile)
	if err := atomicfile.Write(md, 0o644, func(w io.Writer) error { return writeMarkdown(w, spec, res) }); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	files = append(files, md)
	cs := filepath.Join(dir, ReportCSVFile)
	if err := atomicfile.Write(cs, 0o644, func(w io.Writer) error { return writeCSV(w, spec, res) }); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	files = append(files, cs)
	if err := os.MkdirAll(filepath.Join(dir, ReportPlots), 0o755); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	box := filepath.Join(dir, ReportPlots, "accuracy_by_point.png")
	if err := plotDistributions(box, res); err != nil {
		return nil, err
	}
	files = append(files, box)
	for _, key := range spec.ReportParams {
		p := filepath.Join(dir, ReportPlots, "accuracy_vs_"+safeName(key)+".png")
		if err := plotAgainst(p, spec, key, res); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2f", 100*v)
}

func writeMarkdown(w io.Writer, spec *Spec, res []PointResult) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Sweep report\n\nBase config %s, seeds %s, %d grid points", spec.Base, SeedList(spec.Seeds), len(res))
	if len(spec.Grid) > 0 {
		fmt.Fprintf(&b, " over %s", strings.Join(spec.keys(), ", "))
	}
	b.WriteString(". Accuracies in %, over the seeds of each point: final test accuracy (test_accuracy) and the test accuracy at the best validation epoch (best_validation_test_accuracy).\n")
	for _, r := range res {
		fmt.Fprintf(&b, "\n## %s\n\n", r.Point.Name)
		if r.Missing > 0 {
			fmt.Fprintf(&b, "%d of %d runs have no results yet.\n\n", r.Missing, r.Missing+len(r.Seeds))
		}
		b.WriteString("| accuracy | mean | SD | SE | median | min | max | seeds |\n|---|---|---|---|---|---|---|---|\n")
		for _, row := range []struct {
			name string
			s    Stats
		}{{"final test", r.Test}, {"best-validation test", r.BestValTest}} {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %d |\n", row.name, pct(row.s.Mean), pct(row.s.SD), pct(row.s.SE),
				pct(row.s.Median), pct(row.s.Min), pct(row.s.Max), row.s.N)
		}
		if len(r.Seeds) > 0 {
			fmt.Fprintf(&b, "\nMean training time %.2f s per run (summary.json's train_seconds: the runs of a task train as one population, and each records the population's wall time, so this is about the time of the whole point's task, not a share of it).\n", r.Seconds)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeCSV(w io.Writer, spec *Spec, res []PointResult) error {
	cw := csv.NewWriter(w)
	head := append(append([]string{"point"}, spec.keys()...), "row", "n", "test_accuracy", "best_validation_test_accuracy", "train_seconds")
	cw.Write(head)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, r := range res {
		vals := []string{r.Point.Name}
		for _, o := range r.Point.Overrides {
			vals = append(vals, formatValue(o.Value))
		}
		for i, s := range r.Summaries {
			cw.Write(append(slices.Clone(vals), fmt.Sprintf("seed%d", r.Seeds[i]), "1", f(s.TestAccuracy), f(s.BestValTestAccuracy), f(s.TrainSeconds)))
		}
		for _, st := range []struct {
			name string
			a, b float64
		}{{"mean", r.Test.Mean, r.BestValTest.Mean}, {"sd", r.Test.SD, r.BestValTest.SD}, {"se", r.Test.SE, r.BestValTest.SE},
			{"median", r.Test.Median, r.BestValTest.Median}, {"min", r.Test.Min, r.BestValTest.Min}, {"max", r.Test.Max, r.BestValTest.Max}} {
			secs := ""
			if st.name == "mean" {
				secs = f(r.Seconds)
			}
			cw.Write(append(slices.Clone(vals), st.name, strconv.Itoa(r.Test.N), f(st.a), f(st.b), secs))
		}
	}
	cw.Flush()
	return cw.Error()
}

// plotDistributions draws a box plot of the final test accuracy per point.
func plotDistributions(path string, res []PointResult) error {
	p := plots.New("final test accuracy over seeds", "", "test accuracy (%)")
	var names []string
	for i, r := range res {
		names = append(names, r.Point.Name)
		var v plotter.Values
		for _, s := range r.Summaries {
			v = append(v, 100*s.TestAccuracy)
		}
		if len(v) == 0 {
			continue
		}
		b, err := plotter.NewBoxPlot(vg.Points(20), float64(i), v)
		if err != nil {
			return fmt.Errorf("sweep: plot %s: %w", path, err)
		}
		b.FillColor = color.RGBA{R: 160, G: 190, B: 230, A: 255}
		p.Add(b)
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	w := max(6*vg.Inch, vg.Length(len(res))*0.6*vg.Inch)
	return plots.Save(p, w, 5*vg.Inch, path)
}

// errPoints are points with symmetric y error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// plotAgainst draws the mean final test accuracy (with standard errors)
// against the swept key, a line per combination of the other keys.
func plotAgainst(path string, spec *Spec, key string, res []PointResult) error {
	ax := spec.Grid[slicesIndex(spec.Grid, key)]
	numeric := true
	for _, v := range ax.Values {
		switch v.(type) {
		case int64, float64:
		default:
			numeric = false
		}
	}
	xOf := func(v any) float64 {
		switch v := v.(type) {
		case int64:
			return float64(v)
		case float64:
			return v
		}
		for i, w := range ax.Values {
			if fmt.Sprint(w) == fmt.Sprint(v) {
				return float64(i)
			}
		}
		return math.NaN()
	}
	p := plots.New("mean final test accuracy (error bars: SE over seeds)", key, "test accuracy (%)")
	var order []string
	lines := map[string]*errPoints{}
	for _, r := range res {
		if r.Test.N == 0 {
			continue
		}
		var others []string
		var x float64
		for _, o := range r.Point.Overrides {
			if o.Key == key {
				x = xOf(o.Value)
			} else {
				others = append(others, o.Key+"="+formatValue(o.Value))
			}
		}
		label := strings.Join(others, ", ")
		l, ok := lines[label]
		if !ok {
			l = &errPoints{}
			lines[label] = l
			order = append(order, label)
		}
		l.XYs = append(l.XYs, plotter.XY{X: x, Y: 100 * r.Test.Mean})
		l.YErrors = append(l.YErrors, struct{ Low, High float64 }{100 * r.Test.SE, 100 * r.Test.SE})
	}
	palette := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
		{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255}}
	for i, label := range order {
		l := lines[label]
		c := palette[i%len(palette)]
		lp, sc, err := plotter.NewLinePoints(l.XYs)
		if err != nil {
			return fmt.Errorf("sweep: plot %s: %w", path, err)
		}
		lp.Color, sc.Color = c, c
		eb, err := plotter.NewYErrorBars(l)
		if err != nil {
			return fmt.Errorf("sweep: plot %s: %w", path, err)
		}
		eb.Color = c
		p.Add(lp, sc, eb)
		if label != "" {
			p.Legend.Add(label, lp, sc)
		}
	}
	if !numeric {
		var names []string
		for _, v := range ax.Values {
			names = append(names, formatValue(v))
		}
		p.NominalX(names...)
	}
	return plots.Save(p, 6*vg.Inch, 4.5*vg.Inch, path)
}
