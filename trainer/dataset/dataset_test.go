package dataset

import (
	"math"
	"strings"
	"testing"
)

func validSet() *Set {
	return &Set{
		Name:    "toy",
		Times:   []float64{0, 1, math.Inf(1), 0.5, 2, 3},
		Labels:  []int{0, 1, 1},
		N:       3,
		F:       2,
		Classes: 2,
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *Set)
		want   []string // substrings of the error; nil means valid
	}{
		{"valid", func(*Set) {}, nil},
		{"empty", func(s *Set) { s.Times, s.Labels, s.N = nil, nil, 0 }, nil},
		{"NaN", func(s *Set) { s.Times[3] = math.NaN() }, []string{"sample 1 feature 1", "NaN", "fix"}},
		{"-Inf", func(s *Set) { s.Times[4] = math.Inf(-1) }, []string{"sample 2 feature 0", "-Inf", "fix"}},
		{"negative time", func(s *Set) { s.Times[1] = -0.1 }, []string{"sample 0 feature 1", "negative", "fix"}},
		{"label too large", func(s *Set) { s.Labels[2] = 2 }, []string{"sample 2", "label 2", "fix"}},
		{"negative label", func(s *Set) { s.Labels[1] = -1 }, []string{"sample 1", "label -1", "fix"}},
		{"short times", func(s *Set) { s.Times = s.Times[:5] }, []string{"len(Times)=5", "fix"}},
		{"short labels", func(s *Set) { s.Labels = s.Labels[:2] }, []string{"len(Labels)=2", "fix"}},
		{"no classes", func(s *Set) { s.Classes = 0 }, []string{"Classes=0", "fix"}},
		{"negative N", func(s *Set) { s.N = -1 }, []string{"negative shape"}},
		{"overflow", func(s *Set) { s.N, s.F = math.MaxInt/2, 4 }, []string{"overflow"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSet()
			tc.mutate(s)
			err := s.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	var nilSet *Set
	if err := nilSet.Validate(); err == nil {
		t.Error("nil Set validated")
	}
}

func TestRow(t *testing.T) {
	s := validSet()
	tests := []struct {
		i    int
		want []float64
	}{
		{0, []float64{0, 1}},
		{2, []float64{2, 3}},
		{-1, nil},
		{3, nil},
	}
	for _, tc := range tests {
		got := s.Row(tc.i)
		if len(got) != len(tc.want) || (tc.want == nil) != (got == nil) {
			t.Fatalf("Row(%d) = %v, want %v", tc.i, got, tc.want)
		}
		for k := range got {
			if got[k] != tc.want[k] {
				t.Fatalf("Row(%d) = %v, want %v", tc.i, got, tc.want)
			}
		}
	}
	r := s.Row(1)
	r[0] = 7
	if s.Times[2] != 7 {
		t.Error("Row does not share memory with Times")
	}
	if cap(r) != 2 {
		t.Errorf("cap(Row(1)) = %d, want 2", cap(r))
	}
	var nilSet *Set
	if nilSet.Row(0) != nil {
		t.Error("nil Set Row != nil")
	}
}

func TestSlice(t *testing.T) {
	tests := []struct {
		lo, hi   int
		wantN    int
		firstLab int
	}{
		{0, 3, 3, 0},
		{1, 3, 2, 1},
		{1, 1, 0, -1},
		{-5, 1, 1, 0},
		{2, 99, 1, 1},
		{3, 1, 0, -1},
	}
	for _, tc := range tests {
		s := validSet()
		sub := s.Slice(tc.lo, tc.hi)
		if sub.N != tc.wantN || len(sub.Labels) != tc.wantN || len(sub.Times) != tc.wantN*s.F {
			t.Fatalf("Slice(%d,%d): N %d, %d labels, %d times; want N %d", tc.lo, tc.hi, sub.N, len(sub.Labels), len(sub.Times), tc.wantN)
		}
		if err := sub.Validate(); err != nil {
			t.Fatalf("Slice(%d,%d): %v", tc.lo, tc.hi, err)
		}
		if tc.wantN > 0 && sub.Labels[0] != tc.firstLab {
			t.Errorf("Slice(%d,%d).Labels[0] = %d, want %d", tc.lo, tc.hi, sub.Labels[0], tc.firstLab)
		}
	}
	s := validSet()
	sub := s.Slice(1, 2)
	sub.Times[0] = 9
	sub.Labels[0] = 0
	if s.Times[2] != 9 || s.Labels[1] != 0 {
		t.Error("Slice does not share memory")
	}
	_ = append(sub.Times, 42)
	_ = append(sub.Labels, 1)
	if s.Times[4] != 2 || s.Labels[2] != 1 {
		t.Error("appending to a Slice overwrote the parent set")
	}
	if sub.Name != s.Name || sub.F != s.F || sub.Classes != s.Classes {
		t.Errorf("Slice lost metadata: %+v", sub)
	}
	var nilSet *Set
	if nilSet.Slice(0, 1) != nil {
		t.Error("nil Set Slice != nil")
	}
}
