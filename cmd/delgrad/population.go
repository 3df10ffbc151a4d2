package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/sweep"
	"github.com/delgrad-go/delgrad/trainer"
)

// parseSeeds reads a -seeds value (see sweep.ParseSeeds).
func parseSeeds(s string) ([]uint64, error) { return sweep.ParseSeeds(s) }

// seedDir names a population member's run directory under the
// population's directory.
func seedDir(root string, seed uint64) string {
	return filepath.Join(root, fmt.Sprintf("seed%d", seed))
}

// popTrain makes a run per seed under root (cfg with that seed) and trains
// them as one population.
func popTrain(ctx context.Context, cfg trainer.Config, seeds []uint64, root string, data trainer.Data, eng engineSpec, force bool,
	init func(*trainer.Trainer) error, initPath string, quiet bool, stdout, stderr io.Writer) error {
	var jobs []*trainer.Job
	for _, s := range seeds {
		c := cfg
		c.Seed = s
		dir := seedDir(root, s)
		j, err := trainer.NewJob(dir, c, data, eng.engine, force, init)
		if err != nil {
			return classify(fmt.Errorf("train: seed %d: %w", s, err))
		}
		if err := writeJobInit(j, initPath); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		jobs = append(jobs, j)
	}
	if !quiet {
		fmt.Fprintf(stdout, "training %s as a population of %d (seeds %s%s, %d epochs, %d training samples each) on %s into %s\n",
			cfg.Name, len(seeds)*len(jobs[0].Runs), seedList(seeds), candidatesNote(cfg), cfg.Training.Epochs, data.Train.N, eng.name, root)
		if note := jobs[0].Runs[0].Trainer.DeviceNote; note != "" {
			fmt.Fprintln(stdout, note)
		}
	}
	return popTrainJobs(ctx, filepath.Clean(root), jobs, cfg.Training.Epochs, eng.name, quiet, stdout, stderr)
}

// candidatesNote says, for a config that selects, how many candidates
// each seed trains.
func candidatesNote(cfg trainer.Config) string {
	if !cfg.Selects() {
		return ""
	}
	return fmt.Sprintf(", %d candidates each, the best on validation kept", cfg.Training.Select.Candidates)
}

// engineSpec is an engine and its name for reports.
type engineSpec struct {
	engine batch.Engine
	name   string
}

// seedList writes seeds compactly (see sweep.SeedList).
func seedList(seeds []uint64) string { return sweep.SeedList(seeds) }

// popTrainJobs trains the runs of jobs (runs, or selections' candidates)
// as a population to epochs, showing the population's progress, finishes
// each job whose runs trained through (a selection: those of its
// candidates that did) and prints a line per job and the population's
// summary. It fails when a job failed (after finishing the others). When
// ctx is done it stops after the population epoch under way, checkpoints
// the members and says how to continue (the population in root).
func popTrainJobs(ctx context.Context, root string, jobs []*trainer.Job, epochs int, engName string, quiet bool, stdout, stderr io.Writer) error {
	p, err := trainer.NewPopJobs(jobs)
	if err != nil {
		return classify(fmt.Errorf("train: %w", err))
	}
	runs := p.Runs
	var bar *progressbar.ProgressBar
	h := trainer.PopHooks{}
	if !quiet && isTerminal(stderr) {
		h.Batch = func(done, total int, loss, acc float64) {
			if bar == nil {
				bar = samplesBar(total, "population epoch", stderr)
			}
			bar.Describe(fmt.Sprintf("population epoch: loss %.4f acc %.2f%% (member mean)", loss, 100*acc))
			bar.Set(done)
		}
	}
	printEvery := max(1, epochs/20)
	h.EpochEnd = func(e trainer.PopEpoch) {
		if bar != nil {
			bar.Finish()
			bar = nil
		}
		reportFailures(stderr, e.Failures)
		if !quiet && (e.Epoch%printEvery == 0 || e.Epoch == epochs || e.Epoch == 1) {
			fmt.Fprintf(stdout, "epoch %4d/%d  members: %d trained, %d done, %d failed  %.0f samples/s  best validation: best member %.2f%%, worst %.2f%%\n",
				e.Epoch, epochs, e.Trained, e.Done, e.Failed, e.SamplesPerSec, 100*e.BestVal, 100*e.WorstVal)
		}
	}
	start := time.Now()
	stopNote := context.AfterFunc(ctx, func() {
		fmt.Fprintf(stderr, "\ndelgrad: interrupt: finishing the population's epoch under way, then saving checkpoints; interrupt again to quit at once (the last checkpoints stay intact)\n")
	})
	defer stopNote()
	if err := p.TrainContext(ctx, epochs, h); err != nil {
		if errors.Is(err, context.Canceled) {
			lo, hi := math.MaxInt, 0
			for _, r := range runs {
				lo, hi = min(lo, r.Checkpointed()), max(hi, r.Checkpointed())
			}
			return fmt.Errorf("%w: %d members saved at epochs %d to %d in %s; continue with: delgrad resume -run %s", errInterrupted, len(runs), max(lo, 0), hi, root, shellQuote(root))
		}
		return fmt.Errorf("train: %w", err)
	}
	var accs []float64
	var failed []string
	for i, j := range jobs {
		s, err := j.Finish(engName, p.JobErrs(i))
		if err != nil {
			if j.Selects() || p.JobErrs(i)[0] == nil {
				fmt.Fprintf(stderr, "delgrad: %s: %v\n", j.Dir, err)
			}
			failed = append(failed, j.Dir)
			continue
		}
		accs = append(accs, s.TestAccuracy)
		if !quiet {
			best, chosen := "", ""
			if s.BestValEpoch > 0 {
				best = fmt.Sprintf("; %.2f%% at epoch %d, the best validation epoch (%.2f%%)", 100*s.BestValTestAccuracy, s.BestValEpoch, 100*s.BestValAcc)
			}
			if s.Candidates > 0 {
				chosen = fmt.Sprintf(" (candidate seed %d of %d kept, final validation %.2f%%)", s.SelectedSeed, s.Candidates, 100*s.FinalValAcc)
			}
			fmt.Fprintf(stdout, "%s seed %d: test accuracy %.2f%% after %s%s%s\n", s.Name, s.Seed, 100*s.TestAccuracy, plural(s.Epochs, "epoch"), chosen, best)
		}
	}
	if len(accs) > 0 {
		st := sweep.NewStats(accs)
		fmt.Fprintf(stdout, "%s: %d members, test accuracy %.2f%% +- %.2f%% (SD), worst %.2f%%, best %.2f%%; %s; results in %s\n",
			jobs[0].Cfg.Name, len(accs), 100*st.Mean, 100*st.SD, 100*st.Min, 100*st.Max,
			time.Since(start).Round(10*time.Millisecond), root)
	}
	if len(failed) > 0 {
		return fmt.Errorf("train: %d of %d members failed (%s): see the messages above; the others are complete", len(failed), len(jobs), strings.Join(failed, ", "))
	}
	return nil
}

// reportFailures says on stderr which members of a population failed in
// its latest epoch.
func reportFailures(stderr io.Writer, fs []trainer.MemberError) {
	for _, f := range fs {
		fmt.Fprintf(stderr, "delgrad: %s failed and stopped (the others go on): %v\n", f.Run.Dir, f.Err)
	}
}

// isPopulationDir reports whether dir holds a population (member run
// directories seedN/ and no run of its own).
func isPopulationDir(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, trainer.ConfigFile)); err == nil {
		return false
	}
	m, _ := filepath.Glob(filepath.Join(dir, "seed*", trainer.ConfigFile))
	return len(m) > 0
}

// popResume reopens the members of the population in dir and trains those
// not finished (fewer epochs than asked, or no summary.json yet) to
// epochs (0: their configs' epochs, which must then agree). force is
// resume's -force, for every member.
func popResume(ctx context.Context, dir string, epochs int, eng engineSpec, force, quiet bool, stdout, stderr io.Writer) error {
	cfgs, _ := filepath.Glob(filepath.Join(dir, "seed*", trainer.ConfigFile))
	var jobs []*trainer.Job
	total := epochs
	for _, c := range cfgs {
		j, err := openJob(filepath.Dir(c), eng, force, false, stderr)
		if err != nil {
			return err
		}
		want := j.Cfg.Training.Epochs
		if epochs == 0 {
			if total != 0 && want != total {
				return usageError{fmt.Errorf("resume: the members' configs ask for %d and %d epochs: give -epochs", total, want)}
			}
			total = want
		}
		jobs = append(jobs, j)
	}
	var todo []*trainer.Job
	for _, j := range jobs {
		if err := checkEpochs(j, total); err != nil {
			return err
		}
		_, err := os.Stat(filepath.Join(j.Dir, trainer.SummaryFile))
		if j.Epoch() == total && err == nil {
			continue
		}
		if err := j.SetEpochs(total); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		todo = append(todo, j)
	}
	if len(todo) == 0 {
		fmt.Fprintf(stdout, "%s: all %d members have %d epochs and their results; nothing to do (give -epochs to train on)\n", dir, len(jobs), total)
		return nil
	}
	if !quiet {
		fmt.Fprintf(stdout, "resuming %d of %d members of %s to epoch %d on %s\n", len(todo), len(jobs), dir, total, eng.name)
	}
	return popTrainJobs(ctx, filepath.Clean(dir), todo, total, eng.name, quiet, stdout, stderr)
}

// openJob reopens the run directory dir for resume (force: its -force),
// saying on stderr what -force changed in each of its runs (the config
// file of dir itself named short, as config.toml, where short is set).
func openJob(dir string, eng engineSpec, force, short bool, stderr io.Writer) (*trainer.Job, error) {
	j, err := trainer.OpenJob(dir, eng.engine, trainer.OpenOptions{Force: force})
	if err != nil {
		return nil, classify(fmt.Errorf("resume: %w", err))
	}
	for _, r := range j.Runs {
		if len(r.Changes) > 0 {
			name := filepath.Join(r.Dir, trainer.ConfigFile)
			if short && r.Dir == dir {
				name = trainer.ConfigFile
			}
			fmt.Fprintf(stderr, "resume: -force: applying the changes to %s since the checkpoint: %s\n", name, trainer.FormatChanges(r.Changes))
		}
		if r.Restarted {
			fmt.Fprintf(stderr, "resume: -force: %s had no %s: restarting at epoch 0 (its history and results were removed)\n", r.Dir, trainer.CheckpointFile)
		}
	}
	return j, nil
}

// checkEpochs refuses to resume a job to total epochs when one of its runs
// has more.
func checkEpochs(j *trainer.Job, total int) error {
	for _, r := range j.Runs {
		if r.Trainer.Epoch > total {
			return usageError{fmt.Errorf("resume: %s already has %d epochs; give -epochs of at least %d", r.Dir, r.Trainer.Epoch, r.Trainer.Epoch)}
		}
	}
	return nil
}

// notPopulation refuses a population's directory where a command wants
// one run, naming a member to give instead.
func notPopulation(cmd, dir string) error {
	if dir == "" || !isPopulationDir(dir) {
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(dir, "seed*", trainer.ConfigFile))
	return usageError{fmt.Errorf("%s: %s holds a population of %d runs (train -seeds), not one run: give one of its members, e.g. -run %s",
		cmd, dir, len(m), filepath.Dir(m[0]))}
}

// plural writes n and a noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
