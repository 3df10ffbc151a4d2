package bench

import (
	"context"
	"errors"
	"testing"
)

// TestRunContextStops: a canceled context stops the suite before the next
// measurement and returns what was measured with the cancellation.
func TestRunContextStops(t *testing.T) {
	opt := tinyOptions()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt.Progress = func(done, total int, what string) {
		if done == 2 {
			cancel()
		}
	}
	rs, err := RunContext(ctx, opt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunContext after cancel: %v, want context.Canceled", err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d results, want the 3 measured before the stop", len(rs))
	}
}
