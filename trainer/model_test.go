package trainer

import (
	"fmt"
	"github.com/delgrad-go/delgrad/batch"
	"math"
	"testing"
)

// TestParamGradsFiniteDifference holds the gradients w.r.t. the trainable
// parameters (master weights, delay parameters through the positivity map
// and the sharing pattern) against central finite differences of the
// batch-mean loss, in float64.
func TestParamGradsFiniteDifference(t *testing.T) {
	type variant struct {
		kind, pos        string
		preS, postS, mux int
		bias             bool
		loss             string
	}
	var vs []variant
	for _, k := range []string{"none", "axonal", "dendritic", "synaptic"} {
		for _, p := range []string{"sigmoid", "clip"} {
			if k == "none" && p == "clip" {
				continue
			}
			vs = append(vs, variant{kind: k, pos: p, preS: 1, postS: 1, mux: 1, loss: "shift_mse"})
		}
	}
	vs = append(vs,
		variant{kind: "axonal", pos: "sigmoid", preS: 2, postS: 1, mux: 2, loss: "ttfs"},
		variant{kind: "synaptic", pos: "sigmoid", preS: 2, postS: 3, mux: 1, bias: true, loss: "ttfs"},
		variant{kind: "dendritic", pos: "sigmoid", preS: 1, postS: 3, mux: 1, loss: "shift_mse"},
	)
	for _, v := range vs {
		t.Run(fmt.Sprintf("%s-%s-pre%d-post%d-mux%d-bias%v-%s", v.kind, v.pos, v.preS, v.postS, v.mux, v.bias, v.loss), func(t *testing.T) {
			c := tinyConfig(6, v.kind)
			c.Layers[0].WeightsMean, c.Layers[1].WeightsMean = 1.5, 2 // most neurons spike
			c.Data.Multiplex = v.mux
			c.Training.Loss.Type = v.loss
			zero := 0.0
			c.Neuron.MaxDWNorm = &zero // clipping would make the gradient differ from the loss's slope
			for i := range c.Layers {
				d := &c.Layers[i].Delay
				d.Positivity, d.PresynSharing, d.PostsynSharing = v.pos, 1, 1
				if v.pos == "clip" {
					d.Mean, d.Std = 0.4, 0.2
				}
			}
			c.Layers[0].Delay.PresynSharing = v.preS
			c.Layers[0].Delay.PostsynSharing = v.postS
			if v.bias {
				c.Layers[1].BiasTimes = []float64{0, 0.5}
			}
			tr := newTiny(t, c)
			set := tr.Data.Train
			// Keep the samples whose outputs all spike: near them the loss
			// is smooth (a silent output makes it the constant 100).
			var in []float64
			var labels []int
			if err := tr.forward(set.Times, set.N); err != nil {
				t.Fatal(err)
			}
			out := tr.tr.Output().Float64s()
			K := 3
			for i := 0; i < set.N && len(labels) < 30; i++ {
				ok := true
				for _, v := range out[i*K : (i+1)*K] {
					ok = ok && !math.IsInf(v, 1)
				}
				if ok {
					in = append(in, set.Row(i)...)
					labels = append(labels, set.Labels[i])
				}
			}
			b := len(labels)
			if b < 10 {
				t.Fatalf("only %d of %d samples have all outputs spiking", b, set.N)
			}
			lossAt := func() float64 {
				if err := tr.forward(in, b); err != nil {
					t.Fatal(err)
				}
				l, _, err := tr.backward(labels)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			lossAt()
			gw := clone(tr.gw)
			gt := clone(tr.gt)
			checked := 0
			check := func(name string, p []float64, g []float64) {
				for j := range p {
					const h = 1e-6
					old := p[j]
					p[j] = old + h
					lp := lossAt()
					p[j] = old - h
					lm := lossAt()
					p[j] = old
					if lp >= 100 || lm >= 100 {
						continue // a silent output: the loss is the constant 100
					}
					fd := (lp - lm) / (2 * h)
					if math.Abs(fd-g[j]) > 1e-6*math.Max(math.Abs(fd), math.Abs(g[j]))+1e-8 {
						t.Errorf("%s[%d]: gradient %.10g, finite difference %.10g", name, j, g[j], fd)
					}
					checked++
				}
			}
			for l := range tr.Model.W {
				check(fmt.Sprintf("W%d", l), tr.Model.W[l], gw[l])
				check(fmt.Sprintf("Theta%d", l), tr.Model.Theta[l], gt[l])
			}
			if checked == 0 {
				t.Fatal("no parameter checked")
			}
		})
	}
}

// TestSharingTiles checks the reference's tiling of shared delays: with
// presyn sharing 2 over 4 inputs, inputs 0 and 2 share a delay, as do 1
// and 3.
func TestSharingTiles(t *testing.T) {
	c := tinyConfig(6, "synaptic")
	c.Layers[0].Delay.PresynSharing = 2
	c.Layers[0].Delay.PostsynSharing = 3
	tr := newTiny(t, c)
	m := tr.Model
	if len(m.Theta[0]) != 2*2 {
		t.Fatalf("%d shared delays, want 4", len(m.Theta[0]))
	}
	d := m.Net.Layers[0].D()
	out := 6
	for i := 0; i < 4; i++ {
		for k := 0; k < out; k++ {
			if d[i*out+k] != d[(i%2)*out+k%2] {
				t.Fatalf("delay (%d,%d) = %v differs from its tile (%d,%d) = %v", i, k, d[i*out+k], i%2, k%2, d[(i%2)*out+k%2])
			}
		}
	}
	if d[0] == d[1] && d[0] == d[out] {
		t.Fatal("shared delays all equal: sharing pattern untested")
	}
}

func TestRectify(t *testing.T) {
	c := tinyConfig(4, "axonal")
	c.Layers[0].Delay.Positivity = "clip"
	c.Layers[1].Delay.Positivity = "shift"
	tr := newTiny(t, c)
	m := tr.Model
	m.Theta[0][0], m.Theta[0][1] = -0.5, 0.3
	m.Theta[1][0], m.Theta[1][1], m.Theta[1][2] = -0.25, 0.5, 0.1
	m.Rectify()
	if m.Theta[0][0] != 0 || m.Theta[0][1] != 0.3 {
		t.Errorf("clip: %v", m.Theta[0])
	}
	if m.Theta[1][0] != 0 || m.Theta[1][1] != 0.75 || math.Abs(m.Theta[1][2]-0.35) > 1e-15 {
		t.Errorf("shift: %v", m.Theta[1])
	}
}

func TestRoundAndClipWeights(t *testing.T) {
	c := tinyConfig(4, "none")
	c.Training.RoundWeights = 1.0 / 30
	c.Training.ClipWeights = 63.0 / 30
	tr := newTiny(t, c)
	m := tr.Model
	m.W[0][0] = 5
	m.W[0][1] = 0.123
	m.ClipWeights(c.Training.ClipWeights)
	m.Sync()
	w := m.Net.Layers[0].W()
	if math.Abs(w[0]-2.1) > 1e-12 || m.W[0][0] != 2.1 {
		t.Errorf("clipped weight %v (master %v), want 2.1", w[0], m.W[0][0])
	}
	if u := w[1] * 30; math.Abs(u-math.Round(u)) > 1e-9 || math.Abs(w[1]-0.123) > 1.0/60 {
		t.Errorf("rounded weight %v is not the nearest multiple of 1/30 to 0.123", w[1])
	}
	if m.W[0][1] != 0.123 {
		t.Errorf("master weight changed by rounding: %v", m.W[0][1])
	}
}

// forward runs the trainer's network on b samples of input times in, as
// the training step's forward pass does.
func (t *Trainer) forward(in []float64, b int) error {
	t.Model.Sync()
	x, err := batch.TimesFrom(b, t.Model.Net.Inputs, in)
	if err != nil {
		return err
	}
	if t.sub != nil {
		return t.sub.Forward(t.Model.Net, t.trainChip(), x, &t.tr, t.rng)
	}
	return t.Engine.Forward(t.Model.Net, x, &t.tr)
}

// backward computes, as the training step does, the batch-mean loss of the
// last forward pass and the gradients of W and Theta (into t.gw, t.gt),
// and the number of weight gradients max_dw_norm zeroed.
func (t *Trainer) backward(labels []int) (float64, int, error) {
	loss, err := t.lossGrad(labels)
	if err != nil {
		return 0, 0, err
	}
	if err := t.Engine.Backward(t.Model.Net, &t.tr, t.dy, t.g); err != nil {
		return 0, 0, err
	}
	clipped := 0
	for _, c := range t.g.Clipped {
		clipped += c
	}
	t.Model.ParamGrads(t.g, t.gw, t.gt)
	return loss, clipped, nil
}
