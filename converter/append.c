/* append.c - opening an archive to append to.
 *
 * Appending writes new blocks after the archive's last footer, then a complete
 * new set of sections and a new footer that points back at the old one
 * (docs/FORMAT.md, "Append"). The old footer and everything before it are
 * never modified, so a crash at any moment leaves the old archive readable:
 * readers fall back to the last valid footer. The indexes are rebuilt from the
 * old sections (streamed through the sorters) plus the new records. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyset.h"
#include "writer_impl.h"

/* the archive being appended to, mapped */
typedef struct {
    unsigned char *base;
    uint64_t size;
    sa_archive a;
    sa_section secs[SA_MAX_SECTIONS];
    const sa_section *sec[SA_SEC_BLOCK_KINDS + 1]; /* by type, 1..12 */
    const uint32_t *types;           /* the 4 index sections this writer maintains */
} old_archive;

static void stat_load(sa_wr_stat_map *m, sa_mpr *r)
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
        if (m->n == SA_WR_STAT_VALUES) {
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
        sa_fmt(errbuf, cap, "%s: %s", w->file.path, why);
        return rc;
    }
    if (a->hdr.minor > STEPARC_FORMAT_MINOR) {
        sa_fmt(errbuf, cap, "%s: format %u.%u is newer than this writer (%d.%d)", w->file.path,
               a->hdr.major, a->hdr.minor, STEPARC_FORMAT_MAJOR, STEPARC_FORMAT_MINOR);
        return STEPARC_E_VERSION;
    }
    for (uint32_t i = 0; i < a->ft.section_count; i++) {
        sa_section_decode(a->table + (size_t)i * SA_SECTION_ENTRY_SIZE, &secs[i]);
        if (sa_section_crc_check(base, &secs[i]) != 0) {
            sa_section_crc_msg(&secs[i], why, sizeof why);
            sa_fmt(errbuf, cap, "%s: %s (run 'steparc recover' first)", w->file.path, why);
            return STEPARC_E_CORRUPT;
        }
        /* the parser refused a repeated type 1..12 */
        if (secs[i].type >= 1 && secs[i].type <= SA_SEC_BLOCK_KINDS)
            sec[secs[i].type] = &secs[i];
    }
    /* an archive keeps its version: appending to a 1.0 archive writes rows,
     * so that every 1.0 reader can still read all of it */
    if (a->hdr.minor < 1)
        w->comp.columnar = 0;
    w->comp.packed = a->hdr.minor >= 2; /* and plain index sections into 1.0 and 1.1 archives */
    /* block kinds, own-id postings and by_kind only into 1.3 archives */
    w->minor = a->hdr.minor;
    /* the index sections this writer maintains: 1 and 2..5, or 1 and 8..11
     * (the parser checked the sizes of 1 and of 2..5) */
    static const uint32_t plain_t[4] = {SA_SEC_ID_INDEX, SA_SEC_RUN_POSTINGS, SA_SEC_THREAD_POSTINGS,
                                        SA_SEC_ASSISTANT_POSTINGS};
    static const uint32_t packed_t[4] = {SA_SEC_PACKED_ID_INDEX, SA_SEC_PACKED_RUN_POSTINGS,
                                         SA_SEC_PACKED_THREAD_POSTINGS,
                                         SA_SEC_PACKED_ASSISTANT_POSTINGS};
    const uint32_t *types = *types_out = w->comp.packed ? packed_t : plain_t;
    for (uint32_t t = 0; t < 4; t++)
        if (sec[types[t]] == NULL || (!w->comp.packed && sec[types[t]]->length % 8)) {
            sa_fmt(errbuf, cap, "%s: the archive lacks an index section this writer maintains "
                   "(type %u); rewrite it with 'steparc merge'", w->file.path, types[t]);
            return STEPARC_E_CORRUPT;
        }
    if (w->minor >= 3 && sec[SA_SEC_BLOCK_KINDS] == NULL) { /* its size checked by the parser */
        sa_fmt(errbuf, cap, "%s: the archive lacks an index section this writer maintains "
               "(type %u); rewrite it with 'steparc merge'", w->file.path, SA_SEC_BLOCK_KINDS);
        return STEPARC_E_CORRUPT;
    }
    return 0;
}

/* Opens and maps the archive (an empty file maps nothing: the parser's to
 * refuse). */
static int map_archive(steparc_writer *w, old_archive *o, char *errbuf, size_t cap)
{
    struct stat st;
    w->file.fd = open(w->file.path, O_RDWR | O_CLOEXEC);
    if (w->file.fd < 0 || fstat(w->file.fd, &st) != 0) {
        sa_fmt(errbuf, cap, "cannot open %s: %s", w->file.path, strerror(errno));
        return STEPARC_E_IO;
    }
    o->size = (uint64_t)st.st_size;
    if (!S_ISREG(st.st_mode)) {
        sa_fmt(errbuf, cap, "%s is not a regular file", w->file.path);
        return STEPARC_E_IO;
    }
    if (o->size > 0) {
        void *m = mmap(NULL, (size_t)o->size, PROT_READ, MAP_SHARED, w->file.fd, 0);
        if (m == MAP_FAILED) {
            sa_fmt(errbuf, cap, "cannot map %s: %s", w->file.path, strerror(errno));
            return STEPARC_E_IO;
        }
        o->base = (unsigned char *)m;
    }
    return 0;
}

/* The block index, the counters, the time range and order. */
static int load_blocks(steparc_writer *w, const old_archive *o)
{
    const sa_footer *f = &o->a.ft;
    const unsigned char *bi = o->a.bindex; /* its entries checked by the parser */
    for (uint64_t b = 0; b < f->block_count; b++) {
        sa_block_entry e;
        sa_block_entry_decode(bi + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
        w->acc.raw_bytes += (e.rows_size ? e.rows_size : e.raw_size) - 4 * (uint64_t)e.record_count;
        w->acc.stored_bytes += e.stored_size;
        if (e.min_created_at <= e.max_created_at) {
            if (e.min_created_at < w->acc.min_ts)
                w->acc.min_ts = e.min_created_at;
            if (e.max_created_at > w->acc.max_ts)
                w->acc.max_ts = e.max_created_at;
            w->acc.prev_max = e.max_created_at;
            w->acc.have_prev = 1;
        }
    }
    if (sa_buf_append(&w->idx.bindex, bi, (size_t)(f->block_count * SA_BLOCK_INDEX_ENTRY_SIZE)) != 0)
        return STEPARC_E_NOMEM;
    if (w->minor >= 3 && sa_buf_append(&w->idx.kinds, o->base + o->sec[SA_SEC_BLOCK_KINDS]->offset, (size_t)(4 * f->block_count)) != 0)
        return STEPARC_E_NOMEM;
    w->acc.records = f->record_count;
    w->blk.first = f->record_count;
    w->acc.blocks_flushed = w->acc.blocks_written = f->block_count;
    w->acc.time_ordered = (f->flags & SA_FOOTER_TIME_ORDERED) != 0;
    return 0;
}

/* The indexes: old entries go through the sorters with the new ones. */
static int load_indexes(steparc_writer *w, const old_archive *o, char *errbuf, size_t cap)
{
    int rc = 0;
    for (int k = 0; k < 4 && rc == 0; k++) {
        const unsigned char *p = o->base + o->sec[o->types[k]]->offset;
        uint64_t len = o->sec[o->types[k]]->length;
        sa_sorter *s = k == 0 ? w->idx.ids : w->idx.post[k - 1];
        if (w->comp.packed) {
            sa_keyset ks;
            const char *kwhy = "";
            rc = sa_keyset_open(&ks, p, len, &kwhy);
            if (rc == 0)
                rc = sa_keyset_each(&ks, push_old, s, &kwhy);
            if (rc == STEPARC_E_CORRUPT) {
                sa_fmt(errbuf, cap, "%s: index section of type %u: %s (run 'steparc recover' first)",
                       w->file.path, o->types[k], kwhy);
                return rc;
            }
        } else {
            for (uint64_t i = 0; i < len / 8 && rc == 0; i++)
                rc = push_old(s, sa_get_u64(p + 8 * i));
        }
    }
    if (rc)
        sa_fmt(errbuf, cap, "cannot spill index entries to a temporary file");
    return rc;
}

/* The statistics maps carried on (the counters come from the block index). */
static void load_stats(steparc_writer *w, const old_archive *o)
{
    const sa_section *s = o->sec[SA_SEC_STATS];
    if (s == NULL)
        return;
    sa_mpr r = {o->base + s->offset, o->base + s->offset + s->length};
    sa_mpitem m, k;
    if (sa_mp_read(&r, &m) != 0 || m.type != SA_MP_MAP)
        return;
    for (uint32_t i = 0; i < m.n; i++) {
        if (sa_mp_read(&r, &k) != 0 || k.type != SA_MP_STR)
            break;
        const unsigned char *vs = r.p;
        if (k.n == 7 && memcmp(k.s, "by_type", 7) == 0)
            stat_load(&w->acc.by_type, &r);
        else if (k.n == 9 && memcmp(k.s, "by_status", 9) == 0)
            stat_load(&w->acc.by_status, &r);
        else if (k.n == 7 && memcmp(k.s, "by_kind", 7) == 0 && w->minor >= 3)
            stat_load(&w->acc.by_kind, &r);
        r.p = vs;
        if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
            break;
    }
}

/* Appended blocks use the archive's dictionary, if it has one. */
static int load_dict(steparc_writer *w, const old_archive *o, char *errbuf, size_t cap)
{
    w->dict.state = SA_WR_DICT_DECIDED;
    if (!o->a.slot[SA_SLOT_DICT].present)
        return 0;
    const sa_section *ds = &o->a.slot[SA_SLOT_DICT].s; /* its size checked by the parser */
    if (sa_buf_append(&w->dict.bytes, o->base + ds->offset, (size_t)ds->length) != 0 ||
        (w->dict.cdict = sa_wr_new_cdict(w, w->dict.bytes.data, w->dict.bytes.len)) == NULL) {
        sa_fmt(errbuf, cap, "out of memory");
        return STEPARC_E_NOMEM;
    }
    return 0;
}

/* New blocks go right after the last footer: what an interrupted append
 * left after it is dropped. */
static int position_after_footer(steparc_writer *w, const old_archive *o, char *errbuf, size_t cap)
{
    w->app.prev_footer = o->a.footer_at;
    w->app.orig_len = o->a.footer_at + SA_FOOTER_SIZE;
    if (o->size > w->app.orig_len && ftruncate(w->file.fd, (off_t)w->app.orig_len) != 0) {
        sa_fmt(errbuf, cap, "cannot truncate %s: %s", w->file.path, strerror(errno));
        return STEPARC_E_IO;
    }
    if (lseek(w->file.fd, (off_t)w->app.orig_len, SEEK_SET) < 0) {
        sa_fmt(errbuf, cap, "cannot seek in %s: %s", w->file.path, strerror(errno));
        return STEPARC_E_IO;
    }
    w->file.off = w->app.orig_len;
    w->app.appending = 1;
    return 0;
}

int sa_wr_append_prepare(steparc_writer *w, char *errbuf, size_t cap)
{
    old_archive old;
    old_archive *o = &old;
    memset(o, 0, sizeof *o);
    int rc = map_archive(w, o, errbuf, cap);
    if (rc == 0)
        rc = append_open(w, o->base, o->size, &o->a, o->sec, o->secs, &o->types, errbuf, cap);
    if (rc == 0) {
        memcpy(w->sync, o->a.hdr.sync, SA_SYNC_SIZE);
        rc = load_blocks(w, o);
    }
    if (rc == 0)
        rc = load_indexes(w, o, errbuf, cap);
    if (rc == 0) {
        load_stats(w, o);
        rc = load_dict(w, o, errbuf, cap);
    }
    if (rc == 0)
        rc = position_after_footer(w, o, errbuf, cap);
    if (o->base)
        munmap(o->base, (size_t)o->size);
    return rc;
}
