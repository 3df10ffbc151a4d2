package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/sweep"
)

// cancelWriter collects output and calls cancel once it holds on.
type cancelWriter struct {
	bytes.Buffer
	on     string
	cancel func()
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	if strings.Contains(w.String(), w.on) {
		w.cancel()
	}
	return n, err
}

// sameRun fails t where the run directories a and b differ: their
// networks, configs and metrics (wall times aside).
func sameRun(t *testing.T, a, b string) {
	t.Helper()
	for _, sub := range []string{"network", "network_best"} {
		ents, err := os.ReadDir(filepath.Join(a, sub))
		if err != nil || len(ents) == 0 {
			t.Fatalf("%s/%s: %v", a, sub, err)
		}
		for _, e := range ents {
			x, err1 := os.ReadFile(filepath.Join(a, sub, e.Name()))
			y, err2 := os.ReadFile(filepath.Join(b, sub, e.Name()))
			if err := errors.Join(err1, err2); err != nil || !bytes.Equal(x, y) {
				t.Errorf("%s/%s differs between %s and %s (%v)", sub, e.Name(), a, b, err)
			}
		}
	}
	x, _ := os.ReadFile(filepath.Join(a, "config.toml"))
	y, _ := os.ReadFile(filepath.Join(b, "config.toml"))
	if !bytes.Equal(x, y) {
		t.Errorf("config.toml differs between %s and %s", a, b)
	}
	if m, n := metricsNoTime(t, filepath.Join(a, "metrics.csv")), metricsNoTime(t, filepath.Join(b, "metrics.csv")); !reflect.DeepEqual(m, n) {
		t.Errorf("metrics differ between %s and %s:\n%v\n%v", a, b, m, n)
	}
}

// TestSweep: delgrad sweep end to end on 2 grid points x 2 seeds: an
// uninterrupted sweep; the same sweep interrupted in its first task, with a
// run that cannot start, continued (the failure listed), continued again
// (the failure skipped) and retried with -retry-failed: its runs equal the
// uninterrupted sweep's bit for bit. Then -status, -task, a changed sweep
// file, and -report's tables against the runs' summaries.
func TestSweep(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "base.toml"), []byte("name = \"tiny\"\n[[layers]]\nsize = 5\n[[layers]]\nsize = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(root, "s.toml")
	os.WriteFile(spec, []byte(`base = "base.toml"
seeds = "1-2"
epochs = 2
[grid]
"layers.0.size" = [4, 6]
[report]
params = ["layers.0.size"]
`), 0o644)
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	out := runOK(t, "sweep", "-file", spec, "-out", a, "-workers", "2")
	if !strings.Contains(out, "task 1 layers.0.size=6 [cpu]: 2 of 2 runs done (2 trained now)") || !strings.Contains(out, "sweep: 2 of 2 tasks ended, 4 of 4 runs done, 0 failed") ||
		!strings.Contains(out, "task 0 layers.0.size=4 [cpu]: started, 2 runs, on cpu (2 workers)") {
		t.Fatalf("sweep output:\n%s", out)
	}
	// Two CPU slots of one worker each, at once: the same runs, bit for
	// bit; each summary names its engine.
	c := filepath.Join(root, "c")
	out = runOK(t, "sweep", "-file", spec, "-out", c, "-devices", "cpu=1,cpu=1")
	if !strings.Contains(out, "on 2 slots at once: cpu#1, cpu#2") || !strings.Contains(out, "sweep: 2 of 2 tasks ended, 4 of 4 runs done, 0 failed") {
		t.Fatalf("sweep on two slots:\n%s", out)
	}
	for _, p := range []string{"layers.0.size=4", "layers.0.size=6"} {
		for _, s := range []string{"seed1", "seed2"} {
			sameRun(t, filepath.Join(a, p, s), filepath.Join(c, p, s))
			if sum, err := sweep.ReadSummary(filepath.Join(c, p, s)); err != nil || sum.Engine != "cpu (1 workers)" {
				t.Errorf("%s/%s: summary's engine %q (%v), want cpu (1 workers)", p, s, sum.Engine, err)
			}
		}
	}
	// A task that fails (its grid point unreadable) ends only itself: the
	// other slot's task goes on; the error names the task (exit code 2,
	// the sweep's input).
	pt := filepath.Join(c, "layers.0.size=6", sweep.PointConfigFile)
	good := mustRead(t, pt)
	os.WriteFile(pt, []byte("layers = 3\n"), 0o644)
	var co, ce bytes.Buffer
	err := run([]string{"sweep", "-out", c, "-devices", "cpu=1,cpu=1"}, &co, &ce)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "1 of 2 tasks failed") || !strings.Contains(err.Error(), "task 1 (layers.0.size=6)") ||
		!strings.Contains(co.String(), "task 0 layers.0.size=4 [cpu#") || !strings.Contains(ce.String(), "delgrad: task 1 (layers.0.size=6) on cpu#") {
		t.Fatalf("sweep with a task that fails: %v\n%s\n%s", err, co.String(), ce.String())
	}
	os.WriteFile(pt, good, 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &cancelWriter{on: "task 0 epoch 1/2", cancel: cancel}
	var e bytes.Buffer
	err = runContext(ctx, []string{"sweep", "-file", spec, "-out", b, "-workers", "2"}, w, &e)
	if !errors.Is(err, errInterrupted) || !strings.Contains(err.Error(), "continue with: delgrad sweep -out "+b) {
		t.Fatalf("interrupted sweep: %v\n%s", err, w.String())
	}
	first := filepath.Join(b, "layers.0.size=4", "seed1")
	if _, err := os.Stat(filepath.Join(first, "summary.json")); err == nil || metricsRowsOf(t, first) != 1 {
		t.Fatalf("after the interrupt %s has a summary or not 1 epoch", first)
	}
	blocked := filepath.Join(b, "layers.0.size=6", "seed2")
	if err := os.WriteFile(blocked, []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var o bytes.Buffer
	e.Reset()
	err = run([]string{"sweep", "-file", spec, "-out", b, "-workers", "2"}, &o, &e)
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "1 runs failed") || !strings.Contains(err.Error(), "-retry-failed") ||
		!strings.Contains(e.String(), filepath.Join("layers.0.size=6", "seed2")+" failed at epoch 0") {
		t.Fatalf("sweep with a blocked run: %v\n%s\n%s", err, o.String(), e.String())
	}
	st := runOK(t, "sweep", "-status", b)
	if !strings.Contains(st, "3 done, 0 running, 0 unfinished, 1 failed") {
		t.Fatalf("status:\n%s", st)
	}
	o.Reset()
	e.Reset()
	if err := run([]string{"sweep", "-out", b, "-quiet"}, &o, &e); err != nil || !strings.Contains(e.String(), "skipped 1 runs that failed before") {
		t.Fatalf("continuing without -retry-failed: %v\n%s", err, e.String())
	}
	os.Remove(blocked)
	out = runOK(t, "sweep", "-file", spec, "-out", b, "-retry-failed")
	if !strings.Contains(out, "task 1 layers.0.size=6 [cpu]: 2 of 2 runs done (1 trained now), 0 failed") {
		t.Fatalf("retry output:\n%s", out)
	}
	for _, p := range []string{"layers.0.size=4", "layers.0.size=6"} {
		for _, s := range []string{"seed1", "seed2"} {
			sameRun(t, filepath.Join(a, p, s), filepath.Join(b, p, s))
		}
	}
	if _, err := os.Stat(filepath.Join(b, sweep.FailuresDir, "task1.json")); err == nil {
		t.Errorf("the retried failure is still recorded")
	}
	if st := runOK(t, "sweep", "-status", b); !strings.Contains(st, "4 done, 0 running, 0 unfinished, 0 failed") || !strings.Contains(st, "test ") {
		t.Fatalf("status after the retry:\n%s", st)
	}
	if out := runOK(t, "sweep", "-out", a, "-task", "1"); !strings.Contains(out, "2 of 2 runs done (0 trained now)") {
		t.Fatalf("-task 1 on a finished sweep:\n%s", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-out", a, "-task", "2"}, "-task 2: the sweep in " + a + " has tasks 0..1"},
		{[]string{"-out", filepath.Join(root, "none")}, "is not a sweep directory"},
		{[]string{"-status", a, "-task", "1"}, "-task"},
		{[]string{"-out", a, "-backend", "pbs"}, `-backend "pbs": must be local or slurm`},
		{[]string{"-out", a, "-devices", "tpu"}, `-devices "tpu": unknown device "tpu"`},
		{[]string{"-out", a, "-devices", "cpu", "-device", "cpu"}, "give -devices or -device"},
		{[]string{"-out", a, "-backend", "slurm", "-devices", "cpu"}, "not on -devices"},
		{[]string{"-status", a, "-devices", "cpu"}, "-devices"},
	} {
		o.Reset()
		if err := run(append([]string{"sweep"}, c.args...), &o, &o); !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("sweep %v: %v, want a usage error saying %q", c.args, err, c.want)
		}
	}
	other := filepath.Join(root, "other.toml")
	os.WriteFile(other, bytes.Replace(mustRead(t, spec), []byte(`"1-2"`), []byte(`"1-3"`), 1), 0o644)
	if err := run([]string{"sweep", "-file", other, "-out", a}, &o, &o); !errors.As(err, &ue) || !strings.Contains(err.Error(), "seeds 1-2, not 1-3") {
		t.Fatalf("another sweep file on the sweep's directory: %v", err)
	}

	out = runOK(t, "sweep", "-report", b)
	for _, f := range []string{"report.md", "report.csv", "plots/accuracy_by_point.png", "plots/accuracy_vs_layers.0.size.png"} {
		if st, err := os.Stat(filepath.Join(b, f)); err != nil || st.Size() == 0 || !strings.Contains(out, f) {
			t.Errorf("report lacks %s (%v)", f, err)
		}
	}
	rows := readCSV(t, filepath.Join(b, "report.csv"))
	md := string(mustRead(t, filepath.Join(b, "report.md")))
	for _, p := range []string{"layers.0.size=4", "layers.0.size=6"} {
		var test, best []float64
		for _, s := range []string{"seed1", "seed2"} {
			sum, err := sweep.ReadSummary(filepath.Join(b, p, s))
			if err != nil {
				t.Fatal(err)
			}
			test, best = append(test, sum.TestAccuracy), append(best, sum.BestValTestAccuracy)
		}
		ts, bs := sweep.NewStats(test), sweep.NewStats(best)
		if ts.N != 2 || ts.Min != min(test[0], test[1]) || ts.Max != max(test[0], test[1]) || !near(ts.Mean, (test[0]+test[1])/2) || !near(ts.Median, ts.Mean) {
			t.Errorf("%s: stats %+v of %v", p, ts, test)
		}
		found := 0
		for _, r := range rows {
			if r[0] != p {
				continue
			}
			v1, _ := strconv.ParseFloat(r[4], 64)
			v2, _ := strconv.ParseFloat(r[5], 64)
			switch r[2] {
			case "seed1", "seed2":
				i := int(r[2][4] - '1')
				if v1 != test[i] || v2 != best[i] {
					t.Errorf("report.csv %s %s: %v, %v; summaries say %v, %v", p, r[2], v1, v2, test[i], best[i])
				}
				found++
			case "mean":
				if !near(v1, ts.Mean) || !near(v2, bs.Mean) || r[3] != "2" {
					t.Errorf("report.csv %s mean: %v", p, r)
				}
				found++
			case "sd":
				if !near(v1, ts.SD) {
					t.Errorf("report.csv %s sd: %v, want %v", p, v1, ts.SD)
				}
				found++
			}
		}
		if found != 4 {
			t.Errorf("report.csv has %d of the 4 rows of %s checked:\n%v", found, p, rows)
		}
		if want := fmt.Sprintf("| final test | %.2f | %.2f | %.2f |", 100*ts.Mean, 100*ts.SD, 100*ts.SE); !strings.Contains(md, "## "+p) || !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q for %s:\n%s", want, p, md)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func metricsRowsOf(t *testing.T, dir string) int {
	t.Helper()
	return len(metricsNoTime(t, filepath.Join(dir, "metrics.csv"))) - 1
}
