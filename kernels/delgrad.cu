// delgrad.cu: the CUDA kernels of the DelGrad engine. Every kernel is the
// body of the same name in delgrad.cuh run by one thread; kernels/host runs
// the same bodies in loops on the CPU, where the tests hold them (through
// the same Go launcher) against the Go engine. Regenerate the PTX with
// `make ptx` after changing this file or the header.
#include "delgrad.cuh"

#define TID ((long long)blockIdx.x * blockDim.x + threadIdx.x)
#define DG_GLOBAL(name, params, args) \
    __global__ void name(DG_UNPAREN params) { name##_body(TID, DG_UNPAREN args); }

extern "C" {
DG_KERNELS(DG_GLOBAL)
}
