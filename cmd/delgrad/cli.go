package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/delgrad-go/delgrad/configs"
)

// command is one delgrad command.
type command struct {
	name string
	// summary is the command's line in `delgrad help`.
	summary string
	// synopsis lists the command's main flags, after "delgrad NAME".
	synopsis string
	// about describes the command in `delgrad help NAME` and NAME -h.
	about string
	// stoppable says that run honours ctx: on SIGINT or SIGTERM main
	// cancels ctx and the command stops at a safe point; the other
	// commands end at once on a signal (the default action).
	stoppable bool
	run       func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists delgrad's commands in the order `delgrad help` shows them.
func commands() []command {
	noCtx := func(f func(args []string, stdout, stderr io.Writer) error) func(context.Context, []string, io.Writer, io.Writer) error {
		return func(_ context.Context, args []string, stdout, stderr io.Writer) error { return f(args, stdout, stderr) }
	}
	return []command{
		{name: "train", summary: "train a network from a config and write a run directory",
			synopsis: "[-config NAME|FILE] [-seed N | -seeds LIST] [-epochs N] [-out DIR] [-init NETDIR] [-ideal] [-device cpu|gpu|auto] [-workers N] [-quiet] [-force]",
			about: `Trains a configuration (a file, or a built-in config: delgrad configs) and
writes a run directory: config.toml, metrics.csv, checkpoint.bin,
summary.json, network/, network_best/ and plots/. -seeds 1-40 trains those
seeds as one population, a run directory -out/seedN each, each the same as
train -seed N writes. An interrupt (Ctrl-C)
finishes the epoch under way, saves a checkpoint and names the resume
command; a second interrupt quits at once, keeping the last checkpoint.`,
			stoppable: true, run: trainCmd},
		{name: "resume", summary: "continue a run from its last checkpoint (bit-identical to an uninterrupted run)",
			synopsis: "-run DIR [-epochs N] [-device cpu|gpu|auto] [-workers N] [-quiet] [-force]",
			about: `Continues a run from its last checkpoint; it ends bit-identical to an
uninterrupted run. -epochs extends the run (and records the new length).
On a population's directory (train -seeds) it continues every member not
finished, as one population. An interrupt behaves as in train.`,
			stoppable: true, run: resumeCmd},
		{name: "sweep", summary: "train a grid of configs times seeds, resumably, and aggregate the results",
			synopsis: "-file SWEEP.toml -out DIR [-backend local|slurm] [-devices LIST] [-workers N] [-retry-failed] [-force] [-quiet] | -out DIR [-task N] | -status DIR | -report DIR",
			about: `Expands a sweep file (a base config, a [grid] of config keys to lists of
values, the seeds; see README.md, Sweeps) into a run directory per grid
point and seed, DIR/POINT/seedN, and trains each point's seeds as one
population (a task; at most 64 runs each), here (-backend local), or
submits the tasks as a Slurm job array (-backend slurm), whose task N runs
delgrad sweep -out DIR -task N. The same command continues an interrupted
or partly failed sweep: finished runs are kept, unfinished ones resume
from their checkpoints, failed ones are listed and retried with
-retry-failed. -status prints how every task and run stands; -report
writes DIR/report.md, report.csv and plots/. An interrupt finishes the
epochs under way, checkpoints the runs and names the command that
continues.

-devices says where the local backend runs: a slot per entry, each taking
the next task when idle, one at a time, all slots at once (idle GPUs
first). Entries, comma-separated: auto (the default: every usable GPU, else
the CPU; alone), gpu (every usable GPU), gpu:N (the GPU of ordinal N, as
CUDA_VISIBLE_DEVICES numbers them), cpu (one slot of all cores, or
-workers N) and cpu=W (a slot of W workers; repeatable, not with cpu).
E.g. -devices gpu:0,gpu:1, -devices cpu,gpu, -devices cpu=1,cpu=1. The
runs are the same bits on any slot; each run's summary.json names the
engine and device that finished it. -device is another name for it.`,
			stoppable: true, run: sweepCmd},
		{name: "eval", summary: "evaluate a run or a network (reference layout) on a split",
			synopsis: "[-run DIR | -net DIR] [-split NAME] [-dataset NAME | -data DIR | -samples F -labels F] [-workers N] [-eps]",
			about: `Evaluates a run's last checkpoint, or a network in the reference's layout,
on a split. Without flags it evaluates the built-in pretrained Yin-Yang
H30_WA network of the DelGrad paper on the published test split.`,
			run: noCtx(evalCmd)},
		{name: "export", summary: "write a run's network in the reference's layout",
			synopsis: "-run DIR -out DIR [-force]",
			about:    `Writes a run's network (its last checkpoint) in the reference's layout.`,
			run:      noCtx(exportCmd)},
		{name: "robustness", summary: "evaluate a run on many simulated BrainScaleS-2 chips",
			synopsis: "-run DIR [-compare DIR] [-chips N] [-seed N] [-split NAME] [-out DIR] [-workers N] [-quiet]",
			about: `Evaluates a run (and -compare a second one) on many simulated
BrainScaleS-2 chips and writes chips.csv, summary.json and accuracy.png
(default RUN/robustness). An interrupt stops between chips and writes
nothing.`,
			stoppable: true, run: robustnessCmd},
		{name: "bench", summary: "time the engines on the benchmark suite and write a report",
			synopsis: "[-quick] [-device cpu|gpu|auto|all] [-cases RE] [-batches LIST] [-modes LIST] [-out DIR] [-reference CMD] | -readme README.md DIR...",
			about: `Times forward passes, forward+backward passes and training steps of the
engines over batch sizes and writes report.md, results.csv, machine.json
and plots/ (default bench/results/DATE-HOST). -readme rewrites a README's
performance section from report directories. An interrupt stops between
measurements and writes nothing.`,
			stoppable: true, run: benchCmd},
		{name: "configs", summary: "list the built-in configs, or print one's TOML to copy and edit",
			synopsis: "[NAME]",
			about: `Without NAME, lists the built-in configs; with NAME, prints its TOML
(delgrad configs yin_yang_H30_WA > my.toml; delgrad train -config my.toml).`,
			run: noCtx(configsCmd)},
		{name: "version", summary: "print the version, the Go version and whether the build has CUDA",
			about: `Prints the module version and commit, the Go version and platform, and
whether the binary was built with CUDA support (build tag cuda).`,
			run: noCtx(versionCmd)},
		{name: "help", summary: "list the commands, or describe one: delgrad help COMMAND",
			synopsis: "[COMMAND]",
			about:    `Lists the commands, or prints a command's description and flags (as delgrad COMMAND -h does).`,
			run:      noCtx(helpCmd)},
	}
}

// lookup returns the command called name.
func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// commandNames lists the commands' names, comma-separated.
func commandNames() string {
	var n []string
	for _, c := range commands() {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}

// printCommands writes the overview that `delgrad help` prints.
func printCommands(w io.Writer) {
	fmt.Fprintln(w, "delgrad trains and evaluates spiking neural networks with exact DelGrad gradients")
	fmt.Fprintln(w, "for weights and transmission delays.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: delgrad COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "delgrad help COMMAND (or delgrad COMMAND -h) describes a command and its flags.")
	fmt.Fprintln(w, "exit codes: 0 success, 1 failure while running, 2 bad command line or input, 130 interrupted.")
}

func helpCmd(args []string, stdout, stderr io.Writer) error {
	fl := newFlags("help", stdout)
	if err := fl.parse(args); err != nil {
		return err
	}
	switch fl.NArg() {
	case 0:
		printCommands(stdout)
		return nil
	case 1:
		c, ok := lookup(fl.Arg(0))
		if !ok {
			return usageError{fmt.Errorf("help: unknown command %q; commands: %s", fl.Arg(0), commandNames())}
		}
		if err := c.run(context.Background(), []string{"-h"}, stdout, stderr); !errors.Is(err, errHelp) {
			return fmt.Errorf("help %s: %v, want its usage", c.name, err)
		}
		return nil
	}
	return usageError{fmt.Errorf("help: give one command, not %v", fl.Args())}
}

// cmdFlags is a command's flag set. It prints nothing while parsing: parse
// returns one error for a bad flag, and prints the usage to stdout for -h.
type cmdFlags struct {
	*flag.FlagSet
	stdout io.Writer
}

// newFlags returns the flag set of the command called name; its usage
// (for -h) goes to stdout.
func newFlags(name string, stdout io.Writer) *cmdFlags {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	fl.Usage = func() {}
	return &cmdFlags{FlagSet: fl, stdout: stdout}
}

// parse parses args. -h prints the usage and returns errHelp; a bad flag
// returns a usage error naming the flag and pointing at -h.
func (f *cmdFlags) parse(args []string) error {
	err := f.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.printUsage()
		return errHelp
	}
	if err != nil {
		return usageError{fmt.Errorf("%s: %w (delgrad %s -h lists the flags)", f.Name(), err, f.Name())}
	}
	return nil
}

// printUsage writes the command's summary, synopsis, description and flags.
func (f *cmdFlags) printUsage() {
	w := f.stdout
	c, _ := lookup(f.Name())
	fmt.Fprintf(w, "delgrad %s: %s\n\nusage: delgrad %s %s\n", c.name, c.summary, c.name, c.synopsis)
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nflags:")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}

// seedValue is a -seed flag: an integer >= 0, or unset.
type seedValue struct {
	v   uint64
	set bool
}

func (s *seedValue) String() string {
	if s == nil || !s.set {
		return ""
	}
	return strconv.FormatUint(s.v, 10)
}

func (s *seedValue) Set(v string) error {
	u, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return errors.New("want an integer >= 0")
	}
	s.v, s.set = u, true
	return nil
}

// seedFlag declares -seed: unset by default (usage then says what the
// default is), or set to def when def is not nil (-h shows it).
func seedFlag(fl *cmdFlags, def *uint64, usage string) *seedValue {
	s := &seedValue{}
	if def != nil {
		s.v, s.set = *def, true
	}
	fl.Var(s, "seed", usage)
	return s
}

// quietFlag declares -quiet, the same in every command.
func quietFlag(fl *cmdFlags) *bool {
	return fl.Bool("quiet", false, "print only the result: no progress bar, no progress lines")
}

// workersFlag declares -workers, the same in every command: what says what
// the workers do.
func workersFlag(fl *cmdFlags, what string) *int {
	return fl.Int("workers", 0, what+" (0: one per core)")
}

// deviceFlag declares -device with default cpu; choices lists the values
// the command accepts.
func deviceFlag(fl *cmdFlags, choices string) *string {
	return fl.String("device", "cpu", "engine: "+choices+" (auto: the GPU if one can run here, else the CPU)")
}

// checkOutDir returns a usage error when dir, the value of flag name (an
// output directory), is an existing file or lies under one.
func checkOutDir(name, dir string) error {
	for d := filepath.Clean(dir); ; {
		if st, err := os.Stat(d); err == nil {
			if !st.IsDir() {
				if d == filepath.Clean(dir) {
					return usageError{fmt.Errorf("%s %s: is a file, not a directory", name, dir)}
				}
				return usageError{fmt.Errorf("%s %s: %s is a file, not a directory", name, dir, d)}
			}
			return nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return nil
		}
		d = parent
	}
}

// errInterrupted marks a command stopped by a signal (exit code 130).
var errInterrupted = errors.New("interrupted")

// exitCode is the process's exit status for run's error.
func exitCode(err error) int {
	var ue usageError
	switch {
	case err == nil || errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errInterrupted):
		return 130
	case errors.As(err, &ue):
		return 2
	}
	return 1
}

// shellQuote quotes s for a POSIX shell where it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=+,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func configsCmd(args []string, stdout, stderr io.Writer) error {
	fl := newFlags("configs", stdout)
	if err := fl.parse(args); err != nil {
		return err
	}
	switch fl.NArg() {
	case 0:
		for _, n := range configs.Names() {
			fmt.Fprintln(stdout, n)
		}
		return nil
	case 1:
		name := fl.Arg(0)
		f, err := configs.Open(name)
		if err != nil {
			return usageError{fmt.Errorf("configs: no built-in config %q; built-in: %s", name, strings.Join(configs.Names(), ", "))}
		}
		defer f.Close()
		if _, err := io.Copy(stdout, f); err != nil {
			return fmt.Errorf("configs %s: %w", name, err)
		}
		return nil
	}
	return usageError{fmt.Errorf("configs: give at most one name, not %v", fl.Args())}
}

func versionCmd(args []string, stdout, stderr io.Writer) error {
	fl := newFlags("version", stdout)
	if err := fl.parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("version: unexpected arguments %v", fl.Args())}
	}
	version, module := "(devel)", "github.com/delgrad-go/delgrad"
	var vcs []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		if bi.Main.Path != "" {
			module = bi.Main.Path
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				vcs = append([]string{"commit " + s.Value}, vcs...)
			case s.Key == "vcs.time":
				vcs = append(vcs, s.Value)
			case s.Key == "vcs.modified" && s.Value == "true":
				vcs = append(vcs, "modified")
			}
		}
	}
	fmt.Fprintf(stdout, "delgrad %s (module %s)\n", version, module)
	if len(vcs) > 0 {
		fmt.Fprintln(stdout, strings.Join(vcs, ", "))
	}
	fmt.Fprintf(stdout, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if !cudaBuild {
		fmt.Fprintln(stdout, "CUDA: no (built without the cuda tag: -device gpu is unavailable; see README.md, GPU)")
		return nil
	}
	if err := gpuAvailable(); err != nil {
		fmt.Fprintf(stdout, "CUDA: yes (build tag cuda); no GPU usable here: %v\n", err)
		return nil
	}
	fmt.Fprintln(stdout, "CUDA: yes (build tag cuda); a GPU is usable here")
	return nil
}
