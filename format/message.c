/* message.c - the typed steparc_message: content parts, annotations,
 * attachments; and incomplete_details, which runs share. */
#include <stddef.h>

#include "typed.h"

static const char *const object_names[] = SA_KIND_OBJECTS;
static const char *const status_names[] = {NULL, "in_progress", "incomplete", "completed"};
static const char *const role_names[] = {NULL, "user", "assistant"};
static const char *const part_names[] = {NULL, "text", "image_file", "image_url", "refusal"};
static const char *const ann_names[] = {NULL, "file_citation", "file_path"};
static const char *const detail_names[] = {NULL, "auto", "low", "high"};
static const char *const reason_names[] = {NULL, "content_filter", "max_tokens", "run_cancelled",
                                           "run_expired", "run_failed", "max_completion_tokens",
                                           "max_prompt_tokens"};
static const char *const tooldef_names[] = {NULL, "code_interpreter", "file_search", "function",
                                            "retrieval"};

static const sa_fielddesc f_inc[] = {
    [STEPARC_F_INC_REASON] = ENUM(steparc_incomplete_details, reason, reason_names),
};
const sa_objdesc sa_d_incomplete = DESC(steparc_incomplete_details, f_inc);

/* ---- content ------------------------------------------------------------------------ */

static const sa_fielddesc f_cit[] = {
    [STEPARC_F_CIT_FILE_ID] = STR(steparc_file_citation, file_id),
    [STEPARC_F_CIT_QUOTE] = STR(steparc_file_citation, quote),
};
static const sa_objdesc d_cit = DESC(steparc_file_citation, f_cit);

static const sa_fielddesc f_fpath[] = {
    [STEPARC_F_FPATH_FILE_ID] = STR(steparc_file_path, file_id),
};
static const sa_objdesc d_fpath = DESC(steparc_file_path, f_fpath);

static const sa_fielddesc f_ann[] = {
    [STEPARC_F_ANN_TYPE] = ENUM(steparc_annotation, type, ann_names),
    [STEPARC_F_ANN_TEXT] = STR(steparc_annotation, text),
    [STEPARC_F_ANN_START_INDEX] = INT(steparc_annotation, start_index),
    [STEPARC_F_ANN_END_INDEX] = INT(steparc_annotation, end_index),
    [STEPARC_F_ANN_FILE_CITATION] = OBJ(steparc_annotation, file_citation, d_cit),
    [STEPARC_F_ANN_FILE_PATH] = OBJ(steparc_annotation, file_path, d_fpath),
};
static const sa_objdesc d_ann = DESC(steparc_annotation, f_ann);

static const sa_fielddesc f_text[] = {
    [STEPARC_F_TEXT_VALUE] = STR(steparc_msg_text, value),
    [STEPARC_F_TEXT_ANNOTATIONS] = ARR(steparc_msg_text, annotations, d_ann),
};
static const sa_objdesc d_text = DESC(steparc_msg_text, f_text);

static const sa_fielddesc f_imgf[] = {
    [STEPARC_F_IMGF_FILE_ID] = STR(steparc_image_file, file_id),
    [STEPARC_F_IMGF_DETAIL] = ENUM(steparc_image_file, detail, detail_names),
};
static const sa_objdesc d_imgf = DESC(steparc_image_file, f_imgf);

static const sa_fielddesc f_imgu[] = {
    [STEPARC_F_IMGU_URL] = STR(steparc_image_url, url),
    [STEPARC_F_IMGU_DETAIL] = ENUM(steparc_image_url, detail, detail_names),
};
static const sa_objdesc d_imgu = DESC(steparc_image_url, f_imgu);

static const sa_fielddesc f_part[] = {
    [STEPARC_F_PART_TYPE] = ENUM(steparc_content_part, type, part_names),
    [STEPARC_F_PART_TEXT] = OBJ(steparc_content_part, text, d_text),
    [STEPARC_F_PART_IMAGE_FILE] = OBJ(steparc_content_part, image_file, d_imgf),
    [STEPARC_F_PART_IMAGE_URL] = OBJ(steparc_content_part, image_url, d_imgu),
    [STEPARC_F_PART_REFUSAL] = STR(steparc_content_part, refusal),
};
static const sa_objdesc d_part = DESC(steparc_content_part, f_part);

/* ---- attachments ---------------------------------------------------------------------- */

static const sa_fielddesc f_atool[] = {
    [STEPARC_F_ATOOL_TYPE] = ENUM(steparc_attachment_tool, type, tooldef_names),
};
static const sa_objdesc d_atool = DESC(steparc_attachment_tool, f_atool);

static const sa_fielddesc f_att[] = {
    [STEPARC_F_ATT_FILE_ID] = STR(steparc_attachment, file_id),
    [STEPARC_F_ATT_TOOLS] = ARR(steparc_attachment, tools, d_atool),
};
static const sa_objdesc d_att = DESC(steparc_attachment, f_att);

/* ---- message -------------------------------------------------------------------------- */

static const sa_fielddesc f_msg[] = {
    [STEPARC_F_MSG_ID] = STR(steparc_message, id),
    [STEPARC_F_MSG_OBJECT] = ENUM(steparc_message, object, object_names),
    [STEPARC_F_MSG_CREATED_AT] = INT(steparc_message, created_at),
    [STEPARC_F_MSG_THREAD_ID] = STR(steparc_message, thread_id),
    [STEPARC_F_MSG_STATUS] = ENUM(steparc_message, status, status_names),
    [STEPARC_F_MSG_INCOMPLETE_DETAILS] = OBJ(steparc_message, incomplete_details, sa_d_incomplete),
    [STEPARC_F_MSG_COMPLETED_AT] = INT(steparc_message, completed_at),
    [STEPARC_F_MSG_INCOMPLETE_AT] = INT(steparc_message, incomplete_at),
    [STEPARC_F_MSG_ROLE] = ENUM(steparc_message, role, role_names),
    [STEPARC_F_MSG_CONTENT] = ARR(steparc_message, content, d_part),
    [STEPARC_F_MSG_ASSISTANT_ID] = STR(steparc_message, assistant_id),
    [STEPARC_F_MSG_RUN_ID] = STR(steparc_message, run_id),
    [STEPARC_F_MSG_ATTACHMENTS] = ARR(steparc_message, attachments, d_att),
    [STEPARC_F_MSG_FILE_IDS] = STRS(steparc_message, file_ids),
    [STEPARC_F_MSG_METADATA] = VAL(steparc_message, metadata),
};
static const sa_objdesc d_msg = DESC(steparc_message, f_msg);

SA_TYPED_CALLS(message, steparc_message, d_msg)
