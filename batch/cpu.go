package batch

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/delgrad-go/delgrad/internal/xmath"

	"gorgonia.org/tensor"
)

// CPU is the pure-Go engine. It parallelises over samples (forward) and
// over weight rows (the batch reduction of backward) on its workers; its
// results are bitwise identical whatever the number of workers. A CPU engine
// keeps scratch buffers between calls, so use one per goroutine.
type CPU struct {
	workers int
	scratch []prefix // one per worker
	lb      layerBuf
}

// NewCPU returns a CPU engine with the given number of workers; workers <= 0
// means one per available core (GOMAXPROCS).
func NewCPU(workers int) *CPU {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &CPU{workers: workers, scratch: make([]prefix, workers)}
}

// Workers returns the number of goroutines the engine uses.
func (e *CPU) Workers() int { return e.workers }

// grain is the number of samples (or weight rows) a worker takes at a time.
const grain = 8

// SumChunk returns the number of consecutive samples that a batch sum of b
// samples into each of n outputs adds into one partial sum; the partials
// are then added in order. Every engine sums so (the kernels do it in
// parallel over chunks), so that the CPU and the GPU round alike. Chunks
// are 8 samples, doubled while there would be more than 1024 of them or
// their partials of the n outputs would pass 2^22 values; one chunk when
// the n outputs alone give the GPU enough work.
func SumChunk(b, n int) int {
	if n >= 1<<16 {
		return max(b, 1)
	}
	c := 8
	for c < b && ((b+c-1)/c*n > 1<<22 || (b+c-1)/c > 1024) {
		c *= 2
	}
	return c
}

// chunkSums sets out[j] to the sum over s < b of x[s*n+j] (j < n), in
// SumChunk's chunks.
func chunkSums(out, x []float64, b, n int) {
	chunk := SumChunk(b, n)
	part := make([]float64, n)
	for j := range out {
		out[j] = 0
	}
	for s := 0; s < b; s++ {
		if s > 0 && s%chunk == 0 {
			for j := range part {
				out[j] += part[j]
				part[j] = 0
			}
		}
		for j := range part {
			part[j] += x[s*n+j]
		}
	}
	for j := range part {
		out[j] += part[j]
	}
}

// parallel runs fn over [0, n) in chunks on the engine's workers; fn gets
// the worker index, which selects its scratch.
func (e *CPU) parallel(n int, fn func(worker, lo, hi int)) {
	workers := min(e.workers, (n+grain-1)/grain)
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(grain)) - grain
				if lo >= n {
					return
				}
				fn(w, lo, min(lo+grain, n))
			}
		}()
	}
	wg.Wait()
}

// Forward implements Engine.
func (e *CPU) Forward(net *Network, input *tensor.Dense, tr *Trace) error {
	if err := net.Validate(); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	b, err := CheckInput(net, input)
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	in := input.Float64s()
	tr.Reshape(net, b)
	mux := net.multiplex()
	x := tr.Times[0].Float64s()
	for i, t := range in {
		for r := 0; r < mux; r++ {
			x[i*mux+r] = t
		}
	}
	for l := range net.Layers {
		e.forwardLayer(&net.Layers[l], tr.Times[l].Float64s(), tr.Times[l+1].Float64s(), b)
	}
	return nil
}

// transpose returns the weights neuron-major (Out x Rows).
func transpose(l *Layer, dst []float64) []float64 {
	rows, out := l.Rows(), l.Out
	dst = grow(dst, rows*out)
	w := l.W()
	for i := 0; i < rows; i++ {
		for k := 0; k < out; k++ {
			dst[k*rows+i] = w[i*out+k]
		}
	}
	return dst
}

func (e *CPU) forwardLayer(l *Layer, in, out []float64, b int) {
	mo := newModel(l.Neuron)
	rows, nIn, nOut := l.Rows(), l.In, l.Out
	e.lb.wt = transpose(l, e.lb.wt)
	wt := e.lb.wt
	d := l.D()
	inv := 1 / mo.tau
	e.parallel(b, func(worker, lo, hi int) {
		p := &e.scratch[worker]
		for s := lo; s < hi; s++ {
			row := in[s*nIn : (s+1)*nIn]
			dst := out[s*nOut : (s+1)*nOut]
			if l.Delay == Synaptic {
				for k := 0; k < nOut; k++ {
					p.s = p.s[:0]
					for i, t := range row {
						if u := (t + d[i*nOut+k]) * inv; u < math.Inf(1) {
							p.s = append(p.s, spike{u, int32(i)})
						}
					}
					p.s = appendBias(p.s, l.BiasTimes, nIn, inv)
					p.prepare()
					dst[k] = mo.tau * mo.firstSpike(p, wt[k*rows:(k+1)*rows])
				}
				continue
			}
			p.s = p.s[:0]
			for i, t := range row {
				if l.Delay == Axonal {
					t += d[i]
				}
				if u := t * inv; u < math.Inf(1) {
					p.s = append(p.s, spike{u, int32(i)})
				}
			}
			p.s = appendBias(p.s, l.BiasTimes, nIn, inv)
			p.prepare()
			for k := 0; k < nOut; k++ {
				t := mo.tau * mo.firstSpike(p, wt[k*rows:(k+1)*rows])
				if l.Delay == Dendritic {
					t += d[k]
				}
				dst[k] = t
			}
		}
	})
}

func appendBias(s []spike, bias []float64, nIn int, inv float64) []spike {
	for j, t := range bias {
		s = append(s, spike{t * inv, int32(nIn + j)})
	}
	return s
}

// layerBuf holds the per-layer scratch of the backward pass, all O(B (N+M))
// except the synaptic delay exponentials (N x M, like the parameters).
type layerBuf struct {
	wt           []float64 // transposed weights (forward)
	u            []float64 // B x Rows effective scaled input times
	e1, e2       []float64 // B x Rows e^{u-ref_b}, e^{(u-ref_b)/2}
	ref          []float64 // B per-sample reference time
	wide         []bool    // B: sample spans more than wideSpan
	k1, k2, dk   []float64 // B x Out gradient factors and dL/d(output time)
	us, rf       []float64 // B x Out scaled output time, reference time
	act, clip    []bool    // B x Out: has gradient; weight gradient clipped
	dend         []float64 // B x Out dendritic delay gradient per sample
	ed1, ed2     []float64 // In x Out e^{d/tau}, e^{d/(2 tau)} (synaptic)
	gin, errNext []float64 // B x In propagated error
}

// weightRow adds one sample's terms of dL/dw to the partial sums pw (one
// per output neuron) of a weight row without synaptic delays: input time
// ui, the sample's neuron states from offset j0, its exponentials at offset
// r. The arithmetic is that of lb.exps and mo.grads, term for term; only
// the work whose result phase 2 drops (the propagated error) is left out,
// and the row's exponentials, which do not depend on the neuron unless the
// sample is wide, are read once.
func weightRow(mo model, pw []float64, ui float64, wide bool, lb *layerBuf, j0, r int) {
	n := len(pw)
	act, clip := lb.act[j0:j0+n], lb.clip[j0:j0+n]
	us, rf := lb.us[j0:j0+n], lb.rf[j0:j0+n]
	k1, k2, dk := lb.k1[j0:j0+n], lb.k2[j0:j0+n], lb.dk[j0:j0+n]
	x1, x2 := lb.e1[r], lb.e2[r]
	for k := range pw {
		// A clipped neuron adds nothing to the weight gradient.
		if !act[k] || clip[k] || !(ui <= us[k]) {
			continue
		}
		if wide {
			x1, x2 = xmath.Exp(ui-rf[k]), xmath.Exp((ui-rf[k])/2)
		}
		var dw float64
		if mo.regime == EqualTau {
			dw = k1[k] * x1 * (us[k] - ui)
		} else {
			dw = 2 * (k1[k]*x1 - k2[k]*x2)
		}
		pw[k] += dw * mo.tau * dk[k]
	}
}

// exps returns e^{ui-ref} and e^{(ui-ref)/2} for the input at index si of
// lb.e1 (sample-major) and, for synaptic delays, di of lb.ed1 (synaptic
// inputs). Both backward phases call it, so their terms agree to the bit.
func (lb *layerBuf) exps(wide, syn bool, ui, ref float64, si, di int) (x1, x2 float64) {
	switch {
	case wide:
		return xmath.Exp(ui - ref), xmath.Exp((ui - ref) / 2)
	case syn:
		return lb.e1[si] * lb.ed1[di], lb.e2[si] * lb.ed2[di]
	}
	return lb.e1[si], lb.e2[si]
}

func growBool(s []bool, n int) []bool {
	if cap(s) < n {
		return make([]bool, n)
	}
	return s[:n]
}

// Backward implements Engine.
func (e *CPU) Backward(net *Network, tr *Trace, dOut *tensor.Dense, g *Gradients) error {
	if err := net.Validate(); err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	b, err := CheckBackward(net, tr, dOut)
	if err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	g.Reshape(net, b)
	// The reference zeroes non-finite errors (a missing label spike).
	delta := make([]float64, len(dOut.Float64s()))
	for i, v := range dOut.Float64s() {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			delta[i] = v
		}
	}
	for l := len(net.Layers) - 1; l >= 0; l-- {
		gin := make([]float64, b*net.Layers[l].In)
		g.Clipped[l] = e.backwardLayer(&net.Layers[l], tr.Times[l].Float64s(), tr.Times[l+1].Float64s(),
			delta, gin, g.Weights[l].Float64s(), g.D(l), b)
		delta = gin
	}
	// Undo the multiplexing: a feature's gradient is the sum over its copies.
	mux := net.multiplex()
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

// D returns the backing slice of layer l's delay gradient, or nil.
func (g *Gradients) D(l int) []float64 {
	if g.Delays[l] == nil {
		return nil
	}
	return g.Delays[l].Float64s()
}

// backwardLayer writes the layer's weight and delay gradients (summed over
// the batch) and the error propagated to its inputs, gin (B x In). It
// returns the number of clipped (sample, neuron) pairs.
func (e *CPU) backwardLayer(l *Layer, in, out, delta, gin, dW, dD []float64, b int) int {
	mo := newModel(l.Neuron)
	rows, nIn, nOut := l.Rows(), l.In, l.Out
	w := l.W()
	d := l.D()
	inv := 1 / mo.tau
	lb := &e.lb
	lb.u, lb.e1, lb.e2 = grow(lb.u, b*rows), grow(lb.e1, b*rows), grow(lb.e2, b*rows)
	lb.ref, lb.wide = grow(lb.ref, b), growBool(lb.wide, b)
	n := b * nOut
	lb.k1, lb.k2, lb.dk, lb.us, lb.rf, lb.dend = grow(lb.k1, n), grow(lb.k2, n), grow(lb.dk, n), grow(lb.us, n), grow(lb.rf, n), grow(lb.dend, n)
	lb.act, lb.clip = growBool(lb.act, n), growBool(lb.clip, n)
	synaptic := l.Delay == Synaptic
	dmin, dmax := 0.0, 0.0
	if synaptic {
		lb.ed1, lb.ed2 = grow(lb.ed1, nIn*nOut), grow(lb.ed2, nIn*nOut)
		dmin, dmax = math.Inf(1), math.Inf(-1)
		for i, v := range d {
			v *= inv
			lb.ed1[i], lb.ed2[i] = xmath.Exp(v), xmath.Exp(v/2)
			dmin, dmax = min(dmin, v), max(dmax, v)
		}
	}
	// Phase 1, per sample: causal sums, gradient factors, propagated error.
	e.parallel(b, func(worker, lo, hi int) {
		p := &e.scratch[worker]
		for s := lo; s < hi; s++ {
			u := lb.u[s*rows : (s+1)*rows]
			umin, umax := math.Inf(1), math.Inf(-1)
			for i := 0; i < rows; i++ {
				var t float64
				if i < nIn {
					t = in[s*nIn+i]
					if l.Delay == Axonal {
						t += d[i]
					}
				} else {
					t = l.BiasTimes[i-nIn]
				}
				u[i] = t * inv
				if u[i] < math.Inf(1) {
					umin, umax = min(umin, u[i]), max(umax, u[i])
				}
			}
			ref := umin
			wide := umax-umin+max(math.Abs(dmin), math.Abs(dmax)) > wideSpan
			lb.ref[s], lb.wide[s] = ref, wide
			e1, e2 := lb.e1[s*rows:(s+1)*rows], lb.e2[s*rows:(s+1)*rows]
			if !wide {
				for i, ui := range u {
					e1[i], e2[i] = xmath.Exp(ui-umin), xmath.Exp((ui-umin)/2)
				}
			}
			gs := gin[s*nIn : (s+1)*nIn]
			// The rows with an input spike, in order. A row without one
			// takes no part in any sum below (each loop skips it before any
			// arithmetic, and its propagated error stays +0), so the
			// per-neuron loops run over these rows only.
			fin := p.fin[:0]
			for i, ui := range u {
				if ui < math.Inf(1) {
					fin = append(fin, int32(i))
				}
			}
			p.fin = fin
			p.dts = grow(p.dts, rows)
			dts := p.dts
			for k := 0; k < nOut; k++ {
				j := s*nOut + k
				lb.act[j], lb.clip[j], lb.dend[j] = false, false, 0
				dk := delta[j]
				tout := out[j]
				if l.Delay == Dendritic {
					tout -= d[k]
				}
				us := tout * inv
				if dk == 0 || math.IsNaN(us) || math.IsInf(us, 0) {
					continue
				}
				// Output shift: dL/d(dendritic delay) = delta.
				lb.dend[j] = dk
				rf := ref
				if wide {
					rf = us
				}
				x := func(i int, ui float64) (x1, x2 float64) {
					return lb.exps(wide, synaptic && i < nIn, ui, rf, s*rows+i, i*nOut+k)
				}
				a1, bb, a2 := mo.initSums(rf)
				for _, i32 := range fin {
					i := int(i32)
					ui := u[i]
					if synaptic && i < nIn {
						ui += d[i*nOut+k] * inv
					}
					if !(ui <= us) {
						continue
					}
					x1, x2 := x(i, ui)
					wi := w[i*nOut+k]
					a1 += wi * x1
					bb += wi * (ui - rf) * x1
					a2 += wi * x2
				}
				k1, k2, ok := mo.coef(a1, bb, a2, us, rf)
				if !ok {
					continue
				}
				// Terms of extreme inputs can overflow; such a neuron is treated
				// as one without a gradient, as the reference treats undefined W.
				maxdw, check := 0.0, 0.0
				for _, i32 := range fin {
					i := int(i32)
					ui := u[i]
					if synaptic && i < nIn {
						ui += d[i*nOut+k] * inv
					}
					dt := 0.0
					if ui <= us {
						x1, x2 := x(i, ui)
						var dw float64
						dw, dt = mo.grads(k1, k2, w[i*nOut+k], ui, x1, x2, us)
						maxdw = max(maxdw, math.Abs(dw*mo.tau*dk))
						dt *= dk
						check += dw*0 + dt*0
					}
					dts[i] = dt
				}
				if check != 0 || math.IsInf(maxdw, 0) || math.IsNaN(maxdw) {
					continue
				}
				for _, i32 := range fin {
					if i := int(i32); i < nIn {
						gs[i] += dts[i]
					}
				}
				lb.act[j] = true
				lb.clip[j] = l.MaxDWNorm > 0 && maxdw > l.MaxDWNorm
				lb.k1[j], lb.k2[j], lb.dk[j], lb.us[j], lb.rf[j] = k1, k2, dk, us, rf
			}
		}
	})
	// Phase 2, per weight row: the batch sums of dL/dw (and synaptic dL/dd),
	// each element summed in chunks of samples (SumChunk), as the kernels
	// sum them.
	for i := range dW {
		dW[i] = 0
	}
	for i := range dD {
		dD[i] = 0
	}
	chunk := SumChunk(b, rows*nOut)
	e.parallel(rows, func(_, lo, hi int) {
		part := make([]float64, 2*nOut)
		pw, pd := part[:nOut], part[nOut:]
		for i := lo; i < hi; i++ {
			syn := synaptic && i < nIn
			dwRow := dW[i*nOut : (i+1)*nOut]
			flush := func() {
				for k := range pw {
					dwRow[k] += pw[k]
					pw[k] = 0
				}
				if syn {
					for k := range pd {
						dD[i*nOut+k] += pd[k]
						pd[k] = 0
					}
				}
			}
			for s := 0; s < b; s++ {
				if s > 0 && s%chunk == 0 {
					flush()
				}
				ui0 := lb.u[s*rows+i]
				if !(ui0 < math.Inf(1)) {
					continue
				}
				wide := lb.wide[s]
				if !syn {
					weightRow(mo, pw, ui0, wide, lb, s*nOut, s*rows+i)
					continue
				}
				// A row with synaptic delays: each neuron sees its own input
				// time, and the delays' gradients are summed too.
				for k := 0; k < nOut; k++ {
					j := s*nOut + k
					if !lb.act[j] {
						continue
					}
					ui := ui0 + d[i*nOut+k]*inv
					us := lb.us[j]
					if !(ui <= us) {
						continue
					}
					x1, x2 := lb.exps(wide, true, ui, lb.rf[j], s*rows+i, i*nOut+k)
					// The same arithmetic as phase 1, which found every term finite.
					dw, dt := mo.grads(lb.k1[j], lb.k2[j], w[i*nOut+k], ui, x1, x2, us)
					if !lb.clip[j] {
						pw[k] += dw * mo.tau * lb.dk[j]
					}
					pd[k] += dt * lb.dk[j]
				}
			}
			flush()
		}
	})
	// Axonal and dendritic delays: batch sums of per-sample gradients.
	switch l.Delay {
	case Axonal:
		chunkSums(dD[:nIn], gin, b, nIn)
	case Dendritic:
		chunkSums(dD[:nOut], lb.dend, b, nOut)
	}
	clipped := 0
	for _, c := range lb.clip[:n] {
		if c {
			clipped++
		}
	}
	return clipped
}
