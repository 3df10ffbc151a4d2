package trainer

import (
	"github.com/delgrad-go/delgrad/bss2model"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

// tinyConfig is a small Yin-Yang network: 4 inputs (x mux), hidden, 3
// outputs, with the given delay kind on both layers.
func tinyConfig(hidden int, kind string) Config {
	c := Defaults()
	c.Name = "tiny"
	for _, n := range []int{hidden, 3} {
		l := DefaultLayer()
		l.Size = n
		l.Delay.Kind = kind
		l.Delay.Std = 0.25
		c.Layers = append(c.Layers, l)
	}
	c.Training.Epochs = 4
	c.Training.BatchSize = 25
	c.Training.EvalBatchSize = 40
	return c
}

// tinyData is a small Yin-Yang dataset drawn with the real generator.
func tinyData() Data {
	return Data{Train: dataset.YinYang(100, 7), Validation: dataset.YinYang(40, 8), Test: dataset.YinYang(40, 9)}
}

func newTiny(t *testing.T, c Config) *Trainer {
	t.Helper()
	tr, err := NewTrainer(c, tinyData(), batch.NewCPU(2))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// onChip makes c hardware-aware with the chip model p, in the ranges the
// chip realises: weights clipped to +-2.1 and delays (where c has them) in
// 2..3.5 tau_syn, as the hardware-aware configs have them.
func onChip(c Config, p bss2model.Params) Config {
	c.BSS2 = &p
	c.Training.ClipWeights = p.WeightLimit()
	for i := range c.Layers {
		c.Layers[i].Delay.SigmoidShift, c.Layers[i].Delay.SigmoidScale = 2, 1.5
	}
	return c
}
