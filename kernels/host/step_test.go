//go:build cgo

package host

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/kernels"
	"github.com/delgrad-go/delgrad/trainer"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

// The training step on the device (kernels' stepper, here on the CPU
// device) trains like the trainer's own step on the Go engine: the same
// accuracy, bumps and clipped gradients every epoch, and the same losses
// and parameters, bit for bit.
func TestDeviceStepMatchesTrainer(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*trainer.Config)
	}{
		{"axonal_mse", func(c *trainer.Config) {}},
		// "warp_": the per-(sample, neuron) kernels run a warp per pair.
		{"warp_kernels_synaptic", func(c *trainer.Config) {
			for l := range c.Layers {
				c.Layers[l].Delay.Kind = "synaptic"
			}
		}},
		{"clipped_gradients", func(c *trainer.Config) {
			small := 1e-3 // max_dw_norm: many (sample, neuron) pairs clipped
			c.Neuron.MaxDWNorm = &small
		}},
		{"no_delays", func(c *trainer.Config) {
			for l := range c.Layers {
				c.Layers[l].Delay.Kind = "none"
			}
		}},
		{"synaptic_ttfs_noise_schedule", func(c *trainer.Config) {
			// The learning rates change every epoch: they reach the
			// recorded batches through the Adam table, not as arguments.
			c.Training.Schedule.StepSize, c.Training.Schedule.Gamma = 1, 0.5
			for l := range c.Layers {
				c.Layers[l].Delay.Kind = "synaptic"
			}
			c.Training.Loss.Type = "ttfs"
			c.Training.NoiseStd = 0.1
		}},
		{"dendritic_clip_round_equaltau", func(c *trainer.Config) {
			for l := range c.Layers {
				c.Layers[l].Delay.Kind = "dendritic"
				c.Layers[l].Delay.Positivity = "clip"
				c.Layers[l].Delay.Mean = 0.3
			}
			one := 1.0
			c.Neuron.TauMem = &one
			c.Training.RoundWeights = 1.0 / 30
			c.Training.ClipWeights = 2.1
		}},
		{"large_batches", func(c *trainer.Config) {
			// 4500 samples: a batch above countAsFound's 4096, whose counts
			// are summed in chunks, then one of 404, counted as it goes.
			c.Training.BatchSize = 4096 + 4
			c.Layers[0].WeightsMean = 0.5 // bumps, decided on those counts, then steps
			c.Training.BumpValue = 0.2
		}},
		{"bumps_partial_batch", func(c *trainer.Config) {
			c.Layers[0].WeightsMean = 0.1
			c.Training.BumpTargeted = false
			c.Training.BatchSize = 30 // 200 samples: 6 batches of 30, one of 20
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := axonalConfig(25, 50, 12, 3)
			cfg.Name = c.name
			c.edit(&cfg)
			n := 200
			if cfg.Training.BatchSize > 4096 {
				n = 4500
			}
			data := trainer.Data{Train: dataset.YinYang(n, 7), Validation: dataset.YinYang(50, 8), Test: dataset.YinYang(50, 9)}
			host, err := trainer.NewTrainer(cfg, data, batch.NewCPU(1))
			if err != nil {
				t.Fatal(err)
			}
			// The device records batches and replays them (CUDA graphs'
			// semantics, see recorder).
			eng, rec := newRecorder()
			defer eng.Release()
			if strings.HasPrefix(c.name, "warp_") {
				warp := func(int64, int64) bool { return true }
				eng.WarpSearch, eng.WarpNeuron, eng.WarpRows = warp, warp, warp
			}
			dev := deviceTrainer(t, cfg, data, eng)
			bumps, clipped := 0, 0
			for e := 0; e < 4; e++ {
				a, err := host.RunEpoch(nil)
				if err != nil {
					t.Fatal(err)
				}
				// Odd epochs run with a progress report, so the device runs
				// them in parts (one batch each here), which must not change
				// a bit.
				var prog trainer.Progress
				done := 0
				if e%2 == 1 {
					prog = func(d, total int, loss, acc float64) {
						if d <= done || d > total {
							t.Fatalf("progress %d of %d after %d", d, total, done)
						}
						done = d
					}
				}
				b, err := dev.RunEpoch(prog)
				if err != nil {
					t.Fatal(err)
				}
				if prog != nil && done != data.Train.N {
					t.Fatalf("progress ended at %d of %d samples", done, data.Train.N)
				}
				bumps += a.Bumps
				clipped += a.Clipped
				if a.TrainAcc != b.TrainAcc || a.ValAcc != b.ValAcc || a.Bumps != b.Bumps || a.Clipped != b.Clipped ||
					!same(a.TrainLoss, b.TrainLoss) || !same(a.ValLoss, b.ValLoss) {
					t.Fatalf("epoch %d: host %+v\ndevice %+v", e+1, a, b)
				}
			}
			worst := 0.0
			for l := range host.Model.W {
				for i, v := range host.Model.W[l] {
					worst = max(worst, math.Abs(v-dev.Model.W[l][i]))
					if !same(v, dev.Model.W[l][i]) {
						t.Fatalf("weight %d of layer %d: host %.17g, device %.17g after 4 epochs", i, l, v, dev.Model.W[l][i])
					}
				}
				for i, v := range host.Model.Theta[l] {
					worst = max(worst, math.Abs(v-dev.Model.Theta[l][i]))
					if !same(v, dev.Model.Theta[l][i]) {
						t.Fatalf("delay parameter %d of layer %d: host %.17g, device %.17g after 4 epochs", i, l, v, dev.Model.Theta[l][i])
					}
				}
			}
			if host.Opt.Step != dev.Opt.Step {
				t.Fatalf("optimiser steps %d (host), %d (device)", host.Opt.Step, dev.Opt.Step)
			}
			t.Logf("%s: %d bumps, %d clipped, %d steps, largest parameter difference %.2g", c.name, bumps, clipped, host.Opt.Step, worst)
			if (c.name == "bumps_partial_batch" || c.name == "large_batches") && bumps == 0 {
				t.Fatal("the bump case did not bump")
			}
			if c.name == "clipped_gradients" && clipped == 0 {
				t.Fatal("the clipping case clipped nothing")
			}
			minReplays := 10
			if c.name == "large_batches" { // one full batch an epoch
				minReplays = 1
			}
			if rec.records == 0 || rec.replays < minReplays {
				t.Fatalf("%d recordings, %d replays: the recorded batches were not used", rec.records, rec.replays)
			}
		})
	}
}

// same reports whether a and b are the same bits (NaN matches NaN), or,
// where the Go compiler fuses multiply-adds (testnet.GoFuses), the same to 1e-9.
func same(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if testnet.GoFuses() {
		return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	return math.Float64bits(a) == math.Float64bits(b)
}

// Two steppers on one engine keep their own state: trainers of different
// sizes, trained in turn on one CPU device, each match their host twin.
func TestSteppersShareAnEngine(t *testing.T) {
	eng, rec := newRecorder()
	defer eng.Release()
	data := trainer.Data{Train: dataset.YinYang(100, 7), Validation: dataset.YinYang(30, 8), Test: dataset.YinYang(30, 9)}
	mk := func(hidden int, e interface{}) *trainer.Trainer {
		cfg := trainer.Defaults()
		for _, n := range []int{hidden, 3} {
			l := trainer.DefaultLayer()
			l.Size = n
			l.Delay.Kind = "axonal"
			cfg.Layers = append(cfg.Layers, l)
		}
		cfg.Training.BatchSize = 20
		var tr *trainer.Trainer
		var err error
		if e == nil {
			tr, err = trainer.NewTrainer(cfg, data, batch.NewCPU(1))
		} else {
			tr, err = trainer.NewTrainer(cfg, data, eng)
		}
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	a, b := mk(12, eng), mk(40, eng)
	ha, hb := mk(12, nil), mk(40, nil)
	for e := 0; e < 3; e++ {
		for _, p := range [][2]*trainer.Trainer{{a, ha}, {b, hb}} {
			md, err := p[0].RunEpoch(nil)
			if err != nil {
				t.Fatal(err)
			}
			mh, err := p[1].RunEpoch(nil)
			if err != nil {
				t.Fatal(err)
			}
			if md.TrainAcc != mh.TrainAcc || md.ValAcc != mh.ValAcc || md.Bumps != mh.Bumps {
				t.Fatalf("epoch %d: device %+v, host %+v", e+1, md, mh)
			}
		}
	}
	// The steppers recorded their batches, and re-recorded them whenever
	// the other had changed the shared layer constants.
	if rec.replays == 0 {
		t.Fatal("no recorded batch was replayed")
	}
}

// Run refuses inputs that do not fit, naming what is wrong, and leaves the
// state alone.
func TestRunRejectsBadInput(t *testing.T) {
	eng := New()
	defer eng.Release()
	net := testnet.Net(rand.New(rand.NewPCG(1, 2)), testnet.Spec{TauMem: 2, Sizes: []int{4, 5, 3}})
	st, err := eng.NewStepper(batch.StepSpec{Net: net, Loss: "shift_mse", DeltaT: 0.2, TauSyn: 1, Beta1: 0.9,
		Beta2: 0.999, AdamEps: 1e-8, Delays: make([]batch.DelayParam, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in, labels := make([]float64, 8), []int{0, 2}
	lr, rule := []float64{0.1, 0.1}, batch.BumpRule{MaxMissing: []float64{0.3, 0}}
	for _, c := range []struct {
		name, want string
		in         []float64
		labels     []int
		b          int
		lr         []float64
		rule       batch.BumpRule
	}{
		{"short input", "7 input times for 2 samples", in[:7], labels, 2, lr, rule},
		{"label", "label 3 of sample 1 out of range", in, []int{0, 3}, 2, lr, rule},
		{"no samples", "0 samples", nil, nil, 2, lr, rule},
		{"batch size", "in batches of 0", in, labels, 0, lr, rule},
		{"learning rates", "1 learning rates for 2 groups", in, labels, 2, lr[:1], rule},
		{"thresholds", "1 bump thresholds for 2 layers", in, labels, 2, lr, batch.BumpRule{MaxMissing: []float64{0.3}}},
	} {
		rs := batch.RunState{Step: 5, LastBumped: -1}
		err := st.Run(c.in, c.labels, c.b, c.lr, c.rule, &rs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if rs != (batch.RunState{Step: 5, LastBumped: -1}) {
			t.Errorf("%s: state changed to %+v", c.name, rs)
		}
	}
}

// After the engine's buffers are released (Engine.Release frees the
// stepper's too), a trainer's device step refuses to run, naming why,
// instead of using freed memory.
func TestStepperAfterRelease(t *testing.T) {
	eng, _ := newRecorder()
	defer eng.Release()
	cfg := trainer.Defaults()
	for _, n := range []int{8, 3} {
		l := trainer.DefaultLayer()
		l.Size = n
		cfg.Layers = append(cfg.Layers, l)
	}
	cfg.Training.BatchSize = 20
	data := trainer.Data{Train: dataset.YinYang(100, 7), Validation: dataset.YinYang(30, 8), Test: dataset.YinYang(30, 9)}
	tr, err := trainer.NewTrainer(cfg, data, eng)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.RunEpoch(nil); err != nil {
		t.Fatal(err)
	}
	if err := eng.Release(); err != nil {
		t.Fatal(err)
	}
	_, err = tr.RunEpoch(nil)
	if err == nil || !strings.Contains(err.Error(), "released") {
		t.Fatalf("RunEpoch after Release: error %v, want one saying the buffers were released", err)
	}
}

// deviceTrainer returns a trainer on eng and fails unless its training
// steps run on the device (kernels' stepper).
func deviceTrainer(t *testing.T, cfg trainer.Config, data trainer.Data, eng *kernels.Engine) *trainer.Trainer {
	t.Helper()
	tr, err := trainer.NewTrainer(cfg, data, eng)
	if err != nil {
		t.Fatal(err)
	}
	if tr.DeviceNote != "training steps run on the device" {
		t.Fatalf("the device step is not used: %s", tr.DeviceNote)
	}
	return tr
}

// axonalConfig returns the trainer's defaults for a network of the given
// layer sizes with axonal delays (theta ~ N(0, 0.25)) on every layer,
// training in batches of b and evaluating in batches of eb.
func axonalConfig(b, eb int, sizes ...int) trainer.Config {
	cfg := trainer.Defaults()
	for _, n := range sizes {
		l := trainer.DefaultLayer()
		l.Size = n
		l.Delay.Kind = "axonal"
		l.Delay.Std = 0.25
		cfg.Layers = append(cfg.Layers, l)
	}
	cfg.Training.BatchSize, cfg.Training.EvalBatchSize = b, eb
	return cfg
}
