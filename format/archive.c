/* archive.c - the archive parser and the block decoder (see archive.h). */
#include <stdarg.h>
#include <stdio.h>

#include "archive.h"
#include "columnar.h"

static int fail(char *err, size_t cap, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int status, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* ---- the archive --------------------------------------------------------------- */

/* Header (3) and footer (10, 11). */
static int parse_ends(sa_archive *a, char *err, size_t cap)
{
    const char *why = NULL;
    if (a->size < SA_FILE_HEADER_SIZE + SA_FOOTER_SIZE)
        return fail(err, cap, STEPARC_E_CORRUPT, "file of %llu bytes is too small to be an archive",
                    (unsigned long long)a->size);
    int rc = sa_file_header_decode(a->base, &a->hdr);
    if (rc == STEPARC_E_VERSION)
        return fail(err, cap, rc, "archive format %u.%u is newer than this library reads (%d.x)",
                    a->hdr.major, a->hdr.minor, STEPARC_FORMAT_MAJOR);
    if (rc)
        return fail(err, cap, rc,
                    "file header is damaged or this is not a steparc archive "
                    "(try 'steparc recover')");
    if (sa_find_footer(a->base, a->size, &a->ft, &a->footer_at, &why) != 0)
        return fail(err, cap, STEPARC_E_CORRUPT, "%s (try 'steparc recover')", why);
    /* a footer before the end: an append was interrupted; the archive as it
     * was before it is intact, the bytes after are reported */
    a->ignored_tail = a->size - a->footer_at - SA_FOOTER_SIZE;
    uint64_t tlen = (uint64_t)a->ft.section_count * SA_SECTION_ENTRY_SIZE;
    uint64_t t = a->ft.section_table_offset;
    if (t < SA_FILE_HEADER_SIZE || t > a->footer_at || tlen > a->footer_at - t)
        return fail(err, cap, STEPARC_E_CORRUPT, "section table lies outside the file");
    if (t + tlen != a->footer_at)
        return fail(err, cap, STEPARC_E_CORRUPT, "section table does not end at the footer");
    a->table = a->base + t;
    if (sa_crc32c(0, a->table, (size_t)tlen) != a->ft.section_table_crc)
        return fail(err, cap, STEPARC_E_CORRUPT, "section table checksum mismatch");
    return 0;
}

/* The slot of a section type, or -1 for a type this library does not read. */
static int slot_of(uint32_t type, int *packed)
{
    *packed = type >= SA_SEC_PACKED_ID_INDEX && type <= SA_SEC_PACKED_ASSISTANT_POSTINGS;
    switch (type) {
    case SA_SEC_BLOCK_INDEX: return SA_SLOT_BLOCKS;
    case SA_SEC_ID_INDEX: case SA_SEC_PACKED_ID_INDEX: return SA_SLOT_IDS;
    case SA_SEC_RUN_POSTINGS: case SA_SEC_PACKED_RUN_POSTINGS: return SA_SLOT_RUNS;
    case SA_SEC_THREAD_POSTINGS: case SA_SEC_PACKED_THREAD_POSTINGS: return SA_SLOT_THREADS;
    case SA_SEC_ASSISTANT_POSTINGS: case SA_SEC_PACKED_ASSISTANT_POSTINGS: return SA_SLOT_ASSISTANTS;
    case SA_SEC_STATS: return SA_SLOT_STATS;
    case SA_SEC_DICTIONARY: return SA_SLOT_DICT;
    case SA_SEC_BLOCK_KINDS: return SA_SLOT_BLOCK_KINDS;
    default: return -1; /* unknown section types are skipped (8) */
    }
}

/* The section table (8, 9): every range, each type at most once. */
static int parse_sections(sa_archive *a, char *err, size_t cap)
{
    for (uint32_t i = 0; i < a->ft.section_count; i++) {
        sa_section s;
        sa_section_decode(a->table + (size_t)i * SA_SECTION_ENTRY_SIZE, &s);
        if (!sa_section_in_range(&s, a->ft.section_table_offset))
            return fail(err, cap, STEPARC_E_CORRUPT, "section %u lies outside the file", i);
        int packed, k = slot_of(s.type, &packed);
        if (k < 0)
            continue;
        sa_slot *sl = &a->slot[k];
        if (sl->present) {
            if (sl->packed == packed)
                return fail(err, cap, STEPARC_E_CORRUPT, "section type %u appears twice", s.type);
            if (!packed)
                continue; /* both forms of one index (8): the packed one is used */
        }
        sl->present = 1;
        sl->packed = packed;
        sl->s = s;
    }
    if (!a->slot[SA_SLOT_BLOCKS].present)
        return fail(err, cap, STEPARC_E_CORRUPT, "block index section is missing");
    if (a->slot[SA_SLOT_DICT].present) {
        /* its CRC is checked when a block first needs it */
        const sa_section *d = &a->slot[SA_SLOT_DICT].s;
        if (d->length == 0 || d->length > SA_MAX_DICT)
            return fail(err, cap, STEPARC_E_CORRUPT,
                        "dictionary section is damaged (try 'steparc recover')");
    }
    for (int k = SA_SLOT_IDS; k <= SA_SLOT_ASSISTANTS; k++)
        if (a->slot[k].present && !a->slot[k].packed && a->slot[k].s.length % 8 != 0)
            return fail(err, cap, STEPARC_E_CORRUPT,
                        "index section of type %u has a size that is not a multiple of 8",
                        a->slot[k].s.type);
    return 0;
}

/* The block kinds (8.7): one u32 per block, so its size is checked once the
 * block count is (its CRC on first use, like the other index sections). */
static int parse_block_kinds(const sa_archive *a, char *err, size_t cap)
{
    if (a->slot[SA_SLOT_BLOCK_KINDS].present &&
        a->slot[SA_SLOT_BLOCK_KINDS].s.length != 4 * a->ft.block_count)
        return fail(err, cap, STEPARC_E_CORRUPT,
                    "block kinds section size does not match the block count");
    return 0;
}

/* Why block index entry e (whose block may start at prev_end at the
 * earliest, ordinal ord) breaks a rule of 8.1, or NULL. */
static const char *entry_why(const sa_block_entry *e, uint64_t ord, uint64_t prev_end,
                             uint64_t table_off)
{
    uint64_t min_raw = e->rows_size ? e->record_count : 5 * (uint64_t)e->record_count;
    if (e->first_ordinal != ord)
        return "its first ordinal does not follow the previous block's";
    if (e->record_count == 0 || e->record_count > STEPARC_MAX_BLOCK_RECORDS)
        return "record count out of range";
    if (e->raw_size > STEPARC_MAX_BLOCK_RAW || e->raw_size < min_raw ||
        e->rows_size > STEPARC_MAX_BLOCK_RAW ||
        (e->rows_size != 0 && e->rows_size < 5 * (uint64_t)e->record_count))
        return "block size out of range";
    if (e->stored_size > STEPARC_MAX_BLOCK_RAW + 65536u)
        return "stored block size out of range";
    if (e->offset < prev_end)
        return prev_end == SA_FILE_HEADER_SIZE ? "the block starts inside the file header"
                                               : "the block overlaps or precedes the previous one";
    if (e->offset > table_off || SA_BLOCK_HEADER_SIZE + (uint64_t)e->stored_size > table_off - e->offset)
        return "the block runs past the section table";
    return NULL;
}

/* The block index (8.1). */
static int parse_block_index(sa_archive *a, char *err, size_t cap)
{
    const sa_section *bi = &a->slot[SA_SLOT_BLOCKS].s;
    if (bi->length != a->ft.block_count * SA_BLOCK_INDEX_ENTRY_SIZE)
        return fail(err, cap, STEPARC_E_CORRUPT, "block index size does not match the block count");
    a->bindex = a->base + bi->offset;
    if (sa_crc32c(0, a->bindex, (size_t)bi->length) != bi->crc)
        return fail(err, cap, STEPARC_E_CORRUPT, "block index checksum mismatch");
    a->nblocks = a->ft.block_count;
    uint64_t ord = 0, prev_end = SA_FILE_HEADER_SIZE;
    for (uint64_t i = 0; i < a->nblocks; i++) {
        sa_block_entry e;
        sa_block_entry_decode(a->bindex + i * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
        const char *why = entry_why(&e, ord, prev_end, a->ft.section_table_offset);
        if (why)
            return fail(err, cap, STEPARC_E_CORRUPT, "block index entry %llu is invalid (%s)",
                        (unsigned long long)i, why);
        ord += e.record_count;
        prev_end = e.offset + SA_BLOCK_HEADER_SIZE + e.stored_size;
    }
    if (ord != a->ft.record_count)
        return fail(err, cap, STEPARC_E_CORRUPT, "block index counts %llu records, footer says %llu",
                    (unsigned long long)ord, (unsigned long long)a->ft.record_count);
    return 0;
}

int sa_archive_parse(sa_archive *a, const unsigned char *base, uint64_t size, char *err,
                     size_t cap)
{
    memset(a, 0, sizeof *a);
    a->base = base;
    a->size = size;
    if (err && cap)
        err[0] = 0;
    int rc = parse_ends(a, err, cap);
    if (rc == 0)
        rc = parse_sections(a, err, cap);
    if (rc == 0)
        rc = parse_block_index(a, err, cap);
    if (rc == 0)
        rc = parse_block_kinds(a, err, cap);
    return rc;
}

int sa_archive_find(const sa_archive *a, uint32_t type, sa_section *s)
{
    for (uint32_t i = 0; i < a->ft.section_count; i++) {
        sa_section_decode(a->table + (size_t)i * SA_SECTION_ENTRY_SIZE, s);
        if (s->type == type)
            return 1;
    }
    return 0;
}

int sa_section_crc_check(const unsigned char *base, const sa_section *s)
{
    return sa_crc32c(0, base + s->offset, (size_t)s->length) == s->crc ? 0 : STEPARC_E_CORRUPT;
}

void sa_section_crc_msg(const sa_section *s, char *err, size_t cap)
{
    fail(err, cap, STEPARC_E_CORRUPT, "index section of type %u at offset %llu fails its checksum",
         s->type, (unsigned long long)s->offset);
}

/* ---- blocks -------------------------------------------------------------------- */

int sa_block_head(const unsigned char sync[SA_SYNC_SIZE], const unsigned char *hp,
                  const sa_block_entry *e, sa_block_header *h, const char **why)
{
    if (sa_block_header_decode(sync, hp, h, why) != 0)
        return STEPARC_E_CORRUPT;
    if (e && (h->first_ordinal != e->first_ordinal || h->record_count != e->record_count ||
              h->stored_size != e->stored_size || h->raw_size != e->raw_size ||
              h->min_created_at != e->min_created_at || h->max_created_at != e->max_created_at ||
              h->kind != SA_BLOCK_DATA || (h->layout == SA_LAYOUT_COLUMNS) != (e->rows_size != 0))) {
        *why = "header disagrees with the block index";
        return STEPARC_E_CORRUPT;
    }
    return 0;
}

int sa_block_body(const sa_block_header *h, const unsigned char *payload, uint64_t avail,
                  const char **why)
{
    if (h->stored_size > avail) {
        *why = "payload cut off by the end of the file";
        return STEPARC_E_CORRUPT;
    }
    if (sa_crc32c(0, payload, h->stored_size) != h->payload_crc) {
        *why = "payload checksum mismatch";
        return STEPARC_E_CORRUPT;
    }
    return 0;
}

int sa_block_check(const unsigned char sync[SA_SYNC_SIZE], const unsigned char *p,
                   uint64_t avail, const sa_block_entry *e, sa_block_header *h,
                   const char **why)
{
    if (avail < SA_BLOCK_HEADER_SIZE) {
        *why = "block header cut off by the end of the file";
        return STEPARC_E_CORRUPT;
    }
    int rc = sa_block_head(sync, p, e, h, why);
    if (rc == 0)
        rc = sa_block_body(h, p + SA_BLOCK_HEADER_SIZE, avail - SA_BLOCK_HEADER_SIZE, why);
    return rc;
}

/* The raw payload of h into raw (raw_size bytes). */
static int decompress(const sa_block_header *h, const unsigned char *payload, ZSTD_DCtx *d,
                      const ZSTD_DDict *dd, unsigned char *raw, char *why, size_t cap)
{
    if (h->codec == SA_CODEC_NONE) {
        memcpy(raw, payload, h->raw_size);
        return 0;
    }
    if (ZSTD_getFrameContentSize(payload, h->stored_size) != h->raw_size)
        return fail(why, cap, STEPARC_E_CORRUPT, "frame content size differs from the header");
    int use_dict = (h->flags & SA_BLOCK_FLAG_DICT) != 0;
    if (use_dict && dd == NULL)
        return fail(why, cap, STEPARC_E_CORRUPT, "needs the archive's dictionary, which is missing");
    if (d == NULL)
        return fail(why, cap, STEPARC_E_NOMEM, "out of memory");
    size_t n = use_dict ? ZSTD_decompress_usingDDict(d, raw, h->raw_size, payload, h->stored_size, dd)
                        : ZSTD_decompressDCtx(d, raw, h->raw_size, payload, h->stored_size);
    if (ZSTD_isError(n) || n != h->raw_size)
        return fail(why, cap, STEPARC_E_CORRUPT, "cannot decompress: %s",
                    ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short output");
    return 0;
}

int sa_block_decode(const sa_block_header *h, const unsigned char *payload, uint32_t rows_size,
                    ZSTD_DCtx *d, const ZSTD_DDict *dd, unsigned char **rows, size_t *rows_len,
                    char *why, size_t cap)
{
    *rows = NULL;
    *rows_len = 0;
    unsigned char *raw = (unsigned char *)sa_malloc(h->raw_size);
    if (raw == NULL)
        return fail(why, cap, STEPARC_E_NOMEM, "out of memory");
    size_t len = h->raw_size;
    int rc = decompress(h, payload, d, dd, raw, why, cap);
    if (rc == 0 && h->layout == SA_LAYOUT_COLUMNS) {
        /* rebuild the rows payload: everything after this is the same for
         * both layouts */
        unsigned char *r2;
        const char *cwhy = "decoded size differs from the block index";
        rc = rows_size != 0 && sa_col_rows_size(raw, len) != rows_size
                 ? STEPARC_E_CORRUPT
                 : sa_col_decode(raw, len, h->record_count, &r2, &len, &cwhy);
        if (rc)
            fail(why, cap, rc, "%s", rc == STEPARC_E_NOMEM ? "out of memory" : cwhy);
        else {
            sa_free(raw);
            raw = r2;
        }
    }
    if (rc == 0 && sa_rows_check(raw, len, h->record_count) != 0)
        rc = fail(why, cap, STEPARC_E_CORRUPT, "record table is invalid");
    if (rc) {
        sa_free(raw);
        return rc;
    }
    *rows = raw;
    *rows_len = len;
    return 0;
}
