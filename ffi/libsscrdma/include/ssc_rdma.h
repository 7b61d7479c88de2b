/*
 * ssc_rdma.h - libsscrdma, the SSC-RDMA transfer library of RemoteVis.
 *
 * THIS HEADER IS THE MANUAL.
 *
 * libsscrdma moves one large buffer (the "payload", e.g. a volume) plus one
 * fixed-size 128 KiB application "header" from a sender to a receiver. It is
 * a thin layer over UCX UCP: RDMA verbs/RoCE where present, shared memory
 * (CMA) between processes of one host, TCP otherwise. UCX picks the transport;
 * restrict it with the usual UCX environment, e.g. UCX_TLS=tcp or
 * UCX_TLS=sm,tcp (UCX_TLS=shm alone cannot listen, keep tcp in the list).
 *
 * Environment (read by ssc_context_create unless noted)
 * ----------------------------------------------------
 * - UCX_*: as usual for UCX. Two UCX defaults are changed unless the
 *   variable is set: UCX_KEEPALIVE_INTERVAL=1s (a silently vanished peer is
 *   found in seconds, not 20 s) and UCX_CM_REUSEADDR=y (a restarted server
 *   can listen on its port while old connections linger in TIME_WAIT).
 * - SSC_UCX_ERR_MODE=none: create endpoints without UCX peer-failure
 *   handling. By default (PEER mode) UCX 1.13 uses only transports that can
 *   report a failed peer, which excludes shared memory: on one host,
 *   UCX_TLS=sm,tcp then runs over TCP loopback. With "none" UCX uses
 *   sysv/posix shared memory + CMA (about 1.5x faster on one host); a dead
 *   peer is still reported (by the connection manager, keepalive or the
 *   stall timeout), but UCX itself may log errors about unhandled failures.
 * - SSC_CHUNK_BYTES: default chunk size (see ssc_opts.chunk_bytes); read at
 *   every transfer.
 * - SSC_LANES=1..4: lanes of a payload. A lane is one more UCX worker and
 *   thread on each side, with its own endpoint (TCP: its own socket); chunk
 *   i travels on lane i % lanes. One worker copies with one thread (over
 *   shared memory one process_vm_readv at a time, about 0.6x of a memcpy);
 *   two lanes copy at once (H200 host, 1 GiB over shared memory: 9.0-9.4
 *   GB/s with 2 lanes, 4.4-5.3 with one; TCP loopback 7.0-8.0 vs 4.3-4.9).
 *   Default: 2 on hosts with 8 or more online CPUs, else 1 (a lane keeps a
 *   core busy on each side while data moves). The sender asks for its
 *   number, the receiver grants at most its own; payloads of fewer than two
 *   chunks use one lane. The extra lanes are set up by the first transfer
 *   that uses them (one round trip) and closed with the connection.
 * - SSC_DEBUG=1: diagnostics on stderr; read once.
 *
 * Typical use
 * -----------
 *   receiver                                sender
 *   ssc_context_create(&ctx)                ssc_context_create(&ctx)
 *   ssc_listen(ctx, NULL, 0, &l)
 *   port = ssc_listener_port(l)   --port out of band-->
 *   ssc_accept(l, 30000, &c)      <------   ssc_connect(ctx, host, port, 30000, &c)
 *   buf = ssc_alloc(size)
 *   ssc_receive(c, hdr, buf, size) <-----   ssc_send(c, hdr, data, size)
 *   ssc_conn_close(c) ...                   ssc_conn_close(c) ...
 *
 * The payload size is agreed out of band (both sides pass it); the receiver
 * checks it before a single payload byte is written. Applications that want
 * to look at the header first (a secret, the shape) use the split receive:
 * ssc_receive_header() then ssc_receive_payload() or ssc_reject().
 *
 * Conventions (all functions)
 * ---------------------------
 * - Return codes: SSC_OK (0) on success, a negative SSC_ERR_* on failure.
 *   ssc_strerror() turns any code into text.
 * - Output parameters (`**out`, `*size_out`, header buffers of the split
 *   receive) are written only on success. Exceptions are documented where the
 *   data moves zero-copy into a caller buffer (payload buffers).
 * - Handles are opaque; the caller owns what a *_create/listen/accept/connect
 *   call returns and releases it with the matching destroy/close call.
 *   Destroy/close functions accept NULL.
 * - Nothing here calls exit() or abort(), installs signal handlers, or prints
 *   (unless the environment has SSC_DEBUG=1, then diagnostics go to stderr).
 *   UCX itself logs according to UCX_LOG_LEVEL; set UCX_LOG_LEVEL=error to
 *   silence its warnings.
 * - Sizes are 64-bit everywhere; payloads above 4 GiB are supported.
 * - Processes: UCX is not fork-safe. Fork (or posix_spawn) children before
 *   ssc_context_create(), never after.
 *
 * Threads
 * -------
 * - ssc_context: thread-safe; create one per process and share it.
 * - ssc_listener / ssc_conn: each has its own UCX worker, so different
 *   connections (and the listener) may be used concurrently from different
 *   threads. One handle must not be used by two threads at the same time
 *   (serialize calls on one handle yourself); a handle may move between
 *   threads between calls.
 * - The only cross-thread interaction allowed during a call is through
 *   ssc_opts.progress (read it) and ssc_opts.cancel (write it).
 *
 * Timeouts
 * --------
 * Connection set-up (ssc_accept, ssc_connect) takes a total timeout. Transfers
 * take a *stall* timeout (ssc_opts.timeout_ms, default 10 s): the call fails
 * with SSC_ERR_TIMEOUT when no message or payload chunk completes for that
 * long. A chunk is the unit of progress, so keep
 *   chunk_bytes * window / bandwidth  well below  timeout_ms.
 * Peer death (process killed, host gone) is reported as SSC_ERR_PEER as soon
 * as UCX notices it (a closed socket is seen at once, measured ~10-100 ms
 * after SIGKILL on one host; UCX keepalive covers the rest) and at the latest
 * after the stall timeout. While a call waits with nothing to do for more
 * than 2 ms it sleeps in 50 us steps instead of spinning; while data moves
 * it polls.
 *
 * Connection state after errors
 * -----------------------------
 * "Connection stays usable": the two sides are still in step, the next
 * send/receive works. "Connection unusable": the call tore the connection
 * down (the peer sees SSC_ERR_PEER or the propagated reason); every later
 * transfer call on it returns SSC_ERR_PEER; only ssc_conn_close() is useful.
 */
#ifndef SSC_RDMA_H
#define SSC_RDMA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SSC_API __attribute__((visibility("default")))
#else
#define SSC_API
#endif

/** Fixed size of the application header, in bytes (128 KiB). */
#define SSC_HEADER_SIZE (128u * 1024u)

/** One UCX context. Thread-safe; create one per process and share it. */
typedef struct ssc_context ssc_context;
/** A listening socket address plus its own UCX worker. */
typedef struct ssc_listener ssc_listener;
/** One connection (own UCX worker + endpoint). Either side may send or receive. */
typedef struct ssc_conn ssc_conn;

/** Error codes. All are negative; SSC_OK is 0. */
enum {
    SSC_OK = 0,
    SSC_ERR_INVALID = -1,    /**< bad argument, or call out of order (e.g. payload before header) */
    SSC_ERR_NOMEM = -2,      /**< out of memory */
    SSC_ERR_UCX = -3,        /**< UCX failed to initialise or reported an internal error */
    SSC_ERR_TIMEOUT = -4,    /**< timeout (total for set-up, stall for transfers) */
    SSC_ERR_PEER = -5,       /**< peer closed, died or became unreachable mid-operation;
                                  also returned by every call on an unusable connection */
    SSC_ERR_REFUSED = -6,    /**< nobody listening at the address (connection refused) */
    SSC_ERR_ADDRESS = -7,    /**< bad host, cannot resolve, cannot bind, port in use */
    SSC_ERR_SIZE = -8,       /**< payload size differs from the announced/expected size */
    SSC_ERR_HEADER = -9,     /**< header message was not exactly SSC_HEADER_SIZE bytes */
    SSC_ERR_PROTOCOL = -10,  /**< bad magic/version, out-of-order or malformed message */
    SSC_ERR_CHECKSUM = -11,  /**< CRC32C of the received payload does not match */
    SSC_ERR_CANCELLED = -12, /**< cancelled through ssc_opts.cancel (by this side or the peer) */
    SSC_ERR_REJECTED = -13   /**< the receiver refused the transfer (ssc_reject) */
};

/**
 * Text for an error code. Never NULL: unknown codes give "unknown error".
 * The string is static; do not free it. Thread-safe.
 */
SSC_API const char *ssc_strerror(int err);

/** Library version, "1.1.0" (1.1: ssc_prefault_ex, ssc_opts.writable). Static string. Thread-safe. */
SSC_API const char *ssc_version(void);

/** ssc_opts.flags: the sender computes the CRC32C of the payload before
 *  sending (it goes out with the preamble); the receiver checksums the data
 *  as it arrives and both sides return SSC_ERR_CHECKSUM on a mismatch. Only
 *  the sender's flag matters (it is carried in the message); the receiver's
 *  is ignored. Cost: one pass over the payload on each side (~5 GB/s per
 *  core with SSE4.2). The sender's pass happens before the preamble leaves:
 *  for very large payloads the receiver's header wait (its timeout_ms) must
 *  allow for it. */
#define SSC_F_CHECKSUM 1u

/**
 * Per-transfer options. Every field is optional: zero-initialise the struct
 * (`ssc_opts o = {0};`) and set what you need, or pass NULL for defaults.
 * The struct is read at the start of the call (progress/cancel pointers are
 * used throughout the call and must stay valid until it returns).
 */
typedef struct ssc_opts {
    /** SSC_F_* bits (sender side). */
    uint32_t flags;
    /** Stall timeout in ms: no message or chunk completed for this long ->
     *  SSC_ERR_TIMEOUT. 0 = default 10000; negative = wait forever. */
    int32_t timeout_ms;
    /** Payload chunk size in bytes (sender side; the receiver follows the
     *  sender's chunking, announced in the preamble). 0 = default 64 MiB, or
     *  the environment variable SSC_CHUNK_BYTES (bytes, suffix K/M/G allowed)
     *  if set. Raised internally if the payload would need more than 2^32
     *  chunks. */
    uint64_t chunk_bytes;
    /** Chunks in flight at once (both sides). 0 = default 4, at most 64
     *  (larger values are clamped). */
    uint32_t window;
    /** If set: payload bytes completed so far, stored with atomic release
     *  stores (__atomic_store_n(p, v, __ATOMIC_RELEASE)) so that another
     *  thread may poll it. Starts at 0, ends at the payload size on success.
     *  On the receiving side it is the contiguous prefix that has landed:
     *  bytes [0, *progress) of the buffer are final (load it with acquire
     *  semantics), so another thread may consume them while the rest
     *  arrives (e.g. upload a volume to a GPU during its transfer). */
    volatile uint64_t *progress;
    /** If set: another thread stores a non-zero value to abort the call with
     *  SSC_ERR_CANCELLED. The connection is unusable afterwards (the peer is
     *  told and gets SSC_ERR_CANCELLED, or SSC_ERR_PEER if the notice is
     *  lost). A flag that is already set when the call starts cancels it at
     *  its first wait, also making the connection unusable. */
    volatile int32_t *cancel;
    /** Receiving side, if set: bytes [0, *writable) of the payload buffer
     *  may be written; chunks beyond it are posted once it has grown past
     *  them (load with acquire semantics; it must reach the payload size).
     *  With ssc_prefault_ex() on the same counter the receive starts while
     *  the buffer's pages are still being faulted in, and never writes into
     *  a page that is not (the stall timeout applies as usual). Added
     *  in 1.1: code built against 1.0 headers passes a shorter struct and
     *  must be rebuilt. */
    const volatile uint64_t *writable;
} ssc_opts;

/* ------------------------------------------------------------------------ */
/* Context                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Create a UCX context (UCP, tag matching, shared by many workers).
 * Reads the UCX_* environment and SSC_UCX_ERR_MODE at this moment (see
 * "Environment" above: keepalive 1 s and CM_REUSEADDR unless set by the
 * user).
 *
 * @param out  receives the context on success.
 * @return SSC_OK; SSC_ERR_INVALID (out NULL); SSC_ERR_NOMEM;
 *         SSC_ERR_UCX (UCX could not read its configuration or initialise,
 *         e.g. no usable transport in UCX_TLS).
 * Thread-safe.
 */
SSC_API int ssc_context_create(ssc_context **out);

/**
 * Keep `n` UCX workers made ahead for this context's next connections and
 * lanes. Every connection (ssc_connect, ssc_accept) and every extra lane has
 * a worker of its own, and making one costs ~8 ms where shared-memory
 * transports are enabled, on the path of the connection's first message.
 * With a stock, a thread of the context makes the next ones while
 * connections run. For processes that connect or accept more than once (a
 * server, a client of one); 0 (the default) makes each worker on demand.
 * ssc_context_destroy stops the thread and destroys the stock.
 * @param n  0..4.
 * @return SSC_OK; SSC_ERR_INVALID (ctx NULL, n > 4); SSC_ERR_NOMEM (no
 *         thread). Thread-safe.
 */
SSC_API int ssc_context_keep_workers(ssc_context *ctx, unsigned n);

/**
 * Destroy a context. NULL-safe. All listeners and connections created from it
 * must be closed first (otherwise the behaviour is undefined). Not to be
 * called while another thread uses the context.
 */
SSC_API void ssc_context_destroy(ssc_context *ctx);

/* ------------------------------------------------------------------------ */
/* Connections                                                              */
/* ------------------------------------------------------------------------ */

/**
 * Start listening for connections on bind_addr:port.
 *
 * @param ctx        context.
 * @param bind_addr  NULL or "0.0.0.0" for all IPv4 interfaces, or a numeric
 *                   IPv4 address / host name of this host. IPv4 only: UCX
 *                   1.13 corrupts its heap when a client connects over IPv6,
 *                   so IPv6 addresses give SSC_ERR_ADDRESS.
 * @param port       TCP port; 0 = any free port (ask ssc_listener_port()).
 * @param out        receives the listener on success.
 * @return SSC_OK; SSC_ERR_INVALID (ctx/out NULL); SSC_ERR_NOMEM;
 *         SSC_ERR_ADDRESS (cannot resolve bind_addr, cannot bind, port in use);
 *         SSC_ERR_UCX (worker creation failed).
 * Connection requests that arrive while nobody calls ssc_accept() wait in a
 * small queue (16); further ones are rejected.
 */
SSC_API int ssc_listen(ssc_context *ctx, const char *bind_addr, uint16_t port,
                       ssc_listener **out);

/**
 * The port the listener is bound to (> 0), or SSC_ERR_INVALID if l is NULL.
 * Thread-safe (reads a value fixed at ssc_listen()).
 */
SSC_API int ssc_listener_port(const ssc_listener *l);

/**
 * Wait for one connection and complete the handshake with it.
 *
 * @param l           listener.
 * @param timeout_ms  time to wait for a connection request; negative =
 *                    forever; 0 = only take one that is already waiting.
 *                    The handshake with the client that arrived is bounded
 *                    separately (10 s).
 * @param out         receives the connection on success.
 * @return SSC_OK; SSC_ERR_INVALID (l/out NULL); SSC_ERR_TIMEOUT (nobody
 *         connected, or the client did not complete the handshake in time);
 *         SSC_ERR_PROTOCOL (the client is not an SSC peer or speaks another
 *         protocol version; that connection is dropped); SSC_ERR_PEER (the
 *         client went away during the handshake); SSC_ERR_NOMEM; SSC_ERR_UCX.
 * After an error the listener stays usable: call ssc_accept() again.
 * Not to be called concurrently on the same listener.
 */
SSC_API int ssc_accept(ssc_listener *l, int32_t timeout_ms, ssc_conn **out);

/**
 * Stop listening and free the listener. NULL-safe. Waiting, not yet accepted
 * connection requests are rejected. Connections accepted earlier are not
 * affected. Not to be called concurrently with ssc_accept() on it.
 */
SSC_API void ssc_listener_close(ssc_listener *l);

/**
 * Connect to a listener and complete the handshake. A connection has its own
 * UCX worker (and, with TCP, its own sockets): creating one costs a few ms;
 * keep it for many transfers.
 *
 * @param ctx         context.
 * @param host        numeric IPv4 address or host name (resolved to IPv4;
 *                    IPv6 gives SSC_ERR_ADDRESS, see ssc_listen()).
 * @param port        listener port (> 0).
 * @param timeout_ms  total time for connection + handshake; 0 = default
 *                    10000; negative = forever.
 * @param out         receives the connection on success.
 * @return SSC_OK; SSC_ERR_INVALID (NULL argument, port 0);
 *         SSC_ERR_ADDRESS (host cannot be resolved);
 *         SSC_ERR_REFUSED (nobody listening, no route to the host, or the
 *         listener rejected us);
 *         SSC_ERR_TIMEOUT (no answer in time: host unreachable, or the server
 *         does not call ssc_accept());
 *         SSC_ERR_PROTOCOL (the server is not an SSC peer / other version);
 *         SSC_ERR_PEER (the server closed during the handshake);
 *         SSC_ERR_NOMEM; SSC_ERR_UCX.
 * Thread-safe with respect to other connections of the same context.
 */
SSC_API int ssc_connect(ssc_context *ctx, const char *host, uint16_t port,
                        int32_t timeout_ms, ssc_conn **out);

/**
 * Close a connection and free it. NULL-safe. Never blocks more than about
 * 0.3 s (typically a few ms): if our last message was a final answer the
 * peer does not acknowledge (a verdict or refusal sent by the receiving
 * side), it is flushed out first (bounded 250 ms; quick while the peer still
 * waits for it); then the endpoint is closed (gracefully if healthy,
 * forcibly if failed) without waiting for the peer to confirm. The peer's
 * next call on its end returns SSC_ERR_PEER. Must not be called while
 * another thread is inside a call on the same connection. Buffers handed to
 * a failed call may be reused once the failed call returned.
 */
SSC_API void ssc_conn_close(ssc_conn *c);

/* ------------------------------------------------------------------------ */
/* Transfers                                                                */
/* ------------------------------------------------------------------------ */

/**
 * Send one header + payload. Same as ssc_send_ex(c, header, data, size, NULL).
 */
SSC_API int ssc_send(ssc_conn *c, const void *header, const void *data,
                     uint64_t size);

/**
 * Receive one header + payload. Same as
 * ssc_receive_ex(c, header, data, size, NULL).
 */
SSC_API int ssc_receive(ssc_conn *c, void *header, void *data, uint64_t size);

/**
 * Send SSC_HEADER_SIZE bytes of header and `size` bytes of payload, and wait
 * until the receiver confirmed it has all of it.
 *
 * Steps: preamble (magic, version, flags, size, chunk size, CRC32C if
 * SSC_F_CHECKSUM) and the header are sent; then the call waits for the
 * receiver's go/reject answer, so that a refused transfer never sends a
 * payload byte; then the payload goes in chunks (o->window in flight);
 * finally the receiver's verdict (ok / checksum mismatch) is awaited.
 *
 * @param c       connection.
 * @param header  SSC_HEADER_SIZE readable bytes (not NULL).
 * @param data    `size` readable bytes; may be NULL only if size is 0.
 *                Must not be modified until the call returns.
 * @param size    payload bytes, 0 allowed; must equal what the receiver expects.
 * @param o       options or NULL (flags, timeout_ms, chunk_bytes, window,
 *                progress, cancel).
 * @return SSC_OK: the receiver has the whole payload (and verified the
 *         checksum if SSC_F_CHECKSUM). If the receiver closed right after
 *         its verdict, SSC_OK is still returned and the connection is then
 *         unusable.
 *   Connection stays usable (unless the receiver closed its end meanwhile;
 *   the next call then returns SSC_ERR_PEER):
 *   - SSC_ERR_SIZE: the receiver expected another size; nothing was sent.
 *   - SSC_ERR_REJECTED: the receiver refused (ssc_reject); nothing was sent.
 *   - SSC_ERR_HEADER: the receiver reported a bad header (cannot happen
 *     between two copies of this library).
 *   - SSC_ERR_CHECKSUM: the receiver's CRC32C differed (payload damaged).
 *   - SSC_ERR_INVALID: bad arguments (NULL c/header, NULL data with size>0).
 *   Connection unusable:
 *   - SSC_ERR_PEER: peer closed or died; also any call on an already
 *     unusable connection.
 *   - SSC_ERR_TIMEOUT: stall timeout.
 *   - SSC_ERR_CANCELLED: *o->cancel became non-zero, or the receiver cancelled.
 *   - SSC_ERR_PROTOCOL: the peer answered with a malformed message.
 *   - SSC_ERR_NOMEM, SSC_ERR_UCX.
 */
SSC_API int ssc_send_ex(ssc_conn *c, const void *header, const void *data,
                        uint64_t size, const ssc_opts *o);

/**
 * Receive one transfer: ssc_receive_header() followed by
 * ssc_receive_payload(c, data, size, o). A size mismatch is answered with a
 * rejection (the sender gets SSC_ERR_SIZE) before any payload byte is written.
 *
 * @param header  SSC_HEADER_SIZE writable bytes (not NULL); written once the
 *                header arrived intact, i.e. also when the payload phase
 *                later fails (with SSC_ERR_SIZE included).
 * @param data    `size` writable bytes; NULL only if size is 0. The payload
 *                is written directly into it (zero copies; page-aligned,
 *                pre-faulted memory from ssc_alloc() is fastest). On failure
 *                it may hold part of the payload, except for SSC_ERR_SIZE,
 *                SSC_ERR_HEADER and errors before the payload phase, which
 *                leave it untouched.
 * @param size    expected payload size (agreed out of band), 0 allowed.
 * @return the codes of ssc_receive_header() and ssc_receive_payload().
 */
SSC_API int ssc_receive_ex(ssc_conn *c, void *header, void *data,
                           uint64_t size, const ssc_opts *o);

/**
 * First half of a split receive: wait for the next transfer's preamble and
 * header, without accepting the payload yet. Must be followed by exactly one
 * ssc_receive_payload() or ssc_reject() on the same connection (the sender is
 * waiting for that answer, with its own stall timeout).
 *
 * @param header    SSC_HEADER_SIZE writable bytes, written only on success.
 * @param size_out  receives the announced payload size (may be NULL).
 * @param o         options or NULL; timeout_ms bounds the wait for the sender
 *                  to start (its stall timeout), cancel aborts the wait.
 * @return SSC_OK.
 *   Connection stays usable:
 *   - SSC_ERR_TIMEOUT: no transfer started within the timeout (no preamble
 *     arrived; nothing was consumed; call again). A timeout between preamble
 *     and header makes the connection unusable.
 *   - SSC_ERR_HEADER: the header message was not exactly SSC_HEADER_SIZE
 *     bytes; the sender was told (rejection), the transfer is over.
 *   - SSC_ERR_INVALID: bad arguments, or a previous header is still waiting
 *     for ssc_receive_payload()/ssc_reject().
 *   Connection unusable:
 *   - SSC_ERR_PROTOCOL: bad magic/version, wrong sequence, malformed preamble.
 *   - SSC_ERR_PEER, SSC_ERR_CANCELLED, SSC_ERR_NOMEM, SSC_ERR_UCX.
 */
SSC_API int ssc_receive_header(ssc_conn *c, void *header, uint64_t *size_out,
                               const ssc_opts *o);

/**
 * Second half of a split receive: accept the announced payload and receive it
 * into `data` (zero copies), verify the checksum if the sender asked for one,
 * and tell the sender the outcome.
 *
 * @param data  `size` writable bytes (NULL only if size is 0).
 * @param size  must equal the announced size; otherwise the transfer is
 *              rejected with SSC_ERR_SIZE on both sides and `data` is not
 *              touched.
 * @param o     options or NULL (timeout_ms, window, progress, cancel).
 * @return SSC_OK: `data` holds the payload (checksum verified if flagged).
 *   Connection stays usable:
 *   - SSC_ERR_SIZE: size differs from the announced size (sender told).
 *   - SSC_ERR_CHECKSUM: payload arrived but its CRC32C differs (sender told).
 *   - SSC_ERR_INVALID: no header pending (call ssc_receive_header() first),
 *     or data NULL with size > 0 (the header stays pending).
 *   Connection unusable:
 *   - SSC_ERR_PEER, SSC_ERR_TIMEOUT, SSC_ERR_CANCELLED (this side's flag or
 *     the sender's), SSC_ERR_PROTOCOL (malformed chunk), SSC_ERR_NOMEM,
 *     SSC_ERR_UCX. `data` may hold part of the payload.
 */
SSC_API int ssc_receive_payload(ssc_conn *c, void *data, uint64_t size,
                                const ssc_opts *o);

/**
 * Refuse the transfer whose header ssc_receive_header() returned. The sender's
 * ssc_send() returns SSC_ERR_SIZE if reason is SSC_ERR_SIZE, SSC_ERR_HEADER if
 * reason is SSC_ERR_HEADER, else SSC_ERR_REJECTED. No payload byte moves.
 *
 * @param reason  a negative SSC error code (e.g. SSC_ERR_REJECTED).
 * @return SSC_OK (connection stays usable for the next transfer);
 *         SSC_ERR_INVALID (c NULL, reason >= 0, or no header pending);
 *         SSC_ERR_PEER (the sender is gone; connection unusable).
 */
SSC_API int ssc_reject(ssc_conn *c, int reason);

/* ------------------------------------------------------------------------ */
/* Buffers and checksums                                                    */
/* ------------------------------------------------------------------------ */

/**
 * Allocate a receive buffer: page-aligned (2 MiB-aligned from 2 MiB up),
 * backed by transparent huge pages where the kernel allows (MADV_HUGEPAGE),
 * zero-filled, and pre-faulted by several threads in parallel, because first
 * writes into fresh pages otherwise cap receiving at about 2 GB/s.
 * Pre-faulting commits the memory: it costs time at allocation instead of
 * during the transfer (measured 0.03 s per GiB on a 16-core host, 0.2-1 s
 * per GiB on a 2-vCPU VM). Memory the kernel cannot provide while
 * pre-faulting is handled by the kernel (OOM killer), as for any first
 * touch; SSC_ERR_NOMEM only reports a failed mapping.
 *
 * @param size  bytes, > 0.
 * @param out   receives the pointer on success.
 * @return SSC_OK; SSC_ERR_INVALID (size 0, out NULL); SSC_ERR_NOMEM.
 * Thread-safe. Free with ssc_free(p, size) (same size).
 */
SSC_API int ssc_alloc(uint64_t size, void **out);

/**
 * ssc_alloc() in two steps, so that the pre-faulting can run while something
 * else does (a peer connecting): ssc_alloc_lazy() maps and aligns the buffer
 * and returns at once; ssc_prefault() then faults its pages in (one write of
 * a zero per page, on several threads), which must happen before anything is
 * written into the buffer. Faulting pages in while a transfer writes into
 * them was measured slower than either alone. Same results and ssc_free() as
 * ssc_alloc(); ssc_prefault() takes the size given to ssc_alloc_lazy().
 *
 * ssc_prefault_ex() faults the pages in address order (8 MiB blocks taken by
 * the threads in turn) and stores the length of the faulted prefix into
 * *ready as it grows (release stores; it ends >= size). A receive given the
 * same counter as ssc_opts.writable runs alongside it and writes only behind
 * it: the faulting (~0.02-0.03 s per GiB) is then off the transfer's path
 * except for its first block. ready may be NULL (= ssc_prefault()).
 * @return SSC_OK; SSC_ERR_INVALID (size 0, out or p NULL); SSC_ERR_NOMEM.
 * Thread-safe.
 */
SSC_API int ssc_alloc_lazy(uint64_t size, void **out);
SSC_API int ssc_prefault(void *p, uint64_t size);
SSC_API int ssc_prefault_ex(void *p, uint64_t size, volatile uint64_t *ready);

/** Free a buffer from ssc_alloc(). NULL-safe. `size` must be the size given to
 *  ssc_alloc(). Thread-safe. */
SSC_API void ssc_free(void *p, uint64_t size);

/**
 * CRC32C (Castagnoli, the iSCSI polynomial) of `size` bytes, continuing from
 * `crc` (pass 0 to start; pass a previous result to continue over the next
 * block). Uses the SSE4.2 instruction when the CPU has it, a table otherwise;
 * both give the same result. ssc_crc32c(0, "123456789", 9) == 0xE3069283.
 * data may be NULL only if size is 0. Thread-safe.
 */
SSC_API uint32_t ssc_crc32c(uint32_t crc, const void *data, uint64_t size);

#ifdef __cplusplus
}
#endif

#endif /* SSC_RDMA_H */
