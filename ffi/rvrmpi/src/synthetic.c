/* synthetic.c - see synthetic.h. */
#include "synthetic.h"

#include <math.h>

int rr_synth_layers(int scene, const uint64_t shape[3], uint64_t a0, uint64_t a1, float *out) {
    if (scene != RR_SYNTH_SPHERE || a0 > a1 || a1 > shape[0]) return -1;
    const uint64_t Z = shape[0], Y = shape[1], X = shape[2];
    const uint64_t m = Z < Y ? (Z < X ? Z : X) : (Y < X ? Y : X);
    const float r = 0.42f * (float)m, r2 = r * r;
#pragma omp parallel for schedule(static) collapse(2)
    for (uint64_t z = a0; z < a1; z++)
        for (uint64_t y = 0; y < Y; y++) {
            float *row = out + ((z - a0) * Y + y) * X;
            const float dy = y - Y / 2.f, dz = z - Z / 2.f;
            const float cyz = cosf(y * 9.f / Y + z * 5.f / Z);
            for (uint64_t x = 0; x < X; x++) {
                const float dx = x - X / 2.f;
                float val = (float)((x * 7 + y * 13 + z * 3) % 17) * 0.01f;
                if (dx * dx + dy * dy + dz * dz < r2) val = 0.5f + 0.4f * sinf(x * 12.f / X) * cyz;
                row[x] = val;
            }
        }
    return 0;
}
