package batch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// firstNonFinite finds the first NaN or infinity at every position of a
// block, in the tail after the last whole block, and none in finite data
// (huge values, zeros and negative zeros included).
func TestFirstNonFinite(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 16, 37} {
		v := make([]float64, n)
		for i := range v {
			v[i] = []float64{0, math.Copysign(0, -1), math.MaxFloat64, -math.MaxFloat64, 1e-310, 3.5}[i%6]
		}
		if got := firstNonFinite(v); got != -1 {
			t.Fatalf("n=%d finite: got %d, want -1", n, got)
		}
		for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
			for at := 0; at < n; at++ {
				w := slices.Clone(v)
				w[at] = bad
				if at+1 < n {
					w[n-1] = math.NaN() // a later one must not win
				}
				if got := firstNonFinite(w); got != at {
					t.Fatalf("n=%d, %g at %d: got %d", n, bad, at, got)
				}
			}
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	// 16x16 MNIST's network: Forward and Backward validate it on every call.
	net := randNet(rand.New(rand.NewPCG(1, 2)), netSpec{regime: EqualTau, sizes: []int{256, 128, 10}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := net.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
