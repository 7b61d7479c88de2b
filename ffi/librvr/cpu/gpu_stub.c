/* gpu_stub.c - the CUDA backend's entry points in a build without nvcc: no CUDA backend. */
#include "gpu.h"

const int rvr__gpu_built = 0;
int rvr__gpu_create(rvr_renderer *r) { (void)r; return RVR_ERR_UNSUPPORTED; }
void rvr__gpu_destroy(rvr_renderer *r) { (void)r; }
int rvr__gpu_upload(rvr_renderer *r, const rvr_volume_desc *d, const void *data, uint64_t bytes,
                    double *mn, double *mx, uint64_t *nans) {
    (void)r; (void)d; (void)data; (void)bytes; (void)mn; (void)mx; (void)nans;
    return RVR_ERR_UNSUPPORTED;
}
int rvr__gpu_upload_begin(rvr_renderer *r, const rvr_volume_desc *d, const void *data, uint64_t bytes) {
    (void)r; (void)d; (void)data; (void)bytes;
    return RVR_ERR_UNSUPPORTED;
}
int rvr__gpu_upload_range(rvr_renderer *r, const void *data, uint64_t off, uint64_t len, int nthreads) {
    (void)nthreads;
    (void)r; (void)data; (void)off; (void)len;
    return RVR_ERR_UNSUPPORTED;
}
int rvr__gpu_upload_end(rvr_renderer *r, const rvr_volume_desc *d, uint64_t bytes, double *mn,
                        double *mx, uint64_t *nans) {
    (void)r; (void)d; (void)bytes; (void)mn; (void)mx; (void)nans;
    return RVR_ERR_UNSUPPORTED;
}
int rvr__gpu_commit(rvr_renderer *r, const rvr_volume_desc *d, double lo, double hi, double mn,
                    double mx) {
    (void)r; (void)d; (void)lo; (void)hi; (void)mn; (void)mx;
    return RVR_ERR_UNSUPPORTED;
}
void rvr__gpu_discard(rvr_renderer *r) { (void)r; }
int rvr__gpu_render(rvr_renderer *r, const rvr_cam *cam, const rvr_render_settings *s, uint32_t W,
                    uint32_t H, const rvr_region *g, uint8_t *rgba, rvr_rows_fn fn, void *user,
                    rvr_render_stats *stats, double t_start) {
    (void)r; (void)cam; (void)s; (void)W; (void)H; (void)g; (void)rgba; (void)fn; (void)user; (void)stats; (void)t_start;
    return RVR_ERR_UNSUPPORTED;
}
int rvr__gpu_slice(rvr_renderer *r, const rvr_slice *sl, const rvr_render_settings *s, uint32_t W,
                   uint32_t H, uint8_t *rgba, rvr_render_stats *stats, double t_start) {
    (void)r; (void)sl; (void)s; (void)W; (void)H; (void)rgba; (void)stats; (void)t_start;
    return RVR_ERR_UNSUPPORTED;
}
int rvr__gpu_set_labels(rvr_renderer *r, const uint8_t *labels, uint64_t bytes, const float (*rgba)[4]) {
    (void)r; (void)labels; (void)bytes; (void)rgba;
    return RVR_ERR_UNSUPPORTED;
}
int rvr__gpu_label_colors(rvr_renderer *r, const float (*rgba)[4]) { (void)r; (void)rgba; return RVR_ERR_UNSUPPORTED; }
void rvr__gpu_free_labels(rvr_renderer *r) { (void)r; }
int rvr__gpu_host_alloc(uint64_t bytes, void **out) { (void)bytes; (void)out; return RVR_ERR_UNSUPPORTED; }
void rvr__gpu_host_free(void *p) { (void)p; }
int rvr__gpu_host_register(void *p, uint64_t bytes) { (void)p; (void)bytes; return RVR_ERR_UNSUPPORTED; }
void rvr__gpu_host_unregister(void *p) { (void)p; }
const void *rvr__gpu_mapped(const void *p) { (void)p; return NULL; }
