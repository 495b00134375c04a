/* jsonl.c - line-oriented input (JSONL, NDJSON) parsed in parallel.
 *
 * Line-oriented input is cut into batches of whole lines; batches are parsed
 * on worker threads and their records handed to the writer strictly in input
 * order, so the archive is the same for every thread count. */
#define _GNU_SOURCE
#include <pthread.h>
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
    int state;              /* 0 free, 1 queued, 2 parsing, 3 done */
    uint64_t seq;
} batch;

typedef struct sa_jsonl_pool {
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

void sa_jsonl_pool_free(pool *pl)
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
        sa_jsonl_pool_free(pl);
        return STEPARC_E_NOMEM;
    }
    if (threads > 1) {
        pl->th = (pthread_t *)sa_calloc((size_t)threads, sizeof(pthread_t));
        if (pl->th == NULL) {
            sa_jsonl_pool_free(pl);
            return STEPARC_E_NOMEM;
        }
        for (int i = 0; i < threads; i++) {
            if (pthread_create(&pl->th[i], NULL, pool_worker, pl) != 0)
                break;
            pl->n++;
        }
        if (pl->n == 0) {
            sa_jsonl_pool_free(pl);
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
            return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
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

int sa_conv_run_jsonl(steparc_converter *c)
{
    int rc = 0;
    if (c->pool == NULL && (rc = pool_new(c, c->opt.threads)) != 0)
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
