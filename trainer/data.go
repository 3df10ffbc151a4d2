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
	case "yin_yang":
		if d.Train, err = dataset.YinYangSplit("train"); err != nil {
			return d, err
		}
		if d.Validation, err = dataset.YinYangSplit("validation"); err != nil {
			return d, err
		}
		d.Test, err = dataset.YinYangSplit("test")
		return d, err
	case "mnist", "mnist16":
		size := 28
		if c.Data.Name == "mnist16" {
			size = 16
		}
		dir := c.Data.Dir
		if dir == "" {
			if dir, err = dataset.MNISTDir(); err != nil {
				return d, err
			}
		}
		for _, s := range []struct {
			name string
			dst  **dataset.Set
		}{{"train", &d.Train}, {"validation", &d.Validation}, {"test", &d.Test}} {
			if *s.dst, err = dataset.MNIST(dir, s.name, size); err != nil {
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
		if d.Train, err = dataset.LoadNpy(abs(c.Data.TrainSamples), abs(c.Data.TrainLabels)); err != nil {
			return d, err
		}
		if d.Test, err = dataset.LoadNpy(abs(c.Data.TestSamples), abs(c.Data.TestLabels)); err != nil {
			return d, err
		}
		if c.Data.ValidationSamples != "" {
			if d.Validation, err = dataset.LoadNpy(abs(c.Data.ValidationSamples), abs(c.Data.ValidationLabels)); err != nil {
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
