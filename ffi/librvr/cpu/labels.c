/* labels.c - rvr_renderer_set_labels / rvr_renderer_set_label_colors: a segmentation's label
 * volume (one uint8 class per voxel) drawn with the data; see rvr.h. The checks, the class table
 * and the shape they belong to are kept here for both backends; the CPU backend keeps the bytes
 * here too, the CUDA backend only on the device (cuda/gpu_labels.cu; L->data stays NULL). */
#include "gpu.h"
#include "labels.h"

#include <stdlib.h>
#include <string.h>

static void free_host(rvr_labels *L) {
    if (!L) return;
    free(L->data);
    free(L);
}

static int table(rvr_labels *L, const float *rgba, uint32_t n) {
    if (!rgba || n == 0 || n > 256) return RVR_ERR_INVALID;
    for (uint32_t i = 0; i < 4 * n; i++)
        if (!(rgba[i] >= 0.0f && rgba[i] <= 1.0f)) return RVR_ERR_INVALID;
    memset(L->rgba, 0, sizeof L->rgba);
    memset(L->drawn, 0, sizeof L->drawn);
    for (uint32_t k = 0; k < n; k++) {
        memcpy(L->rgba[k], rgba + 4 * k, sizeof L->rgba[k]);
        L->drawn[k] = rgba[4 * k + 3] > 0.0f;
    }
    return RVR_OK;
}

int rvr_renderer_set_labels(rvr_renderer *r, const uint8_t *labels, uint64_t bytes,
                            const float *class_rgba, uint32_t nclasses) {
    if (!r) return RVR_ERR_INVALID;
    if (!labels) {
        if (bytes != 0) return RVR_ERR_INVALID;
        rvr__labels_free(r);
        return RVR_OK;
    }
    if (!r->has_volume) return RVR_ERR_NO_VOLUME;
    const uint64_t *sh = r->desc.shape;
    if (bytes != sh[0] * sh[1] * sh[2]) return RVR_ERR_SIZE;
    rvr_labels *L = calloc(1, sizeof *L);
    if (!L) return RVR_ERR_NOMEM;
    int rc = table(L, class_rgba, nclasses);
    if (rc) {
        free(L);
        return rc;
    }
    if (r->backend == RVR_BACKEND_CUDA) {
        /* straight from the caller's bytes to the device; replaces the device labels on success */
        rc = rvr__gpu_set_labels(r, labels, bytes, (const float(*)[4])L->rgba);
        if (rc) {
            free(L);
            return rc;
        }
    } else {
        L->data = malloc(bytes);
        if (!L->data) {
            free(L);
            return RVR_ERR_NOMEM;
        }
        rvr__memcpy_par(L->data, labels, bytes, rvr__nthreads(r));
    }
    memcpy(L->shape, sh, sizeof L->shape);
    L->order = r->desc.order;
    L->nx = (int)sh[2];
    L->ny = (int)sh[1];
    L->nz = (int)sh[0];
    if (L->order == RVR_ORDER_C) {
        L->sx = 1;
        L->sy = (int64_t)sh[2];
        L->sz = (int64_t)(sh[1] * sh[2]);
    } else {
        L->sz = 1;
        L->sy = (int64_t)sh[0];
        L->sx = (int64_t)(sh[0] * sh[1]);
    }
    free_host(r->labels); /* the device labels were replaced above */
    r->labels = L;
    return RVR_OK;
}

int rvr_renderer_set_label_colors(rvr_renderer *r, const float *class_rgba, uint32_t nclasses) {
    if (!r) return RVR_ERR_INVALID;
    rvr_labels *L = r->labels;
    if (!L) return RVR_ERR_NO_VOLUME;
    rvr_labels t;
    int rc = table(&t, class_rgba, nclasses);
    if (rc) return rc;
    if (r->backend == RVR_BACKEND_CUDA && (rc = rvr__gpu_label_colors(r, (const float(*)[4])t.rgba))) return rc;
    memcpy(L->rgba, t.rgba, sizeof t.rgba);
    memcpy(L->drawn, t.drawn, sizeof t.drawn);
    return RVR_OK;
}

const rvr_labels *rvr__labels_for(const rvr_renderer *r) {
    const rvr_labels *L = r->labels;
    if (!L || !r->has_volume || L->order != r->desc.order || memcmp(L->shape, r->desc.shape, sizeof L->shape)) return NULL;
    return L;
}

void rvr__labels_free(rvr_renderer *r) {
    if (r->backend == RVR_BACKEND_CUDA) rvr__gpu_free_labels(r);
    free_host(r->labels);
    r->labels = NULL;
}

void rvr__labels_slice_px(const rvr_labels *L, const float q[3], const float du[3],
                          const float dv[3], int outline, float acc[4]) {
    int k = labels_at(L, q[0], q[1], q[2]);
    if (!L->drawn[k]) return;
    const float *c = L->rgba[k];
    if (outline) {
        const float lim[3] = {L->nx - 0.5f, L->ny - 0.5f, L->nz - 0.5f};
        int edge = 0;
        for (int n = 0; n < 4 && !edge; n++) {
            const float *d = n < 2 ? du : dv;
            float sgn = (n & 1) ? -1.0f : 1.0f, p[3];
            int in = 1;
            for (int a = 0; a < 3; a++) {
                p[a] = q[a] + sgn * d[a];
                if (!(p[a] >= -0.5f && p[a] <= lim[a])) in = 0;
            }
            if (!in || labels_at(L, p[0], p[1], p[2]) != k) edge = 1;
        }
        if (!edge) return;
        for (int a = 0; a < 3; a++) acc[a] = c[a];
        acc[3] = 1;
        return;
    }
    float w = c[3];
    for (int a = 0; a < 3; a++) acc[a] = (1 - w) * acc[a] + w * c[a] * (acc[3] > 0 ? acc[3] : 1);
    if (acc[3] <= 0) acc[3] = w;
}
