/* crc32c.c - CRC32C (Castagnoli, reflected polynomial 0x82F63B78).
 * Slicing-by-8 in portable C; the SSE4.2 crc32 instruction when the CPU has
 * it (about 3x faster: checksums sit on every block read and write). */
#include <pthread.h>

#include "common.h"

static uint32_t g_table[8][256];

static void init_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        g_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            g_table[t][i] = (g_table[t - 1][i] >> 8) ^ g_table[0][g_table[t - 1][i] & 0xff];
}

static uint32_t crc_soft(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ g_table[0][(crc ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint64_t w = sa_get_u64(p) ^ crc;
        crc = g_table[7][w & 0xff] ^ g_table[6][(w >> 8) & 0xff] ^
              g_table[5][(w >> 16) & 0xff] ^ g_table[4][(w >> 24) & 0xff] ^
              g_table[3][(w >> 32) & 0xff] ^ g_table[2][(w >> 40) & 0xff] ^
              g_table[1][(w >> 48) & 0xff] ^ g_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ g_table[0][(crc ^ *p++) & 0xff];
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SA_HAVE_HW 1
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
                                                          size_t n)
{
    uint64_t c = crc;
    while (n && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    while (n--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static int g_mode; /* 1 = software, 2 = hardware; set once by probe() */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void probe(void)
{
    init_table();
    g_mode = 1;
#ifdef SA_HAVE_HW
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        g_mode = 2;
#endif
}

uint32_t sa_crc32c(uint32_t crc, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    pthread_once(&g_once, probe);
#ifdef SA_HAVE_HW
    if (g_mode == 2)
        return ~crc_hw(~crc, p, n);
#endif
    return ~crc_soft(~crc, p, n);
}

/* Forces the portable path (tests compare both). */
uint32_t sa_crc32c_soft(uint32_t crc, const void *data, size_t n);
uint32_t sa_crc32c_soft(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&g_once, probe);
    return ~crc_soft(~crc, (const unsigned char *)data, n);
}
