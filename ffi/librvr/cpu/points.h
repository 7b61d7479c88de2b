/* points.h - the per-frame point pass (points.c), used by raycast.c. */
#ifndef RVR_POINTS_H
#define RVR_POINTS_H

#include "internal.h"

typedef struct rvr_pointpass {
    int ntx, nty;      /* tiles of the traced ray grid */
    uint32_t *start;   /* ntiles + 1 offsets into idx (NULL: no points) */
    uint32_t *idx;     /* point indices binned per tile */
    float *rad, *col;  /* per point: radius, colormap rgb */
    uint64_t drawn;
} rvr_pointpass;

int rvr__points_prepare(const rvr_renderer *r, const rvr_render_settings *s, const rvr_cam *cam,
                        int lod, int tw, int th, rvr_pointpass *pp);
void rvr__points_free(rvr_pointpass *pp);
/* Nearest sphere per ray of one tile: world distance tau (INFINITY if none) and point index. */
void rvr__points_tile(const rvr_renderer *r, const rvr_pointpass *pp, int tile, int nrays,
                      const float (*ro)[3], const float (*rd)[3], float *tau, int32_t *hit);
void rvr__point_shade(const rvr_renderer *r, const rvr_pointpass *pp, int32_t i, const float o[3],
                      const float d[3], float t, const float L[3], const rvr_render_settings *s,
                      float rgb[3]);

#endif
