/* colstat - where the bytes of a columnar archive go, per field group.
 *
 *   colstat ARCHIVE [--block-size N] [--level L]
 *
 * Reads every record of ARCHIVE (any layout), groups them into blocks of
 * N bytes of MessagePack (default 65536, as the writer does), encodes each
 * block in the columnar layout and compresses every stream on its own with
 * zstd at level L (default 3, no dictionary). Prints one JSON object: the
 * compressed bytes per field group and per key path, next to the whole
 * block compressed at once (rows and columns). Streams compressed apart cost
 * more than together, so the groups are shares of a slightly larger total:
 * a measurement of where the entropy is, not an exact split of the archive.
 * Measurement only: it uses the library's internal columnar encoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "columnar.h"
#include "steparc.h"

#define MAXP 4096

typedef struct {
    char name[160];
    unsigned long long raw, comp;
} acc;

static acc g_paths[MAXP], g_groups[64];
static size_t g_npaths, g_ngroups;
static ZSTD_CCtx *g_cctx;
static int g_level = 3;
static void *g_zbuf;
static size_t g_zcap;

static acc *find(acc *t, size_t *n, size_t cap, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    if (*n == cap)
        return &t[cap - 1];
    snprintf(t[*n].name, sizeof t[*n].name, "%s", name);
    return &t[(*n)++];
}

static size_t zsize(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    size_t bound = ZSTD_compressBound(n);
    if (bound > g_zcap) {
        free(g_zbuf);
        g_zbuf = malloc(bound);
        g_zcap = bound;
    }
    size_t z = ZSTD_compressCCtx(g_cctx, g_zbuf, bound, p, n, g_level);
    return ZSTD_isError(z) ? n : (z < n ? z : n);
}

static int ends(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The field group of a stream, for the summary. */
static const char *group(const char *path, int kind)
{
    if (kind == 0)
        return path; /* (skeletons), (skeleton ids) */
    if (kind == 5)
        return "string lengths";
    if (kind == 2)
        return "timestamps (*_at, delta)";
    if (strcmp(path, "id") == 0)
        return "step id";
    if (strcmp(path, "run_id") == 0 || strcmp(path, "thread_id") == 0 ||
        strcmp(path, "assistant_id") == 0)
        return "run/thread/assistant ids";
    if (ends(path, "tool_calls[].id"))
        return "tool call ids";
    if (ends(path, "_id") || ends(path, ".id") || ends(path, "file_ids[]"))
        return "other ids (message, file, ...)";
    if (strncmp(path, "usage", 5) == 0 || strstr(path, ".usage"))
        return "usage numbers";
    if (strcmp(path, "object") == 0 || strcmp(path, "type") == 0 || strcmp(path, "status") == 0 ||
        ends(path, ".type") || ends(path, "function.name") || ends(path, "last_error.code"))
        return "enum-like strings";
    if (ends(path, "code_interpreter.input"))
        return "text: code_interpreter input";
    if (ends(path, ".logs"))
        return "text: code_interpreter logs";
    if (ends(path, "function.arguments"))
        return "text: function arguments";
    if (ends(path, "function.output"))
        return "text: function output";
    if (strstr(path, "file_search"))
        return "file_search results";
    if (strncmp(path, "metadata", 8) == 0)
        return "metadata";
    return "other (unknown keys, last_error, ...)";
}

static void on_stream(void *ctx, const char *path, int kind, const unsigned char *a, size_t an,
                      const unsigned char *b, size_t bn)
{
    (void)ctx;
    size_t z = zsize(a, an) + zsize(b, bn);
    acc *p = find(g_paths, &g_npaths, MAXP, path);
    acc *g = find(g_groups, &g_ngroups, 64, group(path, kind));
    p->raw += an + bn;
    p->comp += z;
    g->raw += an + bn;
    g->comp += z;
}

static int cmp_acc(const void *x, const void *y)
{
    const acc *a = (const acc *)x, *b = (const acc *)y;
    return a->comp < b->comp ? 1 : a->comp > b->comp ? -1 : 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    size_t bs = 65536;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--block-size") == 0 && i + 1 < argc)
            bs = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc)
            g_level = atoi(argv[++i]);
        else
            path = argv[i];
    }
    if (path == NULL || bs < 1024) {
        fprintf(stderr, "usage: colstat ARCHIVE [--block-size N] [--level L]\n");
        return 2;
    }
    char err[256];
    steparc_reader *r = NULL;
    if (steparc_reader_open(&r, path, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "colstat: %s\n", err);
        return 1;
    }
    g_cctx = ZSTD_createCCtx();
    sa_colenc *e = sa_colenc_new();
    steparc_buf rec = {0}, col = {0};
    unsigned char *recs = NULL, *rows = NULL;
    size_t nrecs = 0, caprecs = 0, nb = 0;
    uint32_t *endv = malloc(sizeof(uint32_t) * 1048576);
    unsigned long long whole_rows = 0, whole_cols = 0, raw_rows = 0, raw_cols = 0;
    uint64_t count = steparc_reader_count(r);
    size_t ne = 0;
    int rc = 0;
    for (uint64_t i = 0; i <= count && rc == 0; i++) {
        if (i < count) {
            if ((rc = steparc_reader_get_msgpack(&rec, r, i)) != 0)
                break;
            if (nrecs + rec.len > caprecs) {
                caprecs = 2 * (nrecs + rec.len);
                recs = realloc(recs, caprecs);
            }
            memcpy(recs + nrecs, rec.data, rec.len);
            nrecs += rec.len;
            endv[ne++] = (uint32_t)nrecs;
        }
        if (ne && (nrecs >= bs || i == count || ne == 1048576)) {
            size_t rs = 4 * ne + nrecs;
            rows = realloc(rows, rs);
            for (size_t k = 0; k < ne; k++)
                put_u32(rows + 4 * k, endv[k]);
            memcpy(rows + 4 * ne, recs, nrecs);
            if ((rc = sa_col_encode(e, rows, rs, (uint32_t)ne, &col)) != 0)
                break;
            whole_rows += zsize(rows, rs);
            whole_cols += zsize((const unsigned char *)col.data, col.len);
            raw_rows += rs;
            raw_cols += col.len;
            sa_col_streams(e, on_stream, NULL);
            nb++;
            ne = 0;
            nrecs = 0;
        }
    }
    if (rc) {
        fprintf(stderr, "colstat: %s\n", steparc_strerror(rc));
        return 1;
    }
    qsort(g_groups, g_ngroups, sizeof(acc), cmp_acc);
    qsort(g_paths, g_npaths, sizeof(acc), cmp_acc);
    unsigned long long tot = 0;
    for (size_t i = 0; i < g_ngroups; i++)
        tot += g_groups[i].comp;
    printf("{\"records\":%llu,\"blocks\":%zu,\"block_size\":%zu,\"level\":%d,"
           "\"rows_raw\":%llu,\"rows_zstd\":%llu,\"columns_raw\":%llu,\"columns_zstd\":%llu,"
           "\"streams_apart_zstd\":%llu,\"groups\":[",
           (unsigned long long)count, nb, bs, g_level, raw_rows, whole_rows, raw_cols, whole_cols, tot);
    for (size_t i = 0; i < g_ngroups; i++)
        printf("%s{\"group\":\"%s\",\"raw\":%llu,\"zstd\":%llu}", i ? "," : "", g_groups[i].name,
               g_groups[i].raw, g_groups[i].comp);
    printf("],\"paths\":[");
    for (size_t i = 0; i < g_npaths && i < 40; i++) {
        printf("%s{\"path\":\"", i ? "," : "");
        for (const char *c = g_paths[i].name; *c; c++)
            if ((unsigned char)*c >= 0x20 && *c != '"' && *c != '\\')
                putchar(*c);
        printf("\",\"raw\":%llu,\"zstd\":%llu}", g_paths[i].raw, g_paths[i].comp);
    }
    printf("]}\n");
    sa_colenc_free(e);
    ZSTD_freeCCtx(g_cctx);
    steparc_buf_free(&rec);
    steparc_buf_free(&col);
    free(recs);
    free(rows);
    free(endv);
    free(g_zbuf);
    steparc_reader_close(r);
    return 0;
}
