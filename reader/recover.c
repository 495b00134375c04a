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

#include "columnar.h"
#include "layout.h"
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

int steparc_recover(steparc_recover_report *rep, const void *data, size_t len, steparc_writer *w,
                    void (*report)(void *ctx, const steparc_problem *p), void *ctx)
{
    if ((data == NULL && len) || w == NULL || rep == NULL)
        return STEPARC_E_ARG;
    memset(rep, 0, sizeof *rep);
    const unsigned char *b = (const unsigned char *)data;
    unsigned char sync[SA_SYNC_SIZE];
    sa_file_header h;
    size_t pos = 0;
    if (len >= SA_FILE_HEADER_SIZE && sa_file_header_decode(b, &h) == 0) {
        memcpy(sync, h.sync, SA_SYNC_SIZE);
        pos = SA_FILE_HEADER_SIZE;
    } else {
        memcpy(sync, g_default_sync, SA_SYNC_SIZE);
        problem(report, ctx, 0, "file header is damaged; scanning with the default sync marker");
        pos = SA_FILE_HEADER_SIZE; /* no block starts inside the header */
    }
    sa_footer f;
    uint64_t fat;
    const char *why;
    /* the dictionary's second copy, through the footer, in case its block is damaged */
    const unsigned char *dict_sec = NULL;
    size_t dict_len = 0;
    if (sa_find_footer(b, len, &f, &fat, &why) == 0) {
        /* an earlier footer (an append was cut) does not count the records
         * after it; its dictionary copy still serves */
        rep->footer_found = fat + SA_FOOTER_SIZE == len;
        rep->records_expected = rep->footer_found ? f.record_count : 0;
        for (uint32_t i = 0; i < f.section_count; i++) {
            sa_section s;
            sa_section_decode(b + f.section_table_offset + (uint64_t)i * SA_SECTION_ENTRY_SIZE, &s);
            if (s.type == SA_SEC_DICTIONARY && s.offset <= fat && s.length <= fat - s.offset &&
                s.length > 0 && s.length <= SA_MAX_DICT && sa_crc32c(0, b + s.offset, (size_t)s.length) == s.crc) {
                dict_sec = b + s.offset;
                dict_len = (size_t)s.length;
            }
        }
    }
    ZSTD_DDict *ddict = NULL;
    uint64_t next_ordinal = 0; /* blocks carry their first ordinal: gaps are lost records */
    /* the blocks saved, to check them against a block index found after the
     * last one when the footer is gone */
    struct fb { uint64_t off, first; uint32_t count; } *found = NULL;
    size_t nfound = 0, capfound = 0;
    size_t last_end = 0;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    unsigned char *raw = NULL, *colrows = NULL;
    size_t rawcap = 0;
    int rc = d ? 0 : STEPARC_E_NOMEM;
    while (rc == 0 && pos + SA_BLOCK_HEADER_SIZE <= len) {
        const unsigned char *p = (const unsigned char *)memmem(b + pos, len - pos, sync, SA_SYNC_SIZE);
        if (p == NULL)
            break;
        size_t at = (size_t)(p - b);
        sa_block_header bh;
        if (at + SA_BLOCK_HEADER_SIZE > len) {
            problem(report, ctx, at, "block header cut off by the end of the file");
            rep->blocks_damaged++;
            break;
        }
        if (sa_block_header_decode(sync, p, &bh, &why) != 0) {
            /* a damaged header, or the marker's bytes inside other data: the
             * records of a real block show up as a gap in the ordinals */
            problem(report, ctx, at, "block header: %s", why);
            pos = at + 1;
            continue;
        }
        const char *bad = NULL;
        const unsigned char *payload = p + SA_BLOCK_HEADER_SIZE;
        if (bh.kind == SA_BLOCK_DICT) {
            if ((uint64_t)bh.stored_size > len - at - SA_BLOCK_HEADER_SIZE ||
                sa_crc32c(0, payload, bh.stored_size) != bh.payload_crc) {
                /* costs nothing when the footer's copy is intact */
                problem(report, ctx, at, "dictionary block is damaged%s",
                        dict_sec ? "; using the copy in the index sections" : "");
                if (dict_sec == NULL)
                    rep->blocks_damaged++;
                pos = at + 1;
                continue;
            }
            ZSTD_freeDDict(ddict);
            ddict = ZSTD_createDDict(payload, bh.stored_size);
            if (ddict == NULL) {
                rc = STEPARC_E_NOMEM;
                break;
            }
            pos = at + SA_BLOCK_HEADER_SIZE + bh.stored_size;
            last_end = pos;
            continue;
        }
        if ((uint64_t)bh.stored_size > len - at - SA_BLOCK_HEADER_SIZE) {
            /* a real block (its header checks) cut by the end of the file */
            problem(report, ctx, at, "block of %u records (first ordinal %llu): payload cut off by "
                    "the end of the file", bh.record_count, (unsigned long long)bh.first_ordinal);
            rep->blocks_damaged++;
            break;
        }
        else if (sa_crc32c(0, payload, bh.stored_size) != bh.payload_crc)
            bad = "payload checksum mismatch";
        if (bad == NULL) {
            if (bh.raw_size > rawcap) {
                unsigned char *nr = (unsigned char *)sa_realloc(raw, bh.raw_size);
                if (nr == NULL) {
                    rc = STEPARC_E_NOMEM;
                    break;
                }
                raw = nr;
                rawcap = bh.raw_size;
            }
            if (bh.codec == SA_CODEC_NONE)
                memcpy(raw, payload, bh.raw_size);
            else if (ZSTD_getFrameContentSize(payload, bh.stored_size) != bh.raw_size)
                bad = "frame content size differs from the header";
            else if ((bh.flags & SA_BLOCK_FLAG_DICT) && ddict == NULL && dict_sec == NULL)
                bad = "needs the archive's dictionary, which was not found intact";
            else {
                if ((bh.flags & SA_BLOCK_FLAG_DICT) && ddict == NULL) {
                    ddict = ZSTD_createDDict(dict_sec, dict_len);
                    if (ddict == NULL) {
                        rc = STEPARC_E_NOMEM;
                        break;
                    }
                }
                size_t n = (bh.flags & SA_BLOCK_FLAG_DICT)
                               ? ZSTD_decompress_usingDDict(d, raw, bh.raw_size, payload,
                                                            bh.stored_size, ddict)
                               : ZSTD_decompressDCtx(d, raw, bh.raw_size, payload, bh.stored_size);
                if (ZSTD_isError(n) || n != bh.raw_size)
                    bad = "payload does not decompress";
            }
        }
        /* the rows: the raw payload itself, or decoded from columns */
        const unsigned char *rows = raw;
        size_t rows_size = bh.raw_size;
        sa_free(colrows);
        colrows = NULL;
        if (bad == NULL && bh.layout == SA_LAYOUT_COLUMNS) {
            int drc = sa_col_decode(raw, bh.raw_size, bh.record_count, &colrows, &rows_size, &bad);
            if (drc == STEPARC_E_NOMEM) {
                rc = drc;
                break;
            }
            rows = colrows;
        }
        if (bad == NULL && sa_rows_check(rows, rows_size, bh.record_count) != 0)
            bad = "record table is invalid";
        for (uint32_t i = 0; bad == NULL && i < bh.record_count; i++) {
            const unsigned char *rp;
            size_t rn;
            sa_rows_get(rows, bh.record_count, i, &rp, &rn);
            if (sa_mp_validate(rp, rn, NULL, 0) != 0)
                bad = "a record is invalid";
        }
        if (bad) {
            /* counted once, as the gap it leaves in the ordinals */
            problem(report, ctx, at, "block of %u records (first ordinal %llu): %s", bh.record_count,
                    (unsigned long long)bh.first_ordinal, bad);
            pos = at + 1;
            continue;
        }
        if (bh.first_ordinal > next_ordinal) {
            /* the blocks in between were not found intact (sync marker, header or
             * payload damaged): say where they were and which records they held */
            size_t from = last_end ? last_end : SA_FILE_HEADER_SIZE;
            /* where was the first lost block? its header checks with the file's
             * sync marker put back, even when its own marker is damaged */
            size_t lost_at = 0;
            for (size_t q = from; q + SA_BLOCK_HEADER_SIZE <= at && q < from + (16u << 20); q++) {
                unsigned char tmp[SA_BLOCK_HEADER_SIZE];
                sa_block_header lh;
                const char *w2;
                memcpy(tmp, sync, SA_SYNC_SIZE);
                memcpy(tmp + SA_SYNC_SIZE, b + q + SA_SYNC_SIZE, SA_BLOCK_HEADER_SIZE - SA_SYNC_SIZE);
                if (sa_block_header_decode(sync, tmp, &lh, &w2) == 0 && lh.kind == SA_BLOCK_DATA &&
                    lh.first_ordinal == next_ordinal) {
                    lost_at = q;
                    break;
                }
            }
            if (lost_at)
                problem(report, ctx, lost_at,
                        "records %llu to %llu are lost: the block at offset %zu is damaged",
                        (unsigned long long)next_ordinal, (unsigned long long)bh.first_ordinal - 1,
                        lost_at);
            else
                problem(report, ctx, from,
                        "records %llu to %llu are lost: the block(s) between offsets %zu and %zu are damaged",
                        (unsigned long long)next_ordinal, (unsigned long long)bh.first_ordinal - 1,
                        from, at);
            rep->blocks_damaged++;
        }
        if (bh.first_ordinal + bh.record_count > next_ordinal)
            next_ordinal = bh.first_ordinal + bh.record_count;
        for (uint32_t i = 0; i < bh.record_count && rc == 0; i++) {
            const unsigned char *rp;
            size_t rn;
            sa_rows_get(rows, bh.record_count, i, &rp, &rn);
            rc = steparc_writer_add_msgpack(w, rp, rn);
            if (rc == 0)
                rep->records_saved++;
        }
        if (rc == 0)
            rep->blocks_saved++;
        if (rc == 0 && SA_GROW(found, capfound, nfound, 64) != 0)
            rc = STEPARC_E_NOMEM;
        if (rc == 0) {
            found[nfound].off = at;
            found[nfound].first = bh.first_ordinal;
            found[nfound].count = bh.record_count;
            nfound++;
        }
        pos = at + SA_BLOCK_HEADER_SIZE + bh.stored_size;
        last_end = pos;
    }
    if (rc == 0 && !rep->footer_found && nfound > 0 && rep->blocks_damaged == 0) {
        /* No footer. The block index is written right after the last block:
         * if it is there and lists exactly the blocks found, nothing is
         * missing (only the end of the file was damaged or cut). */
        size_t k = 0;
        for (; k < nfound; k++) {
            size_t eo = last_end + k * SA_BLOCK_INDEX_ENTRY_SIZE;
            if (eo + SA_BLOCK_INDEX_ENTRY_SIZE > len)
                break;
            sa_block_entry e;
            sa_block_entry_decode(b + eo, &e);
            if (e.offset != found[k].off || e.first_ordinal != found[k].first ||
                e.record_count != found[k].count)
                break;
        }
        size_t eo = last_end + k * SA_BLOCK_INDEX_ENTRY_SIZE;
        int more = 0, cut = k >= 1 && k < nfound && eo + SA_BLOCK_INDEX_ENTRY_SIZE > len;
        /* an index cut short still proves where the data ended: it starts
         * right after the last block */
        if (cut)
            k = nfound;
        else if (k == nfound && eo + SA_BLOCK_INDEX_ENTRY_SIZE <= len) {
            /* does the index go on with an entry for a block we did not find? */
            sa_block_entry e;
            sa_block_entry_decode(b + eo, &e);
            more = e.first_ordinal == next_ordinal && e.record_count > 0 &&
                   e.offset > found[nfound - 1].off && e.offset < last_end;
        }
        if (k == nfound && !more) {
            rep->footer_found = 1; /* the count is known after all */
            rep->records_expected = next_ordinal;
        }
    }
    sa_free(found);
    sa_free(colrows);
    if (rc == 0 && rep->footer_found && next_ordinal < rep->records_expected) {
        problem(report, ctx, last_end, "records %llu to %llu are lost: the block(s) after offset %zu are damaged",
                (unsigned long long)next_ordinal, (unsigned long long)rep->records_expected - 1,
                last_end);
        rep->blocks_damaged++;
    }
    sa_free(raw);
    ZSTD_freeDCtx(d);
    ZSTD_freeDDict(ddict);
    return rc;
}
