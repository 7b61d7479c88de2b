/* composite_test.c - the pieces of compositing that need no MPI job: rectangles of partial
 * images, auto's choice of algorithm (a dry run counts bytes), the final image's finishing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "composite.h"
#include "finish.h"
#include "harness.h"
#include "rect.h"
#include "rvr.h"

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

/* A slab's footprint for rvr_render_region (rvr_camera_box_region, 2 pixels of margin) holds
 * every pixel librvr draws of it (a solid box rendered whole, perspective and orthographic,
 * several views), and is at most the margin larger; a corner behind the eye gives the whole
 * image. */
TEST(box_footprint_holds_what_librvr_draws_of_the_box) {
    const int N = 24, W = 160, H = 100;
    uint8_t *v = malloc((size_t)N * N * N);
    memset(v, 255, (size_t)N * N * N);
    rvr_renderer *r = NULL;
    CHECK_OK(rvr_renderer_create(RVR_BACKEND_CPU, &r));
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = d.shape[1] = d.shape[2] = N;
    d.dtype = RVR_DTYPE_U8;
    d.spacing[0] = 2, d.spacing[1] = 1, d.spacing[2] = 1.5f; /* world box 36 x 24 x 48 */
    d.window_lo = 0, d.window_hi = 255;
    CHECK_OK(rvr_renderer_set_volume(r, &d, v, (uint64_t)N * N * N));
    const float tf[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_OK(rvr_renderer_set_tf(r, tf, 2));
    uint8_t *img = malloc((size_t)W * H * 4);
    const double lo[3] = {0, 0, 0}, hi[3] = {36, 24, 48};
    for (int proj = 0; proj < 2; proj++)
        for (int k = 0; k < 5; k++) {
            rvr_camera c;
            rvr_camera_init(&c);
            const float a = 0.3f + 1.1f * (float)k;
            c.eye[0] = 18 + 90 * cosf(a), c.eye[1] = 12 + 90 * sinf(a), c.eye[2] = 24 + 20 * (float)(k - 2);
            c.target[0] = 18 + (float)k, c.target[1] = 12, c.target[2] = 24;
            c.up[0] = 0, c.up[1] = 0, c.up[2] = 1;
            c.fov_y_deg = 35;
            if (proj) c.projection = RVR_PROJ_ORTHO, c.ortho_height = 70;
            rvr_render_settings s;
            rvr_render_settings_init(&s);
            s.flags = RVR_F_PREMULTIPLIED;
            s.background[3] = 0;
            CHECK_OK(rvr_render(r, &c, &s, W, H, img, (uint64_t)W * H * 4, NULL));
            const rr_rect drawn = rr_image_rect(img, W, H);
            rvr_region g;
            CHECK_OK(rvr_camera_box_region(&c, W, H, lo, hi, 2, &g));
            const rr_rect fp = {(int32_t)g.x, (int32_t)g.y, (int32_t)(g.x + g.width), (int32_t)(g.y + g.height)};
            CHECK(g.width < (uint32_t)W || g.height < (uint32_t)H, "view %d/%d: the whole image", proj, k);
            CHECK(!rr_rect_empty(drawn), "view %d/%d: nothing drawn", proj, k);
            CHECK(fp.x0 <= drawn.x0 && fp.y0 <= drawn.y0 && fp.x1 >= drawn.x1 && fp.y1 >= drawn.y1,
                  "view %d/%d: drawn [%d %d %d %d] outside the footprint [%d %d %d %d]", proj, k, drawn.x0, drawn.y0,
                  drawn.x1, drawn.y1, fp.x0, fp.y0, fp.x1, fp.y1);
            CHECK(drawn.x0 - fp.x0 <= 3 && drawn.y0 - fp.y0 <= 3 && fp.x1 - drawn.x1 <= 3 && fp.y1 - drawn.y1 <= 3,
                  "view %d/%d: footprint [%d %d %d %d] much larger than drawn [%d %d %d %d]", proj, k, fp.x0, fp.y0, fp.x1,
                  fp.y1, drawn.x0, drawn.y0, drawn.x1, drawn.y1);
        }
    rvr_camera c;
    rvr_camera_init(&c);
    c.eye[0] = 18, c.eye[1] = 12, c.eye[2] = 24; /* inside the box */
    c.target[0] = 40, c.target[1] = 12, c.target[2] = 24;
    c.up[2] = 1;
    rvr_region g;
    CHECK_OK(rvr_camera_box_region(&c, W, H, lo, hi, 2, &g));
    CHECK(g.x == 0 && g.y == 0 && g.width == (uint32_t)W && g.height == (uint32_t)H, "a corner behind the eye must give the whole image");
    const double off_lo[3] = {-110, 500, 20}, off_hi[3] = {-100, 510, 30}; /* in front, far to the side */
    c.eye[0] = 0, c.eye[1] = 0, c.eye[2] = 24, c.target[0] = -10, c.target[1] = 0, c.target[2] = 24;
    CHECK_OK(rvr_camera_box_region(&c, W, H, off_lo, off_hi, 2, &g));
    CHECK(g.width == 0 && g.height == 0, "a box far to the side is off the image");
    CHECK(rvr_camera_box_region(NULL, W, H, lo, hi, 2, &g) == RVR_ERR_INVALID, "NULL camera accepted");
    free(img);
    free(v);
    rvr_renderer_destroy(r);
}
