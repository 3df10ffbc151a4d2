//go:build cuda

package kernels

import (
	"fmt"
	"strings"
	"testing"
)

// NewGPUOn opens every device DeviceCount counts, each with its ordinal,
// and refuses ordinals outside them with an error that names the ordinal.
func TestNewGPUOn(t *testing.T) {
	n, err := DeviceCount()
	if err != nil {
		t.Skipf("no GPU: %v", err)
	}
	for i := range n {
		g, err := NewGPUOn(i)
		if err != nil {
			t.Fatalf("GPU %d of %d: %v", i, n, err)
		}
		if g.Ordinal != i || g.Name == "" {
			t.Errorf("GPU %d: ordinal %d, name %q", i, g.Ordinal, g.Name)
		}
		t.Logf("GPU %d: %s, compute %d.%d, %s", i, g.Name, g.Arch/10, g.Arch%10, g.UUID)
		if err := g.Close(); err != nil {
			t.Errorf("GPU %d: close: %v", i, err)
		}
	}
	for _, bad := range []int{-1, n} {
		_, err := NewGPUOn(bad)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("GPU %d:", bad)) {
			t.Errorf("NewGPUOn(%d) of %d devices: %v, want an error naming GPU %d", bad, n, err, bad)
		}
	}
}
