/* rewrite.c - steparc_rewrite: an archive copied record by record into a
 * writer without the dropped records and with values redacted (deletion
 * requests, sharing for analysis). Like recover.c it joins the reader and a
 * writer through the public API only. Records no rule changes are added as
 * their stored bytes; changed ones are decoded into the one value tree
 * (format/value.c), edited there and re-encoded canonically. */
#define _GNU_SOURCE /* REG_STARTEND: strings may hold NULs; newlocale, uselocale */
#include <locale.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steparc.h"
#include "value.h"

static const char g_redacted[] = "[redacted]";
#define REDACTED_LEN (sizeof g_redacted - 1)

/* A dotted path cut into its members. */
typedef struct {
    steparc_str *seg;
    size_t nseg;
} rw_path;

typedef struct {
    const steparc_rewrite_options *opt;
    steparc_rewrite_report *rep;
    rw_path *where;      /* KEY paths of drop_where */
    steparc_str *wval;   /* their VALUEs */
    rw_path *redact;
    regex_t *re;
    size_t nre;          /* compiled expressions (freed at the end) */
    sa_arena arena;      /* one record's tree, emptied per record */
    steparc_buf out;     /* one re-encoded record */
    int failed;          /* a regexec error or out of memory inside a walk */
} rw_ctx;

static void rw_err(rw_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rw_err(rw_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->rep->errmsg, sizeof c->rep->errmsg, fmt, ap);
    va_end(ap);
}

/* ---- the rules ------------------------------------------------------------------------ */

/* Cuts s[0..n) at the dots; every member non-empty. 0, or STEPARC_E_ARG / NOMEM. */
static int path_parse(rw_path *p, const char *s, size_t n)
{
    size_t k = 1;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '.';
    p->seg = calloc(k, sizeof *p->seg);
    p->nseg = 0;
    if (p->seg == NULL)
        return STEPARC_E_NOMEM;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (i == start)
            return STEPARC_E_ARG; /* "", ".a", "a..b", "a." */
        p->seg[p->nseg].ptr = s + start;
        p->seg[p->nseg++].len = i - start;
        start = i + 1;
    }
    return 0;
}

static int check_list(rw_ctx *c, const char *const *list, size_t n, const char *what)
{
    if (n > STEPARC_REWRITE_MAX_RULES) {
        rw_err(c, "too many %s rules (%zu; at most %d)", what, n, STEPARC_REWRITE_MAX_RULES);
        return STEPARC_E_ARG;
    }
    for (size_t i = 0; i < n; i++)
        if (list == NULL || list[i] == NULL || list[i][0] == 0) {
            rw_err(c, "%s rule %zu is empty", what, i + 1);
            return STEPARC_E_ARG;
        }
    return 0;
}

/* Parses and compiles every rule of c->opt; 0 or STEPARC_E_ARG / NOMEM. */
static int rules_init(rw_ctx *c)
{
    const steparc_rewrite_options *o = c->opt;
    int rc;
    if ((rc = check_list(c, o->drop_threads, o->n_drop_threads, "drop-thread")) ||
        (rc = check_list(c, o->drop_assistants, o->n_drop_assistants, "drop-assistant")) ||
        (rc = check_list(c, o->drop_where, o->n_drop_where, "drop-where")) ||
        (rc = check_list(c, o->redact, o->n_redact, "redact")) ||
        (rc = check_list(c, o->redact_text, o->n_redact_text, "redact-text")))
        return rc;
    c->where = calloc(o->n_drop_where + 1, sizeof *c->where);
    c->wval = calloc(o->n_drop_where + 1, sizeof *c->wval);
    c->redact = calloc(o->n_redact + 1, sizeof *c->redact);
    c->re = calloc(o->n_redact_text + 1, sizeof *c->re);
    if (!c->where || !c->wval || !c->redact || !c->re)
        return STEPARC_E_NOMEM;
    for (size_t i = 0; i < o->n_drop_where; i++) {
        const char *s = o->drop_where[i], *eq = strchr(s, '=');
        rc = eq ? path_parse(&c->where[i], s, (size_t)(eq - s)) : STEPARC_E_ARG;
        if (rc) {
            rw_err(c, "drop-where \"%s\": KEY=VALUE expected, KEY a dotted path", s);
            return rc;
        }
        c->wval[i].ptr = eq + 1;
        c->wval[i].len = strlen(eq + 1);
    }
    for (size_t i = 0; i < o->n_redact; i++)
        if ((rc = path_parse(&c->redact[i], o->redact[i], strlen(o->redact[i]))) != 0) {
            rw_err(c, "redact \"%s\": a dotted path with no empty member expected",
                   o->redact[i]);
            return rc;
        }
    for (; c->nre < o->n_redact_text; c->nre++) {
        int e = regcomp(&c->re[c->nre], o->redact_text[c->nre], REG_EXTENDED);
        if (e != 0) {
            char why[160];
            regerror(e, &c->re[c->nre], why, sizeof why);
            rw_err(c, "redact-text \"%s\": %s", o->redact_text[c->nre], why);
            return STEPARC_E_ARG;
        }
    }
    return 0;
}

static void rules_free(rw_ctx *c)
{
    const steparc_rewrite_options *o = c->opt;
    for (size_t i = 0; c->where && i < o->n_drop_where; i++)
        free(c->where[i].seg);
    for (size_t i = 0; c->redact && i < o->n_redact; i++)
        free(c->redact[i].seg);
    for (size_t i = 0; i < c->nre; i++)
        regfree(&c->re[i]);
    free(c->where);
    free(c->wval);
    free(c->redact);
    free(c->re);
    sa_arena_free(&c->arena);
    steparc_buf_free(&c->out);
}

/* ---- dropping ------------------------------------------------------------------------- */

static int str_is(steparc_str s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && memcmp(s.ptr, z, n) == 0;
}

static int seg_is(steparc_str seg, const char *key)
{
    return str_is(seg, key);
}

/* The string member `key` of obj, or NULL. */
static const steparc_str *get_str(const steparc_value *obj, const char *key)
{
    const steparc_value *v = sa_value_get(obj, key);
    return v && v->type == STEPARC_V_STRING ? &v->v.s : NULL;
}

static int in_list(const steparc_str *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (str_is(*s, list[i]))
            return 1;
    return 0;
}

/* The string at path p (object members only) equals val. */
static int where_match(const steparc_value *v, const rw_path *p, steparc_str val)
{
    for (size_t i = 0; v && i < p->nseg; i++) {
        const steparc_value *next = NULL;
        if (v->type == STEPARC_V_OBJECT)
            for (size_t k = 0; k < v->v.object.count && !next; k++)
                if (p->seg[i].len == v->v.object.items[k].key.len &&
                    memcmp(p->seg[i].ptr, v->v.object.items[k].key.ptr, p->seg[i].len) == 0)
                    next = &v->v.object.items[k].value;
        v = next;
    }
    return v && v->type == STEPARC_V_STRING && v->v.s.len == val.len &&
           memcmp(v->v.s.ptr, val.ptr, val.len) == 0;
}

static int is_dropped(const rw_ctx *c, const steparc_value *root, int kind)
{
    const steparc_rewrite_options *o = c->opt;
    const steparc_str *id = get_str(root, "id");
    if (in_list(get_str(root, "thread_id"), o->drop_threads, o->n_drop_threads) ||
        (kind == STEPARC_KIND_THREAD && in_list(id, o->drop_threads, o->n_drop_threads)))
        return 1;
    if (in_list(get_str(root, "assistant_id"), o->drop_assistants, o->n_drop_assistants) ||
        (kind == STEPARC_KIND_ASSISTANT &&
         in_list(id, o->drop_assistants, o->n_drop_assistants)))
        return 1;
    for (size_t i = 0; i < o->n_drop_where; i++)
        if (where_match(root, &c->where[i], c->wval[i]))
            return 1;
    return 0;
}

static void note_dropped(rw_ctx *c, const steparc_value *root, int kind)
{
    steparc_rewrite_report *rep = c->rep;
    rep->dropped++;
    rep->dropped_by_kind[kind >= 0 && kind < STEPARC_KINDS ? kind : STEPARC_KIND_OTHER]++;
    const steparc_str *id = get_str(root, "id");
    if (id && rep->dropped_ids_count < STEPARC_REWRITE_IDS) {
        size_t n = id->len < STEPARC_REWRITE_ID_SIZE - 1 ? id->len : STEPARC_REWRITE_ID_SIZE - 1;
        memcpy(rep->dropped_ids[rep->dropped_ids_count], id->ptr, n);
        rep->dropped_ids[rep->dropped_ids_count++][n] = 0;
    }
}

/* ---- redacting ------------------------------------------------------------------------ */

static int seg_index(steparc_str seg, size_t *idx)
{
    size_t v = 0;
    if (seg.len == 0 || seg.len > 18)
        return 0;
    for (size_t i = 0; i < seg.len; i++) {
        if (seg.ptr[i] < '0' || seg.ptr[i] > '9')
            return 0;
        v = v * 10 + (size_t)(seg.ptr[i] - '0');
    }
    *idx = v;
    return 1;
}

/* Replaces every value at p->seg[i..] under v; returns how many. */
static uint64_t redact_path(steparc_value *v, const rw_path *p, size_t i)
{
    if (i == p->nseg) {
        v->type = STEPARC_V_STRING;
        v->v.s.ptr = g_redacted;
        v->v.s.len = REDACTED_LEN;
        return 1;
    }
    steparc_str seg = p->seg[i];
    int star = seg_is(seg, "*");
    uint64_t n = 0;
    size_t idx;
    if (v->type == STEPARC_V_OBJECT) {
        for (size_t k = 0; k < v->v.object.count; k++) {
            steparc_member *m = &v->v.object.items[k];
            if (star || (m->key.len == seg.len && memcmp(m->key.ptr, seg.ptr, seg.len) == 0))
                n += redact_path(&m->value, p, i + 1);
        }
    } else if (v->type == STEPARC_V_ARRAY) {
        if (star)
            for (size_t k = 0; k < v->v.array.count; k++)
                n += redact_path(&v->v.array.items[k], p, i + 1);
        else if (seg_index(seg, &idx) && idx < v->v.array.count)
            n += redact_path(&v->v.array.items[idx], p, i + 1);
    }
    return n;
}

/* Each non-empty match of re in *s becomes "[redacted]" (the new string in
 * the arena); returns how many. */
static uint64_t redact_string(rw_ctx *c, steparc_str *s, const regex_t *re)
{
    uint64_t n = 0;
    size_t pos = 0, last = 0, cap = 0, len = 0;
    char *dst = NULL;
    while (pos <= s->len) {
        regmatch_t m[1];
        m[0].rm_so = (regoff_t)pos;
        m[0].rm_eo = (regoff_t)s->len;
        int e = regexec(re, s->ptr, 1, m, REG_STARTEND | (pos ? REG_NOTBOL : 0));
        if (e == REG_NOMATCH)
            break;
        if (e != 0) {
            c->failed = STEPARC_E_NOMEM; /* REG_ESPACE: the only other outcome */
            return n;
        }
        size_t so = (size_t)m[0].rm_so, eo = (size_t)m[0].rm_eo;
        if (eo == so) { /* an empty match replaces nothing */
            pos = so + 1;
            continue;
        }
        size_t need = len + (so - last) + REDACTED_LEN + (s->len - eo);
        if (need > cap) {
            size_t ncap = need * 2 + 16;
            char *nd = sa_arena_alloc(&c->arena, ncap);
            if (nd == NULL) {
                c->failed = STEPARC_E_NOMEM;
                return n;
            }
            if (len)
                memcpy(nd, dst, len);
            dst = nd;
            cap = ncap;
        }
        memcpy(dst + len, s->ptr + last, so - last);
        len += so - last;
        memcpy(dst + len, g_redacted, REDACTED_LEN);
        len += REDACTED_LEN;
        last = pos = eo;
        n++;
    }
    if (n) {
        memcpy(dst + len, s->ptr + last, s->len - last);
        s->ptr = dst;
        s->len = len + s->len - last;
    }
    return n;
}

/* Every string value under v (keys untouched) through re. */
static uint64_t redact_text(rw_ctx *c, steparc_value *v, const regex_t *re)
{
    uint64_t n = 0;
    if (v->type == STEPARC_V_STRING)
        n = redact_string(c, &v->v.s, re);
    else if (v->type == STEPARC_V_ARRAY)
        for (size_t k = 0; k < v->v.array.count && !c->failed; k++)
            n += redact_text(c, &v->v.array.items[k], re);
    else if (v->type == STEPARC_V_OBJECT)
        for (size_t k = 0; k < v->v.object.count && !c->failed; k++)
            n += redact_text(c, &v->v.object.items[k].value, re);
    return n;
}

/* Applies every redaction to root; 1 when something changed. */
static int redact_record(rw_ctx *c, steparc_value *root)
{
    uint64_t changed = 0;
    for (size_t i = 0; i < c->opt->n_redact; i++) {
        uint64_t n = redact_path(root, &c->redact[i], 0);
        c->rep->redacted[i] += n;
        changed += n;
    }
    for (size_t i = 0; i < c->nre && !c->failed; i++) {
        uint64_t n = redact_text(c, root, &c->re[i]);
        c->rep->redacted_text[i] += n;
        changed += n;
    }
    return changed != 0;
}

/* ---- the copy ------------------------------------------------------------------------- */

/* One record: dropped, copied as it is, or redacted and re-encoded. */
static int rewrite_one(rw_ctx *c, steparc_writer *w, uint64_t ord, const void *mp, size_t len)
{
    steparc_value *root = NULL;
    int kind = STEPARC_KIND_OTHER;
    sa_arena_free(&c->arena);
    int rc = sa_value_decode(&root, &c->arena, mp, len);
    if (rc != 0) {
        rw_err(c, "record %llu does not decode: %s", (unsigned long long)ord, steparc_strerror(rc));
        return rc == STEPARC_E_NOMEM ? rc : STEPARC_E_CORRUPT;
    }
    (void)steparc_record_kind(&kind, mp, len);
    if (is_dropped(c, root, kind)) {
        note_dropped(c, root, kind);
        return 0;
    }
    c->rep->records_out++;
    if (redact_record(c, root)) {
        if (c->failed) {
            rw_err(c, "out of memory redacting record %llu", (unsigned long long)ord);
            return c->failed;
        }
        c->rep->records_redacted++;
        c->out.len = 0;
        rc = sa_mpw_value(&c->out, root, 0);
        if (rc != 0) {
            rw_err(c, "record %llu: the redacted record does not encode (%s)%s",
                   (unsigned long long)ord, steparc_strerror(rc),
                   rc == STEPARC_E_ARG ? ": a match split a UTF-8 character" : "");
            return rc == STEPARC_E_ARG ? STEPARC_E_INPUT : rc;
        }
        mp = c->out.data;
        len = c->out.len;
    }
    if (w && (rc = steparc_writer_add_msgpack(w, mp, len)) != 0) {
        rw_err(c, "%s", steparc_writer_errmsg(w));
        return rc;
    }
    return 0;
}

int steparc_rewrite(steparc_rewrite_report *rep, steparc_reader *r, steparc_writer *w,
                    const steparc_rewrite_options *opt)
{
    if (rep == NULL)
        return STEPARC_E_ARG;
    memset(rep, 0, sizeof *rep);
    if (r == NULL || opt == NULL) {
        snprintf(rep->errmsg, sizeof rep->errmsg, "a NULL reader or options");
        return STEPARC_E_ARG;
    }
    rw_ctx c;
    memset(&c, 0, sizeof c);
    c.opt = opt;
    c.rep = rep;
    steparc_cursor *cur = NULL;
    /* The expressions match UTF-8 characters whatever the caller's locale
     * (a Python host sets LC_CTYPE from the environment, the command does
     * not): C.UTF-8 for this thread during the call, C where it is missing. */
    locale_t loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
    if (loc == (locale_t)0)
        loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    locale_t old = loc != (locale_t)0 ? uselocale(loc) : (locale_t)0;
    int rc = rules_init(&c);
    if (rc == STEPARC_E_NOMEM)
        rw_err(&c, "out of memory");
    if (rc != 0)
        goto cleanup;
    if ((rc = steparc_cursor_open(&cur, r, NULL)) != 0) {
        rw_err(&c, "%s", steparc_strerror(rc));
        goto cleanup;
    }
    uint64_t ord;
    const void *mp;
    size_t len;
    while ((rc = steparc_cursor_next(&ord, &mp, &len, cur)) == 0) {
        rep->records_in++;
        if ((rc = rewrite_one(&c, w, ord, mp, len)) != 0)
            goto cleanup;
    }
    if (rc == STEPARC_END)
        rc = 0;
    else
        rw_err(&c, "%s", steparc_cursor_errmsg(cur));
cleanup:
    steparc_cursor_close(cur);
    rules_free(&c);
    if (loc != (locale_t)0) {
        uselocale(old);
        freelocale(loc);
    }
    return rc;
}
