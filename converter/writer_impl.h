/* writer_impl.h - the archive writer's state and the functions its files
 * share (writer.c: public API, accounting, block flush; compress.c: the
 * compression pool; dict.c: the dictionary; append.c: opening an archive to
 * append to; dedup.c: duplicates; sections.c: index sections, statistics,
 * footer). Not for the rest of the converter: it uses writer_internal.h. */
#ifndef STEPARC_WRITER_IMPL_H
#define STEPARC_WRITER_IMPL_H

#include <zstd.h>

#include "archive.h"
#include "columnar.h"
#include "pool.h"
#include "record.h"
#include "sorter.h"
#include "writer_internal.h"

#define SA_WR_DD_SIZE 80 /* bytes of a duplicate-detection entry (dedup.c) */
#define SA_WR_STAT_VALUES 64 /* distinct values per statistics map; more: "(other)" */

/* Memory of each index sorter before it spills to a temporary file: with the
 * block buffers and zstd's contexts this keeps a conversion of any size
 * within about 64 MiB. */
#define SA_WR_SORTER_BYTES (4u << 20)

typedef struct {
    char *name;
    size_t len;
    uint64_t count;
} sa_wr_stat_entry;

/* counts per value, in order of first appearance */
typedef struct {
    sa_wr_stat_entry e[SA_WR_STAT_VALUES];
    size_t n;
    uint64_t other;
} sa_wr_stat_map;

/* the output file */
typedef struct {
    char *path, *tmppath, *dir;
    int fd;
    int created;                /* the temporary file exists */
    uint64_t off;               /* bytes written: the next write's offset */
    uint64_t synced_off;        /* written back up to here (sync_file_range) */
} sa_wr_file;

/* The block being filled: its records at recs.data + gap, the gap in front
 * left for the offset table, so that the rows payload is built in place
 * instead of copied. */
typedef struct {
    steparc_buf recs;
    size_t gap;
    uint32_t *ends;
    size_t nends, capends;
    int64_t bmin, bmax;
    uint64_t first;             /* its first ordinal */
    uint32_t *pkeys[3];         /* run, thread, assistant keys of this block */
    size_t npkeys[3], cappkeys[3];
    /* the last run, thread and assistant id seen and its key: consecutive
     * steps mostly share them, and key32 hashes a byte at a time */
    unsigned char lastk[3][64];
    size_t lastk_len[3];        /* SIZE_MAX: none */
    uint32_t lastk_key[3];
    uint32_t kinds;             /* bit k: the block holds a record of kind k (8.7) */
} sa_wr_block;

/* what the archive holds so far: counts, time range and order, statistics */
typedef struct {
    uint64_t records, blocks_flushed, blocks_written;
    int time_ordered;
    int64_t prev_max;           /* the last block's max created_at, when have_prev */
    int have_prev;
    int64_t min_ts, max_ts;
    uint64_t raw_bytes, stored_bytes;
    sa_wr_stat_map by_type, by_status;
    sa_wr_stat_map by_kind;     /* short kind names (format 1.3) */
} sa_wr_totals;

/* the block index and the entries of the other index sections */
typedef struct {
    steparc_buf bindex;
    sa_sorter *ids, *post[3];   /* id index; run, thread, assistant postings */
    steparc_buf kinds;          /* block kinds (format 1.3): u32 per block closed */
} sa_wr_index;

typedef struct {
    sa_sorter *sorter;          /* dedup entries (dedup.c); NULL: duplicates kept */
    uint64_t duplicates;
    ZSTD_DCtx *dctx;            /* reading blocks back, made on first use */
} sa_wr_dedup;

/* a block held until the dictionary is decided */
typedef struct {
    steparc_buf raw;
    sa_block_header hdr;
    int ready;                  /* as sa_wr_submit_block's; 1: the columns are at col_off
                                   in the samples */
    size_t col_off, col_len;
} sa_wr_held;

typedef enum { SA_WR_DICT_COLLECTING, SA_WR_DICT_DECIDED } sa_wr_dict_state;

/* the dictionary: blocks are held until it is trained (or known not to be) */
typedef struct {
    sa_wr_dict_state state;
    steparc_buf bytes;          /* empty: none */
    ZSTD_CDict *cdict;
    ZSTD_DDict *ddict;          /* for reading blocks back (dedup), made on first use */
    sa_wr_held *held;
    size_t nheld, capheld;
    size_t held_bytes;
} sa_wr_dict;

/* append: the file is written in place after its last footer */
typedef struct {
    int appending;
    uint64_t prev_footer;       /* offset of the footer this append supersedes */
    uint64_t orig_len;          /* where the archive ended: restored if the append fails */
} sa_wr_append;

typedef struct {
    int columnar;               /* write layout 1 blocks */
    int packed;                 /* index sections as packed key sets (types 8-11, format 1.2) */
    sa_colenc *colenc;          /* dictionary training; the inline compressor borrows it */
    steparc_buf colbuf;         /* dictionary training's columnar payloads */
    int nthreads;               /* as the option; <= 1: compression inline */
    sa_pool *pool;              /* compress.c */
} sa_wr_compress;

struct steparc_writer {
    steparc_writer_options opt;
    unsigned minor;             /* the file's format minor: what it may hold (see create_file) */
    int finished, failed;
    unsigned char sync[SA_SYNC_SIZE];
    char err[512];
    sa_wr_file file;
    sa_wr_block blk;
    sa_wr_totals acc;
    sa_wr_index idx;
    sa_wr_dedup dd;
    sa_wr_dict dict;
    sa_wr_append app;
    sa_wr_compress comp;
};

/* ---- writer.c ---- */
/* Sets the message; returns status. */
int sa_wr_fail(steparc_writer *w, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A failed system call (errno): STEPARC_E_IO, the writer failed. */
int sa_wr_io_fail(steparc_writer *w, const char *what);
int sa_wr_write(steparc_writer *w, const void *p, size_t n);
/* What record mp[0..len) adds besides its bytes (ordinal w->acc.records). */
int sa_wr_account(steparc_writer *w, const void *mp, size_t len, const sa_keyfields *kf);
/* Ends the block being filled: its postings, kinds and time range; the
 * next block starts at the next record. */
int sa_wr_end_block(steparc_writer *w);
/* Closes the current block: held for the dictionary, or compressed. */
int sa_wr_flush_block(steparc_writer *w);

/* ---- compress.c ---- */
ZSTD_CDict *sa_wr_new_cdict(const steparc_writer *w, const void *dict, size_t len);
/* The payload a block stores before compression: the rows themselves, or
 * (ce non-NULL) their columnar encoding in *col, when the block allows it. */
int sa_wr_block_payload(sa_colenc *ce, const steparc_buf *raw, uint32_t count, steparc_buf *col,
                        const steparc_buf **payload);
/* Starts the compression (after the file header or the append's setup). */
int sa_wr_pool_open(steparc_writer *w);
/* Compresses and writes a block, here or on a worker (written in order).
 * ready: 0 the payload is to be decided; 1 it is the columns col[0..col_len);
 * 2 it is the rows. */
int sa_wr_submit_block(steparc_writer *w, const steparc_buf *raw, const sa_block_header *hdr,
                       int ready, const void *col, size_t col_len);
/* Writes every block submitted. */
int sa_wr_pool_finish(steparc_writer *w);
/* Writes a block (out: header room, then hdr->stored_size stored bytes) and
 * records it in the block index. */
int sa_wr_write_block(steparc_writer *w, const sa_block_header *hdr, uint32_t rows_size,
                      steparc_buf *out);

/* ---- dict.c ---- */
/* Holds a flushed block for the dictionary's training (decides it when
 * enough is held). */
int sa_wr_hold_block(steparc_writer *w, const steparc_buf *raw, const sa_block_header *hdr,
                     size_t record_bytes);
int sa_wr_decide_dict(steparc_writer *w);
/* w2 takes w's dictionary (or its decision to have none). */
int sa_wr_adopt_dict(steparc_writer *w2, const steparc_writer *w);

/* ---- append.c ---- */
int sa_wr_append_prepare(steparc_writer *w, char *errbuf, size_t cap);

/* ---- dedup.c ---- */
/* idh: sa_hash_id64 of the id (non-empty); kind: the record's. */
int sa_wr_dedup_push(steparc_writer *w, const void *mp, size_t len, const sa_keyfields *kf,
                     int kind, uint64_t idh);
/* Finds the duplicates; when there are some, writes the archive again
 * without them. *done = 1 when the final archive was written that way. */
int sa_wr_dedup_finish(steparc_writer *w, int *done);

/* ---- sections.c ---- */
/* Writes the sections, the section table and the footer after the blocks. */
int sa_wr_write_sections(steparc_writer *w);

#endif
