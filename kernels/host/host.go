//go:build cgo

// Package host runs the CUDA kernels of package kernels on the CPU: the
// kernel bodies of kernels/delgrad.cuh, compiled by the C compiler through
// cgo, each launch a loop over its threads, behind the same launcher
// (kernels.Engine) that drives the GPU. Its tests hold the result against
// the Go engine of package batch, so the kernels' math and the launcher's
// buffers, argument lists and launch sizes are checked on machines without
// a GPU; the GPU run then only has to prove the CUDA device itself.
package host

// #cgo CFLAGS: -O2 -I${SRCDIR}
// #cgo LDFLAGS: -lm
// #include <stdlib.h>
// #include <string.h>
// #include "host.h"
import "C"

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/delgrad-go/delgrad/kernels"
)

// New returns a kernels.Engine on the CPU device.
func New() *kernels.Engine { return kernels.NewEngine(&Device{mem: map[kernels.Ptr]allocation{}}) }

// Device is a kernels.Device in C memory on the CPU.
type Device struct {
	mu  sync.Mutex
	mem map[kernels.Ptr]allocation
}

type allocation struct {
	p     unsafe.Pointer
	bytes int64
}

// Alloc implements kernels.Device. Like cuMemAlloc's, the memory is not
// zeroed: it is filled with 0xff bytes (NaN as float64, -1 as int), so that
// code relying on zeroed device memory fails here too.
func (d *Device) Alloc(n int64) (kernels.Ptr, error) {
	p := C.malloc(C.size_t(n))
	if p == nil {
		return 0, fmt.Errorf("out of memory (%d bytes)", n)
	}
	C.memset(p, 0xff, C.size_t(n))
	d.mu.Lock()
	defer d.mu.Unlock()
	k := kernels.Ptr(uintptr(p))
	d.mem[k] = allocation{p, n}
	return k, nil
}

// Free implements kernels.Device.
func (d *Device) Free(p kernels.Ptr) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.mem[p]
	if !ok {
		return fmt.Errorf("free of unknown pointer %#x", uint64(p))
	}
	C.free(m.p)
	delete(d.mem, p)
	return nil
}

// ptr returns the memory at p, the start of an allocation or an address
// inside one (as a CUDA device pointer may be).
func (d *Device) ptr(p kernels.Ptr) (unsafe.Pointer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m, ok := d.mem[p]; ok {
		return m.p, nil
	}
	for base, m := range d.mem {
		if p > base && int64(p-base) < m.bytes {
			return unsafe.Add(m.p, p-base), nil
		}
	}
	return nil, fmt.Errorf("unknown device pointer %#x", uint64(p))
}

// HtoD implements kernels.Device.
func (d *Device) HtoD(p kernels.Ptr, src unsafe.Pointer, n int64) error {
	m, err := d.ptr(p)
	if err != nil {
		return err
	}
	C.memcpy(m, src, C.size_t(n))
	return nil
}

// DtoH implements kernels.Device.
func (d *Device) DtoH(dst unsafe.Pointer, p kernels.Ptr, n int64) error {
	m, err := d.ptr(p)
	if err != nil {
		return err
	}
	C.memcpy(dst, m, C.size_t(n))
	return nil
}

// nullable names the pointer arguments that a kernel may be given as 0
// (no such buffer); any other null pointer is an error, as a missing
// buffer would be on the device.
var nullable = map[string]map[int]bool{
	"dg_fwd_spike":    {13: true},
	"dg_fwd_spike_w":  {13: true},
	"dg_bwd_neuron":   {14: true},
	"dg_bwd_neuron_w": {14: true},
	"dg_batch_in":     {9: true, 10: true},
}

// Launch implements kernels.Device: it runs the kernel's body for threads
// 0..n-1, passing the arguments in the order the launcher gave them.
func (d *Device) Launch(name string, n int64, args ...any) error {
	if err := kernels.CheckArgs(name, args); err != nil {
		return err
	}
	a := make([]unsafe.Pointer, len(args))
	var ll []C.longlong
	var dd []C.double
	for i, v := range args {
		switch v := v.(type) {
		case kernels.Ptr:
			if v == 0 { // a null pointer, where the kernel takes one
				if !nullable[name][i] {
					return fmt.Errorf("%s argument %d: null pointer", name, i)
				}
				continue
			}
			m, err := d.ptr(v)
			if err != nil {
				return fmt.Errorf("%s argument %d: %w", name, i, err)
			}
			a[i] = m
		case int64:
			ll = append(ll, C.longlong(v))
		case float64:
			dd = append(dd, C.double(v))
		}
	}
	pd := func(i int) *C.double { return (*C.double)(a[i]) }
	pi := func(i int) *C.int { return (*C.int)(a[i]) }
	pl := func(i int) *C.dg_layer { return (*C.dg_layer)(a[i]) }
	ps := func(i int) *C.dg_nstate { return (*C.dg_nstate)(a[i]) }
	pm := func(i int) *C.dg_pmember { return (*C.dg_pmember)(a[i]) }
	N := C.longlong(n)
	switch name {
	case "dg_mux":
		C.emu_dg_mux(N, ll[0], ll[1], ll[2], pd(3), pd(4))
	case "dg_fwd_rank":
		C.emu_dg_fwd_rank(N, pl(0), ll[0], pd(2), pd(3), pd(4), pd(5), pi(6), pi(7))
	case "dg_fwd_rank_w":
		C.emu_dg_fwd_rank_w(N, pl(0), ll[0], pd(2), pd(3), pd(4), pd(5), pi(6), pi(7))
	case "dg_fwd_exps":
		C.emu_dg_fwd_exps(N, ll[0], ll[1], pd(2), pi(3), pd(4), pd(5), pd(6), pd(7), pd(8))
	case "dg_fwd_spike":
		C.emu_dg_fwd_spike(N, pl(0), ll[0], pd(2), pi(3), pd(4), pd(5), pd(6), pd(7), pd(8), pi(9), pd(10), pd(11), pd(12), pd(13))
	case "dg_fwd_spike_w":
		C.emu_dg_fwd_spike_w(N, pl(0), ll[0], pd(2), pi(3), pd(4), pd(5), pd(6), pd(7), pd(8), pi(9), pd(10), pd(11), pd(12), pd(13))
	case "dg_clean":
		C.emu_dg_clean(N, ll[0], pd(1), pd(2))
	case "dg_syn_exps":
		C.emu_dg_syn_exps(N, pl(0), pd(1), pd(2), pd(3))
	case "dg_bwd_range":
		C.emu_dg_bwd_range(N, pl(0), ll[0], pd(2), pd(3), pd(4), pd(5), pd(6), pi(7))
	case "dg_bwd_rows":
		C.emu_dg_bwd_rows(N, pl(0), ll[0], pd(2), pd(3), pd(4), pd(5), pi(6), pd(7), pd(8), pd(9))
	case "dg_bwd_rows_w":
		C.emu_dg_bwd_rows_w(N, pl(0), ll[0], pd(2), pd(3), pd(4), pd(5), pd(6), pi(7), pd(8), pd(9), pd(10))
	case "dg_bwd_neuron":
		C.emu_dg_bwd_neuron(N, pl(0), ll[0], pd(2), pd(3), pd(4), pd(5), pi(6), pd(7), pd(8), pd(9), pd(10), pd(11), pd(12), ps(13), pd(14))
	case "dg_bwd_neuron_w":
		C.emu_dg_bwd_neuron_w(N, pl(0), ll[0], pd(2), pd(3), pd(4), pd(5), pi(6), pd(7), pd(8), pd(9), pd(10), pd(11), pd(12), ps(13), pd(14))
	case "dg_bwd_input":
		C.emu_dg_bwd_input(N, pl(0), ll[0], pd(2), pd(3), pd(4), pi(5), pd(6), pd(7), pd(8), pd(9), ps(10), pd(11))
	case "dg_bwd_weight":
		C.emu_dg_bwd_weight(N, pl(0), ll[0], ll[1], pd(3), pd(4), pd(5), pi(6), pd(7), pd(8), pd(9), pd(10), ps(11), pd(12), pd(13))
	case "dg_chunksum":
		C.emu_dg_chunksum(N, ll[0], ll[1], ll[2], pd(3), pd(4))
	case "dg_colsum":
		C.emu_dg_colsum(N, ll[0], ll[1], ll[2], ll[3], pd(4), pd(5))
	case "dg_dendsum":
		C.emu_dg_dendsum(N, ll[0], ll[1], ll[2], ll[3], ps(4), pd(5))
	case "dg_clipsum":
		C.emu_dg_clipsum(N, ll[0], ll[1], ll[2], ll[3], ps(4), pd(5))
	case "dg_unmux":
		C.emu_dg_unmux(N, ll[0], ll[1], ll[2], pd(3), pd(4))
	case "dg_sync_w":
		C.emu_dg_sync_w(N, ll[0], dd[0], pd(2), pd(3))
	case "dg_sync_d":
		C.emu_dg_sync_d(N, ll[0], ll[1], dd[0], dd[1], pd(4), pd(5))
	case "dg_silent":
		C.emu_dg_silent(N, ll[0], ll[1], ll[2], ll[3], pd(4), pd(5))
	case "dg_loss":
		C.emu_dg_loss(N, ll[0], ll[1], ll[2], dd[0], dd[1], dd[2], dd[3], pd(7), pi(8), pd(9), pd(10), pd(11))
	case "dg_decide":
		C.emu_dg_decide(N, ll[0], ll[1], ll[2], pd(3), pd(4), pd(5), pd(6))
	case "dg_update_if":
		C.emu_dg_update_if(N, ll[0], dd[0], dd[1], dd[2], pd(4), ll[1], ll[2], pd(7), pd(8), pd(9), pd(10), pd(11),
			ll[3], dd[3], dd[4], pd(15), ll[4], ll[5], ll[6], pd(19), ll[7])
	case "dg_batch_in":
		C.emu_dg_batch_in(N, ll[0], ll[1], ll[2], pd(3), pd(4), pi(5), pd(6), pi(7), ll[3], pd(9), pd(10), ll[4])
	case "dg_accum":
		C.emu_dg_accum(N, ll[0], ll[1], ll[2], pd(3), pd(4), pd(5))
	case "dg_clean_if":
		C.emu_dg_clean_if(N, ll[0], ll[1], pd(2), pd(3), pd(4))
	case "dg_pert_rank":
		C.emu_dg_pert_rank(N, ll[0], ll[1], pm(2), pd(3), pd(4), pi(5), pi(6))
	case "dg_pert_spike":
		C.emu_dg_pert_spike(N, ll[0], ll[1], pm(2), pd(3), pd(4), pi(5), pi(6), pd(7))
	default:
		return fmt.Errorf("kernel %s has no CPU emulation", name)
	}
	return nil
}

// structSizes returns sizeof(dg_layer), sizeof(dg_nstate) and
// sizeof(dg_pmember) (tests).
func structSizes() (layer, nstate, pmember int) {
	return int(C.sizeof_dg_layer), int(C.sizeof_dg_nstate), int(C.sizeof_dg_pmember)
}

// pmemberFields reads an encoded dg_pmember through the C struct (tests):
// its 15 long long fields in order, and unit.
func pmemberFields(b []byte) (ints [15]int64, unit float64) {
	p := (*C.dg_pmember)(unsafe.Pointer(&b[0]))
	ints = [15]int64{int64(p.b), int64(p.in), int64(p.out), int64(p.rows), int64(p.x), int64(p.ad), int64(p.bias),
		int64(p.w), int64(p.tm), int64(p.ts), int64(p.th), int64(p.dd), int64(p.e0), int64(p.g0), int64(p.o0)}
	return ints, float64(p.unit)
}

// perturbedSpike calls the kernels' dg_perturbed_spike on n inputs at
// times ts, with weights w[m] (rows nil) or w[rows[m]*stride] (tests).
func perturbedSpike(tauMem, tauSyn, unit, theta float64, ts, w []float64, rows []int32, stride int) float64 {
	n := len(ts)
	if n == 0 {
		return float64(C.emu_perturbed_spike(C.double(tauMem), C.double(tauSyn), C.double(unit), C.double(theta), nil, nil, nil, 0, 0))
	}
	var pr *C.int
	if rows != nil {
		pr = (*C.int)(unsafe.Pointer(&rows[0]))
	}
	return float64(C.emu_perturbed_spike(C.double(tauMem), C.double(tauSyn), C.double(unit), C.double(theta),
		(*C.double)(unsafe.Pointer(&ts[0])), (*C.double)(unsafe.Pointer(&w[0])), pr, C.longlong(stride), C.int(n)))
}

// layerFields reads an encoded dg_layer through the C struct (tests).
func layerFields(b []byte) (ints [7]int, floats [4]float64) {
	l := (*C.dg_layer)(unsafe.Pointer(&b[0]))
	ints = [7]int{int(l.in), int(l.out), int(l.rows), int(l.nbias), int(l.delay), int(l.regime), int(l.nmem)}
	floats = [4]float64{float64(l.tau), float64(l.c), float64(l.eps), float64(l.maxdwnorm)}
	return ints, floats
}

// dgExp, dgLog and dgExpm1 call the kernels' dg_exp, dg_log and dg_expm1,
// compiled as the kernels are (tests).
func dgExp(x float64) float64   { return float64(C.emu_exp(C.double(x))) }
func dgLog(x float64) float64   { return float64(C.emu_log(C.double(x))) }
func dgExpm1(x float64) float64 { return float64(C.emu_expm1(C.double(x))) }
