package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
)

// PMemberBytes is the size of delgrad.cuh's dg_pmember, one member of a
// population of perturbed layers (15 long long and a double; kernels/host's
// tests check it against the C compiler).
const PMemberBytes = 128

// perturbedPlan is where a population of perturbed layers lies on the
// device: every member's dg_pmember, and the sizes of the arrays the
// kernels share.
type perturbedPlan struct {
	members []byte // nmem dg_pmember
	data    int64  // doubles of the data array
	entries int64  // sorted entries: sum of B x Rows
	groups  int64  // (member, sample) groups: sum of B
	outs    int64  // outputs: sum of B x Out
}

// planPerturbed lays out the population ls (already checked): each
// member's input times, axonal delays, bias times, weights, tau_mem,
// tau_syn, theta and dendritic delays after the previous member's in one
// data array, and its entries, groups and outputs after the previous
// member's.
func planPerturbed(ls []*batch.PerturbedLayer) perturbedPlan {
	var p perturbedPlan
	p.members = make([]byte, 0, PMemberBytes*len(ls))
	for _, l := range ls {
		at := func(n int, present bool) int64 {
			if !present {
				return -1
			}
			o := p.data
			p.data += int64(n)
			return o
		}
		B, in, out, rows := int64(l.B), int64(l.In), int64(l.Out), int64(l.Rows())
		f := [15]int64{B, in, out, rows}
		f[4] = at(len(l.Input), true)
		f[5] = at(len(l.AxonalDelays), l.AxonalDelays != nil)
		f[6] = at(len(l.BiasTimes), true)
		f[7] = at(len(l.W), true)
		f[8] = at(l.Out, true)
		f[9] = at(l.Out, true)
		f[10] = at(l.Out, true)
		f[11] = at(len(l.DendriticDelays), l.DendriticDelays != nil)
		f[12], f[13], f[14] = p.entries, p.groups, p.outs
		for _, v := range f {
			p.members = binary.LittleEndian.AppendUint64(p.members, uint64(v))
		}
		p.members = binary.LittleEndian.AppendUint64(p.members, math.Float64bits(l.Unit))
		p.entries += B * rows
		p.groups += B
		p.outs += B * out
	}
	return p
}

// fill writes the members' values into data in the plan's layout.
func (p *perturbedPlan) fill(ls []*batch.PerturbedLayer, data []float64) {
	data = data[:0]
	for _, l := range ls {
		for _, v := range [][]float64{l.Input, l.AxonalDelays, l.BiasTimes, l.W, l.TauMem, l.TauSyn, l.Theta, l.DendriticDelays} {
			data = append(data, v...)
		}
	}
}

// EncodePerturbed returns the population's dg_pmember structs, one after
// another, as the C compiler lays them out (little-endian) and
// FirstSpikesPop passes them to the kernels.
func EncodePerturbed(ls []*batch.PerturbedLayer) ([]byte, error) {
	if err := batch.CheckPerturbed(ls); err != nil {
		return nil, fmt.Errorf("kernels: %w", err)
	}
	return planPerturbed(ls).members, nil
}

// bytes returns the device memory the plan's buffers take: members,
// data, sorted times and rows, counts and outputs.
func (p *perturbedPlan) bytes() int64 {
	return int64(len(p.members)) + 8*p.data + 12*p.entries + 4*p.groups + 8*p.outs
}

// FirstSpikesPop implements batch.PerturbedEngine: the whole population in
// two launches, whatever its members' shapes. dg_pert_rank sorts every
// (member, sample)'s input and bias spikes by (time, row) with one thread
// per (member, sample, row), ranking each row by counting (the forward
// pass's sort); dg_pert_spike runs dg_perturbed_spike, bss2model.Membrane's
// root finder written in C, with one thread per (member, sample, neuron).
// The results are bss2model.FirstSpikes', bit for bit. Every layer is
// checked first (batch.CheckPerturbed), and a population that does not fit
// the device's free memory is refused, before anything is copied.
func (g *Engine) FirstSpikesPop(ls []*batch.PerturbedLayer) error {
	if err := batch.CheckPerturbed(ls); err != nil {
		return fmt.Errorf("kernels: first spikes: %w", err)
	}
	p := planPerturbed(ls)
	if p.outs == 0 {
		return nil // no samples
	}
	leave, err := g.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := g.checkPerturbedFits(&p); err != nil {
		return err
	}
	data := make([]float64, p.data)
	p.fill(ls, data)
	mem, err := g.upload("pert.members", unsafe.Pointer(&p.members[0]), int64(len(p.members)))
	if err != nil {
		return err
	}
	dp, err := g.uploadF("pert.data", data)
	if err != nil {
		return err
	}
	su, err1 := g.buf("pert.su", 8*p.entries)
	sidx, err2 := g.buf("pert.sidx", 4*p.entries)
	cnt, err3 := g.buf("pert.cnt", 4*p.groups)
	out, err4 := g.buf("pert.out", 8*p.outs)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return err
		}
	}
	nmem := int64(len(ls))
	if err := g.launch("dg_pert_rank", p.entries, p.entries, nmem, mem, dp, su, sidx, cnt); err != nil {
		return err
	}
	if err := g.launch("dg_pert_spike", p.outs, p.outs, nmem, mem, dp, su, sidx, cnt, out); err != nil {
		return err
	}
	all := make([]float64, p.outs)
	if err := g.download(all, out, "the perturbed layers' spike times"); err != nil {
		return err
	}
	o := 0
	for _, l := range ls {
		o += copy(l.Output, all[o:o+len(l.Output)])
	}
	return nil
}

// checkPerturbedFits refuses a population of perturbed layers whose
// buffers do not fit in the device's free memory (where the device
// reports it); the engine's buffers for perturbed layers count as
// available, as the call reuses or replaces them.
func (g *Engine) checkPerturbedFits(p *perturbedPlan) error {
	fm, ok := g.dev.(FreeMemory)
	if !ok {
		return nil
	}
	free, err := fm.FreeBytes()
	if err != nil {
		return fmt.Errorf("kernels: free device memory: %w", err)
	}
	avail := free
	for name, b := range g.bufs {
		if strings.HasPrefix(name, "pert.") {
			avail += b.bytes
		}
	}
	if need := p.bytes(); need > avail {
		return fmt.Errorf("kernels: first spikes: the perturbed layers (%d members, %d outputs) need %s of device memory, %s is available: solve them in smaller groups",
			len(p.members)/PMemberBytes, p.outs, mib(need), mib(avail))
	}
	return nil
}

var _ batch.PerturbedEngine = (*Engine)(nil)
