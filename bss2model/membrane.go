package bss2model

import (
	"math"

	"github.com/delgrad-go/delgrad/internal/xmath"
)

// Membrane is one perturbed LIF neuron with exponential synapses:
//
//	u(t) = sum_i w_i G(t - t_i),  G(s) = (e^{-s/TauMem} - e^{-s/TauSyn}) / (Unit k),
//	k = 1/TauSyn - 1/TauMem   (G(s) = s e^{-s/TauSyn} / Unit where k = 0),
//
// which fires at the first t with u(t) >= Theta. Unit is the nominal tau_syn
// that defines the weight unit: with TauSyn = Unit and TauMem = Unit or
// 2 Unit, G is the PSP of the ideal engine's closed forms.
//
// FirstSpike is written once more in C, step for step, as
// dg_perturbed_spike in kernels/delgrad.cuh: both use the exponentials of
// package internal/xmath, make the same IEEE operations in the same order
// and convert every product that a sum follows (float64(a*b)), so that no
// compiler fuses them (the kernels are compiled without contraction); the
// two give the same bits, which kernels/host's tests check.
type Membrane struct {
	TauMem, TauSyn float64
	Unit           float64
	// Theta is the threshold above the leak potential (> 0).
	Theta float64
}

// RootTol is the tolerance, relative to max(1, |t|), to which FirstSpike
// solves the threshold crossing.
const RootTol = 1e-12

// directBelow is the |k| TauSyn below which u is summed term by term with
// expm1 (stable where TauMem is close to TauSyn) instead of through the
// two running exponential sums, which cancel there.
const directBelow = 1e-4

// How the membrane is evaluated on an interval (dg_perturbed_spike's
// modes, the same numbers).
const (
	// modeEqual: TauMem = TauSyn, u(s) = e^{-s/TauSyn} (A s + B) / Unit.
	modeEqual = 0
	// modeSums: u(s) = P e^{-s/TauMem} - Q e^{-s/TauSyn}.
	modeSums = 1
	// modeDirect: |k| TauSyn < directBelow, u summed input by input with
	// expm1.
	modeDirect = 2
)

// membraneState is FirstSpike's working state on the interval after input
// j (times relative to ts[j]): the running sums of the inputs so far.
type membraneState struct {
	m      *Membrane
	ts, ws []float64
	mode   int
	k, inv float64
	// a, b (modeEqual) or p, q (the other modes) are the running sums.
	a, b, p, q float64
	j          int
}

// FirstSpike returns the first time at which the membrane driven by inputs
// at times ts (ascending, finite) with weights ws crosses the threshold, or
// +Inf. It scans the intervals between inputs, splits each at the single
// extremum the membrane can have there, and solves the first bracketed
// crossing with a safeguarded Newton iteration to RootTol.
func (m *Membrane) FirstSpike(ts, ws []float64) float64 {
	n := len(ts)
	if n == 0 {
		return math.Inf(1)
	}
	st := membraneState{m: m, ts: ts, ws: ws, mode: modeSums}
	k := 1/m.TauSyn - 1/m.TauMem
	if k == 0 {
		st.mode = modeEqual
	} else if float64(math.Abs(k)*m.TauSyn) < directBelow {
		st.mode = modeDirect
	}
	st.k, st.inv = k, 1/m.Unit
	F := 1 / (m.Unit * k)
	for j := 0; j < n; j++ {
		if j > 0 {
			d := ts[j] - ts[j-1]
			if st.mode == modeEqual {
				e := xmath.Exp(-d / m.TauSyn)
				st.b = (st.b + float64(st.a*d)) * e
				st.a *= e
			} else {
				st.p *= xmath.Exp(-d / m.TauMem)
				st.q *= xmath.Exp(-d / m.TauSyn)
			}
		}
		if st.mode == modeEqual {
			st.a += ws[j]
		} else {
			st.p += float64(F * ws[j])
			st.q += float64(F * ws[j])
		}
		st.j = j
		h := math.Inf(1)
		if j+1 < n {
			h = ts[j+1] - ts[j]
		}
		// The single extremum of u in the interval, if any (-1: none).
		crit := -1.0
		if st.mode == modeEqual {
			if st.a != 0 {
				crit = m.TauSyn - st.b/st.a
			}
		} else if r := float64(st.q*m.TauMem) / float64(st.p*m.TauSyn); r > 0 {
			crit = xmath.Log(r) / k
		}
		lo, hi := 0.0, h
		if crit > 0 && crit < h {
			hi = crit
		}
		// Up to two pieces: [0, crit] and [crit, h], or [0, h].
		for piece := 0; piece < 2; piece++ {
			if hi > lo {
				uh := 0.0 // every PSP decays to zero
				if hi < math.Inf(1) {
					uh = st.u(hi)
				}
				if uh >= m.Theta {
					return ts[j] + st.solve(lo, hi)
				}
				lo = hi
			}
			hi = h
		}
	}
	return math.Inf(1)
}

// u returns the membrane potential at s after ts[j].
func (st *membraneState) u(s float64) float64 { return st.eval(s, false) }

// du returns the derivative of the membrane potential at s after ts[j].
func (st *membraneState) du(s float64) float64 { return st.eval(s, true) }

// eval returns u(s) or, with deriv, u'(s), in the state's mode.
func (st *membraneState) eval(s float64, deriv bool) float64 {
	m := st.m
	switch st.mode {
	case modeEqual:
		e := xmath.Exp(-s / m.TauSyn)
		v := float64(st.a*s) + st.b
		if deriv {
			return float64(e*(st.a-v/m.TauSyn)) * st.inv
		}
		return float64(e*v) * st.inv
	case modeSums:
		em, es := xmath.Exp(-s/m.TauMem), xmath.Exp(-s/m.TauSyn)
		if deriv {
			return float64(-st.p/m.TauMem*em) + float64(st.q/m.TauSyn*es)
		}
		return float64(st.p*em) - float64(st.q*es)
	}
	// modeDirect: term by term relative to ts[j], with G and G' in a form
	// that is exact for small k:
	//   G(x) = e^{-x/TauSyn} expm1(x k) / (k Unit),
	//   G'(x) = e^{-x/TauSyn} (1 - expm1(x k) / (k TauMem)) / Unit.
	ref := st.ts[st.j]
	sum := 0.0
	for i := 0; i <= st.j; i++ {
		x := s + ref - st.ts[i]
		e := xmath.Exp(-x / m.TauSyn)
		g := xmath.Expm1(float64(x * st.k))
		if deriv {
			sum += float64(float64(st.ws[i]*e) * (1 - g/float64(st.k*m.TauMem)))
		} else {
			sum += float64(float64(st.ws[i]*e)*g) / st.k
		}
	}
	return float64(sum * st.inv)
}

// solve returns s in [lo, hi] with u(s) = Theta, where u rises through
// Theta on the bracket (u(lo) < Theta <= u(hi)); hi may be +Inf (only
// where Theta <= 0), in which case the bracket is first closed by
// doubling. The tolerance is relative to the absolute time ts[j] + s.
func (st *membraneState) solve(lo, hi float64) float64 {
	theta := st.m.Theta
	ref := st.ts[st.j]
	if !(hi < math.Inf(1)) {
		step := 1.0
		for st.u(lo+step) < theta && step < 1e6 {
			step *= 2
		}
		hi = lo + step
	}
	x := hi
	for it := 0; it < 200; it++ {
		g := st.u(x) - theta
		if g >= 0 {
			hi = x
		} else {
			lo = x
		}
		a := math.Abs(ref + x)
		if a < 1 {
			a = 1
		}
		tol := RootTol * a
		if hi-lo <= tol || g == 0 {
			break
		}
		d := st.du(x)
		nx := x - g/d
		if !(nx > lo && nx < hi) || d <= 0 {
			nx = 0.5 * (lo + hi)
		}
		if math.Abs(nx-x) <= tol {
			x = nx
			break
		}
		x = nx
	}
	return x
}
