package batch

import (
	"math"

	"github.com/delgrad-go/delgrad/internal/xmath"
)

// invE is 1/e, the magnitude of the branch point of the Lambert W function.
const invE = 0.36787944117144233

// LambertW0 returns the principal branch W0(x) of the Lambert W function, the
// solution w >= -1 of w e^w = x, to full float64 precision.
//
// It returns NaN for x < -1/e (no real solution) and for NaN, and +Inf for +Inf.
// Near the branch point the result is limited by the conditioning of W0 there
// (dW/dx diverges), not by the method.
func LambertW0(x float64) float64 {
	switch {
	case math.IsNaN(x) || x < -invE:
		return math.NaN()
	case x == -invE:
		return -1
	case x == 0:
		return x
	case math.IsInf(x, 1):
		return x
	case math.Abs(x) < 1e-9:
		// W(x) = x - x^2 + 3/2 x^3 - ...; the x^3 term is below one ulp here.
		return x - x*x
	}
	var w float64
	switch {
	case x < -0.32:
		// Series about the branch point in p = sqrt(2 (e x + 1)).
		p := math.Sqrt(math.Max(0, 2*(math.E*x+1)))
		w = -1 + p*(1+p*(-1.0/3+p*(11.0/72+p*(-43.0/540+p*(769.0/17280-p*221.0/8505)))))
	case x < 3:
		// Pade approximant about 0.
		w = x * (1 + 4.0/3*x) / (1 + 7.0/3*x + 5.0/6*x*x)
	default:
		l1 := xmath.Log(x)
		l2 := xmath.Log(l1)
		w = l1 - l2 + l2/l1
	}
	// Halley's iteration on f(w) = w e^w - x; cubic convergence. A step no
	// smaller than the one before is rounding noise: w has converged (this
	// ends the ~14% of arguments in [-1/e, 0) whose last bits would
	// otherwise oscillate until the iteration limit).
	prev := math.Inf(1)
	for i := 0; i < 32; i++ {
		ew := xmath.Exp(w)
		f := w*ew - x
		wp1 := w + 1
		if wp1 == 0 || f == 0 {
			break
		}
		dw := f / (ew*wp1 - (w+2)*f/(2*wp1))
		if math.IsNaN(dw) || math.IsInf(dw, 0) || math.Abs(dw) >= prev {
			break
		}
		prev = math.Abs(dw)
		w -= dw
		if math.Abs(dw) <= 1e-16*math.Abs(w) {
			break
		}
	}
	if w < -1 {
		w = -1
	}
	return w
}
