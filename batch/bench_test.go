package batch

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// benchCase is one benchmarked network and batch size. Inputs are uniform in
// [0.15, 2] with a fraction pInf missing (MNIST's background pixels).
type benchCase struct {
	name  string
	spec  netSpec
	batch int
	pInf  float64
}

func benchCases() []benchCase {
	var cs []benchCase
	for _, d := range []DelayKind{NoDelay, Axonal, Dendritic, Synaptic} {
		for _, b := range []int{150, 5000} {
			cs = append(cs, benchCase{fmt.Sprintf("yinyang-4-30-3/%v/B%d", d, b),
				netSpec{regime: DoubleTau, delay: d, sizes: []int{4, 30, 3}}, b, 0})
		}
	}
	cs = append(cs,
		benchCase{"mnist16-256-128-10/B200", netSpec{regime: EqualTau, bias: 1, sizes: []int{256, 128, 10}}, 200, 0.5},
		benchCase{"mnist-784-350-10/B80", netSpec{regime: EqualTau, sizes: []int{784, 350, 10}}, 80, 0.8})
	return cs
}

// setup draws the case's network, input times and dL/d(output times),
// the same for every benchmark of the case.
func (c benchCase) setup() (*Network, *tensor.Dense, *tensor.Dense) {
	rng := rand.New(rand.NewPCG(1, 2))
	net := randNet(rng, c.spec)
	in := randInput(rng, c.batch, c.spec.sizes[0], c.pInf)
	return net, in, randInput(rng, c.batch, net.Outputs(), 0)
}

func BenchmarkForward(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			net, in, _ := c.setup()
			e := NewCPU(0)
			var tr Trace
			for b.Loop() {
				if err := e.Forward(net, in, &tr); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

func BenchmarkForwardBackward(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			net, in, dOut := c.setup()
			e := NewCPU(0)
			var tr Trace
			g := NewGradients(net, c.batch)
			for b.Loop() {
				if err := e.Forward(net, in, &tr); err != nil {
					b.Fatal(err)
				}
				if err := e.Backward(net, &tr, dOut, g); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
