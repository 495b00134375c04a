/* writer_internal.h - what the converter uses of the writer beyond the public
 * API. */
#ifndef STEPARC_WRITER_INTERNAL_H
#define STEPARC_WRITER_INTERNAL_H

#include "steparc.h"

/* Adds a record the caller guarantees valid (our JSON parser's output):
 * skips validation. */
int sa_writer_add_trusted(steparc_writer *w, const void *mp, size_t len);

#endif
