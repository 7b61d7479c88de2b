/* rvr_bench_cuda.c - CUDA render benchmark: librvr's CUDA backend against the plain reference
 * CUDA ray caster (bench/render-ref/ref_cuda.cu) in the same process, same volume, same
 * sampling, same cameras (orbit), 1920x1080.
 * usage: rvr_bench_cuda [frames=8] [W=1920] [H=1080] [case ...]   cases: 512u8 1024u8 2048u8 1024f32
 * Prints a table on stderr and JSON lines on stdout (ARCHITECTURE.md "Benchmarks"):
 *   upload-*    set_volume from page-locked memory (rvr_host_alloc) vs plain cudaMemcpy from it
 *   upload-pageable-*  set_volume from ordinary memory (staged) vs the same cudaMemcpy
 *   *-S0, *-S1  librvr frame time (rvr_render wall: kernel + image to the caller's buffer) vs
 *               the reference's (kernel + copy of the image to host memory)
 *   *-S2        librvr S2 frame time vs librvr S1 (target <= 2x)
 *   *-S3-precompute  occlusion volume build vs the 1 s target
 * The last line is the headline: 1024^3 u8 S1 against the reference. */
#include "ref_cuda.h"
#include "scenes.h"

#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void json(const char *c, double v, const char *unit, const char *base, double bv, int hib, const char *extra) {
    printf("{\"bench\":\"render-cuda\",\"case\":\"%s\",\"value\":%.3f,\"unit\":\"%s\",\"baseline\":\"%s\","
           "\"baseline_value\":%.3f,\"ratio\":%.3f,\"higher_is_better\":%s%s%s}\n",
           c, v, unit, base, bv, bv != 0 ? v / bv : 0, hib ? "true" : "false", extra ? "," : "", extra ? extra : "");
    fflush(stdout);
}

static const char *REF = "bench/render-ref/ref_cuda.cu plain CUDA ray caster";

static int run_case(int N, int dtype, int F, int W, int H, double *headline) {
    const char *dn = dtype == RVR_DTYPE_F32 ? "f32" : "u8";
    const size_t esz = dtype == RVR_DTYPE_F32 ? 4 : 1, nv = (size_t)N * N * N, bytes = nv * esz;
    char cs[64], ex[512];
    fprintf(stderr, "== %d^3 %s (%.2f GiB), %dx%d, %d frames\n", N, dn, bytes / 1073741824.0, W, H, F);
    void *pin = NULL;
    double t = now();
    if (rvr_host_alloc(bytes, &pin)) {
        fprintf(stderr, "rvr_host_alloc %zu failed\n", bytes);
        return 1;
    }
    if (refc_generate(N, dtype, pin)) return 1;
    fprintf(stderr, "  page-locked buffer + volume made on the GPU: %.2f s\n", now() - t);
    refc *ref;
    if (refc_create(&ref)) return 1;
    rvr_renderer *r;
    if (rvr_renderer_create(RVR_BACKEND_CUDA, &r)) {
        fprintf(stderr, "no CUDA renderer\n");
        return 1;
    }
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = d.shape[1] = d.shape[2] = (uint64_t)N;
    d.dtype = dtype;
    d.flags = RVR_VOLUME_BORROW;
    if (dtype == RVR_DTYPE_U8) d.window_hi = 255;
    /* upload: first a warm-up of the runtime on a small volume */
    {
        uint8_t tiny[8] = {0};
        rvr_volume_desc td = d;
        td.shape[0] = td.shape[1] = td.shape[2] = 2;
        td.dtype = RVR_DTYPE_U8;
        td.window_hi = 0;
        rvr_renderer_set_volume(r, &td, tiny, 8);
    }
    t = now();
    int rc = rvr_renderer_set_volume(r, &d, pin, bytes);
    double t_set = now() - t;
    if (rc) {
        fprintf(stderr, "set_volume: %s\n", rvr_strerror(rc));
        return 1;
    }
    rvr_volume_info info;
    rvr_renderer_volume_info(r, &info);
    double h2d = 0;
    if (refc_set_volume(ref, pin, dtype == RVR_DTYPE_F32 ? 5 : 1, N, N, N, (float)info.window_lo,
                        (float)info.window_hi, &h2d))
        return 1;
    t = now();
    rc = rvr_renderer_set_volume(r, &d, pin, bytes); /* again: allocations the first call paid */
    const double t_set2 = now() - t;
    if (rc) return 1;
    fprintf(stderr, "  set_volume from page-locked memory again: %.1f ms\n", t_set2 * 1e3);
    const double gb = bytes / 1e9, bw_rvr = gb / t_set, bw_ref = gb / h2d;
    fprintf(stderr, "  set_volume from page-locked memory: %.1f ms = %.1f GB/s (everything: DMA, min/max, "
                    "normalization, bricks); plain cudaMemcpy pinned: %.1f ms = %.1f GB/s\n",
            t_set * 1e3, bw_rvr, h2d * 1e3, bw_ref);
    snprintf(cs, sizeof cs, "upload-pinned-%d^3-%s", N, dn);
    snprintf(ex, sizeof ex, "\"bytes\":%zu,\"set_volume_ms\":%.1f,\"cudamemcpy_ms\":%.1f", bytes, t_set * 1e3, h2d * 1e3);
    json(cs, bw_rvr, "GB/s", "cudaMemcpy H2D from pinned memory (same buffer, same process)", bw_ref, 1, ex);
    if (N <= 1024) { /* ordinary (pageable) memory, staged */
        void *pg = malloc(bytes);
        if (!pg) return 1;
        memcpy(pg, pin, bytes);
        t = now();
        rc = rvr_renderer_set_volume(r, &d, pg, bytes);
        double t_pg = now() - t;
        if (rc) return 1;
        t = now();
        rc = rvr_renderer_set_volume(r, &d, pg, bytes); /* again: what a first call pays once */
        const double t_pg2 = now() - t;
        if (rc) return 1;
        fprintf(stderr, "  set_volume from pageable memory (staged): %.1f ms = %.1f GB/s (again: %.1f ms)\n", t_pg * 1e3,
                gb / t_pg, t_pg2 * 1e3);
        snprintf(cs, sizeof cs, "upload-pageable-%d^3-%s", N, dn);
        snprintf(ex, sizeof ex, "\"bytes\":%zu,\"set_volume_ms\":%.1f", bytes, t_pg * 1e3);
        json(cs, gb / t_pg, "GB/s", "cudaMemcpy H2D from pinned memory (same buffer, same process)", bw_ref, 1, ex);
        rvr_renderer_set_volume(r, &d, pin, bytes); /* back to the borrowed page-locked one */
        free(pg);
    }
    float tf[256 * 4], lut[4096 * 4];
    scene_tf_bench(0.08f, tf);
    scene_ref_lut(tf, 256, 1.0f, lut);
    rvr_renderer_set_tf(r, tf, 256);
    refc_set_lut(ref, lut);
    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.background[0] = s.background[1] = s.background[2] = 0.08f;
    const float k[4] = {s.ambient, s.diffuse, s.specular, s.shininess};
    uint8_t *img = malloc((size_t)W * H * 4), *img2 = malloc((size_t)W * H * 4);
    /* S0 / S1: reference and librvr, interleaved frame by frame */
    double ref_ms[2] = {0, 0}, ref_k[2] = {0, 0}, rvr_ms[2] = {0, 0};
    uint64_t ref_ns[2] = {0, 0}, rvr_ns[2] = {0, 0};
    int maxd[2] = {0, 0};
    double meand[2] = {0, 0};
    for (int sh = 0; sh < 2; sh++) {
        s.shading = sh ? RVR_SHADE_LOCAL : 0;
        for (int f = -1; f < F; f++) { /* f = -1: warm-up, not counted */
            rvr_camera c;
            scene_orbit(N, 2 * 3.14159265f * (f < 0 ? 0 : f) / F + 0.5f, &c);
            double km = 0;
            uint64_t ns = 0;
            t = now();
            refc_render(ref, c.eye, c.target, c.up, c.fov_y_deg, W, H, 1.0f, 0.99f, sh, k, s.background, img, &km, &ns);
            double tr = now() - t;
            rvr_render_stats st;
            t = now();
            rvr_render(r, &c, &s, W, H, img2, (uint64_t)W * H * 4, &st);
            double tm = now() - t;
            if (f < 0) continue;
            ref_ms[sh] += tr * 1e3 / F;
            ref_k[sh] += km / F;
            rvr_ms[sh] += tm * 1e3 / F;
            ref_ns[sh] += ns / F;
            rvr_ns[sh] += st.samples / F;
            if (f == 0) {
                double sum = 0;
                for (size_t i = 0; i < (size_t)W * H * 4; i++) {
                    int dd = abs((int)img[i] - (int)img2[i]);
                    maxd[sh] = dd > maxd[sh] ? dd : maxd[sh];
                    sum += dd;
                }
                meand[sh] = sum / ((double)W * H * 4);
                if (getenv("RVR_BENCH_PPM") && N == 1024 && dtype == RVR_DTYPE_U8) {
                    char p[256];
                    snprintf(p, sizeof p, "%s/bench_%d_S%d_ref.ppm", getenv("RVR_BENCH_PPM"), N, sh);
                    scene_write_ppm(p, img, W, H);
                    snprintf(p, sizeof p, "%s/bench_%d_S%d_rvr.ppm", getenv("RVR_BENCH_PPM"), N, sh);
                    scene_write_ppm(p, img2, W, H);
                }
            }
        }
        fprintf(stderr, "  S%d reference: %6.2f ms/frame (kernel %6.2f ms, %6.1f Msamples)   librvr: %6.2f ms/frame "
                        "(%6.1f Msamples)  ratio %.3f  image diff max %d mean %.3f\n",
                sh, ref_ms[sh], ref_k[sh], ref_ns[sh] / 1e6, rvr_ms[sh], rvr_ns[sh] / 1e6, rvr_ms[sh] / ref_ms[sh],
                maxd[sh], meand[sh]);
    }
    /* S2, S3: librvr alone, fixed light; first frame builds the light / occlusion volume */
    s.light_dir[0] = 1;
    s.light_dir[1] = 0.3f;
    s.light_dir[2] = 1;
    double s_ms[4] = {0, 0, 0, 0}, pre[4] = {0, 0, 0, 0};
    const uint32_t shs[4] = {0, RVR_SHADE_LOCAL, RVR_SHADE_LOCAL | RVR_SHADE_SHADOW,
                             RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO};
    for (int q = 1; q < 4; q++) {
        s.shading = shs[q];
        rvr_camera c;
        rvr_render_stats st;
        scene_orbit(N, 0.5f, &c);
        rvr_render(r, &c, &s, W, H, img2, (uint64_t)W * H * 4, &st);
        pre[q] = st.precompute_ms;
        for (int f = 0; f < F; f++) {
            scene_orbit(N, 2 * 3.14159265f * f / F + 0.5f, &c);
            t = now();
            rvr_render(r, &c, &s, W, H, img2, (uint64_t)W * H * 4, &st);
            s_ms[q] += (now() - t) * 1e3 / F;
        }
        fprintf(stderr, "  librvr S%d (fixed light): first frame precompute %7.1f ms, then %6.2f ms/frame\n", q, pre[q],
                s_ms[q]);
    }
    for (int sh = 0; sh < 2; sh++) {
        snprintf(cs, sizeof cs, "%d^3-%s-%dx%d-S%d", N, dn, W, H, sh);
        snprintf(ex, sizeof ex,
                 "\"baseline_kernel_ms\":%.3f,\"msamples\":%.1f,\"baseline_msamples\":%.1f,\"image_max_diff\":%d,"
                 "\"image_mean_diff\":%.3f,\"target_ratio\":1.1",
                 ref_k[sh], rvr_ns[sh] / 1e6, ref_ns[sh] / 1e6, maxd[sh], meand[sh]);
        json(cs, rvr_ms[sh], "ms/frame", REF, ref_ms[sh], 0, ex);
    }
    snprintf(cs, sizeof cs, "%d^3-%s-%dx%d-S2", N, dn, W, H);
    snprintf(ex, sizeof ex, "\"light_volume_ms\":%.1f,\"target_ratio\":2", pre[2]);
    json(cs, s_ms[2], "ms/frame", "librvr CUDA S1 (same run, fixed light)", s_ms[1], 0, ex);
    snprintf(cs, sizeof cs, "%d^3-%s-%dx%d-S3", N, dn, W, H);
    snprintf(ex, sizeof ex, "\"occlusion_volume_ms\":%.1f", pre[3]);
    json(cs, s_ms[3], "ms/frame", "librvr CUDA S1 (same run, fixed light)", s_ms[1], 0, ex);
    snprintf(cs, sizeof cs, "%d^3-%s-S3-precompute", N, dn);
    json(cs, pre[3], "ms", "target", 1000, 0, NULL);
    if (headline && N == 1024 && dtype == RVR_DTYPE_U8) {
        headline[0] = rvr_ms[1];
        headline[1] = ref_ms[1];
        headline[2] = ref_k[1];
    }
    free(img);
    free(img2);
    rvr_renderer_destroy(r);
    refc_destroy(ref);
    rvr_host_free(pin);
    return 0;
}

int main(int argc, char **argv) {
    const int F = argc > 1 ? atoi(argv[1]) : 8;
    const int W = argc > 2 ? atoi(argv[2]) : 1920, H = argc > 3 ? atoi(argv[3]) : 1080;
    const char *def[4] = {"512u8", "1024u8", "2048u8", "1024f32"};
    int nc = argc > 4 ? argc - 4 : 4;
    double head[3] = {0, 0, 0};
    for (int i = 0; i < nc; i++) {
        const char *c = argc > 4 ? argv[4 + i] : def[i];
        int N = atoi(c), dt = strstr(c, "f32") ? RVR_DTYPE_F32 : RVR_DTYPE_U8;
        if (N < 16 || run_case(N, dt, F, W, H, head)) {
            fprintf(stderr, "case %s failed\n", c);
            return 1;
        }
    }
    if (head[1] > 0) {
        char ex[160];
        snprintf(ex, sizeof ex, "\"baseline_kernel_ms\":%.3f,\"target_ratio\":1.1", head[2]);
        json("1024^3-u8-1920x1080-S1", head[0], "ms/frame", REF, head[1], 0, ex);
    }
    return 0;
}
