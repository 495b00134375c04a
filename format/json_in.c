/* json_in.c - JSON text -> MessagePack, exactly.
 *
 * Why our own parser: cJSON 1.7.15 truncates strings at \u0000, prints 1.0 as
 * 1, rounds integers above 2^53 and keeps no key order guarantees for
 * duplicates; and a transcoder that writes MessagePack directly, with no tree,
 * is several times faster. RFC 8259 grammar, strictly: no comments, no
 * trailing commas, no NaN/Infinity, no leading zeros. */
#define _GNU_SOURCE
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>

#include "record.h"
#include "scan.h"

/* ---- locale-independent strtod ---------------------------------------- */

static locale_t g_c_locale;
static pthread_once_t g_locale_once = PTHREAD_ONCE_INIT;

static void init_locale(void)
{
    g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

double sa_strtod(const char *s, char **end)
{
    pthread_once(&g_locale_once, init_locale);
    if (g_c_locale != (locale_t)0)
        return strtod_l(s, end, g_c_locale);
    return strtod(s, end); /* newlocale failed: only possible out of memory */
}

/* Clinger's fast path: a decimal w x 10^e with w <= 2^53 and |e| <= 22 is
 * one correctly rounded IEEE multiplication or division of two exactly
 * representable doubles, so the result is the correctly rounded value, the
 * same bits strtod gives. s[0..n) is a JSON number the grammar accepted.
 * 1 with *out set, or 0: let strtod decide (more digits, larger exponents). */
int sa_decimal_fast(const unsigned char *s, size_t n, double *out)
{
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const unsigned char *p = s, *end = s + n;
    int neg = p < end && *p == '-';
    p += neg;
    uint64_t w = 0;
    int digits = 0;   /* significant digits taken into w (leading zeros not counted) */
    long e = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (digits >= 19)
            return 0;
        w = w * 10 + (uint64_t)(*p - '0');
        digits += w != 0;
    }
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
            if (digits >= 19)
                return 0;
            w = w * 10 + (uint64_t)(*p - '0');
            digits += w != 0;
            e--;
        }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = p < end && *p == '-';
        p += p < end && (*p == '+' || *p == '-');
        long x = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (x > 1000)
                return 0;
            x = x * 10 + (*p - '0');
        }
        e += eneg ? -x : x;
    }
    if (p != end)
        return 0;
    while (w != 0 && w % 10 == 0 && e < 0) { /* "2.50", "9007199254740992.0" */
        w /= 10;
        e++;
    }
    if (w > ((uint64_t)1 << 53) || e < -22 || e > 22)
        return 0;
    double d = (double)w; /* exact: w <= 2^53 */
    d = e < 0 ? d / p10[-e] : d * p10[e];
    *out = neg ? -d : d;
    return 1;
#else
    (void)s;
    (void)n;
    (void)out;
    return 0; /* excess precision would round twice */
#endif
}

/* ---- UTF-8 -------------------------------------------------------------- */

size_t sa_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII eight bytes at a time: most strings are all ASCII, and a
         * byte loop's speed here changed with its address (measured) */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i == n)
            break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = sa_utf8_seq(s + i, n - i);
        if (len == 0)
            return i;
        i += len;
    }
    return n;
}

/* ---- parser state ------------------------------------------------------- */

typedef struct {
    size_t off, len; /* a key's decoded bytes, as an offset into out */
    uint32_t h;      /* a cheap hash of them: most pairs differ here */
} keyspan;

typedef struct {
    const unsigned char *start, *p, *end;
    steparc_buf *out;
    steparc_json_error *err;
    int incomplete;
    int status;
    keyspan *keys; /* stack of the keys of the objects being parsed */
    size_t nkeys, capkeys;
} parser;

static int fail(parser *ps, const unsigned char *at, int status, const char *reason)
{
    if (ps->status == 0) {
        ps->status = status;
        if (ps->err) {
            ps->err->offset = (size_t)(at - ps->start);
            sa_fmt(ps->err->reason, sizeof ps->err->reason, "%s", reason);
        }
    }
    return ps->status;
}

static int fail_eof(parser *ps, const char *reason)
{
    ps->incomplete = 1;
    return fail(ps, ps->end, STEPARC_E_INPUT, reason);
}

static inline void skip_ws(parser *ps)
{
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    ps->p = p;
}

static inline int emit(parser *ps, const void *data, size_t n)
{
    if (sa_buf_append(ps->out, data, n) != 0)
        return fail(ps, ps->p, STEPARC_E_NOMEM, "out of memory");
    return 0;
}

/* Writes a str/array/map header of the smallest MessagePack form. */
static size_t header_size(unsigned kind, size_t n)
{
    /* kind 0 = str, 1 = array, 2 = map */
    if (kind == 0)
        return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
    return n < 16 ? 1 : n < 65536 ? 3 : 5;
}

static void write_header(unsigned char *d, unsigned kind, size_t n)
{
    size_t hs = header_size(kind, n);
    if (kind == 0) {
        (void)sa_mp_put_strhdr(d, n);
        return;
    }
    unsigned char fix = kind == 1 ? 0x90 : 0x80;
    unsigned char b16 = kind == 1 ? 0xDC : 0xDE;
    if (hs == 1) {
        d[0] = (unsigned char)(fix | n);
    } else {
        d[0] = (unsigned char)(hs == 3 ? b16 : b16 + 1); /* 16- or 32-bit count */
        sa_put_be_n(d + 1, n, (int)hs - 1);
    }
}

/* The body was written after a `reserved`-byte hole at `at`; put the real
 * header there, shifting the body when the header is shorter. */
static void fix_header(parser *ps, size_t at, size_t reserved, unsigned kind, size_t n)
{
    size_t hs = header_size(kind, n);
    unsigned char *base = (unsigned char *)ps->out->data;
    if (hs < reserved) {
        memmove(base + at + hs, base + at + reserved, ps->out->len - at - reserved);
        ps->out->len -= reserved - hs;
    } else if (hs > reserved) {
        /* caller reserved too little: make room (buffer reserved by caller) */
        memmove(base + at + hs, base + at + reserved, ps->out->len - at - reserved);
        ps->out->len += hs - reserved;
    }
    write_header(base + at, kind, n);
}

static int hex4(const unsigned char *p, unsigned *v)
{
    unsigned r = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        r = (r << 4) | d;
    }
    *v = r;
    return 0;
}

/* The slow path of parse_string: a string with escapes, UTF-8 or control
 * characters; its source starts at run, q is the first byte past its plain
 * prefix. The decoded string is never longer than its source, so the
 * output is reserved for the remaining source. */
static int parse_string_escaped(parser *ps, const unsigned char *run, const unsigned char *q,
                                size_t *body_off, size_t *body_len)
{
    const unsigned char *end = ps->end;
    size_t at = ps->out->len;
    /* the closing quote is the first '"' preceded by an even run of '\\' */
    const unsigned char *scan = q;
    for (;;) {
        scan = (const unsigned char *)memchr(scan, '"', (size_t)(end - scan));
        if (scan == NULL) {
            scan = end;
            break;
        }
        size_t bs = 0;
        while (scan - bs > run && scan[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if ((bs & 1) == 0)
            break;
        scan++;
    }
    if (scan >= end)
        return fail_eof(ps, "unterminated string");
    size_t srclen = (size_t)(scan - run);
    if (srclen > STEPARC_MAX_RECORD_SIZE)
        return fail(ps, run, STEPARC_E_LIMIT, "string longer than the record size limit");
    size_t reserved = header_size(0, srclen);
    if (sa_buf_reserve(ps->out, reserved + srclen) != 0)
        return fail(ps, run, STEPARC_E_NOMEM, "out of memory");
    unsigned char *d = (unsigned char *)ps->out->data + at + reserved;
    unsigned char *d0 = d;
    memcpy(d, run, (size_t)(q - run));
    d += q - run;
    while (q < scan) {
        /* copy plain ASCII 16 (SSE2) or 8 bytes at a time between the special
         * bytes; d never gets ahead of q, so d + 16 stays in the reserve */
#if defined(SA_SCAN_SSE2)
        while (scan - q >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
            unsigned mask = sa_attn_mask_v(v);
            _mm_storeu_si128((__m128i *)(void *)d, v);
            if (mask) {
                unsigned k = (unsigned)__builtin_ctz(mask);
                d += k;
                q += k;
                break;
            }
            d += 16;
            q += 16;
        }
#endif
        while (scan - q >= 8 && !sa_attn8(q)) {
            memcpy(d, q, 8);
            d += 8;
            q += 8;
        }
        if (q >= scan)
            break;
        unsigned c = *q;
        if (c == '\\') {
            unsigned e = q[1];
            const unsigned char *esc = q;
            q += 2;
            switch (e) {
            case '"': *d++ = '"'; break;
            case '\\': *d++ = '\\'; break;
            case '/': *d++ = '/'; break;
            case 'b': *d++ = '\b'; break;
            case 'f': *d++ = '\f'; break;
            case 'n': *d++ = '\n'; break;
            case 'r': *d++ = '\r'; break;
            case 't': *d++ = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (scan - q < 4 || hex4(q, &cp) != 0)
                    return fail(ps, esc, STEPARC_E_INPUT, "invalid \\u escape");
                q += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (scan - q < 6 || q[0] != '\\' || q[1] != 'u' || hex4(q + 2, &lo) != 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return fail(ps, esc, STEPARC_E_INPUT,
                                    "lone UTF-16 surrogate in \\u escape (cannot be UTF-8)");
                    q += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return fail(ps, esc, STEPARC_E_INPUT,
                                "lone UTF-16 surrogate in \\u escape (cannot be UTF-8)");
                }
                if (cp < 0x80)
                    *d++ = (unsigned char)cp;
                else if (cp < 0x800) {
                    *d++ = (unsigned char)(0xC0 | (cp >> 6));
                    *d++ = (unsigned char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    *d++ = (unsigned char)(0xE0 | (cp >> 12));
                    *d++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                    *d++ = (unsigned char)(0x80 | (cp & 0x3F));
                } else {
                    *d++ = (unsigned char)(0xF0 | (cp >> 18));
                    *d++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                    *d++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                    *d++ = (unsigned char)(0x80 | (cp & 0x3F));
                }
                break;
            }
            default:
                return fail(ps, esc, STEPARC_E_INPUT, "invalid escape in string");
            }
        } else if (c < 0x20) {
            return fail(ps, q, STEPARC_E_INPUT, "unescaped control character in string");
        } else if (c < 0x80) {
            *d++ = (unsigned char)c;
            q++;
        } else {
            /* a run of non-ASCII bytes, validated and copied as a whole: it
             * ends where a character does when it is valid (continuation
             * bytes are >= 0x80), and the error names the first bad one */
            const unsigned char *r = q + 1;
            while (r < scan && *r >= 0x80)
                r++;
            size_t len = (size_t)(r - q), ok = sa_utf8_valid(q, len);
            if (ok != len)
                return fail(ps, q + ok, STEPARC_E_INPUT, "invalid UTF-8 in string");
            memcpy(d, q, len);
            d += len;
            q += len;
        }
    }
    size_t n = (size_t)(d - d0);
    ps->out->len = at + reserved + n;
    fix_header(ps, at, reserved, 0, n);
    *body_off = at + header_size(0, n);
    *body_len = n;
    ps->p = scan + 1;
    return 0;
}

/* Parses a string at ps->p (on the opening quote) and writes it as a
 * MessagePack str. On return body_off and body_len locate the decoded bytes.
 * A hot path (every key and string parsed): the plain strings are done
 * here, the rest in parse_string_escaped. */
static int parse_string(parser *ps, size_t *body_off, size_t *body_len)
{
    const unsigned char *q = ps->p + 1, *end = ps->end;
    const unsigned char *run = q;
    /* Fast path: find the closing quote with no escapes, 16 bytes at a time
     * (SSE2: every x86-64), else 8. A byte flagged by the mask is exactly a
     * byte sa_attn_byte flags ('"', '\\', < 0x20, >= 0x80). With SSE2 each
     * 16-byte chunk is also stored to the output behind a 1-byte header as
     * it is scanned, so a short string (keys, ids) is read once. */
#if defined(SA_SCAN_SSE2)
    {
        size_t at = ps->out->len;
        while (end - q >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
            unsigned mask = sa_attn_mask_v(v);
            size_t done = (size_t)(q - run);
            if (ps->out->cap - at < 1 + done + 16 && sa_buf_reserve(ps->out, 1 + done + 16) != 0)
                return fail(ps, run, STEPARC_E_NOMEM, "out of memory");
            _mm_storeu_si128((__m128i *)(void *)(ps->out->data + at + 1 + done), v);
            if (mask) {
                q += __builtin_ctz(mask);
                if (*q != '"')
                    goto stop; /* escapes or UTF-8: the slow path copies again */
                size_t n = (size_t)(q - run), hs = header_size(0, n);
                if (n > STEPARC_MAX_RECORD_SIZE)
                    return fail(ps, run, STEPARC_E_LIMIT, "string longer than the record size limit");
                if (hs > 1) {
                    if (sa_buf_reserve(ps->out, hs + n) != 0)
                        return fail(ps, run, STEPARC_E_NOMEM, "out of memory");
                    memmove(ps->out->data + at + hs, ps->out->data + at + 1, n);
                }
                write_header((unsigned char *)ps->out->data + at, 0, n);
                ps->out->len = at + hs + n;
                *body_off = at + hs;
                *body_len = n;
                ps->p = q + 1;
                return 0;
            }
            q += 16;
        }
    }
#endif
    while (end - q >= 8 && !sa_attn8(q))
        q += 8;
    while (q < end && !sa_attn_byte(*q))
        q++;
#if defined(SA_SCAN_SSE2)
stop:;
#endif
    size_t at = ps->out->len;
    if (q < end && *q == '"') {
        size_t n = (size_t)(q - run);
        if (n > STEPARC_MAX_RECORD_SIZE)
            return fail(ps, run, STEPARC_E_LIMIT, "string longer than the record size limit");
        size_t hs = header_size(0, n);
        if (sa_buf_reserve(ps->out, hs + n) != 0)
            return fail(ps, run, STEPARC_E_NOMEM, "out of memory");
        write_header((unsigned char *)ps->out->data + at, 0, n);
        memcpy(ps->out->data + at + hs, run, n);
        ps->out->len = at + hs + n;
        *body_off = at + hs;
        *body_len = n;
        ps->p = q + 1;
        return 0;
    }
    return parse_string_escaped(ps, run, q, body_off, body_len);
}

static int parse_number(parser *ps)
{
    const unsigned char *s = ps->p, *q = s, *end = ps->end;
    int neg = 0, is_float = 0;
    if (q < end && *q == '-') {
        neg = 1;
        q++;
    }
    if (q >= end)
        return fail_eof(ps, "truncated number");
    if (*q == '0') {
        q++;
        if (q < end && *q >= '0' && *q <= '9')
            return fail(ps, s, STEPARC_E_INPUT, "leading zero in number");
    } else if (*q >= '1' && *q <= '9') {
        while (q < end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return fail(ps, s, STEPARC_E_INPUT, "invalid number");
    }
    const unsigned char *int_end = q;
    if (q < end && *q == '.') {
        is_float = 1;
        q++;
        if (q >= end)
            return fail_eof(ps, "truncated number");
        if (!(*q >= '0' && *q <= '9'))
            return fail(ps, s, STEPARC_E_INPUT, "digit expected after decimal point");
        while (q < end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        is_float = 1;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (q >= end)
            return fail_eof(ps, "truncated number");
        if (!(*q >= '0' && *q <= '9'))
            return fail(ps, s, STEPARC_E_INPUT, "digit expected in exponent");
        while (q < end && *q >= '0' && *q <= '9')
            q++;
    }
    unsigned char buf[9];
    if (!is_float) {
        uint64_t v = 0;
        for (const unsigned char *d = s + neg; d < int_end; d++) {
            unsigned dig = (unsigned)(*d - '0');
            if (v > (UINT64_MAX - dig) / 10)
                return fail(ps, s, STEPARC_E_INPUT,
                            "integer does not fit in 64 bits (would lose precision)");
            v = v * 10 + dig;
        }
        if (neg) {
            if (v > (uint64_t)INT64_MAX + 1)
                return fail(ps, s, STEPARC_E_INPUT,
                            "integer does not fit in 64 bits (would lose precision)");
            /* -0 is the integer 0, as Python reads it */
            int64_t iv = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
            ps->p = q;
            return emit(ps, buf, sa_mp_put_int(buf, iv));
        }
        ps->p = q;
        return emit(ps, buf, sa_mp_put_uint(buf, v));
    }
    size_t tl = (size_t)(q - s);
    double dv;
    if (sa_decimal_fast(s, tl, &dv))
        goto emit_double;
    /* otherwise strtod, on a NUL-terminated copy */
    char small[64];
    char *tmp = small;
    if (tl >= sizeof small) {
        tmp = (char *)sa_malloc(tl + 1);
        if (tmp == NULL)
            return fail(ps, s, STEPARC_E_NOMEM, "out of memory");
    }
    memcpy(tmp, s, tl);
    tmp[tl] = 0;
    errno = 0;
    dv = sa_strtod(tmp, NULL);
    int range = errno == ERANGE && (dv > 1.0 || dv < -1.0);
    if (tmp != small)
        sa_free(tmp);
    if (range)
        return fail(ps, s, STEPARC_E_INPUT, "number is beyond the range of a double");
emit_double:;
    uint64_t bits;
    memcpy(&bits, &dv, 8);
    buf[0] = 0xCB;
    for (int i = 0; i < 8; i++)
        buf[1 + i] = (unsigned char)(bits >> (56 - 8 * i));
    ps->p = q;
    return emit(ps, buf, 9);
}

static int cmp_keyspan_data(const steparc_buf *out, const keyspan *a, const keyspan *b)
{
    if (a->h != b->h)
        return a->h < b->h ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(out->data + a->off, out->data + b->off, n);
    if (c != 0)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* qsort has no context argument in C11: sort with a small merge sort. */
static void sort_keys(const steparc_buf *out, keyspan *k, keyspan *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    sort_keys(out, k, tmp, h);
    sort_keys(out, k + h, tmp, n - h);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        tmp[o++] = cmp_keyspan_data(out, &k[j], &k[i]) < 0 ? k[j++] : k[i++];
    while (i < h)
        tmp[o++] = k[i++];
    while (j < n)
        tmp[o++] = k[j++];
    memcpy(k, tmp, n * sizeof *k);
}

/* Reports whether keys[from..nkeys) holds a duplicate. */
static int has_duplicate(parser *ps, size_t from, size_t *dup)
{
    size_t n = ps->nkeys - from;
    keyspan *k = ps->keys + from;
    if (n <= 64) {
        /* a 256-bit filter on the key hashes: equal keys have equal hashes,
         * so only a key whose bit is already set is compared with the
         * earlier ones (a run step's 14-16 keys: about one in three
         * records, instead of ~100 comparisons each) */
        uint64_t seen[4] = {0, 0, 0, 0};
        for (size_t i = 0; i < n; i++) {
            uint32_t h = k[i].h;
            uint32_t b = (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & 255u;
            uint64_t bit = (uint64_t)1 << (b & 63u);
            if (seen[b >> 6] & bit)
                for (size_t j = 0; j < i; j++)
                    if (cmp_keyspan_data(ps->out, &k[i], &k[j]) == 0) {
                        *dup = i;
                        return 1;
                    }
            seen[b >> 6] |= bit;
        }
        return 0;
    }
    keyspan *copy = (keyspan *)sa_malloc(2 * n * sizeof *copy);
    if (copy == NULL) {
        fail(ps, ps->p, STEPARC_E_NOMEM, "out of memory");
        return -1;
    }
    memcpy(copy, k, n * sizeof *k);
    sort_keys(ps->out, copy, copy + n, n);
    int found = 0;
    for (size_t i = 1; i < n; i++)
        if (cmp_keyspan_data(ps->out, &copy[i], &copy[i - 1]) == 0) {
            for (size_t j = 0; j < n; j++)
                if (k[j].off == copy[i].off)
                    *dup = j;
            found = 1;
            break;
        }
    sa_free(copy);
    return found;
}

static int parse_value(parser *ps, int depth);

static int parse_container(parser *ps, int depth, int is_obj)
{
    if (depth >= STEPARC_MAX_DEPTH)
        return fail(ps, ps->p, STEPARC_E_LIMIT, "nesting deeper than 64 levels");
    const unsigned char *open = ps->p;
    ps->p++;
    size_t at = ps->out->len;
    /* Most objects have under 16 keys: reserve the 1-byte fix header. */
    if (sa_buf_reserve(ps->out, 1) != 0)
        return fail(ps, ps->p, STEPARC_E_NOMEM, "out of memory");
    ps->out->len += 1;
    size_t count = 0, keys_from = ps->nkeys;
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail_eof(ps, is_obj ? "unterminated object" : "unterminated array");
    unsigned char close = is_obj ? '}' : ']';
    if (*ps->p == close) {
        ps->p++;
    } else {
        for (;;) {
            if (count >= STEPARC_MAX_KEYS)
                return fail(ps, ps->p, STEPARC_E_LIMIT,
                            is_obj ? "more than 65535 keys in one object"
                                   : "more than 65535 items in one array");
            if (is_obj) {
                skip_ws(ps);
                if (ps->p >= ps->end)
                    return fail_eof(ps, "unterminated object");
                if (*ps->p != '"')
                    return fail(ps, ps->p, STEPARC_E_INPUT, "object key (a string) expected");
                size_t koff, klen;
                if (parse_string(ps, &koff, &klen) != 0)
                    return ps->status;
                if (ps->nkeys == ps->capkeys) {
                    size_t nc = ps->capkeys ? ps->capkeys * 2 : 64;
                    keyspan *nk = (keyspan *)sa_realloc(ps->keys, nc * sizeof *nk);
                    if (nk == NULL)
                        return fail(ps, ps->p, STEPARC_E_NOMEM, "out of memory");
                    ps->keys = nk;
                    ps->capkeys = nc;
                }
                {
                    const unsigned char *kb = (const unsigned char *)ps->out->data + koff;
                    uint32_t h = (uint32_t)klen * 0x9E3779B1u;
                    if (klen) /* length, ends and middle: distinct in practice */
                        h ^= (uint32_t)kb[0] | (uint32_t)kb[klen - 1] << 8 |
                             (uint32_t)kb[klen / 2] << 16 | (uint32_t)kb[klen / 3] << 24;
                    ps->keys[ps->nkeys].h = h;
                }
                ps->keys[ps->nkeys].off = koff;
                ps->keys[ps->nkeys].len = klen;
                ps->nkeys++;
                skip_ws(ps);
                if (ps->p >= ps->end)
                    return fail_eof(ps, "unterminated object");
                if (*ps->p != ':')
                    return fail(ps, ps->p, STEPARC_E_INPUT, "':' expected after object key");
                ps->p++;
            }
            if (parse_value(ps, depth + 1) != 0)
                return ps->status;
            count++;
            skip_ws(ps);
            if (ps->p >= ps->end)
                return fail_eof(ps, is_obj ? "unterminated object" : "unterminated array");
            if (*ps->p == ',') {
                ps->p++;
                continue;
            }
            if (*ps->p == close) {
                ps->p++;
                break;
            }
            return fail(ps, ps->p, STEPARC_E_INPUT,
                        is_obj ? "',' or '}' expected in object" : "',' or ']' expected in array");
        }
    }
    if (is_obj && count > 1) {
        size_t dup = 0;
        int d = has_duplicate(ps, keys_from, &dup);
        if (d < 0)
            return ps->status;
        if (d) {
            char msg[160];
            keyspan *k = &ps->keys[keys_from + dup];
            int shown = k->len > 60 ? 60 : (int)k->len;
            sa_fmt(msg, sizeof msg, "duplicate key \"%.*s\" in object (its value would be ambiguous)",
                   shown, ps->out->data + k->off);
            return fail(ps, open, STEPARC_E_INPUT, msg);
        }
    }
    ps->nkeys = keys_from;
    size_t hs = header_size(is_obj ? 2 : 1, count);
    if (hs > 1 && sa_buf_reserve(ps->out, hs - 1) != 0)
        return fail(ps, ps->p, STEPARC_E_NOMEM, "out of memory");
    fix_header(ps, at, 1, is_obj ? 2 : 1, count);
    return 0;
}

static int expect_word(parser *ps, const char *w, size_t n, unsigned char code)
{
    size_t avail = (size_t)(ps->end - ps->p);
    if (avail < n) {
        if (memcmp(ps->p, w, avail) == 0)
            return fail_eof(ps, "truncated literal");
        return fail(ps, ps->p, STEPARC_E_INPUT, "invalid literal");
    }
    if (memcmp(ps->p, w, n) != 0)
        return fail(ps, ps->p, STEPARC_E_INPUT, "invalid literal");
    ps->p += n;
    return emit(ps, &code, 1);
}

static int parse_value(parser *ps, int depth)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail_eof(ps, "value expected");
    size_t a, b;
    switch (*ps->p) {
    case '{': return parse_container(ps, depth, 1);
    case '[': return parse_container(ps, depth, 0);
    case '"': return parse_string(ps, &a, &b);
    case 't': return expect_word(ps, "true", 4, 0xC3);
    case 'f': return expect_word(ps, "false", 5, 0xC2);
    case 'n': return expect_word(ps, "null", 4, 0xC0);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
        if (*ps->p == 'N' || *ps->p == 'I')
            return fail(ps, ps->p, STEPARC_E_INPUT, "NaN and Infinity are not JSON");
        return fail(ps, ps->p, STEPARC_E_INPUT, "value expected");
    }
}

void sa_json_locate(const char *json, size_t len, steparc_json_error *err)
{
    size_t line = 1, col = 1;
    size_t off = err->offset < len ? err->offset : len;
    for (size_t i = 0; i < off; i++) {
        if (json[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    err->line = line;
    err->column = col;
}

int sa_json_parse(const char *json, size_t len, unsigned flags, steparc_buf *out,
                  size_t *consumed, int *incomplete, steparc_json_error *err)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.start = ps.p = (const unsigned char *)json;
    ps.end = ps.start + len;
    ps.out = out;
    ps.err = err;
    size_t at = out->len;
    *incomplete = 0;
    skip_ws(&ps);
    if ((flags & STEPARC_JSON_REQUIRE_OBJECT) && ps.p < ps.end && *ps.p != '{') {
        fail(&ps, ps.p, STEPARC_E_INPUT, "a JSON object was expected");
    } else {
        parse_value(&ps, 0);
    }
    if (ps.status == 0 && out->len - at > STEPARC_MAX_RECORD_SIZE)
        fail(&ps, ps.start, STEPARC_E_LIMIT, "record larger than 64 MiB once encoded");
    sa_free(ps.keys);
    *consumed = (size_t)(ps.p - ps.start);
    if (ps.status != 0) {
        out->len = at;
        *incomplete = ps.incomplete;
        if (err)
            sa_json_locate(json, len, err);
    }
    return ps.status;
}

int steparc_json_to_msgpack(steparc_buf *out, const char *json, size_t len, unsigned flags,
                            steparc_json_error *err)
{
    if (out == NULL || (json == NULL && len > 0))
        return STEPARC_E_ARG;
    size_t used = 0;
    int inc = 0;
    out->len = 0;
    int rc = sa_json_parse(json, len, flags, out, &used, &inc, err);
    if (rc != 0)
        return rc;
    while (used < len && (json[used] == ' ' || json[used] == '\n' || json[used] == '\r' ||
                          json[used] == '\t'))
        used++;
    if (used < len) {
        out->len = 0;
        if (err) {
            err->offset = used;
            sa_fmt(err->reason, sizeof err->reason, "unexpected text after the JSON value");
            sa_json_locate(json, len, err);
        }
        return STEPARC_E_INPUT;
    }
    return 0;
}
