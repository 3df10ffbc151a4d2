//go:build cgo

package host

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/kernels"
	"gorgonia.org/tensor"
)

// randNet draws a network whose neurons mostly spike for inputs in
// [0.15, 2] (sizes: inputs, layers...).
func randNet(rng *rand.Rand, regime batch.Regime, kind batch.DelayKind, bias, mux int, eps float64, sizes ...int) *batch.Network {
	return testnet.Net(rng, testnet.Spec{TauMem: float64(regime), Delay: kind, Bias: bias, Mux: mux, Eps: eps, MaxDWNorm: 0.5, Sizes: sizes})
}

// relDiff is |a - b| / max(|b|, 1), the parity measure of DESIGN.md section 8.
func relDiff(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1) }

func compare(t *testing.T, what string, got, want []float64, tol float64) float64 {
	t.Helper()
	worst := 0.0
	for i := range want {
		if math.IsInf(want[i], 1) || math.IsInf(got[i], 1) {
			if got[i] != want[i] {
				t.Fatalf("%s[%d]: kernel math %g, Go engine %g", what, i, got[i], want[i])
			}
			continue
		}
		d := relDiff(got[i], want[i])
		worst = max(worst, d)
		if !(d <= tol) {
			t.Fatalf("%s[%d]: kernel math %.17g, Go engine %.17g (difference %.3g > %.0g)", what, i, got[i], want[i], d, tol)
		}
	}
	return worst
}

// The kernels, run on the CPU through the GPU's launcher, agree with the Go engine:
// spike times to 1e-12 and gradients to 1e-10 (relative, above 1), the
// same silent neurons and the same clipped gradients.
func TestKernelMathMatchesGoEngine(t *testing.T) {
	kinds := []batch.DelayKind{batch.NoDelay, batch.Axonal, batch.Dendritic, batch.Synaptic}
	for _, regime := range []batch.Regime{batch.EqualTau, batch.DoubleTau} {
		for _, kind := range kinds {
			for _, v := range []struct {
				bias, mux int
				eps       float64
			}{{0, 1, 0}, {2, 3, 0}, {1, 1, 1e-6}} {
				name := fmt.Sprintf("%v/%v/bias%d_mux%d_eps%g", regime, kind, v.bias, v.mux, v.eps)
				t.Run(name, func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(regime), uint64(kind)*10+uint64(v.bias)))
					net := randNet(rng, regime, kind, v.bias, v.mux, v.eps, 5, 17, 9, 4)
					const b = 37
					x := batch.NewTimes(b, 5)
					for i := range x.Float64s() {
						if rng.Float64() > 0.08 {
							x.Float64s()[i] = 0.15 + 1.85*rng.Float64()
						}
					}
					var want, got batch.Trace
					if err := batch.NewCPU(1).Forward(net, x, &want); err != nil {
						t.Fatal(err)
					}
					eng := New()
					defer eng.Release()
					if err := eng.Forward(net, x, &got); err != nil {
						t.Fatal(err)
					}
					spikes := 0
					for l := range want.Times {
						compare(t, fmt.Sprintf("times[%d]", l), got.Times[l].Float64s(), want.Times[l].Float64s(), 1e-12)
						for _, v := range want.Times[l].Float64s() {
							if !math.IsInf(v, 1) {
								spikes++
							}
						}
					}
					dOut := tensor.New(tensor.WithShape(b, net.Outputs()), tensor.WithBacking(make([]float64, b*net.Outputs())))
					for i := range dOut.Float64s() {
						dOut.Float64s()[i] = rng.NormFloat64()
					}
					gw, gg := batch.NewGradients(net, b), batch.NewGradients(net, b)
					if err := batch.NewCPU(1).Backward(net, &want, dOut, gw); err != nil {
						t.Fatal(err)
					}
					if err := eng.Backward(net, &want, dOut, gg); err != nil {
						t.Fatal(err)
					}
					worst := 0.0
					nonzero := 0
					for l := range net.Layers {
						worst = max(worst, compare(t, fmt.Sprintf("dW[%d]", l), gg.Weights[l].Float64s(), gw.Weights[l].Float64s(), 1e-10))
						if gw.Delays[l] != nil {
							worst = max(worst, compare(t, fmt.Sprintf("dD[%d]", l), gg.Delays[l].Float64s(), gw.Delays[l].Float64s(), 1e-10))
						}
						if gg.Clipped[l] != gw.Clipped[l] {
							t.Fatalf("layer %d: %d clipped gradients, Go engine %d", l, gg.Clipped[l], gw.Clipped[l])
						}
						for _, v := range gw.Weights[l].Float64s() {
							if v != 0 {
								nonzero++
							}
						}
					}
					worst = max(worst, compare(t, "dInput", gg.Input.Float64s(), gw.Input.Float64s(), 1e-10))
					if spikes < b*10 || nonzero < 50 {
						t.Fatalf("only %d spikes and %d non-zero weight gradients: the test network tests too little", spikes, nonzero)
					}
					t.Logf("largest gradient difference %.2g", worst)
				})
			}
		}
	}
}

// The Go side's layout of the C structs matches the C compiler's.
func TestStructLayout(t *testing.T) {
	l, n := structSizes()
	if l != kernels.LayerBytes || n != kernels.NStateBytes {
		t.Fatalf("sizeof dg_layer %d, dg_nstate %d; kernels says %d, %d", l, n, kernels.LayerBytes, kernels.NStateBytes)
	}
	lay := batch.NewLayer(7, 5, 2, batch.Neuron{TauSyn: 1.5, TauMem: 3, Threshold: 1.2, Leak: 0.2, Eps: 1e-6}, batch.Synaptic)
	lay.MaxDWNorm = 0.25
	enc, err := kernels.EncodeLayer(&lay)
	if err != nil {
		t.Fatal(err)
	}
	ints, floats := layerFields(enc)
	if ints != [6]int{7, 5, 9, 2, int(batch.Synaptic), int(batch.DoubleTau)} || floats != [4]float64{1.5, 0.5, 1e-6, 0.25} {
		t.Fatalf("dg_layer read back as %v %v", ints, floats)
	}
}
