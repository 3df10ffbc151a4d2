// Command delgrad trains and evaluates spiking neural networks with exact
// DelGrad gradients for weights and transmission delays.
//
// Usage:
//
//	delgrad train  [-config NAME|FILE] [-seed N] [-epochs N] [-out DIR] [-init NETDIR] [-device cpu|gpu|auto] [-workers N] [-quiet] [-force]
//	delgrad resume -run DIR [-epochs N] [-device cpu|gpu|auto] [-workers N] [-quiet] [-force]
//	delgrad eval   [-run DIR | -net DIR] [-split NAME] [-dataset NAME | -data DIR | -samples F -labels F] [-workers N] [-eps]
//	delgrad export -run DIR -out DIR [-force]
//	delgrad robustness -run DIR [-compare DIR] [-chips N] [-seed N] [-split NAME] [-out DIR] [-workers N] [-quiet]
//	delgrad sweep  -file SWEEP.toml -out DIR [-backend local|slurm] [-devices LIST] [-workers N] [-retry-failed] [-force] [-quiet]
//	delgrad sweep  -out DIR [-task N] | -status DIR | -report DIR
//	delgrad bench  [-quick] [-device cpu|gpu|auto|all] [-cases RE] [-batches LIST] [-modes LIST] [-out DIR] [-reference CMD]
//	delgrad bench  -readme README.md DIR...
//	delgrad configs [NAME]
//	delgrad version
//	delgrad help [COMMAND]
//
// delgrad help lists the commands; delgrad help COMMAND, like delgrad
// COMMAND -h, describes a command and its flags. configs lists the
// built-in configs, and configs NAME prints one's TOML to copy and edit.
// version prints the module version, the Go version and whether the
// binary has CUDA support.
//
// train runs a configuration (a file, or one of the built-in configs listed
// by `delgrad configs`; default yin_yang_H30_WA, 300 epochs, under a minute
// on two cores) and writes a run directory: the resolved config.toml,
// metrics.csv, checkpoint.bin, summary.json, network/ and network_best/ (the
// final and, once an epoch has run, the best-validation network, in the
// reference's layout) and plots/. With -init the run starts from a network
// in the reference's layout (an export or a reference network) instead of
// random parameters: the configuration must match it (sizes, bias spikes,
// neuron parameters, delay kinds; no shared delays), its path is kept in
// init.txt and an epoch-0 checkpoint holds the loaded parameters.
//
// resume continues a run from its last checkpoint and ends bit-identical to
// an uninterrupted run. It refuses a run whose config.toml was edited since
// the checkpoint (naming the changed keys) and one that lost its checkpoint;
// -force applies the edits, or restarts the run at epoch 0. train -force
// replaces a run directory whole, and refuses one that also holds files no
// run writes. eval evaluates a run or a network in the reference's
// layout on a split; without flags it evaluates the built-in pretrained
// Yin-Yang H30_WA network of the DelGrad paper on the published test split.
// eval -net evaluates on the dataset the network.json records (exports do;
// the reference's files do not, and mean Yin-Yang); a network trained on
// user data needs -samples and -labels, which the error names.
// export writes a run's network in the reference's layout into a new or
// empty directory; -force replaces an earlier export whole.
//
// sweep trains a grid of config overrides times seeds from a sweep file
// (a base config, [grid] of dotted config keys to lists of values, seeds;
// see README.md, Sweeps): a run directory per grid point and seed,
// DIR/POINT/seedN, each point's seeds one population (a task), the tasks
// here on the slots of -devices at once (auto: every usable GPU, else the
// CPU; gpu:N, cpu, cpu=W, comma-separated) or, with -backend slurm, as a
// Slurm job array whose task N runs sweep -out DIR -task N on the GPU or
// CPU cores its resources give it. The same command continues an interrupted
// or partly failed sweep (failed runs are retried with -retry-failed);
// -status prints how every run stands and -report writes report.md,
// report.csv and plots/ with the accuracies' statistics over the seeds.
//
// robustness evaluates a run on many simulated BrainScaleS-2 chips (package
// bss2model; the chip model of the run's [bss2] section, else of the
// -compare run's, else the defaults) and writes robustness/chips.csv
// (accuracy per chip), summary.json (mean, standard deviation, 5th
// percentile, ...) and accuracy.png (the histogram); -compare evaluates a
// second run, for instance the same network trained with `train -ideal`, on
// the same chips. train -ideal drops a config's [bss2] section.
//
// bench times forward passes, forward+backward passes and training steps
// of every engine (one CPU core, all cores, the GPU in a cuda build) on the
// suite's networks over batch sizes from 1 to 65536 and writes
// report.md, results.csv, machine.json and plots/ (default
// bench/results/DATE-HOST); -quick is a one-minute smoke run. -reference
// CMD times the same cases through another implementation: CMD -case NAME
// -mode forward|fwdbwd|train -batch B must print "samples_per_second: X"
// (scripts/reference-bench.py does so for the PyTorch reference).
// bench -readme rewrites the README's performance section from report
// directories.
//
// An interrupt (SIGINT, Ctrl-C, or SIGTERM) stops train, resume and sweep
// after the epoch under way, which is checkpointed, and prints the resume
// command; robustness stops between chips and bench between measurements,
// both writing nothing. A second interrupt ends the process at once; the
// files on disk are whole either way (each is written atomically).
//
// Exit codes: 0 success, 1 failure while running, 2 bad command line or
// bad input (config, data, existing run directory, an output path that is
// a file), 130 interrupted.
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path"
	"runtime/debug"
	"syscall"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/npyfile"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

//go:embed builtin
var builtin embed.FS

// errHelp reports that -h printed a command's usage: nothing to do, exit 0.
var errHelp = errors.New("help printed")

// usageError marks errors in the command line or its inputs (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func main() {
	// A panic is a bug, never the answer to bad input: say so, and keep
	// exit code 2 (a panic's own) for bad input.
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "delgrad: internal error (a bug; please report it with the command line): %v\n%s", p, debug.Stack())
			os.Exit(1)
		}
	}()
	args := os.Args[1:]
	ctx := context.Background()
	if len(args) > 0 {
		if c, ok := lookup(args[0]); ok && c.stoppable {
			// The first SIGINT or SIGTERM cancels ctx, and the command
			// stops at a safe point; a second one ends the process at once
			// (also where the signals were ignored when delgrad started, as
			// a non-interactive shell does for background jobs: restoring
			// that disposition would ignore the second).
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			go func() {
				<-sigs
				cancel()
				<-sigs
				fmt.Fprintln(os.Stderr, "delgrad: second interrupt: quitting now; the last checkpoint stays intact")
				os.Exit(130)
			}()
		}
	}
	err := runContext(ctx, args, os.Stdout, os.Stderr)
	code := exitCode(err)
	if code != 0 {
		fmt.Fprintln(os.Stderr, "delgrad:", err)
	}
	os.Exit(code)
}

// run runs the command line args (without the program name).
func run(args []string, stdout, stderr io.Writer) error {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context that interrupts the stoppable commands
// (train, resume, robustness, bench) when it is done.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printCommands(stderr)
		return usageError{errors.New("missing command (see the list above; try: delgrad train)")}
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printCommands(stdout)
		return nil
	case "-version", "--version":
		return versionCmd(args[1:], stdout, stderr)
	}
	c, ok := lookup(args[0])
	if !ok {
		return usageError{fmt.Errorf("unknown command %q; commands: %s (delgrad help describes them)", args[0], commandNames())}
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

// loadYinYang reads SPLIT_samples.npy (values in [0, 1]) and
// SPLIT_labels.npy (any integer dtype) and encodes the samples as spike
// times. Errors name the file and the problem.
func loadYinYang(fsys fs.FS, dir, split string, inputs, classes int) ([]float64, []int, error) {
	x, err := batch.ReadNpy(fsys, path.Join(dir, split+"_samples.npy"))
	if err != nil {
		return nil, nil, err
	}
	lab, err := readLabels(fsys, path.Join(dir, split+"_labels.npy"))
	if err != nil {
		return nil, nil, err
	}
	s := x.Shape()
	if len(s) != 2 || s[1] != inputs {
		return nil, nil, fmt.Errorf("%s_samples.npy has shape %v, the network wants (n, %d)", split, s, inputs)
	}
	if len(lab) != s[0] {
		return nil, nil, fmt.Errorf("%s_labels.npy has %d labels for the %d samples of %s_samples.npy", split, len(lab), s[0], split)
	}
	labels := make([]int, len(lab))
	for i, l := range lab {
		if l < 0 || int(l) >= classes {
			return nil, nil, fmt.Errorf("%s_labels.npy: label %d of sample %d is outside 0..%d (the network has %d outputs)", split, l, i, classes-1, classes)
		}
		labels[i] = int(l)
	}
	v := x.Float64s()
	for i, vi := range v {
		if vi != vi || vi < 0 || vi > 1 {
			return nil, nil, fmt.Errorf("%s_samples.npy: sample %d, feature %d is %g: want a value in [0, 1]", split, i/inputs, i%inputs, vi)
		}
	}
	return dataset.EncodeYinYang(v), labels, nil
}

// readLabels reads a 1-D .npy file of integer labels.
func readLabels(fsys fs.FS, name string) ([]int64, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	a, err := npyfile.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(a.Shape) != 1 {
		return nil, fmt.Errorf("%s: labels must be 1-D, have shape %v", name, a.Shape)
	}
	lab, err := a.Int64s()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return lab, nil
}
