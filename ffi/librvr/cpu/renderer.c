/* renderer.c - renderer lifetime, backend choice, defaults of the plain structs. */
#include "gpu.h"
#include "volume.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

int rvr_renderer_create(int32_t backend, rvr_renderer **out) {
    if (!out) return RVR_ERR_INVALID;
    if (backend != RVR_BACKEND_CPU && backend != RVR_BACKEND_AUTO && backend != RVR_BACKEND_CUDA)
        return RVR_ERR_INVALID;
    if (backend == RVR_BACKEND_CUDA && !rvr__gpu_built) return RVR_ERR_UNSUPPORTED;
    rvr_renderer *r = calloc(1, sizeof *r);
    if (!r) return RVR_ERR_NOMEM;
    r->backend = RVR_BACKEND_CPU;
    int rc;
    if (backend != RVR_BACKEND_CPU) { /* AUTO: CUDA when built in and a device is usable */
        rc = rvr__gpu_create(r);
        if (rc == RVR_OK) r->backend = RVR_BACKEND_CUDA;
        else if (backend == RVR_BACKEND_CUDA) {
            free(r);
            return rc;
        }
    }
    /* default TF: grey ramp, opacity 0 .. 0.05 per voxel */
    float tf[8] = {0, 0, 0, 0, 1, 1, 1, 0.05f};
    /* default point colormap: blue, cyan, green, yellow, red */
    float cm[20] = {0, 0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0, 1};
    if ((rc = rvr_renderer_set_tf(r, tf, 2)) != RVR_OK) goto fail;
    if ((rc = rvr_renderer_set_point_colormap(r, cm, 5)) != RVR_OK) goto fail;
    *out = r;
    return RVR_OK;
fail:
    rvr_renderer_destroy(r);
    return rc;
}

void rvr_renderer_destroy(rvr_renderer *r) {
    if (!r) return;
    rvr_renderer_volume_drop(r); /* a stream's pending bricks or device bytes */
    rvr__progress_cancel(r);     /* a volume's conversion (RVR_VOLUME_PROGRESSIVE) */
    rvr__gpu_destroy(r);
    rvr__labels_free(r);
    free(r->ao.data);
    free(r->light.data);
    free(r->cmap);
    free(r->pval);
    free(r->pxyz);
    free(r->tf);
    free(r->bmax);
    free(r->bmin);
    free(r->vol);
    free(r->orig_owned);
    free(r);
}

int rvr_renderer_backend(const rvr_renderer *r) { return r ? r->backend : RVR_ERR_INVALID; }

int rvr_renderer_set_threads(rvr_renderer *r, int32_t n) {
    if (!r || n < 0 || n > 4096) return RVR_ERR_INVALID;
    r->threads = n;
    return RVR_OK;
}

void rvr_camera_init(rvr_camera *c) {
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->eye[2] = -1;
    c->up[1] = 1;
    c->fov_y_deg = 40;
    c->ortho_height = 1;
    c->projection = RVR_PROJ_PERSPECTIVE;
}

void rvr_render_settings_init(rvr_render_settings *s) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->mode = RVR_MODE_COMPOSITE;
    s->step = 1;
    s->ert_alpha = 0.99f;
    s->iso_value = 0.5f;
    s->background[3] = 1;
    s->ambient = 0.3f;
    s->diffuse = 0.7f;
    s->specular = 0.2f;
    s->shininess = 32;
    s->lod = 1;
    for (int k = 0; k < 3; k++) s->clip_max[k] = 1e30f;
    s->point_scale = 1;
    s->point_filter_lo = -FLT_MAX;
    s->point_filter_hi = FLT_MAX;
}

int rvr_host_alloc(uint64_t bytes, void **out) {
    if (!out || bytes == 0) return RVR_ERR_INVALID;
    return rvr__gpu_host_alloc(bytes, out);
}

void rvr_host_free(void *p) {
    if (p) rvr__gpu_host_free(p);
}

int rvr_host_register(void *p, uint64_t bytes) {
    if (!p || bytes == 0) return RVR_ERR_INVALID;
    return rvr__gpu_host_register(p, bytes);
}

void rvr_host_unregister(void *p) {
    if (p) rvr__gpu_host_unregister(p);
}

int rvr_renderer_set_occluder(rvr_renderer *r, const uint8_t *rgba, uint64_t bytes, uint32_t width, uint32_t height,
                              const rvr_region *where) {
    if (!r) return RVR_ERR_INVALID;
    rvr_region at = {0, 0, width, height};
    if (rgba) {
        if (width == 0 || height == 0 || bytes < (uint64_t)width * height * 4) return RVR_ERR_INVALID;
        if (where) {
            at = *where;
            if (at.x > width || at.y > height || at.width > width - at.x || at.height > height - at.y) return RVR_ERR_INVALID;
        }
    }
    const void *dev = rgba && r->backend == RVR_BACKEND_CUDA ? rvr__gpu_mapped(rgba) : NULL;
    if (rgba && r->backend == RVR_BACKEND_CUDA && !dev) return RVR_ERR_INVALID;
    r->occ = rgba;
    r->occ_dev = dev;
    r->occ_w = rgba ? width : 0;
    r->occ_h = rgba ? height : 0;
    r->occ_at = rgba ? at : (rvr_region){0, 0, 0, 0};
    return RVR_OK;
}
