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
 *   steparc_cursor, a steparc_writer and a steparc_step belong to one thread at
 *   a time. steparc_reader_errmsg() reports the last failure of the calling
 *   thread on that reader.
 *
 * Memory
 *   Output buffers are steparc_buf: zero-initialise one, pass it to as many
 *   calls as you like (each call overwrites its contents and grows it as
 *   needed), release it with steparc_buf_free().
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

/* Library version; the Makefile reads these three lines for the soname. */
#define STEPARC_VERSION_MAJOR 0
#define STEPARC_VERSION_MINOR 1
#define STEPARC_VERSION_PATCH 0
#define STEPARC_VERSION_NUMBER \
    (STEPARC_VERSION_MAJOR * 10000 + STEPARC_VERSION_MINOR * 100 + STEPARC_VERSION_PATCH)
#define STEPARC_VERSION_STRING "0.1.0"

/* On-disk format version written by this library (docs/FORMAT.md). Separate
 * from the library version: a library reads every format with the same major. */
#define STEPARC_FORMAT_MAJOR 1
#define STEPARC_FORMAT_MINOR 2

/* Run-time library version, as STEPARC_VERSION_NUMBER and as "0.1.0". */
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
    STEPARC_OBJECT_TAIL; /* e.g. prompt_token_details, completion_tokens_details */
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
 * @return 0, STEPARC_E_INPUT (not a valid record), STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
STEPARC_API int steparc_step_decode(const void *mp, size_t len, steparc_step **out);

/* Frees a step returned by the library, with everything it owns. NULL is a no-op.
 * Never call it on a steparc_step you built yourself. */
STEPARC_API void steparc_step_free(steparc_step *step);

/* Encodes a step (decoded or built in code) as a MessagePack record into out.
 * A decoded step re-encodes to exactly the bytes it was decoded from when
 * those were in the canonical (smallest) MessagePack forms, as every steparc
 * writer produces them; other forms a reader accepts (float32, oversized
 * headers) re-encode to the canonical form of the same values.
 * @return 0, STEPARC_E_ARG (inconsistent struct: NULL ptr with len, bad slot,
 *         invalid UTF-8, state out of range), STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
STEPARC_API int steparc_step_encode(const steparc_step *step, steparc_buf *out);

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
 * flags: STEPARC_JSON_REQUIRE_OBJECT demands a top-level object. */
#define STEPARC_JSON_REQUIRE_OBJECT 1u
STEPARC_API int steparc_json_to_msgpack(const char *json, size_t len, unsigned flags,
                                        steparc_buf *out, steparc_json_error *err);

/* Writes MessagePack as canonical JSON into out (replacing its contents):
 * compact, keys in stored order, strings as UTF-8 with only '"', '\\' and
 * U+0000..U+001F escaped, floats in the shortest text that reads back to the
 * same double, formatted as Python's repr. Equals Python's
 * json.dumps(v, ensure_ascii=False, separators=(",", ":")).
 * STEPARC_JSON_PRETTY indents by two spaces instead (Python's indent=2).
 * STEPARC_JSON_APPEND appends to out instead of replacing its contents (and
 * on failure leaves it as it was): exports build big buffers without copies.
 * @return 0, STEPARC_E_CORRUPT (not valid record MessagePack), STEPARC_E_NOMEM. */
#define STEPARC_JSON_PRETTY 2u
#define STEPARC_JSON_APPEND 4u
STEPARC_API int steparc_msgpack_to_json(const void *mp, size_t len, unsigned flags, steparc_buf *out);

/* Writes a step as JSON, through its typed fields (same rules as above). */
STEPARC_API int steparc_step_to_json(const steparc_step *step, unsigned flags, steparc_buf *out);

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
    int reserved_[6];      /* zero (options_init); room for new options without an ABI change */
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
 *         first), STEPARC_E_VERSION, STEPARC_E_ARG, STEPARC_E_NOMEM. */
STEPARC_API int steparc_writer_open_append(steparc_writer **out, const char *path,
                                           const steparc_writer_options *opt, char *errbuf,
                                           size_t errbuf_size);

/* Adds one record given as JSON text (one object). On STEPARC_E_INPUT the
 * record is not added, the writer stays usable, and *err (when non-NULL)
 * locates the problem within `json`. */
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
 * On failure the temporary file is removed and path is untouched. */
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
 * '{' objects (a step, a list page, concatenated or one per line), "event:" /
 * "data:" an event stream. */
typedef enum {
    STEPARC_IN_AUTO = 0,
    STEPARC_IN_JSONL = 1,  /* one JSON value per line (also NDJSON) */
    STEPARC_IN_JSON = 2,   /* one or more JSON values: objects, arrays, list pages */
    STEPARC_IN_SSE = 3     /* event-stream capture: "event: ..." / "data: {...}" lines */
} steparc_input_format;

typedef struct steparc_converter steparc_converter;

/* Why an object was not archived. */
typedef enum {
    STEPARC_SKIP_NOT_A_STEP = 0, /* "object" is missing or is not "thread.run.step" */
    STEPARC_SKIP_NO_ID = 1,      /* a run step without a string "id" */
    STEPARC_SKIP_DELTA = 2,      /* a thread.run.step.delta (its final object carries it all) */
    STEPARC_SKIP_EVENT = 3,      /* an event-stream event that is not a run step */
    STEPARC_SKIP_INVALID = 4,    /* malformed JSON skipped under skip_invalid */
    STEPARC_SKIP_REASONS = 5
} steparc_skip_reason;

typedef struct {
    uint64_t inputs;             /* files (or streams) read */
    uint64_t input_bytes;        /* bytes read (decompressed, for .zst inputs) */
    uint64_t objects;            /* JSON objects seen at record level */
    uint64_t records;            /* records handed to the writer */
    uint64_t rebuilt;            /* of which: steps rebuilt from deltas (event streams cut
                                    before a step's final object) */
    uint64_t unrebuilt;          /* steps whose deltas could not be applied (no step object) */
    uint64_t skipped[STEPARC_SKIP_REASONS];
} steparc_convert_stats;

typedef struct {
    steparc_input_format format;
    int strict;        /* objects that are not run steps are an error, not skipped */
    int skip_invalid;  /* skip malformed JSON (to the next line / record) instead of failing */
    int no_rebuild;    /* event streams: do not rebuild steps from their deltas when the
                          final object is missing (see steparc_convert_stats.rebuilt) */
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
    int reserved_[8];  /* zero (options_init); room for new options without an ABI change */
} steparc_convert_options;

STEPARC_API void steparc_convert_options_init(steparc_convert_options *opt);

/* A converter feeds the records it finds into w (which it does not own; the
 * writer must outlive the converter). opt may be NULL. */
STEPARC_API int steparc_converter_open(steparc_converter **out, steparc_writer *w,
                                       const steparc_convert_options *opt);

/* Converts one input: a file path, a directory (recursively: .json .jsonl
 * .ndjson .sse .txt, each also .zst), or "-" for standard input. .zst files
 * are decompressed as they are read. Memory stays bounded by the largest
 * record, whatever the input size.
 * @return 0; STEPARC_E_INPUT for malformed input (the message gives
 *         FILE:LINE:COL: reason); STEPARC_E_IO; STEPARC_E_LIMIT; errors of
 *         the writer. After an error the converter cannot be used further. */
STEPARC_API int steparc_converter_add_path(steparc_converter *c, const char *path);

/* Converts JSON text from memory, named `name` in messages. */
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
    int reserved_[8];    /* zero (options_init); room for new options without an ABI change */
} steparc_reader_options;

STEPARC_API void steparc_reader_options_init(steparc_reader_options *opt);

/* Opens an archive file (memory-mapped). Open reads the footer, the section
 * table and the block index, and checks their checksums and every structural
 * rule of docs/FORMAT.md 8.1, 9, 10 and 11 (steparc_writer_open_append refuses
 * the same archives with the same message); it does not touch the
 * data blocks, and the other sections (id index, postings, dictionary) are
 * checked on first use. opt may be NULL. On failure *out is NULL; steparc_open_errmsg()
 * is not available, so pass errbuf (may be NULL) to get the detail.
 * @return 0, STEPARC_E_IO, STEPARC_E_CORRUPT, STEPARC_E_VERSION, STEPARC_E_NOMEM. */
STEPARC_API int steparc_reader_open(steparc_reader **out, const char *path,
                                    const steparc_reader_options *opt, char *errbuf,
                                    size_t errbuf_size);

/* Same, over a caller buffer that must stay valid and unchanged until close. */
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
    uint64_t reserved_[7];       /* zero; room for new figures without an ABI change */
} steparc_info;
STEPARC_API int steparc_reader_info(const steparc_reader *r, steparc_info *info);

/* Block cache counters since open: lookups served from the cache (hits) and
 * blocks read and decompressed (misses). */
STEPARC_API void steparc_reader_cache_stats(const steparc_reader *r, uint64_t *hits,
                                            uint64_t *misses);

/* Record n (0-based ordinal) as MessagePack bytes, canonical JSON or a typed
 * step. Buffers are replaced; *out is the caller's to free with steparc_step_free.
 * @return 0, STEPARC_E_NOTFOUND (n >= count), STEPARC_E_CORRUPT (its block is
 *         damaged; other blocks stay readable), STEPARC_E_NOMEM. */
STEPARC_API int steparc_reader_get_msgpack(steparc_reader *r, uint64_t n, steparc_buf *out);
STEPARC_API int steparc_reader_get_json(steparc_reader *r, uint64_t n, unsigned flags,
                                        steparc_buf *out);
STEPARC_API int steparc_reader_get_step(steparc_reader *r, uint64_t n, steparc_step **out);

/* Ordinal of the record whose "id" equals (id, len), through the id index.
 * When several records share the id (archives written with duplicates kept),
 * the first one. @return 0, STEPARC_E_NOTFOUND, STEPARC_E_CORRUPT. */
STEPARC_API int steparc_reader_find_id(steparc_reader *r, const char *id, size_t len,
                                       uint64_t *ordinal);

/* ------------------------------------------------------------------------ */
/* Cursors: filtered iteration in archive order, constant memory              */
/* ------------------------------------------------------------------------ */

/* A filter; zero-initialise it, then set what you need. String fields with a
 * NULL ptr are unset. The time range is inclusive. */
typedef struct {
    steparc_str run_id;       /* uses the run postings */
    steparc_str thread_id;    /* uses the thread postings */
    steparc_str assistant_id; /* uses the assistant postings */
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
} steparc_filter;

typedef struct steparc_cursor steparc_cursor;

/* Opens a cursor over the records that match f (NULL: all), in archive order.
 * The cursor uses its own buffers; the reader must outlive it.
 * @return 0, STEPARC_E_ARG, STEPARC_E_NOMEM, STEPARC_E_CORRUPT. */
STEPARC_API int steparc_cursor_open(steparc_reader *r, const steparc_filter *f,
                                    steparc_cursor **out);

/* Advances to the next match. On 0, *ordinal is its ordinal and (*mp, *mp_len)
 * its MessagePack bytes, valid until the next call on this cursor.
 * @return 0, STEPARC_END, STEPARC_E_CORRUPT (a damaged block; the cursor stays
 *         usable and continues with the next block on the next call). */
STEPARC_API int steparc_cursor_next(steparc_cursor *c, uint64_t *ordinal, const void **mp,
                                    size_t *mp_len);

/* Blocks this cursor has decompressed or fetched from the cache so far. */
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
 * @return 0 (intact), STEPARC_E_CORRUPT (problems found; *nproblems counts them),
 *         STEPARC_E_NOMEM. */
STEPARC_API int steparc_verify(steparc_reader *r,
                               void (*report)(void *ctx, const steparc_problem *p),
                               void *ctx, uint64_t *nproblems);

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
    uint64_t reserved_[8];
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
 * @return 0 (the scan ran; see *rep), or an error of the writer (w then holds
 *         the message), STEPARC_E_ARG, STEPARC_E_NOMEM. */
STEPARC_API int steparc_recover(const void *data, size_t len, steparc_writer *w,
                                steparc_recover_report *rep,
                                void (*report)(void *ctx, const steparc_problem *p), void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* STEPARC_H */
