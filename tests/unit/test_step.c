/* test_step.c - the typed struct: decode/encode identity on generated
 * records, typed fields of the awkward cases, steps built in code. */
#include "harness.h"
#include "steparc.h"

static steparc_step *decode_json(const char *json)
{
    steparc_buf mp = {0};
    steparc_step *st = NULL;
    if (steparc_json_to_msgpack(&mp, json, strlen(json), 0, NULL) == 0)
        steparc_step_decode(&st, mp.data, mp.len);
    steparc_buf_free(&mp);
    return st;
}

static int json_is(const steparc_step *st, const char *want)
{
    steparc_buf js = {0};
    int ok = steparc_step_to_json(&js, st, 0) == 0 && js.len == strlen(want) &&
             memcmp(js.data, want, js.len) == 0;
    if (!ok)
        fprintf(stderr, "  got  %.*s\n  want %s\n", (int)js.len, js.data ? js.data : "", want);
    steparc_buf_free(&js);
    return ok;
}

static int str_is(steparc_str s, const char *lit)
{
    return s.ptr != NULL && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* Every generated record: JSON -> MessagePack -> struct -> MessagePack is the
 * identity, and the struct's JSON equals the direct JSON. */
static void test_identity_on_generated(void)
{
    const char *path = getenv("STEPARC_GEN");
    if (path == NULL) {
        printf("SKIP test_identity_on_generated (STEPARC_GEN not set: python3 missing?)\n");
        return;
    }
    size_t len;
    char *text = h_read_file(path, &len);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    steparc_buf mp = {0}, mp2 = {0}, j1 = {0}, j2 = {0};
    size_t n = 0, bad = 0;
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (ll) {
            steparc_json_error e;
            int rc = steparc_json_to_msgpack(&mp, line, ll, 0, &e);
            if (rc == 0) {
                steparc_step *st = NULL;
                rc = steparc_step_decode(&st, mp.data, mp.len);
                if (rc == 0)
                    rc = steparc_step_encode(&mp2, st);
                if (rc == 0 && (mp2.len != mp.len || memcmp(mp.data, mp2.data, mp.len) != 0))
                    rc = -100;
                if (rc == 0)
                    rc = steparc_step_to_json(&j1, st, 0);
                if (rc == 0)
                    rc = steparc_msgpack_to_json(&j2, mp.data, mp.len, 0);
                if (rc == 0 && (j1.len != j2.len || memcmp(j1.data, j2.data, j1.len) != 0))
                    rc = -101;
                steparc_step_free(st);
            }
            if (rc != 0 && bad++ < 3)
                fprintf(stderr, "  record %zu: status %d\n", n, rc);
            n++;
        }
        line += ll + 1;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(n > 1000);
    free(text);
    steparc_buf_free(&mp);
    steparc_buf_free(&mp2);
    steparc_buf_free(&j1);
    steparc_buf_free(&j2);
}

static void test_typed_fields(void)
{
    const char *rec =
        "{\"id\":\"step_a\",\"object\":\"thread.run.step\",\"created_at\":-1,\"run_id\":\"run_1\","
        "\"assistant_id\":\"asst_1\",\"thread_id\":\"thread_1\",\"type\":\"tool_calls\","
        "\"status\":\"paused\",\"cancelled_at\":null,\"completed_at\":9223372036854775807,"
        "\"expires_at\":1725376733,\"failed_at\":\"soon\",\"last_error\":{\"code\":\"\",\"message\":\"x\"},"
        "\"step_details\":{\"type\":\"tool_calls\",\"tool_calls\":["
        "{\"id\":\"call_1\",\"type\":\"file_search\",\"file_search\":{\"ranking_options\":{\"ranker\":"
        "\"default-2024-08-21\",\"score_threshold\":0},\"results\":[{\"file_id\":\"file-1\",\"file_name\":"
        "\"a.pdf\",\"score\":0.7051032442882943,\"content\":[{\"type\":\"text\",\"text\":\"a\\u0000b\"}]}]}},"
        "{\"id\":\"call_2\",\"type\":\"browser\",\"browser\":{\"url\":\"x\"}},"
        "{\"type\":\"code_interpreter\",\"id\":\"call_3\",\"code_interpreter\":{\"input\":\"1+1\",\"outputs\":"
        "[{\"type\":\"logs\",\"logs\":\"2\"},{\"type\":\"image\",\"image\":{\"file_id\":\"file-2\"}}]}},"
        "{\"id\":\"call_4\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\",\"output\":null}}"
        "]},\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3,"
        "\"prompt_token_details\":{\"cached_tokens\":0}},\"extra_top\":[1.0,-0.0]}";
    steparc_step *st = decode_json(rec);
    CHECK(st != NULL);
    if (st == NULL)
        return;
    CHECK(st->id.state == STEPARC_SET && str_is(st->id.v, "step_a"));
    CHECK(st->object.code == STEPARC_OBJECT_RUN_STEP);
    CHECK(st->created_at.state == STEPARC_SET && st->created_at.v == -1);
    CHECK(st->status.state == STEPARC_SET && st->status.code == STEPARC_STATUS_OTHER &&
          str_is(st->status.v, "paused"));
    CHECK(st->type.code == STEPARC_TYPE_TOOL_CALLS);
    CHECK(st->cancelled_at.state == STEPARC_NULL);
    CHECK(st->completed_at.v == INT64_MAX);
    CHECK(st->expires_at.state == STEPARC_SET && st->expires_at.v == 1725376733);
    CHECK(st->expired_at.state == STEPARC_ABSENT);
    CHECK(st->failed_at.state == STEPARC_OTHER && st->failed_at.other != NULL &&
          st->failed_at.other->type == STEPARC_V_STRING);
    CHECK(st->last_error.state == STEPARC_SET && st->last_error.v.code.code == STEPARC_ERRCODE_OTHER &&
          st->last_error.v.code.v.len == 0);
    CHECK(st->metadata.state == STEPARC_ABSENT);
    CHECK(st->step_details.state == STEPARC_SET && st->step_details.v.tool_calls.count == 4);
    steparc_tool_call *tc = st->step_details.v.tool_calls.items;
    CHECK(tc[0].type.code == STEPARC_TOOL_FILE_SEARCH);
    steparc_file_search *fs = &tc[0].file_search.v;
    CHECK(fs->ranking_options.v.ranker.code == STEPARC_RANKER_OTHER);
    CHECK(fs->ranking_options.v.score_threshold.is_int && fs->ranking_options.v.score_threshold.i == 0);
    CHECK(fs->results.count == 1 && !fs->results.items[0].score.is_int &&
          fs->results.items[0].score.f == 0.7051032442882943);
    CHECK(fs->results.items[0].content.count == 1 &&
          fs->results.items[0].content.items[0].text.v.len == 3 &&
          memcmp(fs->results.items[0].content.items[0].text.v.ptr, "a\0b", 3) == 0);
    CHECK(tc[1].type.code == STEPARC_TOOL_OTHER && str_is(tc[1].type.v, "browser"));
    CHECK(tc[1].extra.count == 1 && str_is(tc[1].extra.items[0].key, "browser") &&
          tc[1].extra.items[0].value.type == STEPARC_V_OBJECT);
    CHECK(tc[2].type.code == STEPARC_TOOL_CODE_INTERPRETER);
    CHECK(tc[2].order.count == 3 && tc[2].order.slots[0] == STEPARC_F_TC_TYPE &&
          tc[2].order.slots[1] == STEPARC_F_TC_ID);
    CHECK(tc[2].code_interpreter.v.outputs.count == 2 &&
          tc[2].code_interpreter.v.outputs.items[1].type.code == STEPARC_OUTPUT_IMAGE &&
          str_is(tc[2].code_interpreter.v.outputs.items[1].image.v.file_id.v, "file-2"));
    CHECK(tc[3].function.v.output.state == STEPARC_NULL);
    CHECK(st->usage.v.total_tokens.v == 3 && st->usage.v.extra.count == 1 &&
          str_is(st->usage.v.extra.items[0].key, "prompt_token_details"));
    CHECK(st->extra.count == 1 && str_is(st->extra.items[0].key, "extra_top"));
    steparc_buf mp = {0}, mp2 = {0};
    steparc_json_to_msgpack(&mp, rec, strlen(rec), 0, NULL);
    CHECK_EQ_INT(steparc_step_encode(&mp2, st), 0);
    CHECK(mp.len == mp2.len && memcmp(mp.data, mp2.data, mp.len) == 0);
    steparc_buf_free(&mp);
    steparc_buf_free(&mp2);
    steparc_step_free(st);
}

static void test_mistyped_containers(void)
{
    /* wrong types anywhere are kept as OTHER, exactly */
    const char *recs[] = {
        "{\"id\":1,\"usage\":[1,2],\"step_details\":\"none\",\"metadata\":\"m\"}",
        "{\"step_details\":{\"tool_calls\":[1,{\"id\":\"x\"}]},\"last_error\":7}",
        "{\"step_details\":{\"tool_calls\":{}},\"usage\":{\"prompt_tokens\":1.5,\"total_tokens\":18446744073709551615}}",
        "{\"created_at\":1.0,\"expires_at\":true,\"metadata\":{\"a\":{\"b\":[null]}}}",
        "{\"metadata\":null,\"usage\":null,\"last_error\":null,\"step_details\":null}",
        "{}",
    };
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        steparc_step *st = decode_json(recs[i]);
        CHECK(st != NULL);
        if (st) {
            steparc_buf js = {0}, mp = {0};
            steparc_json_to_msgpack(&mp, recs[i], strlen(recs[i]), 0, NULL);
            steparc_msgpack_to_json(&js, mp.data, mp.len, 0);
            js.data = realloc(js.data, js.len + 1);
            js.data[js.len] = 0;
            CHECK(json_is(st, js.data));
            steparc_buf_free(&js);
            steparc_buf_free(&mp);
        }
        steparc_step_free(st);
    }
    steparc_step *st = decode_json(recs[0]);
    CHECK(st && st->id.state == STEPARC_OTHER && st->usage.state == STEPARC_OTHER &&
          st->metadata.state == STEPARC_SET && st->metadata.v->type == STEPARC_V_STRING);
    steparc_step_free(st);
    st = decode_json(recs[4]);
    CHECK(st && st->metadata.state == STEPARC_NULL && st->usage.state == STEPARC_NULL);
    steparc_step_free(st);
}

static void test_built_in_code(void)
{
    steparc_step st;
    memset(&st, 0, sizeof st);
    st.id.state = STEPARC_SET;
    st.id.v.ptr = "step_x";
    st.id.v.len = 6;
    st.object.state = STEPARC_SET;
    st.object.code = STEPARC_OBJECT_RUN_STEP; /* text from the code */
    st.created_at.state = STEPARC_SET;
    st.created_at.v = 1700000000;
    st.status.state = STEPARC_SET;
    st.status.code = STEPARC_STATUS_COMPLETED;
    st.usage.state = STEPARC_SET;
    st.usage.v.prompt_tokens.state = STEPARC_SET;
    st.usage.v.prompt_tokens.v = 10;
    st.metadata.state = STEPARC_NULL;
    steparc_tool_call tc;
    memset(&tc, 0, sizeof tc);
    tc.id.state = STEPARC_SET;
    tc.id.v.ptr = "call_1";
    tc.id.v.len = 6;
    tc.type.state = STEPARC_SET;
    tc.type.code = STEPARC_TOOL_FUNCTION;
    tc.function.state = STEPARC_SET;
    tc.function.v.name.state = STEPARC_SET;
    tc.function.v.name.v.ptr = "f";
    tc.function.v.name.v.len = 1;
    tc.function.v.output.state = STEPARC_NULL;
    st.step_details.state = STEPARC_SET;
    st.step_details.v.type.state = STEPARC_SET;
    st.step_details.v.type.code = STEPARC_TYPE_TOOL_CALLS;
    st.step_details.v.tool_calls.state = STEPARC_SET;
    st.step_details.v.tool_calls.items = &tc;
    st.step_details.v.tool_calls.count = 1;
    steparc_member extra = {{"zz", 2}, {STEPARC_V_FLOAT, {.f = 2.0}}};
    st.extra.items = &extra;
    st.extra.count = 1;
    CHECK(json_is(&st, "{\"id\":\"step_x\",\"object\":\"thread.run.step\",\"created_at\":1700000000,"
                       "\"status\":\"completed\",\"step_details\":{\"type\":\"tool_calls\",\"tool_calls\":"
                       "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"output\":null}}]},"
                       "\"usage\":{\"prompt_tokens\":10},\"metadata\":null,\"zz\":2.0}"));
    /* invalid structs are refused, not written */
    steparc_buf mp = {0};
    st.status.state = (steparc_presence)9;
    CHECK_EQ_INT(steparc_step_encode(&mp, &st), STEPARC_E_ARG);
    st.status.state = STEPARC_SET;
    extra.key.ptr = "id";
    CHECK_EQ_INT(steparc_step_encode(&mp, &st), STEPARC_E_ARG); /* duplicate key */
    extra.key.ptr = "zz";
    st.id.v.ptr = "\xff";
    st.id.v.len = 1;
    CHECK_EQ_INT(steparc_step_encode(&mp, &st), STEPARC_E_ARG); /* not UTF-8 */
    st.id.v.ptr = NULL;
    st.id.v.len = 3;
    CHECK_EQ_INT(steparc_step_encode(&mp, &st), STEPARC_E_ARG);
    steparc_buf_free(&mp);
}

static void test_edit_after_decode(void)
{
    /* fields set after decoding are written, not silently dropped */
    steparc_step *st = decode_json("{\"id\":\"s\",\"zz\":1}");
    CHECK(st != NULL);
    if (!st)
        return;
    st->expired_at.state = STEPARC_SET;
    st->expired_at.v = 5;
    CHECK(json_is(st, "{\"id\":\"s\",\"zz\":1,\"expired_at\":5}"));
    st->id.state = STEPARC_ABSENT;
    CHECK(json_is(st, "{\"zz\":1,\"expired_at\":5}"));
    steparc_step_free(st);
}

static void test_decode_rejects(void)
{
    steparc_step *st = (steparc_step *)1;
    const unsigned char arr[] = {0x90};
    const unsigned char trunc[] = {0x81, 0xa1};
    const unsigned char bin[] = {0x81, 0xa1, 'a', 0xc4, 0x00};
    CHECK_EQ_INT(steparc_step_decode(&st, arr, sizeof arr), STEPARC_E_INPUT);
    CHECK(st == NULL);
    CHECK_EQ_INT(steparc_step_decode(&st, trunc, sizeof trunc), STEPARC_E_INPUT);
    CHECK_EQ_INT(steparc_step_decode(&st, bin, sizeof bin), STEPARC_E_INPUT);
    CHECK_EQ_INT(steparc_step_decode(&st, NULL, 0), STEPARC_E_INPUT);
    steparc_step_free(NULL);
}

int main(void)
{
    RUN(test_identity_on_generated);
    RUN(test_typed_fields);
    RUN(test_mistyped_containers);
    RUN(test_built_in_code);
    RUN(test_edit_after_decode);
    RUN(test_decode_rejects);
    return h_done();
}
