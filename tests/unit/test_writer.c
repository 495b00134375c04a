/* test_writer.c - the archive writer (converter/): which record survives a
 * dedup (ranks; among equals the last seen), appending to archives of each
 * format minor (the minor and the section types are kept; a damaged archive
 * is refused and left unchanged), and the ordered pool (format/pool.c):
 * delivery in submission order whatever the work takes, an error in the
 * middle, one and several threads. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "harness.h"
#include "pool.h"
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

static void test_append_each_minor(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/v10.steparc", g_dir);
    make_small(path, 1);
    check_append_keeps(path, 0);
    snprintf(path, sizeof path, "%s/v12.steparc", g_dir);
    make_small(path, 0);
    check_append_keeps(path, STEPARC_FORMAT_MINOR >= 3 ? 3 : 2);
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
    RUN(test_pool_ordered);
    RUN(test_pool_errors);
    RUN(test_pool_cancel_close);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", g_dir);
    return h_done();
}
