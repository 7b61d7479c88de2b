/* camera.c - perspective and orthographic cameras: pixel -> world ray, sphere and box -> pixel box. */
#include "internal.h"

int rvr__cam_setup(const rvr_camera *c, uint32_t W, uint32_t H, rvr_cam *o) {
    if (c->projection != RVR_PROJ_PERSPECTIVE && c->projection != RVR_PROJ_ORTHO)
        return RVR_ERR_INVALID;
    for (int k = 0; k < 3; k++)
        if (!isfinite(c->eye[k]) || !isfinite(c->target[k]) || !isfinite(c->up[k]))
            return RVR_ERR_INVALID;
    float f[3] = {c->target[0] - c->eye[0], c->target[1] - c->eye[1], c->target[2] - c->eye[2]};
    if (v3norm(f) <= 0) return RVR_ERR_INVALID;
    float rt[3], up[3] = {c->up[0], c->up[1], c->up[2]};
    if (v3norm(up) <= 0) return RVR_ERR_INVALID;
    v3cross(f, up, rt);
    if (v3norm(rt) < 1e-6f) return RVR_ERR_INVALID;
    v3cross(rt, f, up);
    v3norm(up);
    float aspect = (float)W / (float)H;
    if (c->projection == RVR_PROJ_PERSPECTIVE) {
        if (!(c->fov_y_deg > 0 && c->fov_y_deg < 180)) return RVR_ERR_INVALID;
        float t = tanf(0.5f * c->fov_y_deg * 3.14159265358979f / 180.0f);
        o->sx = t * aspect;
        o->sy = t;
        o->ortho = 0;
    } else {
        if (!(c->ortho_height > 0) || !isfinite(c->ortho_height)) return RVR_ERR_INVALID;
        o->sx = 0.5f * c->ortho_height * aspect;
        o->sy = 0.5f * c->ortho_height;
        o->ortho = 1;
    }
    for (int k = 0; k < 3; k++) {
        o->eye[k] = c->eye[k];
        o->fwd[k] = f[k];
        o->right[k] = rt[k];
        o->up[k] = up[k];
    }
    o->W = (float)W;
    o->H = (float)H;
    return RVR_OK;
}

void rvr__cam_ray(const rvr_cam *c, float px, float py, float o[3], float d[3]) {
    float u = (2.0f * px / c->W - 1.0f) * c->sx, v = (1.0f - 2.0f * py / c->H) * c->sy;
    if (c->ortho) {
        for (int k = 0; k < 3; k++) {
            o[k] = c->eye[k] + u * c->right[k] + v * c->up[k];
            d[k] = c->fwd[k];
        }
    } else {
        for (int k = 0; k < 3; k++) {
            o[k] = c->eye[k];
            d[k] = c->fwd[k] + u * c->right[k] + v * c->up[k];
        }
        v3norm(d);
    }
}

/* Image-plane extent [lo, hi] (tangent units) of a sphere along one camera axis:
 * the sphere projected onto the (axis, forward) plane is a disc at (a, z). */
static int persp_extent(float a, float z, float rad, float *lo, float *hi) {
    float d = sqrtf(a * a + z * z);
    if (d <= rad) return 0; /* eye inside: unbounded */
    float th = atan2f(a, z), half = asinf(rad / d);
    float t0 = th - half, t1 = th + half;
    const float lim = 1.5607963f; /* just under pi/2 */
    if (t0 <= -lim || t1 >= lim) return 0;
    *lo = tanf(t0);
    *hi = tanf(t1);
    return 1;
}

int rvr__cam_sphere_bounds(const rvr_cam *c, const float ctr[3], float rad, float *x0, float *y0,
                           float *x1, float *y1) {
    float p[3] = {ctr[0] - c->eye[0], ctr[1] - c->eye[1], ctr[2] - c->eye[2]};
    float a = v3dot(p, c->right), b = v3dot(p, c->up), z = v3dot(p, c->fwd);
    if (z + rad <= 0) return 0; /* entirely behind the eye / image plane */
    float ulo, uhi, vlo, vhi;
    if (c->ortho) {
        ulo = a - rad; uhi = a + rad;
        vlo = b - rad; vhi = b + rad;
        ulo /= c->sx; uhi /= c->sx; vlo /= c->sy; vhi /= c->sy;
    } else {
        if (z - rad <= 0 || !persp_extent(a, z, rad, &ulo, &uhi) || !persp_extent(b, z, rad, &vlo, &vhi)) {
            *x0 = 0; *y0 = 0; *x1 = c->W; *y1 = c->H; /* conservative: whole image */
            return 1;
        }
        ulo /= c->sx; uhi /= c->sx; vlo /= c->sy; vhi /= c->sy;
    }
    /* u = 2 px / W - 1, v = 1 - 2 py / H */
    *x0 = (ulo + 1) * 0.5f * c->W - 1;
    *x1 = (uhi + 1) * 0.5f * c->W + 1;
    *y0 = (1 - vhi) * 0.5f * c->H - 1;
    *y1 = (1 - vlo) * 0.5f * c->H + 1;
    return 1;
}

int rvr_camera_box_region(const rvr_camera *cam, uint32_t W, uint32_t H, const double lo[3], const double hi[3],
                          uint32_t margin, rvr_region *out) {
    rvr_cam c;
    if (!cam || !lo || !hi || !out || W == 0 || H == 0 || rvr__cam_setup(cam, W, H, &c)) return RVR_ERR_INVALID;
    const rvr_region all = {0, 0, W, H};
    double u0 = INFINITY, u1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
    for (int q = 0; q < 8; q++) {
        const double p[3] = {(q & 1 ? hi[0] : lo[0]) - c.eye[0], (q & 2 ? hi[1] : lo[1]) - c.eye[1],
                             (q & 4 ? hi[2] : lo[2]) - c.eye[2]};
        const double a = p[0] * c.right[0] + p[1] * c.right[1] + p[2] * c.right[2];
        const double b = p[0] * c.up[0] + p[1] * c.up[1] + p[2] * c.up[2];
        const double z = p[0] * c.fwd[0] + p[1] * c.fwd[1] + p[2] * c.fwd[2];
        if (!c.ortho && !(z > 1e-6)) { /* a corner at or behind the eye: unbounded */
            *out = all;
            return RVR_OK;
        }
        const double u = (c.ortho ? a : a / z) / c.sx, v = (c.ortho ? b : b / z) / c.sy;
        u0 = fmin(u0, u), u1 = fmax(u1, u), v0 = fmin(v0, v), v1 = fmax(v1, v);
    }
    /* u = 2 px / W - 1, v = 1 - 2 py / H (rvr__cam_ray) */
    const double x0 = floor((u0 + 1) * 0.5 * W) - margin, x1 = ceil((u1 + 1) * 0.5 * W) + margin;
    const double y0 = floor((1 - v1) * 0.5 * H) - margin, y1 = ceil((1 - v0) * 0.5 * H) + margin;
    const double cx0 = fmax(0, x0), cy0 = fmax(0, y0), cx1 = fmin(W, x1), cy1 = fmin(H, y1);
    if (!(cx1 > cx0 && cy1 > cy0)) {
        *out = (rvr_region){0, 0, 0, 0};
        return RVR_OK;
    }
    *out = (rvr_region){(uint32_t)cx0, (uint32_t)cy0, (uint32_t)(cx1 - cx0), (uint32_t)(cy1 - cy0)};
    return RVR_OK;
}
