package testnet

import (
	"fmt"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

// CompareGradients holds got to want: every layer's weight and delay
// gradients and the input gradient through cmp (which fails the test on a
// difference it does not accept and returns the largest difference it
// saw), and the clipped counts exactly. It returns the largest difference.
func CompareGradients(t testing.TB, got, want *batch.Gradients, cmp func(what string, got, want []float64) float64) float64 {
	t.Helper()
	worst := cmp("dInput", got.Input.Float64s(), want.Input.Float64s())
	for l := range want.Weights {
		worst = max(worst, cmp(fmt.Sprintf("dW[%d]", l), got.Weights[l].Float64s(), want.Weights[l].Float64s()))
		if want.Delays[l] != nil {
			worst = max(worst, cmp(fmt.Sprintf("dD[%d]", l), got.Delays[l].Float64s(), want.Delays[l].Float64s()))
		}
		if got.Clipped[l] != want.Clipped[l] {
			t.Fatalf("layer %d: %d clipped gradients, want %d", l, got.Clipped[l], want.Clipped[l])
		}
	}
	return worst
}
