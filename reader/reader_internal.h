/* reader_internal.h - the reader's state, shared by reader.c, cursor.c and
 * verify.c. */
#ifndef STEPARC_READER_INTERNAL_H
#define STEPARC_READER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <zstd.h>

#include "archive.h"
#include "record.h"

/* A section slot (archive.h) and its lazy CRC check's outcome. */
typedef struct {
    int present, verified, bad;
    int packed; /* a packed key set (types 8-11) in an index slot */
    sa_section s;
} sa_rsection;

/* A decompressed block. In the cache when `cached`; pinned while in use. */
typedef struct {
    uint64_t block, first;
    uint32_t count, raw_size;
    unsigned char *raw;
    int pins, cached;
    uint64_t last_use;
} sa_cblock;

#define SA_MAX_DCTX 16

struct steparc_reader {
    const unsigned char *base;
    uint64_t size;
    int fd, mapped;
    sa_file_header hdr;
    sa_footer ft;
    sa_rsection sec[SA_SLOT_COUNT];
    const unsigned char *bindex;
    uint64_t nblocks;
    uint64_t ignored_tail; /* bytes after the footer in use (interrupted append) */

    pthread_mutex_t mu; /* guards the cache, the dctx pool, section checks */
    sa_cblock **cache;
    size_t cache_cap;
    uint64_t clock;
    uint64_t hits, misses;
    ZSTD_DDict *ddict; /* the archive's dictionary, made on first use (ensure_ddict) */
    atomic_int ddict_ready; /* ddict is set: later blocks skip the lock */
    ZSTD_DCtx *dctx[SA_MAX_DCTX];
    size_t ndctx;
};

int sa_rfail(const steparc_reader *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sa_section_get(steparc_reader *r, int slot, const unsigned char **p, uint64_t *len);
void sa_block_entry_at(const steparc_reader *r, uint64_t b, sa_block_entry *e);
int sa_block_load(steparc_reader *r, uint64_t b, sa_cblock **out);
int sa_block_pin(steparc_reader *r, uint64_t b, sa_cblock **out);
void sa_block_unpin(steparc_reader *r, sa_cblock *c);
uint64_t sa_block_of(const steparc_reader *r, uint64_t n);
size_t sa_lower_bound(const unsigned char *p, size_t n, uint64_t key);
/* For an index slot (SA_SLOT_IDS..SA_SLOT_ASSISTANTS), plain (8.2, 8.3) or packed
 * (8.6): calls fn(ctx, low) for each value with key32 `key`, ascending
 * (find), or fn(ctx, value) for every value, ascending (each). The section's
 * CRC is checked first (sa_section_get). 0, fn's nonzero result,
 * STEPARC_E_NOTFOUND when the archive has no such index, or
 * STEPARC_E_CORRUPT with the reader's message set. */
int sa_index_find(steparc_reader *r, int slot, uint32_t key, int (*fn)(void *ctx, uint64_t low),
                  void *ctx);
int sa_index_each(steparc_reader *r, int slot, int (*fn)(void *ctx, uint64_t v), void *ctx);

#endif
