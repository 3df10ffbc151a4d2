package sweep

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeBin writes an executable shell script named name into dir.
func fakeBin(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeSlurm puts stand-in sbatch, squeue and scontrol on PATH (only them:
// PATH is the stand-ins' directory and /bin, /usr/bin for the shell). Each
// logs its arguments to DIR/<name>.args and answers with DIR/<name>.out
// and DIR/<name>.err and the exit code in DIR/<name>.rc (0 when absent).
func fakeSlurm(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"sbatch", "squeue", "scontrol"} {
		fakeBin(t, dir, name, `d=$(dirname "$0"); n=$(basename "$0")
printf '%s\n' "$@" > "$d/$n.args"
[ -f "$d/$n.out" ] && cat "$d/$n.out"
[ -f "$d/$n.err" ] && cat "$d/$n.err" >&2
exit $(cat "$d/$n.rc" 2>/dev/null || echo 0)
`)
	}
	t.Setenv("PATH", dir+":/usr/bin:/bin")
	return dir
}

func set(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func plan3() *Plan {
	return &Plan{Tasks: []Task{
		{Index: 0, Name: "a", Runs: []string{"runs/a"}},
		{Index: 1, Name: "b", Runs: []string{"runs/b"}},
		{Index: 2, Name: "c", Runs: []string{"runs/c"}},
	}}
}

func TestSlurmScript(t *testing.T) {
	r := Resources{GPUs: 2, CPUs: 8, Time: "01:30:00", Partition: "gpu", Extra: []string{"--qos=high", "--account=snn"}}
	s, err := slurmScript("/shared/my sweep%1", "/shared/bin/del'grad", 5, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"#!/bin/bash",
		"#SBATCH --job-name=delgrad-sweep",
		"#SBATCH --array=0-4",
		`#SBATCH --output="/shared/my sweep%%1/slurm/task-%a.log"`,
		`#SBATCH --chdir="/shared/my sweep%1"`,
		"#SBATCH --gres=gpu:2",
		"#SBATCH --cpus-per-task=8",
		`#SBATCH --time="01:30:00"`,
		`#SBATCH --partition="gpu"`,
		"#SBATCH --qos=high",
		"#SBATCH --account=snn",
		`dir='/shared/my sweep%1'`,
		`bin='/shared/bin/del'\''grad'`,
		"devices=gpu:0",
		`"$bin" sweep -out "$dir" -task "$i" -devices "$devices"`,
	}
	lines := strings.Split(s, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if l == w {
				found = true
			}
		}
		if !found {
			t.Errorf("no line %q in\n%s", w, s)
		}
	}
	// The #SBATCH lines come before the first command (sbatch stops
	// reading them there).
	seenCmd := false
	for _, l := range lines {
		if strings.HasPrefix(l, "#SBATCH") && seenCmd {
			t.Errorf("#SBATCH line after a command: %q", l)
		}
		if l != "" && !strings.HasPrefix(l, "#") {
			seenCmd = true
		}
	}
	if out, err := exec.Command("bash", "-n", "-c", s).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v: %s", err, out)
	}

	// No resources: no resource options.
	s, err = slurmScript("/d", "/b", 1, Resources{})
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []string{"--gres", "--cpus-per-task", "--time", "--partition"} {
		if strings.Contains(s, opt) {
			t.Errorf("no resources, but %s in\n%s", opt, s)
		}
	}
	if !strings.Contains(s, "#SBATCH --array=0-0\n") {
		t.Errorf("one task: no --array=0-0 in\n%s", s)
	}
	// No GPUs asked for: the task runs on its CPU cores, even on a node
	// with GPUs (the cluster may not hide those it did not give).
	if !strings.Contains(s, "\ndevices=cpu\n") {
		t.Errorf("no GPUs: no devices=cpu in\n%s", s)
	}
}

// A cluster task asks for GPUs: it runs on the first that Slurm gives it
// (CUDA_VISIBLE_DEVICES numbers them from 0), else on the CPU.
func TestSlurmDevices(t *testing.T) {
	for _, c := range []struct {
		gpus int
		want string
	}{{0, "cpu"}, {1, "gpu:0"}, {4, "gpu:0"}} {
		if got := SlurmDevices(Resources{GPUs: c.gpus, CPUs: 8}); got != c.want {
			t.Errorf("%d GPUs: -devices %s, want %s", c.gpus, got, c.want)
		}
	}
}

func TestSlurmScriptErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		dir, bin  string
		n         int
		r         Resources
		wantInErr string
	}{
		{"no tasks", "/d", "/b", 0, Resources{}, "0 tasks"},
		{"negative GPUs", "/d", "/b", 1, Resources{GPUs: -1}, "-1 GPUs"},
		{"negative CPUs", "/d", "/b", 1, Resources{CPUs: -2}, "-2 CPUs"},
		{"extra not an option", "/d", "/b", 1, Resources{Extra: []string{"qos=high"}}, `"qos=high"`},
		{"extra with a line break", "/d", "/b", 1, Resources{Extra: []string{"--qos=a\nrm -rf /"}}, "line break"},
		{"quote in dir", `/d"x`, "/b", 1, Resources{}, "quote"},
		{"line break in bin", "/d", "/b\nx", 1, Resources{}, "line break"},
		{"quote in partition", "/d", "/b", 1, Resources{Partition: `a"b`}, "partition"},
	} {
		_, err := slurmScript(c.dir, c.bin, c.n, c.r)
		if err == nil || !strings.Contains(err.Error(), c.wantInErr) {
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.wantInErr)
		}
	}
}

// The script's body, run by hand as array task 1 and 2: the stand-in runs
// with the sweep's arguments and the outcome lands in the markers.
func TestSlurmScriptRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my sweep")
	if err := os.MkdirAll(filepath.Join(dir, SlurmDir), 0o755); err != nil {
		t.Fatal(err)
	}
	bin := fakeBin(t, t.TempDir(), "delgrad", `echo "$@" > "$3/args-$5"; [ "$5" = 2 ] && exit 7; exit 0`)
	s, err := slurmScript(dir, bin, 3, Resources{})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []string{"1", "2"} {
		cmd := exec.Command("bash", "-c", s)
		cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID="+i)
		out, err := cmd.CombinedOutput()
		if i == "2" {
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
				t.Errorf("task 2: %v (%s), want exit code 7", err, out)
			}
		} else if err != nil {
			t.Errorf("task 1: %v: %s", err, out)
		}
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args-1"))
	if got, want := strings.TrimSpace(string(args)), "sweep -out "+dir+" -task 1 -devices cpu"; got != want {
		t.Errorf("stand-in's arguments %q, want %q", got, want)
	}
	st, ok, err := readMarker(filepath.Join(dir, SlurmDir), 1)
	if err != nil || !ok || st != (TaskState{Index: 1, State: StateDone}) {
		t.Errorf("task 1 marker: %+v %v %v", st, ok, err)
	}
	st, ok, err = readMarker(filepath.Join(dir, SlurmDir), 2)
	if err != nil || !ok || st != (TaskState{Index: 2, State: StateFailed, ExitCode: 7}) {
		t.Errorf("task 2 marker: %+v %v %v", st, ok, err)
	}
	if _, ok, _ := readMarker(filepath.Join(dir, SlurmDir), 0); ok {
		t.Error("task 0 has a marker, but did not run")
	}
	// Not under Slurm: refused.
	if out, err := exec.Command("bash", "-c", s).CombinedOutput(); err == nil || !strings.Contains(string(out), "not a Slurm array task") {
		t.Errorf("without SLURM_ARRAY_TASK_ID: %v: %s", err, out)
	}
}

func TestParseJobID(t *testing.T) {
	for _, c := range []struct{ out, id, cluster string }{
		{"4242\n", "4242", ""},
		{"4242;gpu-cluster\n", "4242", "gpu-cluster"},
		{"  17  ", "17", ""},
		{"note\n99\n", "99", ""},
	} {
		id, cl, err := parseJobID([]byte(c.out))
		if err != nil || id != c.id || cl != c.cluster {
			t.Errorf("%q: %q %q %v, want %q %q", c.out, id, cl, err, c.id, c.cluster)
		}
	}
	for _, bad := range []string{"", "\n", "Submitted batch job 12", "12a", ";x"} {
		if id, _, err := parseJobID([]byte(bad)); err == nil {
			t.Errorf("%q: job id %q, want an error", bad, id)
		}
	}
}

func TestParseSqueue(t *testing.T) {
	got, err := parseSqueue([]byte("7_0 RUNNING\n7_1 COMPLETING\n7_[2-4,6%2] PENDING\n8_0 RUNNING\n\n"), "7")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{0: "RUNNING", 1: "COMPLETING", 2: "PENDING", 3: "PENDING", 4: "PENDING", 6: "PENDING"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got, err := parseSqueue(nil, "7"); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"7_0\n", "7 RUNNING\n", "x_1 RUNNING\n", "7_[3-1] PENDING\n", "7_0 RUNNING extra\n"} {
		if got, err := parseSqueue([]byte(bad), "7"); err == nil {
			t.Errorf("%q: %v, want an error", bad, got)
		}
	}
}

func TestParseScontrol(t *testing.T) {
	for _, c := range []struct {
		out   string
		state string
		code  int
		ok    bool
	}{
		{"JobId=12 ArrayJobId=11 ArrayTaskId=1 JobName=delgrad-sweep JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15", "TIMEOUT", 0, true},
		{"JobId=12 JobState=FAILED ExitCode=3:0", "FAILED", 3, true},
		{"JobId=12 JobState=COMPLETED ExitCode=0:0", StateDone, 0, true},
		{"slurm_load_jobs error: Invalid job id specified", "", 0, false},
	} {
		st, code, ok := parseScontrol([]byte(c.out))
		if st != c.state || code != c.code || ok != c.ok {
			t.Errorf("%q: %q %d %v, want %q %d %v", c.out, st, code, ok, c.state, c.code, c.ok)
		}
	}
}

func TestSubmitSlurm(t *testing.T) {
	fake := fakeSlurm(t)
	set(t, fake, "sbatch.out", "4242;cl\n")
	dir := filepath.Join(t.TempDir(), "sw")
	bin := fakeBin(t, t.TempDir(), "delgrad", "exit 0\n")
	p := plan3()
	p.Resources = Resources{CPUs: 2, Partition: "debug"}
	// Markers of an earlier submission go.
	if err := os.MkdirAll(filepath.Join(dir, SlurmDir), 0o755); err != nil {
		t.Fatal(err)
	}
	set(t, filepath.Join(dir, SlurmDir), "task-1.failed", "1\n")
	id, err := SubmitSlurm(dir, p, bin)
	if err != nil {
		t.Fatal(err)
	}
	if id != "4242" {
		t.Errorf("job id %q, want 4242", id)
	}
	script := filepath.Join(dir, SlurmDir, SlurmScript)
	args, _ := os.ReadFile(filepath.Join(fake, "sbatch.args"))
	if got, want := string(args), "--parsable\n"+script+"\n"; got != want {
		t.Errorf("sbatch's arguments %q, want %q", got, want)
	}
	raw, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"#SBATCH --array=0-2\n", "#SBATCH --cpus-per-task=2\n", `#SBATCH --partition="debug"` + "\n", "bin=" + shellQuote(bin) + "\n", "dir=" + shellQuote(dir) + "\n"} {
		if !strings.Contains(string(raw), w) {
			t.Errorf("no %q in the script:\n%s", w, raw)
		}
	}
	job, err := LoadSlurmJob(dir)
	if err != nil {
		t.Fatal(err)
	}
	if job.JobID != "4242" || job.Cluster != "cl" || job.Tasks != 3 || job.Bin != bin || job.Script != script {
		t.Errorf("job.json: %+v", job)
	}
	if _, err := os.Stat(filepath.Join(dir, SlurmDir, "task-1.failed")); !os.IsNotExist(err) {
		t.Errorf("the earlier marker is still there (%v)", err)
	}

	// The job still in the queue: a second submission is refused.
	set(t, fake, "squeue.out", "4242_2 RUNNING\n")
	if _, err := SubmitSlurm(dir, p, bin); err == nil || !strings.Contains(err.Error(), "still in the queue") {
		t.Errorf("resubmitted while queued: %v", err)
	}
	// Out of the queue: a second submission goes.
	set(t, fake, "squeue.out", "")
	set(t, fake, "sbatch.out", "4243\n")
	if id, err := SubmitSlurm(dir, p, bin); err != nil || id != "4243" {
		t.Errorf("resubmission: %q %v", id, err)
	}
}

func TestSubmitSlurmErrors(t *testing.T) {
	fake := fakeSlurm(t)
	bin := fakeBin(t, t.TempDir(), "delgrad", "exit 0\n")
	dir := t.TempDir()

	set(t, fake, "sbatch.err", "sbatch: error: invalid partition specified: nope\n")
	set(t, fake, "sbatch.rc", "1")
	_, err := SubmitSlurm(dir, plan3(), bin)
	if err == nil || !strings.Contains(err.Error(), "invalid partition specified: nope") {
		t.Errorf("sbatch failing: %v, want its stderr", err)
	}
	if _, err := LoadSlurmJob(dir); err == nil {
		t.Error("a job recorded after sbatch failed")
	}

	set(t, fake, "sbatch.rc", "0")
	set(t, fake, "sbatch.err", "")
	set(t, fake, "sbatch.out", "Submitted batch job 12\n")
	if _, err := SubmitSlurm(dir, plan3(), bin); err == nil || !strings.Contains(err.Error(), "no job id") {
		t.Errorf("sbatch's answer not a job id: %v", err)
	}

	if _, err := SubmitSlurm(dir, &Plan{}, bin); err == nil || !strings.Contains(err.Error(), "no tasks") {
		t.Errorf("no tasks: %v", err)
	}
	bad := plan3()
	bad.Tasks[1].Index = 5
	if _, err := SubmitSlurm(dir, bad, bin); err == nil || !strings.Contains(err.Error(), "index 5") {
		t.Errorf("bad index: %v", err)
	}
	if _, err := SubmitSlurm(dir, plan3(), filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "delgrad binary") {
		t.Errorf("missing binary: %v", err)
	}
	notExec := filepath.Join(dir, "plain")
	set(t, dir, "plain", "x")
	if _, err := SubmitSlurm(dir, plan3(), notExec); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Errorf("binary not executable: %v", err)
	}

	// No sbatch at all.
	t.Setenv("PATH", t.TempDir())
	_, err = SubmitSlurm(dir, plan3(), bin)
	if !errors.Is(err, ErrNoSlurmTools) {
		t.Fatalf("no sbatch: %v, want ErrNoSlurmTools", err)
	}
	for _, w := range []string{"sbatch", "not found", "Slurm client tools", "-backend local"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("no sbatch: error %q does not say %q", err, w)
		}
	}
}

func writeJob(t *testing.T, dir string, j SlurmJob) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, SlurmDir), 0o755); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(j)
	set(t, filepath.Join(dir, SlurmDir), SlurmJobFile, string(raw))
}

func TestSlurmStatus(t *testing.T) {
	fake := fakeSlurm(t)
	dir := t.TempDir()
	sdir := filepath.Join(dir, SlurmDir)
	writeJob(t, dir, SlurmJob{JobID: "77", Tasks: 4})

	// In the queue: squeue's states; finished: the markers.
	set(t, fake, "squeue.out", "77_0 RUNNING\n77_[2-3] PENDING\n")
	set(t, sdir, "task-1.failed", "3\n")
	got, err := SlurmStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []TaskState{{0, "RUNNING", 0}, {1, StateFailed, 3}, {2, "PENDING", 0}, {3, "PENDING", 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	args, _ := os.ReadFile(filepath.Join(fake, "squeue.args"))
	if got, want := string(args), "--job\n77\n--array\n--noheader\n--format\n%i %T\n"; got != want {
		t.Errorf("squeue's arguments %q, want %q", got, want)
	}

	// The job gone from the controller: markers, then scontrol, then
	// UNKNOWN.
	set(t, fake, "squeue.out", "")
	set(t, fake, "squeue.err", "slurm_load_jobs error: Invalid job id specified\n")
	set(t, fake, "squeue.rc", "1")
	set(t, sdir, "task-0.done", "0\n")
	set(t, fake, "scontrol.out", "JobId=80 ArrayJobId=77 ArrayTaskId=2 JobState=TIMEOUT ExitCode=0:15\n")
	got, err = SlurmStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	want = []TaskState{{0, StateDone, 0}, {1, StateFailed, 3}, {2, "TIMEOUT", 0}, {3, "TIMEOUT", 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	set(t, fake, "scontrol.out", "")
	set(t, fake, "scontrol.err", "slurm_load_jobs error: Invalid job id specified\n")
	set(t, fake, "scontrol.rc", "1")
	set(t, sdir, "task-2.done", "0\n")
	got, err = SlurmStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	want = []TaskState{{0, StateDone, 0}, {1, StateFailed, 3}, {2, StateDone, 0}, {3, StateUnknown, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	// squeue failing otherwise: an error with its message.
	set(t, fake, "squeue.err", "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n")
	if _, err := SlurmStatus(dir); err == nil || !strings.Contains(err.Error(), "Unable to contact slurm controller") {
		t.Errorf("squeue failing: %v", err)
	}

	// Every task marked: no squeue needed (it is not even on PATH).
	set(t, sdir, "task-3.done", "0\n")
	t.Setenv("PATH", t.TempDir())
	got, err = SlurmStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	want = []TaskState{{0, StateDone, 0}, {1, StateFailed, 3}, {2, StateDone, 0}, {3, StateDone, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestSlurmStatusErrors(t *testing.T) {
	fakeSlurm(t)
	dir := t.TempDir()
	if _, err := SlurmStatus(dir); err == nil || !strings.Contains(err.Error(), "not submitted to Slurm") {
		t.Errorf("no job.json: %v", err)
	}
	writeJob(t, dir, SlurmJob{JobID: "x1", Tasks: 2})
	if _, err := SlurmStatus(dir); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("bad job id: %v", err)
	}
	writeJob(t, dir, SlurmJob{JobID: "5", Tasks: 2})
	set(t, filepath.Join(dir, SlurmDir), "task-0.done", "zero\n")
	if _, err := SlurmStatus(dir); err == nil || !strings.Contains(err.Error(), "not an exit code") {
		t.Errorf("bad marker: %v", err)
	}
}
