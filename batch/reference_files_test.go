package batch

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"
)

// npyOf returns the .npy bytes of a rows x cols float64 matrix.
func npyOf(t testing.TB, rows, cols int, v ...float64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := npyio.Write(&buf, mat.NewDense(rows, cols, v)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// smallRefJSON is a network.json of 2 inputs, axonal delays and 3 outputs;
// %s are the delay and the weight shapes.
const smallRefJSON = `{"network": "small", "n_inputs": 2,
 "neuron_params": {"tau_syn": 1, "tau_mem": 2, "threshold": 1, "leak": 0},
 "layers": [
  {"index": 0, "kind": "DelayAxonal", "shape": %s, "files": ["layer0_delay.npy"]},
  {"index": 1, "kind": "NeuronLayer", "shape": %s, "files": ["layer1_weights.npy"]}]}`

// smallRef returns a valid network directory in the reference layout.
func smallRef(t testing.TB) fstest.MapFS {
	return fstest.MapFS{
		"net/network.json":       {Data: []byte(strings.ReplaceAll(strings.Replace(smallRefJSON, "%s", "[2, 1]", 1), "%s", "[2, 3]"))},
		"net/layer0_delay.npy":   {Data: npyOf(t, 2, 1, 0.5, 1)},
		"net/layer1_weights.npy": {Data: npyOf(t, 2, 3, 1, 2, 3, 4, 5, 6)},
	}
}

func TestLoadReferenceFSBadFiles(t *testing.T) {
	if _, err := LoadReferenceFS(smallRef(t), "net"); err != nil {
		t.Fatalf("the valid network: %v", err)
	}
	w := npyOf(t, 2, 3, 1, 2, 3, 4, 5, 6)
	tests := []struct {
		name string
		file string // file of net/ to replace
		data []byte
		want string
	}{
		{"weights cut to 50 bytes", "layer1_weights.npy", w[:50], "layer1_weights.npy: file is truncated: header length"},
		{"weights data cut", "layer1_weights.npy", w[:len(w)-4], "layer1_weights.npy: file is truncated: header says 2x3 float64 (48 bytes of data), file has 44"},
		{"delays cut to 50 bytes", "layer0_delay.npy", npyOf(t, 2, 1, 0.5, 1)[:50], "layer0_delay.npy: file is truncated"},
		{"delays not .npy", "layer0_delay.npy", []byte("0.5 1\n"), "layer0_delay.npy: not a .npy file"},
		{"weights empty file", "layer1_weights.npy", nil, "layer1_weights.npy: not a .npy file"},
		{"integer weights", "layer1_weights.npy", []byte("\x93NUMPY\x01\x00\x3a\x00{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }\n\x01\x00\x00\x00\x00\x00\x00\x00"),
			"layer1_weights.npy: dtype <i8 (int64): want float32 or float64"},
		{"weights of the wrong shape", "layer1_weights.npy", npyOf(t, 3, 2, 1, 2, 3, 4, 5, 6),
			"layer 1: layer1_weights.npy has shape [3 2], but network.json gives the layer shape [2 3]"},
		{"delays of the wrong shape", "layer0_delay.npy", npyOf(t, 1, 2, 0.5, 1),
			"layer 0: layer0_delay.npy has shape [1 2], but network.json gives the layer shape [2 1]"},
		{"network.json shape disagrees", "network.json", []byte(strings.ReplaceAll(strings.Replace(smallRefJSON, "%s", "[2, 1]", 1), "%s", "[3, 2]")),
			"layer 1: layer1_weights.npy has shape [2 3], but network.json gives the layer shape [3 2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys := smallRef(t)
			fsys["net/"+tc.file] = &fstest.MapFile{Data: tc.data}
			ref, err := LoadReferenceFS(fsys, "net")
			if err == nil {
				t.Fatalf("LoadReferenceFS = %+v, want an error", ref)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// FuzzReadNpy checks that ReadNpy never panics: any file either loads, as
// a tensor with as many values as its shape has elements, or gives an error
// that names the file.
func FuzzReadNpy(f *testing.F) {
	f.Add(npyOf(f, 2, 3, 1, 2, 3, 4, 5, 6))
	f.Add(npyOf(f, 4, 30, make([]float64, 120)...)[:50])
	f.Add([]byte("\x93NUMPY\x01\x00\x04\x00abcd"))
	f.Add([]byte("\x93NUMPY\x01\x00\x3b\x00{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }\n\x00\x00\x80\x3f"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := ReadNpy(fstest.MapFS{"w.npy": {Data: raw}}, "w.npy")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "w.npy: ") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		n := 1
		for _, s := range d.Shape() {
			n *= s
		}
		if n != len(d.Float64s()) {
			t.Fatalf("shape %v, %d values", d.Shape(), len(d.Float64s()))
		}
	})
}

// FuzzLoadReferenceWeights loads the small network with fuzzed weights and
// checks that LoadReferenceFS never panics and that what loads validates.
func FuzzLoadReferenceWeights(f *testing.F) {
	f.Add(npyOf(f, 2, 3, 1, 2, 3, 4, 5, 6))
	f.Add(npyOf(f, 2, 3, 1, 2, 3, 4, 5, 6)[:50])
	f.Add(npyOf(f, 3, 2, 1, 2, 3, 4, 5, 6))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fsys := smallRef(t)
		fsys["net/layer1_weights.npy"] = &fstest.MapFile{Data: raw}
		ref, err := LoadReferenceFS(fsys, "net")
		if err != nil {
			return
		}
		if err := ref.Net.Validate(); err != nil {
			t.Fatalf("loaded a network that does not validate: %v", err)
		}
	})
}
