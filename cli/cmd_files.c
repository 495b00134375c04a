/* cmd_files.c - 'steparc files': every file id the archive references, with
 * its name, references per kind, threads and first/last seen (docs/AUDIT.md).
 * One pass with a cursor; memory holds one entry per file id. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "walk.h"

/* reference kinds, in their output order */
enum {
    R_FILE, R_VECTOR_STORE_FILE, R_ATTACHMENT, R_FILE_IDS, R_IMAGE_FILE, R_FILE_CITATION,
    R_FILE_PATH, R_CI_IMAGE, R_FILE_SEARCH, R_TOOL_RESOURCES, NREFS
};
static const char *const g_ref_names[NREFS] = {
    "file", "vector_store_file", "attachment", "file_ids", "image_file", "file_citation",
    "file_path", "code_interpreter_image", "file_search_result", "tool_resources"};

typedef struct {
    uint64_t n[NREFS];
    char *name; /* NULL: no record names it */
    size_t name_len;
    int name_from_file; /* a file record's filename beats a file_search file_name */
    cli_idmap threads;
    int seen;
    int64_t first, last;
} fentry;

typedef struct {
    cli_idmap ids; /* v: index into f */
    fentry *f;
    size_t cap;
    uint64_t records;
} files;

/* where a reference is made: the record's thread and created_at */
typedef struct {
    const msgpack_object *thread;
    int has_t;
    int64_t t;
} origin;

static int set_name(fentry *e, const msgpack_object *name, int from_file)
{
    const char *p;
    size_t n;
    if (!cli_mp_str(name, &p, &n) || n == 0 || (e->name && (e->name_from_file || !from_file)))
        return 0;
    char *s = malloc(n + 1);
    if (s == NULL)
        return -1;
    memcpy(s, p, n);
    s[n] = 0;
    free(e->name);
    e->name = s;
    e->name_len = n;
    e->name_from_file = from_file;
    return 0;
}

static int ref(files *fs, int kind, const msgpack_object *id, const origin *o,
               const msgpack_object *name, int from_file)
{
    const char *p, *tp;
    size_t n, tn;
    if (!cli_mp_str(id, &p, &n))
        return 0;
    size_t before = fs->ids.n;
    long i = cli_idm_put(&fs->ids, p, n);
    if (i < 0)
        return -1;
    if (fs->ids.n > before) {
        if (fs->ids.n > fs->cap) {
            size_t nc = fs->cap ? fs->cap * 2 : 16;
            fentry *nf = realloc(fs->f, nc * sizeof *nf);
            if (nf == NULL)
                return -1;
            fs->f = nf;
            fs->cap = nc;
        }
        memset(&fs->f[i], 0, sizeof fs->f[i]);
    }
    fentry *e = &fs->f[i];
    e->n[kind]++;
    if (o->has_t) {
        if (!e->seen || o->t < e->first)
            e->first = o->t;
        if (!e->seen || o->t > e->last)
            e->last = o->t;
        e->seen = 1;
    }
    if (cli_mp_str(o->thread, &tp, &tn) && cli_idm_put(&e->threads, tp, tn) < 0)
        return -1;
    return set_name(e, name, from_file);
}

/* every string of an array of file ids */
static int ref_ids(files *fs, int kind, const msgpack_object *arr, const origin *o)
{
    const msgpack_object *it;
    size_t n;
    if (!cli_mp_array(arr, &it, &n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ref(fs, kind, &it[i], o, NULL, 0))
            return -1;
    return 0;
}

/* message content parts: image_file, and the text parts' annotations */
static int content_refs(files *fs, const msgpack_object *rec, const origin *o)
{
    const msgpack_object *parts, *ann;
    size_t n, na;
    if (!cli_mp_array(cli_mp_get(rec, "content"), &parts, &n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (ref(fs, R_IMAGE_FILE, cli_mp_get(cli_mp_get(&parts[i], "image_file"), "file_id"), o,
                NULL, 0))
            return -1;
        if (!cli_mp_array(cli_mp_get(cli_mp_get(&parts[i], "text"), "annotations"), &ann, &na))
            continue;
        for (size_t k = 0; k < na; k++)
            if (ref(fs, R_FILE_CITATION,
                    cli_mp_get(cli_mp_get(&ann[k], "file_citation"), "file_id"), o, NULL, 0) ||
                ref(fs, R_FILE_PATH, cli_mp_get(cli_mp_get(&ann[k], "file_path"), "file_id"), o,
                    NULL, 0))
                return -1;
    }
    return 0;
}

/* step tool calls: code interpreter images, file_search results */
static int call_refs(files *fs, const msgpack_object *rec, const origin *o)
{
    const msgpack_object *calls, *it;
    size_t n, k;
    if (!cli_mp_array(cli_mp_get(cli_mp_get(rec, "step_details"), "tool_calls"), &calls, &n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (cli_mp_array(cli_mp_get(cli_mp_get(&calls[i], "code_interpreter"), "outputs"), &it,
                         &k))
            for (size_t j = 0; j < k; j++)
                if (ref(fs, R_CI_IMAGE, cli_mp_get(cli_mp_get(&it[j], "image"), "file_id"), o,
                        NULL, 0))
                    return -1;
        if (cli_mp_array(cli_mp_get(cli_mp_get(&calls[i], "file_search"), "results"), &it, &k))
            for (size_t j = 0; j < k; j++)
                if (ref(fs, R_FILE_SEARCH, cli_mp_get(&it[j], "file_id"), o,
                        cli_mp_get(&it[j], "file_name"), 0))
                    return -1;
    }
    return 0;
}

static int record(void *ctx, int kind, const msgpack_object *rec)
{
    files *fs = ctx;
    const msgpack_object *id = cli_mp_get(rec, "id"), *att;
    size_t n;
    origin o = {kind == STEPARC_KIND_THREAD ? id : cli_mp_get(rec, "thread_id"), 0, 0};
    o.has_t = cli_mp_int(cli_mp_get(rec, "created_at"), &o.t);
    fs->records++;
    if (kind == STEPARC_KIND_FILE && ref(fs, R_FILE, id, &o, cli_mp_get(rec, "filename"), 1))
        return -1;
    if (kind == STEPARC_KIND_VECTOR_STORE_FILE && ref(fs, R_VECTOR_STORE_FILE, id, &o, NULL, 0))
        return -1;
    if (ref_ids(fs, R_FILE_IDS, cli_mp_get(rec, "file_ids"), &o) ||
        ref_ids(fs, R_TOOL_RESOURCES,
                cli_mp_get(cli_mp_get(cli_mp_get(rec, "tool_resources"), "code_interpreter"),
                           "file_ids"),
                &o))
        return -1;
    if (cli_mp_array(cli_mp_get(rec, "attachments"), &att, &n))
        for (size_t i = 0; i < n; i++)
            if (ref(fs, R_ATTACHMENT, cli_mp_get(&att[i], "file_id"), &o, NULL, 0))
                return -1;
    return content_refs(fs, rec, &o) || call_refs(fs, rec, &o) ? -1 : 0;
}

static uint64_t total(const fentry *e)
{
    uint64_t t = 0;
    for (int k = 0; k < NREFS; k++)
        t += e->n[k];
    return t;
}

static int pack_file(msgpack_packer *pk, const files *fs, size_t i)
{
    const fentry *e = &fs->f[i];
    uint32_t nk = 0;
    for (int k = 0; k < NREFS; k++)
        nk += e->n[k] > 0;
    int bad = msgpack_pack_map(pk, 7) || cli_pack_str(pk, "id", 2) ||
              cli_pack_str(pk, fs->ids.e[i].key, fs->ids.e[i].len) ||
              cli_pack_str(pk, "name", 4) ||
              (e->name ? cli_pack_str(pk, e->name, e->name_len) : msgpack_pack_nil(pk)) ||
              cli_pack_str(pk, "references", 10) || msgpack_pack_uint64(pk, total(e)) ||
              cli_pack_str(pk, "by_kind", 7) || msgpack_pack_map(pk, nk);
    for (int k = 0; k < NREFS && !bad; k++)
        if (e->n[k])
            bad = cli_pack_str(pk, g_ref_names[k], strlen(g_ref_names[k])) ||
                  msgpack_pack_uint64(pk, e->n[k]);
    size_t *tix = bad ? NULL : cli_idm_sorted(&e->threads);
    bad = bad || tix == NULL || cli_pack_str(pk, "threads", 7) ||
          msgpack_pack_array(pk, e->threads.n);
    for (size_t t = 0; t < e->threads.n && !bad; t++)
        bad = cli_pack_str(pk, e->threads.e[tix[t]].key, e->threads.e[tix[t]].len);
    free(tix);
    return bad || cli_pack_str(pk, "first_seen", 10) ||
           (e->seen ? msgpack_pack_int64(pk, e->first) : msgpack_pack_nil(pk)) ||
           cli_pack_str(pk, "last_seen", 9) ||
           (e->seen ? msgpack_pack_int64(pk, e->last) : msgpack_pack_nil(pk));
}

static int files_json(const files *fs, const size_t *ix, const char *path)
{
    steparc_buf m = {0};
    msgpack_packer pk;
    cli_packer_init(&pk, &m);
    int bad = msgpack_pack_map(&pk, 3) || cli_pack_str(&pk, "archive", 7) ||
              cli_pack_str(&pk, path, strlen(path)) || cli_pack_str(&pk, "records", 7) ||
              msgpack_pack_uint64(&pk, fs->records) || cli_pack_str(&pk, "files", 5) ||
              msgpack_pack_array(&pk, fs->ids.n);
    for (size_t i = 0; i < fs->ids.n && !bad; i++)
        bad = pack_file(&pk, fs, ix[i]);
    return cli_print_report("files", bad, &m);
}

/* One CSV field, RFC 4180: quoted when it holds a comma, quote, CR or LF. */
static int csv_field(const char *p, size_t n, int last)
{
    int quote = 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
    int bad = quote && cli_out_write("\"", 1);
    for (size_t i = 0; i < n && !bad; i++) {
        size_t j = i;
        while (j < n && !(quote && p[j] == '"'))
            j++;
        bad = cli_out_write(p + i, j - i) || (j < n && cli_out_write("\"\"", 2));
        i = j;
    }
    return bad || (quote && cli_out_write("\"", 1)) || cli_out_write(last ? "\r\n" : ",", 1 + (last != 0));
}

static int csv_num(int has, int64_t v, int last)
{
    char b[32];
    int n = has ? snprintf(b, sizeof b, "%" PRId64, v) : 0;
    return csv_field(b, (size_t)n, last);
}

static int files_csv(const files *fs, const size_t *ix)
{
    static const char head[] = "file_id,name,references";
    int bad = cli_out_write(head, sizeof head - 1);
    for (int k = 0; k < NREFS && !bad; k++)
        bad = cli_out_write(",", 1) || cli_out_write(g_ref_names[k], strlen(g_ref_names[k]));
    static const char tail[] = ",threads,first_seen,last_seen\r\n";
    bad = bad || cli_out_write(tail, sizeof tail - 1);
    steparc_buf th = {0};
    for (size_t r = 0; r < fs->ids.n && !bad; r++) {
        const fentry *e = &fs->f[ix[r]];
        bad = csv_field(fs->ids.e[ix[r]].key, fs->ids.e[ix[r]].len, 0) ||
              csv_field(e->name ? e->name : "", e->name_len, 0) ||
              csv_num(1, (int64_t)total(e), 0);
        for (int k = 0; k < NREFS && !bad; k++)
            bad = csv_num(1, (int64_t)e->n[k], 0);
        size_t *tix = bad ? NULL : cli_idm_sorted(&e->threads);
        bad = bad || tix == NULL;
        th.len = 0;
        for (size_t t = 0; t < e->threads.n && !bad; t++)
            bad = (t && cli_buf_add(&th, " ", 1)) ||
                  cli_buf_add(&th, e->threads.e[tix[t]].key, e->threads.e[tix[t]].len);
        free(tix);
        bad = bad || csv_field(th.data ? (const char *)th.data : "", th.len, 0) ||
              csv_num(e->seen, e->first, 0) || csv_num(e->seen, e->last, 1);
    }
    steparc_buf_free(&th);
    return bad ? EXIT_BAD : 0;
}

static void files_text(const files *fs, const size_t *ix)
{
    printf("%zu file%s referenced in %" PRIu64 " records\n", fs->ids.n,
           fs->ids.n == 1 ? "" : "s", fs->records);
    for (size_t r = 0; r < fs->ids.n; r++) {
        const fentry *e = &fs->f[ix[r]];
        printf("\n%s  %s\n  %" PRIu64 " reference%s:", fs->ids.e[ix[r]].key,
               e->name ? e->name : "(no name)", total(e), total(e) == 1 ? "" : "s");
        for (int k = 0; k < NREFS; k++)
            if (e->n[k])
                printf(" %s %" PRIu64, g_ref_names[k], e->n[k]);
        printf("\n  threads: %zu", e->threads.n);
        if (e->seen)
            printf("; seen %" PRId64 " .. %" PRId64, e->first, e->last);
        printf("\n");
    }
}

int cli_files(const cli_command *cmd, int argc, char **argv)
{
    enum { OPT_CSV = CLI_OPT_FIRST_COMMAND };
    static const struct option longopts[] = {CLI_HELP_OPTION,
                                             {"json", no_argument, NULL, CLI_OPT_JSON},
                                             {"csv", no_argument, NULL, OPT_CSV},
                                             {NULL, 0, NULL, 0}};
    int json = 0, csv = 0, c, status;
    cli_args ar;
    cli_args_init(&ar, cmd, argc, argv);
    while ((c = cli_getopt(&ar, ":h", longopts)) != -1) {
        json |= c == CLI_OPT_JSON;
        csv |= c == OPT_CSV;
    }
    if (json && csv)
        cli_bad(&ar, "--json and --csv exclude each other");
    if (cli_args_done(&ar, &status))
        return status;
    if (argc - optind != 1)
        return cli_usage_error(cmd->name, "needs one ARCHIVE");
    const char *path = argv[optind];
    steparc_reader *r;
    if ((status = cli_open_archive(cmd->name, path, &r)) != 0)
        return status;
    files fs;
    memset(&fs, 0, sizeof fs);
    status = cli_walk_archive(r, cmd->name, record, &fs);
    size_t *ix = status ? NULL : cli_idm_sorted(&fs.ids);
    if (status == 0 && ix == NULL) {
        cli_msg("files: out of memory");
        status = EXIT_BAD;
    }
    if (status == 0)
        status = json ? files_json(&fs, ix, path) : csv ? files_csv(&fs, ix) : (files_text(&fs, ix), 0);
    if (cli_out_flush())
        status = EXIT_BAD;
    free(ix);
    for (size_t i = 0; i < fs.ids.n; i++) {
        free(fs.f[i].name);
        cli_idm_free(&fs.f[i].threads);
    }
    free(fs.f);
    cli_idm_free(&fs.ids);
    steparc_reader_close(r);
    return status;
}

const char cli_usage_files[] =
    "usage: steparc files ARCHIVE [--json|--csv]\n"
    "\n"
    "Lists every file id the archive references, sorted by id: file and\n"
    "vector_store.file records, message attachments, v1 file_ids, image_file parts,\n"
    "file_citation and file_path annotations, code interpreter image outputs,\n"
    "file_search results, tool_resources.code_interpreter.file_ids of assistants and\n"
    "threads. For each: its name (a file record's filename, else a file_search\n"
    "result's file_name), the references per kind, the threads referencing it, and\n"
    "the first and last created_at of the referencing records. docs/AUDIT.md has the\n"
    "JSON and CSV columns.\n"
    "\n"
    "  --json   one JSON object\n"
    "  --csv    CSV (RFC 4180, CRLF line ends, a header row)\n";
