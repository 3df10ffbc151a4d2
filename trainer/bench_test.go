package trainer

import (
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/configs"
)

// BenchmarkTrainEpoch measures whole training epochs (shuffle, forward,
// bump check, backward, Adam step, validation) of the built-in Yin-Yang
// configs on the CPU engine, in training samples per second.
func BenchmarkTrainEpoch(b *testing.B) {
	for _, name := range []string{"yin_yang_H30_W", "yin_yang_H30_WA", "yin_yang_H30_WS"} {
		b.Run(name, func(b *testing.B) {
			f, err := configs.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			cfg, err := Parse(f)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			data, err := LoadData(&cfg, ".")
			if err != nil {
				b.Fatal(err)
			}
			t, err := NewTrainer(cfg, data, batch.NewCPU(0))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := t.RunEpoch(nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*data.Train.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
