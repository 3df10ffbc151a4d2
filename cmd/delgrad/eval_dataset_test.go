package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// userData4 writes a user dataset of 4 features (as many as Yin-Yang has)
// and 3 classes, and a config that trains on it; it returns the config and
// the data directory.
func userData4(t *testing.T) (cfg, dir string) {
	dir = t.TempDir()
	lab := make([]float64, 12)
	for i := range lab {
		lab[i] = float64(i % 3)
	}
	return userDataset(t, dir, "user4", 4, 3, lab, 0.2), dir
}

// TestEvalNetRecordedDataset: a network exported from a run on user data
// records its dataset, and eval -net refuses to evaluate it on Yin-Yang
// (it used to, silently, when the data had 4 features) and says which
// flags to give; those flags then work.
func TestEvalNetRecordedDataset(t *testing.T) {
	cfg, data := userData4(t)
	run4 := filepath.Join(t.TempDir(), "r")
	runOK(t, "train", "-config", cfg, "-out", run4, "-quiet", "-workers", "2")
	net := filepath.Join(run4, "network")
	raw, err := os.ReadFile(filepath.Join(net, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Dataset map[string]string `json:"dataset"`
	}
	if err := json.Unmarshal(raw, &js); err != nil {
		t.Fatal(err)
	}
	if js.Dataset["name"] != "npy" || js.Dataset["test_samples"] != filepath.Join(data, "test_x.npy") {
		t.Fatalf("network.json records the dataset %v, want npy with test_samples %s", js.Dataset, filepath.Join(data, "test_x.npy"))
	}

	var out, errb bytes.Buffer
	err = run([]string{"eval", "-net", net}, &out, &errb)
	var ue usageError
	if err == nil || !errors.As(err, &ue) {
		t.Fatalf("eval -net of a user-data network: %v, want a usage error\n%s", err, out.String())
	}
	for _, w := range []string{"trained on user data", "-samples " + filepath.Join(data, "test_x.npy") + " -labels " + filepath.Join(data, "test_y.npy")} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	err = run([]string{"eval", "-net", net, "-split", "validation"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "last tenth of "+filepath.Join(data, "train_x.npy")) {
		t.Errorf("eval -net -split validation: %v, want it to name the held-out training files", err)
	}

	o := runOK(t, "eval", "-net", net, "-samples", filepath.Join(data, "test_x.npy"), "-labels", filepath.Join(data, "test_y.npy"))
	if !strings.Contains(o, "test_x.npy (12 samples)") {
		t.Fatalf("eval -net -samples -labels: %s", o)
	}
	// An explicit -dataset is the user's choice: it runs, with a note.
	out.Reset()
	errb.Reset()
	if err := run([]string{"eval", "-net", net, "-dataset", "yin_yang"}, &out, &errb); err != nil {
		t.Fatalf("eval -net -dataset yin_yang: %v", err)
	}
	if !strings.Contains(errb.String(), "was trained on npy") {
		t.Errorf("eval -net -dataset yin_yang printed no note on stderr: %q", errb.String())
	}
}

// TestEvalNetDatasetField: eval -net uses the dataset network.json records
// and keeps working for files without the field (the reference's, older
// exports).
func TestEvalNetDatasetField(t *testing.T) {
	withDataset := func(t *testing.T, ds string) string {
		net := copyBuiltinNet(t)
		p := filepath.Join(net, "network.json")
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if ds != "" {
			raw = bytes.Replace(raw, []byte("{"), []byte(`{"dataset": `+ds+`, `), 1)
		}
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return net
	}
	for _, ds := range []string{"", `{"name": "yin_yang"}`} {
		o := runOK(t, "eval", "-net", withDataset(t, ds))
		if !strings.Contains(o, "accuracy 97.50% (975 correct)") {
			t.Errorf("dataset %q: output %q lacks the pretrained network's 97.50%%", ds, o)
		}
	}
	missing := filepath.Join(t.TempDir(), "no-mnist-here")
	var out, errb bytes.Buffer
	err := run([]string{"eval", "-net", withDataset(t, `{"name": "mnist16", "dir": "`+missing+`"}`)}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "MNIST") || !strings.Contains(err.Error(), missing) {
		t.Errorf("eval -net of a network recorded as trained on mnist16 in %s: %v, want it to load that MNIST", missing, err)
	}
	err = run([]string{"eval", "-net", withDataset(t, `{"dir": "x"}`)}, &out, &errb)
	var ue usageError
	if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), `"dataset" has no "name"`) {
		t.Errorf("dataset without a name: %v, want a usage error saying so", err)
	}
}
