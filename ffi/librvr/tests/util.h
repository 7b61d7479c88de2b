/* util.h - helpers for the scene tests. */
#ifndef RVR_TEST_UTIL_H
#define RVR_TEST_UTIL_H

#include "harness.h"
#include "rvr.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The backend the scene tests run on: RVR_TEST_BACKEND=cuda (make test-cuda), else CPU. */
static inline int test_backend(void) {
    const char *b = getenv("RVR_TEST_BACKEND");
    return b && strcmp(b, "cuda") == 0 ? RVR_BACKEND_CUDA : RVR_BACKEND_CPU;
}

static inline rvr_renderer *mk_backend(int backend) {
    rvr_renderer *r = NULL;
    int rc = rvr_renderer_create(backend, &r);
    CHECK(rc == RVR_OK && r, "create backend %d: %s", backend, rvr_strerror(rc));
    return r;
}

static inline rvr_renderer *mk(void) { return mk_backend(test_backend()); }

/* Channel differences of two RGBA8 images: max, mean, and how many exceed `big`. */
typedef struct imgdiff {
    int max;
    double mean;
    size_t over, n;
} imgdiff;
static inline imgdiff img_diff(const uint8_t *a, const uint8_t *b, size_t nbytes, int big) {
    imgdiff d = {0, 0, 0, nbytes};
    double sum = 0;
    for (size_t i = 0; i < nbytes; i++) {
        int x = abs((int)a[i] - (int)b[i]);
        d.max = x > d.max ? x : d.max;
        sum += x;
        d.over += x > big;
    }
    d.mean = nbytes ? sum / (double)nbytes : 0;
    return d;
}

/* CUDA backend: images of the same scene through different paths (u8 vs uint16 textures, the
 * CPU reference caster) agree within the hardware trilinear filter's rounding (8-bit weights):
 * mean channel difference <= 1.0 level and at most 1% of channel values off by more than 8. */
#define CUDA_TOL_MEAN 1.0
#define CUDA_TOL_BIG 8
#define CUDA_TOL_FRAC 0.01
static inline int img_close(const uint8_t *a, const uint8_t *b, size_t nbytes, imgdiff *out) {
    imgdiff d = img_diff(a, b, nbytes, CUDA_TOL_BIG);
    if (out) *out = d;
    return d.mean <= CUDA_TOL_MEAN && (double)d.over <= CUDA_TOL_FRAC * (double)nbytes;
}

/* A volume description: logical shape (s0, s1, s2) = (z, y, x), window lo..hi (equal: automatic). */
static inline rvr_volume_desc vol_desc(uint64_t s0, uint64_t s1, uint64_t s2, int32_t dtype, int32_t order,
                                       double lo, double hi) {
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = s0;
    d.shape[1] = s1;
    d.shape[2] = s2;
    d.dtype = dtype;
    d.order = order;
    d.window_lo = lo;
    d.window_hi = hi;
    return d;
}

static inline void set_vol(rvr_renderer *r, const void *data, int32_t dtype, int32_t order,
                           uint64_t s0, uint64_t s1, uint64_t s2, double lo, double hi) {
    const rvr_volume_desc d = vol_desc(s0, s1, s2, dtype, order, lo, hi);
    CHECK_OK(rvr_renderer_set_volume(r, &d, data, s0 * s1 * s2 * (uint64_t)rvr_dtype_size(dtype)));
}

/* A perspective camera at `eye` (world x, y, z) looking at the centre of a volume of extent
 * (x, y, z) voxels, with world axis `up` (1 = y, 2 = z) up. */
static inline rvr_camera cam_at(float ex, float ey, float ez, float x, float y, float z, int up) {
    rvr_camera c;
    rvr_camera_init(&c);
    c.eye[0] = ex;
    c.eye[1] = ey;
    c.eye[2] = ez;
    c.target[0] = x / 2.0f;
    c.target[1] = y / 2.0f;
    c.target[2] = z / 2.0f;
    memset(c.up, 0, sizeof c.up);
    c.up[up] = 1;
    return c;
}

/* Orthographic camera looking down -axis (logical axis 0 = z, 1 = y, 2 = x) at a volume of world
 * extent ext[3] (x, y, z), with one pixel per voxel: *W x *H. */
static inline void cam_axis(const float ext[3], const float vox[3], int axis, rvr_camera *c,
                            uint32_t *W, uint32_t *H) {
    rvr_camera_init(c);
    c->projection = RVR_PROJ_ORTHO;
    for (int k = 0; k < 3; k++) c->target[k] = c->eye[k] = ext[k] / 2;
    memset(c->up, 0, sizeof c->up);
    int w = 2 - axis; /* world axis looked along */
    c->eye[w] = ext[w] + 10;
    c->target[w] = 0;
    if (w == 2) { /* down -z: image x = +x, up = +y */
        c->up[1] = 1;
        *W = (uint32_t)lroundf(ext[0] / vox[0]);
        *H = (uint32_t)lroundf(ext[1] / vox[1]);
        c->ortho_height = ext[1];
    } else if (w == 0) { /* down -x: image x = +y, up = +z */
        c->up[2] = 1;
        *W = (uint32_t)lroundf(ext[1] / vox[1]);
        *H = (uint32_t)lroundf(ext[2] / vox[2]);
        c->ortho_height = ext[2];
    } else { /* down -y: image x = -x, up = +z */
        c->up[2] = 1;
        *W = (uint32_t)lroundf(ext[0] / vox[0]);
        *H = (uint32_t)lroundf(ext[2] / vox[2]);
        c->ortho_height = ext[2];
    }
}

static inline uint8_t *img_new(uint32_t W, uint32_t H) {
    uint8_t *p = malloc((size_t)W * H * 4);
    CHECK(p, "malloc");
    memset(p, 0xAB, (size_t)W * H * 4);
    return p;
}

static inline uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Opaque-above-threshold TF: alpha 0 below t, 1 above; colour white. 256 entries. */
static inline void tf_step(rvr_renderer *r, float t, float alpha) {
    float tf[256 * 4];
    for (int i = 0; i < 256; i++) {
        tf[4 * i] = tf[4 * i + 1] = tf[4 * i + 2] = 1;
        tf[4 * i + 3] = i / 255.0f >= t ? alpha : 0;
    }
    CHECK_OK(rvr_renderer_set_tf(r, tf, 256));
}

#endif
