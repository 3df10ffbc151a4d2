//go:build cgo

package host

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/kernels"
	"gorgonia.org/tensor"
)

// copyCounter counts a Device's copies to the device.
type copyCounter struct {
	*Device
	htod int
}

func (c *copyCounter) HtoD(p kernels.Ptr, src unsafe.Pointer, n int64) error {
	c.htod++
	return c.Device.HtoD(p, src, n)
}

// One engine, called again and again through its API, answers every call
// as the Go engine does, bit for bit, whatever changed between the calls:
// Backward does not copy again the weights and spike times that its
// Forward left on the device, but it does copy them when the caller has
// changed them (the weights between Forward and Backward, a time in the
// trace), and the gradients it reuses hold nothing of the last call.
func TestEngineReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, kind := range []batch.DelayKind{batch.NoDelay, batch.Axonal, batch.Dendritic, batch.Synaptic} {
		t.Run(kind.String(), func(t *testing.T) {
			net := randNet(rng, batch.DoubleTau, kind, 1, 0, 0, 5, 40, 4)
			const b = 24
			x := batch.NewTimes(b, net.Inputs)
			for i := range x.Float64s() {
				x.Float64s()[i] = 0.15 + 1.85*rng.Float64()
			}
			dOut := tensor.New(tensor.WithShape(b, net.Outputs()), tensor.WithBacking(make([]float64, b*net.Outputs())))
			for i := range dOut.Float64s() {
				dOut.Float64s()[i] = rng.NormFloat64()
			}
			dev := &copyCounter{Device: &Device{mem: map[kernels.Ptr]allocation{}}}
			eng := kernels.NewEngine(dev)
			defer eng.Release()
			cpu := batch.NewCPU(1)
			var tr batch.Trace
			gr := batch.NewGradients(net, b)
			// check runs Backward on eng and on the CPU with tr and
			// compares, and returns eng's copies to the device.
			check := func(what string) int {
				t.Helper()
				before := dev.htod
				if err := eng.Backward(net, &tr, dOut, gr); err != nil {
					t.Fatal(err)
				}
				n := dev.htod - before
				want := batch.NewGradients(net, b)
				if err := cpu.Backward(net, &tr, dOut, want); err != nil {
					t.Fatal(err)
				}
				testnet.CompareGradients(t, gr, want, func(w string, got, want []float64) float64 {
					return compare(t, what+": "+w, got, want)
				})
				return n
			}
			forward := func(what string) {
				t.Helper()
				if err := eng.Forward(net, x, &tr); err != nil {
					t.Fatal(err)
				}
				var want batch.Trace
				if err := cpu.Forward(net, x, &want); err != nil {
					t.Fatal(err)
				}
				for l := range want.Times {
					compare(t, what, tr.Times[l].Float64s(), want.Times[l].Float64s())
				}
			}
			forward("first forward")
			first := check("first backward")
			if again := check("the same backward again"); again != first {
				t.Errorf("a repeated backward copied %d times to the device, the first %d: the same inputs should cost the same", again, first)
			}
			// A fresh engine's Backward copies everything: the saving is
			// the times and parameters this one had from its Forward.
			cold := &copyCounter{Device: &Device{mem: map[kernels.Ptr]allocation{}}}
			eng2 := kernels.NewEngine(cold)
			defer eng2.Release()
			if err := eng2.Backward(net, &tr, dOut, batch.NewGradients(net, b)); err != nil {
				t.Fatal(err)
			}
			if saved := cold.htod - first; saved < len(tr.Times)+1 {
				t.Errorf("backward after forward copied %d times to the device, a fresh engine's %d: want at least %d fewer (times and weights)", first, cold.htod, len(tr.Times)+1)
			}
			// Changed weights, no new forward: Backward must use them.
			for i := range net.Layers[1].W() {
				net.Layers[1].W()[i] *= 1.05
			}
			check("weights changed after forward")
			// A changed time in the trace.
			tr.Times[1].Float64s()[5] += 0.01
			check("a time changed in the trace")
			// A new forward with other inputs and weights, then backward.
			net.Layers[0].W()[1] -= 0.5
			for i := range x.Float64s() {
				x.Float64s()[i] += 0.05
			}
			forward("second forward")
			check("backward after the second forward")
			// Another batch size through the same buffers.
			x2 := batch.NewTimes(b/2, net.Inputs)
			copy(x2.Float64s(), x.Float64s())
			d2 := tensor.New(tensor.WithShape(b/2, net.Outputs()), tensor.WithBacking(append([]float64(nil), dOut.Float64s()[:b/2*net.Outputs()]...)))
			x, dOut = x2, d2
			forward("smaller batch")
			check("smaller batch, the same gradients reshaped")
		})
	}
}
