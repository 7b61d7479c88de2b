/* composite_test.c - the pieces of compositing that need no MPI job: rectangles of partial
 * images, auto's choice of algorithm (a dry run counts bytes), the final image's finishing. */
#include <stdlib.h>
#include <string.h>

#include "composite.h"
#include "finish.h"
#include "harness.h"
#include "rect.h"

TEST(rect_of_an_image_is_the_box_of_its_nonzero_pixels) {
    const int W = 37, H = 23;
    uint8_t *img = calloc((size_t)W * H, 4);
    rr_rect r = rr_image_rect(img, W, H);
    CHECK(rr_rect_empty(r) && rr_rect_area(r) == 0, "empty image -> %d %d %d %d", r.x0, r.y0, r.x1, r.y1);
    img[(5 * W + 30) * 4 + 3] = 1;  /* alpha only */
    img[(17 * W + 2) * 4 + 0] = 9;  /* colour only (premultiplied rounding) */
    r = rr_image_rect(img, W, H);
    CHECK(r.x0 == 2 && r.y0 == 5 && r.x1 == 31 && r.y1 == 18, "rect %d %d %d %d", r.x0, r.y0, r.x1, r.y1);
    free(img);
}

TEST(rect_and_and_bbox) {
    const rr_rect a = {0, 0, 10, 10}, b = {5, 8, 20, 30}, none = {0, 0, 0, 0};
    const rr_rect i = rr_rect_and(a, b), u = rr_rect_bbox(a, b);
    CHECK(i.x0 == 5 && i.y0 == 8 && i.x1 == 10 && i.y1 == 10, "and");
    CHECK(u.x0 == 0 && u.y0 == 0 && u.x1 == 20 && u.y1 == 30, "bbox");
    CHECK(rr_rect_empty(rr_rect_and(a, (rr_rect){10, 0, 20, 10})), "touching rectangles do not intersect");
    const rr_rect k = rr_rect_bbox(none, b);
    CHECK(k.x0 == 5 && k.y1 == 30, "an empty rectangle does not widen a box");
}

/* Slabs seen from the side: each covers its own band of the screen. Seen along the slab axis:
 * every rectangle is the whole footprint. */
TEST(auto_sends_to_rank0_when_rectangles_are_disjoint_and_splits_work_when_they_overlap) {
    const rr_rect side2[2] = {{100, 500, 1800, 1000}, {100, 80, 1800, 520}};
    const double root = rr_composite_cost(RR_ALGO_ROOT, 2, side2), bs = rr_composite_cost(RR_ALGO_BSWAP, 2, side2),
                 di = rr_composite_cost(RR_ALGO_DIRECT, 2, side2);
    harness_note("2 ranks side by side: root %.0f, bswap %.0f, direct %.0f bytes at the busiest rank", root, bs, di);
    CHECK(root < bs && root < di, "root should win: %.0f %.0f %.0f", root, bs, di);
    CHECK(root >= 1700.0 * 440 * 4 && root < 1700.0 * 440 * 4 + 200000, "root = rank 1's rectangle: %.0f", root);
    rr_rect along[8];
    for (int i = 0; i < 8; i++) along[i] = (rr_rect){200, 100, 1700, 1000};
    const double root8 = rr_composite_cost(RR_ALGO_ROOT, 8, along), bs8 = rr_composite_cost(RR_ALGO_BSWAP, 8, along),
                 di8 = rr_composite_cost(RR_ALGO_DIRECT, 8, along);
    harness_note("8 ranks along the axis: root %.0f, bswap %.0f, direct %.0f", root8, bs8, di8);
    CHECK(bs8 < root8 / 3 && di8 < root8 / 3, "splitting the work should win: %.0f %.0f %.0f", root8, bs8, di8);
    const double full = 1500.0 * 900 * 4;
    /* rank 0 composites its share and then receives the rest of the footprint */
    CHECK(bs8 < full * 2 && di8 < full * 2, "bswap/direct: under two footprints into rank 0");
    rr_rect empty[3] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {10, 10, 20, 20}};
    CHECK(rr_composite_cost(RR_ALGO_BSWAP, 3, empty) < 500000, "empty rectangles cost nothing but rounds");
}

TEST(finish_puts_the_background_under_premultiplied_pieces) {
    const int W = 4, H = 2;
    uint8_t px[2 * 4] = {0, 0, 0, 0, 100, 50, 0, 128}; /* transparent; half-covered orange */
    rr_piece p = {{1, 1, 3, 2}, px, 2};
    uint8_t out[4 * 2 * 4];
    rr_finish f = {.bg = {0, 0, 1, 1}};
    rr_finish_image(&f, &p, 1, out, W, H);
    const uint8_t *o = out + (1 * W + 2) * 4;
    CHECK(out[0] == 0 && out[2] == 255 && out[3] == 255, "background pixel %d %d %d %d", out[0], out[1], out[2], out[3]);
    CHECK(o[0] == 100 && o[1] == 50 && abs(o[2] - 127) <= 1 && o[3] == 255, "over blue: %d %d %d %d", o[0], o[1], o[2], o[3]);
    f.bg[3] = 0; /* transparent background, straight alpha out: colour / alpha */
    rr_finish_image(&f, &p, 1, out, W, H);
    CHECK(abs(o[0] - 199) <= 1 && abs(o[1] - 100) <= 1 && o[3] == 128, "straight: %d %d %d %d", o[0], o[1], o[2], o[3]);
    f.premul = 1;
    rr_finish_image(&f, &p, 1, out, W, H);
    CHECK(o[0] == 100 && o[1] == 50 && o[3] == 128, "premultiplied kept: %d %d %d %d", o[0], o[1], o[2], o[3]);
    f = (rr_finish){.mip = 1, .gray = 1, .bg = {0, 0, 0, 1}};
    uint8_t g[4] = {77, 77, 77, 255};
    rr_piece q = {{0, 0, 1, 1}, g, 1};
    rr_finish_image(&f, &q, 1, out, W, H);
    CHECK(out[0] == 77 && out[3] == 255, "grey MIP value stays grey");
}
