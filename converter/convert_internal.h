/* convert_internal.h - what the converter's files share: the converter
 * struct and the sa_conv_* calls between them.
 *
 *   convert.c   the public steparc_converter API: open/close, stats, errors,
 *               per-input setup and shape detection (sa_conv_run_input)
 *   source.c    input sources (files, directories, stdin, memory, .zst) and
 *               the read window (fill, consume, locate, errors at a position)
 *   json_doc.c  JSON documents (top-level arrays, list pages, objects over
 *               lines) and the record-level dispatch (sa_conv_value/item)
 *   stream.c    event streams: SSE framing, pending objects, delta rebuild
 *               (the merge itself is delta.c)
 *   jsonl.c     parallel JSONL parsing: batches and their pool */
#ifndef STEPARC_CONVERT_INTERNAL_H
#define STEPARC_CONVERT_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>
#include <zstd.h>

#include "record.h"

#define SA_READ_CHUNK (1u << 20)
#define SA_WINDOW_MAX ((size_t)STEPARC_MAX_RECORD_SIZE + (2u << 20))

struct sa_jsonl_pool;

/* An event-stream object whose final event has not arrived yet (stream.c). */
typedef struct sa_pending {
    int kind;            /* STEPARC_KIND_STEP or STEPARC_KIND_MESSAGE */
    char *id;
    size_t idlen;
    steparc_buf base;    /* the last full object */
    int have_base;
    steparc_buf deltas;  /* delta events since, MessagePack, back to back */
    size_t ndeltas;
} sa_pending;

struct steparc_converter {
    steparc_writer *w;
    steparc_convert_options opt;
    steparc_convert_stats st;
    char err[1024];
    int failed;
    steparc_buf mp;        /* the record being parsed */
    /* current input */
    const char *name;
    int fd;
    ZSTD_DStream *zs;
    unsigned char *zin;
    size_t zin_len, zin_pos;
    int zin_eof;
    const unsigned char *mem;
    size_t mem_len, mem_pos;
    uint64_t src_bytes, src_total;
    /* the window: buf[start, end) holds unread input */
    unsigned char *buf;
    size_t cap, start, end;
    int eof;
    uint64_t line;       /* line number at buf[start] (1-based) */
    uint64_t line_off;   /* absolute offset of that line's first byte */
    uint64_t abs_start;  /* absolute offset of buf[start] */
    uint64_t next_progress;
    /* records parsed from a batch are located by line, not by window offset */
    int fixed_loc;
    uint64_t fixed_line, fixed_col;
    /* parallel JSONL parsing */
    struct sa_jsonl_pool *pool;
    /* event streams: steps and messages whose final object has not arrived yet */
    sa_pending *pend;
    size_t npend, cappend;
};

/* ---- convert.c ---- */

/* Sets the converter's message, marks it failed, returns status. */
int sa_conv_fail(steparc_converter *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Converts the current input (its source set up by source.c). */
int sa_conv_run_input(steparc_converter *c);

/* ---- source.c ---- */

/* Makes at least `need` bytes available at buf[start..], or all that is left.
 * 0 ok, <0 error. */
int sa_conv_fill(steparc_converter *c, size_t need);
/* Consumes n bytes, keeping the line count (and calling progress). */
void sa_conv_consume(steparc_converter *c, size_t n);
/* Line and column of buf[start + rel]. */
void sa_conv_locate(const steparc_converter *c, size_t rel, uint64_t *line, uint64_t *col);
/* Skips whitespace (and a UTF-8 byte order mark at the very start). */
int sa_conv_skip_ws(steparc_converter *c);
/* A parse failure at window position rel, with an excerpt: fails c. */
int sa_conv_parse_error(steparc_converter *c, size_t rel, int status, const char *reason);
/* Skips the rest of the current line after a parse failure (skip_invalid),
 * reporting it. */
int sa_conv_skip_bad(steparc_converter *c, size_t rel, const char *reason);
/* Parses one JSON value at the window start into c->mp. 0 ok; 1 skipped
 * (skip_invalid); <0 error. */
int sa_conv_parse_one(steparc_converter *c, size_t *used);
/* Converts an open file descriptor named path (.zst decompressed). */
int sa_conv_add_file(steparc_converter *c, const char *path, int fd);
/* Converts the wanted files of a directory, recursively; *found counts them. */
int sa_conv_add_dir(steparc_converter *c, const char *path, int depth, uint64_t *found);

/* ---- json_doc.c ---- */

/* Counts and reports (through opt.skipped) an object not archived. */
void sa_conv_report_skip(steparc_converter *c, steparc_skip_reason why, size_t rel,
                         const char *detail, const char *raw, size_t raw_len);
/* One JSON value at record level (rel = its position in the window); known:
 * its key fields when already read, else NULL. */
int sa_conv_item(steparc_converter *c, const unsigned char *mp, size_t len, size_t rel,
                 const sa_keyfields *known);
/* A top-level value: a list page's items (or an array's) are records,
 * anything else is one. */
int sa_conv_value(steparc_converter *c, const unsigned char *mp, size_t len, size_t rel);
/* JSON documents: arrays and list pages streamed item by item, objects. */
int sa_conv_run_json(steparc_converter *c);
int sa_str_is(steparc_str s, const char *lit);
/* The STEPARC_KIND_* of a record by its "object" (OTHER when there is none). */
int sa_conv_kind(const sa_keyfields *kf);

/* ---- stream.c ---- */

int sa_conv_run_sse(steparc_converter *c);
/* At the end of a stream: rebuilds the objects cut before their final event. */
int sa_conv_rebuild_pending(steparc_converter *c);
/* Forgets every pending object. */
void sa_conv_drop_pending(steparc_converter *c);

/* ---- jsonl.c ---- */

int sa_conv_run_jsonl(steparc_converter *c);
/* NULL is a no-op. */
void sa_jsonl_pool_free(struct sa_jsonl_pool *pl);

#endif
