package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/delgrad-go/delgrad/internal/xmath"

	"github.com/delgrad-go/delgrad/batch"
)

// Model is a network together with its trainable parameters.
//
// The optimiser updates W (the master weights) and Theta (the delay
// parameters, one per shared delay). Sync derives the network the engine
// runs from them: weights rounded if configured, delays through the
// positivity map and the sharing pattern.
type Model struct {
	Net *batch.Network
	// W[l] is layer l's master weights, (Rows x Out) row-major.
	W [][]float64
	// Theta[l] is layer l's delay parameters (nil without delays).
	Theta [][]float64
	specs []delaySpec
	round float64
}

// delaySpec says how one layer's Theta maps to its effective delays.
type delaySpec struct {
	kind         batch.DelayKind
	positivity   string
	shift, scale float64
	rows, cols   int // trainable shape (after sharing)
	in, out      int // effective shape of the delay matrix
	preF, postF  int // sharing factors
}

func delayKind(s string) batch.DelayKind {
	switch s {
	case "axonal":
		return batch.Axonal
	case "dendritic":
		return batch.Dendritic
	case "synaptic":
		return batch.Synaptic
	}
	return batch.NoDelay
}

// NewModel builds the network of c for inputs input features and draws its
// initial parameters from rng: weights N(weights_mean, weights_std), delay
// parameters N(delay.mean, delay.std), layer by layer, weights first.
func NewModel(c *Config, inputs int, rng *rand.Rand) (*Model, error) {
	if inputs < 1 {
		return nil, fmt.Errorf("model: %d input features", inputs)
	}
	m := &Model{Net: &batch.Network{Inputs: inputs, Multiplex: c.Data.Multiplex}, round: c.Training.RoundWeights}
	prev := inputs * c.Data.Multiplex
	for i := range c.Layers {
		lc := &c.Layers[i]
		nc := c.neuron(i)
		nrn := batch.Neuron{TauSyn: *nc.TauSyn, TauMem: *nc.TauMem, Threshold: *nc.Threshold,
			Leak: *nc.Leak, Eps: c.Training.Eps}
		kind := delayKind(lc.Delay.Kind)
		l := batch.NewLayer(prev, lc.Size, len(lc.BiasTimes), nrn, kind)
		copy(l.BiasTimes, lc.BiasTimes)
		l.MaxDWNorm = *nc.MaxDWNorm
		w := make([]float64, l.Rows()*l.Out)
		for j := range w {
			w[j] = lc.WeightsMean + lc.WeightsStd*rng.NormFloat64()
		}
		sp := delaySpec{kind: kind, positivity: lc.Delay.Positivity, shift: lc.Delay.SigmoidShift,
			scale: lc.Delay.SigmoidScale, in: prev, out: lc.Size,
			preF: lc.Delay.PresynSharing, postF: lc.Delay.PostsynSharing}
		var theta []float64
		if kind != batch.NoDelay {
			sp.rows, sp.cols = 1, 1
			if kind == batch.Axonal || kind == batch.Synaptic {
				if prev%sp.preF != 0 {
					return nil, fmt.Errorf("config: layers[%d].delay.presyn_sharing = %d does not divide the %d inputs", i, sp.preF, prev)
				}
				sp.rows = prev / sp.preF
			}
			if kind == batch.Dendritic || kind == batch.Synaptic {
				if lc.Size%sp.postF != 0 {
					return nil, fmt.Errorf("config: layers[%d].delay.postsyn_sharing = %d does not divide the %d neurons", i, sp.postF, lc.Size)
				}
				sp.cols = lc.Size / sp.postF
			}
			theta = make([]float64, sp.rows*sp.cols)
			for j := range theta {
				theta[j] = lc.Delay.Mean + lc.Delay.Std*rng.NormFloat64()
			}
		}
		m.Net.Layers = append(m.Net.Layers, l)
		m.W = append(m.W, w)
		m.Theta = append(m.Theta, theta)
		m.specs = append(m.specs, sp)
		prev = lc.Size
	}
	m.Sync()
	if err := m.Net.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return m, nil
}

func sigmoid(x float64) float64 { return 1 / (1 + xmath.Exp(-x)) }

// thetaIndex maps an effective delay index to its parameter, tiling the
// trainable delays as the reference's repeat does.
func (s *delaySpec) thetaIndex(k int) int {
	switch s.kind {
	case batch.Axonal:
		return k % s.rows
	case batch.Dendritic:
		return k % s.cols
	}
	i, j := k/s.out, k%s.out
	return (i%s.rows)*s.cols + j%s.cols
}

// delay maps one parameter to its delay value.
func (s *delaySpec) delay(theta float64) float64 {
	if s.positivity == "sigmoid" {
		return s.shift + s.scale*sigmoid(theta)
	}
	return theta
}

// dDelay is d(delay)/d(theta).
func (s *delaySpec) dDelay(theta float64) float64 {
	if s.positivity == "sigmoid" {
		g := sigmoid(theta)
		return s.scale * g * (1 - g)
	}
	return 1
}

// Sync writes the network's weights and delays from W and Theta.
func (m *Model) Sync() {
	for l := range m.Net.Layers {
		lay := &m.Net.Layers[l]
		dst := lay.W()
		if m.round > 0 {
			for j, v := range m.W[l] {
				dst[j] = math.Round(v/m.round) * m.round
			}
		} else {
			copy(dst, m.W[l])
		}
		sp := &m.specs[l]
		if sp.kind == batch.NoDelay {
			continue
		}
		d := lay.D()
		for k := range d {
			d[k] = sp.delay(m.Theta[l][sp.thetaIndex(k)])
		}
	}
}

// ParamGrads turns the engine's gradients (w.r.t. the network's weights and
// delays) into gradients w.r.t. W and Theta, writing into gw and gt.
// Rounding is straight-through: the gradient at the rounded weights is
// applied to the master weights.
func (m *Model) ParamGrads(g *batch.Gradients, gw, gt [][]float64) {
	for l := range m.Net.Layers {
		copy(gw[l], g.Weights[l].Float64s())
		sp := &m.specs[l]
		if sp.kind == batch.NoDelay {
			continue
		}
		t := gt[l]
		for j := range t {
			t[j] = 0
		}
		for k, v := range g.D(l) {
			j := sp.thetaIndex(k)
			t[j] += v * sp.dDelay(m.Theta[l][j])
		}
	}
}

// Rectify applies the clip and shift positivity rules after a step.
func (m *Model) Rectify() {
	for l, sp := range m.specs {
		th := m.Theta[l]
		switch {
		case sp.kind == batch.NoDelay:
		case sp.positivity == "clip":
			for j := range th {
				th[j] = math.Max(th[j], 0)
			}
		case sp.positivity == "shift":
			lo := 0.0
			for _, v := range th {
				lo = math.Min(lo, v)
			}
			for j := range th {
				th[j] -= lo
			}
		}
	}
}

// ClipWeights clips every master weight to [-c, c].
func (m *Model) ClipWeights(c float64) {
	for _, w := range m.W {
		for j, v := range w {
			w[j] = math.Max(-c, math.Min(c, v))
		}
	}
}

// checkShapes reports whether w and theta have the shapes of the model's
// parameters.
func (m *Model) checkShapes(w, theta [][]float64) error {
	if len(w) != len(m.W) || len(theta) != len(m.Theta) {
		return fmt.Errorf("%d layers, the model has %d", len(w), len(m.W))
	}
	for l := range m.W {
		if len(w[l]) != len(m.W[l]) || len(theta[l]) != len(m.Theta[l]) {
			return fmt.Errorf("layer %d has %d weights and %d delay parameters, the model %d and %d",
				l, len(w[l]), len(theta[l]), len(m.W[l]), len(m.Theta[l]))
		}
	}
	return nil
}

// CheckFinite returns an error naming the first non-finite parameter.
func (m *Model) CheckFinite() error {
	for l, w := range m.W {
		if err := checkFiniteSlice(w); err != nil {
			return fmt.Errorf("layer %d weights: %w", l, err)
		}
		if err := checkFiniteSlice(m.Theta[l]); err != nil {
			return fmt.Errorf("layer %d delay parameters: %w", l, err)
		}
	}
	return nil
}

// setParams copies w and theta (of the model's shapes) into the model's
// parameters, in place (the optimiser's groups alias them), and syncs the
// network.
func (m *Model) setParams(w, theta [][]float64) {
	for l := range m.W {
		copy(m.W[l], w[l])
		copy(m.Theta[l], theta[l])
	}
	m.Sync()
}
