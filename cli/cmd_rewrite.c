/* cmd_rewrite.c - rewrite: a copy of an archive without the records of a
 * deletion request and with values redacted (steparc_rewrite), into a fresh
 * archive whose indexes, statistics and dictionary come from the kept records. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli.h"

const char cli_usage_rewrite[] =
    "usage: steparc rewrite ARCHIVE -o OUT.steparc [rules] [--dry-run] [--report FILE] [-q]\n"
    "\n"
    "Copies every record of ARCHIVE, in order, into a new archive OUT except the\n"
    "dropped ones, with values redacted. Untouched records keep their exact bytes;\n"
    "the indexes, statistics and dictionary of OUT are built from the kept records\n"
    "only, so nothing of a dropped record stays in OUT. ARCHIVE is not modified\n"
    "(it is verified first: a damaged archive is refused; recover it first). OUT\n"
    "appears only when complete, and is verified; it keeps the input's layout (rows\n"
    "when every block of ARCHIVE is in rows, else columnar) and the default level.\n"
    "\n"
    "rules (each may be given several times):\n"
    "  --drop-thread T          drop thread T with its messages, runs and steps\n"
    "                           (every record whose thread_id is T)\n"
    "  --drop-assistant A       drop assistant A and every record whose assistant_id is A\n"
    "  --drop-where KEY=VALUE   drop records whose string at KEY (a dotted path from the\n"
    "                           top level, e.g. metadata.user) equals VALUE\n"
    "  --redact PATH            replace the value at PATH (dotted; * = every array item or\n"
    "                           object member, N = array item N) with \"[redacted]\",\n"
    "                           e.g. step_details.tool_calls.*.function.output\n"
    "  --redact-text REGEX      replace each match of REGEX (POSIX extended) inside any\n"
    "                           string value (keys untouched) with [redacted]\n"
    "options:\n"
    "  -o, --output FILE        the archive to write (required unless --dry-run)\n"
    "  --dry-run                report what would be dropped and redacted; write nothing\n"
    "  --report FILE            also write the report as JSON to FILE (- = stdout)\n"
    "  -q, --quiet              no report on stderr\n"
    "Exit status: 0 done, 1 bad or damaged input, 2 usage error (a bad rule too).\n";

enum {
    OPT_DROP_THREAD = CLI_OPT_FIRST_COMMAND, OPT_DROP_ASSISTANT, OPT_DROP_WHERE, OPT_REDACT,
    OPT_REDACT_TEXT, OPT_DRY_RUN, OPT_REPORT
};

static const struct option g_rewrite_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"drop-thread", required_argument, NULL, OPT_DROP_THREAD},
    {"drop-assistant", required_argument, NULL, OPT_DROP_ASSISTANT},
    {"drop-where", required_argument, NULL, OPT_DROP_WHERE},
    {"redact", required_argument, NULL, OPT_REDACT},
    {"redact-text", required_argument, NULL, OPT_REDACT_TEXT},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"report", required_argument, NULL, OPT_REPORT},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0}};

typedef struct {
    const char *in, *out, *report;
    int quiet, dry_run;
    const char **lists[5]; /* drop-thread, drop-assistant, drop-where, redact, redact-text */
    size_t counts[5];
} rw_job;

/* 1 when the command must return *status now. */
static int rw_args(rw_job *job, const cli_command *cmd, int argc, char **argv, int *status)
{
    cli_args a;
    int c;
    for (int k = 0; k < 5; k++)
        if ((job->lists[k] = calloc((size_t)argc + 1, sizeof(char *))) == NULL) {
            cli_msg("rewrite: out of memory");
            *status = EXIT_BAD;
            return 1;
        }
    cli_args_init(&a, cmd, argc, argv);
    while ((c = cli_getopt(&a, ":ho:q", g_rewrite_opts)) != -1) {
        if (c == 'o')
            job->out = optarg;
        else if (c == 'q')
            job->quiet = 1;
        else if (c == OPT_DRY_RUN)
            job->dry_run = 1;
        else if (c == OPT_REPORT)
            job->report = optarg;
        else if (c >= OPT_DROP_THREAD && c <= OPT_REDACT_TEXT) {
            int k = c - OPT_DROP_THREAD;
            job->lists[k][job->counts[k]++] = optarg;
        }
    }
    if (cli_args_done(&a, status))
        return 1;
    *status = EXIT_USAGE;
    if (optind + 1 != argc)
        cli_usage_error("rewrite", "exactly one archive expected");
    else if (job->out == NULL && !job->dry_run)
        cli_usage_error("rewrite", "an output file is required (-o OUT.steparc)");
    else if (job->out && !job->dry_run && cli_same_file(argv[optind], job->out)) {
        cli_msg("rewrite: the output %s is the input; write a new file", job->out);
        *status = EXIT_BAD;
    } else {
        job->in = argv[optind];
        return 0;
    }
    return 1;
}

static void rw_summary(const rw_job *job, const steparc_rewrite_report *rep)
{
    fprintf(stderr, "rewrite: %s: %" PRIu64 " records read, %" PRIu64 " %s (%" PRIu64
            " redacted), %" PRIu64 " dropped",
            job->in, rep->records_in, rep->records_out, job->dry_run ? "would be kept" : "written",
            rep->records_redacted, rep->dropped);
    const char *sep = ": ";
    for (int k = 0; k < STEPARC_KINDS; k++)
        if (rep->dropped_by_kind[k]) {
            fprintf(stderr, "%s%" PRIu64 " %s", sep, rep->dropped_by_kind[k], steparc_kind_name(k));
            sep = ", ";
        }
    fputc('\n', stderr);
    for (uint32_t i = 0; i < rep->dropped_ids_count; i++)
        fprintf(stderr, "%s%s", i ? " " : "  dropped ids: ", rep->dropped_ids[i]);
    if (rep->dropped_ids_count)
        fprintf(stderr, "%s\n", rep->dropped > rep->dropped_ids_count ? " ..." : "");
    for (size_t i = 0; i < job->counts[3]; i++)
        fprintf(stderr, "  --redact %s: %" PRIu64 " values\n", job->lists[3][i], rep->redacted[i]);
    for (size_t i = 0; i < job->counts[4]; i++)
        fprintf(stderr, "  --redact-text %s: %" PRIu64 " matches\n", job->lists[4][i],
                rep->redacted_text[i]);
    if (job->dry_run)
        fputs("  dry run: nothing written\n", stderr);
}

static int rw_report_json(const rw_job *job, const steparc_rewrite_report *rep)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "input", job->in);
    if (job->out && !job->dry_run)
        cJSON_AddStringToObject(o, "output", job->out);
    cJSON_AddBoolToObject(o, "dry_run", job->dry_run);
    cJSON_AddNumberToObject(o, "records_in", (double)rep->records_in);
    cJSON_AddNumberToObject(o, "records_out", (double)rep->records_out);
    cJSON_AddNumberToObject(o, "records_redacted", (double)rep->records_redacted);
    cJSON_AddNumberToObject(o, "dropped", (double)rep->dropped);
    cJSON *bk = cJSON_AddObjectToObject(o, "dropped_by_kind");
    for (int k = 0; k < STEPARC_KINDS; k++)
        if (rep->dropped_by_kind[k])
            cJSON_AddNumberToObject(bk, steparc_kind_name(k), (double)rep->dropped_by_kind[k]);
    cJSON *ids = cJSON_AddArrayToObject(o, "dropped_ids");
    for (uint32_t i = 0; i < rep->dropped_ids_count; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateString(rep->dropped_ids[i]));
    cJSON *rd = cJSON_AddObjectToObject(o, "redact");
    for (size_t i = 0; i < job->counts[3]; i++)
        cJSON_AddNumberToObject(rd, job->lists[3][i], (double)rep->redacted[i]);
    cJSON *rt = cJSON_AddObjectToObject(o, "redact_text");
    for (size_t i = 0; i < job->counts[4]; i++)
        cJSON_AddNumberToObject(rt, job->lists[4][i], (double)rep->redacted_text[i]);
    char *txt = cJSON_Print(o);
    int to_stdout = strcmp(job->report, "-") == 0, status = 0;
    FILE *f = to_stdout ? stdout : fopen(job->report, "w");
    if (f == NULL || txt == NULL || fputs(txt, f) < 0 || fputc('\n', f) < 0 ||
        (to_stdout ? fflush(f) : fclose(f)) != 0) {
        cli_msg("rewrite: cannot write %s: %s", job->report, strerror(errno));
        status = EXIT_BAD;
    }
    cJSON_free(txt);
    cJSON_Delete(o);
    return status;
}

/* The input is refused when any check fails: a deletion must not lose more. */
static int verify_file(const char *path, const char *what)
{
    steparc_reader *r = NULL;
    char why[600];
    uint64_t np = 0;
    if (steparc_reader_open(&r, path, NULL, why, sizeof why) != 0) {
        cli_msg("rewrite: %s", why);
        return EXIT_BAD;
    }
    int rc = steparc_verify(&np, r, NULL, NULL);
    steparc_reader_close(r);
    if (rc != 0) {
        cli_msg("rewrite: %s %s is damaged (%" PRIu64 " problems; see steparc verify%s)", what,
                path, np, strcmp(what, "input") == 0 ? ", and steparc recover" : "");
        return EXIT_BAD;
    }
    return 0;
}

static int rw_run(rw_job *job)
{
    steparc_reader *r = NULL;
    steparc_writer *w = NULL;
    char why[600];
    int status = verify_file(job->in, "input");
    steparc_rewrite_report rep;
    if (status)
        return status;
    if (steparc_reader_open(&r, job->in, NULL, why, sizeof why) != 0) {
        cli_msg("rewrite: %s", why);
        return EXIT_BAD;
    }
    if (!job->dry_run) {
        steparc_writer_options wo;
        steparc_info in;
        steparc_writer_options_init(&wo); /* dedup 0: every kept record */
        /* an archive written in rows (--layout rows) stays in rows */
        if (steparc_reader_info(&in, r) == 0 && in.blocks > 0 && in.columnar_blocks == 0)
            wo.layout = STEPARC_LAYOUT_ROWS;
        if (steparc_writer_open(&w, job->out, &wo, why, sizeof why) != 0) {
            cli_msg("rewrite: %s", why);
            status = EXIT_BAD;
            goto cleanup;
        }
    }
    steparc_rewrite_options o;
    memset(&o, 0, sizeof o);
    o.drop_threads = job->lists[0], o.n_drop_threads = job->counts[0];
    o.drop_assistants = job->lists[1], o.n_drop_assistants = job->counts[1];
    o.drop_where = job->lists[2], o.n_drop_where = job->counts[2];
    o.redact = job->lists[3], o.n_redact = job->counts[3];
    o.redact_text = job->lists[4], o.n_redact_text = job->counts[4];
    int rc = steparc_rewrite(&rep, r, w, &o);
    if (rc == STEPARC_E_ARG) {
        status = cli_usage_error("rewrite", "%s", rep.errmsg);
        goto cleanup;
    }
    if (rc != 0) {
        cli_msg("rewrite: %s: %s", job->in, rep.errmsg);
        status = EXIT_BAD;
        goto cleanup;
    }
    if (w && steparc_writer_finish(w) != 0) {
        cli_msg("rewrite: %s", steparc_writer_errmsg(w));
        status = EXIT_BAD;
        goto cleanup;
    }
    if (w && (status = verify_file(job->out, "output")) != 0)
        goto cleanup;
    if (!job->quiet)
        rw_summary(job, &rep);
    if (job->report)
        status = rw_report_json(job, &rep);
cleanup:
    steparc_writer_close(w);
    steparc_reader_close(r);
    return status;
}

int cli_rewrite(const cli_command *cmd, int argc, char **argv)
{
    rw_job job;
    int status;
    memset(&job, 0, sizeof job);
    if (!rw_args(&job, cmd, argc, argv, &status))
        status = rw_run(&job);
    for (int k = 0; k < 5; k++)
        free((void *)job.lists[k]);
    return status;
}
