/* rect.h - screen rectangles of partial images: [x0, x1) x [y0, y1) in pixels, row 0 on top.
 * Empty when x0 >= x1 or y0 >= y1 (then all four are 0 where this file makes one). */
#ifndef RR_RECT_H
#define RR_RECT_H

#include <stddef.h>
#include <stdint.h>

typedef struct rr_rect {
    int32_t x0, y0, x1, y1;
} rr_rect;

static inline int rr_rect_empty(rr_rect a) { return a.x0 >= a.x1 || a.y0 >= a.y1; }

static inline uint64_t rr_rect_area(rr_rect a) {
    return rr_rect_empty(a) ? 0 : (uint64_t)(a.x1 - a.x0) * (uint64_t)(a.y1 - a.y0);
}

static inline rr_rect rr_rect_and(rr_rect a, rr_rect b) {
    rr_rect r = {a.x0 > b.x0 ? a.x0 : b.x0, a.y0 > b.y0 ? a.y0 : b.y0, a.x1 < b.x1 ? a.x1 : b.x1,
                 a.y1 < b.y1 ? a.y1 : b.y1};
    if (rr_rect_empty(r)) r.x0 = r.y0 = r.x1 = r.y1 = 0;
    return r;
}

/* The bounding box of both (an empty one does not count). */
static inline rr_rect rr_rect_bbox(rr_rect a, rr_rect b) {
    if (rr_rect_empty(a)) return rr_rect_empty(b) ? (rr_rect){0, 0, 0, 0} : b;
    if (rr_rect_empty(b)) return a;
    rr_rect r = {a.x0 < b.x0 ? a.x0 : b.x0, a.y0 < b.y0 ? a.y0 : b.y0, a.x1 > b.x1 ? a.x1 : b.x1,
                 a.y1 > b.y1 ? a.y1 : b.y1};
    return r;
}

/* A region of an image: `px` holds r's pixels, `stride` pixels per row (compositing's result at
 * rank 0: disjoint pieces; every pixel outside them is transparent). */
typedef struct rr_piece {
    rr_rect r;
    const uint8_t *px;
    size_t stride;
} rr_piece;

/* The bounding rectangle of the non-zero pixels of a W x H RGBA8 image (premultiplied: a
 * transparent pixel is 0). OpenMP over rows. */
rr_rect rr_image_rect(const uint8_t *img, int W, int H);
/* The same within `in` only (pixels outside it are not looked at). */
rr_rect rr_image_rect_in(const uint8_t *img, int W, rr_rect in);
/* One row's non-zero pixels within [x0, x1): 1 and [*a, *b), or 0 when there are none. */
int rr_row_span(const uint8_t *row, int x0, int x1, int *a, int *b);

/* Zeroes the pixels of `dirty` that are outside `keep` (at most 4 strips) of a W-wide image. */
void rr_clear_outside(uint8_t *img, int W, rr_rect dirty, rr_rect keep);


#endif
