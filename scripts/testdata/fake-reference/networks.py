"""Stand-in for the reference's networks.py (see README.md)."""
import os

import torch

import utils


class Net(torch.nn.Module):
    def __init__(self, default_neuron_params, network_layout, training_params, device):
        super().__init__()
        for k in ("g_leak", "leak", "max_dw_norm", "tau_mem", "tau_syn", "threshold"):
            assert k in default_neuron_params, f"neuron parameter {k} missing"
        p = default_neuron_params
        assert p["tau_syn"] / p["tau_mem"] == p["g_leak"], "g_leak must be tau_syn / tau_mem"
        assert training_params["substrate"] == "sim"
        assert "clip_weights_max" in training_params
        if training_params.get("use_forward_integrator"):
            assert "resolution" in training_params and "sim_time" in training_params
        self.layers_def = network_layout["layers"]
        self.layers = torch.nn.ModuleList()
        n = network_layout["n_inputs"]
        for d in self.layers_def:
            if d["name"] == "NeuronLayer":
                self.layers.append(utils.NeuronLayer(d, n, device))
                n = d["size"]
            elif d["name"].startswith("Delay"):
                assert d["name"] in ("DelayAxonal", "DelayDendritic", "DelaySynaptic")
                for k in ("delay_mean", "delay_std", "positivity"):
                    assert k in d, f"delay layer key {k} missing"
                assert d["positivity"]["name"] in ("sigmoid", "clip", "shift")
                self.layers.append(utils.DelayLayer(d))
            else:
                assert d["name"] == "BroadcastLayer", d["name"]
                self.layers.append(utils.BroadcastLayer())
        self.rectified = 0

    def forward(self, input_times):
        if os.environ.get("FAKE_REFERENCE_FAIL"):
            raise RuntimeError("out of memory (the stand-in fails on purpose: FAKE_REFERENCE_FAIL)")
        hidden = []
        t = input_times
        for i, layer in enumerate(self.layers):
            t = layer(t)
            if i < len(self.layers) - 1:
                hidden.append(t if isinstance(layer, utils.NeuronLayer) else [])
        return t, hidden

    def delays_rectify(self):
        self.rectified += 1

    def write_weights(self):
        pass


def get_network(default_neuron_params, network_layout, training_params, device):
    return Net(default_neuron_params, network_layout, training_params, device)
