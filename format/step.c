/* step.c - MessagePack record <-> typed steparc_step.
 *
 * Decoding builds a generic value tree first (in an arena owned by the step),
 * then binds the known fields of each object through a table that gives, per
 * object type, each field's name, kind and offset. Everything the table does
 * not know stays in the object's extras, and the key order is kept in
 * `order`, so encoding the struct again gives back the same bytes. */
#include <msgpack.h>
#include <stddef.h>

#include "record.h"

/* ---- arena ------------------------------------------------------------------ */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

typedef struct {
    chunk *head;
} arena;

static void *arena_alloc(arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    chunk *c = a->head;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        c = (chunk *)sa_malloc(sizeof(chunk) + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(arena *a)
{
    chunk *c = a->head;
    while (c) {
        chunk *n = c->next;
        sa_free(c);
        c = n;
    }
    a->head = NULL;
}

/* ---- field tables ------------------------------------------------------------ */

typedef enum { K_STR, K_ENUM, K_INT, K_NUM, K_VALUE, K_OBJ, K_ARR } kind;

typedef struct objdesc objdesc;

typedef struct {
    const char *name;
    kind k;
    size_t off;            /* the field (opt struct, or the {state, v|items..} struct) */
    size_t v_off;          /* K_OBJ: offset of v; K_ARR: offset of items (within parent) */
    size_t o_off;          /* K_OBJ: offset of other (within parent) */
    const objdesc *sub;    /* K_OBJ / K_ARR element type */
    const char *const *names; /* K_ENUM: names by code, index 0 unused */
    int nnames;
} fielddesc;

struct objdesc {
    size_t size;
    size_t extra_off, order_off;
    const fielddesc *f;
    int nf;
};

static const char *const type_names[] = {NULL, "message_creation", "tool_calls"};
static const char *const status_names[] = {NULL, "in_progress", "cancelled", "failed",
                                           "completed", "expired"};
static const char *const errcode_names[] = {NULL, "server_error", "rate_limit_exceeded",
                                            "invalid_prompt"};
static const char *const tool_names[] = {NULL, "code_interpreter", "file_search", "function"};
static const char *const output_names[] = {NULL, "logs", "image"};
static const char *const ranker_names[] = {NULL, "auto", "default_2024_08_21"};
static const char *const content_names[] = {NULL, "text"};
static const char *const object_names[] = {NULL, "thread.run.step"};

#define NN(a) a, (int)(sizeof(a) / sizeof(a[0]))
#define STR(T, m) {#m, K_STR, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define ENUM(T, m, tbl) {#m, K_ENUM, offsetof(T, m), 0, 0, NULL, NN(tbl)}
#define INT(T, m) {#m, K_INT, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define NUM(T, m) {#m, K_NUM, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define VAL(T, m) {#m, K_VALUE, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define OBJ(T, m, d) {#m, K_OBJ, offsetof(T, m), offsetof(T, m.v), offsetof(T, m.other), &d, NULL, 0}
#define ARR(T, m, d) {#m, K_ARR, offsetof(T, m), offsetof(T, m.items), 0, &d, NULL, 0}
/* The tables are indexed by the public field numbers (STEPARC_F_*, which
 * keyorder slots hold): each entry names its number, and FIELDS_END pins the
 * table's length to the last number of its object, so a number added to the
 * header without its entry (or the reverse) does not compile. */
#define FIELDS_END(tbl, last) \
    _Static_assert(sizeof(tbl) / sizeof(tbl[0]) == (size_t)(last) + 1, #tbl " != STEPARC_F_*")
#define DESC(T, tbl) \
    {sizeof(T), offsetof(T, extra), offsetof(T, order), tbl, (int)(sizeof(tbl) / sizeof(tbl[0]))}

static const fielddesc f_last_error[] = {
    [STEPARC_F_ERR_CODE] = ENUM(steparc_last_error, code, errcode_names),
    [STEPARC_F_ERR_MESSAGE] = STR(steparc_last_error, message),
};
FIELDS_END(f_last_error, STEPARC_F_ERR_MESSAGE);
static const objdesc d_last_error = DESC(steparc_last_error, f_last_error);

static const fielddesc f_mc[] = {
    [STEPARC_F_MC_MESSAGE_ID] = STR(steparc_message_creation, message_id),
};
FIELDS_END(f_mc, STEPARC_F_MC_MESSAGE_ID);
static const objdesc d_mc = DESC(steparc_message_creation, f_mc);

static const fielddesc f_image[] = {
    [STEPARC_F_IMG_FILE_ID] = STR(steparc_ci_image, file_id),
};
FIELDS_END(f_image, STEPARC_F_IMG_FILE_ID);
static const objdesc d_image = DESC(steparc_ci_image, f_image);

static const fielddesc f_output[] = {
    [STEPARC_F_OUT_TYPE] = ENUM(steparc_ci_output, type, output_names),
    [STEPARC_F_OUT_LOGS] = STR(steparc_ci_output, logs),
    [STEPARC_F_OUT_IMAGE] = OBJ(steparc_ci_output, image, d_image),
};
FIELDS_END(f_output, STEPARC_F_OUT_IMAGE);
static const objdesc d_output = DESC(steparc_ci_output, f_output);

static const fielddesc f_ci[] = {
    [STEPARC_F_CI_INPUT] = STR(steparc_code_interpreter, input),
    [STEPARC_F_CI_OUTPUTS] = ARR(steparc_code_interpreter, outputs, d_output),
};
FIELDS_END(f_ci, STEPARC_F_CI_OUTPUTS);
static const objdesc d_ci = DESC(steparc_code_interpreter, f_ci);

static const fielddesc f_ro[] = {
    [STEPARC_F_RO_RANKER] = ENUM(steparc_ranking_options, ranker, ranker_names),
    [STEPARC_F_RO_SCORE_THRESHOLD] = NUM(steparc_ranking_options, score_threshold),
};
FIELDS_END(f_ro, STEPARC_F_RO_SCORE_THRESHOLD);
static const objdesc d_ro = DESC(steparc_ranking_options, f_ro);

static const fielddesc f_content[] = {
    [STEPARC_F_CNT_TYPE] = ENUM(steparc_fs_content, type, content_names),
    [STEPARC_F_CNT_TEXT] = STR(steparc_fs_content, text),
};
FIELDS_END(f_content, STEPARC_F_CNT_TEXT);
static const objdesc d_content = DESC(steparc_fs_content, f_content);

static const fielddesc f_result[] = {
    [STEPARC_F_RES_FILE_ID] = STR(steparc_fs_result, file_id),
    [STEPARC_F_RES_FILE_NAME] = STR(steparc_fs_result, file_name),
    [STEPARC_F_RES_SCORE] = NUM(steparc_fs_result, score),
    [STEPARC_F_RES_CONTENT] = ARR(steparc_fs_result, content, d_content),
};
FIELDS_END(f_result, STEPARC_F_RES_CONTENT);
static const objdesc d_result = DESC(steparc_fs_result, f_result);

static const fielddesc f_fs[] = {
    [STEPARC_F_FS_RANKING_OPTIONS] = OBJ(steparc_file_search, ranking_options, d_ro),
    [STEPARC_F_FS_RESULTS] = ARR(steparc_file_search, results, d_result),
};
FIELDS_END(f_fs, STEPARC_F_FS_RESULTS);
static const objdesc d_fs = DESC(steparc_file_search, f_fs);

static const fielddesc f_fn[] = {
    [STEPARC_F_FN_NAME] = STR(steparc_function, name),
    [STEPARC_F_FN_ARGUMENTS] = STR(steparc_function, arguments),
    [STEPARC_F_FN_OUTPUT] = STR(steparc_function, output),
};
FIELDS_END(f_fn, STEPARC_F_FN_OUTPUT);
static const objdesc d_fn = DESC(steparc_function, f_fn);

static const fielddesc f_tc[] = {
    [STEPARC_F_TC_ID] = STR(steparc_tool_call, id),
    [STEPARC_F_TC_TYPE] = ENUM(steparc_tool_call, type, tool_names),
    [STEPARC_F_TC_CODE_INTERPRETER] = OBJ(steparc_tool_call, code_interpreter, d_ci),
    [STEPARC_F_TC_FILE_SEARCH] = OBJ(steparc_tool_call, file_search, d_fs),
    [STEPARC_F_TC_FUNCTION] = OBJ(steparc_tool_call, function, d_fn),
};
FIELDS_END(f_tc, STEPARC_F_TC_FUNCTION);
static const objdesc d_tc = DESC(steparc_tool_call, f_tc);

static const fielddesc f_det[] = {
    [STEPARC_F_DET_TYPE] = ENUM(steparc_step_details, type, type_names),
    [STEPARC_F_DET_MESSAGE_CREATION] = OBJ(steparc_step_details, message_creation, d_mc),
    [STEPARC_F_DET_TOOL_CALLS] = ARR(steparc_step_details, tool_calls, d_tc),
};
FIELDS_END(f_det, STEPARC_F_DET_TOOL_CALLS);
static const objdesc d_det = DESC(steparc_step_details, f_det);

static const fielddesc f_usage[] = {
    [STEPARC_F_USE_PROMPT_TOKENS] = INT(steparc_usage, prompt_tokens),
    [STEPARC_F_USE_COMPLETION_TOKENS] = INT(steparc_usage, completion_tokens),
    [STEPARC_F_USE_TOTAL_TOKENS] = INT(steparc_usage, total_tokens),
};
FIELDS_END(f_usage, STEPARC_F_USE_TOTAL_TOKENS);
static const objdesc d_usage = DESC(steparc_usage, f_usage);

static const fielddesc f_step[] = {
    [STEPARC_F_STEP_ID] = STR(steparc_step, id),
    [STEPARC_F_STEP_OBJECT] = ENUM(steparc_step, object, object_names),
    [STEPARC_F_STEP_CREATED_AT] = INT(steparc_step, created_at),
    [STEPARC_F_STEP_RUN_ID] = STR(steparc_step, run_id),
    [STEPARC_F_STEP_ASSISTANT_ID] = STR(steparc_step, assistant_id),
    [STEPARC_F_STEP_THREAD_ID] = STR(steparc_step, thread_id),
    [STEPARC_F_STEP_TYPE] = ENUM(steparc_step, type, type_names),
    [STEPARC_F_STEP_STATUS] = ENUM(steparc_step, status, status_names),
    [STEPARC_F_STEP_CANCELLED_AT] = INT(steparc_step, cancelled_at),
    [STEPARC_F_STEP_COMPLETED_AT] = INT(steparc_step, completed_at),
    [STEPARC_F_STEP_EXPIRES_AT] = INT(steparc_step, expires_at),
    [STEPARC_F_STEP_EXPIRED_AT] = INT(steparc_step, expired_at),
    [STEPARC_F_STEP_FAILED_AT] = INT(steparc_step, failed_at),
    [STEPARC_F_STEP_LAST_ERROR] = OBJ(steparc_step, last_error, d_last_error),
    [STEPARC_F_STEP_STEP_DETAILS] = OBJ(steparc_step, step_details, d_det),
    [STEPARC_F_STEP_USAGE] = OBJ(steparc_step, usage, d_usage),
    [STEPARC_F_STEP_METADATA] = VAL(steparc_step, metadata),
};
FIELDS_END(f_step, STEPARC_F_STEP_METADATA);
static const objdesc d_step = DESC(steparc_step, f_step);

/* The object/array field wrappers all start with these members. */
typedef struct {
    steparc_presence state;
    char v[];
} obj_head;

typedef struct {
    steparc_presence state;
    void *items;
    size_t count;
    const steparc_value *other;
} arr_field;

/* ---- decode: MessagePack -> generic tree -------------------------------------- */

typedef struct {
    arena a;
    int status;
} dctx;

static int build(dctx *d, sa_mpr *r, steparc_value *out, int depth)
{
    sa_mpitem it;
    if (depth > STEPARC_MAX_DEPTH)
        return d->status = STEPARC_E_LIMIT;
    if (sa_mp_read(r, &it) != 0)
        return d->status = STEPARC_E_INPUT;
    switch (it.type) {
    case SA_MP_NIL: out->type = STEPARC_V_NULL; return 0;
    case SA_MP_BOOL: out->type = STEPARC_V_BOOL; out->v.b = it.b; return 0;
    case SA_MP_INT: out->type = STEPARC_V_INT; out->v.i = it.i; return 0;
    case SA_MP_UINT: out->type = STEPARC_V_UINT; out->v.u = it.u; return 0;
    case SA_MP_FLOAT: out->type = STEPARC_V_FLOAT; out->v.f = it.f; return 0;
    case SA_MP_STR:
        if (sa_utf8_valid((const unsigned char *)it.s, it.n) != it.n)
            return d->status = STEPARC_E_INPUT;
        out->type = STEPARC_V_STRING;
        out->v.s.ptr = it.s;
        out->v.s.len = it.n;
        return 0;
    case SA_MP_ARRAY: {
        if (it.n > STEPARC_MAX_KEYS)
            return d->status = STEPARC_E_LIMIT;
        out->type = STEPARC_V_ARRAY;
        out->v.array.count = it.n;
        out->v.array.items = (steparc_value *)arena_alloc(&d->a, it.n * sizeof(steparc_value));
        if (out->v.array.items == NULL)
            return d->status = STEPARC_E_NOMEM;
        for (uint32_t i = 0; i < it.n; i++)
            if (build(d, r, &out->v.array.items[i], depth + 1))
                return d->status;
        return 0;
    }
    case SA_MP_MAP: {
        if (it.n > STEPARC_MAX_KEYS)
            return d->status = STEPARC_E_LIMIT;
        out->type = STEPARC_V_OBJECT;
        out->v.object.count = it.n;
        out->v.object.items = (steparc_member *)arena_alloc(&d->a, it.n * sizeof(steparc_member));
        if (out->v.object.items == NULL)
            return d->status = STEPARC_E_NOMEM;
        for (uint32_t i = 0; i < it.n; i++) {
            sa_mpitem k;
            steparc_member *m = &out->v.object.items[i];
            if (sa_mp_read(r, &k) != 0 || k.type != SA_MP_STR ||
                sa_utf8_valid((const unsigned char *)k.s, k.n) != k.n)
                return d->status = STEPARC_E_INPUT;
            m->key.ptr = k.s;
            m->key.len = k.n;
            if (build(d, r, &m->value, depth + 1))
                return d->status;
        }
        return 0;
    }
    }
    return d->status = STEPARC_E_INPUT;
}

/* ---- decode: bind typed fields ----------------------------------------------- */

static int bind_obj(dctx *d, const objdesc *od, void *obj, const steparc_value *v);

static int enum_code(const fielddesc *fd, steparc_str s)
{
    for (int i = 1; i < fd->nnames; i++)
        if (strlen(fd->names[i]) == s.len && memcmp(fd->names[i], s.ptr, s.len) == 0)
            return i;
    return 0;
}

/* Binds member value v to field fd of obj. Returns 0, or <0 on error. */
static int bind_field(dctx *d, const fielddesc *fd, void *obj, const steparc_value *v)
{
    char *field = (char *)obj + fd->off;
    int is_null = v->type == STEPARC_V_NULL;
    switch (fd->k) {
    case K_STR: {
        steparc_opt_str *f = (steparc_opt_str *)field;
        f->state = is_null ? STEPARC_NULL : v->type == STEPARC_V_STRING ? STEPARC_SET : STEPARC_OTHER;
        if (f->state == STEPARC_SET)
            f->v = v->v.s;
        else if (f->state == STEPARC_OTHER)
            f->other = v;
        return 0;
    }
    case K_ENUM: {
        steparc_opt_enum *f = (steparc_opt_enum *)field;
        f->state = is_null ? STEPARC_NULL : v->type == STEPARC_V_STRING ? STEPARC_SET : STEPARC_OTHER;
        if (f->state == STEPARC_SET) {
            f->v = v->v.s;
            f->code = enum_code(fd, v->v.s);
        } else if (f->state == STEPARC_OTHER) {
            f->other = v;
        }
        return 0;
    }
    case K_INT: {
        steparc_opt_int *f = (steparc_opt_int *)field;
        f->state = is_null ? STEPARC_NULL : v->type == STEPARC_V_INT ? STEPARC_SET : STEPARC_OTHER;
        if (f->state == STEPARC_SET)
            f->v = v->v.i;
        else if (f->state == STEPARC_OTHER)
            f->other = v;
        return 0;
    }
    case K_NUM: {
        steparc_opt_num *f = (steparc_opt_num *)field;
        if (is_null) {
            f->state = STEPARC_NULL;
        } else if (v->type == STEPARC_V_INT) {
            f->state = STEPARC_SET;
            f->is_int = 1;
            f->i = v->v.i;
            f->f = (double)v->v.i;
        } else if (v->type == STEPARC_V_FLOAT) {
            f->state = STEPARC_SET;
            f->is_int = 0;
            f->f = v->v.f;
        } else {
            f->state = STEPARC_OTHER;
            f->other = v;
        }
        return 0;
    }
    case K_VALUE: {
        steparc_opt_value *f = (steparc_opt_value *)field;
        if (is_null) {
            f->state = STEPARC_NULL;
        } else {
            f->state = STEPARC_SET;
            f->v = v;
        }
        return 0;
    }
    case K_OBJ: {
        obj_head *f = (obj_head *)field;
        if (is_null) {
            f->state = STEPARC_NULL;
        } else if (v->type == STEPARC_V_OBJECT) {
            f->state = STEPARC_SET;
            return bind_obj(d, fd->sub, (char *)obj + fd->v_off, v);
        } else {
            f->state = STEPARC_OTHER;
            *(const steparc_value **)((char *)obj + fd->o_off) = v;
        }
        return 0;
    }
    case K_ARR: {
        arr_field *f = (arr_field *)field;
        if (is_null) {
            f->state = STEPARC_NULL;
            return 0;
        }
        int ok = v->type == STEPARC_V_ARRAY;
        for (size_t i = 0; ok && i < v->v.array.count; i++)
            ok = v->v.array.items[i].type == STEPARC_V_OBJECT;
        if (!ok) {
            f->state = STEPARC_OTHER;
            f->other = v;
            return 0;
        }
        f->state = STEPARC_SET;
        f->count = v->v.array.count;
        f->items = arena_alloc(&d->a, f->count * fd->sub->size);
        if (f->items == NULL)
            return d->status = STEPARC_E_NOMEM;
        memset(f->items, 0, f->count * fd->sub->size);
        for (size_t i = 0; i < f->count; i++)
            if (bind_obj(d, fd->sub, (char *)f->items + i * fd->sub->size, &v->v.array.items[i]))
                return d->status;
        return 0;
    }
    }
    return 0;
}

static int bind_obj(dctx *d, const objdesc *od, void *obj, const steparc_value *v)
{
    size_t n = v->v.object.count;
    steparc_extras *ex = (steparc_extras *)((char *)obj + od->extra_off);
    steparc_keyorder *ko = (steparc_keyorder *)((char *)obj + od->order_off);
    uint32_t seen = 0;
    ko->slots = (uint16_t *)arena_alloc(&d->a, n * sizeof(uint16_t));
    ex->items = (steparc_member *)arena_alloc(&d->a, n * sizeof(steparc_member));
    if (ko->slots == NULL || ex->items == NULL)
        return d->status = STEPARC_E_NOMEM;
    ko->count = n;
    ex->count = 0;
    for (size_t i = 0; i < n; i++) {
        const steparc_member *m = &v->v.object.items[i];
        int fi = -1;
        for (int k = 0; k < od->nf; k++) {
            const char *name = od->f[k].name;
            if (strlen(name) == m->key.len && memcmp(name, m->key.ptr, m->key.len) == 0) {
                fi = k;
                break;
            }
        }
        if (fi >= 0 && !(seen & (1u << fi))) {
            seen |= 1u << fi;
            ko->slots[i] = (uint16_t)fi;
            if (bind_field(d, &od->f[fi], obj, &m->value))
                return d->status;
        } else {
            if (ex->count >= STEPARC_SLOT_EXTRA)
                return d->status = STEPARC_E_LIMIT;
            ko->slots[i] = (uint16_t)(STEPARC_SLOT_EXTRA + ex->count);
            ex->items[ex->count++] = *m;
        }
    }
    return 0;
}

typedef struct {
    arena a;
    steparc_value root;
} step_internal;

int steparc_step_decode(steparc_step **out, const void *mp, size_t len)
{
    if (out == NULL || (mp == NULL && len > 0))
        return STEPARC_E_ARG;
    *out = NULL;
    if (len > STEPARC_MAX_RECORD_SIZE)
        return STEPARC_E_LIMIT;
    dctx d;
    memset(&d, 0, sizeof d);
    char *copy = (char *)arena_alloc(&d.a, len);
    steparc_step *st = (steparc_step *)arena_alloc(&d.a, sizeof *st);
    steparc_value *root = (steparc_value *)arena_alloc(&d.a, sizeof *root);
    if (copy == NULL || st == NULL || root == NULL) {
        arena_free(&d.a);
        return STEPARC_E_NOMEM;
    }
    if (len)
        memcpy(copy, mp, len);
    memset(st, 0, sizeof *st);
    sa_mpr r = {(const unsigned char *)copy, (const unsigned char *)copy + len};
    if (build(&d, &r, root, 0) == 0 && r.p != r.end)
        d.status = STEPARC_E_INPUT;
    if (d.status == 0 && root->type != STEPARC_V_OBJECT)
        d.status = STEPARC_E_INPUT;
    if (d.status == 0)
        bind_obj(&d, &d_step, st, root);
    if (d.status != 0) {
        arena_free(&d.a);
        return d.status;
    }
    /* the arena header itself lives in the arena's own first chunk list */
    arena *keep = (arena *)arena_alloc(&d.a, sizeof(arena));
    if (keep == NULL) {
        arena_free(&d.a);
        return STEPARC_E_NOMEM;
    }
    *keep = d.a;
    st->internal_ = keep;
    *out = st;
    return 0;
}

void steparc_step_free(steparc_step *step)
{
    if (step == NULL || step->internal_ == NULL)
        return;
    arena a = *(arena *)step->internal_;
    arena_free(&a);
}

/* ---- encode ------------------------------------------------------------------ */

static int sink(void *data, const char *buf, size_t len)
{
    return sa_buf_append((steparc_buf *)data, buf, len) == 0 ? 0 : -1;
}

typedef struct {
    msgpack_packer pk;
    int status;
} ectx;

static int efail(ectx *e, int status)
{
    if (e->status == 0)
        e->status = status;
    return e->status;
}

static int pack_str(ectx *e, const char *p, size_t n)
{
    if (p == NULL && n > 0)
        return efail(e, STEPARC_E_ARG);
    if (n > STEPARC_MAX_RECORD_SIZE)
        return efail(e, STEPARC_E_LIMIT);
    if (sa_utf8_valid((const unsigned char *)p, n) != n)
        return efail(e, STEPARC_E_ARG);
    if (msgpack_pack_str(&e->pk, n) || msgpack_pack_str_body(&e->pk, p, n))
        return efail(e, STEPARC_E_NOMEM);
    return 0;
}

static int pack_value(ectx *e, const steparc_value *v, int depth)
{
    if (v == NULL)
        return efail(e, STEPARC_E_ARG);
    if (depth > STEPARC_MAX_DEPTH)
        return efail(e, STEPARC_E_LIMIT);
    int rc = 0;
    switch (v->type) {
    case STEPARC_V_NULL: rc = msgpack_pack_nil(&e->pk); break;
    case STEPARC_V_BOOL: rc = v->v.b ? msgpack_pack_true(&e->pk) : msgpack_pack_false(&e->pk); break;
    case STEPARC_V_INT: rc = msgpack_pack_int64(&e->pk, v->v.i); break;
    case STEPARC_V_UINT: rc = msgpack_pack_uint64(&e->pk, v->v.u); break;
    case STEPARC_V_FLOAT:
        if (v->v.f != v->v.f || v->v.f - v->v.f != 0.0)
            return efail(e, STEPARC_E_ARG);
        rc = msgpack_pack_double(&e->pk, v->v.f);
        break;
    case STEPARC_V_STRING: return pack_str(e, v->v.s.ptr, v->v.s.len);
    case STEPARC_V_ARRAY:
        if (v->v.array.count > STEPARC_MAX_KEYS || (v->v.array.items == NULL && v->v.array.count))
            return efail(e, STEPARC_E_ARG);
        if (msgpack_pack_array(&e->pk, v->v.array.count))
            return efail(e, STEPARC_E_NOMEM);
        for (size_t i = 0; i < v->v.array.count; i++)
            if (pack_value(e, &v->v.array.items[i], depth + 1))
                return e->status;
        return 0;
    case STEPARC_V_OBJECT:
        if (v->v.object.count > STEPARC_MAX_KEYS || (v->v.object.items == NULL && v->v.object.count))
            return efail(e, STEPARC_E_ARG);
        if (msgpack_pack_map(&e->pk, v->v.object.count))
            return efail(e, STEPARC_E_NOMEM);
        for (size_t i = 0; i < v->v.object.count; i++) {
            const steparc_member *m = &v->v.object.items[i];
            if (pack_str(e, m->key.ptr, m->key.len) || pack_value(e, &m->value, depth + 1))
                return e->status;
        }
        return 0;
    default:
        return efail(e, STEPARC_E_ARG);
    }
    return rc ? efail(e, STEPARC_E_NOMEM) : 0;
}

static int pack_obj(ectx *e, const objdesc *od, const void *obj, int depth);

static steparc_presence field_state(const fielddesc *fd, const void *obj)
{
    return *(const steparc_presence *)((const char *)obj + fd->off);
}

static int pack_field(ectx *e, const fielddesc *fd, const void *obj, int depth)
{
    const char *field = (const char *)obj + fd->off;
    steparc_presence st = *(const steparc_presence *)field;
    if (pack_str(e, fd->name, strlen(fd->name)))
        return e->status;
    if (st == STEPARC_NULL)
        return msgpack_pack_nil(&e->pk) ? efail(e, STEPARC_E_NOMEM) : 0;
    if (st != STEPARC_SET && st != STEPARC_OTHER)
        return efail(e, STEPARC_E_ARG);
    switch (fd->k) {
    case K_STR: {
        const steparc_opt_str *f = (const steparc_opt_str *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        return pack_str(e, f->v.ptr, f->v.len);
    }
    case K_ENUM: {
        const steparc_opt_enum *f = (const steparc_opt_enum *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->v.ptr == NULL && f->v.len == 0 && f->code != 0) {
            /* no text: the code's name, which must be a known code */
            if (f->code < 0 || f->code >= fd->nnames)
                return efail(e, STEPARC_E_ARG);
            return pack_str(e, fd->names[f->code], strlen(fd->names[f->code]));
        }
        return pack_str(e, f->v.ptr, f->v.len);
    }
    case K_INT: {
        const steparc_opt_int *f = (const steparc_opt_int *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        return msgpack_pack_int64(&e->pk, f->v) ? efail(e, STEPARC_E_NOMEM) : 0;
    }
    case K_NUM: {
        const steparc_opt_num *f = (const steparc_opt_num *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->is_int)
            return msgpack_pack_int64(&e->pk, f->i) ? efail(e, STEPARC_E_NOMEM) : 0;
        if (f->f != f->f || f->f - f->f != 0.0)
            return efail(e, STEPARC_E_ARG);
        return msgpack_pack_double(&e->pk, f->f) ? efail(e, STEPARC_E_NOMEM) : 0;
    }
    case K_VALUE: {
        const steparc_opt_value *f = (const steparc_opt_value *)field;
        if (st == STEPARC_OTHER)
            return efail(e, STEPARC_E_ARG);
        return pack_value(e, f->v, depth + 1);
    }
    case K_OBJ:
        if (st == STEPARC_OTHER)
            return pack_value(e, *(const steparc_value *const *)((const char *)obj + fd->o_off), depth + 1);
        return pack_obj(e, fd->sub, (const char *)obj + fd->v_off, depth + 1);
    case K_ARR: {
        const arr_field *f = (const arr_field *)field;
        if (st == STEPARC_OTHER)
            return pack_value(e, f->other, depth + 1);
        if (f->count > STEPARC_MAX_KEYS || (f->items == NULL && f->count))
            return efail(e, STEPARC_E_ARG);
        if (msgpack_pack_array(&e->pk, f->count))
            return efail(e, STEPARC_E_NOMEM);
        for (size_t i = 0; i < f->count; i++)
            if (pack_obj(e, fd->sub, (const char *)f->items + i * fd->sub->size, depth + 2))
                return e->status;
        return 0;
    }
    }
    return efail(e, STEPARC_E_ARG);
}

/* Writes an object: the slots of `order` first, then any present field or
 * extra that order does not mention (so a struct edited after decoding never
 * loses what was added), in the API's order. */
static int pack_obj(ectx *e, const objdesc *od, const void *obj, int depth)
{
    const steparc_extras *ex = (const steparc_extras *)((const char *)obj + od->extra_off);
    const steparc_keyorder *ko = (const steparc_keyorder *)((const char *)obj + od->order_off);
    if (depth > STEPARC_MAX_DEPTH)
        return efail(e, STEPARC_E_LIMIT);
    if ((ex->items == NULL && ex->count) || (ko->slots == NULL && ko->count) ||
        ex->count >= STEPARC_SLOT_EXTRA)
        return efail(e, STEPARC_E_ARG);
    unsigned char ex_small[64];
    unsigned char *ex_seen = ex->count <= sizeof ex_small ? ex_small : (unsigned char *)sa_calloc(ex->count, 1);
    if (ex_seen == NULL)
        return efail(e, STEPARC_E_NOMEM);
    memset(ex_seen, 0, ex->count <= sizeof ex_small ? sizeof ex_small : 0);
    uint32_t f_seen = 0;
    size_t n = 0;
    /* pass 1: count and check the slots */
    for (size_t i = 0; i < ko->count && e->status == 0; i++) {
        unsigned s = ko->slots[i];
        if (s >= STEPARC_SLOT_EXTRA) {
            size_t x = s - STEPARC_SLOT_EXTRA;
            if (x >= ex->count || ex_seen[x])
                efail(e, STEPARC_E_ARG);
            else {
                ex_seen[x] = 1;
                n++;
            }
        } else if ((int)s >= od->nf || (f_seen & (1u << s))) {
            efail(e, STEPARC_E_ARG);
        } else {
            f_seen |= 1u << s;
            if (field_state(&od->f[s], obj) != STEPARC_ABSENT)
                n++;
        }
    }
    for (int k = 0; k < od->nf; k++)
        if (!(f_seen & (1u << k)) && field_state(&od->f[k], obj) != STEPARC_ABSENT)
            n++;
    for (size_t x = 0; x < ex->count; x++)
        if (!ex_seen[x])
            n++;
    if (e->status == 0 && n > STEPARC_MAX_KEYS)
        efail(e, STEPARC_E_LIMIT);
    if (e->status == 0 && msgpack_pack_map(&e->pk, n))
        efail(e, STEPARC_E_NOMEM);
    /* pass 2: write */
    for (size_t i = 0; i < ko->count && e->status == 0; i++) {
        unsigned s = ko->slots[i];
        if (s >= STEPARC_SLOT_EXTRA) {
            const steparc_member *m = &ex->items[s - STEPARC_SLOT_EXTRA];
            if (pack_str(e, m->key.ptr, m->key.len) == 0)
                pack_value(e, &m->value, depth + 1);
        } else if (field_state(&od->f[s], obj) != STEPARC_ABSENT) {
            pack_field(e, &od->f[s], obj, depth);
        }
    }
    for (int k = 0; k < od->nf && e->status == 0; k++)
        if (!(f_seen & (1u << k)) && field_state(&od->f[k], obj) != STEPARC_ABSENT)
            pack_field(e, &od->f[k], obj, depth);
    for (size_t x = 0; x < ex->count && e->status == 0; x++)
        if (!ex_seen[x]) {
            const steparc_member *m = &ex->items[x];
            if (pack_str(e, m->key.ptr, m->key.len) == 0)
                pack_value(e, &m->value, depth + 1);
        }
    if (ex_seen != ex_small)
        sa_free(ex_seen);
    return e->status;
}

int steparc_step_encode(steparc_buf *out, const steparc_step *step)
{
    if (step == NULL || out == NULL)
        return STEPARC_E_ARG;
    ectx e;
    e.status = 0;
    out->len = 0;
    msgpack_packer_init(&e.pk, out, sink);
    pack_obj(&e, &d_step, step, 0);
    if (e.status == 0 && out->len > STEPARC_MAX_RECORD_SIZE)
        e.status = STEPARC_E_LIMIT;
    if (e.status == 0) {
        /* extras may repeat a known key: that would be a duplicate */
        char why[8];
        int rc = sa_mp_validate(out->data, out->len, why, sizeof why);
        if (rc != 0)
            e.status = rc == STEPARC_E_INPUT ? STEPARC_E_ARG : rc;
    }
    if (e.status != 0)
        out->len = 0;
    return e.status;
}

int steparc_step_to_json(steparc_buf *out, const steparc_step *step, unsigned flags)
{
    if (step == NULL || out == NULL)
        return STEPARC_E_ARG;
    steparc_buf mp = {0};
    int rc = steparc_step_encode(&mp, step);
    if (rc == 0) {
        if (!(flags & STEPARC_JSON_APPEND))
            out->len = 0;
        rc = sa_json_append(mp.data, mp.len, flags, out);
    }
    steparc_buf_free(&mp);
    return rc;
}
