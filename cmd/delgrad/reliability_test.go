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
