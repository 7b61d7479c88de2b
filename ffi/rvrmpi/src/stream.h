/* stream.h - "stream" compositing: the root algorithm of composite.h, band by band, while the
 * ranks are still rendering (librvr's rvr_render_region_rows hands rows over as the GPU
 * finishes them), so that moving, blending and finishing overlap the rendering and only the
 * last band's share is left once the slowest rank is done.
 *
 * Every rank knows every rank's footprint (the screen rectangle its slab can cover) before
 * rendering. The image's rows are cut into bands of `band_rows`. For each band its footprint
 * touches, a rank other than 0 sends rank 0 one message (tag RR_STREAM_TAG + band) as soon as
 * the band's rows are rendered: 16 bytes, the bounding rectangle of its non-zero pixels in the
 * band (int32 x0, y0, x1, y1; empty when there are none or the render failed), then, from a
 * rank on another host, those pixels row by row. A rank on rank 0's host sends the 16 bytes
 * alone: rank 0 reads the pixels in its image in place (images.h). (Small messages also go out
 * at once: a large one would wait for the sender's next MPI call, with Open MPI's shared-memory
 * transport at least, and the sender is busy rendering.) Rank 0 has posted every receive
 * before rendering; it blends a band in
 * visibility order (its own slab in the middle, as composite.c's root) and finishes it
 * (finish.h) into the answer once its own rows of the band and all messages of it are in. */
#ifndef RR_STREAM_H
#define RR_STREAM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "composite.h"
#include "finish.h"
#include "rect.h"

#define RR_STREAM_TAG 1024 /* + band index (< 2048 bands: H <= 32768, band_rows >= 16) */

/* Where rank 0 blends a band's pixels of one rank from: its message's rectangle (empty: none)
 * and the pixels (in that rank's image, read in place, or in the message). */
typedef struct rr_band_src {
    rr_rect r;
    const uint8_t *px; /* r's first pixel */
    size_t stride;     /* pixels per row */
} rr_band_src;

/* One frame's state, and buffers kept from frame to frame. Zero-initialise; rr_stream_free. */
typedef struct rr_stream {
    /* the frame */
    MPI_Comm comm;
    int me, n, op, W, H, band_rows, nbands;
    const rr_rect *foot;        /* n footprints */
    uint8_t *img;               /* this rank's partial image (rank 0: blended into) */
    uint8_t *const *peer;       /* n: a rank's image where this rank can read it (same host), else NULL */
    int clear;                  /* rank 0 with peer: clears every image in peer as bands are finished */
    int *order;                 /* n: front-to-back slab order; pos: rank 0's place in it */
    int pos;
    /* rank 0 */
    rr_finisher fin;
    uint8_t *out;               /* NULL: nothing to finish into (the messages are only drained) */
    rr_rect stale;
    rr_band_src *src;           /* nbands x n, by visibility order: what each band blends */
    int *slot_of;               /* nbands x n: the slot of (band, rank), -1 */
    /* per band: this rank's rows still to come; rank 0: messages still to come; done */
    int *own_left, *msgs_left;
    uint8_t *done;
    int *ready;                 /* bands to finish now */
    /* messages: slot k holds (rank, band); sends on ranks != 0, receives on rank 0 */
    uint8_t *buf;
    size_t buf_cap;
    MPI_Request *rq;
    int *slot_rank, *slot_band;
    size_t *slot_off;
    int *idx;                   /* MPI_Testsome's answer */
    int nslots, slots_cap, bands_cap, grid_cap, failed;
    /* what the frame did */
    int mpi_rc;      /* the first MPI error */
    uint64_t sent;   /* bytes this rank sent */
    double rows_ms;  /* time spent in rr_stream_rows (on the rendering thread) */
    int rows_calls;
    rr_rect drawn;   /* rank 0: bounding box of the non-transparent pixels composited */
} rr_stream;

void rr_stream_free(rr_stream *s);

/* Starts a frame on this rank: every rank's footprint foot[n] (empty: draws nothing), this
 * rank's image img (W x H, transparent outside its footprint), peer[n] (images.h; NULL: no
 * rank's image can be read in place). With peer and clear, rank 0 makes the images in it transparent again
 * band by band once it has finished them (before rr_stream_end returns, failed or not): at the
 * next frame they hold no pixels of this one, so a rank can take the image of the rank in front
 * as its occluder (rvr_renderer_set_occluder). Rank 0 also gets the finishing
 * f, the answer out and `stale` (as rr_finish_image_in: out holds f's background outside it)
 * and posts its receives; bands that only need background are finished at once. */
int rr_stream_begin(rr_stream *s, MPI_Comm comm, int op, const rr_view *v, const double *bw, const rr_rect *foot,
                    uint8_t *img, uint8_t *const *peer, int clear, int W, int H, int band_rows, const rr_finish *f, uint8_t *out,
                    rr_rect stale);

/* rvr_rows_fn: rows [y0, y1) of this rank's footprint are rendered. Sends (rank != 0) or
 * blends and finishes (rank 0) every band that became complete. */
void rr_stream_rows(void *user, uint32_t y0, uint32_t y1);

/* Ends the frame: `failed` = this rank's render failed (its unsent bands go out empty, so that
 * rank 0 never waits for nothing). Waits for every message; rank 0 finishes the rest (unless
 * something failed). MPI_SUCCESS or the first MPI error. */
int rr_stream_end(rr_stream *s, int failed);

#endif
