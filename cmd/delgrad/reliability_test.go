package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes body to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestNoSilentWrongAnswer: command lines whose flags or inputs would be
// ignored, or would give a number that is not what was asked for, are
// refused with a usage error (exit code 2) that says why, and leave no
// run directory behind.
func TestNoSilentWrongAnswer(t *testing.T) {
	tmp := t.TempDir()
	run1 := filepath.Join(tmp, "run1")
	runOK(t, "train", "-epochs", "1", "-out", run1, "-quiet")
	user := filepath.Join(tmp, "user")
	runOK(t, "train", "-config", npyConfig(t, []float64{0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0}, 0.3), "-out", user, "-quiet")
	layers := "[[layers]]\nsize = 3\n"
	newOut := filepath.Join(tmp, "new")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"eval -run -samples", []string{"eval", "-run", run1, "-samples", "/nonexistent", "-labels", "/nonexistent"}, "-samples, -labels cannot be used with -run"},
		{"eval -run -data", []string{"eval", "-run", run1, "-data", tmp}, "-data cannot be used with -run"},
		{"eval -run -dataset", []string{"eval", "-run", run1, "-dataset", "mnist"}, "-dataset cannot be used with -run"},
		{"eval -run -eps", []string{"eval", "-run", run1, "-eps"}, "-eps cannot be used with -run"},
		{"train -epochs 0", []string{"train", "-epochs", "0", "-out", newOut, "-quiet"}, "-epochs 0: must be >= 1"},
		{"resume -epochs 0", []string{"resume", "-run", run1, "-epochs", "0", "-quiet"}, "-epochs 0: must be >= 1"},
		{"negative config seed", []string{"train", "-config", writeFile(t, tmp, "seed.toml", "seed = -5\n"+layers), "-out", newOut, "-quiet"}, "seed = -5: must be >= 0"},
		{"npy key without npy", []string{"train", "-config", writeFile(t, tmp, "npykey.toml", "[data]\ntrain_samples = \"x.npy\"\n"+layers), "-out", newOut, "-quiet"},
			`data.train_samples is set, but data.name = "yin_yang" does not read .npy files: set data.name = "npy"`},
		{"mnist dir without mnist", []string{"train", "-config", writeFile(t, tmp, "dir.toml", "[data]\ndir = \"mnist\"\n"+layers), "-out", newOut, "-quiet"},
			`data.dir is set, but data.name = "yin_yang" does not read it`},
		{"robustness -compare other data", []string{"robustness", "-run", run1, "-compare", user, "-chips", "2", "-out", filepath.Join(tmp, "rob"), "-quiet"},
			"holds 12 samples of 2 features, not the 1000 of 4 of the -run's"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o, e bytes.Buffer
			err := run(c.args, &o, &e)
			var ue usageError
			if err == nil || !errors.As(err, &ue) {
				t.Fatalf("delgrad %s: error %v, want a usage error (exit code 2); output:\n%s", strings.Join(c.args, " "), err, o.String())
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			for _, d := range []string{newOut, filepath.Join(tmp, "rob")} {
				if _, err := os.Stat(d); err == nil {
					t.Fatalf("the refused command left %s behind", d)
				}
			}
		})
	}
}

// copyDir copies the files of directory src (recursively) to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), raw, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// editConfig replaces old by new in a run's config.toml.
func editConfig(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "config.toml")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("config.toml lacks %q", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(raw), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResumeRefusesLostOrEditedState: resume (and eval) refuse a run that
// lost its checkpoint after training, which would restart at epoch 0 and
// overwrite its history, and a run whose config.toml was edited since the
// checkpoint, naming the changed keys; -force restarts or applies the
// changes, and says so.
func TestResumeRefusesLostOrEditedState(t *testing.T) {
	tmp := t.TempDir()
	base := filepath.Join(tmp, "base")
	runOK(t, "train", "-epochs", "1", "-out", base, "-quiet")
	noCkpt := func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "checkpoint.bin")) }
	lr := func(t *testing.T, dir string) {
		editConfig(t, dir, "[training]\n  epochs = 1\n  batch_size = 150\n  eval_batch_size = 200\n  optimizer = \"adam\"\n  learning_rate = 0.005",
			"[training]\n  epochs = 1\n  batch_size = 150\n  eval_batch_size = 200\n  optimizer = \"adam\"\n  learning_rate = 0.01")
	}
	cases := []struct {
		name    string
		edit    func(t *testing.T, dir string)
		args    []string // after the command, -run DIR is added
		want    string   // in the error; "" for success
		stderr  string   // in stderr on success
		metrics int      // rows of metrics.csv afterwards
	}{
		{"lost checkpoint", noCkpt, []string{"resume", "-epochs", "2", "-quiet"}, "no checkpoint.bin, yet it has trained epochs (metrics.csv)", "", 1},
		{"lost checkpoint eval", noCkpt, []string{"eval"}, "resume -force restarts the run at epoch 0", "", 1},
		{"lost checkpoint -force", noCkpt, []string{"resume", "-epochs", "2", "-quiet", "-force"}, "", "restarting at epoch 0", 2},
		{"edited lr", lr, []string{"resume", "-epochs", "2", "-quiet"}, "training.learning_rate: 0.005 -> 0.01 (undo the edit, or delgrad resume -force applies it)", "", 1},
		{"edited lr eval", lr, []string{"eval"}, "training.learning_rate: 0.005 -> 0.01", "", 1},
		{"edited lr -force", lr, []string{"resume", "-epochs", "2", "-quiet", "-force"}, "", "applying the changes to config.toml since the checkpoint: training.learning_rate: 0.005 -> 0.01", 2},
		{"edited epochs", func(t *testing.T, dir string) { editConfig(t, dir, "epochs = 1", "epochs = 2") }, []string{"resume", "-quiet"}, "", "", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			copyDir(t, base, dir)
			c.edit(t, dir)
			ck, _ := os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
			var o, e bytes.Buffer
			err := run(append(c.args, "-run", dir), &o, &e)
			if c.want == "" {
				if err != nil {
					t.Fatalf("error %v, want success", err)
				}
				if !strings.Contains(e.String(), c.stderr) {
					t.Fatalf("stderr %q does not say %q", e.String(), c.stderr)
				}
			} else {
				var ue usageError
				if err == nil || !errors.As(err, &ue) {
					t.Fatalf("error %v, want a usage error (exit code 2); output:\n%s", err, o.String())
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %q does not say %q", err, c.want)
				}
				if after, _ := os.ReadFile(filepath.Join(dir, "checkpoint.bin")); !bytes.Equal(ck, after) {
					t.Fatal("the refused command changed checkpoint.bin")
				}
			}
			m, _ := os.ReadFile(filepath.Join(dir, "metrics.csv"))
			if n := strings.Count(string(m), "\n") - 1; n != c.metrics {
				t.Fatalf("metrics.csv has %d rows, want %d:\n%s", n, c.metrics, m)
			}
			if c.want == "" {
				// What -force did is settled: a plain resume and eval now run.
				runOK(t, "resume", "-run", dir, "-quiet")
				runOK(t, "eval", "-run", dir)
			}
		})
	}
}

// TestTrainOutDir: train -force replaces a run directory whole (no
// robustness/ or other result of the old run is left), and refuses
// directories that are no run directory or hold files no run writes, with
// or without -force, leaving them as they were; default run directories
// made in the same second do not collide.
func TestTrainOutDir(t *testing.T) {
	tmp := t.TempDir()
	base := filepath.Join(tmp, "base")
	runOK(t, "train", "-epochs", "1", "-out", base, "-quiet")
	if err := os.MkdirAll(filepath.Join(base, "robustness"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "robustness"), "chips.csv", "stale\n")
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns -out
		force bool
		want  string   // in the usage error; "" for success
		left  []string // files that must exist afterwards, relative to -out's directory
		gone  []string // files that must not
	}{
		{"-force replaces the whole run", func(t *testing.T, dir string) string {
			copyDir(t, base, dir)
			return dir
		}, true, "", []string{"config.toml", "checkpoint.bin", "summary.json"}, []string{"robustness"}},
		{"run without -force", func(t *testing.T, dir string) string {
			copyDir(t, base, dir)
			return dir
		}, false, "choose another -out or pass -force", []string{"robustness/chips.csv"}, nil},
		{"-force on a run with other files", func(t *testing.T, dir string) string {
			copyDir(t, base, dir)
			writeFile(t, dir, "notes.txt", "mine\n")
			return dir
		}, true, "also holds notes.txt, which no run writes", []string{"notes.txt", "robustness/chips.csv"}, nil},
		{"-force on a directory that holds no run", func(t *testing.T, dir string) string {
			os.MkdirAll(dir, 0o755)
			writeFile(t, dir, "README.md", "# project\n")
			return dir
		}, true, "is not empty and holds no run (no config.toml)", []string{"README.md"}, []string{"config.toml", "checkpoint.bin"}},
		{"a file as -out", func(t *testing.T, dir string) string {
			os.MkdirAll(dir, 0o755)
			return writeFile(t, dir, "README.md", "# project\n")
		}, true, "README.md: is a file, not a directory", []string{"README.md"}, []string{"config.toml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "d")
			out := c.setup(t, dir)
			args := []string{"train", "-epochs", "1", "-seed", "3", "-out", out, "-quiet"}
			if c.force {
				args = append(args, "-force")
			}
			runLeaves(t, args, c.want, dir, c.left, c.gone)
		})
	}
	t.Run("default directories", func(t *testing.T) {
		t.Chdir(t.TempDir())
		runOK(t, "train", "-epochs", "1", "-quiet")
		runOK(t, "train", "-epochs", "1", "-quiet")
		// A failed start leaves no empty default directory behind.
		var o, e bytes.Buffer
		if err := run([]string{"train", "-epochs", "1", "-init", t.TempDir(), "-quiet"}, &o, &e); err == nil {
			t.Fatal("train -init with no network succeeded")
		}
		runs, err := os.ReadDir("runs")
		if err != nil || len(runs) != 2 || runs[0].Name() == runs[1].Name() {
			t.Fatalf("runs/ holds %v (%v), want two run directories", runs, err)
		}
		d, err := newRunDir("runs", "same")
		if err != nil {
			t.Fatal(err)
		}
		d2, err := newRunDir("runs", "same")
		if err != nil || d2 == d || filepath.Base(d2) != "same-2" {
			t.Fatalf("second newRunDir(runs, same) = %q, %v; first %q: want runs/same-2", d2, err, d)
		}
	})
}

// TestExportOutDir: export refuses a non-empty -out unless -force, which
// replaces an export whole (no file of the old one is left, and no
// temporary directory either); it never replaces the run itself or a
// directory with other files.
func TestExportOutDir(t *testing.T) {
	tmp := t.TempDir()
	runDir := filepath.Join(tmp, "run")
	runOK(t, "train", "-epochs", "1", "-out", runDir, "-quiet")
	old := filepath.Join(tmp, "old")
	runOK(t, "export", "-run", runDir, "-out", old)
	writeFile(t, old, "layer9_weights.npy", "stale")
	cases := []struct {
		name  string
		setup func(t *testing.T, parent string) string // returns -out
		force bool
		want  string   // in the usage error; "" for success
		left  []string // must exist afterwards, relative to -out
		gone  []string // must not
	}{
		{"non-empty without -force", func(t *testing.T, p string) string {
			d := filepath.Join(p, "net")
			copyDir(t, old, d)
			return d
		}, false, "is not empty: choose another -out, or pass -force", []string{"layer9_weights.npy"}, nil},
		{"-force replaces an export whole", func(t *testing.T, p string) string {
			d := filepath.Join(p, "net")
			copyDir(t, old, d)
			return d
		}, true, "", []string{"network.json"}, []string{"layer9_weights.npy"}},
		{"-force on a directory with other files", func(t *testing.T, p string) string {
			d := filepath.Join(p, "net")
			copyDir(t, old, d)
			writeFile(t, d, "notes.txt", "mine")
			return d
		}, true, "also holds notes.txt", []string{"notes.txt", "layer9_weights.npy"}, nil},
		{"the run itself", func(t *testing.T, p string) string { return runDir }, true, "holds the run", []string{"config.toml", "checkpoint.bin"}, nil},
		{"above the run", func(t *testing.T, p string) string { return tmp }, true, "holds the run", []string{"run/config.toml"}, nil},
		{"a file", func(t *testing.T, p string) string { return writeFile(t, p, "net", "x") }, true, "is a file", nil, nil},
		{"empty directory", func(t *testing.T, p string) string {
			d := filepath.Join(p, "net")
			os.Mkdir(d, 0o755)
			return d
		}, false, "", []string{"network.json"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			out := c.setup(t, parent)
			args := []string{"export", "-run", runDir, "-out", out}
			if c.force {
				args = append(args, "-force")
			}
			runLeaves(t, args, c.want, out, c.left, c.gone)
			if ents, _ := os.ReadDir(parent); len(ents) > 1 {
				t.Errorf("export left %d entries beside -out: %v", len(ents), ents)
			}
		})
	}
}

// runLeaves runs the command line args and fails t unless it succeeds
// (want "") or is a usage error saying want, and unless the files left
// are in dir and those gone are not.
func runLeaves(t *testing.T, args []string, want, dir string, left, gone []string) {
	t.Helper()
	var o, e bytes.Buffer
	err := run(args, &o, &e)
	if want == "" {
		if err != nil {
			t.Fatalf("error %v, want success", err)
		}
	} else {
		var ue usageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want a usage error saying %q", err, want)
		}
	}
	for _, f := range left {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s is gone: %v", f, err)
		}
	}
	for _, f := range gone {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s was left", f)
		}
	}
}
