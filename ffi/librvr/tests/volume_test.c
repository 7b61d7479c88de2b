/* volume_test.c - every dtype and order: same normalized data -> same images; retrieve is
 * byte-exact (edges, steps, both orders); windows; NaN voxels. */
#include "scenes.h"
#include "util.h"

enum { S0 = 13, S1 = 17, S2 = 20 };

/* Element of logical index (a, b, c) in memory for an order. */
static size_t mem_index(int order, const uint64_t sh[3], uint64_t a, uint64_t b, uint64_t c) {
    return order == RVR_ORDER_C ? (size_t)((a * sh[1] + b) * sh[2] + c) : (size_t)(a + sh[0] * (b + sh[1] * c));
}

/* Build the base pattern in a dtype: value = base * k + off, window [off, 255 k + off]. */
static void *make_typed(int32_t dtype, int order, const uint8_t *base, double *lo, double *hi) {
    const uint64_t sh[3] = {S0, S1, S2};
    size_t n = (size_t)S0 * S1 * S2, esz = (size_t)rvr_dtype_size(dtype);
    uint8_t *buf = malloc(n * esz);
    double k = 1, off = 0;
    switch (dtype) {
    case RVR_DTYPE_U16: k = 200; off = 7; break;
    case RVR_DTYPE_I16: k = 100; off = -12800; break;
    case RVR_DTYPE_U32: k = 1000000; off = 5; break;
    case RVR_DTYPE_F32: k = 0.5; off = -3; break;
    case RVR_DTYPE_F64: k = 1e-3; off = 1e3; break;
    }
    for (uint64_t a = 0; a < S0; a++)
        for (uint64_t b = 0; b < S1; b++)
            for (uint64_t c = 0; c < S2; c++) {
                double v = base[(a * S1 + b) * S2 + c] * k + off;
                size_t m = mem_index(order, sh, a, b, c);
                switch (dtype) {
                case RVR_DTYPE_U8: ((uint8_t *)buf)[m] = (uint8_t)v; break;
                case RVR_DTYPE_U16: ((uint16_t *)buf)[m] = (uint16_t)v; break;
                case RVR_DTYPE_I16: ((int16_t *)buf)[m] = (int16_t)v; break;
                case RVR_DTYPE_U32: ((uint32_t *)buf)[m] = (uint32_t)v; break;
                case RVR_DTYPE_F32: ((float *)buf)[m] = (float)v; break;
                case RVR_DTYPE_F64: ((double *)buf)[m] = v; break;
                }
            }
    *lo = off;
    *hi = 255 * k + off;
    return buf;
}

static void render_pair(rvr_renderer *r, uint8_t *comp, uint8_t *mip, uint32_t W, uint32_t H) {
    const rvr_camera c = cam_at(40, -25, 30, S2, S1, S0, 2);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    CHECK_OK(rvr_render(r, &c, &s, W, H, comp, W * H * 4, NULL));
    s.mode = RVR_MODE_MIP;
    s.shading = 0;
    CHECK_OK(rvr_render(r, &c, &s, W, H, mip, W * H * 4, NULL));
}

TEST(every_dtype_and_order_round_trips_and_renders_the_same) {
    const int32_t dtypes[6] = {RVR_DTYPE_U8, RVR_DTYPE_U16, RVR_DTYPE_I16, RVR_DTYPE_U32, RVR_DTYPE_F32, RVR_DTYPE_F64};
    const size_t n = (size_t)S0 * S1 * S2;
    uint8_t *base = malloc(n);
    uint32_t seed = 11;
    for (size_t i = 0; i < n; i++) base[i] = (uint8_t)(lcg(&seed) & 255);
    const uint32_t W = 64, H = 48;
    uint8_t *ref_c = img_new(W, H), *ref_m = img_new(W, H), *c = img_new(W, H), *m = img_new(W, H);
    int first = 1;
    for (int d = 0; d < 6; d++)
        for (int order = 0; order < 2; order++) {
            double lo, hi;
            void *buf = make_typed(dtypes[d], order, base, &lo, &hi);
            size_t bytes = n * (size_t)rvr_dtype_size(dtypes[d]);
            rvr_renderer *r = mk();
            set_vol(r, buf, dtypes[d], order, S0, S1, S2, lo, hi);
            /* round trip: the whole box, byte for byte */
            uint64_t blo[3] = {0, 0, 0}, bhi[3] = {S0, S1, S2};
            uint32_t st[3] = {1, 1, 1};
            uint64_t need = 0;
            CHECK_OK(rvr_renderer_retrieve_size(r, blo, bhi, st, &need));
            CHECK(need == bytes, "dtype %d: retrieve size %llu want %zu", dtypes[d], (unsigned long long)need, bytes);
            void *back = malloc(bytes);
            CHECK_OK(rvr_renderer_retrieve(r, blo, bhi, st, back, bytes));
            CHECK(memcmp(back, buf, bytes) == 0, "dtype %d order %d: round trip differs", dtypes[d], order);
            free(back);
            render_pair(r, first ? ref_c : c, first ? ref_m : m, W, H);
            if (!first && test_backend() == RVR_BACKEND_CUDA) {
                /* CUDA: u8 data stays a u8 texture, the others become uint16 textures */
                imgdiff dc, dm;
                int okc = img_close(ref_c, c, W * H * 4, &dc), okm = img_close(ref_m, m, W * H * 4, &dm);
                if ((d == 1 && order == 0) || !okc || !okm)
                    harness_note("dtype %d order %d: composite max %d mean %.3f, MIP max %d mean %.3f", dtypes[d],
                                 order, dc.max, dc.mean, dm.max, dm.mean);
                CHECK(okc && okm, "dtype %d order %d: images differ beyond the CUDA tolerance", dtypes[d], order);
            } else if (!first) {
                CHECK(memcmp(ref_c, c, W * H * 4) == 0, "dtype %d order %d: composite image differs", dtypes[d], order);
                CHECK(memcmp(ref_m, m, W * H * 4) == 0, "dtype %d order %d: MIP image differs", dtypes[d], order);
            }
            first = 0;
            rvr_volume_info info;
            CHECK_OK(rvr_renderer_volume_info(r, &info));
            CHECK(info.dtype == dtypes[d] && info.order == order && info.bytes == bytes, "info");
            rvr_renderer_destroy(r);
            free(buf);
        }
    free(base);
    free(ref_c);
    free(ref_m);
    free(c);
    free(m);
}

static void check_box(rvr_renderer *r, const uint8_t *orig, int order, const uint64_t sh[3], int esz,
                      uint64_t lo0, uint64_t lo1, uint64_t lo2, uint64_t hi0, uint64_t hi1,
                      uint64_t hi2, uint32_t st0, uint32_t st1, uint32_t st2) {
    const uint64_t lo[3] = {lo0, lo1, lo2}, hi[3] = {hi0, hi1, hi2};
    const uint32_t st[3] = {st0, st1, st2};
    uint64_t os[3], bytes;
    for (int k = 0; k < 3; k++) os[k] = (hi[k] - lo[k] + st[k] - 1) / st[k];
    CHECK_OK(rvr_renderer_retrieve_size(r, lo, hi, st, &bytes));
    CHECK(bytes == os[0] * os[1] * os[2] * (uint64_t)esz, "size");
    uint8_t *out = malloc(bytes + 16);
    memset(out, 0xEE, bytes + 16);
    CHECK_OK(rvr_renderer_retrieve(r, lo, hi, st, out, bytes));
    for (uint64_t a = 0; a < os[0]; a++)
        for (uint64_t b = 0; b < os[1]; b++)
            for (uint64_t c = 0; c < os[2]; c++) {
                size_t src = mem_index(order, sh, lo[0] + a * st[0], lo[1] + b * st[1], lo[2] + c * st[2]);
                size_t dst = mem_index(order, os, a, b, c);
                CHECK(memcmp(out + dst * esz, orig + src * esz, esz) == 0,
                      "order %d box [%llu..%llu) step %u: element (%llu,%llu,%llu) differs", order,
                      (unsigned long long)lo[0], (unsigned long long)hi[0], st[0],
                      (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
            }
    for (int k = 0; k < 16; k++) CHECK(out[bytes + k] == 0xEE, "wrote past the box");
    free(out);
}

TEST(retrieve_boxes_are_byte_exact) {
    const uint64_t sh[3] = {9, 14, 23};
    const size_t n = 9 * 14 * 23;
    const int32_t dtypes[3] = {RVR_DTYPE_U8, RVR_DTYPE_I16, RVR_DTYPE_F64};
    for (int d = 0; d < 3; d++)
        for (int order = 0; order < 2; order++) {
            int esz = rvr_dtype_size(dtypes[d]);
            uint8_t *buf = malloc(n * esz);
            uint32_t seed = 99 + d;
            for (size_t i = 0; i < n * esz; i++) buf[i] = (uint8_t)lcg(&seed);
            if (dtypes[d] == RVR_DTYPE_F64) /* keep it free of NaN patterns? not needed: bytes are bytes */
                for (size_t i = 0; i < n; i++) ((double *)buf)[i] = (double)(lcg(&seed) % 1000) - 500.25;
            rvr_renderer *r = mk();
            set_vol(r, buf, dtypes[d], order, sh[0], sh[1], sh[2], 0, 0);
            check_box(r, buf, order, sh, esz, 0, 0, 0, 9, 14, 23, 1, 1, 1);     /* whole */
            check_box(r, buf, order, sh, esz, 8, 13, 22, 9, 14, 23, 1, 1, 1);   /* last voxel */
            check_box(r, buf, order, sh, esz, 0, 0, 20, 9, 14, 23, 1, 1, 1);    /* edge slab */
            check_box(r, buf, order, sh, esz, 1, 2, 3, 9, 14, 23, 2, 3, 5);     /* steps to the edge */
            check_box(r, buf, order, sh, esz, 0, 0, 0, 9, 14, 23, 4, 4, 4);     /* step, odd sizes */
            check_box(r, buf, order, sh, esz, 3, 5, 7, 4, 6, 8, 7, 7, 7);       /* step > box */
            check_box(r, buf, order, sh, esz, 2, 0, 1, 7, 14, 22, 1, 2, 1);
            rvr_renderer_destroy(r);
            free(buf);
        }
}

TEST(window_change_without_resending) {
    uint16_t v[4 * 4 * 4];
    for (int i = 0; i < 64; i++) v[i] = (uint16_t)(i * 100);
    rvr_renderer *r = mk();
    set_vol(r, v, RVR_DTYPE_U16, RVR_ORDER_C, 4, 4, 4, 0, 0);
    rvr_volume_info info;
    CHECK_OK(rvr_renderer_volume_info(r, &info));
    CHECK(info.window_lo == 0 && info.window_hi == 6300, "auto window %g..%g", info.window_lo, info.window_hi);
    CHECK_OK(rvr_renderer_set_window(r, 1000, 2000));
    CHECK_OK(rvr_renderer_volume_info(r, &info));
    CHECK(info.window_lo == 1000 && info.window_hi == 2000, "window %g..%g", info.window_lo, info.window_hi);
    rvr_slice sl;
    uint32_t W, H;
    CHECK_OK(rvr_renderer_slice_axis(r, 0, 0, &sl, &W, &H));
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.flags = RVR_F_GRAY | RVR_F_NEAREST;
    uint8_t img[16 * 4];
    CHECK_OK(rvr_render_slice(r, &sl, &s, W, H, img, sizeof img, NULL));
    /* z = 0 layer: values 0..1500: below 1000 -> 0, 1500 -> 128 */
    CHECK(img[0] == 0 && img[15 * 4] == 128, "windowed values %d %d", img[0], img[15 * 4]);
    CHECK_RC(rvr_renderer_set_window(r, 5, 1), RVR_ERR_RANGE);
    CHECK_RC(rvr_renderer_set_window(r, NAN, 1), RVR_ERR_RANGE);
    rvr_renderer_destroy(r);
}

TEST(nan_voxels_are_empty_and_harmless) {
    const int N = 24;
    float *a = malloc(sizeof(float) * N * N * N), *b = malloc(sizeof(float) * N * N * N);
    uint32_t seed = 5;
    for (int i = 0; i < N * N * N; i++) {
        a[i] = (float)(lcg(&seed) % 1000) / 1000.0f;
        b[i] = a[i];
        if (lcg(&seed) % 7 == 0) {
            a[i] = NAN;
            b[i] = 0; /* the window's low end */
        }
    }
    a[0] = 0; /* keep data min/max equal in both */
    b[0] = 0;
    rvr_renderer *ra = mk(), *rb = mk();
    set_vol(ra, a, RVR_DTYPE_F32, RVR_ORDER_C, N, N, N, 0, 0);
    set_vol(rb, b, RVR_DTYPE_F32, RVR_ORDER_C, N, N, N, 0, 0);
    rvr_volume_info ia, ib;
    CHECK_OK(rvr_renderer_volume_info(ra, &ia));
    CHECK_OK(rvr_renderer_volume_info(rb, &ib));
    CHECK(ia.nan_count > 0 && ib.nan_count == 0, "nan_count %llu", (unsigned long long)ia.nan_count);
    CHECK(ia.window_lo == ib.window_lo && ia.window_hi == ib.window_hi, "windows differ");
    CHECK(isfinite(ia.data_min) && isfinite(ia.data_max), "min/max with NaN");
    rvr_camera c;
    scene_orbit(N, 0.3f, &c);
    const uint32_t W = 48, H = 40;
    uint8_t *ia8 = img_new(W, H), *ib8 = img_new(W, H);
    const int modes[5] = {RVR_MODE_COMPOSITE, RVR_MODE_MIP, RVR_MODE_MINIP, RVR_MODE_AVERAGE, RVR_MODE_ISO};
    for (int m = 0; m < 5; m++) {
        rvr_render_settings s;
        rvr_render_settings_init(&s);
        s.mode = modes[m];
        s.shading = RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO;
        CHECK_OK(rvr_render(ra, &c, &s, W, H, ia8, W * H * 4, NULL));
        CHECK_OK(rvr_render(rb, &c, &s, W, H, ib8, W * H * 4, NULL));
        CHECK(memcmp(ia8, ib8, W * H * 4) == 0, "mode %d: NaN voxels do not render as the low end", modes[m]);
    }
    /* an all-NaN volume */
    for (int i = 0; i < N * N * N; i++) a[i] = NAN;
    set_vol(ra, a, RVR_DTYPE_F32, RVR_ORDER_F, N, N, N, 0, 0);
    CHECK_OK(rvr_renderer_volume_info(ra, &ia));
    CHECK(isnan(ia.data_min) && ia.nan_count == (uint64_t)N * N * N, "all-NaN info");
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    CHECK_OK(rvr_render(ra, &c, &s, W, H, ia8, W * H * 4, NULL));
    for (size_t i = 0; i < (size_t)W * H; i++) CHECK(ia8[4 * i] == 0 && ia8[4 * i + 3] == 255, "all-NaN image not background");
    free(ia8);
    free(ib8);
    free(a);
    free(b);
    rvr_renderer_destroy(ra);
    rvr_renderer_destroy(rb);
}
