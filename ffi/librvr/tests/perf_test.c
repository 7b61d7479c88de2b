/* perf_test.c - performance sanity: renders and reports timings; never asserts on time. */
#include "scenes.h"
#include "util.h"

TEST(perf_sanity_reports_rates) {
    const int N = 128;
    uint8_t *v = malloc((size_t)N * N * N);
    scene_pores_u8(N, v);
    rvr_renderer *r = mk();
    set_vol(r, v, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 255);
    free(v);
    float tf[256 * 4];
    scene_tf_bench(0.08f, tf);
    CHECK_OK(rvr_renderer_set_tf(r, tf, 256));
    rvr_camera c;
    scene_orbit(N, 0.5f, &c);
    const uint32_t W = 320, H = 180;
    uint8_t *img = img_new(W, H);
    const char *names[4] = {"S0", "S1", "S2", "S3"};
    const uint32_t shades[4] = {0, RVR_SHADE_LOCAL, RVR_SHADE_LOCAL | RVR_SHADE_SHADOW,
                                RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO};
    for (int k = 0; k < 4; k++) {
        rvr_render_settings s;
        rvr_render_settings_init(&s);
        s.shading = shades[k];
        s.light_dir[0] = 1;
        s.light_dir[2] = 1;
        rvr_render_stats st, st2;
        CHECK_OK(rvr_render(r, &c, &s, W, H, img, W * H * 4, &st));
        CHECK_OK(rvr_render(r, &c, &s, W, H, img, W * H * 4, &st2));
        CHECK(st2.samples > 0, "no samples");
        harness_note("%s 128^3 %ux%u: first %.1f ms (precompute %.1f ms), cached %.1f ms, %.1f Msamples/s",
                     names[k], W, H, st.total_ms, st.precompute_ms, st2.total_ms,
                     st2.samples / (st2.total_ms * 1e3));
    }
    free(img);
    rvr_renderer_destroy(r);
}
