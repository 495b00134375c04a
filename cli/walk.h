/* walk.h - what audit and files share: an insertion-ordered map of ids
 * (memory: the ids, nothing of the records) and lookups in a record
 * unpacked by msgpack-c. */
#ifndef STEPARC_CLI_WALK_H
#define STEPARC_CLI_WALK_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* One id and a value of the caller's; entries keep their insertion order. */
typedef struct {
    char *key;
    size_t len;
    uint64_t v;
} cli_idm_entry;

typedef struct {
    cli_idm_entry *e;
    size_t n, cap;
    uint32_t *slot; /* open addressing: entry index + 1, 0 = empty */
    size_t nslot;
} cli_idmap;

/* Index of key, or -1 when absent. */
long cli_idm_find(const cli_idmap *m, const char *key, size_t len);
/* Index of key, added (v = 0) when absent; -1 when out of memory. */
long cli_idm_put(cli_idmap *m, const char *key, size_t len);
void cli_idm_free(cli_idmap *m);
/* Entry indexes sorted by key (bytewise: code point order); caller frees. */
size_t *cli_idm_sorted(const cli_idmap *m);

/* Member `key` of a map, or NULL (o not a map, or no such key). */
const msgpack_object *cli_mp_get(const msgpack_object *o, const char *key);
/* 1 and the string when o is a str, else 0 (o may be NULL). */
int cli_mp_str(const msgpack_object *o, const char **p, size_t *n);
/* 1 and the value when o is an integer that fits int64, else 0. */
int cli_mp_int(const msgpack_object *o, int64_t *v);
/* 1 when o is an array (its items then in *items, *n), else 0. */
int cli_mp_array(const msgpack_object *o, const msgpack_object **items, size_t *n);
/* 1 when o is a str equal to s */
int cli_mp_is(const msgpack_object *o, const char *s);



#include "steparc.h"

/* Calls fn for every record of r in archive order, unpacked (valid during the
 * call), with its kind (STEPARC_KIND_*). fn returns 0, or nonzero when out of
 * memory. Returns 0 or EXIT_BAD (reported as "steparc CMD: ..."). */
typedef int (*cli_walk_fn)(void *ctx, int kind, const msgpack_object *rec);
int cli_walk_archive(steparc_reader *r, const char *cmd, cli_walk_fn fn, void *ctx);
#endif
