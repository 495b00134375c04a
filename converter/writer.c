/* writer.c - the archive writer: records -> blocks -> indexes -> footer.
 *
 * Data goes to a temporary file next to the output; finish fsyncs it and
 * renames it into place, so the output path only ever holds a complete
 * archive. Blocks can be compressed on worker threads; they are written in
 * order and each is compressed independently with the same parameters, so
 * the bytes do not depend on the thread count. Index entries go through
 * external sorters, so memory stays bounded whatever the input size. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCDict_advanced: tables sized for small blocks */
#include <zstd.h>
#define ZDICT_STATIC_LINKING_ONLY /* fastCover with fixed parameters: fast and deterministic */
#include <zdict.h>
#include <msgpack.h>

#include "archive.h"
#include "columnar.h"
#include "record.h"
#include "keyset.h"
#include "sorter.h"
#include "writer_internal.h"

/* The default sync marker: fixed, so that output is deterministic. */
static const unsigned char g_default_sync[SA_SYNC_SIZE] = SA_DEFAULT_SYNC;

#define MAX_STAT_VALUES 64

/* Memory of each index sorter before it spills to a temporary file: with the
 * block buffers and zstd's contexts this keeps a conversion of any size
 * within about 64 MiB. */
#define SORTER_BYTES (4u << 20)

/* duplicate-detection entries (see "duplicates" below) */
#define DD_SIZE 80
#define DD_ID 64
#define DD_GROUP (8 + 1 + DD_ID) /* bytes that identify an id */

typedef struct {
    char *name;
    size_t len;
    uint64_t count;
} stat_entry;

typedef struct {
    stat_entry e[MAX_STAT_VALUES];
    size_t n;
    uint64_t other;
} stat_map;

typedef struct {
    steparc_buf raw, out;
    steparc_buf col;            /* the columnar payload (layout 1) */
    sa_block_header hdr;
    uint32_t rows_size;         /* block index rows_size: the rows' size for layout 1, else 0 */
    int use_dict;
    int ready;                  /* the payload is decided: 1 = col holds it, 2 = rows */
    int state; /* 0 free, 1 queued, 2 working, 3 done */
    int rc;
    uint64_t seq;
} job;

struct steparc_writer {
    steparc_writer_options opt;
    char *path, *tmppath, *dir;
    int fd;
    int finished, failed;
    uint64_t file_off;
    uint64_t synced_off;        /* written back up to here (sync_file_range) */
    unsigned char sync[SA_SYNC_SIZE];
    char err[512];

    /* the block being filled: its records at recs.data + gap, the gap in
     * front left for the offset table, so that the rows payload is built
     * in place instead of copied */
    steparc_buf recs;
    size_t gap;
    uint32_t *ends;
    size_t nends, capends;
    int64_t bmin, bmax;
    uint64_t block_first;
    uint32_t *pkeys[3]; /* run, thread, assistant keys of this block */
    size_t npkeys[3], cappkeys[3];
    /* the last run, thread and assistant id seen and its key: consecutive
     * steps mostly share them, and key32 hashes a byte at a time */
    unsigned char lastk[3][64];
    size_t lastk_len[3]; /* SIZE_MAX: none */
    uint32_t lastk_key[3];

    uint64_t records, blocks_flushed, blocks_written;
    steparc_buf bindex;
    sa_sorter *ids, *post[3];
    int time_ordered;
    int64_t prev_max;
    int have_prev;
    int64_t min_ts, max_ts;
    uint64_t raw_bytes, stored_bytes;
    stat_map by_type, by_status;
    steparc_buf outbuf;         /* compressed block when compressing inline */
    sa_sorter *dd;              /* dedup entries (see dedup_entry) */
    uint64_t duplicates;
    /* dictionary: blocks are held until it is trained (or known not to be) */
    int dict_state;             /* 0 collecting, 1 decided */
    steparc_buf dict;           /* its bytes (empty: none) */
    ZSTD_CDict *cdict;
    ZSTD_DDict *ddict;          /* for reading blocks back (read_block), made on first use */
    struct held {
        steparc_buf raw;
        sa_block_header hdr;
        int ready;              /* as job.ready; 1: the columns are at col_off in the samples */
        size_t col_off, col_len;
    } *held;
    size_t nheld, capheld;
    size_t held_bytes;
    /* append: the file is written in place after its last footer */
    int appending;
    uint64_t prev_footer;       /* offset of the footer this append supersedes */
    uint64_t orig_len;          /* where the archive ended: restored if the append fails */
    int created;                /* the temporary file exists */

    /* compression */
    int columnar;               /* write layout 1 blocks */
    int packed;                 /* index sections as packed key sets (types 8-11, format 1.2) */
    sa_colenc *colenc;          /* when compressing inline */
    steparc_buf colbuf;
    ZSTD_CCtx *cctx;
    int nthreads;
    pthread_t *threads;
    job *jobs;
    size_t njobs;
    uint64_t next_seq, next_write;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    int stop;
};

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

static int wfail(steparc_writer *w, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int wfail(steparc_writer *w, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    return status;
}

static int io_fail(steparc_writer *w, const char *what)
{
    int e = errno;
    w->failed = 1;
    return wfail(w, STEPARC_E_IO, "%s %s: %s", what, w->tmppath ? w->tmppath : w->path,
                 strerror(e));
}

static int write_all(steparc_writer *w, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n) {
        ssize_t k = write(w->fd, c, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return io_fail(w, "cannot write");
        }
        c += k;
        n -= (size_t)k;
        w->file_off += (uint64_t)k;
    }
    return 0;
}

/* ---- compression ------------------------------------------------------------- */

/* The payload a block stores before compression: the rows themselves, or
 * (ce non-NULL) their columnar encoding in *col, when the block allows it. */
static int block_payload(sa_colenc *ce, const steparc_buf *raw, uint32_t count, steparc_buf *col,
                         const steparc_buf **payload)
{
    *payload = raw;
    if (ce == NULL)
        return 0;
    int rc = sa_col_encode(ce, (const unsigned char *)raw->data, raw->len, count, col);
    if (rc == STEPARC_E_LIMIT)
        return 0; /* too varied for columns: rows */
    if (rc == 0)
        *payload = col;
    return rc;
}

static int compress_job(ZSTD_CCtx *cctx, sa_colenc *ce, job *j, ZSTD_CDict *cdict)
{
    const steparc_buf *in = j->ready == 1 ? &j->col : &j->raw;
    int rc = j->ready ? 0 : block_payload(ce, &j->raw, j->hdr.record_count, &j->col, &in);
    if (rc)
        return rc;
    j->hdr.layout = in == &j->raw ? SA_LAYOUT_ROWS : SA_LAYOUT_COLUMNS;
    j->hdr.raw_size = (uint32_t)in->len;
    /* out: room for the block header (write_block fills it in, so that a
     * block is one write), then the stored payload */
    size_t bound = ZSTD_compressBound(in->len);
    j->out.len = 0;
    if (sa_buf_reserve(&j->out, SA_BLOCK_HEADER_SIZE + bound) != 0)
        return STEPARC_E_NOMEM;
    unsigned char *pay = (unsigned char *)j->out.data + SA_BLOCK_HEADER_SIZE;
    if (ZSTD_isError(ZSTD_CCtx_refCDict(cctx, j->use_dict ? cdict : NULL)))
        return STEPARC_E_NOMEM;
    if (j->use_dict)
        j->hdr.flags |= SA_BLOCK_FLAG_DICT;
    size_t n = ZSTD_compress2(cctx, pay, bound, in->data, in->len);
    if (ZSTD_isError(n))
        return STEPARC_E_NOMEM; /* only allocation can fail with a full-size bound */
    if (n < in->len) {
        j->hdr.codec = SA_CODEC_ZSTD;
        j->out.len = SA_BLOCK_HEADER_SIZE + n;
    } else {
        /* incompressible: store as is (MCAP does the same) */
        j->hdr.codec = SA_CODEC_NONE;
        j->hdr.flags &= (uint8_t)~SA_BLOCK_FLAG_DICT;
        memcpy(pay, in->data, in->len); /* bound >= in->len */
        j->out.len = SA_BLOCK_HEADER_SIZE + in->len;
    }
    j->rows_size = j->hdr.layout == SA_LAYOUT_COLUMNS ? (uint32_t)j->raw.len : 0;
    j->hdr.stored_size = (uint32_t)(j->out.len - SA_BLOCK_HEADER_SIZE);
    j->hdr.payload_crc = sa_crc32c(0, pay, j->hdr.stored_size);
    return 0;
}

/* A CDict with match-finder tables sized for blocks of block_size bytes: the
 * default (sized for unknown, large input) makes every 64 KiB block clear
 * hundreds of KiB of tables. */
static ZSTD_CDict *new_cdict(const steparc_writer *w, const void *dict, size_t len)
{
    ZSTD_compressionParameters cp = ZSTD_getCParams(w->opt.level, w->opt.block_size, len);
    return ZSTD_createCDict_advanced(dict, len, ZSTD_dlm_byCopy, ZSTD_dct_auto, cp, ZSTD_defaultCMem);
}

static ZSTD_CCtx *new_cctx(int level)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (c == NULL)
        return NULL;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1)) ||
        /* ZSTD_c_forceAttachDict = ZSTD_dictForceAttach: reference the
         * dictionary's tables instead of copying them for every 64 KiB block */
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_forceAttachDict, ZSTD_dictForceAttach))) {
        ZSTD_freeCCtx(c);
        return NULL;
    }
    return c;
}

static void *worker(void *arg)
{
    steparc_writer *w = (steparc_writer *)arg;
    ZSTD_CCtx *cctx = new_cctx(w->opt.level);
    sa_colenc *ce = w->columnar ? sa_colenc_new() : NULL;
    int ce_ok = !w->columnar || ce != NULL;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        job *j = NULL;
        while (!w->stop) {
            for (size_t i = 0; i < w->njobs; i++)
                if (w->jobs[i].state == 1 && (j == NULL || w->jobs[i].seq < j->seq))
                    j = &w->jobs[i];
            if (j)
                break;
            pthread_cond_wait(&w->cv_work, &w->mu);
        }
        if (j == NULL)
            break;
        j->state = 2;
        pthread_mutex_unlock(&w->mu);
        /* w->columnar only changes while opening, before any job exists */
        int rc = cctx && ce_ok ? compress_job(cctx, w->columnar ? ce : NULL, j, w->cdict)
                               : STEPARC_E_NOMEM;
        pthread_mutex_lock(&w->mu);
        j->rc = rc;
        j->state = 3;
        pthread_cond_broadcast(&w->cv_done);
    }
    pthread_mutex_unlock(&w->mu);
    ZSTD_freeCCtx(cctx);
    sa_colenc_free(ce);
    return NULL;
}

/* Writes a compressed block and records it in the block index. */
static int write_block(steparc_writer *w, job *j)
{
    if (j->rc != 0)
        return wfail(w, j->rc, "cannot compress block %llu: %s",
                     (unsigned long long)w->blocks_written, steparc_strerror(j->rc));
    sa_block_entry e;
    e.offset = w->file_off;
    e.first_ordinal = j->hdr.first_ordinal;
    e.record_count = j->hdr.record_count;
    e.stored_size = j->hdr.stored_size;
    e.raw_size = j->hdr.raw_size;
    e.rows_size = j->rows_size;
    e.min_created_at = j->hdr.min_created_at;
    e.max_created_at = j->hdr.max_created_at;
    sa_block_header_encode(w->sync, &j->hdr, (unsigned char *)j->out.data);
    int rc = write_all(w, j->out.data, j->out.len);
    if (rc)
        return rc;
    unsigned char ent[SA_BLOCK_INDEX_ENTRY_SIZE];
    sa_block_entry_encode(&e, ent);
    if (sa_buf_append(&w->bindex, ent, sizeof ent) != 0)
        return wfail(w, STEPARC_E_NOMEM, "out of memory");
    w->stored_bytes += j->hdr.stored_size;
    w->blocks_written++;
#ifdef SYNC_FILE_RANGE_WRITE
    /* start writing back every 8 MiB (no waiting), so the fsync at the end
     * has little left to do (RocksDB's bytes_per_sync). Only a hint: a
     * failure here changes nothing, the final fsync is the guarantee. */
    if (!w->opt.no_fsync && w->file_off - w->synced_off >= (8u << 20)) {
        (void)sync_file_range(w->fd, (off64_t)w->synced_off, (off64_t)(w->file_off - w->synced_off),
                              SYNC_FILE_RANGE_WRITE);
        w->synced_off = w->file_off;
    }
#endif
    return 0;
}

/* Writes finished jobs in order. With free_slot, returns once a job slot is
 * free; without, once no job is in flight. */
static int drain(steparc_writer *w, job **free_slot)
{
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        job *head = NULL;
        for (size_t i = 0; i < w->njobs; i++)
            if (w->jobs[i].state != 0 && w->jobs[i].seq == w->next_write)
                head = &w->jobs[i];
        if (head && head->state == 3) {
            pthread_mutex_unlock(&w->mu);
            rc = write_block(w, head);
            pthread_mutex_lock(&w->mu);
            head->state = 0;
            w->next_write++;
            if (rc)
                break;
            continue;
        }
        if (free_slot) {
            for (size_t i = 0; i < w->njobs; i++)
                if (w->jobs[i].state == 0) {
                    *free_slot = &w->jobs[i];
                    pthread_mutex_unlock(&w->mu);
                    return 0;
                }
        }
        if (head == NULL && !free_slot)
            break; /* nothing in flight */
        pthread_cond_wait(&w->cv_done, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
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

#define DICT_SAMPLES (4u << 20)      /* record bytes held to train the dictionary on */
#define DICT_MIN_SAMPLES (1u << 20)  /* fewer: no dictionary (it would not pay) */
#define DICT_MAX (112u * 1024)       /* zstd's own default dictionary size */
#define DICT_PIECE 4096u             /* columnar training samples: payloads cut in pieces */

static int submit_block(steparc_writer *w, const steparc_buf *raw, const sa_block_header *hdr,
                        int ready, const void *col, size_t col_len);
static int decide_dict(steparc_writer *w);

/* Writes w->dict as a dictionary block (5.4): it comes before every block
 * that uses it. */
static int write_dict_block(steparc_writer *w)
{
    sa_block_header dh;
    memset(&dh, 0, sizeof dh);
    dh.kind = SA_BLOCK_DICT;
    dh.min_created_at = INT64_MAX;
    dh.max_created_at = INT64_MIN;
    dh.stored_size = dh.raw_size = (uint32_t)w->dict.len;
    dh.payload_crc = sa_crc32c(0, w->dict.data, w->dict.len);
    unsigned char hb[SA_BLOCK_HEADER_SIZE];
    sa_block_header_encode(w->sync, &dh, hb);
    int rc = write_all(w, hb, sizeof hb);
    return rc ? rc : write_all(w, w->dict.data, w->dict.len);
}

/* The run/thread/assistant keys of the block being closed become postings
 * of block bno: one entry per distinct key. */
static int push_postings(steparc_writer *w, uint64_t bno)
{
    for (int k = 0; k < 3; k++) {
        if (w->npkeys[k] > 1)
            sort_u32(w->pkeys[k], w->npkeys[k]);
        for (size_t i = 0; i < w->npkeys[k]; i++) {
            if (i && w->pkeys[k][i] == w->pkeys[k][i - 1])
                continue;
            if (sa_sorter_push_u64(w->post[k], ((uint64_t)w->pkeys[k][i] << 32) | bno) != 0)
                return wfail(w, STEPARC_E_IO, "cannot spill index entries to a temporary file");
        }
        w->npkeys[k] = 0;
    }
    return 0;
}

/* The closing block's created_at range [bmin, bmax] keeps the archive
 * time_ordered or not (footer flag); the range starts again empty. */
static void close_block_times(steparc_writer *w)
{
    if (w->bmin <= w->bmax) {
        if (w->have_prev && w->bmin < w->prev_max)
            w->time_ordered = 0;
        w->prev_max = w->bmax;
        w->have_prev = 1;
    }
    w->bmin = INT64_MAX;
    w->bmax = INT64_MIN;
}

/* Closes the current block: builds its payload, pushes its postings, then
 * holds it (while the dictionary is being decided) or compresses it (here or
 * on a worker). */
static int flush_block(steparc_writer *w)
{
    if (w->nends == 0)
        return 0;
    int rc = push_postings(w, w->blocks_flushed);
    if (rc)
        return rc;
    /* the payload: the record end offsets, then the records, written into
     * the gap in front of the records (widened when too narrow: the first
     * block, or a block of smaller records than before) */
    size_t table = 4 * w->nends, bytes = w->recs.len - w->gap;
    if (table > w->gap) {
        size_t ng = table + table / 4 + 64;
        if (sa_buf_reserve(&w->recs, ng - w->gap) != 0)
            return wfail(w, STEPARC_E_NOMEM, "out of memory");
        memmove(w->recs.data + ng, w->recs.data + w->gap, bytes);
        w->gap = ng;
        w->recs.len = ng + bytes;
    }
    unsigned char *tab = (unsigned char *)w->recs.data + w->gap - table;
    for (size_t i = 0; i < w->nends; i++)
        sa_put_u32(tab + 4 * i, w->ends[i]);
    steparc_buf view = {(char *)tab, table + bytes, 0}; /* borrowed from recs */
    steparc_buf *raw = &view;
    sa_block_header hdr;
    memset(&hdr, 0, sizeof hdr);
    hdr.kind = SA_BLOCK_DATA;
    hdr.layout = SA_LAYOUT_ROWS;
    hdr.record_count = (uint32_t)w->nends;
    hdr.first_ordinal = w->block_first;
    hdr.min_created_at = w->bmin;
    hdr.max_created_at = w->bmax;
    hdr.raw_size = (uint32_t)raw->len;
    close_block_times(w);
    w->blocks_flushed++;
    w->block_first = w->records;
    w->nends = 0;
    w->recs.len = w->gap;
    if (w->dict_state == 0) {
        /* hold the block: its records are the dictionary's training samples */
        if (SA_GROW(w->held, w->capheld, w->nheld, 16) != 0)
            return wfail(w, STEPARC_E_NOMEM, "out of memory");
        /* held: a copy of its own */
        memset(&w->held[w->nheld].raw, 0, sizeof w->held[w->nheld].raw);
        if (sa_buf_append(&w->held[w->nheld].raw, raw->data, raw->len) != 0)
            return wfail(w, STEPARC_E_NOMEM, "out of memory");
        w->held[w->nheld].hdr = hdr;
        w->held[w->nheld].ready = 0; /* decided with the dictionary */
        w->held[w->nheld].col_off = w->held[w->nheld].col_len = 0;
        w->nheld++;
        w->held_bytes += raw->len - table;
        if (w->held_bytes >= DICT_SAMPLES)
            return decide_dict(w);
        return 0;
    }
    return submit_block(w, raw, &hdr, 0, NULL, 0);
}

/* Compresses and writes a block (here, or through the workers, in order).
 * ready (see job.ready) passes on a payload already decided, with its
 * columns in col[0..col_len) when 1. */
static int submit_block(steparc_writer *w, const steparc_buf *raw, const sa_block_header *hdr,
                        int ready, const void *col, size_t col_len)
{
    job local;
    job *j = &local;
    if (w->nthreads > 1) {
        int rc = drain(w, &j);
        if (rc)
            return rc;
        j->raw.len = j->col.len = 0;
        if (sa_buf_append(&j->raw, raw->data, raw->len) != 0 ||
            sa_buf_append(&j->col, col, col_len) != 0)
            return wfail(w, STEPARC_E_NOMEM, "out of memory");
        j->ready = ready;
        j->hdr = *hdr;
        j->use_dict = w->cdict != NULL;
        pthread_mutex_lock(&w->mu);
        j->seq = w->next_seq++;
        j->state = 1;
        pthread_cond_signal(&w->cv_work);
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    memset(&local, 0, sizeof local);
    local.raw = *raw; /* borrowed */
    local.out = w->outbuf;
    local.col = w->colbuf;
    local.col.len = 0;
    if (sa_buf_append(&local.col, col, col_len) != 0) {
        w->colbuf = local.col;
        return wfail(w, STEPARC_E_NOMEM, "out of memory");
    }
    local.ready = ready;
    local.hdr = *hdr;
    local.use_dict = w->cdict != NULL;
    local.rc = compress_job(w->cctx, w->columnar ? w->colenc : NULL, &local, w->cdict);
    int rc = write_block(w, &local);
    w->outbuf = local.out; /* hand the buffers back */
    w->colbuf = local.col;
    return rc;
}

/* Trains the dictionary on the held blocks' records (when there are enough),
 * writes it as a dictionary block, then writes the held blocks with it.
 * Deterministic: the same records give the same dictionary. */
static int decide_dict(steparc_writer *w)
{
    int rc = 0;
    unsigned char *samples = NULL; /* kept until the held blocks are written: their columns */
    w->dict_state = 1;
    size_t cap = w->opt.dict_size > 0 ? (size_t)w->opt.dict_size : DICT_MAX;
    if (cap > w->held_bytes / 32)
        cap = w->held_bytes / 32;
    if (w->opt.dict_size >= 0 && w->held_bytes >= DICT_MIN_SAMPLES && cap >= 1024) {
        size_t nsamples = 0, k = 0;
        size_t *sizes = NULL;
        if (w->columnar) {
            /* the samples are what the blocks will store: their columnar
             * payloads, cut in pieces (the trainer wants many samples) */
            steparc_buf all = {0};
            size_t ncap = 0;
            for (size_t i = 0; i < w->nheld; i++) {
                const steparc_buf *in;
                rc = block_payload(w->colenc, &w->held[i].raw, w->held[i].hdr.record_count,
                                   &w->colbuf, &in);
                /* encoded once: the block is written from these bytes */
                w->held[i].ready = in == &w->colbuf ? 1 : 2;
                w->held[i].col_off = all.len;
                w->held[i].col_len = in == &w->colbuf ? in->len : 0;
                if (rc == 0 && sa_buf_append(&all, in->data, in->len) != 0)
                    rc = STEPARC_E_NOMEM;
                for (size_t at = 0; rc == 0 && at < in->len; at += DICT_PIECE) {
                    if (SA_GROW(sizes, ncap, nsamples, 1024) != 0) {
                        rc = STEPARC_E_NOMEM;
                        break;
                    }
                    sizes[nsamples++] = in->len - at < DICT_PIECE ? in->len - at : DICT_PIECE;
                }
                if (rc)
                    break;
            }
            samples = (unsigned char *)all.data;
            if (rc == 0 && cap > all.len / 32)
                cap = all.len / 32;
            if (rc == 0 && sa_buf_reserve(&w->dict, cap) != 0)
                rc = STEPARC_E_NOMEM;
            if (rc) {
                sa_free(samples);
                sa_free(sizes);
                return wfail(w, rc, rc == STEPARC_E_NOMEM ? "out of memory"
                                                          : "cannot encode a block in columns");
            }
        } else {
            for (size_t i = 0; i < w->nheld; i++)
                nsamples += w->held[i].hdr.record_count;
            samples = (unsigned char *)sa_malloc(w->held_bytes);
            sizes = (size_t *)sa_malloc(nsamples * sizeof(size_t));
            if (samples == NULL || sizes == NULL || sa_buf_reserve(&w->dict, cap) != 0) {
                sa_free(samples);
                sa_free(sizes);
                return wfail(w, STEPARC_E_NOMEM, "out of memory");
            }
            size_t at = 0;
            for (size_t i = 0; i < w->nheld; i++) {
                uint32_t cnt = w->held[i].hdr.record_count;
                const unsigned char *r = (const unsigned char *)w->held[i].raw.data;
                size_t data = w->held[i].raw.len - 4 * (size_t)cnt;
                memcpy(samples + at, r + 4 * (size_t)cnt, data);
                at += data;
                for (uint32_t q = 0; q < cnt; q++)
                    sizes[k++] = sa_get_u32(r + 4 * (size_t)q) - (q ? sa_get_u32(r + 4 * (size_t)(q - 1)) : 0);
            }
        }
        /* fastCover with fixed parameters, one pass: 3x faster than the
         * optimising default and, on run steps, a better dictionary;
         * accel 8 is faster again than 1 with a dictionary as good. For
         * columns, segments of 256 bytes trained on the first half of the
         * pieces: half the time (8 ms instead of 15 per archive) and 1-1.5%
         * smaller archives than 1024 on all of them (measured on two
         * generated corpora) */
        ZDICT_fastCover_params_t fp;
        memset(&fp, 0, sizeof fp);
        fp.k = 1024;
        if (w->columnar) {
            fp.k = 256;
            nsamples = (nsamples + 1) / 2;
        }
        fp.d = 8;
        fp.f = 19; /* 6 x 2^f bytes of training memory */
        fp.accel = 8;
        fp.zParams.compressionLevel = w->opt.level;
        size_t n = ZDICT_trainFromBuffer_fastCover(w->dict.data, cap, samples, sizes,
                                                   (unsigned)nsamples, fp);
        sa_free(sizes);
        if (!ZDICT_isError(n)) {
            w->dict.len = n;
            w->cdict = new_cdict(w, w->dict.data, n);
            if (w->cdict == NULL) {
                sa_free(samples);
                return wfail(w, STEPARC_E_NOMEM, "out of memory");
            }
            rc = write_dict_block(w);
        } /* else: too little variety to train on; no dictionary */
    }
    for (size_t i = 0; i < w->nheld && rc == 0; i++) {
        const struct held *hb = &w->held[i];
        rc = submit_block(w, &hb->raw, &hb->hdr, hb->ready,
                          hb->ready == 1 ? samples + hb->col_off : NULL, hb->col_len);
    }
    sa_free(samples);
    for (size_t i = 0; i < w->nheld; i++)
        steparc_buf_free(&w->held[i].raw);
    w->nheld = 0;
    w->held_bytes = 0;
    return rc;
}

/* ---- open ---------------------------------------------------------------------- */

static int open_impl(steparc_writer **out, const char *path, const steparc_writer_options *opt,
                     int append, char *errbuf, size_t cap);
static int append_prepare(steparc_writer *w, char *errbuf, size_t cap);

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
    steparc_writer_options_init(&o);
    if (opt)
        o = *opt;
    if (o.block_size < 1024 || o.block_size > 64u * 1024 * 1024) {
        sa_fmt(errbuf, cap, "block size %u is outside 1 KiB..64 MiB", (unsigned)o.block_size);
        return STEPARC_E_ARG;
    }
    if (o.level < -7 || o.level > 22 || o.level == 0 || o.threads < 0 || o.threads > 256) {
        sa_fmt(errbuf, cap, "invalid level (%d) or thread count (%d)", o.level, o.threads);
        return STEPARC_E_ARG;
    }
    if (o.layout < STEPARC_LAYOUT_DEFAULT || o.layout > STEPARC_LAYOUT_COLUMNAR) {
        sa_fmt(errbuf, cap, "invalid layout (%d)", o.layout);
        return STEPARC_E_ARG;
    }
    steparc_writer *w = (steparc_writer *)sa_calloc(1, sizeof *w);
    if (w == NULL) {
        sa_fmt(errbuf, cap, "out of memory");
        return STEPARC_E_NOMEM;
    }
    w->opt = o;
    w->fd = -1;
    w->bmin = INT64_MAX;
    w->bmax = INT64_MIN;
    w->min_ts = INT64_MAX;
    w->max_ts = INT64_MIN;
    w->time_ordered = 1;
    for (int k = 0; k < 3; k++)
        w->lastk_len[k] = SIZE_MAX;
    memcpy(w->sync, g_default_sync, SA_SYNC_SIZE);
    int rc = STEPARC_E_NOMEM;
    size_t pl = strlen(path);
    w->path = (char *)sa_malloc(pl + 1);
    w->tmppath = (char *)sa_malloc(pl + 16);
    w->dir = (char *)sa_malloc(pl + 2);
    if (w->path == NULL || w->tmppath == NULL || w->dir == NULL)
        goto fail;
    memcpy(w->path, path, pl + 1);
    snprintf(w->tmppath, pl + 16, "%s.tmp-XXXXXX", path);
    {
        const char *slash = strrchr(path, '/');
        if (slash == NULL)
            memcpy(w->dir, ".", 2);
        else if (slash == path)
            memcpy(w->dir, "/", 2);
        else {
            memcpy(w->dir, path, (size_t)(slash - path));
            w->dir[slash - path] = 0;
        }
    }
    for (int k = 0; k < 3; k++) {
        if (sa_sorter_open(&w->post[k], w->dir, 8, SORTER_BYTES) != 0)
            goto fail;
    }
    if (sa_sorter_open(&w->ids, w->dir, 8, SORTER_BYTES) != 0)
        goto fail;
    if (o.dedup && sa_sorter_open(&w->dd, w->dir, DD_SIZE, 2 * SORTER_BYTES) != 0)
        goto fail;
    w->nthreads = o.threads;
    w->columnar = o.layout != STEPARC_LAYOUT_ROWS;
    w->packed = w->columnar; /* a new archive is 1.2, or 1.0 with --layout rows */
    if (w->nthreads <= 1) {
        w->cctx = new_cctx(o.level);
        if (w->cctx == NULL)
            goto fail;
    }
    /* the inline encoder also serves dictionary training */
    if (w->columnar && (w->colenc = sa_colenc_new()) == NULL)
        goto fail;
    if (append) {
        rc = append_prepare(w, errbuf, cap);
        if (rc) {
            steparc_writer_close(w);
            return rc;
        }
    } else {
        w->fd = mkstemp(w->tmppath);
        w->created = w->fd >= 0;
        if (w->fd < 0) {
            int e = errno;
            sa_fmt(errbuf, cap, "cannot create %s: %s", w->tmppath, strerror(e));
            steparc_writer_close(w);
            return STEPARC_E_IO;
        }
        if (w->fd >= 0) {
            /* mkstemp makes 0600; give the archive the mode a new file gets */
            mode_t um = umask(022);
            umask(um);
            (void)fchmod(w->fd, 0666 & ~um);
        }
        {
            sa_file_header h;
            memset(&h, 0, sizeof h);
            h.major = STEPARC_FORMAT_MAJOR;
            /* 1.1 adds the columnar layout, 1.2 packed key sets; archives
             * of rows stay 1.0, readable by every 1.x reader */
            h.minor = w->packed ? 2 : w->columnar ? 1 : 0;
            memcpy(h.sync, w->sync, SA_SYNC_SIZE);
            h.block_size = o.block_size;
            unsigned char hb[SA_FILE_HEADER_SIZE];
            sa_file_header_encode(&h, hb);
            rc = write_all(w, hb, sizeof hb);
            if (rc) {
                sa_fmt(errbuf, cap, "%s", w->err);
                steparc_writer_close(w);
                return rc;
            }
        }
    }
    if (w->nthreads > 1) {
        w->njobs = (size_t)w->nthreads * 2;
        w->jobs = (job *)sa_calloc(w->njobs, sizeof(job));
        w->threads = (pthread_t *)sa_calloc((size_t)w->nthreads, sizeof(pthread_t));
        if (w->jobs == NULL || w->threads == NULL) {
            rc = STEPARC_E_NOMEM;
            w->nthreads = 1; /* no thread, mutex or condition to tear down */
            goto fail;
        }
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv_work, NULL);
        pthread_cond_init(&w->cv_done, NULL);
        for (int i = 0; i < w->nthreads; i++) {
            if (pthread_create(&w->threads[i], NULL, worker, w) != 0) {
                w->nthreads = i; /* join the ones started */
                rc = STEPARC_E_NOMEM;
                steparc_writer_close(w);
                return rc;
            }
        }
    }
    *out = w;
    return 0;
fail:
    sa_fmt(errbuf, cap, "%s", rc == STEPARC_E_NOMEM ? "out of memory" : "cannot start the writer");
    steparc_writer_close(w);
    return rc;
}

/* ---- append ---------------------------------------------------------------------------
 *
 * Appending writes new blocks after the archive's last footer, then a complete
 * new set of sections and a new footer that points back at the old one
 * (docs/FORMAT.md, "Append"). The old footer and everything before it are
 * never modified, so a crash at any moment leaves the old archive readable:
 * readers fall back to the last valid footer. The indexes are rebuilt from the
 * old sections (streamed through the sorters) plus the new records. */

static void stat_load(stat_map *m, sa_mpr *r)
{
    sa_mpitem mm, k, v;
    if (sa_mp_read(r, &mm) != 0 || mm.type != SA_MP_MAP)
        return;
    for (uint32_t i = 0; i < mm.n; i++) {
        if (sa_mp_read(r, &k) != 0 || k.type != SA_MP_STR || sa_mp_read(r, &v) != 0 ||
            v.type != SA_MP_INT || v.i < 0)
            return;
        if (k.n == 7 && memcmp(k.s, "(other)", 7) == 0) {
            m->other += (uint64_t)v.i;
            continue;
        }
        if (m->n == MAX_STAT_VALUES) {
            m->other += (uint64_t)v.i;
            continue;
        }
        char *copy = (char *)sa_malloc(k.n + 1);
        if (copy == NULL)
            return;
        memcpy(copy, k.s, k.n);
        m->e[m->n].name = copy;
        m->e[m->n].len = k.n;
        m->e[m->n].count = (uint64_t)v.i;
        m->n++;
    }
}

static int push_old(void *ctx, uint64_t v)
{
    return sa_sorter_push_u64((sa_sorter *)ctx, v) != 0 ? STEPARC_E_IO : 0;
}

/* Opens the archive to append to with the archive parser (so that append
 * refuses what open refuses, with the same message), then checks what append
 * needs beyond open: every section's CRC (13, step 1: the old indexes are
 * carried into the new ones), a version this writer writes, and the index
 * sections it maintains. */
static int append_open(steparc_writer *w, const unsigned char *base, uint64_t size,
                       sa_archive *a, const sa_section **sec, sa_section *secs,
                       const uint32_t **types_out, char *errbuf, size_t cap)
{
    char why[400];
    int rc = sa_archive_parse(a, base, size, why, sizeof why);
    if (rc) {
        sa_fmt(errbuf, cap, "%s: %s", w->path, why);
        return rc;
    }
    if (a->hdr.minor > STEPARC_FORMAT_MINOR) {
        sa_fmt(errbuf, cap, "%s: format %u.%u is newer than this writer (%d.%d)", w->path,
               a->hdr.major, a->hdr.minor, STEPARC_FORMAT_MAJOR, STEPARC_FORMAT_MINOR);
        return STEPARC_E_VERSION;
    }
    for (uint32_t i = 0; i < a->ft.section_count; i++) {
        sa_section_decode(a->table + (size_t)i * SA_SECTION_ENTRY_SIZE, &secs[i]);
        if (sa_section_crc_check(base, &secs[i]) != 0) {
            sa_section_crc_msg(&secs[i], why, sizeof why);
            sa_fmt(errbuf, cap, "%s: %s (run 'steparc recover' first)", w->path, why);
            return STEPARC_E_CORRUPT;
        }
        /* the parser refused a repeated type 1..11 */
        if (secs[i].type >= 1 && secs[i].type <= 11)
            sec[secs[i].type] = &secs[i];
    }
    /* an archive keeps its version: appending to a 1.0 archive writes rows,
     * so that every 1.0 reader can still read all of it */
    if (a->hdr.minor < 1)
        w->columnar = 0;
    w->packed = a->hdr.minor >= 2; /* and plain index sections into 1.0 and 1.1 archives */
    /* the index sections this writer maintains: 1 and 2..5, or 1 and 8..11
     * (the parser checked the sizes of 1 and of 2..5) */
    static const uint32_t plain_t[4] = {SA_SEC_ID_INDEX, SA_SEC_RUN_POSTINGS, SA_SEC_THREAD_POSTINGS,
                                        SA_SEC_ASSISTANT_POSTINGS};
    static const uint32_t packed_t[4] = {SA_SEC_PACKED_ID_INDEX, SA_SEC_PACKED_RUN_POSTINGS,
                                         SA_SEC_PACKED_THREAD_POSTINGS,
                                         SA_SEC_PACKED_ASSISTANT_POSTINGS};
    const uint32_t *types = *types_out = w->packed ? packed_t : plain_t;
    for (uint32_t t = 0; t < 4; t++)
        if (sec[types[t]] == NULL || (!w->packed && sec[types[t]]->length % 8)) {
            sa_fmt(errbuf, cap, "%s: the archive lacks an index section this writer maintains "
                   "(type %u); rewrite it with 'steparc merge'", w->path, types[t]);
            return STEPARC_E_CORRUPT;
        }
    return 0;
}

static int append_prepare(steparc_writer *w, char *errbuf, size_t cap)
{
    int rc = 0;
    struct stat st;
    unsigned char *base = NULL;
    w->fd = open(w->path, O_RDWR | O_CLOEXEC);
    if (w->fd < 0 || fstat(w->fd, &st) != 0) {
        sa_fmt(errbuf, cap, "cannot open %s: %s", w->path, strerror(errno));
        return STEPARC_E_IO;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (!S_ISREG(st.st_mode)) {
        sa_fmt(errbuf, cap, "%s is not a regular file", w->path);
        return STEPARC_E_IO;
    }
    if (size > 0) { /* an empty file is the parser's to refuse; it maps nothing */
        base = (unsigned char *)mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, w->fd, 0);
        if (base == MAP_FAILED) {
            sa_fmt(errbuf, cap, "cannot map %s: %s", w->path, strerror(errno));
            return STEPARC_E_IO;
        }
    }
    sa_archive a;
    sa_section secs[SA_MAX_SECTIONS];
    const sa_section *sec[12] = {NULL};
    const uint32_t *types = NULL;
    rc = append_open(w, base, size, &a, sec, secs, &types, errbuf, cap);
    if (rc)
        goto done;
    const sa_file_header h = a.hdr;
    const sa_footer f = a.ft;
    const uint64_t at = a.footer_at;
    memcpy(w->sync, h.sync, SA_SYNC_SIZE);
    /* block index, counters, time order */
    const unsigned char *bi = a.bindex; /* its entries checked by the parser */
    for (uint64_t b = 0; b < f.block_count; b++) {
        sa_block_entry e;
        sa_block_entry_decode(bi + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
        w->raw_bytes += (e.rows_size ? e.rows_size : e.raw_size) - 4 * (uint64_t)e.record_count;
        w->stored_bytes += e.stored_size;
        if (e.min_created_at <= e.max_created_at) {
            if (e.min_created_at < w->min_ts)
                w->min_ts = e.min_created_at;
            if (e.max_created_at > w->max_ts)
                w->max_ts = e.max_created_at;
            w->prev_max = e.max_created_at;
            w->have_prev = 1;
        }
    }
    if (sa_buf_append(&w->bindex, bi, (size_t)(f.block_count * SA_BLOCK_INDEX_ENTRY_SIZE)) != 0) {
        rc = STEPARC_E_NOMEM;
        goto done;
    }
    w->records = f.record_count;
    w->block_first = f.record_count;
    w->blocks_flushed = w->blocks_written = f.block_count;
    w->time_ordered = (f.flags & SA_FOOTER_TIME_ORDERED) != 0;
    /* the indexes: old entries go through the sorters with the new ones */
    for (int k = 0; k < 4 && rc == 0; k++) {
        const unsigned char *p = base + sec[types[k]]->offset;
        uint64_t len = sec[types[k]]->length;
        sa_sorter *s = k == 0 ? w->ids : w->post[k - 1];
        if (w->packed) {
            sa_keyset ks;
            const char *kwhy = "";
            rc = sa_keyset_open(&ks, p, len, &kwhy);
            if (rc == 0)
                rc = sa_keyset_each(&ks, push_old, s, &kwhy);
            if (rc == STEPARC_E_CORRUPT) {
                sa_fmt(errbuf, cap, "%s: index section of type %u: %s (run 'steparc recover' first)",
                       w->path, types[k], kwhy);
                goto done;
            }
        } else {
            for (uint64_t i = 0; i < len / 8 && rc == 0; i++)
                rc = push_old(s, sa_get_u64(p + 8 * i));
        }
    }
    if (rc) {
        sa_fmt(errbuf, cap, "cannot spill index entries to a temporary file");
        goto done;
    }
    if (sec[SA_SEC_STATS]) {
        sa_mpr r = {base + sec[SA_SEC_STATS]->offset,
                    base + sec[SA_SEC_STATS]->offset + sec[SA_SEC_STATS]->length};
        sa_mpitem m, k;
        if (sa_mp_read(&r, &m) == 0 && m.type == SA_MP_MAP)
            for (uint32_t i = 0; i < m.n; i++) {
                if (sa_mp_read(&r, &k) != 0 || k.type != SA_MP_STR)
                    break;
                const unsigned char *vs = r.p;
                if (k.n == 7 && memcmp(k.s, "by_type", 7) == 0)
                    stat_load(&w->by_type, &r);
                else if (k.n == 9 && memcmp(k.s, "by_status", 9) == 0)
                    stat_load(&w->by_status, &r);
                r.p = vs;
                if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                    break;
            }
    }
    /* appended blocks use the archive's dictionary, if it has one */
    w->dict_state = 1;
    if (a.slot[SA_SLOT_DICT].present) { /* its size checked by the parser */
        const sa_section *ds = &a.slot[SA_SLOT_DICT].s;
        if (sa_buf_append(&w->dict, base + ds->offset, (size_t)ds->length) != 0 ||
            (w->cdict = new_cdict(w, w->dict.data, w->dict.len)) == NULL) {
            rc = STEPARC_E_NOMEM;
            sa_fmt(errbuf, cap, "out of memory");
            goto done;
        }
    }
    w->prev_footer = at;
    w->orig_len = at + SA_FOOTER_SIZE;
    /* drop what an interrupted append left after the last footer */
    if (size > w->orig_len && ftruncate(w->fd, (off_t)w->orig_len) != 0) {
        sa_fmt(errbuf, cap, "cannot truncate %s: %s", w->path, strerror(errno));
        rc = STEPARC_E_IO;
        goto done;
    }
    if (lseek(w->fd, (off_t)w->orig_len, SEEK_SET) < 0) {
        sa_fmt(errbuf, cap, "cannot seek in %s: %s", w->path, strerror(errno));
        rc = STEPARC_E_IO;
        goto done;
    }
    w->file_off = w->orig_len;
    w->appending = 1;
done:
    if (base)
        munmap(base, (size_t)size);
    return rc;
}

/* ---- adding records ------------------------------------------------------------- */

static void stat_add(stat_map *m, steparc_str s)
{
    if (s.ptr == NULL)
        s.ptr = "", s.len = 0; /* absent or not a string: counted under "" */
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].len == s.len && memcmp(m->e[i].name, s.ptr, s.len) == 0) {
            m->e[i].count++;
            return;
        }
    if (m->n == MAX_STAT_VALUES || s.len > 256) {
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
    if (SA_GROW(w->pkeys[k], w->cappkeys[k], w->npkeys[k], 256) != 0)
        return STEPARC_E_NOMEM;
    uint32_t key;
    if (s.len == w->lastk_len[k] && memcmp(s.ptr, w->lastk[k], s.len) == 0) {
        key = w->lastk_key[k];
    } else {
        key = sa_key32(s.ptr, s.len);
        if (s.len <= sizeof w->lastk[k]) {
            memcpy(w->lastk[k], s.ptr, s.len);
            w->lastk_len[k] = s.len;
            w->lastk_key[k] = key;
        }
    }
    w->pkeys[k][w->npkeys[k]++] = key;
    return 0;
}

/* ---- duplicates ----------------------------------------------------------------------
 *
 * Each record with an id adds an 80-byte entry: a 64-bit hash of the id
 * (big-endian, so that entries sort by it), the id's length and its first 64
 * bytes, the ordinal (big-endian) and the status rank. Sorted, the entries of
 * one id are adjacent and in input order; the winner of each group is known
 * in one pass, with no random access. Ids longer than 64 bytes are compared
 * in full by reading the records back. */


static uint64_t hash_id64(const char *p, size_t n)
{
    uint64_t h = sa_hash64(p, n);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* 2 for a terminal status, 1 otherwise: "completed" beats "in_progress". */
static unsigned char status_rank(steparc_str s)
{
    static const char *const terminal[] = {"completed", "failed", "cancelled", "expired"};
    for (size_t i = 0; i < 4; i++)
        if (s.ptr && s.len == strlen(terminal[i]) && memcmp(s.ptr, terminal[i], s.len) == 0)
            return 2;
    return 1;
}

/* idh: hash_id64 of the id. */
static int push_dedup(steparc_writer *w, const sa_keyfields *kf, uint64_t idh)
{
    unsigned char e[DD_SIZE];
    memset(e, 0, sizeof e);
    sa_put_be64(e, idh);
    e[8] = (unsigned char)(kf->id.len > DD_ID ? 255 : kf->id.len);
    memcpy(e + 9, kf->id.ptr, kf->id.len > DD_ID ? DD_ID : kf->id.len);
    uint64_t o = w->records;
    e[DD_GROUP] = (unsigned char)(o >> 24);
    e[DD_GROUP + 1] = (unsigned char)(o >> 16);
    e[DD_GROUP + 2] = (unsigned char)(o >> 8);
    e[DD_GROUP + 3] = (unsigned char)o;
    e[DD_GROUP + 4] = status_rank(kf->status);
    return sa_sorter_push(w->dd, e);
}

int sa_writer_add_trusted(steparc_writer *w, const void *mp, size_t len)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0)
        return wfail(w, STEPARC_E_INPUT, "record is not a MessagePack map");
    return sa_writer_add_kf(w, mp, len, &kf);
}

static int account(steparc_writer *w, const sa_keyfields *kf, size_t len);

int sa_writer_add_kf(steparc_writer *w, const void *mp, size_t len, const sa_keyfields *kf)
{
    if (w->failed)
        return STEPARC_E_MISUSE; /* the message of the failure stays */
    if (w->finished)
        return wfail(w, STEPARC_E_MISUSE, "writer is finished");
    if (len > STEPARC_MAX_RECORD_SIZE)
        return wfail(w, STEPARC_E_LIMIT, "record of %zu bytes exceeds the 64 MiB limit", len);
    if (w->records >= (uint64_t)SA_MAX_RECORDS)
        return wfail(w, STEPARC_E_LIMIT, "archive holds the maximum of 2^32-1 records");
    /* Close the block first if this record would overflow it. */
    if (w->nends > 0 && (w->recs.len - w->gap + len + 4 * (w->nends + 1) > w->opt.block_size ||
                         w->nends >= STEPARC_MAX_BLOCK_RECORDS)) {
        int rc = flush_block(w);
        if (rc) {
            w->failed = 1;
            return rc;
        }
    }
    if (SA_GROW(w->ends, w->capends, w->nends, 1024) != 0)
        return wfail(w, STEPARC_E_NOMEM, "out of memory");
    if (sa_buf_append(&w->recs, mp, len) != 0)
        return wfail(w, STEPARC_E_NOMEM, "out of memory");
    w->ends[w->nends++] = (uint32_t)(w->recs.len - w->gap);
    int rc = account(w, kf, len);
    if (rc)
        return rc;
    /* A record bigger than the target gets a block of its own. */
    if (w->recs.len - w->gap + 4 * w->nends >= w->opt.block_size) {
        rc = flush_block(w);
        if (rc) {
            w->failed = 1;
            return rc;
        }
    }
    return 0;
}

/* What a record adds besides its bytes: the block's and the archive's time
 * range, its id index entry (ordinal w->records) and dedup entry, its
 * postings keys, the statistics; then it is counted. */
static int account(steparc_writer *w, const sa_keyfields *kf, size_t len)
{
    if (kf->has_created_at) {
        if (kf->created_at < w->bmin)
            w->bmin = kf->created_at;
        if (kf->created_at > w->bmax)
            w->bmax = kf->created_at;
        if (kf->created_at < w->min_ts)
            w->min_ts = kf->created_at;
        if (kf->created_at > w->max_ts)
            w->max_ts = kf->created_at;
    }
    /* key32 is the high half of hash_id64: one hash for the index and dedup */
    uint64_t idh = kf->id.ptr ? hash_id64(kf->id.ptr, kf->id.len) : 0;
    if (kf->id.ptr && sa_sorter_push_u64(w->ids, (idh >> 32 << 32) | w->records) != 0) {
        w->failed = 1;
        return wfail(w, STEPARC_E_IO, "cannot spill index entries to a temporary file");
    }
    /* an empty id identifies nothing (third-party servers send ""): never merged */
    if (w->dd && kf->id.ptr && kf->id.len > 0 && push_dedup(w, kf, idh) != 0) {
        w->failed = 1;
        return wfail(w, STEPARC_E_IO, "cannot spill duplicate-detection entries to a temporary file");
    }
    if (push_key(w, 0, kf->run_id) || push_key(w, 1, kf->thread_id) ||
        push_key(w, 2, kf->assistant_id))
        return wfail(w, STEPARC_E_NOMEM, "out of memory");
    stat_add(&w->by_type, kf->type);
    stat_add(&w->by_status, kf->status);
    w->raw_bytes += len;
    w->records++;
    return 0;
}

int steparc_writer_add_msgpack(steparc_writer *w, const void *mp, size_t len)
{
    if (w == NULL || (mp == NULL && len))
        return STEPARC_E_ARG;
    char why[160];
    int rc = sa_mp_validate(mp, len, why, sizeof why);
    if (rc)
        return wfail(w, rc, "record %llu: %s", (unsigned long long)w->records, why);
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
        wfail(w, rc, "record %llu: line %zu, column %zu: %s", (unsigned long long)w->records,
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
        wfail(w, rc, "record %llu: the step struct cannot be encoded (%s)",
              (unsigned long long)w->records, steparc_strerror(rc));
    steparc_buf_free(&mp);
    return rc;
}

uint64_t steparc_writer_count(const steparc_writer *w)
{
    return w ? w->records : 0;
}

/* ---- finish --------------------------------------------------------------------- */

typedef struct {
    steparc_writer *w;
    uint32_t crc;
    uint64_t len;
    int packed;
    sa_keyset_enc enc; /* packed: the encoder and its pending bytes */
    steparc_buf buf;
} section_sink;

/* Writes the packed bytes pending in s->buf. */
static int sink_drain(section_sink *s)
{
    s->crc = sa_crc32c(s->crc, s->buf.data, s->buf.len);
    s->len += s->buf.len;
    int rc = write_all(s->w, s->buf.data, s->buf.len);
    s->buf.len = 0;
    return rc;
}

/* Writes sorted 8-byte entries (big-endian in the sorter): little-endian
 * u64 (plain sections), or through the packed key set encoder. */
static int emit_values(void *ctx, const unsigned char *v, size_t n)
{
    section_sink *s = (section_sink *)ctx;
    if (s->packed) {
        for (size_t i = 0; i < n; i++) {
            int rc = sa_keyset_enc_push(&s->enc, sa_get_be64(v + 8 * i));
            if (rc)
                return rc;
            if (s->buf.len >= 65536 && (rc = sink_drain(s)) != 0)
                return rc;
        }
        return 0;
    }
    unsigned char buf[8 * 512];
    while (n) {
        size_t k = n < 512 ? n : 512;
        for (size_t i = 0; i < k; i++)
            sa_put_u64(buf + 8 * i, sa_get_be64(v + 8 * i));
        s->crc = sa_crc32c(s->crc, buf, 8 * k);
        s->len += 8 * k;
        int rc = write_all(s->w, buf, 8 * k);
        if (rc)
            return rc;
        v += 8 * k;
        n -= k;
    }
    return 0;
}

typedef struct {
    steparc_buf *b;
    int failed; /* msgpack-c's pack calls return the sink's status: remembered here */
} mp_out;

static int mp_sink(void *data, const char *buf, size_t len)
{
    mp_out *o = (mp_out *)data;
    if (o->failed || sa_buf_append(o->b, buf, len) != 0) {
        o->failed = 1;
        return -1;
    }
    return 0;
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_statmap(msgpack_packer *pk, const stat_map *m)
{
    msgpack_pack_map(pk, m->n + (m->other ? 1 : 0));
    for (size_t i = 0; i < m->n; i++) {
        msgpack_pack_str(pk, m->e[i].len);
        msgpack_pack_str_body(pk, m->e[i].name, m->e[i].len);
        msgpack_pack_uint64(pk, m->e[i].count);
    }
    if (m->other) {
        pack_cstr(pk, "(other)");
        msgpack_pack_uint64(pk, m->other);
    }
}

static int build_stats(steparc_writer *w, steparc_buf *b)
{
    msgpack_packer pk;
    mp_out o = {b, 0};
    msgpack_packer_init(&pk, &o, mp_sink);
    int have_ts = w->min_ts <= w->max_ts;
    msgpack_pack_map(&pk, 7 + (have_ts ? 2 : 0));
    pack_cstr(&pk, "records");
    msgpack_pack_uint64(&pk, w->records);
    pack_cstr(&pk, "blocks");
    msgpack_pack_uint64(&pk, w->blocks_written);
    pack_cstr(&pk, "raw_bytes");
    msgpack_pack_uint64(&pk, w->raw_bytes);
    pack_cstr(&pk, "stored_bytes");
    msgpack_pack_uint64(&pk, w->stored_bytes);
    if (have_ts) {
        pack_cstr(&pk, "min_created_at");
        msgpack_pack_int64(&pk, w->min_ts);
        pack_cstr(&pk, "max_created_at");
        msgpack_pack_int64(&pk, w->max_ts);
    }
    pack_cstr(&pk, "by_type");
    pack_statmap(&pk, &w->by_type);
    pack_cstr(&pk, "by_status");
    pack_statmap(&pk, &w->by_status);
    pack_cstr(&pk, "writer");
    pack_cstr(&pk, "steparc " STEPARC_VERSION_STRING);
    return o.failed ? STEPARC_E_NOMEM : 0;
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

/* Reads block b of the temporary file back (for dedup) and decodes it with
 * the block decoder (format/archive.c): its header in *hout, its stored bytes
 * in stored->data (hout->stored_size of them) and its rows payload in raw. */
static int read_block(steparc_writer *w, uint64_t b, ZSTD_DCtx *d, steparc_buf *stored,
                      steparc_buf *raw, sa_block_header *hout)
{
    sa_block_entry e;
    sa_block_entry_decode((const unsigned char *)w->bindex.data + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
    unsigned char hb[SA_BLOCK_HEADER_SIZE];
    sa_block_header h;
    const char *why;
    stored->len = raw->len = 0;
    if (pread(w->fd, hb, sizeof hb, (off_t)e.offset) != (ssize_t)sizeof hb)
        return io_fail(w, "cannot read back");
    if (sa_block_head(w->sync, hb, &e, &h, &why) != 0)
        return wfail(w, STEPARC_E_IO, "block %llu reads back damaged: %s", (unsigned long long)b, why);
    if (sa_buf_reserve(stored, h.stored_size) != 0)
        return wfail(w, STEPARC_E_NOMEM, "out of memory");
    size_t got = 0;
    while (got < h.stored_size) {
        ssize_t r = pread(w->fd, stored->data + got, h.stored_size - got,
                          (off_t)(e.offset + SA_BLOCK_HEADER_SIZE + got));
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return io_fail(w, "cannot read back");
        }
        got += (size_t)r;
    }
    if (sa_block_body(&h, (const unsigned char *)stored->data, got, &why) != 0)
        return wfail(w, STEPARC_E_IO, "block %llu reads back damaged: %s", (unsigned long long)b, why);
    if ((h.flags & SA_BLOCK_FLAG_DICT) && w->ddict == NULL && w->dict.len &&
        (w->ddict = ZSTD_createDDict(w->dict.data, w->dict.len)) == NULL)
        return wfail(w, STEPARC_E_NOMEM, "out of memory");
    unsigned char *rows;
    size_t rows_len;
    char m[200];
    int rc = sa_block_decode(&h, (const unsigned char *)stored->data, e.rows_size, d, w->ddict,
                             &rows, &rows_len, m, sizeof m);
    if (rc)
        return wfail(w, rc == STEPARC_E_NOMEM ? rc : STEPARC_E_IO, "block %llu reads back damaged: %s",
                     (unsigned long long)b, m);
    sa_free(raw->data); /* the decoded rows take the buffer's place, uncopied */
    raw->data = (char *)rows;
    raw->len = raw->cap = rows_len;
    *hout = h;
    return 0;
}

/* The id of record `ordinal`, copied into out (for ids longer than 64 bytes). */
static int fetch_id(steparc_writer *w, uint64_t ordinal, steparc_buf *out)
{
    uint64_t lo = 0, hi = w->blocks_written;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (sa_get_u64((const unsigned char *)w->bindex.data + mid * SA_BLOCK_INDEX_ENTRY_SIZE + 8) <= ordinal)
            lo = mid;
        else
            hi = mid;
    }
    ZSTD_DCtx *d = ZSTD_createDCtx();
    steparc_buf stored = {0}, raw = {0};
    sa_block_header h;
    int rc = d ? read_block(w, lo, d, &stored, &raw, &h) : STEPARC_E_NOMEM;
    if (rc == 0) {
        const unsigned char *p;
        size_t n;
        sa_keyfields kf;
        sa_rows_get((const unsigned char *)raw.data, h.record_count,
                    (uint32_t)(ordinal - h.first_ordinal), &p, &n);
        out->len = 0;
        if (sa_mp_keyfields(p, n, &kf) != 0 || kf.id.ptr == NULL)
            rc = wfail(w, STEPARC_E_IO, "record %llu reads back without its id", (unsigned long long)ordinal);
        else if (sa_buf_append(out, kf.id.ptr, kf.id.len) != 0)
            rc = STEPARC_E_NOMEM;
    }
    ZSTD_freeDCtx(d);
    steparc_buf_free(&stored);
    steparc_buf_free(&raw);
    return rc;
}

typedef struct {
    steparc_writer *w;
    unsigned char *loser; /* bitmap by ordinal */
    unsigned char cur[DD_SIZE];
    int have;
    uint64_t losers;
    steparc_buf a, b;
} ddstate;

static uint32_t dd_ordinal(const unsigned char *e)
{
    return (uint32_t)e[DD_GROUP] << 24 | (uint32_t)e[DD_GROUP + 1] << 16 |
           (uint32_t)e[DD_GROUP + 2] << 8 | e[DD_GROUP + 3];
}

/* Is ordinal o marked in the losers bitmap? */
static int is_loser(const unsigned char *loser, uint64_t o)
{
    return (loser[o >> 3] >> (o & 7)) & 1;
}

static void mark(ddstate *s, uint32_t o)
{
    s->loser[o >> 3] |= (unsigned char)(1u << (o & 7));
    s->losers++;
}

static int dd_emit(void *ctx, const unsigned char *e, size_t n)
{
    ddstate *s = (ddstate *)ctx;
    for (size_t i = 0; i < n; i++, e += DD_SIZE) {
        int same = s->have && memcmp(e, s->cur, DD_GROUP) == 0;
        if (same && e[8] == 255) {
            /* long ids: equal hashes and prefixes, compare them in full */
            int rc = fetch_id(s->w, dd_ordinal(s->cur), &s->a);
            if (rc == 0)
                rc = fetch_id(s->w, dd_ordinal(e), &s->b);
            if (rc)
                return rc;
            same = s->a.len == s->b.len && memcmp(s->a.data, s->b.data, s->a.len) == 0;
        }
        if (!same) {
            memcpy(s->cur, e, DD_SIZE);
            s->have = 1;
            continue;
        }
        /* entries of a group come in input order: the later wins ties */
        if (e[DD_GROUP + 4] >= s->cur[DD_GROUP + 4]) {
            mark(s, dd_ordinal(s->cur));
            memcpy(s->cur, e, DD_SIZE);
        } else {
            mark(s, dd_ordinal(e));
        }
    }
    return 0;
}

/* The second writer of a dedup takes the first one's dictionary (or its
 * decision to have none) instead of training its own, so that the blocks
 * copied as they are (copy_block) decompress with it. */
static int adopt_dict(steparc_writer *w2, const steparc_writer *w)
{
    w2->dict_state = 1;
    if (w->dict.len == 0)
        return 0;
    if (sa_buf_append(&w2->dict, w->dict.data, w->dict.len) != 0 ||
        (w2->cdict = new_cdict(w2, w2->dict.data, w2->dict.len)) == NULL)
        return wfail(w2, STEPARC_E_NOMEM, "out of memory");
    return write_dict_block(w2);
}

/* A block of the first writer with no record to drop goes to w2 as it is:
 * its stored bytes under a new header (first_ordinal lowered by the records
 * dropped before it). Only its records' index entries and statistics are
 * computed, from their key fields in rows (the block's decoded rows). */
static int copy_block(steparc_writer *w2, const sa_block_header *h, uint32_t rows_size,
                      const steparc_buf *stored, const steparc_buf *rows)
{
    int rc = flush_block(w2); /* the records added before it, in order */
    if (rc == 0 && w2->nthreads > 1)
        rc = drain(w2, NULL);
    if (rc)
        return rc;
    job j;
    memset(&j, 0, sizeof j);
    j.hdr = *h;
    j.hdr.first_ordinal = w2->records;
    j.rows_size = rows_size;
    for (uint32_t i = 0; i < h->record_count; i++) {
        const unsigned char *p;
        size_t n;
        sa_keyfields kf;
        sa_rows_get((const unsigned char *)rows->data, h->record_count, i, &p, &n);
        if (sa_mp_keyfields(p, n, &kf) != 0)
            return wfail(w2, STEPARC_E_INPUT, "record is not a MessagePack map");
        if ((rc = account(w2, &kf, n)) != 0)
            return rc;
    }
    if ((rc = push_postings(w2, w2->blocks_flushed)) != 0)
        return rc;
    close_block_times(w2);
    w2->blocks_flushed++;
    w2->block_first = w2->records;
    if (sa_buf_reserve(&j.out, SA_BLOCK_HEADER_SIZE + (size_t)h->stored_size) != 0)
        return wfail(w2, STEPARC_E_NOMEM, "out of memory");
    /* write_block encodes the header in front; read_block left the stored
     * bytes in stored->data (their size is the header's) */
    memcpy(j.out.data + SA_BLOCK_HEADER_SIZE, stored->data, h->stored_size);
    j.out.len = SA_BLOCK_HEADER_SIZE + (size_t)h->stored_size;
    rc = write_block(w2, &j);
    steparc_buf_free(&j.out);
    return rc;
}

/* Writes the final archive again without the losers, from the blocks of the
 * temporary file, through a second writer that renames over the path. A
 * block without losers is copied as it is (a few duplicates among millions
 * of records cost a read of the archive, not a second conversion). */
static int rewrite_without(steparc_writer *w, const unsigned char *loser)
{
    steparc_writer_options o = w->opt;
    o.dedup = 0;
    steparc_writer *w2 = NULL;
    char why[300];
    int rc = steparc_writer_open(&w2, w->path, &o, why, sizeof why);
    if (rc)
        return wfail(w, rc, "cannot create the deduplicated archive: %s", why);
    if ((rc = adopt_dict(w2, w)) != 0)
        wfail(w, rc, "%s", steparc_writer_errmsg(w2));
    ZSTD_DCtx *d = ZSTD_createDCtx();
    steparc_buf stored = {0}, raw = {0};
    if (d == NULL && rc == 0)
        rc = wfail(w, STEPARC_E_NOMEM, "out of memory");
    for (uint64_t b = 0; b < w->blocks_written && rc == 0; b++) {
        sa_block_header h;
        sa_block_entry e;
        sa_block_entry_decode((const unsigned char *)w->bindex.data + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
        int clean = 1;
        for (uint64_t o2 = e.first_ordinal; clean && o2 < e.first_ordinal + e.record_count; o2++)
            clean = !is_loser(loser, o2);
        rc = read_block(w, b, d, &stored, &raw, &h);
        if (rc == 0 && clean) {
            rc = copy_block(w2, &h, e.rows_size, &stored, &raw);
            if (rc)
                wfail(w, rc, "%s", steparc_writer_errmsg(w2));
            continue;
        }
        for (uint32_t i = 0; i < h.record_count && rc == 0; i++) {
            if (is_loser(loser, h.first_ordinal + i))
                continue;
            const unsigned char *p;
            size_t n;
            sa_rows_get((const unsigned char *)raw.data, h.record_count, i, &p, &n);
            rc = sa_writer_add_trusted(w2, p, n);
            if (rc)
                wfail(w, rc, "%s", steparc_writer_errmsg(w2));
        }
    }
    if (rc == 0) {
        rc = steparc_writer_finish(w2);
        if (rc)
            wfail(w, rc, "%s", steparc_writer_errmsg(w2));
    }
    ZSTD_freeDCtx(d);
    steparc_buf_free(&stored);
    steparc_buf_free(&raw);
    steparc_writer_close(w2);
    return rc;
}

/* Finds the duplicates; when there are some, writes the archive again without
 * them. *done = 1 when the final archive was written that way. */
static int dedup_finish(steparc_writer *w, int *done)
{
    *done = 0;
    if (w->dd == NULL || sa_sorter_count(w->dd) < 2)
        return 0;
    ddstate s;
    memset(&s, 0, sizeof s);
    s.w = w;
    s.loser = (unsigned char *)sa_calloc((size_t)(w->records / 8 + 1), 1);
    if (s.loser == NULL)
        return wfail(w, STEPARC_E_NOMEM, "out of memory");
    int rc = sa_sorter_finish(w->dd, 0, dd_emit, &s);
    if (rc && w->err[0] == 0)
        wfail(w, rc, "cannot sort the ids to find duplicates: %s", steparc_strerror(rc));
    if (rc == 0 && s.losers > 0) {
        /* the second writer builds its own indexes: free these first */
        sa_sorter_close(w->ids);
        w->ids = NULL;
        for (int k = 0; k < 3; k++) {
            sa_sorter_close(w->post[k]);
            w->post[k] = NULL;
        }
        rc = rewrite_without(w, s.loser);
        if (rc == 0) {
            w->duplicates = s.losers;
            *done = 1;
        }
    }
    sa_free(s.loser);
    steparc_buf_free(&s.a);
    steparc_buf_free(&s.b);
    return rc;
}

uint64_t steparc_writer_duplicates(const steparc_writer *w)
{
    return w ? w->duplicates : 0;
}

int steparc_writer_finish(steparc_writer *w)
{
    if (w == NULL)
        return STEPARC_E_ARG;
    if (w->failed)
        return STEPARC_E_MISUSE; /* the message of the failure stays */
    if (w->finished)
        return wfail(w, STEPARC_E_MISUSE, "writer is finished");
    int rc = flush_block(w);
    if (rc == 0 && w->dict_state == 0)
        rc = decide_dict(w);
    if (rc == 0 && w->nthreads > 1)
        rc = drain(w, NULL);
    if (rc == 0) {
        int done;
        rc = dedup_finish(w, &done);
        if (rc == 0 && done) {
            /* the archive went to the path through a second writer */
            close(w->fd);
            w->fd = -1;
            unlink(w->tmppath);
            w->finished = 1;
            w->err[0] = 0;
            return 0;
        }
    }
    sa_section secs[8];
    unsigned nsec = 0;
    if (rc == 0) {
        secs[nsec].type = SA_SEC_BLOCK_INDEX;
        secs[nsec].offset = w->file_off;
        secs[nsec].length = w->bindex.len;
        secs[nsec].crc = sa_crc32c(0, w->bindex.data, w->bindex.len);
        nsec++;
        rc = write_all(w, w->bindex.data, w->bindex.len);
    }
    static const uint32_t types[2][4] = {
        {SA_SEC_ID_INDEX, SA_SEC_RUN_POSTINGS, SA_SEC_THREAD_POSTINGS, SA_SEC_ASSISTANT_POSTINGS},
        {SA_SEC_PACKED_ID_INDEX, SA_SEC_PACKED_RUN_POSTINGS, SA_SEC_PACKED_THREAD_POSTINGS,
         SA_SEC_PACKED_ASSISTANT_POSTINGS}};
    for (int k = 0; k < 4 && rc == 0; k++) {
        sa_sorter *s = k == 0 ? w->ids : w->post[k - 1];
        section_sink sk;
        memset(&sk, 0, sizeof sk);
        sk.w = w;
        secs[nsec].type = types[w->packed][k];
        secs[nsec].offset = w->file_off;
        if (w->packed) {
            /* lows: ordinals of the id index, block numbers of postings */
            uint64_t top = k == 0 ? w->records : w->blocks_written;
            sk.packed = 1;
            rc = sa_keyset_enc_init(&sk.enc, sa_sorter_count(s), sa_bits_for(top ? top - 1 : 0),
                                    &sk.buf);
            if (rc)
                wfail(w, rc, "out of memory");
        }
        if (rc == 0)
            rc = sa_sorter_finish(s, k != 0, emit_values, &sk);
        if (rc == 0 && sk.packed) {
            rc = sa_keyset_enc_finish(&sk.enc);
            if (rc == 0)
                rc = sink_drain(&sk);
        }
        sa_keyset_enc_free(&sk.enc);
        steparc_buf_free(&sk.buf);
        if (rc && w->err[0] == 0)
            wfail(w, rc, "cannot build the index: %s", steparc_strerror(rc));
        secs[nsec].length = sk.len;
        secs[nsec].crc = sk.crc;
        nsec++;
    }
    if (rc == 0) {
        steparc_buf st = {0};
        rc = build_stats(w, &st);
        if (rc == 0) {
            secs[nsec].type = SA_SEC_STATS;
            secs[nsec].offset = w->file_off;
            secs[nsec].length = st.len;
            secs[nsec].crc = sa_crc32c(0, st.data, st.len);
            nsec++;
            rc = write_all(w, st.data, st.len);
        }
        steparc_buf_free(&st);
    }
    if (rc == 0 && w->dict.len) {
        /* a second copy of the dictionary, found through the footer */
        secs[nsec].type = SA_SEC_DICTIONARY;
        secs[nsec].offset = w->file_off;
        secs[nsec].length = w->dict.len;
        secs[nsec].crc = sa_crc32c(0, w->dict.data, w->dict.len);
        nsec++;
        rc = write_all(w, w->dict.data, w->dict.len);
    }
    if (rc == 0) {
        unsigned char tbl[8 * SA_SECTION_ENTRY_SIZE];
        for (unsigned i = 0; i < nsec; i++)
            sa_section_encode(&secs[i], tbl + i * SA_SECTION_ENTRY_SIZE);
        sa_footer f;
        memset(&f, 0, sizeof f);
        f.section_table_offset = w->file_off;
        f.section_count = nsec;
        f.section_table_crc = sa_crc32c(0, tbl, nsec * SA_SECTION_ENTRY_SIZE);
        f.record_count = w->records;
        f.block_count = w->blocks_written;
        f.flags = w->time_ordered ? SA_FOOTER_TIME_ORDERED : 0;
        f.prev_footer_offset = w->appending ? w->prev_footer : 0;
        unsigned char fb[SA_FOOTER_SIZE];
        sa_footer_encode(&f, fb);
        rc = write_all(w, tbl, nsec * SA_SECTION_ENTRY_SIZE);
        if (rc == 0)
            rc = write_all(w, fb, sizeof fb);
    }
    if (rc == 0 && !w->opt.no_fsync && fsync(w->fd) != 0)
        rc = io_fail(w, "cannot fsync");
    if (rc == 0) {
        int fd = w->fd;
        w->fd = -1;
        if (close(fd) != 0)
            rc = io_fail(w, "cannot close");
    }
    if (rc == 0 && !w->appending && rename(w->tmppath, w->path) != 0) {
        int e = errno;
        rc = wfail(w, STEPARC_E_IO, "cannot rename %s to %s: %s", w->tmppath, w->path,
                   strerror(e));
    }
    if (rc == 0) {
        if (!w->opt.no_fsync && !w->appending)
            (void)fsync_dir(w->dir); /* best effort: some file systems refuse it */
        w->finished = 1;
        w->err[0] = 0;
        return 0;
    }
    w->failed = 1;
    return rc;
}

void steparc_writer_close(steparc_writer *w)
{
    if (w == NULL)
        return;
    if (w->nthreads > 1 && w->threads) {
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_broadcast(&w->cv_work);
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < w->nthreads; i++)
            pthread_join(w->threads[i], NULL);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv_work);
        pthread_cond_destroy(&w->cv_done);
    }
    if (w->jobs) {
        for (size_t i = 0; i < w->njobs; i++) {
            steparc_buf_free(&w->jobs[i].raw);
            steparc_buf_free(&w->jobs[i].out);
            steparc_buf_free(&w->jobs[i].col);
        }
        sa_free(w->jobs);
    }
    sa_free(w->threads);
    if (w->fd >= 0) {
        /* a failed or abandoned append: cut the file back to the old archive */
        if (w->appending && !w->finished && ftruncate(w->fd, (off_t)w->orig_len) == 0 &&
            !w->opt.no_fsync)
            (void)fsync(w->fd);
        close(w->fd);
    }
    if (!w->finished && w->created)
        unlink(w->tmppath);
    ZSTD_freeCCtx(w->cctx);
    sa_colenc_free(w->colenc);
    steparc_buf_free(&w->colbuf);
    sa_sorter_close(w->ids);
    sa_sorter_close(w->dd);
    for (int k = 0; k < 3; k++) {
        sa_sorter_close(w->post[k]);
        sa_free(w->pkeys[k]);
    }
    for (size_t i = 0; i < w->by_type.n; i++)
        sa_free(w->by_type.e[i].name);
    for (size_t i = 0; i < w->by_status.n; i++)
        sa_free(w->by_status.e[i].name);
    steparc_buf_free(&w->recs);
    steparc_buf_free(&w->bindex);
    steparc_buf_free(&w->outbuf);
    for (size_t i = 0; i < w->nheld; i++)
        steparc_buf_free(&w->held[i].raw);
    sa_free(w->held);
    ZSTD_freeCDict(w->cdict);
    ZSTD_freeDDict(w->ddict);
    steparc_buf_free(&w->dict);
    sa_free(w->ends);
    sa_free(w->path);
    sa_free(w->tmppath);
    sa_free(w->dir);
    sa_free(w);
}

const char *steparc_writer_errmsg(const steparc_writer *w)
{
    return w ? w->err : "no writer";
}
