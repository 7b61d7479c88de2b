/* error.c - error texts, UCX status mapping, version, debug output. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ssc_strerror(int err)
{
    switch (err) {
    case SSC_OK: return "success";
    case SSC_ERR_INVALID: return "invalid argument or call out of order";
    case SSC_ERR_NOMEM: return "out of memory";
    case SSC_ERR_UCX: return "UCX initialisation or internal error";
    case SSC_ERR_TIMEOUT: return "timed out";
    case SSC_ERR_PEER: return "peer closed, died or became unreachable";
    case SSC_ERR_REFUSED: return "connection refused (nobody listening)";
    case SSC_ERR_ADDRESS: return "bad address (cannot resolve, bind, or port in use)";
    case SSC_ERR_SIZE: return "payload size differs from the expected size";
    case SSC_ERR_HEADER: return "header message is not exactly SSC_HEADER_SIZE bytes";
    case SSC_ERR_PROTOCOL: return "protocol error (bad magic, version or message order)";
    case SSC_ERR_CHECKSUM: return "payload checksum mismatch";
    case SSC_ERR_CANCELLED: return "cancelled";
    case SSC_ERR_REJECTED: return "receiver rejected the transfer";
    default: return "unknown error";
    }
}

const char *ssc_version(void)
{
    return "1.1.0";
}

int ssc__from_ucs(ucs_status_t st)
{
    if (st == UCS_OK)
        return SSC_OK;
    /* every link/endpoint failure class means the other side is gone */
    if (UCS_IS_LINK_ERROR(st) || UCS_IS_ENDPOINT_ERROR(st))
        return SSC_ERR_PEER;
    switch (st) {
    case UCS_ERR_NO_MEMORY:
        return SSC_ERR_NOMEM;
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_NOT_CONNECTED:
    case UCS_ERR_IO_ERROR:
    case UCS_ERR_ENDPOINT_TIMEOUT:
    case UCS_ERR_CANCELED: /* requests are cancelled only when the ep died */
        return SSC_ERR_PEER;
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_REJECTED:
        return SSC_ERR_REFUSED;
    case UCS_ERR_TIMED_OUT:
        return SSC_ERR_TIMEOUT;
    case UCS_ERR_INVALID_ADDR:
    case UCS_ERR_BUSY:
        return SSC_ERR_ADDRESS;
    case UCS_ERR_MESSAGE_TRUNCATED:
        return SSC_ERR_PROTOCOL;
    default:
        return SSC_ERR_UCX;
    }
}

/* Decided once: getenv is not guaranteed thread-safe against setenv, and
 * the answer must not change mid-run anyway. */
static int debug_state = -1;

int ssc__debug_enabled(void)
{
    int s = __atomic_load_n(&debug_state, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *e = getenv("SSC_DEBUG");
        s = (e && strcmp(e, "1") == 0) ? 1 : 0;
        __atomic_store_n(&debug_state, s, __ATOMIC_RELAXED);
    }
    return s;
}

void ssc__debug(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* one fprintf per line so that lines of different threads don't mix */
    fprintf(stderr, "[sscrdma] %s\n", line);
}
