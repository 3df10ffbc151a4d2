package trainer

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLossGradients holds each loss's analytic gradient against central
// finite differences.
func TestLossGradients(t *testing.T) {
	losses := map[string]Loss{
		"shift_mse":     ShiftMSE{DeltaT: 0.2, TauSyn: 1},
		"shift_mse_tau": ShiftMSE{DeltaT: 0.3, TauSyn: 2},
		"ttfs":          TTFS{Xi: 0.2, Alpha: 0.005, Beta: 1, TauSyn: 1},
		"ttfs_tau":      TTFS{Xi: 0.5, Alpha: 0.1, Beta: 2, TauSyn: 1.5},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, l := range losses {
		for trial := 0; trial < 20; trial++ {
			K := 2 + rng.IntN(8)
			y := rng.IntN(K)
			ts := make([]float64, K)
			for k := range ts {
				ts[k] = 0.5 + 3*rng.Float64()
			}
			g := make([]float64, K)
			l.Sample(ts, y, g)
			tmp := make([]float64, K)
			for k := range ts {
				const h = 1e-6
				old := ts[k]
				ts[k] = old + h
				lp := l.Sample(ts, y, tmp)
				ts[k] = old - h
				lm := l.Sample(ts, y, tmp)
				ts[k] = old
				fd := (lp - lm) / (2 * h)
				if math.Abs(fd-g[k]) > 1e-7*(1+math.Abs(fd)) {
					t.Errorf("%s trial %d: dL/dt_%d = %.12g, finite difference %.12g", name, trial, k, g[k], fd)
				}
			}
		}
	}
}

func TestLossValues(t *testing.T) {
	g := make([]float64, 3)
	// Shift-invariant MSE: label 0 at 1.0, others at 1.2 and 1.5, D = 0.2.
	if v := (ShiftMSE{DeltaT: 0.2, TauSyn: 1}).Sample([]float64{1, 1.2, 1.5}, 0, g); math.Abs(v-0.5*0.3*0.3) > 1e-15 {
		t.Errorf("shift MSE = %v, want %v", v, 0.5*0.3*0.3)
	}
	// TTFS: log sum exp(-t/xi) + t_y/xi + alpha exp(t_y/beta).
	ts := []float64{1, 2, 3}
	want := math.Log(math.Exp(-1/0.2)+math.Exp(-2/0.2)+math.Exp(-3/0.2)) + 2/0.2 + 0.005*math.Exp(2)
	if v := (TTFS{Xi: 0.2, Alpha: 0.005, Beta: 1, TauSyn: 1}).Sample(ts, 1, g); math.Abs(v-want) > 1e-12 {
		t.Errorf("TTFS = %v, want %v", v, want)
	}
}

// TestLossMissingSpikes: the reference's rule, loss 100 and no gradient,
// when the label neuron or (for the MSE) any neuron is silent; a silent
// non-label neuron only drops out of the TTFS softmax.
func TestLossMissingSpikes(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		name     string
		l        Loss
		ts       []float64
		y        int
		wantLoss float64 // NaN: finite, not 100
	}{
		{"mse silent label", ShiftMSE{DeltaT: 0.2, TauSyn: 1}, []float64{inf, 1, 2}, 0, 100},
		{"mse silent other", ShiftMSE{DeltaT: 0.2, TauSyn: 1}, []float64{1, inf, 2}, 0, 100},
		{"mse all silent", ShiftMSE{DeltaT: 0.2, TauSyn: 1}, []float64{inf, inf, inf}, 1, 100},
		{"ttfs silent label", TTFS{Xi: 0.2, Alpha: 0.005, Beta: 1, TauSyn: 1}, []float64{1, inf, 2}, 1, 100},
		{"ttfs silent other", TTFS{Xi: 0.2, Alpha: 0.005, Beta: 1, TauSyn: 1}, []float64{1, inf, 2}, 0, math.NaN()},
	}
	for _, c := range cases {
		g := []float64{7, 7, 7}
		v := c.l.Sample(c.ts, c.y, g)
		if math.IsNaN(c.wantLoss) {
			if math.IsNaN(v) || math.IsInf(v, 0) || v == 100 || g[1] != 0 || math.IsNaN(g[0]) {
				t.Errorf("%s: loss %v grad %v", c.name, v, g)
			}
			continue
		}
		if v != c.wantLoss || g[0] != 0 || g[1] != 0 || g[2] != 0 {
			t.Errorf("%s: loss %v grad %v, want %v and zero gradient", c.name, v, g, c.wantLoss)
		}
	}
}
