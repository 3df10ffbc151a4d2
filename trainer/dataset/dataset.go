// Package dataset provides the labelled spike-time data sets used by the
// trainer: the Yin-Yang data set (generated bit for bit like the published
// NumPy splits), MNIST (28x28 or the reference's 16x16 variant) and user data
// stored as .npy files.
//
// All sets are time-to-first-spike encoded: each input feature is a spike
// time, and +Inf means the input does not spike.
package dataset

import (
	"fmt"
	"math"
)

// Set is a labelled set of input spike times.
type Set struct {
	// Name identifies the data set (for logs and file names).
	Name string
	// Times holds N*F row-major input spike times; +Inf means no spike.
	Times []float64
	// Labels holds the N class labels, each in [0, Classes).
	Labels []int
	// N is the number of samples and F the number of input features.
	N, F int
	// Classes is the number of classes.
	Classes int
}

// Row returns the slice of Times holding sample i (sharing memory, with its
// capacity limited to the row). It returns nil when s is nil, i is out of
// range or Times is too short to hold the row.
func (s *Set) Row(i int) []float64 {
	if s == nil || i < 0 || i >= s.N || s.F < 0 {
		return nil
	}
	lo := i * s.F
	hi := lo + s.F
	if hi > len(s.Times) || hi < lo {
		return nil
	}
	return s.Times[lo:hi:hi]
}

// Validate reports whether the set is consistent: non-negative N and F,
// Classes >= 1, len(Times) == N*F, len(Labels) == N, every spike time either
// +Inf or a finite non-negative number, and every label in [0, Classes).
// The error names the offending sample (and feature) and how to fix it.
func (s *Set) Validate() error {
	if s == nil {
		return fmt.Errorf("dataset: nil *Set; fix: build the set with YinYang, MNIST or LoadNpy")
	}
	name := s.Name
	if s.N < 0 || s.F < 0 {
		return fmt.Errorf("dataset %q: negative shape N=%d F=%d; fix: set N and F to the sample and feature counts", name, s.N, s.F)
	}
	if s.Classes < 1 {
		return fmt.Errorf("dataset %q: Classes=%d; fix: set Classes to the number of classes (>= 1)", name, s.Classes)
	}
	if s.F > 0 && s.N > math.MaxInt/s.F {
		return fmt.Errorf("dataset %q: N*F overflows (N=%d F=%d)", name, s.N, s.F)
	}
	if len(s.Times) != s.N*s.F {
		return fmt.Errorf("dataset %q: len(Times)=%d, want N*F=%d*%d=%d; fix: store N rows of F spike times, row-major",
			name, len(s.Times), s.N, s.F, s.N*s.F)
	}
	if len(s.Labels) != s.N {
		return fmt.Errorf("dataset %q: len(Labels)=%d, want N=%d; fix: give exactly one label per sample", name, len(s.Labels), s.N)
	}
	for i := range s.N {
		if l := s.Labels[i]; l < 0 || l >= s.Classes {
			return fmt.Errorf("dataset %q: sample %d: label %d outside [0,%d); fix: use labels 0..%d or raise Classes",
				name, i, l, s.Classes, s.Classes-1)
		}
		row := s.Times[i*s.F : (i+1)*s.F]
		for j, t := range row {
			switch {
			case math.IsNaN(t):
				return fmt.Errorf("dataset %q: sample %d feature %d: spike time is NaN; fix: use +Inf for \"no spike\" or a time >= 0", name, i, j)
			case math.IsInf(t, -1):
				return fmt.Errorf("dataset %q: sample %d feature %d: spike time is -Inf; fix: use +Inf for \"no spike\" or a time >= 0", name, i, j)
			case t < 0:
				return fmt.Errorf("dataset %q: sample %d feature %d: negative spike time %g; fix: shift or clip spike times to >= 0", name, i, j, t)
			}
		}
	}
	return nil
}

// Slice returns the samples [lo, hi) as a new Set sharing memory with s
// (capacities are limited so appending to the result cannot overwrite s).
// lo and hi are clamped to [0, N] (and to the data actually present), and
// hi < lo gives an empty set. It returns nil when s is nil.
func (s *Set) Slice(lo, hi int) *Set {
	if s == nil {
		return nil
	}
	n := max(s.N, 0)
	n = min(n, len(s.Labels))
	if s.F > 0 {
		n = min(n, len(s.Times)/s.F)
	}
	lo = min(max(lo, 0), n)
	hi = min(max(hi, lo), n)
	f := max(s.F, 0)
	return &Set{
		Name:    s.Name,
		Times:   s.Times[lo*f : hi*f : hi*f],
		Labels:  s.Labels[lo:hi:hi],
		N:       hi - lo,
		F:       s.F,
		Classes: s.Classes,
	}
}
