/* writer.c - the archive writer: records -> blocks -> indexes -> footer.
 * This file: the public API, what each record adds (accounting), closing a
 * block; compress.c compresses and writes blocks (on worker threads or
 * inline), dict.c trains the dictionary, append.c opens an archive to append
 * to, dedup.c drops duplicates, sections.c writes the indexes and footer.
 *
 * Data goes to a temporary file next to the output; finish fsyncs it and
 * renames it into place, so the output path only ever holds a complete
 * archive. Index entries go through external sorters, so memory stays
 * bounded whatever the input size. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writer_impl.h"

/* The default sync marker: fixed, so that output is deterministic. */
static const unsigned char g_default_sync[SA_SYNC_SIZE] = SA_DEFAULT_SYNC;

void steparc_writer_options_init(steparc_writer_options *opt)
{
    if (opt == NULL)
        return;
    memset(opt, 0, sizeof *opt);
    opt->block_size = 64u * 1024;
    opt->level = 3;
    opt->threads = 1;
    opt->dict_size = 0;
}

int sa_wr_fail(steparc_writer *w, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    return status;
}

int sa_wr_io_fail(steparc_writer *w, const char *what)
{
    int e = errno;
    w->failed = 1;
    return sa_wr_fail(w, STEPARC_E_IO, "%s %s: %s", what, w->file.tmppath ? w->file.tmppath : w->file.path,
                 strerror(e));
}

int sa_wr_write(steparc_writer *w, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n) {
        ssize_t k = write(w->file.fd, c, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return sa_wr_io_fail(w, "cannot write");
        }
        c += k;
        n -= (size_t)k;
        w->file.off += (uint64_t)k;
    }
    return 0;
}

/* Sorts a block's run/thread/assistant keys (tens to thousands): insertion
 * sort for short lists, else a shell sort; both inline, unlike qsort. */
static void sort_u32(uint32_t *v, size_t n)
{
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
        size_t gap = gaps[g];
        for (size_t i = gap; i < n; i++) {
            uint32_t x = v[i];
            size_t j = i;
            for (; j >= gap && v[j - gap] > x; j -= gap)
                v[j] = v[j - gap];
            v[j] = x;
        }
    }
}

/* The run/thread/assistant keys of the block being closed become postings
 * of block bno: one entry per distinct key. */
static int push_postings(steparc_writer *w, uint64_t bno)
{
    for (int k = 0; k < 3; k++) {
        if (w->blk.npkeys[k] > 1)
            sort_u32(w->blk.pkeys[k], w->blk.npkeys[k]);
        for (size_t i = 0; i < w->blk.npkeys[k]; i++) {
            if (i && w->blk.pkeys[k][i] == w->blk.pkeys[k][i - 1])
                continue;
            if (sa_sorter_push_u64(w->idx.post[k], ((uint64_t)w->blk.pkeys[k][i] << 32) | bno) != 0)
                return sa_wr_fail(w, STEPARC_E_IO, "cannot spill index entries to a temporary file");
        }
        w->blk.npkeys[k] = 0;
    }
    return 0;
}

/* The closing block's created_at range [bmin, bmax] keeps the archive
 * time_ordered or not (footer flag); the range starts again empty. */
static void close_block_times(steparc_writer *w)
{
    if (w->blk.bmin <= w->blk.bmax) {
        if (w->acc.have_prev && w->blk.bmin < w->acc.prev_max)
            w->acc.time_ordered = 0;
        w->acc.prev_max = w->blk.bmax;
        w->acc.have_prev = 1;
    }
    w->blk.bmin = INT64_MAX;
    w->blk.bmax = INT64_MIN;
}

int sa_wr_end_block(steparc_writer *w)
{
    int rc = push_postings(w, w->acc.blocks_flushed);
    if (rc)
        return rc;
    if (w->minor >= 3) {
        unsigned char m[4];
        sa_put_u32(m, w->blk.kinds);
        if (sa_buf_append(&w->idx.kinds, m, 4) != 0)
            return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    }
    w->blk.kinds = 0;
    close_block_times(w);
    w->acc.blocks_flushed++;
    w->blk.first = w->acc.records;
    return 0;
}

/* Closes the current block: builds its payload, ends the block, then holds
 * it (while the dictionary is being decided) or compresses it (here or on a
 * worker). */
int sa_wr_flush_block(steparc_writer *w)
{
    if (w->blk.nends == 0)
        return 0;
    /* the payload: the record end offsets, then the records, written into
     * the gap in front of the records (widened when too narrow: the first
     * block, or a block of smaller records than before) */
    size_t table = 4 * w->blk.nends, bytes = w->blk.recs.len - w->blk.gap;
    if (table > w->blk.gap) {
        size_t ng = table + table / 4 + 64;
        if (sa_buf_reserve(&w->blk.recs, ng - w->blk.gap) != 0)
            return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
        memmove(w->blk.recs.data + ng, w->blk.recs.data + w->blk.gap, bytes);
        w->blk.gap = ng;
        w->blk.recs.len = ng + bytes;
    }
    unsigned char *tab = (unsigned char *)w->blk.recs.data + w->blk.gap - table;
    for (size_t i = 0; i < w->blk.nends; i++)
        sa_put_u32(tab + 4 * i, w->blk.ends[i]);
    steparc_buf view = {(char *)tab, table + bytes, 0}; /* borrowed from recs */
    steparc_buf *raw = &view;
    sa_block_header hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.kind = SA_BLOCK_DATA;
    hdr.layout = SA_LAYOUT_ROWS;
    hdr.record_count = (uint32_t)w->blk.nends;
    hdr.first_ordinal = w->blk.first;
    hdr.min_created_at = w->blk.bmin;
    hdr.max_created_at = w->blk.bmax;
    hdr.raw_size = (uint32_t)raw->len;
    int rc = sa_wr_end_block(w);
    if (rc)
        return rc;
    w->blk.nends = 0;
    w->blk.recs.len = w->blk.gap;
    if (w->dict.state == SA_WR_DICT_COLLECTING)
        return sa_wr_hold_block(w, raw, &hdr, raw->len - table);
    return sa_wr_submit_block(w, raw, &hdr, 0, NULL, 0);
}

/* ---- open ---------------------------------------------------------------------- */

static int open_impl(steparc_writer **out, const char *path, const steparc_writer_options *opt,
                     int append, char *errbuf, size_t cap);

int steparc_writer_open(steparc_writer **out, const char *path, const steparc_writer_options *opt,
                        char *errbuf, size_t errbuf_size)
{
    if (errbuf && errbuf_size)
        errbuf[0] = 0;
    return open_impl(out, path, opt, 0, errbuf, errbuf_size);
}

int steparc_writer_open_append(steparc_writer **out, const char *path,
                               const steparc_writer_options *opt, char *errbuf, size_t errbuf_size)
{
    if (errbuf && errbuf_size)
        errbuf[0] = 0;
    if (opt && opt->dedup) {
        if (out)
            *out = NULL;
        sa_fmt(errbuf, errbuf_size,
               "append keeps every record (duplicates cannot be dropped without rewriting "
               "blocks; use merge)");
        return STEPARC_E_ARG;
    }
    return open_impl(out, path, opt, 1, errbuf, errbuf_size);
}

/* The options, checked; 0 or STEPARC_E_ARG with the message in errbuf. */
static int check_options(steparc_writer_options *o, const steparc_writer_options *opt,
                         char *errbuf, size_t cap)
{
    steparc_writer_options_init(o);
    if (opt)
        *o = *opt;
    if (o->block_size < 1024 || o->block_size > 64u * 1024 * 1024) {
        sa_fmt(errbuf, cap, "block size %u is outside 1 KiB..64 MiB", (unsigned)o->block_size);
        return STEPARC_E_ARG;
    }
    if (o->level < -7 || o->level > 22 || o->level == 0 || o->threads < 0 || o->threads > 256) {
        sa_fmt(errbuf, cap, "invalid level (%d) or thread count (%d)", o->level, o->threads);
        return STEPARC_E_ARG;
    }
    if (o->layout < STEPARC_LAYOUT_DEFAULT || o->layout > STEPARC_LAYOUT_COLUMNAR) {
        sa_fmt(errbuf, cap, "invalid layout (%d)", o->layout);
        return STEPARC_E_ARG;
    }
    return 0;
}

/* A writer in its initial state: names, sorters, encoder; no file yet. */
static steparc_writer *new_writer(const char *path, const steparc_writer_options *o)
{
    steparc_writer *w = (steparc_writer *)sa_calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->opt = *o;
    w->file.fd = -1;
    w->blk.bmin = INT64_MAX;
    w->blk.bmax = INT64_MIN;
    w->acc.min_ts = INT64_MAX;
    w->acc.max_ts = INT64_MIN;
    w->acc.time_ordered = 1;
    for (int k = 0; k < 3; k++)
        w->blk.lastk_len[k] = SIZE_MAX;
    memcpy(w->sync, g_default_sync, SA_SYNC_SIZE);
    size_t pl = strlen(path);
    w->file.path = (char *)sa_malloc(pl + 1);
    w->file.tmppath = (char *)sa_malloc(pl + 16);
    w->file.dir = (char *)sa_malloc(pl + 2);
    if (w->file.path == NULL || w->file.tmppath == NULL || w->file.dir == NULL)
        return w;
    memcpy(w->file.path, path, pl + 1);
    snprintf(w->file.tmppath, pl + 16, "%s.tmp-XXXXXX", path);
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        memcpy(w->file.dir, ".", 2);
    else if (slash == path)
        memcpy(w->file.dir, "/", 2);
    else {
        memcpy(w->file.dir, path, (size_t)(slash - path));
        w->file.dir[slash - path] = 0;
    }
    return w;
}

/* The sorters and the inline column encoder (which also serves dictionary
 * training). 0 or STEPARC_E_NOMEM. */
static int open_parts(steparc_writer *w)
{
    if (w->file.path == NULL || w->file.tmppath == NULL || w->file.dir == NULL)
        return STEPARC_E_NOMEM;
    for (int k = 0; k < 3; k++)
        if (sa_sorter_open(&w->idx.post[k], w->file.dir, 8, SA_WR_SORTER_BYTES) != 0)
            return STEPARC_E_NOMEM;
    if (sa_sorter_open(&w->idx.ids, w->file.dir, 8, SA_WR_SORTER_BYTES) != 0)
        return STEPARC_E_NOMEM;
    if (w->opt.dedup && sa_sorter_open(&w->dd.sorter, w->file.dir, SA_WR_DD_SIZE, 2 * SA_WR_SORTER_BYTES) != 0)
        return STEPARC_E_NOMEM;
    w->comp.nthreads = w->opt.threads;
    w->comp.columnar = w->opt.layout != STEPARC_LAYOUT_ROWS;
    w->comp.packed = w->comp.columnar; /* a new archive is 1.3, or 1.0 with --layout rows */
    w->minor = w->comp.columnar ? STEPARC_FORMAT_MINOR : 0; /* an append takes the archive's */
    if (w->comp.columnar && (w->comp.colenc = sa_colenc_new()) == NULL)
        return STEPARC_E_NOMEM;
    return 0;
}

/* A new archive: the temporary file and the file header. */
static int create_file(steparc_writer *w, char *errbuf, size_t cap)
{
    w->file.fd = mkstemp(w->file.tmppath);
    w->file.created = w->file.fd >= 0;
    if (w->file.fd < 0) {
        int e = errno;
        sa_fmt(errbuf, cap, "cannot create %s: %s", w->file.tmppath, strerror(e));
        return STEPARC_E_IO;
    }
    /* mkstemp makes 0600; give the archive the mode a new file gets */
    mode_t um = umask(022);
    umask(um);
    (void)fchmod(w->file.fd, 0666 & ~um);
    sa_file_header h;
    memset(&h, 0, sizeof h);
    h.major = STEPARC_FORMAT_MAJOR;
    /* 1.1 adds the columnar layout, 1.2 packed key sets, 1.3 the block
     * kinds and postings by own id; archives of rows stay 1.0, readable by
     * every 1.x reader */
    h.minor = (uint16_t)w->minor;
    memcpy(h.sync, w->sync, SA_SYNC_SIZE);
    h.block_size = w->opt.block_size;
    unsigned char hb[SA_FILE_HEADER_SIZE];
    sa_file_header_encode(&h, hb);
    int rc = sa_wr_write(w, hb, sizeof hb);
    if (rc)
        sa_fmt(errbuf, cap, "%s", w->err);
    return rc;
}

static int open_impl(steparc_writer **out, const char *path, const steparc_writer_options *opt,
                     int append, char *errbuf, size_t cap)
{
    if (out == NULL)
        return STEPARC_E_ARG;
    *out = NULL;
    if (path == NULL || *path == 0) {
        sa_fmt(errbuf, cap, "no output path given");
        return STEPARC_E_ARG;
    }
    steparc_writer_options o;
    int rc = check_options(&o, opt, errbuf, cap);
    if (rc)
        return rc;
    steparc_writer *w = new_writer(path, &o);
    if (w == NULL) {
        sa_fmt(errbuf, cap, "out of memory");
        return STEPARC_E_NOMEM;
    }
    if ((rc = open_parts(w)) != 0) {
        sa_fmt(errbuf, cap, "out of memory");
    } else {
        rc = append ? sa_wr_append_prepare(w, errbuf, cap) : create_file(w, errbuf, cap);
        if (rc == 0 && (rc = sa_wr_pool_open(w)) != 0)
            sa_fmt(errbuf, cap, "out of memory");
    }
    if (rc) {
        steparc_writer_close(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* ---- adding records ------------------------------------------------------------- */

static void stat_add(sa_wr_stat_map *m, steparc_str s)
{
    if (s.ptr == NULL)
        s.ptr = "", s.len = 0; /* absent or not a string: counted under "" */
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].len == s.len && memcmp(m->e[i].name, s.ptr, s.len) == 0) {
            m->e[i].count++;
            return;
        }
    if (m->n == SA_WR_STAT_VALUES || s.len > 256) {
        m->other++;
        return;
    }
    char *copy = (char *)sa_malloc(s.len + 1);
    if (copy == NULL) {
        m->other++;
        return;
    }
    memcpy(copy, s.ptr, s.len);
    m->e[m->n].name = copy;
    m->e[m->n].len = s.len;
    m->e[m->n].count = 1;
    m->n++;
}

static int push_key(steparc_writer *w, int k, steparc_str s)
{
    if (s.ptr == NULL)
        return 0;
    if (SA_GROW(w->blk.pkeys[k], w->blk.cappkeys[k], w->blk.npkeys[k], 256) != 0)
        return STEPARC_E_NOMEM;
    uint32_t key;
    if (s.len == w->blk.lastk_len[k] && memcmp(s.ptr, w->blk.lastk[k], s.len) == 0) {
        key = w->blk.lastk_key[k];
    } else {
        key = sa_key32(s.ptr, s.len);
        if (s.len <= sizeof w->blk.lastk[k]) {
            memcpy(w->blk.lastk[k], s.ptr, s.len);
            w->blk.lastk_len[k] = s.len;
            w->blk.lastk_key[k] = key;
        }
    }
    w->blk.pkeys[k][w->blk.npkeys[k]++] = key;
    return 0;
}

int sa_writer_add_trusted(steparc_writer *w, const void *mp, size_t len)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0)
        return sa_wr_fail(w, STEPARC_E_INPUT, "record is not a MessagePack map");
    return sa_writer_add_kf(w, mp, len, &kf);
}

int sa_writer_add_kf(steparc_writer *w, const void *mp, size_t len, const sa_keyfields *kf)
{
    if (w->failed)
        return STEPARC_E_MISUSE; /* the message of the failure stays */
    if (w->finished)
        return sa_wr_fail(w, STEPARC_E_MISUSE, "writer is finished");
    if (len > STEPARC_MAX_RECORD_SIZE)
        return sa_wr_fail(w, STEPARC_E_LIMIT, "record of %zu bytes exceeds the 64 MiB limit", len);
    if (w->acc.records >= (uint64_t)SA_MAX_RECORDS)
        return sa_wr_fail(w, STEPARC_E_LIMIT, "archive holds the maximum of 2^32-1 records");
    /* Close the block first if this record would overflow it. */
    if (w->blk.nends > 0 && (w->blk.recs.len - w->blk.gap + len + 4 * (w->blk.nends + 1) > w->opt.block_size ||
                         w->blk.nends >= STEPARC_MAX_BLOCK_RECORDS)) {
        int rc = sa_wr_flush_block(w);
        if (rc) {
            w->failed = 1;
            return rc;
        }
    }
    if (SA_GROW(w->blk.ends, w->blk.capends, w->blk.nends, 1024) != 0)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    if (sa_buf_append(&w->blk.recs, mp, len) != 0)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    w->blk.ends[w->blk.nends++] = (uint32_t)(w->blk.recs.len - w->blk.gap);
    int rc = sa_wr_account(w, mp, len, kf);
    if (rc)
        return rc;
    /* A record bigger than the target gets a block of its own. */
    if (w->blk.recs.len - w->blk.gap + 4 * w->blk.nends >= w->opt.block_size) {
        rc = sa_wr_flush_block(w);
        if (rc) {
            w->failed = 1;
            return rc;
        }
    }
    return 0;
}

/* What a record adds besides its bytes: the block's and the archive's time
 * range, its id index entry (ordinal w->acc.records) and dedup entry, its
 * postings keys, the statistics; then it is counted. */
int sa_wr_account(steparc_writer *w, const void *mp, size_t len, const sa_keyfields *kf)
{
    int kind = sa_keyfields_kind(kf);
    w->blk.kinds |= 1u << kind;
    if (kf->has_created_at) {
        if (kf->created_at < w->blk.bmin)
            w->blk.bmin = kf->created_at;
        if (kf->created_at > w->blk.bmax)
            w->blk.bmax = kf->created_at;
        if (kf->created_at < w->acc.min_ts)
            w->acc.min_ts = kf->created_at;
        if (kf->created_at > w->acc.max_ts)
            w->acc.max_ts = kf->created_at;
    }
    /* key32 is the high half of sa_hash_id64: one hash for the index and dedup */
    uint64_t idh = kf->id.ptr ? sa_hash_id64(kf->id.ptr, kf->id.len) : 0;
    if (kf->id.ptr && sa_sorter_push_u64(w->idx.ids, (idh >> 32 << 32) | w->acc.records) != 0) {
        w->failed = 1;
        return sa_wr_fail(w, STEPARC_E_IO, "cannot spill index entries to a temporary file");
    }
    /* an empty id identifies nothing (third-party servers send ""): never merged */
    if (w->dd.sorter && kf->id.ptr && kf->id.len > 0 &&
        sa_wr_dedup_push(w, mp, len, kf, kind, idh) != 0) {
        w->failed = 1;
        return sa_wr_fail(w, STEPARC_E_IO, "cannot spill duplicate-detection entries to a temporary file");
    }
    steparc_str keys[3];
    sa_posting_keys(kf, kind, w->minor, keys);
    if (push_key(w, 0, keys[0]) || push_key(w, 1, keys[1]) || push_key(w, 2, keys[2]))
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    stat_add(&w->acc.by_type, kf->type);
    stat_add(&w->acc.by_status, kf->status);
    if (w->minor >= 3) {
        const char *kn = steparc_kind_name(kind);
        steparc_str ks = {kn, strlen(kn)};
        stat_add(&w->acc.by_kind, ks);
    }
    w->acc.raw_bytes += len;
    w->acc.records++;
    return 0;
}

int steparc_writer_add_msgpack(steparc_writer *w, const void *mp, size_t len)
{
    if (w == NULL || (mp == NULL && len))
        return STEPARC_E_ARG;
    char why[160];
    int rc = sa_mp_validate(mp, len, why, sizeof why);
    if (rc)
        return sa_wr_fail(w, rc, "record %llu: %s", (unsigned long long)w->acc.records, why);
    return sa_writer_add_trusted(w, mp, len);
}

int steparc_writer_add_json(steparc_writer *w, const char *json, size_t len,
                            steparc_json_error *err)
{
    if (w == NULL || (json == NULL && len))
        return STEPARC_E_ARG;
    steparc_json_error local;
    steparc_json_error *e = err ? err : &local;
    steparc_buf mp = {0};
    int rc = steparc_json_to_msgpack(&mp, json, len, STEPARC_JSON_REQUIRE_OBJECT, e);
    if (rc == 0)
        rc = sa_writer_add_trusted(w, mp.data, mp.len);
    else
        sa_wr_fail(w, rc, "record %llu: line %zu, column %zu: %s", (unsigned long long)w->acc.records,
              e->line, e->column, e->reason);
    steparc_buf_free(&mp);
    return rc;
}

int steparc_writer_add_step(steparc_writer *w, const steparc_step *step)
{
    if (w == NULL || step == NULL)
        return STEPARC_E_ARG;
    steparc_buf mp = {0};
    int rc = steparc_step_encode(&mp, step);
    if (rc == 0)
        rc = sa_writer_add_trusted(w, mp.data, mp.len);
    else
        sa_wr_fail(w, rc, "record %llu: the step struct cannot be encoded (%s)",
              (unsigned long long)w->acc.records, steparc_strerror(rc));
    steparc_buf_free(&mp);
    return rc;
}

uint64_t steparc_writer_count(const steparc_writer *w)
{
    return w ? w->acc.records : 0;
}

uint64_t steparc_writer_duplicates(const steparc_writer *w)
{
    return w ? w->dd.duplicates : 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The finished file in place: synced, closed, renamed over the path (a new
 * archive; an append wrote in place). */
static int commit_file(steparc_writer *w)
{
    int rc = 0;
    if (!w->opt.no_fsync && fsync(w->file.fd) != 0)
        return sa_wr_io_fail(w, "cannot fsync");
    int fd = w->file.fd;
    w->file.fd = -1;
    if (close(fd) != 0)
        return sa_wr_io_fail(w, "cannot close");
    if (!w->app.appending && rename(w->file.tmppath, w->file.path) != 0) {
        int e = errno;
        return sa_wr_fail(w, STEPARC_E_IO, "cannot rename %s to %s: %s", w->file.tmppath,
                          w->file.path, strerror(e));
    }
    if (!w->opt.no_fsync && !w->app.appending)
        (void)fsync_dir(w->file.dir); /* best effort: some file systems refuse it */
    return rc;
}

int steparc_writer_finish(steparc_writer *w)
{
    if (w == NULL)
        return STEPARC_E_ARG;
    if (w->failed)
        return STEPARC_E_MISUSE; /* the message of the failure stays */
    if (w->finished)
        return sa_wr_fail(w, STEPARC_E_MISUSE, "writer is finished");
    /* the last block, the held ones, every block in flight */
    int rc = sa_wr_flush_block(w);
    if (rc == 0 && w->dict.state == SA_WR_DICT_COLLECTING)
        rc = sa_wr_decide_dict(w);
    if (rc == 0)
        rc = sa_wr_pool_finish(w);
    int done = 0;
    if (rc == 0)
        rc = sa_wr_dedup_finish(w, &done);
    if (rc == 0 && done) {
        /* the archive went to the path through a second writer */
        close(w->file.fd);
        w->file.fd = -1;
        unlink(w->file.tmppath);
    } else {
        if (rc == 0)
            rc = sa_wr_write_sections(w);
        if (rc == 0)
            rc = commit_file(w);
    }
    if (rc) {
        w->failed = 1;
        return rc;
    }
    w->finished = 1;
    w->err[0] = 0;
    return 0;
}

void steparc_writer_close(steparc_writer *w)
{
    if (w == NULL)
        return;
    sa_pool_close(w->comp.pool); /* first: the workers use the dictionary and encoder */
    if (w->file.fd >= 0) {
        /* a failed or abandoned append: cut the file back to the old archive */
        if (w->app.appending && !w->finished && ftruncate(w->file.fd, (off_t)w->app.orig_len) == 0 &&
            !w->opt.no_fsync)
            (void)fsync(w->file.fd);
        close(w->file.fd);
    }
    if (!w->finished && w->file.created)
        unlink(w->file.tmppath);
    sa_colenc_free(w->comp.colenc);
    steparc_buf_free(&w->comp.colbuf);
    sa_sorter_close(w->idx.ids);
    sa_sorter_close(w->dd.sorter);
    ZSTD_freeDCtx(w->dd.dctx);
    for (int k = 0; k < 3; k++) {
        sa_sorter_close(w->idx.post[k]);
        sa_free(w->blk.pkeys[k]);
    }
    for (size_t i = 0; i < w->acc.by_type.n; i++)
        sa_free(w->acc.by_type.e[i].name);
    for (size_t i = 0; i < w->acc.by_status.n; i++)
        sa_free(w->acc.by_status.e[i].name);
    for (size_t i = 0; i < w->acc.by_kind.n; i++)
        sa_free(w->acc.by_kind.e[i].name);
    steparc_buf_free(&w->idx.kinds);
    steparc_buf_free(&w->blk.recs);
    steparc_buf_free(&w->idx.bindex);
    for (size_t i = 0; i < w->dict.nheld; i++)
        steparc_buf_free(&w->dict.held[i].raw);
    sa_free(w->dict.held);
    ZSTD_freeCDict(w->dict.cdict);
    ZSTD_freeDDict(w->dict.ddict);
    steparc_buf_free(&w->dict.bytes);
    sa_free(w->blk.ends);
    sa_free(w->file.path);
    sa_free(w->file.tmppath);
    sa_free(w->file.dir);
    sa_free(w);
}

const char *steparc_writer_errmsg(const steparc_writer *w)
{
    return w ? w->err : "no writer";
}
