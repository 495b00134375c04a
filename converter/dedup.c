/* dedup.c - duplicates: one record per identity, its most advanced state.
 *
 * A record's identity is (kind, id), and (kind, vector_store_id, id) for a
 * vector_store.file (whose id is the file's: a file may be in several
 * stores). Each record with an id adds an 80-byte entry: a 64-bit hash of the
 * identity (big-endian, so that entries sort by it), the kind, the id's
 * length and its first 64 bytes, the ordinal (big-endian) and the rank of
 * its status. Sorted, the entries of one identity are adjacent and in input
 * order; the winner of each group is known in one pass, with no random
 * access. Ids longer than 64 bytes, and vector_store.file identities, are
 * compared in full by reading the records back. When some records lose, the
 * archive is written again without them (rewrite_without). */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include <zstd.h>

#include "writer_impl.h"

/* duplicate-detection entries */
#define DD_SIZE SA_WR_DD_SIZE
#define DD_ID 64
#define DD_KIND 8                   /* offset of the kind */
#define DD_LEN 9                    /* of the id's length (255: compare in full) */
#define DD_GROUP (8 + 1 + 1 + DD_ID) /* bytes that identify a record: hash, kind, length, id */
#define DD_RANK (DD_GROUP + 4)      /* after the ordinal */

static int str_is(steparc_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.ptr && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* The rank of a status among the states of a kind: a record of higher rank
 * wins, among equals the one seen last (docs/ISSUE13 design: steps and
 * records without a known kind as before 1.3; runs in the order of their
 * life cycle; messages in_progress < completed/incomplete; every other kind
 * 1: the last seen). */
static unsigned char status_rank(int kind, steparc_str s)
{
    static const char *const step_terminal[] = {"completed", "failed", "cancelled", "expired"};
    static const char *const run_order[] = {"queued", "in_progress", "requires_action", "cancelling"};
    static const char *const run_terminal[] = {"completed", "failed", "cancelled", "expired",
                                               "incomplete"};
    switch (kind) {
    case STEPARC_KIND_STEP:
    case STEPARC_KIND_OTHER:
        for (size_t i = 0; i < 4; i++)
            if (str_is(s, step_terminal[i]))
                return 2;
        return 1;
    case STEPARC_KIND_RUN:
        for (size_t i = 0; i < 4; i++)
            if (str_is(s, run_order[i]))
                return (unsigned char)(i + 1);
        for (size_t i = 0; i < 5; i++)
            if (str_is(s, run_terminal[i]))
                return 5;
        return 1;
    case STEPARC_KIND_MESSAGE:
        return str_is(s, "completed") || str_is(s, "incomplete") ? 2 : 1;
    default:
        return 1;
    }
}

int sa_wr_dedup_push(steparc_writer *w, const void *mp, size_t len, const sa_keyfields *kf,
                     int kind, uint64_t idh)
{
    unsigned char e[DD_SIZE];
    memset(e, 0, sizeof e);
    int full = kf->id.len > DD_ID;
    if (kind == STEPARC_KIND_VECTOR_STORE_FILE) {
        /* one entry per membership: the store's id joins the hash, and the
         * identities are compared in full (read back: such records are few) */
        steparc_str vs;
        if (sa_mp_find_str(mp, len, "vector_store_id", 15, &vs) != 0)
            return STEPARC_E_INPUT;
        if (vs.ptr)
            idh ^= sa_fmix64(sa_hash64(vs.ptr, vs.len) + 1);
        full = 1;
    }
    sa_put_be64(e, idh);
    e[DD_KIND] = (unsigned char)kind;
    e[DD_LEN] = (unsigned char)(full ? 255 : kf->id.len);
    memcpy(e + DD_LEN + 1, kf->id.ptr, kf->id.len > DD_ID ? DD_ID : kf->id.len);
    uint64_t o = w->acc.records;
    e[DD_GROUP] = (unsigned char)(o >> 24);
    e[DD_GROUP + 1] = (unsigned char)(o >> 16);
    e[DD_GROUP + 2] = (unsigned char)(o >> 8);
    e[DD_GROUP + 3] = (unsigned char)o;
    e[DD_RANK] = status_rank(kind, kf->status);
    return sa_sorter_push(w->dd.sorter, e);
}

/* Reads block b of the temporary file back (for dedup) and decodes it with
 * the block decoder (format/archive.c): its header in *hout, its stored bytes
 * in stored->data (hout->stored_size of them) and its rows payload in raw. */
static int read_block(steparc_writer *w, uint64_t b, ZSTD_DCtx *d, steparc_buf *stored,
                      steparc_buf *raw, sa_block_header *hout)
{
    sa_block_entry e;
    sa_block_entry_decode((const unsigned char *)w->idx.bindex.data + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
    unsigned char hb[SA_BLOCK_HEADER_SIZE];
    sa_block_header h;
    const char *why;
    stored->len = raw->len = 0;
    if (pread(w->file.fd, hb, sizeof hb, (off_t)e.offset) != (ssize_t)sizeof hb)
        return sa_wr_io_fail(w, "cannot read back");
    if (sa_block_head(w->sync, hb, &e, &h, &why) != 0)
        return sa_wr_fail(w, STEPARC_E_IO, "block %llu reads back damaged: %s", (unsigned long long)b, why);
    if (sa_buf_reserve(stored, h.stored_size) != 0)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    size_t got = 0;
    while (got < h.stored_size) {
        ssize_t r = pread(w->file.fd, stored->data + got, h.stored_size - got,
                          (off_t)(e.offset + SA_BLOCK_HEADER_SIZE + got));
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return sa_wr_io_fail(w, "cannot read back");
        }
        got += (size_t)r;
    }
    if (sa_block_body(&h, (const unsigned char *)stored->data, got, &why) != 0)
        return sa_wr_fail(w, STEPARC_E_IO, "block %llu reads back damaged: %s", (unsigned long long)b, why);
    if ((h.flags & SA_BLOCK_FLAG_DICT) && w->dict.ddict == NULL && w->dict.bytes.len &&
        (w->dict.ddict = ZSTD_createDDict(w->dict.bytes.data, w->dict.bytes.len)) == NULL)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    unsigned char *rows;
    size_t rows_len;
    char m[200];
    int rc = sa_block_decode(&h, (const unsigned char *)stored->data, e.rows_size, d, w->dict.ddict,
                             &rows, &rows_len, m, sizeof m);
    if (rc)
        return sa_wr_fail(w, rc == STEPARC_E_NOMEM ? rc : STEPARC_E_IO, "block %llu reads back damaged: %s",
                     (unsigned long long)b, m);
    sa_free(raw->data); /* the decoded rows take the buffer's place, uncopied */
    raw->data = (char *)rows;
    raw->len = raw->cap = rows_len;
    *hout = h;
    return 0;
}

/* The writer's decompression context for reading blocks back, made on first
 * use and kept (a dedup of long ids reads back two records per duplicate). */
static ZSTD_DCtx *dctx(steparc_writer *w)
{
    if (w->dd.dctx == NULL)
        w->dd.dctx = ZSTD_createDCtx();
    return w->dd.dctx;
}

/* The identity of record `ordinal` in out, for a comparison in full (ids
 * longer than 64 bytes, vector_store.file memberships): the length of its
 * vector_store_id (8 bytes; vector_store.file only), that id, then its id. */
static int fetch_identity(steparc_writer *w, uint64_t ordinal, steparc_buf *out)
{
    uint64_t lo = 0, hi = w->acc.blocks_written;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (sa_get_u64((const unsigned char *)w->idx.bindex.data + mid * SA_BLOCK_INDEX_ENTRY_SIZE + 8) <= ordinal)
            lo = mid;
        else
            hi = mid;
    }
    ZSTD_DCtx *d = dctx(w);
    steparc_buf stored = {0}, raw = {0};
    sa_block_header h;
    int rc = d ? read_block(w, lo, d, &stored, &raw, &h) : STEPARC_E_NOMEM;
    if (rc == 0) {
        const unsigned char *p;
        size_t n;
        sa_keyfields kf;
        sa_rows_get((const unsigned char *)raw.data, h.record_count,
                    (uint32_t)(ordinal - h.first_ordinal), &p, &n);
        out->len = 0;
        steparc_str vs = {NULL, 0};
        if (sa_mp_keyfields(p, n, &kf) != 0 || kf.id.ptr == NULL ||
            (sa_keyfields_kind(&kf) == STEPARC_KIND_VECTOR_STORE_FILE &&
             sa_mp_find_str(p, n, "vector_store_id", 15, &vs) != 0)) {
            rc = sa_wr_fail(w, STEPARC_E_IO, "record %llu reads back without its id",
                            (unsigned long long)ordinal);
        } else if (sa_keyfields_kind(&kf) == STEPARC_KIND_VECTOR_STORE_FILE) {
            unsigned char l[8];
            sa_put_u64(l, vs.ptr ? vs.len + 1 : 0); /* absent and "" differ */
            if (sa_buf_append(out, l, 8) != 0 || sa_buf_append(out, vs.ptr, vs.len) != 0)
                rc = STEPARC_E_NOMEM;
        }
        if (rc == 0 && sa_buf_append(out, kf.id.ptr, kf.id.len) != 0)
            rc = STEPARC_E_NOMEM;
    }
    steparc_buf_free(&stored);
    steparc_buf_free(&raw);
    return rc;
}

typedef struct {
    steparc_writer *w;
    unsigned char *loser; /* bitmap by ordinal */
    unsigned char cur[DD_SIZE];
    int have;
    uint64_t losers;
    steparc_buf a, b;
} ddstate;

static uint32_t dd_ordinal(const unsigned char *e)
{
    return (uint32_t)e[DD_GROUP] << 24 | (uint32_t)e[DD_GROUP + 1] << 16 |
           (uint32_t)e[DD_GROUP + 2] << 8 | e[DD_GROUP + 3];
}

/* Is ordinal o marked in the losers bitmap? */
static int is_loser(const unsigned char *loser, uint64_t o)
{
    return (loser[o >> 3] >> (o & 7)) & 1;
}

static void mark(ddstate *s, uint32_t o)
{
    s->loser[o >> 3] |= (unsigned char)(1u << (o & 7));
    s->losers++;
}

static int dd_emit(void *ctx, const unsigned char *e, size_t n)
{
    ddstate *s = (ddstate *)ctx;
    for (size_t i = 0; i < n; i++, e += DD_SIZE) {
        int same = s->have && memcmp(e, s->cur, DD_GROUP) == 0;
        if (same && e[DD_LEN] == 255) {
            /* equal hashes and prefixes: compare the identities in full */
            int rc = fetch_identity(s->w, dd_ordinal(s->cur), &s->a);
            if (rc == 0)
                rc = fetch_identity(s->w, dd_ordinal(e), &s->b);
            if (rc)
                return rc;
            same = s->a.len == s->b.len && memcmp(s->a.data, s->b.data, s->a.len) == 0;
        }
        if (!same) {
            memcpy(s->cur, e, DD_SIZE);
            s->have = 1;
            continue;
        }
        /* entries of a group come in input order: the later wins ties */
        if (e[DD_RANK] >= s->cur[DD_RANK]) {
            mark(s, dd_ordinal(s->cur));
            memcpy(s->cur, e, DD_SIZE);
        } else {
            mark(s, dd_ordinal(e));
        }
    }
    return 0;
}

/* A block of the first writer with no record to drop goes to w2 as it is:
 * its stored bytes under a new header (first_ordinal lowered by the records
 * dropped before it). Only its records' index entries and statistics are
 * computed, from their key fields in rows (the block's decoded rows). */
static int copy_block(steparc_writer *w2, const sa_block_header *h, uint32_t rows_size,
                      const steparc_buf *stored, const steparc_buf *rows)
{
    int rc = sa_wr_flush_block(w2); /* the records added before it, in order */
    if (rc == 0)
        rc = sa_wr_pool_finish(w2);
    if (rc)
        return rc;
    sa_block_header nh = *h;
    nh.first_ordinal = w2->acc.records;
    for (uint32_t i = 0; i < h->record_count; i++) {
        const unsigned char *p;
        size_t n;
        sa_keyfields kf;
        sa_rows_get((const unsigned char *)rows->data, h->record_count, i, &p, &n);
        if (sa_mp_keyfields(p, n, &kf) != 0)
            return sa_wr_fail(w2, STEPARC_E_INPUT, "record is not a MessagePack map");
        if ((rc = sa_wr_account(w2, p, n, &kf)) != 0)
            return rc;
    }
    if ((rc = sa_wr_end_block(w2)) != 0)
        return rc;
    steparc_buf out = {0};
    if (sa_buf_reserve(&out, SA_BLOCK_HEADER_SIZE + (size_t)h->stored_size) != 0)
        return sa_wr_fail(w2, STEPARC_E_NOMEM, "out of memory");
    /* sa_wr_write_block encodes the header in front; read_block left the
     * stored bytes in stored->data (their size is the header's) */
    memcpy(out.data + SA_BLOCK_HEADER_SIZE, stored->data, h->stored_size);
    out.len = SA_BLOCK_HEADER_SIZE + (size_t)h->stored_size;
    rc = sa_wr_write_block(w2, &nh, rows_size, &out);
    steparc_buf_free(&out);
    return rc;
}

/* Writes the final archive again without the losers, from the blocks of the
 * temporary file, through a second writer that renames over the path. A
 * block without losers is copied as it is (a few duplicates among millions
 * of records cost a read of the archive, not a second conversion). */
static int rewrite_without(steparc_writer *w, const unsigned char *loser)
{
    steparc_writer_options o = w->opt;
    o.dedup = 0;
    steparc_writer *w2 = NULL;
    char why[300];
    int rc = steparc_writer_open(&w2, w->file.path, &o, why, sizeof why);
    if (rc)
        return sa_wr_fail(w, rc, "cannot create the deduplicated archive: %s", why);
    if ((rc = sa_wr_adopt_dict(w2, w)) != 0)
        sa_wr_fail(w, rc, "%s", steparc_writer_errmsg(w2));
    ZSTD_DCtx *d = dctx(w);
    steparc_buf stored = {0}, raw = {0};
    if (d == NULL && rc == 0)
        rc = sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    for (uint64_t b = 0; b < w->acc.blocks_written && rc == 0; b++) {
        sa_block_header h;
        sa_block_entry e;
        sa_block_entry_decode((const unsigned char *)w->idx.bindex.data + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
        int clean = 1;
        for (uint64_t o2 = e.first_ordinal; clean && o2 < e.first_ordinal + e.record_count; o2++)
            clean = !is_loser(loser, o2);
        rc = read_block(w, b, d, &stored, &raw, &h);
        if (rc == 0 && clean) {
            rc = copy_block(w2, &h, e.rows_size, &stored, &raw);
            if (rc)
                sa_wr_fail(w, rc, "%s", steparc_writer_errmsg(w2));
            continue;
        }
        for (uint32_t i = 0; i < h.record_count && rc == 0; i++) {
            if (is_loser(loser, h.first_ordinal + i))
                continue;
            const unsigned char *p;
            size_t n;
            sa_rows_get((const unsigned char *)raw.data, h.record_count, i, &p, &n);
            rc = sa_writer_add_trusted(w2, p, n);
            if (rc)
                sa_wr_fail(w, rc, "%s", steparc_writer_errmsg(w2));
        }
    }
    if (rc == 0) {
        rc = steparc_writer_finish(w2);
        if (rc)
            sa_wr_fail(w, rc, "%s", steparc_writer_errmsg(w2));
    }
    steparc_buf_free(&stored);
    steparc_buf_free(&raw);
    steparc_writer_close(w2);
    return rc;
}

/* Finds the duplicates; when there are some, writes the archive again without
 * them. *done = 1 when the final archive was written that way. */
int sa_wr_dedup_finish(steparc_writer *w, int *done)
{
    *done = 0;
    if (w->dd.sorter == NULL || sa_sorter_count(w->dd.sorter) < 2)
        return 0;
    ddstate s;
    memset(&s, 0, sizeof s);
    s.w = w;
    s.loser = (unsigned char *)sa_calloc((size_t)(w->acc.records / 8 + 1), 1);
    if (s.loser == NULL)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    int rc = sa_sorter_finish(w->dd.sorter, 0, dd_emit, &s);
    if (rc && w->err[0] == 0)
        sa_wr_fail(w, rc, "cannot sort the ids to find duplicates: %s", steparc_strerror(rc));
    if (rc == 0 && s.losers > 0) {
        /* the second writer builds its own indexes: free these first */
        sa_sorter_close(w->idx.ids);
        w->idx.ids = NULL;
        for (int k = 0; k < 3; k++) {
            sa_sorter_close(w->idx.post[k]);
            w->idx.post[k] = NULL;
        }
        rc = rewrite_without(w, s.loser);
        if (rc == 0) {
            w->dd.duplicates = s.losers;
            *done = 1;
        }
    }
    sa_free(s.loser);
    steparc_buf_free(&s.a);
    steparc_buf_free(&s.b);
    return rc;
}
