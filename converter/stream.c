/* stream.c - event-stream captures ("event: NAME" / "data: JSON" lines).
 *
 * Framing as SSE: an event is its "event:" name and its "data:" lines (joined
 * with '\n'), ended by a blank line; saved captures also lack blank lines
 * (a new "event:" line then ends the previous event) or end without one.
 *
 * Full objects (threads, runs, steps, messages) go to the record-level
 * dispatch as they come; the writer's dedup keeps the most advanced one.
 * Step and message deltas are kept per object until its final event; at the
 * end of a stream an object whose final event never came is rebuilt from its
 * last full object plus the deltas after it (the merge is delta.c). */
#include <stdio.h>
#include <stdlib.h>

#include "convert_internal.h"
#include "delta.h"

/* ---- pending objects ---------------------------------------------------------------- */

static sa_pending *find_pending(steparc_converter *c, int kind, steparc_str id, int create)
{
    for (size_t i = 0; i < c->npend; i++)
        if (c->pend[i].kind == kind && c->pend[i].idlen == id.len &&
            memcmp(c->pend[i].id, id.ptr, id.len) == 0)
            return &c->pend[i];
    if (!create)
        return NULL;
    if (SA_GROW(c->pend, c->cappend, c->npend, 16) != 0)
        return NULL;
    sa_pending *p = &c->pend[c->npend];
    memset(p, 0, sizeof *p);
    p->id = (char *)sa_malloc(id.len ? id.len : 1);
    if (p->id == NULL)
        return NULL;
    memcpy(p->id, id.ptr, id.len);
    p->idlen = id.len;
    p->kind = kind;
    c->npend++;
    return p;
}

static void drop_pending(steparc_converter *c, sa_pending *p)
{
    sa_free(p->id);
    steparc_buf_free(&p->base);
    steparc_buf_free(&p->deltas);
    size_t i = (size_t)(p - c->pend);
    memmove(p, p + 1, (c->npend - i - 1) * sizeof *p);
    c->npend--;
}

void sa_conv_drop_pending(steparc_converter *c)
{
    while (c->npend)
        drop_pending(c, &c->pend[c->npend - 1]);
}

/* A status after which a step or message gets no more deltas. */
static int is_final(int kind, steparc_str s)
{
    static const char *const step[] = {"completed", "failed", "cancelled", "expired"};
    static const char *const msg[] = {"completed", "incomplete"};
    const char *const *t = kind == STEPARC_KIND_STEP ? step : msg;
    size_t n = kind == STEPARC_KIND_STEP ? 4 : 2;
    for (size_t i = 0; i < n; i++)
        if (sa_str_is(s, t[i]))
            return 1;
    return 0;
}

/* Notes a full step or message object (after it was archived). A final one
 * ends it: its final state is in the archive, deltas need no rebuild. */
static int track_full(steparc_converter *c, const unsigned char *mp, size_t len)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0 || kf.id.ptr == NULL || kf.id.len == 0)
        return 0;
    int kind = sa_conv_kind(&kf);
    if (kind != STEPARC_KIND_STEP && kind != STEPARC_KIND_MESSAGE)
        return 0;
    if (is_final(kind, kf.status)) {
        sa_pending *done = find_pending(c, kind, kf.id, 0);
        if (done)
            drop_pending(c, done);
        return 0;
    }
    sa_pending *p = find_pending(c, kind, kf.id, 1);
    if (p == NULL)
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    p->base.len = 0;
    p->deltas.len = 0;
    p->ndeltas = 0;
    if (sa_buf_append(&p->base, mp, len) != 0)
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    p->have_base = 1;
    return 0;
}

/* Keeps a delta event of a step or message (kind) for a rebuild. */
static int track_delta(steparc_converter *c, int kind, const unsigned char *mp, size_t len)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0 || kf.id.ptr == NULL || kf.id.len == 0)
        return 0;
    sa_pending *p = find_pending(c, kind, kf.id, 1);
    if (p == NULL)
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    if (sa_buf_append(&p->deltas, mp, len) != 0)
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    p->ndeltas++;
    return 0;
}

/* ---- rebuilding ----------------------------------------------------------------------- */

/* Reports an object whose deltas were not applied (detail says why). */
static void report_unrebuilt(steparc_converter *c, const char *detail)
{
    c->st.unrebuilt++;
    if (c->opt.skipped)
        c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_DELTA, c->name, c->line, 1, detail, NULL, 0);
}

/* Merges p's deltas into its last full object: *out its MessagePack. */
static int merge_deltas(const sa_pending *p, steparc_buf *out)
{
    sa_tree *base = NULL;
    sa_tree **ds = (sa_tree **)sa_calloc(p->ndeltas, sizeof *ds);
    int rc = ds ? sa_tree_from_mp(&base, p->base.data, p->base.len) : STEPARC_E_NOMEM;
    sa_mpr r = {(const unsigned char *)p->deltas.data,
                (const unsigned char *)p->deltas.data + p->deltas.len};
    for (size_t k = 0; k < p->ndeltas && rc == 0; k++) {
        const unsigned char *st = r.p;
        if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0) {
            rc = STEPARC_E_INPUT;
            break;
        }
        rc = sa_tree_from_mp(&ds[k], st, (size_t)(r.p - st));
        const steparc_value *dv = rc == 0 ? sa_value_get(sa_tree_root(ds[k]), "delta") : NULL;
        if (dv && dv->type == STEPARC_V_OBJECT)
            rc = sa_tree_merge(base, ds[k], dv);
    }
    if (rc == 0)
        rc = sa_tree_drop_index(base);
    if (rc == 0)
        rc = sa_tree_to_mp(base, out);
    sa_tree_free(base);
    for (size_t k = 0; ds && k < p->ndeltas; k++)
        sa_tree_free(ds[k]);
    sa_free(ds);
    return rc;
}

/* Rebuilds one pending object (with deltas) and archives it; out: scratch. */
static int rebuild_one(steparc_converter *c, const sa_pending *p, steparc_buf *out)
{
    char detail[200];
    int idl = (int)(p->idlen > 60 ? 60 : p->idlen);
    const char *what = p->kind == STEPARC_KIND_STEP ? "step" : "message";
    if (!p->have_base) {
        snprintf(detail, sizeof detail, "%zu delta(s) of %s \"%.*s\" with no %s object to apply them to",
                 p->ndeltas, what, idl, p->id, what);
        report_unrebuilt(c, detail);
        return 0;
    }
    int rc = merge_deltas(p, out);
    if (rc == STEPARC_E_NOMEM)
        return sa_conv_fail(c, rc, "out of memory");
    if (rc) {
        /* deltas that do not merge (or make a record the encoder refuses):
         * the object stays as its last full object */
        snprintf(detail, sizeof detail, "deltas of %s \"%.*s\" could not be applied", what, idl, p->id);
        report_unrebuilt(c, detail);
        return 0;
    }
    c->fixed_loc = 1;
    c->fixed_line = c->line;
    c->fixed_col = 1;
    uint64_t before = c->st.records;
    rc = sa_conv_item(c, (const unsigned char *)out->data, out->len, 0, NULL);
    c->fixed_loc = 0;
    if (rc == 0 && c->st.records > before) {
        if (p->kind == STEPARC_KIND_STEP)
            c->st.rebuilt++;
        else
            c->st.messages_rebuilt++;
    }
    return rc;
}

/* At the end of a stream: steps and messages with deltas after their last
 * full object are rebuilt from it and archived; deltas with no full object
 * are reported. */
int sa_conv_rebuild_pending(steparc_converter *c)
{
    int rc = 0;
    steparc_buf out = {0};
    for (size_t i = 0; i < c->npend && rc == 0; i++)
        if (c->pend[i].ndeltas)
            rc = rebuild_one(c, &c->pend[i], &out);
    steparc_buf_free(&out);
    sa_conv_drop_pending(c);
    return rc;
}

/* ---- events ------------------------------------------------------------------------------ */

/* Where a data line's payload starts: at data offset off, line and column. */
typedef struct {
    size_t off;
    uint64_t line, col;
} sse_seg;

/* The event being read: its name and its data lines, joined. */
typedef struct {
    char name[128];
    steparc_buf data;
    sse_seg *seg;
    size_t nseg, capseg;
} sse_event;

/* What an event name says about its data. */
enum { EV_OBJECT, EV_STEP_DELTA, EV_MESSAGE_DELTA, EV_ERROR, EV_IGNORE, EV_UNKNOWN };

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int event_class(const char *name)
{
    static const char *const msg[] = {"thread.message.created", "thread.message.in_progress",
                                      "thread.message.completed", "thread.message.incomplete"};
    if (name[0] == 0 || strcmp(name, "thread.created") == 0)
        return EV_OBJECT; /* no name: the object says what it is */
    if (strcmp(name, "thread.run.step.delta") == 0)
        return EV_STEP_DELTA;
    if (strcmp(name, "thread.message.delta") == 0)
        return EV_MESSAGE_DELTA;
    if (starts(name, "thread.run."))
        return EV_OBJECT; /* runs and steps */
    for (size_t i = 0; i < sizeof msg / sizeof msg[0]; i++)
        if (strcmp(name, msg[i]) == 0)
            return EV_OBJECT;
    if (strcmp(name, "error") == 0)
        return EV_ERROR;
    if (strcmp(name, "done") == 0)
        return EV_IGNORE;
    return EV_UNKNOWN;
}

/* The data line (segment) that holds data offset off. */
static size_t seg_of(const sse_event *ev, size_t off)
{
    size_t k = 0;
    while (k + 1 < ev->nseg && ev->seg[k + 1].off <= off)
        k++;
    return k;
}

/* Location of data offset off. */
static void data_loc(const sse_event *ev, size_t off, uint64_t *line, uint64_t *col)
{
    size_t k = seg_of(ev, off);
    *line = ev->seg[k].line;
    *col = ev->seg[k].col + (off - ev->seg[k].off);
}

/* Bad JSON at data offset off: an error; or, under skip_invalid, its data
 * line is skipped and *resume set to where the next one starts. */
static int data_error(steparc_converter *c, const sse_event *ev, size_t off, int status,
                      const char *reason, size_t *resume)
{
    uint64_t l, col;
    const char *d = (const char *)ev->data.data;
    data_loc(ev, off, &l, &col);
    if (c->opt.skip_invalid && status != STEPARC_E_NOMEM) {
        size_t k = seg_of(ev, off);
        size_t from = ev->seg[k].off;
        *resume = k + 1 < ev->nseg ? ev->seg[k + 1].off : ev->data.len;
        size_t n = *resume - from - (k + 1 < ev->nseg); /* without the joining '\n' */
        c->st.skipped[STEPARC_SKIP_INVALID]++;
        if (c->opt.skipped)
            c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_INVALID, c->name, l, col, reason,
                           d + from, n);
        return 0;
    }
    char ex[64];
    size_t n = 0;
    for (size_t i = off; i < ev->data.len && n < 40 && d[i] != '\n'; i++)
        ex[n++] = ((unsigned char)d[i] < 0x20 || d[i] == 0x7f) ? '?' : d[i];
    ex[n] = 0;
    return sa_conv_fail(c, status == STEPARC_E_LIMIT ? status : STEPARC_E_INPUT,
                        "%s:%llu:%llu: %s (record %llu)%s%s%s", c->name, (unsigned long long)l,
                        (unsigned long long)col, reason, (unsigned long long)(c->st.objects + 1),
                        n ? ", near '" : "", ex, n ? "'" : "");
}

/* One JSON value of an event's data (in c->mp), of event class cls. */
static int event_value(steparc_converter *c, const char *name, int cls)
{
    const unsigned char *mp = (const unsigned char *)c->mp.data;
    size_t len = c->mp.len;
    switch (cls) {
    case EV_STEP_DELTA:
    case EV_MESSAGE_DELTA:
        c->st.objects++;
        sa_conv_report_skip(c, STEPARC_SKIP_DELTA, 0, name, NULL, 0);
        if (c->opt.no_rebuild)
            return 0;
        return track_delta(c, cls == EV_STEP_DELTA ? STEPARC_KIND_STEP : STEPARC_KIND_MESSAGE, mp,
                           len);
    case EV_ERROR:
        c->st.error_events++;
        return 0;
    case EV_IGNORE:
        return 0;
    default: {
        int rc = sa_conv_value(c, mp, len, 0);
        if (rc == 0 && !c->opt.no_rebuild)
            rc = track_full(c, mp, len);
        return rc;
    }
    }
}

/* The event read so far, if it has data: each JSON value of its data (one,
 * normally; data lines that each hold a value are several) is handled.
 * Under skip_invalid a bad value skips its data line, not the event. */
static int dispatch(steparc_converter *c, sse_event *ev)
{
    if (ev->nseg == 0)
        return 0;
    int cls = event_class(ev->name), rc = 0;
    if (cls == EV_UNKNOWN) {
        c->st.objects++;
        c->fixed_loc = 1;
        data_loc(ev, 0, &c->fixed_line, &c->fixed_col);
        sa_conv_report_skip(c, STEPARC_SKIP_EVENT, 0, ev->name, NULL, 0);
    }
    const char *d = (const char *)ev->data.data;
    size_t pos = 0, len = ev->data.len;
    while (rc == 0 && cls != EV_UNKNOWN) {
        while (pos < len && (d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\r' || d[pos] == '\n'))
            pos++;
        if (pos == len)
            break;
        size_t used = 0;
        int inc = 0;
        steparc_json_error e;
        c->mp.len = 0;
        rc = sa_json_parse(d + pos, len - pos, 0, &c->mp, &used, &inc, &e);
        if (rc == STEPARC_E_NOMEM) {
            rc = sa_conv_fail(c, rc, "out of memory");
        } else if (rc) {
            rc = data_error(c, ev, inc ? pos : pos + e.offset, rc,
                            inc ? "truncated JSON in the event's data" : e.reason, &pos);
        } else {
            c->fixed_loc = 1;
            data_loc(ev, pos, &c->fixed_line, &c->fixed_col);
            rc = event_value(c, ev->name, cls);
            pos += used;
        }
    }
    c->fixed_loc = 0;
    ev->data.len = 0;
    ev->nseg = 0;
    return rc;
}

/* A data: line's payload p[0..n) at column col of the current line. */
static int add_data(steparc_converter *c, sse_event *ev, const char *p, size_t n, uint64_t col)
{
    if (n == 6 && memcmp(p, "[DONE]", 6) == 0)
        return 0;
    if (ev->data.len + n + 1 > (size_t)STEPARC_MAX_RECORD_SIZE)
        return sa_conv_fail(c, STEPARC_E_LIMIT,
                            "%s:%llu: an event's data is longer than the 64 MiB limit", c->name,
                            (unsigned long long)c->line);
    if (SA_GROW(ev->seg, ev->capseg, ev->nseg, 4) != 0 ||
        (ev->nseg && sa_buf_append(&ev->data, "\n", 1) != 0))
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    sse_seg *s = &ev->seg[ev->nseg++];
    s->off = ev->data.len;
    s->line = c->line;
    s->col = col;
    if (sa_buf_append(&ev->data, p, n) != 0)
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    return 0;
}

/* One line l[0..ll) (without its line end) at the window start: 0 (consume
 * the line), 1 (consumed already: skipped), or an error. */
static int sse_line(steparc_converter *c, sse_event *ev, const char *l, size_t ll)
{
    if (ll == 0) {
        int rc = dispatch(c, ev);
        ev->name[0] = 0;
        return rc;
    }
    if (ll >= 6 && memcmp(l, "event:", 6) == 0) {
        int rc = dispatch(c, ev); /* captures without blank lines between events */
        size_t s = 6;
        while (s < ll && l[s] == ' ')
            s++;
        size_t n = ll - s < sizeof ev->name - 1 ? ll - s : sizeof ev->name - 1;
        memcpy(ev->name, l + s, n);
        ev->name[n] = 0;
        return rc;
    }
    if (ll >= 5 && memcmp(l, "data:", 5) == 0) {
        size_t s = 5;
        while (s < ll && l[s] == ' ')
            s++;
        return ll > s ? add_data(c, ev, l + s, ll - s, s + 1) : 0;
    }
    if (l[0] == ':' || l[0] == '#' || (ll >= 3 && memcmp(l, "id:", 3) == 0) ||
        (ll >= 6 && memcmp(l, "retry:", 6) == 0))
        return 0; /* comment or a field we do not need */
    if (c->opt.skip_invalid) {
        int rc = sa_conv_skip_bad(c, 0, "not an event-stream line");
        return rc ? rc : 1;
    }
    return sa_conv_parse_error(c, 0, STEPARC_E_INPUT,
                               "not an event-stream line (expected 'event:' or 'data:')");
}

/* Makes the next whole line available at the window start: *len its length
 * without the '\n', *has_nl whether one ends it (not at the end of input). */
static int next_line(steparc_converter *c, size_t *len, int *has_nl)
{
    unsigned char *nl;
    for (;;) {
        nl = (unsigned char *)memchr(c->buf + c->start, '\n', c->end - c->start);
        if (nl || c->eof)
            break;
        int rc = sa_conv_fill(c, c->end - c->start + SA_READ_CHUNK);
        if (rc)
            return rc;
    }
    *len = nl ? (size_t)(nl - (c->buf + c->start)) : c->end - c->start;
    *has_nl = nl != NULL;
    return 0;
}

/* Event stream: "event: NAME" then "data: JSON", blank line between events. */
int sa_conv_run_sse(steparc_converter *c)
{
    sse_event ev;
    memset(&ev, 0, sizeof ev);
    int rc = 0;
    for (;;) {
        size_t len;
        int has_nl;
        rc = next_line(c, &len, &has_nl);
        if (rc)
            break;
        if (len == 0 && c->start == c->end) {
            rc = dispatch(c, &ev); /* no blank line after the last event */
            break;
        }
        const char *l = (const char *)c->buf + c->start;
        size_t ll = len;
        if (ll && l[ll - 1] == '\r')
            ll--;
        rc = sse_line(c, &ev, l, ll);
        if (rc < 0)
            break;
        if (rc == 0)
            sa_conv_consume(c, has_nl ? len + 1 : len);
    }
    steparc_buf_free(&ev.data);
    sa_free(ev.seg);
    return rc;
}
