/* rect.c - see rect.h. */
#include "rect.h"

#include <string.h>

rr_rect rr_image_rect(const uint8_t *img, int W, int H) {
    const rr_rect all = {0, 0, W, H};
    return rr_image_rect_in(img, W, all);
}

int rr_row_span(const uint8_t *row, int x0, int x1, int *a, int *b) {
    /* most rows of a partial image are empty: one OR over the row first (vectorised) */
    uint32_t any = 0;
    for (int x = x0; x < x1; x++) {
        uint32_t p;
        memcpy(&p, row + 4 * (size_t)x, 4);
        any |= p;
    }
    if (!any) return 0;
    int l = x0, r = x1;
    for (;; l++) {
        uint32_t p;
        memcpy(&p, row + 4 * (size_t)l, 4);
        if (p) break;
    }
    for (;; r--) {
        uint32_t p;
        memcpy(&p, row + 4 * (size_t)(r - 1), 4);
        if (p) break;
    }
    *a = l, *b = r;
    return 1;
}

rr_rect rr_image_rect_in(const uint8_t *img, int W, rr_rect in) {
    if (rr_rect_empty(in)) return (rr_rect){0, 0, 0, 0};
    int x0 = in.x1, y0 = in.y1, x1 = in.x0, y1 = in.y0;
    /* a band of a few rows (stream compositing) is quicker on this thread than waking a team */
#pragma omp parallel for schedule(static) reduction(min : x0, y0) reduction(max : x1, y1) if (rr_rect_area(in) > 262144)
    for (int y = in.y0; y < in.y1; y++) {
        int a, b;
        if (!rr_row_span(img + (size_t)y * W * 4, in.x0, in.x1, &a, &b)) continue;
        if (a < x0) x0 = a;
        if (b > x1) x1 = b;
        if (y < y0) y0 = y;
        if (y + 1 > y1) y1 = y + 1;
    }
    rr_rect r = {x0, y0, x1, y1};
    if (rr_rect_empty(r)) r.x0 = r.y0 = r.x1 = r.y1 = 0;
    return r;
}

void rr_clear_outside(uint8_t *img, int W, rr_rect dirty, rr_rect keep) {
    if (rr_rect_empty(dirty)) return;
    const size_t row = (size_t)W * 4;
    const rr_rect k = rr_rect_and(dirty, keep);
    /* rows of dirty above and below keep, then left and right of it on its rows */
    const int ya = rr_rect_empty(k) ? dirty.y1 : k.y0, yb = rr_rect_empty(k) ? dirty.y1 : k.y1;
    /* Frame after frame this is a few rows where the footprint moved (tens of KB): one thread;
     * the whole team only for megabytes. On the H200 x2 a rank sometimes took 0.8-8 ms from a
     * frame's request to its stream set-up (1-3 frames of 64 in 3 of 9 traced series, none in
     * the others; tests/rr_timeline.py), and on rank 1 this region is the only OpenMP work on
     * that path: a team thread not scheduled in time holds the join. (The suspect, not measured
     * since: no GPU time was left.) */
    const uint64_t bytes = (rr_rect_area(dirty) - rr_rect_area(k)) * 4;
#pragma omp parallel for schedule(static) if (bytes >= ((uint64_t)4 << 20))
    for (int y = dirty.y0; y < dirty.y1; y++) {
        uint8_t *p = img + (size_t)y * row;
        if (y < ya || y >= yb) {
            memset(p + (size_t)dirty.x0 * 4, 0, (size_t)(dirty.x1 - dirty.x0) * 4);
        } else {
            if (k.x0 > dirty.x0) memset(p + (size_t)dirty.x0 * 4, 0, (size_t)(k.x0 - dirty.x0) * 4);
            if (dirty.x1 > k.x1) memset(p + (size_t)k.x1 * 4, 0, (size_t)(dirty.x1 - k.x1) * 4);
        }
    }
}
