#define _GNU_SOURCE
/* test_reader.c - writer and reader through the public API: every lookup
 * against a brute-force scan of the same generated data, determinism, the
 * block cache, threads sharing one reader, damage to every block; the kind
 * filter and the exact run/thread/assistant rule on an archive of every
 * kind, scanned and through a block kinds section (type 12). */
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "layout.h" /* the hand-built block kinds section of the kind tests */
#include "steparc.h"

#define N_RUNS 300

typedef struct {
    char id[40], run[40], thread[40], asst[40];
    int64_t created;
    int has_created;
    char *json;
    size_t len;
} rec;

static rec *g_recs;
static size_t g_n;
static char g_dir[256];

static void gen(size_t n, uint64_t seed)
{
    h_rng_state = seed;
    g_recs = (rec *)calloc(n, sizeof(rec));
    g_n = n;
    int64_t t = 1700000000;
    for (size_t i = 0; i < n; i++) {
        rec *r = &g_recs[i];
        unsigned run = (unsigned)(i / 4 + h_rand() % 3) % N_RUNS;
        snprintf(r->id, sizeof r->id, "step_%08zu%04x", i, (unsigned)(h_rand() & 0xffff));
        if (i % 97 == 5)
            snprintf(r->id, sizeof r->id, "step_dup");  /* a repeated id */
        snprintf(r->run, sizeof r->run, "run_%u", run);
        snprintf(r->thread, sizeof r->thread, "thread_%u", run / 3);
        snprintf(r->asst, sizeof r->asst, "asst_%u", run % 7);
        t += (int64_t)(h_rand() % 5);
        r->created = (i % 50 == 7) ? -(int64_t)(h_rand() % 1000) : t;
        r->has_created = i % 211 != 3;
        size_t pad = (size_t)(h_rand() % 600);
        char *text = (char *)malloc(pad + 1);
        for (size_t k = 0; k < pad; k++)
            text[k] = (char)('a' + h_rand() % 26);
        text[pad] = 0;
        r->json = (char *)malloc(1200 + pad);
        char created[40] = "";
        if (r->has_created)
            snprintf(created, sizeof created, "\"created_at\":%lld,", (long long)r->created);
        r->len = (size_t)snprintf(r->json, 1200 + pad,
                                  "{\"id\":\"%s\",\"object\":\"thread.run.step\",%s\"run_id\":\"%s\","
                                  "\"assistant_id\":\"%s\",\"thread_id\":\"%s\",\"type\":\"message_creation\","
                                  "\"status\":\"completed\",\"step_details\":{\"type\":\"message_creation\","
                                  "\"message_creation\":{\"message_id\":\"msg_%zu\"}},\"usage\":{\"prompt_tokens\":%u,"
                                  "\"completion_tokens\":2,\"total_tokens\":3},\"note\":\"%s\",\"score\":%.17g}",
                                  r->id, created, r->run, r->asst, r->thread, i,
                                  (unsigned)(h_rand() % 1000), text, (double)(h_rand() % 1000000) / 7.0);
        free(text);
    }
}

static int write_archive(const char *path, uint32_t block_size, int threads)
{
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = block_size;
    o.threads = threads;
    o.no_fsync = 1;
    steparc_writer *w;
    int rc = steparc_writer_open(&w, path, &o, NULL, 0);
    if (rc)
        return rc;
    for (size_t i = 0; i < g_n && rc == 0; i++)
        rc = steparc_writer_add_json(w, g_recs[i].json, g_recs[i].len, NULL);
    if (rc == 0)
        rc = steparc_writer_finish(w);
    steparc_writer_close(w);
    return rc;
}

static char *canon(const rec *r)
{
    steparc_buf mp = {0}, js = {0};
    steparc_json_to_msgpack(&mp, r->json, r->len, 0, NULL);
    steparc_msgpack_to_json(&js, mp.data, mp.len, 0);
    steparc_buf_free(&mp);
    js.data = realloc(js.data, js.len + 1);
    js.data[js.len] = 0;
    return js.data;
}

static char g_path[300];

static void test_get_every_position(void)
{
    steparc_reader *r;
    char err[256];
    CHECK_EQ_INT(steparc_reader_open(&r, g_path, NULL, err, sizeof err), 0);
    CHECK_EQ_INT(steparc_reader_count(r), g_n);
    steparc_buf js = {0};
    size_t bad = 0;
    for (size_t i = 0; i < g_n; i++) {
        char *want = canon(&g_recs[i]);
        if (steparc_reader_get_json(&js, r, i, 0) != 0 || js.len != strlen(want) ||
            memcmp(js.data, want, js.len) != 0)
            bad++;
        free(want);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(steparc_reader_get_json(&js, r, g_n, 0), STEPARC_E_NOTFOUND);
    CHECK(strstr(steparc_reader_errmsg(r), "does not exist") != NULL);
    steparc_step *st;
    CHECK_EQ_INT(steparc_reader_get_step(&st, r, 3), 0);
    CHECK(st && st->usage.v.total_tokens.v == 3);
    steparc_step_free(st);
    steparc_info in;
    CHECK_EQ_INT(steparc_reader_info(&in, r), 0);
    CHECK(in.records == g_n && in.blocks > 10 && in.has_id_index && in.has_run_index &&
          in.has_thread_index && in.has_stats && !in.time_ordered);
    uint64_t np = 1;
    CHECK_EQ_INT(steparc_verify(&np, r, NULL, NULL), 0);
    CHECK_EQ_INT(np, 0);
    steparc_buf_free(&js);
    steparc_reader_close(r);
}

static void test_find_id(void)
{
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, g_path, NULL, NULL, 0), 0);
    size_t bad = 0;
    for (size_t i = 0; i < g_n; i++) {
        uint64_t o;
        int rc = steparc_reader_find_id(&o, r, g_recs[i].id, strlen(g_recs[i].id));
        size_t first = i;
        for (size_t k = 0; k < i; k++)
            if (strcmp(g_recs[k].id, g_recs[i].id) == 0) {
                first = k;
                break;
            }
        if (rc != 0 || o != first)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    uint64_t o;
    CHECK_EQ_INT(steparc_reader_find_id(&o, r, "step_nope", 9), STEPARC_E_NOTFOUND);
    CHECK_EQ_INT(steparc_reader_find_id(&o, r, "", 0), STEPARC_E_NOTFOUND);
    steparc_reader_close(r);
}

/* Brute force: does record i match f? */
static int matches(const rec *r, const steparc_filter *f)
{
    if (f == NULL)
        return 1;
    if (f->run_id.ptr && strcmp(r->run, f->run_id.ptr) != 0)
        return 0;
    if (f->thread_id.ptr && strcmp(r->thread, f->thread_id.ptr) != 0)
        return 0;
    if (f->assistant_id.ptr && strcmp(r->asst, f->assistant_id.ptr) != 0)
        return 0;
    if ((f->has_since || f->has_until) && !r->has_created)
        return 0;
    if (f->has_since && r->created < f->since)
        return 0;
    if (f->has_until && r->created > f->until)
        return 0;
    return 1;
}

static void check_filter(steparc_reader *r, const steparc_filter *f, int expect_few_blocks)
{
    steparc_cursor *c;
    CHECK_EQ_INT(steparc_cursor_open(&c, r, f), 0);
    size_t want = 0;
    while (want < g_n && !matches(&g_recs[want], f))
        want++;
    uint64_t o;
    const void *mp;
    size_t len;
    int rc, bad = 0;
    while ((rc = steparc_cursor_next(&o, &mp, &len, c)) == 0) {
        if (o != want)
            bad++;
        want++;
        while (want < g_n && !matches(&g_recs[want], f))
            want++;
    }
    CHECK_EQ_INT(rc, STEPARC_END);
    CHECK_EQ_INT(want, g_n);
    CHECK_EQ_INT(bad, 0);
    steparc_info in;
    steparc_reader_info(&in, r);
    if (expect_few_blocks)
        CHECK(steparc_cursor_blocks_read(c) * 4 < in.blocks);
    steparc_cursor_close(c);
}

static void test_filters_vs_brute_force(void)
{
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, g_path, NULL, NULL, 0), 0);
    char buf[40];
    for (int i = 0; i < N_RUNS; i += 17) {
        steparc_filter f;
        memset(&f, 0, sizeof f);
        snprintf(buf, sizeof buf, "run_%d", i);
        f.run_id.ptr = buf;
        f.run_id.len = strlen(buf);
        check_filter(r, &f, 1);
    }
    for (int i = 0; i < N_RUNS / 3; i += 11) {
        steparc_filter f;
        memset(&f, 0, sizeof f);
        snprintf(buf, sizeof buf, "thread_%d", i);
        f.thread_id.ptr = buf;
        f.thread_id.len = strlen(buf);
        check_filter(r, &f, 1);
        snprintf(buf + 20, 20, "asst_%d", i % 7);
        f.assistant_id.ptr = buf + 20;
        f.assistant_id.len = strlen(buf + 20);
        check_filter(r, &f, 1);
    }
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.has_since = 1;
    f.since = g_recs[g_n / 2].created;
    f.has_until = 1;
    f.until = f.since + 20;
    check_filter(r, &f, 0);
    f.has_until = 0;
    check_filter(r, &f, 0);
    memset(&f, 0, sizeof f);
    f.has_until = 1;
    f.until = -1;
    check_filter(r, &f, 0);
    memset(&f, 0, sizeof f);
    f.run_id.ptr = "run_nope";
    f.run_id.len = 8;
    check_filter(r, &f, 1);
    check_filter(r, NULL, 0);
    memset(&f, 0, sizeof f);
    check_filter(r, &f, 0);
    steparc_reader_close(r);
}

static void test_deterministic_and_threads_invariant(void)
{
    char p2[300], p3[300];
    snprintf(p2, sizeof p2, "%s/b.steparc", g_dir);
    snprintf(p3, sizeof p3, "%s/c.steparc", g_dir);
    CHECK_EQ_INT(write_archive(p2, 16384, 1), 0);
    CHECK_EQ_INT(write_archive(p3, 16384, 3), 0);
    size_t l1, l2, l3;
    char *a = h_read_file(g_path, &l1), *b = h_read_file(p2, &l2), *c = h_read_file(p3, &l3);
    CHECK(a && b && c && l1 == l2 && l2 == l3 && memcmp(a, b, l1) == 0 && memcmp(a, c, l1) == 0);
    free(a);
    free(b);
    free(c);
}

static void test_memory_reader_and_damage(void)
{
    size_t len;
    char *data = h_read_file(g_path, &len);
    CHECK(data != NULL);
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open_memory(&r, data, len, NULL, NULL, 0), 0);
    steparc_info in;
    steparc_reader_info(&in, r);
    steparc_reader_close(r);
    /* Damage one byte inside each block's payload in turn: that block fails
     * with CORRUPT naming it, every other record still reads, verify counts one
     * problem. Block offsets come from the layout: walk them via get. */
    uint64_t blocks = in.blocks, hits = 0;
    for (uint64_t b = 0; b < blocks; b += 7) {
        char *copy = malloc(len);
        memcpy(copy, data, len);
        /* the block index is the first section: its offset is in the table;
         * easier: find block b's first record and damage the byte after the
         * 64-byte header of that block, found by scanning for the sync marker */
        /* block b's sync marker; the dictionary block (kind 2) is not counted */
        size_t pos = 40;
        for (uint64_t k = 0;; pos++) {
            while (pos + 16 < len && memcmp(copy + pos, "steparc-sync-v1", 15) != 0)
                pos++;
            if ((unsigned char)copy[pos + 16] != 1)
                continue;
            if (k++ == b)
                break;
        }
        copy[pos + 64 + 3] ^= 0x5a;
        CHECK_EQ_INT(steparc_reader_open_memory(&r, copy, len, NULL, NULL, 0), 0);
        steparc_buf js = {0};
        uint64_t bad = 0;
        for (size_t i = 0; i < g_n; i++) {
            int rc = steparc_reader_get_json(&js, r, i, 0);
            if (rc == STEPARC_E_CORRUPT) {
                bad++;
                char want[40];
                snprintf(want, sizeof want, "block %llu ", (unsigned long long)b);
                CHECK(strstr(steparc_reader_errmsg(r), want) != NULL);
            } else {
                CHECK_EQ_INT(rc, 0);
            }
        }
        CHECK(bad > 0);
        uint64_t np = 0;
        CHECK_EQ_INT(steparc_verify(&np, r, NULL, NULL), STEPARC_E_CORRUPT);
        CHECK_EQ_INT(np, 1);
        hits++;
        steparc_buf_free(&js);
        steparc_reader_close(r);
        free(copy);
    }
    CHECK(hits > 0);
    /* truncated at any point: open fails cleanly */
    for (size_t cut = 0; cut < len; cut += 1 + len / 300) {
        CHECK(steparc_reader_open_memory(&r, data, cut, NULL, NULL, 0) != 0);
    }
    free(data);
}

typedef struct {
    steparc_reader *r;
    uint64_t seed;
    int bad;
} tctx;

static void *thread_main(void *arg)
{
    tctx *t = (tctx *)arg;
    uint64_t s = t->seed;
    steparc_buf js = {0};
    for (int k = 0; k < 3000; k++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t i = (size_t)((s >> 33) % g_n);
        uint64_t o;
        if (k % 2) {
            if (steparc_reader_find_id(&o, t->r, g_recs[i].id, strlen(g_recs[i].id)) != 0 ||
                strcmp(g_recs[o].id, g_recs[i].id) != 0)
                t->bad++;
        } else {
            char *want = canon(&g_recs[i]);
            if (steparc_reader_get_json(&js, t->r, i, 0) != 0 || js.len != strlen(want) ||
                memcmp(js.data, want, js.len) != 0)
                t->bad++;
            free(want);
        }
    }
    steparc_buf_free(&js);
    return NULL;
}

static void test_threads_share_reader(void)
{
    steparc_reader_options o;
    steparc_reader_options_init(&o);
    o.cache_blocks = 3; /* small: forces eviction races */
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, g_path, &o, NULL, 0), 0);
    pthread_t th[4];
    tctx t[4];
    for (int i = 0; i < 4; i++) {
        t[i].r = r;
        t[i].seed = (uint64_t)i * 977 + 1;
        t[i].bad = 0;
        pthread_create(&th[i], NULL, thread_main, &t[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(t[i].bad, 0);
    }
    steparc_reader_close(r);
}

static void test_cache_avoids_decompression(void)
{
    steparc_reader_options o;
    steparc_reader_options_init(&o);
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, g_path, &o, NULL, 0), 0);
    /* neighbouring gets in one block reuse it: a cursor over one run reads
     * each of its blocks once */
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.run_id.ptr = "run_5";
    f.run_id.len = 5;
    steparc_cursor *c;
    CHECK_EQ_INT(steparc_cursor_open(&c, r, &f), 0);
    uint64_t ord;
    const void *mp;
    size_t len;
    uint64_t n = 0;
    while (steparc_cursor_next(&ord, &mp, &len, c) == 0)
        n++;
    steparc_info in;
    steparc_reader_info(&in, r);
    CHECK(n > 0 && steparc_cursor_blocks_read(c) <= n && steparc_cursor_blocks_read(c) * 4 < in.blocks);
    steparc_cursor_close(c);
    steparc_reader_close(r);
    /* neighbouring gets decompress their block once; with the cache off, every time */
    CHECK_EQ_INT(steparc_reader_open(&r, g_path, &o, NULL, 0), 0);
    steparc_buf js = {0};
    uint64_t hits = 0, misses = 0;
    for (int k = 0; k < 10; k++)
        CHECK_EQ_INT(steparc_reader_get_json(&js, r, (uint64_t)k % 3, 0), 0);
    steparc_reader_cache_stats(&hits, &misses, r);
    CHECK_EQ_INT(misses, 1);
    CHECK_EQ_INT(hits, 9);
    steparc_reader_close(r);
    o.cache_blocks = 0;
    CHECK_EQ_INT(steparc_reader_open(&r, g_path, &o, NULL, 0), 0);
    for (int k = 0; k < 10; k++)
        CHECK_EQ_INT(steparc_reader_get_json(&js, r, (uint64_t)k % 3, 0), 0);
    steparc_reader_cache_stats(&hits, &misses, r);
    CHECK_EQ_INT(misses, 10);
    CHECK_EQ_INT(hits, 0);
    steparc_buf_free(&js);
    steparc_reader_close(r);
}

static void test_writer_errors(void)
{
    steparc_writer *w;
    char p[300];
    snprintf(p, sizeof p, "%s/nodir/x.steparc", g_dir);
    char why[300];
    CHECK_EQ_INT(steparc_writer_open(&w, p, NULL, why, sizeof why), STEPARC_E_IO);
    CHECK(w == NULL);
    CHECK(strstr(why, "No such file or directory") != NULL);
    snprintf(p, sizeof p, "%s/w.steparc", g_dir);
    CHECK_EQ_INT(steparc_writer_open(&w, p, NULL, NULL, 0), 0);
    steparc_json_error e;
    CHECK_EQ_INT(steparc_writer_add_json(w, "{\"a\":", 5, &e), STEPARC_E_INPUT);
    CHECK(strstr(steparc_writer_errmsg(w), "record 0") != NULL);
    CHECK_EQ_INT(steparc_writer_add_json(w, "[]", 2, &e), STEPARC_E_INPUT);
    const unsigned char bin[] = {0x81, 0xa1, 'a', 0xc4, 0x00};
    CHECK_EQ_INT(steparc_writer_add_msgpack(w, bin, sizeof bin), STEPARC_E_INPUT);
    CHECK_EQ_INT(steparc_writer_add_json(w, "{\"id\":\"x\"}", 10, &e), 0);
    CHECK_EQ_INT(steparc_writer_count(w), 1);
    /* closing without finish leaves nothing behind */
    steparc_writer_close(w);
    struct stat st;
    CHECK(stat(p, &st) != 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp- > /dev/null", g_dir);
    CHECK(system(cmd) != 0);
    /* a finished writer refuses more */
    CHECK_EQ_INT(steparc_writer_open(&w, p, NULL, NULL, 0), 0);
    CHECK_EQ_INT(steparc_writer_add_json(w, "{\"id\":\"x\"}", 10, &e), 0);
    CHECK_EQ_INT(steparc_writer_finish(w), 0);
    CHECK_EQ_INT(steparc_writer_add_json(w, "{\"id\":\"x\"}", 10, &e), STEPARC_E_MISUSE);
    steparc_writer_close(w);
    CHECK(stat(p, &st) == 0);
    steparc_writer_close(NULL);
    steparc_reader_close(NULL);
    steparc_cursor_close(NULL);
    /* bad options */
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.level = 99;
    CHECK_EQ_INT(steparc_writer_open(&w, p, &o, NULL, 0), STEPARC_E_ARG);
    steparc_writer_options_init(&o);
    o.block_size = 1;
    CHECK_EQ_INT(steparc_writer_open(&w, p, &o, why, sizeof why), STEPARC_E_ARG);
    CHECK(strstr(why, "block size") != NULL);
}

static void test_big_record_own_block(void)
{
    char p[300];
    snprintf(p, sizeof p, "%s/big.steparc", g_dir);
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = 4096;
    o.no_fsync = 1;
    steparc_writer *w;
    CHECK_EQ_INT(steparc_writer_open(&w, p, &o, NULL, 0), 0);
    size_t big = 3u << 20;
    char *j = malloc(big + 64);
    int n = snprintf(j, 64, "{\"id\":\"big\",\"x\":\"");
    memset(j + n, 'q', big);
    memcpy(j + n + big, "\"}", 3);
    CHECK_EQ_INT(steparc_writer_add_json(w, "{\"id\":\"a\"}", 10, NULL), 0);
    CHECK_EQ_INT(steparc_writer_add_json(w, j, strlen(j), NULL), 0);
    CHECK_EQ_INT(steparc_writer_add_json(w, "{\"id\":\"b\"}", 10, NULL), 0);
    CHECK_EQ_INT(steparc_writer_finish(w), 0);
    steparc_writer_close(w);
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, p, NULL, NULL, 0), 0);
    steparc_info in;
    steparc_reader_info(&in, r);
    CHECK_EQ_INT(in.blocks, 3);
    steparc_buf js = {0};
    CHECK_EQ_INT(steparc_reader_get_json(&js, r, 1, 0), 0);
    CHECK(js.len == strlen(j) && memcmp(js.data, j, js.len) == 0);
    uint64_t o2;
    CHECK_EQ_INT(steparc_reader_find_id(&o2, r, "b", 1), 0);
    CHECK_EQ_INT(o2, 2);
    steparc_buf_free(&js);
    steparc_reader_close(r);
    free(j);
}


/* ---- kinds: a mixed archive of every kind -------------------------------------------- */

#define KN_THREADS 40

typedef struct {
    int kind;
    char id[48], run[48], thread[48], asst[48], status[16];
    int64_t created;
    char json[512];
} krec;

static krec *g_k;
static size_t g_nk;
static char g_kpath[300];

static krec *knew(int kind, const char *id)
{
    krec *k = &g_k[g_nk++];
    memset(k, 0, sizeof *k);
    k->kind = kind;
    snprintf(k->id, sizeof k->id, "%s", id);
    k->created = 1700000000 + (int64_t)g_nk;
    return k;
}

/* JSON of k, with the object text given (NULL: no "object" key). */
static void kjson(krec *k, const char *object)
{
    char *o = k->json;
    size_t cap = sizeof k->json;
    int n = snprintf(o, cap, "{\"id\":\"%s\"", k->id);
    if (object)
        n += snprintf(o + n, cap - (size_t)n, ",\"object\":\"%s\"", object);
    n += snprintf(o + n, cap - (size_t)n, ",\"created_at\":%lld", (long long)k->created);
    if (k->run[0])
        n += snprintf(o + n, cap - (size_t)n, ",\"run_id\":\"%s\"", k->run);
    if (k->thread[0])
        n += snprintf(o + n, cap - (size_t)n, ",\"thread_id\":\"%s\"", k->thread);
    if (k->asst[0])
        n += snprintf(o + n, cap - (size_t)n, ",\"assistant_id\":\"%s\"", k->asst);
    if (k->status[0])
        n += snprintf(o + n, cap - (size_t)n, ",\"status\":\"%s\"", k->status);
    snprintf(o + n, cap - (size_t)n, ",\"pad\":\"%0*d\"}", 40 + (int)(h_rand() % 200), 0);
}

/* Assistants, files and vector stores first, then each thread with its
 * messages, runs and steps, then records of no known kind: runs of one kind
 * fill blocks of their own, so block kinds can skip most blocks. */
static void gen_kinds(void)
{
    g_k = (krec *)calloc(4000, sizeof(krec));
    char id[48];
    for (int a = 0; a < 5; a++) {
        snprintf(id, sizeof id, "asst_%d", a);
        kjson(knew(STEPARC_KIND_ASSISTANT, id), "assistant");
    }
    for (int f = 0; f < 60; f++) {
        snprintf(id, sizeof id, "file-%d", f);
        kjson(knew(STEPARC_KIND_FILE, id), "file");
    }
    for (int v = 0; v < 3; v++) {
        snprintf(id, sizeof id, "vs_%d", v);
        kjson(knew(STEPARC_KIND_VECTOR_STORE, id), "vector_store");
        for (int f = v; f < 60; f += 7) {
            snprintf(id, sizeof id, "file-%d", f);
            kjson(knew(STEPARC_KIND_VECTOR_STORE_FILE, id), "vector_store.file");
        }
    }
    for (int t = 0; t < KN_THREADS; t++) {
        char th[48], as[48];
        snprintf(th, sizeof th, "thread_%d", t);
        snprintf(as, sizeof as, "asst_%d", t % 5);
        kjson(knew(STEPARC_KIND_THREAD, th), "thread");
        for (int r = 0; r < 1 + t % 3; r++) {
            char run[48];
            snprintf(run, sizeof run, "run_%d_%d", t, r);
            snprintf(id, sizeof id, "msg_%d_%d", t, r);
            krec *k = knew(STEPARC_KIND_MESSAGE, id);
            snprintf(k->thread, sizeof k->thread, "%s", th);
            snprintf(k->status, sizeof k->status, "completed");
            kjson(k, "thread.message");
            k = knew(STEPARC_KIND_RUN, run);
            snprintf(k->thread, sizeof k->thread, "%s", th);
            snprintf(k->asst, sizeof k->asst, "%s", as);
            snprintf(k->status, sizeof k->status, r % 2 ? "failed" : "completed");
            kjson(k, "thread.run");
            for (int st = 0; st < 4; st++) {
                snprintf(id, sizeof id, "step_%d_%d_%d", t, r, st);
                k = knew(STEPARC_KIND_STEP, id);
                snprintf(k->run, sizeof k->run, "%s", run);
                snprintf(k->thread, sizeof k->thread, "%s", th);
                snprintf(k->asst, sizeof k->asst, "%s", as);
                snprintf(k->status, sizeof k->status, st == 3 ? "failed" : "completed");
                kjson(k, st == 2 ? "assistant.run.step" : "thread.run.step");
            }
            snprintf(id, sizeof id, "msg_%d_%d_reply", t, r);
            k = knew(STEPARC_KIND_MESSAGE, id);
            snprintf(k->thread, sizeof k->thread, "%s", th);
            snprintf(k->run, sizeof k->run, "%s", run);
            snprintf(k->asst, sizeof k->asst, "%s", as);
            snprintf(k->status, sizeof k->status, "completed");
            kjson(k, "thread.message");
        }
    }
    for (int o = 0; o < 30; o++) {
        snprintf(id, sizeof id, "batch_%d", o);
        krec *k = knew(STEPARC_KIND_OTHER, id);
        kjson(k, o % 3 == 0 ? NULL : o % 3 == 1 ? "batch" : "thread_x");
    }
}

static int write_kinds_archive(const char *path)
{
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = 4096;
    o.no_fsync = 1;
    steparc_writer *w;
    int rc = steparc_writer_open(&w, path, &o, NULL, 0);
    if (rc)
        return rc;
    for (size_t i = 0; i < g_nk && rc == 0; i++)
        rc = steparc_writer_add_json(w, g_k[i].json, strlen(g_k[i].json), NULL);
    if (rc == 0)
        rc = steparc_writer_finish(w);
    steparc_writer_close(w);
    return rc;
}

static int sv_eq(steparc_str s, const char *v)
{
    return s.ptr != NULL && strlen(v) == s.len && memcmp(v, s.ptr, s.len) == 0;
}

/* The filter's rule, written out: a record matches every field set. */
static int kmatches(const krec *k, const steparc_filter *f)
{
    if (f->kinds && !(f->kinds & STEPARC_KIND_BIT(k->kind)))
        return 0;
    if (f->run_id.ptr && !sv_eq(f->run_id, k->run) &&
        !(k->kind == STEPARC_KIND_RUN && sv_eq(f->run_id, k->id)))
        return 0;
    if (f->thread_id.ptr && !sv_eq(f->thread_id, k->thread) &&
        !(k->kind == STEPARC_KIND_THREAD && sv_eq(f->thread_id, k->id)))
        return 0;
    if (f->assistant_id.ptr && !sv_eq(f->assistant_id, k->asst) &&
        !(k->kind == STEPARC_KIND_ASSISTANT && sv_eq(f->assistant_id, k->id)))
        return 0;
    if (f->status.ptr && !sv_eq(f->status, k->status))
        return 0;
    if (f->has_since && k->created < f->since)
        return 0;
    return 1;
}

/* The cursor gives exactly the brute-force matches; *blocks the blocks it read. */
static size_t kcheck(steparc_reader *r, const steparc_filter *f, uint64_t *blocks)
{
    steparc_cursor *c = NULL;
    CHECK_EQ_INT(steparc_cursor_open(&c, r, f), 0);
    if (c == NULL)
        return 0;
    size_t want = 0, got = 0, bad = 0;
    uint64_t o;
    const void *mp;
    size_t len;
    int rc;
    while (want < g_nk && !kmatches(&g_k[want], f))
        want++;
    while ((rc = steparc_cursor_next(&o, &mp, &len, c)) == 0) {
        got++;
        if (o != want)
            bad++;
        want++;
        while (want < g_nk && !kmatches(&g_k[want], f))
            want++;
    }
    CHECK_EQ_INT(rc, STEPARC_END);
    CHECK_EQ_INT(want, g_nk);
    if (bad)
        fprintf(stderr, "  kinds 0x%x: %zu ordinals differ\n", f->kinds, bad);
    CHECK_EQ_INT(bad, 0);
    if (blocks)
        *blocks = steparc_cursor_blocks_read(c);
    steparc_cursor_close(c);
    return got;
}

static void set_str(steparc_str *s, const char *v)
{
    s->ptr = v;
    s->len = strlen(v);
}

/* Every single kind, some pairs, all bits, each alone and with every other filter. */
static void kinds_vs_brute_force(steparc_reader *r)
{
    static const uint32_t masks[] = {
        0, 1u << 0, 1u << 1, 1u << 2, 1u << 3, 1u << 4, 1u << 5, 1u << 6, 1u << 7, 1u << 8,
        (1u << 1) | (1u << 3), (1u << 2) | (1u << 4) | (1u << 5), 0x1ff, 1u << 20};
    for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++) {
        steparc_filter f;
        memset(&f, 0, sizeof f);
        f.kinds = masks[m];
        size_t all = kcheck(r, &f, NULL);
        if (masks[m] == 1u << 20)
            CHECK_EQ_INT(all, 0);
        else if (masks[m] != 0)
            CHECK(all > 0);
        set_str(&f.thread_id, "thread_7");
        kcheck(r, &f, NULL);
        set_str(&f.run_id, "run_7_1");
        kcheck(r, &f, NULL);
        memset(&f.thread_id, 0, sizeof f.thread_id);
        kcheck(r, &f, NULL);
        memset(&f.run_id, 0, sizeof f.run_id);
        set_str(&f.assistant_id, "asst_3");
        kcheck(r, &f, NULL);
        set_str(&f.status, "failed");
        kcheck(r, &f, NULL);
        memset(&f.assistant_id, 0, sizeof f.assistant_id);
        kcheck(r, &f, NULL);
        f.has_since = 1;
        f.since = g_k[g_nk / 2].created;
        kcheck(r, &f, NULL);
        memset(&f.status, 0, sizeof f.status);
        kcheck(r, &f, NULL);
    }
}

static void test_kinds_filter_scan(void)
{
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, g_kpath, NULL, NULL, 0), 0);
    if (r == NULL)
        return;
    kinds_vs_brute_force(r);
    steparc_reader_close(r);
}

/* --thread T gives the thread itself, its messages, runs and steps; --run R
 * the run and its steps and messages; --assistant A the assistant too. */
static void test_kinds_exact_by_own_id(void)
{
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, g_kpath, NULL, NULL, 0), 0);
    if (r == NULL)
        return;
    steparc_filter f;
    memset(&f, 0, sizeof f);
    set_str(&f.thread_id, "thread_5");
    /* thread_5: 3 runs, each 1 message + 1 run + 4 steps + 1 reply */
    CHECK_EQ_INT(kcheck(r, &f, NULL), 1 + 3 * 7);
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_THREAD);
    CHECK_EQ_INT(kcheck(r, &f, NULL), 1);
    memset(&f, 0, sizeof f);
    set_str(&f.run_id, "run_5_2");
    CHECK_EQ_INT(kcheck(r, &f, NULL), 1 + 4 + 1);
    memset(&f, 0, sizeof f);
    set_str(&f.assistant_id, "asst_0");
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_ASSISTANT);
    CHECK_EQ_INT(kcheck(r, &f, NULL), 1);
    /* a step whose id is a thread id is not the thread */
    memset(&f, 0, sizeof f);
    set_str(&f.thread_id, "step_0_0_0");
    CHECK_EQ_INT(kcheck(r, &f, NULL), 0);
    steparc_reader_close(r);
}

/* Rewrites the archive at path with a block kinds section (type 12) built
 * from the records, as a 1.3 writer writes it: the section after the
 * others, a new section table and footer. 0 or -1. */
static int add_block_kinds(const char *path, const char *out)
{
    size_t len;
    unsigned char *img = (unsigned char *)h_read_file(path, &len);
    if (img == NULL || len < SA_FOOTER_SIZE)
        return -1;
    sa_footer ft;
    const char *why;
    int rc = sa_footer_decode(img + len - SA_FOOTER_SIZE, &ft, &why);
    sa_section s;
    for (uint32_t i = 0; rc == 0 && i < ft.section_count; i++) {
        sa_section_decode(img + ft.section_table_offset + 32 * (size_t)i, &s);
        if (s.type == SA_SEC_BLOCK_KINDS)
            rc = -1; /* already there */
    }
    size_t nb = (size_t)ft.block_count, at = (size_t)ft.section_table_offset;
    size_t cap = at + 4 * nb + 32 * ((size_t)ft.section_count + 1) + SA_FOOTER_SIZE;
    unsigned char *o = (unsigned char *)calloc(1, cap);
    FILE *fp = NULL;
    if (rc || o == NULL)
        goto fail;
    memcpy(o, img, at);
    /* masks from the block index's ordinals and the records' kinds */
    sa_section bi;
    for (uint32_t i = 0; i < ft.section_count; i++) {
        sa_section_decode(img + ft.section_table_offset + 32 * (size_t)i, &bi);
        if (bi.type == SA_SEC_BLOCK_INDEX)
            break;
    }
    for (size_t b = 0; b < nb; b++) {
        sa_block_entry e;
        sa_block_entry_decode(img + bi.offset + 48 * b, &e);
        uint32_t mask = 0;
        for (uint64_t n = e.first_ordinal; n < e.first_ordinal + e.record_count && n < g_nk; n++)
            mask |= STEPARC_KIND_BIT(g_k[n].kind);
        sa_put_u32(o + at + 4 * b, mask);
    }
    sa_section ks = {SA_SEC_BLOCK_KINDS, at, 4 * (uint64_t)nb, sa_crc32c(0, o + at, 4 * nb)};
    size_t table = at + 4 * nb;
    memcpy(o + table, img + ft.section_table_offset, 32 * (size_t)ft.section_count);
    sa_section_encode(&ks, o + table + 32 * (size_t)ft.section_count);
    ft.section_count++;
    ft.section_table_offset = table;
    ft.section_table_crc = sa_crc32c(0, o + table, 32 * (size_t)ft.section_count);
    sa_footer_encode(&ft, o + table + 32 * (size_t)ft.section_count);
    fp = fopen(out, "wb");
    if (fp == NULL || fwrite(o, 1, cap, fp) != cap)
        goto fail;
    fclose(fp);
    free(o);
    free(img);
    return 0;
fail:
    if (fp)
        fclose(fp);
    free(o);
    free(img);
    return -1;
}

/* With section 12 a kind filter skips the blocks without the kind, and
 * gives the same records as the scan. */
static void kinds_skip_checks(steparc_reader *r)
{
    kinds_vs_brute_force(r);
    steparc_info in;
    steparc_reader_info(&in, r);
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_ASSISTANT);
    uint64_t blocks = 0, hits0, miss0, hits1, miss1;
    steparc_reader_cache_stats(&hits0, &miss0, r);
    CHECK_EQ_INT(kcheck(r, &f, &blocks), 5);
    steparc_reader_cache_stats(&hits1, &miss1, r);
    CHECK(blocks >= 1 && blocks <= 2 && in.blocks > 20);
    CHECK(hits1 + miss1 - hits0 - miss0 == blocks); /* the others were never looked up */
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_OTHER);
    CHECK_EQ_INT(kcheck(r, &f, &blocks), 30);
    CHECK(blocks * 4 < in.blocks);
}

static void test_kinds_block_kinds_hand_built(void)
{
    char p[320];
    snprintf(p, sizeof p, "%s/kinds12.steparc", g_dir);
    if (add_block_kinds(g_kpath, p) != 0) {
        fprintf(stderr, "  the writer wrote section 12 already: see test_kinds_block_kinds_writer\n");
        return;
    }
    steparc_reader *r;
    char err[256];
    CHECK_EQ_INT(steparc_reader_open(&r, p, NULL, err, sizeof err), 0);
    if (r == NULL)
        return;
    kinds_skip_checks(r);
    uint64_t nprob = 99;
    CHECK_EQ_INT(steparc_verify(&nprob, r, NULL, NULL), 0);
    CHECK_EQ_INT(nprob, 0);
    steparc_reader_close(r);
    size_t len;
    unsigned char *img = (unsigned char *)h_read_file(p, &len);
    sa_footer ft;
    const char *why;
    CHECK(img && sa_footer_decode(img + len - SA_FOOTER_SIZE, &ft, &why) == 0);
    if (img == NULL)
        return;
    /* a mask that differs from its block's records (CRC recomputed): verify names it */
    sa_section ks;
    sa_section_decode(img + ft.section_table_offset + 32 * (size_t)(ft.section_count - 1), &ks);
    unsigned char *m0 = img + ks.offset + 4;
    sa_put_u32(m0, sa_get_u32(m0) ^ STEPARC_KIND_BIT(STEPARC_KIND_FILE));
    uint32_t crc0 = ks.crc;
    ks.crc = sa_crc32c(0, img + ks.offset, (size_t)ks.length);
    sa_section_encode(&ks, img + ft.section_table_offset + 32 * (size_t)(ft.section_count - 1));
    ft.section_table_crc = sa_crc32c(0, img + ft.section_table_offset, 32 * (size_t)ft.section_count);
    sa_footer_encode(&ft, img + len - SA_FOOTER_SIZE);
    CHECK_EQ_INT(steparc_reader_open_memory(&r, img, len, NULL, NULL, 0), 0);
    CHECK_EQ_INT(steparc_verify(&nprob, r, NULL, NULL), STEPARC_E_CORRUPT);
    CHECK_EQ_INT(nprob, 1);
    steparc_reader_close(r);
    sa_put_u32(m0, sa_get_u32(m0) ^ STEPARC_KIND_BIT(STEPARC_KIND_FILE));
    ks.crc = crc0;
    sa_section_encode(&ks, img + ft.section_table_offset + 32 * (size_t)(ft.section_count - 1));
    ft.section_table_crc = sa_crc32c(0, img + ft.section_table_offset, 32 * (size_t)ft.section_count);
    sa_footer_encode(&ft, img + len - SA_FOOTER_SIZE);
    /* a damaged section 12 fails the kind cursor's open, not silently scanned */
    img[ft.section_table_offset - 1] ^= 1; /* last byte of section 12 */
    CHECK_EQ_INT(steparc_reader_open_memory(&r, img, len, NULL, NULL, 0), 0);
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_STEP);
    steparc_cursor *c = NULL;
    CHECK_EQ_INT(steparc_cursor_open(&c, r, &f), STEPARC_E_CORRUPT);
    CHECK(strstr(steparc_reader_errmsg(r), "type 12") != NULL);
    f.kinds = 0; /* without a kind filter the section is not needed */
    CHECK_EQ_INT(steparc_cursor_open(&c, r, &f), 0);
    steparc_cursor_close(c);
    steparc_reader_close(r);
    /* a section 12 of the wrong size is refused at open */
    sa_section s;
    sa_section_decode(img + ft.section_table_offset + 32 * (size_t)(ft.section_count - 1), &s);
    s.length -= 4;
    sa_section_encode(&s, img + ft.section_table_offset + 32 * (size_t)(ft.section_count - 1));
    ft.section_table_crc = sa_crc32c(0, img + ft.section_table_offset, 32 * (size_t)ft.section_count);
    sa_footer_encode(&ft, img + len - SA_FOOTER_SIZE);
    char e2[200] = "";
    CHECK_EQ_INT(steparc_reader_open_memory(&r, img, len, NULL, e2, sizeof e2), STEPARC_E_CORRUPT);
    CHECK(strstr(e2, "block kinds") != NULL);
    free(img);
}

/* Runs once the writer writes section 12 itself (format 1.3). */
static int test_kinds_block_kinds_writer(void)
{
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, g_kpath, NULL, NULL, 0), 0);
    if (r == NULL)
        return 1;
    size_t len;
    unsigned char *img = (unsigned char *)h_read_file(g_kpath, &len);
    sa_footer ft;
    const char *why;
    int have = 0;
    if (img && sa_footer_decode(img + len - SA_FOOTER_SIZE, &ft, &why) == 0)
        for (uint32_t i = 0; i < ft.section_count; i++) {
            sa_section s;
            sa_section_decode(img + ft.section_table_offset + 32 * (size_t)i, &s);
            have |= s.type == SA_SEC_BLOCK_KINDS;
        }
    free(img);
    if (have)
        kinds_skip_checks(r);
    steparc_reader_close(r);
    return have;
}

/* Records per kind come from the statistics' by_kind (1.3), else are unknown. */
static void test_kinds_counts(void)
{
    steparc_reader *r;
    CHECK_EQ_INT(steparc_reader_open(&r, g_kpath, NULL, NULL, 0), 0);
    if (r == NULL)
        return;
    uint64_t counts[STEPARC_KINDS], want[STEPARC_KINDS] = {0};
    for (size_t i = 0; i < g_nk; i++)
        want[g_k[i].kind]++;
    int rc = steparc_reader_kind_counts(counts, r);
    CHECK(rc == 0 || rc == STEPARC_E_NOTFOUND);
    for (int k = 0; k < STEPARC_KINDS; k++)
        CHECK_EQ_INT(counts[k], rc == 0 ? want[k] : 0);
    if (rc == STEPARC_E_NOTFOUND)
        CHECK(strstr(steparc_reader_errmsg(r), "per kind") != NULL);
    CHECK_EQ_INT(steparc_reader_kind_counts(NULL, r), STEPARC_E_ARG);
    steparc_reader_close(r);
    /* a hand-made by_kind, through a memory image whose statistics say so:
     * covered by the CLI test once the writer writes it */
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/reader.XXXXXX", getenv("STEPARC_TMP") ? getenv("STEPARC_TMP") : "/tmp");
    if (mkdtemp(g_dir) == NULL)
        return 1;
    uint64_t seed = h_seed();
    printf("# seed %" PRIu64 " (set STEPARC_SEED to replay)\n", seed);
    gen(6000, seed);
    snprintf(g_path, sizeof g_path, "%s/a.steparc", g_dir);
    if (write_archive(g_path, 16384, 2) != 0) {
        printf("FAIL write_archive\n");
        return 1;
    }
    RUN(test_get_every_position);
    RUN(test_find_id);
    RUN(test_filters_vs_brute_force);
    RUN(test_deterministic_and_threads_invariant);
    RUN(test_memory_reader_and_damage);
    RUN(test_threads_share_reader);
    RUN(test_cache_avoids_decompression);
    RUN(test_writer_errors);
    RUN(test_big_record_own_block);
    gen_kinds();
    snprintf(g_kpath, sizeof g_kpath, "%s/kinds.steparc", g_dir);
    if (write_kinds_archive(g_kpath) != 0) {
        printf("FAIL write_kinds_archive\n");
        return 1;
    }
    RUN(test_kinds_filter_scan);
    RUN(test_kinds_exact_by_own_id);
    RUN(test_kinds_block_kinds_hand_built);
    RUN(test_kinds_counts);
    {
        h_fail_count = 0;
        if (!test_kinds_block_kinds_writer())
            printf("SKIP test_kinds_block_kinds_writer (the writer does not write section 12 yet)\n");
        else if (h_fail_count) {
            printf("FAIL test_kinds_block_kinds_writer\n");
            h_total_fail++;
        } else {
            printf("PASS test_kinds_block_kinds_writer\n");
            h_total_pass++;
        }
    }
    free(g_k);
    for (size_t i = 0; i < g_n; i++)
        free(g_recs[i].json);
    free(g_recs);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        return 1;
    return h_done();
}
