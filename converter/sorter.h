/* sorter.h - sorts a stream of u64 values in bounded memory: values collect
 * in memory up to a limit, then spill as sorted runs to an unlinked temporary
 * file; finish merges the runs. Index building uses it so that memory does
 * not grow with the input. */
#ifndef STEPARC_SORTER_H
#define STEPARC_SORTER_H

#include "common.h"

typedef struct sa_sorter sa_sorter;

/* dir: where spill files go (the output's directory). limit: values kept in
 * memory before a spill (0 = default 1Mi values = 8 MiB). */
int sa_sorter_open(sa_sorter **out, const char *dir, size_t limit);
int sa_sorter_push(sa_sorter *s, uint64_t v);
uint64_t sa_sorter_count(const sa_sorter *s);
/* Streams all values in ascending order to emit (in batches), dropping
 * repeats when unique is set. emit returns 0 to go on. 0 or STEPARC_E_*. */
int sa_sorter_finish(sa_sorter *s, int unique, int (*emit)(void *ctx, const uint64_t *v, size_t n),
                     void *ctx);
void sa_sorter_close(sa_sorter *s);
/* Runs spilled so far (tests). */
size_t sa_sorter_runs(const sa_sorter *s);

#endif
