/* cursor.c - filtered iteration in archive order. The candidate blocks come
 * from the postings (run, thread, assistant), the zone maps (created_at) and
 * the block kinds (section 12); each record of a candidate block is then
 * checked exactly, so hash collisions in the indexes never produce a wrong
 * match. */
#include <stdarg.h>
#include <stdio.h>

#include "reader_internal.h"

struct steparc_cursor {
    steparc_reader *r;
    steparc_filter f;
    int plain;          /* no per-record filter: skip reading the key fields */
    const unsigned char *bkinds; /* the block kinds section (checked), or NULL */
    uint64_t first_block; /* with no block list: blocks [first_block, nblocks) */
    char *strings;      /* owned copies of the filter's strings */
    uint64_t *blocks;   /* candidate blocks, ascending; NULL = every block */
    uint64_t nblocks, pos;
    sa_cblock *cur;
    uint32_t idx;
    uint64_t blocks_read;
    char err[512];
};

static int cfail(steparc_cursor *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfail(steparc_cursor *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return status;
}

typedef struct {
    steparc_reader *r;
    uint64_t *b;
    size_t n, cap;
} post_ctx;

static int post_add(void *ctx, uint64_t blk)
{
    post_ctx *c = (post_ctx *)ctx;
    if (blk >= c->r->nblocks)
        return sa_rfail(c->r, STEPARC_E_CORRUPT, "postings entry points past the last block");
    if (c->n > 0 && c->b[c->n - 1] >= blk)
        return c->b[c->n - 1] == blk ? 0
                                     : sa_rfail(c->r, STEPARC_E_CORRUPT, "postings section is not sorted");
    if (SA_GROW(c->b, c->cap, c->n, 16) != 0)
        return STEPARC_E_NOMEM;
    c->b[c->n++] = blk;
    return 0;
}

/* Blocks listed for `s` in a postings section (plain or packed), ascending.
 * *out NULL and *n 0 when none. */
static int posting_blocks(steparc_reader *r, int slot, steparc_str s, uint64_t **out, uint64_t *n)
{
    *out = NULL;
    *n = 0;
    post_ctx c = {r, NULL, 0, 0};
    int rc = sa_index_find(r, slot, sa_key32(s.ptr, s.len), post_add, &c);
    if (rc) {
        sa_free(c.b);
        return rc;
    }
    *out = c.b;
    *n = c.n;
    return 0;
}

typedef struct {
    steparc_reader *r;
    post_ctx *blocks;
} id_ctx;

static int id_add(void *ctx, uint64_t ord)
{
    id_ctx *c = (id_ctx *)ctx;
    if (ord >= c->r->ft.record_count)
        return sa_rfail(c->r, STEPARC_E_CORRUPT, "id index entry points past the last record");
    uint64_t blk = sa_block_of(c->r, ord);
    post_ctx *p = c->blocks;
    for (size_t i = p->n; i-- > 0;) /* usually no or one record: a linear merge */
        if (p->b[i] == blk)
            return 0;
    if (SA_GROW(p->b, p->cap, p->n, 16) != 0)
        return STEPARC_E_NOMEM;
    size_t at = p->n;
    while (at > 0 && p->b[at - 1] > blk) {
        p->b[at] = p->b[at - 1];
        at--;
    }
    p->b[at] = blk;
    p->n++;
    return 0;
}

/* Candidate blocks of a run, thread or assistant filter s: its postings and,
 * because the run, thread or assistant record itself matches too (its own
 * "id"), the blocks of the records with id s. Archives before 1.3 do not
 * post a record under its own id, so the id index finds it; 1.3 archives
 * post it, and the id lookup adds nothing. *usable 0: the archive has
 * postings but neither own-id postings (1.3) nor an id index, so the
 * postings cannot rule a block out (filter record by record). */
static int candidate_blocks(steparc_reader *r, int slot, steparc_str s, uint64_t **out,
                            uint64_t *n, int *usable)
{
    *usable = r->sec[slot].present && (r->hdr.minor >= 3 || r->sec[SA_SLOT_IDS].present);
    if (!*usable)
        return 0;
    int rc = posting_blocks(r, slot, s, out, n);
    if (rc || !r->sec[SA_SLOT_IDS].present)
        return rc;
    post_ctx p = {r, *out, (size_t)*n, (size_t)*n};
    id_ctx c = {r, &p};
    rc = sa_index_find(r, SA_SLOT_IDS, sa_key32(s.ptr, s.len), id_add, &c);
    if (rc == STEPARC_E_NOTFOUND)
        rc = 0;
    *out = p.b;
    *n = p.n;
    return rc;
}

static void intersect(uint64_t *a, uint64_t *na, const uint64_t *b, uint64_t nb)
{
    uint64_t i = 0, j = 0, o = 0;
    while (i < *na && j < nb) {
        if (a[i] < b[j])
            i++;
        else if (a[i] > b[j])
            j++;
        else {
            a[o++] = a[i];
            i++;
            j++;
        }
    }
    *na = o;
}

int steparc_cursor_open(steparc_cursor **out, steparc_reader *r, const steparc_filter *f)
{
    if (r == NULL || out == NULL)
        return STEPARC_E_ARG;
    *out = NULL;
    steparc_cursor *c = (steparc_cursor *)sa_calloc(1, sizeof *c);
    if (c == NULL)
        return STEPARC_E_NOMEM;
    c->r = r;
    if (f)
        c->f = *f;
    /* copy the strings: the caller's may go away */
    steparc_str *strs[6] = {&c->f.run_id, &c->f.thread_id, &c->f.assistant_id,
                            &c->f.status, &c->f.type, &c->f.tool};
    size_t total = 0;
    for (int k = 0; k < 6; k++) {
        if (strs[k]->ptr == NULL && strs[k]->len)
            strs[k]->len = 0;
        total += strs[k]->ptr ? strs[k]->len : 0;
    }
    c->strings = (char *)sa_malloc(total + 1);
    if (c->strings == NULL) {
        sa_free(c);
        return STEPARC_E_NOMEM;
    }
    size_t at = 0;
    for (int k = 0; k < 6; k++) {
        if (strs[k]->ptr == NULL)
            continue;
        memcpy(c->strings + at, strs[k]->ptr, strs[k]->len);
        strs[k]->ptr = c->strings + at;
        at += strs[k]->len;
    }
    /* candidate blocks from the postings */
    static const int slots[3] = {SA_SLOT_RUNS, SA_SLOT_THREADS, SA_SLOT_ASSISTANTS};
    int have_list = 0;
    for (int k = 0; k < 3; k++) {
        if (strs[k]->ptr == NULL)
            continue;
        uint64_t *b = NULL, nb = 0;
        int usable;
        int rc = candidate_blocks(r, slots[k], *strs[k], &b, &nb, &usable);
        if (rc) {
            sa_free(b);
            steparc_cursor_close(c);
            return rc;
        }
        if (!usable)
            continue; /* no postings: filter record by record */
        if (!have_list) {
            c->blocks = b ? b : (uint64_t *)sa_malloc(sizeof(uint64_t));
            c->nblocks = nb;
            have_list = 1;
            if (c->blocks == NULL) {
                steparc_cursor_close(c);
                return STEPARC_E_NOMEM;
            }
        } else {
            intersect(c->blocks, &c->nblocks, b, nb);
            sa_free(b);
        }
    }
    if (!have_list) {
        c->nblocks = r->nblocks;
        if (c->f.has_range && r->ft.record_count) {
            /* only the blocks that hold [from, to) */
            uint64_t to = c->f.range_to < r->ft.record_count ? c->f.range_to : r->ft.record_count;
            if (c->f.range_from >= to) {
                c->nblocks = 0;
            } else {
                c->first_block = sa_block_of(r, c->f.range_from);
                c->nblocks = sa_block_of(r, to - 1) + 1;
            }
            c->pos = c->first_block;
        }
    }
    if (c->f.kinds && r->sec[SA_SLOT_BLOCK_KINDS].present) {
        uint64_t len;
        int rc = sa_section_get(r, SA_SLOT_BLOCK_KINDS, &c->bkinds, &len);
        if (rc) {
            steparc_cursor_close(c);
            return rc;
        }
    }
    c->plain = !c->f.run_id.ptr && !c->f.thread_id.ptr && !c->f.assistant_id.ptr &&
               !c->f.status.ptr && !c->f.type.ptr && !c->f.tool.ptr && !c->f.has_since &&
               !c->f.has_until && !c->f.kinds;
    *out = c;
    return 0;
}

static int block_may_match(steparc_cursor *c, uint64_t b)
{
    /* the length (4 x block count) was checked at open, the CRC by cursor_open */
    if (c->bkinds && (sa_get_u32(c->bkinds + 4 * b) & c->f.kinds) == 0)
        return 0;
    if (!c->f.has_since && !c->f.has_until)
        return 1;
    sa_block_entry e;
    sa_block_entry_at(c->r, b, &e);
    if (e.min_created_at > e.max_created_at)
        return 0; /* no record with a timestamp */
    if (c->f.has_since && e.max_created_at < c->f.since)
        return 0;
    if (c->f.has_until && e.min_created_at > c->f.until)
        return 0;
    return 1;
}

static int str_eq(steparc_str a, steparc_str b)
{
    return a.ptr != NULL && a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Does some step_details.tool_calls[].type equal tool? */
static int has_tool(const unsigned char *p, size_t len, steparc_str tool)
{
    sa_mpr r = {p, p + len};
    sa_mpitem m, k, v;
    if (sa_mp_read(&r, &m) != 0 || m.type != SA_MP_MAP)
        return 0;
    for (uint32_t i = 0; i < m.n; i++) {
        if (sa_mp_read(&r, &k) != 0 || k.type != SA_MP_STR)
            return 0;
        if (!(k.n == 12 && memcmp(k.s, "step_details", 12) == 0)) {
            if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                return 0;
            continue;
        }
        if (sa_mp_read(&r, &v) != 0 || v.type != SA_MP_MAP)
            return 0;
        for (uint32_t j = 0; j < v.n; j++) {
            if (sa_mp_read(&r, &k) != 0 || k.type != SA_MP_STR)
                return 0;
            if (!(k.n == 10 && memcmp(k.s, "tool_calls", 10) == 0)) {
                if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                    return 0;
                continue;
            }
            sa_mpitem a;
            if (sa_mp_read(&r, &a) != 0 || a.type != SA_MP_ARRAY)
                return 0;
            for (uint32_t t = 0; t < a.n; t++) {
                sa_mpitem tc;
                const unsigned char *start = r.p;
                if (sa_mp_read(&r, &tc) != 0)
                    return 0;
                if (tc.type != SA_MP_MAP) {
                    r.p = start;
                    if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                        return 0;
                    continue;
                }
                for (uint32_t q = 0; q < tc.n; q++) {
                    sa_mpitem tk, tv;
                    if (sa_mp_read(&r, &tk) != 0 || tk.type != SA_MP_STR)
                        return 0;
                    const unsigned char *vs = r.p;
                    if (tk.n == 4 && memcmp(tk.s, "type", 4) == 0 && sa_mp_read(&r, &tv) == 0 &&
                        tv.type == SA_MP_STR && tv.n == tool.len && memcmp(tv.s, tool.ptr, tool.len) == 0)
                        return 1;
                    r.p = vs;
                    if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                        return 0;
                }
            }
            return 0;
        }
        return 0;
    }
    return 0;
}

static int record_matches(const steparc_filter *f, const unsigned char *p, size_t len, int *ok)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(p, len, &kf) != 0)
        return STEPARC_E_CORRUPT;
    *ok = 0;
    int kind = STEPARC_KIND_OTHER;
    if (f->kinds || f->run_id.ptr || f->thread_id.ptr || f->assistant_id.ptr)
        kind = sa_keyfields_kind(&kf);
    if (f->kinds && !(f->kinds & STEPARC_KIND_BIT(kind)))
        return 0;
    /* the record's field, or the run/thread/assistant itself (its own id) */
    if (f->run_id.ptr && !str_eq(kf.run_id, f->run_id) &&
        !(kind == STEPARC_KIND_RUN && str_eq(kf.id, f->run_id)))
        return 0;
    if (f->thread_id.ptr && !str_eq(kf.thread_id, f->thread_id) &&
        !(kind == STEPARC_KIND_THREAD && str_eq(kf.id, f->thread_id)))
        return 0;
    if (f->assistant_id.ptr && !str_eq(kf.assistant_id, f->assistant_id) &&
        !(kind == STEPARC_KIND_ASSISTANT && str_eq(kf.id, f->assistant_id)))
        return 0;
    if (f->status.ptr && !str_eq(kf.status, f->status))
        return 0;
    if (f->type.ptr && !str_eq(kf.type, f->type))
        return 0;
    if (f->tool.ptr && !has_tool(p, len, f->tool))
        return 0;
    if ((f->has_since || f->has_until) && !kf.has_created_at)
        return 0;
    if (f->has_since && kf.created_at < f->since)
        return 0;
    if (f->has_until && kf.created_at > f->until)
        return 0;
    *ok = 1;
    return 0;
}

int steparc_cursor_next(uint64_t *ordinal, const void **mp, size_t *mp_len, steparc_cursor *c)
{
    if (c == NULL || ordinal == NULL || mp == NULL || mp_len == NULL)
        return STEPARC_E_ARG;
    for (;;) {
        if (c->cur == NULL) {
            uint64_t b;
            do {
                if (c->pos >= c->nblocks)
                    return STEPARC_END;
                b = c->blocks ? c->blocks[c->pos] : c->pos;
                c->pos++;
            } while (!block_may_match(c, b));
            int rc = sa_block_pin(c->r, b, &c->cur);
            if (rc) {
                c->cur = NULL;
                return cfail(c, rc, "%s", steparc_reader_errmsg(c->r));
            }
            c->blocks_read++;
            c->idx = 0;
        }
        while (c->idx < c->cur->count) {
            const unsigned char *p;
            size_t len;
            uint32_t k = c->idx++;
            sa_rows_get(c->cur->raw, c->cur->count, k, &p, &len);
            int ok = 1;
            if (c->f.has_range && (c->cur->first + k < c->f.range_from || c->cur->first + k >= c->f.range_to))
                continue;
            if (!c->plain && record_matches(&c->f, p, len, &ok) != 0)
                return cfail(c, STEPARC_E_CORRUPT, "record %llu is not a MessagePack map",
                             (unsigned long long)(c->cur->first + k));
            if (ok) {
                *ordinal = c->cur->first + k;
                *mp = p;
                *mp_len = len;
                return 0;
            }
        }
        sa_block_unpin(c->r, c->cur);
        c->cur = NULL;
    }
}

uint64_t steparc_cursor_blocks_read(const steparc_cursor *c)
{
    return c ? c->blocks_read : 0;
}

const char *steparc_cursor_errmsg(const steparc_cursor *c)
{
    return c ? c->err : "no cursor";
}

void steparc_cursor_close(steparc_cursor *c)
{
    if (c == NULL)
        return;
    sa_block_unpin(c->r, c->cur);
    sa_free(c->blocks);
    sa_free(c->strings);
    sa_free(c);
}
