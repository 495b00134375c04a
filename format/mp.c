/* mp.c - bounds-checked MessagePack reading, record validation, and the
 * top-level fields the indexes need. Every length read is checked against the
 * end of the buffer before use: these bytes may come from a damaged file. */
#include <stdlib.h>

#include "record.h"

int sa_mp_read(sa_mpr *r, sa_mpitem *it)
{
    const unsigned char *p = r->p, *end = r->end;
    if (p >= end)
        return -1;
    unsigned c = *p++;
    size_t avail = (size_t)(end - p);
    uint64_t len = 0;
    int lsize = 0;
    it->n = 0;
    if (c <= 0x7F) {
        it->type = SA_MP_INT;
        it->i = (int64_t)c;
    } else if (c <= 0x8F) {
        it->type = SA_MP_MAP;
        it->n = c & 0x0F;
    } else if (c <= 0x9F) {
        it->type = SA_MP_ARRAY;
        it->n = c & 0x0F;
    } else if (c <= 0xBF) {
        it->type = SA_MP_STR;
        len = c & 0x1F;
        goto str;
    } else if (c >= 0xE0) {
        it->type = SA_MP_INT;
        it->i = (int64_t)(int8_t)(unsigned char)c;
    } else {
        switch (c) {
        case 0xC0: it->type = SA_MP_NIL; break;
        case 0xC2: it->type = SA_MP_BOOL; it->b = 0; break;
        case 0xC3: it->type = SA_MP_BOOL; it->b = 1; break;
        case 0xCA: {
            if (avail < 4) return -1;
            uint32_t bits = (uint32_t)sa_get_be_n(p, 4);
            float f;
            memcpy(&f, &bits, 4);
            it->type = SA_MP_FLOAT;
            it->f = (double)f;
            p += 4;
            break;
        }
        case 0xCB: {
            if (avail < 8) return -1;
            uint64_t bits = sa_get_be_n(p, 8);
            memcpy(&it->f, &bits, 8);
            it->type = SA_MP_FLOAT;
            p += 8;
            break;
        }
        case 0xCC: case 0xCD: case 0xCE: case 0xCF: {
            int n = 1 << (c - 0xCC);
            if (avail < (size_t)n) return -1;
            uint64_t v = sa_get_be_n(p, n);
            p += n;
            if (v > (uint64_t)INT64_MAX) {
                it->type = SA_MP_UINT;
                it->u = v;
            } else {
                it->type = SA_MP_INT;
                it->i = (int64_t)v;
            }
            break;
        }
        case 0xD0: case 0xD1: case 0xD2: case 0xD3: {
            int n = 1 << (c - 0xD0);
            if (avail < (size_t)n) return -1;
            uint64_t v = sa_get_be_n(p, n);
            p += n;
            it->type = SA_MP_INT;
            if (n == 1) it->i = (int8_t)(uint8_t)v;
            else if (n == 2) it->i = (int16_t)(uint16_t)v;
            else if (n == 4) it->i = (int32_t)(uint32_t)v;
            else it->i = (int64_t)v;
            break;
        }
        case 0xD9: lsize = 1; goto strh;
        case 0xDA: lsize = 2; goto strh;
        case 0xDB: lsize = 4; goto strh;
        case 0xDC: case 0xDD: case 0xDE: case 0xDF: {
            int n = (c & 1) ? 4 : 2;
            if (avail < (size_t)n) return -1;
            uint64_t v = sa_get_be_n(p, n);
            p += n;
            it->type = c <= 0xDD ? SA_MP_ARRAY : SA_MP_MAP;
            /* every item takes at least one byte: a count beyond the bytes
             * left is corrupt, and refusing it here bounds allocations */
            if (v > (uint64_t)(end - p) || v > UINT32_MAX) return -1;
            it->n = (uint32_t)v;
            break;
        }
        default:
            return -1; /* bin, ext, 0xC1 */
        }
        r->p = p;
        return 0;
    strh:
        if (avail < (size_t)lsize) return -1;
        len = sa_get_be_n(p, lsize);
        p += lsize;
        it->type = SA_MP_STR;
        goto str;
    }
    if ((it->type == SA_MP_MAP || it->type == SA_MP_ARRAY) && it->n > (size_t)(end - p))
        return -1;
    r->p = p;
    return 0;
str:
    if (len > (uint64_t)(end - p))
        return -1;
    it->s = (const char *)p;
    it->n = (uint32_t)len;
    r->p = p + len;
    return 0;
}

int sa_mp_skip(sa_mpr *r, int depth)
{
    sa_mpitem it;
    if (depth < 0 || sa_mp_read(r, &it) != 0)
        return -1;
    if (it.type == SA_MP_ARRAY) {
        for (uint32_t i = 0; i < it.n; i++)
            if (sa_mp_skip(r, depth - 1) != 0)
                return -1;
    } else if (it.type == SA_MP_MAP) {
        for (uint32_t i = 0; i < it.n; i++)
            if (sa_mp_skip(r, depth - 1) != 0 || sa_mp_skip(r, depth - 1) != 0)
                return -1;
    }
    return 0;
}

/* ---- validation ----------------------------------------------------------- */

typedef struct {
    const char *p;
    uint32_t n;
} kspan;

static int kspan_cmp(const void *a, const void *b)
{
    const kspan *x = (const kspan *)a, *y = (const kspan *)b;
    uint32_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, n);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

typedef struct {
    char *reason;
    size_t cap;
} vctx;

static int vfail(vctx *v, int status, const char *why)
{
    if (v->reason)
        sa_fmt(v->reason, v->cap, "%s", why);
    return status;
}

static int validate(sa_mpr *r, int depth, vctx *v)
{
    sa_mpitem it;
    if (sa_mp_read(r, &it) != 0)
        return vfail(v, STEPARC_E_INPUT, "truncated MessagePack or a type JSON cannot hold (bin, ext)");
    switch (it.type) {
    case SA_MP_STR:
        if (sa_utf8_valid((const unsigned char *)it.s, it.n) != it.n)
            return vfail(v, STEPARC_E_INPUT, "string is not valid UTF-8");
        return 0;
    case SA_MP_FLOAT:
        if (it.f != it.f || it.f - it.f != 0.0)
            return vfail(v, STEPARC_E_INPUT, "NaN or infinity cannot be written as JSON");
        return 0;
    case SA_MP_ARRAY:
        if (depth >= STEPARC_MAX_DEPTH) /* the same 64 levels the JSON parser allows */
            return vfail(v, STEPARC_E_LIMIT, "nesting deeper than 64 levels");
        if (it.n > STEPARC_MAX_KEYS)
            return vfail(v, STEPARC_E_LIMIT, "more than 65535 items in one array");
        for (uint32_t i = 0; i < it.n; i++) {
            int rc = validate(r, depth + 1, v);
            if (rc)
                return rc;
        }
        return 0;
    case SA_MP_MAP: {
        if (depth >= STEPARC_MAX_DEPTH)
            return vfail(v, STEPARC_E_LIMIT, "nesting deeper than 64 levels");
        if (it.n > STEPARC_MAX_KEYS)
            return vfail(v, STEPARC_E_LIMIT, "more than 65535 keys in one object");
        kspan small[16];
        kspan *keys = it.n <= 16 ? small : (kspan *)sa_malloc(it.n * sizeof(kspan));
        if (keys == NULL)
            return vfail(v, STEPARC_E_NOMEM, "out of memory");
        int rc = 0;
        for (uint32_t i = 0; i < it.n && rc == 0; i++) {
            sa_mpitem k;
            if (sa_mp_read(r, &k) != 0 || k.type != SA_MP_STR) {
                rc = vfail(v, STEPARC_E_INPUT, "object key is not a string");
                break;
            }
            if (sa_utf8_valid((const unsigned char *)k.s, k.n) != k.n) {
                rc = vfail(v, STEPARC_E_INPUT, "object key is not valid UTF-8");
                break;
            }
            keys[i].p = k.s;
            keys[i].n = k.n;
            rc = validate(r, depth + 1, v);
        }
        if (rc == 0 && it.n > 1) {
            if (it.n <= 16) {
                for (uint32_t i = 1; i < it.n && rc == 0; i++)
                    for (uint32_t j = 0; j < i; j++)
                        if (kspan_cmp(&keys[i], &keys[j]) == 0) {
                            rc = vfail(v, STEPARC_E_INPUT, "duplicate key in object");
                            break;
                        }
            } else {
                qsort(keys, it.n, sizeof *keys, kspan_cmp);
                for (uint32_t i = 1; i < it.n; i++)
                    if (kspan_cmp(&keys[i], &keys[i - 1]) == 0) {
                        rc = vfail(v, STEPARC_E_INPUT, "duplicate key in object");
                        break;
                    }
            }
        }
        if (keys != small)
            sa_free(keys);
        return rc;
    }
    default:
        return 0;
    }
}

int sa_mp_validate(const void *mp, size_t len, char *reason, size_t reason_cap)
{
    vctx v = {reason, reason_cap};
    sa_mpr r = {(const unsigned char *)mp, (const unsigned char *)mp + len};
    if (len == 0 || (((const unsigned char *)mp)[0] & 0xF0) != 0x80) {
        unsigned c = len ? ((const unsigned char *)mp)[0] : 0;
        if (len == 0 || (c != 0xDE && c != 0xDF))
            return vfail(&v, STEPARC_E_INPUT, "a record must be a map (a JSON object)");
    }
    if (len > STEPARC_MAX_RECORD_SIZE)
        return vfail(&v, STEPARC_E_LIMIT, "record larger than 64 MiB");
    int rc = validate(&r, 0, &v);
    if (rc == 0 && r.p != r.end)
        return vfail(&v, STEPARC_E_INPUT, "bytes after the end of the record");
    return rc;
}

/* ---- key fields ------------------------------------------------------------ */

static int key_is(const sa_mpitem *k, const char *lit, size_t n)
{
    return k->n == n && memcmp(k->s, lit, n) == 0;
}

/* Which of the eight keys sa_mp_keyfields wants k is: 0..7, or -1. */
static int wanted_key(const sa_mpitem *k)
{
    switch (k->n) {
    case 2: return key_is(k, "id", 2) ? 0 : -1;
    case 4: return key_is(k, "type", 4) ? 1 : -1;
    case 6:
        return key_is(k, "object", 6) ? 2 : key_is(k, "run_id", 6) ? 3
             : key_is(k, "status", 6) ? 4 : -1;
    case 9: return key_is(k, "thread_id", 9) ? 5 : -1;
    case 10: return key_is(k, "created_at", 10) ? 6 : -1;
    case 12: return key_is(k, "assistant_id", 12) ? 7 : -1;
    default: return -1;
    }
}

int sa_mp_find_str(const void *mp, size_t len, const char *key, size_t klen, steparc_str *out)
{
    sa_mpr r = {(const unsigned char *)mp, (const unsigned char *)mp + len};
    sa_mpitem m, k, v;
    memset(&v, 0, sizeof v);
    out->ptr = NULL;
    out->len = 0;
    if (sa_mp_read(&r, &m) != 0 || m.type != SA_MP_MAP)
        return STEPARC_E_CORRUPT;
    for (uint32_t i = 0; i < m.n; i++) {
        if (sa_mp_read(&r, &k) != 0 || k.type != SA_MP_STR)
            return STEPARC_E_CORRUPT;
        const unsigned char *vstart = r.p;
        if (sa_mp_read(&r, &v) != 0)
            return STEPARC_E_CORRUPT;
        if (key_is(&k, key, klen)) {
            if (v.type == SA_MP_STR) {
                out->ptr = v.s;
                out->len = v.n;
            }
            return 0;
        }
        if (v.type == SA_MP_ARRAY || v.type == SA_MP_MAP) {
            r.p = vstart;
            if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                return STEPARC_E_CORRUPT;
        }
    }
    return 0;
}

int sa_keyfields_kind(const sa_keyfields *kf)
{
    return steparc_kind_of_object(kf->object.ptr, kf->object.len);
}

void sa_posting_keys(const sa_keyfields *kf, int kind, unsigned minor, steparc_str out[3])
{
    out[0] = kf->run_id;
    out[1] = kf->thread_id;
    out[2] = kf->assistant_id;
    if (minor < 3)
        return;
    if (kind == STEPARC_KIND_RUN)
        out[0] = kf->id;
    else if (kind == STEPARC_KIND_THREAD)
        out[1] = kf->id;
    else if (kind == STEPARC_KIND_ASSISTANT)
        out[2] = kf->id;
}

int sa_mp_keyfields(const void *mp, size_t len, sa_keyfields *kf)
{
    sa_mpr r = {(const unsigned char *)mp, (const unsigned char *)mp + len};
    sa_mpitem m, k, v;
    memset(kf, 0, sizeof *kf);
    if (sa_mp_read(&r, &m) != 0 || m.type != SA_MP_MAP)
        return STEPARC_E_CORRUPT;
    steparc_str *dst[8] = {&kf->id, &kf->type, &kf->object, &kf->run_id,
                           &kf->status, &kf->thread_id, NULL, &kf->assistant_id};
    /* once all eight keys were met (they come first in API objects) the rest
     * of the record (step_details) is not walked */
    unsigned seen = 0;
    for (uint32_t i = 0; i < m.n && seen != 0xFFu; i++) {
        if (sa_mp_read(&r, &k) != 0 || k.type != SA_MP_STR)
            return STEPARC_E_CORRUPT;
        int w = wanted_key(&k);
        if (w >= 0)
            seen |= 1u << w;
        const unsigned char *vstart = r.p;
        if (sa_mp_read(&r, &v) != 0)
            return STEPARC_E_CORRUPT;
        if (v.type == SA_MP_ARRAY || v.type == SA_MP_MAP) {
            r.p = vstart;
            if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                return STEPARC_E_CORRUPT;
            continue;
        }
        if (w == 6) {
            if (v.type == SA_MP_INT) {
                kf->has_created_at = 1;
                kf->created_at = v.i;
            }
        } else if (w >= 0 && v.type == SA_MP_STR) {
            dst[w]->ptr = v.s;
            dst[w]->len = v.n;
        }
    }
    return 0;
}
