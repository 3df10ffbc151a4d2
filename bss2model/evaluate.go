package bss2model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	// Chips is the number of simulated chips (>= 1).
	Chips int
	// Seed selects the chips: chip i is drawn, with its trial-to-trial
	// noise, from PCG(Seed, i), so a chip does not depend on how many
	// chips are evaluated, on the engine, on how many run together or on
	// how many workers run.
	Seed uint64
	// Workers is the number of goroutines that draw the chips' terms and
	// score them, and, where Engine is nil, the CPU engine's workers
	// (0: GOMAXPROCS).
	Workers int
	// Engine runs the chips' population passes (nil: batch.NewCPU(Workers)).
	Engine batch.Engine
	// Group is the number of chips in one population pass (0: as many as
	// fit in about GroupBytes, and few enough for MinPasses passes).
	Group int
	// Progress, when not nil, is called after each population pass (from
	// one goroutine at a time) with the number of chips done.
	Progress func(done, total int)
}

// GroupBytes is the host memory that Evaluate's traces of one population
// pass may take when EvalOptions.Group is 0.
const GroupBytes = 1 << 30

// ChipResult is the outcome of one chip.
type ChipResult struct {
	Chip     int
	Accuracy float64
	// Silent is the fraction of samples with no output spike at all.
	Silent float64
	// MeanLabelTime is the mean output spike time of the predicted neuron
	// over the samples with an output spike, in the network's time units
	// (NaN if no sample had one).
	MeanLabelTime float64
}

// Evaluate runs net on opt.Chips simulated chips of the model p, every
// chip on the whole batch of input times at once, and returns the accuracy
// per chip. The chips run as populations (Substrate.ForwardPop) of
// opt.Group chips on opt.Engine.
func Evaluate(net *batch.Network, p Params, input *tensor.Dense, labels []int, opt EvalOptions) ([]ChipResult, error) {
	return EvaluateContext(context.Background(), net, p, input, labels, opt)
}

// EvaluateContext is Evaluate that stops when ctx is done: no new
// population pass starts, the one under way finishes, and it returns an
// error that wraps context.Cause(ctx) (and no results).
func EvaluateContext(ctx context.Context, net *batch.Network, p Params, input *tensor.Dense, labels []int, opt EvalOptions) ([]ChipResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := Check(net); err != nil {
		return nil, err
	}
	if err := p.Fit(net); err != nil {
		return nil, err
	}
	if opt.Chips < 1 {
		return nil, fmt.Errorf("bss2model: %d chips: need at least 1", opt.Chips)
	}
	if opt.Workers < 0 || opt.Group < 0 {
		return nil, fmt.Errorf("bss2model: workers %d, group %d: must be >= 0 (0: chosen)", opt.Workers, opt.Group)
	}
	if input == nil || len(input.Shape()) != 2 || input.Shape()[0] != len(labels) {
		return nil, fmt.Errorf("bss2model: need one label per sample of the input times")
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("bss2model: no samples to evaluate")
	}
	if _, err := batch.CheckInput(net, input); err != nil {
		return nil, fmt.Errorf("bss2model: %w", err)
	}
	for i, y := range labels {
		if y < 0 || y >= net.Outputs() {
			return nil, fmt.Errorf("bss2model: label %d of sample %d is out of range [0, %d)", y, i, net.Outputs())
		}
	}
	eng := opt.Engine
	if eng == nil {
		eng = batch.NewCPU(opt.Workers)
	}
	sub := &Substrate{P: p, Engine: eng, Workers: opt.Workers}
	group := opt.Group
	if group == 0 {
		group = int(max(1, GroupBytes/chipBytes(net, len(labels))))
		group = min(group, (opt.Chips+MinPasses-1)/MinPasses)
	}
	group = min(group, opt.Chips)
	res := make([]ChipResult, opt.Chips)
	ms := make([]Member, group)
	trs := make([]batch.Trace, group)
	for lo := 0; lo < opt.Chips; lo += group {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bss2model: stopped after %d of %d chips: %w", lo, opt.Chips, context.Cause(ctx))
		}
		n := min(group, opt.Chips-lo)
		_ = sub.parallel(n, func(j int) error { // cannot fail
			rng := rand.New(rand.NewPCG(opt.Seed, uint64(lo+j)))
			ms[j] = Member{Net: net, Chip: NewChip(&sub.P, net, rng), Input: input, Trace: &trs[j], Rng: rng}
			return nil
		})
		if err := sub.ForwardPop(ms[:n]); err != nil {
			return nil, fmt.Errorf("bss2model: chips %d-%d: %w", lo, lo+n-1, err)
		}
		_ = sub.parallel(n, func(j int) error { // cannot fail
			res[lo+j] = score(lo+j, trs[j].Output(), labels)
			return nil
		})
		if opt.Progress != nil {
			opt.Progress(lo+n, opt.Chips)
		}
	}
	return res, nil
}

// chipBytes is the host memory of one chip's pass over b samples of net:
// its trace, the one-layer traces and jittered inputs of its scratch, and
// per layer its gains, realised weights and the engine's copy of them.
func chipBytes(net *batch.Network, b int) int64 {
	in0 := int64(net.Inputs * max(net.Multiplex, 1))
	perSample, fixed, maxIn := in0, int64(0), int64(0)
	for _, lay := range net.Layers {
		perSample += 2*int64(lay.Out) + int64(lay.In) // trace, one-layer trace
		maxIn = max(maxIn, int64(lay.In))
		fixed += 3 * int64(lay.Rows()) * int64(lay.Out)
	}
	return 8 * (int64(b)*(perSample+maxIn) + fixed)
}

// MinPasses is the fewest population passes Evaluate splits its chips
// into when EvalOptions.Group is 0, so that progress and an interrupt
// come between passes.
const MinPasses = 16

// score returns chip i's result from its observed output times.
func score(i int, out *tensor.Dense, labels []int) ChipResult {
	K := out.Shape()[1]
	ot := out.Float64s()
	r := ChipResult{Chip: i}
	correct, silent, spiking := 0, 0, 0
	sum := 0.0
	for n, pr := range batch.Predict(out) {
		if pr < 0 {
			silent++
			continue
		}
		if pr == labels[n] {
			correct++
		}
		spiking++
		sum += ot[n*K+pr]
	}
	b := len(labels)
	r.Accuracy = float64(correct) / float64(b)
	r.Silent = float64(silent) / float64(b)
	r.MeanLabelTime = math.NaN()
	if spiking > 0 {
		r.MeanLabelTime = sum / float64(spiking)
	}
	return r
}

// Summary describes the distribution of accuracies over chips.
type Summary struct {
	Chips int     `json:"chips"`
	Mean  float64 `json:"mean"`
	// Std is the sample standard deviation (n-1).
	Std float64 `json:"std"`
	Min float64 `json:"min"`
	// P5 is the 5th percentile (linear interpolation, numpy's default).
	P5     float64 `json:"p5"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// Summarize returns the distribution of the accuracies in res.
func Summarize(res []ChipResult) Summary {
	n := len(res)
	s := Summary{Chips: n}
	if n == 0 {
		nan := math.NaN()
		s.Mean, s.Std, s.Min, s.P5, s.Median, s.Max = nan, nan, nan, nan, nan, nan
		return s
	}
	acc := make([]float64, n)
	for i, r := range res {
		acc[i] = r.Accuracy
		s.Mean += r.Accuracy
	}
	s.Mean /= float64(n)
	if n > 1 {
		for _, a := range acc {
			s.Std += (a - s.Mean) * (a - s.Mean)
		}
		s.Std = math.Sqrt(s.Std / float64(n-1))
	}
	slices.Sort(acc)
	s.Min, s.Max = acc[0], acc[n-1]
	s.P5 = Quantile(acc, 0.05)
	s.Median = Quantile(acc, 0.5)
	return s
}

// Quantile returns the q-quantile of the sorted values xs with linear
// interpolation between order statistics (numpy's default).
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(xs)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(xs)-1)
	return xs[lo] + (pos-float64(lo))*(xs[hi]-xs[lo])
}
