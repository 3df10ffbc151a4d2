// Package kernels holds the CUDA engine of DelGrad: the kernels
// (delgrad.cu), their per-thread math written once as host-and-device
// functions (delgrad.cuh), the PTX nvcc makes from them for compute_80 and
// compute_90 (ptx/, embedded as PTX80 and PTX90, so building needs no
// nvcc), and, behind the build tag cuda, the Go launcher: GPU implements
// batch.Engine, with gorgonia.org/cu for the context, memory and module and
// launch_cuda.c for launches and CUDA graphs.
//
// Parallel layout. Forward: the layer's effective inputs are sorted per
// sample (per (sample, neuron) with synaptic delays, whose order differs per
// neuron) by ranking, one thread per row (bias rows included); one thread
// per sorted entry computes its exponentials (the first entry's thread
// rebases a group that spans more than 512 tau_s, in order), and one thread
// per (sample, neuron) scans the causal prefixes for the first spike.
// Backward: one thread per sample finds its time range, one per (sample,
// row) the exponentials, one per (sample, neuron) the gradient factors, one
// per (sample, input) the propagated error (a sum over neurons, in order),
// and one per (chunk of samples, weight) a partial batch sum of its
// gradient, which dg_chunksum then adds in chunk order (batch.SumChunk).
// The two per-(sample, neuron) kernels also come in a version with a warp
// of 32 lanes per pair (dg_fwd_spike_w, dg_bwd_neuron_w), for layers with
// long input lists at batches too small to fill the device: the lanes
// share the pair's inputs, every lane adds the terms in the one-thread
// order (from shuffles), so the sums and results are the same bits.
// Engine.WarpSearch and Engine.WarpNeuron choose between them (NewGPU's
// default: WarpSmallBatches, a warp per pair in small layers of long input
// lists; nil: one thread per pair). Likewise the backward pass's first
// phase (a sample's reference time, then its rows' exponentials) comes as
// dg_bwd_range and dg_bwd_rows, or as one kernel with a warp per sample,
// dg_bwd_rows_w (Engine.WarpRows; off by default until a GPU has timed it).
// Everything is float64. The only atomics add whole numbers (the training
// step's counts of silent and clipped pairs, dg_count), which no order of
// the additions can change.
//
// Bit for bit. The kernels use the exp and log of package internal/xmath
// (dg_exp, dg_log), as the Go engine does, are compiled without
// multiply-add contraction (nvcc --fmad=false; kernels/host with the
// matching pragma), and sum in the Go engine's order; so the GPU, the
// host-compiled kernels and the Go engine give the same bits: spike times,
// gradients, and whole training runs. This needs a Go build that does not
// fuse multiply-adds either: amd64 at GOAMD64=v1 or v2 (the default).
// Elsewhere (arm64, GOAMD64=v3) the engines agree to rounding, and the
// tests say so.
//
// Beyond batch.Engine, Engine implements batch.StepEngine: the trainer's
// whole training step (loss, backward pass, Adam, delay rectification,
// weight clipping and rounding, weight bumps) runs on the device, with the
// parameters and optimiser state kept there between batches (step.go). A
// run of batches copies its inputs and tables in before its first batch and
// its counts back after its last, nothing in between: the bump check runs
// on the device (dg_decide) and the kernels that change parameters read its
// decision. Every full batch launches the same kernels
// with the same arguments, so on the GPU the second is recorded as a CUDA
// graph and the rest replay it (Recorder), one launch per batch.
//
// Populations (batch.PopEngine, batch.PopStepper): K networks of one shape,
// each with its own parameters and batch, run as one batch of K*B samples,
// member after member, with one launch per kernel for all members. Each
// kernel finds a sample's member (dg_member) and indexes the member's layer
// constants, weights, delays, bias times and synaptic exponentials by it;
// batch sums run in chunks of each member's samples, so every member's
// results are those of its single pass, bit for bit. The training step of
// a population gives each member its own control block, Adam table rows,
// bump state and data. Forward, Backward and the single Stepper are
// populations of one; PopulationBytes and StepBytes count what a
// population holds on the device, and one that does not fit the device's
// free memory is refused before its first batch.
//
// Perturbed layers (batch.PerturbedEngine): neurons with their own time
// constants (chips with time-constant mismatch) have no closed form, so
// dg_perturbed_spike is bss2model.Membrane's root finder (interval scan,
// safeguarded Newton, the term-by-term mode with dg_expm1 where tau_mem
// is close to tau_syn) written in C step for step. Engine.FirstSpikesPop
// solves a population of such layers, of any shapes, in two launches:
// dg_pert_rank sorts each (member, sample)'s input and bias spikes by
// (time, row), one thread per row, and dg_pert_spike runs the root finder
// with one thread per (member, sample, neuron); the members' values lie
// in one array, found through a table of dg_pmember offsets. The results
// are bss2model.FirstSpikes', bit for bit.
//
// The launcher (Engine) drives a Device: the CUDA device in a cuda build,
// or the CPU device of package kernels/host, which compiles the same kernel
// bodies with the C compiler and runs each launch as a loop. Its tests hold
// the whole engine, launcher included, against the Go engine (and run under
// AddressSanitizer in make test), so the default build, which needs no
// CUDA, checks everything but the CUDA device itself.
// A cuda build starts on machines without a usable driver too (see
// cuinit_cuda.c) and Available says why the GPU cannot be used.
package kernels
