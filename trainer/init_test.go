package trainer

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/configs"
)

// TestFineTuneReference holds the training dynamics against the
// reference's own numbers: the reference's pretrained networks, trained on
// with their own configuration at the learning rate the reference reaches
// by epoch 300, keep their published test accuracy (within 1.5 points: a
// few epochs of Adam move a network around its optimum). A gradient or
// update rule that differs from the reference's would walk them away.
func TestFineTuneReference(t *testing.T) {
	root := filepath.Join("..", "..", "shared", "reference")
	if _, err := os.Stat(root); err != nil {
		t.Skip("../shared/reference not present")
	}
	for _, name := range []string{"yin_yang_H30_WA", "yin_yang_H30_WS", "yin_yang_H5_WS"} {
		t.Run(name, func(t *testing.T) {
			ref, err := batch.LoadReference(filepath.Join(root, name))
			if err != nil {
				t.Fatal(err)
			}
			f, err := configs.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Parse(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			cfg.Training.Schedule.Type = "none"
			scale := stepLR(1, Defaults().Training.Schedule, 299)
			cfg.Training.LearningRate *= scale
			for i := range cfg.Layers {
				for _, p := range []**float64{&cfg.Layers[i].LearningRate, &cfg.Layers[i].Delay.LearningRate} {
					if *p != nil {
						v := **p * scale
						*p = &v
					}
				}
			}
			data, err := LoadData(&cfg, ".")
			if err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrainer(cfg, data, batch.NewCPU(2))
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.InitFromReference(ref); err != nil {
				t.Fatal(err)
			}
			ev, err := tr.Evaluate(data.Test)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Accuracy != ref.ExpectedAccuracy {
				t.Fatalf("loaded network: test accuracy %v, the reference reports %v", ev.Accuracy, ref.ExpectedAccuracy)
			}
			sum := 0.0
			const epochs = 6
			for e := 0; e < epochs; e++ {
				if _, err := tr.RunEpoch(nil); err != nil {
					t.Fatal(err)
				}
				ev, err := tr.Evaluate(data.Test)
				if err != nil {
					t.Fatal(err)
				}
				sum += ev.Accuracy
			}
			mean := sum / epochs
			t.Logf("%s: %.3f at the start, mean %.4f over %d epochs of training", name, ref.ExpectedAccuracy, mean, epochs)
			if mean < ref.ExpectedAccuracy-0.015 {
				t.Fatalf("training moved the pretrained network from %.3f to a mean of %.4f", ref.ExpectedAccuracy, mean)
			}
		})
	}
}

// TestInitFromMismatch: a network of another shape is refused.
func TestInitFromMismatch(t *testing.T) {
	tr := newTiny(t, tinyConfig(5, "axonal"))
	other := newTiny(t, tinyConfig(6, "axonal"))
	if err := tr.InitFrom(other.Model.Net, nil); err == nil {
		t.Fatal("a 4-6-3 network loaded into a 4-5-3 configuration")
	}
	c2 := tinyConfig(5, "axonal")
	thr := 1.5
	c2.Neuron.Threshold = &thr
	if err := tr.InitFrom(newTiny(t, c2).Model.Net, nil); err == nil {
		t.Fatal("a network with another threshold loaded")
	}
	c3 := tinyConfig(5, "axonal")
	c3.Layers[1].BiasTimes = []float64{0.5}
	c4 := tinyConfig(5, "axonal")
	c4.Layers[1].BiasTimes = []float64{0.2}
	if err := newTiny(t, c3).InitFrom(newTiny(t, c4).Model.Net, nil); err == nil {
		t.Fatal("a network with other bias times loaded")
	}
	c := tinyConfig(5, "axonal")
	c.Seed = 99 // other initial weights and delays
	same := newTiny(t, c)
	same.Model.W[0][0] = 0.123
	same.Model.Sync()
	if same.Model.Net.Layers[0].D()[0] == tr.Model.Net.Layers[0].D()[0] {
		t.Fatal("both trainers start with the same delays: the copy is untested")
	}
	before := clone(tr.Model.W)
	if err := tr.InitFrom(same.Model.Net, [][]float64{{1, 2}}); err == nil {
		t.Fatal("a theta of the wrong length was accepted")
	}
	if !reflect.DeepEqual(before, tr.Model.W) {
		t.Fatal("a failed InitFrom changed the weights")
	}
	if err := tr.InitFrom(same.Model.Net, nil); err != nil {
		t.Fatal(err)
	}
	if tr.Model.W[0][0] != 0.123 {
		t.Fatal("weights not copied")
	}
	for j, v := range tr.Model.Net.Layers[0].D() {
		if d := same.Model.Net.Layers[0].D()[j]; v-d > 1e-12 || d-v > 1e-12 {
			t.Fatalf("delay %d: %v after recovering theta from the delays, want %v", j, v, d)
		}
	}
}
