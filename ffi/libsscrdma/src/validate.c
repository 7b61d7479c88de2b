/* validate.c - checks of what a peer sent (hello, preamble, notices) and the
 * chunk geometry a preamble implies. Pure functions of the received bytes: no
 * UCX calls, no state, so fuzz/ runs them on their own under libFuzzer. */
#include "internal.h"

#include <string.h>

int ssc__hello_valid(const ssc_hello *h, size_t len)
{
    return len == sizeof *h && h->magic == SSC_MAGIC &&
           h->version == SSC_PROTO_VERSION;
}

int ssc__preamble_valid(const ssc_preamble *p, size_t len, uint64_t seq)
{
    if (len != sizeof *p || p->magic != SSC_MAGIC ||
        p->version != SSC_PROTO_VERSION || p->seq != seq)
        return 0;
    if (p->flags & ~(SSC_F_CHECKSUM | SSC_F_LANES))
        return 0;
    /* lanes asked for: 2 .. SSC_MAX_LANES in all */
    if ((p->flags & SSC_F_LANES) ? (p->reserved < 2 || p->reserved > SSC_MAX_LANES) : p->reserved != 0)
        return 0;
    /* the chunk count must fit the tag's index field */
    if (p->size && (p->chunk == 0 || (p->size - 1) / p->chunk >= 0xffffffffull))
        return 0;
    return 1;
}

int ssc__notice_ok(const ssc_notice *n, size_t len, uint64_t seq)
{
    return len == sizeof *n && n->magic == SSC_MAGIC && n->seq == seq &&
           n->code <= 0;
}

uint64_t ssc__chunk_count(uint64_t size, uint64_t chunk)
{
    return size ? (size - 1) / chunk + 1 : 0;
}

uint64_t ssc__chunk_len(uint64_t size, uint64_t chunk, uint64_t index)
{
    uint64_t off = index * chunk;
    return size - off < chunk ? size - off : chunk;
}

uint64_t ssc__crc_slice(uint64_t size, uint64_t chunk, uint64_t off,
                        uint64_t slice)
{
    /* without computing the chunk's end offset: (index + 1) * chunk wraps
     * around for a payload size near 2^64 (found by fuzz_messages) */
    uint64_t start = off / chunk * chunk;
    uint64_t in_chunk = size - start < chunk ? size - start : chunk;
    uint64_t n = in_chunk - (off - start);
    return n < slice ? n : slice;
}

int ssc__lanes_msg_count(const ssc_lanes_msg *m, size_t len, uint64_t seq)
{
    size_t off = 0;

    if (len < 16 || len > sizeof *m || m->magic != SSC_MAGIC || m->seq != seq ||
        m->count >= SSC_MAX_LANES)
        return -1;
    for (uint32_t i = 0; i < m->count; i++) {
        uint32_t alen;
        if (16 + off + 4 > len)
            return -1;
        memcpy(&alen, m->addr + off, 4);
        if (alen == 0 || alen > len - 16 - off - 4)
            return -1;
        off += 4 + alen;
    }
    return (int)m->count;
}
