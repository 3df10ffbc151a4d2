package trainer

import (
	"errors"
	"fmt"

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
// and the configuration fits it.
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
	st, err := se.NewStepper(spec)
	if err != nil {
		t.DeviceNote = fmt.Sprintf("training steps run on the host: %v", err)
		return
	}
	t.stepper = st
	t.DeviceNote = "training steps run on the device"
}

// runDevice trains on the samples in (n x F, already permuted and noised)
// on the device, in batches of b, carrying the optimiser's step
// count and the bump state across, and adds the metrics to st.
func (t *Trainer) runDevice(in []float64, labels []int, b int, lr []float64, st *batch.RunState) error {
	tc := &t.Cfg.Training
	rule := batch.BumpRule{Value: tc.BumpValue, Doubling: tc.BumpDoubling, Targeted: tc.BumpTargeted}
	for l := range t.Model.Net.Layers {
		rule.MaxMissing = append(rule.MaxMissing, t.Cfg.maxMissing(l))
	}
	st.Step, st.BumpValue, st.LastBumped = t.Opt.Step, t.BumpValue, t.LastBumped
	if err := t.stepper.Run(in, labels, b, lr, rule, st); err != nil {
		return fmt.Errorf("device step: %w", err)
	}
	t.Opt.Step, t.BumpValue, t.LastBumped = st.Step, st.BumpValue, st.LastBumped
	return nil
}

// partBytes bounds the input times of one part of an epoch on the device
// (runEpochDevice): small enough to stay in the host's caches, large
// enough that a part's copy in and its counts' copy back are rare.
const partBytes = 2 << 20

// runEpochDevice trains one epoch's batches (the training split in the
// order perm) on the device. The epoch goes up in parts of whole batches,
// about partBytes of input times each, or finer so that progress is
// reported about 20 times; while the device runs one part, a goroutine
// gathers and noises the next into the other of two buffers.
func (t *Trainer) runEpochDevice(perm []int, lr []float64, progress Progress) (batch.RunState, error) {
	var st batch.RunState
	set := t.Data.Train
	F, b := set.F, t.Cfg.Training.BatchSize
	if err := t.loadDevice(); err != nil {
		return st, err
	}
	batches := (set.N + b - 1) / b
	per := max(1, min(batches, partBytes/(8*b*F)))
	if progress != nil {
		per = min(per, max(1, (batches+19)/20))
	}
	n := per * b
	var in [2][]float64
	var labels [2][]int
	// prep fills buffer k%2 with the part starting at sample lo. The host
	// step draws the noise batch by batch in sample order; the parts are
	// prepared in order, so they draw the same numbers.
	prep := func(k, lo int) {
		hi := min(lo+n, set.N)
		in[k%2] = grow(in[k%2], (hi-lo)*F)
		if cap(labels[k%2]) < n {
			labels[k%2] = make([]int, n)
		}
		labels[k%2] = labels[k%2][:hi-lo]
		t.gather(in[k%2], labels[k%2], func(i int) int { return perm[lo+i] })
	}
	prep(0, 0)
	for k, lo := 0, 0; lo < set.N; k, lo = k+1, lo+n {
		done := make(chan struct{})
		if lo+n < set.N {
			go func() { prep(k+1, lo+n); close(done) }()
		} else {
			close(done)
		}
		err := t.runDevice(in[k%2], labels[k%2], b, lr, &st)
		<-done
		if err != nil {
			return st, fmt.Errorf("batches from sample %d: %w", lo, err)
		}
		if progress != nil {
			hi := min(lo+n, set.N)
			progress(hi, set.N, st.LossSum/float64(max(st.Steps, 1)), float64(st.Correct)/float64(hi))
		}
	}
	return st, t.storeDevice()
}

// loadDevice copies the parameters and optimiser state to the device.
func (t *Trainer) loadDevice() error {
	if err := t.stepper.Load(t.Model.W, t.Model.Theta, t.Opt.M, t.Opt.V); err != nil {
		return fmt.Errorf("device step: %w", err)
	}
	return nil
}

// storeDevice copies them back and checks them.
func (t *Trainer) storeDevice() error {
	if err := t.stepper.Store(t.Model.W, t.Model.Theta, t.Opt.M, t.Opt.V); err != nil {
		return fmt.Errorf("device step: %w", err)
	}
	t.Model.Sync()
	if err := t.Model.CheckFinite(); err != nil {
		return fmt.Errorf("training diverged: %w: lower the learning rate", err)
	}
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
