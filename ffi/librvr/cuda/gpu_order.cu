/* gpu_order.cu - the order in which a frame's tile rows are rendered: the costliest first.
 *
 * Why: a frame ends when its last block ends. Launched top down, the blocks that start last are
 * whatever rows the image ends with, and a row of deep rays there keeps the GPU waiting on a few
 * blocks while the rest of its SMs idle. Longest-first (the last frame's samples per tile row
 * standing in for this frame's: views change gradually) leaves the cheap rows for the end, where
 * they fill the SMs as the expensive ones drain. Rows, not tiles: neighbouring tiles share the
 * texture cache, and a row keeps them together. A distributed rank's slab, whose deep rays sit
 * at one edge of its region (the cut), is where it matters most (issue 12).
 *
 * RVR_CUDA_ROW_ORDER=top renders top down as before (for comparisons). */
#include "gpu_internal.cuh"

#include <stdlib.h>
#include <string.h>

static const unsigned long long UNKNOWN = ~0ull;

struct RowKey {
    unsigned long long cost;
    int j;
};

/* most first; equal ones (never measured ones among them) top down (qsort: no C++ runtime here) */
static int by_cost(const void *pa, const void *pb) {
    const RowKey *a = (const RowKey *)pa, *b = (const RowKey *)pb;
    if (a->cost != b->cost) return a->cost > b->cost ? -1 : 1;
    return a->j - b->j;
}

static int order_by_cost(void) {
    const char *e = getenv("RVR_CUDA_ROW_ORDER");
    return !(e && strcmp(e, "top") == 0);
}

int rvr__gpu_rows_begin(rvr_gpu *G, uint32_t W, uint32_t H, int lod, int ty0, int rty, const int **order,
                                   unsigned long long **cost) {
    *order = NULL;
    *cost = NULL;
    if (!order_by_cost() || rty < 2) return RVR_OK;
    const int nty = (int)(((H + lod - 1) / lod + 15) / 16);
    if (ty0 < 0 || ty0 + rty > nty) return RVR_OK;
    if (G->rows_cap < (size_t)nty) {
        rvr__gpu_rows_free(G); /* (also what a failed allocation below left) */
        if (!(G->row_keys = malloc(nty * sizeof(RowKey)))) return RVR_ERR_NOMEM;
        GTRY(cudaMalloc((void **)&G->row_cost_d, nty * sizeof(unsigned long long)));
        GTRY(cudaMalloc((void **)&G->row_order_d, nty * sizeof(int)));
        GTRY(cudaHostAlloc((void **)&G->row_cost_h, nty * sizeof(unsigned long long), cudaHostAllocPortable));
        GTRY(cudaHostAlloc((void **)&G->row_order_h, nty * sizeof(int), cudaHostAllocPortable));
        G->rows_cap = (size_t)nty;
        G->rows_W = 0; /* no costs known */
    }
    if (G->rows_W != W || G->rows_H != H || G->rows_lod != lod) { /* another frame size: start over */
        for (int i = 0; i < nty; i++) G->row_cost_h[i] = UNKNOWN;
        G->rows_W = W, G->rows_H = H, G->rows_lod = lod;
    }
    /* rows never measured first (top down), then the rest by last frame's samples, most first */
    RowKey *k = (RowKey *)G->row_keys;
    for (int j = 0; j < rty; j++) k[j] = RowKey{G->row_cost_h[ty0 + j], j};
    qsort(k, (size_t)rty, sizeof *k, by_cost);
    int *o = G->row_order_h;
    for (int j = 0; j < rty; j++) o[j] = k[j].j;
    GTRY(cudaMemcpyAsync(G->row_order_d, o, rty * sizeof(int), cudaMemcpyHostToDevice, G->st));
    GTRY(cudaMemsetAsync(G->row_cost_d + ty0, 0, rty * sizeof(unsigned long long), G->st));
    *order = G->row_order_d;
    *cost = G->row_cost_d;
    return RVR_OK;
}

int rvr__gpu_rows_end(rvr_gpu *G, int ty0, int rty) {
    /* read by the next frame's rvr__gpu_rows_begin, after this frame's stream synchronization */
    GTRY(cudaMemcpyAsync(G->row_cost_h + ty0, G->row_cost_d + ty0, rty * sizeof(unsigned long long),
                         cudaMemcpyDeviceToHost, G->st));
    return RVR_OK;
}

void rvr__gpu_rows_free(rvr_gpu *G) {
    if (G->row_cost_d) cudaFree(G->row_cost_d);
    if (G->row_order_d) cudaFree(G->row_order_d);
    if (G->row_cost_h) cudaFreeHost(G->row_cost_h);
    if (G->row_order_h) cudaFreeHost(G->row_order_h);
    free(G->row_keys);
    G->row_cost_d = NULL, G->row_order_d = NULL, G->row_cost_h = NULL, G->row_order_h = NULL, G->row_keys = NULL;
    G->rows_cap = 0;
}
