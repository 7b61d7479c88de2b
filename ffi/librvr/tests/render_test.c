/* render_test.c - projections, silhouettes, skipping, reference agreement, lod, clipping, slices. */
#include "ref.h"
#include "scenes.h"
#include "util.h"

/* For an axis camera from cam_axis: voxel (x, y, z) of pixel (i, j) on the two image axes;
 * the looked-along axis is left at -1. */
static void pixel_voxel(int axis, const int n[3], uint32_t W, uint32_t H, uint32_t i, uint32_t j,
                        int v[3]) {
    int w = 2 - axis;
    v[0] = v[1] = v[2] = -1;
    int row_up = (int)(H - 1 - j); /* image up = + direction */
    if (w == 2) {
        v[0] = (int)i;
        v[1] = row_up;
    } else if (w == 0) {
        v[1] = (int)i;
        v[2] = row_up;
    } else {
        v[0] = n[0] - 1 - (int)i;
        v[2] = row_up;
    }
    (void)W;
}

static void check_projection(int mode, uint32_t flags, const float spacing[3], int clip_lo_z,
                             int clip_hi_z, int plane_z) {
    const int nx = 41, ny = 37, nz = 23; /* logical shape (23, 37, 41) */
    const int n[3] = {nx, ny, nz};
    uint8_t *vol = malloc((size_t)nx * ny * nz);
    uint32_t seed = 7;
    for (int i = 0; i < nx * ny * nz; i++) vol[i] = (uint8_t)(lcg(&seed) & 255);
    rvr_renderer *r = mk();
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = nz;
    d.shape[1] = ny;
    d.shape[2] = nx;
    d.spacing[0] = spacing[2];
    d.spacing[1] = spacing[1];
    d.spacing[2] = spacing[0];
    d.dtype = RVR_DTYPE_U8;
    d.window_lo = 0;
    d.window_hi = 255;
    CHECK_OK(rvr_renderer_set_volume(r, &d, vol, (uint64_t)nx * ny * nz));
    const float ext[3] = {nx * spacing[0], ny * spacing[1], nz * spacing[2]};
    for (int axis = 0; axis < 3; axis++) {
        if ((clip_lo_z >= 0 || plane_z >= 0 || spacing[0] != spacing[2]) && axis != 0)
            continue; /* z-only scenes; square pixels need equal spacing on the image axes */
        rvr_camera c;
        uint32_t W, H;
        cam_axis(ext, spacing, axis, &c, &W, &H);
        rvr_render_settings s;
        rvr_render_settings_init(&s);
        s.mode = mode;
        s.flags = RVR_F_GRAY | flags;
        if (clip_lo_z >= 0) {
            s.flags |= RVR_F_CLIP_BOX;
            s.clip_min[0] = s.clip_min[1] = -1;
            s.clip_max[0] = s.clip_max[1] = 1e6f;
            s.clip_min[2] = clip_lo_z * spacing[2];
            s.clip_max[2] = clip_hi_z * spacing[2];
        }
        if (plane_z >= 0) { /* keep world z <= plane_z: -z + plane_z >= 0 */
            s.num_planes = 1;
            s.planes[0][2] = -1;
            s.planes[0][3] = plane_z * spacing[2];
        }
        uint8_t *img = img_new(W, H);
        CHECK_OK(rvr_render(r, &c, &s, W, H, img, (uint64_t)W * H * 4, NULL));
        int bad = 0;
        for (uint32_t j = 0; j < H; j++)
            for (uint32_t i = 0; i < W; i++) {
                int v[3];
                pixel_voxel(axis, n, W, H, i, j, v);
                int w = 2 - axis, mx = -1, mn = 256;
                double sum = 0;
                int cnt = 0;
                for (int k = 0; k < n[w]; k++) {
                    v[w] = k;
                    if (clip_lo_z >= 0 && (k < clip_lo_z || k >= clip_hi_z)) continue;
                    if (plane_z >= 0 && k >= plane_z) continue;
                    int val = vol[((size_t)v[2] * ny + v[1]) * nx + v[0]];
                    mx = val > mx ? val : mx;
                    mn = val < mn ? val : mn;
                    sum += val;
                    cnt++;
                }
                const uint8_t *p = img + ((size_t)j * W + i) * 4;
                int got = p[0];
                if (mode == RVR_MODE_AVERAGE) {
                    double want = sum / cnt;
                    if (fabs(got - want) > 0.51 && bad++ < 3)
                        harness_note("axis %d px (%u,%u): %d want %.2f", axis, i, j, got, want);
                } else {
                    int want = mode == RVR_MODE_MIP ? mx : mn;
                    if ((got != want || p[3] != 255) && bad++ < 3)
                        harness_note("axis %d px (%u,%u): %d want %d", axis, i, j, got, want);
                }
            }
        CHECK(bad == 0, "axis %d: %d pixels differ from the exact projection", axis, bad);
        free(img);
    }
    rvr_renderer_destroy(r);
    free(vol);
}

static const float ONE[3] = {1, 1, 1};

TEST(mip_axis_exact_trilinear) { check_projection(RVR_MODE_MIP, 0, ONE, -1, -1, -1); }
TEST(mip_axis_exact_nearest) { check_projection(RVR_MODE_MIP, RVR_F_NEAREST, ONE, -1, -1, -1); }
TEST(mip_axis_exact_noskip) { check_projection(RVR_MODE_MIP, RVR_F_NO_SKIP, ONE, -1, -1, -1); }
TEST(mip_axis_exact_anisotropic) {
    const float sp[3] = {1.5f, 1.5f, 0.5f}; /* x, y, z: square pixels looking down z */
    check_projection(RVR_MODE_MIP, 0, sp, -1, -1, -1);
}
TEST(minip_axis_exact) { check_projection(RVR_MODE_MINIP, 0, ONE, -1, -1, -1); }
TEST(average_axis_within_half_level) { check_projection(RVR_MODE_AVERAGE, 0, ONE, -1, -1, -1); }
TEST(clip_box_mip_exact) { check_projection(RVR_MODE_MIP, 0, ONE, 5, 15, -1); }
TEST(clip_plane_mip_exact) { check_projection(RVR_MODE_MIP, 0, ONE, -1, -1, 10); }

/* Sphere of radius R (voxels) as a smooth f32 field, iso 0.5 at distance R. */
static rvr_renderer *sphere_renderer(int N, float R) {
    float *v = malloc(sizeof(float) * N * N * N);
    float c = N / 2.0f;
    for (int z = 0; z < N; z++)
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                float dx = x + 0.5f - c, dy = y + 0.5f - c, dz = z + 0.5f - c;
                float dist = sqrtf(dx * dx + dy * dy + dz * dz), f = 0.5f + (R - dist) / 4.0f;
                v[((size_t)z * N + y) * N + x] = f < 0 ? 0 : (f > 1 ? 1 : f);
            }
    rvr_renderer *r = mk();
    set_vol(r, v, RVR_DTYPE_F32, RVR_ORDER_C, N, N, N, 0, 1);
    free(v);
    return r;
}

static double count_hits(const uint8_t *img, uint32_t W, uint32_t H) {
    double n = 0;
    for (size_t i = 0; i < (size_t)W * H; i++)
        if (!(img[4 * i] == 0 && img[4 * i + 1] == 0 && img[4 * i + 2] == 255)) n++;
    return n;
}

TEST(sphere_silhouette_area_ortho_and_perspective) {
    const int N = 96;
    const float R = 30;
    rvr_renderer *r = sphere_renderer(N, R);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.background[2] = 1; /* blue */
    rvr_camera c;
    const uint32_t W = 192, H = 192;
    uint8_t *img = img_new(W, H);
    for (int mode = 0; mode < 2; mode++) {
        s.mode = mode == 0 ? RVR_MODE_ISO : RVR_MODE_COMPOSITE;
        if (mode == 1) tf_step(r, 0.5f, 1.0f);
        /* orthographic: 2 px per voxel */
        rvr_camera_init(&c);
        c.projection = RVR_PROJ_ORTHO;
        c.eye[0] = c.eye[1] = N / 2.0f;
        c.eye[2] = N + 20.0f;
        c.target[0] = c.target[1] = N / 2.0f;
        c.ortho_height = (float)N;
        CHECK_OK(rvr_render(r, &c, &s, W, H, img, W * H * 4, NULL));
        double area = count_hits(img, W, H), want = M_PI * (R * 2) * (R * 2);
        harness_note("%s ortho: %.0f px, analytic %.0f (%.2f%%)", mode ? "composite" : "iso", area, want,
                     100 * (area - want) / want);
        CHECK(fabs(area - want) / want < 0.02, "ortho silhouette %.0f vs %.0f", area, want);
        /* perspective from distance D */
        const float D = 150, fov = 40;
        c.projection = RVR_PROJ_PERSPECTIVE;
        c.eye[2] = N / 2.0f + D;
        c.target[2] = N / 2.0f;
        c.fov_y_deg = fov;
        CHECK_OK(rvr_render(r, &c, &s, W, H, img, W * H * 4, NULL));
        double rr = tan(asin(R / D)) / tan(fov * M_PI / 360) * H / 2;
        area = count_hits(img, W, H);
        want = M_PI * rr * rr;
        harness_note("%s perspective: %.0f px, analytic %.0f (%.2f%%)", mode ? "composite" : "iso", area,
                     want, 100 * (area - want) / want);
        CHECK(fabs(area - want) / want < 0.02, "perspective silhouette %.0f vs %.0f", area, want);
    }
    free(img);
    rvr_renderer_destroy(r);
}

static rvr_renderer *pores_renderer(int N, float amax) {
    uint8_t *v = malloc((size_t)N * N * N);
    scene_pores_u8(N, v);
    rvr_renderer *r = mk();
    set_vol(r, v, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 255);
    free(v);
    float tf[256 * 4];
    scene_tf_bench(amax, tf);
    CHECK_OK(rvr_renderer_set_tf(r, tf, 256));
    return r;
}

TEST(skipping_changes_nothing_but_samples) {
    const int N = 96; /* big enough for empty 16^3 bricks outside the cylinder */
    rvr_renderer *r = pores_renderer(N, 0.3f);
    rvr_camera c;
    scene_orbit(N, 0.7f, &c);
    const uint32_t W = 120, H = 90;
    uint8_t *a = img_new(W, H), *b = img_new(W, H);
    int modes[3] = {RVR_MODE_COMPOSITE, RVR_MODE_ISO, RVR_MODE_MIP};
    for (int m = 0; m < 3; m++) {
        rvr_render_settings s;
        rvr_render_settings_init(&s);
        s.mode = modes[m];
        s.iso_value = 0.6f;
        s.shading = RVR_SHADE_LOCAL;
        rvr_render_stats sa, sb;
        CHECK_OK(rvr_render(r, &c, &s, W, H, a, W * H * 4, &sa));
        s.flags |= RVR_F_NO_SKIP;
        CHECK_OK(rvr_render(r, &c, &s, W, H, b, W * H * 4, &sb));
        CHECK(memcmp(a, b, W * H * 4) == 0, "mode %d: image differs with skipping", modes[m]);
        CHECK(sa.samples < sb.samples, "mode %d: skipping took %llu samples vs %llu", modes[m],
              (unsigned long long)sa.samples, (unsigned long long)sb.samples);
        harness_note("mode %d: %llu samples with skipping, %llu without", modes[m],
                     (unsigned long long)sa.samples, (unsigned long long)sb.samples);
    }
    free(a);
    free(b);
    rvr_renderer_destroy(r);
}

/* librvr and the benchmark's reference caster sample identically: same image. */
TEST(matches_reference_caster) {
    const int N = 64;
    uint8_t *v8 = malloc((size_t)N * N * N);
    uint16_t *v16 = malloc(sizeof(uint16_t) * N * N * N);
    scene_pores_u8(N, v8);
    for (int i = 0; i < N * N * N; i++) v16[i] = (uint16_t)(v8[i] * 257);
    rvr_renderer *r = mk();
    set_vol(r, v8, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 255);
    float tf[256 * 4];
    scene_tf_bench(0.3f, tf);
    CHECK_OK(rvr_renderer_set_tf(r, tf, 256));
    /* the reference gets the same 4096-entry LUT the renderer builds from this TF */
    float *lut = malloc(sizeof(float) * 4 * 4096);
    for (int i = 0; i < 4096; i++) {
        float val = ((float)i * 16.0f + 7.5f) / 65535.0f, x = val * 255, c[4];
        int k = (int)x;
        if (k > 254) k = 254;
        float f = x - k;
        for (int q = 0; q < 4; q++) c[q] = tf[4 * k + q] + f * (tf[4 * (k + 1) + q] - tf[4 * k + q]);
        float a = c[3];
        lut[4 * i] = c[0] * a;
        lut[4 * i + 1] = c[1] * a;
        lut[4 * i + 2] = c[2] * a;
        lut[4 * i + 3] = a;
    }
    const uint32_t W = 128, H = 96;
    uint8_t *a = img_new(W, H), *b = img_new(W, H);
    for (int shade = 0; shade < 2; shade++) {
        rvr_camera c;
        scene_orbit(N, 0.5f + shade, &c);
        rvr_render_settings s;
        rvr_render_settings_init(&s);
        s.shading = shade ? RVR_SHADE_LOCAL : 0;
        s.background[0] = s.background[1] = s.background[2] = 0.08f;
        CHECK_OK(rvr_render(r, &c, &s, W, H, a, W * H * 4, NULL));
        const float k[4] = {s.ambient, s.diffuse, s.specular, s.shininess};
        uint64_t ns = 0;
        CHECK(ref_render(v16, N, N, N, lut, c.eye, c.target, c.up, c.fov_y_deg, W, H, 1.0f, 0.99f,
                         shade, k, s.background, b, &ns) == 0,
              "ref_render");
        int maxd = 0, ndiff = 0;
        for (size_t i = 0; i < (size_t)W * H * 4; i++) {
            int dd = abs((int)a[i] - (int)b[i]);
            maxd = dd > maxd ? dd : maxd;
            ndiff += dd > 0;
        }
        harness_note("shade %d: %d channel values differ, max diff %d", shade, ndiff, maxd);
        if (test_backend() == RVR_BACKEND_CUDA) {
            imgdiff dd;
            int ok = img_close(a, b, W * H * 4, &dd);
            harness_note("CUDA vs CPU reference: mean %.3f, %zu of %zu values off by > %d", dd.mean, dd.over, dd.n,
                         CUDA_TOL_BIG);
            CHECK(ok, "shade %d: beyond the CUDA tolerance", shade);
        } else {
            CHECK(maxd <= 1 && ndiff <= (int)(W * H * 4 / 1000), "shade %d: %d values differ, max %d", shade, ndiff,
                  maxd);
        }
    }
    free(lut);
    free(a);
    free(b);
    free(v8);
    free(v16);
    rvr_renderer_destroy(r);
}

TEST(lod_preview_blocks) {
    const int N = 64;
    rvr_renderer *r = pores_renderer(N, 0.3f);
    rvr_camera c;
    scene_orbit(N, 1.0f, &c);
    const uint32_t W = 130, H = 98; /* not multiples of the lod */
    uint8_t *full = img_new(W, H), *pre = img_new(W, H);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    rvr_render_stats sf, sp;
    CHECK_OK(rvr_render(r, &c, &s, W, H, full, W * H * 4, &sf));
    s.lod = 4;
    CHECK_OK(rvr_render(r, &c, &s, W, H, pre, W * H * 4, &sp));
    CHECK(sp.traced_width == 33 && sp.traced_height == 25, "traced %ux%u", sp.traced_width,
          sp.traced_height);
    CHECK(sp.rays * 12 < sf.rays, "preview rays %llu vs %llu", (unsigned long long)sp.rays,
          (unsigned long long)sf.rays);
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            const uint8_t *p = pre + ((size_t)y * W + x) * 4, *q = pre + ((size_t)(y / 4 * 4) * W + x / 4 * 4) * 4;
            CHECK(memcmp(p, q, 4) == 0, "pixel (%u,%u) differs from its block", x, y);
        }
    double diff = 0;
    for (size_t i = 0; i < (size_t)W * H * 4; i++) diff += abs((int)full[i] - (int)pre[i]);
    diff /= (double)W * H * 4;
    harness_note("mean |full - preview| = %.2f levels", diff);
    CHECK(diff < 25, "preview too different from the full image: %.1f", diff);
    free(full);
    free(pre);
    rvr_renderer_destroy(r);
}

TEST(axis_slices_reproduce_data) {
    const int nx = 19, ny = 11, nz = 7;
    uint8_t *vol = malloc(nx * ny * nz);
    uint32_t seed = 3;
    for (int i = 0; i < nx * ny * nz; i++) vol[i] = (uint8_t)lcg(&seed);
    rvr_renderer *r = mk();
    set_vol(r, vol, RVR_DTYPE_U8, RVR_ORDER_C, nz, ny, nx, 0, 255);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    for (int interp = 0; interp < 2; interp++) {
        s.flags = RVR_F_GRAY | (interp ? RVR_F_NEAREST : 0);
        for (int axis = 0; axis < 3; axis++) {
            uint64_t n = axis == 0 ? nz : (axis == 1 ? ny : nx);
            for (uint64_t idx = 0; idx < n; idx += 3) {
                rvr_slice sl;
                uint32_t W, H;
                CHECK_OK(rvr_renderer_slice_axis(r, axis, idx, &sl, &W, &H));
                uint8_t *img = img_new(W, H);
                CHECK_OK(rvr_render_slice(r, &sl, &s, W, H, img, W * H * 4, NULL));
                for (uint32_t j = 0; j < H; j++)
                    for (uint32_t i = 0; i < W; i++) {
                        int x, y, z;
                        if (axis == 0) x = i, y = j, z = (int)idx;
                        else if (axis == 1) x = i, y = (int)idx, z = j;
                        else x = (int)idx, y = i, z = j;
                        int want = vol[((size_t)z * ny + y) * nx + x], got = img[((size_t)j * W + i) * 4];
                        CHECK(got == want, "axis %d idx %d px (%u,%u): %d want %d", axis, (int)idx, i, j, got, want);
                    }
                free(img);
            }
        }
    }
    rvr_slice sl;
    uint32_t W, H;
    CHECK_RC(rvr_renderer_slice_axis(r, 0, nz, &sl, &W, &H), RVR_ERR_RANGE);
    CHECK_RC(rvr_renderer_slice_axis(r, 3, 0, &sl, &W, &H), RVR_ERR_INVALID);
    free(vol);
    rvr_renderer_destroy(r);
}

TEST(oblique_slice_of_a_ramp) {
    /* v = x + y (u16 counts), a plane rotated 45 degrees about z: values along it are linear */
    const int N = 40;
    uint16_t *vol = malloc(sizeof(uint16_t) * N * N * N);
    for (int z = 0; z < N; z++)
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) vol[((size_t)z * N + y) * N + x] = (uint16_t)(1000 * (x + y));
    rvr_renderer *r = mk();
    set_vol(r, vol, RVR_DTYPE_U16, RVR_ORDER_C, N, N, N, 0, 1000.0 * 2 * (N - 1));
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.flags = RVR_F_GRAY;
    rvr_slice sl = {{20, 20, 20}, {20, -20, 0}, {0, 0, 30}}; /* u along (1,-1,0): x + y constant */
    const uint32_t W = 64, H = 48;
    uint8_t *img = img_new(W, H);
    CHECK_OK(rvr_render_slice(r, &sl, &s, W, H, img, W * H * 4, NULL));
    /* x + y = 40 world -> index sum 39 -> normalized 39/78 = 0.5 -> 128 (127.5 rounds up) */
    for (uint32_t j = 0; j < H; j++)
        for (uint32_t i = 0; i < W; i++) {
            int got = img[((size_t)j * W + i) * 4];
            CHECK(abs(got - 128) <= 1, "px (%u,%u) = %d, want 128", i, j, got);
        }
    /* perpendicular: v along (1,1,0): the value rises linearly from top to bottom */
    rvr_slice s2 = {{20, 20, 20}, {0, 0, 30}, {20, 20, 0}};
    CHECK_OK(rvr_render_slice(r, &s2, &s, W, H, img, W * H * 4, NULL));
    for (uint32_t j = 0; j < H; j++) {
        float b = (j + 0.5f) / H - 0.5f, px = 20 + b * 20; /* world x = y = px */
        float idx = px - 0.5f, sum = 2 * idx;
        if (sum < 0) sum = 0;
        if (sum > 78) sum = 78;
        int want = (int)(sum / 78 * 255 + 0.5f), got = img[((size_t)j * W + W / 2) * 4];
        CHECK(abs(got - want) <= 1, "row %u = %d, want %d", j, got, want);
    }
    free(img);
    free(vol);
    rvr_renderer_destroy(r);
}

TEST(threads_and_tiles_do_not_change_the_image) {
    const int N = 64;
    rvr_renderer *r = pores_renderer(N, 0.3f);
    rvr_camera c;
    scene_orbit(N, 2.0f, &c);
    const uint32_t W = 97, H = 61;
    uint8_t *a = img_new(W, H), *b = img_new(W, H);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO;
    s.light_dir[1] = 1;
    CHECK_OK(rvr_renderer_set_threads(r, 1));
    CHECK_OK(rvr_render(r, &c, &s, W, H, a, W * H * 4, NULL));
    CHECK_OK(rvr_renderer_set_threads(r, 3));
    CHECK_OK(rvr_render(r, &c, &s, W, H, b, W * H * 4, NULL));
    CHECK(memcmp(a, b, W * H * 4) == 0, "1 and 3 threads give different images");
    free(a);
    free(b);
    rvr_renderer_destroy(r);
}

TEST(background_alpha_straight_and_premultiplied) {
    /* a half-transparent slab over a transparent-ish background */
    const int N = 16;
    uint8_t v[16 * 16 * 16];
    memset(v, 255, sizeof v);
    rvr_renderer *r = mk();
    set_vol(r, v, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 255);
    float tf[8] = {0, 0, 0, 0, 1, 0, 0, 0.5f}; /* red, 0.5 per voxel */
    CHECK_OK(rvr_renderer_set_tf(r, tf, 2));
    rvr_camera c;
    rvr_camera_init(&c);
    c.projection = RVR_PROJ_ORTHO;
    c.eye[0] = c.eye[1] = 8;
    c.eye[2] = 40;
    c.target[0] = c.target[1] = 8;
    c.ortho_height = 16;
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.ert_alpha = 1; /* keep going */
    s.background[0] = 0;
    s.background[1] = 0;
    s.background[2] = 1;
    s.background[3] = 0.5f;
    uint8_t img[16 * 16 * 4], pm[16 * 16 * 4];
    CHECK_OK(rvr_render(r, &c, &s, 16, 16, img, sizeof img, NULL));
    s.flags = RVR_F_PREMULTIPLIED;
    CHECK_OK(rvr_render(r, &c, &s, 16, 16, pm, sizeof pm, NULL));
    /* 16 voxels of alpha 0.5: opaque to 1 - 2^-16; the background barely shows */
    const uint8_t *p = img + (8 * 16 + 8) * 4, *q = pm + (8 * 16 + 8) * 4;
    CHECK(p[0] == 255 && p[2] == 0 && p[3] == 255, "straight %d %d %d %d", p[0], p[1], p[2], p[3]);
    CHECK(q[0] == 255 && q[3] == 255, "premultiplied %d %d %d %d", q[0], q[1], q[2], q[3]);
    /* outside the volume: the background, straight (0,0,255,128) or premultiplied (0,0,128,128) */
    CHECK_OK(rvr_renderer_set_tf(r, (float[8]){0, 0, 0, 0, 0, 0, 0, 0}, 2));
    s.flags = 0;
    CHECK_OK(rvr_render(r, &c, &s, 16, 16, img, sizeof img, NULL));
    CHECK(img[2] == 255 && img[3] == 128, "straight background %d %d", img[2], img[3]);
    s.flags = RVR_F_PREMULTIPLIED;
    CHECK_OK(rvr_render(r, &c, &s, 16, 16, img, sizeof img, NULL));
    CHECK(img[2] == 128 && img[3] == 128, "premultiplied background %d %d", img[2], img[3]);
    rvr_renderer_destroy(r);
}

TEST(camera_inside_the_volume) {
    const int N = 32;
    rvr_renderer *r = pores_renderer(N, 0.3f);
    rvr_camera c;
    rvr_camera_init(&c);
    c.eye[0] = c.eye[1] = c.eye[2] = N / 2.0f;
    c.target[0] = N;
    c.target[1] = N / 2.0f;
    c.target[2] = N / 2.0f;
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    uint8_t *img = img_new(40, 30);
    rvr_render_stats st;
    CHECK_OK(rvr_render(r, &c, &s, 40, 30, img, 40 * 30 * 4, &st));
    CHECK(st.samples > 0 && st.rays == 1200, "samples %llu rays %llu", (unsigned long long)st.samples,
          (unsigned long long)st.rays);
    free(img);
    rvr_renderer_destroy(r);
}

/* RVR_F_JITTER moves samples within a step per pixel: the picture changes a little (noise
 * instead of rings), the same every frame, and its mean brightness stays what it was. */
TEST(jitter_is_deterministic_and_unbiased) {
    const int N = 96;
    rvr_renderer *r = pores_renderer(N, 0.3f);
    rvr_camera c;
    scene_orbit(N, 0.7f, &c);
    const uint32_t W = 120, H = 90;
    uint8_t *a = img_new(W, H), *b = img_new(W, H), *j = img_new(W, H);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    CHECK_OK(rvr_render(r, &c, &s, W, H, a, W * H * 4, NULL));
    s.flags |= RVR_F_JITTER;
    CHECK_OK(rvr_render(r, &c, &s, W, H, j, W * H * 4, NULL));
    CHECK_OK(rvr_render(r, &c, &s, W, H, b, W * H * 4, NULL));
    CHECK(memcmp(j, b, W * H * 4) == 0, "jittered frames differ between two renders");
    CHECK(memcmp(a, j, W * H * 4) != 0, "jitter changed nothing");
    double ma = 0, mj = 0;
    for (size_t i = 0; i < (size_t)W * H * 4; i += 4) ma += a[i], mj += j[i];
    ma /= W * H;
    mj /= W * H;
    CHECK(fabs(ma - mj) < 2.0, "mean red %.2f without jitter, %.2f with", ma, mj);
    harness_note("mean red %.2f without jitter, %.2f with", ma, mj);
    free(a);
    free(b);
    free(j);
    rvr_renderer_destroy(r);
}

/* rvr_render_region: the pixels inside the rectangle are the whole image's, bit for bit (points,
 * jitter and lod included); nothing outside it is written; bad rectangles are refused. */
TEST(region_is_the_whole_image_cut_out) {
    const int N = 64;
    rvr_renderer *r = pores_renderer(N, 0.3f);
    const float xyz[6] = {20, 30, 40, 44, 20, 32}, val[2] = {3, 5};
    CHECK_OK(rvr_renderer_set_points(r, xyz, val, 2));
    rvr_camera c;
    scene_orbit(N, 0.9f, &c);
    const uint32_t W = 131, H = 77; /* not multiples of the 16-ray tiles or of lod 3 */
    uint8_t *full = img_new(W, H), *part = img_new(W, H);
    const rvr_region regions[] = {{0, 0, W, H}, {17, 9, 40, 33}, {0, 0, 1, 1}, {W - 1, H - 1, 1, 1},
                                  {50, 0, 81, 77}, {31, 40, 16, 16}, {5, 70, 120, 7}};
    for (int lod = 1; lod <= 3; lod += 2)
        for (int jit = 0; jit < 2; jit++) {
            rvr_render_settings s;
            rvr_render_settings_init(&s);
            s.shading = RVR_SHADE_LOCAL;
            s.lod = (uint32_t)lod;
            s.point_scale = 2;
            if (jit) s.flags |= RVR_F_JITTER;
            CHECK_OK(rvr_render(r, &c, &s, W, H, full, W * H * 4, NULL));
            for (size_t k = 0; k < sizeof regions / sizeof regions[0]; k++) {
                const rvr_region g = regions[k];
                memset(part, 0x5a, (size_t)W * H * 4);
                rvr_render_stats st;
                CHECK_OK(rvr_render_region(r, &c, &s, W, H, &g, part, W * H * 4, &st));
                size_t inside_diff = 0, outside_written = 0;
                for (uint32_t y = 0; y < H; y++)
                    for (uint32_t x = 0; x < W; x++) {
                        const size_t o = ((size_t)y * W + x) * 4;
                        const int in = x >= g.x && x < g.x + g.width && y >= g.y && y < g.y + g.height;
                        if (in) inside_diff += memcmp(part + o, full + o, 4) != 0;
                        else outside_written += part[o] != 0x5a || part[o + 1] != 0x5a || part[o + 2] != 0x5a || part[o + 3] != 0x5a;
                    }
                CHECK(inside_diff == 0, "lod %d jitter %d region %zu: %zu pixels differ from the whole image", lod, jit, k, inside_diff);
                CHECK(outside_written == 0, "lod %d jitter %d region %zu: %zu pixels written outside", lod, jit, k, outside_written);
                const uint64_t cells = (uint64_t)((g.x + g.width + lod - 1) / lod - g.x / lod) * ((g.y + g.height + lod - 1) / lod - g.y / lod);
                CHECK(st.rays == cells, "lod %d region %zu: rays %llu, want %llu", lod, k, (unsigned long long)st.rays, (unsigned long long)cells);
            }
        }
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    const rvr_region bad[] = {{0, 0, 0, 5}, {0, 0, 5, 0}, {W, 0, 1, 1}, {0, H, 1, 1}, {W - 2, 0, 3, 1}, {0, 1, 1, H}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CHECK(rvr_render_region(r, &c, &s, W, H, &bad[k], part, W * H * 4, NULL) == RVR_ERR_INVALID, "bad region %zu accepted", k);
    CHECK(rvr_render_region(r, &c, &s, W, H, NULL, part, W * H * 4, NULL) == RVR_ERR_INVALID, "NULL region accepted");
    free(full);
    free(part);
    rvr_renderer_destroy(r);
}

/* what rvr_render_region_rows reported, checked while it reports */
typedef struct rows_seen {
    const uint8_t *img, *want;
    uint32_t W;
    int *count;         /* per image row */
    size_t early_diffs; /* pixels of a reported row that were not final yet */
} rows_seen;

static void on_rows(void *user, uint32_t y0, uint32_t y1) {
    rows_seen *t = user;
    for (uint32_t y = y0; y < y1; y++) {
        t->count[y]++;
        for (uint32_t x = 0; x < t->W; x++) {
            const size_t o = ((size_t)y * t->W + x) * 4;
            t->early_diffs += memcmp(t->img + o, t->want + o, 4) != 0; /* outside the region: 0x5a in both */
        }
    }
}

/* Rows come once each, final when reported, the same pixels as rvr_render_region; into ordinary,
 * page-locked (rvr_host_alloc) and registered (rvr_host_register) memory, where CUDA has them. */
TEST(region_rows_come_once_and_final) {
    const int N = 64;
    rvr_renderer *r = pores_renderer(N, 0.3f);
    rvr_camera c;
    scene_orbit(N, 0.9f, &c);
    const uint32_t W = 131, H = 77;
    const size_t bytes = (size_t)W * H * 4;
    uint8_t *want = img_new(W, H), *plain = img_new(W, H), *pinned = NULL, *reg = NULL;
    if (rvr_host_alloc(bytes, (void **)&pinned)) pinned = NULL;
    reg = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    const int registered = reg && rvr_host_register(reg, bytes) == RVR_OK;
    if (registered) CHECK(rvr_host_register(reg, bytes) == RVR_ERR_INVALID, "registered twice");
    CHECK(rvr_host_register(NULL, bytes) == RVR_ERR_INVALID && rvr_host_register(plain, 0) == RVR_ERR_INVALID, "bad arguments accepted");
    uint8_t *bufs[3] = {plain, pinned, registered ? reg : NULL};
    const rvr_region regions[] = {{0, 0, W, H}, {17, 9, 40, 33}, {5, 70, 120, 7}, {31, 40, 16, 16}};
    int count[77];
    for (int lod = 1; lod <= 3; lod += 2) {
        rvr_render_settings s;
        rvr_render_settings_init(&s);
        s.shading = RVR_SHADE_LOCAL;
        s.lod = (uint32_t)lod;
        for (size_t k = 0; k < sizeof regions / sizeof regions[0]; k++) {
            const rvr_region g = regions[k];
            memset(want, 0x5a, bytes);
            CHECK_OK(rvr_render_region(r, &c, &s, W, H, &g, want, bytes, NULL));
            for (int b = 0; b < 3; b++) {
                if (!bufs[b]) continue;
                memset(bufs[b], 0x5a, bytes);
                memset(count, 0, sizeof count);
                rows_seen t = {bufs[b], want, W, count, 0};
                rvr_render_stats st;
                CHECK_OK(rvr_render_region_rows(r, &c, &s, W, H, &g, bufs[b], bytes, on_rows, &t, &st));
                for (uint32_t y = 0; y < H; y++) {
                    const int in = y >= g.y && y < g.y + g.height;
                    CHECK(count[y] == in, "lod %d region %zu buffer %d: row %u reported %d times", lod, k, b, y, count[y]);
                }
                size_t wrong = 0;
                for (size_t o = 0; o < bytes; o++) wrong += bufs[b][o] != want[o];
                CHECK(wrong == 0 && t.early_diffs == 0, "lod %d region %zu buffer %d: %zu bytes differ, %zu pixels not final when reported",
                      lod, k, b, wrong, t.early_diffs);
            }
        }
    }
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    const rvr_region g = {0, 0, W, H};
    CHECK_OK(rvr_render_region_rows(r, &c, &s, W, H, &g, plain, bytes, NULL, NULL, NULL)); /* no fn: a region */
    const rvr_region bad = {W - 2, 0, 3, 1};
    memset(count, 0, sizeof count);
    rows_seen t = {plain, want, W, count, 0};
    CHECK(rvr_render_region_rows(r, &c, &s, W, H, &bad, plain, bytes, on_rows, &t, NULL) == RVR_ERR_INVALID && count[0] == 0,
          "a bad region was rendered or reported");
    if (registered) rvr_host_unregister(reg);
    free(reg);
    rvr_host_free(pinned);
    free(want);
    free(plain);
    rvr_renderer_destroy(r);
}

/* The CUDA backend renders the tiles costliest first (the last frame's samples per tile,
 * gpu_order.cu; RVR_CUDA_ROW_ORDER=rows: whole tile rows) and can split a tile into several
 * blocks (RVR_CUDA_BLOCK_ROWS): the pixels and the samples are those of whole tiles top down,
 * for whole frames, regions and lod, each row handed over once and final
 * (rvr_render_region_rows, into page-locked memory where there is a GPU), the first frame and
 * those ordered by the one before. */
TEST(row_order_and_block_shape_change_no_pixel) {
    const int N = 64;
    rvr_renderer *r = pores_renderer(N, 0.3f);
    const uint32_t W = 160, H = 120;
    const size_t bytes = (size_t)W * H * 4;
    uint8_t *want = img_new(W, H), *got = NULL;
    if (rvr_host_alloc(bytes, (void **)&got)) got = NULL;
    const int pinned = got != NULL;
    if (!got) got = img_new(W, H);
    int count[120];
    const rvr_region regions[] = {{0, 0, W, H}, {10, 37, 90, 70}};
    const char *shapes[] = {"16", "8", "4", "2"}, *orders[] = {NULL, "rows"}; /* NULL: the default, tiles */
    for (int lod = 1; lod <= 2; lod++)
        for (size_t k = 0; k < 2; k++)
            for (int v = 0; v < 3; v++) { /* views after the first: rows ordered by the one before */
                rvr_camera c;
                scene_orbit(N, 0.3f + 0.4f * (float)v, &c);
                rvr_render_settings s;
                rvr_render_settings_init(&s);
                s.shading = RVR_SHADE_LOCAL;
                s.lod = (uint32_t)lod;
                rvr_render_stats sw, sg;
                memset(want, 0x5a, bytes);
                setenv("RVR_CUDA_ROW_ORDER", "top", 1);
                CHECK_OK(rvr_render_region(r, &c, &s, W, H, &regions[k], want, bytes, &sw));
                unsetenv("RVR_CUDA_ROW_ORDER");
                for (size_t b = 0; b < 2 * sizeof shapes / sizeof shapes[0]; b++) {
                    const char *order = orders[b / (sizeof shapes / sizeof shapes[0])], *shape = shapes[b % (sizeof shapes / sizeof shapes[0])];
                    setenv("RVR_CUDA_BLOCK_ROWS", shape, 1);
                    if (order) setenv("RVR_CUDA_ROW_ORDER", order, 1);
                    memset(got, 0x5a, bytes);
                    memset(count, 0, sizeof count);
                    rows_seen t = {got, want, W, count, 0};
                    CHECK_OK(rvr_render_region_rows(r, &c, &s, W, H, &regions[k], got, bytes, on_rows, &t, &sg));
                    unsetenv("RVR_CUDA_BLOCK_ROWS");
                    unsetenv("RVR_CUDA_ROW_ORDER");
                    int once = 1;
                    for (uint32_t y = 0; y < H; y++)
                        once &= count[y] == (y >= regions[k].y && y < regions[k].y + regions[k].height);
                    CHECK(memcmp(got, want, bytes) == 0 && sg.samples == sw.samples && once && t.early_diffs == 0,
                          "lod %d region %zu view %d, %s rows a block, order %s (pinned %d): not as top down (samples %llu vs %llu, "
                          "rows once %d, %zu pixels not final when reported)",
                          lod, k, v, shape, order ? order : "tiles", pinned, (unsigned long long)sg.samples, (unsigned long long)sw.samples, once,
                          t.early_diffs);
                }
            }
    if (pinned) rvr_host_free(got);
    else free(got);
    free(want);
    rvr_renderer_destroy(r);
}

/* A nearer part's image as occluder (rvr_renderer_set_occluder): the farther part's rays behind
 * its pixels at the ERT opacity are not traced, behind partly opaque ones they stop sooner,
 * behind transparent ones (and outside where it is read) they are what they were bit for bit,
 * and the two composited differ from the composite without occluder by less than what ERT
 * leaves out. */
TEST(occluder_stops_rays_where_ert_would) {
    const int N = 64;
    rvr_renderer *r = pores_renderer(N, 0.6f);
    rvr_camera c;
    scene_orbit(N, 0.9f, &c); /* the eye is above the middle: z >= N/2 is the nearer part */
    const uint32_t W = 160, H = 120;
    const size_t bytes = (size_t)W * H * 4;
    /* the occluder where CUDA reads it: page-locked (CPU: any memory) */
    uint8_t *nearp = NULL;
    const int cuda = rvr_renderer_backend(r) == RVR_BACKEND_CUDA;
    if (cuda) CHECK_OK(rvr_host_alloc(bytes, (void **)&nearp));
    else nearp = img_new(W, H);
    uint8_t *far0 = img_new(W, H), *far1 = img_new(W, H), *far2 = img_new(W, H);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    s.flags = RVR_F_PREMULTIPLIED | RVR_F_CLIP_BOX;
    for (int k = 0; k < 4; k++) s.background[k] = 0;
    s.clip_min[0] = s.clip_min[1] = 0, s.clip_max[0] = s.clip_max[1] = (float)N;
    rvr_render_settings sn = s, sf = s;
    sn.clip_min[2] = N / 2.0f, sn.clip_max[2] = (float)N;
    sf.clip_min[2] = 0, sf.clip_max[2] = N / 2.0f;
    rvr_render_stats st0, st1, st2;
    CHECK_OK(rvr_render(r, &c, &sn, W, H, nearp, bytes, NULL));
    CHECK_OK(rvr_render(r, &c, &sf, W, H, far0, bytes, &st0));
    const rvr_region outside = {10, 10, W, 5}, lower = {0, H / 2, W, H - H / 2};
    CHECK(rvr_renderer_set_occluder(r, nearp, bytes - 1, W, H, NULL) == RVR_ERR_INVALID, "a short occluder was taken");
    CHECK(rvr_renderer_set_occluder(r, nearp, bytes, 0, H, NULL) == RVR_ERR_INVALID, "a 0-wide occluder was taken");
    CHECK(rvr_renderer_set_occluder(r, nearp, bytes, W, H, &outside) == RVR_ERR_INVALID, "a region off the image was taken");
    CHECK(rvr_renderer_set_occluder(NULL, nearp, bytes, W, H, NULL) == RVR_ERR_INVALID, "NULL renderer");
    if (cuda) CHECK(rvr_renderer_set_occluder(r, far2, bytes, W, H, NULL) == RVR_ERR_INVALID, "CUDA took memory it cannot read");
    CHECK_OK(rvr_renderer_set_occluder(r, nearp, bytes, W, H, NULL));
    CHECK_OK(rvr_render(r, &c, &sf, W, H, far1, bytes, &st1));
    const int amin = (int)ceilf(0.99f * 255.0f + 0.5f);
    size_t hidden = 0, partly = 0, wrong = 0;
    int worst = 0;
    for (size_t p = 0; p < (size_t)W * H; p++) {
        const uint8_t *a = nearp + 4 * p, *f0 = far0 + 4 * p, *f1 = far1 + 4 * p;
        if (a[3] >= amin) {
            hidden++;
            wrong += (f1[0] | f1[1] | f1[2] | f1[3]) != 0;
        } else if (a[3] > 0) {
            partly += memcmp(f0, f1, 4) != 0;
        } else {
            wrong += memcmp(f0, f1, 4) != 0;
        }
        for (int ch = 0; ch < 4; ch++) { /* near over far, premultiplied, with and without */
            const float w = 1 - a[3] / 255.0f, d = w * ((float)f0[ch] - (float)f1[ch]);
            worst = (int)fabsf(d) > worst ? (int)fabsf(d) : worst;
        }
    }
    CHECK(hidden > 500 && partly > 100 && wrong == 0, "%zu pixels hidden, %zu behind partly opaque ones changed, %zu wrong",
          hidden, partly, wrong);
    CHECK(st1.samples < st0.samples, "samples %llu with the occluder, %llu without", (unsigned long long)st1.samples,
          (unsigned long long)st0.samples);
    CHECK(worst <= 3, "composite changed by %d levels", worst);
    /* read in the lower half only: the upper half as without it */
    CHECK_OK(rvr_renderer_set_occluder(r, nearp, bytes, W, H, &lower));
    CHECK_OK(rvr_render(r, &c, &sf, W, H, far2, bytes, &st2));
    CHECK(memcmp(far2, far0, bytes / 2) == 0 && memcmp(far2 + bytes / 2, far1 + bytes / 2, bytes / 2) == 0,
          "the occluder was read outside its region, or not inside");
    /* the rows' order changes nothing; nor do frames of another size; NULL takes it away */
    CHECK_OK(rvr_renderer_set_occluder(r, nearp, bytes, W, H, NULL));
    rvr_render_settings su = sf;
    su.flags |= RVR_F_ROWS_UP;
    CHECK_OK(rvr_render(r, &c, &su, W, H, far2, bytes, NULL));
    CHECK(memcmp(far1, far2, bytes) == 0, "RVR_F_ROWS_UP changed the image");
    uint8_t *small = img_new(W / 2, H / 2), *small0 = img_new(W / 2, H / 2);
    CHECK_OK(rvr_render(r, &c, &sf, W / 2, H / 2, small, bytes / 4, NULL));
    CHECK_OK(rvr_renderer_set_occluder(r, NULL, 0, 0, 0, NULL));
    CHECK_OK(rvr_render(r, &c, &sf, W / 2, H / 2, small0, bytes / 4, NULL));
    CHECK(memcmp(small, small0, bytes / 4) == 0, "an occluder of another size was used");
    CHECK_OK(rvr_render(r, &c, &sf, W, H, far2, bytes, NULL));
    CHECK(memcmp(far0, far2, bytes) == 0, "the occluder stayed after NULL");
    free(small), free(small0), free(far0), free(far1), free(far2);
    if (cuda) rvr_host_free(nearp);
    else free(nearp);
    rvr_renderer_destroy(r);
}
