/* tf.c - the 1D transfer function: user entries -> 4096-entry lookup tables. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static float clamp01(float v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

int rvr_renderer_set_tf(rvr_renderer *r, const float *rgba, uint32_t n) {
    if (!r || !rgba || n < 2 || n > 65536) return RVR_ERR_INVALID;
    for (uint64_t i = 0; i < 4ull * n; i++)
        if (!isfinite(rgba[i])) return RVR_ERR_INVALID;
    float *t = malloc(sizeof(float) * 4 * n);
    if (!t) return RVR_ERR_NOMEM;
    for (uint64_t i = 0; i < 4ull * n; i++) t[i] = clamp01(rgba[i]);
    free(r->tf);
    r->tf = t;
    r->tf_n = n;
    r->tf_version++;
    return RVR_OK;
}

/* TF (straight RGBA) at normalized value v in [0, 1], linear between entries. */
static void tf_eval(const rvr_renderer *r, float v, float o[4]) {
    float x = v * (float)(r->tf_n - 1);
    int i = (int)x;
    if (i >= (int)r->tf_n - 1) i = (int)r->tf_n - 2;
    if (i < 0) i = 0;
    float f = x - (float)i;
    const float *a = r->tf + 4 * i, *b = a + 4;
    for (int k = 0; k < 4; k++) o[k] = a[k] + f * (b[k] - a[k]);
}

/* LUT entry i stands for uint16 values [16 i, 16 i + 16): its centre. */
static float lut_value(int i) { return ((float)i * 16.0f + 7.5f) / 65535.0f; }

void rvr__lut_build(const rvr_renderer *r, float step, float (*lut)[4]) {
    for (int i = 0; i < RVR_LUT_N; i++) {
        float c[4];
        tf_eval(r, lut_value(i), c);
        float a = c[3] >= 1.0f ? 1.0f : 1.0f - powf(1.0f - c[3], step);
        lut[i][0] = c[0] * a;
        lut[i][1] = c[1] * a;
        lut[i][2] = c[2] * a;
        lut[i][3] = a;
    }
}

void rvr__lut_build_plain(const rvr_renderer *r, float (*lut)[4]) {
    for (int i = 0; i < RVR_LUT_N; i++) tf_eval(r, lut_value(i), lut[i]);
}

void rvr__alpha_table(const rvr_renderer *r, float *alpha) {
    for (int i = 0; i < RVR_LUT_N; i++) {
        float c[4];
        tf_eval(r, lut_value(i), c);
        alpha[i] = c[3];
    }
}
