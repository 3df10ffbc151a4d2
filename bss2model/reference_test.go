package bss2model

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// refSubstrate is the chip model written plainly, one chip at a time and
// one layer after the other, as the substrate was before chips became
// populations: the reference that ForwardPop is held to.
type refSubstrate struct {
	P         Params
	Engine    batch.Engine
	forceRoot bool
	lnet      batch.Network
	ltr       batch.Trace
	xin       []float64
	ev        []inputEvent
	ts, ws    []float64
}

// Forward runs net on chip for one batch, drawing the trial terms from rng.
func (s *refSubstrate) Forward(net *batch.Network, chip *Chip, input *tensor.Dense, tr *batch.Trace, rng *rand.Rand) error {
	b, _ := batch.CheckInput(net, input)
	in := input.Float64s()
	mux := max(net.Multiplex, 1)
	tr.Reshape(net, b)
	x := tr.Times[0].Float64s()
	clock := s.P.clockPeriod(net.Layers[0].Neuron.TauSyn)
	for i, t := range in {
		t = quantize(t, clock)
		for r := 0; r < mux; r++ {
			x[i*mux+r] = t
		}
	}
	for l := range net.Layers {
		if err := s.layer(&net.Layers[l], &chip.Layers[l], tr.Times[l].Float64s(), tr.Times[l+1].Float64s(), b, rng); err != nil {
			return err
		}
	}
	return nil
}

// layer draws one layer's terms and computes its observed times.
func (s *refSubstrate) layer(lay *batch.Layer, cl *ChipLayer, in, out []float64, b int, rng *rand.Rand) error {
	p := &s.P
	nIn, nOut, rows := lay.In, lay.Out, lay.Rows()
	nrn := lay.Neuron
	tau0 := nrn.TauSyn
	theta0 := nrn.Threshold - nrn.Leak
	thr := make([]float64, nOut)
	for k := range thr {
		th := theta0 + cl.ThresholdOffset[k]
		if p.ThresholdNoise > 0 {
			th += p.ThresholdNoise * rng.NormFloat64()
		}
		thr[k] = math.Max(th, 1e-3*theta0)
	}
	w := make([]float64, rows*nOut)
	for i, v := range lay.W() {
		w[i] = p.QuantizeWeight(v) * cl.Gain[i]
	}
	var d []float64
	if lay.Delays != nil {
		d = make([]float64, len(lay.D()))
		for i, v := range lay.D() {
			d[i] = p.RealiseDelay(v, tau0)
		}
	}
	s.xin = grow(s.xin, b*nIn)
	copy(s.xin, in)
	if lay.Delay == batch.Axonal && p.DelayJitter > 0 {
		for i := range s.xin {
			s.xin[i] += p.DelayJitter * rng.NormFloat64()
		}
	}
	ideal := !s.forceRoot
	for k := 0; k < nOut && ideal; k++ {
		ideal = cl.TauMem[k] == 1 && cl.TauSyn[k] == 1
	}
	if ideal {
		for r := 0; r < rows; r++ {
			for k := 0; k < nOut; k++ {
				w[r*nOut+k] *= theta0 / thr[k]
			}
		}
		eff := batch.Layer{In: lay.In, Out: nOut, Neuron: lay.Neuron, BiasTimes: lay.BiasTimes, Delay: lay.Delay}
		eff.Weights = tensor.New(tensor.WithShape(rows, nOut), tensor.WithBacking(w))
		if d != nil {
			eff.Delays = tensor.New(tensor.WithShape(lay.Delays.Shape()...), tensor.WithBacking(d))
		}
		s.lnet = batch.Network{Inputs: lay.In, Layers: []batch.Layer{eff}}
		x, err := batch.TimesFrom(b, lay.In, s.xin)
		if err != nil {
			return err
		}
		if err := s.Engine.Forward(&s.lnet, x, &s.ltr); err != nil {
			return err
		}
		copy(out, s.ltr.Output().Float64s())
	} else {
		for smp := 0; smp < b; smp++ {
			s.ev = s.ev[:0]
			for i, t := range s.xin[smp*nIn : (smp+1)*nIn] {
				if lay.Delay == batch.Axonal {
					t += d[i]
				}
				if t < math.Inf(1) {
					s.ev = append(s.ev, inputEvent{t, i})
				}
			}
			for j, t := range lay.BiasTimes {
				s.ev = append(s.ev, inputEvent{t, nIn + j})
			}
			slices.SortFunc(s.ev, func(a, b inputEvent) int {
				if c := cmp.Compare(a.t, b.t); c != 0 {
					return c
				}
				return cmp.Compare(a.row, b.row)
			})
			s.ts = grow(s.ts, len(s.ev))
			s.ws = grow(s.ws, len(s.ev))
			for m, e := range s.ev {
				s.ts[m] = e.t
			}
			for k := 0; k < nOut; k++ {
				for m, e := range s.ev {
					s.ws[m] = w[e.row*nOut+k]
				}
				mb := Membrane{TauMem: nrn.TauMem * cl.TauMem[k], TauSyn: nrn.TauSyn * cl.TauSyn[k], Unit: nrn.TauSyn, Theta: thr[k]}
				t := mb.FirstSpike(s.ts, s.ws)
				if lay.Delay == batch.Dendritic {
					t += d[k]
				}
				out[smp*nOut+k] = t
			}
		}
	}
	clock := p.clockPeriod(tau0)
	for i, t := range out {
		if lay.Delay == batch.Dendritic && p.DelayJitter > 0 {
			t += p.DelayJitter * rng.NormFloat64()
		}
		if p.SpikeJitter > 0 {
			t += p.SpikeJitter * rng.NormFloat64()
		}
		t = quantize(t, clock)
		if p.SpikeLoss > 0 && rng.Float64() < p.SpikeLoss {
			t = math.Inf(1)
		}
		out[i] = t
	}
	return nil
}

// TestPopulationMatchesReference: chips as a population give, bit for
// bit, the reference's times for each chip alone, and leave each chip's
// stream where the reference does; every term on and each alone, both
// regimes, every delay kind the chip realises, bias spikes, multiplexing,
// with and without the root finder.
func TestPopulationMatchesReference(t *testing.T) {
	for _, tc := range termCases {
		for ni, nc := range popNetCases {
			for _, force := range []bool{false, true} {
				p := Ideal()
				tc.set(&p)
				rng := rand.New(rand.NewPCG(21, uint64(ni)))
				const k = 4
				ns, xs, chips := popCase(rng, &p, nc, k, 10, 3)
				refs := make([]*batch.Trace, k)
				rrngs := make([]*rand.Rand, k)
				for m := range ns {
					ref := &refSubstrate{P: p, Engine: batch.NewCPU(1), forceRoot: force}
					refs[m] = &batch.Trace{}
					// Twice, to reuse the reference's scratch too.
					for rep := 0; rep < 2; rep++ {
						rrngs[m] = rand.New(rand.NewPCG(5, uint64(m)))
						if err := ref.Forward(ns[m], chips[m], xs[m], refs[m], rrngs[m]); err != nil {
							t.Fatal(err)
						}
					}
				}
				ms := popMembers(ns, chips, xs, 5)
				sub := &Substrate{P: p, Engine: batch.NewCPU(2), Workers: 3, forceRoot: force}
				if err := sub.ForwardPop(ms); err != nil {
					t.Fatal(err)
				}
				for m := range ms {
					for l := range refs[m].Times {
						a, b := ms[m].Trace.Times[l].Float64s(), refs[m].Times[l].Float64s()
						for i := range a {
							if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
								t.Fatalf("%s net %d force %v member %d times %d [%d]: population %v, reference %v", tc.name, ni, force, m, l, i, a[i], b[i])
							}
						}
					}
					// The streams are where the reference leaves them.
					if ms[m].Rng.Uint64() != rrngs[m].Uint64() {
						t.Fatalf("%s net %d force %v member %d: the stream is not where the reference leaves it", tc.name, ni, force, m)
					}
				}
			}
		}
	}
}
