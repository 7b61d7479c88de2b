/* rr_client.h - the instance side of the rvr_ranks protocol, for the tests and the benchmark:
 * listen on a UNIX socket, start `mpirun -n N build/rvr_ranks`, send requests. */
#ifndef RR_CLIENT_H
#define RR_CLIENT_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rvr.h"
#include "rvr_ranks.h"

extern char **environ;

typedef struct rr_job {
    int lfd, fd;
    pid_t pid;
    char path[108];
    int ranks;
    int pids[64];
    int hosts, algo, backend;
    double volume_timeout_ms; /* SET_VOLUME / SET_SYNTHETIC (60 s unless the caller sets more) */
} rr_job;

static inline double rr_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static inline int rr_io(int fd, void *buf, size_t n, int wr, double deadline) {
    uint8_t *p = buf;
    while (n) {
        struct pollfd pf = {fd, wr ? POLLOUT : POLLIN, 0};
        int left = (int)(deadline - rr_now_ms());
        if (left <= 0) return -2;
        int k = poll(&pf, 1, left);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -2;
        ssize_t m = wr ? write(fd, p, n) : read(fd, p, n);
        if (m < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (m <= 0) return -1;
        p += m, n -= (size_t)m;
    }
    return 0;
}

static inline int rr_send(rr_job *j, uint32_t op, const void *a, size_t alen, const void *b, size_t blen, double dl) {
    rr_req q = {RR_REQ_MAGIC, op, alen + blen};
    int rc = rr_io(j->fd, &q, sizeof q, 1, dl);
    if (!rc && alen) rc = rr_io(j->fd, (void *)a, alen, 1, dl);
    if (!rc && blen) rc = rr_io(j->fd, (void *)b, blen, 1, dl);
    return rc;
}

/* One request; *out (malloc'd, NUL-terminated) gets the answer's payload. Returns the status,
 * or -1000 (the job closed the socket: a rank died), -1001 (no answer within timeout_ms). */
static inline int rr_call(rr_job *j, uint32_t op, const void *a, size_t alen, const void *b, size_t blen,
                          uint8_t **out, uint64_t *outlen, double timeout_ms) {
    const double dl = rr_now_ms() + timeout_ms;
    int rc = rr_send(j, op, a, alen, b, blen, dl);
    rr_rep h;
    if (!rc) rc = rr_io(j->fd, &h, sizeof h, 0, dl);
    if (rc) return rc == -2 ? -1001 : -1000;
    uint8_t *p = malloc(h.len + 1);
    if (rr_io(j->fd, p, h.len, 0, dl)) {
        free(p);
        return -1000;
    }
    p[h.len] = 0;
    if (out) *out = p;
    else free(p);
    if (outlen) *outlen = h.len;
    return h.status;
}

/* A request whose successful answer is `head` bytes then exactly `blen` bytes, read straight
 * into the caller's buffers (an instance keeps its frame buffer); an error answer's text goes
 * to err. Status as rr_call; -1002 when a successful answer has another size. */
static inline int rr_call_into(rr_job *j, uint32_t op, const void *a, size_t alen, void *head, size_t hlen, void *body,
                               size_t blen, char *err, size_t errcap, double timeout_ms) {
    const double dl = rr_now_ms() + timeout_ms;
    int rc = rr_send(j, op, a, alen, NULL, 0, dl);
    rr_rep h;
    if (!rc) rc = rr_io(j->fd, &h, sizeof h, 0, dl);
    if (rc) {
        if (err) snprintf(err, errcap, "%s", rc == -2 ? "timeout" : "socket closed");
        return rc == -2 ? -1001 : -1000;
    }
    if (h.status == 0 && h.len == hlen + blen) {
        if (rr_io(j->fd, head, hlen, 0, dl) || rr_io(j->fd, body, blen, 0, dl)) return -1000;
        return 0;
    }
    uint8_t *p = malloc(h.len + 1);
    if (rr_io(j->fd, p, h.len, 0, dl)) {
        free(p);
        return -1000;
    }
    p[h.len] = 0;
    if (err) snprintf(err, errcap, "%s", h.status ? (char *)p : "answer of the wrong size");
    free(p);
    return h.status ? h.status : -1002;
}

/* Starts N ranks (env: RVR_TEST_MPIRUN_ARGS replaces the MPI options). 0 ok. */
static inline int rr_job_start(rr_job *j, int n, const char *exe, const char *const *extra_args, double timeout_ms) {
    memset(j, 0, sizeof *j);
    signal(SIGPIPE, SIG_IGN); /* a job that dies must give an error, not kill the caller */
    j->volume_timeout_ms = 60000;
    j->fd = j->lfd = -1;
    snprintf(j->path, sizeof j->path, "/tmp/rr-test-%d-%d.sock", (int)getpid(), rand() % 100000);
    unlink(j->path);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, j->path);
    j->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (j->lfd < 0 || bind(j->lfd, (struct sockaddr *)&sa, sizeof sa) || listen(j->lfd, 1)) return -1;
    char nbuf[16];
    snprintf(nbuf, sizeof nbuf, "%d", n);
    const char *argv[64];
    int k = 0;
    argv[k++] = "mpirun";
    if (getuid() == 0) argv[k++] = "--allow-run-as-root";
    argv[k++] = "--oversubscribe";
    /* Open MPI binds each rank to one core by default (2 ranks or fewer): rvr_ranks would then
     * run its OpenMP parts (scan, upload staging, compositing) on one thread */
    argv[k++] = "--bind-to";
    argv[k++] = "none";
    argv[k++] = "-n";
    argv[k++] = nbuf;
    const char *mca[] = {"--mca", "btl", "self,vader", "--mca", "pml", "ob1", "--mca", "btl_vader_single_copy_mechanism", "none", NULL};
    for (int i = 0; mca[i]; i++) argv[k++] = mca[i];
    argv[k++] = exe;
    argv[k++] = "--socket";
    argv[k++] = j->path;
    argv[k++] = "--backend";
    argv[k++] = "cpu";
    for (int i = 0; extra_args && extra_args[i] && k < 60; i++) argv[k++] = extra_args[i];
    argv[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    if (posix_spawnp(&j->pid, "mpirun", &fa, &at, (char *const *)argv, environ)) return -2;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    struct pollfd pf = {j->lfd, POLLIN, 0};
    if (poll(&pf, 1, (int)timeout_ms) <= 0) return -3;
    j->fd = accept(j->lfd, NULL, NULL);
    if (j->fd < 0) return -4;
    uint8_t *p = NULL;
    uint64_t len = 0;
    int rc = rr_call(j, RR_OP_HELLO, NULL, 0, NULL, 0, &p, &len, timeout_ms);
    if (rc) {
        free(p);
        return rc;
    }
    int32_t h[4];
    memcpy(h, p, 16);
    j->ranks = h[0], j->backend = h[1], j->hosts = h[2], j->algo = h[3];
    for (int i = 0; i < j->ranks && i < 64; i++) memcpy(&j->pids[i], p + 16 + 4 * i, 4);
    free(p);
    return 0;
}

/* Stops the job (QUIT, then waits; kills the process group after timeout_ms). */
static inline int rr_job_stop(rr_job *j, double timeout_ms) {
    if (j->fd >= 0) {
        rr_call(j, RR_OP_QUIT, NULL, 0, NULL, 0, NULL, NULL, 2000);
        close(j->fd);
    }
    if (j->lfd >= 0) close(j->lfd);
    unlink(j->path);
    int st = -1;
    const double dl = rr_now_ms() + timeout_ms;
    while (j->pid > 0 && rr_now_ms() < dl) {
        if (waitpid(j->pid, &st, WNOHANG) == j->pid) return st;
        usleep(10000);
    }
    if (j->pid > 0) {
        kill(-j->pid, SIGKILL);
        waitpid(j->pid, &st, 0);
    }
    return -1;
}

/* Writes `bytes` of data into a fresh file in /dev/shm (the instance's receive buffer). */
static inline int rr_shm_file(char *path, size_t cap, const void *data, uint64_t bytes) {
    snprintf(path, cap, "/dev/shm/rr-test-%d-%d.vol", (int)getpid(), rand() % 100000);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    const uint8_t *p = data;
    uint64_t done = 0;
    if (ftruncate(fd, (off_t)bytes)) {
        close(fd);
        return -1;
    }
    while (data && done < bytes) {
        ssize_t k = write(fd, p + done, bytes - done);
        if (k <= 0) {
            close(fd);
            return -1;
        }
        done += (uint64_t)k;
    }
    close(fd);
    return 0;
}

/* The answer of SET_VOLUME / SET_SYNTHETIC: bounds[ranks+1] and ms[4] when not NULL. */
static inline int rr_volume_answer(rr_job *j, int rc, uint8_t *p, uint64_t len, uint64_t *bounds, double *ms4) {
    if (rc == 0 && len < 112 + 8 * ((uint64_t)j->ranks + 1)) rc = -1002;
    if (rc == 0 && bounds) memcpy(bounds, p + 112, sizeof(uint64_t) * ((size_t)j->ranks + 1));
    if (rc == 0 && ms4) memcpy(ms4, p + 80, 32);
    if (rc) fprintf(stderr, "set volume: %d %s\n", rc, p ? (char *)p : "");
    free(p);
    return rc;
}

static inline int rr_set_volume(rr_job *j, const rvr_volume_desc *d, const char *path, uint64_t bytes,
                                uint64_t *bounds, double *ms4) {
    uint8_t req[64 + 8 + RR_PATH_MAX];
    memset(req, 0, sizeof req);
    memcpy(req, d, 64);
    memcpy(req + 64, &bytes, 8);
    snprintf((char *)req + 72, RR_PATH_MAX, "%s", path);
    uint8_t *p = NULL;
    uint64_t len = 0;
    int rc = rr_call(j, RR_OP_SET_VOLUME, req, sizeof req, NULL, 0, &p, &len, j->volume_timeout_ms);
    return rr_volume_answer(j, rc, p, len, bounds, ms4);
}

/* Every rank generates its own slab of a synthetic scene (RR_SYNTH_*). */
static inline int rr_set_synthetic(rr_job *j, const rvr_volume_desc *d, uint32_t scene, uint64_t *bounds, double *ms4) {
    uint8_t req[64 + 8];
    memset(req, 0, sizeof req);
    memcpy(req, d, 64);
    memcpy(req + 64, &scene, 4);
    uint8_t *p = NULL;
    uint64_t len = 0;
    int rc = rr_call(j, RR_OP_SET_SYNTHETIC, req, sizeof req, NULL, 0, &p, &len, j->volume_timeout_ms);
    return rr_volume_answer(j, rc, p, len, bounds, ms4);
}

static inline int rr_render(rr_job *j, const rvr_camera *c, const rvr_render_settings *s, uint32_t w, uint32_t h,
                            uint8_t *rgba, rr_frame_stats *fs, double timeout_ms, char *err, size_t errcap) {
    uint8_t req[280];
    memcpy(req, c, 48);
    memcpy(req + 48, s, 224);
    memcpy(req + 272, &w, 4);
    memcpy(req + 276, &h, 4);
    rr_frame_stats tmp;
    return rr_call_into(j, RR_OP_RENDER, req, sizeof req, fs ? fs : &tmp, 64, rgba, (size_t)w * h * 4, err, errcap, timeout_ms);
}

/* RENDER with a frame file: the image is written into `path` (>= w*h*4 bytes); the answer is
 * the 64-byte stats alone. */
static inline int rr_render_to_file(rr_job *j, const rvr_camera *c, const rvr_render_settings *s, uint32_t w, uint32_t h,
                                    const char *path, rr_frame_stats *fs, double timeout_ms, char *err, size_t errcap) {
    uint8_t req[280 + RR_PATH_MAX];
    memset(req, 0, sizeof req);
    memcpy(req, c, 48);
    memcpy(req + 48, s, 224);
    memcpy(req + 272, &w, 4);
    memcpy(req + 276, &h, 4);
    snprintf((char *)req + 280, RR_PATH_MAX, "%s", path);
    rr_frame_stats tmp;
    return rr_call_into(j, RR_OP_RENDER, req, sizeof req, fs ? fs : &tmp, 64, NULL, 0, err, errcap, timeout_ms);
}

static inline int rr_slice(rr_job *j, const rvr_slice *sl, const rvr_render_settings *s, uint32_t w, uint32_t h,
                           uint8_t *rgba) {
    uint8_t req[268];
    memcpy(req, sl, 36);
    memcpy(req + 36, s, 224);
    memcpy(req + 260, &w, 4);
    memcpy(req + 264, &h, 4);
    uint8_t *p = NULL;
    uint64_t len = 0;
    int rc = rr_call(j, RR_OP_SLICE, req, sizeof req, NULL, 0, &p, &len, 60000);
    if (rc == 0) memcpy(rgba, p + 64, (size_t)w * h * 4);
    free(p);
    return rc;
}

static inline int rr_floats(rr_job *j, uint32_t op, const float *f, uint32_t n) {
    return rr_call(j, op, f, (size_t)n * 16, NULL, 0, NULL, NULL, 60000);
}

static inline int rr_points(rr_job *j, const float *xyz, const float *val, uint64_t n) {
    uint8_t *buf = malloc(8 + 16 * n);
    memcpy(buf, &n, 8);
    memcpy(buf + 8, xyz, 12 * n);
    memcpy(buf + 8 + 12 * n, val, 4 * n);
    int rc = rr_call(j, RR_OP_SET_POINTS, buf, 8 + 16 * n, NULL, 0, NULL, NULL, 60000);
    free(buf);
    return rc;
}

/* Image difference: max channel difference, mean, and pixels with a channel off by more than `tol`. */
typedef struct rr_diff {
    int max;
    double mean;
    size_t over;
} rr_diff;

static inline rr_diff rr_compare(const uint8_t *a, const uint8_t *b, size_t npix, int tol) {
    rr_diff d = {0, 0, 0};
    double sum = 0;
    for (size_t i = 0; i < npix; i++) {
        int m = 0;
        for (int c = 0; c < 4; c++) {
            int x = abs((int)a[4 * i + c] - (int)b[4 * i + c]);
            sum += x;
            if (x > m) m = x;
        }
        if (m > d.max) d.max = m;
        if (m > tol) d.over++;
    }
    d.mean = sum / (4.0 * npix);
    return d;
}

#endif
