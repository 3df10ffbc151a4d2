package bss2model

import "math"

// Membrane is one perturbed LIF neuron with exponential synapses:
//
//	u(t) = sum_i w_i G(t - t_i),  G(s) = (e^{-s/TauMem} - e^{-s/TauSyn}) / (Unit k),
//	k = 1/TauSyn - 1/TauMem   (G(s) = s e^{-s/TauSyn} / Unit where k = 0),
//
// which fires at the first t with u(t) >= Theta. Unit is the nominal tau_syn
// that defines the weight unit: with TauSyn = Unit and TauMem = Unit or
// 2 Unit, G is the PSP of the ideal engine's closed forms.
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
	k := 1/m.TauSyn - 1/m.TauMem
	equal := k == 0
	direct := !equal && math.Abs(k)*m.TauSyn < directBelow
	// Running sums relative to ref = ts[j]:
	//   equal:      u(s) = e^{-s/tau} (A s + B) / Unit
	//   otherwise:  u(s) = P e^{-s/TauMem} - Q e^{-s/TauSyn}
	var A, B, P, Q float64
	F := 1 / (m.Unit * k)
	for j := 0; j < n; j++ {
		if j > 0 {
			d := ts[j] - ts[j-1]
			if equal {
				e := math.Exp(-d / m.TauSyn)
				B = (B + A*d) * e
				A *= e
			} else {
				P *= math.Exp(-d / m.TauMem)
				Q *= math.Exp(-d / m.TauSyn)
			}
		}
		if equal {
			A += ws[j]
		} else {
			P += F * ws[j]
			Q += F * ws[j]
		}
		h := math.Inf(1)
		if j+1 < n {
			h = ts[j+1] - ts[j]
		}
		var u, du func(s float64) float64
		switch {
		case equal:
			tau, a, b, inv := m.TauSyn, A, B, 1/m.Unit
			u = func(s float64) float64 { return math.Exp(-s/tau) * (a*s + b) * inv }
			du = func(s float64) float64 { return math.Exp(-s/tau) * (a - (a*s+b)/tau) * inv }
		case direct:
			u, du = m.direct(ts[:j+1], ws[:j+1], k)
		default:
			p, q, tm, tsy := P, Q, m.TauMem, m.TauSyn
			u = func(s float64) float64 { return p*math.Exp(-s/tm) - q*math.Exp(-s/tsy) }
			du = func(s float64) float64 { return -p/tm*math.Exp(-s/tm) + q/tsy*math.Exp(-s/tsy) }
		}
		// The single extremum of u in the interval, if any.
		crit := math.NaN()
		if equal {
			if A != 0 {
				crit = m.TauSyn - B/A
			}
		} else if r := Q * m.TauMem / (P * m.TauSyn); r > 0 {
			crit = math.Log(r) / k
		}
		lo := 0.0
		ends := [2]float64{h, h}
		if crit > 0 && crit < h {
			ends[0] = crit
		}
		for _, hi := range ends {
			if hi <= lo {
				continue
			}
			var uh float64
			if math.IsInf(hi, 1) {
				uh = 0 // every PSP decays to zero
			} else {
				uh = u(hi)
			}
			if uh >= m.Theta {
				return ts[j] + solve(u, du, m.Theta, lo, hi, ts[j])
			}
			lo = hi
		}
	}
	return math.Inf(1)
}

// direct returns u and du summed term by term relative to the last of ts,
// with G and G' in a form that is exact for small k.
func (m *Membrane) direct(ts, ws []float64, k float64) (u, du func(float64) float64) {
	ref := ts[len(ts)-1]
	inv := 1 / m.Unit
	u = func(s float64) float64 {
		sum := 0.0
		for i, t := range ts {
			x := s + ref - t
			sum += ws[i] * math.Exp(-x/m.TauSyn) * math.Expm1(x*k) / k
		}
		return sum * inv
	}
	du = func(s float64) float64 {
		sum := 0.0
		for i, t := range ts {
			x := s + ref - t
			sum += ws[i] * math.Exp(-x/m.TauSyn) * (1 - math.Expm1(x*k)/(k*m.TauMem))
		}
		return sum * inv
	}
	return u, du
}

// solve returns s in [lo, hi] with u(s) = theta, where u rises through
// theta on the bracket (u(lo) < theta <= u(hi)); hi may be +Inf, in which
// case the bracket is first closed by doubling. ref is the absolute time
// of s = 0, for the tolerance.
func solve(u, du func(float64) float64, theta, lo, hi, ref float64) float64 {
	if math.IsInf(hi, 1) {
		// Only reached with a finite extremum inside, so this cannot happen;
		// keep the bracket finite all the same.
		step := 1.0
		for u(lo+step) < theta && step < 1e6 {
			step *= 2
		}
		hi = lo + step
	}
	x := hi
	for it := 0; it < 200; it++ {
		g := u(x) - theta
		if g >= 0 {
			hi = x
		} else {
			lo = x
		}
		tol := RootTol * math.Max(1, math.Abs(ref+x))
		if hi-lo <= tol || g == 0 {
			break
		}
		d := du(x)
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
