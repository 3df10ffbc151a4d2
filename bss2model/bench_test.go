package bss2model

import (
	"math/rand/v2"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

// BenchmarkEvaluate runs a Yin-Yang-sized hardware network (4 x 5 inputs,
// 30 hidden, 3 outputs, axonal delays, tau_m = tau_s) on chips of 1000
// samples each, with the default chip model; it reports samples/s over
// chips x samples.
func BenchmarkEvaluate(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    func() Params
	}{
		{"defaults", Defaults},
		{"tau_spread", func() Params { p := Defaults(); p.TauMemStd, p.TauSynStd = 0.02, 0.02; return p }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			net := randNet(rng, 1, batch.Axonal, 0, 5, 4, 30, 3)
			for l := range net.Layers {
				for i := range net.Layers[l].D() {
					net.Layers[l].D()[i] = 2 + 1.5*rng.Float64()
				}
			}
			const n = 1000
			x := randInput(rng, n, 4)
			labels := make([]int, n)
			const chips = 10
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Evaluate(net, bc.p(), x, labels, EvalOptions{Chips: chips, Seed: 1, Workers: 1}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*chips*n)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
