/* cmd_inspect.c - the commands about an archive as a whole: info (header,
 * sizes, sections), stats (counts, tokens, per assistant and day), verify
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


static void info_json(const steparc_info *in, int have_ts, double ratio)
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
    char *txt = cJSON_PrintUnformatted(o);
    if (txt) {
        cli_out_write(txt, strlen(txt));
        cli_out_write("\n", 1);
    }
    cJSON_free(txt);
    cJSON_Delete(o);
}

static void info_text(const char *path, const steparc_info *in, int have_ts, double ratio)
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
           "sections:     block index%s%s%s%s\n",
           path, in->format_major, in->format_minor, in->records, in->blocks, in->columnar_blocks,
           in->blocks - in->columnar_blocks, in->file_size, in->raw_bytes, in->stored_bytes, ratio,
           a, b, in->time_ordered ? " (blocks in time order)" : "",
           in->has_id_index ? ", id index" : "", in->has_run_index ? ", run postings" : "",
           in->has_thread_index ? ", thread postings" : "", in->has_stats ? ", statistics" : "");
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
    if (json)
        info_json(&in, have_ts, ratio);
    else
        info_text(path, &in, have_ts, ratio);
    int status = cli_out_flush();
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

/* What stats counts over every record. */
typedef struct {
    counters types, statuses, tools, assistants, days;
    int64_t tok[3];   /* prompt, completion, total */
    int overflow;     /* a token sum left int64 (only absurd values do that) */
    uint64_t with_usage, records;
} tally;

static void tally_free(tally *t)
{
    count_free(&t->types);
    count_free(&t->statuses);
    count_free(&t->tools);
    count_free(&t->assistants);
    count_free(&t->days);
}

/* Counts one decoded record; nonzero when out of memory. */
static int tally_step(tally *t, const steparc_step *st)
{
    t->records++;
    int bad = count_enum(&t->types, &st->type) || count_enum(&t->statuses, &st->status) ||
              count_str(&t->assistants, &st->assistant_id);
    if (st->step_details.state == STEPARC_SET && st->step_details.v.tool_calls.state == STEPARC_SET)
        for (size_t k = 0; k < st->step_details.v.tool_calls.count; k++)
            bad |= count_enum(&t->tools, &st->step_details.v.tool_calls.items[k].type);
    if (st->usage.state == STEPARC_SET) {
        const steparc_usage *u = &st->usage.v;
        t->with_usage++;
        const steparc_opt_int *t3[3] = {&u->prompt_tokens, &u->completion_tokens, &u->total_tokens};
        for (int k = 0; k < 3; k++)
            if (t3[k]->state == STEPARC_SET && __builtin_add_overflow(t->tok[k], t3[k]->v, &t->tok[k]))
                t->overflow = 1;
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
        steparc_step *st = NULL;
        if (steparc_step_decode(&st, mp, len) != 0) {
            cli_msg("stats: record %" PRIu64 " cannot be decoded", ord);
            status = EXIT_BAD;
            break;
        }
        int bad = tally_step(t, st);
        steparc_step_free(st);
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
    }
    return status;
}

static int stats_json(tally *t)
{
    steparc_buf m = {0}, js = {0};
    int status = 0;
    msgpack_packer pk;
    cli_packer_init(&pk, &m);
    int bad = msgpack_pack_map(&pk, 7) || cli_pack_str(&pk, "records", 7) ||
              msgpack_pack_int64(&pk, (int64_t)t->records) || counters_mp(&pk, "by_type", &t->types) ||
              counters_mp(&pk, "by_status", &t->statuses) || counters_mp(&pk, "by_tool", &t->tools) ||
              cli_pack_str(&pk, "tokens", 6) || msgpack_pack_map(&pk, t->overflow ? 5 : 4) ||
              cli_pack_str(&pk, "steps_with_usage", 16) || msgpack_pack_int64(&pk, (int64_t)t->with_usage) ||
              cli_pack_str(&pk, "prompt_tokens", 13) || msgpack_pack_int64(&pk, t->tok[0]) ||
              cli_pack_str(&pk, "completion_tokens", 17) || msgpack_pack_int64(&pk, t->tok[1]) ||
              cli_pack_str(&pk, "total_tokens", 12) || msgpack_pack_int64(&pk, t->tok[2]) ||
              (t->overflow && (cli_pack_str(&pk, "overflow", 8) || msgpack_pack_true(&pk))) ||
              counters_mp(&pk, "by_assistant", &t->assistants) || counters_mp(&pk, "by_day", &t->days);
    if (bad || steparc_msgpack_to_json(&js, m.data, m.len, 0) != 0) {
        cli_msg("stats: cannot write the report");
        status = EXIT_BAD;
    } else if (cli_out_write(js.data, js.len) || cli_out_write("\n", 1)) {
        status = EXIT_BAD;
    }
    steparc_buf_free(&m);
    steparc_buf_free(&js);
    return status;
}

static void stats_text(tally *t)
{
    printf("records: %" PRIu64 "\n", t->records);
    counters_print("by type", &t->types, 20);
    counters_print("by status", &t->statuses, 20);
    counters_print("tool calls by type", &t->tools, 20);
    printf("tokens (%" PRIu64 " steps with usage):\n  prompt %" PRId64 ", completion %" PRId64
           ", total %" PRId64 "%s\n", t->with_usage, t->tok[0], t->tok[1], t->tok[2],
           t->overflow ? " (a sum overflowed 64 bits: some values are absurd)" : "");
    counters_print("steps by assistant", &t->assistants, 20);
    counters_print("steps by day (UTC)", &t->days, 400);
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
