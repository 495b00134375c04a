/* delta.c - rebuild a run step or a message from its last full object and
 * the thread.run.step.delta / thread.message.delta events that followed it,
 * for event streams cut before the object's final event.
 *
 * Works on a generic value tree: a delta is merged key by key into the
 * object: objects merge recursively; arrays whose items carry "index"
 * (tool_calls, outputs, message content parts, annotations) merge item by
 * item at that index, in any order; other arrays append; the text fields
 * that stream in pieces (arguments, input, logs, value, refusal) concatenate;
 * any other value, integers included, replaces the old one (the SDKs' generic
 * merge adds numbers: a restated start_index would be summed). The "index"
 * keys stay on the items while deltas come (later deltas find their item by
 * it) and sa_tree_drop_index removes them before the object is encoded. */
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
    return key_is(k, "arguments") || key_is(k, "input") || key_is(k, "logs") ||
           key_is(k, "value") || key_is(k, "refusal");
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
/* The position an array item stands for: its "index" when it has one (a
 * delta's item, not yet rebuilt), else where it is (a snapshot's item). */
static int64_t item_pos(const steparc_value *item, size_t at)
{
    int64_t idx;
    return index_of(item, &idx) ? idx : (int64_t)at;
}

/* Inserts (a shallow copy of) item at position at of array base. */
static int insert_item(sa_tree *t, steparc_value *base, size_t at, const steparc_value *item)
{
    size_t n = base->v.array.count;
    steparc_value *a = (steparc_value *)talloc(t, (n + 1) * sizeof *a);
    if (a == NULL)
        return STEPARC_E_NOMEM;
    if (at)
        memcpy(a, base->v.array.items, at * sizeof *a);
    a[at] = *item;
    if (n > at)
        memcpy(a + at + 1, base->v.array.items + at, (n - at) * sizeof *a);
    base->v.array.items = a;
    base->v.array.count = n + 1;
    return 0;
}

static int merge_array(sa_tree *t, steparc_value *base, const steparc_value *d, int depth)
{
    for (size_t i = 0; i < d->v.array.count; i++) {
        const steparc_value *item = &d->v.array.items[i];
        int64_t idx;
        size_t n = base->v.array.count;
        if (!index_of(item, &idx)) {
            int rc = insert_item(t, base, n, item); /* no index: appended */
            if (rc)
                return rc;
            continue;
        }
        /* the item at that index, else where it goes to keep the indexes in
         * order (deltas may come out of order) */
        size_t at = n;
        steparc_value *hit = NULL;
        for (size_t k = 0; k < n && hit == NULL; k++) {
            int64_t p = item_pos(&base->v.array.items[k], k);
            if (p == idx)
                hit = &base->v.array.items[k];
            else if (p > idx && at == n)
                at = k;
        }
        int rc = hit ? merge(t, hit, item, depth + 1) : insert_item(t, base, at, item);
        if (rc)
            return rc;
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

static int drop_index(steparc_value *v, int in_array, int depth)
{
    if (depth > 2 * STEPARC_MAX_DEPTH)
        return STEPARC_E_LIMIT;
    if (v->type == STEPARC_V_ARRAY) {
        for (size_t i = 0; i < v->v.array.count; i++) {
            int rc = drop_index(&v->v.array.items[i], 1, depth + 1);
            if (rc)
                return rc;
        }
    } else if (v->type == STEPARC_V_OBJECT) {
        size_t n = 0;
        for (size_t i = 0; i < v->v.object.count; i++) {
            steparc_member *m = &v->v.object.items[i];
            if (in_array && key_is(m->key, "index"))
                continue;
            int rc = drop_index(&m->value, 0, depth + 1);
            if (rc)
                return rc;
            v->v.object.items[n++] = *m;
        }
        v->v.object.count = n;
    }
    return 0;
}

int sa_tree_drop_index(sa_tree *t)
{
    return drop_index(&t->root, 0, 0);
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
