// Command delgrad trains and evaluates spiking neural networks with exact
// DelGrad gradients for weights and transmission delays.
//
// Usage:
//
//	delgrad train  [-config NAME|FILE] [-seed N] [-epochs N] [-out DIR] [-init NETDIR] [-device cpu|gpu|auto] [-workers N] [-quiet] [-force]
//	delgrad resume -run DIR [-epochs N] [-device cpu|gpu|auto] [-workers N] [-quiet]
//	delgrad eval   [-run DIR | -net DIR] [-split NAME] [-dataset NAME | -data DIR | -samples F -labels F] [-workers N] [-eps]
//	delgrad export -run DIR -out DIR
//	delgrad robustness -run DIR [-compare DIR] [-chips N] [-seed N] [-split NAME] [-out DIR] [-workers N] [-quiet]
//	delgrad bench  [-quick] [-device cpu|gpu|all] [-cases RE] [-batches LIST] [-modes LIST] [-out DIR] [-reference CMD]
//	delgrad bench  -readme README.md DIR...
//	delgrad configs
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
// an uninterrupted run. eval evaluates a run or a network in the reference's
// layout on a split; without flags it evaluates the built-in pretrained
// Yin-Yang H30_WA network of the DelGrad paper on the published test split.
// eval -net evaluates on the dataset the network.json records (exports do;
// the reference's files do not, and mean Yin-Yang); a network trained on
// user data needs -samples and -labels, which the error names.
// export writes a run's network in the reference's layout.
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
// Exit codes: 0 success, 1 failure while running, 2 bad command line or
// bad input (config, data, existing run directory).
package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/npyfile"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

//go:embed builtin
var builtin embed.FS

// errHelp reports that -h printed a command's usage: nothing to do, exit 0.
var errHelp = errors.New("help printed")

// flagError turns a flag parsing error into a usage error, and -h into
// errHelp.
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return usageError{err}
}

// usageError marks errors in the command line or its inputs (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil || errors.Is(err, errHelp) {
		return
	}
	fmt.Fprintln(os.Stderr, "delgrad:", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}

func run(args []string, stdout, stderr io.Writer) error {
	const cmds = "train, resume, eval, export, robustness, bench, configs"
	if len(args) == 0 {
		return usageError{fmt.Errorf("missing command; commands: %s (try: delgrad train)", cmds)}
	}
	switch args[0] {
	case "train":
		return trainCmd(args[1:], stdout, stderr)
	case "resume":
		return resumeCmd(args[1:], stdout, stderr)
	case "eval":
		return evalCmd(args[1:], stdout, stderr)
	case "export":
		return exportCmd(args[1:], stdout, stderr)
	case "robustness":
		return robustnessCmd(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(args[1:], stdout, stderr)
	case "configs":
		return configsCmd(stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(stdout, "usage: delgrad COMMAND [flags]; commands: %s; delgrad COMMAND -h lists a command's flags\n", cmds)
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q; commands: %s", args[0], cmds)}
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
