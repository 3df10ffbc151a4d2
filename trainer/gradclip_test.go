package trainer

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// clipNorm scales a gradient whose global norm is above the limit down to
// it, in direction unchanged, and leaves one at or below it alone.
func TestClipNorm(t *testing.T) {
	cases := []struct {
		name    string
		g       [][]float64
		c       float64
		clipped bool
	}{
		{"above", [][]float64{{3, 0}, {0, 4}}, 2.5, true},   // norm 5
		{"equal", [][]float64{{3, 0}, {0, 4}}, 5, false},    // not above
		{"below", [][]float64{{0.1}, {}, {-0.2}}, 1, false}, // empty groups count nothing
		{"across groups", [][]float64{{1}, {1}, {1}, {1}}, 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := make([][]float64, len(c.g))
			norm := 0.0
			for i, gi := range c.g {
				in[i] = append([]float64(nil), gi...)
				for _, v := range gi {
					norm += v * v
				}
			}
			norm = math.Sqrt(norm)
			if got := clipNorm(c.g, c.c); got != c.clipped {
				t.Fatalf("clipNorm reported %v, want %v", got, c.clipped)
			}
			f := 1.0
			if c.clipped {
				f = c.c / norm
			}
			after := 0.0
			for i, gi := range c.g {
				for j, v := range gi {
					if math.Abs(v-f*in[i][j]) > 1e-15 {
						t.Fatalf("group %d [%d]: %v, want %v", i, j, v, f*in[i][j])
					}
					after += v * v
				}
			}
			if want := math.Min(norm, c.c); math.Abs(math.Sqrt(after)-want) > 1e-12 {
				t.Fatalf("norm after %v, want %v", math.Sqrt(after), want)
			}
		})
	}
}

// training.grad_clip changes training only where a batch's gradient is
// above it: a limit no batch reaches trains the same bits as none, a
// small one trains differently (and still learns finite parameters); the
// device step refuses it, so that a GPU run takes the host step.
func TestGradClipTraining(t *testing.T) {
	train := func(clip float64) *Trainer {
		c := tinyConfig(8, "axonal")
		c.Training.GradClip = clip
		c.Training.BumpValue = 0 // every batch steps,
		for i := range c.Layers {
			c.Layers[i].WeightsMean = 3 // and the outputs spike: the loss has a gradient
		}
		tr := newTiny(t, c)
		for e := 0; e < 3; e++ {
			if _, err := tr.RunEpoch(nil); err != nil {
				t.Fatal(err)
			}
		}
		if tr.Opt.Step != 12 {
			t.Fatalf("%d optimiser steps, want 12 (3 epochs of 4 batches)", tr.Opt.Step)
		}
		return tr
	}
	off, huge, small := train(0), train(1e300), train(1e-3)
	if !reflect.DeepEqual(off.Model.W, huge.Model.W) || !reflect.DeepEqual(off.Model.Theta, huge.Model.Theta) {
		t.Fatal("a grad_clip no batch reaches changed training")
	}
	if reflect.DeepEqual(off.Model.W, small.Model.W) {
		t.Fatal("grad_clip = 1e-3 did not change training")
	}
	if err := small.Model.CheckFinite(); err != nil {
		t.Fatal(err)
	}
	if _, err := small.stepSpec(); err == nil || !strings.Contains(err.Error(), "training.grad_clip") {
		t.Fatalf("the device step spec with grad_clip: %v, want a refusal naming training.grad_clip", err)
	}
}
