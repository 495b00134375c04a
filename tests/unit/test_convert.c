#define _GNU_SOURCE
/* test_convert.c - the converter over its public API: input shapes detected
 * per input (JSONL, arrays, list pages, pretty objects, event streams, .zst),
 * event-stream framing, delta rebuild. Each case converts text into a fresh
 * archive and compares the archive's records (canonical JSON, one per line)
 * and the converter's statistics with what the input holds. */
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "harness.h"
#include "steparc.h"

static char g_dir[256];
static int g_case;

typedef struct {
    int rc;                     /* of the last add */
    steparc_convert_stats st;
    char err[1024];
    char *recs;                 /* the archive's records, canonical JSON, '\n' after each */
    size_t nrecs;
    unsigned nskips;            /* skipped callbacks */
    char skips[2048];           /* their reasons and details, "why:detail;" */
} result;

static void on_skip(void *ctx, steparc_skip_reason why, const char *file, uint64_t line,
                    uint64_t column, const char *detail, const char *raw, size_t raw_len)
{
    result *r = (result *)ctx;
    (void)file, (void)line, (void)column, (void)raw, (void)raw_len;
    size_t n = strlen(r->skips);
    snprintf(r->skips + n, sizeof r->skips - n, "%d:%s;", (int)why, detail ? detail : "");
    r->nskips++;
}

/* Reads every record of the archive at path into r->recs. */
static void read_back(result *r, const char *path)
{
    steparc_reader *rd = NULL;
    size_t len = 0, cap = 0;
    r->recs = NULL;
    r->nrecs = 0;
    if (steparc_reader_open(&rd, path, NULL, NULL, 0) != 0) {
        fprintf(stderr, "  %s: the archive does not open\n", path);
        CHECK(0);
        return;
    }
    steparc_buf js = {0};
    for (uint64_t i = 0; i < steparc_reader_count(rd); i++) {
        CHECK_EQ_INT(steparc_reader_get_json(&js, rd, i, 0), 0);
        if (len + js.len + 2 > cap) {
            cap = (len + js.len + 2) * 2;
            r->recs = (char *)realloc(r->recs, cap);
        }
        memcpy(r->recs + len, js.data, js.len);
        len += js.len;
        r->recs[len++] = '\n';
        r->recs[len] = 0;
        r->nrecs++;
    }
    if (r->recs == NULL)
        r->recs = (char *)calloc(1, 1);
    steparc_buf_free(&js);
    steparc_reader_close(rd);
}

/* Converts the inputs (NULL-terminated; an input starting with "@" is a path)
 * with options opt (may be NULL) into a new archive, dedup on or off. */
static result convert_all(const char *const *inputs, const steparc_convert_options *opt, int dedup)
{
    result r;
    memset(&r, 0, sizeof r);
    char path[300];
    snprintf(path, sizeof path, "%s/c%d.steparc", g_dir, g_case++);
    steparc_writer_options wo;
    steparc_writer_options_init(&wo);
    wo.no_fsync = 1;
    wo.dedup = dedup;
    steparc_writer *w = NULL;
    steparc_converter *c = NULL;
    if (steparc_writer_open(&w, path, &wo, NULL, 0) != 0) {
        fprintf(stderr, "  %s: the writer does not open\n", path);
        CHECK(0);
        return r;
    }
    steparc_convert_options o;
    if (opt)
        o = *opt;
    else
        steparc_convert_options_init(&o);
    o.skipped = on_skip;
    o.skipped_ctx = &r;
    CHECK_EQ_INT(steparc_converter_open(&c, w, &o), 0);
    for (size_t i = 0; inputs[i] && r.rc == 0; i++) {
        if (inputs[i][0] == '@')
            r.rc = steparc_converter_add_path(c, inputs[i] + 1);
        else
            r.rc = steparc_converter_add_memory(c, "mem", inputs[i], strlen(inputs[i]));
    }
    r.st = *steparc_converter_stats(c);
    snprintf(r.err, sizeof r.err, "%s", steparc_converter_errmsg(c));
    steparc_converter_close(c);
    if (r.rc == 0 && steparc_writer_finish(w) == 0)
        read_back(&r, path);
    steparc_writer_close(w);
    unlink(path);
    if (r.recs == NULL)
        r.recs = (char *)calloc(1, 1);
    return r;
}

static result convert1(const char *text, const steparc_convert_options *opt, int dedup)
{
    const char *in[2] = {text, NULL};
    return convert_all(in, opt, dedup);
}

static void result_free(result *r)
{
    free(r->recs);
}

/* r's records are exactly want (canonical JSON lines). */
static int recs_are(const result *r, const char *want)
{
    if (strcmp(r->recs, want) == 0)
        return 1;
    fprintf(stderr, "  got:\n%s  want:\n%s", r->recs, want);
    return 0;
}

#define S1 "{\"id\":\"step_1\",\"object\":\"thread.run.step\",\"status\":\"completed\"}"
#define S2 "{\"id\":\"step_2\",\"object\":\"thread.run.step\",\"status\":\"failed\",\"n\":[1,2]}"
#define S1P "{\n  \"id\": \"step_1\",\n  \"object\": \"thread.run.step\",\n  \"status\": \"completed\"\n}"

/* ---- input detection ---------------------------------------------------------------- */

static void test_detect_jsonl(void)
{
    result r = convert1(S1 "\n\n" S2 "\n", NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n"));
    CHECK_EQ_INT(r.st.records, 2);
    result_free(&r);
    /* JSONL was chosen (the first object ends on its line): an object over
     * several lines later is an error that says so */
    r = convert1(S1 "\n" S1P "\n", NULL, 0);
    CHECK(r.rc == STEPARC_E_INPUT);
    CHECK(strstr(r.err, "does not end on its line") != NULL);
    CHECK(strstr(r.err, "mem:2:") != NULL);
    result_free(&r);
    /* no final newline */
    r = convert1(S1 "\n" S2, NULL, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n"));
    result_free(&r);
}

static void test_detect_array(void)
{
    result r = convert1(" [\n" S1 ",\n" S2 "\n]\n", NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n"));
    CHECK_EQ_INT(r.st.objects, 2);
    result_free(&r);
    r = convert1("[]", NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.nrecs, 0);
    result_free(&r);
    r = convert1("[" S1 ",", NULL, 0);
    CHECK(r.rc == STEPARC_E_INPUT);
    CHECK(strstr(r.err, "truncated record at the end of the input") != NULL);
    result_free(&r);
}

static void test_detect_list_page(void)
{
    /* compact (one line: JSONL) and pretty (JSON), and concatenated pages */
    const char *page = "{\"object\":\"list\",\"data\":[" S1 "," S2 "],\"first_id\":\"step_1\","
                       "\"last_id\":\"step_2\",\"has_more\":false}";
    result r = convert1(page, NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n"));
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_NOT_A_STEP], 0);
    result_free(&r);
    const char *pretty = "{\n  \"object\" : \"list\",\n  \"data\": [\n" S1P ",\n" S2
                         "\n  ],\n  \"first_id\": \"step_1\",\n  \"has_more\": true\n}\n";
    const char *two[] = {pretty, NULL};
    char both[2048];
    snprintf(both, sizeof both, "%s%s\n", pretty, page);
    two[0] = both;
    r = convert_all(two, NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n" S1 "\n" S2 "\n"));
    result_free(&r);
}

static void test_detect_pretty(void)
{
    result r = convert1(S1P "\n" S1P, NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S1 "\n"));
    result_free(&r);
    /* a byte order mark, then concatenated objects without newlines */
    r = convert1("\xEF\xBB\xBF" S1P S2, NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n"));
    result_free(&r);
}

static void test_detect_sse(void)
{
    result r = convert1("event: thread.run.step.completed\ndata: " S1 "\n\n", NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n"));
    result_free(&r);
    r = convert1("data: " S2 "\n\n", NULL, 0);
    CHECK(recs_are(&r, S2 "\n"));
    result_free(&r);
    r = convert1(": comment first\nevent: thread.run.step.completed\ndata: " S1 "\n\n", NULL, 0);
    CHECK(recs_are(&r, S1 "\n"));
    result_free(&r);
    r = convert1("hello", NULL, 0);
    CHECK(r.rc == STEPARC_E_INPUT);
    CHECK(strstr(r.err, "not JSON and not an event stream") != NULL);
    result_free(&r);
    r = convert1("  \n", NULL, 0);
    CHECK(r.rc == STEPARC_E_INPUT);
    CHECK(strstr(r.err, "input is empty") != NULL);
    result_free(&r);
}

/* Writes data (len) to g_dir/name, zstd-compressed when zst. */
static void write_file(const char *name, const char *data, int zst, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", g_dir, name);
    size_t n = strlen(data), zn = ZSTD_compressBound(n);
    char *z = (char *)malloc(zn);
    if (zst)
        zn = ZSTD_compress(z, zn, data, n, 3);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL && z != NULL && !ZSTD_isError(zn));
    if (f && z) {
        fwrite(zst ? z : data, 1, zst ? zn : n, f);
        fclose(f);
    }
    free(z);
}

static void test_detect_zst_and_per_input(void)
{
    char p1[300], p2[300], p3[300], dirp[300], p4[300];
    write_file("a.jsonl.zst", S1 "\n" S2 "\n", 1, p1, sizeof p1);
    write_file("b.sse.zst", "event: thread.run.step.completed\ndata: " S2 "\n\n", 1, p2, sizeof p2);
    write_file("c.json", "[" S1P "]", 0, p3, sizeof p3);
    char a1[310], a2[310], a3[310];
    snprintf(a1, sizeof a1, "@%s", p1);
    snprintf(a2, sizeof a2, "@%s", p2);
    snprintf(a3, sizeof a3, "@%s", p3);
    /* each input is detected on its own: JSONL.zst, memory SSE, SSE.zst,
     * array file, memory pretty */
    const char *in[] = {a1, "event: thread.run.step.completed\ndata: " S1 "\n", a2, a3, S1P, NULL};
    result r = convert_all(in, NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n" S1 "\n" S2 "\n" S1 "\n" S1 "\n"));
    CHECK_EQ_INT(r.st.inputs, 5);
    result_free(&r);
    /* a directory: the wanted extensions, in name order */
    snprintf(dirp, sizeof dirp, "%s/d", g_dir);
    mkdir(dirp, 0755);
    write_file("d/2.json", S2, 0, p4, sizeof p4);
    write_file("d/1.ndjson.zst", S1 "\n", 1, p4, sizeof p4);
    write_file("d/3.bin", "junk", 0, p4, sizeof p4);
    char ad[310];
    snprintf(ad, sizeof ad, "@%s", dirp);
    const char *ind[] = {ad, NULL};
    r = convert_all(ind, NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n"));
    CHECK_EQ_INT(r.st.inputs, 2);
    result_free(&r);
    /* damaged zstd data fails with a message (the status is STEPARC_E_IO
     * today: the read window reports every source failure as I/O) */
    write_file("bad.json.zst", "not zstd at all", 0, p4, sizeof p4);
    snprintf(ad, sizeof ad, "@%s", p4);
    r = convert_all(ind, NULL, 0);
    CHECK(r.rc == STEPARC_E_IO);
    CHECK(strstr(r.err, "not valid zstd data") != NULL);
    CHECK(strstr(r.err, "zstd") != NULL);
    result_free(&r);
}

/* ---- event-stream framing ------------------------------------------------------------ */

static void test_sse_framing(void)
{
    /* CRLF line ends, comments, id:/retry: fields, [DONE], no blank line at
     * the end and no final newline */
    result r = convert1(": keep-alive\r\nretry: 100\r\nid: 7\r\n# note\r\n"
                        "event: thread.run.step.created\r\ndata: " S1 "\r\n\r\n"
                        "event: done\r\ndata: [DONE]\r\n\r\n"
                        "event: thread.run.step.completed\r\ndata:" S2,
                        NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n"));
    result_free(&r);
    /* two data lines, each a whole object; events without a blank line
     * between them */
    r = convert1("event: thread.run.step.completed\ndata: " S1 "\ndata: " S2 "\n"
                 "event: thread.run.step.completed\ndata: " S1 "\n",
                 NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n" S2 "\n" S1 "\n"));
    result_free(&r);
    /* a line that is not an event-stream field */
    r = convert1("event: thread.run.step.completed\ndata: " S1 "\nhello\n", NULL, 0);
    CHECK(r.rc == STEPARC_E_INPUT);
    CHECK(strstr(r.err, "mem:3:1: not an event-stream line") != NULL);
    result_free(&r);
    steparc_convert_options o;
    steparc_convert_options_init(&o);
    o.skip_invalid = 1;
    r = convert1("event: thread.run.step.completed\ndata: {bad\nhello\ndata: " S2 "\n", &o, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S2 "\n"));
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_INVALID], 2);
    result_free(&r);
    /* events of other kinds are archived too */
    r = convert1("event: thread.run.created\ndata: {\"id\":\"run_1\",\"object\":\"thread.run\"}\n\n"
                 "event: thread.run.step.completed\ndata: " S1 "\n\n",
                 NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, "{\"id\":\"run_1\",\"object\":\"thread.run\"}\n" S1 "\n"));
    result_free(&r);
}

/* ---- delta rebuild ---------------------------------------------------------------------- */

#define SC "{\"id\":\"step_9\",\"object\":\"thread.run.step\",\"type\":\"tool_calls\",\"status\":\"in_progress\"," \
           "\"step_details\":{\"type\":\"tool_calls\",\"tool_calls\":[]}}"
#define SD(x) "{\"id\":\"step_9\",\"object\":\"thread.run.step.delta\",\"delta\":{\"step_details\":{\"type\":" \
              "\"tool_calls\",\"tool_calls\":[" x "]}}}"
#define SCOMPLETED "{\"id\":\"step_9\",\"object\":\"thread.run.step\",\"type\":\"tool_calls\",\"status\":" \
                   "\"completed\",\"step_details\":{\"type\":\"tool_calls\",\"tool_calls\":[{\"id\":\"call_1\"," \
                   "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\",\"output\":\"ok\"}}]}}"

static const char *const step_stream =
    "event: thread.run.step.created\ndata: " SC "\n\n"
    "event: thread.run.step.delta\ndata: " SD("{\"index\":0,\"id\":\"call_1\",\"type\":\"function\","
                                              "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}") "\n\n"
    "event: thread.run.step.delta\ndata: " SD("{\"index\":0,\"type\":\"function\",\"function\":"
                                              "{\"arguments\":\"{\\\"a\\\":\"}}") "\n\n"
    "event: thread.run.step.delta\ndata: " SD("{\"index\":0,\"type\":\"function\",\"function\":"
                                              "{\"arguments\":\"12}\"}}") "\n\n";

static void test_step_delta_rebuild(void)
{
    /* the final object is missing: rebuilt from created + deltas */
    result r = convert1(step_stream, NULL, 1);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.st.rebuilt, 1);
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_DELTA], 3);
    CHECK(recs_are(&r, "{\"id\":\"step_9\",\"object\":\"thread.run.step\",\"type\":\"tool_calls\",\"status\":"
                       "\"in_progress\",\"step_details\":{\"type\":\"tool_calls\",\"tool_calls\":[{\"id\":"
                       "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
                       "\"{\\\"a\\\":12}\"}}]}}\n"));
    result_free(&r);
    /* the final object wins when it is there (the dedup keeps it) */
    char text[4096];
    snprintf(text, sizeof text, "%sevent: thread.run.step.completed\ndata: %s\n\n", step_stream,
             SCOMPLETED);
    r = convert1(text, NULL, 1);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.st.rebuilt, 0);
    CHECK(recs_are(&r, SCOMPLETED "\n"));
    result_free(&r);
    /* no_rebuild: the last snapshot only */
    steparc_convert_options o;
    steparc_convert_options_init(&o);
    o.no_rebuild = 1;
    r = convert1(step_stream, &o, 1);
    CHECK_EQ_INT(r.st.rebuilt, 0);
    CHECK(recs_are(&r, SC "\n"));
    result_free(&r);
    /* deltas of a step never created: reported, nothing archived */
    r = convert1("event: thread.run.step.delta\ndata: " SD("{\"index\":0,\"type\":\"function\"}") "\n\n",
                 NULL, 1);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.st.unrebuilt, 1);
    CHECK_EQ_INT(r.nrecs, 0);
    CHECK(strstr(r.skips, "with no step object") != NULL);
    result_free(&r);
}


/* ---- issue 13: every kind, message deltas, error events --------------------------------- */

#define MC "{\"id\":\"msg_1\",\"object\":\"thread.message\",\"created_at\":5,\"thread_id\":\"thread_1\"," \
           "\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[],\"run_id\":\"run_1\"}"
#define MD(x) "{\"id\":\"msg_1\",\"object\":\"thread.message.delta\",\"delta\":{\"content\":[" x "]}}"
#define EV(name, data) "event: " name "\ndata: " data "\n\n"

/* Converts an event stream (dedup on): the records and stats. */
static result stream1(const char *text)
{
    return convert1(text, NULL, 1);
}

static void test_message_delta_merge(void)
{
    /* text fragments by content index, annotations by their own index (a
     * restated annotation replaces start/end, never adds them), a refusal
     * part, index keys dropped; the rebuilt message is archived and counted */
    result r = stream1(
        EV("thread.message.created", MC) EV("thread.message.in_progress", MC)
        EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"See \","
                                      "\"annotations\":[]}}"))
        EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"[1]\","
                                      "\"annotations\":[{\"index\":0,\"type\":\"file_citation\",\"text\":"
                                      "\"[1]\",\"file_citation\":{\"file_id\":\"file-a\"},\"start_index\":4,"
                                      "\"end_index\":7}]}}"))
        EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"annotations\":[{\"index\":0,"
                                      "\"type\":\"file_citation\",\"start_index\":4,\"end_index\":7}]}}"))
        EV("thread.message.delta", MD("{\"index\":1,\"type\":\"refusal\",\"refusal\":\"No\"}"))
        EV("thread.message.delta", MD("{\"index\":1,\"type\":\"refusal\",\"refusal\":\"pe.\"}"))
        EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\" ok\"}}")));
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.st.messages_rebuilt, 1);
    CHECK_EQ_INT(r.st.rebuilt, 0);
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_DELTA], 6);
    CHECK_EQ_INT(r.st.by_kind[STEPARC_KIND_MESSAGE], 3); /* 2 snapshots + the rebuilt one */
    CHECK(recs_are(&r, "{\"id\":\"msg_1\",\"object\":\"thread.message\",\"created_at\":5,\"thread_id\":"
                       "\"thread_1\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[{\"type\":"
                       "\"text\",\"text\":{\"value\":\"See [1] ok\",\"annotations\":[{\"type\":\"file_citation\","
                       "\"text\":\"[1]\",\"file_citation\":{\"file_id\":\"file-a\"},\"start_index\":4,"
                       "\"end_index\":7}]}},{\"type\":\"refusal\",\"refusal\":\"Nope.\"}],\"run_id\":\"run_1\"}\n"));
    result_free(&r);
}

static void test_message_delta_out_of_order(void)
{
    /* indexes out of order: each part lands at its index; annotations too;
     * a snapshot that already holds part 0 (no index key) takes index 0 */
    result r = stream1(
        EV("thread.message.created", MC)
        EV("thread.message.delta", MD("{\"index\":2,\"type\":\"text\",\"text\":{\"value\":\"c\"}}"))
        EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"a\"}}"))
        EV("thread.message.delta", MD("{\"index\":1,\"type\":\"image_file\",\"image_file\":{\"file_id\":\"f\"}}"))
        EV("thread.message.delta", MD("{\"index\":2,\"type\":\"text\",\"text\":{\"value\":\"C\",\"annotations\":"
                                      "[{\"index\":1,\"type\":\"file_path\",\"start_index\":1},{\"index\":0,"
                                      "\"type\":\"file_path\",\"start_index\":0}]}}"))
        EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"A\"}}")));
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.st.messages_rebuilt, 1);
    CHECK(strstr(r.recs, "\"content\":[{\"type\":\"text\",\"text\":{\"value\":\"aA\"}},{\"type\":\"image_file\","
                         "\"image_file\":{\"file_id\":\"f\"}},{\"type\":\"text\",\"text\":{\"value\":\"cC\","
                         "\"annotations\":[{\"type\":\"file_path\",\"start_index\":0},{\"type\":"
                         "\"file_path\",\"start_index\":1}]}}]") != NULL);
    CHECK(strstr(r.recs, "\"index\"") == NULL);
    result_free(&r);
    r = stream1(EV("thread.message.in_progress", "{\"id\":\"msg_2\",\"object\":\"thread.message\",\"status\":"
                                                  "\"in_progress\",\"content\":[{\"type\":\"text\",\"text\":"
                                                  "{\"value\":\"x\",\"annotations\":[]}}]}")
                EV("thread.message.delta", "{\"id\":\"msg_2\",\"object\":\"thread.message.delta\",\"delta\":"
                                           "{\"content\":[{\"index\":0,\"type\":\"text\",\"text\":{\"value\":"
                                           "\"y\"}}]}}"));
    CHECK(recs_are(&r, "{\"id\":\"msg_2\",\"object\":\"thread.message\",\"status\":\"in_progress\",\"content\":"
                       "[{\"type\":\"text\",\"text\":{\"value\":\"xy\",\"annotations\":[]}}]}\n"));
    result_free(&r);
}

static void test_message_final_and_orphans(void)
{
    /* the final event wins: nothing is rebuilt */
    const char *done = "{\"id\":\"msg_1\",\"object\":\"thread.message\",\"status\":\"completed\",\"content\":"
                       "[{\"type\":\"text\",\"text\":{\"value\":\"Hi\",\"annotations\":[]}}]}";
    char text[2048];
    snprintf(text, sizeof text, "%s%sevent: thread.message.completed\ndata: %s\n\n",
             EV("thread.message.created", MC),
             EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"H\"}}")), done);
    result r = stream1(text);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.st.messages_rebuilt, 0);
    CHECK(recs_are(&r, "{\"id\":\"msg_1\",\"object\":\"thread.message\",\"status\":\"completed\",\"content\":"
                       "[{\"type\":\"text\",\"text\":{\"value\":\"Hi\",\"annotations\":[]}}]}\n"));
    result_free(&r);
    /* deltas of a message never created: reported, nothing archived */
    r = stream1(EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"H\"}}")));
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.nrecs, 0);
    CHECK_EQ_INT(r.st.unrebuilt, 1);
    CHECK(strstr(r.skips, "delta(s) of message \"msg_1\" with no message object") != NULL);
    result_free(&r);
    /* no_rebuild: the snapshot stays */
    steparc_convert_options o;
    steparc_convert_options_init(&o);
    o.no_rebuild = 1;
    r = convert1(EV("thread.message.created", MC)
                 EV("thread.message.delta", MD("{\"index\":0,\"type\":\"text\",\"text\":{\"value\":\"H\"}}")),
                 &o, 1);
    CHECK_EQ_INT(r.st.messages_rebuilt, 0);
    CHECK(recs_are(&r, MC "\n"));
    result_free(&r);
}

static void test_stream_kinds_and_errors(void)
{
    result r = stream1(
        EV("thread.created", "{\"id\":\"thread_1\",\"object\":\"thread\",\"created_at\":1}")
        EV("thread.run.created", "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"queued\"}")
        EV("thread.run.in_progress", "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"in_progress\"}")
        EV("error", "{\"code\":\"server_error\",\"message\":\"oops\",\"param\":null,\"type\":\"server_error\"}")
        EV("error", "{\"error\":{\"code\":null,\"message\":\"oops\"}}")
        EV("thread.run.frobnicated", "{\"id\":\"run_1\",\"object\":\"thread.run\"}")
        EV("thread.run.failed", "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"failed\"}")
        "event: done\ndata: [DONE]\n\n");
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.st.error_events, 2);
    CHECK_EQ_INT(r.st.by_kind[STEPARC_KIND_THREAD], 1);
    CHECK_EQ_INT(r.st.by_kind[STEPARC_KIND_RUN], 4); /* thread.run.* names: all status events */
    CHECK(recs_are(&r, "{\"id\":\"thread_1\",\"object\":\"thread\",\"created_at\":1}\n"
                       "{\"id\":\"run_1\",\"object\":\"thread.run\",\"status\":\"failed\"}\n"));
    result_free(&r);
    /* an unknown event name outside thread.run.*: skipped, whatever it holds */
    r = stream1(EV("thread.run.step.completed", S1) EV("vector_store.updated", "{\"id\":\"vs_1\",\"object\":"
                                                                                "\"vector_store\"}"));
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_EVENT], 1);
    CHECK(strstr(r.skips, "3:vector_store.updated;") != NULL);
    CHECK(recs_are(&r, S1 "\n"));
    result_free(&r);
    /* every kind from documents; other objects skipped, named */
    r = convert1("[{\"id\":\"asst_1\",\"object\":\"assistant\"},{\"id\":\"file-1\",\"object\":\"file\"},"
                 "{\"id\":\"vs_1\",\"object\":\"vector_store\"},{\"id\":\"file-1\",\"object\":"
                 "\"vector_store.file\",\"vector_store_id\":\"vs_1\"},{\"id\":\"s\",\"object\":"
                 "\"assistant.run.step\"},{\"id\":\"x\",\"object\":\"chat.completion\"},{\"object\":\"file\"}]",
                 NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK_EQ_INT(r.nrecs, 5);
    CHECK_EQ_INT(r.st.by_kind[STEPARC_KIND_ASSISTANT], 1);
    CHECK_EQ_INT(r.st.by_kind[STEPARC_KIND_FILE], 1);
    CHECK_EQ_INT(r.st.by_kind[STEPARC_KIND_VECTOR_STORE], 1);
    CHECK_EQ_INT(r.st.by_kind[STEPARC_KIND_VECTOR_STORE_FILE], 1);
    CHECK_EQ_INT(r.st.by_kind[STEPARC_KIND_STEP], 1);
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_NOT_A_STEP], 1);
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_NO_ID], 1);
    CHECK(strstr(r.skips, "object \"chat.completion\"") != NULL);
    CHECK(strstr(r.skips, "file without a string id") != NULL);
    result_free(&r);
}

static void test_sse_multiline_data(void)
{
    /* one JSON value over several data: lines (joined with '\n') */
    result r = convert1("event: thread.run.step.completed\ndata: {\"id\":\"step_1\",\ndata:  \"object\":"
                        "\"thread.run.step\",\r\ndata: \"status\":\"completed\"}\n\n",
                        NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n"));
    result_free(&r);
    /* an error inside the second data line is located there */
    r = convert1("event: thread.run.step.completed\ndata: {\"id\":\"step_1\",\ndata: \"object\" 1}\n\n", NULL, 0);
    CHECK(r.rc == STEPARC_E_INPUT);
    CHECK(strstr(r.err, "mem:3:16:") != NULL);
    result_free(&r);
}

/* ---- strict and skips -------------------------------------------------------------------- */

static void test_skips_and_strict(void)
{
    result r = convert1("[1, {\"object\":\"zebra\",\"id\":\"z\"}, {\"object\":\"thread.run.step\"}, " S1 "]",
                        NULL, 0);
    CHECK_EQ_INT(r.rc, 0);
    CHECK(recs_are(&r, S1 "\n"));
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_NOT_A_STEP], 2);
    CHECK_EQ_INT(r.st.skipped[STEPARC_SKIP_NO_ID], 1);
    CHECK(strstr(r.skips, "object \"zebra\"") != NULL);
    result_free(&r);
    steparc_convert_options o;
    steparc_convert_options_init(&o);
    o.strict = 1;
    r = convert1(S1 "\n{\"object\":\"zebra\",\"id\":\"z\"}\n", &o, 0);
    CHECK(r.rc == STEPARC_E_INPUT);
    CHECK(strstr(r.err, "mem:2:1:") != NULL && strstr(r.err, "zebra") != NULL);
    result_free(&r);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "%s/convert.XXXXXX",
             getenv("STEPARC_TMP") ? getenv("STEPARC_TMP") : "/tmp");
    if (mkdtemp(g_dir) == NULL)
        return 1;
    RUN(test_detect_jsonl);
    RUN(test_detect_array);
    RUN(test_detect_list_page);
    RUN(test_detect_pretty);
    RUN(test_detect_sse);
    RUN(test_detect_zst_and_per_input);
    RUN(test_sse_framing);
    RUN(test_step_delta_rebuild);
    RUN(test_skips_and_strict);
    RUN(test_message_delta_merge);
    RUN(test_message_delta_out_of_order);
    RUN(test_message_final_and_orphans);
    RUN(test_stream_kinds_and_errors);
    RUN(test_sse_multiline_data);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0)
        return 1;
    return h_done();
}
