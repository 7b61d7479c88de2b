/* workers.c - the UCX workers of connections and lanes, optionally made ahead.
 * Making a worker costs ~8 ms where shared-memory transports are on (their
 * segments and FIFOs), on the path of every ssc_connect, ssc_accept and extra
 * lane. ssc_context_keep_workers() keeps a stock that a thread of the context
 * refills while the connections run. */
#include "internal.h"

#include <stdlib.h>

#define MAX_STOCK 4

static int make_worker(ssc_context *ctx, ucp_worker_h *out)
{
    /* a connection's or a lane's worker is used by one thread at a time,
     * possibly a different one per call: serialized */
    ucp_worker_params_t wp = {
        .field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
        .thread_mode = UCS_THREAD_MODE_SERIALIZED,
    };
    ucs_status_t st = ucp_worker_create(ctx->ucp, &wp, out);
    if (st != UCS_OK) {
        SSC_DEBUG("ucp_worker_create: %s", ucs_status_string(st));
        *out = NULL;
        return st == UCS_ERR_NO_MEMORY ? SSC_ERR_NOMEM : SSC_ERR_UCX;
    }
    return SSC_OK;
}

/* The stock keeper: makes workers while the stock is below `keep`. */
static void *keeper(void *arg)
{
    ssc_context *ctx = arg;
    pthread_mutex_lock(&ctx->wlock);
    for (;;) {
        while (!ctx->wstop && ctx->nstock >= ctx->keep)
            pthread_cond_wait(&ctx->wcond, &ctx->wlock);
        if (ctx->wstop)
            break;
        pthread_mutex_unlock(&ctx->wlock);
        ucp_worker_h w;
        int rc = make_worker(ctx, &w);
        pthread_mutex_lock(&ctx->wlock);
        if (rc) { /* UCX out of resources: connections make their own */
            ctx->keep = 0;
            continue;
        }
        if (!ctx->wstop && ctx->nstock < ctx->keep) {
            ctx->stock[ctx->nstock++] = w;
        } else {
            pthread_mutex_unlock(&ctx->wlock);
            ucp_worker_destroy(w);
            pthread_mutex_lock(&ctx->wlock);
        }
    }
    pthread_mutex_unlock(&ctx->wlock);
    return NULL;
}

int ssc__worker_new(ssc_context *ctx, ucp_worker_h *out)
{
    pthread_mutex_lock(&ctx->wlock);
    if (ctx->nstock) {
        *out = ctx->stock[--ctx->nstock];
        pthread_cond_signal(&ctx->wcond);
        pthread_mutex_unlock(&ctx->wlock);
        return SSC_OK;
    }
    pthread_mutex_unlock(&ctx->wlock);
    return make_worker(ctx, out);
}

int ssc_context_keep_workers(ssc_context *ctx, unsigned n)
{
    if (!ctx || n > MAX_STOCK)
        return SSC_ERR_INVALID;
    int rc = SSC_OK;
    pthread_mutex_lock(&ctx->wlock);
    ctx->keep = n;
    if (n && !ctx->keeper_on) {
        if (pthread_create(&ctx->keeper, NULL, keeper, ctx) == 0)
            ctx->keeper_on = 1;
        else
            rc = SSC_ERR_NOMEM;
    }
    pthread_cond_signal(&ctx->wcond);
    pthread_mutex_unlock(&ctx->wlock);
    return rc;
}

void ssc__workers_init(ssc_context *ctx)
{
    pthread_mutex_init(&ctx->wlock, NULL);
    pthread_cond_init(&ctx->wcond, NULL);
}

void ssc__workers_end(ssc_context *ctx)
{
    pthread_mutex_lock(&ctx->wlock);
    ctx->wstop = 1;
    pthread_cond_signal(&ctx->wcond);
    pthread_mutex_unlock(&ctx->wlock);
    if (ctx->keeper_on)
        pthread_join(ctx->keeper, NULL);
    while (ctx->nstock)
        ucp_worker_destroy(ctx->stock[--ctx->nstock]);
    pthread_cond_destroy(&ctx->wcond);
    pthread_mutex_destroy(&ctx->wlock);
}
