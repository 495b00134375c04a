/* delta.c - rebuild a run step from its last full object and the
 * thread.run.step.delta events that followed it, for event streams cut before
 * the step's final object.
 *
 * Works on a generic value tree: a delta is merged key by key into the step:
 * objects merge recursively; arrays whose items carry "index" (tool_calls,
 * outputs) merge item by item at that index; other arrays append; the text
 * fields that stream in pieces (arguments, input, logs) concatenate; any
 * other value replaces the old one. */
#include <stdlib.h>

#include "delta.h"

/* A tree and everything merged into it live in one arena (value.c), freed
 * with the tree. Small chunks: a stream keeps every delta's tree alive until
 * its step is rebuilt. */
#define TREE_CHUNK 2048

struct sa_tree {
    steparc_value root;
    sa_arena a;
};

static void *talloc(sa_tree *t, size_t n)
{
    return sa_arena_alloc(&t->a, n);
}

void sa_tree_free(sa_tree *t)
{
    if (t == NULL)
        return;
    sa_arena_free(&t->a);
    sa_free(t);
}

int sa_tree_from_mp(sa_tree **out, const void *mp, size_t len)
{
    sa_tree *t = (sa_tree *)sa_calloc(1, sizeof *t);
    *out = NULL;
    if (t == NULL)
        return STEPARC_E_NOMEM;
    t->a.chunk = TREE_CHUNK;
    steparc_value *root = NULL;
    int rc = sa_value_decode(&root, &t->a, mp, len);
    if (rc) {
        sa_tree_free(t);
        return rc;
    }
    t->root = *root;
    *out = t;
    return 0;
}

const steparc_value *sa_tree_root(const sa_tree *t)
{
    return &t->root;
}

static int key_is(steparc_str k, const char *lit)
{
    size_t n = strlen(lit);
    return k.len == n && memcmp(k.ptr, lit, n) == 0;
}

/* Adds (key, value) to an object, growing its member array. */
static steparc_value *add_member(sa_tree *t, steparc_value *obj, steparc_str key)
{
    return sa_value_add_member(&t->a, obj, key);
}

static int concat_field(steparc_str k)
{
    return key_is(k, "arguments") || key_is(k, "input") || key_is(k, "logs");
}

static int index_of(const steparc_value *item, int64_t *idx)
{
    const steparc_value *i = sa_value_get(item, "index");
    if (i == NULL || i->type != STEPARC_V_INT || i->v.i < 0 || i->v.i > 4096)
        return 0;
    *idx = i->v.i;
    return 1;
}

static int merge(sa_tree *t, steparc_value *base, const steparc_value *d, int depth);

/* A copy of v without its "index" key (items in final objects have none). */
static int copy_without_index(sa_tree *t, steparc_value *dst, const steparc_value *v)
{
    *dst = *v;
    if (v->type != STEPARC_V_OBJECT)
        return 0;
    steparc_member *m = (steparc_member *)talloc(t, v->v.object.count * sizeof *m);
    if (m == NULL)
        return STEPARC_E_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < v->v.object.count; i++)
        if (!key_is(v->v.object.items[i].key, "index"))
            m[n++] = v->v.object.items[i];
    dst->v.object.items = m;
    dst->v.object.count = n;
    return 0;
}

static int merge_array(sa_tree *t, steparc_value *base, const steparc_value *d, int depth)
{
    for (size_t i = 0; i < d->v.array.count; i++) {
        const steparc_value *item = &d->v.array.items[i];
        int64_t idx;
        size_t n = base->v.array.count;
        if (index_of(item, &idx) && (size_t)idx < n) {
            int rc = merge(t, &base->v.array.items[idx], item, depth + 1);
            if (rc)
                return rc;
            continue;
        }
        /* a new item (at the end: streams send indexes in order) */
        steparc_value *a = (steparc_value *)talloc(t, (n + 1) * sizeof *a);
        if (a == NULL)
            return STEPARC_E_NOMEM;
        if (n)
            memcpy(a, base->v.array.items, n * sizeof *a);
        int rc = copy_without_index(t, &a[n], item);
        if (rc)
            return rc;
        base->v.array.items = a;
        base->v.array.count = n + 1;
    }
    return 0;
}

static int merge(sa_tree *t, steparc_value *base, const steparc_value *d, int depth)
{
    if (depth > STEPARC_MAX_DEPTH)
        return STEPARC_E_LIMIT;
    if (base->type != STEPARC_V_OBJECT || d->type != STEPARC_V_OBJECT) {
        *base = *d;
        return 0;
    }
    for (size_t i = 0; i < d->v.object.count; i++) {
        const steparc_member *m = &d->v.object.items[i];
        if (key_is(m->key, "index"))
            continue;
        steparc_value *b = NULL;
        for (size_t k = 0; k < base->v.object.count; k++)
            if (base->v.object.items[k].key.len == m->key.len &&
                memcmp(base->v.object.items[k].key.ptr, m->key.ptr, m->key.len) == 0)
                b = &base->v.object.items[k].value;
        if (b == NULL) {
            b = add_member(t, base, m->key);
            if (b == NULL)
                return STEPARC_E_NOMEM;
            int rc = m->value.type == STEPARC_V_ARRAY ? (b->type = STEPARC_V_ARRAY,
                                                         b->v.array.count = 0,
                                                         b->v.array.items = NULL,
                                                         merge_array(t, b, &m->value, depth + 1))
                                                      : (*b = m->value, 0);
            if (rc)
                return rc;
            continue;
        }
        int rc = 0;
        if (b->type == STEPARC_V_OBJECT && m->value.type == STEPARC_V_OBJECT)
            rc = merge(t, b, &m->value, depth + 1);
        else if (b->type == STEPARC_V_ARRAY && m->value.type == STEPARC_V_ARRAY)
            rc = merge_array(t, b, &m->value, depth + 1);
        else if (b->type == STEPARC_V_STRING && m->value.type == STEPARC_V_STRING &&
                 concat_field(m->key)) {
            size_t n = b->v.s.len + m->value.v.s.len;
            char *s = (char *)talloc(t, n);
            if (s == NULL)
                return STEPARC_E_NOMEM;
            memcpy(s, b->v.s.ptr, b->v.s.len);
            memcpy(s + b->v.s.len, m->value.v.s.ptr, m->value.v.s.len);
            b->v.s.ptr = s;
            b->v.s.len = n;
        } else if (m->value.type != STEPARC_V_NULL || b->type == STEPARC_V_NULL) {
            *b = m->value; /* null never erases what a chunk already sent */
        }
        if (rc)
            return rc;
    }
    return 0;
}

int sa_tree_merge(sa_tree *base, const sa_tree *delta, const steparc_value *dv)
{
    (void)delta; /* dv points into delta, which must outlive base's use of it */
    return merge(base, &base->root, dv, 0);
}

/* The root as a record: the bytes and the checks of a step encoded with only
 * extras (the encoder's generic path), written directly. */
int sa_tree_to_mp(const sa_tree *t, steparc_buf *out)
{
    out->len = 0;
    if (t->root.type != STEPARC_V_OBJECT)
        return STEPARC_E_INPUT;
    if (t->root.v.object.count >= STEPARC_SLOT_EXTRA)
        return STEPARC_E_ARG; /* as many extras as a struct's key order can slot */
    int rc = sa_mpw_value(out, &t->root, 0);
    if (rc == 0 && out->len > STEPARC_MAX_RECORD_SIZE)
        rc = STEPARC_E_LIMIT;
    if (rc == 0) {
        char why[8];
        rc = sa_mp_validate(out->data, out->len, why, sizeof why);
        if (rc == STEPARC_E_INPUT)
            rc = STEPARC_E_ARG; /* a duplicate key: as the encoder says it */
    }
    if (rc != 0)
        out->len = 0;
    return rc;
}
