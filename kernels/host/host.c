// host.c runs the kernel bodies of ../delgrad.cuh in plain loops on the
// CPU: every loop below is one kernel launch of ../delgrad.cu, one
// iteration one GPU thread.
#include "host.h"

void dg_host_forward(const dg_layer *L, int B, const double *in, double *out, const double *w, const double *d,
                     const double *bias, double *su, int *sidx, double *e1, double *te1, double *e2, double *ref,
                     double *shift) {
    int R = L->rows;
    if (L->delay == DG_SYNAPTIC) {
        for (int s = 0; s < B; s++) {
            for (int k = 0; k < L->out; k++) {
                int o = (s * L->out + k) * R;
                int n = dg_prepare(L, in + s * L->in, d, bias, k, su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o);
                out[s * L->out + k] = dg_first_spike(L, n, su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o, w, d, k);
            }
        }
        return;
    }
    for (int s = 0; s < B; s++) {
        int o = s * R;
        int n = dg_prepare(L, in + s * L->in, d, bias, 0, su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o);
        for (int k = 0; k < L->out; k++) {
            out[s * L->out + k] = dg_first_spike(L, n, su + o, sidx + o, e1 + o, te1 + o, e2 + o, ref + o, shift + o, w, d, k);
        }
    }
}

void dg_host_backward(const dg_layer *L, int B, const double *in, const double *out, const double *delta,
                      double *gin, double *dW, double *dD, const double *w, const double *d, const double *bias,
                      double *u, double *e1, double *e2, double *ref, int *wide, double *ed1, double *ed2,
                      dg_nstate *st) {
    int R = L->rows, I = L->in, K = L->out;
    double inv = 1 / L->tau;
    double dspan = 0;
    if (L->delay == DG_SYNAPTIC) {
        double dmin = DG_INF, dmax = -DG_INF;
        for (int j = 0; j < I * K; j++) {
            double v = d[j] * inv;
            ed1[j] = exp(v);
            ed2[j] = exp(v / 2);
            dmin = dg_min(dmin, v);
            dmax = dg_max(dmax, v);
        }
        dspan = dg_max(fabs(dmin), fabs(dmax));
    }
    for (int s = 0; s < B; s++) /* kernel: back_prepare */
        dg_back_prepare(L, in + s * I, d, bias, dspan, u + s * R, e1 + s * R, e2 + s * R, ref + s, wide + s);
    for (int s = 0; s < B; s++) /* kernel: back_neuron */
        for (int k = 0; k < K; k++)
            st[s * K + k] = dg_back_neuron(L, u + s * R, e1 + s * R, e2 + s * R, ref[s], wide[s], ed1, ed2, w, d,
                                           out[s * K + k], delta[s * K + k], k);
    for (int s = 0; s < B; s++) /* kernel: back_input */
        for (int i = 0; i < I; i++)
            gin[s * I + i] = dg_back_input(L, u + s * R, e1 + s * R, e2 + s * R, wide[s], ed1, ed2, w, d, st + s * K, i);
    for (int i = 0; i < R; i++) /* kernel: back_weight */
        for (int k = 0; k < K; k++)
            dg_back_weight(L, B, u, e1, e2, wide, ed1, ed2, w, d, st, i, k, &dW[i * K + k],
                           L->delay == DG_SYNAPTIC && i < I ? &dD[i * K + k] : 0);
    if (L->delay == DG_AXONAL) { /* kernel: sum_rows */
        for (int i = 0; i < I; i++) {
            double g = 0;
            for (int s = 0; s < B; s++) g += gin[s * I + i];
            dD[i] = g;
        }
    } else if (L->delay == DG_DENDRITIC) {
        for (int k = 0; k < K; k++) {
            double g = 0;
            for (int s = 0; s < B; s++) g += st[s * K + k].dend;
            dD[k] = g;
        }
    }
}
