package batch

import (
	"errors"
	"fmt"

	"gorgonia.org/tensor"
)

// A population is K networks of one shape (SameShape: the same layer
// sizes, bias spikes, delay kinds, neuron regime and multiplexing) with
// their own parameters, each on its own batch of samples: the seeds of a
// sweep, the grid points of one architecture, or simulated chips. Members
// never interact, so member k's results are, bit for bit, those of a pass
// over member k alone; the engines' tests hold them to it.

// PopEngine is an Engine that computes a whole population in one batched
// pass. Its Forward and Backward are the population calls with K = 1.
type PopEngine interface {
	Engine
	// ForwardPop computes, for every member k, the spike times of
	// nets[k] on inputs[k] (B_k x Inputs) into trs[k], as Forward does.
	// Members may share an input tensor (evaluation on one batch).
	ForwardPop(nets []*Network, inputs []*tensor.Dense, trs []*Trace) error
	// BackwardPop computes, for every member k, the gradients of nets[k]
	// from trs[k] and dOut[k] into gs[k], as Backward does.
	BackwardPop(nets []*Network, trs []*Trace, dOut []*tensor.Dense, gs []*Gradients) error
}

// ForwardPop runs a population's forward pass on e: in one batched pass
// where e is a PopEngine, else member by member.
func ForwardPop(e Engine, nets []*Network, inputs []*tensor.Dense, trs []*Trace) error {
	if pe, ok := e.(PopEngine); ok {
		return pe.ForwardPop(nets, inputs, trs)
	}
	if err := checkPop(nets, PopArg{"inputs", len(inputs)}, PopArg{"traces", len(trs)}); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	for k, net := range nets {
		if err := e.Forward(net, inputs[k], trs[k]); err != nil {
			return fmt.Errorf("member %d: %w", k, err)
		}
	}
	return nil
}

// BackwardPop runs a population's backward pass on e: in one batched pass
// where e is a PopEngine, else member by member.
func BackwardPop(e Engine, nets []*Network, trs []*Trace, dOut []*tensor.Dense, gs []*Gradients) error {
	if pe, ok := e.(PopEngine); ok {
		return pe.BackwardPop(nets, trs, dOut, gs)
	}
	if err := checkPop(nets, PopArg{"traces", len(trs)}, PopArg{"output errors", len(dOut)}, PopArg{"gradients", len(gs)}); err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	for k, net := range nets {
		if err := e.Backward(net, trs[k], dOut[k], gs[k]); err != nil {
			return fmt.Errorf("member %d: %w", k, err)
		}
	}
	return nil
}

// SameShape returns an error naming the first difference that keeps b out
// of a population with a: input count, multiplexing, layer count, and per
// layer its sizes, bias spike count, delay kind and neuron regime. Weights,
// delays, bias times and the other neuron parameters may differ.
func SameShape(a, b *Network) error {
	if a == nil || b == nil {
		return errors.New("network is nil")
	}
	if a.Inputs != b.Inputs {
		return fmt.Errorf("%d inputs, not %d", b.Inputs, a.Inputs)
	}
	if a.multiplex() != b.multiplex() {
		return fmt.Errorf("multiplex %d, not %d", b.multiplex(), a.multiplex())
	}
	if len(a.Layers) != len(b.Layers) {
		return fmt.Errorf("%d layers, not %d", len(b.Layers), len(a.Layers))
	}
	for i := range a.Layers {
		la, lb := &a.Layers[i], &b.Layers[i]
		switch {
		case la.In != lb.In || la.Out != lb.Out:
			return fmt.Errorf("layer %d is %d x %d, not %d x %d", i, lb.In, lb.Out, la.In, la.Out)
		case len(la.BiasTimes) != len(lb.BiasTimes):
			return fmt.Errorf("layer %d has %d bias spikes, not %d", i, len(lb.BiasTimes), len(la.BiasTimes))
		case la.Delay != lb.Delay:
			return fmt.Errorf("layer %d has %v delays, not %v", i, lb.Delay, la.Delay)
		}
		ra, erra := la.Neuron.Regime()
		rb, errb := lb.Neuron.Regime()
		if erra == nil && errb == nil && ra != rb {
			return fmt.Errorf("layer %d has %v, not %v", i, rb, ra)
		}
	}
	return nil
}

// PopArg is a per-member argument of a population call, for
// CheckPopulation: its name and how many values it was given.
type PopArg struct {
	Name string
	N    int
}

// CheckPopulation checks a population call for every engine: that it has
// a member, that each per-member argument in args has one value per
// network, that every member is valid and of member 0's shape, and, with
// size (which checks member m's batch arguments and returns its batch
// size), each member's batch. It returns the sample offsets: member m
// holds samples off[m] <= s < off[m+1] of the members' batches laid end
// to end. Its errors name the member, unless there is only one.
func CheckPopulation(nets []*Network, args []PopArg, size func(m int) (int, error)) (off []int, err error) {
	if err := checkPop(nets, args...); err != nil {
		return nil, err
	}
	off = make([]int, len(nets)+1)
	for m := range nets {
		b, err := size(m)
		if err != nil {
			return nil, memberErr(len(nets), m, err)
		}
		off[m+1] = off[m] + b
	}
	return off, nil
}

// checkPop is CheckPopulation without the batches.
func checkPop(nets []*Network, args ...PopArg) error {
	if len(nets) == 0 {
		return errors.New("population has no members")
	}
	for _, a := range args {
		if a.N != len(nets) {
			return fmt.Errorf("population of %d networks given %d %s", len(nets), a.N, a.Name)
		}
	}
	for k, net := range nets {
		if err := net.Validate(); err != nil {
			return memberErr(len(nets), k, err)
		}
		if k > 0 {
			if err := SameShape(nets[0], net); err != nil {
				return fmt.Errorf("member %d is not of member 0's shape: %w", k, err)
			}
		}
	}
	return nil
}

var _ PopEngine = (*CPU)(nil)
