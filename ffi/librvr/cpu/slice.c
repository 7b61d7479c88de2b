/* slice.c - 2D images of the volume on a plane (axis-aligned or oblique). */
#include "gpu.h"
#include "labels.h"

#include <stdlib.h>
#include <string.h>

int rvr_renderer_slice_axis(const rvr_renderer *r, int32_t axis, uint64_t index, rvr_slice *out,
                            uint32_t *width, uint32_t *height) {
    if (!r || !out || !width || !height || axis < 0 || axis > 2) return RVR_ERR_INVALID;
    if (!r->has_volume) return RVR_ERR_NO_VOLUME;
    if (index >= r->desc.shape[axis]) return RVR_ERR_RANGE;
    /* world extents along x, y, z */
    const float ex = r->nx * r->spacing[0], ey = r->ny * r->spacing[1], ez = r->nz * r->spacing[2];
    rvr_slice s;
    memset(&s, 0, sizeof s);
    uint32_t w, h;
    float pos = ((float)index + 0.5f);
    if (axis == 0) { /* z layer: image x = x, image y = y */
        s.origin[0] = ex / 2; s.origin[1] = ey / 2; s.origin[2] = pos * r->spacing[2];
        s.u[0] = ex; s.v[1] = ey;
        w = (uint32_t)r->nx; h = (uint32_t)r->ny;
    } else if (axis == 1) { /* y layer: image x = x, image y = z */
        s.origin[0] = ex / 2; s.origin[1] = pos * r->spacing[1]; s.origin[2] = ez / 2;
        s.u[0] = ex; s.v[2] = ez;
        w = (uint32_t)r->nx; h = (uint32_t)r->nz;
    } else { /* x layer: image x = y, image y = z */
        s.origin[0] = pos * r->spacing[0]; s.origin[1] = ey / 2; s.origin[2] = ez / 2;
        s.u[1] = ey; s.v[2] = ez;
        w = (uint32_t)r->ny; h = (uint32_t)r->nz;
    }
    *out = s;
    *width = w;
    *height = h;
    return RVR_OK;
}

int rvr_render_slice(rvr_renderer *r, const rvr_slice *sl, const rvr_render_settings *s, uint32_t W,
                     uint32_t H, uint8_t *rgba, uint64_t rgba_bytes, rvr_render_stats *stats) {
    double t_start = rvr__now_ms();
    if (!r || !sl || !s || !rgba || W == 0 || H == 0 || W > 32768 || H > 32768)
        return RVR_ERR_INVALID;
    int rc = rvr__settings_check(s);
    if (rc) return rc;
    for (int k = 0; k < 3; k++)
        if (!isfinite(sl->origin[k]) || !isfinite(sl->u[k]) || !isfinite(sl->v[k]))
            return RVR_ERR_INVALID;
    if (!r->has_volume) return RVR_ERR_NO_VOLUME;
    if (rgba_bytes < (uint64_t)W * H * 4) return RVR_ERR_SIZE;
    if (r->backend == RVR_BACKEND_CUDA) return rvr__gpu_slice(r, sl, s, W, H, rgba, stats, t_start);
    rvr__progress_settle(r); /* slices show the full form (RVR_VOLUME_PROGRESSIVE) */
    float (*lut)[4] = malloc(sizeof(float) * 4 * RVR_LUT_N);
    if (!lut) return RVR_ERR_NOMEM;
    rvr__lut_build_plain(r, lut);
    const rvr_grid *g = &r->grid;
    const float inv_s[3] = {1.0f / r->spacing[0], 1.0f / r->spacing[1], 1.0f / r->spacing[2]};
    const float lim[3] = {r->nx - 0.5f, r->ny - 0.5f, r->nz - 0.5f};
    const int nearest = (s->flags & RVR_F_NEAREST) != 0, gray = (s->flags & RVR_F_GRAY) != 0;
    const int clip = (s->flags & RVR_F_CLIP_BOX) != 0, pm = (s->flags & RVR_F_PREMULTIPLIED) != 0;
    const float *bg = s->background;
    const int nt = rvr__nthreads(r);
    /* labels: outlined (one pixel step along u and v, index space) or filled (RVR_F_LABEL_FILL) */
    const rvr_labels *L = rvr__labels_for(r);
    float du[3], dv[3];
    for (int k = 0; k < 3; k++) du[k] = sl->u[k] / (float)W * inv_s[k], dv[k] = sl->v[k] / (float)H * inv_s[k];
    const int outline = !(s->flags & RVR_F_LABEL_FILL);
    _Pragma("omp parallel for schedule(dynamic, 4) num_threads(nt)")
    for (uint32_t j = 0; j < H; j++)
        for (uint32_t i = 0; i < W; i++) {
            float a = ((float)i + 0.5f) / (float)W - 0.5f, b = ((float)j + 0.5f) / (float)H - 0.5f;
            float p[3], q[3];
            int inside = 1;
            for (int k = 0; k < 3; k++) {
                p[k] = sl->origin[k] + a * sl->u[k] + b * sl->v[k];
                q[k] = p[k] * inv_s[k] - 0.5f;
                if (!(q[k] >= -0.5f && q[k] <= lim[k])) inside = 0;
                if (clip && !(p[k] >= s->clip_min[k] && p[k] <= s->clip_max[k])) inside = 0;
            }
            for (uint32_t pl = 0; pl < s->num_planes && inside; pl++) {
                const float *n = s->planes[pl];
                if (n[0] * p[0] + n[1] * p[1] + n[2] * p[2] + n[3] < 0) inside = 0;
            }
            float acc[4] = {0, 0, 0, 0};
            if (inside) {
                rvr_loc l = grid_locate(g, q[0], q[1], q[2]);
                float v = nearest ? brick_nearest(l.b, l.x, l.y, l.z) : brick_trilinear(l.b, l.x, l.y, l.z);
                if (gray) {
                    acc[0] = acc[1] = acc[2] = v / 65535.0f;
                    acc[3] = 1;
                } else {
                    const float *c = lut[(int)v >> 4];
                    for (int k = 0; k < 3; k++) acc[k] = c[k] * c[3];
                    acc[3] = c[3];
                }
                if (L) rvr__labels_slice_px(L, q, du, dv, outline, acc);
            }
            float w = 1 - acc[3], oa = acc[3] + w * bg[3], o[3];
            for (int k = 0; k < 3; k++) o[k] = acc[k] + w * bg[k] * bg[3];
            if (!pm)
                for (int k = 0; k < 3; k++) o[k] = oa > 0 ? o[k] / oa : 0;
            uint8_t *px = rgba + ((size_t)j * W + i) * 4;
            for (int k = 0; k < 4; k++) {
                float c = k < 3 ? o[k] : oa;
                px[k] = !(c > 0) ? 0 : (c >= 1 ? 255 : (uint8_t)(c * 255.0f + 0.5f));
            }
        }
    free(lut);
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
