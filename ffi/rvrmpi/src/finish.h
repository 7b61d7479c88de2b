/* finish.h - rank 0's last step of a distributed frame: the composited premultiplied pieces
 * become the requested image (MIP/MinIP grey values coloured with the TF, the background under
 * everything, straight alpha unless premultiplied was asked for). Integer arithmetic, OpenMP
 * over rows; pixels outside the pieces are the background without reading anything. */
#ifndef RR_FINISH_H
#define RR_FINISH_H

#include <stdint.h>

#include "rect.h"

typedef struct rr_finish {
    int mip;         /* pieces hold grey values (MIP/MinIP partials) to colour */
    int gray;        /* ... colour them grey, opaque (RVR_F_GRAY) instead of with the TF */
    int premul;      /* write premultiplied RGBA (RVR_F_PREMULTIPLIED) */
    float bg[4];     /* background, straight RGBA in [0, 1] */
    const float *tf; /* TF, tfn RGBA entries (NULL or tfn < 2: grey) */
    uint32_t tfn;
} rr_finish;

/* One frame's finishing, prepared once, for finishing row by row (stream compositing). */
typedef struct rr_finisher {
    rr_finish f;
    uint8_t mip[256][4]; /* premultiplied colour of a MIP/MinIP grey value */
    uint32_t recip[256]; /* 255 * 2^16 / a, rounded: straight = premultiplied * recip >> 16 */
    unsigned bgp[4];     /* premultiplied background, 8-bit */
    uint8_t bgpx[4];     /* what a transparent pixel becomes */
    int fast;            /* no MIP colouring, opaque background: one vectorised formula */
} rr_finisher;
void rr_finisher_init(rr_finisher *t, const rr_finish *f);
/* n composited (premultiplied) pixels `in` -> the requested pixels `out` */
void rr_finisher_pixels(const rr_finisher *t, const uint8_t *in, uint8_t *out, int n);
/* n pixels of background */
void rr_finisher_background(const rr_finisher *t, uint8_t *out, int n);

/* Writes the W x H image `out` from the disjoint pieces (rr_composite's result). */
void rr_finish_image(const rr_finish *f, const rr_piece *pieces, int npieces, uint8_t *out, int W, int H);

/* The same where `out` already holds f's background outside `stale` (an earlier answer with the
 * same background, W and H): background is written only within `stale`, which must hold the
 * pieces and every pixel that was not background before. */
void rr_finish_image_in(const rr_finish *f, const rr_piece *pieces, int npieces, uint8_t *out, int W, int H, rr_rect stale);

/* What a transparent pixel becomes (RGBA8 as 4 bytes in memory order). */
uint32_t rr_finish_background(const rr_finish *f);

#endif
