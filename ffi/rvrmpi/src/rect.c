/* rect.c - see rect.h. */
#include "rect.h"

#include <string.h>

rr_rect rr_image_rect(const uint8_t *img, int W, int H) {
    int x0 = W, y0 = H, x1 = 0, y1 = 0;
#pragma omp parallel for schedule(static) reduction(min : x0, y0) reduction(max : x1, y1)
    for (int y = 0; y < H; y++) {
        const uint8_t *row = img + (size_t)y * W * 4;
        /* most rows of a partial image are empty: one OR over the row first (vectorised) */
        uint32_t any = 0;
        for (int x = 0; x < W; x++) {
            uint32_t p;
            memcpy(&p, row + 4 * (size_t)x, 4);
            any |= p;
        }
        if (!any) continue;
        int a = 0, b = W;
        for (;; a++) {
            uint32_t p;
            memcpy(&p, row + 4 * (size_t)a, 4);
            if (p) break;
        }
        for (;; b--) {
            uint32_t p;
            memcpy(&p, row + 4 * (size_t)(b - 1), 4);
            if (p) break;
        }
        if (a < x0) x0 = a;
        if (b > x1) x1 = b;
        if (y < y0) y0 = y;
        if (y + 1 > y1) y1 = y + 1;
    }
    rr_rect r = {x0, y0, x1, y1};
    if (rr_rect_empty(r)) r.x0 = r.y0 = r.x1 = r.y1 = 0;
    return r;
}
