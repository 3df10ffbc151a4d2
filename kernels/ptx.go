package kernels

import _ "embed" // the PTX below

// PTX80 and PTX90 are the kernels of delgrad.cu compiled by nvcc 11.8 to
// PTX for compute_80 (Ampere) and compute_90 (Hopper); the driver compiles
// them for the GPU at load time. `make ptx` regenerates them and
// ptx/SOURCES.sha256 (the hash of the sources they were made from), which
// `make ptx-check` (run by CI) holds against the sources.
var (
	//go:embed ptx/delgrad_sm80.ptx
	PTX80 string
	//go:embed ptx/delgrad_sm90.ptx
	PTX90 string
)
