/* cuda_test.c - the CUDA backend against the CPU backend: the same scenes rendered by both,
 * image differences within the stated tolerance (util.h: mean channel difference <= 1.0 level,
 * <= 1% of channel values off by more than 8; MIP/MinIP at voxel centres and nearest slices:
 * identical; sphere silhouettes may differ in a few edge pixels: float rounding). Skipped (passing, with a note) where no CUDA renderer can be made. */
#include "cuda_util.h"

TEST(cuda_matches_cpu_composite_shading_projections) {
    rvr_renderer *g = cuda_or_skip();
    if (!g) return;
    const int N = 96;
    rvr_renderer *c = mk_backend(RVR_BACKEND_CPU);
    uint8_t *v = pores_both(c, g, N, 0.3f);
    rvr_camera cam;
    scene_orbit(N, 0.7f, &cam);
    const uint32_t W = 200, H = 150;
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.background[0] = s.background[1] = s.background[2] = 0.08f;
    s.light_dir[0] = 1;
    s.light_dir[1] = 0.3f;
    s.light_dir[2] = 1;
    const uint32_t sh[4] = {0, RVR_SHADE_LOCAL, RVR_SHADE_LOCAL | RVR_SHADE_SHADOW,
                            RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO};
    const char *names[4] = {"composite_S0", "composite_S1", "composite_S2", "composite_S3"};
    for (int q = 0; q < 4; q++) {
        s.shading = sh[q];
        both(c, g, &cam, &s, W, H, names[q], 0);
    }
    s.shading = RVR_SHADE_LOCAL;
    memset(s.light_dir, 0, sizeof s.light_dir); /* headlight */
    both(c, g, &cam, &s, W, H, "composite_headlight", 0);
    s.flags = RVR_F_NEAREST;
    both(c, g, &cam, &s, W, H, "composite_nearest", 0);
    s.flags = RVR_F_NO_SKIP | RVR_F_NO_ERT;
    both(c, g, &cam, &s, W, H, "composite_noskip_noert", 0);
    s.flags = 0;
    s.step = 0.5f;
    both(c, g, &cam, &s, W, H, "composite_step_half", 0);
    s.step = 1;
    s.lod = 3;
    both(c, g, &cam, &s, W, H, "composite_lod3", 0);
    s.lod = 1;
    s.flags = RVR_F_CLIP_BOX;
    for (int k = 0; k < 3; k++) {
        s.clip_min[k] = 10;
        s.clip_max[k] = 70;
    }
    s.num_planes = 1;
    s.planes[0][0] = 1;
    s.planes[0][3] = -30; /* keep x >= 30 */
    both(c, g, &cam, &s, W, H, "composite_clipped", 0);
    s.flags = 0;
    s.num_planes = 0;
    s.mode = RVR_MODE_ISO;
    s.iso_value = 0.6f;
    both(c, g, &cam, &s, W, H, "iso_S1", 0);
    s.shading = RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO;
    s.light_dir[1] = 1;
    both(c, g, &cam, &s, W, H, "iso_S3", 0);
    s.shading = 0;
    const int pm[3] = {RVR_MODE_MIP, RVR_MODE_MINIP, RVR_MODE_AVERAGE};
    const char *pn[3] = {"mip", "minip", "average"};
    for (int q = 0; q < 3; q++) {
        s.mode = pm[q];
        s.flags = 0;
        both(c, g, &cam, &s, W, H, pn[q], 0);
        s.flags = RVR_F_GRAY;
        both(c, g, &cam, &s, W, H, pn[q], 0);
    }
    free(v);
    rvr_renderer_destroy(c);
    rvr_renderer_destroy(g);
}

TEST(cuda_matches_cpu_dtypes_slices_points) {
    rvr_renderer *g = cuda_or_skip();
    if (!g) return;
    rvr_renderer *c = mk_backend(RVR_BACKEND_CPU);
    /* f32 sphere-ish field, F order, explicit window that clips: the uint16 texture path */
    const int nx = 70, ny = 50, nz = 40;
    float *f = malloc(sizeof(float) * nx * ny * nz);
    uint32_t seed = 9;
    for (int x = 0; x < nx; x++)
        for (int y = 0; y < ny; y++)
            for (int z = 0; z < nz; z++) {
                float dx = x - 35.f, dy = y - 25.f, dz = z - 20.f;
                f[x * ny * nz + y * nz + z] = 100.f - sqrtf(dx * dx + dy * dy + dz * dz) * 4.f + (lcg(&seed) % 100) / 25.f;
            }
    rvr_volume_desc d = vol_desc(nz, ny, nx, RVR_DTYPE_F32, RVR_ORDER_F, 0, 90);
    d.spacing[0] = 1.5f;
    volume_both(c, g, &d, f, sizeof(float) * nx * ny * nz);
    rvr_volume_info ic, ig;
    CHECK_OK(rvr_renderer_volume_info(c, &ic));
    CHECK_OK(rvr_renderer_volume_info(g, &ig));
    CHECK(ic.data_min == ig.data_min && ic.data_max == ig.data_max && ic.window_lo == ig.window_lo &&
              ic.window_hi == ig.window_hi && ic.nan_count == ig.nan_count,
          "volume info differs: min %g/%g max %g/%g", ic.data_min, ig.data_min, ic.data_max, ig.data_max);
    const float tf[4 * 4] = {0, 0, 1, 0, 0, 1, 0, 0.02f, 1, 1, 0, 0.1f, 1, 0, 0, 0.4f};
    tf_both(c, g, tf, 4);
    rvr_camera cam = cam_at(120, -60, 90, nx, ny, nz, 2);
    cam.target[2] = 30; /* above the centre */
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL | RVR_SHADE_AO;
    both(c, g, &cam, &s, 160, 120, "f32_F_window_S1S3", 0);
    s.shading = 0;
    s.mode = RVR_MODE_MIP;
    s.flags = RVR_F_GRAY;
    both(c, g, &cam, &s, 160, 120, "f32_mip_gray", 0);
    /* window change without resending */
    CHECK_OK(rvr_renderer_set_window(c, 20, 60));
    CHECK_OK(rvr_renderer_set_window(g, 20, 60));
    both(c, g, &cam, &s, 160, 120, "f32_window_changed", 0);
    /* slices: nearest axis slices identical; oblique trilinear within tolerance */
    rvr_render_settings ss;
    rvr_render_settings_init(&ss);
    for (int axis = 0; axis < 3; axis++) {
        rvr_slice sl;
        uint32_t W, H;
        CHECK_OK(rvr_renderer_slice_axis(g, axis, 7, &sl, &W, &H));
        char name[64];
        snprintf(name, sizeof name, "slice%d_nearest_gray", axis);
        ss.flags = RVR_F_NEAREST | RVR_F_GRAY;
        free(slice_both(c, g, &sl, &ss, W, H, name, 1));
        snprintf(name, sizeof name, "slice%d_tf", axis);
        ss.flags = 0;
        free(slice_both(c, g, &sl, &ss, W, H, name, 0));
    }
    rvr_slice ob = {{50, 40, 30}, {60, -30, 10}, {0, 20, 40}};
    ss.flags = RVR_F_GRAY | RVR_F_CLIP_BOX;
    for (int k = 0; k < 3; k++) {
        ss.clip_min[k] = 5;
        ss.clip_max[k] = 60;
    }
    free(slice_both(c, g, &ob, &ss, 128, 96, "slice_oblique", 0));
    /* points with the volume, the range filter */
    enum { NP = 300 };
    float xyz[3 * NP], val[NP];
    for (int i = 0; i < NP; i++) {
        xyz[3 * i] = (float)(lcg(&seed) % 1050) / 10.f;
        xyz[3 * i + 1] = (float)(lcg(&seed) % 750) / 10.f;
        xyz[3 * i + 2] = (float)(lcg(&seed) % 900) / 10.f;
        val[i] = 0.5f + (float)(lcg(&seed) % 100) / 40.f;
    }
    CHECK_OK(rvr_renderer_set_points(c, xyz, val, NP));
    CHECK_OK(rvr_renderer_set_points(g, xyz, val, NP));
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    s.point_scale = 1.5f;
    both(c, g, &cam, &s, 160, 120, "points_volume", 0);
    s.flags = RVR_F_POINT_FILTER | RVR_F_HIDE_VOLUME;
    s.point_filter_lo = 1;
    s.point_filter_hi = 2;
    both(c, g, &cam, &s, 160, 120, "points_filtered", 0);
    free(f);
    rvr_renderer_destroy(c);
    rvr_renderer_destroy(g);
}
