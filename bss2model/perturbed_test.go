package bss2model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
)

// perturbedOf returns the perturbed layer that the substrate's root finder
// solves for layer l of net on chip, from the layer's input times in (B x
// lay.In), for a model p without trial-to-trial terms: realised weights
// with gains, thresholds with offsets, each neuron's time constants.
func perturbedOf(p *Params, net *batch.Network, chip *Chip, l, b int, in []float64) *batch.PerturbedLayer {
	lay, cl := &net.Layers[l], &chip.Layers[l]
	nrn := lay.Neuron
	theta0 := nrn.Threshold - nrn.Leak
	pl := &batch.PerturbedLayer{B: b, In: lay.In, Out: lay.Out, Input: in, BiasTimes: lay.BiasTimes,
		W: make([]float64, len(lay.W())), TauMem: make([]float64, lay.Out), TauSyn: make([]float64, lay.Out),
		Theta: make([]float64, lay.Out), Unit: nrn.TauSyn, Output: make([]float64, b*lay.Out)}
	for i, v := range lay.W() {
		pl.W[i] = p.QuantizeWeight(v) * cl.Gain[i]
	}
	for k := range pl.Theta {
		pl.Theta[k] = math.Max(theta0+cl.ThresholdOffset[k], 1e-3*theta0)
		pl.TauMem[k], pl.TauSyn[k] = nrn.TauMem*cl.TauMem[k], nrn.TauSyn*cl.TauSyn[k]
	}
	d := make([]float64, len(lay.D()))
	for i, v := range lay.D() {
		d[i] = p.RealiseDelay(v, nrn.TauSyn)
	}
	switch lay.Delay {
	case batch.Axonal:
		pl.AxonalDelays = d
	case batch.Dendritic:
		pl.DendriticDelays = d
	}
	return pl
}

// The substrate hands FirstSpikes the perturbed layer that perturbedOf
// builds from the chip: on chips with time-constant mismatch (and
// threshold offsets, gains and 6-bit weights, folded into the perturbed
// layer), every layer's times are those of FirstSpikes on it, bit for bit,
// for both regimes, every delay kind the chip realises, bias spikes and
// multiplexed inputs; on 1 and 3 goroutines.
func TestFirstSpikesIsRootFinder(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(61, 62))
			net := randNet(rng, c.tauMem, c.kind, c.bias, c.mux, 4, 15, 3)
			x := randInput(rng, 40, 4)
			p := Ideal()
			p.TauMemStd, p.TauSynStd = 0.05, 0.05
			p.ThresholdOffsetStd, p.GainStd, p.WeightScale, p.WeightMax = 0.1, 0.1, 30, 63
			chip := NewChip(&p, net, rng)
			tr := chipTrace(t, p, net, chip, x, rng)
			spikes := 0
			for l := range net.Layers {
				for _, workers := range []int{1, 3} {
					pl := perturbedOf(&p, net, chip, l, 40, tr.Times[l].Float64s())
					if err := FirstSpikes([]*batch.PerturbedLayer{pl}, workers); err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(pl.Output, tr.Times[l+1].Float64s()) {
						t.Fatalf("layer %d, %d workers: FirstSpikes differs from the substrate's root finder", l, workers)
					}
				}
				for _, v := range tr.Times[l+1].Float64s() {
					if !math.IsInf(v, 1) {
						spikes++
					}
				}
			}
			if spikes < 100 {
				t.Fatalf("only %d spikes", spikes)
			}
		})
	}
}

// stubPerturbed is an engine that says it solves perturbed layers.
type stubPerturbed struct {
	batch.Engine
	calls int
}

func (s *stubPerturbed) FirstSpikesPop(ls []*batch.PerturbedLayer) error {
	s.calls++
	return nil
}

// FirstSpikesOn hands the layers to an engine that solves perturbed layers
// and solves them itself for one that does not.
func TestFirstSpikesOn(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	ls := []*batch.PerturbedLayer{testnet.Perturbed(rng, testnet.PerturbedSpec{B: 5, In: 4, Out: 3, Spread: 0.2})}
	for i := range ls[0].Output {
		ls[0].Output[i] = -7
	}
	stub := &stubPerturbed{Engine: batch.NewCPU(1)}
	if err := FirstSpikesOn(stub, ls, 1); err != nil || stub.calls != 1 || ls[0].Output[0] != -7 {
		t.Fatalf("engine with FirstSpikesPop: error %v, %d calls, output %g", err, stub.calls, ls[0].Output[0])
	}
	if err := FirstSpikesOn(batch.NewCPU(1), ls, 1); err != nil || slices.Contains(ls[0].Output, -7) {
		t.Fatalf("CPU engine: error %v, outputs %v", err, ls[0].Output)
	}
}

// BenchmarkFirstSpikes: the Go reference on a population of perturbed
// layers shaped like a Yin-Yang hardware network's hidden layer (20
// inputs, 5% missing, axonal delays, 30 neurons, 150 samples a chip, 10
// chips), with 2% and 40% time-constant spreads (the two running sums)
// and near-equal time constants (term by term); (sample, neuron) solves
// per second, on one goroutine and on GOMAXPROCS.
func BenchmarkFirstSpikes(b *testing.B) {
	for _, bc := range []struct {
		name string
		spec testnet.PerturbedSpec
	}{
		{"spread2pc", testnet.PerturbedSpec{Spread: 0.02}},
		{"spread40pc", testnet.PerturbedSpec{Spread: 0.4}},
		{"near1e-6", testnet.PerturbedSpec{Near: 1e-6}},
	} {
		rng := rand.New(rand.NewPCG(65, 66))
		const chips = 10
		ls := make([]*batch.PerturbedLayer, chips)
		for m := range ls {
			s := bc.spec
			s.B, s.In, s.Out, s.Axonal, s.PInf = 150, 20, 30, true, 0.05
			ls[m] = testnet.Perturbed(rng, s)
		}
		for _, workers := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/workers%d", bc.name, workers), func(b *testing.B) {
				for b.Loop() {
					if err := FirstSpikes(ls, workers); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*chips*150*30)/b.Elapsed().Seconds(), "neuron-solves/s")
			})
		}
	}
}
