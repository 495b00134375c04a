/* typed.c - the engine of the typed record views: MessagePack record <->
 * typed struct, for every kind, driven by the sa_objdesc tables (typed.h).
 *
 * Decoding builds a generic value tree first (value.c's decoder, in an arena
 * owned by the struct), then binds the known fields of each object through a table that
 * gives, per object type, each field's name, kind and offset. Everything the
 * table does not know stays in the object's extras, and the key order is kept
 * in `order`, so encoding the struct again gives back the same bytes. */
#include <assert.h>
#include <stddef.h>

#include "typed.h"
#include "value.h"

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

/* ---- decode: bind typed fields (the tree comes from value.c) ---------------- */

typedef struct {
    sa_arena a;
    int status;
} dctx;

static int bind_obj(dctx *d, const sa_objdesc *od, void *obj, const steparc_value *v);

/* What the array fields share: NULL for null; SET when v is an array whose
 * items all have type item, with *count items of item_size bytes allocated
 * (zeroed) and returned; OTHER, v kept whole in *other, for anything else
 * (an array holding another type included). Returns NULL but for SET, and
 * then on a failed allocation (d->status is STEPARC_E_NOMEM). */
static void *bind_array(dctx *d, steparc_presence *state, size_t *count,
                        const steparc_value **other, const steparc_value *v, steparc_vtype item,
                        size_t item_size)
{
    if (v->type == STEPARC_V_NULL) {
        *state = STEPARC_NULL;
        return NULL;
    }
    int ok = v->type == STEPARC_V_ARRAY;
    for (size_t i = 0; ok && i < v->v.array.count; i++)
        ok = v->v.array.items[i].type == item;
    if (!ok) {
        *state = STEPARC_OTHER;
        *other = v;
        return NULL;
    }
    *state = STEPARC_SET;
    *count = v->v.array.count;
    void *items = sa_arena_alloc(&d->a, *count * item_size);
    if (items == NULL)
        d->status = STEPARC_E_NOMEM;
    else
        memset(items, 0, *count * item_size);
    return items;
}

/* An array of strings (see bind_array). */
static int bind_strs(dctx *d, steparc_opt_strs *f, const steparc_value *v)
{
    f->items = (steparc_str *)bind_array(d, &f->state, &f->count, &f->other, v, STEPARC_V_STRING,
                                         sizeof(steparc_str));
    if (f->state != STEPARC_SET)
        return 0;
    if (f->items == NULL)
        return d->status;
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

/* The state of a scalar field holding v: NULL, SET when v has the field's
 * type, else OTHER with v kept whole in *other (mistyped values survive). */
static steparc_presence scalar_state(const steparc_value *v, steparc_vtype want,
                                     const steparc_value **other)
{
    if (v->type == STEPARC_V_NULL)
        return STEPARC_NULL;
    if (v->type == want)
        return STEPARC_SET;
    *other = v;
    return STEPARC_OTHER;
}

/* Binds member value v to field fd of obj. Returns 0, or <0 on error. */
static int bind_field(dctx *d, const sa_fielddesc *fd, void *obj, const steparc_value *v)
{
    char *field = (char *)obj + fd->off;
    int is_null = v->type == STEPARC_V_NULL;
    switch (fd->k) {
    case K_STR: {
        steparc_opt_str *f = (steparc_opt_str *)field;
        if ((f->state = scalar_state(v, STEPARC_V_STRING, &f->other)) == STEPARC_SET)
            f->v = v->v.s;
        return 0;
    }
    case K_ENUM: {
        steparc_opt_enum *f = (steparc_opt_enum *)field;
        if ((f->state = scalar_state(v, STEPARC_V_STRING, &f->other)) == STEPARC_SET) {
            f->v = v->v.s;
            f->code = enum_code(fd, v->v.s);
        }
        return 0;
    }
    case K_INT: {
        steparc_opt_int *f = (steparc_opt_int *)field;
        if ((f->state = scalar_state(v, STEPARC_V_INT, &f->other)) == STEPARC_SET)
            f->v = v->v.i;
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
        f->items = bind_array(d, &f->state, &f->count, &f->other, v, STEPARC_V_OBJECT, fd->sub->size);
        if (f->state != STEPARC_SET)
            return 0;
        if (f->items == NULL)
            return d->status;
        for (size_t i = 0; i < f->count; i++)
            if (bind_obj(d, fd->sub, (char *)f->items + i * fd->sub->size, &v->v.array.items[i]))
                return d->status;
        return 0;
    }
    case K_BOOL: {
        steparc_opt_bool *f = (steparc_opt_bool *)field;
        if ((f->state = scalar_state(v, STEPARC_V_BOOL, &f->other)) == STEPARC_SET)
            f->v = v->v.b;
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
    ko->slots = (uint16_t *)sa_arena_alloc(&d->a, n * sizeof(uint16_t));
    ex->items = (steparc_member *)sa_arena_alloc(&d->a, n * sizeof(steparc_member));
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

/* The struct writer over value.c's: e->status keeps the first error (pack_obj
 * goes on counting after one, and the writes after an error are skipped). */
typedef struct {
    steparc_buf *out;
    int status;
} ectx;

static int efail(ectx *e, int status)
{
    if (e->status == 0)
        e->status = status;
    return e->status;
}

/* A writer call's status (0 or STEPARC_E_NOMEM) into e. */
static int ew(ectx *e, int rc)
{
    return rc ? efail(e, rc) : 0;
}

static int pack_str(ectx *e, const char *p, size_t n)
{
    return ew(e, sa_mpw_text(e->out, p, n));
}

static int pack_value(ectx *e, const steparc_value *v, int depth)
{
    return ew(e, sa_mpw_value(e->out, v, depth));
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
        return ew(e, sa_mpw_nil(e->out));
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
        return ew(e, sa_mpw_int(e->out, f->v));
    }
    case K_NUM: {
        const steparc_opt_num *f = (const steparc_opt_num *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->is_int)
            return ew(e, sa_mpw_int(e->out, f->i));
        if (f->f != f->f || f->f - f->f != 0.0)
            return efail(e, STEPARC_E_ARG);
        return ew(e, sa_mpw_double(e->out, f->f));
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
        if (sa_mpw_array(e->out, (uint32_t)f->count))
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
        return ew(e, sa_mpw_bool(e->out, f->v));
    }
    case K_STRS: {
        const steparc_opt_strs *f = (const steparc_opt_strs *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->count > STEPARC_MAX_KEYS || (f->items == NULL && f->count))
            return efail(e, STEPARC_E_ARG);
        if (sa_mpw_array(e->out, (uint32_t)f->count))
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
    if (e->status == 0 && sa_mpw_map(e->out, (uint32_t)n))
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
    steparc_value *root = NULL;
    char *obj = NULL;
    d.status = sa_value_decode(&root, &d.a, mp, len);
    if (d.status == 0 && root->type != STEPARC_V_OBJECT)
        d.status = STEPARC_E_INPUT;
    if (d.status == 0 && (obj = (char *)sa_arena_alloc(&d.a, od->size)) == NULL)
        d.status = STEPARC_E_NOMEM;
    if (d.status == 0) {
        memset(obj, 0, od->size);
        bind_obj(&d, od, obj, root);
    }
    if (d.status != 0) {
        sa_arena_free(&d.a);
        return d.status;
    }
    /* the arena header itself lives in the arena's own first chunk list */
    sa_arena *keep = (sa_arena *)sa_arena_alloc(&d.a, sizeof(sa_arena));
    if (keep == NULL) {
        sa_arena_free(&d.a);
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
    sa_arena a = *(sa_arena *)internal;
    sa_arena_free(&a);
}

int sa_typed_encode(const sa_objdesc *od, const void *obj, steparc_buf *out)
{
    if (obj == NULL || out == NULL)
        return STEPARC_E_ARG;
    ectx e;
    e.out = out;
    e.status = 0;
    out->len = 0;
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

/* ---- a record through the view of its kind ------------------------------------ */

/* Steps and the kinds without a view of their own (files, vector stores,
 * others) go through the step's: any record decodes into its extras. */
static const sa_view *view_of(const void *mp, size_t len)
{
    int kind = STEPARC_KIND_OTHER;
    (void)steparc_record_kind(&kind, mp, len); /* a non-map fails in decode */
    switch (kind) {
    case STEPARC_KIND_MESSAGE: return &sa_view_message;
    case STEPARC_KIND_RUN: return &sa_view_run;
    case STEPARC_KIND_THREAD: return &sa_view_thread;
    case STEPARC_KIND_ASSISTANT: return &sa_view_assistant;
    default: return &sa_view_step;
    }
}

/* Decodes mp into its view, then JSON (json != 0, with flags) or MessagePack
 * into out. */
static int via_view(steparc_buf *out, const void *mp, size_t len, int json, unsigned flags)
{
    if (out == NULL)
        return STEPARC_E_ARG;
    const sa_view *v = view_of(mp, len);
    void *obj = NULL;
    int rc = sa_typed_decode(&obj, v->desc, v->internal_off, mp, len);
    if (rc == 0)
        rc = json ? sa_typed_to_json(v->desc, obj, flags, out) : sa_typed_encode(v->desc, obj, out);
    if (obj != NULL)
        sa_typed_free(*(void **)((char *)obj + v->internal_off));
    return rc;
}

int steparc_view_to_json(steparc_buf *out, const void *mp, size_t len, unsigned flags)
{
    return via_view(out, mp, len, 1, flags);
}

int steparc_view_encode(steparc_buf *out, const void *mp, size_t len)
{
    return via_view(out, mp, len, 0, 0);
}
