/* tokens.c - token usage and step counts over a filtered part of an archive.
 *
 *   usage: tokens ARCHIVE [--since T] [--until T] [--assistant ID]
 *
 * T is a Unix time in seconds; the range is inclusive. Sums usage.prompt_tokens,
 * completion_tokens and total_tokens read from the typed struct, and counts
 * steps by status and tool calls by type. Exit 0, 1 on error, 2 usage.
 *
 * A time range lets the cursor skip whole blocks through their created_at zone
 * maps; an assistant filter is checked record by record.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <steparc.h>

static int parse_time(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const status_names[] = {"other", "in_progress", "cancelled",
                                               "failed", "completed", "expired"};
    static const char *const tool_names[] = {"other", "code_interpreter", "file_search",
                                             "function"};
    steparc_filter f;
    memset(&f, 0, sizeof f); /* zero = no criterion */
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--since") == 0 && parse_time(argv[i + 1], &f.since) == 0)
            f.has_since = 1;
        else if (strcmp(argv[i], "--until") == 0 && parse_time(argv[i + 1], &f.until) == 0)
            f.has_until = 1;
        else if (strcmp(argv[i], "--assistant") == 0) {
            f.assistant_id.ptr = argv[i + 1];
            f.assistant_id.len = strlen(argv[i + 1]);
        } else
            argc = 0; /* unknown option or bad time: usage error below */
    }
    if (argc < 2 || argc % 2 != 0) {
        fprintf(stderr, "usage: tokens ARCHIVE [--since T] [--until T] [--assistant ID]\n");
        return 2;
    }

    char err[256];
    steparc_reader *r = NULL;
    steparc_cursor *c = NULL;
    if (steparc_reader_open(&r, argv[1], NULL, err, sizeof err) != STEPARC_OK) {
        fprintf(stderr, "tokens: %s\n", err);
        return 1;
    }
    int rc = steparc_cursor_open(&c, r, &f);
    if (rc != STEPARC_OK)
        fprintf(stderr, "tokens: %s\n", steparc_reader_errmsg(r));
    uint64_t steps = 0, with_usage = 0, by_status[6] = {0}, by_tool[4] = {0};
    int64_t prompt = 0, completion = 0, total = 0;
    uint64_t ordinal;
    const void *mp;
    size_t len;
    while (rc == STEPARC_OK && (rc = steparc_cursor_next(&ordinal, &mp, &len, c)) != STEPARC_END) {
        steparc_step *s = NULL;
        if (rc != STEPARC_OK) { /* a damaged block: stop, the totals would be wrong */
            fprintf(stderr, "tokens: %s\n", steparc_cursor_errmsg(c));
            break;
        }
        if ((rc = steparc_step_decode(&s, mp, len)) != STEPARC_OK) {
            fprintf(stderr, "tokens: record %" PRIu64 ": %s\n", ordinal, steparc_strerror(rc));
            break;
        }
        steps++;
        /* Text the schema does not list (e.g. "queued") has the _OTHER code. */
        int st = s->status.state == STEPARC_SET ? s->status.code : STEPARC_STATUS_OTHER;
        by_status[st >= 0 && st < 6 ? st : STEPARC_STATUS_OTHER]++;
        const steparc_usage *u = &s->usage.v;
        if (s->usage.state == STEPARC_SET) { /* null before a step finishes */
            with_usage++;
            /* a count written as a float or beyond int64 is kept as OTHER: skipped */
            prompt += u->prompt_tokens.state == STEPARC_SET ? u->prompt_tokens.v : 0;
            completion += u->completion_tokens.state == STEPARC_SET ? u->completion_tokens.v : 0;
            total += u->total_tokens.state == STEPARC_SET ? u->total_tokens.v : 0;
        }
        const steparc_step_details *d = &s->step_details.v;
        if (s->step_details.state == STEPARC_SET && d->tool_calls.state == STEPARC_SET)
            for (size_t i = 0; i < d->tool_calls.count; i++) {
                int t = d->tool_calls.items[i].type.code; /* 0 when the type is absent */
                by_tool[t >= 0 && t < 4 ? t : STEPARC_TOOL_OTHER]++;
            }
        steparc_step_free(s);
    }

    printf("steps: %" PRIu64 " (%" PRIu64 " with usage)\n", steps, with_usage);
    printf("tokens: prompt %" PRId64 ", completion %" PRId64 ", total %" PRId64 "\n", prompt,
           completion, total);
    for (int i = 0; i < 6; i++)
        if (by_status[i])
            printf("status %s: %" PRIu64 "\n", status_names[i], by_status[i]);
    for (int i = 0; i < 4; i++)
        if (by_tool[i])
            printf("tool %s: %" PRIu64 "\n", tool_names[i], by_tool[i]);
    steparc_cursor_close(c);
    steparc_reader_close(r);
    return rc == STEPARC_END ? 0 : 1;
}
