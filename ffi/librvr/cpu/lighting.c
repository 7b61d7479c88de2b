/* lighting.c - S2 light volume (single-scatter shadows toward one directional light) and
 * S3 accessibility volume (ambient occlusion after Miller 1994). Both are computed on a
 * cell grid (f^3 voxels per cell) from the TF opacity and cached in the renderer. */
#include "internal.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* log2 of the transmittance of one voxel length through each f^3 cell (mean TF opacity of
 * its voxels; -30 for opaque); grid dimension k runs along voxel axis perm[k] (0 fastest). */
static float *alpha_grid(const rvr_renderer *r, int f, const int perm[3], int n[3]) {
    float at[RVR_LUT_N];
    rvr__alpha_table(r, at);
    const int vn[3] = {r->nx, r->ny, r->nz};
    int cn[3]; /* cells per voxel axis */
    for (int k = 0; k < 3; k++) cn[k] = (vn[k] + f - 1) / f;
    for (int k = 0; k < 3; k++) n[k] = cn[perm[k]];
    /* strides in the output of each voxel axis */
    size_t os[3];
    os[perm[0]] = 1;
    os[perm[1]] = (size_t)n[0];
    os[perm[2]] = (size_t)n[0] * n[1];
    float *g = malloc((size_t)n[0] * n[1] * n[2] * sizeof(float));
    if (!g) return NULL;
    const int nt = rvr__nthreads(r);
    _Pragma("omp parallel for schedule(dynamic) collapse(2) num_threads(nt)")
    for (int cz = 0; cz < cn[2]; cz++)
        for (int cy = 0; cy < cn[1]; cy++)
            for (int cx = 0; cx < cn[0]; cx++) {
                int x1 = (cx + 1) * f < r->nx ? (cx + 1) * f : r->nx;
                int y1 = (cy + 1) * f < r->ny ? (cy + 1) * f : r->ny;
                int z1 = (cz + 1) * f < r->nz ? (cz + 1) * f : r->nz;
                float sum = 0;
                int cnt = 0;
                for (int z = cz * f; z < z1; z++)
                    for (int y = cy * f; y < y1; y++) {
                        for (int x = cx * f; x < x1; x++) sum += at[(int)grid_voxel(&r->grid, x, y, z) >> 4];
                        cnt += x1 - cx * f;
                    }
                float mean = sum / (float)cnt;
                g[cx * os[0] + cy * os[1] + cz * os[2]] = mean >= 1 ? -30.0f : log2f(1 - mean);
            }
    return g;
}

static int cell_factor(const rvr_renderer *r, int target) {
    int m = r->nx > r->ny ? r->nx : r->ny;
    m = r->nz > m ? r->nz : m;
    return (m + target - 1) / target;
}

int rvr__light_ensure(rvr_renderer *r, const float dir_world[3]) {
    float lw[3] = {dir_world[0], dir_world[1], dir_world[2]};
    v3norm(lw);
    if (r->light.data && r->light_vol_version == r->vol_version &&
        r->light_tf_version == r->tf_version && memcmp(lw, r->light_key, sizeof lw) == 0)
        return RVR_OK;
    /* light direction in voxel-index space; the sweep runs along its dominant axis a */
    float li[3] = {lw[0] / r->spacing[0], lw[1] / r->spacing[1], lw[2] / r->spacing[2]};
    v3norm(li);
    int a = 2;
    for (int k = 0; k < 2; k++)
        if (fabsf(li[k]) > fabsf(li[a])) a = k;
    /* grid layout: the other two axes in natural order, a slowest: slices are contiguous */
    int perm[3], q = 0;
    for (int k = 0; k < 3; k++)
        if (k != a) perm[q++] = k;
    perm[2] = a;
    const int f = cell_factor(r, 256);
    int n[3];
    float *T = alpha_grid(r, f, perm, n); /* log2 transmittance -> per-slice-step transmission */
    float *L = malloc((size_t)n[0] * n[1] * n[2] * sizeof(float));
    if (!T || !L) {
        free(T);
        free(L);
        return RVR_ERR_NOMEM;
    }
    const float da = fabsf(li[a]), d0 = li[perm[0]] / da, d1 = li[perm[1]] / da; /* upstream shift per slice */
    const float seg = sqrtf(1 + d0 * d0 + d1 * d1) * (float)f; /* voxels travelled per slice step */
    const size_t slice = (size_t)n[0] * n[1], ncell = slice * n[2];
    const int nt = rvr__nthreads(r);
    _Pragma("omp parallel for schedule(static) num_threads(nt)")
    for (size_t i = 0; i < ncell; i++) T[i] = exp2f(seg * T[i]);
    const int sgn = li[a] > 0 ? 1 : -1; /* light comes from the +a side when li[a] > 0 */
    const int first = sgn > 0 ? n[2] - 1 : 0;
    const int n0 = n[0], n1 = n[1];
    for (int k = 0; k < n1 * n0; k++) L[first * slice + k] = 1.0f;
    _Pragma("omp parallel num_threads(nt) if (slice > 4096)")
    for (int step = 1; step < n[2]; step++) {
        const int sa = first - sgn * step, up = sa + sgn;
        const float *Lu = L + (size_t)up * slice, *Tu = T + (size_t)up * slice;
        float *Lc = L + (size_t)sa * slice;
        _Pragma("omp for schedule(static)") /* its implicit barrier orders the slices */
        for (int v1 = 0; v1 < n1; v1++) {
            float u1 = v1 + d1;
            int i1 = (int)floorf(u1);
            float f1 = u1 - i1;
            for (int v0 = 0; v0 < n0; v0++) {
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
        }
    }
    free(T);
    free(r->light.data);
    r->light.data = L;
    r->light.nx = n[0];
    r->light.ny = n[1];
    r->light.nz = n[2];
    r->light.f = f;
    memcpy(r->light.perm, perm, sizeof perm);
    memcpy(r->light_key, lw, sizeof lw);
    r->light_vol_version = r->vol_version;
    r->light_tf_version = r->tf_version;
    return RVR_OK;
}

int rvr__ao_ensure(rvr_renderer *r, float radius_vox) {
    if (!(radius_vox > 0)) {
        int m = r->nx > r->ny ? r->nx : r->ny;
        m = r->nz > m ? r->nz : m;
        radius_vox = m / 16.0f < 4 ? 4 : m / 16.0f;
    }
    if (r->ao.data && r->ao_vol_version == r->vol_version && r->ao_tf_version == r->tf_version &&
        r->ao_key == radius_vox)
        return RVR_OK;
    const int f = cell_factor(r, 96);
    const int perm[3] = {0, 1, 2};
    int n[3];
    float *alpha = alpha_grid(r, f, perm, n);
    const int nx = n[0], ny = n[1], nz = n[2];
    float *A = malloc((size_t)nx * ny * nz * sizeof(float));
    if (!alpha || !A) {
        free(alpha);
        free(A);
        return RVR_ERR_NOMEM;
    }
    const int nt = rvr__nthreads(r);
    /* 14 directions (6 axes + 8 diagonals), cell offsets of each step precomputed */
    static const float dirs[14][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1},
                                      {0, 0, -1}, {1, 1, 1}, {1, 1, -1}, {1, -1, 1}, {1, -1, -1},
                                      {-1, 1, 1}, {-1, 1, -1}, {-1, -1, 1}, {-1, -1, -1}};
    enum { MAXS = 64 };
    const float rc = radius_vox / (float)f; /* radius in cells */
    int nsteps = rc < 1 ? 1 : (int)ceilf(rc);
    if (nsteps > MAXS) nsteps = MAXS;
    const float sl = rc / (float)nsteps; /* step length in cells */
    const float wvox = sl * (float)f;    /* ... in voxels */
    int off[14][MAXS][3];
    for (int d = 0; d < 14; d++) {
        float inv = 1.0f / sqrtf(dirs[d][0] * dirs[d][0] + dirs[d][1] * dirs[d][1] + dirs[d][2] * dirs[d][2]);
        for (int s = 0; s < nsteps; s++)
            for (int k = 0; k < 3; k++) off[d][s][k] = (int)lroundf((s + 1) * sl * dirs[d][k] * inv);
    }
    _Pragma("omp parallel for schedule(dynamic) collapse(2) num_threads(nt)")
    for (int z = 0; z < nz; z++)
        for (int y = 0; y < ny; y++)
            for (int x = 0; x < nx; x++) {
                float sum = 0;
                for (int d = 0; d < 14; d++) {
                    float lt = 0;
                    for (int s = 0; s < nsteps; s++) {
                        int px = x + off[d][s][0], py = y + off[d][s][1], pz = z + off[d][s][2];
                        if ((unsigned)px >= (unsigned)nx || (unsigned)py >= (unsigned)ny ||
                            (unsigned)pz >= (unsigned)nz)
                            break;
                        lt += alpha[((size_t)pz * ny + py) * nx + px];
                    }
                    sum += exp2f(lt * wvox);
                }
                A[((size_t)z * ny + y) * nx + x] = sum * (1.0f / 14.0f);
            }
    free(alpha);
    free(r->ao.data);
    r->ao.data = A;
    r->ao.nx = nx;
    r->ao.ny = ny;
    r->ao.nz = nz;
    r->ao.f = f;
    memcpy(r->ao.perm, perm, sizeof perm);
    r->ao_key = radius_vox;
    r->ao_vol_version = r->vol_version;
    r->ao_tf_version = r->tf_version;
    return RVR_OK;
}
