/* cmd_export.c - steparc export: the archive in another tool's format.
 *
 *   export --sqlite OUT.db ARCHIVE   the SQL extension's tables (docs/SQL.md)
 *                                    as ordinary SQLite tables, with indexes
 *   export --conversations ARCHIVE [--thread T]... [-o FILE] [--report FILE]
 *                                    the Conversations API requests that
 *                                    rebuild each thread (conversations.c,
 *                                    docs/CONVERSATIONS.md)
 *
 * One format option per run; more formats join as options of this command.
 * The rows come from sqlite/rows.c, the code the extension uses, so the
 * exported tables equal the extension's. Written like an archive: a
 * temporary file in OUT's directory, fsynced, then renamed over OUT. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rows.h"

enum { OPT_SQLITE = CLI_OPT_FIRST_COMMAND, OPT_CONVERSATIONS, OPT_THREAD, OPT_REPORT };

static const struct option g_export_opts[] = {
    {"sqlite", required_argument, NULL, OPT_SQLITE},
    {"conversations", no_argument, NULL, OPT_CONVERSATIONS},
    {"thread", required_argument, NULL, OPT_THREAD},
    {"report", required_argument, NULL, OPT_REPORT},
    {"output", required_argument, NULL, 'o'},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0}};

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *ins[SQLROW_TABLES];
    sqlrow_rec rec[SQLROW_TABLES];
    uint64_t rows[SQLROW_TABLES];
} exporter;

static int db_fail(exporter *x, const char *what)
{
    cli_msg("export: %s: %s", what, sqlite3_errmsg(x->db));
    return EXIT_BAD;
}

static int exec(exporter *x, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(x->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        cli_msg("export: %s: %s", sql, err ? err : sqlite3_errmsg(x->db));
        sqlite3_free(err);
        return EXIT_BAD;
    }
    return 0;
}

/* CREATE TABLE and its INSERT statement for table i. */
static int create_table(exporter *x, int i)
{
    const sqlrow_table *t = &sqlrow_tables[i];
    sqlite3_str *c = sqlite3_str_new(x->db), *q = sqlite3_str_new(x->db);
    sqlite3_str_appendf(c, "CREATE TABLE \"%w\" (", t->name);
    sqlite3_str_appendf(q, "INSERT INTO \"%w\" VALUES (", t->name);
    for (int k = 0; k < t->ncols; k++) {
        sqlite3_str_appendf(c, "%s\"%w\" %s", k ? ", " : "", t->cols[k].name, t->cols[k].type);
        sqlite3_str_appendf(q, "%s?", k ? ", " : "");
    }
    sqlite3_str_appendall(c, ")");
    sqlite3_str_appendall(q, ")");
    char *cs = sqlite3_str_finish(c), *qs = sqlite3_str_finish(q);
    int st = !cs || !qs ? (cli_msg("export: out of memory"), EXIT_BAD) : exec(x, cs);
    if (!st && sqlite3_prepare_v2(x->db, qs, -1, &x->ins[i], NULL) != SQLITE_OK)
        st = db_fail(x, qs);
    sqlite3_free(cs);
    sqlite3_free(qs);
    return st;
}

/* Indexes on the ids and created_at: the columns the extension answers from
 * the archive's indexes (and records.id, which an ordinary table can index). */
static int create_indexes(exporter *x, int i)
{
    const sqlrow_table *t = &sqlrow_tables[i];
    int cols[6] = {t->c_id, t->c_thread, t->c_run, t->c_assistant, t->c_created,
                   i == SQLROW_T_RECORDS ? 1 : -1};
    for (int k = 0; k < 6; k++) {
        if (cols[k] < 0)
            continue;
        const char *col = t->cols[cols[k]].name;
        char *sql = sqlite3_mprintf("CREATE INDEX \"%w_%w\" ON \"%w\" (\"%w\")", t->name, col,
                                    t->name, col);
        int st = sql ? exec(x, sql) : EXIT_BAD;
        sqlite3_free(sql);
        if (st)
            return st;
    }
    return 0;
}

/* The rows one record gives in table i. */
static int insert_record(exporter *x, int i, const void *mp, size_t len, uint64_t ord)
{
    sqlrow_rec *rec = &x->rec[i];
    sqlite3_stmt *s = x->ins[i];
    int st = sqlrow_load(rec, &sqlrow_tables[i], mp, len);
    for (size_t row = 0; st == 0 && row < rec->nrows; row++) {
        if ((st = sqlrow_fill(rec, row)) != 0)
            break;
        for (int k = 0; k < rec->t->ncols; k++) {
            const sqlrow_value *v = &rec->vals[k];
            int rc;
            if (k == rec->t->c_json) {
                const char *js;
                size_t n;
                if ((st = sqlrow_json(&js, &n, rec)) != 0)
                    break;
                rc = sqlite3_bind_text64(s, k + 1, js, n, SQLITE_STATIC, SQLITE_UTF8);
            } else if (v->type == SQLROW_INT)
                rc = sqlite3_bind_int64(s, k + 1, v->i);
            else if (v->type == SQLROW_REAL)
                rc = sqlite3_bind_double(s, k + 1, v->f);
            else if (v->type == SQLROW_TEXT)
                rc = sqlite3_bind_text64(s, k + 1, v->s, v->n, SQLITE_STATIC, SQLITE_UTF8);
            else
                rc = sqlite3_bind_null(s, k + 1);
            if (rc != SQLITE_OK)
                return db_fail(x, "bind");
        }
        if (st)
            break;
        if (sqlite3_step(s) != SQLITE_DONE)
            return db_fail(x, "insert");
        sqlite3_reset(s);
        x->rows[i]++;
    }
    if (st) {
        cli_msg("export: record %" PRIu64 ": %s", ord, steparc_strerror(st));
        return EXIT_BAD;
    }
    return 0;
}

/* Every record into every table it belongs to, in one pass. */
static int fill_tables(exporter *x, steparc_reader *r, const char *path)
{
    steparc_cursor *c = NULL;
    int st = steparc_cursor_open(&c, r, NULL);
    if (st) {
        cli_msg("export: %s: %s", path, steparc_reader_errmsg(r));
        return EXIT_BAD;
    }
    uint64_t ord;
    const void *mp;
    size_t len;
    int status = 0;
    while (!status && (st = steparc_cursor_next(&ord, &mp, &len, c)) == 0)
        for (int i = 0; !status && i < SQLROW_TABLES; i++)
            status = insert_record(x, i, mp, len, ord);
    if (!status && st != STEPARC_END) {
        /* a damaged block: the export would miss its rows, so it fails */
        cli_msg("export: %s: %s", path, steparc_cursor_errmsg(c));
        status = EXIT_BAD;
    }
    steparc_cursor_close(c);
    return status;
}

static int build(exporter *x, const char *tmp, steparc_reader *r, const char *path)
{
    if (sqlite3_open_v2(tmp, &x->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return db_fail(x, tmp);
    /* a fresh private file, renamed into place only when complete: no journal */
    int st = exec(x, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN");
    for (int i = 0; !st && i < SQLROW_TABLES; i++)
        st = create_table(x, i);
    if (!st)
        st = fill_tables(x, r, path);
    for (int i = 0; !st && i < SQLROW_TABLES; i++)
        st = create_indexes(x, i);
    if (!st)
        st = exec(x, "COMMIT");
    return st;
}

static void free_exporter(exporter *x)
{
    for (int i = 0; i < SQLROW_TABLES; i++) {
        sqlite3_finalize(x->ins[i]);
        x->ins[i] = NULL;
        sqlrow_clear(&x->rec[i]);
    }
    sqlite3_close(x->db);
    x->db = NULL;
}

static int fsync_path(const char *p, int dir)
{
    int fd = open(p, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int export_sqlite(const char *out, const char *path)
{
    steparc_reader *r;
    if (cli_open_archive("export", path, &r))
        return EXIT_BAD;
    exporter x;
    memset(&x, 0, sizeof x);
    int status = EXIT_BAD, fd = -1;
    char *tmp = malloc(strlen(out) + 16), *dcopy = strdup(out);
    if (!tmp || !dcopy) {
        cli_msg("export: out of memory");
        goto cleanup;
    }
    sprintf(tmp, "%s.tmp.XXXXXX", out);
    if ((fd = mkstemp(tmp)) < 0) {
        cli_msg("export: cannot create %s: %s", tmp, strerror(errno));
        tmp[0] = 0;
        goto cleanup;
    }
    close(fd);
    status = build(&x, tmp, r, path);
    free_exporter(&x);
    if (status)
        goto cleanup;
    status = EXIT_BAD;
    if (fsync_path(tmp, 0) != 0 || rename(tmp, out) != 0) {
        cli_msg("export: cannot write %s: %s", out, strerror(errno));
        goto cleanup;
    }
    tmp[0] = 0;
    fsync_path(dirname(dcopy), 1); /* the rename itself; best effort, as for archives */
    status = 0;
    fprintf(stderr, "%s: %" PRIu64 " steps, %" PRIu64 " tool calls, %" PRIu64 " messages, %" PRIu64
            " runs, %" PRIu64 " threads, %" PRIu64 " assistants, %" PRIu64 " records\n", out,
            x.rows[SQLROW_T_STEPS], x.rows[SQLROW_T_TOOL_CALLS], x.rows[SQLROW_T_MESSAGES],
            x.rows[SQLROW_T_RUNS], x.rows[SQLROW_T_THREADS], x.rows[SQLROW_T_ASSISTANTS],
            x.rows[SQLROW_T_RECORDS]);
cleanup:
    free_exporter(&x);
    if (tmp && tmp[0])
        unlink(tmp);
    free(tmp);
    free(dcopy);
    steparc_reader_close(r);
    return status;
}

int cli_export(const cli_command *cmd, int argc, char **argv)
{
    cli_args a;
    int status, c, conv = 0;
    const char *sqlite_out = NULL, *out = NULL, *report = NULL;
    char **threads = calloc((size_t)argc + 1, sizeof *threads);
    size_t nthreads = 0;
    if (!threads) {
        cli_msg("export: out of memory");
        return EXIT_BAD;
    }
    cli_args_init(&a, cmd, argc, argv);
    while ((c = cli_getopt(&a, ":ho:", g_export_opts)) != -1)
        if (c == OPT_SQLITE)
            sqlite_out = optarg;
        else if (c == OPT_CONVERSATIONS)
            conv = 1;
        else if (c == OPT_THREAD) {
            for (size_t i = 0; i < nthreads; i++)
                if (strcmp(threads[i], optarg) == 0)
                    cli_bad(&a, "--thread %s given twice (it would create two conversations)", optarg);
            threads[nthreads++] = optarg;
        }
        else if (c == OPT_REPORT)
            report = optarg;
        else if (c == 'o')
            out = optarg;
    if (cli_args_done(&a, &status))
        goto done;
    status = EXIT_USAGE;
    if (!!sqlite_out + conv != 1)
        status = cli_usage_error("export", "one format is required: --sqlite OUT.db or --conversations");
    else if (optind + 1 != argc)
        status = cli_usage_error("export", "exactly one archive expected");
    else if (sqlite_out && (out || report || nthreads))
        status = cli_usage_error("export", "-o, --report and --thread go with --conversations");
    else if (sqlite_out && cli_same_file(sqlite_out, argv[optind]))
        status = cli_usage_error("export", "the output would overwrite the archive");
    else if ((out && cli_same_file(out, argv[optind])) || (report && cli_same_file(report, argv[optind])))
        status = cli_usage_error("export", "the output would overwrite the archive");
    else if (out && report && (strcmp(out, report) == 0 || cli_same_file(out, report)))
        status = cli_usage_error("export", "-o and --report name the same file");
    else if (sqlite_out)
        status = export_sqlite(sqlite_out, argv[optind]);
    else
        status = cli_export_conversations(argv[optind], threads, nthreads, out, report);
done:
    free(threads);
    return status;
}
