/* harness.c - runs every registered test in a child process; prints "ok NAME" or
 * "FAIL NAME: reason" per case and "C tests: N passed, M failed" at the end.
 * Usage: rvr_tests [substring]   (only tests whose name contains it) */
#include "harness.h"
#include "rvr.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 256
static struct { const char *name; test_fn fn; } tests[MAX_TESTS];
static int ntests;
static int msg_fd = -1;

void harness_register(const char *name, test_fn fn) {
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].fn = fn;
        ntests++;
    }
}

static void emit(const char *kind, const char *fmt, va_list ap) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s", kind);
    vsnprintf(buf + n, sizeof buf - n, fmt, ap);
    size_t len = strlen(buf);
    if (len < sizeof buf - 1) buf[len++] = '\n';
    if (write(msg_fd, buf, len) < 0) _exit(3);
}

void harness_fail(const char *file, int line, const char *fmt, ...) {
    char pre[256];
    snprintf(pre, sizeof pre, "F%s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    emit(pre, fmt, ap);
    va_end(ap);
    _exit(1);
}

void harness_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    emit("N", fmt, ap);
    va_end(ap);
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "--has-cuda") == 0) { /* exit 0 when a CUDA renderer can be made */
        rvr_renderer *r = NULL;
        int rc = rvr_renderer_create(RVR_BACKEND_CUDA, &r);
        rvr_renderer_destroy(r);
        return rc == RVR_OK ? 0 : 1;
    }
    const char *be = getenv("RVR_TEST_BACKEND");
    printf("C tests on the %s backend\n", be && strcmp(be, "cuda") == 0 ? "CUDA" : "CPU");
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        int fds[2];
        if (pipe(fds) != 0) {
            perror("pipe");
            return 2;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            msg_fd = fds[1];
            alarm(120); /* a hung test fails instead of hanging the suite */
            tests[i].fn();
            _exit(0);
        }
        close(fds[1]);
        char out[8192];
        size_t got = 0;
        ssize_t n;
        while (got < sizeof out - 1 && (n = read(fds[0], out + got, sizeof out - 1 - got)) > 0) got += (size_t)n;
        out[got] = 0;
        close(fds[0]);
        int st = 0;
        waitpid(pid, &st, 0);
        char reason[1200] = "";
        /* collect notes and the failure reason */
        char notes[8192] = "";
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            if (line[0] == 'F') snprintf(reason, sizeof reason, "%s", line + 1);
            else if (line[0] == 'N') {
                strncat(notes, "    ", sizeof notes - strlen(notes) - 1);
                strncat(notes, line + 1, sizeof notes - strlen(notes) - 1);
                strncat(notes, "\n", sizeof notes - strlen(notes) - 1);
            }
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            printf("ok %s\n%s", tests[i].name, notes);
            passed++;
        } else {
            if (!reason[0]) {
                if (WIFSIGNALED(st)) snprintf(reason, sizeof reason, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
                else snprintf(reason, sizeof reason, "exit status %d", WEXITSTATUS(st));
            }
            printf("FAIL %s: %s\n%s", tests[i].name, reason, notes);
            failed++;
        }
    }
    printf("C tests: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
