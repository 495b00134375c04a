/* cmd_read.c - the reading commands: cat (every record, or of some kinds),
 * get (records by position), find (records by id, postings, fields, time,
 * kind); cat's export is the library's (steparc_reader_export). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "cli.h"

/* ---- kinds ---------------------------------------------------------------------------- */

enum {
    OPT_ID = CLI_OPT_FIRST_COMMAND, OPT_RUN, OPT_THREAD, OPT_ASSISTANT, OPT_STATUS, OPT_TYPE,
    OPT_TOOL, OPT_SINCE, OPT_UNTIL, OPT_KIND
};

/* --kind KIND[,KIND...] (repeatable): adds the kinds' bits to *kinds. KIND is
 * a short name (step, message, run, thread, assistant, file, vector_store,
 * vector_store_file, other) or an "object" value (thread.run.step, ...). An
 * unknown one is a usage error. */
static void kind_opt(cli_args *a, const char *v, uint32_t *kinds)
{
    const char *p = v;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int k = steparc_kind_of_object(p, n);
        if (k == STEPARC_KIND_OTHER && !(n == 5 && memcmp(p, "other", 5) == 0)) {
            cli_bad(a, "--kind: unknown kind '%.*s' (step, message, run, thread, assistant, file, "
                       "vector_store, vector_store_file, other)", (int)(n > 60 ? 60 : n), p);
            return;
        }
        *kinds |= STEPARC_KIND_BIT(k);
        if (e == NULL)
            return;
        p = e + 1;
    }
}

/* ---- selections ----------------------------------------------------------------------- */

/* The records of a cursor, in archive order: written at once when
 * ascending, else their ordinals collected (8 bytes each) into *ords. */
static int select_records(const char *cmd, const char *path, steparc_cursor *c, cli_emitter *e,
                          uint64_t **ords, size_t *nords)
{
    size_t cap = 0;
    int status = 0;
    while (status == 0) {
        uint64_t ord;
        const void *mp;
        size_t len;
        int rc = steparc_cursor_next(&ord, &mp, &len, c);
        if (rc == STEPARC_END)
            break;
        if (rc) {
            cli_msg("%s: %s: %s", cmd, path, steparc_cursor_errmsg(c));
            status = EXIT_BAD;
        } else if (!e->desc) {
            status = cli_emit_record(e, mp, len, ord);
        } else {
            if (*nords == cap) {
                cap = cap ? 2 * cap : 1024;
                uint64_t *no = realloc(*ords, cap * sizeof *no);
                if (no == NULL) {
                    cli_msg("%s: out of memory", cmd);
                    status = EXIT_BAD;
                    break;
                }
                *ords = no;
            }
            (*ords)[(*nords)++] = ord;
        }
    }
    return status;
}

/* Writes the records of ords, last first. */
static int emit_reversed(const char *cmd, steparc_reader *r, cli_emitter *e, const uint64_t *ords,
                         size_t n)
{
    steparc_buf mp = {0};
    int status = 0;
    for (size_t k = n; status == 0 && k-- > 0;) {
        if (steparc_reader_get_msgpack(&mp, r, ords[k]) != 0) {
            cli_msg("%s: %s", cmd, steparc_reader_errmsg(r));
            status = EXIT_BAD;
            break;
        }
        status = cli_emit_record(e, mp.data, mp.len, ords[k]);
    }
    steparc_buf_free(&mp);
    return status;
}

/* Writes the records a filter selects (NULL: all), in archive order or
 * reversed (--order desc), and ends the output. */
static int run_selection(const char *cmd, const char *path, steparc_reader *r,
                         const steparc_filter *f, cli_emitter *e)
{
    steparc_cursor *c = NULL;
    uint64_t *ords = NULL;
    size_t nords = 0;
    if (steparc_cursor_open(&c, r, f) != 0) {
        cli_msg("%s: %s", cmd, steparc_reader_errmsg(r));
        return EXIT_BAD;
    }
    int status = select_records(cmd, path, c, e, &ords, &nords);
    steparc_cursor_close(c);
    if (status == 0)
        status = emit_reversed(cmd, r, e, ords, nords);
    free(ords);
    int end = cli_emit_end(e);
    return status ? status : end;
}

/* ---- export ----------------------------------------------------------------------
 *
 * cat in JSONL order: steparc_reader_export (parallel over ranges of
 * ordinals, written in order). Whole ranges go to fwrite, which passes them
 * to write() without copying them through the stdio buffer. */

typedef struct {
    int failed; /* stdout refused the bytes: cli_out_flush reports it */
} out_sink;

static int out_write(void *ctx, const void *p, size_t n)
{
    if (cli_out_write(p, n)) {
        ((out_sink *)ctx)->failed = 1;
        return -1;
    }
    return 0;
}

static int export_all(const char *path, steparc_reader *r, const cli_printer *opt,
                      uint32_t kinds, int threads)
{
    steparc_export_options o;
    steparc_export_options_init(&o);
    o.threads = threads;
    o.kinds = kinds;
    o.flags = (opt->pretty ? STEPARC_JSON_PRETTY : 0) | (opt->via_struct ? STEPARC_EXPORT_VIA_VIEW : 0);
    out_sink sink = {0};
    int rc = steparc_reader_export(NULL, r, &o, out_write, &sink);
    if (rc && !sink.failed)
        cli_msg("cat: %s: %s", path, steparc_reader_errmsg(r));
    return rc ? EXIT_BAD : 0;
}

/* The export allocates and frees a buffer per block (64 KiB by default);
 * glibc hands freed memory at the top of the heap back to the kernel (trim)
 * and the next block faults it in again: two thirds of cat's page faults and
 * ~5% of its time. Keeping up to 64 MiB of free heap avoids that. */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}


/* ---- cat ------------------------------------------------------------------------------ */

static const struct option g_cat_opts[] = {
    CLI_OUTPUT_OPTIONS,
    {"threads", required_argument, NULL, 'j'},
    {"kind", required_argument, NULL, OPT_KIND},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0}};

int cli_cat(const cli_command *cmd, int argc, char **argv)
{
    cli_emitter e;
    cli_args a;
    int threads = cli_default_threads(), c, status;
    steparc_filter f;
    memset(&f, 0, sizeof f);
    cli_emitter_init(&e);
    cli_args_init(&a, cmd, argc, argv);
    while ((c = cli_getopt(&a, ":hj:", g_cat_opts)) != -1) {
        uint64_t v;
        if (cli_output_opt(&a, c, optarg, &e))
            continue;
        if (c == OPT_KIND)
            kind_opt(&a, optarg, &f.kinds);
        else if (cli_parse_u64(optarg, &v) != 0 || v < 1 || v > 256) /* c is 'j' */
            cli_bad(&a, "-j takes 1..256");
        else
            threads = (int)v;
    }
    if (cli_args_done(&a, &status))
        return status;
    if (optind + 1 != argc)
        return cli_usage_error("cat", "exactly one archive expected");
    const char *path = argv[optind];
    steparc_reader *r;
    if (cli_open_archive("cat", path, &r))
        return EXIT_BAD;
    if (e.format == CLI_FMT_JSONL && !e.desc) {
        keep_freed_memory();
        status = export_all(path, r, &e.p, f.kinds, threads);
        cli_emit_end(&e);
    } else {
        status = run_selection("cat", path, r, &f, &e);
    }
    if (cli_out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}

/* ---- get ------------------------------------------------------------------------------ */

static const struct option g_get_opts[] = {
    {"pretty", no_argument, NULL, CLI_OPT_PRETTY},
    {"via-struct", no_argument, NULL, CLI_OPT_VIA_STRUCT},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0}};

/* get's options; a negative number is a bad position, not an option. */
static int get_options(cli_args *a, cli_printer *p, int *status)
{
    for (int i = 1; i < a->argc && strcmp(a->argv[i], "--") != 0; i++)
        if (a->argv[i][0] == '-' && a->argv[i][1] >= '0' && a->argv[i][1] <= '9')
            cli_bad(a, "'%s' is not a position (a number from 0)", a->argv[i]);
    int c;
    while ((c = cli_getopt(a, ":h", g_get_opts)) != -1) {
        if (c == CLI_OPT_PRETTY)
            p->pretty = 1;
        else
            p->via_struct = 1;
    }
    return cli_args_done(a, status);
}

int cli_get(const cli_command *cmd, int argc, char **argv)
{
    cli_printer p = {0, 0, {0}};
    cli_args a;
    int status = 0;
    cli_args_init(&a, cmd, argc, argv);
    if (get_options(&a, &p, &status))
        return status;
    if (argc - optind < 2)
        return cli_usage_error("get", "an archive and at least one position expected");
    for (int i = optind + 1; i < argc; i++) {
        uint64_t v;
        if (cli_parse_u64(argv[i], &v) != 0)
            return cli_usage_error("get", "'%s' is not a position (a number from 0)", argv[i]);
    }
    steparc_reader *r;
    if (cli_open_archive("get", argv[optind], &r))
        return EXIT_BAD;
    steparc_buf mp = {0};
    for (int i = optind + 1; i < argc && status == 0; i++) {
        uint64_t v = 0;
        cli_parse_u64(argv[i], &v);
        if (steparc_reader_get_msgpack(&mp, r, v) != 0) {
            cli_msg("get: %s", steparc_reader_errmsg(r));
            status = EXIT_BAD;
            break;
        }
        status = cli_print_record(&p, mp.data, mp.len, v);
    }
    if (cli_out_flush())
        status = EXIT_BAD;
    steparc_buf_free(&mp);
    steparc_buf_free(&p.js);
    steparc_reader_close(r);
    return status;
}

/* ---- find ----------------------------------------------------------------------------- */

static const struct option g_find_opts[] = {
    {"id", required_argument, NULL, OPT_ID},
    {"run", required_argument, NULL, OPT_RUN},
    {"thread", required_argument, NULL, OPT_THREAD},
    {"assistant", required_argument, NULL, OPT_ASSISTANT},
    {"status", required_argument, NULL, OPT_STATUS},
    {"type", required_argument, NULL, OPT_TYPE},
    {"tool", required_argument, NULL, OPT_TOOL},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"kind", required_argument, NULL, OPT_KIND},
    CLI_OUTPUT_OPTIONS,
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0}};

typedef struct {
    steparc_filter f;
    const char *id;
    int nfilters; /* filter options given (--id included) */
} find_query;

static void filter_opt(cli_args *a, int c, const char *v, find_query *q)
{
    steparc_str s = {v, strlen(v)};
    q->nfilters++;
    switch (c) {
    case OPT_ID: q->id = v; break;
    case OPT_RUN: q->f.run_id = s; break;
    case OPT_THREAD: q->f.thread_id = s; break;
    case OPT_ASSISTANT: q->f.assistant_id = s; break;
    case OPT_STATUS: q->f.status = s; break;
    case OPT_TYPE: q->f.type = s; break;
    case OPT_TOOL: q->f.tool = s; break;
    case OPT_KIND: kind_opt(a, v, &q->f.kinds); break;
    case OPT_SINCE:
        if (cli_parse_i64(v, &q->f.since) != 0)
            cli_bad(a, "--since takes a Unix time in seconds");
        q->f.has_since = 1;
        break;
    default: /* OPT_UNTIL */
        if (cli_parse_i64(v, &q->f.until) != 0)
            cli_bad(a, "--until takes a Unix time in seconds");
        q->f.has_until = 1;
    }
}

/* The options and the archive; 1 when the command must return *status now. */
static int find_args(cli_args *a, find_query *q, cli_emitter *e, int *status)
{
    int c;
    while ((c = cli_getopt(a, ":h", g_find_opts)) != -1)
        if (!cli_output_opt(a, c, optarg, e))
            filter_opt(a, c, optarg, q);
    if (cli_args_done(a, status))
        return 1;
    *status = EXIT_USAGE;
    if (optind >= a->argc)
        cli_usage_error("find", "an archive is required");
    else if (optind + 1 < a->argc)
        cli_usage_error("find", "unexpected argument '%s'", a->argv[optind + 1]);
    else if (q->nfilters == 0)
        cli_usage_error("find", "give at least one of --id, --run, --thread, --assistant, "
                                "--status, --type, --tool, --since, --until, --kind");
    else
        return 0;
    return 1;
}

/* --id: the id index gives the record; the other filters must hold too. */
static int find_by_id(steparc_reader *r, const find_query *q, cli_emitter *e)
{
    uint64_t ord;
    steparc_buf mp = {0};
    int status = 0;
    int rc = steparc_reader_find_id(&ord, r, q->id, strlen(q->id));
    if (rc == 0)
        rc = steparc_reader_get_msgpack(&mp, r, ord);
    if (rc) {
        cli_msg("find: %s", steparc_reader_errmsg(r));
        steparc_buf_free(&mp);
        return EXIT_BAD;
    }
    int keep = 1;
    if (q->nfilters > 1) {
        steparc_cursor *c = NULL;
        uint64_t o2;
        const void *m2;
        size_t l2;
        keep = 0;
        rc = steparc_cursor_open(&c, r, &q->f);
        while (rc == 0 && (rc = steparc_cursor_next(&o2, &m2, &l2, c)) == 0)
            if (o2 == ord) {
                keep = 1;
                break;
            }
        steparc_cursor_close(c);
    }
    if (keep)
        status = cli_emit_record(e, mp.data, mp.len, ord);
    int end = cli_emit_end(e);
    steparc_buf_free(&mp);
    return status ? status : end;
}

int cli_find(const cli_command *cmd, int argc, char **argv)
{
    cli_emitter e;
    cli_args a;
    find_query q;
    int status;
    cli_emitter_init(&e);
    memset(&q, 0, sizeof q);
    cli_args_init(&a, cmd, argc, argv);
    if (find_args(&a, &q, &e, &status))
        return status;
    const char *archive = argv[optind];
    steparc_reader *r;
    if (cli_open_archive("find", archive, &r))
        return EXIT_BAD;
    if (q.id)
        status = find_by_id(r, &q, &e);
    else
        status = run_selection("find", archive, r, &q.f, &e);
    if (cli_out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}
