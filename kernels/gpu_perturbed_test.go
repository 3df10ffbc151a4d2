//go:build cuda

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
	"github.com/delgrad-go/delgrad/internal/testnet"
)

// chipLayers draws k perturbed layers shaped like a Yin-Yang hardware
// network's hidden layer on chips (20 inputs, 5% missing, axonal delays,
// 30 neurons, b samples each) with the spec's time constants.
func chipLayers(rng *rand.Rand, k, b int, s testnet.PerturbedSpec) []*batch.PerturbedLayer {
	ls := make([]*batch.PerturbedLayer, k)
	for m := range ls {
		s.B, s.In, s.Out, s.Axonal, s.PInf = b, 20, 30, true, 0.05
		ls[m] = testnet.Perturbed(rng, s)
	}
	return ls
}

// TestPerturbedParity holds FirstSpikesPop on the GPU (dg_pert_rank and
// dg_pert_spike, one launch each for the population) to the Go reference,
// bss2model.FirstSpikes: every output the same bits (+Inf on both sides
// included), on a population of mixed shapes and modes and on 200 chips of
// 150 samples (a million threads) with 2% spreads and with near-equal time
// constants (the term-by-term mode).
func TestPerturbedParity(t *testing.T) {
	g := gpu(t)
	rng := rand.New(rand.NewPCG(71, 72))
	for _, c := range []struct {
		name string
		ls   []*batch.PerturbedLayer
	}{
		{"mixed", testnet.PerturbedMix(rng)},
		{"chips200_spread2pc", chipLayers(rng, 200, 150, testnet.PerturbedSpec{Spread: 0.02})},
		{"chips200_near1e-6", chipLayers(rng, 200, 150, testnet.PerturbedSpec{Near: 1e-6})},
	} {
		if err := bss2model.FirstSpikes(c.ls, 0); err != nil {
			t.Fatal(err)
		}
		want := make([][]float64, len(c.ls))
		for m, l := range c.ls {
			want[m] = slices.Clone(l.Output)
			for i := range l.Output {
				l.Output[i] = -7
			}
		}
		if err := g.FirstSpikesPop(c.ls); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		outs, spikes, differ := 0, 0, 0
		for m, l := range c.ls {
			for i, v := range l.Output {
				outs++
				if !math.IsInf(want[m][i], 1) {
					spikes++
				}
				if math.Float64bits(v) != math.Float64bits(want[m][i]) && !(math.IsNaN(v) && math.IsNaN(want[m][i])) {
					if differ == 0 {
						t.Errorf("%s: member %d output %d (sample %d, neuron %d): GPU %.17g, Go %.17g", c.name, m, i, i/l.Out, i%l.Out, v, want[m][i])
					}
					differ++
				}
			}
		}
		t.Logf("PERTPARITY %s: %d outputs, %d spikes, %d differ", c.name, outs, spikes, differ)
		if differ > 0 {
			t.Fatalf("%s: %d of %d outputs differ from bss2model.FirstSpikes", c.name, differ, outs)
		}
	}
}

// BenchmarkPerturbed: (sample, neuron) first spikes of perturbed layers
// per second on the GPU for 10 and 1000 chips of 150 samples (Yin-Yang
// hidden-layer shape) with 2% spreads and with near-equal time constants,
// and the Go reference on every core of the machine for 10 chips (its
// rate does not grow with the population). The GPU's time includes the
// copies in and out.
func BenchmarkPerturbed(b *testing.B) {
	g := gpu(b)
	for _, mode := range []struct {
		name string
		spec testnet.PerturbedSpec
	}{{"spread2pc", testnet.PerturbedSpec{Spread: 0.02}}, {"near1e-6", testnet.PerturbedSpec{Near: 1e-6}}} {
		for _, k := range []int{10, 1000} {
			ls := chipLayers(rand.New(rand.NewPCG(73, uint64(k))), k, 150, mode.spec)
			solves := k * 150 * 30
			type run struct {
				name string
				f    func() error
			}
			engs := []run{{"gpu", func() error { return g.FirstSpikesPop(ls) }}}
			if k == 10 {
				engs = append(engs, run{fmt.Sprintf("go_%d_workers", runtime.GOMAXPROCS(0)), func() error { return bss2model.FirstSpikes(ls, 0) }})
			}
			for _, eng := range engs {
				b.Run(fmt.Sprintf("%s/chips%d/%s", mode.name, k, eng.name), func(b *testing.B) {
					for b.Loop() {
						if err := eng.f(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*solves)/b.Elapsed().Seconds(), "neuron-solves/s")
				})
			}
		}
	}
}
