/* scan.h - the bytes of a JSON string body that need care: '"', '\\',
 * control characters (< 0x20) and non-ASCII bytes (>= 0x80: UTF-8 to check),
 * found 8 or 16 bytes at a time; and the UTF-8 rules. Shared by the parser
 * (json_in.c) and the writer (json_out.c). Internal, inline. */
#ifndef STEPARC_SCAN_H
#define STEPARC_SCAN_H

#include <stdint.h>
#include <string.h>

/* SSE2 on every x86-64, 64-bit SWAR on other little-endian targets, else
 * byte by byte. SA_NO_SIMD (and SA_NO_SWAR) force the fallbacks, to test
 * them. */
#if defined(__SSE2__) && !defined(SA_NO_SIMD)
#include <emmintrin.h>
#define SA_SCAN_SSE2 1
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    !defined(SA_NO_SWAR)
#define SA_SCAN_SWAR 1
#endif

/* Does byte c need care? */
static inline int sa_attn_byte(unsigned c)
{
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

/* The bytes of an 8-byte word that need care, as their high bits. May flag
 * extra bytes after a real hit (borrows), never misses one. */
static inline uint64_t sa_attention64(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    return (v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
}

/* Does any of the 8 bytes at p need care? */
static inline int sa_attn8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return sa_attention64(w) != 0;
}

#if defined(SA_SCAN_SSE2)
/* Bit i set when byte i of v needs care (exactly those bytes). */
static inline unsigned sa_attn_mask_v(__m128i v)
{
    /* signed compare: bytes >= 0x80 are negative, so < 0x20 catches them too */
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                             _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* Bit i set when byte i of p[0..16) needs care. Never misses one; with SWAR
 * a bit above a real one may be a false alarm (borrows), so the lowest set
 * bit is always real. Reads all 16 bytes. */
static inline unsigned sa_attn_mask16(const unsigned char *p)
{
#if defined(SA_SCAN_SSE2)
    return sa_attn_mask_v(_mm_loadu_si128((const __m128i *)(const void *)p));
#elif defined(SA_SCAN_SWAR)
    uint64_t a, b;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    /* the high bit of byte j moved to bit j */
    const uint64_t gather = 0x0102040810204080ULL;
    unsigned ma = (unsigned)(((sa_attention64(a) >> 7) * gather) >> 56);
    unsigned mb = (unsigned)(((sa_attention64(b) >> 7) * gather) >> 56);
    return ma | mb << 8;
#else
    unsigned m = 0;
    for (unsigned i = 0; i < 16; i++)
        if (sa_attn_byte(p[i]))
            m |= 1u << i;
    return m;
#endif
}

/* Length of the valid UTF-8 sequence starting at s[0] >= 0x80 (n bytes
 * readable), 0 when invalid: shortest forms only, no UTF-16 surrogates,
 * nothing above U+10FFFF. */
static inline size_t sa_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

#endif
