package bss2model

import (
	"math/rand/v2"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

// BenchmarkEvaluate runs chips of the default model (and of one with
// per-neuron time-constant spread, which goes through the root finder) on
// the CPU engine with every core: Yin-Yang's hardware network (4 x 5
// inputs, 30 hidden, 3 outputs, axonal delays) and 16x16 MNIST's on the
// chip (256-246-10), each chip on 1000 samples, as populations of chips
// (group: as many as fit) and one chip at a time (one), to compare in one
// run. It reports chip-samples/s.
func BenchmarkEvaluate(b *testing.B) {
	for _, bc := range []struct {
		name  string
		p     func() Params
		sizes []int
		chips int
	}{
		{"yinyang/defaults", Defaults, []int{4, 30, 3}, 20},
		{"yinyang/tau_spread", func() Params { p := Defaults(); p.TauMemStd, p.TauSynStd = 0.02, 0.02; return p }, []int{4, 30, 3}, 20},
		{"mnist16/defaults", Defaults, []int{256, 246, 10}, 4},
	} {
		for _, mode := range []struct {
			name  string
			group int
		}{{"group", 0}, {"one", 1}} {
			b.Run(bc.name+"/"+mode.name, func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				kind, mux := batch.Axonal, 5
				if bc.sizes[0] > 4 {
					kind, mux = batch.NoDelay, 1
				}
				net := randNet(rng, 1, kind, 0, mux, bc.sizes...)
				for l := range net.Layers {
					for i := range net.Layers[l].D() {
						net.Layers[l].D()[i] = 2 + 1.5*rng.Float64()
					}
				}
				const n = 1000
				x := randInput(rng, n, bc.sizes[0])
				labels := make([]int, n)
				opt := EvalOptions{Chips: bc.chips, Seed: 1, Group: mode.group}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := Evaluate(net, bc.p(), x, labels, opt); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*bc.chips*n)/b.Elapsed().Seconds(), "chip-samples/s")
			})
		}
	}
}
