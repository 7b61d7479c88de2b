/*
 * fuzz_messages.c - libFuzzer target: every control message a peer can send
 * (hello/welcome, preamble, answer/status/abort notice, the receiver's lane
 * addresses) as arbitrary bytes of
 * arbitrary length, through the checks the library applies on receipt
 * (src/validate.c). For a preamble that passes, the chunk geometry the
 * receiver derives from it is walked and must stay inside the payload:
 * every chunk inside [0, size), chunks tiling it exactly, chunk indices
 * fitting the tag's 32 bits, checksum slices never leaving their chunk.
 * A broken invariant aborts (a crash for libFuzzer); so do ASan/UBSan.
 *
 * Input: byte 0 = message kind (mod 4), bytes 1..8 = the sequence number
 * the receiver expects, byte 9 = checksum slice size (log2), bytes 10..25 =
 * a chunk index and a payload offset to probe, then the message exactly as
 * UCX would deliver it (its length is the length UCX
 * reports; a longer one never reaches the checks, UCX truncates it to the
 * struct and reports MESSAGE_TRUNCATED, which is treated alike here).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond, ...)                                                   \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "invariant broken: %s: ", #cond);                \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* chunk `i` of a valid preamble lies inside the payload and has the size
 * the sender used for it */
static void check_chunk(uint64_t size, uint64_t chunk, uint64_t count, uint64_t i)
{
    uint64_t off, len = ssc__chunk_len(size, chunk, i);
    REQUIRE(!__builtin_mul_overflow(i, chunk, &off), "index %llu x chunk %llu",
            (unsigned long long)i, (unsigned long long)chunk);
    REQUIRE(i <= 0xffffffffull, "index %llu", (unsigned long long)i);
    REQUIRE(off < size, "off %llu size %llu", (unsigned long long)off,
            (unsigned long long)size);
    REQUIRE(len > 0 && len <= chunk && len <= size - off,
            "chunk %llu: off %llu len %llu size %llu", (unsigned long long)i,
            (unsigned long long)off, (unsigned long long)len,
            (unsigned long long)size);
    if (i + 1 < count)
        REQUIRE(len == chunk, "inner chunk %llu of %llu bytes",
                (unsigned long long)i, (unsigned long long)len);
    else
        REQUIRE(off + len == size, "last chunk ends at %llu, size %llu",
                (unsigned long long)(off + len), (unsigned long long)size);
}

/* up to `steps` checksum slices from `off`: each inside the payload and
 * inside the chunk that holds its start */
static void walk_crc(uint64_t size, uint64_t chunk, uint64_t off,
                     uint64_t slice, int steps)
{
    while (off < size && steps-- > 0) {
        uint64_t n = ssc__crc_slice(size, chunk, off, slice);
        REQUIRE(n > 0 && n <= slice && n <= size - off,
                "slice of %llu bytes at %llu, size %llu chunk %llu",
                (unsigned long long)n, (unsigned long long)off,
                (unsigned long long)size, (unsigned long long)chunk);
        REQUIRE((off + n - 1) / chunk == off / chunk,
                "slice [%llu, %llu) leaves chunk %llu (chunk size %llu)",
                (unsigned long long)off, (unsigned long long)(off + n),
                (unsigned long long)(off / chunk), (unsigned long long)chunk);
        off += n;
    }
}

static void preamble_geometry(const ssc_preamble *p, uint64_t slice,
                              uint64_t probe_index, uint64_t probe_off)
{
    uint64_t size = p->size, chunk = p->chunk;
    uint64_t count = ssc__chunk_count(size, chunk);

    if (size == 0) {
        REQUIRE(count == 0, "empty payload with %llu chunks", (unsigned long long)count);
        return;
    }
    REQUIRE(count >= 1 && count - 1 <= 0xffffffffull, "%llu chunks",
            (unsigned long long)count);
    /* first, second, second-to-last and last chunks, and the one the input names */
    uint64_t probe[5] = {0, 1, count - 2, count - 1, probe_index % count};
    for (int k = 0; k < 5; k++)
        if (probe[k] < count)
            check_chunk(size, chunk, count, probe[k]);
    /* a small payload is tiled completely */
    if (count <= 4096) {
        uint64_t sum = 0;
        for (uint64_t i = 0; i < count; i++)
            sum += ssc__chunk_len(size, chunk, i);
        REQUIRE(sum == size, "chunks add up to %llu of %llu",
                (unsigned long long)sum, (unsigned long long)size);
    }
    /* checksum slices at the start, in the last two chunks and mid-chunk */
    walk_crc(size, chunk, 0, slice, 64);
    uint64_t last = (count - 1) * chunk;
    walk_crc(size, chunk, last, slice, 64);
    if (count >= 2)
        walk_crc(size, chunk, last - chunk, slice, 64);
    walk_crc(size, chunk, probe_off % size, slice, 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 26)
        return 0;
    unsigned kind = data[0] % 4;
    uint64_t seq, probe_index, probe_off;
    memcpy(&seq, data + 1, 8);
    uint64_t slice = 1ull << (data[9] % 40);
    memcpy(&probe_index, data + 10, 8);
    memcpy(&probe_off, data + 18, 8);
    const uint8_t *msg = data + 26;
    size_t n = len - 26;

    switch (kind) {
    case 0: {
        ssc_hello h = {0};
        memcpy(&h, msg, n < sizeof h ? n : sizeof h);
        int ok = ssc__hello_valid(&h, n);
        if (ok)
            REQUIRE(n == sizeof h && h.magic == SSC_MAGIC &&
                        h.version == SSC_PROTO_VERSION,
                    "hello accepted");
        break;
    }
    case 1: {
        ssc_preamble p = {0};
        memcpy(&p, msg, n < sizeof p ? n : sizeof p);
        if (ssc__preamble_valid(&p, n, seq)) {
            REQUIRE(n == sizeof p && p.seq == seq, "preamble accepted");
            preamble_geometry(&p, slice, probe_index, probe_off);
        }
        /* a preamble followed by bytes is not one: UCX truncates it */
        if (n > sizeof p)
            REQUIRE(!ssc__preamble_valid(&p, n, seq), "long preamble accepted");
        break;
    }
    case 3: {
        /* the lanes message is read where it landed (a heap buffer of its
         * full size): only the bytes that arrived may be looked at */
        ssc_lanes_msg *m = calloc(1, sizeof *m);
        if (!m)
            return 0;
        memcpy(m, msg, n < sizeof *m ? n : sizeof *m);
        int count = ssc__lanes_msg_count(m, n, seq);
        if (count >= 0) {
            size_t off = 0;
            REQUIRE(n >= 16 && n <= sizeof *m && m->seq == seq && count < (int)SSC_MAX_LANES,
                    "lanes message accepted (%d lanes, %zu bytes)", count, n);
            for (int i = 0; i < count; i++) {
                uint32_t alen;
                memcpy(&alen, m->addr + off, 4);
                REQUIRE(alen > 0 && 16 + off + 4 + alen <= n, "address %d leaves the message", i);
                off += 4 + alen;
            }
        }
        free(m);
        break;
    }
    default: {
        ssc_notice nt = {0};
        memcpy(&nt, msg, n < sizeof nt ? n : sizeof nt);
        if (ssc__notice_ok(&nt, n, seq))
            REQUIRE(n == sizeof nt && nt.seq == seq && nt.code <= 0,
                    "notice accepted");
        break;
    }
    }
    return 0;
}
