/* lanes.c - extra lanes of a connection: payload chunks striped over several
 * UCX workers, each driven by a thread of its own.
 *
 * Why: one worker copies with one thread. Over shared memory that is one
 * process_vm_readv at a time (0.5-0.6x of one memcpy on the machines here);
 * two lanes moved 9.0-9.4 GB/s where one moved 4.4-5.3 (H200 host, 1 GiB).
 * Over TCP each lane is one more socket (as iperf -P or GridFTP streams).
 *
 * How: the sender asks for lanes in its preamble (SSC_F_LANES, count in
 * `reserved`). The receiver opens that many lane workers (at most as many
 * as its own default allows), sends their UCX addresses (SSC_K_LANES) and
 * then its go. The sender makes an endpoint to each address, once per
 * connection, and flushes it (the wire-up happens before the first chunk).
 * Chunk i goes over lane i % lanes; lane 0 is the connection itself. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

unsigned ssc__lanes_default(void)
{
    const char *e = getenv("SSC_LANES");
    long n;

    if (e && *e) {
        n = strtol(e, NULL, 10);
    } else {
        /* a lane costs a core on each side while data moves */
        n = sysconf(_SC_NPROCESSORS_ONLN) >= 8 ? 2 : 1;
    }
    if (n < 1)
        n = 1;
    if (n > (long)SSC_MAX_LANES)
        n = SSC_MAX_LANES;
    return (unsigned)n;
}

static int lane_worker(ssc_conn *c, ssc_lane *l)
{
    /* used by one thread at a time: the lane's thread during a payload, the
     * connection's caller at close */
    int rc = ssc__worker_new(c->ctx, &l->worker);
    if (rc)
        return rc == SSC_ERR_NOMEM ? rc : SSC_ERR_UCX;
    l->ep_status = UCS_OK;
    return SSC_OK;
}

int ssc__lanes_buffer(ssc_conn *c)
{
    if (!c->lanes_msg && !(c->lanes_msg = calloc(1, sizeof *c->lanes_msg)))
        return SSC_ERR_NOMEM;
    return SSC_OK;
}

size_t ssc__lanes_offer(ssc_conn *c, unsigned want, uint64_t seq)
{
    ssc_lanes_msg *m;
    size_t off = 0;

    if (ssc__lanes_buffer(c))
        return 0;
    if (want > c->ctx->lanes)
        want = c->ctx->lanes;
    while (c->nlanes + 1 < want && lane_worker(c, &c->lane[c->nlanes]) == SSC_OK)
        c->nlanes++;
    m = c->lanes_msg;
    m->magic = SSC_MAGIC;
    m->seq = seq;
    m->count = 0;
    for (unsigned i = 0; i < c->nlanes; i++) {
        ucp_address_t *a = NULL;
        size_t alen = 0;
        if (ucp_worker_get_address(c->lane[i].worker, &a, &alen) != UCS_OK)
            break;
        if (off + 4 + alen > sizeof m->addr) {
            ucp_worker_release_address(c->lane[i].worker, a);
            break;
        }
        uint32_t l32 = (uint32_t)alen;
        memcpy(m->addr + off, &l32, 4);
        memcpy(m->addr + off + 4, a, alen);
        off += 4 + alen;
        ucp_worker_release_address(c->lane[i].worker, a);
        m->count++;
    }
    /* lanes whose address did not fit are not offered; they stay unused */
    return 16 + off;
}

static void lane_error_cb(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    ssc_lane *l = arg;
    int expected = UCS_OK;
    (void)ep;
    SSC_DEBUG("lane %p: endpoint error %s", (void *)l, ucs_status_string(status));
    __atomic_compare_exchange_n(&l->ep_status, &expected, (int)status, 0,
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* Wait until a flush of the lane's endpoint completed: the receiver's lane
 * worker answered, so the transports are wired up. */
static int lane_flush(ssc_lane *l, ssc_waiter *w)
{
    ucp_request_param_t p = {.op_attr_mask = 0};
    void *q = ucp_ep_flush_nbx(l->ep, &p);
    int rc = SSC_OK;

    if (!UCS_PTR_IS_PTR(q))
        return UCS_PTR_IS_ERR(q) ? SSC_ERR_PEER : SSC_OK;
    while (ucp_request_check_status(q) == UCS_INPROGRESS) {
        ucp_worker_progress(l->worker);
        if (__atomic_load_n(&l->ep_status, __ATOMIC_ACQUIRE) != UCS_OK) {
            rc = SSC_ERR_PEER;
            break;
        }
        /* the connection's own worker too: the receiver may answer there */
        if ((rc = ssc__waiter_step(w)))
            break;
    }
    if (rc == SSC_OK && ucp_request_check_status(q) != UCS_OK)
        rc = SSC_ERR_PEER;
    ucp_request_free(q); /* UCX keeps an unfinished one until it ends */
    return rc;
}

int ssc__lanes_connect(ssc_conn *c, ssc_waiter *w, size_t len, uint64_t seq,
                       unsigned *total)
{
    const ssc_lanes_msg *m = c->lanes_msg;
    int count = ssc__lanes_msg_count(m, len, seq);
    size_t off = 0;
    int rc;

    if (count < 0)
        return SSC_ERR_PROTOCOL;
    if (c->nlanes) { /* connected by an earlier transfer */
        *total = 1 + ((unsigned)count < c->nlanes ? (unsigned)count : c->nlanes);
        return (unsigned)count == c->nlanes ? SSC_OK : SSC_ERR_PROTOCOL;
    }
    for (int i = 0; i < count; i++) {
        ssc_lane *l = &c->lane[i];
        uint32_t alen;
        memcpy(&alen, m->addr + off, 4);
        if ((rc = lane_worker(c, l)))
            return rc;
        c->nlanes++; /* closed with the connection from here on */
        ucp_ep_params_t ep = {
            .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS |
                          UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                          UCP_EP_PARAM_FIELD_ERR_HANDLER,
            .address = (const ucp_address_t *)(m->addr + off + 4),
            .err_mode = c->ctx->err_mode,
            .err_handler = {.cb = lane_error_cb, .arg = l},
        };
        off += 4 + alen;
        ucs_status_t st = ucp_ep_create(l->worker, &ep, &l->ep);
        if (st != UCS_OK) {
            SSC_DEBUG("lane endpoint: %s", ucs_status_string(st));
            l->ep = NULL;
            return ssc__from_ucs(st);
        }
        if ((rc = lane_flush(l, w)))
            return rc;
    }
    *total = 1 + c->nlanes;
    SSC_DEBUG("conn %p: payload over %u lanes", (void *)c, *total);
    return SSC_OK;
}

void ssc__lanes_close(ssc_conn *c)
{
    for (unsigned i = 0; i < c->nlanes; i++) {
        ssc_lane *l = &c->lane[i];
        if (l->ep)
            ssc__abandon(l->worker, &l->ep, NULL, 0);
        if (l->worker)
            ucp_worker_destroy(l->worker);
        memset(l, 0, sizeof *l);
    }
    c->nlanes = 0;
    free(c->lanes_msg);
    c->lanes_msg = NULL;
}

void ssc__stripe_sent(ssc_stripe *s, uint64_t bytes)
{
    uint64_t v = __atomic_add_fetch(&s->done, bytes, __ATOMIC_ACQ_REL);
    volatile uint64_t *p = s->p->progress;
    uint64_t cur;

    if (!p)
        return;
    /* lanes store from several threads: never let a smaller total win */
    cur = __atomic_load_n(p, __ATOMIC_ACQUIRE);
    while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, 0, __ATOMIC_ACQ_REL,
                                                   __ATOMIC_ACQUIRE))
        ;
}

void ssc__stripe_fail(ssc_stripe *s, int err)
{
    int expected = 0;
    __atomic_compare_exchange_n(&s->err, &expected, err, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_RELAXED);
}

void ssc__stripe_start(ssc_stripe *s, void *(*fn)(void *), ssc_lane_job *jobs)
{
    for (unsigned k = 1; k < s->lanes; k++) {
        jobs[k].s = s;
        jobs[k].lane = k;
        jobs[k].started = pthread_create(&jobs[k].thread, NULL, fn, &jobs[k]) == 0;
        if (!jobs[k].started) {
            ssc__stripe_fail(s, SSC_ERR_NOMEM);
            __atomic_add_fetch(&s->finished, 1, __ATOMIC_ACQ_REL);
        }
    }
}

int ssc__stripe_watch(ssc_stripe *s, ssc_waiter *w, uint64_t *seen)
{
    uint64_t ev = __atomic_load_n(&s->events, __ATOMIC_ACQUIRE);
    if (ev != *seen) {
        *seen = ev;
        ssc__waiter_done(w);
    }
    return __atomic_load_n(&s->err, __ATOMIC_ACQUIRE);
}

int ssc__stripe_end(ssc_stripe *s, ssc_lane_job *jobs, int rc)
{
    if (rc)
        ssc__stripe_fail(s, rc);
    ssc__stripe_join(s, jobs);
    return rc;
}

void ssc__stripe_join(ssc_stripe *s, ssc_lane_job *jobs)
{
    for (unsigned k = 1; k < s->lanes; k++)
        if (jobs[k].started)
            pthread_join(jobs[k].thread, NULL);
}

void ssc__lane_run(ssc_lane_job *j, ssc_lane_step step, int sending)
{
    ssc_stripe *s = j->s;
    ssc_lane *l = &s->c->lane[j->lane - 1];
    ssc_req win[64];
    ssc_waiter w;
    uint64_t next = j->lane;
    unsigned inflight = 0;
    int rc;

    memset(win, 0, sizeof win);
    /* a receiving lane has no endpoint of ours: a dead sender shows on lane 0
     * (or as this lane's stall) */
    ssc__waiter_init_lane(&w, l->worker, sending ? &l->ep_status : NULL,
                          s->p->timeout_ms, s->p->cancel);
    for (;;) {
        int64_t before = w.last_done_ns;
        rc = step(s, l, &w, win, &next, &inflight);
        /* lane 0's stall clock counts the other lanes' completions too */
        if (w.last_done_ns != before)
            __atomic_add_fetch(&s->events, 1, __ATOMIC_RELEASE);
        if (rc)
            break;
        if ((rc = __atomic_load_n(&s->err, __ATOMIC_ACQUIRE)))
            break;
        if ((rc = ssc__waiter_step(&w)))
            break;
    }
    if (rc < 0) {
        /* UCX must not touch the caller's buffer once the call returns */
        ssc__stripe_fail(s, rc);
        ssc__abandon(l->worker, sending ? &l->ep : NULL, win, s->p->window);
    }
    __atomic_add_fetch(&s->finished, 1, __ATOMIC_ACQ_REL);
}
