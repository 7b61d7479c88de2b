/* listener.c - listen on a socket address, hand out accepted connections. */
#define _GNU_SOURCE
#include "internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Runs inside ucp_worker_progress of the listener's worker, i.e. in the
 * thread calling ssc_accept; the queue needs no lock. */
static void on_conn_request(ucp_conn_request_h req, void *arg)
{
    ssc_listener *l = arg;

    if (l->queue_len == SSC_ACCEPT_QUEUE) {
        SSC_DEBUG("listener %p: queue full, rejecting", (void *)l);
        ucp_listener_reject(l->ucp_listener, req);
        return;
    }
    l->queue[l->queue_len++] = req;
}

static int resolve_bind(const char *bind_addr, uint16_t port,
                        struct sockaddr_storage *ss, socklen_t *len)
{
    struct addrinfo hints = {0}, *ai = NULL;
    char portstr[8];
    int gai;

    if (!bind_addr || strcmp(bind_addr, "0.0.0.0") == 0) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        memset(ss, 0, sizeof *ss);
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons(port);
        *len = sizeof *sin;
        return SSC_OK;
    }
    /* IPv4 only, see ssc_connect */
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    gai = getaddrinfo(bind_addr, portstr, &hints, &ai);
    if (gai != 0) {
        SSC_DEBUG("getaddrinfo(%s): %s", bind_addr, gai_strerror(gai));
        return gai == EAI_MEMORY ? SSC_ERR_NOMEM : SSC_ERR_ADDRESS;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return SSC_OK;
}

static int query_port(ucp_listener_h ul)
{
    ucp_listener_attr_t attr = {.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR};

    if (ucp_listener_query(ul, &attr) != UCS_OK)
        return SSC_ERR_UCX;
    if (attr.sockaddr.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&attr.sockaddr)->sin_port);
    if (attr.sockaddr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&attr.sockaddr)->sin6_port);
    return SSC_ERR_UCX;
}

int ssc_listen(ssc_context *ctx, const char *bind_addr, uint16_t port,
               ssc_listener **out)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    ssc_listener *l;
    ucs_status_t st;
    int rc;

    if (!ctx || !out)
        return SSC_ERR_INVALID;
    rc = resolve_bind(bind_addr, port, &ss, &sslen);
    if (rc)
        return rc;

    l = calloc(1, sizeof *l);
    if (!l)
        return SSC_ERR_NOMEM;
    l->ctx = ctx;

    /* the listener's own worker only receives connection requests; every
     * accepted connection gets a fresh worker */
    ucp_worker_params_t wp = {
        .field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
        .thread_mode = UCS_THREAD_MODE_SERIALIZED,
    };
    st = ucp_worker_create(ctx->ucp, &wp, &l->worker);
    if (st != UCS_OK) {
        rc = st == UCS_ERR_NO_MEMORY ? SSC_ERR_NOMEM : SSC_ERR_UCX;
        goto err_free;
    }

    ucp_listener_params_t lp = {
        .field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR |
                      UCP_LISTENER_PARAM_FIELD_CONN_HANDLER,
        .sockaddr = {.addr = (struct sockaddr *)&ss, .addrlen = sslen},
        .conn_handler = {.cb = on_conn_request, .arg = l},
    };
    st = ucp_listener_create(l->worker, &lp, &l->ucp_listener);
    if (st != UCS_OK) {
        SSC_DEBUG("ucp_listener_create: %s", ucs_status_string(st));
        /* bind failures (in use, not a local address) are all "address" */
        rc = st == UCS_ERR_NO_MEMORY ? SSC_ERR_NOMEM : SSC_ERR_ADDRESS;
        goto err_worker;
    }

    rc = query_port(l->ucp_listener);
    if (rc < 0)
        goto err_listener;
    l->port = rc;
    SSC_DEBUG("listener %p on port %d", (void *)l, l->port);
    *out = l;
    return SSC_OK;

err_listener:
    ucp_listener_destroy(l->ucp_listener);
err_worker:
    ucp_worker_destroy(l->worker);
err_free:
    free(l);
    return rc;
}

int ssc_listener_port(const ssc_listener *l)
{
    return l ? l->port : SSC_ERR_INVALID;
}

int ssc_accept(ssc_listener *l, int32_t timeout_ms, ssc_conn **out)
{
    int64_t start, deadline;
    ucp_conn_request_h req;

    if (!l || !out)
        return SSC_ERR_INVALID;

    start = ssc__now_ns();
    deadline = timeout_ms < 0 ? 0 : start + (int64_t)timeout_ms * 1000000ll;
    for (;;) {
        unsigned n = ucp_worker_progress(l->worker);
        if (l->queue_len)
            break;
        int64_t now = ssc__now_ns();
        if (deadline && now >= deadline)
            return SSC_ERR_TIMEOUT;
        /* connection requests are rare: an idle accept loop sleeps */
        if (!n)
            ssc__idle_sleep(now - start);
    }
    req = l->queue[0];
    l->queue_len--;
    memmove(&l->queue[0], &l->queue[1], l->queue_len * sizeof l->queue[0]);
    return ssc__conn_from_request(l, req, out);
}

void ssc_listener_close(ssc_listener *l)
{
    if (!l)
        return;
    for (unsigned i = 0; i < l->queue_len; i++)
        ucp_listener_reject(l->ucp_listener, l->queue[i]);
    ucp_listener_destroy(l->ucp_listener);
    ucp_worker_destroy(l->worker);
    free(l);
}
