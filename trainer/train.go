package trainer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
	"github.com/delgrad-go/delgrad/trainer/dataset"
	"gorgonia.org/tensor"
)

// EpochMetrics is one row of metrics.csv.
type EpochMetrics struct {
	Epoch     int     // 1-based
	TrainLoss float64 // mean over the batches that took a step (NaN if none)
	TrainAcc  float64 // over all training samples, bumped batches included
	ValLoss   float64
	ValAcc    float64
	// LR holds the learning rate of each parameter group (see GroupNames).
	LR []float64
	// Bumps counts the batches that bumped weights instead of a step.
	Bumps int
	// Clipped counts the (sample, neuron) weight gradients max_dw_norm zeroed.
	Clipped int
	// SamplesPerSec is the training throughput (forward, backward, step).
	SamplesPerSec float64
	// Seconds is the wall time of the epoch, validation included.
	Seconds float64
}

// Trainer runs the training loop of one configuration.
type Trainer struct {
	// Cfg is the validated configuration.
	Cfg Config
	// Model holds the network and its trainable parameters.
	Model *Model
	// Opt is the optimiser state.
	Opt *Optimizer
	// Engine computes forward and backward passes.
	Engine batch.Engine
	// Data holds the training, validation and test splits.
	Data Data
	// Epoch is the number of completed epochs.
	Epoch int
	// History holds the metrics of the completed epochs.
	History []EpochMetrics
	// Best holds the parameters of the epoch with the highest validation
	// accuracy so far (the earliest such epoch), for model selection.
	Best Snapshot
	// Avg is the average of the parameters over the epochs averaged so
	// far (training.average; Avg.Epoch counts them, 0: none yet).
	Avg Snapshot
	// BumpValue and LastBumped carry the weight-bumping state across
	// batches: the current bump and the layer bumped by the previous batch
	// (-1 for none).
	BumpValue  float64
	LastBumped int

	pcg  *rand.PCG
	rng  *rand.Rand
	loss Loss

	// sub runs the forward passes on a simulated chip when the config has
	// a [bss2] section; chip is the run's own chip (training with
	// train_chip = "fixed", and every evaluation).
	sub  *bss2model.Substrate
	chip *bss2model.Chip

	// stepper runs whole training steps on the engine's device when the
	// engine offers it (batch.StepEngine) and the configuration fits: a
	// population stepper of one.
	stepper batch.PopStepper
	// DeviceNote says where the training steps run, for reports.
	DeviceNote string
	// benchPos is where TrainSteps takes its next batch.
	benchPos int

	params, grads [][]float64 // optimiser groups: per layer weights then delays
	groupNames    []string
	baseLR        []float64
	gw, gt        [][]float64

	tr    batch.Trace
	g     *batch.Gradients
	dOut  []float64
	inBuf []float64
	// x and dy wrap the current batch's input times and dL/d(output
	// times) for the population passes.
	x, dy *tensor.Dense
}

// Snapshot is a copy of the trainable parameters after an epoch.
type Snapshot struct {
	Epoch    int
	ValAcc   float64
	W, Theta [][]float64
}

func clone(s [][]float64) [][]float64 {
	out := make([][]float64, len(s))
	for i := range s {
		out[i] = append([]float64(nil), s[i]...)
	}
	return out
}

// WithParams runs fn with the model's parameters temporarily replaced by
// those of snapshot s (and restores them afterwards).
func (t *Trainer) WithParams(s Snapshot, fn func() error) error {
	m := t.Model
	if err := m.checkShapes(s.W, s.Theta); err != nil {
		return fmt.Errorf("snapshot of epoch %d: %w", s.Epoch, err)
	}
	saveW, saveT := clone(m.W), clone(m.Theta)
	m.setParams(s.W, s.Theta)
	err := fn()
	m.setParams(saveW, saveT)
	return err
}

// Data is the three splits of a dataset.
type Data struct {
	Train, Validation, Test *dataset.Set
}

// NewTrainer builds the model of cfg for data and seeds everything from
// cfg.Seed. engine computes forward and backward passes.
func NewTrainer(cfg Config, data Data, engine batch.Engine) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if data.Train == nil || data.Validation == nil || data.Test == nil {
		return nil, errors.New("trainer: a training, validation and test split are needed")
	}
	out := cfg.Layers[len(cfg.Layers)-1].Size
	for _, s := range []*dataset.Set{data.Train, data.Validation, data.Test} {
		if s.N < 1 {
			return nil, fmt.Errorf("trainer: split %q is empty", s.Name)
		}
		if s.F != data.Train.F {
			return nil, fmt.Errorf("trainer: split %q has %d features, the training split %d", s.Name, s.F, data.Train.F)
		}
		if s.Classes > out {
			return nil, fmt.Errorf("trainer: split %q has %d classes but the output layer has %d neurons: set the last [[layers]] size to at least %d", s.Name, s.Classes, out, s.Classes)
		}
	}
	init := rand.New(rand.NewPCG(cfg.Seed, 0x64656c67726164)) // "delgrad"
	m, err := NewModel(&cfg, data.Train.F, init)
	if err != nil {
		return nil, err
	}
	t := &Trainer{Cfg: cfg, Model: m, Engine: engine, Data: data,
		BumpValue: cfg.Training.BumpValue, LastBumped: -1}
	t.pcg = rand.NewPCG(cfg.Seed, 0x747261696e) // "train"
	t.rng = rand.New(t.pcg)
	nc := cfg.neuron(len(cfg.Layers) - 1)
	t.loss = newLoss(cfg.Training.Loss, *nc.TauSyn)
	// Optimiser groups: every layer's weights, then every layer's delays.
	var sizes []int
	addGroup := func(name string, p, g []float64, lr *float64) {
		t.params = append(t.params, p)
		t.grads = append(t.grads, g)
		t.groupNames = append(t.groupNames, name)
		rate := cfg.Training.LearningRate
		if lr != nil {
			rate = *lr
		}
		t.baseLR = append(t.baseLR, rate)
		sizes = append(sizes, len(p))
	}
	for l := range cfg.Layers {
		t.gw = append(t.gw, make([]float64, len(m.W[l])))
		t.gt = append(t.gt, make([]float64, len(m.Theta[l])))
		addGroup(fmt.Sprintf("w%d", l), m.W[l], t.gw[l], cfg.Layers[l].LearningRate)
	}
	for l := range cfg.Layers {
		if m.Theta[l] != nil {
			addGroup(fmt.Sprintf("d%d", l), m.Theta[l], t.gt[l], cfg.Layers[l].Delay.LearningRate)
		}
	}
	t.Opt = newOptimizer(&cfg.Training, sizes)
	t.g = batch.NewGradients(m.Net, 1)
	if cfg.BSS2 != nil {
		if err := fitsChip(&cfg, m.Net); err != nil {
			return nil, err
		}
		if t.sub, err = bss2model.NewSubstrate(*cfg.BSS2, engine); err != nil {
			return nil, fmt.Errorf("trainer: %w", err)
		}
		// The chip's terms and root finder use the engine's CPU workers
		// (all cores for a device engine).
		if w, ok := engine.(interface{ Workers() int }); ok {
			t.sub.Workers = w.Workers()
		}
		t.chip = bss2model.NewChip(cfg.BSS2, m.Net, rand.New(rand.NewPCG(cfg.Seed, 0x63686970))) // "chip"
	}
	t.initDevice()
	return t, nil
}

// GroupNames names the optimiser's parameter groups: wL for layer L's
// weights, dL for its delays.
func (t *Trainer) GroupNames() []string { return t.groupNames }

// LR returns the learning rates of epoch e (0-based).
func (t *Trainer) LR(e int) []float64 {
	lr := make([]float64, len(t.baseLR))
	for i, b := range t.baseLR {
		lr[i] = stepLR(b, t.Cfg.Training.Schedule, e)
	}
	return lr
}

// Progress receives updates during an epoch: samples done of total, and
// the running training loss and accuracy.
type Progress func(done, total int, loss, acc float64)

// RunEpoch trains one epoch, evaluates the validation split and appends
// the metrics to History: the epoch of a population of one
// (Population.RunEpoch), on the host or on the device.
func (t *Trainer) RunEpoch(progress Progress) (EpochMetrics, error) {
	mets, errs := (&Population{Members: []*Trainer{t}}).RunEpoch([]int{0}, progress)
	return mets[0], errs[0]
}

// gather fills in (len(labels) x F) and labels with the training split's
// rows row(0), row(1), ... and adds the input noise, drawn in sample order.
func (t *Trainer) gather(in []float64, labels []int, row func(i int) int) {
	set, F := t.Data.Train, t.Data.Train.F
	for i := range labels {
		r := row(i)
		copy(in[i*F:(i+1)*F], set.Row(r))
		labels[i] = set.Labels[r]
	}
	t.addNoise(in[:len(labels)*F])
}

// addNoise adds the configured input-time noise to in: t -> |t + n|.
func (t *Trainer) addNoise(in []float64) {
	tc := &t.Cfg.Training
	if tc.NoiseStd != 0 || tc.NoiseMean != 0 {
		for i, v := range in {
			v += tc.NoiseMean + tc.NoiseStd*t.rng.NormFloat64()
			in[i] = math.Abs(v)
		}
	}
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// step runs one batch: forward, the bump check, and either a weight bump
// or backward, an optimiser step, delay rectification and weight clipping
// (the reference's order). It reports the batch loss, whether a step was
// taken, the number of correct predictions and of clipped gradients. It
// is the population step (popStep) of a population of one.
func (t *Trainer) step(in []float64, labels []int, lr []float64) (float64, bool, int, int, error) {
	res := []stepResult{{}}
	popStep(t.Engine, []*Trainer{t}, [][]float64{in}, [][]int{labels}, [][]float64{lr}, res)
	r := res[0]
	return r.loss, r.stepped, r.correct, r.clipped, r.err
}

// stepResult is one member's outcome of a population step.
type stepResult struct {
	loss             float64
	stepped          bool
	correct, clipped int
	err              error
}

// popStep runs one batch of every member ts[m] (input times in[m],
// labels[m], learning rates lr[m]) as Trainer.step does for one trainer,
// with the members' forward and backward passes as population passes on
// eng, and writes each member's outcome to res[m]. A member that fails
// gets its error there; the others go on.
func popStep(eng batch.Engine, ts []*Trainer, in [][]float64, labels [][]int, lr [][]float64, res []stepResult) {
	// Forward. The hardware-aware members run their passes on their chip
	// models, the others as one population pass on eng.
	var pop, chips []int
	var runs []chipRun
	for m, t := range ts {
		t.Model.Sync()
		x, err := batch.TimesFrom(len(labels[m]), t.Model.Net.Inputs, in[m])
		if err != nil {
			res[m].err = err
			continue
		}
		t.x = x
		if t.sub != nil {
			chips = append(chips, m)
			runs = append(runs, chipRun{t: t, x: x, chip: t.trainChip(), rng: t.rng})
			continue
		}
		pop = append(pop, m)
	}
	for i, err := range forwardChips(runs) {
		res[chips[i]].err = err
	}
	popPass(ts, pop, res, func(ms []int) error {
		nets, xs, trs := make([]*batch.Network, len(ms)), make([]*tensor.Dense, len(ms)), make([]*batch.Trace, len(ms))
		for i, m := range ms {
			nets[i], xs[i], trs[i] = ts[m].Model.Net, ts[m].x, &ts[m].tr
		}
		return batch.ForwardPop(eng, nets, xs, trs)
	})
	// The bump check, then the loss gradient of the members that step.
	pop = pop[:0]
	for m, t := range ts {
		if res[m].err != nil {
			continue
		}
		for i, p := range batch.Predict(t.tr.Output()) {
			if p == labels[m][i] {
				res[m].correct++
			}
		}
		if t.Cfg.Training.BumpValue > 0 {
			if l := t.bumpLayer(); l >= 0 {
				t.bump(l)
				continue
			}
		}
		t.LastBumped = -1
		if res[m].loss, res[m].err = t.lossGrad(labels[m]); res[m].err == nil {
			pop = append(pop, m)
		}
	}
	popPass(ts, pop, res, func(ms []int) error {
		nets, trs := make([]*batch.Network, len(ms)), make([]*batch.Trace, len(ms))
		dys, gs := make([]*tensor.Dense, len(ms)), make([]*batch.Gradients, len(ms))
		for i, m := range ms {
			nets[i], trs[i], dys[i], gs[i] = ts[m].Model.Net, &ts[m].tr, ts[m].dy, ts[m].g
		}
		return batch.BackwardPop(eng, nets, trs, dys, gs)
	})
	// The optimiser step.
	for _, m := range pop {
		if res[m].err != nil {
			continue
		}
		t := ts[m]
		for _, c := range t.g.Clipped {
			res[m].clipped += c
		}
		t.Model.ParamGrads(t.g, t.gw, t.gt)
		if c := t.Cfg.Training.GradClip; c > 0 {
			clipNorm(t.grads, c)
		}
		t.Opt.Update(t.params, t.grads, lr[m])
		t.Model.Rectify()
		if c := t.Cfg.Training.ClipWeights; c > 0 {
			t.Model.ClipWeights(c)
		}
		if err := t.Model.CheckFinite(); err != nil {
			res[m].err = fmt.Errorf("training diverged: %w: lower the learning rate", err)
			continue
		}
		res[m].stepped = true
	}
}

// clipNorm scales the gradient g (one slice per parameter group) down to
// the global L2 norm c where its norm is larger, and reports whether it
// did. The sum runs over the groups in order, so that a run gives the
// same bits on every engine.
func clipNorm(g [][]float64, c float64) bool {
	ss := 0.0
	for _, gi := range g {
		for _, v := range gi {
			ss += v * v
		}
	}
	n := math.Sqrt(ss)
	if !(n > c) {
		return false
	}
	f := c / n
	for _, gi := range g {
		for i := range gi {
			gi[i] *= f
		}
	}
	return true
}

// popPass runs pass on the members ms of a population as one population
// pass. When it fails, it runs them one by one, so that the error lands
// on the member that caused it (res[m].err) and the others' results
// stand: members never interact, so a member's pass alone gives the same
// bits as in the population.
func popPass(ts []*Trainer, ms []int, res []stepResult, pass func(ms []int) error) {
	if len(ms) == 0 || pass(ms) == nil {
		return
	}
	for _, m := range ms {
		res[m].err = pass([]int{m})
	}
}

// lossGrad computes the batch-mean loss of the last forward pass and its
// gradient with respect to the output times, into t.dy.
func (t *Trainer) lossGrad(labels []int) (float64, error) {
	b := len(labels)
	K := t.Model.Net.Outputs()
	t.dOut = grow(t.dOut, b*K)
	ot := t.tr.Output().Float64s()
	loss := 0.0
	for i := 0; i < b; i++ {
		loss += t.loss.Sample(ot[i*K:(i+1)*K], labels[i], t.dOut[i*K:(i+1)*K])
	}
	inv := 1 / float64(b)
	for i := range t.dOut {
		t.dOut[i] *= inv
	}
	dy, err := batch.TimesFrom(b, K, t.dOut)
	if err != nil {
		return 0, err
	}
	t.dy = dy
	return loss * inv, nil
}

// bumpLayer returns the earliest layer whose fraction of silent (sample,
// neuron) pairs in the current trace exceeds its max_missing, or -1.
func (t *Trainer) bumpLayer() int {
	silent := make([]int, len(t.Model.Net.Layers))
	for l := range silent {
		for _, v := range t.tr.Times[l+1].Float64s() {
			if math.IsInf(v, 1) || math.IsNaN(v) {
				silent[l]++
			}
		}
	}
	return t.overMissing(silent, t.tr.Batch())
}

// overMissing returns the earliest layer whose count of silent (sample,
// neuron) pairs in a batch of b samples is a larger fraction than its
// max_missing, or -1.
func (t *Trainer) overMissing(silent []int, b int) int {
	for l, n := range silent {
		if float64(n)/float64(b*t.Model.Net.Layers[l].Out) > t.Cfg.maxMissing(l) {
			return l
		}
	}
	return -1
}

// nextBump records a bump of layer l and returns its value: the base bump,
// doubled on each consecutive bump of the same layer.
func (t *Trainer) nextBump(l int) float64 {
	tc := &t.Cfg.Training
	if tc.BumpDoubling && l == t.LastBumped {
		t.BumpValue *= 2
	} else {
		t.BumpValue = tc.BumpValue
	}
	t.LastBumped = l
	return t.BumpValue
}

func (t *Trainer) bump(l int) {
	tc := &t.Cfg.Training
	t.nextBump(l)
	lay := &t.Model.Net.Layers[l]
	w := t.Model.W[l]
	if !tc.BumpTargeted {
		for j := range w {
			w[j] += t.BumpValue
		}
		return
	}
	ts := t.tr.Times[l+1].Float64s()
	silent := make([]bool, lay.Out)
	for i, v := range ts {
		if math.IsInf(v, 1) || math.IsNaN(v) {
			silent[i%lay.Out] = true
		}
	}
	for r := 0; r < lay.Rows(); r++ {
		for k, s := range silent {
			if s {
				w[r*lay.Out+k] += t.BumpValue
			}
		}
	}
}

// Eval is the result of evaluating a split.
type Eval struct {
	Loss, Accuracy float64
	// Outputs holds the output spike times, N x K row-major.
	Outputs []float64
	// Pred holds the predicted class per sample (-1: no output spike).
	Pred []int
}

// Evaluate runs the network on a whole split in batches of
// eval_batch_size, without input noise. A hardware-aware run is evaluated
// on its own chip, with trial-to-trial noise drawn from a generator seeded
// afresh for every call, so that evaluating changes no training state and
// gives the same figures every time. It is the evaluation of a population
// of one.
func (t *Trainer) Evaluate(set *dataset.Set) (Eval, error) {
	evs, errs := evaluatePop([]*Trainer{t}, []*dataset.Set{set})
	return evs[0], errs[0]
}

// CheckChip reports whether the network of the hardware-aware config c
// ([bss2]) for data fits on one chip (bss2model.Params.Fit), as NewTrainer
// checks before any training; nil for a config without [bss2].
func CheckChip(c *Config, data Data) error {
	if c.BSS2 == nil {
		return nil
	}
	if data.Train == nil {
		return fmt.Errorf("trainer: no training data")
	}
	m, err := NewModel(c, data.Train.F, rand.New(rand.NewPCG(c.Seed, 0)))
	if err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	return fitsChip(c, m.Net)
}

func fitsChip(c *Config, net *batch.Network) error {
	if err := c.BSS2.Fit(net); err != nil {
		return fmt.Errorf("trainer: config %s cannot run on one chip ([bss2]): %w", c.Name, err)
	}
	return nil
}

// averaging reports whether epoch e (1-based) is averaged.
func (t *Trainer) averaging(e int) bool {
	a := &t.Cfg.Training.Average
	return a.Type != "none" && e >= a.StartEpoch
}

// updateAverage adds the current parameters, those at the end of epoch
// t.Epoch+1, to the average where that epoch is averaged.
func (t *Trainer) updateAverage() {
	if !t.averaging(t.Epoch + 1) {
		return
	}
	m, a := t.Model, &t.Avg
	if a.Epoch == 0 {
		t.Avg = Snapshot{Epoch: 1, W: clone(m.W), Theta: clone(m.Theta)}
		return
	}
	a.Epoch++
	f := 1 / float64(a.Epoch) // mean: avg += (p - avg) / n
	if t.Cfg.Training.Average.Type == "ema" {
		f = 1 - t.Cfg.Training.Average.Decay
	}
	for _, pair := range [][2][][]float64{{a.W, m.W}, {a.Theta, m.Theta}} {
		for l := range pair[0] {
			for i, p := range pair[1][l] {
				pair[0][l][i] += f * (p - pair[0][l][i])
			}
		}
	}
}

// Final returns the parameters the run evaluates and exports: the average
// (training.average) once an epoch is averaged, else the current ones.
func (t *Trainer) Final() Snapshot {
	if t.Avg.Epoch > 0 {
		return Snapshot{Epoch: t.Epoch, W: t.Avg.W, Theta: t.Avg.Theta}
	}
	return Snapshot{Epoch: t.Epoch, W: t.Model.W, Theta: t.Model.Theta}
}

// WithFinal runs fn with the model's parameters temporarily those of
// Final (a no-op swap without averaging).
func (t *Trainer) WithFinal(fn func() error) error {
	if t.Avg.Epoch == 0 {
		t.Model.Sync()
		return fn()
	}
	return t.WithParams(t.Final(), fn)
}

// UseFinal sets the model's parameters to Final's for good: for a run
// opened to be evaluated or exported, not trained on.
func (t *Trainer) UseFinal() {
	if t.Avg.Epoch > 0 {
		t.Model.setParams(t.Avg.W, t.Avg.Theta)
	}
	t.Model.Sync()
}
