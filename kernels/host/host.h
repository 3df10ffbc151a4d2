#ifndef DELGRAD_HOST_H
#define DELGRAD_HOST_H
#include "delgrad_cuh.h" /* ../delgrad.cuh, linked here so that the go command hashes it (it tracks .h files of the package only) */

/* emu_<kernel>(n, params...): the kernel's body for threads 0..n-1. */
#define DG_EMU_DECL(name, params, args) void emu_##name(long long dg_threads, DG_UNPAREN params);
DG_KERNELS(DG_EMU_DECL)

/* dg_exp, dg_log and dg_expm1, compiled as the kernels are (tests). */
double emu_exp(double x);
double emu_log(double x);
double emu_expm1(double x);
/* dg_perturbed_spike (tests). */
double emu_perturbed_spike(double tau_mem, double tau_syn, double unit, double theta, const double *ts,
                           const double *w, const int *rows, long long stride, int n);

#endif
