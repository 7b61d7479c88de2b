/* ref_cuda.cu - plain reference CUDA ray caster (see ref_cuda.h): what a straightforward CUDA
 * volume ray caster does (3D texture with hardware trilinear filtering, one thread per pixel,
 * one sample per voxel, early ray termination) and nothing more. */
#include "ref_cuda.h"

#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct refc {
    cudaArray_t arr;
    cudaTextureObject_t tex;
    int nx, ny, nz, f32;
    float lo, hi;
    float4 *lut;
    uchar4 *img;
    size_t img_cap;
    uint8_t *himg;
    unsigned long long *cnt;
    cudaEvent_t e0, e1;
};

int refc_create(refc **out) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) return -1;
    refc *c = (refc *)calloc(1, sizeof *c);
    if (!c) return -1;
    if (cudaMalloc(&c->lut, 4096 * sizeof(float4)) || cudaMalloc(&c->cnt, 8) || cudaEventCreate(&c->e0) ||
        cudaEventCreate(&c->e1)) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

static void free_vol(refc *c) {
    if (c->tex) cudaDestroyTextureObject(c->tex);
    if (c->arr) cudaFreeArray(c->arr);
    c->tex = 0;
    c->arr = NULL;
}

void refc_destroy(refc *c) {
    if (!c) return;
    free_vol(c);
    cudaFree(c->lut);
    cudaFree(c->cnt);
    if (c->img) cudaFree(c->img);
    if (c->himg) cudaFreeHost(c->himg);
    cudaEventDestroy(c->e0);
    cudaEventDestroy(c->e1);
    free(c);
}

int refc_set_volume(refc *c, const void *data, int dtype, int nx, int ny, int nz, float lo, float hi,
                    double *h2d_s) {
    free_vol(c);
    const size_t esz = dtype == 5 ? 4 : 1, bytes = (size_t)nx * ny * nz * esz;
    void *d = NULL;
    if (cudaMalloc(&d, bytes)) return -1;
    cudaDeviceSynchronize();
    cudaEventRecord(c->e0);
    cudaMemcpy(d, data, bytes, cudaMemcpyHostToDevice);
    cudaEventRecord(c->e1);
    cudaEventSynchronize(c->e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, c->e0, c->e1);
    if (h2d_s) *h2d_s = ms / 1e3;
    cudaChannelFormatDesc ch = dtype == 5 ? cudaCreateChannelDesc<float>() : cudaCreateChannelDesc<unsigned char>();
    cudaExtent ex = make_cudaExtent(nx, ny, nz);
    if (cudaMalloc3DArray(&c->arr, &ch, ex)) {
        cudaFree(d);
        return -1;
    }
    cudaMemcpy3DParms p;
    memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr(d, nx * esz, nx, ny);
    p.dstArray = c->arr;
    p.extent = ex;
    p.kind = cudaMemcpyDeviceToDevice;
    cudaError_t e = cudaMemcpy3D(&p);
    cudaFree(d);
    if (e) return -1;
    cudaResourceDesc rd;
    memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = c->arr;
    cudaTextureDesc td;
    memset(&td, 0, sizeof td);
    for (int k = 0; k < 3; k++) td.addressMode[k] = cudaAddressModeClamp;
    td.filterMode = cudaFilterModeLinear;
    td.readMode = dtype == 5 ? cudaReadModeElementType : cudaReadModeNormalizedFloat;
    if (cudaCreateTextureObject(&c->tex, &rd, &td, NULL)) return -1;
    c->nx = nx;
    c->ny = ny;
    c->nz = nz;
    c->f32 = dtype == 5;
    c->lo = lo;
    c->hi = hi;
    return 0;
}

int refc_set_lut(refc *c, const float *lut) {
    return cudaMemcpy(c->lut, lut, 4096 * sizeof(float4), cudaMemcpyHostToDevice) ? -1 : 0;
}

struct RArgs {
    cudaTextureObject_t tex;
    float A, B; /* v16 = texel * A + B */
    int f32;
    float hi[3];
    float eye[3], fwd[3], right[3], up[3], sx, sy;
    int W, H, shade;
    float dt, ert, k[4], bg[3];
    const float4 *lut;
    uchar4 *out;
    unsigned long long *cnt;
};

__device__ __forceinline__ float val(const RArgs &a, float x, float y, float z) {
    return fmaf(tex3D<float>(a.tex, x + 0.5f, y + 0.5f, z + 0.5f), a.A, a.B);
}

__global__ void k_ref(const __grid_constant__ RArgs a) {
    const int i = blockIdx.x * 16 + threadIdx.x, j = blockIdx.y * 16 + threadIdx.y;
    unsigned n = 0;
    if (i < a.W && j < a.H) {
        float u = (2.0f * (i + 0.5f) / a.W - 1.0f) * a.sx, v = (1.0f - 2.0f * (j + 0.5f) / a.H) * a.sy, d[3], o[3];
        for (int k = 0; k < 3; k++) d[k] = a.fwd[k] + u * a.right[k] + v * a.up[k];
        float l = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        for (int k = 0; k < 3; k++) {
            d[k] /= l;
            o[k] = a.eye[k] - 0.5f;
        }
        float t0 = 0, t1 = INFINITY;
        for (int k = 0; k < 3; k++) {
            float inv = 1.0f / d[k], ta = (-0.5f - o[k]) * inv, tb = (a.hi[k] - o[k]) * inv;
            t0 = fmaxf(t0, fminf(ta, tb));
            t1 = fminf(t1, fmaxf(ta, tb));
        }
        float r = 0, g = 0, b = 0, al = 0;
        for (int k = 0;; k++) {
            float t = t0 + (k + 0.5f) * a.dt;
            if (!(t < t1) || al >= a.ert) break;
            float x = o[0] + t * d[0], y = o[1] + t * d[1], z = o[2] + t * d[2];
            float s = val(a, x, y, z);
            n++;
            int li = (int)s >> 4;
            float4 e = __ldg(a.lut + (li < 0 ? 0 : (li > 4095 ? 4095 : li)));
            if (e.w <= 0.0f) continue;
            float w = 1.0f - al, sh = 1.0f, sp = 0.0f;
            if (a.shade) {
                float gx = (val(a, x + 1, y, z) - val(a, x - 1, y, z)), gy = (val(a, x, y + 1, z) - val(a, x, y - 1, z));
                float gz = (val(a, x, y, z + 1) - val(a, x, y, z - 1));
                sh = a.k[0] + a.k[1];
                if (gx * gx + gy * gy + gz * gz > 1.0f) {
                    float inv = rsqrtf(gx * gx + gy * gy + gz * gz);
                    float nd = fabsf(gx * d[0] + gy * d[1] + gz * d[2]) * inv;
                    sh = a.k[0] + a.k[1] * nd;
                    sp = a.k[2] * nd / (a.k[3] - a.k[3] * nd + nd);
                }
            }
            r += w * (e.x * sh + sp * e.w);
            g += w * (e.y * sh + sp * e.w);
            b += w * (e.z * sh + sp * e.w);
            al += w * e.w;
        }
        float w = 1 - al, c[3] = {r + w * a.bg[0], g + w * a.bg[1], b + w * a.bg[2]};
        unsigned char q[3];
        for (int k = 0; k < 3; k++) q[k] = !(c[k] > 0) ? 0 : (c[k] >= 1 ? 255 : (unsigned char)(c[k] * 255.0f + 0.5f));
        a.out[(size_t)j * a.W + i] = make_uchar4(q[0], q[1], q[2], 255);
    }
    if (a.cnt) atomicAdd(a.cnt, (unsigned long long)n);
}

static void norm3(float *v) {
    float l = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (int k = 0; k < 3; k++) v[k] /= l;
}

int refc_render(refc *c, const float eye[3], const float target[3], const float up[3], float fov_y_deg, int W,
                int H, float step, float ert, int shade, const float k[4], const float bg[3], uint8_t *rgba,
                double *kernel_ms, uint64_t *samples) {
    const size_t bytes = (size_t)W * H * 4;
    if (c->img_cap < bytes) {
        if (c->img) cudaFree(c->img);
        if (c->himg) cudaFreeHost(c->himg);
        if (cudaMalloc(&c->img, bytes) || cudaHostAlloc(&c->himg, bytes, 0)) return -1;
        c->img_cap = bytes;
    }
    RArgs a;
    memset(&a, 0, sizeof a);
    a.tex = c->tex;
    a.f32 = c->f32;
    if (c->f32) {
        a.A = 65535.0f / (c->hi - c->lo);
        a.B = -c->lo * a.A + 0.02f;
    } else {
        a.A = 65535.0f;
        a.B = 0.02f;
    }
    a.hi[0] = c->nx - 0.5f;
    a.hi[1] = c->ny - 0.5f;
    a.hi[2] = c->nz - 0.5f;
    float f[3] = {target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]}, u[3] = {up[0], up[1], up[2]}, rt[3];
    norm3(f);
    rt[0] = f[1] * u[2] - f[2] * u[1];
    rt[1] = f[2] * u[0] - f[0] * u[2];
    rt[2] = f[0] * u[1] - f[1] * u[0];
    norm3(rt);
    u[0] = rt[1] * f[2] - rt[2] * f[1];
    u[1] = rt[2] * f[0] - rt[0] * f[2];
    u[2] = rt[0] * f[1] - rt[1] * f[0];
    norm3(u);
    float t = tanf(0.5f * fov_y_deg * 3.14159265358979f / 180.0f);
    a.sx = t * W / (float)H;
    a.sy = t;
    for (int q = 0; q < 3; q++) {
        a.eye[q] = eye[q];
        a.fwd[q] = f[q];
        a.right[q] = rt[q];
        a.up[q] = u[q];
        a.bg[q] = bg[q];
    }
    a.W = W;
    a.H = H;
    a.shade = shade;
    a.dt = step;
    a.ert = ert;
    for (int q = 0; q < 4; q++) a.k[q] = k[q];
    a.lut = c->lut;
    a.out = c->img;
    a.cnt = samples ? c->cnt : NULL;
    if (samples) cudaMemset(c->cnt, 0, 8);
    cudaEventRecord(c->e0);
    k_ref<<<dim3((W + 15) / 16, (H + 15) / 16), dim3(16, 16)>>>(a);
    cudaEventRecord(c->e1);
    cudaMemcpy(c->himg, c->img, bytes, cudaMemcpyDeviceToHost);
    memcpy(rgba, c->himg, bytes);
    float ms = 0;
    cudaEventElapsedTime(&ms, c->e0, c->e1);
    if (kernel_ms) *kernel_ms = ms;
    if (samples) {
        unsigned long long h = 0;
        cudaMemcpy(&h, c->cnt, 8, cudaMemcpyDeviceToHost);
        *samples = h;
    }
    return cudaGetLastError() ? -1 : 0;
}

__device__ __forceinline__ unsigned hash3(unsigned x, unsigned y, unsigned z, unsigned s) {
    unsigned h = x * 73856093u ^ y * 19349663u ^ z * 83492791u ^ s * 2654435761u;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return h;
}

__global__ void k_gen(int N, int z0, int nzs, int f32, void *out) {
    const size_t n = (size_t)N * N * nzs;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(i % N), y = (int)(i / N % N), z = z0 + (int)(i / N / N);
        float dx = x - N / 2.f, dy = y - N / 2.f, v = 0;
        if (dx * dx + dy * dy < (0.42f * N) * (0.42f * N) && z > N * 0.03f && z < N * 0.97f) {
            v = 170;
            const int C = N / 8 > 4 ? N / 8 : 4; /* pore lattice cell */
            int cx = x / C, cy = y / C, cz = z / C;
            unsigned h = hash3(cx, cy, cz, 1);
            float px = (cx + 0.25f + 0.5f * (h & 255) / 255.f) * C, py = (cy + 0.25f + 0.5f * ((h >> 8) & 255) / 255.f) * C;
            float pz = (cz + 0.25f + 0.5f * ((h >> 16) & 255) / 255.f) * C, pr = C * (0.08f + 0.17f * (h >> 24) / 255.f);
            float ex = x - px, ey = y - py, ez = z - pz;
            if (ex * ex + ey * ey + ez * ez < pr * pr) v = 40;
        }
        v += (float)((int)(hash3(x, y, z, 7) & 15) - 8);
        v = v < 0 ? 0 : (v > 255 ? 255 : v);
        if (f32) ((float *)out)[i] = v * 0.01f + 3.0f;
        else ((unsigned char *)out)[i] = (unsigned char)v;
    }
}

int refc_generate(int N, int dtype, void *out) {
    const int f32 = dtype == 5;
    const size_t esz = f32 ? 4 : 1, plane = (size_t)N * N * esz;
    int nzs = (int)(((size_t)256 << 20) / plane);
    nzs = nzs < 1 ? 1 : (nzs > N ? N : nzs);
    void *d = NULL;
    if (cudaMalloc(&d, plane * nzs)) return -1;
    for (int z0 = 0; z0 < N; z0 += nzs) {
        int nz = N - z0 < nzs ? N - z0 : nzs;
        k_gen<<<4096, 256>>>(N, z0, nz, f32, d);
        if (cudaMemcpy((char *)out + plane * z0, d, plane * nz, cudaMemcpyDeviceToHost)) {
            cudaFree(d);
            return -1;
        }
    }
    cudaFree(d);
    return cudaGetLastError() ? -1 : 0;
}
