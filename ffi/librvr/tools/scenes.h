/* scenes.h - synthetic volumes, TFs and cameras shared by the CLI, the benchmark and the tests. */
#ifndef RVR_SCENES_H
#define RVR_SCENES_H

#include "rvr.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* "CT-like" sample (as in the recipes' cpu_bench): a cylinder of material (~170) with
 * 400 spherical pores (~40), light noise, air ~0..7. N^3 u8, C order (z, y, x). */
static inline void scene_pores_u8(int N, uint8_t *vol) {
    srand(1);
    enum { NP = 400 };
    float px[NP], py[NP], pz[NP], pr[NP];
    for (int i = 0; i < NP; i++) {
        px[i] = N * (0.2f + 0.6f * rand() / (float)RAND_MAX);
        py[i] = N * (0.2f + 0.6f * rand() / (float)RAND_MAX);
        pz[i] = N * (0.05f + 0.9f * rand() / (float)RAND_MAX);
        pr[i] = N * (0.01f + 0.05f * rand() / (float)RAND_MAX);
    }
#pragma omp parallel for schedule(dynamic)
    for (int z = 0; z < N; z++) {
        unsigned s = 12345u + (unsigned)z;
        int lst[NP], nl = 0;
        for (int i = 0; i < NP; i++)
            if (fabsf(z - pz[i]) < pr[i]) lst[nl++] = i;
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++) {
                float dx = x - N / 2.f, dy = y - N / 2.f, v = 0;
                if (dx * dx + dy * dy < (0.42f * N) * (0.42f * N) && z > N * 0.03f && z < N * 0.97f) {
                    v = 170;
                    for (int q = 0; q < nl; q++) {
                        int i = lst[q];
                        float ex = x - px[i], ey = y - py[i], ez = z - pz[i];
                        if (ex * ex + ey * ey + ez * ez < pr[i] * pr[i]) {
                            v = 40;
                            break;
                        }
                    }
                }
                s = s * 1103515245u + 12345u;
                v += (float)((int)((s >> 16) & 15) - 8);
                v = v < 0 ? 0 : (v > 255 ? 255 : v);
                vol[((size_t)z * N + y) * N + x] = (uint8_t)v;
            }
    }
}

/* TF of the benchmark: opacity 0 below 100/255, rising to amax at 1; warm colours. 256 entries. */
static inline void scene_tf_bench(float amax, float *rgba) {
    for (int i = 0; i < 256; i++) {
        float t = i / 255.f;
        rgba[4 * i + 0] = 0.9f * t + 0.1f;
        rgba[4 * i + 1] = 0.6f * t + 0.2f;
        rgba[4 * i + 2] = 0.3f + 0.4f * (1 - t);
        rgba[4 * i + 3] = i < 100 ? 0 : (i - 100) / 155.f * amax;
    }
}

/* Perspective camera orbiting a volume of world extent N (spacing 1) around z. */
static inline void scene_orbit(int N, float ang, rvr_camera *c) {
    rvr_camera_init(c);
    float ctr = N / 2.f, R = 1.9f * N;
    c->eye[0] = ctr + R * cosf(ang);
    c->eye[1] = ctr + R * sinf(ang);
    c->eye[2] = ctr + 0.3f * N;
    c->target[0] = c->target[1] = c->target[2] = ctr;
    c->up[0] = 0;
    c->up[1] = 0;
    c->up[2] = 1;
    c->fov_y_deg = 40;
}

static inline int scene_write_ppm(const char *path, const uint8_t *rgba, int W, int H) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fprintf(f, "P6\n%d %d\n255\n", W, H);
    for (size_t i = 0; i < (size_t)W * H; i++) fwrite(rgba + 4 * i, 1, 3, f);
    return fclose(f);
}

/* The 4096-entry premultiplied LUT that librvr builds from a TF of n entries (tf.c), for the
 * reference ray casters of the benchmarks (same samples, same colours). */
static inline void scene_ref_lut(const float *tf, int n, float step, float *lut) {
    for (int i = 0; i < 4096; i++) {
        float v = ((float)i * 16.0f + 7.5f) / 65535.0f, x = v * (n - 1), c[4];
        int k = (int)x;
        if (k > n - 2) k = n - 2;
        float f = x - k;
        for (int q = 0; q < 4; q++) c[q] = tf[4 * k + q] + f * (tf[4 * (k + 1) + q] - tf[4 * k + q]);
        float a = c[3] >= 1 ? 1 : 1 - powf(1 - c[3], step);
        lut[4 * i] = c[0] * a;
        lut[4 * i + 1] = c[1] * a;
        lut[4 * i + 2] = c[2] * a;
        lut[4 * i + 3] = a;
    }
}

#endif
