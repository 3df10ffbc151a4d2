package batch

import (
	"math"

	"github.com/delgrad-go/delgrad/internal/xmath"
)

// This file holds the per-neuron math of the engine: the sorted causal
// prefix of one neuron's inputs, its first spike, and the factors of its
// DelGrad gradients. Times here are in units of tau_s ("scaled").

// rebaseSpan is the largest spread of input times (in tau_s) summed against
// one reference time; beyond it the sums are rebased so that no exponential
// overflows.
const rebaseSpan = 512

// wideSpan is the spread of a sample's input times above which the backward
// pass evaluates each exponential against the neuron's own output time.
const wideSpan = 600

// model holds one layer's neuron constants in scaled units.
type model struct {
	regime Regime
	tau    float64 // tau_s, the time unit
	c      float64 // g_leak (theta - E_l)
	eps    float64
}

func newModel(p Neuron) model {
	r, _ := p.Regime() // validated by Network.Validate
	return model{regime: r, tau: p.TauSyn, c: p.c(), eps: p.Eps}
}

// spike is one effective input: its scaled time and weight row.
type spike struct {
	u   float64
	idx int32
}

// prefix is one neuron's finite effective inputs in ascending time order
// with the exponentials of the closed forms, relative to a reference time
// that moves forward (rebases) only when the inputs span more than
// rebaseSpan.
type prefix struct {
	s     []spike
	e1    []float64 // e^{u-ref}
	te1   []float64 // (u-ref) e^{u-ref}
	e2    []float64 // e^{(u-ref)/2}
	ref   []float64 // reference time of element m
	shift []float64 // ref[m] - ref[m-1], 0 where unchanged
	dts   []float64 // backward scratch: one neuron's input-time gradients
	fin   []int32   // backward scratch: a sample's rows with an input spike
}

// prepare sorts p.s by (time, input index) and fills the exponentials.
// Sorting ties by index makes the summation order, and so every bit of the
// result, independent of how the inputs were listed.
func (p *prefix) prepare() {
	if len(p.s) > sortRun {
		p.s = sortSpikes(p.s)
	} else {
		insertionSort(p.s)
	}
	n := len(p.s)
	p.e1 = grow(p.e1, n)
	p.te1 = grow(p.te1, n)
	p.e2 = grow(p.e2, n)
	p.ref = grow(p.ref, n)
	p.shift = grow(p.shift, n)
	if n == 0 {
		return
	}
	ref := p.s[0].u
	for m, sp := range p.s {
		p.shift[m] = 0
		if sp.u-ref > rebaseSpan {
			p.shift[m] = sp.u - ref
			ref = sp.u
		}
		d := sp.u - ref
		e := xmath.Exp(d)
		p.e1[m], p.te1[m], p.e2[m], p.ref[m] = e, d*e, xmath.Exp(d/2), ref
	}
}

// sortSpikes sorts s by time, then input index (cmp.Compare's order, NaN
// first), and returns it: the same elements, possibly in a new backing
// array, whose capacity beyond len(s) the merges use as scratch. The
// order is total (the engine's input indices are unique), so every correct
// sort gives the same result. Runs of sortRun are sorted by insertion and
// then merged, with the comparison inlined: profiling found
// slices.SortFunc's calls of its comparison function the larger part of
// sorting a sample's inputs.
func sortSpikes(s []spike) []spike {
	n := len(s)
	for lo := 0; lo < n; lo += sortRun {
		insertionSort(s[lo:min(lo+sortRun, n)])
	}
	if n <= sortRun {
		return s
	}
	if cap(s) < 2*n {
		t := make([]spike, n, 2*n+n/4)
		copy(t, s)
		s = t
	}
	buf := s[:2*n]
	src, dst := buf[:n], buf[n:]
	for width := sortRun; width < n; width *= 2 {
		for lo := 0; lo < n; lo += 2 * width {
			mid, hi := min(lo+width, n), min(lo+2*width, n)
			a, b, out := src[lo:mid], src[mid:hi], dst[lo:hi]
			i, j := 0, 0
			for k := range out {
				// Stable: the left run's entry goes first unless the right
				// one is strictly less.
				if j < len(b) && (i == len(a) || spikeLess(b[j], a[i])) {
					out[k], j = b[j], j+1
				} else {
					out[k], i = a[i], i+1
				}
			}
		}
		src, dst = dst, src
	}
	if &src[0] != &buf[0] {
		copy(buf[:n], src)
	}
	return buf[:n]
}

// sortRun is the length of the runs sortSpikes sorts by insertion.
const sortRun = 16

// insertionSort sorts a short s in sortSpikes's order.
func insertionSort(s []spike) {
	for i := 1; i < len(s); i++ {
		x := s[i]
		j := i
		for ; j > 0 && spikeLess(x, s[j-1]); j-- {
			s[j] = s[j-1]
		}
		s[j] = x
	}
}

// spikeLess orders by time (NaN first, as cmp.Compare), then input index.
func spikeLess(a, b spike) bool {
	switch {
	case a.u < b.u:
		return true
	case a.u > b.u:
		return false
	case a.u == b.u:
		return a.idx < b.idx
	}
	// A NaN is involved: it comes first; two NaNs go by index.
	an, bn := a.u != a.u, b.u != b.u
	if an && bn {
		return a.idx < b.idx
	}
	return an
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n, n+n/4)
	}
	return s[:n]
}

// firstSpike returns the scaled first-spike time of a neuron with input
// weights w (indexed by input index) and the inputs of p, or +Inf.
//
// For each prefix of the sorted inputs it solves the closed form and
// accepts the first candidate that lies in [t_(m), t_(m+1)], exactly as the
// reference's causal-set search (which takes the minimum over all valid
// candidates: the same one, since the windows are ordered).
func (mo *model) firstSpike(p *prefix, w []float64) float64 {
	n := len(p.s)
	if n == 0 {
		return math.Inf(1)
	}
	var a1, b, a2 float64
	if mo.eps != 0 {
		r0 := p.ref[0]
		e := mo.eps * xmath.Exp(-r0)
		a1, b, a2 = e, e*(1-r0), mo.eps*xmath.Exp(-r0/2)
	}
	for m := 0; m < n; m++ {
		if sh := p.shift[m]; sh != 0 {
			f := xmath.Exp(-sh)
			b = f * (b - sh*a1)
			a1 *= f
			a2 *= xmath.Exp(-sh / 2)
		}
		wm := w[p.s[m].idx]
		a1 += wm * p.e1[m]
		lo, hi := p.s[m].u, math.Inf(1)
		if m+1 < n {
			hi = p.s[m+1].u
		}
		if mo.regime == EqualTau {
			b += wm * p.te1[m]
			if !(a1 > 0) {
				continue // no upward crossing (see DESIGN.md)
			}
			r := b / a1
			ref := p.ref[m]
			// W0 lies in [-1, 0), so the spike lies in (ref+r, ref+r+1].
			if ref+r+1 < lo || ref+r > hi {
				continue
			}
			// Before its peak at ref+r+1 the potential only rises: where the
			// next input comes first and the potential is still below
			// threshold there, the spike lies beyond this window. This needs
			// no exponential (e^{hi-ref} is e1[m+1]) and skips most
			// prefixes; the margin leaves every near-tie to the Lambert W
			// test below, so the accepted spikes are unchanged.
			if m+1 < n && p.shift[m+1] == 0 && ref+r+1 > hi &&
				a1*(hi-ref)-b < mo.c*p.e1[m+1]*(1-1e-9) {
				continue
			}
			z := -mo.c / a1 * xmath.Exp(r)
			if !(z >= -invE) {
				continue
			}
			u := ref + r - LambertW0(z)
			if u >= lo && u <= hi {
				return u
			}
			continue
		}
		a2 += wm * p.e2[m]
		if !(a1 > 0) {
			continue
		}
		// With y = e^{(t-ref)/2} the threshold is reached where
		// c y^2 - a2 y + a1 = 0, first at the smaller root. Where the next
		// input comes first (y_hi = e2[m+1]), the polynomial is still
		// positive there and y_hi lies before the vertex a2/(2c), that root
		// lies beyond y_hi: the spike is not in this window. This needs no
		// square root, division or logarithm and skips about half of the
		// prefixes that would reach them; the margins leave every near-tie
		// to the test below, so the accepted spikes are unchanged (and the
		// kernels, which do not skip, give the same bits). The margins put
		// the crossing at least about 4e-9 tau_s past hi; the test below
		// rounds at the scale of the time itself, finer than that only
		// while |hi| < 2^24 (half an ulp there is 1.9e-9), so later times
		// take the exact test.
		if m+1 < n && p.shift[m+1] == 0 && math.Abs(hi) < 1<<24 {
			y := p.e2[m+1]
			cy := mo.c * y
			if g := cy*y - a2*y + a1; g > 1e-9*(cy*y+a2*y+a1) && 2*cy < a2*(1-1e-9) {
				continue
			}
		}
		disc := a2*a2 - 4*a1*mo.c
		if !(disc >= 0) {
			continue
		}
		arg := 2 * a1 / (a2 + math.Sqrt(disc))
		if !(arg > 0) {
			continue
		}
		u := p.ref[m] + 2*xmath.Log(arg)
		if u >= lo && u <= hi {
			return u
		}
	}
	return math.Inf(1)
}

// initSums returns the eps terms of a1, b and a2 relative to ref.
func (mo *model) initSums(ref float64) (a1, b, a2 float64) {
	if mo.eps == 0 {
		return 0, 0, 0
	}
	e := mo.eps * xmath.Exp(-ref)
	return e, e * (1 - ref), mo.eps * xmath.Exp(-ref/2)
}

// coef returns the factors of a neuron's gradients from its causal sums a1,
// b, a2 (relative to ref) and its observed scaled spike time u:
//
//	tau_m = tau_s:   k1 = -1 / (a1 (1 + W)),  k2 = 0
//	tau_m = 2 tau_s: k1 = (1 + (c/S) e^{(u-ref)/2}) / a1,  k2 = 1/S
//
// ok is false where the reference zeroes the gradients (W0 or S undefined)
// or a factor is not finite.
func (mo *model) coef(a1, b, a2, u, ref float64) (k1, k2 float64, ok bool) {
	if mo.regime == EqualTau {
		r := b / a1
		z := -mo.c / a1 * xmath.Exp(r)
		w := LambertW0(z)
		k1 = -1 / (a1 * (1 + w))
	} else {
		s := math.Sqrt(a2*a2 - 4*a1*mo.c)
		k1 = (1 + mo.c/s*xmath.Exp((u-ref)/2)) / a1
		k2 = 1 / s
	}
	ok = !math.IsNaN(k1) && !math.IsInf(k1, 0) && !math.IsNaN(k2) && !math.IsInf(k2, 0)
	return k1, k2, ok
}

// grads returns dt*/dw (in units of tau_s) and dt*/dt_i of one causal input
// with weight w, scaled time ui and exponentials x1 = e^{ui-ref},
// x2 = e^{(ui-ref)/2}, for output time u and factors k1, k2 from coef.
func (mo *model) grads(k1, k2, w, ui, x1, x2, u float64) (dw, dt float64) {
	if mo.regime == EqualTau {
		return k1 * x1 * (u - ui), k1 * (w * x1) * (u - ui - 1)
	}
	return 2 * (k1*x1 - k2*x2), 2*k1*(w*x1) - k2*(w*x2)
}
