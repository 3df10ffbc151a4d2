package batch

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/delgrad-go/delgrad/internal/xmath"

	"gorgonia.org/tensor"
)

// CPU is the pure-Go engine. Its unit of work is a population (PopEngine;
// Forward and Backward are a population of one): it parallelises over
// (member, sample) pairs (forward, and backward's per-sample phase) and
// over (member, weight row) pairs (the batch reduction of backward) on its
// workers; its results are bitwise identical whatever the number of
// workers and members. A CPU engine
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

// Forward implements Engine: the population pass with one member.
func (e *CPU) Forward(net *Network, input *tensor.Dense, tr *Trace) error {
	return e.ForwardPop([]*Network{net}, []*tensor.Dense{input}, []*Trace{tr})
}

// memberErr names member m of a population of k in err (not when k = 1:
// a single network's errors read as they always have).
func memberErr(k, m int, err error) error {
	if k == 1 {
		return err
	}
	return fmt.Errorf("member %d: %w", m, err)
}

// memberOf returns the member that holds global sample s of a population
// whose member m holds samples off[m] <= s < off[m+1].
func memberOf(off []int, s int) int {
	return sort.Search(len(off)-1, func(m int) bool { return off[m+1] > s })
}

// ForwardPop implements PopEngine. The members' samples are laid end to
// end and shared out among the workers as one batch: each (member,
// sample) is computed as Forward computes it for that member alone.
func (e *CPU) ForwardPop(nets []*Network, inputs []*tensor.Dense, trs []*Trace) error {
	off, err := CheckPopulation(nets, []PopArg{{"inputs", len(inputs)}, {"traces", len(trs)}}, func(m int) (int, error) {
		if trs[m] == nil {
			return 0, errors.New("trace is nil")
		}
		return CheckInput(nets[m], inputs[m])
	})
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	for m, net := range nets {
		in := inputs[m].Float64s()
		tr := trs[m]
		tr.Reshape(net, off[m+1]-off[m])
		mux := net.multiplex()
		x := tr.Times[0].Float64s()
		for i, t := range in {
			for r := 0; r < mux; r++ {
				x[i*mux+r] = t
			}
		}
	}
	for l := range nets[0].Layers {
		e.forwardLayer(nets, l, trs, off)
	}
	return nil
}

// transpose writes the weights neuron-major (Out x Rows) into dst.
func transpose(l *Layer, dst []float64) {
	rows, out := l.Rows(), l.Out
	w := l.W()
	for i := 0; i < rows; i++ {
		for k := 0; k < out; k++ {
			dst[k*rows+i] = w[i*out+k]
		}
	}
}

// fwdMember is one member's view of a layer in the forward pass.
type fwdMember struct {
	l       *Layer
	mo      model
	inv     float64
	wt, d   []float64
	in, out []float64
}

func (e *CPU) forwardLayer(nets []*Network, li int, trs []*Trace, off []int) {
	K := len(nets)
	l0 := &nets[0].Layers[li]
	rows, nIn, nOut := l0.Rows(), l0.In, l0.Out
	e.lb.wt = grow(e.lb.wt, K*rows*nOut)
	ms := make([]fwdMember, K)
	for m, net := range nets {
		l := &net.Layers[li]
		wt := e.lb.wt[m*rows*nOut : (m+1)*rows*nOut]
		transpose(l, wt)
		mo := newModel(l.Neuron)
		ms[m] = fwdMember{l: l, mo: mo, inv: 1 / mo.tau, wt: wt, d: l.D(),
			in: trs[m].Times[li].Float64s(), out: trs[m].Times[li+1].Float64s()}
	}
	e.parallel(off[K], func(worker, lo, hi int) {
		p := &e.scratch[worker]
		m := memberOf(off, lo)
		for g := lo; g < hi; g++ {
			for g >= off[m+1] {
				m++
			}
			mb := &ms[m]
			l, mo, inv, wt, d := mb.l, &mb.mo, mb.inv, mb.wt, mb.d
			s := g - off[m]
			row := mb.in[s*nIn : (s+1)*nIn]
			dst := mb.out[s*nOut : (s+1)*nOut]
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

// Backward implements Engine: the population pass with one member.
func (e *CPU) Backward(net *Network, tr *Trace, dOut *tensor.Dense, g *Gradients) error {
	return e.BackwardPop([]*Network{net}, []*Trace{tr}, []*tensor.Dense{dOut}, []*Gradients{g})
}

// BackwardPop implements PopEngine. Its per-sample phase runs over the
// members' samples laid end to end, its batch sums over (member, weight
// row): each member's sums are added in the order Backward adds them for
// that member alone.
func (e *CPU) BackwardPop(nets []*Network, trs []*Trace, dOut []*tensor.Dense, gs []*Gradients) error {
	off, err := CheckPopulation(nets, []PopArg{{"traces", len(trs)}, {"output errors", len(dOut)}, {"gradients", len(gs)}}, func(m int) (int, error) {
		if gs[m] == nil {
			return 0, errors.New("gradients are nil: use NewGradients")
		}
		return CheckBackward(nets[m], trs[m], dOut[m])
	})
	if err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	K := len(nets)
	for m, net := range nets {
		gs[m].Reshape(net, off[m+1]-off[m])
	}
	// The reference zeroes non-finite errors (a missing label spike).
	nOut := nets[0].Outputs()
	delta := make([]float64, off[K]*nOut)
	for m := range nets {
		dst := delta[off[m]*nOut:]
		for i, v := range dOut[m].Float64s() {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				dst[i] = v
			}
		}
	}
	for l := len(nets[0].Layers) - 1; l >= 0; l-- {
		gin := make([]float64, off[K]*nets[0].Layers[l].In)
		e.backwardLayer(nets, l, trs, off, delta, gin, gs)
		delta = gin
	}
	// Undo the multiplexing: a feature's gradient is the sum over its copies.
	mux := nets[0].multiplex()
	in0 := nets[0].Layers[0].In
	for m := range nets {
		gi := gs[m].Input.Float64s()
		dm := delta[off[m]*in0:]
		for i := range gi {
			s := 0.0
			for r := 0; r < mux; r++ {
				s += dm[i*mux+r]
			}
			gi[i] = s
		}
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

// bwdMember is one member's view of a layer in the backward pass.
type bwdMember struct {
	l          *Layer
	mo         model
	inv        float64
	w, d       []float64
	in, out    []float64 // the layer's input and output times (B x In, B x Out)
	dW, dD     []float64
	dmin, dmax float64 // synaptic delays' range, in tau_s
	chunk      int     // SumChunk of the weight sums
}

// backwardLayer writes every member's weight and delay gradients of layer
// li (summed over the member's batch) and clip count, and the error
// propagated to the layer's inputs, gin (samples laid end to end, x In);
// delta is the error at its outputs, laid out alike.
func (e *CPU) backwardLayer(nets []*Network, li int, trs []*Trace, off []int, delta, gin []float64, gs []*Gradients) {
	K := len(nets)
	l0 := &nets[0].Layers[li]
	rows, nIn, nOut := l0.Rows(), l0.In, l0.Out
	synaptic := l0.Delay == Synaptic
	total := off[K]
	lb := &e.lb
	lb.u, lb.e1, lb.e2 = grow(lb.u, total*rows), grow(lb.e1, total*rows), grow(lb.e2, total*rows)
	lb.ref, lb.wide = grow(lb.ref, total), growBool(lb.wide, total)
	n := total * nOut
	lb.k1, lb.k2, lb.dk, lb.us, lb.rf, lb.dend = grow(lb.k1, n), grow(lb.k2, n), grow(lb.dk, n), grow(lb.us, n), grow(lb.rf, n), grow(lb.dend, n)
	lb.act, lb.clip = growBool(lb.act, n), growBool(lb.clip, n)
	nSyn := nIn * nOut // the synaptic exponentials of one member
	if synaptic {
		lb.ed1, lb.ed2 = grow(lb.ed1, K*nSyn), grow(lb.ed2, K*nSyn)
	}
	ms := make([]bwdMember, K)
	for m, net := range nets {
		l := &net.Layers[li]
		mo := newModel(l.Neuron)
		mb := bwdMember{l: l, mo: mo, inv: 1 / mo.tau, w: l.W(), d: l.D(),
			in: trs[m].Times[li].Float64s(), out: trs[m].Times[li+1].Float64s(),
			dW: gs[m].Weights[li].Float64s(), dD: gs[m].D(li),
			chunk: SumChunk(off[m+1]-off[m], rows*nOut)}
		if synaptic {
			mb.dmin, mb.dmax = math.Inf(1), math.Inf(-1)
			ed1, ed2 := lb.ed1[m*nSyn:(m+1)*nSyn], lb.ed2[m*nSyn:(m+1)*nSyn]
			for i, v := range mb.d {
				v *= mb.inv
				ed1[i], ed2[i] = xmath.Exp(v), xmath.Exp(v/2)
				mb.dmin, mb.dmax = min(mb.dmin, v), max(mb.dmax, v)
			}
		}
		ms[m] = mb
	}
	// Phase 1, per (member, sample): causal sums, gradient factors,
	// propagated error. Index g runs over all members' samples, s over
	// the member's own.
	e.parallel(total, func(worker, lo, hi int) {
		p := &e.scratch[worker]
		m := memberOf(off, lo)
		for g := lo; g < hi; g++ {
			for g >= off[m+1] {
				m++
			}
			mb := &ms[m]
			l, mo, inv, w, d := mb.l, &mb.mo, mb.inv, mb.w, mb.d
			s := g - off[m]
			edOff := m * nSyn
			u := lb.u[g*rows : (g+1)*rows]
			umin, umax := math.Inf(1), math.Inf(-1)
			for i := 0; i < rows; i++ {
				var t float64
				if i < nIn {
					t = mb.in[s*nIn+i]
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
			wide := umax-umin+max(math.Abs(mb.dmin), math.Abs(mb.dmax)) > wideSpan
			lb.ref[g], lb.wide[g] = ref, wide
			e1, e2 := lb.e1[g*rows:(g+1)*rows], lb.e2[g*rows:(g+1)*rows]
			if !wide {
				for i, ui := range u {
					e1[i], e2[i] = xmath.Exp(ui-umin), xmath.Exp((ui-umin)/2)
				}
			}
			gsm := gin[g*nIn : (g+1)*nIn]
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
				j := g*nOut + k
				lb.act[j], lb.clip[j], lb.dend[j] = false, false, 0
				dk := delta[j]
				tout := mb.out[s*nOut+k]
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
					return lb.exps(wide, synaptic && i < nIn, ui, rf, g*rows+i, edOff+i*nOut+k)
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
						gsm[i] += dts[i]
					}
				}
				lb.act[j] = true
				lb.clip[j] = l.MaxDWNorm > 0 && maxdw > l.MaxDWNorm
				lb.k1[j], lb.k2[j], lb.dk[j], lb.us[j], lb.rf[j] = k1, k2, dk, us, rf
			}
		}
	})
	// Phase 2, per (member, weight row): the batch sums of dL/dw (and
	// synaptic dL/dd), each element summed in chunks of the member's
	// samples (SumChunk), as the kernels sum them.
	for m := range ms {
		clear(ms[m].dW)
		clear(ms[m].dD)
	}
	e.parallel(K*rows, func(_, lo, hi int) {
		part := make([]float64, 2*nOut)
		pw, pd := part[:nOut], part[nOut:]
		for job := lo; job < hi; job++ {
			m, i := job/rows, job%rows
			mb := &ms[m]
			mo, d, dD := mb.mo, mb.d, mb.dD
			edOff := m * nSyn
			syn := synaptic && i < nIn
			dwRow := mb.dW[i*nOut : (i+1)*nOut]
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
			for s := 0; s < off[m+1]-off[m]; s++ {
				if s > 0 && s%mb.chunk == 0 {
					flush()
				}
				g := off[m] + s
				ui0 := lb.u[g*rows+i]
				if !(ui0 < math.Inf(1)) {
					continue
				}
				wide := lb.wide[g]
				if !syn {
					weightRow(mo, pw, ui0, wide, lb, g*nOut, g*rows+i)
					continue
				}
				// A row with synaptic delays: each neuron sees its own input
				// time, and the delays' gradients are summed too.
				for k := 0; k < nOut; k++ {
					j := g*nOut + k
					if !lb.act[j] {
						continue
					}
					ui := ui0 + d[i*nOut+k]*mb.inv
					us := lb.us[j]
					if !(ui <= us) {
						continue
					}
					x1, x2 := lb.exps(wide, true, ui, lb.rf[j], g*rows+i, edOff+i*nOut+k)
					// The same arithmetic as phase 1, which found every term finite.
					dw, dt := mo.grads(lb.k1[j], lb.k2[j], mb.w[i*nOut+k], ui, x1, x2, us)
					if !lb.clip[j] {
						pw[k] += dw * mo.tau * lb.dk[j]
					}
					pd[k] += dt * lb.dk[j]
				}
			}
			flush()
		}
	})
	// Axonal and dendritic delays: batch sums of per-sample gradients; and
	// the clip counts.
	for m := range ms {
		b := off[m+1] - off[m]
		switch l0.Delay {
		case Axonal:
			chunkSums(ms[m].dD[:nIn], gin[off[m]*nIn:off[m+1]*nIn], b, nIn)
		case Dendritic:
			chunkSums(ms[m].dD[:nOut], lb.dend[off[m]*nOut:off[m+1]*nOut], b, nOut)
		}
		clipped := 0
		for _, c := range lb.clip[off[m]*nOut : off[m+1]*nOut] {
			if c {
				clipped++
			}
		}
		gs[m].Clipped[li] = clipped
	}
}
