/* sorter.h - sorts a stream of fixed-size entries in bounded memory: entries
 * collect in memory up to a limit, then spill as sorted runs to an unlinked
 * temporary file; finish merges the runs. Entries compare as byte strings
 * (memcmp), so numbers are stored big-endian. Index building and duplicate
 * detection use it so that memory does not grow with the input. */
#ifndef STEPARC_SORTER_H
#define STEPARC_SORTER_H

#include "common.h"

typedef struct sa_sorter sa_sorter;

/* dir: where spill files go (the output's directory). esize: entry size in
 * bytes (1..256). limit: bytes kept in memory before a spill (0 = 8 MiB). */
int sa_sorter_open(sa_sorter **out, const char *dir, size_t esize, size_t limit);
int sa_sorter_push(sa_sorter *s, const void *entry);
/* For 8-byte entries: pushes v big-endian. */
int sa_sorter_push_u64(sa_sorter *s, uint64_t v);
uint64_t sa_sorter_count(const sa_sorter *s);
/* Streams every entry in ascending order to emit, in batches of n entries of
 * esize bytes, dropping exact repeats when unique is set. emit returns 0 to go
 * on. 0 or STEPARC_E_*. */
int sa_sorter_finish(sa_sorter *s, int unique,
                     int (*emit)(void *ctx, const unsigned char *e, size_t n), void *ctx);
void sa_sorter_close(sa_sorter *s);
/* Runs spilled so far (tests). */
size_t sa_sorter_runs(const sa_sorter *s);

static inline uint64_t sa_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline void sa_put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)v;
        v >>= 8;
    }
}

#endif
