/* stream.c - see stream.h. */
#include "stream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

void rr_stream_free(rr_stream *s) {
    free(s->order), free(s->own_left), free(s->msgs_left), free(s->done), free(s->ready), free(s->src), free(s->slot_of);
    free(s->buf), free(s->rq), free(s->slot_rank), free(s->slot_band), free(s->slot_off), free(s->idx);
    memset(s, 0, sizeof *s);
}

static rr_rect band_rect(const rr_stream *s, int b) {
    const int y0 = b * s->band_rows, y1 = y0 + s->band_rows < s->H ? y0 + s->band_rows : s->H;
    return (rr_rect){0, y0, s->W, y1};
}

/* The part of rank i's footprint in band b. */
static rr_rect foot_in(const rr_stream *s, int i, int b) { return rr_rect_and(s->foot[i], band_rect(s, b)); }

/* Rank i's image where this rank reads it in place (same host), else NULL: its pixels travel. */
static const uint8_t *in_place(const rr_stream *s, int i) { return s->peer ? s->peer[i] : NULL; }

/* The bytes of rank i's message of band b, at most (on rank 0, or on rank i itself): the
 * pixels travel only between hosts. */
static size_t msg_bytes(const rr_stream *s, int i, int b) {
    const int same_host = in_place(s, s->me == 0 ? i : 0) != NULL;
    return 16 + (same_host ? 0 : rr_rect_area(foot_in(s, i, b)) * 4);
}

/* grows *p to n elements of size sz (contents not kept) */
static int grow(void **p, int *cap, int n, size_t sz) {
    if (*cap >= n) return 0;
    free(*p);
    *p = malloc(sz * (size_t)(n > 0 ? n : 1));
    *cap = *p ? n : 0;
    return *p ? 0 : -1;
}

/* ------------------------------------------------------------- ranks other than 0 ---- */

/* Sends band b's message of slot k: its non-zero rectangle (empty after a failure) and, to
 * another host, its pixels packed. */
static void send_band(rr_stream *s, int k, int empty) {
    const int b = s->slot_band[k];
    uint8_t *m = s->buf + s->slot_off[k];
    const rr_rect r = empty ? (rr_rect){0, 0, 0, 0} : rr_image_rect_in(s->img, s->W, foot_in(s, s->me, b));
    memcpy(m, &r, 16);
    size_t len = 16;
    if (!in_place(s, 0)) {
        const size_t row = (size_t)(r.x1 - r.x0) * 4;
        for (int y = r.y0; y < r.y1; y++) memcpy(m + 16 + (size_t)(y - r.y0) * row, s->img + ((size_t)y * s->W + r.x0) * 4, row);
        len += rr_rect_area(r) * 4;
    }
    const int rc = MPI_Isend(m, (int)len, MPI_BYTE, 0, RR_STREAM_TAG + b, s->comm, &s->rq[k]);
    if (rc != MPI_SUCCESS && s->mpi_rc == MPI_SUCCESS) s->mpi_rc = rc;
    s->sent += len;
    s->done[b] = 1;
}

/* ------------------------------------------------------------------------- rank 0 ---- */

/* What band b blends, from its messages (all in): per visibility position, the sender's
 * rectangle and where its pixels are. A rectangle outside the sender's footprint part is
 * ignored (whatever comes, nothing is written outside the image). */
static void band_sources(rr_stream *s, int b) {
    for (int q = 0; q < s->n; q++) {
        rr_band_src *d = &s->src[(size_t)b * s->n + q];
        const int i = s->order[q], k = s->slot_of[(size_t)b * s->n + i];
        d->r = (rr_rect){0, 0, 0, 0};
        if (i == 0 || k < 0) continue;
        const uint8_t *m = s->buf + s->slot_off[k];
        rr_rect r;
        memcpy(&r, m, 16);
        const rr_rect fi = foot_in(s, i, b);
        if (rr_rect_empty(r) || r.x0 < fi.x0 || r.y0 < fi.y0 || r.x1 > fi.x1 || r.y1 > fi.y1) continue;
        const uint8_t *img = in_place(s, i);
        d->r = r;
        d->px = img ? img + ((size_t)r.y0 * s->W + r.x0) * 4 : m + 16;
        d->stride = img ? (size_t)s->W : (size_t)(r.x1 - r.x0);
    }
}

/* One row y of a complete band: blends the others' pixels around rank 0's own (those behind
 * it under it, front to back, then those in front over it, back to front: "over" is
 * associative), then finishes the row into the answer where it holds pixels or the last answer
 * drew. Returns the row's drawn span [*x0, *x1). What it blended into rank 0's image outside
 * rank 0's footprint it clears again (clear_row clears all of it when s->clear): rank 0's image
 * then holds pixels only in its footprint, and the next frame has nothing to clear there before
 * it renders (it cleared the other ranks' footprints then: 4 MB and 0.06-0.3 ms on rank 0 alone,
 * between the request and its render, which the others waited for). */
static void finish_row(const rr_stream *s, int y, int *x0, int *x1) {
    const int b = y / s->band_rows;
    uint8_t *row = s->img + (size_t)y * s->W * 4;
    int c0 = s->W, c1 = 0, t0 = s->W, t1 = 0;
    const rr_rect f0 = s->foot[0];
    if (y >= f0.y0 && y < f0.y1 && f0.x0 < f0.x1) rr_row_span(row, f0.x0, f0.x1, &c0, &c1); /* rank 0's own pixels */
    for (int dir = 0; dir < 2; dir++)
        for (int q = dir == 0 ? s->pos + 1 : s->pos - 1; q >= 0 && q < s->n; q += dir == 0 ? 1 : -1) {
            const rr_band_src *d = &s->src[(size_t)b * s->n + q];
            if (y < d->r.y0 || y >= d->r.y1) continue;
            rr_blend(row + (size_t)d->r.x0 * 4, d->px + (size_t)(y - d->r.y0) * d->stride * 4, (size_t)(d->r.x1 - d->r.x0), s->op, dir == 1);
            c0 = d->r.x0 < c0 ? d->r.x0 : c0, c1 = d->r.x1 > c1 ? d->r.x1 : c1;
            t0 = d->r.x0 < t0 ? d->r.x0 : t0, t1 = d->r.x1 > t1 ? d->r.x1 : t1;
        }
    uint8_t *o = s->out + (size_t)y * s->W * 4;
    if (y >= s->stale.y0 && y < s->stale.y1) rr_finisher_background(&s->fin, o + (size_t)s->stale.x0 * 4, s->stale.x1 - s->stale.x0);
    if (c1 > c0) rr_finisher_pixels(&s->fin, row + (size_t)c0 * 4, o + (size_t)c0 * 4, c1 - c0);
    *x0 = c0, *x1 = c1;
    if (s->clear || t1 <= t0) return;
    if (!(y >= f0.y0 && y < f0.y1 && f0.x0 < f0.x1)) { /* a row outside rank 0's footprint */
        memset(row + (size_t)t0 * 4, 0, (size_t)(t1 - t0) * 4);
        return;
    }
    const int l1 = t1 < f0.x0 ? t1 : f0.x0, r0 = t0 > f0.x1 ? t0 : f0.x1; /* left of it, right of it */
    if (l1 > t0) memset(row + (size_t)t0 * 4, 0, (size_t)(l1 - t0) * 4);
    if (t1 > r0) memset(row + (size_t)r0 * 4, 0, (size_t)(t1 - r0) * 4);
}

/* Row y of every image on this host back to transparent (s->clear): nobody reads a band of
 * them once rank 0 has it all, and each rank's image is the occluder of the rank behind it
 * next frame (rvr_renderer_set_occluder), which must find no older pixels in it. Each rank's
 * footprint; in rank 0's, where it blended the others in too. */
static void clear_row(const rr_stream *s, int y) {
    int u0 = s->W, u1 = 0;
    for (int i = 0; i < s->n; i++) {
        const rr_rect f = s->foot[i];
        if (y < f.y0 || y >= f.y1 || f.x0 >= f.x1) continue;
        u0 = f.x0 < u0 ? f.x0 : u0, u1 = f.x1 > u1 ? f.x1 : u1;
        if (i != 0 && s->peer[i]) memset(s->peer[i] + ((size_t)y * s->W + f.x0) * 4, 0, (size_t)(f.x1 - f.x0) * 4);
    }
    if (u1 > u0) memset(s->img + ((size_t)y * s->W + u0) * 4, 0, (size_t)(u1 - u0) * 4);
}

/* Finishes the bands now complete, row by row with the OpenMP team (idle while the GPU
 * renders): done on the rendering thread alone, this took it away from polling the GPU for up to
 * 2 ms per frame; on a finisher thread beside it, the finishing fell 2-4 ms behind. */
static void finish_ready(rr_stream *s) {
    int nready = 0;
    for (int b = 0; b < s->nbands; b++)
        if (!s->done[b] && s->own_left[b] == 0 && s->msgs_left[b] == 0) s->ready[nready++] = b, s->done[b] = 1;
    if (nready == 0) return;
    const int rows = s->band_rows, total = nready * rows;
    if (s->failed || !s->out) { /* nothing to finish: the images are still cleared */
        if (s->clear)
            for (int k = 0; k < total; k++) {
                const int y = s->ready[k / rows] * rows + k % rows;
                if (y < s->H) clear_row(s, y);
            }
        return;
    }
    for (int k = 0; k < nready; k++) band_sources(s, s->ready[k]);
    int dx0 = s->W, dy0 = s->H, dx1 = 0, dy1 = 0;
#pragma omp parallel for schedule(static) if (total > 8) reduction(min : dx0, dy0) reduction(max : dx1, dy1)
    for (int k = 0; k < total; k++) {
        const int y = s->ready[k / rows] * rows + k % rows;
        if (y >= s->H) continue;
        int a, z;
        finish_row(s, y, &a, &z);
        if (s->clear) clear_row(s, y);
        if (z > a) {
            dx0 = a < dx0 ? a : dx0, dx1 = z > dx1 ? z : dx1;
            dy0 = y < dy0 ? y : dy0, dy1 = y + 1 > dy1 ? y + 1 : dy1;
        }
    }
    if (dx1 > dx0) s->drawn = rr_rect_bbox(s->drawn, (rr_rect){dx0, dy0, dx1, dy1});
}

/* Counts the messages that came in (waiting for them: `wait`) and finishes the bands now
 * complete. */
static void rank0_progress(rr_stream *s, int wait) {
    for (;;) {
        int got = 0;
        if (s->nslots > 0) {
            const int rc = wait ? MPI_Waitsome(s->nslots, s->rq, &got, s->idx, MPI_STATUSES_IGNORE)
                                : MPI_Testsome(s->nslots, s->rq, &got, s->idx, MPI_STATUSES_IGNORE);
            if (rc != MPI_SUCCESS) {
                if (s->mpi_rc == MPI_SUCCESS) s->mpi_rc = rc;
                break;
            }
            if (got == MPI_UNDEFINED) got = 0;
        }
        for (int j = 0; j < got; j++) s->msgs_left[s->slot_band[s->idx[j]]]--;
        finish_ready(s);
        if (!wait || got == 0) break; /* Waitsome answers none only when nothing is pending */
    }
}

/* ----------------------------------------------------------------------- the frame ---- */

int rr_stream_begin(rr_stream *s, MPI_Comm comm, int op, const rr_view *v, const double *bw, const rr_rect *foot,
                    uint8_t *img, uint8_t *const *peer, int clear, int W, int H, int band_rows, const rr_finish *f, uint8_t *out,
                    rr_rect stale) {
    int me, n;
    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &n);
    s->comm = comm, s->me = me, s->n = n, s->op = op, s->W = W, s->H = H;
    s->band_rows = band_rows < 16 ? 16 : band_rows;
    s->nbands = (H + s->band_rows - 1) / s->band_rows;
    s->foot = foot, s->img = img, s->peer = peer, s->out = f ? out : NULL;
    s->clear = me == 0 && peer != NULL && clear;
    if (s->out) rr_finisher_init(&s->fin, f);
    s->stale = rr_rect_and(stale, (rr_rect){0, 0, W, H});
    s->mpi_rc = MPI_SUCCESS, s->sent = 0, s->failed = 0, s->nslots = 0, s->rows_ms = 0, s->rows_calls = 0;
    s->drawn = (rr_rect){0, 0, 0, 0};
    int cap = s->bands_cap;
    if (grow((void **)&s->own_left, &cap, s->nbands, sizeof(int))) return MPI_ERR_NO_MEM;
    cap = s->bands_cap;
    if (grow((void **)&s->msgs_left, &cap, s->nbands, sizeof(int))) return MPI_ERR_NO_MEM;
    cap = s->bands_cap;
    if (grow((void **)&s->done, &cap, s->nbands, 1)) return MPI_ERR_NO_MEM;
    cap = s->bands_cap;
    if (grow((void **)&s->ready, &cap, s->nbands, sizeof(int))) return MPI_ERR_NO_MEM;
    s->bands_cap = cap;
    cap = s->grid_cap;
    if (grow((void **)&s->src, &cap, s->nbands * n, sizeof(rr_band_src))) return MPI_ERR_NO_MEM;
    cap = s->grid_cap;
    if (grow((void **)&s->slot_of, &cap, s->nbands * n, sizeof(int))) return MPI_ERR_NO_MEM;
    s->grid_cap = cap;
    free(s->order);
    s->order = malloc(sizeof(int) * (size_t)n);
    if (!s->order) return MPI_ERR_NO_MEM;
    rr_visibility_order(v, bw, n, s->order);
    s->pos = 0;
    while (s->order[s->pos] != 0) s->pos++;
    /* the slots: this rank's bands (sending) or every other rank's (rank 0, receiving) */
    const int i0 = me == 0 ? 1 : me, i1 = me == 0 ? n : me + 1;
    int nslots = 0;
    size_t bytes = 0;
    for (int b = 0; b < s->nbands; b++) {
        const rr_rect mine = foot_in(s, me, b);
        s->own_left[b] = rr_rect_empty(mine) ? 0 : mine.y1 - mine.y0;
        s->msgs_left[b] = 0;
        s->done[b] = 0;
        for (int i = 0; i < n; i++) s->slot_of[(size_t)b * n + i] = -1;
        for (int i = i0; i < i1; i++) {
            const rr_rect fi = foot_in(s, i, b);
            if (!rr_rect_empty(fi)) nslots++, bytes += msg_bytes(s, i, b);
        }
    }
    cap = s->slots_cap;
    if (grow((void **)&s->rq, &cap, nslots, sizeof(MPI_Request))) return MPI_ERR_NO_MEM;
    cap = s->slots_cap;
    if (grow((void **)&s->slot_rank, &cap, nslots, sizeof(int))) return MPI_ERR_NO_MEM;
    cap = s->slots_cap;
    if (grow((void **)&s->slot_band, &cap, nslots, sizeof(int))) return MPI_ERR_NO_MEM;
    cap = s->slots_cap;
    if (grow((void **)&s->slot_off, &cap, nslots, sizeof(size_t))) return MPI_ERR_NO_MEM;
    cap = s->slots_cap;
    if (grow((void **)&s->idx, &cap, nslots, sizeof(int))) return MPI_ERR_NO_MEM;
    s->slots_cap = cap;
    if (s->buf_cap < bytes) {
        free(s->buf);
        s->buf = malloc(bytes);
        s->buf_cap = s->buf ? bytes : 0;
        if (!s->buf) return MPI_ERR_NO_MEM;
    }
    size_t off = 0;
    for (int b = 0; b < s->nbands; b++)
        for (int i = i0; i < i1; i++) {
            const rr_rect fi = foot_in(s, i, b);
            if (rr_rect_empty(fi)) continue;
            const int k = s->nslots++;
            const size_t len = msg_bytes(s, i, b);
            s->slot_rank[k] = i, s->slot_band[k] = b, s->slot_off[k] = off;
            s->slot_of[(size_t)b * n + i] = k;
            s->rq[k] = MPI_REQUEST_NULL;
            off += len;
            if (me != 0) continue;
            s->msgs_left[b]++;
            const int rc = MPI_Irecv(s->buf + s->slot_off[k], (int)len, MPI_BYTE, i, RR_STREAM_TAG + b, comm, &s->rq[k]);
            if (rc != MPI_SUCCESS) return rc;
        }
    if (me == 0) { /* bands nobody draws into: done, or background where the last answer drew */
        for (int b = 0; b < s->nbands; b++)
            if (s->own_left[b] == 0 && s->msgs_left[b] == 0 && rr_rect_empty(rr_rect_and(s->stale, band_rect(s, b)))) s->done[b] = 1;
        finish_ready(s);
    }
    return MPI_SUCCESS;
}

void rr_stream_rows(void *user, uint32_t y0, uint32_t y1) {
    rr_stream *s = user;
    const double t0 = now_ms();
    const rr_rect mine = s->foot[s->me];
    const int a = (int)y0 > mine.y0 ? (int)y0 : mine.y0, z = (int)y1 < mine.y1 ? (int)y1 : mine.y1;
    for (int y = a; y < z;) { /* per band: the rows of it in [a, z) */
        const int b = y / s->band_rows, e = (b + 1) * s->band_rows < z ? (b + 1) * s->band_rows : z;
        s->own_left[b] -= e - y;
        y = e;
        if (s->me != 0 && s->own_left[b] == 0 && !s->done[b]) send_band(s, s->slot_of[(size_t)b * s->n + s->me], 0);
    }
    if (s->me == 0) rank0_progress(s, 0);
    s->rows_ms += now_ms() - t0;
    s->rows_calls++;
}

int rr_stream_end(rr_stream *s, int failed) {
    if (s->me != 0) {
        for (int k = 0; k < s->nslots; k++)
            if (!s->done[s->slot_band[k]]) send_band(s, k, 1);
        const int rc = s->nslots ? MPI_Waitall(s->nslots, s->rq, MPI_STATUSES_IGNORE) : MPI_SUCCESS;
        return s->mpi_rc != MPI_SUCCESS ? s->mpi_rc : rc;
    }
    if (failed) s->failed = 1;
    for (int b = 0; b < s->nbands; b++) s->own_left[b] = 0; /* all its rows are in (or it failed) */
    rank0_progress(s, 1);
    return s->mpi_rc;
}
