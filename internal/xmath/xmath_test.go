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
