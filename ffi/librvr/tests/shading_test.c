/* shading_test.c - S2 shadows fall where they must and nowhere else; S3 darkens a concave
 * corner and not a flat face; caches are reused. */
#include "util.h"

static int px(const uint8_t *img, uint32_t W, int i, int j) { return img[((size_t)j * W + i) * 4]; }

/* An opaque scene (255 = solid, TF step at 0.5) seen straight from above (+z) with an
 * orthographic camera covering the N x N footprint. Takes (and frees) v. */
static rvr_renderer *opaque_from_above(uint8_t *v, int N, rvr_camera *c)
{
    rvr_renderer *r = mk();
    set_vol(r, v, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 255);
    free(v);
    tf_step(r, 0.5f, 1.0f);
    rvr_camera_init(c);
    c->projection = RVR_PROJ_ORTHO;
    c->eye[0] = c->eye[1] = N / 2.0f;
    c->eye[2] = N + 10.0f;
    c->target[0] = c->target[1] = N / 2.0f;
    c->ortho_height = (float)N;
    return r;
}

TEST(s2_ball_shadows_the_plate_only_where_it_must) {
    const int N = 96;
    uint8_t *v = calloc((size_t)N * N * N, 1);
    const float bc[3] = {48.5f, 48.5f, 60.5f}, br = 12;
    for (int z = 0; z < N; z++)
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                float dx = x + 0.5f - bc[0], dy = y + 0.5f - bc[1], dz = z + 0.5f - bc[2];
                int ball = dx * dx + dy * dy + dz * dz <= br * br;
                int plate = z >= 10 && z < 16;
                if (ball || plate) v[((size_t)z * N + y) * N + x] = 255;
            }
    rvr_camera c;
    rvr_renderer *r = opaque_from_above(v, N, &c);
    const uint32_t W = N, H = N;
    uint8_t *s1 = img_new(W, H), *s2 = img_new(W, H);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.light_dir[0] = 0.5f; /* toward the light: up and to +x, so shadows fall toward -x */
    s.light_dir[2] = 1;
    s.specular = 0; /* keep the lit plate below saturation */
    s.shading = RVR_SHADE_LOCAL;
    CHECK_OK(rvr_render(r, &c, &s, W, H, s1, W * H * 4, NULL));
    s.shading = RVR_SHADE_LOCAL | RVR_SHADE_SHADOW;
    rvr_render_stats st;
    CHECK_OK(rvr_render(r, &c, &s, W, H, s2, W * H * 4, &st));
    /* shadow centre on the plate top (z = 16): ball centre moved along -light by 44.5 height */
    const float h = bc[2] - 16, sx = bc[0] - 0.5f * h, lx = bc[0] + 0.5f * h;
    const int row = (int)(N - bc[1]); /* pixel row of world y = 48.5 */
    int sh = px(s2, W, (int)sx, row), lit = px(s2, W, (int)lx, row), lit1 = px(s1, W, (int)lx, row);
    harness_note("plate: shadow %d, mirrored lit %d (S1 %d), light volume %.1f ms", sh, lit, lit1, st.precompute_ms);
    CHECK(lit > 50, "lit plate too dark: %d", lit);
    CHECK(sh < 0.6 * lit, "no shadow: %d vs lit %d", sh, lit);
    CHECK(abs(lit - lit1) <= 2, "lit plate changed by S2: %d vs %d", lit, lit1);
    /* nowhere else: every plate pixel on the lit side (x > 64, away from the ball) is unchanged */
    int changed = 0;
    for (int j = 0; j < N; j++)
        for (int i = 66; i < N - 2; i++) changed += abs(px(s2, W, i, j) - px(s1, W, i, j)) > 2;
    CHECK(changed == 0, "%d lit-side pixels changed by S2", changed);
    /* and the shadow is darker than S1 there across its core (a few pixels around the centre) */
    for (int dj = -3; dj <= 3; dj++)
        for (int di = -3; di <= 3; di++)
            CHECK(px(s2, W, (int)sx + di, row + dj) < 0.6 * px(s1, W, (int)sx + di, row + dj),
                  "shadow core pixel (%d,%d) not dark", (int)sx + di, row + dj);
    /* the cache: same light, same image; new light direction, new shadow */
    uint8_t *again = img_new(W, H);
    CHECK_OK(rvr_render(r, &c, &s, W, H, again, W * H * 4, NULL));
    CHECK(memcmp(again, s2, W * H * 4) == 0, "cached light volume gave another image");
    s.light_dir[0] = -0.5f;
    CHECK_OK(rvr_render(r, &c, &s, W, H, again, W * H * 4, NULL));
    CHECK(px(again, W, (int)lx, row) < 0.6 * lit && px(again, W, (int)sx, row) > 50,
          "shadow did not move with the light: %d %d", px(again, W, (int)lx, row), px(again, W, (int)sx, row));
    free(again);
    free(s1);
    free(s2);
    rvr_renderer_destroy(r);
}

TEST(s3_concave_corner_darker_than_flat_face) {
    const int N = 64, T = 12;
    uint8_t *v = calloc((size_t)N * N * N, 1);
    for (int z = 0; z < N; z++)
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
                if (z < T || (x < T && z < 48)) v[((size_t)z * N + y) * N + x] = 255; /* floor + wall */
    rvr_camera c;
    rvr_renderer *r = opaque_from_above(v, N, &c);
    const uint32_t W = N, H = N;
    uint8_t *a0 = img_new(W, H), *a1 = img_new(W, H);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.ambient = 1;
    s.diffuse = 0;
    s.specular = 0;
    s.shading = 0;
    CHECK_OK(rvr_render(r, &c, &s, W, H, a0, W * H * 4, NULL));
    s.shading = RVR_SHADE_AO;
    rvr_render_stats st;
    CHECK_OK(rvr_render(r, &c, &s, W, H, a1, W * H * 4, &st));
    const int row = N / 2;
    int corner = px(a1, W, T + 1, row), flat = px(a1, W, 45, row), top = px(a1, W, T / 2, row);
    int corner0 = px(a0, W, T + 1, row), flat0 = px(a0, W, 45, row);
    harness_note("AO: corner %d, flat floor %d, wall top %d (no AO: %d, %d), occlusion volume %.1f ms",
                 corner, flat, top, corner0, flat0, st.precompute_ms);
    CHECK(corner0 == flat0, "without AO the floor is not uniform: %d vs %d", corner0, flat0);
    CHECK(corner < flat - 10, "corner %d not darker than the flat face %d", corner, flat);
    CHECK(corner < top - 10, "corner %d not darker than the wall top %d", corner, top);
    /* darkening falls off with the distance to the wall */
    int prev = corner;
    for (int i = T + 2; i < T + 8; i++) {
        int cur = px(a1, W, i, row);
        CHECK(cur >= prev - 1, "AO not monotonic away from the corner at x=%d: %d after %d", i, cur, prev);
        prev = cur;
    }
    free(a0);
    free(a1);
    rvr_renderer_destroy(r);
}
