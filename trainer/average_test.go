package trainer

import (
	"math"
	"reflect"
	"testing"
)

// Averaging (training.average) leaves training as it is, averages the
// end-of-epoch parameters from start_epoch on (the mean, or the EMA), and
// validates, selects the best epoch and evaluates on the average.
func TestAverage(t *testing.T) {
	for _, a := range []AverageConfig{
		{Type: "mean", StartEpoch: 2},
		{Type: "ema", StartEpoch: 2, Decay: 0.6},
	} {
		t.Run(a.Type, func(t *testing.T) {
			plain := tinyConfig(8, "axonal")
			avg := plain
			avg.Training.Average = a
			tp, ta := newTiny(t, plain), newTiny(t, avg)
			var want Snapshot // the average, computed here from the raw parameters
			n := 0
			for e := 1; e <= 4; e++ {
				if _, err := tp.RunEpoch(nil); err != nil {
					t.Fatal(err)
				}
				m, err := ta.RunEpoch(nil)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(tp.Model.W, ta.Model.W) || !reflect.DeepEqual(tp.Model.Theta, ta.Model.Theta) {
					t.Fatalf("epoch %d: averaging changed the trained parameters", e)
				}
				if e < a.StartEpoch {
					if ta.Avg.Epoch != 0 || m.ValAcc != tp.History[e-1].ValAcc {
						t.Fatalf("epoch %d, before start_epoch: average %d epochs, validation %v / %v", e, ta.Avg.Epoch, m.ValAcc, tp.History[e-1].ValAcc)
					}
					continue
				}
				n++
				f := 1 / float64(n)
				if a.Type == "ema" {
					f = 1 - a.Decay
				}
				if n == 1 {
					want = Snapshot{W: clone(ta.Model.W), Theta: clone(ta.Model.Theta)}
				} else {
					for _, pr := range [][2][][]float64{{want.W, ta.Model.W}, {want.Theta, ta.Model.Theta}} {
						for l := range pr[0] {
							for i := range pr[0][l] {
								pr[0][l][i] += f * (pr[1][l][i] - pr[0][l][i])
							}
						}
					}
				}
				if ta.Avg.Epoch != n {
					t.Fatalf("epoch %d: %d epochs averaged, want %d", e, ta.Avg.Epoch, n)
				}
				for l := range want.W {
					for i, w := range want.W[l] {
						if math.Abs(w-ta.Avg.W[l][i]) > 1e-15*math.Max(1, math.Abs(w)) {
							t.Fatalf("epoch %d: averaged weight %v, want %v", e, ta.Avg.W[l][i], w)
						}
					}
				}
				// The epoch's validation is the average's (the loss, which
				// tells parameters apart where accuracies on 40 samples may
				// not).
				var ev Eval
				err = ta.WithFinal(func() error {
					var err error
					ev, err = ta.Evaluate(ta.Data.Validation)
					return err
				})
				if err != nil || ev.Loss != m.ValLoss || ev.Accuracy != m.ValAcc {
					t.Fatalf("epoch %d: validation loss %v, the average gives %v (%v)", e, m.ValLoss, ev.Loss, err)
				}
				if n > 1 && m.ValLoss == tp.History[e-1].ValLoss {
					t.Fatalf("epoch %d: the average validates as the last parameters do", e)
				}
				if ta.Best.Epoch == e && !reflect.DeepEqual(ta.Best.W, ta.Avg.W) {
					t.Fatalf("epoch %d: the best snapshot is not the average", e)
				}
			}
			if reflect.DeepEqual(ta.Avg.W, ta.Model.W) {
				t.Fatal("the average equals the last parameters: nothing was averaged")
			}
		})
	}
}
