/* finish.c - see finish.h. */
#include "finish.h"

#include <string.h>

static inline uint8_t to8(float x) {
    x = x * 255.f + 0.5f;
    return (uint8_t)(x < 0 ? 0 : (x > 255 ? 255 : x));
}

/* round(x / 255) for x <= 65535, with shifts (vectorises) */
static inline unsigned div255(unsigned x) { return (x + 128 + ((x + 128) >> 8)) >> 8; }

/* The common case (no MIP colouring, opaque background): every output channel, alpha included,
 * is in + (255 - alpha) * background / 255, and alpha comes out 255 (so straight = premultiplied).
 * Branch-free: the compiler vectorises it. */
static void row_opaque_bg(const uint8_t *restrict in, uint8_t *restrict o, int n, const unsigned bgp[4]) {
    const uint16_t b0 = (uint16_t)bgp[0], b1 = (uint16_t)bgp[1], b2 = (uint16_t)bgp[2];
    for (int i = 0; i < n; i++) {
        const uint16_t ia = (uint16_t)(255u - in[4 * i + 3]);
        o[4 * i + 0] = (uint8_t)(in[4 * i + 0] + div255((uint16_t)(ia * b0)));
        o[4 * i + 1] = (uint8_t)(in[4 * i + 1] + div255((uint16_t)(ia * b1)));
        o[4 * i + 2] = (uint8_t)(in[4 * i + 2] + div255((uint16_t)(ia * b2)));
        o[4 * i + 3] = 255;
    }
}

typedef rr_finisher tables;

static void pixel(const rr_finish *f, const tables *t, const uint8_t *in, uint8_t *o) {
    unsigned r = in[0], g = in[1], b = in[2], a = in[3];
    if (f->mip && a) {
        const uint8_t *m = t->mip[in[0]];
        r = m[0], g = m[1], b = m[2], a = m[3];
    }
    if (a == 0 && (r | g | b) == 0) {
        memcpy(o, t->bgpx, 4);
        return;
    }
    const unsigned ia = 255 - a;
    unsigned c[3] = {r + div255(ia * t->bgp[0]), g + div255(ia * t->bgp[1]), b + div255(ia * t->bgp[2])};
    const unsigned oa = a + div255(ia * t->bgp[3]);
    for (int k = 0; k < 3; k++) {
        if (!f->premul && oa < 255) c[k] = oa ? (c[k] * t->recip[oa] + 32768) >> 16 : 0;
        o[k] = (uint8_t)(c[k] > 255 ? 255 : c[k]);
    }
    o[3] = (uint8_t)(oa > 255 ? 255 : oa);
}

static void build(const rr_finish *f, tables *t) {
    t->f = *f;
    const float ba = f->bg[3];
    for (int k = 0; k < 3; k++) t->bgp[k] = to8(f->bg[k] * ba);
    t->bgp[3] = to8(ba);
    t->recip[0] = 0;
    for (unsigned a = 1; a < 256; a++) t->recip[a] = (255u * 65536u + a / 2) / a;
    for (int i = 0; i < 256; i++) {
        uint8_t *m = t->mip[i];
        if (f->gray || !f->tf || f->tfn < 2) {
            m[0] = m[1] = m[2] = (uint8_t)i, m[3] = 255;
            continue;
        }
        const float x = i / 255.f * (float)(f->tfn - 1);
        uint32_t k = (uint32_t)x;
        if (k >= f->tfn - 1) k = f->tfn - 2;
        const float w = x - (float)k;
        float e[4];
        for (int q = 0; q < 4; q++) {
            const float v = f->tf[4 * k + q] * (1 - w) + f->tf[4 * (k + 1) + q] * w;
            e[q] = v < 0 ? 0 : (v > 1 ? 1 : v);
        }
        m[0] = to8(e[0] * e[3]), m[1] = to8(e[1] * e[3]), m[2] = to8(e[2] * e[3]), m[3] = to8(e[3]);
    }
    /* a transparent pixel: the background alone */
    const unsigned oa = t->bgp[3];
    for (int k = 0; k < 3; k++) {
        const unsigned c = f->premul || oa == 255 ? t->bgp[k] : (oa ? (t->bgp[k] * t->recip[oa] + 32768) >> 16 : 0);
        t->bgpx[k] = (uint8_t)(c > 255 ? 255 : c);
    }
    t->bgpx[3] = (uint8_t)oa;
    t->fast = !f->mip && t->bgp[3] == 255;
}

void rr_finisher_init(rr_finisher *t, const rr_finish *f) { build(f, t); }

void rr_finisher_pixels(const rr_finisher *t, const uint8_t *in, uint8_t *out, int n) {
    if (t->fast) row_opaque_bg(in, out, n, t->bgp);
    else
        for (int x = 0; x < n; x++) pixel(&t->f, t, in + 4 * (size_t)x, out + 4 * (size_t)x);
}

void rr_finisher_background(const rr_finisher *t, uint8_t *out, int n) {
    for (int x = 0; x < n; x++) memcpy(out + 4 * (size_t)x, t->bgpx, 4);
}

uint32_t rr_finish_background(const rr_finish *f) {
    tables t;
    build(f, &t);
    uint32_t bg;
    memcpy(&bg, t.bgpx, 4);
    return bg;
}

void rr_finish_image(const rr_finish *f, const rr_piece *pieces, int npieces, uint8_t *out, int W, int H) {
    const rr_rect all = {0, 0, W, H};
    rr_finish_image_in(f, pieces, npieces, out, W, H, all);
}

void rr_finish_image_in(const rr_finish *f, const rr_piece *pieces, int npieces, uint8_t *out, int W, int H, rr_rect stale) {
    tables t;
    build(f, &t);
    const rr_rect all = {0, 0, W, H};
    stale = rr_rect_and(stale, all);
    rr_rect rows = stale; /* the rows to visit: stale ones and the pieces' */
    for (int k = 0; k < npieces; k++) rows = rr_rect_bbox(rows, pieces[k].r);
#pragma omp parallel for schedule(static) if ((size_t)(rows.y1 - rows.y0) * (size_t)W > 262144) /* not for a band */
    for (int y = rows.y0; y < rows.y1; y++) {
        uint8_t *row = out + (size_t)y * W * 4;
        if (y >= stale.y0 && y < stale.y1) rr_finisher_background(&t, row + 4 * (size_t)stale.x0, stale.x1 - stale.x0);
        for (int k = 0; k < npieces; k++) {
            const rr_piece *p = &pieces[k];
            if (y < p->r.y0 || y >= p->r.y1) continue;
            const uint8_t *src = p->px + (size_t)(y - p->r.y0) * p->stride * 4;
            rr_finisher_pixels(&t, src, row + 4 * (size_t)p->r.x0, p->r.x1 - p->r.x0);
        }
    }
}
