/* alloc.c - receive buffers: aligned, huge pages, pre-faulted in parallel. */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE (2ull << 20)
#define MAX_FAULT_THREADS 16
/* below this, a thread costs more than the faults it takes over */
#define BYTES_PER_THREAD (64ull << 20)

/* Mapping length for a request: whole pages, whole huge pages from 2 MiB
 * up so that the tail can be a huge page too. ssc_free recomputes it. */
static uint64_t map_len(uint64_t size)
{
    uint64_t unit = size >= HUGE_PAGE ? HUGE_PAGE : (uint64_t)sysconf(_SC_PAGESIZE);
    return (size + unit - 1) / unit * unit;
}

/* Pages are faulted in blocks of this size, taken in address order by the
 * threads, so that the faulted prefix grows from the start of the buffer and
 * a receive can write behind it (ssc_prefault_ex). A multiple of the huge
 * page, so that no huge page is shared between threads. */
#define FAULT_BLOCK (8ull << 20)

typedef struct fault_run {
    uint8_t *p;
    uint64_t len, page, nblocks;
    uint64_t next;            /* next block to take (atomic) */
    uint8_t *done;            /* per block: faulted (only with ready) */
    uint64_t prefix;          /* blocks [0, prefix) faulted (under mu) */
    pthread_mutex_t mu;
    volatile uint64_t *ready; /* the caller's watermark, or NULL */
} fault_run;

/* Publishes the contiguous faulted prefix (bytes) after block b is done. */
static void fault_publish(fault_run *r, uint64_t b)
{
    __atomic_store_n(&r->done[b], 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&r->mu);
    uint64_t was = r->prefix;
    while (r->prefix < r->nblocks && __atomic_load_n(&r->done[r->prefix], __ATOMIC_ACQUIRE))
        r->prefix++;
    if (r->prefix != was) {
        uint64_t bytes = r->prefix == r->nblocks ? r->len : r->prefix * FAULT_BLOCK;
        __atomic_store_n(r->ready, bytes, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&r->mu);
}

static void *fault_blocks(void *arg)
{
    fault_run *r = arg;
    for (;;) {
        uint64_t b = __atomic_fetch_add(&r->next, 1, __ATOMIC_RELAXED);
        if (b >= r->nblocks)
            return NULL;
        uint64_t off = b * FAULT_BLOCK, end = off + FAULT_BLOCK < r->len ? off + FAULT_BLOCK : r->len;
        /* one write per page: the kernel zero-fills it (a huge page at the
         * first touch of its 2 MiB); reading would only map the zero page */
        for (; off < end; off += r->page)
            ((volatile uint8_t *)r->p)[off] = 0;
        if (r->ready)
            fault_publish(r, b);
    }
}

/* First writes into fresh pages cost a page fault each; during a receive
 * they cap the rate at ~2 GB/s, so take them now, on several cores. */
static int prefault(uint8_t *p, uint64_t len, volatile uint64_t *ready)
{
    pthread_t tid[MAX_FAULT_THREADS];
    int started[MAX_FAULT_THREADS] = {0};
    fault_run r = {.p = p, .len = len, .page = (uint64_t)sysconf(_SC_PAGESIZE),
                   .nblocks = (len + FAULT_BLOCK - 1) / FAULT_BLOCK, .ready = ready};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t n = len / BYTES_PER_THREAD + 1;

    /* Alongside a transfer (ready given) half the cores: the faulting only has to stay ahead of
     * the receive, and with every core busy faulting, the connection's and the application's
     * threads waited for a core (H200 host, 16 cores: 7-20 ms from prepare to the first header,
     * against 4-5 ms on a 32-core host where 16 threads left half free). */
    if (ready)
        cpus /= 2;
    if (cpus < 1)
        cpus = 1;
    if (n > (uint64_t)cpus)
        n = (uint64_t)cpus;
    if (n > MAX_FAULT_THREADS)
        n = MAX_FAULT_THREADS;
    if (ready) {
        r.done = calloc(r.nblocks, 1);
        if (!r.done)
            return SSC_ERR_NOMEM;
        pthread_mutex_init(&r.mu, NULL);
    }
    /* this thread works as well; threads that cannot start are not needed */
    for (uint64_t i = 1; i < n; i++)
        started[i] = pthread_create(&tid[i], NULL, fault_blocks, &r) == 0;
    fault_blocks(&r);
    for (uint64_t i = 1; i < n; i++)
        if (started[i])
            pthread_join(tid[i], NULL);
    if (ready) {
        pthread_mutex_destroy(&r.mu);
        free(r.done);
    }
    return SSC_OK;
}

int ssc_alloc_lazy(uint64_t size, void **out)
{
    uint64_t len, extra;
    uint8_t *raw, *p;

    if (!size || !out)
        return SSC_ERR_INVALID;
    if (size > SIZE_MAX - 2 * HUGE_PAGE)
        return SSC_ERR_NOMEM;
    len = map_len(size);
    /* over-map by a huge page and trim, for a 2 MiB-aligned start */
    extra = len >= HUGE_PAGE ? HUGE_PAGE : 0;
    raw = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return SSC_ERR_NOMEM;
    p = raw;
    if (extra) {
        p = (uint8_t *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        if (p > raw)
            munmap(raw, (size_t)(p - raw));
        if (raw + len + extra > p + len)
            munmap(p + len, (size_t)(raw + len + extra - (p + len)));
        /* advice only: without THP support the buffer still works */
        (void)madvise(p, len, MADV_HUGEPAGE);
    }
    *out = p;
    return SSC_OK;
}

int ssc_prefault(void *p, uint64_t size)
{
    return ssc_prefault_ex(p, size, NULL);
}

int ssc_prefault_ex(void *p, uint64_t size, volatile uint64_t *ready)
{
    if (!p || !size)
        return SSC_ERR_INVALID;
    return prefault(p, map_len(size), ready);
}

int ssc_alloc(uint64_t size, void **out)
{
    int rc = ssc_alloc_lazy(size, out);
    if (rc == SSC_OK)
        rc = prefault(*out, map_len(size), NULL);
    return rc;
}

void ssc_free(void *p, uint64_t size)
{
    if (!p || !size)
        return;
    munmap(p, map_len(size));
}
