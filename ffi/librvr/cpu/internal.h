/* internal.h - state and small inline helpers shared by the CPU backend's files. */
#ifndef RVR_INTERNAL_H
#define RVR_INTERNAL_H

#include "rvr.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define RVR_LUT_N 4096      /* internal TF entries: index = (uint16 value) >> 4 */
#define RVR_BRICK_LOG2 4    /* 16^3 bricks for empty-space skipping */
#define RVR_BRICK (1 << RVR_BRICK_LOG2)
#define RVR_TILE 16         /* 16x16 rays per OpenMP work item */

/* The normalized volume: uint16 in storage bricks of 32^3 voxels, each stored with an apron
 * of 2 voxels on every side (36^3, x fastest) holding the neighbours' values, clamped at the
 * volume's edges. A sample and its gradient (+-1 voxel) never leave the brick of the sample
 * position, so trilinear interpolation needs no bounds checks and stays in 90 KB of memory.
 * Local coordinate of voxel x in brick b: x - 32 b + 2. */
#define RVR_SB_LOG2 5
#define RVR_SB (1 << RVR_SB_LOG2)
#define RVR_SB_PAD 2
#define RVR_SB_DIM (RVR_SB + 2 * RVR_SB_PAD)
#define RVR_SB_VOX (RVR_SB_DIM * RVR_SB_DIM * RVR_SB_DIM)
typedef struct rvr_grid {
    const uint16_t *data;
    int nx, ny, nz;
    int sbx, sby, sbz; /* storage bricks per axis */
} rvr_grid;

/* A float grid (S2 light volume, S3 accessibility), cell c covers voxels
 * [c*f, (c+1)*f) of each axis. Grid dimension k (k = 0 fastest) runs along
 * voxel axis perm[k] (the light volume puts the sweep axis slowest). */
typedef struct rvr_fgrid {
    float *data;
    int nx, ny, nz; /* sizes of grid dimensions 0, 1, 2 */
    int f;
    int perm[3];
} rvr_fgrid;

struct rvr_renderer {
    int backend;
    int threads; /* 0 = OpenMP default */
    void *gpu;   /* CUDA backend's device state (cuda/), NULL for the CPU backend */

    /* volume */
    int has_volume;
    rvr_volume_desc desc;
    const void *orig;  /* original bytes (owned copy or borrowed) */
    void *orig_owned;  /* non-NULL when we own orig */
    uint64_t orig_bytes;
    uint16_t *vol;     /* normalized, in storage bricks (rvr_grid) */
    rvr_grid grid;
    int nx, ny, nz;
    float spacing[3];  /* world size of a voxel along x, y, z */
    double win_lo, win_hi, data_min, data_max;
    uint64_t nan_count;
    int bx, by, bz;    /* bricks per axis */
    uint16_t *bmin, *bmax;
    uint64_t vol_version;

    /* a volume arriving (rvr_renderer_volume_begin): the bytes taken so far (their min/max on the
     * CPU backend, copied to the device on CUDA) */
    struct {
        int on;
        rvr_volume_desc desc;
        const void *data;
        uint64_t bytes, taken;
        double mn, mx;
        uint64_t nans;
        void *cpu; /* CPU backend: bricks converted while rows land (volume.c's cpu_pending) */
        struct rvr_coarse *coarse; /* RVR_VOLUME_PROGRESSIVE: block averages taken as rows land */
    } stream;

    /* RVR_VOLUME_PROGRESSIVE: the full form being converted by a thread while frames with lod > 1
     * draw a coarse copy (progressive.c); NULL when vol/grid/bmin/bmax hold the full form. While
     * it is set, vol, bmin and bmax are NULL: calls that need them settle it first. */
    struct rvr_progress *progress;

    /* transfer function (user entries, straight RGBA) */
    float *tf;
    uint32_t tf_n;
    uint64_t tf_version;

    /* points */
    float *pxyz, *pval;
    uint64_t npoints;
    float pmin, pmax; /* finite values' range */
    float *cmap;
    uint32_t cmap_n;
    uint64_t points_version;

    /* S2 cache */
    rvr_fgrid light;
    uint64_t light_vol_version, light_tf_version;
    float light_key[3];
    /* S3 cache */
    rvr_fgrid ao;
    uint64_t ao_vol_version, ao_tf_version;
    float ao_key;

    /* segmentation labels drawn with the volume (labels.c; NULL: none) */
    struct rvr_labels *labels;

    /* an image in front (rvr_renderer_set_occluder; NULL: none), read within occ_at only */
    const uint8_t *occ;
    const void *occ_dev; /* CUDA: where the GPU reads it */
    uint32_t occ_w, occ_h;
    rvr_region occ_at;
};

/* The smallest alpha byte of an occluder pixel that hides a ray of a frame with early ray
 * termination at opacity ert (>= 1: none, 256): that byte is written for opacities >= ert. */
static inline int rvr__occ_min(float ert) { return ert >= 1.0f ? 256 : (int)ceilf(ert * 255.0f + 0.5f); }
/* The early ray termination opacity of a ray behind an occluder pixel of alpha byte a8 (< the
 * byte that hides it): the ray stops once it and the pixel reach the frame's ert together,
 * 1 - (1 - a_ray)(1 - a) >= ert. a is the low end of what rounds to a8: never earlier than one
 * renderer tracing the whole ray would stop. (A macro: the CUDA kernels use it too.) */
#define RVR__ERT_BEHIND(ert, a8) ((a8) <= 0 ? (ert) : 1.0f - (1.0f - (ert)) / (1.0f - ((float)(a8) - 0.5f) / 255.0f))

/* ---- labels.c ---- */
void rvr__labels_free(rvr_renderer *r);

/* ---- error.c / misc ---- */
double rvr__now_ms(void);
int rvr__nthreads(const rvr_renderer *r);
/* memcpy over nt OpenMP threads (large copies into page-locked staging or host copies). */
void rvr__memcpy_par(void *dst, const void *src, size_t n, int nt);
/* `rows` rows of `row` bytes between two pitches, on up to nt threads. */
void rvr__memcpy_rows_par(void *dst, size_t dpitch, const void *src, size_t spitch, size_t row, size_t rows, int nt);

/* ---- progressive.c ---- */

/* What a frame samples: the volume's full form, or the coarse copy of one still converting. */
typedef struct rvr_level {
    rvr_grid g;
    const uint16_t *bmin, *bmax; /* skipping bricks, bx * by * bz */
    int bx, by, bz;
    int f; /* 1: the full form; f > 1: each voxel is the average of f^3 of the volume */
} rvr_level;
/* The level a frame with this lod draws: the coarse copy while a conversion runs and lod > 1;
 * otherwise the full form, waiting for the conversion first. Needs a volume. */
rvr_level rvr__level_for_frame(rvr_renderer *r, int lod);
/* Waits for a conversion and puts the full form in place (no-op without one). */
void rvr__progress_settle(rvr_renderer *r);

/* ---- tf.c ---- */
/* Internal LUT: 4096 entries, premultiplied RGB, alpha corrected for `step`. */
void rvr__lut_build(const rvr_renderer *r, float step, float (*lut)[4]);
/* Same LUT but straight colour and uncorrected alpha (projections, slices). */
void rvr__lut_build_plain(const rvr_renderer *r, float (*lut)[4]);
/* Per-voxel-length opacity per LUT entry (S2/S3 precomputation). */
void rvr__alpha_table(const rvr_renderer *r, float *alpha /* RVR_LUT_N */);

/* ---- lighting.c (S2, S3) ---- */
int rvr__light_ensure(rvr_renderer *r, const float dir_world[3]);
int rvr__ao_ensure(rvr_renderer *r, float radius_vox);

/* ---- camera.c ---- */
typedef struct rvr_cam {
    float eye[3], fwd[3], right[3], up[3];
    float sx, sy; /* image-plane half extents: tan(fov/2)*aspect, tan(fov/2) or ortho */
    int ortho;
    float W, H;   /* full image size in pixels */
} rvr_cam;
int rvr__cam_setup(const rvr_camera *c, uint32_t W, uint32_t H, rvr_cam *out);
/* World ray through pixel position (px, py) (pixel centres at i + 0.5). d is unit length. */
void rvr__cam_ray(const rvr_cam *c, float px, float py, float o[3], float d[3]);
/* Conservative pixel bounding box of a world sphere; returns 0 when it is entirely behind. */
int rvr__cam_sphere_bounds(const rvr_cam *c, const float ctr[3], float rad, float *x0, float *y0,
                           float *x1, float *y1);

/* ---- settings check (raycast.c) ---- */
int rvr__settings_check(const rvr_render_settings *s);

/* ---- small vector helpers ---- */
static inline float v3dot(const float a[3], const float b[3]) {
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
static inline void v3cross(const float a[3], const float b[3], float o[3]) {
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}
static inline float v3norm(float a[3]) {
    float l = sqrtf(v3dot(a, a));
    if (l > 0) {
        a[0] /= l;
        a[1] /= l;
        a[2] /= l;
    }
    return l;
}

/* ---- sampling (voxel-index space, voxel centres at integers) ---- */
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

static inline const uint16_t *grid_brick(const rvr_grid *g, int bx, int by, int bz) {
    return g->data + (((size_t)bz * g->sby + by) * g->sbx + bx) * RVR_SB_VOX;
}

/* Voxel (x, y, z), each in range. */
static inline float grid_voxel(const rvr_grid *g, int x, int y, int z) {
    const uint16_t *b = grid_brick(g, x >> RVR_SB_LOG2, y >> RVR_SB_LOG2, z >> RVR_SB_LOG2);
    return b[(((z & (RVR_SB - 1)) + RVR_SB_PAD) * RVR_SB_DIM + (y & (RVR_SB - 1)) + RVR_SB_PAD) * RVR_SB_DIM +
             (x & (RVR_SB - 1)) + RVR_SB_PAD];
}

/* A position inside the volume box [-0.5, n - 0.5]: its brick and brick-local coordinates
 * (in [1.5, 34.5)); local positions +-1 around it stay inside the brick. */
typedef struct rvr_loc {
    const uint16_t *b;
    float x, y, z;
} rvr_loc;

static inline rvr_loc grid_locate(const rvr_grid *g, float x, float y, float z) {
    int bx = (int)x >> RVR_SB_LOG2, by = (int)y >> RVR_SB_LOG2, bz = (int)z >> RVR_SB_LOG2;
    rvr_loc l;
    l.b = grid_brick(g, bx, by, bz);
    l.x = x - (float)(bx << RVR_SB_LOG2) + RVR_SB_PAD;
    l.y = y - (float)(by << RVR_SB_LOG2) + RVR_SB_PAD;
    l.z = z - (float)(bz << RVR_SB_LOG2) + RVR_SB_PAD;
    return l;
}

/* Trilinear interpolation at brick-local (x, y, z) >= 0. The 8 corners are read as four
 * 32-bit pairs and converted together; the weights apply along z, then y, then x. (With SSE2
 * absent, the same in scalar code.) */
static inline float brick_trilinear(const uint16_t *b, float x, float y, float z) {
    int ix = (int)x, iy = (int)y, iz = (int)z;
    float fx = x - ix, fy = y - iy, fz = z - iz;
    const uint16_t *p = b + (iz * RVR_SB_DIM + iy) * RVR_SB_DIM + ix;
    const int sy = RVR_SB_DIM, sz = RVR_SB_DIM * RVR_SB_DIM;
#if defined(__SSE2__)
    uint32_t r0, r1, r2, r3;
    memcpy(&r0, p, 4);
    memcpy(&r1, p + sy, 4);
    memcpy(&r2, p + sz, 4);
    memcpy(&r3, p + sz + sy, 4);
    __m128i v = _mm_set_epi32((int)r3, (int)r2, (int)r1, (int)r0);
    __m128 lo = _mm_cvtepi32_ps(_mm_unpacklo_epi16(v, _mm_setzero_si128())); /* z0: y0x0 y0x1 y1x0 y1x1 */
    __m128 hi = _mm_cvtepi32_ps(_mm_unpackhi_epi16(v, _mm_setzero_si128())); /* z1 */
    __m128 m = _mm_add_ps(lo, _mm_mul_ps(_mm_set1_ps(fz), _mm_sub_ps(hi, lo)));
    __m128 m2 = _mm_movehl_ps(m, m); /* y1 pair */
    __m128 n = _mm_add_ps(m, _mm_mul_ps(_mm_set1_ps(fy), _mm_sub_ps(m2, m)));
    float c0 = _mm_cvtss_f32(n), c1 = _mm_cvtss_f32(_mm_shuffle_ps(n, n, 1));
    return c0 + fx * (c1 - c0);
#else
    float a00 = p[0] + fz * ((float)p[sz] - p[0]), a01 = p[1] + fz * ((float)p[sz + 1] - p[1]);
    float a10 = p[sy] + fz * ((float)p[sz + sy] - p[sy]);
    float a11 = p[sy + 1] + fz * ((float)p[sz + sy + 1] - p[sy + 1]);
    float c0 = a00 + fy * (a10 - a00), c1 = a01 + fy * (a11 - a01);
    return c0 + fx * (c1 - c0);
#endif
}

/* Central-difference gradient (v(x+1) - v(x-1), ...) at brick-local (x, y, z) >= 1 of the
 * trilinear field. Trilinear interpolation is linear in the voxel values, so this is the
 * trilinear interpolation (same weights) of the voxels' integer central differences: 12 loads
 * instead of 48. */
static inline void brick_gradient(const uint16_t *b, float x, float y, float z, float g[3]) {
    int ix = (int)x, iy = (int)y, iz = (int)z;
    float fx = x - ix, fy = y - iy, fz = z - iz;
    const uint16_t *p = b + (iz * RVR_SB_DIM + iy) * RVR_SB_DIM + ix;
    const int sy = RVR_SB_DIM, sz = RVR_SB_DIM * RVR_SB_DIM;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    /* rows (y0,z0), (y1,z0), (y0,z1), (y1,z1): voxels x-1 .. x+2 as int32 */
    uint64_t q0, q1, q2, q3;
    memcpy(&q0, p - 1, 8);
    memcpy(&q1, p - 1 + sy, 8);
    memcpy(&q2, p - 1 + sz, 8);
    memcpy(&q3, p - 1 + sz + sy, 8);
    __m128i a = _mm_set_epi64x((long long)q1, (long long)q0), c = _mm_set_epi64x((long long)q3, (long long)q2);
    __m128i r0 = _mm_unpacklo_epi16(a, zero), r1 = _mm_unpackhi_epi16(a, zero);
    __m128i r2 = _mm_unpacklo_epi16(c, zero), r3 = _mm_unpackhi_epi16(c, zero);
    /* per row: value pair (x, x+1) and x-difference pair (x+1 - (x-1), x+2 - x) */
    __m128i v0 = _mm_srli_si128(r0, 4), v1 = _mm_srli_si128(r1, 4), v2 = _mm_srli_si128(r2, 4), v3 = _mm_srli_si128(r3, 4);
    __m128i d0 = _mm_sub_epi32(_mm_srli_si128(r0, 8), r0), d1 = _mm_sub_epi32(_mm_srli_si128(r1, 8), r1);
    __m128i d2 = _mm_sub_epi32(_mm_srli_si128(r2, 8), r2), d3 = _mm_sub_epi32(_mm_srli_si128(r3, 8), r3);
    /* corner layout per z: (y0x0, y0x1, y1x0, y1x1) */
    __m128i gx0 = _mm_unpacklo_epi64(d0, d1), gx1 = _mm_unpacklo_epi64(d2, d3);
    __m128i vz0 = _mm_unpacklo_epi64(v0, v1), vz1 = _mm_unpacklo_epi64(v2, v3);
    /* pairs of the rows y-1, y+2 (at z0, z1) and z-1, z+2 (at y0, y1) */
    uint32_t t[8];
    memcpy(&t[0], p - sy, 4);
    memcpy(&t[1], p + 2 * sy, 4);
    memcpy(&t[2], p - sy + sz, 4);
    memcpy(&t[3], p + 2 * sy + sz, 4);
    memcpy(&t[4], p - sz, 4);
    memcpy(&t[5], p - sz + sy, 4);
    memcpy(&t[6], p + 2 * sz, 4);
    memcpy(&t[7], p + 2 * sz + sy, 4);
    __m128i ya = _mm_set_epi32((int)t[3], (int)t[2], (int)t[1], (int)t[0]);
    __m128i za = _mm_set_epi32((int)t[7], (int)t[6], (int)t[5], (int)t[4]);
    __m128i y_lo = _mm_unpacklo_epi16(ya, zero); /* (y-1,z0) pair, (y+2,z0) pair */
    __m128i y_hi = _mm_unpackhi_epi16(ya, zero); /* (y-1,z1) pair, (y+2,z1) pair */
    __m128i z_lo = _mm_unpacklo_epi16(za, zero); /* (z-1: y0 pair, y1 pair) */
    __m128i z_hi = _mm_unpackhi_epi16(za, zero); /* (z+2: y0 pair, y1 pair) */
    /* gy at corners (y0: v(y1) - v(y-1), y1: v(y+2) - v(y0)) */
    __m128i gy0 = _mm_sub_epi32(_mm_unpacklo_epi64(v1, _mm_srli_si128(y_lo, 8)), _mm_unpacklo_epi64(y_lo, v0));
    __m128i gy1 = _mm_sub_epi32(_mm_unpacklo_epi64(v3, _mm_srli_si128(y_hi, 8)), _mm_unpacklo_epi64(y_hi, v2));
    /* gz at corners (z0: v(z1) - v(z-1), z1: v(z+2) - v(z0)) */
    __m128i gz0 = _mm_sub_epi32(vz1, z_lo), gz1 = _mm_sub_epi32(z_hi, vz0);
    __m128 wz = _mm_set1_ps(fz), wy = _mm_set1_ps(fy);
    __m128 ax0 = _mm_cvtepi32_ps(gx0), ax1 = _mm_cvtepi32_ps(gx1);
    __m128 ay0 = _mm_cvtepi32_ps(gy0), ay1 = _mm_cvtepi32_ps(gy1);
    __m128 az0 = _mm_cvtepi32_ps(gz0), az1 = _mm_cvtepi32_ps(gz1);
    __m128 mx = _mm_add_ps(ax0, _mm_mul_ps(wz, _mm_sub_ps(ax1, ax0)));
    __m128 my = _mm_add_ps(ay0, _mm_mul_ps(wz, _mm_sub_ps(ay1, ay0)));
    __m128 mz = _mm_add_ps(az0, _mm_mul_ps(wz, _mm_sub_ps(az1, az0)));
    /* y lerp: lanes (x0, x1) of each; pack gx/gy into one vector, gz into another */
    __m128 xy_lo = _mm_movelh_ps(mx, my), xy_hi = _mm_movehl_ps(my, mx); /* (gx y0x0,y0x1, gy y0x0,y0x1) / y1 */
    __m128 nxy = _mm_add_ps(xy_lo, _mm_mul_ps(wy, _mm_sub_ps(xy_hi, xy_lo)));
    __m128 nz = _mm_add_ps(mz, _mm_mul_ps(wy, _mm_sub_ps(_mm_movehl_ps(mz, mz), mz)));
    float o[4], oz[4];
    _mm_storeu_ps(o, nxy);
    _mm_storeu_ps(oz, nz);
    g[0] = o[0] + fx * (o[1] - o[0]);
    g[1] = o[2] + fx * (o[3] - o[2]);
    g[2] = oz[0] + fx * (oz[1] - oz[0]);
#else
    (void)sy;
    (void)sz;
    (void)p;
    g[0] = brick_trilinear(b, x + 1, y, z) - brick_trilinear(b, x - 1, y, z);
    g[1] = brick_trilinear(b, x, y + 1, z) - brick_trilinear(b, x, y - 1, z);
    g[2] = brick_trilinear(b, x, y, z + 1) - brick_trilinear(b, x, y, z - 1);
    (void)fx; (void)fy; (void)fz;
#endif
}

static inline float brick_nearest(const uint16_t *b, float x, float y, float z) {
    return b[((int)(z + 0.5f) * RVR_SB_DIM + (int)(y + 0.5f)) * RVR_SB_DIM + (int)(x + 0.5f)];
}

static inline float fgrid_at(const rvr_fgrid *g, int x, int y, int z) {
    x = clampi(x, 0, g->nx - 1);
    y = clampi(y, 0, g->ny - 1);
    z = clampi(z, 0, g->nz - 1);
    return g->data[((size_t)z * g->ny + y) * g->nx + x];
}

/* Trilinear lookup of a cell grid at a voxel-index position. */
static inline float fgrid_sample(const rvr_fgrid *g, float px, float py, float pz) {
    const float p[3] = {px, py, pz};
    float inv = 1.0f / (float)g->f;
    float x = (p[g->perm[0]] + 0.5f) * inv - 0.5f;
    float y = (p[g->perm[1]] + 0.5f) * inv - 0.5f;
    float z = (p[g->perm[2]] + 0.5f) * inv - 0.5f;
    int ix = (int)floorf(x), iy = (int)floorf(y), iz = (int)floorf(z);
    float fx = x - ix, fy = y - iy, fz = z - iz;
    float c00 = fgrid_at(g, ix, iy, iz) + fx * (fgrid_at(g, ix + 1, iy, iz) - fgrid_at(g, ix, iy, iz));
    float c10 = fgrid_at(g, ix, iy + 1, iz) +
                fx * (fgrid_at(g, ix + 1, iy + 1, iz) - fgrid_at(g, ix, iy + 1, iz));
    float c01 = fgrid_at(g, ix, iy, iz + 1) +
                fx * (fgrid_at(g, ix + 1, iy, iz + 1) - fgrid_at(g, ix, iy, iz + 1));
    float c11 = fgrid_at(g, ix, iy + 1, iz + 1) +
                fx * (fgrid_at(g, ix + 1, iy + 1, iz + 1) - fgrid_at(g, ix, iy + 1, iz + 1));
    float c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01);
    return c0 + fz * (c1 - c0);
}

/* Schlick's approximation of x^n (specular), cheap and monotonic. */
static inline float schlick_pow(float x, float n) { return x / (n - n * x + x); }

/* Compiled for the host and, where nvcc reads this header (cuda/), for the device too. */
#ifdef __CUDACC__
#define RVR_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define RVR_HOST_DEVICE inline
#endif

/* Per-pixel sample offset in [0, 1) for RVR_F_JITTER: an integer hash of the pixel, so it is
 * the same on every backend and frame (no flicker, images comparable); one function for both. */
static RVR_HOST_DEVICE float rvr__jitter(uint32_t x, uint32_t y) {
    uint32_t h = x * 0x8da6b343u ^ y * 0xd8163841u;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return (float)(h >> 8) * (1.0f / 16777216.0f);
}

#endif
