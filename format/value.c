/* value.c - the generic value tree: the arena, the one MessagePack -> tree
 * decoder, member helpers, and the one MessagePack writer (see value.h). */
#include <stddef.h>

#include "value.h"

/* ---- arena ------------------------------------------------------------------ */

struct sa_chunk {
    sa_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

void *sa_arena_alloc(sa_arena *a, size_t n)
{
    if (n > SIZE_MAX / 2)
        return NULL;
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    sa_chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t least = a->chunk ? a->chunk : 16384;
        size_t cap = n > least ? n : least;
        c = (sa_chunk *)sa_malloc(sizeof(sa_chunk) + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

void sa_arena_free(sa_arena *a)
{
    sa_chunk *c = a->head;
    while (c) {
        sa_chunk *n = c->next;
        sa_free(c);
        c = n;
    }
    a->head = NULL;
}

/* ---- decode: MessagePack -> tree ------------------------------------------------ */

static int build(sa_arena *a, sa_mpr *r, steparc_value *out, int depth)
{
    sa_mpitem it;
    if (depth > STEPARC_MAX_DEPTH)
        return STEPARC_E_LIMIT;
    if (sa_mp_read(r, &it) != 0)
        return STEPARC_E_INPUT;
    switch (it.type) {
    case SA_MP_NIL: out->type = STEPARC_V_NULL; return 0;
    case SA_MP_BOOL: out->type = STEPARC_V_BOOL; out->v.b = it.b; return 0;
    case SA_MP_INT: out->type = STEPARC_V_INT; out->v.i = it.i; return 0;
    case SA_MP_UINT: out->type = STEPARC_V_UINT; out->v.u = it.u; return 0;
    case SA_MP_FLOAT: out->type = STEPARC_V_FLOAT; out->v.f = it.f; return 0;
    case SA_MP_STR:
        if (sa_utf8_valid((const unsigned char *)it.s, it.n) != it.n)
            return STEPARC_E_INPUT;
        out->type = STEPARC_V_STRING;
        out->v.s.ptr = it.s;
        out->v.s.len = it.n;
        return 0;
    case SA_MP_ARRAY: {
        if (it.n > STEPARC_MAX_KEYS)
            return STEPARC_E_LIMIT;
        out->type = STEPARC_V_ARRAY;
        out->v.array.count = it.n;
        out->v.array.items = (steparc_value *)sa_arena_alloc(a, it.n * sizeof(steparc_value));
        if (out->v.array.items == NULL)
            return STEPARC_E_NOMEM;
        for (uint32_t i = 0; i < it.n; i++) {
            int rc = build(a, r, &out->v.array.items[i], depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    case SA_MP_MAP: {
        if (it.n > STEPARC_MAX_KEYS)
            return STEPARC_E_LIMIT;
        out->type = STEPARC_V_OBJECT;
        out->v.object.count = it.n;
        out->v.object.items = (steparc_member *)sa_arena_alloc(a, it.n * sizeof(steparc_member));
        if (out->v.object.items == NULL)
            return STEPARC_E_NOMEM;
        for (uint32_t i = 0; i < it.n; i++) {
            sa_mpitem k;
            steparc_member *m = &out->v.object.items[i];
            if (sa_mp_read(r, &k) != 0 || k.type != SA_MP_STR ||
                sa_utf8_valid((const unsigned char *)k.s, k.n) != k.n)
                return STEPARC_E_INPUT;
            m->key.ptr = k.s;
            m->key.len = k.n;
            int rc = build(a, r, &m->value, depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    }
    return STEPARC_E_INPUT;
}

int sa_value_decode(steparc_value **out, sa_arena *a, const void *mp, size_t len)
{
    *out = NULL;
    char *copy = (char *)sa_arena_alloc(a, len);
    steparc_value *root = (steparc_value *)sa_arena_alloc(a, sizeof *root);
    if (copy == NULL || root == NULL)
        return STEPARC_E_NOMEM;
    if (len)
        memcpy(copy, mp, len);
    sa_mpr r = {(const unsigned char *)copy, (const unsigned char *)copy + len};
    int rc = build(a, &r, root, 0);
    if (rc == 0 && r.p != r.end)
        rc = STEPARC_E_INPUT;
    if (rc == 0)
        *out = root;
    return rc;
}

/* ---- members ---------------------------------------------------------------------- */

const steparc_value *sa_value_get(const steparc_value *obj, const char *key)
{
    if (obj == NULL || obj->type != STEPARC_V_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->v.object.count; i++) {
        const steparc_member *m = &obj->v.object.items[i];
        if (m->key.len == n && memcmp(m->key.ptr, key, n) == 0)
            return &m->value;
    }
    return NULL;
}

steparc_value *sa_value_add_member(sa_arena *a, steparc_value *obj, steparc_str key)
{
    size_t n = obj->v.object.count;
    steparc_member *m = (steparc_member *)sa_arena_alloc(a, (n + 1) * sizeof *m);
    if (m == NULL)
        return NULL;
    if (n)
        memcpy(m, obj->v.object.items, n * sizeof *m);
    m[n].key = key;
    m[n].value.type = STEPARC_V_NULL;
    obj->v.object.items = m;
    obj->v.object.count = n + 1;
    return &m[n].value;
}

/* ---- the writer ---------------------------------------------------------------------- */

int sa_mpw_nil(steparc_buf *b)
{
    return sa_buf_append(b, "\xC0", 1);
}

int sa_mpw_bool(steparc_buf *b, int v)
{
    return sa_buf_append(b, v ? "\xC3" : "\xC2", 1);
}

int sa_mpw_int(steparc_buf *b, int64_t v)
{
    unsigned char h[9];
    return sa_buf_append(b, h, sa_mp_put_int(h, v));
}

int sa_mpw_uint(steparc_buf *b, uint64_t v)
{
    unsigned char h[9];
    return sa_buf_append(b, h, sa_mp_put_uint(h, v));
}

int sa_mpw_double(steparc_buf *b, double v)
{
    unsigned char h[9];
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    h[0] = 0xCB;
    sa_put_be_n(h + 1, bits, 8);
    return sa_buf_append(b, h, 9);
}

int sa_mpw_str(steparc_buf *b, const char *s, size_t n)
{
    unsigned char h[5];
    if (n > UINT32_MAX)
        return STEPARC_E_LIMIT;
    if (sa_buf_append(b, h, sa_mp_put_strhdr(h, n)) != 0)
        return STEPARC_E_NOMEM;
    return sa_buf_append(b, s, n);
}

/* The header of a bin, array or map of n (fix: fixarray/fixmap base with
 * room for 16, 0 for none; c8: the 8-bit code, 0 for none; the 16- and
 * 32-bit codes follow c16). */
static int put_hdr(steparc_buf *b, uint64_t n, unsigned fix, unsigned c8, unsigned c16)
{
    unsigned char h[5];
    size_t k;
    if (fix && n < 16) {
        h[0] = (unsigned char)(fix | n);
        k = 0;
    } else if (c8 && n <= UINT8_MAX) {
        h[0] = (unsigned char)c8;
        k = 1;
    } else if (n <= UINT16_MAX) {
        h[0] = (unsigned char)c16;
        k = 2;
    } else {
        h[0] = (unsigned char)(c16 + 1);
        k = 4;
    }
    sa_put_be_n(h + 1, n, (int)k);
    return sa_buf_append(b, h, 1 + k);
}

int sa_mpw_bin(steparc_buf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX)
        return STEPARC_E_LIMIT;
    if (put_hdr(b, n, 0, 0xC4, 0xC5) != 0)
        return STEPARC_E_NOMEM;
    return sa_buf_append(b, p, n);
}

int sa_mpw_array(steparc_buf *b, uint32_t n)
{
    return put_hdr(b, n, 0x90, 0, 0xDC);
}

int sa_mpw_map(steparc_buf *b, uint32_t n)
{
    return put_hdr(b, n, 0x80, 0, 0xDE);
}

int sa_mpw_raw(steparc_buf *b, const void *p, size_t n)
{
    return sa_buf_append(b, p, n);
}

int sa_mpw_text(steparc_buf *b, const char *s, size_t n)
{
    if (s == NULL && n > 0)
        return STEPARC_E_ARG;
    if (n > STEPARC_MAX_RECORD_SIZE)
        return STEPARC_E_LIMIT;
    if (sa_utf8_valid((const unsigned char *)s, n) != n)
        return STEPARC_E_ARG;
    return sa_mpw_str(b, s, n) ? STEPARC_E_NOMEM : 0;
}

int sa_mpw_value(steparc_buf *b, const steparc_value *v, int depth)
{
    if (v == NULL)
        return STEPARC_E_ARG;
    if (depth > STEPARC_MAX_DEPTH)
        return STEPARC_E_LIMIT;
    int rc;
    switch (v->type) {
    case STEPARC_V_NULL: return sa_mpw_nil(b);
    case STEPARC_V_BOOL: return sa_mpw_bool(b, v->v.b);
    case STEPARC_V_INT: return sa_mpw_int(b, v->v.i);
    case STEPARC_V_UINT: return sa_mpw_uint(b, v->v.u);
    case STEPARC_V_FLOAT:
        if (v->v.f != v->v.f || v->v.f - v->v.f != 0.0)
            return STEPARC_E_ARG;
        return sa_mpw_double(b, v->v.f);
    case STEPARC_V_STRING: return sa_mpw_text(b, v->v.s.ptr, v->v.s.len);
    case STEPARC_V_ARRAY:
        if (v->v.array.count > STEPARC_MAX_KEYS || (v->v.array.items == NULL && v->v.array.count))
            return STEPARC_E_ARG;
        if (sa_mpw_array(b, (uint32_t)v->v.array.count))
            return STEPARC_E_NOMEM;
        for (size_t i = 0; i < v->v.array.count; i++)
            if ((rc = sa_mpw_value(b, &v->v.array.items[i], depth + 1)) != 0)
                return rc;
        return 0;
    case STEPARC_V_OBJECT:
        if (v->v.object.count > STEPARC_MAX_KEYS || (v->v.object.items == NULL && v->v.object.count))
            return STEPARC_E_ARG;
        if (sa_mpw_map(b, (uint32_t)v->v.object.count))
            return STEPARC_E_NOMEM;
        for (size_t i = 0; i < v->v.object.count; i++) {
            const steparc_member *m = &v->v.object.items[i];
            if ((rc = sa_mpw_text(b, m->key.ptr, m->key.len)) != 0 ||
                (rc = sa_mpw_value(b, &m->value, depth + 1)) != 0)
                return rc;
        }
        return 0;
    }
    return STEPARC_E_ARG;
}
