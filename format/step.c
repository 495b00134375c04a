/* step.c - the typed steparc_step: the field tables of a run step and its
 * sub-objects, and the public calls over the typed-view engine (typed.c). */
#include <stddef.h>

#include "typed.h"

/* ---- field tables ------------------------------------------------------------ */

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

static const sa_fielddesc f_last_error[] = {ENUM(steparc_last_error, code, errcode_names),
                                            STR(steparc_last_error, message)};
const sa_objdesc sa_d_last_error = DESC(steparc_last_error, f_last_error);

static const sa_fielddesc f_mc[] = {STR(steparc_message_creation, message_id)};
static const sa_objdesc d_mc = DESC(steparc_message_creation, f_mc);

static const sa_fielddesc f_image[] = {STR(steparc_ci_image, file_id)};
static const sa_objdesc d_image = DESC(steparc_ci_image, f_image);

static const sa_fielddesc f_output[] = {ENUM(steparc_ci_output, type, output_names),
                                     STR(steparc_ci_output, logs),
                                     OBJ(steparc_ci_output, image, d_image)};
static const sa_objdesc d_output = DESC(steparc_ci_output, f_output);

static const sa_fielddesc f_ci[] = {STR(steparc_code_interpreter, input),
                                 ARR(steparc_code_interpreter, outputs, d_output)};
static const sa_objdesc d_ci = DESC(steparc_code_interpreter, f_ci);

static const sa_fielddesc f_ro[] = {ENUM(steparc_ranking_options, ranker, ranker_names),
                                 NUM(steparc_ranking_options, score_threshold)};
const sa_objdesc sa_d_ranking_options = DESC(steparc_ranking_options, f_ro);

static const sa_fielddesc f_content[] = {ENUM(steparc_fs_content, type, content_names),
                                      STR(steparc_fs_content, text)};
static const sa_objdesc d_content = DESC(steparc_fs_content, f_content);

static const sa_fielddesc f_result[] = {STR(steparc_fs_result, file_id),
                                     STR(steparc_fs_result, file_name),
                                     NUM(steparc_fs_result, score),
                                     ARR(steparc_fs_result, content, d_content)};
static const sa_objdesc d_result = DESC(steparc_fs_result, f_result);

static const sa_fielddesc f_fs[] = {OBJ(steparc_file_search, ranking_options, sa_d_ranking_options),
                                 ARR(steparc_file_search, results, d_result)};
static const sa_objdesc d_fs = DESC(steparc_file_search, f_fs);

static const sa_fielddesc f_fn[] = {STR(steparc_function, name), STR(steparc_function, arguments),
                                 STR(steparc_function, output)};
static const sa_objdesc d_fn = DESC(steparc_function, f_fn);

static const sa_fielddesc f_tc[] = {STR(steparc_tool_call, id),
                                 ENUM(steparc_tool_call, type, tool_names),
                                 OBJ(steparc_tool_call, code_interpreter, d_ci),
                                 OBJ(steparc_tool_call, file_search, d_fs),
                                 OBJ(steparc_tool_call, function, d_fn)};
static const sa_objdesc d_tc = DESC(steparc_tool_call, f_tc);

static const sa_fielddesc f_det[] = {ENUM(steparc_step_details, type, type_names),
                                  OBJ(steparc_step_details, message_creation, d_mc),
                                  ARR(steparc_step_details, tool_calls, d_tc)};
static const sa_objdesc d_det = DESC(steparc_step_details, f_det);

static const sa_fielddesc f_usage[] = {INT(steparc_usage, prompt_tokens),
                                    INT(steparc_usage, completion_tokens),
                                    INT(steparc_usage, total_tokens)};
static const sa_objdesc d_usage = DESC(steparc_usage, f_usage);

static const sa_fielddesc f_step[] = {
    STR(steparc_step, id),
    ENUM(steparc_step, object, object_names),
    INT(steparc_step, created_at),
    STR(steparc_step, run_id),
    STR(steparc_step, assistant_id),
    STR(steparc_step, thread_id),
    ENUM(steparc_step, type, type_names),
    ENUM(steparc_step, status, status_names),
    INT(steparc_step, cancelled_at),
    INT(steparc_step, completed_at),
    INT(steparc_step, expires_at),
    INT(steparc_step, expired_at),
    INT(steparc_step, failed_at),
    OBJ(steparc_step, last_error, sa_d_last_error),
    OBJ(steparc_step, step_details, d_det),
    OBJ(steparc_step, usage, d_usage),
    VAL(steparc_step, metadata),
};
static const sa_objdesc d_step = DESC(steparc_step, f_step);

/* ---- public calls -------------------------------------------------------------- */

int steparc_step_decode(const void *mp, size_t len, steparc_step **out)
{
    if (out == NULL)
        return STEPARC_E_ARG;
    void *p = NULL;
    int rc = sa_typed_decode(&p, &d_step, offsetof(steparc_step, internal_), mp, len);
    *out = (steparc_step *)p;
    return rc;
}

void steparc_step_free(steparc_step *step)
{
    if (step != NULL)
        sa_typed_free(step->internal_);
}

int steparc_step_encode(const steparc_step *step, steparc_buf *out)
{
    return sa_typed_encode(&d_step, step, out);
}

int steparc_step_to_json(const steparc_step *step, unsigned flags, steparc_buf *out)
{
    return sa_typed_to_json(&d_step, step, flags, out);
}
