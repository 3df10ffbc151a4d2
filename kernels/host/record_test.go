//go:build cgo

package host

import (
	"errors"
	"unsafe"

	"github.com/delgrad-go/delgrad/kernels"
)

// recorder is the CPU device with kernels.Recorder as CUDA graphs behave:
// a recording holds each launch with its arguments as they were, and a
// replay runs them again with those same arguments; copies while
// recording are refused, as stream capture refuses them, and so are
// allocations and frees (which capture forbids on the capturing thread). With it the
// stepper's recorded batches are checked on the CPU: an argument that
// should change from batch to batch would be replayed stale.
type recorder struct {
	*Device
	recording        *[]launchRec
	records, replays int
	// members is the largest population a dg_decide launch (one thread
	// per member) was made for, recorded or run.
	members int64
}

type launchRec struct {
	name string
	n    int64
	args []any
}

func newRecorder() (*kernels.Engine, *recorder) {
	r := &recorder{Device: &Device{mem: map[kernels.Ptr]allocation{}}}
	return kernels.NewEngine(r), r
}

var errWhileRecording = errors.New("copy, allocation or free while recording")

func (r *recorder) Replaying() bool { return true }

func (r *recorder) Alloc(n int64) (kernels.Ptr, error) {
	if r.recording != nil {
		return 0, errWhileRecording
	}
	return r.Device.Alloc(n)
}

func (r *recorder) Free(p kernels.Ptr) error {
	if r.recording != nil {
		return errWhileRecording
	}
	return r.Device.Free(p)
}

func (r *recorder) Launch(name string, n int64, args ...any) error {
	if name == "dg_decide" {
		r.members = max(r.members, n)
	}
	if r.recording != nil {
		*r.recording = append(*r.recording, launchRec{name, n, append([]any(nil), args...)})
		return nil
	}
	return r.Device.Launch(name, n, args...)
}

func (r *recorder) HtoD(p kernels.Ptr, src unsafe.Pointer, n int64) error {
	if r.recording != nil {
		return errWhileRecording
	}
	return r.Device.HtoD(p, src, n)
}

func (r *recorder) DtoH(dst unsafe.Pointer, p kernels.Ptr, n int64) error {
	if r.recording != nil {
		return errWhileRecording
	}
	return r.Device.DtoH(dst, p, n)
}

func (r *recorder) Record(launch func() error) (kernels.Replay, error) {
	var list []launchRec
	r.recording = &list
	err := launch()
	r.recording = nil
	if err != nil {
		return nil, err
	}
	r.records++
	return &replay{r, list}, nil
}

type replay struct {
	r    *recorder
	list []launchRec
}

func (p *replay) Replay() error {
	p.r.replays++
	for _, l := range p.list {
		if err := p.r.Device.Launch(l.name, l.n, l.args...); err != nil {
			return err
		}
	}
	return nil
}

func (p *replay) Close() error { p.list = nil; return nil }
