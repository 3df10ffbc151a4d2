package main

import (
	"errors"
	"fmt"

	"github.com/delgrad-go/delgrad/batch"
)

// newEngine returns the engine -device asks for, and its name for reports.
func newEngine(device string, workers int) (batch.Engine, string, error) {
	if workers < 0 {
		return nil, "", usageError{errors.New("-workers must be >= 0 (0: one per core)")}
	}
	switch device {
	case "cpu":
	case "gpu":
		if err := gpuAvailable(); err != nil {
			return nil, "", usageError{fmt.Errorf("-device gpu: %w; use -device cpu (or auto)", err)}
		}
		eng, name, err := newGPU()
		if err != nil {
			return nil, "", fmt.Errorf("-device gpu: %w", err)
		}
		return eng, name, nil
	case "auto":
		if gpuAvailable() == nil {
			eng, name, err := newGPU()
			if err == nil {
				return eng, name, nil
			}
			// A bad setting (DELGRAD_GPU_WARPS) is the user's to fix, not
			// a reason to fall back to the CPU.
			var ue usageError
			if errors.As(err, &ue) {
				return nil, "", err
			}
		}
	default:
		return nil, "", usageError{fmt.Errorf("-device %q: must be cpu, gpu or auto", device)}
	}
	e := batch.NewCPU(workers)
	return e, fmt.Sprintf("cpu (%d workers)", e.Workers()), nil
}
