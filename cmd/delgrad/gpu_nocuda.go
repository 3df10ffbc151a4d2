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

// newGPU is never reached in a binary without CUDA support.
func newGPU() (batch.Engine, string, error) { return nil, "", gpuAvailable() }
