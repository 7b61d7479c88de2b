/* opts.c - resolve ssc_opts into concrete parameters (defaults, env). */
#include "internal.h"

#include <stdlib.h>

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_CHUNK (64ull << 20)
#define DEFAULT_WINDOW 4u
#define MAX_WINDOW 64u

/* SSC_CHUNK_BYTES: bytes with an optional K/M/G suffix (binary units).
 * Invalid or zero values are ignored. */
static uint64_t env_chunk(void)
{
    const char *e = getenv("SSC_CHUNK_BYTES");
    char *end = NULL;
    unsigned long long v;

    if (!e || !*e)
        return 0;
    v = strtoull(e, &end, 10);
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    return *end == '\0' ? v : 0;
}

void ssc__params_resolve(const ssc_opts *o, ssc_params *p)
{
    static const ssc_opts none = {0};
    uint64_t chunk;

    if (!o)
        o = &none;
    p->flags = o->flags;
    p->timeout_ms = o->timeout_ms == 0 ? DEFAULT_TIMEOUT_MS : o->timeout_ms;
    chunk = o->chunk_bytes;
    if (chunk == 0)
        chunk = env_chunk();
    p->chunk = chunk ? chunk : DEFAULT_CHUNK;
    p->window = o->window == 0 ? DEFAULT_WINDOW : o->window;
    /* the request table lives on the stack */
    if (p->window > MAX_WINDOW)
        p->window = MAX_WINDOW;
    p->progress = o->progress;
    p->cancel = o->cancel;
    p->writable = o->writable;
}

uint64_t ssc__chunk_for(uint64_t chunk, uint64_t size)
{
    /* the chunk index is the low 32 bits of the tag */
    uint64_t min = size / 0xffffffffull + 1;
    return chunk < min ? min : chunk;
}
