/* basic_test.c - single-process checks: error texts, version, CRC32C,
 * ssc_alloc, argument validation and address errors. */
#include "harness.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>

static const char *test_strerror(void)
{
    const char *seen[14] = {0};
    for (int e = 0; e >= -13; e--) {
        const char *s = ssc_strerror(e);
        if (!s || !*s)
            return t_fmt("code %d: empty text", e);
        if (strcmp(s, "unknown error") == 0)
            return t_fmt("code %d: reported as unknown", e);
        for (int k = 0; k < -e; k++)
            if (strcmp(seen[k], s) == 0)
                return t_fmt("codes %d and %d share a text", -k, e);
        seen[-e] = s;
    }
    int unknown[] = {1, 7, -14, -100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = ssc_strerror(unknown[i]);
        if (!s || strcmp(s, "unknown error") != 0)
            return t_fmt("code %d: %s", unknown[i], s ? s : "NULL");
    }
    return NULL;
}

static const char *test_version(void)
{
    return strcmp(ssc_version(), "1.1.0") == 0 ? NULL : ssc_version();
}

static const char *test_crc32c(void)
{
    uint8_t zeros[32] = {0}, ones[32], inc[32];
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    /* RFC 3720 B.4 test vectors and the classic check value */
    struct { const void *p; size_t n; uint32_t want; } v[] = {
        {"123456789", 9, 0xE3069283u},
        {zeros, 32, 0x8A9136AAu},
        {ones, 32, 0x62A8AB43u},
        {inc, 32, 0x46DD794Eu},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint32_t hw = ssc_crc32c(0, v[i].p, v[i].n);
        uint32_t sw = ssc__crc32c_sw(0, v[i].p, v[i].n);
        if (hw != v[i].want || sw != v[i].want)
            return t_fmt("vector %zu: got %08x/%08x want %08x", i, hw, sw, v[i].want);
    }
    /* all lengths and alignments, incremental == whole, hw == sw */
    uint8_t buf[3 * 8192 * 2 + 64];
    t_fill(buf, sizeof buf, 99);
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; n + off < sizeof buf; n += (n < 40 ? 1 : n < 1000 ? 37 : 1237)) {
            uint32_t a = ssc_crc32c(0, buf + off, n);
            uint32_t b = ssc__crc32c_sw(0, buf + off, n);
            uint32_t c = ssc_crc32c(ssc_crc32c(0, buf + off, n / 3), buf + off + n / 3,
                                    n - n / 3);
            if (a != b || a != c)
                return t_fmt("off %zu len %zu: %08x %08x %08x", off, n, a, b, c);
        }
    }
    /* speed, for information */
    uint64_t big = 256ull << 20;
    void *p;
    if (ssc_alloc(big, &p))
        return "ssc_alloc";
    double t0 = t_now();
    (void)ssc_crc32c(0, p, big);
    double dt = t_now() - t0;
    ssc_free(p, big);
    printf("# crc32c %s: %.1f GB/s\n", ssc__crc32c_hw_available() ? "sse4.2" : "table",
           big / dt / 1e9);
    return NULL;
}

static const char *test_alloc(void)
{
    uint64_t size = 1ull << 30;
    void *p = NULL;
    double t0 = t_now();
    int rc = ssc_alloc(size, &p);
    double dt = t_now() - t0;
    if (rc)
        return t_fmt("ssc_alloc: %s", ssc_strerror(rc));
    if ((uintptr_t)p % (2u << 20))
        return "not 2 MiB aligned";
    const uint64_t *w = p;
    for (uint64_t i = 0; i < size / 8; i++)
        if (w[i])
            return t_fmt("not zero at %llu", (unsigned long long)i * 8);
    memset(p, 0x5a, size); /* writable to the last byte */
    ssc_free(p, size);
    printf("# ssc_alloc 1 GiB: %.3f s\n", dt);

    /* odd and small sizes */
    uint64_t sizes[] = {1, 4095, 4096, 4097, (2u << 20) + 1, (3u << 20) - 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if ((rc = ssc_alloc(sizes[i], &p)))
            return t_fmt("ssc_alloc(%llu): %s", (unsigned long long)sizes[i], ssc_strerror(rc));
        if ((uintptr_t)p % 4096 || !t_all_bytes(p, sizes[i], 0))
            return t_fmt("ssc_alloc(%llu): misaligned or dirty", (unsigned long long)sizes[i]);
        memset(p, 1, sizes[i]);
        ssc_free(p, sizes[i]);
    }
    p = (void *)0x1;
    if (ssc_alloc(0, &p) != SSC_ERR_INVALID || p != (void *)0x1)
        return "size 0 accepted or output touched";
    if (ssc_alloc(16, NULL) != SSC_ERR_INVALID)
        return "NULL out accepted";
    if (ssc_alloc(UINT64_MAX, &p) != SSC_ERR_NOMEM || p != (void *)0x1)
        return "huge size not NOMEM";
    ssc_free(NULL, 10);
    return NULL;
}

/* ssc_alloc in two steps: the same aligned, zero-filled, writable buffer */
static const char *test_alloc_lazy_then_prefault(void)
{
    const uint64_t size = (64ull << 20) + 12345;
    uint8_t *p = NULL;
    int rc = ssc_alloc_lazy(size, (void **)&p);
    if (rc)
        return t_fmt("ssc_alloc_lazy: %s", ssc_strerror(rc));
    if ((uintptr_t)p % (2u << 20))
        return "not 2 MiB aligned";
    if ((rc = ssc_prefault(p, size)))
        return t_fmt("ssc_prefault: %s", ssc_strerror(rc));
    if (!t_all_bytes(p, size, 0))
        return "not zero-filled";
    memset(p, 3, size);
    ssc_free(p, size);
    /* in order, with the faulted prefix published: it ends at (at least) the size */
    volatile uint64_t ready = 0;
    if ((rc = ssc_alloc_lazy(size, (void **)&p)) || (rc = ssc_prefault_ex(p, size, &ready)))
        return t_fmt("ssc_prefault_ex: %s", ssc_strerror(rc));
    if (ready < size || !t_all_bytes(p, size, 0))
        return t_fmt("ssc_prefault_ex: watermark %llu of %llu, or not zero-filled", (unsigned long long)ready, (unsigned long long)size);
    ssc_free(p, size);
    if (ssc_prefault(NULL, 10) != SSC_ERR_INVALID || ssc_prefault_ex(NULL, 10, &ready) != SSC_ERR_INVALID ||
        ssc_alloc_lazy(0, (void **)&p) != SSC_ERR_INVALID)
        return "bad arguments accepted";
    return NULL;
}

/* a stock of workers: bad counts refused; destroyed while its thread is making them */
static const char *test_keep_workers(void)
{
    ssc_context *ctx = NULL;
    int rc = ssc_context_create(&ctx);
    if (rc)
        return t_fmt("context_create: %s", ssc_strerror(rc));
    if (ssc_context_keep_workers(NULL, 1) != SSC_ERR_INVALID || ssc_context_keep_workers(ctx, 5) != SSC_ERR_INVALID)
        return "bad arguments accepted";
    if ((rc = ssc_context_keep_workers(ctx, 4)))
        return t_fmt("keep 4: %s", ssc_strerror(rc));
    ssc_context_destroy(ctx); /* at once: the thread is still making them */
    if ((rc = ssc_context_create(&ctx)))
        return t_fmt("context_create: %s", ssc_strerror(rc));
    if ((rc = ssc_context_keep_workers(ctx, 2)) || (rc = ssc_context_keep_workers(ctx, 0)))
        return t_fmt("keep 2 then 0: %s", ssc_strerror(rc));
    ssc_context_destroy(ctx);
    return NULL;
}

static const char *test_invalid_args(void)
{
    ssc_context *ctx = NULL;
    ssc_listener *l = NULL;
    ssc_conn *c = (ssc_conn *)0x1;
    char hdr[16];
    int rc;

    if (ssc_context_create(NULL) != SSC_ERR_INVALID)
        return "context_create(NULL)";
    ssc_context_destroy(NULL);
    ssc_listener_close(NULL);
    ssc_conn_close(NULL);
    if ((rc = ssc_context_create(&ctx)))
        return t_fmt("context_create: %s", ssc_strerror(rc));
    if (ssc_listen(NULL, NULL, 0, &l) != SSC_ERR_INVALID ||
        ssc_listen(ctx, NULL, 0, NULL) != SSC_ERR_INVALID)
        return "listen NULL";
    if (ssc_listener_port(NULL) != SSC_ERR_INVALID)
        return "listener_port(NULL)";
    if (ssc_accept(NULL, 0, &c) != SSC_ERR_INVALID || c != (ssc_conn *)0x1)
        return "accept NULL";
    if (ssc_connect(NULL, "127.0.0.1", 1, 0, &c) != SSC_ERR_INVALID ||
        ssc_connect(ctx, NULL, 1, 0, &c) != SSC_ERR_INVALID ||
        ssc_connect(ctx, "127.0.0.1", 0, 0, &c) != SSC_ERR_INVALID ||
        ssc_connect(ctx, "127.0.0.1", 1, 0, NULL) != SSC_ERR_INVALID)
        return "connect invalid";
    if (ssc_send(NULL, hdr, hdr, 1) != SSC_ERR_INVALID ||
        ssc_receive(NULL, hdr, hdr, 1) != SSC_ERR_INVALID ||
        ssc_receive_header(NULL, hdr, NULL, NULL) != SSC_ERR_INVALID ||
        ssc_receive_payload(NULL, hdr, 1, NULL) != SSC_ERR_INVALID ||
        ssc_reject(NULL, SSC_ERR_REJECTED) != SSC_ERR_INVALID)
        return "transfer NULL conn";

    /* listening: port 0 gives a real port; the same port twice is refused */
    if ((rc = ssc_listen(ctx, "127.0.0.1", 0, &l)))
        return t_fmt("listen: %s", ssc_strerror(rc));
    int port = ssc_listener_port(l);
    if (port <= 0)
        return t_fmt("port %d", port);
    ssc_listener *l2 = (ssc_listener *)0x1;
    if ((rc = ssc_listen(ctx, "127.0.0.1", (uint16_t)port, &l2)) != SSC_ERR_ADDRESS ||
        l2 != (ssc_listener *)0x1)
        return t_fmt("second listen on %d: %s", port, ssc_strerror(rc));
    /* nobody connects: accept times out on time */
    double t0 = t_now();
    if ((rc = ssc_accept(l, 200, &c)) != SSC_ERR_TIMEOUT)
        return t_fmt("accept: %s", ssc_strerror(rc));
    if (t_now() - t0 > 1.0)
        return "accept timeout too slow";
    ssc_listener_close(l);

    if ((rc = ssc_listen(ctx, "256.1.2.3", 0, &l)) != SSC_ERR_ADDRESS)
        return t_fmt("listen on bad address: %s", ssc_strerror(rc));
    if ((rc = ssc_listen(ctx, "192.0.2.123", 0, &l)) != SSC_ERR_ADDRESS)
        return t_fmt("listen on foreign address: %s", ssc_strerror(rc));
    if ((rc = ssc_connect(ctx, "no-such-host.invalid", 9, 1000, &c)) != SSC_ERR_ADDRESS)
        return t_fmt("connect to bad host: %s", ssc_strerror(rc));
    /* IPv6 is refused up front (UCX 1.13 crashes on that path) */
    if ((rc = ssc_listen(ctx, "::1", 0, &l)) != SSC_ERR_ADDRESS)
        return t_fmt("listen on ::1: %s", ssc_strerror(rc));
    if ((rc = ssc_connect(ctx, "::1", 9, 1000, &c)) != SSC_ERR_ADDRESS)
        return t_fmt("connect to ::1: %s", ssc_strerror(rc));
    if (c != (ssc_conn *)0x1)
        return "output set on failure";
    ssc_context_destroy(ctx);
    return NULL;
}

int main(int argc, char **argv)
{
    t_filter = argc > 1 ? argv[1] : NULL;
    t_env_defaults();
    T_RUN("strerror_all_codes", test_strerror());
    T_RUN("version", test_version());
    T_RUN("crc32c_vectors_hw_sw", test_crc32c());
    T_RUN("alloc_1gib_zero_filled", test_alloc());
    T_RUN("alloc_lazy_then_prefault", test_alloc_lazy_then_prefault());
    T_RUN("keep_workers", test_keep_workers());
    /* UCX logs the bind failures this case provokes on purpose */
    T_RUN_QUIET("invalid_args_and_addresses", test_invalid_args());
    return t_main_end(__FILE__);
}
