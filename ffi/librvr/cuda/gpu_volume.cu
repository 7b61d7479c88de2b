/* gpu_volume.cu - CUDA backend: device choice, renderer state, page-locked host memory, volume
 * upload (DMA from page-locked memory, else through two page-locked staging buffers), min/max
 * and NaN count, normalization into the 3D texture, bricks' min/max for skipping. */
#include "gpu_internal.cuh"

#include <float.h>

extern "C" const int rvr__gpu_built = 1;

static const size_t STAGE = (size_t)64 << 20; /* bytes per staging buffer */
/* Early u8: DMA pieces, so the copy into the array trails the DMA by one piece at most. */
static const size_t EARLY_PIECE = (size_t)16 << 20;

enum { STAT_BLOCKS = 1024, STAT_THREADS = 256 };
/* per block: min, max (double), NaN count (unsigned long long) */
static const size_t STATS_BYTES = STAT_BLOCKS * (2 * sizeof(double) + sizeof(unsigned long long));

extern "C" int rvr__gpu_create(rvr_renderer *r) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        cudaGetLastError();
        return RVR_ERR_UNSUPPORTED; /* no driver (libcuda.so.1 absent) or no device */
    }
    rvr_gpu *G = (rvr_gpu *)calloc(1, sizeof *G);
    if (!G) return RVR_ERR_NOMEM;
    int rc;
    G->dev = 0;
    if ((rc = gerr(cudaSetDevice(G->dev)))) goto fail;
    if ((rc = gerr(cudaStreamCreateWithFlags(&G->st, cudaStreamNonBlocking)))) goto fail;
    if ((rc = gerr(cudaMalloc(&G->counter, sizeof(unsigned long long))))) goto fail;
    if ((rc = gerr(cudaMalloc(&G->lut, 4096 * sizeof(float4))))) goto fail;
    if ((rc = gerr(cudaMalloc(&G->cnt, 4097 * sizeof(int))))) goto fail;
    if ((rc = gerr(cudaMalloc(&G->sbuf, STATS_BYTES)))) goto fail;
    if ((rc = gerr(cudaHostAlloc(&G->hsbuf, STATS_BYTES, cudaHostAllocPortable)))) goto fail;
    r->gpu = G;
    return RVR_OK;
fail:
    if (G->hsbuf) cudaFreeHost(G->hsbuf);
    if (G->sbuf) cudaFree(G->sbuf);
    if (G->cnt) cudaFree(G->cnt);
    if (G->lut) cudaFree(G->lut);
    if (G->counter) cudaFree(G->counter);
    if (G->st) cudaStreamDestroy(G->st);
    free(G);
    return rc == RVR_ERR_DEVICE ? RVR_ERR_UNSUPPORTED : rc;
}

static void free_volume(gvol *v) {
    if (v->lin) cudaDestroyTextureObject(v->lin);
    if (v->pt) cudaDestroyTextureObject(v->pt);
    if (v->arr) cudaFreeArray(v->arr);
    if (v->bmin) cudaFree(v->bmin);
    if (v->bmax) cudaFree(v->bmax);
    memset(v, 0, sizeof *v);
}

/* The early-u8 pending volume: its surface and, unless taken by the commit, its array. */
static void early_drop(rvr_gpu *G, int keep_volume) {
    if (G->st2) cudaStreamSynchronize(G->st2);
    if (G->psurf) cudaDestroySurfaceObject(G->psurf);
    G->psurf = 0;
    if (!keep_volume) free_volume(&G->pv);
    memset(&G->pv, 0, sizeof G->pv);
    G->early = 0;
}

extern "C" void rvr__gpu_discard(rvr_renderer *r) {
    rvr_gpu *G = GPU(r);
    if (!G) return;
    cudaSetDevice(G->dev);
    if (G->early) early_drop(G, 0);
    if (!G->raw) return;
    cudaFree(G->raw);
    G->raw = NULL;
    G->raw_bytes = 0;
}

extern "C" void rvr__gpu_destroy(rvr_renderer *r) {
    rvr_gpu *G = GPU(r);
    if (!G) return;
    cudaSetDevice(G->dev);
    cudaStreamSynchronize(G->st);
    rvr__gpu_discard(r);
    free_volume(&G->v);
    rvr__gpu_free_lighting(G);
    for (int b = 0; b < 2; b++) {
        if (G->stage[b]) cudaFreeHost(G->stage[b]);
        if (G->ev[b]) cudaEventDestroy(G->ev[b]);
    }
    if (G->dma_ev) cudaEventDestroy(G->dma_ev);
    if (G->st2) cudaStreamDestroy(G->st2);
    if (G->hsbuf) cudaFreeHost(G->hsbuf);
    void *dev[] = {G->lut, G->cnt, G->empty, G->img, G->counter, G->pxyz, G->pstart, G->pidx, G->prad, G->pcol,
                   G->lab, G->lab_rgba, G->sbuf, G->mm};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) cudaFree(dev[i]);
    if (G->himg) cudaFreeHost(G->himg);
    if (G->tile_done_h) cudaFreeHost(G->tile_done_h);
    rvr__gpu_order_free(G);
    cudaStreamDestroy(G->st);
    free(G);
    r->gpu = NULL;
}

extern "C" int rvr__gpu_host_alloc(uint64_t bytes, void **out) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        cudaGetLastError();
        return RVR_ERR_UNSUPPORTED;
    }
    void *p = NULL;
    /* mapped: kernels write images straight into it (gpu_render.cu) */
    cudaError_t e = cudaHostAlloc(&p, bytes, cudaHostAllocPortable | cudaHostAllocMapped);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return RVR_ERR_NOMEM;
    }
    *out = p;
    return RVR_OK;
}

extern "C" void rvr__gpu_host_free(void *p) { cudaFreeHost(p); }

extern "C" int rvr__gpu_host_register(void *p, uint64_t bytes) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
        cudaGetLastError();
        return RVR_ERR_UNSUPPORTED;
    }
    cudaError_t e = cudaHostRegister(p, bytes, cudaHostRegisterPortable | cudaHostRegisterMapped);
    if (e == cudaErrorHostMemoryAlreadyRegistered || e == cudaErrorInvalidValue) {
        cudaGetLastError();
        return RVR_ERR_INVALID;
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        return RVR_ERR_NOMEM;
    }
    return RVR_OK;
}

extern "C" void rvr__gpu_host_unregister(void *p) {
    if (cudaHostUnregister(p) != cudaSuccess) cudaGetLastError();
}

/* ---- min / max / NaN count of the original elements ---- */

/* 16-byte loads; integer types compare in their own type (no NaN), floats count NaN */
template <typename T>
__global__ void k_stats(const T *p, uint64_t n, double *omin, double *omax, unsigned long long *onan) {
    __shared__ double smn[STAT_THREADS], smx[STAT_THREADS];
    __shared__ unsigned long long snan[STAT_THREADS];
    constexpr bool FLT = (T)0.5 != (T)0;
    constexpr int PER = 16 / sizeof(T);
    T mn = 0, mx = 0;
    bool any = false;
    unsigned long long nans = 0;
    const uint64_t nvec = n / PER, stride = (uint64_t)gridDim.x * blockDim.x;
    const uint64_t tid = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    auto one = [&](T v) {
        if (FLT && v != v) {
            nans++;
            return;
        }
        if (!any) {
            mn = mx = v;
            any = true;
        }
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    };
    for (uint64_t i = tid; i < nvec; i += stride) {
        uint4 q = __ldg((const uint4 *)p + i);
        const T *e = (const T *)&q;
#pragma unroll
        for (int k = 0; k < PER; k++) one(e[k]);
    }
    for (uint64_t i = nvec * PER + tid; i < n; i += stride) one(p[i]);
    smn[threadIdx.x] = any ? (double)mn : INFINITY;
    smx[threadIdx.x] = any ? (double)mx : -INFINITY;
    snan[threadIdx.x] = nans;
    __syncthreads();
    for (int s = STAT_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) {
            smn[threadIdx.x] = fmin(smn[threadIdx.x], smn[threadIdx.x + s]);
            smx[threadIdx.x] = fmax(smx[threadIdx.x], smx[threadIdx.x + s]);
            snan[threadIdx.x] += snan[threadIdx.x + s];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        omin[blockIdx.x] = smn[0];
        omax[blockIdx.x] = smx[0];
        onan[blockIdx.x] = snan[0];
    }
}

template <typename T>
static void launch_stats(const void *p, uint64_t n, double *a, double *b, unsigned long long *c, cudaStream_t st) {
    k_stats<T><<<STAT_BLOCKS, STAT_THREADS, 0, st>>>((const T *)p, n, a, b, c);
}

/* ---- normalization into the 3D array ---- */

__device__ __forceinline__ uint16_t norm_d(double v, double lo, double scale) {
    if (v != v) return 0;
    double t = (v - lo) * scale + 0.5;
    if (t <= 0) return 0;
    if (t >= 65535.0) return 65535;
    return (uint16_t)t;
}

/* one thread per voxel (x fastest); element (z, y, x) of the C or F array, z from z0 */
template <typename T, bool U8OUT>
__global__ void k_normalize(const T *src, int nx, int ny, int nz, int z0, int order, double lo, double scale,
                            cudaSurfaceObject_t surf) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    const int z = z0 + (int)blockIdx.z;
    if (x >= nx || y >= ny) return;
    const size_t i = order == RVR_ORDER_C ? ((size_t)z * ny + y) * nx + x : (size_t)z + (size_t)nz * (y + (size_t)ny * x);
    const T v = src[i];
    if (U8OUT) surf3Dwrite<uint8_t>((uint8_t)v, surf, x, y, z);
    else surf3Dwrite<uint16_t>(norm_d((double)v, lo, scale), surf, x * 2, y, z);
}

/* slices [z0, z1) of the volume */
template <typename T, bool U8OUT>
static void launch_norm(const void *src, const gvol &v, int z0, int z1, int order, double lo, double scale,
                        cudaSurfaceObject_t s, cudaStream_t st) {
    if (z1 <= z0) return;
    dim3 blk(64, 4, 1), grd((v.nx + 63) / 64, (v.ny + 3) / 4, z1 - z0);
    k_normalize<T, U8OUT><<<grd, blk, 0, st>>>((const T *)src, v.nx, v.ny, v.nz, z0, order, lo, scale, s);
}

/* The array (u8 or u16 texels), the brick tables and a surface to write the array through. */
static int gvol_alloc(gvol *v, const rvr_volume_desc *d, int u8, cudaSurfaceObject_t *surf) {
    memset(v, 0, sizeof *v);
    *surf = 0;
    v->nx = (int)d->shape[2];
    v->ny = (int)d->shape[1];
    v->nz = (int)d->shape[0];
    v->bx = (v->nx + 15) / 16;
    v->by = (v->ny + 15) / 16;
    v->bz = (v->nz + 15) / 16;
    v->u8 = u8;
    const size_t nb = (size_t)v->bx * v->by * v->bz;
    cudaChannelFormatDesc ch = u8 ? cudaCreateChannelDesc<uint8_t>() : cudaCreateChannelDesc<uint16_t>();
    int rc = gerr(cudaMalloc3DArray(&v->arr, &ch, make_cudaExtent(v->nx, v->ny, v->nz), cudaArraySurfaceLoadStore));
    if (rc) v->arr = NULL;
    if (!rc) rc = gerr(cudaMalloc(&v->bmin, nb * sizeof(float)));
    if (!rc) rc = gerr(cudaMalloc(&v->bmax, nb * sizeof(float)));
    if (!rc) {
        cudaResourceDesc rd;
        memset(&rd, 0, sizeof rd);
        rd.resType = cudaResourceTypeArray;
        rd.res.array.array = v->arr;
        rc = gerr(cudaCreateSurfaceObject(surf, &rd));
    }
    if (rc) {
        *surf = 0;
        free_volume(v);
    }
    return rc;
}

/* ---- early u8: the array and min/max while the bytes arrive ---- */

/* min/max of u8 values into mm[0], mm[1] (atomics: one launch per DMA piece) */
__global__ void k_minmax_u8(const uint8_t *p, uint64_t n, unsigned *mm) {
    const uint64_t stride = (uint64_t)gridDim.x * blockDim.x;
    const uint64_t tid = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    uint64_t head = (16 - ((uintptr_t)p & 15)) & 15; /* bytes before the first 16-byte boundary */
    if (head > n) head = n;
    /* four byte lanes per word (__vminu4/__vmaxu4), folded at the end */
    unsigned mn4 = 0xffffffffu, mx4 = 0;
    for (uint64_t i = tid; i < head; i += stride) {
        mn4 = __vminu4(mn4, p[i] * 0x01010101u);
        mx4 = __vmaxu4(mx4, p[i] * 0x01010101u);
    }
    const uint4 *q = (const uint4 *)(p + head);
    const uint64_t nvec = (n - head) / 16;
    for (uint64_t i = tid; i < nvec; i += stride) {
        const uint4 w = __ldg(q + i);
        mn4 = __vminu4(mn4, __vminu4(__vminu4(w.x, w.y), __vminu4(w.z, w.w)));
        mx4 = __vmaxu4(mx4, __vmaxu4(__vmaxu4(w.x, w.y), __vmaxu4(w.z, w.w)));
    }
    for (uint64_t i = head + nvec * 16 + tid; i < n; i += stride) {
        mn4 = __vminu4(mn4, p[i] * 0x01010101u);
        mx4 = __vmaxu4(mx4, p[i] * 0x01010101u);
    }
    unsigned mn = min(min(mn4 & 255, (mn4 >> 8) & 255), min((mn4 >> 16) & 255, mn4 >> 24));
    unsigned mx = max(max(mx4 & 255, (mx4 >> 8) & 255), max((mx4 >> 16) & 255, mx4 >> 24));
    for (int o = 16; o > 0; o >>= 1) {
        mn = min(mn, __shfl_down_sync(0xffffffffu, mn, o));
        mx = max(mx, __shfl_down_sync(0xffffffffu, mx, o));
    }
    if ((threadIdx.x & 31) == 0) {
        atomicMin(mm, mn);
        atomicMax(mm + 1, mx);
    }
}

/* Raw u8 min/max of the texels a sample inside each 16^3 brick of layers [bz0, bz1) can touch
 * (the brick plus one voxel on the high side, as k_bricks); k_bricks_scale maps them once the
 * window is known. */
__global__ void k_bricks_u8(cudaSurfaceObject_t surf, int nx, int ny, int nz, int bx, int by, int bz0,
                            float *bmin, float *bmax) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int j = blockIdx.y, k = bz0 + (int)blockIdx.z;
    if (i >= bx) return;
    const int x0 = i * 16, x1 = min(x0 + 16, nx - 1), y0 = j * 16, y1 = min(y0 + 16, ny - 1);
    const int z0 = k * 16, z1 = min(z0 + 16, nz - 1);
    unsigned mn = 255, mx = 0;
    for (int z = z0; z <= z1; z++)
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                const unsigned t = surf3Dread<uint8_t>(surf, x, y, z);
                mn = min(mn, t);
                mx = max(mx, t);
            }
    const size_t b = ((size_t)k * by + j) * bx + i;
    bmin[b] = (float)mn;
    bmax[b] = (float)mx;
}

/* raw u8 brick min/max -> the v16 scale of k_bricks (texel t = u8 / 255 read normalized) */
__global__ void k_bricks_scale(float *bmin, float *bmax, size_t nb, float A, float B) {
    const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= nb) return;
    bmin[i] = fmaf(bmin[i] / 255.0f, A, B) - 0.6f;
    bmax[i] = fmaf(bmax[i] / 255.0f, A, B) + 0.6f;
}

/* u8, C order, and a window that keeps it u8 whatever the values (automatic, or covering 0..255):
 * gpu_commit will store these very bytes, so they can go into the array as they land. */
static int early_u8_possible(const rvr_volume_desc *d) {
    return d->dtype == RVR_DTYPE_U8 && d->order == RVR_ORDER_C &&
           (d->window_lo == d->window_hi || (d->window_lo <= 0 && d->window_hi >= 255));
}

/* The pending array is made after the first DMA was queued (it overlaps the copy), in early_after. */
static void early_begin(rvr_gpu *G, const rvr_volume_desc *d) {
    G->early = 1;
    G->early_made = 0;
    G->early_desc = *d;
    G->early_upto = 0;
    G->early_z = 0;
    G->early_bz = 0;
}

static int early_make(rvr_gpu *G) {
    if (!G->st2) GTRY(cudaStreamCreateWithFlags(&G->st2, cudaStreamNonBlocking));
    if (!G->dma_ev) GTRY(cudaEventCreateWithFlags(&G->dma_ev, cudaEventDisableTiming));
    if (!G->mm) GTRY(cudaMalloc(&G->mm, 2 * sizeof(unsigned)));
    const int rc = gvol_alloc(&G->pv, &G->early_desc, 1, &G->psurf);
    if (rc) return rc;
    G->early_made = 1;
    /* min starts at 0xffffffff (above any byte), max at 0 */
    GTRY(cudaMemsetAsync(G->mm, 0xff, sizeof(unsigned), G->st2));
    GTRY(cudaMemsetAsync(G->mm + 1, 0, sizeof(unsigned), G->st2));
    return RVR_OK;
}

/* After a DMA into raw up to byte `upto` (queued on st): on st2, once it is done, the min/max of
 * the new bytes, the copy of the slices now complete and the bricks whose slices all landed.
 * Without memory for the array it gives up quietly: the commit does the work as for any dtype. */
static int early_after(rvr_gpu *G, uint64_t upto) {
    if (upto <= G->early_upto) return RVR_OK;
    if (!G->early_made && early_make(G) != RVR_OK) {
        early_drop(G, 0);
        cudaGetLastError();
        return RVR_OK;
    }
    GTRY(cudaEventRecord(G->dma_ev, G->st));
    GTRY(cudaStreamWaitEvent(G->st2, G->dma_ev, 0));
    const gvol &v = G->pv;
    const uint64_t n = upto - G->early_upto;
    const int blocks = (int)(n / (STAT_THREADS * 64) + 1 < STAT_BLOCKS ? n / (STAT_THREADS * 64) + 1 : STAT_BLOCKS);
    k_minmax_u8<<<blocks, STAT_THREADS, 0, G->st2>>>((const uint8_t *)G->raw + G->early_upto, n, G->mm);
    G->early_upto = upto;
    const int z1 = (int)(upto / ((uint64_t)v.nx * v.ny));
    launch_norm<uint8_t, true>(G->raw, v, G->early_z, z1, RVR_ORDER_C, 0, 0, G->psurf, G->st2);
    G->early_z = z1 > G->early_z ? z1 : G->early_z;
    /* brick layer k reads slices up to min(16k + 16, nz - 1) */
    int bz1 = G->early_bz;
    while (bz1 < v.bz && G->early_z >= (16 * bz1 + 17 < v.nz ? 16 * bz1 + 17 : v.nz)) bz1++;
    if (bz1 > G->early_bz) {
        dim3 blk(32, 1, 1), grd((v.bx + 31) / 32, v.by, bz1 - G->early_bz);
        k_bricks_u8<<<grd, blk, 0, G->st2>>>(G->psurf, v.nx, v.ny, v.nz, v.bx, v.by, G->early_bz, v.bmin, v.bmax);
        G->early_bz = bz1;
    }
    return gerr(cudaGetLastError());
}

/* ---- upload: begin (device buffer), ranges (DMA), end (min/max/NaN) ---- */

extern "C" int rvr__gpu_upload_begin(rvr_renderer *r, const rvr_volume_desc *d, const void *data,
                                     uint64_t bytes) {
    rvr_gpu *G = GPU(r);
    GTRY(cudaSetDevice(G->dev));
    rvr__gpu_discard(r);
    int maxdim = 0;
    GTRY(cudaDeviceGetAttribute(&maxdim, cudaDevAttrMaxTexture3DWidth, G->dev));
    for (int k = 0; k < 3; k++)
        if (d->shape[k] > (uint64_t)maxdim) return RVR_ERR_SIZE; /* 3D texture limit (16384) */
    int rc = gerr(cudaMalloc(&G->raw, bytes));
    if (rc) {
        G->raw = NULL;
        return rc;
    }
    G->raw_bytes = bytes;
    G->stage_n = 0;
    cudaPointerAttributes at;
    G->raw_src_pinned = cudaPointerGetAttributes(&at, data) == cudaSuccess && at.type == cudaMemoryTypeHost;
    cudaGetLastError();
    if (!G->raw_src_pinned) {
        for (int b = 0; b < 2; b++) {
            if (!G->stage[b] && (rc = gerr(cudaHostAlloc(&G->stage[b], STAGE, cudaHostAllocPortable)))) {
                G->stage[b] = NULL;
                goto fail;
            }
            if (!G->ev[b] && (rc = gerr(cudaEventCreateWithFlags(&G->ev[b], cudaEventDisableTiming)))) {
                G->ev[b] = NULL;
                goto fail;
            }
        }
    }
    if (early_u8_possible(d)) early_begin(G, d);
    return RVR_OK;
fail:
    rvr__gpu_discard(r);
    return rc;
}

extern "C" int rvr__gpu_upload_range(rvr_renderer *r, const void *data, uint64_t off, uint64_t len,
                                     int nthreads) {
    rvr_gpu *G = GPU(r);
    if (!G->raw || off > G->raw_bytes || len > G->raw_bytes - off) return RVR_ERR_INVALID;
    GTRY(cudaSetDevice(G->dev));
    int rc;
    if (G->raw_src_pinned) {
        /* asynchronous: the caller keeps the bytes alive and unchanged (rvr.h); in pieces when
         * the array is filled behind the DMA */
        const uint64_t piece = G->early ? EARLY_PIECE : len;
        for (uint64_t o = off; o < off + len; o += piece) {
            const uint64_t n = off + len - o < piece ? off + len - o : piece;
            if ((rc = gerr(cudaMemcpyAsync((char *)G->raw + o, (const char *)data + o, n, cudaMemcpyHostToDevice, G->st))))
                goto fail;
            if (G->early && (rc = early_after(G, o + n))) goto fail;
        }
        return RVR_OK;
    }
    {
        const int nt = nthreads;
        for (uint64_t o = off; o < off + len; o += STAGE, G->stage_n++) {
            const int b = (int)(G->stage_n & 1);
            const size_t n = off + len - o < STAGE ? (size_t)(off + len - o) : STAGE;
            if ((rc = gerr(cudaEventSynchronize(G->ev[b])))) goto fail; /* its last DMA is done */
            rvr__memcpy_par(G->stage[b], (const char *)data + o, n, nt);
            if ((rc = gerr(cudaMemcpyAsync((char *)G->raw + o, G->stage[b], n, cudaMemcpyHostToDevice, G->st))))
                goto fail;
            if ((rc = gerr(cudaEventRecord(G->ev[b], G->st)))) goto fail;
            if (G->early && (rc = early_after(G, o + n))) goto fail;
        }
    }
    return RVR_OK;
fail:
    cudaStreamSynchronize(G->st);
    rvr__gpu_discard(r);
    return rc;
}

extern "C" int rvr__gpu_upload_end(rvr_renderer *r, const rvr_volume_desc *d, uint64_t bytes,
                                   double *mn, double *mx, uint64_t *nans) {
    rvr_gpu *G = GPU(r);
    if (!G->raw || G->raw_bytes != bytes) return RVR_ERR_INVALID;
    GTRY(cudaSetDevice(G->dev));
    int rc;
    if (G->early && (rc = early_after(G, bytes))) goto fail;
    if (G->early) { /* still: it had the memory for its array */
        unsigned *h = (unsigned *)G->hsbuf;
        if ((rc = gerr(cudaMemcpyAsync(h, G->mm, 2 * sizeof(unsigned), cudaMemcpyDeviceToHost, G->st2)))) goto fail;
        if ((rc = gerr(cudaStreamSynchronize(G->st2)))) goto fail;
        *mn = h[0];
        *mx = h[1];
        *nans = 0;
        return RVR_OK;
    }
    {
        const uint64_t n = bytes / (uint64_t)rvr_dtype_size(d->dtype);
        double *bm = G->sbuf, *bmx = bm + STAT_BLOCKS;
        unsigned long long *bn = (unsigned long long *)(bmx + STAT_BLOCKS);
        switch (d->dtype) {
        case RVR_DTYPE_U8: launch_stats<uint8_t>(G->raw, n, bm, bmx, bn, G->st); break;
        case RVR_DTYPE_U16: launch_stats<uint16_t>(G->raw, n, bm, bmx, bn, G->st); break;
        case RVR_DTYPE_I16: launch_stats<int16_t>(G->raw, n, bm, bmx, bn, G->st); break;
        case RVR_DTYPE_U32: launch_stats<uint32_t>(G->raw, n, bm, bmx, bn, G->st); break;
        case RVR_DTYPE_F32: launch_stats<float>(G->raw, n, bm, bmx, bn, G->st); break;
        default: launch_stats<double>(G->raw, n, bm, bmx, bn, G->st); break;
        }
        const double *hmn = G->hsbuf;
        rc = gerr(cudaMemcpyAsync(G->hsbuf, bm, STATS_BYTES, cudaMemcpyDeviceToHost, G->st));
        if (!rc) rc = gerr(cudaStreamSynchronize(G->st));
        if (rc) goto fail;
        double a = INFINITY, b = -INFINITY;
        uint64_t c = 0;
        const unsigned long long *hn = (const unsigned long long *)(hmn + 2 * STAT_BLOCKS);
        for (int k = 0; k < STAT_BLOCKS; k++) {
            a = hmn[k] < a ? hmn[k] : a;
            b = hmn[STAT_BLOCKS + k] > b ? hmn[STAT_BLOCKS + k] : b;
            c += hn[k];
        }
        *mn = a;
        *mx = b;
        *nans = c;
    }
    return RVR_OK;
fail:
    cudaStreamSynchronize(G->st);
    rvr__gpu_discard(r);
    return rc;
}

extern "C" int rvr__gpu_upload(rvr_renderer *r, const rvr_volume_desc *d, const void *data,
                               uint64_t bytes, double *mn, double *mx, uint64_t *nans) {
    int rc = rvr__gpu_upload_begin(r, d, data, bytes);
    if (!rc) rc = rvr__gpu_upload_range(r, data, 0, bytes, rvr__nthreads(r));
    if (!rc) rc = rvr__gpu_upload_end(r, d, bytes, mn, mx, nans);
    return rc;
}

/* min/max of the v16 values a sample inside each 16^3 brick can touch (the brick plus one voxel
 * on the high side), widened by 0.6 for the hardware filter's rounding */
__global__ void k_bricks(cudaTextureObject_t pt, int nx, int ny, int nz, int bx, int by, int bz, float A,
                         float B, float *bmin, float *bmax) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int j = blockIdx.y, k = blockIdx.z;
    if (i >= bx) return;
    const int x0 = i * 16, x1 = min(x0 + 16, nx - 1), y0 = j * 16, y1 = min(y0 + 16, ny - 1);
    const int z0 = k * 16, z1 = min(z0 + 16, nz - 1);
    float mn = 2, mx = -1;
    for (int z = z0; z <= z1; z++)
        for (int y = y0; y <= y1; y++)
            for (int x = x0; x <= x1; x++) {
                float t = tex3D<float>(pt, x + 0.5f, y + 0.5f, z + 0.5f);
                mn = fminf(mn, t);
                mx = fmaxf(mx, t);
            }
    const size_t b = ((size_t)k * by + j) * bx + i;
    bmin[b] = fmaf(mn, A, B) - 0.6f;
    bmax[b] = fmaf(mx, A, B) + 0.6f;
}

extern "C" int rvr__gpu_commit(rvr_renderer *r, const rvr_volume_desc *d, double lo, double hi,
                               double mn, double mx) {
    rvr_gpu *G = GPU(r);
    GTRY(cudaSetDevice(G->dev));
    if (!G->raw) return RVR_ERR_INVALID;
    /* u8 data whose window covers it: keep the bytes, map after filtering (half the memory) */
    const int u8 = d->dtype == RVR_DTYPE_U8 && lo <= mn && hi >= mx;
    const double scale = 65535.0 / (hi - lo);
    gvol v;
    cudaSurfaceObject_t surf = 0;
    int rc;
    const int early = G->early && u8;
    if (early) {
        /* filled while the bytes arrived (upload_end waited for it) */
        v = G->pv;
        early_drop(G, 1);
    } else {
        if (G->early) early_drop(G, 0); /* a narrower window (set_window): u16 after all */
        if ((rc = gvol_alloc(&v, d, u8, &surf))) return rc;
        if (u8) {
            launch_norm<uint8_t, true>(G->raw, v, 0, v.nz, d->order, lo, scale, surf, G->st);
        } else {
            switch (d->dtype) {
            case RVR_DTYPE_U8: launch_norm<uint8_t, false>(G->raw, v, 0, v.nz, d->order, lo, scale, surf, G->st); break;
            case RVR_DTYPE_U16: launch_norm<uint16_t, false>(G->raw, v, 0, v.nz, d->order, lo, scale, surf, G->st); break;
            case RVR_DTYPE_I16: launch_norm<int16_t, false>(G->raw, v, 0, v.nz, d->order, lo, scale, surf, G->st); break;
            case RVR_DTYPE_U32: launch_norm<uint32_t, false>(G->raw, v, 0, v.nz, d->order, lo, scale, surf, G->st); break;
            case RVR_DTYPE_F32: launch_norm<float, false>(G->raw, v, 0, v.nz, d->order, lo, scale, surf, G->st); break;
            default: launch_norm<double, false>(G->raw, v, 0, v.nz, d->order, lo, scale, surf, G->st); break;
            }
        }
    }
    if (u8) {
        v.A = (float)(255.0 * scale);
        v.B = (float)(-lo * scale) + 0.02f;
        v.Bv = (float)(-lo * scale) + 0.5f;
    } else {
        v.A = 65535.0f;
        v.B = 0.02f; /* float rounding of t * 65535 below an integer must not lose a LUT bucket */
        v.Bv = 0.5f;
    }
    if ((rc = gerr(cudaGetLastError()))) goto fail;
    if ((rc = gtex(v.arr, 1, &v.lin))) goto fail;
    if ((rc = gtex(v.arr, 0, &v.pt))) goto fail;
    if (early) { /* the bricks' raw u8 min/max were taken as the slices landed */
        const size_t nb = (size_t)v.bx * v.by * v.bz;
        k_bricks_scale<<<(unsigned)((nb + 255) / 256), 256, 0, G->st>>>(v.bmin, v.bmax, nb, v.A, v.B);
    } else {
        dim3 blk(32, 1, 1), grd((v.bx + 31) / 32, v.by, v.bz);
        k_bricks<<<grd, blk, 0, G->st>>>(v.pt, v.nx, v.ny, v.nz, v.bx, v.by, v.bz, v.A, v.B, v.bmin, v.bmax);
    }
    if ((rc = gerr(cudaGetLastError()))) goto fail;
    if ((rc = gerr(cudaStreamSynchronize(G->st)))) goto fail;
    if (surf) cudaDestroySurfaceObject(surf);
    /* commit: the pending bytes are no longer needed, the old volume goes */
    cudaFree(G->raw);
    G->raw = NULL;
    G->raw_bytes = 0;
    free_volume(&G->v);
    G->v = v;
    G->has = 1;
    G->empty_ok = 0;
    return RVR_OK;
fail:
    cudaStreamSynchronize(G->st);
    if (surf) cudaDestroySurfaceObject(surf);
    free_volume(&v);
    cudaGetLastError();
    return rc;
}
