/* rvr_bench.c - render benchmark: librvr against the naive reference ray caster
 * (bench/render-ref/ref.c) in the same process, same volume, same sampling, same threads.
 * usage: rvr_bench [N=512] [W=1280] [H=720] [frames=3]    threads: OMP_NUM_THREADS
 * Prints a table, then as its last line one JSON object (ARCHITECTURE.md "Benchmarks"): the
 * S1 per-sample rate of librvr's kernel on the reference's samples (no skipping) against the
 * reference, plus librvr's frame time with skipping against the reference's frame time. */
#include "ref.h"
#include "scenes.h"

#include <omp.h>
#include <string.h>

int main(int argc, char **argv) {
    const int N = argc > 1 ? atoi(argv[1]) : 512;
    const int W = argc > 2 ? atoi(argv[2]) : 1280, H = argc > 3 ? atoi(argv[3]) : 720;
    const int F = argc > 4 ? atoi(argv[4]) : 3;
    const int threads = omp_get_max_threads();
    fprintf(stderr, "building %d^3 u8 volume...\n", N);
    size_t nv = (size_t)N * N * N;
    uint8_t *v8 = malloc(nv);
    uint16_t *v16 = malloc(nv * 2);
    uint8_t *img = malloc((size_t)W * H * 4), *img2 = malloc((size_t)W * H * 4);
    if (!v8 || !v16 || !img || !img2) return 1;
    scene_pores_u8(N, v8);
#pragma omp parallel for
    for (size_t i = 0; i < nv; i++) v16[i] = (uint16_t)(v8[i] * 257);
    float tf[256 * 4], *lut = malloc(4096 * 4 * sizeof(float));
    scene_tf_bench(0.08f, tf);
    scene_ref_lut(tf, 256, 1.0f, lut);

    rvr_renderer *r;
    if (rvr_renderer_create(RVR_BACKEND_CPU, &r)) return 1;
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = d.shape[1] = d.shape[2] = (uint64_t)N;
    d.dtype = RVR_DTYPE_U8;
    d.flags = RVR_VOLUME_BORROW;
    d.window_hi = 255;
    double t0 = omp_get_wtime();
    if (rvr_renderer_set_volume(r, &d, v8, nv) || rvr_renderer_set_tf(r, tf, 256)) return 1;
    printf("set_volume %d^3 u8: %.0f ms\n", N, (omp_get_wtime() - t0) * 1e3);

    rvr_render_settings s;
    rvr_render_settings_init(&s);
    s.background[0] = s.background[1] = s.background[2] = 0.08f;
    const float k[4] = {s.ambient, s.diffuse, s.specular, s.shininess};

    /* S1: reference vs librvr, interleaved frame by frame (same camera per pair) */
    double tr = 0, tm = 0, tk = 0;
    uint64_t sr = 0, sm = 0, sk = 0;
    int maxdiff = 0;
    for (int f = 0; f < F; f++) {
        rvr_camera c;
        scene_orbit(N, 2 * 3.14159265f * f / (F > 1 ? F : 1) + 0.5f, &c);
        uint64_t ns = 0;
        double a = omp_get_wtime();
        ref_render(v16, N, N, N, lut, c.eye, c.target, c.up, c.fov_y_deg, W, H, 1.0f, 0.99f, 1, k,
                   s.background, img, &ns);
        tr += omp_get_wtime() - a;
        sr += ns;
        s.shading = RVR_SHADE_LOCAL;
        rvr_render_stats st;
        a = omp_get_wtime();
        rvr_render(r, &c, &s, W, H, img2, (uint64_t)W * H * 4, &st);
        tm += omp_get_wtime() - a;
        sm += st.samples;
        s.flags = RVR_F_NO_SKIP; /* the kernel alone: exactly the reference's samples */
        a = omp_get_wtime();
        rvr_render(r, &c, &s, W, H, img2, (uint64_t)W * H * 4, &st);
        tk += omp_get_wtime() - a;
        sk += st.samples;
        s.flags = 0;
        for (size_t i = 0; i < (size_t)W * H * 4; i++) {
            int dd = abs((int)img[i] - (int)img2[i]);
            maxdiff = dd > maxdiff ? dd : maxdiff;
        }
        if (f == 0 && getenv("RVR_BENCH_PPM")) {
            scene_write_ppm("bench_ref.ppm", img, W, H);
            scene_write_ppm("bench_rvr.ppm", img2, W, H);
        }
    }
    const double ref_rate = sr / tr / 1e6, rvr_rate = sm / tm / 1e6, k_rate = sk / tk / 1e6;
    printf("S1 %dx%d, %d threads, %d frames:\n", W, H, threads, F);
    printf("  reference: %8.1f ms/frame  %7.1f Msamples/frame  %7.1f Msamples/s\n", tr / F * 1e3, sr / 1e6 / F, ref_rate);
    printf("  librvr:    %8.1f ms/frame  %7.1f Msamples/frame  %7.1f Msamples/s  (%.2fx the reference's rate, "
           "%.2fx its frame rate; max pixel difference %d)\n",
           tm / F * 1e3, sm / 1e6 / F, rvr_rate, rvr_rate / ref_rate, tr / tm, maxdiff);
    printf("  no skip:   %8.1f ms/frame  %7.1f Msamples/frame  %7.1f Msamples/s  (%.2fx the reference's rate)\n",
           tk / F * 1e3, sk / 1e6 / F, k_rate, k_rate / ref_rate);

    /* librvr alone: S0..S3, first frame (with precomputation) and cached, plus the preview */
    const char *names[4] = {"S0", "S1", "S2", "S3"};
    const uint32_t sh[4] = {0, RVR_SHADE_LOCAL, RVR_SHADE_LOCAL | RVR_SHADE_SHADOW,
                            RVR_SHADE_LOCAL | RVR_SHADE_SHADOW | RVR_SHADE_AO};
    s.light_dir[0] = 1;
    s.light_dir[1] = 0.3f;
    s.light_dir[2] = 1;
    for (int q = 0; q < 4; q++) {
        s.shading = sh[q];
        rvr_camera c;
        rvr_render_stats a, b;
        scene_orbit(N, 0.5f, &c);
        rvr_render(r, &c, &s, W, H, img2, (uint64_t)W * H * 4, &a);
        scene_orbit(N, 0.9f, &c);
        rvr_render(r, &c, &s, W, H, img2, (uint64_t)W * H * 4, &b);
        printf("  librvr %s: first %7.1f ms (precompute %6.1f ms), next view %7.1f ms, %6.1f Msamples/s\n",
               names[q], a.total_ms, a.precompute_ms, b.total_ms, b.samples / b.total_ms / 1e3);
    }
    s.shading = RVR_SHADE_LOCAL;
    s.lod = 4;
    s.step = 2;
    rvr_camera c;
    scene_orbit(N, 1.3f, &c);
    rvr_render_stats p;
    rvr_render(r, &c, &s, W, H, img2, (uint64_t)W * H * 4, &p);
    printf("  librvr S1 preview (lod 4, step 2): %.1f ms\n", p.total_ms);
    /* The goal is stated per sample on the same samples (RVR_F_NO_SKIP, the reference's sample
     * count); with skipping librvr takes fewer samples and its frames are faster. */
    printf("{\"bench\":\"render\",\"case\":\"%d^3-u8-%dx%d-S1-%dthreads\",\"value\":%.1f,\"unit\":\"Msamples/s\","
           "\"baseline\":\"bench/render-ref naive ray caster\",\"baseline_value\":%.1f,\"ratio\":%.3f,"
           "\"higher_is_better\":true,\"ms_per_frame\":%.1f,\"baseline_ms_per_frame\":%.1f,"
           "\"frame_speedup\":%.3f,\"msamples_per_s_with_skipping\":%.1f}\n",
           N, W, H, threads, k_rate, ref_rate, k_rate / ref_rate, tm / F * 1e3, tr / F * 1e3, tr / tm, rvr_rate);
    rvr_renderer_destroy(r);
    free(lut);
    free(img);
    free(img2);
    free(v16);
    free(v8);
    return 0;
}
