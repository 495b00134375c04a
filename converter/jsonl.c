/* jsonl.c - line-oriented input (JSONL, NDJSON) parsed in parallel.
 *
 * Line-oriented input is cut into batches of whole lines; batches are parsed
 * on the ordered worker pool (format/pool.c) and their records handed to the
 * writer strictly in input order, so the archive is the same for every
 * thread count. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "convert_internal.h"

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
} batch;

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

/* Notes the record parsed last (its MessagePack ends at b->mp.len), from
 * line `line`. 0 or STEPARC_E_NOMEM. */
static int push_record(batch *b, uint64_t line)
{
    if (b->n == b->capn) {
        size_t nc = b->capn ? 2 * b->capn : 256;
        size_t *ne = (size_t *)sa_realloc(b->ends, nc * sizeof *ne);
        uint64_t *nli = ne ? (uint64_t *)sa_realloc(b->lines, nc * sizeof *nli) : NULL;
        if (ne)
            b->ends = ne;
        if (nli)
            b->lines = nli;
        if (ne == NULL || nli == NULL)
            return STEPARC_E_NOMEM;
        b->capn = nc;
    }
    b->ends[b->n] = b->mp.len;
    b->lines[b->n] = line;
    b->n++;
    return 0;
}

/* Parses the non-blank line p[0..ll) (nl: its '\n' or NULL) into b->mp.
 * 0 parsed and noted; 1 a bad line noted (parsing goes on); -1 stop. */
static int parse_line(batch *b, const char *p, size_t ll, const char *nl, uint64_t line)
{
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
        snprintf(e.reason, sizeof e.reason, "unexpected text after the JSON value on this line");
    }
    if (rc == 0) {
        if (push_record(b, line) == 0)
            return 0;
        push_bad(b, line, 1, (size_t)(p - b->text), ll, STEPARC_E_NOMEM, 0, "out of memory");
        return -1;
    }
    const char *reason = e.reason;
    if (inc)
        reason = (b->last && !nl) ? "truncated record at the end of the input"
                                  : "the JSON value does not end on its line (for "
                                    "values that span lines use --input-format json)";
    if (push_bad(b, line, inc ? 1 : e.column, (size_t)(p - b->text), ll, rc, inc, reason) != 0 ||
        !b->skip_invalid || rc == STEPARC_E_NOMEM)
        return -1;
    return 1;
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
        if (!blank(p, ll) && parse_line(b, p, ll, nl, line) < 0)
            return;
        line++;
        p = nl ? nl + 1 : end;
    }
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
            rc = sa_conv_fail(c, x->status == STEPARC_E_NOMEM ? STEPARC_E_NOMEM
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
        rc = sa_conv_value(c, (const unsigned char *)b->mp.data + from, b->ends[i] - from, 0);
        c->fixed_loc = 0;
    }
    return rc;
}

/* The pool's callbacks: a worker parses a batch; the caller delivers it. */
static int parse_item(void *ctx, void *tls, void *item)
{
    (void)ctx;
    (void)tls;
    parse_batch((batch *)item);
    return 0;
}

static int deliver_item(void *ctx, void *item, int status)
{
    (void)status; /* parse_item always succeeds: its errors are bad lines */
    return deliver((steparc_converter *)ctx, (batch *)item);
}

static void free_batch(void *ctx, void *item)
{
    (void)ctx;
    batch *b = (batch *)item;
    sa_free(b->text);
    steparc_buf_free(&b->mp);
    sa_free(b->ends);
    sa_free(b->lines);
    sa_free(b->bad);
}

/* The converter keeps its pool from input to input. threads <= 1: no
 * workers, each batch parsed and delivered inside submit. */
static int pool_open(steparc_converter *c, int threads)
{
    sa_pool_def def;
    memset(&def, 0, sizeof def);
    def.ctx = c;
    def.item_size = sizeof(batch);
    def.threads = threads > 1 ? threads : 0;
    def.nslots = (size_t)def.threads * 3;
    def.work = parse_item;
    def.deliver = deliver_item;
    def.item_fini = free_batch;
    return sa_pool_open(&c->pool, &def);
}

/* Queues text[0..len), whole lines, as the next batch. */
static int submit(steparc_converter *c, const unsigned char *text, size_t len, int last)
{
    batch *b = NULL;
    int rc = sa_pool_acquire((void **)&b, c->pool);
    if (rc)
        return rc;
    b->first_line = c->line;
    b->last = last;
    b->skip_invalid = c->opt.skip_invalid;
    if (sa_pool_threads(c->pool) == 0) {
        /* no workers: parse the window in place (it stays put until the
         * batch is delivered, inside submit) */
        char *own = b->text;
        b->text = (char *)(uintptr_t)text;
        b->len = len;
        rc = sa_pool_submit(c->pool, b);
        b->text = own;
        return rc;
    }
    if (b->cap < len) {
        char *nt = (char *)sa_realloc(b->text, len);
        if (nt == NULL)
            return sa_pool_cancel(c->pool, sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory"));
        b->text = nt;
        b->cap = len;
    }
    memcpy(b->text, text, len);
    b->len = len;
    return sa_pool_submit(c->pool, b);
}
int sa_conv_run_jsonl(steparc_converter *c)
{
    int rc = 0;
    if (c->pool == NULL && (rc = pool_open(c, c->opt.threads)) != 0)
        return sa_conv_fail(c, rc, "out of memory");
    for (;;) {
        rc = sa_conv_fill(c, BATCH_BYTES);
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
                rc = sa_conv_fill(c, avail + (avail > SA_READ_CHUNK ? avail : SA_READ_CHUNK));
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
        sa_conv_consume(c, cut);
    }
    /* deliver what is in flight, in order; after an error, only wait for it.
     * The pool's error is sticky, so a failed pool is not kept for the
     * next input. */
    if (rc == 0)
        rc = sa_pool_finish(c->pool);
    if (rc) {
        sa_pool_cancel(c->pool, rc);
        sa_pool_close(c->pool);
        c->pool = NULL;
    }
    return rc;
}

/* AUTO: JSONL when the first value is an object that ends on its first line. */
