/* test_containers.c - converter/containers.c: base64 decoding (padding,
 * whitespace, bad characters), HAR detection, documents descended member by
 * member when larger than a (lowered) record limit, HAR entries streamed with
 * their index in messages, Node pages read once. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "convert_internal.h"

static char g_dir[512];

/* ---- base64 ------------------------------------------------------------------------ */

static int b64(const char *in, char *out, size_t cap, size_t *bad)
{
    steparc_buf b = {0};
    int rc = sa_base64_decode(&b, in, strlen(in), bad);
    if (rc == 0) {
        size_t n = b.len < cap - 1 ? b.len : cap - 1;
        memcpy(out, b.data ? b.data : "", n);
        out[n] = 0;
    }
    steparc_buf_free(&b);
    return rc;
}

static void test_base64(void)
{
    char o[128];
    size_t bad;
    CHECK_EQ_INT(b64("", o, sizeof o, &bad), 0);
    CHECK_STR(o, "");
    CHECK_EQ_INT(b64("aGVsbG8=", o, sizeof o, &bad), 0);
    CHECK_STR(o, "hello");
    CHECK_EQ_INT(b64("aGVsbG8", o, sizeof o, &bad), 0); /* padding optional */
    CHECK_STR(o, "hello");
    CHECK_EQ_INT(b64("aGVsbA==", o, sizeof o, &bad), 0);
    CHECK_STR(o, "hell");
    CHECK_EQ_INT(b64("aGVs", o, sizeof o, &bad), 0);
    CHECK_STR(o, "hel");
    CHECK_EQ_INT(b64(" aGVs\r\nbG8g\td29y bGQ= \n", o, sizeof o, &bad), 0); /* whitespace */
    CHECK_STR(o, "hello world");
    CHECK_EQ_INT(b64("-_8=", o, sizeof o, &bad), 0); /* URL alphabet */
    CHECK_EQ_INT((unsigned char)o[0], 0xFB);
    CHECK_EQ_INT((unsigned char)o[1], 0xFF);
    CHECK_EQ_INT(b64("aGV*bG8=", o, sizeof o, &bad), STEPARC_E_INPUT);
    CHECK_EQ_INT(bad, 3);
    CHECK_EQ_INT(b64("aGVsbG8=x", o, sizeof o, &bad), STEPARC_E_INPUT); /* data after padding */
    CHECK_EQ_INT(bad, 8);
    CHECK_EQ_INT(b64("aGVsbA===", o, sizeof o, &bad), STEPARC_E_INPUT); /* three '=' */
    CHECK_EQ_INT(b64("a===", o, sizeof o, &bad), STEPARC_E_INPUT);
    CHECK_EQ_INT(b64("aGVsb", o, sizeof o, &bad), STEPARC_E_INPUT); /* one digit left over */
    CHECK_EQ_INT(bad, 5);
    CHECK_EQ_INT(b64("aGVsbA=", o, sizeof o, &bad), STEPARC_E_INPUT); /* padding incomplete */
    CHECK_EQ_INT(b64("=aGV", o, sizeof o, &bad), STEPARC_E_INPUT);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(b64("aGVs\x80", o, sizeof o, &bad), STEPARC_E_INPUT); /* not ASCII */
}

/* ---- HAR detection ------------------------------------------------------------------ */

static int har_of(const char *json)
{
    steparc_buf mp = {0};
    steparc_json_error e;
    int r = -1;
    if (steparc_json_to_msgpack(&mp, json, strlen(json), 0, &e) == 0)
        r = sa_har_detect((const unsigned char *)mp.data, mp.len);
    steparc_buf_free(&mp);
    return r;
}

static void test_har_detect(void)
{
    CHECK_EQ_INT(har_of("{\"log\":{\"version\":\"1.2\",\"entries\":[]}}"), 1);
    CHECK_EQ_INT(har_of("{\"a\":1,\"log\":{\"creator\":{},\"entries\":[{\"request\":{}}]}}"), 1);
    CHECK_EQ_INT(har_of("{\"log\":{\"entries\":{}}}"), 0);      /* entries not an array */
    CHECK_EQ_INT(har_of("{\"log\":{\"version\":\"1.2\"}}"), 0); /* no entries */
    CHECK_EQ_INT(har_of("{\"log\":\"text\"}"), 0);
    CHECK_EQ_INT(har_of("{\"entries\":[]}"), 0);                /* a recording, not a HAR */
    CHECK_EQ_INT(har_of("[{\"log\":{\"entries\":[]}}]"), 0);
}

/* ---- through a converter ------------------------------------------------------------- */

typedef struct {
    uint64_t records, not_json, invalid, other;
    char err[1200];
    int rc;
} conv_result;

static const char *step_json(char *b, size_t cap, int i, const char *status)
{
    snprintf(b, cap,
             "{\"id\":\"step_%04d\",\"object\":\"thread.run.step\",\"created_at\":%d,\"run_id\":\"run_1\","
             "\"assistant_id\":\"asst_1\",\"thread_id\":\"thread_1\",\"type\":\"tool_calls\","
             "\"status\":\"%s\",\"step_details\":{\"type\":\"tool_calls\",\"tool_calls\":[]},"
             "\"usage\":null,\"pad\":\"%0200d\"}",
             i, 1700000000 + i, status, i);
    return b;
}

static void convert_text(conv_result *res, const char *name, const char *text, size_t limit)
{
    char path[600];
    snprintf(path, sizeof path, "%s/c.steparc", g_dir);
    memset(res, 0, sizeof *res);
    steparc_writer *w = NULL;
    steparc_converter *c = NULL;
    steparc_convert_options o;
    steparc_convert_options_init(&o);
    o.skip_invalid = strstr(name, "skip") != NULL;
    if (steparc_writer_open(&w, path, NULL, res->err, sizeof res->err) != 0 ||
        steparc_converter_open(&c, w, &o) != 0) {
        res->rc = -999;
        steparc_writer_close(w);
        return;
    }
    if (limit)
        sa_conv_set_doc_limit(c, limit);
    res->rc = steparc_converter_add_memory(c, name, text, strlen(text));
    snprintf(res->err, sizeof res->err, "%s", steparc_converter_errmsg(c));
    const steparc_convert_stats *st = steparc_converter_stats(c);
    res->records = st->records;
    res->not_json = st->skipped[STEPARC_SKIP_NOT_JSON];
    res->invalid = st->skipped[STEPARC_SKIP_INVALID];
    res->other = st->skipped[STEPARC_SKIP_NOT_A_STEP];
    steparc_converter_close(c);
    steparc_writer_close(w);
}

/* {"export":{"items":[{"payload":STEP},[STEP],...], "threads":[{"thread":T}]}} */
static char *nested_doc(int n)
{
    size_t cap = (size_t)n * 600 + 1000, len = 0;
    char *d = (char *)malloc(cap), s[600];
    len += (size_t)snprintf(d + len, cap - len, "{\n \"export\": {\"version\": 1,\n  \"items\": [\n");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(d + len, cap - len, i % 2 ? "%s  [%s]\n" : "%s  {\"payload\": %s}\n",
                                i ? "," : "", step_json(s, sizeof s, i, "completed"));
    snprintf(d + len, cap - len,
             "  ],\n  \"threads\": [{\"thread\": {\"id\": \"thread_1\", \"object\": \"thread\"}}]}\n}\n");
    return d;
}

static void test_descent(void)
{
    char *doc = nested_doc(300); /* ~120 KB */
    conv_result r;
    convert_text(&r, "doc.json", doc, 0); /* fits the record limit: parsed whole */
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.records, 301); /* the 300 steps and the thread */
    CHECK_EQ_INT(r.other, 0);
    convert_text(&r, "doc.json", doc, 4096); /* larger than the limit: member by member */
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.records, 301);
    CHECK_EQ_INT(r.other, 0);
    /* a syntax error deep in a streamed document is located */
    char *bad = strdup(doc);
    char *p = strstr(bad, "step_0250");
    p = strstr(p, "\"run_id\":");
    p[8] = ';';
    convert_text(&r, "doc.json", bad, 4096);
    CHECK_EQ_INT(r.rc, STEPARC_E_INPUT);
    CHECK(strncmp(r.err, "doc.json:", 9) == 0);
    free(bad);
    /* a known object longer than the limit is not searched inside: an error */
    convert_text(&r, "doc.json", doc, 200);
    CHECK_EQ_INT(r.rc, STEPARC_E_LIMIT);
    CHECK(strstr(r.err, "record limit") != NULL);
    free(doc);
}

static char *har_doc(int n, int html_at, int bad_b64_at)
{
    size_t cap = (size_t)n * 1400 + 1000, len = 0;
    char *d = (char *)malloc(cap), s[600];
    len += (size_t)snprintf(d + len, cap - len, "{\"log\":{\"version\":\"1.2\",\"entries\":[\n");
    for (int i = 0; i < n; i++) {
        const char *enc = "";
        char body[1300];
        if (i == html_at)
            snprintf(body, sizeof body, "<html><body>login</body></html>");
        else if (i == bad_b64_at) {
            snprintf(body, sizeof body, "e30*");
            enc = ",\"encoding\":\"base64\"";
        } else {
            /* the body is a JSON string: escape the step's quotes */
            step_json(s, sizeof s, i, "completed");
            size_t k = 0;
            for (const char *q = s; *q && k < sizeof body - 2; q++) {
                if (*q == '"')
                    body[k++] = '\\';
                body[k++] = *q;
            }
            body[k] = 0;
        }
        len += (size_t)snprintf(d + len, cap - len,
                                "%s{\"request\":{\"method\":\"GET\",\"postData\":{\"text\":\"{}\"}},"
                                "\"response\":{\"status\":200,\"content\":{\"mimeType\":\"%s\","
                                "\"text\":\"%s\"%s}}}\n",
                                i ? "," : "", i == html_at ? "text/html" : "application/json", body, enc);
    }
    snprintf(d + len, cap - len, "]}}\n");
    return d;
}

static void test_har_stream(void)
{
    char *h = har_doc(100, 7, -1);
    conv_result r;
    convert_text(&r, "capture.har", h, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.records, 99);
    CHECK_EQ_INT(r.not_json, 1); /* the HTML body */
    convert_text(&r, "capture.har", h, 2048); /* entries streamed one by one */
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.records, 99);
    CHECK_EQ_INT(r.not_json, 1);
    free(h);
    h = har_doc(30, -1, 12);
    convert_text(&r, "capture.har", h, 2048);
    CHECK_EQ_INT(r.rc, STEPARC_E_INPUT);
    CHECK(strncmp(r.err, "capture.har: entry 12: ", 23) == 0);
    convert_text(&r, "skip.har", h, 2048); /* skip_invalid: the entry is skipped */
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.records, 29);
    CHECK_EQ_INT(r.invalid, 1);
    free(h);
    /* a body with bad JSON names the entry */
    convert_text(&r, "capture.har",
                 "{\"log\":{\"entries\":[{\"response\":{\"content\":{\"text\":\"{}\"}}},"
                 "{\"response\":{\"content\":{\"text\":\"{\\\"a\\\":}\"}}}]}}",
                 0);
    CHECK_EQ_INT(r.rc, STEPARC_E_INPUT);
    CHECK(strncmp(r.err, "capture.har: entry 1:1:", 23) == 0);
}

static void test_node_page_once(void)
{
    char s1[600], s2[600], doc[3000];
    step_json(s1, sizeof s1, 1, "completed");
    step_json(s2, sizeof s2, 2, "completed");
    snprintf(doc, sizeof doc,
             "{\"options\":{\"method\":\"get\"},\"response\":{},\"body\":{\"object\":\"list\",\"data\":[%s,%s]},"
             "\"data\":[%s,%s],\"has_more\":false}\n",
             s1, s2, s1, s2);
    conv_result r;
    convert_text(&r, "page.json", doc, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.records, 2);
    convert_text(&r, "page.json", doc, 1024); /* streamed: body first, data passed over */
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.records, 2);
    /* data absent: body.data */
    snprintf(doc, sizeof doc,
             "{\"options\":{},\"response\":{},\"body\":{\"object\":\"list\",\"data\":[%s]},\"data\":null}", s1);
    convert_text(&r, "page.json", doc, 0);
    CHECK_EQ_INT(r.records, 1);
}

static void test_embedded_strings(void)
{
    char s1[600], esc[1300], doc[4000];
    step_json(s1, sizeof s1, 3, "completed");
    size_t k = 0;
    for (const char *q = s1; *q; q++) {
        if (*q == '"')
            esc[k++] = '\\';
        esc[k++] = *q;
    }
    esc[k] = 0;
    snprintf(doc, sizeof doc,
             "{\"entries\":[{\"response\":{\"body\":\"%s\"}},"
             "{\"response\":{\"body\":\"event: thread.run.step.completed\\ndata: %s\\n\\n\"}},"
             "{\"response\":{\"body\":\"{not json\"}}]}",
             esc, esc);
    conv_result r;
    convert_text(&r, "rec.json", doc, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.records, 2); /* same step twice: deduplicated by the writer */
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/containers.XXXXXX", getenv("STEPARC_TMP") ? getenv("STEPARC_TMP") : "/tmp");
    if (mkdtemp(g_dir) == NULL)
        return 1;
    RUN(test_base64);
    RUN(test_har_detect);
    RUN(test_descent);
    RUN(test_har_stream);
    RUN(test_node_page_once);
    RUN(test_embedded_strings);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
    return h_done();
}
