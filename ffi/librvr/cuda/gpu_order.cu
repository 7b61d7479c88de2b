/* gpu_order.cu - the order in which a frame's tiles are rendered: the costliest first.
 *
 * Why: a frame ends when its last block ends. Launched top down, the blocks that start last are
 * whatever rows the image ends with, and deep rays there keep the GPU waiting on a few blocks
 * while the rest of its SMs idle. Longest-first (the last frame's samples per tile standing in
 * for this frame's: views change gradually) leaves the cheap tiles for the end, where they fill
 * the SMs as the expensive ones drain. That drain is a fixed cost of every render: on the H200,
 * 2048^3 float32 at 1920x1080 (composite + S1), one frame rendered as two halves of the image
 * took 1.14x one render with tile rows ordered, 1.20x top down, and 1.005x with single tiles
 * ordered (a row of the image mixes the deepest rays with empty ones; bench/RESULTS.md). For a
 * rows consumer too (rvr_render_region_rows: a distributed rank streaming its rows to the
 * compositor), although a row is handed over only once all its tiles are done: the cheap tiles
 * left for the end are spread over many rows, and they still come in while the GPU renders. On
 * the H200 x2 a rank's slab rendered in 2.81-2.85 ms instead of 3.02-3.10 (tile rows), and the
 * compositing after the last render ended took no longer (0.08 ms). Open: a volume larger than
 * one GPU (3400^3 float32 on two H200, 73 GiB a GPU) renders 9% slower this way than by rows
 * (8.58 vs 7.85 ms), likely the texture touched all over at once (coarser buckets to try).
 *
 * RVR_CUDA_ROW_ORDER=top renders top down, =rows orders whole tile rows (comparisons). */
#include "gpu_internal.cuh"

#include <stdlib.h>
#include <string.h>

static const unsigned long long UNKNOWN = ~0ull;
enum { ORDER_TOP, ORDER_ROWS, ORDER_TILES };
enum { BUCKETS = 1024 }; /* tiles of costs within 1/1024 of the largest keep their places (rows) */

static int order_mode(void) {
    const char *e = getenv("RVR_CUDA_ROW_ORDER");
    if (e && strcmp(e, "top") == 0) return ORDER_TOP;
    if (e && strcmp(e, "rows") == 0) return ORDER_ROWS;
    return ORDER_TILES;
}

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

/* region tile t = j * rtx + i in o[]: rows by their summed cost, most first */
static void order_rows(const unsigned long long *c, int ntx, int tx0, int ty0, int rtx, int rty, RowKey *k, int *o) {
    for (int j = 0; j < rty; j++) {
        unsigned long long sum = 0;
        for (int i = 0; i < rtx && sum != UNKNOWN; i++) {
            const unsigned long long v = c[(size_t)(ty0 + j) * ntx + tx0 + i];
            sum = v == UNKNOWN ? UNKNOWN : sum + v;
        }
        k[j] = RowKey{sum, j};
    }
    qsort(k, (size_t)rty, sizeof *k, by_cost);
    int q = 0;
    for (int r = 0; r < rty; r++)
        for (int i = 0; i < rtx; i++) o[q++] = k[r].j * rtx + i;
}

/* region tiles by cost, most first: never measured ones first, then a counting sort into
 * BUCKETS of the largest cost (linear: O(tiles) on the frame's path), each bucket in image order */
static void order_tiles(const unsigned long long *c, int ntx, int tx0, int ty0, int rtx, int rty, int *count, int *o) {
    unsigned long long top = 0;
    for (int j = 0; j < rty; j++)
        for (int i = 0; i < rtx; i++) {
            const unsigned long long v = c[(size_t)(ty0 + j) * ntx + tx0 + i];
            if (v != UNKNOWN && v > top) top = v;
        }
    /* bucket BUCKETS: unknown (first); b < BUCKETS: cost * (BUCKETS - 1) / top, the largest first */
    memset(count, 0, sizeof(int) * (BUCKETS + 2));
    const double scale = top ? (double)(BUCKETS - 1) / (double)top : 0;
#define BUCKET(v) ((v) == UNKNOWN ? 0 : BUCKETS - (int)((double)(v) * scale))
    for (int j = 0; j < rty; j++)
        for (int i = 0; i < rtx; i++) count[BUCKET(c[(size_t)(ty0 + j) * ntx + tx0 + i]) + 1]++;
    for (int b = 1; b <= BUCKETS + 1; b++) count[b] += count[b - 1]; /* count[b]: first place of bucket b */
    for (int j = 0; j < rty; j++)
        for (int i = 0; i < rtx; i++) o[count[BUCKET(c[(size_t)(ty0 + j) * ntx + tx0 + i])]++] = j * rtx + i;
#undef BUCKET
}

int rvr__gpu_order_begin(rvr_gpu *G, uint32_t W, uint32_t H, int lod, int tx0, int ty0, int rtx, int rty, const int **order,
                         unsigned long long **cost) {
    *order = NULL;
    *cost = NULL;
    const int mode = order_mode();
    if (mode == ORDER_TOP || rtx * rty < 2) return RVR_OK;
    const int ntx = (int)(((W + lod - 1) / lod + 15) / 16), nty = (int)(((H + lod - 1) / lod + 15) / 16);
    if (tx0 < 0 || ty0 < 0 || tx0 + rtx > ntx || ty0 + rty > nty) return RVR_OK;
    const size_t ntiles = (size_t)ntx * nty;
    if (G->order_cap < ntiles) {
        rvr__gpu_order_free(G); /* (also what a failed allocation below left) */
        /* rows' keys (at most nty <= ntiles) or the buckets' counts: sized by ntiles, it fits
         * whatever frame shape comes next without growing the arrays above */
        const size_t scratch = (ntiles > BUCKETS + 2 ? ntiles : BUCKETS + 2) * sizeof(RowKey);
        if (!(G->order_scratch = malloc(scratch))) return RVR_ERR_NOMEM;
        GTRY(cudaMalloc((void **)&G->tile_cost_d, ntiles * sizeof(unsigned long long)));
        GTRY(cudaMalloc((void **)&G->tile_order_d, ntiles * sizeof(int)));
        GTRY(cudaHostAlloc((void **)&G->tile_cost_h, ntiles * sizeof(unsigned long long), cudaHostAllocPortable));
        GTRY(cudaHostAlloc((void **)&G->tile_order_h, ntiles * sizeof(int), cudaHostAllocPortable));
        G->order_cap = ntiles;
        G->order_W = 0; /* no costs known */
    }
    if (G->order_W != W || G->order_H != H || G->order_lod != lod) { /* another frame size: start over */
        for (size_t t = 0; t < ntiles; t++) G->tile_cost_h[t] = UNKNOWN;
        G->order_W = W, G->order_H = H, G->order_lod = lod;
    }
    if (mode == ORDER_ROWS) order_rows(G->tile_cost_h, ntx, tx0, ty0, rtx, rty, (RowKey *)G->order_scratch, G->tile_order_h);
    else order_tiles(G->tile_cost_h, ntx, tx0, ty0, rtx, rty, (int *)G->order_scratch, G->tile_order_h);
    GTRY(cudaMemcpyAsync(G->tile_order_d, G->tile_order_h, (size_t)rtx * rty * sizeof(int), cudaMemcpyHostToDevice, G->st));
    const size_t pitch = (size_t)ntx * sizeof(unsigned long long);
    GTRY(cudaMemset2DAsync(G->tile_cost_d + (size_t)ty0 * ntx + tx0, pitch, 0, (size_t)rtx * sizeof(unsigned long long), (size_t)rty, G->st));
    *order = G->tile_order_d;
    *cost = G->tile_cost_d;
    return RVR_OK;
}

int rvr__gpu_order_end(rvr_gpu *G, int ntx, int tx0, int ty0, int rtx, int rty) {
    /* read by the next frame's rvr__gpu_order_begin, after this frame's stream synchronization */
    const size_t pitch = (size_t)ntx * sizeof(unsigned long long), at = (size_t)ty0 * ntx + tx0;
    GTRY(cudaMemcpy2DAsync(G->tile_cost_h + at, pitch, G->tile_cost_d + at, pitch, (size_t)rtx * sizeof(unsigned long long), (size_t)rty,
                           cudaMemcpyDeviceToHost, G->st));
    return RVR_OK;
}

void rvr__gpu_order_free(rvr_gpu *G) {
    if (G->tile_cost_d) cudaFree(G->tile_cost_d);
    if (G->tile_order_d) cudaFree(G->tile_order_d);
    if (G->tile_cost_h) cudaFreeHost(G->tile_cost_h);
    if (G->tile_order_h) cudaFreeHost(G->tile_order_h);
    free(G->order_scratch);
    G->tile_cost_d = NULL, G->tile_order_d = NULL, G->tile_cost_h = NULL, G->tile_order_h = NULL, G->order_scratch = NULL;
    G->order_cap = 0;
}
