package trainer

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
)

// A hardware-aware run whose batch cannot go (a NaN input time) fails
// alone in forwardChips: the others' chip passes give, bit for bit, what
// each gives alone, and their streams end where alone they do.
func TestForwardChipsBadMember(t *testing.T) {
	mk := func() []*Trainer {
		eng := batch.NewCPU(2) // one engine: the runs share a pass
		var ts []*Trainer
		for s := uint64(1); s <= 3; s++ {
			c := onChip(tinyConfig(8, "axonal"), bss2model.Defaults())
			c.Seed = s
			tr, err := NewTrainer(c, tinyData(), eng)
			if err != nil {
				t.Fatal(err)
			}
			ts = append(ts, tr)
		}
		return ts
	}
	rng := rand.New(rand.NewPCG(7, 8))
	xs := make([][]float64, 3)
	for m := range xs {
		xs[m] = make([]float64, 10*4)
		for i := range xs[m] {
			xs[m][i] = 0.1 + rng.Float64()
		}
	}
	xs[1][5] = math.NaN()
	run := func(ts []*Trainer, m int) chipRun {
		x, err := batch.TimesFrom(10, 4, xs[m])
		if err != nil {
			t.Fatal(err)
		}
		return chipRun{t: ts[m], x: x, chip: ts[m].trainChip(), rng: ts[m].rng}
	}
	pop, alone := mk(), mk()
	errs := forwardChips([]chipRun{run(pop, 0), run(pop, 1), run(pop, 2)})
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "NaN") || errs[0] != nil || errs[2] != nil {
		t.Fatalf("errors %v: want one for member 1's NaN input only", errs)
	}
	for _, m := range []int{0, 2} {
		if e := forwardChips([]chipRun{run(alone, m)}); e[0] != nil {
			t.Fatal(e[0])
		}
		for l := range alone[m].tr.Times {
			if !slices.Equal(pop[m].tr.Times[l].Float64s(), alone[m].tr.Times[l].Float64s()) {
				t.Fatalf("member %d, times %d: differ from its pass alone", m, l)
			}
		}
		if pop[m].rng.Uint64() != alone[m].rng.Uint64() {
			t.Fatalf("member %d: stream not where its pass alone leaves it", m)
		}
	}
}
