/* checksum.c - CRC32C (Castagnoli): SSE4.2 instruction when the CPU has it,
 * slicing-by-8 tables otherwise. Both compute the same reflected CRC. */
#include "internal.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t ssc__crc32c_sw(uint32_t crc, const void *data, uint64_t size)
{
    const uint8_t *p = data;
    uint32_t c = ~crc;

    pthread_once(&table_once, table_init);
    while (size >= 8) {
        uint64_t v;
        memcpy(&v, p, 8); /* unaligned-safe; little-endian hosts only */
        v ^= c;
        c = table[7][v & 0xff] ^ table[6][(v >> 8) & 0xff] ^
            table[5][(v >> 16) & 0xff] ^ table[4][(v >> 24) & 0xff] ^
            table[3][(v >> 32) & 0xff] ^ table[2][(v >> 40) & 0xff] ^
            table[1][(v >> 48) & 0xff] ^ table[0][v >> 56];
        p += 8;
        size -= 8;
    }
    while (size--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* The instruction has a 3-cycle latency but a throughput of one per cycle:
 * three independent streams over adjacent blocks run about 3x faster than
 * one. Their partial CRCs are merged with the "append n zero bytes"
 * operator, which is linear and therefore a table lookup per byte of the
 * CRC (tables built once from the instruction itself). */
#define LONG_BLOCK 8192u
#define SHORT_BLOCK 256u

static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t zeros_raw(uint32_t c, size_t n)
{
    uint64_t x = c;
    for (size_t i = 0; i < n; i += 8)
        x = _mm_crc32_u64(x, 0);
    return (uint32_t)x;
}

static void shift_table(uint32_t t[4][256], size_t n)
{
    uint32_t basis[32];
    for (int k = 0; k < 32; k++)
        basis[k] = zeros_raw(1u << k, n);
    for (int j = 0; j < 4; j++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int i = 0; i < 8; i++)
                if (b & (1u << i))
                    v ^= basis[8 * j + i];
            t[j][b] = v;
        }
}

static void shift_init(void)
{
    shift_table(shift_long, LONG_BLOCK);
    shift_table(shift_short, SHORT_BLOCK);
}

static inline uint32_t shift(uint32_t t[4][256], uint32_t c)
{
    return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^
           t[3][c >> 24];
}

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* three streams of `block` bytes each, merged */
#define CRC_3WAY(block, table)                                               \
    while (size >= 3 * (block)) {                                            \
        uint64_t c1 = 0, c2 = 0;                                             \
        const uint8_t *end = p + (block);                                    \
        do {                                                                 \
            c = _mm_crc32_u64(c, load64(p));                                 \
            c1 = _mm_crc32_u64(c1, load64(p + (block)));                     \
            c2 = _mm_crc32_u64(c2, load64(p + 2 * (block)));                 \
            p += 8;                                                          \
        } while (p < end);                                                   \
        c = shift(table, (uint32_t)c) ^ (uint32_t)c1;                        \
        c = shift(table, (uint32_t)c) ^ (uint32_t)c2;                        \
        p += 2 * (block);                                                    \
        size -= 3 * (block);                                                 \
    }

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc,
                                                          const uint8_t *p,
                                                          uint64_t size)
{
    uint64_t c = ~crc;

    pthread_once(&shift_once, shift_init);
    while (size && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        size--;
    }
    CRC_3WAY(LONG_BLOCK, shift_long)
    CRC_3WAY(SHORT_BLOCK, shift_short)
    while (size >= 8) {
        c = _mm_crc32_u64(c, load64(p));
        p += 8;
        size -= 8;
    }
    while (size--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

static int hw_state = -1;

int ssc__crc32c_hw_available(void)
{
    int s = __atomic_load_n(&hw_state, __ATOMIC_RELAXED);
    if (s < 0) {
        __builtin_cpu_init();
        s = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        __atomic_store_n(&hw_state, s, __ATOMIC_RELAXED);
    }
    return s;
}

uint32_t ssc_crc32c(uint32_t crc, const void *data, uint64_t size)
{
    if (!size)
        return crc;
    if (ssc__crc32c_hw_available())
        return crc_hw(crc, data, size);
    return ssc__crc32c_sw(crc, data, size);
}
#else
int ssc__crc32c_hw_available(void)
{
    return 0;
}

uint32_t ssc_crc32c(uint32_t crc, const void *data, uint64_t size)
{
    if (!size)
        return crc;
    return ssc__crc32c_sw(crc, data, size);
}
#endif
