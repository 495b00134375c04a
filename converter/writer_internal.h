/* writer_internal.h - what the converter uses of the writer beyond the public
 * API. */
#ifndef STEPARC_WRITER_INTERNAL_H
#define STEPARC_WRITER_INTERNAL_H

#include "record.h"

/* Adds a record the caller guarantees valid (our JSON parser's output):
 * skips validation. */
int sa_writer_add_trusted(steparc_writer *w, const void *mp, size_t len);
/* The same, with the record's key fields already read. */
int sa_writer_add_kf(steparc_writer *w, const void *mp, size_t len, const sa_keyfields *kf);

#endif
