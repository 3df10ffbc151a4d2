package xmath

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// ulps returns |got-want| in units of want's last place.
func ulps(got, want float64) float64 {
	if got == want {
		return 0
	}
	u := math.Nextafter(math.Abs(want), math.Inf(1)) - math.Abs(want)
	return math.Abs(got-want) / u
}

// Within one unit in the last place of math.Exp and math.Log (themselves
// within one) over the ranges the engine uses, and at the edges.
func TestAgainstMath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	worstE, worstL := 0.0, 0.0
	for i := 0; i < 200000; i++ {
		x := (rng.Float64()*2 - 1) * 740
		if i%2 == 0 {
			x = (rng.Float64()*2 - 1) * 5
		}
		worstE = max(worstE, ulps(Exp(x), math.Exp(x)))
		y := math.Exp((rng.Float64()*2 - 1) * 700)
		worstL = max(worstL, ulps(Log(y), math.Log(y)))
	}
	if worstE > 1 || worstL > 1 {
		t.Fatalf("largest difference from package math: exp %.2g ulp, log %.2g ulp", worstE, worstL)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"exp(0)", Exp(0), 1}, {"exp(1)", Exp(1), math.E}, {"exp(-inf)", Exp(math.Inf(-1)), 0},
		{"exp(inf)", Exp(math.Inf(1)), math.Inf(1)}, {"exp(710)", Exp(710), math.Inf(1)},
		{"exp(-746)", Exp(-746), 0}, {"exp(709.7)", Exp(709.7), math.Exp(709.7)},
		{"exp(-744)", Exp(-744), math.Exp(-744)}, {"exp(-708.5)", Exp(-708.5), math.Exp(-708.5)},
		{"log(1)", Log(1), 0}, {"log(e)", Log(math.E), 1}, {"log(0)", Log(0), math.Inf(-1)},
		{"log(inf)", Log(math.Inf(1)), math.Inf(1)}, {"log(min subnormal)", Log(5e-324), -1074 * math.Ln2},
		// math.Log is off for subnormal arguments on amd64: exact values instead.
		{"log(1e-310)", Log(1e-310), -310 * math.Ln10},
		{"log(max)", Log(math.MaxFloat64), math.Log(math.MaxFloat64)},
	} {
		if ulps(c.got, c.want) > 1 {
			t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
	if !math.IsNaN(Exp(math.NaN())) || !math.IsNaN(Log(math.NaN())) || !math.IsNaN(Log(-1)) {
		t.Error("NaN cases")
	}
}

// Against a 200-bit reference (e^x's Taylor series in big.Float) at random
// points: under one ulp.
func TestAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		x := (rng.Float64()*2 - 1) * 30
		y := Exp(x)
		want := bigExp(x)
		if d := ulps(y, want); d > 1 {
			t.Fatalf("Exp(%.17g) = %.17g, reference %.17g (%.2g ulp)", x, y, want, d)
		}
	}
}

// bigExp sums e^x's Taylor series at 200 bits for |x| <= 30.
func bigExp(x float64) float64 {
	const prec = 200
	bx := new(big.Float).SetPrec(prec).SetFloat64(x)
	sum := new(big.Float).SetPrec(prec).SetInt64(1)
	term := new(big.Float).SetPrec(prec).SetInt64(1)
	for n := 1; n < 400; n++ {
		term.Mul(term, bx)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(int64(n)))
		sum.Add(sum, term)
	}
	f, _ := sum.Float64()
	return f
}

func BenchmarkExp(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += Exp(float64(i%1000) * 0.001)
	}
	_ = s
}

func BenchmarkMathExp(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += math.Exp(float64(i%1000) * 0.001)
	}
	_ = s
}

// bigExpm1 is e^x - 1 from a 300-bit Taylor series, for |x| <= 30 (the
// series of e^x - 1 has no cancellation for tiny x).
func bigExpm1(x float64) float64 {
	const prec = 300
	bx := new(big.Float).SetPrec(prec).SetFloat64(x)
	sum := new(big.Float).SetPrec(prec)
	term := new(big.Float).SetPrec(prec).SetInt64(1)
	for n := 1; n < 500; n++ {
		term.Mul(term, bx)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(int64(n)))
		sum.Add(sum, term)
		if float64(n) > math.Abs(x) && (term.Sign() == 0 || term.MantExp(nil) < sum.MantExp(nil)-prec) {
			break // the rest is below the sum's last bit
		}
	}
	f, _ := sum.Float64()
	return f
}

// Expm1 is within one ulp of math.Expm1 from tiny to huge arguments, and
// of a 300-bit reference where the series converges; the edge cases are
// exact.
func TestExpm1(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ranges := []struct {
		name string
		draw func() float64
		ref  func(float64) float64
		n    int // draws (the big.Float reference is slow)
	}{
		{"tiny |x| < 1e-8", func() float64 { return (rng.Float64()*2 - 1) * 1e-8 }, bigExpm1, 5000},
		{"log-uniform |x| in [1e-300, 1]", func() float64 {
			x := math.Exp(-rng.Float64() * 690)
			if rng.IntN(2) == 0 {
				x = -x
			}
			return x
		}, bigExpm1, 5000},
		{"|x| < 2 (reduction cases k = -1, 0, 1)", func() float64 { return (rng.Float64()*2 - 1) * 2 }, bigExpm1, 5000},
		{"|x| < 30", func() float64 { return (rng.Float64()*2 - 1) * 30 }, bigExpm1, 5000},
		{"x in [-800, 710]", func() float64 { return -800 + rng.Float64()*1510 }, math.Expm1, 200000},
		{"x in [700, 709.78]", func() float64 { return 700 + rng.Float64()*9.78 }, math.Expm1, 20000},
	}
	for _, r := range ranges {
		t.Run(r.name, func(t *testing.T) {
			worst := 0.0
			for i := 0; i < r.n; i++ {
				x := r.draw()
				got, want := Expm1(x), r.ref(x)
				d := ulps(got, want)
				if d > 1 {
					t.Fatalf("Expm1(%.17g) = %.17g, reference %.17g (%.2g ulp)", x, got, want, d)
				}
				if m := math.Expm1(x); ulps(got, m) > 1 {
					t.Fatalf("Expm1(%.17g) = %.17g, math.Expm1 %.17g", x, got, m)
				}
				worst = max(worst, d)
			}
			t.Logf("largest difference %.2g ulp", worst)
		})
	}
	maxArg := math.Log(math.MaxFloat64) // 709.78...: the largest finite e^x
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"expm1(0)", Expm1(0), 0}, {"expm1(1)", Expm1(1), math.E - 1},
		{"expm1(-inf)", Expm1(math.Inf(-1)), -1}, {"expm1(inf)", Expm1(math.Inf(1)), math.Inf(1)},
		{"expm1(-40)", Expm1(-40), -1}, {"expm1(-38.8)", Expm1(-38.8), math.Expm1(-38.8)},
		{"expm1(710)", Expm1(710), math.Inf(1)}, {"expm1(1e300)", Expm1(1e300), math.Inf(1)},
		{"expm1(5e-324)", Expm1(5e-324), 5e-324}, {"expm1(1e-20)", Expm1(1e-20), 1e-20},
		{"expm1(-1e-20)", Expm1(-1e-20), -1e-20},
		{"expm1(ln 2 / 2)", Expm1(ln2Half), bigExpm1(ln2Half)},
		{"expm1(1.5 ln 2)", Expm1(ln2HalfX3), bigExpm1(ln2HalfX3)},
		{"expm1(56 ln 2)", Expm1(ln2X56), math.Expm1(ln2X56)},
		// math.Expm1 overflows at ln(MaxFloat64), whose e^x is finite.
		{"expm1(ln MaxFloat64)", Expm1(maxArg), Exp(maxArg)},
		{"expm1(709.5)", Expm1(709.5), math.Expm1(709.5)},
	} {
		if ulps(c.got, c.want) > 1 || math.IsInf(c.got, 0) != math.IsInf(c.want, 0) {
			t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
	if z := Expm1(math.Copysign(0, -1)); z != 0 || !math.Signbit(z) {
		t.Errorf("expm1(-0) = %g, want -0", z)
	}
	if !math.IsNaN(Expm1(math.NaN())) {
		t.Error("expm1(NaN) is not NaN")
	}
}

// For |x| below 1e-5 Expm1 is far more accurate than Exp(x) - 1, which is
// why the perturbed membrane uses it.
func TestExpm1AgainstExpMinusOne(t *testing.T) {
	x := 1e-10
	if d := ulps(Expm1(x), bigExpm1(x)); d > 0.5 {
		t.Fatalf("Expm1(1e-10) off by %.2g ulp", d)
	}
	if d := math.Abs(Exp(x)-1-bigExpm1(x)) / bigExpm1(x); d < 1e-8 {
		t.Fatalf("Exp(1e-10) - 1 is accurate to %.2g: the test says nothing", d)
	}
}

func BenchmarkExpm1(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += Expm1(float64(i%1000) * 0.001)
	}
	_ = s
}
