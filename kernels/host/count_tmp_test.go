package host

import (
	"fmt"
	"sort"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/kernels"
	"github.com/delgrad-go/delgrad/trainer"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

type countDev struct {
	*Device
	n map[string]int
}

func (c *countDev) Launch(name string, n int64, args ...any) error {
	c.n[name]++
	return c.Device.Launch(name, n, args...)
}

func TestTmpCount(t *testing.T) {
	cfg := trainer.Defaults()
	for _, n := range []int{30, 3} {
		l := trainer.DefaultLayer()
		l.Size = n
		l.Delay.Kind = "axonal"
		l.Delay.Std = 0.25
		cfg.Layers = append(cfg.Layers, l)
	}
	cfg.Training.BatchSize, cfg.Training.EvalBatchSize = 150, 200
	data := trainer.Data{Train: dataset.YinYang(1500, 7), Validation: dataset.YinYang(50, 8), Test: dataset.YinYang(50, 9)}
	cd := &countDev{&Device{mem: map[kernels.Ptr]allocation{}}, map[string]int{}}
	eng := kernels.NewEngine(cd)
	dev, err := trainer.NewTrainer(cfg, data, eng)
	if err != nil {
		t.Fatal(err)
	}
	_ = batch.NewCPU
	if _, err := dev.RunEpoch(nil); err != nil {
		t.Fatal(err)
	}
	var names []string
	tot := 0
	for k, v := range cd.n {
		names = append(names, fmt.Sprintf("%-16s %.1f", k, float64(v)/10))
		tot += v
	}
	sort.Strings(names)
	for _, s := range names {
		t.Log(s)
	}
	t.Logf("total per batch (incl. validation) %.1f", float64(tot)/10)
}
