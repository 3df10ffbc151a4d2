package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/configs"
	"github.com/delgrad-go/delgrad/internal/atomicfile"
	"github.com/delgrad-go/delgrad/trainer"
)

// defaultConfig is what `delgrad train` runs without -config.
const defaultConfig = "yin_yang_H30_WA"

// loadConfig reads a config file, or a built-in config by name.
func loadConfig(name string) (trainer.Config, error) {
	if _, err := os.Stat(name); err == nil {
		c, err := trainer.Load(name)
		if err != nil {
			return c, err
		}
		return c, nil
	}
	f, err := configs.Open(name)
	if err != nil {
		return trainer.Config{}, fmt.Errorf("config %q: no such file and no such built-in config (built-in: %s)", name, strings.Join(configs.Names(), ", "))
	}
	defer f.Close()
	c, err := trainer.Parse(f)
	if err != nil {
		return c, fmt.Errorf("built-in config %s: %w", name, err)
	}
	return c, nil
}

func trainCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlags("train", stdout)
	cfgName := fl.String("config", defaultConfig, "config file, or a built-in config name (see: delgrad configs)")
	seed := seedFlag(fl, nil, "an `integer` >= 0 that seeds the initial parameters, the batch order and the input noise (default: the config's seed, 1 in the built-in configs)")
	seedsFlag := fl.String("seeds", "", "train these seeds as one population, a run directory -out/seedN each: a range (1-40), a list (1,3,5) or both (1-3,10)")
	epochs := fl.Int("epochs", 0, "epochs (default: the config's)")
	out := fl.String("out", "", "run directory (default: runs/NAME-seedN-TIME)")
	device := deviceFlag(fl, "cpu, gpu or auto")
	workers := workersFlag(fl, "CPU workers")
	quiet := quietFlag(fl)
	force := fl.Bool("force", false, "overwrite an existing run in -out")
	initDir := fl.String("init", "", "start from this network (reference layout: an exported run or a reference network) instead of random parameters")
	ideal := fl.Bool("ideal", false, "train without the config's [bss2] chip model (on the ideal engine), to compare with hardware-aware training")
	if err := fl.parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("train: unexpected arguments %v", fl.Args())}
	}
	cfg, err := loadConfig(*cfgName)
	if err != nil {
		return usageError{fmt.Errorf("train: %w", err)}
	}
	if seed.set {
		cfg.Seed = seed.v
	}
	var seeds []uint64
	if *seedsFlag != "" {
		if seed.set {
			return usageError{errors.New("train: give -seed or -seeds, not both")}
		}
		if seeds, err = parseSeeds(*seedsFlag); err != nil {
			return usageError{fmt.Errorf("train: -seeds: %w", err)}
		}
	}
	if *epochs < 1 && setFlags(fl.FlagSet)["epochs"] {
		return usageError{fmt.Errorf("train: -epochs %d: must be >= 1", *epochs)}
	}
	if *epochs > 0 {
		cfg.Training.Epochs = *epochs
	}
	if *ideal {
		if cfg.BSS2 == nil {
			return usageError{fmt.Errorf("train: -ideal: config %s has no [bss2] section: it trains on the ideal engine already", cfg.Name)}
		}
		cfg.BSS2 = nil
		cfg.Name += "_ideal"
	}
	eng, engName, err := newEngine(*device, *workers)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if *out != "" {
		if err := checkOutDir("train: -out", *out); err != nil {
			return err
		}
	}
	data, err := trainer.LoadData(&cfg, ".")
	if err != nil {
		return usageError{fmt.Errorf("train: %w", err)}
	}
	var init func(*trainer.Trainer) error
	initPath := ""
	if *initDir != "" {
		ref, err := batch.LoadReference(*initDir)
		if err != nil {
			return usageError{fmt.Errorf("train: -init: %w", err)}
		}
		if initPath, err = filepath.Abs(*initDir); err != nil {
			return usageError{fmt.Errorf("train: -init: %w", err)}
		}
		init = func(t *trainer.Trainer) error {
			if err := t.InitFromReference(ref); err != nil {
				return fmt.Errorf("-init %s: %w", *initDir, err)
			}
			return nil
		}
	}
	dir := *out
	if dir == "" {
		name := fmt.Sprintf("%s-seed%d-%s", cfg.Name, cfg.Seed, time.Now().Format("20060102-150405"))
		if seeds != nil {
			name = fmt.Sprintf("%s-seeds%s-%s", cfg.Name, seedList(seeds), time.Now().Format("20060102-150405"))
		}
		if dir, err = newRunDir("runs", name); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	if seeds == nil && cfg.Selects() {
		err := selectTrain(ctx, cfg, dir, data, engineSpec{eng, engName}, *force, init, initPath, *quiet, stdout, stderr)
		if *out == "" {
			os.Remove(dir) // removes the default directory only if nothing was made in it
		}
		return err
	}
	if seeds != nil {
		err := popTrain(ctx, cfg, seeds, dir, data, engineSpec{eng, engName}, *force, init, initPath, *quiet, stdout, stderr)
		if *out == "" {
			os.Remove(dir) // removes the default directory only if nothing was made in it
		}
		return err
	}
	r, err := trainer.NewRun(dir, cfg, data, eng, *force, init)
	if err != nil {
		if *out == "" {
			os.Remove(dir) // the new, still empty default directory
		}
		return classify(fmt.Errorf("train: %w", err))
	}
	if initPath != "" {
		if err := writeInit(dir, initPath); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	if !*quiet {
		fmt.Fprintf(stdout, "training %s (seed %d, %d epochs, %d training samples) on %s into %s\n",
			cfg.Name, cfg.Seed, cfg.Training.Epochs, data.Train.N, engName, dir)
		if note := r.Trainer.DeviceNote; note != "" {
			fmt.Fprintln(stdout, note)
		}
	}
	return trainRun(ctx, r, cfg.Training.Epochs, engName, *quiet, stdout, stderr)
}

func resumeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlags("resume", stdout)
	dir := fl.String("run", "", "run directory to continue (required)")
	epochs := fl.Int("epochs", 0, "train until this many epochs in all (default: the config's)")
	device := deviceFlag(fl, "cpu, gpu or auto")
	workers := workersFlag(fl, "CPU workers")
	quiet := quietFlag(fl)
	force := fl.Bool("force", false, "resume even if config.toml was edited since the checkpoint (apply the changes, listed), or restart at epoch 0 a run that lost its checkpoint (its history and results are removed)")
	if err := fl.parse(args); err != nil {
		return err
	}
	if *dir == "" || fl.NArg() > 0 {
		return usageError{errors.New("resume: give the run directory: delgrad resume -run DIR")}
	}
	if *epochs < 1 && setFlags(fl.FlagSet)["epochs"] {
		return usageError{fmt.Errorf("resume: -epochs %d: must be >= 1", *epochs)}
	}
	eng, engName, err := newEngine(*device, *workers)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if isPopulationDir(*dir) {
		return popResume(ctx, *dir, *epochs, engineSpec{eng, engName}, *force, *quiet, stdout, stderr)
	}
	j, err := openJob(*dir, engineSpec{eng, engName}, *force, true, stderr)
	if err != nil {
		return err
	}
	total := j.Cfg.Training.Epochs
	if *epochs > 0 {
		total = *epochs
	}
	if err := checkEpochs(j, total); err != nil {
		return err
	}
	// The run's config records the new length, so that a later plain
	// resume continues to it.
	if err := j.SetEpochs(total); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if j.Selects() {
		if !*quiet {
			fmt.Fprintf(stdout, "resuming %s (%d candidates) at epoch %d of %d on %s\n", *dir, len(j.Runs), j.Epoch(), total, engName)
		}
		return popTrainJobs(ctx, filepath.Clean(*dir), []*trainer.Job{j}, total, engName, *quiet, stdout, stderr)
	}
	r := j.Runs[0]
	if !*quiet {
		fmt.Fprintf(stdout, "resuming %s at epoch %d of %d on %s\n", *dir, r.Trainer.Epoch, total, engName)
	}
	return trainRun(ctx, r, total, engName, *quiet, stdout, stderr)
}

// samplesBar returns the progress bar of a training epoch on stderr:
// samples done of total, and their rate.
func samplesBar(total int, desc string, stderr io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("samples"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30))
}

// writeInit records in a run directory where its -init parameters came
// from.
func writeInit(dir, initPath string) error {
	return atomicfile.WriteFile(filepath.Join(dir, trainer.InitFile), []byte(initPath+"\n"), 0o644)
}

// writeJobInit records where a job's -init parameters came from, in its
// directory and in each of its runs' (a selection's candidates).
func writeJobInit(j *trainer.Job, initPath string) error {
	if initPath == "" {
		return nil
	}
	for _, r := range j.Runs {
		if err := writeInit(r.Dir, initPath); err != nil {
			return err
		}
	}
	if j.Selects() {
		return writeInit(j.Dir, initPath)
	}
	return nil
}

// selectTrain makes the selection run cfg in dir (training.select: its
// candidates under dir/candidates) and trains its candidates as one
// population, then keeps the best.
func selectTrain(ctx context.Context, cfg trainer.Config, dir string, data trainer.Data, eng engineSpec, force bool,
	init func(*trainer.Trainer) error, initPath string, quiet bool, stdout, stderr io.Writer) error {
	j, err := trainer.NewJob(dir, cfg, data, eng.engine, force, init)
	if err != nil {
		return classify(fmt.Errorf("train: %w", err))
	}
	if err := writeJobInit(j, initPath); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if !quiet {
		fmt.Fprintf(stdout, "training %s (seed %d%s, %d epochs, %d training samples) on %s into %s\n",
			cfg.Name, cfg.Seed, candidatesNote(cfg), cfg.Training.Epochs, data.Train.N, eng.name, dir)
		if note := j.Runs[0].Trainer.DeviceNote; note != "" {
			fmt.Fprintln(stdout, note)
		}
	}
	return popTrainJobs(ctx, filepath.Clean(dir), []*trainer.Job{j}, cfg.Training.Epochs, eng.name, quiet, stdout, stderr)
}

// trainRun trains r to epochs, showing progress, and finishes it: test
// accuracy, summary, exported network and plots. When ctx is done it
// finishes the epoch under way, checkpoints it and returns an
// errInterrupted that names the resume command.
func trainRun(ctx context.Context, r *trainer.Run, epochs int, engName string, quiet bool, stdout, stderr io.Writer) error {
	var bar *progressbar.ProgressBar
	showBar := !quiet && isTerminal(stderr)
	printEvery := max(1, epochs/20)
	h := trainer.Hooks{}
	if showBar {
		h.EpochStart = func(e, total int) {
			bar = samplesBar(r.Trainer.Data.Train.N, fmt.Sprintf("epoch %d/%d", e, total), stderr)
		}
		h.Batch = func(done, total int, loss, acc float64) {
			bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f acc %.2f%%", r.Trainer.Epoch+1, epochs, loss, 100*acc))
			bar.Set(done)
		}
	}
	var epoch atomic.Int64 // the epoch under way, for the interrupt note
	start0 := h.EpochStart
	h.EpochStart = func(e, total int) {
		epoch.Store(int64(e))
		if start0 != nil {
			start0(e, total)
		}
	}
	noted := make(chan struct{})
	stopNote := context.AfterFunc(ctx, func() {
		defer close(noted)
		if e := epoch.Load(); e > 0 {
			fmt.Fprintf(stderr, "\ndelgrad: interrupt: finishing epoch %d, then saving a checkpoint; interrupt again to quit at once (the last checkpoint stays intact)\n", e)
		}
	})
	defer func() {
		if !stopNote() {
			<-noted
		}
	}()
	h.EpochEnd = func(m trainer.EpochMetrics) {
		if bar != nil {
			bar.Finish()
		}
		if !quiet && (m.Epoch%printEvery == 0 || m.Epoch == epochs || m.Epoch == 1) {
			fmt.Fprintf(stdout, "epoch %4d/%d  train loss %.4f acc %6.2f%%  val loss %.4f acc %6.2f%%  bumps %d  %.0f samples/s\n",
				m.Epoch, epochs, m.TrainLoss, 100*m.TrainAcc, m.ValLoss, 100*m.ValAcc, m.Bumps, m.SamplesPerSec)
		}
	}
	start := time.Now()
	if err := r.TrainContext(ctx, epochs, h); err != nil {
		if errors.Is(err, context.Canceled) {
			return interruptedRun(r)
		}
		if ck := r.Checkpointed(); ck >= 0 {
			return fmt.Errorf("train: %w (the checkpoint of epoch %d in %s is intact; delgrad resume -run %s continues from it)", err, ck, r.Dir, r.Dir)
		}
		return fmt.Errorf("train: %w", err)
	}
	s, err := r.Finish(engName)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	best := ""
	if s.BestValEpoch > 0 {
		best = fmt.Sprintf("; %.2f%% at epoch %d, the best validation epoch (%.2f%%)", 100*s.BestValTestAccuracy, s.BestValEpoch, 100*s.BestValAcc)
	}
	fmt.Fprintf(stdout, "%s: test accuracy %.2f%% after %s%s; %s; results in %s\n",
		s.Name, 100*s.TestAccuracy, plural(s.Epochs, "epoch"), best, time.Since(start).Round(10*time.Millisecond), r.Dir)
	return nil
}

// interruptedRun is the error of a run stopped by an interrupt: what was
// saved and the command that continues.
func interruptedRun(r *trainer.Run) error {
	cont := "delgrad resume -run " + shellQuote(r.Dir)
	if ck := r.Checkpointed(); ck > 0 {
		return fmt.Errorf("%w after epoch %d, saved in %s; continue with: %s", errInterrupted, ck, r.Dir, cont)
	}
	return fmt.Errorf("%w before the first epoch ended: nothing trained yet in %s; start it with: %s", errInterrupted, r.Dir, cont)
}

// classify turns the trainer's input errors (config, data, an existing run)
// into usage errors (exit code 2); other failures keep exit code 1.
func classify(err error) error {
	var ie trainer.InputError
	if errors.As(err, &ie) {
		return usageError{err}
	}
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func exportCmd(args []string, stdout, stderr io.Writer) error {
	fl := newFlags("export", stdout)
	dir := fl.String("run", "", "run directory (required)")
	out := fl.String("out", "", "output directory (required)")
	force := fl.Bool("force", false, "replace an existing network directory in -out whole")
	if err := fl.parse(args); err != nil {
		return err
	}
	if *dir == "" || *out == "" || fl.NArg() > 0 {
		return usageError{errors.New("export: give -run DIR and -out DIR")}
	}
	if err := notPopulation("export", *dir); err != nil {
		return err
	}
	if err := checkOutDir("export: -out", *out); err != nil {
		return err
	}
	if err := checkExportDir(*out, *dir, *force); err != nil {
		return err
	}
	eng, _, err := newEngine("cpu", 1)
	if err != nil {
		return err
	}
	r, err := trainer.OpenRun(*dir, eng)
	if err != nil {
		return classify(fmt.Errorf("export: %w", err))
	}
	r.Trainer.UseFinal() // the averaged parameters, where the config averages them
	var fillErr error
	err = replaceDir(*out, func(tmp string) error {
		fillErr = trainer.Export(r.Trainer, tmp, r.Trainer.Epoch)
		return fillErr
	})
	if fillErr != nil {
		return fillErr
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stdout, "exported %s (epoch %d) to %s\n", r.Trainer.Cfg.Name, r.Trainer.Epoch, *out)
	return nil
}
