#define _GNU_SOURCE
/* test_reader.c - writer and reader through the public API: every lookup
 * against a brute-force scan of the same generated data, determinism, the
 * block cache, threads sharing one reader, damage to every block. */
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
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
    for (size_t i = 0; i < g_n; i++)
        free(g_recs[i].json);
    free(g_recs);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        return 1;
    return h_done();
}
