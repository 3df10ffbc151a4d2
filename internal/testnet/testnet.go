// Package testnet draws random networks and inputs for tests and
// benchmarks of the engines: networks whose neurons mostly spike for input
// times in [0.15, 2].
package testnet

import (
	"math"
	"math/rand/v2"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// Spec describes a random network.
type Spec struct {
	TauMem float64         // tau_m in units of tau_s = 1 (1 or 2)
	Delay  batch.DelayKind // on every layer
	Bias   int             // bias spikes per layer (at 0.3, 0.6, ...)
	Mux    int             // input multiplex factor (0 or 1: none)
	Eps    float64         // the reference's eps term
	// MaxDWNorm is set on every layer.
	MaxDWNorm float64
	Sizes     []int // inputs, hidden layers..., outputs
}

// Net draws the network: weights scale (0.8 + N(0, 1)) with scale
// 3/sqrt(inputs) (x1.5 for tau_m = tau_s), delays uniform in [0, 0.5].
func Net(rng *rand.Rand, s Spec) *batch.Network {
	nrn := batch.Neuron{TauSyn: 1, TauMem: s.TauMem, Threshold: 1, Eps: s.Eps}
	net := &batch.Network{Inputs: s.Sizes[0], Multiplex: s.Mux}
	in := s.Sizes[0] * max(s.Mux, 1)
	for _, out := range s.Sizes[1:] {
		l := batch.NewLayer(in, out, s.Bias, nrn, s.Delay)
		scale := 3.0 / math.Sqrt(float64(in))
		if s.TauMem == 1 {
			scale *= 1.5
		}
		for i := range l.W() {
			l.W()[i] = scale * (0.8 + rng.NormFloat64())
		}
		for i := range l.BiasTimes {
			l.BiasTimes[i] = 0.3 * float64(i+1)
		}
		for i := range l.D() {
			l.D()[i] = 0.5 * rng.Float64()
		}
		l.MaxDWNorm = s.MaxDWNorm
		net.Layers = append(net.Layers, l)
		in = out
	}
	return net
}

// Input draws B x n input times uniform in [0.15, 2], each missing (+Inf)
// with probability pInf.
func Input(rng *rand.Rand, b, n int, pInf float64) *tensor.Dense {
	x := batch.NewTimes(b, n)
	for i := range x.Float64s() {
		if rng.Float64() >= pInf {
			x.Float64s()[i] = 0.15 + 1.85*rng.Float64()
		}
	}
	return x
}
