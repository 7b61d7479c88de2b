/* tilt.h - cut planes tilted toward the eye (no MPI). A rank renders its slab between two cut
 * planes; a ray that crosses a cut is rendered in two pieces, one per rank, and costs more than
 * whole: the piece behind goes on after the piece in front turned opaque (early ray termination
 * cannot see across ranks), and every piece pays its own set-up. Orbiting a volume around its
 * slab axis, a viewer looks at the cuts nearly edge-on, and a flat cut crosses a band of rays in
 * the middle of the picture (a 9 degree elevation: 15% of the rays, 6% more samples in all). A
 * cut plane tilted about the volume's centre toward the eye, as far as the margin each rank
 * holds beyond its cuts allows, lies along those rays instead: a plane through the eye crosses
 * none. All cuts of a frame share one tilt, so they never meet inside the volume and the ranks'
 * visibility order is the order of the eye against them, as for flat cuts.
 *
 * Cut j is the surface  p[w] = bw[j] + t * ((p[a] - ctr[0]) * h[0] + (p[b] - ctr[1]) * h[1]),
 * w the slab axis, a and b the two others (increasing order), h a unit vector, t the tangent
 * of the tilt. t = 0: the flat cuts p[w] = bw[j]. */
#ifndef RR_TILT_H
#define RR_TILT_H

#include <stdint.h>

typedef struct rr_tilt {
    double t;      /* tangent of the tilt (0: flat) */
    double h[2];   /* the horizontal direction it rises along (axes a, b) */
    double ctr[2]; /* the pivot: the volume's centre on axes a, b */
    double dev;    /* the most a cut deviates from flat over the volume: |t| * extent along h */
} rr_tilt;

/* The tilt for a frame: eye (world; perspective) or dir (ortho: the rays' direction), the
 * volume's world box lo..hi, slab axis w, the inner cuts bw[1..n-1] (world; bw[n+1]) and the
 * layers they may move from, bounds[1..n-1], sp (world per layer), margin (layers) the data each
 * rank holds beyond its bounds. Flat (t = 0) when no cut can lean: no margin left, the eye on the
 * slab axis, n < 2. */
rr_tilt rr_tilt_for(int ortho, const double eye[3], const double dir[3], const double lo[3], const double hi[3], int w,
                    int n, const double *bw, const uint64_t *bounds, double sp, uint64_t margin);

/* Where cut surface at height bw (world) lies on axis w at (pa, pb). */
double rr_tilt_at(const rr_tilt *tl, double bw, double pa, double pb);

/* Plane (nx, ny, nz, d) keeping world p with n.p + d >= 0: above cut bw (upper = 1) or below
 * it (upper = 0), in librvr's rvr_render_settings.planes form. */
void rr_tilt_plane(const rr_tilt *tl, int w, double bw, int upper, float plane[4]);

/* A point's (eye's) position on the slab axis as the cuts see it: its height above cut 0 as if
 * that cut were flat (rr_view.eye for the visibility order); for a direction (ortho), its rise
 * per unit across them (rr_view.dir). */
double rr_tilt_point(const rr_tilt *tl, int w, const double p[3]);
double rr_tilt_dir(const rr_tilt *tl, int w, const double d[3]);

#endif
