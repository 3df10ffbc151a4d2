// Package bench is the benchmark suite behind `delgrad bench`: forward,
// forward+backward and whole training steps of the DelGrad engines on the
// networks users train (Yin-Yang with every delay kind in both regimes,
// 16x16 MNIST, full MNIST, a wide synthetic network) over batch sizes from 1
// to 65536, each with warm-up, repeats, median and spread, and the peak
// memory of the run; Report writes them as Markdown, CSV and PNG plots.
//
// Engines come in from the caller (the CPU engine on one core and on all
// cores, the CUDA engine of package kernels when the binary has it), so
// that this package builds without CUDA.
package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/trainer"
	"github.com/delgrad-go/delgrad/trainer/dataset"
	"gorgonia.org/tensor"
)

// Case is one benchmarked network.
type Case struct {
	Name   string
	Sizes  []int // inputs, hidden layers..., outputs
	Regime batch.Regime
	Delay  batch.DelayKind
	// PInf is the fraction of missing input spikes (MNIST's background).
	PInf float64
}

// Mode is what one measured step does.
type Mode string

// The modes: the forward pass; forward and backward pass; a training step
// of the trainer (forward, loss, backward, Adam, delay rectification).
const (
	Forward  Mode = "forward"
	FwdBwd   Mode = "forward+backward"
	TrainStp Mode = "train step"
)

// Modes lists every mode in report order.
var Modes = []Mode{Forward, FwdBwd, TrainStp}

// Cases returns the suite's networks.
func Cases() []Case {
	var cs []Case
	for _, r := range []batch.Regime{batch.DoubleTau, batch.EqualTau} {
		for _, d := range []batch.DelayKind{batch.NoDelay, batch.Axonal, batch.Dendritic, batch.Synaptic} {
			cs = append(cs, Case{Name: fmt.Sprintf("yinyang-4-30-3-%v-tau%d", d, r), Sizes: []int{4, 30, 3}, Regime: r, Delay: d})
		}
	}
	return append(cs,
		Case{Name: "mnist16-256-128-10", Sizes: []int{256, 128, 10}, Regime: batch.EqualTau, PInf: 0.5},
		Case{Name: "mnist-784-350-10", Sizes: []int{784, 350, 10}, Regime: batch.EqualTau, PInf: 0.8},
		Case{Name: "wide-1024-1024-10", Sizes: []int{1024, 1024, 10}, Regime: batch.DoubleTau},
	)
}

// Engine is a named engine factory.
type Engine struct {
	Name string
	New  func() (batch.Engine, error)
	// GPU marks the device engine (for speed-up columns).
	GPU bool
}

// Options configures Run.
type Options struct {
	Cases   []Case
	Modes   []Mode
	Batches []int
	Engines []Engine
	// MinTime is the least time one repeat runs (it loops the step until
	// then); Repeats is the number of timed repeats after one warm-up.
	MinTime time.Duration
	Repeats int
	// MaxStep skips a batch size (and the larger ones) of a case, mode and
	// engine whose single step would take longer, as estimated from the
	// previous batch size.
	MaxStep time.Duration
	// Populations lists the population sizes K (1..MaxPopulation) to
	// measure: each measurement then runs K networks of the case, drawn
	// with different seeds, each on its own batch, in one population pass
	// (batch.ForwardPop and BackwardPop; trainer.Population for the
	// training step), and reports their aggregate samples/s. nil measures
	// single networks only, as {1} does: K = 1 is the single-network path.
	Populations []int
	// Reference, when not nil, times the same case in the reference
	// implementation and returns its samples/s (0: not available). It is
	// called for single networks (K = 1) only; an error is recorded in the
	// result (Result.ReferenceErr) and the suite goes on.
	Reference func(c Case, m Mode, batch int) (float64, error)
	// Progress is called before each measurement.
	Progress func(done, total int, what string)
}

// Result is one measurement.
type Result struct {
	Case   string
	Mode   Mode
	Engine string
	GPU    bool
	Batch  int
	// Members is the population size K: K networks each ran on its own
	// batch of Batch samples (1: a single network; 0 is read as 1).
	Members int
	// Median, Min and Max are samples/s over the repeats, over all the
	// members together (K x Batch samples a step).
	Median, Min, Max float64
	Repeats          int
	// HostPeak is the largest Go heap in use (live objects and garbage not
	// yet swept, sampled every 5 ms after a collection) during the
	// measurement; C memory is not included.
	// DeviceBytes the device memory the engine holds (0 for CPU engines).
	HostPeak    uint64
	DeviceBytes int64
	// Skipped says why the measurement was not taken ("" if it was).
	Skipped string
	// Reference is the reference implementation's samples/s (0: none).
	Reference float64
	// ReferenceErr is the error of the reference measurement ("" if it
	// did not fail).
	ReferenceErr string
}

// MaxPopulation is the largest population size Run measures.
const MaxPopulation = 256

// K returns the result's population size: Members, or 1 where it is not
// set (results of reports from before populations).
func (r Result) K() int { return max(r.Members, 1) }

// DeviceMemory is implemented by engines that can report the device memory
// they hold.
type DeviceMemory interface{ DeviceBytes() int64 }

// Run measures every case x mode x engine x batch size.
func Run(opt Options) ([]Result, error) { return RunContext(context.Background(), opt) }

// RunContext is Run that stops when ctx is done: it checks ctx before each
// measurement and then returns the results measured so far with an error
// that wraps context.Cause(ctx).
func RunContext(ctx context.Context, opt Options) ([]Result, error) {
	if len(opt.Cases) == 0 || len(opt.Modes) == 0 || len(opt.Batches) == 0 || len(opt.Engines) == 0 {
		return nil, errors.New("bench: nothing to run: give cases, modes, batch sizes and engines")
	}
	if opt.Repeats < 1 {
		opt.Repeats = 1
	}
	batches := slices.Clone(opt.Batches)
	slices.Sort(batches)
	pops, err := populations(opt.Populations)
	if err != nil {
		return nil, err
	}
	total := len(opt.Cases) * len(opt.Modes) * len(opt.Engines) * len(batches) * len(pops)
	done := 0
	var out []Result
	for _, e := range opt.Engines {
		eng, err := e.New()
		if err != nil {
			return nil, fmt.Errorf("bench: engine %s: %w", e.Name, err)
		}
		for _, c := range opt.Cases {
			for _, m := range opt.Modes {
				// last[i] is the previous batch size's result at
				// population size pops[i].
				last := make([]*Result, len(pops))
				for _, b := range batches {
					for i, k := range pops {
						if ctx.Err() != nil {
							closeEngine(eng)
							return out, fmt.Errorf("bench: stopped after %d of %d measurements: %w", done, total, context.Cause(ctx))
						}
						what := fmt.Sprintf("%s %s %s B=%d", e.Name, c.Name, m, b)
						if k > 1 {
							what += fmt.Sprintf(" K=%d", k)
						}
						if opt.Progress != nil {
							opt.Progress(done, total, what)
						}
						done++
						r := Result{Case: c.Name, Mode: m, Engine: e.Name, GPU: e.GPU, Batch: b, Members: k}
						// A step is judged from the previous batch size at this
						// K and, for K > 1, from the previous K at this batch size.
						var prevK *Result
						if i > 0 {
							prevK = &out[len(out)-1]
						}
						if tooLong(last[i], k*b, opt.MaxStep) || tooLong(prevK, k*b, opt.MaxStep) {
							r.Skipped = fmt.Sprintf("one step would take over %v", opt.MaxStep)
						} else if l := timeSkipped(last[i], prevK); l != nil {
							r.Skipped = l.Skipped
						} else if err := measure(eng, c, m, b, k, opt, &r); err != nil {
							// An error (a device out of memory at a large batch, say)
							// is reported in its row; the other measurements go on.
							r = Result{Case: c.Name, Mode: m, Engine: e.Name, GPU: e.GPU, Batch: b, Members: k,
								Skipped: "error: " + err.Error()}
						}
						if opt.Reference != nil && r.Skipped == "" && k == 1 {
							ref, err := opt.Reference(c, m, b)
							if err != nil && ctx.Err() != nil {
								// The reference was stopped with the suite.
								closeEngine(eng)
								return out, fmt.Errorf("bench: stopped after %d of %d measurements: %w", len(out), total, context.Cause(ctx))
							}
							if err != nil {
								// A failing reference (killed for memory, say) is
								// reported in its row, as a failing measurement is.
								r.ReferenceErr = err.Error()
							}
							r.Reference = ref
						}
						out = append(out, r)
						last[i] = &out[len(out)-1]
					}
				}
			}
		}
		if err := closeEngine(eng); err != nil {
			return nil, fmt.Errorf("bench: closing %s: %w", e.Name, err)
		}
	}
	return out, nil
}

// tooLong reports whether a step of n samples would take longer than
// maxStep at the rate of the earlier measurement l (none: false).
func tooLong(l *Result, n int, maxStep time.Duration) bool {
	return l != nil && l.Skipped == "" && maxStep > 0 &&
		time.Duration(float64(n)/l.Median*float64(time.Second)) > maxStep
}

// timeSkipped returns the first of rs skipped for the time its step would
// take, or nil.
func timeSkipped(rs ...*Result) *Result {
	for _, r := range rs {
		if r != nil && strings.HasPrefix(r.Skipped, "one step") {
			return r
		}
	}
	return nil
}

// populations returns the sorted distinct population sizes of ks ({1} for
// none), or an error naming one outside 1..MaxPopulation.
func populations(ks []int) ([]int, error) {
	if len(ks) == 0 {
		return []int{1}, nil
	}
	out := slices.Clone(ks)
	for _, k := range out {
		if k < 1 || k > MaxPopulation {
			return nil, fmt.Errorf("bench: population size %d: must be 1..%d", k, MaxPopulation)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// closeEngine releases an engine that holds resources (the GPU's).
func closeEngine(eng batch.Engine) error {
	if cl, ok := eng.(interface{ Close() error }); ok {
		return cl.Close()
	}
	return nil
}

// network draws population member member's network of the case, a batch
// of b inputs and output errors; the same member always gives the same
// ones, and member 0 those of a single network.
func (c Case) network(b, member int) (*batch.Network, *tensor.Dense, *tensor.Dense) {
	rng := rand.New(rand.NewPCG(1, 2+uint64(member)))
	nrn := batch.Neuron{TauSyn: 1, TauMem: float64(c.Regime), Threshold: 1}
	net := &batch.Network{Inputs: c.Sizes[0]}
	in := c.Sizes[0]
	for _, o := range c.Sizes[1:] {
		l := batch.NewLayer(in, o, 0, nrn, c.Delay)
		scale := 3 / math.Sqrt(float64(in)*(1-c.PInf))
		if c.Regime == batch.EqualTau {
			scale *= 1.5
		}
		for i := range l.W() {
			l.W()[i] = scale * (0.8 + rng.NormFloat64())
		}
		for i := range l.D() {
			l.D()[i] = 0.5 * rng.Float64()
		}
		l.MaxDWNorm = 0.2
		net.Layers = append(net.Layers, l)
		in = o
	}
	x := batch.NewTimes(b, c.Sizes[0])
	for i := range x.Float64s() {
		if rng.Float64() >= c.PInf {
			x.Float64s()[i] = 0.15 + 1.85*rng.Float64()
		}
	}
	k := net.Outputs()
	d := make([]float64, b*k)
	for i := range d {
		d[i] = 0.01 * rng.NormFloat64()
	}
	return net, x, tensor.New(tensor.WithShape(b, k), tensor.WithBacking(d))
}

// trainerFor builds population member member's trainer of the case's
// network on steps batches of random data (bumping off, one validation
// sample), so that RunEpoch is steps training steps. Members differ in the
// seed and the data; member 0 is the single network's trainer.
func (c Case) trainerFor(eng batch.Engine, b, steps, member int) (*trainer.Trainer, error) {
	cfg := trainer.Defaults()
	cfg.Name = c.Name
	cfg.Seed += uint64(member)
	*cfg.Neuron.TauMem = float64(c.Regime)
	for _, o := range c.Sizes[1:] {
		l := trainer.DefaultLayer()
		l.Size = o
		l.WeightsMean = 3 / math.Sqrt(float64(c.Sizes[0])*(1-c.PInf))
		l.Delay.Kind = c.Delay.String()
		l.Delay.Std = 0.25
		cfg.Layers = append(cfg.Layers, l)
	}
	cfg.Training.BatchSize, cfg.Training.EvalBatchSize = b, 1
	cfg.Training.BumpValue = 0
	rng := rand.New(rand.NewPCG(3, 4+uint64(member)))
	mk := func(n int) *dataset.Set {
		s := &dataset.Set{Name: "random", N: n, F: c.Sizes[0], Classes: c.Sizes[len(c.Sizes)-1],
			Times: make([]float64, n*c.Sizes[0]), Labels: make([]int, n)}
		for i := range s.Times {
			s.Times[i] = math.Inf(1)
			if rng.Float64() >= c.PInf {
				s.Times[i] = 0.15 + 1.85*rng.Float64()
			}
		}
		for i := range s.Labels {
			s.Labels[i] = rng.IntN(s.Classes)
		}
		return s
	}
	return trainer.NewTrainer(cfg, trainer.Data{Train: mk(b * steps), Validation: mk(1), Test: mk(1)}, eng)
}

// step returns a function that runs mode m on batch size b, and the number
// of samples one call processes. On an engine with a device training step
// a training call runs several steps (Trainer.TrainSteps), so that copying
// the parameters to the device and back, once per call, is spread over
// them as over an epoch; elsewhere one step.
func step(eng batch.Engine, c Case, m Mode, b int) (func() error, int, error) {
	if m == TrainStp {
		k := 1
		if _, ok := eng.(batch.StepEngine); ok {
			k = max(1, min(32, 4096/b))
		}
		t, err := c.trainerFor(eng, b, k, 0)
		if err != nil {
			return nil, 0, err
		}
		return func() error { return t.TrainSteps(k) }, k * b, nil
	}
	net, x, dOut := c.network(b, 0)
	var tr batch.Trace
	g := batch.NewGradients(net, b)
	return func() error {
		if err := eng.Forward(net, x, &tr); err != nil {
			return err
		}
		if m == FwdBwd {
			return eng.Backward(net, &tr, dOut, g)
		}
		return nil
	}, b, nil
}

// popStep is step for a population of k members, each on its own batch of
// b samples; for k = 1 it is step. Forward and forward+backward are one
// population pass of k networks drawn with different seeds
// (batch.ForwardPop, batch.BackwardPop); a training call is one epoch of a
// trainer.Population of k trainers with different seeds and data, each of
// popSteps(b) batches and a one-sample validation, all members in
// lockstep.
func popStep(eng batch.Engine, c Case, m Mode, b, k int) (func() error, int, error) {
	if k == 1 {
		return step(eng, c, m, b)
	}
	if m == TrainStp {
		steps := popSteps(eng, b)
		ts := make([]*trainer.Trainer, k)
		all := make([]int, k)
		for i := range ts {
			t, err := c.trainerFor(eng, b, steps, i)
			if err != nil {
				return nil, 0, fmt.Errorf("member %d: %w", i, err)
			}
			ts[i], all[i] = t, i
		}
		p, err := trainer.NewPopulation(ts)
		if err != nil {
			return nil, 0, err
		}
		return func() error {
			_, errs := p.RunEpoch(all, nil)
			for i, err := range errs {
				if err != nil {
					return fmt.Errorf("member %d: %w", i, err)
				}
			}
			return nil
		}, k * steps * b, nil
	}
	nets, xs, dOuts := make([]*batch.Network, k), make([]*tensor.Dense, k), make([]*tensor.Dense, k)
	trs, gs := make([]*batch.Trace, k), make([]*batch.Gradients, k)
	for i := range nets {
		nets[i], xs[i], dOuts[i] = c.network(b, i)
		trs[i], gs[i] = new(batch.Trace), batch.NewGradients(nets[i], b)
	}
	return func() error {
		if err := batch.ForwardPop(eng, nets, xs, trs); err != nil {
			return err
		}
		if m == FwdBwd {
			return batch.BackwardPop(eng, nets, trs, dOuts, gs)
		}
		return nil
	}, k * b, nil
}

// popSteps is the number of batches of a population member's training
// epoch at batch size b: the device training step's batches per call of
// step, and at least 4, so that the epoch's one-sample validation pass
// and its shuffle are a small part of it.
func popSteps(eng batch.Engine, b int) int {
	if _, ok := eng.(batch.StepEngine); ok {
		return max(4, min(32, 4096/b))
	}
	return 4
}

// measure runs one warm-up and opt.Repeats timed repeats of at least
// opt.MinTime each of a population of k members (k = 1: one network).
func measure(eng batch.Engine, c Case, m Mode, b, k int, opt Options, r *Result) error {
	if rel, ok := eng.(interface{ Release() error }); ok {
		// Device memory is reported per measurement: start from none.
		if err := rel.Release(); err != nil {
			return err
		}
	}
	run, per, err := popStep(eng, c, m, b, k)
	if err != nil {
		return err
	}
	if err := run(); err != nil { // warm-up: buffers, caches, JIT of the PTX
		return err
	}
	runtime.GC() // the heap peak below then counts this measurement's memory, not earlier garbage
	stop := peakHeap()
	var rates []float64
	for rep := 0; rep < opt.Repeats; rep++ {
		n := 0
		start := time.Now()
		for n == 0 || time.Since(start) < opt.MinTime {
			if err := run(); err != nil {
				return err
			}
			n++
		}
		rates = append(rates, float64(n*per)/time.Since(start).Seconds())
	}
	r.HostPeak = stop()
	slices.Sort(rates)
	r.Repeats = len(rates)
	r.Min, r.Max = rates[0], rates[len(rates)-1]
	r.Median = rates[len(rates)/2]
	if len(rates)%2 == 0 {
		r.Median = (rates[len(rates)/2-1] + rates[len(rates)/2]) / 2
	}
	if dm, ok := eng.(DeviceMemory); ok {
		r.DeviceBytes = dm.DeviceBytes()
	}
	return nil
}

// peakHeap samples the live heap every 5 ms until the returned function is
// called, which returns the largest value seen.
func peakHeap() func() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	var mu sync.Mutex
	peak := read()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				v := read()
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		runtime.Gosched()
		mu.Lock()
		defer mu.Unlock()
		return max(peak, read())
	}
}
