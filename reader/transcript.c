/* transcript.c - a thread's history as text, Markdown or one HTML page.
 *
 * One walker (render_thread) goes through a thread view and calls a few
 * primitives (header, paragraph, code block, info line, block open/close);
 * each primitive switches on the format. So the CLI and the Python binding
 * share one implementation, and every untrusted text reaches the output
 * through put_text, which escapes it for HTML. Pure over the reader. */
#include <stdarg.h>
#include <stdio.h>

#include "common.h"
#include "steparc.h"

#define LONG_LINES 12    /* html: code blocks longer than this are collapsed */
#define LONG_BYTES 1200

typedef struct {
    size_t id_off, id_len, name_off, name_len;
} fname;

typedef struct {
    steparc_buf *out;
    steparc_reader *r;
    const steparc_transcript_options *o;
    int fmt;
    int color;
    unsigned width;
    unsigned indent;   /* text: current indentation */
    steparc_buf tmp, tmp2, js, names;
    fname *files;
    size_t nfiles, capfiles;
    int rc;            /* first failure (STEPARC_E_NOMEM) */
} rd;

/* ---- low level output ------------------------------------------------------ */

/* not inlined: gcc would otherwise check sa_buf_append's copy paths against
 * each short literal and warn about the paths not taken */
__attribute__((noinline)) static void put(rd *d, const char *s, size_t n)
{
    if (d->rc == 0 && sa_buf_append(d->out, s, n) != 0)
        d->rc = STEPARC_E_NOMEM;
}

static void puts_(rd *d, const char *s)
{
    put(d, s, strlen(s));
}

static void bprintf(steparc_buf *b, int *rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bprintf(steparc_buf *b, int *rc, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        if (*rc == 0 && sa_buf_append(b, small, (size_t)n) != 0)
            *rc = STEPARC_E_NOMEM;
        return;
    }
    if (*rc == 0 && sa_buf_reserve(b, (size_t)n + 1) != 0) {
        *rc = STEPARC_E_NOMEM;
        return;
    }
    if (*rc == 0) {
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
    }
}

/* Untrusted text: HTML-escaped in html, as is otherwise. */
static void put_text(rd *d, const char *s, size_t n)
{
    if (d->fmt != STEPARC_TR_HTML) {
        put(d, s, n);
        return;
    }
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        default: break;
        }
        if (e) {
            put(d, s + from, i - from);
            puts_(d, e);
            from = i + 1;
        }
    }
    put(d, s + from, n - from);
}

static void put_indent(rd *d)
{
    for (unsigned i = 0; i < d->indent; i++)
        put(d, " ", 1);
}

static void color(rd *d, const char *code)
{
    if (d->color)
        puts_(d, code);
}

#define C_RESET "\033[0m"
#define C_USER "\033[1;36m"
#define C_ASSISTANT "\033[1;32m"
#define C_RUN "\033[1;33m"
#define C_STEP "\033[33m"
#define C_DIM "\033[2m"
#define C_ERR "\033[1;31m"
#define C_TITLE "\033[1;35m"

/* UTF-8 columns of s[0..n) (continuation bytes do not count). */
static size_t columns(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* text: s wrapped at word boundaries to the width, each line indented. */
static void put_wrapped(rd *d, const char *s, size_t n)
{
    size_t i = 0;
    while (i <= n) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        /* one source line [i, e) */
        size_t p = i;
        do {
            put_indent(d);
            size_t room = d->width > d->indent + 20 ? d->width - d->indent : 0;
            size_t q = e;
            if (room && columns(s + p, e - p) > room) {
                size_t cols = 0, last_space = 0;
                for (q = p; q < e && cols < room; q++) {
                    cols += ((unsigned char)s[q] & 0xC0) != 0x80;
                    if (s[q] == ' ')
                        last_space = q;
                }
                while (q < e && ((unsigned char)s[q] & 0xC0) == 0x80)
                    q++;
                if (last_space > p && q < e)
                    q = last_space;
            }
            put(d, s + p, q - p);
            put(d, "\n", 1);
            p = q;
            while (p < e && s[p] == ' ' && q != e)
                p++;
        } while (p < e);
        i = e + 1;
    }
}

/* ---- the primitives ---------------------------------------------------------------- */

/* A block (message, run, step, tool call): html a <div> with a class and an
 * optional data-id; the others nothing. */
static void block_open(rd *d, const char *cls, const char *id, size_t idlen)
{
    if (d->fmt == STEPARC_TR_HTML) {
        puts_(d, "<div class=\"");
        puts_(d, cls);
        puts_(d, "\"");
        if (idlen) {
            puts_(d, " data-id=\"");
            put_text(d, id, idlen);
            puts_(d, "\"");
        }
        puts_(d, ">\n");
    }
    d->indent += 2;
}

static void block_close(rd *d)
{
    if (d->fmt == STEPARC_TR_HTML)
        puts_(d, "</div>\n");
    d->indent -= 2;
    if (d->fmt != STEPARC_TR_HTML && d->indent == 0)
        puts_(d, "\n");
}

/* A header line: level 2 message, 3 run, 4 step, 5 tool call. */
static void header(rd *d, int level, const char *ccode, const char *s, size_t n)
{
    if (d->fmt == STEPARC_TR_HTML) {
        puts_(d, "<div class=\"hd\">");
        put_text(d, s, n);
        puts_(d, "</div>\n");
    } else if (d->fmt == STEPARC_TR_MARKDOWN) {
        static const char hashes[] = "######";
        put(d, "\n", 1);
        put(d, hashes, (size_t)(level + 1 < 6 ? level + 1 : 6));
        put(d, " ", 1);
        put(d, s, n);
        put(d, "\n\n", 2);
    } else {
        d->indent -= 2;
        color(d, ccode);
        put_wrapped(d, s, n);
        color(d, C_RESET);
        d->indent += 2;
    }
}

/* Message text. */
static void paragraph(rd *d, const char *s, size_t n)
{
    if (d->fmt == STEPARC_TR_HTML) {
        puts_(d, "<div class=\"text\">");
        put_text(d, s, n);
        puts_(d, "</div>\n");
    } else if (d->fmt == STEPARC_TR_MARKDOWN) {
        put(d, s, n);
        puts_(d, "\n\n");
    } else {
        put_wrapped(d, s, n);
    }
}

/* An info line (status, tokens, a citation, an error when cls is "err"). */
static void line(rd *d, const char *cls, const char *s, size_t n)
{
    int err = strcmp(cls, "err") == 0;
    if (d->fmt == STEPARC_TR_HTML) {
        puts_(d, "<div class=\"");
        puts_(d, cls);
        puts_(d, "\">");
        put_text(d, s, n);
        puts_(d, "</div>\n");
    } else if (d->fmt == STEPARC_TR_MARKDOWN) {
        puts_(d, err ? "> **" : "> ");
        put(d, s, n);
        puts_(d, err ? "**\n\n" : "\n\n");
    } else {
        color(d, err ? C_ERR : C_DIM);
        put_wrapped(d, s, n);
        color(d, C_RESET);
    }
}

/* A code block under a label; html collapses long ones. */
static void code(rd *d, const char *label, const char *s, size_t n)
{
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += s[i] == '\n';
    if (d->fmt == STEPARC_TR_HTML) {
        int fold = lines > LONG_LINES || n > LONG_BYTES;
        if (fold) {
            char sum[64];
            snprintf(sum, sizeof sum, " (%zu lines, %zu bytes)", lines, n);
            puts_(d, "<details><summary>");
            put_text(d, label, strlen(label));
            puts_(d, sum);
            puts_(d, "</summary>");
        } else {
            puts_(d, "<div class=\"lbl\">");
            put_text(d, label, strlen(label));
            puts_(d, "</div>");
        }
        puts_(d, "<pre>");
        put_text(d, s, n);
        puts_(d, fold ? "</pre></details>\n" : "</pre>\n");
    } else if (d->fmt == STEPARC_TR_MARKDOWN) {
        size_t ticks = 3, run = 0; /* a fence longer than any backtick run inside */
        for (size_t i = 0; i < n; i++) {
            run = s[i] == '`' ? run + 1 : 0;
            if (run >= ticks)
                ticks = run + 1;
        }
        puts_(d, "*");
        puts_(d, label);
        puts_(d, "*\n\n");
        for (size_t i = 0; i < ticks; i++)
            put(d, "`", 1);
        puts_(d, "\n");
        put(d, s, n);
        if (n == 0 || s[n - 1] != '\n')
            puts_(d, "\n");
        for (size_t i = 0; i < ticks; i++)
            put(d, "`", 1);
        puts_(d, "\n\n");
    } else {
        put_indent(d);
        color(d, C_DIM);
        puts_(d, label);
        color(d, C_RESET);
        puts_(d, "\n");
        d->indent += 2;
        size_t i = 0;
        while (i < n) {
            size_t e = i;
            while (e < n && s[e] != '\n')
                e++;
            put_indent(d);
            put(d, s + i, e - i);
            put(d, "\n", 1);
            i = e + 1;
        }
        d->indent -= 2;
    }
}

/* ---- values --------------------------------------------------------------------- */

/* UTC ISO 8601 of a Unix time (days to civil date, Howard Hinnant's method). */
static void iso_time(char out[32], int64_t t)
{
    if (t < -62135596800LL || t > 253402300799LL) { /* outside years 1..9999 */
        snprintf(out, 32, "@%lld", (long long)t);
        return;
    }
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    y += mm <= 2;
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y % 10000, (int)mm & 15, (int)dd & 31,
             (int)(secs / 3600) & 31, (int)(secs / 60 % 60) & 63, (int)(secs % 60) & 63);
}

static const char *when(char buf[32], const steparc_opt_int *t)
{
    if (t->state != STEPARC_SET)
        return "no time";
    iso_time(buf, t->v);
    return buf;
}

#define S(os) ((os).state == STEPARC_SET ? (int)(os).v.len : 0), ((os).state == STEPARC_SET ? (os).v.ptr : "")

/* JSON text pretty-printed into d->js when it parses, else copied. */
static void pretty_json(rd *d, const char *s, size_t n)
{
    d->js.len = 0;
    if (steparc_json_to_msgpack(&d->tmp2, s, n, 0, NULL) == 0 &&
        steparc_msgpack_to_json(&d->js, d->tmp2.data, d->tmp2.len, STEPARC_JSON_PRETTY) == 0)
        return;
    d->js.len = 0;
    if (sa_buf_append(&d->js, s, n) != 0)
        d->rc = STEPARC_E_NOMEM;
}

static int remember_name(rd *d, steparc_str id, steparc_str name)
{
    for (size_t i = 0; i < d->nfiles; i++)
        if (d->files[i].id_len == id.len && memcmp(d->names.data + d->files[i].id_off, id.ptr, id.len) == 0)
            return 0;
    if (SA_GROW(d->files, d->capfiles, d->nfiles, 16) != 0)
        return STEPARC_E_NOMEM;
    fname *f = &d->files[d->nfiles];
    f->id_off = d->names.len;
    f->id_len = id.len;
    if (sa_buf_append(&d->names, id.ptr, id.len) != 0)
        return STEPARC_E_NOMEM;
    f->name_off = d->names.len;
    f->name_len = name.len;
    if (sa_buf_append(&d->names, name.ptr, name.len) != 0)
        return STEPARC_E_NOMEM;
    d->nfiles++;
    return 0;
}

/* The name of file id: a file record's "filename", else a name a
 * file_search result of the thread gave, else empty. */
static steparc_str file_name(rd *d, const char *id, size_t len)
{
    steparc_str none = {"", 0};
    for (size_t i = 0; i < d->nfiles; i++)
        if (d->files[i].id_len == len && memcmp(d->names.data + d->files[i].id_off, id, len) == 0) {
            steparc_str s = {d->names.data + d->files[i].name_off, d->files[i].name_len};
            return s;
        }
    uint64_t ord;
    steparc_step *f = NULL;
    steparc_str got = none, key = {id, len};
    if (len && steparc_reader_find_id(&ord, d->r, id, len) == 0 &&
        steparc_reader_get_step(&f, d->r, ord) == 0) {
        for (size_t i = 0; i < f->extra.count; i++) {
            const steparc_member *m = &f->extra.items[i];
            if (m->key.len == 8 && memcmp(m->key.ptr, "filename", 8) == 0 &&
                m->value.type == STEPARC_V_STRING)
                got = m->value.v.s;
        }
        if (got.len && remember_name(d, key, got) != 0)
            d->rc = STEPARC_E_NOMEM;
    }
    steparc_step_free(f);
    return got.len && d->rc == 0 ? file_name(d, id, len) : none;
}

/* ---- messages --------------------------------------------------------------------- */

/* A citation line: "[k] name (file id): quote". */
static void citation(rd *d, size_t k, const steparc_annotation *a)
{
    const steparc_opt_str *fid = a->file_citation.state == STEPARC_SET ? &a->file_citation.v.file_id
                                 : a->file_path.state == STEPARC_SET   ? &a->file_path.v.file_id
                                                                       : NULL;
    d->tmp.len = 0;
    bprintf(&d->tmp, &d->rc, "[%zu] %s", k,
            a->file_path.state == STEPARC_SET ? "file path: " : "");
    if (fid && fid->state == STEPARC_SET) {
        steparc_str nm = file_name(d, fid->v.ptr, fid->v.len);
        if (nm.len)
            bprintf(&d->tmp, &d->rc, "%.*s (%.*s)", (int)nm.len, nm.ptr, S(*fid));
        else
            bprintf(&d->tmp, &d->rc, "%.*s", S(*fid));
    } else {
        bprintf(&d->tmp, &d->rc, "(no file)");
    }
    if (a->file_citation.state == STEPARC_SET && a->file_citation.v.quote.state == STEPARC_SET &&
        a->file_citation.v.quote.v.len)
        bprintf(&d->tmp, &d->rc, ": \"%.*s\"", S(a->file_citation.v.quote));
    line(d, "cite", d->tmp.data, d->tmp.len);
}

/* A text part: the value with each annotation's span replaced by [k]
 * (numbered across the message from *k), then the citations. */
static void text_part(rd *d, const steparc_msg_text *t, size_t *k)
{
    const char *s = t->value.state == STEPARC_SET ? t->value.v.ptr : "";
    size_t n = t->value.state == STEPARC_SET ? t->value.v.len : 0;
    size_t na = t->annotations.state == STEPARC_SET ? t->annotations.count : 0;
    const steparc_annotation *an = t->annotations.items;
    steparc_buf body = {0};
    for (size_t i = 0; i < n;) {
        size_t hit = na;
        for (size_t j = 0; j < na; j++) {
            const steparc_opt_str *at = &an[j].text;
            if (at->state == STEPARC_SET && at->v.len && at->v.len <= n - i &&
                memcmp(s + i, at->v.ptr, at->v.len) == 0) {
                hit = j;
                break;
            }
        }
        if (hit < na) {
            bprintf(&body, &d->rc, "[%zu]", *k + hit + 1);
            i += an[hit].text.v.len;
        } else {
            if (sa_buf_append(&body, s + i, 1) != 0)
                d->rc = STEPARC_E_NOMEM;
            i++;
        }
    }
    paragraph(d, body.data ? body.data : "", body.len);
    steparc_buf_free(&body);
    for (size_t j = 0; j < na; j++)
        citation(d, *k + j + 1, &an[j]);
    *k += na;
}

static void content_part(rd *d, const steparc_content_part *p, size_t *k)
{
    d->tmp.len = 0;
    switch (p->type.code) {
    case STEPARC_PART_TEXT:
        if (p->text.state == STEPARC_SET)
            text_part(d, &p->text.v, k);
        return;
    case STEPARC_PART_IMAGE_FILE:
        bprintf(&d->tmp, &d->rc, "[image: %.*s]",
                p->image_file.state == STEPARC_SET ? (int)p->image_file.v.file_id.v.len : 0,
                p->image_file.state == STEPARC_SET && p->image_file.v.file_id.state == STEPARC_SET
                    ? p->image_file.v.file_id.v.ptr
                    : "");
        line(d, "img", d->tmp.data, d->tmp.len);
        return;
    case STEPARC_PART_IMAGE_URL:
        bprintf(&d->tmp, &d->rc, "[image: %.*s]",
                p->image_url.state == STEPARC_SET ? (int)p->image_url.v.url.v.len : 0,
                p->image_url.state == STEPARC_SET && p->image_url.v.url.state == STEPARC_SET
                    ? p->image_url.v.url.v.ptr
                    : "");
        line(d, "img", d->tmp.data, d->tmp.len);
        return;
    case STEPARC_PART_REFUSAL:
        bprintf(&d->tmp, &d->rc, "[refusal] %.*s", S(p->refusal));
        line(d, "err", d->tmp.data, d->tmp.len);
        return;
    default:
        bprintf(&d->tmp, &d->rc, "[content part of type %.*s]", S(p->type));
        line(d, "note", d->tmp.data, d->tmp.len);
        return;
    }
}

static void render_message(rd *d, const steparc_message *m)
{
    char t[32];
    int user = m->role.code == STEPARC_ROLE_USER;
    block_open(d, user ? "msg user" : "msg assistant", m->id.v.ptr,
               m->id.state == STEPARC_SET ? m->id.v.len : 0);
    d->tmp.len = 0;
    bprintf(&d->tmp, &d->rc, "%.*s · %s · %.*s", S(m->role), when(t, &m->created_at), S(m->id));
    if (m->status.state == STEPARC_SET && m->status.code != STEPARC_MSG_STATUS_COMPLETED)
        bprintf(&d->tmp, &d->rc, " · %.*s", S(m->status));
    header(d, 2, user ? C_USER : C_ASSISTANT, d->tmp.data, d->tmp.len);
    size_t k = 0;
    for (size_t i = 0; m->content.state == STEPARC_SET && i < m->content.count; i++)
        content_part(d, &m->content.items[i], &k);
    if (m->incomplete_details.state == STEPARC_SET) {
        d->tmp.len = 0;
        bprintf(&d->tmp, &d->rc, "incomplete: %.*s", S(m->incomplete_details.v.reason));
        line(d, "err", d->tmp.data, d->tmp.len);
    }
    for (size_t i = 0; m->attachments.state == STEPARC_SET && i < m->attachments.count; i++) {
        const steparc_opt_str *f = &m->attachments.items[i].file_id;
        steparc_str nm = f->state == STEPARC_SET ? file_name(d, f->v.ptr, f->v.len) : (steparc_str){"", 0};
        d->tmp.len = 0;
        bprintf(&d->tmp, &d->rc, "attachment: %.*s%s%.*s%s", (int)nm.len, nm.ptr, nm.len ? " (" : "",
                S(*f), nm.len ? ")" : "");
        line(d, "note", d->tmp.data, d->tmp.len);
    }
    block_close(d);
}

/* ---- runs and steps ----------------------------------------------------------------- */

static void error_line(rd *d, const steparc_last_error *e)
{
    d->tmp.len = 0;
    bprintf(&d->tmp, &d->rc, "error: %.*s: %.*s", S(e->code), S(e->message));
    line(d, "err", d->tmp.data, d->tmp.len);
}

static void tokens(rd *d, const steparc_opt_int *p, const steparc_opt_int *c,
                   const steparc_opt_int *t)
{
    if (t->state != STEPARC_SET)
        return;
    d->tmp.len = 0;
    bprintf(&d->tmp, &d->rc, "tokens: %lld (prompt %lld, completion %lld)", (long long)t->v,
            p->state == STEPARC_SET ? (long long)p->v : 0LL,
            c->state == STEPARC_SET ? (long long)c->v : 0LL);
    line(d, "tok", d->tmp.data, d->tmp.len);
}

static void render_run(rd *d, const steparc_run *run)
{
    char t[32];
    block_open(d, "run", run->id.v.ptr, run->id.state == STEPARC_SET ? run->id.v.len : 0);
    d->tmp.len = 0;
    bprintf(&d->tmp, &d->rc, "run %.*s · %.*s · %s", S(run->id), S(run->status),
            when(t, &run->created_at));
    if (run->model.state == STEPARC_SET)
        bprintf(&d->tmp, &d->rc, " · %.*s", S(run->model));
    if (run->assistant_id.state == STEPARC_SET)
        bprintf(&d->tmp, &d->rc, " · %.*s", S(run->assistant_id));
    header(d, 3, C_RUN, d->tmp.data, d->tmp.len);
    if (run->usage.state == STEPARC_SET)
        tokens(d, &run->usage.v.prompt_tokens, &run->usage.v.completion_tokens,
               &run->usage.v.total_tokens);
    if (run->last_error.state == STEPARC_SET)
        error_line(d, &run->last_error.v);
    if (run->incomplete_details.state == STEPARC_SET) {
        d->tmp.len = 0;
        bprintf(&d->tmp, &d->rc, "incomplete: %.*s", S(run->incomplete_details.v.reason));
        line(d, "err", d->tmp.data, d->tmp.len);
    }
    block_close(d);
}

static void function_call(rd *d, const steparc_function *f)
{
    if (f->arguments.state == STEPARC_SET) {
        pretty_json(d, f->arguments.v.ptr, f->arguments.v.len);
        code(d, "arguments", d->js.data ? d->js.data : "", d->js.len);
    }
    if (f->output.state == STEPARC_SET) {
        pretty_json(d, f->output.v.ptr, f->output.v.len);
        code(d, "output", d->js.data ? d->js.data : "", d->js.len);
    } else {
        line(d, "note", "no output submitted", 19);
    }
}

static void code_interpreter(rd *d, const steparc_code_interpreter *ci)
{
    if (ci->input.state == STEPARC_SET)
        code(d, "input", ci->input.v.ptr, ci->input.v.len);
    for (size_t i = 0; ci->outputs.state == STEPARC_SET && i < ci->outputs.count; i++) {
        const steparc_ci_output *o = &ci->outputs.items[i];
        if (o->logs.state == STEPARC_SET)
            code(d, "logs", o->logs.v.ptr, o->logs.v.len);
        if (o->image.state == STEPARC_SET) {
            d->tmp.len = 0;
            bprintf(&d->tmp, &d->rc, "[image: %.*s]", S(o->image.v.file_id));
            line(d, "img", d->tmp.data, d->tmp.len);
        }
    }
}

static void file_search(rd *d, const steparc_file_search *fs)
{
    size_t nr = fs->results.state == STEPARC_SET ? fs->results.count : 0;
    if (nr == 0)
        line(d, "note", "no results recorded", 19);
    for (size_t i = 0; i < nr; i++) {
        const steparc_fs_result *res = &fs->results.items[i];
        steparc_str nm = {"", 0};
        if (res->file_name.state == STEPARC_SET)
            nm = res->file_name.v;
        else if (res->file_id.state == STEPARC_SET)
            nm = file_name(d, res->file_id.v.ptr, res->file_id.v.len);
        d->tmp.len = 0;
        bprintf(&d->tmp, &d->rc, "result %zu: %.*s (%.*s)", i + 1, (int)nm.len, nm.ptr,
                S(res->file_id));
        if (res->score.state == STEPARC_SET) {
            if (res->score.is_int)
                bprintf(&d->tmp, &d->rc, " score %lld", (long long)res->score.i);
            else
                bprintf(&d->tmp, &d->rc, " score %.4f", res->score.f);
        }
        line(d, "res", d->tmp.data, d->tmp.len);
        for (size_t j = 0; res->content.state == STEPARC_SET && j < res->content.count; j++)
            if (res->content.items[j].text.state == STEPARC_SET)
                code(d, "chunk", res->content.items[j].text.v.ptr, res->content.items[j].text.v.len);
    }
}

static void tool_call(rd *d, const steparc_tool_call *tc)
{
    block_open(d, "call", tc->id.v.ptr, tc->id.state == STEPARC_SET ? tc->id.v.len : 0);
    d->tmp.len = 0;
    if (tc->function.state == STEPARC_SET)
        bprintf(&d->tmp, &d->rc, "function %.*s · %.*s", S(tc->function.v.name), S(tc->id));
    else
        bprintf(&d->tmp, &d->rc, "%.*s · %.*s", S(tc->type), S(tc->id));
    header(d, 5, C_STEP, d->tmp.data, d->tmp.len);
    if (tc->function.state == STEPARC_SET)
        function_call(d, &tc->function.v);
    else if (tc->code_interpreter.state == STEPARC_SET)
        code_interpreter(d, &tc->code_interpreter.v);
    else if (tc->file_search.state == STEPARC_SET)
        file_search(d, &tc->file_search.v);
    block_close(d);
}

static void render_step(rd *d, const steparc_step *st, unsigned flags)
{
    char t[32], t2[32];
    block_open(d, "step", st->id.v.ptr, st->id.state == STEPARC_SET ? st->id.v.len : 0);
    d->tmp.len = 0;
    bprintf(&d->tmp, &d->rc, "step %.*s · %.*s · %.*s · %s", S(st->id), S(st->type), S(st->status),
            when(t, &st->created_at));
    if (st->completed_at.state == STEPARC_SET)
        bprintf(&d->tmp, &d->rc, " → %s", when(t2, &st->completed_at));
    header(d, 4, C_STEP, d->tmp.data, d->tmp.len);
    const steparc_step_details *det = &st->step_details.v;
    if (st->step_details.state == STEPARC_SET && det->message_creation.state == STEPARC_SET) {
        d->tmp.len = 0;
        if (flags & STEPARC_TV_MISSING_MESSAGE)
            bprintf(&d->tmp, &d->rc, "message %.*s is missing from the archive",
                    S(det->message_creation.v.message_id));
        else
            bprintf(&d->tmp, &d->rc, "writes message %.*s", S(det->message_creation.v.message_id));
        line(d, flags & STEPARC_TV_MISSING_MESSAGE ? "err" : "note", d->tmp.data, d->tmp.len);
    }
    for (size_t i = 0; st->step_details.state == STEPARC_SET && det->tool_calls.state == STEPARC_SET &&
                       i < det->tool_calls.count;
         i++)
        tool_call(d, &det->tool_calls.items[i]);
    if (st->last_error.state == STEPARC_SET)
        error_line(d, &st->last_error.v);
    if (st->usage.state == STEPARC_SET)
        tokens(d, &st->usage.v.prompt_tokens, &st->usage.v.completion_tokens,
               &st->usage.v.total_tokens);
    block_close(d);
}

/* ---- threads ------------------------------------------------------------------------ */

typedef struct {
    uint64_t messages, runs, steps;
    int64_t first, last;
} counts;

static int in_range(const rd *d, const steparc_opt_int *t)
{
    if (t->state != STEPARC_SET)
        return !d->o->has_since && !d->o->has_until;
    return (!d->o->has_since || t->v >= d->o->since) && (!d->o->has_until || t->v <= d->o->until);
}

static int in_run(const rd *d, const steparc_opt_str *run_id)
{
    const steparc_str *w = &d->o->run_id;
    return !w->ptr || (run_id->state == STEPARC_SET && run_id->v.len == w->len &&
                       memcmp(run_id->v.ptr, w->ptr, w->len) == 0);
}

static void count_time(counts *c, const steparc_opt_int *t)
{
    if (t->state != STEPARC_SET)
        return;
    if (t->v < c->first)
        c->first = t->v;
    if (t->v > c->last)
        c->last = t->v;
}

/* The names file_search results give, for citations of files the archive
 * has no record of. */
static void learn_names(rd *d, const steparc_step *st)
{
    const steparc_step_details *det = &st->step_details.v;
    if (st->step_details.state != STEPARC_SET || det->tool_calls.state != STEPARC_SET)
        return;
    for (size_t i = 0; i < det->tool_calls.count; i++) {
        const steparc_tool_call *tc = &det->tool_calls.items[i];
        if (tc->file_search.state != STEPARC_SET || tc->file_search.v.results.state != STEPARC_SET)
            continue;
        for (size_t j = 0; j < tc->file_search.v.results.count; j++) {
            const steparc_fs_result *res = &tc->file_search.v.results.items[j];
            if (res->file_id.state == STEPARC_SET && res->file_name.state == STEPARC_SET &&
                remember_name(d, res->file_id.v, res->file_name.v) != 0)
                d->rc = STEPARC_E_NOMEM;
        }
    }
}

/* One record of the view: counted (c non-NULL) or rendered. */
static int visit(rd *d, const steparc_tv_entry *e, counts *c)
{
    int rc = 0;
    if (e->kind == STEPARC_KIND_MESSAGE) {
        steparc_message *m = NULL;
        if ((rc = steparc_message_decode(&m, e->mp, e->mp_len)) != 0)
            return rc;
        if (in_range(d, &m->created_at) && in_run(d, &m->run_id)) {
            if (c) {
                c->messages++;
                count_time(c, &m->created_at);
            } else {
                render_message(d, m);
            }
        }
        steparc_message_free(m);
    } else if (e->kind == STEPARC_KIND_RUN) {
        steparc_run *run = NULL;
        if ((rc = steparc_run_decode(&run, e->mp, e->mp_len)) != 0)
            return rc;
        if (in_range(d, &run->created_at) && in_run(d, &run->id)) {
            if (c) {
                c->runs++;
                count_time(c, &run->created_at);
            } else {
                render_run(d, run);
            }
        }
        steparc_run_free(run);
    } else if (e->kind == STEPARC_KIND_STEP) {
        steparc_step *st = NULL;
        if ((rc = steparc_step_decode(&st, e->mp, e->mp_len)) != 0)
            return rc;
        if (in_range(d, &st->created_at) && in_run(d, &st->run_id)) {
            if (c) {
                c->steps++;
                count_time(c, &st->created_at);
                learn_names(d, st);
            } else {
                render_step(d, st, e->flags);
            }
        }
        steparc_step_free(st);
    }
    return rc ? rc : d->rc;
}

/* Every record of the thread through visit(). */
static int walk(rd *d, const steparc_str *tid, counts *c)
{
    steparc_thread_view *v = NULL;
    steparc_tv_entry e;
    int rc = steparc_thread_view_open(&v, d->r, tid->ptr, tid->len);
    if (rc == 0 && steparc_thread_view_count(v) == 0)
        rc = STEPARC_E_NOTFOUND;
    while (rc == 0 && (rc = steparc_thread_view_next(&e, v)) == 0)
        rc = visit(d, &e, c);
    steparc_thread_view_close(v);
    return rc == STEPARC_END ? 0 : rc;
}

static int count_thread(rd *d, const steparc_str *tid, counts *c)
{
    memset(c, 0, sizeof *c);
    c->first = INT64_MAX;
    c->last = INT64_MIN;
    return walk(d, tid, c);
}

static void summary(rd *d, const counts *c)
{
    char a[32] = "", b[32] = "";
    d->tmp.len = 0;
    bprintf(&d->tmp, &d->rc, "%llu messages · %llu runs · %llu steps",
            (unsigned long long)c->messages, (unsigned long long)c->runs,
            (unsigned long long)c->steps);
    if (c->first <= c->last) {
        iso_time(a, c->first);
        iso_time(b, c->last);
        bprintf(&d->tmp, &d->rc, " · %s – %s", a, b);
    }
}

static int render_thread(rd *d, const steparc_str *tid)
{
    counts c;
    int rc = count_thread(d, tid, &c);
    if (rc != 0)
        return rc;
    summary(d, &c);
    if (d->fmt == STEPARC_TR_HTML) {
        puts_(d, "<section class=\"thread\" id=\"t-");
        put_text(d, tid->ptr, tid->len);
        puts_(d, "\"><h2>Thread ");
        put_text(d, tid->ptr, tid->len);
        puts_(d, "</h2>\n<p class=\"meta\">");
        put_text(d, d->tmp.data, d->tmp.len);
        puts_(d, "</p>\n");
    } else if (d->fmt == STEPARC_TR_MARKDOWN) {
        puts_(d, "# Thread ");
        put(d, tid->ptr, tid->len);
        puts_(d, "\n\n");
        put(d, d->tmp.data, d->tmp.len);
        puts_(d, "\n\n");
    } else {
        color(d, C_TITLE);
        puts_(d, "thread ");
        put(d, tid->ptr, tid->len);
        color(d, C_RESET);
        puts_(d, "\n");
        color(d, C_DIM);
        put_wrapped(d, d->tmp.data, d->tmp.len);
        color(d, C_RESET);
        puts_(d, "\n");
    }
    rc = walk(d, tid, NULL);
    if (d->fmt == STEPARC_TR_HTML)
        puts_(d, "</section>\n");
    return rc ? rc : d->rc;
}

/* ---- the HTML page ------------------------------------------------------------------ */

static const char g_css[] =
    "*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;background:#f6f7f9;color:#1d2330}"
    "header.top{position:sticky;top:0;z-index:2;display:flex;gap:12px;align-items:center;"
    "padding:10px 16px;background:#1d2330;color:#fff}header.top h1{font-size:16px;margin:0;"
    "flex:1}#q{width:min(320px,50vw);padding:6px 10px;border-radius:6px;border:0;font:inherit}"
    "main{max-width:960px;margin:0 auto;padding:12px}nav ul{padding-left:18px}"
    ".thread{margin:16px 0}.thread h2{font-size:18px;margin:8px 0 0;word-break:break-all}"
    ".meta{color:#5b6475;margin:2px 0 12px}"
    ".msg,.run,.step{border-radius:10px;margin:10px 0;padding:10px 14px;background:#fff;"
    "box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    ".msg.user{border-left:4px solid #2b7bd6}.msg.assistant{border-left:4px solid #1f9d55}"
    ".run{background:#fff8e6;border-left:4px solid #d99a00;font-size:14px}"
    ".step{background:#fbfbfc;border-left:4px solid #c5cad3;margin-left:18px;font-size:14px}"
    ".call{margin:6px 0 0}.hd{font-weight:600;color:#3a4252;word-break:break-word}"
    ".msg .hd{color:#1d2330}.text{white-space:pre-wrap;word-wrap:break-word;margin-top:4px}"
    ".cite,.note,.tok,.res,.img,.lbl{color:#5b6475;font-size:13px}.err{color:#b42318;font-weight:600}"
    "pre{background:#1d2330;color:#e6e9ef;padding:8px 10px;border-radius:6px;overflow:auto;"
    "font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:4px 0;"
    "white-space:pre-wrap;word-break:break-word}details summary{cursor:pointer;color:#5b6475;font-size:13px}"
    ".hide{display:none}@media (max-width:600px){.step{margin-left:6px}main{padding:6px}}";

/* Search: hides the blocks whose text lacks the query; data-ready is set
 * last, so a page showing it ran the script without an exception. */
static const char g_script[] =
    "(function(){var q=document.getElementById('q');"
    "var items=document.querySelectorAll('.msg,.run,.step');"
    "q.addEventListener('input',function(){var s=q.value.toLowerCase();"
    "for(var i=0;i<items.length;i++){var t=items[i].textContent.toLowerCase();"
    "items[i].classList.toggle('hide',s!==''&&t.indexOf(s)<0);}});"
    "document.body.setAttribute('data-ready','1');})();";

static void page_begin(rd *d, const char *title, size_t n)
{
    puts_(d, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
             "<title>");
    put_text(d, title, n);
    puts_(d, "</title>\n<style>");
    puts_(d, g_css);
    puts_(d, "</style></head>\n<body>\n<header class=\"top\"><h1>");
    put_text(d, title, n);
    puts_(d, "</h1><input id=\"q\" type=\"search\" placeholder=\"Search\" "
             "aria-label=\"Search the transcript\"></header>\n<main>\n");
}

static void page_end(rd *d)
{
    puts_(d, "</main>\n<script>");
    puts_(d, g_script);
    puts_(d, "</script>\n</body></html>\n");
}

/* The index of several threads: links to #t-ID, or ID.html (STEPARC_TR_INDEX). */
static int index_list(rd *d)
{
    puts_(d, "<nav><h2>Threads</h2><ul>\n");
    for (size_t i = 0; i < d->o->nthreads; i++) {
        counts c;
        int rc = count_thread(d, &d->o->threads[i], &c);
        if (rc != 0)
            return rc;
        summary(d, &c);
        puts_(d, "<li class=\"msg\"><a href=\"");
        if (!(d->o->flags & STEPARC_TR_INDEX))
            puts_(d, "#t-");
        put_text(d, d->o->threads[i].ptr, d->o->threads[i].len);
        if (d->o->flags & STEPARC_TR_INDEX)
            puts_(d, ".html");
        puts_(d, "\">");
        put_text(d, d->o->threads[i].ptr, d->o->threads[i].len);
        puts_(d, "</a> <span class=\"meta\">");
        put_text(d, d->tmp.data, d->tmp.len);
        puts_(d, "</span></li>\n");
    }
    puts_(d, "</ul></nav>\n");
    return d->rc;
}

void steparc_transcript_options_init(steparc_transcript_options *opt)
{
    if (opt)
        memset(opt, 0, sizeof *opt);
}

int steparc_transcript_render(steparc_buf *out, steparc_reader *r,
                              const steparc_transcript_options *opt)
{
    if (!out || !r || !opt || !opt->threads || opt->nthreads == 0 || opt->format < 0 ||
        opt->format > STEPARC_TR_HTML || (opt->flags & ~(STEPARC_TR_COLOR | STEPARC_TR_INDEX)))
        return STEPARC_E_ARG;
    rd d;
    memset(&d, 0, sizeof d);
    d.out = out;
    d.r = r;
    d.o = opt;
    d.fmt = opt->format;
    d.color = opt->format == STEPARC_TR_TEXT && (opt->flags & STEPARC_TR_COLOR);
    d.width = opt->format == STEPARC_TR_TEXT ? opt->width : 0;
    out->len = 0;
    int rc = 0;
    int html = d.fmt == STEPARC_TR_HTML;
    if (html) {
        const steparc_str *t = &opt->threads[0];
        if (opt->nthreads == 1 && !(opt->flags & STEPARC_TR_INDEX))
            page_begin(&d, t->ptr, t->len);
        else
            page_begin(&d, "Transcripts", 11);
        if (opt->nthreads > 1 || (opt->flags & STEPARC_TR_INDEX))
            rc = index_list(&d);
    }
    for (size_t i = 0; rc == 0 && !(html && (opt->flags & STEPARC_TR_INDEX)) && i < opt->nthreads; i++)
        rc = render_thread(&d, &opt->threads[i]);
    if (rc == 0 && html)
        page_end(&d);
    if (rc == 0)
        rc = d.rc;
    steparc_buf_free(&d.tmp);
    steparc_buf_free(&d.tmp2);
    steparc_buf_free(&d.js);
    steparc_buf_free(&d.names);
    sa_free(d.files);
    if (rc != 0)
        out->len = 0;
    return rc;
}
