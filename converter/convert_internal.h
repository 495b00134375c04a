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
 *   jsonl.c     parallel JSONL parsing: batches and their pool
 *   containers.c  what captures come in: HAR files, Node page objects,
 *               documents nesting objects at any depth (searched, streamed
 *               past the record limit), JSON strings holding documents;
 *               non-JSON inputs; symbolic links in directory walks */
#ifndef STEPARC_CONVERT_INTERNAL_H
#define STEPARC_CONVERT_INTERNAL_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <zstd.h>

#include "pool.h"
#include "record.h"

#define SA_READ_CHUNK (1u << 20)
#define SA_WINDOW_MAX ((size_t)STEPARC_MAX_RECORD_SIZE + (2u << 20))


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
    sa_pool *pool;
    /* event streams: steps and messages whose final object has not arrived yet */
    sa_pending *pend;
    size_t npend, cappend;
    /* containers.c: search depth of the current input, JSON strings (and HAR
     * bodies) being converted inside each other, the record limit for
     * parsing a document whole (0: STEPARC_MAX_RECORD_SIZE; tests lower it),
     * the directories on the current walk's path (loop detection) */
    int walk_depth, embed;
    size_t doc_limit;
    struct { uint64_t dev, ino; } *dirs;
    size_t ndirs, capdirs;
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
/* Before a member or element of a container being streamed: skips
 * whitespace; 1 when `close` follows (consumed: the container ends), 0 when
 * something else does, <0 on error (the input ends first: `truncated`). */
int sa_conv_next_member(steparc_converter *c, unsigned char close, const char *truncated);
/* Expects byte ch after whitespace and consumes it; else fails with `what`. */
int sa_conv_expect(steparc_converter *c, unsigned char ch, const char *what);
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

/* ---- containers.c ---- */

/* Searches a value found at record level (item: an item of an array or list
 * page, else a top-level value) for API objects of a known kind, each handed
 * to sa_conv_item: 0 when it held some (or was a HAR), 1 when it held none
 * (the caller dispatches it as a record), <0 error. */
int sa_conv_walk(steparc_converter *c, const unsigned char *mp, size_t len, size_t rel, int item);
/* 1 when mp is a HAR document (an object whose "log" holds an "entries"
 * array), else 0. */
int sa_har_detect(const unsigned char *mp, size_t len);
/* A top-level object at the window start: parsed whole when it fits the
 * record limit (sa_conv_value), else descended member by member. 0 or <0. */
int sa_conv_doc_value(steparc_converter *c);
/* The record limit for documents (text bytes) and its test hook. */
size_t sa_conv_doc_limit(const steparc_converter *c);
void sa_conv_set_doc_limit(steparc_converter *c, size_t limit);
/* An input that is neither JSON nor an event stream: the error, or under
 * skip_invalid 1 (skipped and reported). */
int sa_conv_not_json(steparc_converter *c);
/* Whether the text at window position rel (a parse error) looks like a
 * Python repr: a single quote, None, True or False. */
int sa_conv_repr_hint(const steparc_converter *c, size_t rel);
/* base64 (standard or URL alphabet, whitespace ignored, '=' padding optional
 * but only at the end) appended to out: 0; STEPARC_E_INPUT with *bad the
 * offset of the first bad character (n when the text ends mid-quantum);
 * STEPARC_E_NOMEM. */
int sa_base64_decode(steparc_buf *out, const char *src, size_t n, size_t *bad);
/* Directory walks: a directory entry at path, *st set (links followed): 1
 * read it, 0 skipped and reported (a link to a directory without
 * follow_symlinks, or a link loop), <0 error. */
int sa_conv_dir_entry(steparc_converter *c, const char *path, struct stat *st);
/* The directories on the current path (for loops). push: 0 or NOMEM. */
int sa_conv_dir_push(steparc_converter *c, const struct stat *st);
void sa_conv_dir_pop(steparc_converter *c);

/* ---- jsonl.c ---- */

int sa_conv_run_jsonl(steparc_converter *c);

#endif
