//go:build cgo

package host

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/kernels"
)

// sameBits reports whether a and b are the same float64 (NaN matching any
// NaN).
func sameBits(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

// neuronCase draws one random neuron and its sorted inputs.
type neuronCase struct {
	name string
	// taus returns the neuron's tau_mem and tau_syn.
	taus func(rng *rand.Rand) (tm, ts float64)
	// n is the largest number of inputs; weight the mean weight in units
	// of 1/n (negative: inputs that never reach threshold).
	n      int
	weight float64
	// spiking is the least share of the neurons that must spike (0: none
	// may).
	spiking float64
}

// The kernels' root finder (dg_perturbed_spike) gives bss2model's
// Membrane.FirstSpike bit for bit (== on every result, +Inf on both
// sides), on random neurons of every mode: equal time constants,
// tau_mem = 2 tau_syn, tau_mem within 1e-12..1e-4 of tau_syn (the
// term-by-term expm1 mode) and just either side of that mode's border,
// spreads of up to 40%, inputs that never reach threshold and neurons
// with hundreds of inputs; with the weights as a plain array and as a
// column of a matrix in sorted-row order.
func TestPerturbedSpikeMatchesMembrane(t *testing.T) {
	unitTau := func(rng *rand.Rand) float64 { return 0.5 + 1.5*rng.Float64() }
	spread := func(ratio float64) func(*rand.Rand) (float64, float64) {
		return func(rng *rand.Rand) (float64, float64) {
			u := unitTau(rng)
			return ratio * u * (1 + 0.4*(2*rng.Float64()-1)), u * (1 + 0.4*(2*rng.Float64()-1))
		}
	}
	near := func(lo, hi float64) func(*rand.Rand) (float64, float64) {
		return func(rng *rand.Rand) (float64, float64) {
			u := unitTau(rng)
			f := math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
			if rng.IntN(2) == 0 {
				f = -f
			}
			return u * (1 + f), u
		}
	}
	cases := []neuronCase{
		{"equal", func(rng *rand.Rand) (float64, float64) { u := unitTau(rng); return u, u }, 20, 2.5, 0.3},
		{"double", func(rng *rand.Rand) (float64, float64) { u := unitTau(rng); return 2 * u, u }, 20, 3, 0.3},
		{"near_1e-12_1e-4", near(1e-12, 1e-4), 20, 2.5, 0.3},
		{"near_border_1e-4", near(0.5e-4, 2e-4), 20, 2.5, 0.3},
		{"spread_40pc_ratio1", spread(1), 20, 2.5, 0.3},
		{"spread_40pc_ratio2", spread(2), 20, 3, 0.3},
		{"never_reach", spread(1), 20, -1, 0},
		{"many_inputs", spread(1.5), 400, 2.5, 0.2},
		{"many_inputs_near", near(1e-10, 1e-5), 300, 2.5, 0.2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, uint64(len(c.name))))
			trials := 600
			if c.n > 100 {
				trials = 150 // the term-by-term mode costs n^2 per neuron
			}
			spikes, direct := 0, 0
			for trial := 0; trial < trials; trial++ {
				tm, ts := c.taus(rng)
				unit := unitTau(rng)
				theta := 0.5 + rng.Float64()
				n := 1 + rng.IntN(c.n)
				if c.n > 100 {
					n = c.n/2 + rng.IntN(c.n/2)
				}
				times, ws := make([]float64, n), make([]float64, n)
				for i := range times {
					times[i] = 3 * unit * rng.Float64()
					if i > 0 && rng.Float64() < 0.1 {
						times[i] = times[i-1] // equal times: an empty interval
					}
					ws[i] = c.weight / float64(n) * theta * (1 + 1.5*rng.NormFloat64())
					if c.weight < 0 {
						ws[i] = -math.Abs(ws[i])
					}
				}
				slices.Sort(times)
				m := bss2model.Membrane{TauMem: tm, TauSyn: ts, Unit: unit, Theta: theta}
				want := m.FirstSpike(times, ws)
				got := perturbedSpike(tm, ts, unit, theta, times, ws, nil, 0)
				// The same weights as column k of a matrix of stride 3,
				// its rows in a shuffled order.
				const stride, k = 3, 2
				rows := make([]int32, n)
				mat := make([]float64, stride*n)
				for i, r := range rng.Perm(n) {
					rows[i] = int32(r)
					mat[r*stride+k] = ws[i]
				}
				gotM := perturbedSpike(tm, ts, unit, theta, times, mat[k:], rows, stride)
				if !sameBits(got, want) || !sameBits(gotM, want) {
					t.Fatalf("trial %d (tau_mem %.17g, tau_syn %.17g, unit %.17g, theta %.17g, %d inputs): dg_perturbed_spike %.17g (matrix %.17g), Membrane %.17g",
						trial, tm, ts, unit, theta, n, got, gotM, want)
				}
				if !math.IsInf(want, 1) {
					spikes++
				}
				if k := 1/ts - 1/tm; k != 0 && math.Abs(k)*ts < 1e-4 {
					direct++
				}
			}
			t.Logf("%d of %d neurons spiked, %d in the term-by-term mode", spikes, trials, direct)
			if c.spiking == 0 && spikes > 0 {
				t.Fatalf("%d neurons spiked that cannot reach threshold", spikes)
			}
			if float64(spikes) < c.spiking*float64(trials) {
				t.Fatalf("only %d of %d neurons spiked: the case tests too little", spikes, trials)
			}
			if strings.HasPrefix(c.name, "near_1e") && direct != trials || c.name == "near_border_1e-4" && (direct == 0 || direct == trials) {
				t.Fatalf("%d of %d neurons in the term-by-term mode", direct, trials)
			}
		})
	}
	if got := perturbedSpike(2, 1, 1, 1, nil, nil, nil, 0); !math.IsInf(got, 1) {
		t.Errorf("no inputs: %g, want +Inf", got)
	}
}

// Where the closed forms hold (every neuron at tau_mem = tau_syn or
// tau_mem = 2 tau_syn), the kernels' root finder gives the ideal engine's
// spike times to 1e-9: tau_syn 1 and 1.3, bias spikes, axonal and
// dendritic delays, through FirstSpikesPop on the host-compiled kernels.
func TestPerturbedMatchesClosedForms(t *testing.T) {
	eng := New()
	defer eng.Release()
	for _, regime := range []batch.Regime{batch.EqualTau, batch.DoubleTau} {
		for _, kind := range []batch.DelayKind{batch.NoDelay, batch.Axonal, batch.Dendritic} {
			for _, tau := range []float64{1, 1.3} {
				name := fmt.Sprintf("%v/%v/tau_syn%g", regime, kind, tau)
				rng := rand.New(rand.NewPCG(uint64(regime), uint64(kind)))
				net := testnet.Net(rng, testnet.Spec{TauMem: float64(regime), Delay: kind, Bias: 2, Sizes: []int{12, 20}})
				lay := &net.Layers[0]
				lay.Neuron.TauSyn, lay.Neuron.TauMem = tau, tau*float64(regime)
				lay.Neuron.Threshold = tau // the same spikes in units of tau_syn
				for i := range lay.BiasTimes {
					lay.BiasTimes[i] *= tau
				}
				for i := range lay.D() {
					lay.D()[i] *= tau
				}
				x := testnet.Input(rng, 50, 12, 0.1)
				for i := range x.Float64s() {
					x.Float64s()[i] *= tau
				}
				var tr batch.Trace
				if err := batch.NewCPU(1).Forward(net, x, &tr); err != nil {
					t.Fatal(err)
				}
				want := tr.Output().Float64s()
				pl := testnet.PerturbedFromLayer(lay, 50, x.Float64s())
				if err := eng.FirstSpikesPop([]*batch.PerturbedLayer{pl}); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				worst, spikes := 0.0, 0
				for i, w := range want {
					g := pl.Output[i]
					if math.IsInf(w, 1) != math.IsInf(g, 1) {
						t.Fatalf("%s: output %d: root finder %g, closed form %g", name, i, g, w)
					}
					if math.IsInf(w, 1) {
						continue
					}
					spikes++
					d := math.Abs(g-w) / math.Max(1, math.Abs(w))
					worst = max(worst, d)
					if d > 1e-9 {
						t.Fatalf("%s: output %d: root finder %.15g, closed form %.15g (difference %.3g)", name, i, g, w, d)
					}
				}
				if spikes < len(want)/4 {
					t.Fatalf("%s: only %d of %d spikes", name, spikes, len(want))
				}
				t.Logf("%s: %d spikes, largest difference %.2g", name, spikes, worst)
			}
		}
	}
}

// FirstSpikesPop on the host-compiled kernels (one launch of dg_pert_rank
// and one of dg_pert_spike for the whole population) gives every member
// bss2model.FirstSpikes' times bit for bit, whatever the members' shapes;
// a second call on the same engine (reused buffers) too; the Go reference
// gives the same bits on 1 and 3 goroutines.
func TestFirstSpikesPopMatchesGo(t *testing.T) {
	eng := New()
	defer eng.Release()
	for round := 0; round < 3; round++ {
		rng := rand.New(rand.NewPCG(31, uint64(round)))
		ls := testnet.PerturbedMix(rng)
		if round == 2 {
			ls = ls[3:5] // fewer, smaller members after larger ones
		}
		want := make([][]float64, len(ls))
		for _, workers := range []int{1, 3} {
			if err := bss2model.FirstSpikes(ls, workers); err != nil {
				t.Fatal(err)
			}
			for m, l := range ls {
				if workers == 1 {
					want[m] = slices.Clone(l.Output)
				} else if !slices.EqualFunc(l.Output, want[m], sameBits) {
					t.Fatalf("round %d member %d: FirstSpikes on 3 goroutines differs from 1", round, m)
				}
			}
		}
		for _, l := range ls {
			for i := range l.Output {
				l.Output[i] = -7
			}
		}
		if err := eng.FirstSpikesPop(ls); err != nil {
			t.Fatal(err)
		}
		spikes, silent := 0, 0
		for m, l := range ls {
			for i, g := range l.Output {
				if !sameBits(g, want[m][i]) {
					t.Fatalf("round %d member %d output %d (sample %d, neuron %d): kernels %.17g, Go %.17g", round, m, i, i/l.Out, i%l.Out, g, want[m][i])
				}
				if math.IsInf(g, 1) {
					silent++
				} else {
					spikes++
				}
			}
		}
		t.Logf("round %d: %d members, %d spikes, %d silent", round, len(ls), spikes, silent)
		if spikes < 50 || silent < 20 {
			t.Fatalf("round %d: %d spikes and %d silent outputs: the test says too little", round, spikes, silent)
		}
	}
	if err := eng.FirstSpikesPop(nil); err != nil {
		t.Fatalf("empty population: %v", err)
	}
}

// A bad population is refused with an error that names the member and
// what is wrong, before anything is computed, by the kernels and the Go
// reference alike; no panic.
func TestFirstSpikesPopBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(l *batch.PerturbedLayer) *batch.PerturbedLayer
		want string
	}{
		{"nil layer", func(*batch.PerturbedLayer) *batch.PerturbedLayer { return nil }, "nil"},
		{"negative B", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.B = -1; return l }, "B >= 0"},
		{"no inputs", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.In = 0; return l }, "In >= 1"},
		{"short input", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.Input = l.Input[1:]; return l }, "input times"},
		{"short weights", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.W = l.W[:len(l.W)-1]; return l }, "weights"},
		{"weights without the bias rows", func(l *batch.PerturbedLayer) *batch.PerturbedLayer {
			l.BiasTimes = append(l.BiasTimes, 0.5)
			return l
		}, "weights"},
		{"short tau_mem", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.TauMem = l.TauMem[1:]; return l }, "tau_mem"},
		{"long theta", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.Theta = append(l.Theta, 1); return l }, "theta"},
		{"short output", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.Output = l.Output[1:]; return l }, "outputs"},
		{"axonal delays", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.AxonalDelays = []float64{1}; return l }, "axonal delays"},
		{"dendritic delays", func(l *batch.PerturbedLayer) *batch.PerturbedLayer {
			l.DendriticDelays = make([]float64, l.Out+1)
			return l
		}, "dendritic delays"},
		{"NaN input", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.Input[7] = math.NaN(); return l }, "input time 7"},
		{"-Inf input", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.Input[2] = math.Inf(-1); return l }, "input time 2"},
		{"NaN weight", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.W[3] = math.NaN(); return l }, "weight 3"},
		{"Inf bias time", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.BiasTimes[0] = math.Inf(1); return l }, "bias time 0"},
		{"NaN axonal delay", func(l *batch.PerturbedLayer) *batch.PerturbedLayer {
			l.AxonalDelays = make([]float64, l.In)
			l.AxonalDelays[1] = math.NaN()
			return l
		}, "axonal delay 1"},
		{"zero tau_mem", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.TauMem[1] = 0; return l }, "tau_mem of neuron 1"},
		{"NaN tau_syn", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.TauSyn[0] = math.NaN(); return l }, "tau_syn of neuron 0"},
		{"negative theta", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.Theta[2] = -1; return l }, "theta of neuron 2"},
		{"zero unit", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.Unit = 0; return l }, "unit"},
		{"infinite unit", func(l *batch.PerturbedLayer) *batch.PerturbedLayer { l.Unit = math.Inf(1); return l }, "unit"},
	}
	eng := New()
	defer eng.Release()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(41, 42))
			ls := []*batch.PerturbedLayer{
				testnet.Perturbed(rng, testnet.PerturbedSpec{B: 4, In: 5, Out: 3, Bias: 1, Spread: 0.2}),
				testnet.Perturbed(rng, testnet.PerturbedSpec{B: 3, In: 4, Out: 3, Bias: 1, Spread: 0.2}),
			}
			ls[1] = c.edit(ls[1])
			for _, l := range ls {
				if l != nil {
					for i := range l.Output {
						l.Output[i] = -7
					}
				}
			}
			for _, run := range []struct {
				name string
				f    func() error
			}{
				{"kernels", func() error { return eng.FirstSpikesPop(ls) }},
				{"Go", func() error { return bss2model.FirstSpikes(ls, 2) }},
			} {
				err := run.f()
				if err == nil {
					t.Fatalf("%s: accepted", run.name)
				}
				if !strings.Contains(err.Error(), "member 1") || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("%s: error %q does not name member 1 and %q", run.name, err, c.want)
				}
				for m, l := range ls {
					if l != nil && slices.ContainsFunc(l.Output, func(v float64) bool { return v != -7 }) {
						t.Fatalf("%s: member %d's outputs written despite the error", run.name, m)
					}
				}
			}
		})
	}
}

var _ batch.PerturbedEngine = (*kernels.Engine)(nil)

// BenchmarkFirstSpikes solves a population of perturbed layers shaped
// like a Yin-Yang hardware network's hidden layer on chips with 2%
// time-constant spreads (20 inputs of which 5% missing, 30 neurons, 150
// samples per chip, 10 chips), on the host-compiled kernels (one thread
// after another: the CPU device's launches are loops) and with the Go
// reference on one goroutine; it reports (sample, neuron) solves per
// second.
func BenchmarkFirstSpikes(b *testing.B) {
	rng := rand.New(rand.NewPCG(51, 52))
	const chips = 10
	ls := make([]*batch.PerturbedLayer, chips)
	for m := range ls {
		ls[m] = testnet.Perturbed(rng, testnet.PerturbedSpec{B: 150, In: 20, Out: 30, Axonal: true, Spread: 0.02, PInf: 0.05})
	}
	solves := 0
	for _, l := range ls {
		solves += l.B * l.Out
	}
	eng := New()
	defer eng.Release()
	for _, bc := range []struct {
		name string
		f    func() error
	}{
		{"host_kernels", func() error { return eng.FirstSpikesPop(ls) }},
		{"go_1_worker", func() error { return bss2model.FirstSpikes(ls, 1) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.f(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*solves)/b.Elapsed().Seconds(), "neuron-solves/s")
		})
	}
}
