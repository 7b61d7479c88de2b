/*
 * rvr_ranks.c - librvr on several MPI ranks (one per GPU / socket); see include/rvr_ranks.h.
 *
 * Every request that rank 0 reads from the instance's socket is broadcast (op + payload) to
 * all ranks, and all ranks run the same handler; collective steps inside the handlers agree on
 * errors (the smallest status wins, with the rank that produced it). Idle ranks wait for the
 * next request with a non-blocking broadcast polled every few ms, so an idle job does not
 * burn its cores.
 */
#define _GNU_SOURCE
#include "rvr_ranks.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "composite.h"
#include "decomp.h"
#include "finish.h"
#include "images.h"
#include "rect.h"
#include "rvr.h"
#include "stream.h"
#include "synthetic.h"

/* An image buffer kept from frame to frame; page-locked with the CUDA backend, so that the
 * frame comes off the GPU by one DMA straight into it. */
typedef struct frame_buf {
    uint8_t *p;
    size_t cap;
    int pinned;
} frame_buf;

typedef struct ctx {
    int rank, n, local_rank, local_n, hosts;
    char host[MPI_MAX_PROCESSOR_NAME];
    rvr_renderer *r;
    int backend, algo;
    int all_cuda;         /* every rank renders with CUDA (rows land while it renders: auto streams) */
    int band_rows;        /* rows per band of stream compositing (RR_STREAM_ROWS on rank 0, 32) */
    int stream_copy;      /* stream: pixels travel in the messages also on one host (RR_STREAM_COPY=1, tests) */
    int trace;            /* RR_TRACE=1: a line per rank and frame on stderr (what the time went to) */
    double t_req;         /* when this rank had the request (CLOCK_MONOTONIC ms: one clock for a host's ranks) */
    /* volume (all ranks know the global layout) */
    int has_global, vol_ok;
    rvr_volume_desc gdesc;
    uint64_t abc[3];
    int esize, laxis, waxis;
    double sp;            /* spacing along the slab axis */
    uint64_t *bounds;     /* [n+1] layers: the data each rank owns (retrieve) */
    double *bw;           /* [n+1] world coordinates of the cuts it renders to (they move, see margin) */
    uint64_t margin;      /* layers each rank holds beyond its inner cuts (rr_follow_cuts) */
    double *cost_of;      /* [n] every rank's render time in the last frame (frame_gather) */
    int follow_cuts;      /* 0: --cuts fixed */
    double win_lo, win_hi, data_min, data_max;
    uint64_t nan_count, maxdim;
    void *map;            /* this rank's slab (+ghosts): a mapping or malloc'd */
    size_t map_len;
    int map_kind;         /* MAP_* */
    uint64_t g0, g1;      /* local layers (with ghosts) */
    /* points: rank 0 keeps all of them to redistribute when the volume changes */
    float *pxyz, *pval;
    uint64_t pn;
    float pmin, pmax;
    int has_points;
    /* TF copy (rank 0 colours MIP/MinIP values) */
    float *tf;
    uint32_t tfn;
    int sock;
    int test_delay_ms;
    int test_occ_delay_ms; /* RVR_RANKS_TEST_OCC_DELAY_MS: a rank with an occluder starts rendering
                            * that late (tests: the front rank's pixels are done by then) */
    /* frames */
    rr_images images;     /* the partial images, in shared memory per host */
    frame_buf out;        /* rank 0's answer (when not into a frame file) */
    rr_rect img_dirty;    /* where img may hold pixels of an earlier frame (the rest is 0) */
    int occlude;          /* RR_OCCLUDE=1: the image in front as occluder (off: slower on the H200 x2) */
    int images_clear;     /* the last frame was streamed and rank 0 cleared every image of its host
                           * (stream.h): the image in front can be this rank's occluder */
    int img_w, img_h;     /* the layout those pixels are in */
    struct {              /* rank 0: the instance's frame file (answers written into it) */
        dev_t dev;
        ino_t ino;
        uint8_t *p;
        size_t len;
        int registered;   /* page-locked for the GPU (one rank: librvr renders straight into it) */
        /* the last answer in it: outside `drawn` its pixels are the background `bg` (W x H) */
        int answered, W, H;
        uint32_t bg;
        rr_rect drawn;
    } frame_file;
    rr_compositor comp;
    rr_stream stream;
} ctx;

static int g_sock = -1;
/* how long after a request an idle rank polls for the next one every ~20 us */
#define QUICK_MS 5.0
static volatile sig_atomic_t g_alarm_armed = 0;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------- socket I/O (rank 0) ---- */

static int read_full(int fd, void *buf, size_t n) {
    uint8_t *p = buf;
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

static int reply(int status, const void *a, size_t alen, const void *b, size_t blen) {
    rr_rep h = {RR_REP_MAGIC, status, alen + blen};
    if (write_full(g_sock, &h, sizeof h)) return -1;
    if (alen && write_full(g_sock, a, alen)) return -1;
    if (blen && write_full(g_sock, b, blen)) return -1;
    return 0;
}

static int reply_error(int status, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (k < 0) k = 0;
    if (k >= (int)sizeof msg) k = sizeof msg - 1;
    return reply(status, msg, (size_t)k, NULL, 0);
}

/* Watchdog: answers RR_ERR_TIMEOUT and ends the job (async-signal-safe calls only). */
static char g_timeout_msg[200];
static void on_alarm(int sig) {
    (void)sig;
    if (!g_alarm_armed) return;
    size_t len = strlen(g_timeout_msg);
    rr_rep h = {RR_REP_MAGIC, RR_ERR_TIMEOUT, len};
    if (write(g_sock, &h, sizeof h) == (ssize_t)sizeof h) {
        ssize_t w = write(g_sock, g_timeout_msg, len);
        (void)w;
    }
    _exit(70);
}

/* ------------------------------------------------------------------------ MPI helpers ---- */

/* Agree on a status across ranks: the smallest (most negative) wins; *who gets its rank. */
static int agree(int rc, int *who) {
    struct {
        int v, r;
    } in = {rc, 0}, out;
    MPI_Comm_rank(MPI_COMM_WORLD, &in.r);
    int mrc = MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD);
    if (mrc != MPI_SUCCESS) {
        if (who) *who = -1;
        return RR_ERR_MPI;
    }
    if (who) *who = out.r;
    return out.v;
}

static void mpi_fail(ctx *c, int mrc, const char *what) {
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(mrc, s, &len);
    if (c->rank == 0) reply_error(RR_ERR_MPI, "rank 0: MPI %s failed: %s", what, s);
    fprintf(stderr, "rvr_ranks: rank %d: MPI %s failed: %s\n", c->rank, what, s);
    MPI_Abort(MPI_COMM_WORLD, 3);
    _exit(3);
}

#define MPI_CHECK(c, call, what)                              \
    do {                                                      \
        int mrc_ = (call);                                    \
        if (mrc_ != MPI_SUCCESS) mpi_fail((c), mrc_, (what)); \
    } while (0)

static void bcast_big(ctx *c, void *buf, size_t len) {
    const size_t chunk = (size_t)1 << 28;
    for (size_t off = 0; off < len; off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;
        MPI_CHECK(c, MPI_Bcast((uint8_t *)buf + off, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD), "broadcast");
    }
}

/* --------------------------------------------------------------------------- volume ---- */

static uint64_t layer_bytes(const ctx *c) { return c->abc[1] * c->abc[2] * (uint64_t)c->esize; }

enum { MAP_MALLOC = 0, MAP_MMAP = 1, MAP_PINNED = 2 };

static void free_slab(void *p, size_t len, int kind) {
    if (!p) return;
    if (kind == MAP_MMAP) munmap(p, len);
    else if (kind == MAP_PINNED) rvr_host_free(p);
    else free(p);
}

static void drop_local(ctx *c) {
    free_slab(c->map, c->map_len, c->map_kind);
    c->map = NULL;
    c->map_len = 0;
}

/* Local layers (with ghosts) of rank i; 0 layers when its slab is empty. */
static void local_range(const ctx *c, int i, uint64_t *g0, uint64_t *g1) {
    const uint64_t z0 = c->bounds[i], z1 = c->bounds[i + 1];
    if (z0 >= z1) {
        *g0 = *g1 = 0;
        return;
    }
    /* the margin beyond inner cuts (the render cut moves within it), the ghosts beyond that */
    const uint64_t lo = RR_GHOST + (i > 0 ? c->margin : 0), hi = RR_GHOST + (i < c->n - 1 ? c->margin : 0);
    *g0 = z0 >= lo ? z0 - lo : 0;
    *g1 = z1 + hi < c->abc[0] ? z1 + hi : c->abc[0];
}

static int has_local(const ctx *c, int i) {
    return c->has_global && c->vol_ok && c->bounds[i] < c->bounds[i + 1];
}

/* World offset of rank i's local volume along the slab axis. */
static double origin_of(const ctx *c, int i) {
    if (!has_local(c, i)) return 0;
    uint64_t g0, g1;
    local_range(c, i, &g0, &g1);
    return (double)g0 * c->sp;
}

static void fill_info(const ctx *c, rvr_volume_info *info) {
    memset(info, 0, sizeof *info);
    memcpy(info->shape, c->gdesc.shape, sizeof info->shape);
    info->dtype = c->gdesc.dtype;
    info->order = c->gdesc.order;
    info->window_lo = c->win_lo;
    info->window_hi = c->win_hi;
    info->data_min = c->data_min;
    info->data_max = c->data_max;
    info->nan_count = c->nan_count;
    info->bytes = c->gdesc.shape[0] * c->gdesc.shape[1] * c->gdesc.shape[2] * (uint64_t)c->esize;
}

typedef struct vol_plan {
    int32_t rc;
    int32_t pad;
    double win_lo, win_hi, min, max;
    uint64_t nan_count;
    char host[MPI_MAX_PROCESSOR_NAME];
    char msg[256];
} vol_plan;

static int distribute_points(ctx *c);
static rr_rect slab_footprint(const ctx *c, int i, const rvr_camera *cam, const rvr_render_settings *s, int W, int H);

/* Every rank takes the new global layout: the volume, the cuts (bounds[n+1], owned from now
 * on), the window and the data range. The old local volume stays until librvr replaced it. */
static void adopt_layout(ctx *c, const rvr_volume_desc *d, uint64_t *bounds, double win_lo, double win_hi, double min,
                         double max, uint64_t nan_count) {
    free(c->bounds);
    c->bounds = bounds;
    c->gdesc = *d;
    rr_mem_axes(d->shape, d->order, c->abc);
    c->esize = rvr_dtype_size(d->dtype);
    c->laxis = d->order == 1 ? 2 : 0;
    c->waxis = d->order == 1 ? 0 : 2; /* logical axis 0 is world z, axis 2 world x */
    c->sp = d->spacing[c->laxis] > 0 ? d->spacing[c->laxis] : 1.0;
    c->win_lo = win_lo, c->win_hi = win_hi;
    c->data_min = min, c->data_max = max, c->nan_count = nan_count;
    c->maxdim = d->shape[0] > d->shape[1] ? d->shape[0] : d->shape[1];
    if (d->shape[2] > c->maxdim) c->maxdim = d->shape[2];
    free(c->bw);
    c->bw = malloc(sizeof(double) * ((size_t)c->n + 1));
    for (int i = 0; i <= c->n; i++) c->bw[i] = (double)bounds[i] * c->sp;
    c->has_global = 1;
    c->vol_ok = 1;
}

/* Hands this rank's slab (+ghosts: layers g0..g1, at `data` inside the allocation `mine` of
 * `kind`) to librvr (borrowed), agrees on the outcome, redistributes the points, and rank 0
 * answers SET_VOLUME with ms[0..1] as given (the steps before), the slowest upload and the total. */
static void install_slab(ctx *c, void *mine, size_t mine_len, int kind, const uint8_t *data, uint64_t g0, uint64_t g1,
                         int rc, double t0, double ms0, double ms1) {
    const uint64_t lb = layer_bytes(c);
    const double tu = now_ms();
    if (rc == 0 && g1 > g0) {
        rvr_volume_desc ld = c->gdesc;
        ld.shape[c->laxis] = g1 - g0;
        ld.window_lo = c->win_lo;
        ld.window_hi = c->win_hi;
        ld.flags |= RVR_VOLUME_BORROW;
        rc = rvr_renderer_set_volume(c->r, &ld, data, (g1 - g0) * lb);
    }
    double t_up = now_ms() - tu, t_up_max = 0;
    MPI_CHECK(c, MPI_Reduce(&t_up, &t_up_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD), "reduce");
    if (rc == 0) {
        drop_local(c);
        c->map = mine;
        c->map_len = mine_len;
        c->map_kind = kind;
        c->g0 = g0, c->g1 = g1;
    } else {
        free_slab(mine, mine_len, kind);
    }
    int who = 0;
    int arc = agree(rc, &who);
    if (arc) c->vol_ok = 0; /* some rank failed: no volume is shown until the next one */
    int prc = distribute_points(c);
    if (c->rank != 0) return;
    if (arc) {
        reply_error(arc, "set volume: rank %d: %s", who, rvr_strerror(arc));
        return;
    }
    if (prc) {
        reply_error(prc, "set volume: redistributing the points: %s", rvr_strerror(prc));
        return;
    }
    uint8_t head[80 + 32];
    rvr_volume_info info;
    fill_info(c, &info);
    memcpy(head, &info, 80);
    double ms[4] = {ms0, ms1, t_up_max, now_ms() - t0};
    memcpy(head + 80, ms, 32);
    reply(0, head, sizeof head, c->bounds, sizeof(uint64_t) * ((size_t)c->n + 1));
}

static void op_set_volume(ctx *c, const uint8_t *p, uint64_t len) {
    const double t0 = now_ms();
    rvr_volume_desc d;
    uint64_t bytes = 0;
    char path[RR_PATH_MAX];
    memset(&d, 0, sizeof d);
    if (len >= 64 + 8 + RR_PATH_MAX) {
        memcpy(&d, p, 64);
        memcpy(&bytes, p + 64, 8);
        memcpy(path, p + 72, RR_PATH_MAX);
        path[RR_PATH_MAX - 1] = 0;
    }
    vol_plan plan;
    memset(&plan, 0, sizeof plan);
    uint64_t *bounds = calloc((size_t)c->n + 1, sizeof(uint64_t));
    uint64_t abc[3];
    const int esize = rvr_dtype_size(d.dtype);
    double t_scan = 0;
    if (c->rank == 0) {
        memcpy(plan.host, c->host, sizeof plan.host);
        uint64_t count = d.shape[0] * d.shape[1] * d.shape[2];
        if (len < 64 + 8 + RR_PATH_MAX) plan.rc = RR_ERR_PROTO;
        else if (esize < 0) plan.rc = RVR_ERR_DTYPE;
        else if (!d.shape[0] || !d.shape[1] || !d.shape[2] || (d.order != 0 && d.order != 1)) plan.rc = RVR_ERR_INVALID;
        else if (count * (uint64_t)esize != bytes) plan.rc = RVR_ERR_SIZE;
        else if (d.window_lo > d.window_hi || !isfinite(d.window_lo) || !isfinite(d.window_hi)) plan.rc = RVR_ERR_RANGE;
        if (!bounds) plan.rc = RVR_ERR_NOMEM;
        void *all = NULL;
        int fd = -1;
        if (plan.rc == 0) {
            fd = open(path, O_RDONLY);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) || (uint64_t)st.st_size < bytes) {
                plan.rc = RR_ERR_IO;
                snprintf(plan.msg, sizeof plan.msg, "cannot open %.180s with %llu bytes: %s", path,
                         (unsigned long long)bytes, fd < 0 ? strerror(errno) : "too small");
            } else {
                all = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
                if (all == MAP_FAILED) {
                    all = NULL;
                    plan.rc = RR_ERR_IO;
                    snprintf(plan.msg, sizeof plan.msg, "cannot map %.180s: %s", path, strerror(errno));
                }
            }
        }
        if (plan.rc == 0) {
            rr_mem_axes(d.shape, d.order, abc);
            rr_scan sc;
            const double ts = now_ms();
            int src = rr_scan_volume(all, d.dtype, abc, &sc);
            t_scan = now_ms() - ts;
            if (src) plan.rc = src;
            else {
                rr_cut(sc.cost, sc.blocks, abc[0], c->n, bounds);
                plan.min = sc.min, plan.max = sc.max, plan.nan_count = sc.nan_count;
                if (d.window_lo == d.window_hi) rr_auto_window(sc.min, sc.max, &plan.win_lo, &plan.win_hi);
                else plan.win_lo = d.window_lo, plan.win_hi = d.window_hi;
                rr_scan_free(&sc);
            }
        }
        if (all) munmap(all, bytes);
        if (fd >= 0) close(fd);
    }
    MPI_CHECK(c, MPI_Bcast(&plan, sizeof plan, MPI_BYTE, 0, MPI_COMM_WORLD), "broadcast");
    if (plan.rc) {
        free(bounds);
        if (c->rank == 0) reply_error(plan.rc, "set volume: %s", plan.msg[0] ? plan.msg : rvr_strerror(plan.rc));
        return;
    }
    MPI_CHECK(c, MPI_Bcast(bounds, c->n + 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "broadcast");
    rr_mem_axes(d.shape, d.order, abc);
    adopt_layout(c, &d, bounds, plan.win_lo, plan.win_hi, plan.min, plan.max, plan.nan_count);
    c->margin = c->follow_cuts ? rr_margin(c->n, c->bounds) : 0; /* mapped from the file: costs the GPU an eighth more */

    /* Local bytes: map the slab from the file on rank 0's host, else receive it. */
    const double td = now_ms();
    uint64_t g0, g1;
    local_range(c, c->rank, &g0, &g1);
    const uint64_t lb = layer_bytes(c);
    void *mine = NULL;
    size_t mine_len = 0;
    int mine_mmap = 0, rc = 0;
    int want_remote = 0;
    if (g1 > g0) {
        if (strcmp(plan.host, c->host) == 0) {
            int fd = open(path, O_RDONLY);
            if (fd >= 0) {
                const long pg = sysconf(_SC_PAGESIZE);
                const uint64_t off = g0 * lb, aoff = off / (uint64_t)pg * (uint64_t)pg;
                const size_t mlen = (size_t)((g1 - g0) * lb + (off - aoff));
                void *m = mmap(NULL, mlen, PROT_READ, MAP_SHARED, fd, (off_t)aoff);
                close(fd);
                if (m != MAP_FAILED) {
                    mine = m;
                    mine_len = mlen;
                    mine_mmap = 1;
                }
            }
        }
        if (!mine) want_remote = 1;
    }
    int *remote = calloc((size_t)c->n, sizeof(int));
    MPI_CHECK(c, MPI_Allgather(&want_remote, 1, MPI_INT, remote, 1, MPI_INT, MPI_COMM_WORLD), "allgather");
    const size_t chunk = (size_t)1 << 28;
    if (c->rank == 0) {
        int fd = -1;
        for (int i = 1; i < c->n; i++) {
            if (!remote[i]) continue;
            uint64_t a0, a1;
            local_range(c, i, &a0, &a1);
            if (fd < 0) fd = open(path, O_RDONLY);
            const size_t total = (size_t)((a1 - a0) * lb);
            void *m = fd >= 0 ? mmap(NULL, total + (size_t)(a0 * lb % (uint64_t)sysconf(_SC_PAGESIZE)), PROT_READ, MAP_SHARED, fd,
                                     (off_t)(a0 * lb / (uint64_t)sysconf(_SC_PAGESIZE) * (uint64_t)sysconf(_SC_PAGESIZE)))
                              : MAP_FAILED;
            const uint8_t *src = m == MAP_FAILED ? NULL : (const uint8_t *)m + a0 * lb % (uint64_t)sysconf(_SC_PAGESIZE);
            for (size_t off = 0; off < total; off += chunk) {
                size_t k = total - off < chunk ? total - off : chunk;
                /* a failed map sends zeros of the right size; the error is reported below */
                static uint8_t zeros[1];
                MPI_CHECK(c, MPI_Send(src ? src + off : zeros, src ? (int)k : 0, MPI_BYTE, i, 401, MPI_COMM_WORLD), "send slab");
            }
            if (!src) rc = RR_ERR_IO;
            if (m != MAP_FAILED) munmap(m, total + (size_t)(a0 * lb % (uint64_t)sysconf(_SC_PAGESIZE)));
        }
        if (fd >= 0) close(fd);
    } else if (want_remote) {
        const size_t total = (size_t)((g1 - g0) * lb);
        mine = malloc(total ? total : 1);
        mine_len = total;
        for (size_t off = 0; off < total; off += chunk) {
            size_t k = total - off < chunk ? total - off : chunk;
            MPI_Status st;
            MPI_CHECK(c, MPI_Recv(mine ? (uint8_t *)mine + off : NULL, mine ? (int)k : 0, MPI_BYTE, 0, 401, MPI_COMM_WORLD, &st), "receive slab");
            int got = 0;
            MPI_Get_count(&st, MPI_BYTE, &got);
            if ((size_t)got != k) rc = RR_ERR_IO;
        }
        if (!mine) rc = RVR_ERR_NOMEM;
    }
    free(remote);
    const double t_dist = now_ms() - td;

    const uint8_t *data = mine_mmap ? (const uint8_t *)mine + (g0 * lb % (uint64_t)sysconf(_SC_PAGESIZE)) : mine;
    install_slab(c, mine, mine_len, mine_mmap ? MAP_MMAP : MAP_MALLOC, data, g0, g1, rc, t0, t_scan, t_dist);
}

/* SET_SYNTHETIC: every rank generates its own slab (+ghosts) of a synthetic scene, into
 * page-locked memory with the CUDA backend (the upload is then one DMA). The cuts are even
 * (the content does not exist before the cut), the data range is reduced over the ranks. */
static void op_set_synthetic(ctx *c, const uint8_t *p, uint64_t len) {
    const double t0 = now_ms();
    rvr_volume_desc d;
    uint32_t scene = 0;
    memset(&d, 0, sizeof d);
    int rc = 0;
    if (len < 64 + 8) rc = RR_ERR_PROTO;
    else memcpy(&d, p, 64), memcpy(&scene, p + 64, 4);
    if (!rc && (d.dtype != RVR_DTYPE_F32 || d.order != RVR_ORDER_C)) rc = RVR_ERR_DTYPE;
    if (!rc && (!d.shape[0] || !d.shape[1] || !d.shape[2] || scene != RR_SYNTH_SPHERE)) rc = RVR_ERR_INVALID;
    if (!rc && (d.window_lo > d.window_hi || !isfinite(d.window_lo) || !isfinite(d.window_hi))) rc = RVR_ERR_RANGE;
    uint64_t *bounds = rc ? NULL : calloc((size_t)c->n + 1, sizeof(uint64_t));
    const uint64_t blocks = (d.shape[0] + RR_BRICK - 1) / RR_BRICK;
    double *cost = rc ? NULL : malloc(sizeof(double) * (blocks ? blocks : 1));
    if (!rc && (!bounds || !cost)) rc = RVR_ERR_NOMEM;
    rc = agree(rc, NULL);
    if (rc) {
        free(bounds), free(cost);
        if (c->rank == 0) reply_error(rc, "set synthetic volume: %s", rvr_strerror(rc));
        return;
    }
    for (uint64_t i = 0; i < blocks; i++) cost[i] = 1;
    rr_cut(cost, blocks, d.shape[0], c->n, bounds);
    free(cost);
    adopt_layout(c, &d, bounds, 0, 1, NAN, NAN, 0); /* the window follows from the range below */
    c->margin = 0; /* generated to fill the GPUs (benchmarks of volumes larger than one): fixed cuts */
    const double tg = now_ms();
    uint64_t g0, g1;
    local_range(c, c->rank, &g0, &g1);
    const uint64_t lb = layer_bytes(c);
    const size_t bytes = (size_t)((g1 - g0) * lb);
    void *mine = NULL;
    int kind = MAP_MALLOC;
    double range[2] = {INFINITY, -INFINITY}; /* min, -max */
    uint64_t nans = 0;
    if (g1 > g0) {
        if (c->backend == RVR_BACKEND_CUDA && rvr_host_alloc(bytes, &mine) == 0) kind = MAP_PINNED;
        else mine = malloc(bytes);
        if (!mine) rc = RVR_ERR_NOMEM;
        else rr_synth_layers((int)scene, d.shape, g0, g1, mine);
    }
    const uint64_t z0 = c->bounds[c->rank], z1 = c->bounds[c->rank + 1];
    if (mine && z1 > z0) {
        const uint64_t abc[3] = {z1 - z0, c->abc[1], c->abc[2]};
        rr_scan sc;
        if (rr_scan_volume((const uint8_t *)mine + (z0 - g0) * lb, d.dtype, abc, &sc) == 0) {
            if (sc.min == sc.min) range[0] = sc.min, range[1] = -sc.max;
            nans = sc.nan_count;
            rr_scan_free(&sc);
        } else {
            rc = RVR_ERR_NOMEM;
        }
    }
    double grange[2];
    uint64_t gnans = 0;
    MPI_CHECK(c, MPI_Allreduce(range, grange, 2, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD), "allreduce");
    MPI_CHECK(c, MPI_Allreduce(&nans, &gnans, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD), "allreduce");
    c->data_min = grange[0] <= -grange[1] ? grange[0] : NAN;
    c->data_max = grange[0] <= -grange[1] ? -grange[1] : NAN;
    c->nan_count = gnans;
    if (d.window_lo == d.window_hi) rr_auto_window(c->data_min, c->data_max, &c->win_lo, &c->win_hi);
    else c->win_lo = d.window_lo, c->win_hi = d.window_hi;
    double t_gen = now_ms() - tg, t_gen_max = 0;
    MPI_CHECK(c, MPI_Allreduce(&t_gen, &t_gen_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "allreduce");
    install_slab(c, mine, bytes, kind, mine, g0, g1, rc, t0, t_gen_max, 0);
}

static void op_set_window(ctx *c, const uint8_t *p, uint64_t len) {
    double lo = 0, hi = 0;
    int rc = 0;
    if (len < 16) rc = RR_ERR_PROTO;
    else memcpy(&lo, p, 8), memcpy(&hi, p + 8, 8);
    if (!rc && !c->has_global) rc = RVR_ERR_NO_VOLUME;
    if (!rc && (!isfinite(lo) || !isfinite(hi) || lo > hi)) rc = RVR_ERR_RANGE;
    if (!rc && lo == hi) rr_auto_window(c->data_min, c->data_max, &lo, &hi);
    if (!rc && has_local(c, c->rank)) rc = rvr_renderer_set_window(c->r, lo, hi);
    int who = 0;
    rc = agree(rc, &who);
    if (!rc) c->win_lo = lo, c->win_hi = hi;
    if (c->rank != 0) return;
    if (rc) {
        reply_error(rc, "set window: rank %d: %s", who, rvr_strerror(rc));
        return;
    }
    rvr_volume_info info;
    fill_info(c, &info);
    reply(0, &info, sizeof info, NULL, 0);
}

static void op_floats(ctx *c, int op, const uint8_t *p, uint64_t len) {
    const uint32_t n = (uint32_t)(len / 16);
    float *f = malloc(len ? len : 1);
    int rc = f ? 0 : RVR_ERR_NOMEM;
    if (f) memcpy(f, p, len);
    if (!rc) rc = op == RR_OP_SET_TF ? rvr_renderer_set_tf(c->r, f, n) : rvr_renderer_set_point_colormap(c->r, f, n);
    if (!rc && op == RR_OP_SET_TF) {
        free(c->tf);
        c->tf = f;
        c->tfn = n;
        f = NULL;
    }
    free(f);
    int who = 0;
    rc = agree(rc, &who);
    if (c->rank == 0) {
        if (rc) reply_error(rc, "%s: rank %d: %s", op == RR_OP_SET_TF ? "set TF" : "set point colormap", who, rvr_strerror(rc));
        else reply(0, NULL, 0, NULL, 0);
    }
}

/* --------------------------------------------------------------------------- points ---- */

static int slab_of(const ctx *c, double x) {
    int k = 0;
    while (k + 1 < c->n && x >= c->bw[k + 1]) k++;
    return k;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : (x > y ? 1 : 0);
}

/* Rank 0 sends every rank the points of its slab (translated into its local frame). */
static int distribute_points(ctx *c) {
    int has = c->rank == 0 ? c->has_points : 0;
    MPI_CHECK(c, MPI_Bcast(&has, 1, MPI_INT, 0, MPI_COMM_WORLD), "broadcast");
    c->has_points = has;
    int rc = 0;
    if (!has) {
        rc = rvr_renderer_clear_points(c->r);
        return agree(rc, NULL);
    }
    float range[2] = {c->pmin, c->pmax};
    MPI_CHECK(c, MPI_Bcast(range, 2, MPI_FLOAT, 0, MPI_COMM_WORLD), "broadcast");
    c->pmin = range[0], c->pmax = range[1];
    if (!c->has_global) {
        /* no volume: slabs of equal point counts along world z */
        c->waxis = 2;
        free(c->bw);
        c->bw = malloc(sizeof(double) * ((size_t)c->n + 1));
        if (c->rank == 0) {
            float *z = malloc(sizeof(float) * (c->pn ? c->pn : 1));
            for (uint64_t i = 0; i < c->pn; i++) z[i] = c->pxyz[3 * i + 2];
            qsort(z, c->pn, sizeof(float), cmp_float);
            for (int k = 0; k <= c->n; k++) c->bw[k] = c->pn ? z[(c->pn - 1) * (uint64_t)k / (uint64_t)c->n] : 0;
            free(z);
        }
        MPI_CHECK(c, MPI_Bcast(c->bw, c->n + 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), "broadcast");
    }
    int *counts = NULL, *displs3 = NULL, *counts3 = NULL, *displs = NULL;
    float *sx = NULL, *sv = NULL;
    if (c->rank == 0) {
        counts = calloc((size_t)c->n, sizeof(int));
        counts3 = calloc((size_t)c->n, sizeof(int));
        displs = calloc((size_t)c->n, sizeof(int));
        displs3 = calloc((size_t)c->n, sizeof(int));
        sx = malloc(sizeof(float) * 3 * (c->pn ? c->pn : 1));
        sv = malloc(sizeof(float) * (c->pn ? c->pn : 1));
        int *slab = malloc(sizeof(int) * (c->pn ? c->pn : 1));
        for (uint64_t i = 0; i < c->pn; i++) {
            slab[i] = slab_of(c, c->pxyz[3 * i + c->waxis]);
            counts[slab[i]]++;
        }
        for (int k = 1; k < c->n; k++) displs[k] = displs[k - 1] + counts[k - 1];
        int *fill = calloc((size_t)c->n, sizeof(int));
        for (uint64_t i = 0; i < c->pn; i++) {
            const int k = slab[i];
            const size_t j = (size_t)displs[k] + (size_t)fill[k]++;
            const double o = origin_of(c, k);
            for (int a = 0; a < 3; a++) sx[3 * j + a] = c->pxyz[3 * i + a] - (a == c->waxis ? (float)o : 0.f);
            sv[j] = c->pval[i];
        }
        for (int k = 0; k < c->n; k++) counts3[k] = 3 * counts[k], displs3[k] = 3 * displs[k];
        free(fill);
        free(slab);
    }
    int mine = 0;
    MPI_CHECK(c, MPI_Scatter(counts, 1, MPI_INT, &mine, 1, MPI_INT, 0, MPI_COMM_WORLD), "scatter");
    float *xyz = malloc(sizeof(float) * 3 * ((size_t)mine + 1)), *val = malloc(sizeof(float) * ((size_t)mine + 1));
    MPI_CHECK(c, MPI_Scatterv(sx, counts3, displs3, MPI_FLOAT, xyz, 3 * mine, MPI_FLOAT, 0, MPI_COMM_WORLD), "scatter");
    MPI_CHECK(c, MPI_Scatterv(sv, counts, displs, MPI_FLOAT, val, mine, MPI_FLOAT, 0, MPI_COMM_WORLD), "scatter");
    rc = mine ? rvr_renderer_set_points(c->r, xyz, val, (uint64_t)mine) : rvr_renderer_clear_points(c->r);
    free(xyz), free(val), free(counts), free(counts3), free(displs), free(displs3), free(sx), free(sv);
    return agree(rc, NULL);
}

static void op_set_points(ctx *c, const uint8_t *p, uint64_t len) {
    int rc = 0;
    if (c->rank == 0) {
        uint64_t n = 0;
        if (len >= 8) memcpy(&n, p, 8);
        if (len < 8 || len != 8 + 16 * n) rc = RR_ERR_PROTO;
        else if (n == 0) rc = RVR_ERR_EMPTY;
        float *xyz = NULL, *val = NULL;
        if (!rc) {
            xyz = malloc(12 * n);
            val = malloc(4 * n);
            if (!xyz || !val) rc = RVR_ERR_NOMEM;
        }
        if (!rc) {
            memcpy(xyz, p + 8, 12 * n);
            memcpy(val, p + 8 + 12 * n, 4 * n);
            free(c->pxyz), free(c->pval);
            c->pxyz = xyz, c->pval = val, c->pn = n, c->has_points = 1;
            float mn = INFINITY, mx = -INFINITY;
            for (uint64_t i = 0; i < n; i++)
                if (isfinite(val[i])) mn = fminf(mn, val[i]), mx = fmaxf(mx, val[i]);
            c->pmin = mn, c->pmax = mx;
        } else {
            free(xyz), free(val);
        }
    }
    MPI_CHECK(c, MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD), "broadcast");
    if (rc) {
        if (c->rank == 0) reply_error(rc, "set points: %s", rvr_strerror(rc));
        return;
    }
    rc = distribute_points(c);
    if (c->rank == 0) {
        if (rc) reply_error(rc, "set points: %s", rvr_strerror(rc));
        else reply(0, NULL, 0, NULL, 0);
    }
}

static void op_clear_points(ctx *c) {
    if (c->rank == 0) {
        free(c->pxyz), free(c->pval);
        c->pxyz = c->pval = NULL;
        c->pn = 0;
        c->has_points = 0;
    }
    int rc = distribute_points(c);
    if (c->rank == 0) {
        if (rc) reply_error(rc, "clear points: %s", rvr_strerror(rc));
        else reply(0, NULL, 0, NULL, 0);
    }
}

/* --------------------------------------------------------------------------- render ---- */

/* The per-rank settings: premultiplied on transparent black, own slab only, local frame. */
static void local_settings(const ctx *c, const rvr_render_settings *s, rvr_render_settings *ls, double origin) {
    *ls = *s;
    ls->flags |= RVR_F_PREMULTIPLIED;
    ls->background[0] = ls->background[1] = ls->background[2] = ls->background[3] = 0;
    if (s->mode == RVR_MODE_MIP || s->mode == RVR_MODE_MINIP) ls->flags |= RVR_F_GRAY;
    if (ls->ao_radius == 0 && c->maxdim) ls->ao_radius = fmaxf(4.f, (float)c->maxdim / 16.f);
    if (c->has_points && !(s->point_cmap_lo < s->point_cmap_hi) && c->pmin <= c->pmax) {
        ls->point_cmap_lo = c->pmin;
        ls->point_cmap_hi = c->pmax > c->pmin ? c->pmax : c->pmin + 1;
    }
    if (!has_local(c, c->rank)) {
        ls->flags |= RVR_F_HIDE_VOLUME;
        return;
    }
    const int w = c->waxis;
    float mn[3], mx[3];
    if (s->flags & RVR_F_CLIP_BOX) {
        memcpy(mn, s->clip_min, sizeof mn);
        memcpy(mx, s->clip_max, sizeof mx);
    } else {
        for (int k = 0; k < 3; k++) mn[k] = -1e30f, mx[k] = 1e30f;
    }
    for (int k = 0; k < 3; k++) {
        double lo = mn[k], hi = mx[k];
        if (k == w) {
            if (c->rank > 0) lo = fmax(lo, c->bw[c->rank]);
            if (c->rank < c->n - 1) hi = fmin(hi, c->bw[c->rank + 1]);
        }
        ls->clip_min[k] = (float)(k == w && lo > -1e29 ? lo - origin : lo);
        float h = (float)(k == w && hi < 1e29 ? hi - origin : hi);
        /* a sample exactly on a cut belongs to the upper slab */
        if (k == w && c->rank < c->n - 1) h = nextafterf(h, -INFINITY);
        ls->clip_max[k] = h;
    }
    ls->flags |= RVR_F_CLIP_BOX;
    for (uint32_t i = 0; i < ls->num_planes && i < RVR_MAX_CLIP_PLANES; i++)
        ls->planes[i][3] = (float)(s->planes[i][3] + s->planes[i][w] * origin);
}

static void buf_free(frame_buf *b) {
    if (b->pinned) rvr_host_free(b->p);
    else free(b->p);
    memset(b, 0, sizeof *b);
}

/* At least `bytes` in b (contents not kept); NULL when out of memory. */
static uint8_t *buf_get(const ctx *c, frame_buf *b, size_t bytes, int want_pinned) {
    if (b->cap >= bytes && b->p) return b->p;
    buf_free(b);
    void *p = NULL;
    if (want_pinned && c->backend == RVR_BACKEND_CUDA && rvr_host_alloc(bytes, &p) == 0) {
        b->pinned = 1;
    } else {
        p = malloc(bytes);
    }
    b->p = p;
    b->cap = p ? bytes : 0;
    return b->p;
}

static void frame_file_drop(ctx *c) {
    if (c->frame_file.registered) rvr_host_unregister(c->frame_file.p);
    if (c->frame_file.p) munmap(c->frame_file.p, c->frame_file.len);
    memset(&c->frame_file, 0, sizeof c->frame_file);
}

/* Rank 0: where the answer's image goes. With a frame file named in the request, its mapping
 * (kept while the file stays the same), so the image is written once, where the instance reads
 * it; else the answer buffer, sent over the socket. NULL when the file cannot be used. */
static uint8_t *answer_image(ctx *c, const char *path, size_t bytes, int pinned) {
    if (!path) return buf_get(c, &c->out, bytes, pinned);
    struct stat st;
    if (stat(path, &st) || (uint64_t)st.st_size < bytes) return NULL;
    if (c->frame_file.p && c->frame_file.dev == st.st_dev && c->frame_file.ino == st.st_ino && c->frame_file.len >= bytes)
        return c->frame_file.p;
    frame_file_drop(c);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return NULL;
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return NULL;
    c->frame_file.dev = st.st_dev, c->frame_file.ino = st.st_ino;
    c->frame_file.p = m, c->frame_file.len = bytes;
    /* one rank: the GPU writes the frames straight into the file (no copy off the GPU, no
     * staging); with several, rank 0's CPU finishes into it */
    if (c->n == 1 && c->backend == RVR_BACKEND_CUDA) c->frame_file.registered = rvr_host_register(m, bytes) == RVR_OK;
    return m;
}

/* One rank: the renderer's own image is the answer (no partial image, no compositing, no
 * finishing: one DMA off the GPU into the answer buffer). */
static void render_single(ctx *c, int is_slice, const rvr_camera *cam, const rvr_slice *sl, const rvr_render_settings *s,
                          uint32_t W, uint32_t H, const char *file, double t0) {
    const size_t bytes = (size_t)W * H * 4;
    uint8_t *out = answer_image(c, file, bytes, 1);
    if (!out) {
        reply_error(file ? RR_ERR_IO : RVR_ERR_NOMEM, "render: rank 0: %s", file ? "cannot map the frame file" : rvr_strerror(RVR_ERR_NOMEM));
        return;
    }
    rvr_render_settings s1 = *s;
    if (!has_local(c, 0)) s1.flags |= RVR_F_HIDE_VOLUME; /* the last volume failed */
    rvr_render_stats st;
    memset(&st, 0, sizeof st);
    const double tr = now_ms();
    int rc = is_slice ? rvr_render_slice(c->r, sl, &s1, W, H, out, bytes, &st) : rvr_render(c->r, cam, &s1, W, H, out, bytes, &st);
    const double t_render = now_ms() - tr;
    if (rc) {
        reply_error(rc, "render: rank 0: %s", rvr_strerror(rc));
        return;
    }
    rr_frame_stats fs = {0, t_render, t_render, 0, 0, 0, st.samples, st.rays};
    fs.total_ms = now_ms() - t0;
    g_alarm_armed = 0;
    reply(0, &fs, sizeof fs, file ? NULL : out, file ? 0 : bytes);
}

/* Rank 0: what the answer's pixels outside the drawn pieces are: the whole image, or, when
 * `out` is the frame file whose last answer had this size and background, only where that
 * answer drew (the rest is this frame's background already). */
static rr_rect stale_of(const ctx *c, const uint8_t *out, int W, int H, uint32_t bg) {
    if (c->frame_file.p && out == c->frame_file.p && c->frame_file.answered && c->frame_file.W == W && c->frame_file.H == H &&
        c->frame_file.bg == bg)
        return c->frame_file.drawn;
    return (rr_rect){0, 0, W, H};
}

/* Rank 0, after finishing into `out`: remember what the frame file now holds. */
static void frame_file_answered(ctx *c, const uint8_t *out, int W, int H, uint32_t bg, rr_rect drawn) {
    if (!c->frame_file.p || out != c->frame_file.p) return;
    c->frame_file.answered = 1, c->frame_file.W = W, c->frame_file.H = H, c->frame_file.bg = bg, c->frame_file.drawn = drawn;
}

static rr_finish finish_of(const ctx *c, const rvr_render_settings *s, int cop) {
    return (rr_finish){.mip = cop != RR_OP_OVER, .gray = (s->flags & RVR_F_GRAY) != 0, .premul = (s->flags & RVR_F_PREMULTIPLIED) != 0,
                       .bg = {s->background[0], s->background[1], s->background[2], s->background[3]}, .tf = c->tf, .tfn = c->tfn};
}

/* Stream compositing (stream.h) this frame? Asked for, or auto with every rank on CUDA (its
 * rows land while it renders) when root is the plan the footprints foot[n] favour (the bytes
 * rank 0 receives; see composite.h). Every rank decides alike from the same request. */
static int use_stream(const ctx *c, const rr_rect *foot) {
    if (c->algo == RR_ALGO_STREAM) return 1;
    if (c->algo != RR_ALGO_AUTO || !c->all_cuda) return 0;
    const double root = rr_composite_cost(RR_ALGO_ROOT, c->n, foot);
    return root <= rr_composite_cost(RR_ALGO_BSWAP, c->n, foot) && root <= rr_composite_cost(RR_ALGO_DIRECT, c->n, foot);
}

/* What every rank knows after a frame, from one small allgather (not one collective each). */
typedef struct frame_sum {
    int rc, who;          /* the first error (as agree) and a rank that had it */
    double tmax, tmin;    /* render times */
    uint64_t tot[3];      /* bytes sent, samples, rays: sums */
} frame_sum;

/* t_render: this rank's render time; t_cost: what its cut is to even out (see cost_of) */
static frame_sum frame_gather(ctx *c, int rc, double t_render, double t_cost, uint64_t sent, uint64_t samples, uint64_t rays) {
    typedef struct one {
        int32_t rc, pad;
        double t, cost;
        uint64_t v[3];
    } one;
    const one me = {rc, 0, t_render, t_cost, {sent, samples, rays}};
    one *all = malloc(sizeof(one) * (size_t)c->n);
    if (!all) mpi_fail(c, MPI_ERR_NO_MEM, "frame statistics");
    MPI_CHECK(c, MPI_Allgather(&me, sizeof me, MPI_BYTE, all, sizeof me, MPI_BYTE, MPI_COMM_WORLD), "allgather");
    frame_sum f = {0, 0, t_render, t_render, {0, 0, 0}};
    for (int i = 0; i < c->n; i++) {
        if (all[i].rc < f.rc) f.rc = all[i].rc, f.who = i;
        f.tmax = all[i].t > f.tmax ? all[i].t : f.tmax;
        f.tmin = all[i].t < f.tmin ? all[i].t : f.tmin;
        for (int k = 0; k < 3; k++) f.tot[k] += all[i].v[k];
        /* the cost the cuts even out: the last frame's render time, what the frame waits for.
         * (Samples, which the GPU counts exactly, did as well on the H200 x2 without occluders,
         * 0.642x and 0.683x against 0.648x and 0.638x, and worse with them: there equal samples
         * took the rank behind 22% longer.) */
        c->cost_of[i] = all[i].cost;
    }
    free(all);
    return f;
}

/* After a frame (every rank alike, from frame_gather): the render cuts move toward even render times. */
static void follow_cost(ctx *c) {
    if (c->n < 2 || !c->margin || c->has_points) return; /* points are dealt to slabs by the cuts: keep them */
    rr_follow_cuts(c->n, c->bounds, c->margin, c->sp, c->cost_of, c->bw);
}

/* The image of the rank right in front of this one (visibility order of the frame being
 * streamed; *front: that rank), where this rank's renderer can read it (same host; CUDA:
 * page-locked for it too); NULL for the nearest rank, or one that draws nothing. Its pixels
 * end this rank's rays behind them early (rvr_renderer_set_occluder). */
static const uint8_t *front_image(ctx *c, const rr_rect *foot, int *front) {
    const rr_stream *s = &c->stream;
    int at = 0;
    while (at < s->n && s->order[at] != c->rank) at++;
    if (at == 0 || at == s->n) return NULL;
    *front = s->order[at - 1];
    if (rr_rect_empty(foot[*front])) return NULL;
    return c->backend == RVR_BACKEND_CUDA ? rr_images_peer_for_gpu(&c->images, *front) : c->images.peer[*front];
}

/* Render from the bottom rows up when the ranks further back lie lower on the screen: a rank
 * then renders first the rows where the rank behind it looks through its part, and that rank
 * renders them last, finding them done (its occluder). (Otherwise top down.) */
static int rows_up(const ctx *c, const rr_rect *foot) {
    const rr_stream *s = &c->stream;
    const rr_rect a = foot[s->order[0]], z = foot[s->order[s->n - 1]];
    if (rr_rect_empty(a) || rr_rect_empty(z)) return 0;
    return z.y0 + z.y1 > a.y0 + a.y1;
}

/* A frame composited while it renders: this rank renders its footprint of img (foot[rank],
 * img cleared outside it) handing rows to the stream as they land; rank 0 finishes bands into
 * the answer meanwhile and answers once the last one is in. */
static void render_streamed(ctx *c, const rvr_camera *cam, const rvr_render_settings *s, const rvr_render_settings *ls, int W,
                            int H, uint8_t *img, const rr_rect *foot, const rr_view *v, int cop, const char *file, double t0) {
    const size_t npix = (size_t)W * H;
    const rr_rect part = foot[c->rank];
    const rr_finish f = finish_of(c, s, cop);
    const uint32_t bg = rr_finish_background(&f);
    uint8_t *out = NULL;
    rr_rect stale = {0, 0, W, H};
    if (c->rank == 0) {
        out = answer_image(c, file, npix * 4, 0); /* NULL: the frame is received, not finished */
        if (out) stale = stale_of(c, out, W, H, bg);
        c->frame_file.answered = 0; /* until this answer is complete: it writes bands as they come */
    }
    /* occluders (RR_OCCLUDE=1), on rank 0's host: rank 0 clears that host's images band by band */
    const int in_place = c->occlude && !c->stream_copy && c->images.local[0] >= 0;
    uint8_t *const *peer = c->stream_copy ? NULL : c->images.peer;
    const double tb = now_ms();
    int mrc = rr_stream_begin(&c->stream, MPI_COMM_WORLD, cop, v, c->bw, foot, img, peer, in_place, W, H, c->band_rows, &f, out, stale);
    if (mrc != MPI_SUCCESS) mpi_fail(c, mrc, "stream compositing");
    rvr_render_settings rs = *ls;
    if (in_place && rows_up(c, foot)) rs.flags |= RVR_F_ROWS_UP;
    int front = -1;
    const uint8_t *occ = in_place && c->images_clear ? front_image(c, foot, &front) : NULL;
    if (occ) { /* read only where the rank in front draws */
        const rr_rect fr = foot[front];
        const rvr_region where = {(uint32_t)fr.x0, (uint32_t)fr.y0, (uint32_t)(fr.x1 - fr.x0), (uint32_t)(fr.y1 - fr.y0)};
        if (rvr_renderer_set_occluder(c->r, occ, npix * 4, (uint32_t)W, (uint32_t)H, &where) != RVR_OK) occ = NULL;
    }
    if (occ && c->test_occ_delay_ms > 0) usleep((useconds_t)c->test_occ_delay_ms * 1000);
    rvr_render_stats st;
    memset(&st, 0, sizeof st);
    int rc = 0;
    const double tr = now_ms();
    if (!rr_rect_empty(part)) {
        rvr_camera lc = *cam;
        const double origin = origin_of(c, c->rank);
        lc.eye[c->waxis] = (float)(cam->eye[c->waxis] - origin);
        lc.target[c->waxis] = (float)(cam->target[c->waxis] - origin);
        const rvr_region g = {(uint32_t)part.x0, (uint32_t)part.y0, (uint32_t)(part.x1 - part.x0), (uint32_t)(part.y1 - part.y0)};
        rc = rvr_render_region_rows(c->r, &lc, &rs, (uint32_t)W, (uint32_t)H, &g, img, npix * 4, rr_stream_rows, &c->stream, &st);
    }
    double t_render = now_ms() - tr;
    if (occ) rvr_renderer_set_occluder(c->r, NULL, 0, 0, 0, NULL);
    if (c->test_delay_ms > 0 && c->rank != 0) usleep((useconds_t)c->test_delay_ms * 1000);
    const double te = now_ms();
    mrc = rr_stream_end(&c->stream, rc != 0 || (c->rank == 0 && !out));
    if (mrc != MPI_SUCCESS) mpi_fail(c, mrc, "stream compositing");
    const double t_tail = now_ms() - te;
    /* rank 0 cleared this host's images (before the gather below); else each image holds pixels
     * in its rank's footprint only (rank 0 cleared what it blended in beyond its own) */
    c->img_dirty = in_place ? (rr_rect){0, 0, 0, 0} : part;
    c->images_clear = in_place;
    /* streamed, the frame waits for the last rank's rows: each rank's cost is the time from its
     * request to its render's end, rank 0's set-up of the answer included (its render starts
     * ~40 us after the others' on the H200 x2) */
    const frame_sum fsum = frame_gather(c, rc, t_render, tr + t_render - c->t_req, c->stream.sent, st.samples, st.rays);
    rc = fsum.rc;
    if (c->rank == 0) {
        if (rc) reply_error(rc, "render: rank %d: %s", fsum.who, rvr_strerror(rc));
        else if (!out)
            reply_error(file ? RR_ERR_IO : RVR_ERR_NOMEM, "render: rank 0: %s", file ? "cannot map the frame file" : rvr_strerror(RVR_ERR_NOMEM));
        else {
            frame_file_answered(c, out, W, H, bg, c->stream.drawn);
            /* composite: what was left after rank 0's own rows (the rest overlapped the rendering) */
            rr_frame_stats fs = {0, fsum.tmax, fsum.tmin, t_tail, 0, fsum.tot[0], fsum.tot[1], fsum.tot[2]};
            fs.total_ms = now_ms() - t0;
            g_alarm_armed = 0;
            reply(0, &fs, sizeof fs, file ? NULL : out, file ? 0 : npix * 4);
        }
    }
    /* after the answer, off the frame's path. at: the request, stream set-up, render start and
     * end, stream end, on the host's clock (ms) */
    if (c->trace)
        fprintf(stderr, "{\"rank\":%d,\"render_ms\":%.3f,\"in_rows_ms\":%.3f,\"rows_calls\":%d,\"tail_ms\":%.3f,\"samples\":%llu,\"occluder\":%d,\"rows_up\":%d,"
                "\"at\":[%.3f,%.3f,%.3f,%.3f,%.3f]}\n",
                c->rank, t_render, c->stream.rows_ms, c->stream.rows_calls, t_tail, (unsigned long long)st.samples, occ != NULL,
                (rs.flags & RVR_F_ROWS_UP) != 0, c->t_req, tb, tr, tr + t_render, te + t_tail);
    if (!rc) follow_cost(c);
}

static void op_render(ctx *c, int op, const uint8_t *p, uint64_t len) {
    const double t0 = now_ms();
    rvr_camera cam;
    rvr_slice sl;
    rvr_render_settings s;
    uint32_t wh[2] = {0, 0};
    const int is_slice = op == RR_OP_SLICE;
    const size_t head = is_slice ? 36 : 48;
    int rc = 0;
    if (len < head + 224 + 8) rc = RR_ERR_PROTO;
    else {
        if (is_slice) memcpy(&sl, p, 36);
        else memcpy(&cam, p, 48);
        memcpy(&s, p + head, 224);
        memcpy(wh, p + head + 224, 8);
    }
    /* optional: the frame file the answer's image goes into */
    char file_buf[RR_PATH_MAX];
    const char *file = NULL;
    if (!rc && len >= head + 224 + 8 + RR_PATH_MAX) {
        memcpy(file_buf, p + head + 224 + 8, RR_PATH_MAX);
        file_buf[RR_PATH_MAX - 1] = 0;
        if (file_buf[0]) file = file_buf;
    }
    if (!rc && (wh[0] == 0 || wh[1] == 0 || wh[0] > 32768 || wh[1] > 32768)) rc = RVR_ERR_INVALID;
    if (!rc && !is_slice && s.mode == RVR_MODE_AVERAGE && c->n > 1) rc = RR_ERR_UNSUPPORTED;
    if (!rc && is_slice && !(c->has_global && c->vol_ok)) rc = RVR_ERR_NO_VOLUME;
    if (rc) {
        /* every rank sees the same request: no MPI needed to agree */
        if (c->rank == 0) {
            if (rc == RR_ERR_UNSUPPORTED) reply_error(rc, "the average projection is not supported with several ranks");
            else reply_error(rc, "render: %s", rvr_strerror(rc));
        }
        return;
    }
    if (c->n == 1) {
        render_single(c, is_slice, &cam, &sl, &s, wh[0], wh[1], file, t0);
        return;
    }
    const int W = (int)wh[0], H = (int)wh[1];
    const size_t npix = (size_t)W * H;
    uint8_t *img = NULL;
    int fresh = 0;
    const int mrc0 = rr_images_get(&c->images, npix * 4, c->backend == RVR_BACKEND_CUDA, &img, &fresh);
    if (mrc0 != MPI_SUCCESS) mpi_fail(c, mrc0, "the partial image's shared memory");
    if (fresh) c->img_w = 0, c->images_clear = 0; /* a new buffer: all of it is to be cleared */
    const double origin = origin_of(c, c->rank);
    const int w = c->waxis;
    rvr_render_settings ls;
    local_settings(c, &s, &ls, origin);
    rvr_render_stats st;
    memset(&st, 0, sizeof st);
    int rendered = 0;
    /* what this rank draws: a slice, the whole image; a frame, its slab's footprint (the rest of
     * img is made transparent: only where an earlier frame left pixels) */
    const rr_rect all = {0, 0, W, H};
    rr_rect part = all;
    if (!rc) {
        if (!is_slice) part = slab_footprint(c, c->rank, &cam, &s, W, H);
        else if (!has_local(c, c->rank)) part = (rr_rect){0, 0, 0, 0}; /* draws nothing */
        if (c->img_w != W || c->img_h != H) c->img_dirty = all, c->img_w = W, c->img_h = H;
        rr_clear_outside(img, W, c->img_dirty, part);
        c->img_dirty = part;
    }
    rr_view v;
    memset(&v, 0, sizeof v);
    if (is_slice) {
        v.ortho = 1, v.dir = 1; /* the slabs' pixels are disjoint: any order */
    } else {
        v.ortho = cam.projection == RVR_PROJ_ORTHO;
        v.eye = cam.eye[w];
        v.dir = (double)cam.target[w] - cam.eye[w];
    }
    const int cop = (!is_slice && s.mode == RVR_MODE_MIP) ? RR_OP_MAX : (!is_slice && s.mode == RVR_MODE_MINIP) ? RR_OP_MIN : RR_OP_OVER;
    if (!rc && !is_slice && (c->algo == RR_ALGO_STREAM || (c->algo == RR_ALGO_AUTO && c->all_cuda))) {
        rr_rect *foot = malloc(sizeof(rr_rect) * (size_t)c->n); /* every rank's, as it computes its own */
        if (!foot) mpi_fail(c, MPI_ERR_NO_MEM, "stream compositing");
        for (int i = 0; i < c->n; i++) foot[i] = i == c->rank ? part : slab_footprint(c, i, &cam, &s, W, H);
        const int stream = use_stream(c, foot);
        if (stream) render_streamed(c, &cam, &s, &ls, W, H, img, foot, &v, cop, file, t0);
        free(foot);
        if (stream) return;
    }
    c->images_clear = 0; /* this frame leaves pixels in the images */
    const double tr = now_ms();
    if (!rc) {
        if (is_slice) {
            rvr_slice l = sl;
            l.origin[w] = (float)(sl.origin[w] - origin);
            if (has_local(c, c->rank)) rc = rvr_render_slice(c->r, &l, &ls, wh[0], wh[1], img, npix * 4, &st), rendered = 1;
        } else if (!rr_rect_empty(part)) {
            rvr_camera lc = cam;
            lc.eye[w] = (float)(cam.eye[w] - origin);
            lc.target[w] = (float)(cam.target[w] - origin);
            const rvr_region g = {(uint32_t)part.x0, (uint32_t)part.y0, (uint32_t)(part.x1 - part.x0), (uint32_t)(part.y1 - part.y0)};
            rc = rvr_render_region(c->r, &lc, &ls, wh[0], wh[1], &g, img, npix * 4, &st);
            rendered = 1;
        }
    }
    double t_render = now_ms() - tr;
    if (c->trace)
        fprintf(stderr, "{\"rank\":%d,\"render_ms\":%.3f,\"samples\":%llu}\n", c->rank, t_render, (unsigned long long)st.samples);
    if (c->test_delay_ms > 0 && c->rank != 0) usleep((useconds_t)c->test_delay_ms * 1000);
    int who = 0;
    rc = agree(rc, &who);
    if (rc) {
        if (c->rank == 0) reply_error(rc, "render: rank %d: %s", who, rvr_strerror(rc));
        return;
    }
    /* the footprint of this rank's slab on the screen: only it is exchanged */
    const double tc = now_ms();
    rr_rect mine = {0, 0, 0, 0};
    if (rendered) mine = rr_image_rect_in(img, W, part); /* nothing drawn: transparent, others blend into it */
    const double t_rect = now_ms() - tc;
    rr_composite_result res;
    int mrc = rr_composite(&c->comp, MPI_COMM_WORLD, c->algo, cop, &v, c->bw, img, W, H, mine, &res);
    if (mrc != MPI_SUCCESS) mpi_fail(c, mrc, "compositing");
    c->img_dirty = rr_rect_bbox(c->img_dirty, res.all); /* blending wrote into the others' rectangles */
    const frame_sum fsum = frame_gather(c, 0, t_render, t_render, res.sent, st.samples, st.rays);
    if (c->rank == 0) {
        const double tf = now_ms();
        uint8_t *out = answer_image(c, file, npix * 4, 0);
        if (!out) {
            reply_error(file ? RR_ERR_IO : RVR_ERR_NOMEM, "render: rank 0: %s", file ? "cannot map the frame file" : rvr_strerror(RVR_ERR_NOMEM));
            if (!is_slice) follow_cost(c);
            return;
        }
        const rr_finish f = finish_of(c, &s, cop);
        /* into the frame file, only what differs from its last answer: the pieces, and what that
         * answer drew outside them (the rest of it is this frame's background already) */
        const uint32_t bg = rr_finish_background(&f);
        rr_rect drawn = {0, 0, 0, 0};
        for (int k = 0; k < res.npieces; k++) drawn = rr_rect_bbox(drawn, res.pieces[k].r);
        rr_finish_image_in(&f, res.pieces, res.npieces, out, W, H, rr_rect_bbox(drawn, stale_of(c, out, W, H, bg)));
        frame_file_answered(c, out, W, H, bg, drawn);
        rr_frame_stats fs = {0, fsum.tmax, fsum.tmin, t_rect + res.ms_composite, res.ms_gather + (now_ms() - tf), fsum.tot[0], fsum.tot[1], fsum.tot[2]};
        fs.total_ms = now_ms() - t0;
        g_alarm_armed = 0;
        reply(0, &fs, sizeof fs, file ? NULL : out, file ? 0 : npix * 4);
    }
    if (!is_slice) follow_cost(c);
}

/* The pixels this rank's slab can cover on the screen (its world box, within the clip box), as
 * librvr casts rays: the rest of its partial image is transparent, so it renders only these
 * (rvr_render_region: no rays traced and, with CUDA, nothing copied off the GPU elsewhere). The
 * whole image when points are shown (spheres reach beyond the slab) or the box is unbounded. */
static rr_rect slab_footprint(const ctx *c, int i, const rvr_camera *cam, const rvr_render_settings *s, int W, int H) {
    const rr_rect all = {0, 0, W, H}, none = {0, 0, 0, 0};
    if (c->has_points) return all;
    if (!has_local(c, i)) return none;
    double lo[3], hi[3];
    for (int k = 0; k < 3; k++) { /* world axis k is logical axis 2 - k (rvr.h) */
        const double sp = c->gdesc.spacing[2 - k] > 0 ? c->gdesc.spacing[2 - k] : 1.0; /* 0 = 1 */
        lo[k] = 0, hi[k] = (double)c->gdesc.shape[2 - k] * sp;
        if (s->flags & RVR_F_CLIP_BOX) lo[k] = fmax(lo[k], s->clip_min[k]), hi[k] = fmin(hi[k], s->clip_max[k]);
    }
    lo[c->waxis] = fmax(lo[c->waxis], c->bw[i]);
    hi[c->waxis] = fmin(hi[c->waxis], c->bw[i + 1]);
    if (lo[0] > hi[0] || lo[1] > hi[1] || lo[2] > hi[2]) return none;
    rvr_region g;
    if (rvr_camera_box_region(cam, (uint32_t)W, (uint32_t)H, lo, hi, 2, &g)) return all;
    return (rr_rect){(int32_t)g.x, (int32_t)g.y, (int32_t)(g.x + g.width), (int32_t)(g.y + g.height)};
}

/* ------------------------------------------------------------------------- retrieve ---- */

static int pwrite_full(int fd, const uint8_t *p, size_t n, uint64_t off) {
    while (n) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k, n -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}

static void op_retrieve(ctx *c, const uint8_t *p, uint64_t len) {
    uint64_t lo[3], hi[3];
    uint32_t step[4];
    char path[RR_PATH_MAX];
    int rc = 0;
    if (len < 48 + 16 + RR_PATH_MAX) rc = RR_ERR_PROTO;
    else {
        memcpy(lo, p, 24), memcpy(hi, p + 24, 24), memcpy(step, p + 48, 16);
        memcpy(path, p + 64, RR_PATH_MAX);
        path[RR_PATH_MAX - 1] = 0;
    }
    if (!rc && !(c->has_global && c->vol_ok)) rc = RVR_ERR_NO_VOLUME;
    uint64_t nout[3] = {0, 0, 0};
    for (int k = 0; !rc && k < 3; k++) {
        if (!step[k]) rc = RVR_ERR_INVALID;
        else if (lo[k] >= hi[k] || hi[k] > c->gdesc.shape[k]) rc = RVR_ERR_RANGE;
        else nout[k] = (hi[k] - lo[k] + step[k] - 1) / step[k];
    }
    if (rc) {
        if (c->rank == 0) reply_error(rc, "retrieve: %s", rvr_strerror(rc));
        return;
    }
    const int a = c->laxis;
    const uint64_t total = nout[0] * nout[1] * nout[2] * (uint64_t)c->esize;
    const uint64_t out_layer = total / nout[a];
    /* output layers i (along the slab axis) whose source index lies in this rank's slab */
    uint64_t i0 = 0, i1 = 0;
    const uint64_t z0 = c->bounds[c->rank], z1 = c->bounds[c->rank + 1];
    if (z0 < z1) {
        i0 = z0 <= lo[a] ? 0 : (z0 - lo[a] + step[a] - 1) / step[a];
        i1 = z1 <= lo[a] ? 0 : (z1 - lo[a] + step[a] - 1) / step[a];
        if (i1 > nout[a]) i1 = nout[a];
        if (i0 > i1) i0 = i1;
    }
    uint8_t *buf = NULL;
    const size_t mine = (size_t)((i1 - i0) * out_layer);
    if (i1 > i0) {
        uint64_t llo[3], lhi[3];
        memcpy(llo, lo, 24), memcpy(lhi, hi, 24);
        llo[a] = lo[a] + i0 * step[a] - c->g0;
        lhi[a] = lo[a] + (i1 - 1) * step[a] + 1 - c->g0;
        buf = malloc(mine);
        rc = buf ? rvr_renderer_retrieve(c->r, llo, lhi, step, buf, mine) : RVR_ERR_NOMEM;
    }
    int fd = open(path, O_WRONLY);
    int local = fd >= 0;
    char host0[MPI_MAX_PROCESSOR_NAME];
    memcpy(host0, c->host, sizeof host0);
    MPI_CHECK(c, MPI_Bcast(host0, sizeof host0, MPI_CHAR, 0, MPI_COMM_WORLD), "broadcast");
    if (strcmp(host0, c->host) != 0) local = 0;
    if (c->rank == 0 && !local) rc = RR_ERR_IO;
    if (!rc && local && mine && pwrite_full(fd, buf, mine, i0 * out_layer)) rc = RR_ERR_IO;
    /* ranks off rank 0's host send their part (offset, bytes) to rank 0 */
    int *remote = calloc((size_t)c->n, sizeof(int));
    int want = !local && mine > 0 && !rc;
    MPI_CHECK(c, MPI_Allgather(&want, 1, MPI_INT, remote, 1, MPI_INT, MPI_COMM_WORLD), "allgather");
    for (int i = 1; i < c->n; i++) {
        if (!remote[i]) continue;
        if (c->rank == i) {
            uint64_t hdr[2] = {i0 * out_layer, mine};
            MPI_CHECK(c, MPI_Send(hdr, 2, MPI_UINT64_T, 0, 501, MPI_COMM_WORLD), "send");
            for (size_t off = 0; off < mine; off += (size_t)1 << 28) {
                size_t k = mine - off < ((size_t)1 << 28) ? mine - off : (size_t)1 << 28;
                MPI_CHECK(c, MPI_Send(buf + off, (int)k, MPI_BYTE, 0, 502, MPI_COMM_WORLD), "send");
            }
        } else if (c->rank == 0) {
            uint64_t hdr[2];
            MPI_CHECK(c, MPI_Recv(hdr, 2, MPI_UINT64_T, i, 501, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
            uint8_t *tmp = malloc((size_t)hdr[1]);
            for (size_t off = 0; off < hdr[1]; off += (size_t)1 << 28) {
                size_t k = hdr[1] - off < ((size_t)1 << 28) ? hdr[1] - off : (size_t)1 << 28;
                MPI_CHECK(c, MPI_Recv(tmp ? tmp + off : NULL, tmp ? (int)k : 0, MPI_BYTE, i, 502, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "receive");
            }
            if (!tmp || pwrite_full(fd, tmp, (size_t)hdr[1], hdr[0])) rc = RR_ERR_IO;
            free(tmp);
        }
    }
    free(remote);
    free(buf);
    if (fd >= 0) close(fd);
    int who = 0;
    rc = agree(rc, &who);
    if (c->rank == 0) {
        if (rc == RR_ERR_IO) reply_error(rc, "retrieve: rank %d cannot write %s", who, path);
        else if (rc) reply_error(rc, "retrieve: rank %d: %s", who, rvr_strerror(rc));
        else reply(0, &total, 8, NULL, 0);
    }
}

static void op_hello(ctx *c) {
    int pid = (int)getpid();
    int *pids = c->rank == 0 ? malloc(sizeof(int) * (size_t)c->n) : NULL;
    MPI_CHECK(c, MPI_Gather(&pid, 1, MPI_INT, pids, 1, MPI_INT, 0, MPI_COMM_WORLD), "gather");
    if (c->rank == 0) {
        int32_t h[4] = {c->n, c->backend, c->hosts, c->algo};
        reply(0, h, sizeof h, pids, sizeof(int) * (size_t)c->n);
    }
    free(pids);
}

/* ----------------------------------------------------------------------------- main ---- */

static int count_hosts(ctx *c) {
    char *all = c->rank == 0 ? malloc((size_t)c->n * MPI_MAX_PROCESSOR_NAME) : NULL;
    MPI_Gather(c->host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);
    int hosts = 0;
    if (c->rank == 0) {
        for (int i = 0; i < c->n; i++) {
            int seen = 0;
            for (int j = 0; j < i; j++)
                if (!strcmp(all + (size_t)i * MPI_MAX_PROCESSOR_NAME, all + (size_t)j * MPI_MAX_PROCESSOR_NAME)) seen = 1;
            hosts += !seen;
        }
    }
    free(all);
    MPI_Bcast(&hosts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return hosts;
}

/* GPU of this rank: the local_rank-th of CUDA_VISIBLE_DEVICES (or of --gpus K devices). */
static void pick_gpu(int local_rank, int gpus) {
    const char *vis = getenv("CUDA_VISIBLE_DEVICES");
    char buf[64];
    if (vis && *vis) {
        int count = 1;
        for (const char *q = vis; *q; q++) count += *q == ',';
        if (count <= 1) return;
        int want = local_rank % count;
        const char *q = vis;
        for (int i = 0; i < want; i++) q = strchr(q, ',') + 1;
        size_t L = strcspn(q, ",");
        if (L >= sizeof buf) return;
        memcpy(buf, q, L);
        buf[L] = 0;
    } else if (gpus > 0) {
        snprintf(buf, sizeof buf, "%d", local_rank % gpus);
    } else {
        return;
    }
    setenv("CUDA_VISIBLE_DEVICES", buf, 1);
}

static void usage(void) {
    fprintf(stderr, "usage: mpirun -n N rvr_ranks --socket PATH [--backend cpu|cuda|auto] [--composite auto|root|bswap|direct|stream]\n"
                    "                 [--cuts follow|fixed] [--gpus K] [--op-timeout SECONDS]\n");
}

int main(int argc, char **argv) {
    const char *sock_path = NULL, *backend = "auto", *composite = "auto";
    double op_timeout = 120;
    int gpus = 0, follow = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--socket") && v) sock_path = v, i++;
        else if (!strcmp(a, "--backend") && v) backend = v, i++;
        else if (!strcmp(a, "--composite") && v) composite = v, i++;
        else if (!strcmp(a, "--op-timeout") && v) op_timeout = atof(v), i++;
        else if (!strcmp(a, "--gpus") && v) gpus = atoi(v), i++;
        else if (!strcmp(a, "--cuts") && v && (!strcmp(v, "fixed") || !strcmp(v, "follow"))) follow = !strcmp(v, "follow"), i++;
        else {
            usage();
            return 2;
        }
    }
    if (!sock_path) {
        usage();
        return 2;
    }
    ctx C;
    memset(&C, 0, sizeof C);
    ctx *c = &C;
    /* the idle poll's usleep(20) slept ~70 us with the default 50 us timer slack: a rank then
     * began its part of a frame that much after rank 0 */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->n);
    if (rr_images_init(&c->images, MPI_COMM_WORLD) != MPI_SUCCESS) {
        fprintf(stderr, "rvr_ranks: rank %d: cannot learn which ranks share its host\n", c->rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    MPI_Comm_rank(c->images.node, &c->local_rank);
    MPI_Comm_size(c->images.node, &c->local_n);
    int hl = 0;
    MPI_Get_processor_name(c->host, &hl);
    c->hosts = count_hosts(c);
    const char *delay = getenv("RVR_RANKS_TEST_DELAY_MS");
    c->test_delay_ms = delay ? atoi(delay) : 0;
    c->occlude = getenv("RR_OCCLUDE") && !strcmp(getenv("RR_OCCLUDE"), "1");
    const char *occ_delay = getenv("RVR_RANKS_TEST_OCC_DELAY_MS");
    c->test_occ_delay_ms = occ_delay ? atoi(occ_delay) : 0;
    c->bounds = calloc((size_t)c->n + 1, sizeof(uint64_t));
    c->bw = calloc((size_t)c->n + 1, sizeof(double));
    c->cost_of = calloc((size_t)c->n, sizeof(double));
    c->follow_cuts = follow;
    c->algo = !strcmp(composite, "direct") ? RR_ALGO_DIRECT
            : !strcmp(composite, "bswap") ? RR_ALGO_BSWAP
            : !strcmp(composite, "root") ? RR_ALGO_ROOT
            : !strcmp(composite, "stream") ? RR_ALGO_STREAM
            : RR_ALGO_AUTO;
    const char *rows = getenv("RR_STREAM_ROWS");
    c->band_rows = rows && atoi(rows) >= 16 && atoi(rows) <= 4096 ? atoi(rows) : 32;
    c->trace = getenv("RR_TRACE") && !strcmp(getenv("RR_TRACE"), "1");
    const char *copy = getenv("RR_STREAM_COPY");
    c->stream_copy = copy && !strcmp(copy, "1");
    int agreed[2] = {c->band_rows, c->stream_copy}; /* rank 0's: all must agree */
    MPI_Bcast(agreed, 2, MPI_INT, 0, MPI_COMM_WORLD);
    c->band_rows = agreed[0], c->stream_copy = agreed[1];

    int be = !strcmp(backend, "cpu") ? RVR_BACKEND_CPU : !strcmp(backend, "cuda") ? RVR_BACKEND_CUDA : RVR_BACKEND_AUTO;
    if (be != RVR_BACKEND_CPU) pick_gpu(c->local_rank, gpus);
    int rc = rvr_renderer_create(be, &c->r);
    if (rc == 0 && !getenv("OMP_NUM_THREADS")) {
        /* Cores of this rank: its affinity set; without binding (--bind-to none), its share of
         * the host's cores less 2 left to the instance that takes the frames and to MPI, for
         * OpenMP (rectangles, compositing, finishing, the CPU renderer). With every rank using
         * every core, one rank's waiting (spinning) OpenMP threads held cores the other rank and
         * the instance needed: frames of 40 ms instead of 4 on the H200 x2 (32 cores). */
        cpu_set_t set;
        int cores = (int)sysconf(_SC_NPROCESSORS_ONLN), mine = cores;
        if (sched_getaffinity(0, sizeof set, &set) == 0) mine = CPU_COUNT(&set);
        const int spare = c->local_n > 1 && cores > 4 ? 2 : 0;
        int threads = mine < cores ? mine : (cores - spare) / (c->local_n ? c->local_n : 1);
        rvr_renderer_set_threads(c->r, threads > 0 ? threads : 1);
        omp_set_num_threads(threads > 0 ? threads : 1); /* rvr_ranks' own loops (rectangles, blending) */
    }
    if (rc == 0) c->backend = rvr_renderer_backend(c->r);
    int who = 0;
    int arc = agree(rc, &who);
    int cuda = rc == 0 && c->backend == RVR_BACKEND_CUDA;
    MPI_Allreduce(&cuda, &c->all_cuda, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);

    /* rank 0: connect to the instance */
    int conn_ok = 1;
    if (c->rank == 0) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        g_sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (strlen(sock_path) >= sizeof sa.sun_path) conn_ok = 0;
        else strcpy(sa.sun_path, sock_path);
        if (conn_ok && (g_sock < 0 || connect(g_sock, (struct sockaddr *)&sa, sizeof sa))) conn_ok = 0;
        if (!conn_ok) fprintf(stderr, "rvr_ranks: cannot connect to %s: %s\n", sock_path, strerror(errno));
        if (conn_ok && arc) {
            reply_error(arc, "rank %d cannot create its renderer (%s): %s", who, backend, rvr_strerror(arc));
            conn_ok = 0;
        }
        signal(SIGPIPE, SIG_IGN);
        signal(SIGALRM, on_alarm);
        snprintf(g_timeout_msg, sizeof g_timeout_msg, "a request took longer than %.0f s (watchdog): the ranks are stopped", op_timeout);
    }
    MPI_Bcast(&conn_ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!conn_ok || arc) {
        rvr_renderer_destroy(c->r);
        MPI_Finalize();
        return 1;
    }

    for (;;) {
        /* op, len and, up to REQ_INLINE bytes, the payload itself (a frame's request is ~540):
         * one broadcast, so rank 0 does not wait for the others to wake for a second one */
        enum { REQ_INLINE = 1024 };
        union {
            uint64_t w[2 + REQ_INLINE / 8];
            uint8_t b[16 + REQ_INLINE];
        } req_msg;
        uint64_t *const hdr = req_msg.w;
        hdr[0] = hdr[1] = 0;
        uint8_t *payload = NULL;
        if (c->rank == 0) {
            rr_req q;
            if (read_full(g_sock, &q, sizeof q) || q.magic != RR_REQ_MAGIC) {
                hdr[0] = RR_OP_QUIT; /* the instance went away (or spoke nonsense) */
            } else {
                hdr[0] = q.op, hdr[1] = q.len;
                c->t_req = now_ms();
                payload = malloc(q.len ? q.len : 1);
                if (!payload || (q.len && read_full(g_sock, payload, q.len))) hdr[0] = RR_OP_QUIT, hdr[1] = 0;
            }
            g_alarm_armed = 1;
            if (op_timeout > 0) alarm((unsigned)ceil(op_timeout));
            /* the others wait in MPI_Ibcast: a non-blocking broadcast must match it here */
            if (hdr[1] <= REQ_INLINE && payload) memcpy(req_msg.b + 16, payload, hdr[1]);
            MPI_Request req;
            MPI_CHECK(c, MPI_Ibcast(req_msg.w, (int)(sizeof req_msg.w / 8), MPI_UINT64_T, 0, MPI_COMM_WORLD, &req), "broadcast");
            MPI_CHECK(c, MPI_Wait(&req, MPI_STATUS_IGNORE), "broadcast");
        } else {
            /* idle: poll a non-blocking broadcast, sleeping in between: for the first QUICK_MS
             * after a request briefly (a viewer asks for the next frame about 1 ms after the last
             * one; a rank that slept up to 2 ms then started its part late), then longer and
             * longer. Never spinning: a spinning rank took cores from the other ranks' OpenMP
             * teams, whose barriers then waited (40 ms frames on the H200 x2); with CUDA ranks,
             * spinning here did no better on a busy host (frames 0.4 ms behind the slower
             * rank's rendering instead of 0.05). */
            MPI_Request req;
            MPI_CHECK(c, MPI_Ibcast(req_msg.w, (int)(sizeof req_msg.w / 8), MPI_UINT64_T, 0, MPI_COMM_WORLD, &req), "broadcast");
            int flag = 0;
            long sleep_us = 20;
            const double quick_until = now_ms() + QUICK_MS;
            for (;;) {
                MPI_CHECK(c, MPI_Test(&req, &flag, MPI_STATUS_IGNORE), "wait for a request");
                if (flag) {
                    c->t_req = now_ms();
                    break;
                }
                if (now_ms() < quick_until) {
                    usleep(20);
                } else {
                    usleep((useconds_t)sleep_us);
                    if (sleep_us < 2000) sleep_us *= 2;
                }
            }
            payload = malloc(hdr[1] ? hdr[1] : 1);
            if (payload && hdr[1] <= REQ_INLINE) memcpy(payload, req_msg.b + 16, hdr[1]);
        }
        const int op = (int)hdr[0];
        const uint64_t len = hdr[1];
        if (op == RR_OP_QUIT) {
            if (c->rank == 0) reply(0, NULL, 0, NULL, 0);
            free(payload);
            break;
        }
        if (len > REQ_INLINE) bcast_big(c, payload, len);
        switch (op) {
        case RR_OP_HELLO: op_hello(c); break;
        case RR_OP_SET_VOLUME: op_set_volume(c, payload, len); break;
        case RR_OP_SET_SYNTHETIC: op_set_synthetic(c, payload, len); break;
        case RR_OP_SET_WINDOW: op_set_window(c, payload, len); break;
        case RR_OP_SET_TF:
        case RR_OP_SET_POINT_CMAP: op_floats(c, op, payload, len); break;
        case RR_OP_SET_POINTS: op_set_points(c, payload, len); break;
        case RR_OP_CLEAR_POINTS: op_clear_points(c); break;
        case RR_OP_RENDER:
        case RR_OP_SLICE: op_render(c, op, payload, len); break;
        case RR_OP_RETRIEVE: op_retrieve(c, payload, len); break;
        default:
            if (c->rank == 0) reply_error(RR_ERR_PROTO, "unknown request %d", op);
        }
        if (c->rank == 0) {
            g_alarm_armed = 0;
            alarm(0);
        }
        free(payload);
    }
    rvr_renderer_destroy(c->r);
    drop_local(c);
    rr_images_free(&c->images);
    buf_free(&c->out);
    frame_file_drop(c);
    rr_compositor_free(&c->comp);
    rr_stream_free(&c->stream);
    free(c->bounds), free(c->bw), free(c->cost_of), free(c->pxyz), free(c->pval), free(c->tf);
    if (g_sock >= 0) close(g_sock);
    MPI_Finalize();
    return 0;
}
