package trainer

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/bss2model"
)

// TestResumeBitIdentical: a run stopped after epoch 2 and resumed from its
// checkpoint ends bit-identical to an uninterrupted run (parameters,
// optimiser state and the loss/accuracy history), with input noise and
// weight bumping in play.
func TestResumeBitIdentical(t *testing.T) {
	noisy := tinyConfig(8, "synaptic")
	noisy.Training.NoiseStd = 0.1
	noisy.Training.Epochs = 5
	// Hardware-aware: a new chip and new trial noise for every batch.
	hw := tinyConfig(8, "axonal")
	p := bss2model.Defaults()
	p.SpikeJitter, p.TauSynStd = 0.01, 0.02
	hw = onChip(hw, p)
	hw.Training.Epochs = 5
	avg := tinyConfig(8, "axonal")
	avg.Training.Epochs = 5
	avg.Training.Average = AverageConfig{Type: "ema", StartEpoch: 2, Decay: 0.7}
	for name, c := range map[string]Config{"noise": noisy, "bss2": hw, "average": avg} {
		t.Run(name, func(t *testing.T) { testResume(t, c) })
	}
}

func testResume(t *testing.T, c Config) {
	testResumeOn(t, c, batch.NewCPU(2), batch.NewCPU(3), batch.NewCPU(1))
}

// testResumeOn trains c for 5 epochs on full, and for 2 on part, reopens
// that run from disk on re and trains it to 5: the two must end the same,
// bit for bit.
func testResumeOn(t *testing.T, c Config, full0, part0, re0 batch.Engine) {
	data := tinyData()
	full, err := NewRun(t.TempDir(), c, data, full0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Train(5, Hooks{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	part, err := NewRun(dir, c, data, part0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := part.Train(2, Hooks{}); err != nil {
		t.Fatal(err)
	}
	// Reopen from disk, with a different worker count.
	cfg, err := Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	re, err := OpenRunWith(dir, cfg, data, re0)
	if err != nil {
		t.Fatal(err)
	}
	if re.Trainer.Epoch != 2 {
		t.Fatalf("reopened at epoch %d, want 2", re.Trainer.Epoch)
	}
	if !reflect.DeepEqual(part.Trainer.Model.W, re.Trainer.Model.W) || !reflect.DeepEqual(part.Trainer.Model.Theta, re.Trainer.Model.Theta) {
		t.Fatal("reopened parameters differ from the saved ones")
	}
	if !reflect.DeepEqual(part.Trainer.Cfg, re.Trainer.Cfg) {
		t.Fatalf("config changed through config.toml:\n%+v\n%+v", part.Trainer.Cfg, re.Trainer.Cfg)
	}
	if err := re.Train(5, Hooks{}); err != nil {
		t.Fatal(err)
	}
	a, b := full.Trainer, re.Trainer
	bumps := 0
	for e := range a.History {
		ha, hb := a.History[e], b.History[e]
		bumps += ha.Bumps
		same := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
		if !same(ha.TrainLoss, hb.TrainLoss) || ha.TrainAcc != hb.TrainAcc || ha.ValLoss != hb.ValLoss ||
			ha.ValAcc != hb.ValAcc || ha.Bumps != hb.Bumps || !reflect.DeepEqual(ha.LR, hb.LR) {
			t.Fatalf("epoch %d metrics differ: %+v vs %+v", e+1, ha, hb)
		}
	}
	if !reflect.DeepEqual(a.Model.W, b.Model.W) || !reflect.DeepEqual(a.Model.Theta, b.Model.Theta) {
		t.Fatal("parameters differ after resume")
	}
	if !reflect.DeepEqual(a.Opt, b.Opt) {
		t.Fatal("optimiser state differs after resume")
	}
	if !reflect.DeepEqual(a.Best, b.Best) || a.Best.Epoch == 0 {
		t.Fatalf("best-validation snapshot differs after resume (epochs %d, %d)", a.Best.Epoch, b.Best.Epoch)
	}
	if a.BumpValue != b.BumpValue || a.LastBumped != b.LastBumped {
		t.Fatal("bump state differs after resume")
	}
	if !reflect.DeepEqual(a.Avg, b.Avg) {
		t.Fatal("parameter average differs after resume")
	}
	t.Logf("5 epochs, %d bumps", bumps)
}

// TestBump: a layer whose neurons are silent gets its silent neurons'
// weight columns raised (all rows, bias rows too), by a value that doubles
// on consecutive bumps of the same layer.
func TestBump(t *testing.T) {
	c := tinyConfig(4, "none")
	c.Layers[1].BiasTimes = []float64{0}
	tr := newTiny(t, c)
	m := tr.Model
	// Silence hidden neurons 1 and 2 (half the layer, above max_missing 0.3).
	for r := 0; r < m.Net.Layers[0].Rows(); r++ {
		for k := 0; k < 4; k++ {
			m.W[0][r*4+k] = 1.5
			if k == 1 || k == 2 {
				m.W[0][r*4+k] = -1
			}
		}
	}
	set := tr.Data.Train
	in := append([]float64(nil), set.Times[:10*set.F]...)
	lr := tr.LR(0)
	before := clone(m.W)
	_, stepped, _, _, err := tr.step(in, set.Labels[:10], lr)
	if err != nil {
		t.Fatal(err)
	}
	if stepped || tr.LastBumped != 0 {
		t.Fatalf("stepped=%v lastBumped=%d: want a bump of layer 0", stepped, tr.LastBumped)
	}
	for r := 0; r < m.Net.Layers[0].Rows(); r++ {
		for k := 0; k < 4; k++ {
			d := m.W[0][r*4+k] - before[0][r*4+k]
			want := 0.0
			if k == 1 || k == 2 {
				want = c.Training.BumpValue
			}
			if math.Abs(d-want) > 1e-15 {
				t.Fatalf("row %d neuron %d moved by %v, want %v", r, k, d, want)
			}
		}
	}
	if !reflect.DeepEqual(before[1], m.W[1]) {
		t.Fatal("bump of layer 0 changed layer 1")
	}
	if tr.Opt.Step != 0 {
		t.Fatal("a bumped batch took an optimiser step")
	}
	tr.step(in, set.Labels[:10], lr)
	if tr.BumpValue != 2*c.Training.BumpValue {
		t.Fatalf("second consecutive bump %v, want doubled %v", tr.BumpValue, 2*c.Training.BumpValue)
	}
}

// TestCheckpointSurvivesKill kills a process that rewrites the checkpoint
// in a loop, at a random point, and checks that the file on disk still
// loads (the previous or the new checkpoint, never a torn one).
func TestCheckpointSurvivesKill(t *testing.T) {
	if os.Getenv("DELGRAD_CKPT_WRITER") != "" {
		checkpointWriter(os.Getenv("DELGRAD_CKPT_WRITER"))
		return
	}
	if testing.Short() {
		t.Skip("spawns a subprocess")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, CheckpointFile)
	for i, wait := range []time.Duration{150 * time.Millisecond, 230 * time.Millisecond, 310 * time.Millisecond} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointSurvivesKill$")
		cmd.Env = append(os.Environ(), "DELGRAD_CKPT_WRITER="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(wait)
		cmd.Process.Kill()
		cmd.Wait()
		tr := bigTrainer(t)
		if err := tr.LoadCheckpoint(path); err != nil {
			t.Fatalf("kill %d: the checkpoint left behind does not load: %v", i, err)
		}
		if tr.Epoch < 1 {
			t.Fatalf("kill %d: loaded epoch %d", i, tr.Epoch)
		}
	}
	// A torn file is detected, not silently loaded.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, raw[:len(raw)/2], 0o644)
	if err := bigTrainer(t).LoadCheckpoint(path); err == nil {
		t.Fatal("a truncated checkpoint loaded without error")
	}
}

// bigTrainer has enough parameters that a checkpoint write takes a while.
func bigTrainer(t testing.TB) *Trainer {
	c := tinyConfig(400, "synaptic")
	tr, err := NewTrainer(c, tinyData(), batch.NewCPU(1))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// checkpointWriter runs in the child process: it writes checkpoints of
// growing epoch numbers until it is killed.
func checkpointWriter(path string) {
	tr := bigTrainer(nil)
	for e := 1; ; e++ {
		tr.Epoch = e
		for l := range tr.Model.W {
			for j := range tr.Model.W[l] {
				tr.Model.W[l][j] = float64(e)
			}
		}
		if err := tr.SaveCheckpoint(path); err != nil {
			os.Exit(3)
		}
	}
}

// TestCheckpointVersion1: a checkpoint labelled version 1 (written before
// the best-validation snapshot existed) is still accepted and restores the
// state; an unknown version is refused.
func TestCheckpointVersion1(t *testing.T) {
	tr := newTiny(t, tinyConfig(4, "axonal"))
	if _, err := tr.RunEpoch(nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), CheckpointFile)
	if err := tr.SaveCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	raw[len(checkpointMagic)] = 1
	body := raw[:len(raw)-4]
	binary.BigEndian.PutUint32(raw[len(raw)-4:], crc32.ChecksumIEEE(body))
	os.WriteFile(path, raw, 0o644)
	re := newTiny(t, tinyConfig(4, "axonal"))
	if err := re.LoadCheckpoint(path); err != nil {
		t.Fatal(err)
	}
	if re.Epoch != 1 || !reflect.DeepEqual(re.Model.W, tr.Model.W) {
		t.Fatal("version-1 checkpoint did not restore the state")
	}
	raw[len(checkpointMagic)] = 9
	os.WriteFile(path, raw, 0o644)
	if err := re.LoadCheckpoint(path); err == nil {
		t.Fatal("an unknown checkpoint version loaded")
	}
}

// With every chip term off, hardware-aware training is training on the
// engine: the same parameters and metrics, bit for bit.
func TestIdealChipIsEngine(t *testing.T) {
	for _, kind := range []string{"none", "axonal", "dendritic"} {
		t.Run(kind, func(t *testing.T) {
			c := tinyConfig(8, kind)
			c.Training.Epochs = 3
			plain := newTiny(t, c)
			p := bss2model.Ideal()
			c.BSS2 = &p
			chip := newTiny(t, c)
			for e := 0; e < 3; e++ {
				ma, err := plain.RunEpoch(nil)
				if err != nil {
					t.Fatal(err)
				}
				mb, err := chip.RunEpoch(nil)
				if err != nil {
					t.Fatal(err)
				}
				same := ma.TrainLoss == mb.TrainLoss || (math.IsNaN(ma.TrainLoss) && math.IsNaN(mb.TrainLoss))
				if !same || ma.Bumps != mb.Bumps || ma.TrainAcc != mb.TrainAcc || ma.ValAcc != mb.ValAcc || ma.ValLoss != mb.ValLoss {
					t.Fatalf("epoch %d: %+v on the engine, %+v on the ideal chip", e+1, ma, mb)
				}
			}
			if !reflect.DeepEqual(plain.Model.W, chip.Model.W) || !reflect.DeepEqual(plain.Model.Theta, chip.Model.Theta) {
				t.Fatal("parameters differ")
			}
		})
	}
}
