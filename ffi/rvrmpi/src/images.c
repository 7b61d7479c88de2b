/* images.c - see images.h. */
#include "images.h"

#include <stdlib.h>
#include <string.h>

#include "rvr.h"

int rr_images_init(rr_images *im, MPI_Comm world) {
    memset(im, 0, sizeof *im);
    im->win = MPI_WIN_NULL;
    int me;
    MPI_Comm_rank(world, &me);
    MPI_Comm_size(world, &im->n);
    int rc = MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, me, MPI_INFO_NULL, &im->node);
    if (rc != MPI_SUCCESS) return rc;
    im->local = malloc(sizeof(int) * (size_t)im->n);
    im->peer = calloc((size_t)im->n, sizeof *im->peer);
    im->peer_gpu = calloc((size_t)im->n, 1);
    int *all = malloc(sizeof(int) * (size_t)im->n);
    if (!im->local || !im->peer || !im->peer_gpu || !all) {
        free(all);
        return MPI_ERR_NO_MEM;
    }
    MPI_Group gw, gn;
    MPI_Comm_group(world, &gw);
    MPI_Comm_group(im->node, &gn);
    for (int i = 0; i < im->n; i++) all[i] = i;
    rc = MPI_Group_translate_ranks(gw, im->n, all, gn, im->local);
    for (int i = 0; rc == MPI_SUCCESS && i < im->n; i++)
        if (im->local[i] == MPI_UNDEFINED) im->local[i] = -1;
    MPI_Group_free(&gw);
    MPI_Group_free(&gn);
    free(all);
    return rc;
}

static void release(rr_images *im) {
    if (im->registered) rvr_host_unregister(im->mine);
    for (int i = 0; im->peer && i < im->n; i++) {
        if (im->peer_gpu[i] == 1 && im->peer[i] != im->mine) rvr_host_unregister(im->peer[i]);
        im->peer[i] = NULL, im->peer_gpu[i] = 0;
    }
    if (im->win != MPI_WIN_NULL) MPI_Win_free(&im->win);
    im->win = MPI_WIN_NULL, im->mine = NULL, im->cap = 0, im->registered = 0;
}

int rr_images_get(rr_images *im, size_t bytes, int cuda, uint8_t **out, int *fresh) {
    *fresh = 0;
    if (im->mine && im->cap >= bytes) {
        *out = im->mine;
        return MPI_SUCCESS;
    }
    release(im);
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "true"); /* each rank's image on its own pages */
    int rc = MPI_Win_allocate_shared((MPI_Aint)bytes, 1, info, im->node, &im->mine, &im->win);
    MPI_Info_free(&info);
    if (rc != MPI_SUCCESS) {
        im->win = MPI_WIN_NULL, im->mine = NULL;
        return rc;
    }
    im->cap = bytes;
    for (int i = 0; rc == MPI_SUCCESS && i < im->n; i++) {
        if (im->local[i] < 0) continue;
        MPI_Aint size;
        int unit;
        void *p = NULL;
        rc = MPI_Win_shared_query(im->win, im->local[i], &size, &unit, &p);
        im->peer[i] = p;
    }
    /* without it the GPU's frames are copied in through a staging buffer: slower, still right */
    if (rc == MPI_SUCCESS && cuda) im->registered = rvr_host_register(im->mine, bytes) == RVR_OK;
    *out = im->mine;
    *fresh = 1;
    return rc;
}

const uint8_t *rr_images_peer_for_gpu(rr_images *im, int i) {
    if (!im->peer[i]) return NULL;
    if (im->peer_gpu[i] == 0) /* each image is on its own pages: locking one touches no other */
        im->peer_gpu[i] = im->peer[i] == im->mine ? (im->registered ? 1 : 2) : rvr_host_register(im->peer[i], im->cap) == RVR_OK ? 1 : 2;
    return im->peer_gpu[i] == 1 ? im->peer[i] : NULL;
}

void rr_images_free(rr_images *im) {
    release(im);
    if (im->node != MPI_COMM_NULL && im->node) MPI_Comm_free(&im->node);
    free(im->local), free(im->peer), free(im->peer_gpu);
    memset(im, 0, sizeof *im);
}
