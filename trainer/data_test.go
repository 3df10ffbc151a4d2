package trainer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

// TestLoadDataLabelRange: a label the output layer cannot represent is
// reported with its file, its sample index, its value and the valid range,
// whichever split it is in (it used to be reported as the training split
// having too many classes).
func TestLoadDataLabelRange(t *testing.T) {
	write := func(t *testing.T, path string, v any) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := npyio.Write(f, v); err != nil {
			t.Fatal(err)
		}
	}
	good := []int64{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}
	bad := []int64{0, 1, 2, 0, 1, 2, 0, 7, 2, 0}
	tests := []struct {
		name             string
		train, val, test []int64 // val nil: held out of train
		want             []string
	}{
		{"all good", good, nil, good, nil},
		{"bad test label", good, nil, bad, []string{"test_y.npy: label 7 at sample 7 is outside 0..2", "output layer's 3 neurons"}},
		{"bad validation label", good, bad, good, []string{"val_y.npy: label 7 at sample 7 is outside 0..2"}},
		{"bad train label", bad, nil, good, []string{"train_y.npy: label 7 at sample 7 is outside 0..2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			x := mat.NewDense(10, 2, make([]float64, 20))
			cfg := tinyConfig(4, "none")
			cfg.Layers[len(cfg.Layers)-1].Size = 3
			cfg.Data = DataConfig{Name: "npy", Multiplex: 1, TrainSamples: "train_x.npy", TrainLabels: "train_y.npy",
				TestSamples: "test_x.npy", TestLabels: "test_y.npy"}
			write(t, filepath.Join(dir, "train_x.npy"), x)
			write(t, filepath.Join(dir, "train_y.npy"), tc.train)
			write(t, filepath.Join(dir, "test_x.npy"), x)
			write(t, filepath.Join(dir, "test_y.npy"), tc.test)
			if tc.val != nil {
				cfg.Data.ValidationSamples, cfg.Data.ValidationLabels = "val_x.npy", "val_y.npy"
				write(t, filepath.Join(dir, "val_x.npy"), x)
				write(t, filepath.Join(dir, "val_y.npy"), tc.val)
			}
			d, err := LoadData(&cfg, dir)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if d.Test.Classes != 3 {
					t.Errorf("test split has %d classes, want 3", d.Test.Classes)
				}
				return
			}
			if err == nil {
				t.Fatal("LoadData: no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
