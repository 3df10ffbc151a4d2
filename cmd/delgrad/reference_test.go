package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/bench"
)

// adapter is scripts/reference-bench.py, the -reference command that times
// the PyTorch reference; fakeRef a stand-in for the reference's src
// directory that checks the configuration it is given as the reference
// does (scripts/testdata/fake-reference).
var (
	adapter = filepath.Join("..", "..", "scripts", "reference-bench.py")
	fakeRef = filepath.Join("..", "..", "scripts", "testdata", "fake-reference")
)

// python returns a Python 3 that can import mods, or skips the test.
func python(t *testing.T, mods ...string) string {
	t.Helper()
	code := "import sys"
	if len(mods) > 0 {
		code = "import " + strings.Join(mods, ", ")
	}
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", code).Run() == nil {
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

// Bad arguments are errors, with no result line (they are checked before
// torch is imported).
func TestReferenceAdapterArgs(t *testing.T) {
	py := python(t)
	for _, args := range [][]string{
		{"--src", fakeRef, "-case", "nothing", "-mode", "forward", "-batch", "1"},
		{"--src", fakeRef, "-case", "mnist16-256-128-10", "-mode", "sideways", "-batch", "1"},
		{"--src", fakeRef, "-case", "mnist16-256-128-10", "-mode", "forward", "-batch", "0"},
		{"--src", t.TempDir(), "-case", "mnist16-256-128-10", "-mode", "forward", "-batch", "1"},
		{"--list", "--src", fakeRef},
	} {
		o, err := exec.Command(py, append([]string{adapter}, args...)...).CombinedOutput()
		if err == nil || strings.Contains(string(o), "samples_per_second") {
			t.Errorf("reference-bench.py %v: %v, %s: want an error", args, err, o)
		}
	}
}

// referenceColumn runs delgrad bench -reference with the adapter on the
// stand-in and returns the reference figures of results.csv.
func referenceColumn(t *testing.T, py string) []string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report")
	runOK(t, "bench", "-cases", "yinyang-4-30-3-synaptic-tau2", "-batches", "4", "-repeats", "1", "-min-time", "1ms",
		"-out", out, "-quiet", "-reference", py+" "+adapter+" --src "+fakeRef+" --min-time 0.01 --device cpu")
	rows := readCSV(t, filepath.Join(out, "results.csv"))
	col := slices.Index(rows[0], "reference_samples_per_s")
	if col < 0 || len(rows) != 1+3*2 { // modes x engines
		t.Fatalf("results.csv: no reference column, or not 6 rows: %v", rows)
	}
	var ref []string
	for _, r := range rows[1:] {
		ref = append(ref, r[col])
	}
	return ref
}

// delgrad bench -reference with the adapter, on the stand-in: a figure for
// every mode; and where the reference fails (out of memory), 0, and the
// suite goes on.
func TestReferenceAdapter(t *testing.T) {
	py := python(t, "torch", "numpy")
	for _, v := range referenceColumn(t, py) {
		if v == "" || v == "0" {
			t.Errorf("no reference figure: %q", v)
		}
	}
	t.Setenv("FAKE_REFERENCE_FAIL", "1")
	for _, v := range referenceColumn(t, py) {
		if v != "0" {
			t.Errorf("a failing reference gave %q, want 0", v)
		}
	}
}
