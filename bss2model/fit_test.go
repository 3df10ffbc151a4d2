package bss2model

import (
	"math"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
)

// fitNet builds a network of the given sizes (inputs first) with bias spikes
// into the last layer and delays of kind in every layer.
func fitNet(mux, bias int, kind batch.DelayKind, sizes ...int) *batch.Network {
	nrn := batch.Neuron{TauSyn: 1, TauMem: 1, Threshold: 1}
	net := &batch.Network{Inputs: sizes[0], Multiplex: mux}
	in := sizes[0] * max(mux, 1)
	for i, n := range sizes[1:] {
		b := 0
		if i == len(sizes)-2 {
			b = bias
		}
		net.Layers = append(net.Layers, batch.NewLayer(in, n, b, nrn, kind))
		in = n
	}
	return net
}

// Fit places a network on one chip or names the limit it breaks: the
// synapse rows of a neuron (two per signed input, at most two circuits
// combined) and the chip's neuron circuits, delay neurons included.
func TestFit(t *testing.T) {
	cases := []struct {
		name string
		net  *batch.Network
		want string // "" = fits
	}{
		{"yin_yang_WA", fitNet(5, 0, batch.Axonal, 4, 30, 3), ""},
		{"yin_yang_dendritic", fitNet(5, 0, batch.Dendritic, 4, 30, 3), ""},
		// The reference's 16x16 MNIST network on the chip: 246 hidden
		// neurons of two circuits each and 10 outputs fill all 512.
		{"mnist_246", fitNet(1, 1, batch.NoDelay, 256, 246, 10), ""},
		{"mnist_247", fitNet(1, 1, batch.NoDelay, 256, 247, 10), "needs 514 neuron circuits"},
		{"mnist_rows", fitNet(1, 0, batch.NoDelay, 257, 10, 10), "each neuron receives 257 spike sources"},
		{"mnist_axonal", fitNet(1, 1, batch.Axonal, 256, 128, 10), "256 axonal delay neurons"},
		{"bias_rows", fitNet(1, 2, batch.NoDelay, 16, 255, 3), "layer 1: each neuron receives 257 spike sources (255 inputs, 2 bias spikes)"},
	}
	p := Defaults()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.net.Validate(); err != nil {
				t.Fatal(err)
			}
			err := p.Fit(c.net)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("does not fit: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	off := p
	off.CircuitsPerNeuron = 0
	if err := off.Fit(fitNet(1, 0, batch.Axonal, 600, 600, 10)); err != nil {
		t.Fatalf("circuits_per_neuron = 0 still checks: %v", err)
	}
	if _, err := Evaluate(cases[3].net, p, batch.NewTimes(1, 256), []int{0}, EvalOptions{Chips: 1}); err == nil ||
		!strings.Contains(err.Error(), "neuron circuits") {
		t.Fatalf("Evaluate of a network that does not fit: %v", err)
	}
}

func TestRanges(t *testing.T) {
	p := Defaults()
	lo, hi := p.DelayRange(1)
	// (50/8 + 2) us and (250/8 + 2) us at tau_syn = 6 us.
	if math.Abs(lo-8.25/6) > 1e-15 || math.Abs(hi-33.25/6) > 1e-15 {
		t.Fatalf("delay range [%v, %v]", lo, hi)
	}
	for _, d := range []float64{lo, hi, (lo + hi) / 2} {
		if r := p.RealiseDelay(d, 1); math.Abs(r-d) > 1.0/(8*6) {
			t.Fatalf("delay %v in range realised as %v", d, r)
		}
	}
	if w := p.WeightLimit(); w != 2.1 {
		t.Fatalf("weight limit %v, want 2.1", w)
	}
	ideal := Ideal()
	if _, hi := ideal.DelayRange(1); !math.IsInf(hi, 1) || !math.IsInf(ideal.WeightLimit(), 1) {
		t.Fatal("the ideal model limits delays or weights")
	}
}
