/* test_archive.c - the archive parser (format/archive.c), one rule at a time:
 * a small archive from the library writer, one field changed, every CRC
 * recomputed, and the specific refusal expected; the block decoder on an
 * intact and a damaged block; and append refusing what open refuses, with
 * the same message, leaving the file unchanged. */
#define _GNU_SOURCE
#include <unistd.h>

#include "archive.h"
#include "harness.h"
#include "steparc.h"

static unsigned char *g_img[2]; /* 0: 1.2 (packed sections), 1: rows (plain sections, 1.0) */
static size_t g_len[2];
static char g_dir[] = "/tmp/test_archive_XXXXXX";

static unsigned char *make_archive(int rows, size_t *len)
{
    char path[300];
    snprintf(path, sizeof path, "%s/a%d.steparc", g_dir, rows);
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = 1024;
    o.threads = 1;
    if (rows)
        o.layout = STEPARC_LAYOUT_ROWS;
    steparc_writer *w;
    char why[300];
    if (steparc_writer_open(&w, path, &o, why, sizeof why) != 0)
        return NULL;
    for (int i = 0; i < 40; i++) {
        char js[400];
        int n = snprintf(js, sizeof js,
                         "{\"id\":\"step_%d\",\"object\":\"thread.run.step\",\"created_at\":%d,"
                         "\"run_id\":\"run_%d\",\"thread_id\":\"thread_%d\",\"assistant_id\":\"asst_1\","
                         "\"type\":\"tool_calls\",\"status\":\"completed\",\"note\":\"%0100d\"}",
                         i, 1700000000 + i, i / 5, i / 10, i);
        if (steparc_writer_add_json(w, js, (size_t)n, NULL) != 0)
            return NULL;
    }
    if (steparc_writer_finish(w) != 0)
        return NULL;
    steparc_writer_close(w);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = (unsigned char *)malloc(*len + 4096);
    if (fread(b, 1, *len, f) != *len)
        *len = 0;
    fclose(f);
    unlink(path);
    return b;
}

/* A copy of archive k to change, and where its parts are. */
typedef struct {
    unsigned char *b;
    size_t len;
    uint64_t table, footer;
    uint32_t nsec;
} img;

static img copy_of(int k)
{
    img m;
    m.len = g_len[k];
    m.b = (unsigned char *)malloc(m.len + 4096);
    memcpy(m.b, g_img[k], m.len);
    m.footer = m.len - SA_FOOTER_SIZE;
    m.table = sa_get_u64(m.b + m.footer);
    m.nsec = sa_get_u32(m.b + m.footer + 8);
    return m;
}

static unsigned char *sec_entry(img *m, uint32_t i)
{
    return m->b + m->table + (size_t)i * SA_SECTION_ENTRY_SIZE;
}

static uint32_t sec_index(img *m, uint32_t type)
{
    for (uint32_t i = 0; i < m->nsec; i++)
        if (sa_get_u32(sec_entry(m, i)) == type)
            return i;
    return UINT32_MAX;
}

static unsigned char *bentry(img *m, uint64_t i)
{
    uint32_t s = sec_index(m, SA_SEC_BLOCK_INDEX);
    return m->b + sa_get_u64(sec_entry(m, s) + 8) + i * SA_BLOCK_INDEX_ENTRY_SIZE;
}

/* Recomputes the block index's CRC, the section table's and the footer's. */
static void reseal(img *m)
{
    uint32_t s = sec_index(m, SA_SEC_BLOCK_INDEX);
    if (s != UINT32_MAX) {
        unsigned char *e = sec_entry(m, s);
        uint64_t off = sa_get_u64(e + 8), len = sa_get_u64(e + 16);
        if (off + len <= m->len)
            sa_put_u32(e + 24, sa_crc32c(0, m->b + off, (size_t)len));
    }
    uint32_t n = sa_get_u32(m->b + m->footer + 8);
    if (m->table + (uint64_t)n * 32 <= m->footer)
        sa_put_u32(m->b + m->footer + 12, sa_crc32c(0, m->b + m->table, (size_t)n * 32));
    sa_put_u32(m->b + m->footer + 52, sa_crc32c(0, m->b + m->footer, 52));
}

/* Parses m and expects status `want` with `msg` in the message. */
static void expect(img *m, int want, const char *msg)
{
    sa_archive a;
    char err[300];
    int rc = sa_archive_parse(&a, m->b, m->len, err, sizeof err);
    CHECK_EQ_INT(rc, want);
    if (msg && strstr(err, msg) == NULL) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err, msg);
        CHECK(0);
    }
    free(m->b);
}

static void test_intact(void)
{
    for (int k = 0; k < 2; k++) {
        sa_archive a;
        char err[300];
        CHECK_EQ_INT(sa_archive_parse(&a, g_img[k], g_len[k], err, sizeof err), 0);
        CHECK(a.nblocks >= 3);
        CHECK_EQ_INT(a.ft.record_count, 40);
        CHECK(a.slot[SA_SLOT_BLOCKS].present && a.slot[SA_SLOT_IDS].present);
        CHECK_EQ_INT(a.slot[SA_SLOT_IDS].packed, k == 0);
        CHECK_EQ_INT(a.ignored_tail, 0);
        sa_section s;
        CHECK(sa_archive_find(&a, SA_SEC_STATS, &s) == 1 && sa_section_crc_check(a.base, &s) == 0);
    }
}

static void test_header_and_footer(void)
{
    img m = copy_of(0);
    m.len = 100;
    expect(&m, STEPARC_E_CORRUPT, "too small");
    m = copy_of(0);
    m.b[0] ^= 1;
    expect(&m, STEPARC_E_CORRUPT, "file header is damaged");
    m = copy_of(0);
    sa_put_u16(m.b + 8, 2); /* major 2, CRC recomputed */
    sa_put_u32(m.b + 36, sa_crc32c(0, m.b, 36));
    expect(&m, STEPARC_E_VERSION, "newer than this library");
    m = copy_of(0);
    m.b[m.footer + 20] ^= 1;
    expect(&m, STEPARC_E_CORRUPT, "footer checksum mismatch");
    m = copy_of(0);
    sa_put_u32(m.b + m.footer + 8, 0);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "section count out of range");
    m = copy_of(0);
    sa_put_u64(m.b + m.footer, m.footer - 8); /* the table would overlap the footer */
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "section table lies outside the file");
    m = copy_of(0);
    sa_put_u32(m.b + m.footer + 8, m.nsec - 1); /* the last entry is left out */
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "section table does not end at the footer");
    m = copy_of(0);
    m.b[m.table + 3] ^= 0x40;
    expect(&m, STEPARC_E_CORRUPT, "section table checksum mismatch");
    /* an interrupted append: bytes after the footer are reported, not refused */
    m = copy_of(0);
    memset(m.b + m.len, 0x55, 100);
    m.len += 100;
    sa_archive a;
    char err[300];
    CHECK_EQ_INT(sa_archive_parse(&a, m.b, m.len, err, sizeof err), 0);
    CHECK_EQ_INT(a.ignored_tail, 100);
    free(m.b);
}

static void test_sections(void)
{
    img m = copy_of(0);
    sa_put_u64(sec_entry(&m, m.nsec - 1) + 8, m.table - 4); /* runs into the table */
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "lies outside the file");
    m = copy_of(0);
    sa_put_u64(sec_entry(&m, 1) + 8, 20); /* inside the file header */
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "section 1 lies outside the file");
    m = copy_of(0);
    sa_put_u64(sec_entry(&m, 1) + 16, UINT64_MAX - 8); /* offset + length overflows */
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "section 1 lies outside the file");
    m = copy_of(0);
    sa_put_u32(sec_entry(&m, sec_index(&m, SA_SEC_STATS)), SA_SEC_BLOCK_INDEX);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "section type 1 appears twice");
    m = copy_of(0);
    sa_put_u32(sec_entry(&m, sec_index(&m, SA_SEC_BLOCK_INDEX)), 0x8000);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index section is missing");
    /* an unknown type is skipped; both forms of an index: the packed one */
    m = copy_of(0);
    sa_put_u32(sec_entry(&m, sec_index(&m, SA_SEC_STATS)), 0x8001);
    reseal(&m);
    expect(&m, 0, NULL);
    m = copy_of(0);
    sa_put_u32(sec_entry(&m, sec_index(&m, SA_SEC_STATS)), SA_SEC_ID_INDEX);
    reseal(&m);
    expect(&m, 0, NULL);
    m = copy_of(0);
    if (sec_index(&m, SA_SEC_DICTIONARY) == UINT32_MAX) {
        unsigned char *e = sec_entry(&m, sec_index(&m, SA_SEC_STATS));
        sa_put_u32(e, SA_SEC_DICTIONARY);
        sa_put_u64(e + 16, 0);
        reseal(&m);
        expect(&m, STEPARC_E_CORRUPT, "dictionary section is damaged");
    } else {
        free(m.b);
    }
    m = copy_of(1);
    unsigned char *e = sec_entry(&m, sec_index(&m, SA_SEC_ID_INDEX));
    sa_put_u64(e + 16, sa_get_u64(e + 16) - 3);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "not a multiple of 8");
}

static void test_block_index(void)
{
    img m = copy_of(0);
    sa_put_u64(m.b + m.footer + 24, sa_get_u64(m.b + m.footer + 24) - 1);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index size does not match the block count");
    m = copy_of(0);
    bentry(&m, 1)[40] ^= 1; /* CRC left as it was */
    expect(&m, STEPARC_E_CORRUPT, "block index checksum mismatch");
    m = copy_of(0);
    sa_put_u64(m.b + m.footer + 16, 41);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index counts 40 records, footer says 41");
    /* entry rules (8.1), every CRC right */
    for (int k = 0; k < 2; k++) {
        m = copy_of(k);
        sa_put_u64(bentry(&m, 1), sa_get_u64(bentry(&m, 0)) + 1); /* overlaps block 0 */
        reseal(&m);
        expect(&m, STEPARC_E_CORRUPT, "block index entry 1 is invalid (the block overlaps");
    }
    m = copy_of(0);
    {   /* out of order: blocks 1 and 2 swap places, their ordinals kept */
        uint64_t o1 = sa_get_u64(bentry(&m, 1)), o2 = sa_get_u64(bentry(&m, 2));
        sa_put_u64(bentry(&m, 1), o2);
        sa_put_u64(bentry(&m, 2), o1);
    }
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index entry 2 is invalid (the block overlaps or precedes");
    m = copy_of(0);
    {
        uint64_t last = sa_get_u64(m.b + m.footer + 24) - 1;
        sa_put_u64(bentry(&m, last), m.table - 70); /* past the section table */
        reseal(&m);
        char want[80];
        snprintf(want, sizeof want, "block index entry %llu is invalid (the block runs past",
                 (unsigned long long)last);
        expect(&m, STEPARC_E_CORRUPT, want);
    }
    m = copy_of(0);
    sa_put_u64(bentry(&m, 0), 10);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index entry 0 is invalid (the block starts inside the file header");
    m = copy_of(0);
    sa_put_u64(bentry(&m, 1) + 8, sa_get_u64(bentry(&m, 1) + 8) + 1);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index entry 1 is invalid (its first ordinal");
    m = copy_of(0);
    sa_put_u32(bentry(&m, 0) + 16, 0);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index entry 0 is invalid (record count out of range");
    m = copy_of(1);
    sa_put_u32(bentry(&m, 0) + 24, 4 * sa_get_u32(bentry(&m, 0) + 16)); /* < 5 bytes a record */
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index entry 0 is invalid (block size out of range");
    m = copy_of(0);
    sa_put_u32(bentry(&m, 0) + 28, 3); /* rows_size below 5 x record_count */
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index entry 0 is invalid (block size out of range");
    m = copy_of(0);
    sa_put_u32(bentry(&m, 0) + 20, STEPARC_MAX_BLOCK_RAW + 65537u);
    reseal(&m);
    expect(&m, STEPARC_E_CORRUPT, "block index entry 0 is invalid (stored block size out of range");
}

static void test_block_decoder(void)
{
    for (int k = 0; k < 2; k++) {
        sa_archive a;
        char err[300];
        CHECK_EQ_INT(sa_archive_parse(&a, g_img[k], g_len[k], err, sizeof err), 0);
        ZSTD_DCtx *d = ZSTD_createDCtx();
        uint64_t total = 0;
        for (uint64_t b = 0; b < a.nblocks; b++) {
            sa_block_entry e;
            sa_block_header h;
            const char *why;
            sa_block_entry_decode(a.bindex + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
            CHECK_EQ_INT(sa_block_check(a.hdr.sync, a.base + e.offset,
                                        a.ft.section_table_offset - e.offset, &e, &h, &why), 0);
            unsigned char *rows;
            size_t n;
            CHECK_EQ_INT(sa_block_decode(&h, a.base + e.offset + SA_BLOCK_HEADER_SIZE, e.rows_size,
                                         d, NULL, &rows, &n, err, sizeof err), 0);
            CHECK_EQ_INT(sa_rows_check(rows, n, h.record_count), 0);
            total += h.record_count;
            sa_free(rows);
            /* the entry disagreeing, the payload cut, the payload damaged */
            e.max_created_at++;
            CHECK_EQ_INT(sa_block_check(a.hdr.sync, a.base + e.offset, UINT32_MAX, &e, &h, &why),
                         STEPARC_E_CORRUPT);
            CHECK(strstr(why, "disagrees with the block index") != NULL);
            CHECK_EQ_INT(sa_block_check(a.hdr.sync, a.base + e.offset, SA_BLOCK_HEADER_SIZE + 1,
                                        NULL, &h, &why), STEPARC_E_CORRUPT);
            CHECK(strstr(why, "cut off") != NULL);
        }
        CHECK_EQ_INT(total, 40);
        img m = copy_of(k);
        unsigned char *p = m.b + sa_get_u64(bentry(&m, 1));
        p[SA_BLOCK_HEADER_SIZE + 5] ^= 0x10;
        sa_block_header h;
        const char *why;
        CHECK_EQ_INT(sa_block_check(a.hdr.sync, p, 1u << 20, NULL, &h, &why), STEPARC_E_CORRUPT);
        CHECK(strstr(why, "payload checksum mismatch") != NULL);
        /* a checked payload that is not what its header says (CRC made to match) */
        sa_put_u32(p + SA_SYNC_SIZE + 40, sa_crc32c(0, p + SA_BLOCK_HEADER_SIZE, h.stored_size));
        sa_put_u32(p + SA_SYNC_SIZE + 44, sa_crc32c(0, p, SA_SYNC_SIZE + 44));
        CHECK_EQ_INT(sa_block_check(a.hdr.sync, p, 1u << 20, NULL, &h, &why), 0);
        unsigned char *rows = NULL;
        size_t n;
        int rc = sa_block_decode(&h, p + SA_BLOCK_HEADER_SIZE, 0, d, NULL, &rows, &n, err, sizeof err);
        if (rc == 0)
            sa_free(rows); /* a byte of a record's text may change nothing structural */
        else
            CHECK_EQ_INT(rc, STEPARC_E_CORRUPT);
        free(m.b);
        ZSTD_freeDCtx(d);
    }
}

/* steparc append refuses what open refuses, with open's message, and leaves
 * the file as it was. */
static void test_append_refuses(void)
{
    img m = copy_of(0);
    sa_put_u64(bentry(&m, 1), sa_get_u64(bentry(&m, 0)) + 1);
    reseal(&m);
    char path[300];
    snprintf(path, sizeof path, "%s/bad.steparc", g_dir);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && fwrite(m.b, 1, m.len, f) == m.len);
    fclose(f);
    char e1[600], e2[600];
    steparc_reader *r = NULL;
    CHECK_EQ_INT(steparc_reader_open(&r, path, NULL, e1, sizeof e1), STEPARC_E_CORRUPT);
    steparc_writer *w = NULL;
    CHECK_EQ_INT(steparc_writer_open_append(&w, path, NULL, e2, sizeof e2), STEPARC_E_CORRUPT);
    CHECK(w == NULL && r == NULL);
    CHECK_STR(e2, e1);
    CHECK(strstr(e1, "block index entry 1 is invalid") != NULL);
    f = fopen(path, "rb");
    unsigned char *back = (unsigned char *)malloc(m.len + 1);
    CHECK(f != NULL && fread(back, 1, m.len + 1, f) == m.len);
    CHECK(memcmp(back, m.b, m.len) == 0);
    fclose(f);
    free(back);
    unlink(path);
    free(m.b);
}

int main(void)
{
    if (mkdtemp(g_dir) == NULL)
        return 1;
    for (int k = 0; k < 2; k++) {
        g_img[k] = make_archive(k, &g_len[k]);
        if (g_img[k] == NULL || g_len[k] == 0) {
            printf("FAIL archive_setup\n");
            return 1;
        }
    }
    RUN(test_intact);
    RUN(test_header_and_footer);
    RUN(test_sections);
    RUN(test_block_index);
    RUN(test_block_decoder);
    RUN(test_append_refuses);
    free(g_img[0]);
    free(g_img[1]);
    rmdir(g_dir);
    return h_done();
}
