package sweep

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/delgrad-go/delgrad/trainer"
)

// TestSweepSelect runs a sweep whose grid turns training.select on: each
// run of the selecting point trains its candidates and keeps one, its
// summary is what the status and the report read, and a candidate is the
// plain point's run of the same seed, bit for bit.
func TestSweepSelect(t *testing.T) {
	dir, p := prepare(t, `base = "base.toml"
seeds = "1-2"
epochs = 2
[grid]
"training.select.candidates" = [0, 2]
`)
	res := runLocal(t, context.Background(), dir, p, LocalOptions{Slots: []Slot{cpuSlot("cpu", 2, nil)}})
	for _, r := range res.Runs {
		if r.Err != nil || len(r.Result.Trained) != 2 {
			t.Fatalf("task %d: %v, %d trained; want 2", r.Task, r.Err, len(r.Result.Trained))
		}
	}
	var plain, sel string
	for _, task := range p.Tasks {
		cfg, err := LoadPointConfig(dir, task.Point)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Selects() {
			sel = task.Point
		} else {
			plain = task.Point
		}
	}
	if plain == "" || sel == "" {
		t.Fatalf("tasks %+v: want one plain point and one selecting", p.Tasks)
	}
	run := filepath.Join(dir, RunDir(sel, 1))
	s, err := ReadSummary(run)
	if err != nil {
		t.Fatal(err)
	}
	chosen, err := trainer.ReadSelection(run)
	if err != nil {
		t.Fatal(err)
	}
	c := chosen.Candidates[chosen.Winner]
	if s.Candidates != 2 || s.SelectedSeed != c.Seed || s.TestAccuracy != c.TestAccuracy || s.FinalValAcc != c.ValAccuracy {
		t.Errorf("summary %+v does not report the kept candidate %+v", s, c)
	}
	// Candidate 0 of seed 1 has seed 2: the plain point's seed2 run.
	a, err1 := os.ReadFile(filepath.Join(run, trainer.CandidatesDir, "c0", trainer.NetworkDir, "network.json"))
	b, err2 := os.ReadFile(filepath.Join(dir, RunDir(plain, 2), trainer.NetworkDir, "network.json"))
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		t.Errorf("candidate 0 of seed 1 is not the plain run of seed 2 (%v, %v)", err1, err2)
	}
	st, err := Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range st {
		for _, rs := range ts.Runs {
			if rs.State != "done" || rs.Epochs != 2 {
				t.Errorf("status of %s: %s, %d epochs; want done, 2", rs.Run, rs.State, rs.Epochs)
			}
		}
	}
	// A second pass finds every run done, the selections included.
	res = runLocal(t, context.Background(), dir, p, LocalOptions{Slots: []Slot{cpuSlot("cpu", 2, nil)}})
	for _, r := range res.Runs {
		if r.Err != nil || len(r.Result.Trained) != 0 || len(r.Result.Done) != 2 {
			t.Errorf("second pass, task %d: %v, %d trained, %d done; want 0 and 2", r.Task, r.Err, len(r.Result.Trained), len(r.Result.Done))
		}
	}
}

// TestRunEpochs counts a selection's epochs before it has chosen as its
// least trained candidate's.
func TestRunEpochs(t *testing.T) {
	run := t.TempDir()
	if n := runEpochs(run); n != 0 {
		t.Errorf("empty run: %d epochs; want 0", n)
	}
	for c, rows := range map[string]int{"c0": 3, "c1": 2} {
		d := filepath.Join(run, trainer.CandidatesDir, c)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		csv := "epoch,train_loss\n"
		for e := 1; e <= rows; e++ {
			csv += string(rune('0'+e)) + ",0.1\n"
		}
		if err := os.WriteFile(filepath.Join(d, trainer.MetricsFile), []byte(csv), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n := runEpochs(run); n != 2 {
		t.Errorf("candidates with 3 and 2 epochs: %d; want 2", n)
	}
	if err := os.WriteFile(filepath.Join(run, trainer.MetricsFile), []byte("epoch\n1\n2\n3\n4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := runEpochs(run); n != 4 {
		t.Errorf("with the run's own metrics.csv of 4 epochs: %d; want 4", n)
	}
}
