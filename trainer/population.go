package trainer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/trainer/dataset"
	"gorgonia.org/tensor"
)

// Population trains trainers of one architecture together (the seeds of a
// sweep, say): batch i of every member is one population pass on the
// members' engine (batch.ForwardPop, batch.BackwardPop), and so is each
// batch of their evaluations. Members never interact: each keeps its own
// data order, initialisation, noise, bumps, optimiser and best-validation
// snapshot, and ends bit for bit where it would have ended trained alone.
// A single trainer's epoch is a population of one.
type Population struct {
	// Members are the trainers, which share one engine.
	Members []*Trainer

	// pst trains the members pstFor together on the engine's device.
	pst    batch.PopStepper
	pstFor []*Trainer
}

// NewPopulation returns the population of ts, which must share an engine
// and have networks of one shape (batch.SameShape).
func NewPopulation(ts []*Trainer) (*Population, error) {
	if len(ts) == 0 {
		return nil, errors.New("population: no members")
	}
	for m, t := range ts {
		if t.Engine != ts[0].Engine {
			return nil, fmt.Errorf("population: member %d has another engine than member 0", m)
		}
		if err := batch.SameShape(ts[0].Model.Net, t.Model.Net); err != nil {
			return nil, fmt.Errorf("population: member %d (%s, seed %d) is not of member 0's shape: %w", m, t.Cfg.Name, t.Cfg.Seed, err)
		}
	}
	return &Population{Members: ts}, nil
}

// RunEpoch trains one epoch of each member listed in ms (indices into
// Members), evaluates their validation splits and appends the metrics to
// their histories, as Trainer.RunEpoch does for each alone. It returns the
// metrics and the error of each listed member: a member that fails stops
// there (its parameters and history are those before the failed epoch's
// bookkeeping) and the others go on. progress, when not nil, gets the
// samples done over all listed members and their mean running loss and
// accuracy. On an engine with a device step (batch.StepEngine) the
// listed members train together on one population stepper (each batch of
// all of them one batched pass on the device) when their steps can share
// one (sameStep), else one after the other on their own.
func (p *Population) RunEpoch(ms []int, progress Progress) ([]EpochMetrics, []error) {
	mets, errs := make([]EpochMetrics, len(ms)), make([]error, len(ms))
	ts := make([]*Trainer, len(ms))
	device := false
	for i, m := range ms {
		ts[i] = p.Members[m]
		device = device || ts[i].stepper != nil
	}
	if device {
		if pst := p.deviceStepper(ts); pst != nil {
			return p.runEpochDevice(ts, pst, progress)
		}
		for i, t := range ts {
			mets[i], errs[i] = t.RunEpoch(nil)
		}
		return mets, errs
	}
	start := time.Now()
	type epochState struct {
		lr   []float64
		perm []int
		st   batch.RunState
		done int
	}
	es := make([]epochState, len(ts))
	total := 0
	for i, t := range ts {
		es[i].lr = t.LR(t.Epoch)
		es[i].perm = t.rng.Perm(t.Data.Train.N)
		total += t.Data.Train.N
	}
	var (
		cur    []*Trainer
		idx    []int
		in     [][]float64
		labels [][]int
		lrs    [][]float64
		res    []stepResult
	)
	for lo := 0; ; {
		cur, idx, in, labels, lrs = cur[:0], idx[:0], in[:0], labels[:0], lrs[:0]
		for i, t := range ts {
			set, bs := t.Data.Train, t.Cfg.Training.BatchSize
			start := lo * bs
			if errs[i] != nil || start >= set.N {
				continue
			}
			hi := min(start+bs, set.N)
			t.inBuf = grow(t.inBuf, (hi-start)*set.F)
			lab := make([]int, hi-start)
			perm := es[i].perm
			t.gather(t.inBuf, lab, func(j int) int { return perm[start+j] })
			cur, idx = append(cur, t), append(idx, i)
			in, labels, lrs = append(in, t.inBuf), append(labels, lab), append(lrs, es[i].lr)
		}
		if len(cur) == 0 {
			break
		}
		res = append(res[:0], make([]stepResult, len(cur))...)
		popStep(ts[0].Engine, cur, in, labels, lrs, res)
		for j, i := range idx {
			r, st := res[j], &es[i].st
			if r.err != nil {
				errs[i] = fmt.Errorf("epoch %d: batch at sample %d: %w", ts[i].Epoch+1, lo*ts[i].Cfg.Training.BatchSize, r.err)
				continue
			}
			st.Correct += r.correct
			st.Clipped += r.clipped
			if r.stepped {
				st.LossSum += r.loss
				st.Steps++
			} else {
				st.Bumps++
			}
			es[i].done += len(labels[j])
		}
		lo++
		if progress != nil {
			done, loss, acc, n := 0, 0.0, 0.0, 0
			for i := range es {
				done += es[i].done
				if errs[i] == nil && es[i].done > 0 {
					loss += es[i].st.LossSum / float64(max(es[i].st.Steps, 1))
					acc += float64(es[i].st.Correct) / float64(es[i].done)
					n++
				}
			}
			progress(done, total, loss/float64(max(n, 1)), acc/float64(max(n, 1)))
		}
	}
	lrs, sts := make([][]float64, len(ts)), make([]batch.RunState, len(ts))
	for i := range es {
		lrs[i], sts[i] = es[i].lr, es[i].st
	}
	validateEpoch(ts, lrs, sts, time.Since(start), start, mets, errs)
	return mets, errs
}

// validateEpoch ends an epoch of the members ts that trained it without
// error (errs[i] == nil), with learning rates lrs[i], whose batches summed
// to sts[i] in trainDur: it evaluates their validation splits (one
// population pass a batch) and records the epoch (endEpoch) into mets[i],
// or the validation's error into errs[i].
func validateEpoch(ts []*Trainer, lrs [][]float64, sts []batch.RunState, trainDur time.Duration, start time.Time, mets []EpochMetrics, errs []error) {
	var ok []*Trainer
	var okIdx []int
	for i, t := range ts {
		if errs[i] == nil {
			ok, okIdx = append(ok, t), append(okIdx, i)
		}
	}
	sets := make([]*dataset.Set, len(ok))
	// Members that average their parameters (training.average) are
	// validated, and their best snapshot taken, on the average; their
	// trained parameters come back afterwards.
	saved := make([]Snapshot, len(ok))
	for j, t := range ok {
		sets[j] = t.Data.Validation
		t.updateAverage()
		if t.Avg.Epoch > 0 {
			saved[j] = Snapshot{W: clone(t.Model.W), Theta: clone(t.Model.Theta)}
			t.Model.setParams(t.Avg.W, t.Avg.Theta)
		}
	}
	evs, everrs := evaluatePop(ok, sets)
	for j, i := range okIdx {
		if everrs[j] == nil {
			mets[i] = ts[i].endEpoch(lrs[i], sts[i], trainDur, evs[j], start)
		} else {
			errs[i] = fmt.Errorf("epoch %d: validation: %w", ts[i].Epoch+1, everrs[j])
		}
		if saved[j].W != nil {
			ts[i].Model.setParams(saved[j].W, saved[j].Theta)
		}
	}
}

// endEpoch records an epoch trained with learning rates lr, whose batches
// summed to st in trainDur and whose validation gave ev, in the trainer's
// history and best snapshot, and returns its metrics.
func (t *Trainer) endEpoch(lr []float64, st batch.RunState, trainDur time.Duration, ev Eval, start time.Time) EpochMetrics {
	set := t.Data.Train
	m := EpochMetrics{Epoch: t.Epoch + 1, LR: lr, Bumps: st.Bumps, Clipped: st.Clipped}
	m.TrainLoss = math.NaN()
	if st.Steps > 0 {
		m.TrainLoss = st.LossSum / float64(st.Steps)
	}
	m.TrainAcc = float64(st.Correct) / float64(set.N)
	m.SamplesPerSec = float64(set.N) / trainDur.Seconds()
	m.ValLoss, m.ValAcc = ev.Loss, ev.Accuracy
	m.Seconds = time.Since(start).Seconds()
	t.Epoch++
	t.History = append(t.History, m)
	if m.ValAcc > t.Best.ValAcc || t.Best.Epoch == 0 {
		t.Best = Snapshot{Epoch: m.Epoch, ValAcc: m.ValAcc, W: clone(t.Model.W), Theta: clone(t.Model.Theta)}
	}
	return m
}

// evaluatePop evaluates member ts[m] on sets[m] as Trainer.Evaluate does,
// batch i of every member in one population pass (hardware-aware members
// on their own chips, in population passes of their own). Members may share a set.
func evaluatePop(ts []*Trainer, sets []*dataset.Set) ([]Eval, []error) {
	evs, errs := make([]Eval, len(ts)), make([]error, len(ts))
	if len(ts) == 0 {
		return evs, errs
	}
	rngs := make([]*rand.Rand, len(ts))
	correct := make([]int, len(ts))
	grad := make([]float64, ts[0].Model.Net.Outputs()) // the loss's gradient, not used
	for m, t := range ts {
		t.Model.Sync()
		set := sets[m]
		evs[m] = Eval{Outputs: make([]float64, set.N*t.Model.Net.Outputs()), Pred: make([]int, set.N)}
		if t.sub != nil {
			rngs[m] = rand.New(rand.NewPCG(t.Cfg.Seed, 0x6576616c)) // "eval"
		}
	}
	var (
		pop  []int
		nets []*batch.Network
		xs   []*tensor.Dense
		trs  []*batch.Trace
		los  []int
		// The hardware-aware members and their chip passes.
		chips []int
		runs  []chipRun
	)
	los = make([]int, len(ts))
	for bi := 0; ; bi++ {
		pop, nets, xs, trs = pop[:0], nets[:0], xs[:0], trs[:0]
		chips, runs = chips[:0], runs[:0]
		more := false
		for m, t := range ts {
			set, bs := sets[m], t.Cfg.Training.EvalBatchSize
			lo := bi * bs
			los[m] = lo
			if errs[m] != nil || lo >= set.N {
				continue
			}
			more = true
			hi := min(lo+bs, set.N)
			x, err := batch.TimesFrom(hi-lo, set.F, set.Times[lo*set.F:hi*set.F])
			if err != nil {
				errs[m] = err
				continue
			}
			if t.sub != nil {
				chips, runs = append(chips, m), append(runs, chipRun{t: t, x: x, chip: t.chip, rng: rngs[m]})
				continue
			}
			pop, nets, xs, trs = append(pop, m), append(nets, t.Model.Net), append(xs, x), append(trs, &t.tr)
		}
		if !more {
			break
		}
		for i, err := range forwardChips(runs) {
			errs[chips[i]] = err
		}
		if len(pop) > 0 {
			if err := batch.ForwardPop(ts[pop[0]].Engine, nets, xs, trs); err != nil {
				// Find the member that failed: the others' passes alone
				// give the same bits.
				for j, m := range pop {
					errs[m] = ts[m].Engine.Forward(nets[j], xs[j], trs[j])
				}
			}
		}
		for m, t := range ts {
			set := sets[m]
			lo := los[m]
			if errs[m] != nil || lo >= set.N {
				continue
			}
			K := t.Model.Net.Outputs()
			out := t.tr.Output()
			hi := lo + out.Shape()[0]
			ev := &evs[m]
			copy(ev.Outputs[lo*K:hi*K], out.Float64s())
			for i, p := range batch.Predict(out) {
				ev.Pred[lo+i] = p
				y := set.Labels[lo+i]
				if p == y {
					correct[m]++
				}
				ev.Loss += t.loss.Sample(ev.Outputs[(lo+i)*K:(lo+i+1)*K], y, grad)
			}
		}
	}
	for m := range ts {
		evs[m].Loss /= float64(sets[m].N)
		evs[m].Accuracy = float64(correct[m]) / float64(sets[m].N)
	}
	return evs, errs
}
