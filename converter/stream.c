/* stream.c - event-stream captures ("event: NAME" / "data: JSON" lines).
 *
 * Full objects go to the record-level dispatch as they come. Delta events are
 * kept per object until its final event; at the end of a stream, an object
 * whose final event never came is rebuilt from its last full object plus the
 * deltas after it (the merge is delta.c). */
#include <stdio.h>
#include <stdlib.h>

#include "convert_internal.h"
#include "delta.h"

static sa_pending *find_pending(steparc_converter *c, steparc_str id, int create)
{
    for (size_t i = 0; i < c->npend; i++)
        if (c->pend[i].idlen == id.len && memcmp(c->pend[i].id, id.ptr, id.len) == 0)
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

static int is_terminal(steparc_str s)
{
    static const char *const t[] = {"completed", "failed", "cancelled", "expired"};
    for (size_t i = 0; i < 4; i++)
        if (sa_str_is(s, t[i]))
            return 1;
    return 0;
}

/* Notes a full step object (after it was archived). A terminal one ends the
 * step: its final state is in the archive, deltas need no rebuild. */
static int track_full(steparc_converter *c, const unsigned char *mp, size_t len)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0 || !sa_str_is(kf.object, "thread.run.step") ||
        kf.id.ptr == NULL || kf.id.len == 0)
        return 0;
    if (is_terminal(kf.status)) {
        sa_pending *done = find_pending(c, kf.id, 0);
        if (done)
            drop_pending(c, done);
        return 0;
    }
    sa_pending *p = find_pending(c, kf.id, 1);
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

static int track_delta(steparc_converter *c, const unsigned char *mp, size_t len)
{
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0 || kf.id.ptr == NULL || kf.id.len == 0)
        return 0;
    sa_pending *p = find_pending(c, kf.id, 1);
    if (p == NULL)
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    if (sa_buf_append(&p->deltas, mp, len) != 0)
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    p->ndeltas++;
    return 0;
}

/* Reports a step whose deltas were not applied (detail says why). */
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
        rc = sa_tree_to_mp(base, out);
    sa_tree_free(base);
    for (size_t k = 0; ds && k < p->ndeltas; k++)
        sa_tree_free(ds[k]);
    sa_free(ds);
    return rc;
}

/* Rebuilds one pending step (with deltas) and archives it; out: scratch. */
static int rebuild_one(steparc_converter *c, const sa_pending *p, steparc_buf *out)
{
    char detail[200];
    int idl = (int)(p->idlen > 60 ? 60 : p->idlen);
    if (!p->have_base) {
        snprintf(detail, sizeof detail,
                 "%zu delta(s) of step \"%.*s\" with no step object to apply them to", p->ndeltas,
                 idl, p->id);
        report_unrebuilt(c, detail);
        return 0;
    }
    int rc = merge_deltas(p, out);
    if (rc == STEPARC_E_NOMEM)
        return sa_conv_fail(c, rc, "out of memory");
    if (rc) {
        /* deltas that do not merge (or make a record the encoder refuses):
         * the step stays as its last full object */
        snprintf(detail, sizeof detail, "deltas of step \"%.*s\" could not be applied", idl, p->id);
        report_unrebuilt(c, detail);
        return 0;
    }
    c->fixed_loc = 1;
    c->fixed_line = c->line;
    c->fixed_col = 1;
    rc = sa_conv_item(c, (const unsigned char *)out->data, out->len, 0, NULL);
    c->fixed_loc = 0;
    if (rc == 0)
        c->st.rebuilt++;
    return rc;
}

/* At the end of a stream: steps with deltas after their last full object are
 * rebuilt from it and archived; deltas with no full object are reported. */
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

/* Parses an event's data (p, n at window offset rel) into c->mp. On bad JSON
 * with skip_invalid the line is skipped and *skipped set; 0 or an error. */
static int sse_parse(steparc_converter *c, const char *p, size_t n, size_t rel, int *skipped)
{
    steparc_json_error e;
    c->mp.len = 0;
    int rc = steparc_json_to_msgpack(&c->mp, p, n, 0, &e);
    if (rc == 0)
        return 0;
    if (rc == STEPARC_E_NOMEM)
        return sa_conv_fail(c, rc, "out of memory");
    if (c->opt.skip_invalid) {
        *skipped = 1;
        return sa_conv_skip_bad(c, rel + e.offset, e.reason);
    }
    return sa_conv_parse_error(c, rel + e.offset, rc, e.reason);
}

/* The payload l[s..ll) of a data: line of event `event` ("" when the stream
 * names none): 0, 1 when its line was skipped (consumed already), or an
 * error. */
static int sse_data(steparc_converter *c, const char *event, const char *l, size_t s, size_t ll)
{
    if (ll == s || (ll - s == 6 && memcmp(l + s, "[DONE]", 6) == 0))
        return 0;
    int is_step_event = strncmp(event, "thread.run.step.", 16) == 0;
    int is_delta = strcmp(event, "thread.run.step.delta") == 0;
    if (event[0] && !is_step_event) {
        c->st.objects++;
        sa_conv_report_skip(c, STEPARC_SKIP_EVENT, s, event, NULL, 0);
        return 0;
    }
    if (is_delta) {
        c->st.objects++;
        sa_conv_report_skip(c, STEPARC_SKIP_DELTA, s, event, NULL, 0);
        if (c->opt.no_rebuild)
            return 0;
    }
    int skipped = 0;
    int rc = sse_parse(c, l + s, ll - s, s, &skipped);
    if (rc || skipped)
        return rc ? rc : 1;
    const unsigned char *mp = (const unsigned char *)c->mp.data;
    if (is_delta)
        return track_delta(c, mp, c->mp.len);
    rc = sa_conv_value(c, mp, c->mp.len, s);
    if (rc == 0 && !c->opt.no_rebuild)
        rc = track_full(c, mp, c->mp.len);
    return rc;
}

/* One line l[0..ll) (without its line end) at the window start, event: the
 * current event's name: 0 (consume the line), 1 (consumed already: skipped),
 * or an error. */
static int sse_line(steparc_converter *c, char *event, size_t event_cap, const char *l, size_t ll)
{
    if (ll == 0) {
        event[0] = 0;
        return 0;
    }
    if (ll >= 6 && memcmp(l, "event:", 6) == 0) {
        size_t s = 6;
        while (s < ll && l[s] == ' ')
            s++;
        size_t n = ll - s < event_cap - 1 ? ll - s : event_cap - 1;
        memcpy(event, l + s, n);
        event[n] = 0;
        return 0;
    }
    if (ll >= 5 && memcmp(l, "data:", 5) == 0) {
        size_t s = 5;
        while (s < ll && l[s] == ' ')
            s++;
        return sse_data(c, event, l, s, ll);
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
    char event[128] = "";
    for (;;) {
        size_t len;
        int has_nl;
        int rc = next_line(c, &len, &has_nl);
        if (rc)
            return rc;
        if (len == 0 && c->start == c->end)
            return 0;
        const char *l = (const char *)c->buf + c->start;
        size_t ll = len;
        if (ll && l[ll - 1] == '\r')
            ll--;
        rc = sse_line(c, event, sizeof event, l, ll);
        if (rc < 0)
            return rc;
        if (rc == 0)
            sa_conv_consume(c, has_nl ? len + 1 : len);
    }
}

void sa_conv_drop_pending(steparc_converter *c)
{
    while (c->npend)
        drop_pending(c, &c->pend[c->npend - 1]);
}
