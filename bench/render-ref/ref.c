/* ref.c - naive reference CPU ray caster (the render benchmark's baseline; see ref.h).
 * Deliberately plain: one ray per pixel, rows over OpenMP, every sample evaluated. */
#include "ref.h"

#include <math.h>
#include <stddef.h>

#if defined(__GNUC__)
#define REF_API __attribute__((visibility("default")))
#else
#define REF_API
#endif

typedef struct vol {
    const uint16_t *p;
    int nx, ny, nz;
    ptrdiff_t sy, sz;
} vol;

static inline int cl(int v, int hi) { return v < 0 ? 0 : (v > hi ? hi : v); }

static inline float vox(const vol *V, int x, int y, int z) {
    return V->p[cl(z, V->nz - 1) * V->sz + cl(y, V->ny - 1) * V->sy + cl(x, V->nx - 1)];
}

static inline float tri(const vol *V, float x, float y, float z) {
    int ix = (int)floorf(x), iy = (int)floorf(y), iz = (int)floorf(z);
    float fx = x - ix, fy = y - iy, fz = z - iz;
    if (ix >= 0 && iy >= 0 && iz >= 0 && ix < V->nx - 1 && iy < V->ny - 1 && iz < V->nz - 1) {
        const uint16_t *p = V->p + iz * V->sz + iy * V->sy + ix;
        ptrdiff_t sy = V->sy, sz = V->sz;
        float c00 = p[0] + fx * ((float)p[1] - p[0]);
        float c10 = p[sy] + fx * ((float)p[sy + 1] - p[sy]);
        float c01 = p[sz] + fx * ((float)p[sz + 1] - p[sz]);
        float c11 = p[sz + sy] + fx * ((float)p[sz + sy + 1] - p[sz + sy]);
        float c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01);
        return c0 + fz * (c1 - c0);
    }
    float c000 = vox(V, ix, iy, iz), c100 = vox(V, ix + 1, iy, iz);
    float c010 = vox(V, ix, iy + 1, iz), c110 = vox(V, ix + 1, iy + 1, iz);
    float c001 = vox(V, ix, iy, iz + 1), c101 = vox(V, ix + 1, iy, iz + 1);
    float c011 = vox(V, ix, iy + 1, iz + 1), c111 = vox(V, ix + 1, iy + 1, iz + 1);
    float c00 = c000 + fx * (c100 - c000), c10 = c010 + fx * (c110 - c010);
    float c01 = c001 + fx * (c101 - c001), c11 = c011 + fx * (c111 - c011);
    float c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01);
    return c0 + fz * (c1 - c0);
}

static void norm3(float a[3]) {
    float l = sqrtf(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
    if (l > 0) a[0] /= l, a[1] /= l, a[2] /= l;
}

static inline unsigned char to8(float v) {
    if (!(v > 0)) return 0;
    if (v >= 1) return 255;
    return (unsigned char)(v * 255.0f + 0.5f);
}

REF_API int ref_render(const uint16_t *volp, int nx, int ny, int nz, const float *lut,
                       const float eye[3], const float target[3], const float up_hint[3],
                       float fov_y_deg, int W, int H, float step, float ert, int shade,
                       const float shade_k[4], const float bg[3], uint8_t *rgba,
                       uint64_t *samples_out) {
    if (!volp || !lut || !rgba || nx < 1 || ny < 1 || nz < 1 || W < 1 || H < 1 || !(step > 0))
        return -1;
    const vol V = {volp, nx, ny, nz, nx, (ptrdiff_t)nx * ny};
    float f[3] = {target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]}, up[3], rt[3];
    norm3(f);
    up[0] = up_hint[0], up[1] = up_hint[1], up[2] = up_hint[2];
    norm3(up);
    rt[0] = f[1] * up[2] - f[2] * up[1], rt[1] = f[2] * up[0] - f[0] * up[2], rt[2] = f[0] * up[1] - f[1] * up[0];
    norm3(rt);
    up[0] = rt[1] * f[2] - rt[2] * f[1], up[1] = rt[2] * f[0] - rt[0] * f[2], up[2] = rt[0] * f[1] - rt[1] * f[0];
    norm3(up);
    const float ty = tanf(0.5f * fov_y_deg * 3.14159265358979f / 180.0f), tx = ty * (float)W / (float)H;
    const float ka = shade_k[0], kd = shade_k[1], ks = shade_k[2], pw = shade_k[3];
    const float hi[3] = {nx - 0.5f, ny - 0.5f, nz - 0.5f};
    uint64_t total = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : total)
    for (int j = 0; j < H; j++) {
        uint64_t ns = 0;
        for (int i = 0; i < W; i++) {
            float u = (2.0f * (i + 0.5f) / (float)W - 1.0f) * tx, v = (1.0f - 2.0f * (j + 0.5f) / (float)H) * ty;
            float d[3], o[3];
            for (int k = 0; k < 3; k++) d[k] = f[k] + u * rt[k] + v * up[k];
            norm3(d);
            norm3(d);
            for (int k = 0; k < 3; k++) o[k] = eye[k] - 0.5f;
            float t0 = 0, t1 = INFINITY;
            for (int k = 0; k < 3; k++) {
                if (d[k] == 0.0f) {
                    if (o[k] < -0.5f || o[k] > hi[k]) t1 = -INFINITY;
                    continue;
                }
                float inv = 1.0f / d[k], ta = (-0.5f - o[k]) * inv, tb = (hi[k] - o[k]) * inv;
                if (ta > tb) { float tt = ta; ta = tb; tb = tt; }
                if (ta > t0) t0 = ta;
                if (tb < t1) t1 = tb;
            }
            float r = 0, g = 0, b = 0, a = 0;
            for (int k = 0;; k++) {
                float t = t0 + (k + 0.5f) * step;
                if (!(t < t1)) break;
                float x = o[0] + t * d[0], y = o[1] + t * d[1], z = o[2] + t * d[2];
                float s = tri(&V, x, y, z);
                ns++;
                const float *e = lut + 4 * ((int)s >> 4);
                if (e[3] <= 0.0f) continue;
                float w = 1.0f - a;
                if (shade) {
                    float dif = kd, sp = 0;
                    float gx = tri(&V, x + 1, y, z) - tri(&V, x - 1, y, z);
                    float gy = tri(&V, x, y + 1, z) - tri(&V, x, y - 1, z);
                    float gz = tri(&V, x, y, z + 1) - tri(&V, x, y, z - 1);
                    if (gx * gx + gy * gy + gz * gz > 1.0f) {
                        float inv = 1.0f / sqrtf(gx * gx + gy * gy + gz * gz);
                        float nd = fabsf(-(gx * d[0] + gy * d[1] + gz * d[2])) * inv;
                        dif *= nd;
                        sp = ks * (nd / (pw - pw * nd + nd));
                    }
                    float sh = ka + dif;
                    r += w * (e[0] * sh + sp * e[3]);
                    g += w * (e[1] * sh + sp * e[3]);
                    b += w * (e[2] * sh + sp * e[3]);
                } else {
                    r += w * e[0];
                    g += w * e[1];
                    b += w * e[2];
                }
                a += w * e[3];
                if (a >= ert) break;
            }
            uint8_t *p = rgba + ((size_t)j * W + i) * 4;
            p[0] = to8(r + (1 - a) * bg[0]);
            p[1] = to8(g + (1 - a) * bg[1]);
            p[2] = to8(b + (1 - a) * bg[2]);
            p[3] = 255;
        }
        total += ns;
    }
    if (samples_out) *samples_out = total;
    return 0;
}
