/* convert.c - the converter's public API: find the records in JSON dumps of
 * every real shape and feed them to a writer, streaming.
 *
 * This file holds the handle, options, statistics and errors, and per input
 * the shape detection; the shapes themselves are json_doc.c (documents,
 * arrays, list pages), jsonl.c (one value per line, parsed in parallel) and
 * stream.c (event streams); source.c reads the inputs (see
 * convert_internal.h). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>

#include "convert_internal.h"

void steparc_convert_options_init(steparc_convert_options *opt)
{
    if (opt)
        memset(opt, 0, sizeof *opt);
}

int steparc_converter_open(steparc_converter **out, steparc_writer *w,
                           const steparc_convert_options *opt)
{
    if (out == NULL || w == NULL)
        return STEPARC_E_ARG;
    steparc_converter *c = (steparc_converter *)sa_calloc(1, sizeof *c);
    *out = NULL;
    if (c == NULL)
        return STEPARC_E_NOMEM;
    c->w = w;
    if (opt)
        c->opt = *opt;
    c->fd = -1;
    *out = c;
    return 0;
}

void steparc_converter_close(steparc_converter *c)
{
    if (c == NULL)
        return;
    sa_pool_close(c->pool);
    sa_conv_drop_pending(c);
    sa_free(c->pend);
    sa_free(c->dirs);
    steparc_buf_free(&c->mp);
    ZSTD_freeDStream(c->zs);
    sa_free(c->zin);
    sa_free(c->buf);
    sa_free(c);
}

const steparc_convert_stats *steparc_converter_stats(const steparc_converter *c)
{
    return c ? &c->st : NULL;
}

const char *steparc_converter_errmsg(const steparc_converter *c)
{
    return c ? c->err : "no converter";
}

int sa_conv_fail(steparc_converter *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->failed = 1;
    return status;
}


static int looks_like_jsonl(steparc_converter *c)
{
    if (c->buf[c->start] != '{')
        return 0;
    size_t used;
    steparc_json_error e;
    int inc = 0;
    c->mp.len = 0;
    for (;;) {
        int rc = sa_json_parse((const char *)c->buf + c->start, c->end - c->start, 0, &c->mp, &used,
                               &inc, &e);
        if (rc == 0)
            break;
        if (inc && !c->eof) {
            size_t have = c->end - c->start;
            if (sa_conv_fill(c, have + (have > SA_READ_CHUNK ? have : SA_READ_CHUNK)) != 0)
                return 0;
            continue;
        }
        return 0; /* let the general path report the error */
    }
    const unsigned char *p = c->buf + c->start;
    if (memchr(p, '\n', used) != NULL)
        return 0;
    for (size_t i = used; i < c->end - c->start; i++) {
        if (p[i] == '\n')
            return 1;
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    }
    return 1; /* the whole input is one line */
}

/* The shape of the current input (AUTO: from its first bytes, whitespace
 * skipped): 0 and *f set, 1 skipped whole (not JSON, skip_invalid), or an
 * error. */
static int detect_format(steparc_converter *c, steparc_input_format *f)
{
    *f = c->opt.format;
    if (*f == STEPARC_IN_AUTO) {
        unsigned char ch = c->buf[c->start];
        if (ch != '{' && ch != '[') {
            *f = STEPARC_IN_SSE;
            int rc = sa_conv_fill(c, 6);
            if (rc)
                return rc;
            const char *p = (const char *)c->buf + c->start;
            size_t n = c->end - c->start;
            /* ':' starts an event-stream comment; '#' lines are annotations
             * people add to saved captures */
            if (!((n >= 6 && memcmp(p, "event:", 6) == 0) || (n >= 5 && memcmp(p, "data:", 5) == 0) ||
                  p[0] == ':' || p[0] == '#'))
                return sa_conv_not_json(c); /* containers.c: skipped under skip_invalid */
        }
    }
    if (*f == STEPARC_IN_AUTO || *f == STEPARC_IN_JSON)
        *f = (*f == STEPARC_IN_AUTO && looks_like_jsonl(c)) ? STEPARC_IN_JSONL : STEPARC_IN_JSON;
    return 0;
}

int sa_conv_run_input(steparc_converter *c)
{
    c->start = c->end = 0;
    c->eof = 0;
    c->line = 1;
    c->line_off = 0;
    c->abs_start = 0;
    c->next_progress = 0;
    c->st.inputs++;
    int rc = sa_conv_skip_ws(c);
    if (rc)
        return rc;
    if (c->start == c->end)
        return sa_conv_fail(c, STEPARC_E_INPUT, "%s: input is empty", c->name);
    steparc_input_format f;
    rc = detect_format(c, &f);
    if (rc)
        return rc < 0 ? rc : 0; /* 1: the input was skipped whole */
    rc = f == STEPARC_IN_SSE     ? sa_conv_run_sse(c)
         : f == STEPARC_IN_JSONL ? sa_conv_run_jsonl(c)
                                 : sa_conv_run_json(c);
    if (rc == 0 && f == STEPARC_IN_SSE && !c->opt.no_rebuild)
        rc = sa_conv_rebuild_pending(c);
    sa_conv_drop_pending(c);
    if (rc == 0 && c->opt.progress)
        c->opt.progress(c->opt.progress_ctx, &c->st, c->src_total);
    return rc;
}

int steparc_converter_add_memory(steparc_converter *c, const char *name, const void *data,
                                 size_t len)
{
    if (c == NULL || (data == NULL && len))
        return STEPARC_E_ARG;
    if (c->failed)
        return STEPARC_E_MISUSE;
    c->name = name ? name : "(memory)";
    c->mem = (const unsigned char *)data;
    c->mem_len = len;
    c->mem_pos = 0;
    c->src_total = len;
    int rc = sa_conv_run_input(c);
    c->mem = NULL;
    return rc;
}

int steparc_converter_add_path(steparc_converter *c, const char *path)
{
    if (c == NULL || path == NULL)
        return STEPARC_E_ARG;
    if (c->failed)
        return STEPARC_E_MISUSE;
    if (strcmp(path, "-") == 0)
        return sa_conv_add_file(c, "(stdin)", 0);
    struct stat st;
    if (stat(path, &st) != 0)
        return sa_conv_fail(c, STEPARC_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        uint64_t found = 0;
        int rc = sa_conv_add_dir(c, path, 0, &found);
        if (rc == 0 && found == 0)
            return sa_conv_fail(c, STEPARC_E_INPUT,
                                "%s: no .json, .jsonl, .ndjson, .sse or .txt files (or .zst of them) found",
                                path);
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sa_conv_fail(c, STEPARC_E_IO, "cannot open %s: %s", path, strerror(errno));
    int rc = sa_conv_add_file(c, path, fd);
    close(fd);
    return rc;
}
