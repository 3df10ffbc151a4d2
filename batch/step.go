package batch

// StepEngine is an Engine that can also run the trainer's whole training
// step on its device (the CUDA engine of package kernels): parameters,
// optimiser state and gradients stay there between batches, and a run of
// batches (Stepper.Run) moves its inputs in and its summed counts out, with
// nothing copied between batches.
type StepEngine interface {
	Engine
	// NewStepper prepares the device for spec, or returns an error when it
	// cannot run that step (the trainer then runs its own).
	NewStepper(spec StepSpec) (Stepper, error)
	// NewPopStepper prepares the device for a population of k networks
	// trained with spec's step, each with its own parameters, optimiser,
	// bump state and data, all steps of the population one batched pass.
	NewPopStepper(spec StepSpec, k int) (PopStepper, error)
}

// PopStepper runs the training steps of a population on a device: the
// Stepper of k members, member m's results bit for bit those of a Stepper
// of its own. A Stepper is a PopStepper of one.
type PopStepper interface {
	// Members returns the population's size.
	Members() int
	// LoadMember and StoreMember are Stepper's Load and Store for member m.
	LoadMember(m int, w, theta, mo, v [][]float64) error
	StoreMember(m int, w, theta, mo, v [][]float64) error
	// RunPop is Stepper's Run for every member at once: member m trains on
	// in[m] and labels[m] (every member the same number of samples) with
	// learning rates lr[m], carrying st[m]; rule is the members' common
	// bump rule.
	RunPop(in [][]float64, labels [][]int, b int, lr [][]float64, rule BumpRule, st []*RunState) error
	// Close frees the device memory.
	Close() error
}

// StepSpec describes the trainer's training step.
type StepSpec struct {
	// Net gives the shapes, neuron parameters, bias times and delay kinds
	// (its weights and delays are not used: Load supplies the parameters).
	Net *Network
	// Loss is "shift_mse" (DeltaT) or "ttfs" (Xi, Alpha, Beta), in units of
	// TauSyn (the output layer's).
	Loss                    string
	DeltaT, Xi, Alpha, Beta float64
	TauSyn                  float64
	// Adam's constants.
	Beta1, Beta2, AdamEps float64
	// RoundWeights rounds the network's weights to multiples of it
	// (straight-through; 0: off); ClipWeights clips the master weights to
	// +-ClipWeights after each step (0: off).
	RoundWeights, ClipWeights float64
	// Delays describes each layer's delay parameters (one per delay, no
	// sharing): Sigmoid gives d = Shift + Scale sigmoid(theta), otherwise
	// d = theta clipped to >= 0 after each step.
	Delays []DelayParam
}

// DelayParam is one layer's delay parametrisation.
type DelayParam struct {
	Sigmoid      bool
	Shift, Scale float64
}

// Stepper runs training steps on a device. Parameter groups are the
// trainer's: every layer's weights, then the delay parameters of every
// layer that has delays.
type Stepper interface {
	// Load copies the master weights, delay parameters and Adam moments to
	// the device; Store copies them back.
	Load(w, theta, m, v [][]float64) error
	Store(w, theta, m, v [][]float64) error
	// Run trains on the samples of in (len(labels) x Inputs times) in
	// batches of b, in order, the last one possibly smaller. Each batch
	// is the trainer's step: the forward pass, the bump check of rule,
	// then either a weight bump or the loss gradient, backward pass, Adam
	// with learning rates lr (one per group), delay rectification and
	// weight clipping. The batches follow each other on the device with
	// nothing copied back in between; st carries the optimiser's step
	// count and the bump state in and out and accumulates the metrics.
	Run(in []float64, labels []int, b int, lr []float64, rule BumpRule, st *RunState) error
	// Close frees the device memory.
	Close() error
}

// BumpRule is the trainer's weight-bumping rule: when a layer's share of
// silent (sample, neuron) pairs exceeds its MaxMissing, the earliest such
// layer's weights grow by the bump value (Value, doubled on consecutive
// bumps of the same layer when Doubling) instead of a step, only those of
// silent neurons when Targeted. Value 0 turns bumping off.
type BumpRule struct {
	Value              float64
	Doubling, Targeted bool
	MaxMissing         []float64
}

// RunState is the state a Stepper's Run carries across batches and the
// metrics it sums.
type RunState struct {
	// Step is the optimiser's step count (steps taken so far).
	Step int
	// BumpValue is the latest bump value, LastBumped the layer bumped by
	// the latest batch (-1: that batch took a step).
	BumpValue  float64
	LastBumped int
	// LossSum sums the batch-mean losses of the batches that took a step
	// (Steps of them); Bumps counts the others. Correct counts correct
	// predictions over all batches, Clipped the clipped (sample, neuron)
	// weight gradients of the stepped batches.
	LossSum                        float64
	Steps, Bumps, Correct, Clipped int
}
