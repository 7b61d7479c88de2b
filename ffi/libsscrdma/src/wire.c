/* wire.c - posting UCX tag messages and the progress loop every wait uses. */
#define _GNU_SOURCE
#include "internal.h"

#include <time.h>

/* After this long without any UCX event a waiter starts sleeping between
 * progress calls, so that a receiver waiting for a sender does not burn a
 * core; while data moves, progress never sleeps. The sleep grows with the
 * idle time (1/20 of it, 50 us .. 1 ms): a long wait costs almost no CPU
 * and the first message after it is late by at most ~1 ms. */
#define IDLE_SPIN_NS 2000000ll
/* ssc__conn_kill waits at most this long for UCX to let go of requests */
#define KILL_WAIT_NS 1000000000ll

int64_t ssc__now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

void ssc__idle_sleep(int64_t idle_ns)
{
    int64_t ns = idle_ns / 20;
    if (ns < 50000)
        ns = 50000;
    if (ns > 1000000)
        ns = 1000000;
    struct timespec ts = {0, (long)ns};
    nanosleep(&ts, NULL);
}

void ssc__post_send(ssc_conn *c, ssc_req *r, uint64_t tag, const void *buf,
                    size_t len)
{
    ssc__post_send_ep(c->ep, r, tag, buf, len);
}

void ssc__post_recv(ssc_conn *c, ssc_req *r, uint64_t tag, uint64_t mask,
                    void *buf, size_t len)
{
    ssc__post_recv_w(c->worker, r, tag, mask, buf, len);
}

void ssc__post_send_ep(ucp_ep_h ep, ssc_req *r, uint64_t tag, const void *buf,
                       size_t len)
{
    ucp_request_param_t p = {.op_attr_mask = 0};
    void *q;

    r->is_recv = 0;
    r->length = len;
    q = ucp_tag_send_nbx(ep, buf, len, tag, &p);
    if (q == NULL) { /* completed in place (small eager message) */
        r->req = NULL;
        r->active = 0;
        r->status = UCS_OK;
    } else if (UCS_PTR_IS_ERR(q)) {
        r->req = NULL;
        r->active = 0;
        r->status = UCS_PTR_STATUS(q);
    } else {
        r->req = q;
        r->active = 1;
        r->status = UCS_INPROGRESS;
    }
}

void ssc__post_recv_w(ucp_worker_h worker, ssc_req *r, uint64_t tag,
                      uint64_t mask, void *buf, size_t len)
{
    /* Always get a request, and read the length with
     * ucp_tag_recv_request_test: UCX 1.13 completes a receive whose message
     * already waited (eager) at once and returns NULL, with or without
     * UCP_OP_ATTR_FIELD_RECV_INFO, but leaves the info's length at 0 (seen
     * with a 7-byte last chunk). The header and chunk checks need it. */
    ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL};
    void *q;

    r->is_recv = 1;
    r->length = 0;
    q = ucp_tag_recv_nbx(worker, buf, len, tag, mask, &p);
    if (q == NULL) {
        /* not expected; an unknown length must fail the length checks
         * rather than pass one by accident */
        r->req = NULL;
        r->active = 0;
        r->status = UCS_ERR_NO_MESSAGE;
    } else if (UCS_PTR_IS_ERR(q)) {
        r->req = NULL;
        r->active = 0;
        r->status = UCS_PTR_STATUS(q);
    } else {
        r->req = q;
        r->active = 1;
        r->status = UCS_INPROGRESS;
    }
}

int ssc__req_test(ssc_req *r)
{
    ucs_status_t st;

    if (!r->active)
        return 1;
    if (r->is_recv) {
        ucp_tag_recv_info_t info = {0};
        st = ucp_tag_recv_request_test(r->req, &info);
        if (st == UCS_INPROGRESS)
            return 0;
        r->length = info.length;
    } else {
        st = ucp_request_check_status(r->req);
        if (st == UCS_INPROGRESS)
            return 0;
    }
    r->status = st;
    ucp_request_free(r->req);
    r->req = NULL;
    r->active = 0;
    return 1;
}

void ssc__req_cancel(ssc_conn *c, ssc_req *r)
{
    /* only unmatched receives can be cancelled; sends end when the
     * endpoint is closed */
    if (r->active && r->is_recv)
        ucp_request_cancel(c->worker, r->req);
}

void ssc__req_release(ssc_req *r)
{
    /* UCX keeps an unfinished request alive internally until it completes;
     * every buffer such a request may still touch belongs to the caller of
     * a failed call or to the connection, which outlives its worker */
    if (r->active)
        ucp_request_free(r->req);
    r->req = NULL;
    r->active = 0;
}

void ssc__req_drop(ssc_conn *c, ssc_req *r)
{
    ssc__req_cancel(c, r);
    (void)ssc__req_test(r);
    ssc__req_release(r);
}

void ssc__waiter_init(ssc_waiter *w, ssc_conn *c, int32_t timeout_ms,
                      volatile int32_t *cancel)
{
    ssc__waiter_init_lane(w, c->worker, &c->ep_status, timeout_ms, cancel);
    w->c = c;
}

void ssc__waiter_init_lane(ssc_waiter *w, ucp_worker_h worker,
                           volatile int *ep_status, int32_t timeout_ms,
                           volatile int32_t *cancel)
{
    w->c = NULL;
    w->worker = worker;
    w->ep_status = ep_status;
    w->stall_ns = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000ll;
    w->deadline_ns = 0;
    w->last_done_ns = w->last_event_ns = ssc__now_ns();
    w->cancel = cancel;
}

void ssc__waiter_done(ssc_waiter *w)
{
    w->last_done_ns = ssc__now_ns();
}

int ssc__waiter_step(ssc_waiter *w)
{
    unsigned n = ucp_worker_progress(w->worker);
    int64_t now;

    if (w->ep_status && __atomic_load_n(w->ep_status, __ATOMIC_ACQUIRE) != UCS_OK)
        return SSC_ERR_PEER;
    if (ssc__cancelled(w->cancel))
        return SSC_ERR_CANCELLED;
    now = ssc__now_ns();
    if (n) {
        w->last_event_ns = now;
        return SSC_OK;
    }
    if (w->stall_ns >= 0 && now - w->last_done_ns > w->stall_ns)
        return SSC_ERR_TIMEOUT;
    if (w->deadline_ns && now > w->deadline_ns)
        return SSC_ERR_TIMEOUT;
    if (now - w->last_event_ns > IDLE_SPIN_NS)
        ssc__idle_sleep(now - w->last_event_ns);
    return SSC_OK;
}

int ssc__wait_all(ssc_waiter *w, ssc_req *reqs, size_t n)
{
    for (;;) {
        int all = 1;
        for (size_t i = 0; i < n; i++) {
            if (!reqs[i].active)
                continue;
            if (ssc__req_test(&reqs[i]))
                ssc__waiter_done(w);
            else
                all = 0;
        }
        if (all)
            return SSC_OK;
        int rc = ssc__waiter_step(w);
        if (rc)
            return rc;
    }
}

int ssc__send_notice(ssc_waiter *w, ssc_req *r, unsigned kind, uint64_t seq,
                     int32_t code)
{
    ssc_conn *c = w->c;
    int rc;

    /* the buffer lives in the connection: the request may outlive a failed
     * wait, the connection outlives its worker */
    c->notice_out.magic = SSC_MAGIC;
    c->notice_out.code = code;
    c->notice_out.seq = seq;
    ssc__post_send(c, r, ssc__tag(kind, seq, 0), &c->notice_out,
                   sizeof c->notice_out);
    rc = ssc__wait_all(w, r, 1);
    if (rc)
        return rc;
    return r->status == UCS_OK ? SSC_OK : ssc__req_error(c, r);
}

void ssc__ep_flush(ssc_conn *c, int64_t limit_ns)
{
    ucp_request_param_t p = {.op_attr_mask = 0};
    void *q;
    int64_t end;

    if (!c->ep)
        return;
    q = ucp_ep_flush_nbx(c->ep, &p);
    if (!UCS_PTR_IS_PTR(q))
        return;
    end = ssc__now_ns() + limit_ns;
    while (ucp_request_check_status(q) == UCS_INPROGRESS && ssc__now_ns() < end &&
           __atomic_load_n(&c->ep_status, __ATOMIC_ACQUIRE) == UCS_OK)
        ucp_worker_progress(c->worker);
    ucp_request_free(q);
}

int ssc__notice_valid(const ssc_req *r, const ssc_notice *n, uint64_t seq)
{
    return r->status == UCS_OK && ssc__notice_ok(n, r->length, seq);
}

int ssc__req_error(ssc_conn *c, const ssc_req *r)
{
    if (__atomic_load_n(&c->ep_status, __ATOMIC_ACQUIRE) != UCS_OK)
        return SSC_ERR_PEER;
    if (r->status == UCS_ERR_MESSAGE_TRUNCATED)
        return SSC_ERR_PROTOCOL;
    return ssc__from_ucs(r->status);
}

void ssc__abandon(ucp_worker_h worker, ucp_ep_h *ep, ssc_req *reqs, size_t n)
{
    void *close_req = NULL;
    int64_t end;

    for (size_t i = 0; i < n; i++)
        if (reqs[i].active && reqs[i].is_recv)
            ucp_request_cancel(worker, reqs[i].req);
    if (ep && *ep) {
        /* force: flushing could wait for a dead or stalled peer; dropping
         * the transport connection also tells a live peer at once */
        ucp_request_param_t p = {
            .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
            .flags = UCP_EP_CLOSE_FLAG_FORCE,
        };
        close_req = ucp_ep_close_nbx(*ep, &p);
        if (!UCS_PTR_IS_PTR(close_req))
            close_req = NULL;
        *ep = NULL;
    }
    /* give UCX the chance to complete every request (with an error) so no
     * transport still writes into a caller's buffer after we return */
    end = ssc__now_ns() + KILL_WAIT_NS;
    for (;;) {
        int busy = close_req && ucp_request_check_status(close_req) == UCS_INPROGRESS;
        for (size_t i = 0; i < n && !busy; i++)
            busy = !ssc__req_test(&reqs[i]);
        if (!busy || ssc__now_ns() > end)
            break;
        ucp_worker_progress(worker);
    }
    for (size_t i = 0; i < n; i++)
        ssc__req_release(&reqs[i]);
    if (close_req)
        ucp_request_free(close_req);
}

void ssc__conn_kill(ssc_conn *c, int err, ssc_req *reqs, size_t n)
{
    if (!c->dead)
        c->dead = err ? err : SSC_ERR_PEER;
    SSC_DEBUG("conn %p unusable: %s", (void *)c, ssc_strerror(c->dead));
    ssc__abandon(c->worker, &c->ep, reqs, n);
}
