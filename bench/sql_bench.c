/*
 * sql_bench - SQL over an archive (the extension, build/steparc_sqlite.so)
 * against the same queries on a native SQLite database with indexes (the
 * output of `steparc export --sqlite` of that archive).
 *
 *   sql_bench EXT ARCHIVE NATIVE.db IDS THREADS N SEED
 *
 * N lookups by random id (from the IDS file) and N by random thread (THREADS),
 * each returning the rows' json, then one grouped aggregate over every step
 * (total tokens per thread: total(), as a sum that cannot overflow); each on both stores, with statements prepared
 * once. The two stores must give the same rows (count and bytes) or it exits
 * 1. Prints one JSON object of seconds and checksums.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"

#include <sqlite3.h>

static const char *g_prog = "sql_bench";

typedef struct {
    double secs;
    uint64_t rows, bytes;
} result;

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        bench_die(g_prog, "%s: %s", sql, sqlite3_errmsg(db));
    return s;
}

/* Runs s (bound already) to the end; counts rows and the bytes of column 0
 * (and the integer of column 1 into bytes, for the aggregate). */
static void drain(sqlite3 *db, sqlite3_stmt *s, result *r)
{
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        r->rows++;
        r->bytes += (uint64_t)sqlite3_column_bytes(s, 0) + (uint64_t)sqlite3_column_int64(s, 1);
    }
    if (rc != SQLITE_DONE)
        bench_die(g_prog, "query: %s", sqlite3_errmsg(db));
    sqlite3_reset(s);
}

/* N lookups with keys picked by the seeded generator; arc NULL: native. */
static result lookups(sqlite3 *db, const char *sql, const char *arc, const bench_keys *k,
                      size_t n, uint64_t seed)
{
    result r = {0, 0, 0};
    sqlite3_stmt *s = prep(db, sql);
    int p = 1;
    if (arc)
        sqlite3_bind_text(s, p++, arc, -1, SQLITE_STATIC);
    uint64_t st = seed;
    double t0 = bench_now_us();
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)(bench_rng(&st) % k->n);
        sqlite3_bind_text(s, p, k->v[j], (int)k->len[j], SQLITE_STATIC);
        drain(db, s, &r);
    }
    r.secs = (bench_now_us() - t0) / 1e6;
    sqlite3_finalize(s);
    return r;
}

static result aggregate(sqlite3 *db, const char *sql, const char *arc)
{
    result r = {0, 0, 0};
    sqlite3_stmt *s = prep(db, sql);
    if (arc)
        sqlite3_bind_text(s, 1, arc, -1, SQLITE_STATIC);
    double t0 = bench_now_us();
    drain(db, s, &r);
    r.secs = (bench_now_us() - t0) / 1e6;
    sqlite3_finalize(s);
    return r;
}

static void same(const char *what, result a, result b)
{
    if (a.rows != b.rows || a.bytes != b.bytes)
        bench_die(g_prog, "%s: the extension gives %llu rows (%llu), native SQLite %llu (%llu)",
                  what, (unsigned long long)a.rows, (unsigned long long)a.bytes,
                  (unsigned long long)b.rows, (unsigned long long)b.bytes);
}

int main(int argc, char **argv)
{
    if (argc != 8)
        bench_die(g_prog, "usage: sql_bench EXT ARCHIVE NATIVE.db IDS THREADS N SEED");
    const char *ext = argv[1], *arc = argv[2];
    bench_keys ids, threads;
    bench_keys_load(g_prog, argv[4], &ids);
    bench_keys_load(g_prog, argv[5], &threads);
    size_t n = bench_parse_size(g_prog, argv[6]);
    uint64_t seed = (uint64_t)strtoull(argv[7], NULL, 10);
    sqlite3 *db;
    char *err = NULL;
    if (sqlite3_open_v2(argv[3], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        bench_die(g_prog, "%s: %s", argv[3], sqlite3_errmsg(db));
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL);
    if (sqlite3_load_extension(db, ext, NULL, &err) != SQLITE_OK)
        bench_die(g_prog, "%s: %s", ext, err ? err : "cannot load");
    /* warm-up: the archive's pages and the database's */
    aggregate(db, "SELECT count(*), 0 FROM steparc_steps(?)", arc);
    aggregate(db, "SELECT count(*), sum(length(json)) FROM steps", NULL);

    result ie = lookups(db, "SELECT json, 0 FROM steparc_steps(?) WHERE id = ?", arc, &ids, n, seed);
    result in = lookups(db, "SELECT json, 0 FROM steps WHERE id = ?", NULL, &ids, n, seed);
    same("by id", ie, in);
    result te = lookups(db, "SELECT json, 0 FROM steparc_steps(?) WHERE thread_id = ?", arc,
                        &threads, n, seed + 1);
    result tn = lookups(db, "SELECT json, 0 FROM steps WHERE thread_id = ?", NULL, &threads, n,
                        seed + 1);
    same("by thread", te, tn);
    const char *agg = "SELECT thread_id, total(total_tokens) FROM %s GROUP BY thread_id";
    char q1[200], q2[200];
    snprintf(q1, sizeof q1, agg, "steparc_steps(?)");
    snprintf(q2, sizeof q2, agg, "steps");
    result ae = aggregate(db, q1, arc);
    result an = aggregate(db, q2, NULL);
    same("tokens per thread", ae, an);
    printf("{\"n\":%zu,\"id_ext_s\":%.6f,\"id_native_s\":%.6f,\"id_rows\":%llu,"
           "\"thread_ext_s\":%.6f,\"thread_native_s\":%.6f,\"thread_rows\":%llu,"
           "\"agg_ext_s\":%.6f,\"agg_native_s\":%.6f,\"agg_groups\":%llu}\n",
           n, ie.secs, in.secs, (unsigned long long)ie.rows, te.secs, tn.secs,
           (unsigned long long)te.rows, ae.secs, an.secs, (unsigned long long)ae.rows);
    sqlite3_close(db);
    bench_keys_free(&ids);
    bench_keys_free(&threads);
    return 0;
}
