package dataset

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
)

// sharedYinYangDir locates the published Yin-Yang splits relative to the
// package directory, or skips the test.
func sharedYinYangDir(t *testing.T) string {
	t.Helper()
	for _, rel := range []string{"../../../shared/data/yinyang", "../../shared/data/yinyang"} {
		if st, err := os.Stat(rel); err == nil && st.IsDir() {
			return rel
		}
	}
	t.Skip("published Yin-Yang splits not found (../../../shared/data/yinyang or ../../shared/data/yinyang)")
	return ""
}

func readNpyFile(t *testing.T, path string, ptr any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := npyio.Read(f, ptr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestYinYangBitExact(t *testing.T) {
	dir := sharedYinYangDir(t)
	tests := []struct {
		split string
		n     int
		seed  uint32
	}{
		{"train", 5000, 42},
		{"validation", 1000, 41},
		{"test", 1000, 40},
	}
	for _, tc := range tests {
		t.Run(tc.split, func(t *testing.T) {
			var wantX []float64
			var wantY []int64
			readNpyFile(t, filepath.Join(dir, tc.split+"_samples.npy"), &wantX)
			readNpyFile(t, filepath.Join(dir, tc.split+"_labels.npy"), &wantY)
			if len(wantY) != tc.n || len(wantX) != 4*tc.n {
				t.Fatalf("published split has %d labels, %d values; want %d, %d", len(wantY), len(wantX), tc.n, 4*tc.n)
			}
			gotX, gotY := YinYangFeatures(tc.n, tc.seed)
			for i := range tc.n {
				if int64(gotY[i]) != wantY[i] {
					t.Fatalf("sample %d: label %d, want %d", i, gotY[i], wantY[i])
				}
				for j := range 4 {
					if g, w := gotX[4*i+j], wantX[4*i+j]; g != w {
						t.Fatalf("sample %d feature %d: %v (%#x), want %v (%#x)", i, j, g, math.Float64bits(g), w, math.Float64bits(w))
					}
				}
			}
			s, err := YinYangSplit(tc.split)
			if err != nil {
				t.Fatal(err)
			}
			enc := EncodeYinYang(gotX)
			if s.N != tc.n || s.F != 4 || s.Classes != 3 || s.Name != "yin_yang" {
				t.Fatalf("YinYangSplit(%q) = N %d F %d Classes %d Name %q", tc.split, s.N, s.F, s.Classes, s.Name)
			}
			for k := range enc {
				if s.Times[k] != enc[k] {
					t.Fatalf("YinYangSplit(%q).Times[%d] = %v, want %v", tc.split, k, s.Times[k], enc[k])
				}
			}
		})
	}
}

func TestYinYangSanity(t *testing.T) {
	tests := []struct {
		n    int
		seed uint32
	}{
		{5000, 42},
		{3000, 7},
	}
	for _, tc := range tests {
		s := YinYang(tc.n, tc.seed)
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		var counts [3]int
		feats, _ := YinYangFeatures(tc.n, tc.seed)
		for i := range s.N {
			l := s.Labels[i]
			counts[l]++
			x, y := feats[4*i], feats[4*i+1]
			if feats[4*i+2] != 1-x || feats[4*i+3] != 1-y {
				t.Fatalf("sample %d: mirrored features wrong: %v", i, feats[4*i:4*i+4])
			}
			if c := YinYangClass(x, y); c != l {
				t.Fatalf("sample %d: YinYangClass(%v, %v) = %d, label %d", i, x, y, c, l)
			}
			for _, tm := range s.Row(i) {
				if tm < 0.15 || tm > 2.0 {
					t.Fatalf("sample %d: time %v outside [0.15, 2]", i, tm)
				}
			}
		}
		for c, k := range counts {
			if frac := float64(k) / float64(tc.n); frac < 0.30 || frac > 0.37 {
				t.Errorf("seed %d: class %d has fraction %.3f, want about 1/3", tc.seed, c, frac)
			}
		}
	}
}

func TestYinYangDeterministicAndEmpty(t *testing.T) {
	a, la := YinYangFeatures(50, 3)
	b, lb := YinYangFeatures(50, 3)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed gave different features")
		}
	}
	for i := range la {
		if la[i] != lb[i] {
			t.Fatal("same seed gave different labels")
		}
	}
	for _, n := range []int{0, -5} {
		f, l := YinYangFeatures(n, 1)
		if f == nil || l == nil || len(f) != 0 || len(l) != 0 {
			t.Errorf("YinYangFeatures(%d) = %v, %v; want empty non-nil", n, f, l)
		}
	}
}

func TestYinYangClass(t *testing.T) {
	tests := []struct {
		x, y float64
		want int
	}{
		{0.25, 0.5, 2},  // left dot centre
		{0.75, 0.5, 2},  // right dot centre
		{0.0, 0.0, -1},  // corner, outside the big circle
		{1.0, 1.0, -1},  // corner
		{0.5, 0.9, 1},   // upper half, far from the right dot
		{0.5, 0.1, 0},   // lower half, far from both dots
		{0.25, 0.7, 1},  // ring around the left dot
		{0.75, 0.7, 0},  // ring around the right dot
		{0.5, 0.5, 1},   // centre: d_left == 0.5*r_big, inclusive yin bound
		{0.75, 0.41, 2}, // just inside the right dot
		{0.75, 0.39, 0}, // just outside the right dot, lower half
	}
	for _, tc := range tests {
		if got := YinYangClass(tc.x, tc.y); got != tc.want {
			t.Errorf("YinYangClass(%v, %v) = %d, want %d", tc.x, tc.y, got, tc.want)
		}
	}
}

func TestEncodeYinYang(t *testing.T) {
	got := EncodeYinYang([]float64{0, 1, 0.5})
	want := []float64{0.15, 2.0, 0.15 + 0.5*(2.0-0.15)}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-15 {
			t.Errorf("EncodeYinYang[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestYinYangSplitUnknown(t *testing.T) {
	for _, split := range []string{"", "val", "Train"} {
		s, err := YinYangSplit(split)
		if err == nil || s != nil {
			t.Fatalf("YinYangSplit(%q) = %v, %v; want error", split, s, err)
		}
		if !strings.Contains(err.Error(), "train, validation, test") {
			t.Errorf("error %q does not list the allowed splits", err)
		}
	}
}
