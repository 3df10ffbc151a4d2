package batch

import (
	"errors"
	"fmt"
	"math"
)

// PerturbedLayer is one member's layer whose neurons have their own time
// constants (a simulated chip with time-constant mismatch), so that the
// closed forms of the ideal engine do not hold: every (sample, neuron)
// first spike is a root of the membrane equation, found numerically
// (bss2model.Membrane):
//
//	u_k(t) = sum_i W[i][k] G_k(t - t_i),
//	G_k(s) = (e^{-s/TauMem[k]} - e^{-s/TauSyn[k]}) / (Unit (1/TauSyn[k] - 1/TauMem[k]))
//	         (s e^{-s/TauSyn[k]} / Unit where TauMem[k] = TauSyn[k]),
//
// and neuron k fires at the first t with u_k(t) >= Theta[k]. The events
// t_i of a sample are its finite effective input times (Input plus
// AxonalDelays) and every bias time, ordered by (time, row): input rows
// 0..In-1, then the bias rows In, In+1, ...
//
// A population of perturbed layers (PerturbedEngine.FirstSpikesPop,
// bss2model.FirstSpikes) may mix members of any shapes: each has its own
// B, In, Out and bias count. All times, delays and time constants are in
// the same unit, absolute (not relative to Unit).
type PerturbedLayer struct {
	// B is the number of samples, In the number of inputs and Out the
	// number of neurons (B >= 0, In >= 1, Out >= 1).
	B, In, Out int
	// Input holds B x In input spike times, row-major, as the layer
	// receives them: +Inf for no spike; AxonalDelays are still to be
	// added. Callers that have added their delays (or jitter per sample)
	// already pass the effective times and no AxonalDelays.
	Input []float64
	// AxonalDelays, when not nil, holds In delays added to every sample's
	// input times before they are sorted (t + d, as the chip's delay
	// neurons delay each input).
	AxonalDelays []float64
	// BiasTimes holds the times of the bias spikes (finite; every sample
	// receives all of them, undelayed).
	BiasTimes []float64
	// W holds the realised weights, (In + len(BiasTimes)) x Out, row-major,
	// input-major as batch.Layer's: W[r*Out+k] from row r to neuron k.
	W []float64
	// TauMem, TauSyn and Theta hold each neuron's membrane and synaptic
	// time constants and threshold above the leak potential (Out values
	// each, all > 0).
	TauMem, TauSyn, Theta []float64
	// Unit is the nominal tau_syn that defines the weight unit (> 0).
	Unit float64
	// DendriticDelays, when not nil, holds Out delays added to each
	// neuron's output time (+Inf stays +Inf).
	DendriticDelays []float64
	// Output receives the B x Out first spike times (+Inf: no spike),
	// dendritic delays included. It must not share memory with the other
	// slices.
	Output []float64
}

// PerturbedEngine is an engine that solves a population of perturbed
// layers on its device (kernels.Engine, on a GPU or the host-compiled
// kernels). Its results are bss2model.FirstSpikes', bit for bit.
type PerturbedEngine interface {
	// FirstSpikesPop writes every layer's first spike times into its
	// Output. It checks every layer first (CheckPerturbed) and writes
	// nothing when one is bad.
	FirstSpikesPop(ls []*PerturbedLayer) error
}

// Rows returns the number of rows of the layer's weights: its inputs and
// bias spikes.
func (l *PerturbedLayer) Rows() int { return l.In + len(l.BiasTimes) }

// Validate checks the layer's shape, the lengths of its slices and their
// values: input times finite or +Inf, every other time, delay and weight
// finite, time constants, thresholds and Unit finite and > 0.
func (l *PerturbedLayer) Validate() error {
	if l == nil {
		return errors.New("perturbed layer is nil")
	}
	if l.B < 0 || l.In < 1 || l.Out < 1 {
		return fmt.Errorf("perturbed layer of %d samples, %d inputs and %d neurons: need B >= 0, In >= 1, Out >= 1", l.B, l.In, l.Out)
	}
	if l.Rows() > math.MaxInt32 || l.Out > math.MaxInt32 {
		return fmt.Errorf("perturbed layer of %d rows and %d neurons: more than the kernels index", l.Rows(), l.Out)
	}
	if !(l.Unit > 0 && l.Unit < math.Inf(1)) {
		return fmt.Errorf("perturbed layer: unit %v: must be finite and > 0", l.Unit)
	}
	for _, c := range []struct {
		name string
		v    []float64
		n    int
	}{
		{"input times", l.Input, l.B * l.In}, {"weights", l.W, l.Rows() * l.Out},
		{"tau_mem", l.TauMem, l.Out}, {"tau_syn", l.TauSyn, l.Out}, {"theta", l.Theta, l.Out},
		{"outputs", l.Output, l.B * l.Out},
	} {
		if len(c.v) != c.n {
			return fmt.Errorf("perturbed layer of %d samples, %d rows, %d neurons: %d %s, want %d", l.B, l.Rows(), l.Out, len(c.v), c.name, c.n)
		}
	}
	for _, c := range []struct {
		name string
		v    []float64
		n    int
	}{{"axonal delays", l.AxonalDelays, l.In}, {"dendritic delays", l.DendriticDelays, l.Out}} {
		if c.v != nil && len(c.v) != c.n {
			return fmt.Errorf("perturbed layer: %d %s, want %d or none", len(c.v), c.name, c.n)
		}
	}
	for i, t := range l.Input {
		if math.IsNaN(t) || math.IsInf(t, -1) {
			return fmt.Errorf("perturbed layer: input time %d (sample %d, input %d) is %v: want a finite time or +Inf (no spike)", i, i/l.In, i%l.In, t)
		}
	}
	for _, c := range []struct {
		name string
		v    []float64
	}{
		{"axonal delay", l.AxonalDelays}, {"bias time", l.BiasTimes}, {"weight", l.W},
		{"dendritic delay", l.DendriticDelays},
	} {
		for i, v := range c.v {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("perturbed layer: %s %d is %v: must be finite", c.name, i, v)
			}
		}
	}
	for _, c := range []struct {
		name string
		v    []float64
	}{{"tau_mem", l.TauMem}, {"tau_syn", l.TauSyn}, {"theta", l.Theta}} {
		for k, v := range c.v {
			if !(v > 0 && v < math.Inf(1)) {
				return fmt.Errorf("perturbed layer: %s of neuron %d is %v: must be finite and > 0", c.name, k, v)
			}
		}
	}
	return nil
}

// CheckPerturbed checks every layer of a population of perturbed layers
// (Validate), naming the first bad member. An empty population is valid
// (there is nothing to solve).
func CheckPerturbed(ls []*PerturbedLayer) error {
	for m, l := range ls {
		if err := l.Validate(); err != nil {
			return fmt.Errorf("member %d: %w", m, err)
		}
	}
	return nil
}
