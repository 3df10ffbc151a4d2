//go:build cgo

package host

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/kernels"
	"gorgonia.org/tensor"
)

// A population on the kernels (one launch per kernel for all members)
// gives every member, bit for bit, what the Go engine gives that member
// alone: spike times, weight, delay and input gradients and clip counts,
// for both regimes, every delay kind, bias spikes and multiplexing, K = 1,
// 3 and 17, with the one-thread and the warp kernels, members with wide
// samples and members that clip; and members with batches of different
// sizes (run one after the other).
func TestPopulationMatchesCPU(t *testing.T) {
	always := func(pairs, rows int64) bool { return true }
	clipped := 0
	for _, regime := range []batch.Regime{batch.EqualTau, batch.DoubleTau} {
		for _, kind := range []batch.DelayKind{batch.NoDelay, batch.Axonal, batch.Dendritic, batch.Synaptic} {
			for _, bias := range []int{0, 2} {
				for _, k := range []int{1, 3, 17} {
					for _, mode := range []string{"thread", "warp", "sizes", "large"} {
						if mode != "thread" && k == 1 || mode == "large" && (k != 17 || bias != 0) {
							continue
						}
						name := fmt.Sprintf("%v/%v/bias%d/K%d/%s", regime, kind, bias, k, mode)
						rng := rand.New(rand.NewPCG(uint64(k), uint64(bias)))
						nets := make([]*batch.Network, k)
						ins, dys := make([]*tensor.Dense, k), make([]*tensor.Dense, k)
						for m := range nets {
							maxdw := 0.5
							if m%2 == 1 {
								maxdw = 0.05
							}
							nets[m] = testnet.Net(rng, testnet.Spec{TauMem: float64(regime), Delay: kind, Bias: bias,
								Mux: 1 + bias/2, MaxDWNorm: maxdw, Sizes: []int{3, 33, 4}})
							// Members' own neuron constants (tau_s not a power
							// of two) and bias times.
							for l := range nets[m].Layers {
								ly := &nets[m].Layers[l]
								ly.Neuron.TauSyn = 1 + 0.3*float64(m%3)
								ly.Neuron.TauMem = float64(regime) * ly.Neuron.TauSyn
								ly.Neuron.Threshold = (1 + 0.05*float64(m%4)) * ly.Neuron.TauSyn
								for i := range ly.BiasTimes {
									ly.BiasTimes[i] += 0.1 * float64(m%3)
								}
							}
							b := 13
							switch {
							case mode == "sizes":
								b = 5 + m%4
							case mode == "large":
								b = 300 // k*b above countAsFound's 4096: the counts summed in chunks
							}
							ins[m] = testnet.Input(rng, b, 3, 0.1)
							if m%3 == 2 {
								ins[m].Float64s()[1] = 650 // a wide sample
							}
							dys[m] = testnet.Input(rng, b, 4, 0)
						}
						eng := New()
						if mode == "warp" {
							eng.WarpSearch, eng.WarpNeuron, eng.WarpRows = always, always, always
						}
						trs, gs := make([]*batch.Trace, k), make([]*batch.Gradients, k)
						for m := range trs {
							trs[m], gs[m] = &batch.Trace{}, &batch.Gradients{}
						}
						if err := eng.ForwardPop(nets, ins, trs); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						if err := eng.BackwardPop(nets, trs, dys, gs); err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						cpu := batch.NewCPU(1)
						for m, net := range nets {
							var want batch.Trace
							if err := cpu.Forward(net, ins[m], &want); err != nil {
								t.Fatal(err)
							}
							for l := range want.Times {
								compare(t, fmt.Sprintf("%s member %d times %d", name, m, l), trs[m].Times[l].Float64s(), want.Times[l].Float64s())
							}
							wg := batch.NewGradients(net, 1)
							if err := cpu.Backward(net, &want, dys[m], wg); err != nil {
								t.Fatal(err)
							}
							testnet.CompareGradients(t, gs[m], wg, func(w string, got, want []float64) float64 {
								return compare(t, fmt.Sprintf("%s member %d %s", name, m, w), got, want)
							})
							for l := range wg.Clipped {
								if gs[m].Clipped[l] != wg.Clipped[l] {
									t.Errorf("%s member %d: layer %d clipped %d, the Go engine %d", name, m, l, gs[m].Clipped[l], wg.Clipped[l])
								}
								clipped += wg.Clipped[l]
							}
						}
						if err := eng.Release(); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
		}
	}
	if clipped == 0 {
		t.Error("no member clipped: max_dw_norm in populations untested")
	}
}

// A population alternating with single calls on one engine: the single
// network's constants and buffers are not disturbed by the population's
// (they have their own layer constants).
func TestPopulationThenSingle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	spec := testnet.Spec{TauMem: 2, Delay: batch.Synaptic, Bias: 1, MaxDWNorm: 0.5, Sizes: []int{4, 12, 3}}
	nets := []*batch.Network{testnet.Net(rng, spec), testnet.Net(rng, spec)}
	x := testnet.Input(rng, 9, 4, 0)
	eng := New()
	defer eng.Release()
	cpu := batch.NewCPU(1)
	for round := 0; round < 2; round++ {
		trs := []*batch.Trace{{}, {}}
		if err := eng.ForwardPop(nets, []*tensor.Dense{x, x}, trs); err != nil {
			t.Fatal(err)
		}
		var one, want batch.Trace
		if err := eng.Forward(nets[1], x, &one); err != nil {
			t.Fatal(err)
		}
		if err := cpu.Forward(nets[1], x, &want); err != nil {
			t.Fatal(err)
		}
		compare(t, "single after population", one.Output().Float64s(), want.Output().Float64s())
		compare(t, "population member 1", trs[1].Output().Float64s(), want.Output().Float64s())
	}
}

var _ batch.PopEngine = (*kernels.Engine)(nil)
