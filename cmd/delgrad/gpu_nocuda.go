//go:build !cuda

package main

import "errors"

// gpuAvailable says why this binary cannot use a GPU.
func gpuAvailable() error {
	return errors.New("this binary was built without CUDA support (the GPU engine needs the build tag cuda)")
}
