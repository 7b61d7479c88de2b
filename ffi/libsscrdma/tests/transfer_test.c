/* transfer_test.c - real transfers between two forked processes (and two
 * threads): byte-exact round trips over TCP and shared memory, checksums,
 * size mismatch, split receive + reject, malformed headers, concurrency,
 * cancellation, receive timeout. */
#include "harness.h"

#include <pthread.h>

#define HDR_SEED 0x4844524844ull
#define DATA_SEED 0x5041594c4f4144ull
#define RX 0
#define TX 1

/* What one forked pair does. Fields unused by a case stay 0. */
typedef struct xfer {
    const char *tls;
    uint64_t size;          /* payload the sender sends */
    uint64_t expect;        /* payload the receiver expects (size if 0 and !mismatch) */
    int mismatch;           /* receiver expects `expect` even if it differs */
    uint32_t flags;         /* sender's ssc_opts.flags */
    int64_t corrupt_at;     /* receiver flips this byte before the CRC check (-1 off) */
    int repeat;             /* transfers on the same connection (default 1) */
    uint64_t chunk;         /* sender chunk size */
    int expect_rx, expect_tx;
    const char *lanes_rx, *lanes_tx; /* SSC_LANES of each side (NULL: default) */
    int writable;           /* receiver: 1 = buffer faulted in by ssc_prefault_ex during the
                             * receive (ssc_opts.writable); 2 = a watermark moved by hand */
} xfer;

/* A child's SSC_LANES, read by ssc_context_create. */
static void set_lanes(const char *lanes)
{
    if (lanes)
        setenv("SSC_LANES", lanes, 1);
}

static uint64_t rx_size(const xfer *x)
{
    return x->mismatch ? x->expect : x->size;
}

/* The watermark of a receive with ssc_opts.writable, moved by a thread. */
typedef struct mover {
    t_shared *s;
    uint8_t *buf;
    uint64_t n, chunk;
    volatile uint64_t writable;
    int mode;
} mover;

static void *move_watermark(void *arg)
{
    mover *m = arg;
    if (m->mode == 1) { /* the real thing: faulted in while the receive runs */
        int rc = ssc_prefault_ex(m->buf, m->n, &m->writable);
        if (rc)
            t_note(m->s, RX, "ssc_prefault_ex: %s", ssc_strerror(rc));
        else if (m->writable < m->n)
            t_note(m->s, RX, "watermark ended at %llu of %llu", (unsigned long long)m->writable,
                   (unsigned long long)m->n);
        return NULL;
    }
    /* by hand: nothing is written beyond the watermark while it stands */
    usleep(300000);
    if (!t_all_bytes(m->buf, m->n, 0xab))
        t_note(m->s, RX, "bytes written with the watermark at 0");
    __atomic_store_n(&m->writable, m->chunk, __ATOMIC_RELEASE);
    usleep(300000);
    if (!t_all_bytes(m->buf + m->chunk, m->n - m->chunk, 0xab))
        t_note(m->s, RX, "bytes written beyond the watermark (one chunk)");
    __atomic_store_n(&m->writable, m->n, __ATOMIC_RELEASE);
    return NULL;
}

/* Receiver: listen, accept, receive `repeat` times; checks header + payload
 * and records the first rc in slot RX. */
static void receiver(t_shared *s, const void *arg)
{
    const xfer *x = arg;
    set_lanes(x->lanes_rx);
    ssc_context *ctx = t_context(s, RX, x->tls);
    ssc_listener *l = NULL;
    ssc_conn *c = NULL;
    void *buf = NULL;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    uint64_t n = rx_size(x);
    int rc;

    if (!ctx)
        return;
    if ((rc = ssc_listen(ctx, "127.0.0.1", 0, &l))) {
        t_note(s, RX, "listen: %s", ssc_strerror(rc));
        return;
    }
    if (n && (rc = (x->writable == 1 ? ssc_alloc_lazy(n, &buf) : ssc_alloc(n, &buf)))) {
        t_note(s, RX, "alloc: %s", ssc_strerror(rc));
        return;
    }
    s->port = ssc_listener_port(l);
    if ((rc = ssc_accept(l, 20000, &c))) {
        t_note(s, RX, "accept: %s", ssc_strerror(rc));
        return;
    }
    /* an accepted connection does not depend on its listener */
    ssc_listener_close(l);
    l = NULL;
    ssc__test_corrupt_at = x->corrupt_at;
    for (int i = 0; i < (x->repeat ? x->repeat : 1); i++) {
        if (n && x->writable != 1)
            memset(buf, 0xab, n); /* canary */
        memset(hdr, 0, SSC_HEADER_SIZE);
        if (x->writable) {
            mover m = {.s = s, .buf = buf, .n = n, .chunk = x->chunk, .mode = x->writable};
            pthread_t t;
            ssc_opts o = {.writable = &m.writable};
            if (x->writable == 1 && i > 0) /* faulted in already: the whole buffer */
                m.writable = n;
            int started = (x->writable == 2 || i == 0) && pthread_create(&t, NULL, move_watermark, &m) == 0;
            rc = ssc_receive_ex(c, hdr, buf, n, &o);
            if (started)
                pthread_join(t, NULL);
        } else {
            rc = ssc_receive(c, hdr, buf, n);
        }
        if (i == 0)
            s->rc[RX] = rc;
        if (i > 0 && rc) {
            t_note(s, RX, "transfer %d: %s", i, ssc_strerror(rc));
            break;
        }
        if (rc == SSC_OK || rc == SSC_ERR_CHECKSUM || rc == SSC_ERR_SIZE) {
            /* the header arrived intact in every one of these cases */
            int64_t bad = t_check(hdr, SSC_HEADER_SIZE, HDR_SEED + (uint64_t)i);
            if (bad >= 0)
                t_note(s, RX, "header differs at %lld", (long long)bad);
        }
        if (rc == SSC_OK) {
            int64_t bad = t_check(buf, n, DATA_SEED + (uint64_t)i);
            if (bad >= 0)
                t_note(s, RX, "payload differs at %lld of %llu", (long long)bad,
                       (unsigned long long)n);
        }
        if (rc == SSC_ERR_SIZE && n && !t_all_bytes(buf, n, 0xab))
            t_note(s, RX, "receive buffer touched despite size mismatch");
        ssc__test_corrupt_at = -1; /* corrupt only the first transfer */
    }
    ssc_conn_close(c);
    ssc_listener_close(l);
    ssc_free(buf, n);
    free(hdr);
    ssc_context_destroy(ctx);
}

static void sender(t_shared *s, const void *arg)
{
    const xfer *x = arg;
    set_lanes(x->lanes_tx);
    ssc_context *ctx = t_context(s, TX, x->tls);
    ssc_conn *c = NULL;
    void *buf = NULL;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    int rc;

    if (!ctx)
        return;
    if (x->size && (rc = ssc_alloc(x->size, &buf))) {
        t_note(s, TX, "alloc: %s", ssc_strerror(rc));
        return;
    }
    if ((rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c))) {
        t_note(s, TX, "connect: %s", ssc_strerror(rc));
        return;
    }
    for (int i = 0; i < (x->repeat ? x->repeat : 1); i++) {
        t_fill(hdr, SSC_HEADER_SIZE, HDR_SEED + (uint64_t)i);
        t_fill(buf, x->size, DATA_SEED + (uint64_t)i);
        ssc_opts o = {.flags = x->flags, .chunk_bytes = x->chunk};
        rc = ssc_send_ex(c, hdr, buf, x->size, &o);
        if (i == 0)
            s->rc[TX] = rc;
        if (i > 0 && rc) {
            t_note(s, TX, "transfer %d: %s", i, ssc_strerror(rc));
            break;
        }
    }
    ssc_conn_close(c);
    ssc_free(buf, x->size);
    free(hdr);
    ssc_context_destroy(ctx);
}

/* Run one receiver + one sender and compare both results. */
static const char *run_pair(t_child_fn rxfn, t_child_fn txfn, const void *arg,
                            int want_rx, int want_tx, double timeout_s)
{
    t_shared *s = t_shared_new();
    const char *why = NULL;
    pid_t r = t_fork(rxfn, s, arg);
    if (!t_wait_port(s, 20)) {
        why = "receiver never listened";
        kill(r, SIGKILL);
        t_reap(r);
        if (s->msg[RX][0])
            why = t_fmt("receiver: %s", s->msg[RX]);
        t_shared_free(s);
        return why;
    }
    pid_t t = t_fork(txfn, s, arg);
    const char *wt = t_wait(t, timeout_s, "sender");
    const char *wr = t_wait(r, timeout_s, "receiver");
    if (wt)
        why = t_fmt("%s", wt);
    else if (wr)
        why = t_fmt("%s", wr);
    else if (s->msg[RX][0])
        why = t_fmt("receiver: %s", s->msg[RX]);
    else if (s->msg[TX][0])
        why = t_fmt("sender: %s", s->msg[TX]);
    else if (s->rc[RX] != want_rx || s->rc[TX] != want_tx)
        why = t_fmt("receiver got \"%s\" (want \"%s\"), sender got \"%s\" (want \"%s\")",
                    s->rc[RX] == 1 ? "nothing" : ssc_strerror(s->rc[RX]), ssc_strerror(want_rx),
                    s->rc[TX] == 1 ? "nothing" : ssc_strerror(s->rc[TX]), ssc_strerror(want_tx));
    t_shared_free(s);
    return why;
}

static const char *roundtrip(const char *tls, uint64_t size)
{
    xfer x = {.tls = tls, .size = size, .corrupt_at = -1};
    return run_pair(receiver, sender, &x, SSC_OK, SSC_OK, 60);
}

static const char *checksum_ok(void)
{
    /* two transfers on one connection, small chunks: the CRC spans chunks */
    xfer x = {.tls = "tcp", .size = (48u << 20) + 3, .flags = SSC_F_CHECKSUM,
              .corrupt_at = -1, .repeat = 2, .chunk = 5u << 20};
    return run_pair(receiver, sender, &x, SSC_OK, SSC_OK, 60);
}

static const char *checksum_zero_bytes(void)
{
    xfer x = {.tls = "tcp", .size = 0, .flags = SSC_F_CHECKSUM, .corrupt_at = -1};
    return run_pair(receiver, sender, &x, SSC_OK, SSC_OK, 30);
}

static const char *checksum_corrupt(void)
{
    /* both sides see the mismatch; the connection stays usable (repeat 2) */
    xfer x = {.tls = "tcp", .size = 16u << 20, .flags = SSC_F_CHECKSUM,
              .corrupt_at = 12345, .repeat = 2};
    return run_pair(receiver, sender, &x, SSC_ERR_CHECKSUM, SSC_ERR_CHECKSUM, 60);
}

/* Payload striped over lanes (lanes.c): byte-exact, checksummed across lanes,
 * twice on one connection (the lanes are reused); a receiver that allows
 * fewer lanes than asked for is followed. */
static const char *lanes(const char *tls, const char *rx, const char *tx, uint64_t size)
{
    xfer x = {.tls = tls, .size = size, .flags = SSC_F_CHECKSUM, .corrupt_at = -1,
              .repeat = 2, .chunk = 8u << 20, .lanes_rx = rx, .lanes_tx = tx};
    return run_pair(receiver, sender, &x, SSC_OK, SSC_OK, 60);
}

/* A receive behind a watermark (ssc_opts.writable): with ssc_prefault_ex faulting the buffer in
 * during it (byte-exact, lanes), and with a watermark moved by hand (nothing lands beyond it). */
static const char *writable(const char *tls, int mode, const char *lanes, uint64_t size)
{
    xfer x = {.tls = tls, .size = size, .corrupt_at = -1, .repeat = 2, .chunk = 8u << 20,
              .lanes_rx = lanes, .lanes_tx = lanes, .writable = mode};
    return run_pair(receiver, sender, &x, SSC_OK, SSC_OK, 60);
}

static const char *lanes_corrupt(void)
{
    /* a byte of chunk 1 (lane 1 of 2) damaged: both sides see it, the
     * connection and its lanes stay usable */
    xfer x = {.tls = "tcp", .size = 40u << 20, .flags = SSC_F_CHECKSUM,
              .corrupt_at = (8u << 20) + 77, .repeat = 2, .chunk = 8u << 20,
              .lanes_rx = "2", .lanes_tx = "2"};
    return run_pair(receiver, sender, &x, SSC_ERR_CHECKSUM, SSC_ERR_CHECKSUM, 60);
}

static const char *size_mismatch(const char *tls, uint64_t sent, uint64_t expected)
{
    /* the receiver's buffer (canary) stays untouched; the connection stays
     * usable but the next transfer would mismatch again, so just one */
    xfer x = {.tls = tls, .size = sent, .expect = expected, .mismatch = 1, .corrupt_at = -1};
    return run_pair(receiver, sender, &x, SSC_ERR_SIZE, SSC_ERR_SIZE, 60);
}

/* ---- split receive + reject ---------------------------------------------- */

static void split_receiver(t_shared *s, const void *arg)
{
    (void)arg;
    ssc_context *ctx = t_context(s, RX, "tcp");
    ssc_listener *l;
    ssc_conn *c;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    uint64_t n = 1u << 20, announced = 0;
    void *buf = malloc(n);
    int rc;

    if (!(c = t_listen_accept(s, RX, ctx, &l)))
        return;
    /* 1: look at the header, refuse */
    memset(buf, 0xab, n);
    if ((rc = ssc_receive_header(c, hdr, &announced, NULL)))
        t_note(s, RX, "receive_header 1: %s", ssc_strerror(rc));
    if (announced != n || t_check(hdr, SSC_HEADER_SIZE, HDR_SEED) >= 0)
        t_note(s, RX, "header/size wrong (%llu)", (unsigned long long)announced);
    if (ssc_receive_header(c, hdr, &announced, NULL) != SSC_ERR_INVALID)
        t_note(s, RX, "second receive_header accepted while one is pending");
    if ((rc = ssc_reject(c, SSC_ERR_REJECTED)))
        t_note(s, RX, "reject: %s", ssc_strerror(rc));
    if (ssc_reject(c, SSC_ERR_REJECTED) != SSC_ERR_INVALID ||
        ssc_receive_payload(c, buf, n, NULL) != SSC_ERR_INVALID)
        t_note(s, RX, "reject/payload accepted without a pending header");
    if (!t_all_bytes(buf, n, 0xab))
        t_note(s, RX, "rejected payload touched the buffer");
    /* 2: accept the next one through the split calls */
    if ((rc = ssc_receive_header(c, hdr, &announced, NULL)))
        t_note(s, RX, "receive_header 2: %s", ssc_strerror(rc));
    if ((rc = ssc_receive_payload(c, buf, n, NULL)))
        t_note(s, RX, "receive_payload: %s", ssc_strerror(rc));
    if (t_check(buf, n, DATA_SEED + 1) >= 0)
        t_note(s, RX, "payload 2 wrong");
    s->rc[RX] = SSC_OK;
    ssc_conn_close(c);
    ssc_listener_close(l);
    ssc_context_destroy(ctx);
    free(buf);
    free(hdr);
}

static void split_sender(t_shared *s, const void *arg)
{
    (void)arg;
    ssc_context *ctx = t_context(s, TX, "tcp");
    ssc_conn *c;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    uint64_t n = 1u << 20;
    void *buf = malloc(n);
    int rc;

    if (!ctx || (rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c))) {
        t_note(s, TX, "connect failed");
        return;
    }
    t_fill(hdr, SSC_HEADER_SIZE, HDR_SEED);
    t_fill(buf, n, DATA_SEED);
    if ((rc = ssc_send(c, hdr, buf, n)) != SSC_ERR_REJECTED)
        t_note(s, TX, "send 1: %s (want rejected)", ssc_strerror(rc));
    t_fill(buf, n, DATA_SEED + 1);
    if ((rc = ssc_send(c, hdr, buf, n)))
        t_note(s, TX, "send 2: %s", ssc_strerror(rc));
    s->rc[TX] = SSC_OK;
    ssc_conn_close(c);
    ssc_context_destroy(ctx);
    free(buf);
    free(hdr);
}

/* ---- malformed messages (raw sends through the internals) ---------------- */

/* Send preamble + a header message of hdr_len bytes; return the answer. */
static int raw_transfer(ssc_conn *c, uint32_t magic, size_t hdr_len, uint64_t size)
{
    ssc_req r[3] = {{0}};
    ssc_waiter w;
    uint64_t seq = c->tx_seq;
    uint8_t *hdr = calloc(1, hdr_len ? hdr_len : 1);
    int rc;

    c->pre_out = (ssc_preamble){.magic = magic, .version = SSC_PROTO_VERSION,
                                .seq = seq, .size = size, .chunk = 1u << 20};
    ssc__waiter_init(&w, c, 5000, NULL);
    ssc__post_recv(c, &r[0], ssc__tag(SSC_K_ANSWER, seq, 0), SSC_TAG_FULL_MASK,
                   &c->answer_in, sizeof c->answer_in);
    ssc__post_send(c, &r[1], ssc__tag(SSC_K_PREAMBLE, seq, 0), &c->pre_out,
                   sizeof c->pre_out);
    ssc__post_send(c, &r[2], ssc__tag(SSC_K_HEADER, seq, 0), hdr, hdr_len);
    rc = ssc__wait_all(&w, r, 3);
    free(hdr);
    if (rc)
        return rc;
    if (r[0].status != UCS_OK)
        return ssc__from_ucs(r[0].status);
    c->tx_seq++;
    return c->answer_in.code;
}

static void raw_sender(t_shared *s, const void *arg)
{
    (void)arg;
    ssc_context *ctx = t_context(s, TX, "tcp");
    ssc_conn *c;
    int rc;

    if (!ctx || (rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c))) {
        t_note(s, TX, "connect failed");
        return;
    }
    /* shorter than SSC_HEADER_SIZE, then longer (UCX truncates it) */
    if ((rc = raw_transfer(c, SSC_MAGIC, 1000, 4096)) != SSC_ERR_HEADER)
        t_note(s, TX, "short header answered %s", ssc_strerror(rc));
    if ((rc = raw_transfer(c, SSC_MAGIC, SSC_HEADER_SIZE + 4096, 4096)) != SSC_ERR_HEADER)
        t_note(s, TX, "long header answered %s", ssc_strerror(rc));
    s->phase = 1;
    ssc_conn_close(c);

    /* a second connection with a bad magic: protocol error */
    if ((rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c))) {
        t_note(s, TX, "connect 2 failed");
        return;
    }
    rc = raw_transfer(c, 0xdeadbeef, SSC_HEADER_SIZE, 4096);
    if (rc != SSC_ERR_PROTOCOL && rc != SSC_ERR_PEER)
        t_note(s, TX, "bad magic answered %s", ssc_strerror(rc));
    s->rc[TX] = SSC_OK;
    ssc_conn_close(c);

    /* a third, well-behaved connection must still be served */
    if ((rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c))) {
        t_note(s, TX, "connect 3: %s", ssc_strerror(rc));
        return;
    }
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    uint8_t data[4096];
    t_fill(hdr, SSC_HEADER_SIZE, HDR_SEED);
    t_fill(data, sizeof data, DATA_SEED);
    if ((rc = ssc_send(c, hdr, data, sizeof data)))
        t_note(s, TX, "good send after bad ones: %s", ssc_strerror(rc));
    free(hdr);
    ssc_conn_close(c);
    ssc_context_destroy(ctx);
}

static void raw_receiver(t_shared *s, const void *arg)
{
    (void)arg;
    ssc_context *ctx = t_context(s, RX, "tcp");
    ssc_listener *l;
    ssc_conn *c;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    uint8_t data[4096];
    int rc;

    if (!(c = t_listen_accept(s, RX, ctx, &l)))
        return;
    memset(data, 0xab, sizeof data);
    for (int i = 0; i < 2; i++)
        if ((rc = ssc_receive(c, hdr, data, sizeof data)) != SSC_ERR_HEADER)
            t_note(s, RX, "bad header %d: %s", i, ssc_strerror(rc));
    if (!t_all_bytes(data, sizeof data, 0xab))
        t_note(s, RX, "buffer touched by a bad header");
    ssc_conn_close(c);

    if ((rc = ssc_accept(l, 20000, &c))) {
        t_note(s, RX, "accept 2: %s", ssc_strerror(rc));
        return;
    }
    if ((rc = ssc_receive(c, hdr, data, sizeof data)) != SSC_ERR_PROTOCOL)
        t_note(s, RX, "bad magic: %s", ssc_strerror(rc));
    if ((rc = ssc_receive(c, hdr, data, sizeof data)) != SSC_ERR_PEER)
        t_note(s, RX, "call on unusable conn: %s", ssc_strerror(rc));
    ssc_conn_close(c);

    if ((rc = ssc_accept(l, 20000, &c))) {
        t_note(s, RX, "accept 3: %s", ssc_strerror(rc));
        return;
    }
    rc = ssc_receive(c, hdr, data, sizeof data);
    if (rc || t_check(data, sizeof data, DATA_SEED) >= 0 ||
        t_check(hdr, SSC_HEADER_SIZE, HDR_SEED) >= 0)
        t_note(s, RX, "good transfer after bad ones: %s", ssc_strerror(rc));
    s->rc[RX] = SSC_OK;
    ssc_conn_close(c);
    ssc_listener_close(l);
    ssc_context_destroy(ctx);
    free(hdr);
}

/* ---- two transfers at once --------------------------------------------- */

#define CONC_SIZE (256ull << 20)

typedef struct conc_job {
    ssc_conn *c;
    ssc_context *ctx;
    int port;
    int idx;
    int rc;
    char why[160];
} conc_job;

static void *conc_recv(void *arg)
{
    conc_job *j = arg;
    void *buf;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    if (ssc_alloc(CONC_SIZE, &buf)) {
        j->rc = SSC_ERR_NOMEM;
        return NULL;
    }
    j->rc = ssc_receive(j->c, hdr, buf, CONC_SIZE);
    /* each sender tags its header with its index */
    if (j->rc == SSC_OK) {
        uint64_t who;
        memcpy(&who, hdr, 8);
        if (who > 1 || t_check(buf, CONC_SIZE, DATA_SEED + who) >= 0)
            snprintf(j->why, sizeof j->why, "payload %d wrong", j->idx);
    }
    ssc_free(buf, CONC_SIZE);
    free(hdr);
    return NULL;
}

static void *conc_send(void *arg)
{
    conc_job *j = arg;
    void *buf;
    uint8_t *hdr = calloc(1, SSC_HEADER_SIZE);
    uint64_t who = (uint64_t)j->idx;
    memcpy(hdr, &who, 8);
    if (ssc_alloc(CONC_SIZE, &buf)) {
        j->rc = SSC_ERR_NOMEM;
        return NULL;
    }
    t_fill(buf, CONC_SIZE, DATA_SEED + who);
    j->rc = ssc_connect(j->ctx, "127.0.0.1", (uint16_t)j->port, 10000, &j->c);
    if (j->rc == SSC_OK) {
        j->rc = ssc_send(j->c, hdr, buf, CONC_SIZE);
        ssc_conn_close(j->c);
    }
    ssc_free(buf, CONC_SIZE);
    free(hdr);
    return NULL;
}

static void conc_receiver(t_shared *s, const void *arg)
{
    const char *tls = arg;
    ssc_context *ctx = t_context(s, RX, tls);
    ssc_listener *l;
    conc_job j[2] = {{0}};
    pthread_t th[2];
    int rc;

    if (!ctx || ssc_listen(ctx, "127.0.0.1", 0, &l))
        return;
    s->port = ssc_listener_port(l);
    for (int i = 0; i < 2; i++) {
        j[i].idx = i;
        if ((rc = ssc_accept(l, 20000, &j[i].c))) {
            t_note(s, RX, "accept %d: %s", i, ssc_strerror(rc));
            return;
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, conc_recv, &j[i]);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (j[i].rc)
            t_note(s, RX, "receive %d: %s", i, ssc_strerror(j[i].rc));
        if (j[i].why[0])
            t_note(s, RX, "%s", j[i].why);
        ssc_conn_close(j[i].c);
    }
    s->rc[RX] = SSC_OK;
    ssc_listener_close(l);
    ssc_context_destroy(ctx);
}

static void conc_sender(t_shared *s, const void *arg)
{
    const char *tls = arg;
    ssc_context *ctx = t_context(s, TX, tls);
    conc_job j[2] = {{0}};
    pthread_t th[2];

    if (!ctx)
        return;
    for (int i = 0; i < 2; i++) {
        j[i] = (conc_job){.ctx = ctx, .port = s->port, .idx = i};
        pthread_create(&th[i], NULL, conc_send, &j[i]);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        if (j[i].rc)
            t_note(s, TX, "send %d: %s", i, ssc_strerror(j[i].rc));
    }
    s->rc[TX] = SSC_OK;
    ssc_context_destroy(ctx);
}

/* ---- cancel ------------------------------------------------------------ */

#define CANCEL_SIZE (1ull << 30)

typedef struct cancel_case {
    int side; /* RX or TX cancels */
    const char *tls;
} cancel_case;

typedef struct watcher {
    volatile uint64_t *progress;
    volatile int32_t *cancel;
    uint64_t at;
} watcher;

/* Cancel once progress passed `at` bytes (another thread, as in real use). */
static void *watch(void *arg)
{
    watcher *w = arg;
    double end = t_now() + 30;
    while (__atomic_load_n(w->progress, __ATOMIC_ACQUIRE) < w->at && t_now() < end)
        t_sleep_ms(0.05);
    __atomic_store_n(w->cancel, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void cancel_receiver(t_shared *s, const void *arg)
{
    const cancel_case *cc = arg;
    ssc_context *ctx = t_context(s, RX, cc->tls);
    ssc_listener *l;
    ssc_conn *c;
    void *buf;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    pthread_t th;
    int rc;

    if (!ctx || ssc_alloc(CANCEL_SIZE, &buf) || !(c = t_listen_accept(s, RX, ctx, &l)))
        return;
    ssc_opts o = {.progress = &s->progress[RX], .cancel = &s->cancel[RX]};
    watcher w = {&s->progress[RX], &s->cancel[RX], 64u << 20};
    if (cc->side == RX)
        pthread_create(&th, NULL, watch, &w);
    rc = ssc_receive_ex(c, hdr, buf, CANCEL_SIZE, &o);
    if (cc->side == RX)
        pthread_join(th, NULL);
    /* the peer's cancel may arrive as its notice or as a dropped connection */
    if (cc->side == TX && rc == SSC_ERR_PEER)
        rc = SSC_ERR_CANCELLED;
    s->rc[RX] = rc;
    if (ssc_receive(c, hdr, buf, 1) != SSC_ERR_PEER)
        t_note(s, RX, "connection still usable after cancel");
    ssc_conn_close(c);
    ssc_listener_close(l);
    ssc_free(buf, CANCEL_SIZE);
    ssc_context_destroy(ctx);
}

static void cancel_sender(t_shared *s, const void *arg)
{
    const cancel_case *cc = arg;
    ssc_context *ctx = t_context(s, TX, cc->tls);
    ssc_conn *c;
    void *buf;
    uint8_t *hdr = calloc(1, SSC_HEADER_SIZE);
    pthread_t th;
    int rc;

    if (!ctx || ssc_alloc(CANCEL_SIZE, &buf))
        return;
    if ((rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c))) {
        t_note(s, TX, "connect: %s", ssc_strerror(rc));
        return;
    }
    /* small chunks so that progress moves in small steps */
    ssc_opts o = {.progress = &s->progress[TX], .cancel = &s->cancel[TX],
                  .chunk_bytes = 4u << 20};
    watcher w = {&s->progress[TX], &s->cancel[TX], 64u << 20};
    if (cc->side == TX)
        pthread_create(&th, NULL, watch, &w);
    rc = ssc_send_ex(c, hdr, buf, CANCEL_SIZE, &o);
    if (cc->side == TX)
        pthread_join(th, NULL);
    if (cc->side == RX && rc == SSC_ERR_PEER)
        rc = SSC_ERR_CANCELLED;
    s->rc[TX] = rc;
    ssc_conn_close(c);
    ssc_free(buf, CANCEL_SIZE);
    ssc_context_destroy(ctx);
}

static const char *cancel_test(int side)
{
    cancel_case cc = {side, "tcp"};
    return run_pair(cancel_receiver, cancel_sender, &cc, SSC_ERR_CANCELLED,
                    SSC_ERR_CANCELLED, 60);
}

/* ---- receive timeout leaves the connection usable ------------------------ */

static void late_receiver(t_shared *s, const void *arg)
{
    (void)arg;
    ssc_context *ctx = t_context(s, RX, "tcp");
    ssc_listener *l;
    ssc_conn *c;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    uint8_t data[1000];
    int rc;

    if (!(c = t_listen_accept(s, RX, ctx, &l)))
        return;
    ssc_opts o = {.timeout_ms = 300};
    double t0 = t_now();
    rc = ssc_receive_ex(c, hdr, data, sizeof data, &o);
    double dt = t_now() - t0;
    if (rc != SSC_ERR_TIMEOUT || dt < 0.25 || dt > 1.5)
        t_note(s, RX, "idle receive: %s after %.2f s", ssc_strerror(rc), dt);
    s->phase = 1; /* now the sender may send */
    rc = ssc_receive(c, hdr, data, sizeof data);
    if (rc || t_check(data, sizeof data, DATA_SEED) >= 0)
        t_note(s, RX, "receive after timeout: %s", ssc_strerror(rc));
    s->rc[RX] = rc;
    ssc_conn_close(c);
    ssc_listener_close(l);
    ssc_context_destroy(ctx);
}

static void late_sender(t_shared *s, const void *arg)
{
    (void)arg;
    ssc_context *ctx = t_context(s, TX, "tcp");
    ssc_conn *c;
    uint8_t *hdr = calloc(1, SSC_HEADER_SIZE);
    uint8_t data[1000];
    int rc;

    if (!ctx || (rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c)))
        return;
    double end = t_now() + 10;
    while (!s->phase && t_now() < end)
        t_sleep_ms(1);
    t_fill(data, sizeof data, DATA_SEED);
    s->rc[TX] = ssc_send(c, hdr, data, sizeof data);
    ssc_conn_close(c);
    ssc_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    t_filter = argc > 1 ? argv[1] : NULL;
    t_env_defaults();
    /* "sm": shared memory for real (error mode none, see T_SHM) */
    const char *tls[2] = {"tcp", T_SHM};
    const char *tname[2] = {"tcp", "sm"};
    char name[96];

    for (int k = 0; k < 2; k++) {
        struct { const char *label; uint64_t size; } sizes[] = {
            {"0B", 0}, {"1B", 1}, {"128KiB-1", (128u << 10) - 1},
            {"1GiB+7", (1ull << 30) + 7},
        };
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            snprintf(name, sizeof name, "roundtrip_%s_%s", tname[k], sizes[i].label);
            T_RUN(name, roundtrip(tls[k], sizes[i].size));
        }
    }
    T_RUN("checksum_ok_multi_chunk", checksum_ok());
    T_RUN("checksum_zero_bytes", checksum_zero_bytes());
    T_RUN("checksum_corrupt_both_sides", checksum_corrupt());
    T_RUN("lanes_2_tcp", lanes("tcp", "2", "2", (200u << 20) + 5));
    T_RUN("lanes_3_sm", lanes(T_SHM, "3", "3", (300u << 20) + 1));
    T_RUN("lanes_asked_3_allowed_2", lanes("tcp", "2", "3", (64u << 20) + 9));
    T_RUN("lanes_asked_2_allowed_1", lanes("tcp", "1", "2", 50u << 20));
    T_RUN("lanes_checksum_corrupt_on_lane_1", lanes_corrupt());
    T_RUN("writable_prefault_during_receive_sm_2_lanes", writable(T_SHM, 1, "2", (300u << 20) + 11));
    T_RUN("writable_prefault_during_receive_tcp", writable("tcp", 1, "1", (100u << 20) + 3));
    T_RUN("writable_watermark_holds_back_chunks", writable("tcp", 2, "2", (40u << 20) + 5));
    T_RUN("size_mismatch_tcp_canary_untouched", size_mismatch("tcp", 1u << 20, (1u << 20) + 1));
    T_RUN("size_mismatch_sm_larger_sent", size_mismatch(T_SHM, 3u << 20, 2u << 20));
    T_RUN("split_receive_reject_then_accept",
          run_pair(split_receiver, split_sender, NULL, SSC_OK, SSC_OK, 30));
    T_RUN("wrong_header_size_and_bad_magic",
          run_pair(raw_receiver, raw_sender, NULL, SSC_OK, SSC_OK, 30));
    T_RUN("two_concurrent_256MiB_tcp",
          run_pair(conc_receiver, conc_sender, "tcp", SSC_OK, SSC_OK, 60));
    T_RUN("two_concurrent_256MiB_sm",
          run_pair(conc_receiver, conc_sender, T_SHM, SSC_OK, SSC_OK, 60));
    /* the same with workers made ahead on both sides (ssc_context_keep_workers): 2 connections
     * and their lanes at once take the stock and what is made meanwhile */
    setenv("T_KEEP_WORKERS", "2", 1);
    T_RUN("two_concurrent_256MiB_sm_workers_ahead",
          run_pair(conc_receiver, conc_sender, T_SHM, SSC_OK, SSC_OK, 60));
    T_RUN("lanes_3_sm_workers_ahead", lanes(T_SHM, "3", "3", (100u << 20) + 7));
    unsetenv("T_KEEP_WORKERS");
    T_RUN("cancel_by_receiver", cancel_test(RX));
    T_RUN("cancel_by_sender", cancel_test(TX));
    T_RUN("receive_timeout_keeps_connection",
          run_pair(late_receiver, late_sender, NULL, SSC_OK, SSC_OK, 30));
    return t_main_end(__FILE__);
}
