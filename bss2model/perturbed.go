package bss2model

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/delgrad-go/delgrad/batch"
)

// FirstSpikes solves a population of perturbed layers on the CPU, the
// reference for batch.PerturbedEngine: for every member and sample, the
// finite effective input times (Input plus AxonalDelays) and every bias
// time become events sorted by (time, row), and each neuron's first spike
// is Membrane.FirstSpike over them with the neuron's TauMem, TauSyn and
// Theta and the layer's Unit, plus its dendritic delay; into each layer's
// Output. It runs on up to workers goroutines (<= 0: GOMAXPROCS), over
// (member, sample) pairs; the results do not depend on the number. Every
// layer is checked first (batch.CheckPerturbed): when one is bad, nothing
// is written.
func FirstSpikes(ls []*batch.PerturbedLayer, workers int) error {
	if err := batch.CheckPerturbed(ls); err != nil {
		return fmt.Errorf("bss2model: first spikes: %w", err)
	}
	// off[m] is member m's first (member, sample) pair.
	off := make([]int, len(ls)+1)
	for m, l := range ls {
		off[m+1] = off[m] + l.B
	}
	n := off[len(ls)]
	scs := make([]perturbedScratch, max(1, min(workers, n)))
	if workers <= 0 {
		scs = make([]perturbedScratch, max(1, min(runtime.GOMAXPROCS(0), n)))
	}
	forEach(n, len(scs), func(w, i int) {
		// The member m with off[m] <= i < off[m+1].
		m, _ := slices.BinarySearch(off, i+1)
		scs[w].sample(ls[m-1], i-off[m-1])
	})
	return nil
}

// FirstSpikesOn solves the perturbed layers on eng's device where eng is
// a batch.PerturbedEngine (kernels.Engine), else with FirstSpikes on
// workers goroutines; the same bits either way.
func FirstSpikesOn(eng batch.Engine, ls []*batch.PerturbedLayer, workers int) error {
	if pe, ok := eng.(batch.PerturbedEngine); ok {
		return pe.FirstSpikesPop(ls)
	}
	return FirstSpikes(ls, workers)
}

// perturbedScratch is one goroutine's buffers for FirstSpikes.
type perturbedScratch struct {
	ev     []inputEvent
	ts, ws []float64
}

// inputEvent is an input or bias spike of a sample: its time and row.
type inputEvent struct {
	t   float64
	row int
}

// sample solves sample s of layer l.
func (sc *perturbedScratch) sample(l *batch.PerturbedLayer, s int) {
	nIn, nOut := l.In, l.Out
	sc.ev = sc.ev[:0]
	for i, t := range l.Input[s*nIn : (s+1)*nIn] {
		if l.AxonalDelays != nil {
			t += l.AxonalDelays[i]
		}
		if t < math.Inf(1) {
			sc.ev = append(sc.ev, inputEvent{t, i})
		}
	}
	for j, t := range l.BiasTimes {
		sc.ev = append(sc.ev, inputEvent{t, nIn + j})
	}
	slices.SortFunc(sc.ev, func(a, b inputEvent) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
	sc.ts = sc.ts[:0]
	for _, e := range sc.ev {
		sc.ts = append(sc.ts, e.t)
	}
	sc.ws = slices.Grow(sc.ws[:0], len(sc.ev))[:len(sc.ev)]
	out := l.Output[s*nOut : (s+1)*nOut]
	for k := range out {
		for m, e := range sc.ev {
			sc.ws[m] = l.W[e.row*nOut+k]
		}
		mb := Membrane{TauMem: l.TauMem[k], TauSyn: l.TauSyn[k], Unit: l.Unit, Theta: l.Theta[k]}
		t := mb.FirstSpike(sc.ts, sc.ws)
		if l.DendriticDelays != nil {
			t += l.DendriticDelays[k]
		}
		out[k] = t
	}
}
