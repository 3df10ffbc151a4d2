package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	backend := fl.String("backend", "local", "local (run the tasks here, in order) or slurm (submit a job array)")
	device := deviceFlag(fl, "cpu, gpu or auto")
	workers := workersFlag(fl, "CPU workers")
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
		if err := refuseWith("sweep", set, "status", []string{"file", "out", "task", "report", "backend", "device", "workers", "retry-failed", "force"}, "prints how the sweep stands"); err != nil {
			return err
		}
		return sweepStatus(*status, stdout)
	case *report != "":
		if err := refuseWith("sweep", set, "report", []string{"file", "out", "task", "backend", "device", "workers", "retry-failed", "force"}, "aggregates the sweep"); err != nil {
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
	eng, engName, err := newEngine(*device, *workers)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return sweepLocal(ctx, *out, plan, *task, sweep.Options{Engine: eng, EngineName: engName, RetryFailed: *retry, Force: *force}, *quiet, stdout, stderr)
}

// classifySweep makes the sweep's input errors usage errors (exit code 2).
func classifySweep(err error) error {
	var ie sweep.InputError
	if errors.As(err, &ie) {
		return usageError{err}
	}
	return classify(err)
}

// sweepLocal runs the plan's tasks (only task only, if >= 0) here, in
// order, printing a line per task and the sweep's progress.
func sweepLocal(ctx context.Context, dir string, plan *sweep.Plan, only int, opt sweep.Options, quiet bool, stdout, stderr io.Writer) error {
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
	if !quiet {
		fmt.Fprintf(stdout, "sweep %s: %d tasks, %d runs, on %s\n", dir, len(tasks), total, opt.EngineName)
	}
	start := time.Now()
	var done, failed int
	var failures, skipped []sweep.Failure
	for n, i := range tasks {
		t := plan.Tasks[i]
		o := opt
		if !quiet {
			o.Hooks.EpochEnd = func(e trainer.PopEpoch) {
				reportFailures(stderr, e.Failures)
				fmt.Fprintf(stdout, "  task %d epoch %d/%d: %d members trained, %d done, %d failed, %.0f samples/s\n",
					i, e.Epoch, e.Total, e.Trained, e.Done, e.Failed, e.SamplesPerSec)
			}
		}
		ts := time.Now()
		res, err := sweep.RunTask(ctx, dir, plan, i, o)
		done += len(res.Done)
		failed += len(res.Failed)
		failures = append(failures, res.Failed...)
		skipped = append(skipped, res.Skipped...)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return fmt.Errorf("%w in task %d (%s): its runs are checkpointed; %d of %d runs done; continue with: %s", errInterrupted, i, t.Name, done, total, cont)
			}
			return classifySweep(err)
		}
		if !quiet {
			fmt.Fprintf(stdout, "task %d/%d %s: %d of %d runs done (%d trained now), %d failed, %d skipped (failed before); %s; sweep: %d of %d runs done, %d failed\n",
				n+1, len(tasks), t.Name, len(res.Done), len(t.Runs), len(res.Trained), len(res.Failed), len(res.Skipped),
				time.Since(ts).Round(10*time.Millisecond), done, total, failed+len(skipped))
		}
	}
	for _, f := range failures {
		fmt.Fprintf(stderr, "delgrad: %s failed at epoch %d: %s\n", filepath.Join(dir, f.Run), f.Epoch, f.Error)
	}
	if len(skipped) > 0 {
		var names []string
		for _, f := range skipped {
			names = append(names, f.Run)
		}
		fmt.Fprintf(stderr, "delgrad: skipped %d runs that failed before (%s); retry them with: %s -retry-failed\n", len(skipped), strings.Join(names, ", "), cont)
	}
	fmt.Fprintf(stdout, "sweep %s: %d of %d runs done, %d failed, %d skipped; %s\n", dir, done, total, len(failures), len(skipped), time.Since(start).Round(10*time.Millisecond))
	if len(failures) > 0 {
		return fmt.Errorf("sweep: %d runs failed (listed above, and in %s): fix the cause, then: %s -retry-failed", len(failures), filepath.Join(dir, sweep.FailuresDir), cont)
	}
	if len(skipped) == 0 && done == total && !quiet {
		fmt.Fprintf(stdout, "aggregate with: delgrad sweep -report %s\n", shellQuote(dir))
	}
	return nil
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
