// Package batch holds the network description, batches of spike times and the
// pure-Go DelGrad engine: exact time-to-first-spike forward passes and exact
// event-based gradients with respect to weights, input times and transmission
// delays (axonal, dendritic, synaptic) for current-based LIF neurons with
// tau_m = tau_s or tau_m = 2 tau_s.
//
// Batches of spike times are dense B x N float64 tensors (gorgonia.org/tensor),
// row-major, one row per sample; +Inf marks a neuron that did not spike.
// The engine works on their backing slices. The CPU engine here is the
// reference for every other engine (the CUDA kernels in package kernels are
// held against it).
//
// Units and conventions follow the reference implementation of the DelGrad
// paper (Göltz et al. 2025): tau_s is the time unit of the closed forms,
// C_m = 1, c = g_leak (theta - E_l) with g_leak = tau_s / tau_m, and weights
// are stored input-major, shape (n_pre, n_post).
package batch
