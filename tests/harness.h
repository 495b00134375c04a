/* harness.h - a tiny test harness. Each test is a function; CHECK records a
 * failure with its location and goes on; run() prints "PASS name" or
 * "FAIL name" lines that tests/run.sh counts. Property tests print their seed
 * so a failure can be replayed (STEPARC_SEED=N). */
#ifndef STEPARC_HARNESS_H
#define STEPARC_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h_fail_count;
static int h_total_pass, h_total_fail;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            if (h_fail_count++ < 10)                                                  \
                fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                            \
    do {                                                                              \
        long long h_a = (long long)(a), h_b = (long long)(b);                         \
        if (h_a != h_b) {                                                             \
            if (h_fail_count++ < 10)                                                  \
                fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,  \
                        __LINE__, #a, h_a, #b, h_b);                                  \
        }                                                                             \
    } while (0)

#define CHECK_STR(a, b)                                                               \
    do {                                                                              \
        const char *h_a = (a), *h_b = (b);                                            \
        if (strcmp(h_a, h_b) != 0) {                                                  \
            if (h_fail_count++ < 10)                                                  \
                fprintf(stderr, "  %s:%d: got \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
                        h_a, h_b);                                                    \
        }                                                                             \
    } while (0)

static void h_run(const char *name, void (*fn)(void))
{
    h_fail_count = 0;
    fn();
    if (h_fail_count) {
        printf("FAIL %s\n", name);
        h_total_fail++;
    } else {
        printf("PASS %s\n", name);
        h_total_pass++;
    }
    fflush(stdout);
}

#define RUN(fn) h_run(#fn, fn)

static int h_done(void)
{
    return h_total_fail ? 1 : 0;
}

/* Seed for property tests: STEPARC_SEED or a fixed default. */
__attribute__((unused)) static uint64_t h_seed(void)
{
    const char *s = getenv("STEPARC_SEED");
    return s ? strtoull(s, NULL, 10) : 20261125u;
}

static uint64_t h_rng_state;
__attribute__((unused)) static uint64_t h_rand(void)
{
    /* splitmix64 */
    uint64_t z = (h_rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Reads a whole file; NULL on failure. */
__attribute__((unused)) static char *h_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = (char *)malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            char *nb = (char *)realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b)
        b[n < cap ? n : cap - 1] = 0;
    *len = n;
    return b;
}

#endif
