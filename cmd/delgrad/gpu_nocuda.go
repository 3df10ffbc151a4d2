//go:build !cuda

package main

import (
	"errors"

	"github.com/delgrad-go/delgrad/batch"
)

// cudaBuild says that this binary was built without CUDA support (build tag cuda).
const cudaBuild = false

// gpuAvailable says why this binary cannot use a GPU.
func gpuAvailable() error {
	return errors.New("this binary was built without CUDA support (build it with -tags cuda: see README.md, GPU)")
}

// gpuCount returns 0 and why: this binary has no CUDA support.
func gpuCount() (int, error) { return 0, gpuAvailable() }

// newGPU is never reached in a binary without CUDA support.
func newGPU() (batch.Engine, string, error) { return nil, "", gpuAvailable() }

// newGPUOn is never reached in a binary without CUDA support.
func newGPUOn(int) (batch.Engine, string, error) { return nil, "", gpuAvailable() }
