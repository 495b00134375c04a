/* dict.c - the writer's zstd dictionary: the first blocks are held, their
 * records (or their columnar payloads) train a dictionary when there are
 * enough of them, the dictionary is written as a dictionary block before
 * every block that uses it, then the held blocks are compressed with it.
 * Deterministic: the same records give the same dictionary. */
#include <stdlib.h>
#include <zstd.h>
#define ZDICT_STATIC_LINKING_ONLY /* fastCover with fixed parameters: fast and deterministic */
#include <zdict.h>

#include "writer_impl.h"

#define DICT_SAMPLES (4u << 20)      /* record bytes held to train the dictionary on */
#define DICT_MIN_SAMPLES (1u << 20)  /* fewer: no dictionary (it would not pay) */
#define DICT_MAX (112u * 1024)       /* zstd's own default dictionary size */
#define DICT_PIECE 4096u             /* columnar training samples: payloads cut in pieces */

/* the training set: samples[0..) cut in nsamples pieces of sizes[i] bytes */
typedef struct {
    unsigned char *samples;          /* kept until the held blocks are written: their columns */
    size_t *sizes;
    size_t nsamples;
    size_t cap;                      /* the dictionary's size limit */
} training;

/* Writes w->dict.bytes as a dictionary block (5.4): it comes before every
 * block that uses it. */
static int write_dict_block(steparc_writer *w)
{
    sa_block_header dh;
    memset(&dh, 0, sizeof dh);
    dh.kind = SA_BLOCK_DICT;
    dh.min_created_at = INT64_MAX;
    dh.max_created_at = INT64_MIN;
    dh.stored_size = dh.raw_size = (uint32_t)w->dict.bytes.len;
    dh.payload_crc = sa_crc32c(0, w->dict.bytes.data, w->dict.bytes.len);
    unsigned char hb[SA_BLOCK_HEADER_SIZE];
    sa_block_header_encode(w->sync, &dh, hb);
    int rc = sa_wr_write(w, hb, sizeof hb);
    return rc ? rc : sa_wr_write(w, w->dict.bytes.data, w->dict.bytes.len);
}

int sa_wr_hold_block(steparc_writer *w, const steparc_buf *raw, const sa_block_header *hdr,
                     size_t record_bytes)
{
    /* its records are the dictionary's training samples */
    if (SA_GROW(w->dict.held, w->dict.capheld, w->dict.nheld, 16) != 0)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    sa_wr_held *h = &w->dict.held[w->dict.nheld];
    memset(h, 0, sizeof *h);
    /* held: a copy of its own */
    if (sa_buf_append(&h->raw, raw->data, raw->len) != 0)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    h->hdr = *hdr;
    h->ready = 0; /* decided with the dictionary */
    w->dict.nheld++;
    w->dict.held_bytes += record_bytes;
    if (w->dict.held_bytes >= DICT_SAMPLES)
        return sa_wr_decide_dict(w);
    return 0;
}

/* Columnar training samples: what the blocks will store, their columnar
 * payloads, cut in pieces (the trainer wants many samples). Each block is
 * encoded once: it is written from these bytes. */
static int collect_columns(steparc_writer *w, training *t)
{
    int rc = 0;
    steparc_buf all = {0};
    size_t ncap = 0;
    for (size_t i = 0; i < w->dict.nheld && rc == 0; i++) {
        const steparc_buf *in;
        rc = sa_wr_block_payload(w->comp.colenc, &w->dict.held[i].raw,
                                 w->dict.held[i].hdr.record_count, &w->comp.colbuf, &in);
        w->dict.held[i].ready = in == &w->comp.colbuf ? 1 : 2;
        w->dict.held[i].col_off = all.len;
        w->dict.held[i].col_len = in == &w->comp.colbuf ? in->len : 0;
        if (rc == 0 && sa_buf_append(&all, in->data, in->len) != 0)
            rc = STEPARC_E_NOMEM;
        for (size_t at = 0; rc == 0 && at < in->len; at += DICT_PIECE) {
            if (SA_GROW(t->sizes, ncap, t->nsamples, 1024) != 0) {
                rc = STEPARC_E_NOMEM;
                break;
            }
            t->sizes[t->nsamples++] = in->len - at < DICT_PIECE ? in->len - at : DICT_PIECE;
        }
    }
    t->samples = (unsigned char *)all.data;
    if (rc == 0 && t->cap > all.len / 32)
        t->cap = all.len / 32;
    if (rc)
        return sa_wr_fail(w, rc, rc == STEPARC_E_NOMEM ? "out of memory"
                                                       : "cannot encode a block in columns");
    return 0;
}

/* Row training samples: the records themselves, one sample each. */
static int collect_rows(steparc_writer *w, training *t)
{
    for (size_t i = 0; i < w->dict.nheld; i++)
        t->nsamples += w->dict.held[i].hdr.record_count;
    t->samples = (unsigned char *)sa_malloc(w->dict.held_bytes);
    t->sizes = (size_t *)sa_malloc(t->nsamples * sizeof(size_t));
    if (t->samples == NULL || t->sizes == NULL)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    size_t at = 0, k = 0;
    for (size_t i = 0; i < w->dict.nheld; i++) {
        uint32_t cnt = w->dict.held[i].hdr.record_count;
        const unsigned char *r = (const unsigned char *)w->dict.held[i].raw.data;
        size_t data = w->dict.held[i].raw.len - 4 * (size_t)cnt;
        memcpy(t->samples + at, r + 4 * (size_t)cnt, data);
        at += data;
        for (uint32_t q = 0; q < cnt; q++)
            t->sizes[k++] = sa_get_u32(r + 4 * (size_t)q) - (q ? sa_get_u32(r + 4 * (size_t)(q - 1)) : 0);
    }
    return 0;
}

/* Trains on t and writes the dictionary block; too little variety to train
 * on leaves the archive without a dictionary. */
static int train(steparc_writer *w, training *t)
{
    if (sa_buf_reserve(&w->dict.bytes, t->cap) != 0)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    /* fastCover with fixed parameters, one pass: 3x faster than the
     * optimising default and, on run steps, a better dictionary; accel 8 is
     * faster again than 1 with a dictionary as good. For columns, segments
     * of 256 bytes trained on the first half of the pieces: half the time
     * (8 ms instead of 15 per archive) and 1-1.5% smaller archives than 1024
     * on all of them (measured on two generated corpora) */
    ZDICT_fastCover_params_t fp;
    memset(&fp, 0, sizeof fp);
    fp.k = 1024;
    size_t nsamples = t->nsamples;
    if (w->comp.columnar) {
        fp.k = 256;
        nsamples = (nsamples + 1) / 2;
    }
    fp.d = 8;
    fp.f = 19; /* 6 x 2^f bytes of training memory */
    fp.accel = 8;
    fp.zParams.compressionLevel = w->opt.level;
    size_t n = ZDICT_trainFromBuffer_fastCover(w->dict.bytes.data, t->cap, t->samples, t->sizes,
                                               (unsigned)nsamples, fp);
    if (ZDICT_isError(n))
        return 0;
    w->dict.bytes.len = n;
    w->dict.cdict = sa_wr_new_cdict(w, w->dict.bytes.data, n);
    if (w->dict.cdict == NULL)
        return sa_wr_fail(w, STEPARC_E_NOMEM, "out of memory");
    return write_dict_block(w);
}

/* Trains the dictionary on the held blocks' records (when there are enough),
 * writes it as a dictionary block, then writes the held blocks with it. */
int sa_wr_decide_dict(steparc_writer *w)
{
    int rc = 0;
    training t;
    memset(&t, 0, sizeof t);
    w->dict.state = SA_WR_DICT_DECIDED;
    t.cap = w->opt.dict_size > 0 ? (size_t)w->opt.dict_size : DICT_MAX;
    if (t.cap > w->dict.held_bytes / 32)
        t.cap = w->dict.held_bytes / 32;
    if (w->opt.dict_size >= 0 && w->dict.held_bytes >= DICT_MIN_SAMPLES && t.cap >= 1024) {
        rc = w->comp.columnar ? collect_columns(w, &t) : collect_rows(w, &t);
        if (rc == 0)
            rc = train(w, &t);
    }
    sa_free(t.sizes);
    for (size_t i = 0; i < w->dict.nheld && rc == 0; i++) {
        const sa_wr_held *hb = &w->dict.held[i];
        rc = sa_wr_submit_block(w, &hb->raw, &hb->hdr, hb->ready,
                                hb->ready == 1 ? t.samples + hb->col_off : NULL, hb->col_len);
    }
    sa_free(t.samples);
    for (size_t i = 0; i < w->dict.nheld; i++)
        steparc_buf_free(&w->dict.held[i].raw);
    w->dict.nheld = 0;
    w->dict.held_bytes = 0;
    return rc;
}

/* The second writer of a dedup takes the first one's dictionary (or its
 * decision to have none) instead of training its own, so that the blocks
 * copied as they are (dedup.c) decompress with it. */
int sa_wr_adopt_dict(steparc_writer *w2, const steparc_writer *w)
{
    w2->dict.state = SA_WR_DICT_DECIDED;
    if (w->dict.bytes.len == 0)
        return 0;
    if (sa_buf_append(&w2->dict.bytes, w->dict.bytes.data, w->dict.bytes.len) != 0 ||
        (w2->dict.cdict = sa_wr_new_cdict(w2, w2->dict.bytes.data, w2->dict.bytes.len)) == NULL)
        return sa_wr_fail(w2, STEPARC_E_NOMEM, "out of memory");
    return write_dict_block(w2);
}
