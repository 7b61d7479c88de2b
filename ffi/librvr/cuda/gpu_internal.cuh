/* gpu_internal.cuh - device state of the CUDA backend, shared by the .cu files (host C++ + kernels). */
#ifndef RVR_GPU_INTERNAL_CUH
#define RVR_GPU_INTERNAL_CUH

/* system headers first: internal.h is C and is included with C linkage below */
#include <cuda_runtime.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

extern "C" {
#include "../cpu/gpu.h"
#include "../cpu/points.h"
}

/* v16 (the CPU backend's uint16 scale) of a texture read t in [0, 1]: t * A + B for samples,
 * (int)(t * A + Bv) for exact voxel values (the CPU's rounding). */
struct gvol {
    cudaArray_t arr;
    cudaTextureObject_t lin, pt; /* trilinear / nearest, unnormalized coordinates, clamped */
    int u8;                      /* texture holds the original u8 values (window covers the data) */
    float A, B, Bv;
    int nx, ny, nz, bx, by, bz;
    float *bmin, *bmax;          /* per 16^3 brick, v16 scale, widened by 0.6 */
};

struct rvr_gpu {
    int dev;
    cudaStream_t st;
    /* pending upload */
    void *raw;
    uint64_t raw_bytes;
    int raw_src_pinned; /* the bytes being uploaded are page-locked: DMA straight from them */
    uint64_t stage_n;   /* staging buffers used so far in this upload (alternating) */
    /* Early u8 (gpu_volume.cu): u8 C-order data whose window keeps it u8 goes into its 3D array,
     * and its min/max are taken, on a second stream while later bytes are still being copied:
     * the copy into the array is window-independent, so nothing waits for the last byte. */
    int early, early_made; /* on for this upload; its array is made */
    rvr_volume_desc early_desc;
    gvol pv;            /* the pending volume's array and brick tables (raw u8 min/max) */
    cudaSurfaceObject_t psurf;
    uint64_t early_upto; /* bytes whose min/max are taken */
    int early_z;        /* slices copied into pv.arr */
    int early_bz;       /* brick layers whose min/max are taken */
    cudaStream_t st2;
    cudaEvent_t dma_ev;
    unsigned *mm;       /* device: min, max of the u8 values (atomics) */
    /* min/max/NaN scratch of upload_end, kept from upload to upload (no alloc/free per volume) */
    double *sbuf, *hsbuf; /* device, page-locked host */
    /* current volume */
    int has;
    gvol v;
    /* staging for pageable uploads */
    void *stage[2];
    cudaEvent_t ev[2];
    /* per-frame caches */
    float4 *lut;
    int lut_ok, lut_kind;
    uint64_t lut_tf;
    float lut_step;
    float hlut[4096][4];
    uint8_t *empty;
    size_t empty_n;
    int empty_ok, empty_mode;
    uint64_t empty_vol, empty_tf;
    float empty_step, empty_iso;
    int *cnt; /* 4097 prefix counts of visible LUT entries */
    uchar4 *img;
    size_t img_cap;
    uint8_t *himg;
    size_t himg_cap;
    unsigned long long *counter;
    /* rvr_render_region_rows: the blocks' done flags (page-locked, mapped), this frame's value */
    unsigned *tile_done_h;
    size_t tile_done_cap;
    unsigned tile_seq;
    /* the tiles' order (gpu_order.cu): per image tile, the last frame's samples (device
     * counters, page-locked copy; ~0 unknown) for frames of order_W x order_H at order_lod; the
     * order (region tiles, costliest first) */
    unsigned long long *tile_cost_d, *tile_cost_h;
    int *tile_order_d, *tile_order_h;
    void *order_scratch; /* sorting scratch (malloc) */
    size_t order_cap;
    uint32_t order_W, order_H;
    int order_lod;
    /* S2 / S3 */
    cudaArray_t light_arr;
    cudaTextureObject_t light_tex;
    int light_ok, light_f, light_perm[3];
    float light_key[3];
    uint64_t light_vol, light_tf;
    cudaArray_t ao_arr;
    cudaTextureObject_t ao_tex;
    int ao_ok, ao_f;
    float ao_key;
    uint64_t ao_vol, ao_tf;
    /* segmentation labels (gpu_labels.cu): the bytes in the volume's memory order, the class
     * table (256 straight RGBA, alpha 0 = not drawn) */
    uint8_t *lab;
    float4 *lab_rgba;
    /* points */
    float *pxyz;
    uint64_t pver;
    int p_ok;
    uint32_t *pstart, *pidx;
    float *prad, *pcol;
    size_t cap_start, cap_idx, cap_n, cap_col;
};

static inline rvr_gpu *GPU(const rvr_renderer *r) { return (rvr_gpu *)r->gpu; }

/* CUDA error -> rvr error (clears the runtime's last error). */
static inline int gerr(cudaError_t e) {
    if (e == cudaSuccess) return RVR_OK;
    cudaGetLastError();
    return e == cudaErrorMemoryAllocation ? RVR_ERR_NOMEM : RVR_ERR_DEVICE;
}
#define GTRY(expr)                               \
    do {                                         \
        int rc_ = gerr(expr);                    \
        if (rc_) return rc_;                     \
    } while (0)

/* (re)allocate a device buffer to at least n bytes */
static inline int gensure(void **p, size_t *cap, size_t n) {
    if (*p && *cap >= n) return RVR_OK;
    if (*p) cudaFree(*p);
    *p = NULL;
    *cap = 0;
    GTRY(cudaMalloc(p, n ? n : 1));
    *cap = n;
    return RVR_OK;
}

/* Texture over a 3D array: linear or point filter, normalized-float reads, clamped edges,
 * unnormalized coordinates (texel centres at i + 0.5). */
static inline int gtex(cudaArray_t a, int linear, cudaTextureObject_t *out) {
    cudaResourceDesc rd;
    memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = a;
    cudaTextureDesc td;
    memset(&td, 0, sizeof td);
    for (int k = 0; k < 3; k++) td.addressMode[k] = cudaAddressModeClamp;
    td.filterMode = linear ? cudaFilterModeLinear : cudaFilterModePoint;
    td.readMode = cudaReadModeNormalizedFloat;
    td.normalizedCoords = 0;
    return gerr(cudaCreateTextureObject(out, &rd, &td, NULL));
}

/* float grid (linear, dimension 0 fastest) -> 3D float array + linear texture */
int rvr__gpu_fgrid_texture(const float *d, int n0, int n1, int n2, cudaStream_t st, cudaArray_t *arr,
                           cudaTextureObject_t *tex);
void rvr__gpu_free_lighting(rvr_gpu *G);
int rvr__gpu_light_ensure(rvr_renderer *r, const float dir_world[3]);
int rvr__gpu_ao_ensure(rvr_renderer *r, float radius_vox);

/* The tiles of a frame's region (rtx x rty tiles from tile (tx0, ty0) of a W x H image at lod),
 * costliest first (gpu_order.cu): *order[q] = the q-th tile to render, as j * rtx + i in the
 * region, *cost = per image tile (ntx a row), the samples the kernel adds up (both device
 * memory; NULL, NULL: top down, nothing counted). order_end queues the counts' copy back, read
 * by the next frame once the stream has been synchronized. */
int rvr__gpu_order_begin(rvr_gpu *G, uint32_t W, uint32_t H, int lod, int tx0, int ty0, int rtx, int rty, const int **order,
                         unsigned long long **cost);
int rvr__gpu_order_end(rvr_gpu *G, int ntx, int tx0, int ty0, int rtx, int rty); /* ntx: tiles in an image row */
void rvr__gpu_order_free(rvr_gpu *G);

/* ---- segmentation labels: the CPU backend's labels.h on the device ----
 * Same nearest-voxel lookup, same tint arithmetic; the products and sums are written with the
 * round-to-nearest intrinsics so that nvcc does not fuse them into FMAs: a tinted colour is then
 * the CPU's bit for bit (given the same sample position and TF entry). */
struct GLabels {
    const uint8_t *data; /* NULL: no labels drawn */
    const float4 *rgba;
    int nx, ny, nz;
    long long sx, sy, sz; /* element strides along x, y, z */
};

/* Host: the labels to draw with the current volume (labels.c's rvr__labels_for), or none. */
GLabels rvr__gpu_labels_frame(const rvr_renderer *r);

__device__ __forceinline__ int glab_at(const GLabels &L, float x, float y, float z) {
    int ix = min(max((int)(x + 0.5f), 0), L.nx - 1), iy = min(max((int)(y + 0.5f), 0), L.ny - 1),
        iz = min(max((int)(z + 0.5f), 0), L.nz - 1);
    return __ldg(L.data + ix * L.sx + iy * L.sy + iz * L.sz);
}

/* Composite: LUT entry e (premultiplied rgb, alpha) tinted by the class at (x, y, z):
 * rgb' = (1 - w) rgb + w class_rgb alpha (labels_tint). */
__device__ __forceinline__ float4 glab_tint(const GLabels &L, float x, float y, float z, float4 e) {
    const float4 c = __ldg(L.rgba + glab_at(L, x, y, z));
    if (!(c.w > 0.0f)) return e;
    const float u = __fsub_rn(1.0f, c.w);
    e.x = __fadd_rn(__fmul_rn(u, e.x), __fmul_rn(__fmul_rn(c.w, c.x), e.w));
    e.y = __fadd_rn(__fmul_rn(u, e.y), __fmul_rn(__fmul_rn(c.w, c.y), e.w));
    e.z = __fadd_rn(__fmul_rn(u, e.z), __fmul_rn(__fmul_rn(c.w, c.z), e.w));
    return e;
}

/* ISO: the surface colour moved toward the class colour by its alpha (raycast.c trace_iso). */
__device__ __forceinline__ void glab_iso(const GLabels &L, float x, float y, float z, float rgb[3]) {
    const float4 c = __ldg(L.rgba + glab_at(L, x, y, z));
    if (!(c.w > 0.0f)) return;
    const float cc[3] = {c.x, c.y, c.z};
    for (int k = 0; k < 3; k++) rgb[k] = __fadd_rn(rgb[k], __fmul_rn(c.w, __fsub_rn(cc[k], rgb[k])));
}

/* Slices (rvr__labels_slice_px): outline = the class colour, opaque, where a neighbour pixel
 * (q +- du, q +- dv) has another class or lies outside; else filled: tinted by the class alpha. */
__device__ __forceinline__ void glab_slice_px(const GLabels &L, const float q[3], const float du[3], const float dv[3],
                                              int outline, float acc[4]) {
    const int k = glab_at(L, q[0], q[1], q[2]);
    const float4 c = __ldg(L.rgba + k);
    if (!(c.w > 0.0f)) return;
    const float cc[3] = {c.x, c.y, c.z};
    if (outline) {
        const float lim[3] = {L.nx - 0.5f, L.ny - 0.5f, L.nz - 0.5f};
        int edge = 0;
        for (int n = 0; n < 4 && !edge; n++) {
            const float *d = n < 2 ? du : dv;
            float p[3];
            int in = 1;
            for (int a = 0; a < 3; a++) {
                p[a] = (n & 1) ? __fsub_rn(q[a], d[a]) : __fadd_rn(q[a], d[a]);
                if (!(p[a] >= -0.5f && p[a] <= lim[a])) in = 0;
            }
            if (!in || glab_at(L, p[0], p[1], p[2]) != k) edge = 1;
        }
        if (!edge) return;
        for (int a = 0; a < 3; a++) acc[a] = cc[a];
        acc[3] = 1;
        return;
    }
    const float w = c.w, u = __fsub_rn(1.0f, w), m = acc[3] > 0 ? acc[3] : 1.0f;
    for (int a = 0; a < 3; a++) acc[a] = __fadd_rn(__fmul_rn(u, acc[a]), __fmul_rn(__fmul_rn(w, cc[a]), m));
    if (acc[3] <= 0) acc[3] = w;
}


#endif
