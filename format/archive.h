/* archive.h - the one archive parser and the one block decoder (docs/FORMAT.md
 * 8, 9, 10, 11 and 5). Pure functions over a byte image (an mmap, a buffer):
 * no I/O. Every caller that opens an archive (the reader's open, the writer's
 * append, through them merge, cat, get, find, verify) parses it here, and
 * every caller that reads a block (the reader, the dedup pass, recovery)
 * decodes it here, so a check and its message exist once. */
#ifndef STEPARC_ARCHIVE_H
#define STEPARC_ARCHIVE_H

#include <zstd.h>

#include "layout.h"

/* Where the sections an archive is read through are kept: one slot per
 * index, whichever form (plain 2..5 or packed 8..11) it has. */
enum {
    SA_SLOT_BLOCKS,
    SA_SLOT_IDS,
    SA_SLOT_RUNS,
    SA_SLOT_THREADS,
    SA_SLOT_ASSISTANTS,
    SA_SLOT_STATS,
    SA_SLOT_DICT,
    SA_SLOT_KINDS,
    SA_SLOT_COUNT
};

typedef struct {
    int present;
    int packed; /* a packed key set (types 8-11) in an index slot */
    sa_section s;
} sa_slot;

/* A parsed archive: pointers into the image, valid while it is. */
typedef struct {
    const unsigned char *base;
    uint64_t size;
    sa_file_header hdr;
    sa_footer ft;
    uint64_t footer_at;        /* offset of the footer in use */
    uint64_t ignored_tail;     /* bytes after it (an interrupted append) */
    const unsigned char *table; /* ft.section_count entries of 32 bytes */
    sa_slot slot[SA_SLOT_COUNT];
    const unsigned char *bindex; /* ft.block_count entries of 48 bytes, all checked */
    const unsigned char *kinds;  /* section 12: ft.block_count u32 masks, checked; NULL: absent */
    uint64_t nblocks;
} sa_archive;

/* Parses and checks the archive image base[0..size): the file header, the
 * footer (sa_find_footer), the section table and the range of every section
 * (9), which sections there are (8), the block index's size, CRC and entries
 * (8.1) and the footer's record count, the dictionary's size and the plain
 * indexes' sizes. The sections other than the block index are not read: their
 * CRCs are checked when first used (sa_section_crc_check), so that opening
 * stays a few small reads. 0, STEPARC_E_CORRUPT or STEPARC_E_VERSION with the
 * reason in err (cap bytes, always terminated when cap > 0). */
int sa_archive_parse(sa_archive *a, const unsigned char *base, uint64_t size, char *err,
                     size_t cap);

/* The section table's entry of type `type` (the first one), 1, or 0 when the
 * archive has none. */
int sa_archive_find(const sa_archive *a, uint32_t type, sa_section *s);

/* Rule 9 for a section of an archive whose section table is at table_off:
 * 40 <= offset and offset + length <= table_off, without overflow. */
static inline int sa_section_in_range(const sa_section *s, uint64_t table_off)
{
    return s->offset >= SA_FILE_HEADER_SIZE && s->offset <= table_off &&
           s->length <= table_off - s->offset;
}

/* The CRC check of a section whose range checked (done on first use, or by
 * append for all of them), and its one message. 0 or STEPARC_E_CORRUPT. */
int sa_section_crc_check(const unsigned char *base, const sa_section *s);
void sa_section_crc_msg(const sa_section *s, char *err, size_t cap);

/* ---- blocks ------------------------------------------------------------------- */

/* The block header at hp (64 bytes): sa_block_header_decode, then, when e is
 * not NULL (the block is reached through the block index), the agreement of
 * the header with the entry (5.1). 0 or STEPARC_E_CORRUPT with *why set. */
int sa_block_head(const unsigned char sync[SA_SYNC_SIZE], const unsigned char *hp,
                  const sa_block_entry *e, sa_block_header *h, const char **why);

/* The payload of a block whose header checked: it fits in the `avail` bytes
 * the caller can read from `payload` on, and matches payload_crc32c. 0 or
 * STEPARC_E_CORRUPT with *why set. */
int sa_block_body(const sa_block_header *h, const unsigned char *payload, uint64_t avail,
                  const char **why);

/* Both, for a block at p in an image with avail bytes from p on. */
int sa_block_check(const unsigned char sync[SA_SYNC_SIZE], const unsigned char *p,
                   uint64_t avail, const sa_block_entry *e, sa_block_header *h,
                   const char **why);

/* Decodes the checked payload of data block h into its rows payload (5.2,
 * 5.3, 5.5): decompression with d (needed for codec 1) and, for a block with
 * the dictionary flag, dd (NULL: the archive has no dictionary); the columnar
 * layout decoded (and its declared rows size compared with rows_size, the
 * block index's, unless that is 0); the record table checked. *rows is
 * sa_malloc'd (the caller frees it with sa_free), *rows_len bytes of h's
 * record_count records. 0, STEPARC_E_CORRUPT with the reason in why, or
 * STEPARC_E_NOMEM. */
int sa_block_decode(const sa_block_header *h, const unsigned char *payload, uint32_t rows_size,
                    ZSTD_DCtx *d, const ZSTD_DDict *dd, unsigned char **rows, size_t *rows_len,
                    char *why, size_t cap);

#endif
