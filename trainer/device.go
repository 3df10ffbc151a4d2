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

// deviceStep is step on the device: forward, the bump check on the silent
// counts, then a bump or the update, as step does on the host.
func (t *Trainer) deviceStep(in []float64, labels []int, lr []float64) (float64, bool, int, int, error) {
	silent, correct, err := t.stepper.Forward(in, labels)
	if err != nil {
		return 0, false, 0, 0, err
	}
	tc := &t.Cfg.Training
	if tc.BumpValue > 0 {
		if l := t.overMissing(silent, len(labels)); l >= 0 {
			if err := t.stepper.Bump(l, t.nextBump(l), tc.BumpTargeted); err != nil {
				return 0, false, 0, 0, err
			}
			return 0, false, correct, 0, nil
		}
	}
	t.LastBumped = -1
	t.Opt.Step++
	loss, clipped, err := t.stepper.Update(lr, t.Opt.Step)
	if err != nil {
		return 0, false, 0, 0, err
	}
	return loss, true, correct, clipped, nil
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
	step := t.step
	if t.stepper != nil {
		if err := t.loadDevice(); err != nil {
			return err
		}
		step = t.deviceStep
	}
	F := set.F
	t.inBuf = grow(t.inBuf, b*F)
	labels := make([]int, b)
	for i := 0; i < n; i++ {
		for j := 0; j < b; j++ {
			r := (t.benchPos + j) % set.N
			copy(t.inBuf[j*F:(j+1)*F], set.Row(r))
			labels[j] = set.Labels[r]
		}
		t.benchPos = (t.benchPos + b) % set.N
		t.addNoise(t.inBuf)
		if _, _, _, _, err := step(t.inBuf, labels, lr); err != nil {
			return err
		}
	}
	if t.stepper != nil {
		return t.storeDevice()
	}
	return nil
}
