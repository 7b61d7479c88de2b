/* decomp.h - slab decomposition of a volume (no MPI): one scan of the bytes gives the data
 * range, NaN count and the cost of every 16-layer block; cuts balance that cost. */
#ifndef RR_DECOMP_H
#define RR_DECOMP_H

#include <stddef.h>
#include <stdint.h>

#define RR_BRICK 16
#define RR_GHOST 2

typedef struct rr_scan {
    double min, max;     /* over non-NaN voxels; NaN when all are NaN */
    uint64_t nan_count;
    uint64_t blocks;     /* ceil(A / 16) */
    double *cost;        /* cost[blocks]: 8 per non-empty brick + 1 per brick; malloc'd */
} rr_scan;

/* Memory axes (A slowest .. C fastest) of a volume: C order (s0,s1,s2), F order (s2,s1,s0). */
void rr_mem_axes(const uint64_t shape[3], int order, uint64_t abc[3]);

/* Scans `data` (A*B*C elements of dtype, A slowest). OpenMP-parallel. 0 ok, -2 no memory,
 * -4 bad dtype. */
int rr_scan_volume(const void *data, int32_t dtype, const uint64_t abc[3], rr_scan *out);
void rr_scan_free(rr_scan *s);

/* Cuts A layers into n slabs (bounds[n+1], bounds[0] = 0, bounds[n] = A, non-decreasing,
 * multiples of 16 except A) balancing cost[]. */
void rr_cut(const double *cost, uint64_t blocks, uint64_t A, int n, uint64_t *bounds);

/* The render cuts follow the rendering cost. A rank holds `margin` layers beyond each of its
 * inner cuts (rr_margin), so the cut it renders to (world coordinate bw[j], spacing sp per
 * layer) can move within margin layers of bounds[j] without moving data. After a frame that
 * cost cost[i] on rank i, each inner cut moves by half of what would give its two neighbours
 * equal costs if the cost were spread evenly along the axis (views change gradually: the next
 * frame's split is close to this one's), within the margin. */
void rr_follow_cuts(int n, const uint64_t *bounds, uint64_t margin, double sp, const double *cost, double *bw);

/* The margin for slabs bounds[n+1]: an eighth of the thinnest non-empty slab, in whole bricks;
 * 0 for one rank. */
uint64_t rr_margin(int n, const uint64_t *bounds);

/* The window librvr would choose automatically from a data range (constant -> [min, min+1]). */
void rr_auto_window(double min, double max, double *lo, double *hi);

#endif
