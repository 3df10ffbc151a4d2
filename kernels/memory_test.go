package kernels_test

import (
	"fmt"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/kernels"
)

// net builds a network of the given sizes (weights and delays zero: the
// cost depends on the shape only).
func net(regime batch.Regime, kind batch.DelayKind, bias int, sizes ...int) *batch.Network {
	nrn := batch.Neuron{TauSyn: 1, TauMem: float64(regime), Threshold: 1}
	n := &batch.Network{Inputs: sizes[0]}
	for i, out := range sizes[1:] {
		b := 0
		if i == len(sizes)-2 {
			b = bias
		}
		n.Layers = append(n.Layers, batch.NewLayer(sizes[i], out, b, nrn, kind))
	}
	return n
}

// What a population costs on the device for the forward and backward
// pass of the Engine API, at the configs' batch sizes.
func ExampleCostOf() {
	for _, c := range []struct {
		name string
		net  *batch.Network
		b    int
	}{
		{"Yin-Yang 4-30-3 axonal", net(batch.DoubleTau, batch.Axonal, 0, 4, 30, 3), 150},
		{"Yin-Yang 4-30-3 synaptic", net(batch.DoubleTau, batch.Synaptic, 0, 4, 30, 3), 150},
		{"16x16 MNIST 256-128-10", net(batch.EqualTau, batch.NoDelay, 1, 256, 128, 10), 50},
	} {
		cost, err := kernels.CostOf(c.net, c.b)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s, B = %d: %d bytes for one member, %d per further member (%d per sample of each)\n",
			c.name, c.b, cost.One, cost.PerMember, cost.PerMemberSample)
	}
	// Output:
	// Yin-Yang 4-30-3 axonal, B = 150: 727456 bytes for one member, 727432 per further member (4808 per sample of each)
	// Yin-Yang 4-30-3 synaptic, B = 150: 1463344 bytes for one member, 1463328 per further member (9695 per sample of each)
	// 16x16 MNIST 256-128-10, B = 50: 4761528 bytes for one member, 4761496 per further member (68577 per sample of each)
}
