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
// The substrate's unit of work is a population (Substrate.ForwardPop):
// many chips, each with its own network, batch and stream of trial terms,
// run layer by layer as one population pass of any batch.Engine (the Go
// engine, or the kernels on a GPU), and the perturbed neurons of all chips
// in one root-finder call (FirstSpikesOn: on the device where the engine
// has one). A chip's times do not depend on the engine, the workers or the
// chips it runs with. Evaluate runs one network on many chips in such
// populations and reports the accuracy per chip; Params.Fit checks that a
// network can be placed on one chip at all.
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
