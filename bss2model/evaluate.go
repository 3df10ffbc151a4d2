package bss2model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// EvalOptions configures Evaluate.
type EvalOptions struct {
	// Chips is the number of simulated chips (>= 1).
	Chips int
	// Seed selects the chips: chip i is drawn, with its trial-to-trial
	// noise, from PCG(Seed, i), so a chip does not depend on how many
	// chips are evaluated or on how many workers run.
	Seed uint64
	// Workers is the number of chips evaluated in parallel (>= 1).
	Workers int
	// Progress, when not nil, is called after each chip (from one goroutine
	// at a time) with the number of chips done.
	Progress func(done, total int)
}

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
// per chip. A new engine per worker runs the closed forms (batch.NewCPU(1)).
func Evaluate(net *batch.Network, p Params, input *tensor.Dense, labels []int, opt EvalOptions) ([]ChipResult, error) {
	return EvaluateContext(context.Background(), net, p, input, labels, opt)
}

// EvaluateContext is Evaluate that stops when ctx is done: no new chip
// starts, the chips under way finish, and it returns an error that wraps
// context.Cause(ctx) (and no results).
func EvaluateContext(ctx context.Context, net *batch.Network, p Params, input *tensor.Dense, labels []int, opt EvalOptions) ([]ChipResult, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := Check(net); err != nil {
		return nil, err
	}
	if opt.Chips < 1 {
		return nil, fmt.Errorf("bss2model: %d chips: need at least 1", opt.Chips)
	}
	if input == nil || len(input.Shape()) != 2 || input.Shape()[0] != len(labels) {
		return nil, fmt.Errorf("bss2model: need one label per sample of the input times")
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("bss2model: no samples to evaluate")
	}
	for i, y := range labels {
		if y < 0 || y >= net.Outputs() {
			return nil, fmt.Errorf("bss2model: label %d of sample %d is out of range [0, %d)", y, i, net.Outputs())
		}
	}
	workers := max(1, min(opt.Workers, opt.Chips))
	res := make([]ChipResult, opt.Chips)
	errs := make([]error, workers)
	var mu sync.Mutex
	done := 0
	next := make(chan int)
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func(wk int) {
			defer wg.Done()
			sub := &Substrate{P: p, Engine: batch.NewCPU(1)}
			var tr batch.Trace
			for i := range next {
				if errs[wk] != nil {
					continue
				}
				r, err := sub.evalChip(net, input, labels, opt.Seed, i, &tr)
				if err != nil {
					errs[wk] = fmt.Errorf("chip %d: %w", i, err)
					continue
				}
				res[i] = r
				mu.Lock()
				done++
				if opt.Progress != nil {
					opt.Progress(done, opt.Chips)
				}
				mu.Unlock()
			}
		}(wk)
	}
	started := 0
feed:
	for ; started < opt.Chips && ctx.Err() == nil; started++ {
		select {
		case next <- started:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if started < opt.Chips {
		return nil, fmt.Errorf("bss2model: stopped after %d of %d chips: %w", done, opt.Chips, context.Cause(ctx))
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (s *Substrate) evalChip(net *batch.Network, input *tensor.Dense, labels []int, seed uint64, i int, tr *batch.Trace) (ChipResult, error) {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	chip := NewChip(&s.P, net, rng)
	if err := s.Forward(net, chip, input, tr, rng); err != nil {
		return ChipResult{}, err
	}
	out := tr.Output()
	K := net.Outputs()
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
	return r, nil
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
