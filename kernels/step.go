package kernels

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
)

// stepper runs the trainer's training steps on the engine's device, for
// a population of k members (k = 1: a single network; batch.Stepper and
// batch.PopStepper): master weights, delay parameters, Adam moments and
// the network's weights and delays stay in device memory, each member's
// after the previous member's. A run of batches copies its input times,
// labels, Adam tables, bump rule and control blocks in before its first
// batch and its counts out after its last: nothing moves between batches,
// and each batch of all members is one batched pass.
type stepper struct {
	g    *Engine
	spec batch.StepSpec
	net  *batch.Network
	// k is the number of members; nets holds spec.Net once per member
	// (the members share its shape and neuron constants).
	k    int
	nets []*batch.Network
	// prefix names the stepper's own buffers: its state survives other
	// users of the engine, and Close frees it.
	prefix string
	// per layer: master weights, network weights, delay parameters, delays
	W, Wn, Th, D []Ptr
	// per optimiser group: parameters, moments, whether it holds delay
	// parameters (else weights; its gradient is the engine's dD<l> or dW<l>
	// buffer of the latest backward pass), and the layer
	gp, gm, gv []Ptr
	gd         []bool
	gl         []int
	gn         []int64 // parameters of one member
	dspan      []float64
	dspanBuf   []Ptr // dspan on the device, one buffer of k per layer
	times      []Ptr
	// graph replays a recorded full batch (see batch); warmKey is the key
	// of the last batch run directly before recording (zero: none).
	graph    Replay
	graphKey graphKey
	warmKey  graphKey
	noGraph  bool
	// fits remembers the runs (samples a member, batch size) found to fit
	// in the device's memory (checkFits).
	fits map[[2]int]bool
}

// NewStepper implements batch.StepEngine: the population stepper of one.
func (g *Engine) NewStepper(spec batch.StepSpec) (batch.Stepper, error) {
	return g.newStepper(spec, 1)
}

// NewPopStepper implements batch.StepEngine.
func (g *Engine) NewPopStepper(spec batch.StepSpec, k int) (batch.PopStepper, error) {
	return g.newStepper(spec, k)
}

func (g *Engine) newStepper(spec batch.StepSpec, k int) (*stepper, error) {
	net := spec.Net
	if k < 1 {
		return nil, fmt.Errorf("kernels: step: population of %d members", k)
	}
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
	s := &stepper{g: g, spec: spec, net: net, k: k, prefix: fmt.Sprintf("stepper%d.", g.steppers)}
	for range k {
		s.nets = append(s.nets, net)
	}
	K64 := int64(k)
	s.W, s.Wn, s.Th, s.D = make([]Ptr, L), make([]Ptr, L), make([]Ptr, L), make([]Ptr, L)
	s.dspan = make([]float64, L)
	pre := s.prefix
	for li := range net.Layers {
		l := &net.Layers[li]
		n := int64(l.Rows() * l.Out)
		nd := int64(len(l.D()))
		var errs [4]error
		s.W[li], errs[0] = g.buf(pre+fmt.Sprintf("W%d", li), 8*K64*n)
		s.Wn[li], errs[1] = g.buf(pre+fmt.Sprintf("Wn%d", li), 8*K64*n)
		s.Th[li], errs[2] = g.buf(pre+fmt.Sprintf("Th%d", li), 8*K64*max(nd, 1))
		s.D[li], errs[3] = g.buf(pre+fmt.Sprintf("D%d", li), 8*K64*max(nd, 1))
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
		span := make([]float64, k)
		for m := range span {
			span[m] = s.dspan[li]
		}
		p, err := g.uploadF(pre+fmt.Sprintf("dspan%d", li), span)
		if err != nil {
			return nil, err
		}
		s.dspanBuf = append(s.dspanBuf, p)
	}
	addGroup := func(name string, li int, p Ptr, delays bool, n int64) error {
		m, err1 := g.buf(pre+"M"+name, 8*K64*n)
		v, err2 := g.buf(pre+"V"+name, 8*K64*n)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		s.gp, s.gm, s.gv, s.gn = append(s.gp, p), append(s.gm, m), append(s.gv, v), append(s.gn, n)
		s.gd, s.gl = append(s.gd, delays), append(s.gl, li)
		return nil
	}
	for li := range net.Layers {
		l := &net.Layers[li]
		if err := addGroup(fmt.Sprintf("w%d", li), li, s.W[li], false, int64(l.Rows()*l.Out)); err != nil {
			return nil, err
		}
	}
	for li := range net.Layers {
		if nd := int64(len(net.Layers[li].D())); nd > 0 {
			if err := addGroup(fmt.Sprintf("d%d", li), li, s.Th[li], true, nd); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Members implements batch.PopStepper.
func (s *stepper) Members() int { return s.k }

// Load implements batch.Stepper: member 0's.
func (s *stepper) Load(w, theta, m, v [][]float64) error { return s.LoadMember(0, w, theta, m, v) }

// Store implements batch.Stepper: member 0's.
func (s *stepper) Store(w, theta, m, v [][]float64) error { return s.StoreMember(0, w, theta, m, v) }

// Run implements batch.Stepper: the population run of one.
func (s *stepper) Run(in []float64, labels []int, b int, lr []float64, rule batch.BumpRule, st *batch.RunState) error {
	return s.RunPop([][]float64{in}, [][]int{labels}, b, [][]float64{lr}, rule, []*batch.RunState{st})
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

// alive reports, with the engine held, whether the stepper's buffers still
// exist: Engine.Release frees every buffer, the stepper's too, after which
// it refuses to run rather than use freed memory.
func (s *stepper) alive() error {
	if b, ok := s.g.bufs[s.prefix+"W0"]; !ok || b.ptr != s.W[0] {
		return errors.New("kernels: step: the engine's buffers were released (Release): make a new stepper (a new trainer)")
	}
	return nil
}

// member returns the offset of member q's values in a buffer of n per
// member, or an error for a member the population does not have.
func (s *stepper) member(q int, n int64) (Ptr, error) {
	if q < 0 || q >= s.k {
		return 0, fmt.Errorf("kernels: step: member %d of a population of %d", q, s.k)
	}
	return Ptr(8 * int64(q) * n), nil
}

// LoadMember implements batch.PopStepper.
func (s *stepper) LoadMember(q int, w, theta, m, v [][]float64) error {
	if len(w) != len(s.W) || len(theta) != len(s.W) || len(m) != len(s.gp) || len(v) != len(s.gp) {
		return errors.New("kernels: step: parameters do not fit the network")
	}
	if _, err := s.member(q, 0); err != nil {
		return err
	}
	leave, err := s.g.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := s.alive(); err != nil {
		return err
	}
	for li := range s.W {
		l := &s.net.Layers[li]
		if len(w[li]) != l.Rows()*l.Out || len(theta[li]) != len(l.D()) {
			return fmt.Errorf("kernels: step: layer %d parameters have the wrong size", li)
		}
		ow, _ := s.member(q, int64(len(w[li])))
		od, _ := s.member(q, int64(len(theta[li])))
		if err := errors.Join(s.upload(s.W[li]+ow, w[li], "weights"), s.upload(s.Th[li]+od, theta[li], "delay parameters")); err != nil {
			return err
		}
	}
	for gi := range s.gp {
		if int64(len(m[gi])) != s.gn[gi] || int64(len(v[gi])) != s.gn[gi] {
			return fmt.Errorf("kernels: step: optimiser group %d has the wrong size", gi)
		}
		o, _ := s.member(q, s.gn[gi])
		if err := errors.Join(s.upload(s.gm[gi]+o, m[gi], "Adam moments"), s.upload(s.gv[gi]+o, v[gi], "Adam moments")); err != nil {
			return err
		}
	}
	return s.sync()
}

// StoreMember implements batch.PopStepper.
func (s *stepper) StoreMember(q int, w, theta, m, v [][]float64) error {
	if len(w) != len(s.W) || len(theta) != len(s.W) || len(m) != len(s.gp) || len(v) != len(s.gp) {
		return errors.New("kernels: step: parameters do not fit the network")
	}
	if _, err := s.member(q, 0); err != nil {
		return err
	}
	for li := range s.W {
		l := &s.net.Layers[li]
		if len(w[li]) != l.Rows()*l.Out || len(theta[li]) != len(l.D()) {
			return fmt.Errorf("kernels: step: layer %d parameters have the wrong size", li)
		}
	}
	for gi := range s.gp {
		if int64(len(m[gi])) != s.gn[gi] || int64(len(v[gi])) != s.gn[gi] {
			return fmt.Errorf("kernels: step: optimiser group %d has the wrong size", gi)
		}
	}
	leave, err := s.g.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := s.alive(); err != nil {
		return err
	}
	for li := range s.W {
		ow, _ := s.member(q, int64(len(w[li])))
		od, _ := s.member(q, int64(len(theta[li])))
		if err := errors.Join(s.g.download(w[li], s.W[li]+ow, "weights"), s.g.download(theta[li], s.Th[li]+od, "delay parameters")); err != nil {
			return err
		}
	}
	for gi := range s.gp {
		o, _ := s.member(q, s.gn[gi])
		if err := errors.Join(s.g.download(m[gi], s.gm[gi]+o, "Adam moments"), s.g.download(v[gi], s.gv[gi]+o, "Adam moments")); err != nil {
			return err
		}
	}
	return nil
}

// sync derives every layer's network weights and delays from the master
// weights and delay parameters, of every member.
func (s *stepper) sync() error {
	for li := range s.W {
		l := &s.net.Layers[li]
		n := int64(s.k * l.Rows() * l.Out)
		if err := s.g.launch("dg_sync_w", n, n, s.spec.RoundWeights, s.W[li], s.Wn[li]); err != nil {
			return err
		}
		if nd := int64(s.k * len(l.D())); nd > 0 {
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

// ctl layout (see dg_decide in delgrad.cuh).
const (
	ctlFlag = iota
	ctlBumpValue
	ctlLastBumped
	ctlSteps
	ctlLossSum
	ctlStepped
	ctlBumps
	ctlCorrect
	ctlClipped
	ctlBatch
	ctlTable
	ctlSamples
	ctlLen
)

// RunPop implements batch.PopStepper. Per batch it launches, for all
// members at once, the forward pass (which counts the silent pairs), the
// loss, dg_decide (each member's bump check, on the device), the backward
// pass and one update per optimiser group, which bumps a member's weights
// when its batch bumped and otherwise takes its optimiser's step; each
// member's loss and counts are added up on the device. The inputs go up
// in one copy and the control blocks come back in one, so the host never
// waits for the device between batches.
func (s *stepper) RunPop(in [][]float64, labels [][]int, b int, lr [][]float64, rule batch.BumpRule, st []*batch.RunState) error {
	F, K, L := s.net.Inputs, s.net.Outputs(), len(s.net.Layers)
	if len(in) != s.k || len(labels) != s.k || len(lr) != s.k || len(st) != s.k {
		return fmt.Errorf("kernels: step: a population of %d given %d inputs, %d label sets, %d learning rates and %d run states", s.k, len(in), len(labels), len(lr), len(st))
	}
	n := len(labels[0])
	switch {
	case n < 1 || b < 1:
		return fmt.Errorf("kernels: step: %d samples in batches of %d", n, b)
	case len(rule.MaxMissing) != L:
		return fmt.Errorf("kernels: step: %d bump thresholds for %d layers", len(rule.MaxMissing), L)
	}
	memberErr := func(q int, err error) error {
		if s.k == 1 {
			return err
		}
		return fmt.Errorf("member %d: %w", q, err)
	}
	for q := range s.k {
		switch {
		case st[q] == nil:
			return memberErr(q, errors.New("kernels: step: no run state"))
		case len(labels[q]) != n:
			return memberErr(q, fmt.Errorf("kernels: step: %d samples, member 0 has %d: the members train on runs of one length", len(labels[q]), n))
		case len(in[q]) != n*F:
			return memberErr(q, fmt.Errorf("kernels: step: %d input times for %d samples of %d inputs", len(in[q]), n, F))
		case len(lr[q]) != len(s.gp):
			return memberErr(q, fmt.Errorf("kernels: step: %d learning rates for %d groups", len(lr[q]), len(s.gp)))
		case st[q].Step < 0:
			return memberErr(q, fmt.Errorf("kernels: step: optimiser step count %d", st[q].Step))
		}
	}
	lab := make([]int32, s.k*n)
	for q := range s.k {
		for i, y := range labels[q] {
			if y < 0 || y >= K {
				return memberErr(q, fmt.Errorf("kernels: step: label %d of sample %d out of range [0, %d)", y, i, K))
			}
			lab[q*n+i] = int32(y)
		}
	}
	// Adam's factors for every step this run may take, computed on the
	// host as the trainer's optimiser does: per member, one row per step,
	// each group's lr / bias correction 1, then sqrt(bias correction 2).
	batches := (n + b - 1) / b
	sp := &s.spec
	stride := len(s.gp) + 1
	tstride := stride * batches
	tab := make([]float64, s.k*tstride)
	for q := range s.k {
		for i := range batches {
			step := float64(st[q].Step + i + 1)
			bc1 := 1 - math.Pow(sp.Beta1, step)
			row := tab[q*tstride+i*stride : q*tstride+(i+1)*stride]
			for gi := range s.gp {
				row[gi] = lr[q][gi] / bc1
			}
			row[stride-1] = math.Sqrt(1 - math.Pow(sp.Beta2, step))
		}
	}
	rl := []float64{max(rule.Value, 0), 0}
	if rule.Doubling {
		rl[1] = 1
	}
	for li, m := range rule.MaxMissing {
		rl = append(rl, float64(s.net.Layers[li].Out), m)
	}
	// The run's state and sums go in and come back whole, so that the
	// losses add up in the same order whatever the run's length.
	ctl := make([]float64, s.k*ctlLen)
	for q := range s.k {
		c, r := ctl[q*ctlLen:(q+1)*ctlLen], st[q]
		c[ctlFlag], c[ctlBumpValue], c[ctlLastBumped] = -1, r.BumpValue, float64(r.LastBumped)
		c[ctlLossSum], c[ctlStepped], c[ctlBumps] = r.LossSum, float64(r.Steps), float64(r.Bumps)
		c[ctlCorrect], c[ctlClipped] = float64(r.Correct), float64(r.Clipped)
		c[ctlTable], c[ctlSamples] = float64(q*tstride), float64(q*n)
	}
	var X []float64
	if s.k == 1 {
		X = in[0]
	} else {
		X = make([]float64, 0, s.k*n*F)
		for q := range s.k {
			X = append(X, in[q]...)
		}
	}
	leave, err := s.g.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := s.alive(); err != nil {
		return err
	}
	if err := s.checkFits(n, b); err != nil {
		return err
	}
	g, pre := s.g, s.prefix
	x, err1 := g.uploadF(pre+"X", X)
	y, err2 := g.upload(pre+"Y", unsafe.Pointer(&lab[0]), int64(4*len(lab)))
	tp, err3 := g.uploadF(pre+"adam", tab)
	rp, err4 := g.uploadF(pre+"rule", rl)
	cp, err5 := g.uploadF(pre+"ctl", ctl)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return err
	}
	a := stepArgs{b: int64(b), stride: int64(stride), x: x, y: y, tab: tp, rule: rp, ctl: cp, bump: rl[0] > 0, targeted: rule.Targeted}
	for bi := range batches {
		B := min(b, n-bi*b)
		if err := s.batch(a, int64(B)); err != nil {
			return err
		}
	}
	if err := g.download(ctl, cp, "the run's counts"); err != nil {
		return err
	}
	for q := range s.k {
		c, r := ctl[q*ctlLen:(q+1)*ctlLen], st[q]
		r.Step += int(c[ctlSteps])
		r.BumpValue, r.LastBumped = c[ctlBumpValue], int(c[ctlLastBumped])
		r.LossSum = c[ctlLossSum]
		r.Steps, r.Bumps = int(c[ctlStepped]), int(c[ctlBumps])
		r.Correct, r.Clipped = int(c[ctlCorrect]), int(c[ctlClipped])
	}
	return nil
}

// stepArgs holds what a run's batches share: the batch size, the Adam
// table's row length, and the device buffers of the
// inputs, labels, Adam tables, bump rule and ctl; whether the rule bumps
// and targets. (Where a member's Adam rows and samples start is in its
// ctl, so that a recorded batch serves runs of any length.)
type stepArgs struct {
	b, stride            int64
	x, y, tab, rule, ctl Ptr
	bump, targeted       bool
}

// graphKey is what a recorded batch depends on beyond the buffers' places.
type graphKey struct {
	a   stepArgs
	B   int64
	gen uint64
}

// batch runs the next batch of a run (B samples). The launches of a full
// batch take the same arguments every time (the inputs are copied to
// fixed buffers by dg_batch_in, the Adam row is found through ctl): on a
// device that records launches (Recorder) the first full batch runs as it
// is, the second is recorded, and every later one replays the recording,
// one launch instead of about thirty, for as long as the engine's buffers
// stay where they were (Engine.gen).
func (s *stepper) batch(a stepArgs, B int64) error {
	rec, ok := s.g.dev.(Recorder)
	if !ok || B != a.b || s.noGraph || !rec.Replaying() {
		return s.launchBatch(a, B)
	}
	key := graphKey{a, B, s.g.gen}
	if s.graph != nil && s.graphKey == key {
		if err := s.graph.Replay(); err != nil {
			return fmt.Errorf("kernels: step: replaying a batch: %w", err)
		}
		return nil
	}
	if err := s.dropGraph(); err != nil {
		return err
	}
	if s.warmKey != key {
		// First run it directly: it allocates the buffers it needs and
		// uploads the layers' constants, which a recording may not.
		s.warmKey = key
		if err := s.launchBatch(a, B); err != nil {
			return err
		}
		s.warmKey.gen = s.g.gen
		return nil
	}
	r, err := rec.Record(func() error { return s.launchBatch(a, B) })
	if err != nil {
		// Recording is an optimisation: run on without it (the device
		// keeps the error, see GPU.RecordErr).
		s.noGraph = true
		return s.launchBatch(a, B)
	}
	s.graph, s.graphKey = r, key
	s.g.replays[r] = true
	if err := r.Replay(); err != nil {
		return fmt.Errorf("kernels: step: replaying a batch: %w", err)
	}
	return nil
}

// dropGraph frees the stepper's recording, if any.
func (s *stepper) dropGraph() error {
	if s.graph == nil {
		return nil
	}
	delete(s.g.replays, s.graph)
	err := s.graph.Close()
	s.graph = nil
	if err != nil {
		return fmt.Errorf("kernels: step: freeing a recording: %w", err)
	}
	return nil
}

// launchBatch launches a batch of B samples of every member: its inputs,
// the forward pass, the silent counts, the loss, the bump check
// (dg_decide), the update or the bump, and the sums of its loss and
// counts. The members' batches are one batch of k*B samples, member after
// member.
func (s *stepper) launchBatch(a stepArgs, B int64) error {
	g, pre := s.g, s.prefix
	F, K, L := int64(s.net.Inputs), int64(s.net.Outputs()), len(s.net.Layers)
	k := int64(s.k)
	N := k * int64(neurons(s.net)) // every member's counts
	BT := k * B
	xb, err1 := g.buf(pre+"xb", 8*k*a.b*F)
	yb, err2 := g.buf(pre+"yb", 4*k*a.b)
	fwd, err3 := g.buf(pre+"sfwd", 8*(N+k*a.b))
	upd, err4 := g.buf(pre+"supd", 8*(k*a.b+N))
	dOut, err5 := g.buf(pre+"sdout", 8*k*a.b*K)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return err
	}
	// Small batches: the spike search and the neuron phase count the
	// silent and the clipped pairs as they go, into counters dg_batch_in
	// zeroes (the clip counts follow the batch's losses in upd).
	silent, clips := Ptr(0), Ptr(0)
	if countAsFound(BT) {
		silent, clips = fwd, upd+Ptr(8*BT)
	}
	if err := g.launch("dg_batch_in", max(BT*F+BT, N), B, F, a.b, a.ctl, a.x, a.y, xb, yb, N, silent, clips, k); err != nil {
		return err
	}
	var err error
	if s.times, err = g.forward(s.nets, BT, xb, s.Wn, s.D, pre, true, silent); err != nil {
		return err
	}
	for li := range s.net.Layers {
		if silent != 0 {
			break // counted by the spike search
		}
		out := int64(s.net.Layers[li].Out)
		for _, c := range g.colSums("dg_silent", k, BT, out, s.times[li+1], s.silentCounts(li)) {
			if c.err != nil {
				return c.err
			}
			if err := g.launch(c.name, c.n, c.args...); err != nil {
				return err
			}
		}
	}
	correct := fwd + Ptr(8*N)
	kind, p1, p2, p3 := s.lossParams()
	if err := g.launch("dg_loss", BT, BT, K, kind, p1, p2, p3, 1/float64(B), s.times[L], yb, dOut, upd, correct); err != nil {
		return err
	}
	if err := g.launch("dg_decide", k, B, int64(L), k, a.rule, fwd, correct, a.ctl); err != nil {
		return err
	}
	if err := s.update(B, dOut, upd, a); err != nil {
		return err
	}
	return g.launch("dg_accum", k, B, int64(L), k, a.rule, upd, a.ctl)
}

// silentCounts returns where a batch's silent counts per neuron of layer
// li lie, every member's in turn: in the stepper's forward buffer, before
// the correct flags.
func (s *stepper) silentCounts(li int) Ptr {
	return s.g.bufs[s.prefix+"sfwd"].ptr + Ptr(8*s.k*layerOffset(s.net, li))
}

// update launches a batch's step after its forward pass: the loss
// gradient's cleaning (to zeros for the members whose batch bumped), the
// backward pass (clip counts into upd after the losses), and one
// dg_update_if per optimiser group: the delay-parameter gradient, Adam,
// clip positivity or weight clipping, or, for a member whose batch
// bumped, the bump of the weights of the layer it names; then the
// network's weights or delays. B is one member's batch.
func (s *stepper) update(B int64, delta, upd Ptr, a stepArgs) error {
	ctl := a.ctl
	g := s.g
	k := int64(s.k)
	BT := k * B
	n := BT * int64(s.net.Outputs())
	if err := g.launch("dg_clean_if", n, n, k, ctl, delta, delta); err != nil {
		return err
	}
	if _, err := g.backward(s.nets, BT, s.times, delta, s.Wn, s.D, s.dspanBuf, upd+Ptr(8*BT), false); err != nil {
		return err
	}
	sp := &s.spec
	targeted := int64(0)
	if a.targeted {
		targeted = 1
	}
	for gi := range s.gp {
		li := s.gl[gi]
		// Weights: clipping, rounding and the bump.
		kind, a1, a2, grad, out := int64(0), max(sp.ClipWeights, 0), sp.RoundWeights, "dW", s.Wn[li]
		bl := int64(li)
		if !a.bump {
			bl = -1
		}
		if s.gd[gi] {
			dp := sp.Delays[li]
			kind, a1, a2, grad, out, bl = 1+delayKind(dp), dp.Shift, dp.Scale, "dD", s.D[li], -1
		}
		gp := g.bufs[fmt.Sprintf("%s%d", grad, li)].ptr
		if err := g.launch("dg_update_if", k*s.gn[gi], s.gn[gi], sp.Beta1, sp.Beta2, sp.AdamEps, a.tab, a.stride, int64(gi),
			ctl, gp, s.gm[gi], s.gv[gi], s.gp[gi], kind, a1, a2, out, bl, int64(s.net.Layers[li].Out), targeted,
			s.silentCounts(li), k); err != nil {
			return err
		}
	}
	return nil
}

// Close implements batch.Stepper: it frees the stepper's own buffers and
// its recording.
func (s *stepper) Close() error {
	leave, err := s.g.enter()
	if err != nil {
		return err
	}
	defer leave()
	return errors.Join(s.dropGraph(), s.g.freePrefix(s.prefix))
}
