/* error.c - error texts, version, clock and thread-count helpers. */
#include "internal.h"

#include <omp.h>
#include <time.h>

const char *rvr_strerror(int err) {
    switch (err) {
    case RVR_OK: return "ok";
    case RVR_ERR_INVALID: return "invalid argument";
    case RVR_ERR_NOMEM: return "out of memory";
    case RVR_ERR_UNSUPPORTED: return "backend not available in this build or on this machine";
    case RVR_ERR_DTYPE: return "unknown dtype";
    case RVR_ERR_SIZE: return "byte count does not match shape and dtype, or buffer too small";
    case RVR_ERR_RANGE: return "box or window out of range";
    case RVR_ERR_NO_VOLUME: return "no volume set";
    case RVR_ERR_EMPTY: return "zero points";
    case RVR_ERR_DEVICE: return "the GPU failed (a CUDA call returned an error)";
    default: return "unknown error";
    }
}

const char *rvr_version(void) { return "1.0.0"; }

int rvr_dtype_size(int32_t dtype) {
    switch (dtype) {
    case RVR_DTYPE_U8: return 1;
    case RVR_DTYPE_U16:
    case RVR_DTYPE_I16: return 2;
    case RVR_DTYPE_U32:
    case RVR_DTYPE_F32: return 4;
    case RVR_DTYPE_F64: return 8;
    default: return RVR_ERR_DTYPE;
    }
}

double rvr__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int rvr__nthreads(const rvr_renderer *r) {
    return (r && r->threads > 0) ? r->threads : omp_get_max_threads();
}

void rvr__memcpy_rows_par(void *dst, size_t dpitch, const void *src, size_t spitch, size_t row, size_t rows, int nt) {
    if (dpitch == row && spitch == row) {
        rvr__memcpy_par(dst, src, row * rows, nt);
        return;
    }
    _Pragma("omp parallel for schedule(static) num_threads(nt) if (rows * row >= (4u << 20))")
    for (int64_t y = 0; y < (int64_t)rows; y++) memcpy((char *)dst + (size_t)y * dpitch, (const char *)src + (size_t)y * spitch, row);
}

void rvr__memcpy_par(void *dst, const void *src, size_t n, int nt) {
    const size_t piece = (size_t)1 << 20;
    const int64_t np = (int64_t)((n + piece - 1) / piece);
    if (np < 4 || nt <= 1) {
        memcpy(dst, src, n);
        return;
    }
    _Pragma("omp parallel for schedule(static) num_threads(nt)")
    for (int64_t i = 0; i < np; i++) {
        size_t off = (size_t)i * piece, len = n - off < piece ? n - off : piece;
        memcpy((char *)dst + off, (const char *)src + off, len);
    }
}
