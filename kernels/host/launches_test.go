//go:build cgo

package host

import (
	"testing"

	"github.com/delgrad-go/delgrad/kernels"
	"github.com/delgrad-go/delgrad/trainer"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

// countingDevice counts a Device's launches by kernel.
type countingDevice struct {
	*Device
	n map[string]int
}

func (c *countingDevice) Launch(name string, n int64, args ...any) error {
	c.n[name]++
	return c.Device.Launch(name, n, args...)
}

func (c *countingDevice) total() int {
	t := 0
	for _, v := range c.n {
		t += v
	}
	return t
}

// A training step of a Yin-Yang-sized network with axonal delays (4-30-3,
// as yin_yang_H30_WA) launches no more kernels than bench/NOTES.md
// counts: on the GPU, a small batch's step costs about 3 us a kernel, so
// a launch added to the step is a slowdown to measure, not an accident.
func TestStepLaunches(t *testing.T) {
	// Session 7: 48 -> 40 (dg_update_if), -> 39 (no dg_mux), -> 31 (silent
	// and clip counts added up by the spike search and the neuron phase).
	const want = 31
	cfg := axonalConfig(150, 200, 30, 3)
	const batches = 10
	data := trainer.Data{Train: dataset.YinYang(150*batches, 7), Validation: dataset.YinYang(200, 8), Test: dataset.YinYang(200, 9)}
	dev := &countingDevice{&Device{mem: map[kernels.Ptr]allocation{}}, map[string]int{}}
	eng := kernels.NewEngine(dev)
	defer eng.Release()
	tr := deviceTrainer(t, cfg, data, eng)
	if _, err := tr.Evaluate(data.Validation); err != nil {
		t.Fatal(err)
	}
	eval := dev.total()
	clear(dev.n)
	if _, err := tr.RunEpoch(nil); err != nil {
		t.Fatal(err)
	}
	// The epoch is the parameters' upload (two dg_sync_w, two dg_sync_d),
	// the training batches and one evaluation of the validation split.
	perBatch := float64(dev.total()-4-eval) / batches
	t.Logf("%.1f launches per training batch (%d for an evaluation); by kernel over both: %v", perBatch, eval, dev.n)
	if perBatch > want {
		t.Fatalf("%.1f launches per training batch, want at most %d", perBatch, want)
	}
	if dev.n["dg_update_if"] != 4*batches {
		t.Fatalf("dg_update_if launched %d times in %d batches, want one per optimiser group (4) and batch", dev.n["dg_update_if"], batches)
	}
}
