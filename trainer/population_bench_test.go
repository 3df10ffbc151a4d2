package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/configs"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

// benchConfig reads a built-in config.
func benchConfig(b *testing.B, name string) Config {
	f, err := configs.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// randomSet is n samples of f random input times in [0.15, 2] (a fraction
// pInf missing) with random labels of k classes.
func randomSet(rng *rand.Rand, n, f, k int, pInf float64) *dataset.Set {
	s := &dataset.Set{Name: "random", N: n, F: f, Classes: k, Times: make([]float64, n*f), Labels: make([]int, n)}
	for i := range s.Times {
		s.Times[i] = math.Inf(1)
		if rng.Float64() >= pInf {
			s.Times[i] = 0.15 + 1.85*rng.Float64()
		}
	}
	for i := range s.Labels {
		s.Labels[i] = rng.IntN(k)
	}
	return s
}

// BenchmarkPopulationEpoch: training epochs of K members with the configs'
// batch sizes (Yin-Yang H30_WA at B = 150 on 1500 samples, 16x16 MNIST at
// B = 50 on 500 random samples of its shape), as one population and as K
// trainers one after another, on all cores; aggregate training samples/s.
func BenchmarkPopulationEpoch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		cfg  string
		data Data
	}{
		{"yinyang_H30_WA/B150", "yin_yang_H30_WA", Data{Train: dataset.YinYang(1500, 42), Validation: dataset.YinYang(1, 41), Test: dataset.YinYang(1, 40)}},
		{"16x16_mnist/B50", "16x16_mnist", Data{Train: randomSet(rng, 500, 256, 10, 0.5), Validation: randomSet(rng, 1, 256, 10, 0.5), Test: randomSet(rng, 1, 256, 10, 0.5)}},
	}
	for _, c := range cases {
		for _, k := range []int{1, 4, 16} {
			for _, mode := range []string{"population", "singles"} {
				b.Run(fmt.Sprintf("%s/K%d/%s", c.name, k, mode), func(b *testing.B) {
					eng := batch.NewCPU(0)
					var ts []*Trainer
					all := make([]int, k)
					for m := range all {
						cfg := benchConfig(b, c.cfg)
						cfg.Seed, all[m] = uint64(m+1), m
						t, err := NewTrainer(cfg, c.data, eng)
						if err != nil {
							b.Fatal(err)
						}
						ts = append(ts, t)
					}
					pop, err := NewPopulation(ts)
					if err != nil {
						b.Fatal(err)
					}
					for b.Loop() {
						if mode == "population" {
							for _, err := range func() []error { _, e := pop.RunEpoch(all, nil); return e }() {
								if err != nil {
									b.Fatal(err)
								}
							}
							continue
						}
						for _, t := range ts {
							if _, err := t.RunEpoch(nil); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.ReportMetric(float64(b.N*k*c.data.Train.N)/b.Elapsed().Seconds(), "samples/s")
				})
			}
		}
	}
}
