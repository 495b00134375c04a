/* output.c - messages, number parsing, buffered stdout, and records as JSON:
 * the record printer and the emitter of cat and find (JSONL, one JSON array,
 * or pages as the API's list endpoint returns them). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char *const g_prog = "steparc";

/* ---- messages ------------------------------------------------------------------------- */

void cli_msg(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", g_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_text(const char *cmd, const char *text)
{
    fprintf(stderr, "%s %s: %s\nTry '%s %s --help'.\n", g_prog, cmd, text, g_prog, cmd);
    return EXIT_USAGE;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return cli_usage_text(cmd, text);
}

/* ---- numbers, time, files ------------------------------------------------------------- */

int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == 0 || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_i64(const char *s, int64_t *out)
{
    char *end;
    if (s == NULL || *s == 0)
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int cli_default_threads(void)
{
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    return nproc > 0 ? (int)nproc : 1;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cli_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int cli_open_archive(const char *cmd, const char *path, steparc_reader **r)
{
    char err[512];
    int rc = steparc_reader_open(r, path, NULL, err, sizeof err);
    if (rc != 0) {
        cli_msg("%s: %s", cmd, err);
        return EXIT_BAD;
    }
    steparc_info in;
    if (steparc_reader_info(&in, *r) == 0 && in.ignored_tail_bytes)
        cli_msg("%s: warning: %s: %" PRIu64 " bytes after the last valid footer are ignored (an "
                "interrupted append?); 'steparc verify' reports them, 'steparc recover' rewrites "
                "the archive",
                cmd, path, in.ignored_tail_bytes);
    return 0;
}

/* ---- stdout and buffers --------------------------------------------------------------- */

void cli_stdout_init(void)
{
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
}

int cli_out_write(const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, stdout) != n)
        return -1;
    return 0;
}

int cli_out_flush(void)
{
    if (fflush(stdout) != 0) {
        if (errno != EPIPE)
            cli_msg("cannot write to standard output: %s", strerror(errno));
        return EXIT_BAD;
    }
    return 0;
}

int cli_buf_add(steparc_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return 1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int cli_buf_copy(steparc_buf *dst, const steparc_buf *src)
{
    dst->len = 0;
    return cli_buf_add(dst, src->data, src->len);
}

static int buf_sink(void *data, const char *p, size_t n)
{
    return cli_buf_add((steparc_buf *)data, p, n) ? -1 : 0;
}

void cli_packer_init(msgpack_packer *pk, steparc_buf *b)
{
    msgpack_packer_init(pk, b, buf_sink);
}

int cli_pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

/* ---- records as JSON ------------------------------------------------------------------ */

int cli_print_record(cli_printer *p, const void *mp, size_t len, uint64_t ordinal)
{
    unsigned flags = p->pretty ? STEPARC_JSON_PRETTY : 0;
    /* --via-struct: each kind through its own typed view */
    int rc = p->via_struct ? steparc_view_to_json(&p->js, mp, len, flags)
                           : steparc_msgpack_to_json(&p->js, mp, len, flags);
    if (rc != 0) {
        cli_msg("record %" PRIu64 ": cannot be written as JSON: %s", ordinal, steparc_strerror(rc));
        return EXIT_BAD;
    }
    if (cli_out_write(p->js.data, p->js.len) || cli_out_write("\n", 1))
        return EXIT_BAD;
    return 0;
}

/* ---- the emitter ---------------------------------------------------------------------- */

void cli_emitter_init(cli_emitter *e)
{
    memset(e, 0, sizeof *e);
    e->limit = 20; /* as the API */
}

int cli_output_opt(cli_args *a, int c, const char *arg, cli_emitter *e)
{
    switch (c) {
    case CLI_OPT_PRETTY: e->p.pretty = 1; break;
    case CLI_OPT_VIA_STRUCT: e->p.via_struct = 1; break;
    case CLI_OPT_FORMAT:
        if (strcmp(arg, "jsonl") == 0) e->format = CLI_FMT_JSONL;
        else if (strcmp(arg, "json") == 0) e->format = CLI_FMT_JSON;
        else if (strcmp(arg, "list") == 0) e->format = CLI_FMT_LIST;
        else cli_bad(a, "--format takes jsonl, json or list");
        break;
    case CLI_OPT_LIMIT:
        if (cli_parse_u64(arg, &e->limit) != 0 || e->limit == 0)
            cli_bad(a, "--limit takes a number from 1");
        break;
    case CLI_OPT_ORDER:
        if (strcmp(arg, "asc") == 0) e->desc = 0;
        else if (strcmp(arg, "desc") == 0) e->desc = 1;
        else cli_bad(a, "--order takes asc or desc");
        break;
    default: return 0;
    }
    return 1;
}

/* The id of a record as MessagePack (its "id" string, or nil). */
static int id_of(const void *mp, size_t len, steparc_buf *out)
{
    steparc_step *st = NULL;
    msgpack_packer pk;
    out->len = 0;
    cli_packer_init(&pk, out);
    int rc = steparc_step_decode(&st, mp, len);
    if (rc == 0 && st->id.state == STEPARC_SET)
        rc = cli_pack_str(&pk, st->id.v.ptr, st->id.v.len) ? STEPARC_E_NOMEM : 0;
    else if (rc == 0)
        rc = msgpack_pack_nil(&pk) ? STEPARC_E_NOMEM : 0;
    steparc_step_free(st);
    return rc;
}

static int flush_page(cli_emitter *e, int has_more)
{
    /* {"object":"list","data":[...],"first_id":..,"last_id":..,"has_more":..};
     * the records and ids are MessagePack already */
    steparc_buf *m = &e->mp;
    msgpack_packer pk;
    m->len = 0;
    cli_packer_init(&pk, m);
    if (msgpack_pack_map(&pk, 5) || cli_pack_str(&pk, "object", 6) || cli_pack_str(&pk, "list", 4) ||
        cli_pack_str(&pk, "data", 4) || msgpack_pack_array(&pk, (size_t)e->in_page) ||
        cli_buf_add(m, e->page.data, e->page.len) || cli_pack_str(&pk, "first_id", 8) ||
        (e->in_page ? cli_buf_add(m, e->first_id.data, e->first_id.len) : msgpack_pack_nil(&pk)) ||
        cli_pack_str(&pk, "last_id", 7) ||
        (e->in_page ? cli_buf_add(m, e->last_id.data, e->last_id.len) : msgpack_pack_nil(&pk)) ||
        cli_pack_str(&pk, "has_more", 8) || (has_more ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk))) {
        cli_msg("out of memory");
        return EXIT_BAD;
    }
    int rc = steparc_msgpack_to_json(&e->js, m->data, m->len, e->p.pretty ? STEPARC_JSON_PRETTY : 0);
    if (rc) {
        cli_msg("a list page cannot be written as JSON: %s", steparc_strerror(rc));
        return EXIT_BAD;
    }
    e->page.len = 0;
    e->in_page = 0;
    if (cli_out_write(e->js.data, e->js.len) || cli_out_write("\n", 1))
        return EXIT_BAD;
    return 0;
}

/* One element of the JSON array; pretty: one more level of indentation
 * (strings hold no raw newline). */
static int emit_array_item(cli_emitter *e, const void *mp, size_t len, uint64_t ord)
{
    int rc = steparc_msgpack_to_json(&e->p.js, mp, len, e->p.pretty ? STEPARC_JSON_PRETTY : 0);
    if (rc) {
        cli_msg("record %" PRIu64 ": cannot be written as JSON: %s", ord, steparc_strerror(rc));
        return EXIT_BAD;
    }
    int status = 0;
    const char *sep = e->p.pretty ? (e->count ? ",\n  " : "[\n  ") : (e->count ? "," : "[");
    if (cli_out_write(sep, strlen(sep)))
        status = EXIT_BAD;
    const char *s = e->p.js.data, *end = s + e->p.js.len;
    while (status == 0 && s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
        if (cli_out_write(s, n) || (nl && cli_out_write("  ", 2)))
            status = EXIT_BAD;
        s += n;
    }
    e->count++;
    return status;
}

/* One record into the current list page, which is written when full. */
static int emit_page_item(cli_emitter *e, const void *mp, size_t len, uint64_t ord)
{
    if (e->in_page == e->limit && flush_page(e, 1) != 0)
        return EXIT_BAD;
    if (id_of(mp, len, &e->last_id) != 0) {
        cli_msg("record %" PRIu64 ": not a valid record", ord);
        return EXIT_BAD;
    }
    int status = 0;
    if (e->in_page == 0 && cli_buf_copy(&e->first_id, &e->last_id))
        status = EXIT_BAD;
    if (cli_buf_add(&e->page, mp, len))
        status = EXIT_BAD;
    e->in_page++;
    e->count++;
    return status;
}

int cli_emit_record(cli_emitter *e, const void *mp, size_t len, uint64_t ord)
{
    if (e->format == CLI_FMT_JSONL) {
        e->count++;
        return cli_print_record(&e->p, mp, len, ord);
    }
    steparc_buf via = {0};
    if (e->p.via_struct) {
        /* through the typed view of its kind: decode, encode again */
        int rc = steparc_view_encode(&via, mp, len);
        if (rc) {
            cli_msg("record %" PRIu64 ": %s", ord, steparc_strerror(rc));
            steparc_buf_free(&via);
            return EXIT_BAD;
        }
        mp = via.data;
        len = via.len;
    }
    int status = e->format == CLI_FMT_JSON ? emit_array_item(e, mp, len, ord)
                                           : emit_page_item(e, mp, len, ord);
    steparc_buf_free(&via);
    return status;
}

int cli_emit_end(cli_emitter *e)
{
    int status = 0;
    if (e->format == CLI_FMT_JSON)
        status = cli_out_write(e->count ? (e->p.pretty ? "\n]\n" : "]\n") : "[]\n",
                               e->count ? (e->p.pretty ? 3 : 2) : 3) ? EXIT_BAD : 0;
    else if (e->format == CLI_FMT_LIST && (e->in_page || e->count == 0))
        status = flush_page(e, 0);
    steparc_buf_free(&e->page);
    steparc_buf_free(&e->first_id);
    steparc_buf_free(&e->last_id);
    steparc_buf_free(&e->mp);
    steparc_buf_free(&e->js);
    steparc_buf_free(&e->p.js);
    return status;
}

/* ---- a report built as MessagePack, printed as one line of JSON ---------------------- */

int cli_print_report(const char *cmd, int bad, steparc_buf *m)
{
    steparc_buf js = {0};
    int status = 0;
    if (bad || steparc_msgpack_to_json(&js, m->data, m->len, 0) != 0) {
        cli_msg("%s: cannot write the report", cmd);
        status = EXIT_BAD;
    } else if (cli_out_write(js.data, js.len) || cli_out_write("\n", 1)) {
        status = EXIT_BAD;
    }
    steparc_buf_free(m);
    steparc_buf_free(&js);
    return status;
}
