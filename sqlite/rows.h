/* rows.h - the SQL tables over an archive: their columns, and the one place
 * that turns a record into column values. Shared by the loadable extension
 * (sqlite/ext.c) and `steparc export --sqlite` (cli/cmd_export.c), which
 * compile rows.c each into themselves. Public API of libsteparc only; no
 * SQLite call in here (the two users bind the values their own way).
 *
 * Names are sqlrow_*: not the library's sa_* (linked statically beside it),
 * not the command's cli_*. */
#ifndef STEPARC_SQL_ROWS_H
#define STEPARC_SQL_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "steparc.h"

enum { SQLROW_NULL = 0, SQLROW_INT, SQLROW_REAL, SQLROW_TEXT };

/* One column value; a TEXT points into the record's decoded view or buffers,
 * valid until the next sqlrow_fill / sqlrow_load / sqlrow_clear. */
typedef struct {
    int type;
    int64_t i;
    double f;
    const char *s;
    size_t n;
} sqlrow_value;

typedef struct {
    const char *name;
    const char *type; /* TEXT, INTEGER, REAL */
} sqlrow_col;

enum {
    SQLROW_T_STEPS, SQLROW_T_MESSAGES, SQLROW_T_RUNS, SQLROW_T_THREADS, SQLROW_T_ASSISTANTS,
    SQLROW_T_TOOL_CALLS, SQLROW_T_RECORDS, SQLROW_TABLES
};

typedef struct {
    const char *name;  /* the export's table: "steps" */
    const char *kname; /* the name CREATE VIRTUAL TABLE ... USING steparc(FILE, KIND) takes */
    int kind;          /* STEPARC_KIND_* its records have; -1: every record */
    const sqlrow_col *cols;
    int ncols;
    /* column numbers (-1: none) the archive's indexes answer */
    int c_id, c_thread, c_run, c_assistant, c_created;
    int c_json; /* the canonical JSON, built only when asked for */
    int multi;  /* several rows per record (tool calls) */
} sqlrow_table;

extern const sqlrow_table sqlrow_tables[SQLROW_TABLES];

/* The table whose kname or name is (s, n); NULL when none. */
const sqlrow_table *sqlrow_table_named(const char *s, size_t n);

/* A record being turned into rows. Zero it before the first sqlrow_load. */
typedef struct {
    const sqlrow_table *t;
    const void *mp; /* the record's MessagePack, the caller's (kept valid while used) */
    size_t len;
    void *view;     /* decoded typed view, or NULL until a typed column is needed */
    size_t nrows;   /* rows this record gives in t (0: another kind) */
    sqlrow_value *vals; /* t->ncols values of the row last filled */
    steparc_buf text;   /* joined strings (message text, logs) */
    steparc_buf json;
    int has_json;
} sqlrow_rec;

/* Starts record (mp, len) for table t: its kind decides nrows (for tool calls
 * the record is decoded to count them). The filter on kind lives here only
 * (steparc_record_kind per record), so that a kind filter of the cursor can
 * take its place later.
 * @return 0, or a STEPARC_E_* code (STEPARC_E_INPUT: not a record map). */
int sqlrow_load(sqlrow_rec *rec, const sqlrow_table *t, const void *mp, size_t len);

/* Fills rec->vals for row `row` (< nrows), decoding the record on first use;
 * the json column stays NULL here (sqlrow_json builds it).
 * @return 0, or a STEPARC_E_* code. */
int sqlrow_fill(sqlrow_rec *rec, size_t row);

/* The record's canonical JSON (steparc_msgpack_to_json, the same text as
 * steparc_reader_get_json), built once per record. @return 0 or STEPARC_E_*. */
int sqlrow_json(const char **s, size_t *n, sqlrow_rec *rec);

/* Frees what rec owns; rec can be loaded again. */
void sqlrow_clear(sqlrow_rec *rec);

/* Opens a cursor over the records of table t that filter f selects (the one
 * place that will pass the kind to the cursor's filter once it has one). */
int sqlrow_cursor_open(steparc_cursor **out, steparc_reader *r, const sqlrow_table *t,
                       const steparc_filter *f);

#endif
