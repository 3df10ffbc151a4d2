package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
	"github.com/delgrad-go/delgrad/internal/atomicfile"
	"github.com/delgrad-go/delgrad/trainer"
	"github.com/delgrad-go/delgrad/trainer/plots"
)

// robustnessRun is one run's entry in robustness/summary.json.
type robustnessRun struct {
	Run   string `json:"run"`
	Name  string `json:"name"`
	Epoch int    `json:"epoch"`
	// HardwareAware says whether the run trained with a [bss2] chip model.
	HardwareAware bool `json:"hardware_aware"`
	// IdealAccuracy is the accuracy on the ideal engine (no chip).
	IdealAccuracy float64           `json:"ideal_accuracy"`
	Chips         bss2model.Summary `json:"chip_accuracy"`
	// SilentFraction is the mean over chips of the fraction of samples
	// without any output spike.
	SilentFraction float64 `json:"silent_fraction"`
	// HardwareSecondsPerSample is the mean time to the decision (the
	// predicted neuron's spike) on the chip, in seconds of hardware time;
	// BiologicalSecondsPerSample is the same in emulated biological time.
	HardwareSecondsPerSample   float64 `json:"hardware_seconds_per_sample"`
	BiologicalSecondsPerSample float64 `json:"biological_seconds_per_sample"`
	// Seconds is the wall time of the evaluation; SamplesPerSec counts
	// chips x samples, ChipsPerSec whole chips (each on every sample).
	Seconds       float64 `json:"seconds"`
	SamplesPerSec float64 `json:"samples_per_second"`
	ChipsPerSec   float64 `json:"chips_per_second"`
}

type robustnessSummary struct {
	Command string           `json:"command"`
	Split   string           `json:"split"`
	Samples int              `json:"samples"`
	Chips   int              `json:"chips"`
	Seed    uint64           `json:"seed"`
	Engine  string           `json:"engine"`
	Model   string           `json:"chip_model_from"`
	Params  bss2model.Params `json:"chip_model"`
	Runs    []robustnessRun  `json:"runs"`
}

func robustnessCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlags("robustness", stdout)
	runDir := fl.String("run", "", "run directory to evaluate (required)")
	cmpDir := fl.String("compare", "", "a second run evaluated on the same chips (e.g. the same network trained with -ideal)")
	chips := fl.Int("chips", 1000, "number of simulated chips")
	defSeed := uint64(12345)
	seed := seedFlag(fl, &defSeed, "an `integer` >= 0 that seeds the chips (training never draws from these streams: the chips are held out)")
	split := fl.String("split", "test", "split: train, validation or test")
	out := fl.String("out", "", "output directory (default: RUN/robustness)")
	placement := fl.Bool("placement", true, "refuse a network that does not fit on one chip (bss2.neuron_circuits, bss2.synapse_rows, bss2.circuits_per_neuron); -placement=false evaluates it as if it fit")
	device := deviceFlag(fl, "cpu, gpu or auto")
	workers := workersFlag(fl, "CPU workers: the Go engine's, and the goroutines that draw the chips' terms")
	quiet := quietFlag(fl)
	if err := fl.parse(args); err != nil {
		return err
	}
	if *runDir == "" || fl.NArg() > 0 {
		return usageError{errors.New("robustness: give a run directory: delgrad robustness -run DIR [-compare DIR]")}
	}
	if *chips < 1 {
		return usageError{fmt.Errorf("robustness: -chips %d: must be >= 1", *chips)}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join(*runDir, "robustness")
	}
	if err := checkOutDir("robustness: -out", dir); err != nil {
		return err
	}
	eng, engName, err := newEngine(*device, *workers)
	if err != nil {
		return fmt.Errorf("robustness: %w", err)
	}
	dirs := []string{*runDir}
	if *cmpDir != "" {
		dirs = append(dirs, *cmpDir)
	}
	runs := make([]*trainer.Run, len(dirs))
	for i, d := range dirs {
		if err := notPopulation("robustness", d); err != nil {
			return err
		}
		if runs[i], err = trainer.OpenRun(d, eng); err != nil {
			return classify(fmt.Errorf("robustness: %w", err))
		}
		runs[i].Trainer.UseFinal() // the averaged parameters, where the config averages them
	}
	if len(runs) == 2 {
		if err := sameSplit(runs[0].Trainer, runs[1].Trainer, *split); err != nil {
			return usageError{fmt.Errorf("robustness: -compare %s: %w", *cmpDir, err)}
		}
	}
	// One chip model for all runs: the first run's [bss2], else the
	// second's, else the defaults.
	params, from := bss2model.Defaults(), "bss2model defaults"
	for i := len(runs) - 1; i >= 0; i-- {
		if p := runs[i].Trainer.Cfg.BSS2; p != nil {
			params, from = *p, dirs[i]+"/config.toml [bss2]"
		}
	}
	if !*placement {
		params.CircuitsPerNeuron = 0 // recorded in summary.json's chip_model
	}
	for i, r := range runs {
		if err := params.Fit(r.Trainer.Model.Net); err != nil {
			return usageError{fmt.Errorf("robustness: %s does not fit on one chip: %w (-placement=false evaluates it as if it did)", dirs[i], err)}
		}
	}
	nw := *workers
	if nw <= 0 {
		nw = runtime.GOMAXPROCS(0)
	}
	sum := robustnessSummary{Command: "delgrad robustness " + strings.Join(args, " "), Split: *split,
		Chips: *chips, Seed: seed.v, Engine: engName, Model: from, Params: params}
	var rows [][]string
	var hist []plots.Series
	for i, r := range runs {
		t := r.Trainer
		set, err := splitOf(t, *split)
		if err != nil {
			return usageError{fmt.Errorf("robustness: %w", err)}
		}
		sum.Samples = set.N
		t.Model.Sync()
		net := t.Model.Net
		x, err := batch.TimesFrom(set.N, set.F, set.Times)
		if err != nil {
			return fmt.Errorf("robustness: %w", err)
		}
		var tr batch.Trace
		if err := eng.Forward(net, x, &tr); err != nil {
			return fmt.Errorf("robustness: %s: %w", dirs[i], err)
		}
		idealAcc := accuracy(batch.Predict(tr.Output()), set.Labels)
		var bar *progressbar.ProgressBar
		if !*quiet && isTerminal(stderr) {
			bar = progressbar.NewOptions(*chips, progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription(fmt.Sprintf("%s: chips", t.Cfg.Name)),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetWidth(30))
		}
		opt := bss2model.EvalOptions{Chips: *chips, Seed: seed.v, Workers: nw, Engine: eng}
		if bar != nil {
			opt.Progress = func(done, total int) { _ = bar.Set(done) }
		}
		start := time.Now()
		res, err := bss2model.EvaluateContext(ctx, net, params, x, set.Labels, opt)
		if bar != nil && err != nil {
			_ = bar.Clear()
			_ = bar.Exit()
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("%w while evaluating %s on the chips (%v): nothing written; run the command again to redo it", errInterrupted, dirs[i], err)
		}
		if err != nil {
			return classify(fmt.Errorf("robustness: %s: %w", dirs[i], err))
		}
		el := time.Since(start).Seconds()
		if bar != nil {
			_ = bar.Finish()
		}
		rr := robustnessRun{Run: dirs[i], Name: t.Cfg.Name, Epoch: t.Epoch, HardwareAware: t.Cfg.BSS2 != nil,
			IdealAccuracy: idealAcc, Chips: bss2model.Summarize(res), Seconds: el,
			SamplesPerSec: float64(*chips*set.N) / el, ChipsPerSec: float64(*chips) / el}
		tsum, tn := 0.0, 0
		acc := make([]float64, len(res))
		for j, c := range res {
			rr.SilentFraction += c.Silent / float64(len(res))
			if !math.IsNaN(c.MeanLabelTime) {
				tsum += c.MeanLabelTime
				tn++
			}
			acc[j] = 100 * c.Accuracy
			rows = append(rows, []string{t.Cfg.Name, strconv.Itoa(c.Chip), fmtF(c.Accuracy), fmtF(c.Silent), fmtF(c.MeanLabelTime)})
		}
		if tn > 0 {
			tau0 := net.Layers[0].Neuron.TauSyn
			rr.HardwareSecondsPerSample = params.HardwareSeconds(tsum/float64(tn), tau0)
			rr.BiologicalSecondsPerSample = params.BiologicalSeconds(tsum/float64(tn), tau0)
		}
		sum.Runs = append(sum.Runs, rr)
		hist = append(hist, plots.Series{Name: t.Cfg.Name, Y: acc})
	}
	if err := writeRobustness(dir, sum, rows, hist); err != nil {
		return fmt.Errorf("robustness: %w", err)
	}
	fmt.Fprintf(stdout, "%d chips (seed %d, model from %s), %s split, %d samples, on %s:\n", *chips, seed.v, from, *split, sum.Samples, engName)
	fmt.Fprintf(stdout, "%-28s %8s %8s %8s %8s %8s %8s %9s %12s\n", "run", "ideal%", "mean%", "std", "p5%", "min%", "max%", "chips/s", "chip-smp/s")
	for _, r := range sum.Runs {
		c := r.Chips
		fmt.Fprintf(stdout, "%-28s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %9.1f %12.0f\n", r.Name, 100*r.IdealAccuracy,
			100*c.Mean, 100*c.Std, 100*c.P5, 100*c.Min, 100*c.Max, r.ChipsPerSec, r.SamplesPerSec)
	}
	fmt.Fprintf(stdout, "results in %s\n", dir)
	return nil
}

// sameSplit checks that two runs hold the same samples and labels in split,
// so that their accuracies over the same chips compare.
func sameSplit(a, b *trainer.Trainer, split string) error {
	sa, err := splitOf(a, split)
	if err != nil {
		return err
	}
	sb, err := splitOf(b, split)
	if err != nil {
		return err
	}
	if sa.N == sb.N && sa.F == sb.F && slices.Equal(sa.Labels, sb.Labels) && slices.Equal(sa.Times, sb.Times) {
		return nil
	}
	what := "other samples or labels than"
	if sa.N != sb.N || sa.F != sb.F {
		what = fmt.Sprintf("%d samples of %d features, not the %d of %d of", sb.N, sb.F, sa.N, sa.F)
	}
	return fmt.Errorf("its %s split (data.name = %q) holds %s the -run's (data.name = %q): compare only runs trained on the same dataset",
		split, b.Cfg.Data.Name, what, a.Cfg.Data.Name)
}

// correct counts the predictions that equal their label.
func correct(pred, labels []int) int {
	c := 0
	for i, p := range pred {
		if p == labels[i] {
			c++
		}
	}
	return c
}

func accuracy(pred, labels []int) float64 {
	return float64(correct(pred, labels)) / float64(len(labels))
}

func fmtF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// writeRobustness writes chips.csv, summary.json and accuracy.png into dir,
// each atomically.
func writeRobustness(dir string, sum robustnessSummary, rows [][]string, hist []plots.Series) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := atomicfile.Write(filepath.Join(dir, "chips.csv"), 0o644, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"run", "chip", "accuracy", "silent_fraction", "mean_label_time"}); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("chips.csv: %w", err)
	}
	err = atomicfile.Write(filepath.Join(dir, "summary.json"), 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	})
	if err != nil {
		return fmt.Errorf("summary.json: %w", err)
	}
	title := fmt.Sprintf("accuracy on %d simulated BrainScaleS-2 chips (%s split)", sum.Chips, sum.Split)
	if err := plots.Histograms(filepath.Join(dir, "accuracy.png"), title, "test accuracy [%]", 40, hist...); err != nil {
		return fmt.Errorf("accuracy.png: %w", err)
	}
	return nil
}
