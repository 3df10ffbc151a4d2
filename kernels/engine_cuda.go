//go:build cuda

package kernels

/*
#cgo LDFLAGS: -ldl -L/usr/lib/x86_64-linux-gnu/stubs
int dg_cuinit_status(void);
int dg_launch(void *f, unsigned int grid, unsigned int block, unsigned long long *words, int n, void *stream);
int dg_stream_create(void **s);
int dg_stream_destroy(void *s);
int dg_capture_begin(void *s);
int dg_capture_end(void *s, int ok, void **exec);
int dg_graph_launch(void *exec);
int dg_graph_destroy(void *exec);
int dg_driver_version(int *v);
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
	"unsafe"

	"gorgonia.org/cu"
)

// Available reports whether a CUDA device can be used: nil, or an error
// that says why not (no driver, a driver stub, no device).
func Available() error {
	_, err := DeviceCount()
	return err
}

// DeviceCount returns the number of CUDA devices this process can use
// (those CUDA_VISIBLE_DEVICES leaves it, numbered from 0: the ordinals
// NewGPUOn takes), or an error that says why there is none (no driver, a
// driver stub, no device).
func DeviceCount() (int, error) {
	if st := C.dg_cuinit_status(); st != 0 {
		return 0, fmt.Errorf("kernels: the CUDA driver did not initialise (cuInit returned CUresult %d): no usable NVIDIA driver or GPU on this machine", int(st))
	}
	n, err := cu.NumDevices()
	if err != nil {
		return 0, fmt.Errorf("kernels: counting CUDA devices: %w", err)
	}
	if n < 1 {
		return 0, errors.New("kernels: the CUDA driver reports no device")
	}
	return n, nil
}

// GPU is the DelGrad engine on one CUDA device.
type GPU struct {
	*Engine
	ctx cu.CUContext
	mod cu.Module
	fns map[string]cu.Function
	// Ordinal is the device's number in this process (see DeviceCount);
	// UUID its driver-reported identity ("GPU-..." as nvidia-smi shows
	// it; empty where the driver did not say), which names the board
	// wherever CUDA_VISIBLE_DEVICES renumbers the devices.
	Ordinal int
	UUID    string
	// Name is the device's name; Arch its compute capability (major*10+minor).
	Name string
	Arch int
	// BlockSize is the number of threads per block of every launch
	// (DefaultBlockSize unless set; a multiple of 32, at most 1024).
	BlockSize int
	// NoGraphs turns recording (Record, CUDA graphs) off: the stepper then
	// launches every kernel of every batch.
	NoGraphs bool
	// Recordings and Replays count the batches recorded and replayed;
	// RecordErr is the latest recording's failure (the stepper then
	// launches kernel by kernel).
	Recordings, Replays int
	RecordErr           error
	// stream is where Record captures launches (made on first use);
	// recording says a capture is on.
	stream    unsafe.Pointer
	recording bool
	// graphs says the driver has what recording needs (CUDA 11.4).
	graphs bool
	// timing, while not nil, accumulates each kernel's device time.
	timing     map[string]*KernelTime
	ev0, ev1   cu.Event
	timedSince time.Time
}

// KernelTime is one kernel's share of a timed region (see StartTiming).
type KernelTime struct {
	Calls  int
	Device time.Duration
}

// StartTiming makes every later launch measure its kernel's device time
// with CUDA events, until StopTiming. Each launch then waits for its
// kernel, so the region runs slower than it would: for profiling only.
func (g *GPU) StartTiming() error {
	leave, err := g.enter()
	if err != nil {
		return err
	}
	defer leave()
	if g.timing != nil {
		return errors.New("kernels: timing already started")
	}
	if g.ev0, err = cu.MakeEvent(cu.DefaultEvent); err != nil {
		return fmt.Errorf("kernels: timing event: %w", err)
	}
	if g.ev1, err = cu.MakeEvent(cu.DefaultEvent); err != nil {
		cu.DestroyEvent(&g.ev0)
		return fmt.Errorf("kernels: timing event: %w", err)
	}
	g.timing = map[string]*KernelTime{}
	g.timedSince = time.Now()
	return nil
}

// StopTiming ends the timed region and returns each kernel's calls and
// device time, and the region's wall time.
func (g *GPU) StopTiming() (map[string]*KernelTime, time.Duration, error) {
	leave, err := g.enter()
	if err != nil {
		return nil, 0, err
	}
	defer leave()
	if g.timing == nil {
		return nil, 0, errors.New("kernels: timing not started")
	}
	wall := time.Since(g.timedSince)
	t := g.timing
	g.timing = nil
	err = errors.Join(cu.DestroyEvent(&g.ev0), cu.DestroyEvent(&g.ev1))
	if err != nil {
		err = fmt.Errorf("kernels: timing events: %w", err)
	}
	return t, wall, err
}

// NewGPU is NewGPUOn(0): the engine on the first CUDA device.
func NewGPU() (*GPU, error) { return NewGPUOn(0) }

// NewGPUOn creates a context on the CUDA device of the given ordinal (from
// 0 to DeviceCount()-1) and loads the kernels' PTX for its architecture
// (compute_90 for Hopper and later, compute_80 otherwise). Its per-pair
// kernels follow WarpSmallBatches (Engine.WarpSearch and WarpNeuron).
// Engines on different devices may be used at once, from different
// goroutines; each binds its own context for its calls.
func NewGPUOn(ordinal int) (*GPU, error) {
	n, err := DeviceCount()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("kernels: GPU %d: the CUDA driver reports %d devices here (ordinals 0 to %d)", ordinal, n, n-1)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("kernels: GPU %d: %w", ordinal, err)
	}
	g := &GPU{fns: map[string]cu.Function{}, Ordinal: ordinal}
	if g.Name, err = dev.Name(); err != nil {
		return nil, fmt.Errorf("kernels: GPU %d: device name: %w", ordinal, err)
	}
	if id, err := dev.UUID(); err == nil {
		g.UUID = "GPU-" + id.String()
	}
	maj, err1 := dev.Attribute(cu.ComputeCapabilityMajor)
	mnr, err2 := dev.Attribute(cu.ComputeCapabilityMinor)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("kernels: GPU %d (%s): compute capability: %w", ordinal, g.Name, err)
	}
	g.Arch = 10*maj + mnr
	if g.Arch < 80 {
		return nil, fmt.Errorf("kernels: GPU %d (%s) has compute capability %d.%d; the kernels need 8.0 or newer", ordinal, g.Name, maj, mnr)
	}
	if g.ctx, err = dev.MakeContext(cu.SchedAuto); err != nil {
		return nil, fmt.Errorf("kernels: GPU %d (%s): context: %w", ordinal, g.Name, err)
	}
	ok := false
	defer func() {
		if !ok {
			g.ctx.Destroy()
		}
	}()
	ptx, arch := PTX80, 80
	if g.Arch >= 90 {
		ptx, arch = PTX90, 90
	}
	if g.mod, err = cu.LoadData(ptx); err != nil {
		return nil, fmt.Errorf("kernels: GPU %d: loading the PTX (compute_%d) into %s: %w", ordinal, arch, g.Name, err)
	}
	for name := range Kernels {
		f, err := g.mod.Function(name)
		if err != nil {
			return nil, fmt.Errorf("kernels: GPU %d: kernel %s: %w", ordinal, name, err)
		}
		g.fns[name] = f
	}
	var ver C.int
	g.graphs = C.dg_driver_version(&ver) == 0 && ver >= 11040
	ok = true
	g.Engine = NewEngine(cuDevice{g})
	g.Engine.WarpSearch, g.Engine.WarpNeuron = WarpSmallBatches, WarpSmallBatches
	g.Engine.bind = func() (func(), error) {
		runtime.LockOSThread()
		if err := cu.SetCurrentContext(g.ctx); err != nil {
			runtime.UnlockOSThread()
			return nil, fmt.Errorf("kernels: GPU %d: binding the context: %w", g.Ordinal, err)
		}
		return runtime.UnlockOSThread, nil
	}
	return g, nil
}

// Release frees the engine's device buffers (the context stays).
func (g *GPU) Release() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(g.ctx); err != nil {
		return fmt.Errorf("kernels: GPU %d: release: %w", g.Ordinal, err)
	}
	return g.Engine.Release()
}

// Close frees the device buffers and the context.
func (g *GPU) Close() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(g.ctx); err != nil {
		return fmt.Errorf("kernels: GPU %d: close: %w", g.Ordinal, err)
	}
	err := g.Engine.Release()
	if g.stream != nil {
		if e := cuResult("cuStreamDestroy", C.dg_stream_destroy(g.stream)); e != nil && err == nil {
			err = fmt.Errorf("kernels: GPU %d: close: %w", g.Ordinal, e)
		}
		g.stream = nil
	}
	if e := g.ctx.Destroy(); e != nil && err == nil {
		err = fmt.Errorf("kernels: GPU %d: destroying the context: %w", g.Ordinal, e)
	}
	return err
}

// cuResult turns a CUDA driver status into an error naming the call.
func cuResult(call string, st C.int) error {
	if st == 0 {
		return nil
	}
	return fmt.Errorf("%s returned CUresult %d", call, int(st))
}

// Record implements Recorder with a CUDA graph: launch runs with the
// launches captured on the GPU's own stream, and the graph replays on the
// default stream. It must run on the thread that holds the context (as
// the Engine's calls do).
func (d cuDevice) Record(launch func() error) (Replay, error) {
	r, err := d.record(launch)
	if err != nil {
		d.g.RecordErr = err
		return nil, err
	}
	d.g.Recordings++
	return r, nil
}

// Replaying implements Recorder: not while kernels are timed (a replay
// would escape the timing) nor with NoGraphs.
func (d cuDevice) Replaying() bool { return d.g.timing == nil && !d.g.NoGraphs && d.g.graphs }

// record captures launch's launches on the GPU's own stream and
// instantiates them as a CUDA graph.
func (d cuDevice) record(launch func() error) (Replay, error) {
	g := d.g
	if !d.Replaying() {
		return nil, errors.New("kernels: recording is off (timing, NoGraphs or a driver older than CUDA 11.4)")
	}
	if g.stream == nil {
		var s unsafe.Pointer
		if err := cuResult("cuStreamCreate", C.dg_stream_create(&s)); err != nil {
			return nil, fmt.Errorf("kernels: %w", err)
		}
		g.stream = s
	}
	if err := cuResult("cuStreamBeginCapture", C.dg_capture_begin(g.stream)); err != nil {
		return nil, fmt.Errorf("kernels: %w", err)
	}
	g.recording = true
	err := launch()
	g.recording = false
	ok := C.int(0)
	if err == nil {
		ok = 1
	}
	var exec unsafe.Pointer
	if e := cuResult("cuStreamEndCapture", C.dg_capture_end(g.stream, ok, &exec)); e != nil && err == nil {
		err = fmt.Errorf("kernels: recording: %w", e)
	}
	if err != nil {
		return nil, err
	}
	return &cuGraph{g: g, exec: exec}, nil
}

// cuGraph is an instantiated CUDA graph.
type cuGraph struct {
	g    *GPU
	exec unsafe.Pointer
}

// Replay implements Replay: one cuGraphLaunch on the default stream.
func (c *cuGraph) Replay() error {
	if c.exec == nil {
		return errors.New("kernels: replay of a freed recording")
	}
	c.g.Replays++
	return cuResult("cuGraphLaunch", C.dg_graph_launch(c.exec))
}

// Close implements Replay; a closed graph cannot be replayed.
func (c *cuGraph) Close() error {
	if c.exec == nil {
		return nil
	}
	err := cuResult("cuGraphExecDestroy", C.dg_graph_destroy(c.exec))
	c.exec = nil
	return err
}

// cuDevice implements Device with the CUDA driver API.
type cuDevice struct{ g *GPU }

var _ Recorder = cuDevice{}

func (cuDevice) Alloc(n int64) (Ptr, error) {
	p, err := cu.MemAlloc(n)
	return Ptr(p), err
}

func (cuDevice) Free(p Ptr) error { return cu.MemFree(cu.DevicePtr(p)) }

// FreeBytes implements FreeMemory (the context is bound: Engine calls it
// while it holds the device).
func (cuDevice) FreeBytes() (int64, error) {
	free, _, err := cu.MemInfo()
	return free, err
}

func (cuDevice) HtoD(p Ptr, src unsafe.Pointer, n int64) error {
	return cu.MemcpyHtoD(cu.DevicePtr(p), src, n)
}

func (cuDevice) DtoH(dst unsafe.Pointer, p Ptr, n int64) error {
	return cu.MemcpyDtoH(dst, cu.DevicePtr(p), n)
}

// DefaultBlockSize is the threads per block of a GPU's launches.
const DefaultBlockSize = 128

// Launch passes every argument as one 8-byte word, as gorgonia.org/cu does,
// through dg_launch (launch_cuda.c).
func (d cuDevice) Launch(name string, n int64, args ...any) error {
	f, ok := d.g.fns[name]
	if !ok {
		return fmt.Errorf("no kernel %s in the module", name)
	}
	if len(args) > 32 {
		return fmt.Errorf("%d arguments, at most 32", len(args))
	}
	var words [32]uint64
	for i, a := range args {
		switch v := a.(type) {
		case Ptr:
			words[i] = uint64(v)
		case int64:
			words[i] = uint64(v)
		case float64:
			words[i] = math.Float64bits(v)
		}
	}
	g := d.g
	blockSize := int64(g.BlockSize)
	if blockSize == 0 {
		blockSize = DefaultBlockSize
	}
	if blockSize < 32 || blockSize > 1024 || blockSize%32 != 0 {
		return fmt.Errorf("block size %d: want a multiple of 32 from 32 to 1024", blockSize)
	}
	grid := (n + blockSize - 1) / blockSize
	// cu.Function holds just the driver's CUfunction handle.
	fn := *(*unsafe.Pointer)(unsafe.Pointer(&f))
	launch := func() error {
		var stream unsafe.Pointer
		if g.recording {
			stream = g.stream
		}
		return cuResult("cuLaunchKernel", C.dg_launch(fn, C.uint(grid), C.uint(blockSize), (*C.ulonglong)(unsafe.Pointer(&words[0])), C.int(len(args)), stream))
	}
	if g.timing == nil {
		return launch()
	}
	if err := g.ev0.Record(cu.Stream{}); err != nil {
		return fmt.Errorf("timing: %w", err)
	}
	if err := launch(); err != nil {
		return err
	}
	if err := errors.Join(g.ev1.Record(cu.Stream{}), g.ev1.Synchronize()); err != nil {
		return fmt.Errorf("timing: %w", err)
	}
	ms, err := g.ev0.Elapsed(g.ev1)
	if err != nil {
		return fmt.Errorf("timing: %w", err)
	}
	kt := g.timing[name]
	if kt == nil {
		kt = &KernelTime{}
		g.timing[name] = kt
	}
	kt.Calls++
	kt.Device += time.Duration(ms * 1e6)
	return nil
}
