//go:build cgo

package host

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/trainer"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

// A population trained on the device (one population stepper: each batch
// of all members one batched pass, recorded and replayed) ends, member by
// member, bit for bit where each member ends trained alone on the device
// and on the Go engine: metrics, parameters, optimiser and bump state,
// best snapshot. Members have their own seeds and learning rates, so that
// some bump while others step; K = 1, 3 and 17.
func TestPopulationDeviceMatchesSingles(t *testing.T) {
	for _, c := range []struct {
		name string
		k    int
		edit func(*trainer.Config)
	}{
		{"axonal_bumps", 3, func(c *trainer.Config) { c.Layers[0].WeightsMean = 0.3 }},
		{"one", 1, func(c *trainer.Config) {}},
		{"synaptic_ttfs_noise_schedule", 3, func(c *trainer.Config) {
			c.Training.Schedule.StepSize, c.Training.Schedule.Gamma = 1, 0.5
			for l := range c.Layers {
				c.Layers[l].Delay.Kind = "synaptic"
			}
			c.Training.Loss.Type = "ttfs"
			c.Training.NoiseStd = 0.1
		}},
		{"dendritic_clip_round_equaltau", 3, func(c *trainer.Config) {
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
		{"many_partial_batch", 17, func(c *trainer.Config) {
			c.Layers[0].WeightsMean = 0.3
			c.Training.BatchSize = 30 // 200 samples: 6 batches of 30, one of 20
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := trainer.Data{Train: dataset.YinYang(200, 7), Validation: dataset.YinYang(50, 8), Test: dataset.YinYang(50, 9)}
			cfgs := make([]trainer.Config, c.k)
			for m := range cfgs {
				cfg := axonalConfig(25, 50, 12, 3)
				cfg.Name = c.name
				c.edit(&cfg)
				cfg.Seed = uint64(m + 1)
				if m%3 == 1 {
					cfg.Training.LearningRate *= 3
				}
				cfgs[m] = cfg
			}
			eng, rec := newRecorder()
			defer eng.Release()
			var members []*trainer.Trainer
			for _, cfg := range cfgs {
				members = append(members, deviceTrainer(t, cfg, data, eng))
			}
			pop, err := trainer.NewPopulation(members)
			if err != nil {
				t.Fatal(err)
			}
			defer pop.Close()
			all := make([]int, c.k)
			for m := range all {
				all[m] = m
			}
			const epochs = 3
			for e := 0; e < epochs; e++ {
				var prog trainer.Progress
				if e == 1 {
					prog = func(done, total int, loss, acc float64) {} // the epoch runs in parts
				}
				_, errs := pop.RunEpoch(all, prog)
				for m, err := range errs {
					if err != nil {
						t.Fatalf("member %d: %v", m, err)
					}
				}
			}
			bumps, steps := 0, 0
			for m, cfg := range cfgs {
				alone, _ := newRecorder()
				single := deviceTrainer(t, cfg, data, alone)
				host, err := trainer.NewTrainer(cfg, data, batch.NewCPU(1))
				if err != nil {
					t.Fatal(err)
				}
				for e := 0; e < epochs; e++ {
					if _, err := single.RunEpoch(nil); err != nil {
						t.Fatal(err)
					}
					if _, err := host.RunEpoch(nil); err != nil {
						t.Fatal(err)
					}
				}
				for _, ref := range []struct {
					name string
					t    *trainer.Trainer
				}{{"alone on the device", single}, {"on the Go engine", host}} {
					sameTrainer(t, fmt.Sprintf("member %d against %s", m, ref.name), ref.t, members[m])
				}
				for _, h := range host.History {
					bumps += h.Bumps
				}
				steps += host.Opt.Step
				alone.Release()
			}
			if (c.name == "axonal_bumps" || c.name == "many_partial_batch") && (bumps == 0 || steps == 0) {
				t.Fatalf("%d bumps and %d steps: the population does not mix bumping and stepping members", bumps, steps)
			}
			if rec.records == 0 || rec.replays == 0 {
				t.Fatalf("%d recordings, %d replays: the population's batches were not recorded", rec.records, rec.replays)
			}
			if rec.members != int64(c.k) {
				t.Fatalf("the largest population stepped at once had %d members, not %d: the members did not share a stepper", rec.members, c.k)
			}
			t.Logf("%d members: %d bumps, %d steps, %d replays", c.k, bumps, steps, rec.replays)
		})
	}
}

// sameTrainer fails t unless b's training state is a's, bit for bit (the
// wall times aside).
func sameTrainer(t *testing.T, name string, a, b *trainer.Trainer) {
	t.Helper()
	bits := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }
	if a.Epoch != b.Epoch || len(a.History) != len(b.History) {
		t.Fatalf("%s: epochs %d and %d", name, a.Epoch, b.Epoch)
	}
	for e := range a.History {
		ha, hb := a.History[e], b.History[e]
		if !bits(ha.TrainLoss, hb.TrainLoss) || !bits(ha.TrainAcc, hb.TrainAcc) || !bits(ha.ValLoss, hb.ValLoss) ||
			!bits(ha.ValAcc, hb.ValAcc) || ha.Bumps != hb.Bumps || ha.Clipped != hb.Clipped || !reflect.DeepEqual(ha.LR, hb.LR) {
			t.Fatalf("%s: epoch %d metrics differ:\n%+v\n%+v", name, e+1, ha, hb)
		}
	}
	for l := range a.Model.W {
		for i := range a.Model.W[l] {
			if !same(a.Model.W[l][i], b.Model.W[l][i]) {
				t.Fatalf("%s: weight %d of layer %d: %.17g, %.17g", name, i, l, a.Model.W[l][i], b.Model.W[l][i])
			}
		}
		for i := range a.Model.Theta[l] {
			if !same(a.Model.Theta[l][i], b.Model.Theta[l][i]) {
				t.Fatalf("%s: delay parameter %d of layer %d differs", name, i, l)
			}
		}
	}
	if !reflect.DeepEqual(a.Opt, b.Opt) || a.BumpValue != b.BumpValue || a.LastBumped != b.LastBumped {
		t.Fatalf("%s: optimiser or bump state differs", name)
	}
	if !reflect.DeepEqual(a.Best, b.Best) {
		t.Fatalf("%s: best-validation snapshot differs", name)
	}
}
