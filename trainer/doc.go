// Package trainer trains DelGrad networks: configuration (TOML), model
// construction with delay positivity and sharing, losses (shift-invariant
// MSE, TTFS cross-entropy), Adam and SGD with per-layer learning rates,
// StepLR, weight bumping, checkpoints, metrics, exported networks and plots.
//
// The semantics follow the DelGrad reference code: per batch a forward
// pass, the bump check, then either a weight bump or backward, an optimiser
// step, delay rectification and weight clipping. A Run ties a Trainer to a
// directory; Run.Train and OpenRun make runs resumable bit for bit.
//
// Engines (package batch's CPU engine, or a GPU engine) are passed in; the
// trainer never depends on which one runs.
//
// A config with a [bss2] section trains hardware-aware: each training
// forward pass runs on a simulated BrainScaleS-2 chip (package bss2model),
// and the ideal backward pass of the engine takes the observed spike times,
// as training with a chip in the loop does. Validation and test run on the
// run's own chip.
package trainer
