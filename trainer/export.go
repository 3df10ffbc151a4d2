package trainer

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"codeberg.org/sbinet/npyio"
	"gonum.org/v1/gonum/mat"

	"github.com/delgrad-go/delgrad/batch"
	"github.com/delgrad-go/delgrad/internal/atomicfile"
)

// datasetInfo is what network.json records of the dataset (eval -net
// evaluates on it or asks for it).
func datasetInfo(d DataConfig) batch.DatasetInfo {
	info := batch.DatasetInfo{Name: d.Name, Dir: d.Dir}
	if d.Name == "npy" {
		info.Dir = ""
		info.TrainSamples, info.TrainLabels = d.TrainSamples, d.TrainLabels
		info.ValidationSamples, info.ValidationLabels = d.ValidationSamples, d.ValidationLabels
		info.TestSamples, info.TestLabels = d.TestSamples, d.TestLabels
	}
	return info
}

// Export writes the trainer's current network, labelled as the network
// after epoch epochs, to dir in the reference's layout
// (network.json plus one .npy per parameter), which batch.LoadReference and
// `delgrad eval -net` read back; network.json also records the dataset
// (batch.DatasetInfo). Delays are written as their effective
// values, and for the sigmoid positivity also as theta (one per synapse,
// shared values repeated). The layout holds one set of neuron parameters,
// so every layer must share them.
func Export(t *Trainer, dir string, epoch int) error {
	m := t.Model
	m.Sync()
	net := m.Net
	n0 := net.Layers[0].Neuron
	for l := range net.Layers {
		n := net.Layers[l].Neuron
		n.Eps, n0.Eps = 0, 0
		if n != n0 || net.Layers[l].MaxDWNorm != net.Layers[0].MaxDWNorm {
			return fmt.Errorf("export: layer %d has its own neuron parameters, which the reference layout cannot hold", l)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	type layerJSON struct {
		Index        int       `json:"index"`
		Kind         string    `json:"kind"`
		Shape        []int     `json:"shape,omitempty"`
		Factor       int       `json:"factor,omitempty"`
		Times        []float64 `json:"times,omitempty"`
		SigmoidShift *float64  `json:"sigmoid_shift,omitempty"`
		SigmoidScale *float64  `json:"sigmoid_scale,omitempty"`
		Files        []string  `json:"files,omitempty"`
	}
	var layers []layerJSON
	add := func(l layerJSON) { l.Index = len(layers); layers = append(layers, l) }
	write := func(name string, rows, cols int, data []float64) error {
		d := mat.NewDense(rows, cols, append([]float64(nil), data...))
		return atomicfile.Write(filepath.Join(dir, name), 0o644, func(w io.Writer) error {
			return npyio.Write(w, d)
		})
	}
	if net.Multiplex > 1 {
		add(layerJSON{Kind: "Multiplex", Factor: net.Multiplex})
	}
	for l := range net.Layers {
		lay := &net.Layers[l]
		sp := &m.specs[l]
		if lay.Delay != batch.NoDelay {
			kind := map[batch.DelayKind]string{batch.Axonal: "DelayAxonal", batch.Dendritic: "DelayDendritic", batch.Synaptic: "DelaySynaptic"}[lay.Delay]
			rows, cols := lay.In, lay.Out
			switch lay.Delay {
			case batch.Axonal:
				cols = 1
			case batch.Dendritic:
				rows = 1
			}
			lj := layerJSON{Kind: kind, Shape: []int{rows, cols}}
			base := fmt.Sprintf("layer%d_delay", len(layers))
			if sp.positivity == "sigmoid" {
				shift, scale := sp.shift, sp.scale
				lj.SigmoidShift, lj.SigmoidScale = &shift, &scale
				th := make([]float64, rows*cols)
				for k := range th {
					th[k] = m.Theta[l][sp.thetaIndex(k)]
				}
				if err := write(base+"_theta.npy", rows, cols, th); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				lj.Files = append(lj.Files, base+"_theta.npy")
			}
			if err := write(base+".npy", rows, cols, lay.D()); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			lj.Files = append(lj.Files, base+".npy")
			add(lj)
		} else if l > 0 {
			add(layerJSON{Kind: "BroadcastLayer"})
		}
		if len(lay.BiasTimes) > 0 {
			add(layerJSON{Kind: "Biases", Times: lay.BiasTimes})
		}
		name := fmt.Sprintf("layer%d_weights.npy", len(layers))
		if err := write(name, lay.Rows(), lay.Out, lay.W()); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		add(layerJSON{Kind: "NeuronLayer", Shape: []int{lay.Rows(), lay.Out}, Files: []string{name}})
	}
	lc := t.Cfg.Training.Loss
	loss := map[string]any{"type": "shift_invariant_MSE", "delta_t": lc.DeltaT}
	if lc.Type == "ttfs" {
		loss = map[string]any{"type": "TTFS", "xi": lc.Xi, "alpha": lc.Alpha, "beta": lc.Beta}
	}
	doc := map[string]any{
		"network": t.Cfg.Name,
		"neuron_params": map[string]float64{"tau_syn": n0.TauSyn, "tau_mem": n0.TauMem, "g_leak": n0.GLeak(),
			"threshold": n0.Threshold, "leak": n0.Leak, "max_dw_norm": net.Layers[0].MaxDWNorm},
		"n_inputs": net.Inputs,
		"layers":   layers,
		"loss":     loss,
		"epochs":   epoch,
		"seed":     t.Cfg.Seed,
		"dataset":  datasetInfo(t.Cfg.Data),
	}
	raw, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "network.json"), append(raw, '\n'), 0o644); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
