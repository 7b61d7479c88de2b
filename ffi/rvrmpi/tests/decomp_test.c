/* decomp_test.c - slab cuts (no MPI). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decomp.h"
#include "harness.h"

TEST(decomp_cut_even_cost_gives_even_slabs) {
    double cost[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    uint64_t b[5];
    rr_cut(cost, 8, 128, 4, b);
    CHECK(b[0] == 0 && b[1] == 32 && b[2] == 64 && b[3] == 96 && b[4] == 128, "%lu %lu %lu", (unsigned long)b[1], (unsigned long)b[2], (unsigned long)b[3]);
}

TEST(decomp_cut_follows_nonempty_bricks) {
    /* all the cost in the last quarter: the first rank gets most layers */
    double cost[8] = {1, 1, 1, 1, 1, 1, 40, 40};
    uint64_t b[3];
    rr_cut(cost, 8, 120, 2, b);
    CHECK(b[1] == 96 || b[1] == 112, "cut at %lu", (unsigned long)b[1]);
    CHECK(b[2] == 120, "end %lu", (unsigned long)b[2]);
}

TEST(decomp_cut_more_ranks_than_blocks) {
    double cost[2] = {1, 1};
    uint64_t b[5];
    rr_cut(cost, 2, 20, 4, b);
    for (int i = 0; i < 4; i++) CHECK(b[i] <= b[i + 1], "non-decreasing at %d", i);
    CHECK(b[4] == 20, "end");
}

TEST(decomp_scan_range_nan_and_cost) {
    const uint64_t abc[3] = {32, 16, 16};
    float *v = calloc(32 * 16 * 16, sizeof(float));
    for (int i = 16 * 16 * 16; i < 32 * 16 * 16; i++) v[i] = 10;
    v[5] = NAN;
    rr_scan s;
    CHECK(rr_scan_volume(v, 5, abc, &s) == 0, "scan");
    CHECK(s.min == 0 && s.max == 10 && s.nan_count == 1, "range %g %g nan %lu", s.min, s.max, (unsigned long)s.nan_count);
    CHECK(s.blocks == 2 && s.cost[0] == 1 && s.cost[1] == 9, "cost %g %g", s.cost[0], s.cost[1]);
    rr_scan_free(&s);
    free(v);
}

/* The render cut moves toward the rank with more samples' side, half way to even, within the
 * margin; even samples leave it; no margin, no move; it converges when the cost is even. */
TEST(decomp_cuts_follow_samples_within_the_margin) {
    const uint64_t bounds[3] = {0, 1024, 2048};
    CHECK(rr_margin(2, bounds) == 128 && rr_margin(1, bounds) == 0, "margin %lu", (unsigned long)rr_margin(2, bounds));
    const uint64_t three[4] = {0, 100, 1000, 2000};
    CHECK(rr_margin(3, three) == 0, "an eighth of 100 layers is less than a brick: %lu", (unsigned long)rr_margin(3, three));
    double bw[3] = {0, 1024 * 0.5, 2048 * 0.5};
    const double even[2] = {500, 500}, upper[2] = {450, 550}, lopsided[2] = {1, 1000000};
    rr_follow_cuts(2, bounds, 128, 0.5, even, bw);
    CHECK(bw[1] == 512, "even samples moved the cut to %g", bw[1]);
    rr_follow_cuts(2, bounds, 128, 0.5, upper, bw);
    /* 10% more above: half of 5% of 2048 layers = 51.2 layers up, 25.6 in world units */
    CHECK(fabs(bw[1] - (512 + 25.6)) < 1e-9, "cut at %g", bw[1]);
    rr_follow_cuts(2, bounds, 128, 0.5, lopsided, bw);
    CHECK(bw[1] == (1024 + 128) * 0.5, "clamped to the margin: %g", bw[1]);
    rr_follow_cuts(2, bounds, 0, 0.5, upper, bw);
    CHECK(bw[1] == 512, "no margin: the cut stays at its bound, got %g", bw[1]);
    /* a cost that grows linearly upwards: the cut settles where both halves cost the same */
    double c[3] = {0, 1024, 2048};
    for (int k = 0; k < 40; k++) {
        const double s[2] = {c[1] * c[1] / 2, (2048.0 * 2048 - c[1] * c[1]) / 2};
        rr_follow_cuts(2, bounds, 512, 1.0, s, c);
    }
    CHECK(fabs(c[1] - 2048 / sqrt(2.0)) < 8, "settled at %g, want %g", c[1], 2048 / sqrt(2.0));
    /* a rank without layers keeps its empty range */
    const uint64_t gap[4] = {0, 512, 512, 1024};
    const double s3[3] = {10, 0, 1000};
    double g[4] = {0, 512, 512, 1024};
    rr_follow_cuts(3, gap, 64, 1.0, s3, g);
    CHECK(g[1] == 512 && g[2] == 512, "the empty slab's cuts moved: %g %g", g[1], g[2]);
}
