/* typed.c - the engine of the typed record views: MessagePack record <->
 * typed struct, for every kind, driven by the sa_objdesc tables (typed.h).
 *
 * Decoding builds a generic value tree first (in an arena owned by the
 * struct), then binds the known fields of each object through a table that
 * gives, per object type, each field's name, kind and offset. Everything the
 * table does not know stays in the object's extras, and the key order is kept
 * in `order`, so encoding the struct again gives back the same bytes. */
#include <assert.h>
#include <msgpack.h>
#include <stddef.h>

#include "typed.h"

/* ---- arena ------------------------------------------------------------------ */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

typedef struct {
    chunk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        c = (chunk *)sa_malloc(sizeof(chunk) + cap);
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

static void arena_free(arena *a)
{
    chunk *c = a->head;
    while (c) {
        chunk *n = c->next;
        sa_free(c);
        c = n;
    }
    a->head = NULL;
}

/* The object/array field wrappers all start with these members. */
typedef struct {
    steparc_presence state;
    char v[];
} obj_head;

typedef struct {
    steparc_presence state;
    void *items;
    size_t count;
    const steparc_value *other;
} arr_field;

/* ---- decode: MessagePack -> generic tree -------------------------------------- */

typedef struct {
    arena a;
    int status;
} dctx;

static int build(dctx *d, sa_mpr *r, steparc_value *out, int depth)
{
    sa_mpitem it;
    if (depth > STEPARC_MAX_DEPTH)
        return d->status = STEPARC_E_LIMIT;
    if (sa_mp_read(r, &it) != 0)
        return d->status = STEPARC_E_INPUT;
    switch (it.type) {
    case SA_MP_NIL: out->type = STEPARC_V_NULL; return 0;
    case SA_MP_BOOL: out->type = STEPARC_V_BOOL; out->v.b = it.b; return 0;
    case SA_MP_INT: out->type = STEPARC_V_INT; out->v.i = it.i; return 0;
    case SA_MP_UINT: out->type = STEPARC_V_UINT; out->v.u = it.u; return 0;
    case SA_MP_FLOAT: out->type = STEPARC_V_FLOAT; out->v.f = it.f; return 0;
    case SA_MP_STR:
        if (sa_utf8_valid((const unsigned char *)it.s, it.n) != it.n)
            return d->status = STEPARC_E_INPUT;
        out->type = STEPARC_V_STRING;
        out->v.s.ptr = it.s;
        out->v.s.len = it.n;
        return 0;
    case SA_MP_ARRAY: {
        if (it.n > STEPARC_MAX_KEYS)
            return d->status = STEPARC_E_LIMIT;
        out->type = STEPARC_V_ARRAY;
        out->v.array.count = it.n;
        out->v.array.items = (steparc_value *)arena_alloc(&d->a, it.n * sizeof(steparc_value));
        if (out->v.array.items == NULL)
            return d->status = STEPARC_E_NOMEM;
        for (uint32_t i = 0; i < it.n; i++)
            if (build(d, r, &out->v.array.items[i], depth + 1))
                return d->status;
        return 0;
    }
    case SA_MP_MAP: {
        if (it.n > STEPARC_MAX_KEYS)
            return d->status = STEPARC_E_LIMIT;
        out->type = STEPARC_V_OBJECT;
        out->v.object.count = it.n;
        out->v.object.items = (steparc_member *)arena_alloc(&d->a, it.n * sizeof(steparc_member));
        if (out->v.object.items == NULL)
            return d->status = STEPARC_E_NOMEM;
        for (uint32_t i = 0; i < it.n; i++) {
            sa_mpitem k;
            steparc_member *m = &out->v.object.items[i];
            if (sa_mp_read(r, &k) != 0 || k.type != SA_MP_STR ||
                sa_utf8_valid((const unsigned char *)k.s, k.n) != k.n)
                return d->status = STEPARC_E_INPUT;
            m->key.ptr = k.s;
            m->key.len = k.n;
            if (build(d, r, &m->value, depth + 1))
                return d->status;
        }
        return 0;
    }
    }
    return d->status = STEPARC_E_INPUT;
}

/* ---- decode: bind typed fields ----------------------------------------------- */

static int bind_obj(dctx *d, const sa_objdesc *od, void *obj, const steparc_value *v);

/* An array of strings is SET; anything else (an array holding a non-string
 * included) is OTHER, kept whole. */
static int bind_strs(dctx *d, steparc_opt_strs *f, const steparc_value *v)
{
    if (v->type == STEPARC_V_NULL) {
        f->state = STEPARC_NULL;
        return 0;
    }
    int ok = v->type == STEPARC_V_ARRAY;
    for (size_t i = 0; ok && i < v->v.array.count; i++)
        ok = v->v.array.items[i].type == STEPARC_V_STRING;
    if (!ok) {
        f->state = STEPARC_OTHER;
        f->other = v;
        return 0;
    }
    f->state = STEPARC_SET;
    f->count = v->v.array.count;
    f->items = (steparc_str *)arena_alloc(&d->a, f->count * sizeof(steparc_str));
    if (f->items == NULL)
        return d->status = STEPARC_E_NOMEM;
    for (size_t i = 0; i < f->count; i++)
        f->items[i] = v->v.array.items[i].v.s;
    return 0;
}

static int enum_code(const sa_fielddesc *fd, steparc_str s)
{
    for (int i = 1; i < fd->nnames; i++)
        if (strlen(fd->names[i]) == s.len && memcmp(fd->names[i], s.ptr, s.len) == 0)
            return i;
    return 0;
}

/* Binds member value v to field fd of obj. Returns 0, or <0 on error. */
static int bind_field(dctx *d, const sa_fielddesc *fd, void *obj, const steparc_value *v)
{
    char *field = (char *)obj + fd->off;
    int is_null = v->type == STEPARC_V_NULL;
    switch (fd->k) {
    case K_STR: {
        steparc_opt_str *f = (steparc_opt_str *)field;
        f->state = is_null ? STEPARC_NULL : v->type == STEPARC_V_STRING ? STEPARC_SET : STEPARC_OTHER;
        if (f->state == STEPARC_SET)
            f->v = v->v.s;
        else if (f->state == STEPARC_OTHER)
            f->other = v;
        return 0;
    }
    case K_ENUM: {
        steparc_opt_enum *f = (steparc_opt_enum *)field;
        f->state = is_null ? STEPARC_NULL : v->type == STEPARC_V_STRING ? STEPARC_SET : STEPARC_OTHER;
        if (f->state == STEPARC_SET) {
            f->v = v->v.s;
            f->code = enum_code(fd, v->v.s);
        } else if (f->state == STEPARC_OTHER) {
            f->other = v;
        }
        return 0;
    }
    case K_INT: {
        steparc_opt_int *f = (steparc_opt_int *)field;
        f->state = is_null ? STEPARC_NULL : v->type == STEPARC_V_INT ? STEPARC_SET : STEPARC_OTHER;
        if (f->state == STEPARC_SET)
            f->v = v->v.i;
        else if (f->state == STEPARC_OTHER)
            f->other = v;
        return 0;
    }
    case K_NUM: {
        steparc_opt_num *f = (steparc_opt_num *)field;
        if (is_null) {
            f->state = STEPARC_NULL;
        } else if (v->type == STEPARC_V_INT) {
            f->state = STEPARC_SET;
            f->is_int = 1;
            f->i = v->v.i;
            f->f = (double)v->v.i;
        } else if (v->type == STEPARC_V_FLOAT) {
            f->state = STEPARC_SET;
            f->is_int = 0;
            f->f = v->v.f;
        } else {
            f->state = STEPARC_OTHER;
            f->other = v;
        }
        return 0;
    }
    case K_VALUE: {
        steparc_opt_value *f = (steparc_opt_value *)field;
        if (is_null) {
            f->state = STEPARC_NULL;
        } else {
            f->state = STEPARC_SET;
            f->v = v;
        }
        return 0;
    }
    case K_OBJ: {
        obj_head *f = (obj_head *)field;
        if (is_null) {
            f->state = STEPARC_NULL;
        } else if (v->type == STEPARC_V_OBJECT) {
            f->state = STEPARC_SET;
            return bind_obj(d, fd->sub, (char *)obj + fd->v_off, v);
        } else {
            f->state = STEPARC_OTHER;
            *(const steparc_value **)((char *)obj + fd->o_off) = v;
        }
        return 0;
    }
    case K_ARR: {
        arr_field *f = (arr_field *)field;
        if (is_null) {
            f->state = STEPARC_NULL;
            return 0;
        }
        int ok = v->type == STEPARC_V_ARRAY;
        for (size_t i = 0; ok && i < v->v.array.count; i++)
            ok = v->v.array.items[i].type == STEPARC_V_OBJECT;
        if (!ok) {
            f->state = STEPARC_OTHER;
            f->other = v;
            return 0;
        }
        f->state = STEPARC_SET;
        f->count = v->v.array.count;
        f->items = arena_alloc(&d->a, f->count * fd->sub->size);
        if (f->items == NULL)
            return d->status = STEPARC_E_NOMEM;
        memset(f->items, 0, f->count * fd->sub->size);
        for (size_t i = 0; i < f->count; i++)
            if (bind_obj(d, fd->sub, (char *)f->items + i * fd->sub->size, &v->v.array.items[i]))
                return d->status;
        return 0;
    }
    case K_BOOL: {
        steparc_opt_bool *f = (steparc_opt_bool *)field;
        f->state = is_null ? STEPARC_NULL : v->type == STEPARC_V_BOOL ? STEPARC_SET : STEPARC_OTHER;
        if (f->state == STEPARC_SET)
            f->v = v->v.b;
        else if (f->state == STEPARC_OTHER)
            f->other = v;
        return 0;
    }
    case K_STRS:
        return bind_strs(d, (steparc_opt_strs *)field, v);
    }
    return 0;
}

static int bind_obj(dctx *d, const sa_objdesc *od, void *obj, const steparc_value *v)
{
    size_t n = v->v.object.count;
    steparc_extras *ex = (steparc_extras *)((char *)obj + od->extra_off);
    steparc_keyorder *ko = (steparc_keyorder *)((char *)obj + od->order_off);
    uint64_t seen = 0;
    assert(od->nf <= SA_MAX_FIELDS); /* a table bug: one bit per field */
    ko->slots = (uint16_t *)arena_alloc(&d->a, n * sizeof(uint16_t));
    ex->items = (steparc_member *)arena_alloc(&d->a, n * sizeof(steparc_member));
    if (ko->slots == NULL || ex->items == NULL)
        return d->status = STEPARC_E_NOMEM;
    ko->count = n;
    ex->count = 0;
    for (size_t i = 0; i < n; i++) {
        const steparc_member *m = &v->v.object.items[i];
        int fi = -1;
        for (int k = 0; k < od->nf; k++) {
            const char *name = od->f[k].name;
            if (strlen(name) == m->key.len && memcmp(name, m->key.ptr, m->key.len) == 0) {
                fi = k;
                break;
            }
        }
        if (fi >= 0 && !(seen & (UINT64_C(1) << fi))) {
            seen |= UINT64_C(1) << fi;
            ko->slots[i] = (uint16_t)fi;
            if (bind_field(d, &od->f[fi], obj, &m->value))
                return d->status;
        } else {
            if (ex->count >= STEPARC_SLOT_EXTRA)
                return d->status = STEPARC_E_LIMIT;
            ko->slots[i] = (uint16_t)(STEPARC_SLOT_EXTRA + ex->count);
            ex->items[ex->count++] = *m;
        }
    }
    return 0;
}


/* ---- encode ------------------------------------------------------------------ */

static int sink(void *data, const char *buf, size_t len)
{
    return sa_buf_append((steparc_buf *)data, buf, len) == 0 ? 0 : -1;
}

typedef struct {
    msgpack_packer pk;
    int status;
} ectx;

static int efail(ectx *e, int status)
{
    if (e->status == 0)
        e->status = status;
    return e->status;
}

static int pack_str(ectx *e, const char *p, size_t n)
{
    if (p == NULL && n > 0)
        return efail(e, STEPARC_E_ARG);
    if (n > STEPARC_MAX_RECORD_SIZE)
        return efail(e, STEPARC_E_LIMIT);
    if (sa_utf8_valid((const unsigned char *)p, n) != n)
        return efail(e, STEPARC_E_ARG);
    if (msgpack_pack_str(&e->pk, n) || msgpack_pack_str_body(&e->pk, p, n))
        return efail(e, STEPARC_E_NOMEM);
    return 0;
}

static int pack_value(ectx *e, const steparc_value *v, int depth)
{
    if (v == NULL)
        return efail(e, STEPARC_E_ARG);
    if (depth > STEPARC_MAX_DEPTH)
        return efail(e, STEPARC_E_LIMIT);
    int rc = 0;
    switch (v->type) {
    case STEPARC_V_NULL: rc = msgpack_pack_nil(&e->pk); break;
    case STEPARC_V_BOOL: rc = v->v.b ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk); break;
    case STEPARC_V_INT: rc = msgpack_pack_int64(&e->pk, v->v.i); break;
    case STEPARC_V_UINT: rc = msgpack_pack_uint64(&e->pk, v->v.u); break;
    case STEPARC_V_FLOAT:
        if (v->v.f != v->v.f || v->v.f - v->v.f != 0.0)
            return efail(e, STEPARC_E_ARG);
        rc = msgpack_pack_double(&e->pk, v->v.f);
        break;
    case STEPARC_V_STRING: return pack_str(e, v->v.s.ptr, v->v.s.len);
    case STEPARC_V_ARRAY:
        if (v->v.array.count > STEPARC_MAX_KEYS || (v->v.array.items == NULL && v->v.array.count))
            return efail(e, STEPARC_E_ARG);
        if (msgpack_pack_array(&e->pk, v->v.array.count))
            return efail(e, STEPARC_E_NOMEM);
        for (size_t i = 0; i < v->v.array.count; i++)
            if (pack_value(e, &v->v.array.items[i], depth + 1))
                return e->status;
        return 0;
    case STEPARC_V_OBJECT:
        if (v->v.object.count > STEPARC_MAX_KEYS || (v->v.object.items == NULL && v->v.object.count))
            return efail(e, STEPARC_E_ARG);
        if (msgpack_pack_map(&e->pk, v->v.object.count))
            return efail(e, STEPARC_E_NOMEM);
        for (size_t i = 0; i < v->v.object.count; i++) {
            const steparc_member *m = &v->v.object.items[i];
            if (pack_str(e, m->key.ptr, m->key.len) || pack_value(e, &m->value, depth + 1))
                return e->status;
        }
        return 0;
    default:
        return efail(e, STEPARC_E_ARG);
    }
    return rc ? efail(e, STEPARC_E_NOMEM) : 0;
}

static int pack_obj(ectx *e, const sa_objdesc *od, const void *obj, int depth);

static steparc_presence field_state(const sa_fielddesc *fd, const void *obj)
{
    return *(const steparc_presence *)((const char *)obj + fd->off);
}

static int pack_field(ectx *e, const sa_fielddesc *fd, const void *obj, int depth)
{
    const char *field = (const char *)obj + fd->off;
    steparc_presence st = *(const steparc_presence *)field;
    if (pack_str(e, fd->name, strlen(fd->name)))
        return e->status;
    if (st == STEPARC_NULL)
        return msgpack_pack_nil(&e->pk) ? efail(e, STEPARC_E_NOMEM) : 0;
    if (st != STEPARC_SET && st != STEPARC_OTHER)
        return efail(e, STEPARC_E_ARG);
    switch (fd->k) {
    case K_STR: {
        const steparc_opt_str *f = (const steparc_opt_str *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        return pack_str(e, f->v.ptr, f->v.len);
    }
    case K_ENUM: {
        const steparc_opt_enum *f = (const steparc_opt_enum *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->v.ptr == NULL && f->v.len == 0 && f->code != 0) {
            /* no text: the code's name, which must be a known code */
            if (f->code < 0 || f->code >= fd->nnames)
                return efail(e, STEPARC_E_ARG);
            return pack_str(e, fd->names[f->code], strlen(fd->names[f->code]));
        }
        return pack_str(e, f->v.ptr, f->v.len);
    }
    case K_INT: {
        const steparc_opt_int *f = (const steparc_opt_int *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        return msgpack_pack_int64(&e->pk, f->v) ? efail(e, STEPARC_E_NOMEM) : 0;
    }
    case K_NUM: {
        const steparc_opt_num *f = (const steparc_opt_num *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->is_int)
            return msgpack_pack_int64(&e->pk, f->i) ? efail(e, STEPARC_E_NOMEM) : 0;
        if (f->f != f->f || f->f - f->f != 0.0)
            return efail(e, STEPARC_E_ARG);
        return msgpack_pack_double(&e->pk, f->f) ? efail(e, STEPARC_E_NOMEM) : 0;
    }
    case K_VALUE: {
        const steparc_opt_value *f = (const steparc_opt_value *)field;
        if (st == STEPARC_OTHER)
            return efail(e, STEPARC_E_ARG);
        return pack_value(e, f->v, depth + 1);
    }
    case K_OBJ:
        if (st == STEPARC_OTHER)
            return pack_value(e, *(const steparc_value *const *)((const char *)obj + fd->o_off), depth + 1);
        return pack_obj(e, fd->sub, (const char *)obj + fd->v_off, depth + 1);
    case K_ARR: {
        const arr_field *f = (const arr_field *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->count > STEPARC_MAX_KEYS || (f->items == NULL && f->count))
            return efail(e, STEPARC_E_ARG);
        if (msgpack_pack_array(&e->pk, f->count))
            return efail(e, STEPARC_E_NOMEM);
        for (size_t i = 0; i < f->count; i++)
            if (pack_obj(e, fd->sub, (const char *)f->items + i * fd->sub->size, depth + 2))
                return e->status;
        return 0;
    }
    case K_BOOL: {
        const steparc_opt_bool *f = (const steparc_opt_bool *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        int rc = f->v ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk);
        return rc ? efail(e, STEPARC_E_NOMEM) : 0;
    }
    case K_STRS: {
        const steparc_opt_strs *f = (const steparc_opt_strs *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->count > STEPARC_MAX_KEYS || (f->items == NULL && f->count))
            return efail(e, STEPARC_E_ARG);
        if (msgpack_pack_array(&e->pk, f->count))
            return efail(e, STEPARC_E_NOMEM);
        for (size_t i = 0; i < f->count; i++)
            if (pack_str(e, f->items[i].ptr, f->items[i].len))
                return e->status;
        return 0;
    }
    }
    return efail(e, STEPARC_E_ARG);
}

/* Writes an object: the slots of `order` first, then any present field or
 * extra that order does not mention (so a struct edited after decoding never
 * loses what was added), in the API's order. */
static int pack_obj(ectx *e, const sa_objdesc *od, const void *obj, int depth)
{
    const steparc_extras *ex = (const steparc_extras *)((const char *)obj + od->extra_off);
    const steparc_keyorder *ko = (const steparc_keyorder *)((const char *)obj + od->order_off);
    if (depth > STEPARC_MAX_DEPTH)
        return efail(e, STEPARC_E_LIMIT);
    if ((ex->items == NULL && ex->count) || (ko->slots == NULL && ko->count) ||
        ex->count >= STEPARC_SLOT_EXTRA)
        return efail(e, STEPARC_E_ARG);
    unsigned char ex_small[64];
    unsigned char *ex_seen = ex->count <= sizeof ex_small ? ex_small : (unsigned char *)sa_calloc(ex->count, 1);
    if (ex_seen == NULL)
        return efail(e, STEPARC_E_NOMEM);
    memset(ex_seen, 0, ex->count <= sizeof ex_small ? sizeof ex_small : 0);
    uint64_t f_seen = 0;
    size_t n = 0;
    /* pass 1: count and check the slots */
    for (size_t i = 0; i < ko->count && e->status == 0; i++) {
        unsigned s = ko->slots[i];
        if (s >= STEPARC_SLOT_EXTRA) {
            size_t x = s - STEPARC_SLOT_EXTRA;
            if (x >= ex->count || ex_seen[x])
                efail(e, STEPARC_E_ARG);
            else {
                ex_seen[x] = 1;
                n++;
            }
        } else if ((int)s >= od->nf || (f_seen & (UINT64_C(1) << s))) {
            efail(e, STEPARC_E_ARG);
        } else {
            f_seen |= UINT64_C(1) << s;
            if (field_state(&od->f[s], obj) != STEPARC_ABSENT)
                n++;
        }
    }
    for (int k = 0; k < od->nf; k++)
        if (!(f_seen & (UINT64_C(1) << k)) && field_state(&od->f[k], obj) != STEPARC_ABSENT)
            n++;
    for (size_t x = 0; x < ex->count; x++)
        if (!ex_seen[x])
            n++;
    if (e->status == 0 && n > STEPARC_MAX_KEYS)
        efail(e, STEPARC_E_LIMIT);
    if (e->status == 0 && msgpack_pack_map(&e->pk, n))
        efail(e, STEPARC_E_NOMEM);
    /* pass 2: write */
    for (size_t i = 0; i < ko->count && e->status == 0; i++) {
        unsigned s = ko->slots[i];
        if (s >= STEPARC_SLOT_EXTRA) {
            const steparc_member *m = &ex->items[s - STEPARC_SLOT_EXTRA];
            if (pack_str(e, m->key.ptr, m->key.len) == 0)
                pack_value(e, &m->value, depth + 1);
        } else if (field_state(&od->f[s], obj) != STEPARC_ABSENT) {
            pack_field(e, &od->f[s], obj, depth);
        }
    }
    for (int k = 0; k < od->nf && e->status == 0; k++)
        if (!(f_seen & (UINT64_C(1) << k)) && field_state(&od->f[k], obj) != STEPARC_ABSENT)
            pack_field(e, &od->f[k], obj, depth);
    for (size_t x = 0; x < ex->count && e->status == 0; x++)
        if (!ex_seen[x]) {
            const steparc_member *m = &ex->items[x];
            if (pack_str(e, m->key.ptr, m->key.len) == 0)
                pack_value(e, &m->value, depth + 1);
        }
    if (ex_seen != ex_small)
        sa_free(ex_seen);
    return e->status;
}

/* ---- entry points ---------------------------------------------------------------- */

int sa_typed_decode(void **out, const sa_objdesc *od, size_t internal_off, const void *mp,
                    size_t len)
{
    if (out == NULL || (mp == NULL && len > 0))
        return STEPARC_E_ARG;
    *out = NULL;
    if (len > STEPARC_MAX_RECORD_SIZE)
        return STEPARC_E_LIMIT;
    dctx d;
    memset(&d, 0, sizeof d);
    char *copy = (char *)arena_alloc(&d.a, len);
    char *obj = (char *)arena_alloc(&d.a, od->size);
    steparc_value *root = (steparc_value *)arena_alloc(&d.a, sizeof *root);
    if (copy == NULL || obj == NULL || root == NULL) {
        arena_free(&d.a);
        return STEPARC_E_NOMEM;
    }
    if (len)
        memcpy(copy, mp, len);
    memset(obj, 0, od->size);
    sa_mpr r = {(const unsigned char *)copy, (const unsigned char *)copy + len};
    if (build(&d, &r, root, 0) == 0 && r.p != r.end)
        d.status = STEPARC_E_INPUT;
    if (d.status == 0 && root->type != STEPARC_V_OBJECT)
        d.status = STEPARC_E_INPUT;
    if (d.status == 0)
        bind_obj(&d, od, obj, root);
    if (d.status != 0) {
        arena_free(&d.a);
        return d.status;
    }
    /* the arena header itself lives in the arena's own first chunk list */
    arena *keep = (arena *)arena_alloc(&d.a, sizeof(arena));
    if (keep == NULL) {
        arena_free(&d.a);
        return STEPARC_E_NOMEM;
    }
    *keep = d.a;
    memcpy(obj + internal_off, &keep, sizeof keep);
    *out = obj;
    return 0;
}

void sa_typed_free(void *internal)
{
    if (internal == NULL)
        return;
    arena a = *(arena *)internal;
    arena_free(&a);
}

int sa_typed_encode(const sa_objdesc *od, const void *obj, steparc_buf *out)
{
    if (obj == NULL || out == NULL)
        return STEPARC_E_ARG;
    ectx e;
    e.status = 0;
    out->len = 0;
    msgpack_packer_init(&e.pk, out, sink);
    pack_obj(&e, od, obj, 0);
    if (e.status == 0 && out->len > STEPARC_MAX_RECORD_SIZE)
        e.status = STEPARC_E_LIMIT;
    if (e.status == 0) {
        /* extras may repeat a known key: that would be a duplicate */
        char why[8];
        int rc = sa_mp_validate(out->data, out->len, why, sizeof why);
        if (rc != 0)
            e.status = rc == STEPARC_E_INPUT ? STEPARC_E_ARG : rc;
    }
    if (e.status != 0)
        out->len = 0;
    return e.status;
}

int sa_typed_to_json(const sa_objdesc *od, const void *obj, unsigned flags, steparc_buf *out)
{
    if (obj == NULL || out == NULL)
        return STEPARC_E_ARG;
    steparc_buf mp = {0};
    int rc = sa_typed_encode(od, obj, &mp);
    if (rc == 0) {
        if (!(flags & STEPARC_JSON_APPEND))
            out->len = 0;
        rc = sa_json_append(mp.data, mp.len, flags, out);
    }
    steparc_buf_free(&mp);
    return rc;
}

/* ---- record kinds ------------------------------------------------------------------- */

static const char *const kind_objects[] = SA_KIND_OBJECTS;
static const char *const kind_names[] = {"other", "step", "message", "run", "thread",
                                         "assistant", "file", "vector_store",
                                         "vector_store_file"};

const char *steparc_kind_name(int kind)
{
    return kind > 0 && kind < STEPARC_KINDS ? kind_names[kind] : kind_names[0];
}

static int str_eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

int steparc_kind_of_object(const char *object, size_t len)
{
    if (object == NULL)
        return STEPARC_KIND_OTHER;
    for (int k = 1; k < STEPARC_KINDS; k++)
        if (str_eq(object, len, kind_objects[k]) || str_eq(object, len, kind_names[k]))
            return k;
    /* steps of clients generated from the 2023-11-06 spec */
    if (str_eq(object, len, "assistant.run.step"))
        return STEPARC_KIND_STEP;
    return STEPARC_KIND_OTHER;
}

int steparc_record_kind(int *kind, const void *mp, size_t len)
{
    if (kind == NULL || (mp == NULL && len > 0))
        return STEPARC_E_ARG;
    *kind = STEPARC_KIND_OTHER;
    sa_keyfields kf;
    if (len == 0 || sa_mp_keyfields(mp, len, &kf) != 0)
        return STEPARC_E_INPUT;
    if (kf.object.ptr != NULL)
        *kind = steparc_kind_of_object(kf.object.ptr, kf.object.len);
    return 0;
}
