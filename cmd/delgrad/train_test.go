package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"

	"github.com/delgrad-go/delgrad/bench"
	"github.com/delgrad-go/delgrad/configs"
)

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("delgrad %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func TestTrainResumeEvalExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	out := runOK(t, "train", "-epochs", "2", "-out", dir, "-workers", "2")
	if !strings.Contains(out, "test accuracy") || !strings.Contains(out, "epoch    2/2") {
		t.Fatalf("train output lacks the epoch lines or the test accuracy:\n%s", out)
	}
	for _, f := range []string{"config.toml", "metrics.csv", "checkpoint.bin", "summary.json",
		"network/network.json", "plots/loss.png", "plots/error.png", "plots/classmap.png",
		"plots/weights.png", "plots/delays.png", "plots/output_times_class0.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("run directory lacks %s (%v)", f, err)
		}
	}
	out = runOK(t, "resume", "-run", dir, "-epochs", "3", "-quiet")
	if !strings.Contains(out, "after 3 epochs") {
		t.Fatalf("resume output: %s", out)
	}
	metrics, _ := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if n := strings.Count(string(metrics), "\n"); n != 4 {
		t.Fatalf("metrics.csv has %d lines after 3 epochs, want a header and 3 rows:\n%s", n, metrics)
	}
	// The extended length is recorded: a plain resume has nothing left to do.
	out = runOK(t, "resume", "-run", dir, "-quiet")
	if !strings.Contains(out, "after 3 epochs") {
		t.Fatalf("plain resume after -epochs 3: %s", out)
	}
	out = runOK(t, "eval", "-run", dir, "-split", "validation")
	if !strings.Contains(out, "validation split (1000 samples)") {
		t.Fatalf("eval -run output: %s", out)
	}
	exp := filepath.Join(t.TempDir(), "exported")
	runOK(t, "export", "-run", dir, "-out", exp)
	out = runOK(t, "eval", "-net", exp)
	if !strings.Contains(out, "test split (1000 samples)") {
		t.Fatalf("eval -net of the export: %s", out)
	}
	// train -init starts from an exported network.
	init := filepath.Join(t.TempDir(), "init")
	runOK(t, "train", "-init", exp, "-epochs", "1", "-out", init, "-quiet")
	if _, err := os.Stat(filepath.Join(init, "init.txt")); err != nil {
		t.Fatalf("train -init left no init.txt: %v", err)
	}
	var o, e bytes.Buffer
	err := run([]string{"train", "-init", t.TempDir(), "-out", filepath.Join(t.TempDir(), "x"), "-quiet"}, &o, &e)
	var ue usageError
	if err == nil || !errors.As(err, &ue) {
		t.Fatalf("train -init with no network: %v, want a usage error", err)
	}
}

func writeNpy(t *testing.T, path string, rows, cols int, data []float64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var v any = data
	if cols > 0 {
		v = mat.NewDense(rows, cols, data)
	}
	if err := npyio.Write(f, v); err != nil {
		t.Fatal(err)
	}
}

// npyConfig writes a small user dataset and a config that trains on it.
func npyConfig(t *testing.T, labels []float64, sample0 float64) string {
	return userDataset(t, t.TempDir(), "user", 2, 2, labels, sample0)
}

// userDataset writes into dir a user dataset, its train and test splits
// alike: len(labels) samples of f features, input times 0.2 + 0.1 (i mod
// 7) but the first, sample0, and a config NAME.toml (a hidden layer of 5,
// classes outputs, one epoch) that trains on it; it returns the config.
func userDataset(t *testing.T, dir, name string, f, classes int, labels []float64, sample0 float64) string {
	t.Helper()
	n := len(labels)
	x := make([]float64, n*f)
	for i := range x {
		x[i] = 0.2 + 0.1*float64(i%7)
	}
	x[0] = sample0
	for _, s := range []string{"train", "test"} {
		writeNpy(t, filepath.Join(dir, s+"_x.npy"), n, f, x)
		writeNpy(t, filepath.Join(dir, s+"_y.npy"), n, 0, labels)
	}
	cfg := fmt.Sprintf(`name = %q
[data]
name = "npy"
train_samples = "train_x.npy"
train_labels = "train_y.npy"
test_samples = "test_x.npy"
test_labels = "test_y.npy"
[[layers]]
size = 5
[[layers]]
size = %d
[training]
epochs = 1
batch_size = 4
`, name, classes)
	p := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// badTestLabel is npyConfig's dataset with a test label out of range.
func badTestLabel(t *testing.T) string {
	p := npyConfig(t, []float64{0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0}, 0.3)
	writeNpy(t, filepath.Join(filepath.Dir(p), "test_y.npy"), 12, 0, []float64{0, 1, 0, 4, 1, 0, 0, 1, 1, 1, 0, 0})
	return p
}

func TestTrainUserData(t *testing.T) {
	p := npyConfig(t, []float64{0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0}, 0.3)
	out := runOK(t, "train", "-config", p, "-out", filepath.Join(t.TempDir(), "r"), "-quiet")
	if !strings.Contains(out, "user: test accuracy") {
		t.Fatalf("output: %s", out)
	}
}

func TestTrainBadInput(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(tmp, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	layers := "[[layers]]\nsize = 3\n"
	// -device gpu fails where no GPU can run: in a build without CUDA
	// ("built without CUDA support"), or where the driver or device is
	// missing; where one can, the case does not apply.
	gpuErr := gpuAvailable()
	gpuWant := ""
	if gpuErr != nil {
		gpuWant = gpuErr.Error()
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"malformed toml", []string{"-config", write("bad.toml", "name = \"x\n")}, "line 1"},
		{"unknown key", []string{"-config", write("unk.toml", layers+"[training]\nlearnig_rate = 0.1\n")}, "unknown key training.learnig_rate"},
		{"negative lr", []string{"-config", write("neg.toml", layers+"[training]\nlearning_rate = -0.01\n")}, "training.learning_rate = -0.01: must be >= 0"},
		{"no such config", []string{"-config", "nonexistent_cfg"}, "no such built-in config"},
		{"missing dataset file", []string{"-config", write("miss.toml", layers+"[data]\nname = \"npy\"\ntrain_samples = \"nope.npy\"\ntrain_labels = \"nope_y.npy\"\ntest_samples = \"a.npy\"\ntest_labels = \"b.npy\"\n")}, "nope.npy"},
		{"label out of range", []string{"-config", npyConfig(t, []float64{0, 1, 5, 1, 0, 1, 0, 1, 0, 1, 1, 0}, 0.3)}, "train_y.npy: label 5 at sample 2 is outside 0..1"},
		{"test label out of range", []string{"-config", badTestLabel(t)}, "test_y.npy: label 4 at sample 3 is outside 0..1"},
		{"nan in data", []string{"-config", npyConfig(t, []float64{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 0}, math.NaN())}, "NaN"},
		{"gpu unavailable", []string{"-device", "gpu"}, gpuWant},
		{"bad device", []string{"-device", "tpu"}, "must be cpu, gpu or auto"},
		{"negative epochs", []string{"-epochs", "-3"}, "-epochs"},
		{"negative seed", []string{"-seed", "-5"}, `invalid value "-5" for flag -seed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == "" {
				t.Skip("a GPU can run here")
			}
			out := filepath.Join(t.TempDir(), "run")
			var o, e bytes.Buffer
			err := run(append([]string{"train", "-quiet", "-out", out}, c.args...), &o, &e)
			var ue usageError
			if err == nil || !errors.As(err, &ue) {
				t.Fatalf("error %v, want a usage error (exit code 2)", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("a failed start left a run directory behind")
			}
		})
	}
}

func TestTrainKeepsExistingRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	runOK(t, "train", "-epochs", "1", "-out", dir, "-quiet")
	before, _ := os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
	var o, e bytes.Buffer
	err := run([]string{"train", "-epochs", "1", "-seed", "9", "-out", dir, "-quiet"}, &o, &e)
	var ue usageError
	if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("second train into the same directory: %v, want a usage error naming -force", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
	if !bytes.Equal(before, after) {
		t.Fatal("the refused run changed the existing checkpoint")
	}
	// -force with a config that parses but cannot be built (a sharing
	// factor that does not divide the 4 inputs) leaves the old run alone,
	// and so does -force with an -init network that does not fit.
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[[layers]]\nsize = 3\n[layers.delay]\nkind = \"axonal\"\npresyn_sharing = 3\n"), 0o644)
	err = run([]string{"train", "-config", bad, "-out", dir, "-quiet", "-force"}, &o, &e)
	if err == nil || !errors.As(err, &ue) {
		t.Fatalf("-force with a bad config: %v, want a usage error", err)
	}
	after, _ = os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
	if !bytes.Equal(before, after) {
		t.Fatal("-force with a bad config removed the existing run")
	}
	if err == nil || !strings.Contains(err.Error(), "presyn_sharing = 3") {
		t.Fatalf("error %v does not name the sharing factor", err)
	}
	exp := filepath.Join(t.TempDir(), "net")
	runOK(t, "export", "-run", dir, "-out", exp)
	err = run([]string{"train", "-config", "yin_yang_H30_WS", "-init", exp, "-out", dir, "-quiet", "-force"}, &o, &e)
	if err == nil || !errors.As(err, &ue) {
		t.Fatalf("-force with a mismatched -init: %v, want a usage error", err)
	}
	after, _ = os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
	if !bytes.Equal(before, after) {
		t.Fatal("-force with a mismatched -init removed the existing run")
	}
	runOK(t, "train", "-epochs", "1", "-seed", "9", "-out", dir, "-quiet", "-force")
	after, _ = os.ReadFile(filepath.Join(dir, "checkpoint.bin"))
	if bytes.Equal(before, after) {
		t.Fatal("-force did not replace the run")
	}
}

// TestTrainInitReference: one epoch from the reference's pretrained H30_WA
// network stays near its 97.5%, far above one epoch from random weights.
func TestTrainInitReference(t *testing.T) {
	ref := filepath.Join("..", "..", "..", "shared", "reference", "yin_yang_H30_WA")
	if _, err := os.Stat(ref); err != nil {
		t.Skip("../shared/reference not present")
	}
	out := runOK(t, "train", "-init", ref, "-epochs", "1", "-out", filepath.Join(t.TempDir(), "r"), "-quiet")
	i := strings.Index(out, "test accuracy ")
	var acc float64
	if i < 0 {
		t.Fatalf("output: %s", out)
	}
	fmt.Sscanf(out[i+len("test accuracy "):], "%f", &acc)
	if acc < 95 {
		t.Fatalf("one epoch from the pretrained network: %.2f%% test accuracy, want >= 95%%\n%s", acc, out)
	}
}

// Hardware-aware training, its ideal twin (-ideal) and the robustness
// report over simulated chips, end to end on a short run.
func TestHardwareAwareRobustness(t *testing.T) {
	hw := filepath.Join(t.TempDir(), "hw")
	out := runOK(t, "train", "-config", "yin_yang_hwaware_WA", "-epochs", "2", "-out", hw, "-quiet")
	if !strings.Contains(out, "test accuracy") {
		t.Fatalf("train: %s", out)
	}
	ideal := filepath.Join(t.TempDir(), "ideal")
	runOK(t, "train", "-config", "yin_yang_hwaware_WA", "-ideal", "-epochs", "2", "-out", ideal, "-quiet")
	cfg, err := os.ReadFile(filepath.Join(ideal, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cfg), "[bss2]") || !strings.Contains(string(cfg), "yin_yang_hwaware_WA_ideal") {
		t.Fatalf("-ideal run's config keeps [bss2] or the old name:\n%s", cfg)
	}
	res := filepath.Join(t.TempDir(), "rob")
	out = runOK(t, "robustness", "-run", hw, "-compare", ideal, "-chips", "20", "-out", res, "-quiet")
	if !strings.Contains(out, "yin_yang_hwaware_WA ") || !strings.Contains(out, "yin_yang_hwaware_WA_ideal") ||
		!strings.Contains(out, "20 chips") {
		t.Fatalf("robustness output:\n%s", out)
	}
	csvData, err := os.ReadFile(filepath.Join(res, "chips.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(csvData), "\n"); n != 41 {
		t.Fatalf("chips.csv has %d lines, want a header and 2 x 20 chips", n)
	}
	var sum robustnessSummary
	raw, err := os.ReadFile(filepath.Join(res, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Runs) != 2 || !sum.Runs[0].HardwareAware || sum.Runs[1].HardwareAware || sum.Runs[0].Chips.Chips != 20 {
		t.Fatalf("summary.json: %+v", sum)
	}
	for _, r := range sum.Runs {
		if c := r.Chips; !(c.Min <= c.P5 && c.P5 <= c.Median && c.Median <= c.Max && c.Mean > 0.3) {
			t.Fatalf("%s: implausible chip accuracies %+v", r.Name, c)
		}
	}
	if st, err := os.Stat(filepath.Join(res, "accuracy.png")); err != nil || st.Size() == 0 {
		t.Fatalf("no histogram: %v", err)
	}
	// The same chips give the same figures.
	res2 := filepath.Join(t.TempDir(), "rob2")
	runOK(t, "robustness", "-run", hw, "-compare", ideal, "-chips", "20", "-out", res2, "-quiet", "-workers", "1")
	csv2, _ := os.ReadFile(filepath.Join(res2, "chips.csv"))
	if !bytes.Equal(csvData, csv2) {
		t.Fatal("robustness with the same seed and another worker count gave other chips")
	}
	for _, args := range [][]string{
		{"robustness"},
		{"robustness", "-run", hw, "-chips", "0"},
		{"robustness", "-run", filepath.Join(t.TempDir(), "none")},
		{"train", "-config", "yin_yang_H30_WA", "-ideal", "-epochs", "1", "-out", filepath.Join(t.TempDir(), "x")},
	} {
		var o, e bytes.Buffer
		err := run(args, &o, &e)
		var ue usageError
		if err == nil || !errors.As(err, &ue) {
			t.Errorf("delgrad %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
}

// delgrad bench end to end on a tiny selection, with a stand-in reference
// command, and the README section generated from its report.
func TestBench(t *testing.T) {
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.sh")
	if err := os.WriteFile(ref, []byte("#!/bin/sh\necho warming up\necho samples_per_second: 250\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report")
	res := runOK(t, "bench", "-cases", "yinyang-4-30-3-none-tau2", "-batches", "8,1", "-modes", "forward,train",
		"-repeats", "2", "-min-time", "1ms", "-out", out, "-reference", "sh "+ref, "-quiet")
	if !strings.Contains(res, "8 measurements") {
		t.Fatalf("bench output: %s", res)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| 250.0 |") || !strings.Contains(string(md), "cpu-1core") {
		t.Fatalf("report lacks the reference column or the engines:\n%s", md)
	}
	readme := filepath.Join(dir, "README.md")
	os.WriteFile(readme, []byte("# x\n<!-- bench:begin (generated by delgrad bench -readme; do not edit) -->\n<!-- bench:end -->\n"), 0o644)
	runOK(t, "bench", "-readme", readme, out)
	text, _ := os.ReadFile(readme)
	if !strings.Contains(string(text), "| yinyang-4-30-3-none-tau2 | train step |") {
		t.Fatalf("README section:\n%s", text)
	}
	for _, args := range [][]string{
		{"bench", "-cases", "nothing-matches"},
		{"bench", "-batches", "0"},
		{"bench", "-modes", "sideways"},
		{"bench", "-device", "tpu"},
		{"bench", "-readme", readme},
		{"bench", "-readme", readme, filepath.Join(dir, "missing")},
	} {
		var o, e bytes.Buffer
		err := run(args, &o, &e)
		var ue usageError
		if err == nil || !errors.As(err, &ue) {
			t.Errorf("delgrad %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
	// A failing reference command is a row of the report; the suite goes on.
	r2 := filepath.Join(dir, "r2")
	runOK(t, "bench", "-cases", "yinyang-4-30-3-none-tau2", "-batches", "1", "-modes", "forward", "-repeats", "1",
		"-min-time", "1ms", "-out", r2, "-reference", "false", "-quiet")
	md, err = os.ReadFile(filepath.Join(r2, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| failed: false: exit status 1 |") {
		t.Errorf("report lacks the failed reference:\n%s", md)
	}
}

// delgrad bench -population: rows of every K (aggregate samples/s), the
// population table; bad lists are usage errors.
func TestBenchPopulation(t *testing.T) {
	out := filepath.Join(t.TempDir(), "report")
	res := runOK(t, "bench", "-cases", "yinyang-4-30-3-none-tau2", "-batches", "2", "-modes", "fwdbwd,train",
		"-population", "1,3", "-repeats", "1", "-min-time", "1ms", "-out", out, "-quiet")
	if !strings.Contains(res, "8 measurements") { // 2 modes x 2 engines x 2 sizes
		t.Fatalf("bench output: %s", res)
	}
	_, rs, err := bench.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if want := []int{1, 3}[i%2]; r.Members != want || r.Skipped != "" {
			t.Fatalf("row %d: %+v, want K=%d", i, r, want)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !strings.Contains(string(md), "## Populations") || !strings.Contains(string(md), "| 2 (K=3) |") {
		t.Fatalf("report.md:\n%s", md)
	}
	for _, list := range []string{"0", "257", "1,x", "1,", "4,4", "-2", "1.5"} {
		var o, e bytes.Buffer
		err := run([]string{"bench", "-cases", "yinyang-4-30-3-none-tau2", "-population", list}, &o, &e)
		var ue usageError
		if exitCode(err) != 2 || !errors.As(err, &ue) || !strings.Contains(err.Error(), "-population") {
			t.Errorf("bench -population %q: %v, want a usage error naming -population", list, err)
		}
	}
}

// robustness refuses, before evaluating anything, a network that does not
// fit on one chip (here 300 hidden neurons, each with more spike sources
// than two circuits' synapse rows take), naming the limit and the way
// past it; -placement=false evaluates it.
func TestRobustnessPlacement(t *testing.T) {
	raw := builtinConfig(t, "yin_yang_H30_W")
	big := strings.Replace(raw, "size = 30\n", "size = 300\n", 1)
	if big == raw {
		t.Fatal("yin_yang_H30_W has no hidden layer of 30 to enlarge")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(cfg, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	run1 := filepath.Join(dir, "run")
	runOK(t, "train", "-config", cfg, "-epochs", "1", "-out", run1, "-quiet")
	var o, e bytes.Buffer
	err := run([]string{"robustness", "-run", run1, "-chips", "2", "-quiet"}, &o, &e)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "does not fit on one chip") ||
		!strings.Contains(err.Error(), "300 spike sources") || !strings.Contains(err.Error(), "-placement=false") {
		t.Fatalf("robustness of a 300-neuron layer: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run1, "robustness")); !os.IsNotExist(err) {
		t.Fatalf("the refused evaluation wrote %s/robustness (%v)", run1, err)
	}
	out := runOK(t, "robustness", "-run", run1, "-chips", "2", "-quiet", "-placement=false")
	if !strings.Contains(out, "2 chips") {
		t.Fatalf("robustness -placement=false:\n%s", out)
	}
}

// A run that averages its parameters (training.average) reports, exports
// and evaluates the average: eval -run gives the summary's test accuracy,
// and export writes the network the run wrote.
func TestAveragedRun(t *testing.T) {
	raw := builtinConfig(t, "yin_yang_H30_W")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "avg.toml")
	text := raw + "\n[training.average]\ntype = \"mean\"\nstart_epoch = 2\n"
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	run1 := filepath.Join(dir, "run")
	runOK(t, "train", "-config", cfg, "-epochs", "4", "-out", run1, "-quiet")
	var sum struct {
		TestAccuracy float64 `json:"test_accuracy"`
	}
	b, err := os.ReadFile(filepath.Join(run1, "summary.json"))
	if err != nil || json.Unmarshal(b, &sum) != nil {
		t.Fatalf("summary.json: %v", err)
	}
	out := runOK(t, "eval", "-run", run1)
	want := fmt.Sprintf("accuracy %.2f%%", 100*sum.TestAccuracy)
	if !strings.Contains(out, want) {
		t.Fatalf("eval -run of an averaged run: want %q in\n%s", want, out)
	}
	exp := filepath.Join(dir, "exported")
	runOK(t, "export", "-run", run1, "-out", exp)
	names, _ := filepath.Glob(filepath.Join(run1, "network", "*.npy"))
	if len(names) == 0 {
		t.Fatal("the run wrote no network")
	}
	for _, path := range names {
		name := filepath.Base(path)
		a, err1 := os.ReadFile(path)
		e, err2 := os.ReadFile(filepath.Join(exp, name))
		if err1 != nil || err2 != nil || !bytes.Equal(a, e) {
			t.Fatalf("%s: the exported network differs from the run's (%v, %v)", name, err1, err2)
		}
	}
}

// builtinConfig returns the text of the built-in config name.
func builtinConfig(t *testing.T, name string) string {
	t.Helper()
	f, err := configs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
