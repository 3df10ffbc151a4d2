package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// parseDevices: each -devices form, on machines of 0 and 2 usable GPUs,
// and every bad list as a usage error naming the problem.
func TestParseDevices(t *testing.T) {
	none := func() (int, error) { return 0, errors.New("built without CUDA support") }
	two := func() (int, error) { return 2, nil }
	gpu := func(i int) slotSpec { return slotSpec{Name: "gpu:" + string(rune('0'+i)), GPU: true, Ordinal: i} }
	cpu := func(name string, w int) slotSpec { return slotSpec{Name: name, Workers: w} }
	for _, c := range []struct {
		list    string
		workers int
		gpus    func() (int, error)
		want    []slotSpec
		err     string
	}{
		{list: "auto", gpus: none, want: []slotSpec{cpu("cpu", 0)}},
		{list: "auto", workers: 3, gpus: none, want: []slotSpec{cpu("cpu", 3)}},
		{list: "auto", workers: 3, gpus: two, want: []slotSpec{gpu(0), gpu(1)}},
		{list: "cpu", gpus: two, want: []slotSpec{cpu("cpu", 0)}},
		{list: " cpu ", workers: 2, gpus: none, want: []slotSpec{cpu("cpu", 2)}},
		{list: "gpu", gpus: two, want: []slotSpec{gpu(0), gpu(1)}},
		{list: "gpu:1", gpus: two, want: []slotSpec{gpu(1)}},
		{list: "gpu:0,gpu:1", gpus: two, want: []slotSpec{gpu(0), gpu(1)}},
		{list: "cpu,gpu:0", workers: 1, gpus: two, want: []slotSpec{cpu("cpu", 1), gpu(0)}},
		{list: "gpu,cpu", gpus: two, want: []slotSpec{gpu(0), gpu(1), cpu("cpu", 0)}},
		{list: "cpu=1,cpu=1", gpus: none, want: []slotSpec{cpu("cpu#1", 1), cpu("cpu#2", 1)}},
		{list: "cpu=4", gpus: none, want: []slotSpec{cpu("cpu", 4)}},
		{list: "cpu=1,gpu:1,cpu=2", gpus: two, want: []slotSpec{cpu("cpu#1", 1), gpu(1), cpu("cpu#2", 2)}},

		{list: "", gpus: none, err: "give auto, gpu, gpu:N, cpu or cpu=W"},
		{list: "cpu,", gpus: none, err: "an empty entry"},
		{list: "tpu", gpus: none, err: `unknown device "tpu"`},
		{list: "CPU", gpus: none, err: `unknown device "CPU"`},
		{list: "auto,cpu", gpus: two, err: "auto stands alone"},
		{list: "gpu", gpus: none, err: "no usable GPU here: built without CUDA support"},
		{list: "gpu:0", gpus: none, err: "gpu:0: no usable GPU here"},
		{list: "gpu:2", gpus: two, err: "gpu:2: this machine has 2 usable GPUs (gpu:0 to gpu:1)"},
		{list: "gpu:-1", gpus: two, err: `"gpu:-1": want gpu:N`},
		{list: "gpu:x", gpus: two, err: `"gpu:x": want gpu:N`},
		{list: "gpu:+1", gpus: two, err: `"gpu:+1": want gpu:N`},
		{list: "cpu=+1", gpus: two, err: `"cpu=+1": want cpu=W`},
		{list: "gpu:", gpus: two, err: `"gpu:": want gpu:N`},
		{list: "gpu:1,gpu:1", gpus: two, err: "gpu:1 given twice"},
		{list: "gpu,gpu:0", gpus: two, err: "gpu:0 given twice"},
		{list: "cpu,cpu", gpus: none, err: "cpu is one slot of all cores"},
		{list: "cpu,cpu=1", gpus: none, err: "cpu is one slot of all cores"},
		{list: "cpu=1,cpu", gpus: none, err: "cpu is one slot of all cores"},
		{list: "cpu=0", gpus: none, err: `"cpu=0": want cpu=W, W >= 1 workers`},
		{list: "cpu=two", gpus: none, err: `"cpu=two": want cpu=W`},
		{list: "cpu", workers: -1, gpus: none, err: "-workers must be >= 0"},
	} {
		asked := false
		gpus := func() (int, error) { asked = true; return c.gpus() }
		got, err := parseDevices(c.list, c.workers, gpus)
		if c.err != "" {
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("-devices %q: %v, want a usage error saying %q", c.list, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("-devices %q -workers %d: %+v, %v; want %+v", c.list, c.workers, got, err, c.want)
		}
		if asked && !strings.Contains(c.list, "gpu") && !strings.Contains(c.list, "auto") {
			t.Errorf("-devices %q: counted the GPUs, which it names none of", c.list)
		}
	}
}
