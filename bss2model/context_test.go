package bss2model

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

// TestEvaluateContextStops: a canceled context stops the evaluation between
// population passes (here of one chip each): no new pass starts, and no
// results come back.
func TestEvaluateContextStops(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	net := randNet(rng, 1, batch.Axonal, 0, 5, 4, 10, 3)
	x := randInput(rng, 20, 4)
	labels := make([]int, 20)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	chips := 0
	opt := EvalOptions{Chips: 50, Seed: 3, Workers: 1, Group: 1, Progress: func(done, total int) {
		chips = done
		if done == 3 {
			cancel()
		}
	}}
	res, err := EvaluateContext(ctx, net, Defaults(), x, labels, opt)
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("EvaluateContext after cancel: %d results, %v; want none and context.Canceled", len(res), err)
	}
	if chips > 4 {
		t.Fatalf("%d chips evaluated after a cancel at chip 3", chips)
	}
}
