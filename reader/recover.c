/* recover.c - save every intact block of a damaged archive.
 *
 * Blocks describe themselves (sync marker, header with its own CRC, payload
 * CRC), so they can be found and checked without the footer or the indexes,
 * as Avro's sync markers and Riegeli's block headers allow. A scan continues
 * past anything that fails a check: one damaged block costs only its records. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <zstd.h>

#include "archive.h"
#include "record.h"

static const unsigned char g_default_sync[SA_SYNC_SIZE] = SA_DEFAULT_SYNC;

static void problem(void (*report)(void *, const steparc_problem *), void *ctx, uint64_t off,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(void (*report)(void *, const steparc_problem *), void *ctx, uint64_t off,
                    const char *fmt, ...)
{
    if (report == NULL)
        return;
    steparc_problem p;
    va_list ap;
    p.block = -1;
    p.offset = off;
    va_start(ap, fmt);
    vsnprintf(p.what, sizeof p.what, fmt, ap);
    va_end(ap);
    report(ctx, &p);
}

/* The state of one recovery. */
typedef struct {
    const unsigned char *b;
    size_t len;
    unsigned char sync[SA_SYNC_SIZE];
    steparc_writer *w;
    steparc_recover_report *rep;
    void (*report)(void *, const steparc_problem *);
    void *ctx;
    /* the dictionary's second copy, through the footer, in case its block is damaged */
    const unsigned char *dict_sec;
    size_t dict_len;
    ZSTD_DDict *ddict;
    ZSTD_DCtx *d;
    uint64_t next_ordinal; /* blocks carry their first ordinal: gaps are lost records */
    /* the blocks saved, to check them against a block index found after the
     * last one when the footer is gone */
    struct fb { uint64_t off, first; uint32_t count; } *found;
    size_t nfound, capfound;
    size_t last_end;
} rstate;

#define PROBLEM(s, off, ...) problem((s)->report, (s)->ctx, (off), __VA_ARGS__)

/* Phase 1: the sync marker (12, step 1). Returns where the scan starts. */
static size_t pick_sync(rstate *s)
{
    sa_file_header h;
    if (s->len >= SA_FILE_HEADER_SIZE && sa_file_header_decode(s->b, &h) == 0) {
        memcpy(s->sync, h.sync, SA_SYNC_SIZE);
    } else {
        memcpy(s->sync, g_default_sync, SA_SYNC_SIZE);
        PROBLEM(s, 0, "file header is damaged; scanning with the default sync marker");
    }
    return SA_FILE_HEADER_SIZE; /* no block starts inside the header */
}

/* Phase 2: what a valid footer says, if there is one: the record count and
 * the dictionary's copy. The block index is not needed (nor trusted). */
static void read_footer(rstate *s)
{
    sa_footer f;
    uint64_t fat;
    const char *why;
    if (sa_find_footer(s->b, s->len, &f, &fat, &why) != 0)
        return;
    /* an earlier footer (an append was cut) does not count the records
     * after it; its dictionary copy still serves */
    s->rep->footer_found = fat + SA_FOOTER_SIZE == s->len;
    s->rep->records_expected = s->rep->footer_found ? f.record_count : 0;
    for (uint32_t i = 0; i < f.section_count; i++) {
        sa_section sec;
        sa_section_decode(s->b + f.section_table_offset + (uint64_t)i * SA_SECTION_ENTRY_SIZE, &sec);
        if (sec.type == SA_SEC_DICTIONARY && sa_section_in_range(&sec, f.section_table_offset) &&
            sec.length > 0 && sec.length <= SA_MAX_DICT && sa_section_crc_check(s->b, &sec) == 0) {
            s->dict_sec = s->b + sec.offset;
            s->dict_len = (size_t)sec.length;
        }
    }
}

/* A dictionary block at `at` whose header checked: it supplies the
 * dictionary for the blocks after it. The next scan position, 0 on
 * STEPARC_E_NOMEM. */
static size_t take_dict(rstate *s, size_t at, const sa_block_header *bh, int *rc)
{
    const char *why;
    const unsigned char *payload = s->b + at + SA_BLOCK_HEADER_SIZE;
    if (sa_block_body(bh, payload, s->len - at - SA_BLOCK_HEADER_SIZE, &why) != 0) {
        /* costs nothing when the footer's copy is intact */
        PROBLEM(s, at, "dictionary block is damaged%s",
                s->dict_sec ? "; using the copy in the index sections" : "");
        if (s->dict_sec == NULL)
            s->rep->blocks_damaged++;
        return at + 1;
    }
    ZSTD_freeDDict(s->ddict);
    s->ddict = ZSTD_createDDict(payload, bh->stored_size);
    if (s->ddict == NULL) {
        *rc = STEPARC_E_NOMEM;
        return 0;
    }
    s->last_end = at + SA_BLOCK_HEADER_SIZE + bh->stored_size;
    return s->last_end;
}

/* Decodes a data block whose header and payload checked (the block decoder)
 * and validates its records. 0 with *rows set, STEPARC_E_CORRUPT with the
 * reason in why, or STEPARC_E_NOMEM. */
static int decode_block(rstate *s, const sa_block_header *bh, const unsigned char *payload,
                        unsigned char **rows, size_t *rows_len, char *why, size_t cap)
{
    *rows = NULL;
    if ((bh->flags & SA_BLOCK_FLAG_DICT) && bh->codec != SA_CODEC_NONE && s->ddict == NULL) {
        if (s->dict_sec == NULL) {
            snprintf(why, cap, "needs the archive's dictionary, which was not found intact");
            return STEPARC_E_CORRUPT;
        }
        if ((s->ddict = ZSTD_createDDict(s->dict_sec, s->dict_len)) == NULL)
            return STEPARC_E_NOMEM;
    }
    int rc = sa_block_decode(bh, payload, 0, s->d, s->ddict, rows, rows_len, why, cap);
    for (uint32_t i = 0; rc == 0 && i < bh->record_count; i++) {
        const unsigned char *rp;
        size_t rn;
        sa_rows_get(*rows, bh->record_count, i, &rp, &rn);
        if (sa_mp_validate(rp, rn, NULL, 0) != 0) {
            snprintf(why, cap, "a record is invalid");
            rc = STEPARC_E_CORRUPT;
        }
    }
    if (rc) {
        sa_free(*rows);
        *rows = NULL;
    }
    return rc;
}

/* Before the block at `at` (first ordinal `first`): the blocks in between
 * were not found intact (sync marker, header or payload damaged): say where
 * they were and which records they held. */
static void report_gap(rstate *s, size_t at, uint64_t first)
{
    size_t from = s->last_end ? s->last_end : SA_FILE_HEADER_SIZE;
    /* where was the first lost block? its header checks with the file's
     * sync marker put back, even when its own marker is damaged */
    size_t lost_at = 0;
    for (size_t q = from; q + SA_BLOCK_HEADER_SIZE <= at && q < from + (16u << 20); q++) {
        unsigned char tmp[SA_BLOCK_HEADER_SIZE];
        sa_block_header lh;
        const char *w2;
        memcpy(tmp, s->sync, SA_SYNC_SIZE);
        memcpy(tmp + SA_SYNC_SIZE, s->b + q + SA_SYNC_SIZE, SA_BLOCK_HEADER_SIZE - SA_SYNC_SIZE);
        if (sa_block_header_decode(s->sync, tmp, &lh, &w2) == 0 && lh.kind == SA_BLOCK_DATA &&
            lh.first_ordinal == s->next_ordinal) {
            lost_at = q;
            break;
        }
    }
    if (lost_at)
        PROBLEM(s, lost_at, "records %llu to %llu are lost: the block at offset %zu is damaged",
                (unsigned long long)s->next_ordinal, (unsigned long long)first - 1, lost_at);
    else
        PROBLEM(s, from,
                "records %llu to %llu are lost: the block(s) between offsets %zu and %zu are damaged",
                (unsigned long long)s->next_ordinal, (unsigned long long)first - 1, from, at);
    s->rep->blocks_damaged++;
}

/* An accepted block's records go to the writer. */
static int save_block(rstate *s, size_t at, const sa_block_header *bh, const unsigned char *rows)
{
    int rc = 0;
    if (bh->first_ordinal > s->next_ordinal)
        report_gap(s, at, bh->first_ordinal);
    if (bh->first_ordinal + bh->record_count > s->next_ordinal)
        s->next_ordinal = bh->first_ordinal + bh->record_count;
    for (uint32_t i = 0; i < bh->record_count && rc == 0; i++) {
        const unsigned char *rp;
        size_t rn;
        sa_rows_get(rows, bh->record_count, i, &rp, &rn);
        rc = steparc_writer_add_msgpack(s->w, rp, rn);
        if (rc == 0)
            s->rep->records_saved++;
    }
    if (rc == 0)
        s->rep->blocks_saved++;
    if (rc == 0 && SA_GROW(s->found, s->capfound, s->nfound, 64) != 0)
        rc = STEPARC_E_NOMEM;
    if (rc == 0) {
        s->found[s->nfound].off = at;
        s->found[s->nfound].first = bh->first_ordinal;
        s->found[s->nfound].count = bh->record_count;
        s->nfound++;
    }
    s->last_end = at + SA_BLOCK_HEADER_SIZE + bh->stored_size;
    return rc;
}

/* Phase 3, one candidate: the sync marker matched at `at`. Returns the next
 * scan position, or 0 to stop (the end of the file, or *rc set). */
static size_t take_block(rstate *s, size_t at, int *rc)
{
    const char *why;
    sa_block_header bh;
    if (at + SA_BLOCK_HEADER_SIZE > s->len) {
        PROBLEM(s, at, "block header cut off by the end of the file");
        s->rep->blocks_damaged++;
        return 0;
    }
    if (sa_block_head(s->sync, s->b + at, NULL, &bh, &why) != 0) {
        /* a damaged header, or the marker's bytes inside other data: the
         * records of a real block show up as a gap in the ordinals */
        PROBLEM(s, at, "block header: %s", why);
        return at + 1;
    }
    if (bh.kind == SA_BLOCK_DICT)
        return take_dict(s, at, &bh, rc);
    const unsigned char *payload = s->b + at + SA_BLOCK_HEADER_SIZE;
    uint64_t avail = s->len - at - SA_BLOCK_HEADER_SIZE;
    char bad[200];
    unsigned char *rows = NULL;
    size_t rows_len;
    int brc = sa_block_body(&bh, payload, avail, &why);
    if (brc && bh.stored_size > avail) {
        /* a real block (its header checks) cut by the end of the file */
        PROBLEM(s, at, "block of %u records (first ordinal %llu): payload cut off by "
                "the end of the file", bh.record_count, (unsigned long long)bh.first_ordinal);
        s->rep->blocks_damaged++;
        return 0;
    }
    if (brc)
        snprintf(bad, sizeof bad, "%s", why);
    else
        brc = decode_block(s, &bh, payload, &rows, &rows_len, bad, sizeof bad);
    if (brc == STEPARC_E_NOMEM) {
        *rc = brc;
        return 0;
    }
    if (brc) {
        /* counted once, as the gap it leaves in the ordinals */
        PROBLEM(s, at, "block of %u records (first ordinal %llu): %s", bh.record_count,
                (unsigned long long)bh.first_ordinal, bad);
        return at + 1;
    }
    *rc = save_block(s, at, &bh, rows);
    sa_free(rows);
    return *rc ? 0 : s->last_end;
}

/* Phase 4: no footer. The block index is written right after the last
 * block: if it is there and lists exactly the blocks found, nothing is
 * missing (only the end of the file was damaged or cut). */
static void check_tail_index(rstate *s)
{
    const struct fb *found = s->found;
    size_t nfound = s->nfound, k = 0;
    for (; k < nfound; k++) {
        size_t eo = s->last_end + k * SA_BLOCK_INDEX_ENTRY_SIZE;
        if (eo + SA_BLOCK_INDEX_ENTRY_SIZE > s->len)
            break;
        sa_block_entry e;
        sa_block_entry_decode(s->b + eo, &e);
        if (e.offset != found[k].off || e.first_ordinal != found[k].first ||
            e.record_count != found[k].count)
            break;
    }
    size_t eo = s->last_end + k * SA_BLOCK_INDEX_ENTRY_SIZE;
    int more = 0, cut = k >= 1 && k < nfound && eo + SA_BLOCK_INDEX_ENTRY_SIZE > s->len;
    /* an index cut short still proves where the data ended: it starts
     * right after the last block */
    if (cut)
        k = nfound;
    else if (k == nfound && eo + SA_BLOCK_INDEX_ENTRY_SIZE <= s->len) {
        /* does the index go on with an entry for a block we did not find? */
        sa_block_entry e;
        sa_block_entry_decode(s->b + eo, &e);
        more = e.first_ordinal == s->next_ordinal && e.record_count > 0 &&
               e.offset > found[nfound - 1].off && e.offset < s->last_end;
    }
    if (k == nfound && !more) {
        s->rep->footer_found = 1; /* the count is known after all */
        s->rep->records_expected = s->next_ordinal;
    }
}

int steparc_recover(steparc_recover_report *rep, const void *data, size_t len, steparc_writer *w,
                    void (*report)(void *ctx, const steparc_problem *p), void *ctx)
{
    if ((data == NULL && len) || w == NULL || rep == NULL)
        return STEPARC_E_ARG;
    memset(rep, 0, sizeof *rep);
    rstate s;
    memset(&s, 0, sizeof s);
    s.b = (const unsigned char *)data;
    s.len = len;
    s.w = w;
    s.rep = rep;
    s.report = report;
    s.ctx = ctx;
    size_t pos = pick_sync(&s);
    read_footer(&s);
    s.d = ZSTD_createDCtx();
    int rc = s.d ? 0 : STEPARC_E_NOMEM;
    while (rc == 0 && pos != 0 && pos + SA_BLOCK_HEADER_SIZE <= len) {
        const unsigned char *p = (const unsigned char *)memmem(s.b + pos, len - pos, s.sync, SA_SYNC_SIZE);
        if (p == NULL)
            break;
        pos = take_block(&s, (size_t)(p - s.b), &rc);
    }
    if (rc == 0 && !rep->footer_found && s.nfound > 0 && rep->blocks_damaged == 0)
        check_tail_index(&s);
    if (rc == 0 && rep->footer_found && s.next_ordinal < rep->records_expected) {
        PROBLEM(&s, s.last_end, "records %llu to %llu are lost: the block(s) after offset %zu are damaged",
                (unsigned long long)s.next_ordinal, (unsigned long long)rep->records_expected - 1,
                s.last_end);
        rep->blocks_damaged++;
    }
    sa_free(s.found);
    ZSTD_freeDCtx(s.d);
    ZSTD_freeDDict(s.ddict);
    return rc;
}
