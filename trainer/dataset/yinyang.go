package dataset

import (
	"fmt"
	"math"
)

// Yin-Yang geometry (Kriener et al., "The Yin-Yang dataset").
const (
	yyRSmall = 0.1
	yyRBig   = 0.5
)

// Yin-Yang spike-time encoding bounds: a feature v in [0, 1] spikes at
// yyTEarly + v*(yyTLate-yyTEarly).
const (
	yyTEarly = 0.15
	yyTLate  = 2.0
)

// YinYangClass returns the class of the point (x, y) in the unit square:
// 0 (yang), 1 (yin) or 2 (dots), or -1 when the point lies outside the big
// circle. It applies the generator's own criteria, so it is exact at the
// region boundaries.
func YinYangClass(x, y float64) int {
	if math.Sqrt((x-yyRBig)*(x-yyRBig)+(y-yyRBig)*(y-yyRBig)) > yyRBig {
		return -1
	}
	return yinYangWhichClass(x, y)
}

// yinYangWhichClass classifies a point already known to lie in the big circle.
func yinYangWhichClass(x, y float64) int {
	dRight := math.Sqrt((x-1.5*yyRBig)*(x-1.5*yyRBig) + (y-yyRBig)*(y-yyRBig))
	dLeft := math.Sqrt((x-0.5*yyRBig)*(x-0.5*yyRBig) + (y-yyRBig)*(y-yyRBig))
	crit1 := dRight <= yyRSmall
	crit2 := dLeft > yyRSmall && dLeft <= 0.5*yyRBig
	crit3 := y > yyRBig && dRight > 0.5*yyRBig
	if dRight < yyRSmall || dLeft < yyRSmall {
		return 2
	}
	if crit1 || crit2 || crit3 {
		return 1
	}
	return 0
}

// YinYangFeatures draws n Yin-Yang samples with NumPy's legacy
// RandomState(seed) exactly as the published generator does, and returns the
// raw features (n rows of x, y, 1-x, 1-y, row-major) and the labels. For the
// published seeds the result equals the published .npy files bit for bit.
// n <= 0 gives empty (non-nil) slices.
func YinYangFeatures(n int, seed uint32) (features []float64, labels []int) {
	n = max(n, 0)
	capacity := min(n, 1<<24) // absurd n grows by append instead of overflowing make
	features = make([]float64, 0, 4*capacity)
	labels = make([]int, 0, capacity)
	rng := newMT19937(seed)
	for range n {
		goal := rng.intn3()
		var x, y float64
		for {
			// rand(2) * 2 * r_big: scaling by 2*0.5 = 1 is exact.
			x = rng.float64() * 2 * yyRBig
			y = rng.float64() * 2 * yyRBig
			if YinYangClass(x, y) == goal {
				break
			}
		}
		features = append(features, x, y, 1-x, 1-y)
		labels = append(labels, goal)
	}
	return features, labels
}

// EncodeYinYang maps raw Yin-Yang features v in [0, 1] to spike times
// t = 0.15 + v*(2.0-0.15), returning a new slice.
func EncodeYinYang(features []float64) []float64 {
	early, late := yyTEarly, yyTLate // runtime float64 arithmetic, like NumPy
	out := make([]float64, len(features))
	for i, v := range features {
		out[i] = early + v*(late-early)
	}
	return out
}

// DecodeYinYang maps a spike time back to its feature value v in [0, 1]
// (the inverse of EncodeYinYang, up to rounding).
func DecodeYinYang(t float64) float64 {
	return (t - yyTEarly) / (yyTLate - yyTEarly)
}

// YinYang returns n encoded Yin-Yang samples drawn with the given seed
// (Name "yin_yang", F 4, Classes 3).
func YinYang(n int, seed uint32) *Set {
	feats, labels := YinYangFeatures(n, seed)
	return &Set{
		Name:    "yin_yang",
		Times:   EncodeYinYang(feats),
		Labels:  labels,
		N:       len(labels),
		F:       4,
		Classes: 3,
	}
}

// YinYangSplit returns a published Yin-Yang split, encoded: "train" (5000
// samples, seed 42), "validation" (1000, seed 41) or "test" (1000, seed 40).
func YinYangSplit(split string) (*Set, error) {
	switch split {
	case "train":
		return YinYang(5000, 42), nil
	case "validation":
		return YinYang(1000, 41), nil
	case "test":
		return YinYang(1000, 40), nil
	}
	return nil, fmt.Errorf("dataset: unknown Yin-Yang split %q (allowed: train, validation, test)", split)
}
