/* ssc_xfer - move BYTES over libsscrdma and print the rate, for benchmarks.
 *
 *   ssc_xfer [-n REPS] [-k] [-w WINDOW] [-c CHUNK] recv PORT BYTES
 *   ssc_xfer [-n REPS] [-k] [-w WINDOW] [-c CHUNK] send HOST PORT BYTES
 *
 * BYTES/CHUNK accept K/M/G suffixes (binary). -k: CRC32C checksum. Each
 * repetition prints one line per side; the receive buffer is allocated with
 * ssc_alloc (pre-faulted) before the clock starts. UCX_TLS selects the
 * transport as usual. Exit status 0 on success. */
#define _POSIX_C_SOURCE 200809L
#include "ssc_rdma.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t parse_bytes(const char *s)
{
    char *end;
    uint64_t v = strtoull(s, &end, 10);
    switch (*end) {
    case 'k': case 'K': return v << 10;
    case 'm': case 'M': return v << 20;
    case 'g': case 'G': return v << 30;
    default: return v;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: ssc_xfer [-n REPS] [-k] [-w WINDOW] [-c CHUNK] recv PORT BYTES\n"
                    "       ssc_xfer [-n REPS] [-k] [-w WINDOW] [-c CHUNK] send HOST PORT BYTES\n");
    return 2;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "ssc_xfer: %s: %s\n", what, ssc_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    ssc_opts o = {0};
    int reps = 1, opt, rc;

    while ((opt = getopt(argc, argv, "n:kw:c:")) != -1) {
        switch (opt) {
        case 'n': reps = atoi(optarg); break;
        case 'k': o.flags |= SSC_F_CHECKSUM; break;
        case 'w': o.window = (uint32_t)atoi(optarg); break;
        case 'c': o.chunk_bytes = parse_bytes(optarg); break;
        default: return usage();
        }
    }
    argc -= optind;
    argv += optind;
    int rx = argc == 3 && strcmp(argv[0], "recv") == 0;
    int tx = argc == 4 && strcmp(argv[0], "send") == 0;
    if (!rx && !tx)
        return usage();
    uint64_t size = parse_bytes(argv[rx ? 2 : 3]);

    ssc_context *ctx;
    ssc_conn *c = NULL;
    void *buf = NULL, *hdr = calloc(1, SSC_HEADER_SIZE);
    if (!hdr || (rc = ssc_context_create(&ctx)))
        return fail("context", hdr ? rc : SSC_ERR_NOMEM);
    if (size) {
        double t0 = now();
        if ((rc = ssc_alloc(size, &buf)))
            return fail("alloc", rc);
        if (rx)
            fprintf(stderr, "ssc_alloc %.3f s\n", now() - t0);
        else
            memset(buf, 7, size);
    }

    if (rx) {
        ssc_listener *l;
        if ((rc = ssc_listen(ctx, NULL, (uint16_t)atoi(argv[1]), &l)))
            return fail("listen", rc);
        if ((rc = ssc_accept(l, -1, &c)))
            return fail("accept", rc);
        ssc_listener_close(l);
    } else {
        double tc = now();
        if ((rc = ssc_connect(ctx, argv[1], (uint16_t)atoi(argv[2]), 30000, &c)))
            return fail("connect", rc);
        fprintf(stderr, "ssc_connect %.4f s\n", now() - tc);
    }

    for (int i = 0; i < reps; i++) {
        double t0 = now();
        rc = rx ? ssc_receive_ex(c, hdr, buf, size, &o)
                : ssc_send_ex(c, hdr, buf, size, &o);
        double dt = now() - t0;
        if (rc)
            return fail(rx ? "receive" : "send", rc);
        printf("%s %llu B in %.3f s = %.2f GB/s\n", rx ? "recv" : "send",
               (unsigned long long)size, dt, size / dt / 1e9);
        fflush(stdout);
    }
    ssc_conn_close(c);
    ssc_free(buf, size);
    free(hdr);
    ssc_context_destroy(ctx);
    return 0;
}
