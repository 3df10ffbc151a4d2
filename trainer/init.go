package trainer

import (
	"fmt"
	"math"

	"github.com/delgrad-go/delgrad/batch"
)

// InitFrom replaces the trainer's initial parameters by those of net (a
// network imported with batch.LoadReference, or exported by a run), so
// that training continues from it. theta, when not nil, holds each layer's
// delay parameters before the sigmoid; without it they are recovered from
// the delays. The layer sizes, bias spikes and delay kinds must match the
// configuration, and delays must not be shared.
func (t *Trainer) InitFrom(net *batch.Network, theta [][]float64) error {
	m := t.Model
	if net.Inputs != m.Net.Inputs || net.Multiplex != m.Net.Multiplex && !(net.Multiplex <= 1 && m.Net.Multiplex <= 1) {
		return fmt.Errorf("init: network has %d inputs (multiplex %d), the configuration %d (multiplex %d)",
			net.Inputs, net.Multiplex, m.Net.Inputs, m.Net.Multiplex)
	}
	if len(net.Layers) != len(m.Net.Layers) {
		return fmt.Errorf("init: network has %d layers, the configuration %d", len(net.Layers), len(m.Net.Layers))
	}
	for l := range net.Layers {
		a, b := &net.Layers[l], &m.Net.Layers[l]
		if a.In != b.In || a.Out != b.Out || a.Rows() != b.Rows() || a.Delay != b.Delay {
			return fmt.Errorf("init: layer %d is %d-%d (%d bias spikes, %s delays), the configuration's %d-%d (%d, %s)",
				l, a.In, a.Out, len(a.BiasTimes), a.Delay, b.In, b.Out, len(b.BiasTimes), b.Delay)
		}
		sp := &m.specs[l]
		if sp.kind != batch.NoDelay && len(m.Theta[l]) != len(a.D()) {
			return fmt.Errorf("init: layer %d shares its delays: a network cannot be loaded into it", l)
		}
	}
	for l := range net.Layers {
		copy(m.W[l], net.Layers[l].W())
		sp := &m.specs[l]
		if sp.kind == batch.NoDelay {
			continue
		}
		d := net.Layers[l].D()
		for j := range m.Theta[l] {
			switch {
			case sp.positivity != "sigmoid":
				m.Theta[l][j] = d[j]
			case l < len(theta) && theta[l] != nil:
				m.Theta[l][j] = theta[l][j]
			default:
				u := (d[j] - sp.shift) / sp.scale
				if !(u > 0 && u < 1) {
					return fmt.Errorf("init: layer %d delay %d = %g lies outside the sigmoid's range (%g, %g)", l, j, d[j], sp.shift, sp.shift+sp.scale)
				}
				m.Theta[l][j] = math.Log(u / (1 - u))
			}
		}
	}
	m.Sync()
	if err := m.CheckFinite(); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}
