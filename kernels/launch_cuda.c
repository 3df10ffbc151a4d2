//go:build cuda

// The CUDA driver calls behind cuDevice.Launch and GPU.Record, each one
// cgo call: the argument pointers live on the C stack (gorgonia.org/cu's
// Launch allocates and frees two C arrays per launch), and CUDA graphs,
// which gorgonia.org/cu does not wrap, record a batch's launches once for
// replay.
#include <cuda.h>

int dg_launch(void *f, unsigned int grid, unsigned int block, unsigned long long *words, int n, void *stream) {
    void *params[32];
    if (n > 32) return CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < n; i++) params[i] = &words[i];
    return cuLaunchKernel((CUfunction)f, grid, 1, 1, block, 1, 1, 0, (CUstream)stream, params, 0);
}

int dg_driver_version(int *v) { return cuDriverGetVersion(v); }

/* A stream to record on (the legacy default stream cannot be captured). */
int dg_stream_create(void **s) { return cuStreamCreate((CUstream *)s, CU_STREAM_DEFAULT); }

int dg_stream_destroy(void *s) { return cuStreamDestroy((CUstream)s); }

int dg_capture_begin(void *s) { return cuStreamBeginCapture((CUstream)s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL); }

/* Ends the capture on s; when ok, instantiates the graph into *exec. */
int dg_capture_end(void *s, int ok, void **exec) {
    CUgraph g = 0;
    CUresult r = cuStreamEndCapture((CUstream)s, &g);
    if (r == CUDA_SUCCESS && ok) r = cuGraphInstantiateWithFlags((CUgraphExec *)exec, g, 0);
    if (g) cuGraphDestroy(g);
    return r;
}

int dg_graph_launch(void *exec) { return cuGraphLaunch((CUgraphExec)exec, 0); }

int dg_graph_destroy(void *exec) { return cuGraphExecDestroy((CUgraphExec)exec); }
