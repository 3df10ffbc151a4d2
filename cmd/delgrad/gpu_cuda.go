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

// gpuCount returns the number of CUDA devices this process can use, or
// why there is none.
func gpuCount() (int, error) { return kernels.DeviceCount() }

// newGPU returns the CUDA engine on device 0 and its name. The environment
// variable DELGRAD_GPU_WARPS overrides the engine's choice between one
// thread and one warp per (sample, neuron) pair in the per-pair kernels
// (kernels.Engine.WarpSearch and WarpNeuron): "thread" (one thread
// everywhere), "small" (kernels.WarpSmallBatches) or "warp" (a warp
// everywhere); unset or empty keeps the engine's default. Either way the
// results are the same bits; only the speed differs.
func newGPU() (batch.Engine, string, error) {
	g, warps, err := openGPU(0)
	if err != nil {
		return nil, "", err
	}
	return g, fmt.Sprintf("gpu (%s, compute %d.%d%s)", g.Name, g.Arch/10, g.Arch%10, warps), nil
}

// newGPUOn returns the CUDA engine on the device of the given ordinal (as
// newGPU does for device 0) and its name, which names the device: its
// ordinal here, its model and its UUID (the board, wherever
// CUDA_VISIBLE_DEVICES renumbers the devices).
func newGPUOn(ordinal int) (batch.Engine, string, error) {
	g, warps, err := openGPU(ordinal)
	if err != nil {
		return nil, "", err
	}
	id := ""
	if g.UUID != "" {
		id = ", " + g.UUID
	}
	return g, fmt.Sprintf("gpu:%d (%s, compute %d.%d%s%s)", ordinal, g.Name, g.Arch/10, g.Arch%10, id, warps), nil
}

// openGPU opens the CUDA engine on device ordinal with DELGRAD_GPU_WARPS's
// policy; warps describes a policy set there (for the engine's name).
func openGPU(ordinal int) (g *kernels.GPU, warps string, err error) {
	policy, name, err := warpPolicy(os.Getenv("DELGRAD_GPU_WARPS"))
	if err != nil {
		return nil, "", err
	}
	if g, err = kernels.NewGPUOn(ordinal); err != nil {
		return nil, "", err
	}
	if name != "" {
		g.WarpSearch, g.WarpNeuron = policy, policy
		warps = ", per-pair kernels: " + name
	}
	return g, warps, nil
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
