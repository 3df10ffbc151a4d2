package batch

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Engine computes forward and backward passes for a batch of samples.
// Implementations: the CPU engine of this package, and the CUDA engine of
// package kernels (build tag cuda).
type Engine interface {
	// Forward computes the first-spike times of every layer for a batch of
	// input spike times (B x net.Inputs, +Inf = no spike) into tr.
	Forward(net *Network, input *tensor.Dense, tr *Trace) error
	// Backward computes, from a trace made by Forward (or one whose spike
	// times were observed elsewhere) and dL/d(output times) (B x
	// net.Outputs()), the gradients of L with respect to weights, delays and
	// input times, summed over the batch, into g. It reshapes g
	// (Gradients.Reshape) and overwrites its tensors: a caller that keeps
	// gradients across calls copies them out.
	Backward(net *Network, tr *Trace, dOut *tensor.Dense, g *Gradients) error
}

// NewTimes returns a B x N tensor of spike times, all +Inf (no spike).
func NewTimes(b, n int) *tensor.Dense {
	data := make([]float64, b*n)
	for i := range data {
		data[i] = math.Inf(1)
	}
	return tensor.New(tensor.WithShape(b, n), tensor.WithBacking(data))
}

// TimesFrom wraps a row-major B x N slice of spike times without copying.
func TimesFrom(b, n int, data []float64) (*tensor.Dense, error) {
	if b < 1 || n < 1 || len(data) != b*n {
		return nil, fmt.Errorf("spike times: %d values do not make a %d x %d batch", len(data), b, n)
	}
	return tensor.New(tensor.WithShape(b, n), tensor.WithBacking(data)), nil
}

// batchShape checks that t is a B x n float64 tensor and returns B.
func batchShape(name string, t *tensor.Dense, n int) (int, error) {
	if t == nil {
		return 0, fmt.Errorf("%s: tensor is nil", name)
	}
	if t.Dtype() != tensor.Float64 {
		return 0, fmt.Errorf("%s: dtype %v, want float64", name, t.Dtype())
	}
	s := t.Shape()
	if len(s) != 2 || s[1] != n || s[0] < 1 || len(t.Float64s()) != s[0]*s[1] {
		return 0, fmt.Errorf("%s: shape %v, want (batch, %d)", name, s, n)
	}
	return s[0], nil
}

// Trace holds the spike times of every layer for one batch.
type Trace struct {
	// Times[0] is the network input after multiplexing (B x In of layer 0);
	// Times[l+1] is the output of layer l (B x Out), dendritic delays
	// included.
	Times []*tensor.Dense
}

// Batch returns the batch size of the trace, or 0 if it is empty.
func (tr *Trace) Batch() int {
	if tr == nil || len(tr.Times) == 0 {
		return 0
	}
	return tr.Times[0].Shape()[0]
}

// Output returns the spike times of the last layer.
func (tr *Trace) Output() *tensor.Dense { return tr.Times[len(tr.Times)-1] }

// Reshape makes tr hold B-sample tensors for net (the input after
// multiplexing, then every layer's output), reusing storage that fits.
func (tr *Trace) Reshape(net *Network, b int) {
	sizes := make([]int, 0, len(net.Layers)+1)
	sizes = append(sizes, net.Layers[0].In)
	for i := range net.Layers {
		sizes = append(sizes, net.Layers[i].Out)
	}
	if len(tr.Times) != len(sizes) {
		tr.Times = make([]*tensor.Dense, len(sizes))
	}
	for i, n := range sizes {
		t := tr.Times[i]
		if t == nil || t.Shape()[0] != b || t.Shape()[1] != n {
			tr.Times[i] = NewTimes(b, n)
		}
	}
}

// Gradients holds dL/d(parameters), summed over a batch, and dL/d(inputs).
type Gradients struct {
	// Weights[l] has the shape of layer l's weights (bias rows included).
	Weights []*tensor.Dense
	// Delays[l] has the shape of layer l's delays, or is nil.
	Delays []*tensor.Dense
	// Input is dL/d(input spike times), B x net.Inputs.
	Input *tensor.Dense
	// Clipped[l] counts the (sample, neuron) pairs of layer l whose weight
	// gradient max_dw_norm zeroed.
	Clipped []int
}

// NewGradients returns zero gradients shaped for net and batch size b.
func NewGradients(net *Network, b int) *Gradients {
	g := &Gradients{}
	g.Reshape(net, b)
	return g
}

// Reshape shapes g for net and batch size b, keeping the float64 tensors
// that already have the right shape (their values too: an engine's
// Backward overwrites them all) and allocating the others.
func (g *Gradients) Reshape(net *Network, b int) {
	L := len(net.Layers)
	if len(g.Weights) != L {
		g.Weights = make([]*tensor.Dense, L)
	}
	if len(g.Delays) != L {
		g.Delays = make([]*tensor.Dense, L)
	}
	if len(g.Clipped) != L {
		g.Clipped = make([]int, L)
	}
	for i := range net.Layers {
		l := &net.Layers[i]
		if !fits(g.Weights[i], l.Rows(), l.Out) {
			g.Weights[i] = tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(l.Rows(), l.Out))
		}
		if l.Delay == NoDelay {
			g.Delays[i] = nil
		} else if shape := l.Delay.shape(l.In, l.Out); !fits(g.Delays[i], shape...) {
			g.Delays[i] = tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
		}
	}
	if !fits(g.Input, b, net.Inputs) {
		g.Input = tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(b, net.Inputs))
	}
}

// fits reports whether d is a float64 tensor of the given shape whose
// backing holds exactly its elements (not a view into a larger one).
func fits(d *tensor.Dense, shape ...int) bool {
	if d == nil || d.Dtype() != tensor.Float64 || !shapeEq(d.Shape(), shape) || d.IsView() {
		return false
	}
	n := 1
	for _, s := range shape {
		n *= s
	}
	return len(d.Float64s()) == n
}

// Predict returns, per sample, the index of the earliest output spike (the
// first such index on ties), or -1 when no output neuron spiked, as the
// reference counts a silent output as a wrong answer.
func Predict(out *tensor.Dense) []int {
	s := out.Shape()
	b, n := s[0], s[1]
	data := out.Float64s()
	pred := make([]int, b)
	for i := range pred {
		row := data[i*n : (i+1)*n]
		best, arg := math.Inf(1), -1
		for k, t := range row {
			if t < best {
				best, arg = t, k
			}
		}
		pred[i] = arg
	}
	return pred
}

// CheckInput checks a batch of input spike times for net: a float64
// (B, net.Inputs) tensor with no NaN or -Inf. It returns B.
func CheckInput(net *Network, input *tensor.Dense) (int, error) {
	b, err := batchShape("input times", input, net.Inputs)
	if err != nil {
		return 0, err
	}
	for i, t := range input.Float64s() {
		if math.IsNaN(t) || math.IsInf(t, -1) {
			return 0, fmt.Errorf("input time of sample %d, feature %d is %g: use +Inf for no spike", i/net.Inputs, i%net.Inputs, t)
		}
	}
	return b, nil
}

// CheckBackward checks that a trace and dL/d(output times) fit net and
// each other for a backward pass. It returns the batch size.
func CheckBackward(net *Network, tr *Trace, dOut *tensor.Dense) (int, error) {
	if tr == nil {
		return 0, fmt.Errorf("trace is nil: run Forward first")
	}
	if len(tr.Times) != len(net.Layers)+1 {
		return 0, fmt.Errorf("trace has %d layers of times, network needs %d: run Forward first", len(tr.Times), len(net.Layers)+1)
	}
	b, err := batchShape("trace input", tr.Times[0], net.Layers[0].In)
	if err != nil {
		return 0, err
	}
	for l := range net.Layers {
		nb, err := batchShape(fmt.Sprintf("trace of layer %d", l), tr.Times[l+1], net.Layers[l].Out)
		if err != nil {
			return 0, err
		}
		if nb != b {
			return 0, fmt.Errorf("trace of layer %d has %d samples, input has %d", l, nb, b)
		}
	}
	nb, err := batchShape("dL/d(output times)", dOut, net.Outputs())
	if err != nil {
		return 0, err
	}
	if nb != b {
		return 0, fmt.Errorf("dL/d(output times) has %d samples, trace has %d", nb, b)
	}
	return b, nil
}
