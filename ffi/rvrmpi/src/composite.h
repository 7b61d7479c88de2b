/* composite.h - sort-last compositing of premultiplied RGBA8 partial images across MPI ranks
 * whose sub-volumes are slabs along one world axis (see rvr_ranks.h, "Compositing"). */
#ifndef RR_COMPOSITE_H
#define RR_COMPOSITE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

enum { RR_OP_OVER = 0, RR_OP_MAX = 1, RR_OP_MIN = 2 };
enum { RR_ALGO_BSWAP = 1, RR_ALGO_DIRECT = 2 };

/* Where the viewer is relative to the slabs. */
typedef struct rr_view {
    int ortho;     /* 1: rays are parallel to dir */
    double eye;    /* perspective: eye coordinate on the slab axis */
    double dir;    /* ortho: ray direction component on the slab axis */
} rr_view;

/* dst = (src_in_front ? src over dst : dst over src) for n premultiplied pixels; MAX/MIN keep
 * the larger/smaller grey value among pixels with alpha > 0. */
void rr_blend(uint8_t *dst, const uint8_t *src, size_t n, int op, int src_in_front);

/* 1 when the slabs below `boundary` (world coordinate on the slab axis) are in front of those
 * above it, for the rays that cross it. */
int rr_low_in_front(const rr_view *v, double boundary);

/* Front-to-back order of n slabs with world bounds bw[n+1] into order[n]. */
void rr_visibility_order(const rr_view *v, const double *bw, int n, int *order);

/* Composites `img` (npix pixels, this rank's partial image, overwritten) across `comm` (rank i
 * holds slab i with world bounds bw[i], bw[i+1]) and gathers the result into `out` on rank 0
 * (npix*4 bytes; ignored elsewhere). *sent receives the bytes this rank sent. MPI_SUCCESS or
 * an MPI error code; *ms_composite / *ms_gather get the two phases' wall times. */
int rr_composite(MPI_Comm comm, int algo, int op, const rr_view *v, const double *bw,
                 uint8_t *img, size_t npix, uint8_t *out, uint64_t *sent, double *ms_composite,
                 double *ms_gather);

#endif
