package bss2model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

var cases = []struct {
	name   string
	tauMem float64
	kind   batch.DelayKind
	bias   int
	mux    int
}{
	{"equal_none", 1, batch.NoDelay, 0, 1},
	{"equal_axonal_mux", 1, batch.Axonal, 0, 5},
	{"equal_dendritic_bias", 1, batch.Dendritic, 1, 1},
	{"double_none_bias", 2, batch.NoDelay, 2, 1},
	{"double_axonal", 2, batch.Axonal, 0, 1},
	{"double_dendritic", 2, batch.Dendritic, 0, 2},
}

// With every term off the chip is the ideal engine, to the last bit.
func TestIdealIsEngine(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			net := randNet(rng, c.tauMem, c.kind, c.bias, c.mux, 4, 12, 3)
			x := randInput(rng, 40, 4)
			want := engineTrace(t, net, x)
			got := chipTrace(t, Ideal(), net, nil, x, rng)
			for l := range want.Times {
				if !slices.Equal(got.Times[l].Float64s(), want.Times[l].Float64s()) {
					t.Fatalf("layer %d: chip times differ from the engine's", l)
				}
			}
		})
	}
}

// The root finder agrees with the closed forms where both apply: every
// neuron at its nominal time constants, with threshold offsets, gains and
// 6-bit weights on, the whole layer through either path.
func TestRootFinderMatchesClosedForms(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			net := randNet(rng, c.tauMem, c.kind, c.bias, c.mux, 4, 15, 3)
			x := randInput(rng, 60, 4)
			p := Ideal()
			p.ThresholdOffsetStd, p.GainStd, p.WeightScale, p.WeightMax = 0.1, 0.1, 30, 63
			chip := NewChip(&p, net, rng)
			run := func(force bool) *batch.Trace {
				sub := &Substrate{P: p, Engine: batch.NewCPU(1), forceRoot: force}
				var tr batch.Trace
				if err := sub.Forward(net, chip, x, &tr, rand.New(rand.NewPCG(1, 1))); err != nil {
					t.Fatal(err)
				}
				return &tr
			}
			want, got := run(false), run(true)
			spikes := 0
			for l := 1; l < len(want.Times); l++ {
				worst := sameTimes(t, "layer output", got.Times[l].Float64s(), want.Times[l].Float64s(), 1e-9)
				t.Logf("layer %d: largest relative difference %.2g", l-1, worst)
				for _, v := range want.Times[l].Float64s() {
					if !math.IsInf(v, 1) {
						spikes++
					}
				}
			}
			if spikes < 100 {
				t.Fatalf("only %d spikes: the test network is too quiet to test anything", spikes)
			}
		})
	}
}

// Membrane's three evaluation paths (equal taus, two running sums, term
// by term) join continuously: a tiny tau difference moves the spike by a
// tiny amount.
func TestMembraneContinuity(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		n := 3 + rng.IntN(10)
		ts := make([]float64, n)
		ws := make([]float64, n)
		for i := range ts {
			ts[i] = 2 * rng.Float64()
			ws[i] = 0.2 + 0.6*rng.Float64()
		}
		slices.Sort(ts)
		base := Membrane{TauMem: 1, TauSyn: 1, Unit: 1, Theta: 1}
		t0 := base.FirstSpike(ts, ws)
		for _, eps := range []float64{1e-9, 1e-6, 1e-3} {
			m := base
			m.TauMem = 1 + eps
			t1 := m.FirstSpike(ts, ws)
			if math.IsInf(t0, 1) != math.IsInf(t1, 1) {
				if math.IsInf(t0, 1) {
					continue // a grazing neuron may start to spike
				}
				t.Fatalf("trial %d: tau_m 1+%g: spike %g vs %g", trial, eps, t1, t0)
			}
			if d := math.Abs(t1 - t0); d > 100*eps {
				t.Fatalf("trial %d: tau_m 1+%g moves the spike by %g", trial, eps, d)
			}
		}
	}
}

// A spike of the perturbed membrane really is a threshold crossing: the
// potential there equals theta, and stays below it before.
func TestMembraneCrossing(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	found := 0
	for trial := 0; trial < 300; trial++ {
		m := Membrane{TauMem: 0.5 + 2*rng.Float64(), TauSyn: 0.5 + rng.Float64(), Unit: 1, Theta: 0.5 + rng.Float64()}
		n := 2 + rng.IntN(12)
		ts := make([]float64, n)
		ws := make([]float64, n)
		for i := range ts {
			ts[i] = 3 * rng.Float64()
			ws[i] = 1.5 * (rng.Float64() - 0.3)
		}
		slices.Sort(ts)
		u := func(t float64) float64 {
			s := 0.0
			for i, ti := range ts {
				if x := t - ti; x > 0 {
					k := 1/m.TauSyn - 1/m.TauMem
					s += ws[i] * (math.Exp(-x/m.TauMem) - math.Exp(-x/m.TauSyn)) / (m.Unit * k)
				}
			}
			return s
		}
		ts0 := m.FirstSpike(ts, ws)
		if math.IsInf(ts0, 1) {
			for x := 0.0; x < 30; x += 0.01 {
				if u(x) > m.Theta*(1+1e-9) {
					t.Fatalf("trial %d: no spike found, but u(%g) = %g > theta %g", trial, x, u(x), m.Theta)
				}
			}
			continue
		}
		found++
		if d := math.Abs(u(ts0) - m.Theta); d > 1e-9 {
			t.Fatalf("trial %d: u(t*) - theta = %g", trial, d)
		}
		for x := 0.0; x < ts0-1e-6; x += 0.005 {
			if u(x) >= m.Theta {
				t.Fatalf("trial %d: u(%g) = %g >= theta before the spike at %g", trial, x, u(x), ts0)
			}
		}
	}
	if found < 50 {
		t.Fatalf("only %d of 300 membranes spiked", found)
	}
}

// Each term alone moves the output the way it should.
func TestTermsAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	net := randNet(rng, 1, batch.Axonal, 0, 1, 6, 20)
	for i := range net.Layers[0].D() {
		net.Layers[0].D()[i] = 2 + 1.5*rng.Float64()
	}
	x := randInput(rng, 50, 6)
	ideal := engineTrace(t, net, x).Output().Float64s()

	t.Run("higher threshold never earlier", func(t *testing.T) {
		for _, off := range []float64{0.01, 0.1, 0.5} {
			p := Ideal()
			p.ThresholdOffsetMean = off
			got := chipTrace(t, p, net, nil, x, rng).Output().Float64s()
			later := 0
			for i := range got {
				if got[i] < ideal[i] {
					t.Fatalf("offset %g: neuron spikes earlier (%g < %g)", off, got[i], ideal[i])
				}
				if got[i] > ideal[i] {
					later++
				}
			}
			if later == 0 {
				t.Fatalf("offset %g changed nothing", off)
			}
		}
	})
	t.Run("lower threshold never later", func(t *testing.T) {
		p := Ideal()
		p.ThresholdOffsetMean = -0.1
		got := chipTrace(t, p, net, nil, x, rng).Output().Float64s()
		earlier := 0
		for i := range got {
			if got[i] > ideal[i] {
				t.Fatalf("neuron spikes later (%g > %g)", got[i], ideal[i])
			}
			if got[i] < ideal[i] {
				earlier++
			}
		}
		if earlier == 0 {
			t.Fatal("a lower threshold changed nothing")
		}
	})
	// A longer synaptic or membrane time constant makes every PSP larger
	// (the weight sets the charge), so with excitatory weights spikes come
	// earlier; shorter, later.
	exc := cloneNet(net)
	for i, w := range exc.Layers[0].W() {
		exc.Layers[0].W()[i] = 0.7 * math.Abs(w)
	}
	excIdeal := engineTrace(t, exc, x).Output().Float64s()
	for _, tc := range []struct {
		name     string
		mem, syn float64
		earlier  bool
	}{{"longer tau_syn", 1, 1.1, true}, {"shorter tau_syn", 1, 0.9, false},
		{"longer tau_mem", 1.1, 1, true}, {"shorter tau_mem", 0.9, 1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			p := Ideal()
			chip := NewChip(&p, exc, rng)
			for k := range chip.Layers[0].TauMem {
				chip.Layers[0].TauMem[k], chip.Layers[0].TauSyn[k] = tc.mem, tc.syn
			}
			got := chipTrace(t, p, exc, chip, x, rng).Output().Float64s()
			moved := 0
			for i := range got {
				if (tc.earlier && got[i] > excIdeal[i]) || (!tc.earlier && got[i] < excIdeal[i]) {
					t.Fatalf("element %d: %g against the ideal %g", i, got[i], excIdeal[i])
				}
				if got[i] != excIdeal[i] {
					moved++
				}
			}
			if moved < len(got)/4 {
				t.Fatalf("only %d of %d spikes moved", moved, len(got))
			}
		})
	}
	t.Run("quantised weights", func(t *testing.T) {
		p := Ideal()
		p.WeightScale, p.WeightMax = 30, 63
		for _, w := range []float64{-5, -2.1, -1.234, -0.01, 0, 0.0166, 0.5, 1.999, 2.2, 7} {
			q := p.QuantizeWeight(w)
			if math.Abs(q) > 2.1+1e-12 {
				t.Fatalf("w %g -> %g: outside +-2.1", w, q)
			}
			if u := q * 30; math.Abs(u-math.Round(u)) > 1e-9 {
				t.Fatalf("w %g -> %g: not a multiple of 1/30", w, q)
			}
			if math.Abs(w) <= 2.1 && math.Abs(q-w) > 1/60.+1e-12 {
				t.Fatalf("w %g -> %g: more than half a step away", w, q)
			}
		}
		sameAsEngineOn(t, "6-bit weights", p, nil, net, x, rng, func(q *batch.Network) {
			for i, w := range q.Layers[0].W() {
				q.Layers[0].W()[i] = p.QuantizeWeight(w)
			}
		})
	})
	t.Run("gain scales weights", func(t *testing.T) {
		p := Ideal()
		p.GainStd = 0.05
		chip := NewChip(&p, net, rng)
		got := sameAsEngineOn(t, "synapse gains", p, chip, net, x, rng, func(g *batch.Network) {
			for i := range g.Layers[0].W() {
				g.Layers[0].W()[i] *= chip.Layers[0].Gain[i]
			}
		})
		if slices.Equal(got, ideal) {
			t.Fatal("gains changed nothing")
		}
	})
	t.Run("delay neurons", func(t *testing.T) {
		p := Ideal()
		p.DelayOffsetUS, p.DelayRegisterPerUS, p.DelayRegisterMin, p.DelayRegisterMax = 2, 8, 50, 250
		step := 1.0 / (8 * 6) // one register unit in tau_syn
		for _, d := range []float64{0, 1, 2, 2.01, 2.5, 3.49, 3.5, 9} {
			r := p.RealiseDelay(d, 1)
			if r < 1.375-1e-12 || r > (250./8+2)/6+1e-12 {
				t.Fatalf("delay %g -> %g: outside the register range", d, r)
			}
			if k := (r*6 - 2) * 8; math.Abs(k-math.Round(k)) > 1e-9 {
				t.Fatalf("delay %g -> %g: not on the register grid", d, r)
			}
			if d >= 1.375 && d <= 5.5 && math.Abs(r-d) > step/2+1e-12 {
				t.Fatalf("delay %g -> %g: more than half a register step away", d, r)
			}
		}
		sameAsEngineOn(t, "delay neurons", p, nil, net, x, rng, func(q *batch.Network) {
			for i, d := range q.Layers[0].D() {
				q.Layers[0].D()[i] = p.RealiseDelay(d, 1)
			}
		})
	})
	t.Run("clock", func(t *testing.T) {
		p := Ideal()
		p.ClockMHz = 125
		period := 1 / (125 * 6.0)
		got := chipTrace(t, p, net, nil, x, rng).Output().Float64s()
		for i, v := range got {
			if math.IsInf(v, 1) {
				continue
			}
			if k := v / period; math.Abs(k-math.Round(k)) > 1e-6 {
				t.Fatalf("time %g is not on the clock grid", v)
			}
			if math.Abs(v-ideal[i]) > 3*period { // input rounding moves it too
				t.Fatalf("time %g is %g from the ideal %g", v, v-ideal[i], ideal[i])
			}
		}
	})
	t.Run("threshold noise per batch", func(t *testing.T) {
		p := Ideal()
		p.ThresholdNoise = 0.04
		a := chipTrace(t, p, net, nil, x, rand.New(rand.NewPCG(1, 1))).Output().Float64s()
		b := chipTrace(t, p, net, nil, x, rand.New(rand.NewPCG(1, 1))).Output().Float64s()
		c := chipTrace(t, p, net, nil, x, rand.New(rand.NewPCG(1, 2))).Output().Float64s()
		if !slices.Equal(a, b) {
			t.Fatal("same rng, different trial")
		}
		if slices.Equal(a, c) {
			t.Fatal("another rng, the same trial")
		}
	})
	t.Run("jitter", func(t *testing.T) {
		p := Ideal()
		p.DelayJitter = 0.01
		got := chipTrace(t, p, net, nil, x, rng).Output().Float64s()
		moved, far, spikes := 0, 0, 0
		for i := range got {
			if math.IsInf(got[i], 1) || math.IsInf(ideal[i], 1) {
				continue
			}
			spikes++
			// A neuron that grazes its threshold may jump far; most move
			// by about the jitter.
			if d := math.Abs(got[i] - ideal[i]); d > 0.1 {
				far++
			} else if d > 0 {
				moved++
			}
		}
		if moved < spikes/2 || far > spikes/20 {
			t.Fatalf("of %d spikes jitter moved %d a little and %d by more than 0.1", spikes, moved, far)
		}
	})
	t.Run("spike loss", func(t *testing.T) {
		p := Ideal()
		p.SpikeLoss = 0.2
		got := chipTrace(t, p, net, nil, x, rng).Output().Float64s()
		lost, spikes := 0, 0
		for i := range got {
			if !math.IsInf(ideal[i], 1) {
				spikes++
				if math.IsInf(got[i], 1) {
					lost++
				}
			}
		}
		if f := float64(lost) / float64(spikes); f < 0.15 || f > 0.25 {
			t.Fatalf("lost %d of %d spikes (%.3f), want about 0.2", lost, spikes, f)
		}
	})
	t.Run("tau spread", func(t *testing.T) {
		p := Ideal()
		p.TauSynStd = 0.05
		got := chipTrace(t, p, net, nil, x, rng).Output().Float64s()
		if slices.Equal(got, ideal) {
			t.Fatal("a tau spread changed nothing")
		}
	})
}

func TestSameSeedSameChips(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	net := randNet(rng, 1, batch.Axonal, 0, 5, 4, 10, 3)
	x := randInput(rng, 100, 4)
	labels := make([]int, 100)
	for i := range labels {
		labels[i] = rng.IntN(3)
	}
	p := Defaults()
	p.TauMemStd, p.SpikeJitter = 0.02, 0.01
	a, err := Evaluate(net, p, x, labels, EvalOptions{Chips: 7, Seed: 3, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(net, p, x, labels, EvalOptions{Chips: 5, Seed: 3, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	same := func(x, y []ChipResult) bool {
		return slices.EqualFunc(x, y, func(p, q ChipResult) bool {
			return p.Chip == q.Chip && p.Accuracy == q.Accuracy && p.Silent == q.Silent &&
				(p.MeanLabelTime == q.MeanLabelTime || (math.IsNaN(p.MeanLabelTime) && math.IsNaN(q.MeanLabelTime)))
		})
	}
	if !same(a[:5], b) {
		t.Fatalf("the same seed gave other chips:\n%v\n%v", a[:5], b)
	}
	c, err := Evaluate(net, p, x, labels, EvalOptions{Chips: 5, Seed: 4, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if same(c, b) {
		t.Fatal("another seed gave the same chips")
	}
}

func TestBadInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	net := randNet(rng, 1, batch.Synaptic, 0, 1, 4, 5, 3)
	x := randInput(rng, 3, 4)
	if _, err := Evaluate(net, Defaults(), x, []int{0, 1, 2}, EvalOptions{Chips: 1, Workers: 1}); err == nil {
		t.Fatal("synaptic delays accepted")
	}
	net = randNet(rng, 1, batch.Axonal, 0, 1, 4, 5, 3)
	if _, err := Evaluate(net, Defaults(), x, []int{0, 1, 3}, EvalOptions{Chips: 1, Workers: 1}); err == nil {
		t.Fatal("label out of range accepted")
	}
	if _, err := Evaluate(net, Defaults(), x, []int{0, 1, 2}, EvalOptions{Chips: 0, Workers: 1}); err == nil {
		t.Fatal("zero chips accepted")
	}
	bad := Defaults()
	bad.ThresholdNoise = -1
	if err := bad.Validate(); err == nil {
		t.Fatal("negative threshold noise accepted")
	}
	bad = Defaults()
	bad.TrainChip = "all"
	if err := bad.Validate(); err == nil {
		t.Fatal("bad train_chip accepted")
	}
	if _, err := Evaluate(net, Defaults(), batch.NewTimes(1, 4), []int{}, EvalOptions{Chips: 1, Workers: 1}); err == nil {
		t.Fatal("a label count that does not match the samples accepted")
	}
	eps := randNet(rng, 1, batch.Axonal, 0, 1, 4, 5, 3)
	eps.Layers[0].Neuron.Eps = 1e-6
	if _, err := Evaluate(eps, Defaults(), x, []int{0, 1, 2}, EvalOptions{Chips: 1, Workers: 1}); err == nil {
		t.Fatal("eps accepted")
	}
	sub, _ := NewSubstrate(Defaults(), batch.NewCPU(1))
	if err := sub.Forward(net, NewChip(&sub.P, net, rng), x, nil, rng); err == nil {
		t.Fatal("nil trace accepted")
	}
	x.Float64s()[2] = math.NaN()
	if _, err := Evaluate(net, Defaults(), x, []int{0, 1, 2}, EvalOptions{Chips: 1, Workers: 1}); err == nil {
		t.Fatal("NaN input accepted")
	}
}

func TestSummarize(t *testing.T) {
	var res []ChipResult
	for i := 0; i < 101; i++ {
		res = append(res, ChipResult{Chip: i, Accuracy: float64(100-i) / 100})
	}
	s := Summarize(res)
	if math.Abs(s.Mean-0.5) > 1e-12 || s.Min != 0 || s.Max != 1 || math.Abs(s.Median-0.5) > 1e-12 || math.Abs(s.P5-0.05) > 1e-12 {
		t.Fatalf("summary %+v", s)
	}
	if math.Abs(s.Std-0.29300170647967224) > 1e-9 {
		t.Fatalf("std %v", s.Std)
	}
}
