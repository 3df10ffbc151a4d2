package bench

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

func tinyOptions() Options {
	var c Case
	for _, k := range Cases() {
		if k.Name == "yinyang-4-30-3-synaptic-tau2" {
			c = k
		}
	}
	return Options{
		Cases: []Case{c}, Modes: Modes, Batches: []int{16, 1, 4},
		Engines: []Engine{{Name: "cpu", New: func() (batch.Engine, error) { return batch.NewCPU(2), nil }}},
		MinTime: time.Millisecond, Repeats: 3,
	}
}

func TestRunAndReport(t *testing.T) {
	opt := tinyOptions()
	calls := 0
	opt.Reference = func(c Case, m Mode, b int) (float64, error) { calls++; return 10, nil }
	rs, err := Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 9 || calls != 9 {
		t.Fatalf("%d results and %d reference calls, want 3 modes x 3 batch sizes", len(rs), calls)
	}
	for i, r := range rs {
		if want := []int{1, 4, 16}[i%3]; r.Batch != want {
			t.Fatalf("result %d has batch %d, want %d (sorted)", i, r.Batch, want)
		}
		if r.Skipped != "" || r.Repeats != 3 || !(r.Min > 0 && r.Min <= r.Median && r.Median <= r.Max) || r.HostPeak == 0 || r.Reference != 10 {
			t.Fatalf("implausible result %+v", r)
		}
	}
	dir := t.TempDir()
	m := Host()
	m.Command = "test"
	if err := Write(dir, m, rs); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"report.md", "results.csv", "machine.json", "plots/yinyang-4-30-3-synaptic-tau2.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	m2, rs2, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m2 != m || len(rs2) != len(rs) {
		t.Fatalf("Load: %+v, %d results", m2, len(rs2))
	}
	for i := range rs {
		a, b := rs[i], rs2[i]
		// The CSV keeps 6 significant digits.
		if a.Case != b.Case || a.Mode != b.Mode || a.Batch != b.Batch || a.HostPeak != b.HostPeak ||
			!(abs(a.Median-b.Median) <= 1e-5*a.Median) {
			t.Fatalf("row %d: %+v read back as %+v", i, a, b)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{m.CPU, "Command: `test`", "| yinyang-4-30-3-synaptic-tau2 | train step |", "ratio"} {
		if !strings.Contains(string(md), want) {
			t.Fatalf("report.md lacks %q:\n%s", want, md)
		}
	}
	sec, err := ReadmeSection([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	readme := "intro\n" + Begin + "\nold table\n" + End + "\nrest\n"
	got, err := ReplaceSection(readme, sec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "old table") || !strings.HasPrefix(got, "intro\n") || !strings.HasSuffix(got, "\nrest\n") ||
		!strings.Contains(got, "| yinyang-4-30-3-synaptic-tau2 | forward |") {
		t.Fatalf("README section:\n%s", got)
	}
	if _, err := ReplaceSection("no markers", sec); err == nil {
		t.Fatal("a README without markers accepted")
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// A batch size whose step would take longer than MaxStep, judged from the
// one before, is skipped, and so are the larger ones.
func TestMaxStepSkips(t *testing.T) {
	opt := tinyOptions()
	opt.Modes = []Mode{FwdBwd}
	opt.Batches = []int{1, 100000, 200000}
	opt.MaxStep = time.Microsecond
	rs, err := Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Skipped != "" || rs[1].Skipped == "" || rs[2].Skipped == "" {
		t.Fatalf("skips: %q %q %q", rs[0].Skipped, rs[1].Skipped, rs[2].Skipped)
	}
	var buf bytes.Buffer
	if err := Markdown(&buf, Host(), rs); err != nil || !strings.Contains(buf.String(), "skipped: one step would take over") {
		t.Fatalf("report does not show the skip (%v):\n%s", err, buf.String())
	}
}

func TestRunRejectsEmpty(t *testing.T) {
	if _, err := Run(Options{}); err == nil {
		t.Fatal("empty options accepted")
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, in := range []string{"", "a,b\n1,2\n", strings.Join(csvHeader, ",") + "\nx,forward,cpu,false,NaNbatch,1,1,1,1,1,0,0,\n"} {
		if _, err := ReadCSV(strings.NewReader(in)); err == nil {
			t.Errorf("ReadCSV(%q) accepted", in)
		}
	}
}

func TestCostAndPeak(t *testing.T) {
	c := Case{Sizes: []int{4, 30, 3}}
	f1, b1 := Cost(c, Forward)
	f2, b2 := Cost(c, FwdBwd)
	if f1 != 8*(120+90) || b1 != 40*(120+90) || f2 <= f1 || b2 <= b1 {
		t.Fatalf("cost %g %g %g %g", f1, b1, f2, b2)
	}
	if tf, bw, ok := Peak("NVIDIA H200"); !ok || tf != 34 || bw != 4.8 {
		t.Fatal("H200 peak")
	}
	if _, _, ok := Peak("a toaster"); ok {
		t.Fatal("unknown GPU has a peak")
	}
	m := Machine{GPU: "NVIDIA H100 80GB HBM3"}
	r := Result{Case: "yinyang-4-30-3-none-tau2", Mode: Forward, GPU: true, Median: 1e9}
	if s := shares(m, r); !strings.Contains(s, "%") {
		t.Fatalf("shares %q", s)
	}
}

type failing struct{ batch.Engine }

func (failing) Forward(*batch.Network, *tensor.Dense, *batch.Trace) error {
	return errors.New("out of device memory")
}

// A failing measurement is reported in its row and the run goes on.
func TestErrorsAreRows(t *testing.T) {
	opt := tinyOptions()
	opt.Modes = []Mode{Forward}
	opt.Engines = append(opt.Engines, Engine{Name: "broken", New: func() (batch.Engine, error) { return failing{batch.NewCPU(1)}, nil }})
	rs, err := Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 6 {
		t.Fatalf("%d results, want 6", len(rs))
	}
	for _, r := range rs {
		if (r.Engine == "broken") != strings.HasPrefix(r.Skipped, "error: ") {
			t.Fatalf("row %+v", r)
		}
	}
}
