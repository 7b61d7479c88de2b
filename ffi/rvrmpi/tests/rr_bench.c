/* rr_bench.c - frame time of rvr_ranks on 1 and on N ranks for one synthetic f32 volume of S^3
 * (a sphere of smooth material in noise), 1280x720, composite + S1, orbit of 8 views.
 *   build/rr_bench [S=512] [N=2] [backend=cpu|cuda|auto] [composite=auto|bswap|direct] [ranks1=1]
 * Env RR_BENCH_MPIRUN_ARGS is not needed on one host. Prints one JSON line per rank count and
 * a last line in the benchmark format of ARCHITECTURE.md (ratio = t(N) / t(1), lower better).
 * ranks1=0 skips the 1-rank run (volumes larger than one GPU). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "rr_client.h"
#include "scenes.h"

static void make_volume(float *v, uint64_t S) {
#pragma omp parallel for schedule(static)
    for (uint64_t z = 0; z < S; z++)
        for (uint64_t y = 0; y < S; y++)
            for (uint64_t x = 0; x < S; x++) {
                const float dx = x - S / 2.f, dy = y - S / 2.f, dz = z - S / 2.f, r = 0.42f * S;
                float val = (float)((x * 7 + y * 13 + z * 3) % 17) * 0.01f;
                if (dx * dx + dy * dy + dz * dz < r * r) val = 0.5f + 0.4f * sinf(x * 12.f / S) * cosf(y * 9.f / S + z * 5.f / S);
                v[(z * S + y) * S + x] = val;
            }
}

static int run(int ranks, const char *backend, const char *composite, const char *path, uint64_t S, double *frame_ms) {
    const char *args[] = {"--composite", composite, "--op-timeout", "600", NULL};
    rr_job j;
    /* rr_job_start passes --backend cpu; the argv below overrides it (the last one wins) */
    const char *gpus = getenv("RR_GPUS") ? getenv("RR_GPUS") : "2"; /* GPUs per node: rank i uses GPU i % RR_GPUS */
    const char *args2[] = {"--composite", composite, "--op-timeout", "600", "--backend", backend, "--gpus", gpus, NULL};
    (void)args;
    int rc = rr_job_start(&j, ranks, getenv("RR_EXE") ? getenv("RR_EXE") : "build/rvr_ranks", args2, 120000);
    if (rc) {
        fprintf(stderr, "start %d ranks: %d\n", ranks, rc);
        return rc;
    }
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = d.shape[1] = d.shape[2] = S;
    d.dtype = RVR_DTYPE_F32;
    d.window_lo = 0, d.window_hi = 1;
    double ms[4];
    double t0 = rr_now_ms();
    rc = rr_set_volume(&j, &d, path, S * S * S * 4, NULL, ms);
    const double up = rr_now_ms() - t0;
    float tf[256 * 4];
    scene_tf_bench(0.03f, tf);
    if (!rc) rc = rr_floats(&j, RR_OP_SET_TF, tf, 256);
    const int W = 1280, H = 720, VIEWS = 8;
    uint8_t *img = malloc((size_t)W * H * 4);
    double sum = 0, comp = 0, rmax = 0, bytes = 0;
    for (int k = 0; !rc && k <= VIEWS; k++) {
        rvr_camera cam;
        scene_orbit((int)S, 0.4f + k * 6.2832f / VIEWS, &cam);
        rvr_render_settings s;
        rvr_render_settings_init(&s);
        s.shading = RVR_SHADE_LOCAL;
        rr_frame_stats fs;
        char err[256];
        const double ta = rr_now_ms();
        rc = rr_render(&j, &cam, &s, W, H, img, &fs, 600000, err, sizeof err);
        if (rc) fprintf(stderr, "render: %d %s\n", rc, err);
        if (k == 0) continue; /* warm-up */
        sum += rr_now_ms() - ta, comp += fs.composite_ms + fs.gather_ms, rmax += fs.render_ms_max, bytes += (double)fs.composite_bytes;
    }
    if (!rc) {
        *frame_ms = sum / VIEWS;
        printf("{\"ranks\":%d,\"hosts\":%d,\"backend\":%d,\"composite\":\"%s\",\"S\":%llu,\"set_volume_ms\":%.0f,\"scan_ms\":%.0f,\"distribute_ms\":%.0f,\"upload_max_ms\":%.0f,"
               "\"frame_ms\":%.1f,\"render_max_ms\":%.1f,\"composite_gather_ms\":%.2f,\"composite_MB_per_frame\":%.2f}\n",
               ranks, j.hosts, j.backend, j.algo == 1 ? "bswap" : "direct", (unsigned long long)S, up, ms[0], ms[1], ms[2], sum / VIEWS, rmax / VIEWS,
               comp / VIEWS, bytes / VIEWS / 1e6);
        fflush(stdout);
    }
    free(img);
    rr_job_stop(&j, 30000);
    return rc;
}

int main(int argc, char **argv) {
    const uint64_t S = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
    const int N = argc > 2 ? atoi(argv[2]) : 2;
    const char *backend = argc > 3 ? argv[3] : "cpu";
    const char *composite = argc > 4 ? argv[4] : "auto";
    const int with1 = argc > 5 ? atoi(argv[5]) : 1;
    const uint64_t bytes = S * S * S * 4;
    char path[128];
    if (rr_shm_file(path, sizeof path, NULL, bytes)) return 1;
    int fd = open(path, O_RDWR);
    float *v = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (v == MAP_FAILED) return 1;
    make_volume(v, S);
    munmap(v, bytes);
    double t1 = 0, tn = 0;
    int rc = with1 ? run(1, backend, composite, path, S, &t1) : 0;
    if (!rc) rc = run(N, backend, composite, path, S, &tn);
    unlink(path);
    if (rc) return 1;
    if (with1)
        printf("{\"bench\":\"render-ranks\",\"case\":\"%llu^3-f32-%s-%d-ranks\",\"value\":%.1f,\"unit\":\"ms\",\"baseline\":\"1 rank\",\"baseline_value\":%.1f,\"ratio\":%.3f,\"higher_is_better\":false}\n",
               (unsigned long long)S, backend, N, tn, t1, tn / t1);
    return 0;
}
