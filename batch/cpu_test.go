package batch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

func single(regime Regime, w []float64, theta float64) *Network {
	nrn := Neuron{TauSyn: 1, TauMem: float64(regime), Threshold: theta}
	l := NewLayer(len(w), 1, 0, nrn, NoDelay)
	copy(l.W(), w)
	return &Network{Inputs: len(w), Layers: []Layer{l}}
}

// TestHandSolved checks single neurons whose spike times are solved by hand.
func TestHandSolved(t *testing.T) {
	cases := []struct {
		name   string
		regime Regime
		w      []float64
		in     []float64
		theta  float64
		want   float64
	}{
		// tau_m = tau_s, one input at 0: w t e^{-t} = theta; theta = w/2 e^{-1/2} gives t = 1/2.
		{"equal/one", EqualTau, []float64{1}, []float64{0}, 0.5 * math.Exp(-0.5), 0.5},
		// shifted input at 0.7 with w = 3: spike at 0.7 + 1/2.
		{"equal/one-shifted", EqualTau, []float64{3}, []float64{0.7}, 1.5 * math.Exp(-0.5), 1.2},
		// two inputs at 0 with weights 0.25 and 0.75 act as one of weight 1.
		{"equal/two-tied", EqualTau, []float64{0.25, 0.75}, []float64{0, 0}, 0.5 * math.Exp(-0.5), 0.5},
		// two inputs at 0 and 1 (w = 2, 1): threshold V(1.5) = 2*1.5e^-1.5 + 0.5e^-0.5, rising
		// there; the first input alone peaks at 2/e, below it.
		{"equal/two", EqualTau, []float64{2, 1}, []float64{0, 1}, 3*math.Exp(-1.5) + 0.5*math.Exp(-0.5), 1.5},
		// tau_m = 2 tau_s, one input at 0: 2 w (x - x^2) = theta, x = e^{-t/2}; w = 2, theta = 1 gives x = 1/2, t = 2 ln 2.
		{"double/one", DoubleTau, []float64{2}, []float64{0}, 1, 2 * math.Ln2},
		// two inputs at 0 and 2 ln 2 (w = 2, 3): at t = 2 ln 3, e^{-t/2} = 1/3 for the first and
		// 2/3 for the second, V = 4 (1/3 - 1/9) + 6 (2/3 - 4/9) = 20/9, rising; the first alone
		// peaks at 1.
		{"double/two", DoubleTau, []float64{2, 3}, []float64{0, 2 * math.Ln2}, 20.0 / 9, 2 * math.Log(3)},
		// an input that arrives after the spike does not change it.
		{"double/late-input", DoubleTau, []float64{2, -5}, []float64{0, 3}, 1, 2 * math.Ln2},
		// too weak: no spike.
		{"double/silent", DoubleTau, []float64{1}, []float64{0}, 1, math.Inf(1)},
		{"equal/silent", EqualTau, []float64{1}, []float64{0}, 0.4, math.Inf(1)},
		// no input at all: no spike.
		{"equal/no-input", EqualTau, []float64{5}, []float64{math.Inf(1)}, 0.1, math.Inf(1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			net := single(c.regime, c.w, c.theta)
			in, _ := TimesFrom(1, len(c.in), append([]float64(nil), c.in...))
			got := mustForward(t, NewCPU(1), net, in).Output().Float64s()[0]
			if math.IsInf(c.want, 1) {
				if !math.IsInf(got, 1) {
					t.Fatalf("spike at %.17g, want none", got)
				}
				return
			}
			if math.Abs(got-c.want) > 1e-12 {
				t.Fatalf("spike at %.17g, want %.17g (diff %.1e)", got, c.want, got-c.want)
			}
		})
	}
}

var specs = func() []netSpec {
	var s []netSpec
	for _, r := range []Regime{EqualTau, DoubleTau} {
		for _, d := range []DelayKind{NoDelay, Axonal, Dendritic, Synaptic} {
			for _, bias := range []int{0, 2} {
				s = append(s, netSpec{regime: r, delay: d, bias: bias, mux: 1 + bias/2, sizes: []int{3, 7, 3}})
			}
		}
	}
	return s
}()

func specName(sp netSpec) string {
	return fmt.Sprintf("tau%d/%v/bias%d/mux%d", sp.regime, sp.delay, sp.bias, max(sp.mux, 1))
}

// params lists pointers to every differentiable quantity of net and input.
func params(net *Network, in *tensor.Dense) (names []string, ptrs []*float64) {
	for l := range net.Layers {
		w := net.Layers[l].W()
		for i := range w {
			names, ptrs = append(names, fmt.Sprintf("layer %d weight %d", l, i)), append(ptrs, &w[i])
		}
		d := net.Layers[l].D()
		for i := range d {
			names, ptrs = append(names, fmt.Sprintf("layer %d delay %d", l, i)), append(ptrs, &d[i])
		}
	}
	x := in.Float64s()
	for i := range x {
		if !math.IsInf(x[i], 1) {
			names, ptrs = append(names, fmt.Sprintf("input %d", i)), append(ptrs, &x[i])
		}
	}
	return names, ptrs
}

// analytic returns the engine's gradient in the order of params.
func analytic(g *Gradients, net *Network, in *tensor.Dense) []float64 {
	var out []float64
	for l := range net.Layers {
		out = append(out, g.Weights[l].Float64s()...)
		if d := g.D(l); d != nil {
			out = append(out, d...)
		}
	}
	for i, x := range in.Float64s() {
		if !math.IsInf(x, 1) {
			out = append(out, g.Input.Float64s()[i])
		}
	}
	return out
}

// TestFiniteDifferences holds every gradient against central finite
// differences (Richardson-extrapolated, float64) for one sample at a time.
//
// A sample is excluded when one of its spikes lies within 1e-6 of an input
// time of its neuron (a causal-set boundary, where the spike time has a
// kink). The step h is then chosen so that no parameter change can move a
// spike across a boundary: h (1 + max|gradient|) <= margin / 4. The check
// is |g - fd| <= 1e-6 max(|g|, |fd|) + the finite difference's own rounding
// error, 1e-13 (1 + |L|) / h.
func TestFiniteDifferences(t *testing.T) {
	for si, sp := range specs {
		t.Run(specName(sp), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(si), 7))
			e := NewCPU(1)
			checked, excluded, nonzero, total := 0, 0, 0, 0
			for s := 0; s < 12; s++ {
				net := randNet(rng, sp)
				in := randInput(rng, 1, sp.sizes[0], 0.1)
				r := make([]float64, net.Outputs())
				for i := range r {
					r[i] = rng.NormFloat64()
				}
				loss := func() float64 {
					tr := mustForward(t, e, net, in)
					L := 0.0
					for k, tk := range tr.Output().Float64s() {
						if !math.IsInf(tk, 1) {
							L += r[k] * tk
						}
					}
					return L
				}
				tr := mustForward(t, e, net, in)
				m := margin(net, tr, 0)
				if m < 1e-6 {
					excluded++
					continue
				}
				dOut, _ := TimesFrom(1, len(r), append([]float64(nil), r...))
				g := NewGradients(net, 1)
				if err := e.Backward(net, tr, dOut, g); err != nil {
					t.Fatal(err)
				}
				names, ptrs := params(net, in)
				ga := analytic(g, net, in)
				gmax := 0.0
				for _, v := range ga {
					gmax = max(gmax, math.Abs(v))
				}
				h := min(1e-4, m/(4*(1+gmax)))
				L0 := loss()
				for _, v := range ga {
					total++
					if v != 0 {
						nonzero++
					}
				}
				for pi, p := range ptrs {
					orig := *p
					f := func(dx float64) float64 { *p = orig + dx; v := loss(); *p = orig; return v }
					fd1 := (f(h) - f(-h)) / (2 * h)
					fd2 := (f(h/2) - f(-h/2)) / h
					fd := (4*fd2 - fd1) / 3
					tol := 1e-6*max(math.Abs(ga[pi]), math.Abs(fd)) + 1e-13*(1+math.Abs(L0))/h
					if math.Abs(ga[pi]-fd) > tol {
						t.Errorf("sample %d %s: engine %.12g, finite difference %.12g (diff %.2e > tol %.2e, h %.1e)",
							s, names[pi], ga[pi], fd, ga[pi]-fd, tol, h)
					}
				}
				checked++
			}
			t.Logf("%d samples checked, %d excluded; %d of %d gradients non-zero", checked, excluded, nonzero, total)
			if 5*nonzero < total {
				t.Errorf("only %d of %d gradients are non-zero: the networks are too silent to test", nonzero, total)
			}
			if checked < 9 {
				t.Fatalf("only %d samples checked (%d excluded near a boundary)", checked, excluded)
			}
		})
	}
}

// SumChunk's chunks are the shortest power of two from 8 that leaves at most
// 1024 chunks and 2^22 partial sums, and one chunk for n >= 2^16.
func TestSumChunk(t *testing.T) {
	for _, b := range []int{1, 7, 8, 9, 150, 4096, 8192, 65536, 1 << 20} {
		for _, n := range []int{1, 150, 33024, 65535, 65536, 275100} {
			c := SumChunk(b, n)
			nch := (b + c - 1) / c
			switch {
			case n >= 1<<16:
				if c != b {
					t.Errorf("SumChunk(%d, %d) = %d, want one chunk", b, n, c)
				}
			case c < 8 || c&(c-1) != 0:
				t.Errorf("SumChunk(%d, %d) = %d, not a power of two from 8", b, n, c)
			case c < b && (nch > 1024 || nch*n > 1<<22):
				t.Errorf("SumChunk(%d, %d) = %d leaves %d chunks of partials", b, n, c, nch)
			case c > 8 && (b+c/2-1)/(c/2) <= 1024 && (b+c/2-1)/(c/2)*n <= 1<<22:
				t.Errorf("SumChunk(%d, %d) = %d, but %d would do", b, n, c, c/2)
			}
		}
	}
}
