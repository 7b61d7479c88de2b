/* progressive.c - RVR_VOLUME_PROGRESSIVE on the CPU backend. Converting a volume of many GiB to
 * the renderer's form (2.9 bytes of storage bricks per voxel) takes longer than receiving it;
 * a coarse copy (block averages, at most 2^22 voxels) takes milliseconds once its rows are
 * in, so set_volume returns with that copy drawn by previews (lod > 1) while a thread of the
 * renderer converts the full form. The first call that needs the full form waits for it. */
#define _GNU_SOURCE /* syscall(SYS_gettid) */
#include "volume.h"

#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* About 161^3: as many voxels across as a preview (lod 4 of 1280x720) has rays, so the copy
 * is made in milliseconds and a preview of it takes f times fewer samples per ray. */
#define COARSE_MAX_VOXELS (1ull << 22)

int rvr__coarse_factor(const uint64_t shape[3]) {
    for (uint64_t f = 1;; f++) {
        const uint64_t c = ((shape[0] + f - 1) / f) * ((shape[1] + f - 1) / f) * ((shape[2] + f - 1) / f);
        if (c <= COARSE_MAX_VOXELS) return (int)f;
    }
}

/* The data seen as a C-order array (n0, n1, n2), n0 slowest: (z, y, x) in C order, (x, y, z)
 * in F order; the averages are a C-order array (c0, c1, c2) of the same axes. */
struct rvr_coarse {
    int f;
    int32_t dtype, order;
    int64_t n0, n1, n2, c0, c1, c2;
    int64_t done; /* coarse layers along n0 averaged */
    int failed;   /* a thread lacked memory: the copy is unusable */
    float *avg;
};

rvr_coarse *rvr__coarse_new(const rvr_volume_desc *d, int f) {
    rvr_coarse *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    const int F = d->order == RVR_ORDER_F;
    c->f = f;
    c->dtype = d->dtype;
    c->order = d->order;
    c->n0 = (int64_t)d->shape[F ? 2 : 0];
    c->n1 = (int64_t)d->shape[1];
    c->n2 = (int64_t)d->shape[F ? 0 : 2];
    c->c0 = (c->n0 + f - 1) / f;
    c->c1 = (c->n1 + f - 1) / f;
    c->c2 = (c->n2 + f - 1) / f;
    if (!(c->avg = malloc(sizeof(float) * (size_t)(c->c0 * c->c1 * c->c2)))) {
        free(c);
        return NULL;
    }
    return c;
}

void rvr__coarse_free(rvr_coarse *c) {
    if (!c) return;
    free(c->avg);
    free(c);
}

/* One row of averages (layer L, row j): the block's rows summed element-wise first (a loop the
 * compiler vectorizes; integers in integers wide enough for f^2 rows, exact and fastest), then f
 * columns at a time. Floating types leave NaN out and count. */
#define COARSE_ROW(T, ACC, FLOATING)                                                          \
    do {                                                                                      \
        ACC *acc = (ACC *)accbuf;                                                             \
        for (int64_t x = 0; x < n2; x++) acc[x] = 0, cnt[x] = 0;                              \
        for (int64_t a = a0; a < a1; a++)                                                     \
            for (int64_t b = b0; b < b1; b++) {                                               \
                const T *row = (const T *)data + ((size_t)a * c->n1 + (size_t)b) * (size_t)n2; \
                if (FLOATING) {                                                               \
                    for (int64_t x = 0; x < n2; x++) {                                        \
                        const T v = row[x];                                                   \
                        const int ok = v == v;                                                \
                        acc[x] += ok ? (ACC)v : (ACC)0;                                       \
                        cnt[x] += ok ? 1.0f : 0.0f;                                           \
                    }                                                                         \
                } else {                                                                      \
                    for (int64_t x = 0; x < n2; x++) acc[x] += (ACC)row[x];                   \
                }                                                                             \
            }                                                                                 \
        const float rows = (float)((a1 - a0) * (b1 - b0));                                    \
        for (int64_t cx = 0; cx < c->c2; cx++) {                                              \
            const int64_t x0 = cx * f, x1 = x0 + f < n2 ? x0 + f : n2;                        \
            double s = 0, k = 0;                                                              \
            for (int64_t x = x0; x < x1; x++) {                                               \
                s += (double)acc[x];                                                          \
                k += FLOATING ? cnt[x] : rows;                                                \
            }                                                                                 \
            out[cx] = k > 0 ? (float)(s / k) : NAN;                                           \
        }                                                                                     \
    } while (0)

static void coarse_row(const rvr_coarse *c, const void *data, int64_t L, int64_t j, void *accbuf, float *cnt) {
    const int64_t f = c->f, n2 = c->n2;
    const int64_t a0 = L * f, a1 = a0 + f < c->n0 ? a0 + f : c->n0;
    const int64_t b0 = j * f, b1 = b0 + f < c->n1 ? b0 + f : c->n1;
    float *out = c->avg + ((size_t)L * c->c1 + (size_t)j) * (size_t)c->c2;
    switch (c->dtype) {
    case RVR_DTYPE_U8: /* f^2 rows of 255 */
        if (f <= 16) COARSE_ROW(uint8_t, uint16_t, 0);
        else COARSE_ROW(uint8_t, uint32_t, 0);
        break;
    case RVR_DTYPE_U16: /* of 65535: in 32 bits up to f = 64 */
        if (f <= 64) COARSE_ROW(uint16_t, uint32_t, 0);
        else COARSE_ROW(uint16_t, double, 0);
        break;
    case RVR_DTYPE_I16:
        if (f <= 64) COARSE_ROW(int16_t, int32_t, 0);
        else COARSE_ROW(int16_t, double, 0);
        break;
    case RVR_DTYPE_U32: COARSE_ROW(uint32_t, double, 0); break; /* float would round them */
    case RVR_DTYPE_F32: COARSE_ROW(float, float, 1); break;
    default: COARSE_ROW(double, double, 1); break;
    }
}

void rvr__coarse_take(rvr_coarse *c, const void *data, uint64_t elems, int nt) {
    if (!c || c->failed) return;
    const uint64_t rows = elems / (uint64_t)(c->n1 * c->n2);
    const int64_t ready = rows >= (uint64_t)c->n0 ? c->c0 : (int64_t)rows / c->f;
    if (ready <= c->done) return;
    const int64_t L0 = c->done, nrow = c->c1;
    int failed = 0;
    _Pragma("omp parallel num_threads(nt) reduction(|:failed)")
    {
        void *acc = malloc(sizeof(double) * (size_t)c->n2);
        float *cnt = malloc(sizeof(float) * (size_t)c->n2);
        failed = !acc || !cnt;
        _Pragma("omp for schedule(dynamic) collapse(2)")
        for (int64_t L = L0; L < ready; L++)
            for (int64_t j = 0; j < nrow; j++)
                if (acc && cnt) coarse_row(c, data, L, j, acc, cnt);
        free(acc);
        free(cnt);
    }
    c->failed = failed;
    c->done = ready;
}

int rvr__coarse_build(const rvr_coarse *c, double lo, double hi, int nt, rvr_cpu_vol *out) {
    if (c->failed) return RVR_ERR_NOMEM;
    if (c->done < c->c0) return RVR_ERR_INVALID;
    /* (c0, c1, c2) in C order is (z, y, x) in C order, or (x, y, z) = F order of (z, y, x) */
    const uint64_t shape[3] = {(uint64_t)(c->order == RVR_ORDER_F ? c->c2 : c->c0), (uint64_t)c->c1,
                               (uint64_t)(c->order == RVR_ORDER_F ? c->c0 : c->c2)};
    int rc = rvr__cpu_vol_alloc(shape, out);
    if (rc) return rc;
    rvr__normalize_layers(c->avg, RVR_DTYPE_F32, c->order, shape, lo, hi, nt, &out->g, &out->sk, 0, out->g.sbz);
    return RVR_OK;
}

/* ---- the conversion thread ---- */

struct rvr_progress {
    rvr_cpu_vol coarse, full;
    int f;
    pthread_t thread;
    atomic_int done, cancel, hurry; /* hurry: a call waits for it (ends a test's hold) */
    /* what the thread converts: layers [from, full.g.sbz) of data */
    const void *data;
    rvr_volume_desc desc;
    double lo, hi;
    int from, nt;
};

static void *convert_main(void *arg) {
    struct rvr_progress *p = arg;
    /* Tests hold the conversion back to see the coarse copy drawn (rvr.h, RVR_VOLUME_PROGRESSIVE). */
    const char *hold = getenv("RVR_REFINE_HOLD_MS");
    for (long ms = hold ? atol(hold) : 0; ms > 0 && !atomic_load(&p->cancel) && !atomic_load(&p->hurry); ms--)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    /* This thread's OpenMP team gives way to frames drawn meanwhile (a raised nice value is
     * allowed to any user; the team ends with this thread). */
    _Pragma("omp parallel num_threads(p->nt)")
    { (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10); }
    /* a few layers per call: enough pencils for every thread, and a cancel is seen soon */
    const rvr_grid *g = &p->full.g;
    const int step = (2 * p->nt + g->sby - 1) / g->sby;
    for (int l = p->from; l < g->sbz && !atomic_load(&p->cancel); l += step)
        rvr__normalize_layers(p->data, p->desc.dtype, p->desc.order, p->desc.shape, p->lo, p->hi, p->nt, g,
                              &p->full.sk, l, l + step < g->sbz ? l + step : g->sbz);
    atomic_store(&p->done, 1);
    return NULL;
}

int rvr__progress_start(rvr_renderer *r, rvr_cpu_vol *coarse, int f, rvr_cpu_vol *full, int from) {
    struct rvr_progress *p = calloc(1, sizeof *p);
    if (!p) return RVR_ERR_NOMEM;
    p->coarse = *coarse;
    p->full = *full;
    p->f = f;
    p->data = r->orig;
    p->desc = r->desc;
    p->lo = r->win_lo;
    p->hi = r->win_hi;
    p->from = from;
    p->nt = rvr__nthreads(r);
    atomic_init(&p->done, 0);
    atomic_init(&p->cancel, 0);
    atomic_init(&p->hurry, 0);
    if (pthread_create(&p->thread, NULL, convert_main, p)) {
        free(p);
        return RVR_ERR_NOMEM;
    }
    memset(coarse, 0, sizeof *coarse);
    memset(full, 0, sizeof *full);
    r->progress = p;
    return RVR_OK;
}

void rvr__progress_settle(rvr_renderer *r) {
    struct rvr_progress *p = r->progress;
    if (!p) return;
    atomic_store(&p->hurry, 1);
    pthread_join(p->thread, NULL);
    r->vol = p->full.vol;
    r->grid = p->full.g;
    r->bmin = p->full.sk.bmin;
    r->bmax = p->full.sk.bmax;
    r->vol_version++; /* caches made meanwhile are of no use to the full form */
    rvr__cpu_vol_free(&p->coarse);
    free(p);
    r->progress = NULL;
}

void rvr__progress_cancel(rvr_renderer *r) {
    struct rvr_progress *p = r ? r->progress : NULL;
    if (!p) return;
    atomic_store(&p->cancel, 1);
    pthread_join(p->thread, NULL);
    rvr__cpu_vol_free(&p->full);
    rvr__cpu_vol_free(&p->coarse);
    free(p);
    r->progress = NULL;
}

rvr_level rvr__level_for_frame(rvr_renderer *r, int lod) {
    struct rvr_progress *p = r->progress;
    if (p && lod > 1 && !atomic_load(&p->done))
        return (rvr_level){p->coarse.g, p->coarse.sk.bmin, p->coarse.sk.bmax, p->coarse.sk.bx,
                           p->coarse.sk.by, p->coarse.sk.bz, p->f};
    rvr__progress_settle(r);
    return (rvr_level){r->grid, r->bmin, r->bmax, r->bx, r->by, r->bz, 1};
}
