package batch

import (
	"cmp"
	"github.com/delgrad-go/delgrad/internal/xmath"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestInputGradientsSumToOne: shifting every input of a spiking neuron by
// dt shifts its spike by dt, so its input-time gradients sum to 1.
func TestInputGradientsSumToOne(t *testing.T) {
	for _, r := range []Regime{EqualTau, DoubleTau} {
		for _, kind := range []DelayKind{NoDelay, Axonal, Synaptic} {
			rng := rand.New(rand.NewPCG(uint64(r), uint64(kind)))
			net := randNet(rng, netSpec{regime: r, delay: kind, sizes: []int{6, 5}})
			b := 64
			in := randInput(rng, b, 6, 0.1)
			e := NewCPU(2)
			tr := mustForward(t, e, net, in)
			spiking := 0
			for k := 0; k < 5; k++ {
				dOut := NewTimes(b, 5)
				d := dOut.Float64s()
				for s := 0; s < b; s++ {
					for j := 0; j < 5; j++ {
						d[s*5+j] = 0
					}
					d[s*5+k] = 1
				}
				g := NewGradients(net, b)
				if err := e.Backward(net, tr, dOut, g); err != nil {
					t.Fatal(err)
				}
				for s := 0; s < b; s++ {
					sum := 0.0
					for _, v := range g.Input.Float64s()[s*6 : (s+1)*6] {
						sum += v
					}
					if math.IsInf(tr.Output().Float64s()[s*5+k], 1) {
						if sum != 0 {
							t.Errorf("%v %v: silent neuron %d of sample %d has input gradients summing to %g", r, kind, k, s, sum)
						}
						continue
					}
					spiking++
					if math.Abs(sum-1) > 1e-9 {
						t.Errorf("%v %v: neuron %d of sample %d: input gradients sum to %.15g, want 1", r, kind, k, s, sum)
					}
				}
			}
			if spiking < b {
				t.Errorf("%v %v: only %d spiking neurons tested", r, kind, spiking)
			}
		}
	}
}

// TestMembraneOracle checks forward spike times against the membrane
// potential computed directly from the PSP kernels: at the spike it equals
// the threshold, and before it, on a fine grid, it stays below.
func TestMembraneOracle(t *testing.T) {
	for _, r := range []Regime{EqualTau, DoubleTau} {
		rng := rand.New(rand.NewPCG(11, uint64(r)))
		net := randNet(rng, netSpec{regime: r, delay: Synaptic, bias: 1, sizes: []int{8, 6}})
		b := 50
		in := randInput(rng, b, 8, 0.5)
		tr := mustForward(t, NewCPU(0), net, in)
		l := &net.Layers[0]
		spikes, silent := 0, 0
		for s := 0; s < b; s++ {
			for k := 0; k < l.Out; k++ {
				times, ts := effInputs(net, tr, 0, s, k)
				w := make([]float64, l.Rows())
				for i := range w {
					w[i] = l.W()[i*l.Out+k]
				}
				theta := l.Neuron.Threshold
				end := ts
				if math.IsInf(ts, 1) {
					silent++
					end = 40
				} else {
					spikes++
					if v := membrane(l.Neuron, w, times, ts); math.Abs(v-theta) > 1e-9 {
						t.Errorf("%v sample %d neuron %d: membrane %.12g at its spike %.12g, want threshold %g", r, s, k, v, ts, theta)
					}
				}
				for j := 0; j < 4000; j++ {
					tj := end * float64(j) / 4000
					if v := membrane(l.Neuron, w, times, tj); v > theta+1e-12 {
						t.Errorf("%v sample %d neuron %d: membrane %.6g > threshold at %.6g, before its spike %g", r, s, k, v, tj, ts)
						break
					}
				}
			}
		}
		if spikes < 50 || silent == 0 {
			t.Errorf("%v: %d spikes, %d silent: the test network does not cover both cases", r, spikes, silent)
		}
	}
}

// TestWorkersBitwise: results do not depend on the number of workers.
func TestWorkersBitwise(t *testing.T) {
	for _, sp := range specs {
		rng := rand.New(rand.NewPCG(3, 4))
		sp.sizes = []int{5, 40, 4}
		net := randNet(rng, sp)
		b := 103
		in := randInput(rng, b, 5, 0.1)
		dOut := randInput(rng, b, 4, 0)
		var ref *Gradients
		var refOut []float64
		for _, workers := range []int{1, 2, 3, 8} {
			e := NewCPU(workers)
			tr := mustForward(t, e, net, in)
			g := NewGradients(net, b)
			if err := e.Backward(net, tr, dOut, g); err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref, refOut = g, tr.Output().Float64s()
				continue
			}
			same := func(a, b []float64) bool {
				for i := range a {
					if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
						return false
					}
				}
				return len(a) == len(b)
			}
			if !same(refOut, tr.Output().Float64s()) {
				t.Errorf("%s: outputs with %d workers differ from 1 worker", specName(sp), workers)
			}
			for l := range net.Layers {
				if !same(ref.Weights[l].Float64s(), g.Weights[l].Float64s()) {
					t.Errorf("%s: layer %d weight gradients with %d workers differ", specName(sp), l, workers)
				}
				if d := g.D(l); d != nil && !same(ref.D(l), d) {
					t.Errorf("%s: layer %d delay gradients with %d workers differ", specName(sp), l, workers)
				}
			}
			if !same(ref.Input.Float64s(), g.Input.Float64s()) {
				t.Errorf("%s: input gradients with %d workers differ", specName(sp), workers)
			}
		}
	}
}

// TestEpsMatchesReferenceSemantics: with eps = 1e-6 spike times move by
// about eps, and stay finite where the exact model spikes.
func TestEpsSmallEffect(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	net := randNet(rng, netSpec{regime: EqualTau, delay: Axonal, sizes: []int{4, 30, 3}})
	in := randInput(rng, 200, 4, 0)
	exact := mustForward(t, NewCPU(0), net, in).Output().Float64s()
	for i := range net.Layers {
		net.Layers[i].Neuron.Eps = 1e-6
	}
	withEps := mustForward(t, NewCPU(0), net, in).Output().Float64s()
	moved := 0
	for i := range exact {
		if math.IsInf(exact[i], 1) != math.IsInf(withEps[i], 1) {
			continue // a neuron at the edge of spiking may flip
		}
		if d := math.Abs(exact[i] - withEps[i]); d > 1e-3 {
			t.Errorf("output %d: %g exact, %g with eps", i, exact[i], withEps[i])
		} else if d > 0 {
			moved++
		}
	}
	if moved == 0 {
		t.Error("eps changed no spike time: the option has no effect")
	}
}

func TestClippingMaxDWNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	net := randNet(rng, netSpec{regime: DoubleTau, sizes: []int{4, 10, 3}})
	b := 40
	in := randInput(rng, b, 4, 0)
	dOut := randInput(rng, b, 3, 0)
	e := NewCPU(0)
	tr := mustForward(t, e, net, in)
	free := NewGradients(net, b)
	if err := e.Backward(net, tr, dOut, free); err != nil {
		t.Fatal(err)
	}
	net.Layers[1].MaxDWNorm = 1e-9 // clips every spiking column
	clipped := NewGradients(net, b)
	if err := e.Backward(net, tr, dOut, clipped); err != nil {
		t.Fatal(err)
	}
	if clipped.Clipped[1] == 0 {
		t.Fatal("max_dw_norm 1e-9 clipped nothing")
	}
	for i, v := range clipped.Weights[1].Float64s() {
		if v != 0 {
			t.Fatalf("weight gradient %d = %g after clipping every column", i, v)
		}
	}
	// The error sent backwards is not clipped.
	for i, v := range clipped.Weights[0].Float64s() {
		if v != free.Weights[0].Float64s()[i] {
			t.Fatalf("layer 0 gradient %d changed by clipping layer 1: %g vs %g", i, v, free.Weights[0].Float64s()[i])
		}
	}
}

func TestBadInputErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	good := func() *Network { return randNet(rng, netSpec{regime: DoubleTau, delay: Axonal, sizes: []int{3, 4, 2}}) }
	in := randInput(rng, 2, 3, 0)
	cases := []struct {
		name string
		mod  func(n *Network)
		in   []float64
		want string
	}{
		{"nan weight", func(n *Network) { n.Layers[0].W()[2] = math.NaN() }, nil, "weights[2] = NaN"},
		{"tau ratio", func(n *Network) { n.Layers[1].Neuron.TauMem = 3 }, nil, "supports only 1 or 2"},
		{"threshold", func(n *Network) { n.Layers[0].Neuron.Threshold = -1 }, nil, "threshold > leak"},
		{"shape", func(n *Network) { n.Layers[1].In = 5 }, nil, "layer below gives 4"},
		{"delays", func(n *Network) { n.Layers[0].Delays = nil }, nil, "axonal delays missing"},
		{"nan input", nil, []float64{1, math.NaN(), 1, 1, 1, 1}, "sample 0, feature 1 is NaN"},
		{"input width", nil, []float64{1, 1, 1, 1}, "shape (2, 2)"},
	}
	for _, c := range cases {
		net := good()
		if c.mod != nil {
			c.mod(net)
		}
		x := in
		if c.in != nil {
			x, _ = TimesFrom(2, len(c.in)/2, c.in)
		}
		var tr Trace
		err := NewCPU(1).Forward(net, x, &tr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// sortSpikes orders like slices.SortFunc with cmp.Compare on (time, index),
// ties, NaN and infinities included, for short (insertion) and long lists.
func TestSortSpikes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []float64{0.5, 1, 1, math.Inf(-1), math.Inf(1), math.NaN(), math.Float64frombits(0x7ff8000000000001), 2.25, 0, math.Copysign(0, -1)}
	for _, n := range []int{0, 1, 2, 5, 15, 16, 17, 31, 32, 33, 48, 100, 257, 785} {
		for rep := 0; rep < 50; rep++ {
			// Input indices are unique, as the engine makes them: then no
			// two entries compare equal and the order is unique.
			s := make([]spike, n)
			for i, idx := range rng.Perm(n) {
				u := rng.Float64() * 3
				if rng.IntN(3) == 0 {
					u = vals[rng.IntN(len(vals))]
				}
				s[i] = spike{u, int32(idx)}
			}
			want := slices.Clone(s)
			slices.SortStableFunc(want, func(a, b spike) int {
				if c := cmp.Compare(a.u, b.u); c != 0 {
					return c
				}
				return cmp.Compare(a.idx, b.idx)
			})
			s = sortSpikes(s)
			for i := range s {
				if math.Float64bits(s[i].u) != math.Float64bits(want[i].u) || s[i].idx != want[i].idx {
					t.Fatalf("n=%d: position %d is %+v, want %+v", n, i, s[i], want[i])
				}
			}
		}
	}
}

// The double-tau spike search skips windows whose crossing provably comes
// after the next input (firstSpike's polynomial test). It never changes the
// answer: against the search without that test, the spike times agree bit
// for bit, on random prefixes, on near-ties built on purpose (the next
// input a few ulps from the crossing that the inputs before it produce),
// with and without eps, across rebases (spans over 512 tau_s) and at large
// times, and in two cases found by review.
func TestDoubleTauSkipIsExact(t *testing.T) {
	for _, eps := range []float64{0, 1e-3} {
		mo := newModel(Neuron{TauSyn: 1, TauMem: 2, Threshold: 1, Eps: eps})
		// plain is firstSpike's double-tau search without the skip.
		plain := func(p *prefix, w []float64) float64 {
			n := len(p.s)
			var a1, a2 float64
			if mo.eps != 0 {
				r0 := p.ref[0]
				a1, a2 = mo.eps*xmath.Exp(-r0), mo.eps*xmath.Exp(-r0/2)
			}
			for m := 0; m < n; m++ {
				if sh := p.shift[m]; sh != 0 {
					a1 *= xmath.Exp(-sh)
					a2 *= xmath.Exp(-sh / 2)
				}
				wm := w[p.s[m].idx]
				a1 += wm * p.e1[m]
				a2 += wm * p.e2[m]
				lo, hi := p.s[m].u, math.Inf(1)
				if m+1 < n {
					hi = p.s[m+1].u
				}
				if !(a1 > 0) {
					continue
				}
				disc := a2*a2 - 4*a1*mo.c
				if !(disc >= 0) {
					continue
				}
				arg := 2 * a1 / (a2 + math.Sqrt(disc))
				if !(arg > 0) {
					continue
				}
				if u := p.ref[m] + 2*xmath.Log(arg); u >= lo && u <= hi {
					return u
				}
			}
			return math.Inf(1)
		}
		var p prefix
		check := func(what string, times, w []float64) bool {
			p.s = p.s[:0]
			for i, u := range times {
				p.s = append(p.s, spike{u, int32(i)})
			}
			p.prepare()
			got, want := mo.firstSpike(&p, w), plain(&p, w)
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("eps %g, %s: inputs %v, weights %v: spike %.17g, without the skip %.17g", eps, what, times, w, got, want)
			}
			return !math.IsInf(want, 1)
		}
		// Found by review: a crossing 4e-9 past the next input at 2^26,
		// where the exact test rounds onto it; and the guard on a rebase
		// between two inputs (the next one's exponentials have another
		// reference).
		check("large times", []float64{67108864, 67108864.238220513}, []float64{5.016, -100})
		check("rebase", []float64{0, 600}, []float64{5, 1})
		rng := rand.New(rand.NewPCG(5, 6))
		spikes, ties := 0, 0
		for rep := 0; rep < 20000; rep++ {
			n := 1 + rng.IntN(12)
			base := []float64{0, 0, 100, 1 << 24, 1 << 26}[rng.IntN(5)]
			span := []float64{3, 3, 1000}[rng.IntN(3)]
			times, w := make([]float64, n), make([]float64, n)
			scale := 0.2 + 3*rng.Float64()
			for i := range times {
				times[i] = base + span*rng.Float64()
				w[i] = scale * (rng.Float64() - 0.3)
			}
			if check("random", times, w) {
				spikes++
			}
			// A near-tie: the next input within 3 ulps of the crossing of
			// the inputs so far, with a weight that may end the window.
			p.s = p.s[:0]
			for i, u := range times {
				p.s = append(p.s, spike{u, int32(i)})
			}
			p.prepare()
			tc := plain(&p, w)
			if math.IsInf(tc, 1) {
				continue
			}
			for k := rng.IntN(7) - 3; k != 0; {
				if k > 0 {
					tc, k = math.Nextafter(tc, math.Inf(1)), k-1
				} else {
					tc, k = math.Nextafter(tc, math.Inf(-1)), k+1
				}
			}
			check("near-tie", append(times, tc), append(w, 8*(rng.Float64()-0.5)))
			ties++
		}
		if spikes < 2000 || spikes > 18000 || ties < 2000 {
			t.Fatalf("eps %g: %d random cases of 20000 spike, %d near-ties: the cases do not straddle the threshold", eps, spikes, ties)
		}
	}
}
