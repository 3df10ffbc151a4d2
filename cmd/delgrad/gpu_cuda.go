//go:build cuda

package main

import (
	"fmt"
	"os"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/kernels"
)

// cudaBuild says that this binary was built with CUDA support (build tag cuda).
const cudaBuild = true

// gpuAvailable reports whether the CUDA engine can run here, or why not.
func gpuAvailable() error { return kernels.Available() }

// newGPU returns the CUDA engine on device 0 and its name. The environment
// variable DELGRAD_GPU_WARPS overrides the engine's choice between one
// thread and one warp per (sample, neuron) pair in the per-pair kernels
// (kernels.Engine.WarpSearch and WarpNeuron): "thread" (one thread
// everywhere), "small" (kernels.WarpSmallBatches) or "warp" (a warp
// everywhere); unset or empty keeps the engine's default. Either way the
// results are the same bits; only the speed differs.
func newGPU() (batch.Engine, string, error) {
	policy, name, err := warpPolicy(os.Getenv("DELGRAD_GPU_WARPS"))
	if err != nil {
		return nil, "", err
	}
	g, err := kernels.NewGPU()
	if err != nil {
		return nil, "", err
	}
	if name != "" {
		g.WarpSearch, g.WarpNeuron = policy, policy
		name = ", per-pair kernels: " + name
	}
	return g, fmt.Sprintf("gpu (%s, compute %d.%d%s)", g.Name, g.Arch/10, g.Arch%10, name), nil
}

// warpPolicy parses DELGRAD_GPU_WARPS: the policy and its name, or an
// empty name for the engine's default.
func warpPolicy(v string) (func(pairs, rows int64) bool, string, error) {
	switch v {
	case "":
		return nil, "", nil
	case "thread":
		return func(int64, int64) bool { return false }, v, nil
	case "small":
		return kernels.WarpSmallBatches, v, nil
	case "warp":
		return func(int64, int64) bool { return true }, v, nil
	}
	return nil, "", usageError{fmt.Errorf("DELGRAD_GPU_WARPS=%q: must be thread, small or warp (or unset for the default)", v)}
}
