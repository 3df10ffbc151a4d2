package batch

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
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

// Validate names a non-finite bias time and a non-finite weight by index.
func TestValidateNonFinite(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(n *Network)
		want string
	}{
		{"bias", func(n *Network) { n.Layers[0].BiasTimes[1] = math.Inf(1) }, "bias spike 1 at time +Inf"},
		{"weight", func(n *Network) { n.Layers[1].W()[13] = math.NaN() }, "weights[13] = NaN"},
	} {
		net := randNet(rand.New(rand.NewPCG(1, 3)), netSpec{regime: EqualTau, bias: 2, sizes: []int{4, 6, 3}})
		if err := net.Validate(); err != nil {
			t.Fatalf("%s: the valid network: %v", c.name, err)
		}
		c.set(net)
		if err := net.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
