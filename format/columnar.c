/* columnar.c - block layout 1 (docs/FORMAT.md 5.5).
 *
 * A record is split into a skeleton (its structure: map and array headers,
 * keys, nil/bool, and any value kept verbatim) and values taken out into
 * streams, one per key path and value kind: integers as zigzag varints
 * (delta-coded for keys ending in "_at"), float64 bits, strings as
 * per-block dictionary codes plus new strings (id-like strings without
 * their "xxx_" prefix). Identical skeletons are stored once per block.
 * Records are rebuilt byte for byte: a value whose encoding is not the
 * canonical one a stream re-creates stays in the skeleton as a literal. */
#include <stdlib.h>

#include "columnar.h"
#include "record.h"

enum { K_INT = 1, K_DELTA = 2, K_F64 = 3, K_STR = 4 };
#define NONE UINT32_MAX
#define DEDUP_PROBE 32u /* strings looked up before a stream without repeats stops */
#define DEDUP_MAX 64u   /* longer strings are not looked up: zstd finds their repeats */
#define MAX_PREFIX 16u
#define MAX_STREAMS 65535u          /* FORMAT.md 5.5 limits: the writer falls back to rows */
#define MAX_SKELETON_BYTES (4u << 20)
#define SLACK 64u   /* decoder output slack: fixed-size copies of up to 32 bytes */

/* ---- shared helpers -------------------------------------------------------- */

/* A fast 64-bit hash for the dedup and intern tables only (not stored):
 * four independent lanes over 32-byte steps for skeletons (a few hundred
 * bytes per record), then 8 bytes per step. */
static uint64_t fhash(const unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ULL);
    if (n >= 32) {
        uint64_t l[4] = {h, h ^ 0x243F6A8885A308D3ULL, h ^ 0x13198A2E03707344ULL,
                         h ^ 0xA4093822299F31D0ULL};
        do {
            for (int k = 0; k < 4; k++) {
                uint64_t w;
                memcpy(&w, p + 8 * k, 8);
                l[k] = (l[k] ^ w) * 0xff51afd7ed558ccdULL;
                l[k] ^= l[k] >> 32;
            }
            p += 32;
            n -= 32;
        } while (n >= 32);
        h = l[0] ^ ((l[1] << 17) | (l[1] >> 47)) ^ ((l[2] << 31) | (l[2] >> 33)) ^
            ((l[3] << 47) | (l[3] >> 17));
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    return h;
}

/* a[0..n) == b[0..n) for the short keys and ids compared per value: an
 * inline word loop instead of a call to memcmp. */
static inline int same(const void *a, const void *b, size_t n)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (n >= 8) {
        uint64_t u, v;
        memcpy(&u, x, 8);
        memcpy(&v, y, 8);
        if (u != v)
            return 0;
        x += 8;
        y += 8;
        n -= 8;
    }
    if (n >= 4) {
        uint32_t u, v;
        memcpy(&u, x, 4);
        memcpy(&v, y, 4);
        if (u != v)
            return 0;
        memcpy(&u, x + n - 4, 4);
        memcpy(&v, y + n - 4, 4);
        return u == v;
    }
    while (n--)
        if (*x++ != *y++)
            return 0;
    return 1;
}

static inline uint64_t zigzag(uint64_t v) { return (v << 1) ^ (uint64_t)-(int64_t)(v >> 63); }
static inline uint64_t unzigzag(uint64_t z) { return (z >> 1) ^ (uint64_t)-(int64_t)(z & 1); }

/* ---- encoder ---------------------------------------------------------------- */

typedef struct {
    uint32_t parent, key_off, key_len; /* key_len NONE: the element node of an array */
    uint32_t elem;                     /* element child, or NONE */
    uint32_t st_int, st_f64, st_str;   /* streams (NONE when not yet used); st_str heads a list */
    uint32_t first_hint, next_hint;    /* the child met first / the sibling met after this node
                                        * last time: records of one shape skip the hash lookup */
    uint8_t is_at, is_id;
} cnode;

typedef struct {
    uint8_t kind;
    uint32_t prefix_off, prefix_len;   /* in keys (K_STR) */
    uint32_t next;                     /* next K_STR stream of the same node */
    uint64_t prev;                     /* K_DELTA */
    uint32_t ndistinct;
    uint32_t lookups, hits;            /* dedup lookups in this block, and how many found one */
    steparc_buf a, lens, bytes;        /* a: varints, float bits or string codes */
} cstream;

typedef struct { uint64_t h; uint32_t gen, val; } slot; /* val: index (node, skeleton, code) */

struct sa_colenc {
    cnode *nodes; uint32_t nnodes; size_t capnodes;
    cstream *st; uint32_t nst; size_t capst;
    steparc_buf keys;                  /* node keys and string prefixes of this block */
    slot *ntab; uint32_t ntcap;        /* (parent, key) -> node */
    struct dslot { const unsigned char *p; uint32_t len, stream, code, gen; uint64_t h; } *dtab;
    uint32_t dtcap, dtused;
    slot *stab; uint32_t stcap;        /* skeleton bytes -> skeleton */
    steparc_buf skel;                  /* all skeletons' op bytes */
    uint32_t *skoff; uint32_t nskel; size_t capskel;
    steparc_buf ops, lit, ids;         /* the record being encoded; skeleton ids */
    uint32_t gen;
};

sa_colenc *sa_colenc_new(void)
{
    return (sa_colenc *)sa_calloc(1, sizeof(sa_colenc));
}

void sa_colenc_free(sa_colenc *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->capst; i++) {
        steparc_buf_free(&e->st[i].a);
        steparc_buf_free(&e->st[i].lens);
        steparc_buf_free(&e->st[i].bytes);
    }
    sa_free(e->st);
    sa_free(e->nodes);
    steparc_buf_free(&e->keys);
    sa_free(e->ntab);
    sa_free(e->dtab);
    sa_free(e->stab);
    steparc_buf_free(&e->skel);
    sa_free(e->skoff);
    steparc_buf_free(&e->ops);
    steparc_buf_free(&e->lit);
    steparc_buf_free(&e->ids);
    sa_free(e);
}

static inline int put_varint(steparc_buf *b, uint64_t v)
{
    if (b->cap - b->len < 10 && sa_buf_reserve(b, 10) != 0)
        return STEPARC_E_NOMEM;
    unsigned char *o = (unsigned char *)b->data + b->len;
    size_t k = 0;
    while (v >= 0x80) {
        o[k++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    o[k++] = (unsigned char)v;
    b->len += k;
    return 0;
}

/* Grows an open-addressing table of generation-stamped slots to hold at
 * least `need` live entries at load <= 1/2. Entries of older generations are
 * dropped (they are dead). The caller re-inserts nothing: tables only grow
 * between blocks or when empty of the current generation is not required,
 * so grow() rehashes the live ones itself. */
static int grow_slots(slot **tab, uint32_t *cap, uint32_t need, uint32_t gen)
{
    if (*cap >= 2 * need && *cap)
        return 0;
    uint32_t nc = *cap ? *cap : 256;
    while (nc < 2 * need) {
        if (nc > (1u << 30))
            return STEPARC_E_NOMEM;
        nc *= 2;
    }
    slot *nt = (slot *)sa_calloc(nc, sizeof *nt);
    if (nt == NULL)
        return STEPARC_E_NOMEM;
    for (uint32_t i = 0; i < *cap; i++) {
        slot s = (*tab)[i];
        if (s.gen != gen)
            continue;
        uint32_t j = (uint32_t)s.h & (nc - 1);
        while (nt[j].gen == gen)
            j = (j + 1) & (nc - 1);
        nt[j] = s;
    }
    sa_free(*tab);
    *tab = nt;
    *cap = nc;
    return 0;
}

static int key_ends(const unsigned char *k, uint32_t n, const char *suf, uint32_t sn)
{
    return n >= sn && memcmp(k + n - sn, suf, sn) == 0;
}

/* The child of node `parent` for map key k (or the array element node when
 * k is NULL). Creates it on first use. NONE on allocation failure. */
static uint32_t child(sa_colenc *e, uint32_t parent, const unsigned char *k, uint32_t kn)
{
    if (k == NULL && parent != NONE && e->nodes[parent].elem != NONE)
        return e->nodes[parent].elem;
    uint64_t h = 0;
    if (k != NULL) {
        h = fhash(k, kn, (uint64_t)parent + 1);
        uint32_t mask = e->ntcap - 1;
        for (uint32_t j = (uint32_t)h & mask; e->ntab[j].gen == e->gen; j = (j + 1) & mask) {
            if (e->ntab[j].h != h)
                continue;
            cnode *c = &e->nodes[e->ntab[j].val];
            if (c->parent == parent && c->key_len == kn &&
                memcmp(e->keys.data + c->key_off, k, kn) == 0)
                return e->ntab[j].val;
        }
    }
    if (SA_GROW(e->nodes, e->capnodes, e->nnodes, 64) != 0)
        return NONE;
    if (grow_slots(&e->ntab, &e->ntcap, e->nnodes + 1, e->gen) != 0)
        return NONE;
    uint32_t id = e->nnodes;
    cnode *c = &e->nodes[id];
    memset(c, 0, sizeof *c);
    c->parent = parent;
    c->elem = c->st_int = c->st_f64 = c->st_str = c->first_hint = c->next_hint = NONE;
    if (k == NULL) {
        c->key_len = NONE;
        if (parent != NONE)
            e->nodes[parent].elem = id;
    } else {
        c->key_off = (uint32_t)e->keys.len;
        c->key_len = kn;
        if (sa_buf_append(&e->keys, k, kn) != 0)
            return NONE;
        c->is_at = (uint8_t)key_ends(k, kn, "_at", 3);
        c->is_id = (uint8_t)((kn == 2 && memcmp(k, "id", 2) == 0) || key_ends(k, kn, "_id", 3));
        uint32_t mask = e->ntcap - 1, j = (uint32_t)h & mask;
        while (e->ntab[j].gen == e->gen)
            j = (j + 1) & mask;
        e->ntab[j].h = h;
        e->ntab[j].gen = e->gen;
        e->ntab[j].val = id;
    }
    e->nnodes++;
    return id;
}

static uint32_t new_stream(sa_colenc *e, uint8_t kind)
{
    size_t had = e->capst;
    if (SA_GROW(e->st, e->capst, e->nst, 32) != 0)
        return NONE;
    if (e->capst > had) /* new streams start with empty buffers */
        memset(e->st + had, 0, (e->capst - had) * sizeof *e->st);
    cstream *s = &e->st[e->nst];
    s->kind = kind;
    s->prefix_off = s->prefix_len = 0;
    s->next = NONE;
    s->prev = 0;
    s->ndistinct = 0;
    s->lookups = s->hits = 0;
    s->a.len = s->lens.len = s->bytes.len = 0;
    return e->nst++;
}

/* Flushes the pending literal bytes as one LIT op. */
static int flush_lit(sa_colenc *e)
{
    if (e->lit.len == 0)
        return 0;
    if (put_varint(&e->ops, 0) || put_varint(&e->ops, e->lit.len) ||
        sa_buf_append(&e->ops, e->lit.data, e->lit.len))
        return STEPARC_E_NOMEM;
    e->lit.len = 0;
    return 0;
}

static int val_op(sa_colenc *e, uint32_t s)
{
    if (flush_lit(e) != 0 || put_varint(&e->ops, (uint64_t)s + 1) != 0)
        return STEPARC_E_NOMEM;
    return 0;
}

/* Adds string v[0..n) (prefix already removed) to K_STR stream s. */
static int put_str(sa_colenc *e, uint32_t s, const unsigned char *v, uint32_t n)
{
    cstream *st = &e->st[s];
    /* a stream whose first 32 strings were all new (step ids, call ids) is
     * not looked up any more in this block: its strings are written new */
    if (n <= DEDUP_MAX && (st->hits || st->lookups < DEDUP_PROBE)) {
        uint64_t h = fhash(v, n, s);
        uint32_t mask = e->dtcap - 1, j = (uint32_t)h & mask;
        st->lookups++;
        for (; e->dtab[j].gen == e->gen; j = (j + 1) & mask) {
            struct dslot *d = &e->dtab[j];
            if (d->h == h && d->stream == s && d->len == n && same(d->p, v, n)) {
                st->hits++;
                return put_varint(&st->a, (uint64_t)d->code + 1);
            }
        }
        if (2 * (e->dtused + 1) > e->dtcap) {
            /* grow: rehash the live entries */
            uint32_t nc = e->dtcap ? 2 * e->dtcap : 1024;
            struct dslot *nt = (struct dslot *)sa_calloc(nc, sizeof *nt);
            if (nt == NULL)
                return STEPARC_E_NOMEM;
            for (uint32_t i = 0; i < e->dtcap; i++) {
                if (e->dtab[i].gen != e->gen)
                    continue;
                uint32_t q = (uint32_t)e->dtab[i].h & (nc - 1);
                while (nt[q].gen == e->gen)
                    q = (q + 1) & (nc - 1);
                nt[q] = e->dtab[i];
            }
            sa_free(e->dtab);
            e->dtab = nt;
            e->dtcap = nc;
            mask = nc - 1;
            for (j = (uint32_t)h & mask; nt[j].gen == e->gen; j = (j + 1) & mask)
                ;
        }
        struct dslot *d = &e->dtab[j];
        d->p = v;
        d->len = n;
        d->stream = s;
        d->code = st->ndistinct;
        d->gen = e->gen;
        d->h = h;
        e->dtused++;
    }
    st->ndistinct++;
    if (put_varint(&st->a, 0) || put_varint(&st->lens, n) || sa_buf_append(&st->bytes, v, n))
        return STEPARC_E_NOMEM;
    return 0;
}

/* Length of the id prefix of v ("step_", "file-"): up to and including the
 * first '_' or '-' among the first 16 bytes, when more bytes follow. */
static uint32_t id_prefix(const unsigned char *v, uint32_t n)
{
    uint32_t lim = n < MAX_PREFIX ? n : MAX_PREFIX;
    for (uint32_t i = 1; i < lim; i++)
        if (v[i] == '_' || v[i] == '-')
            return i + 1 < n ? i + 1 : 0;
    return 0;
}

static int lit(sa_colenc *e, const unsigned char *p, size_t n)
{
    return sa_buf_append(&e->lit, p, n);
}

/* sa_mp_read with the items most records are made of (fixstr, str8,
 * positive fixint) decoded inline. */
static inline int rd_item(sa_mpr *r, sa_mpitem *it)
{
    const unsigned char *p = r->p;
    if (p < r->end) {
        unsigned c = *p;
        size_t left = (size_t)(r->end - p);
        if ((c & 0xE0) == 0xA0 && left > (c & 0x1Fu)) {
            it->type = SA_MP_STR;
            it->n = c & 0x1F;
            it->s = (const char *)p + 1;
            r->p = p + 1 + it->n;
            return 0;
        }
        if (c < 0x80) {
            it->type = SA_MP_INT;
            it->i = (int64_t)c;
            it->n = 0;
            r->p = p + 1;
            return 0;
        }
        if (c == 0xD9 && left >= 2 && left - 2 >= p[1]) {
            it->type = SA_MP_STR;
            it->n = p[1];
            it->s = (const char *)p + 2;
            r->p = p + 2 + it->n;
            return 0;
        }
    }
    return sa_mp_read(r, it);
}

static int enc_value(sa_colenc *e, sa_mpr *r, uint32_t node, int depth)
{
    const unsigned char *start = r->p;
    sa_mpitem it;
    if (depth > STEPARC_MAX_DEPTH || rd_item(r, &it) != 0)
        return STEPARC_E_INPUT;
    size_t used = (size_t)(r->p - start);
    switch (it.type) {
    case SA_MP_INT: {
        unsigned char canon[9];
        size_t cn = sa_mp_put_int(canon, it.i);
        if (cn != used || !same(canon, start, cn))
            return lit(e, start, used);
        cnode *c = &e->nodes[node];
        if (c->st_int == NONE) {
            uint32_t s = new_stream(e, c->is_at ? K_DELTA : K_INT);
            if (s == NONE)
                return STEPARC_E_NOMEM;
            e->nodes[node].st_int = s;
        }
        uint32_t s = e->nodes[node].st_int;
        cstream *st = &e->st[s];
        uint64_t v = (uint64_t)it.i;
        if (st->kind == K_DELTA) {
            uint64_t d = v - st->prev;
            st->prev = v;
            v = d;
        }
        if (val_op(e, s) != 0 || put_varint(&st->a, zigzag(v)) != 0)
            return STEPARC_E_NOMEM;
        return 0;
    }
    case SA_MP_FLOAT: {
        if (*start != 0xCB)
            return lit(e, start, used);
        if (e->nodes[node].st_f64 == NONE) {
            uint32_t s = new_stream(e, K_F64);
            if (s == NONE)
                return STEPARC_E_NOMEM;
            e->nodes[node].st_f64 = s;
        }
        uint32_t s = e->nodes[node].st_f64;
        if (val_op(e, s) != 0 || sa_buf_append(&e->st[s].a, start + 1, 8) != 0)
            return STEPARC_E_NOMEM;
        return 0;
    }
    case SA_MP_STR: {
        unsigned char h[5];
        if (sa_mp_put_strhdr(h, it.n) != used - it.n)
            return lit(e, start, used);
        const unsigned char *v = (const unsigned char *)it.s;
        uint32_t pn = e->nodes[node].is_id ? id_prefix(v, it.n) : 0;
        uint32_t s = e->nodes[node].st_str, last = NONE;
        for (; s != NONE; last = s, s = e->st[s].next)
            if (e->st[s].prefix_len == pn && same(e->keys.data + e->st[s].prefix_off, v, pn))
                break;
        if (s == NONE) {
            s = new_stream(e, K_STR);
            if (s == NONE)
                return STEPARC_E_NOMEM;
            e->st[s].prefix_off = (uint32_t)e->keys.len;
            e->st[s].prefix_len = pn;
            if (sa_buf_append(&e->keys, v, pn) != 0)
                return STEPARC_E_NOMEM;
            if (last == NONE)
                e->nodes[node].st_str = s;
            else
                e->st[last].next = s;
        }
        if (val_op(e, s) != 0)
            return STEPARC_E_NOMEM;
        return put_str(e, s, v + pn, it.n - pn);
    }
    case SA_MP_ARRAY: {
        int rc = lit(e, start, used);
        if (rc || it.n == 0)
            return rc;
        uint32_t c = child(e, node, NULL, 0);
        if (c == NONE)
            return STEPARC_E_NOMEM;
        for (uint32_t i = 0; i < it.n; i++)
            if ((rc = enc_value(e, r, c, depth + 1)) != 0)
                return rc;
        return 0;
    }
    case SA_MP_MAP: {
        int rc = lit(e, start, used);
        uint32_t prev = NONE;
        for (uint32_t i = 0; i < it.n && rc == 0; i++) {
            const unsigned char *ks = r->p;
            sa_mpitem k;
            if (rd_item(r, &k) != 0 || k.type != SA_MP_STR)
                return STEPARC_E_INPUT;
            if ((rc = lit(e, ks, (size_t)(r->p - ks))) != 0)
                return rc;
            uint32_t c = prev == NONE ? e->nodes[node].first_hint : e->nodes[prev].next_hint;
            if (c == NONE || e->nodes[c].key_len != k.n ||
                !same(e->keys.data + e->nodes[c].key_off, k.s, k.n)) {
                c = child(e, node, (const unsigned char *)k.s, k.n);
                if (c == NONE)
                    return STEPARC_E_NOMEM;
                if (prev == NONE)
                    e->nodes[node].first_hint = c;
                else
                    e->nodes[prev].next_hint = c;
            }
            prev = c;
            rc = enc_value(e, r, c, depth + 1);
        }
        return rc;
    }
    default: /* nil, bool, uint64 above INT64_MAX */
        return lit(e, start, used);
    }
}

/* Interns the ops of the record just encoded; appends its skeleton id. */
static int intern(sa_colenc *e)
{
    const unsigned char *o = (const unsigned char *)e->ops.data;
    uint32_t n = (uint32_t)e->ops.len;
    uint64_t h = fhash(o, n, 7);
    uint32_t mask = e->stcap - 1, j = (uint32_t)h & mask;
    for (; e->stab[j].gen == e->gen; j = (j + 1) & mask) {
        uint32_t k = e->stab[j].val;
        if (e->stab[j].h == h && e->skoff[k + 1] - e->skoff[k] == n &&
            memcmp(e->skel.data + e->skoff[k], o, n) == 0)
            return put_varint(&e->ids, k);
    }
    if (SA_GROW(e->skoff, e->capskel, e->nskel + 1, 64) != 0)
        return STEPARC_E_NOMEM;
    if (grow_slots(&e->stab, &e->stcap, e->nskel + 1, e->gen) != 0 ||
        sa_buf_append(&e->skel, o, n) != 0)
        return STEPARC_E_NOMEM;
    mask = e->stcap - 1;
    for (j = (uint32_t)h & mask; e->stab[j].gen == e->gen; j = (j + 1) & mask)
        ;
    e->stab[j].h = h;
    e->stab[j].gen = e->gen;
    e->stab[j].val = e->nskel;
    e->nskel++;
    e->skoff[e->nskel] = (uint32_t)e->skel.len;
    return put_varint(&e->ids, e->nskel - 1);
}

int sa_col_encode(sa_colenc *e, const unsigned char *rows, size_t rows_size, uint32_t n,
                  steparc_buf *out)
{
    int rc = 0;
    if (n == 0 || rows_size < 4 * (size_t)n)
        return STEPARC_E_INPUT;
    if (++e->gen == 0) { /* generation wrapped: clear every table once */
        if (e->ntab) memset(e->ntab, 0, e->ntcap * sizeof *e->ntab);
        if (e->stab) memset(e->stab, 0, e->stcap * sizeof *e->stab);
        if (e->dtab) memset(e->dtab, 0, e->dtcap * sizeof *e->dtab);
        e->gen = 1;
    }
    e->nnodes = e->nst = e->nskel = e->dtused = 0;
    e->keys.len = e->skel.len = e->ids.len = 0;
    if (grow_slots(&e->ntab, &e->ntcap, 64, e->gen) != 0 ||
        grow_slots(&e->stab, &e->stcap, 64, e->gen) != 0)
        return STEPARC_E_NOMEM;
    if (e->dtcap == 0) {
        e->dtab = (struct dslot *)sa_calloc(1024, sizeof *e->dtab);
        if (e->dtab == NULL)
            return STEPARC_E_NOMEM;
        e->dtcap = 1024;
    }
    if (SA_GROW(e->skoff, e->capskel, 1, 64) != 0)
        return STEPARC_E_NOMEM;
    /* keys and prefixes are compared and copied at keys.data + offset even
     * when all of them are empty: keep the buffer allocated (NULL + 0 is
     * undefined behaviour) */
    if (sa_buf_reserve(&e->keys, 64) != 0)
        return STEPARC_E_NOMEM;
    e->skoff[0] = 0;
    uint32_t root = child(e, NONE, NULL, 0);
    if (root == NONE)
        return STEPARC_E_NOMEM;
    const unsigned char *data = rows + 4 * (size_t)n;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t end = sa_get_u32(rows + 4 * (size_t)i);
        if (end <= prev || end > rows_size - 4 * (size_t)n)
            return STEPARC_E_INPUT;
        sa_mpr r = {data + prev, data + end};
        e->ops.len = e->lit.len = 0;
        if ((rc = enc_value(e, &r, root, 0)) != 0)
            return rc;
        if (r.p != r.end)
            return STEPARC_E_INPUT;
        if ((rc = flush_lit(e)) != 0 || (rc = intern(e)) != 0)
            return rc;
        prev = end;
    }
    if (prev != rows_size - 4 * (size_t)n)
        return STEPARC_E_INPUT;
    if (e->nst > MAX_STREAMS || e->skel.len > MAX_SKELETON_BYTES)
        return STEPARC_E_LIMIT; /* too varied for columns: the caller keeps rows */

    /* header, skeletons, skeleton ids, stream areas (FORMAT.md 5.5) */
    out->len = 0;
    if (put_varint(out, rows_size) || put_varint(out, e->nskel) || put_varint(out, e->nst) ||
        put_varint(out, e->ids.len))
        return STEPARC_E_NOMEM;
    for (uint32_t k = 0; k < e->nskel; k++)
        if (put_varint(out, e->skoff[k + 1] - e->skoff[k]))
            return STEPARC_E_NOMEM;
    for (uint32_t s = 0; s < e->nst; s++) {
        cstream *st = &e->st[s];
        if (put_varint(out, st->kind) || put_varint(out, st->a.len))
            return STEPARC_E_NOMEM;
        if (st->kind == K_STR &&
            (put_varint(out, st->prefix_len) ||
             sa_buf_append(out, e->keys.data + st->prefix_off, st->prefix_len) ||
             put_varint(out, st->lens.len) || put_varint(out, st->bytes.len)))
            return STEPARC_E_NOMEM;
    }
    if (sa_buf_append(out, e->skel.data, e->skel.len) || sa_buf_append(out, e->ids.data, e->ids.len))
        return STEPARC_E_NOMEM;
    for (uint32_t s = 0; s < e->nst; s++) {
        cstream *st = &e->st[s];
        if (st->kind == K_F64) {
            /* byte planes: the first bytes of every value, then the second
             * bytes, ...: sign and exponent bytes repeat and compress */
            size_t cnt = st->a.len / 8;
            if (sa_buf_reserve(out, st->a.len) != 0)
                return STEPARC_E_NOMEM;
            unsigned char *o = (unsigned char *)out->data + out->len;
            const unsigned char *a = (const unsigned char *)st->a.data;
            for (size_t b = 0; b < 8; b++)
                for (size_t j = 0; j < cnt; j++)
                    o[b * cnt + j] = a[8 * j + b];
            out->len += st->a.len;
            continue;
        }
        if (sa_buf_append(out, st->a.data, st->a.len))
            return STEPARC_E_NOMEM;
    }
    /* then every string stream's lengths, then every string stream's bytes:
     * like with like, for zstd */
    for (uint32_t s = 0; s < e->nst; s++)
        if (e->st[s].kind == K_STR && sa_buf_append(out, e->st[s].lens.data, e->st[s].lens.len))
            return STEPARC_E_NOMEM;
    for (uint32_t s = 0; s < e->nst; s++)
        if (e->st[s].kind == K_STR && sa_buf_append(out, e->st[s].bytes.data, e->st[s].bytes.len))
            return STEPARC_E_NOMEM;
    return 0;
}

/* ---- decoder ---------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
} rd;

static int rd_varint_slow(rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        unsigned c = *r->p++;
        if (shift == 63 && c > 1)
            return -1; /* beyond 64 bits */
        x |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Most varints are one byte: that case inline. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int rd_varint(rd *r, uint64_t *v)
{
    if (r->p < r->end && *r->p < 0x80) {
        *v = *r->p++;
        return 0;
    }
    return rd_varint_slow(r, v);
}

typedef struct { const unsigned char *p; uint32_t n; } dstr;

typedef struct {
    uint8_t kind;
    const unsigned char *prefix;
    uint32_t plen;
    rd a, lens, bytes;
    uint64_t prev;
    size_t fnext, fcount;          /* K_F64: next value, values (byte planes) */
    size_t alen, llen, blen;       /* area sizes from the stream table */
    dstr *strs;
    uint32_t nstrs;
    size_t capstrs;
} dstream;

/* A compiled skeleton op: a literal (kind 0) or a value of stream s. Literals
 * of up to 16 bytes with 16 readable bytes behind them are copied with one
 * fixed-size move (the output has 16 bytes of slack). */
typedef struct { uint8_t kind, short_lit; uint32_t s, len; const unsigned char *lit; } dop;

uint64_t sa_col_rows_size(const unsigned char *col, size_t col_size)
{
    rd r = {col, col + col_size};
    uint64_t v;
    return rd_varint(&r, &v) == 0 ? v : 0;
}

/* The decoder's state, phase to phase: the block's header and tables, the
 * streams and the skeletons compiled into ops. */
typedef struct {
    const unsigned char *col, *colend;
    uint64_t rows_size, nskel, nst, ids_len;
    rd h;                /* the payload after the parts read so far */
    rd skh;              /* the skeleton lengths (checked by dec_tables) */
    dstream *st;
    dop *ops;
    size_t nops, capops;
    uint32_t *skstart;   /* skeleton k's ops: skstart[k] .. skstart[k + 1] */
    rd ids;              /* the records' skeleton ids */
    const char **why;
} cdec;

#define DFAIL(msg) do { *d->why = (msg); return STEPARC_E_CORRUPT; } while (0)

/* Phase 1: the header, the skeleton lengths and the stream table, every
 * size checked against the payload. */
static int dec_tables(cdec *d, uint32_t n)
{
    size_t col_size = (size_t)(d->colend - d->col);
    rd *h = &d->h;
    if (rd_varint(h, &d->rows_size) || rd_varint(h, &d->nskel) || rd_varint(h, &d->nst) ||
        rd_varint(h, &d->ids_len))
        DFAIL("columnar header is truncated");
    uint64_t rows_size = d->rows_size, nskel = d->nskel, nst = d->nst, ids_len = d->ids_len;
    if (n == 0 || rows_size > STEPARC_MAX_BLOCK_RAW || rows_size < 5 * (uint64_t)n)
        DFAIL("columnar rows size is out of range");
    /* every skeleton, stream and skeleton id takes at least one byte */
    if (nskel == 0 || nskel > n || nskel > col_size || nst > MAX_STREAMS || nst > col_size / 2 ||
        ids_len > col_size)
        DFAIL("columnar counts are out of range");
    uint64_t need = ids_len, sk_total = 0;
    d->skstart = (uint32_t *)sa_malloc(((size_t)nskel + 1) * sizeof *d->skstart);
    d->st = (dstream *)sa_calloc(nst ? (size_t)nst : 1, sizeof *d->st);
    if (d->skstart == NULL || d->st == NULL)
        return STEPARC_E_NOMEM;
    d->skh = *h;
    for (uint64_t k = 0; k < nskel; k++) {
        uint64_t v;
        if (rd_varint(h, &v) || v == 0 || v > col_size)
            DFAIL("columnar skeleton length is invalid");
        sk_total += v;
    }
    if (sk_total > MAX_SKELETON_BYTES)
        DFAIL("columnar skeletons exceed their size limit");
    need += sk_total;
    for (uint64_t s = 0; s < nst; s++) {
        dstream *st = &d->st[s];
        uint64_t kind, alen, plen = 0, llen = 0, blen = 0;
        if (rd_varint(h, &kind) || rd_varint(h, &alen))
            DFAIL("columnar stream table is truncated");
        if (kind < K_INT || kind > K_STR || alen > col_size)
            DFAIL("columnar stream kind or size is invalid");
        st->kind = (uint8_t)kind;
        if (kind == K_STR) {
            if (rd_varint(h, &plen) || plen > MAX_PREFIX || plen > (uint64_t)(h->end - h->p))
                DFAIL("columnar string prefix is invalid");
            st->prefix = h->p;
            st->plen = (uint32_t)plen;
            h->p += plen;
            if (rd_varint(h, &llen) || rd_varint(h, &blen) || llen > col_size || blen > col_size)
                DFAIL("columnar stream table is truncated");
        }
        st->alen = (size_t)alen;
        st->llen = (size_t)llen;
        st->blen = (size_t)blen;
        need += alen + llen + blen;
    }
    if (need != (uint64_t)(h->end - h->p))
        DFAIL("columnar areas do not add up to the payload size");
    return 0;
}

/* Phase 2: the skeletons compiled into ops once for the whole block; on
 * return d->h.p is at the ids area. */
static int dec_compile(cdec *d)
{
    const unsigned char *at = d->h.p;
    for (uint64_t k = 0; k < d->nskel; k++) {
        uint64_t len = 0;
        (void)rd_varint(&d->skh, &len); /* checked by dec_tables */
        rd o = {at, at + len};
        at += len;
        d->skstart[k] = (uint32_t)d->nops;
        while (o.p < o.end) {
            uint64_t v, ln = 0;
            if (rd_varint(&o, &v))
                DFAIL("columnar skeleton is truncated");
            if (v == 0) {
                if (rd_varint(&o, &ln) || ln == 0 || ln > (uint64_t)(o.end - o.p))
                    DFAIL("columnar skeleton literal is invalid");
            } else if (v > d->nst) {
                DFAIL("columnar skeleton refers to a missing stream");
            }
            if (SA_GROW(d->ops, d->capops, d->nops, 64) != 0)
                return STEPARC_E_NOMEM;
            dop *op = &d->ops[d->nops++];
            op->s = v ? (uint32_t)(v - 1) : NONE;
            op->kind = v ? 0xFF : 0; /* value kinds are filled in below */
            op->len = (uint32_t)ln;
            op->lit = o.p;
            op->short_lit = (uint8_t)(v == 0 && ln <= 32 && (size_t)(d->h.end - o.p) >= 32);
            o.p += ln;
        }
    }
    d->skstart[d->nskel] = (uint32_t)d->nops;
    for (size_t q = 0; q < d->nops; q++)
        if (d->ops[q].kind)
            d->ops[q].kind = d->st[d->ops[q].s].kind;
    d->h.p = at;
    return 0;
}

/* Phase 3: the ids, then each stream's value, lengths and bytes areas, in
 * that order. */
static int dec_areas(cdec *d)
{
    const unsigned char *at = d->h.p;
    d->ids.p = at;
    d->ids.end = at + d->ids_len;
    at += d->ids_len;
    for (uint64_t s = 0; s < d->nst; s++) {
        dstream *st = &d->st[s];
        st->a.p = at;
        st->a.end = at + st->alen;
        at += st->alen;
        if (st->kind == K_F64) {
            if (st->alen % 8)
                DFAIL("columnar float stream is not whole values");
            st->fcount = st->alen / 8;
        }
    }
    for (uint64_t s = 0; s < d->nst; s++) { /* the string lengths areas */
        d->st[s].lens.p = at;
        d->st[s].lens.end = at + d->st[s].llen;
        at += d->st[s].llen;
    }
    for (uint64_t s = 0; s < d->nst; s++) { /* the string bytes areas */
        d->st[s].bytes.p = at;
        d->st[s].bytes.end = at + d->st[s].blen;
        at += d->st[s].blen;
    }
    return 0;
}

/* Phase 4, the hot loop (every record of every columnar block read goes
 * through it, value by value): kept in one function, the state in locals,
 * so the op dispatch compiles to a tight loop. Writes the n records and
 * their offset table into rows (rows_size + SLACK bytes: an integer or
 * float is written first and checked after, and short copies move a fixed
 * 32 bytes). */
static int dec_rows(cdec *d, uint32_t n, unsigned char *rows)
{
    const unsigned char *colend = d->colend;
    dstream *st = d->st;
    const dop *ops = d->ops;
    const uint32_t *skstart = d->skstart;
    uint64_t nskel = d->nskel;
    rd ids = d->ids;
    size_t table = 4 * (size_t)n;
    unsigned char *o = rows + table, *oend = rows + d->rows_size;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t k;
        if (rd_varint(&ids, &k) || k >= nskel)
            DFAIL("columnar skeleton id is invalid");
        unsigned char *rec = o;
        for (uint32_t q = skstart[k]; q < skstart[k + 1]; q++) {
            const dop *op = &ops[q];
            if (op->kind == 0) {
                if (op->len > (size_t)(oend - o))
                    DFAIL("columnar records exceed the declared size");
                if (op->short_lit)
                    memcpy(o, op->lit, 32);
                else
                    memcpy(o, op->lit, op->len);
                o += op->len;
                continue;
            }
            dstream *s = &st[op->s];
            switch (op->kind) {
            case K_INT:
            case K_DELTA: {
                uint64_t z;
                if (rd_varint(&s->a, &z))
                    DFAIL("columnar integer stream is exhausted");
                uint64_t v = unzigzag(z);
                if (s->kind == K_DELTA) {
                    v += s->prev;
                    s->prev = v;
                }
                o += sa_mp_put_int(o, (int64_t)v);
                if (o > oend)
                    DFAIL("columnar records exceed the declared size");
                break;
            }
            case K_F64:
                if (s->fnext >= s->fcount)
                    DFAIL("columnar float stream is exhausted");
                *o++ = 0xCB;
                for (size_t b = 0; b < 8; b++)
                    o[b] = s->a.p[b * s->fcount + s->fnext];
                s->fnext++;
                o += 8;
                if (o > oend)
                    DFAIL("columnar records exceed the declared size");
                break;
            default: { /* K_STR */
                uint64_t code;
                dstr v;
                if (rd_varint(&s->a, &code))
                    DFAIL("columnar string codes are exhausted");
                if (code == 0) {
                    uint64_t len;
                    if (rd_varint(&s->lens, &len) || len > (uint64_t)(s->bytes.end - s->bytes.p))
                        DFAIL("columnar string bytes are exhausted");
                    /* grows with the strings actually decoded, each of which
                     * wrote output: bounded by rows_size */
                    if (SA_GROW(s->strs, s->capstrs, s->nstrs, 64) != 0)
                        return STEPARC_E_NOMEM;
                    v.p = s->bytes.p;
                    v.n = (uint32_t)len;
                    s->bytes.p += len;
                    s->strs[s->nstrs++] = v;
                } else {
                    if (code > s->nstrs)
                        DFAIL("columnar string code refers to a string not yet seen");
                    v = s->strs[code - 1];
                }
                uint64_t total = (uint64_t)s->plen + v.n;
                unsigned char sh[5];
                size_t hl = sa_mp_put_strhdr(sh, total);
                if (total > UINT32_MAX || hl + total > (uint64_t)(oend - o))
                    DFAIL("columnar records exceed the declared size");
                memcpy(o, sh, hl);
                o += hl;
                /* prefixes are at most 16 bytes; ids fit 32: fixed-size moves
                 * into the slack when the source has the bytes behind it */
                if (s->plen && (size_t)(colend - s->prefix) >= 16)
                    memcpy(o, s->prefix, 16);
                else
                    memcpy(o, s->prefix, s->plen);
                o += s->plen;
                if (v.n <= 32 && (size_t)(colend - v.p) >= 32)
                    memcpy(o, v.p, 32);
                else
                    memcpy(o, v.p, v.n);
                o += v.n;
                break;
            }
            }
        }
        if (o == rec)
            DFAIL("columnar record is empty");
        sa_put_u32(rows + 4 * (size_t)i, (uint32_t)(o - (rows + table)));
    }
    if (o != oend || ids.p != ids.end)
        DFAIL("columnar payload does not decode to its declared size");
    return 0;
}

/* Phase 5: every stream used up. */
static int dec_all_used(cdec *d)
{
    for (uint64_t s = 0; s < d->nst; s++) {
        const dstream *st = &d->st[s];
        if ((st->kind == K_F64 ? st->fnext != st->fcount : st->a.p != st->a.end) ||
            st->lens.p != st->lens.end || st->bytes.p != st->bytes.end)
            DFAIL("columnar stream has bytes left over");
    }
    return 0;
}

#undef DFAIL

int sa_col_decode(const unsigned char *col, size_t col_size, uint32_t n, unsigned char **rows_out,
                  size_t *rows_size_out, const char **why)
{
    unsigned char *rows = NULL;
    cdec d;
    *rows_out = NULL;
    *rows_size_out = 0;
    *why = NULL;
    memset(&d, 0, sizeof d);
    d.col = col;
    d.colend = col + col_size;
    d.h.p = col;
    d.h.end = col + col_size;
    d.why = why;
    int rc = dec_tables(&d, n);
    if (rc == 0)
        rc = dec_compile(&d);
    if (rc == 0)
        rc = dec_areas(&d);
    if (rc == 0 && (rows = (unsigned char *)sa_malloc((size_t)d.rows_size + SLACK)) == NULL)
        rc = STEPARC_E_NOMEM;
    if (rc == 0)
        rc = dec_rows(&d, n, rows);
    if (rc == 0)
        rc = dec_all_used(&d);
    if (rc == 0) {
        *rows_out = rows;
        *rows_size_out = (size_t)d.rows_size;
        rows = NULL;
    }
    if (d.st)
        for (uint64_t s = 0; s < d.nst; s++)
            sa_free(d.st[s].strs);
    sa_free(d.st);
    sa_free(d.ops);
    sa_free(d.skstart);
    sa_free(rows);
    return rc;
}

/* ---- introspection (bench/colstat) ------------------------------------------ */

static size_t node_path(const sa_colenc *e, uint32_t node, char *out, size_t cap)
{
    if (node == NONE || e->nodes[node].parent == NONE)
        return 0;
    const cnode *c = &e->nodes[node];
    size_t n = node_path(e, c->parent, out, cap);
    const char *k = c->key_len == NONE ? "[]" : (const char *)e->keys.data + c->key_off;
    size_t kn = c->key_len == NONE ? 2 : c->key_len;
    if (n && c->key_len != NONE && n < cap)
        out[n++] = '.';
    for (size_t i = 0; i < kn && n < cap; i++)
        out[n++] = k[i];
    return n;
}

void sa_col_streams(const sa_colenc *e, sa_col_stream_fn fn, void *ctx)
{
    char path[512];
    fn(ctx, "(skeletons)", 0, (const unsigned char *)e->skel.data, e->skel.len, NULL, 0);
    fn(ctx, "(skeleton ids)", 0, (const unsigned char *)e->ids.data, e->ids.len, NULL, 0);
    for (uint32_t s = 0; s < e->nst; s++) {
        /* the node that owns stream s */
        uint32_t node = NONE;
        for (uint32_t q = 0; q < e->nnodes && node == NONE; q++) {
            const cnode *c = &e->nodes[q];
            if (c->st_int == s || c->st_f64 == s)
                node = q;
            for (uint32_t t = c->st_str; t != NONE && node == NONE; t = e->st[t].next)
                if (t == s)
                    node = q;
        }
        size_t n = node_path(e, node, path, sizeof path - 1);
        path[n] = 0;
        const cstream *st = &e->st[s];
        fn(ctx, path, st->kind, (const unsigned char *)st->a.data, st->a.len,
           (const unsigned char *)st->bytes.data, st->bytes.len);
        if (st->kind == K_STR)
            fn(ctx, path, 5, (const unsigned char *)st->lens.data, st->lens.len, NULL, 0);
    }
}
