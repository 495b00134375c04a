/* columnar.h - block layout 1 (docs/FORMAT.md 5.5): a block's records as
 * typed columns. Pure functions over buffers, no I/O: the writer encodes a
 * rows payload (layout 0, 5.3) into a columnar payload before compressing
 * it; readers decode a columnar payload back into the exact rows payload, so
 * everything after block loading is the same for both layouts. */
#ifndef STEPARC_COLUMNAR_H
#define STEPARC_COLUMNAR_H

#include "common.h"

/* Encoder state: tables reused from block to block (one per thread). */
typedef struct sa_colenc sa_colenc;

sa_colenc *sa_colenc_new(void);
void sa_colenc_free(sa_colenc *e); /* accepts NULL */

/* Encodes the rows payload rows[0..rows_size) of n records (checked with
 * sa_rows_check; records valid MessagePack) as a columnar payload, replacing
 * out's contents. Lossless for any record bytes: a value the columns cannot
 * hold exactly stays a literal. 0, STEPARC_E_NOMEM, STEPARC_E_INPUT when a
 * record is not well-formed MessagePack, or STEPARC_E_LIMIT when the block
 * needs more streams or skeleton bytes than 5.5 allows (keep it as rows). */
int sa_col_encode(sa_colenc *e, const unsigned char *rows, size_t rows_size, uint32_t n,
                  steparc_buf *out);

/* The rows_size a columnar payload declares (its first field), or 0 when it
 * cannot be read. Lets callers check it before decoding. */
uint64_t sa_col_rows_size(const unsigned char *col, size_t col_size);

/* Decodes a columnar payload of n records into a new rows payload of
 * *rows_size bytes (sa_malloc'd; the caller frees it with sa_free). Every
 * count, length and reference is checked: any bytes give either the rows or
 * STEPARC_E_CORRUPT with *why set; or STEPARC_E_NOMEM. The result still needs
 * sa_rows_check like any rows payload (it passes by construction). */
int sa_col_decode(const unsigned char *col, size_t col_size, uint32_t n, unsigned char **rows,
                  size_t *rows_size, const char **why);

/* Measurement only (bench/colstat.c): for the block last encoded by e, calls
 * fn for the skeletons and skeleton ids (kind 0, paths "(skeletons)" and
 * "(skeleton ids)"), then for each stream with its key path (keys joined by
 * '.', "[]" for array elements) and kind: values area as a/an and, for
 * strings, the new strings' bytes as b/bn, then once more with kind 5 for
 * their lengths area. */
typedef void (*sa_col_stream_fn)(void *ctx, const char *path, int kind, const unsigned char *a,
                                 size_t an, const unsigned char *b, size_t bn);
void sa_col_streams(const sa_colenc *e, sa_col_stream_fn fn, void *ctx);

#endif
