/* gpu_labels.cu - CUDA backend: segmentation labels on the device. The bytes go there as the
 * caller gave them (the volume's logical shape and memory order, one uint8 class per voxel) and
 * are read by nearest-voxel lookup with the CPU's index arithmetic (gpu_internal.cuh glab_*),
 * so that the class of every sample is the CPU backend's. labels.c keeps the checks, the class
 * table and the shape on the host. */
#include "gpu_internal.cuh"

extern "C" {
#include "../cpu/labels.h"
}

/* the class table as float4, through a fresh device buffer (*out, 4 KiB) */
static int upload_table(rvr_gpu *G, const float (*rgba)[4], float4 **out) {
    float4 h[256];
    for (int k = 0; k < 256; k++) h[k] = make_float4(rgba[k][0], rgba[k][1], rgba[k][2], rgba[k][3]);
    float4 *d = NULL;
    int rc = gerr(cudaMalloc(&d, sizeof h));
    if (rc) return rc;
    rc = gerr(cudaMemcpyAsync(d, h, sizeof h, cudaMemcpyHostToDevice, G->st));
    if (!rc) rc = gerr(cudaStreamSynchronize(G->st)); /* h is on this stack */
    if (rc) {
        cudaFree(d);
        return rc;
    }
    *out = d;
    return RVR_OK;
}

extern "C" int rvr__gpu_set_labels(rvr_renderer *r, const uint8_t *labels, uint64_t bytes, const float (*rgba)[4]) {
    rvr_gpu *G = GPU(r);
    GTRY(cudaSetDevice(G->dev));
    uint8_t *d = NULL;
    float4 *t = NULL;
    int rc = gerr(cudaMalloc(&d, bytes ? bytes : 1));
    if (rc) return rc; /* RVR_ERR_NOMEM when the device is full: the old labels stay */
    rc = gerr(cudaMemcpyAsync(d, labels, bytes, cudaMemcpyHostToDevice, G->st));
    if (!rc) rc = gerr(cudaStreamSynchronize(G->st)); /* the caller may reuse its buffer on return */
    if (!rc) rc = upload_table(G, rgba, &t);
    if (rc) {
        cudaStreamSynchronize(G->st);
        cudaFree(d);
        return rc;
    }
    if (G->lab) cudaFree(G->lab);
    if (G->lab_rgba) cudaFree(G->lab_rgba);
    G->lab = d;
    G->lab_rgba = t;
    return RVR_OK;
}

extern "C" int rvr__gpu_label_colors(rvr_renderer *r, const float (*rgba)[4]) {
    rvr_gpu *G = GPU(r);
    if (!G->lab) return RVR_ERR_NO_VOLUME;
    GTRY(cudaSetDevice(G->dev));
    float4 *t = NULL;
    int rc = upload_table(G, rgba, &t);
    if (rc) return rc;
    cudaFree(G->lab_rgba); /* synchronous: no frame of this renderer is in flight between calls */
    G->lab_rgba = t;
    return RVR_OK;
}

extern "C" void rvr__gpu_free_labels(rvr_renderer *r) {
    rvr_gpu *G = GPU(r);
    if (!G) return;
    cudaSetDevice(G->dev);
    if (G->lab) cudaFree(G->lab);
    if (G->lab_rgba) cudaFree(G->lab_rgba);
    G->lab = NULL;
    G->lab_rgba = NULL;
}

GLabels rvr__gpu_labels_frame(const rvr_renderer *r) {
    GLabels g;
    memset(&g, 0, sizeof g);
    const rvr_gpu *G = GPU(r);
    const rvr_labels *L = rvr__labels_for(r);
    if (!L || !G->lab || !G->lab_rgba) return g;
    g.data = G->lab;
    g.rgba = G->lab_rgba;
    g.nx = L->nx;
    g.ny = L->ny;
    g.nz = L->nz;
    g.sx = L->sx;
    g.sy = L->sy;
    g.sz = L->sz;
    return g;
}
