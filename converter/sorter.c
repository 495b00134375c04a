/* sorter.c - external sort of u64 values (see sorter.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sorter.h"

typedef struct {
    uint64_t off, n; /* in values */
} run;

struct sa_sorter {
    uint64_t *mem;
    size_t n, limit;
    uint64_t total;
    int fd;
    char *dir;
    run *runs;
    size_t nruns, capruns;
};

int sa_sorter_open(sa_sorter **out, const char *dir, size_t limit)
{
    sa_sorter *s = (sa_sorter *)sa_calloc(1, sizeof *s);
    *out = NULL;
    if (s == NULL)
        return STEPARC_E_NOMEM;
    s->limit = limit ? limit : (size_t)1 << 20;
    s->fd = -1;
    size_t dl = strlen(dir ? dir : ".");
    s->dir = (char *)sa_malloc(dl + 1);
    s->mem = (uint64_t *)sa_malloc(s->limit * sizeof(uint64_t));
    if (s->dir == NULL || s->mem == NULL) {
        sa_sorter_close(s);
        return STEPARC_E_NOMEM;
    }
    memcpy(s->dir, dir ? dir : ".", dl + 1);
    *out = s;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return STEPARC_E_IO;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int spill(sa_sorter *s)
{
    if (s->fd < 0) {
        size_t dl = strlen(s->dir);
        char *tmpl = (char *)sa_malloc(dl + 32);
        if (tmpl == NULL)
            return STEPARC_E_NOMEM;
        snprintf(tmpl, dl + 32, "%s/.steparc-sort-XXXXXX", s->dir);
        s->fd = mkstemp(tmpl);
        if (s->fd >= 0)
            unlink(tmpl);
        sa_free(tmpl);
        if (s->fd < 0)
            return STEPARC_E_IO;
    }
    if (s->nruns == s->capruns) {
        size_t nc = s->capruns ? 2 * s->capruns : 16;
        run *nr = (run *)sa_realloc(s->runs, nc * sizeof *nr);
        if (nr == NULL)
            return STEPARC_E_NOMEM;
        s->runs = nr;
        s->capruns = nc;
    }
    qsort(s->mem, s->n, sizeof(uint64_t), cmp_u64);
    uint64_t off = s->nruns ? s->runs[s->nruns - 1].off + s->runs[s->nruns - 1].n : 0;
    unsigned char *buf = (unsigned char *)s->mem; /* encode LE in place */
    for (size_t i = 0; i < s->n; i++) {
        uint64_t v = s->mem[i];
        sa_put_u64(buf + 8 * i, v);
    }
    int rc = write_all(s->fd, buf, s->n * 8);
    if (rc)
        return rc;
    s->runs[s->nruns].off = off;
    s->runs[s->nruns].n = s->n;
    s->nruns++;
    s->n = 0;
    return 0;
}

int sa_sorter_push(sa_sorter *s, uint64_t v)
{
    if (s->n == s->limit) {
        int rc = spill(s);
        if (rc)
            return rc;
    }
    s->mem[s->n++] = v;
    s->total++;
    return 0;
}

uint64_t sa_sorter_count(const sa_sorter *s)
{
    return s->total;
}

size_t sa_sorter_runs(const sa_sorter *s)
{
    return s->nruns;
}

typedef struct {
    uint64_t *buf;
    size_t have, pos;
    uint64_t next_off, left; /* file position (values) and values not yet read */
} cursor;

static int refill(sa_sorter *s, cursor *c, size_t cap)
{
    size_t want = c->left < cap ? (size_t)c->left : cap;
    unsigned char *raw = (unsigned char *)c->buf;
    size_t got = 0;
    while (got < want * 8) {
        ssize_t r = pread(s->fd, raw + got, want * 8 - got, (off_t)(c->next_off * 8 + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return STEPARC_E_IO;
        got += (size_t)r;
    }
    for (size_t i = 0; i < want; i++)
        c->buf[i] = sa_get_u64(raw + 8 * i);
    c->have = want;
    c->pos = 0;
    c->next_off += want;
    c->left -= want;
    return 0;
}

int sa_sorter_finish(sa_sorter *s, int unique, int (*emit)(void *ctx, const uint64_t *v, size_t n),
                     void *ctx)
{
    int rc = 0;
    if (s->nruns == 0) {
        qsort(s->mem, s->n, sizeof(uint64_t), cmp_u64);
        size_t m = s->n;
        if (unique && m > 1) {
            size_t o = 1;
            for (size_t i = 1; i < s->n; i++)
                if (s->mem[i] != s->mem[o - 1])
                    s->mem[o++] = s->mem[i];
            m = o;
        }
        return m ? emit(ctx, s->mem, m) : 0;
    }
    if (s->n) {
        rc = spill(s);
        if (rc)
            return rc;
    }
    /* k-way merge; the in-memory array is reused as read buffers + output */
    size_t k = s->nruns;
    size_t per = s->limit / (k + 1);
    if (per < 512) {
        /* too many runs for the buffer: grow it (runs are 8 MiB each, so this
         * needs a very large input) */
        per = 512;
        uint64_t *nm = (uint64_t *)sa_realloc(s->mem, per * (k + 1) * sizeof(uint64_t));
        if (nm == NULL)
            return STEPARC_E_NOMEM;
        s->mem = nm;
    }
    cursor *cs = (cursor *)sa_calloc(k, sizeof *cs);
    if (cs == NULL)
        return STEPARC_E_NOMEM;
    for (size_t i = 0; i < k && rc == 0; i++) {
        cs[i].buf = s->mem + i * per;
        cs[i].next_off = s->runs[i].off;
        cs[i].left = s->runs[i].n;
        rc = refill(s, &cs[i], per);
    }
    uint64_t *outb = s->mem + k * per;
    size_t on = 0;
    int have_last = 0;
    uint64_t last = 0;
    while (rc == 0) {
        size_t best = k;
        for (size_t i = 0; i < k; i++) {
            if (cs[i].pos == cs[i].have && cs[i].left) {
                rc = refill(s, &cs[i], per);
                if (rc)
                    break;
            }
            if (cs[i].pos < cs[i].have &&
                (best == k || cs[i].buf[cs[i].pos] < cs[best].buf[cs[best].pos]))
                best = i;
        }
        if (rc || best == k)
            break;
        uint64_t v = cs[best].buf[cs[best].pos++];
        if (unique && have_last && v == last)
            continue;
        have_last = 1;
        last = v;
        outb[on++] = v;
        if (on == per) {
            rc = emit(ctx, outb, on);
            on = 0;
        }
    }
    if (rc == 0 && on)
        rc = emit(ctx, outb, on);
    sa_free(cs);
    return rc;
}

void sa_sorter_close(sa_sorter *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    sa_free(s->mem);
    sa_free(s->runs);
    sa_free(s->dir);
    sa_free(s);
}
