/* composite.c - see composite.h. Three algorithms over rectangles, all written once for two
 * uses: with an MPI communicator they move pixels; without one (a dry run) they only count
 * the bytes each rank would receive, which is how auto picks one per frame. Every rank knows
 * every rectangle, so all ranks compute the same plan and the same choice.
 *   root:   every rank sends its rectangle to rank 0, which blends them in visibility order
 *           (one round; best when the rectangles hardly overlap, e.g. 2 ranks).
 *   direct: the union rectangle is cut into N bands of rows; rank j composites band j from the
 *           parts of all rectangles inside it (one all-to-all), then sends the non-empty part
 *           of its band to rank 0.
 *   bswap:  binary swap over the largest power of two P <= N (the first N - P odd ranks fold
 *           into their even neighbours first): log2(P) rounds; in each, partners halve their
 *           common region along its longer side and exchange only what their rectangles hold
 *           of the half they give away; then the non-empty parts go to rank 0. */
#include "composite.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* round(x / 255) for x <= 65535, with shifts (vectorises) */
static inline unsigned div255(unsigned x) { return (x + 128 + ((x + 128) >> 8)) >> 8; }

/* front over back, premultiplied 8-bit, in place into d, which lies behind s (s_in_front 1) or
 * in front of it (0). Always inlined with a constant s_in_front, so each use is a branch-free row
 * that the compiler vectorises (a transparent pixel changes nothing by the formula itself). */
static inline __attribute__((always_inline)) void over_rows(uint8_t *restrict d, const uint8_t *restrict s, size_t n,
                                                            const int s_in_front) {
    for (size_t i = 0; i < n; i++) {
        const unsigned ia = 255u - (s_in_front ? s[4 * i + 3] : d[4 * i + 3]);
        for (int c = 0; c < 4; c++) {
            const unsigned front = s_in_front ? s[4 * i + c] : d[4 * i + c], back = s_in_front ? d[4 * i + c] : s[4 * i + c];
            const unsigned v = front + div255(ia * back);
            d[4 * i + c] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
}

void rr_blend(uint8_t *dst, const uint8_t *src, size_t n, int op, int src_in_front) {
    if (op == RR_OP_OVER) {
        if (src_in_front) over_rows(dst, src, n, 1);
        else over_rows(dst, src, n, 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *d = dst + 4 * i;
        const uint8_t *s = src + 4 * i;
        if (s[3] == 0) continue;
        if (d[3] == 0 || (op == RR_OP_MAX ? s[0] > d[0] : s[0] < d[0])) memcpy(d, s, 4);
    }
}

int rr_low_in_front(const rr_view *v, double boundary) {
    if (v->ortho) return v->dir >= 0;
    return v->eye < boundary;
}

static const rr_view *sort_view;
static const double *sort_bw;
static double slab_key(int i) {
    const double lo = sort_bw[i], hi = sort_bw[i + 1];
    if (sort_view->ortho) return sort_view->dir >= 0 ? lo : -hi;
    const double e = sort_view->eye;
    return e < lo ? lo - e : (e > hi ? e - hi : 0);
}
static int cmp_slab(const void *a, const void *b) {
    const int i = *(const int *)a, j = *(const int *)b;
    const double ki = slab_key(i), kj = slab_key(j);
    return ki < kj ? -1 : (ki > kj ? 1 : i - j);
}

void rr_visibility_order(const rr_view *v, const double *bw, int n, int *order) {
    for (int i = 0; i < n; i++) order[i] = i;
    sort_view = v;
    sort_bw = bw;
    qsort(order, (size_t)n, sizeof(int), cmp_slab);
}

void rr_compositor_free(rr_compositor *c) {
    free(c->recv);
    free(c->pieces);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------ one run (or dry run) ---- */

enum { TAG_ROOT = 310, TAG_BAND = 311, TAG_FOLD = 312, TAG_SWAP = 313, TAG_GATHER = 314 };
/* what one more message round costs, in received bytes, for auto's choice */
#define ROUND_BYTES 65536.0

typedef struct job {
    rr_compositor *c;
    MPI_Comm comm; /* MPI_COMM_NULL: a dry run (me = -1): only recv[] is counted */
    int me, n, op, W;
    const rr_view *v;
    const double *bw;
    uint8_t *img;
    rr_rect *r;      /* every rank's rectangle, updated as partial images merge */
    uint64_t *recv;  /* bytes received per rank */
    int rounds;
    rr_composite_result *res;
    double t_mid;    /* end of the compositing, start of the gather */
} job;

static uint8_t *at(const job *J, rr_rect r) { return J->img + ((size_t)r.y0 * J->W + r.x0) * 4; }

/* Room for `bytes` of received pieces (pointers into it are invalid after the next call). */
static int ensure_recv(job *J, size_t bytes) {
    if (J->c->recv_cap >= bytes) return MPI_SUCCESS;
    free(J->c->recv);
    J->c->recv = malloc(bytes);
    J->c->recv_cap = J->c->recv ? bytes : 0;
    return J->c->recv ? MPI_SUCCESS : MPI_ERR_NO_MEM;
}

/* Sends rectangle r of this rank's image (a vector type: rows straight out of the image). */
static int send_rect(job *J, rr_rect r, int peer, int tag, MPI_Request *rq) {
    *rq = MPI_REQUEST_NULL;
    if (rr_rect_empty(r)) return MPI_SUCCESS;
    MPI_Datatype t;
    int rc = MPI_Type_vector(r.y1 - r.y0, (r.x1 - r.x0) * 4, J->W * 4, MPI_BYTE, &t);
    if (rc != MPI_SUCCESS) return rc;
    rc = MPI_Type_commit(&t);
    if (rc == MPI_SUCCESS) rc = MPI_Isend(at(J, r), 1, t, peer, tag, J->comm, rq);
    MPI_Type_free(&t); /* freed when the send completes */
    J->res->sent += rr_rect_area(r) * 4;
    return rc;
}

/* Receives rectangle r from peer into buf, packed (r's width per row). */
static int recv_rect(job *J, rr_rect r, int peer, int tag, uint8_t *buf, MPI_Request *rq) {
    *rq = MPI_REQUEST_NULL;
    if (rr_rect_empty(r)) return MPI_SUCCESS;
    MPI_Datatype row;
    int rc = MPI_Type_contiguous((r.x1 - r.x0) * 4, MPI_BYTE, &row);
    if (rc != MPI_SUCCESS) return rc;
    rc = MPI_Type_commit(&row);
    if (rc == MPI_SUCCESS) rc = MPI_Irecv(buf, r.y1 - r.y0, row, peer, tag, J->comm, rq);
    MPI_Type_free(&row);
    return rc;
}

/* Blends a packed piece into the image at r. */
static void blend_rect(job *J, rr_rect r, const uint8_t *src, int src_in_front) {
    const int w = r.x1 - r.x0, h = r.y1 - r.y0;
    if (w <= 0 || h <= 0) return;
#pragma omp parallel for schedule(static) if ((size_t)w * h > 65536)
    for (int y = 0; y < h; y++)
        rr_blend(J->img + ((size_t)(r.y0 + y) * J->W + r.x0) * 4, src + (size_t)y * w * 4, (size_t)w, J->op, src_in_front);
}

typedef struct incoming {
    rr_rect r;
    uint8_t *buf;
    MPI_Request rq;
} incoming;

/* Posts the receives of in[i].r from every rank i != me into the receive buffer. */
static int post_incoming(job *J, incoming *in, int tag) {
    size_t need = 0;
    for (int i = 0; i < J->n; i++)
        if (i != J->me) need += rr_rect_area(in[i].r) * 4;
    int rc = ensure_recv(J, need);
    size_t off = 0;
    for (int i = 0; rc == MPI_SUCCESS && i < J->n; i++) {
        in[i].rq = MPI_REQUEST_NULL;
        if (i == J->me) continue;
        in[i].buf = J->c->recv + off;
        off += rr_rect_area(in[i].r) * 4;
        rc = recv_rect(J, in[i].r, i, tag, in[i].buf, &in[i].rq);
    }
    return rc;
}

/* This rank's image holds its own slab; blends the others' pieces around it in visibility
 * order, each as soon as it has arrived: those behind it (front to back) under it, then those
 * in front of it (back to front) over it. "over" is associative, so this equals one
 * front-to-back pass. */
static int blend_in_order(job *J, incoming *in) {
    int *order = malloc(sizeof(int) * (size_t)J->n);
    if (!order) return MPI_ERR_NO_MEM;
    rr_visibility_order(J->v, J->bw, J->n, order);
    int pos = 0;
    while (order[pos] != J->me) pos++;
    int rc = MPI_SUCCESS;
    for (int k = pos + 1; rc == MPI_SUCCESS && k < J->n; k++) {
        incoming *p = &in[order[k]];
        rc = MPI_Wait(&p->rq, MPI_STATUS_IGNORE);
        if (rc == MPI_SUCCESS) blend_rect(J, p->r, p->buf, 0);
    }
    for (int k = pos - 1; rc == MPI_SUCCESS && k >= 0; k--) {
        incoming *p = &in[order[k]];
        rc = MPI_Wait(&p->rq, MPI_STATUS_IGNORE);
        if (rc == MPI_SUCCESS) blend_rect(J, p->r, p->buf, 1);
    }
    free(order);
    return rc;
}

static int add_piece(job *J, rr_rect r, const uint8_t *px, size_t stride) {
    rr_compositor *c = J->c;
    if (rr_rect_empty(r)) return MPI_SUCCESS;
    if (J->res->npieces == c->pieces_cap) {
        const int cap = c->pieces_cap ? 2 * c->pieces_cap : 8;
        rr_piece *p = realloc(c->pieces, sizeof(rr_piece) * (size_t)cap);
        if (!p) return MPI_ERR_NO_MEM;
        c->pieces = p, c->pieces_cap = cap;
    }
    c->pieces[J->res->npieces++] = (rr_piece){r, px, stride};
    J->res->pieces = c->pieces;
    return MPI_SUCCESS;
}

/* Every rank i sends final[i] (disjoint, already composited) to rank 0. */
static int gather_final(job *J, const rr_rect *final) {
    for (int i = 1; i < J->n; i++) J->recv[0] += rr_rect_area(final[i]) * 4;
    if (J->me < 0) return MPI_SUCCESS;
    int rc;
    if (J->me != 0) {
        MPI_Request rq;
        rc = send_rect(J, final[J->me], 0, TAG_GATHER, &rq);
        if (rc == MPI_SUCCESS) rc = MPI_Wait(&rq, MPI_STATUS_IGNORE);
        return rc;
    }
    incoming *in = calloc((size_t)J->n, sizeof *in);
    if (!in) return MPI_ERR_NO_MEM;
    for (int i = 0; i < J->n; i++) in[i].r = final[i];
    rc = post_incoming(J, in, TAG_GATHER);
    if (rc == MPI_SUCCESS) rc = add_piece(J, final[0], at(J, final[0]), (size_t)J->W);
    for (int i = 1; rc == MPI_SUCCESS && i < J->n; i++) {
        rc = MPI_Wait(&in[i].rq, MPI_STATUS_IGNORE);
        if (rc == MPI_SUCCESS) rc = add_piece(J, in[i].r, in[i].buf, (size_t)(in[i].r.x1 - in[i].r.x0));
    }
    free(in);
    return rc;
}

static rr_rect union_of(const rr_rect *r, int n) {
    rr_rect u = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) u = rr_rect_bbox(u, r[i]);
    return u;
}

static int algo_root(job *J) {
    J->rounds = 1;
    for (int i = 1; i < J->n; i++) J->recv[0] += rr_rect_area(J->r[i]) * 4;
    if (J->me < 0) return MPI_SUCCESS;
    int rc;
    if (J->me != 0) {
        MPI_Request rq;
        rc = send_rect(J, J->r[J->me], 0, TAG_ROOT, &rq);
        if (rc == MPI_SUCCESS) rc = MPI_Wait(&rq, MPI_STATUS_IGNORE);
        J->t_mid = now_ms();
        return rc;
    }
    incoming *in = calloc((size_t)J->n, sizeof *in);
    if (!in) return MPI_ERR_NO_MEM;
    for (int i = 0; i < J->n; i++) in[i].r = J->r[i];
    rc = post_incoming(J, in, TAG_ROOT);
    if (rc == MPI_SUCCESS) rc = blend_in_order(J, in);
    free(in);
    J->t_mid = now_ms();
    const rr_rect u = union_of(J->r, J->n);
    return rc == MPI_SUCCESS ? add_piece(J, u, at(J, u), (size_t)J->W) : rc;
}

static int algo_direct(job *J) {
    const int n = J->n;
    J->rounds = 2;
    const rr_rect u = union_of(J->r, n);
    rr_rect *band = malloc(sizeof(rr_rect) * (size_t)n), *final = malloc(sizeof(rr_rect) * (size_t)n);
    incoming *in = calloc((size_t)n, sizeof *in);
    MPI_Request *sq = malloc(sizeof(MPI_Request) * (size_t)n);
    int rc = band && final && in && sq ? MPI_SUCCESS : MPI_ERR_NO_MEM;
    for (int j = 0; rc == MPI_SUCCESS && j < n; j++) {
        const int64_t h = u.y1 - u.y0;
        band[j] = (rr_rect){u.x0, u.y0 + (int32_t)(h * j / n), u.x1, u.y0 + (int32_t)(h * (j + 1) / n)};
        final[j] = (rr_rect){0, 0, 0, 0};
        for (int i = 0; i < n; i++) {
            const rr_rect part = rr_rect_and(J->r[i], band[j]);
            if (i != j) J->recv[j] += rr_rect_area(part) * 4;
            final[j] = rr_rect_bbox(final[j], part);
        }
    }
    if (rc == MPI_SUCCESS && J->me >= 0) {
        const int me = J->me;
        for (int i = 0; i < n; i++) in[i].r = rr_rect_and(J->r[i], band[me]);
        rc = post_incoming(J, in, TAG_BAND);
        for (int j = 0; rc == MPI_SUCCESS && j < n; j++) {
            sq[j] = MPI_REQUEST_NULL;
            if (j != me) rc = send_rect(J, rr_rect_and(J->r[me], band[j]), j, TAG_BAND, &sq[j]);
        }
        if (rc == MPI_SUCCESS) rc = blend_in_order(J, in);
        if (rc == MPI_SUCCESS) rc = MPI_Waitall(n, sq, MPI_STATUSES_IGNORE);
        J->t_mid = now_ms();
    }
    if (rc == MPI_SUCCESS) rc = gather_final(J, final);
    free(band), free(final), free(in), free(sq);
    return rc;
}

/* Halves region R along its longer side; the rank with `low` keeps the top/left half. */
static void halves(rr_rect R, int low, rr_rect *keep, rr_rect *give) {
    rr_rect a = R, b = R;
    if (R.y1 - R.y0 >= R.x1 - R.x0) {
        const int32_t m = R.y0 + (R.y1 - R.y0) / 2;
        a.y1 = m, b.y0 = m;
    } else {
        const int32_t m = R.x0 + (R.x1 - R.x0) / 2;
        a.x1 = m, b.x0 = m;
    }
    *keep = low ? a : b;
    *give = low ? b : a;
}

static int algo_bswap(job *J) {
    const int n = J->n;
    int P = 1;
    while (P * 2 <= n) P *= 2;
    const int e = n - P; /* pairs (2i, 2i+1), i < e, fold first */
    int *act = malloc(sizeof(int) * (size_t)P);
    rr_rect *q = malloc(sizeof(rr_rect) * (size_t)P), *R = malloc(sizeof(rr_rect) * (size_t)P);
    rr_rect *nq = malloc(sizeof(rr_rect) * (size_t)P), *final = calloc((size_t)n, sizeof(rr_rect));
    int rc = act && q && R && nq && final ? MPI_SUCCESS : MPI_ERR_NO_MEM;
    if (rc != MPI_SUCCESS) goto done;
    J->rounds = (e > 0) + 1;
    for (int i = 0; i < e; i++) {
        const int lo = 2 * i, hi = 2 * i + 1;
        J->recv[lo] += rr_rect_area(J->r[hi]) * 4;
        if (J->me == hi) {
            MPI_Request rq;
            rc = send_rect(J, J->r[hi], lo, TAG_FOLD, &rq);
            if (rc == MPI_SUCCESS) rc = MPI_Wait(&rq, MPI_STATUS_IGNORE);
        } else if (J->me == lo && !rr_rect_empty(J->r[hi])) {
            MPI_Request rq;
            rc = ensure_recv(J, rr_rect_area(J->r[hi]) * 4);
            if (rc == MPI_SUCCESS) rc = recv_rect(J, J->r[hi], hi, TAG_FOLD, J->c->recv, &rq);
            if (rc == MPI_SUCCESS) rc = MPI_Wait(&rq, MPI_STATUS_IGNORE);
            if (rc == MPI_SUCCESS) blend_rect(J, J->r[hi], J->c->recv, !rr_low_in_front(J->v, J->bw[hi]));
        }
        if (rc != MPI_SUCCESS) goto done;
        J->r[lo] = rr_rect_bbox(J->r[lo], J->r[hi]);
        J->r[hi] = (rr_rect){0, 0, 0, 0};
    }
    for (int i = 0, k = 0; i < n; i++)
        if (!(i < 2 * e && (i & 1))) act[k++] = i;
    int vr = -1;
    for (int i = 0; i < P; i++) {
        q[i] = J->r[act[i]];
        if (act[i] == J->me) vr = i;
    }
    const rr_rect u = union_of(q, P);
    for (int i = 0; i < P; i++) R[i] = u;
    for (int k = 0; (1 << k) < P; k++) {
        J->rounds++;
        for (int i = 0; i < P; i++) {
            const int pv = i ^ (1 << k);
            rr_rect keep, give;
            halves(R[i], !(i & (1 << k)), &keep, &give);
            const rr_rect in = rr_rect_and(q[pv], keep);
            J->recv[act[i]] += rr_rect_area(in) * 4;
            nq[i] = rr_rect_bbox(rr_rect_and(q[i], keep), in);
            if (i == vr) {
                /* the boundary between the lower and the upper group of slabs merged here */
                const int hv = ((i >> (k + 1)) << (k + 1)) + (1 << k);
                const int low_front = rr_low_in_front(J->v, J->bw[act[hv]]);
                const int low = !(i & (1 << k));
                MPI_Request rq[2];
                rc = ensure_recv(J, rr_rect_area(in) * 4);
                if (rc == MPI_SUCCESS) rc = recv_rect(J, in, act[pv], TAG_SWAP, J->c->recv, &rq[0]);
                if (rc == MPI_SUCCESS) rc = send_rect(J, rr_rect_and(q[i], give), act[pv], TAG_SWAP, &rq[1]);
                if (rc == MPI_SUCCESS) rc = MPI_Waitall(2, rq, MPI_STATUSES_IGNORE);
                if (rc == MPI_SUCCESS) blend_rect(J, in, J->c->recv, low ? !low_front : low_front);
                if (rc != MPI_SUCCESS) goto done;
            }
            R[i] = keep;
        }
        memcpy(q, nq, sizeof(rr_rect) * (size_t)P);
    }
    J->t_mid = now_ms();
    for (int i = 0; i < P; i++) final[act[i]] = q[i];
    rc = gather_final(J, final);
done:
    free(act), free(q), free(R), free(nq), free(final);
    return rc;
}

static int run(job *J, int algo) {
    return algo == RR_ALGO_ROOT ? algo_root(J) : algo == RR_ALGO_DIRECT ? algo_direct(J) : algo_bswap(J);
}

double rr_composite_cost(int algo, int n, const rr_rect *rects) {
    rr_rect *r = malloc(sizeof(rr_rect) * (size_t)n);
    uint64_t *recv = calloc((size_t)n, sizeof(uint64_t));
    rr_composite_result res;
    memset(&res, 0, sizeof res);
    double cost = 1e300;
    if (r && recv) {
        memcpy(r, rects, sizeof(rr_rect) * (size_t)n);
        job J = {.comm = MPI_COMM_NULL, .me = -1, .n = n, .r = r, .recv = recv, .res = &res};
        if (run(&J, algo) == MPI_SUCCESS) {
            uint64_t mx = 0;
            for (int i = 0; i < n; i++) mx = recv[i] > mx ? recv[i] : mx;
            cost = (double)mx + ROUND_BYTES * J.rounds;
        }
    }
    free(r), free(recv);
    return cost;
}

int rr_composite(rr_compositor *c, MPI_Comm comm, int algo, int op, const rr_view *v,
                 const double *bw, uint8_t *img, int W, int H, rr_rect mine,
                 rr_composite_result *res) {
    (void)H;
    int me, n;
    MPI_Comm_rank(comm, &me);
    MPI_Comm_size(comm, &n);
    memset(res, 0, sizeof *res);
    rr_rect *rects = malloc(sizeof(rr_rect) * (size_t)n);
    uint64_t *recv = calloc((size_t)n, sizeof(uint64_t));
    int rc = rects && recv ? MPI_SUCCESS : MPI_ERR_NO_MEM;
    if (rc == MPI_SUCCESS) rc = MPI_Allgather(&mine, 4, MPI_INT32_T, rects, 4, MPI_INT32_T, comm);
    if (rc == MPI_SUCCESS)
        for (int i = 0; i < n; i++) res->all = rr_rect_bbox(res->all, rects[i]);
    /* every rank has rendered once the rectangles are known: time waiting for the slowest one
     * before this point is not compositing */
    const double t0 = now_ms();
    if (rc == MPI_SUCCESS && n > 1 && algo == RR_ALGO_AUTO) {
        static const int cand[3] = {RR_ALGO_ROOT, RR_ALGO_BSWAP, RR_ALGO_DIRECT};
        double best = 1e301;
        for (int k = 0; k < 3; k++) {
            const double cost = rr_composite_cost(cand[k], n, rects);
            if (cost < best) best = cost, algo = cand[k];
        }
    }
    if (n == 1) algo = RR_ALGO_ROOT;
    res->algo = algo;
    job J = {.c = c, .comm = comm, .me = me, .n = n, .op = op, .W = W, .v = v, .bw = bw, .img = img,
             .r = rects, .recv = recv, .res = res, .t_mid = t0};
    if (rc == MPI_SUCCESS) rc = run(&J, algo);
    const double t1 = now_ms();
    res->ms_composite = J.t_mid - t0;
    res->ms_gather = t1 - J.t_mid;
    free(rects), free(recv);
    return rc;
}
