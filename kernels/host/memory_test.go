//go:build cgo

package host

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/testnet"
	"github.com/delgrad-go/delgrad/kernels"
	"gorgonia.org/tensor"
)

// limited is a CPU device with a fixed amount of memory, which it reports.
type limited struct {
	*Device
	limit, used, peak int64
	sizes             map[kernels.Ptr]int64
}

func (l *limited) Alloc(n int64) (kernels.Ptr, error) {
	if l.used+n > l.limit {
		return 0, fmt.Errorf("out of memory: %d bytes asked, %d free", n, l.limit-l.used)
	}
	p, err := l.Device.Alloc(n)
	if err == nil {
		l.used += n
		l.peak = max(l.peak, l.used)
		l.sizes[p] = n
	}
	return p, err
}

func (l *limited) Free(p kernels.Ptr) error {
	l.used -= l.sizes[p]
	delete(l.sizes, p)
	return l.Device.Free(p)
}

func (l *limited) FreeBytes() (int64, error) { return l.limit - l.used, nil }

// PopulationBytes counts what the pass allocates, exactly: a device with
// that much memory runs the population, and refuses one member more with
// a message naming the population that fits, before allocating anything.
func TestPopulationMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	net := testnet.Net(rng, testnet.Spec{TauMem: 1, Delay: batch.Synaptic, Bias: 1, MaxDWNorm: 0.5, Sizes: []int{16, 24, 10}})
	const k, b = 6, 20
	need, err := kernels.PopulationBytes(net, k, b)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := kernels.CostOf(net, b)
	if err != nil {
		t.Fatal(err)
	}
	if cost.PerMember <= 0 || cost.PerMemberSample <= 0 || cost.One <= 0 {
		t.Fatalf("cost %+v: want positive terms", cost)
	}
	run := func(limit int64, k int) error {
		dev := &limited{Device: &Device{mem: map[kernels.Ptr]allocation{}}, limit: limit, sizes: map[kernels.Ptr]int64{}}
		eng := kernels.NewEngine(dev)
		defer eng.Release()
		nets := make([]*batch.Network, k)
		ins, dys := make([]*tensor.Dense, k), make([]*tensor.Dense, k)
		trs, gs := make([]*batch.Trace, k), make([]*batch.Gradients, k)
		for m := range nets {
			nets[m], ins[m], dys[m] = net, testnet.Input(rng, b, 16, 0.3), testnet.Input(rng, b, 10, 0)
			trs[m], gs[m] = &batch.Trace{}, &batch.Gradients{}
		}
		if err := eng.ForwardPop(nets, ins, trs); err != nil {
			return err
		}
		if err := eng.BackwardPop(nets, trs, dys, gs); err != nil {
			return err
		}
		if got := eng.DeviceBytes(); got != dev.used || dev.peak != need {
			t.Errorf("engine holds %d bytes, the device %d at the end and %d at the peak; PopulationBytes said %d", got, dev.used, dev.peak, need)
		}
		return nil
	}
	if err := run(need, k); err != nil {
		t.Fatalf("with exactly PopulationBytes: %v", err)
	}
	err = run(need, k+1)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("a population of %d members of %d samples needs", k+1, b)) ||
		!strings.Contains(err.Error(), fmt.Sprintf("at most %d members fit", k)) {
		t.Fatalf("one member more: %v, want a refusal naming %d members", err, k)
	}
}

// A population stepper on a device with exactly StepBytes of memory for 3
// members trains them; one of 4 members is refused before its first batch
// with a message naming the 3 that fit.
func TestStepperMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	net := testnet.Net(rng, testnet.Spec{TauMem: 2, Delay: batch.Axonal, MaxDWNorm: 0.5, Sizes: []int{4, 10, 3}})
	spec := batch.StepSpec{Net: net, Loss: "shift_mse", DeltaT: 0.2, TauSyn: 1, Beta1: 0.9, Beta2: 0.999, AdamEps: 1e-8,
		Delays: []batch.DelayParam{{Sigmoid: true, Scale: 1}, {Sigmoid: true, Scale: 1}}}
	const n, b = 60, 20
	need, err := kernels.StepBytes(spec, 3, n, b)
	if err != nil {
		t.Fatal(err)
	}
	run := func(k int) error {
		dev := &limited{Device: &Device{mem: map[kernels.Ptr]allocation{}}, limit: need, sizes: map[kernels.Ptr]int64{}}
		eng := kernels.NewEngine(dev)
		defer eng.Release()
		st, err := eng.NewPopStepper(spec, k)
		if err != nil {
			return err
		}
		defer st.Close()
		in, labels, lr := make([][]float64, k), make([][]int, k), make([][]float64, k)
		sts := make([]*batch.RunState, k)
		w := [][]float64{make([]float64, 40), make([]float64, 30)}
		theta := [][]float64{make([]float64, 4), make([]float64, 10)}
		mo := [][]float64{make([]float64, 40), make([]float64, 30), make([]float64, 4), make([]float64, 10)}
		for q := range k {
			in[q] = testnet.Input(rng, n, 4, 0).Float64s()
			labels[q] = make([]int, n)
			lr[q] = []float64{0.01, 0.01, 0.01, 0.01}
			sts[q] = &batch.RunState{}
			if err := st.LoadMember(q, w, theta, mo, mo); err != nil {
				return err
			}
		}
		if err := st.RunPop(in, labels, b, lr, batch.BumpRule{MaxMissing: []float64{1, 1}}, sts); err != nil {
			return err
		}
		if dev.peak != need {
			t.Errorf("the run's peak is %d bytes, StepBytes said %d", dev.peak, need)
		}
		return nil
	}
	if err := run(3); err != nil {
		t.Fatalf("3 members in StepBytes(3): %v", err)
	}
	err = run(4)
	if err == nil || !strings.Contains(err.Error(), "training a population of 4 members") || !strings.Contains(err.Error(), "at most 3 members fit") {
		t.Fatalf("4 members: %v, want a refusal naming 3", err)
	}
}
