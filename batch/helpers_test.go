package batch

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// netSpec describes a random test network.
type netSpec struct {
	regime Regime
	delay  DelayKind
	bias   int // bias spikes per layer
	mux    int
	sizes  []int // inputs, hidden..., outputs
}

// randNet draws a network whose neurons mostly spike for inputs in [0.15, 2].
func randNet(rng *rand.Rand, sp netSpec) *Network {
	nrn := Neuron{TauSyn: 1, TauMem: float64(sp.regime), Threshold: 1}
	mux := max(sp.mux, 1)
	net := &Network{Inputs: sp.sizes[0], Multiplex: sp.mux}
	in := sp.sizes[0] * mux
	for _, out := range sp.sizes[1:] {
		l := NewLayer(in, out, sp.bias, nrn, sp.delay)
		w := l.W()
		scale := 3.0 / math.Sqrt(float64(in))
		if sp.regime == EqualTau {
			scale *= 1.5
		}
		for i := range w {
			w[i] = scale * (0.8 + rng.NormFloat64())
		}
		for i := range l.BiasTimes {
			l.BiasTimes[i] = 0.3 * float64(i+1)
		}
		for i := range l.D() {
			l.D()[i] = 0.5 * rng.Float64()
		}
		net.Layers = append(net.Layers, l)
		in = out
	}
	return net
}

// randInput draws B x n input times in [0.15, 2], with a few missing spikes.
func randInput(rng *rand.Rand, b, n int, pInf float64) *tensor.Dense {
	x := NewTimes(b, n)
	d := x.Float64s()
	for i := range d {
		if rng.Float64() >= pInf {
			d[i] = 0.15 + 1.85*rng.Float64()
		}
	}
	return x
}

func mustForward(t testing.TB, e Engine, net *Network, in *tensor.Dense) *Trace {
	t.Helper()
	var tr Trace
	if err := e.Forward(net, in, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// effInputs returns the effective (delayed, bias included) input times of
// neuron k of layer l for sample s, and its output time before any
// dendritic shift.
func effInputs(net *Network, tr *Trace, l, s, k int) (times []float64, raw float64) {
	ly := &net.Layers[l]
	in := tr.Times[l].Float64s()[s*ly.In : (s+1)*ly.In]
	d := ly.D()
	for i, t := range in {
		switch ly.Delay {
		case Axonal:
			t += d[i]
		case Synaptic:
			t += d[i*ly.Out+k]
		}
		times = append(times, t)
	}
	times = append(times, ly.BiasTimes...)
	raw = tr.Times[l+1].Float64s()[s*ly.Out+k]
	if ly.Delay == Dendritic {
		raw -= d[k]
	}
	return times, raw
}

// margin returns the smallest distance, over all spiking neurons of sample
// s, between a spike and an input time of that neuron: the distance to the
// nearest causal-set boundary.
func margin(net *Network, tr *Trace, s int) float64 {
	m := math.Inf(1)
	for l := range net.Layers {
		for k := 0; k < net.Layers[l].Out; k++ {
			ins, raw := effInputs(net, tr, l, s, k)
			if math.IsInf(raw, 1) {
				continue
			}
			for _, t := range ins {
				if !math.IsInf(t, 1) {
					m = min(m, math.Abs(raw-t))
				}
			}
		}
	}
	return m
}

// membrane evaluates the membrane potential of a neuron at time t directly
// from the PSP kernels (no closed form), for the oracle test.
func membrane(nrn Neuron, w, times []float64, t float64) float64 {
	v := nrn.Leak
	for i, ti := range times {
		if ti >= t || math.IsInf(ti, 1) {
			continue
		}
		s := (t - ti) / nrn.TauSyn
		if math.Abs(nrn.TauMem-nrn.TauSyn) < 1e-12 {
			v += w[i] * s * math.Exp(-s)
		} else {
			v += w[i] * 2 * (math.Exp(-s/2) - math.Exp(-s))
		}
	}
	return v
}
