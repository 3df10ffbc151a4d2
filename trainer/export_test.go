package trainer

import (
	"fmt"
	"math"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

// TestExportRoundTrip: a network exported in the reference's layout loads
// back with batch.LoadReference and gives the same output spike times.
func TestExportRoundTrip(t *testing.T) {
	for _, kind := range []string{"none", "axonal", "dendritic", "synaptic"} {
		for _, pos := range []string{"sigmoid", "clip"} {
			t.Run(fmt.Sprintf("%s-%s", kind, pos), func(t *testing.T) {
				c := tinyConfig(5, kind)
				c.Data.Multiplex = 2
				c.Layers[1].BiasTimes = []float64{0.5}
				for i := range c.Layers {
					c.Layers[i].Delay.Positivity = pos
					c.Layers[i].Delay.Mean = 0.3
				}
				c.Layers[0].Delay.SigmoidShift = 0.1
				c.Layers[0].Delay.SigmoidScale = 2
				tr := newTiny(t, c)
				dir := t.TempDir()
				if err := Export(tr, dir, 0); err != nil {
					t.Fatal(err)
				}
				ref, err := batch.LoadReference(dir)
				if err != nil {
					t.Fatal(err)
				}
				set := tr.Data.Test
				x, _ := batch.TimesFrom(set.N, set.F, set.Times)
				e := batch.NewCPU(1)
				var a, b batch.Trace
				if err := e.Forward(tr.Model.Net, x, &a); err != nil {
					t.Fatal(err)
				}
				if err := e.Forward(ref.Net, x, &b); err != nil {
					t.Fatal(err)
				}
				oa, ob := a.Output().Float64s(), b.Output().Float64s()
				for i := range oa {
					if oa[i] != ob[i] && !(math.IsInf(oa[i], 1) && math.IsInf(ob[i], 1)) {
						t.Fatalf("output %d: %v before export, %v after", i, oa[i], ob[i])
					}
				}
			})
		}
	}
}
