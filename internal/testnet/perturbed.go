package testnet

import (
	"math"
	"math/rand/v2"

	"github.com/delgrad-go/delgrad/batch"
)

// PerturbedSpec describes a random perturbed layer (batch.PerturbedLayer).
type PerturbedSpec struct {
	B, In, Out, Bias int
	// Axonal and Dendritic give the layer delays uniform in [0, 0.5] Unit.
	Axonal, Dendritic bool
	// Unit is the nominal tau_syn (0: 1); Ratio the nominal tau_mem /
	// tau_syn (0: 1).
	Unit, Ratio float64
	// Spread draws each neuron's tau_mem and tau_syn as the nominal ones
	// times 1 + U(-Spread, Spread), independently.
	Spread float64
	// Near, where > 0, sets each neuron's tau_mem to its tau_syn times
	// 1 +- a factor log-uniform in [1e-12, Near] (the root finder's
	// term-by-term mode, for Near below about 1e-4), after Spread.
	Near float64
	// PInf is the probability of a missing input spike; Ties the
	// probability that an input takes the time of the sample's previous
	// input (equal times, which sort by row).
	PInf, Ties float64
	// Silent draws weights too small and negative to reach the threshold.
	Silent bool
}

// Perturbed draws the layer: input times uniform in [0.15, 2] Unit, bias
// times 0.3, 0.6, ... Unit, weights scale (0.8 + N(0, 1)) with scale
// 3/sqrt(rows) (x1.5 at Ratio 1), thresholds 1 +- 0.2, all times and
// constants in absolute units (Unit times the nominal ones).
func Perturbed(rng *rand.Rand, s PerturbedSpec) *batch.PerturbedLayer {
	unit, ratio := s.Unit, s.Ratio
	if unit == 0 {
		unit = 1
	}
	if ratio == 0 {
		ratio = 1
	}
	rows := s.In + s.Bias
	l := &batch.PerturbedLayer{B: s.B, In: s.In, Out: s.Out, Unit: unit,
		Input: make([]float64, s.B*s.In), BiasTimes: make([]float64, s.Bias), W: make([]float64, rows*s.Out),
		TauMem: make([]float64, s.Out), TauSyn: make([]float64, s.Out), Theta: make([]float64, s.Out),
		Output: make([]float64, s.B*s.Out)}
	for smp := 0; smp < s.B; smp++ {
		x := l.Input[smp*s.In : (smp+1)*s.In]
		for i := range x {
			x[i] = math.Inf(1)
			switch {
			case rng.Float64() < s.PInf:
			case i > 0 && rng.Float64() < s.Ties:
				x[i] = x[rng.IntN(i)]
				if math.IsInf(x[i], 1) {
					x[i] = unit * (0.15 + 1.85*rng.Float64())
				}
			default:
				x[i] = unit * (0.15 + 1.85*rng.Float64())
			}
		}
	}
	for i := range l.BiasTimes {
		l.BiasTimes[i] = unit * 0.3 * float64(i+1)
	}
	scale := 3 / math.Sqrt(float64(rows))
	if ratio == 1 {
		scale *= 1.5
	}
	for i := range l.W {
		l.W[i] = scale * (0.8 + rng.NormFloat64())
		if s.Silent {
			l.W[i] = -math.Abs(l.W[i]) * 1e-3
		}
	}
	for k := 0; k < s.Out; k++ {
		ts, tm := unit, unit*ratio
		if s.Spread > 0 {
			ts *= 1 + s.Spread*(2*rng.Float64()-1)
			tm *= 1 + s.Spread*(2*rng.Float64()-1)
		}
		if s.Near > 0 {
			f := math.Exp(math.Log(1e-12) + rng.Float64()*(math.Log(s.Near)-math.Log(1e-12)))
			if rng.IntN(2) == 0 {
				f = -f
			}
			tm = ts * (1 + f)
		}
		l.TauMem[k], l.TauSyn[k] = tm, ts
		l.Theta[k] = 1 + 0.2*(2*rng.Float64()-1)
	}
	if s.Axonal {
		l.AxonalDelays = make([]float64, s.In)
		for i := range l.AxonalDelays {
			l.AxonalDelays[i] = unit * 0.5 * rng.Float64()
		}
	}
	if s.Dendritic {
		l.DendriticDelays = make([]float64, s.Out)
		for i := range l.DendriticDelays {
			l.DendriticDelays[i] = unit * 0.5 * rng.Float64()
		}
	}
	return l
}

// PerturbedMix draws a population of nine perturbed layers of different
// shapes: batch sizes (one member with none), inputs, neurons, bias
// spikes, axonal and dendritic delays, units, every mode of the root
// finder (spreads, near-equal, equal and doubled time constants), missing
// inputs, equal input times, a member that never fires and one without
// input spikes.
func PerturbedMix(rng *rand.Rand) []*batch.PerturbedLayer {
	specs := []PerturbedSpec{
		{B: 13, In: 6, Out: 5, Spread: 0.2, PInf: 0.1},
		{B: 7, In: 9, Out: 3, Bias: 2, Axonal: true, Ratio: 2, Spread: 0.4, PInf: 0.2, Ties: 0.2},
		{B: 0, In: 4, Out: 2, Spread: 0.1},
		{B: 21, In: 3, Out: 7, Bias: 1, Dendritic: true, Unit: 1.3, Near: 1e-5, Ties: 0.3},
		{B: 1, In: 40, Out: 1, Axonal: true, Dendritic: true, Spread: 0.3, PInf: 0.5},
		{B: 9, In: 5, Out: 4, Unit: 0.7},                        // equal time constants
		{B: 5, In: 5, Out: 4, Ratio: 2},                         // tau_mem = 2 tau_syn
		{B: 6, In: 8, Out: 3, Bias: 3, Silent: true, PInf: 0.3}, // never fire
		{B: 4, In: 7, Out: 2, PInf: 1},                          // no input spikes at all
	}
	ls := make([]*batch.PerturbedLayer, len(specs))
	for m, s := range specs {
		ls[m] = Perturbed(rng, s)
	}
	return ls
}

// PerturbedFromLayer returns the perturbed layer that is lay with every
// neuron at its nominal time constants, on the B samples of input times
// in (B x lay.In), for checks against the closed forms: its weights and
// bias times are lay's (shared, not copied), its axonal or dendritic
// delays lay's, theta the neuron's threshold above the leak, Unit its
// tau_syn.
func PerturbedFromLayer(lay *batch.Layer, b int, in []float64) *batch.PerturbedLayer {
	n := lay.Neuron
	l := &batch.PerturbedLayer{B: b, In: lay.In, Out: lay.Out, Input: in, BiasTimes: lay.BiasTimes, W: lay.W(),
		TauMem: make([]float64, lay.Out), TauSyn: make([]float64, lay.Out), Theta: make([]float64, lay.Out),
		Unit: n.TauSyn, Output: make([]float64, b*lay.Out)}
	for k := range l.TauMem {
		l.TauMem[k], l.TauSyn[k], l.Theta[k] = n.TauMem, n.TauSyn, n.Threshold-n.Leak
	}
	switch lay.Delay {
	case batch.Axonal:
		l.AxonalDelays = lay.D()
	case batch.Dendritic:
		l.DendriticDelays = lay.D()
	}
	return l
}
