/* synthetic.h - volumes made where they are rendered: every rank generates only its own slab
 * (RR_OP_SET_SYNTHETIC), so that a volume larger than one host's shared memory or one GPU's
 * memory can be rendered with nothing received and no whole-volume buffer anywhere. The same
 * generator fills whole volumes for the benchmark's file path, so both paths show one scene. */
#ifndef RR_SYNTHETIC_H
#define RR_SYNTHETIC_H

#include <stdint.h>

enum {
    /* float32, C order: a sphere (radius 0.42 of the smallest extent) of smooth material
     * 0.1..0.9 in low noise 0..0.16 (transparent with the benchmark's TF on window 0..1) */
    RR_SYNTH_SPHERE = 1
};

/* Fills layers [a0, a1) of logical axis 0 of `scene` with logical shape `shape` (z, y, x):
 * (a1 - a0) * shape[1] * shape[2] floats into out. OpenMP. 0, or -1 for an unknown scene or
 * a bad range. */
int rr_synth_layers(int scene, const uint64_t shape[3], uint64_t a0, uint64_t a1, float *out);

#endif
