// delgrad.cu: the CUDA kernels of the DelGrad engine. Each kernel is a thin
// wrapper that maps its thread to one call of the per-thread math in
// delgrad.cuh; kernels/host/host.c runs the same calls in loops on the CPU
// (one loop per kernel, in this order) and is tested against the Go engine.
// Regenerate the PTX with `make ptx` after changing this file or the header.
#include "delgrad.cuh"

#define TID ((long long)blockIdx.x * blockDim.x + threadIdx.x)

// Kernel parameters are pointers, long long or double only: gorgonia.org/cu
// passes every parameter as one 8-byte word. A layer's constants (dg_layer)
// therefore live in device memory, and each kernel copies them first.

extern "C" {

// x (B x F) -> out (B x F*mux), each feature repeated mux times.
__global__ void dg_mux(long long B, long long F, long long mux, const double *x, double *out) {
    long long j = TID;
    if (j >= (long long)B * F * mux) return;
    out[j] = x[j / mux];
}

// Forward phase 1: one thread per sample (per (sample, neuron) for synaptic
// delays); cnt receives the number of finite effective inputs.
__global__ void dg_fwd_prepare(const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias,
                               double *su, int *sidx, double *e1, double *te1, double *e2, double *ref,
                               double *shift, int *cnt) {
    dg_layer L = *Lp;
    long long j = TID;
    int per = L.delay == DG_SYNAPTIC ? L.out : 1;
    if (j >= (long long)B * per) return;
    int s = (int)(j / per), k = (int)(j % per);
    long long o = j * L.rows;
    cnt[j] = dg_prepare(&L, in + (long long)s * L.in, d, bias, k, su + o, sidx + o, e1 + o, te1 + o, e2 + o,
                        ref + o, shift + o);
}

// Forward phase 2: one thread per (sample, neuron).
__global__ void dg_fwd_spike(const dg_layer *Lp, long long B, const double *su, const int *sidx, const double *e1,
                             const double *te1, const double *e2, const double *ref, const double *shift,
                             const int *cnt, const double *w, const double *d, double *out) {
    dg_layer L = *Lp;
    long long j = TID;
    if (j >= (long long)B * L.out) return;
    int k = (int)(j % L.out);
    long long p = L.delay == DG_SYNAPTIC ? j : j / L.out;
    long long o = p * L.rows;
    out[j] = dg_first_spike(&L, cnt[p], su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o, w, d, k);
}

// Non-finite errors (a missing label spike) carry no gradient.
__global__ void dg_clean(long long n, const double *x, double *out) {
    long long j = TID;
    if (j >= n) return;
    double v = x[j];
    out[j] = dg_finite(v) ? v : 0;
}

// Synaptic delays: e^{d/tau} and e^{d/(2 tau)}, one thread per delay.
__global__ void dg_syn_exps(const dg_layer *Lp, const double *d, double *ed1, double *ed2) {
    dg_layer L = *Lp;
    long long j = TID;
    if (j >= (long long)L.in * L.out) return;
    double v = d[j] / L.tau;
    ed1[j] = exp(v);
    ed2[j] = exp(v / 2);
}

// Backward phase 0: one thread per sample.
__global__ void dg_bwd_prepare(const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias,
                               double dspan, double *u, double *e1, double *e2, double *ref, int *wide) {
    dg_layer L = *Lp;
    long long s = TID;
    if (s >= B) return;
    long long o = s * L.rows;
    dg_back_prepare(&L, in + s * L.in, d, bias, dspan, u + o, e1 + o, e2 + o, ref + s, wide + s);
}

// Backward phase 1: one thread per (sample, neuron).
__global__ void dg_bwd_neuron(const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2,
                              const double *ref, const int *wide, const double *ed1, const double *ed2,
                              const double *w, const double *d, const double *out, const double *delta,
                              dg_nstate *st) {
    dg_layer L = *Lp;
    long long j = TID;
    if (j >= (long long)B * L.out) return;
    long long s = j / L.out;
    int k = (int)(j % L.out);
    long long o = s * L.rows;
    st[j] = dg_back_neuron(&L, u + o, e1 + o, e2 + o, ref[s], wide[s], ed1, ed2, w, d, out[j], delta[j], k);
}

// Backward phase 2: one thread per (sample, input): the propagated error.
__global__ void dg_bwd_input(const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2,
                             const int *wide, const double *ed1, const double *ed2, const double *w,
                             const double *d, const dg_nstate *st, double *gin) {
    dg_layer L = *Lp;
    long long j = TID;
    if (j >= (long long)B * L.in) return;
    long long s = j / L.in;
    int i = (int)(j % L.in);
    long long o = s * L.rows;
    gin[j] = dg_back_input(&L, u + o, e1 + o, e2 + o, wide[s], ed1, ed2, w, d, st + s * L.out, i);
}

// Backward phase 3: one thread per weight; the batch sum runs inside the
// thread, in sample order (no atomics).
__global__ void dg_bwd_weight(const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2,
                              const int *wide, const double *ed1, const double *ed2, const double *w,
                              const double *d, const dg_nstate *st, double *dW, double *dD) {
    dg_layer L = *Lp;
    long long j = TID;
    if (j >= (long long)L.rows * L.out) return;
    int i = (int)(j / L.out), k = (int)(j % L.out);
    double *dd = (L.delay == DG_SYNAPTIC && i < L.in) ? dD + j : 0;
    dg_back_weight(&L, (int)B, u, e1, e2, wide, ed1, ed2, w, d, st, i, k, dW + j, dd);
}

// Column sums of a B x N matrix (axonal delay gradients), one thread per column.
__global__ void dg_colsum(long long B, long long N, const double *x, double *out) {
    long long c = TID;
    if (c >= N) return;
    double g = 0;
    for (long long s = 0; s < B; s++) g += x[s * N + c];
    out[c] = g;
}

// Dendritic delay gradients: column sums of the per-(sample, neuron) errors.
__global__ void dg_dendsum(long long B, long long K, const dg_nstate *st, double *out) {
    long long c = TID;
    if (c >= K) return;
    double g = 0;
    for (long long s = 0; s < B; s++) g += st[s * K + c].dend;
    out[c] = g;
}

// Clipped (sample, neuron) pairs of a layer, counted into *n.
__global__ void dg_count_clipped(long long n, const dg_nstate *st, int *count) {
    long long j = TID;
    if (j >= n) return;
    if (st[j].clip) atomicAdd(count, 1);
}

// Input gradients: each feature sums its mux copies. One thread per (sample, feature).
__global__ void dg_unmux(long long B, long long F, long long mux, const double *g, double *out) {
    long long j = TID;
    if (j >= (long long)B * F) return;
    double v = 0;
    for (int r = 0; r < mux; r++) v += g[j * mux + r];
    out[j] = v;
}

}  // extern "C"
