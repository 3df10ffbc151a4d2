package bss2model

import (
	"fmt"
	"math/rand/v2"

	"github.com/delgrad-go/delgrad/batch"
)

// Chip is one draw of the fixed-pattern terms for a network: what sets one
// BrainScaleS-2 chip (and one placement of the network on it) apart from
// another.
type Chip struct {
	Layers []ChipLayer
}

// ChipLayer holds the fixed-pattern terms of one layer's neurons and
// synapses.
type ChipLayer struct {
	// ThresholdOffset is added to each neuron's threshold (Out values).
	ThresholdOffset []float64
	// TauMem and TauSyn scale each neuron's time constants (Out values,
	// 1 = nominal).
	TauMem, TauSyn []float64
	// Gain scales each synapse's weight (Rows x Out, row-major like the
	// layer's weights; 1 = nominal).
	Gain []float64
}

// NewChip draws the fixed-pattern terms of p for net from rng. The draws
// come in a fixed order (layer by layer: threshold offsets, time constants,
// gains; terms with zero spread draw nothing), so the same rng state gives
// the same chip.
func NewChip(p *Params, net *batch.Network, rng *rand.Rand) *Chip {
	c := &Chip{Layers: make([]ChipLayer, len(net.Layers))}
	for l := range net.Layers {
		lay := &net.Layers[l]
		cl := &c.Layers[l]
		cl.ThresholdOffset = make([]float64, lay.Out)
		for k := range cl.ThresholdOffset {
			cl.ThresholdOffset[k] = p.ThresholdOffsetMean
			if p.ThresholdOffsetStd > 0 {
				cl.ThresholdOffset[k] += p.ThresholdOffsetStd * rng.NormFloat64()
			}
		}
		cl.TauMem = scales(lay.Out, p.TauMemStd, rng)
		cl.TauSyn = scales(lay.Out, p.TauSynStd, rng)
		cl.Gain = scales(lay.Rows()*lay.Out, p.GainStd, rng)
	}
	return c
}

// scales returns n factors 1 + std N(0, 1), kept above 0.05 so that a
// time constant or gain never changes sign.
func scales(n int, std float64, rng *rand.Rand) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 1
		if std > 0 {
			s[i] = max(0.05, 1+std*rng.NormFloat64())
		}
	}
	return s
}

// check reports whether c was drawn for a network shaped like net.
func (c *Chip) check(net *batch.Network) error {
	if c == nil {
		return fmt.Errorf("bss2model: chip is nil")
	}
	if len(c.Layers) != len(net.Layers) {
		return fmt.Errorf("bss2model: chip has %d layers, the network %d: draw the chip for this network", len(c.Layers), len(net.Layers))
	}
	for l := range net.Layers {
		lay, cl := &net.Layers[l], &c.Layers[l]
		if len(cl.ThresholdOffset) != lay.Out || len(cl.TauMem) != lay.Out || len(cl.TauSyn) != lay.Out ||
			len(cl.Gain) != lay.Rows()*lay.Out {
			return fmt.Errorf("bss2model: chip layer %d was drawn for another shape than %d x %d: draw the chip for this network",
				l, lay.Rows(), lay.Out)
		}
	}
	return nil
}
