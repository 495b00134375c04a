/* convert.c - find run steps in JSON dumps of every real shape and feed them
 * to a writer, streaming.
 *
 * Input is read through a window that only ever holds the record being
 * parsed (plus read-ahead), so memory is bounded by the largest record, not by
 * the input: a 10 GB single JSON array converts in the same memory as a small
 * one. Top-level arrays and API list pages ({"object":"list","data":[...]})
 * are entered and their items parsed one by one. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "delta.h"
#include "record.h"
#include "writer_internal.h"

#define READ_CHUNK (1u << 20)
#define WINDOW_MAX ((size_t)STEPARC_MAX_RECORD_SIZE + (2u << 20))

struct steparc_converter {
    steparc_writer *w;
    steparc_convert_options opt;
    steparc_convert_stats st;
    char err[1024];
    int failed;
    steparc_buf mp;        /* the record being parsed */
    /* current input */
    const char *name;
    int fd;
    ZSTD_DStream *zs;
    unsigned char *zin;
    size_t zin_len, zin_pos;
    int zin_eof;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    uint64_t src_bytes, src_total;
    /* the window: buf[start, end) holds unread input */
    unsigned char *buf;
    size_t cap, start, end;
    int eof;
    uint64_t line;       /* line number at buf[start] (1-based) */
    uint64_t line_off;   /* absolute offset of that line's first byte */
    uint64_t abs_start;  /* absolute offset of buf[start] */
    uint64_t next_progress;
    /* records parsed from a batch are located by line, not by window offset */
    int fixed_loc;
    uint64_t fixed_line, fixed_col;
    /* parallel JSONL parsing */
    struct pool *pool;
    /* event streams: steps whose final object has not arrived yet */
    struct pending *pend;
    size_t npend, cappend;
};

typedef struct pending {
    char *id;
    size_t idlen;
    steparc_buf base;    /* the last full object */
    int have_base;
    steparc_buf deltas;  /* delta events since, MessagePack, back to back */
    size_t ndeltas;
} pending;

static void pool_free(struct pool *pl);

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
    pool_free(c->pool);
    for (size_t i = 0; i < c->npend; i++) {
        sa_free(c->pend[i].id);
        steparc_buf_free(&c->pend[i].base);
        steparc_buf_free(&c->pend[i].deltas);
    }
    sa_free(c->pend);
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

static int cfail(steparc_converter *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfail(steparc_converter *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    c->failed = 1;
    return status;
}

/* ---- reading --------------------------------------------------------------------- */

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
                cfail(c, STEPARC_E_IO, "%s: read error: %s", c->name, strerror(errno));
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
                cfail(c, STEPARC_E_IO, "%s: read error: %s", c->name, strerror(errno));
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
            cfail(c, STEPARC_E_INPUT, "%s: not valid zstd data: %s", c->name, ZSTD_getErrorName(r));
            return -1;
        }
        if (c->zin_eof && ob.pos == 0 && c->zin_pos == c->zin_len) {
            if (r != 0) {
                cfail(c, STEPARC_E_INPUT, "%s: zstd data is truncated", c->name);
                return -1;
            }
            return 0;
        }
    }
    return (ssize_t)ob.pos;
}

/* Makes at least `need` bytes available at buf[start..], or all that is left.
 * 0 ok, <0 error. */
static int fill(steparc_converter *c, size_t need)
{
    while (c->end - c->start < need && !c->eof) {
        if (c->start > 0 && (c->start > c->cap / 2 || c->cap - c->end < READ_CHUNK)) {
            memmove(c->buf, c->buf + c->start, c->end - c->start);
            c->end -= c->start;
            c->start = 0;
        }
        if (c->cap - c->end < READ_CHUNK / 4) {
            size_t nc = c->cap ? c->cap * 2 : 2 * READ_CHUNK;
            if (nc > WINDOW_MAX)
                nc = WINDOW_MAX;
            if (nc <= c->cap)
                return cfail(c, STEPARC_E_LIMIT,
                             "%s:%llu: a record is longer than the 64 MiB limit", c->name,
                             (unsigned long long)c->line);
            unsigned char *nb = (unsigned char *)sa_realloc(c->buf, nc);
            if (nb == NULL)
                return cfail(c, STEPARC_E_NOMEM, "out of memory");
            c->buf = nb;
            c->cap = nc;
        }
        size_t room = c->cap - c->end;
        ssize_t n = src_read(c, c->buf + c->end, room < READ_CHUNK ? room : READ_CHUNK);
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
static void consume(steparc_converter *c, size_t n)
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
static void locate(const steparc_converter *c, size_t rel, uint64_t *line, uint64_t *col)
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

static int skip_ws(steparc_converter *c)
{
    for (;;) {
        if (c->start == c->end) {
            int rc = fill(c, 1);
            if (rc)
                return rc;
            if (c->start == c->end)
                return 0;
        }
        unsigned char ch = c->buf[c->start];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            consume(c, 1);
        else if (ch == 0xEF && c->abs_start == 0) {
            /* UTF-8 byte order mark at the very start */
            int rc = fill(c, 3);
            if (rc)
                return rc;
            if (c->end - c->start >= 3 && c->buf[c->start + 1] == 0xBB && c->buf[c->start + 2] == 0xBF)
                consume(c, 3);
            else
                return 0;
        } else
            return 0;
    }
}

/* ---- records ------------------------------------------------------------------- */

static void report_skip(steparc_converter *c, steparc_skip_reason why, size_t rel,
                        const char *detail, const char *raw, size_t raw_len)
{
    c->st.skipped[why]++;
    if (c->opt.skipped) {
        uint64_t l, col;
        locate(c, rel, &l, &col);
        c->opt.skipped(c->opt.skipped_ctx, why, c->name, l, col, detail, raw, raw_len);
    }
}

static int str_is(steparc_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* One JSON value found at record level (rel = its position in the window). */
static int handle_item(steparc_converter *c, const unsigned char *mp, size_t len, size_t rel,
                       const sa_keyfields *known)
{
    sa_keyfields kf;
    c->st.objects++;
    if (known)
        kf = *known;
    if (len == 0 || (!known && sa_mp_keyfields(mp, len, &kf) != 0)) {
        if (c->opt.strict) {
            uint64_t l, col;
            locate(c, rel, &l, &col);
            return cfail(c, STEPARC_E_INPUT, "%s:%llu:%llu: a JSON value that is not an object",
                         c->name, (unsigned long long)l, (unsigned long long)col);
        }
        report_skip(c, STEPARC_SKIP_NOT_A_STEP, rel, "not an object", NULL, 0);
        return 0;
    }
    if (str_is(kf.object, "thread.run.step")) {
        if (kf.id.ptr == NULL) {
            if (c->opt.strict) {
                uint64_t l, col;
                locate(c, rel, &l, &col);
                return cfail(c, STEPARC_E_INPUT, "%s:%llu:%llu: a run step without a string \"id\"",
                             c->name, (unsigned long long)l, (unsigned long long)col);
            }
            report_skip(c, STEPARC_SKIP_NO_ID, rel, "run step without a string id", NULL, 0);
            return 0;
        }
        int rc = sa_writer_add_kf(c->w, mp, len, &kf);
        if (rc)
            return cfail(c, rc, "%s: %s", c->name, steparc_writer_errmsg(c->w));
        c->st.records++;
        return 0;
    }
    if (str_is(kf.object, "thread.run.step.delta")) {
        report_skip(c, STEPARC_SKIP_DELTA, rel, "thread.run.step.delta", NULL, 0);
        return 0;
    }
    if (c->opt.strict) {
        uint64_t l, col;
        locate(c, rel, &l, &col);
        return cfail(c, STEPARC_E_INPUT, "%s:%llu:%llu: an object that is not a run step (object \"%.*s\")",
                     c->name, (unsigned long long)l, (unsigned long long)col,
                     (int)(kf.object.len > 60 ? 60 : kf.object.len),
                     kf.object.ptr ? kf.object.ptr : "");
    }
    char detail[120];
    if (kf.object.ptr)
        snprintf(detail, sizeof detail, "object \"%.*s\"", (int)(kf.object.len > 60 ? 60 : kf.object.len),
                 kf.object.ptr);
    else
        snprintf(detail, sizeof detail, "object without an \"object\" key");
    report_skip(c, STEPARC_SKIP_NOT_A_STEP, rel, detail, NULL, 0);
    return 0;
}

/* A top-level value: a list page's items are records, anything else is one. */
static int handle_value(steparc_converter *c, const unsigned char *mp, size_t len, size_t rel)
{
    sa_mpr r = {mp, mp + len};
    sa_mpitem m, k, v;
    if (sa_mp_read(&r, &m) == 0 && m.type == SA_MP_ARRAY) {
        for (uint32_t i = 0; i < m.n; i++) {
            const unsigned char *s = r.p;
            if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                return cfail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
            int rc = handle_item(c, s, (size_t)(r.p - s), rel, NULL);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (m.type != SA_MP_MAP)
        return handle_item(c, mp, len, rel, NULL);
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0)
        return handle_item(c, mp, len, rel, NULL);
    if (!str_is(kf.object, "list"))
        return handle_item(c, mp, len, rel, &kf);
    for (uint32_t i = 0; i < m.n; i++) {
        if (sa_mp_read(&r, &k) != 0)
            break;
        const unsigned char *vs = r.p;
        if (k.n == 4 && memcmp(k.s, "data", 4) == 0 && sa_mp_read(&r, &v) == 0 &&
            v.type == SA_MP_ARRAY) {
            for (uint32_t j = 0; j < v.n; j++) {
                const unsigned char *s = r.p;
                if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                    return cfail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
                int rc = handle_item(c, s, (size_t)(r.p - s), rel, NULL);
                if (rc)
                    return rc;
            }
            return 0;
        }
        r.p = vs;
        if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
            break;
    }
    return handle_item(c, mp, len, rel, &kf); /* "list" without data: not a step */
}

/* Formats a parse failure at window position rel with an excerpt. */
static int parse_error(steparc_converter *c, size_t rel, int status, const char *reason)
{
    uint64_t l, col;
    locate(c, rel, &l, &col);
    char ex[64];
    size_t n = 0;
    for (size_t i = rel; i < c->end - c->start && n < 40; i++) {
        unsigned char ch = c->buf[c->start + i];
        if (ch == '\n')
            break;
        ex[n++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    ex[n] = 0;
    return cfail(c, status, "%s:%llu:%llu: %s (record %llu)%s%s%s", c->name, (unsigned long long)l,
                 (unsigned long long)col, reason, (unsigned long long)(c->st.objects + 1),
                 n ? ", near '" : "", ex, n ? "'" : "");
}

/* Skips the rest of the current line after a parse failure (skip_invalid). */
static int skip_bad(steparc_converter *c, size_t rel, const char *reason)
{
    uint64_t l, col;
    (void)rel;
    locate(c, 0, &l, &col);
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
            consume(c, n);
            return 0;
        }
        int rc = fill(c, c->end - c->start + READ_CHUNK);
        if (rc)
            return rc;
    }
}

/* Parses one JSON value at the window start into c->mp. 0 ok; 1 skipped
 * (skip_invalid); <0 error. */
static int parse_one(steparc_converter *c, size_t *used)
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
            rc = fill(c, have + (have > READ_CHUNK ? have : READ_CHUNK));
            if (rc)
                return rc;
            continue;
        }
        if (rc == STEPARC_E_NOMEM)
            return cfail(c, rc, "out of memory");
        const char *reason = inc ? "truncated record at the end of the input" : e.reason;
        if (c->opt.skip_invalid && rc != STEPARC_E_NOMEM) {
            rc = skip_bad(c, e.offset, reason);
            return rc ? rc : 1;
        }
        return parse_error(c, inc ? 0 : e.offset, rc == STEPARC_E_LIMIT ? rc : STEPARC_E_INPUT,
                           reason);
    }
}

static int parse_and_handle(steparc_converter *c)
{
    size_t used;
    int rc = parse_one(c, &used);
    if (rc)
        return rc < 0 ? rc : 0;
    rc = handle_value(c, (const unsigned char *)c->mp.data, c->mp.len, 0);
    if (rc)
        return rc;
    consume(c, used);
    return 0;
}

/* Matches `{ "object" : "list" , "data" : [` (any whitespace) at the window
 * start; returns its length or 0. */
static size_t list_prefix(steparc_converter *c)
{
    static const char *const parts[] = {"{", "\"object\"", ":", "\"list\"", ",", "\"data\"", ":", "["};
    if (fill(c, 512) != 0)
        return 0;
    const unsigned char *p = c->buf + c->start, *e = c->buf + c->end;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        size_t n = strlen(parts[i]);
        if ((size_t)(e - p) < n || memcmp(p, parts[i], n) != 0)
            return 0;
        p += n;
    }
    return (size_t)(p - (c->buf + c->start));
}

/* Streams the items of an array whose '[' was consumed, up to its ']'. */
static int stream_array(steparc_converter *c)
{
    int first = 1;
    for (;;) {
        int rc = skip_ws(c);
        if (rc)
            return rc;
        if (c->start == c->end)
            return parse_error(c, 0, STEPARC_E_INPUT, "truncated array at the end of the input");
        unsigned char ch = c->buf[c->start];
        if (ch == ']') {
            consume(c, 1);
            return 0;
        }
        if (!first) {
            if (ch != ',') {
                if (c->opt.skip_invalid) {
                    rc = skip_bad(c, 0, "',' or ']' expected in array");
                    if (rc)
                        return rc;
                    continue;
                }
                return parse_error(c, 0, STEPARC_E_INPUT, "',' or ']' expected in array");
            }
            consume(c, 1);
            rc = skip_ws(c);
            if (rc)
                return rc;
        }
        first = 0;
        size_t used;
        rc = parse_one(c, &used);
        if (rc < 0)
            return rc;
        if (rc == 1)
            continue;
        rc = handle_item(c, (const unsigned char *)c->mp.data, c->mp.len, 0, NULL);
        if (rc)
            return rc;
        consume(c, used);
    }
}

/* Parses and drops the remaining members of an object (after a list page's
 * data array), up to its '}'. */
static int finish_object(steparc_converter *c)
{
    for (;;) {
        int rc = skip_ws(c);
        if (rc)
            return rc;
        if (c->start == c->end)
            return parse_error(c, 0, STEPARC_E_INPUT, "truncated list page at the end of the input");
        unsigned char ch = c->buf[c->start];
        if (ch == '}') {
            consume(c, 1);
            return 0;
        }
        if (ch != ',')
            return parse_error(c, 0, STEPARC_E_INPUT, "',' or '}' expected in list page");
        consume(c, 1);
        rc = skip_ws(c);
        if (rc)
            return rc;
        size_t used;
        rc = parse_one(c, &used); /* the key */
        if (rc)
            return rc < 0 ? rc : 0;
        consume(c, used);
        rc = skip_ws(c);
        if (rc)
            return rc;
        if (c->start == c->end || c->buf[c->start] != ':')
            return parse_error(c, 0, STEPARC_E_INPUT, "':' expected in list page");
        consume(c, 1);
        rc = skip_ws(c);
        if (rc)
            return rc;
        rc = parse_one(c, &used); /* the value */
        if (rc)
            return rc < 0 ? rc : 0;
        consume(c, used);
    }
}

static int run_json(steparc_converter *c)
{
    for (;;) {
        int rc = skip_ws(c);
        if (rc)
            return rc;
        if (c->start == c->end)
            return 0;
        unsigned char ch = c->buf[c->start];
        if (ch == '[') {
            consume(c, 1);
            rc = stream_array(c);
        } else if (ch == '{') {
            size_t n = list_prefix(c);
            if (n) {
                consume(c, n);
                rc = stream_array(c);
                if (rc == 0)
                    rc = finish_object(c);
            } else {
                rc = parse_and_handle(c);
            }
        } else if (c->opt.skip_invalid) {
            rc = skip_bad(c, 0, "a JSON object or array was expected");
        } else {
            rc = parse_error(c, 0, STEPARC_E_INPUT, "a JSON object or array was expected");
        }
        if (rc)
            return rc;
    }
}

/* ---- event streams: deltas ---------------------------------------------------------- */

static pending *find_pending(steparc_converter *c, steparc_str id, int create)
{
    for (size_t i = 0; i < c->npend; i++)
        if (c->pend[i].idlen == id.len && memcmp(c->pend[i].id, id.ptr, id.len) == 0)
            return &c->pend[i];
    if (!create)
        return NULL;
    if (SA_GROW(c->pend, c->cappend, c->npend, 16) != 0)
        return NULL;
    pending *p = &c->pend[c->npend];
    memset(p, 0, sizeof *p);
    p->id = (char *)sa_malloc(id.len ? id.len : 1);
    if (p->id == NULL)
        return NULL;
    memcpy(p->id, id.ptr, id.len);
    p->idlen = id.len;
    c->npend++;
    return p;
}

static void drop_pending(steparc_converter *c, pending *p)
{
    sa_free(p->id);
    steparc_buf_free(&p->base);
    steparc_buf_free(&p->deltas);
    size_t i = (size_t)(p - c->pend);
    memmove(p, p + 1, (c->npend - i - 1) * sizeof *p);
    c->npend--;
}

static int is_terminal(steparc_str s)
{
    static const char *const t[] = {"completed", "failed", "cancelled", "expired"};
    for (size_t i = 0; i < 4; i++)
        if (str_is(s, t[i]))
            return 1;
    return 0;
}

/* Notes a full step object (after it was archived). A terminal one ends the
 * step: its final state is in the archive, deltas need no rebuild. */
static int track_full(steparc_converter *c, const unsigned char *mp, size_t len)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0 || !str_is(kf.object, "thread.run.step") ||
        kf.id.ptr == NULL || kf.id.len == 0)
        return 0;
    if (is_terminal(kf.status)) {
        pending *done = find_pending(c, kf.id, 0);
        if (done)
            drop_pending(c, done);
        return 0;
    }
    pending *p = find_pending(c, kf.id, 1);
    if (p == NULL)
        return cfail(c, STEPARC_E_NOMEM, "out of memory");
    p->base.len = 0;
    p->deltas.len = 0;
    p->ndeltas = 0;
    if (sa_buf_append(&p->base, mp, len) != 0)
        return cfail(c, STEPARC_E_NOMEM, "out of memory");
    p->have_base = 1;
    return 0;
}

static int track_delta(steparc_converter *c, const unsigned char *mp, size_t len)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0 || kf.id.ptr == NULL || kf.id.len == 0)
        return 0;
    pending *p = find_pending(c, kf.id, 1);
    if (p == NULL)
        return cfail(c, STEPARC_E_NOMEM, "out of memory");
    if (sa_buf_append(&p->deltas, mp, len) != 0)
        return cfail(c, STEPARC_E_NOMEM, "out of memory");
    p->ndeltas++;
    return 0;
}

/* At the end of a stream: steps with deltas after their last full object are
 * rebuilt from it and archived; deltas with no full object are reported. */
static int rebuild_pending(steparc_converter *c)
{
    int rc = 0;
    steparc_buf out = {0};
    for (size_t i = 0; i < c->npend && rc == 0; i++) {
        pending *p = &c->pend[i];
        if (p->ndeltas == 0)
            continue;
        if (!p->have_base) {
            char detail[200];
            snprintf(detail, sizeof detail, "%zu delta(s) of step \"%.*s\" with no step object to apply them to",
                     p->ndeltas, (int)(p->idlen > 60 ? 60 : p->idlen), p->id);
            c->st.unrebuilt++;
            if (c->opt.skipped)
                c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_DELTA, c->name, c->line, 1, detail, NULL, 0);
            continue;
        }
        sa_tree *base = NULL;
        sa_tree **ds = (sa_tree **)sa_calloc(p->ndeltas, sizeof *ds);
        rc = ds ? sa_tree_from_mp(&base, p->base.data, p->base.len) : STEPARC_E_NOMEM;
        sa_mpr r = {(const unsigned char *)p->deltas.data, (const unsigned char *)p->deltas.data + p->deltas.len};
        for (size_t k = 0; k < p->ndeltas && rc == 0; k++) {
            const unsigned char *st = r.p;
            if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0) {
                rc = STEPARC_E_INPUT;
                break;
            }
            rc = sa_tree_from_mp(&ds[k], st, (size_t)(r.p - st));
            const steparc_value *dv = rc == 0 ? sa_value_get(sa_tree_root(ds[k]), "delta") : NULL;
            if (dv && dv->type == STEPARC_V_OBJECT)
                rc = sa_tree_merge(base, ds[k], dv);
        }
        if (rc == 0)
            rc = sa_tree_to_mp(base, &out);
        if (rc == 0) {
            c->fixed_loc = 1;
            c->fixed_line = c->line;
            c->fixed_col = 1;
            rc = handle_item(c, (const unsigned char *)out.data, out.len, 0, NULL);
            c->fixed_loc = 0;
            if (rc == 0)
                c->st.rebuilt++;
        } else if (rc != STEPARC_E_NOMEM) {
            /* deltas that do not merge (or make a record the encoder refuses):
             * the step stays as its last full object */
            char detail[200];
            snprintf(detail, sizeof detail, "deltas of step \"%.*s\" could not be applied",
                     (int)(p->idlen > 60 ? 60 : p->idlen), p->id);
            c->st.unrebuilt++;
            if (c->opt.skipped)
                c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_DELTA, c->name, c->line, 1, detail, NULL, 0);
            rc = 0;
        } else {
            cfail(c, rc, "out of memory");
        }
        sa_tree_free(base);
        for (size_t k = 0; ds && k < p->ndeltas; k++)
            sa_tree_free(ds[k]);
        sa_free(ds);
    }
    steparc_buf_free(&out);
    while (c->npend)
        drop_pending(c, &c->pend[c->npend - 1]);
    return rc;
}

/* Parses an event's data (p, n at window offset rel) into c->mp. On bad JSON
 * with skip_invalid the line is skipped and *skipped set; 0 or an error. */
static int sse_parse(steparc_converter *c, const char *p, size_t n, size_t rel, int *skipped)
{
    steparc_json_error e;
    c->mp.len = 0;
    int rc = steparc_json_to_msgpack(&c->mp, p, n, 0, &e);
    if (rc == 0)
        return 0;
    if (rc == STEPARC_E_NOMEM)
        return cfail(c, rc, "out of memory");
    if (c->opt.skip_invalid) {
        *skipped = 1;
        return skip_bad(c, rel + e.offset, e.reason);
    }
    return parse_error(c, rel + e.offset, rc, e.reason);
}

/* Event stream: "event: NAME" then "data: JSON", blank line between events. */
static int run_sse(steparc_converter *c)
{
    char event[128] = "";
    for (;;) {
        unsigned char *nl;
        for (;;) {
            nl = (unsigned char *)memchr(c->buf + c->start, '\n', c->end - c->start);
            if (nl || c->eof)
                break;
            int rc = fill(c, c->end - c->start + READ_CHUNK);
            if (rc)
                return rc;
        }
        size_t len = nl ? (size_t)(nl - (c->buf + c->start)) : c->end - c->start;
        if (len == 0 && c->start == c->end)
            return 0;
        const char *l = (const char *)c->buf + c->start;
        size_t ll = len;
        if (ll && l[ll - 1] == '\r')
            ll--;
        if (ll == 0) {
            event[0] = 0;
        } else if (ll >= 6 && memcmp(l, "event:", 6) == 0) {
            size_t s = 6;
            while (s < ll && l[s] == ' ')
                s++;
            size_t n = ll - s < sizeof event - 1 ? ll - s : sizeof event - 1;
            memcpy(event, l + s, n);
            event[n] = 0;
        } else if (ll >= 5 && memcmp(l, "data:", 5) == 0) {
            size_t s = 5;
            while (s < ll && l[s] == ' ')
                s++;
            if (!(ll - s == 6 && memcmp(l + s, "[DONE]", 6) == 0) && ll > s) {
                int is_step_event = strncmp(event, "thread.run.step.", 16) == 0;
                int is_delta = strcmp(event, "thread.run.step.delta") == 0;
                if (event[0] && !is_step_event) {
                    c->st.objects++;
                    report_skip(c, STEPARC_SKIP_EVENT, s, event, NULL, 0);
                } else if (is_delta) {
                    c->st.objects++;
                    report_skip(c, STEPARC_SKIP_DELTA, s, event, NULL, 0);
                    if (!c->opt.no_rebuild) {
                        int skipped = 0;
                        int rc = sse_parse(c, l + s, ll - s, s, &skipped);
                        if (rc == 0 && skipped)
                            continue;
                        if (rc == 0)
                            rc = track_delta(c, (const unsigned char *)c->mp.data, c->mp.len);
                        if (rc)
                            return rc;
                    }
                } else {
                    int skipped = 0;
                    int rc = sse_parse(c, l + s, ll - s, s, &skipped);
                    if (rc == 0 && skipped)
                        continue;
                    if (rc)
                        return rc;
                    rc = handle_value(c, (const unsigned char *)c->mp.data, c->mp.len, s);
                    if (rc == 0 && !c->opt.no_rebuild)
                        rc = track_full(c, (const unsigned char *)c->mp.data, c->mp.len);
                    if (rc)
                        return rc;
                }
            }
        } else if (l[0] == ':' || l[0] == '#' || (ll >= 3 && memcmp(l, "id:", 3) == 0) ||
                   (ll >= 6 && memcmp(l, "retry:", 6) == 0)) {
            /* comment or a field we do not need */
        } else if (c->opt.skip_invalid) {
            int rc = skip_bad(c, 0, "not an event-stream line");
            if (rc)
                return rc;
            continue;
        } else {
            return parse_error(c, 0, STEPARC_E_INPUT,
                               "not an event-stream line (expected 'event:' or 'data:')");
        }
        consume(c, nl ? len + 1 : len);
    }
}

/* ---- JSONL in parallel ------------------------------------------------------------
 *
 * Line-oriented input is cut into batches of whole lines; batches are parsed
 * on worker threads and their records handed to the writer strictly in input
 * order, so the archive is the same for every thread count. */

#define BATCH_BYTES (256u * 1024)

typedef struct {
    uint64_t line;
    size_t col, off, len;   /* column of the error; the line's span in text */
    size_t before;          /* records of the batch that precede it */
    int status, incomplete;
    char reason[160];
} badline;

typedef struct {
    char *text;
    size_t len, cap;
    uint64_t first_line;
    int last;               /* the batch ends the input without a final newline */
    int skip_invalid;
    steparc_buf mp;
    size_t *ends;
    uint64_t *lines;
    size_t n, capn;
    badline *bad;
    size_t nbad, capbad;
    int state;              /* 0 free, 1 queued, 2 parsing, 3 done */
    uint64_t seq;
} batch;

typedef struct pool {
    pthread_t *th;
    int n;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    batch *b;
    size_t nb;
    uint64_t next_seq, next_out;
    int stop;
} pool;

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static int push_bad(batch *b, uint64_t line, size_t col, size_t off, size_t len, int status,
                    int incomplete, const char *reason)
{
    if (SA_GROW(b->bad, b->capbad, b->nbad, 8) != 0)
        return STEPARC_E_NOMEM;
    badline *x = &b->bad[b->nbad++];
    x->line = line;
    x->col = col;
    x->off = off;
    x->len = len;
    x->before = b->n;
    x->status = status;
    x->incomplete = incomplete;
    snprintf(x->reason, sizeof x->reason, "%s", reason);
    return 0;
}

/* Parses every line of a batch. Stops at the first bad line unless
 * skip_invalid. */
static void parse_batch(batch *b)
{
    const char *p = b->text, *end = b->text + b->len;
    uint64_t line = b->first_line;
    b->mp.len = 0;
    b->n = b->nbad = 0;
    while (p < end) {
        const char *nl = (const char *)memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (!blank(p, ll)) {
            size_t at = b->mp.len, used = 0;
            int inc = 0;
            steparc_json_error e;
            int rc = sa_json_parse(p, ll, 0, &b->mp, &used, &inc, &e);
            if (rc == 0 && !blank(p + used, ll - used)) {
                b->mp.len = at;
                rc = STEPARC_E_INPUT;
                inc = 0;
                e.offset = used;
                while (e.offset < ll && (p[e.offset] == ' ' || p[e.offset] == '\t'))
                    e.offset++;
                e.column = e.offset + 1;
                snprintf(e.reason, sizeof e.reason,
                         "unexpected text after the JSON value on this line");
            }
            if (rc == 0) {
                if (b->n == b->capn) {
                    size_t nc = b->capn ? 2 * b->capn : 256;
                    size_t *ne = (size_t *)sa_realloc(b->ends, nc * sizeof *ne);
                    uint64_t *nli = ne ? (uint64_t *)sa_realloc(b->lines, nc * sizeof *nli) : NULL;
                    if (ne)
                        b->ends = ne;
                    if (nli)
                        b->lines = nli;
                    if (ne == NULL || nli == NULL) {
                        push_bad(b, line, 1, (size_t)(p - b->text), ll, STEPARC_E_NOMEM, 0,
                                 "out of memory");
                        return;
                    }
                    b->capn = nc;
                }
                b->ends[b->n] = b->mp.len;
                b->lines[b->n] = line;
                b->n++;
            } else {
                const char *reason = e.reason;
                if (inc)
                    reason = (b->last && !nl) ? "truncated record at the end of the input"
                                              : "the JSON value does not end on its line (for "
                                                "values that span lines use --input-format json)";
                if (push_bad(b, line, inc ? 1 : e.column, (size_t)(p - b->text), ll, rc, inc, reason) != 0 ||
                    !b->skip_invalid || rc == STEPARC_E_NOMEM)
                    return;
            }
        }
        line++;
        p = nl ? nl + 1 : end;
    }
}

static void *pool_worker(void *arg)
{
    pool *pl = (pool *)arg;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        batch *b = NULL;
        while (!pl->stop) {
            for (size_t i = 0; i < pl->nb; i++)
                if (pl->b[i].state == 1 && (b == NULL || pl->b[i].seq < b->seq))
                    b = &pl->b[i];
            if (b)
                break;
            pthread_cond_wait(&pl->cv_work, &pl->mu);
        }
        if (b == NULL)
            break;
        b->state = 2;
        pthread_mutex_unlock(&pl->mu);
        parse_batch(b);
        pthread_mutex_lock(&pl->mu);
        b->state = 3;
        pthread_cond_broadcast(&pl->cv_done);
    }
    pthread_mutex_unlock(&pl->mu);
    return NULL;
}

static void pool_free(pool *pl)
{
    if (pl == NULL)
        return;
    if (pl->th) {
        pthread_mutex_lock(&pl->mu);
        pl->stop = 1;
        pthread_cond_broadcast(&pl->cv_work);
        pthread_mutex_unlock(&pl->mu);
        for (int i = 0; i < pl->n; i++)
            pthread_join(pl->th[i], NULL);
    }
    for (size_t i = 0; pl->b && i < pl->nb; i++) {
        batch *b = &pl->b[i];
        sa_free(b->text);
        steparc_buf_free(&b->mp);
        sa_free(b->ends);
        sa_free(b->lines);
        sa_free(b->bad);
    }
    pthread_mutex_destroy(&pl->mu);
    pthread_cond_destroy(&pl->cv_work);
    pthread_cond_destroy(&pl->cv_done);
    sa_free(pl->b);
    sa_free(pl->th);
    sa_free(pl);
}

/* threads <= 1: one batch slot, parsed in the caller. */
static int pool_new(steparc_converter *c, int threads)
{
    pool *pl = (pool *)sa_calloc(1, sizeof *pl);
    if (pl == NULL)
        return STEPARC_E_NOMEM;
    pthread_mutex_init(&pl->mu, NULL);
    pthread_cond_init(&pl->cv_work, NULL);
    pthread_cond_init(&pl->cv_done, NULL);
    pl->nb = threads > 1 ? (size_t)threads * 3 : 1;
    pl->b = (batch *)sa_calloc(pl->nb, sizeof(batch));
    if (pl->b == NULL) {
        pool_free(pl);
        return STEPARC_E_NOMEM;
    }
    if (threads > 1) {
        pl->th = (pthread_t *)sa_calloc((size_t)threads, sizeof(pthread_t));
        if (pl->th == NULL) {
            pool_free(pl);
            return STEPARC_E_NOMEM;
        }
        for (int i = 0; i < threads; i++) {
            if (pthread_create(&pl->th[i], NULL, pool_worker, pl) != 0)
                break;
            pl->n++;
        }
        if (pl->n == 0) {
            pool_free(pl);
            return STEPARC_E_NOMEM;
        }
    }
    c->pool = pl;
    return 0;
}

/* Hands a parsed batch's records (and bad lines) to the writer, in order. */
static int deliver(steparc_converter *c, batch *b)
{
    size_t bi = 0;
    int rc = 0;
    for (size_t i = 0; i <= b->n && rc == 0; i++) {
        while (bi < b->nbad && b->bad[bi].before == i && rc == 0) {
            badline *x = &b->bad[bi++];
            if (c->opt.skip_invalid && x->status != STEPARC_E_NOMEM) {
                c->st.skipped[STEPARC_SKIP_INVALID]++;
                if (c->opt.skipped)
                    c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_INVALID, c->name, x->line, x->col,
                                   x->reason, b->text + x->off, x->len);
                continue;
            }
            char ex[48];
            size_t n = 0;
            for (size_t k = x->col - 1; k < x->len && n < 40; k++) {
                unsigned char ch = (unsigned char)b->text[x->off + k];
                ex[n++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
            }
            ex[n] = 0;
            rc = cfail(c, x->status == STEPARC_E_NOMEM ? STEPARC_E_NOMEM
                          : x->status == STEPARC_E_LIMIT ? STEPARC_E_LIMIT : STEPARC_E_INPUT,
                       "%s:%llu:%zu: %s (record %llu)%s%s%s", c->name, (unsigned long long)x->line,
                       x->col, x->reason, (unsigned long long)(c->st.objects + 1), n ? ", near '" : "",
                       ex, n ? "'" : "");
        }
        if (i == b->n || rc)
            break;
        size_t from = i ? b->ends[i - 1] : 0;
        c->fixed_loc = 1;
        c->fixed_line = b->lines[i];
        c->fixed_col = 1;
        rc = handle_value(c, (const unsigned char *)b->mp.data + from, b->ends[i] - from, 0);
        c->fixed_loc = 0;
    }
    return rc;
}

/* Waits for the oldest batch in flight and delivers it, or only drops it
 * (discard: after an error). *more = 0 when none is in flight. */
static int next_batch(steparc_converter *c, int discard, int *more)
{
    pool *pl = c->pool;
    batch *b = NULL;
    pthread_mutex_lock(&pl->mu);
    for (;;) {
        b = NULL;
        for (size_t i = 0; i < pl->nb; i++)
            if (pl->b[i].state != 0 && pl->b[i].seq == pl->next_out)
                b = &pl->b[i];
        if (b == NULL || b->state == 3)
            break;
        pthread_cond_wait(&pl->cv_done, &pl->mu);
    }
    pthread_mutex_unlock(&pl->mu);
    *more = b != NULL;
    if (b == NULL)
        return 0;
    int rc = discard ? 0 : deliver(c, b);
    pthread_mutex_lock(&pl->mu);
    b->state = 0;
    pl->next_out++;
    pthread_mutex_unlock(&pl->mu);
    return rc;
}

static int submit(steparc_converter *c, const unsigned char *text, size_t len, int last)
{
    pool *pl = c->pool;
    batch *b = NULL;
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        for (size_t i = 0; i < pl->nb && b == NULL; i++)
            if (pl->b[i].state == 0)
                b = &pl->b[i];
        pthread_mutex_unlock(&pl->mu);
        if (b)
            break;
        int more, rc = next_batch(c, 0, &more);
        if (rc)
            return rc;
    }
    b->first_line = c->line;
    b->last = last;
    b->skip_invalid = c->opt.skip_invalid;
    if (pl->n == 0) {
        /* no workers: parse the window in place (it stays put until the
         * batch is delivered, right here) */
        char *own = b->text;
        b->text = (char *)(uintptr_t)text;
        b->len = len;
        b->seq = pl->next_seq++;
        parse_batch(b);
        b->state = 3;
        int more;
        int rc = next_batch(c, 0, &more);
        b->text = own;
        return rc;
    }
    if (b->cap < len) {
        char *nt = (char *)sa_realloc(b->text, len);
        if (nt == NULL)
            return cfail(c, STEPARC_E_NOMEM, "out of memory");
        b->text = nt;
        b->cap = len;
    }
    memcpy(b->text, text, len);
    b->len = len;
    pthread_mutex_lock(&pl->mu);
    b->seq = pl->next_seq++;
    b->state = 1;
    pthread_cond_signal(&pl->cv_work);
    pthread_mutex_unlock(&pl->mu);
    return 0;
}

static int run_jsonl(steparc_converter *c)
{
    int rc = 0;
    if (c->pool == NULL && (rc = pool_new(c, c->opt.threads)) != 0)
        return cfail(c, rc, "out of memory");
    for (;;) {
        rc = fill(c, BATCH_BYTES);
        if (rc)
            break;
        size_t avail = c->end - c->start;
        if (avail == 0)
            break;
        size_t take = avail < BATCH_BYTES ? avail : BATCH_BYTES;
        const unsigned char *base = c->buf + c->start;
        const unsigned char *nl = (const unsigned char *)memrchr(base, '\n', take);
        size_t cut;
        if (nl)
            cut = (size_t)(nl - base) + 1;
        else if (c->eof)
            cut = avail;
        else {
            /* one line longer than a batch: read until its end */
            nl = (const unsigned char *)memchr(base, '\n', avail);
            if (nl == NULL) {
                rc = fill(c, avail + (avail > READ_CHUNK ? avail : READ_CHUNK));
                if (rc)
                    break;
                continue;
            }
            cut = (size_t)(nl - base) + 1;
        }
        int last = c->eof && cut == avail && base[cut - 1] != '\n';
        rc = submit(c, base, cut, last);
        if (rc)
            break;
        consume(c, cut);
    }
    /* deliver what is in flight, in order; after an error, only wait for it */
    for (;;) {
        int more;
        int r2 = next_batch(c, rc != 0, &more);
        if (rc == 0)
            rc = r2;
        if (!more)
            break;
    }
    return rc;
}

/* AUTO: JSONL when the first value is an object that ends on its first line. */
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
            if (fill(c, have + (have > READ_CHUNK ? have : READ_CHUNK)) != 0)
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

static int run_input(steparc_converter *c)
{
    c->start = c->end = 0;
    c->eof = 0;
    c->line = 1;
    c->line_off = 0;
    c->abs_start = 0;
    c->next_progress = 0;
    c->st.inputs++;
    steparc_input_format f = c->opt.format;
    int rc = skip_ws(c);
    if (rc)
        return rc;
    if (c->start == c->end)
        return cfail(c, STEPARC_E_INPUT, "%s: input is empty", c->name);
    if (f == STEPARC_IN_AUTO) {
        unsigned char ch = c->buf[c->start];
        if (ch != '{' && ch != '[') {
            f = STEPARC_IN_SSE;
            rc = fill(c, 6);
            if (rc)
                return rc;
            const char *p = (const char *)c->buf + c->start;
            size_t n = c->end - c->start;
            /* ':' starts an event-stream comment; '#' lines are annotations
             * people add to saved captures */
            if (!((n >= 6 && memcmp(p, "event:", 6) == 0) || (n >= 5 && memcmp(p, "data:", 5) == 0) ||
                  p[0] == ':' || p[0] == '#'))
                return parse_error(c, 0, STEPARC_E_INPUT,
                                   "not JSON and not an event stream (expected '{', '[' or 'event:')");
        }
    }
    if (f == STEPARC_IN_AUTO || f == STEPARC_IN_JSON)
        f = (f == STEPARC_IN_AUTO && looks_like_jsonl(c)) ? STEPARC_IN_JSONL : STEPARC_IN_JSON;
    rc = f == STEPARC_IN_SSE ? run_sse(c) : f == STEPARC_IN_JSONL ? run_jsonl(c) : run_json(c);
    if (rc == 0 && f == STEPARC_IN_SSE && !c->opt.no_rebuild)
        rc = rebuild_pending(c);
    while (c->npend)
        drop_pending(c, &c->pend[c->npend - 1]);
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
    int rc = run_input(c);
    c->mem = NULL;
    return rc;
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

static int add_file(steparc_converter *c, const char *path, int fd)
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
            return cfail(c, STEPARC_E_NOMEM, "out of memory");
        ZSTD_initDStream(c->zs);
        c->zin_len = c->zin_pos = 0;
        c->zin_eof = 0;
    }
    int rc = run_input(c);
    if (is_zst(path)) {
        sa_free(c->zin);
        c->zin = NULL;
    }
    c->fd = -1;
    return rc;
}

static int add_dir(steparc_converter *c, const char *path, int depth, uint64_t *found)
{
    struct dirent **list = NULL;
    if (depth > 64)
        return cfail(c, STEPARC_E_LIMIT, "%s: directories nested too deep", path);
    int n = scandir(path, &list, NULL, alphasort);
    if (n < 0)
        return cfail(c, STEPARC_E_IO, "cannot read directory %s: %s", path, strerror(errno));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = list[i]->d_name;
        if (rc == 0 && strcmp(nm, ".") != 0 && strcmp(nm, "..") != 0) {
            size_t pl = strlen(path) + strlen(nm) + 2;
            char *child = (char *)sa_malloc(pl);
            if (child == NULL)
                rc = cfail(c, STEPARC_E_NOMEM, "out of memory");
            else {
                snprintf(child, pl, "%s/%s", path, nm);
                struct stat st;
                if (stat(child, &st) != 0)
                    rc = cfail(c, STEPARC_E_IO, "cannot stat %s: %s", child, strerror(errno));
                else if (S_ISDIR(st.st_mode))
                    rc = add_dir(c, child, depth + 1, found);
                else if (S_ISREG(st.st_mode) && wanted_ext(nm)) {
                    int fd = open(child, O_RDONLY | O_CLOEXEC);
                    if (fd < 0)
                        rc = cfail(c, STEPARC_E_IO, "cannot open %s: %s", child, strerror(errno));
                    else {
                        (*found)++;
                        rc = add_file(c, child, fd);
                        close(fd);
                    }
                }
                sa_free(child);
            }
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

int steparc_converter_add_path(steparc_converter *c, const char *path)
{
    if (c == NULL || path == NULL)
        return STEPARC_E_ARG;
    if (c->failed)
        return STEPARC_E_MISUSE;
    if (strcmp(path, "-") == 0)
        return add_file(c, "(stdin)", 0);
    struct stat st;
    if (stat(path, &st) != 0)
        return cfail(c, STEPARC_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        uint64_t found = 0;
        int rc = add_dir(c, path, 0, &found);
        if (rc == 0 && found == 0)
            return cfail(c, STEPARC_E_INPUT,
                         "%s: no .json, .jsonl, .ndjson, .sse or .txt files (or .zst of them) found",
                         path);
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cfail(c, STEPARC_E_IO, "cannot open %s: %s", path, strerror(errno));
    int rc = add_file(c, path, fd);
    close(fd);
    return rc;
}
