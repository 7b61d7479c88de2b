/* rr_bench.c - frame time of rvr_ranks on 1 and on N ranks for one synthetic f32 volume of S^3
 * (RR_SYNTH_SPHERE: a sphere of smooth material in noise), composite + S1, an orbit of 8 views.
 *   build/rr_bench [S=256] [N=2] [backend=cpu|cuda|auto] [composite=auto|root|bswap|direct]
 *                  [ranks1=1] [volume=file|slabs] [W=1920] [H=1080]   (composite also: stream)
 * volume=file:  the instance's path: the whole volume in one /dev/shm file, rank 0 scans it,
 *               each rank maps its slab (needs S^3*4 bytes of shared memory).
 * volume=slabs: RR_OP_SET_SYNTHETIC: each rank generates only its slab (+ghosts); no
 *               whole-volume buffer anywhere (volumes larger than a host's /dev/shm or a GPU).
 * ranks1=0 skips the 1-rank run (volumes larger than one GPU). Frames are answered into a frame
 * file in /dev/shm, as the instance gets them (RR_ANSWER=socket: over the control socket).
 * Env: RR_VIEWS (frames, 8), RR_CUTS (follow|fixed: rvr_ranks --cuts), RR_DETAIL=1 (one JSON line per frame on stderr), RR_GPUS (GPUs per node: rank i uses GPU i % RR_GPUS, 2), RR_EXE
 * (build/rvr_ranks).
 * Prints one JSON line per rank count; with ranks1=1 a last line in the benchmark format of
 * ARCHITECTURE.md (ratio = t(N) / t(1), lower better). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "rr_client.h"
#include "scenes.h"
#include "synthetic.h"

typedef struct result {
    double frame_ms;
    double bytes_per_frame;
    uint8_t *last; /* the last frame (malloc'd), to compare 1 rank's with N's */
} result;

static const char *algo_name(int a) { return a == 1 ? "bswap" : a == 2 ? "direct" : a == 3 ? "root" : a == 4 ? "stream" : "auto"; }

static int run(int ranks, const char *backend, const char *composite, const char *path, uint64_t S, int W, int H,
               result *out) {
    rr_job j;
    const char *gpus = getenv("RR_GPUS") ? getenv("RR_GPUS") : "2";
    /* rr_job_start passes --backend cpu; the argv below overrides it (the last one wins) */
    const char *cuts = getenv("RR_CUTS") ? getenv("RR_CUTS") : "follow";
    const char *args[] = {"--composite", composite, "--op-timeout", "900", "--backend", backend, "--gpus", gpus, "--cuts", cuts, NULL};
    int rc = rr_job_start(&j, ranks, getenv("RR_EXE") ? getenv("RR_EXE") : "build/rvr_ranks", args, 120000);
    if (rc) {
        fprintf(stderr, "start %d ranks: %d\n", ranks, rc);
        return rc;
    }
    j.volume_timeout_ms = 900000;
    rvr_volume_desc d;
    memset(&d, 0, sizeof d);
    d.shape[0] = d.shape[1] = d.shape[2] = S;
    d.dtype = RVR_DTYPE_F32;
    d.window_lo = 0, d.window_hi = 1;
    double ms[4] = {0, 0, 0, 0};
    const double t0 = rr_now_ms();
    rc = path ? rr_set_volume(&j, &d, path, S * S * S * 4, NULL, ms) : rr_set_synthetic(&j, &d, RR_SYNTH_SPHERE, NULL, ms);
    const double set_ms = rr_now_ms() - t0;
    float tf[256 * 4];
    scene_tf_bench(0.03f, tf);
    if (!rc) rc = rr_floats(&j, RR_OP_SET_TF, tf, 256);
    const int views = getenv("RR_VIEWS") ? atoi(getenv("RR_VIEWS")) : 8;
    const int socket_answer = getenv("RR_ANSWER") && !strcmp(getenv("RR_ANSWER"), "socket");
    uint8_t *img = malloc((size_t)W * H * 4);
    char frame[128] = "";
    if (!rc && !socket_answer) rc = rr_shm_file(frame, sizeof frame, NULL, (uint64_t)W * H * 4);
    double sum = 0, server = 0, comp = 0, gath = 0, rmax = 0, rmin = 0, bytes = 0, samples = 0;
    const int detail = getenv("RR_DETAIL") && atoi(getenv("RR_DETAIL")); /* one line per frame on stderr */
    for (int k = 0; !rc && k <= views; k++) {
        rvr_camera cam;
        scene_orbit((int)S, 0.4f + k * 6.2832f / views, &cam);
        rvr_render_settings s;
        rvr_render_settings_init(&s);
        s.shading = RVR_SHADE_LOCAL;
        rr_frame_stats fs;
        char err[256];
        const double ta = rr_now_ms();
        rc = socket_answer ? rr_render(&j, &cam, &s, W, H, img, &fs, 600000, err, sizeof err)
                           : rr_render_to_file(&j, &cam, &s, W, H, frame, &fs, 600000, err, sizeof err);
        if (rc) fprintf(stderr, "render: %d %s\n", rc, err);
        const double tk = rr_now_ms() - ta;
        if (detail && !rc)
            fprintf(stderr, "{\"ranks\":%d,\"view\":%d,\"frame_ms\":%.2f,\"rank0_ms\":%.2f,\"render_max_ms\":%.2f,\"render_min_ms\":%.2f,"
                    "\"composite_ms\":%.2f,\"gather_finish_ms\":%.2f,\"samples\":%llu,\"MB\":%.3f}\n",
                    ranks, k, tk, fs.total_ms, fs.render_ms_max, fs.render_ms_min, fs.composite_ms, fs.gather_ms,
                    (unsigned long long)fs.samples, (double)fs.composite_bytes / 1e6);
        if (k == 0) continue; /* warm-up */
        sum += tk, server += fs.total_ms, comp += fs.composite_ms, gath += fs.gather_ms;
        rmax += fs.render_ms_max, rmin += fs.render_ms_min, bytes += (double)fs.composite_bytes, samples += (double)fs.samples;
    }
    if (!rc) {
        out->frame_ms = sum / views;
        out->bytes_per_frame = bytes / views;
        const int file = path != NULL;
        printf("{\"ranks\":%d,\"hosts\":%d,\"backend\":%d,\"composite\":\"%s\",\"S\":%llu,\"volume\":\"%s\",\"GiB\":%.1f,\"W\":%d,\"H\":%d,\"answer\":\"%s\","
               "\"set_volume_ms\":%.0f,\"%s\":%.0f,\"distribute_ms\":%.0f,\"upload_max_ms\":%.0f,"
               "\"frame_ms\":%.2f,\"rank0_ms\":%.2f,\"render_max_ms\":%.2f,\"render_min_ms\":%.2f,\"Msamples\":%.1f,\"composite_ms\":%.2f,\"gather_finish_ms\":%.2f,"
               "\"composite_gather_ms\":%.2f,\"composite_MB_per_frame\":%.3f}\n",
               ranks, j.hosts, j.backend, algo_name(j.algo), (unsigned long long)S, file ? "file" : "slabs",
               (double)S * S * S * 4 / 1073741824.0, W, H, socket_answer ? "socket" : "frame file", set_ms, file ? "scan_ms" : "generate_ms", ms[0], ms[1], ms[2],
               sum / views, server / views, rmax / views, rmin / views, samples / views / 1e6, comp / views, gath / views, (comp + gath) / views, bytes / views / 1e6);
        fflush(stdout);
    }
    if (!rc && !socket_answer) { /* the frame file holds the last view */
        FILE *f = fopen(frame, "rb");
        if (f && fread(img, 1, (size_t)W * H * 4, f) == (size_t)W * H * 4) out->last = img, img = NULL;
        if (f) fclose(f);
    } else if (!rc) out->last = img, img = NULL;
    free(img);
    if (frame[0]) unlink(frame);
    rr_job_stop(&j, 30000);
    return rc;
}

int main(int argc, char **argv) {
    const uint64_t S = argc > 1 ? strtoull(argv[1], NULL, 10) : 256;
    const int N = argc > 2 ? atoi(argv[2]) : 2;
    const char *backend = argc > 3 ? argv[3] : "cpu";
    const char *composite = argc > 4 ? argv[4] : "auto";
    const int with1 = argc > 5 ? atoi(argv[5]) : 1;
    const int slabs = argc > 6 && !strcmp(argv[6], "slabs");
    const int W = argc > 7 ? atoi(argv[7]) : 1920, H = argc > 8 ? atoi(argv[8]) : 1080;
    const uint64_t bytes = S * S * S * 4;
    char path[128] = "";
    if (!slabs) {
        if (rr_shm_file(path, sizeof path, NULL, bytes)) return 1;
        int fd = open(path, O_RDWR);
        float *v = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (v == MAP_FAILED) {
            unlink(path);
            return 1;
        }
        const uint64_t shape[3] = {S, S, S};
        rr_synth_layers(RR_SYNTH_SPHERE, shape, 0, S, v);
        munmap(v, bytes);
    }
    result r1 = {0, 0, NULL}, rn = {0, 0, NULL};
    int rc = with1 ? run(1, backend, composite, slabs ? NULL : path, S, W, H, &r1) : 0;
    if (!rc) rc = run(N, backend, composite, slabs ? NULL : path, S, W, H, &rn);
    if (!slabs) unlink(path);
    if (rc) return 1;
    if (with1 && r1.last && rn.last) { /* the same picture within rvr_ranks.h's tolerance */
        const rr_diff d = rr_compare(r1.last, rn.last, (size_t)W * H, 8);
        printf("{\"image_vs_1_rank\":{\"max\":%d,\"mean\":%.3f,\"pct_over_8\":%.3f}}\n", d.max, d.mean, 100.0 * d.over / ((double)W * H));
    }
    free(r1.last), free(rn.last);
    if (with1)
        printf("{\"bench\":\"render-ranks\",\"case\":\"%llu^3-f32-%s-%d-ranks-%dx%d\",\"value\":%.2f,\"unit\":\"ms\",\"baseline\":\"1 rank\","
               "\"baseline_value\":%.2f,\"ratio\":%.3f,\"higher_is_better\":false,\"composite_MB_per_frame\":%.3f}\n",
               (unsigned long long)S, backend, N, W, H, rn.frame_ms, r1.frame_ms, rn.frame_ms / r1.frame_ms, rn.bytes_per_frame / 1e6);
    return 0;
}
