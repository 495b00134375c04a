/* reader.c - open an archive, look records up, keep a small block cache.
 *
 * Open reads the footer (the last 64 bytes), the section table and the block
 * index, and checks their checksums and every offset against the file size.
 * The other sections are checked on first use. Nothing read from the file is
 * trusted before it has been checked. */
#define _GNU_SOURCE
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createDDict_byReference: the dictionary stays in the mapped file */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "keyset.h"
#include "reader_internal.h"

/* ---- per-thread error text --------------------------------------------------- */

static _Thread_local struct {
    const void *handle;
    char msg[512];
} tls_err;

int sa_rfail(const steparc_reader *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_err.msg, sizeof tls_err.msg, fmt, ap);
    va_end(ap);
    tls_err.handle = r;
    return status;
}

const char *steparc_reader_errmsg(const steparc_reader *r)
{
    return (r != NULL && tls_err.handle == r) ? tls_err.msg : "";
}

void steparc_reader_options_init(steparc_reader_options *opt)
{
    if (opt) {
        memset(opt, 0, sizeof *opt);
        opt->cache_blocks = 4;
    }
}

/* ---- open ---------------------------------------------------------------------- */

static int open_fail(char *errbuf, size_t cap, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int open_fail(char *errbuf, size_t cap, int status, const char *fmt, ...)
{
    if (errbuf && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, cap, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* The archive parser (format/archive.c) checks everything open checks; the
 * reader keeps what it found. */
static int setup(steparc_reader *r, char *errbuf, size_t cap)
{
    sa_archive a;
    int rc = sa_archive_parse(&a, r->base, r->size, errbuf, cap);
    if (rc)
        return rc;
    r->hdr = a.hdr;
    r->ft = a.ft;
    r->ignored_tail = a.ignored_tail;
    r->bindex = a.bindex;
    r->nblocks = a.nblocks;
    for (int k = 0; k < SA_SLOT_COUNT; k++) {
        r->sec[k].present = a.slot[k].present;
        r->sec[k].packed = a.slot[k].packed;
        r->sec[k].s = a.slot[k].s;
    }
    r->sec[SA_SLOT_BLOCKS].verified = 1;
    return 0;
}

static int reader_new(steparc_reader **out, const steparc_reader_options *opt)
{
    steparc_reader *r = (steparc_reader *)sa_calloc(1, sizeof *r);
    if (r == NULL)
        return STEPARC_E_NOMEM;
    steparc_reader_options o;
    steparc_reader_options_init(&o);
    if (opt)
        o = *opt;
    if (o.cache_blocks > 1024)
        o.cache_blocks = 1024;
    r->cache_cap = o.cache_blocks;
    r->fd = -1;
    if (r->cache_cap) {
        r->cache = (sa_cblock **)sa_calloc(r->cache_cap, sizeof(sa_cblock *));
        if (r->cache == NULL) {
            sa_free(r);
            return STEPARC_E_NOMEM;
        }
    }
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

int steparc_reader_open_memory(steparc_reader **out, const void *data, size_t len,
                               const steparc_reader_options *opt, char *errbuf, size_t cap)
{
    if (out == NULL)
        return STEPARC_E_ARG;
    *out = NULL;
    if (data == NULL && len)
        return STEPARC_E_ARG;
    steparc_reader *r;
    int rc = reader_new(&r, opt);
    if (rc)
        return open_fail(errbuf, cap, rc, "out of memory");
    r->base = (const unsigned char *)data;
    r->size = len;
    rc = setup(r, errbuf, cap);
    if (rc) {
        steparc_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

int steparc_reader_open(steparc_reader **out, const char *path, const steparc_reader_options *opt,
                        char *errbuf, size_t cap)
{
    if (out == NULL)
        return STEPARC_E_ARG;
    *out = NULL;
    if (path == NULL)
        return STEPARC_E_ARG;
    steparc_reader *r;
    int rc = reader_new(&r, opt);
    if (rc)
        return open_fail(errbuf, cap, rc, "out of memory");
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        int e = errno;
        steparc_reader_close(r);
        return open_fail(errbuf, cap, STEPARC_E_IO, "cannot open %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        steparc_reader_close(r);
        return open_fail(errbuf, cap, STEPARC_E_IO, "%s is not a regular file", path);
    }
    r->size = (uint64_t)st.st_size;
    if (r->size > 0) {
        void *m = mmap(NULL, (size_t)r->size, PROT_READ, MAP_PRIVATE, r->fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            steparc_reader_close(r);
            return open_fail(errbuf, cap, STEPARC_E_IO, "cannot map %s: %s", path, strerror(e));
        }
        r->base = (const unsigned char *)m;
        r->mapped = 1;
    }
    rc = setup(r, errbuf, cap);
    if (rc) {
        char tmp[400];
        if (errbuf && cap) {
            snprintf(tmp, sizeof tmp, "%s", errbuf);
            snprintf(errbuf, cap, "%s: %s", path, tmp);
        }
        steparc_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

static void cblock_free(sa_cblock *b)
{
    if (b) {
        sa_free(b->raw);
        sa_free(b);
    }
}

void steparc_reader_close(steparc_reader *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->cache_cap; i++)
        cblock_free(r->cache[i]);
    sa_free(r->cache);
    for (size_t i = 0; i < r->ndctx; i++)
        ZSTD_freeDCtx(r->dctx[i]);
    ZSTD_freeDDict(r->ddict);
    if (r->mapped)
        munmap((void *)(uintptr_t)r->base, (size_t)r->size);
    if (r->fd >= 0)
        close(r->fd);
    pthread_mutex_destroy(&r->mu);
    sa_free(r);
}

void steparc_reader_cache_stats(uint64_t *hits, uint64_t *misses, const steparc_reader *r)
{
    steparc_reader *m = (steparc_reader *)(uintptr_t)r;
    if (r == NULL)
        return;
    pthread_mutex_lock(&m->mu);
    if (hits)
        *hits = r->hits;
    if (misses)
        *misses = r->misses;
    pthread_mutex_unlock(&m->mu);
}

uint64_t steparc_reader_count(const steparc_reader *r)
{
    return r ? r->ft.record_count : 0;
}

/* ---- sections ------------------------------------------------------------------ */

int sa_section_get(steparc_reader *r, int slot, const unsigned char **p, uint64_t *len)
{
    sa_rsection *s = &r->sec[slot];
    if (!s->present)
        return STEPARC_E_NOTFOUND;
    pthread_mutex_lock(&r->mu);
    if (!s->verified && !s->bad) {
        if (sa_section_crc_check(r->base, &s->s) == 0)
            s->verified = 1;
        else
            s->bad = 1;
    }
    int bad = s->bad;
    pthread_mutex_unlock(&r->mu);
    if (bad) {
        char m[160];
        sa_section_crc_msg(&s->s, m, sizeof m);
        sa_rfail(r, STEPARC_E_CORRUPT, "%s", m);
        return STEPARC_E_CORRUPT;
    }
    *p = r->base + s->s.offset;
    *len = s->s.length;
    return 0;
}

/* sa_index_find (all 0: the lows of `key`) and sa_index_each (all 1: every
 * value), over a plain or a packed section. */
static int index_walk(steparc_reader *r, int slot, int all, uint32_t key,
                      int (*fn)(void *ctx, uint64_t x), void *ctx)
{
    const unsigned char *p;
    uint64_t len;
    int rc = sa_section_get(r, slot, &p, &len);
    if (rc)
        return rc;
    const char *why = "";
    if (r->sec[slot].packed) {
        sa_keyset ks;
        rc = sa_keyset_open(&ks, p, len, &why);
        if (rc == 0)
            rc = all ? sa_keyset_each(&ks, fn, ctx, &why) : sa_keyset_find(&ks, key, fn, ctx, &why);
    } else if (all) {
        for (uint64_t i = 0; rc == 0 && i < len / 8; i++)
            rc = fn(ctx, sa_get_u64(p + 8 * i));
    } else {
        size_t n = (size_t)(len / 8);
        for (size_t i = sa_lower_bound(p, n, (uint64_t)key << 32); rc == 0 && i < n; i++) {
            uint64_t v = sa_get_u64(p + 8 * i);
            if ((uint32_t)(v >> 32) != key)
                break;
            rc = fn(ctx, v & 0xffffffffu);
        }
    }
    if (rc == STEPARC_E_CORRUPT && why[0])
        return sa_rfail(r, rc, "index section of type %u: %s", r->sec[slot].s.type, why);
    return rc;
}

int sa_index_find(steparc_reader *r, int slot, uint32_t key, int (*fn)(void *ctx, uint64_t low),
                  void *ctx)
{
    return index_walk(r, slot, 0, key, fn, ctx);
}

int sa_index_each(steparc_reader *r, int slot, int (*fn)(void *ctx, uint64_t v), void *ctx)
{
    return index_walk(r, slot, 1, 0, fn, ctx);
}

/* ---- blocks -------------------------------------------------------------------- */

void sa_block_entry_at(const steparc_reader *r, uint64_t b, sa_block_entry *e)
{
    sa_block_entry_decode(r->bindex + b * SA_BLOCK_INDEX_ENTRY_SIZE, e);
}

/* The archive's dictionary, for a block compressed with it: section 7's CRC
 * checked and the decompression dictionary made (referencing the mapped
 * bytes) once, by the first thread that needs it. */
static int ensure_ddict(steparc_reader *r)
{
    if (atomic_load_explicit(&r->ddict_ready, memory_order_acquire))
        return 0;
    int rc = 0;
    pthread_mutex_lock(&r->mu);
    if (r->ddict == NULL) {
        sa_rsection *s = &r->sec[SA_SLOT_DICT];
        const unsigned char *p = r->base + s->s.offset;
        if (!s->present)
            rc = STEPARC_E_NOTFOUND;
        else if (s->bad || sa_section_crc_check(r->base, &s->s) != 0)
            rc = STEPARC_E_CORRUPT;
        else if ((r->ddict = ZSTD_createDDict_byReference(p, (size_t)s->s.length)) == NULL)
            rc = STEPARC_E_NOMEM;
        s->bad = rc == STEPARC_E_CORRUPT;
        s->verified = rc == 0;
        if (rc == 0)
            atomic_store_explicit(&r->ddict_ready, 1, memory_order_release);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static ZSTD_DCtx *get_dctx(steparc_reader *r)
{
    ZSTD_DCtx *d = NULL;
    pthread_mutex_lock(&r->mu);
    if (r->ndctx)
        d = r->dctx[--r->ndctx];
    pthread_mutex_unlock(&r->mu);
    return d ? d : ZSTD_createDCtx();
}

static void put_dctx(steparc_reader *r, ZSTD_DCtx *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->ndctx < SA_MAX_DCTX) {
        r->dctx[r->ndctx++] = d;
        d = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    ZSTD_freeDCtx(d);
}

/* The dictionary a block needs, when it needs one: NULL with 0 when it does
 * not, or the reader's message set. */
static int block_ddict(steparc_reader *r, uint64_t b, const sa_block_entry *e,
                       const sa_block_header *h, const ZSTD_DDict **dd)
{
    *dd = NULL;
    if (h->codec == SA_CODEC_NONE || !(h->flags & SA_BLOCK_FLAG_DICT))
        return 0;
    int rc = ensure_ddict(r);
    if (rc == STEPARC_E_NOMEM)
        return sa_rfail(r, rc, "out of memory");
    if (rc)
        return sa_rfail(r, STEPARC_E_CORRUPT,
                        rc == STEPARC_E_NOTFOUND
                            ? "block %llu at offset %llu needs the archive's dictionary, which is missing"
                            : "block %llu at offset %llu needs the archive's dictionary, whose section "
                              "is damaged (try 'steparc recover')",
                        (unsigned long long)b, (unsigned long long)e->offset);
    *dd = r->ddict;
    return 0;
}

/* Reads, checks and decodes block b (format/archive.c): the block index
 * entries were checked by open, so the block lies before the section table. */
int sa_block_load(steparc_reader *r, uint64_t b, sa_cblock **out)
{
    sa_block_entry e;
    sa_block_header h;
    const char *why = NULL;
    *out = NULL;
    sa_block_entry_at(r, b, &e);
    const unsigned char *hp = r->base + e.offset;
    if (sa_block_check(r->hdr.sync, hp, r->ft.section_table_offset - e.offset, &e, &h, &why) != 0)
        return sa_rfail(r, STEPARC_E_CORRUPT, "block %llu at offset %llu: %s",
                        (unsigned long long)b, (unsigned long long)e.offset, why);
    const ZSTD_DDict *dd;
    int rc = block_ddict(r, b, &e, &h, &dd);
    if (rc)
        return rc;
    sa_cblock *cb = (sa_cblock *)sa_calloc(1, sizeof *cb);
    ZSTD_DCtx *d = h.codec == SA_CODEC_NONE ? NULL : get_dctx(r);
    if (cb == NULL || (d == NULL && h.codec != SA_CODEC_NONE)) {
        sa_free(cb);
        put_dctx(r, d);
        return sa_rfail(r, STEPARC_E_NOMEM, "out of memory");
    }
    char m[200];
    size_t rows_size;
    rc = sa_block_decode(&h, hp + SA_BLOCK_HEADER_SIZE, e.rows_size, d, dd, &cb->raw, &rows_size,
                         m, sizeof m);
    put_dctx(r, d);
    if (rc) {
        sa_free(cb);
        return rc == STEPARC_E_NOMEM ? sa_rfail(r, rc, "out of memory")
                                     : sa_rfail(r, rc, "block %llu at offset %llu: %s",
                                                (unsigned long long)b, (unsigned long long)e.offset, m);
    }
    cb->block = b;
    cb->count = h.record_count;
    cb->first = h.first_ordinal;
    cb->raw_size = (uint32_t)rows_size;
    *out = cb;
    return 0;
}

int sa_block_pin(steparc_reader *r, uint64_t b, sa_cblock **out)
{
    if (r->cache_cap) {
        pthread_mutex_lock(&r->mu);
        for (size_t i = 0; i < r->cache_cap; i++) {
            sa_cblock *c = r->cache[i];
            if (c && c->block == b) {
                c->pins++;
                c->last_use = ++r->clock;
                r->hits++;
                pthread_mutex_unlock(&r->mu);
                *out = c;
                return 0;
            }
        }
        r->misses++;
        pthread_mutex_unlock(&r->mu);
    } else {
        pthread_mutex_lock(&r->mu);
        r->misses++;
        pthread_mutex_unlock(&r->mu);
    }
    sa_cblock *nb;
    int rc = sa_block_load(r, b, &nb);
    if (rc)
        return rc;
    nb->pins = 1;
    if (r->cache_cap) {
        pthread_mutex_lock(&r->mu);
        size_t victim = r->cache_cap;
        for (size_t i = 0; i < r->cache_cap; i++) {
            sa_cblock *c = r->cache[i];
            if (c && c->block == b) { /* another thread loaded it meanwhile */
                c->pins++;
                c->last_use = ++r->clock;
                pthread_mutex_unlock(&r->mu);
                cblock_free(nb);
                *out = c;
                return 0;
            }
            if (c == NULL) {
                if (victim == r->cache_cap || r->cache[victim] != NULL)
                    victim = i;
            } else if (c->pins == 0 &&
                       (victim == r->cache_cap ||
                        (r->cache[victim] != NULL && c->last_use < r->cache[victim]->last_use))) {
                victim = i;
            }
        }
        if (victim < r->cache_cap) {
            sa_cblock *old = r->cache[victim];
            nb->cached = 1;
            nb->last_use = ++r->clock;
            r->cache[victim] = nb;
            pthread_mutex_unlock(&r->mu);
            cblock_free(old);
            *out = nb;
            return 0;
        }
        pthread_mutex_unlock(&r->mu);
    }
    *out = nb;
    return 0;
}

void sa_block_unpin(steparc_reader *r, sa_cblock *c)
{
    if (c == NULL)
        return;
    if (!c->cached) {
        cblock_free(c);
        return;
    }
    pthread_mutex_lock(&r->mu);
    c->pins--;
    pthread_mutex_unlock(&r->mu);
}

/* Block holding ordinal n (n < count). */
uint64_t sa_block_of(const steparc_reader *r, uint64_t n)
{
    uint64_t lo = 0, hi = r->nblocks;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        uint64_t first = sa_get_u64(r->bindex + mid * SA_BLOCK_INDEX_ENTRY_SIZE + 8);
        if (first <= n)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* ---- lookups -------------------------------------------------------------------- */

/* Calls fn with record n's bytes while its block is pinned. */
static int with_record(steparc_reader *r, uint64_t n,
                       int (*fn)(void *ctx, const unsigned char *p, size_t len), void *ctx)
{
    if (r == NULL)
        return STEPARC_E_ARG;
    if (n >= r->ft.record_count)
        return sa_rfail(r, STEPARC_E_NOTFOUND, "record %llu does not exist (the archive has %llu)",
                        (unsigned long long)n, (unsigned long long)r->ft.record_count);
    sa_cblock *c;
    int rc = sa_block_pin(r, sa_block_of(r, n), &c);
    if (rc)
        return rc;
    const unsigned char *p;
    size_t len;
    sa_rows_get(c->raw, c->count, (uint32_t)(n - c->first), &p, &len);
    rc = fn(ctx, p, len);
    sa_block_unpin(r, c);
    return rc;
}

static int copy_mp(void *ctx, const unsigned char *p, size_t len)
{
    steparc_buf *b = (steparc_buf *)ctx;
    b->len = 0;
    return sa_buf_append(b, p, len);
}

typedef struct {
    steparc_buf *out;
    unsigned flags;
} json_ctx;

static int to_json(void *ctx, const unsigned char *p, size_t len)
{
    json_ctx *j = (json_ctx *)ctx;
    j->out->len = 0;
    return sa_json_append(p, len, j->flags, j->out);
}

static int to_step(void *ctx, const unsigned char *p, size_t len)
{
    int rc = steparc_step_decode((steparc_step **)ctx, p, len);
    return rc == STEPARC_E_INPUT ? STEPARC_E_CORRUPT : rc;
}

int steparc_reader_get_msgpack(steparc_buf *out, steparc_reader *r, uint64_t n)
{
    if (out == NULL)
        return STEPARC_E_ARG;
    int rc = with_record(r, n, copy_mp, out);
    if (rc == STEPARC_E_NOMEM)
        sa_rfail(r, rc, "out of memory");
    return rc;
}

int steparc_reader_get_json(steparc_buf *out, steparc_reader *r, uint64_t n, unsigned flags)
{
    if (out == NULL)
        return STEPARC_E_ARG;
    json_ctx j = {out, flags};
    int rc = with_record(r, n, to_json, &j);
    if (rc == STEPARC_E_CORRUPT && tls_err.handle != r)
        sa_rfail(r, rc, "record %llu is not valid JSON-compatible MessagePack",
                 (unsigned long long)n);
    return rc;
}

/* Runs a view decoder on record n; *out must be NULL-ed by the caller. */
static int get_view(steparc_reader *r, uint64_t n,
                    int (*fn)(void *ctx, const unsigned char *p, size_t len), void *out)
{
    tls_err.handle = NULL;
    int rc = with_record(r, n, fn, out);
    if (rc != 0 && tls_err.handle != r)
        sa_rfail(r, rc, "record %llu cannot be decoded: %s", (unsigned long long)n,
                 steparc_strerror(rc));
    return rc;
}

int steparc_reader_get_step(steparc_step **out, steparc_reader *r, uint64_t n)
{
    if (out == NULL)
        return STEPARC_E_ARG;
    *out = NULL;
    return get_view(r, n, to_step, out);
}

/* The other kinds' views: the same as get_step, through their decoders (a
 * stored record that does not decode is damage, not bad input). Written once
 * for the four kinds. */
#define READER_GET_VIEW(NAME, T)                                                          \
    static int to_##NAME(void *ctx, const unsigned char *p, size_t len)                   \
    {                                                                                     \
        int rc = steparc_##NAME##_decode((T **)ctx, p, len);                              \
        return rc == STEPARC_E_INPUT ? STEPARC_E_CORRUPT : rc;                            \
    }                                                                                     \
    int steparc_reader_get_##NAME(T **out, steparc_reader *r, uint64_t n)                 \
    {                                                                                     \
        if (out == NULL)                                                                  \
            return STEPARC_E_ARG;                                                         \
        *out = NULL;                                                                      \
        return get_view(r, n, to_##NAME, out);                                            \
    }

READER_GET_VIEW(message, steparc_message)
READER_GET_VIEW(run, steparc_run)
READER_GET_VIEW(thread, steparc_thread)
READER_GET_VIEW(assistant, steparc_assistant)

/* First index position whose value is >= key. */
size_t sa_lower_bound(const unsigned char *p, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sa_get_u64(p + 8 * mid) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct {
    steparc_reader *r;
    const char *id;
    size_t len;
    int match;
    uint64_t ordinal;
} id_ctx;

#define FOUND 1 /* id_candidate: stop, c->ordinal holds the answer */

static int id_matches(void *ctx, const unsigned char *p, size_t len)
{
    id_ctx *c = (id_ctx *)ctx;
    sa_keyfields kf;
    if (sa_mp_keyfields(p, len, &kf) != 0)
        return STEPARC_E_CORRUPT;
    c->match = kf.id.ptr != NULL && kf.id.len == c->len && memcmp(kf.id.ptr, c->id, c->len) == 0;
    return 0;
}

/* One id index entry with the id's key: read its record and compare (a key
 * collision costs one more record read, never a wrong answer). */
static int id_candidate(void *ctx, uint64_t ord)
{
    id_ctx *c = (id_ctx *)ctx;
    if (ord >= c->r->ft.record_count)
        return sa_rfail(c->r, STEPARC_E_CORRUPT, "id index entry points past the last record");
    int rc = with_record(c->r, ord, id_matches, c);
    if (rc)
        return rc;
    if (!c->match)
        return 0;
    c->ordinal = ord;
    return FOUND;
}

int steparc_reader_find_id(uint64_t *ordinal, steparc_reader *r, const char *id, size_t len)
{
    if (r == NULL || ordinal == NULL || (id == NULL && len))
        return STEPARC_E_ARG;
    id_ctx c = {r, id, len, 0, 0};
    int rc = sa_index_find(r, SA_SLOT_IDS, sa_key32(id, len), id_candidate, &c);
    if (rc == STEPARC_E_NOTFOUND)
        return sa_rfail(r, STEPARC_E_NOTFOUND, "the archive has no id index");
    if (rc == FOUND) {
        *ordinal = c.ordinal;
        return 0;
    }
    if (rc)
        return rc;
    return sa_rfail(r, STEPARC_E_NOTFOUND, "no record has id \"%.*s\"", (int)(len > 100 ? 100 : len),
                    id);
}

/* ---- info ----------------------------------------------------------------------- */

int steparc_reader_info(steparc_info *info, const steparc_reader *r)
{
    if (r == NULL || info == NULL)
        return STEPARC_E_ARG;
    memset(info, 0, sizeof *info);
    info->format_major = r->hdr.major;
    info->format_minor = r->hdr.minor;
    info->records = r->ft.record_count;
    info->blocks = r->nblocks;
    info->file_size = r->size;
    info->min_created_at = INT64_MAX;
    info->max_created_at = INT64_MIN;
    for (uint64_t b = 0; b < r->nblocks; b++) {
        sa_block_entry e;
        sa_block_entry_at(r, b, &e);
        info->stored_bytes += e.stored_size;
        info->raw_bytes += (e.rows_size ? e.rows_size : e.raw_size) - 4 * (uint64_t)e.record_count;
        info->columnar_blocks += e.rows_size != 0;
        if (e.min_created_at <= e.max_created_at) {
            if (e.min_created_at < info->min_created_at)
                info->min_created_at = e.min_created_at;
            if (e.max_created_at > info->max_created_at)
                info->max_created_at = e.max_created_at;
        }
    }
    info->time_ordered = (r->ft.flags & SA_FOOTER_TIME_ORDERED) != 0;
    info->sections = r->ft.section_count;
    info->has_id_index = r->sec[SA_SLOT_IDS].present;
    info->has_run_index = r->sec[SA_SLOT_RUNS].present;
    info->has_thread_index = r->sec[SA_SLOT_THREADS].present;
    info->has_stats = r->sec[SA_SLOT_STATS].present;
    info->has_block_kinds = r->sec[SA_SLOT_BLOCK_KINDS].present;
    info->ignored_tail_bytes = r->ignored_tail;
    return 0;
}

/* ---- records per kind ---------------------------------------------------------------- */

/* Adds the counts of a by_kind map (the reader at its header) to counts. */
static int add_kind_counts(sa_mpr *m, uint64_t counts[STEPARC_KINDS])
{
    sa_mpitem map, k, v;
    if (sa_mp_read(m, &map) != 0 || map.type != SA_MP_MAP)
        return -1;
    for (uint32_t i = 0; i < map.n; i++) {
        if (sa_mp_read(m, &k) != 0 || k.type != SA_MP_STR || sa_mp_read(m, &v) != 0)
            return -1;
        uint64_t n;
        if (v.type == SA_MP_INT && v.i >= 0)
            n = (uint64_t)v.i;
        else if (v.type == SA_MP_UINT)
            n = v.u;
        else
            return -1;
        int kind = steparc_kind_of_object(k.s, k.n);
        counts[kind] = n > UINT64_MAX - counts[kind] ? UINT64_MAX : counts[kind] + n;
    }
    return 0;
}

int steparc_reader_kind_counts(uint64_t counts[STEPARC_KINDS], steparc_reader *r)
{
    if (counts == NULL || r == NULL)
        return STEPARC_E_ARG;
    memset(counts, 0, STEPARC_KINDS * sizeof counts[0]);
    if (!r->sec[SA_SLOT_STATS].present)
        return sa_rfail(r, STEPARC_E_NOTFOUND, "the archive has no statistics section");
    const unsigned char *p;
    uint64_t len;
    int rc = sa_section_get(r, SA_SLOT_STATS, &p, &len);
    if (rc)
        return rc;
    sa_mpr m = {p, p + len};
    sa_mpitem top, k;
    if (sa_mp_read(&m, &top) != 0 || top.type != SA_MP_MAP)
        return sa_rfail(r, STEPARC_E_CORRUPT, "statistics section is not a map");
    for (uint32_t i = 0; i < top.n; i++) {
        if (sa_mp_read(&m, &k) != 0 || k.type != SA_MP_STR)
            return sa_rfail(r, STEPARC_E_CORRUPT, "statistics section is not a valid map");
        if (k.n == 7 && memcmp(k.s, "by_kind", 7) == 0) {
            if (add_kind_counts(&m, counts) == 0)
                return 0;
            memset(counts, 0, STEPARC_KINDS * sizeof counts[0]);
            return sa_rfail(r, STEPARC_E_CORRUPT,
                            "statistics by_kind is not a map of kinds to counts");
        }
        if (sa_mp_skip(&m, STEPARC_MAX_DEPTH) != 0)
            return sa_rfail(r, STEPARC_E_CORRUPT, "statistics section is not a valid map");
    }
    return sa_rfail(r, STEPARC_E_NOTFOUND,
                    "the statistics do not count records per kind (an archive before format 1.3)");
}
