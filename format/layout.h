/* layout.h - the on-disk structures of format v1 (docs/FORMAT.md), as
 * encode/decode functions over byte buffers. No I/O. All integers are
 * little-endian. Every decode checks its CRC and its own invariants; callers
 * still check offsets and sizes against the file. */
#ifndef STEPARC_LAYOUT_H
#define STEPARC_LAYOUT_H

#include "common.h"

#define SA_MAGIC "\x89STEP\r\n\x1a"      /* 8 bytes, file start */
#define SA_END_MAGIC "\x89STEPEND"       /* 8 bytes, file end */
#define SA_FILE_HEADER_SIZE 40
#define SA_SYNC_SIZE 16
/* The writer's sync marker (docs/FORMAT.md section 4): fixed, so that output
 * is deterministic; recovery falls back to it when the header is damaged. */
#define SA_DEFAULT_SYNC "steparc-sync-v1" /* 15 bytes + the terminating NUL */
#define SA_BLOCK_HEADER_SIZE 64          /* sync marker + 48 bytes */
#define SA_FOOTER_SIZE 64
#define SA_SECTION_ENTRY_SIZE 32
#define SA_BLOCK_INDEX_ENTRY_SIZE 48
#define SA_MAX_SECTIONS 256
#define SA_MAX_RECORDS UINT32_MAX        /* ordinals fit 32 bits in the id index */

enum { SA_BLOCK_DATA = 1, SA_BLOCK_DICT = 2 };
#define SA_BLOCK_FLAG_DICT 1u    /* data block compressed with the archive's dictionary */
#define SA_MAX_DICT (1u << 20)   /* dictionary size limit */
enum { SA_LAYOUT_ROWS = 0, SA_LAYOUT_COLUMNS = 1 };
enum { SA_CODEC_NONE = 0, SA_CODEC_ZSTD = 1 };
enum {
    SA_SEC_BLOCK_INDEX = 1,
    SA_SEC_ID_INDEX = 2,
    SA_SEC_RUN_POSTINGS = 3,
    SA_SEC_THREAD_POSTINGS = 4,
    SA_SEC_ASSISTANT_POSTINGS = 5,
    SA_SEC_STATS = 6,
    SA_SEC_DICTIONARY = 7,
    SA_SEC_PACKED_ID_INDEX = 8, /* 8..11: types 2..5 as packed key sets (format 1.2) */
    SA_SEC_PACKED_RUN_POSTINGS = 9,
    SA_SEC_PACKED_THREAD_POSTINGS = 10,
    SA_SEC_PACKED_ASSISTANT_POSTINGS = 11,
    SA_SEC_BLOCK_KINDS = 12 /* u32 kind mask per block (format 1.3) */
};
#define SA_FOOTER_TIME_ORDERED 1u

typedef struct {
    uint16_t major, minor;
    uint32_t flags;
    unsigned char sync[SA_SYNC_SIZE];
    uint32_t block_size;
} sa_file_header;

typedef struct {
    uint8_t kind, layout, codec, flags;
    uint32_t record_count;
    uint64_t first_ordinal;
    int64_t min_created_at, max_created_at; /* INT64_MAX/INT64_MIN when none */
    uint32_t stored_size, raw_size;
    uint32_t payload_crc;
} sa_block_header;

typedef struct {
    uint32_t type;
    uint64_t offset, length;
    uint32_t crc;
} sa_section;

typedef struct {
    uint64_t section_table_offset;
    uint32_t section_count;
    uint32_t section_table_crc;
    uint64_t record_count;
    uint64_t block_count;
    uint64_t prev_footer_offset;
    uint32_t flags;
} sa_footer;

typedef struct {
    uint64_t offset;        /* file offset of the block's sync marker */
    uint64_t first_ordinal;
    uint32_t record_count;
    uint32_t stored_size, raw_size;
    uint32_t rows_size;     /* layout 1: bytes of the decoded rows payload; layout 0: 0 */
    int64_t min_created_at, max_created_at;
} sa_block_entry;

void sa_file_header_encode(const sa_file_header *h, unsigned char out[SA_FILE_HEADER_SIZE]);
/* 0, STEPARC_E_CORRUPT (magic/CRC), STEPARC_E_VERSION (major != 1). */
int sa_file_header_decode(const unsigned char in[SA_FILE_HEADER_SIZE], sa_file_header *h);

void sa_block_header_encode(const unsigned char sync[SA_SYNC_SIZE], const sa_block_header *b,
                            unsigned char out[SA_BLOCK_HEADER_SIZE]);
/* Checks the sync marker, the header CRC and the field invariants (kind,
 * counts, sizes within limits). 0 or STEPARC_E_CORRUPT with why set. */
int sa_block_header_decode(const unsigned char sync[SA_SYNC_SIZE],
                           const unsigned char in[SA_BLOCK_HEADER_SIZE], sa_block_header *b,
                           const char **why);

void sa_footer_encode(const sa_footer *f, unsigned char out[SA_FOOTER_SIZE]);
int sa_footer_decode(const unsigned char in[SA_FOOTER_SIZE], sa_footer *f, const char **why);

void sa_section_encode(const sa_section *s, unsigned char out[SA_SECTION_ENTRY_SIZE]);
void sa_section_decode(const unsigned char in[SA_SECTION_ENTRY_SIZE], sa_section *s);

void sa_block_entry_encode(const sa_block_entry *e, unsigned char out[SA_BLOCK_INDEX_ENTRY_SIZE]);
void sa_block_entry_decode(const unsigned char in[SA_BLOCK_INDEX_ENTRY_SIZE], sa_block_entry *e);

/* The 32-bit key of an id in the id index and postings: the high half of
 * fmix64(FNV-1a-64(bytes)). */
static inline uint32_t sa_key32(const void *p, size_t n)
{
    return (uint32_t)(sa_hash_id64(p, n) >> 32);
}

/* Finds the last valid footer in an archive image: the one in the last 64
 * bytes, or, when those are not a footer (an append interrupted by a crash),
 * the latest earlier footer whose CRC and section table check. *at is its
 * offset. 0 or STEPARC_E_CORRUPT (why says what was wrong with the last 64
 * bytes). */
int sa_find_footer(const unsigned char *base, uint64_t size, sa_footer *f, uint64_t *at,
                   const char **why);

/* Validates a decompressed rows payload (layout 0): the offset table is
 * ascending and ends exactly at raw_size. 0 or STEPARC_E_CORRUPT. */
int sa_rows_check(const unsigned char *raw, size_t raw_size, uint32_t count);
/* Record k of a checked rows payload. */
static inline void sa_rows_get(const unsigned char *raw, uint32_t count, uint32_t k,
                               const unsigned char **p, size_t *n)
{
    const unsigned char *base = raw + 4 * (size_t)count;
    uint32_t start = k ? sa_get_u32(raw + 4 * (size_t)(k - 1)) : 0;
    uint32_t end = sa_get_u32(raw + 4 * (size_t)k);
    *p = base + start;
    *n = end - start;
}

#endif
