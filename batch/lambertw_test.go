package batch

import (
	"math"
	"testing"
)

func TestLambertW0KnownValues(t *testing.T) {
	cases := []struct {
		x, want float64
		tol     float64 // relative
	}{
		{0, 0, 0},
		{-invE, -1, 0},
		{1, 0.56714329040978387299996866221035554975381578718651, 2e-16}, // omega constant
		{math.E, 1, 2e-16},                                               // W(e) = 1
		{-math.Ln2 / 2, -math.Ln2, 4e-16},                                // -ln2 e^-ln2
		{2 * math.Ln2, math.Ln2, 4e-16},                                  // ln2 e^ln2
		{10, 1.7455280027406993830743012648753899115352881290809, 2e-16}, // tabulated
		{-0.1, -0.11183255915896296483356945682026584227264536229127, 4e-16},
		{1e-12, 9.99999999999e-13, 2e-16},
		{1e6, 11.383358086140052622000156316110006715, 2e-16},
		{math.Inf(1), math.Inf(1), 0},
	}
	for _, c := range cases {
		got := LambertW0(c.x)
		if c.tol == 0 {
			if got != c.want {
				t.Errorf("W0(%g) = %.17g, want exactly %.17g", c.x, got, c.want)
			}
			continue
		}
		if rel := math.Abs(got-c.want) / math.Abs(c.want); rel > c.tol {
			t.Errorf("W0(%g) = %.17g, want %.17g (rel err %.2e > %.0e)", c.x, got, c.want, rel, c.tol)
		}
	}
}

func TestLambertW0Undefined(t *testing.T) {
	for _, x := range []float64{-invE - 1e-12, -1, math.Inf(-1), math.NaN()} {
		if got := LambertW0(x); !math.IsNaN(got) {
			t.Errorf("W0(%g) = %g, want NaN", x, got)
		}
	}
}

// TestLambertW0Inverse checks W0(w e^w) = w over the whole principal branch.
// The bound grows near w = -1, where W0 is ill-conditioned: an error of one
// ulp in x moves W0 by about sqrt(ulp).
func TestLambertW0Inverse(t *testing.T) {
	for w := -0.999; w < 700; w += 0.0137 * (1 + math.Abs(w)) {
		x := w * math.Exp(w)
		got := LambertW0(x)
		cond := math.Abs(w) / math.Max(math.Abs(1+w), 1e-300) // |x W'(x) / W|
		tol := 4e-16 * (1 + cond)
		if rel := math.Abs(got-w) / math.Max(math.Abs(w), 1e-300); rel > tol {
			t.Errorf("W0(%g e^%g) = %.17g, rel err %.2e > %.2e", w, w, got, rel, tol)
		}
	}
}

func BenchmarkLambertW0(b *testing.B) {
	xs := make([]float64, 1024)
	for i := range xs {
		xs[i] = -invE + float64(i+1)*invE/1025
	}
	b.ResetTimer()
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += LambertW0(xs[i&1023])
	}
	_ = s
}
