/*
 * delgrad.cuh: the per-thread math of the DelGrad engine, written once for
 * the CUDA kernels (delgrad.cu) and for the host (compiled by gcc through
 * cgo in package kernels/host and tested there against the Go engine of
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

/* One layer's constants, shared by every thread. A population of nmem
 * members (networks of one shape, each on its own B/nmem samples) has an
 * array of nmem of them (the members' neuron constants may differ; the
 * shape fields are the same), lays out its samples member after member,
 * and each member's weights, delays, bias times and synaptic exponentials
 * after the previous member's (dg_member, dg_mw, dg_md, dg_mb, dg_med);
 * nmem = 1 is a single network. */
typedef struct {
    int in, out, rows, nbias, delay, regime;
    int nmem, pad_;    /* population members; padding */
    double tau;        /* tau_s */
    double c;          /* g_leak (theta - E_l) */
    double eps;        /* the reference's regulariser, or 0 */
    double maxdwnorm;  /* 0: off */
} dg_layer;

DG_HD int dg_isinf(double x) { return x == DG_INF || x == -DG_INF; }
DG_HD int dg_isnan(double x) { return x != x; }
DG_HD int dg_finite(double x) { return !dg_isnan(x) && !dg_isinf(x); }
DG_HD double dg_max(double a, double b) { return a > b ? a : b; }

/* *p += v, atomically on the device (the CPU emulation runs one thread at a
 * time). Only for counts: whole numbers add up exactly in any order. */
DG_HD void dg_count(double *p, double v) {
#if defined(__CUDA_ARCH__)
    atomicAdd(p, v);
#else
    *p += v;
#endif
}
DG_HD double dg_min(double a, double b) { return a < b ? a : b; }

/*
 * e^x and ln x as package internal/xmath computes them (fdlibm's
 * algorithms, IEEE additions, multiplications and divisions only), so that
 * the kernels, this file compiled for the host and the Go engine round
 * alike, bit for bit. The library exp and log of CUDA, glibc and Go each
 * round some arguments differently.
 */
DG_HD double dg_from_bits(unsigned long long b) { union { unsigned long long u; double d; } v; v.u = b; return v.d; }
DG_HD unsigned long long dg_bits(double x) { union { unsigned long long u; double d; } v; v.d = x; return v.u; }
DG_HD double dg_pow2(int k) { return dg_from_bits((unsigned long long)(k + 1023) << 52); }
DG_HD double dg_scale(double y, int k) {
    if (k > -1020 && k < 1020) return y * dg_pow2(k);
    int k1 = k / 2;
    return y * dg_pow2(k1) * dg_pow2(k - k1);
}

DG_HD double dg_exp(double x) {
    if (x != x) return x;
    if (x > 7.09782712893383973096e+02) return DG_INF;
    if (x < -7.45133219101941108420e+02) return 0;
    if (x > -3.725290298461914e-09 && x < 3.725290298461914e-09) return 1 + x;
    double h = x < 0 ? -0.5 : 0.5;
    int k = (int)(x * 1.44269504088896338700e+00 + h);
    double kf = (double)k;
    double hi = x - kf * 6.93147180369123816490e-01;
    double lo = kf * 1.90821492927058770002e-10;
    double r = hi - lo;
    double t = r * r;
    double c = r - t * (1.66666666666666657415e-01 + t * (-2.77777777770155933842e-03 + t * (6.61375632143793436117e-05 +
                   t * (-1.65339022054652515390e-06 + t * 4.13813679705723846039e-08))));
    double y = 1 - ((lo - (r * c) / (2 - c)) - hi);
    return dg_scale(y, k);
}

DG_HD double dg_log(double x) {
    if (x != x || x == DG_INF) return x;
    if (x < 0) return nan("");
    if (x == 0) return -DG_INF;
    int ki = 0;
    if (x < 2.2250738585072014e-308) { x *= 1.80143985094819840000e+16; ki = -54; }
    unsigned long long b = dg_bits(x);
    ki += (int)(b >> 52) - 1022;
    double f1 = dg_from_bits((b & ~(0x7ffULL << 52)) | (1022ULL << 52));
    if (f1 < 0.70710678118654752440) { f1 *= 2; ki--; }
    double f = f1 - 1;
    double k = (double)ki;
    double s = f / (2 + f);
    double s2 = s * s, s4 = s2 * s2;
    double t1 = s2 * (6.666666666666735130e-01 + s4 * (2.857142874366239149e-01 + s4 * (1.818357216161805012e-01 +
                 s4 * 1.479819860511658591e-01)));
    double t2 = s4 * (3.999999999940941908e-01 + s4 * (2.222219843214978396e-01 + s4 * 1.531383769920937332e-01));
    double R = t1 + t2;
    double hfsq = 0.5 * f * f;
    return k * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + k * 1.90821492927058770002e-10)) - f);
}

/* e^x - 1 as xmath.Expm1 computes it (fdlibm's expm1: accurate where x is
 * near 0, where dg_exp(x) - 1 cancels). */
DG_HD double dg_addexp(double y, int k) { return dg_from_bits(dg_bits(y) + ((unsigned long long)(long long)k << 52)); }

DG_HD double dg_expm1(double x) {
    if (x != x || x == DG_INF) return x;
    if (x == -DG_INF) return -1;
    double absx = x < 0 ? -x : x;
    int neg = x < 0;
    if (absx >= 3.88162421113569373274e+01) {
        if (neg) return -1;
        if (x > 7.09782712893383973096e+02) return DG_INF;
    }
    double c = 0;
    int k = 0;
    if (absx > 3.46573590279972654709e-01) {
        double hi, lo;
        if (absx < 1.03972077083991796413e+00 && !neg) {
            hi = x - 6.93147180369123816490e-01; lo = 1.90821492927058770002e-10; k = 1;
        } else if (absx < 1.03972077083991796413e+00) {
            hi = x + 6.93147180369123816490e-01; lo = -1.90821492927058770002e-10; k = -1;
        } else {
            double h = neg ? -0.5 : 0.5;
            k = (int)(x * 1.44269504088896338700e+00 + h);
            double t = (double)k;
            hi = x - t * 6.93147180369123816490e-01;
            lo = t * 1.90821492927058770002e-10;
        }
        x = hi - lo;
        c = (hi - x) - lo;
    } else if (absx < 5.551115123125783e-17) { /* 2^-54 */
        return x;
    }
    double hfx = 0.5 * x;
    double hxs = x * hfx;
    double r1 = 1 + hxs * (-3.33333333333331316428e-02 + hxs * (1.58730158725481460165e-03 +
                hxs * (-7.93650757867487942473e-05 + hxs * (4.00821782732936239552e-06 +
                hxs * -2.01099218183624371326e-07))));
    double t = 3 - r1 * hfx;
    double e = hxs * ((r1 - t) / (6 - x * t));
    if (k == 0) return x - (x * e - hxs);
    e = x * (e - c) - c;
    e -= hxs;
    if (k == -1) return 0.5 * (x - e) - 0.5;
    if (k == 1) {
        if (x < -0.25) return -2 * (e - (x + 0.5));
        return 1 + 2 * (x - e);
    }
    if (k <= -2 || k > 56) {
        double y = 1 - (e - x);
        if (k == 1024) y = y * 2 * dg_pow2(1023);
        else y = dg_addexp(y, k);
        return y - 1;
    }
    if (k < 20) {
        double t1 = dg_from_bits(0x3ff0000000000000ULL - (0x20000000000000ULL >> k)); /* 1 - 2^-k */
        return dg_addexp(t1 - (e - x), k);
    }
    t = dg_from_bits((unsigned long long)(0x3ff - k) << 52); /* 2^-k */
    double y = x - (e + t);
    y += 1;
    return dg_addexp(y, k);
}

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
        double l1 = dg_log(x), l2 = dg_log(l1);
        w = l1 - l2 + l2 / l1;
    }
    double prev = DG_INF;
    for (int i = 0; i < 32; i++) {
        double ew = dg_exp(w);
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
 * Forward, phase 1: the finite effective inputs of the neurons sorted by
 * (time, index), with the exponentials of the closed forms relative to a
 * reference time that rebases past DG_REBASE_SPAN. A "group" is a sample,
 * or a (sample, neuron) pair for synaptic delays (k is ignored otherwise);
 * its scratch arrays hold Rows entries.
 */

/* The scaled effective time of row r of a group (+Inf: no input spike). */
DG_HD double dg_key(const dg_layer *L, const double *in_s, const double *d, const double *bias, int k, int r) {
    double inv = 1 / L->tau;
    if (r >= L->in) return bias[r - L->in] * inv;
    double t = in_s[r];
    if (L->delay == DG_AXONAL) t += d[r];
    if (L->delay == DG_SYNAPTIC) return (t + d[(long long)r * L->out + k]) * inv;
    return t * inv;
}

/* Row r's place in its group's sorted inputs (-1: not finite), and, for
 * r == 0, the group's number of finite inputs; one thread per row, so the
 * sort runs in parallel (a rank by counting; ties go by row index, as a
 * stable sort orders them). */
/* Counts, over rows q0, q0+step, ..., the finite rows (n) and those that
 * sort before row r of time u (rank). */
DG_HD void dg_rank_count(const dg_layer *L, const double *in_s, const double *d, const double *bias, int k, int r,
                         double u, int q0, int step, int *rank, int *n) {
    for (int q = q0; q < L->rows; q += step) {
        double v = dg_key(L, in_s, d, bias, k, q);
        if (q < L->in && !(v < DG_INF)) continue;
        (*n)++;
        if (v < u || (v == u && q < r)) (*rank)++;
    }
}

DG_HD void dg_rank(const dg_layer *L, const double *in_s, const double *d, const double *bias, int k, int r,
                   double *su, int *sidx, int *cnt) {
    /* Bias rows always count, as the Go engine appends them unchecked. */
    double u = dg_key(L, in_s, d, bias, k, r);
    int finite = r >= L->in || u < DG_INF;
    if (!finite && r != 0) return;
    int rank = 0, n = 0;
    dg_rank_count(L, in_s, d, bias, k, r, u, 0, 1, &rank, &n);
    if (finite) { su[rank] = u; sidx[rank] = r; }
    if (r == 0) *cnt = n;
}

/* The same by the 32 lanes of a warp (lane: this thread's): lane l counts
 * rows l, l+32, ..., and the counts are summed by shuffles (whole numbers:
 * the same in any order). The CPU emulation runs the lanes in lane 0. */
DG_HD void dg_rank_warp(const dg_layer *L, const double *in_s, const double *d, const double *bias, int k, int r,
                        double *su, int *sidx, int *cnt, int lane) {
    double u = dg_key(L, in_s, d, bias, k, r);
    int finite = r >= L->in || u < DG_INF;
    if (!finite && r != 0) return; /* the whole warp: it has one row */
    int rank = 0, n = 0;
#if defined(__CUDA_ARCH__)
    dg_rank_count(L, in_s, d, bias, k, r, u, lane, 32, &rank, &n);
    for (int off = 16; off > 0; off /= 2) {
        rank += __shfl_xor_sync(0xffffffffu, rank, off);
        n += __shfl_xor_sync(0xffffffffu, n, off);
    }
#else
    for (int l = 0; l < 32; l++) dg_rank_count(L, in_s, d, bias, k, r, u, l, 32, &rank, &n);
#endif
    if (lane != 0) return;
    if (finite) { su[rank] = u; sidx[rank] = r; }
    if (r == 0) *cnt = n;
}

/* The exponentials of sorted entry m of a group of n entries: when the
 * group spans no more than DG_REBASE_SPAN every entry is independent;
 * otherwise the thread of entry 0 rebases the whole group in order. */
DG_HD void dg_fwd_exps(int n, int m, const double *su, double *e1, double *te1, double *e2, double *ref,
                       double *shift) {
    if (m >= n) return;
    if (su[n - 1] - su[0] <= DG_REBASE_SPAN) {
        double dd = su[m] - su[0];
        double e = dg_exp(dd);
        shift[m] = 0; e1[m] = e; te1[m] = dd * e; e2[m] = dg_exp(dd / 2); ref[m] = su[0];
        return;
    }
    if (m != 0) return;
    double r = su[0];
    for (int q = 0; q < n; q++) {
        shift[q] = 0;
        if (su[q] - r > DG_REBASE_SPAN) { shift[q] = su[q] - r; r = su[q]; }
        double dd = su[q] - r;
        double e = dg_exp(dd);
        e1[q] = e; te1[q] = dd * e; e2[q] = dg_exp(dd / 2); ref[q] = r;
    }
}

/* The running sums of the spike search over a group's sorted inputs:
 * a1 = sum w e^u, b = sum w u e^u (tau_m = tau_s) and a2 = sum w e^{u/2}
 * (tau_m = 2 tau_s), each relative to the current reference time. */
typedef struct {
    double a1, b, a2;
} dg_psum;

/* What sorted input m adds to the sums: its weight times its exponentials
 * (p1 to a1, p2 to b or a2), after rebasing them by sh where the input
 * starts a new reference time (sh != 0). */
typedef struct {
    double p1, p2, sh;
} dg_term;

/* The sums before the first input: the reference's eps, or zero. */
DG_HD dg_psum dg_psum_init(const dg_layer *L, double r0) {
    dg_psum s = {0, 0, 0};
    if (L->eps != 0) {
        double e = L->eps * dg_exp(-r0);
        s.a1 = e; s.b = e * (1 - r0); s.a2 = L->eps * dg_exp(-r0 / 2);
    }
    return s;
}

DG_HD dg_term dg_term_of(double wm, double e1m, double x, double sh) {
    dg_term v = {wm * e1m, wm * x, sh};
    return v;
}

/* Sorted input m's term (x is te1 for tau_m = tau_s, e2 otherwise). */
DG_HD dg_term dg_term_at(const dg_layer *L, int eq, int m, const int *sidx, const double *e1, const double *te1,
                         const double *e2, const double *shift, const double *w, int k) {
    return dg_term_of(w[(long long)sidx[m] * L->out + k], e1[m], eq ? te1[m] : e2[m], shift[m]);
}

/* Adds one input's term to the sums; the terms must come in sorted order,
 * as every addition rounds. */
DG_HD void dg_psum_add(int eq, dg_psum *s, const dg_term *v) {
    if (v->sh != 0) {
        double f = dg_exp(-v->sh);
        s->b = f * (s->b - v->sh * s->a1);
        s->a1 *= f;
        s->a2 *= dg_exp(-v->sh / 2);
    }
    s->a1 += v->p1;
    if (eq) s->b += v->p2;
    else s->a2 += v->p2;
}

/* Whether the sums s over the inputs up to one at lo make the neuron spike
 * before the next input (at hi; more: there is one, with rebase shn and
 * exponential e1n); if so, *u is the spike's scaled time. rf is the
 * reference time of s. */
DG_HD int dg_spike_try(const dg_layer *L, int eq, const dg_psum *s, double rf, double lo, double hi, int more,
                       double shn, double e1n, double *u) {
    double a1 = s->a1;
    if (!(a1 > 0)) return 0;
    double t;
    if (eq) {
        double b = s->b, r = b / a1;
        if (rf + r + 1 < lo || rf + r > hi) return 0;
        if (more && shn == 0 && rf + r + 1 > hi && a1 * (hi - rf) - b < L->c * e1n * (1 - 1e-9)) return 0;
        double z = -L->c / a1 * dg_exp(r);
        if (!(z >= -DG_INV_E)) return 0;
        t = rf + r - dg_lambertw0(z);
    } else {
        double a2 = s->a2;
        double disc = a2 * a2 - 4 * a1 * L->c;
        if (!(disc >= 0)) return 0;
        double arg = 2 * a1 / (a2 + sqrt(disc));
        if (!(arg > 0)) return 0;
        t = rf + 2 * dg_log(arg);
    }
    if (!(t >= lo && t <= hi)) return 0;
    *u = t;
    return 1;
}

/* dg_spike_try for sorted input m of n, s the sums up to it. */
DG_HD int dg_spike_at(const dg_layer *L, int eq, int n, int m, const double *su, const double *e1,
                      const double *ref, const double *shift, const dg_psum *s, double *u) {
    int more = m + 1 < n;
    return dg_spike_try(L, eq, s, ref[m], su[m], more ? su[m + 1] : DG_INF, more, more ? shift[m + 1] : 0,
                        more ? e1[m + 1] : 0, u);
}

/* Unscaled time, dendritic delay included. */
DG_HD double dg_spike_out(const dg_layer *L, const double *d, int k, double t) {
    t = L->tau * t;
    if (L->delay == DG_DENDRITIC) t += d[k];
    return t;
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
        dg_psum s = dg_psum_init(L, ref[0]);
        /* The next input's weight, time, shift and exponential are loaded
         * an iteration ahead (its index two ahead), and every other load
         * of an iteration comes before its first branch, so that the loads
         * overlap the arithmetic instead of waiting on each other. */
        int eq = L->regime == DG_EQUALTAU;
        int inext = n > 1 ? sidx[1] : 0;
        double wnext = w[(long long)sidx[0] * L->out + k];
        double lo = su[0], sh = shift[0], e1m = e1[0];
        double hi, shn, e1n;
        for (int m = 0; m < n; m++, lo = hi, sh = shn, e1m = e1n) {
            double wm = wnext;
            hi = DG_INF; shn = 0; e1n = 0;
            if (m + 1 < n) {
                wnext = w[(long long)inext * L->out + k];
                if (m + 2 < n) inext = sidx[m + 2];
                hi = su[m + 1]; shn = shift[m + 1]; e1n = e1[m + 1];
            }
            dg_term v = dg_term_of(wm, e1m, eq ? te1[m] : e2[m], sh);
            dg_psum_add(eq, &s, &v);
            double u;
            if (dg_spike_try(L, eq, &s, ref[m], lo, hi, m + 1 < n, shn, e1n, &u)) { t = u; break; }
        }
    }
    return dg_spike_out(L, d, k, t);
}

#define DG_WARP 32

/*
 * The same search by the 32 lanes of a warp (lane: this thread's), for
 * layers with long input lists and batches too small to fill the device
 * one thread per (sample, neuron): each round, lane i computes the term of
 * input base+i, lane i adds the round's terms up to its own in order (the
 * same additions as dg_first_spike, so the same sums, bit for bit), and
 * tries the interval after input base+i; the earliest lane that finds a
 * spike gives it, else the round's full sums go on to the next. The CPU
 * emulation runs the whole warp in lane 0, the lanes one after the other.
 */
DG_HD double dg_first_spike_warp(const dg_layer *L, int n, const double *su, const int *sidx, const double *e1,
                                 const double *te1, const double *e2, const double *ref, const double *shift,
                                 const double *w, const double *d, int k, int lane) {
    double t = DG_INF;
    if (n > 0) {
        int eq = L->regime == DG_EQUALTAU;
        dg_psum s = dg_psum_init(L, ref[0]);
        for (int base = 0; base < n; base += DG_WARP) {
            int c = n - base < DG_WARP ? n - base : DG_WARP;
#if defined(__CUDA_ARCH__)
            const unsigned all = 0xffffffffu;
            int m = base + lane;
            dg_term v = {0, 0, 0};
            if (m < n) v = dg_term_at(L, eq, m, sidx, e1, te1, e2, shift, w, k);
            /* Rebases are rare: one ballot says which of the round's inputs have one. */
            unsigned rb = __ballot_sync(all, v.sh != 0);
            for (int i = 0; i < c; i++) {
                dg_term vi = {__shfl_sync(all, v.p1, i), __shfl_sync(all, v.p2, i), 0};
                if (rb >> i & 1) vi.sh = __shfl_sync(all, v.sh, i);
                /* Each lane stops at its own input; lanes past the last (lane 31
                 * among them) add the whole round. */
                if (i <= lane) dg_psum_add(eq, &s, &vi);
            }
            double u = 0;
            int ok = m < n && dg_spike_at(L, eq, n, m, su, e1, ref, shift, &s, &u);
            unsigned hit = __ballot_sync(all, ok);
            if (hit) { t = __shfl_sync(all, u, __ffs(hit) - 1); break; }
            /* The next round starts from the whole round's sums. */
            s.a1 = __shfl_sync(all, s.a1, DG_WARP - 1);
            s.b = __shfl_sync(all, s.b, DG_WARP - 1);
            s.a2 = __shfl_sync(all, s.a2, DG_WARP - 1);
#else
            dg_term v[DG_WARP];
            dg_psum mine[DG_WARP];
            (void)lane;
            for (int i = 0; i < c; i++) v[i] = dg_term_at(L, eq, base + i, sidx, e1, te1, e2, shift, w, k);
            for (int i = 0; i < c; i++) { dg_psum_add(eq, &s, &v[i]); mine[i] = s; }
            int hit = 0;
            for (int i = 0; i < c && !hit; i++) {
                double u;
                if (dg_spike_at(L, eq, n, base + i, su, e1, ref, shift, &mine[i], &u)) { t = u; hit = 1; }
            }
            if (hit) break;
#endif
        }
    }
    return dg_spike_out(L, d, k, t);
}

/*
 * Backward, phase 0: the scaled effective times u of every row (bias rows
 * included; synaptic delays are added per neuron later), the sample's
 * reference time (its earliest input), whether the sample is "wide"
 * (exponentials then go against each neuron's own output time) and, if
 * not, the exponentials e^{u-ref} and e^{(u-ref)/2}. dspan is max |d|/tau
 * over synaptic delays (0 otherwise). dg_back_range runs once per sample,
 * dg_back_row once per (sample, row) after it.
 */
DG_HD double dg_back_u(const dg_layer *L, const double *in_s, const double *d, const double *bias, int i) {
    double inv = 1 / L->tau;
    double t;
    if (i < L->in) {
        t = in_s[i];
        if (L->delay == DG_AXONAL) t += d[i];
    } else {
        t = bias[i - L->in];
    }
    return t * inv;
}

DG_HD void dg_back_range(const dg_layer *L, const double *in_s, const double *d, const double *bias, double dspan,
                         double *ref, int *wide) {
    double umin = DG_INF, umax = -DG_INF;
    for (int i = 0; i < L->rows; i++) {
        double u = dg_back_u(L, in_s, d, bias, i);
        if (u < DG_INF) { umin = dg_min(umin, u); umax = dg_max(umax, u); }
    }
    *ref = umin;
    *wide = umax - umin + dspan > DG_WIDE_SPAN;
}

DG_HD void dg_back_row(const dg_layer *L, const double *in_s, const double *d, const double *bias, double ref,
                       int wide, int i, double *u, double *e1, double *e2) {
    double ui = dg_back_u(L, in_s, d, bias, i);
    *u = ui;
    /* A wide sample's exponentials go against each neuron's own time and
     * are not stored; 0 keeps the entries defined for loads made ahead. */
    *e1 = 0; *e2 = 0;
    if (!wide) { *e1 = dg_exp(ui - ref); *e2 = dg_exp((ui - ref) / 2); }
}

/* The exponentials of a row for a neuron (batch's layerBuf.exps) from
 * values loaded beforehand (e1v, e2v: the row's entries of e1 and e2;
 * ed1v, ed2v: e^{d/tau}, e^{d/(2 tau)} of the synaptic delay, when syn),
 * so that a loop can issue all of an iteration's loads before its first
 * branch. */
DG_HD void dg_exps_v(int wide, int syn, double ui, double rf, double e1v, double e2v, double ed1v, double ed2v,
                     double *x1, double *x2) {
    if (wide) { *x1 = dg_exp(ui - rf); *x2 = dg_exp((ui - rf) / 2); return; }
    if (syn) { *x1 = e1v * ed1v; *x2 = e2v * ed2v; return; }
    *x1 = e1v; *x2 = e2v;
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

/* Row i of neuron k in the backward pass: its scaled effective time *ui
 * (synaptic delay added) and whether it is causal (ui <= us). */
DG_HD int dg_bcausal(const dg_layer *L, const double *u, const double *d, int k, int i, double us, double *ui) {
    double v = u[i];
    if (L->delay == DG_SYNAPTIC && i < L->in) v += d[(long long)i * L->out + k] * (1 / L->tau);
    *ui = v;
    return v <= us;
}

/* Causal row i's exponentials (relative to rf) and weight. */
DG_HD void dg_brow(const dg_layer *L, const double *e1, const double *e2, double rf, int wide, const double *ed1,
                   const double *ed2, const double *w, int k, int i, double ui, double *x1, double *x2,
                   double *wi) {
    int sy = L->delay == DG_SYNAPTIC && i < L->in;
    long long ik = (long long)i * L->out + k;
    dg_exps_v(wide, sy, ui, rf, e1[i], e2[i], sy ? ed1[ik] : 0, sy ? ed2[ik] : 0, x1, x2);
    *wi = w[ik];
}

/* What causal row i adds to the neuron's sums (a1, b, a2 of a dg_psum). */
DG_HD dg_psum dg_bterm(const dg_layer *L, const double *e1, const double *e2, double rf, int wide,
                       const double *ed1, const double *ed2, const double *w, int k, int i, double ui) {
    double x1, x2, wi;
    dg_brow(L, e1, e2, rf, wide, ed1, ed2, w, k, i, ui, &x1, &x2, &wi);
    dg_psum v = {wi * x1, wi * (ui - rf) * x1, wi * x2};
    return v;
}

DG_HD void dg_bsum_add(dg_psum *s, const dg_psum *v) {
    s->a1 += v->a1;
    s->b += v->b;
    s->a2 += v->a2;
}

/* The gradient factors k1, k2 of a spike at us from the causal sums;
 * whether both are finite. */
DG_HD int dg_bfactors(const dg_layer *L, const dg_psum *s, double us, double rf, double *k1, double *k2) {
    double a1 = s->a1;
    *k2 = 0;
    if (L->regime == DG_EQUALTAU) {
        double r = s->b / a1;
        double z = -L->c / a1 * dg_exp(r);
        double wl = dg_lambertw0(z);
        *k1 = -1 / (a1 * (1 + wl));
    } else {
        double a2 = s->a2;
        double sq = sqrt(a2 * a2 - 4 * a1 * L->c);
        *k1 = (1 + L->c / sq * dg_exp((us - rf) / 2)) / a1;
        *k2 = 1 / sq;
    }
    return dg_finite(*k1) && dg_finite(*k2);
}

/* Causal row i's |dL/dw| (for max_dw_norm); *bad is set when dw or the
 * error it propagates is not finite. */
DG_HD double dg_bcheck(const dg_layer *L, const double *e1, const double *e2, double rf, int wide, const double *ed1,
                       const double *ed2, const double *w, int k, int i, double ui, double k1, double k2, double us,
                       double dk, int *bad) {
    double x1, x2, wi, dw, dt;
    dg_brow(L, e1, e2, rf, wide, ed1, ed2, w, k, i, ui, &x1, &x2, &wi);
    dg_grads(L, k1, k2, wi, ui, x1, x2, us, &dw, &dt);
    dt *= dk;
    if (dw * 0 + dt * 0 != 0) *bad = 1;
    return fabs(dw * L->tau * dk);
}

/* The state of an active neuron. */
DG_HD dg_nstate dg_bstate(const dg_layer *L, double k1, double k2, double dk, double us, double rf, double maxdw) {
    dg_nstate st = {k1, k2, dk, us, rf, dk, 1, L->maxdwnorm > 0 && maxdw > L->maxdwnorm};
    return st;
}

/* The neuron's scaled output time (dendritic delay removed); whether it has
 * a gradient to compute (a finite spike and a non-zero error). */
DG_HD int dg_bspike(const dg_layer *L, const double *d, double tout, double dk, int k, double *us) {
    if (L->delay == DG_DENDRITIC) tout -= d[k];
    *us = tout * (1 / L->tau);
    return dk != 0 && !dg_isnan(*us) && !dg_isinf(*us);
}

/*
 * Backward, phase 1 (one thread per (sample, neuron)): the gradient factors
 * of neuron k for one sample from its observed output time and the error
 * delta_k (batch's backwardLayer, phase 1, less the propagated error).
 * u, e1, e2 are the sample's rows from dg_back_range and dg_back_row.
 * A neuron whose gradient has a non-finite term is left inactive.
 */
DG_HD dg_nstate dg_back_neuron(const dg_layer *L, const double *u, const double *e1, const double *e2, double ref,
                               int wide, const double *ed1, const double *ed2, const double *w, const double *d,
                               double tout, double dk, int k) {
    dg_nstate st = {0, 0, 0, 0, 0, 0, 0, 0};
    double us;
    if (!dg_bspike(L, d, tout, dk, k, &us)) return st;
    st.dend = dk;
    double rf = wide ? us : ref;
    dg_psum s = dg_psum_init(L, rf);
    /* Rows are loaded only once known to be causal: many rows are not,
     * and loading them all was measured slower (bench/NOTES.md). */
    for (int i = 0; i < L->rows; i++) {
        double ui;
        if (!dg_bcausal(L, u, d, k, i, us, &ui)) continue;
        dg_psum v = dg_bterm(L, e1, e2, rf, wide, ed1, ed2, w, k, i, ui);
        dg_bsum_add(&s, &v);
    }
    double k1, k2;
    if (!dg_bfactors(L, &s, us, rf, &k1, &k2)) return st;
    double maxdw = 0;
    int bad = 0;
    for (int i = 0; i < L->rows; i++) {
        double ui;
        if (dg_bcausal(L, u, d, k, i, us, &ui))
            maxdw = dg_max(maxdw, dg_bcheck(L, e1, e2, rf, wide, ed1, ed2, w, k, i, ui, k1, k2, us, dk, &bad));
    }
    if (bad || dg_isinf(maxdw) || dg_isnan(maxdw)) return st;
    return dg_bstate(L, k1, k2, dk, us, rf, maxdw);
}

/*
 * The same by the 32 lanes of a warp (lane: this thread's), for layers with
 * many inputs at batches too small to fill the device one thread per pair:
 * lane l takes rows base+l; the causal rows' terms are added in row order
 * by every lane (from shuffles, the same additions as dg_back_neuron), and
 * the largest |dL/dw| is the maximum of the lanes' maxima (exact in any
 * order: a NaN among them always comes with a non-finite term, which
 * leaves the neuron inactive either way). The CPU emulation runs the lanes
 * one after another in lane 0, reducing their maxima as the shuffles do.
 */
DG_HD dg_nstate dg_back_neuron_warp(const dg_layer *L, const double *u, const double *e1, const double *e2,
                                    double ref, int wide, const double *ed1, const double *ed2, const double *w,
                                    const double *d, double tout, double dk, int k, int lane) {
    dg_nstate st = {0, 0, 0, 0, 0, 0, 0, 0};
    double us;
    if (!dg_bspike(L, d, tout, dk, k, &us)) return st;
    st.dend = dk;
    double rf = wide ? us : ref;
    dg_psum s = dg_psum_init(L, rf);
    double k1, k2, maxdw = 0;
    int bad = 0;
#if defined(__CUDA_ARCH__)
    const unsigned all = 0xffffffffu;
    for (int base = 0; base < L->rows; base += DG_WARP) {
        int i = base + lane;
        double ui = 0;
        int c = i < L->rows && dg_bcausal(L, u, d, k, i, us, &ui);
        dg_psum v = {0, 0, 0};
        if (c) v = dg_bterm(L, e1, e2, rf, wide, ed1, ed2, w, k, i, ui);
        for (unsigned m = __ballot_sync(all, c); m; m &= m - 1) {
            int l = __ffs(m) - 1;
            dg_psum vl = {__shfl_sync(all, v.a1, l), __shfl_sync(all, v.b, l), __shfl_sync(all, v.a2, l)};
            dg_bsum_add(&s, &vl);
        }
    }
    if (!dg_bfactors(L, &s, us, rf, &k1, &k2)) return st;
    for (int i = lane; i < L->rows; i += DG_WARP) {
        double ui;
        if (dg_bcausal(L, u, d, k, i, us, &ui))
            maxdw = dg_max(maxdw, dg_bcheck(L, e1, e2, rf, wide, ed1, ed2, w, k, i, ui, k1, k2, us, dk, &bad));
    }
    for (int off = DG_WARP / 2; off > 0; off /= 2) maxdw = dg_max(maxdw, __shfl_xor_sync(all, maxdw, off));
    bad = __any_sync(all, bad);
#else
    (void)lane;
    for (int base = 0; base < L->rows; base += DG_WARP) {
        dg_psum v[DG_WARP];
        int c[DG_WARP];
        for (int l = 0; l < DG_WARP; l++) {
            int i = base + l;
            double ui = 0;
            c[l] = i < L->rows && dg_bcausal(L, u, d, k, i, us, &ui);
            if (c[l]) v[l] = dg_bterm(L, e1, e2, rf, wide, ed1, ed2, w, k, i, ui);
        }
        for (int l = 0; l < DG_WARP; l++)
            if (c[l]) dg_bsum_add(&s, &v[l]);
    }
    if (!dg_bfactors(L, &s, us, rf, &k1, &k2)) return st;
    double lm[DG_WARP];
    for (int l = 0; l < DG_WARP; l++) {
        lm[l] = 0;
        for (int i = l; i < L->rows; i += DG_WARP) {
            double ui;
            if (dg_bcausal(L, u, d, k, i, us, &ui))
                lm[l] = dg_max(lm[l], dg_bcheck(L, e1, e2, rf, wide, ed1, ed2, w, k, i, ui, k1, k2, us, dk, &bad));
        }
    }
    for (int off = DG_WARP / 2; off > 0; off /= 2) {
        double nx[DG_WARP];
        for (int l = 0; l < DG_WARP; l++) nx[l] = dg_max(lm[l], lm[l ^ off]);
        for (int l = 0; l < DG_WARP; l++) lm[l] = nx[l];
    }
    maxdw = lm[0];
#endif
    if (bad || dg_isinf(maxdw) || dg_isnan(maxdw)) return st;
    return dg_bstate(L, k1, k2, dk, us, rf, maxdw);
}

/*
 * Backward, phase 2 (one thread per (sample, input)): the error propagated
 * to input i, summed over the layer's neurons in order (no atomics).
 */
DG_HD double dg_back_input(const dg_layer *L, const double *u, const double *e1, const double *e2, int wide,
                           const double *ed1, const double *ed2, const double *w, const double *d,
                           const dg_nstate *st, int i) {
    double inv = 1 / L->tau;
    int syn = L->delay == DG_SYNAPTIC;
    double u0 = u[i], e1v = e1[i], e2v = e2[i];
    double g = 0;
    for (int k = 0; k < L->out; k++) {
        const dg_nstate *s = &st[k];
        if (!s->act) continue;
        long long ik = (long long)i * L->out + k;
        double ui = u0;
        if (syn) ui += d[ik] * inv;
        if (!(ui <= s->us)) continue;
        double x1, x2, dw, dt;
        dg_exps_v(wide, syn, ui, s->rf, e1v, e2v, syn ? ed1[ik] : 0, syn ? ed2[ik] : 0, &x1, &x2);
        dg_grads(L, s->k1, s->k2, w[ik], ui, x1, x2, s->us, &dw, &dt);
        g += dt * s->dk;
    }
    return g;
}

/*
 * Backward, phase 3 (one thread per weight (i, k) and chunk of samples):
 * dL/dw_ik summed over samples [s0, s1) in order, and for synaptic delays
 * dL/dd_ik. u, e1, e2 are B x Rows; ref/wide per sample; st is B x Out.
 */
DG_HD void dg_back_weight(const dg_layer *L, long long s0, long long s1, const double *u, const double *e1, const double *e2,
                          const int *wide, const double *ed1, const double *ed2, const double *w, const double *d,
                          const dg_nstate *st, int i, int k, double *dW, double *dD) {
    double inv = 1 / L->tau;
    int syn = L->delay == DG_SYNAPTIC && i < L->in;
    long long ik = (long long)i * L->out + k;
    double wik = w[ik];
    double dinv = syn ? d[ik] * inv : 0, ed1v = syn ? ed1[ik] : 0, ed2v = syn ? ed2[ik] : 0;
    double gw = 0, gd = 0;
    /* Every load of an iteration comes before its first branch, so that
     * they wait on memory together. */
    for (long long s = s0; s < s1; s++) {
        long long r = s * L->rows + i;
        const dg_nstate *n = &st[s * L->out + k];
        double ui = u[r], e1v = e1[r], e2v = e2[r];
        int act = n->act, clip = n->clip, wd = wide[s];
        double us = n->us, rf = n->rf, k1 = n->k1, k2 = n->k2, dk = n->dk;
        if (!(ui < DG_INF) || !act) continue;
        if (syn) ui += dinv;
        if (!(ui <= us)) continue;
        double x1, x2, dw, dt;
        dg_exps_v(wd, syn, ui, rf, e1v, e2v, ed1v, ed2v, &x1, &x2);
        dg_grads(L, k1, k2, wik, ui, x1, x2, us, &dw, &dt);
        if (!clip) gw += dw * L->tau * dk;
        if (syn) gd += dt * dk;
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
 * double only, because the launcher (dg_launch, launch_cuda.c) passes each as one 8-byte word (so
 * a layer's dg_layer lives in device memory and is read through Lp).
 */

/* The member of sample s of a population's B samples. */
DG_HD long long dg_member(const dg_layer *L, long long B, long long s) {
    return L->nmem > 1 ? s / (B / L->nmem) : 0;
}

/* Member m's weights, delays and synaptic exponentials (e^{d/tau}). */
DG_HD const double *dg_mw(const dg_layer *L, const double *w, long long m) {
    return w + m * (long long)L->rows * L->out;
}
DG_HD const double *dg_md(const dg_layer *L, const double *d, long long m) {
    switch (L->delay) {
    case DG_AXONAL: return d + m * L->in;
    case DG_DENDRITIC: return d + m * L->out;
    case DG_SYNAPTIC: return d + m * (long long)L->in * L->out;
    }
    return d;
}
DG_HD const double *dg_med(const dg_layer *L, const double *ed, long long m) {
    return L->delay == DG_SYNAPTIC ? ed + m * (long long)L->in * L->out : ed;
}
DG_HD const double *dg_mb(const dg_layer *L, const double *bias, long long m) { return bias + m * L->nbias; }

/* x (B x F) -> out (B x F*mux), each feature repeated mux times; j < B*F*mux. */
DG_HD void dg_mux_body(long long j, long long B, long long F, long long mux, const double *x, double *out) {
    if (j >= B * F * mux) return;
    out[j] = x[j / mux];
}

/* Forward phase 1a, the sort: j < groups*Rows (groups = B, or B*Out for
 * synaptic delays). */
DG_HD void dg_fwd_rank_body(long long j, const dg_layer *Lp, long long B, const double *in, const double *d,
                            const double *bias, double *su, int *sidx, int *cnt) {
    dg_layer L = *Lp;
    long long per = L.delay == DG_SYNAPTIC ? L.out : 1;
    if (j >= B * per * L.rows) return;
    long long p = j / L.rows;
    int r = (int)(j % L.rows);
    long long s = p / per;
    int k = (int)(p % per);
    long long o = p * L.rows;
    long long m = dg_member(&L, B, s);
    L = Lp[m];
    dg_rank(&L, in + s * L.in, dg_md(&L, d, m), dg_mb(&L, bias, m), k, r, su + o, sidx + o, cnt + p);
}

/* Forward phase 1a by one warp per (group, row) (dg_rank_warp): j <
 * 32*B*per*Rows, so that every warp is whole; the same outputs as
 * dg_fwd_rank. */
DG_HD void dg_fwd_rank_w_body(long long j, const dg_layer *Lp, long long B, const double *in, const double *d,
                              const double *bias, double *su, int *sidx, int *cnt) {
    dg_layer L = *Lp;
    long long per = L.delay == DG_SYNAPTIC ? L.out : 1;
    long long t = j / 32;
    int lane = (int)(j % 32);
    if (t >= B * per * L.rows) return;
#if !defined(__CUDA_ARCH__)
    if (lane != 0) return; /* lane 0 runs the whole warp */
#endif
    long long p = t / L.rows;
    int r = (int)(t % L.rows);
    long long s = p / per;
    int k = (int)(p % per);
    long long o = p * L.rows;
    long long m = dg_member(&L, B, s);
    L = Lp[m];
    dg_rank_warp(&L, in + s * L.in, dg_md(&L, d, m), dg_mb(&L, bias, m), k, r, su + o, sidx + o, cnt + p, lane);
}

/* Forward phase 1b, the exponentials: j < groups*Rows. */
DG_HD void dg_fwd_exps_body(long long j, long long groups, long long rows, const double *su, const int *cnt,
                            double *e1, double *te1, double *e2, double *ref, double *shift) {
    if (j >= groups * rows) return;
    long long p = j / rows;
    int m = (int)(j % rows);
    long long o = p * rows;
    dg_fwd_exps(cnt[p], m, su + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o);
}

/* Forward phase 2 for pair q = (sample, neuron): lane < 0 runs
 * dg_first_spike in one thread, lane >= 0 is that lane of the pair's warp
 * in dg_first_spike_warp; one thread or lane 0 writes the result. */
DG_HD void dg_fwd_spike_pair(long long q, int lane, const dg_layer *Lp, long long B, const double *su,
                             const int *sidx, const double *e1, const double *te1, const double *e2,
                             const double *ref, const double *shift, const int *cnt, const double *w,
                             const double *d, double *out, double *silent) {
    dg_layer L = *Lp;
    if (q >= B * L.out) return;
    int k = (int)(q % L.out);
    long long p = L.delay == DG_SYNAPTIC ? q : q / L.out;
    long long o = p * L.rows;
    long long m = dg_member(&L, B, q / L.out);
    L = Lp[m];
    w = dg_mw(&L, w, m);
    d = dg_md(&L, d, m);
    double t = lane < 0 ? dg_first_spike(&L, cnt[p], su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o,
                                         w, d, k)
                        : dg_first_spike_warp(&L, cnt[p], su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o,
                                              shift + o, w, d, k, lane);
    if (lane > 0) return;
    out[q] = t;
    /* The silent (sample, neuron) pairs per neuron, as dg_silent counts
     * them (member m's at silent + m*Out). */
    if (silent && (t != t || t == DG_INF)) dg_count(silent + m * L.out + k, 1);
}

/* Forward phase 2: j < B*Out. */
DG_HD void dg_fwd_spike_body(long long j, const dg_layer *Lp, long long B, const double *su, const int *sidx,
                             const double *e1, const double *te1, const double *e2, const double *ref,
                             const double *shift, const int *cnt, const double *w, const double *d, double *out,
                             double *silent) {
    dg_fwd_spike_pair(j, -1, Lp, B, su, sidx, e1, te1, e2, ref, shift, cnt, w, d, out, silent);
}

/* Forward phase 2, one warp per (sample, neuron) (dg_first_spike_warp):
 * j < 32*B*Out, so that every warp is whole; the same outputs as
 * dg_fwd_spike. */
DG_HD void dg_fwd_spike_w_body(long long j, const dg_layer *Lp, long long B, const double *su, const int *sidx,
                               const double *e1, const double *te1, const double *e2, const double *ref,
                               const double *shift, const int *cnt, const double *w, const double *d, double *out,
                               double *silent) {
    int lane = (int)(j % DG_WARP);
#if !defined(__CUDA_ARCH__)
    if (lane != 0) return; /* lane 0 runs the whole warp */
#endif
    dg_fwd_spike_pair(j / DG_WARP, lane, Lp, B, su, sidx, e1, te1, e2, ref, shift, cnt, w, d, out, silent);
}

/* Non-finite errors (a missing label spike) carry no gradient; j < n. */
DG_HD void dg_clean_body(long long j, long long n, const double *x, double *out) {
    if (j >= n) return;
    double v = x[j];
    out[j] = dg_finite(v) ? v : 0;
}

/* Synaptic delays: e^{d/tau}, e^{d/(2 tau)}; j < nmem*In*Out. */
DG_HD void dg_syn_exps_body(long long j, const dg_layer *Lp, const double *d, double *ed1, double *ed2) {
    dg_layer L = *Lp;
    if (j >= (long long)L.nmem * L.in * L.out) return;
    L = Lp[j / ((long long)L.in * L.out)];
    double v = d[j] * (1 / L.tau); /* as the Go engine scales it */
    ed1[j] = dg_exp(v);
    ed2[j] = dg_exp(v / 2);
}

/* Backward phase 0a, each sample's reference time and width: j < B.
 * dspan[m] bounds member m's max |d|/tau_s (synaptic delays). */
DG_HD void dg_bwd_range_body(long long j, const dg_layer *Lp, long long B, const double *in, const double *d,
                             const double *bias, const double *dspan, double *ref, int *wide) {
    dg_layer L = *Lp;
    if (j >= B) return;
    long long m = dg_member(&L, B, j);
    L = Lp[m];
    dg_back_range(&L, in + j * L.in, dg_md(&L, d, m), dg_mb(&L, bias, m), dspan[m], ref + j, wide + j);
}

/* Backward phase 0b, each row's time and exponentials: j < B*Rows. */
DG_HD void dg_bwd_rows_body(long long j, const dg_layer *Lp, long long B, const double *in, const double *d,
                            const double *bias, const double *ref, const int *wide, double *u, double *e1,
                            double *e2) {
    dg_layer L = *Lp;
    if (j >= B * L.rows) return;
    long long s = j / L.rows;
    int i = (int)(j % L.rows);
    long long m = dg_member(&L, B, s);
    L = Lp[m];
    dg_back_row(&L, in + s * L.in, dg_md(&L, d, m), dg_mb(&L, bias, m), ref[s], wide[s], i, u + j, e1 + j, e2 + j);
}

/* The running minimum and maximum of dg_back_range, with the row each
 * came from: dg_min and dg_max keep the later of two equal values (the
 * only equal values that differ in bits are -0 and +0), so a minimum or
 * maximum taken over rows in any order, ties going to the larger row, is
 * the one-thread loop's, bit for bit. Row -1: none yet. */
typedef struct { double umin, umax; int rmin, rmax; } dg_range;

DG_HD dg_range dg_range_init(void) {
    dg_range r = {DG_INF, -DG_INF, -1, -1};
    return r;
}

/* Row i, time ui, into r (rows in increasing order). */
DG_HD void dg_range_add(dg_range *r, double ui, int i) {
    if (!(ui < DG_INF)) return;
    if (!(r->umin < ui)) { r->umin = ui; r->rmin = i; }
    if (!(r->umax > ui)) { r->umax = ui; r->rmax = i; }
}

/* The range of the union of two sets of rows. */
DG_HD dg_range dg_range_merge(dg_range a, dg_range b) {
    if (b.umin < a.umin || (b.umin == a.umin && b.rmin > a.rmin)) { a.umin = b.umin; a.rmin = b.rmin; }
    if (b.umax > a.umax || (b.umax == a.umax && b.rmax > a.rmax)) { a.umax = b.umax; a.rmax = b.rmax; }
    return a;
}

/* Backward phase 0, dg_bwd_range and dg_bwd_rows in one, by one warp per
 * sample (j < 32*B, so that every warp is whole): lane l takes rows l,
 * l+32, ...; the lanes' ranges are merged by shuffles (dg_range_merge:
 * the same reference time, sign of zero included, and width as
 * dg_back_range), then every lane stores its rows' times and exponentials
 * (dg_back_row). The same outputs as the two kernels. The CPU emulation
 * runs the warp in lane 0, the lanes one after the other, merging their
 * ranges in the shuffles' order. */
DG_HD void dg_bwd_rows_w_body(long long j, const dg_layer *Lp, long long B, const double *in, const double *d,
                              const double *bias, const double *dspan_m, double *ref, int *wide, double *u,
                              double *e1, double *e2) {
    dg_layer L = *Lp;
    long long s = j / DG_WARP;
    int lane = (int)(j % DG_WARP);
    if (s >= B) return;
    long long m = dg_member(&L, B, s);
    L = Lp[m];
    double dspan = dspan_m[m];
    d = dg_md(&L, d, m);
    bias = dg_mb(&L, bias, m);
    const double *in_s = in + s * L.in;
    long long o = s * L.rows;
#if defined(__CUDA_ARCH__)
    const unsigned all = 0xffffffffu;
    dg_range r = dg_range_init();
    for (int i = lane; i < L.rows; i += DG_WARP) dg_range_add(&r, dg_back_u(&L, in_s, d, bias, i), i);
    for (int off = DG_WARP / 2; off > 0; off /= 2) {
        dg_range x = {__shfl_xor_sync(all, r.umin, off), __shfl_xor_sync(all, r.umax, off),
                      __shfl_xor_sync(all, r.rmin, off), __shfl_xor_sync(all, r.rmax, off)};
        r = dg_range_merge(r, x);
    }
#else
    if (lane != 0) return; /* lane 0 runs the whole warp */
    dg_range lr[DG_WARP];
    for (int l = 0; l < DG_WARP; l++) {
        lr[l] = dg_range_init();
        for (int i = l; i < L.rows; i += DG_WARP) dg_range_add(&lr[l], dg_back_u(&L, in_s, d, bias, i), i);
    }
    for (int off = DG_WARP / 2; off > 0; off /= 2) {
        dg_range nx[DG_WARP];
        for (int l = 0; l < DG_WARP; l++) nx[l] = dg_range_merge(lr[l], lr[l ^ off]);
        for (int l = 0; l < DG_WARP; l++) lr[l] = nx[l];
    }
    dg_range r = lr[0];
#endif
    double rf = r.umin;
    int wd = r.umax - r.umin + dspan > DG_WIDE_SPAN;
    if (lane == 0) { ref[s] = rf; wide[s] = wd; }
#if defined(__CUDA_ARCH__)
    for (int i = lane; i < L.rows; i += DG_WARP)
#else
    for (int i = 0; i < L.rows; i++)
#endif
        dg_back_row(&L, in_s, d, bias, rf, wd, i, u + o + i, e1 + o + i, e2 + o + i);
}

/* Backward phase 1 for pair q = (sample, neuron): lane < 0 runs
 * dg_back_neuron in one thread, lane >= 0 is that lane of the pair's warp
 * in dg_back_neuron_warp; one thread or lane 0 writes the state. */
DG_HD void dg_bwd_neuron_pair(long long q, int lane, const dg_layer *Lp, long long B, const double *u,
                              const double *e1, const double *e2, const double *ref, const int *wide,
                              const double *ed1, const double *ed2, const double *w, const double *d,
                              const double *out, const double *delta, dg_nstate *st, double *clip) {
    dg_layer L = *Lp;
    if (q >= B * L.out) return;
    long long s = q / L.out;
    int k = (int)(q % L.out);
    long long o = s * L.rows;
    long long m = dg_member(&L, B, s);
    L = Lp[m];
    w = dg_mw(&L, w, m);
    d = dg_md(&L, d, m);
    ed1 = dg_med(&L, ed1, m);
    ed2 = dg_med(&L, ed2, m);
    dg_nstate n = lane < 0 ? dg_back_neuron(&L, u + o, e1 + o, e2 + o, ref[s], wide[s], ed1, ed2, w, d, out[q],
                                            delta[q], k)
                           : dg_back_neuron_warp(&L, u + o, e1 + o, e2 + o, ref[s], wide[s], ed1, ed2, w, d, out[q],
                                                 delta[q], k, lane);
    if (lane > 0) return;
    st[q] = n;
    /* The clipped pairs per neuron, as dg_clipsum counts them (member m's
     * at clip + m*Out). */
    if (clip && n.clip) dg_count(clip + m * L.out + k, 1);
}

/* Backward phase 1: j < B*Out. */
DG_HD void dg_bwd_neuron_body(long long j, const dg_layer *Lp, long long B, const double *u, const double *e1,
                              const double *e2, const double *ref, const int *wide, const double *ed1,
                              const double *ed2, const double *w, const double *d, const double *out,
                              const double *delta, dg_nstate *st, double *clip) {
    dg_bwd_neuron_pair(j, -1, Lp, B, u, e1, e2, ref, wide, ed1, ed2, w, d, out, delta, st, clip);
}

/* Backward phase 1, one warp per (sample, neuron) (dg_back_neuron_warp):
 * j < 32*B*Out; the same states as dg_bwd_neuron. */
DG_HD void dg_bwd_neuron_w_body(long long j, const dg_layer *Lp, long long B, const double *u, const double *e1,
                                const double *e2, const double *ref, const int *wide, const double *ed1,
                                const double *ed2, const double *w, const double *d, const double *out,
                                const double *delta, dg_nstate *st, double *clip) {
    int lane = (int)(j % DG_WARP);
#if !defined(__CUDA_ARCH__)
    if (lane != 0) return; /* lane 0 runs the whole warp */
#endif
    dg_bwd_neuron_pair(j / DG_WARP, lane, Lp, B, u, e1, e2, ref, wide, ed1, ed2, w, d, out, delta, st, clip);
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
    long long m = dg_member(&L, B, s);
    L = Lp[m];
    gin[j] = dg_back_input(&L, u + o, e1 + o, e2 + o, wide[s], dg_med(&L, ed1, m), dg_med(&L, ed2, m), dg_mw(&L, w, m),
                           dg_md(&L, d, m), st + s * L.out, i);
}

/*
 * Batch sums run in two passes that the Go engine mirrors (batch.SumChunk):
 * chunks of C consecutive samples (of one member of a population: its
 * Bm = B/nmem samples) are summed in order into partial sums, then
 * dg_chunksum adds a sum's nch partials in chunk order. The partials of
 * chunk c lie at part[c*stride ...], member after member (stride = nmem
 * times one member's sums), so that dg_chunksum leaves each member's sums
 * after the previous member's.
 */

/* Backward phase 3, the partial sums: one thread per (chunk, member,
 * weight); j < nch*nmem*Rows*Out. The synaptic delays' partials go to pD
 * in the same order, for the In*Out real inputs only. */
DG_HD void dg_bwd_weight_body(long long j, const dg_layer *Lp, long long B, long long C, const double *u,
                              const double *e1, const double *e2, const int *wide, const double *ed1,
                              const double *ed2, const double *w, const double *d, const dg_nstate *st, double *pW,
                              double *pD) {
    dg_layer L = *Lp;
    long long n = (long long)L.rows * L.out, Bm = B / L.nmem, nch = (Bm + C - 1) / C;
    if (j >= nch * L.nmem * n) return;
    long long c = j / (L.nmem * n), r = j % (L.nmem * n), m = r / n, wk = r % n;
    int i = (int)(wk / L.out), k = (int)(wk % L.out);
    long long nd = (long long)L.in * L.out;
    L = Lp[m];
    double *dd = (L.delay == DG_SYNAPTIC && i < L.in) ? pD + (c * L.nmem + m) * nd + wk : 0;
    long long s0 = m * Bm + c * C, s1 = (c + 1) * C < Bm ? m * Bm + (c + 1) * C : (m + 1) * Bm;
    dg_back_weight(&L, s0, s1, u, e1, e2, wide, dg_med(&L, ed1, m), dg_med(&L, ed2, m), dg_mw(&L, w, m),
                   dg_md(&L, d, m), st, i, k, pW + j, dd);
}

/* x[0] + x[stride] + ... + x[(n-1)*stride], added in order by one
 * thread; the loads go out 16 at a time, so that they wait on memory
 * together instead of one after another. */
DG_HD double dg_sum(const double *x, long long n, long long stride) {
    double s = 0;
    long long i = 0;
    for (; i + 16 <= n; i += 16) {
        double v[16];
        for (int q = 0; q < 16; q++) v[q] = x[(i + q) * stride];
        for (int q = 0; q < 16; q++) s += v[q];
    }
    for (; i < n; i++) s += x[i * stride];
    return s;
}

/* The sums of n values over nch chunks, in chunk order; j < n. */
DG_HD void dg_chunksum_body(long long j, long long n, long long nch, long long stride, const double *part,
                            double *out) {
    if (j >= n) return;
    out[j] = dg_sum(part + j, nch, stride);
}

/* Thread j of a partial column sum over chunks of C samples of a B x N
 * matrix whose rows are nmem members' Bm = B/nmem samples, member after
 * member: its column and sample range [s0, s1); 0 past the last chunk.
 * Thread j = (c*nmem + m)*N + col sums chunk c of member m. */
DG_HD int dg_chunk(long long j, long long B, long long N, long long C, long long nmem, long long *col, long long *s0,
                   long long *s1) {
    long long Bm = B / nmem, nch = (Bm + C - 1) / C;
    if (j >= nch * nmem * N) return 0;
    long long c = j / (nmem * N), m = j % (nmem * N) / N;
    *col = j % N;
    *s0 = m * Bm + c * C;
    *s1 = (c + 1) * C < Bm ? m * Bm + (c + 1) * C : (m + 1) * Bm;
    return 1;
}

/* Partial column sums of a B x N matrix (axonal delay gradients): one
 * thread per (chunk, column); j < nch*N. */
DG_HD void dg_colsum_body(long long j, long long B, long long N, long long C, long long nmem, const double *x,
                          double *part) {
    long long col, s0, s1;
    if (!dg_chunk(j, B, N, C, nmem, &col, &s0, &s1)) return;
    double g = 0;
    for (long long s = s0; s < s1; s++) g += x[s * N + col];
    part[j] = g;
}

/* Partial dendritic delay gradients: column sums of the per-(sample,
 * neuron) errors; j < nch*K. */
DG_HD void dg_dendsum_body(long long j, long long B, long long K, long long C, long long nmem, const dg_nstate *st,
                           double *part) {
    long long col, s0, s1;
    if (!dg_chunk(j, B, K, C, nmem, &col, &s0, &s1)) return;
    double g = 0;
    for (long long s = s0; s < s1; s++) g += st[s * K + col].dend;
    part[j] = g;
}

/* Input gradients: each feature sums its mux copies; j < B*F. */
DG_HD void dg_unmux_body(long long j, long long B, long long F, long long mux, const double *g, double *out) {
    if (j >= B * F) return;
    double v = 0;
    for (long long r = 0; r < mux; r++) v += g[j * mux + r];
    out[j] = v;
}

/* Partial counts of clipped (sample, neuron) pairs per neuron; j < nch*K. */
DG_HD void dg_clipsum_body(long long j, long long B, long long K, long long C, long long nmem, const dg_nstate *st,
                           double *part) {
    long long col, s0, s1;
    if (!dg_chunk(j, B, K, C, nmem, &col, &s0, &s1)) return;
    double g = 0;
    for (long long s = s0; s < s1; s++) g += st[s * K + col].clip;
    part[j] = g;
}

/* ---- The training step on the device (kernels/engine.go, Stepper). ---- */

/* Go's math.Min/Max/Round semantics (a NaN wins), so results match the trainer. */
DG_HD double dg_gomin(double a, double b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }

/* A network weight from its master weight (rounded straight-through). */
DG_HD double dg_net_weight(double step, double w) { return step > 0 ? round(w / step) * step : w; }

/* A delay from its parameter: sigmoid (kind 0) or the parameter itself. */
DG_HD double dg_net_delay(long long kind, double shift, double scale, double theta) {
    return kind == 0 ? shift + scale * (1 / (1 + dg_exp(-theta))) : theta;
}

/* Network weights from the master weights; j < n. */
DG_HD void dg_sync_w_body(long long j, long long n, double step, const double *W, double *Wn) {
    if (j >= n) return;
    Wn[j] = dg_net_weight(step, W[j]);
}

/* Delays from their parameters; j < n. */
DG_HD void dg_sync_d_body(long long j, long long n, long long kind, double shift, double scale, const double *theta,
                          double *d) {
    if (j >= n) return;
    d[j] = dg_net_delay(kind, shift, scale, theta[j]);
}

/* Partial counts of silent (sample, neuron) pairs per neuron of a layer; j < nch*K. */
DG_HD void dg_silent_body(long long j, long long B, long long K, long long C, long long nmem, const double *t,
                          double *part) {
    long long col, s0, s1;
    if (!dg_chunk(j, B, K, C, nmem, &col, &s0, &s1)) return;
    double g = 0;
    for (long long s = s0; s < s1; s++) {
        double v = t[s * K + col];
        if (v != v || v == DG_INF) g += 1;
    }
    part[j] = g;
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
        for (long long k = 0; k < K; k++) { double e = dg_exp(-(tr[k] - lo) / p1); g[k] = e; sum += e; }
        l = -lo / p1 + dg_log(sum) + ty / p1;
        for (long long k = 0; k < K; k++) g[k] = -g[k] / sum / p1;
        double reg = p2 * dg_exp(ty / p3);
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
 * silent pair (count[k] > 0); j < rows*K. */
DG_HD void dg_bump_body(long long j, long long n, long long K, double value, long long targeted, const double *count,
                        double *W) {
    if (j >= n) return;
    if (!targeted || count[j % K] > 0) W[j] += value;
}

/* Gradient of a delay parameter: dL/dd * dd/dtheta (kind 0: sigmoid). */
DG_HD double dg_theta_grad(long long kind, double scale, double theta, double dD) {
    double dd = 1;
    if (kind == 0) { double s = 1 / (1 + dg_exp(-theta)); dd = scale * s * (1 - s); }
    return 0 + dD * dd;
}

/* PyTorch's Adam (trainer/optim.go) on parameter j with gradient g:
 * step = lr / bias correction 1, sq2 = sqrt(bias correction 2). */
DG_HD void dg_adam(long long j, double b1, double b2, double eps, double step, double sq2, double g, double *m,
                   double *v, double *p) {
    m[j] = b1 * m[j] + (1 - b1) * g;
    v[j] = b2 * v[j] + (1 - b2) * g * g;
    p[j] -= step * m[j] / (sqrt(v[j]) / sq2 + eps);
}

/* Clip positivity: max(theta, 0), a NaN stays. */
DG_HD double dg_relu(double v) { return (v != v || v > 0) ? v : 0; }

/* Weight clipping to [-c, c], a NaN stays. */
DG_HD double dg_clamp(double c, double v) { return v != v ? v : (v > c ? c : (v < -c ? -c : v)); }

/*
 * The device-side control of a run of training steps (stepper.Run), so
 * that a run needs no copy back between its batches. ctl holds:
 *   [0] this batch's bumped layer (-1: none, the batch takes a step),
 *   [1] the bump value, [2] the last bumped layer (-1: none; both carry
 *   the trainer's BumpValue and LastBumped), [3] optimiser steps taken in
 *   this run, [4] the sum of the stepped batches' mean losses, [5] stepped
 *   batches, [6] bumped batches, [7] correct predictions, [8] clipped
 *   (sample, neuron) weight gradients, [9] batches begun in this run,
 *   [10] where the member's rows of the Adam table start and [11] where
 *   its samples start in the run's inputs (both 0 for one network).
 * rule holds the bump value (0: no bumping), whether it doubles on
 * consecutive bumps of a layer, then per layer its size and its largest
 * allowed share of silent (sample, neuron) pairs.
 *
 * A population of nmem members (each its own network, data, optimiser and
 * ctl, on batches of one size; a single network is nmem = 1) has its
 * members' ctl, DG_CTL doubles each, one after another; its per-neuron
 * counts (silent and clipped pairs) hold, layer after layer, each
 * member's counts of the layer in turn (dg_counts).
 */
#define DG_CTL 12

/* Member m's counts of layer l (of nl, sizes in rule) in a population's
 * counts laid out layer after layer, member after member. */
DG_HD const double *dg_counts(const double *c, const double *rule, long long nmem, long long l, long long m) {
    long long off = 0;
    for (long long q = 0; q < l; q++) off += (long long)rule[2 + 2 * q];
    return c + nmem * off + m * (long long)rule[2 + 2 * l];
}

/* The trainer's bump check (overMissing, nextBump) on a batch's silent
 * counts per neuron, and its correct predictions; one thread per member
 * (j < nmem), each on its B samples of the population's batch. */
DG_HD void dg_decide_body(long long j, long long B, long long nl, long long nmem, const double *rule,
                          const double *silent, const double *correct, double *ctl) {
    if (j >= nmem) return;
    ctl += j * DG_CTL;
    ctl[9] += 1;
    ctl[7] += dg_sum(correct + j * B, B, 1);
    long long flag = -1;
    if (rule[0] > 0) {
        for (long long l = 0; l < nl; l++) {
            long long out = (long long)rule[2 + 2 * l];
            double n = dg_sum(dg_counts(silent, rule, nmem, l, j), out, 1);
            if (n / (double)(B * out) > rule[3 + 2 * l]) { flag = l; break; }
        }
    }
    if (flag >= 0) {
        if (rule[1] != 0 && ctl[2] == (double)flag) ctl[1] *= 2; else ctl[1] = rule[0];
        ctl[2] = (double)flag;
        ctl[6] += 1;
    } else {
        ctl[2] = -1;
        ctl[3] += 1;
    }
    ctl[0] = (double)flag;
}

/* dg_clean, or zeros where a member's batch bumped (its ctl, of nmem
 * members with n/nmem values each): the backward pass then finds no
 * active neuron there and skips its work; j < n. */
DG_HD void dg_clean_if_body(long long j, long long n, long long nmem, const double *ctl, const double *x,
                            double *out) {
    if (j >= n) return;
    if (ctl[j / (n / nmem) * DG_CTL] >= 0) { out[j] = 0; return; }
    dg_clean_body(j, n, x, out);
}

/* The update of optimiser group gi (n parameters p, Adam moments m and v,
 * gradient g of the latest backward pass) after a batch, fused into one
 * launch: when the batch takes a step, Adam with row i of tab (the run's
 * step i+1; rows of stride entries hold each group's lr / bias correction
 * 1 and, last, sqrt(bias correction 2), as the host computed them), then
 * the group's rule; always, the network's copy out of p. kind 0: weights,
 * g is dL/dw, a1 > 0 clips to [-a1, a1], out = weights rounded to
 * multiples of a2 (0: none). kind 1: sigmoid delay parameters, g is dL/dd,
 * out = a1 + a2 sigmoid(p). kind 2: delays that are their parameters, g
 * is dL/dd, clip positivity after the step, out = p. When the batch bumps
 * layer bl instead (weights only; bl = -1 for other groups), dg_bump's
 * rule on the layer's K neurons with the silent counts count, then the
 * network's copy. (The trainer bumps before its backward pass; bumping
 * after it is the same, as the backward pass reads the network's copy and,
 * on a bumped batch, has a zero loss gradient.) The same arithmetic as the
 * trainer's separate steps (trainer/optim.go, trainer/model.go). In a
 * population of nmem, member q's n parameters (and moments, gradient and
 * network copy) follow member q-1's, its ctl is ctl + q*DG_CTL, its Adam
 * table starts at tab + ctl[10] and its layer's silent counts are at
 * count + q*K; j < nmem*n. */
DG_HD void dg_update_if_body(long long j, long long n, double b1, double b2, double eps, const double *tab,
                             long long stride, long long gi, const double *ctl, const double *g, double *m,
                             double *v, double *p, long long kind, double a1, double a2, double *out, long long bl,
                             long long K, long long targeted, const double *count, long long nmem) {
    if (j >= nmem * n) return;
    long long q = j / n;
    ctl += q * DG_CTL;
    tab += (long long)ctl[10];
    if (ctl[0] >= 0) {
        if (ctl[0] == (double)bl) dg_bump_body(j % n, n, K, ctl[1], targeted, count + q * K, p + q * n);
    } else {
        const double *row = tab + ((long long)ctl[3] - 1) * stride;
        double gj = kind == 0 ? g[j] : dg_theta_grad(kind - 1, a2, p[j], g[j]);
        dg_adam(j, b1, b2, eps, row[gi], row[stride - 1], gj, m, v, p);
        if (kind == 0 && a1 > 0) p[j] = dg_clamp(a1, p[j]);
        if (kind == 2) p[j] = dg_relu(p[j]);
    }
    out[j] = kind == 0 ? dg_net_weight(a2, p[j]) : dg_net_delay(kind - 1, a1, a2, p[j]);
}

/* Copies the batch that ctl[9] numbers (of b samples each; this one has
 * B) from a run's input times X (F per sample) and labels Y to xb and yb,
 * so that every batch's launches take the same arguments, and zeroes the
 * first N doubles of z1 and of z2 (counts the batch's kernels add to; a
 * null pointer is skipped); j < max(nmem*(B*F + B), N). In a population
 * of nmem, member q's ctl is ctl + q*DG_CTL, its run's samples start at
 * sample ctl[11] of X and Y, and its batch goes to xb + q*B*F and
 * yb + q*B. */
DG_HD void dg_batch_in_body(long long j, long long B, long long F, long long b, const double *ctl, const double *X,
                            const int *Y, double *xb, int *yb, long long N, double *z1, double *z2, long long nmem) {
    if (j < N) {
        if (z1) z1[j] = 0;
        if (z2) z2[j] = 0;
    }
    if (j < nmem * B * F) {
        long long q = j / (B * F), r = j % (B * F);
        long long o = (long long)ctl[q * DG_CTL + 11] + (long long)ctl[q * DG_CTL + 9] * b;
        xb[j] = X[o * F + r];
        return;
    }
    j -= nmem * B * F;
    if (j < nmem * B) {
        long long q = j / B;
        yb[j] = Y[(long long)ctl[q * DG_CTL + 11] + (long long)ctl[q * DG_CTL + 9] * b + j % B];
    }
}

/* Adds a stepped batch's mean loss (of B losses in upd) and its clip
 * counts (after the losses, per neuron of the nl layers in rule) to the
 * run's sums, in the trainer's order; one thread per member (j < nmem),
 * whose losses follow the previous member's and whose counts are laid out
 * as dg_counts says. */
DG_HD void dg_accum_body(long long j, long long B, long long nl, long long nmem, const double *rule,
                         const double *upd, double *ctl) {
    if (j >= nmem) return;
    ctl += j * DG_CTL;
    if (ctl[0] >= 0) return;
    double loss = dg_sum(upd + j * B, B, 1);
    double clip = 0;
    for (long long l = 0; l < nl; l++) clip += dg_sum(dg_counts(upd + nmem * B, rule, nmem, l, j), (long long)rule[2 + 2 * l], 1);
    ctl[8] += clip;
    ctl[4] += loss * (1 / (double)B);
    ctl[5] += 1;
}

/*
 * ---- Perturbed neurons: each with its own tau_mem and tau_syn (a chip
 * with time-constant mismatch), whose first spike has no closed form. ----
 *
 * dg_perturbed_spike is bss2model.Membrane.FirstSpike step for step (the
 * same IEEE operations in the same order, xmath's exponentials), so that
 * the two give the same bits; see bss2model/membrane.go for the model.
 */
enum { DG_MEM_EQUAL = 0, DG_MEM_SUMS = 1, DG_MEM_DIRECT = 2 };
#define DG_ROOT_TOL 1e-12     /* bss2model.RootTol */
#define DG_DIRECT_BELOW 1e-4  /* bss2model's directBelow */

/* The root finder's state on the interval after input j (times relative
 * to ts[j]): the running sums a, b (DG_MEM_EQUAL: u(s) = e^{-s/tau_syn}
 * (a s + b) / unit) or p, q (u(s) = p e^{-s/tau_mem} - q e^{-s/tau_syn};
 * DG_MEM_DIRECT sums u input by input with expm1 instead), and the
 * inputs: times ts and weights (dg_mem_w). */
typedef struct {
    double tau_mem, tau_syn, theta, k, inv;
    double a, b, p, q;
    const double *ts, *w;
    const int *rows;
    long long stride;
    int mode, j;
} dg_mstate;

/* Input m's weight: w[m], or w[rows[m] * stride] (a column of a weight
 * matrix, its rows in the inputs' sorted order). */
DG_HD double dg_mem_w(const dg_mstate *st, int m) {
    return st->rows ? st->w[(long long)st->rows[m] * st->stride] : st->w[m];
}

/* u(s) or, with deriv, u'(s) (membraneState.eval). */
DG_HD double dg_mem_eval(const dg_mstate *st, double s, int deriv) {
    if (st->mode == DG_MEM_EQUAL) {
        double e = dg_exp(-s / st->tau_syn);
        double v = st->a * s + st->b;
        if (deriv) return e * (st->a - v / st->tau_syn) * st->inv;
        return e * v * st->inv;
    }
    if (st->mode == DG_MEM_SUMS) {
        double em = dg_exp(-s / st->tau_mem), es = dg_exp(-s / st->tau_syn);
        if (deriv) return -st->p / st->tau_mem * em + st->q / st->tau_syn * es;
        return st->p * em - st->q * es;
    }
    double ref = st->ts[st->j], sum = 0;
    for (int i = 0; i <= st->j; i++) {
        double x = s + ref - st->ts[i];
        double e = dg_exp(-x / st->tau_syn);
        double g = dg_expm1(x * st->k);
        if (deriv) sum += dg_mem_w(st, i) * e * (1 - g / (st->k * st->tau_mem));
        else sum += dg_mem_w(st, i) * e * g / st->k;
    }
    return sum * st->inv;
}

/* The crossing u(s) = theta in [lo, hi] (membraneState.solve). */
DG_HD double dg_mem_solve(const dg_mstate *st, double lo, double hi) {
    double theta = st->theta, ref = st->ts[st->j];
    if (!(hi < DG_INF)) {
        double step = 1;
        while (dg_mem_eval(st, lo + step, 0) < theta && step < 1e6) step *= 2;
        hi = lo + step;
    }
    double x = hi;
    for (int it = 0; it < 200; it++) {
        double g = dg_mem_eval(st, x, 0) - theta;
        if (g >= 0) hi = x;
        else lo = x;
        double a = fabs(ref + x);
        if (a < 1) a = 1;
        double tol = DG_ROOT_TOL * a;
        if (hi - lo <= tol || g == 0) break;
        double d = dg_mem_eval(st, x, 1);
        double nx = x - g / d;
        if (!(nx > lo && nx < hi) || d <= 0) nx = 0.5 * (lo + hi);
        if (fabs(nx - x) <= tol) { x = nx; break; }
        x = nx;
    }
    return x;
}

/* The first spike of a neuron with time constants tau_mem, tau_syn, weight
 * unit unit and threshold theta, driven by n inputs at the ascending finite
 * times ts with weights w (w[m], or w[rows[m] * stride] where rows is not
 * null); +Inf when it stays below threshold. */
DG_HD double dg_perturbed_spike(double tau_mem, double tau_syn, double unit, double theta, const double *ts,
                                const double *w, const int *rows, long long stride, int n) {
    if (n == 0) return DG_INF;
    dg_mstate st;
    st.tau_mem = tau_mem; st.tau_syn = tau_syn; st.theta = theta;
    st.a = 0; st.b = 0; st.p = 0; st.q = 0;
    st.ts = ts; st.w = w; st.rows = rows; st.stride = stride;
    st.mode = DG_MEM_SUMS; st.j = 0;
    double k = 1 / tau_syn - 1 / tau_mem;
    if (k == 0) st.mode = DG_MEM_EQUAL;
    else if (fabs(k) * tau_syn < DG_DIRECT_BELOW) st.mode = DG_MEM_DIRECT;
    st.k = k; st.inv = 1 / unit;
    double F = 1 / (unit * k);
    for (int j = 0; j < n; j++) {
        double wj = dg_mem_w(&st, j);
        if (j > 0) {
            double d = ts[j] - ts[j - 1];
            if (st.mode == DG_MEM_EQUAL) {
                double e = dg_exp(-d / tau_syn);
                st.b = (st.b + st.a * d) * e;
                st.a *= e;
            } else {
                st.p *= dg_exp(-d / tau_mem);
                st.q *= dg_exp(-d / tau_syn);
            }
        }
        if (st.mode == DG_MEM_EQUAL) st.a += wj;
        else { st.p += F * wj; st.q += F * wj; }
        st.j = j;
        double h = j + 1 < n ? ts[j + 1] - ts[j] : DG_INF;
        /* The single extremum of u in the interval, if any (-1: none). */
        double crit = -1;
        if (st.mode == DG_MEM_EQUAL) {
            if (st.a != 0) crit = tau_syn - st.b / st.a;
        } else {
            double r = st.q * tau_mem / (st.p * tau_syn);
            if (r > 0) crit = dg_log(r) / k;
        }
        double lo = 0, hi = h;
        if (crit > 0 && crit < h) hi = crit;
        /* Up to two pieces: [0, crit] and [crit, h], or [0, h]. */
        for (int piece = 0; piece < 2; piece++) {
            if (hi > lo) {
                double uh = 0; /* every PSP decays to zero */
                if (hi < DG_INF) uh = dg_mem_eval(&st, hi, 0);
                if (uh >= theta) return ts[j] + dg_mem_solve(&st, lo, hi);
                lo = hi;
            }
            hi = h;
        }
    }
    return DG_INF;
}

/* One member of a population of perturbed layers (batch.PerturbedLayer;
 * kernels/perturbed.go encodes it): its shape, where its values lie in the
 * population's data array (offsets in doubles; -1: no such delays), and
 * where its sorted inputs, groups (one per sample) and outputs start in
 * the population's. Every field is 8 bytes, so the C layout has no
 * padding. */
typedef struct {
    long long b, in, out, rows;   /* samples, inputs, neurons, inputs + bias spikes */
    long long x, ad, bias, w;     /* B x In input times, In axonal delays, bias times, Rows x Out weights */
    long long tm, ts, th, dd;     /* Out tau_mem, tau_syn, theta, dendritic delays */
    long long e0, g0, o0;         /* first sorted entry (B x Rows of them), group, output (B x Out) */
    double unit;                  /* the weight unit */
} dg_pmember;

/* The member of a population of nmem whose range of threads holds thread
 * j: the last one whose first entry (outs: output) is at most j (members
 * with no samples have empty ranges, which this skips). */
DG_HD long long dg_pmember_of(const dg_pmember *M, long long nmem, long long j, int outs) {
    long long lo = 0, hi = nmem - 1;
    while (lo < hi) {
        long long mid = (lo + hi + 1) / 2;
        long long first = outs ? M[mid].o0 : M[mid].e0;
        if (first <= j) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Row r's effective time in sample x's inputs (+Inf: no spike). */
DG_HD double dg_pkey(const dg_pmember *P, const double *data, const double *x, long long r) {
    if (r >= P->in) return data[P->bias + r - P->in];
    double t = x[r];
    if (P->ad >= 0) t += data[P->ad + r];
    return t;
}

/* The sort of the perturbed layers' inputs: thread j of the n entries
 * (sum of every member's B x Rows) ranks row r of its (member, sample)
 * among the sample's finite inputs and bias spikes by (time, row), as
 * bss2model.FirstSpikes sorts them, and stores its time and row at its
 * rank; row 0's thread stores the sample's count. */
DG_HD void dg_pert_rank_body(long long j, long long n, long long nmem, const dg_pmember *M, const double *data,
                             double *su, int *sidx, int *cnt) {
    if (j >= n) return;
    const dg_pmember *P = &M[dg_pmember_of(M, nmem, j, 0)];
    long long loc = j - P->e0, s = loc / P->rows, r = loc % P->rows;
    const double *x = data + P->x + s * P->in;
    double u = dg_pkey(P, data, x, r);
    int finite = r >= P->in || u < DG_INF;
    if (!finite && r != 0) return;
    int rank = 0, c = 0;
    for (long long q = 0; q < P->rows; q++) {
        double v = dg_pkey(P, data, x, q);
        if (q < P->in && !(v < DG_INF)) continue;
        c++;
        if (v < u || (v == u && q < r)) rank++;
    }
    long long o = P->e0 + s * P->rows;
    if (finite) { su[o + rank] = u; sidx[o + rank] = (int)r; }
    if (r == 0) cnt[P->g0 + s] = c;
}

/* The perturbed layers' first spikes: thread j of the n outputs (sum of
 * every member's B x Out) solves neuron k of its (member, sample) from the
 * sorted inputs, dendritic delay added, into out[j]. */
DG_HD void dg_pert_spike_body(long long j, long long n, long long nmem, const dg_pmember *M, const double *data,
                              const double *su, const int *sidx, const int *cnt, double *out) {
    if (j >= n) return;
    const dg_pmember *P = &M[dg_pmember_of(M, nmem, j, 1)];
    long long loc = j - P->o0, s = loc / P->out, k = loc % P->out;
    long long o = P->e0 + s * P->rows;
    double t = dg_perturbed_spike(data[P->tm + k], data[P->ts + k], P->unit, data[P->th + k], su + o,
                                  data + P->w + k, sidx + o, P->out, cnt[P->g0 + s]);
    if (P->dd >= 0) t += data[P->dd + k];
    out[j] = t;
}

#define DG_UNPAREN(...) __VA_ARGS__
/* X(name, (parameters), (argument names)) for every kernel. */
#define DG_KERNELS(X) \
    X(dg_mux, (long long B, long long F, long long mux, const double *x, double *out), (B, F, mux, x, out)) \
    X(dg_fwd_rank, (const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias, \
                    double *su, int *sidx, int *cnt), (Lp, B, in, d, bias, su, sidx, cnt)) \
    X(dg_fwd_rank_w, (const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias, \
                      double *su, int *sidx, int *cnt), (Lp, B, in, d, bias, su, sidx, cnt)) \
    X(dg_fwd_exps, (long long groups, long long rows, const double *su, const int *cnt, double *e1, double *te1, \
                    double *e2, double *ref, double *shift), (groups, rows, su, cnt, e1, te1, e2, ref, shift)) \
    X(dg_fwd_spike, (const dg_layer *Lp, long long B, const double *su, const int *sidx, const double *e1, \
                     const double *te1, const double *e2, const double *ref, const double *shift, const int *cnt, \
                     const double *w, const double *d, double *out, double *silent), \
      (Lp, B, su, sidx, e1, te1, e2, ref, shift, cnt, w, d, out, silent)) \
    X(dg_fwd_spike_w, (const dg_layer *Lp, long long B, const double *su, const int *sidx, const double *e1, \
                       const double *te1, const double *e2, const double *ref, const double *shift, const int *cnt, \
                       const double *w, const double *d, double *out, double *silent), \
      (Lp, B, su, sidx, e1, te1, e2, ref, shift, cnt, w, d, out, silent)) \
    X(dg_clean, (long long n, const double *x, double *out), (n, x, out)) \
    X(dg_syn_exps, (const dg_layer *Lp, const double *d, double *ed1, double *ed2), (Lp, d, ed1, ed2)) \
    X(dg_bwd_range, (const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias, \
                     const double *dspan, double *ref, int *wide), (Lp, B, in, d, bias, dspan, ref, wide)) \
    X(dg_bwd_rows, (const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias, \
                    const double *ref, const int *wide, double *u, double *e1, double *e2), \
      (Lp, B, in, d, bias, ref, wide, u, e1, e2)) \
    X(dg_bwd_rows_w, (const dg_layer *Lp, long long B, const double *in, const double *d, const double *bias, \
                      const double *dspan, double *ref, int *wide, double *u, double *e1, double *e2), \
      (Lp, B, in, d, bias, dspan, ref, wide, u, e1, e2)) \
    X(dg_bwd_neuron, (const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2, \
                      const double *ref, const int *wide, const double *ed1, const double *ed2, const double *w, \
                      const double *d, const double *out, const double *delta, dg_nstate *st, double *clip), \
      (Lp, B, u, e1, e2, ref, wide, ed1, ed2, w, d, out, delta, st, clip)) \
    X(dg_bwd_neuron_w, (const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2, \
                        const double *ref, const int *wide, const double *ed1, const double *ed2, const double *w, \
                        const double *d, const double *out, const double *delta, dg_nstate *st, double *clip), \
      (Lp, B, u, e1, e2, ref, wide, ed1, ed2, w, d, out, delta, st, clip)) \
    X(dg_bwd_input, (const dg_layer *Lp, long long B, const double *u, const double *e1, const double *e2, \
                     const int *wide, const double *ed1, const double *ed2, const double *w, const double *d, \
                     const dg_nstate *st, double *gin), \
      (Lp, B, u, e1, e2, wide, ed1, ed2, w, d, st, gin)) \
    X(dg_bwd_weight, (const dg_layer *Lp, long long B, long long C, const double *u, const double *e1, \
                      const double *e2, const int *wide, const double *ed1, const double *ed2, const double *w, \
                      const double *d, const dg_nstate *st, double *pW, double *pD), \
      (Lp, B, C, u, e1, e2, wide, ed1, ed2, w, d, st, pW, pD)) \
    X(dg_chunksum, (long long n, long long nch, long long stride, const double *part, double *out), \
      (n, nch, stride, part, out)) \
    X(dg_colsum, (long long B, long long N, long long C, long long nmem, const double *x, double *part), \
      (B, N, C, nmem, x, part)) \
    X(dg_dendsum, (long long B, long long K, long long C, long long nmem, const dg_nstate *st, double *part), \
      (B, K, C, nmem, st, part)) \
    X(dg_clipsum, (long long B, long long K, long long C, long long nmem, const dg_nstate *st, double *part), \
      (B, K, C, nmem, st, part)) \
    X(dg_unmux, (long long B, long long F, long long mux, const double *g, double *out), (B, F, mux, g, out)) \
    X(dg_sync_w, (long long n, double step, const double *W, double *Wn), (n, step, W, Wn)) \
    X(dg_sync_d, (long long n, long long kind, double shift, double scale, const double *theta, double *d), \
      (n, kind, shift, scale, theta, d)) \
    X(dg_silent, (long long B, long long K, long long C, long long nmem, const double *t, double *part), \
      (B, K, C, nmem, t, part)) \
    X(dg_loss, (long long B, long long K, long long kind, double p1, double p2, double p3, double inv, \
                const double *t, const int *labels, double *dOut, double *loss, double *correct), \
      (B, K, kind, p1, p2, p3, inv, t, labels, dOut, loss, correct)) \
    X(dg_decide, (long long B, long long nl, long long nmem, const double *rule, const double *silent, \
                  const double *correct, double *ctl), (B, nl, nmem, rule, silent, correct, ctl)) \
    X(dg_update_if, (long long n, double b1, double b2, double eps, const double *tab, long long stride, \
                     long long gi, const double *ctl, const double *g, double *m, double *v, double *p, \
                     long long kind, double a1, double a2, double *out, long long bl, long long K, \
                     long long targeted, const double *count, long long nmem), \
      (n, b1, b2, eps, tab, stride, gi, ctl, g, m, v, p, kind, a1, a2, out, bl, K, targeted, count, nmem)) \
    X(dg_batch_in, (long long B, long long F, long long b, const double *ctl, const double *X, const int *Y, \
                    double *xb, int *yb, long long N, double *z1, double *z2, long long nmem), \
      (B, F, b, ctl, X, Y, xb, yb, N, z1, z2, nmem)) \
    X(dg_accum, (long long B, long long nl, long long nmem, const double *rule, const double *upd, double *ctl), \
      (B, nl, nmem, rule, upd, ctl)) \
    X(dg_clean_if, (long long n, long long nmem, const double *ctl, const double *x, double *out), \
      (n, nmem, ctl, x, out)) \
    X(dg_pert_rank, (long long n, long long nmem, const dg_pmember *M, const double *data, double *su, int *sidx, \
                     int *cnt), (n, nmem, M, data, su, sidx, cnt)) \
    X(dg_pert_spike, (long long n, long long nmem, const dg_pmember *M, const double *data, const double *su, \
                      const int *sidx, const int *cnt, double *out), (n, nmem, M, data, su, sidx, cnt, out))

#endif /* DELGRAD_CUH */
