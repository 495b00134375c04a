/* compress.c - the writer's block compression: each block's payload (rows
 * or columns) compressed with zstd, on the workers of an ordered pool
 * (format/pool.c) or inline, and written strictly in order. Every block is
 * compressed independently with the same parameters, so the bytes do not
 * depend on the thread count. */
#define _GNU_SOURCE
#include <fcntl.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createCDict_advanced: tables sized for small blocks */
#include <zstd.h>

#include "writer_impl.h"

/* A block on its way to the file. */
typedef struct {
    steparc_buf raw;            /* its rows payload: a view of own, or borrowed (inline) */
    steparc_buf own;            /* the copy a worker compresses from */
    steparc_buf out;            /* header room, then the stored payload */
    steparc_buf col;            /* the columnar payload (layout 1) */
    sa_block_header hdr;
    uint32_t rows_size;         /* block index rows_size: the rows' size for layout 1, else 0 */
    int use_dict;
    int ready;                  /* the payload is decided: 1 = col holds it, 2 = rows */
} job;

/* a compressing thread's own state */
typedef struct {
    ZSTD_CCtx *cctx;
    sa_colenc *ce;              /* NULL: rows only */
    int borrowed_ce;            /* inline: the writer's own encoder */
} compressor;

int sa_wr_block_payload(sa_colenc *ce, const steparc_buf *raw, uint32_t count, steparc_buf *col,
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
    int rc = j->ready ? 0 : sa_wr_block_payload(ce, &j->raw, j->hdr.record_count, &j->col, &in);
    if (rc)
        return rc;
    j->hdr.layout = in == &j->raw ? SA_LAYOUT_ROWS : SA_LAYOUT_COLUMNS;
    j->hdr.raw_size = (uint32_t)in->len;
    /* out: room for the block header (sa_wr_write_block fills it in, so that a
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
ZSTD_CDict *sa_wr_new_cdict(const steparc_writer *w, const void *dict, size_t len)
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

/* ---- the pool's callbacks ---- */

static int compressor_init(void *ctx, void **tls)
{
    steparc_writer *w = (steparc_writer *)ctx;
    compressor *c = (compressor *)sa_calloc(1, sizeof *c);
    if (c == NULL)
        return STEPARC_E_NOMEM;
    c->cctx = new_cctx(w->opt.level);
    /* the columnar choice is final once the pool starts (an append to a
     * 1.0 archive turned it off) */
    if (w->comp.columnar && w->comp.nthreads <= 1 && w->comp.colenc) {
        c->ce = w->comp.colenc;
        c->borrowed_ce = 1;
    } else if (w->comp.columnar) {
        c->ce = sa_colenc_new();
    }
    if (c->cctx == NULL || (w->comp.columnar && c->ce == NULL)) {
        ZSTD_freeCCtx(c->cctx);
        if (!c->borrowed_ce)
            sa_colenc_free(c->ce);
        sa_free(c);
        return STEPARC_E_NOMEM;
    }
    *tls = c;
    return 0;
}

static void compressor_fini(void *ctx, void *tls)
{
    (void)ctx;
    compressor *c = (compressor *)tls;
    ZSTD_freeCCtx(c->cctx);
    if (!c->borrowed_ce)
        sa_colenc_free(c->ce);
    sa_free(c);
}

static int compress_work(void *ctx, void *tls, void *item)
{
    const steparc_writer *w = (const steparc_writer *)ctx;
    const compressor *c = (const compressor *)tls;
    return compress_job(c->cctx, c->ce, (job *)item, w->dict.cdict);
}

/* Writes the compressed blocks in order. */
static int deliver_block(void *ctx, void *item, int status)
{
    steparc_writer *w = (steparc_writer *)ctx;
    job *j = (job *)item;
    if (status != 0)
        return sa_wr_fail(w, status, "cannot compress block %llu: %s",
                          (unsigned long long)w->acc.blocks_written, steparc_strerror(status));
    return sa_wr_write_block(w, &j->hdr, j->rows_size, &j->out);
}

static void job_free(void *ctx, void *item)
{
    (void)ctx;
    job *j = (job *)item;
    steparc_buf_free(&j->own);
    steparc_buf_free(&j->out);
    steparc_buf_free(&j->col);
}

int sa_wr_pool_open(steparc_writer *w)
{
    sa_pool_def def;
    memset(&def, 0, sizeof def);
    def.ctx = w;
    def.item_size = sizeof(job);
    def.threads = w->comp.nthreads > 1 ? w->comp.nthreads : 0;
    def.nslots = (size_t)def.threads * 2;
    def.thread_init = compressor_init;
    def.thread_fini = compressor_fini;
    def.work = compress_work;
    def.deliver = deliver_block;
    def.item_fini = job_free;
    return sa_pool_open(&w->comp.pool, &def);
}

int sa_wr_pool_finish(steparc_writer *w)
{
    return sa_pool_finish(w->comp.pool);
}

/* Writes a compressed block and records it in the block index. */
int sa_wr_write_block(steparc_writer *w, const sa_block_header *hdr, uint32_t rows_size,
                      steparc_buf *out)
{
    sa_block_entry e;
    e.offset = w->file.off;
    e.first_ordinal = hdr->first_ordinal;
    e.record_count = hdr->record_count;
    e.stored_size = hdr->stored_size;
    e.raw_size = hdr->raw_size;
    e.rows_size = rows_size;
    e.min_created_at = hdr->min_created_at;
    e.max_created_at = hdr->max_created_at;
    sa_block_header_encode(w->sync, hdr, (unsigned char *)out->data);
    int rc = sa_wr_write(w, out->data, out->len);
    if (rc)
        return rc;
    unsigned char ent[SA_BLOCK_INDEX_ENTRY_SIZE];
    sa_block_entry_encode(&e, ent);
    if (sa_buf_append(&w->idx.bindex, ent, sizeof ent) != 0)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    w->acc.stored_bytes += hdr->stored_size;
    w->acc.blocks_written++;
#ifdef SYNC_FILE_RANGE_WRITE
    /* start writing back every 8 MiB (no waiting), so the fsync at the end
     * has little left to do (RocksDB's bytes_per_sync). Only a hint: a
     * failure here changes nothing, the final fsync is the guarantee. */
    if (!w->opt.no_fsync && w->file.off - w->file.synced_off >= (8u << 20)) {
        (void)sync_file_range(w->file.fd, (off64_t)w->file.synced_off,
                              (off64_t)(w->file.off - w->file.synced_off), SYNC_FILE_RANGE_WRITE);
        w->file.synced_off = w->file.off;
    }
#endif
    return 0;
}

int sa_wr_submit_block(steparc_writer *w, const steparc_buf *raw, const sa_block_header *hdr,
                       int ready, const void *col, size_t col_len)
{
    job *j;
    int rc = sa_pool_acquire((void **)&j, w->comp.pool);
    if (rc)
        return rc; /* the message of the failure stays */
    j->col.len = 0;
    if (sa_pool_threads(w->comp.pool) > 0) {
        /* a copy of its own: the block buffer is refilled meanwhile */
        j->own.len = 0;
        if (sa_buf_append(&j->own, raw->data, raw->len) != 0)
            return sa_pool_cancel(w->comp.pool, sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory"));
        j->raw = j->own;
        j->raw.cap = 0; /* a view */
    } else {
        j->raw = *raw; /* borrowed: worked on and written before submit returns */
    }
    if (sa_buf_append(&j->col, col, col_len) != 0)
        return sa_pool_cancel(w->comp.pool, sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory"));
    j->ready = ready;
    j->hdr = *hdr;
    j->use_dict = w->dict.cdict != NULL;
    return sa_pool_submit(w->comp.pool, j);
}
