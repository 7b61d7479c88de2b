/* points.c - point sets drawn as opaque spheres: storage, colormap, per-frame binning into
 * image tiles, and per-tile exact ray-sphere depth. */
#include "points.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

int rvr_renderer_set_points(rvr_renderer *r, const float *xyz, const float *values, uint64_t n) {
    if (!r) return RVR_ERR_INVALID;
    if (n == 0) return RVR_ERR_EMPTY;
    if (!xyz || !values) return RVR_ERR_INVALID;
    if (n > UINT32_MAX) return RVR_ERR_SIZE; /* indices are 32-bit */
    float *p = malloc(n * 3 * sizeof(float)), *v = malloc(n * sizeof(float));
    if (!p || !v) {
        free(p);
        free(v);
        return RVR_ERR_NOMEM;
    }
    memcpy(p, xyz, n * 3 * sizeof(float));
    memcpy(v, values, n * sizeof(float));
    float mn = FLT_MAX, mx = -FLT_MAX;
    for (uint64_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            mn = v[i] < mn ? v[i] : mn;
            mx = v[i] > mx ? v[i] : mx;
        }
    free(r->pxyz);
    free(r->pval);
    r->pxyz = p;
    r->pval = v;
    r->npoints = n;
    r->pmin = mn;
    r->pmax = mx;
    r->points_version++;
    return RVR_OK;
}

int rvr_renderer_clear_points(rvr_renderer *r) {
    if (!r) return RVR_ERR_INVALID;
    free(r->pxyz);
    free(r->pval);
    r->pxyz = r->pval = NULL;
    r->npoints = 0;
    r->points_version++;
    return RVR_OK;
}

int rvr_renderer_set_point_colormap(rvr_renderer *r, const float *rgba, uint32_t n) {
    if (!r || !rgba || n < 2 || n > 65536) return RVR_ERR_INVALID;
    for (uint64_t i = 0; i < 4ull * n; i++)
        if (!isfinite(rgba[i])) return RVR_ERR_INVALID;
    float *c = malloc(sizeof(float) * 4 * n);
    if (!c) return RVR_ERR_NOMEM;
    for (uint64_t i = 0; i < 4ull * n; i++) c[i] = rgba[i] < 0 ? 0 : (rgba[i] > 1 ? 1 : rgba[i]);
    free(r->cmap);
    r->cmap = c;
    r->cmap_n = n;
    return RVR_OK;
}

static void cmap_eval(const rvr_renderer *r, float lo, float hi, float v, float o[3]) {
    float t = hi > lo ? (v - lo) / (hi - lo) : 0.5f;
    t = t < 0 ? 0 : (t > 1 ? 1 : t);
    float x = t * (float)(r->cmap_n - 1);
    int i = (int)x;
    if (i > (int)r->cmap_n - 2) i = (int)r->cmap_n - 2;
    float f = x - (float)i;
    const float *a = r->cmap + 4 * i, *b = a + 4;
    for (int k = 0; k < 3; k++) o[k] = a[k] + f * (b[k] - a[k]);
}

void rvr__points_free(rvr_pointpass *pp) {
    free(pp->start);
    free(pp->idx);
    free(pp->rad);
    free(pp->col);
    memset(pp, 0, sizeof *pp);
}

int rvr__points_prepare(const rvr_renderer *r, const rvr_render_settings *s, const rvr_cam *cam,
                        int lod, int tw, int th, rvr_pointpass *pp) {
    memset(pp, 0, sizeof *pp);
    pp->ntx = (tw + RVR_TILE - 1) / RVR_TILE;
    pp->nty = (th + RVR_TILE - 1) / RVR_TILE;
    if (!r->npoints) return RVR_OK;
    const uint64_t n = r->npoints, ntiles = (uint64_t)pp->ntx * pp->nty;
    const int filter = (s->flags & RVR_F_POINT_FILTER) != 0;
    float clo = s->point_cmap_lo, chi = s->point_cmap_hi;
    if (!(clo < chi)) {
        clo = r->pmin;
        chi = r->pmax;
    }
    int32_t *box = malloc(n * 4 * sizeof(int32_t)); /* traced-grid tile box per point, or -1 */
    pp->start = calloc(ntiles + 1, sizeof(uint32_t));
    pp->rad = malloc(n * sizeof(float));
    pp->col = malloc(n * 3 * sizeof(float));
    if (!box || !pp->start || !pp->rad || !pp->col) goto nomem;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        const float *c = r->pxyz + 3 * i;
        float v = r->pval[i], rad = s->point_scale * v;
        box[4 * i] = -1;
        if (!isfinite(c[0]) || !isfinite(c[1]) || !isfinite(c[2]) || !isfinite(v) ||
            !(rad > 0) || !isfinite(rad))
            continue;
        if (filter && !(v >= s->point_filter_lo && v <= s->point_filter_hi)) continue;
        float x0, y0, x1, y1;
        if (!rvr__cam_sphere_bounds(cam, c, rad, &x0, &y0, &x1, &y1)) continue;
        /* full-res pixels -> traced rays (ray ci sits at the centre of block ci) */
        float fx0 = x0 / lod - 1, fx1 = x1 / lod + 1, fy0 = y0 / lod - 1, fy1 = y1 / lod + 1;
        if (fx1 < 0 || fy1 < 0 || fx0 >= tw || fy0 >= th) continue;
        int ax0 = fx0 < 0 ? 0 : (int)fx0, ay0 = fy0 < 0 ? 0 : (int)fy0;
        int ax1 = fx1 >= tw ? tw - 1 : (int)fx1, ay1 = fy1 >= th ? th - 1 : (int)fy1;
        int t0x = ax0 / RVR_TILE, t1x = ax1 / RVR_TILE, t0y = ay0 / RVR_TILE, t1y = ay1 / RVR_TILE;
        box[4 * i] = t0x;
        box[4 * i + 1] = t0y;
        box[4 * i + 2] = t1x;
        box[4 * i + 3] = t1y;
        pp->rad[i] = rad;
        cmap_eval(r, clo, chi, v, pp->col + 3 * i);
        for (int ty = t0y; ty <= t1y; ty++)
            for (int tx = t0x; tx <= t1x; tx++) pp->start[(size_t)ty * pp->ntx + tx + 1]++;
        total += (uint64_t)(t1x - t0x + 1) * (t1y - t0y + 1);
        pp->drawn++;
    }
    if (total > UINT32_MAX) goto nomem;
    for (uint64_t t = 0; t < ntiles; t++) pp->start[t + 1] += pp->start[t];
    pp->idx = malloc((total ? total : 1) * sizeof(uint32_t));
    uint32_t *fill = malloc(ntiles * sizeof(uint32_t));
    if (!pp->idx || !fill) {
        free(fill);
        goto nomem;
    }
    memcpy(fill, pp->start, ntiles * sizeof(uint32_t));
    for (uint64_t i = 0; i < n; i++) {
        if (box[4 * i] < 0) continue;
        for (int ty = box[4 * i + 1]; ty <= box[4 * i + 3]; ty++)
            for (int tx = box[4 * i]; tx <= box[4 * i + 2]; tx++)
                pp->idx[fill[(size_t)ty * pp->ntx + tx]++] = (uint32_t)i;
    }
    free(fill);
    free(box);
    return RVR_OK;
nomem:
    free(box);
    rvr__points_free(pp);
    return RVR_ERR_NOMEM;
}

void rvr__points_tile(const rvr_renderer *r, const rvr_pointpass *pp, int tile, int nrays,
                      const float (*ro)[3], const float (*rd)[3], float *tau, int32_t *hit) {
    for (int k = 0; k < nrays; k++) {
        tau[k] = INFINITY;
        hit[k] = -1;
    }
    if (!pp->start) return;
    for (uint32_t q = pp->start[tile]; q < pp->start[tile + 1]; q++) {
        uint32_t i = pp->idx[q];
        const float *c = r->pxyz + 3 * (size_t)i;
        float rad = pp->rad[i], r2 = rad * rad;
        for (int k = 0; k < nrays; k++) {
            float oc[3] = {ro[k][0] - c[0], ro[k][1] - c[1], ro[k][2] - c[2]};
            float b = v3dot(oc, rd[k]);
            float cc = v3dot(oc, oc) - r2;
            float disc = b * b - cc;
            if (disc < 0) continue;
            float sq = sqrtf(disc), t = -b - sq;
            if (t < 0) t = -b + sq; /* ray starts inside the sphere */
            if (t >= 0 && t < tau[k]) {
                tau[k] = t;
                hit[k] = (int32_t)i;
            }
        }
    }
}

void rvr__point_shade(const rvr_renderer *r, const rvr_pointpass *pp, int32_t i, const float o[3],
                      const float d[3], float t, const float L[3], const rvr_render_settings *s,
                      float rgb[3]) {
    const float *c = r->pxyz + 3 * (size_t)i;
    float n[3] = {o[0] + t * d[0] - c[0], o[1] + t * d[1] - c[1], o[2] + t * d[2] - c[2]};
    v3norm(n);
    float ndl = v3dot(n, L);
    ndl = ndl > 0 ? ndl : 0;
    float h[3] = {L[0] - d[0], L[1] - d[1], L[2] - d[2]};
    v3norm(h);
    float ndh = v3dot(n, h);
    ndh = ndh > 0 ? ndh : 0;
    float spec = s->specular * schlick_pow(ndh, s->shininess);
    float sh = s->ambient + s->diffuse * ndl;
    const float *col = pp->col + 3 * (size_t)i;
    for (int k = 0; k < 3; k++) rgb[k] = col[k] * sh + spec;
}
