package batch

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"codeberg.org/sbinet/npyio"
)

// sharedDir returns ../shared (the project's test data) or skips the test.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared")
	if _, err := os.Stat(filepath.Join(dir, "reference")); err != nil {
		t.Skipf("skipping: the shared test data (%s) is not here", dir)
	}
	return dir
}

func readLabels(t testing.TB, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lab []int64
	if err := npyio.Read(f, &lab); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return lab
}

// yinYangTest returns the published Yin-Yang test split, encoded as the
// reference does: t = 0.15 + v (2.0 - 0.15).
func yinYangTest(t testing.TB) (times []float64, labels []int64) {
	dir := filepath.Join(sharedDir(t), "data", "yinyang")
	x, err := ReadNpy(os.DirFS(dir), "test_samples.npy")
	if err != nil {
		t.Fatal(err)
	}
	v := x.Float64s()
	times = make([]float64, len(v))
	for i, vi := range v {
		times[i] = 0.15 + vi*(2.0-0.15)
	}
	return times, readLabels(t, filepath.Join(dir, "test_labels.npy"))
}

func TestReferenceNetworksAccuracy(t *testing.T) {
	times, labels := yinYangTest(t)
	for _, name := range []string{"yin_yang_H30_W", "yin_yang_H30_WA", "yin_yang_H30_WS", "yin_yang_H5_WS"} {
		t.Run(name, func(t *testing.T) {
			ref, err := LoadReference(filepath.Join(sharedDir(t), "reference", name))
			if err != nil {
				t.Fatal(err)
			}
			in, err := TimesFrom(len(labels), 4, times)
			if err != nil {
				t.Fatal(err)
			}
			for _, eps := range []float64{0, 1e-6} {
				for i := range ref.Net.Layers {
					ref.Net.Layers[i].Neuron.Eps = eps
				}
				var tr Trace
				if err := NewCPU(0).Forward(ref.Net, in, &tr); err != nil {
					t.Fatal(err)
				}
				correct := 0
				for i, p := range Predict(tr.Output()) {
					if int64(p) == labels[i] {
						correct++
					}
				}
				want := int(math.Round(ref.ExpectedAccuracy * float64(len(labels))))
				if correct != want {
					t.Errorf("eps %g: %d of %d correct (%.1f%%), the reference reports %d (%.1f%%)",
						eps, correct, len(labels), 100*float64(correct)/float64(len(labels)), want, 100*ref.ExpectedAccuracy)
				}
			}
		})
	}
}
