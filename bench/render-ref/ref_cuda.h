/* ref_cuda.h - the plain reference CUDA ray caster of the CUDA render benchmark
 * (bench/render-ref/ref_cuda.cu). The baseline that librvr's CUDA backend is measured against;
 * NOT used by the renderer. Also: the benchmark's synthetic volumes, made on the GPU. */
#ifndef RVR_REF_CUDA_H
#define RVR_REF_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct refc refc;

/** 0, or -1 without a usable GPU. */
int refc_create(refc **out);
void refc_destroy(refc *c);

/**
 * The volume: nx*ny*nz elements, x fastest, u8 (dtype 1) or f32 (dtype 5), from host memory:
 * one cudaMemcpy into device memory (timed: *h2d_s, the upload baseline; from page-locked
 * memory this is "cudaMemcpy from pinned memory"), then a device copy into a 3D array with
 * hardware trilinear filtering (u8: normalized reads; f32: element reads, window lo..hi).
 */
int refc_set_volume(refc *c, const void *data, int dtype, int nx, int ny, int nz, float lo, float hi,
                    double *h2d_s);

/** 4096 premultiplied RGBA entries (librvr's LUT for the step), index = v16 >> 4. */
int refc_set_lut(refc *c, const float *lut);

/**
 * One frame: perspective camera (librvr's: rays in voxel-index space, samples at
 * t0 + (k + 0.5) * step from the volume-box entry), every sample evaluated (no empty-space
 * skipping), early ray termination at ert; shade != 0: librvr's S1 with a headlight (six
 * extra fetches, Blinn-Phong, Schlick specular; k = ambient, diffuse, specular, shininess).
 * The image ends in rgba (host, W*H*4) through a page-locked buffer.
 * *kernel_ms: the kernel alone (events); *samples (optional): positions sampled.
 */
int refc_render(refc *c, const float eye[3], const float target[3], const float up[3], float fov_y_deg, int W,
                int H, float step, float ert, int shade, const float k[4], const float bg[3], uint8_t *rgba,
                double *kernel_ms, uint64_t *samples);

/**
 * Synthetic "CT-like" N^3 volume made on the GPU and copied to host memory `out` (x fastest):
 * a cylinder of material (~170) with pores (~40) on a jittered lattice, noise +-8, air 0..7;
 * dtype 1 (u8) or 5 (f32 = u8 value * 0.01 + 3).
 */
int refc_generate(int N, int dtype, void *out);

#ifdef __cplusplus
}
#endif
#endif
