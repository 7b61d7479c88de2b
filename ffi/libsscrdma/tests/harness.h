/*
 * harness.h - tiny test harness for libsscrdma's C tests.
 *
 * Each test case prints "ok NAME" or "FAIL NAME: reason". tests/run.sh adds
 * them up. Cases that need two peers fork them from a parent that never
 * initialises UCX (UCX is not fork-safe): each child sets its UCX_TLS and
 * then creates its own context. Children report through a shared mapping.
 */
#ifndef SSC_TEST_HARNESS_H
#define SSC_TEST_HARNESS_H

#define _GNU_SOURCE
#include "internal.h"
#include "ssc_rdma.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int t_passed, t_failed;
/* optional first argument: run only cases whose name contains it */
static const char *t_filter;
#define T_SKIP(name) (t_filter && !strstr((name), t_filter))

static __attribute__((unused)) double t_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static __attribute__((unused)) void t_sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);
}

/* A case may leave one line of information (timings) here; it is printed
 * after the case's result line. */
static char t_info[256];
#define T_INFO(...) snprintf(t_info, sizeof t_info, __VA_ARGS__)
static __attribute__((unused)) void t_info_flush(void)
{
    if (t_info[0])
        printf("# %s\n", t_info);
    t_info[0] = 0;
}

/* A case returns NULL on success or a reason (static or t_why buffer). */
static char t_why[512];
static __attribute__((unused)) const char *t_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_why, sizeof t_why, fmt, ap);
    va_end(ap);
    return t_why;
}

#define T_RUN(name, call)                                                    \
    do {                                                                     \
        if (T_SKIP(name))                                                    \
            break;                                                           \
        double t0_ = t_now();                                                \
        const char *why_ = (call);                                           \
        if (why_) {                                                          \
            printf("FAIL %s: %s\n", name, why_);                             \
            t_failed++;                                                      \
        } else {                                                             \
            printf("ok %s (%.2f s)\n", name, t_now() - t0_);                 \
            t_passed++;                                                      \
        }                                                                    \
        t_info_flush();                                                      \
        fflush(stdout);                                                      \
    } while (0)

static __attribute__((unused)) int t_main_end(const char *file)
{
    printf("# %s: %d passed, %d failed\n", file, t_passed, t_failed);
    return t_failed ? 1 : 0;
}

/* Run from a shell without tests/run.sh: UCX reads UCX_LOG_LEVEL when the
 * library loads, before main, so it can only be set by the caller. */
static __attribute__((unused)) void t_env_defaults(void)
{
    if (!getenv("UCX_LOG_LEVEL"))
        fprintf(stderr, "# hint: UCX_LOG_LEVEL=error silences UCX warnings\n");
}

/* Silence stdout and stderr (UCX logs to stdout by default) around a case
 * that provokes UCX errors on purpose. */
typedef struct t_quiet { int out, err; } t_quiet;

static __attribute__((unused)) t_quiet t_quiet_begin(void)
{
    t_quiet q;
    fflush(stdout);
    fflush(stderr);
    q.out = dup(1);
    q.err = dup(2);
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        dup2(fileno(null), 1);
        dup2(fileno(null), 2);
        fclose(null);
    }
    return q;
}

static __attribute__((unused)) void t_quiet_end(t_quiet q)
{
    fflush(stdout);
    fflush(stderr);
    if (q.out >= 0) {
        dup2(q.out, 1);
        close(q.out);
    }
    if (q.err >= 0) {
        dup2(q.err, 2);
        close(q.err);
    }
}

/* T_RUN with UCX's output silenced while the case runs. */
#define T_RUN_QUIET(name, call)                                              \
    do {                                                                     \
        if (T_SKIP(name))                                                    \
            break;                                                           \
        t_quiet q_ = t_quiet_begin();                                        \
        double t0_ = t_now();                                                \
        const char *why_ = (call);                                           \
        double dt_ = t_now() - t0_;                                          \
        t_quiet_end(q_);                                                     \
        if (why_) {                                                          \
            printf("FAIL %s: %s\n", name, why_);                             \
            t_failed++;                                                      \
        } else {                                                             \
            printf("ok %s (%.2f s)\n", name, dt_);                           \
            t_passed++;                                                      \
        }                                                                    \
        t_info_flush();                                                      \
        fflush(stdout);                                                      \
    } while (0)

/* ---- position-dependent pattern ---------------------------------------- */

static inline uint64_t t_word(uint64_t idx, uint64_t seed)
{
    uint64_t x = (idx + 1) * 0x9E3779B97F4A7C15ull ^ seed;
    x ^= x >> 29;
    return x;
}

static __attribute__((unused)) void t_fill(void *buf, uint64_t size, uint64_t seed)
{
    uint64_t *w = buf, n = size / 8;
    for (uint64_t i = 0; i < n; i++)
        w[i] = t_word(i, seed);
    if (size % 8) {
        uint64_t v = t_word(n, seed);
        memcpy((uint8_t *)buf + n * 8, &v, size % 8);
    }
}

/* Offset of the first mismatching byte, or -1 if the buffer matches. */
static __attribute__((unused)) int64_t t_check(const void *buf, uint64_t size, uint64_t seed)
{
    const uint64_t *w = buf;
    uint64_t n = size / 8;
    for (uint64_t i = 0; i < n; i++) {
        if (w[i] != t_word(i, seed)) {
            uint64_t v = t_word(i, seed);
            const uint8_t *a = (const uint8_t *)&w[i], *b = (const uint8_t *)&v;
            for (int k = 0; k < 8; k++)
                if (a[k] != b[k])
                    return (int64_t)(i * 8 + k);
        }
    }
    if (size % 8) {
        uint64_t v = t_word(n, seed);
        const uint8_t *a = (const uint8_t *)buf + n * 8, *b = (const uint8_t *)&v;
        for (uint64_t k = 0; k < size % 8; k++)
            if (a[k] != b[k])
                return (int64_t)(n * 8 + k);
    }
    return -1;
}

static __attribute__((unused)) int t_all_bytes(const void *buf, uint64_t size, uint8_t v)
{
    const uint8_t *p = buf;
    for (uint64_t i = 0; i < size; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

/* ---- two processes ----------------------------------------------------- */

#define T_SLOTS 4
typedef struct t_shared {
    volatile int port;                 /* receiver's listening port */
    volatile int phase;                /* free-form handshake between processes */
    volatile uint64_t progress[T_SLOTS];
    volatile int32_t cancel[T_SLOTS];
    volatile int rc[T_SLOTS];          /* results, 1 = not set */
    volatile double t[T_SLOTS];        /* timestamps (CLOCK_MONOTONIC, system-wide) */
    char msg[T_SLOTS][256];            /* child's own failure text, "" = fine */
} t_shared;

static __attribute__((unused)) t_shared *t_shared_new(void)
{
    t_shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    memset(s, 0, sizeof *s);
    for (int i = 0; i < T_SLOTS; i++)
        s->rc[i] = 1;
    return s;
}

static __attribute__((unused)) void t_shared_free(t_shared *s)
{
    munmap(s, sizeof *s);
}

/* Child-side failure note (first one wins). */
static __attribute__((unused)) void t_note(t_shared *s, int slot, const char *fmt, ...)
{
    if (s->msg[slot][0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg[slot], sizeof s->msg[slot], fmt, ap);
    va_end(ap);
}

typedef void (*t_child_fn)(t_shared *s, const void *arg);

static __attribute__((unused)) pid_t t_fork(t_child_fn fn, t_shared *s, const void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        fn(s, arg);
        _exit(0);
    }
    return pid;
}

/* Wait for a child; kill it after timeout_s. Returns NULL if it exited 0. */
static __attribute__((unused)) const char *t_wait(pid_t pid, double timeout_s, const char *who)
{
    static char buf[128];
    double end = t_now() + timeout_s;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0)
            return "waitpid failed";
        if (t_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(buf, sizeof buf, "%s hung (killed after %.0f s)", who, timeout_s);
            return buf;
        }
        t_sleep_ms(2);
    }
    if (WIFSIGNALED(status)) {
        snprintf(buf, sizeof buf, "%s died of signal %d", who, WTERMSIG(status));
        return buf;
    }
    if (WEXITSTATUS(status)) {
        snprintf(buf, sizeof buf, "%s exited %d", who, WEXITSTATUS(status));
        return buf;
    }
    return NULL;
}

/* Reap a child that was killed on purpose. */
static __attribute__((unused)) void t_reap(pid_t pid)
{
    int status;
    waitpid(pid, &status, 0);
}

static __attribute__((unused)) int t_wait_port(t_shared *s, double timeout_s)
{
    double end = t_now() + timeout_s;
    while (!s->port && t_now() < end)
        t_sleep_ms(1);
    return s->port;
}

/* Transports of a case: UCX_TLS, optionally followed by "+none" for
 * SSC_UCX_ERR_MODE=none. With UCX 1.13 that is what makes "sm,tcp" use
 * shared memory (sysv + cma): in the default error mode (PEER) UCX keeps
 * only transports that report peer failure, which on one host is tcp. */
#define T_SHM "sm,tcp+none"

/* Child helper: context with the given transports (set before UCX reads
 * the environment, i.e. before ssc_context_create). */
static __attribute__((unused)) ssc_context *t_context(t_shared *s, int slot, const char *tls)
{
    ssc_context *ctx = NULL;
    if (tls) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", tls);
        char *plus = strchr(buf, '+');
        if (plus) {
            *plus = 0;
            setenv("SSC_UCX_ERR_MODE", plus + 1, 1);
        } else {
            unsetenv("SSC_UCX_ERR_MODE");
        }
        setenv("UCX_TLS", buf, 1);
    }
    int rc = ssc_context_create(&ctx);
    if (rc) {
        t_note(s, slot, "ssc_context_create: %s", ssc_strerror(rc));
        return NULL;
    }
    /* T_KEEP_WORKERS=n: connections and lanes take workers made ahead */
    const char *keep = getenv("T_KEEP_WORKERS");
    if (keep && (rc = ssc_context_keep_workers(ctx, (unsigned)atoi(keep)))) {
        t_note(s, slot, "ssc_context_keep_workers: %s", ssc_strerror(rc));
        ssc_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

/* Child helper (receiving side): listen on a free loopback port, publish it in s->port for the
 * sender, accept one connection. NULL, with a note, on failure; *lo gets the listener (for more
 * accepts or to close it). */
static __attribute__((unused)) ssc_conn *t_listen_accept(t_shared *s, int slot, ssc_context *ctx, ssc_listener **lo)
{
    ssc_listener *l;
    ssc_conn *c;
    int rc;
    if (!ctx)
        return NULL;
    if ((rc = ssc_listen(ctx, "127.0.0.1", 0, &l))) {
        t_note(s, slot, "listen: %s", ssc_strerror(rc));
        return NULL;
    }
    s->port = ssc_listener_port(l);
    if ((rc = ssc_accept(l, 20000, &c))) {
        t_note(s, slot, "accept: %s", ssc_strerror(rc));
        return NULL;
    }
    *lo = l;
    return c;
}

#endif /* SSC_TEST_HARNESS_H */
