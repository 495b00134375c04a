/* delta.h - merge thread.run.step.delta and thread.message.delta events into
 * their object (see delta.c). */
#ifndef STEPARC_DELTA_H
#define STEPARC_DELTA_H

#include "value.h" /* steparc_value, sa_value_get */

typedef struct sa_tree sa_tree;

int sa_tree_from_mp(sa_tree **out, const void *mp, size_t len);
const steparc_value *sa_tree_root(const sa_tree *t);
/* Merges delta value dv (the "delta" member of an event, inside tree delta,
 * which must stay alive until base is encoded) into base. */
int sa_tree_merge(sa_tree *base, const sa_tree *delta, const steparc_value *dv);
/* Drops the "index" keys of the objects in arrays (positions the deltas
 * carried, not data), everywhere in t. 0 or STEPARC_E_LIMIT. */
int sa_tree_drop_index(sa_tree *t);
int sa_tree_to_mp(const sa_tree *t, steparc_buf *out);
void sa_tree_free(sa_tree *t);

#endif
