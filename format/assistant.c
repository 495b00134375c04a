/* assistant.c - the typed steparc_thread and steparc_assistant, and the
 * sub-objects runs share with them: tool definitions and tool_resources. */
#include <stddef.h>

#include "typed.h"

static const char *const object_names[] = SA_KIND_OBJECTS;
static const char *const tooldef_names[] = {NULL, "code_interpreter", "file_search", "function",
                                            "retrieval"};

/* ---- tool definitions ----------------------------------------------------------- */

static const sa_fielddesc f_fndef[] = {
    [STEPARC_F_FNDEF_NAME] = STR(steparc_function_def, name),
    [STEPARC_F_FNDEF_DESCRIPTION] = STR(steparc_function_def, description),
    [STEPARC_F_FNDEF_PARAMETERS] = VAL(steparc_function_def, parameters),
    [STEPARC_F_FNDEF_STRICT] = BOOL(steparc_function_def, strict),
};
static const sa_objdesc d_fndef = DESC(steparc_function_def, f_fndef);

static const sa_fielddesc f_fsdef[] = {
    [STEPARC_F_FSDEF_MAX_NUM_RESULTS] = INT(steparc_file_search_def, max_num_results),
    [STEPARC_F_FSDEF_RANKING_OPTIONS] =
        OBJ(steparc_file_search_def, ranking_options, sa_d_ranking_options),
};
static const sa_objdesc d_fsdef = DESC(steparc_file_search_def, f_fsdef);

static const sa_fielddesc f_tool[] = {
    [STEPARC_F_TOOL_TYPE] = ENUM(steparc_tool_def, type, tooldef_names),
    [STEPARC_F_TOOL_FUNCTION] = OBJ(steparc_tool_def, function, d_fndef),
    [STEPARC_F_TOOL_FILE_SEARCH] = OBJ(steparc_tool_def, file_search, d_fsdef),
};
const sa_objdesc sa_d_tool_def = DESC(steparc_tool_def, f_tool);

/* ---- tool_resources --------------------------------------------------------------- */

static const sa_fielddesc f_cires[] = {
    [STEPARC_F_CIRES_FILE_IDS] = STRS(steparc_ci_resources, file_ids),
};
static const sa_objdesc d_cires = DESC(steparc_ci_resources, f_cires);

static const sa_fielddesc f_fsres[] = {
    [STEPARC_F_FSRES_VECTOR_STORE_IDS] = STRS(steparc_fs_resources, vector_store_ids),
};
static const sa_objdesc d_fsres = DESC(steparc_fs_resources, f_fsres);

static const sa_fielddesc f_tres[] = {
    [STEPARC_F_TRES_CODE_INTERPRETER] = OBJ(steparc_tool_resources, code_interpreter, d_cires),
    [STEPARC_F_TRES_FILE_SEARCH] = OBJ(steparc_tool_resources, file_search, d_fsres),
};
const sa_objdesc sa_d_tool_resources = DESC(steparc_tool_resources, f_tres);

/* ---- thread ------------------------------------------------------------------------ */

static const sa_fielddesc f_thread[] = {
    [STEPARC_F_THR_ID] = STR(steparc_thread, id),
    [STEPARC_F_THR_OBJECT] = ENUM(steparc_thread, object, object_names),
    [STEPARC_F_THR_CREATED_AT] = INT(steparc_thread, created_at),
    [STEPARC_F_THR_TOOL_RESOURCES] = OBJ(steparc_thread, tool_resources, sa_d_tool_resources),
    [STEPARC_F_THR_METADATA] = VAL(steparc_thread, metadata),
};
static const sa_objdesc d_thread = DESC(steparc_thread, f_thread);

SA_TYPED_CALLS(thread, steparc_thread, d_thread)

/* ---- assistant ---------------------------------------------------------------------- */

static const sa_fielddesc f_asst[] = {
    [STEPARC_F_ASST_ID] = STR(steparc_assistant, id),
    [STEPARC_F_ASST_OBJECT] = ENUM(steparc_assistant, object, object_names),
    [STEPARC_F_ASST_CREATED_AT] = INT(steparc_assistant, created_at),
    [STEPARC_F_ASST_NAME] = STR(steparc_assistant, name),
    [STEPARC_F_ASST_DESCRIPTION] = STR(steparc_assistant, description),
    [STEPARC_F_ASST_MODEL] = STR(steparc_assistant, model),
    [STEPARC_F_ASST_INSTRUCTIONS] = STR(steparc_assistant, instructions),
    [STEPARC_F_ASST_TOOLS] = ARR(steparc_assistant, tools, sa_d_tool_def),
    [STEPARC_F_ASST_TOOL_RESOURCES] = OBJ(steparc_assistant, tool_resources, sa_d_tool_resources),
    [STEPARC_F_ASST_METADATA] = VAL(steparc_assistant, metadata),
    [STEPARC_F_ASST_TEMPERATURE] = NUM(steparc_assistant, temperature),
    [STEPARC_F_ASST_TOP_P] = NUM(steparc_assistant, top_p),
    [STEPARC_F_ASST_RESPONSE_FORMAT] = VAL(steparc_assistant, response_format),
    [STEPARC_F_ASST_FILE_IDS] = STRS(steparc_assistant, file_ids),
};
static const sa_objdesc d_asst = DESC(steparc_assistant, f_asst);

SA_TYPED_CALLS(assistant, steparc_assistant, d_asst)
