/*
 * bench_util.h - small helpers shared by the benchmark programs (the .c files of bench/):
 * a monotonic clock, a seeded RNG (the same sequence in every program, so
 * steparc and SQLite answer the same queries), percentiles, key files, and
 * fatal errors. Header-only (static inline) so each program stays one file.
 */
#ifndef STEPARC_BENCH_UTIL_H
#define STEPARC_BENCH_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* Prints "PROG: message" on stderr and exits 1. */
static inline void bench_die(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static inline double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* splitmix64: a fixed, portable sequence for a given seed. */
static inline uint64_t bench_rng(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..n) and returns its p-th percentile (nearest rank, p in 0..100). */
static inline double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, bench_cmp_double);
    double rank = p / 100.0 * (double)n;
    size_t k = (size_t)rank;
    if ((double)k < rank)
        k++;
    if (k == 0)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

static inline double bench_mean(const double *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return n ? s / (double)n : 0.0;
}

/* A list of keys read from a file, one per line (the harness writes only
 * printable ASCII keys, so a line is the key's exact bytes). */
typedef struct {
    char **v;
    size_t *len;
    size_t n;
} bench_keys;

static inline void bench_keys_load(const char *prog, const char *path, bench_keys *k)
{
    memset(k, 0, sizeof *k);
    FILE *f = fopen(path, "rb");
    if (!f)
        bench_die(prog, "%s: %s", path, strerror(errno));
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t got;
    while ((got = getline(&line, &lcap, f)) >= 0) {
        size_t len = (size_t)got;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        if (k->n == cap) {
            cap = cap ? cap * 2 : 1024;
            k->v = realloc(k->v, cap * sizeof *k->v);
            k->len = realloc(k->len, cap * sizeof *k->len);
            if (!k->v || !k->len)
                bench_die(prog, "out of memory");
        }
        k->v[k->n] = malloc(len + 1);
        if (!k->v[k->n])
            bench_die(prog, "out of memory");
        memcpy(k->v[k->n], line, len);
        k->v[k->n][len] = '\0';
        k->len[k->n] = len;
        k->n++;
    }
    free(line);
    fclose(f);
    if (k->n == 0)
        bench_die(prog, "%s: no keys", path);
}

static inline void bench_keys_free(bench_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    free(k->len);
    memset(k, 0, sizeof *k);
}

/* Common options of the query programs. mt: the thread counts of the
 * threads mode (--mt 1,2,4), nmt of them; nmt == 0 runs the single-thread
 * measurements instead. */
#define BENCH_MAX_MT 16
typedef struct {
    const char *ids, *runs, *threads;
    size_t gets, finds, opens;
    uint64_t seed;
    unsigned mt[BENCH_MAX_MT];
    size_t nmt;
} bench_query_opts;

static inline size_t bench_parse_size(const char *prog, const char *s)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || !end || *end || end == s)
        bench_die(prog, "not a number: %s", s);
    return (size_t)v;
}

/* Parses "1,2,4" into o->mt: each count from 1 to 256. */
static inline void bench_parse_mt(const char *prog, const char *s, bench_query_opts *o)
{
    o->nmt = 0;
    while (*s) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || v < 1 || v > 256 || (*end && *end != ','))
            bench_die(prog, "--mt wants thread counts from 1 to 256 separated by commas");
        if (o->nmt == BENCH_MAX_MT)
            bench_die(prog, "--mt takes at most %d thread counts", BENCH_MAX_MT);
        o->mt[o->nmt++] = (unsigned)v;
        s = *end ? end + 1 : end;
    }
    if (o->nmt == 0)
        bench_die(prog, "--mt needs at least one thread count");
}

/* Parses --ids F --runs F --threads F [--gets N] [--finds N] [--opens N]
 * [--seed S] [--mt LIST] from argv[first..argc). */
static inline void bench_parse_query_opts(const char *prog, int argc, char **argv, int first,
                                          bench_query_opts *o)
{
    memset(o, 0, sizeof *o);
    o->gets = 10000;
    o->finds = 500;
    o->opens = 500;
    o->seed = 42;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            bench_die(prog, "option %s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--ids"))
            o->ids = v;
        else if (!strcmp(a, "--runs"))
            o->runs = v;
        else if (!strcmp(a, "--threads"))
            o->threads = v;
        else if (!strcmp(a, "--gets"))
            o->gets = bench_parse_size(prog, v);
        else if (!strcmp(a, "--finds"))
            o->finds = bench_parse_size(prog, v);
        else if (!strcmp(a, "--opens"))
            o->opens = bench_parse_size(prog, v);
        else if (!strcmp(a, "--seed"))
            o->seed = (uint64_t)bench_parse_size(prog, v);
        else if (!strcmp(a, "--mt"))
            bench_parse_mt(prog, v, o);
        else
            bench_die(prog, "unknown option %s", a);
    }
    if (!o->ids || !o->runs || !o->threads)
        bench_die(prog, "--ids, --runs and --threads are required");
    if (o->gets == 0 || o->finds == 0 || o->opens == 0)
        bench_die(prog, "--gets, --finds and --opens must be at least 1");
}

/* Latency summary printed as JSON members: "NAME_p50_us", "NAME_p99_us",
 * "NAME_mean_us". Sorts v. */
static inline void bench_print_lat(const char *name, double *v, size_t n)
{
    double mean = bench_mean(v, n);
    double p50 = bench_percentile(v, n, 50.0);
    double p99 = bench_percentile(v, n, 99.0);
    printf("\"%s_p50_us\":%.3f,\"%s_p99_us\":%.3f,\"%s_mean_us\":%.3f,", name, p50, name, p99,
           name, mean);
}

/* Threads mode: each of T threads waits at a barrier, then makes `gets` gets
 * of one kind; the figure is every thread's gets over the span from the first
 * start to the last finish (so a straggler counts against the rate). */
typedef struct {
    double t0, t1; /* set by the thread around its gets (bench_now_us) */
} bench_mt_span;

static inline double bench_mt_wall_us(const bench_mt_span *s, unsigned n)
{
    double t0 = s[0].t0, t1 = s[0].t1;
    for (unsigned i = 1; i < n; i++) {
        if (s[i].t0 < t0)
            t0 = s[i].t0;
        if (s[i].t1 > t1)
            t1 = s[i].t1;
    }
    return t1 - t0;
}

/* CPU seconds (user + system) used so far by every thread of the process:
 * their growth over a threads-mode run, divided by its wall time, says how
 * many cores the run kept busy (below T with T threads: they waited for a
 * lock, or other work on the machine took the cores). */
static inline double bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Each thread's own random sequence: distinct, and fixed for a given seed. */
static inline uint64_t bench_mt_seed(uint64_t seed, unsigned thread)
{
    uint64_t s = seed ^ (0xA24BAED4963EE407ull * (thread + 1u));
    return bench_rng(&s);
}

/* One thread's work in threads mode: gets on `reader` (one steparc_reader
 * shared by every thread) or on the database at `path` (a connection per
 * thread). */
typedef struct {
    void *reader;
    const char *path;
    const bench_keys *ids;
    uint64_t count;
    size_t gets;
    int by_id;
    pthread_barrier_t *start;
    uint64_t rng;
    bench_mt_span span;
} bench_mt_job;

/* Runs fn on nthreads threads, each on its own bench_mt_job; fn waits at
 * job->start, then makes its gets between span.t0 and span.t1. Prints the
 * aggregate gets/s as "NAME" and the cores kept busy as "NAME_busy". */
static inline void bench_mt_run(const char *prog, const char *name, void *(*fn)(void *),
                                void *reader, const char *path, const bench_keys *ids,
                                uint64_t count, size_t gets, int by_id, unsigned nthreads,
                                uint64_t seed)
{
    bench_mt_job *jobs = calloc(nthreads, sizeof *jobs);
    pthread_t *th = calloc(nthreads, sizeof *th);
    bench_mt_span *spans = calloc(nthreads, sizeof *spans);
    if (!jobs || !th || !spans)
        bench_die(prog, "out of memory");
    pthread_barrier_t start;
    if (pthread_barrier_init(&start, NULL, nthreads) != 0)
        bench_die(prog, "pthread_barrier_init failed");
    double cpu0 = bench_cpu_s();
    for (unsigned i = 0; i < nthreads; i++) {
        jobs[i] = (bench_mt_job){reader, path, ids, count, gets, by_id, &start,
                                 bench_mt_seed(seed, i), {0, 0}};
        if (pthread_create(&th[i], NULL, fn, &jobs[i]) != 0)
            bench_die(prog, "pthread_create failed");
    }
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_join(th[i], NULL);
        spans[i] = jobs[i].span;
    }
    double cpu = bench_cpu_s() - cpu0;
    pthread_barrier_destroy(&start);
    double wall = bench_mt_wall_us(spans, nthreads) / 1e6;
    if (wall <= 0)
        bench_die(prog, "%s: no time measured", name);
    printf("\"%s\":%.1f,\"%s_busy\":%.3f,", name, (double)nthreads * (double)gets / wall, name,
           cpu / wall);
    free(jobs);
    free(th);
    free(spans);
}

/* bench_mt_run for each thread count in mt[0..nmt): gets by position as
 * "mt_pos_T", then by id as "mt_id_T". */
static inline void bench_mt_series(const char *prog, void *(*fn)(void *), void *reader,
                                   const char *path, const bench_keys *ids, uint64_t count,
                                   size_t gets, const unsigned *mt, size_t nmt, uint64_t seed)
{
    for (size_t i = 0; i < nmt; i++) {
        char name[32];
        snprintf(name, sizeof name, "mt_pos_%u", mt[i]);
        bench_mt_run(prog, name, fn, reader, path, ids, count, gets, 0, mt[i], seed);
        snprintf(name, sizeof name, "mt_id_%u", mt[i]);
        bench_mt_run(prog, name, fn, reader, path, ids, count, gets, 1, mt[i], seed + 1);
    }
}

#endif
