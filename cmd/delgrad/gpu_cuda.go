//go:build cuda

package main

import (
	"fmt"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/kernels"
)

// gpuAvailable reports whether the CUDA engine can run here, or why not.
func gpuAvailable() error { return kernels.Available() }

// newGPU returns the CUDA engine on device 0 and its name.
func newGPU() (batch.Engine, string, error) {
	g, err := kernels.NewGPU()
	if err != nil {
		return nil, "", err
	}
	return g, fmt.Sprintf("gpu (%s, compute %d.%d)", g.Name, g.Arch/10, g.Arch%10), nil
}
