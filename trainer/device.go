package trainer

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/delgrad-go/delgrad/batch"
)

// stepSpec describes the trainer's step for an engine that can run it on
// its device, or returns an error naming what the device step lacks (the
// trainer then runs its own step on the engine).
func (t *Trainer) stepSpec() (batch.StepSpec, error) {
	c := &t.Cfg
	if t.sub != nil {
		return batch.StepSpec{}, errors.New("hardware-aware ([bss2]) training runs its forward pass on the chip model")
	}
	if c.Training.GradClip > 0 {
		return batch.StepSpec{}, errors.New("gradient clipping (training.grad_clip)")
	}
	if c.Training.Optimizer != "adam" {
		return batch.StepSpec{}, fmt.Errorf("optimizer %q", c.Training.Optimizer)
	}
	spec := batch.StepSpec{Net: t.Model.Net, Loss: c.Training.Loss.Type, DeltaT: c.Training.Loss.DeltaT,
		Xi: c.Training.Loss.Xi, Alpha: c.Training.Loss.Alpha, Beta: c.Training.Loss.Beta,
		TauSyn: *c.neuron(len(c.Layers) - 1).TauSyn, Beta1: c.Training.Beta1, Beta2: c.Training.Beta2,
		AdamEps: c.Training.AdamEps, RoundWeights: c.Training.RoundWeights, ClipWeights: c.Training.ClipWeights}
	for l, sp := range t.Model.specs {
		if sp.kind != batch.NoDelay && (sp.preF != 1 || sp.postF != 1) {
			return batch.StepSpec{}, fmt.Errorf("layer %d shares delays", l)
		}
		if sp.kind != batch.NoDelay && sp.positivity == "shift" {
			return batch.StepSpec{}, fmt.Errorf("layer %d uses shift positivity", l)
		}
		spec.Delays = append(spec.Delays, batch.DelayParam{Sigmoid: sp.positivity == "sigmoid", Shift: sp.shift, Scale: sp.scale})
	}
	return spec, nil
}

// initDevice gives the trainer a device stepper when its engine offers one
// and the configuration fits.
func (t *Trainer) initDevice() {
	se, ok := t.Engine.(batch.StepEngine)
	if !ok {
		return
	}
	spec, err := t.stepSpec()
	if err != nil {
		t.DeviceNote = fmt.Sprintf("training steps run on the host (the device step does not support: %v)", err)
		return
	}
	st, err := se.NewPopStepper(spec, 1)
	if err != nil {
		t.DeviceNote = fmt.Sprintf("training steps run on the host: %v", err)
		return
	}
	t.stepper = st
	t.DeviceNote = "training steps run on the device"
}

// bumpRule is the trainer's weight-bumping rule for a device stepper.
func (t *Trainer) bumpRule() batch.BumpRule {
	tc := &t.Cfg.Training
	rule := batch.BumpRule{Value: tc.BumpValue, Doubling: tc.BumpDoubling, Targeted: tc.BumpTargeted}
	for l := range t.Model.Net.Layers {
		rule.MaxMissing = append(rule.MaxMissing, t.Cfg.maxMissing(l))
	}
	return rule
}

// sameStep reports why trainers a and b cannot share one device stepper
// (a population's), or nil when they can: the same step (loss, Adam,
// rounding, delay parametrisations), neuron constants, bias times,
// max_dw_norm, bump rule, batch size and training-set size.
func sameStep(a, b *Trainer) error {
	sa, err1 := a.stepSpec()
	sb, err2 := b.stepSpec()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	sa.Net, sb.Net = nil, nil
	switch {
	case !reflect.DeepEqual(sa, sb):
		return errors.New("the training steps differ (loss, optimiser, weight rounding or clipping, delay parametrisation)")
	case !reflect.DeepEqual(a.bumpRule(), b.bumpRule()):
		return errors.New("the bump rules differ")
	case a.Cfg.Training.BatchSize != b.Cfg.Training.BatchSize:
		return errors.New("the batch sizes differ")
	case a.Data.Train.N != b.Data.Train.N:
		return errors.New("the training splits differ in size")
	}
	for l := range a.Model.Net.Layers {
		la, lb := &a.Model.Net.Layers[l], &b.Model.Net.Layers[l]
		if la.Neuron != lb.Neuron || la.MaxDWNorm != lb.MaxDWNorm || !reflect.DeepEqual(la.BiasTimes, lb.BiasTimes) {
			return fmt.Errorf("layer %d's neuron constants, bias times or max_dw_norm differ", l)
		}
	}
	return nil
}

// deviceStepper returns the device stepper that trains the members ts
// together, made on first use (and remade when the members change), or
// nil when they cannot share one: then they train one after another,
// each on its own stepper. A single member uses its own.
func (p *Population) deviceStepper(ts []*Trainer) batch.PopStepper {
	if slices.Equal(p.pstFor, ts) {
		return p.pst
	}
	if len(ts) == 1 {
		p.Close() // a population stepper's members have changed: it is not needed
		return ts[0].stepper
	}
	se, ok := ts[0].Engine.(batch.StepEngine)
	if !ok {
		return nil
	}
	for _, t := range ts[1:] {
		if sameStep(ts[0], t) != nil {
			return nil
		}
	}
	spec, err := ts[0].stepSpec()
	if err != nil {
		return nil
	}
	if err := p.Close(); err != nil {
		return nil
	}
	pst, err := se.NewPopStepper(spec, len(ts))
	if err != nil {
		return nil
	}
	p.pst, p.pstFor = pst, slices.Clone(ts)
	return pst
}

// Close frees the population's device stepper, if it has one.
func (p *Population) Close() error {
	if p.pst == nil {
		return nil
	}
	err := p.pst.Close()
	p.pst, p.pstFor = nil, nil
	return err
}

// partBytes bounds the input times of one part of an epoch on the device
// (runEpochDevice), per member: small enough to stay in the host's
// caches, large enough that a part's copy in and its counts' copy back
// are rare.
const partBytes = 2 << 20

// runEpochDevice trains one epoch of the members ts on the device with
// pst, their population stepper (member q of pst is ts[q]): their
// parameters and optimiser states go up, each member's epoch (its own
// order, noise and learning rates) goes up in parts of whole batches,
// about partBytes of input times per member each, or finer so that
// progress is reported about 20 times; while the device runs one part, a
// goroutine gathers and noises the next into the other of two buffers.
// Then the parameters come back, are checked per member, and the members'
// validation splits are evaluated (a population pass). A member whose
// parameters are no longer finite fails alone.
func (p *Population) runEpochDevice(ts []*Trainer, pst batch.PopStepper, progress Progress) ([]EpochMetrics, []error) {
	K := len(ts)
	mets, errs := make([]EpochMetrics, K), make([]error, K)
	fail := func(err error) ([]EpochMetrics, []error) {
		for q := range errs {
			if errs[q] == nil {
				errs[q] = fmt.Errorf("epoch %d: %w", ts[q].Epoch+1, err)
			}
		}
		return mets, errs
	}
	start := time.Now()
	lrs := make([][]float64, K)
	perms := make([][]int, K)
	rule := ts[0].bumpRule()
	for q, t := range ts {
		lrs[q] = t.LR(t.Epoch)
		perms[q] = t.rng.Perm(t.Data.Train.N)
		if err := pst.LoadMember(q, t.Model.W, t.Model.Theta, t.Opt.M, t.Opt.V); err != nil {
			return fail(fmt.Errorf("device step: %w", err))
		}
	}
	set := ts[0].Data.Train
	F, b := set.F, ts[0].Cfg.Training.BatchSize
	batches := (set.N + b - 1) / b
	per := max(1, min(batches, partBytes/(8*b*F)))
	if progress != nil {
		per = min(per, max(1, (batches+19)/20))
	}
	n := per * b
	var in [2][][]float64
	var labels [2][][]int
	for k := range in {
		in[k], labels[k] = make([][]float64, K), make([][]int, K)
	}
	// prep fills buffer k%2 of every member with its part starting at
	// sample lo. The host step draws the noise batch by batch in sample
	// order; each member's parts are prepared in order, so they draw the
	// same numbers.
	prep := func(k, lo int) {
		hi := min(lo+n, set.N)
		for q, t := range ts {
			in[k%2][q] = grow(in[k%2][q], (hi-lo)*F)
			if cap(labels[k%2][q]) < n {
				labels[k%2][q] = make([]int, n)
			}
			labels[k%2][q] = labels[k%2][q][:hi-lo]
			perm := perms[q]
			t.gather(in[k%2][q], labels[k%2][q], func(i int) int { return perm[lo+i] })
		}
	}
	sts := make([]batch.RunState, K)
	stp := make([]*batch.RunState, K)
	for q := range sts {
		stp[q] = &sts[q]
	}
	prep(0, 0)
	for k, lo := 0, 0; lo < set.N; k, lo = k+1, lo+n {
		done := make(chan struct{})
		if lo+n < set.N {
			go func() { prep(k+1, lo+n); close(done) }()
		} else {
			close(done)
		}
		for q, t := range ts {
			sts[q].Step, sts[q].BumpValue, sts[q].LastBumped = t.Opt.Step, t.BumpValue, t.LastBumped
		}
		err := pst.RunPop(in[k%2], labels[k%2], b, lrs, rule, stp)
		<-done
		if err != nil {
			return fail(fmt.Errorf("device step: batches from sample %d: %w", lo, err))
		}
		for q, t := range ts {
			t.Opt.Step, t.BumpValue, t.LastBumped = sts[q].Step, sts[q].BumpValue, sts[q].LastBumped
		}
		if progress != nil {
			hi := min(lo+n, set.N)
			loss, acc := 0.0, 0.0
			for q := range sts {
				loss += sts[q].LossSum / float64(max(sts[q].Steps, 1))
				acc += float64(sts[q].Correct) / float64(hi)
			}
			progress(K*hi, K*set.N, loss/float64(K), acc/float64(K))
		}
	}
	trainDur := time.Since(start)
	for q, t := range ts {
		if err := pst.StoreMember(q, t.Model.W, t.Model.Theta, t.Opt.M, t.Opt.V); err != nil {
			return fail(fmt.Errorf("device step: %w", err))
		}
		t.Model.Sync()
		if err := t.Model.CheckFinite(); err != nil {
			errs[q] = fmt.Errorf("epoch %d: training diverged: %w: lower the learning rate", t.Epoch+1, err)
		}
	}
	validateEpoch(ts, lrs, sts, trainDur, start, mets, errs)
	return mets, errs
}

// loadDevice copies the parameters and optimiser state to the device.
func (t *Trainer) loadDevice() error {
	if err := t.stepper.LoadMember(0, t.Model.W, t.Model.Theta, t.Opt.M, t.Opt.V); err != nil {
		return fmt.Errorf("device step: %w", err)
	}
	return nil
}

// storeDevice copies them back and checks them.
func (t *Trainer) storeDevice() error {
	if err := t.stepper.StoreMember(0, t.Model.W, t.Model.Theta, t.Opt.M, t.Opt.V); err != nil {
		return fmt.Errorf("device step: %w", err)
	}
	t.Model.Sync()
	if err := t.Model.CheckFinite(); err != nil {
		return fmt.Errorf("training diverged: %w: lower the learning rate", err)
	}
	return nil
}

// runDevice trains on the samples in (n x F, already permuted and noised)
// on the device, in batches of b, carrying the optimiser's step count and
// the bump state across, and adds the metrics to st.
func (t *Trainer) runDevice(in []float64, labels []int, b int, lr []float64, st *batch.RunState) error {
	st.Step, st.BumpValue, st.LastBumped = t.Opt.Step, t.BumpValue, t.LastBumped
	if err := t.stepper.RunPop([][]float64{in}, [][]int{labels}, b, [][]float64{lr}, t.bumpRule(), []*batch.RunState{st}); err != nil {
		return fmt.Errorf("device step: %w", err)
	}
	t.Opt.Step, t.BumpValue, t.LastBumped = st.Step, st.BumpValue, st.LastBumped
	return nil
}

// TrainSteps runs n training batches of the training split, in order and
// wrapping around, with the configured input noise and the current epoch's
// learning rates, but without shuffling, validation or metrics: the
// training step on its own, for benchmarks. Parameters and optimiser state
// change as in training.
func (t *Trainer) TrainSteps(n int) error {
	set := t.Data.Train
	tc := &t.Cfg.Training
	b := min(tc.BatchSize, set.N)
	lr := t.LR(t.Epoch)
	F := set.F
	// The device runs up to 64 batches per copy in.
	per := 1
	if t.stepper != nil {
		if err := t.loadDevice(); err != nil {
			return err
		}
		per = 64
	}
	var st batch.RunState
	for i := 0; i < n; i += per {
		nb := min(per, n-i)
		t.inBuf = grow(t.inBuf, nb*b*F)
		labels := make([]int, nb*b)
		t.gather(t.inBuf, labels, func(j int) int { return (t.benchPos + j) % set.N })
		t.benchPos = (t.benchPos + nb*b) % set.N
		if t.stepper != nil {
			if err := t.runDevice(t.inBuf, labels, b, lr, &st); err != nil {
				return err
			}
			continue
		}
		if _, _, _, _, err := t.step(t.inBuf, labels, lr); err != nil {
			return err
		}
	}
	if t.stepper != nil {
		return t.storeDevice()
	}
	return nil
}
