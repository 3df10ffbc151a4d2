package kernels

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// FreeMemory is implemented by devices that can report their free memory
// (the CUDA device).
type FreeMemory interface {
	FreeBytes() (int64, error)
}

// sizer is a Device that only counts: Alloc hands out addresses of no
// memory and keeps the bytes in use and their peak; copies and launches
// do nothing.
type sizer struct {
	next       Ptr
	used, peak int64
	sizes      map[Ptr]int64
}

func (s *sizer) Alloc(n int64) (Ptr, error) {
	s.next += Ptr(n + 256)
	s.sizes[s.next] = n
	s.used += n
	s.peak = max(s.peak, s.used)
	return s.next, nil
}

func (s *sizer) Free(p Ptr) error {
	s.used -= s.sizes[p]
	delete(s.sizes, p)
	return nil
}

func (s *sizer) HtoD(Ptr, unsafe.Pointer, int64) error          { return nil }
func (s *sizer) DtoH(unsafe.Pointer, Ptr, int64) error          { return nil }
func (s *sizer) Launch(name string, n int64, args ...any) error { return CheckArgs(name, args) }

// PopulationBytes returns the device memory that the Engine API's forward
// and backward pass of a population of k networks of net's shape, b
// samples each, needs on a fresh engine: the peak of the buffers the
// launcher allocates for them (a buffer that grows is freed and
// allocated anew), counted by a dry run that launches nothing.
func PopulationBytes(net *batch.Network, k, b int) (int64, error) {
	if k < 1 || b < 1 {
		return 0, fmt.Errorf("kernels: population of %d members of %d samples", k, b)
	}
	s := &sizer{sizes: map[Ptr]int64{}}
	e := NewEngine(s)
	nets := make([]*batch.Network, k)
	ins, dys := make([]*tensor.Dense, k), make([]*tensor.Dense, k)
	trs, gs := make([]*batch.Trace, k), make([]*batch.Gradients, k)
	x := batch.NewTimes(b, net.Inputs)
	dy := batch.NewTimes(b, net.Outputs())
	for m := range nets {
		nets[m], ins[m], dys[m], trs[m], gs[m] = net, x, dy, &batch.Trace{}, &batch.Gradients{}
	}
	if err := e.ForwardPop(nets, ins, trs); err != nil {
		return 0, err
	}
	if err := e.BackwardPop(nets, trs, dys, gs); err != nil {
		return 0, err
	}
	return s.peak, nil
}

// PopulationCost is what a population of one network shape costs on the
// device at a batch size: the bytes of the whole pass for one member, and
// what each further member and each further sample of every member adds.
type PopulationCost struct {
	Batch                           int
	One, PerMember, PerMemberSample int64
}

// CostOf measures PopulationCost for net's shape at b samples per member.
func CostOf(net *batch.Network, b int) (PopulationCost, error) {
	one, err1 := PopulationBytes(net, 1, b)
	two, err2 := PopulationBytes(net, 2, b)
	wide, err3 := PopulationBytes(net, 1, 2*b)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return PopulationCost{}, err
		}
	}
	return PopulationCost{Batch: b, One: one, PerMember: two - one, PerMemberSample: (wide - one) / int64(b)}, nil
}

// MaxMembers returns the largest population of net's shape, b samples per
// member and at most limit members, whose pass fits in free bytes of
// device memory (0: not even one).
func MaxMembers(net *batch.Network, b int, free int64, limit int) (int, error) {
	return mostThatFit(limit, free, func(k int) (int64, error) { return PopulationBytes(net, k, b) })
}

// mostThatFit returns the largest k <= limit whose need(k), which grows
// with k, is at most avail (0: not even one), by bisection.
func mostThatFit(limit int, avail int64, need func(k int) (int64, error)) (int, error) {
	lo, hi := 0, limit // lo fits (0 trivially), hi+1 does not
	for lo < hi {
		mid := (lo + hi + 1) / 2
		n, err := need(mid)
		if err != nil {
			return 0, err
		}
		if n <= avail {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// available returns free plus the bytes of the engine's buffers that a
// population pass or run reuses or replaces: all but the steppers',
// except those named with own (a stepper's prefix; "" for none).
func (g *Engine) available(free int64, own string) int64 {
	for name, bf := range g.bufs {
		if !strings.HasPrefix(name, "stepper") || (own != "" && strings.HasPrefix(name, own)) {
			free += bf.bytes
		}
	}
	return free
}

// checkFits refuses a population pass of k members, b samples each, that
// would not fit in the device's memory (where the device reports it),
// naming the largest population that does; buffers the engine holds
// already count as available, since the pass reuses or replaces them.
func (g *Engine) checkFits(net *batch.Network, k, b int) error {
	fm, ok := g.dev.(FreeMemory)
	if !ok || k == 1 {
		return nil
	}
	key := fitKey{k, b, shapeKey(net)}
	if g.fits[key] {
		return nil
	}
	free, err := fm.FreeBytes()
	if err != nil {
		return fmt.Errorf("kernels: free device memory: %w", err)
	}
	need, err := PopulationBytes(net, k, b)
	if err != nil {
		return err
	}
	if avail := g.available(free, ""); need > avail {
		most, err := MaxMembers(net, b, avail, k)
		if err != nil {
			return err
		}
		c, err := CostOf(net, b)
		if err != nil {
			return err
		}
		return fmt.Errorf("kernels: a population of %d members of %d samples needs %s of device memory (%s per member, %s per sample of each), %s is available: at most %d members fit at this batch size; use fewer members or smaller batches",
			k, b, mib(need), mib(c.PerMember), mib(c.PerMemberSample), mib(avail), most)
	}
	g.fits[key] = true
	return nil
}

// fitKey is a population checked against the device's memory: members,
// samples each, and the network's shape.
type fitKey struct {
	k, b  int
	shape string
}

// shapeKey writes what decides a network's buffer sizes.
func shapeKey(net *batch.Network) string {
	s := fmt.Sprint(net.Inputs, net.Multiplex)
	for i := range net.Layers {
		l := &net.Layers[i]
		s += fmt.Sprint(" ", l.In, l.Out, len(l.BiasTimes), l.Delay)
	}
	return s
}

// mib writes a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// StepBytes returns the device memory that a population stepper of k
// members trained with spec needs for runs of n samples a member in
// batches of b: the peak of a dry run on a counting device (the stepper's
// own buffers and those its batches share with the Engine API).
func StepBytes(spec batch.StepSpec, k, n, b int) (int64, error) {
	if k < 1 || n < 1 || b < 1 {
		return 0, fmt.Errorf("kernels: step: population of %d members, runs of %d samples in batches of %d", k, n, b)
	}
	sz := &sizer{sizes: map[Ptr]int64{}}
	st, err := NewEngine(sz).newStepper(spec, k)
	if err != nil {
		return 0, err
	}
	F, L := spec.Net.Inputs, len(spec.Net.Layers)
	in, labels, lr := make([][]float64, k), make([][]int, k), make([][]float64, k)
	sts := make([]*batch.RunState, k)
	x, y := make([]float64, n*F), make([]int, n)
	for q := range k {
		in[q], labels[q], lr[q], sts[q] = x, y, make([]float64, len(st.gp)), &batch.RunState{}
	}
	if err := st.RunPop(in, labels, b, lr, batch.BumpRule{MaxMissing: make([]float64, L)}, sts); err != nil {
		return 0, err
	}
	return sz.peak, nil
}

// checkFits refuses a run of n samples a member in batches of b that
// would not fit in the device's memory (where the device reports it),
// naming the largest population that would. The buffers of this stepper
// and those shared with the Engine API count as available (the run
// reuses or replaces them); other steppers' do not.
func (s *stepper) checkFits(n, b int) error {
	fm, ok := s.g.dev.(FreeMemory)
	if !ok {
		return nil
	}
	key := [2]int{n, b}
	if s.fits[key] {
		return nil
	}
	free, err := fm.FreeBytes()
	if err != nil {
		return fmt.Errorf("kernels: step: free device memory: %w", err)
	}
	avail := s.g.available(free, s.prefix)
	need, err := StepBytes(s.spec, s.k, n, b)
	if err != nil {
		return err
	}
	if need > avail {
		lo, err := mostThatFit(s.k-1, avail, func(k int) (int64, error) { return StepBytes(s.spec, k, n, b) })
		if err != nil {
			return err
		}
		return fmt.Errorf("kernels: step: training a population of %d members on runs of %d samples in batches of %d needs %s of device memory, %s is available: at most %d members fit; train fewer seeds at once",
			s.k, n, b, mib(need), mib(avail), lo)
	}
	if s.fits == nil {
		s.fits = map[[2]int]bool{}
	}
	s.fits[key] = true
	return nil
}
