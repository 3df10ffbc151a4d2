package trainer

import (
	"math"
	"testing"
)

// TestAdamSteps checks two Adam steps against PyTorch's update rule
// written out by hand.
func TestAdamSteps(t *testing.T) {
	o := newOptimizer(&TrainingConfig{Optimizer: "adam", Beta1: 0.9, Beta2: 0.999, AdamEps: 1e-8}, []int{2, 1})
	p := [][]float64{{1, -2}, {0.5}}
	grads := [][]float64{{0.1, -0.3}, {2}}
	lr := []float64{0.01, 0.1}
	o.Update(p, grads, lr)
	// Step 1: m = 0.1 g, v = 0.001 g^2; mhat = g, vhat = g^2, so each
	// parameter moves by lr * g / (|g| + eps): almost lr * sign(g).
	want := func(p0, g, lr float64) float64 { return p0 - lr*g/(math.Abs(g)+1e-8) }
	exp := [][]float64{{want(1, 0.1, 0.01), want(-2, -0.3, 0.01)}, {want(0.5, 2, 0.1)}}
	for g := range p {
		for i := range p[g] {
			if math.Abs(p[g][i]-exp[g][i]) > 1e-15 {
				t.Errorf("step 1: p[%d][%d] = %.17g, want %.17g", g, i, p[g][i], exp[g][i])
			}
		}
	}
	// Step 2 with gradient 0.2 for the first parameter.
	grads[0][0] = 0.2
	before := p[0][0]
	o.Update(p, grads, lr)
	m := 0.9*0.01 + 0.1*0.2
	v := 0.999*0.001*0.01 + 0.001*0.04
	bc1, bc2 := 1-0.81, 1-0.999*0.999
	w := before - 0.01/bc1*m/(math.Sqrt(v)/math.Sqrt(bc2)+1e-8)
	if math.Abs(p[0][0]-w) > 1e-15 {
		t.Errorf("step 2: %.17g, want %.17g", p[0][0], w)
	}
}

func TestSGDMomentum(t *testing.T) {
	o := newOptimizer(&TrainingConfig{Optimizer: "sgd", Momentum: 0.5}, []int{1})
	p := [][]float64{{1}}
	o.Update(p, [][]float64{{1}}, []float64{0.1}) // buf 1
	o.Update(p, [][]float64{{1}}, []float64{0.1}) // buf 1.5
	if want := 1 - 0.1 - 0.15; math.Abs(p[0][0]-want) > 1e-15 {
		t.Errorf("p = %v, want %v", p[0][0], want)
	}
}

func TestStepLR(t *testing.T) {
	s := ScheduleConfig{Type: "step", StepSize: 20, Gamma: 0.95}
	for _, c := range []struct {
		e    int
		want float64
	}{{0, 1}, {19, 1}, {20, 0.95}, {45, 0.95 * 0.95}} {
		if got := stepLR(1, s, c.e); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("epoch %d: %v, want %v", c.e, got, c.want)
		}
	}
	if got := stepLR(0.3, ScheduleConfig{Type: "none"}, 1000); got != 0.3 {
		t.Errorf("no schedule: %v", got)
	}
}

// The cosine schedule falls from the base rate to min_factor of it over
// cosine_epochs epochs and stays there; a warm-up rises linearly before
// either schedule, which then starts at its own epoch 0.
func TestScheduleCosineWarmup(t *testing.T) {
	cos := ScheduleConfig{Type: "cosine", CosineEpochs: 100, MinFactor: 0.1}
	warm := cos
	warm.WarmupEpochs = 5
	step := ScheduleConfig{Type: "step", StepSize: 20, Gamma: 0.5, WarmupEpochs: 4}
	for _, c := range []struct {
		name string
		s    ScheduleConfig
		e    int
		want float64
	}{
		{"cosine start", cos, 0, 2},
		{"cosine middle", cos, 50, 2 * (0.1 + 0.9*0.5)},
		{"cosine end", cos, 100, 2 * 0.1},
		{"cosine after", cos, 250, 2 * 0.1},
		{"warm-up first", warm, 0, 2.0 / 5},
		{"warm-up last", warm, 4, 2},
		{"cosine after warm-up", warm, 5, 2},
		{"cosine middle after warm-up", warm, 55, 2 * (0.1 + 0.9*0.5)},
		{"step warm-up", step, 1, 2 * 2.0 / 4},
		{"step after warm-up", step, 4, 2},
		{"step first drop", step, 24, 1},
	} {
		if got := stepLR(2, c.s, c.e); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%s (epoch %d): %v, want %v", c.name, c.e, got, c.want)
		}
	}
}
