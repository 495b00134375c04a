/* test_sorter.c - the external sorter (converter/sorter.c) against qsort:
 * random entries of several sizes, keys with shared prefixes and repeats,
 * in memory and spilled to runs, with and without unique. */
#include "harness.h"
#include "sorter.h"

static size_t g_es;

static int cmp_bytes(const void *a, const void *b)
{
    return memcmp(a, b, g_es);
}

typedef struct {
    unsigned char *out;
    size_t n, cap, es;
} sink;

static int collect(void *ctx, const unsigned char *e, size_t n)
{
    sink *k = (sink *)ctx;
    if (k->n + n > k->cap)
        return STEPARC_E_LIMIT;
    memcpy(k->out + k->n * k->es, e, n * k->es);
    k->n += n;
    return 0;
}

/* One entry: mode 0 uniform bytes; 1 few distinct 8-byte prefixes (the
 * dedup entries' hash collisions); 2 few distinct entries (exact repeats);
 * 3 bytes that are constant in places (radix passes skipped). */
static void gen(unsigned char *e, size_t es, int mode)
{
    for (size_t i = 0; i < es; i++)
        e[i] = (unsigned char)h_rand();
    if (mode == 1 && es >= 8)
        sa_put_be64(e, h_rand() % 7);
    else if (mode == 1)
        e[0] = (unsigned char)(h_rand() % 7);
    if (mode == 2) {
        uint64_t r = h_rand() % 13;
        memset(e, 0, es);
        memcpy(e, &r, es < sizeof r ? es : sizeof r);
    }
    if (mode == 3)
        for (size_t i = 0; i < es; i += 2)
            e[i] = 0x5A;
}

static void one_case(size_t es, size_t n, size_t limit_bytes, int mode, int unique, uint64_t seed)
{
    h_rng_state = seed;
    sa_sorter *s = NULL;
    unsigned char *in = (unsigned char *)malloc(n * es + 1);
    sink k = {(unsigned char *)malloc(n * es + 1), 0, n, es};
    CHECK(sa_sorter_open(&s, "/tmp", es, limit_bytes) == 0);
    if (s == NULL || in == NULL || k.out == NULL) {
        free(in);
        free(k.out);
        sa_sorter_close(s);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        gen(in + i * es, es, mode);
        CHECK(sa_sorter_push(s, in + i * es) == 0);
    }
    CHECK_EQ_INT(sa_sorter_count(s), n);
    CHECK(sa_sorter_finish(s, unique, collect, &k) == 0);
    g_es = es;
    qsort(in, n, es, cmp_bytes);
    size_t m = n;
    if (unique && n > 1) {
        m = 1;
        for (size_t i = 1; i < n; i++)
            if (memcmp(in + i * es, in + (m - 1) * es, es) != 0)
                memmove(in + m++ * es, in + i * es, es);
    }
    CHECK_EQ_INT(k.n, m);
    if (k.n == m && memcmp(k.out, in, m * es) != 0) {
        CHECK(0); /* sorted output differs from qsort */
        fprintf(stderr, "  es %zu n %zu limit %zu mode %d unique %d seed %" PRIu64 "\n", es, n,
                limit_bytes, mode, unique, seed);
    }
    free(in);
    free(k.out);
    sa_sorter_close(s);
}

static void test_sorter_matches_qsort(void)
{
    uint64_t seed = h_seed();
    printf("# test_sorter_matches_qsort seed %" PRIu64 "\n", seed);
    static const size_t sizes[] = {1, 3, 8, 12, 16, 24, 40};
    static const size_t counts[] = {0, 1, 2, 17, 1000, 50000};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t b = 0; b < sizeof counts / sizeof *counts; b++)
            for (int mode = 0; mode < 4; mode++)
                for (int unique = 0; unique < 2; unique++) {
                    size_t es = sizes[a], n = counts[b];
                    uint64_t cs = seed + 1000003 * a + 1009 * b + 10 * (uint64_t)mode + (uint64_t)unique;
                    one_case(es, n, 0, mode, unique, cs);      /* in memory */
                    if (n >= 1000)
                        one_case(es, n, 4096 * es, mode, unique, cs); /* spilled: 13 runs */
                }
}

static void test_sorter_spills(void)
{
    sa_sorter *s = NULL;
    CHECK(sa_sorter_open(&s, "/tmp", 8, 8 * 1024) == 0);
    for (uint64_t i = 0; s && i < 10000; i++)
        CHECK(sa_sorter_push_u64(s, (i * 0x9E3779B97F4A7C15ULL) ^ (i >> 3)) == 0);
    CHECK(s && sa_sorter_runs(s) >= 9);
    sa_sorter_close(s);
    sa_sorter_close(NULL);
}

int main(void)
{
    RUN(test_sorter_matches_qsort);
    RUN(test_sorter_spills);
    return h_done();
}
