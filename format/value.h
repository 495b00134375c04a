/* value.h - the generic MessagePack value tree (steparc_value) of the library
 * (internal): the one decoder of MessagePack into a tree, in an arena, and
 * the one MessagePack writer (sa_mpw_*), which appends the canonical forms of
 * FORMAT.md 6.1 to a steparc_buf. The typed views (typed.c) and the delta
 * rebuild (converter/delta.c) use both. The writer's integers and string
 * headers are record.h's sa_mp_put_* (the primitive layer the JSON parser and
 * the columnar codec call directly, in their hot loops). Pure functions over
 * buffers. */
#ifndef STEPARC_VALUE_H
#define STEPARC_VALUE_H

#include "record.h"

/* ---- arena ---------------------------------------------------------------- */

/* Memory freed all at once: chunks of at least `chunk` bytes (16 KiB when 0),
 * one larger chunk for a larger request. Zero-initialise (or set chunk). */
typedef struct sa_chunk sa_chunk;
typedef struct {
    sa_chunk *head;
    size_t chunk;
} sa_arena;

/* n bytes aligned for any type (n == 0 gives a valid pointer), or NULL. */
void *sa_arena_alloc(sa_arena *a, size_t n);
/* Frees every chunk; the arena is empty (and reusable) after. */
void sa_arena_free(sa_arena *a);

/* ---- decoding --------------------------------------------------------------- */

/* Decodes mp[0..len), exactly one MessagePack value, into *out. The bytes are
 * copied into arena a first and the tree's strings point into that copy: the
 * tree lives as long as the arena, independent of mp. Rules: the types of
 * sa_mp_read (no bin, no ext), str and keys valid UTF-8, keys str, nesting
 * at most STEPARC_MAX_DEPTH, at most STEPARC_MAX_KEYS items or pairs.
 * 0, STEPARC_E_INPUT (malformed, truncated, trailing bytes, a type or a string
 * outside those rules), STEPARC_E_LIMIT (depth, counts), STEPARC_E_NOMEM.
 * On error, what was allocated stays in the arena (freed with it). */
int sa_value_decode(steparc_value **out, sa_arena *a, const void *mp, size_t len);

/* The value of the first member `key` (NUL-terminated) of object obj; NULL
 * when obj is NULL, not an object, or has no such member. */
const steparc_value *sa_value_get(const steparc_value *obj, const char *key);

/* Appends member (key, null) to object obj (its members move into a new
 * array in arena a; key is not copied) and returns the new member's value,
 * or NULL when out of memory (obj unchanged). */
steparc_value *sa_value_add_member(sa_arena *a, steparc_value *obj, steparc_str key);

/* ---- the MessagePack writer --------------------------------------------------- */

/* Each appends one item in its smallest form (float64 for doubles) to b:
 * 0 or STEPARC_E_NOMEM (b keeps what it had plus possibly part of the item);
 * str and bin: STEPARC_E_LIMIT too, for n > UINT32_MAX (no header holds it). */
int sa_mpw_nil(steparc_buf *b);
int sa_mpw_bool(steparc_buf *b, int v);
int sa_mpw_int(steparc_buf *b, int64_t v);   /* >= 0: the unsigned forms */
int sa_mpw_uint(steparc_buf *b, uint64_t v);
int sa_mpw_double(steparc_buf *b, double v); /* float64, NaN and infinities too */
int sa_mpw_str(steparc_buf *b, const char *s, size_t n); /* header and bytes */
int sa_mpw_bin(steparc_buf *b, const void *p, size_t n); /* header and bytes */
int sa_mpw_array(steparc_buf *b, uint32_t n);
int sa_mpw_map(steparc_buf *b, uint32_t n);
int sa_mpw_raw(steparc_buf *b, const void *p, size_t n); /* bytes as they are */

/* A string of a record: STEPARC_E_ARG (s NULL with n > 0, invalid UTF-8),
 * STEPARC_E_LIMIT (n > STEPARC_MAX_RECORD_SIZE), else as sa_mpw_str. */
int sa_mpw_text(steparc_buf *b, const char *s, size_t n);

/* A value tree at nesting depth `depth` (0 for a root), checked as a record's
 * values: STEPARC_E_ARG (v NULL, unknown type, NaN or infinity, a count over
 * STEPARC_MAX_KEYS, items NULL with a count, a string as sa_mpw_text
 * refuses), STEPARC_E_LIMIT (deeper than STEPARC_MAX_DEPTH, a string over
 * STEPARC_MAX_RECORD_SIZE), STEPARC_E_NOMEM. Duplicate keys are not checked
 * (sa_mp_validate does). */
int sa_mpw_value(steparc_buf *b, const steparc_value *v, int depth);

#endif
