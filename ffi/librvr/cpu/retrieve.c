/* retrieve.c - strided sub-boxes of the original bytes, in the original dtype and order. */
#include "internal.h"

#include <string.h>

static int box_check(const rvr_renderer *r, const uint64_t lo[3], const uint64_t hi[3],
                     const uint32_t step[3], uint64_t out_shape[3], uint64_t *bytes) {
    if (!r || !lo || !hi || !step) return RVR_ERR_INVALID;
    if (!r->has_volume) return RVR_ERR_NO_VOLUME;
    uint64_t n = (uint64_t)rvr_dtype_size(r->desc.dtype);
    for (int k = 0; k < 3; k++) {
        if (step[k] == 0) return RVR_ERR_INVALID;
        if (lo[k] >= hi[k] || hi[k] > r->desc.shape[k]) return RVR_ERR_RANGE;
        out_shape[k] = (hi[k] - lo[k] + step[k] - 1) / step[k];
        n *= out_shape[k]; /* <= the volume's byte count: no overflow */
    }
    *bytes = n;
    return RVR_OK;
}

int rvr_renderer_retrieve_size(const rvr_renderer *r, const uint64_t lo[3], const uint64_t hi[3],
                               const uint32_t step[3], uint64_t *bytes_out) {
    if (!bytes_out) return RVR_ERR_INVALID;
    uint64_t os[3], bytes;
    int rc = box_check(r, lo, hi, step, os, &bytes);
    if (rc) return rc;
    *bytes_out = bytes;
    return RVR_OK;
}

int rvr_renderer_retrieve(const rvr_renderer *r, const uint64_t lo[3], const uint64_t hi[3],
                          const uint32_t step[3], void *out, uint64_t out_bytes) {
    if (!out) return RVR_ERR_INVALID;
    uint64_t os[3], bytes;
    int rc = box_check(r, lo, hi, step, os, &bytes);
    if (rc) return rc;
    if (out_bytes < bytes) return RVR_ERR_SIZE;

    const size_t esz = (size_t)rvr_dtype_size(r->desc.dtype);
    const uint64_t *sh = r->desc.shape;
    /* Memory strides (in elements) of logical axes 0,1,2 for source and destination. */
    uint64_t ss[3], ds[3];
    if (r->desc.order == RVR_ORDER_C) {
        ss[2] = 1; ss[1] = sh[2]; ss[0] = sh[1] * sh[2];
        ds[2] = 1; ds[1] = os[2]; ds[0] = os[1] * os[2];
    } else {
        ss[0] = 1; ss[1] = sh[0]; ss[2] = sh[0] * sh[1];
        ds[0] = 1; ds[1] = os[0]; ds[2] = os[0] * os[1];
    }
    /* The fastest-varying memory axis is the inner loop. */
    const int in = r->desc.order == RVR_ORDER_C ? 2 : 0, outer = 2 - in;
    const uint8_t *src = r->orig;
    uint8_t *dst = out;
    const int nt = rvr__nthreads(r);
    const int64_t n_outer = (int64_t)os[outer], n_mid = (int64_t)os[1];
    const uint64_t run = os[in];
    const int contiguous = step[in] == 1;
    _Pragma("omp parallel for schedule(static) collapse(2) num_threads(nt)")
    for (int64_t a = 0; a < n_outer; a++)
        for (int64_t b = 0; b < n_mid; b++) {
            uint64_t s0 = (lo[outer] + a * step[outer]) * ss[outer] +
                          (lo[1] + b * step[1]) * ss[1] + lo[in] * ss[in];
            uint64_t d0 = a * ds[outer] + b * ds[1];
            const uint8_t *sp = src + s0 * esz;
            uint8_t *dp = dst + d0 * esz;
            if (contiguous) {
                memcpy(dp, sp, run * esz);
            } else {
                const size_t sstep = step[in] * esz;
                for (uint64_t c = 0; c < run; c++) memcpy(dp + c * esz, sp + c * sstep, esz);
            }
        }
    return RVR_OK;
}
