package trainer

import (
	"context"
	"fmt"
	"math"
	"time"
)

// PopRun is a population of runs, each in its own run directory, trained
// together (Population): every run's directory ends as the run trained
// alone would have left it (the wall times in its metrics and summary
// aside).
type PopRun struct {
	// Runs are the members' runs.
	Runs []*Run
	// Err holds, per run, why it stopped early (nil: it trains or has
	// finished). A failed run keeps its last checkpoint.
	Err []error

	pop   *Population
	first []int // per job of NewPopJobs, the index of its first run
}

// NewPopJobs makes a population of the runs of jobs (a run, or a
// selection's candidates, each), as NewPopRun does; JobErrs maps Err back
// to the jobs.
func NewPopJobs(jobs []*Job) (*PopRun, error) {
	var runs []*Run
	first := make([]int, len(jobs)+1)
	for i, j := range jobs {
		first[i] = len(runs)
		runs = append(runs, j.Runs...)
	}
	first[len(jobs)] = len(runs)
	p, err := NewPopRun(runs)
	if err != nil {
		return nil, err
	}
	p.first = first
	return p, nil
}

// JobErrs returns Err for the runs of job i of NewPopJobs, as Job.Finish
// takes it.
func (p *PopRun) JobErrs(i int) []error {
	return p.Err[p.first[i]:p.first[i+1]]
}

// NewPopRun makes a population of runs, which must share an engine and
// have networks of one shape.
func NewPopRun(runs []*Run) (*PopRun, error) {
	ts := make([]*Trainer, len(runs))
	for i, r := range runs {
		ts[i] = r.Trainer
	}
	pop, err := NewPopulation(ts)
	if err != nil {
		return nil, InputError{err}
	}
	return &PopRun{Runs: runs, Err: make([]error, len(runs)), pop: pop}, nil
}

// PopEpoch is a population's progress after one of its epochs.
type PopEpoch struct {
	// Epoch is the highest epoch any member has completed, of Total.
	Epoch, Total int
	// Trained counts the members that trained this epoch, Done those that
	// have all their epochs, Failed those that stopped on an error.
	Trained, Done, Failed int
	// SamplesPerSec is the population's aggregate training throughput in
	// this epoch (all members' training samples over the epoch's wall
	// time, validation included).
	SamplesPerSec float64
	// BestVal and WorstVal are the highest and lowest best-validation
	// accuracy over the members that have not failed.
	BestVal, WorstVal float64
	// Failures lists the members that failed in this epoch.
	Failures []MemberError
}

// MemberError is the error of one member of a population.
type MemberError struct {
	Run *Run
	Err error
}

// PopHooks receive progress from PopRun.Train; nil fields are skipped.
type PopHooks struct {
	// Batch is called after each population batch with the samples done
	// over the epoch's members.
	Batch Progress
	// EpochEnd is called after each population epoch.
	EpochEnd func(e PopEpoch)
}

// Train trains every run that has not failed until it has completed
// epochs: each population epoch trains the members still short of it
// (members may start at different epochs, as after a resume), then writes
// each member's metrics.csv and its checkpoint as Run.Train does. A member
// that fails is recorded in Err and stops; the others go on. Train returns
// an error only when writing a run's files fails.
func (p *PopRun) Train(epochs int, h PopHooks) error {
	return p.TrainContext(context.Background(), epochs, h)
}

// TrainContext is Train that stops between population epochs once ctx
// is done: every member that has not failed is then checkpointed at its
// last completed epoch (so that resume continues bit for bit), and the
// error wraps context.Cause(ctx).
func (p *PopRun) TrainContext(ctx context.Context, epochs int, h PopHooks) error {
	defer p.pop.Close() // the device stepper, if the population has one
	for {
		if ctx.Err() != nil {
			for i, r := range p.Runs {
				if p.Err[i] == nil && r.Trainer.Epoch > 0 && r.checkpointed != r.Trainer.Epoch {
					if err := r.checkpoint(); err != nil {
						return fmt.Errorf("stopped (%w), but the checkpoint of %s failed: %w", context.Cause(ctx), r.Dir, err)
					}
				}
			}
			return fmt.Errorf("stopped: %w", context.Cause(ctx))
		}
		var ms []int
		samples := 0
		for i, r := range p.Runs {
			if p.Err[i] == nil && r.Trainer.Epoch < epochs {
				ms = append(ms, i)
				samples += r.Trainer.Data.Train.N
			}
		}
		if len(ms) == 0 {
			return nil
		}
		start := time.Now()
		_, errs := p.pop.RunEpoch(ms, h.Batch)
		dur := time.Since(start)
		var fails []MemberError
		for j, i := range ms {
			if errs[j] != nil {
				p.Err[i] = errs[j]
				fails = append(fails, MemberError{p.Runs[i], errs[j]})
				continue
			}
			if err := p.Runs[i].record(epochs); err != nil {
				return fmt.Errorf("%s: %w", p.Runs[i].Dir, err)
			}
		}
		if h.EpochEnd != nil {
			e := PopEpoch{Total: epochs, Trained: len(ms), SamplesPerSec: float64(samples) / dur.Seconds(),
				BestVal: math.Inf(-1), WorstVal: math.Inf(1), Failures: fails}
			for i, r := range p.Runs {
				t := r.Trainer
				e.Epoch = max(e.Epoch, t.Epoch)
				switch {
				case p.Err[i] != nil:
					e.Failed++
					continue
				case t.Epoch >= epochs:
					e.Done++
				}
				if t.Best.Epoch > 0 {
					e.BestVal, e.WorstVal = max(e.BestVal, t.Best.ValAcc), min(e.WorstVal, t.Best.ValAcc)
				}
			}
			h.EpochEnd(e)
		}
	}
}
