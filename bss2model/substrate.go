package bss2model

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// Substrate runs networks on simulated chips. It keeps scratch buffers
// between calls and is not safe for concurrent use: give every goroutine
// its own.
type Substrate struct {
	// P holds the terms of the chip model.
	P Params
	// Engine computes the layers whose neurons keep the ideal ratio of time
	// constants (a threshold offset or a gain is a rescaling of the weights
	// there, so the closed forms still hold); other layers go through
	// Membrane's root finder.
	Engine batch.Engine

	// forceRoot sends every layer through the root finder (tests).
	forceRoot bool

	lnet batch.Network
	ltr  batch.Trace
	xin  []float64
	ev   []event
	ts   []float64
	ws   []float64
}

type event struct {
	t   float64
	row int
}

// NewSubstrate returns a substrate for the model p on engine eng.
func NewSubstrate(p Params, eng batch.Engine) (*Substrate, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if eng == nil {
		return nil, fmt.Errorf("bss2model: engine is nil")
	}
	return &Substrate{P: p, Engine: eng}, nil
}

// Check reports whether the chip can run net: BrainScaleS-2 realises delays
// with delay neurons, one per spike source, so axonal and dendritic delays
// fit and synaptic ones (one per synapse) do not.
func Check(net *batch.Network) error {
	if err := net.Validate(); err != nil {
		return fmt.Errorf("bss2model: %w", err)
	}
	for l := range net.Layers {
		if net.Layers[l].Neuron.Eps != 0 {
			return fmt.Errorf("bss2model: layer %d uses the reference's eps term, which the chip model does not include: set eps to 0", l)
		}
		if net.Layers[l].Delay == batch.Synaptic {
			return fmt.Errorf("bss2model: layer %d has synaptic delays, which BrainScaleS-2 cannot realise (one delay neuron per spike source): use axonal or dendritic delays", l)
		}
	}
	return nil
}

// Forward runs net on chip for a batch of input spike times (B x
// net.Inputs, +Inf = no spike) and writes the observed spike times into tr,
// laid out as batch.Engine.Forward does (Times[0] the multiplexed input as
// the chip receives it, Times[l+1] the observed output of layer l). The
// trial-to-trial terms are drawn from rng in a fixed order.
func (s *Substrate) Forward(net *batch.Network, chip *Chip, input *tensor.Dense, tr *batch.Trace, rng *rand.Rand) error {
	if err := Check(net); err != nil {
		return err
	}
	if tr == nil || rng == nil || s.Engine == nil {
		return fmt.Errorf("bss2model: forward needs a trace, a random generator and an engine")
	}
	if err := chip.check(net); err != nil {
		return err
	}
	b, err := batch.CheckInput(net, input)
	if err != nil {
		return fmt.Errorf("bss2model: %w", err)
	}
	in := input.Float64s()
	mux := max(net.Multiplex, 1)
	tr.Reshape(net, b)
	x := tr.Times[0].Float64s()
	tau0 := net.Layers[0].Neuron.TauSyn
	clock := s.P.clockPeriod(tau0)
	for i, t := range in {
		t = quantize(t, clock)
		for r := 0; r < mux; r++ {
			x[i*mux+r] = t
		}
	}
	for l := range net.Layers {
		if err := s.layer(&net.Layers[l], &chip.Layers[l], tr.Times[l].Float64s(), tr.Times[l+1].Float64s(), b, rng); err != nil {
			return fmt.Errorf("bss2model: layer %d: %w", l, err)
		}
	}
	return nil
}

// quantize rounds t to the clock grid (period 0: unchanged).
func quantize(t, period float64) float64 {
	if period == 0 || math.IsInf(t, 0) {
		return t
	}
	return math.Round(t/period) * period
}

// layer computes the observed output times of one layer on its chip layer.
func (s *Substrate) layer(lay *batch.Layer, cl *ChipLayer, in, out []float64, b int, rng *rand.Rand) error {
	p := &s.P
	nIn, nOut, rows := lay.In, lay.Out, lay.Rows()
	nrn := lay.Neuron
	tau0 := nrn.TauSyn
	theta0 := nrn.Threshold - nrn.Leak
	// Thresholds of this trial (one draw per neuron and batch).
	thr := make([]float64, nOut)
	for k := range thr {
		th := theta0 + cl.ThresholdOffset[k]
		if p.ThresholdNoise > 0 {
			th += p.ThresholdNoise * rng.NormFloat64()
		}
		// A threshold at or below the leak would fire at once; keep it
		// above, as a chip's neuron cannot be configured there either.
		thr[k] = math.Max(th, 1e-3*theta0)
	}
	// Realised weights and delays.
	w := make([]float64, rows*nOut)
	for i, v := range lay.W() {
		w[i] = p.QuantizeWeight(v) * cl.Gain[i]
	}
	var d []float64
	if lay.Delays != nil {
		d = make([]float64, len(lay.D()))
		for i, v := range lay.D() {
			d[i] = p.RealiseDelay(v, tau0)
		}
	}
	// Layer input: axonal delay jitter per (sample, input).
	s.xin = grow(s.xin, b*nIn)
	copy(s.xin, in)
	if lay.Delay == batch.Axonal && p.DelayJitter > 0 {
		for i := range s.xin {
			s.xin[i] += p.DelayJitter * rng.NormFloat64()
		}
	}
	// The closed forms hold where every neuron keeps the nominal time
	// constants (a threshold offset or a gain only rescales the weights).
	ideal := !s.forceRoot
	for k := 0; k < nOut && ideal; k++ {
		ideal = cl.TauMem[k] == 1 && cl.TauSyn[k] == 1
	}
	if ideal {
		if err := s.closedForm(lay, w, d, thr, theta0, b, out); err != nil {
			return err
		}
	} else {
		s.rootFinder(lay, cl, w, d, thr, b, out)
	}
	// Observation: dendritic delay jitter, spike jitter, clock, loss. Every
	// entry draws its terms, spike or not, so that the generator's state
	// after a batch depends only on the shapes, never on which neurons fired.
	clock := p.clockPeriod(tau0)
	for i, t := range out {
		if lay.Delay == batch.Dendritic && p.DelayJitter > 0 {
			t += p.DelayJitter * rng.NormFloat64()
		}
		if p.SpikeJitter > 0 {
			t += p.SpikeJitter * rng.NormFloat64()
		}
		t = quantize(t, clock)
		if p.SpikeLoss > 0 && rng.Float64() < p.SpikeLoss {
			t = math.Inf(1)
		}
		out[i] = t
	}
	return nil
}

// closedForm runs the layer on the engine: a neuron's threshold theta_k
// is the nominal one with its input weights scaled by theta0 / theta_k.
func (s *Substrate) closedForm(lay *batch.Layer, w, d, thr []float64, theta0 float64, b int, out []float64) error {
	rows, nOut := lay.Rows(), lay.Out
	for r := 0; r < rows; r++ {
		for k := 0; k < nOut; k++ {
			w[r*nOut+k] *= theta0 / thr[k]
		}
	}
	eff := batch.Layer{In: lay.In, Out: nOut, Neuron: lay.Neuron, BiasTimes: lay.BiasTimes, Delay: lay.Delay}
	eff.Weights = tensor.New(tensor.WithShape(rows, nOut), tensor.WithBacking(w))
	if d != nil {
		eff.Delays = tensor.New(tensor.WithShape(lay.Delays.Shape()...), tensor.WithBacking(d))
	}
	s.lnet = batch.Network{Inputs: lay.In, Layers: []batch.Layer{eff}}
	x, err := batch.TimesFrom(b, lay.In, s.xin)
	if err != nil {
		return err
	}
	if err := s.Engine.Forward(&s.lnet, x, &s.ltr); err != nil {
		return err
	}
	copy(out, s.ltr.Output().Float64s())
	return nil
}

// rootFinder computes every (sample, neuron) with the neuron's own time
// constants through Membrane.FirstSpike.
func (s *Substrate) rootFinder(lay *batch.Layer, cl *ChipLayer, w, d, thr []float64, b int, out []float64) {
	nIn, nOut := lay.In, lay.Out
	nrn := lay.Neuron
	for smp := 0; smp < b; smp++ {
		s.ev = s.ev[:0]
		for i, t := range s.xin[smp*nIn : (smp+1)*nIn] {
			if lay.Delay == batch.Axonal {
				t += d[i]
			}
			if t < math.Inf(1) {
				s.ev = append(s.ev, event{t, i})
			}
		}
		for j, t := range lay.BiasTimes {
			s.ev = append(s.ev, event{t, nIn + j})
		}
		slices.SortFunc(s.ev, func(a, b event) int {
			if c := cmp.Compare(a.t, b.t); c != 0 {
				return c
			}
			return cmp.Compare(a.row, b.row)
		})
		s.ts = grow(s.ts, len(s.ev))
		s.ws = grow(s.ws, len(s.ev))
		for m, e := range s.ev {
			s.ts[m] = e.t
		}
		for k := 0; k < nOut; k++ {
			for m, e := range s.ev {
				s.ws[m] = w[e.row*nOut+k]
			}
			mb := Membrane{TauMem: nrn.TauMem * cl.TauMem[k], TauSyn: nrn.TauSyn * cl.TauSyn[k],
				Unit: nrn.TauSyn, Theta: thr[k]}
			t := mb.FirstSpike(s.ts, s.ws)
			if lay.Delay == batch.Dendritic {
				t += d[k]
			}
			out[smp*nOut+k] = t
		}
	}
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
