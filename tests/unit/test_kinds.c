/* test_kinds.c - the typed views of messages, runs, threads and assistants,
 * and the record-kind classifier: decode -> encode is the identity on
 * hand-written records (every field present, absent, null, mistyped; unknown
 * keys at every level; unknown enum values; v1 file_ids) and on random ones;
 * fields read back typed; structs built in code; allocation failures.
 * Records are written with ' for " (q() swaps them) to stay readable. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "alloc_hook.h"
#include "harness.h"
#include "steparc.h"

static char *q(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    return d;
}

static int str_is(steparc_str s, const char *lit)
{
    return s.ptr != NULL && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* ---- one dispatcher over the kinds ------------------------------------------------ */

typedef struct {
    int kind;
    void *view;
} any_view;

static int v_decode(any_view *v, const void *mp, size_t len)
{
    switch (v->kind) {
    case STEPARC_KIND_STEP: return steparc_step_decode((steparc_step **)&v->view, mp, len);
    case STEPARC_KIND_MESSAGE: return steparc_message_decode((steparc_message **)&v->view, mp, len);
    case STEPARC_KIND_RUN: return steparc_run_decode((steparc_run **)&v->view, mp, len);
    case STEPARC_KIND_THREAD: return steparc_thread_decode((steparc_thread **)&v->view, mp, len);
    default: return steparc_assistant_decode((steparc_assistant **)&v->view, mp, len);
    }
}

static int v_encode(const any_view *v, steparc_buf *out)
{
    switch (v->kind) {
    case STEPARC_KIND_STEP: return steparc_step_encode(out, v->view);
    case STEPARC_KIND_MESSAGE: return steparc_message_encode(out, v->view);
    case STEPARC_KIND_RUN: return steparc_run_encode(out, v->view);
    case STEPARC_KIND_THREAD: return steparc_thread_encode(out, v->view);
    default: return steparc_assistant_encode(out, v->view);
    }
}

static int v_to_json(const any_view *v, unsigned flags, steparc_buf *out)
{
    switch (v->kind) {
    case STEPARC_KIND_STEP: return steparc_step_to_json(out, v->view, flags);
    case STEPARC_KIND_MESSAGE: return steparc_message_to_json(out, v->view, flags);
    case STEPARC_KIND_RUN: return steparc_run_to_json(out, v->view, flags);
    case STEPARC_KIND_THREAD: return steparc_thread_to_json(out, v->view, flags);
    default: return steparc_assistant_to_json(out, v->view, flags);
    }
}

static void v_free(any_view *v)
{
    switch (v->kind) {
    case STEPARC_KIND_STEP: steparc_step_free(v->view); break;
    case STEPARC_KIND_MESSAGE: steparc_message_free(v->view); break;
    case STEPARC_KIND_RUN: steparc_run_free(v->view); break;
    case STEPARC_KIND_THREAD: steparc_thread_free(v->view); break;
    default: steparc_assistant_free(v->view); break;
    }
    v->view = NULL;
}

static const int g_kinds[] = {STEPARC_KIND_STEP, STEPARC_KIND_MESSAGE, STEPARC_KIND_RUN,
                              STEPARC_KIND_THREAD, STEPARC_KIND_ASSISTANT};

/* MessagePack mp through the view of `kind`: encode gives the same bytes and
 * to_json the same text as the direct JSON. 0, or a status / -100 / -101. */
static int round_trip_mp(int kind, const void *mp, size_t len)
{
    any_view v = {kind, NULL};
    steparc_buf mp2 = {0}, j1 = {0}, j2 = {0};
    int rc = v_decode(&v, mp, len);
    if (rc == 0)
        rc = v_encode(&v, &mp2);
    if (rc == 0 && (mp2.len != len || memcmp(mp2.data, mp, len) != 0))
        rc = -100;
    if (rc == 0)
        rc = v_to_json(&v, 0, &j1);
    if (rc == 0)
        rc = steparc_msgpack_to_json(&j2, mp, len, 0);
    if (rc == 0 && (j1.len != j2.len || memcmp(j1.data, j2.data, j1.len) != 0))
        rc = -101;
    v_free(&v);
    steparc_buf_free(&mp2);
    steparc_buf_free(&j1);
    steparc_buf_free(&j2);
    return rc;
}

/* Decodes q(json) as `kind` into *view after checking the round trip under
 * every kind's view; the caller frees it. NULL on any failure. */
static void *decode_checked(int kind, const char *json)
{
    char *js = q(json);
    steparc_buf mp = {0};
    void *view = NULL;
    int rc = steparc_json_to_msgpack(&mp, js, strlen(js), 0, NULL);
    CHECK_EQ_INT(rc, 0);
    for (size_t k = 0; rc == 0 && k < sizeof g_kinds / sizeof g_kinds[0]; k++) {
        int r2 = round_trip_mp(g_kinds[k], mp.data, mp.len);
        if (r2 != 0)
            fprintf(stderr, "  kind %s: round trip status %d on %s\n", steparc_kind_name(g_kinds[k]),
                    r2, js);
        CHECK_EQ_INT(r2, 0);
    }
    if (rc == 0) {
        any_view v = {kind, NULL};
        CHECK_EQ_INT(v_decode(&v, mp.data, mp.len), 0);
        view = v.view;
    }
    steparc_buf_free(&mp);
    free(js);
    return view;
}

/* ---- messages --------------------------------------------------------------------- */

static const char *k_msg_full =
    "{'id':'msg_1','object':'thread.message','created_at':1711517598,'assistant_id':'asst_1',"
    "'thread_id':'thread_1','run_id':'run_1','status':'incomplete',"
    "'incomplete_details':{'reason':'max_tokens','x_inc':1},'completed_at':null,'incomplete_at':1711517600,"
    "'role':'assistant','content':["
    "{'type':'text','text':{'value':'see \\u00e9 [1]','annotations':["
    "{'type':'file_citation','text':'[1]','start_index':6,'end_index':9,"
    "'file_citation':{'file_id':'file-c','quote':'q','x_cit':[]}},"
    "{'type':'file_path','text':'sandbox:/a.csv','start_index':0,'end_index':14,'file_path':{'file_id':'file-p'}},"
    "{'type':'container_file_citation','text':'x','container_id':'c'}],'x_text':true}},"
    "{'type':'image_file','image_file':{'file_id':'file-i','detail':'high'}},"
    "{'type':'image_url','image_url':{'url':'https://x/y.png','detail':'ultra'}},"
    "{'type':'refusal','refusal':'no'},"
    "{'type':'audio','audio':{'id':'a'}}],"
    "'attachments':[{'file_id':'file-a','tools':[{'type':'code_interpreter'},{'type':'file_search'},"
    "{'type':'web','x':1}]},{'file_id':'file-b'}],"
    "'metadata':{'k':'v'},'x_top':{'n':[1,2.5,-3]}}";

static void test_message_typed(void)
{
    steparc_message *m = decode_checked(STEPARC_KIND_MESSAGE, k_msg_full);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    CHECK(str_is(m->id.v, "msg_1") && m->object.code == STEPARC_KIND_MESSAGE);
    CHECK(m->created_at.state == STEPARC_SET && m->created_at.v == 1711517598);
    CHECK(m->status.code == STEPARC_MSG_STATUS_INCOMPLETE);
    CHECK(m->incomplete_details.state == STEPARC_SET &&
          m->incomplete_details.v.reason.code == STEPARC_REASON_MAX_TOKENS &&
          m->incomplete_details.v.extra.count == 1);
    CHECK(m->completed_at.state == STEPARC_NULL && m->incomplete_at.v == 1711517600);
    CHECK(m->role.code == STEPARC_ROLE_ASSISTANT);
    CHECK(m->order.count == 15 && m->order.slots[0] == STEPARC_F_MSG_ID &&
          m->order.slots[3] == STEPARC_F_MSG_ASSISTANT_ID && m->order.slots[4] == STEPARC_F_MSG_THREAD_ID &&
          m->order.slots[14] == STEPARC_SLOT_EXTRA);
    CHECK(m->content.state == STEPARC_SET && m->content.count == 5);
    if (m->content.count == 5) {
        steparc_content_part *p = m->content.items;
        CHECK(p[0].type.code == STEPARC_PART_TEXT && p[0].text.state == STEPARC_SET);
        steparc_msg_text *t = &p[0].text.v;
        CHECK(t->value.v.len == strlen("see \xc3\xa9 [1]") && t->extra.count == 1);
        CHECK(t->annotations.count == 3);
        if (t->annotations.count == 3) {
            steparc_annotation *a = t->annotations.items;
            CHECK(a[0].type.code == STEPARC_ANN_FILE_CITATION && a[0].start_index.v == 6 &&
                  a[0].end_index.v == 9 && str_is(a[0].file_citation.v.file_id.v, "file-c") &&
                  str_is(a[0].file_citation.v.quote.v, "q") && a[0].file_citation.v.extra.count == 1);
            CHECK(a[1].type.code == STEPARC_ANN_FILE_PATH && str_is(a[1].file_path.v.file_id.v, "file-p"));
            CHECK(a[2].type.code == STEPARC_ANN_OTHER && str_is(a[2].type.v, "container_file_citation") &&
                  a[2].extra.count == 1 && str_is(a[2].extra.items[0].key, "container_id"));
        }
        CHECK(p[1].type.code == STEPARC_PART_IMAGE_FILE &&
              p[1].image_file.v.detail.code == STEPARC_DETAIL_HIGH);
        CHECK(p[2].type.code == STEPARC_PART_IMAGE_URL && str_is(p[2].image_url.v.url.v, "https://x/y.png") &&
              p[2].image_url.v.detail.code == STEPARC_DETAIL_OTHER && str_is(p[2].image_url.v.detail.v, "ultra"));
        CHECK(p[3].type.code == STEPARC_PART_REFUSAL && str_is(p[3].refusal.v, "no"));
        CHECK(p[4].type.code == STEPARC_PART_OTHER && p[4].extra.count == 1 &&
              p[4].extra.items[0].value.type == STEPARC_V_OBJECT);
    }
    CHECK(m->attachments.count == 2);
    if (m->attachments.count == 2) {
        steparc_attachment *a = m->attachments.items;
        CHECK(str_is(a[0].file_id.v, "file-a") && a[0].tools.count == 3 &&
              a[0].tools.items[0].type.code == STEPARC_TOOLDEF_CODE_INTERPRETER &&
              a[0].tools.items[1].type.code == STEPARC_TOOLDEF_FILE_SEARCH &&
              a[0].tools.items[2].type.code == STEPARC_TOOLDEF_OTHER && a[0].tools.items[2].extra.count == 1);
        CHECK(a[1].tools.state == STEPARC_ABSENT);
    }
    CHECK(m->file_ids.state == STEPARC_ABSENT);
    CHECK(m->metadata.state == STEPARC_SET && m->metadata.v->type == STEPARC_V_OBJECT);
    CHECK(m->extra.count == 1 && str_is(m->extra.items[0].key, "x_top"));
    steparc_message_free(m);
}

static void test_message_v1_and_odd(void)
{
    /* v1: file_ids, no status; content given as a string; mistyped everywhere */
    steparc_message *m = decode_checked(
        STEPARC_KIND_MESSAGE,
        "{'id':'msg_v1','object':'thread.message','created_at':'1699000000','thread_id':null,"
        "'role':'user','content':'hello','file_ids':['file-1','file-2'],'assistant_id':null,"
        "'run_id':7,'metadata':{}}");
    CHECK(m != NULL);
    if (m) {
        CHECK(m->status.state == STEPARC_ABSENT && m->created_at.state == STEPARC_OTHER &&
              m->created_at.other->type == STEPARC_V_STRING);
        CHECK(m->thread_id.state == STEPARC_NULL && m->role.code == STEPARC_ROLE_USER);
        CHECK(m->content.state == STEPARC_OTHER && m->content.other->type == STEPARC_V_STRING);
        CHECK(m->file_ids.state == STEPARC_SET && m->file_ids.count == 2 &&
              str_is(m->file_ids.items[1], "file-2"));
        CHECK(m->assistant_id.state == STEPARC_NULL && m->run_id.state == STEPARC_OTHER);
        steparc_message_free(m);
    }
    m = decode_checked(STEPARC_KIND_MESSAGE,
                       "{'file_ids':['a',1],'content':[{'type':'text','text':'flat'},3],"
                       "'attachments':[{'tools':{}},{'file_id':['x'],'tools':[1]}],'role':'system',"
                       "'status':5,'incomplete_details':'x','object':'thread.message.v9'}");
    CHECK(m != NULL);
    if (m) {
        CHECK(m->file_ids.state == STEPARC_OTHER && m->file_ids.other->type == STEPARC_V_ARRAY);
        CHECK(m->content.state == STEPARC_OTHER); /* an item that is not an object */
        CHECK(m->attachments.state == STEPARC_SET && m->attachments.items[0].tools.state == STEPARC_OTHER &&
              m->attachments.items[1].file_id.state == STEPARC_OTHER &&
              m->attachments.items[1].tools.state == STEPARC_OTHER);
        CHECK(m->role.code == STEPARC_ROLE_OTHER && str_is(m->role.v, "system"));
        CHECK(m->status.state == STEPARC_OTHER && m->incomplete_details.state == STEPARC_OTHER);
        CHECK(m->object.code == STEPARC_KIND_OTHER && str_is(m->object.v, "thread.message.v9"));
        steparc_message_free(m);
    }
    /* nulls everywhere, an empty record, empty arrays */
    m = decode_checked(STEPARC_KIND_MESSAGE,
                       "{'id':null,'content':[],'attachments':null,'file_ids':[],'incomplete_details':null,"
                       "'metadata':null}");
    CHECK(m && m->content.state == STEPARC_SET && m->content.count == 0 &&
          m->attachments.state == STEPARC_NULL && m->file_ids.state == STEPARC_SET &&
          m->file_ids.count == 0 && m->metadata.state == STEPARC_NULL && m->id.state == STEPARC_NULL);
    steparc_message_free(m);
    m = decode_checked(STEPARC_KIND_MESSAGE, "{}");
    CHECK(m && m->order.count == 0 && m->extra.count == 0);
    steparc_message_free(m);
}

/* ---- runs --------------------------------------------------------------------------- */

static const char *k_run_full =
    "{'id':'run_1','object':'thread.run','created_at':1725376700,'assistant_id':'asst_1',"
    "'thread_id':'thread_1','status':'requires_action','started_at':1725376701,'expires_at':1725377300,"
    "'cancelled_at':null,'failed_at':null,'completed_at':null,"
    "'required_action':{'type':'submit_tool_outputs','submit_tool_outputs':{'tool_calls':["
    "{'id':'call_1','type':'function','function':{'name':'get','arguments':'{\\'a\\':1}','x_fn':0}},"
    "{'id':'call_2','type':'mcp','server_label':'s'}]}},"
    "'last_error':{'code':'invalid_prompt','message':'bad'},'model':'gpt-4o','instructions':null,"
    "'tools':[{'type':'code_interpreter'},"
    "{'type':'file_search','file_search':{'max_num_results':20,'ranking_options':{'ranker':'auto','score_threshold':0.5}}},"
    "{'type':'function','function':{'name':'get','description':'d','parameters':{'type':'object','properties':{}},'strict':true}},"
    "{'type':'retrieval'},{'type':'bing_grounding','bing_grounding':{'connections':[{'id':'c'}]}}],"
    "'tool_resources':{'code_interpreter':{'file_ids':['file-1']},'file_search':{'vector_store_ids':['vs_1']}},"
    "'metadata':{},'temperature':1.0,'top_p':1,'max_completion_tokens':null,'max_prompt_tokens':1000,"
    "'truncation_strategy':{'type':'last_messages','last_messages':10},'incomplete_details':{'reason':'max_prompt_tokens'},"
    "'usage':{'completion_tokens':5,'prompt_tokens':7,'total_tokens':12,"
    "'prompt_tokens_details':{'cached_tokens':0},'completion_tokens_details':{'reasoning_tokens':3,'x_ctd':null}},"
    "'response_format':'auto','tool_choice':{'type':'function','function':{'name':'get'}},"
    "'parallel_tool_calls':true,'reasoning_effort':'low'}";

static void test_run_typed(void)
{
    steparc_run *r = decode_checked(STEPARC_KIND_RUN, k_run_full);
    CHECK(r != NULL);
    if (r == NULL)
        return;
    CHECK(r->object.code == STEPARC_KIND_RUN && r->status.code == STEPARC_RUN_STATUS_REQUIRES_ACTION);
    CHECK(r->started_at.v == 1725376701 && r->cancelled_at.state == STEPARC_NULL);
    CHECK(r->required_action.state == STEPARC_SET &&
          r->required_action.v.type.code == STEPARC_ACTION_SUBMIT_TOOL_OUTPUTS);
    steparc_submit_tool_outputs *sto = &r->required_action.v.submit_tool_outputs.v;
    CHECK(sto->tool_calls.count == 2);
    if (sto->tool_calls.count == 2) {
        steparc_required_call *c = sto->tool_calls.items;
        CHECK(str_is(c[0].id.v, "call_1") && c[0].type.code == STEPARC_TOOL_FUNCTION &&
              str_is(c[0].function.v.name.v, "get") && str_is(c[0].function.v.arguments.v, "{\"a\":1}") &&
              c[0].function.v.extra.count == 1);
        CHECK(c[1].type.code == STEPARC_TOOL_OTHER && c[1].extra.count == 1);
    }
    CHECK(r->last_error.v.code.code == STEPARC_ERRCODE_INVALID_PROMPT);
    CHECK(str_is(r->model.v, "gpt-4o") && r->instructions.state == STEPARC_NULL);
    CHECK(r->tools.count == 5);
    if (r->tools.count == 5) {
        steparc_tool_def *t = r->tools.items;
        CHECK(t[0].type.code == STEPARC_TOOLDEF_CODE_INTERPRETER);
        CHECK(t[1].type.code == STEPARC_TOOLDEF_FILE_SEARCH && t[1].file_search.v.max_num_results.v == 20 &&
              t[1].file_search.v.ranking_options.v.ranker.code == STEPARC_RANKER_AUTO &&
              !t[1].file_search.v.ranking_options.v.score_threshold.is_int &&
              t[1].file_search.v.ranking_options.v.score_threshold.f == 0.5);
        CHECK(t[2].type.code == STEPARC_TOOLDEF_FUNCTION && str_is(t[2].function.v.description.v, "d") &&
              t[2].function.v.parameters.v->type == STEPARC_V_OBJECT &&
              t[2].function.v.strict.state == STEPARC_SET && t[2].function.v.strict.v == 1);
        CHECK(t[3].type.code == STEPARC_TOOLDEF_RETRIEVAL);
        CHECK(t[4].type.code == STEPARC_TOOLDEF_OTHER && str_is(t[4].extra.items[0].key, "bing_grounding"));
    }
    CHECK(r->tool_resources.v.code_interpreter.v.file_ids.count == 1 &&
          str_is(r->tool_resources.v.file_search.v.vector_store_ids.items[0], "vs_1"));
    CHECK(!r->temperature.is_int && r->temperature.f == 1.0 && r->top_p.is_int && r->top_p.i == 1);
    CHECK(r->max_completion_tokens.state == STEPARC_NULL && r->max_prompt_tokens.v == 1000);
    CHECK(r->truncation_strategy.v.type.code == STEPARC_TRUNCATION_LAST_MESSAGES &&
          r->truncation_strategy.v.last_messages.v == 10);
    CHECK(r->incomplete_details.v.reason.code == STEPARC_REASON_MAX_PROMPT_TOKENS);
    CHECK(r->usage.v.prompt_tokens.v == 7 && r->usage.v.completion_tokens.v == 5 &&
          r->usage.v.prompt_tokens_details.v.cached_tokens.state == STEPARC_SET &&
          r->usage.v.completion_tokens_details.v.reasoning_tokens.v == 3 &&
          r->usage.v.completion_tokens_details.v.extra.count == 1);
    CHECK(r->usage.v.order.slots[0] == STEPARC_F_RUSE_COMPLETION_TOKENS);
    CHECK(r->response_format.v->type == STEPARC_V_STRING && r->tool_choice.v->type == STEPARC_V_OBJECT);
    CHECK(r->parallel_tool_calls.state == STEPARC_SET && r->parallel_tool_calls.v == 1);
    CHECK(r->file_ids.state == STEPARC_ABSENT);
    CHECK(r->extra.count == 1 && str_is(r->extra.items[0].key, "reasoning_effort"));
    steparc_run_free(r);
}

static void test_run_v1_and_odd(void)
{
    steparc_run *r = decode_checked(
        STEPARC_KIND_RUN,
        "{'id':'run_v1','object':'thread.run','created_at':1711517598169,'status':'paused',"
        "'file_ids':['file-1'],'tools':[{'type':'retrieval'}],'usage':null,'parallel_tool_calls':'yes',"
        "'required_action':null,'last_error':{'code':'boom','message':null},'temperature':'hot',"
        "'truncation_strategy':{'type':'auto','last_messages':null},'max_prompt_tokens':1.5,"
        "'tool_choice':'auto','response_format':{'type':'json_schema','json_schema':{'name':'x'}},"
        "'expires_at':18446744073709551615,'request_id':'dashscope','tool_resources':{'code_interpreter':"
        "{'file_ids':null},'file_search':{'vector_stores':[{'file_ids':['f']}]},'other':{}}}");
    CHECK(r != NULL);
    if (r) {
        CHECK(r->created_at.v == 1711517598169LL); /* milliseconds: kept as written */
        CHECK(r->status.code == STEPARC_RUN_STATUS_OTHER && str_is(r->status.v, "paused"));
        CHECK(r->file_ids.count == 1 && r->tools.items[0].type.code == STEPARC_TOOLDEF_RETRIEVAL);
        CHECK(r->usage.state == STEPARC_NULL && r->parallel_tool_calls.state == STEPARC_OTHER);
        CHECK(r->required_action.state == STEPARC_NULL && r->last_error.v.code.code == STEPARC_ERRCODE_OTHER &&
              r->last_error.v.message.state == STEPARC_NULL);
        CHECK(r->temperature.state == STEPARC_OTHER && r->max_prompt_tokens.state == STEPARC_OTHER);
        CHECK(r->truncation_strategy.v.type.code == STEPARC_TRUNCATION_AUTO &&
              r->truncation_strategy.v.last_messages.state == STEPARC_NULL);
        CHECK(r->expires_at.state == STEPARC_OTHER && r->expires_at.other->type == STEPARC_V_UINT);
        CHECK(r->tool_resources.v.code_interpreter.v.file_ids.state == STEPARC_NULL &&
              r->tool_resources.v.file_search.v.vector_store_ids.state == STEPARC_ABSENT &&
              r->tool_resources.v.file_search.v.extra.count == 1 && r->tool_resources.v.extra.count == 1);
        CHECK(r->extra.count == 1);
        steparc_run_free(r);
    }
    r = decode_checked(STEPARC_KIND_RUN,
                       "{'tools':'none','usage':[],'required_action':{'submit_tool_outputs':{'tool_calls':"
                       "[{'function':'f'}]},'type':7},'parallel_tool_calls':false,'tool_resources':[]}");
    CHECK(r && r->tools.state == STEPARC_OTHER && r->usage.state == STEPARC_OTHER &&
          r->required_action.v.type.state == STEPARC_OTHER &&
          r->required_action.v.submit_tool_outputs.v.tool_calls.items[0].function.state == STEPARC_OTHER &&
          r->parallel_tool_calls.state == STEPARC_SET && r->parallel_tool_calls.v == 0 &&
          r->tool_resources.state == STEPARC_OTHER);
    steparc_run_free(r);
}

/* ---- threads and assistants ------------------------------------------------------------ */

static void test_thread_typed(void)
{
    steparc_thread *t = decode_checked(
        STEPARC_KIND_THREAD,
        "{'id':'thread_1','object':'thread','created_at':1,'metadata':{'a':'b'},'tool_resources':"
        "{'code_interpreter':{'file_ids':[]},'file_search':{'vector_store_ids':['vs_1','vs_2'],'x':1}}}");
    CHECK(t != NULL);
    if (t) {
        CHECK(t->object.code == STEPARC_KIND_THREAD && t->created_at.v == 1);
        CHECK(t->order.slots[3] == STEPARC_F_THR_METADATA && t->order.slots[4] == STEPARC_F_THR_TOOL_RESOURCES);
        CHECK(t->tool_resources.v.code_interpreter.v.file_ids.state == STEPARC_SET &&
              t->tool_resources.v.code_interpreter.v.file_ids.count == 0 &&
              t->tool_resources.v.file_search.v.vector_store_ids.count == 2);
        steparc_thread_free(t);
    }
    /* v1: no tool_resources; null; mistyped */
    t = decode_checked(STEPARC_KIND_THREAD, "{'id':'thread_v1','object':'thread','created_at':1,'metadata':null}");
    CHECK(t && t->tool_resources.state == STEPARC_ABSENT && t->metadata.state == STEPARC_NULL);
    steparc_thread_free(t);
    t = decode_checked(STEPARC_KIND_THREAD, "{'tool_resources':{'code_interpreter':5,'file_search':null}}");
    CHECK(t && t->tool_resources.v.code_interpreter.state == STEPARC_OTHER &&
          t->tool_resources.v.file_search.state == STEPARC_NULL);
    steparc_thread_free(t);
}

static void test_assistant_typed(void)
{
    steparc_assistant *a = decode_checked(
        STEPARC_KIND_ASSISTANT,
        "{'id':'asst_1','object':'assistant','created_at':1,'name':null,'description':'d','model':'gpt-4',"
        "'instructions':'be','tools':[{'type':'function','function':{'name':'f','parameters':null,'strict':null}},"
        "{'type':'file_search','file_search':{'ranking_options':{'ranker':'default_2024_08_21','score_threshold':0}}}],"
        "'tool_resources':null,'metadata':{},'temperature':0.2,'top_p':null,"
        "'response_format':{'type':'json_object'},'file_ids':['file-1'],'x':[[]]}");
    CHECK(a != NULL);
    if (a) {
        CHECK(a->object.code == STEPARC_KIND_ASSISTANT && a->name.state == STEPARC_NULL &&
              str_is(a->model.v, "gpt-4") && str_is(a->instructions.v, "be"));
        CHECK(a->tools.count == 2 && a->tools.items[0].function.v.parameters.state == STEPARC_NULL &&
              a->tools.items[0].function.v.strict.state == STEPARC_NULL &&
              a->tools.items[1].file_search.v.ranking_options.v.ranker.code == STEPARC_RANKER_DEFAULT_2024_08_21);
        CHECK(a->tool_resources.state == STEPARC_NULL && a->temperature.f == 0.2 &&
              a->top_p.state == STEPARC_NULL && a->response_format.v->type == STEPARC_V_OBJECT);
        CHECK(a->file_ids.count == 1 && a->extra.count == 1);
        steparc_assistant_free(a);
    }
    a = decode_checked(STEPARC_KIND_ASSISTANT,
                       "{'tools':[{'type':'function','function':{'strict':'yes','name':1}},{'file_search':[]}],"
                       "'response_format':'auto','file_ids':'file-1'}");
    CHECK(a && a->tools.items[0].function.v.strict.state == STEPARC_OTHER &&
          a->tools.items[0].function.v.name.state == STEPARC_OTHER &&
          a->tools.items[1].type.state == STEPARC_ABSENT &&
          a->tools.items[1].file_search.state == STEPARC_OTHER && a->file_ids.state == STEPARC_OTHER);
    steparc_assistant_free(a);
}

/* ---- kinds -------------------------------------------------------------------------------- */

static void test_kinds(void)
{
    static const char *const objects[] = {"", "thread.run.step", "thread.message", "thread.run", "thread",
                                          "assistant", "file", "vector_store", "vector_store.file"};
    static const char *const names[] = {"other", "step", "message", "run", "thread", "assistant",
                                        "file", "vector_store", "vector_store_file"};
    for (int k = 0; k < STEPARC_KINDS; k++) {
        CHECK_STR(steparc_kind_name(k), names[k]);
        if (k > 0) {
            CHECK_EQ_INT(steparc_kind_of_object(objects[k], strlen(objects[k])), k);
            CHECK_EQ_INT(steparc_kind_of_object(names[k], strlen(names[k])), k);
        }
    }
    CHECK_STR(steparc_kind_name(-1), "other");
    CHECK_STR(steparc_kind_name(STEPARC_KINDS), "other");
    CHECK_EQ_INT(steparc_kind_of_object("assistant.run.step", 18), STEPARC_KIND_STEP);
    CHECK_EQ_INT(steparc_kind_of_object("thread.message.delta", 20), STEPARC_KIND_OTHER);
    CHECK_EQ_INT(steparc_kind_of_object("thread.", 6), STEPARC_KIND_THREAD); /* (ptr, len) */
    CHECK_EQ_INT(steparc_kind_of_object("Thread", 6), STEPARC_KIND_OTHER);
    CHECK_EQ_INT(steparc_kind_of_object("other", 5), STEPARC_KIND_OTHER);
    CHECK_EQ_INT(steparc_kind_of_object(NULL, 3), STEPARC_KIND_OTHER);

    const char *recs[] = {"{'a':[1,{'object':'thread'}],'object':'thread.run'}", "{'object':'file'}",
                          "{'object':1}", "{}",
                          ("{'id':'x','type':'t','status':'s','run_id':'r','thread_id':'t',"
                           "'created_at':1,'assistant_id':'a','zz':{},'object':'assistant'}")};
    const int want[] = {STEPARC_KIND_RUN, STEPARC_KIND_FILE, STEPARC_KIND_OTHER, STEPARC_KIND_OTHER,
                        STEPARC_KIND_ASSISTANT};
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        char *js = q(recs[i]);
        steparc_buf mp = {0};
        int kind = -1;
        CHECK_EQ_INT(steparc_json_to_msgpack(&mp, js, strlen(js), 0, NULL), 0);
        CHECK_EQ_INT(steparc_record_kind(&kind, mp.data, mp.len), 0);
        CHECK_EQ_INT(kind, want[i]);
        if (i == 0) { /* truncated before "object" */
            CHECK_EQ_INT(steparc_record_kind(&kind, mp.data, 5), STEPARC_E_INPUT);
            CHECK_EQ_INT(kind, STEPARC_KIND_OTHER);
        }
        steparc_buf_free(&mp);
        free(js);
    }
    const unsigned char arr[] = {0x91, 0x01};
    int kind;
    CHECK_EQ_INT(steparc_record_kind(&kind, arr, sizeof arr), STEPARC_E_INPUT);
    CHECK_EQ_INT(steparc_record_kind(&kind, NULL, 0), STEPARC_E_INPUT);
    CHECK_EQ_INT(steparc_record_kind(NULL, arr, sizeof arr), STEPARC_E_ARG);
    CHECK_EQ_INT(steparc_record_kind(&kind, NULL, 1), STEPARC_E_ARG);
}

/* ---- built in code, refusals ---------------------------------------------------------------- */

static int json_is_run(const steparc_run *r, const char *want_q)
{
    char *want = q(want_q);
    steparc_buf js = {0};
    int ok = steparc_run_to_json(&js, r, 0) == 0 && js.len == strlen(want) &&
             memcmp(js.data, want, js.len) == 0;
    if (!ok)
        fprintf(stderr, "  got  %.*s\n  want %s\n", (int)js.len, js.data ? js.data : "", want);
    steparc_buf_free(&js);
    free(want);
    return ok;
}

static void test_built_in_code(void)
{
    steparc_run r;
    memset(&r, 0, sizeof r);
    r.parallel_tool_calls.state = STEPARC_SET;
    r.parallel_tool_calls.v = 1;
    r.id.state = STEPARC_SET;
    r.id.v.ptr = "run_x";
    r.id.v.len = 5;
    r.object.state = STEPARC_SET;
    r.object.code = STEPARC_KIND_RUN; /* text from the code */
    r.status.state = STEPARC_SET;
    r.status.code = STEPARC_RUN_STATUS_EXPIRED;
    steparc_str ids[2] = {{"f1", 2}, {"f2", 2}};
    r.file_ids.state = STEPARC_SET;
    r.file_ids.items = ids;
    r.file_ids.count = 2;
    steparc_tool_def td;
    memset(&td, 0, sizeof td);
    td.type.state = STEPARC_SET;
    td.type.code = STEPARC_TOOLDEF_RETRIEVAL;
    r.tools.state = STEPARC_SET;
    r.tools.items = &td;
    r.tools.count = 1;
    r.usage.state = STEPARC_SET;
    r.usage.v.prompt_tokens_details.state = STEPARC_SET;
    r.usage.v.prompt_tokens_details.v.cached_tokens.state = STEPARC_SET;
    r.usage.v.prompt_tokens_details.v.cached_tokens.v = 4;
    r.metadata.state = STEPARC_NULL;
    CHECK(json_is_run(&r, "{'id':'run_x','object':'thread.run','status':'expired','tools':[{'type':'retrieval'}],"
                          "'metadata':null,'usage':{'prompt_tokens_details':{'cached_tokens':4}},"
                          "'parallel_tool_calls':true,'file_ids':['f1','f2']}"));
    steparc_buf mp = {0};
    r.file_ids.items = NULL;
    CHECK_EQ_INT(steparc_run_encode(&mp, &r), STEPARC_E_ARG);
    CHECK_EQ_INT(mp.len, 0);
    r.file_ids.items = ids;
    ids[1].ptr = "\xff";
    ids[1].len = 1;
    CHECK_EQ_INT(steparc_run_encode(&mp, &r), STEPARC_E_ARG);
    ids[1].ptr = "f2";
    r.parallel_tool_calls.state = (steparc_presence)7;
    CHECK_EQ_INT(steparc_run_encode(&mp, &r), STEPARC_E_ARG);
    r.parallel_tool_calls.state = STEPARC_ABSENT;
    td.type.code = 99; /* no text and no such code */
    CHECK_EQ_INT(steparc_run_encode(&mp, &r), STEPARC_E_ARG);
    td.type.code = STEPARC_TOOLDEF_RETRIEVAL;
    steparc_member dup = {{"status", 6}, {STEPARC_V_NULL, {0}}};
    r.extra.items = &dup;
    r.extra.count = 1;
    CHECK_EQ_INT(steparc_run_encode(&mp, &r), STEPARC_E_ARG); /* duplicate key */
    r.extra.count = 0;
    CHECK_EQ_INT(steparc_run_encode(&mp, &r), 0);
    /* a slot naming a field beyond the table */
    uint16_t slots[1] = {STEPARC_F_RUN_FILE_IDS + 1};
    r.order.slots = slots;
    r.order.count = 1;
    CHECK_EQ_INT(steparc_run_encode(&mp, &r), STEPARC_E_ARG);
    steparc_buf_free(&mp);

    steparc_thread t;
    memset(&t, 0, sizeof t);
    t.tool_resources.state = STEPARC_SET;
    t.tool_resources.v.file_search.state = STEPARC_SET;
    t.tool_resources.v.file_search.v.vector_store_ids.state = STEPARC_SET;
    steparc_buf js = {0};
    CHECK_EQ_INT(steparc_thread_to_json(&js, &t, 0), 0);
    CHECK(js.len == strlen("{\"tool_resources\":{\"file_search\":{\"vector_store_ids\":[]}}}"));
    /* APPEND keeps what is there */
    CHECK_EQ_INT(steparc_thread_to_json(&js, &t, STEPARC_JSON_APPEND), 0);
    CHECK(js.len == 2 * strlen("{\"tool_resources\":{\"file_search\":{\"vector_store_ids\":[]}}}"));
    steparc_buf_free(&js);
}

static void test_decode_rejects(void)
{
    const unsigned char arr[] = {0x90};
    const unsigned char trunc[] = {0x81, 0xa1};
    steparc_message *m = (steparc_message *)1;
    steparc_run *r = (steparc_run *)1;
    steparc_thread *t = (steparc_thread *)1;
    steparc_assistant *a = (steparc_assistant *)1;
    CHECK_EQ_INT(steparc_message_decode(&m, arr, sizeof arr), STEPARC_E_INPUT);
    CHECK(m == NULL);
    CHECK_EQ_INT(steparc_run_decode(&r, trunc, sizeof trunc), STEPARC_E_INPUT);
    CHECK(r == NULL);
    CHECK_EQ_INT(steparc_thread_decode(&t, NULL, 0), STEPARC_E_INPUT);
    CHECK(t == NULL);
    CHECK_EQ_INT(steparc_assistant_decode(&a, NULL, 4), STEPARC_E_ARG);
    CHECK(a == NULL);
    CHECK_EQ_INT(steparc_message_decode(NULL, arr, sizeof arr), STEPARC_E_ARG);
    steparc_buf b = {0};
    CHECK_EQ_INT(steparc_message_encode(&b, NULL), STEPARC_E_ARG);
    CHECK_EQ_INT(steparc_assistant_to_json(&b, NULL, 0), STEPARC_E_ARG);
    steparc_message_free(NULL);
    steparc_run_free(NULL);
    steparc_thread_free(NULL);
    steparc_assistant_free(NULL);
}

/* ---- random records ------------------------------------------------------------------------- */

/* Key pool: every known field name of every view (so random values reach
 * the typed paths at every depth), and unknown ones. */
static const char *const k_keys[] = {
    "id", "object", "created_at", "thread_id", "status", "incomplete_details", "completed_at",
    "incomplete_at", "role", "content", "assistant_id", "run_id", "attachments", "file_ids",
    "metadata", "reason", "type", "text", "image_file", "image_url", "refusal", "value",
    "annotations", "start_index", "end_index", "file_citation", "file_path", "file_id", "quote",
    "detail", "url", "tools", "required_action", "last_error", "expires_at", "started_at",
    "cancelled_at", "failed_at", "model", "instructions", "tool_resources", "usage", "temperature",
    "top_p", "max_prompt_tokens", "max_completion_tokens", "truncation_strategy", "response_format",
    "tool_choice", "parallel_tool_calls", "submit_tool_outputs", "tool_calls", "function", "name",
    "arguments", "code", "message", "prompt_tokens", "completion_tokens", "total_tokens",
    "prompt_tokens_details", "cached_tokens", "completion_tokens_details", "reasoning_tokens",
    "last_messages", "description", "parameters", "strict", "file_search", "max_num_results",
    "ranking_options", "ranker", "score_threshold", "code_interpreter", "vector_store_ids",
    "step_details", "message_creation", "message_id", "input", "outputs", "logs", "image",
    "results", "file_name", "score", "output", "expired_at", "run.x", "", "x\\u0000y", "\\u00e9t\\u00e9",
    "zz", "retrieval"};
static const char *const k_strs[] = {
    "thread.message", "thread.run", "thread", "assistant", "thread.run.step", "text", "image_file",
    "image_url", "refusal", "file_citation", "file_path", "user", "assistant", "completed",
    "in_progress", "requires_action", "function", "code_interpreter", "file_search", "retrieval",
    "auto", "low", "high", "last_messages", "submit_tool_outputs", "max_tokens", "server_error",
    "", "a\\\"b\\\\c\\n\\u0001", "\\ud83d\\ude00 emoji", "caf\\u00e9", "\\u0000"};

typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static void gen_value(sbuf *b, int depth);

static void gen_object(sbuf *b, int depth)
{
    size_t nk = sizeof k_keys / sizeof k_keys[0];
    int n = (int)(h_rand() % (depth == 0 ? 12 : 6));
    unsigned char used[sizeof k_keys / sizeof k_keys[0]] = {0};
    sb_put(b, "{");
    for (int i = 0, first = 1; i < n; i++) {
        size_t k = (size_t)(h_rand() % nk);
        if (used[k])
            continue;
        used[k] = 1;
        if (!first)
            sb_put(b, ",");
        first = 0;
        sb_put(b, "\"");
        sb_put(b, k_keys[k]);
        sb_put(b, "\":");
        gen_value(b, depth + 1);
    }
    sb_put(b, "}");
}

static void gen_value(sbuf *b, int depth)
{
    char num[64];
    unsigned pick = (unsigned)(h_rand() % (depth > 5 ? 8 : 14));
    switch (pick) {
    case 0: sb_put(b, "null"); break;
    case 1: sb_put(b, h_rand() % 2 ? "true" : "false"); break;
    case 2:
        snprintf(num, sizeof num, "%lld", (long long)(h_rand() % 3 ? (int64_t)(h_rand() % 2000000000)
                                                                   : (int64_t)h_rand()));
        sb_put(b, num);
        break;
    case 3: snprintf(num, sizeof num, "%llu", (unsigned long long)(h_rand() | (1ULL << 63))); sb_put(b, num); break;
    case 4: {
        double d = (double)(int64_t)h_rand() / (double)(1 + h_rand() % 100000);
        snprintf(num, sizeof num, h_rand() % 4 ? "%.17g" : "%.3e", d);
        if (!strpbrk(num, ".eEn"))
            strcat(num, ".0");
        sb_put(b, strpbrk(num, "n") ? "-0.0" : num); /* no NaN/inf in JSON */
        break;
    }
    case 5: case 6: case 7:
        sb_put(b, "\"");
        sb_put(b, k_strs[h_rand() % (sizeof k_strs / sizeof k_strs[0])]);
        sb_put(b, "\"");
        break;
    case 8: case 9: case 10: gen_object(b, depth); break;
    default: { /* arrays: mostly of objects, or of strings */
        int n = (int)(h_rand() % 4), strs = h_rand() % 3 == 0;
        sb_put(b, "[");
        for (int i = 0; i < n; i++) {
            if (i)
                sb_put(b, ",");
            if (strs) {
                sb_put(b, "\"");
                sb_put(b, k_strs[h_rand() % (sizeof k_strs / sizeof k_strs[0])]);
                sb_put(b, "\"");
            } else if (h_rand() % 8) {
                gen_object(b, depth + 1);
            } else {
                gen_value(b, depth + 1);
            }
        }
        sb_put(b, "]");
    }
    }
}

static void test_random_round_trip(void)
{
    uint64_t seed = h_seed();
    printf("# test_random_round_trip: seed %" PRIu64 " (set STEPARC_SEED to replay)\n", seed);
    h_rng_state = seed;
    sbuf b = {0};
    steparc_buf mp = {0};
    int bad = 0, n = 0;
    for (int i = 0; i < 3000; i++) {
        b.len = 0;
        gen_object(&b, 0);
        steparc_json_error e;
        int rc = steparc_json_to_msgpack(&mp, b.p, b.len, 0, &e);
        if (rc != 0) {
            if (bad++ < 3)
                fprintf(stderr, "  generator wrote invalid JSON (%s): %s\n", e.reason, b.p);
            continue;
        }
        for (size_t k = 0; k < sizeof g_kinds / sizeof g_kinds[0]; k++) {
            rc = round_trip_mp(g_kinds[k], mp.data, mp.len);
            if (rc != 0 && bad++ < 3)
                fprintf(stderr, "  record %d, view %s: status %d: %s\n", i, steparc_kind_name(g_kinds[k]),
                        rc, b.p);
        }
        n++;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(n == 3000);
    free(b.p);
    steparc_buf_free(&mp);
}

/* The generated steps (tests/gen_steps.py, STEPARC_GEN) through every view. */
static void test_generated_steps(void)
{
    const char *path = getenv("STEPARC_GEN");
    if (path == NULL) {
        printf("SKIP test_generated_steps (STEPARC_GEN not set: python3 missing?)\n");
        return;
    }
    size_t len;
    char *text = h_read_file(path, &len);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    steparc_buf mp = {0};
    size_t n = 0, bad = 0;
    for (char *line = text; line < text + len;) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (ll && steparc_json_to_msgpack(&mp, line, ll, 0, NULL) == 0) {
            for (size_t k = 0; k < sizeof g_kinds / sizeof g_kinds[0]; k++) {
                int rc = round_trip_mp(g_kinds[k], mp.data, mp.len);
                if (rc != 0 && bad++ < 3)
                    fprintf(stderr, "  record %zu, view %s: status %d\n", n, steparc_kind_name(g_kinds[k]), rc);
            }
            n++;
        }
        line += ll + 1;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(n > 1000);
    free(text);
    steparc_buf_free(&mp);
}

/* ---- through an archive ---------------------------------------------------------------------- */

static void test_reader_views(void)
{
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s/kinds.XXXXXX", getenv("STEPARC_TMP") ? getenv("STEPARC_TMP") : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/k.steparc", dir);
    const char *recs[] = {k_msg_full, k_run_full, "{'id':'thread_1','object':'thread','created_at':1}",
                          "{'id':'asst_1','object':'assistant','tools':[]}"};
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.no_fsync = 1;
    steparc_writer *w = NULL;
    int rc = steparc_writer_open(&w, path, &o, NULL, 0);
    CHECK_EQ_INT(rc, 0);
    for (size_t i = 0; rc == 0 && i < 4; i++) {
        char *js = q(recs[i]);
        rc = steparc_writer_add_json(w, js, strlen(js), NULL);
        free(js);
    }
    if (rc == 0)
        rc = steparc_writer_finish(w);
    steparc_writer_close(w);
    CHECK_EQ_INT(rc, 0);
    steparc_reader *r = NULL;
    CHECK_EQ_INT(steparc_reader_open(&r, path, NULL, NULL, 0), 0);
    if (r) {
        steparc_buf raw = {0}, mp = {0};
        steparc_message *m;
        steparc_run *run;
        steparc_thread *t;
        steparc_assistant *a;
        CHECK_EQ_INT(steparc_reader_get_message(&m, r, 0), 0);
        CHECK(m && m->content.count == 5);
        CHECK_EQ_INT(steparc_reader_get_msgpack(&raw, r, 0), 0);
        CHECK(m && steparc_message_encode(&mp, m) == 0 && mp.len == raw.len &&
              memcmp(mp.data, raw.data, mp.len) == 0);
        steparc_message_free(m);
        CHECK_EQ_INT(steparc_reader_get_run(&run, r, 1), 0);
        CHECK(run && run->status.code == STEPARC_RUN_STATUS_REQUIRES_ACTION);
        steparc_run_free(run);
        CHECK_EQ_INT(steparc_reader_get_thread(&t, r, 2), 0);
        CHECK(t && t->object.code == STEPARC_KIND_THREAD);
        steparc_thread_free(t);
        CHECK_EQ_INT(steparc_reader_get_assistant(&a, r, 3), 0);
        CHECK(a && a->tools.state == STEPARC_SET && a->tools.count == 0);
        steparc_assistant_free(a);
        /* another kind decodes too (as get_step does); the kind says what it is */
        CHECK_EQ_INT(steparc_reader_get_thread(&t, r, 0), 0);
        CHECK(t && t->object.code == STEPARC_KIND_MESSAGE && t->extra.count > 0);
        steparc_thread_free(t);
        CHECK_EQ_INT(steparc_reader_get_run(&run, r, 4), STEPARC_E_NOTFOUND);
        CHECK(run == NULL);
        CHECK_EQ_INT(steparc_reader_get_message(NULL, r, 0), STEPARC_E_ARG);
        CHECK_EQ_INT(steparc_reader_get_assistant(&a, NULL, 0), STEPARC_E_ARG);
        steparc_buf_free(&raw);
        steparc_buf_free(&mp);
        steparc_reader_close(r);
    }
    unlink(path);
    rmdir(dir);
}

/* ---- allocation failures ----------------------------------------------------------------------- */

/* Decode, encode and to_json of each kind with allocation N failing, N = 1,
 * 2, ... until a run needs no failure: every failure is STEPARC_E_NOMEM and
 * leaves nothing allocated. */
static void test_oom(void)
{
    const char *recs[] = {k_msg_full, k_run_full, k_run_full, k_msg_full, k_run_full};
    for (size_t k = 0; k < sizeof g_kinds / sizeof g_kinds[0]; k++) {
        char *js = q(recs[k]);
        steparc_buf mp = {0};
        CHECK_EQ_INT(steparc_json_to_msgpack(&mp, js, strlen(js), 0, NULL), 0);
        free(js);
        long live0 = atomic_load(&g_live), n;
        for (n = 1; n < 10000; n++) {
            any_view v = {g_kinds[k], NULL};
            steparc_buf out = {0}, jo = {0};
            arm_at(n);
            int rc = v_decode(&v, mp.data, mp.len);
            if (rc == 0)
                rc = v_encode(&v, &out);
            if (rc == 0)
                rc = v_to_json(&v, STEPARC_JSON_PRETTY, &jo);
            disarm();
            int injected = atomic_load(&g_injected);
            if (rc == 0)
                CHECK(out.len == mp.len && memcmp(out.data, mp.data, mp.len) == 0);
            if (v.view)
                v_free(&v);
            steparc_buf_free(&out);
            steparc_buf_free(&jo);
            CHECK_EQ_INT(atomic_load(&g_live), live0);
            if (!injected) {
                CHECK_EQ_INT(rc, 0);
                break;
            }
            if (rc != 0 && rc != STEPARC_E_NOMEM)
                fprintf(stderr, "  %s: allocation %ld failing: status %d\n", steparc_kind_name(g_kinds[k]),
                        n, rc);
            CHECK(rc == 0 || rc == STEPARC_E_NOMEM);
        }
        printf("# test_oom %s: %ld allocation point(s)\n", steparc_kind_name(g_kinds[k]), n - 1);
        CHECK(n > 3);
        steparc_buf_free(&mp);
    }
}

int main(void)
{
    hook_install();
    RUN(test_message_typed);
    RUN(test_message_v1_and_odd);
    RUN(test_run_typed);
    RUN(test_run_v1_and_odd);
    RUN(test_thread_typed);
    RUN(test_assistant_typed);
    RUN(test_kinds);
    RUN(test_built_in_code);
    RUN(test_decode_rejects);
    RUN(test_random_round_trip);
    RUN(test_generated_steps);
    RUN(test_reader_views);
    RUN(test_oom);
    return h_done();
}
