package bss2model

import (
	"fmt"
	"math"
	"strings"

	"github.com/delgrad-go/delgrad/batch"
)

// Params holds the terms of the chip model. Times are in units of the
// network's tau_syn unless a name says otherwise; "reference" marks values
// taken from the hardware-aware simulation of the DelGrad reference
// implementation, "assumption" marks terms and values of this model alone.
type Params struct {
	// WeightScale is the number of hardware weight units per 1.0 of model
	// weight: weights are rounded to multiples of 1/WeightScale (reference:
	// 30). Zero keeps weights continuous.
	WeightScale float64 `toml:"weight_scale" json:"weight_scale"`
	// WeightMax is the largest weight magnitude in hardware units, 6 bits
	// with the sign given by the synapse row (reference: 63, so |w| <= 2.1).
	WeightMax int `toml:"weight_max" json:"weight_max"`
	// ThresholdOffsetMean and ThresholdOffsetStd set the fixed-pattern
	// threshold offset drawn per neuron and chip (reference: 0.13, 0.08).
	ThresholdOffsetMean float64 `toml:"threshold_offset_mean" json:"threshold_offset_mean"`
	ThresholdOffsetStd  float64 `toml:"threshold_offset_std" json:"threshold_offset_std"`
	// ThresholdNoise is the standard deviation of the trial-to-trial
	// threshold term, drawn per neuron for every batch (reference: 0.04).
	ThresholdNoise float64 `toml:"threshold_noise" json:"threshold_noise"`
	// DelayJitter is the standard deviation of the trial-to-trial jitter of
	// every realised delay, per sample (reference: 0.01).
	DelayJitter float64 `toml:"delay_jitter" json:"delay_jitter"`
	// TauSynUS is tau_syn on the chip in microseconds of hardware time
	// (reference: 6); it converts delays to register settings and the clock
	// to model time.
	TauSynUS float64 `toml:"tau_syn_us" json:"tau_syn_us"`
	// DelayOffsetUS, DelayRegisterPerUS, DelayRegisterMin and
	// DelayRegisterMax describe a delay neuron: a delay of D microseconds is
	// the refractory setting round((D - DelayOffsetUS) * DelayRegisterPerUS)
	// clipped to [DelayRegisterMin, DelayRegisterMax] (reference: 2, 8, 50,
	// 250). DelayRegisterPerUS = 0 keeps delays continuous and unclipped.
	DelayOffsetUS      float64 `toml:"delay_offset_us" json:"delay_offset_us"`
	DelayRegisterPerUS float64 `toml:"delay_register_per_us" json:"delay_register_per_us"`
	DelayRegisterMin   int     `toml:"delay_register_min" json:"delay_register_min"`
	DelayRegisterMax   int     `toml:"delay_register_max" json:"delay_register_max"`
	// Acceleration is how much faster than biological time the chip runs
	// (reference: 1000); it only converts times for reports.
	Acceleration float64 `toml:"acceleration" json:"acceleration"`

	// TauMemStd and TauSynStd are the relative standard deviations of the
	// fixed-pattern membrane and synaptic time constants per neuron
	// (assumption: 0, as calibration brings them close to their targets).
	// Non-zero values send every neuron through the root finder.
	TauMemStd float64 `toml:"tau_mem_std" json:"tau_mem_std"`
	TauSynStd float64 `toml:"tau_syn_std" json:"tau_syn_std"`
	// GainStd is the relative standard deviation of the fixed-pattern gain
	// of every synapse (assumption: 0.02).
	GainStd float64 `toml:"gain_std" json:"gain_std"`
	// ClockMHz is the FPGA clock in MHz of hardware time: every input and
	// observed spike time is rounded to its period (assumption: 125 MHz,
	// 1/750 tau_syn at tau_syn = 6 us). Zero keeps times continuous.
	ClockMHz float64 `toml:"clock_mhz" json:"clock_mhz"`
	// SpikeJitter is the standard deviation of the trial-to-trial jitter of
	// every observed spike time (assumption: 0).
	SpikeJitter float64 `toml:"spike_jitter" json:"spike_jitter"`
	// SpikeLoss is the probability that a spike is lost on its way to the
	// next layer or the readout (assumption: 0).
	SpikeLoss float64 `toml:"spike_loss" json:"spike_loss"`

	// NeuronCircuits is the number of neuron circuits on one chip
	// (reference: 512). Every neuron of the network takes one or more
	// (a compound neuron), and every delay neuron one.
	NeuronCircuits int `toml:"neuron_circuits" json:"neuron_circuits"`
	// SynapseRows is the number of synapse rows a neuron circuit receives
	// (reference: 256). A synapse row is excitatory or inhibitory, so a
	// signed weight takes two rows: a neuron with n spike sources (inputs
	// and bias spikes) needs 2n rows.
	SynapseRows int `toml:"synapse_rows" json:"synapse_rows"`
	// CircuitsPerNeuron is the most circuits one neuron may combine to
	// receive more rows (assumption: 2, as the reference's 16x16 MNIST
	// network on the chip does for its 256 inputs). Zero skips the
	// placement check (Fit).
	CircuitsPerNeuron int `toml:"circuits_per_neuron" json:"circuits_per_neuron"`

	// TrainChip says which chip hardware-aware training runs on:
	// "resample" draws a new chip for every batch (the default, our choice:
	// the network learns to work on any chip), "fixed" trains on one chip
	// drawn from the run's seed, as training against one real chip does.
	TrainChip string `toml:"train_chip" json:"train_chip"`
}

// TrainChips lists the values of Params.TrainChip.
var TrainChips = []string{"resample", "fixed"}

// Defaults returns the reference's terms and this model's assumptions, as
// documented on each field of Params.
func Defaults() Params {
	return Params{
		WeightScale: 30, WeightMax: 63,
		ThresholdOffsetMean: 0.13, ThresholdOffsetStd: 0.08,
		ThresholdNoise: 0.04, DelayJitter: 0.01,
		TauSynUS: 6, DelayOffsetUS: 2, DelayRegisterPerUS: 8,
		DelayRegisterMin: 50, DelayRegisterMax: 250,
		Acceleration: 1000,
		GainStd:      0.02, ClockMHz: 125,
		NeuronCircuits: 512, SynapseRows: 256, CircuitsPerNeuron: 2,
		TrainChip: "resample",
	}
}

// Ideal returns a model with every term off: weights, delays and times
// continuous, no mismatch and no noise. A network runs on it exactly as on
// the ideal engine.
func Ideal() Params {
	return Params{TauSynUS: 6, Acceleration: 1000, TrainChip: "fixed"}
}

// Validate checks every value and names the first bad key as it appears
// in a [bss2] config section.
func (p *Params) Validate() error {
	for _, c := range []struct {
		key string
		v   float64
	}{
		{"weight_scale", p.WeightScale}, {"threshold_offset_std", p.ThresholdOffsetStd},
		{"threshold_noise", p.ThresholdNoise}, {"delay_jitter", p.DelayJitter},
		{"delay_register_per_us", p.DelayRegisterPerUS},
		{"tau_mem_std", p.TauMemStd}, {"tau_syn_std", p.TauSynStd}, {"gain_std", p.GainStd},
		{"clock_mhz", p.ClockMHz}, {"spike_jitter", p.SpikeJitter}, {"spike_loss", p.SpikeLoss},
	} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) || c.v < 0 {
			return fmt.Errorf("bss2.%s = %v: must be a finite number >= 0", c.key, c.v)
		}
	}
	for _, c := range []struct {
		key string
		v   float64
	}{{"tau_syn_us", p.TauSynUS}, {"acceleration", p.Acceleration}} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) || c.v <= 0 {
			return fmt.Errorf("bss2.%s = %v: must be a finite number > 0", c.key, c.v)
		}
	}
	if math.IsNaN(p.ThresholdOffsetMean) || math.IsInf(p.ThresholdOffsetMean, 0) {
		return fmt.Errorf("bss2.threshold_offset_mean = %v: must be a finite number", p.ThresholdOffsetMean)
	}
	if math.IsNaN(p.DelayOffsetUS) || math.IsInf(p.DelayOffsetUS, 0) {
		return fmt.Errorf("bss2.delay_offset_us = %v: must be a finite number", p.DelayOffsetUS)
	}
	if p.WeightScale > 0 && p.WeightMax < 1 {
		return fmt.Errorf("bss2.weight_max = %d: must be >= 1 where weight_scale > 0", p.WeightMax)
	}
	if p.DelayRegisterPerUS > 0 && (p.DelayRegisterMin < 0 || p.DelayRegisterMax < p.DelayRegisterMin) {
		return fmt.Errorf("bss2.delay_register_min = %d, delay_register_max = %d: need 0 <= min <= max",
			p.DelayRegisterMin, p.DelayRegisterMax)
	}
	if p.TauMemStd >= 0.5 || p.TauSynStd >= 0.5 {
		return fmt.Errorf("bss2.tau_mem_std = %v, tau_syn_std = %v: must be < 0.5 (a relative spread)", p.TauMemStd, p.TauSynStd)
	}
	if p.CircuitsPerNeuron < 0 || p.CircuitsPerNeuron > 0 && (p.NeuronCircuits < 1 || p.SynapseRows < 2) {
		return fmt.Errorf("bss2.circuits_per_neuron = %d, neuron_circuits = %d, synapse_rows = %d: need circuits_per_neuron >= 0 and, where it is > 0, neuron_circuits >= 1 and synapse_rows >= 2",
			p.CircuitsPerNeuron, p.NeuronCircuits, p.SynapseRows)
	}
	if p.SpikeLoss >= 1 {
		return fmt.Errorf("bss2.spike_loss = %v: must be a probability below 1", p.SpikeLoss)
	}
	ok := false
	for _, v := range TrainChips {
		ok = ok || p.TrainChip == v
	}
	if !ok {
		return fmt.Errorf("bss2.train_chip = %q: must be one of %s", p.TrainChip, strings.Join(TrainChips, ", "))
	}
	return nil
}

// clockPeriod returns the FPGA clock period in units of tau_syn0 (the
// network's tau_syn), or 0 for continuous times.
func (p *Params) clockPeriod(tauSyn0 float64) float64 {
	if p.ClockMHz == 0 {
		return 0
	}
	return tauSyn0 / (p.ClockMHz * p.TauSynUS)
}

// QuantizeWeight returns w as the chip realises it: rounded to a multiple
// of 1/WeightScale and clipped to WeightMax/WeightScale in magnitude.
func (p *Params) QuantizeWeight(w float64) float64 {
	if p.WeightScale == 0 {
		return w
	}
	m := float64(p.WeightMax)
	return math.Max(-m, math.Min(m, math.Round(w*p.WeightScale))) / p.WeightScale
}

// DelayRegister returns the refractory register setting that realises a
// delay d (in units of tau_syn0), already clipped to its range.
func (p *Params) DelayRegister(d, tauSyn0 float64) int {
	us := d / tauSyn0 * p.TauSynUS
	r := math.Round((us - p.DelayOffsetUS) * p.DelayRegisterPerUS)
	return int(math.Max(float64(p.DelayRegisterMin), math.Min(float64(p.DelayRegisterMax), r)))
}

// RealiseDelay returns the delay (units of tau_syn0) that the chip's delay
// neuron produces for a requested delay d.
func (p *Params) RealiseDelay(d, tauSyn0 float64) float64 {
	if p.DelayRegisterPerUS == 0 {
		return d
	}
	us := float64(p.DelayRegister(d, tauSyn0))/p.DelayRegisterPerUS + p.DelayOffsetUS
	return us / p.TauSynUS * tauSyn0
}

// HardwareSeconds converts a duration in units of tau_syn0 to seconds of
// hardware time on the chip.
func (p *Params) HardwareSeconds(t, tauSyn0 float64) float64 {
	return t / tauSyn0 * p.TauSynUS * 1e-6
}

// BiologicalSeconds converts a duration in units of tau_syn0 to the
// biological time the chip emulates (hardware time x Acceleration).
func (p *Params) BiologicalSeconds(t, tauSyn0 float64) float64 {
	return p.HardwareSeconds(t, tauSyn0) * p.Acceleration
}

// Fit reports whether net can be placed on one chip: every neuron's spike
// sources (its inputs and bias spikes, two synapse rows each for a signed
// weight) fit in CircuitsPerNeuron circuits of SynapseRows rows, and the
// network's neurons (compound ones counting all their circuits) and its
// delay neurons (one per delayed spike source: a layer's inputs for axonal
// delays, its neurons for dendritic ones) fit in NeuronCircuits. Its
// error names the limit and what would fit. CircuitsPerNeuron = 0 skips
// the check.
func (p *Params) Fit(net *batch.Network) error {
	if p.CircuitsPerNeuron == 0 {
		return nil
	}
	perCircuit := p.SynapseRows / 2 // signed sources per circuit
	used := 0
	var parts []string
	for l := range net.Layers {
		lay := &net.Layers[l]
		src := lay.In + len(lay.BiasTimes)
		c := (src + perCircuit - 1) / perCircuit
		if c > p.CircuitsPerNeuron {
			return fmt.Errorf("bss2model: layer %d: each neuron receives %d spike sources (%d inputs, %d bias spikes), %d synapse rows with signed weights, more than %d circuits of %d rows hold (%d sources; bss2.circuits_per_neuron, bss2.synapse_rows): give the layer fewer inputs (the size of the layer below, data.multiplex for layer 0) or fewer bias spikes",
				l, src, lay.In, len(lay.BiasTimes), 2*src, p.CircuitsPerNeuron, p.SynapseRows, p.CircuitsPerNeuron*perCircuit)
		}
		used += c * lay.Out
		parts = append(parts, fmt.Sprintf("layer %d: %d neurons x %d circuits", l, lay.Out, c))
		switch lay.Delay {
		case batch.Axonal:
			used += lay.In
			parts = append(parts, fmt.Sprintf("%d axonal delay neurons", lay.In))
		case batch.Dendritic:
			used += lay.Out
			parts = append(parts, fmt.Sprintf("%d dendritic delay neurons", lay.Out))
		}
	}
	if used > p.NeuronCircuits {
		return fmt.Errorf("bss2model: the network needs %d neuron circuits (%s), more than the chip's %d (bss2.neuron_circuits): use fewer neurons or delays",
			used, strings.Join(parts, ", "), p.NeuronCircuits)
	}
	return nil
}

// DelayRange returns the shortest and the longest delay (units of
// tau_syn0) that a delay neuron realises, or (0, +Inf) where delays are
// continuous (DelayRegisterPerUS = 0).
func (p *Params) DelayRange(tauSyn0 float64) (lo, hi float64) {
	if p.DelayRegisterPerUS == 0 {
		return 0, math.Inf(1)
	}
	us := func(r int) float64 { return float64(r)/p.DelayRegisterPerUS + p.DelayOffsetUS }
	return us(p.DelayRegisterMin) / p.TauSynUS * tauSyn0, us(p.DelayRegisterMax) / p.TauSynUS * tauSyn0
}

// WeightLimit returns the largest weight magnitude the chip realises, or
// +Inf where weights are continuous (WeightScale = 0).
func (p *Params) WeightLimit() float64 {
	if p.WeightScale == 0 {
		return math.Inf(1)
	}
	return float64(p.WeightMax) / p.WeightScale
}
