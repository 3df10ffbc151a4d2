package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

// copyBuiltinNet copies the built-in H30_WA network to a new directory.
func copyBuiltinNet(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	const src = "builtin/yin_yang_H30_WA"
	ents, err := fs.ReadDir(builtin, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		raw, err := fs.ReadFile(builtin, src+"/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// cutFile keeps the first n bytes of path.
func cutFile(t *testing.T, path string, n int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw[:n], 0o644); err != nil {
		t.Fatal(err)
	}
}

// yinYangDataDir writes a small Yin-Yang-like test split (features in
// [0, 1]) for eval -data.
func yinYangDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	x := make([]float64, 5*4)
	for i := range x {
		x[i] = float64(i%10) / 10
	}
	writeNpy(t, filepath.Join(dir, "test_samples.npy"), 5, 4, x)
	writeRawLabels(t, filepath.Join(dir, "test_labels.npy"), []int64{0, 1, 2, 1, 0})
	return dir
}

// writeRawLabels writes labels as a 1-D int64 .npy file.
func writeRawLabels(t *testing.T, path string, lab []int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := npyio.Write(f, lab); err != nil {
		t.Fatal(err)
	}
}

// TestBadNpyFiles: damaged .npy files in a network or data directory are
// usage errors that name the file and the problem, never panics.
func TestBadNpyFiles(t *testing.T) {
	// The builtin's weights are 4x30 float64 after a 128-byte header.
	cases := []struct {
		name  string
		setup func(t *testing.T) []string // returns the arguments
		want  string
	}{
		{"eval -net, weights cut to 50 bytes", func(t *testing.T) []string {
			net := copyBuiltinNet(t)
			cutFile(t, filepath.Join(net, "layer1_weights.npy"), 50)
			return []string{"eval", "-net", net}
		}, "layer1_weights.npy: file is truncated: header length"},
		{"eval -net, weights data cut", func(t *testing.T) []string {
			net := copyBuiltinNet(t)
			cutFile(t, filepath.Join(net, "layer1_weights.npy"), 128+12)
			return []string{"eval", "-net", net}
		}, "layer1_weights.npy: file is truncated: header says 4x30 float64 (960 bytes of data), file has 12"},
		{"train -init, delays cut to 50 bytes", func(t *testing.T) []string {
			net := copyBuiltinNet(t)
			cutFile(t, filepath.Join(net, "layer2_delay.npy"), 50)
			return []string{"train", "-init", net, "-epochs", "1", "-quiet", "-out", filepath.Join(t.TempDir(), "r")}
		}, "layer2_delay.npy: file is truncated"},
		{"eval -data, samples cut to 50 bytes", func(t *testing.T) []string {
			dir := yinYangDataDir(t)
			cutFile(t, filepath.Join(dir, "test_samples.npy"), 50)
			return []string{"eval", "-data", dir}
		}, "test_samples.npy: file is truncated"},
		{"eval -data, labels cut to 50 bytes", func(t *testing.T) []string {
			dir := yinYangDataDir(t)
			cutFile(t, filepath.Join(dir, "test_labels.npy"), 50)
			return []string{"eval", "-data", dir}
		}, "test_labels.npy: file is truncated"},
		{"eval -data, labels not .npy", func(t *testing.T) []string {
			dir := yinYangDataDir(t)
			os.WriteFile(filepath.Join(dir, "test_labels.npy"), []byte("0 1 2 1 0\n"), 0o644)
			return []string{"eval", "-data", dir}
		}, `test_labels.npy: not a .npy file (magic "0 1 2 "`},
		{"eval -data, float labels", func(t *testing.T) []string {
			dir := yinYangDataDir(t)
			writeNpy(t, filepath.Join(dir, "test_labels.npy"), 5, 0, []float64{0, 1, 2, 1, 0})
			return []string{"eval", "-data", dir}
		}, "test_labels.npy: dtype <f8 (float64): want an integer type"},
		{"eval -data, label out of range", func(t *testing.T) []string {
			dir := yinYangDataDir(t)
			writeRawLabels(t, filepath.Join(dir, "test_labels.npy"), []int64{0, 1, 2, 7, 0})
			return []string{"eval", "-data", dir}
		}, "test_labels.npy: label 7 of sample 3 is outside 0..2"},
		{"eval -net, network.json shape disagrees", func(t *testing.T) []string {
			net := copyBuiltinNet(t)
			p := filepath.Join(net, "network.json")
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(p, bytes.Replace(raw, []byte("[\n    30,\n    3\n   ]"), []byte("[30, 4]"), 1), 0o644)
			return []string{"eval", "-net", net}
		}, "layer 3: layer3_weights.npy has shape [30 3], but network.json gives the layer shape [30 4]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.setup(t)
			var out, errb bytes.Buffer
			err := run(args, &out, &errb)
			var ue usageError
			if err == nil || !errors.As(err, &ue) {
				t.Fatalf("%v: error %v, want a usage error (exit code 2)", args, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

// FuzzLoadYinYang checks that no pair of sample and label files makes
// eval -data's reader panic, that its errors name a file, and that what it
// loads is consistent.
func FuzzLoadYinYang(f *testing.F) {
	var s, l bytes.Buffer
	if err := npyio.Write(&s, mat.NewDense(2, 4, []float64{0, 0.5, 1, 0.25, 0.1, 0.2, 0.3, 0.4})); err != nil {
		f.Fatal(err)
	}
	if err := npyio.Write(&l, []int64{0, 2}); err != nil {
		f.Fatal(err)
	}
	f.Add(s.Bytes(), l.Bytes())
	f.Add(s.Bytes()[:50], l.Bytes())
	f.Add(s.Bytes(), l.Bytes()[:50])
	f.Add(s.Bytes(), l.Bytes()[:l.Len()-1])
	f.Add(s.Bytes(), s.Bytes())
	f.Fuzz(func(t *testing.T, samples, labels []byte) {
		fsys := fstest.MapFS{"d/test_samples.npy": {Data: samples}, "d/test_labels.npy": {Data: labels}}
		times, lab, err := loadYinYang(fsys, "d", "test", 4, 3)
		if err != nil {
			if !strings.Contains(err.Error(), "test_samples.npy") && !strings.Contains(err.Error(), "test_labels.npy") {
				t.Fatalf("error %q names no file", err)
			}
			return
		}
		if len(times) != 4*len(lab) {
			t.Fatalf("%d spike times for %d labels", len(times), len(lab))
		}
		for i, l := range lab {
			if l < 0 || l >= 3 {
				t.Fatalf("label %d of sample %d is out of range", l, i)
			}
		}
	})
}
