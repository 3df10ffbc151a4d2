//go:build cuda

package kernels

/*
#cgo CFLAGS: -I${SRCDIR}
#cgo LDFLAGS: -ldl -L/usr/lib/x86_64-linux-gnu/stubs
#include "delgrad.cuh"
int dg_cuinit_status(void);
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/cu"
	"gorgonia.org/tensor"
)

// Available reports whether a CUDA device can be used: nil, or an error
// that says why not (no driver, a driver stub, no device).
func Available() error {
	if st := C.dg_cuinit_status(); st != 0 {
		return fmt.Errorf("kernels: the CUDA driver did not initialise (cuInit returned CUresult %d): no usable NVIDIA driver or GPU on this machine", int(st))
	}
	n, err := cu.NumDevices()
	if err != nil {
		return fmt.Errorf("kernels: counting CUDA devices: %w", err)
	}
	if n < 1 {
		return errors.New("kernels: the CUDA driver reports no device")
	}
	return nil
}

// GPU is a batch.Engine that runs the DelGrad kernels on CUDA device 0.
// Device buffers are allocated on first use and reused (grown when a
// larger batch or layer needs more). Calls are serialised.
type GPU struct {
	mu   sync.Mutex
	ctx  cu.CUContext
	mod  cu.Module
	fns  map[string]cu.Function
	bufs map[string]buffer
	// Name is the device's name; Arch its compute capability (major*10+minor).
	Name string
	Arch int
}

type buffer struct {
	ptr   cu.DevicePtr
	bytes int64
}

// NewGPU creates a context on device 0 and loads the kernels' PTX for its
// architecture (compute_90 for Hopper and later, compute_80 otherwise).
func NewGPU() (*GPU, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev, err := cu.GetDevice(0)
	if err != nil {
		return nil, fmt.Errorf("kernels: device 0: %w", err)
	}
	g := &GPU{fns: map[string]cu.Function{}, bufs: map[string]buffer{}}
	if g.Name, err = dev.Name(); err != nil {
		return nil, fmt.Errorf("kernels: device name: %w", err)
	}
	maj, err := dev.Attribute(cu.ComputeCapabilityMajor)
	if err != nil {
		return nil, fmt.Errorf("kernels: compute capability: %w", err)
	}
	mnr, err := dev.Attribute(cu.ComputeCapabilityMinor)
	if err != nil {
		return nil, fmt.Errorf("kernels: compute capability: %w", err)
	}
	g.Arch = 10*maj + mnr
	if g.Arch < 80 {
		return nil, fmt.Errorf("kernels: %s has compute capability %d.%d; the kernels need 8.0 or newer", g.Name, maj, mnr)
	}
	if g.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return nil, fmt.Errorf("kernels: context: %w", err)
	}
	ptx := PTX80
	if g.Arch >= 90 {
		ptx = PTX90
	}
	if g.mod, err = cu.LoadData(ptx); err != nil {
		return nil, fmt.Errorf("kernels: loading the PTX (compute_%d) into %s: %w", min(g.Arch, 90)/10*10, g.Name, err)
	}
	for _, name := range kernelNames {
		f, err := g.mod.Function(name)
		if err != nil {
			return nil, fmt.Errorf("kernels: kernel %s: %w", name, err)
		}
		g.fns[name] = f
	}
	return g, nil
}

var kernelNames = []string{"dg_mux", "dg_fwd_prepare", "dg_fwd_spike", "dg_clean", "dg_syn_exps", "dg_bwd_prepare",
	"dg_bwd_neuron", "dg_bwd_input", "dg_bwd_weight", "dg_colsum", "dg_dendsum", "dg_count_clipped", "dg_unmux"}

// Close frees the device buffers and the context.
func (g *GPU) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(g.ctx); err != nil {
		return fmt.Errorf("kernels: close: %w", err)
	}
	var first error
	for name, b := range g.bufs {
		if err := cu.MemFree(b.ptr); err != nil && first == nil {
			first = fmt.Errorf("kernels: freeing %s: %w", name, err)
		}
	}
	g.bufs = map[string]buffer{}
	if err := g.ctx.Destroy(); err != nil && first == nil {
		first = fmt.Errorf("kernels: destroying the context: %w", err)
	}
	return first
}

// enter binds the context to this goroutine's thread for one call.
func (g *GPU) enter() error {
	g.mu.Lock()
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(g.ctx); err != nil {
		g.leave()
		return fmt.Errorf("kernels: binding the context: %w", err)
	}
	return nil
}

func (g *GPU) leave() {
	runtime.UnlockOSThread()
	g.mu.Unlock()
}

// buf returns the device buffer called name with at least n bytes.
func (g *GPU) buf(name string, n int64) (cu.DevicePtr, error) {
	n = max(n, 8)
	if b, ok := g.bufs[name]; ok && b.bytes >= n {
		return b.ptr, nil
	} else if ok {
		if err := cu.MemFree(b.ptr); err != nil {
			return 0, fmt.Errorf("kernels: freeing %s: %w", name, err)
		}
		delete(g.bufs, name)
	}
	p, err := cu.MemAlloc(n)
	if err != nil {
		return 0, fmt.Errorf("kernels: allocating %d bytes for %s: %w", n, name, err)
	}
	g.bufs[name] = buffer{p, n}
	return p, nil
}

// upload copies v (float64s, C structs) into the buffer called name.
func (g *GPU) upload(name string, src unsafe.Pointer, n int64) (cu.DevicePtr, error) {
	p, err := g.buf(name, n)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		if err := cu.MemcpyHtoD(p, src, n); err != nil {
			return 0, fmt.Errorf("kernels: copying %s to the device: %w", name, err)
		}
	}
	return p, nil
}

func (g *GPU) uploadF(name string, v []float64) (cu.DevicePtr, error) {
	if len(v) == 0 {
		return g.buf(name, 8)
	}
	return g.upload(name, unsafe.Pointer(&v[0]), int64(8*len(v)))
}

func (g *GPU) download(dst []float64, src cu.DevicePtr, what string) error {
	if len(dst) == 0 {
		return nil
	}
	if err := cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), src, int64(8*len(dst))); err != nil {
		return fmt.Errorf("kernels: copying %s from the device: %w", what, err)
	}
	return nil
}

const blockSize = 128

// launch runs kernel name on n threads with args (cu.DevicePtr, int64 or
// float64: one 8-byte word each, as gorgonia.org/cu passes them).
func (g *GPU) launch(name string, n int64, args ...any) error {
	if n <= 0 {
		return nil
	}
	words := make([]uint64, len(args))
	params := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case cu.DevicePtr:
			words[i] = uint64(v)
		case int64:
			words[i] = uint64(v)
		case int:
			words[i] = uint64(int64(v))
		case float64:
			words[i] = math.Float64bits(v)
		default:
			return fmt.Errorf("kernels: %s: argument %d has type %T", name, i, a)
		}
		params[i] = unsafe.Pointer(&words[i])
	}
	grid := (n + blockSize - 1) / blockSize
	if err := g.fns[name].Launch(int(grid), 1, 1, blockSize, 1, 1, 0, cu.Stream{}, params); err != nil {
		return fmt.Errorf("kernels: launching %s on %d threads: %w", name, n, err)
	}
	return nil
}

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

// params uploads layer l's constants, weights, delays and bias times.
func (g *GPU) params(li int, l *batch.Layer) (lp, w, d, bias cu.DevicePtr, err error) {
	cl, err := layerC(l)
	if err != nil {
		return
	}
	if lp, err = g.upload(fmt.Sprintf("L%d", li), unsafe.Pointer(&cl), int64(C.sizeof_dg_layer)); err != nil {
		return
	}
	if w, err = g.uploadF(fmt.Sprintf("w%d", li), l.W()); err != nil {
		return
	}
	if d, err = g.uploadF(fmt.Sprintf("d%d", li), l.D()); err != nil {
		return
	}
	bias, err = g.uploadF(fmt.Sprintf("bias%d", li), l.BiasTimes)
	return
}

func shapeOK(t *tensor.Dense, b, n int) bool {
	return t != nil && t.Dtype() == tensor.Float64 && len(t.Shape()) == 2 && t.Shape()[0] == b && t.Shape()[1] == n
}

// Forward implements batch.Engine.
func (g *GPU) Forward(net *batch.Network, input *tensor.Dense, tr *batch.Trace) error {
	if err := net.Validate(); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	if input == nil || len(input.Shape()) != 2 || !shapeOK(input, input.Shape()[0], net.Inputs) {
		return fmt.Errorf("forward: input times must be a float64 (batch, %d) tensor", net.Inputs)
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
		if !shapeOK(tr.Times[i], b, n) {
			tr.Times[i] = batch.NewTimes(b, n)
		}
	}
	if err := g.enter(); err != nil {
		return err
	}
	defer g.leave()
	mux := int64(max(net.Multiplex, 1))
	x, err := g.uploadF("x", in)
	if err != nil {
		return err
	}
	t0, err := g.buf("t0", int64(8*b*sizes[0]))
	if err != nil {
		return err
	}
	if err := g.launch("dg_mux", int64(b*sizes[0]), int64(b), int64(net.Inputs), mux, x, t0); err != nil {
		return err
	}
	prev := t0
	for li := range net.Layers {
		l := &net.Layers[li]
		lp, w, d, bias, err := g.params(li, l)
		if err != nil {
			return fmt.Errorf("forward: layer %d: %w", li, err)
		}
		per := int64(b)
		if l.Delay == batch.Synaptic {
			per *= int64(l.Out)
		}
		n := per * int64(l.Rows())
		var s [7]cu.DevicePtr
		for i, name := range []string{"su", "e1", "te1", "e2", "ref", "shift"} {
			if s[i], err = g.buf(name, 8*n); err != nil {
				return err
			}
		}
		if s[6], err = g.buf("sidx", 4*n); err != nil {
			return err
		}
		cnt, err := g.buf("cnt", 4*per)
		if err != nil {
			return err
		}
		out, err := g.buf(fmt.Sprintf("t%d", li+1), int64(8*b*l.Out))
		if err != nil {
			return err
		}
		if err := g.launch("dg_fwd_prepare", per, lp, int64(b), prev, d, bias, s[0], s[6], s[1], s[2], s[3], s[4], s[5], cnt); err != nil {
			return err
		}
		if err := g.launch("dg_fwd_spike", int64(b*l.Out), lp, int64(b), s[0], s[6], s[1], s[2], s[3], s[4], s[5], cnt, w, d, out); err != nil {
			return err
		}
		prev = out
	}
	for i := range sizes {
		p := g.bufs[fmt.Sprintf("t%d", i)].ptr
		if err := g.download(tr.Times[i].Float64s(), p, fmt.Sprintf("the times of layer %d", i)); err != nil {
			return err
		}
	}
	return nil
}

// Backward implements batch.Engine.
func (g *GPU) Backward(net *batch.Network, tr *batch.Trace, dOut *tensor.Dense, gr *batch.Gradients) error {
	if err := net.Validate(); err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	if tr == nil || len(tr.Times) != len(net.Layers)+1 {
		return errors.New("backward: the trace does not fit the network: run Forward first")
	}
	b := tr.Batch()
	if !shapeOK(tr.Times[0], b, net.Layers[0].In) {
		return fmt.Errorf("backward: trace input has shape %v, want (%d, %d)", tr.Times[0].Shape(), b, net.Layers[0].In)
	}
	for l := range net.Layers {
		if !shapeOK(tr.Times[l+1], b, net.Layers[l].Out) {
			return fmt.Errorf("backward: trace of layer %d has shape %v, want (%d, %d)", l, tr.Times[l+1].Shape(), b, net.Layers[l].Out)
		}
	}
	if !shapeOK(dOut, b, net.Outputs()) {
		return fmt.Errorf("backward: dL/d(output times) has shape %v, want (%d, %d)", dOut.Shape(), b, net.Outputs())
	}
	*gr = *batch.NewGradients(net, b)
	if err := g.enter(); err != nil {
		return err
	}
	defer g.leave()
	times := make([]cu.DevicePtr, len(tr.Times))
	for i, t := range tr.Times {
		var err error
		if times[i], err = g.uploadF(fmt.Sprintf("t%d", i), t.Float64s()); err != nil {
			return err
		}
	}
	raw, err := g.uploadF("dout", dOut.Float64s())
	if err != nil {
		return err
	}
	delta, err := g.buf("delta", int64(8*b*net.Outputs()))
	if err != nil {
		return err
	}
	if err := g.launch("dg_clean", int64(b*net.Outputs()), int64(b*net.Outputs()), raw, delta); err != nil {
		return err
	}
	for li := len(net.Layers) - 1; li >= 0; li-- {
		l := &net.Layers[li]
		lp, w, d, bias, err := g.params(li, l)
		if err != nil {
			return fmt.Errorf("backward: layer %d: %w", li, err)
		}
		R, K, I := int64(l.Rows()), int64(l.Out), int64(l.In)
		B := int64(b)
		u, err1 := g.buf("u", 8*B*R)
		e1, err2 := g.buf("be1", 8*B*R)
		e2, err3 := g.buf("be2", 8*B*R)
		ref, err4 := g.buf("bref", 8*B)
		wide, err5 := g.buf("wide", 4*B)
		st, err6 := g.buf("st", B*K*int64(C.sizeof_dg_nstate))
		gin, err7 := g.buf(fmt.Sprintf("gin%d", li%2), 8*B*I)
		dW, err8 := g.buf("dW", 8*R*K)
		nd := int64(len(l.D()))
		dD, err9 := g.buf("dD", 8*max(nd, 1))
		ed1, err10 := g.buf("ed1", 8*max(I*K, 1))
		ed2, err11 := g.buf("ed2", 8*max(I*K, 1))
		clip, err12 := g.buf("clipped", 4)
		if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11, err12); err != nil {
			return err
		}
		dspan := 0.0
		if l.Delay == batch.Synaptic {
			dmin, dmax := math.Inf(1), math.Inf(-1)
			for _, v := range l.D() {
				v /= l.Neuron.TauSyn
				dmin, dmax = min(dmin, v), max(dmax, v)
			}
			dspan = max(math.Abs(dmin), math.Abs(dmax))
			if err := g.launch("dg_syn_exps", I*K, lp, d, ed1, ed2); err != nil {
				return err
			}
		}
		steps := []struct {
			name string
			n    int64
			args []any
		}{
			{"dg_bwd_prepare", B, []any{lp, B, times[li], d, bias, dspan, u, e1, e2, ref, wide}},
			{"dg_bwd_neuron", B * K, []any{lp, B, u, e1, e2, ref, wide, ed1, ed2, w, d, times[li+1], delta, st}},
			{"dg_bwd_input", B * I, []any{lp, B, u, e1, e2, wide, ed1, ed2, w, d, st, gin}},
			{"dg_bwd_weight", R * K, []any{lp, B, u, e1, e2, wide, ed1, ed2, w, d, st, dW, dD}},
		}
		for _, s := range steps {
			if err := g.launch(s.name, s.n, s.args...); err != nil {
				return err
			}
		}
		switch l.Delay {
		case batch.Axonal:
			err = g.launch("dg_colsum", I, B, I, gin, dD)
		case batch.Dendritic:
			err = g.launch("dg_dendsum", K, B, K, st, dD)
		}
		if err != nil {
			return err
		}
		if err := cu.MemsetD32(clip, 0, 1); err != nil {
			return fmt.Errorf("kernels: clearing the clip counter: %w", err)
		}
		if err := g.launch("dg_count_clipped", B*K, B*K, st, clip); err != nil {
			return err
		}
		if err := g.download(gr.Weights[li].Float64s(), dW, fmt.Sprintf("dW of layer %d", li)); err != nil {
			return err
		}
		if nd > 0 {
			if err := g.download(gr.Delays[li].Float64s(), dD, fmt.Sprintf("dD of layer %d", li)); err != nil {
				return err
			}
		}
		var nclip int32
		if err := cu.MemcpyDtoH(unsafe.Pointer(&nclip), clip, 4); err != nil {
			return fmt.Errorf("kernels: copying the clip count from the device: %w", err)
		}
		gr.Clipped[li] = int(nclip)
		delta = gin
	}
	F := int64(net.Inputs)
	gi, err := g.buf("gi", 8*int64(b)*F)
	if err != nil {
		return err
	}
	if err := g.launch("dg_unmux", int64(b)*F, int64(b), F, int64(max(net.Multiplex, 1)), delta, gi); err != nil {
		return err
	}
	return g.download(gr.Input.Float64s(), gi, "the input gradient")
}
