// Package bss2model is a batched model of BrainScaleS-2 (BSS-2) chips for
// hardware-aware training and Monte-Carlo evaluation of DelGrad networks.
//
// A Chip is one draw of the fixed-pattern terms (threshold offset, membrane
// and synaptic time constants per neuron, a gain per synapse). A Substrate
// runs a network on a chip: it realises the weights as 6-bit hardware values
// and the delays as delay-neuron register settings, adds the trial-to-trial
// terms (threshold noise per batch, delay and spike-time jitter, lost spikes),
// computes the perturbed neurons' first-spike times exactly and quantises
// them to the FPGA clock. The observed times fill a batch.Trace, so the
// ideal DelGrad backward pass of any batch.Engine can train on them, as
// training against a real chip does.
//
// Evaluate runs one network on many chips in batched calls and reports the
// accuracy per chip.
//
// Neurons with their own time constants have no closed form: Membrane
// finds their first spike numerically. FirstSpikes solves a whole
// population of such layers (batch.PerturbedLayer) on the CPU, and
// FirstSpikesOn hands them to an engine that solves them on its device
// (batch.PerturbedEngine: the kernels, whose root finder is Membrane's
// written in C, with the same bits).
//
// Each term of Params says whether its default is taken from the reference
// implementation of the DelGrad paper or is an assumption of this model.
package bss2model
