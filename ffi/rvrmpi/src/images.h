/* images.h - the ranks' partial images, in one MPI shared-memory window per host
 * (MPI_Win_allocate_shared): rank 0 reads a same-host rank's pixels where that rank's GPU wrote
 * them, so stream compositing (stream.h) moves no pixels between ranks of one host, only a
 * 16-byte note per band. Page-locked for CUDA (rvr_host_register): the GPU renders straight
 * into them. */
#ifndef RR_IMAGES_H
#define RR_IMAGES_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rr_images {
    MPI_Comm node;        /* the ranks on this host */
    int n;                /* ranks in all */
    int *local;           /* world rank -> its rank in `node`, -1 when on another host */
    MPI_Win win;          /* MPI_WIN_NULL until the first image */
    uint8_t *mine;        /* this rank's image */
    size_t cap;
    int registered;       /* mine is page-locked for the GPU */
    uint8_t **peer;       /* world rank -> its image when on this host, else NULL */
    uint8_t *peer_gpu;    /* world rank -> its image page-locked for this rank's GPU too: 0 not
                           * tried yet, 1 yes, 2 it failed (rr_images_peer_for_gpu) */
} rr_images;

/* Collective over `world`. MPI_SUCCESS or an MPI error code. */
int rr_images_init(rr_images *im, MPI_Comm world);

/* This rank's image of at least `bytes` (contents not kept when it grows; then *fresh = 1).
 * Collective over the host's ranks when it grows: every rank calls it with the same bytes, as
 * every rank serves every frame. cuda: page-lock it for the GPU. */
int rr_images_get(rr_images *im, size_t bytes, int cuda, uint8_t **out, int *fresh);

/* World rank i's image (same host) where this rank's GPU can read it (an occluder): page-locked
 * on the first call, until the image is reallocated. NULL when it is on another host or cannot be
 * locked. */
const uint8_t *rr_images_peer_for_gpu(rr_images *im, int i);

void rr_images_free(rr_images *im);

#endif
