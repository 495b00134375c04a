/* conversations.c - steparc export --conversations: the request bodies that
 * rebuild each archived thread as a Responses API conversation, offline.
 *
 * docs/CONVERSATIONS.md is the mapping (from /work/shared/reference
 * assistants-history.md section 5) and the loss report's schema. Per thread:
 * its records through the thread postings, the latest state of each message,
 * run and step (by id, the last in archive order), the items in the thread's
 * order, in bodies of at most 20 items. Everything that has no place in an
 * item is counted by name in the thread's loss report.
 *
 * The bodies are built as MessagePack (msgpack-c, in the order written) and
 * written by the library's canonical JSON writer: compact, keys in order,
 * strings exact (a NUL stays \u0000, which cJSON would cut). Nothing here
 * touches the network. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CV_MAX_ITEMS 20      /* CreateConversationBody.items, and per items call */
#define CV_META_KEYS 16      /* conversation metadata pairs */
#define CV_META_KEY_CHARS 64
#define CV_META_VALUE_CHARS 512
#define CV_CALL_ID_CHARS 64        /* function_call_output.call_id */
#define CV_OUTPUT_CHARS 10485760   /* function_call_output.output */

typedef struct {
    uint64_t ord;
    int64_t t; /* created_at, 0 when absent or not an int64 */
    steparc_message *m;
    int emitted;
} cv_msg;

typedef struct {
    uint64_t ord;
    int64_t t;
    steparc_step *s;
} cv_step;

typedef struct {
    uint64_t ord;
    steparc_run *r;
} cv_run;

typedef struct {
    char *name;
    uint64_t n;
} cv_loss;

typedef struct {
    steparc_str id, name; /* owned; name.ptr NULL: no file record names it */
} cv_file;

/* one thread's records and its output */
typedef struct {
    steparc_thread *thread;
    cv_msg *msgs;
    size_t nmsgs, capmsgs;
    cv_step *steps;
    size_t nsteps, capsteps;
    cv_run *runs;
    size_t nruns, capruns;
    steparc_buf items;  /* MessagePack of the items, back to back */
    size_t *item_off;   /* start of item i in items; item_off[nitems] = items.len */
    size_t nitems, capitems;
    cv_loss *loss;
    size_t nloss, caploss;
    int64_t tmin, tmax;
    int has_t;
    int oom;
    msgpack_packer pk;  /* into items */
    steparc_reader *r;  /* for the file inventory */
    cv_file *files;     /* file names looked up in it */
    size_t nfiles, capfiles;
} cv_thread;

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * size);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* ---- the loss counts ----------------------------------------------------------------- */

static void lose(cv_thread *x, const char *name, uint64_t n)
{
    if (!n)
        return;
    for (size_t i = 0; i < x->nloss; i++)
        if (strcmp(x->loss[i].name, name) == 0) {
            x->loss[i].n += n;
            return;
        }
    char *d = strdup(name);
    if (!d || grow((void **)&x->loss, &x->caploss, x->nloss + 1, sizeof *x->loss)) {
        free(d);
        x->oom = 1;
        return;
    }
    x->loss[x->nloss].name = d;
    x->loss[x->nloss++].n = n;
}

/* a top-level field that no item holds: counted when present and not null */
#define LOSE_FIELD(x, kind, obj, f) \
    do { if ((obj)->f.state == STEPARC_SET || (obj)->f.state == STEPARC_OTHER) lose(x, kind "." #f, 1); } while (0)

static int cmp_loss(const void *a, const void *b)
{
    return strcmp(((const cv_loss *)a)->name, ((const cv_loss *)b)->name);
}

static int64_t opt_time(const steparc_opt_int *t)
{
    return t->state == STEPARC_SET ? t->v : 0;
}

static void seen_time(cv_thread *x, const steparc_opt_int *t)
{
    if (t->state != STEPARC_SET)
        return;
    if (!x->has_t || t->v < x->tmin)
        x->tmin = t->v;
    if (!x->has_t || t->v > x->tmax)
        x->tmax = t->v;
    x->has_t = 1;
}

static int same_str(steparc_str a, steparc_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int str_is(steparc_str a, const char *s)
{
    return a.len == strlen(s) && memcmp(a.ptr, s, a.len) == 0;
}

/* ---- packing (errors are sticky in x->oom) -------------------------------------------- */

static void p_str(cv_thread *x, const char *s, size_t n)
{
    if (cli_pack_str(&x->pk, s, n))
        x->oom = 1;
}

static void p_cstr(cv_thread *x, const char *s)
{
    p_str(x, s, strlen(s));
}

static void p_map(cv_thread *x, size_t n)
{
    if (msgpack_pack_map(&x->pk, n))
        x->oom = 1;
}

static void p_array(cv_thread *x, size_t n)
{
    if (msgpack_pack_array(&x->pk, n))
        x->oom = 1;
}

static void p_kv(cv_thread *x, const char *k, steparc_str v)
{
    p_cstr(x, k);
    p_str(x, v.ptr, v.len);
}

static void p_kc(cv_thread *x, const char *k, const char *v)
{
    p_cstr(x, k);
    p_cstr(x, v);
}

static void item_begin(cv_thread *x)
{
    if (grow((void **)&x->item_off, &x->capitems, x->nitems + 2, sizeof *x->item_off))
        x->oom = 1;
    else
        x->item_off[x->nitems] = x->items.len;
}

static void item_end(cv_thread *x)
{
    if (x->oom)
        return;
    x->nitems++;
    x->item_off[x->nitems] = x->items.len;
}

static size_t utf8_prefix(steparc_str s, size_t max, int *cut);

/* ---- messages --------------------------------------------------------------------------- */

static char *dup_str(steparc_str v)
{
    char *d = malloc(v.len + 1);
    if (d) {
        memcpy(d, v.ptr, v.len);
        d[v.len] = 0;
    }
    return d;
}

/* The "filename" of the archive's file record (object "file") with this id;
 * 1 found, 0 not. Looked up once per file id and thread. */
static int inventory_name(steparc_str *out, cv_thread *x, steparc_str file_id)
{
    for (size_t i = 0; i < x->nfiles; i++)
        if (same_str(x->files[i].id, file_id)) {
            *out = x->files[i].name;
            return x->files[i].name.ptr != NULL;
        }
    cv_file f = {{NULL, 0}, {NULL, 0}};
    uint64_t ord;
    steparc_buf mp = {0};
    steparc_message *v = NULL; /* any map decodes; "filename" lands in extra */
    int kind;
    if (steparc_reader_find_id(&ord, x->r, file_id.ptr, file_id.len) == 0 &&
        steparc_reader_get_msgpack(&mp, x->r, ord) == 0 &&
        steparc_record_kind(&kind, mp.data, mp.len) == 0 && kind == STEPARC_KIND_FILE &&
        steparc_message_decode(&v, mp.data, mp.len) == 0) {
        for (size_t i = 0; i < v->extra.count; i++)
            if (str_is(v->extra.items[i].key, "filename") &&
                v->extra.items[i].value.type == STEPARC_V_STRING) {
                f.name = v->extra.items[i].value.v.s;
                if (!(f.name.ptr = dup_str(f.name)))
                    x->oom = 1;
                break;
            }
    }
    steparc_message_free(v);
    steparc_buf_free(&mp);
    f.id.ptr = dup_str(file_id);
    f.id.len = file_id.len;
    if (!f.id.ptr || grow((void **)&x->files, &x->capfiles, x->nfiles + 1, sizeof *x->files)) {
        free((void *)f.id.ptr);
        free((void *)f.name.ptr);
        x->oom = 1;
        return 0;
    }
    x->files[x->nfiles++] = f;
    *out = f.name;
    return f.name.ptr != NULL;
}

/* A file name for a cited file: from the thread's file_search results, else
 * from the archive's file records. */
static int file_name_of(steparc_str *out, cv_thread *x, steparc_str file_id)
{
    for (size_t i = 0; i < x->nsteps; i++) {
        const steparc_step_details *d = &x->steps[i].s->step_details.v;
        if (x->steps[i].s->step_details.state != STEPARC_SET || d->tool_calls.state != STEPARC_SET)
            continue;
        for (size_t k = 0; k < d->tool_calls.count; k++) {
            const steparc_tool_call *tc = &d->tool_calls.items[k];
            if (tc->file_search.state != STEPARC_SET ||
                tc->file_search.v.results.state != STEPARC_SET)
                continue;
            for (size_t j = 0; j < tc->file_search.v.results.count; j++) {
                const steparc_fs_result *r = &tc->file_search.v.results.items[j];
                if (r->file_id.state == STEPARC_SET && r->file_name.state == STEPARC_SET &&
                    same_str(r->file_id.v, file_id)) {
                    *out = r->file_name.v;
                    return 1;
                }
            }
        }
    }
    return inventory_name(out, x, file_id);
}

/* What an annotation becomes: 1 file_citation, 2 file_path, 0 nothing (counted). */
static int ann_plan(cv_thread *x, const steparc_annotation *a, steparc_str *fid, steparc_str *fname,
                    int count)
{
    if (a->type.code == STEPARC_ANN_FILE_CITATION && a->file_citation.state == STEPARC_SET &&
        a->file_citation.v.file_id.state == STEPARC_SET) {
        *fid = a->file_citation.v.file_id.v;
        if (file_name_of(fname, x, *fid))
            return 1;
        if (count)
            lose(x, "annotation.no_filename", 1);
        return 0;
    }
    if (a->type.code == STEPARC_ANN_FILE_PATH && a->file_path.state == STEPARC_SET &&
        a->file_path.v.file_id.state == STEPARC_SET) {
        *fid = a->file_path.v.file_id.v;
        return 2;
    }
    if (count)
        lose(x, "annotation.other", 1);
    return 0;
}

static void pack_annotations(cv_thread *x, const steparc_msg_text *t)
{
    size_t n = 0;
    steparc_str fid, fname, seen[64];
    size_t nseen = 0;
    size_t count = t->annotations.state == STEPARC_SET ? t->annotations.count : 0;
    for (size_t i = 0; i < count; i++)
        n += ann_plan(x, &t->annotations.items[i], &fid, &fname, 1) != 0;
    p_array(x, n);
    for (size_t i = 0; i < count; i++) {
        const steparc_annotation *a = &t->annotations.items[i];
        int kind = ann_plan(x, a, &fid, &fname, 0);
        if (!kind)
            continue;
        /* index: the file's position among the files this text cites (the
         * API's meaning); the character span has no place */
        size_t idx = 0;
        while (idx < nseen && !same_str(seen[idx], fid))
            idx++;
        if (idx == nseen && nseen < 64)
            seen[nseen++] = fid;
        lose(x, "annotation.span", 1);
        if (kind == 1 && a->file_citation.v.quote.state == STEPARC_SET)
            lose(x, "annotation.quote", 1);
        p_map(x, kind == 1 ? 4 : 3);
        p_kc(x, "type", kind == 1 ? "file_citation" : "file_path");
        p_kv(x, "file_id", fid);
        if (kind == 1)
            p_kv(x, "filename", fname);
        p_cstr(x, "index");
        if (msgpack_pack_uint64(&x->pk, idx))
            x->oom = 1;
    }
}

static const char *detail_of(const steparc_opt_enum *d)
{
    static const char *const names[] = {"auto", "auto", "low", "high"};
    return d->state == STEPARC_SET && d->code >= 0 && d->code <= 3 ? names[d->code] : "auto";
}

/* 1 when part p has a place in a message item of this role (counting it
 * when pack is 0), and packs it when pack is 1. */
static int part(cv_thread *x, const steparc_content_part *p, int assistant, int pack)
{
    int ok = 0;
    const char *lost = "part.other";
    switch (p->type.code) {
    case STEPARC_PART_TEXT:
        ok = p->text.state == STEPARC_SET && p->text.v.value.state == STEPARC_SET;
        if (ok && pack) {
            p_map(x, assistant ? 4 : 2);
            p_kc(x, "type", assistant ? "output_text" : "input_text");
            p_kv(x, "text", p->text.v.value.v);
            if (assistant) {
                p_cstr(x, "annotations");
                pack_annotations(x, &p->text.v);
                p_cstr(x, "logprobs");
                p_array(x, 0);
            }
        }
        if (ok && !pack && !assistant && p->text.v.annotations.state == STEPARC_SET)
            lose(x, "annotation.user_side", p->text.v.annotations.count);
        break;
    case STEPARC_PART_IMAGE_FILE:
        ok = !assistant && p->image_file.state == STEPARC_SET &&
             p->image_file.v.file_id.state == STEPARC_SET;
        lost = "part.image_file";
        if (ok && pack) {
            p_map(x, 3);
            p_kc(x, "type", "input_image");
            p_kv(x, "file_id", p->image_file.v.file_id.v);
            p_kc(x, "detail", detail_of(&p->image_file.v.detail));
        }
        break;
    case STEPARC_PART_IMAGE_URL:
        ok = !assistant && p->image_url.state == STEPARC_SET &&
             p->image_url.v.url.state == STEPARC_SET;
        lost = "part.image_url";
        if (ok && pack) {
            p_map(x, 3);
            p_kc(x, "type", "input_image");
            p_kv(x, "image_url", p->image_url.v.url.v);
            p_kc(x, "detail", detail_of(&p->image_url.v.detail));
        }
        break;
    case STEPARC_PART_REFUSAL:
        ok = assistant && p->refusal.state == STEPARC_SET;
        lost = "part.refusal";
        if (ok && pack) {
            p_map(x, 2);
            p_kc(x, "type", "refusal");
            p_kv(x, "refusal", p->refusal.v);
        }
        break;
    default:
        break;
    }
    if (!ok && !pack)
        lose(x, lost, 1);
    return ok;
}

static void message_losses(cv_thread *x, const steparc_message *m)
{
    LOSE_FIELD(x, "message", m, id);
    LOSE_FIELD(x, "message", m, created_at);
    LOSE_FIELD(x, "message", m, incomplete_details);
    LOSE_FIELD(x, "message", m, completed_at);
    LOSE_FIELD(x, "message", m, incomplete_at);
    LOSE_FIELD(x, "message", m, assistant_id);
    LOSE_FIELD(x, "message", m, run_id);
    LOSE_FIELD(x, "message", m, attachments);
    LOSE_FIELD(x, "message", m, file_ids);
    if (m->metadata.state == STEPARC_SET)
        lose(x, "message.metadata", 1);
    if (m->status.state != STEPARC_ABSENT && m->status.state != STEPARC_NULL &&
        !(m->status.state == STEPARC_SET && m->status.code != STEPARC_MSG_STATUS_OTHER))
        lose(x, "message.status", 1);
    if (m->content.state == STEPARC_OTHER)
        lose(x, "message.content", 1);
    lose(x, "message.unknown_keys", m->extra.count);
}

static void emit_message(cv_thread *x, cv_msg *cm)
{
    const steparc_message *m = cm->m;
    cm->emitted = 1;
    int assistant = m->role.state == STEPARC_SET && m->role.code == STEPARC_ROLE_ASSISTANT;
    steparc_str role = {"user", 4};
    if (m->role.state == STEPARC_SET)
        role = m->role.v;
    else
        lose(x, "message.role", 1); /* absent or mistyped: sent as user */
    message_losses(x, m);
    size_t count = m->content.state == STEPARC_SET ? m->content.count : 0, n = 0;
    for (size_t i = 0; i < count; i++)
        n += (size_t)part(x, &m->content.items[i], assistant, 0);
    int status = m->status.state == STEPARC_SET && m->status.code != STEPARC_MSG_STATUS_OTHER;
    item_begin(x);
    p_map(x, status ? 4 : 3);
    p_kc(x, "type", "message");
    p_kv(x, "role", role);
    p_cstr(x, "content");
    p_array(x, n);
    for (size_t i = 0; i < count; i++)
        part(x, &m->content.items[i], assistant, 1);
    if (status)
        p_kv(x, "status", m->status.v);
    item_end(x);
}

/* ---- tool calls ------------------------------------------------------------------------- */

/* the call item's status from the step's: failed, cancelled, expired -> incomplete
 * (code interpreter and file search: failed stays failed) */
static const char *call_status(cv_thread *x, const steparc_step *s, int has_failed)
{
    if (s->status.state != STEPARC_SET)
        return NULL;
    switch (s->status.code) {
    case STEPARC_STATUS_COMPLETED:
        return "completed";
    case STEPARC_STATUS_IN_PROGRESS:
        return "in_progress";
    case STEPARC_STATUS_FAILED:
        if (has_failed)
            return "failed";
        /* fall through */
    case STEPARC_STATUS_CANCELLED:
    case STEPARC_STATUS_EXPIRED:
        lose(x, "call.status_narrowed", 1);
        return "incomplete";
    default:
        lose(x, "call.status_narrowed", 1);
        return NULL;
    }
}

static steparc_str opt_or_empty(const steparc_opt_str *o)
{
    steparc_str e = {"", 0};
    return o->state == STEPARC_SET ? o->v : e;
}

static void emit_function(cv_thread *x, const steparc_step *s, const steparc_tool_call *tc)
{
    const steparc_function *f = &tc->function.v;
    const char *st = call_status(x, s, 0);
    int cut;
    steparc_str id = opt_or_empty(&tc->id);
    utf8_prefix(id, CV_CALL_ID_CHARS, &cut);
    if (cut) /* sent whole: a shortened id would no longer pair call and output */
        lose(x, "function_call.call_id_over_64", 1);
    item_begin(x);
    p_map(x, st ? 5 : 4);
    p_kc(x, "type", "function_call");
    p_kv(x, "call_id", opt_or_empty(&tc->id));
    p_kv(x, "name", opt_or_empty(&f->name));
    p_kv(x, "arguments", opt_or_empty(&f->arguments));
    if (st)
        p_kc(x, "status", st);
    item_end(x);
    if (f->output.state != STEPARC_SET) {
        lose(x, "function_call.no_output", 1); /* never submitted: a dangling call */
        return;
    }
    steparc_str out = f->output.v;
    out.len = utf8_prefix(out, CV_OUTPUT_CHARS, &cut);
    if (cut)
        lose(x, "function_call_output.truncated", 1);
    item_begin(x);
    p_map(x, 3);
    p_kc(x, "type", "function_call_output");
    p_kv(x, "call_id", opt_or_empty(&tc->id));
    p_kv(x, "output", out);
    item_end(x);
}

static void emit_code(cv_thread *x, const steparc_step *s, const steparc_tool_call *tc)
{
    const steparc_code_interpreter *ci = &tc->code_interpreter.v;
    const char *st = call_status(x, s, 1);
    size_t count = ci->outputs.state == STEPARC_SET ? ci->outputs.count : 0, n = 0;
    for (size_t i = 0; i < count; i++) {
        const steparc_ci_output *o = &ci->outputs.items[i];
        if (o->type.code == STEPARC_OUTPUT_LOGS && o->logs.state == STEPARC_SET)
            n++;
        else if (o->type.code == STEPARC_OUTPUT_IMAGE)
            lose(x, "code_interpreter.image_file", 1); /* an image item needs a URL */
        else
            lose(x, "code_interpreter.output_other", 1);
    }
    item_begin(x);
    p_map(x, st ? 6 : 5);
    p_kc(x, "type", "code_interpreter_call");
    p_kv(x, "id", opt_or_empty(&tc->id));
    if (st)
        p_kc(x, "status", st);
    p_kc(x, "container_id", ""); /* required; the Assistants call had no container */
    p_cstr(x, "code");
    if (ci->input.state == STEPARC_SET)
        p_str(x, ci->input.v.ptr, ci->input.v.len);
    else if (msgpack_pack_nil(&x->pk))
        x->oom = 1;
    p_cstr(x, "outputs");
    p_array(x, n);
    for (size_t i = 0; i < count; i++) {
        const steparc_ci_output *o = &ci->outputs.items[i];
        if (o->type.code == STEPARC_OUTPUT_LOGS && o->logs.state == STEPARC_SET) {
            p_map(x, 2);
            p_kc(x, "type", "logs");
            p_kv(x, "logs", o->logs.v);
        }
    }
    item_end(x);
}

static void pack_result(cv_thread *x, const steparc_fs_result *r)
{
    int has_text = r->content.state == STEPARC_SET;
    size_t n = (size_t)(r->file_id.state == STEPARC_SET) + (size_t)(r->file_name.state == STEPARC_SET) +
               (size_t)(r->score.state == STEPARC_SET) + (size_t)has_text;
    p_map(x, n);
    if (r->file_id.state == STEPARC_SET)
        p_kv(x, "file_id", r->file_id.v);
    if (r->file_name.state == STEPARC_SET)
        p_kv(x, "filename", r->file_name.v);
    if (r->score.state == STEPARC_SET) {
        p_cstr(x, "score");
        if (r->score.is_int ? msgpack_pack_int64(&x->pk, r->score.i)
                            : msgpack_pack_double(&x->pk, r->score.f))
            x->oom = 1;
    }
    if (has_text) {
        /* the content's text entries joined by newlines */
        size_t len = 0, k = 0;
        for (size_t i = 0; i < r->content.count; i++)
            if (r->content.items[i].text.state == STEPARC_SET)
                len += r->content.items[i].text.v.len + (k++ ? 1 : 0);
        p_cstr(x, "text");
        if (msgpack_pack_str(&x->pk, len))
            x->oom = 1;
        k = 0;
        for (size_t i = 0; i < r->content.count; i++) {
            const steparc_opt_str *t = &r->content.items[i].text;
            if (t->state != STEPARC_SET)
                continue;
            if ((k++ && msgpack_pack_str_body(&x->pk, "\n", 1)) ||
                msgpack_pack_str_body(&x->pk, t->v.ptr, t->v.len))
                x->oom = 1;
        }
    }
}

static void emit_file_search(cv_thread *x, const steparc_step *s, const steparc_tool_call *tc)
{
    const steparc_file_search *fs = &tc->file_search.v;
    const char *st = call_status(x, s, 1);
    if (tc->file_search.state == STEPARC_SET && fs->ranking_options.state == STEPARC_SET)
        lose(x, "file_search.ranking_options", 1);
    int has = tc->file_search.state == STEPARC_SET && fs->results.state == STEPARC_SET;
    if (!has)
        lose(x, "file_search.no_results", 1); /* before 2024-08-23, or no include[] */
    item_begin(x);
    p_map(x, st ? 5 : 4);
    p_kc(x, "type", "file_search_call");
    p_kv(x, "id", opt_or_empty(&tc->id));
    if (st)
        p_kc(x, "status", st);
    p_cstr(x, "queries");
    p_array(x, 0); /* required; Assistants never recorded the queries */
    p_cstr(x, "results");
    if (!has) {
        if (msgpack_pack_nil(&x->pk))
            x->oom = 1;
    } else {
        p_array(x, fs->results.count);
        for (size_t i = 0; i < fs->results.count; i++)
            pack_result(x, &fs->results.items[i]);
    }
    item_end(x);
}

static cv_msg *find_msg(cv_thread *x, steparc_str id)
{
    for (size_t i = 0; i < x->nmsgs; i++)
        if (x->msgs[i].m->id.state == STEPARC_SET && same_str(x->msgs[i].m->id.v, id))
            return &x->msgs[i];
    return NULL;
}

static void step_losses(cv_thread *x, const steparc_step *s)
{
    LOSE_FIELD(x, "step", s, id);
    LOSE_FIELD(x, "step", s, created_at);
    LOSE_FIELD(x, "step", s, status);
    LOSE_FIELD(x, "step", s, cancelled_at);
    LOSE_FIELD(x, "step", s, completed_at);
    LOSE_FIELD(x, "step", s, expires_at);
    LOSE_FIELD(x, "step", s, expired_at);
    LOSE_FIELD(x, "step", s, failed_at);
    LOSE_FIELD(x, "step", s, last_error);
    LOSE_FIELD(x, "step", s, usage);
    if (s->metadata.state == STEPARC_SET)
        lose(x, "step.metadata", 1);
    lose(x, "step.unknown_keys", s->extra.count);
}

static void emit_step(cv_thread *x, const steparc_step *s)
{
    step_losses(x, s);
    const steparc_step_details *d = &s->step_details.v;
    if (s->step_details.state == STEPARC_SET && d->message_creation.state == STEPARC_SET &&
        d->message_creation.v.message_id.state == STEPARC_SET) {
        cv_msg *m = find_msg(x, d->message_creation.v.message_id.v);
        if (!m)
            lose(x, "message.missing", 1); /* a hole: reported, not invented */
        else if (!m->emitted)
            emit_message(x, m);
        return;
    }
    if (s->step_details.state != STEPARC_SET || d->tool_calls.state != STEPARC_SET) {
        lose(x, "step.other_type", 1);
        return;
    }
    for (size_t k = 0; k < d->tool_calls.count; k++) {
        const steparc_tool_call *tc = &d->tool_calls.items[k];
        if (tc->type.code == STEPARC_TOOL_FUNCTION && tc->function.state == STEPARC_SET)
            emit_function(x, s, tc);
        else if (tc->type.code == STEPARC_TOOL_CODE_INTERPRETER &&
                 tc->code_interpreter.state == STEPARC_SET)
            emit_code(x, s, tc);
        else if (tc->type.code == STEPARC_TOOL_FILE_SEARCH)
            emit_file_search(x, s, tc);
        else if (tc->type.state == STEPARC_SET && str_is(tc->type.v, "retrieval"))
            lose(x, "tool_call.retrieval", 1);
        else
            lose(x, "tool_call.other", 1);
    }
}

static void run_losses(cv_thread *x, const steparc_run *r)
{
    LOSE_FIELD(x, "run", r, id);
    LOSE_FIELD(x, "run", r, created_at);
    LOSE_FIELD(x, "run", r, status);
    LOSE_FIELD(x, "run", r, required_action);
    LOSE_FIELD(x, "run", r, last_error);
    LOSE_FIELD(x, "run", r, expires_at);
    LOSE_FIELD(x, "run", r, started_at);
    LOSE_FIELD(x, "run", r, cancelled_at);
    LOSE_FIELD(x, "run", r, failed_at);
    LOSE_FIELD(x, "run", r, completed_at);
    LOSE_FIELD(x, "run", r, incomplete_details);
    LOSE_FIELD(x, "run", r, model);
    LOSE_FIELD(x, "run", r, instructions);
    LOSE_FIELD(x, "run", r, tools);
    LOSE_FIELD(x, "run", r, tool_resources);
    LOSE_FIELD(x, "run", r, usage);
    LOSE_FIELD(x, "run", r, temperature);
    LOSE_FIELD(x, "run", r, top_p);
    LOSE_FIELD(x, "run", r, max_prompt_tokens);
    LOSE_FIELD(x, "run", r, max_completion_tokens);
    LOSE_FIELD(x, "run", r, truncation_strategy);
    LOSE_FIELD(x, "run", r, parallel_tool_calls);
    LOSE_FIELD(x, "run", r, file_ids);
    if (r->metadata.state == STEPARC_SET)
        lose(x, "run.metadata", 1);
    if (r->response_format.state == STEPARC_SET)
        lose(x, "run.response_format", 1);
    if (r->tool_choice.state == STEPARC_SET)
        lose(x, "run.tool_choice", 1);
    lose(x, "run.unknown_keys", r->extra.count);
}

/* ---- the thread's order ------------------------------------------------------------------ */

/* An event of the walk: an unreferenced message, or a run (its steps). */
typedef struct {
    int64_t t;
    uint64_t ord;
    int is_run;
    size_t idx;      /* message index, or the first step of the run in the sorted steps */
    steparc_str run; /* the run id */
} cv_event;

static int cmp_step(const void *a, const void *b)
{
    const cv_step *p = a, *q = b;
    steparc_str e = {"", 0};
    steparc_str rp = p->s->run_id.state == STEPARC_SET ? p->s->run_id.v : e;
    steparc_str rq = q->s->run_id.state == STEPARC_SET ? q->s->run_id.v : e;
    size_t n = rp.len < rq.len ? rp.len : rq.len;
    int c = n ? memcmp(rp.ptr, rq.ptr, n) : 0;
    if (c || rp.len != rq.len)
        return c ? c : (rp.len < rq.len ? -1 : 1);
    if (p->t != q->t)
        return p->t < q->t ? -1 : 1;
    return p->ord < q->ord ? -1 : p->ord > q->ord;
}

static int cmp_event(const void *a, const void *b)
{
    const cv_event *p = a, *q = b;
    if (p->t != q->t)
        return p->t < q->t ? -1 : 1;
    if (p->is_run != q->is_run) /* a message of the same second comes before the run */
        return p->is_run - q->is_run;
    return p->ord < q->ord ? -1 : p->ord > q->ord;
}

static steparc_str step_run(const cv_step *s)
{
    steparc_str e = {"", 0};
    return s->s->run_id.state == STEPARC_SET ? s->s->run_id.v : e;
}

static int referenced(const cv_thread *x, steparc_str mid)
{
    for (size_t i = 0; i < x->nsteps; i++) {
        const steparc_step *s = x->steps[i].s;
        if (s->step_details.state == STEPARC_SET &&
            s->step_details.v.message_creation.state == STEPARC_SET &&
            s->step_details.v.message_creation.v.message_id.state == STEPARC_SET &&
            same_str(s->step_details.v.message_creation.v.message_id.v, mid))
            return 1;
    }
    return 0;
}

/* The items of the thread, in order; 0 or -1 (out of memory). */
static int walk(cv_thread *x)
{
    if (x->nsteps > 1) /* steps may be NULL when there are none */
        qsort(x->steps, x->nsteps, sizeof *x->steps, cmp_step);
    cv_event *ev = calloc(x->nmsgs + x->nsteps + x->nruns + 1, sizeof *ev);
    if (!ev)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < x->nmsgs; i++)
        if (x->msgs[i].m->id.state != STEPARC_SET || !referenced(x, x->msgs[i].m->id.v))
            ev[n++] = (cv_event){x->msgs[i].t, x->msgs[i].ord, 0, i, {"", 0}};
    /* a run: the earliest of its record's created_at and its steps' */
    for (size_t i = 0; i < x->nsteps;) {
        size_t j = i;
        cv_event e = {x->steps[i].t, x->steps[i].ord, 1, i, step_run(&x->steps[i])};
        for (; j < x->nsteps && same_str(step_run(&x->steps[j]), e.run); j++) {
            if (x->steps[j].t < e.t)
                e.t = x->steps[j].t;
            if (x->steps[j].ord < e.ord)
                e.ord = x->steps[j].ord;
        }
        for (size_t k = 0; k < x->nruns; k++)
            if (x->runs[k].r->id.state == STEPARC_SET && same_str(x->runs[k].r->id.v, e.run)) {
                if (x->runs[k].r->created_at.state == STEPARC_SET && x->runs[k].r->created_at.v < e.t)
                    e.t = x->runs[k].r->created_at.v;
                if (x->runs[k].ord < e.ord)
                    e.ord = x->runs[k].ord;
            }
        ev[n++] = e;
        i = j;
    }
    qsort(ev, n, sizeof *ev, cmp_event);
    for (size_t i = 0; i < n && !x->oom; i++) {
        if (!ev[i].is_run) {
            emit_message(x, &x->msgs[ev[i].idx]);
            continue;
        }
        for (size_t j = ev[i].idx; j < x->nsteps && same_str(step_run(&x->steps[j]), ev[i].run); j++)
            emit_step(x, x->steps[j].s);
    }
    free(ev);
    for (size_t i = 0; i < x->nruns; i++)
        run_losses(x, x->runs[i].r);
    return x->oom ? -1 : 0;
}

/* ---- metadata ------------------------------------------------------------------------- */

/* bytes of the first max code points of s (UTF-8) */
static size_t utf8_prefix(steparc_str s, size_t max, int *cut)
{
    size_t chars = 0, i = 0;
    for (; i < s.len; i++)
        if (((unsigned char)s.ptr[i] & 0xC0) != 0x80 && chars++ == max)
            break;
    *cut = i < s.len;
    return i;
}

typedef struct {
    steparc_str k, v;
    char *own; /* an owned value */
} cv_meta;

static void meta_add(cv_thread *x, cv_meta *md, size_t *n, steparc_str k, steparc_str v)
{
    int cut;
    k.len = utf8_prefix(k, CV_META_KEY_CHARS, &cut);
    if (cut)
        lose(x, "metadata.key_truncated", 1);
    for (size_t i = 0; i < *n; i++)
        if (same_str(md[i].k, k)) {
            lose(x, "metadata.key_dropped", 1);
            return;
        }
    if (*n == CV_META_KEYS) {
        lose(x, "metadata.key_dropped", 1);
        return;
    }
    v.len = utf8_prefix(v, CV_META_VALUE_CHARS, &cut);
    if (cut)
        lose(x, "metadata.value_truncated", 1);
    md[*n].k = k;
    md[(*n)++].v = v;
}

/* The distinct assistant ids of the thread's runs, steps and messages, sorted, joined by ','. */
static char *assistants(cv_thread *x)
{
    steparc_str *ids = calloc(x->nruns + x->nsteps + x->nmsgs + 1, sizeof *ids);
    size_t n = 0, len = 0;
    if (!ids)
        return NULL;
    for (size_t i = 0; i < x->nruns + x->nsteps + x->nmsgs; i++) {
        const steparc_opt_str *a = i < x->nruns ? &x->runs[i].r->assistant_id
                                   : i < x->nruns + x->nsteps ? &x->steps[i - x->nruns].s->assistant_id
                                   : &x->msgs[i - x->nruns - x->nsteps].m->assistant_id;
        if (a->state != STEPARC_SET || a->v.len == 0)
            continue;
        size_t k = 0;
        while (k < n && !same_str(ids[k], a->v))
            k++;
        if (k == n) {
            ids[n++] = a->v;
            len += a->v.len + 1;
        }
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: few ids */
        for (size_t j = i; j > 0; j--) {
            size_t m = ids[j].len < ids[j - 1].len ? ids[j].len : ids[j - 1].len;
            int c = memcmp(ids[j].ptr, ids[j - 1].ptr, m);
            if (c > 0 || (c == 0 && ids[j].len >= ids[j - 1].len))
                break;
            steparc_str t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    char *out = malloc(len + 1), *p = out;
    if (out) {
        for (size_t i = 0; i < n; i++) {
            if (i)
                *p++ = ',';
            memcpy(p, ids[i].ptr, ids[i].len);
            p += ids[i].len;
        }
        *p = 0;
    }
    free(ids);
    return out;
}

static void pack_metadata(cv_thread *x, steparc_str tid)
{
    cv_meta md[CV_META_KEYS];
    size_t n = 0;
    char span[64], *asst = assistants(x);
    if (!asst) {
        x->oom = 1;
        return;
    }
    meta_add(x, md, &n, (steparc_str){"source_thread_id", 16}, tid);
    if (asst[0])
        meta_add(x, md, &n, (steparc_str){"source_assistant_id", 19}, (steparc_str){asst, strlen(asst)});
    if (x->has_t) {
        snprintf(span, sizeof span, "%" PRId64 "/%" PRId64, x->tmin, x->tmax);
        meta_add(x, md, &n, (steparc_str){"source_time_span", 16}, (steparc_str){span, strlen(span)});
    }
    const steparc_opt_value *tm = x->thread ? &x->thread->metadata : NULL;
    if (tm && tm->state == STEPARC_SET && tm->v->type == STEPARC_V_OBJECT) {
        for (size_t i = 0; i < tm->v->v.object.count; i++) {
            const steparc_member *mb = &tm->v->v.object.items[i];
            if (mb->value.type != STEPARC_V_STRING)
                lose(x, "metadata.value_not_string", 1);
            else
                meta_add(x, md, &n, mb->key, mb->value.v.s);
        }
    } else if (tm && tm->state == STEPARC_SET)
        lose(x, "metadata.not_object", 1);
    p_map(x, n);
    for (size_t i = 0; i < n; i++) {
        p_str(x, md[i].k.ptr, md[i].k.len);
        p_str(x, md[i].v.ptr, md[i].v.len);
    }
    free(asst);
}

/* ---- one thread ---------------------------------------------------------------------- */

static void thread_clear(cv_thread *x)
{
    steparc_thread_free(x->thread);
    for (size_t i = 0; i < x->nmsgs; i++)
        steparc_message_free(x->msgs[i].m);
    for (size_t i = 0; i < x->nsteps; i++)
        steparc_step_free(x->steps[i].s);
    for (size_t i = 0; i < x->nruns; i++)
        steparc_run_free(x->runs[i].r);
    for (size_t i = 0; i < x->nloss; i++)
        free(x->loss[i].name);
    for (size_t i = 0; i < x->nfiles; i++) {
        free((void *)x->files[i].id.ptr);
        free((void *)x->files[i].name.ptr);
    }
    free(x->files);
    free(x->msgs);
    free(x->steps);
    free(x->runs);
    free(x->item_off);
    free(x->loss);
    steparc_buf_free(&x->items);
    memset(x, 0, sizeof *x);
}

/* the same id again: the later record (a later snapshot) replaces it */
#define CV_PUT(x, arr, n, cap, field, rec, freefn, ord_, tval)                                 \
    do {                                                                                       \
        size_t at_ = (x)->n;                                                                   \
        for (size_t i_ = 0; i_ < (x)->n; i_++)                                                 \
            if ((rec)->id.state == STEPARC_SET && (x)->arr[i_].field->id.state == STEPARC_SET && \
                same_str((x)->arr[i_].field->id.v, (rec)->id.v)) {                             \
                at_ = i_;                                                                      \
                break;                                                                         \
            }                                                                                  \
        if (at_ == (x)->n) {                                                                   \
            if (grow((void **)&(x)->arr, &(x)->cap, (x)->n + 1, sizeof *(x)->arr)) {           \
                freefn(rec);                                                                   \
                return STEPARC_E_NOMEM;                                                        \
            }                                                                                  \
            (x)->n++;                                                                          \
        } else {                                                                               \
            lose(x, "snapshot.superseded", 1);                                                 \
            freefn((x)->arr[at_].field);                                                       \
        }                                                                                      \
        memset(&(x)->arr[at_], 0, sizeof (x)->arr[at_]);                                       \
        (x)->arr[at_].field = (rec);                                                           \
        (x)->arr[at_].ord = (ord_);                                                            \
        tval;                                                                                  \
    } while (0)

/* One record of the thread into x; 0 or a STEPARC_E_* (of a decoder, or NOMEM). */
static int add_record(cv_thread *x, const void *mp, size_t len, uint64_t ord)
{
    int kind, rc = steparc_record_kind(&kind, mp, len);
    if (rc)
        return rc;
    if (kind == STEPARC_KIND_MESSAGE) {
        steparc_message *m;
        if ((rc = steparc_message_decode(&m, mp, len)) != 0)
            return rc;
        seen_time(x, &m->created_at);
        CV_PUT(x, msgs, nmsgs, capmsgs, m, m, steparc_message_free, ord,
               x->msgs[at_].t = opt_time(&m->created_at));
    } else if (kind == STEPARC_KIND_STEP) {
        steparc_step *s;
        if ((rc = steparc_step_decode(&s, mp, len)) != 0)
            return rc;
        seen_time(x, &s->created_at);
        CV_PUT(x, steps, nsteps, capsteps, s, s, steparc_step_free, ord,
               x->steps[at_].t = opt_time(&s->created_at));
    } else if (kind == STEPARC_KIND_RUN) {
        steparc_run *r;
        if ((rc = steparc_run_decode(&r, mp, len)) != 0)
            return rc;
        seen_time(x, &r->created_at);
        CV_PUT(x, runs, nruns, capruns, r, r, steparc_run_free, ord, (void)0);
    } else if (kind == STEPARC_KIND_THREAD) {
        steparc_thread *t;
        if ((rc = steparc_thread_decode(&t, mp, len)) != 0)
            return rc;
        seen_time(x, &t->created_at);
        if (x->thread)
            lose(x, "snapshot.superseded", 1);
        steparc_thread_free(x->thread);
        x->thread = t;
    }
    return 0;
}

static void thread_losses(cv_thread *x)
{
    if (!x->thread) {
        lose(x, "thread.missing", 1);
        return;
    }
    LOSE_FIELD(x, "thread", x->thread, created_at);
    LOSE_FIELD(x, "thread", x->thread, tool_resources);
    lose(x, "thread.unknown_keys", x->thread->extra.count);
}

typedef struct {
    FILE *out;
    steparc_buf req, js;
    msgpack_packer rpk;
    uint64_t threads, requests, items;
    cv_loss *total;
    size_t ntotal, captotal;
    steparc_buf report; /* MessagePack of the threads' reports, back to back */
    int oom;
} cv_export;

static void total_add(cv_export *e, const cv_loss *l)
{
    for (size_t i = 0; i < e->ntotal; i++)
        if (strcmp(e->total[i].name, l->name) == 0) {
            e->total[i].n += l->n;
            return;
        }
    char *d = strdup(l->name);
    if (!d || grow((void **)&e->total, &e->captotal, e->ntotal + 1, sizeof *e->total)) {
        free(d);
        e->oom = 1;
        return;
    }
    e->total[e->ntotal].name = d;
    e->total[e->ntotal++].n = l->n;
}

static int pack_losses(msgpack_packer *pk, cv_loss *l, size_t n)
{
    if (n > 1)
        qsort(l, n, sizeof *l, cmp_loss);
    int bad = msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n && !bad; i++)
        bad = cli_pack_str(pk, l[i].name, strlen(l[i].name)) || msgpack_pack_uint64(pk, l[i].n);
    return bad;
}

/* The thread's requests, written; 0 or EXIT_BAD (reported). */
static int write_requests(cv_export *e, cv_thread *x, steparc_str tid)
{
    size_t nreq = x->nitems ? (x->nitems + CV_MAX_ITEMS - 1) / CV_MAX_ITEMS : 1;
    for (size_t r = 0; r < nreq; r++) {
        size_t from = r * CV_MAX_ITEMS, to = from + CV_MAX_ITEMS;
        if (to > x->nitems)
            to = x->nitems;
        e->req.len = 0;
        cli_packer_init(&x->pk, &e->req);
        p_map(x, 4);
        p_kv(x, "thread_id", tid);
        p_kc(x, "method", "POST");
        p_kc(x, "path", r ? "/v1/conversations/{conversation_id}/items" : "/v1/conversations");
        p_cstr(x, "body");
        p_map(x, r ? 1 : 2);
        p_cstr(x, "items");
        p_array(x, to - from);
        if (to > from && cli_buf_add(&e->req, x->items.data + x->item_off[from],
                                     x->item_off[to] - x->item_off[from]))
            x->oom = 1;
        if (!r) {
            p_cstr(x, "metadata");
            pack_metadata(x, tid);
        }
        int rc = x->oom ? STEPARC_E_NOMEM : steparc_msgpack_to_json(&e->js, e->req.data, e->req.len, 0);
        if (rc == 0 && cli_buf_add(&e->js, "\n", 1))
            rc = STEPARC_E_NOMEM;
        if (rc) {
            cli_msg("export: %.*s: %s", (int)tid.len, tid.ptr, steparc_strerror(rc));
            return EXIT_BAD;
        }
        if (fwrite(e->js.data, 1, e->js.len, e->out) != e->js.len) {
            cli_msg("export: write failed: %s", strerror(errno));
            return EXIT_BAD;
        }
        e->requests++;
    }
    e->items += x->nitems;
    e->threads++;
    /* the thread's report entry */
    msgpack_packer pk;
    cli_packer_init(&pk, &e->report);
    uint64_t lost = 0;
    for (size_t i = 0; i < x->nloss; i++) {
        lost += x->loss[i].n;
        total_add(e, &x->loss[i]);
    }
    if (msgpack_pack_map(&pk, 5) || cli_pack_str(&pk, "thread_id", 9) ||
        cli_pack_str(&pk, tid.ptr, tid.len) || cli_pack_str(&pk, "requests", 8) ||
        msgpack_pack_uint64(&pk, nreq) || cli_pack_str(&pk, "items", 5) ||
        msgpack_pack_uint64(&pk, x->nitems) || cli_pack_str(&pk, "lost_total", 10) ||
        msgpack_pack_uint64(&pk, lost) || cli_pack_str(&pk, "lost", 4) ||
        pack_losses(&pk, x->loss, x->nloss))
        e->oom = 1;
    return e->oom ? (cli_msg("export: out of memory"), EXIT_BAD) : 0;
}

/* One thread: its records through the thread postings, its items, its requests. */
static int export_thread(cv_export *e, steparc_reader *r, steparc_str tid, const char *path)
{
    cv_thread x;
    memset(&x, 0, sizeof x);
    steparc_filter f = {0};
    f.thread_id = tid;
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_THREAD) | STEPARC_KIND_BIT(STEPARC_KIND_MESSAGE) |
              STEPARC_KIND_BIT(STEPARC_KIND_RUN) | STEPARC_KIND_BIT(STEPARC_KIND_STEP);
    steparc_cursor *c = NULL;
    int status = EXIT_BAD, st = steparc_cursor_open(&c, r, &f);
    if (st) {
        cli_msg("export: %s: %s", path, steparc_reader_errmsg(r));
        goto cleanup;
    }
    uint64_t ord, records = 0;
    const void *mp;
    size_t len;
    while ((st = steparc_cursor_next(&ord, &mp, &len, c)) == 0) {
        /* the thread record itself comes through its id; other records whose
         * own id equals tid do not belong here */
        if ((st = add_record(&x, mp, len, ord)) != 0) {
            cli_msg("export: record %" PRIu64 ": %s", ord, steparc_strerror(st));
            goto cleanup;
        }
        records++;
    }
    if (st != STEPARC_END) {
        cli_msg("export: %s: %s", path, steparc_cursor_errmsg(c));
        goto cleanup;
    }
    if (!records) {
        cli_msg("export: %s: no records of thread %.*s", path, (int)tid.len, tid.ptr);
        goto cleanup;
    }
    cli_packer_init(&x.pk, &x.items);
    x.r = r;
    thread_losses(&x);
    if (walk(&x) != 0) {
        cli_msg("export: out of memory");
        goto cleanup;
    }
    status = write_requests(e, &x, tid);
cleanup:
    steparc_cursor_close(c);
    thread_clear(&x);
    return status;
}

/* ---- the threads of the archive ------------------------------------------------------------ */

typedef struct {
    steparc_str *ids;
    size_t n, cap;
} cv_ids;

static int cmp_ids(const void *a, const void *b)
{
    const steparc_str *p = a, *q = b;
    size_t n = p->len < q->len ? p->len : q->len;
    int c = n ? memcmp(p->ptr, q->ptr, n) : 0;
    return c ? c : (p->len > q->len) - (p->len < q->len);
}

static void ids_free(cv_ids *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        free((void *)ids->ids[i].ptr);
    free(ids->ids);
}

/* Every thread id the archive's threads, messages, runs and steps name, sorted
 * (so the output does not depend on the record order); 0 or EXIT_BAD. */
static int all_threads(cv_ids *ids, steparc_reader *r, const char *path)
{
    steparc_filter f = {0};
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_THREAD) | STEPARC_KIND_BIT(STEPARC_KIND_MESSAGE) |
              STEPARC_KIND_BIT(STEPARC_KIND_RUN) | STEPARC_KIND_BIT(STEPARC_KIND_STEP);
    steparc_cursor *c = NULL;
    int st = steparc_cursor_open(&c, r, &f), status = EXIT_BAD;
    if (st) {
        cli_msg("export: %s: %s", path, steparc_reader_errmsg(r));
        return EXIT_BAD;
    }
    uint64_t ord;
    const void *mp;
    size_t len;
    while ((st = steparc_cursor_next(&ord, &mp, &len, c)) == 0) {
        int kind;
        steparc_message *m = NULL; /* any map decodes: its id and thread_id */
        if ((st = steparc_record_kind(&kind, mp, len)) != 0 ||
            (st = steparc_message_decode(&m, mp, len)) != 0) {
            cli_msg("export: record %" PRIu64 ": %s", ord, steparc_strerror(st));
            goto cleanup;
        }
        const steparc_opt_str *t = kind == STEPARC_KIND_THREAD ? &m->id : &m->thread_id;
        if (t->state == STEPARC_SET && t->v.len) {
            char *d = malloc(t->v.len);
            if (!d || grow((void **)&ids->ids, &ids->cap, ids->n + 1, sizeof *ids->ids)) {
                free(d);
                steparc_message_free(m);
                cli_msg("export: out of memory");
                goto cleanup;
            }
            memcpy(d, t->v.ptr, t->v.len);
            ids->ids[ids->n++] = (steparc_str){d, t->v.len};
        }
        steparc_message_free(m);
        /* dedup now and then, so that memory follows the threads, not the records */
        if (ids->n == ids->cap) {
            qsort(ids->ids, ids->n, sizeof *ids->ids, cmp_ids);
            size_t k = 0;
            for (size_t i = 0; i < ids->n; i++)
                if (k && same_str(ids->ids[k - 1], ids->ids[i]))
                    free((void *)ids->ids[i].ptr);
                else
                    ids->ids[k++] = ids->ids[i];
            ids->n = k;
        }
    }
    if (st != STEPARC_END) {
        cli_msg("export: %s: %s", path, steparc_cursor_errmsg(c));
        goto cleanup;
    }
    if (ids->n > 1)
        qsort(ids->ids, ids->n, sizeof *ids->ids, cmp_ids);
    size_t k = 0;
    for (size_t i = 0; i < ids->n; i++)
        if (k && same_str(ids->ids[k - 1], ids->ids[i]))
            free((void *)ids->ids[i].ptr);
        else
            ids->ids[k++] = ids->ids[i];
    ids->n = k;
    status = 0;
cleanup:
    steparc_cursor_close(c);
    return status;
}

/* A file written whole: a temporary beside it, renamed over it when complete. */
static FILE *tmp_open(char **tmp, const char *out)
{
    *tmp = malloc(strlen(out) + 16);
    if (!*tmp)
        return NULL;
    sprintf(*tmp, "%s.tmp.XXXXXX", out);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        cli_msg("export: cannot create %s: %s", *tmp, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return NULL;
    }
    /* mkstemp makes it 0600: give it the mode an ordinary create would */
    mode_t um = umask(0);
    umask(um);
    FILE *f = fchmod(fd, 0666 & ~um) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        cli_msg("export: cannot create %s: %s", *tmp, strerror(errno));
        close(fd);
        unlink(*tmp);
        free(*tmp);
        *tmp = NULL;
    }
    return f;
}

static int tmp_commit(FILE *f, char *tmp, const char *out, int ok)
{
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (ok && !bad && rename(tmp, out) == 0) {
        free(tmp);
        return 0;
    }
    if (ok)
        cli_msg("export: cannot write %s: %s", out, strerror(errno));
    unlink(tmp);
    free(tmp);
    return EXIT_BAD;
}

static int write_report(cv_export *e, const char *path)
{
    steparc_buf mp = {0}, js = {0};
    msgpack_packer pk;
    cli_packer_init(&pk, &mp);
    uint64_t lost = 0;
    for (size_t i = 0; i < e->ntotal; i++)
        lost += e->total[i].n;
    int bad = msgpack_pack_map(&pk, 2) || cli_pack_str(&pk, "threads", 7) ||
              msgpack_pack_array(&pk, e->threads) || cli_buf_add(&mp, e->report.data, e->report.len) ||
              cli_pack_str(&pk, "total", 5) || msgpack_pack_map(&pk, 5) ||
              cli_pack_str(&pk, "threads", 7) || msgpack_pack_uint64(&pk, e->threads) ||
              cli_pack_str(&pk, "requests", 8) || msgpack_pack_uint64(&pk, e->requests) ||
              cli_pack_str(&pk, "items", 5) || msgpack_pack_uint64(&pk, e->items) ||
              cli_pack_str(&pk, "lost_total", 10) || msgpack_pack_uint64(&pk, lost) ||
              cli_pack_str(&pk, "lost", 4) || pack_losses(&pk, e->total, e->ntotal);
    int rc = bad ? STEPARC_E_NOMEM : steparc_msgpack_to_json(&js, mp.data, mp.len, STEPARC_JSON_PRETTY);
    int status = EXIT_BAD;
    if (rc) {
        cli_msg("export: report: %s", steparc_strerror(rc));
        goto cleanup;
    }
    char *tmp;
    FILE *f = tmp_open(&tmp, path);
    if (!f)
        goto cleanup;
    int ok = fwrite(js.data, 1, js.len, f) == js.len && fputc('\n', f) != EOF;
    status = tmp_commit(f, tmp, path, ok);
cleanup:
    steparc_buf_free(&mp);
    steparc_buf_free(&js);
    return status;
}

int cli_export_conversations(const char *path, char *const *threads, size_t nthreads,
                             const char *out, const char *report)
{
    steparc_reader *r;
    if (cli_open_archive("export", path, &r))
        return EXIT_BAD;
    cv_export e;
    memset(&e, 0, sizeof e);
    cv_ids ids = {0};
    char *tmp = NULL;
    int status = EXIT_BAD;
    if (!nthreads && all_threads(&ids, r, path))
        goto cleanup;
    e.out = out ? tmp_open(&tmp, out) : stdout;
    if (!e.out)
        goto cleanup;
    size_t n = nthreads ? nthreads : ids.n;
    status = 0;
    for (size_t i = 0; i < n && !status; i++) {
        steparc_str tid = nthreads ? (steparc_str){threads[i], strlen(threads[i])} : ids.ids[i];
        status = export_thread(&e, r, tid, path);
    }
    if (out) {
        int st = tmp_commit(e.out, tmp, out, !status);
        status = status ? status : st;
    } else if (fflush(stdout) != 0) {
        cli_msg("export: write failed: %s", strerror(errno));
        status = EXIT_BAD;
    }
    if (!status && report)
        status = write_report(&e, report);
    if (!status) {
        uint64_t lost = 0;
        for (size_t i = 0; i < e.ntotal; i++)
            lost += e.total[i].n;
        fprintf(stderr, "conversations: %" PRIu64 " threads, %" PRIu64 " requests, %" PRIu64
                " items, %" PRIu64 " losses in %zu kinds%s%s", e.threads, e.requests, e.items,
                lost, e.ntotal, report ? " (report: " : " (--report FILE lists them",
                report ? report : "");
        fputs(")\n", stderr);
    }
cleanup:
    ids_free(&ids);
    for (size_t i = 0; i < e.ntotal; i++)
        free(e.total[i].name);
    free(e.total);
    steparc_buf_free(&e.req);
    steparc_buf_free(&e.js);
    steparc_buf_free(&e.report);
    steparc_reader_close(r);
    return status;
}
