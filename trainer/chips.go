package trainer

import (
	"math/rand/v2"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
	"gorgonia.org/tensor"
)

// chipRun is one hardware-aware member's forward pass on its chip: its
// trainer, the input times, the chip and the stream of the trial terms.
type chipRun struct {
	t    *Trainer
	x    *tensor.Dense
	chip *bss2model.Chip
	rng  *rand.Rand
}

// trainChip returns the chip that t's next training batch runs on: a
// fresh one drawn from t's stream with train_chip = "resample", else the
// run's chip.
func (t *Trainer) trainChip() *bss2model.Chip {
	if t.sub.P.TrainChip == "resample" {
		return bss2model.NewChip(&t.sub.P, t.Model.Net, t.rng)
	}
	return t.chip
}

// forwardChips runs every run's network on its chip into its trainer's
// trace, as Substrate.Forward does for each alone, bit for bit: the runs
// whose trainers share a chip model and an engine go as one population
// pass (Substrate.ForwardPop). It returns each run's error. ForwardPop
// checks every member before it draws any trial term, so a run that
// cannot go (a bad batch, a network the chip cannot realise) fails alone
// and the others go again without it. A pass that fails after its checks
// (the engine's fault, such as a device out of memory) fails every run in
// it: their streams have moved on, so they cannot be retried one by one
// as popPass does.
func forwardChips(runs []chipRun) []error {
	errs := make([]error, len(runs))
	type key struct {
		p   bss2model.Params
		eng batch.Engine
	}
	groups := map[key][]int{}
	var order []key
	for i, r := range runs {
		k := key{r.t.sub.P, r.t.sub.Engine}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	members := func(idx []int) []bss2model.Member {
		ms := make([]bss2model.Member, len(idx))
		for j, i := range idx {
			r := runs[i]
			ms[j] = bss2model.Member{Net: r.t.Model.Net, Chip: r.chip, Input: r.x, Trace: &r.t.tr, Rng: r.rng}
		}
		return ms
	}
	for _, k := range order {
		idx := groups[k]
		sub := runs[idx[0]].t.sub
		ms := members(idx)
		err := sub.ForwardPop(ms)
		if err == nil {
			continue
		}
		var ok []int
		for j, i := range idx {
			if errs[i] = sub.CheckMember(ms[j]); errs[i] == nil {
				ok = append(ok, i)
			}
		}
		if len(ok) == len(idx) { // not a check: the engine's, every member's
			for _, i := range idx {
				errs[i] = err
			}
			continue
		}
		if len(ok) > 0 {
			if err := sub.ForwardPop(members(ok)); err != nil {
				for _, i := range ok {
					errs[i] = err
				}
			}
		}
	}
	return errs
}
