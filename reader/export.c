/* export.c - every record (or an ordinal range) as JSONL to a caller's
 * writer, on several threads: the range is cut into chunks of ordinals, each
 * chunk's JSON is built into a buffer by a worker through its own cursor,
 * and the buffers are written in order by the calling thread (the ordered
 * pool, format/pool.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "pool.h"
#include "reader_internal.h"

#define EXPORT_CHUNK 2048 /* records per chunk */

typedef struct {
    uint64_t from, to;  /* ordinals [from, to) */
    uint64_t records;   /* written whole into out */
    char err[300];
    steparc_buf out;
} chunk;

typedef struct {
    steparc_reader *r;
    unsigned flags;
    uint32_t kinds;
    int (*write)(void *ctx, const void *data, size_t len);
    void *wctx;
    uint64_t written;
    int write_failed;
} export_ctx;

void steparc_export_options_init(steparc_export_options *opt)
{
    if (opt) {
        memset(opt, 0, sizeof *opt);
        opt->threads = 1;
    }
}

/* One record as JSON plus a newline, appended to out. */
static int put_record(const export_ctx *x, steparc_buf *out, const void *mp, size_t len)
{
    unsigned jf = (x->flags & STEPARC_JSON_PRETTY) | STEPARC_JSON_APPEND;
    int rc;
    if (x->flags & STEPARC_EXPORT_VIA_VIEW)
        rc = steparc_view_to_json(out, mp, len, jf);
    else
        rc = steparc_msgpack_to_json(out, mp, len, jf);
    if (rc == 0 && sa_buf_append(out, "\n", 1) != 0)
        rc = STEPARC_E_NOMEM;
    return rc;
}

/* Work: a chunk's JSON. On failure the records before it stay in out (the
 * caller writes them, then reports the error), and err says what failed
 * (not the reader's message: the threads share it). */
static int export_chunk(void *ctx, void *tls, void *item)
{
    (void)tls;
    const export_ctx *x = (const export_ctx *)ctx;
    chunk *c = (chunk *)item;
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.has_range = 1;
    f.range_from = c->from;
    f.range_to = c->to;
    f.kinds = x->kinds;
    steparc_cursor *cur = NULL;
    c->out.len = 0;
    c->records = 0;
    int rc = steparc_cursor_open(&cur, x->r, &f);
    if (rc)
        sa_fmt(c->err, sizeof c->err, "%s", steparc_strerror(rc));
    size_t done = 0; /* bytes of the records written whole */
    while (rc == 0) {
        uint64_t ord;
        const void *mp;
        size_t len;
        rc = steparc_cursor_next(&ord, &mp, &len, cur);
        if (rc == STEPARC_END) {
            rc = 0;
            break;
        }
        if (rc) {
            sa_fmt(c->err, sizeof c->err, "%s", steparc_cursor_errmsg(cur));
            break;
        }
        rc = put_record(x, &c->out, mp, len);
        if (rc == STEPARC_E_NOMEM) {
            sa_fmt(c->err, sizeof c->err, "out of memory");
        } else if (rc) {
            sa_fmt(c->err, sizeof c->err, "record %" PRIu64 ": cannot be written as JSON: %s", ord,
                   steparc_strerror(rc));
        } else {
            done = c->out.len;
            c->records++;
        }
    }
    steparc_cursor_close(cur);
    c->out.len = done;
    return rc;
}

/* Deliver: a chunk's records (those before any damage), then its error. */
static int write_chunk(void *ctx, void *item, int status)
{
    export_ctx *x = (export_ctx *)ctx;
    chunk *c = (chunk *)item;
    if (c->out.len && x->write(x->wctx, c->out.data, c->out.len) != 0) {
        x->write_failed = 1;
        return STEPARC_E_IO;
    }
    x->written += c->records;
    if (status)
        return sa_rfail(x->r, status, "%s", c->err);
    return 0;
}

static void free_chunk(void *ctx, void *item)
{
    (void)ctx;
    steparc_buf_free(&((chunk *)item)->out);
}

int steparc_reader_export(uint64_t *written, steparc_reader *r, const steparc_export_options *opt,
                          int (*write)(void *ctx, const void *data, size_t len), void *ctx)
{
    if (written)
        *written = 0;
    if (r == NULL || write == NULL)
        return STEPARC_E_ARG;
    steparc_export_options o;
    steparc_export_options_init(&o);
    if (opt)
        o = *opt;
    if (o.threads < 0 || o.threads > 256 ||
        (o.flags & ~(unsigned)(STEPARC_JSON_PRETTY | STEPARC_EXPORT_VIA_VIEW)))
        return sa_rfail(r, STEPARC_E_ARG, "invalid export options (threads %d, flags %#x)",
                        o.threads, o.flags);
    uint64_t n = steparc_reader_count(r), from = 0, to = n;
    if (o.has_range) {
        from = o.range_from < n ? o.range_from : n;
        to = o.range_to < n ? o.range_to : n;
        if (to < from)
            to = from;
    }
    export_ctx x = {r, o.flags, o.kinds, write, ctx, 0, 0};
    sa_pool_def def;
    memset(&def, 0, sizeof def);
    def.ctx = &x;
    def.item_size = sizeof(chunk);
    /* one chunk or one thread: in the calling thread */
    def.threads = o.threads > 1 && to - from > EXPORT_CHUNK ? o.threads : 0;
    def.nslots = (size_t)def.threads * 2;
    def.work = export_chunk;
    def.deliver = write_chunk;
    def.item_fini = free_chunk;
    sa_pool *p = NULL;
    if (sa_pool_open(&p, &def) != 0)
        return sa_rfail(r, STEPARC_E_NOMEM, "out of memory");
    int rc = 0;
    for (uint64_t at = from; at < to && rc == 0; at += EXPORT_CHUNK) {
        chunk *c;
        if ((rc = sa_pool_acquire((void **)&c, p)) != 0)
            break;
        c->from = at;
        c->to = to - at > EXPORT_CHUNK ? at + EXPORT_CHUNK : to;
        rc = sa_pool_submit(p, c);
    }
    if (rc == 0)
        rc = sa_pool_finish(p);
    sa_pool_close(p);
    if (x.write_failed)
        rc = sa_rfail(r, STEPARC_E_IO, "the output refused the records (its write failed)");
    if (written)
        *written = x.written;
    return rc;
}

typedef struct {
    int fd, err;
} fd_sink;

static int fd_write(void *ctx, const void *data, size_t len)
{
    fd_sink *s = (fd_sink *)ctx;
    const char *p = (const char *)data;
    while (len) {
        ssize_t k = write(s->fd, p, len);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            s->err = errno;
            return -1;
        }
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int steparc_reader_export_fd(uint64_t *written, steparc_reader *r,
                             const steparc_export_options *opt, int fd)
{
    if (written)
        *written = 0;
    if (r == NULL || fd < 0)
        return STEPARC_E_ARG;
    fd_sink s = {fd, 0};
    int rc = steparc_reader_export(written, r, opt, fd_write, &s);
    if (rc == STEPARC_E_IO && s.err)
        sa_rfail(r, rc, "cannot write the export: %s", strerror(s.err));
    return rc;
}
