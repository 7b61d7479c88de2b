/* conn.c - connection objects: connect, server-side accept of one request,
 * the hello/welcome handshake, close. */
#define _GNU_SOURCE
#include "internal.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* the server's half of the handshake has its own bound, independent of how
 * long ssc_accept waited for the request */
#define HANDSHAKE_MS 10000
#define DEFAULT_CONNECT_MS 10000
#define CLOSE_FLUSH_NS 250000000ll
#define CLOSE_GRACE_NS 20000000ll

void ssc__ep_error_cb(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    ssc_conn *c = arg;
    (void)ep;
    SSC_DEBUG("conn %p: endpoint error %s", (void *)c, ucs_status_string(status));
    /* waits poll this; keep the first reason */
    int expected = UCS_OK;
    __atomic_compare_exchange_n(&c->ep_status, &expected, (int)status, 0,
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

int ssc__conn_new(ssc_context *ctx, ssc_conn **out)
{
    ssc_conn *c;
    int rc;

    c = calloc(1, sizeof *c);
    if (!c)
        return SSC_ERR_NOMEM;
    c->ctx = ctx;
    c->ep_status = UCS_OK;

    c->hdr_stage = malloc(SSC_HEADER_SIZE);
    if (!c->hdr_stage) {
        rc = SSC_ERR_NOMEM;
        goto err_free;
    }

    /* one worker per connection: connections progress independently and
     * may be driven by different threads */
    if ((rc = ssc__worker_new(ctx, &c->worker)))
        goto err_stage;
    *out = c;
    return SSC_OK;

err_stage:
    free(c->hdr_stage);
err_free:
    free(c);
    return rc;
}

void ssc__conn_free(ssc_conn *c)
{
    ssc__lanes_close(c);
    ucp_worker_destroy(c->worker);
    free(c->hdr_stage);
    free(c);
}

int ssc__conn_check(ssc_conn *c)
{
    if (c->dead || !c->ep)
        return SSC_ERR_PEER;
    if (__atomic_load_n(&c->ep_status, __ATOMIC_ACQUIRE) != UCS_OK) {
        /* the peer went away between transfers */
        ssc__conn_kill(c, SSC_ERR_PEER, NULL, 0);
        return SSC_ERR_PEER;
    }
    return SSC_OK;
}

static void ep_params_common(ssc_conn *c, ucp_ep_params_t *ep)
{
    ep->field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                      UCP_EP_PARAM_FIELD_ERR_HANDLER;
    /* PEER mode (default): a dead peer fails our requests instead of
     * hanging them; see ssc_context.err_mode for the opt-out */
    ep->err_mode = c->ctx->err_mode;
    ep->err_handler.cb = ssc__ep_error_cb;
    ep->err_handler.arg = c;
}

/* Why the handshake of a client failed, from the endpoint's first error. */
static int connect_error(ssc_conn *c, int rc)
{
    ucs_status_t st = (ucs_status_t)__atomic_load_n(&c->ep_status, __ATOMIC_ACQUIRE);

    if (rc != SSC_ERR_PEER || st == UCS_OK)
        return rc;
    /* before the server answered, an unreachable/rejected/reset endpoint
     * means nobody (or no SSC listener) accepted us */
    switch (st) {
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_REJECTED:
    case UCS_ERR_NOT_CONNECTED:
    case UCS_ERR_CONNECTION_RESET:
        return SSC_ERR_REFUSED;
    case UCS_ERR_ENDPOINT_TIMEOUT:
    case UCS_ERR_TIMED_OUT:
        return SSC_ERR_TIMEOUT;
    default:
        return ssc__from_ucs(st) == SSC_ERR_UCX ? SSC_ERR_UCX : SSC_ERR_REFUSED;
    }
}

int ssc_connect(ssc_context *ctx, const char *host, uint16_t port,
                int32_t timeout_ms, ssc_conn **out)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char portstr[8];
    ssc_conn *c = NULL;
    ssc_waiter w;
    ssc_req r[2] = {{0}};
    ucs_status_t st;
    int rc, gai;

    if (!ctx || !host || !port || !out)
        return SSC_ERR_INVALID;

    /* IPv4 only: over IPv6, UCX 1.13 makes the server's transport connect
     * back to the client's IPv6 address while the client's tcp transport
     * listens on IPv4 only; the failed server-side endpoint creation then
     * corrupts the heap inside UCX (seen with ::1: "free(): invalid
     * pointer"). Refusing IPv6 here keeps that path unreachable. */
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0) {
        SSC_DEBUG("getaddrinfo(%s): %s", host, gai_strerror(gai));
        return gai == EAI_MEMORY ? SSC_ERR_NOMEM : SSC_ERR_ADDRESS;
    }

    rc = ssc__conn_new(ctx, &c);
    if (rc)
        goto err_addr;

    ucp_ep_params_t ep = {
        .field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR,
        .flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER,
        .sockaddr = {.addr = ai->ai_addr, .addrlen = ai->ai_addrlen},
    };
    ep_params_common(c, &ep);
    st = ucp_ep_create(c->worker, &ep, &c->ep);
    if (st != UCS_OK) {
        SSC_DEBUG("ucp_ep_create(%s:%u): %s", host, port, ucs_status_string(st));
        rc = st == UCS_ERR_INVALID_ADDR ? SSC_ERR_ADDRESS : ssc__from_ucs(st);
        goto err_conn;
    }

    /* The handshake: UCX wires up transports and picks its protocols on
     * the first messages; doing that here instead of inside the first
     * transfer keeps the first payload at full speed (measured ~1 GB/s
     * for the first GiB without it). It also proves the peer speaks SSC. */
    ssc__waiter_init(&w, c, -1, NULL);
    if (timeout_ms == 0)
        timeout_ms = DEFAULT_CONNECT_MS;
    if (timeout_ms > 0)
        w.deadline_ns = ssc__now_ns() + (int64_t)timeout_ms * 1000000ll;
    c->hello_out = (ssc_hello){.magic = SSC_MAGIC, .version = SSC_PROTO_VERSION};
    ssc__post_recv(c, &r[0], ssc__tag(SSC_K_WELCOME, 0, 0), SSC_TAG_FULL_MASK,
                   &c->hello_in, sizeof c->hello_in);
    ssc__post_send(c, &r[1], ssc__tag(SSC_K_HELLO, 0, 0), &c->hello_out,
                   sizeof c->hello_out);
    rc = ssc__wait_all(&w, r, 2);
    if (rc)
        goto err_kill;
    if (r[0].status != UCS_OK || r[1].status != UCS_OK) {
        rc = ssc__req_error(c, r[0].status != UCS_OK ? &r[0] : &r[1]);
        goto err_kill;
    }
    if (!ssc__hello_valid(&c->hello_in, r[0].length) || c->hello_in.code != 0) {
        rc = SSC_ERR_PROTOCOL;
        goto err_kill;
    }

    freeaddrinfo(ai);
    SSC_DEBUG("conn %p connected to %s:%u", (void *)c, host, port);
    *out = c;
    return SSC_OK;

err_kill:
    rc = connect_error(c, rc);
    ssc__conn_kill(c, rc, r, 2);
err_conn:
    ssc_conn_close(c);
err_addr:
    freeaddrinfo(ai);
    return rc;
}

int ssc__conn_from_request(ssc_listener *l, ucp_conn_request_h req,
                           ssc_conn **out)
{
    ssc_conn *c = NULL;
    ssc_waiter w;
    ssc_req r[2] = {{0}};
    ucs_status_t st;
    int rc;

    rc = ssc__conn_new(l->ctx, &c);
    if (rc) {
        /* we own the request: nobody else will answer it */
        ucp_listener_reject(l->ucp_listener, req);
        return rc;
    }

    ucp_ep_params_t ep = {
        .field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST,
        .conn_request = req,
    };
    ep_params_common(c, &ep);
    /* the endpoint goes on the connection's own worker, not the
     * listener's, so that the connection progresses independently */
    st = ucp_ep_create(c->worker, &ep, &c->ep);
    if (st != UCS_OK) {
        /* UCX has consumed (rejected) the request itself */
        SSC_DEBUG("ucp_ep_create(conn_request): %s", ucs_status_string(st));
        rc = ssc__from_ucs(st) == SSC_ERR_NOMEM ? SSC_ERR_NOMEM : SSC_ERR_PEER;
        c->ep = NULL;
        goto err_conn;
    }

    ssc__waiter_init(&w, c, -1, NULL);
    w.deadline_ns = ssc__now_ns() + (int64_t)HANDSHAKE_MS * 1000000ll;
    ssc__post_recv(c, &r[0], ssc__tag(SSC_K_HELLO, 0, 0), SSC_TAG_FULL_MASK,
                   &c->hello_in, sizeof c->hello_in);
    rc = ssc__wait_all(&w, r, 1);
    if (rc)
        goto err_kill;
    if (r[0].status != UCS_OK) {
        rc = r[0].status == UCS_ERR_MESSAGE_TRUNCATED ? SSC_ERR_PROTOCOL
                                                      : ssc__req_error(c, &r[0]);
        goto err_kill;
    }
    int ok = ssc__hello_valid(&c->hello_in, r[0].length);
    /* answer even a bad hello, so a client of another version learns why */
    c->hello_out = (ssc_hello){.magic = SSC_MAGIC,
                               .version = SSC_PROTO_VERSION,
                               .code = ok ? 0 : SSC_ERR_PROTOCOL};
    ssc__post_send(c, &r[1], ssc__tag(SSC_K_WELCOME, 0, 0), &c->hello_out,
                   sizeof c->hello_out);
    rc = ssc__wait_all(&w, &r[1], 1);
    if (!rc && r[1].status != UCS_OK)
        rc = ssc__req_error(c, &r[1]);
    if (!rc && !ok)
        rc = SSC_ERR_PROTOCOL;
    if (rc)
        goto err_kill;

    SSC_DEBUG("conn %p accepted", (void *)c);
    *out = c;
    return SSC_OK;

err_kill:
    ssc__conn_kill(c, rc, r, 2);
err_conn:
    ssc_conn_close(c);
    return rc;
}

void ssc_conn_close(ssc_conn *c)
{
    if (!c)
        return;
    if (c->ep) {
        int failed = c->dead ||
                     __atomic_load_n(&c->ep_status, __ATOMIC_ACQUIRE) != UCS_OK;
        /* If our last word was a final notice nobody acknowledged (the
         * receiver's verdict or refusal), make sure it left: flush. A flush
         * completes only while the peer progresses its side, which it does
         * when it is still waiting for that notice; so it is quick when it
         * matters and bounded when the peer is idle. Everything else we
         * sent was acknowledged by the protocol already. */
        if (!failed && c->unacked)
            ssc__ep_flush(c, CLOSE_FLUSH_NS);
        /* A graceful close waits for the peer to confirm the disconnect,
         * i.e. for the peer to be inside a call as well; the disconnect is
         * on its way after a short grace, so do not wait for that. */
        ucp_request_param_t p = {
            .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
            .flags = failed ? UCP_EP_CLOSE_FLAG_FORCE : 0,
        };
        void *q = ucp_ep_close_nbx(c->ep, &p);
        if (UCS_PTR_IS_PTR(q)) {
            int64_t end = ssc__now_ns() + CLOSE_GRACE_NS;
            while (ucp_request_check_status(q) == UCS_INPROGRESS &&
                   ssc__now_ns() < end)
                ucp_worker_progress(c->worker);
            ucp_request_free(q);
        }
        c->ep = NULL;
    }
    ssc__conn_free(c);
}
