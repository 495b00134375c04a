/* transcript.c - print the run steps of one thread as a readable transcript.
 *
 *   usage: transcript ARCHIVE THREAD_ID
 *
 * The usual read path of the public API: open a reader, open a cursor with a
 * thread filter (served by the thread postings, so only the blocks holding
 * that thread are decompressed), decode each record into the typed
 * steparc_step and walk its fields. Exit 0, 1 (error or no such thread), 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <steparc.h>

/* printf arguments for a steparc_str under "%.*s" (ptr is NULL when unset). */
#define STR_ARG(s) (int)(s).len, ((s).ptr ? (s).ptr : "")

/* Prints "label: text" when the field is set (not absent, null or mistyped).
 * Strings are (ptr, len) and may hold NULs, so they go out byte by byte. Long
 * texts (code, logs) are cut on a UTF-8 boundary; continuation lines are
 * indented to keep the transcript readable. */
static void put_field(const char *label, steparc_opt_str f)
{
    if (f.state != STEPARC_SET)
        return;
    size_t n = f.v.len > 600 ? 600 : f.v.len;
    while (n < f.v.len && n > 0 && ((unsigned char)f.v.ptr[n] & 0xC0) == 0x80)
        n--; /* do not split a multi-byte character */
    printf("      %s: ", label);
    for (size_t i = 0; i < n; i++) {
        putchar(f.v.ptr[i]);
        if (f.v.ptr[i] == '\n')
            fputs("        ", stdout);
    }
    if (n < f.v.len)
        printf(" [... %zu more bytes]", f.v.len - n);
    putchar('\n');
}

static void show_tool_call(const steparc_tool_call *tc)
{
    printf("    tool call %.*s (%.*s)\n", STR_ARG(tc->id.v), STR_ARG(tc->type.v));
    if (tc->function.state == STEPARC_SET) {
        put_field("function", tc->function.v.name);
        put_field("arguments", tc->function.v.arguments);
        if (tc->function.v.output.state == STEPARC_SET)
            put_field("output", tc->function.v.output);
        else
            printf("      output: (not submitted)\n");
    }
    if (tc->code_interpreter.state == STEPARC_SET) {
        const steparc_code_interpreter *ci = &tc->code_interpreter.v;
        put_field("input", ci->input);
        for (size_t i = 0; ci->outputs.state == STEPARC_SET && i < ci->outputs.count; i++) {
            const steparc_ci_output *o = &ci->outputs.items[i];
            put_field("logs", o->logs);
            if (o->image.state == STEPARC_SET)
                put_field("image", o->image.v.file_id);
        }
    }
    if (tc->file_search.state == STEPARC_SET && tc->file_search.v.results.state == STEPARC_SET)
        for (size_t i = 0; i < tc->file_search.v.results.count; i++)
            put_field("result", tc->file_search.v.results.items[i].file_name);
    /* Tool types the schema does not model (retrieval, browser, ...) keep their
     * body as unknown keys, in `extra`, exactly as read. */
    for (size_t i = 0; tc->type.code == STEPARC_TOOL_OTHER && i < tc->extra.count; i++)
        printf("      (%.*s: not modelled)\n", STR_ARG(tc->extra.items[i].key));
}

static void show_step(uint64_t ordinal, const steparc_step *s)
{
    char when[32] = "?";
    if (s->created_at.state == STEPARC_SET) {
        time_t t = (time_t)s->created_at.v;
        struct tm *tm = gmtime(&t);
        if (tm)
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", tm);
    }
    printf("#%" PRIu64 " %s %.*s  run %.*s  [%.*s]\n", ordinal, when, STR_ARG(s->id.v),
           STR_ARG(s->run_id.v), STR_ARG(s->status.v));
    const steparc_step_details *d = &s->step_details.v;
    if (s->step_details.state == STEPARC_SET && d->message_creation.state == STEPARC_SET)
        printf("    message created: %.*s\n", STR_ARG(d->message_creation.v.message_id.v));
    for (size_t i = 0; s->step_details.state == STEPARC_SET && d->tool_calls.state == STEPARC_SET &&
                       i < d->tool_calls.count; i++)
        show_tool_call(&d->tool_calls.items[i]);
    if (s->last_error.state == STEPARC_SET)
        printf("    error: %.*s: %.*s\n", STR_ARG(s->last_error.v.code.v),
               STR_ARG(s->last_error.v.message.v));
    const steparc_usage *u = &s->usage.v;
    if (s->usage.state == STEPARC_SET)
        printf("    usage: prompt %" PRId64 ", completion %" PRId64 ", total %" PRId64 "\n",
               u->prompt_tokens.v, u->completion_tokens.v, u->total_tokens.v);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: transcript ARCHIVE THREAD_ID\n");
        return 2;
    }
    char err[256];
    steparc_reader *r = NULL;
    steparc_cursor *c = NULL;
    if (steparc_reader_open(&r, argv[1], NULL, err, sizeof err) != STEPARC_OK) {
        fprintf(stderr, "transcript: %s\n", err); /* no handle yet: the detail is in err */
        return 1;
    }
    steparc_filter f;
    memset(&f, 0, sizeof f); /* every criterion unset ... */
    f.thread_id.ptr = argv[2]; /* ... but the thread */
    f.thread_id.len = strlen(argv[2]);
    uint64_t shown = 0, failed = 0, ordinal;
    const void *mp;
    size_t len;
    int rc = steparc_cursor_open(&c, r, &f);
    if (rc != STEPARC_OK) {
        fprintf(stderr, "transcript: %s\n", steparc_reader_errmsg(r));
        failed++;
    }
    printf("thread %s\n", argv[2]);
    while (rc == STEPARC_OK && (rc = steparc_cursor_next(&ordinal, &mp, &len, c)) != STEPARC_END) {
        if (rc != STEPARC_OK) { /* a damaged block: say so and go on with the next */
            fprintf(stderr, "transcript: %s\n", steparc_cursor_errmsg(c));
            failed++;
            rc = STEPARC_OK;
            continue;
        }
        steparc_step *step = NULL; /* owns copies: outlives the cursor's buffer */
        if ((rc = steparc_step_decode(&step, mp, len)) != STEPARC_OK) {
            fprintf(stderr, "transcript: #%" PRIu64 ": %s\n", ordinal, steparc_strerror(rc));
            failed++;
            rc = STEPARC_OK;
            continue;
        }
        show_step(ordinal, step);
        steparc_step_free(step);
        shown++;
    }
    if (shown == 0 && failed == 0)
        fprintf(stderr, "transcript: no steps for thread %s\n", argv[2]);
    steparc_cursor_close(c); /* cursors first, then their reader */
    steparc_reader_close(r);
    return shown > 0 && failed == 0 ? 0 : 1;
}
