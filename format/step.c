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

/* The tables are indexed by the public field numbers (STEPARC_F_*, which
 * keyorder slots hold): each entry names its number, and FIELDS_END pins the
 * table's length to the last number of its object, so a number added to the
 * header without its entry (or the reverse) does not compile. */
#define FIELDS_END(tbl, last) \
    _Static_assert(sizeof(tbl) / sizeof(tbl[0]) == (size_t)(last) + 1, #tbl " != STEPARC_F_*")

static const sa_fielddesc f_last_error[] = {
    [STEPARC_F_ERR_CODE] = ENUM(steparc_last_error, code, errcode_names),
    [STEPARC_F_ERR_MESSAGE] = STR(steparc_last_error, message),
};
FIELDS_END(f_last_error, STEPARC_F_ERR_MESSAGE);
const sa_objdesc sa_d_last_error = DESC(steparc_last_error, f_last_error);

static const sa_fielddesc f_mc[] = {
    [STEPARC_F_MC_MESSAGE_ID] = STR(steparc_message_creation, message_id),
};
FIELDS_END(f_mc, STEPARC_F_MC_MESSAGE_ID);
static const sa_objdesc d_mc = DESC(steparc_message_creation, f_mc);

static const sa_fielddesc f_image[] = {
    [STEPARC_F_IMG_FILE_ID] = STR(steparc_ci_image, file_id),
};
FIELDS_END(f_image, STEPARC_F_IMG_FILE_ID);
static const sa_objdesc d_image = DESC(steparc_ci_image, f_image);

static const sa_fielddesc f_output[] = {
    [STEPARC_F_OUT_TYPE] = ENUM(steparc_ci_output, type, output_names),
    [STEPARC_F_OUT_LOGS] = STR(steparc_ci_output, logs),
    [STEPARC_F_OUT_IMAGE] = OBJ(steparc_ci_output, image, d_image),
};
FIELDS_END(f_output, STEPARC_F_OUT_IMAGE);
static const sa_objdesc d_output = DESC(steparc_ci_output, f_output);

static const sa_fielddesc f_ci[] = {
    [STEPARC_F_CI_INPUT] = STR(steparc_code_interpreter, input),
    [STEPARC_F_CI_OUTPUTS] = ARR(steparc_code_interpreter, outputs, d_output),
};
FIELDS_END(f_ci, STEPARC_F_CI_OUTPUTS);
static const sa_objdesc d_ci = DESC(steparc_code_interpreter, f_ci);

static const sa_fielddesc f_ro[] = {
    [STEPARC_F_RO_RANKER] = ENUM(steparc_ranking_options, ranker, ranker_names),
    [STEPARC_F_RO_SCORE_THRESHOLD] = NUM(steparc_ranking_options, score_threshold),
};
FIELDS_END(f_ro, STEPARC_F_RO_SCORE_THRESHOLD);
const sa_objdesc sa_d_ranking_options = DESC(steparc_ranking_options, f_ro);

static const sa_fielddesc f_content[] = {
    [STEPARC_F_CNT_TYPE] = ENUM(steparc_fs_content, type, content_names),
    [STEPARC_F_CNT_TEXT] = STR(steparc_fs_content, text),
};
FIELDS_END(f_content, STEPARC_F_CNT_TEXT);
static const sa_objdesc d_content = DESC(steparc_fs_content, f_content);

static const sa_fielddesc f_result[] = {
    [STEPARC_F_RES_FILE_ID] = STR(steparc_fs_result, file_id),
    [STEPARC_F_RES_FILE_NAME] = STR(steparc_fs_result, file_name),
    [STEPARC_F_RES_SCORE] = NUM(steparc_fs_result, score),
    [STEPARC_F_RES_CONTENT] = ARR(steparc_fs_result, content, d_content),
};
FIELDS_END(f_result, STEPARC_F_RES_CONTENT);
static const sa_objdesc d_result = DESC(steparc_fs_result, f_result);

static const sa_fielddesc f_fs[] = {
    [STEPARC_F_FS_RANKING_OPTIONS] = OBJ(steparc_file_search, ranking_options, sa_d_ranking_options),
    [STEPARC_F_FS_RESULTS] = ARR(steparc_file_search, results, d_result),
};
FIELDS_END(f_fs, STEPARC_F_FS_RESULTS);
static const sa_objdesc d_fs = DESC(steparc_file_search, f_fs);

static const sa_fielddesc f_fn[] = {
    [STEPARC_F_FN_NAME] = STR(steparc_function, name),
    [STEPARC_F_FN_ARGUMENTS] = STR(steparc_function, arguments),
    [STEPARC_F_FN_OUTPUT] = STR(steparc_function, output),
};
FIELDS_END(f_fn, STEPARC_F_FN_OUTPUT);
static const sa_objdesc d_fn = DESC(steparc_function, f_fn);

static const sa_fielddesc f_tc[] = {
    [STEPARC_F_TC_ID] = STR(steparc_tool_call, id),
    [STEPARC_F_TC_TYPE] = ENUM(steparc_tool_call, type, tool_names),
    [STEPARC_F_TC_CODE_INTERPRETER] = OBJ(steparc_tool_call, code_interpreter, d_ci),
    [STEPARC_F_TC_FILE_SEARCH] = OBJ(steparc_tool_call, file_search, d_fs),
    [STEPARC_F_TC_FUNCTION] = OBJ(steparc_tool_call, function, d_fn),
};
FIELDS_END(f_tc, STEPARC_F_TC_FUNCTION);
static const sa_objdesc d_tc = DESC(steparc_tool_call, f_tc);

static const sa_fielddesc f_det[] = {
    [STEPARC_F_DET_TYPE] = ENUM(steparc_step_details, type, type_names),
    [STEPARC_F_DET_MESSAGE_CREATION] = OBJ(steparc_step_details, message_creation, d_mc),
    [STEPARC_F_DET_TOOL_CALLS] = ARR(steparc_step_details, tool_calls, d_tc),
};
FIELDS_END(f_det, STEPARC_F_DET_TOOL_CALLS);
static const sa_objdesc d_det = DESC(steparc_step_details, f_det);

static const sa_fielddesc f_usage[] = {
    [STEPARC_F_USE_PROMPT_TOKENS] = INT(steparc_usage, prompt_tokens),
    [STEPARC_F_USE_COMPLETION_TOKENS] = INT(steparc_usage, completion_tokens),
    [STEPARC_F_USE_TOTAL_TOKENS] = INT(steparc_usage, total_tokens),
};
FIELDS_END(f_usage, STEPARC_F_USE_TOTAL_TOKENS);
static const sa_objdesc d_usage = DESC(steparc_usage, f_usage);

static const sa_fielddesc f_step[] = {
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
    [STEPARC_F_STEP_LAST_ERROR] = OBJ(steparc_step, last_error, sa_d_last_error),
    [STEPARC_F_STEP_STEP_DETAILS] = OBJ(steparc_step, step_details, d_det),
    [STEPARC_F_STEP_USAGE] = OBJ(steparc_step, usage, d_usage),
    [STEPARC_F_STEP_METADATA] = VAL(steparc_step, metadata),
};
FIELDS_END(f_step, STEPARC_F_STEP_METADATA);
static const sa_objdesc d_step = DESC(steparc_step, f_step);

/* ---- public calls -------------------------------------------------------------- */

SA_TYPED_CALLS(step, steparc_step, d_step)
