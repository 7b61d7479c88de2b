/* stream_test.c - a volume taken while it arrives (rvr_renderer_volume_begin / _landed) gives
 * the same renderer state and images as rvr_renderer_set_volume of the finished bytes; the old
 * volume stays until the commit; misuse is refused. Runs on both backends (make test-cuda). */
#include "util.h"

enum { S0 = 21, S1 = 18, S2 = 26 };

/* A ball of rising values with some NaN voxels in float data. */
static void *make_ball(int32_t dtype, uint64_t *bytes) {
    const size_t n = (size_t)S0 * S1 * S2, esz = (size_t)rvr_dtype_size(dtype);
    uint8_t *buf = calloc(n, esz);
    for (size_t i = 0; i < n; i++) {
        const int z = (int)(i / (S1 * S2)), y = (int)(i / S2 % S1), x = (int)(i % S2);
        const double r = sqrt((z - 10.0) * (z - 10.0) + (y - 9.0) * (y - 9.0) + (x - 13.0) * (x - 13.0));
        const double v = r < 8 ? 200 - 20 * r : 3;
        if (dtype == RVR_DTYPE_U8) buf[i] = (uint8_t)v;
        else ((float *)buf)[i] = i % 97 == 5 ? NAN : (float)(v * 0.25 - 7);
    }
    *bytes = n * esz;
    return buf;
}

static void frame(rvr_renderer *r, uint8_t *rgba, uint32_t W, uint32_t H) {
    const rvr_camera c = cam_at(60, -30, 40, S2, S1, S0, 2);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    CHECK_OK(rvr_render(r, &c, &s, W, H, rgba, W * H * 4, NULL));
}

TEST(streamed_volume_equals_set_volume) {
    const int32_t dtypes[2] = {RVR_DTYPE_U8, RVR_DTYPE_F32};
    const uint32_t W = 64, H = 48;
    uint8_t *a = img_new(W, H), *b = img_new(W, H);
    for (int k = 0; k < 2; k++)
        for (int order = 0; order < 2; order++) {
            uint64_t bytes;
            void *buf = make_ball(dtypes[k], &bytes);
            rvr_volume_desc d = vol_desc(S0, S1, S2, dtypes[k], order, 0, 0);
            rvr_renderer *plain = mk(), *streamed = mk();
            CHECK_OK(rvr_renderer_set_volume(plain, &d, buf, bytes));
            CHECK_OK(rvr_renderer_volume_begin(streamed, &d, buf, bytes));
            /* uneven steps, not on element boundaries, one repeated and one going back */
            const uint64_t steps[] = {0, 1, 3, 4097, 4097, 777, bytes / 3 + 1, bytes / 2 - 3, bytes - 1};
            for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
                CHECK_OK(rvr_renderer_volume_landed(streamed, steps[i]));
            CHECK_OK(rvr_renderer_set_volume(streamed, &d, buf, bytes));
            rvr_volume_info p, s;
            CHECK_OK(rvr_renderer_volume_info(plain, &p));
            CHECK_OK(rvr_renderer_volume_info(streamed, &s));
            CHECK(p.data_min == s.data_min && p.data_max == s.data_max && p.nan_count == s.nan_count &&
                      p.window_lo == s.window_lo && p.window_hi == s.window_hi,
                  "dtype %d order %d: min %g/%g max %g/%g nan %llu/%llu", dtypes[k], order, p.data_min,
                  s.data_min, p.data_max, s.data_max, (unsigned long long)p.nan_count,
                  (unsigned long long)s.nan_count);
            CHECK(dtypes[k] == RVR_DTYPE_U8 || s.nan_count > 0, "the float ball has NaN voxels");
            /* u8 C order on CUDA takes its min/max while the bytes land (gpu_volume.cu, early u8) */
            CHECK(dtypes[k] != RVR_DTYPE_U8 || (s.data_min == 3 && s.data_max == 200), "u8 min %g max %g, want 3 200",
                  s.data_min, s.data_max);
            frame(plain, a, W, H);
            frame(streamed, b, W, H);
            CHECK(memcmp(a, b, W * H * 4) == 0, "dtype %d order %d: streamed image differs", dtypes[k], order);
            /* a narrower window afterwards: u16 storage after all (CUDA drops its early u8 array) */
            CHECK_OK(rvr_renderer_set_window(plain, 50, 150));
            CHECK_OK(rvr_renderer_set_window(streamed, 50, 150));
            frame(plain, a, W, H);
            frame(streamed, b, W, H);
            CHECK(memcmp(a, b, W * H * 4) == 0, "dtype %d order %d: image after set_window differs", dtypes[k], order);
            /* landed after the commit: the stream is over */
            CHECK_RC(rvr_renderer_volume_landed(streamed, bytes), RVR_ERR_INVALID);
            rvr_renderer_destroy(plain);
            rvr_renderer_destroy(streamed);
            free(buf);
        }
    free(a);
    free(b);
}

TEST(old_volume_is_drawn_until_the_stream_commits) {
    const uint32_t W = 48, H = 40;
    uint64_t bytes;
    uint8_t *old = make_ball(RVR_DTYPE_U8, &bytes);
    uint8_t *next = calloc(bytes, 1);
    memset(next, 250, bytes); /* a very different picture */
    rvr_volume_desc d = vol_desc(S0, S1, S2, RVR_DTYPE_U8, RVR_ORDER_C, 0, 0);
    rvr_renderer *r = mk();
    CHECK_OK(rvr_renderer_set_volume(r, &d, old, bytes));
    uint8_t *before = img_new(W, H), *during = img_new(W, H), *after = img_new(W, H);
    frame(r, before, W, H);
    CHECK_OK(rvr_renderer_volume_begin(r, &d, next, bytes));
    CHECK_OK(rvr_renderer_volume_landed(r, bytes / 2));
    frame(r, during, W, H);
    CHECK(memcmp(before, during, W * H * 4) == 0, "a half-arrived volume must not be drawn");
    uint8_t back[8];
    const uint64_t lo[3] = {0, 0, 0}, hi[3] = {1, 1, 8};
    const uint32_t st[3] = {1, 1, 1};
    CHECK_OK(rvr_renderer_retrieve(r, lo, hi, st, back, sizeof back));
    CHECK(memcmp(back, old, 8) == 0, "retrieve reads the old volume until the commit");
    /* dropped (e.g. the transfer failed): the old volume stays, landed is refused */
    rvr_renderer_volume_drop(r);
    CHECK_RC(rvr_renderer_volume_landed(r, bytes), RVR_ERR_INVALID);
    frame(r, during, W, H);
    CHECK(memcmp(before, during, W * H * 4) == 0, "the old volume stays after a drop");
    /* a set_volume of other bytes than the stream's drops it and takes the whole new volume */
    CHECK_OK(rvr_renderer_volume_begin(r, &d, old, bytes));
    CHECK_OK(rvr_renderer_volume_landed(r, 100));
    CHECK_OK(rvr_renderer_set_volume(r, &d, next, bytes));
    frame(r, after, W, H);
    CHECK(memcmp(before, after, W * H * 4) != 0, "the new volume is drawn after the commit");
    rvr_volume_info info;
    CHECK_OK(rvr_renderer_volume_info(r, &info));
    CHECK(info.data_min == 250 && info.data_max == 250, "min/max of the new bytes, not a mix");
    rvr_renderer_destroy(r);
    free(before);
    free(during);
    free(after);
    free(old);
    free(next);
}

TEST(stream_misuse_is_refused) {
    uint64_t bytes;
    uint8_t *buf = make_ball(RVR_DTYPE_U8, &bytes);
    rvr_volume_desc d = vol_desc(S0, S1, S2, RVR_DTYPE_U8, RVR_ORDER_C, 0, 0);
    rvr_renderer *r = mk();
    CHECK_RC(rvr_renderer_volume_landed(r, 1), RVR_ERR_INVALID); /* no stream */
    CHECK_RC(rvr_renderer_volume_landed(NULL, 1), RVR_ERR_INVALID);
    rvr_renderer_volume_drop(NULL);
    rvr_renderer_volume_drop(r); /* no-op */
    CHECK_RC(rvr_renderer_volume_begin(r, &d, buf, bytes - 1), RVR_ERR_SIZE);
    d.dtype = 99;
    CHECK_RC(rvr_renderer_volume_begin(r, &d, buf, bytes), RVR_ERR_DTYPE);
    d.dtype = RVR_DTYPE_U8;
    CHECK_OK(rvr_renderer_volume_begin(r, &d, buf, bytes));
    CHECK_RC(rvr_renderer_volume_landed(r, bytes + 1), RVR_ERR_INVALID);
    /* a window change drops the stream (it rebuilds from the committed bytes) */
    CHECK_OK(rvr_renderer_set_volume(r, &d, buf, bytes));
    CHECK_OK(rvr_renderer_volume_begin(r, &d, buf, bytes));
    CHECK_OK(rvr_renderer_set_window(r, 0, 100));
    CHECK_RC(rvr_renderer_volume_landed(r, 10), RVR_ERR_INVALID);
    rvr_renderer_destroy(r);
    free(buf);
}

/* The CPU backend converts storage-brick layers while the rows land (with 4+ threads): a tall
 * volume whose maximum only arrives in its middle rows (the window moves mid-stream), and one
 * with an explicit window, must still equal set_volume exactly. */
TEST(layers_converted_while_rows_land_equal_set_volume) {
    enum { Z = 100, Y = 40, X = 36 };
    const size_t n = (size_t)Z * Y * X;
    uint16_t *buf = malloc(n * sizeof *buf);
    for (size_t i = 0; i < n; i++) {
        const int z = (int)(i / (Y * X)), y = (int)(i / X % Y), x = (int)(i % X);
        const double r = sqrt((z - 50.0) * (z - 50.0) + (y - 20.0) * (y - 20.0) + (x - 18.0) * (x - 18.0));
        buf[i] = (uint16_t)(r < 15 ? 3000 + 40 * (15 - r) * (z > 45 ? 2 : 1) : 100 + (x + y) % 7);
    }
    const uint32_t W = 64, H = 48;
    uint8_t *a = img_new(W, H), *b = img_new(W, H);
    for (int explicit_window = 0; explicit_window < 2; explicit_window++) {
        const rvr_volume_desc d = vol_desc(Z, Y, X, RVR_DTYPE_U16, RVR_ORDER_C, explicit_window ? 50 : 0,
                                           explicit_window ? 4000 : 0);
        rvr_renderer *plain = mk(), *streamed = mk();
        CHECK_OK(rvr_renderer_set_threads(streamed, 4));
        CHECK_OK(rvr_renderer_set_volume(plain, &d, buf, n * 2));
        /* bytes not landed yet hold garbage: reading them early would show */
        uint16_t *land = malloc(n * sizeof *land);
        for (size_t i = 0; i < n; i++) land[i] = 65535;
        CHECK_OK(rvr_renderer_volume_begin(streamed, &d, land, n * 2));
        for (uint64_t rows = 0; rows < Z; rows++) {
            const size_t upto = (size_t)rows * Y * X + 3; /* a few elements into the next row */
            memcpy(land, buf, (upto < n ? upto : n) * 2);
            CHECK_OK(rvr_renderer_volume_landed(streamed, upto * 2));
        }
        memcpy(land, buf, n * 2);
        CHECK_OK(rvr_renderer_set_volume(streamed, &d, land, n * 2));
        rvr_volume_info p, s;
        CHECK_OK(rvr_renderer_volume_info(plain, &p));
        CHECK_OK(rvr_renderer_volume_info(streamed, &s));
        CHECK(p.window_lo == s.window_lo && p.window_hi == s.window_hi && p.data_max == s.data_max, "window %g..%g vs %g..%g",
              p.window_lo, p.window_hi, s.window_lo, s.window_hi);
        /* a view down the z axis crosses every layer */
        const rvr_camera c = cam_at(X / 2.0f + 5, Y / 2.0f - 3, Z + 80.0f, X, Y, Z, 1);
        rvr_render_settings st;
        rvr_render_settings_init(&st);
        st.shading = RVR_SHADE_LOCAL;
        for (int mode = 0; mode < 2; mode++) {
            st.mode = mode ? RVR_MODE_MIP : RVR_MODE_COMPOSITE;
            CHECK_OK(rvr_render(plain, &c, &st, W, H, a, W * H * 4, NULL));
            CHECK_OK(rvr_render(streamed, &c, &st, W, H, b, W * H * 4, NULL));
            CHECK(memcmp(a, b, W * H * 4) == 0, "explicit window %d mode %d: images differ", explicit_window, mode);
        }
        rvr_renderer_destroy(plain);
        rvr_renderer_destroy(streamed);
        free(land);
    }
    /* a stream dropped half-way (its pending bricks freed) and a renderer destroyed mid-stream */
    const rvr_volume_desc d = vol_desc(Z, Y, X, RVR_DTYPE_U16, RVR_ORDER_C, 0, 0);
    rvr_renderer *r = mk();
    CHECK_OK(rvr_renderer_set_threads(r, 4));
    CHECK_OK(rvr_renderer_volume_begin(r, &d, buf, n * 2));
    CHECK_OK(rvr_renderer_volume_landed(r, n));
    rvr_renderer_volume_drop(r);
    CHECK_OK(rvr_renderer_volume_begin(r, &d, buf, n * 2));
    CHECK_OK(rvr_renderer_volume_landed(r, n));
    rvr_renderer_destroy(r);
    free(buf);
    free(a);
    free(b);
}
