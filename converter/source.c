/* source.c - the converter's inputs and its read window.
 *
 * Inputs are files, directories (recursively), standard input or memory;
 * .zst files are decompressed as they are read. Input is read through a
 * window that only ever holds the record being parsed (plus read-ahead), so
 * memory is bounded by the largest record, not by the input: a 10 GB single
 * JSON array converts in the same memory as a small one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert_internal.h"

static int is_zst(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".zst") == 0;
}

/* Reads up to cap bytes of (decompressed) input. -1 on error (c->err set). */
static ssize_t src_read(steparc_converter *c, unsigned char *dst, size_t cap)
{
    if (c->mem) {
        size_t n = c->mem_len - c->mem_pos;
        if (n > cap)
            n = cap;
        memcpy(dst, c->mem + c->mem_pos, n);
        c->mem_pos += n;
        c->src_bytes += n;
        return (ssize_t)n;
    }
    if (c->zs == NULL || c->zin == NULL) {
        for (;;) {
            ssize_t n = read(c->fd, dst, cap);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                sa_conv_fail(c, STEPARC_E_IO, "%s: read error: %s", c->name, strerror(errno));
                return -1;
            }
            c->src_bytes += (uint64_t)n;
            return n;
        }
    }
    ZSTD_outBuffer ob = {dst, cap, 0};
    while (ob.pos == 0) {
        if (c->zin_pos == c->zin_len) {
            if (c->zin_eof)
                return 0;
            ssize_t n;
            do
                n = read(c->fd, c->zin, ZSTD_DStreamInSize());
            while (n < 0 && errno == EINTR);
            if (n < 0) {
                sa_conv_fail(c, STEPARC_E_IO, "%s: read error: %s", c->name, strerror(errno));
                return -1;
            }
            if (n == 0) {
                c->zin_eof = 1;
                continue;
            }
            c->src_bytes += (uint64_t)n;
            c->zin_len = (size_t)n;
            c->zin_pos = 0;
        }
        ZSTD_inBuffer ib = {c->zin, c->zin_len, c->zin_pos};
        size_t r = ZSTD_decompressStream(c->zs, &ob, &ib);
        c->zin_pos = ib.pos;
        if (ZSTD_isError(r)) {
            sa_conv_fail(c, STEPARC_E_INPUT, "%s: not valid zstd data: %s", c->name, ZSTD_getErrorName(r));
            return -1;
        }
        if (c->zin_eof && ob.pos == 0 && c->zin_pos == c->zin_len) {
            if (r != 0) {
                sa_conv_fail(c, STEPARC_E_INPUT, "%s: zstd data is truncated", c->name);
                return -1;
            }
            return 0;
        }
    }
    return (ssize_t)ob.pos;
}

/* Makes at least `need` bytes available at buf[start..], or all that is left.
 * 0 ok, <0 error. */
int sa_conv_fill(steparc_converter *c, size_t need)
{
    while (c->end - c->start < need && !c->eof) {
        if (c->start > 0 && (c->start > c->cap / 2 || c->cap - c->end < SA_READ_CHUNK)) {
            memmove(c->buf, c->buf + c->start, c->end - c->start);
            c->end -= c->start;
            c->start = 0;
        }
        if (c->cap - c->end < SA_READ_CHUNK / 4) {
            size_t nc = c->cap ? c->cap * 2 : 2 * SA_READ_CHUNK;
            if (nc > SA_WINDOW_MAX)
                nc = SA_WINDOW_MAX;
            if (nc <= c->cap)
                return sa_conv_fail(c, STEPARC_E_LIMIT,
                                    "%s:%llu: a record is longer than the 64 MiB limit", c->name,
                                    (unsigned long long)c->line);
            unsigned char *nb = (unsigned char *)sa_realloc(c->buf, nc);
            if (nb == NULL)
                return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
            c->buf = nb;
            c->cap = nc;
        }
        size_t room = c->cap - c->end;
        ssize_t n = src_read(c, c->buf + c->end, room < SA_READ_CHUNK ? room : SA_READ_CHUNK);
        if (n < 0)
            return STEPARC_E_IO;
        if (n == 0)
            c->eof = 1;
        c->end += (size_t)n;
        c->st.input_bytes += (uint64_t)n;
    }
    return 0;
}

/* Consumes n bytes, keeping the line count. */
void sa_conv_consume(steparc_converter *c, size_t n)
{
    const unsigned char *p = c->buf + c->start, *e = p + n;
    for (;;) {
        const unsigned char *nl = (const unsigned char *)memchr(p, '\n', (size_t)(e - p));
        if (nl == NULL)
            break;
        c->line++;
        c->line_off = c->abs_start + (uint64_t)(nl + 1 - (c->buf + c->start));
        p = nl + 1;
    }
    c->start += n;
    c->abs_start += n;
    if (c->opt.progress && c->abs_start >= c->next_progress) {
        c->next_progress = c->abs_start + (4u << 20);
        c->opt.progress(c->opt.progress_ctx, &c->st, c->src_total);
    }
}

/* Line and column of buf[start + rel]. */
void sa_conv_locate(const steparc_converter *c, size_t rel, uint64_t *line, uint64_t *col)
{
    if (c->fixed_loc) {
        *line = c->fixed_line;
        *col = c->fixed_col;
        return;
    }
    uint64_t l = c->line, lo = c->line_off;
    const unsigned char *p = c->buf + c->start;
    for (size_t i = 0; i < rel && c->start + i < c->end; i++)
        if (p[i] == '\n') {
            l++;
            lo = c->abs_start + i + 1;
        }
    *line = l;
    *col = c->abs_start + rel - lo + 1;
}

int sa_conv_skip_ws(steparc_converter *c)
{
    for (;;) {
        if (c->start == c->end) {
            int rc = sa_conv_fill(c, 1);
            if (rc)
                return rc;
            if (c->start == c->end)
                return 0;
        }
        unsigned char ch = c->buf[c->start];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            sa_conv_consume(c, 1);
        else if (ch == 0xEF && c->abs_start == 0) {
            /* UTF-8 byte order mark at the very start */
            int rc = sa_conv_fill(c, 3);
            if (rc)
                return rc;
            if (c->end - c->start >= 3 && c->buf[c->start + 1] == 0xBB && c->buf[c->start + 2] == 0xBF)
                sa_conv_consume(c, 3);
            else
                return 0;
        } else
            return 0;
    }
}

int sa_conv_next_member(steparc_converter *c, unsigned char close, const char *truncated)
{
    int rc = sa_conv_skip_ws(c);
    if (rc)
        return rc;
    if (c->start == c->end)
        return sa_conv_parse_error(c, 0, STEPARC_E_INPUT, truncated);
    if (c->buf[c->start] != close)
        return 0;
    sa_conv_consume(c, 1);
    return 1;
}

int sa_conv_expect(steparc_converter *c, unsigned char ch, const char *what)
{
    int rc = sa_conv_skip_ws(c);
    if (rc)
        return rc;
    if (c->start == c->end || c->buf[c->start] != ch)
        return sa_conv_parse_error(c, 0, STEPARC_E_INPUT, what);
    sa_conv_consume(c, 1);
    return 0;
}


/* Formats a parse failure at window position rel with an excerpt. */
int sa_conv_parse_error(steparc_converter *c, size_t rel, int status, const char *reason)
{
    uint64_t l, col;
    sa_conv_locate(c, rel, &l, &col);
    char ex[64];
    size_t n = 0;
    for (size_t i = rel; i < c->end - c->start && n < 40; i++) {
        unsigned char ch = c->buf[c->start + i];
        if (ch == '\n')
            break;
        ex[n++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    ex[n] = 0;
    return sa_conv_fail(c, status, "%s:%llu:%llu: %s (record %llu)%s%s%s%s", c->name, (unsigned long long)l,
                        (unsigned long long)col, reason, (unsigned long long)(c->st.objects + 1),
                        n ? ", near '" : "", ex, n ? "'" : "",
                        sa_conv_repr_hint(c, rel) ? ": this looks like a Python repr (single quotes, "
                                                    "None), not JSON: dump with json.dumps" : "");
}

/* Skips the rest of the current line after a parse failure (skip_invalid). */
int sa_conv_skip_bad(steparc_converter *c, size_t rel, const char *reason)
{
    uint64_t l, col;
    (void)rel;
    sa_conv_locate(c, 0, &l, &col);
    for (;;) {
        unsigned char *nl = (unsigned char *)memchr(c->buf + c->start, '\n', c->end - c->start);
        size_t n = nl ? (size_t)(nl - (c->buf + c->start)) + 1 : c->end - c->start;
        if (nl || c->eof) {
            if (c->opt.skipped) {
                char detail[200];
                snprintf(detail, sizeof detail, "%s", reason);
                c->st.skipped[STEPARC_SKIP_INVALID]++;
                c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_INVALID, c->name, l, col, detail,
                               (const char *)c->buf + c->start, nl ? n - 1 : n);
            } else {
                c->st.skipped[STEPARC_SKIP_INVALID]++;
            }
            sa_conv_consume(c, n);
            return 0;
        }
        int rc = sa_conv_fill(c, c->end - c->start + SA_READ_CHUNK);
        if (rc)
            return rc;
    }
}

/* Parses one JSON value at the window start into c->mp. 0 ok; 1 skipped
 * (skip_invalid); <0 error. */
int sa_conv_parse_one(steparc_converter *c, size_t *used)
{
    for (;;) {
        steparc_json_error e;
        int inc = 0;
        c->mp.len = 0;
        int rc = sa_json_parse((const char *)c->buf + c->start, c->end - c->start, 0, &c->mp, used,
                               &inc, &e);
        if (rc == 0)
            return 0;
        if (inc && !c->eof) {
            /* read more and parse again; doubling keeps huge records linear */
            size_t have = c->end - c->start;
            rc = sa_conv_fill(c, have + (have > SA_READ_CHUNK ? have : SA_READ_CHUNK));
            if (rc)
                return rc;
            continue;
        }
        if (rc == STEPARC_E_NOMEM)
            return sa_conv_fail(c, rc, "out of memory");
        const char *reason = inc ? "truncated record at the end of the input" : e.reason;
        if (c->opt.skip_invalid && rc != STEPARC_E_NOMEM) {
            rc = sa_conv_skip_bad(c, e.offset, reason);
            return rc ? rc : 1;
        }
        return sa_conv_parse_error(c, inc ? 0 : e.offset, rc == STEPARC_E_LIMIT ? rc : STEPARC_E_INPUT,
                                   reason);
    }
}

static int wanted_ext(const char *name)
{
    static const char *const exts[] = {".json", ".jsonl", ".ndjson", ".sse", ".txt"};
    size_t n = strlen(name);
    if (is_zst(name))
        n -= 4;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && memcmp(name + n - e, exts[i], e) == 0)
            return 1;
    }
    return 0;
}

int sa_conv_add_file(steparc_converter *c, const char *path, int fd)
{
    c->name = path;
    c->fd = fd;
    struct stat st;
    c->src_total = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ? (uint64_t)st.st_size : 0;
    if (is_zst(path)) {
        if (c->zs == NULL)
            c->zs = ZSTD_createDStream();
        if (c->zin == NULL)
            c->zin = (unsigned char *)sa_malloc(ZSTD_DStreamInSize());
        if (c->zs == NULL || c->zin == NULL)
            return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
        ZSTD_initDStream(c->zs);
        c->zin_len = c->zin_pos = 0;
        c->zin_eof = 0;
    }
    int rc = sa_conv_run_input(c);
    if (is_zst(path)) {
        sa_free(c->zin);
        c->zin = NULL;
    }
    c->fd = -1;
    return rc;
}

int sa_conv_add_dir(steparc_converter *c, const char *path, int depth, uint64_t *found)
{
    struct dirent **list = NULL;
    if (depth > 64)
        return sa_conv_fail(c, STEPARC_E_LIMIT, "%s: directories nested too deep", path);
    struct stat self;
    if (stat(path, &self) != 0)
        return sa_conv_fail(c, STEPARC_E_IO, "cannot stat %s: %s", path, strerror(errno));
    int n = scandir(path, &list, NULL, alphasort);
    if (n < 0)
        return sa_conv_fail(c, STEPARC_E_IO, "cannot read directory %s: %s", path, strerror(errno));
    int rc = sa_conv_dir_push(c, &self); /* containers.c: loops of followed links */
    for (int i = 0; i < n; i++) {
        const char *nm = list[i]->d_name;
        if (rc == 0 && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            size_t pl = strlen(path) + strlen(nm) + 2;
            char *child = (char *)sa_malloc(pl);
            if (child == NULL)
                rc = sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
            else {
                snprintf(child, pl, "%s/%s", path, nm);
                struct stat st;
                int use = sa_conv_dir_entry(c, child, &st); /* containers.c: symbolic links */
                if (use <= 0)
                    rc = use;
                else if (S_ISDIR(st.st_mode))
                    rc = sa_conv_add_dir(c, child, depth + 1, found);
                else if (S_ISREG(st.st_mode) && wanted_ext(nm)) {
                    int fd = open(child, O_RDONLY | O_CLOEXEC);
                    if (fd < 0)
                        rc = sa_conv_fail(c, STEPARC_E_IO, "cannot open %s: %s", child, strerror(errno));
                    else {
                        (*found)++;
                        rc = sa_conv_add_file(c, child, fd);
                        close(fd);
                    }
                }
                sa_free(child);
            }
        }
        free(list[i]);
    }
    free(list);
    sa_conv_dir_pop(c);
    return rc;
}
