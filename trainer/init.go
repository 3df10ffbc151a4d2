package trainer

import (
	"fmt"
	"math"
	"slices"

	"github.com/delgrad-go/delgrad/batch"
)

// InitFrom replaces the trainer's initial parameters by those of net (a
// network imported with batch.LoadReference, or exported by a run), so
// that training continues from it. theta, when not nil, holds each layer's
// delay parameters before the sigmoid; without it they are recovered from
// the delays. The inputs, layer sizes, bias spikes, neuron parameters and
// delay kinds must match the configuration, and delays must not be
// shared. On error the trainer is left unchanged.
func (t *Trainer) InitFrom(net *batch.Network, theta [][]float64) error {
	m := t.Model
	mux := func(k int) int { return max(k, 1) }
	if net.Inputs != m.Net.Inputs || mux(net.Multiplex) != mux(m.Net.Multiplex) {
		return fmt.Errorf("init: network has %d inputs (multiplex %d), the configuration %d (multiplex %d)",
			net.Inputs, mux(net.Multiplex), m.Net.Inputs, mux(m.Net.Multiplex))
	}
	if len(net.Layers) != len(m.Net.Layers) {
		return fmt.Errorf("init: network has %d layers, the configuration %d", len(net.Layers), len(m.Net.Layers))
	}
	w := clone(m.W)
	th := clone(m.Theta)
	for l := range net.Layers {
		a, b := &net.Layers[l], &m.Net.Layers[l]
		if a.In != b.In || a.Out != b.Out || a.Delay != b.Delay || !slices.Equal(a.BiasTimes, b.BiasTimes) {
			return fmt.Errorf("init: layer %d is %d-%d (bias spikes at %v, %s delays), the configuration's %d-%d (%v, %s)",
				l, a.In, a.Out, a.BiasTimes, a.Delay, b.In, b.Out, b.BiasTimes, b.Delay)
		}
		na, nb := a.Neuron, b.Neuron
		na.Eps, nb.Eps = 0, 0
		if na != nb {
			return fmt.Errorf("init: layer %d neurons %+v differ from the configuration's %+v", l, na, nb)
		}
		copy(w[l], a.W())
		sp := &m.specs[l]
		if sp.kind == batch.NoDelay {
			continue
		}
		d := a.D()
		if len(th[l]) != len(d) {
			return fmt.Errorf("init: layer %d shares its delays: a network cannot be loaded into it", l)
		}
		var given []float64
		if l < len(theta) && theta[l] != nil {
			if len(theta[l]) != len(d) {
				return fmt.Errorf("init: layer %d has %d delay parameters for %d delays", l, len(theta[l]), len(d))
			}
			given = theta[l]
		}
		for j := range th[l] {
			switch {
			case sp.positivity != "sigmoid":
				th[l][j] = d[j]
			case given != nil && sp.delay(given[j]) == d[j]:
				th[l][j] = given[j]
			default:
				// Recover theta from the delay (also when the given theta
				// belongs to another sigmoid shift or scale).
				u := (d[j] - sp.shift) / sp.scale
				if !(u > 0 && u < 1) {
					return fmt.Errorf("init: layer %d delay %d = %g lies outside the sigmoid's range (%g, %g)", l, j, d[j], sp.shift, sp.shift+sp.scale)
				}
				th[l][j] = math.Log(u / (1 - u))
			}
			if got := sp.delay(th[l][j]); math.Abs(got-d[j]) > 1e-9*(1+math.Abs(d[j])) {
				return fmt.Errorf("init: layer %d delay %d = %g cannot be represented (gets %g)", l, j, d[j], got)
			}
		}
	}
	for l := range w {
		if err := checkFiniteSlice(w[l]); err != nil {
			return fmt.Errorf("init: layer %d weights: %w", l, err)
		}
		copy(m.W[l], w[l])
		copy(m.Theta[l], th[l])
	}
	m.Sync()
	return nil
}

// InitFromReference is InitFrom with a network imported by
// batch.LoadReference, using its delay parameters (theta) where it has them.
func (t *Trainer) InitFromReference(ref *batch.Reference) error {
	theta := make([][]float64, len(ref.DelayTheta))
	for l, d := range ref.DelayTheta {
		if d != nil {
			theta[l] = d.Float64s()
		}
	}
	return t.InitFrom(ref.Net, theta)
}

// checkFiniteSlice returns an error naming the first NaN or infinite value.
func checkFiniteSlice(v []float64) error {
	for j, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("value %d is %v", j, x)
		}
	}
	return nil
}
