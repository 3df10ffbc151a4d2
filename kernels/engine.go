package kernels

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"unsafe"

	"github.com/delgrad-go/delgrad/batch"
	"gorgonia.org/tensor"
)

// Ptr is an address in a Device's memory.
type Ptr uint64

// Device is what the launcher needs from a GPU: memory and kernel launches.
// The CUDA device (build tag cuda) implements it with gorgonia.org/cu and
// the driver calls of launch_cuda.c;
// package kernels/host implements it on the CPU, running the same kernel
// bodies in loops, so the launcher below is tested without a GPU.
type Device interface {
	Alloc(bytes int64) (Ptr, error)
	Free(p Ptr) error
	// HtoD copies n bytes from host memory src to p; DtoH the other way.
	HtoD(p Ptr, src unsafe.Pointer, n int64) error
	DtoH(dst unsafe.Pointer, p Ptr, n int64) error
	// Launch runs kernel name (see Kernels) on n threads; each argument is
	// a Ptr, an int64 (C long long) or a float64 (C double).
	Launch(name string, n int64, args ...any) error
}

// Recorder is a Device that can record a sequence of launches once and
// replay it as one (CUDA graphs). The launches recorded must take only
// buffers that stay allocated while the recording is replayed.
type Recorder interface {
	// Record runs launch with the device's launches recorded instead of
	// run, and returns the recording.
	Record(launch func() error) (Replay, error)
	// Replaying reports whether recordings may be replayed now (not, for
	// example, while each launch is timed): when not, their launches are
	// to be made one by one.
	Replaying() bool
}

// Replay is a recorded sequence of launches.
type Replay interface {
	// Replay launches the recorded sequence once.
	Replay() error
	// Close frees the recording.
	Close() error
}

// Kernels lists every kernel with the kinds of its parameters, in order:
// 'p' a device pointer, 'i' a long long, 'f' a double. It must match
// DG_KERNELS in delgrad.cuh; a test holds it against the PTX.
var Kernels = map[string]string{
	"dg_mux":          "iiipp",
	"dg_fwd_rank":     "pipppppp",
	"dg_fwd_rank_w":   "pipppppp",
	"dg_fwd_exps":     "iippppppp",
	"dg_fwd_spike":    "pipppppppppppp",
	"dg_fwd_spike_w":  "pipppppppppppp",
	"dg_clean":        "ipp",
	"dg_syn_exps":     "pppp",
	"dg_bwd_range":    "pipppppp",
	"dg_bwd_rows":     "pipppppppp",
	"dg_bwd_rows_w":   "pippppppppp",
	"dg_bwd_neuron":   "pippppppppppppp",
	"dg_bwd_neuron_w": "pippppppppppppp",
	"dg_bwd_input":    "pipppppppppp",
	"dg_bwd_weight":   "piippppppppppp",
	"dg_chunksum":     "iiipp",
	"dg_colsum":       "iiiipp",
	"dg_dendsum":      "iiiipp",
	"dg_clipsum":      "iiiipp",
	"dg_unmux":        "iiipp",
	"dg_sync_w":       "ifpp",
	"dg_sync_d":       "iiffpp",
	"dg_silent":       "iiiipp",
	"dg_loss":         "iiiffffppppp",
	"dg_decide":       "iiipppp",
	"dg_update_if":    "ifffpiipppppiffpiiipi",
	"dg_batch_in":     "iiipppppippi",
	"dg_accum":        "iiippp",
	"dg_clean_if":     "iippp",
	"dg_pert_rank":    "iippppp",
	"dg_pert_spike":   "iipppppp",
}

// CheckArgs reports whether args fit kernel name's parameter kinds.
func CheckArgs(name string, args []any) error {
	sig, ok := Kernels[name]
	if !ok {
		return fmt.Errorf("kernels: no kernel %s", name)
	}
	if len(args) != len(sig) {
		return fmt.Errorf("kernels: %s takes %d arguments, got %d", name, len(sig), len(args))
	}
	for i, a := range args {
		var k byte
		switch a.(type) {
		case Ptr:
			k = 'p'
		case int64:
			k = 'i'
		case float64:
			k = 'f'
		default:
			return fmt.Errorf("kernels: %s argument %d has type %T", name, i, a)
		}
		if k != sig[i] {
			return fmt.Errorf("kernels: %s argument %d is of kind %c, the kernel wants %c", name, i, k, sig[i])
		}
	}
	return nil
}

// Sizes of the C structs of delgrad.cuh (kernels/host's tests check them
// against the C compiler).
const (
	LayerBytes  = 64 // dg_layer: 8 int, 4 double
	NStateBytes = 56 // dg_nstate: 6 double, 2 int
)

// EncodeLayer returns layer l's dg_layer struct for a population of nmem
// members (1: a single network) as the C compiler lays it out
// (little-endian).
func EncodeLayer(l *batch.Layer, nmem int) ([]byte, error) {
	if nmem < 1 {
		return nil, fmt.Errorf("kernels: population of %d members", nmem)
	}
	r, err := l.Neuron.Regime()
	if err != nil {
		return nil, err
	}
	p := l.Neuron
	b := make([]byte, LayerBytes)
	for i, v := range []int{l.In, l.Out, l.Rows(), len(l.BiasTimes), int(l.Delay), int(r), nmem, 0} {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(int32(v)))
	}
	for i, v := range []float64{p.TauSyn, p.GLeak() * (p.Threshold - p.Leak), p.Eps, l.MaxDWNorm} {
		binary.LittleEndian.PutUint64(b[32+8*i:], math.Float64bits(v))
	}
	return b, nil
}

// Engine is a batch.Engine that runs the DelGrad kernels on a Device.
// Device buffers are allocated on first use and reused (grown when a larger
// batch or layer needs more). Calls are serialised.
type Engine struct {
	mu   sync.Mutex
	dev  Device
	bufs map[string]buffer
	// consts holds what the constant buffers (layer structs, bias times)
	// last received, so that an unchanged layer is not copied again; and,
	// for the Engine API's weights, delays and spike times, a mirror of
	// what the device buffer holds (uploadSame), so that Backward does not
	// copy again what Forward left there.
	consts map[string][]byte
	// steppers counts the steppers made, to name their own buffers.
	steppers int
	// gen counts the allocations and frees of device buffers: a recorded
	// sequence of launches (Recorder) is valid while it is unchanged.
	gen uint64
	// replays holds the live recordings, which Release closes.
	replays map[Replay]bool
	// fits remembers the populations found to fit in the device's memory
	// (checkFits).
	fits map[fitKey]bool
	// bind, when set, runs before each call (the CUDA device binds its
	// context to the calling thread) and returns the function that undoes it.
	bind func() (func(), error)
	// WarpSearch chooses, per layer and call, how the forward pass
	// searches each (sample, neuron) pair's first spike: true gives the
	// pair a warp of 32 threads (dg_fwd_spike_w), which try 32 input
	// intervals at once; false one thread (dg_fwd_spike). WarpNeuron
	// chooses the same for the backward pass's neuron phase
	// (dg_bwd_neuron_w, whose lanes share the pair's rows, against
	// dg_bwd_neuron). Either way the bits are the same. pairs is B x Out,
	// rows the layer's inputs per neuron (bias included). nil: one thread
	// per pair, always (NewGPU sets both to WarpSmallBatches). A change
	// applies to the next calls, but not to a trainer's batches already
	// recorded as CUDA graphs (Stepper), which keep the kernels they were
	// recorded with: set them before training.
	WarpSearch, WarpNeuron func(pairs, rows int64) bool
	// WarpRows chooses, per layer and call, for the two per-row phases:
	// true gives the forward pass's sort a warp per (sample, row)
	// (dg_fwd_rank_w: the lanes share the comparisons with the other rows)
	// and the backward pass's first phase a warp per sample
	// (dg_bwd_rows_w: its lanes share the rows and merge their ranges, the
	// reference time and the rows' exponentials in one kernel); false one
	// thread per (sample, row) for the sort, and one thread per sample for
	// the range (dg_bwd_range) then one per (sample, row) (dg_bwd_rows).
	// The same bits either way; pairs is here the batch size B, rows the
	// layer's inputs per neuron. nil, the default: one thread (the warp
	// versions have run on the CPU-compiled kernels only, not yet on a
	// GPU; bench/NOTES.md, session 9).
	WarpRows func(pairs, rows int64) bool
}

// WarpSmallBatches is the GPU engine's policy for WarpSearch and
// WarpNeuron (NewGPU sets it): a warp per (sample, neuron) pair where a
// layer has at least 32 inputs per neuron and at most WarpPairLimit pairs.
// With few pairs, one thread per pair walks a long input list alone while
// most of a large GPU idles (an H200 holds 132 x 2048 threads at once);
// with many, one thread per pair keeps enough warps busy with less work
// than 32 lanes. Measured on an H200 (bench/NOTES.md, session 9): 16x16
// MNIST training epochs (batch 50) 1.7-1.8x faster and mnist_784's (batch
// 80) 1.2-1.5x; at 25,600 pairs (16x16 MNIST's hidden layer at B = 200)
// one thread per pair was ahead by 5-9%.
func WarpSmallBatches(pairs, rows int64) bool { return rows >= 32 && pairs <= WarpPairLimit }

// WarpPairLimit is WarpSmallBatches' largest number of (sample, neuron)
// pairs in a layer for a warp per pair: of the limits 8192, 16384, 32768
// and 65536, 16384 gave the fastest MNIST training epochs on an H200 (mean
// of two rounds; 8192 was within 0.2% on 16x16 MNIST).
const WarpPairLimit = 1 << 14

// perPair returns the launch of a per-(sample, neuron) kernel: name with
// one thread per pair, or name_w with a warp per pair where warp says so.
func perPair(warp func(pairs, rows int64) bool, name string, pairs, rows int64, args []any) launchStep {
	if warp != nil && warp(pairs, rows) {
		return launchStep{name + "_w", 32 * pairs, args, nil}
	}
	return launchStep{name, pairs, args, nil}
}

// spikeSearch is the forward pass's spike-search launch for pairs (sample,
// neuron) pairs of a layer with rows inputs per neuron.
func (g *Engine) spikeSearch(pairs, rows int64, args []any) launchStep {
	return perPair(g.WarpSearch, "dg_fwd_spike", pairs, rows, args)
}

// neuronPhase is the backward pass's neuron-phase launch.
func (g *Engine) neuronPhase(pairs, rows int64, args []any) launchStep {
	return perPair(g.WarpNeuron, "dg_bwd_neuron", pairs, rows, args)
}

type buffer struct {
	ptr   Ptr
	bytes int64
}

// NewEngine returns an engine on dev.
func NewEngine(dev Device) *Engine {
	return &Engine{dev: dev, bufs: map[string]buffer{}, consts: map[string][]byte{}, replays: map[Replay]bool{}, fits: map[fitKey]bool{}}
}

// DeviceBytes returns the device memory the engine's buffers hold.
func (g *Engine) DeviceBytes() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var n int64
	for _, b := range g.bufs {
		n += b.bytes
	}
	return n
}

// Release frees every buffer.
func (g *Engine) Release() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var first error
	for name, b := range g.bufs {
		if err := g.dev.Free(b.ptr); err != nil && first == nil {
			first = fmt.Errorf("kernels: freeing %s: %w", name, err)
		}
	}
	g.bufs = map[string]buffer{}
	g.consts = map[string][]byte{}
	g.gen++
	for r := range g.replays {
		if err := r.Close(); err != nil && first == nil {
			first = fmt.Errorf("kernels: freeing a recording: %w", err)
		}
	}
	clear(g.replays)
	return first
}

func (g *Engine) enter() (func(), error) {
	g.mu.Lock()
	if g.bind == nil {
		return g.mu.Unlock, nil
	}
	undo, err := g.bind()
	if err != nil {
		g.mu.Unlock()
		return nil, err
	}
	return func() { undo(); g.mu.Unlock() }, nil
}

// freePrefix frees the buffers whose names start with prefix.
func (g *Engine) freePrefix(prefix string) error {
	var first error
	for name, b := range g.bufs {
		if strings.HasPrefix(name, prefix) {
			if err := g.dev.Free(b.ptr); err != nil && first == nil {
				first = fmt.Errorf("kernels: freeing %s: %w", name, err)
			}
			delete(g.bufs, name)
			delete(g.consts, name)
			g.gen++
		}
	}
	return first
}

// buf returns the device buffer called name with at least n bytes.
func (g *Engine) buf(name string, n int64) (Ptr, error) {
	n = max(n, 8)
	if b, ok := g.bufs[name]; ok && b.bytes >= n {
		return b.ptr, nil
	} else if ok {
		if err := g.dev.Free(b.ptr); err != nil {
			return 0, fmt.Errorf("kernels: freeing %s: %w", name, err)
		}
		delete(g.bufs, name)
		delete(g.consts, name)
	}
	g.gen++
	p, err := g.dev.Alloc(n)
	if err != nil {
		return 0, fmt.Errorf("kernels: allocating %d bytes for %s: %w", n, name, err)
	}
	g.bufs[name] = buffer{p, n}
	return p, nil
}

func (g *Engine) upload(name string, src unsafe.Pointer, n int64) (Ptr, error) {
	p, err := g.buf(name, n)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		if err := g.dev.HtoD(p, src, n); err != nil {
			return 0, fmt.Errorf("kernels: copying %s to the device: %w", name, err)
		}
	}
	return p, nil
}

func (g *Engine) uploadF(name string, v []float64) (Ptr, error) {
	if len(v) == 0 {
		return g.buf(name, 8)
	}
	return g.upload(name, unsafe.Pointer(&v[0]), int64(8*len(v)))
}

func (g *Engine) download(dst []float64, src Ptr, what string) error {
	if len(dst) == 0 {
		return nil
	}
	if err := g.dev.DtoH(unsafe.Pointer(&dst[0]), src, int64(8*len(dst))); err != nil {
		return fmt.Errorf("kernels: copying %s from the device: %w", what, err)
	}
	return nil
}

func (g *Engine) launch(name string, n int64, args ...any) error {
	if n <= 0 {
		return nil
	}
	if err := CheckArgs(name, args); err != nil {
		return err
	}
	if err := g.dev.Launch(name, n, args...); err != nil {
		return fmt.Errorf("kernels: launching %s on %d threads: %w", name, n, err)
	}
	return nil
}

// mirrorMax is the largest buffer, in bytes, that uploadSame and mirror
// keep a host copy of: beyond it the copy and the comparison cost about
// what the upload they save does.
const mirrorMax = 4 << 20

// f64bytes views v's memory as bytes.
func f64bytes(v []float64) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 8*len(v))
}

// uploadKnown copies b to the buffer called name unless the buffer is
// known to hold exactly b already (the copy consts keeps of what it was
// last given, which any reallocation or free drops), and then keeps such
// a copy of b if it has at most limit bytes. It reports whether it copied.
func (g *Engine) uploadKnown(name string, b []byte, limit int) (Ptr, bool, error) {
	if old, ok := g.consts[name]; ok && string(old) == string(b) {
		return g.bufs[name].ptr, false, nil
	}
	delete(g.consts, name)
	if len(b) == 0 {
		p, err := g.buf(name, 8)
		return p, false, err
	}
	p, err := g.upload(name, unsafe.Pointer(&b[0]), int64(len(b)))
	if err != nil {
		return 0, false, err
	}
	if len(b) <= limit {
		g.consts[name] = append([]byte(nil), b...)
	}
	return p, true, nil
}

// uploadSame copies v to the buffer called name unless the buffer is known
// to hold exactly v already (from uploadSame or mirror). Unlike
// uploadConst it leaves recordings valid: the buffers it serves are the
// Engine API's, which no recording reads.
func (g *Engine) uploadSame(name string, v []float64) (Ptr, error) {
	p, _, err := g.uploadKnown(name, f64bytes(v), mirrorMax)
	return p, err
}

// mirror records that the buffer called name holds exactly v (when v is
// small enough to keep a copy of).
func (g *Engine) mirror(name string, v []float64) {
	if b := f64bytes(v); len(b) > 0 && len(b) <= mirrorMax {
		g.consts[name] = append(g.consts[name][:0], b...)
	}
}

// uploadConst copies b to the buffer called name unless it already holds
// exactly b; a copy invalidates the recordings, which read such buffers
// for what they held when recorded.
func (g *Engine) uploadConst(name string, b []byte) (Ptr, error) {
	p, copied, err := g.uploadKnown(name, b, math.MaxInt)
	if copied {
		g.gen++
	}
	return p, err
}

// layerConsts uploads layer li's constants (one dg_layer per member of
// the population nets) and bias times, member after member (when
// changed). Each population size has buffers of its own, so that a
// single network's constants (a single stepper's) stay unchanged by
// population passes; populations of one size share theirs, and a change
// there (another population's constants) bumps gen, which drops the
// recordings that read them (a population stepper's re-records).
func (g *Engine) layerConsts(li int, nets []*batch.Network) (lp, bias Ptr, err error) {
	var enc, bb []byte
	for _, net := range nets {
		l := &net.Layers[li]
		e, err := EncodeLayer(l, len(nets))
		if err != nil {
			return 0, 0, err
		}
		enc = append(enc, e...)
		for _, v := range l.BiasTimes {
			bb = binary.LittleEndian.AppendUint64(bb, math.Float64bits(v))
		}
	}
	name, bname := fmt.Sprintf("L%d", li), fmt.Sprintf("bias%d", li)
	if len(nets) > 1 {
		name, bname = fmt.Sprintf("L%d/%d", li, len(nets)), fmt.Sprintf("bias%d/%d", li, len(nets))
	}
	if lp, err = g.uploadConst(name, enc); err != nil {
		return 0, 0, err
	}
	bias, err = g.uploadConst(bname, bb)
	return lp, bias, err
}

// uploadParams copies every layer's weights and delays to the device
// (those the device does not hold already).
func (g *Engine) uploadParams(net *batch.Network) (w, d []Ptr, err error) {
	w, d = make([]Ptr, len(net.Layers)), make([]Ptr, len(net.Layers))
	for li := range net.Layers {
		l := &net.Layers[li]
		if w[li], err = g.uploadSame(fmt.Sprintf("w%d", li), l.W()); err != nil {
			return nil, nil, err
		}
		if d[li], err = g.uploadSame(fmt.Sprintf("d%d", li), l.D()); err != nil {
			return nil, nil, err
		}
	}
	return w, d, nil
}

// layerSizes returns the width of the multiplexed input and of every layer.
func layerSizes(net *batch.Network) []int {
	sizes := []int{net.Layers[0].In}
	for i := range net.Layers {
		sizes = append(sizes, net.Layers[i].Out)
	}
	return sizes
}

// forward runs the network on the device: B samples of input times x
// (B x Inputs), weights w and delays d per layer; it returns the buffers of
// the multiplexed input and of every layer's output times. nets is a
// population (one network: a single one) of nmem members: the samples are
// B/nmem per member, member after member, and w and d hold the members'
// parameters one after another.
//
// The time buffers are named prefix+"t<i>". With useX and no multiplexing,
// x itself serves as the input's times (no copy): the caller keeps x
// unchanged for as long as it uses the times. Unless silent is 0, the
// spike search adds the silent (sample, neuron) pairs per neuron to the
// counts there (layer l's at silent + 8*nmem*layerOffset(l), member after
// member, as backward's clip counts; the caller zeroes them).
func (g *Engine) forward(nets []*batch.Network, B int64, x Ptr, w, d []Ptr, prefix string, useX bool, silent Ptr) ([]Ptr, error) {
	net, nmem := nets[0], int64(len(nets))
	sizes := layerSizes(net)
	times := make([]Ptr, len(sizes))
	mux := int64(max(net.Multiplex, 1))
	alias := useX && mux == 1
	var err error
	for i, n := range sizes {
		if i == 0 && alias {
			times[0] = x
			continue
		}
		if times[i], err = g.buf(fmt.Sprintf("%st%d", prefix, i), 8*B*int64(n)); err != nil {
			return nil, err
		}
	}
	if !alias {
		if err := g.launch("dg_mux", B*int64(sizes[0]), B, int64(net.Inputs), mux, x, times[0]); err != nil {
			return nil, err
		}
	}
	for li := range net.Layers {
		l := &net.Layers[li]
		lp, bias, err := g.layerConsts(li, nets)
		if err != nil {
			return nil, fmt.Errorf("forward: layer %d: %w", li, err)
		}
		groups := B
		if l.Delay == batch.Synaptic {
			groups *= int64(l.Out)
		}
		R := int64(l.Rows())
		n := groups * R
		var s [6]Ptr
		for i, name := range []string{"su", "e1", "te1", "e2", "ref", "shift"} {
			if s[i], err = g.buf(name, 8*n); err != nil {
				return nil, err
			}
		}
		sidx, err1 := g.buf("sidx", 4*n)
		cnt, err2 := g.buf("cnt", 4*groups)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		sil := Ptr(0)
		if silent != 0 {
			sil = silent + Ptr(8*nmem*int64(layerOffset(net, li)))
		}
		rank := launchStep{"dg_fwd_rank", n, []any{lp, B, times[li], d[li], bias, s[0], sidx, cnt}, nil}
		if g.WarpRows != nil && g.WarpRows(B, R) {
			rank.name, rank.n = "dg_fwd_rank_w", 32*n
		}
		for _, st := range []launchStep{
			rank,
			{"dg_fwd_exps", n, []any{groups, R, s[0], cnt, s[1], s[2], s[3], s[4], s[5]}, nil},
			g.spikeSearch(B*int64(l.Out), R, []any{lp, B, s[0], sidx, s[1], s[2], s[3], s[4], s[5], cnt, w[li], d[li], times[li+1], sil}),
		} {
			if err := g.launch(st.name, st.n, st.args...); err != nil {
				return nil, err
			}
		}
	}
	return times, nil
}

type launchStep struct {
	name string
	n    int64
	args []any
	err  error // a buffer the step needs could not be had
}

// colSums returns the launches that sum the N columns of a B-row matrix
// (or of the per-(sample, neuron) states) with kernel name into out, in
// batch.SumChunk's chunks: partial sums, then their sum in chunk order.
// With nmem > 1 the rows are a population's, B/nmem per member, and each
// member's N sums land after the previous member's.
func (g *Engine) colSums(name string, nmem, B, N int64, x, out Ptr) []launchStep {
	Bm := B / nmem
	C := int64(batch.SumChunk(int(Bm), int(N)))
	nch := (Bm + C - 1) / C
	part, err := g.buf("part."+name, 8*nch*nmem*N)
	return []launchStep{
		{name, nch * nmem * N, []any{B, N, C, nmem, x, part}, err},
		{"dg_chunksum", nmem * N, []any{nmem * N, nch, nmem * N, part, out}, err},
	}
}

// backward runs the backward pass on the device from the times of every
// layer and dL/d(output times) delta (B x Outputs, already cleaned of
// non-finite values). Layer l's gradients land in the buffers "dW<l>" and
// "dD<l>", and its clipped (sample, neuron) pairs per neuron in counts (as
// laid out below); it returns the buffer of the error at the
// (multiplexed) input. Nothing is copied to the host.
//
// dspan[l] holds, per member, a bound of max |d|/tau_s over a synaptic
// layer's delays (it decides which samples count as wide, as in the Go
// engine). The clip counts are added to counts by the neuron phase where
// countAsFound(B) (the caller zeroes them), else summed in chunks; layer
// l's lie at counts + 8*nmem*(the sizes of the layers before l), member
// after member. Without needInput the error at the input is not computed
// unless the first layer's axonal delays need it (the returned buffer then
// holds no values). nets is a population of nmem as forward says: its
// samples, parameters and gradients are laid out member after member;
// "dW<l>" and "dD<l>" hold the members' gradients one after another.
func (g *Engine) backward(nets []*batch.Network, B int64, times []Ptr, delta Ptr, w, d, dspan []Ptr, counts Ptr, needInput bool) (Ptr, error) {
	net, nmem := nets[0], int64(len(nets))
	Bm := B / nmem
	for li := len(net.Layers) - 1; li >= 0; li-- {
		l := &net.Layers[li]
		lp, bias, err := g.layerConsts(li, nets)
		if err != nil {
			return 0, fmt.Errorf("backward: layer %d: %w", li, err)
		}
		R, K, I := int64(l.Rows()), int64(l.Out), int64(l.In)
		nd := int64(len(l.D()))
		u, err1 := g.buf("u", 8*B*R)
		e1, err2 := g.buf("be1", 8*B*R)
		e2, err3 := g.buf("be2", 8*B*R)
		ref, err4 := g.buf("bref", 8*B)
		wide, err5 := g.buf("wide", 4*B)
		st, err6 := g.buf("st", B*K*NStateBytes)
		gin, err7 := g.buf(fmt.Sprintf("gin%d", li%2), 8*B*I)
		dW, err8 := g.buf(fmt.Sprintf("dW%d", li), 8*nmem*R*K)
		dD, err9 := g.buf(fmt.Sprintf("dD%d", li), 8*nmem*max(nd, 1))
		ed1, err10 := g.buf("ed1", 8*nmem*max(I*K, 1))
		ed2, err11 := g.buf("ed2", 8*nmem*max(I*K, 1))
		if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11); err != nil {
			return 0, err
		}
		lc, clip := counts+Ptr(8*nmem*int64(layerOffset(net, li))), Ptr(0)
		if countAsFound(B) {
			clip = lc
		}
		if l.Delay == batch.Synaptic {
			if err := g.launch("dg_syn_exps", nmem*I*K, lp, d[li], ed1, ed2); err != nil {
				return 0, err
			}
		}
		// The weight gradients in chunks of a member's samples, as
		// batch.SumChunk (and the CPU engine) sums them.
		C := int64(batch.SumChunk(int(Bm), int(R*K)))
		nch := (Bm + C - 1) / C
		pdBytes := int64(8)
		if l.Delay == batch.Synaptic {
			pdBytes = 8 * nch * nmem * I * K
		}
		pW, err1 := g.buf("pW", 8*nch*nmem*R*K)
		pD, err2 := g.buf("pD", pdBytes)
		if err := errors.Join(err1, err2); err != nil {
			return 0, err
		}
		var steps []launchStep
		if g.WarpRows != nil && g.WarpRows(B, R) {
			steps = append(steps, launchStep{"dg_bwd_rows_w", 32 * B, []any{lp, B, times[li], d[li], bias, dspan[li], ref, wide, u, e1, e2}, nil})
		} else {
			steps = append(steps,
				launchStep{"dg_bwd_range", B, []any{lp, B, times[li], d[li], bias, dspan[li], ref, wide}, nil},
				launchStep{"dg_bwd_rows", B * R, []any{lp, B, times[li], d[li], bias, ref, wide, u, e1, e2}, nil})
		}
		steps = append(steps, g.neuronPhase(B*K, R, []any{lp, B, u, e1, e2, ref, wide, ed1, ed2, w[li], d[li], times[li+1], delta, st, clip}))
		if li > 0 || needInput || l.Delay == batch.Axonal {
			steps = append(steps, launchStep{"dg_bwd_input", B * I, []any{lp, B, u, e1, e2, wide, ed1, ed2, w[li], d[li], st, gin}, nil})
		}
		steps = append(steps,
			launchStep{"dg_bwd_weight", nch * nmem * R * K, []any{lp, B, C, u, e1, e2, wide, ed1, ed2, w[li], d[li], st, pW, pD}, nil},
			launchStep{"dg_chunksum", nmem * R * K, []any{nmem * R * K, nch, nmem * R * K, pW, dW}, nil})
		if l.Delay == batch.Synaptic {
			steps = append(steps, launchStep{"dg_chunksum", nmem * I * K, []any{nmem * I * K, nch, nmem * I * K, pD, dD}, nil})
		}
		if clip == 0 {
			steps = append(steps, g.colSums("dg_clipsum", nmem, B, K, st, lc)...)
		}
		switch l.Delay {
		case batch.Axonal:
			steps = append(steps, g.colSums("dg_colsum", nmem, B, I, gin, dD)...)
		case batch.Dendritic:
			steps = append(steps, g.colSums("dg_dendsum", nmem, B, K, st, dD)...)
		}
		for _, s := range steps {
			if s.err != nil {
				return 0, s.err
			}
			if err := g.launch(s.name, s.n, s.args...); err != nil {
				return 0, err
			}
		}
		delta = gin
	}
	return delta, nil
}

// countAsFound reports whether, for a batch of B samples, the kernels that
// find the silent and the clipped pairs add them to their neuron's counter
// atomically as they go (up to 4096 samples); larger batches sum them in
// chunks (colSums), so that thousands of threads do not queue on the same
// few counters. Counts are whole numbers, so both ways give the same bits.
func countAsFound(B int64) bool { return B <= 4096 }

// layerOffset returns the number of neurons in the layers before li.
func layerOffset(net *batch.Network, li int) int {
	o := 0
	for _, l := range net.Layers[:li] {
		o += l.Out
	}
	return o
}

// neurons returns the number of neurons in the network.
func neurons(net *batch.Network) int { return layerOffset(net, len(net.Layers)) }

// Forward implements batch.Engine: the population pass with one member.
func (g *Engine) Forward(net *batch.Network, input *tensor.Dense, tr *batch.Trace) error {
	return g.ForwardPop([]*batch.Network{net}, []*tensor.Dense{input}, []*batch.Trace{tr})
}

// Backward implements batch.Engine: the population pass with one member.
func (g *Engine) Backward(net *batch.Network, tr *batch.Trace, dOut *tensor.Dense, gr *batch.Gradients) error {
	return g.BackwardPop([]*batch.Network{net}, []*batch.Trace{tr}, []*tensor.Dense{dOut}, []*batch.Gradients{gr})
}

// popShape checks a population call (batch.CheckPopulation, with the
// per-member arguments args and member m's batch size from size) and
// returns its members' common batch size, or 0 when the members' batches
// differ in size (the calls then run member by member).
func popShape(what string, nets []*batch.Network, args []batch.PopArg, size func(m int) (int, error)) (int, error) {
	off, err := batch.CheckPopulation(nets, args, size)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	b := off[1]
	for m := 1; m < len(nets); m++ {
		if off[m+1]-off[m] != b {
			return 0, nil
		}
	}
	return b, nil
}

// popData returns the members' values of one tensor argument laid end to
// end (without a copy for one member); scratch, when large enough, holds
// them.
func popData(ts []*tensor.Dense, scratch *[]float64) []float64 {
	if len(ts) == 1 {
		return ts[0].Float64s()
	}
	n := 0
	for _, t := range ts {
		n += len(t.Float64s())
	}
	if cap(*scratch) < n {
		*scratch = make([]float64, n)
	}
	out := (*scratch)[:0]
	for _, t := range ts {
		out = append(out, t.Float64s()...)
	}
	return out
}

// uploadPopParams copies every layer's weights and delays of the members
// to the device (those the device does not hold already), member after
// member.
func (g *Engine) uploadPopParams(nets []*batch.Network) (w, d []Ptr, err error) {
	if len(nets) == 1 {
		return g.uploadParams(nets[0])
	}
	L := len(nets[0].Layers)
	w, d = make([]Ptr, L), make([]Ptr, L)
	for li := 0; li < L; li++ {
		var ws, ds []float64
		for _, net := range nets {
			ws = append(ws, net.Layers[li].W()...)
			ds = append(ds, net.Layers[li].D()...)
		}
		if w[li], err = g.uploadSame(fmt.Sprintf("w%d", li), ws); err != nil {
			return nil, nil, err
		}
		if d[li], err = g.uploadSame(fmt.Sprintf("d%d", li), ds); err != nil {
			return nil, nil, err
		}
	}
	return w, d, nil
}

// ForwardPop implements batch.PopEngine: one launch per kernel for the
// whole population, whose members' samples the kernels see as one batch
// (member after member) and whose parameters they index by member. Members
// with batches of different sizes run one after the other.
func (g *Engine) ForwardPop(nets []*batch.Network, inputs []*tensor.Dense, trs []*batch.Trace) error {
	b, err := popShape("forward", nets, []batch.PopArg{{Name: "inputs", N: len(inputs)}, {Name: "traces", N: len(trs)}}, func(m int) (int, error) {
		if trs[m] == nil {
			return 0, errors.New("trace is nil")
		}
		return batch.CheckInput(nets[m], inputs[m])
	})
	if err != nil {
		return err
	}
	if b == 0 {
		for m := range nets {
			if err := g.Forward(nets[m], inputs[m], trs[m]); err != nil {
				return fmt.Errorf("member %d: %w", m, err)
			}
		}
		return nil
	}
	K := int64(len(nets))
	for m, tr := range trs {
		tr.Reshape(nets[m], b)
	}
	leave, err := g.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := g.checkFits(nets[0], len(nets), b); err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	var scratch []float64
	x, err := g.uploadF("x", popData(inputs, &scratch))
	if err != nil {
		return err
	}
	w, d, err := g.uploadPopParams(nets)
	if err != nil {
		return err
	}
	// The pass overwrites the time buffers: their mirrors go first, and
	// come back as what was copied out (for Backward's uploadSame).
	L := len(trs[0].Times)
	for i := 0; i < L; i++ {
		delete(g.consts, fmt.Sprintf("t%d", i))
	}
	times, err := g.forward(nets, K*int64(b), x, w, d, "", false, 0)
	if err != nil {
		return err
	}
	for i := 0; i < L; i++ {
		layer := make([]*tensor.Dense, K)
		for m, tr := range trs {
			layer[m] = tr.Times[i]
		}
		all := popData(layer, &scratch)
		if err := g.download(all, times[i], fmt.Sprintf("the times of layer %d", i)); err != nil {
			return err
		}
		if K > 1 {
			n := len(trs[0].Times[i].Float64s())
			for m, tr := range trs {
				copy(tr.Times[i].Float64s(), all[m*n:(m+1)*n])
			}
		}
		g.mirror(fmt.Sprintf("t%d", i), all)
	}
	return nil
}

// BackwardPop implements batch.PopEngine, as ForwardPop does: one launch
// per kernel for the whole population, members with batches of different
// sizes one after the other.
func (g *Engine) BackwardPop(nets []*batch.Network, trs []*batch.Trace, dOut []*tensor.Dense, grs []*batch.Gradients) error {
	b, err := popShape("backward", nets, []batch.PopArg{{Name: "traces", N: len(trs)}, {Name: "output errors", N: len(dOut)}, {Name: "gradients", N: len(grs)}}, func(m int) (int, error) {
		if grs[m] == nil {
			return 0, errors.New("gradients are nil: use batch.NewGradients")
		}
		return batch.CheckBackward(nets[m], trs[m], dOut[m])
	})
	if err != nil {
		return err
	}
	if b == 0 {
		for m := range nets {
			if err := g.Backward(nets[m], trs[m], dOut[m], grs[m]); err != nil {
				return fmt.Errorf("member %d: %w", m, err)
			}
		}
		return nil
	}
	K := int64(len(nets))
	net := nets[0]
	for m, gr := range grs {
		gr.Reshape(nets[m], b)
	}
	leave, err := g.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := g.checkFits(net, len(nets), b); err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	B := K * int64(b)
	var scratch []float64
	times := make([]Ptr, len(trs[0].Times))
	for i := range times {
		layer := make([]*tensor.Dense, K)
		for m, tr := range trs {
			layer[m] = tr.Times[i]
		}
		if times[i], err = g.uploadSame(fmt.Sprintf("t%d", i), popData(layer, &scratch)); err != nil {
			return err
		}
	}
	K0 := int64(net.Outputs())
	raw, err := g.uploadF("dout", popData(dOut, &scratch))
	if err != nil {
		return err
	}
	delta, err := g.buf("delta", 8*B*K0)
	if err != nil {
		return err
	}
	if err := g.launch("dg_clean", B*K0, B*K0, raw, delta); err != nil {
		return err
	}
	w, d, err := g.uploadPopParams(nets)
	if err != nil {
		return err
	}
	// One copy holds the zeroed clip counts (K per neuron) and, per layer
	// and member, the bound of max |d|/tau_s over synaptic delays.
	N := int64(neurons(net))
	L := int64(len(net.Layers))
	cd := make([]float64, K*N+L*K)
	for li := range net.Layers {
		for m, nm := range nets {
			l := &nm.Layers[li]
			if l.Delay == batch.Synaptic {
				dmin, dmax := math.Inf(1), math.Inf(-1)
				for _, v := range l.D() {
					v /= l.Neuron.TauSyn
					dmin, dmax = min(dmin, v), max(dmax, v)
				}
				cd[K*N+int64(li)*K+int64(m)] = max(math.Abs(dmin), math.Abs(dmax))
			}
		}
	}
	cnt, err := g.uploadF("clipcounts", cd)
	if err != nil {
		return err
	}
	dspan := make([]Ptr, L)
	for li := range dspan {
		dspan[li] = cnt + Ptr(8*(K*N+int64(li)*K))
	}
	gin, err := g.backward(nets, B, times, delta, w, d, dspan, cnt, true)
	if err != nil {
		return err
	}
	counts := make([]float64, K*N)
	if err := g.download(counts, cnt, "the clip counts"); err != nil {
		return err
	}
	for li := range net.Layers {
		l := &net.Layers[li]
		o := K * int64(layerOffset(net, li))
		for m, gr := range grs {
			c := 0
			for _, v := range counts[o+int64(m*l.Out) : o+int64((m+1)*l.Out)] {
				c += int(v)
			}
			gr.Clipped[li] = c
		}
		dst := make([]*tensor.Dense, K)
		for m, gr := range grs {
			dst[m] = gr.Weights[li]
		}
		if err := g.downloadPop(dst, g.bufs[fmt.Sprintf("dW%d", li)].ptr, fmt.Sprintf("dW of layer %d", li), &scratch); err != nil {
			return err
		}
		if grs[0].Delays[li] != nil {
			for m, gr := range grs {
				dst[m] = gr.Delays[li]
			}
			if err := g.downloadPop(dst, g.bufs[fmt.Sprintf("dD%d", li)].ptr, fmt.Sprintf("dD of layer %d", li), &scratch); err != nil {
				return err
			}
		}
	}
	F := int64(net.Inputs)
	gi, err := g.buf("gi", 8*B*F)
	if err != nil {
		return err
	}
	if err := g.launch("dg_unmux", B*F, B, F, int64(max(net.Multiplex, 1)), gin, gi); err != nil {
		return err
	}
	dst := make([]*tensor.Dense, K)
	for m, gr := range grs {
		dst[m] = gr.Input
	}
	return g.downloadPop(dst, gi, "the input gradient", &scratch)
}

// downloadPop copies a buffer holding the members' values of one tensor,
// member after member, into the members' tensors.
func (g *Engine) downloadPop(dst []*tensor.Dense, src Ptr, what string, scratch *[]float64) error {
	all := popData(dst, scratch)
	if err := g.download(all, src, what); err != nil {
		return err
	}
	if len(dst) > 1 {
		n := len(dst[0].Float64s())
		for m, t := range dst {
			copy(t.Float64s(), all[m*n:(m+1)*n])
		}
	}
	return nil
}

var _ batch.PopEngine = (*Engine)(nil)
