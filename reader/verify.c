/* verify.c - check every checksum and every index against the data.
 *
 * Indexes are compared with what the records imply through order-independent
 * digests (count, sum and xor of the expected entries), so verification needs
 * constant memory whatever the archive size. Sortedness is checked directly. */
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

int steparc_verify(steparc_reader *r, void (*report)(void *ctx, const steparc_problem *p),
                   void *ctx, uint64_t *nproblems)
{
    if (r == NULL)
        return STEPARC_E_ARG;
    vstate v = {r, report, ctx, 0};
    if (r->ignored_tail)
        problem(&v, -1, r->size - r->ignored_tail,
                "%llu bytes after the last valid footer are not part of the archive (an interrupted "
                "append?); the records before it are intact", (unsigned long long)r->ignored_tail);
    digest want[4], have[4];
    memset(want, 0, sizeof want);
    memset(have, 0, sizeof have);
    uint32_t *keys[3] = {NULL, NULL, NULL};
    size_t cap = 0;
    int rc = 0;
    int bad_blocks = 0;
    for (uint64_t b = 0; b < r->nblocks; b++) {
        sa_block_entry e;
        sa_block_entry_at(r, b, &e);
        sa_cblock *c;
        rc = sa_block_load(r, b, &c);
        if (rc == STEPARC_E_NOMEM)
            break;
        if (rc) {
            problem(&v, (int64_t)b, e.offset, "%s", steparc_reader_errmsg(r));
            bad_blocks++;
            rc = 0;
            continue;
        }
        if (c->count > cap) {
            for (int k = 0; k < 3; k++) {
                uint32_t *nk = (uint32_t *)sa_realloc(keys[k], c->count * sizeof(uint32_t));
                if (nk == NULL)
                    rc = STEPARC_E_NOMEM;
                else
                    keys[k] = nk;
            }
            if (rc) {
                sa_free(c->raw);
                sa_free(c);
                break;
            }
            cap = c->count;
        }
        size_t nk[3] = {0, 0, 0};
        int64_t mn = INT64_MAX, mx = INT64_MIN;
        for (uint32_t i = 0; i < c->count; i++) {
            const unsigned char *p;
            size_t len;
            char why[160];
            sa_rows_get(c->raw, c->count, i, &p, &len);
            int vr = sa_mp_validate(p, len, why, sizeof why);
            if (vr == STEPARC_E_NOMEM) {
                rc = vr;
                break;
            }
            if (vr) {
                problem(&v, (int64_t)b, e.offset, "record %llu is invalid: %s",
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
                dig_add(&want[0], ((uint64_t)sa_key32(kf.id.ptr, kf.id.len) << 32) | (c->first + i));
            const steparc_str *ps[3] = {&kf.run_id, &kf.thread_id, &kf.assistant_id};
            for (int k = 0; k < 3; k++)
                if (ps[k]->ptr)
                    keys[k][nk[k]++] = sa_key32(ps[k]->ptr, ps[k]->len);
        }
        if (rc == 0 && (mn != e.min_created_at || mx != e.max_created_at))
            problem(&v, (int64_t)b, e.offset,
                    "block %llu: created_at range in the index differs from its records",
                    (unsigned long long)b);
        for (int k = 0; k < 3 && rc == 0; k++) {
            qsort(keys[k], nk[k], sizeof(uint32_t), cmp_u32);
            for (size_t i = 0; i < nk[k]; i++)
                if (i == 0 || keys[k][i] != keys[k][i - 1])
                    dig_add(&want[k + 1], ((uint64_t)keys[k][i] << 32) | b);
        }
        sa_free(c->raw);
        sa_free(c);
        if (rc)
            break;
    }
    for (int k = 0; k < 3; k++)
        sa_free(keys[k]);
    if (rc == STEPARC_E_NOMEM)
        return sa_rfail(r, rc, "out of memory");
    static const int slots[4] = {SA_SLOT_IDS, SA_SLOT_RUNS, SA_SLOT_THREADS, SA_SLOT_ASSISTANTS};
    static const char *names[4] = {"id index", "run postings", "thread postings",
                                   "assistant postings"};
    for (int k = 0; k < 4; k++) {
        int s = section_digest(&v, slots[k], k != 0, &have[k]);
        if (s != 0 || bad_blocks)
            continue; /* absent, already reported, or unverifiable with lost blocks */
        if (have[k].count != want[k].count || have[k].sum != want[k].sum || have[k].x != want[k].x)
            problem(&v, -1, r->sec[slots[k]].s.offset,
                    "%s does not match the records (%llu entries, %llu expected)", names[k],
                    (unsigned long long)have[k].count, (unsigned long long)want[k].count);
    }
    if (r->sec[SA_SLOT_STATS].present) {
        const unsigned char *p;
        uint64_t len;
        int s = sa_section_get(r, SA_SLOT_STATS, &p, &len);
        if (s)
            problem(&v, -1, r->sec[SA_SLOT_STATS].s.offset, "%s", steparc_reader_errmsg(r));
        else {
            char why[160];
            if (sa_mp_validate(p, (size_t)len, why, sizeof why) != 0)
                problem(&v, -1, r->sec[SA_SLOT_STATS].s.offset, "statistics section is invalid: %s",
                        why);
        }
    }
    if (r->sec[SA_SLOT_DICT].present && r->nblocks > 0) {
        /* the dictionary block precedes the data blocks: find it and compare
         * it with its copy (section 7) */
        sa_block_entry e0;
        sa_block_entry_at(r, 0, &e0);
        const sa_section *ds = &r->sec[SA_SLOT_DICT].s;
        int ok = 0;
        uint64_t at = SA_FILE_HEADER_SIZE;
        for (; at + SA_BLOCK_HEADER_SIZE <= e0.offset; at++) {
            if (memcmp(r->base + at, r->hdr.sync, SA_SYNC_SIZE) != 0)
                continue;
            sa_block_header h;
            const char *why;
            if (sa_block_header_decode(r->hdr.sync, r->base + at, &h, &why) == 0 &&
                h.kind == SA_BLOCK_DICT && h.stored_size == ds->length &&
                at + SA_BLOCK_HEADER_SIZE + h.stored_size <= e0.offset &&
                sa_crc32c(0, r->base + at + SA_BLOCK_HEADER_SIZE, h.stored_size) == h.payload_crc &&
                memcmp(r->base + at + SA_BLOCK_HEADER_SIZE, r->base + ds->offset, h.stored_size) == 0)
                ok = 1;
            break;
        }
        if (!ok)
            problem(&v, -1, SA_FILE_HEADER_SIZE,
                    "the dictionary block (before block 0, at offset %llu) is damaged or missing; "
                    "its copy in the index sections is intact", (unsigned long long)SA_FILE_HEADER_SIZE);
    }
    if (nproblems)
        *nproblems = v.n;
    if (v.n)
        return sa_rfail(r, STEPARC_E_CORRUPT, "%llu problem(s) found", (unsigned long long)v.n);
    return 0;
}
