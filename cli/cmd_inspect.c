/* cmd_inspect.c - the commands about an archive as a whole: info (header,
 * sizes, sections, records per kind), stats (records per kind; steps' counts,
 * tokens, per assistant and day; runs' statuses and tokens), verify
 * (every checksum and index). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "cli.h"

static const struct option g_json_opts[] = {
    {"json", no_argument, NULL, CLI_OPT_JSON},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0}};

/* The arguments of info and stats: one archive and an optional --json; opens
 * it. 0 to go on, -1 when the help was printed (exit 0), or the exit status
 * to return. */
static int archive_and_json(const cli_command *cmd, int argc, char **argv, const char **path,
                            int *json, steparc_reader **r)
{
    cli_args a;
    int status;
    cli_args_init(&a, cmd, argc, argv);
    while (cli_getopt(&a, ":h", g_json_opts) != -1)
        *json = 1; /* the only option */
    if (cli_args_done(&a, &status))
        return status ? status : -1;
    if (optind >= argc)
        return cli_usage_error(cmd->name, "an archive is required");
    if (optind + 1 < argc)
        return cli_usage_error(cmd->name, "exactly one archive expected");
    *path = argv[optind];
    return cli_open_archive(cmd->name, *path, r) ? EXIT_BAD : 0;
}

/* ---- info ----------------------------------------------------------------------------- */

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%" PRId64, t);
}


/* Records per kind from the statistics (format 1.3): 1, or 0 when the
 * archive does not record them (older archives: unknown, not guessed) or its
 * statistics are damaged (said, and *status set). */
static int kind_counts(const char *path, steparc_reader *r, uint64_t counts[STEPARC_KINDS],
                       int *status)
{
    int rc = steparc_reader_kind_counts(counts, r);
    if (rc != 0 && rc != STEPARC_E_NOTFOUND) {
        cli_msg("info: %s: %s", path, steparc_reader_errmsg(r));
        *status = EXIT_BAD;
    }
    return rc == 0;
}

/* "kinds": short name -> records, every kind (other last), or null when unknown. */
static void info_json_kinds(cJSON *o, int known, const uint64_t counts[STEPARC_KINDS])
{
    if (!known) {
        cJSON_AddNullToObject(o, "kinds");
        return;
    }
    cJSON *k = cJSON_AddObjectToObject(o, "kinds");
    for (int i = 1; i <= STEPARC_KINDS; i++) {
        int kind = i % STEPARC_KINDS;
        cJSON_AddNumberToObject(k, steparc_kind_name(kind), (double)counts[kind]);
    }
}

static void info_text_kinds(int known, const uint64_t counts[STEPARC_KINDS])
{
    if (!known) {
        printf("kinds:        unknown (the statistics do not count records per kind)\n");
        return;
    }
    printf("kinds:       ");
    int any = 0;
    for (int i = 1; i <= STEPARC_KINDS; i++) {
        int kind = i % STEPARC_KINDS;
        if (counts[kind] == 0)
            continue;
        printf("%s %s %" PRIu64, any ? "," : "", steparc_kind_name(kind), counts[kind]);
        any = 1;
    }
    printf("%s\n", any ? "" : " none");
}

static void info_json(const steparc_info *in, int have_ts, double ratio, int known,
                      const uint64_t counts[STEPARC_KINDS])
{
    cJSON *o = cJSON_CreateObject();
    char v[32];
    snprintf(v, sizeof v, "%u.%u", in->format_major, in->format_minor);
    cJSON_AddStringToObject(o, "format", v);
    cJSON_AddNumberToObject(o, "records", (double)in->records);
    cJSON_AddNumberToObject(o, "blocks", (double)in->blocks);
    cJSON_AddNumberToObject(o, "columnar_blocks", (double)in->columnar_blocks);
    cJSON_AddNumberToObject(o, "file_bytes", (double)in->file_size);
    cJSON_AddNumberToObject(o, "record_bytes", (double)in->raw_bytes);
    cJSON_AddNumberToObject(o, "stored_bytes", (double)in->stored_bytes);
    cJSON_AddNumberToObject(o, "ratio", ratio);
    if (have_ts) {
        cJSON_AddNumberToObject(o, "min_created_at", (double)in->min_created_at);
        cJSON_AddNumberToObject(o, "max_created_at", (double)in->max_created_at);
    } else {
        cJSON_AddNullToObject(o, "min_created_at");
        cJSON_AddNullToObject(o, "max_created_at");
    }
    cJSON_AddBoolToObject(o, "time_ordered", in->time_ordered);
    cJSON *s = cJSON_AddArrayToObject(o, "sections");
    if (in->has_id_index) cJSON_AddItemToArray(s, cJSON_CreateString("id_index"));
    if (in->has_run_index) cJSON_AddItemToArray(s, cJSON_CreateString("run_postings"));
    if (in->has_thread_index) cJSON_AddItemToArray(s, cJSON_CreateString("thread_postings"));
    if (in->has_stats) cJSON_AddItemToArray(s, cJSON_CreateString("statistics"));
    if (in->has_block_kinds) cJSON_AddItemToArray(s, cJSON_CreateString("block_kinds"));
    info_json_kinds(o, known, counts);
    char *txt = cJSON_PrintUnformatted(o);
    if (txt) {
        cli_out_write(txt, strlen(txt));
        cli_out_write("\n", 1);
    }
    cJSON_free(txt);
    cJSON_Delete(o);
}

static void info_text(const char *path, const steparc_info *in, int have_ts, double ratio,
                      int known, const uint64_t counts[STEPARC_KINDS])
{
    char a[64] = "-", b[64] = "-";
    if (have_ts) {
        fmt_time(in->min_created_at, a, sizeof a);
        fmt_time(in->max_created_at, b, sizeof b);
    }
    printf("archive:      %s\n"
           "format:       %u.%u\n"
           "records:      %" PRIu64 "\n"
           "blocks:       %" PRIu64 " (%" PRIu64 " columnar, %" PRIu64 " rows)\n"
           "file size:    %" PRIu64 " bytes\n"
           "record bytes: %" PRIu64 " (MessagePack)\n"
           "block bytes:  %" PRIu64 " (compressed, ratio %.2f)\n"
           "created_at:   %s .. %s%s\n"
           "sections:     block index%s%s%s%s%s\n",
           path, in->format_major, in->format_minor, in->records, in->blocks, in->columnar_blocks,
           in->blocks - in->columnar_blocks, in->file_size, in->raw_bytes, in->stored_bytes, ratio,
           a, b, in->time_ordered ? " (blocks in time order)" : "",
           in->has_id_index ? ", id index" : "", in->has_run_index ? ", run postings" : "",
           in->has_thread_index ? ", thread postings" : "", in->has_stats ? ", statistics" : "",
           in->has_block_kinds ? ", block kinds" : "");
    info_text_kinds(known, counts);
}

int cli_info(const cli_command *cmd, int argc, char **argv)
{
    int json = 0;
    const char *path = NULL;
    steparc_reader *r;
    int st = archive_and_json(cmd, argc, argv, &path, &json, &r);
    if (st)
        return st < 0 ? 0 : st;
    steparc_info in;
    steparc_reader_info(&in, r);
    int have_ts = in.min_created_at <= in.max_created_at;
    double ratio = in.stored_bytes ? (double)in.raw_bytes / (double)in.stored_bytes : 0;
    uint64_t counts[STEPARC_KINDS];
    int status = 0;
    int known = kind_counts(path, r, counts, &status);
    if (json)
        info_json(&in, have_ts, ratio, known, counts);
    else
        info_text(path, &in, have_ts, ratio, known, counts);
    if (cli_out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}

/* ---- verify --------------------------------------------------------------------------- */

static void on_problem(void *ctx, const steparc_problem *p)
{
    const char *path = (const char *)ctx;
    if (strncmp(p->what, "block ", 6) == 0)
        fprintf(stderr, "%s: %s\n", path, p->what);
    else if (p->block >= 0)
        fprintf(stderr, "%s: block %" PRId64 " at offset %" PRIu64 ": %s\n", path, p->block,
                p->offset, p->what);
    else
        fprintf(stderr, "%s: offset %" PRIu64 ": %s\n", path, p->offset, p->what);
}

static const struct option g_verify_opts[] = {CLI_HELP_OPTION, {NULL, 0, NULL, 0}};

int cli_verify(const cli_command *cmd, int argc, char **argv)
{
    cli_args a;
    int status;
    cli_args_init(&a, cmd, argc, argv);
    while (cli_getopt(&a, ":h", g_verify_opts) != -1)
        ; /* only --help, which cli_getopt handles */
    if (cli_args_done(&a, &status))
        return status;
    if (optind + 1 != argc)
        return cli_usage_error("verify", "exactly one archive expected");
    const char *path = argv[optind];
    steparc_reader *r;
    if (cli_open_archive("verify", path, &r))
        return EXIT_BAD;
    uint64_t n = 0;
    int rc = steparc_verify(&n, r, on_problem, (void *)path);
    status = 0;
    if (rc == 0) {
        steparc_info in;
        steparc_reader_info(&in, r);
        printf("%s: ok, %" PRIu64 " records in %" PRIu64 " blocks, every checksum and index verified\n",
               path, in.records, in.blocks);
    } else if (rc == STEPARC_E_CORRUPT) {
        printf("%s: DAMAGED, %" PRIu64 " problem(s)\n", path, n);
        status = EXIT_BAD;
    } else {
        cli_msg("verify: %s", steparc_reader_errmsg(r));
        status = EXIT_BAD;
    }
    if (cli_out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}

/* ---- stats ---------------------------------------------------------------------------- */

typedef struct {
    char *key;     /* exact bytes (may hold NUL), NUL-terminated for printing */
    size_t len;
    uint64_t n;
} counter;

typedef struct {
    counter *v;
    size_t n, cap;
} counters;

static int count_add(counters *cs, const char *k, size_t len)
{
    for (size_t i = 0; i < cs->n; i++)
        if (cs->v[i].len == len && memcmp(cs->v[i].key, k, len) == 0) {
            cs->v[i].n++;
            return 0;
        }
    if (cs->n == cs->cap) {
        size_t nc = cs->cap ? 2 * cs->cap : 16;
        counter *nv = realloc(cs->v, nc * sizeof *nv);
        if (nv == NULL)
            return -1;
        cs->v = nv;
        cs->cap = nc;
    }
    char *key = malloc(len + 1);
    if (key == NULL)
        return -1;
    memcpy(key, k, len);
    key[len] = 0;
    cs->v[cs->n].key = key;
    cs->v[cs->n].len = len;
    cs->v[cs->n].n = 1;
    cs->n++;
    return 0;
}

static int cmp_key(const counter *x, const counter *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int cmp_counter(const void *a, const void *b)
{
    const counter *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return cmp_key(x, y);
}

static int cmp_counter_key(const void *a, const void *b)
{
    return cmp_key((const counter *)a, (const counter *)b);
}

static void count_free(counters *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        free(cs->v[i].key);
    free(cs->v);
}

static int count_str(counters *cs, const steparc_opt_str *s)
{
    if (s->state == STEPARC_SET)
        return count_add(cs, s->v.ptr, s->v.len);
    return count_add(cs, s->state == STEPARC_NULL ? "(null)" : s->state == STEPARC_ABSENT ? "(absent)" : "(other type)",
                     s->state == STEPARC_NULL ? 6 : s->state == STEPARC_ABSENT ? 8 : 12);
}

static int count_enum(counters *cs, const steparc_opt_enum *s)
{
    steparc_opt_str t = {s->state, s->v, s->other};
    return count_str(cs, &t);
}

/* The JSON report is built as MessagePack (msgpack-c) and written by the
 * library's canonical JSON writer: keys keep every byte and numbers every
 * digit (cJSON would cut keys at NUL and print integers through a double). */
static int counters_mp(msgpack_packer *pk, const char *name, counters *cs)
{
    int bad = cli_pack_str(pk, name, strlen(name)) || msgpack_pack_map(pk, cs->n);
    for (size_t i = 0; i < cs->n && !bad; i++)
        bad = cli_pack_str(pk, cs->v[i].key, cs->v[i].len) || msgpack_pack_int64(pk, (int64_t)cs->v[i].n);
    return bad;
}

static void counters_print(const char *title, counters *cs, size_t most)
{
    printf("%s:\n", title);
    for (size_t i = 0; i < cs->n && i < most; i++) {
        /* at most 60 bytes, control characters shown as '?' */
        char k[64];
        size_t n = 0;
        for (const char *p = cs->v[i].key; *p && n < 60; p++)
            k[n++] = (unsigned char)*p < 0x20 ? '?' : *p;
        if (cs->v[i].key[n] && n == 60)
            k[n - 3] = k[n - 2] = k[n - 1] = '.';
        k[n] = 0;
        printf("  %-40s %" PRIu64 "\n", k, cs->v[i].n);
    }
    if (cs->n > most)
        printf("  ... %zu more\n", cs->n - most);
}

/* An empty set has no array, and qsort's array must not be NULL. */
static void count_sort(counters *cs, int (*cmp)(const void *, const void *))
{
    if (cs->n)
        qsort(cs->v, cs->n, sizeof(counter), cmp);
}

/* What stats counts: records per kind, over the steps their type, status,
 * tools, tokens, assistants and days, over the runs their status and tokens. */
typedef struct {
    counters types, statuses, tools, assistants, days;
    int64_t tok[3];   /* prompt, completion, total */
    int overflow;     /* a token sum left int64 (only absurd values do that) */
    uint64_t with_usage, records;
    counters kinds, run_statuses;
    int64_t run_tok[3];
    int run_overflow;
    uint64_t runs, runs_with_usage;
} tally;

static void tally_free(tally *t)
{
    count_free(&t->types);
    count_free(&t->statuses);
    count_free(&t->tools);
    count_free(&t->assistants);
    count_free(&t->days);
    count_free(&t->kinds);
    count_free(&t->run_statuses);
}

/* Adds the three token counts that are set to sums; *overflow when one leaves int64. */
static void add_tokens(int64_t sums[3], const steparc_opt_int *const v[3], int *overflow)
{
    for (int k = 0; k < 3; k++)
        if (v[k]->state == STEPARC_SET && __builtin_add_overflow(sums[k], v[k]->v, &sums[k]))
            *overflow = 1;
}

/* Counts one run (its status and usage); nonzero when out of memory. */
static int tally_run(tally *t, const steparc_run *run)
{
    t->runs++;
    if (run->usage.state == STEPARC_SET) {
        const steparc_run_usage *u = &run->usage.v;
        const steparc_opt_int *const v[3] = {&u->prompt_tokens, &u->completion_tokens,
                                             &u->total_tokens};
        t->runs_with_usage++;
        add_tokens(t->run_tok, v, &t->run_overflow);
    }
    return count_enum(&t->run_statuses, &run->status);
}

/* Counts one decoded record; nonzero when out of memory. */
static int tally_step(tally *t, const steparc_step *st)
{
    int bad = count_enum(&t->types, &st->type) || count_enum(&t->statuses, &st->status) ||
              count_str(&t->assistants, &st->assistant_id);
    if (st->step_details.state == STEPARC_SET && st->step_details.v.tool_calls.state == STEPARC_SET)
        for (size_t k = 0; k < st->step_details.v.tool_calls.count; k++)
            bad |= count_enum(&t->tools, &st->step_details.v.tool_calls.items[k].type);
    if (st->usage.state == STEPARC_SET) {
        const steparc_usage *u = &st->usage.v;
        t->with_usage++;
        const steparc_opt_int *const t3[3] = {&u->prompt_tokens, &u->completion_tokens,
                                              &u->total_tokens};
        add_tokens(t->tok, t3, &t->overflow);
    }
    char day[40] = "(no created_at)";
    if (st->created_at.state == STEPARC_SET) {
        time_t tt = (time_t)st->created_at.v;
        struct tm tm;
        if ((int64_t)tt != st->created_at.v || gmtime_r(&tt, &tm) == NULL ||
            strftime(day, sizeof day, "%Y-%m-%d", &tm) == 0)
            snprintf(day, sizeof day, "(out of range)");
    }
    bad |= count_add(&t->days, day, strlen(day));
    return bad;
}

/* Counts one record by its kind: 0, -1 (it cannot be decoded), 1 (out of memory). */
static int tally_record(tally *t, const void *mp, size_t len)
{
    int kind, bad;
    if (steparc_record_kind(&kind, mp, len) != 0)
        return -1;
    t->records++;
    if (count_add(&t->kinds, steparc_kind_name(kind), strlen(steparc_kind_name(kind))))
        return 1;
    if (kind == STEPARC_KIND_STEP) {
        steparc_step *st = NULL;
        if (steparc_step_decode(&st, mp, len) != 0)
            return -1;
        bad = tally_step(t, st);
        steparc_step_free(st);
    } else if (kind == STEPARC_KIND_RUN) {
        steparc_run *run = NULL;
        if (steparc_run_decode(&run, mp, len) != 0)
            return -1;
        bad = tally_run(t, run);
        steparc_run_free(run);
    } else {
        bad = 0;
    }
    return bad ? 1 : 0;
}

/* Reads and counts every record, then sorts the counters; 0 or EXIT_BAD. */
static int tally_archive(steparc_reader *r, tally *t)
{
    int status = 0;
    steparc_cursor *c = NULL;
    int rc = steparc_cursor_open(&c, r, NULL);
    while (rc == 0) {
        uint64_t ord;
        const void *mp;
        size_t len;
        rc = steparc_cursor_next(&ord, &mp, &len, c);
        if (rc)
            break;
        int bad = tally_record(t, mp, len);
        if (bad < 0) {
            cli_msg("stats: record %" PRIu64 " cannot be decoded", ord);
            status = EXIT_BAD;
            break;
        }
        if (bad) {
            cli_msg("stats: out of memory");
            status = EXIT_BAD;
            break;
        }
    }
    if (rc != STEPARC_END && status == 0) {
        cli_msg("stats: %s", c ? steparc_cursor_errmsg(c) : steparc_reader_errmsg(r));
        status = EXIT_BAD;
    }
    steparc_cursor_close(c);
    if (status == 0) {
        count_sort(&t->types, cmp_counter);
        count_sort(&t->statuses, cmp_counter);
        count_sort(&t->tools, cmp_counter);
        count_sort(&t->assistants, cmp_counter);
        count_sort(&t->days, cmp_counter_key);
        count_sort(&t->kinds, cmp_counter);
        count_sort(&t->run_statuses, cmp_counter);
    }
    return status;
}

/* "runs": {"records", "by_status", "tokens": {...}} */
/* "tokens": {COUNT_KEY: n, prompt, completion, total[, overflow]}: the same
 * shape for steps and runs. */
static int tokens_mp(msgpack_packer *pk, const char *count_key, uint64_t n, const int64_t tok[3],
                     int overflow)
{
    return cli_pack_str(pk, "tokens", 6) || msgpack_pack_map(pk, overflow ? 5 : 4) ||
           cli_pack_str(pk, count_key, strlen(count_key)) || msgpack_pack_int64(pk, (int64_t)n) ||
           cli_pack_str(pk, "prompt_tokens", 13) || msgpack_pack_int64(pk, tok[0]) ||
           cli_pack_str(pk, "completion_tokens", 17) || msgpack_pack_int64(pk, tok[1]) ||
           cli_pack_str(pk, "total_tokens", 12) || msgpack_pack_int64(pk, tok[2]) ||
           (overflow && (cli_pack_str(pk, "overflow", 8) || msgpack_pack_true(pk)));
}

static int runs_mp(msgpack_packer *pk, tally *t)
{
    return cli_pack_str(pk, "runs", 4) || msgpack_pack_map(pk, 3) || cli_pack_str(pk, "records", 7) ||
           msgpack_pack_int64(pk, (int64_t)t->runs) ||
           counters_mp(pk, "by_status", &t->run_statuses) ||
           tokens_mp(pk, "runs_with_usage", t->runs_with_usage, t->run_tok, t->run_overflow);
}

static int stats_json(tally *t)
{
    steparc_buf m = {0};
    msgpack_packer pk;
    cli_packer_init(&pk, &m);
    int bad = msgpack_pack_map(&pk, 9) || cli_pack_str(&pk, "records", 7) ||
              msgpack_pack_int64(&pk, (int64_t)t->records) || counters_mp(&pk, "by_kind", &t->kinds) ||
              counters_mp(&pk, "by_type", &t->types) ||
              counters_mp(&pk, "by_status", &t->statuses) || counters_mp(&pk, "by_tool", &t->tools) ||
              tokens_mp(&pk, "steps_with_usage", t->with_usage, t->tok, t->overflow) ||
              counters_mp(&pk, "by_assistant", &t->assistants) || counters_mp(&pk, "by_day", &t->days) ||
              runs_mp(&pk, t);
    return cli_print_report("stats", bad, &m);
}

static void stats_text(tally *t)
{
    printf("records: %" PRIu64 "\n", t->records);
    counters_print("records by kind", &t->kinds, 20);
    counters_print("by type", &t->types, 20);
    counters_print("by status", &t->statuses, 20);
    counters_print("tool calls by type", &t->tools, 20);
    printf("tokens (%" PRIu64 " steps with usage):\n  prompt %" PRId64 ", completion %" PRId64
           ", total %" PRId64 "%s\n", t->with_usage, t->tok[0], t->tok[1], t->tok[2],
           t->overflow ? " (a sum overflowed 64 bits: some values are absurd)" : "");
    counters_print("steps by assistant", &t->assistants, 20);
    counters_print("steps by day (UTC)", &t->days, 400);
    if (t->runs) {
        printf("runs: %" PRIu64 "\n", t->runs);
        counters_print("runs by status", &t->run_statuses, 20);
        printf("run tokens (%" PRIu64 " runs with usage):\n  prompt %" PRId64 ", completion %" PRId64
               ", total %" PRId64 "%s\n", t->runs_with_usage, t->run_tok[0], t->run_tok[1],
               t->run_tok[2], t->run_overflow ? " (a sum overflowed 64 bits: some values are absurd)" : "");
    }
}

int cli_stats(const cli_command *cmd, int argc, char **argv)
{
    int json = 0;
    const char *path = NULL;
    steparc_reader *r;
    int status = archive_and_json(cmd, argc, argv, &path, &json, &r);
    if (status)
        return status < 0 ? 0 : status;
    tally t;
    memset(&t, 0, sizeof t);
    status = tally_archive(r, &t);
    if (status == 0 && json)
        status = stats_json(&t);
    else if (status == 0)
        stats_text(&t);
    tally_free(&t);
    if (cli_out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}
