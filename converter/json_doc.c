/* json_doc.c - JSON documents and the record-level dispatch.
 *
 * A document is a sequence of JSON values: objects (compact or pretty, over
 * any number of lines), top-level arrays and API list pages
 * ({"object":"list","data":[...]}). Arrays and list pages are entered and
 * their items parsed one by one, so a huge array never has to fit in memory
 * at once. Every value found at record level goes through sa_conv_item, which
 * decides what is archived. */
#include <stdio.h>

#include "convert_internal.h"
#include "writer_internal.h"

void sa_conv_report_skip(steparc_converter *c, steparc_skip_reason why, size_t rel,
                         const char *detail, const char *raw, size_t raw_len)
{
    c->st.skipped[why]++;
    if (c->opt.skipped) {
        uint64_t l, col;
        sa_conv_locate(c, rel, &l, &col);
        c->opt.skipped(c->opt.skipped_ctx, why, c->name, l, col, detail, raw, raw_len);
    }
}

int sa_str_is(steparc_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* An object that is not archived: under strict an error saying `what` (when
 * what is not NULL), else counted and reported as skipped for `why`. */
static int reject(steparc_converter *c, size_t rel, const char *what, steparc_skip_reason why,
                  const char *detail)
{
    if (c->opt.strict && what) {
        uint64_t l, col;
        sa_conv_locate(c, rel, &l, &col);
        return sa_conv_fail(c, STEPARC_E_INPUT, "%s:%llu:%llu: %s", c->name, (unsigned long long)l,
                            (unsigned long long)col, what);
    }
    sa_conv_report_skip(c, why, rel, detail, NULL, 0);
    return 0;
}

/* An object of no kind the archive holds. */
static int reject_object(steparc_converter *c, size_t rel, steparc_str object)
{
    int on = (int)(object.len > 60 ? 60 : object.len);
    const char *os = object.ptr ? object.ptr : "";
    char what[160], detail[120];
    if (object.ptr) {
        snprintf(what, sizeof what, "an object of no archived kind (object \"%.*s\")", on, os);
        snprintf(detail, sizeof detail, "object \"%.*s\"", on, os);
    } else {
        snprintf(what, sizeof what, "an object without a string \"object\" key");
        snprintf(detail, sizeof detail, "object without an \"object\" key");
    }
    return reject(c, rel, what, STEPARC_SKIP_NOT_A_STEP, detail);
}

/* An object of a record kind without a string id. */
static int reject_no_id(steparc_converter *c, size_t rel, int kind, steparc_str object)
{
    int on = (int)(object.len > 60 ? 60 : object.len);
    char what[160], detail[120];
    const char *name = kind == STEPARC_KIND_STEP ? "run step" : steparc_kind_name(kind);
    snprintf(what, sizeof what, "a %s without a string \"id\" (object \"%.*s\")", name, on,
             object.ptr);
    snprintf(detail, sizeof detail, "%s without a string id", name);
    return reject(c, rel, what, STEPARC_SKIP_NO_ID, detail);
}

/* "thread.run.step.delta" or "thread.message.delta" (the name) or NULL. */
static const char *delta_object(steparc_str object)
{
    static const char *const d[] = {"thread.run.step.delta", "thread.message.delta"};
    for (size_t i = 0; i < 2; i++)
        if (sa_str_is(object, d[i]))
            return d[i];
    return NULL;
}

int sa_conv_kind(const sa_keyfields *kf)
{
    return kf->object.ptr ? steparc_kind_of_object(kf->object.ptr, kf->object.len)
                          : STEPARC_KIND_OTHER;
}

/* One JSON value found at record level (rel = its position in the window). */
int sa_conv_item(steparc_converter *c, const unsigned char *mp, size_t len, size_t rel,
                 const sa_keyfields *known)
{
    sa_keyfields kf;
    c->st.objects++;
    if (known)
        kf = *known;
    if (len == 0 || (!known && sa_mp_keyfields(mp, len, &kf) != 0))
        return reject(c, rel, "a JSON value that is not an object", STEPARC_SKIP_NOT_A_STEP,
                      "not an object");
    const char *delta = delta_object(kf.object);
    if (delta)
        return reject(c, rel, NULL, STEPARC_SKIP_DELTA, delta);
    int kind = sa_conv_kind(&kf);
    if (kind == STEPARC_KIND_OTHER)
        return reject_object(c, rel, kf.object);
    if (kf.id.ptr == NULL)
        return reject_no_id(c, rel, kind, kf.object);
    int rc = sa_writer_add_kf(c->w, mp, len, &kf);
    if (rc)
        return sa_conv_fail(c, rc, "%s: %s", c->name, steparc_writer_errmsg(c->w));
    c->st.records++;
    c->st.by_kind[kind]++;
    return 0;
}

/* A top-level value: a list page's items are records, anything else is one. */
int sa_conv_value(steparc_converter *c, const unsigned char *mp, size_t len, size_t rel)
{
    sa_mpr r = {mp, mp + len};
    sa_mpitem m, k, v;
    int found = sa_conv_walk(c, mp, len, rel, 0); /* containers.c: objects at any depth */
    if (found <= 0)
        return found;
    if (sa_mp_read(&r, &m) == 0 && m.type == SA_MP_ARRAY) {
        for (uint32_t i = 0; i < m.n; i++) {
            const unsigned char *s = r.p;
            if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                return sa_conv_fail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
            int rc = sa_conv_item(c, s, (size_t)(r.p - s), rel, NULL);
            if (rc)
                return rc;
        }
        return 0;
    }
    if (m.type != SA_MP_MAP)
        return sa_conv_item(c, mp, len, rel, NULL);
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) != 0)
        return sa_conv_item(c, mp, len, rel, NULL);
    if (!sa_str_is(kf.object, "list"))
        return sa_conv_item(c, mp, len, rel, &kf);
    for (uint32_t i = 0; i < m.n; i++) {
        if (sa_mp_read(&r, &k) != 0)
            break;
        const unsigned char *vs = r.p;
        if (k.n == 4 && memcmp(k.s, "data", 4) == 0 && sa_mp_read(&r, &v) == 0 &&
            v.type == SA_MP_ARRAY) {
            for (uint32_t j = 0; j < v.n; j++) {
                const unsigned char *s = r.p;
                if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
                    return sa_conv_fail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
                int rc = sa_conv_item(c, s, (size_t)(r.p - s), rel, NULL);
                if (rc)
                    return rc;
            }
            return 0;
        }
        r.p = vs;
        if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
            break;
    }
    return sa_conv_item(c, mp, len, rel, &kf); /* "list" without data: not a step */
}


/* Matches `{ "object" : "list" , "data" : [` (any whitespace) at the window
 * start; returns its length or 0. */
static size_t list_prefix(steparc_converter *c)
{
    static const char *const parts[] = {"{", "\"object\"", ":", "\"list\"", ",", "\"data\"", ":", "["};
    if (sa_conv_fill(c, 512) != 0)
        return 0;
    const unsigned char *p = c->buf + c->start, *e = c->buf + c->end;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        size_t n = strlen(parts[i]);
        if ((size_t)(e - p) < n || memcmp(p, parts[i], n) != 0)
            return 0;
        p += n;
    }
    return (size_t)(p - (c->buf + c->start));
}

/* Streams the items of an array whose '[' was consumed, up to its ']'. */
static int stream_array(steparc_converter *c)
{
    int first = 1;
    for (;;) {
        int rc = sa_conv_next_member(c, ']', "truncated array at the end of the input");
        if (rc)
            return rc < 0 ? rc : 0;
        unsigned char ch = c->buf[c->start];
        if (!first) {
            if (ch != ',') {
                if (c->opt.skip_invalid) {
                    rc = sa_conv_skip_bad(c, 0, "',' or ']' expected in array");
                    if (rc)
                        return rc;
                    continue;
                }
                return sa_conv_parse_error(c, 0, STEPARC_E_INPUT, "',' or ']' expected in array");
            }
            sa_conv_consume(c, 1);
            rc = sa_conv_skip_ws(c);
            if (rc)
                return rc;
        }
        first = 0;
        size_t used;
        rc = sa_conv_parse_one(c, &used);
        if (rc < 0)
            return rc;
        if (rc == 1)
            continue;
        rc = sa_conv_walk(c, (const unsigned char *)c->mp.data, c->mp.len, 0, 1);
        if (rc == 1)
            rc = sa_conv_item(c, (const unsigned char *)c->mp.data, c->mp.len, 0, NULL);
        if (rc)
            return rc;
        sa_conv_consume(c, used);
    }
}

/* Parses and drops the remaining members of an object (after a list page's
 * data array), up to its '}'. */
static int finish_object(steparc_converter *c)
{
    for (;;) {
        int rc = sa_conv_next_member(c, '}', "truncated list page at the end of the input");
        if (rc)
            return rc < 0 ? rc : 0;
        if ((rc = sa_conv_expect(c, ',', "',' or '}' expected in list page")) != 0 ||
            (rc = sa_conv_skip_ws(c)) != 0)
            return rc;
        size_t used;
        rc = sa_conv_parse_one(c, &used); /* the key */
        if (rc)
            return rc < 0 ? rc : 0;
        sa_conv_consume(c, used);
        if ((rc = sa_conv_expect(c, ':', "':' expected in list page")) != 0)
            return rc;
        rc = sa_conv_skip_ws(c);
        if (rc)
            return rc;
        rc = sa_conv_parse_one(c, &used); /* the value */
        if (rc)
            return rc < 0 ? rc : 0;
        sa_conv_consume(c, used);
    }
}

int sa_conv_run_json(steparc_converter *c)
{
    for (;;) {
        int rc = sa_conv_skip_ws(c);
        if (rc)
            return rc;
        if (c->start == c->end)
            return 0;
        unsigned char ch = c->buf[c->start];
        if (ch == '[') {
            sa_conv_consume(c, 1);
            rc = stream_array(c);
        } else if (ch == '{') {
            size_t n = list_prefix(c);
            if (n) {
                sa_conv_consume(c, n);
                rc = stream_array(c);
                if (rc == 0)
                    rc = finish_object(c);
            } else {
                rc = sa_conv_doc_value(c); /* containers.c: streamed past the record limit */
            }
        } else if (c->opt.skip_invalid) {
            rc = sa_conv_skip_bad(c, 0, "a JSON object or array was expected");
        } else {
            rc = sa_conv_parse_error(c, 0, STEPARC_E_INPUT, "a JSON object or array was expected");
        }
        if (rc)
            return rc;
    }
}
