/* record.h - the record codec (internal): JSON -> MessagePack, MessagePack ->
 * JSON, validation, and the top-level fields the indexes need. Pure functions
 * over buffers. */
#ifndef STEPARC_RECORD_H
#define STEPARC_RECORD_H

#include "common.h"

/* Parses one JSON value starting at json[0] (leading whitespace allowed) and
 * appends its MessagePack encoding to out. *consumed is set to the bytes used,
 * up to the end of the value (trailing whitespace not included).
 * When the text ends before the value does, returns STEPARC_E_INPUT with
 * *incomplete = 1 (callers that stream may read more and retry).
 * Error offsets in err are relative to json. */
int sa_json_parse(const char *json, size_t len, unsigned flags, steparc_buf *out,
                  size_t *consumed, int *incomplete, steparc_json_error *err);

/* Fills line/column of err from its offset. */
void sa_json_locate(const char *json, size_t len, steparc_json_error *err);

/* Length of the valid UTF-8 prefix of s (n when all valid). */
size_t sa_utf8_valid(const unsigned char *s, size_t n);

/* Checks that mp[0..len) is exactly one record: a map, string keys, valid
 * UTF-8, only the types JSON produces (nil, bool, int, float64/32, str, array,
 * map), depth and counts within limits, no duplicate keys.
 * 0, STEPARC_E_INPUT or STEPARC_E_LIMIT; reason (may be NULL) explains. */
int sa_mp_validate(const void *mp, size_t len, char *reason, size_t reason_cap);

/* Fields the indexes and filters need, read from a record's top-level map
 * without decoding the rest. Strings point into the record. A field whose
 * value is not a string is reported absent (ptr NULL). */
typedef struct {
    steparc_str id, object, run_id, thread_id, assistant_id, type, status;
    int has_created_at;
    int64_t created_at;
} sa_keyfields;

/* 0 or STEPARC_E_CORRUPT (not a map / truncated before its end or before
 * all eight keys were met). Stops reading once the eight keys (id, object,
 * created_at, run_id, assistant_id, thread_id, type, status) were met: it is
 * not a validation of the rest of the record. */
int sa_mp_keyfields(const void *mp, size_t len, sa_keyfields *kf);

/* The top-level string value of key (key, klen): 0 with *out set (ptr NULL
 * when absent or not a string), or STEPARC_E_CORRUPT (not a map, truncated).
 * Reads the record up to the key (the rarer fields sa_mp_keyfields does not
 * fetch, such as a vector_store.file's vector_store_id). */
int sa_mp_find_str(const void *mp, size_t len, const char *key, size_t klen, steparc_str *out);

/* The record's kind (STEPARC_KIND_*) from its "object". */
int sa_keyfields_kind(const sa_keyfields *kf);

/* The values a record adds to the run, thread and assistant postings (8.3)
 * of an archive of format minor `minor`: its run_id, thread_id and
 * assistant_id, except that from 1.3 on a run, a thread and an assistant are
 * keyed by their own id in their own postings (so a lookup by thread finds
 * the thread itself). ptr NULL: no value. */
void sa_posting_keys(const sa_keyfields *kf, int kind, unsigned minor, steparc_str out[3]);

/* Float formatting as Python's repr: shortest round-trip digits. Writes at
 * most 32 bytes, returns the length. */
size_t sa_format_double(double d, char *out);

/* Locale-independent strtod of a NUL-terminated JSON number. */
double sa_strtod(const char *s, char **end);
/* The double a JSON number s[0..n) denotes, when Clinger's fast path gives
 * it exactly (<= 19 significant digits, value <= 2^53 x 10^22, exponent
 * within +-22): 1 and *out set; else 0 (use sa_strtod). */
int sa_decimal_fast(const unsigned char *s, size_t n, double *out);


/* ---- canonical MessagePack writing (FORMAT.md 6.1: the smallest form) ---- */

/* The big-endian unsigned in p[0..n) (MessagePack's byte order). */
static inline uint64_t sa_get_be_n(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Big-endian v in o[0..n). */
static inline void sa_put_be_n(unsigned char *o, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        o[i] = (unsigned char)v;
}

/* Writes u as the smallest unsigned form (positive fixint, uint8..uint64)
 * at o (9 bytes of room); returns its size. */
static inline size_t sa_mp_put_uint(unsigned char *o, uint64_t u)
{
    if (u < 128) {
        o[0] = (unsigned char)u;
        return 1;
    }
    int n = u <= UINT8_MAX ? 1 : u <= UINT16_MAX ? 2 : u <= UINT32_MAX ? 4 : 8;
    o[0] = (unsigned char)(n == 1 ? 0xCC : n == 2 ? 0xCD : n == 4 ? 0xCE : 0xCF);
    sa_put_be_n(o + 1, u, n);
    return 1 + (size_t)n;
}

/* Writes v as msgpack-c does: non-negative values in the unsigned forms,
 * negative ones in the smallest signed form (negative fixint, int8..int64). */
static inline size_t sa_mp_put_int(unsigned char *o, int64_t v)
{
    if (v >= 0)
        return sa_mp_put_uint(o, (uint64_t)v);
    if (v >= -32) {
        o[0] = (unsigned char)(int8_t)v;
        return 1;
    }
    int n = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 : v >= INT32_MIN ? 4 : 8;
    o[0] = (unsigned char)(n == 1 ? 0xD0 : n == 2 ? 0xD1 : n == 4 ? 0xD2 : 0xD3);
    sa_put_be_n(o + 1, (uint64_t)v, n);
    return 1 + (size_t)n;
}

/* Writes the header of a string of n bytes (fixstr, str8/16/32; 5 bytes of
 * room); returns its size. */
static inline size_t sa_mp_put_strhdr(unsigned char *o, uint64_t n)
{
    if (n < 32) {
        o[0] = (unsigned char)(0xA0 | n);
        return 1;
    }
    int k = n <= UINT8_MAX ? 1 : n <= UINT16_MAX ? 2 : 4;
    o[0] = (unsigned char)(k == 1 ? 0xD9 : k == 2 ? 0xDA : 0xDB);
    sa_put_be_n(o + 1, n, k);
    return 1 + (size_t)k;
}

/* ---- MessagePack reading (bounds-checked, zero-copy) -------------------- */

typedef enum {
    SA_MP_NIL, SA_MP_BOOL, SA_MP_INT, SA_MP_UINT, SA_MP_FLOAT, SA_MP_STR,
    SA_MP_ARRAY, SA_MP_MAP
} sa_mptype;

typedef struct {
    sa_mptype type;
    int b;
    int64_t i;      /* SA_MP_INT (also set for UINT values <= INT64_MAX, which are INT) */
    uint64_t u;     /* SA_MP_UINT: > INT64_MAX */
    double f;
    const char *s;  /* SA_MP_STR bytes (checked to lie inside the buffer) */
    uint32_t n;     /* str length, array items or map pairs */
} sa_mpitem;

typedef struct {
    const unsigned char *p, *end;
} sa_mpr;

/* Reads one item header (a whole scalar, a str with its bytes, or the count of
 * an array/map). 0, or -1 on truncation or a type JSON cannot produce (bin,
 * ext, reserved 0xC1). Positive integers are SA_MP_INT when they fit int64. */
int sa_mp_read(sa_mpr *r, sa_mpitem *it);

/* Skips one complete value, up to depth levels deep. 0 or -1. */
int sa_mp_skip(sa_mpr *r, int depth);

/* ---- JSON writing pieces (json_out.c), shared with the struct writer ----- */

/* Appends (does not replace) the canonical JSON of one MessagePack value. */
int sa_json_append(const void *mp, size_t len, unsigned flags, steparc_buf *out);
int sa_json_put_int(steparc_buf *out, int64_t v);
int sa_json_put_double(steparc_buf *out, double f);     /* STEPARC_E_CORRUPT for NaN/inf */
int sa_json_put_string(steparc_buf *out, const char *s, size_t n); /* E_CORRUPT: bad UTF-8 */

#endif
