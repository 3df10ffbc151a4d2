// Package xmath holds the exponential and the logarithm that the DelGrad
// engines share: the same algorithm, written with IEEE-754 additions,
// multiplications and divisions only, is in kernels/delgrad.cuh (dg_exp,
// dg_log), so that the Go engine, the host-compiled kernel math and the CUDA
// kernels round every spike time and gradient alike, bit for bit. (Go's
// math.Exp and math.Log on amd64, glibc's and CUDA's each round some
// arguments differently in the last bit, and a training run amplifies such
// differences until accuracies part.)
//
// Both are the classic fdlibm algorithms (argument reduction by ln 2 and a
// minimax polynomial), accurate to under one unit in the last place. Their
// products are converted explicitly (float64(a*b)), which keeps the Go
// compiler from fusing them with the following sums on any architecture,
// as the kernels are compiled without contraction.
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
