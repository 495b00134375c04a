/* test_keyset.c - packed key sets (format/keyset.c, FORMAT.md 8.6): random
 * sets encoded and read back whole and by key, hand-made layouts, and every
 * single-byte damage and truncation of small sets (no crash, no read past
 * the section: run it under ASan). */
#include "harness.h"
#include "keyset.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    const uint64_t *want;
    uint64_t n, at;
    int bad;
} each_ctx;

static int each_check(void *ctx, uint64_t v)
{
    each_ctx *c = (each_ctx *)ctx;
    if (c->at >= c->n || c->want[c->at] != v)
        c->bad = 1;
    c->at++;
    return 0;
}

typedef struct {
    uint64_t lows[4096];
    size_t n;
} find_ctx;

static int find_collect(void *ctx, uint64_t low)
{
    find_ctx *c = (find_ctx *)ctx;
    if (c->n < 4096)
        c->lows[c->n] = low;
    c->n++;
    return 0;
}

static int encode(const uint64_t *v, size_t n, unsigned lb, steparc_buf *out)
{
    sa_keyset_enc e;
    int rc = sa_keyset_enc_init(&e, n, lb, out);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = sa_keyset_enc_push(&e, v[i]);
    if (rc == 0)
        rc = sa_keyset_enc_finish(&e);
    sa_keyset_enc_free(&e);
    return rc;
}

/* n values, keys drawn from nkeys distinct ones (0: uniform), lows < 2^lb,
 * sorted and unique. Returns the count. */
static size_t gen_set(uint64_t *v, size_t n, uint64_t nkeys, unsigned lb)
{
    uint32_t pool[64];
    for (int i = 0; i < 64; i++)
        pool[i] = (uint32_t)h_rand();
    for (size_t i = 0; i < n; i++) {
        uint32_t key = nkeys ? pool[h_rand() % nkeys] : (uint32_t)h_rand();
        uint64_t low = lb ? h_rand() & ((lb == 64 ? 0 : ((uint64_t)1 << lb)) - 1) : 0;
        v[i] = (uint64_t)key << 32 | low;
    }
    qsort(v, n, sizeof *v, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[i] != v[m - 1])
            v[m++] = v[i];
    return m;
}

static void test_keyset_roundtrip(void)
{
    uint64_t seed = h_seed() ^ 0x4B5;
    h_rng_state = seed;
    printf("# test_keyset_roundtrip seed %" PRIu64 "\n", seed);
    static uint64_t v[200000];
    static const size_t sizes[] = {0, 1, 2, 7, 8, 9, 100, 1000, 65536, 200000};
    static const unsigned lbs[] = {0, 1, 11, 17, 31, 32};
    steparc_buf out = {0};
    int reported = 0;
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t c = 0; c < sizeof lbs / sizeof *lbs; c++)
            for (uint64_t nkeys = 0; nkeys <= 40; nkeys += 40) {
                size_t n = gen_set(v, sizes[a], nkeys, lbs[c]);
                out.len = 0;
                CHECK_EQ_INT(encode(v, n, lbs[c], &out), 0);
                sa_keyset ks;
                const char *why = "";
                int rc = sa_keyset_open(&ks, (const unsigned char *)out.data, out.len, &why);
                CHECK_EQ_INT(rc, 0);
                if (rc)
                    continue;
                CHECK_EQ_INT(ks.n, n);
                each_ctx ec = {v, n, 0, 0};
                CHECK_EQ_INT(sa_keyset_each(&ks, each_check, &ec, &why), 0);
                CHECK(ec.at == n && !ec.bad);
                /* by key: every present key gives exactly its lows, in order */
                for (size_t t = 0; t < 50 && n; t++) {
                    size_t i = (size_t)(h_rand() % n);
                    uint32_t key = (uint32_t)(v[i] >> 32);
                    size_t lo = i, hi = i;
                    while (lo > 0 && (uint32_t)(v[lo - 1] >> 32) == key)
                        lo--;
                    while (hi + 1 < n && (uint32_t)(v[hi + 1] >> 32) == key)
                        hi++;
                    static find_ctx fc;
                    fc.n = 0;
                    CHECK_EQ_INT(sa_keyset_find(&ks, key, find_collect, &fc, &why), 0);
                    int ok = fc.n == hi - lo + 1;
                    for (size_t k = 0; ok && k < fc.n && k < 4096; k++)
                        ok = fc.lows[k] == (v[lo + k] & 0xffffffffu);
                    if (!ok && reported++ < 3)
                        fprintf(stderr, "  seed %" PRIu64 ": n %zu lb %u key %08x: %zu lows, %zu expected\n",
                                seed, n, lbs[c], key, fc.n, hi - lo + 1);
                    CHECK(ok);
                }
                /* absent keys give nothing */
                for (int t = 0; t < 50; t++) {
                    uint32_t key = (uint32_t)h_rand();
                    int present = 0;
                    for (size_t i = 0; i < n && !present; i++)
                        present = (uint32_t)(v[i] >> 32) == key;
                    static find_ctx fc;
                    fc.n = 0;
                    CHECK_EQ_INT(sa_keyset_find(&ks, key, find_collect, &fc, &why), 0);
                    if (!present)
                        CHECK_EQ_INT(fc.n, 0);
                }
            }
    steparc_buf_free(&out);
}

static void test_keyset_size(void)
{
    /* 100,000 ids of 17-bit ordinals: 36 bits each + the directory, 61% of
     * the plain 8-byte entries */
    static uint64_t v[100000];
    h_rng_state = 99;
    for (size_t i = 0; i < 100000; i++)
        v[i] = (uint64_t)(uint32_t)h_rand() << 32 | i;
    qsort(v, 100000, sizeof *v, cmp_u64);
    steparc_buf out = {0};
    CHECK_EQ_INT(encode(v, 100000, 17, &out), 0);
    CHECK_EQ_INT(out.len, (100000 * 36 + 7) / 8 + 4 * ((1 << 13) + 1) + 8);
    steparc_buf_free(&out);
}

static void test_keyset_encoder_rules(void)
{
    steparc_buf out = {0};
    sa_keyset_enc e;
    CHECK_EQ_INT(sa_keyset_enc_init(&e, 10, 33, &out), STEPARC_E_ARG);
    sa_keyset_enc_free(&e);
    CHECK_EQ_INT(sa_keyset_enc_init(&e, 10, 4, &out), 0);
    CHECK_EQ_INT(sa_keyset_enc_push(&e, (uint64_t)5 << 32 | 3), 0);
    CHECK_EQ_INT(sa_keyset_enc_push(&e, (uint64_t)5 << 32 | 3), STEPARC_E_ARG);  /* repeat */
    CHECK_EQ_INT(sa_keyset_enc_push(&e, (uint64_t)4 << 32 | 9), STEPARC_E_ARG);  /* descending */
    CHECK_EQ_INT(sa_keyset_enc_push(&e, (uint64_t)6 << 32 | 16), STEPARC_E_ARG); /* low too wide */
    CHECK_EQ_INT(sa_keyset_enc_push(&e, (uint64_t)6 << 32 | 15), 0);
    CHECK_EQ_INT(sa_keyset_enc_finish(&e), 0);
    sa_keyset_enc_free(&e);
    sa_keyset_enc_free(NULL);
    /* the empty set: B 0, an entry-less section of directory + trailer */
    out.len = 0;
    CHECK_EQ_INT(encode(NULL, 0, 0, &out), 0);
    CHECK_EQ_INT(out.len, 4 * 2 + 8);
    steparc_buf_free(&out);
}

static int each_nop(void *ctx, uint64_t v)
{
    (void)ctx;
    (void)v;
    return 0;
}

static int find_nop(void *ctx, uint64_t low)
{
    (void)ctx;
    (void)low;
    return 0;
}

static void probe(const unsigned char *p, size_t len, int *opened)
{
    /* a copy of exactly len bytes: ASan sees any read past it */
    unsigned char *c = (unsigned char *)malloc(len ? len : 1);
    memcpy(c, p, len);
    sa_keyset ks;
    const char *why = NULL;
    if (sa_keyset_open(&ks, c, len, &why) == 0) {
        (*opened)++;
        (void)sa_keyset_each(&ks, each_nop, NULL, &why);
        for (uint32_t k = 0; k < 64; k++)
            (void)sa_keyset_find(&ks, k * 0x04000001u, find_nop, NULL, &why);
    } else {
        CHECK(why != NULL && why[0] != 0);
    }
    free(c);
}

static void test_keyset_damage(void)
{
    static uint64_t v[300];
    h_rng_state = 7;
    size_t n = gen_set(v, 300, 5, 9);
    steparc_buf out = {0};
    CHECK_EQ_INT(encode(v, n, 9, &out), 0);
    const unsigned char *p = (const unsigned char *)out.data;
    int opened = 0;
    for (size_t len = 0; len < out.len; len++)
        probe(p, len, &opened);
    CHECK_EQ_INT(opened, 0); /* a truncated set never matches its trailer */
    unsigned char *m = (unsigned char *)malloc(out.len);
    int found_bad = 0;
    for (size_t i = 0; i < out.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m, p, out.len);
            m[i] ^= (unsigned char)(1u << bit);
            probe(m, out.len, &opened);
            sa_keyset ks;
            const char *why;
            if (sa_keyset_open(&ks, m, out.len, &why) != 0 ||
                sa_keyset_each(&ks, each_nop, NULL, &why) != 0)
                found_bad++;
        }
    /* damage is caught by the section CRC; the structure itself still
     * notices much of it (trailer, directory, order) */
    CHECK(found_bad > 0);
    free(m);
    steparc_buf_free(&out);
}

int main(void)
{
    RUN(test_keyset_roundtrip);
    RUN(test_keyset_size);
    RUN(test_keyset_encoder_rules);
    RUN(test_keyset_damage);
    return h_done();
}
