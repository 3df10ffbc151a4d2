package sweep

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/atomicfile"
	"github.com/delgrad-go/delgrad/trainer"
)

// Options configure RunTask.
type Options struct {
	// Engine trains the task's population; EngineName names it (and its
	// device) in the runs' summaries and the task's running marker.
	Engine     batch.Engine
	EngineName string
	// RetryFailed retries the runs an earlier attempt recorded as failed;
	// without it they are skipped (and listed in TaskResult.Skipped).
	RetryFailed bool
	// Force restarts a run whose config.toml differs from its point's
	// config (after the sweep was replaced with Prepare's force); without
	// it such a run fails.
	Force bool
	// Hooks receive the population's progress.
	Hooks trainer.PopHooks
}

// Failure is a run that failed: where and why.
type Failure struct {
	Run   string `json:"run"`
	Epoch int    `json:"epoch"`
	Error string `json:"error"`
	Time  string `json:"time"`
}

// TaskResult says how a task's runs stand after RunTask.
type TaskResult struct {
	// Done lists the finished runs (earlier or now), Trained those that
	// finished now.
	Done, Trained []string
	// Failed lists the runs that failed now, Skipped those that had failed
	// before and were not retried.
	Failed, Skipped []Failure
}

// RunTask runs task i of the sweep in dir: it keeps the runs that are
// finished (summary.json of the asked epochs), resumes the unfinished ones
// from their checkpoints, creates the missing ones, and trains them as one
// population, then finishes each (summary, networks, plots). A run that
// fails to start or to train is recorded in FailuresDir/taskI.json and the
// others go on; recorded runs are retried only with opt.RetryFailed. When
// ctx is done it stops after the population's epoch under way, with every
// member checkpointed, and returns an error wrapping ctx's cause.
func RunTask(ctx context.Context, dir string, plan *Plan, i int, opt Options) (TaskResult, error) {
	var res TaskResult
	if i < 0 || i >= len(plan.Tasks) {
		return res, InputError{fmt.Errorf("sweep: task %d: the sweep has tasks 0..%d", i, len(plan.Tasks)-1)}
	}
	t := plan.Tasks[i]
	if t.Point == "" || len(t.Seeds) != len(t.Runs) {
		return res, InputError{fmt.Errorf("sweep: %s: task %d names no point or seeds: the plan was not written by delgrad sweep", filepath.Join(dir, PlanFile), i)}
	}
	cfg, err := LoadPointConfig(dir, t.Point)
	if err != nil {
		return res, err
	}
	epochs := cfg.Training.Epochs
	fails, err := LoadFailures(dir, i)
	if err != nil {
		return res, err
	}
	var (
		data   trainer.Data
		loaded bool
		jobs   []*trainer.Job
		names  []string
	)
	fail := func(run string, epoch int, err error) {
		f := Failure{Run: run, Epoch: epoch, Error: err.Error(), Time: time.Now().Format(time.RFC3339)}
		fails[run] = f
		res.Failed = append(res.Failed, f)
	}
	for j, run := range t.Runs {
		rdir := filepath.Join(dir, run)
		if f, ok := fails[run]; ok && !opt.RetryFailed {
			res.Skipped = append(res.Skipped, f)
			continue
		}
		if s, err := ReadSummary(rdir); err == nil && s.Epochs == epochs {
			res.Done = append(res.Done, run)
			delete(fails, run)
			continue
		}
		if !loaded {
			if data, err = trainer.LoadData(&cfg, filepath.Join(dir, t.Point)); err != nil {
				return res, InputError{fmt.Errorf("sweep: grid point %s: %w", t.Point, err)}
			}
			loaded = true
		}
		c := cfg
		c.Seed = t.Seeds[j]
		j, err := openOrNew(rdir, c, data, opt)
		if err != nil {
			fail(run, 0, err)
			continue
		}
		if e := mostEpochs(j); e > epochs {
			fail(run, e, fmt.Errorf("the run has %d epochs, the sweep asks for %d", e, epochs))
			continue
		}
		jobs = append(jobs, j)
		names = append(names, run)
	}
	if len(jobs) > 0 {
		if err := trainPopulation(ctx, dir, i, jobs, names, epochs, opt, fail, &res); err != nil {
			if e := saveFailures(dir, i, fails); e != nil {
				err = errors.Join(err, e)
			}
			return res, err
		}
		for _, run := range res.Trained {
			delete(fails, run)
		}
	}
	return res, saveFailures(dir, i, fails)
}

// mostEpochs returns the most epochs any run of j has trained.
func mostEpochs(j *trainer.Job) int {
	e := 0
	for _, r := range j.Runs {
		e = max(e, r.Trainer.Epoch)
	}
	return e
}

// trainPopulation trains the task's runs (a selection's: its candidates)
// together and finishes them.
func trainPopulation(ctx context.Context, dir string, i int, jobs []*trainer.Job, names []string, epochs int, opt Options,
	fail func(string, int, error), res *TaskResult) error {
	p, err := trainer.NewPopJobs(jobs)
	if err != nil {
		return fmt.Errorf("sweep: task %d: %w", i, err)
	}
	unmark, err := markRunning(dir, i, opt.EngineName)
	if err != nil {
		return err
	}
	defer unmark()
	if err := p.TrainContext(ctx, epochs, opt.Hooks); err != nil {
		for k, j := range jobs {
			if errs := p.JobErrs(k); !j.Selects() && errs[0] != nil {
				fail(names[k], j.Epoch(), errs[0])
			}
		}
		return fmt.Errorf("sweep: task %d: %w", i, err)
	}
	for k, j := range jobs {
		if errs := p.JobErrs(k); !j.Selects() && errs[0] != nil {
			fail(names[k], j.Epoch(), errs[0])
			continue
		}
		if _, err := j.Finish(opt.EngineName, p.JobErrs(k)); err != nil {
			fail(names[k], j.Epoch(), fmt.Errorf("finish: %w", err))
			continue
		}
		res.Done = append(res.Done, names[k])
		res.Trained = append(res.Trained, names[k])
	}
	return nil
}

// openOrNew reopens the run in rdir at its checkpoint (a selection's
// candidates at theirs), or creates it with the config c when it has none.
func openOrNew(rdir string, c trainer.Config, data trainer.Data, opt Options) (*trainer.Job, error) {
	path := filepath.Join(rdir, trainer.ConfigFile)
	if _, err := os.Stat(path); err != nil {
		return trainer.NewJob(rdir, c, data, opt.Engine, false, nil)
	}
	rc, err := trainer.Load(path)
	if err != nil {
		return nil, err
	}
	var a, b bytes.Buffer
	if err := errors.Join(rc.Encode(&a), c.Encode(&b)); err != nil {
		return nil, err
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		if !opt.Force {
			return nil, fmt.Errorf("%s differs from its grid point's config (%s): %s; -force restarts the run with the point's config",
				path, PointConfigFile, lineDiff(a.Bytes(), b.Bytes()))
		}
		return trainer.NewJob(rdir, c, data, opt.Engine, true, nil)
	}
	return trainer.OpenJobWith(rdir, rc, data, opt.Engine)
}

// ReadSummary reads a run directory's summary.json.
func ReadSummary(rdir string) (trainer.Summary, error) {
	var s trainer.Summary
	raw, err := os.ReadFile(filepath.Join(rdir, trainer.SummaryFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(rdir, trainer.SummaryFile), err)
	}
	return s, nil
}

// failuresPath is task i's failures file.
func failuresPath(dir string, i int) string {
	return filepath.Join(dir, FailuresDir, fmt.Sprintf("task%d.json", i))
}

// LoadFailures reads the failed runs recorded for task i, by run.
func LoadFailures(dir string, i int) (map[string]Failure, error) {
	m := map[string]Failure{}
	raw, err := os.ReadFile(failuresPath(dir, i))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var fs []Failure
	if err := json.Unmarshal(raw, &fs); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", failuresPath(dir, i), err)
	}
	for _, f := range fs {
		m[f.Run] = f
	}
	return m, nil
}

// saveFailures writes task i's failed runs (removing the file for none).
func saveFailures(dir string, i int, m map[string]Failure) error {
	if len(m) == 0 {
		if err := os.Remove(failuresPath(dir, i)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sweep: %w", err)
		}
		return nil
	}
	var fs []Failure
	for _, f := range m {
		fs = append(fs, f)
	}
	sort.Slice(fs, func(a, b int) bool { return fs[a].Run < fs[b].Run })
	raw, err := json.MarshalIndent(fs, "", "  ")
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, FailuresDir), 0o755); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	if err := atomicfile.WriteFile(failuresPath(dir, i), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return nil
}

// running is the marker of a task under way: who runs it, and on what
// engine (device).
type running struct {
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Started string `json:"started"`
	Engine  string `json:"engine,omitempty"`
}

func runningPath(dir string, i int) string {
	return filepath.Join(dir, RunningDir, fmt.Sprintf("task%d.json", i))
}

// markRunning writes task i's marker, naming the engine that runs it; the
// function returned removes it.
func markRunning(dir string, i int, engine string) (func(), error) {
	host, _ := os.Hostname()
	raw, _ := json.Marshal(running{Host: host, PID: os.Getpid(), Started: time.Now().Format(time.RFC3339), Engine: engine})
	if err := os.MkdirAll(filepath.Join(dir, RunningDir), 0o755); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	if err := atomicfile.WriteFile(runningPath(dir, i), raw, 0o644); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	return func() { os.Remove(runningPath(dir, i)) }, nil
}

// runningNote says who runs task i, or "" when no live process does (a
// marker of a process gone on this host is stale).
func runningNote(dir string, i int) string {
	raw, err := os.ReadFile(runningPath(dir, i))
	if err != nil {
		return ""
	}
	var m running
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	if host, _ := os.Hostname(); host == m.Host {
		if p, err := os.FindProcess(m.PID); err != nil || p.Signal(syscall.Signal(0)) != nil {
			return ""
		}
	}
	note := fmt.Sprintf("pid %d on %s since %s", m.PID, m.Host, m.Started)
	if m.Engine != "" {
		note += ", on " + m.Engine
	}
	return note
}

// RunStatus is how one run of a sweep stands.
type RunStatus struct {
	Run string
	// State is done, running, unfinished or failed.
	State string
	// Epochs is the number of epochs trained (metrics.csv's rows), of Total.
	Epochs, Total int
	// Summary holds the results of a done run.
	Summary *trainer.Summary
	// Failure is set for a failed run.
	Failure *Failure
}

// TaskStatus is how one task stands: its runs, and who runs it.
type TaskStatus struct {
	Task    Task
	Running string
	Runs    []RunStatus
}

// Status reports every task and run of the sweep in dir.
func Status(dir string) ([]TaskStatus, error) {
	plan, err := LoadPlan(dir)
	if err != nil {
		return nil, InputError{err}
	}
	var out []TaskStatus
	for i, t := range plan.Tasks {
		ts := TaskStatus{Task: t, Running: runningNote(dir, i)}
		total := 0
		if cfg, err := LoadPointConfig(dir, t.Point); err == nil {
			total = cfg.Training.Epochs
		}
		fails, err := LoadFailures(dir, i)
		if err != nil {
			return nil, err
		}
		for _, run := range t.Runs {
			rdir := filepath.Join(dir, run)
			rs := RunStatus{Run: run, Total: total, Epochs: runEpochs(rdir), State: "unfinished"}
			if s, err := ReadSummary(rdir); err == nil && s.Epochs == total {
				rs.State, rs.Summary = "done", &s
			} else if f, ok := fails[run]; ok {
				rs.State, rs.Failure = "failed", &f
			} else if ts.Running != "" {
				rs.State = "running"
			}
			ts.Runs = append(ts.Runs, rs)
		}
		out = append(out, ts)
	}
	return out, nil
}

// runEpochs counts the epochs a run has trained: its metrics.csv's rows,
// or, for a selection run (training.select) that has not chosen yet, the
// fewest of its candidates'.
func runEpochs(rdir string) int {
	if _, err := os.Stat(filepath.Join(rdir, trainer.MetricsFile)); err == nil {
		return metricsRows(rdir)
	}
	cands, _ := filepath.Glob(filepath.Join(rdir, trainer.CandidatesDir, "c*"))
	if len(cands) == 0 {
		return 0
	}
	n := -1
	for _, c := range cands {
		if e := metricsRows(c); n < 0 || e < n {
			n = e
		}
	}
	return n
}

// metricsRows counts the epochs in a run's metrics.csv.
func metricsRows(rdir string) int {
	f, err := os.Open(filepath.Join(rdir, trainer.MetricsFile))
	if err != nil {
		return 0
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		return 0
	}
	n := 0
	for _, r := range rows[1:] {
		if _, err := strconv.Atoi(r[0]); err == nil {
			n++
		}
	}
	return n
}
