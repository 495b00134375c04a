/* json_out.c - MessagePack -> canonical JSON.
 *
 * Canonical means: byte for byte what Python's
 *   json.dumps(v, ensure_ascii=False, separators=(",", ":"))
 * prints for the parsed value (indent=2 for the pretty form), so any tool can
 * check an export. Floats use the shortest digits that read back to the same
 * double, laid out as Python's repr(). */
#include <stdio.h>

#include "record.h"

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

static int shortest(double d, char *dig, int *decpt)
{
    int n;
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

/* Bytes of an 8-byte word that need attention: < 0x20, '"', '\\' or >= 0x80.
 * May flag extra bytes after a real hit (borrows), never misses one. */
static inline uint64_t attention(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    return (v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
}

/* Writes a JSON string. -1 on invalid UTF-8 (a damaged record). */
static int put_string(steparc_buf *out, const unsigned char *s, size_t n)
{
    /* worst case: every byte becomes \u00XX */
    if (n > (SIZE_MAX - 2) / 6 || sa_buf_reserve(out, n * 6 + 2) != 0)
        return -2;
    char *d = out->data + out->len;
    *d++ = '"';
    size_t i = 0;
    while (i < n) {
        /* fast path: copy 8 plain ASCII bytes at a time */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (attention(w))
                break;
            memcpy(d, &w, 8);
            d += 8;
            i += 8;
        }
        while (i < n && g_esc[s[i]] == 0)
            *d++ = (char)s[i++];
        if (i >= n)
            break;
        unsigned c = s[i];
        if (g_esc[c] == 2) {
            size_t ok = sa_utf8_valid(s + i, n - i < 4 ? n - i : 4);
            if (ok == 0)
                return -1;
            size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            memcpy(d, s + i, len);
            d += len;
            i += len;
            continue;
        }
        *d++ = '\\';
        switch (c) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '\b': *d++ = 'b'; break;
        case '\f': *d++ = 'f'; break;
        case '\n': *d++ = 'n'; break;
        case '\r': *d++ = 'r'; break;
        case '\t': *d++ = 't'; break;
        default:
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = g_hex[c >> 4];
            *d++ = g_hex[c & 15];
        }
        i++;
    }
    *d++ = '"';
    out->len = (size_t)(d - out->data);
    return 0;
}

/* Decimal text of v; returns its length (at most 20). */
static size_t fmt_u64(uint64_t v, char *out)
{
    char tmp[24];
    size_t k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < k; i++)
        out[i] = tmp[k - 1 - i];
    return k;
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

int sa_json_append(const void *mp, size_t len, unsigned flags, steparc_buf *out)
{
    jw w = {out, (flags & STEPARC_JSON_PRETTY) != 0, 0};
    sa_mpr r = {(const unsigned char *)mp, (const unsigned char *)mp + len};
    size_t at = out->len;
    value(&w, &r, 0);
    if (w.status == 0 && r.p != r.end)
        w.status = STEPARC_E_CORRUPT;
    if (w.status != 0)
        out->len = at;
    return w.status;
}

int steparc_msgpack_to_json(const void *mp, size_t len, unsigned flags, steparc_buf *out)
{
    if (out == NULL || (mp == NULL && len > 0))
        return STEPARC_E_ARG;
    if (!(flags & STEPARC_JSON_APPEND))
        out->len = 0;
    return sa_json_append(mp, len, flags, out);
}
