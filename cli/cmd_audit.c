/* cmd_audit.c - 'steparc audit': what the archive shows is missing or
 * inconsistent (docs/AUDIT.md). One pass over the records with a cursor keeps
 * the ids of messages, runs and threads (present or referenced), the steps per
 * run and the messages per thread, and the ids of the records a per-record
 * check flags; the findings are made from those sets at the end. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "walk.h"

enum {
    F_MISSING_MESSAGE, F_MISSING_RUN, F_MISSING_THREAD, F_RUN_WITHOUT_STEPS, F_STEPS_PAGE_FULL,
    F_MESSAGES_PAGE_FULL, F_FS_WITHOUT_CONTENT, F_FUNCTION_WITHOUT_OUTPUT, F_NOT_TERMINAL,
    F_COMPLETED_BEFORE_CREATED, NFINDINGS
};

/* The codes in their fixed output order (docs/AUDIT.md lists the same). */
static const struct {
    const char *code, *severity, *what, *advice;
} g_codes[NFINDINGS] = {
    {"missing_message", "warning",
     "messages referenced by a message_creation step but not in the archive",
     "Export the thread's messages again (GET /v1/threads/{thread_id}/messages, every page); "
     "a message deleted since cannot be recovered."},
    {"missing_run", "warning", "runs referenced by messages or steps but not in the archive",
     "Export the thread's runs again (GET /v1/threads/{thread_id}/runs, every page)."},
    {"missing_thread", "warning",
     "threads referenced by messages, runs or steps but not in the archive",
     "Export the thread objects (GET /v1/threads/{thread_id}) along with their contents."},
    {"run_without_steps", "info", "runs with no step in the archive",
     "Export the run's steps (GET /v1/threads/{thread_id}/runs/{run_id}/steps), unless the "
     "run ended before making any."},
    {"steps_page_full", "warning",
     "runs with exactly 20 steps (the steps list endpoint's default page): likely truncated",
     "Re-export with pagination: follow has_more with after=last_id (limit up to 100)."},
    {"messages_page_full", "warning",
     "threads with exactly 20 or 100 messages (the list endpoint's default and largest "
     "page): likely truncated",
     "Re-export with pagination: follow has_more with after=last_id (limit up to 100)."},
    {"file_search_without_content", "info",
     "steps whose file_search results have no content",
     "Export the steps again with "
     "include[]=step_details.tool_calls[*].file_search.results[*].content to keep the "
     "retrieved text."},
    {"function_without_output", "warning",
     "steps in a terminal state with a function call that has no output",
     "Check the client that submitted tool outputs; a step cancelled or expired while "
     "waiting for them keeps none."},
    {"not_terminal", "info",
     "runs, steps and messages whose status is not terminal (queued, in_progress, "
     "requires_action, cancelling)",
     "Export these objects again once their runs have finished to archive their final "
     "state."},
    {"completed_before_created", "warning", "records whose completed_at is before created_at",
     "Check the exporter's timestamps (seconds, not milliseconds); the records are kept as "
     "they are."},
};

/* flags of the id maps' values; the count above them (steps per run,
 * messages per thread) */
#define PRESENT 1u
#define REFERENCED 2u
#define COUNT_ONE 4u

typedef struct {
    cli_idmap messages, runs, threads;
    cli_idmap found[NFINDINGS]; /* the per-record findings' ids, then all of them */
    uint64_t records;
} audit;

static int mark(cli_idmap *m, const msgpack_object *id, uint64_t add)
{
    const char *p;
    size_t n;
    if (!cli_mp_str(id, &p, &n))
        return 0;
    long i = cli_idm_put(m, p, n);
    if (i < 0)
        return -1;
    if (add >= COUNT_ONE)
        m->e[i].v += add;
    else
        m->e[i].v |= add;
    return 0;
}

static int flag(audit *a, int f, const msgpack_object *id)
{
    return mark(&a->found[f], id, 0);
}

static int is_one_of(const msgpack_object *o, const char *const *set)
{
    for (; *set; set++)
        if (cli_mp_is(o, *set))
            return 1;
    return 0;
}

static const char *const g_step_terminal[] = {"completed", "failed", "cancelled", "expired", NULL};
static const char *const g_run_open[] = {"queued", "in_progress", "requires_action", "cancelling",
                                         NULL};
static const char *const g_open[] = {"in_progress", NULL};

/* the checks of one step's tool calls */
static int step_calls(audit *a, const msgpack_object *rec, const msgpack_object *details)
{
    const msgpack_object *calls;
    size_t n;
    if (!cli_mp_array(cli_mp_get(details, "tool_calls"), &calls, &n))
        return 0;
    int terminal = is_one_of(cli_mp_get(rec, "status"), g_step_terminal);
    const msgpack_object *id = cli_mp_get(rec, "id");
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *res, *fn = cli_mp_get(&calls[i], "function");
        size_t nr;
        if (cli_mp_array(cli_mp_get(cli_mp_get(&calls[i], "file_search"), "results"), &res, &nr))
            for (size_t k = 0; k < nr; k++) {
                const msgpack_object *c = cli_mp_get(&res[k], "content");
                if ((c == NULL || c->type == MSGPACK_OBJECT_NIL) &&
                    flag(a, F_FS_WITHOUT_CONTENT, id))
                    return -1;
            }
        if (terminal && fn && fn->type == MSGPACK_OBJECT_MAP) {
            const msgpack_object *out = cli_mp_get(fn, "output");
            if ((out == NULL || out->type == MSGPACK_OBJECT_NIL) &&
                flag(a, F_FUNCTION_WITHOUT_OUTPUT, id))
                return -1;
        }
    }
    return 0;
}

static int step_record(audit *a, const msgpack_object *rec)
{
    const msgpack_object *d = cli_mp_get(rec, "step_details");
    if (mark(&a->runs, cli_mp_get(rec, "run_id"), REFERENCED) ||
        mark(&a->runs, cli_mp_get(rec, "run_id"), COUNT_ONE) ||
        mark(&a->threads, cli_mp_get(rec, "thread_id"), REFERENCED))
        return -1;
    if (mark(&a->messages, cli_mp_get(cli_mp_get(d, "message_creation"), "message_id"),
             REFERENCED))
        return -1;
    return step_calls(a, rec, d);
}

static int record(void *ctx, int kind, const msgpack_object *rec)
{
    audit *a = ctx;
    const msgpack_object *id = cli_mp_get(rec, "id"), *status = cli_mp_get(rec, "status");
    int64_t created, completed;
    a->records++;
    if (cli_mp_int(cli_mp_get(rec, "created_at"), &created) &&
        cli_mp_int(cli_mp_get(rec, "completed_at"), &completed) && completed < created &&
        flag(a, F_COMPLETED_BEFORE_CREATED, id))
        return -1;
    switch (kind) {
    case STEPARC_KIND_STEP:
        if (is_one_of(status, g_open) && flag(a, F_NOT_TERMINAL, id))
            return -1;
        return step_record(a, rec);
    case STEPARC_KIND_MESSAGE:
        if (is_one_of(status, g_open) && flag(a, F_NOT_TERMINAL, id))
            return -1;
        return mark(&a->messages, id, PRESENT) ||
               mark(&a->threads, cli_mp_get(rec, "thread_id"), REFERENCED) ||
               mark(&a->threads, cli_mp_get(rec, "thread_id"), COUNT_ONE) ||
               mark(&a->runs, cli_mp_get(rec, "run_id"), REFERENCED) ? -1 : 0;
    case STEPARC_KIND_RUN:
        if (is_one_of(status, g_run_open) && flag(a, F_NOT_TERMINAL, id))
            return -1;
        return mark(&a->runs, id, PRESENT) ||
               mark(&a->threads, cli_mp_get(rec, "thread_id"), REFERENCED) ? -1 : 0;
    case STEPARC_KIND_THREAD:
        return mark(&a->threads, id, PRESENT);
    default:
        return 0;
    }
}

/* Adds to found[f] every id of m whose value passes test. */
static int collect(audit *a, int f, const cli_idmap *m, int (*test)(uint64_t v))
{
    for (size_t i = 0; i < m->n; i++)
        if (test(m->e[i].v) && cli_idm_put(&a->found[f], m->e[i].key, m->e[i].len) < 0)
            return -1;
    return 0;
}

static int t_missing(uint64_t v) { return (v & REFERENCED) && !(v & PRESENT); }
static int t_no_steps(uint64_t v) { return (v & PRESENT) && v / COUNT_ONE == 0; }
static int t_20(uint64_t v) { return v / COUNT_ONE == 20; }
static int t_20_100(uint64_t v) { return v / COUNT_ONE == 20 || v / COUNT_ONE == 100; }

static int conclude(audit *a)
{
    return collect(a, F_MISSING_MESSAGE, &a->messages, t_missing) ||
           collect(a, F_MISSING_RUN, &a->runs, t_missing) ||
           collect(a, F_MISSING_THREAD, &a->threads, t_missing) ||
           collect(a, F_RUN_WITHOUT_STEPS, &a->runs, t_no_steps) ||
           collect(a, F_STEPS_PAGE_FULL, &a->runs, t_20) ||
           collect(a, F_MESSAGES_PAGE_FULL, &a->threads, t_20_100);
}

/* What the archive cannot tell (docs/AUDIT.md "not known"). */
static const struct {
    const char *code, *reason;
} g_unknown[] = {
    {"duplicates_merged",
     "not recorded in the archive: convert and merge report the duplicates they drop "
     "(summary, --report) at conversion time only"},
    {"stream_errors",
     "not recorded in the archive: convert reports the event streams' error events "
     "(summary, --report) at conversion time only"},
};
#define NUNKNOWN (sizeof g_unknown / sizeof g_unknown[0])

static size_t nfound(const audit *a)
{
    size_t k = 0;
    for (int f = 0; f < NFINDINGS; f++)
        k += a->found[f].n > 0;
    return k;
}

static int pack_finding(msgpack_packer *pk, const audit *a, int f, uint64_t max_ids)
{
    const cli_idmap *m = &a->found[f];
    size_t nids = max_ids && m->n > max_ids ? (size_t)max_ids : m->n;
    int bad = msgpack_pack_map(pk, 6) || cli_pack_str(pk, "code", 4) ||
              cli_pack_str(pk, g_codes[f].code, strlen(g_codes[f].code)) ||
              cli_pack_str(pk, "severity", 8) ||
              cli_pack_str(pk, g_codes[f].severity, strlen(g_codes[f].severity)) ||
              cli_pack_str(pk, "count", 5) || msgpack_pack_uint64(pk, m->n) ||
              cli_pack_str(pk, "ids", 3) || msgpack_pack_array(pk, nids);
    for (size_t i = 0; i < nids && !bad; i++)
        bad = cli_pack_str(pk, m->e[i].key, m->e[i].len);
    return bad || cli_pack_str(pk, "what", 4) ||
           cli_pack_str(pk, g_codes[f].what, strlen(g_codes[f].what)) ||
           cli_pack_str(pk, "advice", 6) ||
           cli_pack_str(pk, g_codes[f].advice, strlen(g_codes[f].advice));
}

static int audit_json(const audit *a, const char *path, uint64_t max_ids)
{
    steparc_buf m = {0};
    msgpack_packer pk;
    cli_packer_init(&pk, &m);
    int bad = msgpack_pack_map(&pk, 4) || cli_pack_str(&pk, "archive", 7) ||
              cli_pack_str(&pk, path, strlen(path)) || cli_pack_str(&pk, "records", 7) ||
              msgpack_pack_uint64(&pk, a->records) || cli_pack_str(&pk, "findings", 8) ||
              msgpack_pack_array(&pk, nfound(a));
    for (int f = 0; f < NFINDINGS && !bad; f++)
        if (a->found[f].n)
            bad = pack_finding(&pk, a, f, max_ids);
    bad = bad || cli_pack_str(&pk, "not_known", 9) || msgpack_pack_array(&pk, NUNKNOWN);
    for (size_t u = 0; u < NUNKNOWN && !bad; u++)
        bad = msgpack_pack_map(&pk, 2) || cli_pack_str(&pk, "code", 4) ||
              cli_pack_str(&pk, g_unknown[u].code, strlen(g_unknown[u].code)) ||
              cli_pack_str(&pk, "reason", 6) ||
              cli_pack_str(&pk, g_unknown[u].reason, strlen(g_unknown[u].reason));
    return cli_print_report("audit", bad, &m);
}

static void audit_text(const audit *a, const char *path, uint64_t max_ids)
{
    size_t k = nfound(a);
    printf("audit of %s: %" PRIu64 " records, %zu finding%s\n", path, a->records, k,
           k == 1 ? "" : "s");
    for (int f = 0; f < NFINDINGS; f++) {
        const cli_idmap *m = &a->found[f];
        if (m->n == 0)
            continue;
        size_t nids = max_ids && m->n > max_ids ? (size_t)max_ids : m->n;
        printf("\n%s %s: %zu %s\n", g_codes[f].severity, g_codes[f].code, m->n,
               g_codes[f].what);
        for (size_t i = 0; i < nids; i++)
            printf("  %.*s\n", (int)m->e[i].len, m->e[i].key);
        if (nids < m->n)
            printf("  ... and %zu more (--ids 0 lists them all)\n", m->n - nids);
        printf("  advice: %s\n", g_codes[f].advice);
    }
    printf("\nnot known from this archive:\n");
    for (size_t u = 0; u < NUNKNOWN; u++)
        printf("  %s: %s\n", g_unknown[u].code, g_unknown[u].reason);
}

int cli_audit(const cli_command *cmd, int argc, char **argv)
{
    enum { OPT_STRICT = CLI_OPT_FIRST_COMMAND, OPT_IDS };
    static const struct option longopts[] = {
        CLI_HELP_OPTION, {"json", no_argument, NULL, CLI_OPT_JSON},
        {"strict", no_argument, NULL, OPT_STRICT}, {"ids", required_argument, NULL, OPT_IDS},
        {NULL, 0, NULL, 0}};
    int json = 0, strict = 0, c, status;
    uint64_t max_ids = 10;
    cli_args ar;
    cli_args_init(&ar, cmd, argc, argv);
    while ((c = cli_getopt(&ar, ":h", longopts)) != -1) {
        if (c == CLI_OPT_JSON)
            json = 1;
        else if (c == OPT_STRICT)
            strict = 1;
        else if (c == OPT_IDS && cli_parse_u64(optarg, &max_ids))
            cli_bad(&ar, "--ids needs a count (0: every id), not '%s'", optarg);
    }
    if (cli_args_done(&ar, &status))
        return status;
    if (argc - optind != 1)
        return cli_usage_error(cmd->name, "needs one ARCHIVE");
    const char *path = argv[optind];
    steparc_reader *r;
    if ((status = cli_open_archive(cmd->name, path, &r)) != 0)
        return status;
    audit a;
    memset(&a, 0, sizeof a);
    status = cli_walk_archive(r, cmd->name, record, &a);
    if (status == 0 && conclude(&a)) {
        cli_msg("audit: out of memory");
        status = EXIT_BAD;
    }
    if (status == 0 && json)
        status = audit_json(&a, path, max_ids);
    else if (status == 0)
        audit_text(&a, path, max_ids);
    if (cli_out_flush())
        status = EXIT_BAD;
    if (status == 0 && strict && nfound(&a))
        status = EXIT_BAD;
    cli_idm_free(&a.messages);
    cli_idm_free(&a.runs);
    cli_idm_free(&a.threads);
    for (int f = 0; f < NFINDINGS; f++)
        cli_idm_free(&a.found[f]);
    steparc_reader_close(r);
    return status;
}

const char cli_usage_audit[] =
    "usage: steparc audit ARCHIVE [--json] [--strict] [--ids N]\n"
    "\n"
    "Reports what the archive shows is missing or inconsistent: messages referenced\n"
    "by message_creation steps, runs and threads referenced but absent; runs without\n"
    "steps; likely truncated pages (a run with exactly 20 steps, a thread with exactly\n"
    "20 or 100 messages); file_search results without content; function calls without\n"
    "output on terminal steps; runs, steps and messages not in a terminal state;\n"
    "completed_at before created_at. Each finding: its count, its ids and what to do.\n"
    "Duplicates merged and stream error events are not recorded in archives (said so).\n"
    "Reads every record once; memory holds ids only. docs/AUDIT.md has the JSON.\n"
    "\n"
    "  --json      the report as one JSON object\n"
    "  --strict    exit 1 when there is any finding\n"
    "  --ids N     ids listed per finding (default 10; 0: all); the count is always whole\n";
