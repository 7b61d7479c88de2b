/* rect.c - see rect.h. */
#include "rect.h"

#include <math.h>
#include <string.h>

#include "rvr.h"

rr_rect rr_image_rect(const uint8_t *img, int W, int H) {
    const rr_rect all = {0, 0, W, H};
    return rr_image_rect_in(img, W, all);
}

rr_rect rr_image_rect_in(const uint8_t *img, int W, rr_rect in) {
    if (rr_rect_empty(in)) return (rr_rect){0, 0, 0, 0};
    int x0 = in.x1, y0 = in.y1, x1 = in.x0, y1 = in.y0;
    const int ax = in.x0, bx = in.x1;
#pragma omp parallel for schedule(static) reduction(min : x0, y0) reduction(max : x1, y1)
    for (int y = in.y0; y < in.y1; y++) {
        const uint8_t *row = img + (size_t)y * W * 4;
        /* most rows of a partial image are empty: one OR over the row first (vectorised) */
        uint32_t any = 0;
        for (int x = ax; x < bx; x++) {
            uint32_t p;
            memcpy(&p, row + 4 * (size_t)x, 4);
            any |= p;
        }
        if (!any) continue;
        int a = ax, b = bx;
        for (;; a++) {
            uint32_t p;
            memcpy(&p, row + 4 * (size_t)a, 4);
            if (p) break;
        }
        for (;; b--) {
            uint32_t p;
            memcpy(&p, row + 4 * (size_t)(b - 1), 4);
            if (p) break;
        }
        if (a < x0) x0 = a;
        if (b > x1) x1 = b;
        if (y < y0) y0 = y;
        if (y + 1 > y1) y1 = y + 1;
    }
    rr_rect r = {x0, y0, x1, y1};
    if (rr_rect_empty(r)) r.x0 = r.y0 = r.x1 = r.y1 = 0;
    return r;
}

void rr_clear_outside(uint8_t *img, int W, rr_rect dirty, rr_rect keep) {
    if (rr_rect_empty(dirty)) return;
    const size_t row = (size_t)W * 4;
    const rr_rect k = rr_rect_and(dirty, keep);
    /* rows of dirty above and below keep, then left and right of it on its rows */
    const int ya = rr_rect_empty(k) ? dirty.y1 : k.y0, yb = rr_rect_empty(k) ? dirty.y1 : k.y1;
#pragma omp parallel for schedule(static)
    for (int y = dirty.y0; y < dirty.y1; y++) {
        uint8_t *p = img + (size_t)y * row;
        if (y < ya || y >= yb) {
            memset(p + (size_t)dirty.x0 * 4, 0, (size_t)(dirty.x1 - dirty.x0) * 4);
        } else {
            if (k.x0 > dirty.x0) memset(p + (size_t)dirty.x0 * 4, 0, (size_t)(k.x0 - dirty.x0) * 4);
            if (dirty.x1 > k.x1) memset(p + (size_t)k.x1 * 4, 0, (size_t)(dirty.x1 - k.x1) * 4);
        }
    }
}

int rr_box_footprint(const rvr_camera *cam, int W, int H, const double lo[3], const double hi[3], rr_rect *out) {
    /* the camera basis as librvr builds it (cpu/camera.c): forward, right = forward x up, up */
    double f[3], up[3], rt[3];
    for (int k = 0; k < 3; k++) f[k] = (double)cam->target[k] - cam->eye[k], up[k] = cam->up[k];
    double nf = sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    if (!(nf > 0)) return -1;
    for (int k = 0; k < 3; k++) f[k] /= nf;
    rt[0] = f[1] * up[2] - f[2] * up[1], rt[1] = f[2] * up[0] - f[0] * up[2], rt[2] = f[0] * up[1] - f[1] * up[0];
    double nr = sqrt(rt[0] * rt[0] + rt[1] * rt[1] + rt[2] * rt[2]);
    if (!(nr > 1e-6)) return -1;
    for (int k = 0; k < 3; k++) rt[k] /= nr;
    up[0] = rt[1] * f[2] - rt[2] * f[1], up[1] = rt[2] * f[0] - rt[0] * f[2], up[2] = rt[0] * f[1] - rt[1] * f[0];
    const double aspect = (double)W / H;
    const int ortho = cam->projection == RVR_PROJ_ORTHO;
    const double t = ortho ? 0.5 * cam->ortho_height : tan(0.5 * cam->fov_y_deg * 3.14159265358979323846 / 180.0);
    const double sx = t * aspect, sy = t;
    double u0 = INFINITY, u1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
    for (int q = 0; q < 8; q++) {
        const double p[3] = {(q & 1 ? hi[0] : lo[0]) - cam->eye[0], (q & 2 ? hi[1] : lo[1]) - cam->eye[1],
                             (q & 4 ? hi[2] : lo[2]) - cam->eye[2]};
        const double a = p[0] * rt[0] + p[1] * rt[1] + p[2] * rt[2], b = p[0] * up[0] + p[1] * up[1] + p[2] * up[2];
        const double z = p[0] * f[0] + p[1] * f[1] + p[2] * f[2];
        double u, v;
        if (ortho) {
            u = a / sx, v = b / sy;
        } else {
            if (!(z > 1e-6 * nf)) return -1; /* a corner at or behind the eye */
            u = a / z / sx, v = b / z / sy;
        }
        u0 = fmin(u0, u), u1 = fmax(u1, u), v0 = fmin(v0, v), v1 = fmax(v1, v);
    }
    /* u = 2 px / W - 1, v = 1 - 2 py / H (librvr's pixel centres) */
    const double x0 = (u0 + 1) * 0.5 * W - 2, x1 = (u1 + 1) * 0.5 * W + 2;
    const double y0 = (1 - v1) * 0.5 * H - 2, y1 = (1 - v0) * 0.5 * H + 2;
    rr_rect r = {(int32_t)fmax(0, floor(x0)), (int32_t)fmax(0, floor(y0)), (int32_t)fmin(W, ceil(x1)), (int32_t)fmin(H, ceil(y1))};
    if (rr_rect_empty(r)) r.x0 = r.y0 = r.x1 = r.y1 = 0;
    *out = r;
    return 0;
}
