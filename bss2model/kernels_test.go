//go:build cgo

package bss2model

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/kernels/host"
)

// The chips' population passes on the kernels (compiled for the host, one
// launch per kernel for all chips, the perturbed neurons in the kernels'
// root finder) give the Go engine's times bit for bit, for every term of
// the model, both regimes, axonal and dendritic delays, bias spikes and
// multiplexing, and so the same accuracy per chip.
func TestKernelsMatchGo(t *testing.T) {
	for _, tc := range termCases {
		for _, nc := range popNetCases {
			t.Run(tc.name+"/"+nc.name, func(t *testing.T) {
				p := Ideal()
				tc.set(&p)
				rng := rand.New(rand.NewPCG(51, 52))
				ns, xs, chips := popCase(rng, &p, nc, 4, 15, 4)
				run := func(eng batch.Engine) []Member {
					sub := &Substrate{P: p, Engine: eng, Workers: 2}
					ms := popMembers(ns, chips, xs, 9)
					if err := sub.ForwardPop(ms); err != nil {
						t.Fatal(err)
					}
					return ms
				}
				want, got := run(batch.NewCPU(1)), run(host.New())
				for m := range want {
					for l := range want[m].Trace.Times {
						if !slices.Equal(got[m].Trace.Times[l].Float64s(), want[m].Trace.Times[l].Float64s()) {
							t.Fatalf("member %d, times %d: kernels differ from the Go engine", m, l)
						}
					}
				}
			})
		}
	}
	t.Run("evaluate", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(53, 54))
		net := popNets(rng, 1, 1, batch.Axonal, 0, 5)[0]
		x := randInput(rng, 50, 4)
		labels := make([]int, 50)
		for i := range labels {
			labels[i] = rng.IntN(3)
		}
		opt := EvalOptions{Chips: 9, Seed: 2, Workers: 2, Group: 4}
		want, err := Evaluate(net, Defaults(), x, labels, opt)
		if err != nil {
			t.Fatal(err)
		}
		opt.Engine = host.New()
		got, err := Evaluate(net, Defaults(), x, labels, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !sameResults(got, want) {
			t.Fatalf("kernels' chips differ from the Go engine's:\n%v\n%v", got, want)
		}
	})
}
