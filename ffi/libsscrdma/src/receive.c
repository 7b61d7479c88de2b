/* receive.c - the receiver's side: preamble + header (split receive), then
 * go/reject, payload chunks straight into the caller's buffer, verdict. */
#include "internal.h"

#include <string.h>

enum { R_ABORT, R_NOTICE, R_FIXED };
#define MAX_REQS (R_FIXED + 64)

volatile int64_t ssc__test_corrupt_at = -1;

int ssc_receive(ssc_conn *c, void *header, void *data, uint64_t size)
{
    return ssc_receive_ex(c, header, data, size, NULL);
}

int ssc_receive_ex(ssc_conn *c, void *header, void *data, uint64_t size,
                   const ssc_opts *o)
{
    uint64_t announced;
    int rc;

    if (!c || !header || (!data && size))
        return SSC_ERR_INVALID;
    if (c->pending)
        return SSC_ERR_INVALID;
    rc = ssc_receive_header(c, header, &announced, o);
    if (rc)
        return rc;
    /* ssc_receive_payload compares the sizes and rejects on mismatch */
    return ssc_receive_payload(c, data, size, o);
}

/* Best-effort notice to the sender before giving up on the connection. */
static void tell_and_kill(ssc_conn *c, unsigned kind, uint64_t seq, int code,
                          ssc_req *r, size_t n)
{
    ssc_req nr = {0};
    ssc_waiter nw;

    if (c->ep && __atomic_load_n(&c->ep_status, __ATOMIC_ACQUIRE) == UCS_OK) {
        ssc__waiter_init(&nw, c, 200, NULL);
        if (ssc__send_notice(&nw, &nr, kind, seq, code) == SSC_OK)
            ssc__ep_flush(c, 200000000ll);
    }
    ssc__req_release(&nr);
    ssc__conn_kill(c, code, r, n);
}

int ssc_receive_header(ssc_conn *c, void *header, uint64_t *size_out,
                       const ssc_opts *o)
{
    ssc_params p;
    ssc_waiter w;
    ssc_req r = {0}, n = {0};
    uint64_t seq;
    int rc;

    if (!c || !header)
        return SSC_ERR_INVALID;
    rc = ssc__conn_check(c);
    if (rc)
        return rc;
    if (c->pending)
        return SSC_ERR_INVALID;
    ssc__params_resolve(o, &p);
    ssc__waiter_init(&w, c, p.timeout_ms, p.cancel);
    seq = c->rx_seq;

    /* any sequence number matches, so that a wrong one is detected and
     * reported instead of waiting for a message that never comes */
    ssc__post_recv(c, &r, ssc__tag(SSC_K_PREAMBLE, 0, 0), SSC_TAG_KIND_MASK,
                   &c->pre_in, sizeof c->pre_in);
    rc = ssc__wait_all(&w, &r, 1);
    if (rc == SSC_ERR_TIMEOUT) {
        /* nobody started a transfer: nothing consumed, the connection
         * stays usable - unless the preamble slipped in meanwhile */
        ssc__req_cancel(c, &r);
        (void)ssc__req_test(&r);
        if (r.active || r.status != UCS_OK) {
            ssc__req_release(&r);
            return SSC_ERR_TIMEOUT;
        }
        rc = SSC_OK;
    }
    if (rc) {
        ssc__conn_kill(c, rc, &r, 1);
        return rc;
    }
    if (r.status != UCS_OK) {
        rc = ssc__req_error(c, &r);
        ssc__conn_kill(c, rc, NULL, 0);
        return rc;
    }
    /* a new transfer implies the sender saw our last verdict */
    c->unacked = 0;
    if (!ssc__preamble_valid(&c->pre_in, r.length, c->rx_seq)) {
        SSC_DEBUG("conn %p: bad preamble (magic %08x version %u seq %llu, want %llu)",
                  (void *)c, c->pre_in.magic, c->pre_in.version,
                  (unsigned long long)c->pre_in.seq, (unsigned long long)seq);
        tell_and_kill(c, SSC_K_ANSWER, c->pre_in.seq, SSC_ERR_PROTOCOL, NULL, 0);
        return SSC_ERR_PROTOCOL;
    }

    /* into the staging buffer: the caller's header is written only if the
     * message is exactly SSC_HEADER_SIZE (a longer one is truncated by
     * UCX, a shorter one shows in the received length) */
    ssc__post_recv(c, &r, ssc__tag(SSC_K_HEADER, seq, 0), SSC_TAG_FULL_MASK,
                   c->hdr_stage, SSC_HEADER_SIZE);
    rc = ssc__wait_all(&w, &r, 1);
    if (rc) {
        ssc__conn_kill(c, rc, &r, 1);
        return rc;
    }
    if (r.status == UCS_ERR_MESSAGE_TRUNCATED ||
        (r.status == UCS_OK && r.length != SSC_HEADER_SIZE)) {
        SSC_DEBUG("conn %p: header of %zu bytes", (void *)c, r.length);
        /* both sides are still in step: refuse this transfer, keep going */
        rc = ssc__send_notice(&w, &n, SSC_K_ANSWER, seq, SSC_ERR_HEADER);
        if (rc) {
            ssc__conn_kill(c, rc, &n, 1);
            return rc;
        }
        c->rx_seq++;
        c->unacked = 1;
        return SSC_ERR_HEADER;
    }
    if (r.status != UCS_OK) {
        rc = ssc__req_error(c, &r);
        ssc__conn_kill(c, rc, NULL, 0);
        return rc;
    }

    memcpy(header, c->hdr_stage, SSC_HEADER_SIZE);
    if (size_out)
        *size_out = c->pre_in.size;
    c->pre = c->pre_in;
    c->pending = 1;
    return SSC_OK;
}

/* Answer the pending transfer without taking its payload. */
static int refuse(ssc_conn *c, const ssc_params *p, int reason)
{
    ssc_waiter w;
    ssc_req n = {0};
    uint64_t seq = c->pre.seq;
    int rc;

    ssc__waiter_init(&w, c, p->timeout_ms, NULL);
    c->pending = 0;
    rc = ssc__send_notice(&w, &n, SSC_K_ANSWER, seq, reason);
    if (rc) {
        ssc__conn_kill(c, rc, &n, 1);
        return rc;
    }
    c->rx_seq++;
    c->unacked = 1;
    return SSC_OK;
}

int ssc_reject(ssc_conn *c, int reason)
{
    ssc_params p;
    int rc;

    if (!c || reason >= 0)
        return SSC_ERR_INVALID;
    rc = ssc__conn_check(c);
    if (rc)
        return rc;
    if (!c->pending)
        return SSC_ERR_INVALID;
    ssc__params_resolve(NULL, &p);
    return refuse(c, &p, reason);
}

/* CRC32C is computed while chunks arrive, over the contiguous prefix that
 * has arrived, in slices so that UCX keeps being progressed in between.
 * With the final verdict only a slice away, the sender (waiting for it
 * under its stall timeout) is not kept waiting by a checksum of the whole
 * payload; with RDMA the checksum also overlaps the transfer. */
#define CRC_SLICE (4ull << 20)
/* completed-chunk flags, by index modulo the ring; posting stays within one
 * ring ahead of the checksum so that flags are never aliased */
#define CRC_RING 256u

typedef struct crc_state {
    int on;
    uint32_t crc;
    uint64_t off;              /* bytes checksummed so far */
    uint8_t done[CRC_RING];    /* chunk arrived, not yet fully checksummed */
} crc_state;

/* Checksum one slice if the data there has arrived. Returns 1 if it did. */
static int crc_step(crc_state *cs, const uint8_t *data, uint64_t size,
                    uint64_t chunk)
{
    uint64_t ci = cs->off / chunk;
    if (!cs->on || cs->off >= size || !cs->done[ci % CRC_RING])
        return 0;
    uint64_t n = ssc__crc_slice(size, chunk, cs->off, CRC_SLICE);
    cs->crc = ssc_crc32c(cs->crc, data + cs->off, n);
    cs->off += n;
    if (cs->off == size || cs->off % chunk == 0) /* the chunk is done */
        cs->done[ci % CRC_RING] = 0;
    return 1;
}

static int receive_chunks(ssc_conn *c, ssc_waiter *w, const ssc_params *p,
                          uint8_t *data, uint64_t size, ssc_req *r,
                          crc_state *cs)
{
    ssc_req *win = r + R_FIXED;
    uint64_t chunk = c->pre.chunk, seq = c->pre.seq;
    uint64_t nchunks = ssc__chunk_count(size, chunk);
    uint64_t next = 0;
    unsigned inflight = 0;
    /* Progress is the contiguous prefix that has landed (chunks may complete out of
     * order inside the window), so a consumer may read data[0, progress) while the rest
     * arrives: the renderer uploads a volume during its own transfer. */
    uint64_t prefix = 0;             /* chunks [0, prefix) have all landed */
    uint8_t landed[CRC_RING] = {0};  /* chunk arrived, by index modulo the ring */

    for (;;) {
        /* a slot is busy while it has a chunk length (a receive may also
         * complete inside the post call) */
        for (unsigned i = 0; i < p->window && next < nchunks; i++) {
            if (win[i].bytes)
                continue;
            if (cs->on && next >= cs->off / chunk + CRC_RING)
                break;
            if (next >= prefix + CRC_RING)
                break;
            uint64_t off = next * chunk;
            uint64_t len = ssc__chunk_len(size, chunk, next);
            /* zero copies: straight into the caller's buffer */
            ssc__post_recv(c, &win[i], ssc__tag(SSC_K_CHUNK, seq, (uint32_t)next),
                           SSC_TAG_FULL_MASK, data + off, len);
            win[i].bytes = len;
            win[i].index = next;
            next++;
            inflight++;
        }
        for (unsigned i = 0; i < p->window; i++) {
            if (!win[i].bytes || !ssc__req_test(&win[i]))
                continue;
            inflight--;
            if (win[i].status != UCS_OK)
                return win[i].status == UCS_ERR_MESSAGE_TRUNCATED
                           ? SSC_ERR_PROTOCOL
                           : ssc__req_error(c, &win[i]);
            if (win[i].length != win[i].bytes) {
                SSC_DEBUG("conn %p: chunk of %zu bytes, expected %llu", (void *)c,
                          win[i].length, (unsigned long long)win[i].bytes);
                return SSC_ERR_PROTOCOL;
            }
            uint64_t off = win[i].index * chunk;
            int64_t at = ssc__test_corrupt_at;
            if (at >= 0 && (uint64_t)at >= off && (uint64_t)at < off + win[i].bytes)
                data[at] ^= 0x01; /* test hook: damage before the checksum */
            cs->done[win[i].index % CRC_RING] = 1;
            landed[win[i].index % CRC_RING] = 1;
            win[i].bytes = 0;
            while (prefix < nchunks && landed[prefix % CRC_RING]) {
                landed[prefix % CRC_RING] = 0;
                prefix++;
            }
            /* prefix < nchunks: prefix * chunk < size; no product that could wrap */
            ssc__progress_store(p->progress, prefix < nchunks ? prefix * chunk : size);
            ssc__waiter_done(w);
        }
        if (!r[R_ABORT].active || ssc__req_test(&r[R_ABORT])) {
            /* the sender gave up (cancel, timeout) and told us why */
            if (ssc__notice_valid(&r[R_ABORT], &c->abort_in, seq) &&
                c->abort_in.code < 0)
                return c->abort_in.code;
            return r[R_ABORT].status != UCS_OK ? ssc__req_error(c, &r[R_ABORT])
                                               : SSC_ERR_PROTOCOL;
        }
        if (crc_step(cs, data, size, chunk)) {
            /* local work is neither a stall nor idleness */
            ssc__waiter_done(w);
            w->last_event_ns = w->last_done_ns;
        }
        if (next == nchunks && inflight == 0 && (!cs->on || cs->off == size))
            return SSC_OK;
        int rc = ssc__waiter_step(w);
        if (rc)
            return rc;
    }
}

int ssc_receive_payload(ssc_conn *c, void *data, uint64_t size,
                        const ssc_opts *o)
{
    ssc_req r[MAX_REQS];
    ssc_params p;
    ssc_waiter w;
    uint64_t seq;
    int rc, verdict = SSC_OK;

    if (!c)
        return SSC_ERR_INVALID;
    rc = ssc__conn_check(c);
    if (rc)
        return rc;
    if (!c->pending || (!data && size))
        return SSC_ERR_INVALID;
    ssc__params_resolve(o, &p);

    if (size != c->pre.size) {
        /* the sender is told before it sends a single payload byte */
        SSC_DEBUG("conn %p: size %llu announced, %llu expected", (void *)c,
                  (unsigned long long)c->pre.size, (unsigned long long)size);
        rc = refuse(c, &p, SSC_ERR_SIZE);
        return rc ? rc : SSC_ERR_SIZE;
    }

    memset(r, 0, sizeof r);
    seq = c->pre.seq;
    c->pending = 0;
    ssc__progress_store(p.progress, 0);
    ssc__waiter_init(&w, c, p.timeout_ms, p.cancel);
    ssc__post_recv(c, &r[R_ABORT], ssc__tag(SSC_K_ABORT, seq, 0),
                   SSC_TAG_FULL_MASK, &c->abort_in, sizeof c->abort_in);
    rc = ssc__send_notice(&w, &r[R_NOTICE], SSC_K_ANSWER, seq, SSC_OK);
    if (rc)
        goto fail;

    crc_state cs;
    memset(&cs, 0, sizeof cs);
    cs.on = (c->pre.flags & SSC_F_CHECKSUM) != 0;
    rc = receive_chunks(c, &w, &p, data, size, r, &cs);
    if (rc)
        goto fail;
    if (cs.on && cs.crc != c->pre.crc)
        verdict = SSC_ERR_CHECKSUM;
    ssc__progress_store(p.progress, size);

    rc = ssc__send_notice(&w, &r[R_NOTICE], SSC_K_STATUS, seq, verdict);
    if (rc)
        goto fail;
    ssc__req_drop(c, &r[R_ABORT]);
    c->rx_seq++;
    c->unacked = 1;
    return verdict;

fail:
    if (rc == SSC_ERR_CANCELLED && ssc__cancelled(p.cancel)) {
        tell_and_kill(c, SSC_K_STATUS, seq, rc, r, MAX_REQS);
        return rc;
    }
    if (rc == SSC_ERR_TIMEOUT || rc == SSC_ERR_PROTOCOL) {
        tell_and_kill(c, SSC_K_STATUS, seq, rc, r, MAX_REQS);
        return rc;
    }
    if (rc == SSC_ERR_PEER && ssc__req_test(&r[R_ABORT]) &&
        ssc__notice_valid(&r[R_ABORT], &c->abort_in, seq) && c->abort_in.code < 0)
        rc = c->abort_in.code;
    ssc__conn_kill(c, rc, r, MAX_REQS);
    return rc;
}
