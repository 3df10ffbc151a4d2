package trainer

import (
	"fmt"
	"path/filepath"

	"github.com/delgrad-go/delgrad/trainer/dataset"
)

// LoadData loads the three splits that c.Data names. Relative .npy paths
// are taken relative to baseDir (the configuration file's directory).
func LoadData(c *Config, baseDir string) (Data, error) {
	var (
		d   Data
		err error
	)
	switch c.Data.Name {
	case "yin_yang", "mnist", "mnist16":
		dir := c.Data.Dir
		if dir == "" && c.Data.Name != "yin_yang" {
			// Resolve the MNIST directory once, not per split.
			if dir, err = dataset.MNISTDir(); err != nil {
				return d, err
			}
		}
		for _, s := range []struct {
			name string
			dst  **dataset.Set
		}{{"train", &d.Train}, {"validation", &d.Validation}, {"test", &d.Test}} {
			if *s.dst, err = LoadSplit(c.Data.Name, dir, s.name); err != nil {
				return d, err
			}
		}
		return d, nil
	case "npy":
		abs := func(p string) string {
			if filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(baseDir, p)
		}
		load := func(samples, labels string) (*dataset.Set, error) {
			s, err := dataset.LoadNpy(abs(samples), abs(labels))
			if err != nil {
				return nil, err
			}
			return s, checkLabels(c, s, abs(labels))
		}
		if d.Train, err = load(c.Data.TrainSamples, c.Data.TrainLabels); err != nil {
			return d, err
		}
		if d.Test, err = load(c.Data.TestSamples, c.Data.TestLabels); err != nil {
			return d, err
		}
		if c.Data.ValidationSamples != "" {
			if d.Validation, err = load(c.Data.ValidationSamples, c.Data.ValidationLabels); err != nil {
				return d, err
			}
		} else {
			n := d.Train.N
			hold := n / 10
			if hold < 1 || n-hold < 1 {
				return d, fmt.Errorf("data: %d training samples are too few to hold out a validation split: give data.validation_samples", n)
			}
			full := d.Train
			d.Train = full.Slice(0, n-hold)
			d.Validation = full.Slice(n-hold, n)
			d.Validation.Name = "validation"
		}
		// Every split must agree on the number of classes.
		k := max(d.Train.Classes, d.Validation.Classes, d.Test.Classes)
		d.Train.Classes, d.Validation.Classes, d.Test.Classes = k, k, k
		return d, nil
	}
	return d, fmt.Errorf("data: unknown dataset %q", c.Data.Name)
}

// checkLabels reports the first label of s, read from the file labels,
// that the output layer of c cannot represent, naming the file, the sample,
// the value and the valid range.
func checkLabels(c *Config, s *dataset.Set, labels string) error {
	if len(c.Layers) == 0 {
		return nil
	}
	out := c.Layers[len(c.Layers)-1].Size
	for i, l := range s.Labels {
		if l >= out {
			return fmt.Errorf("data: %s: label %d at sample %d is outside 0..%d, the classes of the output layer's %d neurons (fix the label, or set the last [[layers]] size to the number of classes)",
				labels, l, i, out-1, out)
		}
	}
	return nil
}

// LoadSplit returns one split (train, validation or test) of a built-in
// dataset: yin_yang, mnist (28x28) or mnist16 (the reference's 16x16). dir
// is the MNIST directory; empty means dataset.MNISTDir.
func LoadSplit(name, dir, split string) (*dataset.Set, error) {
	switch name {
	case "yin_yang":
		return dataset.YinYangSplit(split)
	case "mnist", "mnist16":
		if dir == "" {
			var err error
			if dir, err = dataset.MNISTDir(); err != nil {
				return nil, err
			}
		}
		size := 28
		if name == "mnist16" {
			size = 16
		}
		return dataset.MNIST(dir, split, size)
	}
	return nil, fmt.Errorf("dataset %q: must be yin_yang, mnist16 or mnist", name)
}
