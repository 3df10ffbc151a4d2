package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/atomicfile"
)

// Files of a selection run (training.select), beside config.toml.
const (
	// CandidatesDir holds the candidate runs, c0, c1, ...
	CandidatesDir = "candidates"
	// SelectFile records the candidates' validation accuracies and the
	// one kept.
	SelectFile = "select.json"
)

// SelectConfig trains several candidate runs of one configuration, which
// differ only in their seed, and keeps the one with the highest
// validation accuracy after the last epoch: a run's result is then that
// candidate's. The test split plays no part in the choice.
type SelectConfig struct {
	// Candidates is the number of candidates: 0 (the default) trains one
	// run; otherwise at least 2. Candidate i (0-based) of a run with seed
	// s has seed s*Candidates + i, so that the candidates of seeds 0, 1,
	// 2, ... never share a seed.
	Candidates int `toml:"candidates"`
}

// Selects reports whether the configuration trains candidates.
func (c *Config) Selects() bool { return c.Training.Select.Candidates > 1 }

// Candidate returns the configuration of candidate i of cfg: cfg with the
// candidate's seed and without selection. A candidate trains as a run of
// that seed would alone, bit for bit.
func Candidate(cfg Config, i int) Config {
	c := cfg
	c.Seed = cfg.Seed*uint64(cfg.Training.Select.Candidates) + uint64(i)
	c.Training.Select = SelectConfig{}
	return c
}

// candidateDir is candidate i's run directory under a selection's.
func candidateDir(dir string, i int) string {
	return filepath.Join(dir, CandidatesDir, "c"+strconv.Itoa(i))
}

// Job is the training of one run directory: its run, or, where its
// configuration selects (training.select), its candidate runs in
// candidates/cI, of which Finish keeps the best.
type Job struct {
	// Dir is the run directory.
	Dir string
	// Cfg is the directory's configuration (config.toml).
	Cfg Config
	// Runs holds the run, or the candidates in order.
	Runs []*Run
}

// Selects reports whether the job trains candidates.
func (j *Job) Selects() bool { return j.Cfg.Selects() }

// NewJob is NewRun for a run directory that may select: with
// training.select it writes cfg to dir's config.toml and makes a new run
// per candidate under dir/candidates (init, when not nil, changes each
// candidate's initial parameters); otherwise it makes the run in dir.
// force replaces an old run in dir, as NewRun's does.
func NewJob(dir string, cfg Config, data Data, engine batch.Engine, force bool, init func(*Trainer) error) (*Job, error) {
	if !cfg.Selects() {
		r, err := NewRun(dir, cfg, data, engine, force, init)
		if err != nil {
			return nil, err
		}
		return &Job{Dir: dir, Cfg: cfg, Runs: []*Run{r}}, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, InputError{err}
	}
	exists, err := checkRunDir(dir, force)
	if err != nil {
		return nil, err
	}
	if exists {
		if err := clearRunDir(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	// config.toml first: a directory with it and without every candidate
	// is one whose making was cut short, which OpenJob completes.
	j := &Job{Dir: dir, Cfg: cfg}
	if err := j.writeConfig(); err != nil {
		return nil, err
	}
	for i := range cfg.Training.Select.Candidates {
		r, err := NewRun(candidateDir(dir, i), Candidate(cfg, i), data, engine, false, init)
		if err != nil {
			return nil, fmt.Errorf("candidate %d: %w", i, err)
		}
		j.Runs = append(j.Runs, r)
	}
	return j, nil
}

// writeConfig writes the job's config.toml.
func (j *Job) writeConfig() error {
	return atomicfile.Write(filepath.Join(j.Dir, ConfigFile), 0o644, j.Cfg.Encode)
}

// OpenJob is OpenRunOptions for a run directory that may select: it
// reopens the run, or every candidate at its checkpoint, with the
// configuration and data of dir's config.toml. A candidate's settings
// follow from config.toml; one whose checkpoint was trained with others
// is refused as OpenRun refuses an edited run (opt.Force applies them),
// and a candidate not made yet is made.
func OpenJob(dir string, engine batch.Engine, opt OpenOptions) (*Job, error) {
	cfg, err := Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, InputError{fmt.Errorf("open run: %w", err)}
	}
	data, err := LoadData(&cfg, dir)
	if err != nil {
		return nil, InputError{fmt.Errorf("open run: %w", err)}
	}
	return openJob(dir, cfg, data, engine, opt)
}

// OpenJobWith is OpenJob with the configuration and data given rather
// than read from config.toml.
func OpenJobWith(dir string, cfg Config, data Data, engine batch.Engine) (*Job, error) {
	return openJob(dir, cfg, data, engine, OpenOptions{})
}

func openJob(dir string, cfg Config, data Data, engine batch.Engine, opt OpenOptions) (*Job, error) {
	if !cfg.Selects() {
		r, err := openRun(dir, cfg, data, engine, opt)
		if err != nil {
			return nil, err
		}
		return &Job{Dir: dir, Cfg: cfg, Runs: []*Run{r}}, nil
	}
	j := &Job{Dir: dir, Cfg: cfg}
	n := cfg.Training.Select.Candidates
	if extra := candidateDir(dir, n); exists(extra) {
		return nil, InputError{fmt.Errorf("open run: %s holds candidate %s beyond the %d of training.select.candidates: set candidates back, or move the extra candidates away",
			dir, extra, n)}
	}
	for i := range n {
		cdir := candidateDir(dir, i)
		c := Candidate(cfg, i)
		var (
			r   *Run
			err error
		)
		if exists(filepath.Join(cdir, CheckpointFile)) || exists(filepath.Join(cdir, MetricsFile)) {
			r, err = openRun(cdir, c, data, engine, opt)
			if err == nil && len(r.Changes) > 0 {
				err = r.WriteConfig()
			}
		} else {
			r, err = NewRun(cdir, c, data, engine, true, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("candidate %d: %w", i, err)
		}
		j.Runs = append(j.Runs, r)
	}
	return j, nil
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Epoch returns the fewest epochs any of the job's runs has completed.
func (j *Job) Epoch() int {
	e := math.MaxInt
	for _, r := range j.Runs {
		e = min(e, r.Trainer.Epoch)
	}
	return e
}

// SetEpochs records a new training length in every config.toml of the
// job, so that a later plain resume continues to it.
func (j *Job) SetEpochs(n int) error {
	if j.Cfg.Training.Epochs == n {
		return nil
	}
	j.Cfg.Training.Epochs = n
	for _, r := range j.Runs {
		r.Trainer.Cfg.Training.Epochs = n
		if err := r.WriteConfig(); err != nil {
			return err
		}
	}
	if j.Selects() {
		return j.writeConfig()
	}
	return nil
}

// Selection is select.json: the candidates of a selection run and the
// one kept.
type Selection struct {
	// Criterion names what chose: the validation accuracy after the last
	// epoch (of the averaged parameters, where the config averages).
	Criterion string `json:"criterion"`
	// Winner is the index of the candidate kept.
	Winner     int               `json:"winner"`
	Candidates []SelectCandidate `json:"candidates"`
}

// SelectCandidate is one candidate of a Selection. The test accuracy is
// recorded for the record only: it played no part in the choice.
type SelectCandidate struct {
	Dir          string  `json:"dir"` // relative to the run directory
	Seed         uint64  `json:"seed"`
	ValAccuracy  float64 `json:"final_validation_accuracy"`
	TestAccuracy float64 `json:"test_accuracy"`
	Error        string  `json:"error,omitempty"`
}

// ReadSelection reads a selection run's select.json.
func ReadSelection(dir string) (Selection, error) {
	var s Selection
	raw, err := os.ReadFile(filepath.Join(dir, SelectFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("%s: %w", filepath.Join(dir, SelectFile), err)
	}
	if s.Winner < 0 || s.Winner >= len(s.Candidates) {
		return s, fmt.Errorf("%s: winner %d is not one of its %d candidates", filepath.Join(dir, SelectFile), s.Winner, len(s.Candidates))
	}
	return s, nil
}

// Finish finishes the job once its runs are trained; errs holds, per run,
// why it stopped early (nil: it trained through; errs may be nil). A
// plain run is finished by Run.Finish. A selection finishes every
// candidate that trained through, keeps the one with the highest final
// validation accuracy (the first of equals), writes select.json, and gives
// dir the winner's summary.json (with the run's name and seed, the
// winner's seed in selected_seed), metrics.csv and networks. It fails
// only when no candidate trained through, or on a write error.
func (j *Job) Finish(engineName string, errs []error) (Summary, error) {
	if errs == nil {
		errs = make([]error, len(j.Runs))
	}
	if !j.Selects() {
		if errs[0] != nil {
			return Summary{}, errs[0]
		}
		return j.Runs[0].Finish(engineName)
	}
	sel := Selection{Criterion: "final validation accuracy", Winner: -1}
	var (
		best   Summary
		failed []error
	)
	for i, r := range j.Runs {
		rel, _ := filepath.Rel(j.Dir, r.Dir)
		c := SelectCandidate{Dir: filepath.ToSlash(rel), Seed: r.Trainer.Cfg.Seed, ValAccuracy: -1, TestAccuracy: -1}
		err := errs[i]
		var s Summary
		if err == nil {
			s, err = r.Finish(engineName)
		}
		if err != nil {
			c.Error = err.Error()
			failed = append(failed, fmt.Errorf("candidate %d (%s): %w", i, r.Dir, err))
			sel.Candidates = append(sel.Candidates, c)
			continue
		}
		c.ValAccuracy, c.TestAccuracy = jsonSafe(s).FinalValAcc, jsonSafe(s).TestAccuracy
		if sel.Winner < 0 || c.ValAccuracy > sel.Candidates[sel.Winner].ValAccuracy {
			sel.Winner, best = i, s
		}
		sel.Candidates = append(sel.Candidates, c)
	}
	if sel.Winner < 0 {
		return Summary{}, fmt.Errorf("no candidate trained through: %w", errors.Join(failed...))
	}
	raw, err := json.MarshalIndent(sel, "", "  ")
	if err != nil {
		return Summary{}, fmt.Errorf("selection: %w", err)
	}
	win := j.Runs[sel.Winner].Dir
	for _, d := range []string{NetworkDir, BestNetworkDir} {
		if err := copyTree(filepath.Join(win, d), filepath.Join(j.Dir, d)); err != nil {
			return Summary{}, fmt.Errorf("selection: %w", err)
		}
	}
	if err := copyFile(filepath.Join(win, MetricsFile), filepath.Join(j.Dir, MetricsFile)); err != nil {
		return Summary{}, fmt.Errorf("selection: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(j.Dir, SelectFile), append(raw, '\n'), 0o644); err != nil {
		return Summary{}, fmt.Errorf("selection: %w", err)
	}
	s := best
	s.SelectedSeed, s.Candidates = s.Seed, len(j.Runs)
	s.Name, s.Seed = j.Cfg.Name, j.Cfg.Seed
	raw, err = json.MarshalIndent(jsonSafe(s), "", "  ")
	if err != nil {
		return s, fmt.Errorf("summary: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(j.Dir, SummaryFile), append(raw, '\n'), 0o644); err != nil {
		return s, err
	}
	return s, nil
}

// copyFile copies the file src to dst, atomically.
func copyFile(src, dst string) error {
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(dst, raw, 0o644)
}

// copyTree replaces the directory dst by a copy of the directory src
// (plain files, one level), or removes dst where src does not exist. The
// copy is filled beside dst and renamed into place, so that dst is never
// half written.
func copyTree(src, dst string) error {
	entries, err := os.ReadDir(src)
	if errors.Is(err, fs.ErrNotExist) {
		return os.RemoveAll(dst)
	}
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-copy")
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			return fmt.Errorf("copy %s: %s is not a plain file", src, e.Name())
		}
		raw, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), raw, 0o644); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// openWinner opens, for OpenRun on a selection run's directory, the
// candidate its select.json kept; a selection that has not chosen yet is
// refused with how to continue it.
func openWinner(dir string, cfg Config, data Data, engine batch.Engine, opt OpenOptions) (*Run, error) {
	sel, err := ReadSelection(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, InputError{fmt.Errorf("open run: %s is a selection run (training.select.candidates = %d) that has not chosen its candidate yet (no %s): "+
			"delgrad resume -run %s trains its candidates in %s and chooses",
			dir, cfg.Training.Select.Candidates, SelectFile, dir, filepath.Join(dir, CandidatesDir))}
	}
	if err != nil {
		return nil, InputError{fmt.Errorf("open run: %w", err)}
	}
	return openRun(filepath.Join(dir, filepath.FromSlash(sel.Candidates[sel.Winner].Dir)), Candidate(cfg, sel.Winner), data, engine, opt)
}
