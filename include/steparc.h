/*
 * steparc.h - archive OpenAI Assistants run steps ("thread.run.step") compactly,
 * read them back fast, losslessly.
 *
 * This is the only public header of libsteparc. It is the API reference: every
 * declaration says what it returns, who owns what and for how long.
 *
 * Model
 *   An archive (.steparc, see docs/FORMAT.md) is a sequence of records, each one
 *   run step stored as MessagePack, grouped into zstd-compressed blocks, with a
 *   footer index. Records are numbered 0..count-1 ("ordinals") in write order.
 *
 * Status codes
 *   Every fallible call returns int: 0 (STEPARC_OK) on success, STEPARC_END
 *   (positive) when an iteration is exhausted, a negative STEPARC_E_* on error.
 *   steparc_strerror() names a code; *_errmsg() gives the detail of the last
 *   failure on a handle.
 *
 * Strings
 *   Strings are (ptr, len) pairs and may contain NUL bytes. They are valid UTF-8
 *   whenever they come from an archive or from the JSON parser.
 *
 * Threads
 *   The library has no mutable global state (except the optional allocation
 *   hook, which must be set before any other call). A steparc_reader may be
 *   shared by any number of threads for every steparc_reader_* lookup
 *   (get, find, count, info); its block cache is internally locked. A
 *   steparc_cursor, a steparc_writer and a steparc_step (or another typed
 *   view: message, run, thread, assistant) belong to one thread at a time. steparc_reader_errmsg() reports the last failure of the calling
 *   thread on that reader.
 *
 * Memory
 *   Output buffers are steparc_buf: zero-initialise one, pass it to as many
 *   calls as you like (each call overwrites its contents and grows it as
 *   needed), release it with steparc_buf_free().
 *
 * Parameters
 *   A call that gives back a result through a pointer takes that pointer
 *   first (several: all first, in the order they are listed), then the handle
 *   it works on, then its inputs; a detail-of-failure out-parameter (errbuf,
 *   steparc_json_error *err) comes last.
 *
 * Structs
 *   The structs a caller allocates for options, filters, reports and error
 *   details (steparc_allocator, steparc_json_error, steparc_writer_options,
 *   steparc_convert_options, steparc_reader_options, steparc_info,
 *   steparc_filter, steparc_recover_report) end in `uint64_t reserved_[N]`:
 *   zero it (the *_options_init calls do; so does `= {0}`). The library
 *   never reads it and writes nothing but zeroes there; a later minor may
 *   give part of it a meaning, with 0 meaning what the library does today, so
 *   code compiled against this header keeps working. The record model
 *   (steparc_str, steparc_value, steparc_step and the objects it embeds),
 *   steparc_buf, steparc_convert_stats and steparc_problem have no reserved
 *   tail: they are embedded by value or live in arrays, so their layout is
 *   fixed for an ABI version (soname) and changes only with a new one.
 *   format/base.c pins every public struct's size on LP64 with _Static_assert.
 */
#ifndef STEPARC_H
#define STEPARC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(STEPARC_STATIC_BUILD)
#define STEPARC_API __attribute__((visibility("default")))
#else
#define STEPARC_API
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

/* Library version; the Makefile reads these three lines for the soname.
 * While the major is 0, every minor may break the ABI and the soname is
 * libsteparc.so.0.MINOR; from 1.0 on it is libsteparc.so.MAJOR. 0.2 broke
 * the ABI of 0.1 (out-parameters first, options structs sized for growth). */
#define STEPARC_VERSION_MAJOR 0
#define STEPARC_VERSION_MINOR 2
#define STEPARC_VERSION_PATCH 0
#define STEPARC_VERSION_NUMBER \
    (STEPARC_VERSION_MAJOR * 10000 + STEPARC_VERSION_MINOR * 100 + STEPARC_VERSION_PATCH)
#define STEPARC_VERSION_STRING "0.2.0"

/* On-disk format version written by this library (docs/FORMAT.md). Separate
 * from the library version: a library reads every format with the same major. */
#define STEPARC_FORMAT_MAJOR 1
#define STEPARC_FORMAT_MINOR 3

/* Run-time library version, as STEPARC_VERSION_NUMBER and as "0.2.0". */
STEPARC_API unsigned steparc_version_number(void);
STEPARC_API const char *steparc_version_string(void);

/* ------------------------------------------------------------------------ */
/* Status codes (values are pinned forever)                                 */
/* ------------------------------------------------------------------------ */

#define STEPARC_OK 0
#define STEPARC_END 1            /* iteration exhausted; not an error */
#define STEPARC_E_IO (-1)        /* open/read/write/fsync/rename failed (errno in the message) */
#define STEPARC_E_NOMEM (-2)     /* allocation failed */
#define STEPARC_E_CORRUPT (-3)   /* archive bytes fail a check (checksum, bound, structure) */
#define STEPARC_E_VERSION (-4)   /* archive needs a newer format major version */
#define STEPARC_E_ARG (-5)       /* invalid argument (NULL handle, bad option, bad struct) */
#define STEPARC_E_NOTFOUND (-6)  /* no such record / id */
#define STEPARC_E_LIMIT (-7)     /* a documented limit was exceeded (record size, depth, ...) */
#define STEPARC_E_INPUT (-8)     /* input JSON / MessagePack is invalid or cannot be kept exactly */
#define STEPARC_E_MISUSE (-9)    /* call out of sequence (e.g. add after finish) */

/* A static string naming the code; never NULL ("unknown status" for others). */
STEPARC_API const char *steparc_strerror(int status);

/* ------------------------------------------------------------------------ */
/* Limits (docs/FORMAT.md, "Limits")                                         */
/* ------------------------------------------------------------------------ */

#define STEPARC_MAX_RECORD_SIZE (64u * 1024 * 1024)   /* MessagePack bytes of one record */
#define STEPARC_MAX_BLOCK_RAW (80u * 1024 * 1024)     /* decompressed block payload */
#define STEPARC_MAX_DEPTH 64                          /* nesting of arrays/objects in a record */
#define STEPARC_MAX_KEYS 65535                        /* keys in one object, items in one array */
#define STEPARC_MAX_BLOCK_RECORDS 1048576u            /* records in one block */

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

/* A growable output buffer. Zero-initialise; the library reallocates data as
 * needed and sets len; the caller owns it and frees it with steparc_buf_free. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} steparc_buf;

/* Frees b->data and zeroes *b. NULL is a no-op. */
STEPARC_API void steparc_buf_free(steparc_buf *b);

/* Allocation hook, for embedding and for failure-injection tests. Set it once,
 * before any other call, or never; NULL functions restore malloc/realloc/free.
 * The library's own allocations (not zstd's internal ones) go through it. */
typedef struct {
    void *(*malloc_fn)(void *opaque, size_t n);
    void *(*realloc_fn)(void *opaque, void *p, size_t n);
    void (*free_fn)(void *opaque, void *p);
    void *opaque;
    uint64_t reserved_[4]; /* room to grow (see "Structs" at the top) */
} steparc_allocator;
STEPARC_API void steparc_set_allocator(const steparc_allocator *a);

/* ------------------------------------------------------------------------ */
/* The record model: a run step as the API sends it                          */
/* ------------------------------------------------------------------------ */

/* A string slice; may contain NULs; not NUL-terminated. */
typedef struct {
    const char *ptr;
    size_t len;
} steparc_str;

/* Whether a key was present, and how. Every typed field carries one.
 * STEPARC_OTHER: the key is present but its value is not of the type the schema
 * gives it (e.g. "created_at":"yesterday"); the value is kept exactly in the
 * field's `other` pointer as a generic steparc_value. */
typedef enum {
    STEPARC_ABSENT = 0,
    STEPARC_NULL = 1,
    STEPARC_SET = 2,
    STEPARC_OTHER = 3
} steparc_presence;

/* Generic JSON value, for unknown keys, metadata and mistyped fields. */
typedef enum {
    STEPARC_V_NULL = 0,
    STEPARC_V_BOOL = 1,
    STEPARC_V_INT = 2,    /* fits int64 */
    STEPARC_V_UINT = 3,   /* > INT64_MAX, fits uint64 */
    STEPARC_V_FLOAT = 4,  /* written with a fraction or exponent; float64 bits kept */
    STEPARC_V_STRING = 5,
    STEPARC_V_ARRAY = 6,
    STEPARC_V_OBJECT = 7
} steparc_vtype;

typedef struct steparc_value steparc_value;
typedef struct steparc_member steparc_member;

struct steparc_value {
    steparc_vtype type;
    union {
        int b;
        int64_t i;
        uint64_t u;
        double f;
        steparc_str s;
        struct {
            steparc_value *items;
            size_t count;
        } array;
        struct {
            steparc_member *items; /* in input order */
            size_t count;
        } object;
    } v;
};

struct steparc_member {
    steparc_str key;
    steparc_value value;
};

/* Unknown keys of an object, in input order. */
typedef struct {
    steparc_member *items;
    size_t count;
} steparc_extras;

/* The order of an object's keys as they were read. Each slot is either a known
 * field number of that object (its STEPARC_F_* value, < STEPARC_SLOT_EXTRA) or
 * STEPARC_SLOT_EXTRA + i for extras.items[i]. When count is 0 (structs built in
 * code), encoders write the known fields that are not ABSENT in the API's order,
 * then the extras. */
#define STEPARC_SLOT_EXTRA 0x8000u
typedef struct {
    uint16_t *slots;
    size_t count;
} steparc_keyorder;

typedef struct {
    steparc_presence state;
    steparc_str v;
    const steparc_value *other;
} steparc_opt_str;

/* An enum-like string: the exact text, plus `code`, the matching STEPARC_*
 * constant or the type's _OTHER value for text the schema does not list. */
typedef struct {
    steparc_presence state;
    steparc_str v;
    int code;
    const steparc_value *other;
} steparc_opt_enum;

/* An integer field (timestamps, token counts): int64. A JSON integer beyond
 * int64, or a float, is kept as STEPARC_OTHER. */
typedef struct {
    steparc_presence state;
    int64_t v;
    const steparc_value *other;
} steparc_opt_int;

/* A number field (scores): kept as written: is_int says whether it was an
 * integer (then i holds it) or a float (then f holds the float64 bits). */
typedef struct {
    steparc_presence state;
    int is_int;
    int64_t i;
    double f;
    const steparc_value *other;
} steparc_opt_num;

/* Any JSON value (metadata). v is non-NULL when state is STEPARC_SET (any type,
 * including an object); OTHER is never used. */
typedef struct {
    steparc_presence state;
    const steparc_value *v;
} steparc_opt_value;

/* Enum codes. Unknown text maps to the _OTHER code and is never an error. */
enum { STEPARC_TYPE_OTHER = 0, STEPARC_TYPE_MESSAGE_CREATION = 1, STEPARC_TYPE_TOOL_CALLS = 2 };
enum {
    STEPARC_STATUS_OTHER = 0, STEPARC_STATUS_IN_PROGRESS = 1, STEPARC_STATUS_CANCELLED = 2,
    STEPARC_STATUS_FAILED = 3, STEPARC_STATUS_COMPLETED = 4, STEPARC_STATUS_EXPIRED = 5
};
enum {
    STEPARC_ERRCODE_OTHER = 0, STEPARC_ERRCODE_SERVER_ERROR = 1,
    STEPARC_ERRCODE_RATE_LIMIT_EXCEEDED = 2, STEPARC_ERRCODE_INVALID_PROMPT = 3
};
enum {
    STEPARC_TOOL_OTHER = 0, STEPARC_TOOL_CODE_INTERPRETER = 1, STEPARC_TOOL_FILE_SEARCH = 2,
    STEPARC_TOOL_FUNCTION = 3
};
enum { STEPARC_OUTPUT_OTHER = 0, STEPARC_OUTPUT_LOGS = 1, STEPARC_OUTPUT_IMAGE = 2 };
enum { STEPARC_RANKER_OTHER = 0, STEPARC_RANKER_AUTO = 1, STEPARC_RANKER_DEFAULT_2024_08_21 = 2 };
enum { STEPARC_CONTENT_OTHER = 0, STEPARC_CONTENT_TEXT = 1 };
enum { STEPARC_OBJECT_OTHER = 0, STEPARC_OBJECT_RUN_STEP = 1 };

/* Known field numbers per object, in the API's key order (used in keyorder). */
enum {
    STEPARC_F_STEP_ID, STEPARC_F_STEP_OBJECT, STEPARC_F_STEP_CREATED_AT, STEPARC_F_STEP_RUN_ID,
    STEPARC_F_STEP_ASSISTANT_ID, STEPARC_F_STEP_THREAD_ID, STEPARC_F_STEP_TYPE,
    STEPARC_F_STEP_STATUS, STEPARC_F_STEP_CANCELLED_AT, STEPARC_F_STEP_COMPLETED_AT,
    STEPARC_F_STEP_EXPIRES_AT, STEPARC_F_STEP_EXPIRED_AT, STEPARC_F_STEP_FAILED_AT,
    STEPARC_F_STEP_LAST_ERROR, STEPARC_F_STEP_STEP_DETAILS, STEPARC_F_STEP_USAGE,
    STEPARC_F_STEP_METADATA
};
enum { STEPARC_F_ERR_CODE, STEPARC_F_ERR_MESSAGE };
enum { STEPARC_F_DET_TYPE, STEPARC_F_DET_MESSAGE_CREATION, STEPARC_F_DET_TOOL_CALLS };
enum { STEPARC_F_MC_MESSAGE_ID };
enum {
    STEPARC_F_TC_ID, STEPARC_F_TC_TYPE, STEPARC_F_TC_CODE_INTERPRETER, STEPARC_F_TC_FILE_SEARCH,
    STEPARC_F_TC_FUNCTION
};
enum { STEPARC_F_CI_INPUT, STEPARC_F_CI_OUTPUTS };
enum { STEPARC_F_OUT_TYPE, STEPARC_F_OUT_LOGS, STEPARC_F_OUT_IMAGE };
enum { STEPARC_F_IMG_FILE_ID };
enum { STEPARC_F_FS_RANKING_OPTIONS, STEPARC_F_FS_RESULTS };
enum { STEPARC_F_RO_RANKER, STEPARC_F_RO_SCORE_THRESHOLD };
enum { STEPARC_F_RES_FILE_ID, STEPARC_F_RES_FILE_NAME, STEPARC_F_RES_SCORE, STEPARC_F_RES_CONTENT };
enum { STEPARC_F_CNT_TYPE, STEPARC_F_CNT_TEXT };
enum { STEPARC_F_FN_NAME, STEPARC_F_FN_ARGUMENTS, STEPARC_F_FN_OUTPUT };
enum { STEPARC_F_USE_PROMPT_TOKENS, STEPARC_F_USE_COMPLETION_TOKENS, STEPARC_F_USE_TOTAL_TOKENS };

/* Every typed object below ends with its unknown keys and its key order. */
#define STEPARC_OBJECT_TAIL \
    steparc_extras extra;   \
    steparc_keyorder order

typedef struct {
    steparc_opt_enum code; /* STEPARC_ERRCODE_* */
    steparc_opt_str message;
    STEPARC_OBJECT_TAIL;
} steparc_last_error;

typedef struct {
    steparc_opt_str message_id;
    STEPARC_OBJECT_TAIL;
} steparc_message_creation;

typedef struct {
    steparc_opt_str file_id;
    STEPARC_OBJECT_TAIL;
} steparc_ci_image;

typedef struct {
    steparc_opt_enum type; /* STEPARC_OUTPUT_* */
    steparc_opt_str logs;
    struct { steparc_presence state; steparc_ci_image v; const steparc_value *other; } image;
    STEPARC_OBJECT_TAIL;
} steparc_ci_output;

typedef struct {
    steparc_opt_str input;
    struct { steparc_presence state; steparc_ci_output *items; size_t count; const steparc_value *other; } outputs;
    STEPARC_OBJECT_TAIL;
} steparc_code_interpreter;

typedef struct {
    steparc_opt_enum ranker; /* STEPARC_RANKER_* */
    steparc_opt_num score_threshold;
    STEPARC_OBJECT_TAIL;
} steparc_ranking_options;

typedef struct {
    steparc_opt_enum type; /* STEPARC_CONTENT_* */
    steparc_opt_str text;
    STEPARC_OBJECT_TAIL;
} steparc_fs_content;

typedef struct {
    steparc_opt_str file_id;
    steparc_opt_str file_name;
    steparc_opt_num score;
    struct { steparc_presence state; steparc_fs_content *items; size_t count; const steparc_value *other; } content;
    STEPARC_OBJECT_TAIL;
} steparc_fs_result;

typedef struct {
    struct { steparc_presence state; steparc_ranking_options v; const steparc_value *other; } ranking_options;
    struct { steparc_presence state; steparc_fs_result *items; size_t count; const steparc_value *other; } results;
    STEPARC_OBJECT_TAIL;
} steparc_file_search;

typedef struct {
    steparc_opt_str name;
    steparc_opt_str arguments;
    steparc_opt_str output; /* NULL until the output is submitted */
    STEPARC_OBJECT_TAIL;
} steparc_function;

/* A tool call. Calls of a type the schema does not know (retrieval, browser,
 * bing_grounding, ...) have type.code STEPARC_TOOL_OTHER and keep their body
 * ("retrieval": {...}) in extra. */
typedef struct {
    steparc_opt_str id;
    steparc_opt_enum type; /* STEPARC_TOOL_* */
    struct { steparc_presence state; steparc_code_interpreter v; const steparc_value *other; } code_interpreter;
    struct { steparc_presence state; steparc_file_search v; const steparc_value *other; } file_search;
    struct { steparc_presence state; steparc_function v; const steparc_value *other; } function;
    STEPARC_OBJECT_TAIL;
} steparc_tool_call;

typedef struct {
    steparc_opt_enum type; /* STEPARC_TYPE_* */
    struct { steparc_presence state; steparc_message_creation v; const steparc_value *other; } message_creation;
    struct { steparc_presence state; steparc_tool_call *items; size_t count; const steparc_value *other; } tool_calls;
    STEPARC_OBJECT_TAIL;
} steparc_step_details;

typedef struct {
    steparc_opt_int prompt_tokens;
    steparc_opt_int completion_tokens;
    steparc_opt_int total_tokens;
    STEPARC_OBJECT_TAIL; /* e.g. prompt_tokens_details, completion_tokens_details */
} steparc_usage;

/* One run step. Field order follows the API; both expires_at (what the API
 * sends) and expired_at (what the spec names) are modelled. */
typedef struct steparc_step {
    steparc_opt_str id;
    steparc_opt_enum object; /* STEPARC_OBJECT_* */
    steparc_opt_int created_at;
    steparc_opt_str run_id;
    steparc_opt_str assistant_id;
    steparc_opt_str thread_id;
    steparc_opt_enum type;   /* STEPARC_TYPE_* */
    steparc_opt_enum status; /* STEPARC_STATUS_* */
    steparc_opt_int cancelled_at;
    steparc_opt_int completed_at;
    steparc_opt_int expires_at;
    steparc_opt_int expired_at;
    steparc_opt_int failed_at;
    struct { steparc_presence state; steparc_last_error v; const steparc_value *other; } last_error;
    struct { steparc_presence state; steparc_step_details v; const steparc_value *other; } step_details;
    struct { steparc_presence state; steparc_usage v; const steparc_value *other; } usage;
    steparc_opt_value metadata;
    STEPARC_OBJECT_TAIL;
    void *internal_; /* owned memory of a decoded step; NULL for steps built in code */
} steparc_step;

/* Decodes one record (MessagePack bytes, as stored) into a typed step.
 * On success *out owns copies of everything it points to; free it with
 * steparc_step_free. On failure *out is NULL.
 * @return 0, STEPARC_E_ARG (out NULL, or mp NULL with len), STEPARC_E_INPUT (not
 *         a valid record), STEPARC_E_LIMIT (over STEPARC_MAX_RECORD_SIZE or
 *         STEPARC_MAX_DEPTH), STEPARC_E_NOMEM. */
STEPARC_API int steparc_step_decode(steparc_step **out, const void *mp, size_t len);

/* Frees a step returned by the library, with everything it owns. NULL is a no-op.
 * Never call it on a steparc_step you built yourself. */
STEPARC_API void steparc_step_free(steparc_step *step);

/* Encodes a step (decoded or built in code) as a MessagePack record into out.
 * A decoded step re-encodes to exactly the bytes it was decoded from when
 * those were in the canonical (smallest) MessagePack forms, as every steparc
 * writer produces them; other forms a reader accepts (float32, oversized
 * headers) re-encode to the canonical form of the same values.
 * @return 0, STEPARC_E_ARG (out or step NULL, or an inconsistent struct: NULL
 *         ptr with len, bad slot, invalid UTF-8, state out of range, an extra
 *         repeating a known key), STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
STEPARC_API int steparc_step_encode(steparc_buf *out, const steparc_step *step);

/* ------------------------------------------------------------------------ */
/* Record kinds                                                              */
/* ------------------------------------------------------------------------ */

/* What a record is, from its top-level "object" string. The values are pinned
 * (archives and indexes may store them). */
enum {
    STEPARC_KIND_OTHER = 0,        /* no "object", not a string, or a value not listed */
    STEPARC_KIND_STEP = 1,         /* "thread.run.step" (also the 2023 "assistant.run.step") */
    STEPARC_KIND_MESSAGE = 2,      /* "thread.message" */
    STEPARC_KIND_RUN = 3,          /* "thread.run" */
    STEPARC_KIND_THREAD = 4,       /* "thread" */
    STEPARC_KIND_ASSISTANT = 5,    /* "assistant" */
    STEPARC_KIND_FILE = 6,         /* "file" */
    STEPARC_KIND_VECTOR_STORE = 7, /* "vector_store" */
    STEPARC_KIND_VECTOR_STORE_FILE = 8 /* "vector_store.file" */
};
#define STEPARC_KINDS 9 /* kinds, STEPARC_KIND_OTHER included */
#define STEPARC_KIND_BIT(k) (1u << (k)) /* a kind's bit in steparc_filter.kinds */

/* Short name of a kind: "step", "message", "run", "thread", "assistant",
 * "file", "vector_store", "vector_store_file"; "other" for STEPARC_KIND_OTHER
 * and for any value not listed. A static string, never NULL. */
STEPARC_API const char *steparc_kind_name(int kind);

/* The kind an "object" value (object, len) names: the API's values listed
 * with STEPARC_KIND_*, or a short name as steparc_kind_name gives it (so a
 * command line can say "message"). Exact bytes, case-sensitive; anything else
 * (deltas such as "thread.message.delta", "list", "thread.deleted", NULL) is
 * STEPARC_KIND_OTHER. Never fails. */
STEPARC_API int steparc_kind_of_object(const char *object, size_t len);

/* The kind of record mp[0..len) (MessagePack, as stored), from its top-level
 * "object" key, without decoding the rest; a record whose "object" is absent
 * or not a string is STEPARC_KIND_OTHER (not an error). The record is not
 * validated beyond what finding the key needs.
 * @return 0 (*kind set), STEPARC_E_ARG (kind NULL, or mp NULL with len > 0),
 *         STEPARC_E_INPUT (not a map, or truncated before "object" was met;
 *         *kind is then STEPARC_KIND_OTHER). */
STEPARC_API int steparc_record_kind(int *kind, const void *mp, size_t len);

/* A record (MessagePack bytes, as stored) through the typed view of its kind:
 * decoded into steparc_message, steparc_run, steparc_thread or
 * steparc_assistant by its "object", into steparc_step for steps and every
 * other kind, then written as JSON (steparc_view_to_json, with
 * steparc_msgpack_to_json's flags; STEPARC_JSON_APPEND appends) or encoded
 * back to MessagePack (steparc_view_encode, out replaced). Every valid record
 * comes back byte-identical (the views lose nothing), which is what
 * `steparc cat --via-struct` checks from the command line. Thread-safe; out
 * is the caller's (steparc_buf_free).
 * @return 0, STEPARC_E_ARG (out NULL, mp NULL with len), STEPARC_E_INPUT (not
 *         a valid record), STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
STEPARC_API int steparc_view_to_json(steparc_buf *out, const void *mp, size_t len, unsigned flags);
STEPARC_API int steparc_view_encode(steparc_buf *out, const void *mp, size_t len);

/* ------------------------------------------------------------------------ */
/* Typed views of the other kinds: message, run, thread, assistant           */
/* ------------------------------------------------------------------------ */

/* These follow the rules of steparc_step exactly: every field carries its
 * steparc_presence (absent, null, set, or OTHER with the mistyped value kept
 * in `other`); enum-like strings are open (unknown text gets the _OTHER code
 * and is kept verbatim); unknown keys stay in `extra` and the key order in
 * `order` at every level; decode -> encode gives back the same MessagePack
 * bytes. A decoded struct is one allocation set, freed by one call; structs
 * may also be built in code (zero them, set what you need, never free them).
 * Threads: a decoded struct belongs to one thread at a time; the calls keep
 * no state between them. */

/* A boolean field (parallel_tool_calls, strict). */
typedef struct {
    steparc_presence state;
    int v; /* 0 or 1 */
    const steparc_value *other;
} steparc_opt_bool;

/* An array of strings (file_ids, vector_store_ids). SET only when every item
 * is a string; any other value (an array with a non-string item included) is
 * OTHER, kept whole in `other`. */
typedef struct {
    steparc_presence state;
    steparc_str *items;
    size_t count;
    const steparc_value *other;
} steparc_opt_strs;

/* Enum codes of the new kinds. Unknown text maps to the _OTHER code. The
 * "object" field of message, run, thread and assistant has a STEPARC_KIND_*
 * code ("thread.message" -> STEPARC_KIND_MESSAGE, ...). */
enum {
    STEPARC_MSG_STATUS_OTHER = 0, STEPARC_MSG_STATUS_IN_PROGRESS = 1,
    STEPARC_MSG_STATUS_INCOMPLETE = 2, STEPARC_MSG_STATUS_COMPLETED = 3
};
enum { STEPARC_ROLE_OTHER = 0, STEPARC_ROLE_USER = 1, STEPARC_ROLE_ASSISTANT = 2 };
enum {
    STEPARC_PART_OTHER = 0, STEPARC_PART_TEXT = 1, STEPARC_PART_IMAGE_FILE = 2,
    STEPARC_PART_IMAGE_URL = 3, STEPARC_PART_REFUSAL = 4
};
enum { STEPARC_ANN_OTHER = 0, STEPARC_ANN_FILE_CITATION = 1, STEPARC_ANN_FILE_PATH = 2 };
enum { STEPARC_DETAIL_OTHER = 0, STEPARC_DETAIL_AUTO = 1, STEPARC_DETAIL_LOW = 2, STEPARC_DETAIL_HIGH = 3 };
/* incomplete_details.reason of messages (the first five) and runs (the last two) */
enum {
    STEPARC_REASON_OTHER = 0, STEPARC_REASON_CONTENT_FILTER = 1, STEPARC_REASON_MAX_TOKENS = 2,
    STEPARC_REASON_RUN_CANCELLED = 3, STEPARC_REASON_RUN_EXPIRED = 4, STEPARC_REASON_RUN_FAILED = 5,
    STEPARC_REASON_MAX_COMPLETION_TOKENS = 6, STEPARC_REASON_MAX_PROMPT_TOKENS = 7
};
/* tool definitions (assistant and run "tools", attachment tools); retrieval is v1 */
enum {
    STEPARC_TOOLDEF_OTHER = 0, STEPARC_TOOLDEF_CODE_INTERPRETER = 1, STEPARC_TOOLDEF_FILE_SEARCH = 2,
    STEPARC_TOOLDEF_FUNCTION = 3, STEPARC_TOOLDEF_RETRIEVAL = 4
};
enum {
    STEPARC_RUN_STATUS_OTHER = 0, STEPARC_RUN_STATUS_QUEUED = 1, STEPARC_RUN_STATUS_IN_PROGRESS = 2,
    STEPARC_RUN_STATUS_REQUIRES_ACTION = 3, STEPARC_RUN_STATUS_CANCELLING = 4,
    STEPARC_RUN_STATUS_CANCELLED = 5, STEPARC_RUN_STATUS_FAILED = 6, STEPARC_RUN_STATUS_COMPLETED = 7,
    STEPARC_RUN_STATUS_INCOMPLETE = 8, STEPARC_RUN_STATUS_EXPIRED = 9
};
enum { STEPARC_ACTION_OTHER = 0, STEPARC_ACTION_SUBMIT_TOOL_OUTPUTS = 1 };
enum { STEPARC_TRUNCATION_OTHER = 0, STEPARC_TRUNCATION_AUTO = 1, STEPARC_TRUNCATION_LAST_MESSAGES = 2 };

/* Known field numbers per object, in the API's key order (used in keyorder). */
enum {
    STEPARC_F_MSG_ID, STEPARC_F_MSG_OBJECT, STEPARC_F_MSG_CREATED_AT, STEPARC_F_MSG_THREAD_ID,
    STEPARC_F_MSG_STATUS, STEPARC_F_MSG_INCOMPLETE_DETAILS, STEPARC_F_MSG_COMPLETED_AT,
    STEPARC_F_MSG_INCOMPLETE_AT, STEPARC_F_MSG_ROLE, STEPARC_F_MSG_CONTENT,
    STEPARC_F_MSG_ASSISTANT_ID, STEPARC_F_MSG_RUN_ID, STEPARC_F_MSG_ATTACHMENTS,
    STEPARC_F_MSG_FILE_IDS, STEPARC_F_MSG_METADATA
};
enum { STEPARC_F_INC_REASON };
enum {
    STEPARC_F_PART_TYPE, STEPARC_F_PART_TEXT, STEPARC_F_PART_IMAGE_FILE, STEPARC_F_PART_IMAGE_URL,
    STEPARC_F_PART_REFUSAL
};
enum { STEPARC_F_TEXT_VALUE, STEPARC_F_TEXT_ANNOTATIONS };
enum {
    STEPARC_F_ANN_TYPE, STEPARC_F_ANN_TEXT, STEPARC_F_ANN_START_INDEX, STEPARC_F_ANN_END_INDEX,
    STEPARC_F_ANN_FILE_CITATION, STEPARC_F_ANN_FILE_PATH
};
enum { STEPARC_F_CIT_FILE_ID, STEPARC_F_CIT_QUOTE };
enum { STEPARC_F_FPATH_FILE_ID };
enum { STEPARC_F_IMGF_FILE_ID, STEPARC_F_IMGF_DETAIL };
enum { STEPARC_F_IMGU_URL, STEPARC_F_IMGU_DETAIL };
enum { STEPARC_F_ATT_FILE_ID, STEPARC_F_ATT_TOOLS };
enum { STEPARC_F_ATOOL_TYPE };
enum {
    STEPARC_F_RUN_ID, STEPARC_F_RUN_OBJECT, STEPARC_F_RUN_CREATED_AT, STEPARC_F_RUN_THREAD_ID,
    STEPARC_F_RUN_ASSISTANT_ID, STEPARC_F_RUN_STATUS, STEPARC_F_RUN_REQUIRED_ACTION,
    STEPARC_F_RUN_LAST_ERROR, STEPARC_F_RUN_EXPIRES_AT, STEPARC_F_RUN_STARTED_AT,
    STEPARC_F_RUN_CANCELLED_AT, STEPARC_F_RUN_FAILED_AT, STEPARC_F_RUN_COMPLETED_AT,
    STEPARC_F_RUN_INCOMPLETE_DETAILS, STEPARC_F_RUN_MODEL, STEPARC_F_RUN_INSTRUCTIONS,
    STEPARC_F_RUN_TOOLS, STEPARC_F_RUN_TOOL_RESOURCES, STEPARC_F_RUN_METADATA, STEPARC_F_RUN_USAGE,
    STEPARC_F_RUN_TEMPERATURE, STEPARC_F_RUN_TOP_P, STEPARC_F_RUN_MAX_PROMPT_TOKENS,
    STEPARC_F_RUN_MAX_COMPLETION_TOKENS, STEPARC_F_RUN_TRUNCATION_STRATEGY,
    STEPARC_F_RUN_RESPONSE_FORMAT, STEPARC_F_RUN_TOOL_CHOICE, STEPARC_F_RUN_PARALLEL_TOOL_CALLS,
    STEPARC_F_RUN_FILE_IDS
};
enum { STEPARC_F_RA_TYPE, STEPARC_F_RA_SUBMIT_TOOL_OUTPUTS };
enum { STEPARC_F_STO_TOOL_CALLS };
enum { STEPARC_F_RCALL_ID, STEPARC_F_RCALL_TYPE, STEPARC_F_RCALL_FUNCTION };
enum { STEPARC_F_RFN_NAME, STEPARC_F_RFN_ARGUMENTS };
enum {
    STEPARC_F_RUSE_PROMPT_TOKENS, STEPARC_F_RUSE_COMPLETION_TOKENS, STEPARC_F_RUSE_TOTAL_TOKENS,
    STEPARC_F_RUSE_PROMPT_TOKENS_DETAILS, STEPARC_F_RUSE_COMPLETION_TOKENS_DETAILS
};
enum { STEPARC_F_PTD_CACHED_TOKENS };
enum { STEPARC_F_CTD_REASONING_TOKENS };
enum { STEPARC_F_TRUNC_TYPE, STEPARC_F_TRUNC_LAST_MESSAGES };
enum { STEPARC_F_TOOL_TYPE, STEPARC_F_TOOL_FUNCTION, STEPARC_F_TOOL_FILE_SEARCH };
enum {
    STEPARC_F_FNDEF_NAME, STEPARC_F_FNDEF_DESCRIPTION, STEPARC_F_FNDEF_PARAMETERS,
    STEPARC_F_FNDEF_STRICT
};
enum { STEPARC_F_FSDEF_MAX_NUM_RESULTS, STEPARC_F_FSDEF_RANKING_OPTIONS };
enum { STEPARC_F_TRES_CODE_INTERPRETER, STEPARC_F_TRES_FILE_SEARCH };
enum { STEPARC_F_CIRES_FILE_IDS };
enum { STEPARC_F_FSRES_VECTOR_STORE_IDS };
enum {
    STEPARC_F_THR_ID, STEPARC_F_THR_OBJECT, STEPARC_F_THR_CREATED_AT, STEPARC_F_THR_TOOL_RESOURCES,
    STEPARC_F_THR_METADATA
};
enum {
    STEPARC_F_ASST_ID, STEPARC_F_ASST_OBJECT, STEPARC_F_ASST_CREATED_AT, STEPARC_F_ASST_NAME,
    STEPARC_F_ASST_DESCRIPTION, STEPARC_F_ASST_MODEL, STEPARC_F_ASST_INSTRUCTIONS,
    STEPARC_F_ASST_TOOLS, STEPARC_F_ASST_TOOL_RESOURCES, STEPARC_F_ASST_METADATA,
    STEPARC_F_ASST_TEMPERATURE, STEPARC_F_ASST_TOP_P, STEPARC_F_ASST_RESPONSE_FORMAT,
    STEPARC_F_ASST_FILE_IDS
};

/* ---- shared by several kinds ---- */

/* incomplete_details of a message or a run. */
typedef struct {
    steparc_opt_enum reason; /* STEPARC_REASON_* */
    STEPARC_OBJECT_TAIL;
} steparc_incomplete_details;

/* tools[].function of an assistant or run: a function the model may call. */
typedef struct {
    steparc_opt_str name;
    steparc_opt_str description;
    steparc_opt_value parameters; /* JSON Schema, any value */
    steparc_opt_bool strict;
    STEPARC_OBJECT_TAIL;
} steparc_function_def;

/* tools[].file_search of an assistant or run. */
typedef struct {
    steparc_opt_int max_num_results;
    struct { steparc_presence state; steparc_ranking_options v; const steparc_value *other; } ranking_options;
    STEPARC_OBJECT_TAIL;
} steparc_file_search_def;

/* One tool definition. Types the schema does not know (Azure's bing_grounding,
 * DashScope's search, ...) have type.code STEPARC_TOOLDEF_OTHER and keep their
 * body in extra. */
typedef struct {
    steparc_opt_enum type; /* STEPARC_TOOLDEF_* */
    struct { steparc_presence state; steparc_function_def v; const steparc_value *other; } function;
    struct { steparc_presence state; steparc_file_search_def v; const steparc_value *other; } file_search;
    STEPARC_OBJECT_TAIL;
} steparc_tool_def;

typedef struct {
    steparc_opt_strs file_ids;
    STEPARC_OBJECT_TAIL;
} steparc_ci_resources;

typedef struct {
    steparc_opt_strs vector_store_ids;
    STEPARC_OBJECT_TAIL; /* e.g. vector_stores of a create request */
} steparc_fs_resources;

/* tool_resources of an assistant, a thread or a run (v2). */
typedef struct {
    struct { steparc_presence state; steparc_ci_resources v; const steparc_value *other; } code_interpreter;
    struct { steparc_presence state; steparc_fs_resources v; const steparc_value *other; } file_search;
    STEPARC_OBJECT_TAIL;
} steparc_tool_resources;

/* ---- message ---- */

typedef struct {
    steparc_opt_str file_id;
    steparc_opt_str quote; /* before 2024-06-12 */
    STEPARC_OBJECT_TAIL;
} steparc_file_citation;

typedef struct {
    steparc_opt_str file_id;
    STEPARC_OBJECT_TAIL;
} steparc_file_path;

typedef struct {
    steparc_opt_enum type; /* STEPARC_ANN_* */
    steparc_opt_str text;  /* the span of value to replace */
    steparc_opt_int start_index;
    steparc_opt_int end_index;
    struct { steparc_presence state; steparc_file_citation v; const steparc_value *other; } file_citation;
    struct { steparc_presence state; steparc_file_path v; const steparc_value *other; } file_path;
    STEPARC_OBJECT_TAIL;
} steparc_annotation;

typedef struct {
    steparc_opt_str value;
    struct { steparc_presence state; steparc_annotation *items; size_t count; const steparc_value *other; } annotations;
    STEPARC_OBJECT_TAIL;
} steparc_msg_text;

typedef struct {
    steparc_opt_str file_id;
    steparc_opt_enum detail; /* STEPARC_DETAIL_* */
    STEPARC_OBJECT_TAIL;
} steparc_image_file;

typedef struct {
    steparc_opt_str url;
    steparc_opt_enum detail; /* STEPARC_DETAIL_* */
    STEPARC_OBJECT_TAIL;
} steparc_image_url;

/* One content part; unknown part types keep their body in extra. */
typedef struct {
    steparc_opt_enum type; /* STEPARC_PART_* */
    struct { steparc_presence state; steparc_msg_text v; const steparc_value *other; } text;
    struct { steparc_presence state; steparc_image_file v; const steparc_value *other; } image_file;
    struct { steparc_presence state; steparc_image_url v; const steparc_value *other; } image_url;
    steparc_opt_str refusal;
    STEPARC_OBJECT_TAIL;
} steparc_content_part;

typedef struct {
    steparc_opt_enum type; /* STEPARC_TOOLDEF_* */
    STEPARC_OBJECT_TAIL;
} steparc_attachment_tool;

typedef struct {
    steparc_opt_str file_id;
    struct { steparc_presence state; steparc_attachment_tool *items; size_t count; const steparc_value *other; } tools;
    STEPARC_OBJECT_TAIL;
} steparc_attachment;

/* A thread.message. v1 records carry file_ids, v2 ones attachments. */
typedef struct steparc_message {
    steparc_opt_str id;
    steparc_opt_enum object; /* STEPARC_KIND_* */
    steparc_opt_int created_at;
    steparc_opt_str thread_id;
    steparc_opt_enum status; /* STEPARC_MSG_STATUS_*; absent before 2024-03-27 */
    struct { steparc_presence state; steparc_incomplete_details v; const steparc_value *other; } incomplete_details;
    steparc_opt_int completed_at;
    steparc_opt_int incomplete_at;
    steparc_opt_enum role; /* STEPARC_ROLE_* */
    struct { steparc_presence state; steparc_content_part *items; size_t count; const steparc_value *other; } content;
    steparc_opt_str assistant_id;
    steparc_opt_str run_id;
    struct { steparc_presence state; steparc_attachment *items; size_t count; const steparc_value *other; } attachments;
    steparc_opt_strs file_ids; /* v1 */
    steparc_opt_value metadata;
    STEPARC_OBJECT_TAIL;
    void *internal_; /* owned memory of a decoded message; NULL for messages built in code */
} steparc_message;

/* ---- run ---- */

typedef struct {
    steparc_opt_str name;
    steparc_opt_str arguments; /* JSON in a string */
    STEPARC_OBJECT_TAIL;
} steparc_required_function;

/* required_action.submit_tool_outputs.tool_calls[]: its id is the step's
 * function call id and the tool_call_id of the outputs submitted. */
typedef struct {
    steparc_opt_str id;
    steparc_opt_enum type; /* STEPARC_TOOL_* */
    struct { steparc_presence state; steparc_required_function v; const steparc_value *other; } function;
    STEPARC_OBJECT_TAIL;
} steparc_required_call;

typedef struct {
    struct { steparc_presence state; steparc_required_call *items; size_t count; const steparc_value *other; } tool_calls;
    STEPARC_OBJECT_TAIL;
} steparc_submit_tool_outputs;

typedef struct {
    steparc_opt_enum type; /* STEPARC_ACTION_* */
    struct { steparc_presence state; steparc_submit_tool_outputs v; const steparc_value *other; } submit_tool_outputs;
    STEPARC_OBJECT_TAIL;
} steparc_required_action;

typedef struct {
    steparc_opt_int cached_tokens;
    STEPARC_OBJECT_TAIL;
} steparc_prompt_tokens_details;

typedef struct {
    steparc_opt_int reasoning_tokens;
    STEPARC_OBJECT_TAIL;
} steparc_completion_tokens_details;

/* A run's usage (a step's is steparc_usage, whose details stay in extra). */
typedef struct {
    steparc_opt_int prompt_tokens;
    steparc_opt_int completion_tokens;
    steparc_opt_int total_tokens;
    struct { steparc_presence state; steparc_prompt_tokens_details v; const steparc_value *other; } prompt_tokens_details;
    struct { steparc_presence state; steparc_completion_tokens_details v; const steparc_value *other; } completion_tokens_details;
    STEPARC_OBJECT_TAIL;
} steparc_run_usage;

typedef struct {
    steparc_opt_enum type; /* STEPARC_TRUNCATION_* */
    steparc_opt_int last_messages;
    STEPARC_OBJECT_TAIL;
} steparc_truncation_strategy;

/* A thread.run. response_format and tool_choice are a string or an object,
 * so they are generic values. */
typedef struct steparc_run {
    steparc_opt_str id;
    steparc_opt_enum object; /* STEPARC_KIND_* */
    steparc_opt_int created_at;
    steparc_opt_str thread_id;
    steparc_opt_str assistant_id;
    steparc_opt_enum status; /* STEPARC_RUN_STATUS_* */
    struct { steparc_presence state; steparc_required_action v; const steparc_value *other; } required_action;
    struct { steparc_presence state; steparc_last_error v; const steparc_value *other; } last_error;
    steparc_opt_int expires_at;
    steparc_opt_int started_at;
    steparc_opt_int cancelled_at;
    steparc_opt_int failed_at;
    steparc_opt_int completed_at;
    struct { steparc_presence state; steparc_incomplete_details v; const steparc_value *other; } incomplete_details;
    steparc_opt_str model;
    steparc_opt_str instructions;
    struct { steparc_presence state; steparc_tool_def *items; size_t count; const steparc_value *other; } tools;
    struct { steparc_presence state; steparc_tool_resources v; const steparc_value *other; } tool_resources;
    steparc_opt_value metadata;
    struct { steparc_presence state; steparc_run_usage v; const steparc_value *other; } usage;
    steparc_opt_num temperature;
    steparc_opt_num top_p;
    steparc_opt_int max_prompt_tokens;
    steparc_opt_int max_completion_tokens;
    struct { steparc_presence state; steparc_truncation_strategy v; const steparc_value *other; } truncation_strategy;
    steparc_opt_value response_format;
    steparc_opt_value tool_choice;
    steparc_opt_bool parallel_tool_calls;
    steparc_opt_strs file_ids; /* v1 */
    STEPARC_OBJECT_TAIL;
    void *internal_; /* owned memory of a decoded run; NULL for runs built in code */
} steparc_run;

/* ---- thread and assistant ---- */

/* A thread (v1 threads have no tool_resources). */
typedef struct steparc_thread {
    steparc_opt_str id;
    steparc_opt_enum object; /* STEPARC_KIND_* */
    steparc_opt_int created_at;
    struct { steparc_presence state; steparc_tool_resources v; const steparc_value *other; } tool_resources;
    steparc_opt_value metadata;
    STEPARC_OBJECT_TAIL;
    void *internal_; /* owned memory of a decoded thread; NULL for threads built in code */
} steparc_thread;

/* An assistant. v1 records carry file_ids, v2 ones tool_resources. */
typedef struct steparc_assistant {
    steparc_opt_str id;
    steparc_opt_enum object; /* STEPARC_KIND_* */
    steparc_opt_int created_at;
    steparc_opt_str name;
    steparc_opt_str description;
    steparc_opt_str model;
    steparc_opt_str instructions;
    struct { steparc_presence state; steparc_tool_def *items; size_t count; const steparc_value *other; } tools;
    struct { steparc_presence state; steparc_tool_resources v; const steparc_value *other; } tool_resources;
    steparc_opt_value metadata;
    steparc_opt_num temperature;
    steparc_opt_num top_p;
    steparc_opt_value response_format;
    steparc_opt_strs file_ids; /* v1 */
    STEPARC_OBJECT_TAIL;
    void *internal_; /* owned memory of a decoded assistant; NULL for assistants built in code */
} steparc_assistant;

/* ---- calls (the same four for each kind) ---- */

/* Decodes one record (MessagePack bytes, as stored) into a typed view. Any map
 * decodes, whatever its "object" (check it with steparc_record_kind or the
 * view's object.code): keys the view does not know land in extra. On success
 * *out owns copies of everything it points to (the input may be freed); free
 * it with the matching _free. On failure *out is NULL.
 * @return 0, STEPARC_E_ARG (out NULL, or mp NULL with len > 0), STEPARC_E_INPUT
 *         (not a valid record), STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
STEPARC_API int steparc_message_decode(steparc_message **out, const void *mp, size_t len);
STEPARC_API int steparc_run_decode(steparc_run **out, const void *mp, size_t len);
STEPARC_API int steparc_thread_decode(steparc_thread **out, const void *mp, size_t len);
STEPARC_API int steparc_assistant_decode(steparc_assistant **out, const void *mp, size_t len);

/* Frees a view returned by the library, with everything it owns. NULL is a
 * no-op. Never call it on a struct you built yourself. */
STEPARC_API void steparc_message_free(steparc_message *m);
STEPARC_API void steparc_run_free(steparc_run *run);
STEPARC_API void steparc_thread_free(steparc_thread *t);
STEPARC_API void steparc_assistant_free(steparc_assistant *a);

/* Encodes a view (decoded or built in code) as a MessagePack record into out
 * (replacing its contents; on failure out->len is 0). A decoded view
 * re-encodes to exactly the bytes it was decoded from (canonical MessagePack,
 * as steparc_step_encode). Keys follow `order`, then fields and extras it
 * does not list, in the API's order.
 * @return 0, STEPARC_E_ARG (m or out NULL; inconsistent struct: NULL ptr with
 *         len, bad slot, invalid UTF-8, state out of range, an extra repeating
 *         a known key), STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
STEPARC_API int steparc_message_encode(steparc_buf *out, const steparc_message *m);
STEPARC_API int steparc_run_encode(steparc_buf *out, const steparc_run *run);
STEPARC_API int steparc_thread_encode(steparc_buf *out, const steparc_thread *t);
STEPARC_API int steparc_assistant_encode(steparc_buf *out, const steparc_assistant *a);

/* Writes a view as canonical JSON through its typed fields, with the flags of
 * steparc_msgpack_to_json (STEPARC_JSON_PRETTY, STEPARC_JSON_APPEND). JSON ->
 * archive -> view -> JSON gives back the canonical text of the input.
 * @return the codes of the _encode call. */
STEPARC_API int steparc_message_to_json(steparc_buf *out, const steparc_message *m, unsigned flags);
STEPARC_API int steparc_run_to_json(steparc_buf *out, const steparc_run *run, unsigned flags);
STEPARC_API int steparc_thread_to_json(steparc_buf *out, const steparc_thread *t, unsigned flags);
STEPARC_API int steparc_assistant_to_json(steparc_buf *out, const steparc_assistant *a,
                                          unsigned flags);

/* ------------------------------------------------------------------------ */
/* JSON <-> MessagePack codec                                                */
/* ------------------------------------------------------------------------ */

/* Detail of a JSON parse failure: byte offset, 1-based line and column
 * (column counted in bytes) within the text given, and a reason. */
typedef struct {
    size_t offset;
    size_t line;
    size_t column;
    char reason[160];
    uint64_t reserved_[4]; /* room to grow (see "Structs" at the top) */
} steparc_json_error;

/* Parses one JSON value (must be an object for a record; any value otherwise)
 * and encodes it as MessagePack into out (replacing its contents): keys in
 * input order, strings exact (\u0000 included), integers exact to 64 bits,
 * floats as float64, 1.0 stays a float. Trailing whitespace is allowed, any
 * other trailing text is an error.
 * Errors (STEPARC_E_INPUT, with *err filled when err is non-NULL): invalid JSON,
 * invalid UTF-8, lone surrogate escapes, integers beyond 64 bits, numbers
 * beyond the double range, duplicate keys in one object; STEPARC_E_LIMIT for
 * nesting deeper than STEPARC_MAX_DEPTH or more than STEPARC_MAX_KEYS items.
 * flags: STEPARC_JSON_REQUIRE_OBJECT demands a top-level object.
 * @return 0, STEPARC_E_ARG (out NULL, or json NULL with len), STEPARC_E_INPUT,
 *         STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
#define STEPARC_JSON_REQUIRE_OBJECT 1u
STEPARC_API int steparc_json_to_msgpack(steparc_buf *out, const char *json, size_t len,
                                        unsigned flags, steparc_json_error *err);

/* Writes MessagePack as canonical JSON into out (replacing its contents):
 * compact, keys in stored order, strings as UTF-8 with only '"', '\\' and
 * U+0000..U+001F escaped, floats in the shortest text that reads back to the
 * same double, formatted as Python's repr. Equals Python's
 * json.dumps(v, ensure_ascii=False, separators=(",", ":")).
 * STEPARC_JSON_PRETTY indents by two spaces instead (Python's indent=2).
 * STEPARC_JSON_APPEND appends to out instead of replacing its contents (and
 * on failure leaves it as it was): exports build big buffers without copies.
 * @return 0, STEPARC_E_ARG (out NULL, or mp NULL with len), STEPARC_E_CORRUPT
 *         (not valid record MessagePack), STEPARC_E_NOMEM. */
#define STEPARC_JSON_PRETTY 2u
#define STEPARC_JSON_APPEND 4u
STEPARC_API int steparc_msgpack_to_json(steparc_buf *out, const void *mp, size_t len, unsigned flags);

/* Writes a step as JSON, through its typed fields (same rules as above).
 * @return 0, and the codes of steparc_step_encode: STEPARC_E_ARG, STEPARC_E_LIMIT,
 *         STEPARC_E_NOMEM. */
STEPARC_API int steparc_step_to_json(steparc_buf *out, const steparc_step *step, unsigned flags);

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct steparc_writer steparc_writer;

typedef struct {
    uint32_t block_size;   /* target uncompressed bytes per block, 1 KiB..64 MiB; default 64 KiB
                              (a random lookup decompresses one block: ~40 us; with the
                              dictionary the size costs ~14% over 1 MiB blocks) */
    int level;             /* zstd level, 1..22 (-7..-1 = fast modes); default 3 */
    int threads;           /* compression threads; 0 or 1 = compress in the caller; output
                              bytes are identical for every value */
    int no_fsync;          /* skip fsync (tests only); default 0 */
    int dedup;             /* keep one record per step id: the most advanced state (a terminal
                              status beats in_progress; among equals the one added last), at
                              the position of that record. Records without a string id, or
                              with an empty one, are all kept. Default 0 (keep everything). */
    int dict_size;         /* zstd dictionary trained on the first records and stored in the
                              archive (it makes small blocks compress like big ones):
                              0 = automatic (up to 112 KiB, when the first 4 MiB of records
                              hold at least 1 MiB), -1 = none, N = at most N bytes */
    int layout;            /* how records are laid out inside a block (docs/FORMAT.md 5.3, 5.5):
                              STEPARC_LAYOUT_DEFAULT (0) = columnar, STEPARC_LAYOUT_ROWS =
                              MessagePack rows, STEPARC_LAYOUT_COLUMNAR = typed columns (smaller;
                              read back as the same records). A block too varied for columns
                              is written as rows whatever the choice. */
    uint64_t reserved_[4]; /* room to grow (see "Structs" at the top) */
} steparc_writer_options;

#define STEPARC_LAYOUT_DEFAULT 0
#define STEPARC_LAYOUT_ROWS 1
#define STEPARC_LAYOUT_COLUMNAR 2

/* Fills *opt with the defaults. */
STEPARC_API void steparc_writer_options_init(steparc_writer_options *opt);

/* Starts a new archive that will appear at `path` when steparc_writer_finish
 * succeeds. Data is written to a temporary file in the same directory
 * (path + ".tmp-XXXXXX"); finish fsyncs it and renames it over path, so path
 * never holds a partial archive. opt may be NULL (defaults). On failure *out is
 * NULL and, when errbuf is non-NULL, the reason (with errno's text) is written
 * there, NUL-terminated and truncated to errbuf_size.
 * @return 0, STEPARC_E_IO, STEPARC_E_ARG (bad option: block_size outside
 *         1 KiB..64 MiB, level outside -7..22 or 0, threads outside 0..256),
 *         STEPARC_E_NOMEM. */
STEPARC_API int steparc_writer_open(steparc_writer **out, const char *path,
                                    const steparc_writer_options *opt, char *errbuf,
                                    size_t errbuf_size);

/* Opens an existing archive to add records to it, without rewriting its
 * blocks: new blocks go after its last footer, followed by new index sections
 * and a new footer that points back at the old one. The old footer is never
 * modified: if the process dies at any moment, the archive reads as it was
 * before (readers use the last valid footer; see steparc_info.ignored_tail_bytes).
 * Closing without a successful finish cuts the file back to the old archive.
 * Appended records are all kept (opt->dedup must be 0). Bytes after the last
 * valid footer (an earlier interrupted append) are dropped first.
 * @return 0, STEPARC_E_IO, STEPARC_E_CORRUPT (damaged index or footer: recover
 *         first), STEPARC_E_VERSION, STEPARC_E_ARG (as steparc_writer_open, or
 *         opt->dedup set), STEPARC_E_NOMEM. */
STEPARC_API int steparc_writer_open_append(steparc_writer **out, const char *path,
                                           const steparc_writer_options *opt, char *errbuf,
                                           size_t errbuf_size);

/* Adds one record given as JSON text (one object). On STEPARC_E_INPUT the
 * record is not added, the writer stays usable, and *err (when non-NULL)
 * locates the problem within `json`. The add calls below return:
 * @return 0, STEPARC_E_ARG (w NULL, or data NULL with len), STEPARC_E_INPUT
 *         (invalid record: not added, the writer stays usable), STEPARC_E_LIMIT
 *         (a record over STEPARC_MAX_RECORD_SIZE or STEPARC_MAX_DEPTH, or the
 *         archive at 2^32-1 records), STEPARC_E_IO, STEPARC_E_NOMEM,
 *         STEPARC_E_MISUSE (after finish, or after an IO/NOMEM failure: the
 *         message of that failure stays). steparc_writer_add_step never
 *         returns STEPARC_E_INPUT (a struct that does not encode is
 *         STEPARC_E_ARG). */
STEPARC_API int steparc_writer_add_json(steparc_writer *w, const char *json, size_t len,
                                        steparc_json_error *err);

/* Adds one record given as MessagePack bytes (validated: a map with string
 * keys, valid UTF-8, within the limits). */
STEPARC_API int steparc_writer_add_msgpack(steparc_writer *w, const void *mp, size_t len);

/* Adds one record from a typed step (decoded or built in code). */
STEPARC_API int steparc_writer_add_step(steparc_writer *w, const steparc_step *step);

/* Records added so far. */
STEPARC_API uint64_t steparc_writer_count(const steparc_writer *w);

/* With dedup: records dropped as duplicates by a successful finish (0 before). */
STEPARC_API uint64_t steparc_writer_duplicates(const steparc_writer *w);

/* Flushes the last block, writes the indexes and footer, fsyncs and renames the
 * temporary file over the path. After it (success or failure) only
 * steparc_writer_errmsg and steparc_writer_close may be called.
 * On failure the temporary file is removed and path is untouched.
 * @return 0, STEPARC_E_ARG (w NULL), STEPARC_E_IO, STEPARC_E_NOMEM,
 *         STEPARC_E_MISUSE (finished already, or an earlier failure). */
STEPARC_API int steparc_writer_finish(steparc_writer *w);

/* Frees the writer. If finish was not called or failed, the temporary file is
 * removed and path is left as it was. NULL is a no-op. */
STEPARC_API void steparc_writer_close(steparc_writer *w);

/* Detail of the last failure on w (never NULL; "" when none). Valid until the
 * next call on w. */
STEPARC_API const char *steparc_writer_errmsg(const steparc_writer *w);

/* ------------------------------------------------------------------------ */
/* Converter: JSON dumps in every real shape -> records of a writer           */
/* ------------------------------------------------------------------------ */

/* Input shapes. AUTO detects per input from its first bytes: '[' an array,
 * '{' objects (a record, a list page, concatenated or one per line), "event:" /
 * "data:" an event stream. Event streams: thread.created (a thread),
 * thread.run.* (runs), thread.run.step.* (steps), thread.message.created,
 * .in_progress, .completed, .incomplete (messages) are archived as they come;
 * thread.run.step.delta and thread.message.delta are kept per object until its
 * final event, and an object whose final event never came is rebuilt from its
 * last snapshot and the deltas after it (text fragments concatenated, array
 * items merged by their "index", integers replaced, "index" keys dropped); "error" events are counted; "done" and
 * [DONE] ignored; other event names are skipped (STEPARC_SKIP_EVENT). The
 * data lines of one event are joined with '\n' (SSE framing). */
typedef enum {
    STEPARC_IN_AUTO = 0,
    STEPARC_IN_JSONL = 1,  /* one JSON value per line (also NDJSON) */
    STEPARC_IN_JSON = 2,   /* one or more JSON values: objects, arrays, list pages */
    STEPARC_IN_SSE = 3     /* event-stream capture: "event: ..." / "data: {...}" lines */
} steparc_input_format;

typedef struct steparc_converter steparc_converter;

/* Why an object was not archived. The converter archives the objects of the
 * eight record kinds (STEPARC_KIND_STEP .. STEPARC_KIND_VECTOR_STORE_FILE, by
 * their "object": steparc_kind_of_object) that have a string "id". */
typedef enum {
    STEPARC_SKIP_NOT_A_STEP = 0, /* "object" is missing or names no record kind
                                    (STEPARC_KIND_OTHER); the name is from when only
                                    run steps were archived */
    STEPARC_SKIP_NO_ID = 1,      /* an object of a record kind without a string "id" */
    STEPARC_SKIP_DELTA = 2,      /* a thread.run.step.delta or thread.message.delta (the
                                    final object carries it all; event streams rebuild
                                    the object from them when it is missing) */
    STEPARC_SKIP_EVENT = 3,      /* an event-stream event of no record kind (unknown name) */
    STEPARC_SKIP_INVALID = 4,    /* malformed JSON skipped under skip_invalid */
    STEPARC_SKIP_NOT_JSON = 5,   /* an input (or a HAR response body) that is neither JSON nor
                                    an event stream: skipped whole (inputs: under skip_invalid) */
    STEPARC_SKIP_LINK = 6,       /* a symbolic link to a directory not followed (no
                                    follow_symlinks), or a link loop */
    STEPARC_SKIP_REASONS = 7
} steparc_skip_reason;

#define STEPARC_SKIP_NOT_A_RECORD STEPARC_SKIP_NOT_A_STEP

/* Room in steparc_convert_stats.by_kind: STEPARC_KINDS and kinds to come. */
#define STEPARC_CONVERT_KINDS 16

typedef struct {
    uint64_t inputs;             /* files (or streams) read */
    uint64_t input_bytes;        /* bytes read (decompressed, for .zst inputs) */
    uint64_t objects;            /* JSON objects seen at record level */
    uint64_t records;            /* records handed to the writer (before its dedup) */
    uint64_t rebuilt;            /* of which: steps rebuilt from deltas (event streams cut
                                    before a step's final object) */
    uint64_t unrebuilt;          /* steps or messages whose deltas could not be applied (no
                                    step or message object before them, or deltas that do
                                    not merge) */
    uint64_t skipped[STEPARC_SKIP_REASONS];
    uint64_t by_kind[STEPARC_CONVERT_KINDS]; /* records handed to the writer, by
                                    STEPARC_KIND_* (by_kind[0], other objects, stays 0:
                                    they are skipped); they add up to records */
    uint64_t messages_rebuilt;   /* of records: messages rebuilt from their last snapshot
                                    and thread.message.delta events (streams cut before
                                    thread.message.completed/incomplete) */
    uint64_t error_events;       /* "error" events in event streams (not objects) */
} steparc_convert_stats;

typedef struct {
    steparc_input_format format;
    int strict;        /* objects of no record kind (or without an id) are an error, not
                          skipped */
    int skip_invalid;  /* skip malformed JSON (to the next line / record) instead of failing */
    int no_rebuild;    /* event streams: do not rebuild steps and messages from their
                          deltas when the final object is missing (see
                          steparc_convert_stats.rebuilt, messages_rebuilt) */
    int threads;       /* parsing threads for line-oriented input (JSONL); 0 or 1 = parse in
                          the caller. The records and their order do not depend on it. */
    /* Called now and then with progress; NULL for none. */
    void (*progress)(void *ctx, const steparc_convert_stats *s, uint64_t bytes_total);
    void *progress_ctx;
    /* Called for every skipped object or bad record with its location; NULL for none.
     * raw/raw_len is the skipped text when it is available (skip_invalid). */
    void (*skipped)(void *ctx, steparc_skip_reason why, const char *file, uint64_t line,
                    uint64_t column, const char *detail, const char *raw, size_t raw_len);
    void *skipped_ctx;
    int follow_symlinks; /* directory walks follow symbolic links to directories (loops are
                            detected and skipped); 0: such links are skipped and reported.
                            Links to files are always read. */
    int reserved_int_;     /* zero */
    uint64_t reserved_[3]; /* room to grow (see "Structs" at the top) */
} steparc_convert_options;

STEPARC_API void steparc_convert_options_init(steparc_convert_options *opt);

/* A converter feeds the records it finds into w (which it does not own; the
 * writer must outlive the converter). opt may be NULL.
 * @return 0, STEPARC_E_ARG (out or w NULL), STEPARC_E_NOMEM. */
STEPARC_API int steparc_converter_open(steparc_converter **out, steparc_writer *w,
                                       const steparc_convert_options *opt);

/* Converts one input: a file path, a directory (recursively: .json .jsonl
 * .ndjson .sse .txt, each also .zst), or "-" for standard input. .zst files
 * are decompressed as they are read. Memory stays bounded by the largest
 * record, whatever the input size.
 * @return 0; STEPARC_E_ARG (c or path NULL); STEPARC_E_INPUT for malformed
 *         input (the message gives FILE:LINE:COL: reason); STEPARC_E_IO;
 *         STEPARC_E_LIMIT; STEPARC_E_NOMEM; STEPARC_E_MISUSE (after an earlier
 *         error: the converter cannot be used further); and the writer's
 *         codes of steparc_writer_add_msgpack. */
STEPARC_API int steparc_converter_add_path(steparc_converter *c, const char *path);

/* Converts JSON text from memory, named `name` in messages.
 * @return as steparc_converter_add_path (STEPARC_E_ARG: c NULL, or data NULL
 *         with len). */
STEPARC_API int steparc_converter_add_memory(steparc_converter *c, const char *name,
                                             const void *data, size_t len);

STEPARC_API const steparc_convert_stats *steparc_converter_stats(const steparc_converter *c);
STEPARC_API const char *steparc_converter_errmsg(const steparc_converter *c);
/* NULL is a no-op. Does not finish or close the writer. */
STEPARC_API void steparc_converter_close(steparc_converter *c);

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct steparc_reader steparc_reader;

typedef struct {
    size_t cache_blocks; /* decompressed blocks kept for reuse; default 4; 0 = no cache */
    uint64_t reserved_[4]; /* room to grow (see "Structs" at the top) */
} steparc_reader_options;

STEPARC_API void steparc_reader_options_init(steparc_reader_options *opt);

/* Opens an archive file (memory-mapped). Open reads the footer, the section
 * table and the block index, and checks their checksums and every structural
 * rule of docs/FORMAT.md 8.1, 9, 10 and 11 (steparc_writer_open_append refuses
 * the same archives with the same message); it does not touch the
 * data blocks, and the other sections (id index, postings, dictionary) are
 * checked on first use. opt may be NULL. On failure *out is NULL and there is
 * no reader for steparc_reader_errmsg(), so pass errbuf (may be NULL) to get
 * the detail, NUL-terminated and truncated to errbuf_size.
 * @return 0, STEPARC_E_ARG (out or path NULL), STEPARC_E_IO, STEPARC_E_CORRUPT,
 *         STEPARC_E_VERSION, STEPARC_E_NOMEM. */
STEPARC_API int steparc_reader_open(steparc_reader **out, const char *path,
                                    const steparc_reader_options *opt, char *errbuf,
                                    size_t errbuf_size);

/* Same, over a caller buffer that must stay valid and unchanged until close.
 * @return 0, STEPARC_E_ARG (out NULL, or data NULL with len), STEPARC_E_CORRUPT,
 *         STEPARC_E_VERSION, STEPARC_E_NOMEM. */
STEPARC_API int steparc_reader_open_memory(steparc_reader **out, const void *data, size_t len,
                                           const steparc_reader_options *opt, char *errbuf,
                                           size_t errbuf_size);

/* Closes the reader; every cursor on it must be closed first. NULL is a no-op. */
STEPARC_API void steparc_reader_close(steparc_reader *r);

/* Detail of the calling thread's last failure on r (never NULL). */
STEPARC_API const char *steparc_reader_errmsg(const steparc_reader *r);

/* Number of records. */
STEPARC_API uint64_t steparc_reader_count(const steparc_reader *r);

/* Summary of an archive, from its footer and statistics. */
typedef struct {
    unsigned format_major, format_minor;
    uint64_t records;
    uint64_t blocks;
    uint64_t file_size;
    uint64_t raw_bytes;      /* MessagePack bytes of all records */
    uint64_t stored_bytes;   /* block payload bytes on disk */
    int64_t min_created_at;  /* INT64_MAX when no record has one */
    int64_t max_created_at;  /* INT64_MIN when no record has one */
    int time_ordered;        /* blocks' created_at ranges do not overlap and ascend */
    unsigned sections;       /* index sections present */
    int has_id_index, has_run_index, has_thread_index, has_stats;
    uint64_t ignored_tail_bytes; /* bytes after the last valid footer: an append was
                                    interrupted; the archive reads as it was before it.
                                    steparc_verify reports them as damage. */
    uint64_t columnar_blocks;    /* blocks in the columnar layout (the others are rows) */
    int has_block_kinds;         /* a block kinds section (format 1.3): kind filters skip
                                    blocks (taken from the reserved_ tail) */
    int reserved_int_;           /* zero */
    uint64_t reserved_[6];       /* room to grow (see "Structs" at the top) */
} steparc_info;
/* @return 0, STEPARC_E_ARG (info or r NULL). Records per kind:
 * steparc_reader_kind_counts. */
STEPARC_API int steparc_reader_info(steparc_info *info, const steparc_reader *r);

/* Records per kind, counts[STEPARC_KIND_*], from the statistics section's
 * "by_kind" map (format 1.3; a key that names no kind counts as
 * STEPARC_KIND_OTHER). Archives without that map (1.0 to 1.2) do not record
 * the kinds: the counts are then unknown, not guessed (*counts all 0 and
 * STEPARC_E_NOTFOUND); count them with a cursor if needed. Reads and checks
 * the statistics section on first use; thread rules as the other lookups.
 * @return 0, STEPARC_E_ARG (counts or r NULL), STEPARC_E_NOTFOUND (no
 *         statistics, or no by_kind in them), STEPARC_E_CORRUPT (the
 *         statistics section fails its checksum or is not a valid map). */
STEPARC_API int steparc_reader_kind_counts(uint64_t counts[STEPARC_KINDS], steparc_reader *r);

/* Block cache counters since open: lookups served from the cache (hits) and
 * blocks read and decompressed (misses). */
STEPARC_API void steparc_reader_cache_stats(uint64_t *hits, uint64_t *misses,
                                            const steparc_reader *r);

/* Record n (0-based ordinal) as MessagePack bytes, canonical JSON or a typed
 * step. Buffers are replaced; *out is the caller's to free with steparc_step_free.
 * @return 0, STEPARC_E_ARG (out or r NULL), STEPARC_E_NOTFOUND (n >= count),
 *         STEPARC_E_CORRUPT (its block is damaged, or the record is not valid
 *         MessagePack; other blocks stay readable), STEPARC_E_NOMEM;
 *         steparc_reader_get_step also STEPARC_E_LIMIT (a record over STEPARC_MAX_RECORD_SIZE or
 *         STEPARC_MAX_DEPTH). */
STEPARC_API int steparc_reader_get_msgpack(steparc_buf *out, steparc_reader *r, uint64_t n);
STEPARC_API int steparc_reader_get_json(steparc_buf *out, steparc_reader *r, uint64_t n,
                                        unsigned flags);
STEPARC_API int steparc_reader_get_step(steparc_step **out, steparc_reader *r, uint64_t n);

/* Record n as a typed view of another kind (steparc_message_decode etc.). Like
 * steparc_reader_get_step, the record is decoded whatever its "object": check
 * the kind (steparc_record_kind, or the view's object.code) when it matters.
 * *out is the caller's to free with the matching _free; NULL on failure.
 * Thread rules as the other lookups.
 * @return 0, STEPARC_E_ARG (r or out NULL), STEPARC_E_NOTFOUND (n >= count),
 *         STEPARC_E_CORRUPT (its block is damaged, or the record is not a
 *         valid map), STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
STEPARC_API int steparc_reader_get_message(steparc_message **out, steparc_reader *r, uint64_t n);
STEPARC_API int steparc_reader_get_run(steparc_run **out, steparc_reader *r, uint64_t n);
STEPARC_API int steparc_reader_get_thread(steparc_thread **out, steparc_reader *r, uint64_t n);
STEPARC_API int steparc_reader_get_assistant(steparc_assistant **out, steparc_reader *r,
                                             uint64_t n);

/* Ordinal of the record whose "id" equals (id, len), through the id index.
 * When several records share the id (archives written with duplicates kept),
 * the first one.
 * @return 0, STEPARC_E_ARG (ordinal or r NULL, or id NULL with len),
 *         STEPARC_E_NOTFOUND (no such id, or no id index), STEPARC_E_CORRUPT,
 *         STEPARC_E_NOMEM. */
STEPARC_API int steparc_reader_find_id(uint64_t *ordinal, steparc_reader *r, const char *id,
                                       size_t len);

/* ------------------------------------------------------------------------ */
/* Export: every record as JSONL, on several threads                          */
/* ------------------------------------------------------------------------ */

/* Write each record through the typed view of its kind (steparc_view_to_json:
 * a check of the typed path; the output is the same bytes). */
#define STEPARC_EXPORT_VIA_VIEW 0x100u

typedef struct {
    unsigned flags;      /* STEPARC_JSON_PRETTY, STEPARC_EXPORT_VIA_VIEW; 0: canonical JSON */
    int threads;         /* 1 (default) or 0: the calling thread only; up to 256 */
    int has_range;
    uint64_t range_from, range_to; /* with has_range: only ordinals in [range_from, range_to),
                                      clipped to the archive */
    uint32_t kinds;      /* as steparc_filter.kinds: 0 every kind, else the records whose
                            STEPARC_KIND_BIT(kind) is set */
    uint32_t reserved32_;
    uint64_t reserved_[3]; /* room to grow (see "Structs" at the top) */
} steparc_export_options;

STEPARC_API void steparc_export_options_init(steparc_export_options *opt);

/* Writes the records (all, or opt's range) in archive order as JSONL: each
 * record's JSON (as steparc_msgpack_to_json, with opt->flags) and a newline.
 * The output is the same for every thread count. With threads > 1, workers
 * build the JSON of chunks of 2048 records in parallel (up to 2 chunks per
 * thread held in memory); `write` is always called on the calling thread, in
 * order, with whole records only; it returns 0, or nonzero to stop the export.
 * On a damaged block, the records before it are written, then the export
 * stops. *written (may be NULL) counts the records written, also on failure.
 * opt may be NULL (the defaults). r may be used by other threads meanwhile;
 * the message of a failure is steparc_reader_errmsg(r) on the calling thread.
 * @return 0, STEPARC_E_ARG (r or write NULL, threads outside 0..256, an unknown
 *         flag), STEPARC_E_CORRUPT (a damaged block or record), STEPARC_E_INPUT /
 *         STEPARC_E_LIMIT (STEPARC_EXPORT_VIA_VIEW: a record the views cannot
 *         hold), STEPARC_E_IO (write returned nonzero), STEPARC_E_NOMEM. */
STEPARC_API int steparc_reader_export(uint64_t *written, steparc_reader *r,
                                      const steparc_export_options *opt,
                                      int (*write)(void *ctx, const void *data, size_t len),
                                      void *ctx);

/* Same, written to the file descriptor fd (which stays open; not flushed or
 * synced).
 * @return as steparc_reader_export; STEPARC_E_ARG also for fd < 0;
 *         STEPARC_E_IO: write(2) failed (errno in the message). */
STEPARC_API int steparc_reader_export_fd(uint64_t *written, steparc_reader *r,
                                         const steparc_export_options *opt, int fd);

/* ------------------------------------------------------------------------ */
/* Cursors: filtered iteration in archive order, constant memory              */
/* ------------------------------------------------------------------------ */

/* A filter; zero-initialise it, then set what you need. String fields with a
 * NULL ptr are unset. The time range is inclusive. Every field set must hold.
 * run_id, thread_id and assistant_id match a record whose field of that name
 * equals the value, or the run, thread or assistant itself (a record of kind
 * STEPARC_KIND_RUN, _THREAD or _ASSISTANT whose "id" equals it): a thread
 * filter gives the thread, its messages, runs and steps. kinds (0: every
 * kind) keeps the records whose kind (steparc_record_kind) has its bit
 * STEPARC_KIND_BIT(kind) set; with an archive's block kinds section (format
 * 1.3) the blocks holding no wanted kind are skipped undecoded. */
typedef struct {
    steparc_str run_id;       /* uses the run postings (and the id index) */
    steparc_str thread_id;    /* uses the thread postings (and the id index) */
    steparc_str assistant_id; /* uses the assistant postings (and the id index) */
    int has_since;
    int64_t since;            /* created_at >= since (uses block zone maps) */
    int has_until;
    int64_t until;            /* created_at <= until */
    steparc_str status;       /* top-level "status" equals this (checked per record) */
    steparc_str type;         /* top-level "type" equals this */
    steparc_str tool;         /* some step_details.tool_calls[].type equals this
                                 ("function", "code_interpreter", "retrieval", ...) */
    int has_range;
    uint64_t range_from, range_to; /* only ordinals in [range_from, range_to), with has_range:
                                      split an export across threads */
    uint32_t kinds;           /* OR of STEPARC_KIND_BIT(k); 0: every kind (taken from the
                                 reserved_ tail: 0 is what older callers pass) */
    uint32_t reserved32_;     /* zero */
    uint64_t reserved_[3];    /* room to grow (see "Structs" at the top) */
} steparc_filter;

typedef struct steparc_cursor steparc_cursor;

/* Opens a cursor over the records that match f (NULL: all), in archive order.
 * The cursor uses its own buffers; the reader must outlive it.
 * @return 0, STEPARC_E_ARG (out or r NULL), STEPARC_E_NOMEM, STEPARC_E_CORRUPT
 *         (a damaged postings, id index or block kinds section). */
STEPARC_API int steparc_cursor_open(steparc_cursor **out, steparc_reader *r,
                                    const steparc_filter *f);

/* Advances to the next match. On 0, *ordinal is its ordinal and (*mp, *mp_len)
 * its MessagePack bytes, valid until the next call on this cursor.
 * @return 0, STEPARC_END, STEPARC_E_ARG (a NULL argument), STEPARC_E_CORRUPT (a
 *         damaged block; the cursor stays usable and continues with the next
 *         block on the next call), STEPARC_E_NOMEM. */
STEPARC_API int steparc_cursor_next(uint64_t *ordinal, const void **mp, size_t *mp_len,
                                    steparc_cursor *c);

/* Blocks this cursor has decompressed or fetched from the cache so far
 * (blocks skipped through the postings, zone maps or block kinds are not
 * counted). */
STEPARC_API uint64_t steparc_cursor_blocks_read(const steparc_cursor *c);

STEPARC_API const char *steparc_cursor_errmsg(const steparc_cursor *c);

/* NULL is a no-op. */
STEPARC_API void steparc_cursor_close(steparc_cursor *c);

/* ------------------------------------------------------------------------ */
/* Verification                                                              */
/* ------------------------------------------------------------------------ */

/* One problem found by steparc_verify. */
typedef struct {
    int64_t block;        /* block number, or -1 when the problem is not in a block */
    uint64_t offset;      /* file offset of the damaged structure */
    char what[200];
} steparc_problem;

/* Checks every checksum and every index of an open archive against the data:
 * each block decompresses, its records are valid, ordinals and time ranges
 * match the block index, the id index and postings point where they should,
 * statistics match. Calls report (if non-NULL) for each problem.
 * @return 0 (intact), STEPARC_E_ARG (r NULL), STEPARC_E_CORRUPT (problems found;
 *         *nproblems counts them), STEPARC_E_NOMEM. */
STEPARC_API int steparc_verify(uint64_t *nproblems, steparc_reader *r,
                               void (*report)(void *ctx, const steparc_problem *p), void *ctx);

/* ------------------------------------------------------------------------ */
/* Recovery                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    uint64_t blocks_saved;     /* blocks that passed every check; their records were written */
    uint64_t blocks_damaged;   /* block headers found whose block failed a check */
    uint64_t records_saved;
    int footer_found;          /* a valid footer (or, without one, a block index listing
                                  exactly the blocks found) was found: records_expected
                                  is known */
    uint64_t records_expected;
    uint64_t reserved_[8];     /* room to grow (see "Structs" at the top) */
} steparc_recover_report;

/* Saves every intact block of a damaged archive image (data, len): scans for
 * the sync marker (the header's, or the default one when the header is
 * damaged), checks each block completely (header CRC, sizes, payload CRC,
 * decompression, every record) and adds the records of the intact ones to w,
 * in file order, continuing past damaged regions. The footer and indexes are
 * not needed. report (may be NULL) is called for each damaged block.
 * Blocks carry their first ordinal, so blocks that vanished entirely (a
 * damaged sync marker) show as a gap, counted in blocks_damaged and reported.
 * Nothing was lost when footer_found, blocks_damaged == 0 and records_saved ==
 * records_expected; without a valid footer (a truncated file) the count of the
 * records after the cut is unknown, so loss cannot be ruled out.
 * @return 0 (the scan ran; see *rep), STEPARC_E_ARG (rep or w NULL, or data
 *         NULL with len), STEPARC_E_NOMEM, or a code of
 *         steparc_writer_add_msgpack (w then holds the message). */
STEPARC_API int steparc_recover(steparc_recover_report *rep, const void *data, size_t len,
                                steparc_writer *w,
                                void (*report)(void *ctx, const steparc_problem *p), void *ctx);

/* ------------------------------------------------------------------------ */
/* Thread view and transcripts                                               */
/* ------------------------------------------------------------------------ */

typedef struct steparc_thread_view steparc_thread_view;

/* A step whose message_creation names a message the archive does not hold. */
#define STEPARC_TV_MISSING_MESSAGE 1u

/* One record of a thread view. mp is the record's MessagePack, valid until
 * the next call on the view (or its close). */
typedef struct {
    int kind;          /* STEPARC_KIND_THREAD, _MESSAGE, _RUN or _STEP */
    unsigned flags;    /* STEPARC_TV_* */
    uint64_t ordinal;
    const void *mp;
    size_t mp_len;
    uint64_t reserved_[4]; /* room to grow (see "Structs" at the top) */
} steparc_tv_entry;

/* Opens a view of thread (thread_id, len) in transcript order: the thread
 * record first, then its messages oldest first (created_at, ties by ordinal),
 * each run's steps (by created_at, then ordinal) placed where they happened:
 * before the message their run's message_creation step creates, a run and its
 * tool calls after the message that started it; each run record just before
 * its steps. A message_creation step whose message is missing carries
 * STEPARC_TV_MISSING_MESSAGE and stays at its time. Records of other kinds
 * that name the thread are left out. Open reads the thread's records once
 * (through the thread postings) and keeps their ordinals and ids, not the
 * records; next() reads each record again. The reader must outlive the view;
 * a view belongs to one thread at a time (the reader may be shared).
 * A thread with no records gives an empty view (next: STEPARC_END).
 * @return 0, STEPARC_E_ARG (out or r NULL, or an empty id), STEPARC_E_CORRUPT
 *         (a damaged block or index: the view is not opened), STEPARC_E_INPUT
 *         (a record of the thread is not a valid record), STEPARC_E_LIMIT,
 *         STEPARC_E_NOMEM. */
STEPARC_API int steparc_thread_view_open(steparc_thread_view **out, steparc_reader *r,
                                         const char *thread_id, size_t len);

/* The next record. @return 0 (*entry set), STEPARC_END, STEPARC_E_ARG (a NULL
 * argument), STEPARC_E_CORRUPT (its block is damaged), STEPARC_E_NOMEM. */
STEPARC_API int steparc_thread_view_next(steparc_tv_entry *entry, steparc_thread_view *v);

/* Records in the view (0 for NULL). */
STEPARC_API size_t steparc_thread_view_count(const steparc_thread_view *v);

/* NULL is a no-op. */
STEPARC_API void steparc_thread_view_close(steparc_thread_view *v);

enum { STEPARC_TR_TEXT = 0, STEPARC_TR_MARKDOWN = 1, STEPARC_TR_HTML = 2 };
#define STEPARC_TR_COLOR 1u /* text: ANSI colours */
#define STEPARC_TR_INDEX 2u /* html: only the index page, linking THREAD.html files */

typedef struct {
    int format;             /* STEPARC_TR_* */
    unsigned flags;         /* STEPARC_TR_COLOR, STEPARC_TR_INDEX */
    unsigned width;         /* text: wrap to this many columns; 0: no wrapping */
    int has_since;
    int64_t since;          /* only messages, runs and steps created at or after */
    int has_until;
    int64_t until;          /* ... and at or before (inclusive) */
    steparc_str run_id;     /* only this run, its steps and its messages */
    const steparc_str *threads; /* the threads, in this order */
    size_t nthreads;
    uint64_t reserved_[4];  /* room to grow (see "Structs" at the top) */
} steparc_transcript_options;

STEPARC_API void steparc_transcript_options_init(steparc_transcript_options *opt);

/* Renders the transcripts of opt->threads (each through a thread view) into
 * out (replaced): text (wrapped to width; ANSI colours with STEPARC_TR_COLOR),
 * Markdown, or one self-contained HTML page (inline CSS and script, no
 * network; several threads get an index at the top; every text HTML-escaped).
 * Messages with their text, numbered citations naming the file (a file
 * record's or a file_search result's file name, else the id), images by file
 * id, refusals; between them each run (status, model, tokens) and its steps:
 * tool calls with names, arguments (pretty when JSON) and outputs, code
 * interpreter input and logs, file search results, errors; times in UTC ISO
 * 8601. Pure over the reader: no I/O besides reading it. Thread rules as
 * the thread view; the message of a failure is steparc_reader_errmsg(r).
 * @return 0, STEPARC_E_ARG (out, r or opt NULL, no threads, a bad format or
 *         flag), STEPARC_E_NOTFOUND (a thread with no records), and the codes
 *         of steparc_thread_view_open/next. */
STEPARC_API int steparc_transcript_render(steparc_buf *out, steparc_reader *r,
                                          const steparc_transcript_options *opt);
/* Rewrite: deletion requests and redaction                                  */
/* ------------------------------------------------------------------------ */

/* What steparc_rewrite drops and redacts. Zero-initialise it, then set what
 * you need; every string is NUL-terminated, every list (array, count) may be
 * (NULL, 0). The rules are checked before any record is read.
 * - drop_threads: a record is dropped when its thread_id, or for a thread its
 *   own id, is one of them (a thread takes its messages, runs and steps).
 * - drop_assistants: likewise with assistant_id, or an assistant's own id.
 * - drop_where: "KEY=VALUE"; a record is dropped when the string value at KEY
 *   (a dotted path of object members from the top level, e.g.
 *   "metadata.user") equals VALUE byte for byte.
 * - redact: dotted paths ("metadata.user",
 *   "step_details.tool_calls.*.function.output"); "*" is every array item or
 *   every object member, a decimal number one array item; the value found
 *   there (whatever its type) becomes the string "[redacted]".
 * - redact_text: POSIX extended regular expressions (regcomp, REG_EXTENDED),
 *   compiled and run in the C.UTF-8 locale whatever the caller's (set for
 *   the calling thread during the call, with uselocale; "." is one UTF-8
 *   character; plain C, bytes, where the system lacks C.UTF-8); each
 *   non-empty match inside a string value (object keys untouched) becomes
 *   "[redacted]", after the path rules (their "[redacted]" strings included),
 *   one expression after another. A replacement that would leave invalid
 *   UTF-8 is refused (STEPARC_E_INPUT).
 * At most STEPARC_REWRITE_MAX_RULES of each list. */
#define STEPARC_REWRITE_MAX_RULES 64
#define STEPARC_REWRITE_IDS 16      /* dropped ids kept in the report */
#define STEPARC_REWRITE_ID_SIZE 128 /* bytes per kept id, NUL included (longer ones cut) */
typedef struct {
    const char *const *drop_threads;
    size_t n_drop_threads;
    const char *const *drop_assistants;
    size_t n_drop_assistants;
    const char *const *drop_where;
    size_t n_drop_where;
    const char *const *redact;
    size_t n_redact;
    const char *const *redact_text;
    size_t n_redact_text;
    uint64_t reserved_[4]; /* room to grow (see "Structs" at the top) */
} steparc_rewrite_options;

/* What steparc_rewrite did (or, without a writer, would do). */
typedef struct {
    uint64_t records_in;                 /* records read */
    uint64_t records_out;                /* records written (or that would be) */
    uint64_t records_redacted;           /* of those, records with a value changed */
    uint64_t dropped;                    /* records dropped */
    uint64_t dropped_by_kind[STEPARC_KINDS]; /* by STEPARC_KIND_* */
    uint32_t dropped_ids_count;          /* ids kept below: min(dropped with an id, IDS) */
    char dropped_ids[STEPARC_REWRITE_IDS][STEPARC_REWRITE_ID_SIZE]; /* the first dropped ids */
    uint64_t redacted[STEPARC_REWRITE_MAX_RULES];      /* values replaced, per opt->redact[i] */
    uint64_t redacted_text[STEPARC_REWRITE_MAX_RULES]; /* matches replaced, per redact_text[i] */
    char errmsg[256];                    /* on failure, the reason ("" otherwise) */
    uint64_t reserved_[8];               /* room to grow (see "Structs" at the top) */
} steparc_rewrite_report;

/* Copies every record of r, in archive order, to w except the dropped ones,
 * with the redactions of opt applied. A record no rule changes is added as
 * its exact MessagePack bytes; a redacted one is re-encoded canonically
 * (FORMAT.md 6.1). w should be a fresh writer (steparc_writer_open, dedup 0)
 * so that its indexes, statistics and dictionary come from the kept records
 * only; the caller finishes (or, on failure, closes) it. w may be NULL: a dry
 * run that fills *rep and writes nothing. rep->errmsg says why on failure.
 * Thread safety: r and w are used by this call alone while it runs.
 * @return 0, STEPARC_E_ARG (rep, r or opt NULL, or a bad rule: a path with an
 *         empty member, a KEY=VALUE without "=", an expression regcomp refuses,
 *         too many rules), STEPARC_E_CORRUPT (a damaged block of r), STEPARC_E_INPUT
 *         (a redaction that would leave invalid UTF-8), STEPARC_E_NOMEM, or a code
 *         of steparc_writer_add_msgpack (w's message is copied to rep->errmsg). */
STEPARC_API int steparc_rewrite(steparc_rewrite_report *rep, steparc_reader *r, steparc_writer *w,
                                const steparc_rewrite_options *opt);

#ifdef __cplusplus
}
#endif
#endif /* STEPARC_H */
