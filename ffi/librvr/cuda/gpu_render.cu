/* gpu_render.cu - CUDA backend: rvr_render and rvr_render_slice. One 16x16 thread block per
 * 16x16 tile of rays (the CPU backend's tile, so the points' tile lists are the same); the
 * ray code is the CPU backend's (raycast.c) with the volume read through the 3D texture. */
#include "gpu_internal.cuh"

#include <float.h>

enum { M_COMP = 0, M_ISO = 1, M_PROJ = 2 };

struct Frame {
    rvr_cam cam;
    cudaTextureObject_t vt; /* trilinear or nearest */
    float A, B;
    int has_vol, mode, shading, flags;
    float dt, ert;
    float inv_s[3], hi[3];
    int clip_box;
    float clo[3], chi[3];
    int num_planes;
    float planes[RVR_MAX_CLIP_PLANES][4];
    const float4 *lut;
    const uint8_t *empty;
    const float *bmin, *bmax;
    int skip_proj, bx, byx;
    float iso16, iso_rgb[3];
    int headlight;
    float Lw[3], li_off[3];
    cudaTextureObject_t light, ao;
    float light_inv, ao_inv;
    int lperm[3];
    float ambient, diffuse, specular, shininess;
    float bg[4];
    int lod, tw, th, W, H;
    /* the rectangle rendered (rvr_render_region): pixels [rx0, rx1) x [ry0, ry1); pixel (x, y)
     * goes to out[(y - oy0) * opitch + x - ox0] (the device buffer: the rectangle alone; the
     * caller's mapped host memory: the whole image); the grid's blocks start at tile (tx0, ty0)
     * of ntx per row */
    int rx0, ry0, rx1, ry1, tx0, ty0, ntx;
    int ox0, oy0, opitch;
    /* rows handed over while rendering (mapped host memory; NULL: not asked): a block stores
     * seq at its place in the grid once its pixels are visible to the host */
    unsigned *tile_done;
    unsigned seq;
    /* the occluder (rvr_renderer_set_occluder) where it applies, mapped host memory (else NULL),
     * the whole image; its alpha byte that hides a ray */
    const uchar4 *occ;
    int occ_min;
    int qx0, qy0, qx1, qy1; /* where it is read */
    int rows_up; /* RVR_F_ROWS_UP: the grid's rows from the region's bottom */
    /* else, where not NULL, the region's tiles in the order to render them (costliest first,
     * gpu_order.cu: j * rtx + i), and the samples per image tile, summed for the next frame's */
    const int *tile_order;
    unsigned long long *tile_cost;
    const uint32_t *pstart, *pidx;
    const float *prad, *pcol, *pxyz;
    GLabels lab; /* segmentation labels tinting composite and iso (data NULL: none) */
    unsigned long long *samples;
    uchar4 *out;
};

__device__ __forceinline__ float vs(const Frame &F, float x, float y, float z) {
    return fmaf(tex3D<float>(F.vt, x + 0.5f, y + 0.5f, z + 0.5f), F.A, F.B);
}
__device__ __forceinline__ float4 lut_at(const Frame &F, float v) {
    int i = (int)v >> 4;
    i = i < 0 ? 0 : (i > 4095 ? 4095 : i);
    return __ldg(F.lut + i);
}

__device__ void cam_ray(const rvr_cam &c, float px, float py, float o[3], float d[3]) {
    float u = (2.0f * px / c.W - 1.0f) * c.sx, v = (1.0f - 2.0f * py / c.H) * c.sy;
    if (c.ortho) {
        for (int k = 0; k < 3; k++) {
            o[k] = c.eye[k] + u * c.right[k] + v * c.up[k];
            d[k] = c.fwd[k];
        }
    } else {
        for (int k = 0; k < 3; k++) {
            o[k] = c.eye[k];
            d[k] = c.fwd[k] + u * c.right[k] + v * c.up[k];
        }
        float l = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        if (l > 0)
            for (int k = 0; k < 3; k++) d[k] /= l;
    }
}

__device__ __forceinline__ void clip_box(const float o[3], const float d[3], const float lo[3],
                                         const float hi[3], float *t0, float *t1) {
    for (int k = 0; k < 3; k++) {
        if (d[k] == 0.0f) {
            if (o[k] < lo[k] || o[k] > hi[k]) *t1 = -INFINITY;
            continue;
        }
        float inv = 1.0f / d[k], ta = (lo[k] - o[k]) * inv, tb = (hi[k] - o[k]) * inv;
        if (ta > tb) {
            float t = ta;
            ta = tb;
            tb = t;
        }
        if (ta > *t0) *t0 = ta;
        if (tb < *t1) *t1 = tb;
    }
}

struct Ray {
    float o[3], d[3];
    float tv0, t0, t1;
    int k0;
};

/* jit: the sample grid's offset in steps (0.5 = centred; RVR_F_JITTER varies it per pixel). */
__device__ int ray_setup(const Frame &F, const float ow[3], const float dw[3], float tau_max, float jit, Ray &R) {
    float dr[3];
    for (int k = 0; k < 3; k++) {
        R.o[k] = ow[k] * F.inv_s[k] - 0.5f;
        dr[k] = dw[k] * F.inv_s[k];
    }
    float L = sqrtf(dr[0] * dr[0] + dr[1] * dr[1] + dr[2] * dr[2]);
    for (int k = 0; k < 3; k++) R.d[k] = dr[k] / L;
    const float lo[3] = {-0.5f, -0.5f, -0.5f};
    float tv0 = 0, tv1 = INFINITY;
    clip_box(R.o, R.d, lo, F.hi, &tv0, &tv1);
    if (!(tv0 < tv1)) return 0;
    float t0 = tv0, t1 = tv1;
    if (F.clip_box) clip_box(R.o, R.d, F.clo, F.chi, &t0, &t1);
    for (int p = 0; p < F.num_planes; p++) {
        const float *pl = F.planes[p];
        float nd = pl[0] * dw[0] + pl[1] * dw[1] + pl[2] * dw[2];
        float no = pl[0] * ow[0] + pl[1] * ow[1] + pl[2] * ow[2] + pl[3];
        if (nd == 0.0f) {
            if (no < 0) return 0;
        } else {
            float tp = -no / nd * L;
            if (nd > 0) {
                if (tp > t0) t0 = tp;
            } else if (tp < t1) {
                t1 = tp;
            }
        }
    }
    if (tau_max * L < t1) t1 = tau_max * L;
    if (!(t0 < t1)) return 0;
    tv0 += (jit - 0.5f) * F.dt; /* as on the CPU: moves the sample grid */
    int k0 = (int)ceilf((t0 - tv0) / F.dt - 0.5f);
    if (k0 < 0) k0 = 0;
    while (tv0 + (k0 + 0.5f) * F.dt < t0) k0++;
    R.tv0 = tv0;
    R.t0 = t0;
    R.t1 = t1;
    R.k0 = k0;
    return 1;
}

__device__ __forceinline__ int brick_of(const Frame &F, float x, float y, float z) {
    return (((int)z) >> 4) * F.byx + (((int)y) >> 4) * F.bx + (((int)x) >> 4);
}
__device__ __forceinline__ int brick_next_k(const Frame &F, const Ray &R, float x, float y, float z, int k) {
    const float p[3] = {x, y, z};
    float te = INFINITY;
#pragma unroll
    for (int a = 0; a < 3; a++) {
        int b = ((int)p[a]) >> 4;
        float t;
        if (R.d[a] > 0) t = ((b + 1) * 16 - R.o[a]) / R.d[a];
        else if (R.d[a] < 0) t = ((b == 0 ? -1.0f : (float)(b * 16)) - R.o[a]) / R.d[a];
        else continue;
        te = t < te ? t : te;
    }
    int kn = (int)ceilf((te - R.tv0) / F.dt - 0.5f);
    return kn > k ? kn : k + 1;
}

__device__ __forceinline__ float schlick_pow_d(float x, float n) { return x / (n - n * x + x); }

__device__ __forceinline__ void shade(const Frame &F, float x, float y, float z, const float L[3],
                                      const float H[3], float *sh, float *spec) {
    float dif = F.diffuse, sp = 0, amb = F.ambient;
    if (F.shading & RVR_SHADE_LOCAL) {
        const float px = x + 0.5f, py = y + 0.5f, pz = z + 0.5f;
        float gx = (tex3D<float>(F.vt, px + 1, py, pz) - tex3D<float>(F.vt, px - 1, py, pz)) * F.A;
        float gy = (tex3D<float>(F.vt, px, py + 1, pz) - tex3D<float>(F.vt, px, py - 1, pz)) * F.A;
        float gz = (tex3D<float>(F.vt, px, py, pz + 1) - tex3D<float>(F.vt, px, py, pz - 1)) * F.A;
        if (gx * gx + gy * gy + gz * gz > 1.0f) {
            gx *= F.inv_s[0];
            gy *= F.inv_s[1];
            gz *= F.inv_s[2];
            float inv = rsqrtf(gx * gx + gy * gy + gz * gz);
            float ndl = fabsf(gx * L[0] + gy * L[1] + gz * L[2]) * inv;
            float ndh = fabsf(gx * H[0] + gy * H[1] + gz * H[2]) * inv;
            dif *= ndl;
            sp = F.specular * schlick_pow_d(ndh, F.shininess);
        }
    }
    if (F.shading & RVR_SHADE_SHADOW) {
        const float p[3] = {x + F.li_off[0], y + F.li_off[1], z + F.li_off[2]};
        float T = tex3D<float>(F.light, (p[F.lperm[0]] + 0.5f) * F.light_inv, (p[F.lperm[1]] + 0.5f) * F.light_inv,
                               (p[F.lperm[2]] + 0.5f) * F.light_inv);
        dif *= T;
        sp *= T;
    }
    if (F.shading & RVR_SHADE_AO)
        amb *= tex3D<float>(F.ao, (x + 0.5f) * F.ao_inv, (y + 0.5f) * F.ao_inv, (z + 0.5f) * F.ao_inv);
    *sh = amb + dif;
    *spec = sp;
}

template <bool SHADE>
__device__ void trace_composite(const Frame &F, const Ray &R, const float L[3], const float H[3], float ert,
                                float acc[4], unsigned *ns) {
    const float dt = F.dt, tv0 = R.tv0, t1 = R.t1;
    const float ox = R.o[0], oy = R.o[1], oz = R.o[2], dx = R.d[0], dy = R.d[1], dz = R.d[2];
    const uint8_t *empty = F.empty;
    unsigned n = 0;
    float r = 0, g = 0, b = 0, a = 0;
    int k = R.k0;
    for (float t = tv0 + (k + 0.5f) * dt; t < t1; t = tv0 + (k + 0.5f) * dt) {
        float x = ox + t * dx, y = oy + t * dy, z = oz + t * dz;
        if (empty && __ldg(empty + brick_of(F, x, y, z))) {
            k = brick_next_k(F, R, x, y, z, k);
            continue;
        }
        k++;
        float v = vs(F, x, y, z);
        n++;
        float4 e = lut_at(F, v);
        if (e.w <= 0.0f) continue;
        if (F.lab.data) e = glab_tint(F.lab, x, y, z, e);
        float w = 1.0f - a;
        if (SHADE) {
            float sh, sp;
            shade(F, x, y, z, L, H, &sh, &sp);
            r += w * (e.x * sh + sp * e.w);
            g += w * (e.y * sh + sp * e.w);
            b += w * (e.z * sh + sp * e.w);
        } else {
            r += w * e.x;
            g += w * e.y;
            b += w * e.z;
        }
        a += w * e.w;
        if (a >= ert) break;
    }
    acc[0] = r;
    acc[1] = g;
    acc[2] = b;
    acc[3] = a;
    *ns += n;
}

__device__ float trace_project(const Frame &F, const Ray &R, unsigned *ns) {
    const float dt = F.dt, tv0 = R.tv0, t1 = R.t1;
    const int mode = F.mode;
    float best = mode == RVR_MODE_MIP ? -1.0f : 65536.0f;
    double sum = 0;
    unsigned n = 0;
    int k = R.k0;
    for (float t = tv0 + (k + 0.5f) * dt; t < t1; t = tv0 + (k + 0.5f) * dt) {
        float x = R.o[0] + t * R.d[0], y = R.o[1] + t * R.d[1], z = R.o[2] + t * R.d[2];
        if (F.skip_proj) {
            int bi = brick_of(F, x, y, z);
            if (mode == RVR_MODE_MIP ? __ldg(F.bmax + bi) <= best : __ldg(F.bmin + bi) >= best) {
                k = brick_next_k(F, R, x, y, z, k);
                continue;
            }
        }
        k++;
        float v = vs(F, x, y, z);
        n++;
        if (mode == RVR_MODE_MIP) best = v > best ? v : best;
        else if (mode == RVR_MODE_MINIP) best = v < best ? v : best;
        else sum += v;
    }
    *ns += n;
    if (mode == RVR_MODE_AVERAGE) return n ? (float)(sum / (double)n) : -1.0f;
    if (mode == RVR_MODE_MIP) return best;
    return best > 65535.5f ? -1.0f : best;
}

__device__ int trace_iso(const Frame &F, const Ray &R, const float L[3], const float H[3], float acc[4],
                         unsigned *ns) {
    const float dt = F.dt, tv0 = R.tv0, t1 = R.t1, iso = F.iso16;
    unsigned n = 0;
    int k = R.k0, prev_ok = 0;
    float prev_v = 0;
    for (float t = tv0 + (k + 0.5f) * dt; t < t1; t = tv0 + (k + 0.5f) * dt) {
        float x = R.o[0] + t * R.d[0], y = R.o[1] + t * R.d[1], z = R.o[2] + t * R.d[2];
        if (F.empty && __ldg(F.empty + brick_of(F, x, y, z))) {
            k = brick_next_k(F, R, x, y, z, k);
            prev_ok = 0;
            continue;
        }
        float v = vs(F, x, y, z);
        n++;
        if (v >= iso) {
            float th = t;
            if (k > R.k0) {
                if (!prev_ok) {
                    float tp = t - dt;
                    prev_v = vs(F, R.o[0] + tp * R.d[0], R.o[1] + tp * R.d[1], R.o[2] + tp * R.d[2]);
                }
                if (prev_v < iso) th = t - dt + (iso - prev_v) / (v - prev_v) * dt;
            }
            float hx = R.o[0] + th * R.d[0], hy = R.o[1] + th * R.d[1], hz = R.o[2] + th * R.d[2];
            float sh, sp;
            shade(F, hx, hy, hz, L, H, &sh, &sp);
            float rgb[3] = {F.iso_rgb[0], F.iso_rgb[1], F.iso_rgb[2]};
            if (F.lab.data) glab_iso(F.lab, hx, hy, hz, rgb);
            for (int c = 0; c < 3; c++) acc[c] = rgb[c] * sh + sp;
            acc[3] = 1;
            *ns += n;
            return 1;
        }
        prev_v = v;
        prev_ok = 1;
        k++;
    }
    *ns += n;
    return 0;
}

__device__ __forceinline__ unsigned char to8(float v) {
    if (!(v > 0)) return 0;
    if (v >= 1) return 255;
    return (unsigned char)(v * 255.0f + 0.5f);
}

__device__ __forceinline__ uchar4 write_px(const float bg[4], int pm, const float acc[4]) {
    float w = 1 - acc[3];
    float oa = acc[3] + w * bg[3];
    float o[3];
    for (int c = 0; c < 3; c++) o[c] = acc[c] + w * bg[c] * bg[3];
    if (!pm) {
        float inv = oa > 0 ? 1.0f / oa : 0.0f;
        for (int c = 0; c < 3; c++) o[c] *= inv;
    }
    return make_uchar4(to8(o[0]), to8(o[1]), to8(o[2]), to8(oa));
}

/* The least alpha byte of the occluder over pixels [x0, x1) x [y0, y1): 0 where they are not
 * all where it is read. Past the caches: another GPU may be writing them (each pixel one
 * 4-byte load). */
__device__ __forceinline__ int occ_alpha(const Frame &F, int x0, int x1, int y0, int y1) {
    if (x0 < F.qx0 || x1 > F.qx1 || y0 < F.qy0 || y1 > F.qy1) return 0;
    int a = 255;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) a = min(a, (int)__ldcv(&F.occ[(size_t)y * F.W + x]).w);
    return a;
}

/* Occupancy matters here more than usual: with the occluder code added, composite + S1 took 74
 * registers a thread instead of 64, so 24 warps fit an SM instead of 32, and whole frames got 12%
 * faster on the H200 (2048^3 f32, 1920x1080: 6.02 -> 5.25 ms, bench/RESULTS.md, issue 12),
 * fewer rays in flight sharing an SM's texture cache being the likely reason. Not yet pinned
 * down on its own: check the registers (nvcc -Xptxas -v) when this kernel changes (79 with the
 * blocks' order and shape: still 24 warps; 80 with tiles ordered one by one). */
template <int MODE, bool SHADE>
__global__ void __launch_bounds__(256) k_render(const __grid_constant__ Frame F) {
    /* a block is a 16 x blockDim.y part of a 16 x 16 tile, parts = 16 / blockDim.y of them in a
     * row. With an order, the q-th group of parts blocks (in launch order) is its q-th tile;
     * else the grid's rows come in groups of parts, group g being the region's tile row g (with
     * rows_up the g-th from its bottom) */
    const int parts = 16 / (int)blockDim.y;
    int i, j, part;
    if (F.tile_order) {
        const int L = (int)(blockIdx.y * gridDim.x + blockIdx.x), t = F.tile_order[L / parts];
        part = L % parts, j = t / (int)gridDim.x, i = t % (int)gridDim.x;
    } else {
        const int g = (int)blockIdx.y / parts, ng = (int)gridDim.y / parts;
        part = (int)blockIdx.y % parts, i = (int)blockIdx.x, j = F.rows_up ? ng - 1 - g : g;
    }
    const int bx = i + F.tx0, by = j + F.ty0;
    const int ci = bx * 16 + threadIdx.x, cj = by * 16 + part * (int)blockDim.y + threadIdx.y;
    const int tile = by * F.ntx + bx;
    unsigned ns = 0;
    const int lod = F.lod;
    const int x0 = ci * lod, y0 = cj * lod;
    const int x1 = x0 + lod < F.W ? x0 + lod : F.W, y1 = y0 + lod < F.H ? y0 + lod : F.H;
    if (ci < F.tw && cj < F.th && x1 > F.rx0 && x0 < F.rx1 && y1 > F.ry0 && y0 < F.ry1) {
        float ro[3], rd[3];
        cam_ray(F.cam, 0.5f * (float)(x0 + x1), 0.5f * (float)(y0 + y1), ro, rd);
        /* nearest point sphere */
        float tau = INFINITY;
        int hit = -1;
        if (F.pstart) {
            for (uint32_t q = F.pstart[tile]; q < F.pstart[tile + 1]; q++) {
                uint32_t i = F.pidx[q];
                const float *c = F.pxyz + 3 * (size_t)i;
                float rad = F.prad[i], r2 = rad * rad;
                float oc[3] = {ro[0] - c[0], ro[1] - c[1], ro[2] - c[2]};
                float b = oc[0] * rd[0] + oc[1] * rd[1] + oc[2] * rd[2];
                float cc = oc[0] * oc[0] + oc[1] * oc[1] + oc[2] * oc[2] - r2;
                float disc = b * b - cc;
                if (disc < 0) continue;
                float sq = sqrtf(disc), t = -b - sq;
                if (t < 0) t = -b + sq;
                if (t >= 0 && t < tau) {
                    tau = t;
                    hit = (int)i;
                }
            }
        }
        float acc[4] = {0, 0, 0, 0};
        float L[3], Hh[3];
        if (F.headlight) {
            for (int k = 0; k < 3; k++) L[k] = Hh[k] = -rd[k];
        } else {
            for (int k = 0; k < 3; k++) {
                L[k] = F.Lw[k];
                Hh[k] = F.Lw[k] - rd[k];
            }
            float l = sqrtf(Hh[0] * Hh[0] + Hh[1] * Hh[1] + Hh[2] * Hh[2]);
            if (l > 0)
                for (int k = 0; k < 3; k++) Hh[k] /= l;
        }
        Ray R;
        const float jit = (F.flags & RVR_F_JITTER) ? rvr__jitter((uint32_t)ci, (uint32_t)cj) : 0.5f;
        const int a8 = F.occ ? occ_alpha(F, x0, x1, y0, y1) : 0;
        const bool hidden = F.occ && a8 >= F.occ_min;
        const float ert = RVR__ERT_BEHIND(F.ert, a8); /* behind a partly opaque occluder pixel: less */
        if (hidden) hit = -1;
        if (!hidden && F.has_vol && ray_setup(F, ro, rd, tau, jit, R)) {
            if (MODE == M_COMP) {
                trace_composite<SHADE>(F, R, L, Hh, ert, acc, &ns);
            } else if (MODE == M_ISO) {
                trace_iso(F, R, L, Hh, acc, &ns);
            } else {
                float v = trace_project(F, R, &ns);
                if (v >= 0) {
                    if (F.flags & RVR_F_GRAY) {
                        float gv = v / 65535.0f;
                        acc[0] = acc[1] = acc[2] = gv;
                        acc[3] = 1;
                    } else {
                        float4 c = lut_at(F, v);
                        acc[0] = c.x * c.w;
                        acc[1] = c.y * c.w;
                        acc[2] = c.z * c.w;
                        acc[3] = c.w;
                    }
                }
            }
        }
        if (hit >= 0 && acc[3] < 1) {
            const float *c = F.pxyz + 3 * (size_t)hit;
            float n[3] = {ro[0] + tau * rd[0] - c[0], ro[1] + tau * rd[1] - c[1], ro[2] + tau * rd[2] - c[2]};
            float l = sqrtf(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
            if (l > 0)
                for (int k = 0; k < 3; k++) n[k] /= l;
            float ndl = n[0] * L[0] + n[1] * L[1] + n[2] * L[2];
            ndl = ndl > 0 ? ndl : 0;
            float h[3] = {L[0] - rd[0], L[1] - rd[1], L[2] - rd[2]};
            l = sqrtf(h[0] * h[0] + h[1] * h[1] + h[2] * h[2]);
            if (l > 0)
                for (int k = 0; k < 3; k++) h[k] /= l;
            float ndh = n[0] * h[0] + n[1] * h[1] + n[2] * h[2];
            ndh = ndh > 0 ? ndh : 0;
            float spec = F.specular * schlick_pow_d(ndh, F.shininess);
            float sh = F.ambient + F.diffuse * ndl;
            const float *col = F.pcol + 3 * (size_t)hit;
            float w = 1 - acc[3];
            for (int k = 0; k < 3; k++) acc[k] += w * (col[k] * sh + spec);
            acc[3] = 1;
        }
        uchar4 px = write_px(F.bg, (F.flags & RVR_F_PREMULTIPLIED) != 0, acc);
        for (int y = max(y0, F.ry0); y < min(y1, F.ry1); y++)
            for (int x = max(x0, F.rx0); x < min(x1, F.rx1); x++)
                F.out[(size_t)(y - F.oy0) * F.opitch + (x - F.ox0)] = px;
    }
    /* samples: warp sum, one atomic per warp */
    unsigned s = __reduce_add_sync(0xffffffffu, ns);
    if (((threadIdx.y * 16 + threadIdx.x) & 31) == 0 && s) { /* (blocks are whole warps: blockDim.y even) */
        atomicAdd(F.samples, (unsigned long long)s);
        if (F.tile_cost) atomicAdd(F.tile_cost + tile, (unsigned long long)s);
    }
    if (F.tile_done) {
        /* every thread's pixels reach the host before the block says it is done */
        __threadfence_system();
        __syncthreads();
        if (threadIdx.x == 0 && threadIdx.y == 0) {
            __threadfence_system();
            ((volatile unsigned *)F.tile_done)[((size_t)j * parts + part) * gridDim.x + i] = F.seq;
        }
    }
}

/* per brick: nothing visible (composite: no LUT entry with alpha > 0 in its value range widened
 * by one entry; iso: its max below the iso value) */
__global__ void k_empty(const float *bmin, const float *bmax, size_t nb, const int *cnt, int iso_mode,
                        float iso16, uint8_t *empty) {
    size_t b = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= nb) return;
    if (iso_mode) {
        empty[b] = bmax[b] < iso16;
        return;
    }
    float mn = fmaxf(bmin[b], 0.0f), mx = fminf(bmax[b], 65535.0f);
    int lo = ((int)mn >> 4) - 1, hi = ((int)mx >> 4) + 1;
    lo = lo < 0 ? 0 : lo;
    hi = hi > 4095 ? 4095 : hi;
    empty[b] = cnt[hi + 1] - cnt[lo] == 0;
}

template <int MODE, bool SHADE>
static void launch(const Frame &F, dim3 g, int rows, cudaStream_t st) {
    k_render<MODE, SHADE><<<g, dim3(16, rows), 0, st>>>(F);
}

/* Rows of rays per block: 8, a tile in two blocks (RVR_CUDA_BLOCK_ROWS=2, 4, 16 for others).
 * A block holds its place on an SM until its last ray ends, so the rays of one block should end
 * together; where a clip plane crosses a tile (a distributed rank's cut, nearly parallel to the
 * rays), the rows of a 16 x 16 tile end at depths far apart. H200, 2048^3 float32, 1920x1080,
 * composite + S1 (rr_split, same process): whole volume 5.10 ms with 16 rows, 4.93 with 8, 5.00
 * with 4, 5.22 with 2; the larger of two slabs 3.22, 3.05, 3.07-3.11, 3.17 (bench/RESULTS.md). */
static int block_rows(void) {
    const char *e = getenv("RVR_CUDA_BLOCK_ROWS");
    const int r = e ? atoi(e) : 8;
    return r == 2 || r == 4 || r == 8 || r == 16 ? r : 8;
}

/* LUT on the device: composite (premultiplied, corrected for the step) or plain */
static int ensure_lut(rvr_renderer *r, rvr_gpu *G, int composite, float dt) {
    if (G->lut_ok && G->lut_tf == r->tf_version && G->lut_kind == composite && (!composite || G->lut_step == dt))
        return RVR_OK;
    if (composite) rvr__lut_build(r, dt, G->hlut);
    else rvr__lut_build_plain(r, G->hlut);
    GTRY(cudaMemcpyAsync(G->lut, G->hlut, sizeof G->hlut, cudaMemcpyHostToDevice, G->st));
    G->lut_ok = 1;
    G->lut_tf = r->tf_version;
    G->lut_kind = composite;
    G->lut_step = dt;
    G->empty_ok = 0;
    return RVR_OK;
}

static int ensure_empty(rvr_renderer *r, rvr_gpu *G, int mode, float dt, float iso16) {
    const size_t nb = (size_t)G->v.bx * G->v.by * G->v.bz;
    if (G->empty_ok && G->empty_vol == r->vol_version && G->empty_tf == r->tf_version && G->empty_mode == mode &&
        G->empty_step == dt && G->empty_iso == iso16 && G->empty_n >= nb)
        return RVR_OK;
    size_t cap = G->empty_n;
    int rc = gensure((void **)&G->empty, &cap, nb);
    if (rc) return rc;
    G->empty_n = cap;
    static thread_local int cnt[4097];
    cnt[0] = 0;
    for (int i = 0; i < 4096; i++) cnt[i + 1] = cnt[i] + (G->hlut[i][3] > 0);
    GTRY(cudaMemcpyAsync(G->cnt, cnt, sizeof cnt, cudaMemcpyHostToDevice, G->st));
    k_empty<<<(unsigned)((nb + 255) / 256), 256, 0, G->st>>>(G->v.bmin, G->v.bmax, nb, G->cnt,
                                                              mode == RVR_MODE_ISO, iso16, G->empty);
    GTRY(cudaGetLastError());
    GTRY(cudaStreamSynchronize(G->st)); /* cnt is reused by the next call */
    G->empty_ok = 1;
    G->empty_vol = r->vol_version;
    G->empty_tf = r->tf_version;
    G->empty_mode = mode;
    G->empty_step = dt;
    G->empty_iso = iso16;
    return RVR_OK;
}

/* Where a kernel can write the caller's image itself: page-locked, mapped host memory
 * (rvr_host_alloc, rvr_host_register); NULL for anything else (then the image is copied). */
static uint8_t *mapped_on_device(uint8_t *rgba) {
    cudaPointerAttributes at;
    if (cudaPointerGetAttributes(&at, rgba) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    return at.type == cudaMemoryTypeHost ? (uint8_t *)at.devicePointer : NULL;
}

extern "C" const void *rvr__gpu_mapped(const void *p) { return mapped_on_device((uint8_t *)p); }

/* Hands rows of the region to fn as the blocks of their tile rows say they are done (the
 * kernel is running in G->st; rty tile rows of rtx blocks each (times parts: blocks per tile),
 * row j covering image rows from (F.ty0 + j) * 16 * lod). Polls until every row is reported or
 * the stream ends. */
static int watch_rows(rvr_gpu *G, const Frame &F, int rtx, int rty, rvr_rows_fn fn, void *user) {
    volatile const unsigned *done = G->tile_done_h;
    int *next = (int *)calloc((size_t)rty, sizeof(int)); /* per tile row: its first block not seen done */
    if (!next) return RVR_ERR_NOMEM;
    const int band = 16 * F.lod;
    int left = rty, rc = RVR_OK, ended = 0;
    while (left > 0) {
        int progress = 0;
        for (int j = 0; j < rty; j++) {
            if (next[j] < 0) continue;
            int i = next[j];
            while (i < rtx && done[(size_t)j * rtx + i] == F.seq) i++;
            next[j] = i;
            if (i < rtx) continue;
            __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the pixels are read after the flags */
            next[j] = -1, left--, progress = 1;
            const int y0 = max((F.ty0 + j) * band, F.ry0), y1 = min((F.ty0 + j + 1) * band, F.ry1);
            if (y0 < y1) fn(user, (uint32_t)y0, (uint32_t)y1);
        }
        if (left == 0 || progress) continue;
        if (ended) { /* the kernel ended and a block never said so */
            rc = RVR_ERR_DEVICE;
            break;
        }
        const cudaError_t e = cudaStreamQuery(G->st);
        if (e == cudaSuccess) ended = 1; /* one more pass sees the last flags */
        else if (e != cudaErrorNotReady) {
            rc = gerr(e);
            break;
        }
    }
    free(next);
    return rc;
}

/* The rendered rectangle g (rows of g->width pixels in G->img) to its place in the W-wide image
 * rgba: one (2D) DMA into page-locked memory, else through a page-locked staging buffer. */
static int image_out(rvr_renderer *r, rvr_gpu *G, uint8_t *rgba, uint32_t W, const rvr_region *g) {
    const size_t row = (size_t)g->width * 4, pitch = (size_t)W * 4, bytes = row * g->height;
    uint8_t *at0 = rgba + (size_t)g->y * pitch + (size_t)g->x * 4;
    cudaPointerAttributes at;
    int pinned = cudaPointerGetAttributes(&at, rgba) == cudaSuccess && at.type == cudaMemoryTypeHost;
    cudaGetLastError();
    if (pinned) {
        GTRY(cudaMemcpy2DAsync(at0, pitch, G->img, row, row, g->height, cudaMemcpyDeviceToHost, G->st));
        GTRY(cudaStreamSynchronize(G->st));
        return RVR_OK;
    }
    if (G->himg_cap < bytes) {
        if (G->himg) cudaFreeHost(G->himg);
        G->himg = NULL;
        G->himg_cap = 0;
        GTRY(cudaHostAlloc((void **)&G->himg, bytes, cudaHostAllocPortable));
        G->himg_cap = bytes;
    }
    GTRY(cudaMemcpyAsync(G->himg, G->img, bytes, cudaMemcpyDeviceToHost, G->st));
    GTRY(cudaStreamSynchronize(G->st));
    int nt = rvr__nthreads(r);
    rvr__memcpy_rows_par(at0, pitch, G->himg, row, row, g->height, nt > 8 ? 8 : nt);
    return RVR_OK;
}

static int upload_points(rvr_renderer *r, rvr_gpu *G, const rvr_pointpass *pp, int ntiles, Frame &F) {
    if (!pp->start) return RVR_OK;
    const size_t n = r->npoints;
    if (!G->p_ok || G->pver != r->points_version) {
        if (G->pxyz) cudaFree(G->pxyz);
        G->pxyz = NULL;
        G->p_ok = 0;
        GTRY(cudaMalloc(&G->pxyz, n * 3 * sizeof(float)));
        GTRY(cudaMemcpyAsync(G->pxyz, r->pxyz, n * 3 * sizeof(float), cudaMemcpyHostToDevice, G->st));
        G->p_ok = 1;
        G->pver = r->points_version;
    }
    const size_t total = pp->start[ntiles];
    int rc;
    if ((rc = gensure((void **)&G->pstart, &G->cap_start, (ntiles + 1) * sizeof(uint32_t)))) return rc;
    if ((rc = gensure((void **)&G->pidx, &G->cap_idx, (total ? total : 1) * sizeof(uint32_t)))) return rc;
    if ((rc = gensure((void **)&G->prad, &G->cap_n, n * sizeof(float)))) return rc;
    if ((rc = gensure((void **)&G->pcol, &G->cap_col, n * 3 * sizeof(float)))) return rc;
    GTRY(cudaMemcpyAsync(G->pstart, pp->start, (ntiles + 1) * sizeof(uint32_t), cudaMemcpyHostToDevice, G->st));
    if (total) GTRY(cudaMemcpyAsync(G->pidx, pp->idx, total * sizeof(uint32_t), cudaMemcpyHostToDevice, G->st));
    GTRY(cudaMemcpyAsync(G->prad, pp->rad, n * sizeof(float), cudaMemcpyHostToDevice, G->st));
    GTRY(cudaMemcpyAsync(G->pcol, pp->col, n * 3 * sizeof(float), cudaMemcpyHostToDevice, G->st));
    F.pstart = G->pstart;
    F.pidx = G->pidx;
    F.prad = G->prad;
    F.pcol = G->pcol;
    F.pxyz = G->pxyz;
    return RVR_OK;
}

extern "C" int rvr__gpu_render(rvr_renderer *r, const rvr_cam *cam, const rvr_render_settings *s, uint32_t W,
                               uint32_t H, const rvr_region *g, uint8_t *rgba, rvr_rows_fn fn, void *user,
                               rvr_render_stats *stats, double t_start) {
    rvr_gpu *G = GPU(r);
    GTRY(cudaSetDevice(G->dev));
    Frame F;
    memset(&F, 0, sizeof F);
    F.cam = *cam;
    F.mode = s->mode;
    F.flags = (int)s->flags;
    F.shading = (int)s->shading;
    if (F.mode == RVR_MODE_ISO && !F.shading) F.shading = RVR_SHADE_LOCAL;
    if (F.mode != RVR_MODE_COMPOSITE && F.mode != RVR_MODE_ISO) F.shading = 0;
    F.dt = s->step > 0 ? s->step : 1.0f;
    F.ert = (s->flags & RVR_F_NO_ERT) ? 2.0f : (s->ert_alpha > 0 ? s->ert_alpha : 0.99f);
    F.has_vol = r->has_volume && G->has && !(s->flags & RVR_F_HIDE_VOLUME);
    F.lod = s->lod > 1 ? (int)s->lod : 1;
    F.W = (int)W;
    F.H = (int)H;
    F.tw = ((int)W + F.lod - 1) / F.lod;
    F.th = ((int)H + F.lod - 1) / F.lod;
    F.ambient = s->ambient;
    F.diffuse = s->diffuse;
    F.specular = s->specular;
    F.shininess = s->shininess;
    for (int k = 0; k < 4; k++) F.bg[k] = s->background[k];
    F.num_planes = (int)s->num_planes;
    memcpy(F.planes, s->planes, sizeof F.planes);
    F.headlight = !(s->light_dir[0] != 0 || s->light_dir[1] != 0 || s->light_dir[2] != 0);
    if (!F.headlight) {
        memcpy(F.Lw, s->light_dir, sizeof F.Lw);
        v3norm(F.Lw);
    } else {
        for (int k = 0; k < 3; k++) F.Lw[k] = -cam->fwd[k];
    }
    F.rows_up = (s->flags & RVR_F_ROWS_UP) != 0;
    if (r->occ && r->occ_w == W && r->occ_h == H && (F.mode == RVR_MODE_COMPOSITE || F.mode == RVR_MODE_ISO) && F.ert < 1) {
        F.occ = (const uchar4 *)r->occ_dev; /* taken (and checked) when it was set */
        F.occ_min = rvr__occ_min(F.ert);
        F.qx0 = (int)r->occ_at.x, F.qy0 = (int)r->occ_at.y;
        F.qx1 = F.qx0 + (int)r->occ_at.width, F.qy1 = F.qy0 + (int)r->occ_at.height;
    }
    double pre_ms = 0;
    int rc;
    if (F.has_vol) {
        const gvol &v = G->v;
        F.vt = (s->flags & RVR_F_NEAREST) ? v.pt : v.lin;
        F.A = v.A;
        F.B = v.B;
        for (int k = 0; k < 3; k++) F.inv_s[k] = 1.0f / r->spacing[k];
        F.hi[0] = r->nx - 0.5f;
        F.hi[1] = r->ny - 0.5f;
        F.hi[2] = r->nz - 0.5f;
        if (s->flags & RVR_F_CLIP_BOX) {
            F.clip_box = 1;
            for (int k = 0; k < 3; k++) {
                F.clo[k] = s->clip_min[k] * F.inv_s[k] - 0.5f;
                F.chi[k] = s->clip_max[k] * F.inv_s[k] - 0.5f;
            }
        }
        F.bx = v.bx;
        F.byx = v.bx * v.by;
        F.bmin = v.bmin;
        F.bmax = v.bmax;
        F.lab = rvr__gpu_labels_frame(r);
        if ((rc = ensure_lut(r, G, F.mode == RVR_MODE_COMPOSITE, F.dt))) return rc;
        F.lut = G->lut;
        F.iso16 = s->iso_value * 65535.0f;
        if (F.mode == RVR_MODE_ISO) {
            const float *c = G->hlut[(int)F.iso16 >> 4];
            for (int k = 0; k < 3; k++) F.iso_rgb[k] = c[k];
        }
        const int skip = !(s->flags & RVR_F_NO_SKIP);
        if (skip && (F.mode == RVR_MODE_COMPOSITE || F.mode == RVR_MODE_ISO)) {
            if ((rc = ensure_empty(r, G, F.mode, F.dt, F.iso16))) return rc;
            F.empty = G->empty;
        }
        F.skip_proj = skip && (F.mode == RVR_MODE_MIP || F.mode == RVR_MODE_MINIP);
        double p0 = rvr__now_ms();
        if (F.shading & RVR_SHADE_SHADOW) {
            if ((rc = rvr__gpu_light_ensure(r, F.Lw))) return rc;
            F.light = G->light_tex;
            F.light_inv = 1.0f / (float)G->light_f;
            for (int k = 0; k < 3; k++) F.lperm[k] = G->light_perm[k];
            float li[3] = {F.Lw[0] * F.inv_s[0], F.Lw[1] * F.inv_s[1], F.Lw[2] * F.inv_s[2]};
            v3norm(li);
            for (int k = 0; k < 3; k++) F.li_off[k] = li[k] * (float)G->light_f;
        }
        if (F.shading & RVR_SHADE_AO) {
            if ((rc = rvr__gpu_ao_ensure(r, s->ao_radius))) return rc;
            F.ao = G->ao_tex;
            F.ao_inv = 1.0f / (float)G->ao_f;
        }
        pre_ms = rvr__now_ms() - p0;
    }
    rvr_pointpass pp;
    if ((rc = rvr__points_prepare(r, s, cam, F.lod, F.tw, F.th, &pp))) return rc;
    const int ntx = (F.tw + 15) / 16, nty = (F.th + 15) / 16;
    /* the region's ray cells and the tiles (blocks) that hold them */
    F.rx0 = (int)g->x, F.ry0 = (int)g->y, F.rx1 = (int)(g->x + g->width), F.ry1 = (int)(g->y + g->height);
    const int gx0 = F.rx0 / F.lod, gy0 = F.ry0 / F.lod, gx1 = (F.rx1 + F.lod - 1) / F.lod, gy1 = (F.ry1 + F.lod - 1) / F.lod;
    F.tx0 = gx0 / 16, F.ty0 = gy0 / 16, F.ntx = ntx;
    const int rtx = (gx1 - 1) / 16 + 1 - F.tx0, rty = (gy1 - 1) / 16 + 1 - F.ty0;
    const int brows = block_rows(), parts = 16 / brows; /* blocks per tile */
    const size_t bytes = (size_t)g->width * g->height * 4;
    size_t cap = G->img_cap;
    uint8_t *const direct = mapped_on_device(rgba);
    if ((rc = upload_points(r, G, &pp, ntx * nty, F))) goto out;
    if (direct) { /* the blocks write the caller's image: nothing to copy afterwards */
        F.out = (uchar4 *)direct;
        F.ox0 = 0, F.oy0 = 0, F.opitch = (int)W;
    } else {
        if ((rc = gensure((void **)&G->img, &cap, bytes))) goto out;
        G->img_cap = cap;
        F.out = G->img;
        F.ox0 = F.rx0, F.oy0 = F.ry0, F.opitch = F.rx1 - F.rx0;
    }
    if (fn && direct) {
        const size_t nflags = (size_t)rtx * rty * parts;
        if (G->tile_done_cap < nflags) {
            if (G->tile_done_h) cudaFreeHost(G->tile_done_h);
            G->tile_done_h = NULL, G->tile_done_cap = 0;
            if ((rc = gerr(cudaHostAlloc((void **)&G->tile_done_h, nflags * sizeof(unsigned), cudaHostAllocPortable | cudaHostAllocMapped)))) goto out;
            memset(G->tile_done_h, 0, nflags * sizeof(unsigned));
            G->tile_done_cap = nflags;
            G->tile_seq = 0;
        }
        if (++G->tile_seq == 0) { /* wrapped: old flags could read as this frame's */
            memset(G->tile_done_h, 0, G->tile_done_cap * sizeof(unsigned));
            G->tile_seq = 1;
        }
        if ((rc = gerr(cudaHostGetDevicePointer((void **)&F.tile_done, G->tile_done_h, 0)))) goto out;
        F.seq = G->tile_seq;
    }
    F.samples = G->counter;
    if ((rc = gerr(cudaMemsetAsync(G->counter, 0, sizeof(unsigned long long), G->st)))) goto out;
    /* costliest tiles first; where that cannot be set up (no memory), top down */
    if (!F.rows_up && rvr__gpu_order_begin(G, W, H, F.lod, F.tx0, F.ty0, rtx, rty, &F.tile_order, &F.tile_cost))
        F.tile_order = NULL, F.tile_cost = NULL;
    {
        dim3 grid((unsigned)rtx, (unsigned)(rty * parts));
        const int sh = F.shading != 0;
        if (F.mode == RVR_MODE_COMPOSITE) {
            if (sh) launch<M_COMP, true>(F, grid, brows, G->st);
            else launch<M_COMP, false>(F, grid, brows, G->st);
        } else if (F.mode == RVR_MODE_ISO) {
            launch<M_ISO, true>(F, grid, brows, G->st);
        } else {
            launch<M_PROJ, false>(F, grid, brows, G->st);
        }
    }
    if ((rc = gerr(cudaGetLastError()))) goto out;
    if (F.tile_cost && (rc = rvr__gpu_order_end(G, F.ntx, F.tx0, F.ty0, rtx, rty))) goto out;
    if (F.tile_done && (rc = watch_rows(G, F, rtx * parts, rty, fn, user))) goto out;
    {
        unsigned long long ns = 0;
        if ((rc = gerr(cudaMemcpyAsync(&ns, G->counter, sizeof ns, cudaMemcpyDeviceToHost, G->st)))) goto out;
        if (direct) {
            if ((rc = gerr(cudaStreamSynchronize(G->st)))) goto out;
        } else if ((rc = image_out(r, G, rgba, W, g))) goto out; /* synchronizes the stream */
        if (fn && !F.tile_done) fn(user, g->y, g->y + g->height);
        if (stats) {
            rvr_render_stats st;
            memset(&st, 0, sizeof st);
            st.samples = ns;
            st.rays = (uint64_t)(gx1 - gx0) * (gy1 - gy0);
            st.precompute_ms = pre_ms;
            st.traced_width = (uint32_t)F.tw;
            st.traced_height = (uint32_t)F.th;
            st.points_drawn = pp.drawn;
            st.volume_level = 1;
            st.total_ms = rvr__now_ms() - t_start;
            *stats = st;
        }
    }
    rc = RVR_OK;
out:
    cudaStreamSynchronize(G->st); /* copies may still read the host arrays freed below */
    rvr__points_free(&pp);
    return rc;
}

/* ---- slices ---- */

struct SliceArgs {
    rvr_slice sl;
    cudaTextureObject_t vt;
    float A, B;
    float inv_s[3], lim[3];
    int gray, clip, pm;
    float cmin[3], cmax[3];
    int num_planes;
    float planes[RVR_MAX_CLIP_PLANES][4];
    float bg[4];
    int W, H;
    const float4 *lut;
    GLabels lab;          /* data NULL: no labels */
    float du[3], dv[3];   /* one pixel along u and v, index space (label outlines) */
    int outline;
    uchar4 *out;
};

__global__ void k_slice(const __grid_constant__ SliceArgs S) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x, j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i >= S.W || j >= S.H) return;
    float a = ((float)i + 0.5f) / (float)S.W - 0.5f, b = ((float)j + 0.5f) / (float)S.H - 0.5f;
    float p[3], q[3];
    int inside = 1;
    for (int k = 0; k < 3; k++) {
        /* unfused, as the CPU computes them: the same positions pick the same nearest voxel */
        p[k] = __fadd_rn(__fadd_rn(S.sl.origin[k], __fmul_rn(a, S.sl.u[k])), __fmul_rn(b, S.sl.v[k]));
        q[k] = __fsub_rn(__fmul_rn(p[k], S.inv_s[k]), 0.5f);
        if (!(q[k] >= -0.5f && q[k] <= S.lim[k])) inside = 0;
        if (S.clip && !(p[k] >= S.cmin[k] && p[k] <= S.cmax[k])) inside = 0;
    }
    for (int pl = 0; pl < S.num_planes && inside; pl++) {
        const float *n = S.planes[pl];
        if (n[0] * p[0] + n[1] * p[1] + n[2] * p[2] + n[3] < 0) inside = 0;
    }
    float acc[4] = {0, 0, 0, 0};
    if (inside) {
        float v = fmaf(tex3D<float>(S.vt, q[0] + 0.5f, q[1] + 0.5f, q[2] + 0.5f), S.A, S.B);
        if (S.gray) {
            acc[0] = acc[1] = acc[2] = v / 65535.0f;
            acc[3] = 1;
        } else {
            int li = (int)v >> 4;
            li = li < 0 ? 0 : (li > 4095 ? 4095 : li);
            float4 c = __ldg(S.lut + li);
            acc[0] = c.x * c.w;
            acc[1] = c.y * c.w;
            acc[2] = c.z * c.w;
            acc[3] = c.w;
        }
        if (S.lab.data) glab_slice_px(S.lab, q, S.du, S.dv, S.outline, acc);
    }
    float w = 1 - acc[3], oa = acc[3] + w * S.bg[3], o[3];
    for (int k = 0; k < 3; k++) o[k] = acc[k] + w * S.bg[k] * S.bg[3];
    if (!S.pm)
        for (int k = 0; k < 3; k++) o[k] = oa > 0 ? o[k] / oa : 0;
    S.out[(size_t)j * S.W + i] = make_uchar4(to8(o[0]), to8(o[1]), to8(o[2]), to8(oa));
}

extern "C" int rvr__gpu_slice(rvr_renderer *r, const rvr_slice *sl, const rvr_render_settings *s, uint32_t W,
                              uint32_t H, uint8_t *rgba, rvr_render_stats *stats, double t_start) {
    rvr_gpu *G = GPU(r);
    GTRY(cudaSetDevice(G->dev));
    if (!G->has) return RVR_ERR_NO_VOLUME;
    int rc;
    if ((rc = ensure_lut(r, G, 0, 1.0f))) return rc;
    SliceArgs S;
    memset(&S, 0, sizeof S);
    S.sl = *sl;
    S.vt = (s->flags & RVR_F_NEAREST) ? G->v.pt : G->v.lin;
    S.A = G->v.A;
    S.B = G->v.B;
    for (int k = 0; k < 3; k++) S.inv_s[k] = 1.0f / r->spacing[k];
    S.lim[0] = r->nx - 0.5f;
    S.lim[1] = r->ny - 0.5f;
    S.lim[2] = r->nz - 0.5f;
    S.gray = (s->flags & RVR_F_GRAY) != 0;
    S.clip = (s->flags & RVR_F_CLIP_BOX) != 0;
    S.pm = (s->flags & RVR_F_PREMULTIPLIED) != 0;
    for (int k = 0; k < 3; k++) {
        S.cmin[k] = s->clip_min[k];
        S.cmax[k] = s->clip_max[k];
    }
    S.num_planes = (int)s->num_planes;
    memcpy(S.planes, s->planes, sizeof S.planes);
    for (int k = 0; k < 4; k++) S.bg[k] = s->background[k];
    S.W = (int)W;
    S.H = (int)H;
    S.lut = G->lut;
    S.lab = rvr__gpu_labels_frame(r);
    for (int k = 0; k < 3; k++) {
        S.du[k] = sl->u[k] / (float)W * S.inv_s[k]; /* as slice.c computes them */
        S.dv[k] = sl->v[k] / (float)H * S.inv_s[k];
    }
    S.outline = !(s->flags & RVR_F_LABEL_FILL);
    const size_t bytes = (size_t)W * H * 4;
    size_t cap = G->img_cap;
    if ((rc = gensure((void **)&G->img, &cap, bytes))) return rc;
    G->img_cap = cap;
    S.out = G->img;
    k_slice<<<dim3((W + 15) / 16, (H + 15) / 16), dim3(16, 16), 0, G->st>>>(S);
    GTRY(cudaGetLastError());
    const rvr_region all = {0, 0, W, H};
    if ((rc = image_out(r, G, rgba, W, &all))) return rc;
    if (stats) {
        rvr_render_stats st;
        memset(&st, 0, sizeof st);
        st.samples = (uint64_t)W * H;
        st.rays = (uint64_t)W * H;
        st.traced_width = W;
        st.traced_height = H;
        st.volume_level = 1;
        st.total_ms = rvr__now_ms() - t_start;
        *stats = st;
    }
    return RVR_OK;
}
