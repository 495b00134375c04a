/* typed.h - the typed record views (internal): one table-driven engine that
 * binds a record's generic value tree to a struct and packs the struct back,
 * and the per-kind tables (step.c, message.c, run.c, assistant.c) that
 * describe each struct to it.
 *
 * A struct described by an sa_objdesc ends with STEPARC_OBJECT_TAIL (extras and
 * key order, at extra_off / order_off). Each field is one of the steparc_opt_*
 * types, or a {state, v, other} object wrapper, or a {state, items, count,
 * other} array wrapper; all start with their steparc_presence. */
#ifndef STEPARC_TYPED_H
#define STEPARC_TYPED_H

#include <stddef.h>

#include "record.h"

typedef enum {
    K_STR,    /* steparc_opt_str */
    K_ENUM,   /* steparc_opt_enum, names[] by code */
    K_INT,    /* steparc_opt_int */
    K_NUM,    /* steparc_opt_num */
    K_VALUE,  /* steparc_opt_value */
    K_OBJ,    /* {state, v, other}: v described by sub */
    K_ARR,    /* {state, items, count, other}: items described by sub */
    K_BOOL,   /* steparc_opt_bool */
    K_STRS    /* steparc_opt_strs: an array of strings */
} sa_fieldkind;

typedef struct sa_objdesc sa_objdesc;

typedef struct {
    const char *name;
    sa_fieldkind k;
    size_t off;            /* the field (opt struct, or the {state, v|items..} struct) */
    size_t v_off;          /* K_OBJ: offset of v; K_ARR: offset of items (within parent) */
    size_t o_off;          /* K_OBJ: offset of other (within parent) */
    const sa_objdesc *sub; /* K_OBJ / K_ARR element type */
    const char *const *names; /* K_ENUM: names by code, index 0 unused */
    int nnames;
} sa_fielddesc;

/* At most SA_MAX_FIELDS known fields per object (a bit each in a uint64_t). */
#define SA_MAX_FIELDS 64
struct sa_objdesc {
    size_t size;
    size_t extra_off, order_off;
    const sa_fielddesc *f;
    int nf;
};

/* Table macros, for the table files only. T is the struct type, m the member
 * (named as the JSON key), tbl a names array, d a sub-object descriptor. */
#define NN(a) a, (int)(sizeof(a) / sizeof(a[0]))
#define STR(T, m) {#m, K_STR, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define ENUM(T, m, tbl) {#m, K_ENUM, offsetof(T, m), 0, 0, NULL, NN(tbl)}
#define INT(T, m) {#m, K_INT, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define NUM(T, m) {#m, K_NUM, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define VAL(T, m) {#m, K_VALUE, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define BOOL(T, m) {#m, K_BOOL, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define STRS(T, m) {#m, K_STRS, offsetof(T, m), 0, 0, NULL, NULL, 0}
#define OBJ(T, m, d) {#m, K_OBJ, offsetof(T, m), offsetof(T, m.v), offsetof(T, m.other), &d, NULL, 0}
#define ARR(T, m, d) {#m, K_ARR, offsetof(T, m), offsetof(T, m.items), 0, &d, NULL, 0}
#define DESC(T, tbl) \
    {sizeof(T), offsetof(T, extra), offsetof(T, order), tbl, (int)(sizeof(tbl) / sizeof(tbl[0]))}

/* The "object" names of the kinds, indexed by STEPARC_KIND_* (the names
 * table of every view's object field, and of steparc_kind_of_object). */
#define SA_KIND_OBJECTS                                                                    \
    {NULL, "thread.run.step", "thread.message", "thread.run", "thread", "assistant", "file", \
     "vector_store", "vector_store.file"}

/* Sub-object tables more than one kind uses. */
extern const sa_objdesc sa_d_last_error;      /* step.c: steparc_last_error */
extern const sa_objdesc sa_d_ranking_options; /* step.c: steparc_ranking_options */
extern const sa_objdesc sa_d_tool_def;        /* assistant.c: steparc_tool_def */
extern const sa_objdesc sa_d_tool_resources;  /* assistant.c: steparc_tool_resources */
extern const sa_objdesc sa_d_incomplete;      /* message.c: steparc_incomplete_details */

/* Decodes record mp[0..len) into a new struct described by od, allocated with
 * everything it points to in one arena; the arena's handle is stored in the
 * struct's `void *internal_` at internal_off. *out is NULL on failure.
 * 0, STEPARC_E_ARG, STEPARC_E_INPUT, STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
int sa_typed_decode(void **out, const sa_objdesc *od, size_t internal_off, const void *mp,
                    size_t len);

/* Frees what sa_typed_decode allocated, given the struct's internal_ (NULL: no-op). */
void sa_typed_free(void *internal);

/* Packs obj (described by od) as a record into out (replaced).
 * 0, STEPARC_E_ARG, STEPARC_E_LIMIT, STEPARC_E_NOMEM. */
int sa_typed_encode(const sa_objdesc *od, const void *obj, steparc_buf *out);

/* Canonical JSON of obj (steparc_msgpack_to_json's flags). */
int sa_typed_to_json(const sa_objdesc *od, const void *obj, unsigned flags, steparc_buf *out);

/* A typed view's table and where its struct keeps the arena handle: what
 * steparc_view_to_json/_encode need to route a record by its kind. */
typedef struct {
    const sa_objdesc *desc;
    size_t internal_off;
} sa_view;
extern const sa_view sa_view_step, sa_view_message, sa_view_run, sa_view_thread,
    sa_view_assistant;

/* The four public calls of a typed view (steparc_NAME_decode/_free/_encode/
 * _to_json, declared in steparc.h) and its sa_view_NAME, the same for every
 * kind: written once. */
#define SA_TYPED_CALLS(NAME, T, DESC_)                                                    \
    int steparc_##NAME##_decode(T **out, const void *mp, size_t len)                      \
    {                                                                                     \
        if (out == NULL)                                                                  \
            return STEPARC_E_ARG;                                                         \
        void *p = NULL;                                                                   \
        int rc = sa_typed_decode(&p, &DESC_, offsetof(T, internal_), mp, len);            \
        *out = (T *)p;                                                                    \
        return rc;                                                                        \
    }                                                                                     \
    void steparc_##NAME##_free(T *obj)                                                    \
    {                                                                                     \
        if (obj != NULL)                                                                  \
            sa_typed_free(obj->internal_);                                                \
    }                                                                                     \
    int steparc_##NAME##_encode(steparc_buf *out, const T *obj)                           \
    {                                                                                     \
        return sa_typed_encode(&DESC_, obj, out);                                         \
    }                                                                                     \
    int steparc_##NAME##_to_json(steparc_buf *out, const T *obj, unsigned flags)          \
    {                                                                                     \
        return sa_typed_to_json(&DESC_, obj, flags, out);                                 \
    }                                                                                     \
    const sa_view sa_view_##NAME = {&DESC_, offsetof(T, internal_)};

#endif
