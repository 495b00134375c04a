/* verify.c - check every checksum and every index against the data.
 *
 * Indexes are compared with what the records imply through order-independent
 * digests (count, sum and xor of the expected entries), so verification needs
 * constant memory whatever the archive size. Sortedness is checked directly.
 * The block kinds section (type 12) is compared with each block's records. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "reader_internal.h"

typedef struct {
    uint64_t count, sum, x;
} digest;

static void dig_add(digest *d, uint64_t v)
{
    d->count++;
    d->sum += v * 0x9E3779B97F4A7C15ULL + (v >> 29);
    d->x ^= v * 0xC2B2AE3D27D4EB4FULL;
}

typedef struct {
    steparc_reader *r;
    void (*report)(void *, const steparc_problem *);
    void *ctx;
    uint64_t n;
} vstate;

static void problem(vstate *v, int64_t block, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(vstate *v, int64_t block, uint64_t offset, const char *fmt, ...)
{
    steparc_problem p;
    va_list ap;
    p.block = block;
    p.offset = offset;
    va_start(ap, fmt);
    vsnprintf(p.what, sizeof p.what, fmt, ap);
    va_end(ap);
    v->n++;
    if (v->report)
        v->report(v->ctx, &p);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Digest of a sorted u64 section; checks order (strict when unique). */
typedef struct {
    digest *d;
    uint64_t i, prev;
    int unique, unsorted;
} dig_ctx;

static int dig_value(void *ctx, uint64_t x)
{
    dig_ctx *c = (dig_ctx *)ctx;
    if (c->i && (x < c->prev || (c->unique && x == c->prev))) {
        c->unsorted = 1;
        return STEPARC_E_CORRUPT;
    }
    c->prev = x;
    c->i++;
    dig_add(c->d, x);
    return 0;
}

static int section_digest(vstate *v, int slot, int unique, digest *d)
{
    steparc_reader *r = v->r;
    dig_ctx c = {d, 0, 0, unique, 0};
    int rc = sa_index_each(r, slot, dig_value, &c);
    if (rc == STEPARC_E_NOTFOUND)
        return 1;
    if (c.unsorted) {
        problem(v, -1, r->sec[slot].s.offset, "index section of type %u is not sorted at entry %llu",
                r->sec[slot].s.type, (unsigned long long)c.i);
        return -1;
    }
    if (rc) {
        problem(v, -1, r->sec[slot].s.offset, "%s", steparc_reader_errmsg(r));
        return -1;
    }
    return 0;
}

/* What the records of the blocks imply for the four indexes, and the
 * buffers for one block's keys. The postings follow the writer's rule for
 * the archive's minor (sa_posting_keys, 8.3): from 1.3 a run, thread or
 * assistant is posted under its own id; an archive appended to keeps its
 * minor, and so its rule. */
typedef struct {
    digest want[4];
    uint32_t *keys[3]; /* run, thread, assistant keys of one block */
    size_t cap;
    int bad_blocks;
    const unsigned char *bkinds; /* the block kinds section, checked, or NULL */
} expect;

/* Sorts keys[0..n) and adds each distinct one, posted to block b, to d. */
static void post_keys(digest *d, uint32_t *keys, size_t n, uint64_t b)
{
    if (n > 1)
        qsort(keys, n, sizeof(uint32_t), cmp_u32);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || keys[i] != keys[i - 1])
            dig_add(d, ((uint64_t)keys[i] << 32) | b);
}

/* The keys of one decoded block: its records validated, its created_at range
 * compared with the index, its index entries added to the digests. 0 or
 * STEPARC_E_NOMEM. */
static int block_keys(vstate *v, expect *x, uint64_t b, const sa_block_entry *e,
                      const sa_cblock *c)
{
    if (c->count > x->cap) {
        for (int k = 0; k < 3; k++) {
            uint32_t *nk = (uint32_t *)sa_realloc(x->keys[k], c->count * sizeof(uint32_t));
            if (nk == NULL)
                return STEPARC_E_NOMEM;
            x->keys[k] = nk;
        }
        x->cap = c->count;
    }
    size_t nk[3] = {0, 0, 0};
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    uint32_t mask = 0;
    for (uint32_t i = 0; i < c->count; i++) {
        const unsigned char *p;
        size_t len;
        char why[160];
        sa_rows_get(c->raw, c->count, i, &p, &len);
        int vr = sa_mp_validate(p, len, why, sizeof why);
        if (vr == STEPARC_E_NOMEM)
            return vr;
        if (vr) {
            problem(v, (int64_t)b, e->offset, "record %llu is invalid: %s",
                    (unsigned long long)(c->first + i), why);
            continue;
        }
        sa_keyfields kf;
        sa_mp_keyfields(p, len, &kf);
        if (kf.has_created_at) {
            if (kf.created_at < mn)
                mn = kf.created_at;
            if (kf.created_at > mx)
                mx = kf.created_at;
        }
        if (kf.id.ptr)
            dig_add(&x->want[0], ((uint64_t)sa_key32(kf.id.ptr, kf.id.len) << 32) | (c->first + i));
        int kind = sa_keyfields_kind(&kf);
        mask |= STEPARC_KIND_BIT(kind);
        steparc_str ps[3]; /* the writer's rule (8.3), by the archive's minor */
        sa_posting_keys(&kf, kind, v->r->hdr.minor, ps);
        for (int k = 0; k < 3; k++)
            if (ps[k].ptr)
                x->keys[k][nk[k]++] = sa_key32(ps[k].ptr, ps[k].len);
    }
    if (x->bkinds && sa_get_u32(x->bkinds + 4 * b) != mask)
        problem(v, (int64_t)b, e->offset,
                "block %llu: its kinds in the block kinds section (0x%x) differ from its records "
                "(0x%x)", (unsigned long long)b, sa_get_u32(x->bkinds + 4 * b), mask);
    if (mn != e->min_created_at || mx != e->max_created_at)
        problem(v, (int64_t)b, e->offset,
                "block %llu: created_at range in the index differs from its records",
                (unsigned long long)b);
    for (int k = 0; k < 3; k++)
        post_keys(&x->want[k + 1], x->keys[k], nk[k], b);
    return 0;
}

/* Phase 1: every block decoded (sa_block_load: the block decoder) and its
 * records read. 0 or STEPARC_E_NOMEM. */
static int check_blocks(vstate *v, expect *x)
{
    steparc_reader *r = v->r;
    int rc = 0;
    for (uint64_t b = 0; b < r->nblocks && rc == 0; b++) {
        sa_block_entry e;
        sa_block_entry_at(r, b, &e);
        sa_cblock *c;
        rc = sa_block_load(r, b, &c);
        if (rc == STEPARC_E_NOMEM)
            break;
        if (rc) {
            problem(v, (int64_t)b, e.offset, "%s", steparc_reader_errmsg(r));
            x->bad_blocks++;
            rc = 0;
            continue;
        }
        rc = block_keys(v, x, b, &e, c);
        sa_free(c->raw);
        sa_free(c);
    }
    for (int k = 0; k < 3; k++)
        sa_free(x->keys[k]);
    return rc;
}

/* Phase 2: the four indexes against the digests of phase 1. */
static void check_indexes(vstate *v, const expect *x)
{
    steparc_reader *r = v->r;
    static const int slots[4] = {SA_SLOT_IDS, SA_SLOT_RUNS, SA_SLOT_THREADS, SA_SLOT_ASSISTANTS};
    static const char *names[4] = {"id index", "run postings", "thread postings",
                                   "assistant postings"};
    for (int k = 0; k < 4; k++) {
        digest have;
        memset(&have, 0, sizeof have);
        int s = section_digest(v, slots[k], k != 0, &have);
        if (s != 0 || x->bad_blocks)
            continue; /* absent, already reported, or unverifiable with lost blocks */
        const digest *want = &x->want[k];
        if (have.count != want->count || have.sum != want->sum || have.x != want->x)
            problem(v, -1, r->sec[slots[k]].s.offset,
                    "%s does not match the records (%llu entries, %llu expected)", names[k],
                    (unsigned long long)have.count, (unsigned long long)want->count);
    }
}

/* The block kinds section's checksum (its masks are compared block by block
 * in phase 1). */
static void block_kinds_section(vstate *v, expect *x)
{
    steparc_reader *r = v->r;
    uint64_t len;
    if (!r->sec[SA_SLOT_BLOCK_KINDS].present)
        return;
    if (sa_section_get(r, SA_SLOT_BLOCK_KINDS, &x->bkinds, &len) != 0) {
        x->bkinds = NULL;
        problem(v, -1, r->sec[SA_SLOT_BLOCK_KINDS].s.offset, "%s", steparc_reader_errmsg(r));
    }
}

/* Phase 3: the statistics section is valid MessagePack. */
static void check_stats(vstate *v)
{
    steparc_reader *r = v->r;
    if (!r->sec[SA_SLOT_STATS].present)
        return;
    const unsigned char *p;
    uint64_t len;
    char why[160];
    if (sa_section_get(r, SA_SLOT_STATS, &p, &len) != 0)
        problem(v, -1, r->sec[SA_SLOT_STATS].s.offset, "%s", steparc_reader_errmsg(r));
    else if (sa_mp_validate(p, (size_t)len, why, sizeof why) != 0)
        problem(v, -1, r->sec[SA_SLOT_STATS].s.offset, "statistics section is invalid: %s", why);
}

/* Phase 4: the dictionary block precedes the data blocks: find it and
 * compare it with its copy (section 7). */
static void check_dict_block(vstate *v)
{
    steparc_reader *r = v->r;
    if (!r->sec[SA_SLOT_DICT].present || r->nblocks == 0)
        return;
    sa_block_entry e0;
    sa_block_entry_at(r, 0, &e0);
    const sa_section *ds = &r->sec[SA_SLOT_DICT].s;
    int ok = 0;
    for (uint64_t at = SA_FILE_HEADER_SIZE; at + SA_BLOCK_HEADER_SIZE <= e0.offset; at++) {
        if (memcmp(r->base + at, r->hdr.sync, SA_SYNC_SIZE) != 0)
            continue;
        sa_block_header h;
        const char *why;
        ok = sa_block_check(r->hdr.sync, r->base + at, e0.offset - at, NULL, &h, &why) == 0 &&
             h.kind == SA_BLOCK_DICT && h.stored_size == ds->length &&
             memcmp(r->base + at + SA_BLOCK_HEADER_SIZE, r->base + ds->offset, h.stored_size) == 0;
        break;
    }
    if (!ok)
        problem(v, -1, SA_FILE_HEADER_SIZE,
                "the dictionary block (before block 0, at offset %llu) is damaged or missing; "
                "its copy in the index sections is intact", (unsigned long long)SA_FILE_HEADER_SIZE);
}

int steparc_verify(uint64_t *nproblems, steparc_reader *r,
                   void (*report)(void *ctx, const steparc_problem *p), void *ctx)
{
    if (r == NULL)
        return STEPARC_E_ARG;
    vstate v = {r, report, ctx, 0};
    if (r->ignored_tail)
        problem(&v, -1, r->size - r->ignored_tail,
                "%llu bytes after the last valid footer are not part of the archive (an interrupted "
                "append?); the records before it are intact", (unsigned long long)r->ignored_tail);
    expect x;
    memset(&x, 0, sizeof x);
    block_kinds_section(&v, &x);
    if (check_blocks(&v, &x) != 0)
        return sa_rfail(r, STEPARC_E_NOMEM, "out of memory");
    check_indexes(&v, &x);
    check_stats(&v);
    check_dict_block(&v);
    if (nproblems)
        *nproblems = v.n;
    if (v.n)
        return sa_rfail(r, STEPARC_E_CORRUPT, "%llu problem(s) found", (unsigned long long)v.n);
    return 0;
}
