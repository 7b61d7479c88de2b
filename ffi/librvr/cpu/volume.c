/* volume.c - volumes of every dtype and order -> normalized uint16 (x fastest) + brick min/max. */
#include "gpu.h"
#include "volume.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* One pass over the original data: min, max (NaN ignored) and the NaN count. */
typedef struct vstats {
    double mn, mx;
    uint64_t nans;
} vstats;

/* min/max in the element type (vectorizes for the integer types), NaN counted apart */
#define STATS_LOOP(T, ISNAN)                                                             \
    do {                                                                                 \
        const T *p = (const T *)data;                                                    \
        T mn = (T)0, mx = (T)0;                                                          \
        int any = 0;                                                                     \
        uint64_t nans = 0;                                                               \
        for (uint64_t i = 0; i < n; i++)                                                 \
            if (!(ISNAN(p[i]))) { mn = mx = p[i]; any = 1; break; }                      \
        _Pragma("omp parallel for schedule(static) num_threads(nt) reduction(min:mn) reduction(max:mx) reduction(+:nans)") \
        for (int64_t i = 0; i < (int64_t)n; i++) {                                      \
            T v = p[i];                                                                  \
            if (ISNAN(v)) { nans++; continue; }                                          \
            mn = v < mn ? v : mn;                                                        \
            mx = v > mx ? v : mx;                                                        \
        }                                                                                \
        st->mn = any ? (double)mn : INFINITY;                                            \
        st->mx = any ? (double)mx : -INFINITY;                                           \
        st->nans = nans;                                                                 \
    } while (0)
#define NOT_NAN(v) 0
#define IS_NAN(v) ((v) != (v))

static void stats_compute(const void *data, int32_t dtype, uint64_t n, int nt, vstats *st) {
    switch (dtype) {
    case RVR_DTYPE_U8: STATS_LOOP(uint8_t, NOT_NAN); break;
    case RVR_DTYPE_U16: STATS_LOOP(uint16_t, NOT_NAN); break;
    case RVR_DTYPE_I16: STATS_LOOP(int16_t, NOT_NAN); break;
    case RVR_DTYPE_U32: STATS_LOOP(uint32_t, NOT_NAN); break;
    case RVR_DTYPE_F32: STATS_LOOP(float, IS_NAN); break;
    case RVR_DTYPE_F64: STATS_LOOP(double, IS_NAN); break;
    }
}

static inline uint16_t norm_d(double v, double lo, double scale) {
    if (v != v) return 0; /* NaN -> low end of the window (empty) */
    double t = (v - lo) * scale + 0.5;
    if (t <= 0) return 0;
    if (t >= 65535.0) return 65535;
    return (uint16_t)t;
}

/* One 16^3 skipping brick (i, j, k): min/max of the voxels a sample inside it can touch
 * (the brick plus one voxel on the high side, for trilinear/nearest). */
static void skip_minmax(const rvr_grid *g, const rvr_skipgrid *sk, int i, int j, int k) {
    const int B = RVR_BRICK;
    int x0 = i * B, x1 = x0 + B < g->nx - 1 ? x0 + B : g->nx - 1;
    int y0 = j * B, y1 = y0 + B < g->ny - 1 ? y0 + B : g->ny - 1;
    int z0 = k * B, z1 = z0 + B < g->nz - 1 ? z0 + B : g->nz - 1;
    /* the 16-brick and its +1 apron lie inside one storage brick */
    const uint16_t *sb = grid_brick(g, x0 >> RVR_SB_LOG2, y0 >> RVR_SB_LOG2, z0 >> RVR_SB_LOG2);
    const int ox = (x0 & ~(RVR_SB - 1)) - RVR_SB_PAD, oy = (y0 & ~(RVR_SB - 1)) - RVR_SB_PAD,
              oz = (z0 & ~(RVR_SB - 1)) - RVR_SB_PAD;
    uint16_t mn = 65535, mx = 0;
    for (int z = z0; z <= z1; z++)
        for (int y = y0; y <= y1; y++) {
            const uint16_t *p = sb + ((z - oz) * RVR_SB_DIM + (y - oy)) * RVR_SB_DIM - ox;
            for (int x = x0; x <= x1; x++) {
                uint16_t v = p[x];
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
        }
    size_t b = ((size_t)k * sk->by + j) * sk->bx + i;
    sk->bmin[b] = mn;
    sk->bmax[b] = mx;
}

/* The skipping bricks inside the pencil of storage bricks (by, bz), while it is in cache. */
static void pencil_minmax(const rvr_grid *g, const rvr_skipgrid *sk, int by, int bz) {
    const int r = RVR_SB / RVR_BRICK;
    for (int k = bz * r; k < (bz + 1) * r && k < sk->bz; k++)
        for (int j = by * r; j < (by + 1) * r && j < sk->by; j++)
            for (int i = 0; i < sk->bx; i++) skip_minmax(g, sk, i, j, k);
}

/* Fill every storage brick (with its apron, edges clamped) with normalized values:
 * voxel (x, y, z) is element (z, y, x) of the original array in C or F order. Work items are
 * pencils of bricks along x, so every source row is read once, front to back. */
#define NORM_LOOP(T, CONV)                                                                    \
    do {                                                                                      \
        const T *src = (const T *)data;                                                       \
        const int nx = g->nx, sbx = g->sbx;                                                   \
        _Pragma("omp parallel for schedule(dynamic) collapse(2) num_threads(nt)")             \
        for (int bz = bz0; bz < bz1; bz++)                                                    \
            for (int by = 0; by < g->sby; by++) {                                             \
                for (int lz = 0; lz < RVR_SB_DIM; lz++) {                                     \
                    int64_t z = clampi(bz * RVR_SB + lz - RVR_SB_PAD, 0, g->nz - 1);          \
                    for (int ly = 0; ly < RVR_SB_DIM; ly++) {                                 \
                        int64_t y = clampi(by * RVR_SB + ly - RVR_SB_PAD, 0, g->ny - 1);      \
                        const size_t drow = ((size_t)lz * RVR_SB_DIM + ly) * RVR_SB_DIM;      \
                        for (int bx = 0; bx < sbx; bx++) {                                    \
                            uint16_t *d = (uint16_t *)grid_brick(g, bx, by, bz) + drow;       \
                            const int x0 = bx * RVR_SB - RVR_SB_PAD;                          \
                            if (order == RVR_ORDER_C) {                                       \
                                const T *row = src + (z * s1 + y) * s2;                       \
                                if (x0 >= 0 && x0 + RVR_SB_DIM <= nx) {                       \
                                    const T *sp = row + x0;                                   \
                                    for (int l = 0; l < RVR_SB_DIM; l++) d[l] = CONV(sp[l]); \
                                } else {                                                      \
                                    for (int l = 0; l < RVR_SB_DIM; l++)                      \
                                        d[l] = CONV(row[clampi(x0 + l, 0, nx - 1)]);          \
                                }                                                             \
                            } else {                                                          \
                                const T *sp = src + z + s0 * y;                               \
                                for (int l = 0; l < RVR_SB_DIM; l++)                          \
                                    d[l] = CONV(sp[(int64_t)clampi(x0 + l, 0, nx - 1) * s0 * s1]); \
                            }                                                                 \
                        }                                                                     \
                    }                                                                         \
                }                                                                             \
                pencil_minmax(g, sk, by, bz); /* while the pencil is in cache */                \
            }                                                                                 \
    } while (0)

void rvr__normalize_layers(const void *data, int32_t dtype, int32_t order, const uint64_t shape[3],
                           double lo, double hi, int nt, const rvr_grid *g, const rvr_skipgrid *sk,
                           int bz0, int bz1) {
    const int64_t s0 = (int64_t)shape[0], s1 = (int64_t)shape[1], s2 = (int64_t)shape[2];
    (void)s2;
    const double scale = 65535.0 / (hi - lo);
#define TAB(v) tab[(v)]
#define TAB16(v) tab[(uint16_t)(v)]
#define CONVD(v) norm_d((double)(v), lo, scale)
    if (dtype == RVR_DTYPE_U8) { /* one table of every possible value */
        uint16_t tab[256];
        for (int i = 0; i < 256; i++) tab[i] = norm_d((double)i, lo, scale);
        NORM_LOOP(uint8_t, TAB);
        return;
    }
    uint16_t *tab = dtype == RVR_DTYPE_U16 || dtype == RVR_DTYPE_I16 ? malloc(sizeof(uint16_t) * 65536) : NULL;
    if (tab) { /* 16-bit types: the same, on the heap (without it: converted one by one below) */
        if (dtype == RVR_DTYPE_I16)
            for (int i = 0; i < 65536; i++) tab[i] = norm_d((double)(int16_t)(uint16_t)i, lo, scale);
        else
            for (int i = 0; i < 65536; i++) tab[i] = norm_d((double)i, lo, scale);
        if (dtype == RVR_DTYPE_U16) NORM_LOOP(uint16_t, TAB16);
        else NORM_LOOP(int16_t, TAB16);
        free(tab);
        return;
    }
    if (dtype == RVR_DTYPE_U16) NORM_LOOP(uint16_t, CONVD);
    else if (dtype == RVR_DTYPE_I16) NORM_LOOP(int16_t, CONVD);
    else if (dtype == RVR_DTYPE_U32) NORM_LOOP(uint32_t, CONVD);
    else if (dtype == RVR_DTYPE_F32) NORM_LOOP(float, CONVD);
    else NORM_LOOP(double, CONVD);
}

static void normalize_into(const void *data, int32_t dtype, int32_t order, const uint64_t shape[3],
                           double lo, double hi, int nt, const rvr_grid *g, const rvr_skipgrid *sk) {
    rvr__normalize_layers(data, dtype, order, shape, lo, hi, nt, g, sk, 0, g->sbz);
}

/* Resolve the window: lo == hi -> data range; lo > hi or non-finite -> error. */
static int window_resolve(double lo, double hi, const vstats *st, double *wlo, double *whi) {
    if (!isfinite(lo) || !isfinite(hi) || lo > hi) return RVR_ERR_RANGE;
    if (lo == hi) {
        if (!isfinite(st->mn)) { /* all NaN */
            lo = 0;
            hi = 1;
        } else {
            lo = st->mn;
            hi = st->mx > st->mn ? st->mx : st->mn + 1;
        }
    }
    *wlo = lo;
    *whi = hi;
    return RVR_OK;
}

/* Host-side facts of a new volume (both backends). */
static void commit_facts(rvr_renderer *r, const rvr_volume_desc *desc, const vstats *st, double wlo,
                         double whi) {
    r->desc = *desc;
    r->nx = (int)desc->shape[2];
    r->ny = (int)desc->shape[1];
    r->nz = (int)desc->shape[0];
    r->bx = (r->nx + RVR_BRICK - 1) / RVR_BRICK;
    r->by = (r->ny + RVR_BRICK - 1) / RVR_BRICK;
    r->bz = (r->nz + RVR_BRICK - 1) / RVR_BRICK;
    for (int k = 0; k < 3; k++) r->spacing[k] = desc->spacing[2 - k] > 0 ? desc->spacing[2 - k] : 1.0f;
    r->win_lo = wlo;
    r->win_hi = whi;
    r->data_min = isfinite(st->mn) ? st->mn : NAN;
    r->data_max = isfinite(st->mx) ? st->mx : NAN;
    r->nan_count = st->nans;
    r->has_volume = 1;
    r->vol_version++;
}

/* CUDA backend: the original bytes go to the device, where min/max, normalization and the
 * bricks' min/max are computed; the host keeps only the original bytes (retrieve, window). */
static int gpu_set_volume(rvr_renderer *r, const rvr_volume_desc *desc, const void *data,
                          uint64_t bytes, int streamed) {
    vstats st = {INFINITY, -INFINITY, 0};
    void *copy = NULL;
    double wlo, whi;
    int rc = streamed ? rvr__gpu_upload_end(r, desc, bytes, &st.mn, &st.mx, &st.nans)
                      : rvr__gpu_upload(r, desc, data, bytes, &st.mn, &st.mx, &st.nans);
    if (rc) return rc;
    if ((rc = window_resolve(desc->window_lo, desc->window_hi, &st, &wlo, &whi))) goto fail;
    if (!(desc->flags & RVR_VOLUME_BORROW)) {
        rc = RVR_ERR_NOMEM;
        if (!(copy = malloc(bytes))) goto fail;
        rvr__memcpy_par(copy, data, bytes, rvr__nthreads(r));
    }
    if ((rc = rvr__gpu_commit(r, desc, wlo, whi, st.mn, st.mx))) goto fail;
    free(r->orig_owned);
    r->orig_owned = copy;
    r->orig = copy ? copy : data;
    r->orig_bytes = bytes;
    commit_facts(r, desc, &st, wlo, whi);
    return RVR_OK;
fail:
    rvr__gpu_discard(r);
    free(copy);
    return rc;
}

/* The checks of rvr_renderer_set_volume (rvr.h); *count = the element count. */
static int volume_check(const rvr_renderer *r, const rvr_volume_desc *desc, const void *data,
                        uint64_t bytes, uint64_t *count) {
    if (!r || !desc || !data) return RVR_ERR_INVALID;
    int esz = rvr_dtype_size(desc->dtype);
    if (esz < 0) return RVR_ERR_DTYPE;
    if (desc->order != RVR_ORDER_C && desc->order != RVR_ORDER_F) return RVR_ERR_INVALID;
    if (desc->flags & ~(RVR_VOLUME_BORROW | RVR_VOLUME_PROGRESSIVE)) return RVR_ERR_INVALID;
    uint64_t n = 1;
    for (int k = 0; k < 3; k++) {
        uint64_t s = desc->shape[k];
        if (s == 0) return RVR_ERR_INVALID;
        if (s > (1u << 30)) return RVR_ERR_SIZE; /* int indices per axis */
        if (n > UINT64_MAX / s) return RVR_ERR_SIZE;
        n *= s;
        float sp = desc->spacing[k];
        if (sp != 0 && (!(sp > 0) || !isfinite(sp))) return RVR_ERR_INVALID;
    }
    if (n > UINT64_MAX / (uint64_t)esz || n * (uint64_t)esz != bytes) return RVR_ERR_SIZE;
    if (!isfinite(desc->window_lo) || !isfinite(desc->window_hi) ||
        desc->window_lo > desc->window_hi)
        return RVR_ERR_RANGE;
    *count = n;
    return RVR_OK;
}

/* ---- a volume taken while it arrives (rvr.h: rvr_renderer_volume_begin) ---- */

/* Threads for work done while a transfer runs: the transfer's own threads stay free. Sender
 * and receiver spin a core each per lane (libsscrdma, 2 lanes from 8 CPUs on): on one host
 * that is 4 cores; OpenMP teams larger than the free cores wait on descheduled threads at
 * every barrier, and the receive slows down with them. */
static int stream_threads(const rvr_renderer *r) {
    const int nt = rvr__nthreads(r);
    return nt >= 12 ? nt - 4 : nt > 4 ? nt - 2 : nt;
}

/* Threads of the CUDA backend's staging copy during a transfer: a few copy faster than the
 * DMA drains them; more would take memory bandwidth and cores from the receive. */
static int stream_copy_threads(const rvr_renderer *r) {
    const int nt = rvr__nthreads(r);
    return nt >= 8 ? 4 : nt > 2 ? 2 : 1;
}

void rvr__cpu_vol_free(rvr_cpu_vol *v) {
    free(v->vol);
    free(v->sk.bmin);
    free(v->sk.bmax);
    memset(v, 0, sizeof *v);
}

int rvr__cpu_vol_alloc(const uint64_t shape[3], rvr_cpu_vol *v) {
    memset(v, 0, sizeof *v);
    const int nx = (int)shape[2], ny = (int)shape[1], nz = (int)shape[0];
    v->g = (rvr_grid){NULL, nx, ny, nz, (nx + RVR_SB - 1) / RVR_SB, (ny + RVR_SB - 1) / RVR_SB,
                      (nz + RVR_SB - 1) / RVR_SB};
    v->sk = (rvr_skipgrid){(nx + RVR_BRICK - 1) / RVR_BRICK, (ny + RVR_BRICK - 1) / RVR_BRICK,
                           (nz + RVR_BRICK - 1) / RVR_BRICK, NULL, NULL};
    const size_t nstore = (size_t)v->g.sbx * v->g.sby * v->g.sbz * RVR_SB_VOX;
    const size_t nb = (size_t)v->sk.bx * v->sk.by * v->sk.bz;
    v->g.data = v->vol = malloc(nstore * sizeof(uint16_t));
    v->sk.bmin = malloc(nb * sizeof(uint16_t));
    v->sk.bmax = malloc(nb * sizeof(uint16_t));
    if (!v->vol || !v->sk.bmin || !v->sk.bmax) {
        rvr__cpu_vol_free(v);
        return RVR_ERR_NOMEM;
    }
    return RVR_OK;
}

/* CPU stream of a C-order volume: storage-brick layers converted while the rows arrive, with
 * the window of the min/max seen so far (or the explicit one). A layer is converted once its
 * rows (and its apron) have landed; a window that moves later means converting again, at the
 * latest at the commit, so the result is always that of rvr_renderer_set_volume. */
typedef struct cpu_pending {
    rvr_cpu_vol v;
    int layers; /* layers [0, layers) hold the window lo..hi */
    double lo, hi;
} cpu_pending;

static void cpu_pending_free(cpu_pending *p) {
    if (!p) return;
    rvr__cpu_vol_free(&p->v);
    free(p);
}

/* Layers of storage bricks whose source rows (z, apron included) lie in the first `rows`. */
static int layers_ready(const rvr_grid *g, uint64_t rows) {
    int n = 0;
    while (n < g->sbz) {
        int64_t need = (int64_t)n * RVR_SB + RVR_SB - 1 + RVR_SB_PAD; /* last row the layer reads */
        if (need > g->nz - 1) need = g->nz - 1;
        if ((uint64_t)need >= rows) break;
        n++;
    }
    return n;
}

static void cpu_stream_convert(rvr_renderer *r, uint64_t landed_elems) {
    cpu_pending *p = r->stream.cpu;
    const rvr_volume_desc *d = &r->stream.desc;
    const vstats st = {r->stream.mn, r->stream.mx, r->stream.nans};
    double lo, hi;
    if (window_resolve(d->window_lo, d->window_hi, &st, &lo, &hi)) return;
    if (lo != p->lo || hi != p->hi) {
        p->layers = 0;
        p->lo = lo;
        p->hi = hi;
    }
    const int ready = layers_ready(&p->v.g, landed_elems / (d->shape[1] * d->shape[2]));
    if (ready <= p->layers) return;
    rvr__normalize_layers(r->stream.data, d->dtype, d->order, d->shape, lo, hi, stream_threads(r), &p->v.g,
                          &p->v.sk, p->layers, ready);
    p->layers = ready;
}

int rvr_renderer_volume_begin(rvr_renderer *r, const rvr_volume_desc *desc, const void *data,
                              uint64_t bytes) {
    uint64_t n;
    int rc = volume_check(r, desc, data, bytes, &n);
    if (rc) return rc;
    rvr_renderer_volume_drop(r);
    if (r->backend == RVR_BACKEND_CUDA && (rc = rvr__gpu_upload_begin(r, desc, data, bytes))) return rc;
    /* CPU: work while rows arrive, when there are cores to spare beside the transfer's (on 2
     * cores it would only slow the receive). RVR_VOLUME_PROGRESSIVE: the coarse copy (any order)
     * and nothing more: converting bricks is slower than the rows arrive, and landed calls queue
     * behind each other, so the commit would wait for them; its thread converts them instead.
     * Otherwise: bricks, when rows are the slowest axis (C order). */
    const int f = desc->flags & RVR_VOLUME_PROGRESSIVE ? rvr__coarse_factor(desc->shape) : 1;
    if (r->backend == RVR_BACKEND_CPU && rvr__nthreads(r) >= 4 && f > 1) {
        r->stream.coarse = rvr__coarse_new(desc, f);
    } else if (r->backend == RVR_BACKEND_CPU && rvr__nthreads(r) >= 4 && desc->order == RVR_ORDER_C) {
        cpu_pending *p = calloc(1, sizeof *p);
        if (p && rvr__cpu_vol_alloc(desc->shape, &p->v) == RVR_OK) {
            p->lo = p->hi = NAN;
            r->stream.cpu = p;
        } else {
            free(p); /* without memory for it: the commit converts everything, as set_volume */
        }
    }
    r->stream.on = 1;
    r->stream.desc = *desc;
    r->stream.data = data;
    r->stream.bytes = bytes;
    r->stream.taken = 0;
    r->stream.mn = INFINITY;
    r->stream.mx = -INFINITY;
    r->stream.nans = 0;
    return RVR_OK;
}

int rvr_renderer_volume_landed(rvr_renderer *r, uint64_t landed) {
    if (!r || !r->stream.on || landed > r->stream.bytes) return RVR_ERR_INVALID;
    const uint64_t esz = (uint64_t)rvr_dtype_size(r->stream.desc.dtype);
    const uint64_t upto = landed - landed % esz; /* whole elements only */
    if (upto <= r->stream.taken) return RVR_OK;
    const uint64_t from = r->stream.taken;
    if (r->backend == RVR_BACKEND_CUDA) {
        int rc = rvr__gpu_upload_range(r, r->stream.data, from, upto - from, stream_copy_threads(r));
        if (rc) {
            r->stream.on = 0; /* the pending device bytes are gone */
            return rc;
        }
    } else {
        vstats part = {INFINITY, -INFINITY, 0};
        stats_compute((const char *)r->stream.data + from, r->stream.desc.dtype, (upto - from) / esz,
                      stream_threads(r), &part);
        r->stream.mn = part.mn < r->stream.mn ? part.mn : r->stream.mn;
        r->stream.mx = part.mx > r->stream.mx ? part.mx : r->stream.mx;
        r->stream.nans += part.nans;
    }
    r->stream.taken = upto;
    /* the coarse copy first: the first frame needs only that */
    rvr__coarse_take(r->stream.coarse, r->stream.data, upto / esz, stream_threads(r));
    if (r->stream.cpu) cpu_stream_convert(r, upto / esz);
    return RVR_OK;
}

void rvr_renderer_volume_drop(rvr_renderer *r) {
    if (!r) return;
    /* the CPU stream's parts, also when set_volume took the stream and then failed */
    cpu_pending_free(r->stream.cpu);
    r->stream.cpu = NULL;
    rvr__coarse_free(r->stream.coarse);
    r->stream.coarse = NULL;
    if (!r->stream.on) return;
    if (r->backend == RVR_BACKEND_CUDA) rvr__gpu_discard(r);
    r->stream.on = 0;
}

int rvr_renderer_set_volume(rvr_renderer *r, const rvr_volume_desc *desc, const void *data,
                            uint64_t bytes) {
    uint64_t n;
    int rc0 = volume_check(r, desc, data, bytes, &n);
    if (rc0) return rc0;
    /* a stream of these bytes: only what has not been taken yet is read here */
    const int streamed = r->stream.on && r->stream.data == data && r->stream.bytes == bytes &&
                         r->stream.desc.dtype == desc->dtype && r->stream.desc.order == desc->order &&
                         memcmp(r->stream.desc.shape, desc->shape, sizeof desc->shape) == 0;
    if (!streamed) rvr_renderer_volume_drop(r);
    else if ((rc0 = rvr_renderer_volume_landed(r, bytes))) return rc0;
    r->stream.on = 0; /* set_volume owns what the stream made from here on */

    if (r->backend == RVR_BACKEND_CUDA) return gpu_set_volume(r, desc, data, bytes, streamed);
    const int nt = rvr__nthreads(r);
    vstats st = {INFINITY, -INFINITY, 0};
    if (streamed) st = (vstats){r->stream.mn, r->stream.mx, r->stream.nans};
    else stats_compute(data, desc->dtype, n, nt, &st);
    double wlo, whi;
    int rc = window_resolve(desc->window_lo, desc->window_hi, &st, &wlo, &whi);
    if (rc) {
        rvr_renderer_volume_drop(r);
        return rc;
    }

    /* RVR_VOLUME_PROGRESSIVE: the coarse copy drawn while the full form is converted */
    const int f = desc->flags & RVR_VOLUME_PROGRESSIVE ? rvr__coarse_factor(desc->shape) : 1;
    rvr_coarse *c = streamed ? r->stream.coarse : NULL;
    r->stream.coarse = NULL;
    rvr_cpu_vol coarse;
    memset(&coarse, 0, sizeof coarse);
    int progressive = 0;
    if (f > 1) {
        if (!c) c = rvr__coarse_new(desc, f);
        rvr__coarse_take(c, data, n, nt);
        /* without memory for it: converted at once, as without the flag */
        progressive = c && rvr__coarse_build(c, wlo, whi, nt, &coarse) == RVR_OK;
    }
    rvr__coarse_free(c);

    /* the stream's bricks, of which the layers converted with this very window are kept */
    cpu_pending *p = streamed ? r->stream.cpu : NULL;
    r->stream.cpu = NULL;
    rvr_cpu_vol v;
    int from = 0;
    void *copy = NULL;
    if (p) {
        v = p->v;
        from = p->lo == wlo && p->hi == whi ? p->layers : 0;
        free(p);
    } else if ((rc = rvr__cpu_vol_alloc(desc->shape, &v))) {
        goto fail;
    }
    rc = RVR_ERR_NOMEM;
    if (!(desc->flags & RVR_VOLUME_BORROW)) {
        if (!(copy = malloc(bytes))) goto fail;
        memcpy(copy, data, bytes);
    }
    if (!progressive)
        rvr__normalize_layers(data, desc->dtype, desc->order, desc->shape, wlo, whi, nt, &v.g, &v.sk, from, v.g.sbz);

    /* commit */
    rvr__progress_cancel(r); /* the previous volume's conversion */
    free(r->vol);
    free(r->bmin);
    free(r->bmax);
    free(r->orig_owned);
    r->orig_owned = copy;
    r->orig = copy ? copy : data;
    r->orig_bytes = bytes;
    commit_facts(r, desc, &st, wlo, whi);
    r->vol = NULL;
    r->bmin = r->bmax = NULL;
    if (progressive && rvr__progress_start(r, &coarse, f, &v, from) == RVR_OK) return RVR_OK;
    if (progressive) /* no thread for it: here and now */
        rvr__normalize_layers(r->orig, desc->dtype, desc->order, desc->shape, wlo, whi, nt, &v.g, &v.sk, from, v.g.sbz);
    rvr__cpu_vol_free(&coarse);
    r->vol = v.vol;
    r->grid = v.g;
    r->bmin = v.sk.bmin;
    r->bmax = v.sk.bmax;
    return RVR_OK;
fail: /* the previous volume stays */
    rvr__cpu_vol_free(&coarse);
    rvr__cpu_vol_free(&v);
    return rc;
}

int rvr_renderer_volume_wait(rvr_renderer *r) {
    if (!r) return RVR_ERR_INVALID;
    rvr__progress_settle(r);
    return RVR_OK;
}

int rvr_renderer_set_window(rvr_renderer *r, double lo, double hi) {
    if (!r) return RVR_ERR_INVALID;
    rvr_renderer_volume_drop(r); /* its pending device bytes would be overwritten */
    if (!r->has_volume) return RVR_ERR_NO_VOLUME;
    rvr__progress_settle(r);
    vstats st = {r->data_min, r->data_max, r->nan_count};
    if (!isfinite(st.mn)) st.mn = st.mx = INFINITY;
    double wlo, whi;
    int rc = window_resolve(lo, hi, &st, &wlo, &whi);
    if (rc) return rc;
    if (r->backend == RVR_BACKEND_CUDA) {
        double a, b;
        uint64_t c;
        if ((rc = rvr__gpu_upload(r, &r->desc, r->orig, r->orig_bytes, &a, &b, &c))) return rc;
        if ((rc = rvr__gpu_commit(r, &r->desc, wlo, whi, r->data_min, r->data_max))) {
            rvr__gpu_discard(r);
            return rc;
        }
        r->win_lo = wlo;
        r->win_hi = whi;
        r->vol_version++;
        return RVR_OK;
    }
    const int nt = rvr__nthreads(r);
    const rvr_skipgrid sk = {r->bx, r->by, r->bz, r->bmin, r->bmax};
    normalize_into(r->orig, r->desc.dtype, r->desc.order, r->desc.shape, wlo, whi, nt, &r->grid, &sk);
    r->win_lo = wlo;
    r->win_hi = whi;
    r->vol_version++;
    return RVR_OK;
}

int rvr_renderer_volume_info(const rvr_renderer *r, rvr_volume_info *out) {
    if (!r || !out) return RVR_ERR_INVALID;
    if (!r->has_volume) return RVR_ERR_NO_VOLUME;
    rvr_volume_info i;
    memset(&i, 0, sizeof i);
    for (int k = 0; k < 3; k++) i.shape[k] = r->desc.shape[k];
    i.dtype = r->desc.dtype;
    i.order = r->desc.order;
    i.window_lo = r->win_lo;
    i.window_hi = r->win_hi;
    i.data_min = r->data_min;
    i.data_max = r->data_max;
    i.nan_count = r->nan_count;
    i.bytes = r->orig_bytes;
    *out = i;
    return RVR_OK;
}
