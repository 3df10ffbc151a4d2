//go:build cuda

// gorgonia.org/cu calls cuInit in its package init and exits the process
// when it fails, before main can say anything. This definition of cuInit in
// the executable takes precedence over the driver's (symbol interposition):
// it calls the driver's cuInit, records the result for Available, and
// reports success, so that a cuda build still starts on a machine without
// a usable driver and can say clearly why the GPU is not there.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <cuda.h>

static int dg_status = -1;

CUresult CUDAAPI cuInit(unsigned int flags) {
    CUresult (*real)(unsigned int) = (CUresult(*)(unsigned int))dlsym(RTLD_NEXT, "cuInit");
    if (real == 0) {
        dg_status = CUDA_ERROR_NOT_INITIALIZED;
        return CUDA_SUCCESS;
    }
    dg_status = real(flags);
    return CUDA_SUCCESS;
}

int dg_cuinit_status(void) { return dg_status; }
