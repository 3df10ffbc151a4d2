package batch

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Regime is the ratio tau_m / tau_s, which selects the closed form of the
// spike time.
type Regime int

const (
	// EqualTau is tau_m = tau_s: spike times through the Lambert W function.
	EqualTau Regime = 1
	// DoubleTau is tau_m = 2 tau_s: spike times through a quadratic in e^{-t/2}.
	DoubleTau Regime = 2
)

// String returns the ratio in words.
func (r Regime) String() string {
	switch r {
	case EqualTau:
		return "tau_m = tau_s"
	case DoubleTau:
		return "tau_m = 2 tau_s"
	}
	return fmt.Sprintf("Regime(%d)", int(r))
}

// Neuron holds the parameters of one layer's LIF neurons.
type Neuron struct {
	TauSyn    float64 // synaptic time constant tau_s (> 0)
	TauMem    float64 // membrane time constant tau_m: tau_s or 2 tau_s
	Threshold float64 // firing threshold theta (> Leak)
	Leak      float64 // leak potential E_l
	// Eps, when not zero, is added to the sums a1, b and a2 as the reference
	// does (it uses 1e-6) so that its results can be matched to the last
	// digits. Zero gives the exact model.
	Eps float64
}

// DefaultNeuron returns the parameters of DelGrad's ideal simulations:
// tau_s = 1, tau_m = 2, threshold 1, leak 0, no eps.
func DefaultNeuron() Neuron {
	return Neuron{TauSyn: 1, TauMem: 2, Threshold: 1}
}

// Regime returns the ratio tau_m / tau_s, or an error if it is neither 1 nor 2.
func (p Neuron) Regime() (Regime, error) {
	if !(p.TauSyn > 0) || math.IsInf(p.TauSyn, 0) {
		return 0, fmt.Errorf("tau_syn = %g: must be positive and finite", p.TauSyn)
	}
	ratio := p.TauMem / p.TauSyn
	switch {
	case math.Abs(ratio-1) <= 1e-12:
		return EqualTau, nil
	case math.Abs(ratio-2) <= 1e-12:
		return DoubleTau, nil
	}
	return 0, fmt.Errorf("tau_mem / tau_syn = %g: the exact engine supports only 1 or 2", ratio)
}

// GLeak returns the leak conductance tau_s / tau_m in units of C_m / tau_s.
func (p Neuron) GLeak() float64 { return p.TauSyn / p.TauMem }

// c returns the constant g_leak (theta - E_l) of the closed forms.
func (p Neuron) c() float64 { return p.GLeak() * (p.Threshold - p.Leak) }

func (p Neuron) validate() error {
	if _, err := p.Regime(); err != nil {
		return err
	}
	if !(p.Threshold > p.Leak) || math.IsInf(p.Threshold, 0) || math.IsInf(p.Leak, 0) {
		return fmt.Errorf("threshold %g and leak %g: need finite values with threshold > leak", p.Threshold, p.Leak)
	}
	if !(p.Eps >= 0) || math.IsInf(p.Eps, 0) {
		return fmt.Errorf("eps = %g: must be finite and >= 0", p.Eps)
	}
	return nil
}

// DelayKind says where a layer's transmission delays sit.
type DelayKind int

const (
	// NoDelay: the layer has no delays.
	NoDelay DelayKind = iota
	// Axonal: one delay per presynaptic neuron, shape (In).
	Axonal
	// Dendritic: one delay per postsynaptic neuron, shape (Out); it shifts
	// that neuron's output spike.
	Dendritic
	// Synaptic: one delay per synapse, shape (In, Out).
	Synaptic
)

// String returns the delay kind's name as used in configs.
func (k DelayKind) String() string {
	switch k {
	case NoDelay:
		return "none"
	case Axonal:
		return "axonal"
	case Dendritic:
		return "dendritic"
	case Synaptic:
		return "synaptic"
	}
	return fmt.Sprintf("DelayKind(%d)", int(k))
}

// Layer is one layer of LIF neurons with all-to-all input weights.
//
// Its inputs are the In spike times of the layer below (or of the network
// input) followed by len(BiasTimes) bias spikes at fixed times. Weights has
// shape (In+len(BiasTimes), Out), input-major: row i holds the weights of
// input i to every neuron, the last rows are the bias weights. Delays apply to
// the In real inputs only; bias spikes are never delayed.
type Layer struct {
	In, Out   int
	Neuron    Neuron
	Weights   *tensor.Dense
	BiasTimes []float64
	Delay     DelayKind
	// Delays has shape (In) for Axonal, (Out) for Dendritic, (In, Out) for
	// Synaptic, and is nil for NoDelay.
	Delays *tensor.Dense
	// MaxDWNorm, when > 0, zeroes the weight gradient of a (sample, neuron)
	// pair whose largest |dL/dw| exceeds it, as the reference's max_dw_norm
	// does (the error sent backwards is not clipped). Zero disables it.
	MaxDWNorm float64
}

// NewLayer returns a layer with zero weights (and zero delays of the given
// kind) for in inputs, nBias bias spikes at time 0 and out neurons.
func NewLayer(in, out, nBias int, nrn Neuron, kind DelayKind) Layer {
	l := Layer{In: in, Out: out, Neuron: nrn, Delay: kind}
	l.Weights = tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(in+nBias, out))
	l.BiasTimes = make([]float64, nBias)
	if n := kind.size(in, out); n > 0 {
		l.Delays = tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(kind.shape(in, out)...))
	}
	return l
}

func (k DelayKind) shape(in, out int) []int {
	switch k {
	case Axonal:
		return []int{in}
	case Dendritic:
		return []int{out}
	case Synaptic:
		return []int{in, out}
	}
	return nil
}

func (k DelayKind) size(in, out int) int {
	n := 0
	if s := k.shape(in, out); s != nil {
		n = 1
		for _, d := range s {
			n *= d
		}
	}
	return n
}

// Rows returns the number of weight rows: real inputs plus bias spikes.
func (l *Layer) Rows() int { return l.In + len(l.BiasTimes) }

// W returns the backing slice of the weights, (Rows x Out) row-major.
func (l *Layer) W() []float64 { return l.Weights.Float64s() }

// D returns the backing slice of the delays, or nil.
func (l *Layer) D() []float64 {
	if l.Delays == nil {
		return nil
	}
	return l.Delays.Float64s()
}

// Network is a feed-forward network of layers.
type Network struct {
	// Inputs is the number of input features.
	Inputs int
	// Multiplex repeats each input feature this many times, interleaved
	// (x0 x0 ... x1 x1 ...) as the reference's MultiplexLayer does; 0 means 1.
	Multiplex int
	Layers    []Layer
}

// multiplex returns the effective multiplex factor (>= 1).
func (n *Network) multiplex() int {
	if n.Multiplex < 1 {
		return 1
	}
	return n.Multiplex
}

// Outputs returns the number of neurons of the last layer.
func (n *Network) Outputs() int {
	if len(n.Layers) == 0 {
		return 0
	}
	return n.Layers[len(n.Layers)-1].Out
}

// Validate checks shapes, parameters and values; every engine calls it.
func (n *Network) Validate() error {
	if n == nil {
		return errors.New("network is nil")
	}
	if n.Inputs < 1 {
		return fmt.Errorf("network has %d inputs: need at least 1", n.Inputs)
	}
	if n.Multiplex < 0 {
		return fmt.Errorf("multiplex factor %d: must be >= 1 (or 0 for none)", n.Multiplex)
	}
	if len(n.Layers) == 0 {
		return errors.New("network has no layers")
	}
	prev := n.Inputs * n.multiplex()
	for i := range n.Layers {
		if err := n.Layers[i].validate(prev); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		prev = n.Layers[i].Out
	}
	return nil
}

func (l *Layer) validate(in int) error {
	if l.In != in {
		return fmt.Errorf("has %d inputs but the layer below gives %d", l.In, in)
	}
	if l.Out < 1 {
		return fmt.Errorf("has %d neurons: need at least 1", l.Out)
	}
	if err := l.Neuron.validate(); err != nil {
		return fmt.Errorf("neuron parameters: %w", err)
	}
	if err := checkDense("weights", l.Weights, []int{l.Rows(), l.Out}); err != nil {
		return err
	}
	if i := firstNonFinite(l.BiasTimes); i >= 0 {
		return fmt.Errorf("bias spike %d at time %g: must be finite", i, l.BiasTimes[i])
	}
	if l.MaxDWNorm < 0 || math.IsNaN(l.MaxDWNorm) {
		return fmt.Errorf("max_dw_norm = %g: must be >= 0 (0 disables it)", l.MaxDWNorm)
	}
	switch l.Delay {
	case NoDelay:
		if l.Delays != nil {
			return errors.New("has delays but delay kind none")
		}
		return nil
	case Axonal, Dendritic, Synaptic:
		return checkDense(l.Delay.String()+" delays", l.Delays, l.Delay.shape(l.In, l.Out))
	}
	return fmt.Errorf("unknown delay kind %d", int(l.Delay))
}

// checkDense checks that d is a float64 tensor of the given shape holding
// only finite values.
func checkDense(name string, d *tensor.Dense, shape []int) error {
	if d == nil {
		return fmt.Errorf("%s missing (want shape %v)", name, shape)
	}
	if d.Dtype() != tensor.Float64 {
		return fmt.Errorf("%s have dtype %v: want float64", name, d.Dtype())
	}
	got := d.Shape()
	n := 1
	for _, s := range shape {
		n *= s
	}
	if !shapeEq(got, shape) || len(d.Float64s()) != n {
		return fmt.Errorf("%s have shape %v: want %v", name, got, shape)
	}
	if i := firstNonFinite(d.Float64s()); i >= 0 {
		return fmt.Errorf("%s[%d] = %g: must be finite", name, i, d.Float64s()[i])
	}
	return nil
}

// firstNonFinite returns the index of v's first NaN or infinity, or -1.
// x-x is 0 for every finite x and NaN otherwise, so a block's sum of them
// is 0 exactly when the whole block is finite: one test per 8 values
// (Engine.Forward and Backward check the weights on every call).
func firstNonFinite(v []float64) int {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := v[i : i+8 : i+8]
		if (w[0]-w[0])+(w[1]-w[1])+(w[2]-w[2])+(w[3]-w[3])+(w[4]-w[4])+(w[5]-w[5])+(w[6]-w[6])+(w[7]-w[7]) != 0 {
			break
		}
	}
	for ; i < len(v); i++ {
		if v[i]-v[i] != 0 {
			return i
		}
	}
	return -1
}

func shapeEq(got tensor.Shape, want []int) bool {
	// gorgonia reports a vector of n as (n); a scalar-like (1) as (1).
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
