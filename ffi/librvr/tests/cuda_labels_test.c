/* cuda_labels_test.c - segmentation labels on the CUDA backend against the CPU backend: the same
 * labelled scenes on both, within cuda_test.c's tolerance (util.h); slices with nearest grey
 * sampling identical (the class lookup and the tint are the CPU's arithmetic on the device).
 * Each comparison also checks that the labels changed the picture, so that two backends that
 * both ignore the labels cannot pass. Skipped (passing, with a note) without a usable GPU. */
#include "cuda_util.h"

#define LN 96

/* Labels over scene_pores_u8 (C order): material (value >= 100) is class 3 at x < N/3, class 2
 * at z < N/4, else class 1; the pores (inside the cylinder, value < 100) class 2; a ball near
 * the top holds class 4, beyond the 4 classes of the table (never drawn); air class 0. */
static void pores_labels(int N, const uint8_t *v, uint8_t *lab) {
    for (int z = 0; z < N; z++)
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                size_t i = ((size_t)z * N + y) * N + x;
                float dx = x - N / 2.f, dy = y - N / 2.f, dz = z - 0.7f * N;
                int in = dx * dx + dy * dy < (0.42f * N) * (0.42f * N) && z > N * 0.03f && z < N * 0.97f;
                uint8_t k = 0;
                if (in) k = v[i] >= 100 ? (x < N / 3 ? 3 : (z < N / 4 ? 2 : 1)) : 2;
                if (dx * dx + dy * dy + dz * dz < (N / 6.f) * (N / 6.f)) k = 4;
                lab[i] = k;
            }
}

/* class 0 hidden, 1 red at 0.6, 2 green opaque, 3 blue at 0.8 */
static const float TABLE[16] = {0, 0, 0, 0, 1, 0.1f, 0.1f, 0.6f, 0.1f, 0.9f, 0.2f, 1, 0.2f, 0.3f, 1, 0.8f};

/* pixels (of W*H) whose RGB differ between two images */
static size_t changed(const uint8_t *a, const uint8_t *b, uint32_t W, uint32_t H) {
    size_t n = 0;
    for (size_t i = 0; i < (size_t)W * H; i++) n += memcmp(a + 4 * i, b + 4 * i, 3) != 0;
    return n;
}

/* scene_pores_u8 of side LN on both renderers (volume and TF, not yet the labels) and its
 * pores_labels; the caller frees both. */
static void labelled_pores_both(rvr_renderer *c, rvr_renderer *g, uint8_t **v, uint8_t **lab) {
    *v = pores_both(c, g, LN, 0.3f);
    *lab = malloc((size_t)LN * LN * LN);
    pores_labels(LN, *v, *lab);
}

static void labels_both(rvr_renderer *c, rvr_renderer *g, const uint8_t *lab, uint64_t n) {
    CHECK_OK(rvr_renderer_set_labels(c, lab, n, TABLE, 4));
    CHECK_OK(rvr_renderer_set_labels(g, lab, n, TABLE, 4));
}

TEST(cuda_labels_match_cpu_composite_iso_projections) {
    rvr_renderer *g = cuda_or_skip();
    if (!g) return;
    const int N = LN;
    rvr_renderer *c = mk_backend(RVR_BACKEND_CPU);
    uint8_t *v, *lab;
    labelled_pores_both(c, g, &v, &lab);
    rvr_camera cam;
    scene_orbit(N, 0.7f, &cam);
    const uint32_t W = 200, H = 150;
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.background[0] = s.background[1] = s.background[2] = 0.08f;
    s.shading = RVR_SHADE_LOCAL;
    uint8_t *plain_c, *plain_g, *lab_c, *lab_g;
    both_images(c, g, &cam, &s, W, H, "labels_none_S1", 0, &plain_c, &plain_g);
    labels_both(c, g, lab, (uint64_t)N * N * N);
    memset(lab, 0, (size_t)N * N * N); /* both copied them */
    both_images(c, g, &cam, &s, W, H, "labels_composite_S1", 0, &lab_c, &lab_g);
    size_t nc = changed(plain_c, lab_c, W, H), ng = changed(plain_g, lab_g, W, H);
    harness_note("labels change %zu (CPU) and %zu (CUDA) of %u pixels", nc, ng, W * H);
    CHECK(nc > W * H / 10 && ng > W * H / 10, "the labels barely change the picture: %zu / %zu pixels", nc, ng);

    s.shading = 0;
    both(c, g, &cam, &s, W, H, "labels_composite_S0", 0);
    s.shading = RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO;
    s.light_dir[0] = 1;
    s.light_dir[1] = 0.3f;
    s.light_dir[2] = 1;
    both(c, g, &cam, &s, W, H, "labels_composite_S3", 0);
    s.shading = RVR_SHADE_LOCAL;
    memset(s.light_dir, 0, sizeof s.light_dir);
    s.flags = RVR_F_NEAREST;
    both(c, g, &cam, &s, W, H, "labels_composite_nearest", 0);
    s.flags = RVR_F_JITTER; /* what the viewer draws */
    both(c, g, &cam, &s, W, H, "labels_composite_jitter", 0);
    s.flags = 0;
    s.step = 0.5f;
    both(c, g, &cam, &s, W, H, "labels_composite_step_half", 0);
    s.step = 1;
    s.mode = RVR_MODE_ISO;
    s.iso_value = 0.6f;
    both(c, g, &cam, &s, W, H, "labels_iso_S1", 0);

    /* projections are not tinted: with labels, the CUDA image is the one without */
    s.mode = RVR_MODE_MIP;
    s.shading = 0;
    uint8_t *mip_lab, *mip_plain;
    both_images(c, g, &cam, &s, W, H, "labels_mip", 0, NULL, &mip_lab);
    CHECK_OK(rvr_renderer_set_labels(g, NULL, 0, NULL, 0));
    mip_plain = img_new(W, H);
    CHECK_OK(rvr_render(g, &cam, &s, W, H, mip_plain, (uint64_t)W * H * 4, NULL));
    CHECK(changed(mip_lab, mip_plain, W, H) == 0, "labels tint a MIP on the CUDA backend");

    /* removed labels: the CUDA picture is the plain one again, bit for bit */
    s.mode = RVR_MODE_COMPOSITE;
    s.shading = RVR_SHADE_LOCAL;
    uint8_t *again = img_new(W, H);
    CHECK_OK(rvr_render(g, &cam, &s, W, H, again, (uint64_t)W * H * 4, NULL));
    CHECK(changed(again, plain_g, W, H) == 0, "removed labels still tint on the CUDA backend");
    free(again);
    free(mip_lab);
    free(mip_plain);
    free(plain_c);
    free(plain_g);
    free(lab_c);
    free(lab_g);
    free(lab);
    free(v);
    rvr_renderer_destroy(c);
    rvr_renderer_destroy(g);
}

TEST(cuda_labels_recoloured_hidden_and_in_slices) {
    rvr_renderer *g = cuda_or_skip();
    if (!g) return;
    const int N = LN;
    rvr_renderer *c = mk_backend(RVR_BACKEND_CPU);
    uint8_t *v, *lab;
    labelled_pores_both(c, g, &v, &lab);
    labels_both(c, g, lab, (uint64_t)N * N * N);
    rvr_camera cam;
    scene_orbit(N, 2.2f, &cam);
    const uint32_t W = 200, H = 150;
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    uint8_t *before, *after;
    both_images(c, g, &cam, &s, W, H, "labels_table", 0, NULL, &before);
    /* class 1 hidden, class 3 recoloured opaque yellow: new colours only, same label bytes */
    float t2[16];
    memcpy(t2, TABLE, sizeof t2);
    t2[7] = 0;
    const float yellow[4] = {1, 0.9f, 0.1f, 1};
    memcpy(t2 + 12, yellow, sizeof yellow);
    CHECK_OK(rvr_renderer_set_label_colors(c, t2, 4));
    CHECK_OK(rvr_renderer_set_label_colors(g, t2, 4));
    both_images(c, g, &cam, &s, W, H, "labels_recoloured", 0, NULL, &after);
    size_t n = changed(before, after, W, H);
    harness_note("recolouring changes %zu of %u pixels", n, W * H);
    CHECK(n > W * H / 20, "hiding class 1 and recolouring class 3 barely changes the CUDA picture: %zu pixels", n);
    free(before);
    free(after);

    /* slices: outlines and fill, nearest grey (identical) and with the TF (tolerance); each
     * labelled slice differs from the unlabelled one */
    rvr_render_settings ss;
    rvr_render_settings_init(&ss);
    const int idx[3] = {48, 30, 60};
    const uint32_t fl[3] = {RVR_F_NEAREST | RVR_F_GRAY, RVR_F_NEAREST | RVR_F_GRAY | RVR_F_LABEL_FILL, 0};
    const char *fn[3] = {"outline_gray", "fill_gray", "outline_tf"};
    for (int axis = 0; axis < 3; axis++) {
        rvr_slice sl;
        uint32_t sw, sh;
        CHECK_OK(rvr_renderer_slice_axis(g, axis, (uint64_t)idx[axis], &sl, &sw, &sh));
        for (int q = 0; q < 3; q++) {
            char name[64];
            snprintf(name, sizeof name, "labels_slice%d_%s", axis, fn[q]);
            ss.flags = fl[q];
            uint8_t *withl = slice_both(c, g, &sl, &ss, sw, sh, name, fl[q] != 0);
            uint8_t *none = img_new(sw, sh);
            float clear[16] = {0};
            CHECK_OK(rvr_renderer_set_label_colors(g, clear, 4)); /* every class hidden */
            CHECK_OK(rvr_render_slice(g, &sl, &ss, sw, sh, none, (uint64_t)sw * sh * 4, NULL));
            CHECK_OK(rvr_renderer_set_label_colors(g, t2, 4));
            size_t m = changed(withl, none, sw, sh);
            CHECK(m > 20, "%s: the labels change only %zu pixels of the CUDA slice", name, m);
            free(withl);
            free(none);
        }
    }
    /* oblique, with a clip box: the class lookup is exact, the grey lookup the hardware's */
    rvr_slice ob = {{48, 48, 40}, {80, -30, 10}, {0, 30, 70}};
    ss.flags = RVR_F_NEAREST | RVR_F_GRAY | RVR_F_CLIP_BOX;
    for (int k = 0; k < 3; k++) {
        ss.clip_min[k] = 8;
        ss.clip_max[k] = 88;
    }
    free(slice_both(c, g, &ob, &ss, 160, 120, "labels_slice_oblique", 0));
    free(lab);
    free(v);
    rvr_renderer_destroy(c);
    rvr_renderer_destroy(g);
}

/* F-order float32 volume, F-order labels (strides on the device), the uint16 texture path. */
TEST(cuda_labels_follow_f_order_on_the_device) {
    rvr_renderer *g = cuda_or_skip();
    if (!g) return;
    rvr_renderer *c = mk_backend(RVR_BACKEND_CPU);
    const int nx = 70, ny = 50, nz = 40;
    const size_t n = (size_t)nx * ny * nz;
    float *f = malloc(sizeof(float) * n);
    uint8_t *lab = malloc(n);
    for (int x = 0; x < nx; x++)
        for (int y = 0; y < ny; y++)
            for (int z = 0; z < nz; z++) {
                float dx = x - 35.f, dy = y - 25.f, dz = z - 20.f, r = sqrtf(dx * dx + dy * dy + dz * dz);
                size_t i = (size_t)x * ny * nz + (size_t)y * nz + z; /* F order: z fastest */
                f[i] = 100.f - r * 4.f;
                lab[i] = (uint8_t)(r < 8 ? 2 : (x > 40 ? 1 : (y < 15 ? 3 : 0)));
            }
    const rvr_volume_desc d = vol_desc(nz, ny, nx, RVR_DTYPE_F32, RVR_ORDER_F, 0, 90);
    volume_both(c, g, &d, f, sizeof(float) * n);
    const float tf[4 * 4] = {0, 0, 1, 0, 0, 1, 0, 0.02f, 1, 1, 0, 0.1f, 1, 1, 1, 0.4f};
    tf_both(c, g, tf, 4);
    labels_both(c, g, lab, n);
    const rvr_camera cam = cam_at(120, -60, 90, nx, ny, nz, 2);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = RVR_SHADE_LOCAL;
    both(c, g, &cam, &s, 160, 120, "labels_f32_F", 0);
    rvr_render_settings ss;
    rvr_render_settings_init(&ss);
    ss.flags = RVR_F_NEAREST | RVR_F_GRAY;
    for (int axis = 0; axis < 3; axis++) {
        rvr_slice sl;
        uint32_t sw, sh;
        CHECK_OK(rvr_renderer_slice_axis(g, axis, axis == 0 ? 20 : 25, &sl, &sw, &sh));
        char name[64];
        snprintf(name, sizeof name, "labels_f32_F_slice%d", axis);
        free(slice_both(c, g, &sl, &ss, sw, sh, name, 1));
    }
    /* labels of another shape are not drawn: a new volume, then the CUDA slice is unlabelled */
    set_vol(g, f, RVR_DTYPE_F32, RVR_ORDER_C, ny, nz, nx, 0, 90);
    set_vol(c, f, RVR_DTYPE_F32, RVR_ORDER_C, ny, nz, nx, 0, 90);
    rvr_slice sl;
    uint32_t sw, sh;
    CHECK_OK(rvr_renderer_slice_axis(g, 0, 10, &sl, &sw, &sh));
    uint8_t *a = slice_both(c, g, &sl, &ss, sw, sh, "labels_stale_shape", 1);
    for (size_t i = 0; i < (size_t)sw * sh; i++)
        CHECK(a[4 * i] == a[4 * i + 1] && a[4 * i + 1] == a[4 * i + 2], "pixel %zu coloured by labels of another shape", i);
    free(a);
    free(lab);
    free(f);
    rvr_renderer_destroy(c);
    rvr_renderer_destroy(g);
}
