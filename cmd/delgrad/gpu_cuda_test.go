//go:build cuda

package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/kernels"
)

// DELGRAD_GPU_WARPS: each value picks its policy, and anything else is a
// usage error that names the allowed values.
func TestWarpPolicy(t *testing.T) {
	small, large := int64(100), int64(kernels.WarpPairLimit+1)
	for _, c := range []struct {
		v, name            string
		smallOK, largeWarp bool
	}{
		{"", "", false, false},
		{"thread", "thread", false, false},
		{"small", "small", true, false},
		{"warp", "warp", true, true},
	} {
		p, name, err := warpPolicy(c.v)
		if err != nil || name != c.name {
			t.Fatalf("%q: name %q, error %v; want %q, nil", c.v, name, err, c.name)
		}
		if c.v == "" {
			if p != nil {
				t.Errorf("unset: a policy, want the engine's default (nil)")
			}
			continue
		}
		if got := p(small, 257); got != c.smallOK {
			t.Errorf("%q: %d pairs of 257 rows: warp %v, want %v", c.v, small, got, c.smallOK)
		}
		if got := p(large, 257); got != c.largeWarp {
			t.Errorf("%q: %d pairs of 257 rows: warp %v, want %v", c.v, large, got, c.largeWarp)
		}
	}
	_, _, err := warpPolicy("fast")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "thread, small or warp") {
		t.Fatalf("DELGRAD_GPU_WARPS=fast: %v, want a usage error naming the values", err)
	}
}
