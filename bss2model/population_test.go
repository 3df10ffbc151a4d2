package bss2model

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// termCases switch on every term of the chip model, and each alone.
var termCases = []struct {
	name string
	set  func(p *Params)
}{
	{"all", func(p *Params) {
		*p = Defaults()
		p.TauMemStd, p.TauSynStd, p.SpikeJitter, p.SpikeLoss = 0.03, 0.02, 0.01, 0.02
	}},
	{"defaults", func(p *Params) { *p = Defaults() }},
	{"weights", func(p *Params) { p.WeightScale, p.WeightMax = 30, 63 }},
	{"threshold_offset", func(p *Params) { p.ThresholdOffsetMean, p.ThresholdOffsetStd = 0.13, 0.08 }},
	{"threshold_noise", func(p *Params) { p.ThresholdNoise = 0.04 }},
	{"delay_jitter", func(p *Params) { p.DelayJitter = 0.01 }},
	{"delay_registers", func(p *Params) { p.DelayRegisterPerUS, p.DelayRegisterMin, p.DelayRegisterMax = 8, 50, 250 }},
	{"gain", func(p *Params) { p.GainStd = 0.05 }},
	{"clock", func(p *Params) { p.ClockMHz = 125 }},
	{"spike_jitter", func(p *Params) { p.SpikeJitter = 0.02 }},
	{"spike_loss", func(p *Params) { p.SpikeLoss = 0.05 }},
	{"tau_spread", func(p *Params) { p.TauMemStd, p.TauSynStd = 0.03, 0.02 }},
}

// popNetCases are the network kinds the population tests run: both
// regimes, axonal and dendritic delays, bias spikes and multiplexing.
var popNetCases = []popNetCase{
	{"equal_axonal_mux", 1, batch.Axonal, 0, 5},
	{"equal_dendritic_bias", 1, batch.Dendritic, 1, 1},
	{"double_none_bias", 2, batch.NoDelay, 2, 1},
	{"double_axonal_bias", 2, batch.Axonal, 2, 2},
}

// popNetCase is a kind of network for popNets.
type popNetCase struct {
	name   string
	tauMem float64
	kind   batch.DelayKind
	bias   int
	mux    int
}

// popCase draws k networks of nc's kind (popNets) and then, member by
// member, a batch of b0 + db*m samples and a chip of p.
func popCase(rng *rand.Rand, p *Params, nc popNetCase, k, b0, db int) ([]*batch.Network, []*tensor.Dense, []*Chip) {
	ns := popNets(rng, k, nc.tauMem, nc.kind, nc.bias, nc.mux)
	xs := make([]*tensor.Dense, k)
	chips := make([]*Chip, k)
	for m := range ns {
		xs[m] = randInput(rng, b0+db*m, 4)
		chips[m] = NewChip(p, ns[m], rng)
	}
	return ns, xs, chips
}

// popMembers returns the members ns on chips with inputs xs, each with a
// new trace and member m's stream PCG(seed, m).
func popMembers(ns []*batch.Network, chips []*Chip, xs []*tensor.Dense, seed uint64) []Member {
	ms := make([]Member, len(ns))
	for m := range ms {
		ms[m] = Member{Net: ns[m], Chip: chips[m], Input: xs[m], Trace: &batch.Trace{}, Rng: rand.New(rand.NewPCG(seed, uint64(m)))}
	}
	return ms
}

// popNets returns k networks of one shape with their own weights and
// delays (delays in the delay neurons' range).
func popNets(rng *rand.Rand, k int, tauMem float64, kind batch.DelayKind, bias, mux int) []*batch.Network {
	base := randNet(rng, tauMem, kind, bias, mux, 4, 12, 3)
	nets := make([]*batch.Network, k)
	for m := range nets {
		nets[m] = cloneNet(base)
		for l := range nets[m].Layers {
			lay := &nets[m].Layers[l]
			for i := range lay.W() {
				lay.W()[i] *= 1 + 0.1*rng.NormFloat64()
			}
			if lay.Delays != nil {
				for i := range lay.D() {
					lay.D()[i] = 0.5 + 2.5*rng.Float64()
				}
			}
		}
	}
	return nets
}

// Chips as a population give every member, bit for bit, what the member's
// chip gives alone: every term of the model on and each alone, members with
// their own networks, chips and batch sizes, on engines of 1 and 3 workers
// and 1 or 4 goroutines for the terms.
func TestPopulationMatchesOneByOne(t *testing.T) {
	for _, tc := range termCases {
		for _, nc := range popNetCases {
			t.Run(tc.name+"/"+nc.name, func(t *testing.T) {
				p := Ideal()
				tc.set(&p)
				rng := rand.New(rand.NewPCG(21, 22))
				const k = 5
				ns, xs, chips := popCase(rng, &p, nc, k, 20, 7)
				want := make([]*batch.Trace, k)
				for m := range ns {
					sub := &Substrate{P: p, Engine: batch.NewCPU(1), Workers: 1}
					want[m] = &batch.Trace{}
					if err := sub.Forward(ns[m], chips[m], xs[m], want[m], rand.New(rand.NewPCG(5, uint64(m)))); err != nil {
						t.Fatal(err)
					}
				}
				spikes := 0
				for _, v := range want[k-1].Output().Float64s() {
					if !math.IsInf(v, 1) {
						spikes++
					}
				}
				if spikes < 10 {
					t.Fatalf("only %d output spikes: the test network is too quiet", spikes)
				}
				for _, cfg := range []struct{ engine, workers int }{{1, 1}, {3, 4}} {
					sub := &Substrate{P: p, Engine: batch.NewCPU(cfg.engine), Workers: cfg.workers}
					ms := popMembers(ns, chips, xs, 5)
					for pass := 0; pass < 2; pass++ { // the second reuses the scratch
						for m := range ms {
							ms[m].Rng = rand.New(rand.NewPCG(5, uint64(m)))
						}
						if err := sub.ForwardPop(ms); err != nil {
							t.Fatal(err)
						}
						for m := range ms {
							for l := range want[m].Times {
								if !slices.Equal(ms[m].Trace.Times[l].Float64s(), want[m].Times[l].Float64s()) {
									t.Fatalf("engine %d workers, %d goroutines, pass %d: member %d, times %d differ from the member alone",
										cfg.engine, cfg.workers, pass, m, l)
								}
							}
						}
					}
				}
			})
		}
	}
}

// Evaluate gives the same result per chip whatever the group size, the
// engine's workers or the goroutines.
func TestEvaluateGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	net := randNet(rng, 1, batch.Axonal, 0, 5, 4, 10, 3)
	for i := range net.Layers[0].D() {
		net.Layers[0].D()[i] = 2 + 1.5*rng.Float64()
	}
	x := randInput(rng, 60, 4)
	labels := make([]int, 60)
	for i := range labels {
		labels[i] = rng.IntN(3)
	}
	p := Defaults()
	p.TauMemStd, p.SpikeJitter, p.SpikeLoss = 0.02, 0.01, 0.01
	const chips = 11
	want, err := Evaluate(net, p, x, labels, EvalOptions{Chips: chips, Seed: 7, Workers: 1, Group: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []EvalOptions{
		{Group: 3, Workers: 1}, {Group: 0, Workers: 2}, {Group: chips, Workers: 3},
		{Group: 4, Workers: 2, Engine: batch.NewCPU(1)},
	} {
		opt.Chips, opt.Seed = chips, 7
		got, err := Evaluate(net, p, x, labels, opt)
		if err != nil {
			t.Fatal(err)
		}
		if !sameResults(got, want) {
			t.Fatalf("group %d, %d workers: results differ from one chip at a time:\n%v\n%v", opt.Group, opt.Workers, got, want)
		}
	}
}

func sameResults(x, y []ChipResult) bool {
	return slices.EqualFunc(x, y, func(p, q ChipResult) bool {
		return p.Chip == q.Chip && p.Accuracy == q.Accuracy && p.Silent == q.Silent &&
			(p.MeanLabelTime == q.MeanLabelTime || (math.IsNaN(p.MeanLabelTime) && math.IsNaN(q.MeanLabelTime)))
	})
}

// A population call with members that cannot run together is refused
// with a message naming the member.
func TestPopulationBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	p := Defaults()
	ns := popNets(rng, 2, 1, batch.Axonal, 0, 1)
	other := randNet(rng, 1, batch.Axonal, 0, 1, 4, 7, 3)
	x := randInput(rng, 5, 4)
	r1, r2 := rand.New(rand.NewPCG(1, 1)), rand.New(rand.NewPCG(1, 2))
	tr1, tr2 := &batch.Trace{}, &batch.Trace{}
	m := func(net *batch.Network, tr *batch.Trace, r *rand.Rand) Member {
		return Member{Net: net, Chip: NewChip(&p, net, rng), Input: x, Trace: tr, Rng: r}
	}
	for _, c := range []struct {
		name string
		ms   []Member
		want string
	}{
		{"empty", nil, "no members"},
		{"shape", []Member{m(ns[0], tr1, r1), m(other, tr2, r2)}, "member 1: not of member 0's shape"},
		{"rng", []Member{m(ns[0], tr1, r1), m(ns[1], tr2, r1)}, "share a random generator"},
		{"trace", []Member{m(ns[0], tr1, r1), m(ns[1], tr1, r2)}, "share a trace"},
		{"chip", []Member{m(ns[0], tr1, r1), {Net: ns[1], Chip: NewChip(&p, other, rng), Input: x, Trace: tr2, Rng: r2}}, "member 1: bss2model: chip layer 0"},
		{"nil", []Member{m(ns[0], tr1, r1), {Net: ns[1]}}, "member 1: forward needs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := &Substrate{P: p, Engine: batch.NewCPU(1)}
			err := sub.ForwardPop(c.ms)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}
