/* cmd_transcript.c - steparc transcript: threads as text, Markdown or HTML,
 * rendered by the library (steparc_transcript_render); this file picks the
 * threads, the width and colours, and writes the files (a temporary file
 * renamed into place). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

enum { OPT_THREAD = CLI_OPT_FIRST_COMMAND, OPT_RUN, OPT_SINCE, OPT_UNTIL, OPT_COLOR };

/* Writes data to path through path.tmpXXXXXX and a rename. 0 or EXIT_BAD. */
static int write_file(const char *path, const steparc_buf *b)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) {
        cli_msg("transcript: out of memory");
        return EXIT_BAD;
    }
    snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp), st = 0;
    if (fd < 0) {
        cli_msg("transcript: %s: %s", tmp, strerror(errno));
        free(tmp);
        return EXIT_BAD;
    }
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = -1;
            break;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || close(fd) != 0)
        st = -1;
    if (st == 0 && rename(tmp, path) != 0)
        st = -1;
    if (st != 0) {
        cli_msg("transcript: %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return st ? EXIT_BAD : 0;
}

/* Every thread id of the archive, in archive order: thread records, then
 * thread_ids of messages and steps whose thread has no record. */
static int all_threads(steparc_reader *r, steparc_str **out, size_t *n, steparc_buf *keys)
{
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_THREAD) | STEPARC_KIND_BIT(STEPARC_KIND_MESSAGE);
    steparc_cursor *c = NULL;
    int rc = steparc_cursor_open(&c, r, &f);
    uint64_t ord;
    const void *mp;
    size_t len;
    size_t cap = 0;
    size_t *offs = NULL, *lens = NULL;
    while (rc == 0 && (rc = steparc_cursor_next(&ord, &mp, &len, c)) == 0) {
        int kind = 0;
        steparc_record_kind(&kind, mp, len);
        steparc_message *m = NULL;
        if (steparc_message_decode(&m, mp, len) != 0)
            continue;
        const steparc_opt_str *id = kind == STEPARC_KIND_THREAD ? &m->id : &m->thread_id;
        int seen = id->state != STEPARC_SET || id->v.len == 0;
        for (size_t i = 0; !seen && i < *n; i++)
            seen = lens[i] == id->v.len && memcmp(keys->data + offs[i], id->v.ptr, lens[i]) == 0;
        if (!seen) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                offs = realloc(offs, cap * sizeof *offs);
                lens = realloc(lens, cap * sizeof *lens);
                if (!offs || !lens)
                    abort();
            }
            offs[*n] = keys->len;
            lens[*n] = id->v.len;
            (*n)++;
            if (cli_buf_add(keys, id->v.ptr, id->v.len))
                abort();
        }
        steparc_message_free(m);
    }
    steparc_cursor_close(c);
    *out = calloc(*n ? *n : 1, sizeof **out);
    for (size_t i = 0; *out && i < *n; i++) {
        (*out)[i].ptr = keys->data + offs[i];
        (*out)[i].len = lens[i];
    }
    free(offs);
    free(lens);
    return rc == STEPARC_END ? 0 : rc;
}

static unsigned term_width(void)
{
    const char *c = getenv("COLUMNS");
    uint64_t v;
    if (c && cli_parse_u64(c, &v) == 0 && v > 0 && v < 10000)
        return (unsigned)v;
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 0;
}

static int render_to(steparc_buf *out, steparc_reader *r, steparc_transcript_options *o)
{
    int rc = steparc_transcript_render(out, r, o);
    if (rc != 0)
        cli_msg("transcript: %s", rc == STEPARC_E_NOTFOUND ? "no such thread in the archive"
                                                            : steparc_reader_errmsg(r));
    return rc ? EXIT_BAD : 0;
}

/* -o DIR with html: THREAD.html for each thread, and index.html. */
static int write_dir(const char *dir, steparc_reader *r, steparc_transcript_options *o)
{
    steparc_buf out = {0};
    int st = 0;
    const steparc_str *all = o->threads;
    size_t n = o->nthreads;
    size_t plen = strlen(dir) + 16;
    for (size_t i = 0; st == 0 && i < n; i++) {
        const steparc_str *t = &all[i];
        if (memchr(t->ptr, '/', t->len) || (t->len <= 2 && t->ptr[0] == '.')) {
            cli_msg("transcript: thread id %.*s cannot be a file name", (int)t->len, t->ptr);
            st = EXIT_BAD;
            break;
        }
        o->threads = t;
        o->nthreads = 1;
        st = render_to(&out, r, o);
        char *p = malloc(plen + t->len);
        if (!p)
            abort();
        snprintf(p, plen + t->len, "%s/%.*s.html", dir, (int)t->len, t->ptr);
        if (st == 0)
            st = write_file(p, &out);
        free(p);
    }
    o->threads = all;
    o->nthreads = n;
    o->flags |= STEPARC_TR_INDEX;
    if (st == 0 && (st = render_to(&out, r, o)) == 0) {
        char *p = malloc(plen);
        if (!p)
            abort();
        snprintf(p, plen, "%s/index.html", dir);
        st = write_file(p, &out);
        free(p);
    }
    steparc_buf_free(&out);
    return st;
}

int cli_transcript(const cli_command *cmd, int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_HELP_OPTION,
        {"thread", required_argument, NULL, OPT_THREAD},
        {"run", required_argument, NULL, OPT_RUN},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"format", required_argument, NULL, CLI_OPT_FORMAT},
        {"output", required_argument, NULL, 'o'},
        {"color", optional_argument, NULL, OPT_COLOR},
        {"colour", optional_argument, NULL, OPT_COLOR},
        {NULL, 0, NULL, 0},
    };
    steparc_transcript_options o;
    steparc_transcript_options_init(&o);
    steparc_str *threads = NULL;
    size_t nthreads = 0;
    const char *outpath = NULL;
    int colormode = 0; /* 0 auto, 1 always, -1 never */
    cli_args a;
    int c, status;
    cli_args_init(&a, cmd, argc, argv);
    while ((c = cli_getopt(&a, ":ho:", longopts)) != -1) {
        switch (c) {
        case OPT_THREAD:
            threads = realloc(threads, (nthreads + 1) * sizeof *threads);
            if (!threads)
                abort();
            threads[nthreads].ptr = optarg;
            threads[nthreads++].len = strlen(optarg);
            break;
        case OPT_RUN:
            o.run_id.ptr = optarg;
            o.run_id.len = strlen(optarg);
            break;
        case OPT_SINCE:
        case OPT_UNTIL: {
            int64_t v;
            if (cli_parse_i64(optarg, &v) != 0) {
                cli_bad(&a, "--%s wants a Unix time in seconds, not '%s'",
                        c == OPT_SINCE ? "since" : "until", optarg);
                break;
            }
            if (c == OPT_SINCE)
                o.has_since = 1, o.since = v;
            else
                o.has_until = 1, o.until = v;
            break;
        }
        case CLI_OPT_FORMAT:
            if (strcmp(optarg, "text") == 0)
                o.format = STEPARC_TR_TEXT;
            else if (strcmp(optarg, "markdown") == 0 || strcmp(optarg, "md") == 0)
                o.format = STEPARC_TR_MARKDOWN;
            else if (strcmp(optarg, "html") == 0)
                o.format = STEPARC_TR_HTML;
            else
                cli_bad(&a, "--format wants text, markdown or html, not '%s'", optarg);
            break;
        case 'o':
            outpath = optarg;
            break;
        case OPT_COLOR:
            if (!optarg || strcmp(optarg, "always") == 0)
                colormode = 1;
            else if (strcmp(optarg, "never") == 0)
                colormode = -1;
            else if (strcmp(optarg, "auto") == 0)
                colormode = 0;
            else
                cli_bad(&a, "--color wants auto, always or never, not '%s'", optarg);
            break;
        default:
            break;
        }
    }
    if (cli_args_done(&a, &status)) {
        free(threads);
        return status;
    }
    if (optind + 1 != argc) {
        free(threads);
        return cli_usage_error("transcript", "one ARCHIVE wanted");
    }
    steparc_reader *r = NULL;
    steparc_buf keys = {0}, out = {0};
    status = EXIT_BAD;
    if (cli_open_archive("transcript", argv[optind], &r))
        goto done;
    if (nthreads == 0) {
        if (all_threads(r, &threads, &nthreads, &keys) != 0) {
            cli_msg("transcript: %s", steparc_reader_errmsg(r));
            goto done;
        }
        if (nthreads == 0) {
            cli_msg("transcript: the archive holds no thread");
            goto done;
        }
    }
    o.threads = threads;
    o.nthreads = nthreads;
    int tty = !outpath && isatty(STDOUT_FILENO);
    if (o.format == STEPARC_TR_TEXT) {
        const char *nc = getenv("NO_COLOR");
        if (colormode > 0 || (colormode == 0 && tty && !(nc && *nc)))
            o.flags |= STEPARC_TR_COLOR;
        o.width = tty || getenv("COLUMNS") ? term_width() : 0;
    }
    struct stat sb;
    if (outpath && o.format == STEPARC_TR_HTML && stat(outpath, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        status = write_dir(outpath, r, &o);
        goto done;
    }
    if (render_to(&out, r, &o) != 0)
        goto done;
    if (outpath) {
        status = write_file(outpath, &out);
    } else {
        cli_stdout_init();
        status = cli_out_write(out.data, out.len) != 0 ? EXIT_BAD : cli_out_flush();
    }
done:
    steparc_buf_free(&out);
    steparc_buf_free(&keys);
    free(threads);
    steparc_reader_close(r);
    return status;
}
