/* failure_test.c - peers that die or are not there: connect to a closed
 * port, sender killed mid-transfer, receiver killed mid-transfer. The
 * survivor must report an error within 10 s (measured), must not hang or
 * crash, and must be able to make new connections afterwards. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#define BIG (2ull << 30)
#define SMALL (1ull << 20)
#define KILL_AT (256ull << 20)
#define DATA_SEED 77
#define RX 0
#define TX 1
#define AGAIN 2 /* result of the transfer after the failure */

/* ---- connect to a closed port ------------------------------------------- */

static int closed_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) ||
        getsockname(fd, (struct sockaddr *)&sa, &len))
        return -1;
    close(fd); /* nobody listens there now */
    return ntohs(sa.sin_port);
}

typedef struct self_accept {
    ssc_listener *l;
    ssc_conn *c;
    int rc;
} self_accept;

static void *accept_thread(void *arg)
{
    self_accept *a = arg;
    a->rc = ssc_accept(a->l, 10000, &a->c);
    return NULL;
}

static void refused_child(t_shared *s, const void *arg)
{
    const char *tls = arg;
    ssc_context *ctx = t_context(s, TX, tls);
    ssc_conn *c = (ssc_conn *)0x1;
    int port = closed_port();
    if (!ctx || port <= 0)
        return;
    double t0 = t_now();
    s->rc[TX] = ssc_connect(ctx, "127.0.0.1", (uint16_t)port, 3000, &c);
    s->t[TX] = t_now() - t0;
    if (c != (ssc_conn *)0x1)
        t_note(s, TX, "output set on failure");

    /* the same process connects fine afterwards (to itself) */
    self_accept a = {0};
    ssc_listener *l;
    int rc = ssc_listen(ctx, "127.0.0.1", 0, &l);
    if (rc) {
        t_note(s, TX, "listen: %s", ssc_strerror(rc));
        return;
    }
    a.l = l;
    pthread_t th;
    pthread_create(&th, NULL, accept_thread, &a);
    rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)ssc_listener_port(l), 5000, &c);
    pthread_join(th, NULL);
    if (rc || a.rc)
        t_note(s, TX, "connect after refusal: %s / accept: %s", ssc_strerror(rc),
               ssc_strerror(a.rc));
    if (!rc)
        ssc_conn_close(c);
    if (!a.rc)
        ssc_conn_close(a.c);
    ssc_listener_close(l);
    ssc_context_destroy(ctx);
}

static const char *connect_refused(const char *tls)
{
    t_shared *s = t_shared_new();
    const char *why = t_wait(t_fork(refused_child, s, tls), 20, "child");
    if (!why && s->msg[TX][0])
        why = t_fmt("%s", s->msg[TX]);
    if (!why && s->rc[TX] != SSC_ERR_REFUSED && s->rc[TX] != SSC_ERR_TIMEOUT)
        why = t_fmt("connect: %s", s->rc[TX] == 1 ? "nothing" : ssc_strerror(s->rc[TX]));
    if (!why && s->t[TX] > 3.5)
        why = t_fmt("took %.2f s with a 3 s timeout", s->t[TX]);
    if (!why)
        T_INFO("connect to closed port (%s): %s after %.3f s", tls,
               ssc_strerror(s->rc[TX]), s->t[TX]);
    t_shared_free(s);
    return why;
}

/* ---- peer killed mid-transfer -------------------------------------------- */

/* The 2 GiB buffers are plain mappings, not ssc_alloc: only the first
 * ~256 MiB is ever touched before the kill, and pre-faulting 2 x 2 GiB
 * would dominate the run time on a small VM. */
static void *big_buf(void)
{
    void *p = mmap(NULL, BIG, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

typedef struct kill_case {
    const char *tls;
    const char *lanes; /* SSC_LANES of both sides (NULL: default) */
} kill_case;

/* A child's context, with the case's lanes. */
static ssc_context *case_context(t_shared *s, int slot, const kill_case *k)
{
    if (k->lanes)
        setenv("SSC_LANES", k->lanes, 1);
    return t_context(s, slot, k->tls);
}

/* Receiver: a big transfer (the sender will be killed), then a small one on
 * a new connection. */
static void big_receiver(t_shared *s, const void *arg)
{
    const kill_case *k = arg;
    ssc_context *ctx = case_context(s, RX, k);
    ssc_listener *l;
    ssc_conn *c;
    uint8_t *hdr = malloc(SSC_HEADER_SIZE);
    void *buf;
    int rc;

    if (!ctx || ssc_listen(ctx, "127.0.0.1", 0, &l) || !(buf = big_buf()))
        return;
    s->port = ssc_listener_port(l);
    if ((rc = ssc_accept(l, 30000, &c))) {
        t_note(s, RX, "accept: %s", ssc_strerror(rc));
        return;
    }
    ssc_opts o = {.progress = &s->progress[RX]};
    rc = ssc_receive_ex(c, hdr, buf, BIG, &o);
    s->t[RX] = t_now();
    s->rc[RX] = rc;
    ssc_conn_close(c);

    /* a new connection in the same process works */
    if ((rc = ssc_accept(l, 30000, &c))) {
        t_note(s, RX, "accept after failure: %s", ssc_strerror(rc));
        return;
    }
    rc = ssc_receive(c, hdr, buf, SMALL);
    if (!rc && t_check(buf, SMALL, DATA_SEED) >= 0)
        t_note(s, RX, "payload after failure wrong");
    s->rc[AGAIN] = rc;
    ssc_conn_close(c);
    ssc_listener_close(l);
    munmap(buf, BIG);
    ssc_context_destroy(ctx);
}

/* Sender of the big transfer (to be killed or to see its receiver die),
 * then, if it survives, a small transfer to a new receiver (port in
 * s->phase once the parent has started one). */
static void big_sender(t_shared *s, const void *arg)
{
    const kill_case *k = arg;
    ssc_context *ctx = case_context(s, TX, k);
    ssc_conn *c;
    uint8_t *hdr = calloc(1, SSC_HEADER_SIZE);
    void *buf;
    int rc;

    if (!ctx || !(buf = big_buf()))
        return;
    if ((rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c))) {
        t_note(s, TX, "connect: %s", ssc_strerror(rc));
        return;
    }
    /* small chunks: progress moves in small steps */
    ssc_opts o = {.progress = &s->progress[TX], .chunk_bytes = 8u << 20};
    rc = ssc_send_ex(c, hdr, buf, BIG, &o);
    s->t[TX] = t_now();
    s->rc[TX] = rc;
    ssc_conn_close(c);

    double end = t_now() + 30;
    while (!s->phase && t_now() < end)
        t_sleep_ms(1);
    if ((rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->phase, 10000, &c))) {
        t_note(s, TX, "connect after failure: %s", ssc_strerror(rc));
        return;
    }
    t_fill(buf, SMALL, DATA_SEED);
    s->rc[AGAIN] = ssc_send(c, hdr, buf, SMALL);
    ssc_conn_close(c);
    munmap(buf, BIG);
    ssc_context_destroy(ctx);
}

/* A plain small sender/receiver for the second transfer. */
static void small_sender(t_shared *s, const void *arg)
{
    const kill_case *k = arg;
    ssc_context *ctx = case_context(s, 3, k);
    ssc_conn *c;
    uint8_t *hdr = calloc(1, SSC_HEADER_SIZE);
    void *buf = malloc(SMALL);
    int rc;
    if (!ctx)
        return;
    if ((rc = ssc_connect(ctx, "127.0.0.1", (uint16_t)s->port, 10000, &c))) {
        t_note(s, 3, "connect: %s", ssc_strerror(rc));
        return;
    }
    t_fill(buf, SMALL, DATA_SEED);
    s->rc[3] = ssc_send(c, hdr, buf, SMALL);
    ssc_conn_close(c);
    ssc_context_destroy(ctx);
}

static void small_receiver(t_shared *s, const void *arg)
{
    const kill_case *k = arg;
    ssc_context *ctx = case_context(s, 3, k);
    ssc_listener *l;
    ssc_conn *c;
    uint8_t *hdr = calloc(1, SSC_HEADER_SIZE);
    void *buf = malloc(SMALL);
    int rc;
    if (!ctx || ssc_listen(ctx, "127.0.0.1", 0, &l))
        return;
    s->phase = ssc_listener_port(l);
    if ((rc = ssc_accept(l, 30000, &c))) {
        t_note(s, 3, "accept: %s", ssc_strerror(rc));
        return;
    }
    rc = ssc_receive(c, hdr, buf, SMALL);
    if (!rc && t_check(buf, SMALL, DATA_SEED) >= 0)
        t_note(s, 3, "payload wrong");
    s->rc[3] = rc;
    ssc_conn_close(c);
    ssc_listener_close(l);
    ssc_context_destroy(ctx);
}

static int wait_progress(volatile uint64_t *p, uint64_t at, double timeout_s)
{
    double end = t_now() + timeout_s;
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < at)
        if (t_now() > end)
            return 0;
    return 1;
}

static const char *first_note(t_shared *s)
{
    for (int i = 0; i < T_SLOTS; i++)
        if (s->msg[i][0])
            return t_fmt("slot %d: %s", i, s->msg[i]);
    return NULL;
}

/* One side of a big transfer is SIGKILLed mid-way (kill_sender: the sender, else the
 * receiver). The survivor must report SSC_ERR_PEER or SSC_ERR_TIMEOUT within 10 s and then
 * make a new transfer with a fresh peer in the same process. */
static const char *peer_killed(const char *tls, int kill_sender, const char *lanes)
{
    kill_case k = {tls, lanes};
    t_shared *s = t_shared_new();
    const char *why = NULL;
    const int live = kill_sender ? RX : TX;   /* the survivor's slot */
    const char *victim_name = kill_sender ? "sender" : "receiver";
    const char *live_name = kill_sender ? "receiver" : "sender";
    pid_t r = t_fork(big_receiver, s, &k);
    if (!t_wait_port(s, 30)) {
        why = "receiver never listened";
        kill(r, SIGKILL);
        t_reap(r);
        goto out;
    }
    pid_t t = t_fork(big_sender, s, &k);
    if (!wait_progress(&s->progress[live], KILL_AT, 30)) {
        why = "transfer never started";
        kill(t, SIGKILL);
        kill(r, SIGKILL);
        t_reap(t);
        t_reap(r);
        goto out;
    }
    uint64_t at = s->progress[live];
    pid_t victim = kill_sender ? t : r, survivor = kill_sender ? r : t;
    kill(victim, SIGKILL);
    double t_kill = t_now();
    t_reap(victim);
    /* the survivor must notice within 10 s */
    while (s->rc[live] == 1 && t_now() < t_kill + 12)
        t_sleep_ms(1);
    double dt = s->t[live] - t_kill;
    if (s->rc[live] == 1) {
        why = t_fmt("%s did not notice within 12 s", live_name);
        kill(survivor, SIGKILL);
        t_reap(survivor);
        goto out;
    }
    /* the surviving process makes a new transfer with a fresh peer */
    pid_t fresh = t_fork(kill_sender ? small_sender : small_receiver, s, &k);
    const char *w2 = t_wait(fresh, 30, kill_sender ? "second sender" : "second receiver");
    const char *ws = t_wait(survivor, 30, live_name);
    if (ws || w2)
        why = t_fmt("%s", ws ? ws : w2);
    else if (first_note(s))
        why = first_note(s);
    else if (s->rc[live] == SSC_OK)
        why = t_fmt("transfer completed although the %s was killed at %llu B", victim_name,
                    (unsigned long long)at);
    else if (s->rc[live] != SSC_ERR_PEER && s->rc[live] != SSC_ERR_TIMEOUT)
        why = t_fmt("%s got %s", live_name, ssc_strerror(s->rc[live]));
    else if (dt >= 10)
        why = t_fmt("%s noticed after %.2f s", live_name, dt);
    else if (s->rc[AGAIN] || s->rc[3])
        why = t_fmt("transfer after failure: %s / %s", ssc_strerror(s->rc[AGAIN]),
                    ssc_strerror(s->rc[3]));
    if (!why)
        T_INFO("%s killed at %llu MiB (%s): %s got %s after %.3f s", victim_name,
               (unsigned long long)(at >> 20), tls, live_name, ssc_strerror(s->rc[live]), dt);
out:
    t_shared_free(s);
    return why;
}

int main(int argc, char **argv)
{
    t_filter = argc > 1 ? argv[1] : NULL;
    t_env_defaults();
    T_RUN_QUIET("connect_closed_port_tcp", connect_refused("tcp"));
    T_RUN_QUIET("connect_closed_port_sm", connect_refused(T_SHM));
    /* "sm_tcp": UCX_TLS=sm,tcp in the default error mode (UCX 1.13 picks
     * tcp); "sm": shared memory for real (error mode none) */
    T_RUN("sender_killed_tcp", peer_killed("tcp", 1, NULL));
    T_RUN("sender_killed_sm_tcp", peer_killed("sm,tcp", 1, NULL));
    T_RUN("sender_killed_sm", peer_killed(T_SHM, 1, NULL));
    T_RUN("receiver_killed_tcp", peer_killed("tcp", 0, NULL));
    T_RUN("receiver_killed_sm_tcp", peer_killed("sm,tcp", 0, NULL));
    T_RUN("receiver_killed_sm", peer_killed(T_SHM, 0, NULL));
    /* with the payload on 2 lanes (threads of their own on both sides) */
    T_RUN("sender_killed_tcp_2_lanes", peer_killed("tcp", 1, "2"));
    T_RUN("receiver_killed_sm_2_lanes", peer_killed(T_SHM, 0, "2"));
    T_RUN("sender_killed_sm_2_lanes", peer_killed(T_SHM, 1, "2"));
    return t_main_end(__FILE__);
}
