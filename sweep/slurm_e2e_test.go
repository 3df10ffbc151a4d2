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
// (`BIN sweep -out DIR -task I`), and follows it with SlurmStatus until
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
	// The stand-in: delgrad's interface, `BIN sweep -out DIR -task I`.
	bin := fakeBin(t, t.TempDir(), "delgrad", `if [ $# -ne 5 ] || [ "$1" != sweep ] || [ "$2" != -out ] || [ "$4" != -task ]; then
  echo "usage: $0 sweep -out DIR -task I (got: $*)" >&2; exit 2
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
		} else if got, want := strings.TrimSpace(string(raw)), fmt.Sprintf("sweep -out %s -task %d", dir, i); got != want {
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
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
