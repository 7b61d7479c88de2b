/* tilt.c - see tilt.h. */
#include "tilt.h"

#include <math.h>

static void other_axes(int w, int *a, int *b) {
    *a = w == 0 ? 1 : 0;
    *b = w == 2 ? 1 : 2;
}

rr_tilt rr_tilt_for(int ortho, const double eye[3], const double dir[3], const double lo[3], const double hi[3], int w,
                    int n, const double *bw, const uint64_t *bounds, double sp, uint64_t margin_layers) {
    const double margin = (double)margin_layers * sp;
    rr_tilt tl = {0, {1, 0}, {0, 0}, 0};
    int a, b;
    other_axes(w, &a, &b);
    tl.ctr[0] = 0.5 * (lo[a] + hi[a]), tl.ctr[1] = 0.5 * (lo[b] + hi[b]);
    if (n < 2 || !(margin > 0)) return tl;
    /* h: across the slab axis, toward the eye; want: the tilt of the plane through the eye */
    double ha, hb, want;
    if (ortho) {
        ha = -dir[a], hb = -dir[b];
        const double len = sqrt(ha * ha + hb * hb);
        if (!(len > 1e-9)) return tl;
        ha /= len, hb /= len;
        want = -dir[w] / len;
    } else {
        ha = eye[a] - tl.ctr[0], hb = eye[b] - tl.ctr[1];
        const double len = sqrt(ha * ha + hb * hb);
        if (!(len > 1e-9)) return tl;
        ha /= len, hb /= len;
        /* through the eye and the middle inner cut's centre (n = 2: the one cut) */
        want = (eye[w] - bw[n / 2]) / len;
    }
    /* how far a cut may lean: the volume's half extent along h, against what each cut's margin
     * leaves after the cut moved (rr_follow_cuts) */
    const double ext = 0.5 * (fabs(ha) * (hi[a] - lo[a]) + fabs(hb) * (hi[b] - lo[b]));
    if (!(ext > 0)) return tl;
    double room = margin;
    for (int j = 1; j < n; j++) {
        const double left = margin - fabs(bw[j] - (double)bounds[j] * sp);
        room = left < room ? left : room;
    }
    if (!(room > 0)) return tl;
    const double tmax = room / ext;
    const double t = want > tmax ? tmax : (want < -tmax ? -tmax : want);
    if (!isfinite(t)) return tl;
    tl.t = t, tl.h[0] = ha, tl.h[1] = hb, tl.dev = fabs(t) * ext;
    return tl;
}

double rr_tilt_at(const rr_tilt *tl, double bw, double pa, double pb) {
    return bw + tl->t * ((pa - tl->ctr[0]) * tl->h[0] + (pb - tl->ctr[1]) * tl->h[1]);
}

void rr_tilt_plane(const rr_tilt *tl, int w, double bw, int upper, float plane[4]) {
    int a, b;
    other_axes(w, &a, &b);
    /* above: p[w] - t * (p_ab - ctr).h - bw >= 0 */
    double n[3] = {0, 0, 0};
    n[w] = 1, n[a] = -tl->t * tl->h[0], n[b] = -tl->t * tl->h[1];
    double d = -bw + tl->t * (tl->ctr[0] * tl->h[0] + tl->ctr[1] * tl->h[1]);
    const double s = upper ? 1 : -1;
    for (int k = 0; k < 3; k++) plane[k] = (float)(s * n[k]);
    plane[3] = (float)(s * d);
}

double rr_tilt_point(const rr_tilt *tl, int w, const double p[3]) {
    int a, b;
    other_axes(w, &a, &b);
    return p[w] - tl->t * ((p[a] - tl->ctr[0]) * tl->h[0] + (p[b] - tl->ctr[1]) * tl->h[1]);
}

double rr_tilt_dir(const rr_tilt *tl, int w, const double d[3]) {
    int a, b;
    other_axes(w, &a, &b);
    return d[w] - tl->t * (d[a] * tl->h[0] + d[b] * tl->h[1]);
}
