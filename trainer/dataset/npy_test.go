package dataset

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

// writeNpy writes val with npyio.
func writeNpy(t testing.TB, path string, val any) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := npyio.Write(f, val); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// writeRawNpy writes a version 1.0 .npy file with the given header fields
// and little-endian data, for dtypes and layouts npyio cannot write.
func writeRawNpy(t *testing.T, path, descr string, fortran bool, shape string, data any) {
	t.Helper()
	order := "False"
	if fortran {
		order = "True"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr, order, shape)
	pad := 64 - (10+len(dict)+1)%64
	dict += strings.Repeat(" ", pad%64) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	_ = binary.Write(&buf, binary.LittleEndian, uint16(len(dict)))
	buf.WriteString(dict)
	if data != nil {
		if err := binary.Write(&buf, binary.LittleEndian, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadNpyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	inf := math.Inf(1)
	times := []float64{0.15, inf, 1.2, 0.3, 2.0, inf}
	wantLabels := []int{2, 0, 1}

	samples64 := filepath.Join(dir, "toy_samples.npy")
	writeNpy(t, samples64, mat.NewDense(3, 2, times))
	samples32 := filepath.Join(dir, "f32.npy")
	t32 := make([]float32, len(times))
	for i, v := range times {
		t32[i] = float32(v)
	}
	writeRawNpy(t, samples32, "<f4", false, "(3, 2)", t32)
	samplesF := filepath.Join(dir, "fortran.npy")
	colMajor := []float64{times[0], times[2], times[4], times[1], times[3], times[5]}
	writeRawNpy(t, samplesF, "<f8", true, "(3, 2)", colMajor)

	labels64 := filepath.Join(dir, "labels_i64.npy")
	writeNpy(t, labels64, []int64{2, 0, 1})
	labelsU8 := filepath.Join(dir, "labels_u8.npy")
	writeNpy(t, labelsU8, []uint8{2, 0, 1})
	labelsI32 := filepath.Join(dir, "labels_i32.npy")
	writeNpy(t, labelsI32, []int32{2, 0, 1})
	labelsF := filepath.Join(dir, "labels_f64.npy")
	writeNpy(t, labelsF, []float64{2, 0, 1})
	labelsF32 := filepath.Join(dir, "labels_f32.npy")
	writeNpy(t, labelsF32, []float32{2, 0, 1})

	tests := []struct {
		name, samples, labels string
		wantTimes             []float64
	}{
		{"f8 samples, i8 labels", samples64, labels64, times},
		{"f4 samples, u1 labels", samples32, labelsU8, []float64{float64(float32(0.15)), inf, float64(float32(1.2)), float64(float32(0.3)), 2, inf}},
		{"fortran order, i4 labels", samplesF, labelsI32, times},
		{"f8 samples, f8 labels", samples64, labelsF, times},
		{"f8 samples, f4 labels", samples64, labelsF32, times},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadNpy(tc.samples, tc.labels)
			if err != nil {
				t.Fatal(err)
			}
			if s.N != 3 || s.F != 2 || s.Classes != 3 {
				t.Fatalf("N %d F %d Classes %d, want 3 2 3", s.N, s.F, s.Classes)
			}
			for i, v := range tc.wantTimes {
				if s.Times[i] != v {
					t.Fatalf("Times = %v, want %v", s.Times, tc.wantTimes)
				}
			}
			for i, l := range wantLabels {
				if s.Labels[i] != l {
					t.Fatalf("Labels = %v, want %v", s.Labels, wantLabels)
				}
			}
		})
	}
	s, err := LoadNpy(samples64, labels64)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "toy_samples" {
		t.Errorf("Name = %q, want %q", s.Name, "toy_samples")
	}
}

func TestLoadNpyErrors(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	good := path("good.npy")
	writeNpy(t, good, mat.NewDense(2, 2, []float64{0, 1, 2, 3}))
	goodLabels := path("good_labels.npy")
	writeNpy(t, goodLabels, []int64{0, 1})

	writeNpy(t, path("flat.npy"), []float64{0, 1, 2, 3})
	writeNpy(t, path("labels2d.npy"), mat.NewDense(2, 1, []float64{0, 1}))
	writeNpy(t, path("labels3.npy"), []int64{0, 1, 1})
	writeNpy(t, path("nan.npy"), mat.NewDense(2, 2, []float64{0, 1, 2, math.NaN()}))
	writeNpy(t, path("neg_time.npy"), mat.NewDense(2, 2, []float64{0, -1, 2, 3}))
	writeNpy(t, path("neginf.npy"), mat.NewDense(2, 2, []float64{0, 1, math.Inf(-1), 3}))
	writeNpy(t, path("neg_label.npy"), []int64{0, -1})
	writeNpy(t, path("frac_label.npy"), []float64{0, 1.5})
	writeNpy(t, path("nan_label.npy"), []float64{math.NaN(), 1})
	writeNpy(t, path("int_samples.npy"), []int64{0, 1, 2, 3})
	writeRawNpy(t, path("int2d.npy"), "<i8", false, "(2, 2)", []int64{0, 1, 2, 3})
	writeRawNpy(t, path("empty.npy"), "<f8", false, "(0, 2)", nil)
	writeRawNpy(t, path("empty_labels.npy"), "<i8", false, "(0,)", nil)
	writeRawNpy(t, path("truncated.npy"), "<f8", false, "(2, 2)", []float64{0, 1, 2})
	writeRawNpy(t, path("complex.npy"), "<c16", false, "(2, 2)", []float64{0, 1, 2, 3, 4, 5, 6, 7})
	writeRawNpy(t, path("huge.npy"), "<f8", false, "(1000000000, 1000000000)", []float64{0})
	writeRawNpy(t, path("negshape.npy"), "<f8", false, "(-2, 2)", []float64{0})
	if err := os.WriteFile(path("garbage.npy"), []byte("not a numpy file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A header without the terminating newline makes npyio index out of range.
	if err := os.WriteFile(path("nonewline.npy"), []byte("\x93NUMPY\x01\x00\x04\x00abcd"), 0o644); err != nil {
		t.Fatal(err)
	}

	// cut writes the first n bytes of good (n < 0: all but -n).
	cut := func(name string, n int) string {
		raw, err := os.ReadFile(good)
		if err != nil {
			t.Fatal(err)
		}
		p := path(name)
		if err := os.WriteFile(p, raw[:(n+len(raw))%len(raw)], 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	tests := []struct {
		name, samples, labels string
		want                  []string
	}{
		{"cut to 50 bytes", cut("cut50.npy", 50), goodLabels, []string{"cut50.npy", "file is truncated: header length"}},
		{"data cut", cut("cutdata.npy", -12), goodLabels, []string{"cutdata.npy", "file is truncated: header says 2x2 float64 (32 bytes of data), file has 20"}},
		{"labels cut to 50 bytes", good, cut("cutlabels.npy", 50), []string{"cutlabels.npy", "file is truncated"}},
		{"missing samples", path("nope.npy"), goodLabels, []string{"nope.npy", "no such file"}},
		{"missing labels", good, path("nolabels.npy"), []string{"nolabels.npy", "no such file"}},
		{"1-D samples", path("flat.npy"), goodLabels, []string{"flat.npy", "2-D"}},
		{"2-D labels", good, path("labels2d.npy"), []string{"labels2d.npy", "1-D"}},
		{"N mismatch", good, path("labels3.npy"), []string{"labels3.npy", "good.npy", "mismatch"}},
		{"NaN", path("nan.npy"), goodLabels, []string{"nan.npy", "NaN at sample 1 feature 1"}},
		{"negative time", path("neg_time.npy"), goodLabels, []string{"neg_time.npy", "sample 0 feature 1", "negative"}},
		{"-Inf time", path("neginf.npy"), goodLabels, []string{"neginf.npy", "sample 1 feature 0", "-Inf"}},
		{"negative label", good, path("neg_label.npy"), []string{"neg_label.npy", "negative label -1 at sample 1"}},
		{"non-integral label", good, path("frac_label.npy"), []string{"frac_label.npy", "non-integral label 1.5 at sample 1"}},
		{"NaN label", good, path("nan_label.npy"), []string{"nan_label.npy", "non-integral label NaN at sample 0"}},
		{"integer samples 1-D", path("int_samples.npy"), goodLabels, []string{"int_samples.npy", "float"}},
		{"integer samples 2-D", path("int2d.npy"), goodLabels, []string{"int2d.npy", "float"}},
		{"no samples", path("empty.npy"), path("empty_labels.npy"), []string{"empty.npy", "no samples"}},
		{"truncated", path("truncated.npy"), goodLabels, []string{"truncated.npy", "truncated"}},
		{"complex dtype", path("complex.npy"), goodLabels, []string{"complex.npy", "dtype"}},
		{"huge shape", path("huge.npy"), goodLabels, []string{"huge.npy", "shape"}},
		{"negative shape", path("negshape.npy"), goodLabels, []string{"negshape.npy", "shape"}},
		{"garbage", path("garbage.npy"), goodLabels, []string{"garbage.npy", `not a .npy file (magic "not a "`}},
		{"header without newline", path("nonewline.npy"), goodLabels, []string{"nonewline.npy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadNpy(tc.samples, tc.labels)
			if err == nil {
				t.Fatalf("LoadNpy = %+v, want an error", s)
			}
			t.Log(err)
			if strings.Contains(err.Error(), "runtime error") {
				t.Errorf("error %q leaks a runtime error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// FuzzLoadNpy checks that no pair of sample and label files makes LoadNpy
// panic or leak a runtime error, and that every set it returns validates.
func FuzzLoadNpy(f *testing.F) {
	dir := f.TempDir()
	read := func(name string, val any) []byte {
		p := filepath.Join(dir, name)
		writeNpy(f, p, val)
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		return raw
	}
	samples := read("s.npy", mat.NewDense(2, 2, []float64{0, 1, math.Inf(1), 3}))
	labels := read("l.npy", []int64{0, 2})
	f.Add(samples, labels)
	f.Add(samples[:50], labels)
	f.Add(samples, labels[:len(labels)-3])
	f.Add(samples, read("lf.npy", []float32{1, 0}))
	f.Add(read("s8.npy", []uint8{1, 2}), labels)
	f.Fuzz(func(t *testing.T, samples, labels []byte) {
		dir := t.TempDir()
		sp, lp := filepath.Join(dir, "samples.npy"), filepath.Join(dir, "labels.npy")
		if err := os.WriteFile(sp, samples, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lp, labels, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := LoadNpy(sp, lp)
		if err != nil {
			if strings.Contains(err.Error(), "runtime error") {
				t.Fatalf("error %q leaks a runtime error", err)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q names neither file", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("LoadNpy returned an invalid set: %v", err)
		}
	})
}
