/* cmd_convert.c - the writing commands: convert (JSON dumps -> archive),
 * append (more records onto an archive), merge (archives -> archive). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "cli.h"

enum { MODE_CONVERT, MODE_APPEND, MODE_MERGE };

/* What the command line asked for. */
typedef struct {
    int mode;
    const char *cmd;
    const char *out, *rejects, *report;
    int quiet;
    steparc_writer_options wo;
    steparc_convert_options co;
    char **inputs; /* files, directories or -; archives for merge */
    int ninputs;
} conv_job;

/* The converter's callbacks' state. */
typedef struct {
    FILE *rejects;
    int quiet;
    int tty;
    double t0;
    uint64_t shown;
} conv_ui;

static const char *const g_skip_names[STEPARC_SKIP_REASONS] = {
    "objects of no archived kind", "records without id", "step and message deltas",
    "unknown events", "invalid records",
    "inputs or bodies not JSON", "symbolic links to directories"};
/* Plural names of the kinds in the summary, by STEPARC_KIND_*. */
static const char *const g_kind_plurals[STEPARC_KINDS] = {
    "others", "steps", "messages", "runs", "threads", "assistants", "files", "vector stores",
    "vector store files"};
static const char *const g_skip_keys[STEPARC_SKIP_REASONS] = {
    "not_a_step", "no_id", "delta", "other_event", "invalid", "not_json", "link"};

/* ---- progress and skipped records --------------------------------------------------- */

static void on_progress(void *ctx, const steparc_convert_stats *s, uint64_t total)
{
    conv_ui *ui = (conv_ui *)ctx;
    if (!ui->tty || ui->quiet)
        return;
    double dt = cli_now() - ui->t0;
    double mb = (double)s->input_bytes / 1e6;
    double rate = dt > 0 ? mb / dt : 0;
    if (total) {
        double frac = (double)s->input_bytes / (double)total;
        if (frac > 1)
            frac = 1;
        int w = (int)(frac * 30);
        double eta = rate > 0 ? ((double)total / 1e6 - mb) / rate : 0;
        fprintf(stderr, "\r[%.*s%*s] %5.1f%% %" PRIu64 " records %.1f MB/s ETA %.0fs ", w,
                "==============================", 30 - w, "", frac * 100, s->records, rate,
                eta > 0 ? eta : 0);
    } else {
        fprintf(stderr, "\r%.1f MB read, %" PRIu64 " records, %.1f MB/s ", mb, s->records, rate);
    }
}

static void on_skipped(void *ctx, steparc_skip_reason why, const char *file, uint64_t line,
                       uint64_t col, const char *detail, const char *raw, size_t raw_len)
{
    conv_ui *ui = (conv_ui *)ctx;
    if (why == STEPARC_SKIP_INVALID) {
        if (!ui->quiet)
            fprintf(stderr, "%s%s:%" PRIu64 ":%" PRIu64 ": skipped invalid record: %s\n",
                    ui->tty ? "\r" : "", file, line, col, detail);
        if (ui->rejects && raw) {
            fwrite(raw, 1, raw_len, ui->rejects);
            fputc('\n', ui->rejects);
        }
        return;
    }
    if (why == STEPARC_SKIP_NOT_JSON || why == STEPARC_SKIP_LINK) {
        if (!ui->quiet)
            fprintf(stderr, "%s%s: skipped (%s)\n", ui->tty ? "\r" : "", file, detail);
        return;
    }
    if (why == STEPARC_SKIP_NOT_A_STEP || why == STEPARC_SKIP_NO_ID) {
        if (!ui->quiet && ui->shown < 3)
            fprintf(stderr, "%s%s:%" PRIu64 ":%" PRIu64 ": skipped (%s)\n", ui->tty ? "\r" : "",
                    file, line, col, detail);
        ui->shown++;
    }
}

/* ---- the command line ----------------------------------------------------------------- */

enum {
    OPT_INPUT_FORMAT = CLI_OPT_FIRST_COMMAND, OPT_STRICT, OPT_SKIP_INVALID, OPT_REJECTS, OPT_LEVEL,
    OPT_BLOCK_SIZE, OPT_REPORT, OPT_KEEP_DUPLICATES, OPT_NO_REBUILD, OPT_DICT_SIZE, OPT_LAYOUT,
    OPT_FOLLOW_SYMLINKS
};

static const struct option g_conv_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"input-format", required_argument, NULL, OPT_INPUT_FORMAT},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"skip-invalid", no_argument, NULL, OPT_SKIP_INVALID},
    {"rejects", required_argument, NULL, OPT_REJECTS},
    {"level", required_argument, NULL, OPT_LEVEL},
    {"block-size", required_argument, NULL, OPT_BLOCK_SIZE},
    {"threads", required_argument, NULL, 'j'},
    {"report", required_argument, NULL, OPT_REPORT},
    {"quiet", no_argument, NULL, 'q'},
    {"keep-duplicates", no_argument, NULL, OPT_KEEP_DUPLICATES},
    {"no-rebuild", no_argument, NULL, OPT_NO_REBUILD},
    {"dict-size", required_argument, NULL, OPT_DICT_SIZE},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"follow-symlinks", no_argument, NULL, OPT_FOLLOW_SYMLINKS},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0}};

static void job_init(conv_job *job, const cli_command *cmd, int mode)
{
    memset(job, 0, sizeof *job);
    job->mode = mode;
    job->cmd = cmd->name;
    steparc_writer_options_init(&job->wo);
    steparc_convert_options_init(&job->co);
    job->wo.threads = cli_default_threads();
    job->co.threads = job->wo.threads;
    job->wo.dedup = 1;
}

/* An option with a value that needs checking; bad values are recorded in a. */
static void value_opt(conv_job *job, cli_args *a, int c, const char *v)
{
    uint64_t u;
    int64_t i;
    switch (c) {
    case OPT_INPUT_FORMAT:
        if (strcmp(v, "auto") == 0) job->co.format = STEPARC_IN_AUTO;
        else if (strcmp(v, "jsonl") == 0 || strcmp(v, "ndjson") == 0) job->co.format = STEPARC_IN_JSONL;
        else if (strcmp(v, "json") == 0) job->co.format = STEPARC_IN_JSON;
        else if (strcmp(v, "sse") == 0) job->co.format = STEPARC_IN_SSE;
        else cli_bad(a, "unknown input format '%s'", v);
        break;
    case OPT_LEVEL:
        if (cli_parse_i64(v, &i) != 0 || i < 1 || i > 22)
            cli_bad(a, "--level takes 1..22");
        else
            job->wo.level = (int)i;
        break;
    case OPT_BLOCK_SIZE:
        if (cli_parse_u64(v, &u) != 0 || u < 1024 || u > 64u * 1024 * 1024)
            cli_bad(a, "--block-size takes 1024..67108864");
        else
            job->wo.block_size = (uint32_t)u;
        break;
    case 'j':
        if (cli_parse_u64(v, &u) != 0 || u < 1 || u > 256) {
            cli_bad(a, "-j takes 1..256");
        } else {
            job->wo.threads = (int)u;
            job->co.threads = (int)u;
        }
        break;
    case OPT_DICT_SIZE:
        if (cli_parse_i64(v, &i) != 0 || i < -1 || i > 1048576 || (i > 0 && i < 1024))
            cli_bad(a, "--dict-size takes -1 (none), 0 (automatic) or 1024..1048576");
        else
            job->wo.dict_size = (int)i;
        break;
    case OPT_LAYOUT:
        if (strcmp(v, "columnar") == 0) job->wo.layout = STEPARC_LAYOUT_COLUMNAR;
        else if (strcmp(v, "rows") == 0) job->wo.layout = STEPARC_LAYOUT_ROWS;
        else cli_bad(a, "--layout takes columnar or rows");
        break;
    }
}

/* The options; 1 when the command must return *status now. */
static int job_options(conv_job *job, cli_args *a, int *status)
{
    int c;
    while ((c = cli_getopt(a, ":ho:j:q", g_conv_opts)) != -1) {
        switch (c) {
        case 'o': job->out = optarg; break;
        case 'q': job->quiet = 1; break;
        case OPT_STRICT: job->co.strict = 1; break;
        case OPT_SKIP_INVALID: job->co.skip_invalid = 1; break;
        case OPT_REJECTS: job->rejects = optarg; break;
        case OPT_REPORT: job->report = optarg; break;
        case OPT_KEEP_DUPLICATES: job->wo.dedup = 0; break;
        case OPT_NO_REBUILD: job->co.no_rebuild = 1; break;
        case OPT_FOLLOW_SYMLINKS: job->co.follow_symlinks = 1; break;
        default: value_opt(job, a, c, optarg);
        }
    }
    return cli_args_done(a, status);
}

/* The operands (after the options, which getopt moved first); 0 or the exit
 * status to return. */
static int job_operands(conv_job *job, int argc, char **argv)
{
    int i = optind;
    if (job->mode == MODE_APPEND) {
        if (job->out != NULL)
            return cli_usage_error(job->cmd, "append writes to the archive given first; no -o");
        if (i >= argc)
            return cli_usage_error(job->cmd, "an archive and inputs expected");
        job->out = argv[i++];
        job->wo.dedup = 0; /* appended records are all kept */
    }
    if (job->out == NULL)
        return cli_usage_error(job->cmd, "an output file is required (-o OUT.steparc)");
    if (i >= argc)
        return cli_usage_error(job->cmd, job->mode == MODE_MERGE
                                             ? "no archive given to merge"
                                             : "no input given (a file, a directory or -)");
    job->inputs = argv + i;
    job->ninputs = argc - i;
    for (int k = 0; k < job->ninputs; k++)
        if (strcmp(job->inputs[k], "-") != 0 && cli_same_file(job->inputs[k], job->out)) {
            cli_msg("%s: the output %s is also an input", job->cmd, job->out);
            return EXIT_BAD;
        }
    if (job->rejects && !job->co.skip_invalid)
        return cli_usage_error(job->cmd, "--rejects needs --skip-invalid");
    return 0;
}

/* ---- the records ---------------------------------------------------------------------- */

/* merge: every record of every archive, in order. */
static int merge_inputs(steparc_writer *w, char **paths, int n, steparc_convert_stats *st)
{
    for (int i = 0; i < n; i++) {
        steparc_reader *r = NULL;
        char err[512];
        if (steparc_reader_open(&r, paths[i], NULL, err, sizeof err) != 0) {
            cli_msg("merge: %s", err);
            return EXIT_BAD;
        }
        steparc_cursor *c = NULL;
        int rc = steparc_cursor_open(&c, r, NULL);
        uint64_t ord;
        const void *mp;
        size_t len;
        st->inputs++;
        while (rc == 0 && (rc = steparc_cursor_next(&ord, &mp, &len, c)) == 0) {
            rc = steparc_writer_add_msgpack(w, mp, len);
            if (rc) {
                cli_msg("merge: %s: %s", paths[i], steparc_writer_errmsg(w));
                break;
            }
            st->records++;
            st->objects++;
        }
        if (rc != 0 && rc != STEPARC_END && c)
            cli_msg("merge: %s: %s", paths[i], steparc_cursor_errmsg(c));
        steparc_info in;
        if (steparc_reader_info(&in, r) == 0)
            st->input_bytes += in.file_size;
        steparc_cursor_close(c);
        steparc_reader_close(r);
        if (rc != STEPARC_END)
            return EXIT_BAD;
    }
    return 0;
}

/* convert, append: every input through a converter; *cv stays open for its
 * statistics (the caller closes it). */
static int convert_inputs(conv_job *job, conv_ui *ui, steparc_writer *w, steparc_converter **cv)
{
    job->co.progress = on_progress;
    job->co.progress_ctx = ui;
    job->co.skipped = on_skipped;
    job->co.skipped_ctx = ui;
    int rc = steparc_converter_open(cv, w, &job->co);
    if (rc != 0) {
        cli_msg("%s: %s", job->cmd, steparc_strerror(rc));
        return EXIT_BAD;
    }
    for (int i = 0; i < job->ninputs && rc == 0; i++)
        rc = steparc_converter_add_path(*cv, job->inputs[i]);
    if (ui->tty && !job->quiet)
        fputs("\r\033[K", stderr);
    if (rc != 0) {
        cli_msg("%s", steparc_converter_errmsg(*cv));
        return EXIT_BAD;
    }
    return 0;
}

/* ---- the summary ---------------------------------------------------------------------- */

typedef struct {
    double seconds;
    uint64_t archive_bytes, skipped, dups;
    uint64_t by_kind[STEPARC_KINDS]; /* records in the archive written, by kind */
    int other_kinds;                 /* a record of another kind than step */
} conv_totals;

/* 1234567 as "1,234,567" into out (at least 32 bytes). */
static const char *thousands(uint64_t v, char *out)
{
    char d[24];
    int n = snprintf(d, sizeof d, "%" PRIu64, v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = d[i];
    }
    out[k] = 0;
    return out;
}

/* The records written, by kind: the converter's counts, or after the writer
 * dropped duplicates of several kinds, the finished archive's (its
 * statistics' by_kind: one small read, not a pass over the records, which
 * would also map the whole archive into memory). */
static void count_kinds(const conv_job *job, const steparc_convert_stats *st, conv_totals *t)
{
    memset(t->by_kind, 0, sizeof t->by_kind);
    for (int k = 1; k < STEPARC_KINDS; k++) {
        t->by_kind[k] = st->by_kind[k];
        if (k != STEPARC_KIND_STEP && st->by_kind[k])
            t->other_kinds = 1;
    }
    if (t->dups == 0 || !t->other_kinds || job->mode != MODE_CONVERT)
        return; /* the converter's counts are the archive's */
    steparc_reader *r = NULL;
    uint64_t counted[STEPARC_KINDS] = {0};
    if (steparc_reader_open(&r, job->out, NULL, NULL, 0) == 0 &&
        steparc_reader_kind_counts(counted, r) == 0)
        memcpy(t->by_kind, counted, sizeof counted);
    steparc_reader_close(r);
}

static void print_kinds(const conv_totals *t)
{
    char num[32], line[512];
    uint64_t total = 0;
    size_t n = 0;
    for (int k = 0; k < STEPARC_KINDS; k++)
        total += t->by_kind[k];
    n += (size_t)snprintf(line, sizeof line, "  archived %s records:", thousands(total, num));
    const char *sep = " ";
    for (int k = 1; k < STEPARC_KINDS && n < sizeof line; k++)
        if (t->by_kind[k]) {
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %s", sep,
                                  thousands(t->by_kind[k], num), g_kind_plurals[k]);
            sep = ", ";
        }
    fprintf(stderr, "%s\n", line);
}

static void print_summary(const conv_job *job, const steparc_convert_stats *st, const conv_totals *t)
{
    fprintf(stderr,
            "%s: %" PRIu64 " input(s), %" PRIu64 " records written, %" PRIu64
            " duplicates merged, %" PRIu64 " skipped; %.1f MB in, %.1f MB out (ratio %.2f) in %.2fs\n",
            job->out, st->inputs, st->records - t->dups, t->dups, t->skipped,
            (double)st->input_bytes / 1e6, (double)t->archive_bytes / 1e6,
            t->archive_bytes ? (double)st->input_bytes / (double)t->archive_bytes : 0.0, t->seconds);
    if (t->other_kinds) /* step-only inputs keep the summary they always had */
        print_kinds(t);
    for (int k = 0; k < STEPARC_SKIP_REASONS; k++)
        if (st->skipped[k])
            fprintf(stderr, "  skipped %" PRIu64 " %s\n", st->skipped[k], g_skip_names[k]);
    if (st->rebuilt)
        fprintf(stderr, "  rebuilt %" PRIu64 " step(s) from their deltas (stream ended before "
                "the final object)\n", st->rebuilt);
    if (st->messages_rebuilt)
        fprintf(stderr, "  %" PRIu64 " messages rebuilt from deltas (stream ended before "
                "the final event)\n", st->messages_rebuilt);
    if (st->unrebuilt)
        fprintf(stderr, "  %" PRIu64 " step(s) or message(s) had deltas that could not be applied\n",
                st->unrebuilt);
    if (st->error_events)
        fprintf(stderr, "  %" PRIu64 " error events in streams\n", st->error_events);
}

/* --report FILE: the summary as JSON; 0 or EXIT_BAD. */
static int write_report(const conv_job *job, const steparc_convert_stats *st, const conv_totals *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "command", job->cmd);
    cJSON_AddStringToObject(o, "output", job->out);
    cJSON_AddNumberToObject(o, "inputs", (double)st->inputs);
    cJSON_AddNumberToObject(o, "records", (double)(st->records - t->dups));
    cJSON_AddNumberToObject(o, "duplicates_merged", (double)t->dups);
    cJSON_AddNumberToObject(o, "objects", (double)st->objects);
    cJSON *sk = cJSON_AddObjectToObject(o, "skipped");
    for (int k = 0; k < STEPARC_SKIP_REASONS; k++)
        cJSON_AddNumberToObject(sk, g_skip_keys[k], (double)st->skipped[k]);
    cJSON *bk = cJSON_AddObjectToObject(o, "by_kind");
    for (int k = 1; k < STEPARC_KINDS; k++)
        if (t->by_kind[k])
            cJSON_AddNumberToObject(bk, steparc_kind_name(k), (double)t->by_kind[k]);
    cJSON_AddNumberToObject(o, "rebuilt_from_deltas", (double)st->rebuilt);
    cJSON_AddNumberToObject(o, "messages_rebuilt_from_deltas", (double)st->messages_rebuilt);
    cJSON_AddNumberToObject(o, "error_events", (double)st->error_events);
    cJSON_AddNumberToObject(o, "deltas_not_applied", (double)st->unrebuilt);
    cJSON_AddNumberToObject(o, "input_bytes", (double)st->input_bytes);
    cJSON_AddNumberToObject(o, "archive_bytes", (double)t->archive_bytes);
    cJSON_AddNumberToObject(o, "ratio",
                            t->archive_bytes ? (double)st->input_bytes / (double)t->archive_bytes : 0);
    cJSON_AddNumberToObject(o, "seconds", t->seconds);
    char *txt = cJSON_Print(o);
    int status = 0;
    FILE *f = fopen(job->report, "w");
    if (f == NULL || txt == NULL || fputs(txt, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
        cli_msg("%s: cannot write %s: %s", job->cmd, job->report, strerror(errno));
        status = EXIT_BAD;
    }
    cJSON_free(txt);
    cJSON_Delete(o);
    return status;
}

/* After a finished archive: append's count line, the summary, the report. */
static int conv_summary(const conv_job *job, const conv_ui *ui, steparc_writer *w,
                        const steparc_convert_stats *st, uint64_t before)
{
    if (job->mode == MODE_APPEND && !job->quiet)
        fprintf(stderr, "%s: %" PRIu64 " records before, %" PRIu64 " after\n", job->out, before,
                before + st->records);
    conv_totals t;
    struct stat sb;
    t.seconds = cli_now() - ui->t0;
    t.archive_bytes = stat(job->out, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    t.skipped = 0;
    for (int k = 0; k < STEPARC_SKIP_REASONS; k++)
        t.skipped += st->skipped[k];
    t.dups = steparc_writer_duplicates(w);
    t.other_kinds = 0;
    if (!job->quiet || job->report)
        count_kinds(job, st, &t);
    if (!job->quiet)
        print_summary(job, st, &t);
    return job->report ? write_report(job, st, &t) : 0;
}

/* ---- the command ---------------------------------------------------------------------- */

/* Opens the writer (and the rejects file), feeds it, finishes the archive. */
static int conv_run(conv_job *job)
{
    conv_ui ui;
    memset(&ui, 0, sizeof ui);
    ui.quiet = job->quiet;
    ui.tty = isatty(2);
    ui.t0 = cli_now();
    if (job->rejects) {
        ui.rejects = fopen(job->rejects, "w");
        if (ui.rejects == NULL) {
            cli_msg("%s: cannot create %s: %s", job->cmd, job->rejects, strerror(errno));
            return EXIT_BAD;
        }
    }
    steparc_writer *w = NULL;
    steparc_converter *cv = NULL;
    char why[600];
    uint64_t before = 0;
    if (job->mode == MODE_APPEND) {
        steparc_reader *r0 = NULL;
        if (steparc_reader_open(&r0, job->out, NULL, why, sizeof why) == 0)
            before = steparc_reader_count(r0);
        steparc_reader_close(r0);
    }
    int rc = job->mode == MODE_APPEND
                 ? steparc_writer_open_append(&w, job->out, &job->wo, why, sizeof why)
                 : steparc_writer_open(&w, job->out, &job->wo, why, sizeof why);
    int status = 0;
    steparc_convert_stats mst;
    memset(&mst, 0, sizeof mst);
    const steparc_convert_stats *st = &mst;
    if (rc != 0) {
        cli_msg("%s: %s", job->cmd, why);
        status = EXIT_BAD;
        goto cleanup;
    }
    if (job->mode == MODE_MERGE)
        status = merge_inputs(w, job->inputs, job->ninputs, &mst);
    else if ((status = convert_inputs(job, &ui, w, &cv)) == 0)
        st = steparc_converter_stats(cv);
    if (status)
        goto cleanup;
    if (st->records == 0) {
        cli_msg("%s: no records found in the input (no object of an archived kind with an id); %s",
                job->cmd,
                job->mode == MODE_APPEND ? "the archive is unchanged" : "no archive written");
        status = EXIT_BAD;
        goto cleanup;
    }
    if (steparc_writer_finish(w) != 0) {
        cli_msg("%s: %s", job->cmd, steparc_writer_errmsg(w));
        status = EXIT_BAD;
        goto cleanup;
    }
    status = conv_summary(job, &ui, w, st, before);
cleanup:
    steparc_converter_close(cv);
    steparc_writer_close(w);
    if (ui.rejects)
        fclose(ui.rejects);
    return status;
}

static int conv_main(const cli_command *cmd, int argc, char **argv, int mode)
{
    conv_job job;
    cli_args a;
    int status;
    job_init(&job, cmd, mode);
    cli_args_init(&a, cmd, argc, argv);
    if (job_options(&job, &a, &status))
        return status;
    if ((status = job_operands(&job, argc, argv)) != 0)
        return status;
    return conv_run(&job);
}

int cli_convert(const cli_command *cmd, int argc, char **argv)
{
    return conv_main(cmd, argc, argv, MODE_CONVERT);
}

int cli_append(const cli_command *cmd, int argc, char **argv)
{
    return conv_main(cmd, argc, argv, MODE_APPEND);
}

int cli_merge(const cli_command *cmd, int argc, char **argv)
{
    return conv_main(cmd, argc, argv, MODE_MERGE);
}
