package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/delgrad-go/delgrad/internal/atomicfile"
)

// The Slurm backend's files, in the sweep directory's SlurmDir: the batch
// script, the submitted job, each task's log and its outcome marker
// (task-<i>.done or task-<i>.failed, holding the exit code).
const (
	SlurmDir     = "slurm"
	SlurmScript  = "array.sh"
	SlurmJobFile = "job.json"
)

// States a task can have besides Slurm's own (PENDING, RUNNING, ...):
// finished with exit code 0, finished with another, and not known (neither
// the queue nor the markers nor the controller say).
const (
	StateDone    = "DONE"
	StateFailed  = "FAILED"
	StateUnknown = "UNKNOWN"
)

// SlurmJobName is the job name of a sweep's array job.
const SlurmJobName = "delgrad-sweep"

// TaskState is where one task of a sweep submitted to Slurm stands: Slurm's
// state while the task is in the queue (PENDING, RUNNING, ...), then DONE
// or FAILED from its marker, with its exit code.
type TaskState struct {
	Index    int    `json:"index"`
	State    string `json:"state"`
	ExitCode int    `json:"exit_code"`
}

// SlurmJob is the record of a submitted sweep, DIR/slurm/job.json.
type SlurmJob struct {
	JobID     string    `json:"job_id"`
	Cluster   string    `json:"cluster,omitempty"`
	Tasks     int       `json:"tasks"`
	Script    string    `json:"script"`
	Bin       string    `json:"bin"`
	Submitted time.Time `json:"submitted"`
}

// Slurm runs the Slurm client tools for SubmitSlurm and SlurmStatus: the
// commands' names or paths (empty: "sbatch", "squeue" and "scontrol" looked
// up on PATH) and a time limit for each call (zero: one minute). The zero
// value is the ordinary configuration; tests point it at stand-ins.
type Slurm struct {
	Sbatch, Squeue, Scontrol string
	Timeout                  time.Duration
}

// SubmitSlurm submits the plan p of the sweep directory dir as one Slurm
// job array, one array task per plan task, each running
// `bin sweep -out DIR -task $SLURM_ARRAY_TASK_ID -devices D` (D:
// SlurmDevices); it returns the job id.
// See Slurm.Submit.
func SubmitSlurm(dir string, p *Plan, bin string) (jobID string, err error) {
	return Slurm{}.Submit(dir, p, bin)
}

// SlurmStatus reports the state of each task of the sweep directory dir,
// submitted by SubmitSlurm. See Slurm.Status.
func SlurmStatus(dir string) ([]TaskState, error) {
	return Slurm{}.Status(dir)
}

// ErrNoSlurmTools is in the error of SubmitSlurm or SlurmStatus where a
// Slurm client command (sbatch, squeue) is not on PATH: a caller can then
// suggest the local backend.
var ErrNoSlurmTools = errors.New("not found")

// run runs one Slurm command with a time limit and returns its stdout; on
// failure the error carries the command's stderr.
func (s Slurm) run(name string, args ...string) (stdout []byte, stderr string, err error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w on PATH (the Slurm backend needs the Slurm client tools, sbatch and squeue, on this machine; `-backend local` runs a sweep without them)", name, ErrNoSlurmTools)
	}
	limit := s.Timeout
	if limit <= 0 {
		limit = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout = &out
	cmd.Stderr = &errb
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	stderr = strings.TrimSpace(errb.String())
	if ctx.Err() != nil {
		return out.Bytes(), stderr, fmt.Errorf("%s %s: no answer in %v", name, strings.Join(args, " "), limit)
	}
	if err != nil {
		msg := stderr
		if msg == "" {
			msg = "no message"
		}
		return out.Bytes(), stderr, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), stderr, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Submit writes DIR/slurm/array.sh, the batch script of a job array with
// one task per task of p and p's resources, submits it with
// `sbatch --parsable`, and records the job in DIR/slurm/job.json. The
// markers of an earlier submission are removed first; a sweep whose
// recorded job is still in the queue is refused. bin (the delgrad binary)
// and dir are made absolute: both must be on a filesystem the cluster's
// nodes share.
func (s Slurm) Submit(dir string, p *Plan, bin string) (jobID string, err error) {
	if p == nil || len(p.Tasks) == 0 {
		return "", fmt.Errorf("sweep: submit %s to Slurm: the plan has no tasks", dir)
	}
	for i, t := range p.Tasks {
		if t.Index != i {
			return "", fmt.Errorf("sweep: submit %s to Slurm: task %d has index %d", dir, i, t.Index)
		}
	}
	adir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: %w", dir, err)
	}
	abin, err := resolveBin(bin)
	if err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: %w", dir, err)
	}
	script, err := slurmScript(adir, abin, len(p.Tasks), p.Resources)
	if err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: %w", dir, err)
	}
	sdir := filepath.Join(adir, SlurmDir)
	if prev, err := LoadSlurmJob(adir); err == nil {
		live, err := s.queued(prev.JobID)
		if err != nil {
			return "", fmt.Errorf("sweep: submit %s to Slurm: checking its earlier job %s: %w", dir, prev.JobID, err)
		}
		if len(live) > 0 {
			return "", fmt.Errorf("sweep: submit %s to Slurm: its job %s is still in the queue (wait for it, or scancel %s first)", dir, prev.JobID, prev.JobID)
		}
	}
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: %w", dir, err)
	}
	if err := removeMarkers(sdir); err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: %w", dir, err)
	}
	spath := filepath.Join(sdir, SlurmScript)
	if err := atomicfile.WriteFile(spath, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: %w", dir, err)
	}
	out, _, err := s.run(orDefault(s.Sbatch, "sbatch"), "--parsable", spath)
	if err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: %w", dir, err)
	}
	id, cluster, err := parseJobID(out)
	if err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: sbatch --parsable: %w", dir, err)
	}
	job := SlurmJob{JobID: id, Cluster: cluster, Tasks: len(p.Tasks), Script: spath, Bin: abin, Submitted: time.Now().UTC()}
	raw, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: %w", dir, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(sdir, SlurmJobFile), append(raw, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("sweep: submit %s to Slurm: job %s submitted but not recorded (scancel %s): %w", dir, id, id, err)
	}
	return id, nil
}

// LoadSlurmJob reads the record of the Slurm job of the sweep directory
// dir.
func LoadSlurmJob(dir string) (*SlurmJob, error) {
	path := filepath.Join(dir, SlurmDir, SlurmJobFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep: %s was not submitted to Slurm (no %s): %w", dir, filepath.Join(SlurmDir, SlurmJobFile), err)
	}
	var j SlurmJob
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", path, err)
	}
	if !isJobID(j.JobID) || j.Tasks <= 0 {
		return nil, fmt.Errorf("sweep: %s: malformed (job id %q, %d tasks)", path, j.JobID, j.Tasks)
	}
	return &j, nil
}

// Status reports each task's state: Slurm's (squeue) while the task is in
// the queue, else DONE or FAILED with the exit code from its marker, else
// the controller's record of the finished task (scontrol, while it keeps
// it), else UNKNOWN. squeue is not asked when every task has its marker.
func (s Slurm) Status(dir string) ([]TaskState, error) {
	job, err := LoadSlurmJob(dir)
	if err != nil {
		return nil, err
	}
	sdir := filepath.Join(dir, SlurmDir)
	states := make([]TaskState, job.Tasks)
	marked := make([]bool, job.Tasks)
	all := true
	for i := range states {
		states[i] = TaskState{Index: i, State: StateUnknown}
		st, ok, err := readMarker(sdir, i)
		if err != nil {
			return nil, fmt.Errorf("sweep: status of %s: %w", dir, err)
		}
		if ok {
			states[i], marked[i] = st, true
		} else {
			all = false
		}
	}
	if all {
		return states, nil
	}
	live, err := s.queued(job.JobID)
	if err != nil {
		return nil, fmt.Errorf("sweep: status of %s (Slurm job %s): %w", dir, job.JobID, err)
	}
	for i := range states {
		if st, ok := live[i]; ok {
			states[i] = TaskState{Index: i, State: st}
			continue
		}
		if marked[i] {
			continue
		}
		// Out of the queue with no marker: killed (time limit, cancelled,
		// node failure) before the script could write one.
		out, _, err := s.run(orDefault(s.Scontrol, "scontrol"), "--oneliner", "show", "job", job.JobID+"_"+strconv.Itoa(i))
		if err != nil {
			continue
		}
		if st, code, ok := parseScontrol(out); ok {
			states[i] = TaskState{Index: i, State: st, ExitCode: code}
		}
	}
	return states, nil
}

// queued returns the states of the job's array tasks in the queue (none
// when the controller no longer knows the job).
func (s Slurm) queued(jobID string) (map[int]string, error) {
	out, stderr, err := s.run(orDefault(s.Squeue, "squeue"), "--job", jobID, "--array", "--noheader", "--format", "%i %T")
	if err != nil {
		if strings.Contains(stderr, "Invalid job id") {
			return map[int]string{}, nil
		}
		return nil, err
	}
	return parseSqueue(out, jobID)
}

// resolveBin returns the absolute path of the executable bin (a path, or a
// name looked up on PATH).
func resolveBin(bin string) (string, error) {
	if bin == "" {
		return "", errors.New("no delgrad binary given")
	}
	path := bin
	if !strings.ContainsRune(bin, filepath.Separator) {
		p, err := exec.LookPath(bin)
		if err != nil {
			return "", fmt.Errorf("the delgrad binary: %w", err)
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("the delgrad binary %s: %w", bin, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("the delgrad binary: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("the delgrad binary %s is not an executable file", abs)
	}
	return abs, nil
}

// sbatchValue is a path or value quoted for an #SBATCH line; sbatch reads
// those lines with its own simple quoting, so quotes, backslashes and line
// breaks are refused.
func sbatchValue(what, v string) (string, error) {
	if strings.ContainsAny(v, "\"\\\n\r") {
		return "", fmt.Errorf("%s %q: a quote, backslash or line break cannot be passed to sbatch", what, v)
	}
	return `"` + v + `"`, nil
}

// shellQuote quotes s for the shell, in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// SlurmDevices is the -devices a cluster task runs on, from its resources:
// gpu:0, the first of the GPUs Slurm gives the task (its
// CUDA_VISIBLE_DEVICES numbers them from 0), where it asks for GPUs, else
// cpu (the cores Slurm gives it). A task is one population, on one engine:
// it uses one GPU however many it asks for.
func SlurmDevices(r Resources) string {
	if r.GPUs > 0 {
		return "gpu:0"
	}
	return "cpu"
}

// slurmScript is the batch script of a job array of n tasks running
// `bin sweep -out dir -task $SLURM_ARRAY_TASK_ID -devices D` (dir and bin
// absolute, D from SlurmDevices), with the resources r.
func slurmScript(dir, bin string, n int, r Resources) (string, error) {
	if n <= 0 {
		return "", fmt.Errorf("a job array of %d tasks", n)
	}
	if r.GPUs < 0 || r.CPUs < 0 {
		return "", fmt.Errorf("resources: %d GPUs and %d CPUs per task", r.GPUs, r.CPUs)
	}
	for _, v := range []string{dir, bin} {
		if strings.ContainsAny(v, "\n\r") {
			return "", fmt.Errorf("path %q: a line break cannot go into a batch script", v)
		}
	}
	// Slurm expands %-patterns in --output: %% is a literal %.
	output, err := sbatchValue("sweep directory", strings.ReplaceAll(filepath.Join(dir, SlurmDir), "%", "%%")+"/task-%a.log")
	if err != nil {
		return "", err
	}
	chdir, err := sbatchValue("sweep directory", dir)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	b.WriteString("# Written by delgrad (sweep.SubmitSlurm): task i of the sweep is array task i.\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", SlurmJobName)
	fmt.Fprintf(&b, "#SBATCH --array=0-%d\n", n-1)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", output)
	fmt.Fprintf(&b, "#SBATCH --chdir=%s\n", chdir)
	if r.GPUs > 0 {
		fmt.Fprintf(&b, "#SBATCH --gres=gpu:%d\n", r.GPUs)
	}
	if r.CPUs > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", r.CPUs)
	}
	if r.Time != "" {
		v, err := sbatchValue("time limit", r.Time)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "#SBATCH --time=%s\n", v)
	}
	if r.Partition != "" {
		v, err := sbatchValue("partition", r.Partition)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "#SBATCH --partition=%s\n", v)
	}
	for _, x := range r.Extra {
		if !strings.HasPrefix(x, "-") || strings.ContainsAny(x, "\n\r") {
			return "", fmt.Errorf("extra sbatch option %q: not one option (it must start with - and hold no line break)", x)
		}
		fmt.Fprintf(&b, "#SBATCH %s\n", x)
	}
	fmt.Fprintf(&b, "dir=%s\n", shellQuote(dir))
	fmt.Fprintf(&b, "bin=%s\n", shellQuote(bin))
	fmt.Fprintf(&b, "devices=%s\n", SlurmDevices(r))
	b.WriteString(`i="${SLURM_ARRAY_TASK_ID:?not a Slurm array task (submit this script with sbatch)}"
mark="$dir/` + SlurmDir + `/task-$i"
rm -f "$mark.done" "$mark.failed"
# Slurm signals the whole task on scancel or at its time limit: the shell
# stays to record the outcome.
trap 'echo "delgrad sweep: task $i: SIGTERM (cancelled or out of time)" >&2' TERM
"$bin" sweep -out "$dir" -task "$i" -devices "$devices"
rc=$?
if [ "$rc" -eq 0 ]; then m="$mark.done"; else m="$mark.failed"; fi
echo "$rc" > "$m.tmp" && mv -f "$m.tmp" "$m"
exit "$rc"
`)
	return b.String(), nil
}

// removeMarkers removes the task markers in the Slurm directory sdir.
func removeMarkers(sdir string) error {
	for _, pat := range []string{"task-*.done", "task-*.failed"} {
		m, err := filepath.Glob(filepath.Join(sdir, pat))
		if err != nil {
			return fmt.Errorf("markers: %w", err)
		}
		for _, f := range m {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("markers: %w", err)
			}
		}
	}
	return nil
}

// readMarker reads task i's outcome marker, if any (the newer where both
// are there).
func readMarker(sdir string, i int) (TaskState, bool, error) {
	var best TaskState
	var bestTime time.Time
	found := false
	for _, kind := range []struct{ ext, state string }{{"done", StateDone}, {"failed", StateFailed}} {
		path := filepath.Join(sdir, fmt.Sprintf("task-%d.%s", i, kind.ext))
		fi, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return TaskState{}, false, fmt.Errorf("marker: %w", err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return TaskState{}, false, fmt.Errorf("marker: %w", err)
		}
		code, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			return TaskState{}, false, fmt.Errorf("marker %s: not an exit code: %q", path, strings.TrimSpace(string(raw)))
		}
		if !found || fi.ModTime().After(bestTime) {
			best, bestTime, found = TaskState{Index: i, State: kind.state, ExitCode: code}, fi.ModTime(), true
		}
	}
	return best, found, nil
}

func isJobID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseJobID reads `sbatch --parsable`'s answer: "JOBID" or
// "JOBID;CLUSTER", on the last line.
func parseJobID(out []byte) (id, cluster string, err error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	id, cluster, _ = strings.Cut(last, ";")
	if !isJobID(id) {
		return "", "", fmt.Errorf("no job id in %q", strings.TrimSpace(string(out)))
	}
	return id, cluster, nil
}

// squeueTask is one of squeue's job ids: JOBID_TASK or JOBID_[RANGES] with
// an optional %THROTTLE.
var squeueTask = regexp.MustCompile(`^(\d+)_(\d+|\[[0-9,\-]+(%\d+)?\])$`)

// parseSqueue reads `squeue --array --noheader --format "%i %T"` for job
// jobID: the state of each array task listed.
func parseSqueue(out []byte, jobID string) (map[int]string, error) {
	states := map[int]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("squeue: unexpected line %q", line)
		}
		m := squeueTask.FindStringSubmatch(f[0])
		if m == nil {
			if f[0] == jobID {
				return nil, fmt.Errorf("squeue: job %s is not a job array", jobID)
			}
			return nil, fmt.Errorf("squeue: unexpected job id %q", f[0])
		}
		if m[1] != jobID {
			continue
		}
		idx, err := taskRange(m[2])
		if err != nil {
			return nil, fmt.Errorf("squeue: job id %q: %w", f[0], err)
		}
		for _, i := range idx {
			states[i] = f[1]
		}
	}
	return states, nil
}

// taskRange expands an array task id: "3" or "[0-2,5%4]".
func taskRange(s string) ([]int, error) {
	if !strings.HasPrefix(s, "[") {
		i, err := strconv.Atoi(s)
		return []int{i}, err
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	s, _, _ = strings.Cut(s, "%")
	var idx []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, err
			}
		}
		if b < a || b-a > 1<<20 {
			return nil, fmt.Errorf("bad range %q", part)
		}
		for i := a; i <= b; i++ {
			idx = append(idx, i)
		}
	}
	return idx, nil
}

// parseScontrol reads the state and exit code of a finished array task
// from `scontrol --oneliner show job`: COMPLETED becomes DONE, other states
// (FAILED, CANCELLED, TIMEOUT, ...) stay as Slurm names them.
func parseScontrol(out []byte) (state string, code int, ok bool) {
	for _, f := range strings.Fields(string(out)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "JobState":
			state = v
		case "ExitCode":
			c, _, _ := strings.Cut(v, ":")
			code, _ = strconv.Atoi(c)
		}
	}
	if state == "" {
		return "", 0, false
	}
	if state == "COMPLETED" {
		state = StateDone
	}
	return state, code, true
}
