/* test_writer.c - the archive writer (converter/): which record survives a
 * dedup (ranks; among equals the last seen), appending to archives of each
 * format minor 1.0-1.3 (the minor and the section types are kept; a damaged archive
 * is refused and left unchanged), and the ordered pool (format/pool.c):
 * delivery in submission order whatever the work takes, an error in the
 * middle, one and several threads. Format 1.3 (issue 13): dedup identity and
 * ranks per kind, postings by own id, the block kinds section and its
 * parser checks, by_kind. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "harness.h"
#include "keyset.h"
#include "pool.h"
#include "record.h"
#include "steparc.h"

static char g_dir[] = "/tmp/test_writer_XXXXXX";

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    int rc = fwrite(p, 1, n, f) == n ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

static steparc_writer *open_writer(const char *path, int dedup, int rows, int threads)
{
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = 1024;
    o.threads = threads;
    o.dedup = dedup;
    o.no_fsync = 1;
    if (rows)
        o.layout = STEPARC_LAYOUT_ROWS;
    steparc_writer *w = NULL;
    char why[300];
    if (steparc_writer_open(&w, path, &o, why, sizeof why) != 0)
        fprintf(stderr, "  cannot open %s: %s\n", path, why);
    return w;
}

static int add(steparc_writer *w, const char *json)
{
    return steparc_writer_add_json(w, json, strlen(json), NULL);
}

/* The JSON of every record of an archive, one line each. */
static char *cat(const char *path)
{
    steparc_reader *r = NULL;
    if (steparc_reader_open(&r, path, NULL, NULL, 0) != 0)
        return strdup("(cannot open)");
    steparc_buf js = {0};
    size_t cap = 1, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (uint64_t i = 0; i < steparc_reader_count(r); i++) {
        if (steparc_reader_get_json(&js, r, i, 0) != 0)
            break;
        while (len + js.len + 2 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + len, js.data, js.len);
        len += js.len;
        out[len++] = '\n';
        out[len] = 0;
    }
    steparc_buf_free(&js);
    steparc_reader_close(r);
    return out;
}

/* ---- dedup ranks ------------------------------------------------------------------ */

#define STEP(id, status, note) \
    "{\"id\":\"" id "\",\"object\":\"thread.run.step\",\"status\":\"" status "\",\"note\":" #note "}"

static void test_dedup_ranks(void)
{
    for (int threads = 1; threads <= 2; threads++) {
        char path[300];
        snprintf(path, sizeof path, "%s/dedup%d.steparc", g_dir, threads);
        steparc_writer *w = open_writer(path, 1, 0, threads);
        CHECK(w != NULL);
        if (w == NULL)
            return;
        /* a: terminal beats a later in_progress */
        CHECK_EQ_INT(add(w, STEP("step_a", "completed", 1)), 0);
        CHECK_EQ_INT(add(w, STEP("step_a", "in_progress", 2)), 0);
        /* b: equal ranks: the last one */
        CHECK_EQ_INT(add(w, STEP("step_b", "in_progress", 1)), 0);
        CHECK_EQ_INT(add(w, STEP("step_b", "in_progress", 2)), 0);
        CHECK_EQ_INT(add(w, STEP("step_b", "in_progress", 3)), 0);
        /* c: two terminal states: the last one; in_progress between loses */
        CHECK_EQ_INT(add(w, STEP("step_c", "failed", 1)), 0);
        CHECK_EQ_INT(add(w, STEP("step_c", "in_progress", 2)), 0);
        CHECK_EQ_INT(add(w, STEP("step_c", "cancelled", 3)), 0);
        /* d: in_progress, then completed */
        CHECK_EQ_INT(add(w, STEP("step_d", "in_progress", 1)), 0);
        CHECK_EQ_INT(add(w, STEP("step_d", "completed", 2)), 0);
        /* e: alone */
        CHECK_EQ_INT(add(w, STEP("step_e", "expired", 1)), 0);
        CHECK_EQ_INT(steparc_writer_finish(w), 0);
        CHECK_EQ_INT(steparc_writer_duplicates(w), 6);
        steparc_writer_close(w);
        char *got = cat(path);
        /* the survivors keep their input order */
        CHECK_STR(got, STEP("step_a", "completed", 1) "\n" STEP("step_b", "in_progress", 3) "\n"
                       STEP("step_c", "cancelled", 3) "\n" STEP("step_d", "completed", 2) "\n"
                       STEP("step_e", "expired", 1) "\n");
        free(got);
    }
}

/* Ids longer than 64 bytes are compared in full (read back from the
 * blocks): two that share their first 64 bytes are not duplicates. */
static void test_dedup_long_ids(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/long.steparc", g_dir);
    steparc_writer *w = open_writer(path, 1, 0, 1);
    CHECK(w != NULL);
    if (w == NULL)
        return;
#define P64 "step_0123456789012345678901234567890123456789012345678901234567890123"
    CHECK_EQ_INT(add(w, STEP(P64 "x", "completed", 1)), 0);
    CHECK_EQ_INT(add(w, STEP(P64 "y", "completed", 2)), 0);
    CHECK_EQ_INT(add(w, STEP(P64 "x", "in_progress", 3)), 0);
    CHECK_EQ_INT(add(w, STEP(P64 "y", "completed", 4)), 0);
    CHECK_EQ_INT(steparc_writer_finish(w), 0);
    CHECK_EQ_INT(steparc_writer_duplicates(w), 2);
    steparc_writer_close(w);
    char *got = cat(path);
    CHECK_STR(got, STEP(P64 "x", "completed", 1) "\n" STEP(P64 "y", "completed", 4) "\n");
    free(got);
}

/* ---- append to each minor --------------------------------------------------------- */

/* The minor and the section types (in table order) of an archive file. */
static int describe(const char *path, unsigned *minor, uint32_t *types, unsigned *ntypes)
{
    size_t len;
    unsigned char *img = slurp(path, &len);
    if (img == NULL)
        return -1;
    sa_archive a;
    char why[300];
    int rc = sa_archive_parse(&a, img, len, why, sizeof why);
    if (rc == 0) {
        *minor = a.hdr.minor;
        *ntypes = a.ft.section_count;
        for (uint32_t i = 0; i < a.ft.section_count && i < 16; i++) {
            sa_section s;
            sa_section_decode(a.table + (size_t)i * SA_SECTION_ENTRY_SIZE, &s);
            types[i] = s.type;
        }
    } else {
        fprintf(stderr, "  %s: %s\n", path, why);
    }
    free(img);
    return rc;
}

static int append_some(const char *path, int n, char *why, size_t cap)
{
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.no_fsync = 1;
    o.block_size = 1024;
    steparc_writer *w = NULL;
    int rc = steparc_writer_open_append(&w, path, &o, why, cap);
    for (int i = 0; rc == 0 && i < n; i++) {
        char js[200];
        snprintf(js, sizeof js, STEP("step_app_%d", "completed", 0), i);
        rc = add(w, js);
    }
    if (rc == 0)
        rc = steparc_writer_finish(w);
    if (rc && w)
        snprintf(why, cap, "%s", steparc_writer_errmsg(w));
    steparc_writer_close(w);
    return rc;
}

static void check_append_keeps(const char *path, unsigned want_minor)
{
    unsigned m0 = 99, m1 = 99, n0 = 0, n1 = 0;
    uint32_t t0[16], t1[16];
    CHECK_EQ_INT(describe(path, &m0, t0, &n0), 0);
    CHECK_EQ_INT(m0, want_minor);
    steparc_reader *r = NULL;
    CHECK_EQ_INT(steparc_reader_open(&r, path, NULL, NULL, 0), 0);
    uint64_t before = steparc_reader_count(r);
    steparc_reader_close(r);
    char why[300] = "";
    int rc = append_some(path, 30, why, sizeof why);
    if (rc)
        fprintf(stderr, "  append to %s: %s\n", path, why);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(describe(path, &m1, t1, &n1), 0);
    CHECK_EQ_INT(m1, want_minor);
    CHECK_EQ_INT(n1, n0);
    for (unsigned i = 0; i < n0 && i < n1; i++)
        CHECK_EQ_INT(t1[i], t0[i]);
    r = NULL;
    CHECK_EQ_INT(steparc_reader_open(&r, path, NULL, NULL, 0), 0);
    CHECK_EQ_INT(steparc_reader_count(r), before + 30);
    uint64_t o;
    CHECK_EQ_INT(steparc_reader_find_id(&o, r, "step_app_29", 11), 0);
    CHECK_EQ_INT(o, before + 29);
    uint64_t np = 0;
    CHECK_EQ_INT(steparc_verify(&np, r, NULL, NULL), 0);
    CHECK_EQ_INT(np, 0);
    steparc_reader_close(r);
}

static void make_small(const char *path, int rows)
{
    steparc_writer *w = open_writer(path, 0, rows, 1);
    CHECK(w != NULL);
    if (w == NULL)
        return;
    for (int i = 0; i < 40; i++) {
        char js[300];
        snprintf(js, sizeof js,
                 "{\"id\":\"step_%d\",\"object\":\"thread.run.step\",\"created_at\":%d,"
                 "\"run_id\":\"run_%d\",\"thread_id\":\"thread_1\",\"status\":\"completed\"}",
                 i, 1700000000 + i, i / 4);
        CHECK_EQ_INT(add(w, js), 0);
    }
    CHECK_EQ_INT(steparc_writer_finish(w), 0);
    steparc_writer_close(w);
}

/* A 1.2 archive from a 1.3 one: minor 2 in the header, section 12 left out
 * of the table (its bytes stay, dead). */
static unsigned char *to_minor2(const unsigned char *img, size_t *len)
{
    sa_footer f;
    sa_file_header h;
    const char *why;
    if (sa_footer_decode(img + *len - SA_FOOTER_SIZE, &f, &why) != 0 ||
        sa_file_header_decode(img, &h) != 0)
        return NULL;
    unsigned char *out = malloc(*len);
    size_t at = (size_t)f.section_table_offset;
    memcpy(out, img, at);
    h.minor = 2;
    sa_file_header_encode(&h, out);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < f.section_count; i++) {
        const unsigned char *ent = img + f.section_table_offset + (size_t)i * SA_SECTION_ENTRY_SIZE;
        sa_section s;
        sa_section_decode(ent, &s);
        if (s.type == SA_SEC_BLOCK_KINDS)
            continue;
        memcpy(out + at, ent, SA_SECTION_ENTRY_SIZE);
        at += SA_SECTION_ENTRY_SIZE;
        kept++;
    }
    f.section_count = kept;
    f.section_table_crc = sa_crc32c(0, out + f.section_table_offset, (size_t)kept * SA_SECTION_ENTRY_SIZE);
    sa_footer_encode(&f, out + at);
    *len = at + SA_FOOTER_SIZE;
    return out;
}

static void test_append_each_minor(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/v10.steparc", g_dir);
    make_small(path, 1);
    check_append_keeps(path, 0);
    snprintf(path, sizeof path, "%s/v13.steparc", g_dir);
    make_small(path, 0);
    size_t n13;
    unsigned char *a13 = slurp(path, &n13);
    check_append_keeps(path, 3);
    /* 1.2: a 1.3 archive without its section 12, minor 2 in its header */
    CHECK(a13 != NULL);
    if (a13) {
        size_t n12 = n13;
        unsigned char *a12 = to_minor2(a13, &n12);
        snprintf(path, sizeof path, "%s/v12.steparc", g_dir);
        CHECK(a12 != NULL && write_file(path, a12, n12) == 0);
        if (a12)
            check_append_keeps(path, 2);
        free(a12);
        free(a13);
    }
    /* 1.1: the golden archive of tests/data */
    const char *src = getenv("STEPARC_TESTS");
    char golden[600];
    snprintf(golden, sizeof golden, "%s/data/format-1.1.steparc", src ? src : "tests");
    size_t len;
    unsigned char *img = slurp(golden, &len);
    if (img == NULL) {
        fprintf(stderr, "  %s is missing\n", golden);
        CHECK(img != NULL);
        return;
    }
    snprintf(path, sizeof path, "%s/v11.steparc", g_dir);
    CHECK_EQ_INT(write_file(path, img, len), 0);
    free(img);
    check_append_keeps(path, 1);
}

/* A damaged archive (a section's CRC fails) is refused, and left as it was. */
static void test_append_refuses_damaged(void)
{
    for (int rows = 0; rows <= 1; rows++) {
        char path[300];
        snprintf(path, sizeof path, "%s/damaged%d.steparc", g_dir, rows);
        make_small(path, rows);
        size_t len;
        unsigned char *img = slurp(path, &len);
        CHECK(img != NULL);
        if (img == NULL)
            return;
        sa_archive a;
        char why[300];
        CHECK_EQ_INT(sa_archive_parse(&a, img, len, why, sizeof why), 0);
        /* a byte of the id index (checked by append, not by open) */
        CHECK(a.slot[SA_SLOT_IDS].present);
        img[a.slot[SA_SLOT_IDS].s.offset] ^= 0x55;
        CHECK_EQ_INT(write_file(path, img, len), 0);
        int rc = append_some(path, 5, why, sizeof why);
        CHECK_EQ_INT(rc, STEPARC_E_CORRUPT);
        CHECK(strstr(why, "recover") != NULL);
        size_t len2;
        unsigned char *img2 = slurp(path, &len2);
        CHECK(img2 != NULL && len2 == len && memcmp(img, img2, len) == 0);
        free(img);
        free(img2);
    }
}

/* ---- format 1.3: kinds ------------------------------------------------------------ */

static char *write_records(const char *name, const char *const *recs, size_t n, int dedup,
                           int threads)
{
    static char path[300];
    snprintf(path, sizeof path, "%s/%s.steparc", g_dir, name);
    steparc_writer *w = open_writer(path, dedup, 0, threads);
    if (w == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (add(w, recs[i]) != 0) {
            fprintf(stderr, "  record %zu: %s\n", i, steparc_writer_errmsg(w));
            CHECK(0);
        }
    CHECK_EQ_INT(steparc_writer_finish(w), 0);
    steparc_writer_close(w);
    return path;
}

/* A file and its vector_store.file share the id: never merged; two stores'
 * memberships of one file neither; a step and a message with one id neither;
 * one membership seen twice merges (the last). */
static void test_dedup_across_kinds(void)
{
    static const char *const recs[] = {
        "{\"id\":\"file-1\",\"object\":\"file\",\"filename\":\"a\"}",
        "{\"id\":\"file-1\",\"object\":\"vector_store.file\",\"vector_store_id\":\"vs_1\",\"n\":1}",
        "{\"id\":\"file-1\",\"object\":\"vector_store.file\",\"vector_store_id\":\"vs_2\",\"n\":2}",
        "{\"id\":\"file-1\",\"object\":\"vector_store.file\",\"vector_store_id\":\"vs_1\",\"n\":3}",
        "{\"id\":\"file-1\",\"object\":\"vector_store.file\",\"n\":4}",
        "{\"id\":\"x_1\",\"object\":\"thread.run.step\",\"status\":\"completed\"}",
        "{\"id\":\"x_1\",\"object\":\"thread.message\",\"status\":\"completed\"}",
        "{\"id\":\"file-1\",\"object\":\"file\",\"filename\":\"b\"}",
    };
    for (int threads = 1; threads <= 2; threads++) {
        const char *path = write_records("kinds_dedup", recs, 8, 1, threads);
        CHECK(path != NULL);
        if (path == NULL)
            return;
        char *got = cat(path);
        CHECK_STR(got,
                  "{\"id\":\"file-1\",\"object\":\"vector_store.file\",\"vector_store_id\":\"vs_2\",\"n\":2}\n"
                  "{\"id\":\"file-1\",\"object\":\"vector_store.file\",\"vector_store_id\":\"vs_1\",\"n\":3}\n"
                  "{\"id\":\"file-1\",\"object\":\"vector_store.file\",\"n\":4}\n"
                  "{\"id\":\"x_1\",\"object\":\"thread.run.step\",\"status\":\"completed\"}\n"
                  "{\"id\":\"x_1\",\"object\":\"thread.message\",\"status\":\"completed\"}\n"
                  "{\"id\":\"file-1\",\"object\":\"file\",\"filename\":\"b\"}\n");
        free(got);
    }
}

/* The most advanced state of a run wins whatever the order; messages:
 * completed beats in_progress; threads: the last. */
static void test_dedup_run_states(void)
{
    static const char *const recs[] = {
        "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"queued\",\"n\":1}",
        "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"requires_action\",\"n\":2}",
        "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"in_progress\",\"n\":3}",
        "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"incomplete\",\"n\":4}",
        "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"cancelling\",\"n\":5}",
        "{\"id\":\"run_2\",\"object\":\"thread.run\",\"status\":\"cancelling\",\"n\":1}",
        "{\"id\":\"run_2\",\"object\":\"thread.run\",\"status\":\"in_progress\",\"n\":2}",
        "{\"id\":\"run_2\",\"object\":\"thread.run\",\"status\":\"queued\",\"n\":3}",
        "{\"id\":\"msg_1\",\"object\":\"thread.message\",\"status\":\"completed\",\"n\":1}",
        "{\"id\":\"msg_1\",\"object\":\"thread.message\",\"status\":\"in_progress\",\"n\":2}",
        "{\"id\":\"thread_1\",\"object\":\"thread\",\"n\":1}",
        "{\"id\":\"thread_1\",\"object\":\"thread\",\"n\":2}",
    };
    const char *path = write_records("kinds_runs", recs, 12, 1, 1);
    CHECK(path != NULL);
    if (path == NULL)
        return;
    char *got = cat(path);
    CHECK_STR(got, "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"incomplete\",\"n\":4}\n"
                   "{\"id\":\"run_2\",\"object\":\"thread.run\",\"status\":\"cancelling\",\"n\":1}\n"
                   "{\"id\":\"msg_1\",\"object\":\"thread.message\",\"status\":\"completed\",\"n\":1}\n"
                   "{\"id\":\"thread_1\",\"object\":\"thread\",\"n\":2}\n");
    free(got);
}

/* A mixed history in small blocks. */
static const char *mixed_archive(void)
{
    static const char *const objects[] = {"thread.run.step", "thread.message", "thread.run",
                                          "thread", "assistant", "file", "vector_store",
                                          "vector_store.file", "list"};
    char path[300];
    snprintf(path, sizeof path, "%s/mixed.steparc", g_dir);
    steparc_writer *w = open_writer(path, 0, 0, 2);
    if (w == NULL)
        return NULL;
    unsigned seed = 11;
    for (int i = 0; i < 400; i++) {
        /* runs of one kind, so that blocks differ */
        int k = (i / 17 + (int)(rand_r(&seed) % 2)) % 9;
        char js[400];
        snprintf(js, sizeof js,
                 "{\"id\":\"%s_%d\",\"object\":\"%s\",\"run_id\":\"run_%d\",\"thread_id\":\"thread_%d\","
                 "\"assistant_id\":\"asst_%d\",\"status\":\"completed\",\"pad\":\"%060d\"}",
                 k == 2 ? "run" : k == 3 ? "thread" : k == 4 ? "asst" : "obj", i, objects[k], i / 50,
                 i / 100, i / 200, i);
        CHECK_EQ_INT(add(w, js), 0);
    }
    CHECK_EQ_INT(steparc_writer_finish(w), 0);
    steparc_writer_close(w);
    static char keep[300];
    snprintf(keep, sizeof keep, "%s", path);
    return keep;
}

/* Section 12 holds, per block, exactly the kinds of its records; new
 * archives are 1.3 with section 12 last. */
static void test_block_kinds_masks(void)
{
    const char *path = mixed_archive();
    CHECK(path != NULL);
    if (path == NULL)
        return;
    size_t len;
    unsigned char *img = slurp(path, &len);
    sa_archive a;
    char why[300];
    CHECK_EQ_INT(sa_archive_parse(&a, img, len, why, sizeof why), 0);
    CHECK_EQ_INT(a.hdr.minor, 3);
    CHECK(a.slot[SA_SLOT_BLOCK_KINDS].present);
    const unsigned char *kinds =
        a.slot[SA_SLOT_BLOCK_KINDS].present ? img + a.slot[SA_SLOT_BLOCK_KINDS].s.offset : NULL;
    CHECK(a.nblocks > 10);
    steparc_reader *r = NULL;
    CHECK_EQ_INT(steparc_reader_open(&r, path, NULL, NULL, 0), 0);
    steparc_buf mp = {0};
    uint32_t all = 0;
    int differ = 0;
    for (uint64_t b = 0; kinds && b < a.nblocks; b++) {
        sa_block_entry e;
        sa_block_entry_decode(a.bindex + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
        uint32_t want = 0;
        for (uint64_t o = e.first_ordinal; o < e.first_ordinal + e.record_count; o++) {
            int kind = -1;
            CHECK_EQ_INT(steparc_reader_get_msgpack(&mp, r, o), 0);
            CHECK_EQ_INT(steparc_record_kind(&kind, mp.data, mp.len), 0);
            want |= 1u << kind;
        }
        CHECK_EQ_INT(sa_get_u32(kinds + 4 * b), want);
        differ |= b > 0 && want != sa_get_u32(kinds + 4 * (b - 1));
        all |= want;
    }
    CHECK_EQ_INT(all, 0x1FF); /* every kind, "other" (the list) included */
    CHECK(differ);
    uint64_t np = 9;
    CHECK_EQ_INT(steparc_verify(&np, r, NULL, NULL), 0);
    CHECK_EQ_INT(np, 0);
    steparc_buf_free(&mp);
    steparc_reader_close(r);
    sa_section last;
    sa_section_decode(a.table + (size_t)(a.ft.section_count - 1) * SA_SECTION_ENTRY_SIZE, &last);
    CHECK_EQ_INT(last.type, SA_SEC_BLOCK_KINDS);
    free(img);
}

/* Postings (1.3): a run's own id in the run postings, a thread's in the
 * thread postings, an assistant's in the assistant postings; the others by
 * their fields. */
static int collect_low(void *ctx, uint64_t low)
{
    uint64_t *set = (uint64_t *)ctx; /* bit per block number < 64 */
    if (low < 64)
        *set |= 1ull << low;
    return 0;
}

static uint64_t blocks_of(const sa_archive *a, int slot, const char *key)
{
    sa_keyset ks;
    const char *why = "";
    uint64_t set = 0;
    const sa_section *s = &a->slot[slot].s;
    if (!a->slot[slot].present || !a->slot[slot].packed ||
        sa_keyset_open(&ks, a->base + s->offset, s->length, &why) != 0 ||
        sa_keyset_find(&ks, sa_key32(key, strlen(key)), collect_low, &set, &why) != 0)
        return ~0ull;
    return set;
}

static void test_postings_by_own_id(void)
{
    static const char *const recs[] = {
        "{\"id\":\"thread_9\",\"object\":\"thread\",\"pad\":\"" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" "\"}",
        "{\"id\":\"asst_9\",\"object\":\"assistant\",\"pad\":\"" "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789" "\"}",
        "{\"id\":\"run_9\",\"object\":\"thread.run\",\"thread_id\":\"thread_9\",\"assistant_id\":\"asst_9\"}",
        "{\"id\":\"msg_9\",\"object\":\"thread.message\",\"thread_id\":\"thread_9\",\"run_id\":\"run_9\"}",
        "{\"id\":\"step_9\",\"object\":\"thread.run.step\",\"run_id\":\"run_9\",\"thread_id\":\"thread_8\"}",
    };
    char path[300];
    snprintf(path, sizeof path, "%s/own.steparc", g_dir);
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = 1024;
    o.no_fsync = 1;
    steparc_writer *w = NULL;
    CHECK_EQ_INT(steparc_writer_open(&w, path, &o, NULL, 0), 0);
    if (w == NULL)
        return;
    /* one record per block: flushed by the next record's size */
    for (int i = 0; i < 5; i++) {
        char big[1200];
        CHECK_EQ_INT(add(w, recs[i]), 0);
        snprintf(big, sizeof big, "{\"object\":\"list\",\"pad\":\"%0900d\"}", i);
        CHECK_EQ_INT(add(w, big), 0);
    }
    CHECK_EQ_INT(steparc_writer_finish(w), 0);
    steparc_writer_close(w);
    size_t len;
    unsigned char *img = slurp(path, &len);
    sa_archive a;
    char why[300];
    CHECK_EQ_INT(sa_archive_parse(&a, img, len, why, sizeof why), 0);
    /* block b holds recs[b] and a list; find where each record went */
    uint64_t blk[5];
    for (int i = 0; i < 5; i++) {
        blk[i] = 99;
        for (uint64_t b = 0; b < a.nblocks; b++) {
            sa_block_entry e;
            sa_block_entry_decode(a.bindex + b * SA_BLOCK_INDEX_ENTRY_SIZE, &e);
            if ((uint64_t)(2 * i) >= e.first_ordinal && (uint64_t)(2 * i) < e.first_ordinal + e.record_count)
                blk[i] = b;
        }
    }
    CHECK_EQ_INT(blocks_of(&a, SA_SLOT_THREADS, "thread_9"),
                 (1ull << blk[0]) | (1ull << blk[2]) | (1ull << blk[3]));
    CHECK_EQ_INT(blocks_of(&a, SA_SLOT_ASSISTANTS, "asst_9"), (1ull << blk[1]) | (1ull << blk[2]));
    CHECK_EQ_INT(blocks_of(&a, SA_SLOT_RUNS, "run_9"),
                 (1ull << blk[2]) | (1ull << blk[3]) | (1ull << blk[4]));
    CHECK_EQ_INT(blocks_of(&a, SA_SLOT_THREADS, "thread_8"), 1ull << blk[4]);
    free(img);
}

/* Rewrites the block kinds' section table entry with its length changed by
 * dlen (its CRC recomputed; dlen > 0: it starts dlen bytes earlier, so that
 * it still ends before the table), or flips a byte of the section (flip: the
 * CRC fails), then the table CRC and the footer. */
static void craft_kinds(unsigned char *img, size_t len, int64_t dlen, int flip)
{
    sa_footer f;
    const char *why;
    CHECK_EQ_INT(sa_footer_decode(img + len - SA_FOOTER_SIZE, &f, &why), 0);
    for (uint32_t i = 0; i < f.section_count; i++) {
        unsigned char *ent = img + f.section_table_offset + (size_t)i * SA_SECTION_ENTRY_SIZE;
        sa_section s;
        sa_section_decode(ent, &s);
        if (s.type != SA_SEC_BLOCK_KINDS)
            continue;
        if (flip)
            img[s.offset] ^= 0x40; /* the CRC stays: a mismatch */
        s.length = (uint64_t)((int64_t)s.length + dlen);
        if (dlen > 0)
            s.offset -= (uint64_t)dlen;
        if (!flip)
            s.crc = sa_crc32c(0, img + s.offset, (size_t)s.length);
        sa_section_encode(&s, ent);
    }
    f.section_table_crc = sa_crc32c(0, img + f.section_table_offset,
                                    (size_t)f.section_count * SA_SECTION_ENTRY_SIZE);
    sa_footer_encode(&f, img + len - SA_FOOTER_SIZE);
}

static void test_parser_checks_block_kinds(void)
{
    const char *path = mixed_archive();
    size_t len;
    unsigned char *img = path ? slurp(path, &len) : NULL;
    CHECK(img != NULL);
    if (img == NULL)
        return;
    unsigned char *bad = malloc(len);
    static const int64_t dl[] = {-4, -1, 4};
    for (size_t i = 0; i < 4; i++) {
        memcpy(bad, img, len);
        craft_kinds(bad, len, i < 3 ? dl[i] : 0, i == 3);
        /* a wrong size: refused by the parser, hence by open; a checksum
         * mismatch: the section is checked on first use (a --kind cursor),
         * like the other index sections, and by append, which checks all */
        sa_archive a;
        char why[300] = "";
        CHECK_EQ_INT(sa_archive_parse(&a, bad, len, why, sizeof why), i < 3 ? STEPARC_E_CORRUPT : 0);
        if (i < 3)
            CHECK(strstr(why, "block kinds section size") != NULL);
        char p2[300];
        snprintf(p2, sizeof p2, "%s/badkinds.steparc", g_dir);
        CHECK_EQ_INT(write_file(p2, bad, len), 0);
        steparc_reader *r = NULL;
        char why2[300] = "";
        int orc = steparc_reader_open(&r, p2, NULL, why2, sizeof why2);
        CHECK_EQ_INT(orc, i < 3 ? STEPARC_E_CORRUPT : 0);
        if (i < 3) {
            CHECK(strstr(why2, "block kinds section") != NULL);
        } else if (orc == 0) {
            steparc_filter f;
            memset(&f, 0, sizeof f);
            f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_RUN);
            steparc_cursor *c = NULL;
            CHECK_EQ_INT(steparc_cursor_open(&c, r, &f), STEPARC_E_CORRUPT);
            steparc_cursor_close(c);
        }
        steparc_reader_close(r);
        CHECK_EQ_INT(append_some(p2, 3, why2, sizeof why2), STEPARC_E_CORRUPT);
        size_t l2;
        unsigned char *after = slurp(p2, &l2);
        CHECK(after != NULL && l2 == len && memcmp(after, bad, len) == 0);
        free(after);
    }
    /* intact: accepted (the crafting itself changes nothing) */
    memcpy(bad, img, len);
    craft_kinds(bad, len, 0, 0);
    sa_archive a;
    char why[300];
    CHECK_EQ_INT(sa_archive_parse(&a, bad, len, why, sizeof why), 0);
    CHECK(memcmp(bad, img, len) == 0);
    free(bad);
    free(img);
}

/* The statistics of a 1.3 archive end with by_kind, in order of first
 * appearance; an append to it counts on. */
static int stats_by_kind(const char *path, char *out, size_t cap)
{
    size_t len;
    unsigned char *img = slurp(path, &len);
    sa_archive a;
    char why[300];
    out[0] = 0;
    if (img == NULL || sa_archive_parse(&a, img, len, why, sizeof why) != 0 ||
        !a.slot[SA_SLOT_STATS].present) {
        free(img);
        return -1;
    }
    const sa_section *s = &a.slot[SA_SLOT_STATS].s;
    sa_mpr r = {img + s->offset, img + s->offset + s->length};
    sa_mpitem m, k, v;
    int found = 0;
    if (sa_mp_read(&r, &m) == 0 && m.type == SA_MP_MAP)
        for (uint32_t i = 0; i < m.n; i++) {
            if (sa_mp_read(&r, &k) != 0)
                break;
            const unsigned char *vs = r.p;
            if (k.n == 7 && memcmp(k.s, "by_kind", 7) == 0 && sa_mp_read(&r, &v) == 0 &&
                v.type == SA_MP_MAP) {
                found = 1;
                size_t at = 0;
                for (uint32_t j = 0; j < v.n; j++) {
                    sa_mpitem kk, vv;
                    if (sa_mp_read(&r, &kk) != 0 || sa_mp_read(&r, &vv) != 0)
                        break;
                    at += (size_t)snprintf(out + at, cap - at, "%.*s=%lld ", (int)kk.n, kk.s,
                                           (long long)vv.i);
                }
                break;
            }
            r.p = vs;
            if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                break;
        }
    free(img);
    return found ? 0 : -1;
}

static void test_stats_by_kind(void)
{
    static const char *const recs[] = {
        "{\"id\":\"m1\",\"object\":\"thread.message\"}",
        "{\"id\":\"s1\",\"object\":\"thread.run.step\"}",
        "{\"id\":\"m2\",\"object\":\"thread.message\"}",
        "{\"id\":\"x1\"}",
        "{\"id\":\"v1\",\"object\":\"vector_store.file\",\"vector_store_id\":\"vs\"}",
    };
    const char *path = write_records("bykind", recs, 5, 0, 1);
    CHECK(path != NULL);
    if (path == NULL)
        return;
    char got[300];
    CHECK_EQ_INT(stats_by_kind(path, got, sizeof got), 0);
    CHECK_STR(got, "message=2 step=1 other=1 vector_store_file=1 ");
    char why[300] = "";
    CHECK_EQ_INT(append_some(path, 2, why, sizeof why), 0);
    CHECK_EQ_INT(stats_by_kind(path, got, sizeof got), 0);
    CHECK_STR(got, "message=2 step=3 other=1 vector_store_file=1 ");
    /* a rows archive (1.0) has no by_kind, and no section 12 */
    char p10[300];
    snprintf(p10, sizeof p10, "%s/v10.steparc", g_dir);
    CHECK_EQ_INT(stats_by_kind(p10, got, sizeof got), -1);
}

/* ---- the ordered pool ------------------------------------------------------------- */

typedef struct {
    int seq;        /* submission number */
    int result;     /* work's */
} pitem;

typedef struct {
    int next;       /* the delivery expected next */
    int out_of_order;
    int fail_at;    /* work fails on this item (-1: none) */
    int stop_at;    /* deliver fails on this item (-1: none) */
    int delivered;
    int worked;
    int statuses_seen;
    pthread_mutex_t mu;
    unsigned seed;
} pctx;

static int pwork(void *ctx, void *tls, void *item)
{
    (void)tls;
    pctx *c = (pctx *)ctx;
    pitem *it = (pitem *)item;
    pthread_mutex_lock(&c->mu);
    unsigned us = (unsigned)rand_r(&c->seed) % 2000; /* random durations */
    c->worked++;
    pthread_mutex_unlock(&c->mu);
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
    it->result = it->seq * 3;
    return it->seq == c->fail_at ? STEPARC_E_CORRUPT : 0;
}

static int pdeliver(void *ctx, void *item, int status)
{
    pctx *c = (pctx *)ctx;
    pitem *it = (pitem *)item;
    if (it->seq != c->next || it->result != it->seq * 3)
        c->out_of_order++;
    c->next++;
    c->delivered++;
    if (status)
        c->statuses_seen++;
    if (status)
        return status;
    return it->seq == c->stop_at ? STEPARC_E_IO : 0;
}

/* Submits n items; returns the first error. */
static int pool_run(int threads, int n, pctx *c, sa_pool **keep)
{
    sa_pool_def d;
    memset(&d, 0, sizeof d);
    d.ctx = c;
    d.item_size = sizeof(pitem);
    d.threads = threads;
    d.nslots = (size_t)(threads ? threads * 2 : 1);
    d.work = pwork;
    d.deliver = pdeliver;
    sa_pool *p = NULL;
    int rc = sa_pool_open(&p, &d);
    if (rc)
        return rc;
    CHECK_EQ_INT(sa_pool_threads(p), threads);
    for (int i = 0; i < n && rc == 0; i++) {
        pitem *it;
        rc = sa_pool_acquire((void **)&it, p);
        if (rc)
            break;
        it->seq = i;
        it->result = -1;
        rc = sa_pool_submit(p, it);
    }
    if (rc == 0)
        rc = sa_pool_finish(p);
    if (keep)
        *keep = p;
    else
        sa_pool_close(p);
    return rc;
}

static void pctx_init(pctx *c, int fail_at, int stop_at)
{
    memset(c, 0, sizeof *c);
    c->fail_at = fail_at;
    c->stop_at = stop_at;
    c->seed = (unsigned)h_seed();
    pthread_mutex_init(&c->mu, NULL);
}

static void test_pool_ordered(void)
{
    static const int threads[] = {0, 1, 2, 4, 8};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        pctx c;
        pctx_init(&c, -1, -1);
        CHECK_EQ_INT(pool_run(threads[t], 300, &c, NULL), 0);
        CHECK_EQ_INT(c.out_of_order, 0);
        CHECK_EQ_INT(c.delivered, 300);
        CHECK_EQ_INT(c.worked, 300);
        pthread_mutex_destroy(&c.mu);
    }
}

/* A work error reaches deliver in its place (the items before it are
 * delivered, none after); a deliver error stops the pool the same way. */
static void test_pool_errors(void)
{
    static const int threads[] = {0, 1, 3};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        pctx c;
        pctx_init(&c, 57, -1);
        sa_pool *p = NULL;
        CHECK_EQ_INT(pool_run(threads[t], 200, &c, &p), STEPARC_E_CORRUPT);
        CHECK_EQ_INT(c.out_of_order, 0);
        CHECK_EQ_INT(c.delivered, 58);
        CHECK_EQ_INT(c.statuses_seen, 1);
        /* sticky: the pool refuses more */
        void *it;
        CHECK_EQ_INT(sa_pool_acquire(&it, p), STEPARC_E_CORRUPT);
        CHECK(it == NULL);
        CHECK_EQ_INT(sa_pool_finish(p), STEPARC_E_CORRUPT);
        sa_pool_close(p);
        pthread_mutex_destroy(&c.mu);

        pctx_init(&c, -1, 120);
        CHECK_EQ_INT(pool_run(threads[t], 200, &c, NULL), STEPARC_E_IO);
        CHECK_EQ_INT(c.out_of_order, 0);
        CHECK_EQ_INT(c.delivered, 121);
        pthread_mutex_destroy(&c.mu);
    }
}

/* cancel drops what is in flight; close with undelivered items is clean. */
static void test_pool_cancel_close(void)
{
    pctx c;
    pctx_init(&c, -1, -1);
    sa_pool_def d;
    memset(&d, 0, sizeof d);
    d.ctx = &c;
    d.item_size = sizeof(pitem);
    d.threads = 2;
    d.nslots = 4;
    d.work = pwork;
    d.deliver = pdeliver;
    sa_pool *p = NULL;
    CHECK_EQ_INT(sa_pool_open(&p, &d), 0);
    for (int i = 0; i < 3; i++) {
        pitem *it;
        CHECK_EQ_INT(sa_pool_acquire((void **)&it, p), 0);
        it->seq = i;
        CHECK_EQ_INT(sa_pool_submit(p, it), 0);
    }
    int before = c.delivered; /* acquire may have delivered a finished head */
    CHECK_EQ_INT(sa_pool_cancel(p, STEPARC_E_NOMEM), STEPARC_E_NOMEM);
    CHECK_EQ_INT(sa_pool_finish(p), STEPARC_E_NOMEM);
    CHECK_EQ_INT(c.delivered, before);
    pitem *none;
    CHECK_EQ_INT(sa_pool_acquire((void **)&none, p), STEPARC_E_NOMEM);
    sa_pool_close(p);
    CHECK_EQ_INT(c.delivered, before);
    /* closed with work queued: nothing more is delivered */
    p = NULL;
    c.next = 100;
    CHECK_EQ_INT(sa_pool_open(&p, &d), 0);
    for (int i = 0; i < 4; i++) {
        pitem *it;
        CHECK_EQ_INT(sa_pool_acquire((void **)&it, p), 0);
        it->seq = 100 + i;
        CHECK_EQ_INT(sa_pool_submit(p, it), 0);
    }
    before = c.delivered;
    sa_pool_close(p);
    CHECK_EQ_INT(c.delivered, before);
    CHECK_EQ_INT(c.out_of_order, 0);
    sa_pool_close(NULL);
    pthread_mutex_destroy(&c.mu);
}

int main(void)
{
    if (mkdtemp(g_dir) == NULL)
        return 1;
    RUN(test_dedup_ranks);
    RUN(test_dedup_long_ids);
    RUN(test_append_each_minor);
    RUN(test_append_refuses_damaged);
    RUN(test_dedup_across_kinds);
    RUN(test_dedup_run_states);
    RUN(test_block_kinds_masks);
    RUN(test_postings_by_own_id);
    RUN(test_parser_checks_block_kinds);
    RUN(test_stats_by_kind);
    RUN(test_pool_ordered);
    RUN(test_pool_errors);
    RUN(test_pool_cancel_close);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
    return h_done();
}
