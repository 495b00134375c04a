#define _GNU_SOURCE
/* test_oom.c - allocation-failure injection through steparc_set_allocator.
 *
 * For each operation: run it with the Nth library allocation failing, for
 * N = 1, 2, 3, ... until a run makes fewer than N allocations (so none
 * failed) and succeeds. Every run with a failure must return STEPARC_E_NOMEM
 * (a documented status; or succeed with a correct result, when the library
 * can do without that allocation), must not crash, must free everything it
 * allocated (allocations minus frees through the hook is zero once all
 * handles are closed), and must leave no file behind (writer). Prints one
 * PASS/FAIL line per operation and, as "# ..." lines, how many allocation
 * points each operation has. zstd's own allocations do not go through the
 * hook and are not injected.
 *
 * STEPARC_OOM_CASE=TEXT runs only the operations whose name contains TEXT;
 * STEPARC_OOM_NOFORK=1 runs them in the test process (for a debugger). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "steparc.h"

#include "alloc_hook.h"

/* ---- fixtures -------------------------------------------------------------------- */

#define NREC 40
#define WRONG_OUTPUT (-100)
#define LEFTOVER_FILES (-101)

static char g_dir[512];
static char g_archive[600];
static char *g_rec[NREC];
static size_t g_reclen[NREC];
static unsigned char *g_arc_mem;
static size_t g_arc_len;
static char *g_jsonl;       /* all records, one per line */
static size_t g_jsonl_len;
static char *g_sse;         /* an event stream with deltas */
static size_t g_sse_len;
static steparc_buf g_mp;    /* record 7 as MessagePack */
static steparc_buf g_js7;   /* record 7's canonical JSON */
static steparc_buf g_pj7;   /* ... pretty */

static void make_records(void)
{
    for (int i = 0; i < NREC; i++) {
        char buf[2048];
        const char *details =
            i % 3 == 0
                ? "{\"type\":\"tool_calls\",\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
                  "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\",\"output\":null}},"
                  "{\"id\":\"call_2\",\"type\":\"file_search\",\"file_search\":{\"ranking_options\":"
                  "{\"ranker\":\"auto\",\"score_threshold\":0.5},\"results\":[{\"file_id\":\"f1\","
                  "\"file_name\":\"a.txt\",\"score\":0.75,\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]}},"
                  "{\"id\":\"call_3\",\"type\":\"code_interpreter\",\"code_interpreter\":{\"input\":\"1+1\","
                  "\"outputs\":[{\"type\":\"logs\",\"logs\":\"2\"},{\"type\":\"image\",\"image\":{\"file_id\":\"img\"}}]}}]}"
                : "{\"type\":\"message_creation\",\"message_creation\":{\"message_id\":\"msg_x\"}}";
        int n = snprintf(buf, sizeof buf,
                         "{\"id\":\"step_%d\",\"object\":\"thread.run.step\",\"created_at\":%d,"
                         "\"run_id\":\"run_%d\",\"assistant_id\":\"asst_%d\",\"thread_id\":\"thread_%d\","
                         "\"type\":\"%s\",\"status\":\"%s\",\"last_error\":null,\"step_details\":%s,"
                         "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":2,\"total_tokens\":3},"
                         "\"metadata\":{\"k\":[1,2.5,\"\\u0000\"]},\"extra_%d\":\"%0*d\"}",
                         i % 30, 1700000000 + i * 3, i / 5, i % 3, i / 10,
                         i % 3 == 0 ? "tool_calls" : "message_creation",
                         i >= 30 ? "in_progress" : "completed", details, i, i % 4, 20 + (i * 37) % 200, i);
        g_rec[i] = strdup(buf);
        g_reclen[i] = (size_t)n;
    }
    /* JSONL of every record, plus an object of no record kind and a delta */
    size_t cap = 1 << 16;
    g_jsonl = (char *)malloc(cap);
    g_jsonl_len = 0;
    for (int i = 0; i < NREC; i++) {
        memcpy(g_jsonl + g_jsonl_len, g_rec[i], g_reclen[i]);
        g_jsonl_len += g_reclen[i];
        g_jsonl[g_jsonl_len++] = '\n';
    }
    const char *tail = "{\"object\":\"chat.completion\",\"id\":\"m\"}\n"
                       "{\"object\":\"thread.run.step.delta\",\"id\":\"step_1\",\"delta\":{}}\n";
    memcpy(g_jsonl + g_jsonl_len, tail, strlen(tail));
    g_jsonl_len += strlen(tail);
    /* an event stream whose last step and message are cut before their final
     * events */
    const char *sse =
        "event: thread.run.created\ndata: {\"id\":\"run_1\",\"object\":\"thread.run\"}\n\n"
        "event: thread.run.step.created\ndata: {\"id\":\"step_a\",\"object\":\"thread.run.step\","
        "\"run_id\":\"run_1\",\"status\":\"in_progress\",\"step_details\":{\"type\":\"tool_calls\","
        "\"tool_calls\":[]}}\n\n"
        "event: thread.run.step.delta\ndata: {\"id\":\"step_a\",\"object\":\"thread.run.step.delta\","
        "\"delta\":{\"step_details\":{\"type\":\"tool_calls\",\"tool_calls\":[{\"index\":0,\"id\":\"c\","
        "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\"\"}}]}}}\n\n"
        "event: thread.run.step.delta\ndata: {\"id\":\"step_a\",\"object\":\"thread.run.step.delta\","
        "\"delta\":{\"step_details\":{\"type\":\"tool_calls\",\"tool_calls\":[{\"index\":0,"
        "\"function\":{\"arguments\":\":1}\"}}]}}}\n\n"
        "event: thread.run.step.completed\ndata: {\"id\":\"step_b\",\"object\":\"thread.run.step\","
        "\"run_id\":\"run_1\",\"status\":\"completed\"}\n\n"
        "event: thread.message.created\ndata: {\"id\":\"msg_1\",\"object\":\"thread.message\","
        "\"status\":\"in_progress\",\"content\":[]}\n\n"
        "event: thread.message.delta\ndata: {\"id\":\"msg_1\",\"object\":\"thread.message.delta\","
        "\"delta\":{\"content\":[{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"Hi\","
        "\"annotations\":[{\"index\":0,\"type\":\"file_path\"}]}}]}}\n\n"
        "event: error\ndata: {\"error\":{\"message\":\"m\"}}\n\n"
        "event: thread.run.step.delta\ndata: {\"id\":\"step_z\",\"object\":\"thread.run.step.delta\","
        "\"delta\":{}}\n\ndata: [DONE]\n";
    g_sse = strdup(sse);
    g_sse_len = strlen(sse);
}

static int dir_count(void)
{
    int n = 0;
    DIR *d = opendir(g_dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void rm_dir(void)
{
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char p[1100];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(g_dir);
}

/* Removes what a crashed child left in the directory (all but ref.steparc). */
static void rm_stray(void)
{
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char p[1100];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                strcmp(e->d_name, "ref.steparc") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
}

/* Writes the reference archive (unarmed) and loads it into memory. */
static int setup_archive(void)
{
    const char *tmp = getenv("STEPARC_TMP");
    snprintf(g_dir, sizeof g_dir, "%s/steparc-oom-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    snprintf(g_archive, sizeof g_archive, "%s/ref.steparc", g_dir);
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = 1024;
    o.no_fsync = 1;
    steparc_writer *w;
    int rc = steparc_writer_open(&w, g_archive, &o, NULL, 0);
    for (int i = 0; i < NREC && rc == 0; i++)
        rc = steparc_writer_add_json(w, g_rec[i], g_reclen[i], NULL);
    if (rc == 0)
        rc = steparc_writer_finish(w);
    steparc_writer_close(w);
    if (rc)
        return rc;
    size_t n = 0;
    g_arc_mem = (unsigned char *)h_read_file(g_archive, &n);
    g_arc_len = n;
    if (g_arc_mem == NULL)
        return -1;
    rc = steparc_json_to_msgpack(&g_mp, g_rec[7], g_reclen[7], 0, NULL);
    if (rc == 0)
        rc = steparc_msgpack_to_json(&g_js7, g_mp.data, g_mp.len, 0);
    if (rc == 0)
        rc = steparc_msgpack_to_json(&g_pj7, g_mp.data, g_mp.len, STEPARC_JSON_PRETTY);
    return rc;
}

static int buf_is(const steparc_buf *b, const steparc_buf *want)
{
    return b->len == want->len && memcmp(b->data, want->data, b->len) == 0;
}

/* ---- the loop ------------------------------------------------------------------------- */

/* Each operation's loop runs in a child process, so that a crash fails that
 * operation only; the child reports through this shared page. */
typedef struct {
    long fail_at;      /* allocation being failed when the child stopped */
    long points;       /* allocation points, once known */
} shared_state;
static shared_state *g_shared;

typedef int (*op_fn)(void);

/* Runs op with allocation N failing for N = 1, 2, ... until it succeeds
 * without a failure. alt: another acceptable failure status (0 = none). */
static void oom_loop(const char *what, op_fn op, long start)
{
    const int alt = 0; /* another acceptable failure status: none so far */
    long live0 = atomic_load(&g_live);
    int reported = 0;
    for (long n = start; n < 1000000; n++) {
        atomic_store(&g_count, 0);
        atomic_store(&g_injected, 0);
        g_fail_at = n;
        if (g_shared)
            g_shared->fail_at = n;
        int rc = op();
        disarm();
        g_fail_at = 0;
        int injected = atomic_load(&g_injected);
        long live = atomic_load(&g_live);
        if (live != live0) {
            if (reported++ < 5)
                fprintf(stderr, "  %s: allocation %ld failing: %ld allocation(s) not freed (status %d)\n",
                        what, n, live - live0, rc);
            CHECK(live == live0);
            atomic_store(&g_live, live0);
        }
        if (rc == WRONG_OUTPUT || rc == LEFTOVER_FILES) {
            if (reported++ < 5)
                fprintf(stderr, "  %s: allocation %ld failing: %s\n", what, n,
                        rc == WRONG_OUTPUT ? "wrong result" : "files left behind");
            CHECK(rc != WRONG_OUTPUT && rc != LEFTOVER_FILES);
        } else if (injected && rc != 0 && rc != STEPARC_E_NOMEM && rc != alt) {
            if (reported++ < 5)
                fprintf(stderr, "  %s: allocation %ld failing: status %d (%s), expected %d (%s)\n", what,
                        n, rc, steparc_strerror(rc), STEPARC_E_NOMEM, steparc_strerror(STEPARC_E_NOMEM));
            CHECK(rc == STEPARC_E_NOMEM);
        }
        if (!injected) {
            if (rc != 0)
                fprintf(stderr, "  %s: fails without any injected failure: %d (%s)\n", what, rc,
                        steparc_strerror(rc));
            CHECK_EQ_INT(rc, 0);
            printf("# %s: %ld allocation point(s)\n", what, (long)atomic_load(&g_count));
            if (g_shared)
                g_shared->points = (long)atomic_load(&g_count);
            return;
        }
    }
    fprintf(stderr, "  %s: did not finish\n", what);
    CHECK(0);
}

/* Runs oom_loop in a child process; a crash is a failure of this operation,
 * and the loop goes on in a new child from the next allocation. */
static void oom_case(const char *what, op_fn op)
{
    /* STEPARC_OOM_CASE=text runs only the operations whose name contains it;
     * STEPARC_OOM_NOFORK=1 runs in this process (for a debugger) */
    const char *only = getenv("STEPARC_OOM_CASE");
    if (only && *only && strstr(what, only) == NULL)
        return;
    if (getenv("STEPARC_OOM_NOFORK")) {
        oom_loop(what, op, 1);
        return;
    }
    long start = 1;
    for (int crashes = 0; crashes < 8; crashes++) {
        fflush(stdout);
        fflush(stderr);
        g_shared->fail_at = 0;
        g_shared->points = -1;
        pid_t pid = fork();
        if (pid < 0) {
            oom_loop(what, op, start); /* no fork: run in this process */
            return;
        }
        if (pid == 0) {
            h_fail_count = 0;
            oom_loop(what, op, start);
            fflush(stdout);
            fflush(stderr);
            _exit(h_fail_count ? 1 : 0);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFSIGNALED(st)) {
            CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
            return;
        }
        fprintf(stderr, "  %s: crashed (signal %d: %s) with allocation %ld failing\n", what,
                WTERMSIG(st), strsignal(WTERMSIG(st)), g_shared->fail_at);
        CHECK(!WIFSIGNALED(st));
        rm_stray();
        start = g_shared->fail_at + 1;
    }
    fprintf(stderr, "  %s: too many crashes, giving up\n", what);
}

/* ---- operations ------------------------------------------------------------------------ */

static int op_open_memory(void)
{
    steparc_reader *r = NULL;
    arm();
    int rc = steparc_reader_open_memory(&r, g_arc_mem, g_arc_len, NULL, NULL, 0);
    disarm();
    if (rc == 0 && steparc_reader_count(r) != NREC)
        rc = WRONG_OUTPUT;
    if (rc != 0 && rc != WRONG_OUTPUT && r != NULL)
        rc = WRONG_OUTPUT; /* *out must be NULL on failure */
    steparc_reader_close(r);
    return rc;
}

static int op_open_file(void)
{
    steparc_reader *r = NULL;
    char eb[256];
    arm();
    int rc = steparc_reader_open(&r, g_archive, NULL, eb, sizeof eb);
    disarm();
    if (rc == 0 && steparc_reader_count(r) != NREC)
        rc = WRONG_OUTPUT;
    if (rc != 0 && rc != WRONG_OUTPUT && r != NULL)
        rc = WRONG_OUTPUT;
    steparc_reader_close(r);
    return rc;
}

static steparc_reader *open_ref(void)
{
    steparc_reader *r = NULL;
    if (steparc_reader_open_memory(&r, g_arc_mem, g_arc_len, NULL, NULL, 0) != 0)
        return NULL;
    return r;
}

static int op_get_json(void)
{
    steparc_reader *r = open_ref();
    if (r == NULL)
        return -1;
    steparc_buf js = {0}, pj = {0};
    arm();
    int rc = steparc_reader_get_json(&js, r, 7, 0);
    if (rc == 0)
        rc = steparc_reader_get_json(&pj, r, 7, STEPARC_JSON_PRETTY);
    disarm();
    if (rc == 0 && (!buf_is(&js, &g_js7) || !buf_is(&pj, &g_pj7)))
        rc = WRONG_OUTPUT;
    steparc_buf_free(&js);
    steparc_buf_free(&pj);
    steparc_reader_close(r);
    return rc;
}

static int op_get_msgpack(void)
{
    steparc_reader *r = open_ref();
    if (r == NULL)
        return -1;
    steparc_buf mp = {0};
    arm();
    int rc = steparc_reader_get_msgpack(&mp, r, 7);
    disarm();
    if (rc == 0 && !buf_is(&mp, &g_mp))
        rc = WRONG_OUTPUT;
    steparc_buf_free(&mp);
    steparc_reader_close(r);
    return rc;
}

static int op_get_step(void)
{
    steparc_reader *r = open_ref();
    if (r == NULL)
        return -1;
    steparc_step *st = NULL;
    arm();
    int rc = steparc_reader_get_step(&st, r, 7);
    disarm();
    if (rc != 0 && st != NULL)
        rc = WRONG_OUTPUT;
    if (rc == 0) {
        steparc_buf js = {0};
        if (steparc_step_to_json(&js, st, 0) != 0 || !buf_is(&js, &g_js7))
            rc = WRONG_OUTPUT;
        steparc_buf_free(&js);
    }
    steparc_step_free(st);
    steparc_reader_close(r);
    return rc;
}

static int op_find_id(void)
{
    steparc_reader *r = open_ref();
    if (r == NULL)
        return -1;
    uint64_t at = 999;
    arm();
    int rc = steparc_reader_find_id(&at, r, "step_25", 7);
    disarm();
    if (rc == 0 && at != 25)
        rc = WRONG_OUTPUT;
    steparc_reader_close(r);
    return rc;
}

static int iterate(const steparc_filter *f, uint64_t want)
{
    steparc_reader *r = open_ref();
    if (r == NULL)
        return -1;
    steparc_cursor *c = NULL;
    uint64_t n = 0, ord;
    const void *mp;
    size_t len;
    arm();
    int rc = steparc_cursor_open(&c, r, f);
    while (rc == 0 && (rc = steparc_cursor_next(&ord, &mp, &len, c)) == 0)
        n++;
    disarm();
    if (rc == STEPARC_END)
        rc = n == want ? 0 : WRONG_OUTPUT;
    steparc_cursor_close(c);
    steparc_reader_close(r);
    return rc;
}

static int op_cursor_all(void)
{
    return iterate(NULL, NREC);
}

static int op_cursor_filtered(void)
{
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.run_id.ptr = "run_3";
    f.run_id.len = 5;
    f.thread_id.ptr = "thread_1";
    f.thread_id.len = 8;
    f.has_since = 1;
    f.since = 1700000000 + 16 * 3;
    return iterate(&f, 4); /* records 16..19 */
}

static int op_verify(void)
{
    steparc_reader *r = open_ref();
    if (r == NULL)
        return -1;
    uint64_t np = 0;
    arm();
    int rc = steparc_verify(&np, r, NULL, NULL);
    disarm();
    if (rc == STEPARC_E_CORRUPT)
        rc = WRONG_OUTPUT; /* an allocation failure is not damage */
    steparc_reader_close(r);
    return rc;
}

static int op_msgpack_to_json(void)
{
    steparc_buf js = {0}, pj = {0};
    arm();
    int rc = steparc_msgpack_to_json(&js, g_mp.data, g_mp.len, 0);
    if (rc == 0)
        rc = steparc_msgpack_to_json(&pj, g_mp.data, g_mp.len, STEPARC_JSON_PRETTY);
    disarm();
    if (rc == 0 && (!buf_is(&js, &g_js7) || !buf_is(&pj, &g_pj7)))
        rc = WRONG_OUTPUT;
    steparc_buf_free(&js);
    steparc_buf_free(&pj);
    return rc;
}

static int op_json_to_msgpack(void)
{
    steparc_buf mp = {0};
    steparc_json_error e;
    arm();
    int rc = steparc_json_to_msgpack(&mp, g_rec[7], g_reclen[7], STEPARC_JSON_REQUIRE_OBJECT, &e);
    disarm();
    if (rc == 0 && !buf_is(&mp, &g_mp))
        rc = WRONG_OUTPUT;
    steparc_buf_free(&mp);
    return rc;
}

static int op_step_decode(void)
{
    steparc_step *st = NULL;
    arm();
    int rc = steparc_step_decode(&st, g_mp.data, g_mp.len);
    disarm();
    if (rc != 0 && st != NULL)
        rc = WRONG_OUTPUT;
    steparc_step_free(rc == 0 ? st : NULL);
    return rc;
}

static int op_step_encode(void)
{
    steparc_step *st = NULL;
    if (steparc_step_decode(&st, g_mp.data, g_mp.len) != 0)
        return -1;
    steparc_buf mp = {0};
    arm();
    int rc = steparc_step_encode(&mp, st);
    disarm();
    if (rc == 0 && !buf_is(&mp, &g_mp))
        rc = WRONG_OUTPUT;
    steparc_buf_free(&mp);
    steparc_step_free(st);
    return rc;
}

static int op_step_to_json(void)
{
    steparc_step *st = NULL;
    if (steparc_step_decode(&st, g_mp.data, g_mp.len) != 0)
        return -1;
    steparc_buf js = {0};
    arm();
    int rc = steparc_step_to_json(&js, st, 0);
    disarm();
    if (rc == 0 && !buf_is(&js, &g_js7))
        rc = WRONG_OUTPUT;
    steparc_buf_free(&js);
    steparc_step_free(st);
    return rc;
}

static void on_problem(void *ctx, const steparc_problem *p)
{
    (void)ctx;
    fprintf(stderr, "    (verify: %s)\n", p->what);
}

/* Checks the output archive of a writer run: present and complete after a
 * success, absent (and no temporary file) after a failure. */
static int check_output(const char *path, int rc, uint64_t want)
{
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    int files = dir_count();
    if (rc == 0) {
        if (!exists || files != 2) /* ref.steparc and this one */
            return LEFTOVER_FILES;
        steparc_reader *r = NULL;
        char eb[256] = "";
        int orc = steparc_reader_open(&r, path, NULL, eb, sizeof eb);
        uint64_t np = 0;
        if (orc != 0) {
            fprintf(stderr, "    (the archive does not open: %s)\n", eb);
            rc = WRONG_OUTPUT;
        } else if (steparc_reader_count(r) != want) {
            fprintf(stderr, "    (the archive holds %llu records, not %llu)\n",
                    (unsigned long long)steparc_reader_count(r), (unsigned long long)want);
            rc = WRONG_OUTPUT;
        } else if (steparc_verify(&np, r, on_problem, NULL) != 0) {
            rc = WRONG_OUTPUT;
        }
        steparc_reader_close(r);
    } else if (exists || files != 1) {
        return LEFTOVER_FILES;
    }
    unlink(path);
    return rc;
}

static int g_wthreads, g_dedup;

static int op_writer(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/w.steparc", g_dir);
    unlink(path);
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = 1024;
    o.no_fsync = 1;
    o.threads = g_wthreads;
    o.dedup = g_dedup;
    steparc_writer *w = NULL;
    char eb[256];
    arm();
    int rc = steparc_writer_open(&w, path, &o, eb, sizeof eb);
    for (int i = 0; i < NREC && rc == 0; i++)
        rc = steparc_writer_add_json(w, g_rec[i], g_reclen[i], NULL);
    if (rc == 0)
        rc = steparc_writer_finish(w);
    steparc_writer_close(w);
    disarm();
    return check_output(path, rc, g_dedup ? 30 : NREC);
}

static int op_writer_threads(void)
{
    g_wthreads = 3;
    int rc = op_writer();
    g_wthreads = 0;
    return rc;
}

static int op_writer_dedup(void)
{
    g_dedup = 1;
    int rc = op_writer();
    g_dedup = 0;
    return rc;
}

static int convert(const char *data, size_t len, steparc_input_format fmt, int threads, uint64_t want)
{
    char path[700];
    snprintf(path, sizeof path, "%s/c.steparc", g_dir);
    unlink(path);
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.block_size = 1024;
    o.no_fsync = 1;
    steparc_convert_options co;
    steparc_convert_options_init(&co);
    co.format = fmt;
    co.threads = threads;
    steparc_writer *w = NULL;
    steparc_converter *c = NULL;
    char eb[256];
    arm();
    int rc = steparc_writer_open(&w, path, &o, eb, sizeof eb);
    if (rc == 0)
        rc = steparc_converter_open(&c, w, &co);
    if (rc == 0)
        rc = steparc_converter_add_memory(c, "mem", data, len);
    steparc_converter_close(c);
    if (rc == 0)
        rc = steparc_writer_finish(w);
    steparc_writer_close(w);
    disarm();
    return check_output(path, rc, want);
}

static int op_convert_jsonl(void)
{
    return convert(g_jsonl, g_jsonl_len, STEPARC_IN_AUTO, 0, NREC);
}

static int op_convert_jsonl_threads(void)
{
    return convert(g_jsonl, g_jsonl_len, STEPARC_IN_JSONL, 2, NREC);
}

static int op_convert_sse(void)
{
    /* run_1, step_a, step_b, msg_1, step_a and msg_1 rebuilt */
    return convert(g_sse, g_sse_len, STEPARC_IN_AUTO, 0, 6);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_oom_reader_open_memory(void) { oom_case("reader open (memory)", op_open_memory); }
static void test_oom_reader_open_file(void) { oom_case("reader open (file)", op_open_file); }
static void test_oom_get_msgpack(void) { oom_case("get_msgpack", op_get_msgpack); }
static void test_oom_get_json(void) { oom_case("get_json (compact + pretty)", op_get_json); }
static void test_oom_get_step(void) { oom_case("get_step", op_get_step); }
static void test_oom_find_id(void) { oom_case("find_id", op_find_id); }
static void test_oom_cursor_all(void) { oom_case("cursor, all records", op_cursor_all); }
static void test_oom_cursor_filtered(void) { oom_case("cursor, run+thread+since filter", op_cursor_filtered); }
static void test_oom_verify(void) { oom_case("verify", op_verify); }
static void test_oom_msgpack_to_json(void) { oom_case("msgpack_to_json (compact + pretty)", op_msgpack_to_json); }
static void test_oom_json_to_msgpack(void) { oom_case("json_to_msgpack", op_json_to_msgpack); }
static void test_oom_step_decode(void) { oom_case("step_decode", op_step_decode); }
static void test_oom_step_encode(void) { oom_case("step_encode", op_step_encode); }
static void test_oom_step_to_json(void) { oom_case("step_to_json", op_step_to_json); }
static void test_oom_writer(void) { oom_case("writer open/add_json x40/finish", op_writer); }
static void test_oom_writer_threads(void) { oom_case("writer, 3 compression threads", op_writer_threads); }
static void test_oom_writer_dedup(void) { oom_case("writer, dedup", op_writer_dedup); }
static void test_oom_convert_jsonl(void) { oom_case("converter add_memory (JSONL)", op_convert_jsonl); }
static void test_oom_convert_jsonl_threads(void)
{
    oom_case("converter add_memory (JSONL, 2 parsing threads)", op_convert_jsonl_threads);
}
static void test_oom_convert_sse(void) { oom_case("converter add_memory (SSE with deltas)", op_convert_sse); }

int main(void)
{
    g_shared = (shared_state *)mmap(NULL, sizeof *g_shared, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_shared == MAP_FAILED) {
        static shared_state local;
        g_shared = &local;
    }
    hook_install();
    make_records();
    int rc = setup_archive();
    if (rc != 0) {
        printf("FAIL test_oom_setup (cannot write the reference archive: %d)\n", rc);
        return 1;
    }
    RUN(test_oom_reader_open_memory);
    RUN(test_oom_reader_open_file);
    RUN(test_oom_get_msgpack);
    RUN(test_oom_get_json);
    RUN(test_oom_get_step);
    RUN(test_oom_find_id);
    RUN(test_oom_cursor_all);
    RUN(test_oom_cursor_filtered);
    RUN(test_oom_verify);
    RUN(test_oom_msgpack_to_json);
    RUN(test_oom_json_to_msgpack);
    RUN(test_oom_step_decode);
    RUN(test_oom_step_encode);
    RUN(test_oom_step_to_json);
    RUN(test_oom_writer);
    RUN(test_oom_writer_threads);
    RUN(test_oom_writer_dedup);
    RUN(test_oom_convert_jsonl);
    RUN(test_oom_convert_jsonl_threads);
    RUN(test_oom_convert_sse);
    steparc_buf_free(&g_mp);
    steparc_buf_free(&g_js7);
    steparc_buf_free(&g_pj7);
    free(g_arc_mem);
    free(g_jsonl);
    free(g_sse);
    for (int i = 0; i < NREC; i++)
        free(g_rec[i]);
    rm_dir();
    if (atomic_load(&g_live) != 0) {
        printf("FAIL test_oom_final_balance (%ld allocations not freed)\n", (long)atomic_load(&g_live));
        return 1;
    }
    return h_done();
}
