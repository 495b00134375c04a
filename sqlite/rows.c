/* rows.c - records -> SQL rows (see rows.h). */
#include "rows.h"

#include <stdlib.h>
#include <string.h>

/* ---- the tables ---------------------------------------------------------------------- */

#define T "TEXT"
#define I "INTEGER"
#define R "REAL"

enum {
    ST_ID, ST_CREATED_AT, ST_RUN_ID, ST_ASSISTANT_ID, ST_THREAD_ID, ST_TYPE, ST_STATUS,
    ST_CANCELLED_AT, ST_COMPLETED_AT, ST_EXPIRES_AT, ST_EXPIRED_AT, ST_FAILED_AT,
    ST_LAST_ERROR_CODE, ST_LAST_ERROR_MESSAGE, ST_MESSAGE_ID, ST_TOOL_CALLS,
    ST_PROMPT_TOKENS, ST_COMPLETION_TOKENS, ST_TOTAL_TOKENS, ST_CACHED_TOKENS,
    ST_REASONING_TOKENS, ST_DURATION, ST_JSON, ST_N
};
static const sqlrow_col g_steps[ST_N] = {
    {"id", T}, {"created_at", I}, {"run_id", T}, {"assistant_id", T}, {"thread_id", T},
    {"type", T}, {"status", T}, {"cancelled_at", I}, {"completed_at", I}, {"expires_at", I},
    {"expired_at", I}, {"failed_at", I}, {"last_error_code", T}, {"last_error_message", T},
    {"message_id", T}, {"tool_calls", I}, {"prompt_tokens", I}, {"completion_tokens", I},
    {"total_tokens", I}, {"cached_tokens", I}, {"reasoning_tokens", I}, {"duration", I},
    {"json", T}};

enum {
    MS_ID, MS_CREATED_AT, MS_THREAD_ID, MS_STATUS, MS_INCOMPLETE_REASON, MS_COMPLETED_AT,
    MS_INCOMPLETE_AT, MS_ROLE, MS_TEXT, MS_ASSISTANT_ID, MS_RUN_ID, MS_PARTS, MS_ATTACHMENTS,
    MS_DURATION, MS_JSON, MS_N
};
static const sqlrow_col g_messages[MS_N] = {
    {"id", T}, {"created_at", I}, {"thread_id", T}, {"status", T}, {"incomplete_reason", T},
    {"completed_at", I}, {"incomplete_at", I}, {"role", T}, {"text", T}, {"assistant_id", T},
    {"run_id", T}, {"parts", I}, {"attachments", I}, {"duration", I}, {"json", T}};

enum {
    RU_ID, RU_CREATED_AT, RU_THREAD_ID, RU_ASSISTANT_ID, RU_STATUS, RU_REQUIRED_ACTION,
    RU_LAST_ERROR_CODE, RU_LAST_ERROR_MESSAGE, RU_EXPIRES_AT, RU_STARTED_AT, RU_CANCELLED_AT,
    RU_FAILED_AT, RU_COMPLETED_AT, RU_INCOMPLETE_REASON, RU_MODEL, RU_INSTRUCTIONS, RU_TOOLS,
    RU_TEMPERATURE, RU_TOP_P, RU_MAX_PROMPT_TOKENS, RU_MAX_COMPLETION_TOKENS, RU_TRUNCATION,
    RU_PARALLEL_TOOL_CALLS, RU_PROMPT_TOKENS, RU_COMPLETION_TOKENS, RU_TOTAL_TOKENS,
    RU_CACHED_TOKENS, RU_REASONING_TOKENS, RU_DURATION, RU_JSON, RU_N
};
static const sqlrow_col g_runs[RU_N] = {
    {"id", T}, {"created_at", I}, {"thread_id", T}, {"assistant_id", T}, {"status", T},
    {"required_action", T}, {"last_error_code", T}, {"last_error_message", T},
    {"expires_at", I}, {"started_at", I}, {"cancelled_at", I}, {"failed_at", I},
    {"completed_at", I}, {"incomplete_reason", T}, {"model", T}, {"instructions", T},
    {"tools", I}, {"temperature", R}, {"top_p", R}, {"max_prompt_tokens", I},
    {"max_completion_tokens", I}, {"truncation", T}, {"parallel_tool_calls", I},
    {"prompt_tokens", I}, {"completion_tokens", I}, {"total_tokens", I}, {"cached_tokens", I},
    {"reasoning_tokens", I}, {"duration", I}, {"json", T}};

enum { TH_ID, TH_CREATED_AT, TH_JSON, TH_N };
static const sqlrow_col g_threads[TH_N] = {{"id", T}, {"created_at", I}, {"json", T}};

enum {
    AS_ID, AS_CREATED_AT, AS_NAME, AS_DESCRIPTION, AS_MODEL, AS_INSTRUCTIONS, AS_TOOLS,
    AS_TEMPERATURE, AS_TOP_P, AS_JSON, AS_N
};
static const sqlrow_col g_assistants[AS_N] = {
    {"id", T}, {"created_at", I}, {"name", T}, {"description", T}, {"model", T},
    {"instructions", T}, {"tools", I}, {"temperature", R}, {"top_p", R}, {"json", T}};

enum {
    TC_STEP_ID, TC_CREATED_AT, TC_THREAD_ID, TC_RUN_ID, TC_ASSISTANT_ID, TC_STATUS, TC_INDEX,
    TC_CALL_ID, TC_TYPE, TC_FUNCTION_NAME, TC_ARGUMENTS, TC_OUTPUT, TC_CODE_INPUT, TC_LOGS,
    TC_FILE_SEARCH_RESULTS, TC_JSON, TC_N
};
static const sqlrow_col g_tool_calls[TC_N] = {
    {"step_id", T}, {"created_at", I}, {"thread_id", T}, {"run_id", T}, {"assistant_id", T},
    {"status", T}, {"call_index", I}, {"call_id", T}, {"type", T}, {"function_name", T},
    {"arguments", T}, {"output", T}, {"code_input", T}, {"logs", T},
    {"file_search_results", I}, {"json", T}};

enum { RE_KIND, RE_ID, RE_CREATED_AT, RE_THREAD_ID, RE_RUN_ID, RE_ASSISTANT_ID, RE_JSON, RE_N };
static const sqlrow_col g_records[RE_N] = {
    {"kind", T}, {"id", T}, {"created_at", I}, {"thread_id", T}, {"run_id", T},
    {"assistant_id", T}, {"json", T}};

#define COLS(a) a, (int)(sizeof a / sizeof a[0])
const sqlrow_table sqlrow_tables[SQLROW_TABLES] = {
    {"steps", "step", STEPARC_KIND_STEP, COLS(g_steps),
     ST_ID, ST_THREAD_ID, ST_RUN_ID, ST_ASSISTANT_ID, ST_CREATED_AT, ST_JSON, 0},
    {"messages", "message", STEPARC_KIND_MESSAGE, COLS(g_messages),
     MS_ID, MS_THREAD_ID, MS_RUN_ID, MS_ASSISTANT_ID, MS_CREATED_AT, MS_JSON, 0},
    {"runs", "run", STEPARC_KIND_RUN, COLS(g_runs),
     RU_ID, RU_THREAD_ID, -1, RU_ASSISTANT_ID, RU_CREATED_AT, RU_JSON, 0},
    {"threads", "thread", STEPARC_KIND_THREAD, COLS(g_threads),
     TH_ID, -1, -1, -1, TH_CREATED_AT, TH_JSON, 0},
    {"assistants", "assistant", STEPARC_KIND_ASSISTANT, COLS(g_assistants),
     AS_ID, -1, -1, -1, AS_CREATED_AT, AS_JSON, 0},
    /* step_id is the step's id: the id index finds it */
    {"tool_calls", "tool_call", STEPARC_KIND_STEP, COLS(g_tool_calls),
     TC_STEP_ID, TC_THREAD_ID, TC_RUN_ID, TC_ASSISTANT_ID, TC_CREATED_AT, TC_JSON, 1},
    /* no id: a file and its vector-store memberships share one (the id index
     * gives the first only), so `records WHERE id = ?` scans */
    {"records", "record", -1, COLS(g_records),
     -1, RE_THREAD_ID, RE_RUN_ID, RE_ASSISTANT_ID, RE_CREATED_AT, RE_JSON, 0},
};

const sqlrow_table *sqlrow_table_named(const char *s, size_t n)
{
    for (int i = 0; i < SQLROW_TABLES; i++) {
        const sqlrow_table *t = &sqlrow_tables[i];
        if ((strlen(t->kname) == n && memcmp(t->kname, s, n) == 0) ||
            (strlen(t->name) == n && memcmp(t->name, s, n) == 0))
            return t;
    }
    return NULL;
}

/* ---- values -------------------------------------------------------------------------- */

static void put_null(sqlrow_value *v) { memset(v, 0, sizeof *v); }

static void put_int(sqlrow_value *v, int64_t i)
{
    put_null(v);
    v->type = SQLROW_INT;
    v->i = i;
}

static void put_text(sqlrow_value *v, const char *s, size_t n)
{
    put_null(v);
    v->type = SQLROW_TEXT;
    v->s = s ? s : "";
    v->n = n;
}

/* A field of an unexpected type (OTHER), null or absent: SQL NULL. */
static void put_str(sqlrow_value *v, const steparc_opt_str *o)
{
    if (o->state == STEPARC_SET)
        put_text(v, o->v.ptr, o->v.len);
    else
        put_null(v);
}

static void put_enum(sqlrow_value *v, const steparc_opt_enum *o)
{
    if (o->state == STEPARC_SET)
        put_text(v, o->v.ptr, o->v.len);
    else
        put_null(v);
}

static void put_oint(sqlrow_value *v, const steparc_opt_int *o)
{
    if (o->state == STEPARC_SET)
        put_int(v, o->v);
    else
        put_null(v);
}

static void put_num(sqlrow_value *v, const steparc_opt_num *o)
{
    put_null(v);
    if (o->state != STEPARC_SET)
        return;
    v->type = SQLROW_REAL;
    v->f = o->is_int ? (double)o->i : o->f;
}

/* completed_at - created_at when both are integers. An overflow (hostile
 * timestamps) is NULL rather than a wrapped number. */
static void put_duration(sqlrow_value *v, const steparc_opt_int *created, const steparc_opt_int *done)
{
    put_null(v);
    if (created->state != STEPARC_SET || done->state != STEPARC_SET)
        return;
    if ((created->v < 0 && done->v > INT64_MAX + created->v) ||
        (created->v > 0 && done->v < INT64_MIN + created->v))
        return;
    put_int(v, done->v - created->v);
}

static void put_count(sqlrow_value *v, steparc_presence state, size_t count)
{
    if (state == STEPARC_SET)
        put_int(v, (int64_t)count);
    else
        put_null(v);
}

static const steparc_value *member(const steparc_extras *x, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < x->count; i++)
        if (x->items[i].key.len == n && memcmp(x->items[i].key.ptr, key, n) == 0)
            return &x->items[i].value;
    return NULL;
}

/* extras[outer][inner] as an integer (a step's usage keeps its details among
 * its unknown keys). */
static void put_extra_int(sqlrow_value *v, const steparc_extras *x, const char *outer,
                          const char *inner)
{
    put_null(v);
    const steparc_value *o = member(x, outer);
    if (!o || o->type != STEPARC_V_OBJECT)
        return;
    steparc_extras sub = {o->v.object.items, o->v.object.count};
    const steparc_value *i = member(&sub, inner);
    if (i && i->type == STEPARC_V_INT)
        put_int(v, i->v.i);
}

/* Appends s to rec->text, "\n" before all but the first; NOMEM as -1. */
static int join(steparc_buf *b, int *first, const char *s, size_t n)
{
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return STEPARC_E_NOMEM;
        b->data = p;
        b->cap = cap;
    }
    if (!*first)
        b->data[b->len++] = '\n';
    memcpy(b->data + b->len, s, n);
    b->len += n;
    *first = 0;
    return 0;
}

/* ---- one function per table ------------------------------------------------------------ */

static void fill_step(sqlrow_value *v, const steparc_step *s)
{
    put_str(&v[ST_ID], &s->id);
    put_oint(&v[ST_CREATED_AT], &s->created_at);
    put_str(&v[ST_RUN_ID], &s->run_id);
    put_str(&v[ST_ASSISTANT_ID], &s->assistant_id);
    put_str(&v[ST_THREAD_ID], &s->thread_id);
    put_enum(&v[ST_TYPE], &s->type);
    put_enum(&v[ST_STATUS], &s->status);
    put_oint(&v[ST_CANCELLED_AT], &s->cancelled_at);
    put_oint(&v[ST_COMPLETED_AT], &s->completed_at);
    put_oint(&v[ST_EXPIRES_AT], &s->expires_at);
    put_oint(&v[ST_EXPIRED_AT], &s->expired_at);
    put_oint(&v[ST_FAILED_AT], &s->failed_at);
    put_null(&v[ST_LAST_ERROR_CODE]);
    put_null(&v[ST_LAST_ERROR_MESSAGE]);
    if (s->last_error.state == STEPARC_SET) {
        put_enum(&v[ST_LAST_ERROR_CODE], &s->last_error.v.code);
        put_str(&v[ST_LAST_ERROR_MESSAGE], &s->last_error.v.message);
    }
    const steparc_step_details *d = &s->step_details.v;
    int det = s->step_details.state == STEPARC_SET;
    put_null(&v[ST_MESSAGE_ID]);
    if (det && d->message_creation.state == STEPARC_SET)
        put_str(&v[ST_MESSAGE_ID], &d->message_creation.v.message_id);
    put_count(&v[ST_TOOL_CALLS], det ? d->tool_calls.state : STEPARC_ABSENT, d->tool_calls.count);
    for (int c = ST_PROMPT_TOKENS; c <= ST_REASONING_TOKENS; c++)
        put_null(&v[c]);
    if (s->usage.state == STEPARC_SET) {
        const steparc_usage *u = &s->usage.v;
        put_oint(&v[ST_PROMPT_TOKENS], &u->prompt_tokens);
        put_oint(&v[ST_COMPLETION_TOKENS], &u->completion_tokens);
        put_oint(&v[ST_TOTAL_TOKENS], &u->total_tokens);
        put_extra_int(&v[ST_CACHED_TOKENS], &u->extra, "prompt_tokens_details", "cached_tokens");
        put_extra_int(&v[ST_REASONING_TOKENS], &u->extra, "completion_tokens_details",
                      "reasoning_tokens");
    }
    put_duration(&v[ST_DURATION], &s->created_at, &s->completed_at);
}

static int fill_message(sqlrow_value *v, const steparc_message *m, steparc_buf *text)
{
    put_str(&v[MS_ID], &m->id);
    put_oint(&v[MS_CREATED_AT], &m->created_at);
    put_str(&v[MS_THREAD_ID], &m->thread_id);
    put_enum(&v[MS_STATUS], &m->status);
    put_null(&v[MS_INCOMPLETE_REASON]);
    if (m->incomplete_details.state == STEPARC_SET)
        put_enum(&v[MS_INCOMPLETE_REASON], &m->incomplete_details.v.reason);
    put_oint(&v[MS_COMPLETED_AT], &m->completed_at);
    put_oint(&v[MS_INCOMPLETE_AT], &m->incomplete_at);
    put_enum(&v[MS_ROLE], &m->role);
    put_null(&v[MS_TEXT]);
    text->len = 0;
    int first = 1;
    for (size_t i = 0; m->content.state == STEPARC_SET && i < m->content.count; i++) {
        const steparc_content_part *p = &m->content.items[i];
        if (p->text.state == STEPARC_SET && p->text.v.value.state == STEPARC_SET &&
            join(text, &first, p->text.v.value.v.ptr, p->text.v.value.v.len))
            return STEPARC_E_NOMEM;
    }
    if (!first)
        put_text(&v[MS_TEXT], text->data, text->len);
    put_str(&v[MS_ASSISTANT_ID], &m->assistant_id);
    put_str(&v[MS_RUN_ID], &m->run_id);
    put_count(&v[MS_PARTS], m->content.state, m->content.count);
    put_count(&v[MS_ATTACHMENTS], m->attachments.state, m->attachments.count);
    put_duration(&v[MS_DURATION], &m->created_at, &m->completed_at);
    return 0;
}

static void fill_run(sqlrow_value *v, const steparc_run *r)
{
    put_str(&v[RU_ID], &r->id);
    put_oint(&v[RU_CREATED_AT], &r->created_at);
    put_str(&v[RU_THREAD_ID], &r->thread_id);
    put_str(&v[RU_ASSISTANT_ID], &r->assistant_id);
    put_enum(&v[RU_STATUS], &r->status);
    put_null(&v[RU_REQUIRED_ACTION]);
    if (r->required_action.state == STEPARC_SET)
        put_enum(&v[RU_REQUIRED_ACTION], &r->required_action.v.type);
    put_null(&v[RU_LAST_ERROR_CODE]);
    put_null(&v[RU_LAST_ERROR_MESSAGE]);
    if (r->last_error.state == STEPARC_SET) {
        put_enum(&v[RU_LAST_ERROR_CODE], &r->last_error.v.code);
        put_str(&v[RU_LAST_ERROR_MESSAGE], &r->last_error.v.message);
    }
    put_oint(&v[RU_EXPIRES_AT], &r->expires_at);
    put_oint(&v[RU_STARTED_AT], &r->started_at);
    put_oint(&v[RU_CANCELLED_AT], &r->cancelled_at);
    put_oint(&v[RU_FAILED_AT], &r->failed_at);
    put_oint(&v[RU_COMPLETED_AT], &r->completed_at);
    put_null(&v[RU_INCOMPLETE_REASON]);
    if (r->incomplete_details.state == STEPARC_SET)
        put_enum(&v[RU_INCOMPLETE_REASON], &r->incomplete_details.v.reason);
    put_str(&v[RU_MODEL], &r->model);
    put_str(&v[RU_INSTRUCTIONS], &r->instructions);
    put_count(&v[RU_TOOLS], r->tools.state, r->tools.count);
    put_num(&v[RU_TEMPERATURE], &r->temperature);
    put_num(&v[RU_TOP_P], &r->top_p);
    put_oint(&v[RU_MAX_PROMPT_TOKENS], &r->max_prompt_tokens);
    put_oint(&v[RU_MAX_COMPLETION_TOKENS], &r->max_completion_tokens);
    put_null(&v[RU_TRUNCATION]);
    if (r->truncation_strategy.state == STEPARC_SET)
        put_enum(&v[RU_TRUNCATION], &r->truncation_strategy.v.type);
    put_null(&v[RU_PARALLEL_TOOL_CALLS]);
    if (r->parallel_tool_calls.state == STEPARC_SET)
        put_int(&v[RU_PARALLEL_TOOL_CALLS], r->parallel_tool_calls.v);
    for (int c = RU_PROMPT_TOKENS; c <= RU_REASONING_TOKENS; c++)
        put_null(&v[c]);
    if (r->usage.state == STEPARC_SET) {
        const steparc_run_usage *u = &r->usage.v;
        put_oint(&v[RU_PROMPT_TOKENS], &u->prompt_tokens);
        put_oint(&v[RU_COMPLETION_TOKENS], &u->completion_tokens);
        put_oint(&v[RU_TOTAL_TOKENS], &u->total_tokens);
        if (u->prompt_tokens_details.state == STEPARC_SET)
            put_oint(&v[RU_CACHED_TOKENS], &u->prompt_tokens_details.v.cached_tokens);
        if (u->completion_tokens_details.state == STEPARC_SET)
            put_oint(&v[RU_REASONING_TOKENS], &u->completion_tokens_details.v.reasoning_tokens);
    }
    put_duration(&v[RU_DURATION], &r->created_at, &r->completed_at);
}

static void fill_thread(sqlrow_value *v, const steparc_thread *t)
{
    put_str(&v[TH_ID], &t->id);
    put_oint(&v[TH_CREATED_AT], &t->created_at);
}

static void fill_assistant(sqlrow_value *v, const steparc_assistant *a)
{
    put_str(&v[AS_ID], &a->id);
    put_oint(&v[AS_CREATED_AT], &a->created_at);
    put_str(&v[AS_NAME], &a->name);
    put_str(&v[AS_DESCRIPTION], &a->description);
    put_str(&v[AS_MODEL], &a->model);
    put_str(&v[AS_INSTRUCTIONS], &a->instructions);
    put_count(&v[AS_TOOLS], a->tools.state, a->tools.count);
    put_num(&v[AS_TEMPERATURE], &a->temperature);
    put_num(&v[AS_TOP_P], &a->top_p);
}

static size_t tool_call_count(const steparc_step *s)
{
    if (s->step_details.state != STEPARC_SET ||
        s->step_details.v.tool_calls.state != STEPARC_SET)
        return 0;
    return s->step_details.v.tool_calls.count;
}

static int fill_tool_call(sqlrow_value *v, const steparc_step *s, size_t k, steparc_buf *text)
{
    const steparc_tool_call *tc = &s->step_details.v.tool_calls.items[k];
    put_str(&v[TC_STEP_ID], &s->id);
    put_oint(&v[TC_CREATED_AT], &s->created_at);
    put_str(&v[TC_THREAD_ID], &s->thread_id);
    put_str(&v[TC_RUN_ID], &s->run_id);
    put_str(&v[TC_ASSISTANT_ID], &s->assistant_id);
    put_enum(&v[TC_STATUS], &s->status);
    put_int(&v[TC_INDEX], (int64_t)k);
    put_str(&v[TC_CALL_ID], &tc->id);
    put_enum(&v[TC_TYPE], &tc->type);
    for (int c = TC_FUNCTION_NAME; c <= TC_FILE_SEARCH_RESULTS; c++)
        put_null(&v[c]);
    if (tc->function.state == STEPARC_SET) {
        put_str(&v[TC_FUNCTION_NAME], &tc->function.v.name);
        put_str(&v[TC_ARGUMENTS], &tc->function.v.arguments);
        put_str(&v[TC_OUTPUT], &tc->function.v.output);
    }
    if (tc->code_interpreter.state == STEPARC_SET) {
        const steparc_code_interpreter *ci = &tc->code_interpreter.v;
        put_str(&v[TC_CODE_INPUT], &ci->input);
        text->len = 0;
        int first = 1;
        for (size_t i = 0; ci->outputs.state == STEPARC_SET && i < ci->outputs.count; i++) {
            const steparc_opt_str *l = &ci->outputs.items[i].logs;
            if (l->state == STEPARC_SET && join(text, &first, l->v.ptr, l->v.len))
                return STEPARC_E_NOMEM;
        }
        if (!first)
            put_text(&v[TC_LOGS], text->data, text->len);
    }
    if (tc->file_search.state == STEPARC_SET)
        put_count(&v[TC_FILE_SEARCH_RESULTS], tc->file_search.v.results.state,
                  tc->file_search.v.results.count);
    return 0;
}

/* Every kind has id, created_at and the link fields under the same names: the
 * step view reads them from any record (the rest lands in its extras). */
static void fill_record(sqlrow_value *v, const steparc_step *s, int kind)
{
    const char *k = steparc_kind_name(kind);
    put_text(&v[RE_KIND], k, strlen(k));
    put_str(&v[RE_ID], &s->id);
    put_oint(&v[RE_CREATED_AT], &s->created_at);
    put_str(&v[RE_THREAD_ID], &s->thread_id);
    put_str(&v[RE_RUN_ID], &s->run_id);
    put_str(&v[RE_ASSISTANT_ID], &s->assistant_id);
}

/* ---- records ----------------------------------------------------------------------------- */

static void free_view(sqlrow_rec *rec)
{
    if (!rec->view || !rec->t)
        return;
    switch (rec->t->kind) {
    case STEPARC_KIND_MESSAGE: steparc_message_free(rec->view); break;
    case STEPARC_KIND_RUN: steparc_run_free(rec->view); break;
    case STEPARC_KIND_THREAD: steparc_thread_free(rec->view); break;
    case STEPARC_KIND_ASSISTANT: steparc_assistant_free(rec->view); break;
    default: steparc_step_free(rec->view); break; /* steps, tool calls, records */
    }
    rec->view = NULL;
}

static int decode(sqlrow_rec *rec)
{
    if (rec->view)
        return 0;
    switch (rec->t->kind) {
    case STEPARC_KIND_MESSAGE:
        return steparc_message_decode((steparc_message **)&rec->view, rec->mp, rec->len);
    case STEPARC_KIND_RUN:
        return steparc_run_decode((steparc_run **)&rec->view, rec->mp, rec->len);
    case STEPARC_KIND_THREAD:
        return steparc_thread_decode((steparc_thread **)&rec->view, rec->mp, rec->len);
    case STEPARC_KIND_ASSISTANT:
        return steparc_assistant_decode((steparc_assistant **)&rec->view, rec->mp, rec->len);
    default:
        return steparc_step_decode((steparc_step **)&rec->view, rec->mp, rec->len);
    }
}

int sqlrow_load(sqlrow_rec *rec, const sqlrow_table *t, const void *mp, size_t len)
{
    free_view(rec);
    if (!rec->vals || rec->t != t) {
        free(rec->vals);
        rec->vals = calloc((size_t)t->ncols, sizeof *rec->vals);
        if (!rec->vals) {
            rec->t = NULL;
            return STEPARC_E_NOMEM;
        }
    }
    rec->t = t;
    rec->mp = mp;
    rec->len = len;
    rec->nrows = 0;
    rec->has_json = 0;
    int kind;
    int rc = steparc_record_kind(&kind, mp, len);
    if (rc)
        return rc;
    rec->nrows = (t->kind < 0 || t->kind == kind) ? 1 : 0;
    if (rec->nrows && t->multi) {
        if ((rc = decode(rec)) != 0)
            return rc;
        rec->nrows = tool_call_count(rec->view);
    }
    return 0;
}

int sqlrow_fill(sqlrow_rec *rec, size_t row)
{
    if (!rec->t || row >= rec->nrows)
        return STEPARC_E_ARG;
    int rc = decode(rec);
    if (rc)
        return rc;
    sqlrow_value *v = rec->vals;
    switch ((int)(rec->t - sqlrow_tables)) {
    case SQLROW_T_STEPS: fill_step(v, rec->view); break;
    case SQLROW_T_MESSAGES: rc = fill_message(v, rec->view, &rec->text); break;
    case SQLROW_T_RUNS: fill_run(v, rec->view); break;
    case SQLROW_T_THREADS: fill_thread(v, rec->view); break;
    case SQLROW_T_ASSISTANTS: fill_assistant(v, rec->view); break;
    case SQLROW_T_TOOL_CALLS: rc = fill_tool_call(v, rec->view, row, &rec->text); break;
    default: {
        int kind;
        if ((rc = steparc_record_kind(&kind, rec->mp, rec->len)) != 0)
            return rc;
        fill_record(v, rec->view, kind);
    }
    }
    put_null(&v[rec->t->c_json]);
    return rc;
}

int sqlrow_json(const char **s, size_t *n, sqlrow_rec *rec)
{
    if (!rec->has_json) {
        int rc = steparc_msgpack_to_json(&rec->json, rec->mp, rec->len, 0);
        if (rc)
            return rc;
        rec->has_json = 1;
    }
    *s = rec->json.data ? rec->json.data : "";
    *n = rec->json.len;
    return 0;
}

void sqlrow_clear(sqlrow_rec *rec)
{
    free_view(rec);
    free(rec->vals);
    free(rec->text.data);
    steparc_buf_free(&rec->json);
    memset(rec, 0, sizeof *rec);
}

int sqlrow_cursor_open(steparc_cursor **out, steparc_reader *r, const sqlrow_table *t,
                       const steparc_filter *f)
{
    (void)t; /* the kind goes here once steparc_filter has one; sqlrow_load checks it now */
    return steparc_cursor_open(out, r, f);
}
