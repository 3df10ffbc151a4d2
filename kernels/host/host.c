// host.c runs the kernels of ../delgrad.cuh on the CPU: emu_<kernel> calls
// the kernel's body for every thread index in order, as one launch of
// ../delgrad.cu would run it on the GPU.
/* No fused multiply-adds, as in the PTX (nvcc --fmad=false) and the Go
 * engine, so that the three round alike. (cgo does not pass
 * -ffp-contract=off, hence the pragmas.) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include "host.h"

double emu_exp(double x) { return dg_exp(x); }
double emu_log(double x) { return dg_log(x); }
double emu_expm1(double x) { return dg_expm1(x); }
double emu_perturbed_spike(double tau_mem, double tau_syn, double unit, double theta, const double *ts,
                           const double *w, const int *rows, long long stride, int n) {
    return dg_perturbed_spike(tau_mem, tau_syn, unit, theta, ts, w, rows, stride, n);
}

#define DG_EMU_DEF(name, params, args) \
    void emu_##name(long long dg_threads, DG_UNPAREN params) { \
        for (long long j = 0; j < dg_threads; j++) name##_body(j, DG_UNPAREN args); \
    }
DG_KERNELS(DG_EMU_DEF)
