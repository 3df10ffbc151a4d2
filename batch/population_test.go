package batch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/tensor"
)

// popCase is a random population: K networks of one spec, each with its
// own parameters, neuron constants (tau_s, tau_m in the spec's regime,
// threshold), bias times, batch (its size varies by member), dL/d(output
// times) and max_dw_norm (some members clip, some do not).
type popCase struct {
	nets        []*Network
	inputs, dys []*tensor.Dense
}

func newPopCase(seed uint64, sp netSpec, k int, shared bool) popCase {
	rng := rand.New(rand.NewPCG(seed, 17))
	var pc popCase
	var in0 *tensor.Dense
	for m := 0; m < k; m++ {
		net := randNet(rng, sp)
		for l := range net.Layers {
			ly := &net.Layers[l]
			if m%2 == 1 {
				ly.MaxDWNorm = 0.05
			}
			// tau_s not a power of two: a kernel scaling by tau_s in
			// another order than the Go engine rounds differently.
			ly.Neuron.TauSyn = 1 + 0.3*float64(m%3)
			ly.Neuron.TauMem = float64(sp.regime) * ly.Neuron.TauSyn
			ly.Neuron.Threshold = (1 + 0.05*float64(m%4)) * ly.Neuron.TauSyn
			for i := range ly.BiasTimes {
				ly.BiasTimes[i] += 0.1 * float64(m%3)
			}
		}
		b := 1 + (7*m+5)%23
		if shared {
			if in0 == nil {
				in0 = randInput(rng, 19, net.Inputs, 0.1)
			}
			b = 19
		}
		in := in0
		if !shared {
			in = randInput(rng, b, net.Inputs, 0.1)
			if m%3 == 2 {
				// A sample whose inputs span more than wideSpan: the
				// backward pass's wide branch.
				in.Float64s()[0] = 650
			}
		}
		pc.nets = append(pc.nets, net)
		pc.inputs = append(pc.inputs, in)
		pc.dys = append(pc.dys, randInput(rng, b, net.Outputs(), 0))
	}
	return pc
}

// sameBits reports the first index at which a and b differ in any bit, or
// -1 when they are identical (lengths included).
func sameBits(a, b []float64) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return i
		}
	}
	return -1
}

// comparePop fails t where a member's trace or gradients differ from the
// single run's.
func comparePop(t *testing.T, name string, m int, net *Network, tr, want *Trace, g, wantG *Gradients) {
	t.Helper()
	for i := range want.Times {
		if j := sameBits(tr.Times[i].Float64s(), want.Times[i].Float64s()); j >= 0 {
			t.Errorf("%s member %d: times of layer %d differ at %d", name, m, i, j)
		}
	}
	if g == nil {
		return
	}
	for l := range net.Layers {
		if j := sameBits(g.Weights[l].Float64s(), wantG.Weights[l].Float64s()); j >= 0 {
			t.Errorf("%s member %d: layer %d weight gradients differ at %d", name, m, l, j)
		}
		if j := sameBits(g.D(l), wantG.D(l)); j >= 0 {
			t.Errorf("%s member %d: layer %d delay gradients differ at %d", name, m, l, j)
		}
		if g.Clipped[l] != wantG.Clipped[l] {
			t.Errorf("%s member %d: layer %d clipped %d, single run %d", name, m, l, g.Clipped[l], wantG.Clipped[l])
		}
	}
	if j := sameBits(g.Input.Float64s(), wantG.Input.Float64s()); j >= 0 {
		t.Errorf("%s member %d: input gradients differ at %d", name, m, j)
	}
}

// TestPopulationMatchesSingles: every member of a population, forward and
// backward, is bit for bit its own single run, for both regimes, every
// delay kind, bias spikes and multiplexing, K = 1, 3 and 17, batches of
// different sizes per member or one shared batch, on 1 or 3 workers.
func TestPopulationMatchesSingles(t *testing.T) {
	clipped := 0
	for _, sp := range specs {
		for _, k := range []int{1, 3, 17} {
			for _, shared := range []bool{false, true} {
				pc := newPopCase(uint64(k), sp, k, shared)
				single := NewCPU(1)
				want := make([]*Trace, k)
				wantG := make([]*Gradients, k)
				for m, net := range pc.nets {
					want[m] = mustForward(t, single, net, pc.inputs[m])
					wantG[m] = NewGradients(net, 1)
					if err := single.Backward(net, want[m], pc.dys[m], wantG[m]); err != nil {
						t.Fatal(err)
					}
					for _, c := range wantG[m].Clipped {
						clipped += c
					}
				}
				for _, workers := range []int{1, 3} {
					name := fmt.Sprintf("%s/K%d/shared=%v/workers%d", specName(sp), k, shared, workers)
					e := NewCPU(workers)
					trs := make([]*Trace, k)
					gs := make([]*Gradients, k)
					for m := range trs {
						trs[m], gs[m] = &Trace{}, &Gradients{}
					}
					if err := e.ForwardPop(pc.nets, pc.inputs, trs); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if err := e.BackwardPop(pc.nets, trs, pc.dys, gs); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					for m, net := range pc.nets {
						comparePop(t, name, m, net, trs[m], want[m], gs[m], wantG[m])
					}
				}
			}
		}
	}
	if clipped == 0 {
		t.Error("no member clipped a gradient: max_dw_norm untested")
	}
}

// hidePop hides an engine's population methods, so that ForwardPop and
// BackwardPop run it member by member.
type hidePop struct{ Engine }

// TestPopulationFallback: the package functions give the same bits on an
// engine without population methods (member by member) as on the CPU
// engine's batched pass.
func TestPopulationFallback(t *testing.T) {
	sp := netSpec{regime: DoubleTau, delay: Synaptic, bias: 1, sizes: []int{4, 9, 3}}
	pc := newPopCase(9, sp, 5, false)
	run := func(e Engine) ([]*Trace, []*Gradients) {
		trs := make([]*Trace, len(pc.nets))
		gs := make([]*Gradients, len(pc.nets))
		for m := range trs {
			trs[m], gs[m] = &Trace{}, &Gradients{}
		}
		if err := ForwardPop(e, pc.nets, pc.inputs, trs); err != nil {
			t.Fatal(err)
		}
		if err := BackwardPop(e, pc.nets, trs, pc.dys, gs); err != nil {
			t.Fatal(err)
		}
		return trs, gs
	}
	trs, gs := run(NewCPU(2))
	wantTr, wantG := run(hidePop{NewCPU(1)})
	for m, net := range pc.nets {
		comparePop(t, "fallback", m, net, trs[m], wantTr[m], gs[m], wantG[m])
	}
}

// TestPopulationErrors: a population whose members differ in shape, or
// whose arguments do not match its size, is refused with a message naming
// the member and the difference.
func TestPopulationErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	base := netSpec{regime: DoubleTau, delay: Axonal, sizes: []int{4, 6, 3}}
	a := randNet(rng, base)
	other := func(f func(*netSpec)) *Network {
		sp := base
		sp.sizes = append([]int(nil), base.sizes...)
		f(&sp)
		return randNet(rng, sp)
	}
	in := randInput(rng, 5, 4, 0)
	bad := randNet(rng, base)
	bad.Layers[0].W()[3] = math.NaN()
	cases := []struct {
		name   string
		nets   []*Network
		inputs []*tensor.Dense
		want   string
	}{
		{"empty", nil, nil, "no members"},
		{"sizes", []*Network{a, other(func(s *netSpec) { s.sizes[1] = 7 })}, []*tensor.Dense{in, in}, "member 1 is not of member 0's shape: layer 0 is 4 x 7, not 4 x 6"},
		{"delay", []*Network{a, other(func(s *netSpec) { s.delay = Dendritic })}, []*tensor.Dense{in, in}, "layer 0 has dendritic delays, not axonal"},
		{"regime", []*Network{a, other(func(s *netSpec) { s.regime = EqualTau })}, []*tensor.Dense{in, in}, "tau_m = tau_s, not tau_m = 2 tau_s"},
		{"bias", []*Network{a, other(func(s *netSpec) { s.bias = 1 })}, []*tensor.Dense{in, in}, "layer 0 has 1 bias spikes, not 0"},
		{"mux", []*Network{a, other(func(s *netSpec) { s.mux = 2 })}, []*tensor.Dense{in, in}, "multiplex 2, not 1"},
		{"count", []*Network{a, a}, []*tensor.Dense{in}, "population of 2 networks given 1 inputs"},
		{"invalid", []*Network{a, bad}, []*tensor.Dense{in, in}, "member 1: layer 0: weights[3] = NaN"},
		{"input", []*Network{a, a}, []*tensor.Dense{in, randInput(rng, 5, 3, 0)}, "member 1: input times: shape (5, 3), want (batch, 4)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			trs := make([]*Trace, len(c.nets))
			for m := range trs {
				trs[m] = &Trace{}
			}
			err := NewCPU(1).ForwardPop(c.nets, c.inputs, trs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// Backward: a nil gradient set is named, not dereferenced.
	var tr Trace
	if err := NewCPU(1).Forward(a, in, &tr); err != nil {
		t.Fatal(err)
	}
	dy := randInput(rng, 5, 3, 0)
	err := NewCPU(1).BackwardPop([]*Network{a, a}, []*Trace{&tr, &tr}, []*tensor.Dense{dy, dy}, []*Gradients{{}, nil})
	if err == nil || !strings.Contains(err.Error(), "member 1: gradients are nil") {
		t.Fatalf("error %v, want member 1's nil gradients named", err)
	}
}

// BenchmarkPopulation: forward+backward of K Yin-Yang 4-30-3 networks
// (axonal delays) at B = 150 each, as one population and as K single
// calls, in aggregate samples/s.
func BenchmarkPopulation(b *testing.B) {
	sp := netSpec{regime: DoubleTau, delay: Axonal, sizes: []int{4, 30, 3}}
	for _, k := range []int{1, 4, 16, 40, 64} {
		rng := rand.New(rand.NewPCG(1, 2))
		var nets []*Network
		var ins, dys []*tensor.Dense
		trs := make([]*Trace, k)
		gs := make([]*Gradients, k)
		for m := 0; m < k; m++ {
			nets = append(nets, randNet(rng, sp))
			ins = append(ins, randInput(rng, 150, 4, 0))
			dys = append(dys, randInput(rng, 150, 3, 0))
			trs[m], gs[m] = &Trace{}, &Gradients{}
		}
		e := NewCPU(0)
		b.Run(fmt.Sprintf("K%d/population", k), func(b *testing.B) {
			for b.Loop() {
				if err := e.ForwardPop(nets, ins, trs); err != nil {
					b.Fatal(err)
				}
				if err := e.BackwardPop(nets, trs, dys, gs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*k*150)/b.Elapsed().Seconds(), "samples/s")
		})
		b.Run(fmt.Sprintf("K%d/singles", k), func(b *testing.B) {
			for b.Loop() {
				for m := range nets {
					if err := e.Forward(nets[m], ins[m], trs[m]); err != nil {
						b.Fatal(err)
					}
					if err := e.Backward(nets[m], trs[m], dys[m], gs[m]); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*k*150)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
