/* sections.c - what follows the blocks: the block index, the id index and
 * postings (plain u64 arrays or packed key sets, streamed out of the
 * external sorters), the statistics, a second copy of the dictionary, the
 * section table and the footer (docs/FORMAT.md 8-10). */
#include <msgpack.h>

#include "keyset.h"
#include "writer_impl.h"

#define MAX_SECTIONS 8 /* that this writer writes: 1, 2..5 or 8..11, 6, 7, 12 */

/* the section table being built */
typedef struct {
    sa_section s[MAX_SECTIONS];
    unsigned n;
} section_list;


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
    int rc = sa_wr_write(s->w, s->buf.data, s->buf.len);
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
        int rc = sa_wr_write(s->w, buf, 8 * k);
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

static void pack_statmap(msgpack_packer *pk, const sa_wr_stat_map *m)
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
    int have_ts = w->acc.min_ts <= w->acc.max_ts;
    int have_kinds = w->minor >= 3; /* by_kind: format 1.3 (an append to 1.2 lacks the old counts) */
    msgpack_pack_map(&pk, 7u + (have_ts ? 2u : 0u) + (have_kinds ? 1u : 0u));
    pack_cstr(&pk, "records");
    msgpack_pack_uint64(&pk, w->acc.records);
    pack_cstr(&pk, "blocks");
    msgpack_pack_uint64(&pk, w->acc.blocks_written);
    pack_cstr(&pk, "raw_bytes");
    msgpack_pack_uint64(&pk, w->acc.raw_bytes);
    pack_cstr(&pk, "stored_bytes");
    msgpack_pack_uint64(&pk, w->acc.stored_bytes);
    if (have_ts) {
        pack_cstr(&pk, "min_created_at");
        msgpack_pack_int64(&pk, w->acc.min_ts);
        pack_cstr(&pk, "max_created_at");
        msgpack_pack_int64(&pk, w->acc.max_ts);
    }
    pack_cstr(&pk, "by_type");
    pack_statmap(&pk, &w->acc.by_type);
    pack_cstr(&pk, "by_status");
    pack_statmap(&pk, &w->acc.by_status);
    if (have_kinds) {
        pack_cstr(&pk, "by_kind");
        pack_statmap(&pk, &w->acc.by_kind);
    }
    pack_cstr(&pk, "writer");
    pack_cstr(&pk, "steparc " STEPARC_VERSION_STRING);
    return o.failed ? STEPARC_E_NOMEM : 0;
}

/* A section held in memory, written at the file's end. */
static int put_section(steparc_writer *w, section_list *l, uint32_t type, const void *p, size_t n)
{
    sa_section *s = &l->s[l->n++];
    s->type = type;
    s->offset = w->file.off;
    s->length = n;
    s->crc = sa_crc32c(0, p, n);
    return sa_wr_write(w, p, n);
}

/* The id index and the run, thread and assistant postings, streamed from
 * their sorters. */
static int write_index_sections(steparc_writer *w, section_list *l)
{
    static const uint32_t types[2][4] = {
        {SA_SEC_ID_INDEX, SA_SEC_RUN_POSTINGS, SA_SEC_THREAD_POSTINGS, SA_SEC_ASSISTANT_POSTINGS},
        {SA_SEC_PACKED_ID_INDEX, SA_SEC_PACKED_RUN_POSTINGS, SA_SEC_PACKED_THREAD_POSTINGS,
         SA_SEC_PACKED_ASSISTANT_POSTINGS}};
    int rc = 0;
    for (int k = 0; k < 4 && rc == 0; k++) {
        sa_sorter *s = k == 0 ? w->idx.ids : w->idx.post[k - 1];
        section_sink sk;
        memset(&sk, 0, sizeof sk);
        sk.w = w;
        sa_section *sec = &l->s[l->n++];
        sec->type = types[w->comp.packed][k];
        sec->offset = w->file.off;
        if (w->comp.packed) {
            /* lows: ordinals of the id index, block numbers of postings */
            uint64_t top = k == 0 ? w->acc.records : w->acc.blocks_written;
            sk.packed = 1;
            rc = sa_keyset_enc_init(&sk.enc, sa_sorter_count(s), sa_bits_for(top ? top - 1 : 0),
                                    &sk.buf);
            if (rc)
                sa_wr_fail(w, rc, "out of memory");
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
            sa_wr_fail(w, rc, "cannot build the index: %s", steparc_strerror(rc));
        sec->length = sk.len;
        sec->crc = sk.crc;
    }
    return rc;
}

/* The section table and the footer: the archive's last bytes. */
static int write_footer(steparc_writer *w, const section_list *l)
{
    unsigned char tbl[MAX_SECTIONS * SA_SECTION_ENTRY_SIZE];
    for (unsigned i = 0; i < l->n; i++)
        sa_section_encode(&l->s[i], tbl + i * SA_SECTION_ENTRY_SIZE);
    sa_footer f;
    memset(&f, 0, sizeof f);
    f.section_table_offset = w->file.off;
    f.section_count = l->n;
    f.section_table_crc = sa_crc32c(0, tbl, l->n * SA_SECTION_ENTRY_SIZE);
    f.record_count = w->acc.records;
    f.block_count = w->acc.blocks_written;
    f.flags = w->acc.time_ordered ? SA_FOOTER_TIME_ORDERED : 0;
    f.prev_footer_offset = w->app.appending ? w->app.prev_footer : 0;
    unsigned char fb[SA_FOOTER_SIZE];
    sa_footer_encode(&f, fb);
    int rc = sa_wr_write(w, tbl, l->n * SA_SECTION_ENTRY_SIZE);
    return rc ? rc : sa_wr_write(w, fb, sizeof fb);
}

int sa_wr_write_sections(steparc_writer *w)
{
    section_list l;
    memset(&l, 0, sizeof l);
    int rc = put_section(w, &l, SA_SEC_BLOCK_INDEX, w->idx.bindex.data, w->idx.bindex.len);
    if (rc == 0)
        rc = write_index_sections(w, &l);
    if (rc == 0) {
        steparc_buf st = {0};
        rc = build_stats(w, &st);
        if (rc == 0)
            rc = put_section(w, &l, SA_SEC_STATS, st.data, st.len);
        steparc_buf_free(&st);
    }
    /* a second copy of the dictionary, found through the footer */
    if (rc == 0 && w->dict.bytes.len)
        rc = put_section(w, &l, SA_SEC_DICTIONARY, w->dict.bytes.data, w->dict.bytes.len);
    /* the kinds of each block's records (format 1.3) */
    if (rc == 0 && w->minor >= 3)
        rc = put_section(w, &l, SA_SEC_BLOCK_KINDS, w->idx.kinds.data, w->idx.kinds.len);
    if (rc == 0)
        rc = write_footer(w, &l);
    return rc;
}
