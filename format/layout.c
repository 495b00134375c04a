/* layout.c - encode/decode of the fixed-size structures of format v1. */
#include "layout.h"

void sa_file_header_encode(const sa_file_header *h, unsigned char out[SA_FILE_HEADER_SIZE])
{
    memcpy(out, SA_MAGIC, 8);
    sa_put_u16(out + 8, h->major);
    sa_put_u16(out + 10, h->minor);
    sa_put_u32(out + 12, h->flags);
    memcpy(out + 16, h->sync, SA_SYNC_SIZE);
    sa_put_u32(out + 32, h->block_size);
    sa_put_u32(out + 36, sa_crc32c(0, out, 36));
}

int sa_file_header_decode(const unsigned char in[SA_FILE_HEADER_SIZE], sa_file_header *h)
{
    if (memcmp(in, SA_MAGIC, 8) != 0)
        return STEPARC_E_CORRUPT;
    if (sa_get_u32(in + 36) != sa_crc32c(0, in, 36))
        return STEPARC_E_CORRUPT;
    h->major = sa_get_u16(in + 8);
    h->minor = sa_get_u16(in + 10);
    h->flags = sa_get_u32(in + 12);
    memcpy(h->sync, in + 16, SA_SYNC_SIZE);
    h->block_size = sa_get_u32(in + 32);
    if (h->major != STEPARC_FORMAT_MAJOR)
        return STEPARC_E_VERSION;
    return 0;
}

void sa_block_header_encode(const unsigned char sync[SA_SYNC_SIZE], const sa_block_header *b,
                            unsigned char out[SA_BLOCK_HEADER_SIZE])
{
    unsigned char *h = out + SA_SYNC_SIZE;
    memcpy(out, sync, SA_SYNC_SIZE);
    h[0] = b->kind;
    h[1] = b->layout;
    h[2] = b->codec;
    h[3] = b->flags;
    sa_put_u32(h + 4, b->record_count);
    sa_put_u64(h + 8, b->first_ordinal);
    sa_put_u64(h + 16, (uint64_t)b->min_created_at);
    sa_put_u64(h + 24, (uint64_t)b->max_created_at);
    sa_put_u32(h + 32, b->stored_size);
    sa_put_u32(h + 36, b->raw_size);
    sa_put_u32(h + 40, b->payload_crc);
    sa_put_u32(h + 44, sa_crc32c(0, out, SA_SYNC_SIZE + 44));
}

int sa_block_header_decode(const unsigned char sync[SA_SYNC_SIZE],
                           const unsigned char in[SA_BLOCK_HEADER_SIZE], sa_block_header *b,
                           const char **why)
{
    const unsigned char *h = in + SA_SYNC_SIZE;
    *why = NULL;
    if (memcmp(in, sync, SA_SYNC_SIZE) != 0) {
        *why = "sync marker missing";
        return STEPARC_E_CORRUPT;
    }
    if (sa_get_u32(h + 44) != sa_crc32c(0, in, SA_SYNC_SIZE + 44)) {
        *why = "block header checksum mismatch";
        return STEPARC_E_CORRUPT;
    }
    b->kind = h[0];
    b->layout = h[1];
    b->codec = h[2];
    b->flags = h[3];
    b->record_count = sa_get_u32(h + 4);
    b->first_ordinal = sa_get_u64(h + 8);
    b->min_created_at = (int64_t)sa_get_u64(h + 16);
    b->max_created_at = (int64_t)sa_get_u64(h + 24);
    b->stored_size = sa_get_u32(h + 32);
    b->raw_size = sa_get_u32(h + 36);
    b->payload_crc = sa_get_u32(h + 40);
    if (b->kind == SA_BLOCK_DICT) {
        /* the zstd dictionary: raw bytes, no records */
        if (b->record_count != 0 || b->codec != SA_CODEC_NONE || b->layout != 0 || b->flags != 0 ||
            b->stored_size != b->raw_size || b->raw_size == 0 || b->raw_size > SA_MAX_DICT ||
            b->first_ordinal != 0)
            *why = "invalid dictionary block header";
        return *why ? STEPARC_E_CORRUPT : 0;
    }
    if (b->kind != SA_BLOCK_DATA)
        *why = "unknown block kind";
    else if (b->flags & ~SA_BLOCK_FLAG_DICT)
        *why = "unknown block flags";
    else if (b->layout != SA_LAYOUT_ROWS && b->layout != SA_LAYOUT_COLUMNS)
        *why = "unknown block layout";
    else if (b->codec != SA_CODEC_NONE && b->codec != SA_CODEC_ZSTD)
        *why = "unknown block codec";
    else if (b->record_count == 0 || b->record_count > STEPARC_MAX_BLOCK_RECORDS)
        *why = "block record count out of range";
    else if (b->raw_size > STEPARC_MAX_BLOCK_RAW ||
             b->raw_size < (b->layout == SA_LAYOUT_ROWS ? 5 * (uint64_t)b->record_count
                                                        : (uint64_t)b->record_count))
        *why = "block size out of range";
    else if (b->codec == SA_CODEC_NONE && b->stored_size != b->raw_size)
        *why = "stored size differs from raw size in an uncompressed block";
    else if (b->stored_size > STEPARC_MAX_BLOCK_RAW + 65536u)
        *why = "stored block size out of range";
    else if (b->first_ordinal > (uint64_t)SA_MAX_RECORDS ||
             b->first_ordinal + b->record_count > (uint64_t)SA_MAX_RECORDS + 1)
        *why = "block ordinal out of range";
    return *why ? STEPARC_E_CORRUPT : 0;
}

void sa_footer_encode(const sa_footer *f, unsigned char out[SA_FOOTER_SIZE])
{
    sa_put_u64(out, f->section_table_offset);
    sa_put_u32(out + 8, f->section_count);
    sa_put_u32(out + 12, f->section_table_crc);
    sa_put_u64(out + 16, f->record_count);
    sa_put_u64(out + 24, f->block_count);
    sa_put_u64(out + 32, f->prev_footer_offset);
    sa_put_u32(out + 40, f->flags);
    sa_put_u32(out + 44, 0);
    sa_put_u32(out + 48, 0);
    sa_put_u32(out + 52, sa_crc32c(0, out, 52));
    memcpy(out + 56, SA_END_MAGIC, 8);
}

int sa_footer_decode(const unsigned char in[SA_FOOTER_SIZE], sa_footer *f, const char **why)
{
    *why = NULL;
    if (memcmp(in + 56, SA_END_MAGIC, 8) != 0)
        *why = "footer magic missing (file truncated or not a steparc archive)";
    else if (sa_get_u32(in + 52) != sa_crc32c(0, in, 52))
        *why = "footer checksum mismatch";
    if (*why)
        return STEPARC_E_CORRUPT;
    f->section_table_offset = sa_get_u64(in);
    f->section_count = sa_get_u32(in + 8);
    f->section_table_crc = sa_get_u32(in + 12);
    f->record_count = sa_get_u64(in + 16);
    f->block_count = sa_get_u64(in + 24);
    f->prev_footer_offset = sa_get_u64(in + 32);
    f->flags = sa_get_u32(in + 40);
    if (f->section_count == 0 || f->section_count > SA_MAX_SECTIONS)
        *why = "section count out of range";
    else if (f->record_count > (uint64_t)SA_MAX_RECORDS)
        *why = "record count out of range";
    else if (f->block_count > f->record_count)
        *why = "more blocks than records";
    return *why ? STEPARC_E_CORRUPT : 0;
}

void sa_section_encode(const sa_section *s, unsigned char out[SA_SECTION_ENTRY_SIZE])
{
    sa_put_u32(out, s->type);
    sa_put_u32(out + 4, 0);
    sa_put_u64(out + 8, s->offset);
    sa_put_u64(out + 16, s->length);
    sa_put_u32(out + 24, s->crc);
    sa_put_u32(out + 28, 0);
}

void sa_section_decode(const unsigned char in[SA_SECTION_ENTRY_SIZE], sa_section *s)
{
    s->type = sa_get_u32(in);
    s->offset = sa_get_u64(in + 8);
    s->length = sa_get_u64(in + 16);
    s->crc = sa_get_u32(in + 24);
}

void sa_block_entry_encode(const sa_block_entry *e, unsigned char out[SA_BLOCK_INDEX_ENTRY_SIZE])
{
    sa_put_u64(out, e->offset);
    sa_put_u64(out + 8, e->first_ordinal);
    sa_put_u32(out + 16, e->record_count);
    sa_put_u32(out + 20, e->stored_size);
    sa_put_u32(out + 24, e->raw_size);
    sa_put_u32(out + 28, e->rows_size);
    sa_put_u64(out + 32, (uint64_t)e->min_created_at);
    sa_put_u64(out + 40, (uint64_t)e->max_created_at);
}

void sa_block_entry_decode(const unsigned char in[SA_BLOCK_INDEX_ENTRY_SIZE], sa_block_entry *e)
{
    e->offset = sa_get_u64(in);
    e->first_ordinal = sa_get_u64(in + 8);
    e->record_count = sa_get_u32(in + 16);
    e->stored_size = sa_get_u32(in + 20);
    e->raw_size = sa_get_u32(in + 24);
    e->rows_size = sa_get_u32(in + 28);
    e->min_created_at = (int64_t)sa_get_u64(in + 32);
    e->max_created_at = (int64_t)sa_get_u64(in + 40);
}

int sa_rows_check(const unsigned char *raw, size_t raw_size, uint32_t count)
{
    size_t table = 4 * (size_t)count;
    if (count == 0 || raw_size < table)
        return STEPARC_E_CORRUPT;
    size_t data = raw_size - table;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t end = sa_get_u32(raw + 4 * (size_t)i);
        if (end <= prev || end > data) /* every record is at least 1 byte */
            return STEPARC_E_CORRUPT;
        prev = end;
    }
    return prev == data ? 0 : STEPARC_E_CORRUPT;
}

/* A footer at `at` whose section table lies before it and checks. */
static int footer_ok(const unsigned char *base, uint64_t at, sa_footer *f, const char **why)
{
    if (sa_footer_decode(base + at, f, why) != 0)
        return 0;
    uint64_t tlen = (uint64_t)f->section_count * SA_SECTION_ENTRY_SIZE;
    if (f->section_table_offset < SA_FILE_HEADER_SIZE || f->section_table_offset > at ||
        tlen > at - f->section_table_offset) {
        *why = "section table lies outside the file";
        return 0;
    }
    if (sa_crc32c(0, base + f->section_table_offset, (size_t)tlen) != f->section_table_crc) {
        *why = "section table checksum mismatch";
        return 0;
    }
    return 1;
}

int sa_find_footer(const unsigned char *base, uint64_t size, sa_footer *f, uint64_t *at,
                   const char **why)
{
    *why = NULL;
    if (size < SA_FILE_HEADER_SIZE + SA_FOOTER_SIZE) {
        *why = "file too small to be an archive";
        return STEPARC_E_CORRUPT;
    }
    if (footer_ok(base, size - SA_FOOTER_SIZE, f, why)) {
        *at = size - SA_FOOTER_SIZE;
        return 0;
    }
    const char *first_why = *why;
    /* scan back for the end magic of an earlier footer */
    for (uint64_t p = size - SA_FOOTER_SIZE; p-- > SA_FILE_HEADER_SIZE;) {
        if (base[p + 56] != 0x89 || memcmp(base + p + 56, SA_END_MAGIC, 8) != 0)
            continue;
        const char *w2;
        if (footer_ok(base, p, f, &w2)) {
            *at = p;
            *why = first_why;
            return 0;
        }
    }
    *why = first_why;
    return STEPARC_E_CORRUPT;
}
