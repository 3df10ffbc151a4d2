//go:build !cuda

package kernels

import (
	"errors"
	"testing"
)

// Without the cuda tag there is no CUDA device: Available and DeviceCount
// say why.
func TestNoCUDA(t *testing.T) {
	if err := Available(); !errors.Is(err, ErrNoCUDA) {
		t.Errorf("Available: %v, want ErrNoCUDA", err)
	}
	if n, err := DeviceCount(); n != 0 || !errors.Is(err, ErrNoCUDA) {
		t.Errorf("DeviceCount: %d, %v; want 0, ErrNoCUDA", n, err)
	}
}
