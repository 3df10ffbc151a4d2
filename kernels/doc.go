// Package kernels will hold the CUDA kernels of the DelGrad engine (.cu
// sources, their generated PTX embedded with go:embed) and the Go launcher
// on gorgonia.org/cu behind the build tag cuda, implementing batch.Engine.
//
// Not implemented yet: see the project's CUDA issue. Until then the CPU
// engine of package batch is the only engine.
package kernels
