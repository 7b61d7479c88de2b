/*
 * internal.h - private types and helpers of libsscrdma. Not installed.
 *
 * Everything declared here has hidden visibility in the shared library (the
 * library is built with -fvisibility=hidden and only SSC_API symbols are
 * exported); the tests link the static archive to reach the test hooks.
 */
#ifndef SSC_INTERNAL_H
#define SSC_INTERNAL_H

#include "ssc_rdma.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <ucp/api/ucp.h>

/* ---- wire protocol ----------------------------------------------------- */

#define SSC_MAGIC 0x52435353u /* "SSCR" read as a little-endian uint32 */
#define SSC_PROTO_VERSION 1u

/* A tag is kind (8 bits) | sequence (24 bits) | chunk index (32 bits).
 * The kind keeps control messages of both directions apart (either side may
 * send); the sequence number keeps transfers apart so that a late message
 * of an aborted transfer can never match the next one. */
enum ssc_kind {
    SSC_K_HELLO = 1,    /* client -> server: ssc_hello */
    SSC_K_WELCOME = 2,  /* server -> client: ssc_hello (code = verdict) */
    SSC_K_PREAMBLE = 3, /* sender -> receiver: ssc_preamble */
    SSC_K_HEADER = 4,   /* sender -> receiver: SSC_HEADER_SIZE bytes */
    SSC_K_ANSWER = 5,   /* receiver -> sender: ssc_notice, 0 = go, <0 = reject */
    SSC_K_CHUNK = 6,    /* sender -> receiver: payload chunk, index in tag */
    SSC_K_STATUS = 7,   /* receiver -> sender: ssc_notice, final verdict */
    SSC_K_ABORT = 8,    /* sender -> receiver: ssc_notice, sender gave up */
    SSC_K_LANES = 9     /* receiver -> sender: ssc_lanes_msg (lanes.c) */
};

/* Preamble flag (internal): the sender would stripe the payload over
 * `reserved` lanes in all (lanes.c); the receiver answers with SSC_K_LANES
 * before its go. */
#define SSC_F_LANES 0x100u
#define SSC_MAX_LANES 4u

#define SSC_TAG_KIND_MASK (0xffull << 56)
#define SSC_TAG_SEQ_MASK (0xffffffull << 32)
#define SSC_TAG_FULL_MASK (~0ull)

static inline uint64_t ssc__tag(unsigned kind, uint64_t seq, uint32_t index)
{
    return ((uint64_t)kind << 56) | ((seq & 0xffffffull) << 32) | index;
}

/* Messages are sent in host byte order: UCX transports here connect
 * little-endian x86-64/aarch64 hosts. The magic check would catch a
 * big-endian peer as SSC_ERR_PROTOCOL. */
typedef struct ssc_hello {
    uint32_t magic;
    uint32_t version;
    int32_t code; /* WELCOME only: 0 = accepted, <0 = refused */
    uint32_t reserved;
} ssc_hello;

typedef struct ssc_preamble {
    uint32_t magic;
    uint16_t version;
    uint16_t flags;    /* SSC_F_* of the sender */
    uint64_t seq;      /* sender's transfer number, must match ours */
    uint64_t size;     /* payload bytes */
    uint64_t chunk;    /* payload chunk size chosen by the sender */
    uint32_t crc;      /* CRC32C of the payload if SSC_F_CHECKSUM */
    uint32_t reserved;
} ssc_preamble;

typedef struct ssc_notice {
    uint32_t magic;
    int32_t code;
    uint64_t seq;
} ssc_notice;

/* ---- handles ----------------------------------------------------------- */

struct ssc_context {
    ucp_context_h ucp;
    /* lanes a sender asks for (SSC_LANES, else 2 on hosts with 8 or more
     * CPUs, else 1) and the most a receiver opens (the same rule) */
    unsigned lanes;
    /* UCX error handling of every endpoint. PEER unless the environment
     * says SSC_UCX_ERR_MODE=none: UCX 1.13 then also uses transports that
     * cannot report peer failure (shared memory: sysv/posix + cma), and
     * peer death is found by the connection manager or the stall timeout. */
    ucp_err_handling_mode_t err_mode;
    /* workers made ahead (workers.c, ssc_context_keep_workers) */
    pthread_mutex_t wlock;
    pthread_cond_t wcond;
    ucp_worker_h stock[4];
    unsigned nstock, keep;
    int wstop, keeper_on;
    pthread_t keeper;
};

#define SSC_ACCEPT_QUEUE 16

struct ssc_listener {
    ssc_context *ctx;
    ucp_worker_h worker;
    ucp_listener_h ucp_listener;
    int port;
    /* connection requests seen by the callback, not yet accepted; written
     * and read only from progress of this listener's worker (one thread) */
    ucp_conn_request_h queue[SSC_ACCEPT_QUEUE];
    unsigned queue_len;
};

/* An extra lane of a connection (lanes.c): its own worker (driven by its own
 * thread during a payload) and, on the sending side, an endpoint to the
 * receiver's lane worker. Lanes carry payload chunks only. */
typedef struct ssc_lane {
    ucp_worker_h worker;
    ucp_ep_h ep;            /* sender side only */
    volatile int ep_status; /* UCS_OK while healthy (error callback) */
} ssc_lane;

/* The receiver's lane addresses: magic, seq, count, then per lane its
 * address length (uint32) and bytes. */
#define SSC_LANES_MSG_MAX 16384u
typedef struct ssc_lanes_msg {
    uint32_t magic;
    uint32_t count; /* extra lanes (0 .. SSC_MAX_LANES - 1) */
    uint64_t seq;
    uint8_t addr[SSC_LANES_MSG_MAX - 16];
} ssc_lanes_msg;

struct ssc_conn {
    ssc_context *ctx;
    ucp_worker_h worker;
    ucp_ep_h ep;
    /* set by the UCX error callback (worker progress); UCS_OK while healthy */
    volatile int ep_status;
    /* 0 while usable; the error that made the connection unusable otherwise */
    int dead;
    uint64_t tx_seq; /* next transfer number we send */
    uint64_t rx_seq; /* next transfer number we expect */
    /* our last message was a final notice (verdict/refusal) that the peer
     * does not acknowledge; conn_close flushes it out */
    int unacked;
    /* split receive: a header was returned, payload/reject still owed */
    int pending;
    ssc_preamble pre; /* preamble of the pending transfer */
    /* staging area for the incoming header: the caller's buffer is written
     * only once the header is known to be intact (outputs only on success) */
    void *hdr_stage;
    /* message buffers: they live as long as the connection because an
     * aborted request may still reference them until the worker is gone */
    ssc_hello hello_out, hello_in;
    ssc_preamble pre_out, pre_in;
    ssc_notice notice_out;               /* outgoing answer/status/abort */
    ssc_notice answer_in, status_in;     /* sender side */
    ssc_notice abort_in;                 /* receiver side */
    /* extra lanes, set up by the first transfer that asks for them */
    unsigned nlanes;
    ssc_lane lane[SSC_MAX_LANES - 1];
    ssc_lanes_msg *lanes_msg; /* in/out buffer of SSC_K_LANES (malloc'd) */
};

/* ---- requests and the progress loop (wire.c) ---------------------------- */

typedef struct ssc_req {
    void *req;          /* UCX request while in flight, NULL otherwise */
    int active;         /* posted and not yet completed */
    int is_recv;
    ucs_status_t status; /* final status once completed */
    size_t length;       /* received bytes (receives) */
    uint64_t bytes;      /* caller's bookkeeping (chunk length) */
    uint64_t index;      /* caller's bookkeeping (chunk index) */
} ssc_req;

/* Post operations. Afterwards the request is either active or already
 * completed (active == 0, status set, possibly to an error). */
void ssc__post_send(ssc_conn *c, ssc_req *r, uint64_t tag, const void *buf,
                    size_t len);
void ssc__post_recv(ssc_conn *c, ssc_req *r, uint64_t tag, uint64_t mask,
                    void *buf, size_t len);
/* The same on a given endpoint / worker (lanes). */
void ssc__post_send_ep(ucp_ep_h ep, ssc_req *r, uint64_t tag, const void *buf,
                       size_t len);
void ssc__post_recv_w(ucp_worker_h worker, ssc_req *r, uint64_t tag,
                      uint64_t mask, void *buf, size_t len);
/* Give up requests on a worker: cancel receives, force-close *ep (if any,
 * set to NULL), progress until UCX let go of every request (bounded),
 * release them. */
void ssc__abandon(ucp_worker_h worker, ucp_ep_h *ep, ssc_req *reqs, size_t n);
/* Poll: returns 1 if the request has completed (now or before). */
int ssc__req_test(ssc_req *r);
/* Cancel (receives only; sends complete when the endpoint closes) and
 * release; safe on inactive requests. */
void ssc__req_cancel(ssc_conn *c, ssc_req *r);
void ssc__req_release(ssc_req *r);
/* Cancel + collect + release: for a receive that is no longer wanted. */
void ssc__req_drop(ssc_conn *c, ssc_req *r);

typedef struct ssc_waiter {
    ssc_conn *c;
    ucp_worker_h worker;          /* c's, or a lane's */
    volatile int *ep_status;      /* c's, a lane's, or NULL (receiving lane) */
    int64_t stall_ns;       /* <0: forever */
    int64_t deadline_ns;    /* absolute total deadline, 0 = none */
    int64_t last_done_ns;   /* last completion (stall clock) */
    int64_t last_event_ns;  /* last time progress did anything (idle backoff) */
    volatile int32_t *cancel;
} ssc_waiter;

int64_t ssc__now_ns(void);
/* Sleep a little, longer the longer nothing happened (50 us .. 1 ms). */
void ssc__idle_sleep(int64_t idle_ns);
void ssc__waiter_init(ssc_waiter *w, ssc_conn *c, int32_t timeout_ms,
                      volatile int32_t *cancel);
/* The same for a lane's worker (ep_status NULL on a receiving lane). */
void ssc__waiter_init_lane(ssc_waiter *w, ucp_worker_h worker,
                           volatile int *ep_status, int32_t timeout_ms,
                           volatile int32_t *cancel);
/* Record that something completed: restarts the stall clock. */
void ssc__waiter_done(ssc_waiter *w);
/* One round of progress. Returns 0, or SSC_ERR_PEER (endpoint failed),
 * SSC_ERR_CANCELLED, SSC_ERR_TIMEOUT. Sleeps briefly when idle for long. */
int ssc__waiter_step(ssc_waiter *w);
/* Wait until all given requests completed (or an error). */
int ssc__wait_all(ssc_waiter *w, ssc_req *reqs, size_t n);

/* Make the connection unusable after a fatal error: cancel the given
 * requests, force-close the endpoint (the peer sees the connection drop),
 * and progress until UCX let go of every request (bounded). */
void ssc__conn_kill(ssc_conn *c, int err, ssc_req *reqs, size_t n);

/* Send a small notice (c->notice_out) in request slot r and wait (bounded
 * by w) until it left. On error r may still be active: kill with it. */
int ssc__send_notice(ssc_waiter *w, ssc_req *r, unsigned kind, uint64_t seq,
                     int32_t code);
/* Push what was sent onto the wire (bounded): a completed send may still
 * sit in a transport queue, and a force-close would drop it. */
void ssc__ep_flush(ssc_conn *c, int64_t limit_ns);
/* A received notice is well-formed and belongs to transfer seq. */
int ssc__notice_valid(const ssc_req *r, const ssc_notice *n, uint64_t seq);

/* ---- checks of received messages (validate.c, fuzzed by fuzz/) ---------- */

/* `len` is the length UCX reported: the bytes that arrived in the struct. */
int ssc__hello_valid(const ssc_hello *h, size_t len);
/* A preamble of transfer `seq` we can follow: known flags, and a chunk size
 * whose chunk count fits the tag's 32-bit index. */
int ssc__preamble_valid(const ssc_preamble *p, size_t len, uint64_t seq);
int ssc__notice_ok(const ssc_notice *n, size_t len, uint64_t seq);
/* A valid SSC_K_LANES message of transfer seq (every address inside the
 * `len` bytes that arrived): its lane count, or -1. */
int ssc__lanes_msg_count(const ssc_lanes_msg *m, size_t len, uint64_t seq);
/* Chunk geometry of a valid preamble: how many chunks, the length of chunk
 * `index`, and how many bytes from `off` (at most `slice`) the checksum may
 * take without leaving the chunk that holds `off`. */
uint64_t ssc__chunk_count(uint64_t size, uint64_t chunk);
uint64_t ssc__chunk_len(uint64_t size, uint64_t chunk, uint64_t index);
uint64_t ssc__crc_slice(uint64_t size, uint64_t chunk, uint64_t off,
                        uint64_t slice);

/* Map a UCX status to an ssc error code (generic mapping; callers map
 * phase-specific statuses such as truncation themselves). */
int ssc__from_ucs(ucs_status_t st);
/* Error of a completed-with-error request: SSC_ERR_PEER if the endpoint
 * failed, else the generic mapping. */
int ssc__req_error(ssc_conn *c, const ssc_req *r);

/* ---- options (opts.c) -------------------------------------------------- */

typedef struct ssc_params {
    uint32_t flags;
    int32_t timeout_ms; /* resolved: >0, or <0 = forever */
    uint64_t chunk;
    uint32_t window;
    volatile uint64_t *progress;
    volatile int32_t *cancel;
    const volatile uint64_t *writable; /* receiver: post only below it */
} ssc_params;

void ssc__params_resolve(const ssc_opts *o, ssc_params *p);
/* Chunk size for a payload: the requested size, raised so that the index
 * fits the 32 bits of the tag. */
uint64_t ssc__chunk_for(uint64_t chunk, uint64_t size);

static inline void ssc__progress_store(volatile uint64_t *p, uint64_t v)
{
    if (p)
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline int ssc__cancelled(volatile int32_t *c)
{
    return c && __atomic_load_n(c, __ATOMIC_ACQUIRE) != 0;
}

/* ---- lanes (lanes.c) ----------------------------------------------------- */

/* SSC_LANES, else 2 with 8 or more online CPUs, else 1; at most SSC_MAX_LANES. */
unsigned ssc__lanes_default(void);
/* c->lanes_msg, allocated on first use. */
int ssc__lanes_buffer(ssc_conn *c);
/* Receiver: open lane workers up to `want` lanes in all (keeps what exists;
 * fewer when UCX cannot make more) and fill c->lanes_msg for transfer seq.
 * Returns the message length. */
size_t ssc__lanes_offer(ssc_conn *c, unsigned want, uint64_t seq);
/* Sender: connect to the lanes of a received SSC_K_LANES message (first time
 * only) and wait until each endpoint is wired up (bounded by w). Returns
 * SSC_OK and the lanes to use in all (*total >= 1), or an error. */
int ssc__lanes_connect(ssc_conn *c, ssc_waiter *w, size_t len, uint64_t seq,
                       unsigned *total);
/* Close and destroy the extra lanes (connection close). */
void ssc__lanes_close(ssc_conn *c);

/* Payload over several lanes at once: lane 0 is the connection itself,
 * driven by the calling thread; lanes 1.. run in threads of their own. */
typedef struct ssc_stripe {
    ssc_conn *c;
    const ssc_params *p;
    uint8_t *data;
    uint64_t size, chunk, nchunks, seq;
    unsigned lanes;
    volatile int err;              /* first error of any lane (0 = none) */
    volatile uint64_t done;        /* sender: bytes acknowledged */
    volatile uint64_t events;      /* completions on lanes 1.. (stall clock) */
    volatile unsigned finished;    /* lanes 1.. that returned */
    /* receiver: chunk landed / waits for the checksum, by index modulo the
     * ring, and the landed prefix (lanes post within a ring of it) */
    volatile uint8_t landed[256];
    volatile uint8_t crc_due[256];
    volatile uint64_t prefix;
    volatile uint64_t crc_off;
} ssc_stripe;

typedef struct ssc_lane_job {
    ssc_stripe *s;
    unsigned lane; /* 1 .. lanes - 1 */
    pthread_t thread;
    int started;
} ssc_lane_job;

/* Sender: bytes acknowledged on a lane; the progress counter only grows. */
void ssc__stripe_sent(ssc_stripe *s, uint64_t bytes);
/* The first error wins. */
void ssc__stripe_fail(ssc_stripe *s, int err);
/* One round of a lane's work on its window: post, collect. 1 when all of the
 * lane's chunks are done, 0 while some are outstanding, or an error. */
typedef int (*ssc_lane_step)(ssc_stripe *s, ssc_lane *l, ssc_waiter *w, ssc_req *win,
                             uint64_t *next, unsigned *inflight);
/* The body of the thread of lane j->lane: steps until its chunks are done,
 * another lane failed, or it stalls; on an error its requests are given up
 * (and a sending lane's endpoint closed) before it counts itself finished. */
void ssc__lane_run(ssc_lane_job *j, ssc_lane_step step, int sending);
/* Run fn(&jobs[k]) in a thread for each lane k = 1 .. s->lanes - 1
 * (jobs[0] unused). A thread that cannot start fails the stripe. */
void ssc__stripe_start(ssc_stripe *s, void *(*fn)(void *), ssc_lane_job *jobs);
void ssc__stripe_join(ssc_stripe *s, ssc_lane_job *jobs);
/* Lane 0's look at the others in each round: their completions restart its
 * stall clock (*seen: the count it saw last); returns a lane's error or 0. */
int ssc__stripe_watch(ssc_stripe *s, ssc_waiter *w, uint64_t *seen);
/* End of lane 0's loop with result rc: on an error the other lanes stop;
 * every lane thread has ended when this returns rc. */
int ssc__stripe_end(ssc_stripe *s, ssc_lane_job *jobs, int rc);

/* ---- connections (conn.c) ---------------------------------------------- */

/* Create a connection object with its worker; ep is created by the caller. */
int ssc__conn_new(ssc_context *ctx, ssc_conn **out);

/* ---- workers.c ---- */
/* A worker for a connection or a lane: from the stock, else made now. */
int ssc__worker_new(ssc_context *ctx, ucp_worker_h *out);
void ssc__workers_init(ssc_context *ctx);
/* Stops the stock keeper and destroys the stock (before ucp_cleanup). */
void ssc__workers_end(ssc_context *ctx);
void ssc__conn_free(ssc_conn *c);
/* Server side: endpoint for a queued request + handshake (owns req). */
int ssc__conn_from_request(ssc_listener *l, ucp_conn_request_h req,
                           ssc_conn **out);
void ssc__ep_error_cb(void *arg, ucp_ep_h ep, ucs_status_t status);
/* Usability check at the start of every transfer call. */
int ssc__conn_check(ssc_conn *c);

/* ---- checksum (checksum.c) -------------------------------------------- */

uint32_t ssc__crc32c_sw(uint32_t crc, const void *data, uint64_t size);
/* 1 if ssc_crc32c uses the SSE4.2 instruction */
int ssc__crc32c_hw_available(void);

/* ---- misc -------------------------------------------------------------- */

int ssc__debug_enabled(void);
void ssc__debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define SSC_DEBUG(...)                                                       \
    do {                                                                     \
        if (ssc__debug_enabled())                                            \
            ssc__debug(__VA_ARGS__);                                         \
    } while (0)

/* Test hooks (tests link the static archive). */
/* >= 0: the receiver flips the payload byte at this offset after the last
 * chunk arrived and before verifying the checksum. */
extern volatile int64_t ssc__test_corrupt_at;

#endif /* SSC_INTERNAL_H */
