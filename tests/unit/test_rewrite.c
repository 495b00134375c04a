/* test_rewrite.c - steparc_rewrite (reader/rewrite.c) on small hand-written
 * archives: each drop rule, paths with * and indexes, expressions on strings
 * holding NULs, empty matches, keys untouched, a match splitting a UTF-8
 * character, untouched records byte-identical, the dry run, bad rules. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "steparc.h"

static char g_dir[] = "/tmp/test_rewrite.XXXXXX";
static char g_in[256], g_out[256];

static const char *const g_recs[] = {
    "{\"id\":\"asst_1\",\"object\":\"assistant\",\"name\":\"A secret123\"}",
    "{\"id\":\"thread_1\",\"object\":\"thread\",\"metadata\":{\"user\":\"u1\"}}",
    "{\"id\":\"msg_1\",\"object\":\"thread.message\",\"thread_id\":\"thread_1\","
    "\"content\":[{\"text\":{\"value\":\"hi secret42\"}}]}",
    "{\"id\":\"thread_2\",\"object\":\"thread\",\"metadata\":{\"user\":\"u2\",\"n\":7}}",
    "{\"id\":\"run_2\",\"object\":\"thread.run\",\"thread_id\":\"thread_2\","
    "\"assistant_id\":\"asst_1\",\"tools\":[\"a\",\"b\",\"c\"]}",
    "{\"id\":\"msg_2\",\"object\":\"thread.message\",\"thread_id\":\"thread_2\","
    "\"content\":[{\"text\":{\"value\":\"nul\\u0000secret7 \\u00e9\"}}],\"secret9\":1}",
    "{\"id\":\"x\",\"object\":\"other\",\"m\":{\"a\":1,\"b\":[2]},\"user\":\"u1\"}",
};
#define NRECS (sizeof g_recs / sizeof g_recs[0])

static void make_input(void)
{
    steparc_writer_options wo;
    steparc_writer_options_init(&wo);
    wo.no_fsync = 1;
    steparc_writer *w = NULL;
    CHECK(steparc_writer_open(&w, g_in, &wo, NULL, 0) == 0);
    for (size_t i = 0; i < NRECS; i++)
        CHECK(steparc_writer_add_json(w, g_recs[i], strlen(g_recs[i]), NULL) == 0);
    CHECK(steparc_writer_finish(w) == 0);
    steparc_writer_close(w);
}

/* Rewrites g_in with o into g_out (or a dry run); the output's records as
 * JSON, joined by '\n' (caller frees), or NULL. */
static char *run_rw(const steparc_rewrite_options *o, steparc_rewrite_report *rep, int *rc,
                    int dry)
{
    steparc_reader *r = NULL;
    steparc_writer *w = NULL;
    steparc_writer_options wo;
    steparc_writer_options_init(&wo);
    wo.no_fsync = 1;
    unlink(g_out);
    CHECK(steparc_reader_open(&r, g_in, NULL, NULL, 0) == 0);
    if (!dry)
        CHECK(steparc_writer_open(&w, g_out, &wo, NULL, 0) == 0);
    *rc = steparc_rewrite(rep, r, w, o);
    if (*rc == 0 && w)
        CHECK(steparc_writer_finish(w) == 0);
    steparc_writer_close(w);
    steparc_reader_close(r);
    if (*rc != 0 || dry)
        return NULL;
    steparc_reader *o2 = NULL;
    steparc_buf all = {0}, one = {0};
    CHECK(steparc_reader_open(&o2, g_out, NULL, NULL, 0) == 0);
    for (uint64_t n = 0; o2 && n < steparc_reader_count(o2); n++) {
        CHECK(steparc_reader_get_json(&one, o2, n, 0) == 0);
        size_t at = all.len;
        all.data = realloc(all.data, at + one.len + 2);
        memcpy(all.data + at, one.data, one.len);
        all.data[at + one.len] = '\n';
        all.data[at + one.len + 1] = 0;
        all.len = at + one.len + 1;
    }
    steparc_reader_close(o2);
    steparc_buf_free(&one);
    return all.data ? all.data : strdup("");
}

static void test_drop_rules(void)
{
    const char *th[] = {"thread_2"}, *as[] = {"asst_1"}, *wh[] = {"metadata.user=u1", "user=u1"};
    steparc_rewrite_options o;
    steparc_rewrite_report rep;
    int rc;
    memset(&o, 0, sizeof o);
    o.drop_threads = th, o.n_drop_threads = 1;
    char *got = run_rw(&o, &rep, &rc, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(rep.dropped, 3); /* thread_2 itself, run_2, msg_2 */
    CHECK_EQ_INT(rep.dropped_by_kind[STEPARC_KIND_THREAD], 1);
    CHECK_EQ_INT(rep.dropped_by_kind[STEPARC_KIND_RUN], 1);
    CHECK_EQ_INT(rep.dropped_by_kind[STEPARC_KIND_MESSAGE], 1);
    CHECK_EQ_INT(rep.dropped_ids_count, 3);
    CHECK_STR(rep.dropped_ids[0], "thread_2");
    CHECK(got && strstr(got, "thread_2") == NULL && strstr(got, "msg_1"));
    free(got);
    memset(&o, 0, sizeof o);
    o.drop_assistants = as, o.n_drop_assistants = 1;
    got = run_rw(&o, &rep, &rc, 0);
    CHECK(got && strstr(got, "asst_1") == NULL && rep.dropped == 2); /* asst_1, run_2 */
    free(got);
    memset(&o, 0, sizeof o);
    o.drop_where = wh, o.n_drop_where = 2;
    got = run_rw(&o, &rep, &rc, 0);
    CHECK_EQ_INT(rep.dropped, 2); /* thread_1 (metadata.user), x (user) */
    CHECK(got && strstr(got, "\"thread_1\",\"object\"") == NULL && strstr(got, "u2"));
    free(got);
}

static void test_redact(void)
{
    const char *paths[] = {"metadata.user", "tools.1", "m.*", "content.*.text.value.x"};
    const char *res[] = {"secret[0-9]+", "q*"};
    steparc_rewrite_options o;
    steparc_rewrite_report rep;
    int rc;
    memset(&o, 0, sizeof o);
    o.redact = paths, o.n_redact = 4;
    o.redact_text = res, o.n_redact_text = 2;
    char *got = run_rw(&o, &rep, &rc, 0);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(rep.redacted[0], 2);
    CHECK_EQ_INT(rep.redacted[1], 1);
    CHECK_EQ_INT(rep.redacted[2], 2);
    CHECK_EQ_INT(rep.redacted[3], 0); /* a string has no members */
    CHECK_EQ_INT(rep.redacted_text[0], 3);
    CHECK_EQ_INT(rep.redacted_text[1], 0); /* empty matches replace nothing */
    CHECK(got && strstr(got, "\"A [redacted]\"") && strstr(got, "hi [redacted]"));
    CHECK(got && strstr(got, "nul\\u0000[redacted] \xc3\xa9")); /* past the NUL too */
    CHECK(got && strstr(got, "\"secret9\":1"));                 /* keys untouched */
    CHECK(got && strstr(got, "[\"a\",\"[redacted]\",\"c\"]"));
    CHECK(got && strstr(got, "\"m\":{\"a\":\"[redacted]\",\"b\":\"[redacted]\"}"));
    CHECK(got && strstr(got, "{\"user\":\"[redacted]\",\"n\":7}"));
    CHECK_EQ_INT(rep.records_redacted, 7); /* every record: one rule or another */
    free(got);
}

static void test_dry_run_and_errors(void)
{
    const char *th[] = {"thread_1"}, *bad_re[] = {"(a"}, *bad_path[] = {"a..b"},
               *bad_where[] = {"novalue"}, *split[] = {"\xc3"}, *empty[] = {""};
    steparc_rewrite_options o;
    steparc_rewrite_report rep;
    int rc;
    memset(&o, 0, sizeof o);
    o.drop_threads = th, o.n_drop_threads = 1;
    run_rw(&o, &rep, &rc, 1);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(rep.dropped, 2);
    CHECK_EQ_INT(rep.records_out, NRECS - 2);
    CHECK(access(g_out, F_OK) != 0);
    memset(&o, 0, sizeof o);
    o.redact_text = bad_re, o.n_redact_text = 1;
    run_rw(&o, &rep, &rc, 1);
    CHECK(rc == STEPARC_E_ARG && rep.errmsg[0]);
    memset(&o, 0, sizeof o);
    o.redact = bad_path, o.n_redact = 1;
    run_rw(&o, &rep, &rc, 1);
    CHECK_EQ_INT(rc, STEPARC_E_ARG);
    memset(&o, 0, sizeof o);
    o.drop_where = bad_where, o.n_drop_where = 1;
    run_rw(&o, &rep, &rc, 1);
    CHECK_EQ_INT(rc, STEPARC_E_ARG);
    memset(&o, 0, sizeof o);
    o.drop_threads = empty, o.n_drop_threads = 1;
    run_rw(&o, &rep, &rc, 1);
    CHECK_EQ_INT(rc, STEPARC_E_ARG);
    /* a match of half a UTF-8 character: refused, not an invalid record */
    memset(&o, 0, sizeof o);
    o.redact_text = split, o.n_redact_text = 1;
    run_rw(&o, &rep, &rc, 0);
    CHECK_EQ_INT(rc, STEPARC_E_INPUT);
    CHECK(access(g_out, F_OK) != 0);
    CHECK_EQ_INT(steparc_rewrite(NULL, NULL, NULL, NULL), STEPARC_E_ARG);
    CHECK_EQ_INT(steparc_rewrite(&rep, NULL, NULL, &o), STEPARC_E_ARG);
}

/* Records no rule touches keep their MessagePack bytes. */
static void test_untouched_identical(void)
{
    const char *res[] = {"secret[0-9]+"};
    steparc_rewrite_options o;
    steparc_rewrite_report rep;
    int rc;
    memset(&o, 0, sizeof o);
    o.redact_text = res, o.n_redact_text = 1;
    free(run_rw(&o, &rep, &rc, 0));
    steparc_reader *a = NULL, *b = NULL;
    CHECK(steparc_reader_open(&a, g_in, NULL, NULL, 0) == 0);
    CHECK(steparc_reader_open(&b, g_out, NULL, NULL, 0) == 0);
    steparc_buf x = {0}, y = {0};
    int same = 0;
    for (uint64_t n = 0; a && b && n < NRECS; n++) {
        CHECK(steparc_reader_get_msgpack(&x, a, n) == 0);
        CHECK(steparc_reader_get_msgpack(&y, b, n) == 0);
        same += x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
    }
    CHECK_EQ_INT(same, NRECS - 3); /* asst_1, msg_1, msg_2 changed */
    CHECK_EQ_INT(rep.records_redacted, 3);
    steparc_buf_free(&x);
    steparc_buf_free(&y);
    steparc_reader_close(a);
    steparc_reader_close(b);
}

int main(void)
{
    if (mkdtemp(g_dir) == NULL)
        return 1;
    snprintf(g_in, sizeof g_in, "%s/in.steparc", g_dir);
    snprintf(g_out, sizeof g_out, "%s/out.steparc", g_dir);
    make_input();
    RUN(test_drop_rules);
    RUN(test_redact);
    RUN(test_dry_run_and_errors);
    RUN(test_untouched_identical);
    unlink(g_in);
    unlink(g_out);
    rmdir(g_dir);
    return h_done();
}
