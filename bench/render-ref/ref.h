/* ref.h - the naive reference ray caster of the render benchmark (bench/render-ref/ref.c).
 * The baseline that librvr's per-sample rate is compared against; NOT used by the renderer. */
#ifndef RVR_REF_H
#define RVR_REF_H

#include <stdint.h>

/**
 * Render a uint16 volume (x fastest, nx*ny*nz, voxel (x,y,z) centred at world (x+.5, y+.5, z+.5),
 * i.e. spacing 1) with a perspective camera, front-to-back compositing, no empty-space
 * skipping, early ray termination at `ert`. The sampling is librvr's: samples at
 * t0 + (k + 0.5) * step from the volume-box entry t0, trilinear (edges clamped), LUT index
 * (int)v >> 4 into `lut` (4096 premultiplied RGBA entries, opacity already corrected for
 * `step`); `shade` != 0 adds librvr's S1 (central-difference gradient, headlight Blinn-Phong,
 * Schlick specular) with shade_k = {ambient, diffuse, specular, shininess}.
 * Output: width*height RGBA8 over the opaque background bg (rgb). *samples: volume samples taken
 * (positions, gradient fetches not counted). Threads: OpenMP over rows, dynamic.
 * Returns 0, or -1 on a bad argument.
 */
int ref_render(const uint16_t *vol, int nx, int ny, int nz, const float *lut, const float eye[3],
               const float target[3], const float up[3], float fov_y_deg, int width, int height,
               float step, float ert, int shade, const float shade_k[4], const float bg[3],
               uint8_t *rgba, uint64_t *samples);

#endif
