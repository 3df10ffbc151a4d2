package sweep

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/trainer"
	"gorgonia.org/tensor"
)

// slotSweep is the sweep of the slot tests: 4 grid points (tasks) x 2
// seeds of a tiny network, 2 epochs.
const slotSweep = `base = "base.toml"
seeds = "1-2"
epochs = 2
[grid]
"layers.0.size" = [3, 4, 5, 6]
`

// prepare makes a sweep directory of body and returns it with its plan.
func prepare(t *testing.T, body string) (string, *Plan) {
	t.Helper()
	dir, _, p := prepareSpec(t, body)
	return dir, p
}

// prepareSpec is prepare that also returns the parsed sweep file, to
// prepare the directory again.
func prepareSpec(t *testing.T, body string) (string, *Spec, *Plan) {
	t.Helper()
	spec, err := ParseFile(writeSweep(t, body))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "sw")
	p, err := Prepare(dir, spec, false)
	if err != nil {
		t.Fatal(err)
	}
	return dir, spec, p
}

// cpuSlot is a slot of a CPU engine of the given workers, standing in for
// a device; opens counts its engines opened.
func cpuSlot(name string, workers int, opens *int) Slot {
	return Slot{Name: name, Open: func() (SlotEngine, error) {
		if opens != nil {
			*opens++
		}
		return SlotEngine{Engine: batch.NewCPU(workers), Name: name + " engine"}, nil
	}}
}

// allTasks lists the plan's tasks.
func allTasks(p *Plan) []int {
	var ts []int
	for i := range p.Tasks {
		ts = append(ts, i)
	}
	return ts
}

// runLocal is RunLocal that fails t on an argument error.
func runLocal(t *testing.T, ctx context.Context, dir string, p *Plan, opt LocalOptions) LocalResult {
	t.Helper()
	res, err := RunLocal(ctx, dir, p, allTasks(p), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// readRows reads a CSV file.
func readRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// sameRuns fails t where a run of sweep a differs from sweep b's: its
// networks (final and best-validation), config.toml, and metrics.csv but
// the wall-time columns (samples_per_s, seconds).
func sameRuns(t *testing.T, p *Plan, a, b string) {
	t.Helper()
	for _, task := range p.Tasks {
		for _, run := range task.Runs {
			ra, rb := filepath.Join(a, run), filepath.Join(b, run)
			var files []string
			for _, sub := range []string{trainer.NetworkDir, trainer.BestNetworkDir} {
				ents, err := os.ReadDir(filepath.Join(ra, sub))
				if err != nil || len(ents) == 0 {
					t.Fatalf("%s/%s: %v (%d files)", ra, sub, err, len(ents))
				}
				for _, e := range ents {
					files = append(files, filepath.Join(sub, e.Name()))
				}
			}
			for _, f := range append(files, trainer.ConfigFile) {
				x, err1 := os.ReadFile(filepath.Join(ra, f))
				y, err2 := os.ReadFile(filepath.Join(rb, f))
				if err := errors.Join(err1, err2); err != nil || !bytes.Equal(x, y) {
					t.Errorf("%s: %s differs (%v)", run, f, err)
				}
			}
			ma, mb := readRows(t, filepath.Join(ra, trainer.MetricsFile)), readRows(t, filepath.Join(rb, trainer.MetricsFile))
			for _, m := range [][][]string{ma, mb} {
				for i, r := range m {
					m[i] = r[:len(r)-2]
				}
			}
			if !reflect.DeepEqual(ma, mb) {
				t.Errorf("%s: metrics differ:\n%v\n%v", run, ma, mb)
			}
		}
	}
}

// TestRunLocal runs the slot sweep on one slot (the sequential sweep),
// then the subtests' sweeps on two slots, and compares their runs with
// its.
func TestRunLocal(t *testing.T) {
	ref, p := prepare(t, slotSweep)
	res := runLocal(t, context.Background(), ref, p, LocalOptions{Slots: []Slot{cpuSlot("cpu", 2, nil)}})
	for _, r := range res.Runs {
		if r.Err != nil || len(r.Result.Trained) != len(p.Tasks[r.Task].Runs) {
			t.Fatalf("one-slot sweep: task %d: %v, %d trained", r.Task, r.Err, len(r.Result.Trained))
		}
	}
	t.Run("concurrent", func(t *testing.T) { testConcurrent(t, ref) })
	t.Run("interrupt", func(t *testing.T) { testInterrupt(t, ref) })
	t.Run("failures", func(t *testing.T) { testFailures(t, ref) })
}

// barrier waits, up to a minute, until n callers have arrived; it reports
// whether they all did.
type barrier struct {
	mu   sync.Mutex
	n    int
	done chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, done: make(chan struct{})} }

func (b *barrier) wait() bool {
	b.mu.Lock()
	b.n--
	if b.n == 0 {
		close(b.done)
	}
	b.mu.Unlock()
	select {
	case <-b.done:
		return true
	case <-time.After(time.Minute):
		return false
	}
}

// Two slots run two tasks at once: each slot's first task waits in
// Started until the other slot has started its own (so a backend that
// ran one task at a time would time out here, not pass by luck); the
// runs equal the one-slot sweep's bit for bit, and each names its slot's
// engine.
func testConcurrent(t *testing.T, ref string) {
	dir, p := prepare(t, slotSweep)
	var opensA, opensB int
	b := newBarrier(2)
	var mu sync.Mutex
	first := map[string]bool{}
	overlap := true
	bySlot := map[int]string{}
	opt := LocalOptions{Slots: []Slot{cpuSlot("a", 1, &opensA), cpuSlot("b", 1, &opensB)}}
	opt.Started = func(s TaskStart) {
		mu.Lock()
		isFirst := !first[s.Slot]
		first[s.Slot] = true
		bySlot[s.Task] = s.Engine
		mu.Unlock()
		if isFirst && !b.wait() {
			mu.Lock()
			overlap = false
			mu.Unlock()
		}
	}
	res := runLocal(t, context.Background(), dir, p, opt)
	if !overlap {
		t.Fatal("the two slots' first tasks did not run at the same time")
	}
	if len(res.Runs) != 4 || len(res.Interrupted)+len(res.NotRun)+len(res.SlotErrors)+len(res.Failed()) != 0 {
		t.Fatalf("result %+v", res)
	}
	if opensA != 1 || opensB != 1 {
		t.Errorf("engines opened: a %d, b %d; want 1 each (kept between tasks)", opensA, opensB)
	}
	slots := map[string]int{}
	for _, r := range res.Runs {
		slots[r.Slot]++
		for _, run := range p.Tasks[r.Task].Runs {
			s, err := ReadSummary(filepath.Join(dir, run))
			if err != nil || s.Engine != bySlot[r.Task] || s.Engine != r.Slot+" engine" {
				t.Errorf("%s: summary engine %q (%v), want %q", run, s.Engine, err, r.Slot+" engine")
			}
		}
	}
	if slots["a"] == 0 || slots["b"] == 0 {
		t.Errorf("tasks per slot %v: both slots should have run tasks", slots)
	}
	sameRuns(t, p, ref, dir)
}

// An interrupt with two tasks under way on two slots checkpoints both
// (each after its first epoch) and starts no more; the rerun finishes
// the sweep with the runs of the uninterrupted one-slot sweep.
func testInterrupt(t *testing.T, ref string) {
	dir, p := prepare(t, slotSweep)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newBarrier(2)
	var mu sync.Mutex
	timedOut := false
	opt := LocalOptions{Slots: []Slot{cpuSlot("a", 1, nil), cpuSlot("b", 1, nil)}}
	opt.Hooks = func(s TaskStart) trainer.PopHooks {
		return trainer.PopHooks{EpochEnd: func(e trainer.PopEpoch) {
			if e.Epoch != 1 {
				return
			}
			// Both tasks have finished their first epoch: interrupt.
			if !b.wait() {
				mu.Lock()
				timedOut = true
				mu.Unlock()
			}
			cancel()
		}}
	}
	res := runLocal(t, ctx, dir, p, opt)
	if timedOut {
		t.Fatal("the two tasks did not run at the same time")
	}
	if !reflect.DeepEqual(res.Interrupted, []int{0, 1}) || !reflect.DeepEqual(res.NotRun, []int{2, 3}) || len(res.Failed()) != 0 {
		t.Fatalf("interrupted %v, not run %v, failed %v; want [0 1], [2 3], none", res.Interrupted, res.NotRun, res.Failed())
	}
	for _, r := range res.Runs {
		if !r.Interrupted || !errors.Is(r.Err, context.Canceled) {
			t.Errorf("task %d: interrupted %v, error %v", r.Task, r.Interrupted, r.Err)
		}
	}
	for _, i := range []int{0, 1} {
		for _, run := range p.Tasks[i].Runs {
			rdir := filepath.Join(dir, run)
			if _, err := os.Stat(filepath.Join(rdir, trainer.CheckpointFile)); err != nil || metricsRows(rdir) != 1 {
				t.Errorf("%s after the interrupt: checkpoint %v, %d epochs; want 1", run, err, metricsRows(rdir))
			}
			if _, err := os.Stat(filepath.Join(rdir, trainer.SummaryFile)); err == nil {
				t.Errorf("%s has a summary after 1 of 2 epochs", run)
			}
		}
		if note := runningNote(dir, i); note != "" {
			t.Errorf("task %d still marked running: %s", i, note)
		}
	}
	opt.Hooks = nil
	res = runLocal(t, context.Background(), dir, p, opt)
	if len(res.Runs) != 4 || len(res.Interrupted)+len(res.NotRun)+len(res.Failed()) != 0 {
		t.Fatalf("rerun: %+v", res)
	}
	sameRuns(t, p, ref, dir)
}

// brokenEngine fails every pass, as a device gone bad would.
type brokenEngine struct{}

func (brokenEngine) Forward(*batch.Network, *tensor.Dense, *batch.Trace) error {
	return errors.New("device lost")
}

func (brokenEngine) Backward(*batch.Network, *batch.Trace, *tensor.Dense, *batch.Gradients) error {
	return errors.New("device lost")
}

// A slot whose engine fails its tasks' runs, a task whose grid point
// cannot be read, and a slot whose engine cannot open: the other slot's
// tasks finish all the same, and the failures are recorded; the sweep
// rerun on good slots ends with the one-slot sweep's runs.
func testFailures(t *testing.T, ref string) {
	dir, p := prepare(t, slotSweep)
	broken := Slot{Name: "broken", Open: func() (SlotEngine, error) {
		return SlotEngine{Engine: brokenEngine{}, Name: "broken engine"}, nil
	}}
	// Task 2's point cannot be read: that task fails, on whichever slot.
	pt := filepath.Join(dir, p.Tasks[2].Point, PointConfigFile)
	good, err := os.ReadFile(pt)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pt, []byte("layers = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The good slot waits for the broken one to have failed a task.
	ready := make(chan struct{})
	var once sync.Once
	opt := LocalOptions{Slots: []Slot{cpuSlot("good", 1, nil), broken}}
	var mu sync.Mutex
	ran := map[string][]int{}
	opt.Started = func(s TaskStart) {
		mu.Lock()
		ran[s.Slot] = append(ran[s.Slot], s.Task)
		mu.Unlock()
		if s.Slot == "good" {
			select {
			case <-ready:
			case <-time.After(time.Minute):
			}
		}
	}
	opt.Ended = func(r TaskRun) {
		if r.Slot == "broken" && len(r.Result.Failed) > 0 {
			once.Do(func() { close(ready) })
		}
	}
	res := runLocal(t, context.Background(), dir, p, opt)
	if len(res.Runs) != 4 || len(res.Interrupted)+len(res.NotRun) != 0 {
		t.Fatalf("result %+v", res)
	}
	if len(ran["good"]) == 0 || len(ran["broken"]) == 0 {
		t.Fatalf("tasks per slot: %v", ran)
	}
	var ie InputError
	if f := res.Failed(); len(f) != 1 || f[0].Task != 2 || !errors.As(f[0].Err, &ie) {
		t.Fatalf("failed tasks %+v, want task 2 with an input error", f)
	}
	for _, r := range res.Runs {
		if r.Task == 2 {
			continue
		}
		switch r.Slot {
		case "good":
			if r.Err != nil || len(r.Result.Trained) != 2 {
				t.Errorf("task %d on the good slot: %v, %d trained", r.Task, r.Err, len(r.Result.Trained))
			}
		case "broken":
			fails, err := LoadFailures(dir, r.Task)
			if r.Err != nil || len(r.Result.Failed) != 2 || err != nil || len(fails) != 2 {
				t.Errorf("task %d on the broken slot: %v, %d failed, %d recorded (%v)", r.Task, r.Err, len(r.Result.Failed), len(fails), err)
			}
			for _, f := range fails {
				if !strings.Contains(f.Error, "device lost") {
					t.Errorf("task %d: recorded failure %+v", r.Task, f)
				}
			}
		}
	}

	// The broken device's slot cannot open now: its task goes to the
	// other slot.
	if err := os.WriteFile(pt, good, 0o644); err != nil {
		t.Fatal(err)
	}
	lost := Slot{Name: "lost", GPU: true, Open: func() (SlotEngine, error) { return SlotEngine{}, errors.New("no such device") }}
	var dropped []SlotError
	opt = LocalOptions{Slots: []Slot{cpuSlot("good", 2, nil), lost}, RetryFailed: true,
		SlotFailed: func(e SlotError) { dropped = append(dropped, e) }}
	res = runLocal(t, context.Background(), dir, p, opt)
	// The lost slot is a GPU's: it was asked first, for task 0.
	if len(dropped) != 1 || dropped[0].Slot != "lost" || dropped[0].Task != 0 || !strings.Contains(dropped[0].Error(), "slot lost: opening its engine: no such device") ||
		!reflect.DeepEqual(res.SlotErrors, dropped) {
		t.Fatalf("slot errors %v (reported %v)", res.SlotErrors, dropped)
	}
	if len(res.Runs) != 4 || len(res.Failed())+len(res.NotRun) != 0 {
		t.Fatalf("rerun: %+v", res)
	}
	for _, r := range res.Runs {
		if r.Slot != "good" {
			t.Errorf("task %d ran on %s", r.Task, r.Slot)
		}
	}
	sameRuns(t, p, ref, dir)

	// Every slot lost: nothing runs, and the result says so.
	res = runLocal(t, context.Background(), dir, p, LocalOptions{Slots: []Slot{lost}})
	if len(res.Runs) != 0 || !reflect.DeepEqual(res.NotRun, []int{0, 1, 2, 3}) || len(res.SlotErrors) != 1 {
		t.Fatalf("no slot: %+v", res)
	}
}

func TestRunLocalErrors(t *testing.T) {
	dir, p := prepare(t, slotSweep)
	for _, c := range []struct {
		tasks []int
		slots []Slot
		want  string
	}{
		{[]int{0}, nil, "no slot"},
		{[]int{0}, []Slot{{Name: "x"}}, "slot x has no Open"},
		{[]int{4}, []Slot{cpuSlot("cpu", 1, nil)}, "task 4: the sweep has tasks 0..3"},
	} {
		if _, err := RunLocal(context.Background(), dir, p, c.tasks, LocalOptions{Slots: c.slots}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("tasks %v on %d slots: %v, want %q", c.tasks, len(c.slots), err, c.want)
		}
	}
}
