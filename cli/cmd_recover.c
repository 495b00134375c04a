/* cmd_recover.c - recover: every intact block of a damaged archive into a
 * new archive, found by sync marker without the footer or the indexes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const struct option g_recover_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    CLI_HELP_OPTION,
    {NULL, 0, NULL, 0}};

/* The damaged archive, mapped. */
typedef struct {
    void *data;
    size_t len;
} mapping;

static void on_recover_problem(void *ctx, const steparc_problem *p)
{
    const char *path = (const char *)ctx;
    fprintf(stderr, "%s: offset %" PRIu64 ": %s\n", path, p->offset, p->what);
}

/* 1 when the command must return *status now. */
static int recover_args(const cli_command *cmd, int argc, char **argv, const char **in,
                        const char **out, int *quiet, int *status)
{
    cli_args a;
    int c;
    cli_args_init(&a, cmd, argc, argv);
    while ((c = cli_getopt(&a, ":ho:q", g_recover_opts)) != -1) {
        if (c == 'o')
            *out = optarg;
        else
            *quiet = 1;
    }
    if (cli_args_done(&a, status))
        return 1;
    *status = EXIT_USAGE;
    if (optind + 1 < argc)
        cli_usage_error("recover", "exactly one damaged archive expected");
    else if (optind >= argc || *out == NULL)
        cli_usage_error("recover", "a damaged archive and -o OUT are required");
    else if (cli_same_file(argv[optind], *out)) {
        cli_msg("recover: the output %s is the damaged archive; write a new file", *out);
        *status = EXIT_BAD;
    } else {
        *in = argv[optind];
        return 0;
    }
    return 1;
}

/* Maps a regular file read-only (an empty one maps to NULL); 0 or EXIT_BAD. */
static int map_input(const char *in, mapping *m)
{
    int fd = open(in, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_msg("recover: cannot open %s: %s", in, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return EXIT_BAD;
    }
    m->len = (size_t)st.st_size;
    m->data = m->len ? mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (m->len && m->data == MAP_FAILED) {
        cli_msg("recover: cannot map %s: %s", in, strerror(errno));
        m->len = 0;
        return EXIT_BAD;
    }
    return 0;
}

/* Checks our own output before saying anything about it; 0 or EXIT_BAD. */
static int verify_output(const char *out, uint64_t records)
{
    steparc_reader *r = NULL;
    char why[600];
    uint64_t np = 0;
    int status = 0;
    if (steparc_reader_open(&r, out, NULL, why, sizeof why) != 0 ||
        steparc_verify(&np, r, NULL, NULL) != 0 || steparc_reader_count(r) != records) {
        cli_msg("recover: the recovered archive %s does not verify: %s", out,
                r ? steparc_reader_errmsg(r) : why);
        status = EXIT_BAD;
    }
    steparc_reader_close(r);
    return status;
}

/* What was saved; 0 when nothing was lost, else EXIT_LOST. */
static int report(const char *in, const char *out, const steparc_recover_report *rep)
{
    /* without a footer (a cut file) what followed the cut is unknown: lossy */
    int lost = rep->blocks_damaged > 0 || !rep->footer_found ||
               rep->records_saved < rep->records_expected;
    if (rep->footer_found)
        fprintf(stderr, "%s: saved %" PRIu64 " of %" PRIu64 " records (%" PRIu64
                " intact blocks, %" PRIu64 " damaged) into %s, verified\n",
                in, rep->records_saved, rep->records_expected, rep->blocks_saved,
                rep->blocks_damaged, out);
    else
        fprintf(stderr, "%s: saved %" PRIu64 " records (%" PRIu64 " intact blocks, %" PRIu64
                " damaged; no valid footer, so the original count is unknown) into %s, verified\n",
                in, rep->records_saved, rep->blocks_saved, rep->blocks_damaged, out);
    return lost ? EXIT_LOST : 0;
}

/* The intact blocks into a new archive, finished and verified. */
static int save_blocks(const mapping *m, const char *in, const char *out, int quiet)
{
    steparc_writer *w = NULL;
    steparc_writer_options wo;
    steparc_writer_options_init(&wo);
    char why[600];
    int status = 0;
    steparc_recover_report rep;
    memset(&rep, 0, sizeof rep);
    if (steparc_writer_open(&w, out, &wo, why, sizeof why) != 0) {
        cli_msg("recover: %s", why);
        status = EXIT_BAD;
        goto cleanup;
    }
    if (steparc_recover(&rep, m->data, m->len, w, quiet ? NULL : on_recover_problem,
                        (void *)in) != 0) {
        cli_msg("recover: %s", steparc_writer_errmsg(w));
        status = EXIT_BAD;
        goto cleanup;
    }
    if (rep.records_saved == 0) {
        cli_msg("recover: no intact block found in %s; nothing saved, %s not written", in, out);
        status = EXIT_BAD;
        goto cleanup;
    }
    if (steparc_writer_finish(w) != 0) {
        cli_msg("recover: %s", steparc_writer_errmsg(w));
        status = EXIT_BAD;
        goto cleanup;
    }
    status = verify_output(out, rep.records_saved);
    if (status == 0)
        status = report(in, out, &rep);
cleanup:
    steparc_writer_close(w);
    return status;
}

int cli_recover(const cli_command *cmd, int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int quiet = 0, status;
    if (recover_args(cmd, argc, argv, &in, &out, &quiet, &status))
        return status;
    mapping m = {NULL, 0};
    if (map_input(in, &m))
        return EXIT_BAD;
    status = save_blocks(&m, in, out, quiet);
    if (m.len)
        munmap(m.data, m.len);
    return status;
}
