/* volume.h - the CPU backend's form of a volume (normalized storage bricks and the skipping
 * bricks' min/max), shared by volume.c (conversion) and progressive.c (a coarse copy drawn
 * while the full form is converted). */
#ifndef RVR_VOLUME_H
#define RVR_VOLUME_H

#include "internal.h"

/* The 16^3 skipping bricks' min/max arrays. */
typedef struct rvr_skipgrid {
    int bx, by, bz;
    uint16_t *bmin, *bmax;
} rvr_skipgrid;

/* Storage of one volume in the renderer's form. */
typedef struct rvr_cpu_vol {
    rvr_grid g; /* g.data == vol */
    rvr_skipgrid sk;
    uint16_t *vol;
} rvr_cpu_vol;

/* Storage for a volume of `shape` (z, y, x): RVR_OK or RVR_ERR_NOMEM (then v is empty). */
int rvr__cpu_vol_alloc(const uint64_t shape[3], rvr_cpu_vol *v);
void rvr__cpu_vol_free(rvr_cpu_vol *v);

/* Fills the layers [bz0, bz1) of storage bricks along z (RVR_SB voxels thick each) with the
 * values of `data` (dtype, order, shape as in rvr_volume_desc) through the window [lo, hi],
 * and the skipping bricks inside them. nt OpenMP threads. Cannot fail. */
void rvr__normalize_layers(const void *data, int32_t dtype, int32_t order, const uint64_t shape[3],
                           double lo, double hi, int nt, const rvr_grid *g, const rvr_skipgrid *sk,
                           int bz0, int bz1);

/* ---- progressive.c: RVR_VOLUME_PROGRESSIVE ---- */

/* The coarse factor of a volume: the smallest f with at most 2^22 voxels left after dividing
 * each axis by f, rounding up (1: small enough to convert at once). */
int rvr__coarse_factor(const uint64_t shape[3]);

/* Block averages of a volume (f^3 voxels each, NaN left out) taken while it arrives: rows of its
 * slowest axis (z in C order, x in F order) as they land. */
typedef struct rvr_coarse rvr_coarse;
rvr_coarse *rvr__coarse_new(const rvr_volume_desc *desc, int f); /* NULL without memory */
void rvr__coarse_free(rvr_coarse *c);                            /* NULL-safe */
/* Averages every block whose rows lie in the first `elems` elements of data. */
void rvr__coarse_take(rvr_coarse *c, const void *data, uint64_t elems, int nt);
/* The averages (all taken) in the renderer's form through the window [lo, hi]. */
int rvr__coarse_build(const rvr_coarse *c, double lo, double hi, int nt, rvr_cpu_vol *out);

/* Starts converting layers [from, sbz) of `full` from r->orig in a thread of its own while
 * frames draw `coarse` (factor f); takes both on success. Needs r's volume facts committed. */
int rvr__progress_start(rvr_renderer *r, rvr_cpu_vol *coarse, int f, rvr_cpu_vol *full, int from);
/* Ends a conversion at once (a volume replaces this one, or the renderer goes). NULL-safe. */
void rvr__progress_cancel(rvr_renderer *r);

#endif
