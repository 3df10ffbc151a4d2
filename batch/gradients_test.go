package batch

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// Reshape keeps the tensors that fit and replaces the others: missing
// slices, wrong shapes, another dtype, views into larger tensors; and
// drops the delays of a layer without any.
func TestGradientsReshape(t *testing.T) {
	net := randNet(rand.New(rand.NewPCG(3, 4)), netSpec{regime: DoubleTau, delay: Axonal, sizes: []int{4, 6, 3}})
	g := &Gradients{Weights: make([]*tensor.Dense, 2)} // Delays missing
	g.Reshape(net, 5)
	w0, d1, in := g.Weights[0], g.Delays[1], g.Input
	if w0 == nil || d1 == nil || in == nil || len(g.Clipped) != 2 {
		t.Fatalf("after Reshape: %+v", g)
	}
	g.Reshape(net, 5)
	if g.Weights[0] != w0 || g.Delays[1] != d1 || g.Input != in {
		t.Errorf("Reshape to the same shapes replaced tensors that fit")
	}
	g.Reshape(net, 7)
	if g.Input == in || !shapeEq(g.Input.Shape(), []int{7, 4}) || g.Weights[0] != w0 {
		t.Errorf("another batch size: Input %v (replaced: %v), weights kept: %v", g.Input.Shape(), g.Input != in, g.Weights[0] == w0)
	}
	g.Weights[0] = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(w0.Shape()...))
	r1, k1 := net.Layers[1].Rows(), net.Layers[1].Out
	big := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(2*r1, k1))
	view, err := big.Slice(tensor.S(r1, 2*r1))
	if err != nil {
		t.Fatal(err)
	}
	g.Weights[1] = view.(*tensor.Dense)
	if !shapeEq(g.Weights[1].Shape(), []int{r1, k1}) || !g.Weights[1].IsView() {
		t.Fatalf("the test's view has shape %v (view: %v)", g.Weights[1].Shape(), g.Weights[1].IsView())
	}
	g.Reshape(net, 7)
	if g.Weights[0].Dtype() != tensor.Float64 {
		t.Errorf("a float32 tensor was kept")
	}
	if g.Weights[1].IsView() || len(g.Weights[1].Float64s()) != r1*k1 {
		t.Errorf("a view was kept")
	}
	net.Layers[1].Delay = NoDelay
	g.Reshape(net, 7)
	if g.Delays[1] != nil {
		t.Errorf("a layer without delays kept delay gradients")
	}
}
