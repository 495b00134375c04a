/* containers.c - the containers a capture comes in (issue 13): HAR files,
 * Node SDK page objects (JSON.stringify(page)), documents that nest API
 * objects at any depth (exports, test-proxy recordings with bodies stored as
 * JSON strings), and the directory-walk policy for symbolic links.
 *
 * A value found at record level is first searched here: every object whose
 * "object" names a known kind (steparc_kind_of_object) is taken whole and
 * handed to sa_conv_item; other objects and arrays are searched further. A
 * value that fits the record limit is parsed whole and walked in MessagePack;
 * a larger object or array is descended into from the read window, member by
 * member, so memory stays bounded by the limit, not by the document. HAR
 * response bodies and event streams stored in JSON strings are converted as
 * inputs of their own (sub-inputs: the read window is saved and restored). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "convert_internal.h"

/* Search depth (MessagePack levels, window levels and embedded documents
 * together): far above any real capture, low enough for the C stack. */
#define WALK_MAX_DEPTH 256
/* JSON strings holding documents, nested in each other. */
#define EMBED_MAX 8

/* Where a value sits, which decides how it is searched. */
enum {
    R_ANY,         /* inside a wrapper: searched, never reported */
    R_TOP,         /* a top-level value (HAR detection applies) */
    R_ITEM,        /* an item of a list page or of a top-level array: reported when
                      nothing is found in it, as records are */
    R_ITEMS,       /* an array whose elements are R_ITEM */
    R_HAR_LOG,     /* the top-level "log" object */
    R_HAR_ENTRIES  /* log.entries */
};

static int walk_mp(steparc_converter *c, const unsigned char *mp, size_t len, int role, int depth,
                   size_t rel, uint64_t *found);

static int key_is(const sa_mpitem *k, const char *lit)
{
    size_t n = strlen(lit);
    return k->type == SA_MP_STR && k->n == n && memcmp(k->s, lit, n) == 0;
}

/* ---- base64 ------------------------------------------------------------------------ */

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

int sa_base64_decode(steparc_buf *out, const char *src, size_t n, size_t *bad)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t digits = 0;
    *bad = 0;
    if (sa_buf_reserve(out, n / 4 * 3 + 3) != 0)
        return STEPARC_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
            continue;
        if (ch == '=') {
            pad++;
            if (pad > 2 || digits % 4 < 2) {
                *bad = i;
                return STEPARC_E_INPUT;
            }
            continue;
        }
        int v = b64_value(ch);
        if (v < 0 || pad) {
            *bad = i;
            return STEPARC_E_INPUT;
        }
        digits++;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (char)((acc >> bits) & 0xFF);
        }
    }
    /* one digit alone cannot hold a byte; padding must complete the quantum */
    if (digits % 4 == 1 || (pad && (digits + (size_t)pad) % 4 != 0)) {
        *bad = n;
        return STEPARC_E_INPUT;
    }
    return 0;
}

/* ---- sub-inputs: a body converted as an input of its own ---------------------------- */

/* The current input's state that a sub-input replaces. */
typedef struct {
    const char *name;
    int fd;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    uint64_t src_bytes, src_total, inputs, input_bytes;
    unsigned char *buf;
    size_t cap, start, end;
    int eof;
    uint64_t line, line_off, abs_start, next_progress;
    int fixed_loc;
    uint64_t fixed_line, fixed_col;
    steparc_buf mp;
    sa_pool *pool;
    sa_pending *pend;
    size_t npend, cappend;
    steparc_input_format format;
    int threads;
} saved_input;

static void save_input(steparc_converter *c, saved_input *s)
{
    s->name = c->name;
    s->fd = c->fd;
    s->mem = c->mem;
    s->mem_len = c->mem_len;
    s->mem_pos = c->mem_pos;
    s->src_bytes = c->src_bytes;
    s->src_total = c->src_total;
    s->inputs = c->st.inputs;
    s->input_bytes = c->st.input_bytes;
    s->buf = c->buf;
    s->cap = c->cap;
    s->start = c->start;
    s->end = c->end;
    s->eof = c->eof;
    s->line = c->line;
    s->line_off = c->line_off;
    s->abs_start = c->abs_start;
    s->next_progress = c->next_progress;
    s->fixed_loc = c->fixed_loc;
    s->fixed_line = c->fixed_line;
    s->fixed_col = c->fixed_col;
    s->mp = c->mp;
    s->pool = c->pool;
    s->pend = c->pend;
    s->npend = c->npend;
    s->cappend = c->cappend;
    s->format = c->opt.format;
    s->threads = c->opt.threads;
    c->buf = NULL;
    c->cap = 0;
    memset(&c->mp, 0, sizeof c->mp);
    c->pool = NULL;
    c->pend = NULL;
    c->npend = c->cappend = 0;
    c->fixed_loc = 0;
    c->opt.format = STEPARC_IN_AUTO;
    c->opt.threads = 1; /* a body is small; no worker threads per body */
}

static void restore_input(steparc_converter *c, const saved_input *s)
{
    sa_free(c->buf);
    steparc_buf_free(&c->mp);
    sa_pool_close(c->pool);
    sa_conv_drop_pending(c);
    sa_free(c->pend);
    c->name = s->name;
    c->fd = s->fd;
    c->mem = s->mem;
    c->mem_len = s->mem_len;
    c->mem_pos = s->mem_pos;
    c->src_bytes = s->src_bytes;
    c->src_total = s->src_total;
    c->st.inputs = s->inputs;
    c->st.input_bytes = s->input_bytes;
    c->buf = s->buf;
    c->cap = s->cap;
    c->start = s->start;
    c->end = s->end;
    c->eof = s->eof;
    c->line = s->line;
    c->line_off = s->line_off;
    c->abs_start = s->abs_start;
    c->next_progress = s->next_progress;
    c->fixed_loc = s->fixed_loc;
    c->fixed_line = s->fixed_line;
    c->fixed_col = s->fixed_col;
    c->mp = s->mp;
    c->pool = s->pool;
    c->pend = s->pend;
    c->npend = s->npend;
    c->cappend = s->cappend;
    c->opt.format = s->format;
    c->opt.threads = s->threads;
}

/* What a body's first bytes say it is. */
enum { BODY_EMPTY, BODY_JSON, BODY_SSE, BODY_OTHER };

static int body_shape(const unsigned char *p, size_t n)
{
    size_t i = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i == n)
        return BODY_EMPTY;
    if (p[i] == '{' || p[i] == '[')
        return BODY_JSON;
    if ((n - i >= 6 && memcmp(p + i, "event:", 6) == 0) ||
        (n - i >= 5 && memcmp(p + i, "data:", 5) == 0) || p[i] == ':')
        return BODY_SSE;
    return BODY_OTHER;
}

/* Converts data[0..len) as an input named `name` (its own window, shape
 * detection, pending stream objects), then restores the current input. */
static int run_sub_input(steparc_converter *c, const char *name, const void *data, size_t len,
                         int depth)
{
    saved_input s;
    save_input(c, &s);
    c->name = name;
    c->fd = -1;
    c->mem = (const unsigned char *)data;
    c->mem_len = len;
    c->mem_pos = 0;
    c->src_total = len;
    int outer_depth = c->walk_depth;
    c->walk_depth = depth;
    int rc = sa_conv_run_input(c);
    c->walk_depth = outer_depth;
    restore_input(c, &s);
    return rc;
}

/* ---- HAR entries ---------------------------------------------------------------------- */

/* The value of key `key` in the map at r (its header read as m): 1 and *v
 * (its start, r past it) set, 0 when absent, -1 when malformed. */
static int map_get(const unsigned char *mp, size_t len, const char *key, const unsigned char **vs,
                   size_t *vlen)
{
    sa_mpr r = {mp, mp + len};
    sa_mpitem m, k;
    if (sa_mp_read(&r, &m) != 0 || m.type != SA_MP_MAP)
        return 0;
    for (uint32_t i = 0; i < m.n; i++) {
        if (sa_mp_read(&r, &k) != 0)
            return -1;
        const unsigned char *s = r.p;
        if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
            return -1;
        if (key_is(&k, key)) {
            *vs = s;
            *vlen = (size_t)(r.p - s);
            return 1;
        }
    }
    return 0;
}

/* The string value of `key`, or ptr NULL. */
static steparc_str map_str(const unsigned char *mp, size_t len, const char *key)
{
    steparc_str out = {NULL, 0};
    const unsigned char *vs;
    size_t vl;
    if (map_get(mp, len, key, &vs, &vl) == 1) {
        sa_mpr r = {vs, vs + vl};
        sa_mpitem it;
        if (sa_mp_read(&r, &it) == 0 && it.type == SA_MP_STR) {
            out.ptr = it.s;
            out.len = it.n;
        }
    }
    return out;
}

/* A body that is neither JSON nor an event stream (or a HAR entry's bad
 * base64): skipped under skip_invalid, else an error. */
static int skip_body(steparc_converter *c, const char *where, const char *what, int invalid)
{
    if (invalid && !c->opt.skip_invalid)
        return sa_conv_fail(c, STEPARC_E_INPUT, "%s: %s", where, what);
    steparc_skip_reason why = invalid ? STEPARC_SKIP_INVALID : STEPARC_SKIP_NOT_JSON;
    c->st.skipped[why]++;
    if (c->opt.skipped)
        c->opt.skipped(c->opt.skipped_ctx, why, where, 1, 1, what, NULL, 0);
    return 0;
}

/* One entry of log.entries (MessagePack): its response body, if any, as an
 * input of its own. Request bodies are not read. */
static int har_entry(steparc_converter *c, const unsigned char *mp, size_t len, uint64_t index,
                     int depth)
{
    const unsigned char *rs, *cs;
    size_t rl, cl;
    if (map_get(mp, len, "response", &rs, &rl) != 1 || map_get(rs, rl, "content", &cs, &cl) != 1)
        return 0;
    steparc_str text = map_str(cs, cl, "text");
    if (text.ptr == NULL || text.len == 0)
        return 0;
    char name[1100];
    snprintf(name, sizeof name, "%s: entry %llu", c->name, (unsigned long long)index);
    steparc_buf dec = {0};
    const unsigned char *body = (const unsigned char *)text.ptr;
    size_t blen = text.len;
    int rc = 0;
    if (sa_str_is(map_str(cs, cl, "encoding"), "base64")) {
        size_t bad;
        rc = sa_base64_decode(&dec, text.ptr, text.len, &bad);
        if (rc == STEPARC_E_NOMEM) {
            rc = sa_conv_fail(c, rc, "out of memory");
            goto cleanup;
        }
        if (rc) {
            char what[120];
            snprintf(what, sizeof what, "response body: invalid base64 at offset %zu", bad);
            rc = skip_body(c, name, what, 1);
            goto cleanup;
        }
        body = (const unsigned char *)dec.data;
        blen = dec.len;
    }
    int shape = body_shape(body, blen);
    if (shape == BODY_OTHER) {
        steparc_str mime = map_str(cs, cl, "mimeType");
        char what[160];
        snprintf(what, sizeof what, "response body (%.*s) is neither JSON nor an event stream",
                 (int)(mime.len > 60 ? 60 : mime.len), mime.ptr ? mime.ptr : "no mimeType");
        rc = skip_body(c, name, what, 0);
    } else if (shape != BODY_EMPTY && c->embed < EMBED_MAX) {
        c->embed++;
        rc = run_sub_input(c, name, body, blen, depth + 1);
        c->embed--;
    }
cleanup:
    steparc_buf_free(&dec);
    return rc;
}

/* ---- JSON strings that hold documents ------------------------------------------------- */

/* A string in a wrapper: when it holds a JSON document or an event stream
 * (recordings store bodies as strings), that is searched too. A string that
 * does not parse as JSON is just a string. */
static int embedded(steparc_converter *c, const char *s, size_t n, int depth, size_t rel,
                    uint64_t *found)
{
    if (n < 2 || c->embed >= EMBED_MAX)
        return 0;
    int shape = body_shape((const unsigned char *)s, n);
    int rc = 0;
    c->embed++;
    if (shape == BODY_JSON) {
        steparc_buf mp = {0};
        steparc_json_error e;
        if (steparc_json_to_msgpack(&mp, s, n, 0, &e) == 0)
            rc = walk_mp(c, (const unsigned char *)mp.data, mp.len, R_ANY, depth + 1, rel, found);
        steparc_buf_free(&mp);
    } else if (shape == BODY_SSE) {
        uint64_t l, col;
        char name[1100];
        sa_conv_locate(c, rel, &l, &col);
        snprintf(name, sizeof name, "%s:%llu:%llu: event stream in a string", c->name,
                 (unsigned long long)l, (unsigned long long)col);
        uint64_t before = c->st.objects;
        rc = run_sub_input(c, name, s, n, depth + 1);
        *found += c->st.objects - before;
    }
    c->embed--;
    return rc;
}

/* ---- the MessagePack walk ------------------------------------------------------------- */

/* The role of the value of key k in a map of role `role` (is_list: the map
 * is a list page). */
static int child_role(int role, const sa_mpitem *k, int is_list)
{
    if (role == R_TOP && key_is(k, "log"))
        return R_HAR_LOG;
    if (role == R_HAR_LOG && key_is(k, "entries"))
        return R_HAR_ENTRIES;
    if (is_list && key_is(k, "data"))
        return R_ITEMS;
    return R_ANY;
}

/* One value (scalar, string, container) inside a container being walked. */
static int walk_one(steparc_converter *c, const unsigned char *vs, size_t vl, int role, int depth,
                    size_t rel, uint64_t *found)
{
    sa_mpr r = {vs, vs + vl};
    sa_mpitem v;
    if (sa_mp_read(&r, &v) != 0)
        return sa_conv_fail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
    if (v.type == SA_MP_STR)
        return embedded(c, v.s, v.n, depth, rel, found);
    if (v.type == SA_MP_MAP || v.type == SA_MP_ARRAY)
        return walk_mp(c, vs, vl, role, depth + 1, rel, found);
    return 0;
}

/* Is the map a Node page (JSON.stringify(page): options, response, body and
 * data)? Then its objects are in data, and again in body.data. */
static int node_page(const unsigned char *mp, size_t len)
{
    const unsigned char *vs;
    size_t vl;
    return map_get(mp, len, "options", &vs, &vl) == 1 && map_get(mp, len, "response", &vs, &vl) == 1 &&
           map_get(mp, len, "body", &vs, &vl) == 1 && map_get(mp, len, "data", &vs, &vl) == 1;
}

static int walk_map(steparc_converter *c, const unsigned char *mp, size_t len, uint32_t n, sa_mpr *r,
                    int role, int depth, size_t rel, uint64_t *found)
{
    sa_keyfields kf;
    int have_kf = sa_mp_keyfields(mp, len, &kf) == 0;
    if (have_kf && steparc_kind_of_object(kf.object.ptr, kf.object.len) != STEPARC_KIND_OTHER) {
        (*found)++;
        return sa_conv_item(c, mp, len, rel, &kf); /* a known object is taken whole */
    }
    int is_list = have_kf && sa_str_is(kf.object, "list");
    int node = node_page(mp, len);
    const unsigned char *body = NULL;
    size_t body_len = 0;
    uint64_t in_data = 0;
    sa_mpitem k;
    for (uint32_t i = 0; i < n; i++) {
        if (sa_mp_read(r, &k) != 0)
            return sa_conv_fail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
        const unsigned char *vs = r->p;
        if (sa_mp_skip(r, STEPARC_MAX_DEPTH) != 0)
            return sa_conv_fail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
        size_t vl = (size_t)(r->p - vs);
        if (node && key_is(&k, "body")) {
            body = vs; /* only when data holds nothing */
            body_len = vl;
            continue;
        }
        uint64_t before = *found;
        int rc = walk_one(c, vs, vl, node && key_is(&k, "data") ? R_ITEMS : child_role(role, &k, is_list),
                          depth, rel, found);
        if (rc)
            return rc;
        if (node && key_is(&k, "data"))
            in_data = *found - before;
    }
    if (body && in_data == 0)
        return walk_one(c, body, body_len, R_ANY, depth, rel, found);
    return 0;
}

static int walk_mp(steparc_converter *c, const unsigned char *mp, size_t len, int role, int depth,
                   size_t rel, uint64_t *found)
{
    if (depth > WALK_MAX_DEPTH)
        return 0;
    sa_mpr r = {mp, mp + len};
    sa_mpitem m;
    if (sa_mp_read(&r, &m) != 0)
        return sa_conv_fail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
    if (m.type == SA_MP_MAP)
        return walk_map(c, mp, len, m.n, &r, role, depth, rel, found);
    if (m.type != SA_MP_ARRAY)
        return 0;
    for (uint32_t i = 0; i < m.n; i++) {
        const unsigned char *s = r.p;
        if (sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0)
            return sa_conv_fail(c, STEPARC_E_INPUT, "internal: bad MessagePack");
        size_t sl = (size_t)(r.p - s);
        int rc;
        if (role == R_HAR_ENTRIES) {
            rc = har_entry(c, s, sl, i, depth);
        } else if (role == R_ITEMS) {
            uint64_t before = *found;
            rc = walk_one(c, s, sl, R_ANY, depth, rel, found);
            if (rc == 0 && *found == before) {
                (*found)++;
                rc = sa_conv_item(c, s, sl, rel, NULL); /* reported as records are */
            }
        } else {
            rc = walk_one(c, s, sl, R_ANY, depth, rel, found);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int sa_har_detect(const unsigned char *mp, size_t len)
{
    const unsigned char *ls, *es;
    size_t ll, el;
    return map_get(mp, len, "log", &ls, &ll) == 1 && map_get(ls, ll, "entries", &es, &el) == 1 &&
           el > 0 && ((es[0] & 0xF0) == 0x90 || es[0] == 0xdc || es[0] == 0xdd);
}

int sa_conv_walk(steparc_converter *c, const unsigned char *mp, size_t len, size_t rel, int item)
{
    uint64_t found = 0;
    /* a top-level array's items are records (reported when nothing is in them) */
    int arr = len && ((mp[0] & 0xF0) == 0x90 || mp[0] == 0xdc || mp[0] == 0xdd);
    int rc = walk_mp(c, mp, len, item ? R_ANY : arr ? R_ITEMS : R_TOP, c->walk_depth, rel, &found);
    if (rc)
        return rc;
    /* an empty page or a HAR without API bodies is no object to report */
    if (found == 0 && !item && (node_page(mp, len) || sa_har_detect(mp, len)))
        return 0;
    return found ? 0 : 1;
}

/* ---- documents larger than the record limit: descended from the window ---------------- */

size_t sa_conv_doc_limit(const steparc_converter *c)
{
    size_t lim = c->doc_limit ? c->doc_limit : STEPARC_MAX_RECORD_SIZE;
    return lim < SA_WINDOW_MAX - SA_READ_CHUNK ? lim : SA_WINDOW_MAX - SA_READ_CHUNK;
}

void sa_conv_set_doc_limit(steparc_converter *c, size_t limit)
{
    c->doc_limit = limit;
}

/* Parses the value at the window start into c->mp when its text fits the
 * limit: 1 (*used set), 0 too large (or too deep) to parse whole, 2 not valid
 * JSON (the caller's parser reports it), <0 error. */
static int try_parse(steparc_converter *c, size_t *used)
{
    size_t lim = sa_conv_doc_limit(c);
    for (;;) {
        size_t have = c->end - c->start;
        steparc_json_error e;
        int inc = 0;
        c->mp.len = 0;
        int rc = sa_json_parse((const char *)c->buf + c->start, have < lim ? have : lim, 0, &c->mp,
                               used, &inc, &e);
        if (rc == 0)
            return 1;
        if (rc == STEPARC_E_NOMEM)
            return sa_conv_fail(c, rc, "out of memory");
        if (rc == STEPARC_E_LIMIT)
            return 0;
        if (!inc || (c->eof && have <= lim))
            return 2;
        if (have >= lim)
            return 0;
        size_t want = have + (have > SA_READ_CHUNK ? have : SA_READ_CHUNK);
        rc = sa_conv_fill(c, want < lim ? want : lim);
        if (rc)
            return rc;
        if (c->end - c->start == have && !c->eof)
            return 2;
    }
}

static int stream_value(steparc_converter *c, int role, int depth, uint64_t *found);

/* One member value or element at the window start. */
static int stream_member(steparc_converter *c, int role, int depth, uint64_t index, uint64_t *found)
{
    int rc = sa_conv_skip_ws(c);
    if (rc)
        return rc;
    if (c->start == c->end)
        return sa_conv_parse_error(c, 0, STEPARC_E_INPUT, "truncated document at the end of the input");
    unsigned char ch = c->buf[c->start];
    if (ch != '{' && ch != '[') {
        size_t used;
        rc = sa_conv_parse_one(c, &used);
        if (rc)
            return rc < 0 ? rc : 0;
        rc = walk_one(c, (const unsigned char *)c->mp.data, c->mp.len, R_ANY, depth, 0, found);
        if (rc)
            return rc;
        sa_conv_consume(c, used);
        return 0;
    }
    size_t used;
    rc = try_parse(c, &used);
    if (rc < 0)
        return rc;
    if (rc == 2) {
        rc = sa_conv_parse_one(c, &used); /* reports it (or skips it under skip_invalid) */
        return rc < 0 ? rc : 0;
    }
    if (rc == 0)
        return stream_value(c, role, depth + 1, found);
    const unsigned char *mp = (const unsigned char *)c->mp.data;
    size_t len = c->mp.len;
    if (role == R_HAR_ENTRIES)
        rc = har_entry(c, mp, len, index, depth);
    else if (role == R_ITEMS) {
        uint64_t before = *found;
        rc = walk_mp(c, mp, len, R_ANY, depth, 0, found);
        if (rc == 0 && *found == before) {
            (*found)++;
            rc = sa_conv_item(c, mp, len, 0, NULL);
        }
    } else
        rc = walk_mp(c, mp, len, role, depth, 0, found);
    if (rc == 0)
        sa_conv_consume(c, used);
    return rc;
}

/* The key at the window start (a JSON string): copied into key (truncated,
 * NUL-terminated), then the ':'. */
static int stream_key(steparc_converter *c, char *key, size_t cap)
{
    int rc = sa_conv_skip_ws(c);
    if (rc)
        return rc;
    if (c->start == c->end || c->buf[c->start] != '"')
        return sa_conv_parse_error(c, 0, STEPARC_E_INPUT, "object key (a string) expected");
    size_t used;
    rc = sa_conv_parse_one(c, &used);
    if (rc)
        return rc < 0 ? rc : STEPARC_E_INPUT;
    sa_mpr r = {(const unsigned char *)c->mp.data, (const unsigned char *)c->mp.data + c->mp.len};
    sa_mpitem k;
    key[0] = 0;
    if (sa_mp_read(&r, &k) == 0 && k.type == SA_MP_STR) {
        size_t n = k.n < cap - 1 ? k.n : cap - 1;
        memcpy(key, k.s, n);
        key[n] = 0;
    }
    sa_conv_consume(c, used);
    return sa_conv_expect(c, ':', "':' expected after an object key");
}

/* An object or array too large to parse whole, at the window start: its
 * members are searched one by one. */
static int stream_value(steparc_converter *c, int role, int depth, uint64_t *found)
{
    if (depth > WALK_MAX_DEPTH)
        return sa_conv_parse_error(c, 0, STEPARC_E_LIMIT, "document nested too deep");
    int is_obj = c->buf[c->start] == '{';
    unsigned char close = is_obj ? '}' : ']';
    int is_list = 0, node_opts = 0, node_body_found = 0;
    sa_conv_consume(c, 1);
    for (uint64_t i = 0;; i++) {
        int rc = sa_conv_next_member(c, close, "truncated document at the end of the input");
        if (rc)
            return rc < 0 ? rc : 0;
        if (i > 0 && (rc = sa_conv_expect(c, ',', is_obj ? "',' or '}' expected in object"
                                                 : "',' or ']' expected in array")) != 0)
            return rc;
        int r = role == R_ITEMS ? R_ITEMS : role == R_HAR_ENTRIES ? R_HAR_ENTRIES : R_ANY;
        if (is_obj) {
            char key[32];
            if ((rc = stream_key(c, key, sizeof key)) != 0)
                return rc;
            sa_mpitem k = {.type = SA_MP_STR, .s = key, .n = (uint32_t)strlen(key)};
            r = child_role(role, &k, is_list);
            if (strcmp(key, "options") == 0)
                node_opts = 1;
            /* a Node page: body and data hold the same objects; once one of
             * them gave some, the other is passed over */
            int node_key = node_opts && (strcmp(key, "body") == 0 || strcmp(key, "data") == 0);
            if (node_key && strcmp(key, "data") == 0)
                r = R_ITEMS;
            if (node_key && node_body_found) {
                size_t used;
                if ((rc = sa_conv_skip_ws(c)) != 0 || (rc = sa_conv_parse_one(c, &used)) != 0)
                    return rc < 0 ? rc : 0;
                sa_conv_consume(c, used);
                continue;
            }
            uint64_t before = *found;
            if (r == R_HAR_ENTRIES)
                (*found)++; /* a HAR: no object to report, whatever its bodies hold */
            if (strcmp(key, "object") == 0) {
                if ((rc = stream_member(c, R_ANY, depth, i, found)) != 0)
                    return rc;
                sa_mpr mr = {(const unsigned char *)c->mp.data,
                             (const unsigned char *)c->mp.data + c->mp.len};
                sa_mpitem v;
                if (sa_mp_read(&mr, &v) == 0 && v.type == SA_MP_STR) {
                    if (steparc_kind_of_object(v.s, v.n) != STEPARC_KIND_OTHER)
                        return sa_conv_parse_error(c, 0, STEPARC_E_LIMIT,
                                                   "an object longer than the record limit");
                    is_list = v.n == 4 && memcmp(v.s, "list", 4) == 0;
                }
                continue;
            }
            if ((rc = stream_member(c, r, depth, i, found)) != 0)
                return rc;
            if (node_key && *found > before)
                node_body_found = 1;
        } else if ((rc = stream_member(c, r == R_ITEMS ? R_ITEMS : r, depth, i, found)) != 0) {
            return rc;
        }
    }
}

int sa_conv_doc_value(steparc_converter *c)
{
    size_t used;
    int rc = try_parse(c, &used);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        rc = sa_conv_value(c, (const unsigned char *)c->mp.data, c->mp.len, 0);
        if (rc == 0)
            sa_conv_consume(c, used);
        return rc;
    }
    if (rc == 2) {
        rc = sa_conv_parse_one(c, &used); /* the error (or the skip) as today */
        if (rc)
            return rc < 0 ? rc : 0;
        return sa_conv_fail(c, STEPARC_E_INPUT, "internal: document parses differently");
    }
    uint64_t found = 0;
    uint64_t line = c->line, col = c->abs_start - c->line_off + 1;
    rc = stream_value(c, R_TOP, c->walk_depth + 1, &found);
    if (rc == 0 && found == 0) {
        /* reported as a top-level object without API objects would be */
        c->st.objects++;
        c->st.skipped[STEPARC_SKIP_NOT_A_STEP]++;
        if (c->opt.skipped)
            c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_NOT_A_STEP, c->name, line, col,
                           "a document longer than the record limit with no API object in it",
                           NULL, 0);
    }
    return rc;
}

/* ---- inputs that are not JSON at all -------------------------------------------------- */

int sa_conv_not_json(steparc_converter *c)
{
    const char *reason = "not JSON and not an event stream (expected '{', '[' or 'event:')";
    if (!c->opt.skip_invalid)
        return sa_conv_parse_error(c, 0, STEPARC_E_INPUT, reason);
    c->st.skipped[STEPARC_SKIP_NOT_JSON]++;
    if (c->opt.skipped)
        c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_NOT_JSON, c->name, c->line, 1,
                       "not JSON and not an event stream: the whole input skipped", NULL, 0);
    return 1;
}

int sa_conv_repr_hint(const steparc_converter *c, size_t rel)
{
    if (c->start + rel >= c->end)
        return 0;
    const char *p = (const char *)c->buf + c->start + rel;
    size_t n = c->end - c->start - rel;
    if (p[0] == '\'')
        return 1;
    static const char *const words[] = {"None", "True", "False"};
    for (size_t i = 0; i < 3; i++) {
        size_t w = strlen(words[i]);
        if (n >= w && memcmp(p, words[i], w) == 0 &&
            (n == w || !((p[w] >= 'a' && p[w] <= 'z') || (p[w] >= 'A' && p[w] <= 'Z') || p[w] == '_')))
            return 1;
    }
    return 0;
}

/* ---- directory walks: symbolic links ------------------------------------------------- */

int sa_conv_dir_push(steparc_converter *c, const struct stat *st)
{
    if (SA_GROW(c->dirs, c->capdirs, c->ndirs, 16) != 0)
        return sa_conv_fail(c, STEPARC_E_NOMEM, "out of memory");
    c->dirs[c->ndirs].dev = (uint64_t)st->st_dev;
    c->dirs[c->ndirs].ino = (uint64_t)st->st_ino;
    c->ndirs++;
    return 0;
}

void sa_conv_dir_pop(steparc_converter *c)
{
    if (c->ndirs)
        c->ndirs--;
}

static void report_link(steparc_converter *c, const char *path, const char *detail)
{
    c->st.skipped[STEPARC_SKIP_LINK]++;
    if (c->opt.skipped)
        c->opt.skipped(c->opt.skipped_ctx, STEPARC_SKIP_LINK, path, 0, 0, detail, NULL, 0);
}

int sa_conv_dir_entry(steparc_converter *c, const char *path, struct stat *st)
{
    struct stat ls;
    if (lstat(path, &ls) != 0)
        return sa_conv_fail(c, STEPARC_E_IO, "cannot stat %s: %s", path, strerror(errno));
    if (stat(path, st) != 0)
        return sa_conv_fail(c, STEPARC_E_IO, "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISLNK(ls.st_mode) || !S_ISDIR(st->st_mode))
        return 1; /* files behind links are read as today */
    if (!c->opt.follow_symlinks) {
        report_link(c, path, "symbolic link to a directory, not followed (--follow-symlinks)");
        return 0;
    }
    for (size_t i = 0; i < c->ndirs; i++)
        if (c->dirs[i].dev == (uint64_t)st->st_dev && c->dirs[i].ino == (uint64_t)st->st_ino) {
            report_link(c, path, "symbolic link loop: its directory is already being read");
            return 0;
        }
    return 1;
}
