package bss2model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// Substrate runs networks on simulated chips. Its unit of work is a
// population (ForwardPop): many chips, each with its own network, batch
// and trial-to-trial stream, in one batched pass per layer on Engine;
// Forward is the population of one. It keeps scratch buffers between
// calls and is not safe for concurrent use: give every goroutine its own.
type Substrate struct {
	// P holds the terms of the chip model.
	P Params
	// Engine computes the layers whose neurons keep the ideal ratio of time
	// constants (a threshold offset or a gain is a rescaling of the weights
	// there, so the closed forms still hold), as population passes; other
	// layers go through the root finder (FirstSpikesOn: the engine's
	// device where it has one, else Membrane on goroutines).
	Engine batch.Engine
	// Workers is the number of goroutines that draw the members' terms and
	// run the root finder (0: GOMAXPROCS). The results do not depend on it.
	Workers int

	// forceRoot sends every layer through the root finder (tests).
	forceRoot bool

	ms []memberState
}

// Member is one network on one chip in a population pass: its own batch
// of input times (B x Net.Inputs), the trace its observed times go to and
// the stream its trial-to-trial terms are drawn from. Members never share
// a stream, so a member's times do not depend on the others.
type Member struct {
	Net   *batch.Network
	Chip  *Chip
	Input *tensor.Dense
	Trace *batch.Trace
	Rng   *rand.Rand
}

// memberState is a member's scratch for one layer.
type memberState struct {
	b     int
	ideal bool
	thr   []float64
	w, d  []float64
	// xin is the layer's input times: the trace's, or jit with the
	// axonal delay jitter added (only jit is written).
	xin, jit []float64
	lnet     batch.Network
	x        *tensor.Dense
	// ltrs[l] is layer l's one-layer trace (one per layer, so that
	// layers of other shapes do not reallocate each other's).
	ltrs []batch.Trace
	// pl is the layer for the root finder where the neurons have their own
	// time constants (tauM, tauS).
	pl         batch.PerturbedLayer
	tauM, tauS []float64
}

// NewSubstrate returns a substrate for the model p on engine eng.
func NewSubstrate(p Params, eng batch.Engine) (*Substrate, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if eng == nil {
		return nil, fmt.Errorf("bss2model: engine is nil")
	}
	return &Substrate{P: p, Engine: eng}, nil
}

// Check reports whether the chip can run net: BrainScaleS-2 realises delays
// with delay neurons, one per spike source, so axonal and dendritic delays
// fit and synaptic ones (one per synapse) do not.
func Check(net *batch.Network) error {
	if err := net.Validate(); err != nil {
		return fmt.Errorf("bss2model: %w", err)
	}
	for l := range net.Layers {
		if net.Layers[l].Neuron.Eps != 0 {
			return fmt.Errorf("bss2model: layer %d uses the reference's eps term, which the chip model does not include: set eps to 0", l)
		}
		if net.Layers[l].Delay == batch.Synaptic {
			return fmt.Errorf("bss2model: layer %d has synaptic delays, which BrainScaleS-2 cannot realise (one delay neuron per spike source): use axonal or dendritic delays", l)
		}
	}
	return nil
}

// Forward runs net on chip for a batch of input spike times (B x
// net.Inputs, +Inf = no spike) and writes the observed spike times into tr,
// laid out as batch.Engine.Forward does (Times[0] the multiplexed input as
// the chip receives it, Times[l+1] the observed output of layer l). The
// trial-to-trial terms are drawn from rng in a fixed order. It is
// ForwardPop with one member.
func (s *Substrate) Forward(net *batch.Network, chip *Chip, input *tensor.Dense, tr *batch.Trace, rng *rand.Rand) error {
	if tr == nil || rng == nil {
		return fmt.Errorf("bss2model: forward needs a trace, a random generator and an engine")
	}
	return s.ForwardPop([]Member{{Net: net, Chip: chip, Input: input, Trace: tr, Rng: rng}})
}

// ForwardPop runs every member's network on its chip, as Forward does for
// each alone, bit for bit: layer by layer, the members' terms are drawn
// (each from its own stream, in Forward's order), the members whose layer
// keeps the nominal time constants run as one population pass on Engine
// (batch.ForwardPop), the others through the root finder, and then each
// member's observation terms are drawn. The members must share a shape
// (batch.SameShape); their parameters, chips and batches may differ.
func (s *Substrate) ForwardPop(ms []Member) error {
	if s.Engine == nil {
		return fmt.Errorf("bss2model: forward needs an engine")
	}
	if err := s.checkPop(ms); err != nil {
		return err
	}
	if cap(s.ms) < len(ms) {
		s.ms = append(s.ms[:cap(s.ms)], make([]memberState, len(ms)-cap(s.ms))...)
	}
	st := s.ms[:len(ms)]
	clock := s.P.clockPeriod(ms[0].Net.Layers[0].Neuron.TauSyn)
	_ = s.parallel(len(ms), func(m int) error { // cannot fail
		mb := &ms[m]
		b := mb.Input.Shape()[0]
		st[m].b = b
		if len(st[m].ltrs) < len(mb.Net.Layers) {
			st[m].ltrs = make([]batch.Trace, len(mb.Net.Layers))
		}
		mux := max(mb.Net.Multiplex, 1)
		mb.Trace.Reshape(mb.Net, b)
		x := mb.Trace.Times[0].Float64s()
		for i, t := range mb.Input.Float64s() {
			t = quantize(t, clock)
			for r := 0; r < mux; r++ {
				x[i*mux+r] = t
			}
		}
		return nil
	})
	var nets []*batch.Network
	var pls []*batch.PerturbedLayer
	var xs []*tensor.Dense
	var trs []*batch.Trace
	for l := range ms[0].Net.Layers {
		if err := s.parallel(len(ms), func(m int) error { return s.prepare(&st[m], &ms[m], l) }); err != nil {
			return fmt.Errorf("bss2model: layer %d: %w", l, err)
		}
		nets, xs, trs, pls = nets[:0], xs[:0], trs[:0], pls[:0]
		for m := range st {
			if st[m].ideal {
				nets, xs, trs = append(nets, &st[m].lnet), append(xs, st[m].x), append(trs, &st[m].ltrs[l])
			} else {
				pls = append(pls, &st[m].pl)
			}
		}
		if len(nets) > 0 {
			if err := batch.ForwardPop(s.Engine, nets, xs, trs); err != nil {
				return fmt.Errorf("bss2model: layer %d: %w", l, err)
			}
		}
		if len(pls) > 0 {
			if err := FirstSpikesOn(s.Engine, pls, s.Workers); err != nil {
				return fmt.Errorf("bss2model: layer %d: %w", l, err)
			}
		}
		_ = s.parallel(len(ms), func(m int) error { // cannot fail
			lay, out := &ms[m].Net.Layers[l], ms[m].Trace.Times[l+1].Float64s()
			if st[m].ideal {
				copy(out, st[m].ltrs[l].Output().Float64s())
			}
			s.observe(lay, out, ms[m].Rng)
			return nil
		})
	}
	return nil
}

// CheckMember reports whether m can run on the substrate, as ForwardPop
// checks each member before it draws any term.
func (s *Substrate) CheckMember(m Member) error { return s.checkPop([]Member{m}) }

// checkPop checks a population call: every member complete, realisable,
// of member 0's shape, with its chip drawn for its network, its own
// random stream and a valid batch.
func (s *Substrate) checkPop(ms []Member) error {
	if len(ms) == 0 {
		return fmt.Errorf("bss2model: population has no members")
	}
	rngs := make(map[*rand.Rand]int, len(ms))
	trs := make(map[*batch.Trace]int, len(ms))
	for m := range ms {
		mb := &ms[m]
		name := ""
		if len(ms) > 1 {
			name = fmt.Sprintf("member %d: ", m)
		}
		if mb.Net == nil || mb.Trace == nil || mb.Rng == nil || mb.Input == nil {
			return fmt.Errorf("bss2model: %sforward needs a network, input times, a trace and a random generator", name)
		}
		if err := Check(mb.Net); err != nil {
			return fmt.Errorf("%s%w", name, err)
		}
		if err := mb.Chip.check(mb.Net); err != nil {
			return fmt.Errorf("%s%w", name, err)
		}
		if _, err := batch.CheckInput(mb.Net, mb.Input); err != nil {
			return fmt.Errorf("bss2model: %s%w", name, err)
		}
		if m > 0 {
			if err := batch.SameShape(ms[0].Net, mb.Net); err != nil {
				return fmt.Errorf("bss2model: %snot of member 0's shape: %w", name, err)
			}
			if mb.Net.Layers[0].Neuron.TauSyn != ms[0].Net.Layers[0].Neuron.TauSyn {
				return fmt.Errorf("bss2model: %stau_syn of layer 0 differs from member 0's, so the clock does", name)
			}
		}
		if q, ok := rngs[mb.Rng]; ok {
			return fmt.Errorf("bss2model: members %d and %d share a random generator: give each its own stream", q, m)
		}
		rngs[mb.Rng] = m
		if q, ok := trs[mb.Trace]; ok {
			return fmt.Errorf("bss2model: members %d and %d share a trace: give each its own", q, m)
		}
		trs[mb.Trace] = m
	}
	return nil
}

// parallel runs f(0), ..., f(n-1) on up to s.Workers goroutines and
// returns the error of the lowest index that failed.
func (s *Substrate) parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	forEach(n, s.Workers, func(_, i int) { errs[i] = f(i) })
	return firstErr(errs)
}

// forEach runs f(w, i) for i = 0, ..., n-1 on up to workers goroutines
// (<= 0: GOMAXPROCS), w being the goroutine's index (for its scratch), in
// no fixed order; it returns when all have run.
func forEach(n, workers int, f func(w, i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(0, i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(w, i)
			}
		}()
	}
	wg.Wait()
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// prepare draws member mb's terms of layer l (thresholds of this trial,
// then the axonal delay jitter of its inputs) and realises its weights and
// delays into st; a layer whose neurons keep the nominal time constants
// becomes a one-layer network for the engine (st.ideal).
func (s *Substrate) prepare(st *memberState, mb *Member, l int) error {
	p := &s.P
	lay, cl := &mb.Net.Layers[l], &mb.Chip.Layers[l]
	in := mb.Trace.Times[l].Float64s()
	b := st.b
	nIn, nOut, rows := lay.In, lay.Out, lay.Rows()
	nrn := lay.Neuron
	tau0 := nrn.TauSyn
	theta0 := nrn.Threshold - nrn.Leak
	// Thresholds of this trial (one draw per neuron and batch).
	st.thr = grow(st.thr, nOut)
	for k := range st.thr {
		th := theta0 + cl.ThresholdOffset[k]
		if p.ThresholdNoise > 0 {
			th += p.ThresholdNoise * mb.Rng.NormFloat64()
		}
		// A threshold at or below the leak would fire at once; keep it
		// above, as a chip's neuron cannot be configured there either.
		st.thr[k] = math.Max(th, 1e-3*theta0)
	}
	// Realised weights and delays.
	st.w = grow(st.w, rows*nOut)
	for i, v := range lay.W() {
		st.w[i] = p.QuantizeWeight(v) * cl.Gain[i]
	}
	st.d = st.d[:0]
	if lay.Delays != nil {
		st.d = grow(st.d, len(lay.D()))
		for i, v := range lay.D() {
			st.d[i] = p.RealiseDelay(v, tau0)
		}
	}
	// Layer input: axonal delay jitter per (sample, input), into the
	// member's own buffer; without jitter the layer reads the trace.
	st.xin = in
	if lay.Delay == batch.Axonal && p.DelayJitter > 0 {
		st.jit = grow(st.jit, b*nIn)
		for i, t := range in {
			st.jit[i] = t + p.DelayJitter*mb.Rng.NormFloat64()
		}
		st.xin = st.jit
	}
	// The closed forms hold where every neuron keeps the nominal time
	// constants (a threshold offset or a gain only rescales the weights):
	// a neuron's threshold theta_k is the nominal one with its input
	// weights scaled by theta0 / theta_k.
	st.ideal = !s.forceRoot
	for k := 0; k < nOut && st.ideal; k++ {
		st.ideal = cl.TauMem[k] == 1 && cl.TauSyn[k] == 1
	}
	if !st.ideal {
		// Every neuron with its own time constants: a perturbed layer for
		// the root finder, writing into the member's trace.
		st.tauM, st.tauS = grow(st.tauM, nOut), grow(st.tauS, nOut)
		for k := range st.tauM {
			st.tauM[k], st.tauS[k] = nrn.TauMem*cl.TauMem[k], nrn.TauSyn*cl.TauSyn[k]
		}
		st.pl = batch.PerturbedLayer{B: b, In: nIn, Out: nOut, Input: st.xin, BiasTimes: lay.BiasTimes,
			W: st.w, TauMem: st.tauM, TauSyn: st.tauS, Theta: st.thr, Unit: nrn.TauSyn,
			Output: mb.Trace.Times[l+1].Float64s()}
		switch lay.Delay {
		case batch.Axonal:
			st.pl.AxonalDelays = st.d
		case batch.Dendritic:
			st.pl.DendriticDelays = st.d
		}
		return nil
	}
	for r := 0; r < rows; r++ {
		for k := 0; k < nOut; k++ {
			st.w[r*nOut+k] *= theta0 / st.thr[k]
		}
	}
	eff := batch.Layer{In: lay.In, Out: nOut, Neuron: lay.Neuron, BiasTimes: lay.BiasTimes, Delay: lay.Delay}
	eff.Weights = tensor.New(tensor.WithShape(rows, nOut), tensor.WithBacking(st.w))
	if lay.Delays != nil {
		eff.Delays = tensor.New(tensor.WithShape(lay.Delays.Shape()...), tensor.WithBacking(st.d))
	}
	st.lnet = batch.Network{Inputs: lay.In, Layers: []batch.Layer{eff}}
	x, err := batch.TimesFrom(b, lay.In, st.xin)
	if err != nil {
		return err
	}
	st.x = x
	return nil
}

// observe draws the observation terms of a layer's output times in
// place: dendritic delay jitter, spike jitter, the clock and lost spikes.
// Every entry draws its terms, spike or not, so that the generator's state
// after a batch depends only on the shapes, never on which neurons fired.
func (s *Substrate) observe(lay *batch.Layer, out []float64, rng *rand.Rand) {
	p := &s.P
	clock := p.clockPeriod(lay.Neuron.TauSyn)
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
}

// quantize rounds t to the clock grid (period 0: unchanged).
func quantize(t, period float64) float64 {
	if period == 0 || math.IsInf(t, 0) {
		return t
	}
	return math.Round(t/period) * period
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}
