/*
 * mpz_bench - the naive baseline: MessagePack rows in one zstd stream, no index.
 *
 *   mpz_bench pack JSONL OUT [LEVEL]   each line -> steparc_json_to_msgpack ->
 *                                      4-byte little-endian length + bytes,
 *                                      all in one zstd stream (single thread,
 *                                      default level 3)
 *   mpz_bench unpack IN                every record back as canonical JSON
 *                                      (steparc_msgpack_to_json), one per line
 *
 * It is what steparc adds structure to: same codec, same compressor, but no
 * blocks, no index, no per-record access (a lookup is a full scan).
 */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"

#include <steparc.h>
#include <zstd.h>

static const char *prog = "mpz_bench";

static void zwrite(ZSTD_CCtx *z, FILE *out, const void *p, size_t n, ZSTD_EndDirective end,
                   char *obuf, size_t ocap)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer o = {obuf, ocap, 0};
        size_t left = ZSTD_compressStream2(z, &o, &in, end);
        if (ZSTD_isError(left))
            bench_die(prog, "zstd: %s", ZSTD_getErrorName(left));
        if (o.pos && fwrite(obuf, 1, o.pos, out) != o.pos)
            bench_die(prog, "write error");
        if (end == ZSTD_e_end ? left == 0 : in.pos == in.size)
            break;
    }
}

static int do_pack(const char *jsonl, const char *outpath, int level)
{
    FILE *in = fopen(jsonl, "rb");
    if (!in)
        bench_die(prog, "%s: %s", jsonl, strerror(errno));
    FILE *out = fopen(outpath, "wb");
    if (!out)
        bench_die(prog, "%s: %s", outpath, strerror(errno));
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (!z)
        bench_die(prog, "out of memory");
    size_t r = ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, level);
    if (ZSTD_isError(r))
        bench_die(prog, "zstd level %d: %s", level, ZSTD_getErrorName(r));
    size_t ocap = ZSTD_CStreamOutSize();
    char *obuf = malloc(ocap);
    if (!obuf)
        bench_die(prog, "out of memory");
    steparc_buf mp = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    unsigned long long lineno = 0, records = 0;
    while ((got = getline(&line, &cap, in)) >= 0) {
        size_t len = (size_t)got;
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        steparc_json_error err;
        int rc = steparc_json_to_msgpack(&mp, line, len, STEPARC_JSON_REQUIRE_OBJECT, &err);
        if (rc != 0)
            bench_die(prog, "%s:%llu:%zu: %s", jsonl, lineno, err.column, err.reason);
        unsigned char hdr[4] = {(unsigned char)(mp.len & 0xff), (unsigned char)((mp.len >> 8) & 0xff),
                                (unsigned char)((mp.len >> 16) & 0xff),
                                (unsigned char)((mp.len >> 24) & 0xff)};
        zwrite(z, out, hdr, sizeof hdr, ZSTD_e_continue, obuf, ocap);
        zwrite(z, out, mp.data, mp.len, ZSTD_e_continue, obuf, ocap);
        records++;
    }
    if (ferror(in))
        bench_die(prog, "%s: read error", jsonl);
    zwrite(z, out, NULL, 0, ZSTD_e_end, obuf, ocap);
    if (fclose(out) != 0)
        bench_die(prog, "%s: write error", outpath);
    fclose(in);
    free(line);
    free(obuf);
    steparc_buf_free(&mp);
    ZSTD_freeCCtx(z);
    printf("{\"records\":%llu}\n", records);
    return 0;
}

/* Streaming decompressor with a look-ahead buffer. */
typedef struct {
    FILE *f;
    ZSTD_DCtx *d;
    char *ib;
    size_t icap;
    ZSTD_inBuffer in;
    char *ob;
    size_t ocap, olen, opos;
    int eof;
} zreader;

/* Makes at least n bytes available at ob + opos; returns 0 when the stream
 * ends first. */
static int zr_need(zreader *z, size_t n)
{
    while (z->olen - z->opos < n) {
        if (z->opos > 0) {
            memmove(z->ob, z->ob + z->opos, z->olen - z->opos);
            z->olen -= z->opos;
            z->opos = 0;
        }
        size_t want = z->olen + ZSTD_DStreamOutSize();
        if (want < n)
            want = n;
        if (z->ocap < want) {
            if (want < z->ocap * 2)
                want = z->ocap * 2;
            char *nb = realloc(z->ob, want);
            if (!nb)
                bench_die(prog, "out of memory");
            z->ob = nb;
            z->ocap = want;
        }
        if (z->in.pos == z->in.size) {
            if (z->eof)
                return 0;
            z->in.size = fread(z->ib, 1, z->icap, z->f);
            z->in.pos = 0;
            if (z->in.size == 0) {
                if (ferror(z->f))
                    bench_die(prog, "read error");
                z->eof = 1;
                continue;
            }
        }
        ZSTD_outBuffer o = {z->ob, z->ocap, z->olen};
        size_t r = ZSTD_decompressStream(z->d, &o, &z->in);
        if (ZSTD_isError(r))
            bench_die(prog, "zstd: %s", ZSTD_getErrorName(r));
        z->olen = o.pos;
    }
    return 1;
}

static int do_unpack(const char *path)
{
    static char stdout_buf[1 << 20];
    setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
    zreader z;
    memset(&z, 0, sizeof z);
    z.f = fopen(path, "rb");
    if (!z.f)
        bench_die(prog, "%s: %s", path, strerror(errno));
    z.d = ZSTD_createDCtx();
    z.icap = ZSTD_DStreamInSize();
    z.ib = malloc(z.icap);
    if (!z.d || !z.ib)
        bench_die(prog, "out of memory");
    z.in.src = z.ib;
    steparc_buf json = {0};
    unsigned long long records = 0;
    while (zr_need(&z, 4)) {
        const unsigned char *h = (const unsigned char *)z.ob + z.opos;
        size_t n = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16 | (size_t)h[3] << 24;
        z.opos += 4;
        if (n > STEPARC_MAX_RECORD_SIZE || !zr_need(&z, n))
            bench_die(prog, "%s: truncated or corrupt at record %llu", path, records);
        int rc = steparc_msgpack_to_json(&json, z.ob + z.opos, n, 0);
        if (rc != 0)
            bench_die(prog, "%s: record %llu: %s", path, records, steparc_strerror(rc));
        z.opos += n;
        fwrite(json.data, 1, json.len, stdout);
        putchar('\n');
        records++;
    }
    if (z.olen != z.opos)
        bench_die(prog, "%s: trailing bytes", path);
    if (fflush(stdout) != 0)
        bench_die(prog, "write error");
    fprintf(stderr, "%s: %llu records\n", prog, records);
    fclose(z.f);
    ZSTD_freeDCtx(z.d);
    free(z.ib);
    free(z.ob);
    steparc_buf_free(&json);
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "pack"))
        return do_pack(argv[2], argv[3], argc == 5 ? atoi(argv[4]) : 3);
    if (argc == 3 && !strcmp(argv[1], "unpack"))
        return do_unpack(argv[2]);
    fprintf(stderr, "usage: %s pack JSONL OUT [LEVEL] | unpack IN\n", prog);
    return 2;
}
