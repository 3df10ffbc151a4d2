/*
 * delgrad.cuh: the per-thread math of the DelGrad engine, written once for
 * the CUDA kernels (delgrad.cu) and for the host (compiled by gcc through
 * cgo in package kernels/hostmath and tested there against the Go engine of
 * package batch, whose algorithm it mirrors line by line: see
 * batch/neuron.go and batch/cpu.go).
 *
 * Layouts (all row-major, float64):
 *   in    B x In       spike times of the layer's inputs (+Inf: no spike)
 *   out   B x Out      spike times of the layer's neurons
 *   w     Rows x Out   weights, input-major (Rows = In + nBias)
 *   d     In | Out | In x Out   axonal | dendritic | synaptic delays
 * Times inside the functions are "scaled": divided by tau_s.
 */
#ifndef DELGRAD_CUH
#define DELGRAD_CUH

#include <math.h>
#ifdef __CUDACC__
#define DG_HD __host__ __device__ static inline
#else
#define DG_HD static inline
#endif
#define DG_INF HUGE_VAL

enum { DG_NODELAY = 0, DG_AXONAL = 1, DG_DENDRITIC = 2, DG_SYNAPTIC = 3 };
enum { DG_EQUALTAU = 1, DG_DOUBLETAU = 2 };

#define DG_INV_E 0.36787944117144233
#define DG_REBASE_SPAN 512.0
#define DG_WIDE_SPAN 600.0

/* One layer's constants, shared by every thread. */
typedef struct {
    int in, out, rows, nbias, delay, regime;
    double tau;        /* tau_s */
    double c;          /* g_leak (theta - E_l) */
    double eps;        /* the reference's regulariser, or 0 */
    double maxdwnorm;  /* 0: off */
} dg_layer;

DG_HD int dg_isinf(double x) { return x == DG_INF || x == -DG_INF; }
DG_HD int dg_isnan(double x) { return x != x; }
DG_HD int dg_finite(double x) { return !dg_isnan(x) && !dg_isinf(x); }
DG_HD double dg_max(double a, double b) { return a > b ? a : b; }
DG_HD double dg_min(double a, double b) { return a < b ? a : b; }

/* Principal branch of the Lambert W function (batch.LambertW0). */
DG_HD double dg_lambertw0(double x) {
    if (dg_isnan(x) || x < -DG_INV_E) return nan("");
    if (x == -DG_INV_E) return -1;
    if (x == 0) return x;
    if (x == DG_INF) return x;
    if (fabs(x) < 1e-9) return x - x * x;
    double w;
    if (x < -0.32) {
        double p = sqrt(dg_max(0, 2 * (2.718281828459045 * x + 1)));
        w = -1 + p * (1 + p * (-1.0 / 3 + p * (11.0 / 72 + p * (-43.0 / 540 + p * (769.0 / 17280 - p * 221.0 / 8505)))));
    } else if (x < 3) {
        w = x * (1 + 4.0 / 3 * x) / (1 + 7.0 / 3 * x + 5.0 / 6 * x * x);
    } else {
        double l1 = log(x), l2 = log(l1);
        w = l1 - l2 + l2 / l1;
    }
    double prev = DG_INF;
    for (int i = 0; i < 32; i++) {
        double ew = exp(w);
        double f = w * ew - x;
        double wp1 = w + 1;
        if (wp1 == 0 || f == 0) break;
        double dw = f / (ew * wp1 - (w + 2) * f / (2 * wp1));
        if (dg_isnan(dw) || dg_isinf(dw) || fabs(dw) >= prev) break;
        prev = fabs(dw);
        w -= dw;
        if (fabs(dw) <= 1e-16 * fabs(w)) break;
    }
    if (w < -1) w = -1;
    return w;
}

/*
 * Forward, phase 1 (one thread per sample, or per (sample, neuron) for
 * synaptic delays; k is ignored otherwise): the finite effective inputs of
 * the neurons, sorted by (time, index), with the exponentials of the closed
 * forms relative to a reference time that rebases past DG_REBASE_SPAN.
 * Scratch arrays hold Rows entries; returns the number n of entries.
 */
DG_HD int dg_prepare(const dg_layer *L, const double *in_s, const double *d, const double *bias, int k,
                     double *su, int *sidx, double *e1, double *te1, double *e2, double *ref, double *shift) {
    double inv = 1 / L->tau;
    int n = 0;
    for (int i = 0; i < L->in; i++) {
        double t = in_s[i];
        if (L->delay == DG_AXONAL) t += d[i];
        double u;
        if (L->delay == DG_SYNAPTIC) {
            u = (t + d[i * L->out + k]) * inv;
        } else {
            u = t * inv;
        }
        if (u < DG_INF) { su[n] = u; sidx[n] = i; n++; }
    }
    for (int j = 0; j < L->nbias; j++) { su[n] = bias[j] * inv; sidx[n] = L->in + j; n++; }
    /* Insertion sort by (u, idx): stable, so equal times keep index order. */
    for (int m = 1; m < n; m++) {
        double u = su[m]; int ix = sidx[m]; int q = m - 1;
        while (q >= 0 && (su[q] > u || (su[q] == u && sidx[q] > ix))) {
            su[q + 1] = su[q]; sidx[q + 1] = sidx[q]; q--;
        }
        su[q + 1] = u; sidx[q + 1] = ix;
    }
    if (n == 0) return 0;
    double r = su[0];
    for (int m = 0; m < n; m++) {
        shift[m] = 0;
        if (su[m] - r > DG_REBASE_SPAN) { shift[m] = su[m] - r; r = su[m]; }
        double dd = su[m] - r;
        double e = exp(dd);
        e1[m] = e; te1[m] = dd * e; e2[m] = exp(dd / 2); ref[m] = r;
    }
    return n;
}

/*
 * Forward, phase 2 (one thread per (sample, neuron)): the first spike of
 * neuron k from the prepared inputs (batch's model.firstSpike), in
 * unscaled time, dendritic delay included; +Inf when it stays silent.
 * w is the layer's Rows x Out weight matrix.
 */
DG_HD double dg_first_spike(const dg_layer *L, int n, const double *su, const int *sidx, const double *e1,
                            const double *te1, const double *e2, const double *ref, const double *shift,
                            const double *w, const double *d, int k) {
    double t = DG_INF;
    if (n > 0) {
        double a1 = 0, b = 0, a2 = 0;
        if (L->eps != 0) {
            double r0 = ref[0];
            double e = L->eps * exp(-r0);
            a1 = e; b = e * (1 - r0); a2 = L->eps * exp(-r0 / 2);
        }
        for (int m = 0; m < n; m++) {
            double sh = shift[m];
            if (sh != 0) {
                double f = exp(-sh);
                b = f * (b - sh * a1);
                a1 *= f;
                a2 *= exp(-sh / 2);
            }
            double wm = w[sidx[m] * L->out + k];
            a1 += wm * e1[m];
            double lo = su[m], hi = m + 1 < n ? su[m + 1] : DG_INF;
            if (L->regime == DG_EQUALTAU) {
                b += wm * te1[m];
                if (!(a1 > 0)) continue;
                double r = b / a1, rf = ref[m];
                if (rf + r + 1 < lo || rf + r > hi) continue;
                if (m + 1 < n && shift[m + 1] == 0 && rf + r + 1 > hi &&
                    a1 * (hi - rf) - b < L->c * e1[m + 1] * (1 - 1e-9))
                    continue;
                double z = -L->c / a1 * exp(r);
                if (!(z >= -DG_INV_E)) continue;
                double u = rf + r - dg_lambertw0(z);
                if (u >= lo && u <= hi) { t = u; break; }
                continue;
            }
            a2 += wm * e2[m];
            if (!(a1 > 0)) continue;
            double disc = a2 * a2 - 4 * a1 * L->c;
            if (!(disc >= 0)) continue;
            double arg = 2 * a1 / (a2 + sqrt(disc));
            if (!(arg > 0)) continue;
            double u = ref[m] + 2 * log(arg);
            if (u >= lo && u <= hi) { t = u; break; }
        }
    }
    t = L->tau * t;
    if (L->delay == DG_DENDRITIC) t += d[k];
    return t;
}

/*
 * Backward, phase 0 (one thread per sample): the scaled effective times u
 * of every row (bias rows included; synaptic delays are added per neuron
 * later), the sample's reference time (its earliest input), whether the
 * sample is "wide" (exponentials then go against each neuron's own output
 * time) and, if not, the exponentials e^{u-ref} and e^{(u-ref)/2}.
 * dspan is max |d|/tau over synaptic delays (0 otherwise).
 */
DG_HD void dg_back_prepare(const dg_layer *L, const double *in_s, const double *d, const double *bias, double dspan,
                           double *u, double *e1, double *e2, double *ref, int *wide) {
    double inv = 1 / L->tau;
    double umin = DG_INF, umax = -DG_INF;
    for (int i = 0; i < L->rows; i++) {
        double t;
        if (i < L->in) {
            t = in_s[i];
            if (L->delay == DG_AXONAL) t += d[i];
        } else {
            t = bias[i - L->in];
        }
        u[i] = t * inv;
        if (u[i] < DG_INF) { umin = dg_min(umin, u[i]); umax = dg_max(umax, u[i]); }
    }
    *ref = umin;
    *wide = umax - umin + dspan > DG_WIDE_SPAN;
    if (!*wide) {
        for (int i = 0; i < L->rows; i++) { e1[i] = exp(u[i] - umin); e2[i] = exp((u[i] - umin) / 2); }
    }
}

/* The exponentials of row i for neuron k (batch's layerBuf.exps); ed1,
 * ed2 hold e^{d/tau}, e^{d/(2 tau)} of the synaptic delays. */
DG_HD void dg_exps(const dg_layer *L, int wide, int i, int k, double ui, double rf, const double *e1, const double *e2,
                   const double *ed1, const double *ed2, double *x1, double *x2) {
    int syn = L->delay == DG_SYNAPTIC && i < L->in;
    if (wide) { *x1 = exp(ui - rf); *x2 = exp((ui - rf) / 2); return; }
    if (syn) { *x1 = e1[i] * ed1[i * L->out + k]; *x2 = e2[i] * ed2[i * L->out + k]; return; }
    *x1 = e1[i]; *x2 = e2[i];
}

/* d t_out / d w (tau_s units) and d t_out / d t_i of one causal input (batch's model.grads). */
DG_HD void dg_grads(const dg_layer *L, double k1, double k2, double w, double ui, double x1, double x2, double us,
                    double *dw, double *dt) {
    if (L->regime == DG_EQUALTAU) {
        *dw = k1 * x1 * (us - ui);
        *dt = k1 * (w * x1) * (us - ui - 1);
        return;
    }
    *dw = 2 * (k1 * x1 - k2 * x2);
    *dt = 2 * k1 * (w * x1) - k2 * (w * x2);
}

/* Per-(sample, neuron) backward state. */
typedef struct {
    double k1, k2, dk, us, rf, dend;
    int act, clip;
} dg_nstate;

/*
 * Backward, phase 1 (one thread per (sample, neuron)): the gradient factors
 * of neuron k for one sample from its observed output time and the error
 * delta_k (batch's backwardLayer, phase 1, less the propagated error).
 * u, e1, e2 are the sample's rows from dg_back_prepare.
 */
DG_HD dg_nstate dg_back_neuron(const dg_layer *L, const double *u, const double *e1, const double *e2, double ref,
                               int wide, const double *ed1, const double *ed2, const double *w, const double *d,
                               double tout, double dk, int k) {
    dg_nstate st = {0, 0, 0, 0, 0, 0, 0, 0};
    double inv = 1 / L->tau;
    if (L->delay == DG_DENDRITIC) tout -= d[k];
    double us = tout * inv;
    if (dk == 0 || dg_isnan(us) || dg_isinf(us)) return st;
    st.dend = dk;
    double rf = wide ? us : ref;
    double a1 = 0, bb = 0, a2 = 0;
    if (L->eps != 0) {
        double e = L->eps * exp(-rf);
        a1 = e; bb = e * (1 - rf); a2 = L->eps * exp(-rf / 2);
    }
    int syn = L->delay == DG_SYNAPTIC;
    for (int i = 0; i < L->rows; i++) {
        double ui = u[i];
        if (syn && i < L->in) ui += d[i * L->out + k] * inv;
        if (!(ui <= us)) continue;
        double x1, x2;
        dg_exps(L, wide, i, k, ui, rf, e1, e2, ed1, ed2, &x1, &x2);
        double wi = w[i * L->out + k];
        a1 += wi * x1;
        bb += wi * (ui - rf) * x1;
        a2 += wi * x2;
    }
    double k1, k2 = 0;
    if (L->regime == DG_EQUALTAU) {
        double r = bb / a1;
        double z = -L->c / a1 * exp(r);
        double wl = dg_lambertw0(z);
        k1 = -1 / (a1 * (1 + wl));
    } else {
        double s = sqrt(a2 * a2 - 4 * a1 * L->c);
        k1 = (1 + L->c / s * exp((us - rf) / 2)) / a1;
        k2 = 1 / s;
    }
    if (!dg_finite(k1) || !dg_finite(k2)) return st;
    double maxdw = 0, check = 0;
    for (int i = 0; i < L->rows; i++) {
        double ui = u[i];
        if (syn && i < L->in) ui += d[i * L->out + k] * inv;
        if (ui <= us) {
            double x1, x2, dw, dt;
            dg_exps(L, wide, i, k, ui, rf, e1, e2, ed1, ed2, &x1, &x2);
            dg_grads(L, k1, k2, w[i * L->out + k], ui, x1, x2, us, &dw, &dt);
            maxdw = dg_max(maxdw, fabs(dw * L->tau * dk));
            dt *= dk;
            check += dw * 0 + dt * 0;
        }
    }
    if (check != 0 || dg_isinf(maxdw) || dg_isnan(maxdw)) return st;
    st.act = 1;
    st.clip = L->maxdwnorm > 0 && maxdw > L->maxdwnorm;
    st.k1 = k1; st.k2 = k2; st.dk = dk; st.us = us; st.rf = rf;
    return st;
}

/*
 * Backward, phase 2 (one thread per (sample, input)): the error propagated
 * to input i, summed over the layer's neurons in order (no atomics).
 */
DG_HD double dg_back_input(const dg_layer *L, const double *u, const double *e1, const double *e2, int wide,
                           const double *ed1, const double *ed2, const double *w, const double *d,
                           const dg_nstate *st, int i) {
    double inv = 1 / L->tau;
    double g = 0;
    for (int k = 0; k < L->out; k++) {
        const dg_nstate *s = &st[k];
        if (!s->act) continue;
        double ui = u[i];
        if (L->delay == DG_SYNAPTIC) ui += d[i * L->out + k] * inv;
        if (!(ui <= s->us)) continue;
        double x1, x2, dw, dt;
        dg_exps(L, wide, i, k, ui, s->rf, e1, e2, ed1, ed2, &x1, &x2);
        dg_grads(L, s->k1, s->k2, w[i * L->out + k], ui, x1, x2, s->us, &dw, &dt);
        g += dt * s->dk;
    }
    return g;
}

/*
 * Backward, phase 3 (one thread per weight (i, k)): dL/dw_ik summed over
 * the batch in sample order, and for synaptic delays dL/dd_ik. u, e1, e2
 * are B x Rows; ref/wide per sample; st is B x Out.
 */
DG_HD void dg_back_weight(const dg_layer *L, int B, const double *u, const double *e1, const double *e2,
                          const int *wide, const double *ed1, const double *ed2, const double *w, const double *d,
                          const dg_nstate *st, int i, int k, double *dW, double *dD) {
    double inv = 1 / L->tau;
    int syn = L->delay == DG_SYNAPTIC && i < L->in;
    double gw = 0, gd = 0;
    for (long long s = 0; s < B; s++) {
        double ui = u[s * L->rows + i];
        if (!(ui < DG_INF)) continue;
        const dg_nstate *n = &st[s * L->out + k];
        if (!n->act) continue;
        if (syn) ui += d[i * L->out + k] * inv;
        if (!(ui <= n->us)) continue;
        double x1, x2, dw, dt;
        dg_exps(L, wide[s], i, k, ui, n->rf, e1 + s * L->rows, e2 + s * L->rows, ed1, ed2, &x1, &x2);
        dg_grads(L, n->k1, n->k2, w[i * L->out + k], ui, x1, x2, n->us, &dw, &dt);
        if (!n->clip) gw += dw * L->tau * n->dk;
        if (syn) gd += dt * n->dk;
    }
    *dW = gw;
    if (syn) *dD = gd;
}

/*
 * The kernels. Each is written once as a body dg_<name>_body(j, params...)
 * that does the work of thread j; delgrad.cu wraps every body in a
 * __global__ kernel (thread j = blockIdx.x * blockDim.x + threadIdx.x),
 * and kernels/host runs it in a loop over j on the CPU. DG_KERNELS lists
 * every kernel with its parameters; parameters are pointers, long long or
 * double only, because gorgonia.org/cu passes each as one 8-byte word (so
 * a layer's dg_layer lives in device memory and is read through Lp).
 */

/* x (B x F) -> out (B x F*mux), each feature repeated mux times; j < B*F*mux. */
DG_HD void dg_mux_body(long long j, long long B, long long F, long long mux, const double *x, double *out) {
    if (j >= B * F * mux) return;
    out[j] = x[j / mux];
}

/* Forward phase 1: j < B (B*Out for synaptic delays). */
DG_HD void dg_fwd_prepare_body(long long j, const dg_layer *Lp, long long B, const double *in, const double *d,
                               const double *bias, double *su, int *sidx, double *e1, double *te1, double *e2,
                               double *ref, double *shift, int *cnt) {
    dg_layer L = *Lp;
    long long per = L.delay == DG_SYNAPTIC ? L.out : 1;
    if (j >= B * per) return;
    long long s = j / per;
    int k = (int)(j % per);
    long long o = j * L.rows;
    cnt[j] = dg_prepare(&L, in + s * L.in, d, bias, k, su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o);
}

/* Forward phase 2: j < B*Out. */
DG_HD void dg_fwd_spike_body(long long j, const dg_layer *Lp, long long B, const double *su, const int *sidx,
                             const double *e1, const double *te1, const double *e2, const double *ref,
                             const double *shift, const int *cnt, const double *w, const double *d, double *out) {
    dg_layer L = *Lp;
    if (j >= B * L.out) return;
    int k = (int)(j % L.out);
    long long p = L.delay == DG_SYNAPTIC ? j : j / L.out;
    long long o = p * L.rows;
    out[j] = dg_first_spike(&L, cnt[p], su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o, w, d, k);
}

/* Non-finite errors (a missing label spike) carry no gradient; j < n. */
DG_HD void dg_clean_body(long long j, long long n, const double *x, double *out) {
    if (j >= n) return;
    double v = x[j];
    out[j] = dg_finite(v) ? v : 0;
}

/* Synaptic delays: e^{d/tau}, e^{d/(2 tau)}; j < In*Out. */
DG_HD void dg_syn_exps_body(long long j, const dg_layer *Lp, const double *d, double *ed1, double *ed2) {
    dg_layer L = *Lp;
    if (j >= (long long)L.in * L.out) return;
    double v = d[j] / L.tau;
    ed1[j] = exp(v);
    ed2[j] = exp(v / 2);
}

/* Backward phase 0: j < B. */
DG_HD void dg_bwd_prepare_body(long long j, const dg_layer *Lp, long long B, const double *in, const double *d,
                               const double *bias, double dspan, double *u, double *e1, double *e2, double *ref,
                               int *wide) {
    dg_layer L = *Lp;
    if (j >= B) return;
    long long o = j * L.rows;
    dg_back_prepare(&L, in + j * L.in, d, bias, dspan, u + o, e1 + o, e2 + o, ref + j, wide + j);
}

/* Backward phase 1: j < B*Out. */
DG_HD void dg_bwd_neuron_body(long long j, const dg_layer *Lp, long long B, const double *u, const double *e1,
                              const double *e2, const double *ref, const int *wide, const double *ed1,
                              const double *ed2, const double *w, const double *d, const double *out,
                              const double *delta, dg_nstate *st) {
    dg_layer L = *Lp;
    if (j >= B * L.out) return;
    long long s = j / L.out;
    int k = (int)(j % L.out);
    long long o = s * L.rows;
    st[j] = dg_back_neuron(&L, u + o, e1 + o, e2 + o, ref[s], wide[s], ed1, ed2, w, d, out[j], delta[j], k);
}

/* Backward phase 2: the propagated error; j < B*In. */
DG_HD void dg_bwd_input_body(long long j, const dg_layer *Lp, long long B, const double *u, const double *e1,
                             const double *e2, const int *wide, const double *ed1, const double *ed2,
                             const double *w, const double *d, const dg_nstate *st, double *gin) {
    dg_layer L = *Lp;
    if (j >= B * L.in) return;
    long long s = j / L.in;
    int i = (int)(j % L.in);
    long long o = s * L.rows;
    gin[j] = dg_back_input(&L, u + o, e1 + o, e2 + o, wide[s], ed1, ed2, w, d, st + s * L.out, i);
}

/* Backward phase 3: one thread per weight, the batch sum in sample order; j < Rows*Out. */
DG_HD void dg_bwd_weight_body(long long j, const dg_layer *Lp, long long B, const double *u, const double *e1,
                              const double *e2, const int *wide, const double *ed1, const double *ed2,
                              const double *w, const double *d, const dg_nstate *st, double *dW, double *dD) {
    dg_layer L = *Lp;
    if (j >= (long long)L.rows * L.out) return;
    int i = (int)(j / L.out), k = (int)(j % L.out);
    double *dd = (L.delay == DG_SYNAPTIC && i < L.in) ? dD + j : 0;
    dg_back_weight(&L, (int)B, u, e1, e2, wide, ed1, ed2, w, d, st, i, k, dW + j, dd);
}

/* Column sums of a B x N matrix (axonal delay gradients); j < N. */
DG_HD void dg_colsum_body(long long j, long long B, long long N, const double *x, double *out) {
    if (j >= N) return;
    double g = 0;
    for (long long s = 0; s < B; s++) g += x[s * N + j];
    out[j] = g;
}

/* Dendritic delay gradients: column sums of the per-(sample, neuron) errors; j < K. */
DG_HD void dg_dendsum_body(long long j, long long B, long long K, const dg_nstate *st, double *out) {
    if (j >= K) return;
    double g = 0;
    for (long long s = 0; s < B; s++) g += st[s * K + j].dend;
    out[j] = g;
}

/* Input gradients: each feature sums its mux copies; j < B*F. */
DG_HD void dg_unmux_body(long long j, long long B, long long F, long long mux, const double *g, double *out) {
    if (j >= B * F) return;
    double v = 0;
    for (long long r = 0; r < mux; r++) v += g[j * mux + r];
    out[j] = v;
}

/* Clip flags of a layer's (sample, neuron) pairs, 1 or 0 per pair (summed on
 * the host side of the launcher); j < n. */
DG_HD void dg_clip_flags_body(long long j, long long n, const dg_nstate *st, int *flags) {
    if (j >= n) return;
    flags[j] = st[j].clip;
}

/* ---- The training step on the device (kernels/engine.go, Stepper). ---- */

/* Go's math.Min/Max/Round semantics (a NaN wins), so results match the trainer. */
DG_HD double dg_gomin(double a, double b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }

/* Network weights from the master weights (rounded straight-through); j < n. */
DG_HD void dg_sync_w_body(long long j, long long n, double step, const double *W, double *Wn) {
    if (j >= n) return;
    Wn[j] = step > 0 ? round(W[j] / step) * step : W[j];
}

/* Delays from their parameters: sigmoid (kind 0) or the parameter itself; j < n. */
DG_HD void dg_sync_d_body(long long j, long long n, long long kind, double shift, double scale, const double *theta,
                          double *d) {
    if (j >= n) return;
    d[j] = kind == 0 ? shift + scale * (1 / (1 + exp(-theta[j]))) : theta[j];
}

/* Silent (sample, neuron) pairs per neuron of a layer, and whether any; j < K. */
DG_HD void dg_silent_body(long long j, long long B, long long K, const double *t, double *count, int *any) {
    if (j >= K) return;
    double c = 0;
    for (long long s = 0; s < B; s++) {
        double v = t[s * K + j];
        if (v != v || v == DG_INF) c += 1;
    }
    count[j] = c;
    any[j] = c > 0;
}

/* Loss of sample j (kind 0: shift-invariant MSE with D = p1; 1: TTFS with
 * xi tau = p1, alpha = p2, beta tau = p3), its gradient times inv into dOut,
 * and whether the earliest output spike is the label (trainer/loss.go,
 * batch.Predict); j < B. */
DG_HD void dg_loss_body(long long j, long long B, long long K, long long kind, double p1, double p2, double p3,
                        double inv, const double *t, const int *labels, double *dOut, double *loss, double *correct) {
    if (j >= B) return;
    const double *tr = t + j * K;
    double *g = dOut + j * K;
    int y = labels[j];
    double ty = tr[y], l = 0;
    if (kind == 0) {
        double gy = 0;
        for (long long k = 0; k < K; k++) {
            if (k == y) { g[k] = 0; continue; }
            double r = tr[k] - ty - p1;
            l += 0.5 * r * r;
            g[k] = r;
            gy -= r;
        }
        g[y] = gy;
    } else {
        double lo = DG_INF, sum = 0;
        for (long long k = 0; k < K; k++) lo = dg_gomin(lo, tr[k]);
        for (long long k = 0; k < K; k++) { double e = exp(-(tr[k] - lo) / p1); g[k] = e; sum += e; }
        l = -lo / p1 + log(sum) + ty / p1;
        for (long long k = 0; k < K; k++) g[k] = -g[k] / sum / p1;
        double reg = p2 * exp(ty / p3);
        l += reg;
        g[y] += 1 / p1 + reg / p3;
    }
    if (!dg_finite(l) || !dg_finite(ty)) {
        for (long long k = 0; k < K; k++) g[k] = 0;
        l = 100;
    }
    for (long long k = 0; k < K; k++) g[k] *= inv;
    loss[j] = l;
    double best = DG_INF;
    int arg = -1;
    for (long long k = 0; k < K; k++) if (tr[k] < best) { best = tr[k]; arg = (int)k; }
    correct[j] = arg == y;
}

/* Weight bump: every weight (targeted == 0) or those of neurons with a
 * silent pair (any[k]); j < rows*K. */
DG_HD void dg_bump_body(long long j, long long n, long long K, double value, long long targeted, const int *any,
                        double *W) {
    if (j >= n) return;
    if (!targeted || any[j % K]) W[j] += value;
}

/* Gradient of a delay parameter: dL/dd * dd/dtheta (kind 0: sigmoid); j < n. */
DG_HD void dg_theta_grad_body(long long j, long long n, long long kind, double scale, const double *theta,
                              const double *dD, double *gT) {
    if (j >= n) return;
    double dd = 1;
    if (kind == 0) { double s = 1 / (1 + exp(-theta[j])); dd = scale * s * (1 - s); }
    gT[j] = 0 + dD[j] * dd;
}

/* PyTorch's Adam (trainer/optim.go): step = lr / bias correction 1,
 * sq2 = sqrt(bias correction 2); j < n. */
DG_HD void dg_adam_body(long long j, long long n, double b1, double b2, double eps, double step, double sq2,
                        const double *g, double *m, double *v, double *p) {
    if (j >= n) return;
    double gi = g[j];
    m[j] = b1 * m[j] + (1 - b1) * gi;
    v[j] = b2 * v[j] + (1 - b2) * gi * gi;
    p[j] -= step * m[j] / (sqrt(v[j]) / sq2 + eps);
}

/* Clip positivity: theta = max(theta, 0), a NaN stays; j < n. */
DG_HD void dg_relu_body(long long j, long long n, double *theta) {
    if (j >= n) return;
    double v = theta[j];
    theta[j] = (v != v || v > 0) ? v : 0;
}

/* Weight clipping to [-c, c], a NaN stays; j < n. */
DG_HD void dg_clamp_body(long long j, long long n, double c, double *W) {
    if (j >= n) return;
    double v = W[j];
    W[j] = v != v ? v : (v > c ? c : (v < -c ? -c : v));
}

/* Column sums of a B x K int matrix into doubles; j < K. */
DG_HD void dg_icolsum_body(long long j, long long B, long long K, const int *x, double *out) {
    if (j >= K) return;
    double c = 0;
    for (long long s = 0; s < B; s++) c += x[s * K + j];
    out[j] = c;
}

#define DG_UNPAREN(...) __VA_ARGS__
/* X(name, (parameters), (argument names)) for every kernel. */
#define DG_KERNELS(X) \
    X(dg_mux, (long long B, long long F, long long mux, const double *x, double *out), (B, F, mux, x, out)) \
    X(dg_fwd_prepare, (const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias, \
                       double *su, int *sidx, double *e1, double *te1, double *e2, double *ref, double *shift, int *cnt), \
      (Lp, B, in, d, bias, su, sidx, e1, te1, e2, ref, shift, cnt)) \
    X(dg_fwd_spike, (const dg_layer *Lp, long long B, const double *su, const int *sidx, const double *e1, \
                     const double *te1, const double *e2, const double *ref, const double *shift, const int *cnt, \
                     const double *w, const double *d, double *out), \
      (Lp, B, su, sidx, e1, te1, e2, ref, shift, cnt, w, d, out)) \
    X(dg_clean, (long long n, const double *x, double *out), (n, x, out)) \
    X(dg_syn_exps, (const dg_layer *Lp, const double *d, double *ed1, double *ed2), (Lp, d, ed1, ed2)) \
    X(dg_bwd_prepare, (const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias, \
                       double dspan, double *u, double *e1, double *e2, double *ref, int *wide), \
      (Lp, B, in, d, bias, dspan, u, e1, e2, ref, wide)) \
    X(dg_bwd_neuron, (const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2, \
                      const double *ref, const int *wide, const double *ed1, const double *ed2, const double *w, \
                      const double *d, const double *out, const double *delta, dg_nstate *st), \
      (Lp, B, u, e1, e2, ref, wide, ed1, ed2, w, d, out, delta, st)) \
    X(dg_bwd_input, (const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2, \
                     const int *wide, const double *ed1, const double *ed2, const double *w, const double *d, \
                     const dg_nstate *st, double *gin), \
      (Lp, B, u, e1, e2, wide, ed1, ed2, w, d, st, gin)) \
    X(dg_bwd_weight, (const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2, \
                      const int *wide, const double *ed1, const double *ed2, const double *w, const double *d, \
                      const dg_nstate *st, double *dW, double *dD), \
      (Lp, B, u, e1, e2, wide, ed1, ed2, w, d, st, dW, dD)) \
    X(dg_colsum, (long long B, long long N, const double *x, double *out), (B, N, x, out)) \
    X(dg_dendsum, (long long B, long long K, const dg_nstate *st, double *out), (B, K, st, out)) \
    X(dg_unmux, (long long B, long long F, long long mux, const double *g, double *out), (B, F, mux, g, out)) \
    X(dg_clip_flags, (long long n, const dg_nstate *st, int *flags), (n, st, flags)) \
    X(dg_sync_w, (long long n, double step, const double *W, double *Wn), (n, step, W, Wn)) \
    X(dg_sync_d, (long long n, long long kind, double shift, double scale, const double *theta, double *d), \
      (n, kind, shift, scale, theta, d)) \
    X(dg_silent, (long long B, long long K, const double *t, double *count, int *any), (B, K, t, count, any)) \
    X(dg_loss, (long long B, long long K, long long kind, double p1, double p2, double p3, double inv, \
                const double *t, const int *labels, double *dOut, double *loss, double *correct), \
      (B, K, kind, p1, p2, p3, inv, t, labels, dOut, loss, correct)) \
    X(dg_bump, (long long n, long long K, double value, long long targeted, const int *any, double *W), \
      (n, K, value, targeted, any, W)) \
    X(dg_theta_grad, (long long n, long long kind, double scale, const double *theta, const double *dD, double *gT), \
      (n, kind, scale, theta, dD, gT)) \
    X(dg_adam, (long long n, double b1, double b2, double eps, double step, double sq2, const double *g, double *m, \
                double *v, double *p), (n, b1, b2, eps, step, sq2, g, m, v, p)) \
    X(dg_relu, (long long n, double *theta), (n, theta)) \
    X(dg_clamp, (long long n, double c, double *W), (n, c, W)) \
    X(dg_icolsum, (long long B, long long K, const int *x, double *out), (B, K, x, out))

#endif /* DELGRAD_CUH */
