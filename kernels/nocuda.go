//go:build !cuda

package kernels

import "errors"

// ErrNoCUDA is the error of Available and DeviceCount in a build without
// the cuda tag, which has no CUDA device (GPU, NewGPU and NewGPUOn exist
// only in cuda builds; the Engine runs on kernels/host's CPU device).
var ErrNoCUDA = errors.New("kernels: built without CUDA support (build tag cuda)")

// Available reports why no CUDA device can be used: this build has no
// CUDA support (ErrNoCUDA).
func Available() error { return ErrNoCUDA }

// DeviceCount returns 0 and ErrNoCUDA: this build has no CUDA support.
func DeviceCount() (int, error) { return 0, ErrNoCUDA }
