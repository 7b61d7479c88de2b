/* rvr_render.c - render a raw volume file (or a synthetic one) to a PPM, for eyeballing.
 *
 * usage: rvr_render (--demo N | FILE --shape Z,Y,X --dtype u8|u16|i16|u32|f32|f64
 *                    [--order C|F] [--spacing sz,sy,sx] [--window lo,hi])
 *                   [--mode composite|mip|minip|avg|iso] [--shade 0|1|2|3] [--iso V]
 *                   [--size WxH] [--az DEG] [--el DEG] [--ortho] [--lod K]
 *                   [--slice AXIS,INDEX] [--threads N] [--out FILE.ppm]
 * Default TF: the benchmark's (opacity from 100/255 of the window). Prints the timing. */
#include "scenes.h"

#include <string.h>

static void die(const char *m) {
    fprintf(stderr, "rvr_render: %s\n", m);
    exit(2);
}

int main(int argc, char **argv) {
    const char *file = NULL, *out = "rvr.ppm";
    int demo = 0, W = 800, H = 600, shade = 1, ortho = 0, lod = 1, threads = 0, slice_axis = -1;
    long slice_index = 0;
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.dtype = RVR_DTYPE_U8;
    float az = 30, el = 20, iso = 0.5f;
    int mode = RVR_MODE_COMPOSITE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEXT() (v ? (i++, v) : (die("missing value"), ""))
        if (!strcmp(a, "--demo")) demo = atoi(NEXT());
        else if (!strcmp(a, "--shape")) {
            unsigned long long z, y, x;
            if (sscanf(NEXT(), "%llu,%llu,%llu", &z, &y, &x) != 3) die("--shape Z,Y,X");
            d.shape[0] = z, d.shape[1] = y, d.shape[2] = x;
        } else if (!strcmp(a, "--dtype")) {
            const char *t = NEXT();
            const char *names[] = {"u8", "u16", "i16", "u32", "f32", "f64"};
            d.dtype = 0;
            for (int k = 0; k < 6; k++)
                if (!strcmp(t, names[k])) d.dtype = k + 1;
        } else if (!strcmp(a, "--order")) d.order = !strcmp(NEXT(), "F") ? RVR_ORDER_F : RVR_ORDER_C;
        else if (!strcmp(a, "--spacing")) {
            if (sscanf(NEXT(), "%f,%f,%f", &d.spacing[0], &d.spacing[1], &d.spacing[2]) != 3) die("--spacing");
        } else if (!strcmp(a, "--window")) {
            if (sscanf(NEXT(), "%lf,%lf", &d.window_lo, &d.window_hi) != 2) die("--window lo,hi");
        } else if (!strcmp(a, "--mode")) {
            const char *m = NEXT();
            mode = !strcmp(m, "mip") ? RVR_MODE_MIP : !strcmp(m, "minip") ? RVR_MODE_MINIP
                 : !strcmp(m, "avg") ? RVR_MODE_AVERAGE : !strcmp(m, "iso") ? RVR_MODE_ISO : RVR_MODE_COMPOSITE;
        } else if (!strcmp(a, "--shade")) shade = atoi(NEXT());
        else if (!strcmp(a, "--iso")) iso = (float)atof(NEXT());
        else if (!strcmp(a, "--size")) {
            if (sscanf(NEXT(), "%dx%d", &W, &H) != 2) die("--size WxH");
        } else if (!strcmp(a, "--az")) az = (float)atof(NEXT());
        else if (!strcmp(a, "--el")) el = (float)atof(NEXT());
        else if (!strcmp(a, "--ortho")) ortho = 1;
        else if (!strcmp(a, "--lod")) lod = atoi(NEXT());
        else if (!strcmp(a, "--threads")) threads = atoi(NEXT());
        else if (!strcmp(a, "--slice")) {
            if (sscanf(NEXT(), "%d,%ld", &slice_axis, &slice_index) != 2) die("--slice AXIS,INDEX");
        } else if (!strcmp(a, "--out")) out = NEXT();
        else if (a[0] == '-') die("unknown option (see the comment at the top of tools/rvr_render.c)");
        else file = a;
    }
    void *data = NULL;
    uint64_t bytes = 0;
    if (demo > 0) {
        d.shape[0] = d.shape[1] = d.shape[2] = (uint64_t)demo;
        d.dtype = RVR_DTYPE_U8;
        d.window_lo = 0;
        d.window_hi = 255;
        bytes = (uint64_t)demo * demo * demo;
        data = malloc(bytes);
        if (!data) die("out of memory");
        scene_pores_u8(demo, data);
    } else if (file) {
        int esz = rvr_dtype_size(d.dtype);
        if (esz < 0) die("unknown --dtype");
        bytes = d.shape[0] * d.shape[1] * d.shape[2] * (uint64_t)esz;
        data = malloc(bytes ? bytes : 1);
        FILE *f = fopen(file, "rb");
        if (!f || !data || fread(data, 1, bytes, f) != bytes) die("cannot read FILE with --shape/--dtype");
        fclose(f);
    } else {
        die("give FILE (with --shape and --dtype) or --demo N");
    }
    rvr_renderer *r;
    int rc;
    if ((rc = rvr_renderer_create(RVR_BACKEND_AUTO, &r))) die(rvr_strerror(rc));
    rvr_renderer_set_threads(r, threads);
    if ((rc = rvr_renderer_set_volume(r, &d, data, bytes))) die(rvr_strerror(rc));
    float tf[256 * 4];
    scene_tf_bench(0.08f, tf);
    rvr_renderer_set_tf(r, tf, 256);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.mode = mode;
    s.iso_value = iso;
    s.lod = (uint32_t)lod;
    s.background[0] = s.background[1] = s.background[2] = 0.08f;
    const uint32_t shades[4] = {0, RVR_SHADE_LOCAL, RVR_SHADE_LOCAL | RVR_SHADE_SHADOW,
                                RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO};
    s.shading = shades[shade < 0 ? 0 : (shade > 3 ? 3 : shade)];
    s.light_dir[0] = 1;
    s.light_dir[1] = 0.5f;
    s.light_dir[2] = 1;
    if (mode != RVR_MODE_COMPOSITE && mode != RVR_MODE_ISO) s.flags |= RVR_F_GRAY;
    rvr_render_stats st;
    uint8_t *img;
    if (slice_axis >= 0) {
        rvr_slice sl;
        uint32_t w, h;
        if ((rc = rvr_renderer_slice_axis(r, slice_axis, (uint64_t)slice_index, &sl, &w, &h))) die(rvr_strerror(rc));
        W = (int)w, H = (int)h;
        img = malloc((size_t)W * H * 4);
        s.flags |= RVR_F_GRAY;
        rc = rvr_render_slice(r, &sl, &s, w, h, img, (uint64_t)W * H * 4, &st);
    } else {
        /* orbit the volume's centre at azimuth/elevation, 2.2 diagonals away */
        float sp[3] = {d.spacing[2] > 0 ? d.spacing[2] : 1, d.spacing[1] > 0 ? d.spacing[1] : 1,
                       d.spacing[0] > 0 ? d.spacing[0] : 1};
        float ext[3] = {d.shape[2] * sp[0], d.shape[1] * sp[1], d.shape[0] * sp[2]};
        float diag = sqrtf(ext[0] * ext[0] + ext[1] * ext[1] + ext[2] * ext[2]);
        float ra = az * 3.14159265f / 180, re = el * 3.14159265f / 180, R = 2.2f * diag;
        rvr_camera c;
        rvr_camera_init(&c);
        for (int k = 0; k < 3; k++) c.target[k] = ext[k] / 2;
        c.eye[0] = c.target[0] + R * cosf(re) * cosf(ra);
        c.eye[1] = c.target[1] + R * cosf(re) * sinf(ra);
        c.eye[2] = c.target[2] + R * sinf(re);
        c.up[1] = 0;
        c.up[2] = 1;
        c.fov_y_deg = 30;
        if (ortho) {
            c.projection = RVR_PROJ_ORTHO;
            c.ortho_height = 1.1f * diag;
        }
        img = malloc((size_t)W * H * 4);
        rc = rvr_render(r, &c, &s, (uint32_t)W, (uint32_t)H, img, (uint64_t)W * H * 4, &st);
    }
    if (rc) die(rvr_strerror(rc));
    if (scene_write_ppm(out, img, W, H)) die("cannot write the output");
    printf("%s: %dx%d in %.1f ms (precompute %.1f ms), %.1f Msamples\n", out, W, H, st.total_ms,
           st.precompute_ms, st.samples / 1e6);
    rvr_renderer_destroy(r);
    free(img);
    free(data);
    return 0;
}
