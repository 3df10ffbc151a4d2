//go:build cuda

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/trainer"
	"gorgonia.org/tensor"
)

// TestPopulationParity holds a population's forward and backward pass on
// the GPU (one launch per kernel for all members) to each member's pass
// on the CPU engine: every regime x delay kind, K = 1, 3 and 17, bit for
// bit (unless this Go build fuses multiply-adds).
func TestPopulationParity(t *testing.T) {
	g := gpu(t)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, regime := range []batch.Regime{batch.EqualTau, batch.DoubleTau} {
		for _, kind := range []batch.DelayKind{batch.NoDelay, batch.Axonal, batch.Dendritic, batch.Synaptic} {
			for _, k := range []int{1, 3, 17} {
				name := fmt.Sprintf("%v/%v/K%d", regime, kind, k)
				nets := make([]*batch.Network, k)
				ins, dys := make([]*tensor.Dense, k), make([]*tensor.Dense, k)
				trs, gs := make([]*batch.Trace, k), make([]*batch.Gradients, k)
				for m := range nets {
					nets[m] = randNet(rng, regime, kind, 1, 1, 4, 30, 3)
					ins[m], dys[m] = testnet.Input(rng, 150, 4, 0.05), testnet.Input(rng, 150, 3, 0)
					trs[m], gs[m] = &batch.Trace{}, &batch.Gradients{}
				}
				if err := g.ForwardPop(nets, ins, trs); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if err := g.BackwardPop(nets, trs, dys, gs); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				cpu := batch.NewCPU(0)
				wt, wg := 0.0, 0.0
				for m, net := range nets {
					var want batch.Trace
					if err := cpu.Forward(net, ins[m], &want); err != nil {
						t.Fatal(err)
					}
					for l := range want.Times {
						wt = max(wt, worst(t, fmt.Sprintf("%s member %d times %d", name, m, l), trs[m].Times[l].Float64s(), want.Times[l].Float64s()))
					}
					want2 := batch.NewGradients(net, 1)
					if err := cpu.Backward(net, &want, dys[m], want2); err != nil {
						t.Fatal(err)
					}
					wg = max(wg, testnet.CompareGradients(t, gs[m], want2, func(w string, got, want []float64) float64 {
						return worst(t, fmt.Sprintf("%s member %d %s", name, m, w), got, want)
					}))
				}
				t.Logf("POPPARITY %s times %.3g gradients %.3g", name, wt, wg)
			}
		}
	}
}

// Twenty epochs of a 16-member Yin-Yang H30_WA population on the GPU (one
// population stepper) leave every member bit for bit where a single GPU
// run of its seed ends.
func TestPopulationTrainingMatchesSingles(t *testing.T) {
	g := gpu(t)
	const epochs, k = 20, 16
	var members []*trainer.Trainer
	for m := 0; m < k; m++ {
		tr := trainerFor(t, "yin_yang_H30_WA", g, epochs)
		if m > 0 {
			tr = seeded(t, tr, uint64(m+1), g)
		}
		members = append(members, tr)
	}
	pop, err := trainer.NewPopulation(members)
	if err != nil {
		t.Fatal(err)
	}
	defer pop.Close()
	all := make([]int, k)
	for m := range all {
		all[m] = m
	}
	start := time.Now()
	for e := 0; e < epochs; e++ {
		if _, errs := pop.RunEpoch(all, nil); errs != nil {
			for m, err := range errs {
				if err != nil {
					t.Fatalf("member %d: %v", m, err)
				}
			}
		}
	}
	popTime := time.Since(start)
	start = time.Now()
	for m := 0; m < k; m++ {
		single := seeded(t, trainerFor(t, "yin_yang_H30_WA", g, epochs), uint64(m+1), g)
		for e := 0; e < epochs; e++ {
			if _, err := single.RunEpoch(nil); err != nil {
				t.Fatal(err)
			}
		}
		a, b := single, members[m]
		for l := range a.Model.W {
			for i := range a.Model.W[l] {
				if math.Float64bits(a.Model.W[l][i]) != math.Float64bits(b.Model.W[l][i]) {
					t.Fatalf("member %d: weight %d of layer %d: alone %.17g, in the population %.17g", m, i, l, a.Model.W[l][i], b.Model.W[l][i])
				}
			}
		}
		if !reflect.DeepEqual(a.Opt, b.Opt) || a.Best.Epoch != b.Best.Epoch || a.History[epochs-1].ValAcc != b.History[epochs-1].ValAcc {
			t.Fatalf("member %d: optimiser, best epoch or validation accuracy differ", m)
		}
	}
	t.Logf("POPTRAIN %d members x %d epochs: population %.2f s, one after another %.2f s; %d recorded, %d replayed",
		k, epochs, popTime.Seconds(), time.Since(start).Seconds(), g.Recordings, g.Replays)
}

// seeded returns a trainer like tr with seed s.
func seeded(t testing.TB, tr *trainer.Trainer, s uint64, eng batch.Engine) *trainer.Trainer {
	t.Helper()
	cfg := tr.Cfg
	cfg.Seed = s
	out, err := trainer.NewTrainer(cfg, tr.Data, eng)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BenchmarkPopulationEpoch: training epochs of K members on one population
// stepper (Yin-Yang H30_WA at B = 150 up to K = 256, 16x16 MNIST at
// B = 50 up to K = 16), aggregate training samples/s (validation included
// in the time).
func BenchmarkPopulationEpoch(b *testing.B) {
	g := gpu(b)
	for _, c := range []struct {
		name, cfg string
		ks        []int
	}{{"yinyang_H30_WA", "yin_yang_H30_WA", []int{1, 4, 16, 40, 64, 256}}, {"16x16_mnist", "16x16_mnist", []int{1, 4, 16}}} {
		for _, k := range c.ks {
			b.Run(fmt.Sprintf("%s/K%d", c.name, k), func(b *testing.B) {
				var members []*trainer.Trainer
				base := trainerFor(b, c.cfg, g, 1)
				for m := 0; m < k; m++ {
					members = append(members, seeded(b, base, uint64(m+1), g))
				}
				pop, err := trainer.NewPopulation(members)
				if err != nil {
					b.Fatal(err)
				}
				defer pop.Close()
				all := make([]int, k)
				for m := range all {
					all[m] = m
				}
				for b.Loop() {
					_, errs := pop.RunEpoch(all, nil)
					for _, err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.N*k*base.Data.Train.N)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}
