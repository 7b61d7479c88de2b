/* progressive_test.c - RVR_VOLUME_PROGRESSIVE (CPU backend): while the full form converts,
 * previews draw the coarse copy, which must look exactly like the block-averaged volume set
 * by hand; full-quality frames, slices and window changes wait for the full form and then equal
 * a renderer without the flag; a volume set meanwhile or destroy stops the conversion.
 * RVR_REFINE_HOLD_MS holds the conversion back so that the coarse copy is surely drawn. */
#include "util.h"

#include <stdio.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

enum { S0 = 260, S1 = 270, S2 = 280, F = 2 }; /* 19.7 M voxels: above 256^3, so f = 2 */
static const uint32_t W = 192, H = 144;

/* A ball of rising values in a faint haze; float data gets NaN voxels. */
static void *make_ball(int32_t dtype, int32_t order, uint64_t *bytes) {
    const size_t n = (size_t)S0 * S1 * S2, esz = (size_t)rvr_dtype_size(dtype);
    uint8_t *buf = malloc(n * esz);
    CHECK(buf, "malloc");
    for (size_t z = 0; z < S0; z++)
        for (size_t y = 0; y < S1; y++)
            for (size_t x = 0; x < S2; x++) {
                const size_t i = order == RVR_ORDER_C ? (z * S1 + y) * S2 + x : (x * S1 + y) * S0 + z;
                const double r = sqrt((z - 120.0) * (z - 120.0) + (y - 140.0) * (y - 140.0) + (x - 150.0) * (x - 150.0));
                const double v = r < 100 ? 250 - 2.2 * r : (double)((x + y + z) % 7);
                if (dtype == RVR_DTYPE_U8) buf[i] = (uint8_t)v;
                else ((float *)buf)[i] = (x * 7 + y * 3 + z) % 101 == 5 ? NAN : (float)(v * 0.5 - 3);
            }
    *bytes = n * esz;
    return buf;
}

static double value_at(const void *buf, int32_t dtype, size_t i) {
    return dtype == RVR_DTYPE_U8 ? ((const uint8_t *)buf)[i] : ((const float *)buf)[i];
}

/* The F x F x F block averages (NaN left out) as float32, in the data's order. */
static float *block_average(const void *buf, int32_t dtype, int32_t order) {
    const size_t c0 = S0 / F, c1 = S1 / F, c2 = S2 / F;
    float *out = malloc(sizeof(float) * c0 * c1 * c2);
    CHECK(out, "malloc");
    for (size_t cz = 0; cz < c0; cz++)
        for (size_t cy = 0; cy < c1; cy++)
            for (size_t cx = 0; cx < c2; cx++) {
                double s = 0;
                int k = 0;
                for (size_t z = cz * F; z < cz * F + F; z++)
                    for (size_t y = cy * F; y < cy * F + F; y++)
                        for (size_t x = cx * F; x < cx * F + F; x++) {
                            const size_t i = order == RVR_ORDER_C ? (z * S1 + y) * S2 + x : (x * S1 + y) * S0 + z;
                            const double v = value_at(buf, dtype, i);
                            if (v == v) s += v, k++;
                        }
                const size_t o = order == RVR_ORDER_C ? (cz * c1 + cy) * c2 + cx : (cx * c1 + cy) * c0 + cz;
                out[o] = k ? (float)(s / k) : NAN;
            }
    return out;
}

static rvr_camera camera(void) { return cam_at(520, -260, 430, S2, S1, S0, 2); }

static rvr_render_stats frame_mode(rvr_renderer *r, uint32_t lod, int32_t mode, uint8_t *rgba) {
    const rvr_camera c = camera();
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.mode = mode;
    s.shading = RVR_SHADE_LOCAL;
    s.lod = lod;
    rvr_render_stats st;
    CHECK_OK(rvr_render(r, &c, &s, W, H, rgba, (uint64_t)W * H * 4, &st));
    return st;
}

static rvr_render_stats frame(rvr_renderer *r, uint32_t lod, uint8_t *rgba) {
    return frame_mode(r, lod, RVR_MODE_COMPOSITE, rgba);
}

/* A haze rising to an opaque core; `voxels`: the length its opacities are for, in voxels of
 * the volume it is set on (a volume of F times larger voxels is drawn with opacities for F). */
static void haze_tf_for(rvr_renderer *r, float voxels) {
    enum { N = 1024 };
    static float tf[N * 4];
    for (int i = 0; i < N; i++) {
        const float v = (float)i / (N - 1);
        const float a = v < 0.1f ? 0 : v < 0.8f ? 0.02f + 0.25f * (v - 0.1f) : 0.2f + 3.5f * (v - 0.8f);
        tf[4 * i] = v;
        tf[4 * i + 1] = 0.4f + 0.4f * v;
        tf[4 * i + 2] = 1 - v;
        tf[4 * i + 3] = 1 - powf(1 - (a > 0.9f ? 0.9f : a), voxels);
    }
    CHECK_OK(rvr_renderer_set_tf(r, tf, N));
}

static void haze_tf(rvr_renderer *r) { haze_tf_for(r, 1); }

static rvr_renderer *mk_cpu(void) {
    rvr_renderer *r = mk_backend(RVR_BACKEND_CPU);
    haze_tf(r);
    return r;
}

/* Sets the ball on a progressive renderer (streamed in uneven steps, or at once) with the
 * conversion held back, and a plain renderer beside it. */
static void setup(int32_t dtype, int32_t order, int streamed, rvr_renderer **prog, rvr_renderer **plain, void **buf) {
    setenv("RVR_REFINE_HOLD_MS", "60000", 1);
    uint64_t bytes;
    *buf = make_ball(dtype, order, &bytes);
    rvr_volume_desc d = vol_desc(S0, S1, S2, dtype, order, 0, 0);
    *plain = mk_cpu();
    CHECK_OK(rvr_renderer_set_volume(*plain, &d, *buf, bytes));
    *prog = mk_cpu();
    d.flags = RVR_VOLUME_PROGRESSIVE | RVR_VOLUME_BORROW;
    if (streamed) {
        CHECK_OK(rvr_renderer_set_threads(*prog, 4)); /* the stream takes rows from 4 threads on */
        CHECK_OK(rvr_renderer_volume_begin(*prog, &d, *buf, bytes));
        const uint64_t steps[] = {1, 4097, bytes / 7, bytes / 3 + 5, bytes / 2, bytes - 3};
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) CHECK_OK(rvr_renderer_volume_landed(*prog, steps[i]));
    }
    CHECK_OK(rvr_renderer_set_volume(*prog, &d, *buf, bytes));
}

/* The preview of the held conversion against the block averages set by hand (spacing F, the
 * progressive renderer's window), then the full form against the plain renderer. */
static void check_preview_then_full(int32_t dtype, int32_t order, int streamed) {
    rvr_renderer *prog, *plain;
    void *buf;
    setup(dtype, order, streamed, &prog, &plain, &buf);
    uint8_t *a = img_new(W, H), *b = img_new(W, H);

    const rvr_render_stats pre = frame(prog, 4, a);
    CHECK(pre.volume_level == F, "dtype %d order %d streamed %d: preview level %u, want %d", dtype, order, streamed,
          pre.volume_level, F);
    rvr_volume_info info;
    CHECK_OK(rvr_renderer_volume_info(prog, &info));
    float *avg = block_average(buf, dtype, order);
    rvr_volume_desc dc = vol_desc(S0 / F, S1 / F, S2 / F, RVR_DTYPE_F32, order, info.window_lo, info.window_hi);
    for (int k = 0; k < 3; k++) dc.spacing[k] = F;
    rvr_renderer *hand = mk_cpu();
    haze_tf_for(hand, F);
    CHECK_OK(rvr_renderer_set_volume(hand, &dc, avg, sizeof(float) * (S0 / F) * (S1 / F) * (S2 / F)));
    const rvr_render_stats ref = frame(hand, 4, b);
    imgdiff df = img_diff(a, b, (size_t)W * H * 4, 8);
    CHECK(img_close(a, b, (size_t)W * H * 4, &df), "preview vs averages by hand: mean %.2f max %d over %zu",
          df.mean, df.max, df.over);
    CHECK(pre.samples == ref.samples, "samples %llu vs %llu", (unsigned long long)pre.samples,
          (unsigned long long)ref.samples);
    /* MIP has no opacity per step: the same images exactly, with the same TF */
    haze_tf(hand);
    CHECK(frame_mode(prog, 4, RVR_MODE_MIP, a).volume_level == F, "MIP preview level");
    frame_mode(hand, 4, RVR_MODE_MIP, b);
    df = img_diff(a, b, (size_t)W * H * 4, 0);
    CHECK(df.max == 0, "MIP preview vs averages by hand: max %d over %zu", df.max, df.over);

    /* a full-quality frame waits for the full form: then every frame equals the plain one */
    const rvr_render_stats full = frame(prog, 1, a);
    frame(plain, 1, b);
    CHECK(full.volume_level == 1, "full frame level %u", full.volume_level);
    CHECK(memcmp(a, b, (size_t)W * H * 4) == 0, "full frame differs from the plain renderer's");
    CHECK(frame(prog, 4, a).volume_level == 1, "preview after the conversion still coarse");
    frame(plain, 4, b);
    CHECK(memcmp(a, b, (size_t)W * H * 4) == 0, "preview after the conversion differs from the plain one");
    CHECK(full.samples > 4 * pre.samples, "full frame %llu samples vs preview %llu",
          (unsigned long long)full.samples, (unsigned long long)pre.samples);
    rvr_renderer_destroy(hand);
    rvr_renderer_destroy(prog);
    rvr_renderer_destroy(plain);
    free(avg);
    free(buf);
    free(a);
    free(b);
}

TEST(progressive_preview_is_the_block_average_u8_c) { check_preview_then_full(RVR_DTYPE_U8, RVR_ORDER_C, 0); }
TEST(progressive_preview_is_the_block_average_f32_nan_f_order) { check_preview_then_full(RVR_DTYPE_F32, RVR_ORDER_F, 0); }
TEST(progressive_streamed_u8_c) { check_preview_then_full(RVR_DTYPE_U8, RVR_ORDER_C, 1); }
TEST(progressive_streamed_f32_f_order) { check_preview_then_full(RVR_DTYPE_F32, RVR_ORDER_F, 1); }

TEST(progressive_slice_and_window_wait_for_the_full_form) {
    rvr_renderer *prog, *plain;
    void *buf;
    setup(RVR_DTYPE_U8, RVR_ORDER_C, 0, &prog, &plain, &buf);
    uint8_t *a = img_new(S2, S1), *b = img_new(S2, S1);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    rvr_slice sl;
    uint32_t sw, sh;
    CHECK_OK(rvr_renderer_slice_axis(prog, 0, 100, &sl, &sw, &sh));
    CHECK(sw == S2 && sh == S1, "slice %ux%u", sw, sh);
    CHECK_OK(rvr_render_slice(prog, &sl, &s, sw, sh, a, (uint64_t)sw * sh * 4, NULL));
    CHECK_OK(rvr_render_slice(plain, &sl, &s, sw, sh, b, (uint64_t)sw * sh * 4, NULL));
    CHECK(memcmp(a, b, (size_t)sw * sh * 4) == 0, "slice differs from the plain renderer's");
    free(a);
    free(b);
    rvr_renderer_destroy(prog);

    /* a window change during the conversion */
    setup(RVR_DTYPE_U8, RVR_ORDER_C, 0, &prog, &plain, &buf);
    CHECK_OK(rvr_renderer_set_window(prog, 20, 180));
    CHECK_OK(rvr_renderer_set_window(plain, 20, 180));
    a = img_new(W, H), b = img_new(W, H);
    CHECK(frame(prog, 4, a).volume_level == 1, "after set_window the full form is in place");
    frame(plain, 4, b);
    CHECK(memcmp(a, b, (size_t)W * H * 4) == 0, "window change differs from the plain renderer's");
    rvr_renderer_destroy(prog);
    rvr_renderer_destroy(plain);
    free(buf);
    free(a);
    free(b);
}

TEST(progressive_replaced_or_destroyed_while_converting) {
    rvr_renderer *prog, *plain;
    void *buf;
    setup(RVR_DTYPE_U8, RVR_ORDER_C, 0, &prog, &plain, &buf);
    /* another volume replaces it: the conversion stops, the new one is drawn */
    enum { N = 40 };
    uint8_t *small = malloc(N * N * N);
    for (int i = 0; i < N * N * N; i++) small[i] = (uint8_t)(i * 31 % 251);
    const double t0 = now_ms();
    set_vol(prog, small, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 0);
    set_vol(plain, small, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 0);
    const double took = now_ms() - t0;
    CHECK(took < 30000, "replacing took %.0f ms: the held conversion was not stopped", took);
    uint8_t *a = img_new(W, H), *b = img_new(W, H);
    const rvr_render_stats st = frame(prog, 4, a);
    frame(plain, 4, b);
    CHECK(st.volume_level == 1 && memcmp(a, b, (size_t)W * H * 4) == 0, "the new volume is not drawn as set");
    rvr_renderer_destroy(prog);
    rvr_renderer_destroy(plain);
    free(buf);

    /* destroyed while converting (held for a minute): returns, nothing leaks under ASan */
    setup(RVR_DTYPE_U8, RVR_ORDER_C, 0, &prog, &plain, &buf);
    const double t1 = now_ms();
    rvr_renderer_destroy(prog);
    CHECK(now_ms() - t1 < 30000, "destroy waited for the held conversion");
    rvr_renderer_destroy(plain);
    free(buf);
    free(small);
    free(a);
    free(b);
}

TEST(progressive_small_volume_is_converted_at_once) {
    enum { N = 64 };
    uint8_t *v = malloc(N * N * N);
    for (int i = 0; i < N * N * N; i++) v[i] = (uint8_t)(i % 200);
    setenv("RVR_REFINE_HOLD_MS", "60000", 1);
    rvr_renderer *r = mk_cpu();
    rvr_volume_desc d = vol_desc(N, N, N, RVR_DTYPE_U8, RVR_ORDER_C, 0, 0);
    d.flags = RVR_VOLUME_PROGRESSIVE;
    CHECK_OK(rvr_renderer_set_volume(r, &d, v, N * N * N));
    uint8_t *a = img_new(W, H);
    CHECK(frame(r, 4, a).volume_level == 1, "a 64^3 volume has no coarse copy");
    CHECK_OK(rvr_renderer_volume_wait(r));
    CHECK_RC(rvr_renderer_volume_wait(NULL), RVR_ERR_INVALID);
    d.flags = 4; /* unknown flag */
    CHECK_RC(rvr_renderer_set_volume(r, &d, v, N * N * N), RVR_ERR_INVALID);
    rvr_renderer_destroy(r);
    free(v);
    free(a);
}
