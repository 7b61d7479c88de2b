/* points_test.c - points as spheres: N discs at their projected positions with radii in the
 * ratio of their values; the range filter hides exactly the points outside it; depth
 * compositing with the volume. */
#include "util.h"

enum { WW = 240 };
static const float PX[5] = {20, 50, 90, 140, 200}, PY[5] = {60, 180, 100, 150, 80};
static const float PV[5] = {1, 2, 3, 4, 5};
static const float SCALE = 4;

static void top_camera(rvr_camera *c, float zeye) {
    rvr_camera_init(c);
    c->projection = RVR_PROJ_ORTHO;
    c->eye[0] = c->eye[1] = WW / 2.0f;
    c->eye[2] = zeye;
    c->target[0] = c->target[1] = WW / 2.0f;
    c->target[2] = 0;
    c->ortho_height = WW;
}

static int is_bg(const uint8_t *p) { return p[0] == 0 && p[1] == 0 && p[2] == 0; }

/* Disc of point k: pixel count and centroid in a window around its projected position. */
static void disc(const uint8_t *img, int k, double *area, double *cx, double *cy) {
    float x = PX[k], y = WW - PY[k], r = PV[k] * SCALE + 3;
    double n = 0, sx = 0, sy = 0;
    for (int j = (int)(y - r); j <= (int)(y + r); j++)
        for (int i = (int)(x - r); i <= (int)(x + r); i++) {
            if (i < 0 || j < 0 || i >= WW || j >= WW) continue;
            if (!is_bg(img + ((size_t)j * WW + i) * 4)) {
                n++;
                sx += i + 0.5;
                sy += j + 0.5;
            }
        }
    *area = n;
    *cx = n ? sx / n : -1;
    *cy = n ? sy / n : -1;
}

static rvr_renderer *points_renderer(void) {
    rvr_renderer *r = mk();
    float xyz[15];
    for (int k = 0; k < 5; k++) {
        xyz[3 * k] = PX[k];
        xyz[3 * k + 1] = PY[k];
        xyz[3 * k + 2] = 50;
    }
    CHECK_OK(rvr_renderer_set_points(r, xyz, PV, 5));
    return r;
}

TEST(points_are_discs_at_their_positions_with_radius_ratio_of_values) {
    rvr_renderer *r = points_renderer();
    rvr_camera c;
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.point_scale = SCALE;
    uint8_t *img = img_new(WW, WW);
    for (int proj = 0; proj < 2; proj++) {
        top_camera(&c, 300);
        if (proj) { /* perspective: the plane z = 50 at distance 250 fills the same view */
            c.projection = RVR_PROJ_PERSPECTIVE;
            c.fov_y_deg = (float)(2 * atan(WW / 2.0 / 250.0) * 180 / M_PI);
        }
        rvr_render_stats st;
        CHECK_OK(rvr_render(r, &c, &s, WW, WW, img, WW * WW * 4, &st));
        CHECK(st.points_drawn == 5, "points drawn %llu", (unsigned long long)st.points_drawn);
        double a0 = 0;
        for (int k = 0; k < 5; k++) {
            double area, cx, cy;
            disc(img, k, &area, &cx, &cy);
            double want_r = PV[k] * SCALE, got_r = sqrt(area / M_PI);
            double ex = PX[k], ey = WW - PY[k];
            if (proj) { /* ellipse centre = midpoint of the tangent extents per axis */
                double dist = 250, t = tan(c.fov_y_deg * M_PI / 360), rad = PV[k] * SCALE;
                double ax = PX[k] - WW / 2.0, ay = PY[k] - WW / 2.0;
                double thx = atan2(ax, dist), hx = asin(rad / sqrt(ax * ax + dist * dist));
                double thy = atan2(ay, dist), hy = asin(rad / sqrt(ay * ay + dist * dist));
                ex = WW / 2.0 + (tan(thx + hx) + tan(thx - hx)) / 2 / t * WW / 2;
                ey = WW / 2.0 - (tan(thy + hy) + tan(thy - hy)) / 2 / t * WW / 2;
            }
            harness_note("%s point %d: centre (%.2f, %.2f) want (%.2f, %.2f), radius %.2f want %.1f",
                         proj ? "persp" : "ortho", k, cx, cy, ex, ey, got_r, want_r);
            CHECK(fabs(cx - ex) < 0.25 && fabs(cy - ey) < 0.25, "point %d centre (%.2f, %.2f) want (%.2f, %.2f)", k,
                  cx, cy, ex, ey);
            /* the perspective disc of a sphere is slightly larger than its radius (tangent cone) */
            CHECK(fabs(got_r - want_r) / want_r < (proj ? 0.06 : 0.04), "point %d radius %.2f want %.1f", k, got_r, want_r);
            if (k == 0) a0 = got_r;
            else CHECK(fabs(got_r / a0 - PV[k] / PV[0]) / (PV[k] / PV[0]) < 0.08, "radius ratio of point %d", k);
        }
        /* nothing else was drawn */
        size_t other = 0;
        for (int j = 0; j < WW; j++)
            for (int i = 0; i < WW; i++) {
                int near = 0;
                for (int k = 0; k < 5; k++) {
                    float dx = i + 0.5f - PX[k], dy = j + 0.5f - (WW - PY[k]), rr = PV[k] * SCALE + 2;
                    near |= dx * dx + dy * dy <= rr * rr;
                }
                if (!near && !is_bg(img + ((size_t)j * WW + i) * 4)) other++;
            }
        CHECK(other == 0, "%zu pixels drawn away from the points", other);
    }
    /* colour from the colormap over the values: low = blue, high = red */
    top_camera(&c, 300);
    s.specular = 0;
    CHECK_OK(rvr_render(r, &c, &s, WW, WW, img, WW * WW * 4, NULL));
    const uint8_t *lo = img + ((size_t)(WW - 60) * WW + 20) * 4, *hi = img + ((size_t)(WW - 80) * WW + 200) * 4;
    CHECK(lo[2] > 200 && lo[0] < 30, "value 1 not blue: %d %d %d", lo[0], lo[1], lo[2]);
    CHECK(hi[0] > 200 && hi[2] < 30, "value 5 not red: %d %d %d", hi[0], hi[1], hi[2]);
    free(img);
    rvr_renderer_destroy(r);
}

TEST(range_filter_hides_exactly_the_points_outside) {
    rvr_renderer *r = points_renderer();
    rvr_camera c;
    top_camera(&c, 300);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.point_scale = SCALE;
    s.flags = RVR_F_POINT_FILTER;
    uint8_t *img = img_new(WW, WW);
    const float ranges[4][2] = {{2.5f, 4.5f}, {2, 4}, {5, 5}, {6, 9}};
    for (int q = 0; q < 4; q++) {
        s.point_filter_lo = ranges[q][0];
        s.point_filter_hi = ranges[q][1];
        rvr_render_stats st;
        CHECK_OK(rvr_render(r, &c, &s, WW, WW, img, WW * WW * 4, &st));
        uint64_t want_n = 0;
        for (int k = 0; k < 5; k++) {
            int inside = PV[k] >= ranges[q][0] && PV[k] <= ranges[q][1];
            want_n += inside;
            double area, cx, cy;
            disc(img, k, &area, &cx, &cy);
            CHECK(inside ? area > 10 : area == 0, "range [%g, %g]: point %d (value %g) area %.0f", ranges[q][0],
                  ranges[q][1], k, PV[k], area);
        }
        CHECK(st.points_drawn == want_n, "points_drawn %llu want %llu", (unsigned long long)st.points_drawn,
              (unsigned long long)want_n);
    }
    free(img);
    rvr_renderer_destroy(r);
}

TEST(points_depth_composite_with_the_volume) {
    /* a slab of material at world z in [40, 60) across the whole view */
    const int N = 80;
    uint8_t *v = calloc((size_t)N * N * N, 1);
    for (int z = 40; z < 60; z++) memset(v + (size_t)z * N * N, 255, (size_t)N * N);
    rvr_renderer *r = mk();
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = d.shape[1] = d.shape[2] = N;
    d.spacing[0] = d.spacing[1] = d.spacing[2] = 3; /* world 240 wide */
    d.dtype = RVR_DTYPE_U8;
    d.window_hi = 255;
    CHECK_OK(rvr_renderer_set_volume(r, &d, v, (uint64_t)N * N * N));
    free(v);
    float xyz[6] = {60, 120, 200, 180, 120, 60}, val[2] = {5, 5}; /* above the slab, below it */
    CHECK_OK(rvr_renderer_set_points(r, xyz, val, 2));
    tf_step(r, 0.5f, 1.0f); /* opaque white slab */
    rvr_camera c;
    top_camera(&c, 400);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.point_scale = 3;
    s.point_cmap_lo = 0; /* value 5 -> red */
    s.point_cmap_hi = 5;
    s.specular = 0;
    uint8_t *img = img_new(WW, WW);
    CHECK_OK(rvr_render(r, &c, &s, WW, WW, img, WW * WW * 4, NULL));
    const uint8_t *front = img + ((size_t)(WW - 120) * WW + 60) * 4, *back = img + ((size_t)(WW - 120) * WW + 180) * 4;
    harness_note("opaque slab: front point %d,%d,%d  hidden point %d,%d,%d", front[0], front[1], front[2], back[0],
                 back[1], back[2]);
    CHECK(front[0] > 200 && front[1] < 40, "point in front of the slab not visible");
    CHECK(back[0] == back[1] && back[1] == back[2] && back[0] > 200, "point behind the opaque slab visible");
    /* a translucent slab: the point behind shows through, dimmed and mixed */
    tf_step(r, 0.5f, 0.03f);
    CHECK_OK(rvr_render(r, &c, &s, WW, WW, img, WW * WW * 4, NULL));
    harness_note("translucent slab: hidden point %d,%d,%d", back[0], back[1], back[2]);
    CHECK(back[0] > back[1] + 60 && back[1] > 60 && back[1] < 200 && back[1] == back[2], "point behind a translucent slab: %d,%d,%d", back[0], back[1], back[2]);
    /* only points: RVR_F_HIDE_VOLUME */
    s.flags = RVR_F_HIDE_VOLUME;
    CHECK_OK(rvr_render(r, &c, &s, WW, WW, img, WW * WW * 4, NULL));
    CHECK(back[0] > 200 && back[1] < 40, "hidden volume still hides the point");
    CHECK(is_bg(img), "hidden volume still drawn");
    free(img);
    rvr_renderer_destroy(r);
}
