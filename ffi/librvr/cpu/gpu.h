/* gpu.h - entry points of the CUDA backend (the .cu files in cuda/ where nvcc built them, else
 * cpu/gpu_stub.c, which answers RVR_ERR_UNSUPPORTED). The host-side state (original bytes,
 * window, TF, points, caches' versions) stays in struct rvr_renderer; the device-side state
 * (3D texture, brick min/max, S2/S3 grids, staging buffers) lives behind r->gpu. */
#ifndef RVR_GPU_H
#define RVR_GPU_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this library was built with the CUDA backend. */
extern const int rvr__gpu_built;
/* Pick a device and make r->gpu; RVR_ERR_UNSUPPORTED without a driver or device. */
int rvr__gpu_create(rvr_renderer *r);
void rvr__gpu_destroy(rvr_renderer *r);
/* Copy the original bytes to the device (pending) and compute min, max, NaN count there. */
int rvr__gpu_upload(rvr_renderer *r, const rvr_volume_desc *d, const void *data, uint64_t bytes,
                    double *mn, double *mx, uint64_t *nans);
/* The same in three steps, for a volume uploaded while it arrives (rvr_renderer_volume_begin):
 * begin allocates the pending device bytes; range copies [off, off + len) of the original bytes
 * (straight from page-locked memory, else through the pinned staging buffers); end waits for
 * the copies and computes min, max and NaN count. */
int rvr__gpu_upload_begin(rvr_renderer *r, const rvr_volume_desc *d, const void *data, uint64_t bytes);
int rvr__gpu_upload_range(rvr_renderer *r, const void *data, uint64_t off, uint64_t len, int nthreads);
int rvr__gpu_upload_end(rvr_renderer *r, const rvr_volume_desc *d, uint64_t bytes, double *mn,
                        double *mx, uint64_t *nans);
/* Normalize the pending bytes with the window into the 3D texture, build the brick min/max,
 * free the pending bytes and replace the old device volume. */
int rvr__gpu_commit(rvr_renderer *r, const rvr_volume_desc *d, double lo, double hi, double mn,
                    double mx);
/* Free pending bytes after a failure (the old device volume stays). */
void rvr__gpu_discard(rvr_renderer *r);
/* Renders `g` (a checked rectangle of the W x H image) into rgba (the whole image's layout);
 * fn (may be NULL) gets the rows as rvr_render_region_rows says. */
int rvr__gpu_render(rvr_renderer *r, const rvr_cam *cam, const rvr_render_settings *s, uint32_t W,
                    uint32_t H, const rvr_region *g, uint8_t *rgba, rvr_rows_fn fn, void *user,
                    rvr_render_stats *stats, double t_start);
int rvr__gpu_slice(rvr_renderer *r, const rvr_slice *sl, const rvr_render_settings *s, uint32_t W,
                   uint32_t H, uint8_t *rgba, rvr_render_stats *stats, double t_start);
/* Segmentation labels on the device (labels.c keeps the class table and the shape on the host):
 * the caller's bytes in the volume's memory order, and the 256-entry straight RGBA table. On
 * failure the previous device labels stay. */
int rvr__gpu_set_labels(rvr_renderer *r, const uint8_t *labels, uint64_t bytes, const float (*rgba)[4]);
int rvr__gpu_label_colors(rvr_renderer *r, const float (*rgba)[4]);
void rvr__gpu_free_labels(rvr_renderer *r); /* NULL-safe, also after rvr__gpu_destroy */
int rvr__gpu_host_alloc(uint64_t bytes, void **out); /* page-locked; RVR_ERR_UNSUPPORTED without CUDA */
void rvr__gpu_host_free(void *p);
int rvr__gpu_host_register(void *p, uint64_t bytes); /* page-locked and mapped; the same errors */
void rvr__gpu_host_unregister(void *p);
/* Where the GPU reads page-locked, mapped host memory p; NULL for any other memory. */
const void *rvr__gpu_mapped(const void *p);

#ifdef __cplusplus
}
#endif
#endif
