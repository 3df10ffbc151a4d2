package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/configs"
	"github.com/delgrad-go/delgrad/sweep"
	"github.com/delgrad-go/delgrad/trainer"
)

// selectConfigFile writes the built-in config with training.select
// candidates = n and returns its path.
func selectConfigFile(t *testing.T, n int) string {
	t.Helper()
	f, err := configs.Open(defaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := trainer.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	c.Training.Select.Candidates = n
	var b bytes.Buffer
	if err := c.Encode(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "select.toml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTrainSelect: a config with training.select trains its candidates
// into candidates/cI, keeps one, and gives the run directory its results;
// export and eval on the run directory use the kept candidate; resume
// trains every candidate on and chooses again; train -seeds makes a
// selection per seed.
func TestTrainSelect(t *testing.T) {
	cfg := selectConfigFile(t, 2)
	dir := filepath.Join(t.TempDir(), "sel")
	out := runOK(t, "train", "-config", cfg, "-epochs", "2", "-out", dir, "-workers", "2")
	if !strings.Contains(out, "2 candidates each, the best on validation kept") || !strings.Contains(out, "of 2 kept, final validation") {
		t.Fatalf("train output does not tell the selection:\n%s", out)
	}
	for _, f := range []string{"config.toml", "select.json", "summary.json", "metrics.csv", "network/network.json", "candidates/c0/checkpoint.bin", "candidates/c1/summary.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the selection run lacks %s: %v", f, err)
		}
	}
	sel, err := trainer.ReadSelection(dir)
	if err != nil {
		t.Fatal(err)
	}
	win := filepath.Join(dir, sel.Candidates[sel.Winner].Dir)
	exp := filepath.Join(t.TempDir(), "exported")
	runOK(t, "export", "-run", dir, "-out", exp)
	a, _ := os.ReadFile(filepath.Join(exp, "network.json"))
	b, _ := os.ReadFile(filepath.Join(win, "network", "network.json"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("export -run of the selection is not the kept candidate %s's network", win)
	}
	if out := runOK(t, "eval", "-run", dir); !strings.Contains(out, "accuracy") {
		t.Errorf("eval -run of the selection:\n%s", out)
	}
	out = runOK(t, "resume", "-run", dir, "-epochs", "3")
	if !strings.Contains(out, "resuming "+dir+" (2 candidates) at epoch 2 of 3") {
		t.Fatalf("resume output:\n%s", out)
	}
	for _, c := range []string{"c0", "c1"} {
		if rows := metricsNoTime(t, filepath.Join(dir, "candidates", c, "metrics.csv")); len(rows) != 4 {
			t.Errorf("%s has %d metrics rows after resume to 3 epochs, want 4", c, len(rows))
		}
	}
	s, err := sweep.ReadSummary(dir)
	if err != nil || s.Epochs != 3 || s.Candidates != 2 {
		t.Errorf("summary after resume: %+v, %v; want 3 epochs and 2 candidates", s, err)
	}

	pop := filepath.Join(t.TempDir(), "pop")
	out = runOK(t, "train", "-config", cfg, "-seeds", "1-2", "-epochs", "1", "-out", pop, "-workers", "2")
	if !strings.Contains(out, "as a population of 4") || !strings.Contains(out, "2 members, test accuracy") {
		t.Fatalf("train -seeds output:\n%s", out)
	}
	for _, f := range []string{"seed1/candidates/c1/summary.json", "seed2/select.json", "seed2/summary.json"} {
		if _, err := os.Stat(filepath.Join(pop, f)); err != nil {
			t.Errorf("the population of selections lacks %s: %v", f, err)
		}
	}
	if s, err := sweep.ReadSummary(filepath.Join(pop, "seed2")); err != nil || s.Seed != 2 || (s.SelectedSeed != 4 && s.SelectedSeed != 5) {
		t.Errorf("seed2's summary: %+v, %v; want seed 2 and a candidate seed of 4 or 5", s, err)
	}
	if out := runOK(t, "resume", "-run", pop); !strings.Contains(out, "nothing to do") {
		t.Errorf("resume of a finished population of selections:\n%s", out)
	}
}
