#!/usr/bin/env python3
"""Times one benchmark case in the PyTorch DelGrad reference implementation.

This is the adapter that `delgrad bench -reference` runs, so that the reference
is timed on the same cases in the same run as our engines:

    delgrad bench -reference "python3 scripts/reference-bench.py --src PATH/TO/REFERENCE/src"

`delgrad bench` appends `-case NAME -mode forward|fwdbwd|train -batch B`; the
script builds the case's network with the reference's own classes
(networks.get_network, utils.GetLoss, training.check_bump_weights), times the
mode on a random batch for at least --min-time seconds after one warm-up step,
and prints `samples_per_second: X` (0 when the reference cannot run the case,
with the reason on stderr). The reference's own output goes to stderr.

The networks mirror bench.Cases in package bench (same sizes, neuron regime,
delay kind and share of missing input spikes); weights are drawn with the
reference's initialiser from the same mean and spread as ours. What each mode
runs:
  forward  net(x) under torch.no_grad()
  fwdbwd   net(x), the loss (shift-invariant MSE, delta_t 0.2), loss.backward()
  train    one step of the reference's training loop (training.run_epochs):
           forward, the weight-bumping check, loss, backward, Adam, delay
           rectification, weight writing
Inputs with more than --integrator-above (default 400) features use the
reference's Euler integrator (use_forward_integrator, resolution 0.01,
sim_time 4), as the reference does for 784-input MNIST: its exact forward pass
would need a B x N x N x M tensor there.

Needs: the reference's src directory (networks.py, utils.py,
utils_spiketime.py, training.py) and the Python packages it imports (torch,
numpy, numba, scipy, pyyaml, matplotlib).
"""
import argparse
import contextlib
import copy
import os
import sys
import time

# The suite's cases (bench.Cases): name -> (sizes, tau_mem / tau_syn, delay
# kind, share of missing input spikes).
CASES = {}
for _regime in (2, 1):
    for _delay in ("none", "axonal", "dendritic", "synaptic"):
        CASES[f"yinyang-4-30-3-{_delay}-tau{_regime}"] = ([4, 30, 3], _regime, _delay, 0.0)
CASES["mnist16-256-128-10"] = ([256, 128, 10], 1, "none", 0.5)
CASES["mnist-784-350-10"] = ([784, 350, 10], 1, "none", 0.8)
CASES["wide-1024-1024-10"] = ([1024, 1024, 10], 2, "none", 0.0)

DELAY_LAYERS = {"axonal": "DelayAxonal", "dendritic": "DelayDendritic", "synaptic": "DelaySynaptic"}
MODES = ("forward", "fwdbwd", "train")


def parse_args(argv):
    if "--list" in argv:
        if argv != ["--list"]:
            sys.exit("reference-bench.py: --list takes no other arguments")
        print("\n".join(CASES))
        sys.exit(0)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--list", action="store_true", help="print the case names and exit (alone)")
    p.add_argument("--src", required=True, help="the reference's src directory (networks.py, utils.py, training.py)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                   help="torch device (auto: cuda where available)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--min-time", type=float, default=1.0, help="least seconds timed")
    p.add_argument("--integrator-above", type=int, default=400,
                   help="use the reference's Euler integrator for more inputs than this")
    p.add_argument("-case", "--case", required=True, choices=sorted(CASES))
    p.add_argument("-mode", "--mode", required=True, choices=MODES)
    p.add_argument("-batch", "--batch", required=True, type=int)
    a = p.parse_args(argv)
    if a.batch < 1:
        p.error(f"-batch {a.batch}: want at least 1")
    if a.min_time <= 0:
        p.error(f"--min-time {a.min_time}: want a positive number of seconds")
    for f in ("networks.py", "utils.py", "training.py"):
        if not os.path.isfile(os.path.join(a.src, f)):
            p.error(f"--src {a.src}: no {f} there; give the reference implementation's src directory")
    return a


def layout(case, integrator):
    """The case's network in the reference's config format, and its neuron
    and training parameters."""
    sizes, regime, delay, p_inf = CASES[case]
    layers = []
    n_in = sizes[0]
    for n_out in sizes[1:]:
        if delay == "none":
            layers.append({"name": "BroadcastLayer"})
        else:
            layers.append({"name": DELAY_LAYERS[delay], "delay_mean": 0.0, "delay_std": 0.25,
                           "positivity": {"name": "sigmoid", "scale": 1.0}, "learning_rate": 0.005,
                           "trainable": True, "monitor": False})
        # bench.Case.network: W = scale (0.8 + N(0, 1)), scale = 3 / sqrt(n_in (1 - p_inf)),
        # x1.5 for tau_m = tau_s.
        scale = 3 / (n_in * (1 - p_inf)) ** 0.5
        if regime == 1:
            scale *= 1.5
        layers.append({"name": "NeuronLayer", "size": n_out, "weights_mean": 0.8 * scale, "weights_std": scale,
                       "learning_rate": 0.005, "trainable": True, "monitor": False,
                       # never bump: the suite's training step does not either
                       "max_num_missing_spikes": 1.0})
        n_in = n_out
    neuron = {"g_leak": 1.0 / regime, "leak": 0.0, "max_dw_norm": 0.2, "tau_mem": float(regime),
              "tau_syn": 1.0, "threshold": 1.0}
    training = {"substrate": "sim", "clip_weights_max": False, "rounding_precision": False,
                "max_dw_norm": False, "use_forward_integrator": integrator, "resolution": 0.01,
                "sim_time": 4.0, "learning_rate": 0.005, "optimizer": "adam", "momentum": 0,
                "loss": {"type": "shift_invariant_MSE", "delta_t": 0.2},
                "weight_bumping_exp": True, "weight_bumping_targeted": True, "weight_bumping_value": 0.0005}
    return {"n_inputs": sizes[0], "layers": layers}, neuron, training, p_inf


def measure(a, torch, np, networks, utils, training):
    """Builds the case in the reference and returns its samples/s."""
    if a.device == "auto":
        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(a.device)
    sizes = CASES[a.case][0]
    net_layout, neuron, train_params, p_inf = layout(a.case, sizes[0] > a.integrator_above)

    rng = np.random.default_rng(1)
    x = 0.15 + 1.85 * rng.random((a.batch, sizes[0]))
    x[rng.random(x.shape) < p_inf] = np.inf
    x = torch.tensor(x, dtype=torch.float64, device=device)
    labels = torch.tensor(rng.integers(0, sizes[-1], a.batch), device=device)
    torch.manual_seed(1)

    net = networks.get_network(copy.deepcopy(neuron), copy.deepcopy(net_layout), train_params, device)
    net = net.to(device)
    criterion = utils.GetLoss(train_params, sizes[-1], neuron["tau_syn"], device)
    optimizer = torch.optim.Adam(
        [{"params": layer.parameters(),
          "lr": layer.lr if layer.lr is not None else train_params["learning_rate"]}
         for layer in net.layers],
        lr=train_params["learning_rate"])
    bump = {"value": train_params["weight_bumping_value"], "last": -2}

    def step():
        if a.mode == "forward":
            with torch.no_grad():
                net(x)
            return
        optimizer.zero_grad()
        label_times, hidden_times = net(x)
        if a.mode == "fwdbwd":
            criterion(label_times, labels, net).backward()
            return
        # training.run_epochs, one batch
        criterion.select_classes(label_times)
        bump["last"], bump["value"] = training.check_bump_weights(
            net, hidden_times, label_times, train_params, 0, 0, bump["value"], bump["last"])
        if bump["last"] == -2:
            criterion(label_times, labels, net).backward()
            optimizer.step()
            net.delays_rectify()
        net.write_weights()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up
    sync()
    steps, start = 0, time.perf_counter()
    while True:
        step()
        steps += 1
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= a.min_time:
            return steps * a.batch / elapsed


def main(argv):
    a = parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import numpy as np
    import torch
    sys.path.insert(0, os.path.abspath(a.src))
    torch.set_default_dtype(torch.float64)
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    # The reference prints as it goes: its output goes to stderr, stdout
    # carries the one result line.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            import networks
            import training
            import utils
            sps = measure(a, torch, np, networks, utils, training)
    except (RuntimeError, MemoryError) as e:  # out of memory, say: not available
        print(f"reference-bench: {a.case} {a.mode} batch {a.batch}: {e}", file=sys.stderr)
        sps = 0
    print(f"samples_per_second: {sps:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
