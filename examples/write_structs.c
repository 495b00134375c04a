/* write_structs.c - build run steps as C structs (no JSON text), archive them,
 * then read the archive back and print every record as canonical JSON.
 *
 *   usage: write_structs OUT.steparc
 *
 * A steparc_step built in code is zero-initialised (every field ABSENT, no key
 * order), then the fields to write are set. With an empty key order the
 * encoder writes the present fields in the API's order, then the extras.
 * Enum fields may be given by code alone: the encoder writes the schema's text.
 * The structs only point at caller memory; nothing here is freed by the library.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <steparc.h>

static steparc_str S(const char *s)
{
    steparc_str r = {s, strlen(s)};
    return r;
}
static steparc_opt_str SET_STR(const char *s)
{
    steparc_opt_str r = {STEPARC_SET, S(s), NULL};
    return r;
}
static steparc_opt_int SET_INT(int64_t v)
{
    steparc_opt_int r = {STEPARC_SET, v, NULL};
    return r;
}
static steparc_opt_enum SET_CODE(int code)
{
    steparc_opt_enum r = {STEPARC_SET, {NULL, 0}, code, NULL};
    return r;
}

/* The fields every step of one run shares. */
static void common(steparc_step *s, const char *id, int64_t t, int type, int status)
{
    memset(s, 0, sizeof *s);
    s->id = SET_STR(id);
    s->object = SET_CODE(STEPARC_OBJECT_RUN_STEP); /* "thread.run.step" */
    s->created_at = SET_INT(t);
    s->run_id = SET_STR("run_example1");
    s->assistant_id = SET_STR("asst_example");
    s->thread_id = SET_STR("thread_example");
    s->type = SET_CODE(type);
    s->status = SET_CODE(status);
    s->cancelled_at.state = STEPARC_NULL; /* written as "cancelled_at":null */
    s->step_details.state = STEPARC_SET;
    s->step_details.v.type = SET_CODE(type);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: write_structs OUT.steparc\n");
        return 2;
    }
    steparc_step steps[3];

    /* 1. A function call with its submitted output, token usage and metadata. */
    steparc_tool_call call;
    memset(&call, 0, sizeof call);
    call.id = SET_STR("call_weather1");
    call.type = SET_CODE(STEPARC_TOOL_FUNCTION);
    call.function.state = STEPARC_SET;
    call.function.v.name = SET_STR("get_weather");
    call.function.v.arguments = SET_STR("{\"city\":\"Lisboa\"}");
    call.function.v.output = SET_STR("19 \xc2\xb0" "C, sunny"); /* UTF-8 text */
    common(&steps[0], "step_example1", 1718000000, STEPARC_TYPE_TOOL_CALLS,
           STEPARC_STATUS_COMPLETED);
    steps[0].completed_at = SET_INT(1718000004);
    steps[0].step_details.v.tool_calls.state = STEPARC_SET;
    steps[0].step_details.v.tool_calls.items = &call;
    steps[0].step_details.v.tool_calls.count = 1;
    steps[0].usage.state = STEPARC_SET;
    steps[0].usage.v.prompt_tokens = SET_INT(120);
    steps[0].usage.v.completion_tokens = SET_INT(18);
    steps[0].usage.v.total_tokens = SET_INT(138);
    /* metadata is a generic value: here {"source":"example","attempt":1} */
    steparc_member meta[2] = {{S("source"), {STEPARC_V_STRING, {.s = {"example", 7}}}},
                              {S("attempt"), {STEPARC_V_INT, {.i = 1}}}};
    steparc_value meta_obj = {STEPARC_V_OBJECT, {.object = {meta, 2}}};
    steps[0].metadata.state = STEPARC_SET;
    steps[0].metadata.v = &meta_obj;

    /* 2. The assistant's answer: a message creation step. */
    common(&steps[1], "step_example2", 1718000005, STEPARC_TYPE_MESSAGE_CREATION,
           STEPARC_STATUS_COMPLETED);
    steps[1].step_details.v.message_creation.state = STEPARC_SET;
    steps[1].step_details.v.message_creation.v.message_id = SET_STR("msg_example");

    /* 3. A failed step with its last_error, plus a key the schema does not know. */
    common(&steps[2], "step_example3", 1718000009, STEPARC_TYPE_MESSAGE_CREATION,
           STEPARC_STATUS_FAILED);
    steps[2].failed_at = SET_INT(1718000011);
    steps[2].last_error.state = STEPARC_SET;
    steps[2].last_error.v.code = SET_CODE(STEPARC_ERRCODE_RATE_LIMIT_EXCEEDED);
    steps[2].last_error.v.message = SET_STR("Rate limit reached, retry later.");
    steparc_member note = {S("x_note"), {STEPARC_V_BOOL, {.b = 1}}};
    steps[2].extra.items = &note; /* written after the known fields */
    steps[2].extra.count = 1;

    /* Write: the archive appears at argv[1] only when finish succeeds. */
    steparc_writer *w = NULL;
    char err[256];
    int rc = steparc_writer_open(&w, argv[1], NULL, err, sizeof err);
    for (size_t i = 0; rc == STEPARC_OK && i < 3; i++)
        rc = steparc_writer_add_step(w, &steps[i]); /* validates and encodes */
    if (rc == STEPARC_OK)
        rc = steparc_writer_finish(w);
    if (rc != STEPARC_OK)
        fprintf(stderr, "write_structs: %s: %s\n", steparc_strerror(rc),
                w ? steparc_writer_errmsg(w) : err);
    steparc_writer_close(w); /* after a failure this removes the temporary file */
    if (rc != STEPARC_OK)
        return 1;

    /* Read back: every record as canonical JSON, one per line. */
    steparc_reader *r = NULL;
    if (steparc_reader_open(&r, argv[1], NULL, err, sizeof err) != STEPARC_OK) {
        fprintf(stderr, "write_structs: %s\n", err);
        return 1;
    }
    steparc_buf json = {0};
    for (uint64_t n = 0; rc == STEPARC_OK && n < steparc_reader_count(r); n++)
        if ((rc = steparc_reader_get_json(&json, r, n, 0)) == STEPARC_OK)
            printf("%.*s\n", (int)json.len, json.data);
    if (rc != STEPARC_OK)
        fprintf(stderr, "write_structs: %s\n", steparc_reader_errmsg(r));
    steparc_buf_free(&json);
    steparc_reader_close(r);
    return rc == STEPARC_OK ? 0 : 1;
}
