/* run.c - the typed steparc_run: required_action, usage with its details,
 * truncation_strategy; tools and tool_resources come from assistant.c,
 * last_error from step.c, incomplete_details from message.c. */
#include <stddef.h>

#include "typed.h"

static const char *const object_names[] = SA_KIND_OBJECTS;
static const char *const status_names[] = {NULL, "queued", "in_progress", "requires_action",
                                           "cancelling", "cancelled", "failed", "completed",
                                           "incomplete", "expired"};
static const char *const action_names[] = {NULL, "submit_tool_outputs"};
static const char *const tool_names[] = {NULL, "code_interpreter", "file_search", "function"};
static const char *const truncation_names[] = {NULL, "auto", "last_messages"};

/* ---- required_action ------------------------------------------------------------------- */

static const sa_fielddesc f_rfn[] = {
    [STEPARC_F_RFN_NAME] = STR(steparc_required_function, name),
    [STEPARC_F_RFN_ARGUMENTS] = STR(steparc_required_function, arguments),
};
static const sa_objdesc d_rfn = DESC(steparc_required_function, f_rfn);

static const sa_fielddesc f_rcall[] = {
    [STEPARC_F_RCALL_ID] = STR(steparc_required_call, id),
    [STEPARC_F_RCALL_TYPE] = ENUM(steparc_required_call, type, tool_names),
    [STEPARC_F_RCALL_FUNCTION] = OBJ(steparc_required_call, function, d_rfn),
};
static const sa_objdesc d_rcall = DESC(steparc_required_call, f_rcall);

static const sa_fielddesc f_sto[] = {
    [STEPARC_F_STO_TOOL_CALLS] = ARR(steparc_submit_tool_outputs, tool_calls, d_rcall),
};
static const sa_objdesc d_sto = DESC(steparc_submit_tool_outputs, f_sto);

static const sa_fielddesc f_ra[] = {
    [STEPARC_F_RA_TYPE] = ENUM(steparc_required_action, type, action_names),
    [STEPARC_F_RA_SUBMIT_TOOL_OUTPUTS] = OBJ(steparc_required_action, submit_tool_outputs, d_sto),
};
static const sa_objdesc d_ra = DESC(steparc_required_action, f_ra);

/* ---- usage, truncation_strategy ----------------------------------------------------------- */

static const sa_fielddesc f_ptd[] = {
    [STEPARC_F_PTD_CACHED_TOKENS] = INT(steparc_prompt_tokens_details, cached_tokens),
};
static const sa_objdesc d_ptd = DESC(steparc_prompt_tokens_details, f_ptd);

static const sa_fielddesc f_ctd[] = {
    [STEPARC_F_CTD_REASONING_TOKENS] = INT(steparc_completion_tokens_details, reasoning_tokens),
};
static const sa_objdesc d_ctd = DESC(steparc_completion_tokens_details, f_ctd);

static const sa_fielddesc f_usage[] = {
    [STEPARC_F_RUSE_PROMPT_TOKENS] = INT(steparc_run_usage, prompt_tokens),
    [STEPARC_F_RUSE_COMPLETION_TOKENS] = INT(steparc_run_usage, completion_tokens),
    [STEPARC_F_RUSE_TOTAL_TOKENS] = INT(steparc_run_usage, total_tokens),
    [STEPARC_F_RUSE_PROMPT_TOKENS_DETAILS] = OBJ(steparc_run_usage, prompt_tokens_details, d_ptd),
    [STEPARC_F_RUSE_COMPLETION_TOKENS_DETAILS] =
        OBJ(steparc_run_usage, completion_tokens_details, d_ctd),
};
static const sa_objdesc d_usage = DESC(steparc_run_usage, f_usage);

static const sa_fielddesc f_trunc[] = {
    [STEPARC_F_TRUNC_TYPE] = ENUM(steparc_truncation_strategy, type, truncation_names),
    [STEPARC_F_TRUNC_LAST_MESSAGES] = INT(steparc_truncation_strategy, last_messages),
};
static const sa_objdesc d_trunc = DESC(steparc_truncation_strategy, f_trunc);

/* ---- run ----------------------------------------------------------------------------------- */

static const sa_fielddesc f_run[] = {
    [STEPARC_F_RUN_ID] = STR(steparc_run, id),
    [STEPARC_F_RUN_OBJECT] = ENUM(steparc_run, object, object_names),
    [STEPARC_F_RUN_CREATED_AT] = INT(steparc_run, created_at),
    [STEPARC_F_RUN_THREAD_ID] = STR(steparc_run, thread_id),
    [STEPARC_F_RUN_ASSISTANT_ID] = STR(steparc_run, assistant_id),
    [STEPARC_F_RUN_STATUS] = ENUM(steparc_run, status, status_names),
    [STEPARC_F_RUN_REQUIRED_ACTION] = OBJ(steparc_run, required_action, d_ra),
    [STEPARC_F_RUN_LAST_ERROR] = OBJ(steparc_run, last_error, sa_d_last_error),
    [STEPARC_F_RUN_EXPIRES_AT] = INT(steparc_run, expires_at),
    [STEPARC_F_RUN_STARTED_AT] = INT(steparc_run, started_at),
    [STEPARC_F_RUN_CANCELLED_AT] = INT(steparc_run, cancelled_at),
    [STEPARC_F_RUN_FAILED_AT] = INT(steparc_run, failed_at),
    [STEPARC_F_RUN_COMPLETED_AT] = INT(steparc_run, completed_at),
    [STEPARC_F_RUN_INCOMPLETE_DETAILS] = OBJ(steparc_run, incomplete_details, sa_d_incomplete),
    [STEPARC_F_RUN_MODEL] = STR(steparc_run, model),
    [STEPARC_F_RUN_INSTRUCTIONS] = STR(steparc_run, instructions),
    [STEPARC_F_RUN_TOOLS] = ARR(steparc_run, tools, sa_d_tool_def),
    [STEPARC_F_RUN_TOOL_RESOURCES] = OBJ(steparc_run, tool_resources, sa_d_tool_resources),
    [STEPARC_F_RUN_METADATA] = VAL(steparc_run, metadata),
    [STEPARC_F_RUN_USAGE] = OBJ(steparc_run, usage, d_usage),
    [STEPARC_F_RUN_TEMPERATURE] = NUM(steparc_run, temperature),
    [STEPARC_F_RUN_TOP_P] = NUM(steparc_run, top_p),
    [STEPARC_F_RUN_MAX_PROMPT_TOKENS] = INT(steparc_run, max_prompt_tokens),
    [STEPARC_F_RUN_MAX_COMPLETION_TOKENS] = INT(steparc_run, max_completion_tokens),
    [STEPARC_F_RUN_TRUNCATION_STRATEGY] = OBJ(steparc_run, truncation_strategy, d_trunc),
    [STEPARC_F_RUN_RESPONSE_FORMAT] = VAL(steparc_run, response_format),
    [STEPARC_F_RUN_TOOL_CHOICE] = VAL(steparc_run, tool_choice),
    [STEPARC_F_RUN_PARALLEL_TOOL_CALLS] = BOOL(steparc_run, parallel_tool_calls),
    [STEPARC_F_RUN_FILE_IDS] = STRS(steparc_run, file_ids),
};
static const sa_objdesc d_run = DESC(steparc_run, f_run);

SA_TYPED_CALLS(run, steparc_run, d_run)
