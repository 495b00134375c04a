/*
 * sqlite_bench - the SQLite peer of steparc, through SQLite's C API.
 *
 *   sqlite_bench load DB JSONL     (re)creates DB: one row per line
 *   sqlite_bench export DB         every row's json, in rowid order, to stdout
 *   sqlite_bench query DB --ids F --runs F --threads F
 *                [--gets N] [--finds N] [--opens N] [--seed S] [--mt LIST]
 *
 * Schema: steps(id TEXT, run_id TEXT, thread_id TEXT, created_at INTEGER,
 * json TEXT) with indexes on id, run_id and thread_id. The json column holds
 * each input line unchanged (lossless); the other columns are extracted by
 * SQLite's own JSON functions. load runs in one transaction with a prepared
 * statement and builds the indexes inside it (SQLite defaults otherwise:
 * rollback journal, synchronous=FULL).
 *
 * query makes exactly the queries lookup_bench makes (same seed, same order):
 * rowid = position + 1 (rows are inserted in order into a fresh table), by id,
 * by run_id, by thread_id (index order is rowid order), and open = open
 * read-only + prepare (which reads the schema) + close. Prints one JSON
 * object; any failed call exits 1.
 *
 * query --mt LIST is lookup_bench --mt on SQLite: for each thread count T, T
 * threads, each with its own read-only connection (SQLite's way to read from
 * several threads; SQLITE_OPEN_NOMUTEX since a connection stays in its
 * thread), make N gets by random rowid, then N by random id; same output keys.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"

#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

static const char *prog = "sqlite_bench";

static void check(sqlite3 *db, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        bench_die(prog, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        bench_die(prog, "%s: %s", sql, msg ? msg : "?");
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    check(db, sqlite3_prepare_v2(db, sql, -1, &st, NULL), sql);
    return st;
}

static int do_load(const char *dbpath, const char *jsonl)
{
    FILE *in = fopen(jsonl, "rb");
    if (!in)
        bench_die(prog, "%s: %s", jsonl, strerror(errno));
    unlink(dbpath);
    char journal[4096];
    snprintf(journal, sizeof journal, "%s-journal", dbpath);
    unlink(journal);

    sqlite3 *db = NULL;
    check(db, sqlite3_open(dbpath, &db), dbpath);
    exec(db, "CREATE TABLE steps(id TEXT, run_id TEXT, thread_id TEXT, created_at INTEGER, "
             "json TEXT)");
    exec(db, "BEGIN");
    sqlite3_stmt *ins = prepare(db,
        "INSERT INTO steps(id, run_id, thread_id, created_at, json) VALUES("
        "json_extract(?1, '$.id'), json_extract(?1, '$.run_id'), "
        "json_extract(?1, '$.thread_id'), json_extract(?1, '$.created_at'), ?1)");
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned long long rows = 0, lineno = 0;
    while ((got = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)got;
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        check(db, sqlite3_bind_text(ins, 1, line, (int)len, SQLITE_STATIC), "bind");
        int rc = sqlite3_step(ins);
        if (rc != SQLITE_DONE)
            bench_die(prog, "%s:%llu: insert: %s", jsonl, lineno, sqlite3_errmsg(db));
        sqlite3_reset(ins);
        rows++;
    }
    if (ferror(in))
        bench_die(prog, "%s: read error", jsonl);
    fclose(in);
    free(line);
    sqlite3_finalize(ins);
    exec(db, "CREATE INDEX steps_id ON steps(id)");
    exec(db, "CREATE INDEX steps_run ON steps(run_id)");
    exec(db, "CREATE INDEX steps_thread ON steps(thread_id)");
    exec(db, "COMMIT");
    check(db, sqlite3_close(db), "close");
    printf("{\"rows\":%llu}\n", rows);
    return 0;
}

static int do_export(const char *dbpath)
{
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    sqlite3 *db = NULL;
    check(db, sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), dbpath);
    sqlite3_stmt *st = prepare(db, "SELECT json FROM steps ORDER BY rowid");
    int rc;
    unsigned long long rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        if (n > 0)
            fwrite(t, 1, (size_t)n, stdout);
        putchar('\n');
        rows++;
    }
    check(db, rc, "export");
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (fflush(stdout) != 0)
        bench_die(prog, "write error");
    fprintf(stderr, "%s: %llu rows\n", prog, rows);
    return 0;
}

/* One row's json (counts bytes so the read is not optimised away). */
static size_t step_rows(sqlite3 *db, sqlite3_stmt *st, const char *what, unsigned long long *rows)
{
    size_t bytes = 0;
    int rc;
    *rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        (void)sqlite3_column_text(st, 0);
        bytes += (size_t)sqlite3_column_bytes(st, 0);
        (*rows)++;
    }
    check(db, rc, what);
    sqlite3_reset(st);
    return bytes;
}

static void find_all(sqlite3 *db, sqlite3_stmt *st, const bench_keys *keys, size_t n,
                     const char *name)
{
    double *lat = malloc(n * sizeof *lat);
    if (!lat)
        bench_die(prog, "out of memory");
    unsigned long long matches = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = i % keys->n;
        unsigned long long here = 0;
        double t0 = bench_now_us();
        check(db, sqlite3_bind_text(st, 1, keys->v[k], (int)keys->len[k], SQLITE_STATIC), "bind");
        step_rows(db, st, name, &here);
        lat[i] = bench_now_us() - t0;
        if (here == 0)
            bench_die(prog, "%s %s (from the corpus) matched no row", name, keys->v[k]);
        matches += here;
    }
    printf("\"%s_matches_mean\":%.3f,", name, (double)matches / (double)n);
    bench_print_lat(name, lat, n);
    free(lat);
}

/* ---- threads mode ---------------------------------------------------------- */

typedef bench_mt_job mt_job;

static void *mt_main(void *arg)
{
    mt_job *j = (mt_job *)arg;
    sqlite3 *db = NULL;
    check(db, sqlite3_open_v2(j->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL),
          j->path);
    sqlite3_stmt *st = prepare(db, j->by_id ? "SELECT json FROM steps WHERE id = ?1 LIMIT 1"
                                            : "SELECT json FROM steps WHERE rowid = ?1");
    unsigned long long rows;
    pthread_barrier_wait(j->start);
    j->span.t0 = bench_now_us();
    for (size_t i = 0; i < j->gets; i++) {
        if (j->by_id) {
            size_t k = (size_t)(bench_rng(&j->rng) % j->ids->n);
            check(db, sqlite3_bind_text(st, 1, j->ids->v[k], (int)j->ids->len[k], SQLITE_STATIC),
                  "bind");
            step_rows(db, st, "get by id", &rows);
            if (rows != 1)
                bench_die(prog, "id %s: not found", j->ids->v[k]);
        } else {
            uint64_t pos = bench_rng(&j->rng) % j->count;
            sqlite3_bind_int64(st, 1, (sqlite3_int64)(pos + 1));
            step_rows(db, st, "get by rowid", &rows);
            if (rows != 1)
                bench_die(prog, "rowid %llu: %llu rows", (unsigned long long)pos + 1, rows);
        }
    }
    j->span.t1 = bench_now_us();
    sqlite3_finalize(st);
    sqlite3_close(db);
    return NULL;
}

static void mt_mode(const char *dbpath, sqlite3 *db, const bench_query_opts *o,
                    const bench_keys *ids, uint64_t count)
{
    /* the same warm-up as the single-thread mode, through the first connection */
    sqlite3_stmt *by_rowid = prepare(db, "SELECT json FROM steps WHERE rowid = ?1");
    uint64_t warm = o->seed ^ 0x5bd1e995u;
    unsigned long long rows;
    for (size_t i = 0; i < 200 && i < o->gets; i++) {
        sqlite3_bind_int64(by_rowid, 1, (sqlite3_int64)(bench_rng(&warm) % count + 1));
        step_rows(db, by_rowid, "warm-up", &rows);
    }
    sqlite3_finalize(by_rowid);
    printf("{\"records\":%llu,\"mt_gets_per_thread\":%zu,", (unsigned long long)count, o->gets);
    bench_mt_series(prog, mt_main, NULL, dbpath, ids, count, o->gets, o->mt, o->nmt, o->seed);
    printf("\"sqlite_version\":\"%s\"}\n", sqlite3_libversion());
}

static int do_query(const char *dbpath, int argc, char **argv)
{
    bench_query_opts o;
    bench_parse_query_opts(prog, argc, argv, 3, &o);
    bench_keys ids, runs, threads;
    bench_keys_load(prog, o.ids, &ids);
    bench_keys_load(prog, o.runs, &runs);
    bench_keys_load(prog, o.threads, &threads);

    if (access(dbpath, R_OK) != 0)
        bench_die(prog, "%s: %s", dbpath, strerror(errno));
    sqlite3 *db = NULL;
    check(db, sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), dbpath);
    sqlite3_stmt *cnt = prepare(db, "SELECT count(*) FROM steps");
    if (sqlite3_step(cnt) != SQLITE_ROW)
        bench_die(prog, "count: %s", sqlite3_errmsg(db));
    uint64_t count = (uint64_t)sqlite3_column_int64(cnt, 0);
    sqlite3_finalize(cnt);
    if (count == 0)
        bench_die(prog, "%s: empty table", dbpath);
    if (o.nmt) {
        mt_mode(dbpath, db, &o, &ids, count);
        check(db, sqlite3_close(db), "close");
        bench_keys_free(&ids);
        bench_keys_free(&runs);
        bench_keys_free(&threads);
        return fflush(stdout) == 0 ? 0 : 1;
    }

    sqlite3_stmt *by_rowid = prepare(db, "SELECT json FROM steps WHERE rowid = ?1");
    sqlite3_stmt *by_id = prepare(db, "SELECT json FROM steps WHERE id = ?1 LIMIT 1");
    sqlite3_stmt *by_run = prepare(db, "SELECT json FROM steps WHERE run_id = ?1");
    sqlite3_stmt *by_thread = prepare(db, "SELECT json FROM steps WHERE thread_id = ?1");

    size_t nmax = o.gets > o.opens ? o.gets : o.opens;
    double *lat = malloc(nmax * sizeof *lat);
    if (!lat)
        bench_die(prog, "out of memory");
    uint64_t rng = o.seed;
    unsigned long long rows;

    uint64_t warm = rng ^ 0x5bd1e995u;
    for (size_t i = 0; i < 200 && i < o.gets; i++) {
        sqlite3_bind_int64(by_rowid, 1, (sqlite3_int64)(bench_rng(&warm) % count + 1));
        step_rows(db, by_rowid, "warm-up", &rows);
    }

    printf("{\"records\":%llu,", (unsigned long long)count);

    double bytes = 0;
    for (size_t i = 0; i < o.gets; i++) {
        uint64_t pos = bench_rng(&rng) % count;
        double t0 = bench_now_us();
        sqlite3_bind_int64(by_rowid, 1, (sqlite3_int64)(pos + 1));
        bytes += (double)step_rows(db, by_rowid, "get by rowid", &rows);
        lat[i] = bench_now_us() - t0;
        if (rows != 1)
            bench_die(prog, "rowid %llu: %llu rows", (unsigned long long)pos + 1, rows);
    }
    printf("\"get_pos_bytes_mean\":%.1f,", bytes / (double)o.gets);
    bench_print_lat("get_pos", lat, o.gets);

    for (size_t i = 0; i < o.gets; i++) {
        size_t k = (size_t)(bench_rng(&rng) % ids.n);
        double t0 = bench_now_us();
        check(db, sqlite3_bind_text(by_id, 1, ids.v[k], (int)ids.len[k], SQLITE_STATIC), "bind");
        step_rows(db, by_id, "get by id", &rows);
        lat[i] = bench_now_us() - t0;
        if (rows != 1)
            bench_die(prog, "id %s: not found", ids.v[k]);
    }
    bench_print_lat("get_id", lat, o.gets);

    find_all(db, by_run, &runs, o.finds, "find_run");
    find_all(db, by_thread, &threads, o.finds, "find_thread");

    sqlite3_finalize(by_rowid);
    sqlite3_finalize(by_id);
    sqlite3_finalize(by_run);
    sqlite3_finalize(by_thread);
    check(db, sqlite3_close(db), "close");

    for (size_t i = 0; i < o.opens; i++) {
        double t0 = bench_now_us();
        sqlite3 *d2 = NULL;
        int rc = sqlite3_open_v2(dbpath, &d2, SQLITE_OPEN_READONLY, NULL);
        sqlite3_stmt *st = NULL;
        if (rc == SQLITE_OK)
            rc = sqlite3_prepare_v2(d2, "SELECT json FROM steps WHERE rowid = ?1", -1, &st, NULL);
        if (rc != SQLITE_OK)
            bench_die(prog, "open %s: %s", dbpath, d2 ? sqlite3_errmsg(d2) : sqlite3_errstr(rc));
        sqlite3_finalize(st);
        sqlite3_close(d2);
        lat[i] = bench_now_us() - t0;
    }
    bench_print_lat("open", lat, o.opens);
    printf("\"sqlite_version\":\"%s\"}\n", sqlite3_libversion());
    free(lat);
    bench_keys_free(&ids);
    bench_keys_free(&runs);
    bench_keys_free(&threads);
    return fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "load"))
        return do_load(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "export"))
        return do_export(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "query"))
        return do_query(argv[2], argc, argv);
    fprintf(stderr,
            "usage: %s load DB JSONL | export DB | query DB --ids F --runs F --threads F "
            "[--gets N] [--finds N] [--opens N] [--seed S] [--mt LIST]\n", prog);
    return 2;
}
