package trainer

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

// TestTrainContextStops: a run whose context is canceled during epoch 3
// finishes that epoch, checkpoints it although checkpoint_every is larger,
// reports the cancellation, and a resume from that checkpoint ends
// bit-identical to an uninterrupted run.
func TestTrainContextStops(t *testing.T) {
	c := tinyConfig(8, "axonal")
	c.Training.NoiseStd = 0.1
	c.Training.Epochs = 5
	c.Training.CheckpointEvery = 10
	data := tinyData()
	full, err := NewRun(t.TempDir(), c, data, batch.NewCPU(2), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Train(5, Hooks{}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	part, err := NewRun(dir, c, data, batch.NewCPU(2), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := Hooks{EpochStart: func(e, total int) {
		if e == 3 {
			cancel()
		}
	}}
	err = part.TrainContext(ctx, 5, h)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("TrainContext after cancel: %v, want context.Canceled", err)
	}
	if part.Trainer.Epoch != 3 || part.Checkpointed() != 3 {
		t.Fatalf("stopped at epoch %d with checkpoint %d, want both 3 (the epoch under way finishes)", part.Trainer.Epoch, part.Checkpointed())
	}
	// A canceled context before any epoch stops at once and writes no
	// checkpoint beyond the new run's epoch-0 one.
	idle, err := NewRun(t.TempDir(), c, data, batch.NewCPU(1), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.TrainContext(ctx, 5, Hooks{}); !errors.Is(err, context.Canceled) || idle.Trainer.Epoch != 0 || idle.Checkpointed() != 0 {
		t.Fatalf("canceled before epoch 1: %v, epoch %d, checkpoint %d", err, idle.Trainer.Epoch, idle.Checkpointed())
	}

	cfg, err := Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	re, err := OpenRunWith(dir, cfg, data, batch.NewCPU(1))
	if err != nil {
		t.Fatal(err)
	}
	if re.Trainer.Epoch != 3 {
		t.Fatalf("reopened at epoch %d, want 3", re.Trainer.Epoch)
	}
	if err := re.Train(5, Hooks{}); err != nil {
		t.Fatal(err)
	}
	a, b := full.Trainer, re.Trainer
	if !reflect.DeepEqual(a.Model.W, b.Model.W) || !reflect.DeepEqual(a.Model.Theta, b.Model.Theta) || !reflect.DeepEqual(a.Opt, b.Opt) {
		t.Fatal("parameters or optimiser state differ after an interrupted run's resume")
	}
	if len(a.History) != len(b.History) {
		t.Fatalf("history: %d epochs vs %d", len(a.History), len(b.History))
	}
	for e := range a.History {
		if ha, hb := a.History[e], b.History[e]; ha.ValLoss != hb.ValLoss || ha.ValAcc != hb.ValAcc || ha.TrainAcc != hb.TrainAcc {
			t.Fatalf("epoch %d metrics differ: %+v vs %+v", e+1, ha, hb)
		}
	}
}
