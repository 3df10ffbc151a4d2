// Command delgrad trains and evaluates spiking neural networks with exact
// DelGrad gradients for weights and transmission delays.
//
// Usage:
//
//	delgrad eval [-net DIR] [-data DIR] [-split test] [-workers N] [-eps]
//
// eval evaluates a network saved in the reference code's layout (network.json
// and .npy files) on a Yin-Yang split (SPLIT_samples.npy with values in
// [0, 1], encoded as t = 0.15 + 1.85 v, and SPLIT_labels.npy). Without flags
// it evaluates the built-in pretrained Yin-Yang H30_WA network of the DelGrad
// paper on the published test split.
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
	"time"

	"codeberg.org/sbinet/npyio"
	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

//go:embed builtin
var builtin embed.FS

// usageError marks errors in the command line or its inputs (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
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
	if len(args) == 0 {
		return usageError{errors.New("missing command; commands: eval (try: delgrad eval)")}
	}
	switch args[0] {
	case "eval":
		return evalCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, "usage: delgrad eval [-net DIR] [-data DIR] [-split NAME] [-workers N] [-eps]")
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q; commands: eval", args[0])}
}

func evalCmd(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("eval", flag.ContinueOnError)
	fl.SetOutput(stderr)
	netDir := fl.String("net", "", "network directory in the reference layout (default: built-in Yin-Yang H30_WA)")
	dataDir := fl.String("data", "", "directory with SPLIT_samples.npy and SPLIT_labels.npy (default: built-in Yin-Yang test split)")
	split := fl.String("split", "test", "split name: the file prefix in -data")
	workers := fl.Int("workers", 0, "CPU workers (0: one per core)")
	eps := fl.Bool("eps", false, "add the reference's eps = 1e-6 to the closed forms")
	if err := fl.Parse(args); err != nil {
		return usageError{err}
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("eval: unexpected arguments %v", fl.Args())}
	}
	var (
		ref *batch.Reference
		err error
	)
	netName := *netDir
	if *netDir == "" {
		netName = "built-in yin_yang_H30_WA"
		ref, err = batch.LoadReferenceFS(builtin, "builtin/yin_yang_H30_WA")
	} else {
		ref, err = batch.LoadReference(*netDir)
	}
	if err != nil {
		return usageError{fmt.Errorf("eval: %w", err)}
	}
	var data fs.FS = os.DirFS(*dataDir)
	dataDirName := "."
	if *dataDir == "" {
		data, dataDirName = builtin, "builtin/yinyang"
	}
	times, labels, err := loadYinYang(data, dataDirName, *split, ref.Net.Inputs, ref.Net.Outputs())
	if err != nil {
		return usageError{fmt.Errorf("eval: data: %w", err)}
	}
	if *eps {
		for i := range ref.Net.Layers {
			ref.Net.Layers[i].Neuron.Eps = 1e-6
		}
	}
	e := batch.NewCPU(*workers)
	var tr batch.Trace
	start := time.Now()
	if err := e.Forward(ref.Net, times, &tr); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	el := time.Since(start)
	correct := 0
	for i, p := range batch.Predict(tr.Output()) {
		if p == labels[i] {
			correct++
		}
	}
	n := len(labels)
	fmt.Fprintf(stdout, "network %s on %s split (%d samples): accuracy %.2f%% (%d correct)",
		netName, *split, n, 100*float64(correct)/float64(n), correct)
	if ref.ExpectedAccuracy > 0 {
		fmt.Fprintf(stdout, "; the reference reports %.2f%%", 100*ref.ExpectedAccuracy)
	}
	fmt.Fprintf(stdout, "\nforward pass: %v on %d CPU workers, %.0f samples/s\n", el.Round(time.Microsecond), e.Workers(), float64(n)/el.Seconds())
	return nil
}

// loadYinYang reads SPLIT_samples.npy (values in [0, 1]) and
// SPLIT_labels.npy and encodes the samples as spike times.
func loadYinYang(fsys fs.FS, dir, split string, inputs, classes int) (*tensor.Dense, []int, error) {
	x, err := batch.ReadNpy(fsys, path.Join(dir, split+"_samples.npy"))
	if err != nil {
		return nil, nil, err
	}
	f, err := fsys.Open(path.Join(dir, split+"_labels.npy"))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var lab []int64
	if err := npyio.Read(f, &lab); err != nil {
		return nil, nil, fmt.Errorf("%s_labels.npy: %w", split, err)
	}
	s := x.Shape()
	if len(s) != 2 || s[1] != inputs {
		return nil, nil, fmt.Errorf("%s_samples.npy has shape %v, the network wants (n, %d)", split, s, inputs)
	}
	if len(lab) != s[0] {
		return nil, nil, fmt.Errorf("%d labels for %d samples", len(lab), s[0])
	}
	labels := make([]int, len(lab))
	for i, l := range lab {
		if l < 0 || int(l) >= classes {
			return nil, nil, fmt.Errorf("label %d of sample %d is outside 0..%d", l, i, classes-1)
		}
		labels[i] = int(l)
	}
	v := x.Float64s()
	t := make([]float64, len(v))
	for i, vi := range v {
		if vi != vi || vi < 0 || vi > 1 {
			return nil, nil, fmt.Errorf("sample %d, feature %d is %g: want a value in [0, 1]", i/inputs, i%inputs, vi)
		}
		t[i] = 0.15 + vi*(2.0-0.15)
	}
	times, err := batch.TimesFrom(s[0], inputs, t)
	return times, labels, err
}
