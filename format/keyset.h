/* keyset.h - packed key sets (docs/FORMAT.md 8.6): the id index and the
 * postings as sorted values key32 << 32 | low, each stored in 32 - B + L
 * bits behind a directory of 2^B buckets (the key's top B bits), about half
 * the bytes of the plain u64 arrays (8.2, 8.3). Pure functions over
 * buffers, no I/O. */
#ifndef STEPARC_KEYSET_H
#define STEPARC_KEYSET_H

#include "common.h"

#define SA_KEYSET_MAX_BUCKET_BITS 20u
#define SA_KEYSET_TRAILER 8u

/* A packed key set checked by sa_keyset_open: its parts located, sizes
 * consistent. Borrows the section bytes. */
typedef struct {
    const unsigned char *ent, *dir;
    uint64_t n;
    unsigned bbits, lbits, w;
} sa_keyset;

/* Locates the parts of a packed key set of len bytes. 0, or
 * STEPARC_E_CORRUPT with *why set when the trailer, the sizes or the
 * directory's last entry are inconsistent. */
int sa_keyset_open(sa_keyset *ks, const unsigned char *p, uint64_t len, const char **why);

/* Calls fn(ctx, low) for each value whose key is `key`, in ascending order
 * of low. Returns 0, fn's first nonzero result, or STEPARC_E_CORRUPT (*why)
 * when the bucket's directory entries or its entries' order are wrong. */
int sa_keyset_find(const sa_keyset *ks, uint32_t key, int (*fn)(void *ctx, uint64_t low),
                   void *ctx, const char **why);

/* Calls fn(ctx, v) for every value, ascending, checking the whole directory
 * and that values strictly ascend. 0, fn's nonzero, or STEPARC_E_CORRUPT. */
int sa_keyset_each(const sa_keyset *ks, int (*fn)(void *ctx, uint64_t v), void *ctx,
                   const char **why);

/* Encoder: values pushed in strictly ascending order; the packed bytes
 * accumulate in out, which the caller may drain (write and reset len)
 * between pushes. */
typedef struct {
    unsigned bbits, lbits, w;
    uint64_t n, last;
    uint32_t *start;   /* 2^B + 1 directory entries */
    uint64_t nb;       /* buckets whose start is known */
    uint64_t acc;      /* pending bits, LSB first */
    unsigned nacc;
    steparc_buf *out;
} sa_keyset_enc;

/* Bits needed for values 0..max (0 for max 0). */
unsigned sa_bits_for(uint64_t max);

/* n_max: how many values will be pushed at most (chooses B, about n/8 per
 * bucket); low_bits: L, every low < 2^L. 0 or STEPARC_E_NOMEM/ARG. */
int sa_keyset_enc_init(sa_keyset_enc *e, uint64_t n_max, unsigned low_bits, steparc_buf *out);
/* 0, STEPARC_E_NOMEM, or STEPARC_E_ARG when v is not above the previous
 * value, its low needs more than L bits, or more than 2^32 - 1 values. */
int sa_keyset_enc_push(sa_keyset_enc *e, uint64_t v);
/* Appends the last entry bits, the directory and the trailer. */
int sa_keyset_enc_finish(sa_keyset_enc *e);
void sa_keyset_enc_free(sa_keyset_enc *e);

#endif
