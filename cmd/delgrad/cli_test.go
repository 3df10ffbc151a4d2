package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/configs"
	"github.com/delgrad-go/delgrad/trainer"
)

// TestCommandLine: exit codes, messages and output of the command line's
// help, version and configs commands and of bad flags; every failure
// prints one message (main's), nothing from the flag package.
func TestCommandLine(t *testing.T) {
	file := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(file, []byte("# x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args   []string
		code   int
		msg    string // in the error
		stdout string // in stdout
	}{
		{nil, 2, "missing command", ""},
		{[]string{"help"}, 0, "", "robustness  evaluate a run on many simulated BrainScaleS-2 chips"},
		{[]string{"-h"}, 0, "", "commands:"},
		{[]string{"help", "configs"}, 0, "", "usage: delgrad configs [NAME]"},
		{[]string{"help", "nosuch"}, 2, `unknown command "nosuch"`, ""},
		{[]string{"help", "train", "eval"}, 2, "give one command", ""},
		{[]string{"frobnicate"}, 2, "delgrad help", ""},
		{[]string{"version"}, 0, "", runtime.Version()},
		{[]string{"--version"}, 0, "", "CUDA: "},
		{[]string{"version", "x"}, 2, "unexpected arguments", ""},
		{[]string{"configs"}, 0, "", "yin_yang_H30_WA\n"},
		{[]string{"configs", "yin_yang_H5_WS"}, 0, "", `name = "yin_yang_H5_WS"`},
		{[]string{"configs", "nosuch"}, 2, "built-in: 16x16_mnist, ", ""},
		{[]string{"configs", "a", "b"}, 2, "at most one name", ""},
		{[]string{"train", "-bogus"}, 2, "flag provided but not defined: -bogus (delgrad train -h lists the flags)", ""},
		{[]string{"eval", "-workers", "many"}, 2, `invalid value "many" for flag -workers`, ""},
		{[]string{"robustness", "-seed", "-1", "-run", "x"}, 2, `invalid value "-1" for flag -seed: want an integer >= 0`, ""},
		{[]string{"bench", "-quiet=maybe"}, 2, "-quiet", ""},
		{[]string{"train", "-out", file, "-quiet"}, 2, "is a file, not a directory", ""},
		{[]string{"train", "-out", filepath.Join(file, "run"), "-quiet"}, 2, "is a file, not a directory", ""},
		{[]string{"export", "-run", t.TempDir(), "-out", file}, 2, "is a file, not a directory", ""},
		{[]string{"robustness", "-run", t.TempDir(), "-out", file}, 2, "is a file, not a directory", ""},
		{[]string{"bench", "-cases", "yinyang-4-30-3-none-tau2", "-out", file}, 2, "is a file, not a directory", ""},
		{[]string{"bench", "-device", "tpu"}, 2, "must be cpu, gpu, auto or all", ""},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		err := run(c.args, &out, &errb)
		if got := exitCode(err); got != c.code {
			t.Errorf("delgrad %s: exit code %d (%v), want %d", strings.Join(c.args, " "), got, err, c.code)
			continue
		}
		if c.msg != "" && (err == nil || !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("delgrad %s: error %v, want it to mention %q", strings.Join(c.args, " "), err, c.msg)
		}
		if !strings.Contains(out.String(), c.stdout) {
			t.Errorf("delgrad %s: stdout %q lacks %q", strings.Join(c.args, " "), out.String(), c.stdout)
		}
		// Only `delgrad` without a command writes to stderr (the command
		// list, before main's message).
		if c.args != nil && errb.Len() > 0 {
			t.Errorf("delgrad %s: wrote to stderr besides the error: %q", strings.Join(c.args, " "), errb.String())
		}
	}
	if _, err := os.Stat(filepath.Join(file, "run")); err == nil {
		t.Error("a refused -out was created")
	}
}

// TestHelpListsEveryCommand: `delgrad help` names each command with its
// summary, `delgrad` alone lists them on stderr, and `delgrad help CMD`
// prints what CMD -h prints.
func TestHelpListsEveryCommand(t *testing.T) {
	help := runOK(t, "help")
	var out, errb bytes.Buffer
	run(nil, &out, &errb)
	for _, c := range commands() {
		re := regexp.MustCompile(`(?m)^  ` + c.name + ` +` + regexp.QuoteMeta(c.summary) + `$`)
		if !re.MatchString(help) || !re.MatchString(errb.String()) {
			t.Errorf("help or the bare command does not list %s with its summary:\n%s", c.name, help)
		}
		var h1, h2, e bytes.Buffer
		if err := run([]string{"help", c.name}, &h1, &e); err != nil {
			t.Errorf("help %s: %v", c.name, err)
		}
		run([]string{c.name, "-h"}, &h2, &e)
		if h1.String() != h2.String() || !strings.Contains(h1.String(), c.about) {
			t.Errorf("help %s differs from %s -h, or lacks the description:\n%s\n---\n%s", c.name, c.name, h1.String(), h2.String())
		}
	}
}

// TestCommonFlags: -seed, -quiet, -device, -workers and -force are of the
// same type in every command that has them (-quiet and -seed's meaning
// also read the same), and -seed's
// default shows once, meaningfully.
func TestCommonFlags(t *testing.T) {
	seen := map[string]string{} // flag -> its type and description
	from := map[string]string{}
	flagLine := regexp.MustCompile(`(?m)^  -(seed|quiet|device|workers|force)( \w+)?\n\s+(.*)$`)
	for _, c := range commands() {
		var out, errb bytes.Buffer
		run([]string{c.name, "-h"}, &out, &errb)
		for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
			name, typ, desc := m[1], m[2], m[3]
			if name == "seed" {
				if strings.Count(desc, "default") != 1 {
					t.Errorf("%s -seed: default shown %d times: %q", c.name, strings.Count(desc, "default"), desc)
				}
				if strings.Contains(desc, "-1") {
					t.Errorf("%s -seed shows a sentinel default: %q", c.name, desc)
				}
				desc = "" // what the seed seeds differs
			}
			if name == "device" || name == "workers" || name == "force" {
				desc = "" // the choices, the workers' job and what is overwritten differ
			}
			key := typ + " " + desc
			if prev, ok := seen[name]; ok && prev != key {
				t.Errorf("-%s differs between %s (%q) and %s (%q)", name, from[name], prev, c.name, key)
			}
			seen[name], from[name] = key, c.name
		}
	}
	for _, n := range []string{"seed", "quiet", "device", "workers", "force"} {
		if _, ok := seen[n]; !ok {
			t.Errorf("no command shows -%s", n)
		}
	}
}

// TestConfigsPrintsParsableTOML: every built-in config printed by
// `delgrad configs NAME` parses back to that config.
func TestConfigsPrintsParsableTOML(t *testing.T) {
	for _, n := range configs.Names() {
		c, err := trainer.Parse(strings.NewReader(runOK(t, "configs", n)))
		if err != nil || c.Name != n {
			t.Errorf("configs %s: parsed name %q, %v", n, c.Name, err)
		}
	}
}

// cancelOn is a writer that cancels a context once the text written to it
// contains a string.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	s      string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.s) {
		w.cancel()
	}
	return len(p), nil
}

// TestInterrupt: a canceled context (what SIGINT or SIGTERM does in main)
// stops train after the epoch under way with its checkpoint, and names
// the resume command, which then finishes the run; robustness and bench
// stop and write nothing. All exit with code 130.
func TestInterrupt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run dir")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOn{s: "epoch    1/3", cancel: cancel}
	var errb bytes.Buffer
	err := runContext(ctx, []string{"train", "-epochs", "3", "-out", dir, "-workers", "2"}, out, &errb)
	if exitCode(err) != 130 {
		t.Fatalf("interrupted train: %v (exit code %d), want exit code 130", err, exitCode(err))
	}
	want := "interrupted after epoch 1, saved in " + dir + "; continue with: delgrad resume -run '" + dir + "'"
	if err.Error() != want {
		t.Fatalf("interrupted train: %q\nwant %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, trainer.CheckpointFile)); err != nil {
		t.Fatalf("no checkpoint after the interrupt: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, trainer.SummaryFile)); err == nil {
		t.Fatal("an interrupted run wrote its summary")
	}
	if res := runOK(t, "resume", "-run", dir, "-quiet"); !strings.Contains(res, "after 3 epochs") {
		t.Fatalf("resume after the interrupt: %s", res)
	}
	metrics, _ := os.ReadFile(filepath.Join(dir, trainer.MetricsFile))
	if n := strings.Count(string(metrics), "\n"); n != 4 {
		t.Fatalf("metrics.csv has %d lines after the resume, want a header and 3 rows", n)
	}

	done, stop := context.WithCancel(context.Background())
	stop()
	fresh := filepath.Join(t.TempDir(), "fresh")
	err = runContext(done, []string{"train", "-epochs", "2", "-out", fresh, "-quiet"}, io.Discard, io.Discard)
	if exitCode(err) != 130 || !strings.Contains(err.Error(), "before the first epoch") {
		t.Fatalf("train interrupted at once: %v", err)
	}
	for _, args := range [][]string{
		{"robustness", "-run", dir, "-chips", "50", "-quiet"},
		{"bench", "-cases", "yinyang-4-30-3-none-tau2", "-batches", "1", "-modes", "forward", "-repeats", "1",
			"-min-time", "1ms", "-out", filepath.Join(t.TempDir(), "bench"), "-quiet"},
	} {
		err := runContext(done, args, io.Discard, io.Discard)
		if exitCode(err) != 130 || !strings.Contains(err.Error(), "nothing written") {
			t.Errorf("delgrad %s interrupted: %v (exit code %d), want 130 and nothing written", args[0], err, exitCode(err))
		}
	}
	for _, p := range []string{filepath.Join(dir, "robustness")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("an interrupted command wrote %s", p)
		}
	}
}

// TestSIGINT sends SIGINT to a delgrad process in training: it finishes
// the epoch, checkpoints it, prints the resume command and exits with 130.
func TestSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "delgrad")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := filepath.Join(tmp, "run")
	cmd := exec.Command(bin, "train", "-epochs", "1000", "-workers", "1", "-out", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "epoch    1/1000") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	timer := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("after SIGINT: %v, want exit code 130\nstderr: %s", err, stderr.String())
	}
	m := regexp.MustCompile(`delgrad: interrupted after epoch (\d+), saved in \S+; continue with: delgrad resume -run \S+\n$`).FindStringSubmatch(stderr.String())
	if m == nil || !strings.Contains(stderr.String(), "interrupt: finishing epoch") {
		t.Fatalf("stderr after SIGINT:\n%s", stderr.String())
	}
	re, err := trainer.OpenRun(dir, batch.NewCPU(1))
	if err == nil && re.Trainer.Epoch < 1 {
		err = errors.New("no epoch in the checkpoint")
	}
	if err != nil {
		t.Fatalf("reopening the interrupted run: %v", err)
	}
	if got := m[1]; got != strconv.Itoa(re.Trainer.Epoch) {
		t.Fatalf("message names epoch %s, the checkpoint holds %d", got, re.Trainer.Epoch)
	}

	// A second SIGINT quits at once, also when delgrad started with SIGINT
	// ignored (as a non-interactive shell starts background jobs): a
	// 16x16 MNIST epoch takes seconds, the two signals come 0.3 s apart.
	dir2 := filepath.Join(tmp, "run2")
	cmd = exec.Command("sh", "-c", `trap "" INT; exec "$0" train -config 16x16_mnist -workers 1 -out "$1"`, bin, dir2)
	if stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc = bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "training 16x16_mnist") {
		t.Fatalf("first line %q; stderr %s", sc.Text(), stderr.String())
	}
	// The first epoch starts right after that line; a second later it is
	// surely under way (an interrupt before it ends the run at once).
	time.Sleep(time.Second)
	for range 2 {
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	rest, _ := io.ReadAll(stdout)
	err = cmd.Wait()
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "second interrupt: quitting now") {
		t.Fatalf("after two SIGINTs: %v, want exit code 130 and the second interrupt named\nstderr: %s", err, stderr.String())
	}
	if strings.Contains(string(rest), "epoch ") {
		t.Fatalf("the epoch ran to its end before the second SIGINT took effect:\n%s", rest)
	}
}
