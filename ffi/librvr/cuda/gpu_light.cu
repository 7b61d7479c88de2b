/* gpu_light.cu - CUDA backend: S2 light volume and S3 accessibility volume, the CPU backend's
 * algorithms (lighting.c) on the device, kept as float 3D textures with trilinear filtering. */
#include "gpu_internal.cuh"

/* log2 transmittance of one voxel length through each f^3 cell (mean TF opacity of its
 * voxels); grid dimension k runs along voxel axis perm[k]; output strides os[axis]. */
__global__ void k_alpha_grid(cudaTextureObject_t pt, float A, float Bv, const float *at, int nx, int ny, int nz,
                             int f, int cn0, int cn1, int cn2, size_t os0, size_t os1, size_t os2, float *g) {
    const int cx = blockIdx.x * blockDim.x + threadIdx.x, cy = blockIdx.y, cz = blockIdx.z;
    if (cx >= cn0 || cy >= cn1 || cz >= cn2) return;
    const int x1 = min((cx + 1) * f, nx), y1 = min((cy + 1) * f, ny), z1 = min((cz + 1) * f, nz);
    float sum = 0;
    int cnt = 0;
    for (int z = cz * f; z < z1; z++)
        for (int y = cy * f; y < y1; y++) {
            for (int x = cx * f; x < x1; x++) {
                int v = (int)fmaf(tex3D<float>(pt, x + 0.5f, y + 0.5f, z + 0.5f), A, Bv);
                v = v < 0 ? 0 : (v > 65535 ? 65535 : v);
                sum += __ldg(at + (v >> 4));
            }
            cnt += x1 - cx * f;
        }
    float mean = sum / (float)cnt;
    g[cx * os0 + cy * os1 + cz * os2] = mean >= 1 ? -30.0f : log2f(1 - mean);
}

static int alpha_grid(rvr_renderer *r, rvr_gpu *G, int f, const int perm[3], int n[3], float **out) {
    float at[RVR_LUT_N];
    rvr__alpha_table(r, at);
    const int vn[3] = {r->nx, r->ny, r->nz};
    int cn[3];
    for (int k = 0; k < 3; k++) cn[k] = (vn[k] + f - 1) / f;
    for (int k = 0; k < 3; k++) n[k] = cn[perm[k]];
    size_t os[3];
    os[perm[0]] = 1;
    os[perm[1]] = (size_t)n[0];
    os[perm[2]] = (size_t)n[0] * n[1];
    float *g = NULL, *dat = NULL;
    GTRY(cudaMalloc(&g, (size_t)n[0] * n[1] * n[2] * sizeof(float)));
    int rc = gerr(cudaMalloc(&dat, sizeof at));
    if (!rc) rc = gerr(cudaMemcpyAsync(dat, at, sizeof at, cudaMemcpyHostToDevice, G->st));
    if (!rc) {
        dim3 blk(32, 1, 1), grd((cn[0] + 31) / 32, cn[1], cn[2]);
        k_alpha_grid<<<grd, blk, 0, G->st>>>(G->v.pt, G->v.A, G->v.Bv, dat, r->nx, r->ny, r->nz, f, cn[0], cn[1],
                                             cn[2], os[0], os[1], os[2], g);
        rc = gerr(cudaGetLastError());
    }
    if (!rc) rc = gerr(cudaStreamSynchronize(G->st));
    if (dat) cudaFree(dat);
    if (rc) {
        cudaFree(g);
        return rc;
    }
    *out = g;
    return RVR_OK;
}

static int cell_factor(const rvr_renderer *r, int target) {
    int m = r->nx > r->ny ? r->nx : r->ny;
    m = r->nz > m ? r->nz : m;
    return (m + target - 1) / target;
}

int rvr__gpu_fgrid_texture(const float *d, int n0, int n1, int n2, cudaStream_t st, cudaArray_t *arr,
                           cudaTextureObject_t *tex) {
    cudaChannelFormatDesc ch = cudaCreateChannelDesc<float>();
    cudaArray_t a = NULL;
    GTRY(cudaMalloc3DArray(&a, &ch, make_cudaExtent(n0, n1, n2)));
    cudaMemcpy3DParms p;
    memset(&p, 0, sizeof p);
    p.srcPtr = make_cudaPitchedPtr((void *)d, (size_t)n0 * sizeof(float), n0, n1);
    p.dstArray = a;
    p.extent = make_cudaExtent(n0, n1, n2);
    p.kind = cudaMemcpyDeviceToDevice;
    int rc = gerr(cudaMemcpy3DAsync(&p, st));
    if (!rc) rc = gerr(cudaStreamSynchronize(st));
    cudaTextureObject_t t = 0;
    if (!rc) {
        cudaResourceDesc rd;
        memset(&rd, 0, sizeof rd);
        rd.resType = cudaResourceTypeArray;
        rd.res.array.array = a;
        cudaTextureDesc td;
        memset(&td, 0, sizeof td);
        for (int k = 0; k < 3; k++) td.addressMode[k] = cudaAddressModeClamp;
        td.filterMode = cudaFilterModeLinear;
        td.readMode = cudaReadModeElementType;
        rc = gerr(cudaCreateTextureObject(&t, &rd, &td, NULL));
    }
    if (rc) {
        cudaFreeArray(a);
        return rc;
    }
    *arr = a;
    *tex = t;
    return RVR_OK;
}

void rvr__gpu_free_lighting(rvr_gpu *G) {
    if (G->light_tex) cudaDestroyTextureObject(G->light_tex);
    if (G->light_arr) cudaFreeArray(G->light_arr);
    if (G->ao_tex) cudaDestroyTextureObject(G->ao_tex);
    if (G->ao_arr) cudaFreeArray(G->ao_arr);
    G->light_tex = G->ao_tex = 0;
    G->light_arr = G->ao_arr = NULL;
    G->light_ok = G->ao_ok = 0;
}

__global__ void k_exp2(float *T, size_t n, float seg) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) T[i] = exp2f(seg * T[i]);
}
__global__ void k_fill1(float *L, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) L[i] = 1.0f;
}
/* one slice of the sweep: the light reaching each cell from its upstream neighbours */
__global__ void k_sweep(const float *Lu, const float *Tu, float *Lc, int n0, int n1, float d0, float d1) {
    const int v0 = blockIdx.x * blockDim.x + threadIdx.x, v1 = blockIdx.y;
    if (v0 >= n0) return;
    float u1 = v1 + d1;
    int i1 = (int)floorf(u1);
    float f1 = u1 - i1;
    float u0 = v0 + d0;
    int i0 = (int)floorf(u0);
    float f0 = u0 - i0, acc = 0;
    for (int c = 0; c < 4; c++) {
        int j0 = i0 + (c & 1), j1 = i1 + (c >> 1);
        float w = ((c & 1) ? f0 : 1 - f0) * ((c >> 1) ? f1 : 1 - f1);
        size_t o = (size_t)j1 * n0 + j0;
        acc += w * ((j0 < 0 || j1 < 0 || j0 >= n0 || j1 >= n1) ? 1.0f : Lu[o] * Tu[o]);
    }
    Lc[(size_t)v1 * n0 + v0] = acc;
}

int rvr__gpu_light_ensure(rvr_renderer *r, const float dir_world[3]) {
    rvr_gpu *G = GPU(r);
    float lw[3] = {dir_world[0], dir_world[1], dir_world[2]};
    v3norm(lw);
    if (G->light_ok && G->light_vol == r->vol_version && G->light_tf == r->tf_version &&
        memcmp(lw, G->light_key, sizeof lw) == 0)
        return RVR_OK;
    float li[3] = {lw[0] / r->spacing[0], lw[1] / r->spacing[1], lw[2] / r->spacing[2]};
    v3norm(li);
    int a = 2;
    for (int k = 0; k < 2; k++)
        if (fabsf(li[k]) > fabsf(li[a])) a = k;
    int perm[3], q = 0;
    for (int k = 0; k < 3; k++)
        if (k != a) perm[q++] = k;
    perm[2] = a;
    const int f = cell_factor(r, 256);
    int n[3];
    float *T = NULL, *L = NULL;
    int rc = alpha_grid(r, G, f, perm, n, &T);
    if (rc) return rc;
    const size_t slice = (size_t)n[0] * n[1], ncell = slice * n[2];
    if ((rc = gerr(cudaMalloc(&L, ncell * sizeof(float))))) {
        cudaFree(T);
        return rc;
    }
    const float da = fabsf(li[a]), d0 = li[perm[0]] / da, d1 = li[perm[1]] / da;
    const float seg = sqrtf(1 + d0 * d0 + d1 * d1) * (float)f;
    k_exp2<<<(unsigned)((ncell + 255) / 256), 256, 0, G->st>>>(T, ncell, seg);
    const int sgn = li[a] > 0 ? 1 : -1;
    const int first = sgn > 0 ? n[2] - 1 : 0;
    k_fill1<<<(unsigned)((slice + 255) / 256), 256, 0, G->st>>>(L + (size_t)first * slice, slice);
    for (int step = 1; step < n[2]; step++) {
        const int sa = first - sgn * step, up = sa + sgn;
        k_sweep<<<dim3((n[0] + 127) / 128, n[1]), 128, 0, G->st>>>(L + (size_t)up * slice, T + (size_t)up * slice,
                                                                   L + (size_t)sa * slice, n[0], n[1], d0, d1);
    }
    rc = gerr(cudaGetLastError());
    cudaArray_t arr = NULL;
    cudaTextureObject_t tex = 0;
    if (!rc) rc = rvr__gpu_fgrid_texture(L, n[0], n[1], n[2], G->st, &arr, &tex);
    cudaFree(T);
    cudaFree(L);
    if (rc) return rc;
    if (G->light_tex) cudaDestroyTextureObject(G->light_tex);
    if (G->light_arr) cudaFreeArray(G->light_arr);
    G->light_arr = arr;
    G->light_tex = tex;
    G->light_f = f;
    memcpy(G->light_perm, perm, sizeof perm);
    memcpy(G->light_key, lw, sizeof lw);
    G->light_vol = r->vol_version;
    G->light_tf = r->tf_version;
    G->light_ok = 1;
    return RVR_OK;
}

enum { MAXS = 64 };

__global__ void k_ao(const float *alpha, int nx, int ny, int nz, int nsteps, float wvox, const int *off, float *A) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y, z = blockIdx.z;
    if (x >= nx) return;
    float sum = 0;
    for (int d = 0; d < 14; d++) {
        float lt = 0;
        for (int s = 0; s < nsteps; s++) {
            const int *o = off + (d * MAXS + s) * 3;
            int px = x + o[0], py = y + o[1], pz = z + o[2];
            if ((unsigned)px >= (unsigned)nx || (unsigned)py >= (unsigned)ny || (unsigned)pz >= (unsigned)nz) break;
            lt += __ldg(alpha + ((size_t)pz * ny + py) * nx + px);
        }
        sum += exp2f(lt * wvox);
    }
    A[((size_t)z * ny + y) * nx + x] = sum * (1.0f / 14.0f);
}

int rvr__gpu_ao_ensure(rvr_renderer *r, float radius_vox) {
    rvr_gpu *G = GPU(r);
    if (!(radius_vox > 0)) {
        int m = r->nx > r->ny ? r->nx : r->ny;
        m = r->nz > m ? r->nz : m;
        radius_vox = m / 16.0f < 4 ? 4 : m / 16.0f;
    }
    if (G->ao_ok && G->ao_vol == r->vol_version && G->ao_tf == r->tf_version && G->ao_key == radius_vox)
        return RVR_OK;
    const int f = cell_factor(r, 96);
    const int perm[3] = {0, 1, 2};
    int n[3];
    float *alpha = NULL, *A = NULL;
    int *doff = NULL;
    int rc = alpha_grid(r, G, f, perm, n, &alpha);
    if (rc) return rc;
    const int nx = n[0], ny = n[1], nz = n[2];
    static const float dirs[14][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1},
                                      {0, 0, -1}, {1, 1, 1}, {1, 1, -1}, {1, -1, 1}, {1, -1, -1},
                                      {-1, 1, 1}, {-1, 1, -1}, {-1, -1, 1}, {-1, -1, -1}};
    const float rcell = radius_vox / (float)f;
    int nsteps = rcell < 1 ? 1 : (int)ceilf(rcell);
    if (nsteps > MAXS) nsteps = MAXS;
    const float sl = rcell / (float)nsteps, wvox = sl * (float)f;
    static thread_local int off[14][MAXS][3];
    for (int d = 0; d < 14; d++) {
        float inv = 1.0f / sqrtf(dirs[d][0] * dirs[d][0] + dirs[d][1] * dirs[d][1] + dirs[d][2] * dirs[d][2]);
        for (int s = 0; s < nsteps; s++)
            for (int k = 0; k < 3; k++) off[d][s][k] = (int)lroundf((s + 1) * sl * dirs[d][k] * inv);
    }
    rc = gerr(cudaMalloc(&A, (size_t)nx * ny * nz * sizeof(float)));
    if (!rc) rc = gerr(cudaMalloc(&doff, sizeof off));
    if (!rc) rc = gerr(cudaMemcpyAsync(doff, off, sizeof off, cudaMemcpyHostToDevice, G->st));
    if (!rc) {
        k_ao<<<dim3((nx + 63) / 64, ny, nz), 64, 0, G->st>>>(alpha, nx, ny, nz, nsteps, wvox, doff, A);
        rc = gerr(cudaGetLastError());
    }
    cudaArray_t arr = NULL;
    cudaTextureObject_t tex = 0;
    if (!rc) rc = rvr__gpu_fgrid_texture(A, nx, ny, nz, G->st, &arr, &tex); /* synchronizes */
    else cudaStreamSynchronize(G->st);
    cudaFree(alpha);
    if (A) cudaFree(A);
    if (doff) cudaFree(doff);
    if (rc) return rc;
    if (G->ao_tex) cudaDestroyTextureObject(G->ao_tex);
    if (G->ao_arr) cudaFreeArray(G->ao_arr);
    G->ao_arr = arr;
    G->ao_tex = tex;
    G->ao_f = f;
    G->ao_key = radius_vox;
    G->ao_vol = r->vol_version;
    G->ao_tf = r->tf_version;
    G->ao_ok = 1;
    return RVR_OK;
}
