/* ranks_test.c - rvr_ranks under `mpirun -n 2` and `-n 3` (CPU backend) against one librvr
 * renderer holding the whole volume.
 *
 * Tolerance (stated in rvr_ranks.h: sample phases restart at each slab and partial images are
 * 8-bit): per image, the mean channel difference <= 1.0 level and at most 1% of the pixels with
 * a channel off by more than 8 levels (MIP/MinIP at voxel centres: <= 2 levels everywhere). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rr_client.h"
#include "scenes.h"
#include "synthetic.h"

static const char *exe(void) {
    const char *e = getenv("RR_EXE");
    return e ? e : "build/rvr_ranks";
}

typedef struct scene {
    rvr_renderer *ref;
    rr_job job;
    int W, H;
} scene;

static const char *algo_name(int a) { return a == 1 ? "bswap" : a == 2 ? "direct" : a == 3 ? "root" : a == 4 ? "stream" : "auto"; }

/* Renders with both, checks the tolerance, returns the distributed frame's counters. */
static rr_frame_stats compare(scene *s, const rvr_camera *cam, const rvr_render_settings *st, int tol, double mean_max,
                              double frac_max, const char *label) {
    const size_t npix = (size_t)s->W * s->H;
    uint8_t *a = malloc(npix * 4), *b = malloc(npix * 4);
    CHECK_OK(rvr_render(s->ref, cam, st, s->W, s->H, a, npix * 4, NULL));
    rr_frame_stats fs;
    char err[256] = "";
    int rc = rr_render(&s->job, cam, st, s->W, s->H, b, &fs, 60000, err, sizeof err);
    CHECK(rc == 0, "%s: distributed render -> %d %s", label, rc, err);
    rr_diff d = rr_compare(a, b, npix, tol);
    harness_note("%s, %d ranks (%s): max %d, mean %.3f, %.3f%% pixels > %d; render %.1f ms, composite %.2f ms, gather %.2f ms, %.0f KiB moved",
                 label, s->job.ranks, algo_name(s->job.algo), d.max, d.mean, 100.0 * d.over / npix, tol, fs.render_ms_max,
                 fs.composite_ms, fs.gather_ms, fs.composite_bytes / 1024.0);
    if (getenv("RR_DUMP")) {
        char p[256];
        snprintf(p, sizeof p, "/tmp/rr-%s-%d-ref.ppm", label, s->job.ranks);
        scene_write_ppm(p, a, s->W, s->H);
        snprintf(p, sizeof p, "/tmp/rr-%s-%d-dist.ppm", label, s->job.ranks);
        scene_write_ppm(p, b, s->W, s->H);
    }
    CHECK(d.mean <= mean_max && d.over <= frac_max * npix, "%s: images differ: max %d mean %.3f over %zu", label, d.max, d.mean, d.over);
    free(a), free(b);
    return fs;
}

/* The one renderer holding the whole volume, which the ranks' images are compared with. */
static void setup_reference(scene *s, const rvr_volume_desc *d, const void *data, uint64_t bytes, const float *tf, uint32_t tfn) {
    CHECK_OK(rvr_renderer_create(RVR_BACKEND_CPU, &s->ref));
    CHECK_OK(rvr_renderer_set_threads(s->ref, 1));
    CHECK_OK(rvr_renderer_set_volume(s->ref, d, data, bytes));
    CHECK_OK(rvr_renderer_set_tf(s->ref, tf, tfn));
}

static void setup(scene *s, int ranks, const char *const *args, const rvr_volume_desc *d, const void *data, uint64_t bytes,
                  const float *tf, uint32_t tfn, uint64_t *bounds) {
    setup_reference(s, d, data, bytes, tf, tfn);
    int rc = rr_job_start(&s->job, ranks, exe(), args, 30000);
    CHECK(rc == 0, "start %d ranks -> %d", ranks, rc);
    CHECK(s->job.ranks == ranks, "ranks %d", s->job.ranks);
    char path[128];
    CHECK(rr_shm_file(path, sizeof path, data, bytes) == 0, "shm file");
    rc = rr_set_volume(&s->job, d, path, bytes, bounds, NULL);
    unlink(path); /* the ranks keep their mappings */
    CHECK(rc == 0, "set volume -> %d", rc);
    CHECK(rr_floats(&s->job, RR_OP_SET_TF, tf, tfn) == 0, "set tf");
}

/* The pores cube of side N (u8) with the benchmark's TF: the scene most tests here render. */
typedef struct pores {
    int N;
    uint8_t *vol; /* the caller frees it */
    float tf[256 * 4];
    rvr_volume_desc d;
} pores;

static void pores_init(pores *p, int N) {
    p->N = N;
    p->vol = malloc((size_t)N * N * N);
    scene_pores_u8(N, p->vol);
    scene_tf_bench(0.08f, p->tf);
    memset(&p->d, 0, sizeof p->d);
    p->d.shape[0] = p->d.shape[1] = p->d.shape[2] = N;
    p->d.dtype = RVR_DTYPE_U8;
}

static void setup_pores(scene *s, const pores *p, int ranks, const char *const *args, uint64_t *bounds) {
    setup(s, ranks, args, &p->d, p->vol, (uint64_t)p->N * p->N * p->N, p->tf, 256, bounds);
}

static void teardown(scene *s) {
    rr_job_stop(&s->job, 10000);
    rvr_renderer_destroy(s->ref);
}

/* From above the cube of side N, a little off its axis: every ray crosses every slab. */
static void camera_above(int N, rvr_camera *cam) {
    rvr_camera_init(cam);
    cam->eye[0] = N / 2.f, cam->eye[1] = N / 2.f + 1, cam->eye[2] = 2.5f * N;
    cam->target[0] = cam->target[1] = cam->target[2] = N / 2.f;
}

/* Looking from eye at target, z up. */
static void camera_z_up(rvr_camera *cam, float tx, float ty, float tz, float ex, float ey, float ez) {
    rvr_camera_init(cam);
    cam->target[0] = tx, cam->target[1] = ty, cam->target[2] = tz;
    cam->eye[0] = ex, cam->eye[1] = ey, cam->eye[2] = ez;
    cam->up[0] = 0, cam->up[1] = 0, cam->up[2] = 1;
}

/* A file's bytes, all of them or the test fails; the caller frees them. */
static uint8_t *read_back(const char *path, size_t bytes) {
    FILE *f = fopen(path, "rb");
    uint8_t *got = malloc(bytes);
    CHECK(f && fread(got, 1, bytes, f) == bytes, "read back %s", path);
    fclose(f);
    return got;
}

/* The synthetic scene of the benchmark (pores), every mode, points and slices. */
static void synthetic(int ranks, const char *const *args) {
    const int N = 80;
    pores p;
    pores_init(&p, N);
    scene s = {.W = 160, .H = 120};
    uint64_t b[8];
    setup_pores(&s, &p, ranks, args, b);
    rvr_camera cam;
    rvr_render_settings st;
    for (int k = 0; k < 3; k++) {
        scene_orbit(N, 0.7f + 2.1f * k, &cam);
        if (k == 2) cam.eye[2] = N * 0.5f + 0.35f * N; /* eye level with the slabs: both sides */
        rvr_render_settings_init(&st);
        compare(&s, &cam, &st, 8, 1.0, 0.01, k == 0 ? "composite" : k == 1 ? "composite-back" : "composite-side");
    }
    scene_orbit(N, 0.7f, &cam);
    rvr_render_settings_init(&st);
    st.shading = RVR_SHADE_LOCAL;
    compare(&s, &cam, &st, 8, 1.0, 0.01, "s1");
    /* view from above (through every slab) and from below */
    rvr_camera top;
    camera_above(N, &top);
    compare(&s, &top, &st, 8, 1.0, 0.01, "s1-top");
    top.eye[2] = -1.5f * N;
    compare(&s, &top, &st, 8, 1.0, 0.01, "s1-bottom");
    rvr_render_settings_init(&st);
    st.mode = RVR_MODE_ISO;
    st.iso_value = 0.5f;
    compare(&s, &cam, &st, 8, 1.0, 0.01, "iso");
    /* MIP along z, ortho, pixels on voxel centres: exact up to 8-bit rounding */
    rvr_camera o;
    rvr_camera_init(&o);
    o.projection = RVR_PROJ_ORTHO;
    o.eye[0] = N / 2.f, o.eye[1] = N / 2.f, o.eye[2] = -1;
    o.target[0] = N / 2.f, o.target[1] = N / 2.f, o.target[2] = N / 2.f;
    o.ortho_height = N;
    s.W = s.H = N;
    rvr_render_settings_init(&st);
    st.mode = RVR_MODE_MIP;
    st.flags = RVR_F_GRAY;
    compare(&s, &o, &st, 2, 0.5, 0, "mip-gray");
    st.flags = 0;
    compare(&s, &o, &st, 2, 0.5, 0.0, "mip-tf");
    st.mode = RVR_MODE_MINIP;
    st.flags = RVR_F_GRAY;
    compare(&s, &o, &st, 2, 0.5, 0, "minip");
    s.W = 160, s.H = 120;
    /* clip box + background with alpha, straight and premultiplied */
    rvr_render_settings_init(&st);
    st.flags = RVR_F_CLIP_BOX;
    st.clip_min[0] = 10, st.clip_min[1] = 0, st.clip_min[2] = 20;
    st.clip_max[0] = 70, st.clip_max[1] = 60, st.clip_max[2] = 61;
    st.background[0] = 0.2f, st.background[3] = 0.5f;
    compare(&s, &cam, &st, 8, 1.0, 0.01, "clip-bg");
    st.flags |= RVR_F_PREMULTIPLIED;
    compare(&s, &cam, &st, 8, 1.0, 0.01, "clip-bg-premult");
    /* points (spheres) in every slab */
    enum { NPTS = 60 };
    float xyz[NPTS * 3], val[NPTS];
    srand(7);
    for (int i = 0; i < NPTS; i++) {
        for (int a = 0; a < 3; a++) xyz[3 * i + a] = N * (0.1f + 0.8f * rand() / (float)RAND_MAX);
        val[i] = 1 + (i % 5);
    }
    CHECK_OK(rvr_renderer_set_points(s.ref, xyz, val, NPTS));
    CHECK(rr_points(&s.job, xyz, val, NPTS) == 0, "set points");
    rvr_render_settings_init(&st);
    st.point_scale = 0.6f;
    compare(&s, &cam, &st, 8, 1.5, 0.02, "points");
    /* slices: axis-aligned across the cuts, and oblique */
    rvr_render_settings_init(&st);
    st.flags = RVR_F_NEAREST | RVR_F_GRAY;
    rvr_slice sl;
    uint32_t w, h;
    CHECK_OK(rvr_renderer_slice_axis(s.ref, 1, 37, &sl, &w, &h));
    uint8_t *a = malloc((size_t)w * h * 4), *bimg = malloc((size_t)w * h * 4);
    CHECK_OK(rvr_render_slice(s.ref, &sl, &st, w, h, a, (size_t)w * h * 4, NULL));
    CHECK(rr_slice(&s.job, &sl, &st, w, h, bimg) == 0, "slice");
    rr_diff dd = rr_compare(a, bimg, (size_t)w * h, 0);
    CHECK(dd.max == 0, "axis slice differs: max %d (%zu pixels)", dd.max, dd.over);
    free(a), free(bimg);
    teardown(&s);
    free(p.vol);
}

TEST(ranks2_synthetic_scenes) { synthetic(2, NULL); }

static const char *const BSWAP[] = {"--composite", "bswap", NULL};
static const char *const DIRECT[] = {"--composite", "direct", NULL};
static const char *const ROOT[] = {"--composite", "root", NULL};
static const char *const STREAM[] = {"--composite", "stream", NULL};
TEST(ranks3_synthetic_scenes_binary_swap_with_fold) { synthetic(3, BSWAP); }
/* stream compositing (what the GPUs use): bands blended and finished as they are rendered */
TEST(ranks2_synthetic_scenes_streamed) { synthetic(2, STREAM); }

/* The real CT (scripts/testdata.sh): int16, anisotropic spacing, CT window + TF. */
static void ct(int ranks, const char *const *args) {
    const char *path = getenv("RR_CT") ? getenv("RR_CT") : "../../data/ct/cranium.raw";
    FILE *f = fopen(path, "rb");
    if (!f) {
        harness_note("skipped: %s missing (scripts/testdata.sh)", path);
        return;
    }
    const uint64_t n = 108ull * 256 * 256, bytes = n * 2;
    int16_t *v = malloc(bytes);
    CHECK(fread(v, 1, bytes, f) == bytes, "read %s", path);
    fclose(f);
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = 108, d.shape[1] = 256, d.shape[2] = 256;
    d.spacing[0] = 1.5f, d.spacing[1] = d.spacing[2] = 0.9570312f;
    d.dtype = RVR_DTYPE_I16;
    d.window_lo = -1024, d.window_hi = 2986;
    float tf[256 * 4];
    for (int i = 0; i < 256; i++) {
        const float hu = -1024 + 4010.f * i / 255.f;
        tf[4 * i] = 0.9f, tf[4 * i + 1] = 0.75f + 0.2f * (hu > 300), tf[4 * i + 2] = 0.6f;
        tf[4 * i + 3] = hu < 150 ? 0 : (hu < 400 ? (hu - 150) / 250.f * 0.25f : 0.4f);
    }
    scene s = {.W = 192, .H = 160};
    uint64_t b[8];
    setup(&s, ranks, args, &d, v, bytes, tf, 256, b);
    rvr_camera cam;
    const float cx = 128 * 0.957f, cy = 128 * 0.957f, cz = 54 * 1.5f;
    camera_z_up(&cam, cx, cy, cz, cx + 300, cy - 420, cz + 120);
    cam.fov_y_deg = 40;
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    st.shading = RVR_SHADE_LOCAL;
    compare(&s, &cam, &st, 8, 1.0, 0.01, "ct-s1");
    rvr_render_settings_init(&st);
    compare(&s, &cam, &st, 8, 1.0, 0.01, "ct-composite");
    teardown(&s);
    free(v);
}

TEST(ranks2_real_ct) { ct(2, NULL); }
TEST(ranks3_real_ct_direct_send) { ct(3, DIRECT); }
TEST(ranks3_real_ct_to_root) { ct(3, ROOT); }
TEST(ranks3_real_ct_streamed) { ct(3, STREAM); }
/* 4 ranks (binary swap in two rounds): root, bswap and direct give the same picture up to the
 * 8-bit rounding of their blending orders, and it matches one renderer within the tolerance.
 * (On the CT, 4 slabs of 108 layers put 1.2% of the pixels over 8 levels, whatever the
 * algorithm: the sample phase restarts at 3 boundaries.) */
TEST(ranks4_algorithms_agree) {
    const int N = 80, W = 160, H = 120;
    pores p;
    pores_init(&p, N);
    const char *const *algos[4] = {ROOT, BSWAP, DIRECT, STREAM};
    uint8_t *img[4];
    rvr_camera cam; /* from above: every ray crosses the 4 slabs, their rectangles overlap */
    camera_above(N, &cam);
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    st.shading = RVR_SHADE_LOCAL;
    for (int a = 0; a < 4; a++) {
        scene s = {.W = W, .H = H};
        setup_pores(&s, &p, 4, algos[a], NULL);
        compare(&s, &cam, &st, 8, 1.0, 0.01, "four");
        img[a] = malloc((size_t)W * H * 4);
        char err[256] = "";
        CHECK(rr_render(&s.job, &cam, &st, W, H, img[a], NULL, 60000, err, sizeof err) == 0, "render: %s", err);
        teardown(&s);
    }
    static const char *const names[4] = {"root", "bswap", "direct", "stream"};
    for (int a = 1; a < 4; a++) {
        rr_diff dd = rr_compare(img[0], img[a], (size_t)W * H, 2);
        harness_note("root vs %s: max %d, %zu pixels > 2", names[a], dd.max, dd.over);
        CHECK(dd.max <= 3 && dd.over <= (size_t)W * H / 1000, "root and %s differ: max %d", names[a], dd.max);
    }
    CHECK(memcmp(img[0], img[3], (size_t)W * H * 4) == 0, "stream is root band by band: the same blending, yet the images differ");
    for (int a = 0; a < 4; a++) free(img[a]);
    free(p.vol);
}

/* The render cut follows the cost (a margin of layers beyond each cut, rr_follow_cuts): frame
 * after frame from below (the lower slab costs more) and then from the side, the picture stays
 * that of one renderer, with each algorithm. 256^3: slabs of 128 layers, a margin of 16. */
TEST(ranks2_moving_cuts_keep_the_picture) {
    const int N = 256;
    pores p;
    pores_init(&p, N);
    const char *const *algos[2] = {STREAM, BSWAP};
    for (int a = 0; a < 2; a++) {
        scene s = {.W = 96, .H = 72};
        setup_pores(&s, &p, 2, algos[a], NULL);
        rvr_camera cam;
        rvr_render_settings st;
        rvr_render_settings_init(&st);
        st.shading = RVR_SHADE_LOCAL;
        for (int k = 0; k < 6; k++) {
            scene_orbit(N, 0.5f + 0.3f * (float)k, &cam);
            cam.eye[2] = k < 4 ? -1.2f * N : 0.5f * N + 0.2f * N; /* below, then level */
            compare(&s, &cam, &st, 8, 1.0, 0.01, a == 0 ? "moving-cut-stream" : "moving-cut-bswap");
        }
        teardown(&s);
    }
    free(p.vol);
}

/* Streamed frames after the first, with RR_OCCLUDE=1: each rank takes the image of the rank in
 * front as its occluder (rank 0 clears the images after every band), so rays behind opaque
 * pixels are not traced and rays behind partly opaque ones stop sooner. From above, every ray
 * crosses both slabs: the second frame of a view samples less and still shows what one renderer
 * shows; iso surfaces and a dense composite TF. */
TEST(ranks2_streamed_frames_skip_what_the_front_hides) {
    const int N = 64;
    pores p;
    pores_init(&p, N);
    scene_tf_bench(0.6f, p.tf);
    rvr_camera cam;
    camera_above(N, &cam);
    for (int mode = 0; mode < 2; mode++) {
        scene s = {.W = 96, .H = 72};
        /* the ranks render at once and a pixel in front not done yet is traced behind: let the
         * rank behind start late, so that what it skips does not depend on the timing */
        setenv("RVR_RANKS_TEST_OCC_DELAY_MS", "300", 1);
        setenv("RR_OCCLUDE", "1", 1);
        setup_pores(&s, &p, 2, STREAM, NULL); /* a job per mode: its first frame has no occluder */
        unsetenv("RVR_RANKS_TEST_OCC_DELAY_MS");
        unsetenv("RR_OCCLUDE");
        rvr_render_settings st;
        rvr_render_settings_init(&st);
        st.shading = RVR_SHADE_LOCAL;
        if (mode) st.mode = RVR_MODE_ISO, st.iso_value = 0.5f;
        const char *label = mode ? "front-hides-iso" : "front-hides-composite";
        const rr_frame_stats first = compare(&s, &cam, &st, 8, 1.0, 0.01, label);
        const rr_frame_stats again = compare(&s, &cam, &st, 8, 1.0, 0.01, label);
        harness_note("%s: %llu samples, then %llu with the front rank's image as occluder", label,
                     (unsigned long long)first.samples, (unsigned long long)again.samples);
        CHECK(again.samples < first.samples * 0.95, "%s: %llu samples, then %llu", label, (unsigned long long)first.samples,
              (unsigned long long)again.samples);
        teardown(&s);
    }
    free(p.vol);
}

/* One rank is the renderer itself: its own image comes back (no partial image, nothing
 * composited), equal bit for bit, also where several ranks differ (average projection). */
TEST(ranks1_answers_with_the_renderers_own_image) {
    const int N = 64;
    pores p;
    pores_init(&p, N);
    scene s = {.W = 160, .H = 120};
    setup_pores(&s, &p, 1, NULL, NULL);
    rvr_camera cam;
    scene_orbit(N, 0.7f, &cam);
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    st.shading = RVR_SHADE_LOCAL;
    st.background[3] = 0.4f;
    rr_frame_stats fs = compare(&s, &cam, &st, 0, 0, 0, "one-rank-s1");
    CHECK(fs.composite_bytes == 0 && fs.composite_ms == 0 && fs.gather_ms == 0, "one rank composited: %llu bytes",
          (unsigned long long)fs.composite_bytes);
    rvr_render_settings_init(&st);
    st.mode = RVR_MODE_AVERAGE;
    compare(&s, &cam, &st, 0, 0, 0, "one-rank-average");
    teardown(&s);
    free(p.vol);
}

/* The answer's image written into a frame file (what the instance maps) equals the one sent over
 * the socket, with 1 rank (the renderer's own image) and with 2 and 3 (composited, with every
 * algorithm), frame after frame
 * into the same file while the view moves, zooms out and in (rank 0 rewrites only what differs
 * from the file's last answer) and the background changes; a frame file that cannot be mapped
 * is an error, and the next frame works. */
static void frame_file(int ranks, const char *algo) {
    const int N = 48, W = 96, H = 72;
    pores p;
    pores_init(&p, N);
    scene s = {.W = W, .H = H};
    const char *args[] = {"--composite", algo, NULL};
    setup_pores(&s, &p, ranks, algo ? args : NULL, NULL);
    rvr_camera cam;
    scene_orbit(N, 1.1f, &cam);
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    uint8_t *a = malloc((size_t)W * H * 4);
    char err[256] = "", path[128];
    CHECK(rr_render(&s.job, &cam, &st, W, H, a, NULL, 60000, err, sizeof err) == 0, "socket answer: %s", err);
    CHECK(rr_shm_file(path, sizeof path, NULL, (uint64_t)W * H * 4) == 0, "frame file");
    const float zoom[5] = {1, 1, 0.5f, 2.5f, 1};
    for (int k = 0; k < 5; k++) { /* the later frames reuse rank 0's mapping */
        scene_orbit(N, 1.1f + 0.7f * (float)k, &cam);
        for (int q = 0; q < 3; q++) cam.eye[q] = cam.target[q] + zoom[k] * (cam.eye[q] - cam.target[q]);
        if (k == 4) st.background[0] = 0.5f;
        if (k > 0) CHECK(rr_render(&s.job, &cam, &st, W, H, a, NULL, 60000, err, sizeof err) == 0, "socket answer: %s", err);
        rr_frame_stats fs;
        CHECK(rr_render_to_file(&s.job, &cam, &st, W, H, path, &fs, 60000, err, sizeof err) == 0, "file answer: %s", err);
        uint8_t *b = read_back(path, (size_t)W * H * 4);
        CHECK(memcmp(a, b, (size_t)W * H * 4) == 0, "the frame file holds another image (frame %d)", k);
        free(b);
    }
    unlink(path);
    const int rc = rr_render_to_file(&s.job, &cam, &st, W, H, "/nonexistent/frame", NULL, 60000, err, sizeof err);
    CHECK(rc == RR_ERR_IO, "missing frame file -> %d (%s)", rc, err);
    CHECK(rr_render(&s.job, &cam, &st, W, H, a, NULL, 60000, err, sizeof err) == 0, "next frame: %s", err);
    free(a);
    teardown(&s);
    free(p.vol);
}
TEST(ranks1_answer_into_a_frame_file) { frame_file(1, NULL); }
TEST(ranks2_answer_into_a_frame_file) { frame_file(2, NULL); }
TEST(ranks2_answer_into_a_frame_file_streamed) { frame_file(2, "stream"); }
/* as between hosts: the pixels travel in the band messages instead of being read in place */
TEST(ranks2_streamed_with_pixels_in_the_messages) {
    setenv("RR_STREAM_COPY", "1", 1);
    frame_file(2, "stream");
    unsetenv("RR_STREAM_COPY");
}
TEST(ranks3_answer_into_a_frame_file_every_algorithm) {
    frame_file(3, "stream");
    frame_file(3, "root");
    frame_file(3, "direct");
    frame_file(3, "bswap");
}

/* A volume far away covers a small part of the screen: only its slabs' rectangles move,
 * not whole images (full-image compositing moved 1.5 images per frame with 2 ranks). */
TEST(ranks2_moves_only_the_slabs_footprints) {
    const int N = 64;
    pores p;
    pores_init(&p, N);
    scene s = {.W = 320, .H = 240};
    setup_pores(&s, &p, 2, NULL, NULL);
    rvr_camera cam;
    scene_orbit(N, 0.7f, &cam);
    for (int k = 0; k < 3; k++) cam.eye[k] = cam.target[k] + 4 * (cam.eye[k] - cam.target[k]);
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    const rr_frame_stats fs = compare(&s, &cam, &st, 8, 1.0, 0.01, "far");
    const double image = (double)s.W * s.H * 4;
    harness_note("moved %.1f%% of one image", 100.0 * (double)fs.composite_bytes / image);
    CHECK(fs.composite_bytes > 0 && (double)fs.composite_bytes < 0.1 * image, "moved %llu bytes of a %.0f-byte image",
          (unsigned long long)fs.composite_bytes, image);
    teardown(&s);
    free(p.vol);
}

/* SET_SYNTHETIC: each rank makes only its slab (even cuts at multiples of 16 layers), the
 * range is reduced over the ranks; the picture equals one renderer holding the whole volume. */
TEST(ranks2_synthetic_volume_generated_per_slab) {
    const uint64_t shape[3] = {70, 50, 60}, n = shape[0] * shape[1] * shape[2];
    float *v = malloc(n * 4);
    CHECK(rr_synth_layers(RR_SYNTH_SPHERE, shape, 0, shape[0], v) == 0, "generate");
    CHECK(rr_synth_layers(RR_SYNTH_SPHERE + 7, shape, 0, 1, v) != 0, "unknown scene refused");
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    memcpy(d.shape, shape, sizeof shape);
    d.dtype = RVR_DTYPE_F32; /* window 0, 0: automatic */
    float tf[256 * 4];
    scene_tf_bench(0.1f, tf);
    scene s = {.W = 160, .H = 120};
    setup_reference(&s, &d, v, n * 4, tf, 256);
    CHECK(rr_job_start(&s.job, 2, exe(), NULL, 30000) == 0, "start");
    uint64_t b[3];
    double ms[4];
    CHECK(rr_set_synthetic(&s.job, &d, RR_SYNTH_SPHERE, b, ms) == 0, "set synthetic");
    harness_note("cuts %lu %lu %lu; generate %.1f ms, upload %.1f ms", (unsigned long)b[0], (unsigned long)b[1],
                 (unsigned long)b[2], ms[0], ms[2]);
    CHECK(b[0] == 0 && b[1] % 16 == 0 && b[1] >= 32 && b[1] <= 48 && b[2] == shape[0], "cuts %lu %lu", (unsigned long)b[1], (unsigned long)b[2]);
    CHECK(rr_floats(&s.job, RR_OP_SET_TF, tf, 256) == 0, "set tf");
    rvr_camera cam;
    scene_orbit(60, 0.9f, &cam);
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    st.shading = RVR_SHADE_LOCAL;
    compare(&s, &cam, &st, 8, 1.0, 0.01, "synthetic-slabs");
    rvr_volume_desc bad = d;
    bad.dtype = RVR_DTYPE_U8;
    CHECK(rr_set_synthetic(&s.job, &bad, RR_SYNTH_SPHERE, NULL, NULL) == RVR_ERR_DTYPE, "u8 synthetic refused");
    compare(&s, &cam, &st, 8, 1.0, 0.01, "synthetic-slabs-after-refusal");
    teardown(&s);
    free(v);
}

/* Uneven cuts: data only at high x of an F-order float volume whose extent is not a multiple
 * of 16; 3 ranks get different layer counts; images and retrieved boxes match. */
TEST(ranks3_uneven_bricks_f_order_and_retrieve) {
    const uint64_t S0 = 45, S1 = 40, S2 = 75, n = S0 * S1 * S2;
    float *v = malloc(n * 4);
    for (uint64_t z = 0; z < S0; z++)
        for (uint64_t y = 0; y < S1; y++)
            for (uint64_t x = 0; x < S2; x++) {
                const float dx = x - 55.f, dy = y - 20.f, dz = z - 22.f;
                const float val = (x > 35 && dx * dx + dy * dy + dz * dz < 380) ? 100 + 40 * sinf(x * 0.3f) * cosf(y * 0.25f + z * 0.2f) : (float)((x + y + z) % 3);
                v[z + S0 * (y + S1 * x)] = val; /* F order */
            }
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = S0, d.shape[1] = S1, d.shape[2] = S2;
    d.dtype = RVR_DTYPE_F32;
    d.order = RVR_ORDER_F;
    float tf[256 * 4];
    scene_tf_bench(0.1f, tf);
    scene s = {.W = 150, .H = 110};
    uint64_t b[4];
    setup(&s, 3, NULL, &d, v, n * 4, tf, 256, b);
    harness_note("cuts along x: %lu %lu %lu %lu", (unsigned long)b[0], (unsigned long)b[1], (unsigned long)b[2], (unsigned long)b[3]);
    CHECK(b[3] == S2 && b[1] - b[0] != b[2] - b[1], "cuts not balanced by bricks: %lu %lu %lu", (unsigned long)b[1], (unsigned long)b[2], (unsigned long)b[3]);
    rvr_camera cam;
    camera_z_up(&cam, 37, 20, 22, 37 + 90, 20 + 70, 22 + 40);
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    st.shading = RVR_SHADE_LOCAL;
    compare(&s, &cam, &st, 8, 1.0, 0.01, "uneven-s1");
    cam.eye[0] = 37 - 90;
    compare(&s, &cam, &st, 8, 1.0, 0.01, "uneven-s1-other-side");
    /* retrieve: a strided box across all cuts, byte-exact */
    uint64_t lo[3] = {3, 1, 2}, hi[3] = {44, 39, 74};
    uint32_t step[3] = {2, 3, 5};
    uint64_t want = 0;
    CHECK_OK(rvr_renderer_retrieve_size(s.ref, lo, hi, step, &want));
    uint8_t *ra = malloc(want), *rb = NULL;
    CHECK_OK(rvr_renderer_retrieve(s.ref, lo, hi, step, ra, want));
    char path[128];
    CHECK(rr_shm_file(path, sizeof path, NULL, want) == 0, "out file");
    uint8_t req[64 + RR_PATH_MAX];
    memset(req, 0, sizeof req);
    memcpy(req, lo, 24), memcpy(req + 24, hi, 24), memcpy(req + 48, step, 12);
    snprintf((char *)req + 64, RR_PATH_MAX, "%s", path);
    uint64_t len = 0;
    int rc = rr_call(&s.job, RR_OP_RETRIEVE, req, sizeof req, NULL, 0, &rb, &len, 30000);
    CHECK(rc == 0 && len == 8, "retrieve -> %d %s", rc, rc ? (char *)rb : "");
    free(rb);
    uint8_t *got = read_back(path, want);
    unlink(path);
    CHECK(memcmp(got, ra, want) == 0, "retrieved box differs");
    free(got), free(ra);
    teardown(&s);
    free(v);
}

/* A rank killed in the middle of a frame: the instance gets an error (socket closed) fast. */
static void rank_killed(const char *const *args) {
    setenv("RVR_RANKS_TEST_DELAY_MS", "4000", 1);
    const int N = 48;
    pores p;
    pores_init(&p, N);
    scene s = {.W = 64, .H = 64};
    setup_pores(&s, &p, 2, args, NULL);
    rvr_camera cam;
    scene_orbit(N, 0.3f, &cam);
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    pid_t killer = fork();
    if (killer == 0) {
        usleep(500000);
        kill(s.job.pids[1], SIGKILL);
        _exit(0);
    }
    uint8_t img[64 * 64 * 4];
    char err[256] = "";
    const double t0 = rr_now_ms();
    int rc = rr_render(&s.job, &cam, &st, 64, 64, img, NULL, 10000, err, sizeof err);
    const double dt = rr_now_ms() - t0;
    waitpid(killer, NULL, 0);
    harness_note("render with rank 1 killed after 0.5 s: status %d (%s) after %.2f s", rc, err, dt / 1000);
    CHECK(rc != 0 && rc != -1001, "no error, or no answer within 10 s (rc %d)", rc);
    CHECK(dt < 10000, "error after %.1f s", dt / 1000);
    int st_ = rr_job_stop(&s.job, 5000);
    harness_note("mpirun exit status 0x%x", st_);
    rvr_renderer_destroy(s.ref);
    free(p.vol);
}
TEST(ranks2_rank_killed_mid_frame_errors_within_10s) { rank_killed(NULL); }
/* streamed: rank 0 waits for the dead rank's bands, not for ever */
TEST(ranks2_rank_killed_mid_streamed_frame_errors_within_10s) { rank_killed(STREAM); }

/* The watchdog answers a request that runs too long, and the job ends. */
TEST(ranks2_watchdog_timeout) {
    setenv("RVR_RANKS_TEST_DELAY_MS", "3000", 1);
    const char *const args[] = {"--op-timeout", "1", NULL};
    const int N = 32;
    pores p;
    pores_init(&p, N);
    scene s = {.W = 32, .H = 32};
    setup_pores(&s, &p, 2, args, NULL);
    rvr_camera cam;
    scene_orbit(N, 0.3f, &cam);
    rvr_render_settings st;
    rvr_render_settings_init(&st);
    uint8_t img[32 * 32 * 4];
    char err[256] = "";
    int rc = rr_render(&s.job, &cam, &st, 32, 32, img, NULL, 10000, err, sizeof err);
    harness_note("status %d: %s", rc, err);
    CHECK(rc == RR_ERR_TIMEOUT, "want RR_ERR_TIMEOUT, got %d (%s)", rc, err);
    rr_job_stop(&s.job, 5000);
    rvr_renderer_destroy(s.ref);
    free(p.vol);
}
