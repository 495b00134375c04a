/* json_out.c - MessagePack -> canonical JSON.
 *
 * Canonical means: byte for byte what Python's
 *   json.dumps(v, ensure_ascii=False, separators=(",", ":"))
 * prints for the parsed value (indent=2 for the pretty form), so any tool can
 * check an export. Floats use the shortest digits that read back to the same
 * double, laid out as Python's repr(). */
#include <stdio.h>

#include "record.h"
#include "scan.h"

/* Two-digit groups, so that integer text needs one division per two digits. */
static const char g_d2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                              "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                              "8081828384858687888990919293949596979899";

/* ---- doubles ---------------------------------------------------------------- */

/* Digits and decimal exponent of d (> 0) at `prec` significant digits, via
 * %.*e; returns the digit count, decpt = position of the decimal point. */
static int digits_at(double d, int prec, char *dig, int *decpt)
{
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
    int n = 0;
    const char *s = tmp;
    /* the decimal separator depends on the locale: take digits only */
    while (*s && *s != 'e') {
        if (*s >= '0' && *s <= '9')
            dig[n++] = *s;
        s++;
    }
    int e = 0, neg = 0;
    if (*s == 'e') {
        s++;
        if (*s == '-') {
            neg = 1;
            s++;
        } else if (*s == '+') {
            s++;
        }
        while (*s >= '0' && *s <= '9')
            e = e * 10 + (*s++ - '0');
    }
    *decpt = (neg ? -e : e) + 1;
    return n;
}

static int roundtrips(const char *dig, int n, int decpt, double d)
{
    char tmp[48];
    int k = 0;
    tmp[k++] = dig[0];
    tmp[k++] = '.';
    for (int i = 1; i < n; i++)
        tmp[k++] = dig[i];
    if (n == 1)
        tmp[k++] = '0';
    snprintf(tmp + k, sizeof tmp - (size_t)k, "e%d", decpt - 1);
    return sa_strtod(tmp, NULL) == d;
}

/* Adds one unit in the last place of a digit string (returns 0 on carry-out). */
static int bump(char *dig, int n, int dir)
{
    for (int i = n - 1; i >= 0; i--) {
        if (dir > 0) {
            if (dig[i] < '9') {
                dig[i]++;
                return 1;
            }
            dig[i] = '0';
        } else {
            if (dig[i] > '0') {
                dig[i]--;
                return dig[0] != '0';
            }
            dig[i] = '9';
        }
    }
    return 0;
}

/* Exact powers of ten as doubles (10^22 is the last one a double holds). */
static const double g_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Does the n-digit decimal dig (decimal point at decpt) read back as d?
 * Clinger's fast path when the digits fit 53 bits and the power of ten is
 * exact: one correctly rounded IEEE operation gives strtod's answer. */
static int roundtrips_fast(const char *dig, int n, int decpt, double d)
{
    uint64_t m = 0;
    for (int i = 0; i < n; i++)
        m = m * 10 + (uint64_t)(dig[i] - '0');
    int e = decpt - n;
    if (m <= (1ULL << 53) && e >= -22 && e <= 22) {
        double v = (double)m;
        v = e >= 0 ? v * g_pow10[e] : v / g_pow10[-e];
        return v == d;
    }
    return roundtrips(dig, n, decpt, d);
}

/* Rounds the 17 correctly rounded digits d17 to p < 17 digits. The result is
 * the correctly rounded p-digit form unless the dropped digits are exactly
 * "5" or "50..." (d17 was itself rounded: the true value may lie on either
 * side of the half); then returns 0 and the caller asks printf. */
static int round_from17(const char *d17, int decpt17, int p, char *out, int *decpt)
{
    /* dropped digits d17[p..16]: below half, exactly the half, above */
    int cmp = 0;
    if (d17[p] < '5')
        cmp = -1;
    else if (d17[p] > '5')
        cmp = 1;
    else {
        for (int i = p + 1; i < 17; i++)
            if (d17[i] != '0') {
                cmp = 1;
                break;
            }
        if (cmp == 0)
            return 0; /* ambiguous */
    }
    memcpy(out, d17, (size_t)p);
    *decpt = decpt17;
    if (cmp > 0) {
        int i = p - 1;
        while (i >= 0 && out[i] == '9')
            out[i--] = '0';
        if (i >= 0)
            out[i]++;
        else {
            /* 99..9 rounds up to 100..0: one more integer digit */
            out[0] = '1';
            for (int k = 1; k < p; k++)
                out[k] = '0';
            (*decpt)++;
        }
    }
    return 1;
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 sa_u128;

/* 5^k for k <= 27 (the largest power of five below 2^63). */
static const uint64_t g_pow5[28] = {
    1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL, 1953125ULL,
    9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL, 30517578125ULL,
    152587890625ULL, 762939453125ULL, 3814697265625ULL, 19073486328125ULL, 95367431640625ULL,
    476837158203125ULL, 2384185791015625ULL, 11920928955078125ULL, 59604644775390625ULL,
    298023223876953125ULL, 1490116119384765625ULL, 7450580596923828125ULL};

/* Round-trip test in exact integers: does candidate c (17-digit scale) lie in
 * the interval of decimals that read back as d? Values are scaled so that
 * d*10^k*2^(sh+2) = v; hi/lo are the half gaps to the neighbouring doubles. */
static int in_interval(uint64_t c, unsigned sh, sa_u128 v, sa_u128 hi, sa_u128 lo, int even)
{
    sa_u128 x = (sa_u128)c << (sh + 2);
    if (x >= v)
        return x - v < hi || (x - v == hi && even);
    return v - x < lo || (v - x == lo && even);
}

/* The same digits as the printf-based path below, computed exactly with one
 * 64x128-bit multiply for normal doubles in [1e-11, 1e17) (scores, times,
 * prices: nearly every double a step holds). Returns 0 when d is outside that
 * range or a rounding is an exact tie; the caller then takes the slow path,
 * so ties keep printf's rounding. */
static int shortest_exact(double d, char *dig, int *decpt)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    unsigned bexp = (unsigned)(bits >> 52) & 0x7FF;
    uint64_t frac = bits & ((1ULL << 52) - 1);
    if (bexp == 0 || bexp == 0x7FF)
        return 0;
    uint64_t m = frac | (1ULL << 52);
    int e = (int)bexp - 1075; /* d = m * 2^e */
    /* k such that d*10^k has 17 integer digits; the estimate of log10(d) from
     * the binary exponent is at most one too low */
    if (e < -100 || e > 10)
        return 0; /* far outside [1e-11, 1e17) */
    /* floor((e+52) * log10(2)), shifted to stay non-negative */
    int e10 = (int)((unsigned)((e + 52) * 78913 + (64 << 18)) >> 18) - 64;
    int k = 16 - e10;
    sa_u128 n = 0;
    uint64_t q = 0, rem_any = 0, half_cmp = 0;
    unsigned sh = 0;
    for (int tries = 0; tries < 2; tries++) {
        if (k < 0 || k > 27)
            return 0;
        int t = e + k;
        n = (sa_u128)m * g_pow5[k];
        if (t >= 0) {
            if (t > 10)
                return 0;
            n <<= t;
            sh = 0;
        } else {
            if (-t > 68)
                return 0;
            sh = (unsigned)-t;
        }
        sa_u128 qq = n >> sh;
        if (qq >= 100000000000000000ULL) { /* log10 estimate one too low: k one too high */
            k--;
            continue;
        }
        q = (uint64_t)qq;
        break;
    }
    if (q < 10000000000000000ULL || q >= 100000000000000000ULL)
        return 0;
    /* 17 digits: q rounded by the bits below the point */
    sa_u128 rem = sh ? n & (((sa_u128)1 << sh) - 1) : 0;
    if (sh) {
        sa_u128 half = (sa_u128)1 << (sh - 1);
        if (rem == half)
            return 0; /* exact tie */
        half_cmp = rem > half;
    }
    rem_any = rem != 0;
    uint64_t q17 = q + half_cmp;
    if (q17 >= 100000000000000000ULL)
        return 0;
    /* the interval, scaled by 2^(sh+2): v = 4n (with n holding 2^t when t >= 0) */
    unsigned tt = (e + k) > 0 ? (unsigned)(e + k) : 0;
    sa_u128 v = n << 2;
    sa_u128 hi = (sa_u128)g_pow5[k] << (tt + 1);
    sa_u128 lo = (frac == 0 && bexp > 1) ? hi >> 1 : hi;
    int even = (m & 1) == 0;
    uint64_t c = 0;
    int nd = 0;
    /* 15 digits, then 16, then the 16-digit neighbours, then 17 */
    static const uint64_t drop[2] = {100, 10}; /* 10^(17 - digits) */
    for (int i = 0; i < 2 && nd == 0; i++) {
        uint64_t dv = drop[i], qp = q / dv, r = q % dv;
        if (r == dv / 2 && !rem_any)
            return 0; /* exact tie */
        qp += r > dv / 2 || (r == dv / 2 && rem_any);
        if (qp * dv >= 100000000000000000ULL)
            return 0; /* carried into an 18th digit */
        if (in_interval(qp * dv, sh, v, hi, lo, even)) {
            c = qp * dv;
            nd = 17;
        } else if (i == 1) {
            if (qp + 1 < 10000000000000000ULL && in_interval((qp + 1) * 10, sh, v, hi, lo, even)) {
                c = (qp + 1) * 10;
                nd = 17;
            } else if (qp - 1 >= 1000000000000000ULL &&
                       in_interval((qp - 1) * 10, sh, v, hi, lo, even)) {
                c = (qp - 1) * 10;
                nd = 17;
            }
        }
    }
    if (nd == 0)
        c = q17;
    /* 17 digits: 9 + 8, then two at a time in 32 bits */
    uint32_t hi9 = (uint32_t)(c / 100000000), lo8 = (uint32_t)(c % 100000000);
    for (int i = 15; i >= 9; i -= 2) {
        memcpy(dig + i, g_d2 + 2 * (lo8 % 100), 2);
        lo8 /= 100;
    }
    for (int i = 7; i >= 1; i -= 2) {
        memcpy(dig + i, g_d2 + 2 * (hi9 % 100), 2);
        hi9 /= 100;
    }
    dig[0] = (char)('0' + hi9);
    *decpt = 17 - k;
    return 17;
}
#endif

static int shortest(double d, char *dig, int *decpt)
{
    int n;
#ifdef __SIZEOF_INT128__
    n = shortest_exact(d, dig, decpt);
    if (n)
        goto strip;
#endif
    if (d >= 2.2250738585072014e-308) {
        /* One printf for 17 correctly rounded digits; the 15- and 16-digit
         * forms are derived from them (printf again only in the rare
         * ambiguous case) and checked with an exact fast path. */
        char d17[24];
        int dp17;
        int n17 = digits_at(d, 17, d17, &dp17);
        (void)n17;
        /* 15 digits: when one of <= 15 exists, this is it (the 15-digit
         * spacing exceeds an ulp), trailing zeros stripped below */
        if (!round_from17(d17, dp17, 15, dig, decpt))
            digits_at(d, 15, dig, decpt);
        if (roundtrips_fast(dig, 15, *decpt, d)) {
            n = 15;
            goto strip;
        }
        if (!round_from17(d17, dp17, 16, dig, decpt))
            digits_at(d, 16, dig, decpt);
        if (roundtrips_fast(dig, 16, *decpt, d)) {
            n = 16;
            goto strip;
        }
        /* At a power of two the round-trip interval is lopsided: a 16-digit
         * neighbour of the nearest may still read back. */
        for (int dir = 1; dir >= -1; dir -= 2) {
            char alt[20];
            memcpy(alt, dig, 16);
            if (bump(alt, 16, dir) && roundtrips_fast(alt, 16, *decpt, d)) {
                memcpy(dig, alt, 16);
                n = 16;
                goto strip;
            }
        }
        memcpy(dig, d17, 17);
        *decpt = dp17;
        n = 17;
        goto strip;
    }
    /* Subnormals have fewer significant bits: search upwards. */
    for (int p = 1; p <= 17; p++) {
        n = digits_at(d, p, dig, decpt);
        if (roundtrips(dig, n, *decpt, d))
            break;
    }
strip:
    while (n > 1 && dig[n - 1] == '0')
        n--;
    return n;
}

size_t sa_format_double(double d, char *out)
{
    char *o = out;
    uint64_t bits;
    memcpy(&bits, &d, 8);
    if (bits >> 63) {
        *o++ = '-';
        d = -d;
    }
    if (d == 0.0) {
        memcpy(o, "0.0", 3);
        return (size_t)(o + 3 - out);
    }
    char dig[24];
    int decpt;
    int n = shortest(d, dig, &decpt);
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -decpt; i++)
                *o++ = '0';
            memcpy(o, dig, (size_t)n);
            o += n;
        } else if (decpt < n) {
            memcpy(o, dig, (size_t)decpt);
            o += decpt;
            *o++ = '.';
            memcpy(o, dig + decpt, (size_t)(n - decpt));
            o += n - decpt;
        } else {
            memcpy(o, dig, (size_t)n);
            o += n;
            for (int i = n; i < decpt; i++)
                *o++ = '0';
            *o++ = '.';
            *o++ = '0';
        }
    } else {
        *o++ = dig[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)(n - 1));
            o += n - 1;
        }
        int e = decpt - 1;
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        if (e < 0)
            e = -e;
        char eb[8];
        int k = 0;
        do {
            eb[k++] = (char)('0' + e % 10);
            e /= 10;
        } while (e);
        if (k < 2)
            eb[k++] = '0';
        while (k)
            *o++ = eb[--k];
    }
    return (size_t)(o - out);
}

/* ---- strings ----------------------------------------------------------------- */

static const char g_hex[] = "0123456789abcdef";

/* The short escapes JSON has (Python uses them too); 0: \u00XX. */
static const char g_esc_char[128] = {['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f',
                                     ['\r'] = 'r', ['"'] = '"',  ['\\'] = '\\'};

/* 1 = needs escaping ('"', '\\', < 0x20); 2 = non-ASCII (validate). */
static const unsigned char g_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* Index of the lowest set bit of m != 0. */
static inline unsigned first_bit32(uint32_t m)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_ctz(m);
#else
    unsigned i = 0;
    while (!(m & (1u << i)))
        i++;
    return i;
#endif
}

/* Index of the first byte of p[0..16) that needs attention, 16 when none. */
static inline unsigned first_attn16(const unsigned char *p)
{
    unsigned m = sa_attn_mask16(p);
    return m ? first_bit32(m) : 16;
}

/* Room str_body needs for n bytes: every byte may become \u00XX, plus the
 * quotes and the overhang of one 16-byte store. */
#define STR_ROOM(n) ((n) * 6 + 2 + 16)

/* Writes the escape of c (< 0x80, needing one) at d; returns the end. A table,
 * not a switch: escapes alternate ('\"', '\n', ...) and an indirect jump per
 * escape mispredicts. */
static inline char *put_escape(char *d, unsigned c)
{
    char e = g_esc_char[c];
    *d = '\\';
    if (e) {
        d[1] = e;
        return d + 2;
    }
    memcpy(d + 1, "u00", 3);
    d[4] = g_hex[c >> 4];
    d[5] = g_hex[c & 15];
    return d + 6;
}

/* Writes the JSON string of s[0..n) at d, which has STR_ROOM(n) bytes; bytes
 * up to rend (>= s + n) may be read, never past it. Returns the end, or NULL
 * on invalid UTF-8 (a damaged record). Text is scanned 16 bytes at a time and
 * clean runs copied whole; the escapes of a chunk are handled one after the
 * other from its mask (JSON inside strings escapes every few bytes), not by
 * scanning again after each. */
static char *str_body(char *d, const unsigned char *s, size_t n, const unsigned char *rend)
{
    *d++ = '"';
    size_t i = 0;
    while (i < n) {
        size_t left = (size_t)(rend - (s + i));
        if (left >= 32) {
            /* chunk s[i..i+16); the segment copies below read 16 bytes from
             * inside s[i..i+32), which is readable */
            unsigned m = sa_attn_mask16(s + i);
            size_t in = n - i < 16 ? n - i : 16; /* string bytes in the chunk */
            size_t done = 0;                     /* chunk bytes written */
            int rescan = 0;
            while (m) {
                unsigned pos = first_bit32(m);
                m &= m - 1;
                if (pos >= in)
                    break;
                unsigned c = s[i + pos];
                if (g_esc[c] == 0)
                    continue; /* a SWAR false alarm */
                memcpy(d, s + i + done, 16);
                d += pos - done;
                if (c >= 0x80) {
                    /* a UTF-8 sequence may run past the chunk: check it and
                     * scan again after it */
                    size_t len = sa_utf8_seq(s + i + pos, n - i - pos);
                    if (len == 0)
                        return NULL;
                    memcpy(d, s + i + pos, len);
                    d += len;
                    done = pos + len;
                    rescan = 1;
                    break;
                }
                d = put_escape(d, c);
                done = pos + 1;
            }
            if (!rescan) { /* the rest of the chunk is clean */
                memcpy(d, s + i + done, 16);
                d += in - done;
                done = in;
            }
            i += done;
            continue;
        }
        if (left >= 16) {
            unsigned pos = first_attn16(s + i);
            memcpy(d, s + i, 16);
            if (pos >= n - i) { /* clean to the end */
                d += n - i;
                break;
            }
            d += pos;
            i += pos;
            if (pos == 16)
                continue;
        } else {
            while (i < n && g_esc[s[i]] == 0)
                *d++ = (char)s[i++];
            if (i >= n)
                break;
        }
        unsigned c = s[i];
        if (c >= 0x80) {
            size_t len = sa_utf8_seq(s + i, n - i);
            if (len == 0)
                return NULL;
            memcpy(d, s + i, len);
            d += len;
            i += len;
            continue;
        }
        d = put_escape(d, c);
        i++;
    }
    *d++ = '"';
    return d;
}

/* Writes a JSON string. -1 on invalid UTF-8 (a damaged record). */
static int put_string(steparc_buf *out, const unsigned char *s, size_t n)
{
    if (n > (SIZE_MAX - 18) / 6 || sa_buf_reserve(out, STR_ROOM(n)) != 0)
        return -2;
    char *d = str_body(out->data + out->len, s, n, s + n);
    if (d == NULL)
        return -1;
    out->len = (size_t)(d - out->data);
    return 0;
}

/* Decimal text of v; returns its length (at most 20). */
static size_t fmt_u64(uint64_t v, char *out)
{
    char tmp[20];
    char *t = tmp + 20;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, g_d2 + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, g_d2 + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t k = (size_t)(tmp + 20 - t);
    memcpy(out, t, k);
    return k;
}

/* The same for the writer below: timestamps (10 digits, below 2^32) take the
 * cheaper 32-bit divisions. The digits go straight to their place in out:
 * building them in a temporary and copying it in one wide load stalls on
 * store forwarding. */
static inline char *put_u64(char *out, uint64_t v)
{
    if (v > UINT32_MAX)
        return out + fmt_u64(v, out);
    uint32_t u = (uint32_t)v;
    if (u >= 1000000000) {
        /* 10 digits (Unix times): split so the divisions run side by side
         * instead of as one chain */
        uint32_t top = u / 100000000, r8 = u % 100000000;
        uint32_t h4 = r8 / 10000, l4 = r8 % 10000;
        memcpy(out, g_d2 + 2 * top, 2);
        memcpy(out + 2, g_d2 + 2 * (h4 / 100), 2);
        memcpy(out + 4, g_d2 + 2 * (h4 % 100), 2);
        memcpy(out + 6, g_d2 + 2 * (l4 / 100), 2);
        memcpy(out + 8, g_d2 + 2 * (l4 % 100), 2);
        return out + 10;
    }
    unsigned k = 1u + (u >= 10) + (u >= 100) + (u >= 1000) + (u >= 10000) + (u >= 100000) +
                 (u >= 1000000) + (u >= 10000000) + (u >= 100000000) + (u >= 1000000000);
    char *d = out + k;
    while (u >= 100) {
        uint32_t r = u % 100;
        u /= 100;
        d -= 2;
        memcpy(d, g_d2 + 2 * r, 2);
    }
    if (u >= 10)
        memcpy(d - 2, g_d2 + 2 * u, 2);
    else
        d[-1] = (char)('0' + u);
    return out + k;
}

/* ---- values ------------------------------------------------------------------ */

typedef struct {
    steparc_buf *out;
    int pretty;
    int status;
} jw;

static int jfail(jw *w, int status)
{
    if (w->status == 0)
        w->status = status;
    return w->status;
}

static inline int put(jw *w, const char *s, size_t n)
{
    steparc_buf *o = w->out;
    if (o->cap - o->len < n && sa_buf_reserve(o, n) != 0)
        return jfail(w, STEPARC_E_NOMEM);
    memcpy(o->data + o->len, s, n);
    o->len += n;
    return 0;
}

static int newline(jw *w, int depth)
{
    if (sa_buf_reserve(w->out, 1 + 2 * (size_t)depth) != 0)
        return jfail(w, STEPARC_E_NOMEM);
    char *d = w->out->data + w->out->len;
    *d++ = '\n';
    memset(d, ' ', 2 * (size_t)depth);
    w->out->len += 1 + 2 * (size_t)depth;
    return 0;
}

int sa_json_put_int(steparc_buf *out, int64_t v)
{
    if (sa_buf_reserve(out, 21) != 0)
        return STEPARC_E_NOMEM;
    char *d = out->data + out->len;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        *d++ = '-';
        u = 0 - u;
    }
    d += fmt_u64(u, d);
    out->len = (size_t)(d - out->data);
    return 0;
}

int sa_json_put_double(steparc_buf *out, double f)
{
    char tmp[40];
    if (f != f || f - f != 0.0)
        return STEPARC_E_CORRUPT; /* NaN/inf cannot be JSON */
    size_t n = sa_format_double(f, tmp);
    return sa_buf_append(out, tmp, n);
}

int sa_json_put_string(steparc_buf *out, const char *s, size_t n)
{
    int rc = put_string(out, (const unsigned char *)s, n);
    return rc == 0 ? 0 : rc == -1 ? STEPARC_E_CORRUPT : STEPARC_E_NOMEM;
}

static int value(jw *w, sa_mpr *r, int depth)
{
    sa_mpitem it;
    if (depth > STEPARC_MAX_DEPTH || sa_mp_read(r, &it) != 0)
        return jfail(w, STEPARC_E_CORRUPT);
    int rc;
    switch (it.type) {
    case SA_MP_NIL: return put(w, "null", 4);
    case SA_MP_BOOL: return it.b ? put(w, "true", 4) : put(w, "false", 5);
    case SA_MP_INT:
        rc = sa_json_put_int(w->out, it.i);
        return rc ? jfail(w, rc) : 0;
    case SA_MP_UINT: {
        char tmp[24];
        return put(w, tmp, fmt_u64(it.u, tmp));
    }
    case SA_MP_FLOAT:
        rc = sa_json_put_double(w->out, it.f);
        return rc ? jfail(w, rc) : 0;
    case SA_MP_STR:
        rc = sa_json_put_string(w->out, it.s, it.n);
        return rc ? jfail(w, rc) : 0;
    case SA_MP_ARRAY:
    case SA_MP_MAP: {
        int is_map = it.type == SA_MP_MAP;
        if (put(w, is_map ? "{" : "[", 1))
            return w->status;
        for (uint32_t i = 0; i < it.n; i++) {
            if (i && put(w, ",", 1))
                return w->status;
            if (w->pretty && newline(w, depth + 1))
                return w->status;
            if (is_map) {
                sa_mpitem k;
                if (sa_mp_read(r, &k) != 0 || k.type != SA_MP_STR)
                    return jfail(w, STEPARC_E_CORRUPT);
                rc = sa_json_put_string(w->out, k.s, k.n);
                if (rc)
                    return jfail(w, rc);
                if (put(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1))
                    return w->status;
            }
            if (value(w, r, depth + 1))
                return w->status;
        }
        if (w->pretty && it.n && newline(w, depth))
            return w->status;
        return put(w, is_map ? "}" : "]", 1);
    }
    }
    return jfail(w, STEPARC_E_CORRUPT);
}

/* ---- the compact writer ---------------------------------------------------------
 *
 * The export's hot loop: MessagePack is read inline (no sa_mpitem, no call per
 * scalar) and JSON written through a raw pointer. Each item starts with at
 * least CW_SLACK bytes of room, enough for any scalar, a short string or a
 * closing bracket; longer strings reserve their own. Every length is still
 * checked against the end of the record. */

#define CW_SLACK 64

typedef struct {
    steparc_buf *out;
    char *lim; /* out->data + out->cap - CW_SLACK */
    const unsigned char *end;
    int status;
} cw;

/* Makes room for need + CW_SLACK bytes at d; returns the (moved) d. */
static char *cw_grow(cw *w, char *d, size_t need)
{
    steparc_buf *o = w->out;
    o->len = (size_t)(d - o->data);
    if (need > SIZE_MAX - CW_SLACK || sa_buf_reserve(o, need + CW_SLACK) != 0) {
        w->status = STEPARC_E_NOMEM;
        return NULL;
    }
    w->lim = o->data + o->cap - CW_SLACK;
    return o->data + o->len;
}

static char *cw_corrupt(cw *w)
{
    if (w->status == 0)
        w->status = STEPARC_E_CORRUPT;
    return NULL;
}

/* A string that is not short and clean: reserve its worst case, escape. */
static char *cw_str_slow(cw *w, char *d, const unsigned char *s, size_t n)
{
    if (n > (SIZE_MAX - 18) / 6) {
        w->status = STEPARC_E_NOMEM; /* as put_string */
        return NULL;
    }
    if ((size_t)(w->lim - d) < STR_ROOM(n) && (d = cw_grow(w, d, STR_ROOM(n))) == NULL)
        return NULL;
    d = str_body(d, s, n, w->end);
    return d ? d : cw_corrupt(w);
}

/* A string of n bytes at s (checked to lie inside the record); d <= lim. */
static inline char *cw_str(cw *w, char *d, const unsigned char *s, size_t n)
{
    /* short and clean (keys, ids, enums): two 16-byte loads and stores, no
     * loop, no call */
    if (n <= 32 && (size_t)(w->end - s) >= 32) {
        uint32_t m = sa_attn_mask16(s) | (uint32_t)sa_attn_mask16(s + 16) << 16;
        if ((m & (uint32_t)((1ULL << n) - 1)) == 0) {
            *d = '"';
            memcpy(d + 1, s, 32);
            d[n + 1] = '"';
            return d + n + 2;
        }
    }
    return cw_str_slow(w, d, s, n);
}

static inline char *cw_int(char *d, int64_t v)
{
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        *d++ = '-';
        u = 0 - u;
    }
    return put_u64(d, u);
}

/* Text of 0..127 (a positive fixint). */
static inline char *put_small(char *d, unsigned c)
{
    if (c < 10) {
        *d++ = (char)('0' + c);
    } else if (c < 100) {
        memcpy(d, g_d2 + 2 * c, 2);
        d += 2;
    } else {
        *d++ = '1';
        memcpy(d, g_d2 + 2 * (c - 100), 2);
        d += 2;
    }
    return d;
}

/* Writes one value. A documented hot loop (every record read as JSON goes
 * through it, once per value): kept whole on purpose. The scalar cases,
 * the string and container headers share one dispatch on the type byte
 * (goto str / container), and the container loop writes the commonest
 * items (short strings, small integers, null) inline instead of recursing,
 * as a call per item costs more than writing most of them. */
static char *cw_value(cw *w, const unsigned char **pp, char *d, int depth)
{
    const unsigned char *p = *pp, *end = w->end;
    if (depth > STEPARC_MAX_DEPTH || p >= end)
        return cw_corrupt(w);
    if (d > w->lim && (d = cw_grow(w, d, 0)) == NULL)
        return NULL;
    unsigned c = *p++;
    size_t avail = (size_t)(end - p);
    uint64_t n;
    if (c <= 0x7F) { /* positive fixint */
        *pp = p;
        return put_small(d, c);
    }
    if (c >= 0xA0 && c <= 0xBF) { /* fixstr */
        n = c & 0x1F;
        goto str;
    }
    if (c <= 0x9F) { /* fixmap, fixarray */
        n = c & 0x0F;
        goto container;
    }
    if (c >= 0xE0) { /* negative fixint */
        *d++ = '-';
        c = 256 - c;
        if (c < 10) {
            *d++ = (char)('0' + c);
        } else {
            memcpy(d, g_d2 + 2 * c, 2);
            d += 2;
        }
        *pp = p;
        return d;
    }
    switch (c) {
    case 0xC0:
        memcpy(d, "null", 4);
        d += 4;
        break;
    case 0xC2:
        memcpy(d, "false", 5);
        d += 5;
        break;
    case 0xC3:
        memcpy(d, "true", 4);
        d += 4;
        break;
    case 0xCA:
    case 0xCB: {
        double f;
        if (c == 0xCA) {
            if (avail < 4)
                return cw_corrupt(w);
            uint32_t bits = (uint32_t)sa_get_be_n(p, 4);
            float f32;
            memcpy(&f32, &bits, 4);
            f = (double)f32;
            p += 4;
        } else {
            if (avail < 8)
                return cw_corrupt(w);
            uint64_t bits = sa_get_be_n(p, 8);
            memcpy(&f, &bits, 8);
            p += 8;
        }
        if (f != f || f - f != 0.0)
            return cw_corrupt(w); /* NaN/inf cannot be JSON */
        d += sa_format_double(f, d);
        break;
    }
    case 0xCC: case 0xCD: case 0xCE: case 0xCF: {
        unsigned k = 1u << (c - 0xCC);
        if (avail < k)
            return cw_corrupt(w);
        d = put_u64(d, sa_get_be_n(p, (int)k));
        p += k;
        break;
    }
    case 0xD0: case 0xD1: case 0xD2: case 0xD3: {
        unsigned k = 1u << (c - 0xD0);
        if (avail < k)
            return cw_corrupt(w);
        uint64_t v = sa_get_be_n(p, (int)k);
        p += k;
        int64_t i = k == 1   ? (int8_t)(uint8_t)v
                    : k == 2 ? (int16_t)(uint16_t)v
                    : k == 4 ? (int32_t)(uint32_t)v
                             : (int64_t)v;
        d = cw_int(d, i);
        break;
    }
    case 0xD9: case 0xDA: case 0xDB: {
        unsigned k = 1u << (c - 0xD9);
        if (avail < k)
            return cw_corrupt(w);
        n = sa_get_be_n(p, (int)k);
        p += k;
        goto str;
    }
    case 0xDC: case 0xDD: case 0xDE: case 0xDF: {
        unsigned k = (c & 1) ? 4 : 2;
        if (avail < k)
            return cw_corrupt(w);
        n = sa_get_be_n(p, (int)k);
        p += k;
        c = c >= 0xDE ? 0x80 : 0x90; /* as the fix forms below */
        goto container;
    }
    default:
        return cw_corrupt(w); /* bin, ext, 0xC1 */
    }
    *pp = p;
    return d;

str:
    if (n > (uint64_t)(end - p))
        return cw_corrupt(w);
    d = cw_str(w, d, p, (size_t)n);
    *pp = p + n;
    return d;

container: {
    /* every item takes at least one byte: a count beyond the bytes left is
     * corrupt */
    if (n > (uint64_t)(end - p))
        return cw_corrupt(w);
    /* children of a container this deep would exceed the limit (checked
     * here because common scalars below are written without a call) */
    if (n && depth >= STEPARC_MAX_DEPTH)
        return cw_corrupt(w);
    int is_map = c <= 0x8F;
    *d++ = is_map ? '{' : '[';
    for (uint64_t i = 0; i < n; i++) {
        if (i)
            *d++ = ',';
        if (d > w->lim && (d = cw_grow(w, d, 0)) == NULL)
            return NULL;
        if (is_map) {
            if (p >= end)
                return cw_corrupt(w);
            unsigned k = *p++;
            uint64_t kn;
            if (k >= 0xA0 && k <= 0xBF) {
                kn = k & 0x1F;
            } else if (k >= 0xD9 && k <= 0xDB) {
                unsigned ks = 1u << (k - 0xD9);
                if ((size_t)(end - p) < ks)
                    return cw_corrupt(w);
                kn = sa_get_be_n(p, (int)ks);
                p += ks;
            } else {
                return cw_corrupt(w); /* keys are strings */
            }
            if (kn > (uint64_t)(end - p))
                return cw_corrupt(w);
            if ((d = cw_str(w, d, p, (size_t)kn)) == NULL)
                return NULL;
            p += kn;
            *d++ = ':';
            if (d > w->lim && (d = cw_grow(w, d, 0)) == NULL)
                return NULL;
        }
        /* the commonest values inline: a call per item costs more than
         * writing most of them */
        if (p < end) {
            unsigned v = *p;
            if (v >= 0xA0 && v <= 0xBF) {
                size_t sn = v & 0x1F;
                if (sn > (size_t)(end - p) - 1)
                    return cw_corrupt(w);
                if ((d = cw_str(w, d, p + 1, sn)) == NULL)
                    return NULL;
                p += 1 + sn;
                continue;
            }
            if (v <= 0x7F) {
                d = put_small(d, v);
                p++;
                continue;
            }
            if (v == 0xC0) {
                memcpy(d, "null", 4);
                d += 4;
                p++;
                continue;
            }
        }
        if ((d = cw_value(w, &p, d, depth + 1)) == NULL)
            return NULL;
    }
    if (d > w->lim && (d = cw_grow(w, d, 0)) == NULL)
        return NULL;
    *d++ = is_map ? '}' : ']';
    *pp = p;
    return d;
}
}

int sa_json_append(const void *mp, size_t len, unsigned flags, steparc_buf *out)
{
    size_t at = out->len;
    if (flags & STEPARC_JSON_PRETTY) {
        jw w = {out, 1, 0};
        sa_mpr r = {(const unsigned char *)mp, (const unsigned char *)mp + len};
        value(&w, &r, 0);
        if (w.status == 0 && r.p != r.end)
            w.status = STEPARC_E_CORRUPT;
        if (w.status != 0)
            out->len = at;
        return w.status;
    }
    if (sa_buf_reserve(out, CW_SLACK) != 0)
        return STEPARC_E_NOMEM;
    const unsigned char *p = (const unsigned char *)mp;
    cw w = {out, out->data + out->cap - CW_SLACK, p + len, 0};
    char *d = cw_value(&w, &p, out->data + out->len, 0);
    if (d != NULL && p != w.end)
        w.status = STEPARC_E_CORRUPT;
    out->len = w.status ? at : (size_t)(d - out->data);
    return w.status;
}

int steparc_msgpack_to_json(steparc_buf *out, const void *mp, size_t len, unsigned flags)
{
    if (out == NULL || (mp == NULL && len > 0))
        return STEPARC_E_ARG;
    if (!(flags & STEPARC_JSON_APPEND))
        out->len = 0;
    return sa_json_append(mp, len, flags, out);
}
