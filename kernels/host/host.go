//go:build cgo

// Package host runs the CUDA kernels' per-thread math (kernels/delgrad.cuh)
// on the CPU, compiled by the C compiler through cgo: each kernel launch
// becomes a loop, each GPU thread one iteration. Its Engine implements
// batch.Engine, so the tests hold the kernel math against the Go engine of
// package batch on machines without a GPU; the GPU run then only has to
// prove indexing, launches and memory.
package host

// #cgo CFLAGS: -O2 -I${SRCDIR}/..
// #cgo LDFLAGS: -lm
// #include "host.h"
import "C"

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// Engine is a single-threaded batch.Engine on the kernel math.
type Engine struct{}

// Layer returns the kernels' constants of layer l (the dg_layer struct
// of delgrad.cuh) as Go values, for tests and the launcher.
func layerC(l *batch.Layer) (C.dg_layer, error) {
	r, err := l.Neuron.Regime()
	if err != nil {
		return C.dg_layer{}, err
	}
	p := l.Neuron
	return C.dg_layer{
		in: C.int(l.In), out: C.int(l.Out), rows: C.int(l.Rows()), nbias: C.int(len(l.BiasTimes)),
		delay: C.int(l.Delay), regime: C.int(r), tau: C.double(p.TauSyn),
		c: C.double(p.GLeak() * (p.Threshold - p.Leak)), eps: C.double(p.Eps), maxdwnorm: C.double(l.MaxDWNorm),
	}, nil
}

func ptr(s []float64) *C.double {
	if len(s) == 0 {
		return nil
	}
	return (*C.double)(unsafe.Pointer(&s[0]))
}

func iptr(s []C.int) *C.int {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func shape(t *tensor.Dense, b, n int) bool {
	return t != nil && len(t.Shape()) == 2 && t.Shape()[0] == b && t.Shape()[1] == n
}

// Forward implements batch.Engine.
func (Engine) Forward(net *batch.Network, input *tensor.Dense, tr *batch.Trace) error {
	if err := net.Validate(); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	if !shape(input, input.Shape()[0], net.Inputs) {
		return fmt.Errorf("forward: input times: shape %v, want (batch, %d)", input.Shape(), net.Inputs)
	}
	b := input.Shape()[0]
	in := input.Float64s()
	for i, t := range in {
		if math.IsNaN(t) || math.IsInf(t, -1) {
			return fmt.Errorf("forward: input time of sample %d, feature %d is %g: use +Inf for no spike", i/net.Inputs, i%net.Inputs, t)
		}
	}
	sizes := []int{net.Layers[0].In}
	for i := range net.Layers {
		sizes = append(sizes, net.Layers[i].Out)
	}
	if len(tr.Times) != len(sizes) {
		tr.Times = make([]*tensor.Dense, len(sizes))
	}
	for i, n := range sizes {
		if !shape(tr.Times[i], b, n) {
			tr.Times[i] = batch.NewTimes(b, n)
		}
	}
	mux := max(net.Multiplex, 1)
	x := tr.Times[0].Float64s()
	for i, t := range in {
		for r := 0; r < mux; r++ {
			x[i*mux+r] = t
		}
	}
	for li := range net.Layers {
		l := &net.Layers[li]
		L, err := layerC(l)
		if err != nil {
			return err
		}
		n := b * l.Rows()
		if l.Delay == batch.Synaptic {
			n *= l.Out
		}
		su, e1, te1, e2, ref, shift := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		sidx := make([]C.int, n)
		C.dg_host_forward(&L, C.int(b), ptr(tr.Times[li].Float64s()), ptr(tr.Times[li+1].Float64s()), ptr(l.W()), ptr(l.D()),
			ptr(l.BiasTimes), ptr(su), iptr(sidx), ptr(e1), ptr(te1), ptr(e2), ptr(ref), ptr(shift))
	}
	return nil
}

// Backward implements batch.Engine.
func (Engine) Backward(net *batch.Network, tr *batch.Trace, dOut *tensor.Dense, g *batch.Gradients) error {
	if err := net.Validate(); err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	if tr == nil || len(tr.Times) != len(net.Layers)+1 {
		return fmt.Errorf("backward: the trace does not fit the network: run Forward first")
	}
	b := tr.Batch()
	if !shape(tr.Times[0], b, net.Layers[0].In) {
		return fmt.Errorf("backward: trace input has shape %v", tr.Times[0].Shape())
	}
	for l := range net.Layers {
		if !shape(tr.Times[l+1], b, net.Layers[l].Out) {
			return fmt.Errorf("backward: trace of layer %d has shape %v, want (%d, %d)", l, tr.Times[l+1].Shape(), b, net.Layers[l].Out)
		}
	}
	if !shape(dOut, b, net.Outputs()) {
		return fmt.Errorf("backward: dL/d(output times) has shape %v, want (%d, %d)", dOut.Shape(), b, net.Outputs())
	}
	fresh := batch.NewGradients(net, b)
	*g = *fresh
	delta := make([]float64, len(dOut.Float64s()))
	for i, v := range dOut.Float64s() {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			delta[i] = v
		}
	}
	for li := len(net.Layers) - 1; li >= 0; li-- {
		l := &net.Layers[li]
		L, err := layerC(l)
		if err != nil {
			return err
		}
		R, K := l.Rows(), l.Out
		gin := make([]float64, b*l.In)
		u, e1, e2 := make([]float64, b*R), make([]float64, b*R), make([]float64, b*R)
		ref, wide := make([]float64, b), make([]C.int, b)
		var ed1, ed2 []float64
		if l.Delay == batch.Synaptic {
			ed1, ed2 = make([]float64, l.In*K), make([]float64, l.In*K)
		}
		st := make([]C.dg_nstate, b*K)
		var dD []float64
		if g.Delays[li] != nil {
			dD = g.Delays[li].Float64s()
		}
		C.dg_host_backward(&L, C.int(b), ptr(tr.Times[li].Float64s()), ptr(tr.Times[li+1].Float64s()), ptr(delta),
			ptr(gin), ptr(g.Weights[li].Float64s()), ptr(dD), ptr(l.W()), ptr(l.D()), ptr(l.BiasTimes),
			ptr(u), ptr(e1), ptr(e2), ptr(ref), iptr(wide), ptr(ed1), ptr(ed2), &st[0])
		for _, s := range st {
			if s.clip != 0 {
				g.Clipped[li]++
			}
		}
		delta = gin
	}
	mux := max(net.Multiplex, 1)
	gi := g.Input.Float64s()
	for i := range gi {
		s := 0.0
		for r := 0; r < mux; r++ {
			s += delta[i*mux+r]
		}
		gi[i] = s
	}
	return nil
}
