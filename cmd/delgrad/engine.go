package main

import (
	"errors"
	"fmt"

	"github.com/delgrad-go/delgrad/batch"
)

// newEngine returns the engine -device asks for, and its name for reports.
func newEngine(device string, workers int) (batch.Engine, string, error) {
	switch device {
	case "cpu":
	case "gpu":
		if err := gpuAvailable(); err != nil {
			return nil, "", usageError{fmt.Errorf("-device gpu: %w; use -device cpu (or auto)", err)}
		}
	case "auto":
		if gpuAvailable() == nil {
			break
		}
	default:
		return nil, "", usageError{fmt.Errorf("-device %q: must be cpu, gpu or auto", device)}
	}
	if workers < 0 {
		return nil, "", usageError{errors.New("-workers must be >= 0 (0: one per core)")}
	}
	e := batch.NewCPU(workers)
	return e, fmt.Sprintf("cpu (%d workers)", e.Workers()), nil
}
