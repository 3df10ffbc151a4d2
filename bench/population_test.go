package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// popCounter is the CPU engine that records the population size of every
// population call.
type popCounter struct {
	*batch.CPU
	mu    sync.Mutex
	sizes []int
}

func (e *popCounter) note(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.sizes, n) {
		e.sizes = append(e.sizes, n)
	}
}

func (e *popCounter) ForwardPop(nets []*batch.Network, xs []*tensor.Dense, trs []*batch.Trace) error {
	e.note(len(nets))
	return e.CPU.ForwardPop(nets, xs, trs)
}

func (e *popCounter) BackwardPop(nets []*batch.Network, trs []*batch.Trace, dOut []*tensor.Dense, gs []*batch.Gradients) error {
	e.note(len(nets))
	return e.CPU.BackwardPop(nets, trs, dOut, gs)
}

// key is a result without its timings and memory.
func key(r Result) Result {
	return Result{Case: r.Case, Mode: r.Mode, Engine: r.Engine, GPU: r.GPU, Batch: r.Batch, Members: r.Members,
		Repeats: r.Repeats, Skipped: r.Skipped, Reference: r.Reference, ReferenceErr: r.ReferenceErr}
}

// Population mode gives one result per case x mode x engine x batch x K,
// in the order batch size then K, with Members set.
func TestPopulations(t *testing.T) {
	for _, tc := range []struct {
		pops, want []int
	}{
		{nil, []int{1}},
		{[]int{1}, []int{1}},
		{[]int{3, 1}, []int{1, 3}},
		{[]int{2, 2}, []int{2}},
	} {
		opt := tinyOptions()
		opt.Batches, opt.Repeats, opt.Populations = []int{3, 2}, 1, tc.pops
		rs, err := Run(opt)
		if err != nil {
			t.Fatalf("populations %v: %v", tc.pops, err)
		}
		if len(rs) != len(Modes)*2*len(tc.want) {
			t.Fatalf("populations %v: %d results, want %d", tc.pops, len(rs), len(Modes)*2*len(tc.want))
		}
		for i, r := range rs {
			k := tc.want[i%len(tc.want)]
			b := []int{2, 3}[i/len(tc.want)%2]
			if r.Members != k || r.K() != k || r.Batch != b || r.Mode != Modes[i/(2*len(tc.want))] || r.Skipped != "" || !(r.Median > 0) {
				t.Fatalf("populations %v: result %d is %+v, want K=%d B=%d", tc.pops, i, r, k, b)
			}
		}
	}
}

// Bad population sizes are refused before anything runs.
func TestPopulationsRejected(t *testing.T) {
	for _, k := range []int{0, -1, MaxPopulation + 1} {
		opt := tinyOptions()
		opt.Populations = []int{1, k}
		if _, err := Run(opt); err == nil || !strings.Contains(err.Error(), "population size") {
			t.Errorf("population %d: %v, want an error", k, err)
		}
	}
}

// A population step of K members processes K x B samples (K x steps x B
// for the training epoch), and K = 1 is the single-network step.
func TestPopStepSamples(t *testing.T) {
	c := tinyOptions().Cases[0]
	eng := batch.NewCPU(1)
	for _, tc := range []struct {
		m       Mode
		b, k    int
		samples int
	}{
		{Forward, 3, 1, 3},
		{Forward, 3, 4, 12},
		{FwdBwd, 2, 1, 2},
		{FwdBwd, 2, 5, 10},
		{TrainStp, 3, 1, 3},
		{TrainStp, 3, 2, 2 * popSteps(eng, 3) * 3},
	} {
		run, per, err := popStep(eng, c, tc.m, tc.b, tc.k)
		if err != nil {
			t.Fatalf("%s B=%d K=%d: %v", tc.m, tc.b, tc.k, err)
		}
		if per != tc.samples {
			t.Errorf("%s B=%d K=%d: %d samples a call, want %d", tc.m, tc.b, tc.k, per, tc.samples)
		}
		for range 2 {
			if err := run(); err != nil {
				t.Fatalf("%s B=%d K=%d: %v", tc.m, tc.b, tc.k, err)
			}
		}
	}
	if popSteps(eng, 1) < 4 {
		t.Errorf("a population epoch of %d batches", popSteps(eng, 1))
	}
}

// K = 1 is today's single-network path: the same rows as without
// populations and no population call with more than one member; K > 1
// runs population passes of K members.
func TestPopulationOfOneIsSingle(t *testing.T) {
	run := func(pops []int) ([]Result, []int) {
		t.Helper()
		e := &popCounter{CPU: batch.NewCPU(1)}
		opt := tinyOptions()
		opt.Batches, opt.Repeats, opt.Populations = []int{2}, 1, pops
		opt.Engines = []Engine{{Name: "counted", New: func() (batch.Engine, error) { return e, nil }}}
		rs, err := Run(opt)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rs {
			rs[i] = key(rs[i])
		}
		slices.Sort(e.sizes)
		return rs, e.sizes
	}
	none, sizesNone := run(nil)
	one, sizesOne := run([]int{1})
	if !slices.Equal(none, one) {
		t.Fatalf("K=1 rows %+v, without populations %+v", one, none)
	}
	// The trainer's step is a population step of one member.
	if !slices.Equal(sizesNone, []int{1}) || !slices.Equal(sizesOne, []int{1}) {
		t.Fatalf("population calls of sizes %v and %v, want only 1 (the trainer's step)", sizesNone, sizesOne)
	}
	_, sizes := run([]int{3})
	if !slices.Equal(sizes, []int{3}) {
		t.Fatalf("K=3: population calls of sizes %v, want 3", sizes)
	}
	// Members are drawn with different seeds; member 0 is the single network.
	c := tinyOptions().Cases[0]
	n0, x0, _ := c.network(4, 0)
	n1, x1, _ := c.network(4, 1)
	if slices.Equal(n0.Layers[0].W(), n1.Layers[0].W()) || slices.Equal(x0.Float64s(), x1.Float64s()) {
		t.Fatal("population members 0 and 1 have the same network or inputs")
	}
	a, _ := c.trainerFor(batch.NewCPU(1), 2, 1, 0)
	b, _ := c.trainerFor(batch.NewCPU(1), 2, 1, 1)
	if a.Cfg.Seed == b.Cfg.Seed || slices.Equal(a.Data.Train.Times, b.Data.Train.Times) {
		t.Fatal("population members 0 and 1 have the same seed or data")
	}
}

// A failing reference measurement is a row of the report; the suite goes
// on and the others keep their figures.
func TestFailingReferenceIsRow(t *testing.T) {
	opt := tinyOptions()
	opt.Modes = []Mode{Forward}
	opt.Populations = []int{1, 2}
	calls := 0
	opt.Reference = func(c Case, m Mode, b int) (float64, error) {
		calls++
		if b == 4 {
			return 0, errors.New("python3: signal: killed\nmore | detail")
		}
		return 10, nil
	}
	rs, err := Run(opt)
	if err != nil {
		t.Fatalf("Run with a failing reference: %v", err)
	}
	if len(rs) != 6 || calls != 3 {
		t.Fatalf("%d results and %d reference calls, want 6 and 3 (K = 1 only)", len(rs), calls)
	}
	for _, r := range rs {
		switch {
		case r.K() > 1:
			if r.Reference != 0 || r.ReferenceErr != "" {
				t.Errorf("population row %+v has a reference", r)
			}
		case r.Batch == 4:
			if r.ReferenceErr == "" || r.Reference != 0 || r.Skipped != "" || !(r.Median > 0) {
				t.Errorf("row %+v: want the measurement with the reference's error", r)
			}
		default:
			if r.ReferenceErr != "" || r.Reference != 10 {
				t.Errorf("row %+v: want reference 10", r)
			}
		}
	}
	var buf bytes.Buffer
	if err := Markdown(&buf, Host(), rs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "| failed: python3: signal: killed |") {
		t.Fatalf("report lacks the failed reference:\n%s", buf.String())
	}
	var csv bytes.Buffer
	if err := WriteCSV(&csv, rs); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(&csv)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rs {
		if back[i].ReferenceErr != rs[i].ReferenceErr || back[i].Members != rs[i].Members {
			t.Fatalf("row %d: %+v read back as %+v", i, rs[i], back[i])
		}
	}
}

// results.csv round-trips the new columns, reads files without them (one
// member, no reference error) and refuses bad ones.
func TestCSVColumns(t *testing.T) {
	rs := []Result{
		{Case: "a", Mode: Forward, Engine: "cpu-1core", Batch: 150, Members: 1, Median: 1000, Min: 900, Max: 1100, Repeats: 3, HostPeak: 7},
		{Case: "a", Mode: TrainStp, Engine: "gpu", GPU: true, Batch: 50, Members: 64, Median: 2e6, Min: 1e6, Max: 3e6, Repeats: 3, DeviceBytes: 9},
		{Case: "b", Mode: FwdBwd, Engine: "cpu-2cores", Batch: 200, Median: 5, Min: 5, Max: 5, Repeats: 1,
			ReferenceErr: "python3: signal: killed, \"quoted\"\nsecond line"},
		{Case: "b", Mode: FwdBwd, Engine: "cpu-2cores", Batch: 400, Members: 4, Skipped: "error: out of memory"},
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rs); err != nil {
		t.Fatal(err)
	}
	back, err := ReadCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		want := r
		want.Members = r.K()
		if back[i] != want {
			t.Errorf("row %d: %+v read back as %+v", i, want, back[i])
		}
	}
	old := strings.Join(csvHeader[:csvOldColumns], ",") + "\n" +
		"x,forward,cpu-1core,false,16,478254,472837,484489,3,3864576,0,0,\n"
	olds, err := ReadCSV(strings.NewReader(old))
	if err != nil {
		t.Fatalf("old results.csv: %v", err)
	}
	if len(olds) != 1 || olds[0].Members != 1 || olds[0].ReferenceErr != "" || olds[0].Batch != 16 {
		t.Fatalf("old results.csv read as %+v", olds)
	}
	head := strings.Join(csvHeader, ",") + "\n"
	for _, in := range []string{
		head + "x,forward,cpu,false,1,1,1,1,1,1,0,0,,0,\n",
		head + "x,forward,cpu,false,1,1,1,1,1,1,0,0,,257,\n",
		head + "x,forward,cpu,false,1,1,1,1,1,1,0,0,,many,\n",
		strings.Join(csvHeader[:csvOldColumns+1], ",") + "\nx,forward,cpu,false,1,1,1,1,1,1,0,0,,1\n",
	} {
		if _, err := ReadCSV(strings.NewReader(in)); err == nil {
			t.Errorf("ReadCSV(%q) accepted", in)
		}
	}
}

// The reports committed under results/ (from before populations) still
// load, and the README section and the report are made from them.
func TestCommittedReports(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("results", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no committed reports: %v", err)
	}
	for _, d := range dirs {
		m, rs, err := Load(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			t.Fatalf("%s: no results", d)
		}
		for _, r := range rs {
			if r.Members < 1 {
				t.Fatalf("%s: row %+v without a population size", d, r)
			}
		}
		var buf bytes.Buffer
		if err := Markdown(&buf, m, rs); err != nil || !strings.Contains(buf.String(), "## All measurements") {
			t.Fatalf("%s: report: %v", d, err)
		}
	}
	sec, err := ReadmeSection(dirs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sec, "| case | mode |") {
		t.Fatalf("README section:\n%s", sec)
	}
}

// The report of a run with populations has the population table (with the
// ratio to K = 1), the K in the rows, and a population plot per case; the
// best-throughput table and the README are of single networks.
func TestPopulationReport(t *testing.T) {
	opt := tinyOptions()
	opt.Modes, opt.Batches, opt.Repeats, opt.Populations = []Mode{FwdBwd}, []int{2}, 1, []int{1, 4}
	rs, err := Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Markdown(&buf, Host(), rs); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{"## Populations", "| case | mode | engine | batch | K=1 | K=4 |",
		"| yinyang-4-30-3-synaptic-tau2 | forward+backward | cpu | 2 | ", "x) |", "| 2 (K=4) |", "Single networks (K = 1)"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	dir := t.TempDir()
	if err := Write(dir, Host(), rs); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "plots", "yinyang-4-30-3-synaptic-tau2-population.png")); err != nil {
		t.Fatal(err)
	}
	sec, err := ReadmeSection([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if single := bestOf(rs, rs[0].Case, FwdBwd, "cpu"); single == nil || single.K() != 1 ||
		!strings.Contains(sec, "(B=2)") {
		t.Fatalf("best of single networks %+v; README section:\n%s", single, sec)
	}
	// Without populations the report is as before: no population table.
	buf.Reset()
	if err := Markdown(&buf, Host(), singles(rs)); err != nil || strings.Contains(buf.String(), "Populations") {
		t.Fatalf("report of single networks (%v):\n%s", err, buf.String())
	}
}

// With populations, a step is judged from the previous batch size at the
// same K and from the previous K at the same batch size.
func TestPopulationMaxStep(t *testing.T) {
	opt := tinyOptions()
	opt.Modes, opt.Batches, opt.Populations, opt.Repeats = []Mode{FwdBwd}, []int{1, 2}, []int{1, 2}, 1
	opt.MaxStep = time.Nanosecond
	rs, err := Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("B=%d K=%d skipped=%t", r.Batch, r.K(), strings.HasPrefix(r.Skipped, "one step")))
	}
	want := []string{"B=1 K=1 skipped=false", "B=1 K=2 skipped=true", "B=2 K=1 skipped=true", "B=2 K=2 skipped=true"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
