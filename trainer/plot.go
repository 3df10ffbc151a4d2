package trainer

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/delgrad-go/delgrad/trainer/dataset"
	"github.com/delgrad-go/delgrad/trainer/plots"
)

// Plot writes the run's figures into its plots directory: loss and
// accuracy curves, output spike-time histograms per class (from the test
// evaluation ev), weight and delay histograms, and for Yin-Yang the
// classification map.
func (r *Run) Plot(ev Eval) error {
	t := r.Trainer
	dir := filepath.Join(r.Dir, PlotsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	n := len(t.History)
	ep := make([]float64, n)
	cols := make([][]float64, 4)
	for i := range cols {
		cols[i] = make([]float64, n)
	}
	for i, m := range t.History {
		ep[i] = float64(m.Epoch)
		cols[0][i], cols[1][i], cols[2][i], cols[3][i] = m.TrainLoss, m.ValLoss, 1-m.TrainAcc, 1-m.ValAcc
	}
	if err := plots.Lines(filepath.Join(dir, "loss.png"), t.Cfg.Name+": loss", "epoch", "loss", true,
		plots.Series{Name: "train", X: ep, Y: cols[0]}, plots.Series{Name: "validation", X: ep, Y: cols[1]}); err != nil {
		return err
	}
	if err := plots.Lines(filepath.Join(dir, "error.png"), t.Cfg.Name+": error rate", "epoch", "1 - accuracy", true,
		plots.Series{Name: "train", X: ep, Y: cols[2]}, plots.Series{Name: "validation", X: ep, Y: cols[3]}); err != nil {
		return err
	}
	// Output spike times: one figure per true class, one series per output
	// neuron, so the label neuron's lead over the others is visible.
	set := t.Data.Test
	K := t.Model.Net.Outputs()
	for c := 0; c < set.Classes; c++ {
		var ss []plots.Series
		for k := 0; k < K; k++ {
			var v []float64
			for i, y := range set.Labels {
				if y == c {
					v = append(v, ev.Outputs[i*K+k])
				}
			}
			ss = append(ss, plots.Series{Name: fmt.Sprintf("neuron %d", k), Y: v})
		}
		name := filepath.Join(dir, fmt.Sprintf("output_times_class%d.png", c))
		if err := plots.Histograms(name, fmt.Sprintf("test output spike times, class %d", c), "t / tau_s", 40, ss...); err != nil {
			return err
		}
	}
	var ws, ds []plots.Series
	for l := range t.Model.Net.Layers {
		ws = append(ws, plots.Series{Name: fmt.Sprintf("layer %d", l), Y: t.Model.Net.Layers[l].W()})
		if d := t.Model.Net.Layers[l].D(); d != nil {
			ds = append(ds, plots.Series{Name: fmt.Sprintf("layer %d (%s)", l, t.Model.Net.Layers[l].Delay), Y: d})
		}
	}
	if err := plots.Histograms(filepath.Join(dir, "weights.png"), "weights", "w", 40, ws...); err != nil {
		return err
	}
	if len(ds) > 0 {
		if err := plots.Histograms(filepath.Join(dir, "delays.png"), "delays", "d / tau_s", 40, ds...); err != nil {
			return err
		}
	}
	if t.Cfg.Data.Name == "yin_yang" {
		return r.plotYinYang(filepath.Join(dir, "classmap.png"), ev)
	}
	return nil
}

// plotYinYang draws the network's decision over the unit square, with the
// test samples on top.
func (r *Run) plotYinYang(path string, ev Eval) error {
	t := r.Trainer
	const n = 100
	feat := make([]float64, 0, n*n*4)
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			x, y := (float64(i)+0.5)/n, (float64(j)+0.5)/n
			feat = append(feat, x, y, 1-x, 1-y)
		}
	}
	grid := &dataset.Set{Name: "grid", Times: dataset.EncodeYinYang(feat), Labels: make([]int, n*n), N: n * n, F: 4, Classes: 3}
	gev, err := t.Evaluate(grid)
	if err != nil {
		return fmt.Errorf("plots: class map: %w", err)
	}
	class := func(x, y float64) int {
		i := min(n-1, max(0, int(math.Floor(x*n))))
		j := min(n-1, max(0, int(math.Floor(y*n))))
		return gev.Pred[j*n+i]
	}
	set := t.Data.Test
	pts := make([]plots.Point, set.N)
	for i := range pts {
		// The first two features are x and y.
		row := set.Row(i)
		pts[i] = plots.Point{X: dataset.DecodeYinYang(row[0]), Y: dataset.DecodeYinYang(row[1]), Label: set.Labels[i], Pred: ev.Pred[i]}
	}
	return plots.ClassMap(path, fmt.Sprintf("%s: test accuracy %.2f%%", t.Cfg.Name, 100*ev.Accuracy), n, class, pts)
}
