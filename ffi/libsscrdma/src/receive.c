/* receive.c - the receiver's side: preamble + header (split receive), then
 * go/reject, payload chunks straight into the caller's buffer, verdict. */
#include "internal.h"

#include <string.h>

enum { R_ABORT, R_NOTICE, R_FIXED };
#define MAX_REQS (R_FIXED + 64)

volatile int64_t ssc__test_corrupt_at = -1;

int ssc_receive(ssc_conn *c, void *header, void *data, uint64_t size)
{
    return ssc_receive_ex(c, header, data, size, NULL);
}

int ssc_receive_ex(ssc_conn *c, void *header, void *data, uint64_t size,
                   const ssc_opts *o)
{
    uint64_t announced;
    int rc;

    if (!c || !header || (!data && size))
        return SSC_ERR_INVALID;
    if (c->pending)
        return SSC_ERR_INVALID;
    rc = ssc_receive_header(c, header, &announced, o);
    if (rc)
        return rc;
    /* ssc_receive_payload compares the sizes and rejects on mismatch */
    return ssc_receive_payload(c, data, size, o);
}

/* Best-effort notice to the sender before giving up on the connection. */
static void tell_and_kill(ssc_conn *c, unsigned kind, uint64_t seq, int code,
                          ssc_req *r, size_t n)
{
    ssc_req nr = {0};
    ssc_waiter nw;

    if (c->ep && __atomic_load_n(&c->ep_status, __ATOMIC_ACQUIRE) == UCS_OK) {
        ssc__waiter_init(&nw, c, 200, NULL);
        if (ssc__send_notice(&nw, &nr, kind, seq, code) == SSC_OK)
            ssc__ep_flush(c, 200000000ll);
    }
    ssc__req_release(&nr);
    ssc__conn_kill(c, code, r, n);
}

int ssc_receive_header(ssc_conn *c, void *header, uint64_t *size_out,
                       const ssc_opts *o)
{
    ssc_params p;
    ssc_waiter w;
    ssc_req r = {0}, n = {0};
    uint64_t seq;
    int rc;

    if (!c || !header)
        return SSC_ERR_INVALID;
    rc = ssc__conn_check(c);
    if (rc)
        return rc;
    if (c->pending)
        return SSC_ERR_INVALID;
    ssc__params_resolve(o, &p);
    ssc__waiter_init(&w, c, p.timeout_ms, p.cancel);
    seq = c->rx_seq;

    /* any sequence number matches, so that a wrong one is detected and
     * reported instead of waiting for a message that never comes */
    ssc__post_recv(c, &r, ssc__tag(SSC_K_PREAMBLE, 0, 0), SSC_TAG_KIND_MASK,
                   &c->pre_in, sizeof c->pre_in);
    rc = ssc__wait_all(&w, &r, 1);
    if (rc == SSC_ERR_TIMEOUT) {
        /* nobody started a transfer: nothing consumed, the connection
         * stays usable - unless the preamble slipped in meanwhile */
        ssc__req_cancel(c, &r);
        (void)ssc__req_test(&r);
        if (r.active || r.status != UCS_OK) {
            ssc__req_release(&r);
            return SSC_ERR_TIMEOUT;
        }
        rc = SSC_OK;
    }
    if (rc) {
        ssc__conn_kill(c, rc, &r, 1);
        return rc;
    }
    if (r.status != UCS_OK) {
        rc = ssc__req_error(c, &r);
        ssc__conn_kill(c, rc, NULL, 0);
        return rc;
    }
    /* a new transfer implies the sender saw our last verdict */
    c->unacked = 0;
    if (!ssc__preamble_valid(&c->pre_in, r.length, c->rx_seq)) {
        SSC_DEBUG("conn %p: bad preamble (magic %08x version %u seq %llu, want %llu)",
                  (void *)c, c->pre_in.magic, c->pre_in.version,
                  (unsigned long long)c->pre_in.seq, (unsigned long long)seq);
        tell_and_kill(c, SSC_K_ANSWER, c->pre_in.seq, SSC_ERR_PROTOCOL, NULL, 0);
        return SSC_ERR_PROTOCOL;
    }

    /* into the staging buffer: the caller's header is written only if the
     * message is exactly SSC_HEADER_SIZE (a longer one is truncated by
     * UCX, a shorter one shows in the received length) */
    ssc__post_recv(c, &r, ssc__tag(SSC_K_HEADER, seq, 0), SSC_TAG_FULL_MASK,
                   c->hdr_stage, SSC_HEADER_SIZE);
    rc = ssc__wait_all(&w, &r, 1);
    if (rc) {
        ssc__conn_kill(c, rc, &r, 1);
        return rc;
    }
    if (r.status == UCS_ERR_MESSAGE_TRUNCATED ||
        (r.status == UCS_OK && r.length != SSC_HEADER_SIZE)) {
        SSC_DEBUG("conn %p: header of %zu bytes", (void *)c, r.length);
        /* both sides are still in step: refuse this transfer, keep going */
        rc = ssc__send_notice(&w, &n, SSC_K_ANSWER, seq, SSC_ERR_HEADER);
        if (rc) {
            ssc__conn_kill(c, rc, &n, 1);
            return rc;
        }
        c->rx_seq++;
        c->unacked = 1;
        return SSC_ERR_HEADER;
    }
    if (r.status != UCS_OK) {
        rc = ssc__req_error(c, &r);
        ssc__conn_kill(c, rc, NULL, 0);
        return rc;
    }

    memcpy(header, c->hdr_stage, SSC_HEADER_SIZE);
    if (size_out)
        *size_out = c->pre_in.size;
    c->pre = c->pre_in;
    c->pending = 1;
    return SSC_OK;
}

/* Answer the pending transfer without taking its payload. */
static int refuse(ssc_conn *c, const ssc_params *p, int reason)
{
    ssc_waiter w;
    ssc_req n = {0};
    uint64_t seq = c->pre.seq;
    int rc;

    ssc__waiter_init(&w, c, p->timeout_ms, NULL);
    c->pending = 0;
    rc = ssc__send_notice(&w, &n, SSC_K_ANSWER, seq, reason);
    if (rc) {
        ssc__conn_kill(c, rc, &n, 1);
        return rc;
    }
    c->rx_seq++;
    c->unacked = 1;
    return SSC_OK;
}

int ssc_reject(ssc_conn *c, int reason)
{
    ssc_params p;
    int rc;

    if (!c || reason >= 0)
        return SSC_ERR_INVALID;
    rc = ssc__conn_check(c);
    if (rc)
        return rc;
    if (!c->pending)
        return SSC_ERR_INVALID;
    ssc__params_resolve(NULL, &p);
    return refuse(c, &p, reason);
}

/* CRC32C is computed while chunks arrive, over the contiguous prefix that
 * has arrived, in slices so that UCX keeps being progressed in between.
 * With the final verdict only a slice away, the sender (waiting for it
 * under its stall timeout) is not kept waiting by a checksum of the whole
 * payload; with RDMA the checksum also overlaps the transfer. */
#define CRC_SLICE (4ull << 20)
/* landed / checksum-due flags, by chunk index modulo the ring (the size of
 * ssc_stripe.landed): every lane posts within one ring of the landed prefix
 * and of the checksum, so flags are never aliased */
#define CRC_RING 256u

/* Checksum one slice if the data there has arrived. Returns 1 if it did. */
static int crc_step(ssc_stripe *s, uint32_t *crc)
{
    uint64_t off = s->crc_off, ci = off / s->chunk;
    if (off >= s->size || !__atomic_load_n(&s->crc_due[ci % CRC_RING], __ATOMIC_ACQUIRE))
        return 0;
    uint64_t n = ssc__crc_slice(s->size, s->chunk, off, CRC_SLICE);
    *crc = ssc_crc32c(*crc, s->data + off, n);
    off += n;
    if (off == s->size || off % s->chunk == 0) /* the chunk is done */
        __atomic_store_n(&s->crc_due[ci % CRC_RING], 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->crc_off, off, __ATOMIC_RELEASE);
    return 1;
}

/* Posts receives for one lane's chunks (lane, lane + lanes, ...) within
 * the ring, collects completions and marks them landed. Returns 1 when all
 * of the lane's chunks landed, 0 while some are outstanding, or an error. */
static int lane_receive_step(ssc_stripe *s, ucp_worker_h worker, ssc_waiter *w,
                             ssc_req *win, uint64_t *next, unsigned *inflight,
                             int crc_on)
{
    const ssc_params *p = s->p;

    /* a slot is busy while it has a chunk length (a receive may also
     * complete inside the post call) */
    for (unsigned i = 0; i < p->window && *next < s->nchunks; i++) {
        if (win[i].bytes)
            continue;
        if (crc_on && *next >= __atomic_load_n(&s->crc_off, __ATOMIC_ACQUIRE) / s->chunk + CRC_RING)
            break;
        if (*next >= __atomic_load_n(&s->prefix, __ATOMIC_ACQUIRE) + CRC_RING)
            break;
        uint64_t off = *next * s->chunk;
        uint64_t len = ssc__chunk_len(s->size, s->chunk, *next);
        /* pages still being faulted in (ssc_prefault_ex): post once they are */
        if (p->writable && off + len > __atomic_load_n(p->writable, __ATOMIC_ACQUIRE))
            break;
        /* zero copies: straight into the caller's buffer */
        ssc__post_recv_w(worker, &win[i], ssc__tag(SSC_K_CHUNK, s->seq, (uint32_t)*next),
                         SSC_TAG_FULL_MASK, s->data + off, len);
        win[i].bytes = len;
        win[i].index = *next;
        *next += s->lanes;
        (*inflight)++;
    }
    for (unsigned i = 0; i < p->window; i++) {
        if (!win[i].bytes || !ssc__req_test(&win[i]))
            continue;
        (*inflight)--;
        if (win[i].status != UCS_OK)
            return win[i].status == UCS_ERR_MESSAGE_TRUNCATED
                       ? SSC_ERR_PROTOCOL
                       : (w->c ? ssc__req_error(w->c, &win[i]) : ssc__from_ucs(win[i].status));
        if (win[i].length != win[i].bytes) {
            SSC_DEBUG("chunk of %zu bytes, expected %llu", win[i].length,
                      (unsigned long long)win[i].bytes);
            return SSC_ERR_PROTOCOL;
        }
        uint64_t off = win[i].index * s->chunk;
        int64_t at = ssc__test_corrupt_at;
        if (at >= 0 && (uint64_t)at >= off && (uint64_t)at < off + win[i].bytes)
            s->data[at] ^= 0x01; /* test hook: damage before the checksum */
        if (crc_on)
            __atomic_store_n(&s->crc_due[win[i].index % CRC_RING], 1, __ATOMIC_RELEASE);
        __atomic_store_n(&s->landed[win[i].index % CRC_RING], 1, __ATOMIC_RELEASE);
        win[i].bytes = 0;
        ssc__waiter_done(w);
    }
    return *next >= s->nchunks && *inflight == 0;
}

/* Lanes 1..: their chunks arrive on their own worker, progressed in their thread. */
static int receive_lane_step(ssc_stripe *s, ssc_lane *l, ssc_waiter *w, ssc_req *win,
                             uint64_t *next, unsigned *inflight)
{
    return lane_receive_step(s, l->worker, w, win, next, inflight,
                             (s->c->pre.flags & SSC_F_CHECKSUM) != 0);
}

static void *receive_lane(void *arg)
{
    ssc__lane_run(arg, receive_lane_step, 0);
    return NULL;
}

static int receive_chunks(ssc_conn *c, ssc_waiter *w, ssc_stripe *s, ssc_req *r,
                          int crc_on, uint32_t *crc)
{
    ssc_req *win = r + R_FIXED;
    ssc_lane_job jobs[SSC_MAX_LANES];
    /* Progress is the contiguous prefix that has landed (chunks complete out
     * of order inside the windows and across lanes), so a consumer may read
     * data[0, progress) while the rest arrives: the renderer uploads a volume
     * during its own transfer. */
    uint64_t next = 0, prefix = 0, seen = 0;
    unsigned inflight = 0;
    int rc, lane0_done = 0;

    ssc__stripe_start(s, receive_lane, jobs);
    for (;;) {
        if (!lane0_done) {
            rc = lane_receive_step(s, c->worker, w, win, &next, &inflight, crc_on);
            if (rc < 0)
                break;
            lane0_done = rc;
        }
        uint64_t was = prefix;
        while (prefix < s->nchunks &&
               __atomic_load_n(&s->landed[prefix % CRC_RING], __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&s->landed[prefix % CRC_RING], 0, __ATOMIC_RELAXED);
            prefix++;
        }
        if (prefix != was) {
            __atomic_store_n(&s->prefix, prefix, __ATOMIC_RELEASE);
            /* prefix < nchunks: prefix * chunk < size; no product that could wrap */
            ssc__progress_store(s->p->progress, prefix < s->nchunks ? prefix * s->chunk : s->size);
        }
        if (!r[R_ABORT].active || ssc__req_test(&r[R_ABORT])) {
            /* the sender gave up (cancel, timeout) and told us why */
            if (ssc__notice_valid(&r[R_ABORT], &c->abort_in, s->seq) &&
                c->abort_in.code < 0)
                rc = c->abort_in.code;
            else
                rc = r[R_ABORT].status != UCS_OK ? ssc__req_error(c, &r[R_ABORT])
                                                 : SSC_ERR_PROTOCOL;
            break;
        }
        if (crc_on && crc_step(s, crc)) {
            /* local work is neither a stall nor idleness */
            ssc__waiter_done(w);
            w->last_event_ns = w->last_done_ns;
        }
        if ((rc = ssc__stripe_watch(s, w, &seen)))
            break;
        if (lane0_done && prefix == s->nchunks && (!crc_on || s->crc_off == s->size) &&
            __atomic_load_n(&s->finished, __ATOMIC_ACQUIRE) == s->lanes - 1) {
            rc = __atomic_load_n(&s->err, __ATOMIC_ACQUIRE);
            break;
        }
        if ((rc = ssc__waiter_step(w)))
            break;
    }
    return ssc__stripe_end(s, jobs, rc);
}

int ssc_receive_payload(ssc_conn *c, void *data, uint64_t size,
                        const ssc_opts *o)
{
    ssc_req r[MAX_REQS];
    ssc_params p;
    ssc_waiter w;
    ssc_stripe st;
    uint64_t seq;
    unsigned lanes = 1;
    int rc, verdict = SSC_OK;

    if (!c)
        return SSC_ERR_INVALID;
    rc = ssc__conn_check(c);
    if (rc)
        return rc;
    if (!c->pending || (!data && size))
        return SSC_ERR_INVALID;
    ssc__params_resolve(o, &p);

    if (size != c->pre.size) {
        /* the sender is told before it sends a single payload byte */
        SSC_DEBUG("conn %p: size %llu announced, %llu expected", (void *)c,
                  (unsigned long long)c->pre.size, (unsigned long long)size);
        rc = refuse(c, &p, SSC_ERR_SIZE);
        return rc ? rc : SSC_ERR_SIZE;
    }

    memset(r, 0, sizeof r);
    seq = c->pre.seq;
    c->pending = 0;
    ssc__progress_store(p.progress, 0);
    ssc__waiter_init(&w, c, p.timeout_ms, p.cancel);
    ssc__post_recv(c, &r[R_ABORT], ssc__tag(SSC_K_ABORT, seq, 0),
                   SSC_TAG_FULL_MASK, &c->abort_in, sizeof c->abort_in);
    if (c->pre.flags & SSC_F_LANES) {
        /* our lanes (maybe none) before the go: the sender waits for both */
        size_t len = ssc__lanes_offer(c, c->pre.reserved, seq);
        if (!len) {
            rc = SSC_ERR_NOMEM;
            goto fail;
        }
        lanes = 1 + c->lanes_msg->count;
        ssc__post_send(c, &r[R_NOTICE], ssc__tag(SSC_K_LANES, seq, 0), c->lanes_msg, len);
        rc = ssc__wait_all(&w, &r[R_NOTICE], 1);
        if (!rc && r[R_NOTICE].status != UCS_OK)
            rc = ssc__req_error(c, &r[R_NOTICE]);
        if (rc)
            goto fail;
    }
    rc = ssc__send_notice(&w, &r[R_NOTICE], SSC_K_ANSWER, seq, SSC_OK);
    if (rc)
        goto fail;

    const int crc_on = (c->pre.flags & SSC_F_CHECKSUM) != 0;
    uint32_t crc = 0;
    st = (ssc_stripe){.c = c, .p = &p, .data = data, .size = size, .chunk = c->pre.chunk,
                      .nchunks = ssc__chunk_count(size, c->pre.chunk), .seq = seq,
                      .lanes = lanes};
    rc = receive_chunks(c, &w, &st, r, crc_on, &crc);
    if (rc)
        goto fail;
    if (crc_on && crc != c->pre.crc)
        verdict = SSC_ERR_CHECKSUM;
    ssc__progress_store(p.progress, size);

    rc = ssc__send_notice(&w, &r[R_NOTICE], SSC_K_STATUS, seq, verdict);
    if (rc)
        goto fail;
    ssc__req_drop(c, &r[R_ABORT]);
    c->rx_seq++;
    c->unacked = 1;
    return verdict;

fail:
    if (rc == SSC_ERR_CANCELLED && ssc__cancelled(p.cancel)) {
        tell_and_kill(c, SSC_K_STATUS, seq, rc, r, MAX_REQS);
        return rc;
    }
    if (rc == SSC_ERR_TIMEOUT || rc == SSC_ERR_PROTOCOL) {
        tell_and_kill(c, SSC_K_STATUS, seq, rc, r, MAX_REQS);
        return rc;
    }
    if (rc == SSC_ERR_PEER && ssc__req_test(&r[R_ABORT]) &&
        ssc__notice_valid(&r[R_ABORT], &c->abort_in, seq) && c->abort_in.code < 0)
        rc = c->abort_in.code;
    ssc__conn_kill(c, rc, r, MAX_REQS);
    return rc;
}
