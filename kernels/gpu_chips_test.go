//go:build cuda

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
	"github.com/delgrad-go/delgrad/internal/testnet"
)

// chipNet is a network for the chip benchmarks and tests: Yin-Yang's
// hardware network (4 x 5 inputs, 30 hidden, 3 outputs, axonal delays in
// the delay neurons' range) or 16x16 MNIST's on the chip (256-246-10).
func chipNet(rng *rand.Rand, name string) (*batch.Network, int) {
	if name == "yinyang" {
		net := testnet.Net(rng, testnet.Spec{TauMem: 1, Delay: batch.Axonal, Mux: 5, Sizes: []int{4, 30, 3}})
		for l := range net.Layers {
			for i := range net.Layers[l].D() {
				net.Layers[l].D()[i] = 2 + 1.5*rng.Float64()
			}
		}
		return net, 4
	}
	return testnet.Net(rng, testnet.Spec{TauMem: 1, Sizes: []int{256, 246, 10}}), 256
}

// TestChipsMatchCPU: simulated chips evaluated as populations on the GPU
// give, chip by chip, the CPU engine's accuracies and times, for the
// default model and with every term on (the perturbed time constants go
// through the root finder, on the device too).
func TestChipsMatchCPU(t *testing.T) {
	g := gpu(t)
	for _, name := range []string{"yinyang", "mnist16"} {
		for _, terms := range []string{"defaults", "all"} {
			rng := rand.New(rand.NewPCG(61, 62))
			net, in := chipNet(rng, name)
			const n = 300
			x := testnet.Input(rng, n, in, 0.05)
			labels := make([]int, n)
			for i := range labels {
				labels[i] = rng.IntN(net.Outputs())
			}
			p := bss2model.Defaults()
			if terms == "all" {
				p.TauMemStd, p.TauSynStd, p.SpikeJitter, p.SpikeLoss = 0.03, 0.02, 0.01, 0.02
			}
			opt := bss2model.EvalOptions{Chips: 40, Seed: 3, Group: 16}
			want, err := bss2model.Evaluate(net, p, x, labels, opt)
			if err != nil {
				t.Fatal(err)
			}
			opt.Engine = g
			got, err := bss2model.Evaluate(net, p, x, labels, opt)
			if err != nil {
				t.Fatal(err)
			}
			differ := 0
			for i := range want {
				a, b := got[i], want[i]
				if a.Accuracy != b.Accuracy || a.Silent != b.Silent ||
					(a.MeanLabelTime != b.MeanLabelTime && !(math.IsNaN(a.MeanLabelTime) && math.IsNaN(b.MeanLabelTime))) {
					differ++
				}
			}
			t.Logf("CHIPS %s/%s: %d of %d chips differ from the CPU's", name, terms, differ, len(want))
			if differ > 0 && !testnet.GoFuses() {
				t.Fatalf("%s/%s: %d chips differ between the GPU and the CPU: they should agree bit for bit", name, terms, differ)
			}
			// The traces themselves, for one population pass.
			sub := &bss2model.Substrate{P: p, Engine: g}
			cpu := &bss2model.Substrate{P: p, Engine: batch.NewCPU(0)}
			ms, mc := make([]bss2model.Member, 4), make([]bss2model.Member, 4)
			for m := range ms {
				chip := bss2model.NewChip(&p, net, rng)
				ms[m] = bss2model.Member{Net: net, Chip: chip, Input: x, Trace: &batch.Trace{}, Rng: rand.New(rand.NewPCG(1, uint64(m)))}
				mc[m] = bss2model.Member{Net: net, Chip: chip, Input: x, Trace: &batch.Trace{}, Rng: rand.New(rand.NewPCG(1, uint64(m)))}
			}
			if err := sub.ForwardPop(ms); err != nil {
				t.Fatal(err)
			}
			if err := cpu.ForwardPop(mc); err != nil {
				t.Fatal(err)
			}
			for m := range ms {
				for l := range mc[m].Trace.Times {
					worst(t, fmt.Sprintf("%s/%s chip %d times %d", name, terms, m, l), ms[m].Trace.Times[l].Float64s(), mc[m].Trace.Times[l].Float64s())
				}
			}
		}
	}
}

// TestHardwareAwareTrainingMatchesCPU: 5 epochs of hardware-aware Yin-Yang
// (a new chip every batch) with the chip passes and the backward passes
// on the GPU end with the CPU's weights, bit for bit.
func TestHardwareAwareTrainingMatchesCPU(t *testing.T) {
	g := gpu(t)
	const epochs = 5
	tg := trainerFor(t, "yin_yang_hwaware_WA", g, epochs)
	tc := trainerFor(t, "yin_yang_hwaware_WA", batch.NewCPU(0), epochs)
	for e := 1; e <= epochs; e++ {
		mg, err := tg.RunEpoch(nil)
		if err != nil {
			t.Fatal(err)
		}
		mc, err := tc.RunEpoch(nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("HWEPOCH %d validation %.4f/%.4f", e, mg.ValAcc, mc.ValAcc)
	}
	differ := 0
	for l := range tc.Model.W {
		for i, v := range tc.Model.W[l] {
			if math.Float64bits(v) != math.Float64bits(tg.Model.W[l][i]) {
				differ++
			}
		}
	}
	t.Logf("HWTRAINED %d weights differ in any bit", differ)
	if differ > 0 && !testnet.GoFuses() {
		t.Fatalf("%d weights differ between GPU and CPU hardware-aware training", differ)
	}
}

// BenchmarkChips evaluates 1000 simulated chips of the default model on
// the GPU: Yin-Yang on 1000 samples (target: <= 0.2 s) and 16x16 MNIST on
// 10,000 (target: <= 10 s). It reports chip-samples/s and seconds per
// 1000 chips.
func BenchmarkChips(b *testing.B) {
	g := gpu(b)
	for _, c := range []struct {
		name string
		n    int
	}{{"yinyang", 1000}, {"mnist16", 10000}} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(71, 72))
			net, in := chipNet(rng, c.name)
			x := testnet.Input(rng, c.n, in, 0.05)
			labels := make([]int, c.n)
			const chips = 1000
			opt := bss2model.EvalOptions{Chips: chips, Seed: 1, Engine: g}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := bss2model.Evaluate(net, bss2model.Defaults(), x, labels, opt); err != nil {
					b.Fatal(err)
				}
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(chips*c.n)/s, "chip-samples/s")
			b.ReportMetric(s, "s/1000chips")
		})
	}
}
