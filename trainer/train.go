package trainer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

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
	// engine offers it (batch.StepEngine) and the configuration fits.
	stepper batch.Stepper
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
	for l := range m.W {
		copy(m.W[l], s.W[l])
		copy(m.Theta[l], s.Theta[l])
	}
	m.Sync()
	err := fn()
	for l := range m.W {
		copy(m.W[l], saveW[l])
		copy(m.Theta[l], saveT[l])
	}
	m.Sync()
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
		if t.sub, err = bss2model.NewSubstrate(*cfg.BSS2, engine); err != nil {
			return nil, fmt.Errorf("trainer: %w", err)
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
// the metrics to History.
func (t *Trainer) RunEpoch(progress Progress) (EpochMetrics, error) {
	start := time.Now()
	set := t.Data.Train
	lr := t.LR(t.Epoch)
	perm := t.rng.Perm(set.N)
	m := EpochMetrics{Epoch: t.Epoch + 1, LR: lr}
	run := t.runEpochHost
	if t.stepper != nil {
		run = t.runEpochDevice
	}
	st, err := run(perm, lr, progress)
	if err != nil {
		return m, fmt.Errorf("epoch %d: %w", t.Epoch+1, err)
	}
	m.Bumps, m.Clipped = st.Bumps, st.Clipped
	trainDur := time.Since(start)
	m.TrainLoss = math.NaN()
	if st.Steps > 0 {
		m.TrainLoss = st.LossSum / float64(st.Steps)
	}
	m.TrainAcc = float64(st.Correct) / float64(set.N)
	m.SamplesPerSec = float64(set.N) / trainDur.Seconds()
	ev, err := t.Evaluate(t.Data.Validation)
	if err != nil {
		return m, fmt.Errorf("epoch %d: validation: %w", t.Epoch+1, err)
	}
	m.ValLoss, m.ValAcc = ev.Loss, ev.Accuracy
	m.Seconds = time.Since(start).Seconds()
	t.Epoch++
	t.History = append(t.History, m)
	if m.ValAcc > t.Best.ValAcc || t.Best.Epoch == 0 {
		t.Best = Snapshot{Epoch: m.Epoch, ValAcc: m.ValAcc, W: clone(t.Model.W), Theta: clone(t.Model.Theta)}
	}
	return m, nil
}

// runEpochHost trains one epoch's batches (the training split in the
// order perm) with the trainer's own step, batch by batch.
func (t *Trainer) runEpochHost(perm []int, lr []float64, progress Progress) (batch.RunState, error) {
	var st batch.RunState
	set, bs := t.Data.Train, t.Cfg.Training.BatchSize
	for lo := 0; lo < set.N; lo += bs {
		hi := min(lo+bs, set.N)
		t.inBuf = grow(t.inBuf, (hi-lo)*set.F)
		labels := make([]int, hi-lo)
		t.gather(t.inBuf, labels, func(i int) int { return perm[lo+i] })
		loss, ok, nc, clipped, err := t.step(t.inBuf, labels, lr)
		if err != nil {
			return st, fmt.Errorf("batch at sample %d: %w", lo, err)
		}
		st.Correct += nc
		st.Clipped += clipped
		if ok {
			st.LossSum += loss
			st.Steps++
		} else {
			st.Bumps++
		}
		if progress != nil {
			progress(hi, set.N, st.LossSum/float64(max(st.Steps, 1)), float64(st.Correct)/float64(hi))
		}
	}
	return st, nil
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
// taken, the number of correct predictions and of clipped gradients.
func (t *Trainer) step(in []float64, labels []int, lr []float64) (float64, bool, int, int, error) {
	if err := t.forward(in, len(labels)); err != nil {
		return 0, false, 0, 0, err
	}
	correct := 0
	for i, p := range batch.Predict(t.tr.Output()) {
		if p == labels[i] {
			correct++
		}
	}
	if t.Cfg.Training.BumpValue > 0 {
		if l := t.bumpLayer(); l >= 0 {
			t.bump(l)
			return 0, false, correct, 0, nil
		}
	}
	t.LastBumped = -1
	loss, clipped, err := t.backward(labels)
	if err != nil {
		return 0, false, 0, 0, err
	}
	t.Opt.Update(t.params, t.grads, lr)
	t.Model.Rectify()
	if c := t.Cfg.Training.ClipWeights; c > 0 {
		t.Model.ClipWeights(c)
	}
	if err := t.Model.CheckFinite(); err != nil {
		return 0, false, 0, 0, fmt.Errorf("training diverged: %w: lower the learning rate", err)
	}
	return loss, true, correct, clipped, nil
}

// forward runs the network on b samples of input times in.
func (t *Trainer) forward(in []float64, b int) error {
	net := t.Model.Net
	t.Model.Sync()
	x, err := batch.TimesFrom(b, net.Inputs, in)
	if err != nil {
		return err
	}
	if t.sub == nil {
		return t.Engine.Forward(net, x, &t.tr)
	}
	chip := t.chip
	if t.sub.P.TrainChip == "resample" {
		chip = bss2model.NewChip(&t.sub.P, net, t.rng)
	}
	return t.sub.Forward(net, chip, x, &t.tr, t.rng)
}

// backward computes the batch-mean loss of the last forward pass and the
// gradients of W and Theta (into t.gw, t.gt); it also returns the number of
// weight gradients max_dw_norm zeroed.
func (t *Trainer) backward(labels []int) (float64, int, error) {
	b := len(labels)
	net := t.Model.Net
	K := net.Outputs()
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
	dOut, err := batch.TimesFrom(b, K, t.dOut)
	if err != nil {
		return 0, 0, err
	}
	if err := t.Engine.Backward(net, &t.tr, dOut, t.g); err != nil {
		return 0, 0, err
	}
	clipped := 0
	for _, c := range t.g.Clipped {
		clipped += c
	}
	t.Model.ParamGrads(t.g, t.gw, t.gt)
	return loss * inv, clipped, nil
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
// gives the same figures every time.
func (t *Trainer) Evaluate(set *dataset.Set) (Eval, error) {
	t.Model.Sync()
	fwd := t.Engine.Forward
	if t.sub != nil {
		rng := rand.New(rand.NewPCG(t.Cfg.Seed, 0x6576616c)) // "eval"
		fwd = func(net *batch.Network, x *tensor.Dense, tr *batch.Trace) error {
			return t.sub.Forward(net, t.chip, x, tr, rng)
		}
	}
	return evaluate(fwd, t.Model.Net, t.loss, set, t.Cfg.Training.EvalBatchSize, &t.tr)
}

// forwardFunc is the signature of batch.Engine's Forward.
type forwardFunc func(net *batch.Network, x *tensor.Dense, tr *batch.Trace) error

func evaluate(forward forwardFunc, net *batch.Network, loss Loss, set *dataset.Set, bs int, tr *batch.Trace) (Eval, error) {
	K := net.Outputs()
	ev := Eval{Outputs: make([]float64, set.N*K), Pred: make([]int, set.N)}
	grad := make([]float64, K)
	correct := 0
	for lo := 0; lo < set.N; lo += bs {
		hi := min(lo+bs, set.N)
		x, err := batch.TimesFrom(hi-lo, set.F, set.Times[lo*set.F:hi*set.F])
		if err != nil {
			return ev, err
		}
		if err := forward(net, x, tr); err != nil {
			return ev, err
		}
		out := tr.Output()
		copy(ev.Outputs[lo*K:hi*K], out.Float64s())
		for i, p := range batch.Predict(out) {
			ev.Pred[lo+i] = p
			y := set.Labels[lo+i]
			if p == y {
				correct++
			}
			ev.Loss += loss.Sample(ev.Outputs[(lo+i)*K:(lo+i+1)*K], y, grad)
		}
	}
	ev.Loss /= float64(set.N)
	ev.Accuracy = float64(correct) / float64(set.N)
	return ev, nil
}
