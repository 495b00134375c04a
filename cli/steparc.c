/* steparc.c - the steparc command, over the public API only.
 *
 * Exit status: 0 ok, 1 bad input or damaged archive, 2 usage error
 * (recover: 3 when some blocks were lost). Data to stdout, messages to
 * stderr. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "steparc.h"

#define EXIT_BAD 1
#define EXIT_USAGE 2

static const char *g_prog = "steparc";

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void msg(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", g_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s %s: ", g_prog, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s %s --help'.\n", g_prog, cmd);
    return EXIT_USAGE;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (s == NULL || *s == 0 || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    if (s == NULL || *s == 0)
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Writes all of a buffer to stdout; 0 or -1 (EPIPE etc.). */
static int out_write(const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, stdout) != n)
        return -1;
    return 0;
}

/* Appends to a steparc_buf owned by the command; nonzero when out of memory. */
static int buf_add(steparc_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return 1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static int buf_copy(steparc_buf *dst, const steparc_buf *src)
{
    dst->len = 0;
    return buf_add(dst, src->data, src->len);
}

static int out_flush(void)
{
    if (fflush(stdout) != 0) {
        if (errno != EPIPE)
            msg("cannot write to standard output: %s", strerror(errno));
        return EXIT_BAD;
    }
    return 0;
}

/* ---- help ---------------------------------------------------------------------------- */

static const char *const g_help_main =
    "usage: steparc COMMAND [ARGS]\n"
    "\n"
    "Archive OpenAI Assistants run steps compactly and read them back losslessly.\n"
    "\n"
    "commands:\n"
    "  convert INPUT... -o OUT     JSON dumps (JSONL, arrays, list pages, event streams) -> archive\n"
    "  append ARCHIVE INPUT...     add records to an archive without rewriting it\n"
    "  merge A B... -o OUT         combine archives (one record per step id)\n"
    "  cat ARCHIVE                 every record as canonical JSON, one per line\n"
    "  get ARCHIVE N...            records by position (0-based)\n"
    "  find ARCHIVE FILTERS        records by --id, --run, --thread, --assistant, --since/--until\n"
    "  info ARCHIVE [--json]       header, blocks, sections, sizes, time span\n"
    "  stats ARCHIVE [--json]      records by type, status, tool; tokens; per assistant, per day\n"
    "  verify ARCHIVE              check every checksum and index; exit 1 when damaged\n"
    "  recover DAMAGED -o OUT      save every intact block into a new archive\n"
    "\n"
    "'steparc help COMMAND' (or COMMAND --help) describes a command; 'steparc --version'\n"
    "prints the version.\n"
    "Exit status: 0 ok, 1 bad input or damaged archive, 2 usage error\n"
    "(recover: 3 when some blocks were lost).\n";

static const char *const g_help_convert =
    "usage: steparc convert INPUT... -o OUT.steparc [options]\n"
    "\n"
    "Reads run steps from every INPUT (a file, a directory searched recursively for\n"
    ".json .jsonl .ndjson .sse .txt and their .zst, or - for standard input) and writes\n"
    "one archive. Shapes are detected per input: JSONL, a JSON array, list pages\n"
    "({\"object\":\"list\",\"data\":[...]}), concatenated or pretty objects, event streams.\n"
    "Objects that are not run steps are skipped and counted. The archive appears at OUT\n"
    "only when complete (written to a temporary file, fsynced, renamed).\n"
    "\n"
    "options:\n"
    "  -o, --output FILE        the archive to write (required)\n"
    "  --input-format F         auto (default), jsonl, json or sse\n"
    "  --strict                 objects that are not run steps are an error\n"
    "  --skip-invalid           skip malformed records (reported) instead of failing\n"
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

static const char *const g_help_append =
    "usage: steparc append ARCHIVE INPUT... [options]\n"
    "\n"
    "Adds the run steps of every INPUT (as for convert) to an existing archive\n"
    "without rewriting its blocks: new blocks, new indexes and a new footer go after\n"
    "the old footer, which is never modified. If append is interrupted (a crash, a\n"
    "kill, a full disk) the archive reads as it was before; a failed append cuts the\n"
    "file back. Appended records are all kept (use merge to drop duplicates).\n"
    "\n"
    "options: --input-format, --strict, --skip-invalid, --rejects, --no-rebuild,\n"
    "         --level, --block-size, -j, --report, -q, as for convert\n";

static const char *const g_help_merge =
    "usage: steparc merge A.steparc B.steparc... -o OUT.steparc [options]\n"
    "\n"
    "Combines archives into a new one, in the order given. As convert does, keeps\n"
    "one record per step id (its most advanced state, the last among equals) unless\n"
    "--keep-duplicates.\n"
    "\n"
    "options: -o, --keep-duplicates, --level, --block-size, -j, --report, -q\n";

static const char *const g_help_cat =
    "usage: steparc cat ARCHIVE [--format jsonl|json|list] [--limit N] [--order asc|desc]\n"
    "                           [--pretty] [--via-struct]\n"
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
    "  -j, --threads N decode with N threads (default: the number of cores; the\n"
    "                  output is the same for every N)\n";

static const char *const g_help_get =
    "usage: steparc get ARCHIVE N... [--pretty] [--via-struct]\n"
    "\n"
    "Writes the records at positions N (0-based) as canonical JSON, one per line.\n";

static const char *const g_help_find =
    "usage: steparc find ARCHIVE [--id ID] [--run ID] [--thread ID] [--assistant ID]\n"
    "                            [--status S] [--type T] [--tool TYPE] [--since T] [--until T]\n"
    "                            [--format jsonl|json|list] [--limit N] [--order asc|desc]\n"
    "                            [--pretty] [--via-struct]\n"
    "\n"
    "Writes the matching records as canonical JSON, in archive order. --id uses the\n"
    "id index; --run, --thread and --assistant the postings; --since/--until\n"
    "(created_at, inclusive, Unix seconds) the block zone maps; --status and --type\n"
    "match the step's fields, --tool the type of any of its tool calls (function,\n"
    "code_interpreter, file_search, retrieval, ...). Filters combine. Output options\n"
    "as for cat. Exit 1 when --id finds nothing.\n";

static const char *const g_help_info =
    "usage: steparc info ARCHIVE [--json]\n"
    "\n"
    "Prints the format version, record and block counts, sizes, compression ratio,\n"
    "the created_at span and the index sections present.\n";

static const char *const g_help_verify =
    "usage: steparc verify ARCHIVE\n"
    "\n"
    "Checks every checksum, decompresses every block, validates every record and\n"
    "compares every index with the records. Names each damaged block by number and\n"
    "offset. Exit 0 when intact, 1 when damaged.\n";

static int want_help(int argc, char **argv, const char *text)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(text, stdout);
            return 1;
        }
    }
    return 0;
}

/* ---- convert ---------------------------------------------------------------------------- */

typedef struct {
    FILE *rejects;
    int quiet;
    int tty;
    double t0;
    uint64_t shown;
    const char *first_locs[3];
} conv_ui;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_progress(void *ctx, const steparc_convert_stats *s, uint64_t total)
{
    conv_ui *ui = (conv_ui *)ctx;
    if (!ui->tty || ui->quiet)
        return;
    double dt = now_s() - ui->t0;
    double mb = (double)s->input_bytes / 1e6;
    double rate = dt > 0 ? mb / dt : 0;
    if (total) {
        double frac = (double)s->input_bytes / (double)total;
        if (frac > 1)
            frac = 1;
        int w = (int)(frac * 30);
        double eta = rate > 0 ? ((double)total / 1e6 - mb) / rate : 0;
        fprintf(stderr, "\r[%.*s%*s] %5.1f%% %" PRIu64 " records %.1f MB/s ETA %.0fs ", w,
                "==============================", 30 - w, "", frac * 100, s->records, rate,
                eta > 0 ? eta : 0);
    } else {
        fprintf(stderr, "\r%.1f MB read, %" PRIu64 " records, %.1f MB/s ", mb, s->records, rate);
    }
}

static const char *const g_skip_names[STEPARC_SKIP_REASONS] = {
    "not a run step", "run step without id", "step deltas", "other events", "invalid records"};
static const char *const g_skip_keys[STEPARC_SKIP_REASONS] = {
    "not_a_step", "no_id", "delta", "other_event", "invalid"};

static void on_skipped(void *ctx, steparc_skip_reason why, const char *file, uint64_t line,
                       uint64_t col, const char *detail, const char *raw, size_t raw_len)
{
    conv_ui *ui = (conv_ui *)ctx;
    if (why == STEPARC_SKIP_INVALID) {
        if (!ui->quiet)
            fprintf(stderr, "%s%s:%" PRIu64 ":%" PRIu64 ": skipped invalid record: %s\n",
                    ui->tty ? "\r" : "", file, line, col, detail);
        if (ui->rejects && raw) {
            fwrite(raw, 1, raw_len, ui->rejects);
            fputc('\n', ui->rejects);
        }
        return;
    }
    if (why == STEPARC_SKIP_NOT_A_STEP || why == STEPARC_SKIP_NO_ID) {
        if (!ui->quiet && ui->shown < 3)
            fprintf(stderr, "%s%s:%" PRIu64 ":%" PRIu64 ": skipped (%s)\n", ui->tty ? "\r" : "",
                    file, line, col, detail);
        ui->shown++;
    }
}

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Records of archives, for merge: every record of every archive, in order. */
static int merge_inputs(steparc_writer *w, char **paths, int n, steparc_convert_stats *st)
{
    for (int i = 0; i < n; i++) {
        steparc_reader *r = NULL;
        char err[512];
        if (steparc_reader_open(&r, paths[i], NULL, err, sizeof err) != 0) {
            msg("merge: %s", err);
            return EXIT_BAD;
        }
        steparc_cursor *c = NULL;
        int rc = steparc_cursor_open(&c, r, NULL);
        uint64_t ord;
        const void *mp;
        size_t len;
        st->inputs++;
        while (rc == 0 && (rc = steparc_cursor_next(&ord, &mp, &len, c)) == 0) {
            rc = steparc_writer_add_msgpack(w, mp, len);
            if (rc) {
                msg("merge: %s: %s", paths[i], steparc_writer_errmsg(w));
                break;
            }
            st->records++;
            st->objects++;
        }
        if (rc != 0 && rc != STEPARC_END && c)
            msg("merge: %s: %s", paths[i], steparc_cursor_errmsg(c));
        steparc_info in;
        if (steparc_reader_info(&in, r) == 0)
            st->input_bytes += in.file_size;
        steparc_cursor_close(c);
        steparc_reader_close(r);
        if (rc != STEPARC_END)
            return EXIT_BAD;
    }
    return 0;
}

enum { MODE_CONVERT, MODE_APPEND, MODE_MERGE };

static int cmd_convert(int argc, char **argv, int mode)
{
    const char *cmd = mode == MODE_APPEND ? "append" : mode == MODE_MERGE ? "merge" : "convert";
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"input-format", required_argument, NULL, 'F'},
        {"strict", no_argument, NULL, 'S'},       {"skip-invalid", no_argument, NULL, 'I'},
        {"rejects", required_argument, NULL, 'R'}, {"level", required_argument, NULL, 'L'},
        {"block-size", required_argument, NULL, 'B'}, {"threads", required_argument, NULL, 'j'},
        {"report", required_argument, NULL, 'P'}, {"quiet", no_argument, NULL, 'q'},
        {"keep-duplicates", no_argument, NULL, 'K'}, {"no-rebuild", no_argument, NULL, 'N'},
        {"dict-size", required_argument, NULL, 'D'}, {"layout", required_argument, NULL, 'Y'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    if (want_help(argc, argv, mode == MODE_APPEND ? g_help_append
                              : mode == MODE_MERGE ? g_help_merge : g_help_convert))
        return 0;
    const char *out = NULL, *rejects = NULL, *report = NULL;
    steparc_writer_options wo;
    steparc_convert_options co;
    steparc_writer_options_init(&wo);
    steparc_convert_options_init(&co);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    wo.threads = nproc > 0 ? (int)nproc : 1;
    co.threads = wo.threads;
    wo.dedup = 1;
    int quiet = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:j:q", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'o': out = optarg; break;
        case 'F':
            if (strcmp(optarg, "auto") == 0) co.format = STEPARC_IN_AUTO;
            else if (strcmp(optarg, "jsonl") == 0 || strcmp(optarg, "ndjson") == 0) co.format = STEPARC_IN_JSONL;
            else if (strcmp(optarg, "json") == 0) co.format = STEPARC_IN_JSON;
            else if (strcmp(optarg, "sse") == 0) co.format = STEPARC_IN_SSE;
            else return usage_error(cmd, "unknown input format '%s'", optarg);
            break;
        case 'S': co.strict = 1; break;
        case 'I': co.skip_invalid = 1; break;
        case 'R': rejects = optarg; break;
        case 'L': {
            int64_t lv;
            if (parse_i64(optarg, &lv) != 0 || lv < 1 || lv > 22)
                return usage_error(cmd, "--level takes 1..22");
            wo.level = (int)lv;
            break;
        }
        case 'B':
            if (parse_u64(optarg, &v) != 0 || v < 1024 || v > 64u * 1024 * 1024)
                return usage_error(cmd, "--block-size takes 1024..67108864");
            wo.block_size = (uint32_t)v;
            break;
        case 'j':
            if (parse_u64(optarg, &v) != 0 || v < 1 || v > 256)
                return usage_error(cmd, "-j takes 1..256");
            wo.threads = (int)v;
            co.threads = (int)v;
            break;
        case 'P': report = optarg; break;
        case 'q': quiet = 1; break;
        case 'K': wo.dedup = 0; break;
        case 'N': co.no_rebuild = 1; break;
        case 'D': {
            int64_t dv;
            if (parse_i64(optarg, &dv) != 0 || dv < -1 || dv > 1048576 || (dv > 0 && dv < 1024))
                return usage_error(cmd, "--dict-size takes -1 (none), 0 (automatic) or 1024..1048576");
            wo.dict_size = (int)dv;
            break;
        }
        case 'Y':
            if (strcmp(optarg, "columnar") == 0) wo.layout = STEPARC_LAYOUT_COLUMNAR;
            else if (strcmp(optarg, "rows") == 0) wo.layout = STEPARC_LAYOUT_ROWS;
            else return usage_error(cmd, "--layout takes columnar or rows");
            break;
        default: return usage_error(cmd, "invalid option '%s'", argv[optind - 1]);
        }
    }
    if (mode == MODE_APPEND) {
        if (out != NULL)
            return usage_error(cmd, "append writes to the archive given first; no -o");
        if (optind >= argc)
            return usage_error(cmd, "an archive and inputs expected");
        out = argv[optind++];
        wo.dedup = 0; /* appended records are all kept */
    }
    if (out == NULL)
        return usage_error(cmd, "an output file is required (-o OUT.steparc)");
    if (optind >= argc)
        return usage_error(cmd, mode == MODE_MERGE ? "no archive given to merge"
                                                   : "no input given (a file, a directory or -)");
    for (int i = optind; i < argc; i++)
        if (strcmp(argv[i], "-") != 0 && same_file(argv[i], out)) {
            msg("%s: the output %s is also an input", cmd, out);
            return EXIT_BAD;
        }
    if (rejects && !co.skip_invalid)
        return usage_error(cmd, "--rejects needs --skip-invalid");
    conv_ui ui;
    memset(&ui, 0, sizeof ui);
    ui.quiet = quiet;
    ui.tty = isatty(2);
    ui.t0 = now_s();
    if (rejects) {
        ui.rejects = fopen(rejects, "w");
        if (ui.rejects == NULL) {
            msg("%s: cannot create %s: %s", cmd, rejects, strerror(errno));
            return EXIT_BAD;
        }
    }
    co.progress = on_progress;
    co.progress_ctx = &ui;
    co.skipped = on_skipped;
    co.skipped_ctx = &ui;
    steparc_writer *w = NULL;
    steparc_converter *cv = NULL;
    char why[600];
    uint64_t before = 0;
    if (mode == MODE_APPEND) {
        steparc_reader *r0 = NULL;
        if (steparc_reader_open(&r0, out, NULL, why, sizeof why) == 0)
            before = steparc_reader_count(r0);
        steparc_reader_close(r0);
    }
    int rc = mode == MODE_APPEND ? steparc_writer_open_append(&w, out, &wo, why, sizeof why)
                                 : steparc_writer_open(&w, out, &wo, why, sizeof why);
    int status = 0;
    steparc_convert_stats mst;
    memset(&mst, 0, sizeof mst);
    const steparc_convert_stats *st = &mst;
    if (rc != 0) {
        msg("%s: %s", cmd, why);
        status = EXIT_BAD;
        goto cleanup;
    }
    if (mode == MODE_MERGE) {
        status = merge_inputs(w, argv + optind, argc - optind, &mst);
        if (status)
            goto cleanup;
    } else {
        rc = steparc_converter_open(&cv, w, &co);
        if (rc != 0) {
            msg("%s: %s", cmd, steparc_strerror(rc));
            status = EXIT_BAD;
            goto cleanup;
        }
        for (int i = optind; i < argc && rc == 0; i++)
            rc = steparc_converter_add_path(cv, argv[i]);
        if (ui.tty && !quiet)
            fputs("\r\033[K", stderr);
        if (rc != 0) {
            msg("%s", steparc_converter_errmsg(cv));
            status = EXIT_BAD;
            goto cleanup;
        }
        st = steparc_converter_stats(cv);
    }
    if (st->records == 0) {
        msg("%s: no run steps found in the input; %s", cmd,
            mode == MODE_APPEND ? "the archive is unchanged" : "no archive written");
        status = EXIT_BAD;
        goto cleanup;
    }
    rc = steparc_writer_finish(w);
    if (rc != 0) {
        msg("%s: %s", cmd, steparc_writer_errmsg(w));
        status = EXIT_BAD;
        goto cleanup;
    }
    if (mode == MODE_APPEND && !quiet)
        fprintf(stderr, "%s: %" PRIu64 " records before, %" PRIu64 " after\n", out, before,
                before + st->records);
    {
        double dt = now_s() - ui.t0;
        struct stat sb;
        uint64_t arch = stat(out, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        uint64_t skipped = 0;
        for (int k = 0; k < STEPARC_SKIP_REASONS; k++)
            skipped += st->skipped[k];
        uint64_t dups = steparc_writer_duplicates(w);
        if (!quiet) {
            fprintf(stderr,
                    "%s: %" PRIu64 " input(s), %" PRIu64 " records written, %" PRIu64
                    " duplicates merged, %" PRIu64
                    " skipped; %.1f MB in, %.1f MB out (ratio %.2f) in %.2fs\n",
                    out, st->inputs, st->records - dups, dups, skipped, (double)st->input_bytes / 1e6,
                    (double)arch / 1e6, arch ? (double)st->input_bytes / (double)arch : 0.0, dt);
            for (int k = 0; k < STEPARC_SKIP_REASONS; k++)
                if (st->skipped[k])
                    fprintf(stderr, "  skipped %" PRIu64 " %s\n", st->skipped[k], g_skip_names[k]);
            if (st->rebuilt)
                fprintf(stderr, "  rebuilt %" PRIu64 " step(s) from their deltas (stream ended before "
                        "the final object)\n", st->rebuilt);
            if (st->unrebuilt)
                fprintf(stderr, "  %" PRIu64 " step(s) had deltas that could not be applied\n",
                        st->unrebuilt);
        }
        if (report) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "command", cmd);
            cJSON_AddStringToObject(o, "output", out);
            cJSON_AddNumberToObject(o, "inputs", (double)st->inputs);
            cJSON_AddNumberToObject(o, "records", (double)(st->records - dups));
            cJSON_AddNumberToObject(o, "duplicates_merged", (double)dups);
            cJSON_AddNumberToObject(o, "objects", (double)st->objects);
            cJSON *sk = cJSON_AddObjectToObject(o, "skipped");
            for (int k = 0; k < STEPARC_SKIP_REASONS; k++)
                cJSON_AddNumberToObject(sk, g_skip_keys[k], (double)st->skipped[k]);
            cJSON_AddNumberToObject(o, "rebuilt_from_deltas", (double)st->rebuilt);
            cJSON_AddNumberToObject(o, "deltas_not_applied", (double)st->unrebuilt);
            cJSON_AddNumberToObject(o, "input_bytes", (double)st->input_bytes);
            cJSON_AddNumberToObject(o, "archive_bytes", (double)arch);
            cJSON_AddNumberToObject(o, "ratio", arch ? (double)st->input_bytes / (double)arch : 0);
            cJSON_AddNumberToObject(o, "seconds", dt);
            char *txt = cJSON_Print(o);
            FILE *f = fopen(report, "w");
            if (f == NULL || txt == NULL || fputs(txt, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
                msg("%s: cannot write %s: %s", cmd, report, strerror(errno));
                status = EXIT_BAD;
            }
            cJSON_free(txt);
            cJSON_Delete(o);
        }
    }
cleanup:
    steparc_converter_close(cv);
    steparc_writer_close(w);
    if (ui.rejects)
        fclose(ui.rejects);
    return status;
}

/* ---- reading commands ------------------------------------------------------------------- */

typedef struct {
    int pretty, via_struct;
    steparc_buf js;
} printer;

/* Writes one record (MessagePack) as JSON plus a newline. */
static int print_record(printer *p, const void *mp, size_t len, uint64_t ordinal)
{
    unsigned flags = p->pretty ? STEPARC_JSON_PRETTY : 0;
    int rc;
    if (p->via_struct) {
        steparc_step *st = NULL;
        rc = steparc_step_decode(&st, mp, len);
        if (rc == 0)
            rc = steparc_step_to_json(&p->js, st, flags);
        steparc_step_free(st);
    } else {
        rc = steparc_msgpack_to_json(&p->js, mp, len, flags);
    }
    if (rc != 0) {
        msg("record %" PRIu64 ": cannot be written as JSON: %s", ordinal, steparc_strerror(rc));
        return EXIT_BAD;
    }
    if (out_write(p->js.data, p->js.len) || out_write("\n", 1))
        return EXIT_BAD;
    return 0;
}

static int open_archive(const char *cmd, const char *path, steparc_reader **r)
{
    char err[512];
    int rc = steparc_reader_open(r, path, NULL, err, sizeof err);
    if (rc != 0) {
        msg("%s: %s", cmd, err);
        return EXIT_BAD;
    }
    steparc_info in;
    if (steparc_reader_info(&in, *r) == 0 && in.ignored_tail_bytes)
        msg("%s: warning: %s: %" PRIu64 " bytes after the last valid footer are ignored (an "
            "interrupted append?); 'steparc verify' reports them, 'steparc recover' rewrites the archive",
            cmd, path, in.ignored_tail_bytes);
    return 0;
}

static int read_opts(int argc, char **argv, const char *cmd, printer *p)
{
    int k = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pretty") == 0)
            p->pretty = 1;
        else if (strcmp(argv[i], "--via-struct") == 0)
            p->via_struct = 1;
        else if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] != 0)
            return usage_error(cmd, "unknown option '%s'", argv[i]);
        else
            argv[k++] = argv[i];
    }
    argv[k] = NULL;
    return -k; /* new argc, negated so errors (positive) are distinct */
}

/* ---- output of selections: JSONL, one JSON array, or API list pages --------------- */

enum { FMT_JSONL, FMT_JSON, FMT_LIST };

typedef struct {
    printer p;
    int format;
    uint64_t limit;     /* list: records per page */
    uint64_t count;     /* records written */
    steparc_buf page;   /* list: the page's records, MessagePack back to back */
    uint64_t in_page;
    steparc_buf first_id, last_id; /* MessagePack of the ids (str, or nil) */
    steparc_buf mp, js;
} emitter;

static int mp_put_str(steparc_buf *b, const char *s, size_t n)
{
    unsigned char h[5];
    size_t hl;
    if (n < 32) {
        h[0] = (unsigned char)(0xA0 | n);
        hl = 1;
    } else if (n < 256) {
        h[0] = 0xD9;
        h[1] = (unsigned char)n;
        hl = 2;
    } else if (n < 65536) {
        h[0] = 0xDA;
        h[1] = (unsigned char)(n >> 8);
        h[2] = (unsigned char)n;
        hl = 3;
    } else {
        h[0] = 0xDB;
        h[1] = (unsigned char)(n >> 24);
        h[2] = (unsigned char)(n >> 16);
        h[3] = (unsigned char)(n >> 8);
        h[4] = (unsigned char)n;
        hl = 5;
    }
    return buf_add(b, h, hl) || buf_add(b, s, n);
}

/* The id of a record as MessagePack (its "id" string, or nil). */
static int id_of(const void *mp, size_t len, steparc_buf *out)
{
    steparc_step *st = NULL;
    out->len = 0;
    int rc = steparc_step_decode(&st, mp, len);
    if (rc == 0 && st->id.state == STEPARC_SET)
        rc = mp_put_str(out, st->id.v.ptr, st->id.v.len) ? STEPARC_E_NOMEM : 0;
    else if (rc == 0)
        rc = buf_add(out, "\xc0", 1) ? STEPARC_E_NOMEM : 0;
    steparc_step_free(st);
    return rc;
}

static int flush_page(emitter *e, int has_more)
{
    /* {"object":"list","data":[...],"first_id":..,"last_id":..,"has_more":..} */
    steparc_buf *m = &e->mp;
    m->len = 0;
    unsigned char ah[5];
    size_t ahl;
    uint64_t n = e->in_page;
    if (n < 16) {
        ah[0] = (unsigned char)(0x90 | n);
        ahl = 1;
    } else if (n < 65536) {
        ah[0] = 0xDC;
        ah[1] = (unsigned char)(n >> 8);
        ah[2] = (unsigned char)n;
        ahl = 3;
    } else {
        ah[0] = 0xDD;
        ah[1] = (unsigned char)(n >> 24);
        ah[2] = (unsigned char)(n >> 16);
        ah[3] = (unsigned char)(n >> 8);
        ah[4] = (unsigned char)n;
        ahl = 5;
    }
    if (buf_add(m, "\x85", 1) || mp_put_str(m, "object", 6) || mp_put_str(m, "list", 4) ||
        mp_put_str(m, "data", 4) || buf_add(m, ah, ahl) || buf_add(m, e->page.data, e->page.len) ||
        mp_put_str(m, "first_id", 8) ||
        buf_add(m, e->in_page ? e->first_id.data : "\xc0", e->in_page ? e->first_id.len : 1) ||
        mp_put_str(m, "last_id", 7) ||
        buf_add(m, e->in_page ? e->last_id.data : "\xc0", e->in_page ? e->last_id.len : 1) ||
        mp_put_str(m, "has_more", 8) || buf_add(m, has_more ? "\xc3" : "\xc2", 1)) {
        msg("out of memory");
        return EXIT_BAD;
    }
    int rc = steparc_msgpack_to_json(&e->js, m->data, m->len, e->p.pretty ? STEPARC_JSON_PRETTY : 0);
    if (rc) {
        msg("a list page cannot be written as JSON: %s", steparc_strerror(rc));
        return EXIT_BAD;
    }
    e->page.len = 0;
    e->in_page = 0;
    if (out_write(e->js.data, e->js.len) || out_write("\n", 1))
        return EXIT_BAD;
    return 0;
}

static int emit_record(emitter *e, const void *mp, size_t len, uint64_t ord)
{
    if (e->format == FMT_JSONL) {
        e->count++;
        return print_record(&e->p, mp, len, ord);
    }
    steparc_step *st = NULL;
    steparc_buf via = {0};
    int rc = 0;
    if (e->p.via_struct) {
        /* through the typed struct: decode, encode again */
        rc = steparc_step_decode(&st, mp, len);
        if (rc == 0)
            rc = steparc_step_encode(&via, st);
        steparc_step_free(st);
        if (rc) {
            msg("record %" PRIu64 ": %s", ord, steparc_strerror(rc));
            steparc_buf_free(&via);
            return EXIT_BAD;
        }
        mp = via.data;
        len = via.len;
    }
    int status = 0;
    if (e->format == FMT_JSON) {
        rc = steparc_msgpack_to_json(&e->p.js, mp, len, e->p.pretty ? STEPARC_JSON_PRETTY : 0);
        if (rc) {
            msg("record %" PRIu64 ": cannot be written as JSON: %s", ord, steparc_strerror(rc));
            status = EXIT_BAD;
        } else {
            const char *sep = e->p.pretty ? (e->count ? ",\n  " : "[\n  ") : (e->count ? "," : "[");
            if (out_write(sep, strlen(sep)))
                status = EXIT_BAD;
            /* pretty: one more level of indentation (strings hold no raw newline) */
            const char *s = e->p.js.data, *end = s + e->p.js.len;
            while (status == 0 && s < end) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
                if (out_write(s, n) || (nl && out_write("  ", 2)))
                    status = EXIT_BAD;
                s += n;
            }
            e->count++;
        }
    } else {
        if (e->in_page == e->limit)
            status = flush_page(e, 1);
        if (status == 0) {
            if (id_of(mp, len, &e->last_id) != 0) {
                msg("record %" PRIu64 ": not a valid record", ord);
                status = EXIT_BAD;
            } else {
                if (e->in_page == 0 && buf_copy(&e->first_id, &e->last_id))
                    status = EXIT_BAD;
                if (buf_add(&e->page, mp, len))
                    status = EXIT_BAD;
                e->in_page++;
                e->count++;
            }
        }
    }
    steparc_buf_free(&via);
    return status;
}

static int emit_end(emitter *e)
{
    int status = 0;
    if (e->format == FMT_JSON)
        status = out_write(e->count ? (e->p.pretty ? "\n]\n" : "]\n") : "[]\n",
                           e->count ? (e->p.pretty ? 3 : 2) : 3) ? EXIT_BAD : 0;
    else if (e->format == FMT_LIST && (e->in_page || e->count == 0))
        status = flush_page(e, 0);
    steparc_buf_free(&e->page);
    steparc_buf_free(&e->first_id);
    steparc_buf_free(&e->last_id);
    steparc_buf_free(&e->mp);
    steparc_buf_free(&e->js);
    steparc_buf_free(&e->p.js);
    return status;
}

/* Options shared by cat and find: --format, --limit, --order, --pretty,
 * --via-struct. Returns 1 when argv[*i] was one of them (consuming its
 * value), 0 when not, or an exit status (>= 2) on a usage error. */
static int output_opt(const char *cmd, int argc, char **argv, int *i, emitter *e, int *desc)
{
    const char *a = argv[*i];
    if (strcmp(a, "--pretty") == 0)
        e->p.pretty = 1;
    else if (strcmp(a, "--via-struct") == 0)
        e->p.via_struct = 1;
    else if (strcmp(a, "--format") == 0 || strcmp(a, "--limit") == 0 || strcmp(a, "--order") == 0) {
        if (*i + 1 >= argc)
            return usage_error(cmd, "%s needs a value", a);
        const char *v = argv[++*i];
        if (strcmp(a, "--format") == 0) {
            if (strcmp(v, "jsonl") == 0)
                e->format = FMT_JSONL;
            else if (strcmp(v, "json") == 0)
                e->format = FMT_JSON;
            else if (strcmp(v, "list") == 0)
                e->format = FMT_LIST;
            else
                return usage_error(cmd, "--format takes jsonl, json or list");
        } else if (strcmp(a, "--limit") == 0) {
            if (parse_u64(v, &e->limit) != 0 || e->limit == 0)
                return usage_error(cmd, "--limit takes a number from 1");
        } else {
            if (strcmp(v, "asc") == 0)
                *desc = 0;
            else if (strcmp(v, "desc") == 0)
                *desc = 1;
            else
                return usage_error(cmd, "--order takes asc or desc");
        }
    } else
        return 0;
    return 1;
}

/* Writes the records a filter selects (NULL: all), in archive order or
 * reversed. Reversed order keeps the matching ordinals (8 bytes each). */
static int run_selection(const char *cmd, const char *path, steparc_reader *r,
                         const steparc_filter *f, emitter *e, int desc)
{
    steparc_cursor *c = NULL;
    int status = 0;
    uint64_t *ords = NULL;
    size_t nords = 0, cap = 0;
    int rc = steparc_cursor_open(&c, r, f);
    if (rc) {
        msg("%s: %s", cmd, steparc_reader_errmsg(r));
        return EXIT_BAD;
    }
    while (status == 0) {
        uint64_t ord;
        const void *mp;
        size_t len;
        rc = steparc_cursor_next(&ord, &mp, &len, c);
        if (rc == STEPARC_END)
            break;
        if (rc) {
            msg("%s: %s: %s", cmd, path, steparc_cursor_errmsg(c));
            status = EXIT_BAD;
            break;
        }
        if (!desc) {
            status = emit_record(e, mp, len, ord);
            continue;
        }
        if (nords == cap) {
            cap = cap ? 2 * cap : 1024;
            uint64_t *no = realloc(ords, cap * sizeof *no);
            if (no == NULL) {
                msg("%s: out of memory", cmd);
                status = EXIT_BAD;
                break;
            }
            ords = no;
        }
        ords[nords++] = ord;
    }
    steparc_cursor_close(c);
    steparc_buf mp = {0};
    for (size_t k = nords; status == 0 && k-- > 0;) {
        if (steparc_reader_get_msgpack(&mp, r, ords[k]) != 0) {
            msg("%s: %s", cmd, steparc_reader_errmsg(r));
            status = EXIT_BAD;
            break;
        }
        status = emit_record(e, mp.data, mp.len, ords[k]);
    }
    steparc_buf_free(&mp);
    free(ords);
    int end = emit_end(e);
    return status ? status : end;
}

/* ---- parallel export ----------------------------------------------------------------
 *
 * cat in JSONL order with several threads: the archive is cut into ranges of
 * ordinals; each worker writes the JSON of its range into a buffer through
 * its own cursor; the main thread writes the buffers in order. */

#define EXPORT_CHUNK 2048 /* records per range */

typedef struct {
    uint64_t chunk;     /* range number */
    int state;          /* 0 free, 1 taken, 2 done */
    int status;
    char err[300];
    steparc_buf out;
} xslot;

typedef struct {
    steparc_reader *r;
    printer opt;
    uint64_t nchunks, next_take, next_write;
    xslot *slots;
    size_t nslots;
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} xstate;

static int export_range(xstate *x, xslot *s)
{
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.has_range = 1;
    f.range_from = s->chunk * EXPORT_CHUNK;
    f.range_to = f.range_from + EXPORT_CHUNK;
    steparc_cursor *c = NULL;
    unsigned flags = x->opt.pretty ? STEPARC_JSON_PRETTY : 0;
    int rc = steparc_cursor_open(&c, x->r, &f);
    if (rc) /* not the reader's message: the threads share it */
        snprintf(s->err, sizeof s->err, "%s", steparc_strerror(rc));
    size_t done = 0; /* bytes of the records written whole */
    s->out.len = 0;
    while (rc == 0) {
        uint64_t ord;
        const void *mp;
        size_t len;
        rc = steparc_cursor_next(&ord, &mp, &len, c);
        if (rc == STEPARC_END) {
            rc = 0;
            break;
        }
        if (rc) {
            snprintf(s->err, sizeof s->err, "%s", steparc_cursor_errmsg(c));
            break;
        }
        /* straight into the range's buffer */
        if (x->opt.via_struct) {
            steparc_step *st = NULL;
            rc = steparc_step_decode(&st, mp, len);
            if (rc == 0)
                rc = steparc_step_to_json(&s->out, st, flags | STEPARC_JSON_APPEND);
            steparc_step_free(st);
        } else {
            rc = steparc_msgpack_to_json(&s->out, mp, len, flags | STEPARC_JSON_APPEND);
        }
        if (rc) {
            snprintf(s->err, sizeof s->err, "record %" PRIu64 ": cannot be written as JSON: %s", ord,
                     steparc_strerror(rc));
            break;
        }
        if (buf_add(&s->out, "\n", 1)) {
            snprintf(s->err, sizeof s->err, "out of memory");
            rc = STEPARC_E_NOMEM;
        } else {
            done = s->out.len;
        }
    }
    steparc_cursor_close(c);
    /* on failure the caller still writes the records before it, as the
     * record-by-record export did */
    s->out.len = done;
    return rc;
}

static void *export_worker(void *arg)
{
    xstate *x = (xstate *)arg;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        xslot *s = NULL;
        while (!x->stop && x->next_take < x->nchunks) {
            for (size_t i = 0; i < x->nslots && s == NULL; i++)
                if (x->slots[i].state == 0)
                    s = &x->slots[i];
            if (s)
                break;
            pthread_cond_wait(&x->cv, &x->mu);
        }
        if (s == NULL)
            break;
        s->chunk = x->next_take++;
        s->state = 1;
        pthread_mutex_unlock(&x->mu);
        s->status = export_range(x, s);
        pthread_mutex_lock(&x->mu);
        s->state = 2;
        pthread_cond_broadcast(&x->cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

/* Writes a finished range: its records (those before any damage), then its
 * error. 0 or EXIT_BAD. */
static int put_range(const char *path, const xslot *s)
{
    if (out_write(s->out.data, s->out.len))
        return EXIT_BAD;
    if (s->status) {
        msg("cat: %s: %s", path, s->err);
        return EXIT_BAD;
    }
    return 0;
}

static int export_parallel(const char *path, steparc_reader *r, const printer *opt, int threads)
{
    xstate x;
    memset(&x, 0, sizeof x);
    x.r = r;
    x.opt = *opt;
    x.nchunks = (steparc_reader_count(r) + EXPORT_CHUNK - 1) / EXPORT_CHUNK;
    x.nslots = (size_t)threads * 2;
    x.slots = calloc(x.nslots, sizeof(xslot));
    pthread_t *th = calloc((size_t)threads, sizeof(pthread_t));
    if (x.slots == NULL || th == NULL) {
        free(x.slots);
        free(th);
        msg("cat: out of memory");
        return EXIT_BAD;
    }
    pthread_mutex_init(&x.mu, NULL);
    pthread_cond_init(&x.cv, NULL);
    int started = 0;
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, export_worker, &x) == 0)
            started++;
    int status = started ? 0 : EXIT_BAD;
    pthread_mutex_lock(&x.mu);
    while (status == 0 && x.next_write < x.nchunks) {
        xslot *s = NULL;
        for (size_t i = 0; i < x.nslots; i++)
            if (x.slots[i].state == 2 && x.slots[i].chunk == x.next_write)
                s = &x.slots[i];
        if (s == NULL) {
            pthread_cond_wait(&x.cv, &x.mu);
            continue;
        }
        pthread_mutex_unlock(&x.mu);
        status = put_range(path, s);
        pthread_mutex_lock(&x.mu);
        s->state = 0;
        x.next_write++;
        pthread_cond_broadcast(&x.cv);
    }
    x.stop = 1;
    pthread_cond_broadcast(&x.cv);
    pthread_mutex_unlock(&x.mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (size_t i = 0; i < x.nslots; i++)
        steparc_buf_free(&x.slots[i].out);
    free(x.slots);
    free(th);
    pthread_mutex_destroy(&x.mu);
    pthread_cond_destroy(&x.cv);
    return status;
}

/* cat in JSONL order on one thread: the same ranges, written as each is
 * done. Whole ranges go to fwrite, which passes them to write() without
 * copying them through the stdio buffer. */
static int export_serial(const char *path, steparc_reader *r, const printer *opt)
{
    xstate x;
    xslot s;
    memset(&x, 0, sizeof x);
    memset(&s, 0, sizeof s);
    x.r = r;
    x.opt = *opt;
    x.nchunks = (steparc_reader_count(r) + EXPORT_CHUNK - 1) / EXPORT_CHUNK;
    int status = 0;
    for (s.chunk = 0; s.chunk < x.nchunks && status == 0; s.chunk++) {
        s.status = export_range(&x, &s);
        status = put_range(path, &s);
    }
    steparc_buf_free(&s.out);
    return status;
}

/* The export allocates and frees a buffer per block (64 KiB by default);
 * glibc hands freed memory at the top of the heap back to the kernel (trim)
 * and the next block faults it in again: two thirds of cat's page faults and
 * ~5% of its time. Keeping up to 64 MiB of free heap avoids that. */
static void keep_freed_memory(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

static int cmd_cat(int argc, char **argv)
{
    if (want_help(argc, argv, g_help_cat))
        return 0;
    emitter e;
    memset(&e, 0, sizeof e);
    e.limit = 20;
    int desc = 0;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = nproc > 0 ? (int)nproc : 1;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        int k = output_opt("cat", argc, argv, &i, &e, &desc);
        if (k > 1)
            return k;
        if (k == 1)
            continue;
        if (strcmp(argv[i], "-j") == 0 || strcmp(argv[i], "--threads") == 0) {
            uint64_t v;
            if (i + 1 >= argc || parse_u64(argv[++i], &v) != 0 || v < 1 || v > 256)
                return usage_error("cat", "-j takes 1..256");
            threads = (int)v;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != 0)
            return usage_error("cat", "unknown option '%s'", argv[i]);
        if (path)
            return usage_error("cat", "exactly one archive expected");
        path = argv[i];
    }
    if (path == NULL)
        return usage_error("cat", "exactly one archive expected");
    steparc_reader *r;
    if (open_archive("cat", path, &r))
        return EXIT_BAD;
    int status;
    if (e.format == FMT_JSONL && !desc) {
        keep_freed_memory();
        if (threads > 1 && steparc_reader_count(r) > EXPORT_CHUNK)
            status = export_parallel(path, r, &e.p, threads);
        else
            status = export_serial(path, r, &e.p);
        emit_end(&e);
    } else {
        status = run_selection("cat", path, r, NULL, &e, desc);
    }
    if (out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}

static int cmd_get(int argc, char **argv)
{
    if (want_help(argc, argv, g_help_get))
        return 0;
    printer p = {0, 0, {0}};
    int n = read_opts(argc, argv, "get", &p);
    if (n > 0)
        return n;
    argc = -n;
    if (argc < 3)
        return usage_error("get", "an archive and at least one position expected");
    for (int i = 2; i < argc; i++) {
        uint64_t v;
        if (parse_u64(argv[i], &v) != 0)
            return usage_error("get", "'%s' is not a position (a number from 0)", argv[i]);
    }
    steparc_reader *r;
    if (open_archive("get", argv[1], &r))
        return EXIT_BAD;
    steparc_buf mp = {0};
    int status = 0;
    for (int i = 2; i < argc && status == 0; i++) {
        uint64_t v;
        parse_u64(argv[i], &v);
        int rc = steparc_reader_get_msgpack(&mp, r, v);
        if (rc) {
            msg("get: %s", steparc_reader_errmsg(r));
            status = EXIT_BAD;
            break;
        }
        status = print_record(&p, mp.data, mp.len, v);
    }
    if (out_flush())
        status = EXIT_BAD;
    steparc_buf_free(&mp);
    steparc_buf_free(&p.js);
    steparc_reader_close(r);
    return status;
}

static int cmd_find(int argc, char **argv)
{
    if (want_help(argc, argv, g_help_find))
        return 0;
    emitter e;
    memset(&e, 0, sizeof e);
    e.limit = 20;
    int desc = 0;
    steparc_filter f;
    memset(&f, 0, sizeof f);
    const char *id = NULL, *archive = NULL;
    int nfilters = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int k = output_opt("find", argc, argv, &i, &e, &desc);
        if (k > 1)
            return k;
        if (k == 1)
            continue;
        static const char *const names[] = {"--id", "--run", "--thread", "--assistant", "--status",
                                            "--type", "--tool", "--since", "--until"};
        int which = -1;
        for (int n = 0; n < 9; n++)
            if (strcmp(a, names[n]) == 0)
                which = n;
        if (which >= 0) {
            if (i + 1 >= argc)
                return usage_error("find", "%s needs a value", a);
            const char *v = argv[++i];
            steparc_str s = {v, strlen(v)};
            nfilters++;
            switch (which) {
            case 0: id = v; break;
            case 1: f.run_id = s; break;
            case 2: f.thread_id = s; break;
            case 3: f.assistant_id = s; break;
            case 4: f.status = s; break;
            case 5: f.type = s; break;
            case 6: f.tool = s; break;
            case 7:
                if (parse_i64(v, &f.since) != 0)
                    return usage_error("find", "--since takes a Unix time in seconds");
                f.has_since = 1;
                break;
            default:
                if (parse_i64(v, &f.until) != 0)
                    return usage_error("find", "--until takes a Unix time in seconds");
                f.has_until = 1;
            }
        } else if (a[0] == '-' && a[1] != 0)
            return usage_error("find", "unknown option '%s'", a);
        else if (archive == NULL)
            archive = a;
        else
            return usage_error("find", "unexpected argument '%s'", a);
    }
    if (archive == NULL)
        return usage_error("find", "an archive is required");
    if (nfilters == 0)
        return usage_error("find", "give at least one of --id, --run, --thread, --assistant, "
                                   "--status, --type, --tool, --since, --until");
    steparc_reader *r;
    if (open_archive("find", archive, &r))
        return EXIT_BAD;
    int status = 0;
    if (id) {
        /* the id index gives the record; the other filters must hold too */
        uint64_t ord;
        steparc_buf mp = {0};
        int rc = steparc_reader_find_id(&ord, r, id, strlen(id));
        if (rc == 0)
            rc = steparc_reader_get_msgpack(&mp, r, ord);
        if (rc) {
            msg("find: %s", steparc_reader_errmsg(r));
            status = EXIT_BAD;
        } else {
            int keep = 1;
            if (nfilters > 1) {
                steparc_cursor *c = NULL;
                uint64_t o2;
                const void *m2;
                size_t l2;
                keep = 0;
                rc = steparc_cursor_open(&c, r, &f);
                while (rc == 0 && (rc = steparc_cursor_next(&o2, &m2, &l2, c)) == 0)
                    if (o2 == ord) {
                        keep = 1;
                        break;
                    }
                steparc_cursor_close(c);
            }
            if (keep)
                status = emit_record(&e, mp.data, mp.len, ord);
            int end = emit_end(&e);
            if (status == 0)
                status = end;
        }
        steparc_buf_free(&mp);
    } else {
        status = run_selection("find", archive, r, &f, &e, desc);
    }
    if (out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}

/* The arguments of info and stats: one archive and an optional --json; opens
 * it. 0, or the exit status to return. */
static int archive_and_json(const char *cmd, int argc, char **argv, const char **path, int *json,
                            steparc_reader **r)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            *json = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage_error(cmd, "unknown option '%s'", argv[i]);
        else if (*path == NULL)
            *path = argv[i];
        else
            return usage_error(cmd, "exactly one archive expected");
    }
    if (*path == NULL)
        return usage_error(cmd, "an archive is required");
    return open_archive(cmd, *path, r) ? EXIT_BAD : 0;
}

static void fmt_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%" PRId64, t);
}

static int cmd_info(int argc, char **argv)
{
    if (want_help(argc, argv, g_help_info))
        return 0;
    int json = 0;
    const char *path = NULL;
    steparc_reader *r;
    int st = archive_and_json("info", argc, argv, &path, &json, &r);
    if (st)
        return st;
    steparc_info in;
    steparc_reader_info(&in, r);
    int have_ts = in.min_created_at <= in.max_created_at;
    double ratio = in.stored_bytes ? (double)in.raw_bytes / (double)in.stored_bytes : 0;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        char v[32];
        snprintf(v, sizeof v, "%u.%u", in.format_major, in.format_minor);
        cJSON_AddStringToObject(o, "format", v);
        cJSON_AddNumberToObject(o, "records", (double)in.records);
        cJSON_AddNumberToObject(o, "blocks", (double)in.blocks);
        cJSON_AddNumberToObject(o, "columnar_blocks", (double)in.columnar_blocks);
        cJSON_AddNumberToObject(o, "file_bytes", (double)in.file_size);
        cJSON_AddNumberToObject(o, "record_bytes", (double)in.raw_bytes);
        cJSON_AddNumberToObject(o, "stored_bytes", (double)in.stored_bytes);
        cJSON_AddNumberToObject(o, "ratio", ratio);
        if (have_ts) {
            cJSON_AddNumberToObject(o, "min_created_at", (double)in.min_created_at);
            cJSON_AddNumberToObject(o, "max_created_at", (double)in.max_created_at);
        } else {
            cJSON_AddNullToObject(o, "min_created_at");
            cJSON_AddNullToObject(o, "max_created_at");
        }
        cJSON_AddBoolToObject(o, "time_ordered", in.time_ordered);
        cJSON *s = cJSON_AddArrayToObject(o, "sections");
        if (in.has_id_index) cJSON_AddItemToArray(s, cJSON_CreateString("id_index"));
        if (in.has_run_index) cJSON_AddItemToArray(s, cJSON_CreateString("run_postings"));
        if (in.has_thread_index) cJSON_AddItemToArray(s, cJSON_CreateString("thread_postings"));
        if (in.has_stats) cJSON_AddItemToArray(s, cJSON_CreateString("statistics"));
        char *txt = cJSON_PrintUnformatted(o);
        if (txt) {
            out_write(txt, strlen(txt));
            out_write("\n", 1);
        }
        cJSON_free(txt);
        cJSON_Delete(o);
    } else {
        char a[64] = "-", b[64] = "-";
        if (have_ts) {
            fmt_time(in.min_created_at, a, sizeof a);
            fmt_time(in.max_created_at, b, sizeof b);
        }
        printf("archive:      %s\n"
               "format:       %u.%u\n"
               "records:      %" PRIu64 "\n"
               "blocks:       %" PRIu64 " (%" PRIu64 " columnar, %" PRIu64 " rows)\n"
               "file size:    %" PRIu64 " bytes\n"
               "record bytes: %" PRIu64 " (MessagePack)\n"
               "block bytes:  %" PRIu64 " (compressed, ratio %.2f)\n"
               "created_at:   %s .. %s%s\n"
               "sections:     block index%s%s%s%s\n",
               path, in.format_major, in.format_minor, in.records, in.blocks, in.columnar_blocks,
               in.blocks - in.columnar_blocks, in.file_size,
               in.raw_bytes, in.stored_bytes, ratio, a, b,
               in.time_ordered ? " (blocks in time order)" : "",
               in.has_id_index ? ", id index" : "", in.has_run_index ? ", run postings" : "",
               in.has_thread_index ? ", thread postings" : "", in.has_stats ? ", statistics" : "");
    }
    int status = out_flush();
    steparc_reader_close(r);
    return status;
}

static void on_problem(void *ctx, const steparc_problem *p)
{
    const char *path = (const char *)ctx;
    if (strncmp(p->what, "block ", 6) == 0)
        fprintf(stderr, "%s: %s\n", path, p->what);
    else if (p->block >= 0)
        fprintf(stderr, "%s: block %" PRId64 " at offset %" PRIu64 ": %s\n", path, p->block,
                p->offset, p->what);
    else
        fprintf(stderr, "%s: offset %" PRIu64 ": %s\n", path, p->offset, p->what);
}

static int cmd_verify(int argc, char **argv)
{
    if (want_help(argc, argv, g_help_verify))
        return 0;
    if (argc != 2 || argv[1][0] == '-')
        return usage_error("verify", "exactly one archive expected");
    steparc_reader *r;
    if (open_archive("verify", argv[1], &r))
        return EXIT_BAD;
    uint64_t n = 0;
    int rc = steparc_verify(&n, r, on_problem, argv[1]);
    int status = 0;
    if (rc == 0) {
        steparc_info in;
        steparc_reader_info(&in, r);
        printf("%s: ok, %" PRIu64 " records in %" PRIu64 " blocks, every checksum and index verified\n",
               argv[1], in.records, in.blocks);
    } else if (rc == STEPARC_E_CORRUPT) {
        printf("%s: DAMAGED, %" PRIu64 " problem(s)\n", argv[1], n);
        status = EXIT_BAD;
    } else {
        msg("verify: %s", steparc_reader_errmsg(r));
        status = EXIT_BAD;
    }
    if (out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}

/* ---- stats --------------------------------------------------------------------------- */

static const char *const g_help_stats =
    "usage: steparc stats ARCHIVE [--json]\n"
    "\n"
    "Counts records by type, status and tool-call type; sums prompt, completion and\n"
    "total tokens; counts steps per assistant and per day (UTC, from created_at).\n"
    "Reads every record.\n";

typedef struct {
    char *key;     /* exact bytes (may hold NUL), NUL-terminated for printing */
    size_t len;
    uint64_t n;
} counter;

typedef struct {
    counter *v;
    size_t n, cap;
} counters;

static int count_add(counters *cs, const char *k, size_t len)
{
    for (size_t i = 0; i < cs->n; i++)
        if (cs->v[i].len == len && memcmp(cs->v[i].key, k, len) == 0) {
            cs->v[i].n++;
            return 0;
        }
    if (cs->n == cs->cap) {
        size_t nc = cs->cap ? 2 * cs->cap : 16;
        counter *nv = realloc(cs->v, nc * sizeof *nv);
        if (nv == NULL)
            return -1;
        cs->v = nv;
        cs->cap = nc;
    }
    char *key = malloc(len + 1);
    if (key == NULL)
        return -1;
    memcpy(key, k, len);
    key[len] = 0;
    cs->v[cs->n].key = key;
    cs->v[cs->n].len = len;
    cs->v[cs->n].n = 1;
    cs->n++;
    return 0;
}

static int cmp_key(const counter *x, const counter *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int cmp_counter(const void *a, const void *b)
{
    const counter *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return cmp_key(x, y);
}

static int cmp_counter_key(const void *a, const void *b)
{
    return cmp_key((const counter *)a, (const counter *)b);
}

static void count_free(counters *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        free(cs->v[i].key);
    free(cs->v);
}

static int count_str(counters *cs, const steparc_opt_str *s)
{
    if (s->state == STEPARC_SET)
        return count_add(cs, s->v.ptr, s->v.len);
    return count_add(cs, s->state == STEPARC_NULL ? "(null)" : s->state == STEPARC_ABSENT ? "(absent)" : "(other type)",
                     s->state == STEPARC_NULL ? 6 : s->state == STEPARC_ABSENT ? 8 : 12);
}

static int count_enum(counters *cs, const steparc_opt_enum *s)
{
    steparc_opt_str t = {s->state, s->v, s->other};
    return count_str(cs, &t);
}

/* The JSON report is built as MessagePack and written by the library's
 * canonical JSON writer: keys keep every byte and numbers every digit (cJSON
 * would cut keys at NUL and print integers through a double). */
static int mp_put_int(steparc_buf *b, int64_t v)
{
    unsigned char h[9];
    h[0] = 0xD3;
    for (int i = 0; i < 8; i++)
        h[1 + i] = (unsigned char)((uint64_t)v >> (56 - 8 * i));
    return buf_add(b, h, 9);
}

static int mp_put_map(steparc_buf *b, uint32_t n)
{
    unsigned char h[5] = {0xDF, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    return buf_add(b, h, 5);
}

static int counters_mp(steparc_buf *b, const char *name, counters *cs)
{
    int bad = mp_put_str(b, name, strlen(name)) || mp_put_map(b, (uint32_t)cs->n);
    for (size_t i = 0; i < cs->n && !bad; i++)
        bad = mp_put_str(b, cs->v[i].key, cs->v[i].len) || mp_put_int(b, (int64_t)cs->v[i].n);
    return bad;
}

static void counters_print(const char *title, counters *cs, size_t most)
{
    printf("%s:\n", title);
    for (size_t i = 0; i < cs->n && i < most; i++) {
        /* at most 60 bytes, control characters shown as '?' */
        char k[64];
        size_t n = 0;
        for (const char *p = cs->v[i].key; *p && n < 60; p++)
            k[n++] = (unsigned char)*p < 0x20 ? '?' : *p;
        if (cs->v[i].key[n] && n == 60)
            k[n - 3] = k[n - 2] = k[n - 1] = '.';
        k[n] = 0;
        printf("  %-40s %" PRIu64 "\n", k, cs->v[i].n);
    }
    if (cs->n > most)
        printf("  ... %zu more\n", cs->n - most);
}

static int cmd_stats(int argc, char **argv)
{
    if (want_help(argc, argv, g_help_stats))
        return 0;
    int json = 0;
    const char *path = NULL;
    steparc_reader *r;
    int ast = archive_and_json("stats", argc, argv, &path, &json, &r);
    if (ast)
        return ast;
    counters types = {0}, statuses = {0}, tools = {0}, assistants = {0}, days = {0};
    int64_t tok[3] = {0, 0, 0};
    int overflow = 0; /* a token sum left int64 (only absurd values do that) */
    uint64_t with_usage = 0, records = 0;
    int status = 0;
    steparc_cursor *c = NULL;
    int rc = steparc_cursor_open(&c, r, NULL);
    while (rc == 0) {
        uint64_t ord;
        const void *mp;
        size_t len;
        rc = steparc_cursor_next(&ord, &mp, &len, c);
        if (rc)
            break;
        steparc_step *st = NULL;
        if (steparc_step_decode(&st, mp, len) != 0) {
            msg("stats: record %" PRIu64 " cannot be decoded", ord);
            status = EXIT_BAD;
            break;
        }
        records++;
        int bad = count_enum(&types, &st->type) || count_enum(&statuses, &st->status) ||
                  count_str(&assistants, &st->assistant_id);
        if (st->step_details.state == STEPARC_SET && st->step_details.v.tool_calls.state == STEPARC_SET)
            for (size_t k = 0; k < st->step_details.v.tool_calls.count; k++)
                bad |= count_enum(&tools, &st->step_details.v.tool_calls.items[k].type);
        if (st->usage.state == STEPARC_SET) {
            const steparc_usage *u = &st->usage.v;
            with_usage++;
            const steparc_opt_int *t3[3] = {&u->prompt_tokens, &u->completion_tokens,
                                            &u->total_tokens};
            for (int k = 0; k < 3; k++)
                if (t3[k]->state == STEPARC_SET && __builtin_add_overflow(tok[k], t3[k]->v, &tok[k]))
                    overflow = 1;
        }
        char day[40] = "(no created_at)";
        if (st->created_at.state == STEPARC_SET) {
            time_t t = (time_t)st->created_at.v;
            struct tm tm;
            if ((int64_t)t != st->created_at.v || gmtime_r(&t, &tm) == NULL ||
                strftime(day, sizeof day, "%Y-%m-%d", &tm) == 0)
                snprintf(day, sizeof day, "(out of range)");
        }
        bad |= count_add(&days, day, strlen(day));
        steparc_step_free(st);
        if (bad) {
            msg("stats: out of memory");
            status = EXIT_BAD;
            break;
        }
    }
    if (rc != STEPARC_END && status == 0) {
        msg("stats: %s", c ? steparc_cursor_errmsg(c) : steparc_reader_errmsg(r));
        status = EXIT_BAD;
    }
    steparc_cursor_close(c);
    if (status == 0) {
        qsort(types.v, types.n, sizeof(counter), cmp_counter);
        qsort(statuses.v, statuses.n, sizeof(counter), cmp_counter);
        qsort(tools.v, tools.n, sizeof(counter), cmp_counter);
        qsort(assistants.v, assistants.n, sizeof(counter), cmp_counter);
        qsort(days.v, days.n, sizeof(counter), cmp_counter_key);
        if (json) {
            steparc_buf m = {0}, js = {0};
            int bad = mp_put_map(&m, 7) || mp_put_str(&m, "records", 7) ||
                      mp_put_int(&m, (int64_t)records) || counters_mp(&m, "by_type", &types) ||
                      counters_mp(&m, "by_status", &statuses) || counters_mp(&m, "by_tool", &tools) ||
                      mp_put_str(&m, "tokens", 6) || mp_put_map(&m, overflow ? 5 : 4) ||
                      mp_put_str(&m, "steps_with_usage", 16) || mp_put_int(&m, (int64_t)with_usage) ||
                      mp_put_str(&m, "prompt_tokens", 13) || mp_put_int(&m, tok[0]) ||
                      mp_put_str(&m, "completion_tokens", 17) || mp_put_int(&m, tok[1]) ||
                      mp_put_str(&m, "total_tokens", 12) || mp_put_int(&m, tok[2]) ||
                      (overflow && (mp_put_str(&m, "overflow", 8) || buf_add(&m, "\xc3", 1))) ||
                      counters_mp(&m, "by_assistant", &assistants) || counters_mp(&m, "by_day", &days);
            if (bad || steparc_msgpack_to_json(&js, m.data, m.len, 0) != 0) {
                msg("stats: cannot write the report");
                status = EXIT_BAD;
            } else if (out_write(js.data, js.len) || out_write("\n", 1)) {
                status = EXIT_BAD;
            }
            steparc_buf_free(&m);
            steparc_buf_free(&js);
        } else {
            printf("records: %" PRIu64 "\n", records);
            counters_print("by type", &types, 20);
            counters_print("by status", &statuses, 20);
            counters_print("tool calls by type", &tools, 20);
            printf("tokens (%" PRIu64 " steps with usage):\n  prompt %" PRId64 ", completion %" PRId64
                   ", total %" PRId64 "%s\n", with_usage, tok[0], tok[1], tok[2],
                   overflow ? " (a sum overflowed 64 bits: some values are absurd)" : "");
            counters_print("steps by assistant", &assistants, 20);
            counters_print("steps by day (UTC)", &days, 400);
        }
    }
    count_free(&types);
    count_free(&statuses);
    count_free(&tools);
    count_free(&assistants);
    count_free(&days);
    if (out_flush())
        status = EXIT_BAD;
    steparc_reader_close(r);
    return status;
}

static const char *const g_help_recover =
    "usage: steparc recover DAMAGED.steparc -o OUT.steparc [-q]\n"
    "\n"
    "Saves every intact block of a damaged archive into a new one. The footer and\n"
    "the indexes are not needed: blocks are found by their sync marker and checked\n"
    "completely (header and payload checksums, decompression, every record); the\n"
    "scan continues past damaged regions. The new archive is verified before the\n"
    "command reports.\n"
    "Exit status: 0 nothing was lost, 3 some blocks were lost (listed), 1 nothing\n"
    "could be saved.\n";

static void on_recover_problem(void *ctx, const steparc_problem *p)
{
    const char *path = (const char *)ctx;
    fprintf(stderr, "%s: offset %" PRIu64 ": %s\n", path, p->offset, p->what);
}

static int cmd_recover(int argc, char **argv)
{
    if (want_help(argc, argv, g_help_recover))
        return 0;
    const char *in = NULL, *out = NULL;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
            if (i + 1 >= argc)
                return usage_error("recover", "-o needs a file");
            out = argv[++i];
        } else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage_error("recover", "unknown option '%s'", argv[i]);
        else if (in == NULL)
            in = argv[i];
        else
            return usage_error("recover", "exactly one damaged archive expected");
    }
    if (in == NULL || out == NULL)
        return usage_error("recover", "a damaged archive and -o OUT are required");
    if (same_file(in, out)) {
        msg("recover: the output %s is the damaged archive; write a new file", out);
        return EXIT_BAD;
    }
    int fd = open(in, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        msg("recover: cannot open %s: %s", in, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return EXIT_BAD;
    }
    size_t len = (size_t)st.st_size;
    void *data = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (len && data == MAP_FAILED) {
        msg("recover: cannot map %s: %s", in, strerror(errno));
        return EXIT_BAD;
    }
    steparc_writer *w = NULL;
    steparc_writer_options wo;
    steparc_writer_options_init(&wo);
    char why[600];
    int status = 0;
    steparc_recover_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = steparc_writer_open(&w, out, &wo, why, sizeof why);
    if (rc) {
        msg("recover: %s", why);
        status = EXIT_BAD;
        goto cleanup;
    }
    rc = steparc_recover(&rep, data, len, w, quiet ? NULL : on_recover_problem, (void *)in);
    if (rc) {
        msg("recover: %s", steparc_writer_errmsg(w));
        status = EXIT_BAD;
        goto cleanup;
    }
    if (rep.records_saved == 0) {
        msg("recover: no intact block found in %s; nothing saved, %s not written", in, out);
        status = EXIT_BAD;
        goto cleanup;
    }
    rc = steparc_writer_finish(w);
    if (rc) {
        msg("recover: %s", steparc_writer_errmsg(w));
        status = EXIT_BAD;
        goto cleanup;
    }
    {
        /* check our own output before saying anything about it */
        steparc_reader *r = NULL;
        uint64_t np = 0;
        if (steparc_reader_open(&r, out, NULL, why, sizeof why) != 0 ||
            steparc_verify(&np, r, NULL, NULL) != 0 || steparc_reader_count(r) != rep.records_saved) {
            msg("recover: the recovered archive %s does not verify: %s", out,
                r ? steparc_reader_errmsg(r) : why);
            steparc_reader_close(r);
            status = EXIT_BAD;
            goto cleanup;
        }
        steparc_reader_close(r);
    }
    {
        /* without a footer (a cut file) what followed the cut is unknown: lossy */
        int lost = rep.blocks_damaged > 0 || !rep.footer_found ||
                   rep.records_saved < rep.records_expected;
        if (rep.footer_found)
            fprintf(stderr, "%s: saved %" PRIu64 " of %" PRIu64 " records (%" PRIu64
                    " intact blocks, %" PRIu64 " damaged) into %s, verified\n",
                    in, rep.records_saved, rep.records_expected, rep.blocks_saved,
                    rep.blocks_damaged, out);
        else
            fprintf(stderr, "%s: saved %" PRIu64 " records (%" PRIu64 " intact blocks, %" PRIu64
                    " damaged; no valid footer, so the original count is unknown) into %s, verified\n",
                    in, rep.records_saved, rep.blocks_saved, rep.blocks_damaged, out);
        status = lost ? 3 : 0;
    }
cleanup:
    steparc_writer_close(w);
    if (len && data != MAP_FAILED)
        munmap(data, len);
    return status;
}

int main(int argc, char **argv)
{
    static char obuf[1 << 16];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    /* past a file size limit, let write() fail with EFBIG (reported, and the
     * temporary file removed) rather than being killed by SIGXFSZ */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        fputs(g_help_main, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        static const struct {
            const char *name;
            const char *const *text;
        } helps[] = {{"convert", &g_help_convert}, {"append", &g_help_append},
                     {"merge", &g_help_merge},     {"cat", &g_help_cat},
                     {"get", &g_help_get},         {"find", &g_help_find},
                     {"info", &g_help_info},       {"stats", &g_help_stats},
                     {"verify", &g_help_verify},   {"recover", &g_help_recover}};
        if (argc > 2) { /* steparc help COMMAND */
            for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++)
                if (strcmp(argv[2], helps[i].name) == 0) {
                    fputs(*helps[i].text, stdout);
                    return 0;
                }
            fprintf(stderr, "%s: unknown command '%s'\n", g_prog, argv[2]);
            return EXIT_USAGE;
        }
        fputs(g_help_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("steparc %s (format %d.%d)\n", steparc_version_string(), STEPARC_FORMAT_MAJOR,
               STEPARC_FORMAT_MINOR);
        return 0;
    }
    argc--;
    argv++;
    if (strcmp(cmd, "convert") == 0)
        return cmd_convert(argc, argv, MODE_CONVERT);
    if (strcmp(cmd, "append") == 0)
        return cmd_convert(argc, argv, MODE_APPEND);
    if (strcmp(cmd, "merge") == 0)
        return cmd_convert(argc, argv, MODE_MERGE);
    if (strcmp(cmd, "cat") == 0)
        return cmd_cat(argc, argv);
    if (strcmp(cmd, "get") == 0)
        return cmd_get(argc, argv);
    if (strcmp(cmd, "find") == 0)
        return cmd_find(argc, argv);
    if (strcmp(cmd, "info") == 0)
        return cmd_info(argc, argv);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc, argv);
    if (strcmp(cmd, "recover") == 0)
        return cmd_recover(argc, argv);
    if (strcmp(cmd, "stats") == 0)
        return cmd_stats(argc, argv);
    fprintf(stderr, "%s: unknown command '%s'\n\n%s", g_prog, cmd, g_help_main);
    return EXIT_USAGE;
}
