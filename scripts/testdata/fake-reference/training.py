"""Stand-in for the reference's training.py (see README.md)."""


def check_bump_weights(net, hidden_times, label_times, training_params, epoch, batch, bump_val, last_weights_bumped):
    for k in ("weight_bumping_exp", "weight_bumping_targeted", "weight_bumping_value"):
        assert k in training_params, f"training parameter {k} missing"
    for i, times in enumerate(hidden_times):
        if len(times) > 0:
            assert "max_num_missing_spikes" in net.layers_def[i]
    assert "max_num_missing_spikes" in net.layers_def[-1]
    return -2, bump_val
