/* labels_test.c - rvr_renderer_set_labels: segmentation labels drawn with the volume
 * (composite tint, slice outlines / fill), their checks, and their lifetime. Known answers on
 * the test backend (RVR_TEST_BACKEND=cuda: the CUDA backend); cuda_test.c compares the CUDA
 * backend's labelled images with the CPU's on larger scenes. */
#include "util.h"

#define N 16

/* An opaque white cube 16^3 (u8 255 everywhere, TF opaque white) and labels: class 1 where
 * x >= 8 (C order unless f), class 2 in the box x, y in [4, 12) of layer z = 5 only. */
static rvr_renderer *scene(uint8_t *vol, uint8_t *lab, int f) {
    rvr_renderer *r = mk();
    memset(vol, 255, N * N * N);
    set_vol(r, vol, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 255);
    tf_step(r, 0.5f, 1);
    for (int z = 0; z < N; z++)
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                uint8_t k = x >= 8;
                if (z == 5 && x >= 4 && x < 12 && y >= 4 && y < 12) k = 2;
                lab[f ? z + N * (y + N * x) : (z * N + y) * N + x] = k;
            }
    return r;
}

static const float CLASSES[12] = {0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1};

static void render_down_z(rvr_renderer *r, uint8_t *img) {
    const float ext[3] = {N, N, N}, vox[3] = {1, 1, 1};
    rvr_camera c;
    uint32_t W, H;
    cam_axis(ext, vox, 0, &c, &W, &H);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    CHECK(W == N && H == N, "image %ux%u", W, H);
    CHECK_OK(rvr_render(r, &c, &s, W, H, img, (uint64_t)W * H * 4, NULL));
}

TEST(labels_are_checked) {
    uint8_t vol[N * N * N], lab[N * N * N];
    rvr_renderer *r = mk();
    CHECK_RC(rvr_renderer_set_labels(NULL, lab, sizeof lab, CLASSES, 3), RVR_ERR_INVALID);
    CHECK_RC(rvr_renderer_set_labels(r, lab, sizeof lab, CLASSES, 3), RVR_ERR_NO_VOLUME);
    CHECK_RC(rvr_renderer_set_label_colors(r, CLASSES, 3), RVR_ERR_NO_VOLUME);
    rvr_renderer_destroy(r);
    r = scene(vol, lab, 0);
    CHECK_RC(rvr_renderer_set_labels(r, lab, sizeof lab - 1, CLASSES, 3), RVR_ERR_SIZE);
    CHECK_RC(rvr_renderer_set_labels(r, lab, sizeof lab, CLASSES, 0), RVR_ERR_INVALID);
    CHECK_RC(rvr_renderer_set_labels(r, lab, sizeof lab, CLASSES, 257), RVR_ERR_INVALID);
    CHECK_RC(rvr_renderer_set_labels(r, lab, sizeof lab, NULL, 3), RVR_ERR_INVALID);
    float bad[12];
    memcpy(bad, CLASSES, sizeof bad);
    bad[5] = NAN;
    CHECK_RC(rvr_renderer_set_labels(r, lab, sizeof lab, bad, 3), RVR_ERR_INVALID);
    CHECK_RC(rvr_renderer_set_labels(r, NULL, 5, CLASSES, 3), RVR_ERR_INVALID);
    CHECK_OK(rvr_renderer_set_labels(r, NULL, 0, NULL, 0)); /* none set: still fine */
    CHECK_OK(rvr_renderer_set_labels(r, lab, sizeof lab, CLASSES, 3));
    CHECK_RC(rvr_renderer_set_label_colors(r, bad, 3), RVR_ERR_INVALID);
    CHECK_OK(rvr_renderer_set_label_colors(r, CLASSES, 3));
    rvr_renderer_destroy(r);
}

TEST(labels_tint_the_rendering_where_they_are_and_only_there) {
    uint8_t vol[N * N * N], lab[N * N * N], plain[N * N * 4], tinted[N * N * 4], again[N * N * 4];
    rvr_renderer *r = scene(vol, lab, 0);
    render_down_z(r, plain);
    CHECK_OK(rvr_renderer_set_labels(r, lab, sizeof lab, CLASSES, 3));
    memset(lab, 0, sizeof lab); /* copied: the caller's buffer may change */
    render_down_z(r, tinted);
    /* Looking down -z from above, the first opaque voxel is layer z = 15: class 1 (red) at
     * x >= 8, class 0 (not drawn: white) elsewhere. Image row 0 is the top (+y). */
    for (int j = 0; j < N; j++)
        for (int i = 0; i < N; i++) {
            const uint8_t *p = tinted + (j * N + i) * 4, *q = plain + (j * N + i) * 4;
            if (i >= 8) CHECK(p[0] == 255 && p[1] == 0 && p[2] == 0 && p[3] == 255, "(%d,%d) = %d %d %d, want red", i, j, p[0], p[1], p[2]);
            else CHECK(!memcmp(p, q, 4), "(%d,%d) changed where class 0 is", i, j);
        }
    /* Hidden class (alpha 0): the plain picture; removed labels: the plain picture. */
    float hidden[12];
    memcpy(hidden, CLASSES, sizeof hidden);
    hidden[7] = 0;
    CHECK_OK(rvr_renderer_set_label_colors(r, hidden, 3));
    render_down_z(r, again);
    CHECK(!memcmp(again, plain, sizeof plain), "a hidden class still tints");
    CHECK_OK(rvr_renderer_set_label_colors(r, CLASSES, 3));
    CHECK_OK(rvr_renderer_set_labels(r, NULL, 0, NULL, 0));
    render_down_z(r, again);
    CHECK(!memcmp(again, plain, sizeof plain), "removed labels still tint");
    rvr_renderer_destroy(r);
}

TEST(labels_follow_the_volume_memory_order) {
    uint8_t vol[N * N * N], labc[N * N * N], labf[N * N * N], a[N * N * 4], b[N * N * 4];
    rvr_renderer *r = scene(vol, labc, 0);
    CHECK_OK(rvr_renderer_set_labels(r, labc, sizeof labc, CLASSES, 3));
    render_down_z(r, a);
    rvr_renderer_destroy(r);
    /* the same labels in F order, with the same volume set in F order (constant, so equal) */
    r = scene(vol, labf, 1);
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = d.shape[1] = d.shape[2] = N;
    d.dtype = RVR_DTYPE_U8;
    d.order = RVR_ORDER_F;
    d.window_hi = 255;
    CHECK_OK(rvr_renderer_set_volume(r, &d, vol, sizeof vol));
    CHECK_OK(rvr_renderer_set_labels(r, labf, sizeof labf, CLASSES, 3));
    render_down_z(r, b);
    CHECK(!memcmp(a, b, sizeof a), "C and F labels render differently");
    rvr_renderer_destroy(r);
}

TEST(slices_outline_labels_or_fill_them) {
    uint8_t vol[N * N * N], lab[N * N * N], img[N * N * 4];
    rvr_renderer *r = scene(vol, lab, 0);
    CHECK_OK(rvr_renderer_set_labels(r, lab, sizeof lab, CLASSES, 3));
    rvr_slice sl;
    uint32_t W, H;
    CHECK_OK(rvr_renderer_slice_axis(r, 0, 5, &sl, &W, &H));
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.flags = RVR_F_NEAREST | RVR_F_GRAY;
    CHECK_OK(rvr_render_slice(r, &sl, &s, W, H, img, sizeof img, NULL));
    /* Layer 5: class 2 (blue) in x, y in [4, 12), class 1 (red) at x >= 8 around it. Outlines:
     * the blue box's border is blue, its inside grey (the data), red only on its borders. */
    for (uint32_t y = 0; y < H; y++)
        for (uint32_t x = 0; x < W; x++) {
            const uint8_t *p = img + (y * W + x) * 4;
            int box = x >= 4 && x < 12 && y >= 4 && y < 12;
            int box_edge = box && (x == 4 || x == 11 || y == 4 || y == 11);
            if (box_edge) CHECK(p[0] == 0 && p[1] == 0 && p[2] == 255, "(%u,%u) box border %d %d %d", x, y, p[0], p[1], p[2]);
            else if (box) CHECK(p[0] == 255 && p[1] == 255 && p[2] == 255, "(%u,%u) box inside %d %d %d", x, y, p[0], p[1], p[2]);
            else if (x < 7) CHECK(p[0] == 255 && p[1] == 255 && p[2] == 255, "(%u,%u) class 0 %d %d %d", x, y, p[0], p[1], p[2]);
        }
    /* red border of class 1 at x = 8 (next to class 0 at x = 7), outside the box */
    CHECK(img[(0 * W + 8) * 4 + 0] == 255 && img[(0 * W + 8) * 4 + 1] == 0, "class 1 border not red");
    s.flags |= RVR_F_LABEL_FILL;
    CHECK_OK(rvr_render_slice(r, &sl, &s, W, H, img, sizeof img, NULL));
    const uint8_t *in = img + (7 * W + 7) * 4, *red = img + (0 * W + 13) * 4;
    CHECK(in[0] == 0 && in[1] == 0 && in[2] == 255, "filled box inside %d %d %d", in[0], in[1], in[2]);
    CHECK(red[0] == 255 && red[1] == 0 && red[2] == 0, "filled class 1 %d %d %d", red[0], red[1], red[2]);
    rvr_renderer_destroy(r);
}

TEST(labels_of_another_volume_are_not_drawn) {
    uint8_t vol[N * N * N], lab[N * N * N], a[N * N * 4];
    rvr_renderer *r = scene(vol, lab, 0);
    CHECK_OK(rvr_renderer_set_labels(r, lab, sizeof lab, CLASSES, 3));
    set_vol(r, vol, RVR_DTYPE_U8, RVR_ORDER_C, N / 2, N, 2 * N, 0, 255); /* another shape */
    const float ext[3] = {2 * N, N, N / 2}, vox[3] = {1, 1, 1};
    rvr_camera c;
    uint32_t W, H;
    cam_axis(ext, vox, 0, &c, &W, &H);
    uint8_t *img = img_new(W, H);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    CHECK_OK(rvr_render(r, &c, &s, W, H, img, (uint64_t)W * H * 4, NULL));
    for (uint32_t i = 0; i < W * H; i++) CHECK(img[4 * i] == 255 && img[4 * i + 1] == 255, "pixel %u tinted by stale labels", i);
    free(img);
    (void)a;
    rvr_renderer_destroy(r);
}
