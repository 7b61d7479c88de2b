/* gpu_volume.cu - CUDA backend: device choice, renderer state, page-locked host memory, volume
 * upload (DMA from page-locked memory, else through two page-locked staging buffers), min/max
 * and NaN count, normalization into the 3D texture, bricks' min/max for skipping. */
#include "gpu_internal.cuh"

#include <float.h>

extern "C" const int rvr__gpu_built = 1;

static const size_t STAGE = (size_t)64 << 20; /* bytes per staging buffer */

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
    r->gpu = G;
    return RVR_OK;
fail:
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

extern "C" void rvr__gpu_discard(rvr_renderer *r) {
    rvr_gpu *G = GPU(r);
    if (!G || !G->raw) return;
    cudaSetDevice(G->dev);
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
    void *dev[] = {G->lut, G->cnt, G->empty, G->img, G->counter, G->pxyz, G->pstart, G->pidx, G->prad, G->pcol,
                   G->lab, G->lab_rgba};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) cudaFree(dev[i]);
    if (G->himg) cudaFreeHost(G->himg);
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
    cudaError_t e = cudaHostAlloc(&p, bytes, cudaHostAllocPortable);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return RVR_ERR_NOMEM;
    }
    *out = p;
    return RVR_OK;
}

extern "C" void rvr__gpu_host_free(void *p) { cudaFreeHost(p); }

/* ---- min / max / NaN count of the original elements ---- */

enum { STAT_BLOCKS = 1024, STAT_THREADS = 256 };

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
    return RVR_OK;
fail:
    rvr__gpu_discard(r);
    return rc;
}

extern "C" int rvr__gpu_upload_range(rvr_renderer *r, const void *data, uint64_t off, uint64_t len) {
    rvr_gpu *G = GPU(r);
    if (!G->raw || off > G->raw_bytes || len > G->raw_bytes - off) return RVR_ERR_INVALID;
    GTRY(cudaSetDevice(G->dev));
    int rc;
    if (G->raw_src_pinned) {
        /* asynchronous: the caller keeps the bytes alive and unchanged (rvr.h) */
        if ((rc = gerr(cudaMemcpyAsync((char *)G->raw + off, (const char *)data + off, len, cudaMemcpyHostToDevice, G->st))))
            goto fail;
        return RVR_OK;
    }
    {
        const int nt = rvr__nthreads(r);
        for (uint64_t o = off; o < off + len; o += STAGE, G->stage_n++) {
            const int b = (int)(G->stage_n & 1);
            const size_t n = off + len - o < STAGE ? (size_t)(off + len - o) : STAGE;
            if ((rc = gerr(cudaEventSynchronize(G->ev[b])))) goto fail; /* its last DMA is done */
            rvr__memcpy_par(G->stage[b], (const char *)data + o, n, nt);
            if ((rc = gerr(cudaMemcpyAsync((char *)G->raw + o, G->stage[b], n, cudaMemcpyHostToDevice, G->st))))
                goto fail;
            if ((rc = gerr(cudaEventRecord(G->ev[b], G->st)))) goto fail;
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
    {
        double *bm = NULL;
        const uint64_t n = bytes / (uint64_t)rvr_dtype_size(d->dtype);
        if ((rc = gerr(cudaMalloc(&bm, STAT_BLOCKS * (2 * sizeof(double) + sizeof(unsigned long long)))))) goto fail;
        double *bmx = bm + STAT_BLOCKS;
        unsigned long long *bn = (unsigned long long *)(bmx + STAT_BLOCKS);
        switch (d->dtype) {
        case RVR_DTYPE_U8: launch_stats<uint8_t>(G->raw, n, bm, bmx, bn, G->st); break;
        case RVR_DTYPE_U16: launch_stats<uint16_t>(G->raw, n, bm, bmx, bn, G->st); break;
        case RVR_DTYPE_I16: launch_stats<int16_t>(G->raw, n, bm, bmx, bn, G->st); break;
        case RVR_DTYPE_U32: launch_stats<uint32_t>(G->raw, n, bm, bmx, bn, G->st); break;
        case RVR_DTYPE_F32: launch_stats<float>(G->raw, n, bm, bmx, bn, G->st); break;
        default: launch_stats<double>(G->raw, n, bm, bmx, bn, G->st); break;
        }
        double *hmn = (double *)malloc(STAT_BLOCKS * 3 * sizeof(double));
        if (!hmn) {
            cudaFree(bm);
            rc = RVR_ERR_NOMEM;
            goto fail;
        }
        rc = gerr(cudaMemcpyAsync(hmn, bm, STAT_BLOCKS * 3 * sizeof(double), cudaMemcpyDeviceToHost, G->st));
        if (!rc) rc = gerr(cudaStreamSynchronize(G->st));
        cudaFree(bm);
        if (rc) {
            free(hmn);
            goto fail;
        }
        double a = INFINITY, b = -INFINITY;
        uint64_t c = 0;
        const unsigned long long *hn = (const unsigned long long *)(hmn + 2 * STAT_BLOCKS);
        for (int k = 0; k < STAT_BLOCKS; k++) {
            a = hmn[k] < a ? hmn[k] : a;
            b = hmn[STAT_BLOCKS + k] > b ? hmn[STAT_BLOCKS + k] : b;
            c += hn[k];
        }
        free(hmn);
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
    if (!rc) rc = rvr__gpu_upload_range(r, data, 0, bytes);
    if (!rc) rc = rvr__gpu_upload_end(r, d, bytes, mn, mx, nans);
    return rc;
}

/* ---- normalization into the 3D array ---- */

__device__ __forceinline__ uint16_t norm_d(double v, double lo, double scale) {
    if (v != v) return 0;
    double t = (v - lo) * scale + 0.5;
    if (t <= 0) return 0;
    if (t >= 65535.0) return 65535;
    return (uint16_t)t;
}

/* one thread per voxel (x fastest); element (z, y, x) of the C or F array */
template <typename T, bool U8OUT>
__global__ void k_normalize(const T *src, int nx, int ny, int nz, int order, double lo, double scale,
                            cudaSurfaceObject_t surf) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    const int z = blockIdx.z;
    if (x >= nx || y >= ny) return;
    const size_t i = order == RVR_ORDER_C ? ((size_t)z * ny + y) * nx + x : (size_t)z + (size_t)nz * (y + (size_t)ny * x);
    const T v = src[i];
    if (U8OUT) surf3Dwrite<uint8_t>((uint8_t)v, surf, x, y, z);
    else surf3Dwrite<uint16_t>(norm_d((double)v, lo, scale), surf, x * 2, y, z);
}

template <typename T, bool U8OUT>
static void launch_norm(const void *src, const gvol &v, int order, double lo, double scale,
                        cudaSurfaceObject_t s, cudaStream_t st) {
    dim3 blk(64, 4, 1), grd((v.nx + 63) / 64, (v.ny + 3) / 4, v.nz);
    k_normalize<T, U8OUT><<<grd, blk, 0, st>>>((const T *)src, v.nx, v.ny, v.nz, order, lo, scale, s);
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
    gvol v;
    memset(&v, 0, sizeof v);
    v.nx = (int)d->shape[2];
    v.ny = (int)d->shape[1];
    v.nz = (int)d->shape[0];
    v.bx = (v.nx + 15) / 16;
    v.by = (v.ny + 15) / 16;
    v.bz = (v.nz + 15) / 16;
    /* u8 data whose window covers it: keep the bytes, map after filtering (half the memory) */
    v.u8 = d->dtype == RVR_DTYPE_U8 && lo <= mn && hi >= mx;
    const double scale = 65535.0 / (hi - lo);
    if (v.u8) {
        v.A = (float)(255.0 * scale);
        v.B = (float)(-lo * scale) + 0.02f;
        v.Bv = (float)(-lo * scale) + 0.5f;
    } else {
        v.A = 65535.0f;
        v.B = 0.02f; /* float rounding of t * 65535 below an integer must not lose a LUT bucket */
        v.Bv = 0.5f;
    }
    const size_t nb = (size_t)v.bx * v.by * v.bz;
    cudaChannelFormatDesc ch = v.u8 ? cudaCreateChannelDesc<uint8_t>() : cudaCreateChannelDesc<uint16_t>();
    cudaSurfaceObject_t surf = 0;
    int rc = gerr(cudaMalloc3DArray(&v.arr, &ch, make_cudaExtent(v.nx, v.ny, v.nz), cudaArraySurfaceLoadStore));
    if (rc) {
        v.arr = NULL;
        goto fail;
    }
    if ((rc = gerr(cudaMalloc(&v.bmin, nb * sizeof(float))))) goto fail;
    if ((rc = gerr(cudaMalloc(&v.bmax, nb * sizeof(float))))) goto fail;
    {
        cudaResourceDesc rd;
        memset(&rd, 0, sizeof rd);
        rd.resType = cudaResourceTypeArray;
        rd.res.array.array = v.arr;
        if ((rc = gerr(cudaCreateSurfaceObject(&surf, &rd)))) goto fail;
    }
    if (v.u8) {
        launch_norm<uint8_t, true>(G->raw, v, d->order, lo, scale, surf, G->st);
    } else {
        switch (d->dtype) {
        case RVR_DTYPE_U8: launch_norm<uint8_t, false>(G->raw, v, d->order, lo, scale, surf, G->st); break;
        case RVR_DTYPE_U16: launch_norm<uint16_t, false>(G->raw, v, d->order, lo, scale, surf, G->st); break;
        case RVR_DTYPE_I16: launch_norm<int16_t, false>(G->raw, v, d->order, lo, scale, surf, G->st); break;
        case RVR_DTYPE_U32: launch_norm<uint32_t, false>(G->raw, v, d->order, lo, scale, surf, G->st); break;
        case RVR_DTYPE_F32: launch_norm<float, false>(G->raw, v, d->order, lo, scale, surf, G->st); break;
        default: launch_norm<double, false>(G->raw, v, d->order, lo, scale, surf, G->st); break;
        }
    }
    if ((rc = gerr(cudaGetLastError()))) goto fail;
    if ((rc = gtex(v.arr, 1, &v.lin))) goto fail;
    if ((rc = gtex(v.arr, 0, &v.pt))) goto fail;
    {
        dim3 blk(32, 1, 1), grd((v.bx + 31) / 32, v.by, v.bz);
        k_bricks<<<grd, blk, 0, G->st>>>(v.pt, v.nx, v.ny, v.nz, v.bx, v.by, v.bz, v.A, v.B, v.bmin, v.bmax);
    }
    if ((rc = gerr(cudaGetLastError()))) goto fail;
    if ((rc = gerr(cudaStreamSynchronize(G->st)))) goto fail;
    cudaDestroySurfaceObject(surf);
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
