package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/trainer"
	"github.com/delgrad-go/delgrad/trainer/dataset"
)

func evalCmd(args []string, stdout, stderr io.Writer) error {
	fl := newFlags("eval", stdout)
	runDir := fl.String("run", "", "run directory (its last checkpoint, on its own dataset)")
	netDir := fl.String("net", "", "network directory in the reference layout (default: built-in Yin-Yang H30_WA)")
	split := fl.String("split", "test", "split: train, validation or test")
	dsName := fl.String("dataset", "", "dataset for -net: yin_yang, mnist16 or mnist (default: the one network.json records, else yin_yang)")
	dataDir := fl.String("data", "", "for -net: directory with SPLIT_samples.npy (Yin-Yang features in [0, 1]) and SPLIT_labels.npy")
	samples := fl.String("samples", "", "for -net: .npy of input spike times (N x inputs, +Inf = no spike)")
	labels := fl.String("labels", "", "for -net: .npy of labels (with -samples)")
	workers := workersFlag(fl, "CPU workers")
	eps := fl.Bool("eps", false, "add the reference's eps = 1e-6 to the closed forms")
	if err := fl.parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("eval: unexpected arguments %v", fl.Args())}
	}
	if *runDir != "" && *netDir != "" {
		return usageError{errors.New("eval: give -run or -net, not both")}
	}
	given := setFlags(fl.FlagSet)
	if *runDir == "" && (given["samples"] || given["labels"]) {
		if err := refuseWith("eval", given, "samples/-labels", []string{"data", "dataset"}, "give the data one way: -samples FILE -labels FILE, -data DIR or -dataset NAME"); err != nil {
			return err
		}
	} else if *runDir == "" && given["data"] {
		if err := refuseWith("eval", given, "data", []string{"dataset"}, "give the data one way: -data DIR or -dataset NAME"); err != nil {
			return err
		}
	}
	if err := notPopulation("eval", *runDir); err != nil {
		return err
	}
	if *runDir != "" {
		// A run is evaluated on its own data and engine settings: flags
		// that choose other data or change the network would be ignored.
		if err := refuseWith("eval", setFlags(fl.FlagSet), "run", []string{"samples", "labels", "data", "dataset", "eps"},
			"a run is evaluated on its own dataset (choose the split with -split) with its own training.eps; "+
				"to evaluate its network on other data, export it (delgrad export -run DIR -out NET) and use eval -net NET"); err != nil {
			return err
		}
	}
	eng, _, err := newEngine("cpu", *workers)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	var (
		net  *batch.Network
		set  *dataset.Set
		name string
		exp  float64
	)
	if *runDir != "" {
		r, err := trainer.OpenRun(*runDir, eng)
		if err != nil {
			return classify(fmt.Errorf("eval: %w", err))
		}
		t := r.Trainer
		if set, err = splitOf(t, *split); err != nil {
			return usageError{fmt.Errorf("eval: %w", err)}
		}
		t.UseFinal() // the averaged parameters, where the config averages them
		net, name = t.Model.Net, fmt.Sprintf("%s (epoch %d)", *runDir, t.Epoch)
		if t.Cfg.BSS2 != nil {
			name += ", trained on simulated chips, here on the ideal engine (delgrad robustness runs it on chips)"
		}
	} else {
		var ref *batch.Reference
		name = *netDir
		if *netDir == "" {
			name = "built-in yin_yang_H30_WA"
			ref, err = batch.LoadReferenceFS(builtin, "builtin/yin_yang_H30_WA")
		} else {
			ref, err = batch.LoadReference(*netDir)
		}
		if err != nil {
			return usageError{fmt.Errorf("eval: %w", err)}
		}
		net, exp = ref.Net, ref.ExpectedAccuracy
		dsGiven := setFlags(fl.FlagSet)["dataset"]
		dataGiven := *samples != "" || *labels != "" || *dataDir != ""
		mnistDir := ""
		if rec := ref.Dataset; rec != nil && !dataGiven {
			switch {
			case dsGiven && *dsName != rec.Name:
				fmt.Fprintf(stderr, "eval: note: %s was trained on %s, evaluated here on -dataset %s\n", name, rec.Name, *dsName)
			case rec.Name == "npy":
				return usageError{fmt.Errorf("eval: %s", userDataHint(name, rec, *split))}
			default:
				*dsName, mnistDir = rec.Name, rec.Dir
			}
		}
		switch {
		case *samples != "" || *labels != "":
			if *samples == "" || *labels == "" {
				return usageError{errors.New("eval: -samples and -labels go together")}
			}
			set, err = dataset.LoadNpy(*samples, *labels)
		case *dataDir != "":
			var times []float64
			var lab []int
			times, lab, err = loadYinYang(os.DirFS(*dataDir), ".", *split, net.Inputs, net.Outputs())
			if err == nil {
				set = &dataset.Set{Name: *split, Times: times, Labels: lab, N: len(lab), F: net.Inputs, Classes: net.Outputs()}
			}
		default:
			if *dsName == "" {
				*dsName = "yin_yang"
			}
			set, err = trainer.LoadSplit(*dsName, mnistDir, *split)
		}
		if rec := ref.Dataset; err == nil && rec != nil && *dataDir != "" && rec.Name != "yin_yang" {
			fmt.Fprintf(stderr, "eval: note: %s was trained on %s, evaluated here on the Yin-Yang files of -data %s\n", name, rec.Name, *dataDir)
		}
		if err != nil {
			return usageError{fmt.Errorf("eval: data: %w", err)}
		}
	}
	if set.F != net.Inputs {
		return usageError{fmt.Errorf("eval: the data has %d features, the network %d inputs", set.F, net.Inputs)}
	}
	if set.Classes > net.Outputs() {
		src := "the data"
		if *labels != "" {
			src = *labels
		}
		for i, y := range set.Labels {
			if y >= net.Outputs() {
				return usageError{fmt.Errorf("eval: %s: label %d at sample %d is outside 0..%d, the classes of the network's %d outputs", src, y, i, net.Outputs()-1, net.Outputs())}
			}
		}
		return usageError{fmt.Errorf("eval: the data has %d classes, the network %d outputs", set.Classes, net.Outputs())}
	}
	if *eps {
		for i := range net.Layers {
			net.Layers[i].Neuron.Eps = 1e-6
		}
	}
	x, err := batch.TimesFrom(set.N, set.F, set.Times)
	if err != nil {
		return usageError{fmt.Errorf("eval: %w", err)}
	}
	var tr batch.Trace
	start := time.Now()
	if err := eng.Forward(net, x, &tr); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	el := time.Since(start)
	nc := correct(batch.Predict(tr.Output()), set.Labels)
	n := set.N
	on := *split + " split"
	if *samples != "" {
		on = *samples
	}
	fmt.Fprintf(stdout, "network %s on %s (%d samples): accuracy %.2f%% (%d correct)",
		name, on, n, 100*float64(nc)/float64(n), nc)
	if exp > 0 {
		fmt.Fprintf(stdout, "; the reference reports %.2f%%", 100*exp)
	}
	fmt.Fprintf(stdout, "\nforward pass: %v, %.0f samples/s\n", el.Round(time.Microsecond), float64(n)/el.Seconds())
	return nil
}

// userDataHint tells that network net was trained on the user data rec and
// which flags evaluate it on split.
func userDataHint(net string, rec *batch.DatasetInfo, split string) string {
	msg := fmt.Sprintf("network %s was trained on user data (.npy files), not on the default -dataset yin_yang", net)
	var x, y string
	switch split {
	case "train":
		x, y = rec.TrainSamples, rec.TrainLabels
	case "validation":
		x, y = rec.ValidationSamples, rec.ValidationLabels
		if x == "" && rec.TrainSamples != "" {
			return msg + fmt.Sprintf("; its validation split was the last tenth of %s and %s: give the data with -samples FILE -labels FILE", rec.TrainSamples, rec.TrainLabels)
		}
	default:
		x, y = rec.TestSamples, rec.TestLabels
	}
	if x == "" || y == "" {
		return msg + ": give the data with -samples FILE -labels FILE"
	}
	return msg + fmt.Sprintf("; for its %s split give -samples %s -labels %s", split, x, y)
}

// splitOf returns a trainer's split by name.
func splitOf(t *trainer.Trainer, name string) (*dataset.Set, error) {
	switch name {
	case "train":
		return t.Data.Train, nil
	case "validation":
		return t.Data.Validation, nil
	case "test":
		return t.Data.Test, nil
	}
	return nil, fmt.Errorf("-split %q: must be train, validation or test", name)
}
