package bss2model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"gorgonia.org/tensor"
)

// randNet draws a network (sizes: inputs, hidden..., outputs) whose
// neurons mostly spike for inputs in [0.15, 2].
func randNet(rng *rand.Rand, tauMem float64, kind batch.DelayKind, bias, mux int, sizes ...int) *batch.Network {
	return testnet.Net(rng, testnet.Spec{TauMem: tauMem, Delay: kind, Bias: bias, Mux: mux, Sizes: sizes})
}

func randInput(rng *rand.Rand, b, n int) *tensor.Dense { return testnet.Input(rng, b, n, 0.05) }

// cloneNet returns a deep copy of net.
func cloneNet(net *batch.Network) *batch.Network {
	c := *net
	c.Layers = make([]batch.Layer, len(net.Layers))
	for l, lay := range net.Layers {
		c.Layers[l] = lay
		c.Layers[l].Weights = lay.Weights.Clone().(*tensor.Dense)
		if lay.Delays != nil {
			c.Layers[l].Delays = lay.Delays.Clone().(*tensor.Dense)
		}
		c.Layers[l].BiasTimes = append([]float64(nil), lay.BiasTimes...)
	}
	return &c
}

func engineTrace(t *testing.T, net *batch.Network, x *tensor.Dense) *batch.Trace {
	t.Helper()
	var tr batch.Trace
	if err := batch.NewCPU(1).Forward(net, x, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

func chipTrace(t *testing.T, p Params, net *batch.Network, chip *Chip, x *tensor.Dense, rng *rand.Rand) *batch.Trace {
	t.Helper()
	sub, err := NewSubstrate(p, batch.NewCPU(1))
	if err != nil {
		t.Fatal(err)
	}
	if chip == nil {
		chip = NewChip(&sub.P, net, rng)
	}
	var tr batch.Trace
	if err := sub.Forward(net, chip, x, &tr, rng); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// sameTimes fails unless a and b agree to rel (relative, absolute below 1),
// with +Inf only where the other is +Inf; it returns the largest difference.
func sameTimes(t *testing.T, what string, a, b []float64, rel float64) float64 {
	t.Helper()
	worst := 0.0
	for i := range a {
		if math.IsInf(a[i], 1) != math.IsInf(b[i], 1) {
			t.Fatalf("%s: element %d: %g vs %g (one neuron silent)", what, i, a[i], b[i])
		}
		if math.IsInf(a[i], 1) {
			continue
		}
		d := math.Abs(a[i]-b[i]) / math.Max(1, math.Abs(b[i]))
		worst = max(worst, d)
		if d > rel {
			t.Fatalf("%s: element %d: %.15g vs %.15g (difference %.3g > %.1g)", what, i, a[i], b[i], d, rel)
		}
	}
	return worst
}

// sameAsEngineOn runs net on a chip with parameters p (a fresh one when
// chip is nil) and fails unless its output times equal the engine's on a
// copy of net that edit changed as the chip's term should; it returns the
// chip's output times.
func sameAsEngineOn(t *testing.T, term string, p Params, chip *Chip, net *batch.Network, x *tensor.Dense, rng *rand.Rand, edit func(*batch.Network)) []float64 {
	t.Helper()
	q := cloneNet(net)
	edit(q)
	want := engineTrace(t, q, x).Output().Float64s()
	got := chipTrace(t, p, net, chip, x, rng).Output().Float64s()
	if !slices.Equal(got, want) {
		t.Fatalf("the chip with %s differs from the engine on the network edited to match", term)
	}
	return got
}
