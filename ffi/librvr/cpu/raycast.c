/* raycast.c - rvr_render: tiles of rays (OpenMP, dynamic), per ray the volume between the
 * clip bounds and the nearest point sphere; composite / MIP / MinIP / average / iso. */
#include "gpu.h"
#include "labels.h"
#include "points.h"

#include <float.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Everything a ray needs, fixed for one frame. */
typedef struct frame {
    const rvr_renderer *r;
    const rvr_render_settings *s;
    rvr_cam cam;
    rvr_grid g;
    int has_vol, mode, nearest, shading;
    float dt, ert;
    float inv_s[3];       /* 1 / spacing (x, y, z) */
    float hi[3];          /* volume box in index space: [-0.5, hi] */
    int clip_box;
    float clo[3], chi[3]; /* clip box, index space */
    const float (*lut)[4];
    const uint8_t *empty; /* per brick: nothing visible in it (NULL: no skipping) */
    const uint16_t *bmin, *bmax;
    int skip_proj;        /* MIP/MinIP brick skipping */
    int bx, byx;
    float iso16;
    float iso_rgb[3];
    int headlight;
    float Lw[3];          /* fixed light (world, toward light) */
    float li_off[3];      /* S2 lookup offset: one light-grid cell toward the light (index space) */
    const rvr_fgrid *light, *ao;
    const rvr_labels *labels; /* segmentation labels to tint with (NULL: none) */
    const uint8_t *occ;       /* the occluder (rvr_renderer_set_occluder) when it applies, else NULL */
    int occ_min;              /* its alpha byte that hides a ray */
    int ox0, oy0, ox1, oy1;   /* where it is read */
} frame;

/* The least alpha byte of the occluder over pixels [x0, x1) x [y0, y1) of the W-wide image: 0
 * where they are not all where it is read. Each pixel is one 4-byte load: another renderer may
 * be writing them. */
static int occ_alpha(const frame *F, int W, int x0, int x1, int y0, int y1) {
    if (x0 < F->ox0 || x1 > F->ox1 || y0 < F->oy0 || y1 > F->oy1) return 0;
    int a = 255;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const uint32_t px = __atomic_load_n((const uint32_t *)(F->occ + ((size_t)y * W + x) * 4), __ATOMIC_RELAXED);
            const int pa = (int)(px >> 24); /* alpha: byte 3, little-endian */
            a = pa < a ? pa : a;
        }
    return a;
}

int rvr__settings_check(const rvr_render_settings *s) {
    const uint32_t known = RVR_F_NEAREST | RVR_F_GRAY | RVR_F_PREMULTIPLIED | RVR_F_CLIP_BOX |
                           RVR_F_POINT_FILTER | RVR_F_NO_SKIP | RVR_F_NO_ERT | RVR_F_HIDE_VOLUME |
                           RVR_F_JITTER | RVR_F_LABEL_FILL | RVR_F_ROWS_UP;
    if (s->mode < RVR_MODE_COMPOSITE || s->mode > RVR_MODE_ISO) return RVR_ERR_INVALID;
    if (s->flags & ~known) return RVR_ERR_INVALID;
    if (s->shading & ~(RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO)) return RVR_ERR_INVALID;
    if (!(s->step >= 0 && s->step <= 64)) return RVR_ERR_INVALID;
    if (!(s->ert_alpha >= 0 && s->ert_alpha <= 1)) return RVR_ERR_INVALID;
    if (s->lod > 64 || s->num_planes > RVR_MAX_CLIP_PLANES) return RVR_ERR_INVALID;
    const float nums[] = {s->step, s->ert_alpha, s->iso_value, s->ambient, s->diffuse, s->specular,
                          s->shininess, s->ao_radius, s->point_scale, s->point_filter_lo,
                          s->point_filter_hi, s->point_cmap_lo, s->point_cmap_hi};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (nums[i] != nums[i]) return RVR_ERR_INVALID;
    for (int k = 0; k < 4; k++)
        if (!isfinite(s->background[k])) return RVR_ERR_INVALID;
    for (int k = 0; k < 3; k++)
        if (!isfinite(s->light_dir[k]) || s->clip_min[k] != s->clip_min[k] || s->clip_max[k] != s->clip_max[k])
            return RVR_ERR_INVALID;
    for (uint32_t p = 0; p < s->num_planes; p++)
        for (int k = 0; k < 4; k++)
            if (!isfinite(s->planes[p][k])) return RVR_ERR_INVALID;
    if (!(s->iso_value >= 0 && s->iso_value <= 1)) return RVR_ERR_INVALID;
    if (!(s->ao_radius >= 0) || !isfinite(s->ao_radius)) return RVR_ERR_INVALID;
    return RVR_OK;
}

/* Slab test of a ray against [lo, hi] per axis; narrows [*t0, *t1]. */
static inline void clip_box(const float o[3], const float d[3], const float lo[3],
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

/* Index-space ray of a world ray, and its sample interval. Returns 0 when no sample. */
typedef struct ray {
    float o[3], d[3];
    float tv0;      /* grid anchor: entry into the volume box */
    float t0, t1;   /* samples with t0 <= t < t1 */
    int k0;         /* first sample index */
    float L;        /* index-space length per world length */
} ray;

/* jit: the sample grid's offset in steps (0.5 = centred, the default; RVR_F_JITTER varies it). */
static int ray_setup(const frame *F, const float ow[3], const float dw[3], float tau_max, float jit, ray *R) {
    float dr[3];
    for (int k = 0; k < 3; k++) {
        R->o[k] = ow[k] * F->inv_s[k] - 0.5f;
        dr[k] = dw[k] * F->inv_s[k];
    }
    float L = sqrtf(v3dot(dr, dr));
    for (int k = 0; k < 3; k++) R->d[k] = dr[k] / L;
    R->L = L;
    const float lo[3] = {-0.5f, -0.5f, -0.5f};
    float tv0 = 0, tv1 = INFINITY;
    clip_box(R->o, R->d, lo, F->hi, &tv0, &tv1);
    if (!(tv0 < tv1)) return 0;
    float t0 = tv0, t1 = tv1;
    if (F->clip_box) clip_box(R->o, R->d, F->clo, F->chi, &t0, &t1);
    const rvr_render_settings *s = F->s;
    for (uint32_t p = 0; p < s->num_planes; p++) {
        const float *pl = s->planes[p];
        float nd = pl[0] * dw[0] + pl[1] * dw[1] + pl[2] * dw[2];
        float no = pl[0] * ow[0] + pl[1] * ow[1] + pl[2] * ow[2] + pl[3];
        if (nd == 0.0f) {
            if (no < 0) return 0;
        } else {
            float tp = -no / nd * L; /* index-space t where the plane is crossed */
            if (nd > 0) {
                if (tp > t0) t0 = tp;
            } else if (tp < t1) {
                t1 = tp;
            }
        }
    }
    if (tau_max * L < t1) t1 = tau_max * L;
    if (!(t0 < t1)) return 0;
    /* The loops sample at tv0 + (k + 0.5) dt: moving the anchor by (jit - 0.5) dt moves the grid. */
    tv0 += (jit - 0.5f) * F->dt;
    int k0 = (int)ceilf((t0 - tv0) / F->dt - 0.5f);
    if (k0 < 0) k0 = 0;
    while (tv0 + (k0 + 0.5f) * F->dt < t0) k0++;
    R->tv0 = tv0;
    R->t0 = t0;
    R->t1 = t1;
    R->k0 = k0;
    return 1;
}

/* Brick of a position inside the volume box, and the ray parameter where the ray leaves it. */
static inline int brick_of(const frame *F, float x, float y, float z) {
    return (((int)z) >> RVR_BRICK_LOG2) * F->byx + (((int)y) >> RVR_BRICK_LOG2) * F->bx +
           (((int)x) >> RVR_BRICK_LOG2);
}
static inline int brick_next_k(const frame *F, const ray *R, float x, float y, float z, int k) {
    const float p[3] = {x, y, z};
    float te = INFINITY;
    for (int a = 0; a < 3; a++) {
        int b = ((int)p[a]) >> RVR_BRICK_LOG2;
        float t;
        if (R->d[a] > 0) t = ((b + 1) * RVR_BRICK - R->o[a]) / R->d[a];
        else if (R->d[a] < 0) t = ((b == 0 ? -1.0f : (float)(b * RVR_BRICK)) - R->o[a]) / R->d[a];
        else continue;
        te = t < te ? t : te;
    }
    int kn = (int)ceilf((te - R->tv0) / F->dt - 0.5f);
    return kn > k ? kn : k + 1;
}

/* Value at brick-local position (x, y, z) of brick b. */
static inline float lsample(const frame *F, const uint16_t *b, float x, float y, float z) {
    return F->nearest ? brick_nearest(b, x, y, z) : brick_trilinear(b, x, y, z);
}
static inline float sample(const frame *F, float x, float y, float z) {
    rvr_loc l = grid_locate(&F->g, x, y, z);
    return lsample(F, l.b, l.x, l.y, l.z);
}

/* Shading factor for a sample at (x, y, z) (l: its brick-local position):
 * out = (rgb * sh + spec * a). */
static inline void shade(const frame *F, const rvr_loc *l, float x, float y, float z,
                         const float L[3], const float H[3], float *sh, float *spec) {
    const rvr_render_settings *s = F->s;
    float dif = s->diffuse, sp = 0, amb = s->ambient;
    if (F->shading & RVR_SHADE_LOCAL) {
        const uint16_t *b = l->b;
        const float lx = l->x, ly = l->y, lz = l->z;
        float gx, gy, gz;
        if (F->nearest) {
            gx = brick_nearest(b, lx + 1, ly, lz) - brick_nearest(b, lx - 1, ly, lz);
            gy = brick_nearest(b, lx, ly + 1, lz) - brick_nearest(b, lx, ly - 1, lz);
            gz = brick_nearest(b, lx, ly, lz + 1) - brick_nearest(b, lx, ly, lz - 1);
        } else {
            float gr[3];
            brick_gradient(b, lx, ly, lz, gr);
            gx = gr[0];
            gy = gr[1];
            gz = gr[2];
        }
        if (gx * gx + gy * gy + gz * gz > 1.0f) {
            gx *= F->inv_s[0];
            gy *= F->inv_s[1];
            gz *= F->inv_s[2];
            float inv = 1.0f / sqrtf(gx * gx + gy * gy + gz * gz);
            float ndl = fabsf(gx * L[0] + gy * L[1] + gz * L[2]) * inv;
            float ndh = fabsf(gx * H[0] + gy * H[1] + gz * H[2]) * inv;
            dif *= ndl;
            sp = s->specular * schlick_pow(ndh, s->shininess);
        }
    }
    if (F->shading & RVR_SHADE_SHADOW) {
        float T = fgrid_sample(F->light, x + F->li_off[0], y + F->li_off[1], z + F->li_off[2]);
        dif *= T;
        sp *= T;
    }
    if (F->shading & RVR_SHADE_AO) amb *= fgrid_sample(F->ao, x, y, z);
    *sh = amb + dif;
    *spec = sp;
}

static void trace_composite(const frame *F, const ray *R, const float L[3], const float H[3], float ert,
                            float acc[4], uint64_t *ns) {
    const float dt = F->dt, tv0 = R->tv0, t1 = R->t1;
    const float ox = R->o[0], oy = R->o[1], oz = R->o[2], dx = R->d[0], dy = R->d[1], dz = R->d[2];
    const float (*lut)[4] = F->lut;
    const uint8_t *empty = F->empty;
    uint64_t n = 0;
    float r = 0, g = 0, b = 0, a = 0;
    int k = R->k0;
    for (float t = tv0 + (k + 0.5f) * dt; t < t1; t = tv0 + (k + 0.5f) * dt) {
        float x = ox + t * dx, y = oy + t * dy, z = oz + t * dz;
        if (empty && empty[brick_of(F, x, y, z)]) {
            k = brick_next_k(F, R, x, y, z, k);
            continue;
        }
        k++;
        rvr_loc l = grid_locate(&F->g, x, y, z);
        float v = lsample(F, l.b, l.x, l.y, l.z);
        n++;
        const float *e = lut[(int)v >> 4];
        if (e[3] <= 0.0f) continue;
        float tint[4];
        if (F->labels) e = labels_tint(F->labels, x, y, z, e, tint);
        float w = 1.0f - a;
        if (F->shading) {
            float sh, sp;
            shade(F, &l, x, y, z, L, H, &sh, &sp);
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
    acc[0] = r;
    acc[1] = g;
    acc[2] = b;
    acc[3] = a;
    *ns += n;
}

/* MIP / MinIP / average: returns the value (uint16 scale) or -1 when the ray took no sample. */
static float trace_project(const frame *F, const ray *R, uint64_t *ns) {
    const float dt = F->dt, tv0 = R->tv0, t1 = R->t1;
    const int mode = F->mode;
    float best = mode == RVR_MODE_MIP ? -1.0f : 65536.0f;
    double sum = 0;
    uint64_t n = 0;
    int k = R->k0;
    for (float t = tv0 + (k + 0.5f) * dt; t < t1; t = tv0 + (k + 0.5f) * dt) {
        float x = R->o[0] + t * R->d[0], y = R->o[1] + t * R->d[1], z = R->o[2] + t * R->d[2];
        if (F->skip_proj) {
            int bi = brick_of(F, x, y, z);
            if (mode == RVR_MODE_MIP ? (float)F->bmax[bi] <= best : (float)F->bmin[bi] >= best) {
                k = brick_next_k(F, R, x, y, z, k);
                continue;
            }
        }
        k++;
        float v = sample(F, x, y, z);
        n++;
        if (mode == RVR_MODE_MIP) best = v > best ? v : best;
        else if (mode == RVR_MODE_MINIP) best = v < best ? v : best;
        else sum += v;
    }
    *ns += n;
    if (mode == RVR_MODE_AVERAGE) return n ? (float)(sum / (double)n) : -1.0f;
    if (mode == RVR_MODE_MIP) return best;
    return best > 65535.0f ? -1.0f : best;
}

/* ISO: first sample >= iso, refined linearly against the previous sample. Returns 1 on a hit. */
static int trace_iso(const frame *F, const ray *R, const float L[3], const float H[3], float acc[4],
                     uint64_t *ns) {
    const float dt = F->dt, tv0 = R->tv0, t1 = R->t1, iso = F->iso16;
    uint64_t n = 0;
    int k = R->k0, prev_ok = 0;
    float prev_v = 0;
    for (float t = tv0 + (k + 0.5f) * dt; t < t1; t = tv0 + (k + 0.5f) * dt) {
        float x = R->o[0] + t * R->d[0], y = R->o[1] + t * R->d[1], z = R->o[2] + t * R->d[2];
        if (F->empty && F->empty[brick_of(F, x, y, z)]) {
            k = brick_next_k(F, R, x, y, z, k);
            prev_ok = 0;
            continue;
        }
        float v = sample(F, x, y, z);
        n++;
        if (v >= iso) {
            float th = t;
            if (k > R->k0) {
                if (!prev_ok) {
                    float tp = t - dt;
                    prev_v = sample(F, R->o[0] + tp * R->d[0], R->o[1] + tp * R->d[1], R->o[2] + tp * R->d[2]);
                }
                if (prev_v < iso) th = t - dt + (iso - prev_v) / (v - prev_v) * dt;
            }
            float hx = R->o[0] + th * R->d[0], hy = R->o[1] + th * R->d[1], hz = R->o[2] + th * R->d[2];
            float sh, sp;
            rvr_loc l = grid_locate(&F->g, hx, hy, hz);
            shade(F, &l, hx, hy, hz, L, H, &sh, &sp);
            float rgb[3] = {F->iso_rgb[0], F->iso_rgb[1], F->iso_rgb[2]};
            if (F->labels) {
                int lk = labels_at(F->labels, hx, hy, hz);
                if (F->labels->drawn[lk])
                    for (int c = 0; c < 3; c++) rgb[c] += F->labels->rgba[lk][3] * (F->labels->rgba[lk][c] - rgb[c]);
            }
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

static inline uint8_t to8(float v) {
    if (!(v > 0)) return 0;
    if (v >= 1) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

/* acc: premultiplied colour of the ray (volume + points); composite over the background. */
static inline void write_px(const rvr_render_settings *s, const float acc[4], uint8_t *px) {
    const float *bg = s->background;
    float w = 1 - acc[3];
    float oa = acc[3] + w * bg[3];
    float o[3];
    for (int c = 0; c < 3; c++) o[c] = acc[c] + w * bg[c] * bg[3];
    if (!(s->flags & RVR_F_PREMULTIPLIED)) {
        float inv = oa > 0 ? 1.0f / oa : 0.0f;
        for (int c = 0; c < 3; c++) o[c] *= inv;
    }
    px[0] = to8(o[0]);
    px[1] = to8(o[1]);
    px[2] = to8(o[2]);
    px[3] = to8(oa);
}

int rvr_render(rvr_renderer *r, const rvr_camera *cam, const rvr_render_settings *s, uint32_t W,
               uint32_t H, uint8_t *rgba, uint64_t rgba_bytes, rvr_render_stats *stats) {
    const rvr_region all = {0, 0, W, H};
    return rvr_render_region(r, cam, s, W, H, &all, rgba, rgba_bytes, stats);
}

int rvr_render_region(rvr_renderer *r, const rvr_camera *cam, const rvr_render_settings *s, uint32_t W,
                      uint32_t H, const rvr_region *region, uint8_t *rgba, uint64_t rgba_bytes,
                      rvr_render_stats *stats) {
    return rvr_render_region_rows(r, cam, s, W, H, region, rgba, rgba_bytes, NULL, NULL, stats);
}

int rvr_render_region_rows(rvr_renderer *r, const rvr_camera *cam, const rvr_render_settings *s, uint32_t W,
                           uint32_t H, const rvr_region *region, uint8_t *rgba, uint64_t rgba_bytes, rvr_rows_fn fn,
                           void *user, rvr_render_stats *stats) {
    double t_start = rvr__now_ms();
    if (!r || !cam || !s || !rgba || !region || W == 0 || H == 0 || W > 32768 || H > 32768)
        return RVR_ERR_INVALID;
    const rvr_region g = *region;
    if (g.width == 0 || g.height == 0 || g.x >= W || g.y >= H || g.width > W - g.x || g.height > H - g.y)
        return RVR_ERR_INVALID;
    int rc = rvr__settings_check(s);
    if (rc) return rc;
    if (rgba_bytes < (uint64_t)W * H * 4) return RVR_ERR_SIZE;
    frame F;
    memset(&F, 0, sizeof F);
    if ((rc = rvr__cam_setup(cam, W, H, &F.cam))) return rc;
    if (r->backend == RVR_BACKEND_CUDA) return rvr__gpu_render(r, &F.cam, s, W, H, &g, rgba, fn, user, stats, t_start);
    F.r = r;
    F.s = s;
    F.mode = s->mode;
    F.nearest = (s->flags & RVR_F_NEAREST) != 0;
    F.shading = (int)s->shading;
    if (F.mode == RVR_MODE_ISO && !F.shading) F.shading = RVR_SHADE_LOCAL;
    if (F.mode != RVR_MODE_COMPOSITE && F.mode != RVR_MODE_ISO) F.shading = 0;
    F.dt = s->step > 0 ? s->step : 1.0f;
    F.ert = (s->flags & RVR_F_NO_ERT) ? 2.0f : (s->ert_alpha > 0 ? s->ert_alpha : 0.99f);
    F.has_vol = r->has_volume && !(s->flags & RVR_F_HIDE_VOLUME);
    if (r->occ && r->occ_w == W && r->occ_h == H && (F.mode == RVR_MODE_COMPOSITE || F.mode == RVR_MODE_ISO) && F.ert < 1) {
        F.occ = r->occ, F.occ_min = rvr__occ_min(F.ert);
        F.ox0 = (int)r->occ_at.x, F.oy0 = (int)r->occ_at.y;
        F.ox1 = F.ox0 + (int)r->occ_at.width, F.oy1 = F.oy0 + (int)r->occ_at.height;
    }
    const int lod = s->lod > 1 ? (int)s->lod : 1;
    /* the full form, or a coarse copy for a preview while the full form converts (progressive.c):
     * its voxels are f times larger, so opacity per step and the box follow; S1 shading only */
    const rvr_level lv = F.has_vol ? rvr__level_for_frame(r, lod) : (rvr_level){.f = 1};
    if (lv.f > 1) F.shading &= ~(RVR_SHADE_SHADOW | RVR_SHADE_AO);
    F.labels = F.has_vol && lv.f == 1 ? rvr__labels_for(r) : NULL;
    const int tw = ((int)W + lod - 1) / lod, th = ((int)H + lod - 1) / lod;

    float (*lut)[4] = NULL;
    uint8_t *empty = NULL;
    double pre_ms = 0;
    rvr_pointpass pp;
    memset(&pp, 0, sizeof pp);
    F.headlight = !(s->light_dir[0] != 0 || s->light_dir[1] != 0 || s->light_dir[2] != 0);
    if (!F.headlight) {
        memcpy(F.Lw, s->light_dir, sizeof F.Lw);
        v3norm(F.Lw);
    } else {
        for (int k = 0; k < 3; k++) F.Lw[k] = -F.cam.fwd[k];
    }

    if (F.has_vol) {
        F.g = lv.g;
        for (int k = 0; k < 3; k++) F.inv_s[k] = 1.0f / (r->spacing[k] * (float)lv.f);
        F.hi[0] = (float)r->nx / (float)lv.f - 0.5f;
        F.hi[1] = (float)r->ny / (float)lv.f - 0.5f;
        F.hi[2] = (float)r->nz / (float)lv.f - 0.5f;
        if (s->flags & RVR_F_CLIP_BOX) {
            F.clip_box = 1;
            for (int k = 0; k < 3; k++) {
                F.clo[k] = s->clip_min[k] * F.inv_s[k] - 0.5f;
                F.chi[k] = s->clip_max[k] * F.inv_s[k] - 0.5f;
            }
        }
        F.bx = lv.bx;
        F.byx = lv.bx * lv.by;
        F.bmin = lv.bmin;
        F.bmax = lv.bmax;
        lut = malloc(sizeof(float) * 4 * RVR_LUT_N);
        if (!lut) return RVR_ERR_NOMEM;
        if (F.mode == RVR_MODE_COMPOSITE) rvr__lut_build(r, F.dt * (float)lv.f, lut);
        else rvr__lut_build_plain(r, lut);
        F.lut = (const float(*)[4])lut;
        F.iso16 = s->iso_value * 65535.0f;
        if (F.mode == RVR_MODE_ISO) {
            const float *c = lut[(int)F.iso16 >> 4];
            for (int k = 0; k < 3; k++) F.iso_rgb[k] = c[k];
        }
        const size_t nb = (size_t)lv.bx * lv.by * lv.bz;
        const int skip = !(s->flags & RVR_F_NO_SKIP);
        if (skip && (F.mode == RVR_MODE_COMPOSITE || F.mode == RVR_MODE_ISO)) {
            empty = malloc(nb);
            if (!empty) {
                free(lut);
                return RVR_ERR_NOMEM;
            }
            int cnt[RVR_LUT_N + 1];
            cnt[0] = 0;
            for (int i = 0; i < RVR_LUT_N; i++) cnt[i + 1] = cnt[i] + (lut[i][3] > 0);
            for (size_t b = 0; b < nb; b++) {
                if (F.mode == RVR_MODE_ISO) {
                    empty[b] = (float)lv.bmax[b] < F.iso16;
                } else {
                    int lo = (lv.bmin[b] >> 4) - 1, hi = (lv.bmax[b] >> 4) + 1;
                    lo = lo < 0 ? 0 : lo;
                    hi = hi > RVR_LUT_N - 1 ? RVR_LUT_N - 1 : hi;
                    empty[b] = cnt[hi + 1] - cnt[lo] == 0;
                }
            }
            F.empty = empty;
        }
        F.skip_proj = skip && (F.mode == RVR_MODE_MIP || F.mode == RVR_MODE_MINIP);
        double p0 = rvr__now_ms();
        if (F.shading & RVR_SHADE_SHADOW) {
            rc = rvr__light_ensure(r, F.Lw);
            if (rc) goto out;
            F.light = &r->light;
            float li[3] = {F.Lw[0] * F.inv_s[0], F.Lw[1] * F.inv_s[1], F.Lw[2] * F.inv_s[2]};
            v3norm(li);
            for (int k = 0; k < 3; k++) F.li_off[k] = li[k] * (float)r->light.f;
        }
        if (F.shading & RVR_SHADE_AO) {
            rc = rvr__ao_ensure(r, s->ao_radius);
            if (rc) goto out;
            F.ao = &r->ao;
        }
        pre_ms = rvr__now_ms() - p0;
    }
    if ((rc = rvr__points_prepare(r, s, &F.cam, lod, tw, th, &pp))) goto out;

    const int ntx = (tw + RVR_TILE - 1) / RVR_TILE;
    /* the region in ray cells [gx0, gx1) x [gy0, gy1), and the tiles that hold them; tiles keep
     * their places in the whole grid (points are binned by them, jitter follows the cell) */
    const int rx0 = (int)g.x, ry0 = (int)g.y, rx1 = (int)(g.x + g.width), ry1 = (int)(g.y + g.height);
    const int gx0 = rx0 / lod, gy0 = ry0 / lod, gx1 = (rx1 + lod - 1) / lod, gy1 = (ry1 + lod - 1) / lod;
    const int tx0 = gx0 / RVR_TILE, ty0 = gy0 / RVR_TILE, tx1 = (gx1 - 1) / RVR_TILE + 1, ty1 = (gy1 - 1) / RVR_TILE + 1;
    const int rtx = tx1 - tx0, ntiles = rtx * (ty1 - ty0);
    const int nt = rvr__nthreads(r);
    uint64_t total_samples = 0;
    _Pragma("omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(+:total_samples)")
    for (int k = 0; k < ntiles; k++) {
        const int tile = (ty0 + k / rtx) * ntx + tx0 + k % rtx;
        /* this tile's cells within the region */
        int cx0 = (tile % ntx) * RVR_TILE, cy0 = (tile / ntx) * RVR_TILE;
        int cx1 = cx0 + RVR_TILE < tw ? cx0 + RVR_TILE : tw, cy1 = cy0 + RVR_TILE < th ? cy0 + RVR_TILE : th;
        cx0 = cx0 > gx0 ? cx0 : gx0, cy0 = cy0 > gy0 ? cy0 : gy0;
        cx1 = cx1 < gx1 ? cx1 : gx1, cy1 = cy1 < gy1 ? cy1 : gy1;
        const int cw = cx1 - cx0, ch = cy1 - cy0;
        float ro[RVR_TILE * RVR_TILE][3], rd[RVR_TILE * RVR_TILE][3], tau[RVR_TILE * RVR_TILE];
        int32_t hit[RVR_TILE * RVR_TILE];
        const int nr = cw * ch;
        for (int q = 0; q < nr; q++) {
            int ci = cx0 + q % cw, cj = cy0 + q / cw;
            int x0 = ci * lod, y0 = cj * lod;
            int x1 = x0 + lod < (int)W ? x0 + lod : (int)W, y1 = y0 + lod < (int)H ? y0 + lod : (int)H;
            rvr__cam_ray(&F.cam, 0.5f * (float)(x0 + x1), 0.5f * (float)(y0 + y1), ro[q], rd[q]);
        }
        rvr__points_tile(r, &pp, tile, nr, (const float(*)[3])ro, (const float(*)[3])rd, tau, hit);
        uint64_t ns = 0;
        for (int q = 0; q < nr; q++) {
            float acc[4] = {0, 0, 0, 0};
            float L[3], Hh[3];
            if (F.headlight) {
                for (int k = 0; k < 3; k++) L[k] = Hh[k] = -rd[q][k];
            } else {
                for (int k = 0; k < 3; k++) {
                    L[k] = F.Lw[k];
                    Hh[k] = F.Lw[k] - rd[q][k];
                }
                v3norm(Hh);
            }
            ray R;
            const float jit = (s->flags & RVR_F_JITTER) ? rvr__jitter((uint32_t)(cx0 + q % cw), (uint32_t)(cy0 + q / cw)) : 0.5f;
            int hidden = 0;
            float ert = F.ert; /* behind a partly opaque occluder pixel: less */
            if (F.occ) {
                const int ci = cx0 + q % cw, cj = cy0 + q / cw, x0 = ci * lod, y0 = cj * lod;
                const int a8 = occ_alpha(&F, (int)W, x0, x0 + lod < (int)W ? x0 + lod : (int)W, y0, y0 + lod < (int)H ? y0 + lod : (int)H);
                hidden = a8 >= F.occ_min;
                ert = RVR__ERT_BEHIND(F.ert, a8);
            }
            if (!hidden && F.has_vol && ray_setup(&F, ro[q], rd[q], tau[q], jit, &R)) {
                if (F.mode == RVR_MODE_COMPOSITE) {
                    trace_composite(&F, &R, L, Hh, ert, acc, &ns);
                } else if (F.mode == RVR_MODE_ISO) {
                    trace_iso(&F, &R, L, Hh, acc, &ns);
                } else {
                    float v = trace_project(&F, &R, &ns);
                    if (v >= 0) {
                        if (s->flags & RVR_F_GRAY) {
                            float gv = v / 65535.0f;
                            acc[0] = acc[1] = acc[2] = gv;
                            acc[3] = 1;
                        } else {
                            const float *c = F.lut[(int)v >> 4];
                            for (int k = 0; k < 3; k++) acc[k] = c[k] * c[3];
                            acc[3] = c[3];
                        }
                    }
                }
            }
            if (!hidden && hit[q] >= 0 && acc[3] < 1) {
                float prgb[3];
                rvr__point_shade(r, &pp, hit[q], ro[q], rd[q], tau[q], L, s, prgb);
                float w = 1 - acc[3];
                for (int k = 0; k < 3; k++) acc[k] += w * prgb[k];
                acc[3] = 1;
            }
            uint8_t px[4];
            write_px(s, acc, px);
            int ci = cx0 + q % cw, cj = cy0 + q / cw;
            int x0 = ci * lod, y0 = cj * lod;
            int x1 = x0 + lod < (int)W ? x0 + lod : (int)W, y1 = y0 + lod < (int)H ? y0 + lod : (int)H;
            x0 = x0 > rx0 ? x0 : rx0, y0 = y0 > ry0 ? y0 : ry0;
            x1 = x1 < rx1 ? x1 : rx1, y1 = y1 < ry1 ? y1 : ry1;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++) memcpy(rgba + ((size_t)y * W + x) * 4, px, 4);
        }
        total_samples += ns;
    }
    if (stats) {
        rvr_render_stats st;
        memset(&st, 0, sizeof st);
        st.samples = total_samples;
        st.rays = (uint64_t)(gx1 - gx0) * (gy1 - gy0);
        st.precompute_ms = pre_ms;
        st.traced_width = (uint32_t)tw;
        st.traced_height = (uint32_t)th;
        st.points_drawn = pp.drawn;
        st.volume_level = (uint32_t)lv.f;
        st.total_ms = rvr__now_ms() - t_start;
        *stats = st;
    }
    rc = RVR_OK;
    if (fn) fn(user, g.y, g.y + g.height); /* the CPU backend has every row only at the end */
out:
    rvr__points_free(&pp);
    free(empty);
    free(lut);
    return rc;
}
