// Package xmath holds the exponential, e^x - 1 and the logarithm that the
// DelGrad engines share: the same algorithms, written with IEEE-754
// additions, multiplications and divisions only, are in
// kernels/delgrad.cuh (dg_exp, dg_expm1, dg_log), so that the Go engine,
// the host-compiled kernel math and the CUDA kernels round every spike
// time and gradient alike, bit for bit. (Go's math.Exp and math.Log on
// amd64, glibc's and CUDA's each round some arguments differently in the
// last bit, and a training run amplifies such differences until
// accuracies part.)
//
// All three are the classic fdlibm algorithms (argument reduction by ln 2
// and a minimax polynomial or rational approximation), accurate to about
// one unit in the last place. Their products are converted explicitly
// (float64(a*b)), which keeps the Go compiler from fusing them with the
// following sums on any architecture, as the kernels are compiled without
// contraction.
package xmath

import "math"

const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	log2e = 1.44269504088896338700e+00

	expOver  = 7.09782712893383973096e+02
	expUnder = -7.45133219101941108420e+02

	p1 = 1.66666666666666657415e-01
	p2 = -2.77777777770155933842e-03
	p3 = 6.61375632143793436117e-05
	p4 = -1.65339022054652515390e-06
	p5 = 4.13813679705723846039e-08

	lg1 = 6.666666666666735130e-01
	lg2 = 3.999999999940941908e-01
	lg3 = 2.857142874366239149e-01
	lg4 = 2.222219843214978396e-01
	lg5 = 1.818357216161805012e-01
	lg6 = 1.531383769920937332e-01
	lg7 = 1.479819860511658591e-01

	sqrtHalf = 0.70710678118654752440
	two54    = 1.80143985094819840000e+16 // 2^54
)

// pow2 returns 2^k for -1022 <= k <= 1023.
func pow2(k int) float64 { return math.Float64frombits(uint64(k+1023) << 52) }

// scale returns y * 2^k by multiplications with exact powers of two.
func scale(y float64, k int) float64 {
	if k > -1020 && k < 1020 {
		return y * pow2(k)
	}
	k1 := k / 2
	return y * pow2(k1) * pow2(k-k1)
}

// Exp returns e^x.
func Exp(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > expOver:
		return math.Inf(1)
	case x < expUnder:
		return 0
	case x > -3.725290298461914e-09 && x < 3.725290298461914e-09: // |x| < 2^-28
		return 1 + x
	}
	h := 0.5
	if x < 0 {
		h = -0.5
	}
	// The conversions float64(a*b) keep the compiler from fusing a product
	// with the following sum (arm64, GOAMD64=v3), as the kernels do not.
	k := int(float64(x*log2e) + h)
	kf := float64(k)
	hi := x - float64(kf*ln2Hi)
	lo := float64(kf * ln2Lo)
	r := hi - lo
	t := float64(r * r)
	c := r - float64(t*(p1+float64(t*(p2+float64(t*(p3+float64(t*(p4+float64(t*p5)))))))))
	y := 1 - ((lo - float64(r*c)/(2-c)) - hi)
	return scale(y, k)
}

// Log returns the natural logarithm of x.
func Log(x float64) float64 {
	switch {
	case x != x || x > math.MaxFloat64:
		return x
	case x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	}
	ki := 0
	if x < 0x1p-1022 {
		x *= two54
		ki = -54
	}
	b := math.Float64bits(x)
	ki += int(b>>52) - 1022
	f1 := math.Float64frombits(b&^(0x7ff<<52) | 1022<<52) // in [0.5, 1)
	if f1 < sqrtHalf {
		f1 *= 2
		ki--
	}
	f := f1 - 1
	k := float64(ki)
	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	t1 := float64(s2 * (lg1 + float64(s4*(lg3+float64(s4*(lg5+float64(s4*lg7)))))))
	t2 := float64(s4 * (lg2 + float64(s4*(lg4+float64(s4*lg6)))))
	R := t1 + t2
	hfsq := float64(0.5 * f * f)
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+R)) + float64(k*ln2Lo))) - f)
}

// Constants of Expm1 (fdlibm's s_expm1.c).
const (
	ln2X56    = 3.88162421113569373274e+01 // 56 ln 2
	ln2HalfX3 = 1.03972077083991796413e+00 // 1.5 ln 2
	ln2Half   = 3.46573590279972654709e-01 // 0.5 ln 2

	q1 = -3.33333333333331316428e-02
	q2 = 1.58730158725481460165e-03
	q3 = -7.93650757867487942473e-05
	q4 = 4.00821782732936239552e-06
	q5 = -2.01099218183624371326e-07
)

// addExp returns y * 2^k by adding k to y's binary exponent (y normal and
// the result too).
func addExp(y float64, k int) float64 {
	return math.Float64frombits(math.Float64bits(y) + uint64(k)<<52)
}

// Expm1 returns e^x - 1, accurate also where x is near zero (where
// Exp(x) - 1 cancels). It is fdlibm's expm1 (argument reduction by ln 2
// with a correction term, a rational approximation on [-ln2/2, ln2/2]),
// the same bits as package math's port except at the top of the range,
// where it keeps fdlibm's bounds: x = ln(MaxFloat64) gives the finite
// e^x - 1 (math.Expm1 gives +Inf), and a reduction by 1024 ln 2 scales by
// multiplication. kernels/delgrad.cuh's dg_expm1 is the same code.
func Expm1(x float64) float64 {
	switch {
	case x != x || x > math.MaxFloat64:
		return x
	case x < -math.MaxFloat64:
		return -1
	}
	absx, neg := x, false
	if x < 0 {
		absx, neg = -x, true
	}
	if absx >= ln2X56 {
		if neg {
			return -1 // e^x < 2^-56
		}
		if x > expOver {
			return math.Inf(1)
		}
	}
	// Argument reduction: x = k ln2 + r, r = hi - lo, and c the rounding
	// error of hi - lo.
	var c float64
	k := 0
	switch {
	case absx > ln2Half:
		var hi, lo float64
		switch {
		case absx < ln2HalfX3 && !neg:
			hi, lo, k = x-ln2Hi, ln2Lo, 1
		case absx < ln2HalfX3:
			hi, lo, k = x+ln2Hi, -ln2Lo, -1
		default:
			h := 0.5
			if neg {
				h = -0.5
			}
			k = int(float64(x*log2e) + h)
			t := float64(k)
			hi = x - float64(t*ln2Hi) // exact
			lo = float64(t * ln2Lo)
		}
		x = hi - lo
		c = (hi - x) - lo
	case absx < 0x1p-54:
		return x // also -0 and subnormals
	}
	// x is now in [-ln2/2, ln2/2]; the products are converted explicitly,
	// as in Exp, so that none is fused with the sum after it.
	hfx := float64(0.5 * x)
	hxs := float64(x * hfx)
	r1 := 1 + float64(hxs*(q1+float64(hxs*(q2+float64(hxs*(q3+float64(hxs*(q4+float64(hxs*q5)))))))))
	t := 3 - float64(r1*hfx)
	e := float64(hxs * ((r1 - t) / (6 - float64(x*t))))
	if k == 0 {
		return x - (float64(x*e) - hxs)
	}
	e = float64(x*(e-c)) - c
	e -= hxs
	switch {
	case k == -1:
		return float64(0.5*(x-e)) - 0.5
	case k == 1:
		if x < -0.25 {
			return -2 * (e - (x + 0.5))
		}
		return 1 + float64(2*(x-e))
	case k <= -2 || k > 56: // e^x - 1 rounds as e^x does
		y := 1 - (e - x)
		if k == 1024 {
			y = y * 2 * 0x1p1023
		} else {
			y = addExp(y, k)
		}
		return y - 1
	case k < 20:
		t := math.Float64frombits(0x3ff0000000000000 - (0x20000000000000 >> uint(k))) // 1 - 2^-k
		return addExp(t-(e-x), k)
	}
	t = math.Float64frombits(uint64(0x3ff-k) << 52) // 2^-k
	y := x - (e + t)
	y++
	return addExp(y, k)
}
