/* cuda_util.h - helpers of the CUDA-vs-CPU tests (cuda_test.c, cuda_labels_test.c): make a CUDA
 * renderer or skip, give both backends the same scene, render it (or a slice) on both and check
 * the tolerance of util.h. */
#ifndef RVR_TEST_CUDA_UTIL_H
#define RVR_TEST_CUDA_UTIL_H

#include "scenes.h"
#include "util.h"

#include <stdio.h>

/* A CUDA renderer, or NULL with a note (the test then passes: nothing to compare here). */
static inline rvr_renderer *cuda_or_skip(void) {
    rvr_renderer *r = NULL;
    int rc = rvr_renderer_create(RVR_BACKEND_CUDA, &r);
    if (rc != RVR_OK) {
        harness_note("skipped: no CUDA backend in this build or no usable GPU (%s)", rvr_strerror(rc));
        return NULL;
    }
    return r;
}

static inline void pores_into(rvr_renderer *r, int N, const uint8_t *v, float amax) {
    set_vol(r, v, RVR_DTYPE_U8, RVR_ORDER_C, N, N, N, 0, 255);
    float tf[256 * 4];
    scene_tf_bench(amax, tf);
    CHECK_OK(rvr_renderer_set_tf(r, tf, 256));
}

/* scene_pores_u8 of side N with the benchmark's TF on both renderers; returns the volume (caller
 * frees). */
static inline uint8_t *pores_both(rvr_renderer *c, rvr_renderer *g, int N, float amax) {
    uint8_t *v = malloc((size_t)N * N * N);
    scene_pores_u8(N, v);
    pores_into(c, N, v, amax);
    pores_into(g, N, v, amax);
    return v;
}

static inline void volume_both(rvr_renderer *c, rvr_renderer *g, const rvr_volume_desc *d, const void *data,
                               uint64_t bytes) {
    CHECK_OK(rvr_renderer_set_volume(c, d, data, bytes));
    CHECK_OK(rvr_renderer_set_volume(g, d, data, bytes));
}

static inline void tf_both(rvr_renderer *c, rvr_renderer *g, const float *tf, uint32_t n) {
    CHECK_OK(rvr_renderer_set_tf(c, tf, n));
    CHECK_OK(rvr_renderer_set_tf(g, tf, n));
}

/* RVR_TEST_PPM=dir: write both images of a comparison there (cuda_NAME_cpu.ppm / _gpu.ppm). */
static inline void ppm_pair(const char *name, const uint8_t *a, const uint8_t *b, uint32_t W, uint32_t H) {
    if (!getenv("RVR_TEST_PPM")) return;
    char p[256];
    snprintf(p, sizeof p, "%s/cuda_%s_cpu.ppm", getenv("RVR_TEST_PPM"), name);
    scene_write_ppm(p, a, (int)W, (int)H);
    snprintf(p, sizeof p, "%s/cuda_%s_gpu.ppm", getenv("RVR_TEST_PPM"), name);
    scene_write_ppm(p, b, (int)W, (int)H);
}

/* Render one scene on both; check the tolerance (exact: identical images). The images are
 * handed back through cpu_img / gpu_img (caller frees) when those are not NULL. */
static inline void both_images(rvr_renderer *c, rvr_renderer *g, const rvr_camera *cam, const rvr_render_settings *s,
                               uint32_t W, uint32_t H, const char *name, int exact, uint8_t **cpu_img,
                               uint8_t **gpu_img) {
    uint8_t *a = img_new(W, H), *b = img_new(W, H);
    rvr_render_stats sa, sb;
    CHECK_OK(rvr_render(c, cam, s, W, H, a, (uint64_t)W * H * 4, &sa));
    CHECK_OK(rvr_render(g, cam, s, W, H, b, (uint64_t)W * H * 4, &sb));
    imgdiff d;
    int ok = img_close(a, b, (size_t)W * H * 4, &d);
    harness_note("%-22s max %3d mean %.3f >%d: %zu/%zu  samples cpu %llu cuda %llu  ms cpu %.1f cuda %.2f", name,
                 d.max, d.mean, CUDA_TOL_BIG, d.over, d.n, (unsigned long long)sa.samples,
                 (unsigned long long)sb.samples, sa.total_ms, sb.total_ms);
    ppm_pair(name, a, b, W, H);
    if (exact) CHECK(d.max == 0, "%s: images differ (max %d), want identical", name, d.max);
    CHECK(ok, "%s: CUDA image beyond tolerance: max %d mean %.3f, %zu values > %d", name, d.max, d.mean, d.over,
          CUDA_TOL_BIG);
    CHECK(sa.rays == sb.rays && sa.traced_width == sb.traced_width, "%s: rays differ", name);
    if (cpu_img) *cpu_img = a;
    else free(a);
    if (gpu_img) *gpu_img = b;
    else free(b);
}

static inline void both(rvr_renderer *c, rvr_renderer *g, const rvr_camera *cam, const rvr_render_settings *s,
                        uint32_t W, uint32_t H, const char *name, int exact) {
    both_images(c, g, cam, s, W, H, name, exact, NULL, NULL);
}

/* One slice on both; exact: identical images; returns the CUDA image (caller frees). */
static inline uint8_t *slice_both(rvr_renderer *c, rvr_renderer *g, const rvr_slice *sl, const rvr_render_settings *s,
                                  uint32_t W, uint32_t H, const char *name, int exact) {
    uint8_t *a = img_new(W, H), *b = img_new(W, H);
    CHECK_OK(rvr_render_slice(c, sl, s, W, H, a, (uint64_t)W * H * 4, NULL));
    CHECK_OK(rvr_render_slice(g, sl, s, W, H, b, (uint64_t)W * H * 4, NULL));
    imgdiff d;
    int ok = img_close(a, b, (size_t)W * H * 4, &d);
    harness_note("%-26s max %3d mean %.3f >%d: %zu/%zu", name, d.max, d.mean, CUDA_TOL_BIG, d.over, d.n);
    ppm_pair(name, a, b, W, H);
    if (exact) CHECK(d.max == 0, "%s: slices differ (max %d, %zu values > %d), want identical", name, d.max, d.over, CUDA_TOL_BIG);
    CHECK(ok, "%s: CUDA slice beyond tolerance: max %d mean %.3f", name, d.max, d.mean);
    free(a);
    return b;
}

#endif
