/* ext.c - steparc's loadable SQLite extension (docs/SQL.md): table-valued
 * functions steparc_steps(FILE), steparc_messages(FILE), ... and the module
 * `steparc` for CREATE VIRTUAL TABLE t USING steparc(FILE, KIND). Read-only;
 * rows come from sqlite/rows.c, the same code `steparc export --sqlite` uses.
 *
 * Access paths (xBestIndex): id = / IN through the id index; thread_id,
 * run_id, assistant_id = / IN through the postings (the cursor filter);
 * created_at ranges through the block zone maps (since/until); anything else
 * scans. Every pushed constraint is still checked by SQLite (omit = 0): the
 * archive only has to give a superset, which keeps SQL's comparison rules
 * (affinity, NULL, mistyped values) exact. idxStr names the arguments, one
 * token per xFilter argument ("file id=", "file thread_id:in created_at>="),
 * so EXPLAIN QUERY PLAN shows the index used.
 *
 * A client of libsteparc's public API only (include/steparc.h), linked in
 * statically so that `.load build/steparc_sqlite` works from anywhere. */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rows.h"
#include "steparc.h"

/* ---- readers: one per table, cached by path --------------------------------------------- */

typedef struct {
    char *path;
    steparc_reader *r;
    int refs;
    struct stat st; /* reopened when the file changes (an archive is replaced by rename) */
} ext_reader;

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Opens path into *x; *err gets a message (sqlite3_malloc'ed) on failure. */
static int reader_open(ext_reader *x, const char *path, char **err)
{
    char buf[512] = "";
    memset(x, 0, sizeof *x);
    if (stat(path, &x->st) != 0) {
        *err = sqlite3_mprintf("steparc: cannot open %s: %s", path, strerror(errno));
        return SQLITE_ERROR;
    }
    int rc = steparc_reader_open(&x->r, path, NULL, buf, sizeof buf);
    if (rc) {
        *err = sqlite3_mprintf("steparc: cannot open %s: %s", path,
                               buf[0] ? buf : steparc_strerror(rc));
        return SQLITE_ERROR;
    }
    x->path = sqlite3_mprintf("%s", path);
    if (!x->path) {
        steparc_reader_close(x->r);
        x->r = NULL;
        return SQLITE_NOMEM;
    }
    return SQLITE_OK;
}

static void reader_close(ext_reader *x)
{
    steparc_reader_close(x->r);
    sqlite3_free(x->path);
    memset(x, 0, sizeof *x);
}

/* ---- the virtual table ------------------------------------------------------------------ */

typedef struct {
    sqlite3_vtab base;
    const sqlrow_table *t;
    int eponymous; /* a hidden `file` column (argument) after the table's columns */
    ext_reader cache;
} ext_vtab;

/* One key the cursor goes through: an id to look up, or a postings key. */
typedef struct {
    char *s;
    int n;
} ext_key;

typedef struct {
    sqlite3_vtab_cursor base;
    ext_reader own; /* when the vtab's cached reader is busy with another path */
    steparc_reader *r;
    int uses_cache;
    char *file;
    /* access: by id (keys are ids), by one postings field (keys), or one scan */
    int by_id, key_field; /* key_field: 0 none, 1 run, 2 thread, 3 assistant */
    ext_key *keys;
    int nkeys, ki;
    ext_key fixed[3]; /* the other postings fields, as filter fields (one value each) */
    steparc_filter f;
    int empty;   /* a constraint no row can meet (col = NULL) */
    steparc_cursor *c;
    steparc_buf buf; /* a record fetched by id */
    int pending;     /* buf holds the next record */
    uint64_t ordinal;
    size_t row;
    sqlrow_rec rec;
    int filled, eof;
} ext_cursor;

/* The table's error: fmt has one %s, for a. */
static int vt_error(sqlite3_vtab *vt, const char *fmt, const char *a)
{
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf(fmt, a);
    return SQLITE_ERROR;
}

/* The schema: the table's columns, then HIDDEN file for the functions. */
static char *schema(const sqlrow_table *t, int eponymous)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    sqlite3_str_appendall(s, "CREATE TABLE x(");
    for (int i = 0; i < t->ncols; i++)
        sqlite3_str_appendf(s, "%s\"%w\" %s", i ? ", " : "", t->cols[i].name, t->cols[i].type);
    if (eponymous)
        sqlite3_str_appendall(s, ", file HIDDEN");
    sqlite3_str_appendall(s, ")");
    return sqlite3_str_finish(s);
}

/* A module argument without its SQL quotes ('x', "x", `x` or [x]). */
static char *unquote(const char *a)
{
    size_t n = strlen(a);
    char q = a[0];
    if (n >= 2 && (q == '\'' || q == '"' || q == '`' || q == '[')) {
        char e = q == '[' ? ']' : q;
        if (a[n - 1] == e) {
            sqlite3_str *s = sqlite3_str_new(NULL);
            for (size_t i = 1; i + 1 < n; i++) {
                if (a[i] == e && e != ']' && a[i + 1] == e)
                    i++; /* doubled quote */
                sqlite3_str_appendchar(s, 1, a[i]);
            }
            return sqlite3_str_finish(s);
        }
    }
    return sqlite3_mprintf("%s", a);
}

static int vt_init(sqlite3 *db, void *aux, int argc, const char *const *argv,
                   sqlite3_vtab **out, char **err, int create)
{
    const sqlrow_table *t = aux;
    char *path = NULL, *kind = NULL, *sql = NULL;
    ext_vtab *vt = NULL;
    int rc = SQLITE_NOMEM;
    *out = NULL;
    if (!t) { /* USING steparc(FILE, KIND) */
        if (!create || argc != 5) {
            *err = sqlite3_mprintf("steparc: usage: CREATE VIRTUAL TABLE name USING "
                                   "steparc(FILE, KIND), KIND one of step, message, run, "
                                   "thread, assistant, tool_call, record");
            return SQLITE_ERROR;
        }
        if (!(path = unquote(argv[3])) || !(kind = unquote(argv[4])))
            goto cleanup;
        t = sqlrow_table_named(kind, strlen(kind));
        if (!t) {
            *err = sqlite3_mprintf("steparc: unknown kind '%s' (step, message, run, thread, "
                                   "assistant, tool_call, record)", kind);
            rc = SQLITE_ERROR;
            goto cleanup;
        }
    }
    vt = sqlite3_malloc(sizeof *vt);
    if (!vt)
        goto cleanup;
    memset(vt, 0, sizeof *vt);
    vt->t = t;
    vt->eponymous = path == NULL;
    if (path && (rc = reader_open(&vt->cache, path, err)) != SQLITE_OK)
        goto cleanup;
    if (!(sql = schema(t, vt->eponymous))) {
        rc = SQLITE_NOMEM;
        goto cleanup;
    }
    if ((rc = sqlite3_declare_vtab(db, sql)) != SQLITE_OK)
        goto cleanup;
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    *out = &vt->base;
    vt = NULL;
cleanup:
    if (vt) {
        reader_close(&vt->cache);
        sqlite3_free(vt);
    }
    sqlite3_free(sql);
    sqlite3_free(path);
    sqlite3_free(kind);
    return rc;
}

static int vt_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err)
{
    return vt_init(db, aux, argc, argv, out, err, 0);
}

static int vt_create(sqlite3 *db, void *aux, int argc, const char *const *argv,
                     sqlite3_vtab **out, char **err)
{
    return vt_init(db, aux, argc, argv, out, err, 1);
}

static int vt_disconnect(sqlite3_vtab *base)
{
    ext_vtab *vt = (ext_vtab *)base;
    reader_close(&vt->cache);
    sqlite3_free(vt);
    return SQLITE_OK;
}

/* ---- planning --------------------------------------------------------------------------- */

static const char *range_op(unsigned char op)
{
    switch (op) {
    case SQLITE_INDEX_CONSTRAINT_GT: return ">";
    case SQLITE_INDEX_CONSTRAINT_GE: return ">=";
    case SQLITE_INDEX_CONSTRAINT_LT: return "<";
    case SQLITE_INDEX_CONSTRAINT_LE: return "<=";
    case SQLITE_INDEX_CONSTRAINT_EQ: return "=";
    default: return NULL;
    }
}

/* idxNum bits, for the reader of a plan */
enum { IDX_FILE = 1, IDX_ID = 2, IDX_RUN = 4, IDX_THREAD = 8, IDX_ASSISTANT = 16, IDX_TIME = 32 };

static int vt_best_index(sqlite3_vtab *base, sqlite3_index_info *info)
{
    ext_vtab *vt = (ext_vtab *)base;
    const sqlrow_table *t = vt->t;
    int file_col = t->ncols, have_file = 0, file_unusable = 0, argn = 0;
    int idnum = 0, in_used = 0;
    double cost = 1e6, rows = 1e6;
    sqlite3_str *s = sqlite3_str_new(NULL);

    /* the file argument first: argv[0] */
    for (int i = 0; vt->eponymous && i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn != file_col)
            continue;
        if (!c->usable || c->op != SQLITE_INDEX_CONSTRAINT_EQ) {
            file_unusable = 1;
            continue;
        }
        if (have_file)
            continue;
        have_file = 1;
        info->aConstraintUsage[i].argvIndex = ++argn;
        info->aConstraintUsage[i].omit = 1;
        sqlite3_str_appendall(s, "file");
        idnum |= IDX_FILE;
    }
    if (vt->eponymous && !have_file) {
        sqlite3_free(sqlite3_str_finish(s));
        if (file_unusable)
            return SQLITE_CONSTRAINT;
        return vt_error(base, "steparc: the archive's path is missing: "
                        "SELECT ... FROM steparc_%s('FILE.steparc')", t->name);
    }
    /* one access path: id first, then the postings; the others are filter fields */
    int cols[4] = {t->c_id, t->c_run, t->c_thread, t->c_assistant};
    const char *names[4] = {"id", "run_id", "thread_id", "assistant_id"};
    int bits[4] = {IDX_ID, IDX_RUN, IDX_THREAD, IDX_ASSISTANT};
    for (int k = 0; k < 4; k++) {
        if (cols[k] < 0 || (k > 0 && (idnum & IDX_ID)))
            continue;
        for (int i = 0; i < info->nConstraint; i++) {
            const struct sqlite3_index_constraint *c = &info->aConstraint[i];
            if (c->iColumn != cols[k] || !c->usable || c->op != SQLITE_INDEX_CONSTRAINT_EQ ||
                (idnum & bits[k]))
                continue;
            int in = !in_used && sqlite3_vtab_in(info, i, -1);
            /* a second IN list goes one value at a time (SQLite loops) */
            if (in) {
                sqlite3_vtab_in(info, i, 1);
                in_used = 1;
            }
            info->aConstraintUsage[i].argvIndex = ++argn;
            sqlite3_str_appendf(s, "%s%s%s", sqlite3_str_length(s) ? " " : "", names[k], in ? ":in" : "=");
            idnum |= bits[k];
            if (k == 0) {
                cost = in ? 50 : 10;
                rows = in ? 10 : 1;
                if (!in)
                    info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
            } else if (cost > 1000) {
                cost = in ? 5000 : 1000;
                rows = in ? 500 : 100;
            }
        }
    }
    for (int i = 0; t->c_created >= 0 && !(idnum & IDX_ID) && i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        const char *op = range_op(c->op);
        if (c->iColumn != t->c_created || !c->usable || !op)
            continue;
        info->aConstraintUsage[i].argvIndex = ++argn;
        sqlite3_str_appendf(s, "%screated_at%s", sqlite3_str_length(s) ? " " : "", op);
        if (!(idnum & IDX_TIME)) {
            cost /= c->op == SQLITE_INDEX_CONSTRAINT_EQ ? 100 : 4;
            rows /= c->op == SQLITE_INDEX_CONSTRAINT_EQ ? 100 : 4;
        }
        idnum |= IDX_TIME;
    }
    info->idxNum = idnum;
    int bad = sqlite3_str_errcode(s);
    info->idxStr = sqlite3_str_finish(s); /* NULL when empty: no arguments */
    if (bad)
        return SQLITE_NOMEM;
    info->needToFreeIdxStr = info->idxStr != NULL;
    info->estimatedCost = cost;
    info->estimatedRows = (sqlite3_int64)rows;
    return SQLITE_OK;
}

/* ---- cursors ---------------------------------------------------------------------------- */

static int cur_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out)
{
    ext_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    (void)base;
    return SQLITE_OK;
}

static void cur_reset(ext_cursor *c)
{
    ext_vtab *vt = (ext_vtab *)c->base.pVtab;
    steparc_cursor_close(c->c);
    c->c = NULL;
    for (int i = 0; i < c->nkeys; i++)
        sqlite3_free(c->keys[i].s);
    sqlite3_free(c->keys);
    c->keys = NULL;
    c->nkeys = c->ki = 0;
    for (int i = 0; i < 3; i++)
        sqlite3_free(c->fixed[i].s);
    memset(c->fixed, 0, sizeof c->fixed);
    if (c->uses_cache)
        vt->cache.refs--;
    c->uses_cache = 0;
    reader_close(&c->own);
    c->r = NULL;
    sqlite3_free(c->file);
    c->file = NULL;
    c->by_id = c->key_field = c->empty = c->filled = c->pending = 0;
    c->eof = 1;
    memset(&c->f, 0, sizeof c->f);
}

static int cur_close(sqlite3_vtab_cursor *base)
{
    ext_cursor *c = (ext_cursor *)base;
    cur_reset(c);
    sqlrow_clear(&c->rec);
    steparc_buf_free(&c->buf);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* The reader for path: the vtab's cached one when it is free or already on
 * this file (several cursors share a reader), else one of the cursor's own. */
static int cur_reader(ext_cursor *c, const char *path)
{
    ext_vtab *vt = (ext_vtab *)c->base.pVtab;
    char *err = NULL;
    int rc;
    if (!vt->eponymous) { /* a named table: its file, reopened when it was replaced */
        struct stat st;
        if (vt->cache.refs == 0 && stat(vt->cache.path, &st) == 0 && !same_file(&st, &vt->cache.st)) {
            char *p = sqlite3_mprintf("%s", vt->cache.path);
            if (!p)
                return SQLITE_NOMEM;
            reader_close(&vt->cache);
            rc = reader_open(&vt->cache, p, &err);
            sqlite3_free(p);
            if (rc)
                goto fail;
        }
        if (!vt->cache.r)
            return vt_error(&vt->base, "steparc: %s: the archive could not be reopened", vt->cache.path);
        vt->cache.refs++;
        c->uses_cache = 1;
        c->r = vt->cache.r;
        return SQLITE_OK;
    }
    struct stat st;
    if (vt->cache.r && strcmp(vt->cache.path, path) == 0 &&
        (stat(path, &st) != 0 || same_file(&st, &vt->cache.st))) {
        vt->cache.refs++;
        c->uses_cache = 1;
        c->r = vt->cache.r;
        return SQLITE_OK;
    }
    if (vt->cache.refs == 0) {
        reader_close(&vt->cache);
        if ((rc = reader_open(&vt->cache, path, &err)) != SQLITE_OK)
            goto fail;
        vt->cache.refs++;
        c->uses_cache = 1;
        c->r = vt->cache.r;
        return SQLITE_OK;
    }
    if ((rc = reader_open(&c->own, path, &err)) != SQLITE_OK)
        goto fail;
    c->r = c->own.r;
    return SQLITE_OK;
fail:
    if (err) {
        sqlite3_free(vt->base.zErrMsg);
        vt->base.zErrMsg = err;
    }
    return rc;
}

/* A copy of v's text, for the life of the cursor's query; NULL s: v is NULL. */
static int copy_key(ext_key *k, sqlite3_value *v)
{
    k->s = NULL;
    k->n = 0;
    if (sqlite3_value_type(v) == SQLITE_NULL)
        return SQLITE_OK; /* col = NULL matches nothing */
    const unsigned char *s = sqlite3_value_text(v);
    int n = sqlite3_value_bytes(v);
    if (!s || !(k->s = sqlite3_malloc(n > 0 ? n : 1)))
        return SQLITE_NOMEM;
    memcpy(k->s, s, (size_t)n);
    k->n = n;
    return SQLITE_OK;
}

static int add_key(ext_cursor *c, sqlite3_value *v)
{
    ext_key one;
    int rc = copy_key(&one, v);
    if (rc != SQLITE_OK || !one.s)
        return rc;
    ext_key *k = sqlite3_realloc(c->keys, (int)sizeof *k * (c->nkeys + 1));
    if (!k) {
        sqlite3_free(one.s);
        return SQLITE_NOMEM;
    }
    c->keys = k;
    k[c->nkeys++] = one;
    return SQLITE_OK;
}

/* An access key (by id or a postings field): its one value or its IN list. */
static int take_keys(ext_cursor *c, sqlite3_value *v, int in)
{
    int rc = SQLITE_OK;
    if (!in)
        rc = add_key(c, v);
    else {
        sqlite3_value *x;
        for (rc = sqlite3_vtab_in_first(v, &x); rc == SQLITE_OK && x;
             rc = sqlite3_vtab_in_next(v, &x))
            if ((rc = add_key(c, x)) != SQLITE_OK)
                return rc;
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    if (c->nkeys == 0)
        c->empty = 1;
    return rc;
}

static steparc_str *filter_field(steparc_filter *f, int field)
{
    return field == 1 ? &f->run_id : field == 2 ? &f->thread_id : &f->assistant_id;
}

/* created_at OP v as since/until: a superset (SQLite checks the exact rule);
 * a value that is not a number bounds nothing. */
static void take_range(ext_cursor *c, const char *op, sqlite3_value *v)
{
    int t = sqlite3_value_numeric_type(v);
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
        if (t == SQLITE_NULL)
            c->empty = 1;
        return;
    }
    int64_t lo, hi;
    if (t == SQLITE_INTEGER)
        lo = hi = sqlite3_value_int64(v);
    else {
        double d = sqlite3_value_double(v);
        if (!(d < 9.2e18 && d > -9.2e18))
            return; /* NaN or beyond int64: no bound (still a superset) */
        lo = (int64_t)floor(d);
        hi = (int64_t)ceil(d);
    }
    int since = op[0] == '>' || op[0] == '=', until = op[0] == '<' || op[0] == '=';
    if (since && (!c->f.has_since || lo > c->f.since)) {
        c->f.has_since = 1;
        c->f.since = lo;
    }
    if (until && (!c->f.has_until || hi < c->f.until)) {
        c->f.has_until = 1;
        c->f.until = hi;
    }
}

/* One argument of xFilter, named by its idxStr token (p, n). */
static int take_arg(ext_cursor *c, const char *p, size_t n, sqlite3_value *v)
{
    ext_vtab *vt = (ext_vtab *)c->base.pVtab;
    int in = n > 3 && memcmp(p + n - 3, ":in", 3) == 0;
    if (n == 4 && memcmp(p, "file", 4) == 0) {
        if (sqlite3_value_type(v) == SQLITE_NULL)
            return vt_error(&vt->base, "steparc: %s: the archive's path is NULL", vt->t->name);
        c->file = sqlite3_mprintf("%s", (const char *)sqlite3_value_text(v));
        return c->file ? SQLITE_OK : SQLITE_NOMEM;
    }
    if (n >= 3 && memcmp(p, "id", 2) == 0 && (p[2] == '=' || p[2] == ':')) {
        c->by_id = 1;
        return take_keys(c, v, in);
    }
    if (n >= 10 && memcmp(p, "created_at", 10) == 0) {
        char op[3] = {0};
        memcpy(op, p + 10, n - 10 < 2 ? n - 10 : 2);
        take_range(c, op, v);
        return SQLITE_OK;
    }
    int field = p[0] == 'r' ? 1 : p[0] == 't' ? 2 : 3;
    if (c->by_id)
        return SQLITE_OK; /* the id decides; SQLite checks the rest */
    if (c->key_field == 0) {
        c->key_field = field;
        return take_keys(c, v, in);
    }
    ext_key *k = &c->fixed[field - 1];
    int rc = copy_key(k, v);
    if (rc == SQLITE_OK && !k->s)
        c->empty = 1;
    else if (rc == SQLITE_OK) {
        filter_field(&c->f, field)->ptr = k->s;
        filter_field(&c->f, field)->len = (size_t)k->n;
    }
    return rc;
}

static int next_record(ext_cursor *c);

static int cur_filter(sqlite3_vtab_cursor *base, int idxnum, const char *idxstr, int argc,
                      sqlite3_value **argv)
{
    ext_cursor *c = (ext_cursor *)base;
    ext_vtab *vt = (ext_vtab *)base->pVtab;
    int rc, a = 0;
    (void)idxnum;
    cur_reset(c);
    for (const char *p = idxstr ? idxstr : ""; *p && a < argc;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if ((rc = take_arg(c, p, n, argv[a++])) != SQLITE_OK)
            return rc;
        p += n;
    }
    if ((rc = cur_reader(c, vt->eponymous ? c->file : vt->cache.path)) != SQLITE_OK)
        return rc;
    c->eof = 0;
    c->ki = -1;
    if (c->empty) {
        c->eof = 1;
        return SQLITE_OK;
    }
    return next_record(c);
}

/* The library's message for a failed call on the archive. */
static int arc_error(ext_cursor *c, int st, const char *msg)
{
    ext_vtab *vt = (ext_vtab *)c->base.pVtab;
    if (st == STEPARC_E_NOMEM)
        return SQLITE_NOMEM;
    sqlite3_free(vt->base.zErrMsg);
    vt->base.zErrMsg = sqlite3_mprintf("steparc: %s: %s", c->file ? c->file : vt->cache.path,
                                       msg && msg[0] ? msg : steparc_strerror(st));
    return SQLITE_ERROR;
}

/* Starts the next access unit: one scan, or the next key; *done when none is
 * left. Returns an SQLite code (STEPARC_END is 1, as SQLITE_ERROR: kept apart). */
static int start_unit(ext_cursor *c, int *done)
{
    ext_vtab *vt = (ext_vtab *)c->base.pVtab;
    int st;
    *done = 0;
    c->ki++;
    if ((c->by_id || c->key_field) ? c->ki >= c->nkeys : c->ki > 0) {
        *done = 1;
        return SQLITE_OK;
    }
    if (c->by_id) {
        ext_key *k = &c->keys[c->ki];
        st = steparc_reader_find_id(&c->ordinal, c->r, k->s, (size_t)k->n);
        if (st == STEPARC_E_NOTFOUND)
            return SQLITE_OK; /* an empty unit */
        if (st == 0)
            st = steparc_reader_get_msgpack(&c->buf, c->r, c->ordinal);
        if (st)
            return arc_error(c, st, steparc_reader_errmsg(c->r));
        c->pending = 1;
        return SQLITE_OK;
    }
    if (c->key_field) {
        steparc_str *fs = filter_field(&c->f, c->key_field);
        fs->ptr = c->keys[c->ki].s;
        fs->len = (size_t)c->keys[c->ki].n;
    }
    st = sqlrow_cursor_open(&c->c, c->r, vt->t, &c->f);
    return st ? arc_error(c, st, steparc_reader_errmsg(c->r)) : SQLITE_OK;
}

/* The next record of the current unit into (mp, len), *done at its end (or
 * before the first unit). Returns an SQLite code. */
static int unit_next(ext_cursor *c, const void **mp, size_t *len, int *done)
{
    *done = 0;
    if (c->ki < 0) {
        *done = 1;
        return SQLITE_OK;
    }
    if (c->by_id) {
        *done = !c->pending;
        c->pending = 0;
        *mp = c->buf.data;
        *len = c->buf.len;
        return SQLITE_OK;
    }
    if (!c->c) {
        *done = 1;
        return SQLITE_OK;
    }
    int st = steparc_cursor_next(&c->ordinal, mp, len, c->c);
    if (st < 0) /* a damaged block: the query fails rather than miss its rows */
        return arc_error(c, st, steparc_cursor_errmsg(c->c));
    if (st == STEPARC_END) {
        steparc_cursor_close(c->c);
        c->c = NULL;
        *done = 1;
    }
    return SQLITE_OK;
}

static int next_record(ext_cursor *c)
{
    ext_vtab *vt = (ext_vtab *)c->base.pVtab;
    c->filled = 0;
    if (c->ki >= 0 && c->row + 1 < c->rec.nrows) {
        c->row++;
        return SQLITE_OK;
    }
    for (;;) {
        const void *mp = NULL;
        size_t len = 0;
        int done, rc = unit_next(c, &mp, &len, &done);
        if (rc != SQLITE_OK)
            return rc;
        if (done) {
            if ((rc = start_unit(c, &done)) != SQLITE_OK)
                return rc;
            if (done) {
                c->eof = 1;
                return SQLITE_OK;
            }
            continue;
        }
        int st = sqlrow_load(&c->rec, vt->t, mp, len);
        if (st)
            return arc_error(c, st, "a record is not valid MessagePack");
        if (c->rec.nrows) {
            c->row = 0;
            return SQLITE_OK;
        }
    }
}

static int cur_next(sqlite3_vtab_cursor *base)
{
    return next_record((ext_cursor *)base);
}

static int cur_eof(sqlite3_vtab_cursor *base)
{
    return ((ext_cursor *)base)->eof;
}

static int cur_column(sqlite3_vtab_cursor *base, sqlite3_context *ctx, int col)
{
    ext_cursor *c = (ext_cursor *)base;
    ext_vtab *vt = (ext_vtab *)base->pVtab;
    const sqlrow_table *t = vt->t;
    int st;
    if (col >= t->ncols) { /* the hidden file argument */
        sqlite3_result_text(ctx, c->file, -1, SQLITE_TRANSIENT);
        return SQLITE_OK;
    }
    if (col == t->c_json) {
        const char *s;
        size_t n;
        if ((st = sqlrow_json(&s, &n, &c->rec)) != 0)
            return arc_error(c, st, "a record is not valid MessagePack");
        sqlite3_result_text64(ctx, s, n, SQLITE_TRANSIENT, SQLITE_UTF8);
        return SQLITE_OK;
    }
    if (!c->filled) {
        if ((st = sqlrow_fill(&c->rec, c->row)) != 0)
            return arc_error(c, st, "a record cannot be decoded");
        c->filled = 1;
    }
    const sqlrow_value *v = &c->rec.vals[col];
    switch (v->type) {
    case SQLROW_INT: sqlite3_result_int64(ctx, v->i); break;
    case SQLROW_REAL: sqlite3_result_double(ctx, v->f); break;
    case SQLROW_TEXT: sqlite3_result_text64(ctx, v->s, v->n, SQLITE_TRANSIENT, SQLITE_UTF8); break;
    default: sqlite3_result_null(ctx); break;
    }
    return SQLITE_OK;
}

/* rowid: the record's ordinal (for tool calls: ordinal * 65536 + the call's
 * index; a step holds at most STEPARC_MAX_KEYS calls). */
static int cur_rowid(sqlite3_vtab_cursor *base, sqlite3_int64 *rowid)
{
    ext_cursor *c = (ext_cursor *)base;
    ext_vtab *vt = (ext_vtab *)base->pVtab;
    *rowid = (sqlite3_int64)(vt->t->multi ? (c->ordinal << 16) + c->row : c->ordinal);
    return SQLITE_OK;
}

/* ---- registration ----------------------------------------------------------------------- */

static int register_all(sqlite3 *db)
{
    static sqlite3_module fn = {0};
    static sqlite3_module named = {0};
    fn.xConnect = vt_connect; /* xCreate NULL: eponymous-only (table-valued functions) */
    fn.xBestIndex = vt_best_index;
    fn.xDisconnect = vt_disconnect;
    fn.xOpen = cur_open;
    fn.xClose = cur_close;
    fn.xFilter = cur_filter;
    fn.xNext = cur_next;
    fn.xEof = cur_eof;
    fn.xColumn = cur_column;
    fn.xRowid = cur_rowid;
    named = fn;
    named.xCreate = vt_create; /* not xConnect: `steparc` alone is no function */
    named.xDestroy = vt_disconnect;
    int rc = sqlite3_create_module(db, "steparc", &named, NULL);
    for (int i = 0; rc == SQLITE_OK && i < SQLROW_TABLES; i++) {
        char name[64];
        sqlite3_snprintf((int)sizeof name, name, "steparc_%s", sqlrow_tables[i].name);
        rc = sqlite3_create_module(db, name, &fn, (void *)&sqlrow_tables[i]);
    }
    return rc;
}

/* The name SQLite derives from steparc_sqlite.so: "lib" stripped, the letters
 * up to the first '.', lowercased: .load build/steparc_sqlite needs no name. */
#ifdef _WIN32
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
int sqlite3_steparcsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api);
int sqlite3_steparcsqlite_init(sqlite3 *db, char **err, const sqlite3_api_routines *api)
{
    SQLITE_EXTENSION_INIT2(api);
    (void)err;
    return register_all(db);
}
