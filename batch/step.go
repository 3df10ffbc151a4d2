package batch

// StepEngine is an Engine that can also run the trainer's whole training
// step on its device (the CUDA engine of package kernels): parameters,
// optimiser state and gradients stay there between batches, and each batch
// moves only its input times and labels in and a few counts out.
type StepEngine interface {
	Engine
	// NewStepper prepares the device for spec, or returns an error when it
	// cannot run that step (the trainer then runs its own).
	NewStepper(spec StepSpec) (Stepper, error)
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
	// Forward runs a batch (B x Inputs times, B labels) and returns, per
	// layer, the number of silent (sample, neuron) pairs, and the number of
	// correct predictions.
	Forward(in []float64, labels []int) (silent []int, correct int, err error)
	// Bump adds value to layer l's weights (targeted: only those of
	// neurons silent for a sample of the last Forward) instead of a step.
	Bump(l int, value float64, targeted bool) error
	// Update takes the step for the last Forward: loss gradient, backward
	// pass, Adam with learning rates lr (one per group) at the optimiser's
	// step count (already incremented), delay rectification and weight
	// clipping. It returns the batch-mean loss and the number of clipped
	// (sample, neuron) weight gradients.
	Update(lr []float64, step int) (loss float64, clipped int, err error)
	// Close frees the device memory.
	Close() error
}
