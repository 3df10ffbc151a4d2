package trainer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

// selectConfig is tinyConfig with n candidates, in a regime where the
// outputs spike and the candidates' validation accuracies differ.
func selectConfig(n int) Config {
	c := tinyConfig(6, "axonal")
	c.Seed = 3
	c.Training.Epochs = 2
	c.Training.BumpValue = 0
	for i := range c.Layers {
		c.Layers[i].WeightsMean = 3
	}
	c.Training.Select.Candidates = n
	return c
}

func TestCandidate(t *testing.T) {
	c := selectConfig(4)
	for i := range 4 {
		cc := Candidate(c, i)
		if want := 4*c.Seed + uint64(i); cc.Seed != want || cc.Selects() || cc.Name != c.Name {
			t.Errorf("candidate %d: seed %d, selects %v, name %q; want seed %d, no selection, name %q", i, cc.Seed, cc.Selects(), cc.Name, want, c.Name)
		}
	}
	for _, tc := range []struct {
		n    int
		seed uint64
		want string
	}{
		{1, 1, "training.select.candidates = 1: must be 0"},
		{-2, 1, "training.select.candidates = -2"},
		{4, 1 << 62, "candidates' seeds"},
	} {
		c := selectConfig(tc.n)
		c.Seed = tc.seed
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("candidates %d, seed %d: error %v; want one containing %q", tc.n, tc.seed, err, tc.want)
		}
	}
	c = selectConfig(4)
	c.Seed = (1<<63 - 1 - 3) / 4
	if err := c.Validate(); err != nil {
		t.Errorf("largest seed for 4 candidates: %v", err)
	}
}

// trainJob trains a job's runs as a population to epochs and finishes it.
func trainJob(t *testing.T, j *Job, epochs int) Summary {
	t.Helper()
	p, err := NewPopJobs([]*Job{j})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Train(epochs, PopHooks{}); err != nil {
		t.Fatal(err)
	}
	s, err := j.Finish("cpu", p.JobErrs(0))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSelection holds a selection run against its candidates trained as
// plain runs of their seeds: the same bits, the candidate with the best
// final validation accuracy kept, and its results in the run directory.
func TestSelection(t *testing.T) {
	const n = 3
	cfg := selectConfig(n)
	data := tinyData()
	eng := batch.NewCPU(2)
	dir := filepath.Join(t.TempDir(), "sel")
	j, err := NewJob(dir, cfg, data, eng, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Runs) != n {
		t.Fatalf("%d runs; want %d candidates", len(j.Runs), n)
	}
	if _, err := OpenRun(dir, eng); err == nil || !strings.Contains(err.Error(), "has not chosen its candidate yet") {
		t.Errorf("OpenRun before the choice: %v; want the not-chosen error", err)
	}
	s := trainJob(t, j, cfg.Training.Epochs)

	want, wantVal := -1, -1.0
	var plain []Summary
	for i := range n {
		pr, err := NewRun(filepath.Join(t.TempDir(), "plain"), Candidate(cfg, i), data, eng, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := pr.Train(cfg.Training.Epochs, Hooks{}); err != nil {
			t.Fatal(err)
		}
		ps, err := pr.Finish("cpu")
		if err != nil {
			t.Fatal(err)
		}
		plain = append(plain, ps)
		if ps.FinalValAcc > wantVal {
			want, wantVal = i, ps.FinalValAcc
		}
		a, _ := os.ReadFile(filepath.Join(pr.Dir, NetworkDir, "network.json"))
		b, _ := os.ReadFile(filepath.Join(j.Runs[i].Dir, NetworkDir, "network.json"))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("candidate %d: its network differs from the plain run of seed %d", i, Candidate(cfg, i).Seed)
		}
	}
	if want == 0 {
		t.Fatalf("candidate 0 has the best validation accuracy: the test cannot tell selection from taking the first; choose another seed")
	}
	sel, err := ReadSelection(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sel.Winner != want {
		t.Errorf("kept candidate %d; want %d (final validation accuracies %+v)", sel.Winner, want, sel.Candidates)
	}
	w := plain[want]
	if s.Seed != cfg.Seed || s.SelectedSeed != w.Seed || s.Candidates != n || s.TestAccuracy != w.TestAccuracy || s.FinalValAcc != w.FinalValAcc {
		t.Errorf("summary: seed %d, selected %d of %d, test %v, validation %v; want seed %d, selected %d of %d, test %v, validation %v",
			s.Seed, s.SelectedSeed, s.Candidates, s.TestAccuracy, s.FinalValAcc, cfg.Seed, w.Seed, n, w.TestAccuracy, w.FinalValAcc)
	}
	for _, f := range []string{SummaryFile, MetricsFile, filepath.Join(NetworkDir, "network.json")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the run directory lacks %s: %v", f, err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dir, NetworkDir, "network.json"))
	b, _ := os.ReadFile(filepath.Join(j.Runs[want].Dir, NetworkDir, "network.json"))
	if !bytes.Equal(a, b) {
		t.Error("the run directory's network is not the kept candidate's")
	}
	r, err := OpenRun(dir, eng)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dir != j.Runs[want].Dir || r.Trainer.Epoch != cfg.Training.Epochs {
		t.Errorf("OpenRun opened %s at epoch %d; want the kept candidate %s at epoch %d", r.Dir, r.Trainer.Epoch, j.Runs[want].Dir, cfg.Training.Epochs)
	}
}

// TestSelectionResume trains a selection in two steps, reopened between
// them, and gets the bits of one step; a candidate that failed is passed
// over, and a selection whose candidates all failed fails.
func TestSelectionResume(t *testing.T) {
	cfg := selectConfig(2)
	data := tinyData()
	eng := batch.NewCPU(2)
	once := filepath.Join(t.TempDir(), "once")
	j, err := NewJob(once, cfg, data, eng, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	s1 := trainJob(t, j, 2)

	dir := filepath.Join(t.TempDir(), "twice")
	j, err = NewJob(dir, cfg, data, eng, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPopJobs([]*Job{j})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Train(1, PopHooks{}); err != nil {
		t.Fatal(err)
	}
	// OpenJob would read the data config.toml names: give tinyData instead.
	if j, err = openJob(dir, cfg, data, eng, OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	if j.Epoch() != 1 {
		t.Fatalf("reopened at epoch %d; want 1", j.Epoch())
	}
	s2 := trainJob(t, j, 2)
	if s1.TestAccuracy != s2.TestAccuracy || s1.SelectedSeed != s2.SelectedSeed || s1.FinalValAcc != s2.FinalValAcc {
		t.Errorf("resumed: selected %d, test %v, validation %v; in one go: %d, %v, %v", s2.SelectedSeed, s2.TestAccuracy, s2.FinalValAcc, s1.SelectedSeed, s1.TestAccuracy, s1.FinalValAcc)
	}

	// The candidate kept fails: the other is kept instead.
	win := int(s1.SelectedSeed - Candidate(cfg, 0).Seed)
	errs := make([]error, 2)
	errs[win] = errors.New("NaN loss")
	s, err := j.Finish("cpu", errs)
	if err != nil {
		t.Fatal(err)
	}
	if s.SelectedSeed != Candidate(cfg, 1-win).Seed {
		t.Errorf("with candidate %d failed, kept seed %d; want %d", win, s.SelectedSeed, Candidate(cfg, 1-win).Seed)
	}
	sel, err := ReadSelection(dir)
	if err != nil || sel.Winner != 1-win || !strings.Contains(sel.Candidates[win].Error, "NaN loss") {
		t.Errorf("select.json: %+v, %v; want winner %d and candidate %d's error", sel, err, 1-win, win)
	}
	if _, err := j.Finish("cpu", []error{errors.New("a"), errors.New("b")}); err == nil || !strings.Contains(err.Error(), "no candidate trained through") {
		t.Errorf("every candidate failed: %v; want an error", err)
	}
}

// TestSelectionEdited refuses to reopen a selection whose config.toml was
// edited after its candidates trained, and applies the edit with force.
func TestSelectionEdited(t *testing.T) {
	cfg := selectConfig(2)
	eng := batch.NewCPU(2)
	dir := filepath.Join(t.TempDir(), "sel")
	j, err := NewJob(dir, cfg, tinyData(), eng, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPopJobs([]*Job{j})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Train(1, PopHooks{}); err != nil {
		t.Fatal(err)
	}
	cfg.Training.LearningRate *= 2
	j.Cfg = cfg
	if err := j.writeConfig(); err != nil {
		t.Fatal(err)
	}
	// OpenJob reads the data its config names: give them instead.
	_, err = openJob(dir, cfg, tinyData(), eng, OpenOptions{})
	var ce *ConfigChangedError
	if !errors.As(err, &ce) {
		t.Fatalf("edited selection reopened: %v; want a ConfigChangedError", err)
	}
	j, err = openJob(dir, cfg, tinyData(), eng, OpenOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range j.Runs {
		if len(r.Changes) == 0 || r.Trainer.Cfg.Training.LearningRate != cfg.Training.LearningRate {
			t.Errorf("%s: changes %v, learning rate %v; want the edit applied", r.Dir, r.Changes, r.Trainer.Cfg.Training.LearningRate)
		}
		c, err := Load(filepath.Join(r.Dir, ConfigFile))
		if err != nil || c.Training.LearningRate != cfg.Training.LearningRate {
			t.Errorf("%s: config.toml not rewritten with the edit: %v", r.Dir, err)
		}
	}
}
