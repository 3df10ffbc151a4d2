package trainer

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/atomicfile"
)

// Files of a run directory.
const (
	ConfigFile     = "config.toml"
	MetricsFile    = "metrics.csv"
	CheckpointFile = "checkpoint.bin"
	SummaryFile    = "summary.json"
	InitFile       = "init.txt" // where -init parameters came from
	NetworkDir     = "network"
	BestNetworkDir = "network_best"
	PlotsDir       = "plots"
	RobustnessDir  = "robustness" // delgrad robustness's default output
)

// ErrRunExists is returned when a run directory already holds a run and
// overwriting was not asked for.
var ErrRunExists = errors.New("run directory already holds a run")

// Run is a training run and its directory.
type Run struct {
	// Dir is the run directory.
	Dir string
	// Trainer holds the run's state.
	Trainer *Trainer

	// Changes lists the settings of config.toml that differ from those
	// the checkpoint was trained with, which OpenOptions.Force applied.
	Changes []ConfigChange
	// Restarted is set when OpenOptions.Force restarted a run that had
	// lost its checkpoint at epoch 0.
	Restarted bool

	checkpointed int // epoch of the last checkpoint on disk, -1 for none
}

// InputError marks a failure caused by the configuration, the data or an
// existing run directory, rather than by the machine: the user must change
// something before trying again.
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// NewRun creates dir, which must not exist or be empty, or hold a run and
// force be set: the old run's files (everything a run writes) are then
// removed once the new run has been built, and a directory that also holds
// other files is refused. It writes the resolved configuration and an
// epoch-0 checkpoint into it. init, when not nil, may change the new
// trainer's initial parameters (see Trainer.InitFrom) before anything is
// written.
func NewRun(dir string, cfg Config, data Data, engine batch.Engine, force bool, init func(*Trainer) error) (*Run, error) {
	exists, err := checkRunDir(dir, force)
	if err != nil {
		return nil, err
	}
	t, err := NewTrainer(cfg, data, engine)
	if err != nil {
		return nil, InputError{err}
	}
	if init != nil {
		if err := init(t); err != nil {
			return nil, InputError{err}
		}
	}
	if exists {
		if err := clearRunDir(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	r := &Run{Dir: dir, Trainer: t, checkpointed: -1}
	if err := r.WriteConfig(); err != nil {
		return nil, err
	}
	// A run has a checkpoint from its start: one that is missing later was
	// lost, and OpenRun does not mistake the run for a new one.
	if err := r.checkpoint(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkpoint saves the trainer's state and remembers its epoch.
func (r *Run) checkpoint() error {
	if err := r.Trainer.SaveCheckpoint(filepath.Join(r.Dir, CheckpointFile)); err != nil {
		return err
	}
	r.checkpointed = r.Trainer.Epoch
	return nil
}

// Checkpointed returns the epoch of the run's last checkpoint on disk, or
// -1 if it has none.
func (r *Run) Checkpointed() int { return r.checkpointed }

// WriteConfig writes the trainer's configuration to the run's config.toml.
func (r *Run) WriteConfig() error {
	return atomicfile.Write(filepath.Join(r.Dir, ConfigFile), 0o644, r.Trainer.Cfg.Encode)
}

// OpenOptions relax the checks of OpenRunOptions.
type OpenOptions struct {
	// Force opens a run whose config.toml differs from the settings its
	// checkpoint was trained with: the file's settings apply, Run.Changes
	// lists them and the checkpoint is rewritten with them. It also opens
	// a run that lost its checkpoint after training epochs: the run
	// restarts at epoch 0, its history and results are removed and
	// Run.Restarted is set.
	Force bool
}

// ErrNoCheckpoint is returned when a run that has trained epochs has no
// checkpoint: its parameters are lost.
var ErrNoCheckpoint = errors.New("the run has no " + CheckpointFile)

// OpenRun reopens the run in dir at its last checkpoint (or at its start,
// if it has none and no trained epochs), with the data its configuration
// names. It refuses a run whose config.toml differs from the settings of
// its checkpoint (a *ConfigChangedError; training.epochs may differ) and
// one whose checkpoint is missing although it has a history
// (ErrNoCheckpoint).
func OpenRun(dir string, engine batch.Engine) (*Run, error) {
	return OpenRunOptions(dir, engine, OpenOptions{})
}

// OpenRunOptions is OpenRun with its checks relaxed by opt.
func OpenRunOptions(dir string, engine batch.Engine, opt OpenOptions) (*Run, error) {
	cfg, err := Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, InputError{fmt.Errorf("open run: %w", err)}
	}
	data, err := LoadData(&cfg, dir)
	if err != nil {
		return nil, InputError{fmt.Errorf("open run: %w", err)}
	}
	return openRun(dir, cfg, data, engine, opt)
}

// OpenRunWith is OpenRun with the configuration and data given rather than
// read from the run's config.toml.
func OpenRunWith(dir string, cfg Config, data Data, engine batch.Engine) (*Run, error) {
	return openRun(dir, cfg, data, engine, OpenOptions{})
}

func openRun(dir string, cfg Config, data Data, engine batch.Engine, opt OpenOptions) (*Run, error) {
	if cfg.Selects() {
		return openWinner(dir, cfg, data, engine, opt)
	}
	t, err := NewTrainer(cfg, data, engine)
	if err != nil {
		return nil, InputError{fmt.Errorf("open run: %w", err)}
	}
	r := &Run{Dir: dir, Trainer: t, checkpointed: -1}
	ck := filepath.Join(dir, CheckpointFile)
	if _, err := os.Stat(ck); errors.Is(err, fs.ErrNotExist) {
		if err := r.lostCheckpoint(opt.Force); err != nil {
			return nil, err
		}
		return r, nil
	}
	c, err := readCheckpoint(ck)
	if err != nil {
		return nil, InputError{fmt.Errorf("open run: %w", err)}
	}
	changes, err := diffConfigs(c.Config, t.Cfg)
	if err != nil {
		return nil, InputError{fmt.Errorf("open run: %s: %w", ck, err)}
	}
	if len(changes) > 0 && !opt.Force {
		return nil, InputError{fmt.Errorf("open run: %w", &ConfigChangedError{Dir: dir, Epoch: c.Epoch, Changes: changes})}
	}
	if err := t.restore(c); err != nil {
		return nil, InputError{fmt.Errorf("open run: checkpoint %s: %w", ck, err)}
	}
	r.checkpointed = t.Epoch
	if len(changes) > 0 {
		// Record the settings now in force, so that they are accepted once.
		r.Changes = changes
		if err := r.checkpoint(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// lostCheckpoint handles a run directory without a checkpoint: fine for a
// run that has trained no epoch, refused for one that has (unless force,
// which restarts it at epoch 0 and removes its history and results).
func (r *Run) lostCheckpoint(force bool) error {
	f, ok := hasHistory(r.Dir)
	if !ok {
		return nil
	}
	if !force {
		return InputError{fmt.Errorf("open run: %s: %w, yet it has trained epochs (%s): their parameters are lost; "+
			"restore %s, or delgrad resume -force restarts the run at epoch 0 and replaces its history and results", r.Dir, ErrNoCheckpoint, f, CheckpointFile)}
	}
	if _, err := os.Stat(filepath.Join(r.Dir, InitFile)); err == nil {
		return InputError{fmt.Errorf("open run: %s: %w, and the run started from the -init network named in %s, whose parameters were only in it: "+
			"start the run again with delgrad train -init NET -out %s -force", r.Dir, ErrNoCheckpoint, InitFile, r.Dir)}
	}
	for _, e := range []string{MetricsFile, SummaryFile, NetworkDir, BestNetworkDir, PlotsDir, RobustnessDir} {
		if err := os.RemoveAll(filepath.Join(r.Dir, e)); err != nil {
			return fmt.Errorf("restart run: %w", err)
		}
	}
	r.Restarted = true
	return r.checkpoint()
}

// Hooks receive progress from Run.Train; nil fields are skipped.
type Hooks struct {
	// EpochStart is called before each epoch (1-based) of total.
	EpochStart func(epoch, total int)
	// Batch is called after each batch.
	Batch Progress
	// EpochEnd is called with each epoch's metrics.
	EpochEnd func(m EpochMetrics)
}

// Train runs epochs until the trainer has completed epochs of them, writing
// metrics.csv after every epoch and a checkpoint every checkpoint_every
// epochs and after the last one.
func (r *Run) Train(epochs int, h Hooks) error {
	return r.TrainContext(context.Background(), epochs, h)
}

// TrainContext is Train that stops when ctx is done: it checks ctx before
// each epoch, so an epoch under way is finished, never cut short. On a stop
// it checkpoints the last completed epoch (unless that checkpoint is on
// disk already), so that OpenRun continues from it bit-identically, and
// returns an error that wraps context.Cause(ctx) (errors.Is reports
// context.Canceled for a canceled ctx); Checkpointed then tells the epoch.
func (r *Run) TrainContext(ctx context.Context, epochs int, h Hooks) error {
	t := r.Trainer
	for t.Epoch < epochs {
		if ctx.Err() != nil {
			if t.Epoch > 0 && r.checkpointed != t.Epoch {
				if err := r.checkpoint(); err != nil {
					return fmt.Errorf("stopped after epoch %d (%w), but its checkpoint failed: %w", t.Epoch, context.Cause(ctx), err)
				}
			}
			return fmt.Errorf("stopped after epoch %d: %w", t.Epoch, context.Cause(ctx))
		}
		if h.EpochStart != nil {
			h.EpochStart(t.Epoch+1, epochs)
		}
		m, err := t.RunEpoch(h.Batch)
		if err != nil {
			return err
		}
		if err := r.record(epochs); err != nil {
			return err
		}
		if h.EpochEnd != nil {
			h.EpochEnd(m)
		}
	}
	return nil
}

// record writes metrics.csv after an epoch, and a checkpoint every
// checkpoint_every epochs and after the last of epochs.
func (r *Run) record(epochs int) error {
	t := r.Trainer
	if err := r.WriteMetrics(); err != nil {
		return err
	}
	if t.Epoch%t.Cfg.Training.CheckpointEvery == 0 || t.Epoch == epochs {
		return r.checkpoint()
	}
	return nil
}

// WriteMetrics writes metrics.csv from the trainer's history.
func (r *Run) WriteMetrics() error {
	t := r.Trainer
	return atomicfile.Write(filepath.Join(r.Dir, MetricsFile), 0o644, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		head := []string{"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
		for _, g := range t.GroupNames() {
			head = append(head, "lr_"+g)
		}
		head = append(head, "bumps", "clipped", "samples_per_s", "seconds")
		if err := cw.Write(head); err != nil {
			return err
		}
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
		for _, m := range t.History {
			row := []string{strconv.Itoa(m.Epoch), f(m.TrainLoss), f(m.TrainAcc), f(m.ValLoss), f(m.ValAcc)}
			for _, lr := range m.LR {
				row = append(row, f(lr))
			}
			row = append(row, strconv.Itoa(m.Bumps), strconv.Itoa(m.Clipped), f(m.SamplesPerSec), f(m.Seconds))
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
}

// Summary is summary.json: the outcome of a run.
type Summary struct {
	Name         string  `json:"name"`
	Seed         uint64  `json:"seed"`
	Dataset      string  `json:"dataset"`
	Epochs       int     `json:"epochs"`
	TestAccuracy float64 `json:"test_accuracy"`
	TestLoss     float64 `json:"test_loss"`
	FinalValAcc  float64 `json:"final_validation_accuracy"`
	BestValAcc   float64 `json:"best_validation_accuracy"`
	BestValEpoch int     `json:"best_validation_epoch"`
	// BestValTestAccuracy is the test accuracy of the parameters of the
	// best validation epoch (model selection on the validation split);
	// TestAccuracy is that of the final epoch (the reference's protocol).
	BestValTestAccuracy float64 `json:"best_validation_test_accuracy"`
	// SelectedSeed and Candidates are set for a selection run
	// (training.select): the seed of the candidate kept, of how many.
	SelectedSeed  uint64  `json:"selected_seed,omitempty"`
	Candidates    int     `json:"candidates,omitempty"`
	TrainSeconds  float64 `json:"train_seconds"`
	SamplesPerSec float64 `json:"mean_train_samples_per_s"`
	Bumps         int     `json:"bumps"`
	Parameters    int     `json:"parameters"`
	Engine        string  `json:"engine"`
	GoVersion     string  `json:"go_version"`
	Finished      string  `json:"finished"`
}

// Finish evaluates the test split and writes summary.json, the exported
// network and the plots. It returns the summary.
func (r *Run) Finish(engineName string) (Summary, error) {
	t := r.Trainer
	var ev Eval
	err := t.WithFinal(func() error {
		var err error
		ev, err = t.Evaluate(t.Data.Test)
		return err
	})
	if err != nil {
		return Summary{}, fmt.Errorf("test: %w", err)
	}
	s := Summary{Name: t.Cfg.Name, Seed: t.Cfg.Seed, Dataset: t.Cfg.Data.Name, Epochs: t.Epoch,
		TestAccuracy: ev.Accuracy, TestLoss: ev.Loss,
		Engine: engineName, GoVersion: runtime.Version(), Finished: time.Now().UTC().Format(time.RFC3339)}
	for _, p := range t.params {
		s.Parameters += len(p)
	}
	sps := 0.0
	for _, m := range t.History {
		s.TrainSeconds += m.Seconds
		s.Bumps += m.Bumps
		sps += m.SamplesPerSec
		s.FinalValAcc = m.ValAcc
	}
	s.BestValAcc, s.BestValEpoch, s.BestValTestAccuracy = math.NaN(), t.Best.Epoch, math.NaN()
	if n := len(t.History); n > 0 {
		s.SamplesPerSec = sps / float64(n)
	}
	if t.Best.Epoch > 0 {
		s.BestValAcc = t.Best.ValAcc
		err := t.WithParams(t.Best, func() error {
			bev, err := t.Evaluate(t.Data.Test)
			if err != nil {
				return err
			}
			s.BestValTestAccuracy = bev.Accuracy
			return Export(t, filepath.Join(r.Dir, BestNetworkDir), t.Best.Epoch)
		})
		if err != nil {
			return s, fmt.Errorf("best validation epoch: %w", err)
		}
	}
	raw, err := json.MarshalIndent(jsonSafe(s), "", "  ")
	if err != nil {
		return s, fmt.Errorf("summary: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(r.Dir, SummaryFile), append(raw, '\n'), 0o644); err != nil {
		return s, err
	}
	if err := t.WithFinal(func() error { return Export(t, filepath.Join(r.Dir, NetworkDir), t.Epoch) }); err != nil {
		return s, err
	}
	if err := r.Plot(ev); err != nil {
		return s, err
	}
	return s, nil
}

// jsonSafe replaces the non-finite floats JSON cannot hold by -1.
func jsonSafe(s Summary) Summary {
	for _, p := range []*float64{&s.TestAccuracy, &s.TestLoss, &s.FinalValAcc, &s.BestValAcc, &s.BestValTestAccuracy, &s.SamplesPerSec} {
		if math.IsNaN(*p) || math.IsInf(*p, 0) {
			*p = -1
		}
	}
	return s
}
