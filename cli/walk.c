/* walk.c - the id map and record lookups of walk.h. */
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>

#include "cli.h"

#include "walk.h"

static uint64_t hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211u;
    return h;
}

long cli_idm_find(const cli_idmap *m, const char *key, size_t len)
{
    if (m->nslot == 0)
        return -1;
    size_t mask = m->nslot - 1;
    for (size_t i = (size_t)hash(key, len) & mask;; i = (i + 1) & mask) {
        uint32_t s = m->slot[i];
        if (s == 0)
            return -1;
        const cli_idm_entry *e = &m->e[s - 1];
        if (e->len == len && memcmp(e->key, key, len) == 0)
            return (long)(s - 1);
    }
}

static int grow_slots(cli_idmap *m)
{
    size_t ns = m->nslot ? m->nslot * 2 : 64;
    uint32_t *slot = calloc(ns, sizeof *slot);
    if (slot == NULL)
        return -1;
    for (size_t k = 0; k < m->n; k++) {
        size_t i = (size_t)hash(m->e[k].key, m->e[k].len) & (ns - 1);
        while (slot[i])
            i = (i + 1) & (ns - 1);
        slot[i] = (uint32_t)(k + 1);
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = ns;
    return 0;
}

long cli_idm_put(cli_idmap *m, const char *key, size_t len)
{
    long f = cli_idm_find(m, key, len);
    if (f >= 0)
        return f;
    if (m->n >= UINT32_MAX - 1)
        return -1;
    if ((m->n + 1) * 2 > m->nslot && grow_slots(m))
        return -1;
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 16;
        cli_idm_entry *e = realloc(m->e, nc * sizeof *e);
        if (e == NULL)
            return -1;
        m->e = e;
        m->cap = nc;
    }
    char *k = malloc(len + 1);
    if (k == NULL)
        return -1;
    if (len)
        memcpy(k, key, len);
    k[len] = 0;
    m->e[m->n] = (cli_idm_entry){k, len, 0};
    size_t mask = m->nslot - 1;
    size_t i = (size_t)hash(key, len) & mask;
    while (m->slot[i])
        i = (i + 1) & mask;
    m->slot[i] = (uint32_t)(m->n + 1);
    return (long)m->n++;
}

void cli_idm_free(cli_idmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].key);
    free(m->e);
    free(m->slot);
    memset(m, 0, sizeof *m);
}

static const cli_idmap *g_sort_map; /* qsort has no context argument in C11 */

static int by_key(const void *a, const void *b)
{
    const cli_idm_entry *x = &g_sort_map->e[*(const size_t *)a];
    const cli_idm_entry *y = &g_sort_map->e[*(const size_t *)b];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->key, y->key, n) : 0;
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

size_t *cli_idm_sorted(const cli_idmap *m)
{
    size_t *ix = malloc((m->n ? m->n : 1) * sizeof *ix);
    if (ix == NULL)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        ix[i] = i;
    g_sort_map = m;
    if (m->n > 1)
        qsort(ix, m->n, sizeof *ix, by_key);
    return ix;
}

const msgpack_object *cli_mp_get(const msgpack_object *o, const char *key)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            memcmp(k->via.str.ptr, key, kl) == 0)
            return &o->via.map.ptr[i].val;
    }
    return NULL;
}

int cli_mp_str(const msgpack_object *o, const char **p, size_t *n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return 0;
    *p = o->via.str.ptr;
    *n = o->via.str.size;
    return 1;
}

int cli_mp_int(const msgpack_object *o, int64_t *v)
{
    if (o == NULL)
        return 0;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return 1;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return 1;
    }
    return 0;
}

int cli_mp_array(const msgpack_object *o, const msgpack_object **items, size_t *n)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    *items = o->via.array.ptr;
    *n = o->via.array.size;
    return 1;
}

int cli_mp_is(const msgpack_object *o, const char *s)
{
    const char *p;
    size_t n;
    return cli_mp_str(o, &p, &n) && n == strlen(s) && memcmp(p, s, n) == 0;
}

int cli_walk_archive(steparc_reader *r, const char *cmd, cli_walk_fn fn, void *ctx)
{
    int status = 0;
    steparc_cursor *c = NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = steparc_cursor_open(&c, r, NULL);
    while (rc == 0) {
        uint64_t ord;
        const void *mp;
        size_t len, off = 0;
        rc = steparc_cursor_next(&ord, &mp, &len, c);
        if (rc)
            break;
        int kind = STEPARC_KIND_OTHER;
        if (steparc_record_kind(&kind, mp, len) != 0 ||
            msgpack_unpack_next(&up, mp, len, &off) != MSGPACK_UNPACK_SUCCESS) {
            cli_msg("%s: record %" PRIu64 " cannot be decoded", cmd, ord);
            status = EXIT_BAD;
            break;
        }
        if (fn(ctx, kind, &up.data)) {
            cli_msg("%s: out of memory", cmd);
            status = EXIT_BAD;
            break;
        }
    }
    if (rc != STEPARC_END && status == 0) {
        cli_msg("%s: %s", cmd, c ? steparc_cursor_errmsg(c) : steparc_reader_errmsg(r));
        status = EXIT_BAD;
    }
    msgpack_unpacked_destroy(&up);
    steparc_cursor_close(c);
    return status;
}
