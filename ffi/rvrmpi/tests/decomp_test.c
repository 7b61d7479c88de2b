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
