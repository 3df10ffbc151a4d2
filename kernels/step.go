package kernels

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
)

// stepper runs the trainer's training step on the engine's device: master
// weights, delay parameters, Adam moments and the network's weights and
// delays stay in device memory; a batch moves its input times and labels
// in and, per layer, the silent-neuron counts, the correct count, the
// losses and the clip counts out.
type stepper struct {
	g    *Engine
	spec batch.StepSpec
	net  *batch.Network
	// prefix names the stepper's own buffers: its state survives other
	// users of the engine, and Close frees it.
	prefix string
	// per layer: master weights, network weights, delay parameters, delays,
	// delay-parameter gradients
	W, Wn, Th, D, gT []Ptr
	// per optimiser group: parameters, moments, and the delay-parameter
	// gradient (0 for weight groups, whose gradient is the engine's dW<l>
	// buffer of the latest backward pass), and the layer
	gp, gg, gm, gv []Ptr
	gl             []int
	gn             []int64
	dspan          []float64
	times          []Ptr
	B              int64
	forwarded      bool
}

// NewStepper implements batch.StepEngine.
func (g *Engine) NewStepper(spec batch.StepSpec) (batch.Stepper, error) {
	net := spec.Net
	if err := net.Validate(); err != nil {
		return nil, fmt.Errorf("kernels: step: %w", err)
	}
	if spec.Loss != "shift_mse" && spec.Loss != "ttfs" {
		return nil, fmt.Errorf("kernels: step: loss %q is not supported on the device", spec.Loss)
	}
	if len(spec.Delays) != len(net.Layers) {
		return nil, fmt.Errorf("kernels: step: %d delay descriptions for %d layers", len(spec.Delays), len(net.Layers))
	}
	L := len(net.Layers)
	leave, err := g.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	g.steppers++
	s := &stepper{g: g, spec: spec, net: net, prefix: fmt.Sprintf("stepper%d.", g.steppers)}
	s.W, s.Wn, s.Th, s.D, s.gT = make([]Ptr, L), make([]Ptr, L), make([]Ptr, L), make([]Ptr, L), make([]Ptr, L)
	s.dspan = make([]float64, L)
	pre := s.prefix
	for li := range net.Layers {
		l := &net.Layers[li]
		n := int64(l.Rows() * l.Out)
		nd := int64(len(l.D()))
		var errs [5]error
		s.W[li], errs[0] = g.buf(pre+fmt.Sprintf("W%d", li), 8*n)
		s.Wn[li], errs[1] = g.buf(pre+fmt.Sprintf("Wn%d", li), 8*n)
		s.Th[li], errs[2] = g.buf(pre+fmt.Sprintf("Th%d", li), 8*max(nd, 1))
		s.D[li], errs[3] = g.buf(pre+fmt.Sprintf("D%d", li), 8*max(nd, 1))
		s.gT[li], errs[4] = g.buf(pre+fmt.Sprintf("gT%d", li), 8*max(nd, 1))
		if err := errors.Join(errs[:]...); err != nil {
			return nil, err
		}
		if l.Delay == batch.Synaptic {
			dp := spec.Delays[li]
			if !dp.Sigmoid {
				return nil, errors.New("kernels: step: synaptic delays need the sigmoid parametrisation on the device (a bounded delay range)")
			}
			s.dspan[li] = (math.Abs(dp.Shift) + math.Abs(dp.Scale)) / l.Neuron.TauSyn
		}
	}
	addGroup := func(name string, li int, p Ptr, grad Ptr, n int64) error {
		m, err1 := g.buf(pre+"M"+name, 8*n)
		v, err2 := g.buf(pre+"V"+name, 8*n)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		s.gp, s.gg, s.gm, s.gv, s.gn = append(s.gp, p), append(s.gg, grad), append(s.gm, m), append(s.gv, v), append(s.gn, n)
		s.gl = append(s.gl, li)
		return nil
	}
	for li := range net.Layers {
		l := &net.Layers[li]
		if err := addGroup(fmt.Sprintf("w%d", li), li, s.W[li], 0, int64(l.Rows()*l.Out)); err != nil {
			return nil, err
		}
	}
	for li := range net.Layers {
		if nd := int64(len(net.Layers[li].D())); nd > 0 {
			if err := addGroup(fmt.Sprintf("d%d", li), li, s.Th[li], s.gT[li], nd); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *stepper) upload(p Ptr, v []float64, what string) error {
	if len(v) == 0 {
		return nil
	}
	if err := s.g.dev.HtoD(p, unsafe.Pointer(&v[0]), int64(8*len(v))); err != nil {
		return fmt.Errorf("kernels: step: copying %s to the device: %w", what, err)
	}
	return nil
}

// Load implements batch.Stepper.
func (s *stepper) Load(w, theta, m, v [][]float64) error {
	if len(w) != len(s.W) || len(theta) != len(s.W) || len(m) != len(s.gp) || len(v) != len(s.gp) {
		return errors.New("kernels: step: parameters do not fit the network")
	}
	leave, err := s.g.enter()
	if err != nil {
		return err
	}
	defer leave()
	for li := range s.W {
		l := &s.net.Layers[li]
		if len(w[li]) != l.Rows()*l.Out || len(theta[li]) != len(l.D()) {
			return fmt.Errorf("kernels: step: layer %d parameters have the wrong size", li)
		}
		if err := errors.Join(s.upload(s.W[li], w[li], "weights"), s.upload(s.Th[li], theta[li], "delay parameters")); err != nil {
			return err
		}
	}
	for gi := range s.gp {
		if int64(len(m[gi])) != s.gn[gi] || int64(len(v[gi])) != s.gn[gi] {
			return fmt.Errorf("kernels: step: optimiser group %d has the wrong size", gi)
		}
		if err := errors.Join(s.upload(s.gm[gi], m[gi], "Adam moments"), s.upload(s.gv[gi], v[gi], "Adam moments")); err != nil {
			return err
		}
	}
	s.forwarded = false
	return s.sync(-1)
}

// Store implements batch.Stepper.
func (s *stepper) Store(w, theta, m, v [][]float64) error {
	leave, err := s.g.enter()
	if err != nil {
		return err
	}
	defer leave()
	for li := range s.W {
		if err := errors.Join(s.g.download(w[li], s.W[li], "weights"), s.g.download(theta[li], s.Th[li], "delay parameters")); err != nil {
			return err
		}
	}
	for gi := range s.gp {
		if err := errors.Join(s.g.download(m[gi], s.gm[gi], "Adam moments"), s.g.download(v[gi], s.gv[gi], "Adam moments")); err != nil {
			return err
		}
	}
	return nil
}

// sync derives layer li's network weights and delays (all layers for -1).
func (s *stepper) sync(only int) error {
	for li := range s.W {
		if only >= 0 && li != only {
			continue
		}
		l := &s.net.Layers[li]
		n := int64(l.Rows() * l.Out)
		if err := s.g.launch("dg_sync_w", n, n, s.spec.RoundWeights, s.W[li], s.Wn[li]); err != nil {
			return err
		}
		if nd := int64(len(l.D())); nd > 0 {
			dp := s.spec.Delays[li]
			if err := s.g.launch("dg_sync_d", nd, nd, delayKind(dp), dp.Shift, dp.Scale, s.Th[li], s.D[li]); err != nil {
				return err
			}
		}
	}
	return nil
}

// delayKind is the kernels' code for a delay parametrisation: 0 sigmoid,
// 1 the parameter itself.
func delayKind(dp batch.DelayParam) int64 {
	if dp.Sigmoid {
		return 0
	}
	return 1
}

// lossParams returns the loss kernel's kind and parameters.
func (s *stepper) lossParams() (int64, float64, float64, float64) {
	sp := &s.spec
	if sp.Loss == "ttfs" {
		return 1, sp.Xi * sp.TauSyn, sp.Alpha, sp.Beta * sp.TauSyn
	}
	return 0, sp.DeltaT * sp.TauSyn, 0, 0
}

// Forward implements batch.Stepper.
func (s *stepper) Forward(in []float64, labels []int) ([]int, int, error) {
	b := len(labels)
	if b < 1 || len(in) != b*s.net.Inputs {
		return nil, 0, fmt.Errorf("kernels: step: %d input times for %d samples of %d inputs", len(in), b, s.net.Inputs)
	}
	K := s.net.Outputs()
	lab := make([]int32, b)
	for i, y := range labels {
		if y < 0 || y >= K {
			return nil, 0, fmt.Errorf("kernels: step: label %d out of range", y)
		}
		lab[i] = int32(y)
	}
	leave, err := s.g.enter()
	if err != nil {
		return nil, 0, err
	}
	defer leave()
	// Until this pass succeeds, Bump and Update refuse to run: they read
	// what it leaves in the device buffers.
	s.forwarded = false
	g := s.g
	B := int64(b)
	x, err := g.uploadF("x", in)
	if err != nil {
		return nil, 0, err
	}
	lp, err := g.upload(s.prefix+"labels", unsafe.Pointer(&lab[0]), 4*B)
	if err != nil {
		return nil, 0, err
	}
	if s.times, err = g.forward(s.net, B, x, s.Wn, s.D, s.prefix); err != nil {
		return nil, 0, err
	}
	// What the host needs back comes in two copies per step: after the
	// forward pass the silent counts per neuron and the correct flags (one
	// buffer), after the update the losses and the clip counts (another).
	N := int64(neurons(s.net))
	fwd, err1 := g.buf(s.prefix+"sfwd", 8*(N+B))
	upd, err2 := g.buf(s.prefix+"supd", 8*(B+N))
	dOut, err3 := g.buf(s.prefix+"sdout", 8*B*int64(K))
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, 0, err
	}
	for li := range s.net.Layers {
		k := int64(s.net.Layers[li].Out)
		for _, st := range g.colSums("dg_silent", B, k, s.times[li+1], s.silentCounts(li)) {
			if st.err != nil {
				return nil, 0, st.err
			}
			if err := g.launch(st.name, st.n, st.args...); err != nil {
				return nil, 0, err
			}
		}
	}
	kind, p1, p2, p3 := s.lossParams()
	if err := g.launch("dg_loss", B, B, int64(K), kind, p1, p2, p3, 1/float64(b), s.times[len(s.times)-1], lp, dOut, upd, fwd+Ptr(8*N)); err != nil {
		return nil, 0, err
	}
	back := make([]float64, N+B)
	if err := g.download(back, fwd, "silent counts and correct flags"); err != nil {
		return nil, 0, err
	}
	silent := perLayer(s.net, back[:N])
	correct := 0
	for _, v := range back[N:] {
		correct += int(v)
	}
	s.B, s.forwarded = B, true
	return silent, correct, nil
}

// silentCounts returns where the latest Forward left layer li's silent
// counts per neuron: inside the buffer it copies back, before the correct
// flags.
func (s *stepper) silentCounts(li int) Ptr {
	return s.g.bufs[s.prefix+"sfwd"].ptr + Ptr(8*layerOffset(s.net, li))
}

// Bump implements batch.Stepper.
func (s *stepper) Bump(li int, value float64, targeted bool) error {
	if !s.forwarded {
		return errors.New("kernels: step: Bump before Forward")
	}
	leave, err := s.g.enter()
	if err != nil {
		return err
	}
	defer leave()
	l := &s.net.Layers[li]
	n := int64(l.Rows() * l.Out)
	t := int64(0)
	if targeted {
		t = 1
	}
	if err := s.g.launch("dg_bump", n, n, int64(l.Out), value, t, s.silentCounts(li), s.W[li]); err != nil {
		return err
	}
	s.forwarded = false
	return s.sync(li)
}

// Update implements batch.Stepper.
func (s *stepper) Update(lr []float64, step int) (float64, int, error) {
	if !s.forwarded {
		return 0, 0, errors.New("kernels: step: Update before Forward")
	}
	if len(lr) != len(s.gp) || step < 1 {
		return 0, 0, fmt.Errorf("kernels: step: %d learning rates for %d groups, step %d", len(lr), len(s.gp), step)
	}
	leave, err := s.g.enter()
	if err != nil {
		return 0, 0, err
	}
	defer leave()
	g := s.g
	B := s.B
	delta := g.bufs[s.prefix+"sdout"].ptr
	n := B * int64(s.net.Outputs())
	if err := g.launch("dg_clean", n, n, delta, delta); err != nil {
		return 0, 0, err
	}
	upd := g.bufs[s.prefix+"supd"].ptr
	if _, err := g.backward(s.net, B, s.times, delta, s.Wn, s.D, s.dspan, upd+Ptr(8*B)); err != nil {
		return 0, 0, err
	}
	for li := range s.net.Layers {
		if nd := int64(len(s.net.Layers[li].D())); nd > 0 {
			dp := s.spec.Delays[li]
			if err := g.launch("dg_theta_grad", nd, nd, delayKind(dp), dp.Scale, s.Th[li], g.bufs[fmt.Sprintf("dD%d", li)].ptr, s.gT[li]); err != nil {
				return 0, 0, err
			}
		}
	}
	sp := &s.spec
	bc1 := 1 - math.Pow(sp.Beta1, float64(step))
	bc2 := 1 - math.Pow(sp.Beta2, float64(step))
	sq2 := math.Sqrt(bc2)
	for gi := range s.gp {
		grad := s.gg[gi]
		if grad == 0 {
			grad = g.bufs[fmt.Sprintf("dW%d", s.gl[gi])].ptr
		}
		if err := g.launch("dg_adam", s.gn[gi], s.gn[gi], sp.Beta1, sp.Beta2, sp.AdamEps, lr[gi]/bc1, sq2,
			grad, s.gm[gi], s.gv[gi], s.gp[gi]); err != nil {
			return 0, 0, err
		}
	}
	for li := range s.net.Layers {
		if nd := int64(len(s.net.Layers[li].D())); nd > 0 && !sp.Delays[li].Sigmoid {
			if err := g.launch("dg_relu", nd, nd, s.Th[li]); err != nil {
				return 0, 0, err
			}
		}
		if c := sp.ClipWeights; c > 0 {
			l := &s.net.Layers[li]
			n := int64(l.Rows() * l.Out)
			if err := g.launch("dg_clamp", n, n, c, s.W[li]); err != nil {
				return 0, 0, err
			}
		}
	}
	if err := s.sync(-1); err != nil {
		return 0, 0, err
	}
	back := make([]float64, B+int64(neurons(s.net)))
	if err := g.download(back, upd, "losses and clip counts"); err != nil {
		return 0, 0, err
	}
	loss := 0.0
	for _, v := range back[:B] {
		loss += v
	}
	total := 0
	for _, c := range perLayer(s.net, back[B:]) {
		total += c
	}
	s.forwarded = false
	return loss * (1 / float64(B)), total, nil
}

// Close implements batch.Stepper: it frees the stepper's own buffers.
func (s *stepper) Close() error {
	leave, err := s.g.enter()
	if err != nil {
		return err
	}
	defer leave()
	return s.g.freePrefix(s.prefix)
}
