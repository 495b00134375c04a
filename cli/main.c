/* main.c - the steparc command: one table of commands, from which both the
 * dispatch and the help ('steparc help', 'steparc help CMD', 'steparc CMD
 * --help') are made, and the option parser every command uses. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* ---- usage texts ---------------------------------------------------------------------- */

static const char g_usage_convert[] =
    "usage: steparc convert INPUT... -o OUT.steparc [options]\n"
    "\n"
    "Reads the Assistants objects (steps, messages, runs, threads, assistants, files,\n"
    "vector stores) of every INPUT (a file, a directory searched recursively for\n"
    ".json .jsonl .ndjson .sse .txt and their .zst, or - for standard input) and writes\n"
    "one archive. Shapes are detected per input: JSONL, a JSON array, list pages\n"
    "({\"object\":\"list\",\"data\":[...]}), concatenated or pretty objects, event streams,\n"
    "HAR files, Node SDK page objects, documents nesting API objects at any depth.\n"
    "Other objects are skipped and counted. The archive appears at OUT\n"
    "only when complete (written to a temporary file, fsynced, renamed).\n"
    "\n"
    "options:\n"
    "  -o, --output FILE        the archive to write (required)\n"
    "  --input-format F         auto (default), jsonl, json or sse\n"
    "  --strict                 objects of no record kind are an error\n"
    "  --skip-invalid           skip malformed records (reported) instead of failing, and\n"
    "                           inputs that are not JSON at all\n"
    "  --follow-symlinks        directory walks follow links to directories (loops are\n"
    "                           detected and skipped); by default they are skipped\n"
    "  --rejects FILE           with --skip-invalid, write the skipped text to FILE\n"
    "  --keep-duplicates        keep every occurrence of a step id; by default one record\n"
    "                           per id is kept, its most advanced state (a terminal status\n"
    "                           beats in_progress; among equals the one seen last)\n"
    "  --no-rebuild             event streams cut before a step's final object: do not\n"
    "                           rebuild the step from its deltas (by default it is)\n"
    "  --level N                zstd level, 1..22 (default 3)\n"
    "  --block-size BYTES       target uncompressed block size (default 65536: fast random\n"
    "                           access; 1048576 and more compress better)\n"
    "  --dict-size BYTES        zstd dictionary trained on the first records and stored in\n"
    "                           the archive: 0 automatic (default), -1 none\n"
    "  --layout columnar|rows   records inside a block as typed columns (default: smaller)\n"
    "                           or as MessagePack rows (format 1.0 readers can read them)\n"
    "  -j, --threads N          parsing and compression threads (default: the number of\n"
    "                           cores); the archive is the same for every N\n"
    "  --report FILE            write the summary as JSON to FILE\n"
    "  -q, --quiet              no summary on standard error\n";

static const char g_usage_append[] =
    "usage: steparc append ARCHIVE INPUT... [options]\n"
    "\n"
    "Adds the records of every INPUT (as for convert) to an existing archive\n"
    "without rewriting its blocks: new blocks, new indexes and a new footer go after\n"
    "the old footer, which is never modified. If append is interrupted (a crash, a\n"
    "kill, a full disk) the archive reads as it was before; a failed append cuts the\n"
    "file back. Appended records are all kept (use merge to drop duplicates).\n"
    "\n"
    "options: --input-format, --strict, --skip-invalid, --rejects, --no-rebuild,\n"
    "         --follow-symlinks,\n"
    "         --level, --block-size, -j, --report, -q, as for convert\n";

static const char g_usage_merge[] =
    "usage: steparc merge A.steparc B.steparc... -o OUT.steparc [options]\n"
    "\n"
    "Combines archives into a new one, in the order given. As convert does, keeps\n"
    "one record per step id (its most advanced state, the last among equals) unless\n"
    "--keep-duplicates.\n"
    "\n"
    "options: -o, --keep-duplicates, --level, --block-size, -j, --report, -q\n";

static const char g_usage_cat[] =
    "usage: steparc cat ARCHIVE [--kind KIND] [--format jsonl|json|list] [--limit N]\n"
    "                           [--order asc|desc] [--pretty] [--via-struct]\n"
    "\n"
    "Writes every record as canonical JSON: keys in stored order, floats in the\n"
    "shortest form that reads back exactly (Python's json.dumps with\n"
    "ensure_ascii=False and separators (\",\", \":\") gives the same bytes).\n"
    "\n"
    "  --format jsonl  one record per line (the default)\n"
    "  --format json   one JSON array of all records\n"
    "  --format list   pages as the API's list endpoint returns them, one per line:\n"
    "                  {\"object\":\"list\",\"data\":[...],\"first_id\",\"last_id\",\"has_more\"}\n"
    "  --limit N       records per list page (default 20, as the API)\n"
    "  --order desc    newest (last archived) first, as the API's default order\n"
    "  --pretty        indent by two spaces (Python's indent=2)\n"
    "  --via-struct    route every record through the typed C struct (steparc_step)\n"
    "  --kind KIND     only records of this kind: step, message, run, thread,\n"
    "                  assistant, file, vector_store, vector_store_file, other (no\n"
    "                  known kind), or the \"object\" value (thread.run.step, ...);\n"
    "                  repeat it or separate kinds by commas for several\n"
    "  -j, --threads N decode with N threads (default: the number of cores; the\n"
    "                  output is the same for every N)\n";

static const char g_usage_get[] =
    "usage: steparc get ARCHIVE N... [--pretty] [--via-struct]\n"
    "\n"
    "Writes the records at positions N (0-based) as canonical JSON, one per line.\n";

static const char g_usage_find[] =
    "usage: steparc find ARCHIVE [--id ID] [--run ID] [--thread ID] [--assistant ID]\n"
    "                            [--status S] [--type T] [--tool TYPE] [--since T] [--until T]\n"
    "                            [--kind KIND]\n"
    "                            [--format jsonl|json|list] [--limit N] [--order asc|desc]\n"
    "                            [--pretty] [--via-struct]\n"
    "\n"
    "Writes the matching records as canonical JSON, in archive order. --id uses the\n"
    "id index; --run, --thread and --assistant the postings: they match the records\n"
    "with that run_id, thread_id or assistant_id and the run, thread or assistant\n"
    "itself (--thread T: the thread, its messages, runs and steps); --since/--until\n"
    "(created_at, inclusive, Unix seconds) the block zone maps; --status and --type\n"
    "match the record's fields, --tool the type of any of its tool calls (function,\n"
    "code_interpreter, file_search, retrieval, ...); --kind KIND as for cat (the\n"
    "block kinds section of 1.3 archives skips the other blocks). Filters combine.\n"
    "Output options as for cat. Exit 1 when --id finds nothing.\n";

static const char g_usage_info[] =
    "usage: steparc info ARCHIVE [--json]\n"
    "\n"
    "Prints the format version, record and block counts, sizes, compression ratio,\n"
    "the created_at span, the index sections present and the records per kind\n"
    "(from the statistics of 1.3 archives; \"unknown\" (null in --json) for older\n"
    "ones, whose statistics do not count them).\n";

static const char g_usage_stats[] =
    "usage: steparc stats ARCHIVE [--json]\n"
    "\n"
    "Counts records per kind; over the steps, by type, status and tool-call type,\n"
    "sums prompt, completion and total tokens, counts steps per assistant and per\n"
    "day (UTC, from created_at); over the runs, by status and their token usage.\n"
    "Reads every record.\n";

static const char g_usage_verify[] =
    "usage: steparc verify ARCHIVE\n"
    "\n"
    "Checks every checksum, decompresses every block, validates every record and\n"
    "compares every index with the records. Names each damaged block by number and\n"
    "offset. Exit 0 when intact, 1 when damaged.\n";

static const char g_usage_recover[] =
    "usage: steparc recover DAMAGED.steparc -o OUT.steparc [-q]\n"
    "\n"
    "Saves every intact block of a damaged archive into a new one. The footer and\n"
    "the indexes are not needed: blocks are found by their sync marker and checked\n"
    "completely (header and payload checksums, decompression, every record); the\n"
    "scan continues past damaged regions. The new archive is verified before the\n"
    "command reports.\n"
    "Exit status: 0 nothing was lost, 3 some blocks were lost (listed), 1 nothing\n"
    "could be saved.\n";

static const char g_usage_transcript[] =
    "usage: steparc transcript ARCHIVE [options]\n"
    "\n"
    "Shows threads as they happened: each user and assistant message with its text\n"
    "(citations numbered, naming the file), and between them each run and its steps:\n"
    "tool calls with names, arguments and outputs, code interpreter input and logs,\n"
    "file search results, errors, statuses, times (UTC) and tokens. Without --thread,\n"
    "every thread of the archive.\n"
    "\n"
    "options:\n"
    "  --thread T               this thread (repeatable)\n"
    "  --run R                  only run R, its steps and its messages\n"
    "  --since T0, --until T1   only records created in [T0, T1] (Unix seconds)\n"
    "  --format F               text (default), markdown or html (one self-contained\n"
    "                           page; several threads get an index)\n"
    "  -o, --output FILE|DIR    write FILE (a temporary file renamed into place); html\n"
    "                           and an existing DIR: THREAD.html per thread, index.html\n"
    "  --color[=WHEN]           text: auto (default: on a terminal, unless NO_COLOR),\n"
    "                           always or never; wrapped to COLUMNS or the terminal\n";

static const char g_usage_export[] =
    "usage: steparc export --sqlite OUT.db ARCHIVE\n"
    "       steparc export --conversations ARCHIVE [--thread T]... [-o FILE]\n"
    "                      [--report FILE]\n"
    "\n"
    "Writes the archive in another tool's format. --sqlite: a SQLite database with\n"
    "the tables of the SQL extension (docs/SQL.md) as ordinary tables: steps,\n"
    "tool_calls, messages, runs, threads, assistants and records (every record:\n"
    "kind, id, json), each with its typed columns and the canonical JSON, indexed\n"
    "on the ids and created_at. OUT is written to a temporary file beside it,\n"
    "fsynced and renamed over it. A damaged block stops the export (exit 1): use\n"
    "steparc recover first.\n"
    "\n"
    "--conversations: the OpenAI Conversations API requests that rebuild each\n"
    "thread (every thread, sorted by id, or each --thread T in the order given) as\n"
    "a conversation, one JSON line per request: {\"thread_id\", \"method\":\"POST\",\n"
    "\"path\", \"body\":{\"items\", \"metadata\"}}; the first request of a thread\n"
    "creates the conversation (POST /v1/conversations, with metadata), the others\n"
    "append items (POST /v1/conversations/{conversation_id}/items: the replaying\n"
    "tool substitutes the placeholder), at most 20 items each. Nothing is sent:\n"
    "the command never uses the network. What no item can hold is counted per\n"
    "thread: --report FILE writes the loss report (JSON), stderr gets a summary.\n"
    "-o FILE (else stdout) and --report FILE are written to a temporary file\n"
    "renamed over them. Mapping and report: docs/CONVERSATIONS.md.\n";

/* ---- the command table ---------------------------------------------------------------- */

static const cli_command g_commands[] = {
    {"convert", cli_convert, "INPUT... -o OUT",
     "JSON dumps (JSONL, arrays, list pages, event streams) -> archive", g_usage_convert},
    {"append", cli_append, "ARCHIVE INPUT...", "add records to an archive without rewriting it",
     g_usage_append},
    {"merge", cli_merge, "A B... -o OUT", "combine archives (one record per step id)",
     g_usage_merge},
    {"cat", cli_cat, "ARCHIVE", "every record as canonical JSON, one per line", g_usage_cat},
    {"get", cli_get, "ARCHIVE N...", "records by position (0-based)", g_usage_get},
    {"find", cli_find, "ARCHIVE FILTERS",
     "records by --id, --run, --thread, --assistant, --since/--until, --kind", g_usage_find},
    {"info", cli_info, "ARCHIVE [--json]", "header, blocks, sections, sizes, time span",
     g_usage_info},
    {"stats", cli_stats, "ARCHIVE [--json]",
     "records per kind; steps by type, status, tool; tokens; runs", g_usage_stats},
    {"verify", cli_verify, "ARCHIVE", "check every checksum and index; exit 1 when damaged",
     g_usage_verify},
    {"recover", cli_recover, "DAMAGED -o OUT", "save every intact block into a new archive",
     g_usage_recover},
    {"export", cli_export, "(--sqlite OUT.db | --conversations) ARCHIVE",
     "the archive as a SQLite database, or as Conversations API requests", g_usage_export},
    {"audit", cli_audit, "ARCHIVE [--json]", "what is missing or inconsistent (holes, truncated pages)", cli_usage_audit},
    {"files", cli_files, "ARCHIVE [--csv]", "every file id referenced, with names, kinds, threads", cli_usage_files},
    {"transcript", cli_transcript, "ARCHIVE [--thread T]", "threads as text, markdown or html",
     g_usage_transcript},
    {"rewrite", cli_rewrite, "ARCHIVE -o OUT", "a copy without dropped records, values redacted",
     cli_usage_rewrite},
};

#define NCOMMANDS (sizeof g_commands / sizeof g_commands[0])

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(g_commands[i].name, name) == 0)
            return &g_commands[i];
    return NULL;
}

static void main_help(FILE *f)
{
    fputs("usage: steparc COMMAND [ARGS]\n"
          "\n"
          "Archive the OpenAI Assistants API history compactly and read it back losslessly.\n"
          "\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", g_commands[i].name, g_commands[i].synopsis);
        fprintf(f, "  %-27s %s\n", head, g_commands[i].summary);
    }
    fputs("\n"
          "'steparc help COMMAND' (or COMMAND --help) describes a command; 'steparc --version'\n"
          "prints the version.\n"
          "Exit status: 0 ok, 1 bad input or damaged archive, 2 usage error\n"
          "(recover: 3 when some blocks were lost).\n",
          f);
}

/* ---- option parsing ------------------------------------------------------------------- */

void cli_args_init(cli_args *a, const cli_command *cmd, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->argc = argc;
    a->argv = argv;
    optind = 1; /* one parse per process: no reset of getopt's state needed */
    opterr = 0; /* the messages are ours */
}

void cli_bad(cli_args *a, const char *fmt, ...)
{
    if (a->failed++) /* the first problem is the one reported */
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->err, sizeof a->err, fmt, ap);
    va_end(ap);
}

/* The long option an error was about: argv[optind - 1] when it is "--NAME"
 * or "--NAME=..." and NAME abbreviates an option whose value is optopt (a
 * short option inside a bundle may have left optind on its own element). */
static const char *long_element(const cli_args *a, const struct option *longopts, size_t *namelen)
{
    if (optind < 1 || optind > a->argc)
        return NULL;
    const char *e = a->argv[optind - 1];
    if (strncmp(e, "--", 2) != 0)
        return NULL;
    size_t n = strcspn(e + 2, "=");
    for (const struct option *o = longopts; o->name; o++)
        if (o->val == optopt && strncmp(o->name, e + 2, n) == 0) {
            *namelen = n + 2;
            return e;
        }
    return NULL;
}

/* '?' from getopt_long: an unknown or ambiguous option, or a value given to
 * an option that takes none. */
static void bad_option(cli_args *a, const struct option *longopts)
{
    size_t n;
    const char *e;
    if (optopt == 0) {
        e = a->argv[optind - 1];
        size_t len = strcspn(e + 2, "="), matches = 0;
        for (const struct option *o = longopts; o->name; o++)
            matches += strncmp(o->name, e + 2, len) == 0;
        cli_bad(a, "%s option '%s'", matches > 1 ? "ambiguous" : "unknown", e);
    } else if ((e = long_element(a, longopts, &n)) != NULL) {
        cli_bad(a, "option '%.*s' takes no value", (int)n, e);
    } else {
        cli_bad(a, "unknown option '-%c'", optopt);
    }
}

/* ':' from getopt_long: the last option needs a value. */
static void missing_value(cli_args *a, const struct option *longopts)
{
    size_t n;
    const char *e = long_element(a, longopts, &n);
    if (e)
        cli_bad(a, "%.*s needs a value", (int)n, e);
    else
        cli_bad(a, "-%c needs a value", optopt);
}

int cli_getopt(cli_args *a, const char *shortopts, const struct option *longopts)
{
    for (;;) {
        int c = getopt_long(a->argc, a->argv, shortopts, longopts, NULL);
        if (c == 'h')
            a->help = 1;
        else if (c == '?')
            bad_option(a, longopts);
        else if (c == ':')
            missing_value(a, longopts);
        else
            return c;
    }
}

int cli_args_done(cli_args *a, int *status)
{
    if (a->help) {
        fputs(a->cmd->usage, stdout);
        *status = 0;
        return 1;
    }
    if (a->failed) {
        *status = cli_usage_text(a->cmd->name, a->err);
        return 1;
    }
    return 0;
}

/* ---- main ----------------------------------------------------------------------------- */

/* 'steparc help [COMMAND]', 'steparc --help' */
static int help(int argc, char **argv)
{
    if (argc > 2) {
        const cli_command *c = find_command(argv[2]);
        if (c == NULL) {
            fprintf(stderr, "steparc: unknown command '%s'\n", argv[2]);
            return EXIT_USAGE;
        }
        fputs(c->usage, stdout);
        return 0;
    }
    main_help(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    cli_stdout_init();
    /* past a file size limit, let write() fail with EFBIG (reported, and the
     * temporary file removed) rather than being killed by SIGXFSZ */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        main_help(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0)
        return help(argc, argv);
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("steparc %s (format %d.%d)\n", steparc_version_string(), STEPARC_FORMAT_MAJOR,
               STEPARC_FORMAT_MINOR);
        return 0;
    }
    const cli_command *c = find_command(name);
    if (c == NULL) {
        fprintf(stderr, "steparc: unknown command '%s'\n\n", name);
        main_help(stderr);
        return EXIT_USAGE;
    }
    return c->run(c, argc - 1, argv + 1);
}
