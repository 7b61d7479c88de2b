/* send.c - the sender's side of a transfer: preamble + header, wait for the
 * receiver's go, payload in chunks, wait for the receiver's verdict. */
#include "internal.h"

#include <string.h>

/* slots: answer recv, status recv, preamble send, header send, the
 * receiver's lanes (recv), then the payload window of lane 0 */
enum { R_ANSWER, R_STATUS, R_PRE, R_HDR, R_LANES, R_FIXED };
#define MAX_REQS (R_FIXED + 64)
#define SETTLE_NS 100000000ll

int ssc_send(ssc_conn *c, const void *header, const void *data, uint64_t size)
{
    return ssc_send_ex(c, header, data, size, NULL);
}

/* The code the receiver put into its answer, as our return value. */
static int reject_code(int32_t code)
{
    switch (code) {
    case SSC_ERR_SIZE:
    case SSC_ERR_HEADER:
    case SSC_ERR_PROTOCOL:
        return code;
    default:
        return SSC_ERR_REJECTED;
    }
}

/* The receiver told us its verdict early (it gave up): take its reason. */
static int early_status(ssc_conn *c, ssc_req *st, uint64_t seq)
{
    if (st->active || !ssc__notice_valid(st, &c->status_in, seq))
        return 0;
    return c->status_in.code;
}

/* The peer may send its last word and close at once; the disconnect can
 * overtake that message in our progress loop. Give it a moment to arrive.
 * Returns 1 if the request has completed. */
static int settle(ssc_conn *c, ssc_req *r)
{
    int64_t end = ssc__now_ns() + SETTLE_NS;

    while (!ssc__req_test(r) && ssc__now_ns() < end)
        ucp_worker_progress(c->worker);
    return !r->active;
}

/* Keeps the window of one lane full with its chunks (lane, lane + lanes,
 * ...) and collects completions. Returns 1 when all of the lane's chunks
 * were acknowledged, 0 while some are in flight, or an error. */
static int lane_send_step(ssc_stripe *s, ucp_ep_h ep, ssc_waiter *w, ssc_req *win,
                          uint64_t *next, unsigned *inflight, volatile int *ep_status)
{
    const ssc_params *p = s->p;

    /* a slot is busy while it has a chunk length (a send may also complete
     * inside the post call) */
    for (unsigned i = 0; i < p->window && *next < s->nchunks; i++) {
        if (win[i].bytes)
            continue;
        uint64_t off = *next * s->chunk;
        uint64_t len = ssc__chunk_len(s->size, s->chunk, *next);
        ssc__post_send_ep(ep, &win[i], ssc__tag(SSC_K_CHUNK, s->seq, (uint32_t)*next),
                          s->data + off, len);
        win[i].bytes = len;
        *next += s->lanes;
        (*inflight)++;
    }
    for (unsigned i = 0; i < p->window; i++) {
        if (!win[i].bytes || !ssc__req_test(&win[i]))
            continue;
        (*inflight)--;
        if (win[i].status != UCS_OK)
            return __atomic_load_n(ep_status, __ATOMIC_ACQUIRE) != UCS_OK
                       ? SSC_ERR_PEER
                       : ssc__from_ucs(win[i].status);
        ssc__stripe_sent(s, win[i].bytes);
        win[i].bytes = 0;
        ssc__waiter_done(w);
    }
    return *next >= s->nchunks && *inflight == 0;
}

/* Lanes 1..: their chunks over their own endpoint, progressed in their thread. */
static int send_lane_step(ssc_stripe *s, ssc_lane *l, ssc_waiter *w, ssc_req *win,
                          uint64_t *next, unsigned *inflight)
{
    return lane_send_step(s, l->ep, w, win, next, inflight, &l->ep_status);
}

static void *send_lane(void *arg)
{
    ssc__lane_run(arg, send_lane_step, 1);
    return NULL;
}

static int send_payload(ssc_conn *c, ssc_waiter *w, ssc_stripe *s, ssc_req *r)
{
    ssc_req *win = r + R_FIXED;
    ssc_lane_job jobs[SSC_MAX_LANES];
    uint64_t next = 0, seen = 0;
    unsigned inflight = 0;
    int rc, lane0_done = 0;

    ssc__stripe_start(s, send_lane, jobs);
    for (;;) {
        if (!lane0_done) {
            rc = lane_send_step(s, c->ep, w, win, &next, &inflight, &c->ep_status);
            if (rc < 0)
                break;
            lane0_done = rc;
        }
        if (!r[R_STATUS].active || ssc__req_test(&r[R_STATUS])) {
            int code = early_status(c, &r[R_STATUS], s->seq);
            /* a verdict before our sends completed locally is normal when
             * it is "ok"; anything else means the receiver gave up */
            if (code < 0) {
                rc = code;
                break;
            }
            if (r[R_STATUS].status != UCS_OK) {
                rc = ssc__req_error(c, &r[R_STATUS]);
                break;
            }
        }
        if ((rc = ssc__stripe_watch(s, w, &seen)))
            break;
        if (lane0_done && __atomic_load_n(&s->finished, __ATOMIC_ACQUIRE) == s->lanes - 1) {
            rc = __atomic_load_n(&s->err, __ATOMIC_ACQUIRE);
            break;
        }
        if ((rc = ssc__waiter_step(w)))
            break;
    }
    return ssc__stripe_end(s, jobs, rc);
}

int ssc_send_ex(ssc_conn *c, const void *header, const void *data,
                uint64_t size, const ssc_opts *o)
{
    ssc_req r[MAX_REQS];
    ssc_params p;
    ssc_waiter w;
    ssc_stripe st;
    uint64_t seq, chunk;
    unsigned lanes;
    int rc, answer;

    if (!c || !header || (!data && size))
        return SSC_ERR_INVALID;
    rc = ssc__conn_check(c);
    if (rc)
        return rc;
    ssc__params_resolve(o, &p);
    memset(r, 0, sizeof r);
    seq = c->tx_seq;
    chunk = ssc__chunk_for(p.chunk, size);
    /* lanes pay off from two chunks on; each lane then has one at least */
    lanes = c->ctx->lanes;
    if (size / chunk < 2)
        lanes = 1;
    if (lanes > 1 && ssc__lanes_buffer(c))
        lanes = 1;

    /* the checksum is computed before anything moves, so the receiver can
     * verify against a value taken from the data as it was handed to us */
    c->pre_out = (ssc_preamble){
        .magic = SSC_MAGIC,
        .version = SSC_PROTO_VERSION,
        .flags = (uint16_t)((p.flags & SSC_F_CHECKSUM) | (lanes > 1 ? SSC_F_LANES : 0)),
        .seq = seq,
        .size = size,
        .chunk = chunk,
        .crc = (p.flags & SSC_F_CHECKSUM) ? ssc_crc32c(0, data, size) : 0,
        .reserved = lanes > 1 ? lanes : 0,
    };
    ssc__progress_store(p.progress, 0);
    ssc__waiter_init(&w, c, p.timeout_ms, p.cancel);

    /* receives first, so that the answers never wait as unexpected */
    ssc__post_recv(c, &r[R_ANSWER], ssc__tag(SSC_K_ANSWER, seq, 0),
                   SSC_TAG_FULL_MASK, &c->answer_in, sizeof c->answer_in);
    ssc__post_recv(c, &r[R_STATUS], ssc__tag(SSC_K_STATUS, seq, 0),
                   SSC_TAG_FULL_MASK, &c->status_in, sizeof c->status_in);
    if (lanes > 1)
        ssc__post_recv(c, &r[R_LANES], ssc__tag(SSC_K_LANES, seq, 0),
                       SSC_TAG_FULL_MASK, c->lanes_msg, sizeof *c->lanes_msg);
    ssc__post_send(c, &r[R_PRE], ssc__tag(SSC_K_PREAMBLE, seq, 0), &c->pre_out,
                   sizeof c->pre_out);
    /* the header goes as its own message straight from the caller's buffer */
    ssc__post_send(c, &r[R_HDR], ssc__tag(SSC_K_HEADER, seq, 0), header,
                   SSC_HEADER_SIZE);

    /* no payload byte before the receiver said go: a wrong size or a
     * rejected header costs nothing */
    rc = ssc__wait_all(&w, &r[R_ANSWER], 1);
    if (rc == SSC_ERR_PEER && settle(c, &r[R_ANSWER]))
        rc = SSC_OK; /* answered, then closed: the answer counts */
    if (rc)
        goto fail;
    if (!ssc__notice_valid(&r[R_ANSWER], &c->answer_in, seq)) {
        rc = r[R_ANSWER].status != UCS_OK ? ssc__req_error(c, &r[R_ANSWER])
                                          : SSC_ERR_PROTOCOL;
        goto fail;
    }
    answer = c->answer_in.code;
    /* the answer implies the receiver has both messages; UCX still has to
     * report them done locally (the header buffer is in use until then) */
    rc = ssc__wait_all(&w, &r[R_PRE], 2);
    if (!rc && (r[R_PRE].status != UCS_OK || r[R_HDR].status != UCS_OK))
        rc = ssc__req_error(c, r[R_PRE].status != UCS_OK ? &r[R_PRE] : &r[R_HDR]);
    if (rc) {
        if (answer != 0 && rc == SSC_ERR_PEER) {
            /* refused and closed: report the refusal */
            ssc__conn_kill(c, rc, r, MAX_REQS);
            return reject_code(answer);
        }
        goto fail;
    }
    if (answer != 0) {
        rc = reject_code(answer);
        if (rc == SSC_ERR_PROTOCOL)
            goto fail; /* the receiver gave up on us */
        ssc__req_drop(c, &r[R_STATUS]);
        ssc__req_drop(c, &r[R_LANES]);
        c->tx_seq++;
        SSC_DEBUG("conn %p: transfer %llu refused: %s", (void *)c,
                  (unsigned long long)seq, ssc_strerror(rc));
        return rc;
    }

    /* the receiver sent its lanes before its go */
    if (lanes > 1) {
        rc = ssc__wait_all(&w, &r[R_LANES], 1);
        if (!rc && r[R_LANES].status != UCS_OK)
            rc = ssc__req_error(c, &r[R_LANES]);
        if (!rc)
            rc = ssc__lanes_connect(c, &w, r[R_LANES].length, seq, &lanes);
        if (rc)
            goto fail;
    }
    st = (ssc_stripe){.c = c, .p = &p, .data = (uint8_t *)data, .size = size,
                      .chunk = chunk, .nchunks = ssc__chunk_count(size, chunk),
                      .seq = seq, .lanes = lanes};
    rc = send_payload(c, &w, &st, r);
    if (rc)
        goto fail;
    ssc__progress_store(p.progress, size);

    /* the receiver's verdict: it has every byte (and checked the CRC) */
    rc = ssc__wait_all(&w, &r[R_STATUS], 1);
    if (rc == SSC_ERR_PEER && settle(c, &r[R_STATUS]))
        rc = SSC_OK; /* verdict, then closed: the verdict counts */
    if (rc)
        goto fail;
    if (!ssc__notice_valid(&r[R_STATUS], &c->status_in, seq)) {
        rc = r[R_STATUS].status != UCS_OK ? ssc__req_error(c, &r[R_STATUS])
                                          : SSC_ERR_PROTOCOL;
        goto fail;
    }
    rc = c->status_in.code;
    if (rc != SSC_OK && rc != SSC_ERR_CHECKSUM)
        goto fail; /* e.g. the receiver cancelled and dropped the connection */
    c->tx_seq++;
    return rc;

fail:
    /* The receiver's verdict beats "connection dropped": it may have
     * cancelled (and said so), or it may have everything, said so and
     * closed while our last sends were still being reported done. */
    if (rc == SSC_ERR_PEER) {
        settle(c, &r[R_STATUS]);
        if (!r[R_STATUS].active && ssc__notice_valid(&r[R_STATUS], &c->status_in, seq))
            rc = c->status_in.code;
        if (rc == SSC_OK || rc == SSC_ERR_CHECKSUM) {
            ssc__progress_store(p.progress, size);
            ssc__conn_kill(c, SSC_ERR_PEER, r, MAX_REQS);
            c->tx_seq++;
            return rc;
        }
    }
    if (rc == SSC_ERR_CANCELLED && !ssc__cancelled(p.cancel)) {
        /* cancelled by the receiver: nothing to tell it */
    } else if (rc == SSC_ERR_CANCELLED || rc == SSC_ERR_TIMEOUT) {
        /* best effort: tell the receiver why before the connection drops. The
         * chunks in flight may finish first (bounded): UCX 1.13's TCP
         * transport aborted the process (assertion PUT_TX_WAITING_ACK,
         * tcp_ep.c:939) when the endpoint was flushed with a rendezvous put
         * still under way (seen once in cancel_by_sender on a loaded host). */
        ssc_req n = {0};
        ssc_waiter nw;
        ssc__waiter_init(&nw, c, 200, NULL);
        (void)ssc__wait_all(&nw, r + R_FIXED, p.window);
        ssc__waiter_init(&nw, c, 200, NULL);
        if (ssc__send_notice(&nw, &n, SSC_K_ABORT, seq, rc) == SSC_OK)
            ssc__ep_flush(c, 200000000ll);
        ssc__req_release(&n);
    }
    ssc__conn_kill(c, rc, r, MAX_REQS);
    return rc;
}
