/*
 * lookup_bench - times random reads of a steparc archive through libsteparc.
 *
 *   lookup_bench ARCHIVE --ids F --runs F --threads F
 *                [--gets N] [--finds N] [--opens N] [--seed S] [--mt LIST]
 *
 * Opens the archive once, then times (each operation on its own):
 *   get_pos     steparc_reader_get_json of a random position (uniform)
 *   get_id      steparc_reader_find_id + steparc_reader_get_json of a random
 *               id from F (ids taken from the corpus)
 *   find_run    a cursor filtered on one run_id from F, every match turned
 *               into JSON (steparc_msgpack_to_json), to the end
 *   find_thread the same on thread_id
 *   open        steparc_reader_open + steparc_reader_close (N times)
 * and prints one JSON object: p50/p99/mean in microseconds per operation,
 * match counts and the block cache counters. Any failed call exits 1.
 * sqlite_bench query makes the same queries in the same order (same seed).
 *
 * With --mt LIST (thread counts, e.g. 1,2) it measures instead how lookups
 * from several threads on one reader scale: for each count T, T threads share
 * the one steparc_reader (as steparc.h allows for steparc_reader_* lookups),
 * each with its own steparc_buf, and each makes N gets by random position,
 * then (after all have finished) N gets by random id, the same gets as above.
 * Prints the aggregate gets per second for each T, "mt_pos_T" and "mt_id_T"
 * (every thread's gets over the span from the first start to the last
 * finish), and "mt_pos_T_busy", "mt_id_T_busy": process CPU time over that
 * span, the cores the run kept busy.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"

#include <pthread.h>
#include <steparc.h>

static const char *prog = "lookup_bench";

static void find_all(steparc_reader *r, const bench_keys *keys, size_t n, int by_thread,
                     const char *name)
{
    double *lat = malloc(n * sizeof *lat);
    if (!lat)
        bench_die(prog, "out of memory");
    steparc_buf json = {0};
    uint64_t matches = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = i % keys->n;
        steparc_filter f;
        memset(&f, 0, sizeof f);
        steparc_str s = {keys->v[k], keys->len[k]};
        if (by_thread)
            f.thread_id = s;
        else
            f.run_id = s;
        double t0 = bench_now_us();
        steparc_cursor *c = NULL;
        int rc = steparc_cursor_open(&c, r, &f);
        if (rc != 0)
            bench_die(prog, "cursor_open(%s): %s", keys->v[k], steparc_strerror(rc));
        uint64_t ord, here = 0;
        const void *mp;
        size_t mplen;
        while ((rc = steparc_cursor_next(&ord, &mp, &mplen, c)) == 0) {
            int jr = steparc_msgpack_to_json(&json, mp, mplen, 0);
            if (jr != 0)
                bench_die(prog, "msgpack_to_json(#%llu): %s", (unsigned long long)ord,
                          steparc_strerror(jr));
            here++;
        }
        if (rc != STEPARC_END)
            bench_die(prog, "cursor_next(%s): %s", keys->v[k], steparc_cursor_errmsg(c));
        steparc_cursor_close(c);
        lat[i] = bench_now_us() - t0;
        if (here == 0)
            bench_die(prog, "%s %s (from the corpus) matched no record", name, keys->v[k]);
        matches += here;
    }
    printf("\"%s_matches_mean\":%.3f,", name, (double)matches / (double)n);
    bench_print_lat(name, lat, n);
    steparc_buf_free(&json);
    free(lat);
}

/* ---- threads mode ---------------------------------------------------------- */

typedef bench_mt_job mt_job;

static void *mt_main(void *arg)
{
    mt_job *j = (mt_job *)arg;
    steparc_reader *r = (steparc_reader *)j->reader; /* shared by every thread */
    /* a buffer per thread: a steparc_buf is the caller's, not the reader's */
    steparc_buf json = {0};
    pthread_barrier_wait(j->start);
    j->span.t0 = bench_now_us();
    for (size_t i = 0; i < j->gets; i++) {
        int rc;
        if (j->by_id) {
            size_t k = (size_t)(bench_rng(&j->rng) % j->ids->n);
            uint64_t ord = 0;
            rc = steparc_reader_find_id(&ord, r, j->ids->v[k], j->ids->len[k]);
            if (rc == 0)
                rc = steparc_reader_get_json(&json, r, ord, 0);
            if (rc != 0) /* errmsg is the calling thread's last failure */
                bench_die(prog, "id %s: %s (%s)", j->ids->v[k], steparc_strerror(rc),
                          steparc_reader_errmsg(r));
        } else {
            uint64_t pos = bench_rng(&j->rng) % j->count;
            rc = steparc_reader_get_json(&json, r, pos, 0);
            if (rc != 0)
                bench_die(prog, "get_json(%llu): %s", (unsigned long long)pos,
                          steparc_reader_errmsg(r));
        }
    }
    j->span.t1 = bench_now_us();
    steparc_buf_free(&json);
    return NULL;
}

static int mt_mode(steparc_reader *r, const bench_query_opts *o, const bench_keys *ids)
{
    uint64_t count = steparc_reader_count(r);
    steparc_buf json = {0};
    uint64_t warm = o->seed ^ 0x5bd1e995u;
    for (size_t i = 0; i < 200 && i < o->gets; i++) {
        int rc = steparc_reader_get_json(&json, r, bench_rng(&warm) % count, 0);
        if (rc != 0)
            bench_die(prog, "get_json: %s", steparc_reader_errmsg(r));
    }
    steparc_buf_free(&json);
    printf("{\"records\":%llu,\"mt_gets_per_thread\":%zu,", (unsigned long long)count, o->gets);
    bench_mt_series(prog, mt_main, r, NULL, ids, count, o->gets, o->mt, o->nmt, o->seed);
    uint64_t hits = 0, misses = 0;
    steparc_reader_cache_stats(&hits, &misses, r);
    printf("\"cache_hits\":%llu,\"cache_misses\":%llu}\n", (unsigned long long)hits,
           (unsigned long long)misses);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s ARCHIVE --ids F --runs F --threads F [--gets N] [--finds N] "
                        "[--opens N] [--seed S] [--mt LIST]\n", prog);
        return 2;
    }
    const char *path = argv[1];
    bench_query_opts o;
    bench_parse_query_opts(prog, argc, argv, 2, &o);
    bench_keys ids, runs, threads;
    bench_keys_load(prog, o.ids, &ids);
    bench_keys_load(prog, o.runs, &runs);
    bench_keys_load(prog, o.threads, &threads);

    char err[512] = "";
    steparc_reader *r = NULL;
    int rc = steparc_reader_open(&r, path, NULL, err, sizeof err);
    if (rc != 0)
        bench_die(prog, "%s: %s (%s)", path, steparc_strerror(rc), err);
    uint64_t count = steparc_reader_count(r);
    if (count == 0)
        bench_die(prog, "%s: empty archive", path);
    if (o.nmt) {
        rc = mt_mode(r, &o, &ids);
        steparc_reader_close(r);
        bench_keys_free(&ids);
        bench_keys_free(&runs);
        bench_keys_free(&threads);
        return rc;
    }

    size_t nmax = o.gets > o.opens ? o.gets : o.opens;
    double *lat = malloc(nmax * sizeof *lat);
    if (!lat)
        bench_die(prog, "out of memory");
    steparc_buf json = {0};
    uint64_t rng = o.seed;

    /* warm-up: fault the index and a few blocks in (untimed) */
    uint64_t warm = rng ^ 0x5bd1e995u;
    for (size_t i = 0; i < 200 && i < o.gets; i++) {
        rc = steparc_reader_get_json(&json, r, bench_rng(&warm) % count, 0);
        if (rc != 0)
            bench_die(prog, "get_json: %s", steparc_reader_errmsg(r));
    }

    printf("{\"records\":%llu,", (unsigned long long)count);

    /* by position */
    double bytes = 0;
    for (size_t i = 0; i < o.gets; i++) {
        uint64_t pos = bench_rng(&rng) % count;
        double t0 = bench_now_us();
        rc = steparc_reader_get_json(&json, r, pos, 0);
        lat[i] = bench_now_us() - t0;
        if (rc != 0)
            bench_die(prog, "get_json(%llu): %s", (unsigned long long)pos,
                      steparc_reader_errmsg(r));
        bytes += (double)json.len;
    }
    printf("\"get_pos_bytes_mean\":%.1f,", bytes / (double)o.gets);
    bench_print_lat("get_pos", lat, o.gets);

    /* by id */
    for (size_t i = 0; i < o.gets; i++) {
        size_t k = (size_t)(bench_rng(&rng) % ids.n);
        double t0 = bench_now_us();
        uint64_t ord = 0;
        rc = steparc_reader_find_id(&ord, r, ids.v[k], ids.len[k]);
        if (rc == 0)
            rc = steparc_reader_get_json(&json, r, ord, 0);
        lat[i] = bench_now_us() - t0;
        if (rc != 0)
            bench_die(prog, "id %s: %s (%s)", ids.v[k], steparc_strerror(rc),
                      steparc_reader_errmsg(r));
    }
    bench_print_lat("get_id", lat, o.gets);

    uint64_t hits = 0, misses = 0;
    steparc_reader_cache_stats(&hits, &misses, r);

    find_all(r, &runs, o.finds, 0, "find_run");
    find_all(r, &threads, o.finds, 1, "find_thread");
    steparc_reader_close(r);

    /* open + close */
    for (size_t i = 0; i < o.opens; i++) {
        double t0 = bench_now_us();
        steparc_reader *r2 = NULL;
        rc = steparc_reader_open(&r2, path, NULL, err, sizeof err);
        steparc_reader_close(r2);
        lat[i] = bench_now_us() - t0;
        if (rc != 0)
            bench_die(prog, "%s: %s (%s)", path, steparc_strerror(rc), err);
    }
    bench_print_lat("open", lat, o.opens);

    printf("\"cache_hits\":%llu,\"cache_misses\":%llu}\n", (unsigned long long)hits,
           (unsigned long long)misses);
    steparc_buf_free(&json);
    free(lat);
    bench_keys_free(&ids);
    bench_keys_free(&runs);
    bench_keys_free(&threads);
    return fflush(stdout) == 0 ? 0 : 1;
}
