package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/bench"
)

// adapter is scripts/reference-bench.py, the -reference command that times
// the PyTorch reference.
var adapter = filepath.Join("..", "..", "scripts", "reference-bench.py")

// python returns a Python 3 that can import mods, or skips the test.
func python(t *testing.T, mods ...string) string {
	t.Helper()
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		args := []string{"-c", "import sys"}
		if len(mods) > 0 {
			args = []string{"-c", "import " + strings.Join(mods, ", ")}
		}
		if exec.Command(p, args...).Run() == nil {
			return p
		}
	}
	t.Skipf("no python3 that imports %v", mods)
	return ""
}

// The adapter knows the suite's cases, no more and no fewer.
func TestReferenceAdapterCases(t *testing.T) {
	out, err := exec.Command(python(t), adapter, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range bench.Cases() {
		want = append(want, c.Name)
	}
	got := strings.Fields(string(out))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("scripts/reference-bench.py lists %v; bench.Cases has %v", got, want)
	}
}

// delgrad bench -reference with the adapter, on a stand-in for the
// reference's src directory that checks the configuration it is given as
// the reference does (scripts/testdata/fake-reference): every mode, and bad
// arguments refused.
func TestReferenceAdapter(t *testing.T) {
	py := python(t, "torch", "numpy")
	src := filepath.Join("..", "..", "scripts", "testdata", "fake-reference")
	out := filepath.Join(t.TempDir(), "report")
	runOK(t, "bench", "-cases", "yinyang-4-30-3-synaptic-tau2", "-batches", "4", "-repeats", "1", "-min-time", "1ms",
		"-out", out, "-quiet", "-reference", py+" "+adapter+" --src "+src+" --min-time 0.01 --device cpu")
	csv, err := os.ReadFile(filepath.Join(out, "results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(strings.TrimSpace(string(csv)), "\n")[1:] {
		f := strings.Split(line, ",")
		if ref := f[len(f)-2]; ref == "" || ref == "0" { // the column before "skipped"
			t.Errorf("no reference figure in %q", line)
		}
		rows++
	}
	if rows != 3*2 { // modes x engines
		t.Fatalf("%d rows in results.csv:\n%s", rows, csv)
	}
	for _, args := range [][]string{
		{"--src", src, "-case", "nothing", "-mode", "forward", "-batch", "1"},
		{"--src", src, "-case", "mnist16-256-128-10", "-mode", "sideways", "-batch", "1"},
		{"--src", src, "-case", "mnist16-256-128-10", "-mode", "forward", "-batch", "0"},
		{"--src", t.TempDir(), "-case", "mnist16-256-128-10", "-mode", "forward", "-batch", "1"},
	} {
		o, err := exec.Command(py, append([]string{adapter}, args...)...).CombinedOutput()
		if err == nil || strings.Contains(string(o), "samples_per_second") {
			t.Errorf("reference-bench.py %v: %v, %s: want an error", args, err, o)
		}
	}
}
