/* context.c - the UCX context shared by all listeners and connections. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Change a UCX default unless the user set it in the environment. */
static void set_default(ucp_config_t *cfg, const char *name, const char *value,
                        const char *env1, const char *env2)
{
    ucs_status_t st;

    if ((env1 && getenv(env1)) || (env2 && getenv(env2)))
        return;
    st = ucp_config_modify(cfg, name, value);
    if (st != UCS_OK)
        SSC_DEBUG("cannot set UCX %s=%s: %s", name, value, ucs_status_string(st));
}

int ssc_context_create(ssc_context **out)
{
    ucp_config_t *cfg = NULL;
    ssc_context *ctx;
    ucs_status_t st;
    int rc;

    if (!out)
        return SSC_ERR_INVALID;

    ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return SSC_ERR_NOMEM;

    st = ucp_config_read(NULL, NULL, &cfg);
    if (st != UCS_OK) {
        rc = SSC_ERR_UCX;
        goto err_free;
    }

    /* UCX notices a dead peer at once when a socket closes, but a peer that
     * vanishes silently (host down, shared memory only) is only found by
     * keepalive, whose default interval (20 s) is longer than our stall
     * timeout. Respect the user's choice. */
    set_default(cfg, "KEEPALIVE_INTERVAL", "1s", "UCX_KEEPALIVE_INTERVAL", NULL);
    /* A restarted server must be able to listen on its port again while
     * connections of the previous run are in TIME_WAIT. Linux still refuses
     * a second listener on the same port, so "port in use" is detected. */
    set_default(cfg, "CM_REUSEADDR", "y", "UCX_CM_REUSEADDR",
                "UCX_TCP_CM_REUSEADDR");

    ucp_params_t params = {
        .field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_MT_WORKERS_SHARED,
        .features = UCP_FEATURE_TAG,
        /* one worker per connection, used from different threads: the
         * context's shared resources must be locked */
        .mt_workers_shared = 1,
    };
    st = ucp_init(&params, cfg, &ctx->ucp);
    if (st != UCS_OK) {
        SSC_DEBUG("ucp_init: %s", ucs_status_string(st));
        rc = st == UCS_ERR_NO_MEMORY ? SSC_ERR_NOMEM : SSC_ERR_UCX;
        goto err_config;
    }
    ucp_config_release(cfg);

    const char *mode = getenv("SSC_UCX_ERR_MODE");
    ctx->err_mode = (mode && strcmp(mode, "none") == 0) ? UCP_ERR_HANDLING_MODE_NONE
                                                        : UCP_ERR_HANDLING_MODE_PEER;
    ctx->lanes = ssc__lanes_default();
    ssc__workers_init(ctx);
    SSC_DEBUG("context %p created (UCX %s)", (void *)ctx, ucp_get_version_string());
    *out = ctx;
    return SSC_OK;

err_config:
    ucp_config_release(cfg);
err_free:
    free(ctx);
    return rc;
}

void ssc_context_destroy(ssc_context *ctx)
{
    if (!ctx)
        return;
    ssc__workers_end(ctx);
    ucp_cleanup(ctx->ucp);
    free(ctx);
}
