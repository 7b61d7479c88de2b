/* composite.h - sort-last compositing of premultiplied RGBA8 partial images across MPI ranks
 * whose sub-volumes are slabs along one world axis (see rvr_ranks.h, "Compositing").
 *
 * Only rectangles move: a rank's partial image is transparent outside the bounding rectangle
 * of its non-zero pixels (its slab's footprint on the screen), every rank learns every
 * rectangle (one small allgather), and each algorithm exchanges only the parts of those
 * rectangles that overlap what the receiver composites. Rectangles travel as MPI vector
 * types straight out of the image (no packing copy on the sender). */
#ifndef RR_COMPOSITE_H
#define RR_COMPOSITE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "rect.h"

enum { RR_OP_OVER = 0, RR_OP_MAX = 1, RR_OP_MIN = 2 };
/* auto: per frame, the algorithm whose busiest rank receives the fewest bytes (rvr_ranks.h) */
enum { RR_ALGO_AUTO = 0, RR_ALGO_BSWAP = 1, RR_ALGO_DIRECT = 2, RR_ALGO_ROOT = 3,
       RR_ALGO_STREAM = 4 /* root while rendering: stream.h (not rr_composite's) */ };

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

/* Buffers kept from frame to frame (no page faults per frame). Zero-initialise; rr_compositor_free. */
typedef struct rr_compositor {
    uint8_t *recv;
    size_t recv_cap;
    rr_piece *pieces;
    int pieces_cap;
} rr_compositor;
void rr_compositor_free(rr_compositor *c);

typedef struct rr_composite_result {
    const rr_piece *pieces; /* rank 0: the final image's pieces (valid until the next call) */
    int npieces;
    int algo;               /* the algorithm used (auto resolved) */
    uint64_t sent;          /* bytes this rank sent */
    double ms_composite;    /* exchange + blending, from the moment all ranks have rendered */
    double ms_gather;       /* the final pieces to rank 0 */
    rr_rect all;            /* the bounding box of every rank's rectangle (what blending may touch) */
} rr_composite_result;

/* Composites `img` (W x H, this rank's partial image, transparent outside `mine`; blended into
 * in place) across `comm` (rank i holds slab i with world bounds bw[i], bw[i+1]). On rank 0
 * res->pieces describe the result. MPI_SUCCESS or an MPI error code. */
int rr_composite(rr_compositor *c, MPI_Comm comm, int algo, int op, const rr_view *v,
                 const double *bw, uint8_t *img, int W, int H, rr_rect mine,
                 rr_composite_result *res);

/* The bytes the busiest rank would receive with `algo` for these rectangles (N ranks), plus a
 * fixed charge per message round; what auto minimises. Exposed for the tests. */
double rr_composite_cost(int algo, int n, const rr_rect *rects);

#endif
