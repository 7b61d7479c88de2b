/* harness.h - the C test harness: TEST(name) { CHECK(cond, "fmt", ...); } .
 * Each test runs in its own forked process (a crash fails that test, not the suite). */
#ifndef RVR_HARNESS_H
#define RVR_HARNESS_H

#include <stdint.h>

typedef void (*test_fn)(void);
void harness_register(const char *name, test_fn fn);
__attribute__((noreturn, format(printf, 3, 4))) void harness_fail(const char *file, int line,
                                                                   const char *fmt, ...);
/* Informational line printed under the test's "ok" (e.g. a timing). */
__attribute__((format(printf, 1, 2))) void harness_note(const char *fmt, ...);

#define TEST(name)                                                                            \
    static void name(void);                                                                   \
    __attribute__((constructor)) static void reg_##name(void) { harness_register(#name, name); } \
    static void name(void)

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) harness_fail(__FILE__, __LINE__, __VA_ARGS__);      \
    } while (0)

/* Call returning an rvr error code that must be RVR_OK. */
#define CHECK_OK(expr)                                                                        \
    do {                                                                                      \
        int rc_ = (expr);                                                                     \
        if (rc_ != 0) harness_fail(__FILE__, __LINE__, "%s -> %d (%s)", #expr, rc_,          \
                                   rvr_strerror(rc_));                                        \
    } while (0)

#define CHECK_RC(expr, want)                                                                  \
    do {                                                                                      \
        int rc_ = (expr);                                                                     \
        if (rc_ != (want)) harness_fail(__FILE__, __LINE__, "%s -> %d (%s), want %d", #expr,  \
                                        rc_, rvr_strerror(rc_), (int)(want));                 \
    } while (0)

#endif
