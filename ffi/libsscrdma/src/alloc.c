/* alloc.c - receive buffers: aligned, huge pages, pre-faulted in parallel. */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdint.h>
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

typedef struct fault_job {
    uint8_t *start;
    uint64_t len;
    uint64_t page;
} fault_job;

static void *fault_range(void *arg)
{
    const fault_job *j = arg;
    /* one write per page: the kernel zero-fills it (a huge page at the
     * first touch of its 2 MiB); reading would only map the zero page */
    for (uint64_t off = 0; off < j->len; off += j->page)
        ((volatile uint8_t *)j->start)[off] = 0;
    return NULL;
}

/* First writes into fresh pages cost a page fault each; during a receive
 * they cap the rate at ~2 GB/s, so take them now, on several cores. */
static void prefault(uint8_t *p, uint64_t len)
{
    pthread_t tid[MAX_FAULT_THREADS];
    fault_job job[MAX_FAULT_THREADS];
    int started[MAX_FAULT_THREADS] = {0};
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t n = len / BYTES_PER_THREAD + 1;

    if (cpus < 1)
        cpus = 1;
    if (n > (uint64_t)cpus)
        n = (uint64_t)cpus;
    if (n > MAX_FAULT_THREADS)
        n = MAX_FAULT_THREADS;

    /* split on huge-page boundaries so that no huge page is shared */
    uint64_t per = (len / n + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t off = i * per;
        job[i].start = p + (off < len ? off : len);
        job[i].len = off >= len ? 0 : (len - off < per ? len - off : per);
        job[i].page = page;
    }
    /* job 0 runs here; a thread that cannot start runs here as well */
    for (uint64_t i = 1; i < n; i++)
        started[i] = pthread_create(&tid[i], NULL, fault_range, &job[i]) == 0;
    fault_range(&job[0]);
    for (uint64_t i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            fault_range(&job[i]);
    }
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
    if (!p || !size)
        return SSC_ERR_INVALID;
    prefault(p, map_len(size));
    return SSC_OK;
}

int ssc_alloc(uint64_t size, void **out)
{
    int rc = ssc_alloc_lazy(size, out);
    if (rc == SSC_OK)
        prefault(*out, map_len(size));
    return rc;
}

void ssc_free(void *p, uint64_t size)
{
    if (!p || !size)
        return;
    munmap(p, map_len(size));
}
