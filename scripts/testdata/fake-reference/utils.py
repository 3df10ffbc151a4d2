"""Stand-in for the reference's utils.py (see README.md)."""
import torch


class NeuronLayer(torch.nn.Module):
    def __init__(self, d, n_in, device):
        super().__init__()
        for k in ("size", "weights_mean", "weights_std"):
            assert k in d, f"neuron layer key {k} missing"
        self.lr = d.get("learning_rate")
        self.weights = torch.nn.Parameter(torch.empty(n_in, d["size"], device=device))
        self.weights.data.normal_(d["weights_mean"], d["weights_std"])

    def forward(self, t):
        x = torch.where(torch.isinf(t), torch.zeros_like(t), torch.exp(-t))
        return 1 + torch.nn.functional.softplus(-(x @ self.weights))


class DelayLayer(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.lr = d.get("learning_rate")
        self.delay = torch.nn.Parameter(torch.full((1,), float(d["delay_mean"])))

    def forward(self, t):
        return t + torch.sigmoid(self.delay)


class BroadcastLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lr = None

    def forward(self, t):
        return t


class GetLoss(torch.nn.Module):
    def __init__(self, training_params, number_labels, tau_syn, device):
        super().__init__()
        assert training_params["loss"]["type"] in ("TTFS", "MSE", "shift_invariant_MSE")
        self.n = number_labels

    def forward(self, label_times, true_label, net):
        assert label_times.shape[1] == self.n
        first = label_times.gather(1, true_label.long().view(-1, 1))
        return ((label_times - first) ** 2).sum(1).mean()

    def select_classes(self, outputs):
        return outputs.argmin(1)
