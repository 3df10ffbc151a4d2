//go:build cgo

package host

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/internal/xmath"
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

// compare fails unless got and want are the same bits (NaN matches NaN):
// the kernels and the Go engine share their exponential, logarithm and
// summation order, so they round alike. Where the Go compiler fuses
// multiply-adds (testnet.GoFuses), it holds them to 1e-12 instead. It returns the
// largest relDiff.
func compare(t *testing.T, what string, got, want []float64) float64 {
	t.Helper()
	fused := testnet.GoFuses()
	worst := 0.0
	for i := range want {
		if math.IsNaN(got[i]) && math.IsNaN(want[i]) {
			continue
		}
		d := relDiff(got[i], want[i])
		if math.IsInf(want[i], 0) || math.IsInf(got[i], 0) {
			d = math.Inf(1)
			if got[i] == want[i] {
				d = 0
			}
		}
		if (!fused && math.Float64bits(got[i]) != math.Float64bits(want[i])) || !(d <= 1e-12) {
			t.Fatalf("%s[%d]: kernel math %.17g, Go engine %.17g (difference %.3g)", what, i, got[i], want[i], d)
		}
		worst = max(worst, d)
	}
	return worst
}

// The build this package is tested in rounds as the GPU does: no fused
// multiply-adds in Go (the C side is compiled with -ffp-contract=off).
// Where Go fuses them, the bit-for-bit comparisons fall back to 1e-12 and
// this test says why.
func TestNoFusedMultiplyAdd(t *testing.T) {
	if testnet.GoFuses() {
		t.Skip("this Go build fuses multiply-adds (arm64, or GOAMD64=v3 and up): the Go engine agrees with the kernels to rounding, not bit for bit; build with GOAMD64=v1 or v2 on amd64 for bit-identical engines")
	}
}

// The Go package xmath and the kernels' dg_exp, dg_log and dg_expm1 give
// the same bits on random arguments of every magnitude and at the edges.
func TestExpLogMatchKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	args := []float64{0, -0.0, 1, -1, 1e-300, 5e-324, 0x1p-1022, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(),
		709.78, 709.79, -745.1, -745.2, -708.4, -708.39, 3.725290298461914e-09, -3.725290298461914e-09,
		1020 * math.Ln2, -1020 * math.Ln2, 1019.5 * math.Ln2, -1021.5 * math.Ln2}
	// expm1's branches: |x| around 2^-54, ln2/2, 1.5 ln2 and 56 ln2, and
	// the reductions k = 19, 20, 56, 57 and 1024.
	for _, x := range []float64{0x1p-54, 0x1.0000000000001p-54, 0x1.fffffffffffffp-55, 0.5 * math.Ln2, 1.5 * math.Ln2,
		56 * math.Ln2, 19.5 * math.Ln2, 20 * math.Ln2, 56.5 * math.Ln2, 57 * math.Ln2, 1023.5 * math.Ln2,
		math.Log(math.MaxFloat64), 709.782712893384, 38.8, 38.9} {
		args = append(args, x, -x, math.Nextafter(x, 0), math.Nextafter(x, math.Inf(1)))
	}
	for i := 0; i < 200000; i++ {
		args = append(args, math.Float64frombits(rng.Uint64()), (rng.Float64()*2-1)*750, rng.NormFloat64(),
			(rng.Float64()*2-1)*math.Exp(-700*rng.Float64()))
	}
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
	}
	for _, x := range args {
		if g, c := xmath.Exp(x), dgExp(x); !same(g, c) {
			t.Fatalf("exp(%.17g): xmath %.17g, dg_exp %.17g", x, g, c)
		}
		if g, c := xmath.Log(x), dgLog(x); !same(g, c) {
			t.Fatalf("log(%.17g): xmath %.17g, dg_log %.17g", x, g, c)
		}
		if g, c := xmath.Expm1(x), dgExpm1(x); !same(g, c) {
			t.Fatalf("expm1(%.17g): xmath %.17g, dg_expm1 %.17g", x, g, c)
		}
	}
}

// The kernels, run on the CPU through the GPU's launcher, agree with the Go
// engine bit for bit: spike times, gradients, silent neurons and clipped
// gradients.
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
					spikes, nonzero, worst := matchEngine(t, net, x, rng)
					if spikes < b*10 || nonzero < 50 {
						t.Fatalf("only %d spikes and %d non-zero weight gradients: the test network tests too little", spikes, nonzero)
					}
					t.Logf("largest gradient difference %.2g", worst)
				})
			}
		}
	}
}

// warps are the engine's two ways to run the per-(sample, neuron)
// kernels (the spike search and the backward neuron phase) and the
// backward pass's first phase (WarpRows), forced for every layer.
var warps = []struct {
	name string
	warp func(pairs, rows int64) bool
}{
	{"thread", func(int64, int64) bool { return false }},
	{"warp", func(int64, int64) bool { return true }},
}

// matchEngine runs the network forward and backward on the Go engine and
// through the launcher on the CPU device (with a thread and with a warp
// per (sample, neuron) pair), and fails unless every time and gradient is
// the same; it returns the spikes and non-zero weight gradients seen, and
// the largest difference (0).
func matchEngine(t *testing.T, net *batch.Network, x *tensor.Dense, rng *rand.Rand) (spikes, nonzero int, worst float64) {
	t.Helper()
	var want batch.Trace
	if err := batch.NewCPU(1).Forward(net, x, &want); err != nil {
		t.Fatal(err)
	}
	for l := range want.Times {
		for _, v := range want.Times[l].Float64s() {
			if !math.IsInf(v, 1) {
				spikes++
			}
		}
	}
	b := x.Shape()[0]
	dOut := tensor.New(tensor.WithShape(b, net.Outputs()), tensor.WithBacking(make([]float64, b*net.Outputs())))
	for i := range dOut.Float64s() {
		dOut.Float64s()[i] = rng.NormFloat64()
	}
	gw := batch.NewGradients(net, b)
	if err := batch.NewCPU(1).Backward(net, &want, dOut, gw); err != nil {
		t.Fatal(err)
	}
	for l := range net.Layers {
		for _, v := range gw.Weights[l].Float64s() {
			if v != 0 {
				nonzero++
			}
		}
	}
	for _, p := range warps {
		func() {
			eng := New()
			defer eng.Release()
			eng.WarpSearch, eng.WarpNeuron, eng.WarpRows = p.warp, p.warp, p.warp
			var got batch.Trace
			if err := eng.Forward(net, x, &got); err != nil {
				t.Fatal(err)
			}
			for l := range want.Times {
				compare(t, fmt.Sprintf("%s: times[%d]", p.name, l), got.Times[l].Float64s(), want.Times[l].Float64s())
			}
			gg := batch.NewGradients(net, b)
			if err := eng.Backward(net, &want, dOut, gg); err != nil {
				t.Fatal(err)
			}
			worst = max(worst, testnet.CompareGradients(t, gg, gw, func(what string, got, want []float64) float64 {
				return compare(t, p.name+": "+what, got, want)
			}))
		}()
	}
	return spikes, nonzero, worst
}

// Bit for bit also where the rebasing and the wide-sample paths run (inputs
// spread over thousands of tau_s) and where the batch sums use chunks
// longer than 8 samples (batch.SumChunk).
func TestKernelMathRebaseAndChunks(t *testing.T) {
	for _, c := range []struct {
		name   string
		regime batch.Regime
		kind   batch.DelayKind
		sizes  []int
		b      int
		span   float64
	}{
		{"rebase_equaltau_synaptic", batch.EqualTau, batch.Synaptic, []int{6, 9, 3}, 60, 3000},
		{"rebase_doubletau_axonal", batch.DoubleTau, batch.Axonal, []int{6, 9, 3}, 60, 3000},
		{"chunks_of_16", batch.DoubleTau, batch.NoDelay, []int{599, 100, 2}, 560, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			if n := (c.sizes[0] + 1) * c.sizes[1]; c.name == "chunks_of_16" && batch.SumChunk(c.b, n) != 16 {
				t.Fatalf("SumChunk(%d, %d) = %d: the case no longer tests longer chunks", c.b, n, batch.SumChunk(c.b, n))
			}
			rng := rand.New(rand.NewPCG(5, uint64(c.b)))
			net := randNet(rng, c.regime, c.kind, 1, 1, 0, c.sizes...)
			x := batch.NewTimes(c.b, c.sizes[0])
			for i := range x.Float64s() {
				if rng.Float64() > 0.1 {
					x.Float64s()[i] = 0.15 + 1.85*rng.Float64()
					if c.span > 2 && rng.Float64() < 0.3 {
						x.Float64s()[i] += c.span * rng.Float64()
					}
				}
			}
			spikes, nonzero, _ := matchEngine(t, net, x, rng)
			if spikes < c.b || nonzero < 20 {
				t.Fatalf("only %d spikes and %d non-zero weight gradients", spikes, nonzero)
			}
		})
	}
}

// The Go side's layout of the C structs matches the C compiler's.
func TestStructLayout(t *testing.T) {
	l, n, pm := structSizes()
	if l != kernels.LayerBytes || n != kernels.NStateBytes || pm != kernels.PMemberBytes {
		t.Fatalf("sizeof dg_layer %d, dg_nstate %d, dg_pmember %d; kernels says %d, %d, %d", l, n, pm,
			kernels.LayerBytes, kernels.NStateBytes, kernels.PMemberBytes)
	}
	lay := batch.NewLayer(7, 5, 2, batch.Neuron{TauSyn: 1.5, TauMem: 3, Threshold: 1.2, Leak: 0.2, Eps: 1e-6}, batch.Synaptic)
	lay.MaxDWNorm = 0.25
	enc, err := kernels.EncodeLayer(&lay, 3)
	if err != nil {
		t.Fatal(err)
	}
	ints, floats := layerFields(enc)
	if ints != [7]int{7, 5, 9, 2, int(batch.Synaptic), int(batch.DoubleTau), 3} || floats != [4]float64{1.5, 0.5, 1e-6, 0.25} {
		t.Fatalf("dg_layer read back as %v %v", ints, floats)
	}
	// Two perturbed members: the second's values, entries, groups and
	// outputs after the first's.
	pl := func(b, in, out, bias int, ad, dd bool) *batch.PerturbedLayer {
		l := &batch.PerturbedLayer{B: b, In: in, Out: out, Input: make([]float64, b*in), BiasTimes: make([]float64, bias),
			W: make([]float64, (in+bias)*out), TauMem: ones(out), TauSyn: ones(out), Theta: ones(out), Unit: 1.25,
			Output: make([]float64, b*out)}
		if ad {
			l.AxonalDelays = make([]float64, in)
		}
		if dd {
			l.DendriticDelays = make([]float64, out)
		}
		return l
	}
	penc, err := kernels.EncodePerturbed([]*batch.PerturbedLayer{pl(3, 4, 2, 1, true, false), pl(5, 2, 3, 0, false, true)})
	if err != nil {
		t.Fatal(err)
	}
	// Member 0: 12 input times, 4 axonal delays, 1 bias time, 10 weights,
	// 3 x 2 neuron values: 33 doubles.
	for m, want := range [][15]int64{
		{3, 4, 2, 5, 0, 12, 16, 17, 27, 29, 31, -1, 0, 0, 0},
		{5, 2, 3, 2, 33, -1, 43, 43, 49, 52, 55, 58, 15, 3, 6},
	} {
		ints, unit := pmemberFields(penc[m*kernels.PMemberBytes:])
		if ints != want || unit != 1.25 {
			t.Errorf("dg_pmember %d read back as %v, unit %g; want %v, 1.25", m, ints, unit, want)
		}
	}
}

func ones(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
