/* labels.h - the label volume drawn over the data (labels.c): one uint8 class per voxel, in the
 * volume's shape and memory order, and a table of straight RGBA per class. raycast.c tints the
 * samples it composites, slice.c tints (or outlines) the slice pixels. */
#ifndef RVR_LABELS_H
#define RVR_LABELS_H

#include "internal.h"

typedef struct rvr_labels {
    uint8_t *data;       /* CPU backend; NULL on the CUDA backend (the bytes live on the device) */
    uint64_t shape[3];   /* logical (s0, s1, s2) = (z, y, x) of the volume they were set for */
    int32_t order;
    int nx, ny, nz;
    int64_t sx, sy, sz;  /* element strides along x, y, z (index space) */
    float rgba[256][4];  /* straight colour, alpha = tint weight; alpha 0 = not drawn */
    uint8_t drawn[256];  /* class k is drawn (alpha > 0 and k < nclasses) */
} rvr_labels;

/* The labels to draw with the current volume, or NULL (none, or set for another shape/order). */
const rvr_labels *rvr__labels_for(const rvr_renderer *r);
void rvr__labels_free(rvr_renderer *r);

/* Class of the voxel nearest to index-space position (x, y, z), which lies in the volume box. */
static inline int labels_at(const rvr_labels *L, float x, float y, float z) {
    int ix = clampi((int)(x + 0.5f), 0, L->nx - 1), iy = clampi((int)(y + 0.5f), 0, L->ny - 1),
        iz = clampi((int)(z + 0.5f), 0, L->nz - 1);
    return L->data[ix * L->sx + iy * L->sy + iz * L->sz];
}

/* Composite: the LUT entry e (premultiplied rgb, alpha) tinted by the class at (x, y, z):
 * rgb' = (1 - w) rgb + w class_rgb with w the class's alpha; the opacity stays the TF's.
 * Returns e itself when the voxel's class is not drawn, else `out`. */
static inline const float *labels_tint(const rvr_labels *L, float x, float y, float z,
                                       const float *e, float out[4]) {
    int k = labels_at(L, x, y, z);
    if (!L->drawn[k]) return e;
    const float *c = L->rgba[k];
    float w = c[3];
    for (int i = 0; i < 3; i++) out[i] = (1 - w) * e[i] + w * c[i] * e[3];
    out[3] = e[3];
    return out;
}

/* Slices: the pixel at index-space q (premultiplied acc) tinted by its class; with outline,
 * only pixels whose class differs from a neighbour's (q +- du, q +- dv) are drawn, opaque. */
void rvr__labels_slice_px(const rvr_labels *L, const float q[3], const float du[3],
                          const float dv[3], int outline, float acc[4]);

#endif
