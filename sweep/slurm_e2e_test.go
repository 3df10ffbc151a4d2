package sweep

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSlurmEndToEnd submits a sweep of three tasks to a real single-node
// Slurm cluster that scripts/slurm-local.sh starts on this machine (and
// stops after), with a stand-in for delgrad that takes delgrad's arguments
// (`BIN sweep -out DIR -task I -devices cpu`), and follows it with SlurmStatus until
// every task is done; task 1 fails. It runs only as root with
// DELGRAD_SLURM_TEST=1 (.ci/run sets it), and skips where Slurm cannot be
// installed. DELGRAD_SLURM_STATEDIR, if set, is the cluster's state
// directory (so that a caller can stop a cluster left by a killed test).
func TestSlurmEndToEnd(t *testing.T) {
	if os.Getenv("DELGRAD_SLURM_TEST") != "1" {
		t.Skip("starts Slurm daemons on this machine: set DELGRAD_SLURM_TEST=1 to run it (as root)")
	}
	if os.Geteuid() != 0 {
		t.Skip("scripts/slurm-local.sh needs root")
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "slurm-local.sh"))
	if err != nil {
		t.Fatal(err)
	}
	state := os.Getenv("DELGRAD_SLURM_STATEDIR")
	if state == "" {
		state = filepath.Join(t.TempDir(), "slurm")
	}
	cluster := func(limit time.Duration, args ...string) (stdout, stderr string, code int, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.WaitDelay = 5 * time.Second
		err = cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer in %v", limit)
		}
		return out.String(), errb.String(), code, err
	}
	// Stop also after a failed start: it cleans up whatever started.
	t.Cleanup(func() {
		out, errs, _, err := cluster(time.Minute, "stop", state)
		if err != nil {
			t.Errorf("slurm-local.sh stop: %v\n%s%s", err, out, errs)
		}
	})
	t0 := time.Now()
	out, errs, code, err := cluster(6*time.Minute, "start", state)
	if code == 3 {
		t.Skipf("Slurm cannot be installed here:\n%s", errs)
	}
	if err != nil {
		t.Fatalf("slurm-local.sh start: %v\n%s%s", err, out, errs)
	}
	conf := ""
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "export SLURM_CONF="); ok {
			conf = v
		}
	}
	if conf == "" {
		t.Fatalf("slurm-local.sh start printed no SLURM_CONF:\n%s%s", out, errs)
	}
	t.Setenv("SLURM_CONF", conf)
	t.Logf("cluster up in %v (SLURM_CONF=%s)", time.Since(t0).Round(time.Millisecond), conf)

	dir := filepath.Join(t.TempDir(), "sweep dir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The stand-in: delgrad's interface, `BIN sweep -out DIR -task I
	// -devices D` (cpu: the resources ask for no GPU).
	bin := fakeBin(t, t.TempDir(), "delgrad", `if [ $# -ne 7 ] || [ "$1" != sweep ] || [ "$2" != -out ] || [ "$4" != -task ] || [ "$6" != -devices ] || [ "$7" != cpu ]; then
  echo "usage: $0 sweep -out DIR -task I -devices cpu (got: $*)" >&2; exit 2
fi
echo "$*" > "$3/ran-$5"
echo "task $5 on $(hostname -s)"
[ "$5" = 1 ] && exit 1
exit 0
`)
	p := plan3()
	p.Resources = Resources{CPUs: 1, Time: "00:05:00"}
	if err := WritePlan(dir, p); err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	id, err := SubmitSlurm(dir, p, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("submitted job %s", id)

	final := func(st []TaskState) bool {
		for _, s := range st {
			if s.State != StateDone && s.State != StateFailed {
				return false
			}
		}
		return true
	}
	var st []TaskState
	seen := map[string]bool{}
	deadline := time.Now().Add(120 * time.Second)
	for {
		st, err = SlurmStatus(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			seen[s.State] = true
		}
		if final(st) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("states seen: %v; finished in %v", slices.Sorted(maps.Keys(seen)), time.Since(t1).Round(time.Millisecond))
	want := []TaskState{{0, StateDone, 0}, {1, StateFailed, 1}, {2, StateDone, 0}}
	if !reflect.DeepEqual(st, want) {
		sq, _ := exec.Command("squeue", "--array").CombinedOutput()
		logs, _ := os.ReadFile(filepath.Join(state, "log", "slurmctld.log"))
		t.Fatalf("states %+v, want %+v\nsqueue:\n%s\nslurmctld.log:\n%s", st, want, sq, tail(string(logs), 30))
	}
	for i := range 3 {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ran-%d", i)))
		if err != nil {
			t.Errorf("task %d did not run: %v", i, err)
		} else if got, want := strings.TrimSpace(string(raw)), fmt.Sprintf("sweep -out %s -task %d -devices cpu", dir, i); got != want {
			t.Errorf("task %d ran with %q, want %q", i, got, want)
		}
		log, err := os.ReadFile(filepath.Join(dir, SlurmDir, fmt.Sprintf("task-%d.log", i)))
		if err != nil || !strings.Contains(string(log), fmt.Sprintf("task %d on ", i)) {
			t.Errorf("task %d's log: %q %v", i, log, err)
		}
	}
	for _, m := range []struct{ name, code string }{{"task-0.done", "0"}, {"task-1.failed", "1"}, {"task-2.done", "0"}} {
		raw, err := os.ReadFile(filepath.Join(dir, SlurmDir, m.name))
		if err != nil || strings.TrimSpace(string(raw)) != m.code {
			t.Errorf("marker %s: %q %v, want %s", m.name, raw, err, m.code)
		}
	}
	for _, m := range []string{"task-0.failed", "task-1.done", "task-2.failed"} {
		if _, err := os.Stat(filepath.Join(dir, SlurmDir, m)); !os.IsNotExist(err) {
			t.Errorf("marker %s there (%v)", m, err)
		}
	}
	t.Run("delgrad", func(t *testing.T) { testSlurmDelgrad(t) })
}

// testSlurmDelgrad runs a real sweep on the cluster TestSlurmEndToEnd
// started: 2 grid points x 4 seeds of a small Yin-Yang network, one epoch,
// submitted with `delgrad sweep -backend slurm`, followed to the end, then
// -status and -report; a run of it equals the same run of a local sweep.
func testSlurmDelgrad(t *testing.T) {
	root := t.TempDir()
	bin := filepath.Join(root, "delgrad")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/delgrad-go/delgrad/cmd/delgrad").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(root, "base.toml"), []byte("name = \"tiny\"\n[[layers]]\nsize = 5\n[[layers]]\nsize = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(root, "s.toml")
	if err := os.WriteFile(spec, []byte(`base = "base.toml"
seeds = "1-4"
epochs = 1
[grid]
"layers.0.size" = [4, 6]
[resources]
cpus = 1
time = "00:10:00"
[report]
params = ["layers.0.size"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("delgrad %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	dir := filepath.Join(root, "slurm sweep")
	t0 := time.Now()
	out := run("sweep", "-file", spec, "-out", dir, "-backend", "slurm")
	if !strings.Contains(out, "as Slurm job") {
		t.Fatalf("submit: %s", out)
	}
	var st []TaskState
	var err error
	deadline := time.Now().Add(180 * time.Second)
	for {
		if st, err = SlurmStatus(dir); err != nil {
			t.Fatal(err)
		}
		done := len(st) > 0
		for _, s := range st {
			done = done && (s.State == StateDone || s.State == StateFailed)
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	want := []TaskState{{0, StateDone, 0}, {1, StateDone, 0}}
	if !reflect.DeepEqual(st, want) {
		logs, _ := os.ReadFile(filepath.Join(dir, SlurmDir, "task-0.log"))
		t.Fatalf("states %+v, want %+v\ntask 0's log:\n%s", st, want, tail(string(logs), 30))
	}
	t.Logf("2 tasks x 4 runs on Slurm in %v", time.Since(t0).Round(time.Millisecond))
	for _, point := range []string{"layers.0.size=4", "layers.0.size=6"} {
		for s := 1; s <= 4; s++ {
			if _, err := os.Stat(filepath.Join(dir, point, fmt.Sprintf("seed%d", s), "summary.json")); err != nil {
				t.Errorf("%s seed %d: %v", point, s, err)
			}
		}
	}
	if out := run("sweep", "-status", dir); !strings.Contains(out, "8 done, 0 running, 0 unfinished, 0 failed") || !strings.Contains(out, "[slurm: DONE]") {
		t.Errorf("sweep -status:\n%s", out)
	}
	run("sweep", "-report", dir)
	if rep, err := os.ReadFile(filepath.Join(dir, "report.md")); err != nil || !strings.Contains(string(rep), "layers.0.size=6") {
		t.Errorf("report.md: %v\n%s", err, rep)
	}
	local := filepath.Join(root, "local")
	run("sweep", "-file", spec, "-out", local, "-quiet")
	npys, _ := filepath.Glob(filepath.Join(dir, "layers.0.size=6", "seed3", "network", "*.npy"))
	if len(npys) == 0 {
		t.Fatal("the Slurm sweep's run has no network files")
	}
	for _, p := range append(npys, filepath.Join(dir, "layers.0.size=6", "seed3", "config.toml")) {
		rel, _ := filepath.Rel(dir, p)
		a, err1 := os.ReadFile(p)
		b, err2 := os.ReadFile(filepath.Join(local, rel))
		if err := errors.Join(err1, err2); err != nil || string(a) != string(b) {
			t.Errorf("%s differs between the Slurm sweep and the local one (%v)", rel, err)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
