package batch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"slices"

	"github.com/delgrad-go/delgrad/internal/npyfile"
	"gorgonia.org/tensor"
)

// Reference is a network imported from the layout of the DelGrad reference
// code: a directory with network.json and one .npy file per parameter.
type Reference struct {
	Name string
	Net  *Network
	// DelayTheta[l] holds layer l's delay parameters before the sigmoid
	// (d = SigmoidShift + SigmoidScale * sigmoid(theta)), or nil.
	DelayTheta   []*tensor.Dense
	SigmoidShift []float64
	SigmoidScale []float64
	// LossType and LossDeltaT describe the loss the network was trained with.
	LossType   string
	LossDeltaT float64
	// ExpectedAccuracy is the test accuracy the reference reports (0 if none).
	ExpectedAccuracy float64
	// Dataset is the dataset the network was trained on, or nil where
	// network.json does not say (the reference's files, older exports).
	Dataset *DatasetInfo
}

// DatasetInfo is the dataset a network was trained on, as an export records
// it in network.json under "dataset": the trainer's data.name and, for user
// data, the .npy files of each split.
type DatasetInfo struct {
	// Name is yin_yang, mnist16, mnist or npy (user data).
	Name string `json:"name"`
	// Dir is the MNIST directory the run used, if its config gave one.
	Dir string `json:"dir,omitempty"`
	// TrainSamples ... TestLabels are the .npy files of user data (name
	// npy); without ValidationSamples the validation split was the last
	// tenth of the training files.
	TrainSamples      string `json:"train_samples,omitempty"`
	TrainLabels       string `json:"train_labels,omitempty"`
	ValidationSamples string `json:"validation_samples,omitempty"`
	ValidationLabels  string `json:"validation_labels,omitempty"`
	TestSamples       string `json:"test_samples,omitempty"`
	TestLabels        string `json:"test_labels,omitempty"`
}

type refJSON struct {
	Network      string             `json:"network"`
	NeuronParams map[string]float64 `json:"neuron_params"`
	NInputs      int                `json:"n_inputs"`
	Layers       []struct {
		Index        int       `json:"index"`
		Kind         string    `json:"kind"`
		Shape        []int     `json:"shape"`
		Files        []string  `json:"files"`
		SigmoidShift *float64  `json:"sigmoid_shift"`
		SigmoidScale *float64  `json:"sigmoid_scale"`
		Times        []float64 `json:"times"`
		Factor       int       `json:"factor"`
	} `json:"layers"`
	Loss struct {
		DeltaT float64 `json:"delta_t"`
		Type   string  `json:"type"`
	} `json:"loss"`
	Expected float64      `json:"expected_test_accuracy_1000_samples_seed40"`
	Dataset  *DatasetInfo `json:"dataset"`
}

// LoadReference reads a network saved in the reference's layout. Layer kinds
// understood: NeuronLayer, BroadcastLayer, DelayAxonal, DelayDendritic,
// DelaySynaptic, Biases (with "times") and Multiplex (with "factor"); a delay
// or bias layer applies to the next NeuronLayer.
func LoadReference(dir string) (*Reference, error) {
	ref, err := LoadReferenceFS(os.DirFS(dir), ".")
	if err != nil {
		return nil, fmt.Errorf("load reference network %s: %w", dir, err)
	}
	return ref, nil
}

// LoadReferenceFS is LoadReference on a directory of a file system (such as
// an embedded one).
func LoadReferenceFS(fsys fs.FS, dir string) (*Reference, error) {
	raw, err := fs.ReadFile(fsys, path.Join(dir, "network.json"))
	if err != nil {
		return nil, err
	}
	var js refJSON
	if err := json.Unmarshal(raw, &js); err != nil {
		return nil, fmt.Errorf("network.json: %w", err)
	}
	nrn, err := neuronFromJSON(js.NeuronParams)
	if err != nil {
		return nil, err
	}
	ref := &Reference{Name: js.Network, Net: &Network{Inputs: js.NInputs},
		LossType: js.Loss.Type, LossDeltaT: js.Loss.DeltaT, ExpectedAccuracy: js.Expected, Dataset: js.Dataset}
	if js.Dataset != nil && js.Dataset.Name == "" {
		return nil, errors.New(`network.json: "dataset" has no "name"`)
	}
	var (
		pendKind  = NoDelay
		pendD     *tensor.Dense
		pendTheta *tensor.Dense
		pendShift = 0.0
		pendScale = 1.0
		pendBias  []float64
		prev      = js.NInputs
	)
	for _, jl := range js.Layers {
		switch jl.Kind {
		case "BroadcastLayer":
		case "Multiplex":
			if len(ref.Net.Layers) > 0 || jl.Factor < 1 {
				return nil, fmt.Errorf("layer %d: Multiplex must come first with factor >= 1", jl.Index)
			}
			ref.Net.Multiplex = jl.Factor
			prev = js.NInputs * jl.Factor
		case "Biases":
			pendBias = append(pendBias, jl.Times...)
		case "DelayAxonal", "DelayDendritic", "DelaySynaptic":
			if pendKind != NoDelay {
				return nil, fmt.Errorf("layer %d: two delay layers before one neuron layer", jl.Index)
			}
			pendKind = map[string]DelayKind{"DelayAxonal": Axonal, "DelayDendritic": Dendritic, "DelaySynaptic": Synaptic}[jl.Kind]
			if pendShift, pendScale = 0, 1; jl.SigmoidShift != nil {
				pendShift = *jl.SigmoidShift
			}
			if jl.SigmoidScale != nil {
				pendScale = *jl.SigmoidScale
			}
			pendTheta, pendD = nil, nil
			for _, f := range jl.Files {
				t, err := readLayerNpy(fsys, dir, f, jl.Index, jl.Shape)
				if err != nil {
					return nil, err
				}
				if isTheta(f) {
					pendTheta = t
				} else {
					pendD = t
				}
			}
			if pendD == nil {
				return nil, fmt.Errorf("layer %d: no delay file (…_delay.npy) among %v", jl.Index, jl.Files)
			}
		case "NeuronLayer":
			if len(jl.Files) != 1 {
				return nil, fmt.Errorf("layer %d: want one weight file, have %v", jl.Index, jl.Files)
			}
			wt, err := readLayerNpy(fsys, dir, jl.Files[0], jl.Index, jl.Shape)
			if err != nil {
				return nil, err
			}
			s := wt.Shape()
			if len(s) != 2 || s[0] != prev+len(pendBias) {
				return nil, fmt.Errorf("layer %d: weights %s have shape %v, want (%d, n)", jl.Index, jl.Files[0], s, prev+len(pendBias))
			}
			out := s[1]
			l := NewLayer(prev, out, len(pendBias), nrn, pendKind)
			l.Weights = wt
			copy(l.BiasTimes, pendBias)
			l.MaxDWNorm = js.NeuronParams["max_dw_norm"]
			if pendKind != NoDelay {
				want := pendKind.shape(prev, out)
				dd := pendD.Float64s()
				if len(dd) != pendKind.size(prev, out) {
					return nil, fmt.Errorf("layer %d: %d delays, want shape %v", jl.Index, len(dd), want)
				}
				l.Delays = tensor.New(tensor.WithShape(want...), tensor.WithBacking(dd))
				if pendTheta != nil {
					th := pendTheta.Float64s()
					for i := range th {
						if d := pendShift + pendScale/(1+math.Exp(-th[i])); math.Abs(d-dd[i]) > 1e-9*(1+math.Abs(d)) {
							return nil, fmt.Errorf("layer %d: delay %d is %g but its theta gives %g", jl.Index, i, dd[i], d)
						}
					}
					pendTheta = tensor.New(tensor.WithShape(want...), tensor.WithBacking(th))
				}
			}
			ref.Net.Layers = append(ref.Net.Layers, l)
			ref.DelayTheta = append(ref.DelayTheta, pendTheta)
			ref.SigmoidShift = append(ref.SigmoidShift, pendShift)
			ref.SigmoidScale = append(ref.SigmoidScale, pendScale)
			pendKind, pendD, pendTheta, pendBias, pendShift, pendScale = NoDelay, nil, nil, nil, 0, 1
			prev = out
		default:
			return nil, fmt.Errorf("layer %d: unknown kind %q", jl.Index, jl.Kind)
		}
	}
	if pendKind != NoDelay || pendBias != nil {
		return nil, errors.New("delay or bias layer after the last neuron layer")
	}
	if err := ref.Net.Validate(); err != nil {
		return nil, err
	}
	return ref, nil
}

// readLayerNpy reads the parameter file name of layer index and checks its
// shape against the one network.json gives (if it gives one).
func readLayerNpy(fsys fs.FS, dir, name string, index int, shape []int) (*tensor.Dense, error) {
	t, err := ReadNpy(fsys, path.Join(dir, name))
	if err != nil {
		return nil, err
	}
	if s := t.Shape(); len(shape) > 0 && !slices.Equal(s, shape) {
		return nil, fmt.Errorf("layer %d: %s has shape %v, but network.json gives the layer shape %v", index, name, []int(s), shape)
	}
	return t, nil
}

func isTheta(name string) bool {
	return len(name) >= 10 && name[len(name)-10:] == "_theta.npy"
}

func neuronFromJSON(p map[string]float64) (Neuron, error) {
	for _, k := range []string{"tau_syn", "tau_mem", "threshold"} {
		if _, ok := p[k]; !ok {
			return Neuron{}, fmt.Errorf("neuron_params: %q missing", k)
		}
	}
	n := Neuron{TauSyn: p["tau_syn"], TauMem: p["tau_mem"], Threshold: p["threshold"], Leak: p["leak"]}
	if err := n.validate(); err != nil {
		return Neuron{}, fmt.Errorf("neuron_params: %w", err)
	}
	if g, ok := p["g_leak"]; ok && math.Abs(g-n.GLeak()) > 1e-12 {
		return Neuron{}, fmt.Errorf("neuron_params: g_leak %g differs from tau_syn/tau_mem = %g", g, n.GLeak())
	}
	return n, nil
}

// ReadNpy reads a float32 or float64 .npy file of fsys into a dense float64
// tensor of its shape (C order; a scalar becomes a vector of one). A file
// that is not a .npy file, has a malformed header, another dtype or fewer
// data bytes than its header announces gives an error naming the file and
// the problem.
func ReadNpy(fsys fs.FS, name string) (*tensor.Dense, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	a, err := npyfile.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data, err := a.Float64s()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	shape := a.Shape
	if len(shape) == 0 {
		shape = []int{len(data)}
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: empty array (shape %v)", name, shape)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), nil
}
