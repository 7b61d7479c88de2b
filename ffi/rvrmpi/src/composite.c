/* composite.c - see composite.h. Binary swap (with folding of neighbour pairs for rank counts
 * that are not powers of two) and direct send; both end with a gather to rank 0. */
#include "composite.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* a over b, premultiplied 8-bit: a + b * (255 - a_alpha) / 255, rounded. */
static inline uint8_t over1(uint8_t a, uint8_t b, unsigned ia) {
    unsigned v = a + (b * ia + 127) / 255;
    return (uint8_t)(v > 255 ? 255 : v);
}

void rr_blend(uint8_t *dst, const uint8_t *src, size_t n, int op, int src_in_front) {
    if (op == RR_OP_OVER) {
        for (size_t i = 0; i < n; i++) {
            uint8_t *d = dst + 4 * i;
            const uint8_t *s = src + 4 * i;
            if (s[3] == 0 && (s[0] | s[1] | s[2]) == 0) continue; /* transparent source */
            if (src_in_front) {
                const unsigned ia = 255u - s[3];
                for (int c = 0; c < 4; c++) d[c] = over1(s[c], d[c], ia);
            } else {
                const unsigned ia = 255u - d[3];
                for (int c = 0; c < 4; c++) d[c] = over1(d[c], s[c], ia);
            }
        }
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

#define TAG_FOLD 301
#define TAG_SWAP 302
/* MPI counts are int: pixel ranges are sent in pieces of at most this many bytes. */
#define CHUNK ((size_t)1 << 30)

static int sendrecv_big(const uint8_t *sbuf, size_t sbytes, uint8_t *rbuf, size_t rbytes, int peer,
                        int tag, MPI_Comm comm) {
    size_t off_s = 0, off_r = 0;
    while (off_s < sbytes || off_r < rbytes) {
        const size_t ns = sbytes - off_s < CHUNK ? sbytes - off_s : CHUNK;
        const size_t nr = rbytes - off_r < CHUNK ? rbytes - off_r : CHUNK;
        int rc = MPI_Sendrecv(sbuf + off_s, (int)ns, MPI_BYTE, peer, tag, rbuf + off_r, (int)nr,
                              MPI_BYTE, peer, tag, comm, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return rc;
        off_s += ns, off_r += nr;
    }
    return MPI_SUCCESS;
}

static int send_big(const uint8_t *buf, size_t bytes, int peer, int tag, MPI_Comm comm) {
    for (size_t off = 0; off < bytes || bytes == 0; off += CHUNK) {
        const size_t n = bytes - off < CHUNK ? bytes - off : CHUNK;
        int rc = MPI_Send(buf + off, (int)n, MPI_BYTE, peer, tag, comm);
        if (rc != MPI_SUCCESS || bytes == 0) return rc;
    }
    return MPI_SUCCESS;
}

static int recv_big(uint8_t *buf, size_t bytes, int peer, int tag, MPI_Comm comm) {
    for (size_t off = 0; off < bytes || bytes == 0; off += CHUNK) {
        const size_t n = bytes - off < CHUNK ? bytes - off : CHUNK;
        int rc = MPI_Recv(buf + off, (int)n, MPI_BYTE, peer, tag, comm, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS || bytes == 0) return rc;
    }
    return MPI_SUCCESS;
}

/* Gathers the pixel ranges [start[i], end[i]) held by rank i (in `mine` for this rank) into out. */
static int gather_ranges(MPI_Comm comm, int rank, int n, const size_t *start, const size_t *end,
                         const uint8_t *mine, uint8_t *out) {
    int *counts = NULL, *displs = NULL;
    int rc = MPI_SUCCESS;
    if (rank == 0) {
        counts = malloc(sizeof(int) * n);
        displs = malloc(sizeof(int) * n);
        if (!counts || !displs) {
            free(counts);
            free(displs);
            return MPI_ERR_NO_MEM;
        }
        for (int i = 0; i < n; i++) counts[i] = (int)((end[i] - start[i]) * 4), displs[i] = (int)(start[i] * 4);
    }
    rc = MPI_Gatherv(mine, (int)((end[rank] - start[rank]) * 4), MPI_BYTE, out, counts, displs,
                     MPI_BYTE, 0, comm);
    free(counts);
    free(displs);
    return rc;
}

static int direct_send(MPI_Comm comm, int rank, int n, int op, const rr_view *v, const double *bw,
                       uint8_t *img, size_t npix, uint8_t *out, uint64_t *sent, double *t_mid) {
    size_t *start = calloc((size_t)n, sizeof(size_t)), *end = calloc((size_t)n, sizeof(size_t));
    int *sc = malloc(sizeof(int) * n), *sd = malloc(sizeof(int) * n);
    int *rcn = malloc(sizeof(int) * n), *rd = malloc(sizeof(int) * n), *order = malloc(sizeof(int) * n);
    uint8_t *recv = NULL;
    int rc = MPI_ERR_NO_MEM;
    if (!start || !end || !sc || !sd || !rcn || !rd || !order) goto done;
    for (int j = 0; j < n; j++) start[j] = npix * j / n, end[j] = npix * (j + 1) / n;
    const size_t mine = end[rank] - start[rank];
    recv = malloc(mine * 4 * n + 4);
    if (!recv) goto done;
    *sent = 0;
    for (int j = 0; j < n; j++) {
        sc[j] = (int)((end[j] - start[j]) * 4);
        sd[j] = (int)(start[j] * 4);
        rcn[j] = (int)(mine * 4);
        rd[j] = (int)(mine * 4 * j);
        if (j != rank) *sent += (uint64_t)sc[j];
    }
    rc = MPI_Alltoallv(img, sc, sd, MPI_BYTE, recv, rcn, rd, MPI_BYTE, comm);
    if (rc != MPI_SUCCESS) goto done;
    rr_visibility_order(v, bw, n, order);
    /* front to back: the accumulated result is in front of each next slab */
    uint8_t *acc = img + start[rank] * 4;
    memcpy(acc, recv + (size_t)order[0] * mine * 4, mine * 4);
    for (int k = 1; k < n; k++) rr_blend(acc, recv + (size_t)order[k] * mine * 4, mine, op, 0);
    *t_mid = now_ms();
    rc = gather_ranges(comm, rank, n, start, end, acc, out);
done:
    free(start), free(end), free(sc), free(sd), free(rcn), free(rd), free(order), free(recv);
    return rc;
}

static int binary_swap(MPI_Comm comm, int rank, int n, int op, const rr_view *v, const double *bw,
                       uint8_t *img, size_t npix, uint8_t *out, uint64_t *sent, double *t_mid) {
    int P = 1;
    while (P * 2 <= n) P *= 2;
    const int e = n - P; /* pairs (2i, 2i+1), i < e, fold first */
    int rc = MPI_SUCCESS;
    *sent = 0;
    int *act = malloc(sizeof(int) * P);
    size_t *start = calloc((size_t)n, sizeof(size_t)), *end = calloc((size_t)n, sizeof(size_t));
    uint8_t *tmp = malloc(npix * 4 / 2 + 8);
    if (!act || !start || !end || !tmp) {
        rc = MPI_ERR_NO_MEM;
        goto done;
    }
    for (int i = 0, k = 0; i < n; i++)
        if (!(i < 2 * e && (i & 1))) act[k++] = i;
    int vr = -1;
    for (int i = 0; i < P; i++)
        if (act[i] == rank) vr = i;
    if (rank < 2 * e) {
        if (rank & 1) {
            rc = send_big(img, npix * 4, rank - 1, TAG_FOLD, comm);
            *sent += npix * 4;
        } else {
            uint8_t *full = malloc(npix * 4 + 4);
            if (!full) rc = MPI_ERR_NO_MEM;
            else {
                rc = recv_big(full, npix * 4, rank + 1, TAG_FOLD, comm);
                if (rc == MPI_SUCCESS) rr_blend(img, full, npix, op, !rr_low_in_front(v, bw[rank + 1]));
                free(full);
            }
        }
        if (rc != MPI_SUCCESS) goto done;
    }
    /* pixel ranges of every virtual rank after the swaps (deterministic) */
    for (int i = 0; i < P; i++) {
        size_t p0 = 0, p1 = npix;
        for (int k = 0; (1 << k) < P; k++) {
            const size_t mid = p0 + (p1 - p0) / 2;
            if (i & (1 << k)) p0 = mid;
            else p1 = mid;
        }
        start[act[i]] = p0, end[act[i]] = p1;
    }
    if (vr >= 0) {
        size_t p0 = 0, p1 = npix;
        for (int k = 0; (1 << k) < P; k++) {
            const int pv = vr ^ (1 << k), peer = act[pv];
            const int low = !(vr & (1 << k));
            const int hv = ((vr >> (k + 1)) << (k + 1)) + (1 << k);
            const int low_front = rr_low_in_front(v, bw[act[hv]]);
            const size_t mid = p0 + (p1 - p0) / 2;
            const size_t k0 = low ? p0 : mid, k1 = low ? mid : p1; /* kept */
            const size_t g0 = low ? mid : p0, g1 = low ? p1 : mid; /* given */
            rc = sendrecv_big(img + g0 * 4, (g1 - g0) * 4, tmp, (k1 - k0) * 4, peer, TAG_SWAP, comm);
            if (rc != MPI_SUCCESS) goto done;
            *sent += (g1 - g0) * 4;
            rr_blend(img + k0 * 4, tmp, k1 - k0, op, low ? !low_front : low_front);
            p0 = k0, p1 = k1;
        }
    }
    *t_mid = now_ms();
    rc = gather_ranges(comm, rank, n, start, end, img + start[rank] * 4, out);
done:
    free(act), free(start), free(end), free(tmp);
    return rc;
}

int rr_composite(MPI_Comm comm, int algo, int op, const rr_view *v, const double *bw, uint8_t *img,
                 size_t npix, uint8_t *out, uint64_t *sent, double *ms_composite, double *ms_gather) {
    int rank, n;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &n);
    const double t0 = now_ms();
    double tm = t0;
    int rc;
    *sent = 0;
    if (n == 1) {
        memcpy(out, img, npix * 4);
        rc = MPI_SUCCESS;
        tm = now_ms();
    } else if (algo == RR_ALGO_DIRECT) {
        rc = direct_send(comm, rank, n, op, v, bw, img, npix, out, sent, &tm);
    } else {
        rc = binary_swap(comm, rank, n, op, v, bw, img, npix, out, sent, &tm);
    }
    const double t1 = now_ms();
    *ms_composite = tm - t0;
    *ms_gather = t1 - tm;
    return rc;
}
