package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/delgrad-go/delgrad/sweep"
	"github.com/delgrad-go/delgrad/trainer"
)

func sweepCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := newFlags("sweep", stdout)
	file := fl.String("file", "", "sweep file (TOML: base, seeds, [grid], ...); without it -out must hold a sweep already")
	out := fl.String("out", "", "sweep directory")
	task := fl.Int("task", -1, "run only this task (`N`, from 0), as a cluster task does")
	status := fl.String("status", "", "print how the sweep in `DIR` stands, per task and run")
	report := fl.String("report", "", "aggregate the sweep in `DIR`: report.md, report.csv and plots/")
	backend := fl.String("backend", "local", "local (run the tasks here, on -devices) or slurm (submit a job array)")
	devices := fl.String("devices", "auto", devicesUsage)
	device := fl.String("device", "", "the same as -devices (the other commands' flag): cpu, gpu or auto")
	workers := workersFlag(fl, "CPU workers of -devices cpu (and of auto without a GPU)")
	retry := fl.Bool("retry-failed", false, "retry the runs that failed before (they are skipped otherwise)")
	force := fl.Bool("force", false, "replace the sweep in -out by another sweep file's (runs whose configs change restart)")
	quiet := quietFlag(fl)
	if err := fl.parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("sweep: unexpected arguments %v", fl.Args())}
	}
	set := setFlags(fl.FlagSet)
	switch {
	case *status != "":
		if err := refuseWith("sweep", set, "status", []string{"file", "out", "task", "report", "backend", "devices", "device", "workers", "retry-failed", "force"}, "prints how the sweep stands"); err != nil {
			return err
		}
		return sweepStatus(*status, stdout)
	case *report != "":
		if err := refuseWith("sweep", set, "report", []string{"file", "out", "task", "backend", "devices", "device", "workers", "retry-failed", "force"}, "aggregates the sweep"); err != nil {
			return err
		}
		files, err := sweep.Report(*report)
		if err != nil {
			return classifySweep(fmt.Errorf("sweep -report: %w", err))
		}
		for _, f := range files {
			fmt.Fprintln(stdout, f)
		}
		return nil
	}
	if *out == "" {
		return usageError{errors.New("sweep: give -out DIR (with -file FILE to start a sweep), -status DIR or -report DIR")}
	}
	if set["device"] {
		if set["devices"] {
			return usageError{errors.New("sweep: give -devices or -device (its other name), not both")}
		}
		*devices = *device
	}
	if err := checkOutDir("sweep: -out", *out); err != nil {
		return err
	}
	var plan *sweep.Plan
	var err error
	if *file != "" {
		spec, err := sweep.ParseFile(*file)
		if err != nil {
			return usageError{fmt.Errorf("sweep: %w", err)}
		}
		if plan, err = sweep.Prepare(*out, spec, *force); err != nil {
			return classifySweep(err)
		}
	} else if plan, err = sweep.LoadPlan(*out); err != nil {
		return usageError{fmt.Errorf("%w; start a sweep with -file FILE", err)}
	}
	switch *backend {
	case "local":
	case "slurm":
		if set["task"] {
			return usageError{errors.New("sweep: -backend slurm submits every task: -task is what each cluster task runs (with -backend local)")}
		}
		if set["devices"] || set["device"] || set["workers"] {
			return usageError{errors.New("sweep: -backend slurm: each cluster task runs on what its [resources] give it (gpus > 0: its first GPU, else the CPU cores), not on -devices or -workers")}
		}
		bin, err := os.Executable()
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		abs, err := filepath.Abs(*out)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		id, err := sweep.SubmitSlurm(abs, plan, bin)
		if err != nil {
			return fmt.Errorf("sweep: -backend slurm: %w", err)
		}
		fmt.Fprintf(stdout, "submitted %s as Slurm job %s (%d tasks); delgrad sweep -status %s shows progress\n", *out, id, len(plan.Tasks), shellQuote(*out))
		return nil
	default:
		return usageError{fmt.Errorf("sweep: -backend %q: must be local or slurm", *backend)}
	}
	if set["task"] && (*task < 0 || *task >= len(plan.Tasks)) {
		return usageError{fmt.Errorf("sweep: -task %d: the sweep in %s has tasks 0..%d", *task, *out, len(plan.Tasks)-1)}
	}
	specs, err := parseDevices(*devices, *workers, gpuCount)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return sweepLocal(ctx, *out, plan, *task, localRun{specs: specs, auto: *devices == "auto", workers: *workers, retry: *retry, force: *force, quiet: *quiet}, stdout, stderr)
}

// classifySweep makes the sweep's input errors usage errors (exit code 2).
func classifySweep(err error) error {
	var ie sweep.InputError
	if errors.As(err, &ie) {
		return usageError{err}
	}
	return classify(err)
}

// localRun is how sweepLocal runs: the slots -devices asks for (auto:
// with the CPU, of workers, where no GPU can open its engine), and the
// flags.
type localRun struct {
	specs               []slotSpec
	auto                bool
	workers             int
	retry, force, quiet bool
}

// sweepLocal runs the plan's tasks (only task only, if >= 0) here, on the
// slots of lr.specs at once, printing a line per task started and ended,
// the populations' epochs and the sweep's progress, one line at a time.
func sweepLocal(ctx context.Context, dir string, plan *sweep.Plan, only int, lr localRun, stdout, stderr io.Writer) error {
	total := 0
	tasks := []int{}
	for i, t := range plan.Tasks {
		if only < 0 || i == only {
			tasks = append(tasks, i)
			total += len(t.Runs)
		}
	}
	cont := "delgrad sweep -out " + shellQuote(dir)
	if only >= 0 {
		cont += fmt.Sprintf(" -task %d", only)
	}
	slots := sweepSlots(lr.specs)
	var names []string
	for _, s := range slots {
		names = append(names, s.Name)
	}
	if !lr.quiet {
		on := "on " + names[0]
		if len(slots) > 1 {
			on = fmt.Sprintf("on %d slots at once: %s", len(slots), strings.Join(names, ", "))
		}
		fmt.Fprintf(stdout, "sweep %s: %d tasks, %d runs, %s\n", dir, len(tasks), total, on)
	}
	start := time.Now()
	var (
		mu                  sync.Mutex // one line at a time, and the counts
		ended, done, failed int
	)
	opt := sweep.LocalOptions{Slots: slots, RetryFailed: lr.retry, Force: lr.force}
	opt.Ended = func(r sweep.TaskRun) {
		mu.Lock()
		defer mu.Unlock()
		ended++
		done += len(r.Result.Done)
		failed += len(r.Result.Failed) + len(r.Result.Skipped)
		t := plan.Tasks[r.Task]
		switch {
		case r.Interrupted:
		case r.Err != nil:
			fmt.Fprintf(stderr, "delgrad: task %d (%s) on %s failed: %v\n", r.Task, t.Name, r.Slot, r.Err)
		case !lr.quiet:
			fmt.Fprintf(stdout, "task %d %s [%s]: %d of %d runs done (%d trained now), %d failed, %d skipped (failed before); %s; sweep: %d of %d tasks ended, %d of %d runs done, %d failed\n",
				r.Task, t.Name, r.Slot, len(r.Result.Done), len(t.Runs), len(r.Result.Trained), len(r.Result.Failed), len(r.Result.Skipped),
				r.Time.Round(10*time.Millisecond), ended, len(tasks), done, total, failed)
		}
	}
	opt.SlotFailed = func(e sweep.SlotError) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stderr, "delgrad: %v; it takes no more tasks (task %d goes to another slot)\n", e, e.Task)
	}
	if !lr.quiet {
		opt.Started = func(s sweep.TaskStart) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(stdout, "task %d %s [%s]: started, %d runs, on %s\n", s.Task, plan.Tasks[s.Task].Name, s.Slot, len(plan.Tasks[s.Task].Runs), s.Engine)
		}
		opt.Hooks = func(s sweep.TaskStart) trainer.PopHooks {
			return trainer.PopHooks{EpochEnd: func(e trainer.PopEpoch) {
				mu.Lock()
				defer mu.Unlock()
				reportFailures(stderr, e.Failures)
				fmt.Fprintf(stdout, "  task %d epoch %d/%d [%s]: %d members trained, %d done, %d failed, %.0f samples/s\n",
					s.Task, e.Epoch, e.Total, s.Slot, e.Trained, e.Done, e.Failed, e.SamplesPerSec)
			}}
		}
	}
	res, err := sweep.RunLocal(ctx, dir, plan, tasks, opt)
	if err != nil {
		return classifySweep(fmt.Errorf("sweep: %w", err))
	}
	if lr.auto && len(res.NotRun) > 0 && len(res.SlotErrors) > 0 && ctx.Err() == nil && !anyUsage(res.SlotErrors) {
		// -devices auto: no GPU could open its engine; the CPU runs the rest.
		cpu := sweepSlots([]slotSpec{{Name: "cpu", Workers: lr.workers}})
		fmt.Fprintf(stderr, "delgrad: -devices auto: no GPU could run the tasks; the CPU runs them\n")
		opt.Slots = cpu
		rest, err := sweep.RunLocal(ctx, dir, plan, res.NotRun, opt)
		if err != nil {
			return classifySweep(fmt.Errorf("sweep: %w", err))
		}
		res.Runs, res.Interrupted, res.NotRun = append(res.Runs, rest.Runs...), rest.Interrupted, rest.NotRun
		res.SlotErrors = append(res.SlotErrors, rest.SlotErrors...)
	}
	var failures, skipped []sweep.Failure
	for _, r := range res.Runs {
		failures = append(failures, r.Result.Failed...)
		skipped = append(skipped, r.Result.Skipped...)
	}
	sort.Slice(failures, func(a, b int) bool { return failures[a].Run < failures[b].Run })
	sort.Slice(skipped, func(a, b int) bool { return skipped[a].Run < skipped[b].Run })
	for _, f := range failures {
		fmt.Fprintf(stderr, "delgrad: %s failed at epoch %d: %s\n", filepath.Join(dir, f.Run), f.Epoch, f.Error)
	}
	if ctx.Err() != nil && (len(res.Interrupted) > 0 || len(res.NotRun) > 0) {
		var where []string
		for _, i := range res.Interrupted {
			where = append(where, fmt.Sprintf("%d (%s)", i, plan.Tasks[i].Name))
		}
		msg := "before any task started"
		switch len(where) {
		case 0:
		case 1:
			msg = "in task " + where[0] + ": its runs are checkpointed"
		default:
			msg = "in tasks " + strings.Join(where, ", ") + ": their runs are checkpointed"
		}
		return fmt.Errorf("%w %s; %d of %d runs done; continue with: %s", errInterrupted, msg, done, total, cont)
	}
	if len(skipped) > 0 {
		var names []string
		for _, f := range skipped {
			names = append(names, f.Run)
		}
		fmt.Fprintf(stderr, "delgrad: skipped %d runs that failed before (%s); retry them with: %s -retry-failed\n", len(skipped), strings.Join(names, ", "), cont)
	}
	fmt.Fprintf(stdout, "sweep %s: %d of %d runs done, %d failed, %d skipped; %s\n", dir, done, total, len(failures), len(skipped), time.Since(start).Round(10*time.Millisecond))
	if bad := res.Failed(); len(bad) > 0 {
		var errs []error
		input := true
		for _, r := range bad {
			errs = append(errs, fmt.Errorf("task %d (%s): %w", r.Task, plan.Tasks[r.Task].Name, r.Err))
			input = input && isInput(r.Err)
		}
		err := fmt.Errorf("sweep: %d of %d tasks failed (the others' runs are kept): fix the cause, then: %s: %w", len(bad), len(tasks), cont, errors.Join(errs...))
		if input {
			return usageError{err}
		}
		return err
	}
	if len(res.NotRun) > 0 {
		var errs []error
		for _, e := range res.SlotErrors {
			errs = append(errs, e)
		}
		err := fmt.Errorf("sweep: %d tasks did not run: no slot could open its engine: %w", len(res.NotRun), errors.Join(errs...))
		if anyUsage(res.SlotErrors) {
			return usageError{err}
		}
		return err
	}
	if len(failures) > 0 {
		return fmt.Errorf("sweep: %d runs failed (listed above, and in %s): fix the cause, then: %s -retry-failed", len(failures), filepath.Join(dir, sweep.FailuresDir), cont)
	}
	if len(skipped) == 0 && done == total && !lr.quiet {
		fmt.Fprintf(stdout, "aggregate with: delgrad sweep -report %s\n", shellQuote(dir))
	}
	return nil
}

// isInput says that err is the sweep's or a config's input error (the user
// must change something first: exit code 2).
func isInput(err error) bool {
	var ie sweep.InputError
	var te trainer.InputError
	return errors.As(err, &ie) || errors.As(err, &te)
}

// anyUsage says that a slot failed on the user's setting (such as a bad
// DELGRAD_GPU_WARPS), not on its device.
func anyUsage(errs []sweep.SlotError) bool {
	for _, e := range errs {
		var ue usageError
		if errors.As(e.Err, &ue) {
			return true
		}
	}
	return false
}

// sweepStatus prints how each task and run of the sweep in dir stands.
func sweepStatus(dir string, stdout io.Writer) error {
	st, err := sweep.Status(dir)
	if err != nil {
		return classifySweep(fmt.Errorf("sweep -status: %w", err))
	}
	// A sweep submitted to Slurm: each task's state in the job array.
	slurm := map[int]sweep.TaskState{}
	job, jerr := sweep.LoadSlurmJob(dir)
	if jerr == nil {
		states, err := sweep.SlurmStatus(dir)
		if err != nil {
			return fmt.Errorf("sweep -status: Slurm job %s: %w", job.JobID, err)
		}
		for _, s := range states {
			slurm[s.Index] = s
		}
		fmt.Fprintf(stdout, "Slurm job %s, submitted %s\n", job.JobID, job.Submitted.Format("2006-01-02 15:04:05"))
	}
	count := map[string]int{}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, ts := range st {
		note := ""
		if ts.Running != "" {
			note = " (running: " + ts.Running + ")"
		}
		if s, ok := slurm[ts.Task.Index]; ok {
			note += " [slurm: " + s.State
			if s.State == sweep.StateFailed {
				note += fmt.Sprintf(", exit code %d", s.ExitCode)
			}
			note += "]"
		}
		fmt.Fprintf(tw, "task %d\t%s%s\n", ts.Task.Index, ts.Task.Name, note)
		for _, r := range ts.Runs {
			count[r.State]++
			line := fmt.Sprintf("  %s\t%s\t%d/%d epochs", r.Run, r.State, r.Epochs, r.Total)
			switch {
			case r.Summary != nil:
				line += fmt.Sprintf("\ttest %.2f%%, best-validation test %.2f%%", 100*r.Summary.TestAccuracy, 100*r.Summary.BestValTestAccuracy)
			case r.Failure != nil:
				line += "\t" + r.Failure.Error
			}
			fmt.Fprintln(tw, line)
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d done, %d running, %d unfinished, %d failed\n", count["done"], count["running"], count["unfinished"], count["failed"])
	return nil
}
