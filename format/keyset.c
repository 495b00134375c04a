/* keyset.c - packed key sets (docs/FORMAT.md 8.6). */
#include <stdlib.h>

#include "keyset.h"

unsigned sa_bits_for(uint64_t max)
{
    unsigned b = 0;
    while (b < 64 && (max >> b) != 0)
        b++;
    return b;
}

/* Entry i: W bits from bit i*W of the entries area, LSB first. Reads only
 * the bytes holding those bits: [(i*W) / 8, (i*W + W - 1) / 8]. */
static uint64_t get_entry(const sa_keyset *ks, uint64_t i)
{
    uint64_t bit = i * ks->w;
    const unsigned char *p = ks->ent + (bit >> 3);
    unsigned sh = (unsigned)(bit & 7), nbytes = (sh + ks->w + 7) / 8; /* <= 9 */
    uint64_t lo = 0;
    for (unsigned k = 0; k < nbytes && k < 8; k++)
        lo |= (uint64_t)p[k] << (8 * k);
    uint64_t v = lo >> sh;
    if (nbytes == 9) /* then sh > 0 */
        v |= (uint64_t)p[8] << (64 - sh);
    return ks->w == 64 ? v : v & (((uint64_t)1 << ks->w) - 1);
}

int sa_keyset_open(sa_keyset *ks, const unsigned char *p, uint64_t len, const char **why)
{
    memset(ks, 0, sizeof *ks);
    if (len < SA_KEYSET_TRAILER) {
        *why = "packed key set is shorter than its trailer";
        return STEPARC_E_CORRUPT;
    }
    const unsigned char *t = p + len - SA_KEYSET_TRAILER;
    unsigned B = t[0], L = t[1];
    uint64_t n = sa_get_u32(t + 4);
    if (B > SA_KEYSET_MAX_BUCKET_BITS || L > 32) {
        *why = "packed key set has invalid bucket or low bit counts";
        return STEPARC_E_CORRUPT;
    }
    uint64_t dsize = 4 * (((uint64_t)1 << B) + 1), w = 32 - B + L;
    if (len - SA_KEYSET_TRAILER < dsize ||
        len - SA_KEYSET_TRAILER - dsize != (n * w + 7) / 8) {
        *why = "packed key set size does not match its count";
        return STEPARC_E_CORRUPT;
    }
    ks->ent = p;
    ks->dir = p + (len - SA_KEYSET_TRAILER - dsize);
    ks->n = n;
    ks->bbits = B;
    ks->lbits = L;
    ks->w = (unsigned)w;
    if (sa_get_u32(ks->dir) != 0 || sa_get_u32(ks->dir + 4 * ((uint64_t)1 << B)) != n) {
        *why = "packed key set directory does not span its entries";
        return STEPARC_E_CORRUPT;
    }
    return 0;
}

/* The entries of bucket b: [*s0, *s1), checked against the count. */
static int bucket(const sa_keyset *ks, uint64_t b, uint64_t *s0, uint64_t *s1, const char **why)
{
    *s0 = sa_get_u32(ks->dir + 4 * b);
    *s1 = sa_get_u32(ks->dir + 4 * (b + 1));
    if (*s0 > *s1 || *s1 > ks->n) {
        *why = "packed key set directory is not ascending";
        return STEPARC_E_CORRUPT;
    }
    return 0;
}

int sa_keyset_find(const sa_keyset *ks, uint32_t key, int (*fn)(void *ctx, uint64_t low),
                   void *ctx, const char **why)
{
    unsigned kb = 32 - ks->bbits;
    uint64_t b = (uint64_t)key >> kb, want = (uint64_t)key & (((uint64_t)1 << kb) - 1);
    uint64_t s0, s1;
    int rc = bucket(ks, b, &s0, &s1, why);
    uint64_t prev = 0;
    for (uint64_t i = s0; rc == 0 && i < s1; i++) {
        uint64_t e = get_entry(ks, i);
        if (i > s0 && e <= prev) {
            *why = "packed key set entries are not ascending";
            return STEPARC_E_CORRUPT;
        }
        prev = e;
        uint64_t k = e >> ks->lbits;
        if (k > want)
            break;
        if (k == want)
            rc = fn(ctx, e & (((uint64_t)1 << ks->lbits) - 1));
    }
    return rc;
}

int sa_keyset_each(const sa_keyset *ks, int (*fn)(void *ctx, uint64_t v), void *ctx,
                   const char **why)
{
    unsigned kb = 32 - ks->bbits;
    uint64_t nbuckets = (uint64_t)1 << ks->bbits, prev = 0;
    int rc = 0;
    for (uint64_t b = 0; rc == 0 && b < nbuckets; b++) {
        uint64_t s0, s1;
        if ((rc = bucket(ks, b, &s0, &s1, why)) != 0)
            break;
        for (uint64_t i = s0; rc == 0 && i < s1; i++) {
            uint64_t e = get_entry(ks, i);
            uint64_t v = ((b << kb) | (e >> ks->lbits)) << 32 | (e & (((uint64_t)1 << ks->lbits) - 1));
            if (i > 0 && v <= prev) {
                *why = "packed key set entries are not ascending";
                return STEPARC_E_CORRUPT;
            }
            prev = v;
            rc = fn(ctx, v);
        }
    }
    return rc;
}

/* ---- encoder ------------------------------------------------------------------ */

int sa_keyset_enc_init(sa_keyset_enc *e, uint64_t n_max, unsigned low_bits, steparc_buf *out)
{
    memset(e, 0, sizeof *e);
    if (low_bits > 32 || n_max > UINT32_MAX)
        return STEPARC_E_ARG;
    /* about 8 values per bucket: 4 directory bits per value, short scans */
    unsigned B = 0;
    while (B < SA_KEYSET_MAX_BUCKET_BITS && ((uint64_t)8 << (B + 1)) <= n_max)
        B++;
    e->bbits = B;
    e->lbits = low_bits;
    e->w = 32 - B + low_bits;
    e->out = out;
    e->start = (uint32_t *)sa_malloc((((size_t)1 << B) + 1) * sizeof *e->start);
    return e->start ? 0 : STEPARC_E_NOMEM;
}

static int put_bits(sa_keyset_enc *e, uint64_t v, unsigned w)
{
    while (w) {
        unsigned take = 64 - e->nacc;
        if (take > w)
            take = w;
        uint64_t part = take == 64 ? v : v & (((uint64_t)1 << take) - 1);
        e->acc |= part << e->nacc;
        e->nacc += take;
        v = take == 64 ? 0 : v >> take;
        w -= take;
        unsigned char bytes[8];
        unsigned nb = 0;
        while (e->nacc >= 8) {
            bytes[nb++] = (unsigned char)e->acc;
            e->acc >>= 8;
            e->nacc -= 8;
        }
        if (nb && sa_buf_append(e->out, bytes, nb) != 0)
            return STEPARC_E_NOMEM;
    }
    return 0;
}

int sa_keyset_enc_push(sa_keyset_enc *e, uint64_t v)
{
    if ((e->n > 0 && v <= e->last) || (v & 0xffffffffu) >> e->lbits != 0 || e->n >= UINT32_MAX)
        return STEPARC_E_ARG;
    unsigned kb = 32 - e->bbits;
    uint64_t key = v >> 32, b = key >> kb;
    for (; e->nb <= b; e->nb++)
        e->start[e->nb] = (uint32_t)e->n;
    uint64_t ent = (key & (((uint64_t)1 << kb) - 1)) << e->lbits | (v & 0xffffffffu);
    e->last = v;
    e->n++;
    return put_bits(e, ent, e->w);
}

int sa_keyset_enc_finish(sa_keyset_enc *e)
{
    if (e->nacc > 0) {
        unsigned char last = (unsigned char)e->acc;
        e->acc = 0;
        e->nacc = 0;
        if (sa_buf_append(e->out, &last, 1) != 0)
            return STEPARC_E_NOMEM;
    }
    uint64_t nbuckets = (uint64_t)1 << e->bbits;
    for (; e->nb <= nbuckets; e->nb++)
        e->start[e->nb] = (uint32_t)e->n;
    for (uint64_t b = 0; b <= nbuckets; b++) {
        unsigned char q[4];
        sa_put_u32(q, e->start[b]);
        if (sa_buf_append(e->out, q, 4) != 0)
            return STEPARC_E_NOMEM;
    }
    unsigned char t[SA_KEYSET_TRAILER] = {(unsigned char)e->bbits, (unsigned char)e->lbits, 0, 0};
    sa_put_u32(t + 4, (uint32_t)e->n);
    return sa_buf_append(e->out, t, sizeof t);
}

void sa_keyset_enc_free(sa_keyset_enc *e)
{
    if (e == NULL)
        return;
    sa_free(e->start);
    e->start = NULL;
}
