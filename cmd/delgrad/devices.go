package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/sweep"
)

// devicesUsage is -devices' help: its syntax and what each entry means.
const devicesUsage = "where the tasks run, several at once: a comma-separated `LIST` of " +
	"auto (every usable GPU, else the CPU), gpu (every usable GPU), gpu:N (the GPU of ordinal N), " +
	"cpu (one slot of all cores, or -workers) and cpu=W (a slot of W workers; may repeat)"

// slotSpec is one slot that -devices asks for: a GPU by ordinal, or the
// CPU with workers (0: one per core).
type slotSpec struct {
	Name    string
	GPU     bool
	Ordinal int
	Workers int
}

// parseDevices reads -devices: a comma-separated list of auto, gpu, gpu:N,
// cpu and cpu=W (see devicesUsage). workers is -workers, the workers of
// cpu; gpus counts the usable GPUs (or says why there is none), and is
// asked only where the list names a GPU or auto. A GPU may be named once;
// the CPU is one slot of all cores (cpu, which contends with nothing) or
// slots of W workers each (cpu=W, any number of them), not both. Errors
// are usage errors that name the entry.
func parseDevices(list string, workers int, gpus func() (int, error)) ([]slotSpec, error) {
	bad := func(format string, a ...any) error {
		return usageError{fmt.Errorf("-devices %q: %s", list, fmt.Sprintf(format, a...))}
	}
	if workers < 0 {
		return nil, usageError{errors.New("-workers must be >= 0 (0: one per core)")}
	}
	if strings.TrimSpace(list) == "" {
		return nil, bad("give auto, gpu, gpu:N, cpu or cpu=W, comma-separated")
	}
	count := -1
	var countErr error
	ngpus := func() (int, error) {
		if count < 0 {
			count, countErr = gpus()
			if countErr != nil {
				count = 0
			}
		}
		return count, countErr
	}
	var specs []slotSpec
	seen := map[int]bool{}
	addGPU := func(n int) error {
		if seen[n] {
			return bad("gpu:%d given twice (a GPU is one slot)", n)
		}
		seen[n] = true
		specs = append(specs, slotSpec{GPU: true, Ordinal: n})
		return nil
	}
	cpuAll, cpuW := false, 0
	entries := strings.Split(list, ",")
	for _, raw := range entries {
		e := strings.TrimSpace(raw)
		switch {
		case e == "":
			return nil, bad("an empty entry")
		case e == "auto":
			if len(entries) > 1 {
				return nil, bad("auto stands alone (every usable GPU, else the CPU)")
			}
			if n, _ := ngpus(); n > 0 {
				for i := range n {
					addGPU(i)
				}
			} else {
				specs = append(specs, slotSpec{Workers: workers})
				cpuAll = true
			}
		case e == "gpu":
			n, err := ngpus()
			if err != nil {
				return nil, bad("no usable GPU here: %v", err)
			}
			for i := range n {
				if err := addGPU(i); err != nil {
					return nil, err
				}
			}
		case strings.HasPrefix(e, "gpu:"):
			v := strings.TrimPrefix(e, "gpu:")
			i, err := strconv.Atoi(v)
			if err != nil || strings.Trim(v, "0123456789") != "" {
				return nil, bad("%q: want gpu:N, N a device ordinal (0, 1, ...)", e)
			}
			n, err := ngpus()
			if err != nil {
				return nil, bad("%s: no usable GPU here: %v", e, err)
			}
			if i >= n {
				return nil, bad("%s: this machine has %d usable GPUs (gpu:0 to gpu:%d)", e, n, n-1)
			}
			if err := addGPU(i); err != nil {
				return nil, err
			}
		case e == "cpu":
			if cpuAll || cpuW > 0 {
				return nil, bad("cpu is one slot of all cores (or -workers): give it once, or cpu=W slots of W workers each instead")
			}
			cpuAll = true
			specs = append(specs, slotSpec{Workers: workers})
		case strings.HasPrefix(e, "cpu="):
			v := strings.TrimPrefix(e, "cpu=")
			w, err := strconv.Atoi(v)
			if err != nil || w < 1 || strings.Trim(v, "0123456789") != "" {
				return nil, bad("%q: want cpu=W, W >= 1 workers", e)
			}
			if cpuAll {
				return nil, bad("cpu is one slot of all cores (or -workers): give it once, or cpu=W slots of W workers each instead")
			}
			cpuW++
			specs = append(specs, slotSpec{Workers: w})
		default:
			return nil, bad("unknown device %q (want auto, gpu, gpu:N, cpu or cpu=W)", e)
		}
	}
	ncpu := 0
	for k := range specs {
		if specs[k].GPU {
			specs[k].Name = fmt.Sprintf("gpu:%d", specs[k].Ordinal)
			continue
		}
		ncpu++
		specs[k].Name = "cpu"
		if cpuW > 1 {
			specs[k].Name = fmt.Sprintf("cpu#%d", ncpu)
		}
	}
	return specs, nil
}

// sweepSlots returns the slots of specs: a GPU slot opens the CUDA engine
// on its device, a CPU slot a CPU engine of its workers.
func sweepSlots(specs []slotSpec) []sweep.Slot {
	var slots []sweep.Slot
	for _, sp := range specs {
		s := sweep.Slot{Name: sp.Name, GPU: sp.GPU}
		if sp.GPU {
			s.Open = func() (sweep.SlotEngine, error) {
				eng, name, err := newGPUOn(sp.Ordinal)
				if err != nil {
					return sweep.SlotEngine{}, fmt.Errorf("gpu:%d: %w", sp.Ordinal, err)
				}
				se := sweep.SlotEngine{Engine: eng, Name: name}
				if c, ok := eng.(interface{ Close() error }); ok {
					se.Close = c.Close
				}
				return se, nil
			}
		} else {
			s.Open = func() (sweep.SlotEngine, error) {
				e := batch.NewCPU(sp.Workers)
				return sweep.SlotEngine{Engine: e, Name: fmt.Sprintf("cpu (%d workers)", e.Workers())}, nil
			}
		}
		slots = append(slots, s)
	}
	return slots
}
