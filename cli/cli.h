/* cli.h - what the files of the steparc command share.
 *
 * main.c      the command table, dispatch, help, option parsing (cli_getopt)
 * output.c    messages, number parsing, buffered stdout, record printers,
 *             the cat/find emitter (JSONL, one JSON array, API list pages)
 * cmd_*.c     one file per command family; each handler is listed in main.c
 * walk.c      audit's and files' id map and record walk (walk.h)
 *
 * Exit status: 0 ok, 1 bad input or damaged archive, 2 usage error (recover:
 * 3 when some blocks were lost). Data to stdout, messages to stderr.
 *
 * Cross-file names are cli_*: the library the command links statically owns
 * sa_*, and a shared prefix could clash. */
#ifndef STEPARC_CLI_H
#define STEPARC_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "steparc.h"

#define EXIT_BAD 1
#define EXIT_USAGE 2
#define EXIT_LOST 3

/* ---- the command table (main.c) ---------------------------------------------------- */

typedef struct cli_command cli_command;

/* argv[0] is the command's name; the handler returns the exit status. */
typedef int (*cli_handler)(const cli_command *cmd, int argc, char **argv);

struct cli_command {
    const char *name;
    cli_handler run;
    const char *synopsis; /* operands, for the command list of 'steparc help' */
    const char *summary;  /* one line, for the same list */
    const char *usage;    /* 'steparc help NAME', 'steparc NAME --help' */
};

int cli_convert(const cli_command *cmd, int argc, char **argv);
int cli_append(const cli_command *cmd, int argc, char **argv);
int cli_merge(const cli_command *cmd, int argc, char **argv);
int cli_cat(const cli_command *cmd, int argc, char **argv);
int cli_get(const cli_command *cmd, int argc, char **argv);
int cli_find(const cli_command *cmd, int argc, char **argv);
int cli_info(const cli_command *cmd, int argc, char **argv);
int cli_stats(const cli_command *cmd, int argc, char **argv);
int cli_verify(const cli_command *cmd, int argc, char **argv);
int cli_recover(const cli_command *cmd, int argc, char **argv);
int cli_export(const cli_command *cmd, int argc, char **argv);
int cli_audit(const cli_command *cmd, int argc, char **argv); /* cmd_audit.c */
int cli_files(const cli_command *cmd, int argc, char **argv); /* cmd_files.c */
extern const char cli_usage_audit[], cli_usage_files[];
int cli_transcript(const cli_command *cmd, int argc, char **argv);

/* export --conversations (conversations.c, docs/CONVERSATIONS.md): the
 * Conversations API requests that rebuild each thread of the archive at path
 * (the nthreads ids given, or every thread, sorted by id), one JSON line each,
 * to out (a temporary file renamed over it) or stdout (out NULL); the loss
 * report as JSON to report (unless NULL); a summary line on stderr. Never
 * calls the network. Returns the exit status (errors reported). */
int cli_export_conversations(const char *path, char *const *threads, size_t nthreads,
                             const char *out, const char *report);
int cli_rewrite(const cli_command *cmd, int argc, char **argv);
extern const char cli_usage_rewrite[]; /* cmd_rewrite.c */

/* ---- option parsing (main.c) --------------------------------------------------------
 *
 * Every command parses with getopt_long, permuting as GNU does: options may
 * follow operands, '--opt=value' and '--opt value' are the same, short
 * options bundle (-qj4), '--' ends the options, '-' is an operand. After the
 * loop the operands are argv[optind..argc-1].
 *
 *     cli_args a;
 *     cli_args_init(&a, cmd, argc, argv);
 *     while ((c = cli_getopt(&a, ":ho:q", longopts)) != -1)
 *         switch (c) { ... a bad value: cli_bad(&a, "..."); break; }
 *     if (cli_args_done(&a, &status))
 *         return status;
 *
 * cli_getopt handles -h/--help, unknown options and missing values itself.
 * Usage errors are recorded (the first one is kept) and reported by
 * cli_args_done after the whole line was read, so that --help anywhere
 * before '--' prints the help (exit 0) as it always did. shortopts must
 * start with ":h" and every long table must hold CLI_HELP_OPTION. */

typedef struct {
    const cli_command *cmd;
    int argc;
    char **argv;
    int help;
    int failed;
    char err[400];
} cli_args;

/* values of long options without a short form (short ones use their letter) */
enum {
    CLI_OPT_FORMAT = 0x100, CLI_OPT_LIMIT, CLI_OPT_ORDER, CLI_OPT_PRETTY, CLI_OPT_VIA_STRUCT,
    CLI_OPT_JSON, CLI_OPT_FIRST_COMMAND /* the commands' own long-only options start here */
};

#define CLI_HELP_OPTION {"help", no_argument, NULL, 'h'}

void cli_args_init(cli_args *a, const cli_command *cmd, int argc, char **argv);
int cli_getopt(cli_args *a, const char *shortopts, const struct option *longopts);
void cli_bad(cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when the command must return *status now (help printed: 0; a usage
 * error printed: 2), 0 to go on with the operands. */
int cli_args_done(cli_args *a, int *status);

/* ---- messages, numbers, stdout (output.c) ------------------------------------------ */

void cli_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "steparc CMD: ..." plus the --help hint on stderr; returns EXIT_USAGE */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the same for a message already formatted */
int cli_usage_text(const char *cmd, const char *text);

int cli_parse_u64(const char *s, uint64_t *out); /* 0, or -1 (also for a sign) */
int cli_parse_i64(const char *s, int64_t *out);
int cli_default_threads(void);                   /* the number of cores */
double cli_now(void);                            /* monotonic seconds */
int cli_same_file(const char *a, const char *b); /* the same inode */

void cli_stdout_init(void);                      /* a 64 KiB stdout buffer */
int cli_out_write(const void *p, size_t n);      /* 0, or -1 */
int cli_out_flush(void);                         /* 0, or EXIT_BAD (reported unless EPIPE) */

int cli_buf_add(steparc_buf *b, const void *p, size_t n); /* nonzero: out of memory */
int cli_buf_copy(steparc_buf *dst, const steparc_buf *src);
/* MessagePack the command builds itself (list pages, the stats report) is
 * written by msgpack-c: a packer appending to b (through cli_buf_add; every
 * msgpack_pack_* call returns nonzero when out of memory). Bytes packed
 * already (records, ids) go in with cli_buf_add between the packer's calls. */
void cli_packer_init(msgpack_packer *pk, steparc_buf *b);
/* Prints the MessagePack report m (built by a command; bad: its packing
 * failed) as one line of canonical JSON and frees m. Returns the exit status
 * (EXIT_BAD with "CMD: cannot write the report" when it could not). */
int cli_print_report(const char *cmd, int bad, steparc_buf *m);
int cli_pack_str(msgpack_packer *pk, const char *s, size_t n); /* header and bytes */

/* Opens an archive, warns about ignored tail bytes; 0 or EXIT_BAD (reported). */
int cli_open_archive(const char *cmd, const char *path, steparc_reader **r);

/* ---- records as JSON (output.c) ---------------------------------------------------- */

typedef struct {
    int pretty, via_struct;
    steparc_buf js;
} cli_printer;

/* One record (MessagePack) as JSON plus a newline; 0 or EXIT_BAD. */
int cli_print_record(cli_printer *p, const void *mp, size_t len, uint64_t ordinal);

enum { CLI_FMT_JSONL, CLI_FMT_JSON, CLI_FMT_LIST };

/* A selection written as JSONL, one JSON array or API list pages. */
typedef struct {
    cli_printer p;
    int format;
    int desc;           /* --order desc */
    uint64_t limit;     /* list: records per page */
    uint64_t count;     /* records written */
    steparc_buf page;   /* list: the page's records, MessagePack back to back */
    uint64_t in_page;
    steparc_buf first_id, last_id; /* MessagePack of the ids (str, or nil) */
    steparc_buf mp, js;
} cli_emitter;

void cli_emitter_init(cli_emitter *e);
int cli_emit_record(cli_emitter *e, const void *mp, size_t len, uint64_t ord);
/* Closes the output (array end, last page) and frees; 0 or EXIT_BAD. */
int cli_emit_end(cli_emitter *e);

/* The output options of cat and find (--format --limit --order --pretty
 * --via-struct), for their long option tables. */
#define CLI_OUTPUT_OPTIONS                                                                     \
    {"format", required_argument, NULL, CLI_OPT_FORMAT},                                       \
        {"limit", required_argument, NULL, CLI_OPT_LIMIT},                                     \
        {"order", required_argument, NULL, CLI_OPT_ORDER},                                     \
        {"pretty", no_argument, NULL, CLI_OPT_PRETTY},                                         \
        {"via-struct", no_argument, NULL, CLI_OPT_VIA_STRUCT}

/* 1 when option c was an output option (a bad value is recorded in a), else 0. */
int cli_output_opt(cli_args *a, int c, const char *arg, cli_emitter *e);

#endif
