/* rr_split.c - where a distributed rank's GPU time goes (issue 12), on one GPU, no MPI: the
 * 2048^3 float32 sphere scene of rr_bench, 1920x1080, composite + S1, an orbit of views; per view
 *   full       the whole volume, the whole image (what 1 rank renders)
 *   clip near/far  the same renderer, clipped to z < S/2 and z >= S/2, the whole image
 *   slab near/far  a renderer holding only that slab (+ margin layers), camera moved into it,
 *                  clipped at the cut, the slab's footprint only (what each of 2 ranks renders)
 * The slab renders run one after the other on this one GPU: their sum against `full` is the
 * cost of splitting the rays, without a second GPU, MPI or compositing.
 * usage: rr_split [S=2048] [views=16] [margin=128] [variant...]; per variant one JSON line per
 * view, then a summary. Variants (default s1): s1 = composite + S1 as rr_bench; s0 = no shading;
 * suffixes: -noert renders without early ray termination (the slabs' samples then add up to the
 * whole volume's, and what is left of the difference is the cost of cutting the rays themselves);
 * -top renders the tile rows top down (RVR_CUDA_ROW_ORDER=top) instead of the costliest tiles
 * first, -rows the costliest tile rows first (RVR_CUDA_ROW_ORDER=rows);
 * -b8, -b4, -b2: blocks of 16 x that many rays (RVR_CUDA_BLOCK_ROWS) instead of 16 x 16;
 * -clip adds the whole volume clipped to each half (its row costs then mix with the whole's);
 * -halves: in the clip fields, the whole volume in two renders, the top and the bottom half of
 * the image (what two renders of one volume cost);
 * -tiny: in the clip fields, the whole volume's render of one 16 x 16 tile off the volume, twice
 * (what a render costs besides its rays). */
#include "../src/synthetic.h"
#include "rvr.h"
#include "scenes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static void check(int rc, const char *what) {
    if (rc) {
        fprintf(stderr, "rr_split: %s: %s\n", what, rvr_strerror(rc));
        exit(1);
    }
}

/* a renderer holding layers [z0, z1) of the S^3 volume in vol */
static rvr_renderer *holding(const float *vol, uint64_t S, uint64_t z0, uint64_t z1, const float *tf) {
    rvr_renderer *r;
    check(rvr_renderer_create(RVR_BACKEND_AUTO, &r), "renderer"); /* CUDA where there is one */
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = z1 - z0, d.shape[1] = d.shape[2] = S;
    d.dtype = RVR_DTYPE_F32;
    d.flags = RVR_VOLUME_BORROW;
    d.window_lo = 0, d.window_hi = 1;
    check(rvr_renderer_set_volume(r, &d, vol + z0 * S * S, (z1 - z0) * S * S * 4), "set_volume");
    check(rvr_renderer_set_tf(r, tf, 256), "set_tf");
    return r;
}

typedef struct {
    double ms;
    uint64_t samples;
} timed;

static uint32_t variant_shading = RVR_SHADE_LOCAL, variant_flags = 0; /* set per variant by main */

/* one render of region g (NULL: the whole image), clipped to world z in [zlo, zhi] */
static timed render(rvr_renderer *r, const rvr_camera *cam, int W, int H, const rvr_region *g, double zlo, double zhi,
                    uint64_t S, uint8_t *img) {
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.shading = variant_shading;
    s.flags |= variant_flags;
    if (zhi > zlo) {
        s.flags |= RVR_F_CLIP_BOX;
        s.clip_min[0] = s.clip_min[1] = 0, s.clip_min[2] = (float)zlo;
        s.clip_max[0] = s.clip_max[1] = (float)S, s.clip_max[2] = (float)zhi;
    }
    const rvr_region all = {0, 0, (uint32_t)W, (uint32_t)H};
    rvr_render_stats st;
    const double t = now_ms();
    check(rvr_render_region(r, cam, &s, W, H, g ? g : &all, img, (uint64_t)W * H * 4, &st), "render");
    return (timed){now_ms() - t, st.samples};
}

int main(int argc, char **argv) {
    const uint64_t S = argc > 1 ? strtoull(argv[1], NULL, 10) : 2048;
    const int views = argc > 2 ? atoi(argv[2]) : 16;
    const uint64_t m = argc > 3 ? strtoull(argv[3], NULL, 10) : 128, half = S / 2;
    const int W = 1920, H = 1080;
    float *vol;
    uint8_t *img;
    /* page-locked where a GPU is (the image then is written by the GPU directly, as in rvr_ranks) */
    if (rvr_host_alloc(S * S * S * 4, (void **)&vol)) vol = malloc(S * S * S * 4);
    if (rvr_host_alloc((uint64_t)W * H * 4, (void **)&img)) img = malloc((uint64_t)W * H * 4);
    if (!vol || !img) return 1;
    const uint64_t shape[3] = {S, S, S};
    double t = now_ms();
    if (rr_synth_layers(RR_SYNTH_SPHERE, shape, 0, S, vol)) return 1;
    fprintf(stderr, "scene %.0f ms\n", now_ms() - t);
    float tf[256 * 4];
    scene_tf_bench(0.03f, tf);
    rvr_renderer *full = holding(vol, S, 0, S, tf);
    rvr_renderer *nearr = holding(vol, S, 0, half + m, tf);       /* layers [0, S/2 + m), origin 0 */
    rvr_renderer *farr = holding(vol, S, half - m, S, tf);        /* layers [S/2 - m, S), origin S/2 - m */
    const int nv = argc > 4 ? argc - 4 : 1;
    for (int vi = 0; vi < nv; vi++) {
        const char *name = argc > 4 ? argv[4 + vi] : "s1";
        variant_shading = strncmp(name, "s0", 2) == 0 ? 0 : RVR_SHADE_LOCAL;
        variant_flags = strstr(name, "-noert") ? RVR_F_NO_ERT : 0;
        if (strstr(name, "-top")) setenv("RVR_CUDA_ROW_ORDER", "top", 1);
        else if (strstr(name, "-rows")) setenv("RVR_CUDA_ROW_ORDER", "rows", 1);
        else unsetenv("RVR_CUDA_ROW_ORDER");
        const char *b = strstr(name, "-b");
        if (b) {
            char rows[8];
            snprintf(rows, sizeof rows, "%d", atoi(b + 2));
            setenv("RVR_CUDA_BLOCK_ROWS", rows, 1);
        } else {
            unsetenv("RVR_CUDA_BLOCK_ROWS");
        }
        const int with_clip = strstr(name, "-clip") != NULL, halves = strstr(name, "-halves") != NULL, tiny = strstr(name, "-tiny") != NULL;
        double sum[7] = {0};
        for (int k = 0; k <= views; k++) {
            rvr_camera cam, cf;
            scene_orbit((int)S, 0.4f + k * 6.2832f / views, &cam);
            cf = cam;
            cf.eye[2] -= (float)(half - m), cf.target[2] -= (float)(half - m);
            const double lo_n[3] = {0, 0, 0}, hi_n[3] = {(double)S, (double)S, (double)half};
            const double lo_f[3] = {0, 0, (double)m}, hi_f[3] = {(double)S, (double)S, (double)(m + S - half)};
            rvr_region gn, gf;
            check(rvr_camera_box_region(&cam, W, H, lo_n, hi_n, 1, &gn), "footprint");
            check(rvr_camera_box_region(&cf, W, H, lo_f, hi_f, 1, &gf), "footprint");
            const timed a = render(full, &cam, W, H, NULL, 0, 0, S, img);
            timed cn = with_clip ? render(full, &cam, W, H, NULL, 0, (double)half, S, img) : (timed){0, 0};
            timed cfar = with_clip ? render(full, &cam, W, H, NULL, (double)half, (double)S, S, img) : (timed){0, 0};
            if (tiny) {
                const rvr_region corner = {0, 0, 16, 16};
                cn = render(full, &cam, W, H, &corner, 0, 0, S, img);
                cfar = render(full, &cam, W, H, &corner, 0, 0, S, img);
            }
            if (halves) {
                const rvr_region top = {0, 0, (uint32_t)W, (uint32_t)H / 2}, bottom = {0, (uint32_t)H / 2, (uint32_t)W, (uint32_t)(H - H / 2)};
                cn = render(full, &cam, W, H, &top, 0, 0, S, img);
                cfar = render(full, &cam, W, H, &bottom, 0, 0, S, img);
            }
            const timed sn = gn.width ? render(nearr, &cam, W, H, &gn, 0, (double)half, S, img) : (timed){0, 0};
            const timed sf = gf.width ? render(farr, &cf, W, H, &gf, (double)m, (double)(m + S - half), S, img) : (timed){0, 0};
            printf("{\"variant\":\"%s\",\"view\":%d,\"full_ms\":%.3f,\"full_M\":%.1f,\"clip_near_ms\":%.3f,\"clip_far_ms\":%.3f,\"clip_M\":%.1f,"
                   "\"slab_near_ms\":%.3f,\"slab_far_ms\":%.3f,\"slab_near_M\":%.1f,\"slab_far_M\":%.1f,\"near_rows\":%u,\"far_rows\":%u}\n",
                   name, k, a.ms, a.samples / 1e6, cn.ms, cfar.ms, (cn.samples + cfar.samples) / 1e6, sn.ms, sf.ms, sn.samples / 1e6,
                   sf.samples / 1e6, gn.height, gf.height);
            if (k == 0) continue; /* warm-up */
            const double v[7] = {a.ms, cn.ms + cfar.ms, sn.ms + sf.ms, sn.ms > sf.ms ? sn.ms : sf.ms, (double)a.samples,
                                 (double)(cn.samples + cfar.samples), (double)(sn.samples + sf.samples)};
            for (int i = 0; i < 7; i++) sum[i] += v[i] / views;
        }
        printf("{\"variant\":\"%s\",\"summary\":1,\"full_ms\":%.3f,\"clip_sum_ms\":%.3f,\"slab_sum_ms\":%.3f,\"slab_max_ms\":%.3f,"
               "\"full_M\":%.1f,\"clip_M\":%.1f,\"slab_M\":%.1f,\"slab_sum_vs_full\":%.3f,\"slab_max_vs_full\":%.3f,\"clip_sum_vs_full\":%.3f}\n",
               name, sum[0], sum[1], sum[2], sum[3], sum[4] / 1e6, sum[5] / 1e6, sum[6] / 1e6, sum[2] / sum[0], sum[3] / sum[0],
               sum[1] / sum[0]);
    }
    return 0;
}
