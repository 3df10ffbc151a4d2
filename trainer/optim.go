package trainer

import (
	"math"
)

// Optimizer state for a list of parameter groups, each with its own
// learning rate. The update rules are PyTorch's Adam and SGD (with
// momentum), so that the reference's hyperparameters carry over.
type Optimizer struct {
	Kind         string      // "adam" or "sgd"
	Beta1, Beta2 float64     // Adam
	Eps          float64     // Adam
	Momentum     float64     // SGD
	Step         int         // number of steps taken
	M, V         [][]float64 // first and second moments (SGD uses M as its buffer)
}

// newOptimizer returns a fresh optimiser for groups of the given sizes.
func newOptimizer(t *TrainingConfig, sizes []int) *Optimizer {
	o := &Optimizer{Kind: t.Optimizer, Beta1: t.Beta1, Beta2: t.Beta2, Eps: t.AdamEps, Momentum: t.Momentum}
	for _, n := range sizes {
		o.M = append(o.M, make([]float64, n))
		o.V = append(o.V, make([]float64, n))
	}
	return o
}

// Update applies one step to params (one slice per group) with gradients
// grads and learning rates lr (one per group).
func (o *Optimizer) Update(params, grads [][]float64, lr []float64) {
	o.Step++
	if o.Kind == "sgd" {
		for g, p := range params {
			m := o.M[g]
			for i, gi := range grads[g] {
				if o.Momentum != 0 {
					if o.Step == 1 {
						m[i] = gi
					} else {
						m[i] = o.Momentum*m[i] + gi
					}
					gi = m[i]
				}
				p[i] -= lr[g] * gi
			}
		}
		return
	}
	bc1 := 1 - math.Pow(o.Beta1, float64(o.Step))
	bc2 := 1 - math.Pow(o.Beta2, float64(o.Step))
	sq2 := math.Sqrt(bc2)
	for g, p := range params {
		m, v := o.M[g], o.V[g]
		step := lr[g] / bc1
		for i, gi := range grads[g] {
			m[i] = o.Beta1*m[i] + (1-o.Beta1)*gi
			v[i] = o.Beta2*v[i] + (1-o.Beta2)*gi*gi
			p[i] -= step * m[i] / (math.Sqrt(v[i])/sq2 + o.Eps)
		}
	}
}

// stepLR returns the learning rate of epoch e (0-based) under the schedule.
func stepLR(base float64, s ScheduleConfig, e int) float64 {
	if w := s.WarmupEpochs; w > 0 {
		if e < w {
			return base * float64(e+1) / float64(w)
		}
		e -= w
	}
	switch s.Type {
	case "step":
		return base * math.Pow(s.Gamma, float64(e/s.StepSize))
	case "cosine":
		x := math.Min(float64(e)/float64(s.CosineEpochs), 1)
		return base * (s.MinFactor + (1-s.MinFactor)*0.5*(1+math.Cos(math.Pi*x)))
	}
	return base
}
