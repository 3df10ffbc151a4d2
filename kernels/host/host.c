// host.c runs the kernels of ../delgrad.cuh on the CPU: emu_<kernel> calls
// the kernel's body for every thread index in order, as one launch of
// ../delgrad.cu would run it on the GPU.
#include "host.h"

#define DG_EMU_DEF(name, params, args) \
    void emu_##name(long long dg_threads, DG_UNPAREN params) { \
        for (long long j = 0; j < dg_threads; j++) name##_body(j, DG_UNPAREN args); \
    }
DG_KERNELS(DG_EMU_DEF)
