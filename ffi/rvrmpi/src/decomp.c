/* decomp.c - see decomp.h. */
#include "decomp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rr_mem_axes(const uint64_t shape[3], int order, uint64_t abc[3]) {
    if (order == 1) {
        abc[0] = shape[2], abc[1] = shape[1], abc[2] = shape[0];
    } else {
        abc[0] = shape[0], abc[1] = shape[1], abc[2] = shape[2];
    }
}

/* Per 16-layer block: min/max of every 16x16 column of bricks, then the brick count above the
 * threshold is decided after the global range is known (second, cheap pass over brick maxima). */
#define SCAN_BODY(T, ISNAN)                                                                      \
    for (uint64_t a = a0; a < a1; a++)                                                           \
        for (uint64_t b = 0; b < B; b++) {                                                       \
            const T *row = (const T *)data + (a * B + b) * C;                                    \
            double *bm = bmax + (b / RR_BRICK) * nc;                                             \
            for (uint64_t c = 0; c < C; c++) {                                                   \
                double v = (double)row[c];                                               \
                if (ISNAN) {                                                                     \
                    nan++;                                                                       \
                    continue;                                                                    \
                }                                                                                \
                if (v < lmin) lmin = v;                                                          \
                if (v > lmax) lmax = v;                                                          \
                if (v > bm[c / RR_BRICK]) bm[c / RR_BRICK] = v;                                  \
            }                                                                                    \
        }

int rr_scan_volume(const void *data, int32_t dtype, const uint64_t abc[3], rr_scan *out) {
    const uint64_t A = abc[0], B = abc[1], C = abc[2];
    const uint64_t blocks = (A + RR_BRICK - 1) / RR_BRICK;
    const uint64_t nb = (B + RR_BRICK - 1) / RR_BRICK, nc = (C + RR_BRICK - 1) / RR_BRICK;
    if (dtype < 1 || dtype > 6) return -4;
    double *bmax_all = malloc(sizeof(double) * blocks * nb * nc);
    double *cost = calloc(blocks ? blocks : 1, sizeof(double));
    if (!bmax_all || !cost) {
        free(bmax_all);
        free(cost);
        return -2;
    }
    double gmin = INFINITY, gmax = -INFINITY;
    uint64_t gnan = 0;
#pragma omp parallel for schedule(dynamic) reduction(min : gmin) reduction(max : gmax) reduction(+ : gnan)
    for (uint64_t blk = 0; blk < blocks; blk++) {
        double *bmax = bmax_all + blk * nb * nc;
        for (uint64_t i = 0; i < nb * nc; i++) bmax[i] = -INFINITY;
        const uint64_t a0 = blk * RR_BRICK, a1 = a0 + RR_BRICK < A ? a0 + RR_BRICK : A;
        double lmin = INFINITY, lmax = -INFINITY;
        uint64_t nan = 0;
        switch (dtype) {
        case 1: SCAN_BODY(uint8_t, 0) break;
        case 2: SCAN_BODY(uint16_t, 0) break;
        case 3: SCAN_BODY(int16_t, 0) break;
        case 4: SCAN_BODY(uint32_t, 0) break;
        case 5: SCAN_BODY(float, isnan(v)) break;
        default: SCAN_BODY(double, isnan(v)) break;
        }
        if (lmin < gmin) gmin = lmin;
        if (lmax > gmax) gmax = lmax;
        gnan += nan;
    }
    const double thr = gmin + 0.05 * (gmax - gmin);
    const int constant = !(gmax > gmin);
    for (uint64_t blk = 0; blk < blocks; blk++) {
        const double *bmax = bmax_all + blk * nb * nc;
        double c = 0;
        for (uint64_t i = 0; i < nb * nc; i++) c += 1.0 + ((!constant && bmax[i] > thr) ? 8.0 : 0.0);
        cost[blk] = c;
    }
    free(bmax_all);
    out->min = gmin <= gmax ? gmin : NAN;
    out->max = gmin <= gmax ? gmax : NAN;
    out->nan_count = gnan;
    out->blocks = blocks;
    out->cost = cost;
    return 0;
}

void rr_scan_free(rr_scan *s) {
    if (!s) return;
    free(s->cost);
    s->cost = NULL;
}

void rr_cut(const double *cost, uint64_t blocks, uint64_t A, int n, uint64_t *bounds) {
    double total = 0;
    for (uint64_t i = 0; i < blocks; i++) total += cost[i];
    bounds[0] = 0;
    bounds[n] = A;
    double prefix = 0;
    uint64_t j = 0;
    for (int k = 1; k < n; k++) {
        const double target = total * k / n;
        /* advance j while the next block boundary gets closer to the target */
        while (j < blocks && fabs(prefix + cost[j] - target) <= fabs(prefix - target)) prefix += cost[j++];
        uint64_t b = j * RR_BRICK;
        if (b > A) b = A;
        if (b < bounds[k - 1]) b = bounds[k - 1];
        bounds[k] = b;
    }
}

void rr_auto_window(double min, double max, double *lo, double *hi) {
    if (isnan(min) || isnan(max)) {
        *lo = 0, *hi = 1;
    } else if (max > min) {
        *lo = min, *hi = max;
    } else {
        *lo = min, *hi = min + 1;
    }
}

void rr_follow_cuts(int n, const uint64_t *bounds, uint64_t margin, double sp, const double *cost, double *bw) {
    for (int j = 1; j < n; j++) {
        const double lo = cost[j - 1], hi = cost[j];
        if (lo + hi <= 0) continue;
        if (bounds[j - 1] == bounds[j] || bounds[j] == bounds[j + 1]) continue; /* next to an empty slab (no data) */
        const double len = bw[j + 1] - bw[j - 1]; /* the two slabs together */
        double cut = bw[j] + 0.5 * (hi - lo) / (hi + lo) * len / 2;
        const double a = (double)(bounds[j] > margin ? bounds[j] - margin : 0) * sp, b = (double)(bounds[j] + margin) * sp;
        cut = cut < a ? a : (cut > b ? b : cut);
        /* never past a neighbour's cut (they moved already or move next: keep the order) */
        if (cut < bw[j - 1]) cut = bw[j - 1];
        if (cut > bw[j + 1]) cut = bw[j + 1];
        bw[j] = cut;
    }
}

uint64_t rr_margin(int n, const uint64_t *bounds) {
    if (n < 2) return 0;
    uint64_t thin = 0;
    for (int i = 0; i < n; i++) {
        const uint64_t t = bounds[i + 1] - bounds[i];
        if (t && (!thin || t < thin)) thin = t;
    }
    return thin / 8 / RR_BRICK * RR_BRICK;
}
