#ifndef DELGRAD_HOST_H
#define DELGRAD_HOST_H
#include "delgrad.cuh"

void dg_host_forward(const dg_layer *L, int B, const double *in, double *out, const double *w, const double *d,
                     const double *bias, double *su, int *sidx, double *e1, double *te1, double *e2, double *ref,
                     double *shift);
void dg_host_backward(const dg_layer *L, int B, const double *in, const double *out, const double *delta,
                      double *gin, double *dW, double *dD, const double *w, const double *d, const double *bias,
                      double *u, double *e1, double *e2, double *ref, int *wide, double *ed1, double *ed2,
                      dg_nstate *st);
#endif
