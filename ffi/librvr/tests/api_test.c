/* api_test.c - backends, error codes, bad input, outputs untouched on failure. */
#include "util.h"

TEST(backends_and_strerror) {
    rvr_renderer *r = (rvr_renderer *)0x1;
    /* CUDA: a renderer where the backend is built in and a GPU is usable, else UNSUPPORTED
     * (no crash without a driver); AUTO follows */
    int cuda = rvr_renderer_create(RVR_BACKEND_CUDA, &r);
    if (cuda == RVR_OK) {
        CHECK(rvr_renderer_backend(r) == RVR_BACKEND_CUDA, "CUDA renderer reports %d", rvr_renderer_backend(r));
        rvr_renderer_destroy(r);
        r = (rvr_renderer *)0x1;
        harness_note("CUDA backend available");
    } else {
        CHECK(cuda == RVR_ERR_UNSUPPORTED, "CUDA create -> %d", cuda);
        CHECK(r == (rvr_renderer *)0x1, "out written on failure");
        harness_note("CUDA backend unavailable here (not built in, or no driver/GPU): RVR_ERR_UNSUPPORTED");
    }
    CHECK_RC(rvr_renderer_create(77, &r), RVR_ERR_INVALID);
    CHECK_RC(rvr_renderer_create(RVR_BACKEND_CPU, NULL), RVR_ERR_INVALID);
    CHECK_OK(rvr_renderer_create(RVR_BACKEND_AUTO, &r));
    CHECK(rvr_renderer_backend(r) == (cuda == RVR_OK ? RVR_BACKEND_CUDA : RVR_BACKEND_CPU), "AUTO picked %d",
          rvr_renderer_backend(r));
    rvr_renderer_destroy(r);
    CHECK_OK(rvr_renderer_create(RVR_BACKEND_CPU, &r));
    CHECK(rvr_renderer_backend(r) == RVR_BACKEND_CPU, "CPU picked %d", rvr_renderer_backend(r));
    CHECK_OK(rvr_renderer_set_threads(r, 1));
    CHECK_RC(rvr_renderer_set_threads(r, -1), RVR_ERR_INVALID);
    rvr_renderer_destroy(r);
    rvr_renderer_destroy(NULL);
    for (int e = 0; e >= -9; e--) CHECK(strcmp(rvr_strerror(e), "unknown error") != 0, "no text for %d", e);
    CHECK(strcmp(rvr_strerror(-1000), "unknown error") == 0, "unknown code");
    CHECK(strcmp(rvr_version(), "1.0.0") == 0, "version");
    CHECK(rvr_dtype_size(RVR_DTYPE_F64) == 8 && rvr_dtype_size(42) == RVR_ERR_DTYPE, "dtype sizes");
}

TEST(bad_volumes_are_refused_and_the_old_one_stays) {
    rvr_renderer *r = mk();
    uint8_t v[2 * 3 * 4] = {0};
    set_vol(r, v, RVR_DTYPE_U8, RVR_ORDER_C, 2, 3, 4, 0, 255);
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = 5;
    d.shape[1] = 5;
    d.shape[2] = 5;
    d.dtype = RVR_DTYPE_U16;
    uint16_t big[125] = {0};
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 124 * 2), RVR_ERR_SIZE);       /* wrong byte count */
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 126 * 2), RVR_ERR_SIZE);
    d.dtype = 0;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_DTYPE);          /* unknown dtype */
    d.dtype = 99;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_DTYPE);
    d.dtype = RVR_DTYPE_U16;
    d.order = 2;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_INVALID);        /* unknown order */
    d.order = RVR_ORDER_C;
    d.shape[1] = 0;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 0), RVR_ERR_INVALID);          /* empty shape */
    d.shape[1] = 5;
    d.window_lo = 3;
    d.window_hi = 1;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_RANGE);          /* bad window */
    d.window_lo = NAN;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_RANGE);
    d.window_lo = d.window_hi = 0;
    d.spacing[0] = -1;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_INVALID);        /* bad spacing */
    d.spacing[0] = NAN;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_INVALID);
    d.spacing[0] = 0;
    d.flags = 8;
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_INVALID);        /* unknown flag */
    d.flags = 0;
    d.shape[0] = d.shape[1] = d.shape[2] = (1ull << 30);
    CHECK_RC(rvr_renderer_set_volume(r, &d, big, 250), RVR_ERR_SIZE);           /* 2^90 elements */
    CHECK_RC(rvr_renderer_set_volume(r, NULL, big, 250), RVR_ERR_INVALID);
    CHECK_RC(rvr_renderer_set_volume(NULL, &d, big, 250), RVR_ERR_INVALID);
    rvr_volume_info info;
    CHECK_OK(rvr_renderer_volume_info(r, &info));
    CHECK(info.shape[0] == 2 && info.shape[1] == 3 && info.shape[2] == 4 && info.dtype == RVR_DTYPE_U8,
          "the old volume did not stay");
    rvr_renderer_destroy(r);
}

TEST(bad_boxes_are_refused) {
    rvr_renderer *r = mk();
    uint64_t lo[3] = {0, 0, 0}, hi[3] = {1, 1, 1}, bytes = 12345;
    uint32_t st[3] = {1, 1, 1};
    uint8_t out[64];
    CHECK_RC(rvr_renderer_retrieve(r, lo, hi, st, out, sizeof out), RVR_ERR_NO_VOLUME);
    uint8_t v[2 * 3 * 4];
    for (int i = 0; i < 24; i++) v[i] = (uint8_t)i;
    set_vol(r, v, RVR_DTYPE_U8, RVR_ORDER_F, 2, 3, 4, 0, 0);
    uint64_t hi_out[3] = {3, 3, 4}, lo_empty[3] = {1, 0, 0}, hi_empty[3] = {1, 3, 4};
    memset(out, 0x5A, sizeof out);
    CHECK_RC(rvr_renderer_retrieve(r, lo, hi_out, st, out, sizeof out), RVR_ERR_RANGE);   /* outside */
    CHECK_RC(rvr_renderer_retrieve(r, lo_empty, hi_empty, st, out, sizeof out), RVR_ERR_RANGE); /* empty */
    uint64_t lo_out[3] = {0, 0, 4}, hi_edge[3] = {2, 3, 5};
    CHECK_RC(rvr_renderer_retrieve(r, lo_out, hi_edge, st, out, sizeof out), RVR_ERR_RANGE);
    uint32_t st0[3] = {1, 0, 1};
    CHECK_RC(rvr_renderer_retrieve(r, lo, hi, st0, out, sizeof out), RVR_ERR_INVALID);   /* step 0 */
    uint64_t hi_all[3] = {2, 3, 4};
    CHECK_RC(rvr_renderer_retrieve(r, lo, hi_all, st, out, 23), RVR_ERR_SIZE);            /* too small */
    CHECK_RC(rvr_renderer_retrieve(r, lo, hi_all, st, NULL, 24), RVR_ERR_INVALID);
    for (int i = 0; i < 64; i++) CHECK(out[i] == 0x5A, "output written on failure");
    CHECK_RC(rvr_renderer_retrieve_size(r, lo, hi_out, st, &bytes), RVR_ERR_RANGE);
    CHECK(bytes == 12345, "size written on failure");
    CHECK_OK(rvr_renderer_retrieve(r, lo, hi_all, st, out, 24));
    CHECK(memcmp(out, v, 24) == 0, "whole box");
    rvr_renderer_destroy(r);
}

TEST(bad_render_arguments_leave_the_image_alone) {
    rvr_renderer *r = mk();
    uint8_t v[8 * 8 * 8];
    memset(v, 100, sizeof v);
    set_vol(r, v, RVR_DTYPE_U8, RVR_ORDER_C, 8, 8, 8, 0, 255);
    rvr_camera c;
    rvr_camera_init(&c);
    c.eye[0] = 4;
    c.eye[1] = 4;
    c.eye[2] = 30;
    c.target[0] = c.target[1] = c.target[2] = 4;
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    const uint32_t W = 16, H = 8;
    uint8_t *img = img_new(W, H);
    CHECK_RC(rvr_render(r, &c, &s, 0, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    CHECK_RC(rvr_render(r, &c, &s, W, H, img, W * H * 4 - 1, NULL), RVR_ERR_SIZE);
    CHECK_RC(rvr_render(r, NULL, &s, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    rvr_camera bad = c;
    memcpy(bad.target, bad.eye, sizeof bad.eye);
    CHECK_RC(rvr_render(r, &bad, &s, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);      /* eye == target */
    bad = c;
    bad.up[0] = 0; bad.up[1] = 0; bad.up[2] = 1;                                          /* up || view */
    CHECK_RC(rvr_render(r, &bad, &s, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    bad = c;
    bad.fov_y_deg = 180;
    CHECK_RC(rvr_render(r, &bad, &s, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    bad = c;
    bad.projection = 3;
    CHECK_RC(rvr_render(r, &bad, &s, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    rvr_render_settings t = s;
    t.mode = 9;
    CHECK_RC(rvr_render(r, &c, &t, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    t = s;
    t.flags = 1u << 20;
    CHECK_RC(rvr_render(r, &c, &t, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    t = s;
    t.step = NAN;
    CHECK_RC(rvr_render(r, &c, &t, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    t = s;
    t.background[1] = NAN;
    CHECK_RC(rvr_render(r, &c, &t, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    t = s;
    t.num_planes = 7;
    CHECK_RC(rvr_render(r, &c, &t, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    t = s;
    t.shading = 8;
    CHECK_RC(rvr_render(r, &c, &t, W, H, img, W * H * 4, NULL), RVR_ERR_INVALID);
    for (size_t i = 0; i < (size_t)W * H * 4; i++) CHECK(img[i] == 0xAB, "image written on failure");
    /* a TF with NaN, too few entries */
    float tf[8] = {0, 0, 0, 0, 1, 1, 1, NAN};
    CHECK_RC(rvr_renderer_set_tf(r, tf, 2), RVR_ERR_INVALID);
    CHECK_RC(rvr_renderer_set_tf(r, tf, 1), RVR_ERR_INVALID);
    /* slices need a volume */
    rvr_renderer *e = mk();
    rvr_slice sl = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}};
    CHECK_RC(rvr_render_slice(e, &sl, &s, W, H, img, W * H * 4, NULL), RVR_ERR_NO_VOLUME);
    /* rendering without a volume: background only */
    CHECK_OK(rvr_render(e, &c, &s, W, H, img, W * H * 4, NULL));
    for (size_t i = 0; i < (size_t)W * H; i++) CHECK(img[4 * i] == 0 && img[4 * i + 3] == 255, "empty scene");
    rvr_renderer_destroy(e);
    free(img);
    rvr_renderer_destroy(r);
}

TEST(zero_points_is_an_error) {
    rvr_renderer *r = mk();
    float xyz[3] = {1, 2, 3}, val[1] = {1};
    CHECK_RC(rvr_renderer_set_points(r, xyz, val, 0), RVR_ERR_EMPTY);
    CHECK_RC(rvr_renderer_set_points(r, NULL, val, 1), RVR_ERR_INVALID);
    CHECK_RC(rvr_renderer_set_points(r, xyz, NULL, 1), RVR_ERR_INVALID);
    CHECK_OK(rvr_renderer_set_points(r, xyz, val, 1));
    CHECK_RC(rvr_renderer_set_points(r, xyz, val, 0), RVR_ERR_EMPTY);
    CHECK_OK(rvr_renderer_clear_points(r));
    float cm[4] = {1, 0, 0, 1};
    CHECK_RC(rvr_renderer_set_point_colormap(r, cm, 1), RVR_ERR_INVALID);
    rvr_renderer_destroy(r);
}
