/* fuzz_convert.c - the input bytes are converter input (JSON, JSONL, list
 * pages, event streams).
 *
 * The same bytes go through steparc_converter_add_memory nine times: input
 * format AUTO, JSONL, JSON and SSE, each with skip_invalid off and on (strict
 * mode too for some inputs), and JSONL once more with two parsing threads.
 * The conversions feed one writer in turn (a writer is expensive under ASan),
 * each adding a segment of records; the archive goes to a memory-backed
 * scratch directory, is finished, reopened and checked:
 * - add_memory and the writer return documented statuses only;
 * - each converter's record count (stats.records) is what the writer
 *   received; the archive appears when finish succeeds, verifies intact and
 *   holds the sum; the statistics add up (objects = records + skipped);
 * - every archived record is of one of the 8 record kinds with a string id
 *   (steparc_record_kind), its JSON and (step) struct JSON agree, find_id
 *   finds it; the per-kind counts add up to the records;
 * - without skip_invalid, skipped[INVALID] stays 0; every skip (and every
 *   step whose deltas could not be applied) is reported through the callback;
 *   strict mode skips no non-step object;
 * - after a failed add_memory the converter refuses more input (MISUSE);
 * - JSONL with parsing threads gives the same records, order and statistics;
 * - no crash, no leak, no temporary file left behind. */
#define _GNU_SOURCE
#include "fuzz_common.h"

typedef struct {
    uint64_t calls;
} skip_ctx;

static void on_skip(void *ctx, steparc_skip_reason why, const char *file, uint64_t line,
                    uint64_t column, const char *detail, const char *raw, size_t raw_len)
{
    skip_ctx *s = (skip_ctx *)ctx;
    FZ_CHECK((int)why >= 0 && why < STEPARC_SKIP_REASONS);
    FZ_CHECK(file != NULL && detail != NULL);
    FZ_CHECK(line >= 1);
    (void)column;
    if (raw_len)
        FZ_CHECK(raw != NULL);
    s->calls++;
}

static int dir_entries(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* One conversion's share of the archive: records [first, first + n). */
typedef struct {
    uint64_t first, n;
    int rc;
    steparc_convert_stats st;
} segment;

static void check_archive(const char *path, const segment *seg, int nseg, uint64_t want_records,
                          int same_a, int same_b)
{
    char errbuf[256];
    steparc_reader *r = NULL;
    int rc = steparc_reader_open(&r, path, NULL, errbuf, sizeof errbuf);
    if (rc != 0)
        FZ_FAIL("the archive just written does not open: %s", errbuf);
    if (steparc_reader_count(r) != want_records)
        FZ_FAIL("archive holds %llu records, the converters reported %llu",
                (unsigned long long)steparc_reader_count(r), (unsigned long long)want_records);
    uint64_t nprob = 0;
    rc = steparc_verify(&nprob, r, NULL, NULL);
    if (rc != 0)
        FZ_FAIL("the archive just written does not verify: %d, %llu problems: %s", rc,
                (unsigned long long)nprob, steparc_reader_errmsg(r));
    /* every record is a run step with a string id; JSON and struct agree */
    steparc_buf js = {0}, sj = {0};
    steparc_cursor *c = NULL;
    rc = steparc_cursor_open(&c, r, NULL);
    FZ_CHECK(rc == 0);
    uint64_t n = 0, ord;
    const void *mp;
    size_t len;
    uint64_t *hashes = (uint64_t *)calloc(want_records ? want_records : 1, sizeof(uint64_t));
    if (hashes == NULL)
        abort();
    while ((rc = steparc_cursor_next(&ord, &mp, &len, c)) == 0) {
        FZ_CHECK(ord == n);
        FZ_CHECK(n < want_records);
        hashes[n] = len ^ ((uint64_t)len << 40);
        const unsigned char *b = (const unsigned char *)mp;
        for (size_t i = 0; i < len; i++)
            hashes[n] = (hashes[n] ^ b[i]) * 1099511628211ULL;
        n++;
        if (n > 400)
            continue; /* keep big inputs fast */
        steparc_step *st = NULL;
        rc = steparc_step_decode(&st, mp, len);
        FZ_CHECK(rc == 0);
        int kind = STEPARC_KIND_OTHER;
        FZ_CHECK(steparc_record_kind(&kind, mp, len) == 0);
        FZ_CHECK(kind > STEPARC_KIND_OTHER && kind < STEPARC_KINDS);
        FZ_CHECK(st->id.state == STEPARC_SET);
        rc = steparc_msgpack_to_json(&js, mp, len, 0);
        FZ_CHECK(rc == 0);
        rc = steparc_step_to_json(&sj, st, 0);
        FZ_CHECK(rc == 0);
        FZ_CHECK(fz_buf_eq(&js, &sj));
        if (n <= 3) {
            uint64_t at = UINT64_MAX;
            rc = steparc_reader_find_id(&at, r, st->id.v.ptr, st->id.v.len);
            FZ_CHECK(rc == 0);
            FZ_CHECK(at <= ord);
        }
        steparc_step_free(st);
    }
    FZ_CHECK(rc == STEPARC_END);
    FZ_CHECK(n == want_records);
    /* parsing threads change nothing: same records, same order */
    if (same_a >= 0 && same_a < nseg && same_b < nseg) {
        const segment *a = &seg[same_a], *b = &seg[same_b];
        if (a->n != b->n || a->rc != b->rc)
            FZ_FAIL("JSONL with and without parsing threads differ: %llu vs %llu records, rc %d vs %d",
                    (unsigned long long)a->n, (unsigned long long)b->n, a->rc, b->rc);
        for (uint64_t i = 0; i < a->n; i++)
            if (hashes[a->first + i] != hashes[b->first + i])
                FZ_FAIL("JSONL with and without parsing threads differ at record %llu",
                        (unsigned long long)i);
        FZ_CHECK(memcmp(a->st.skipped, b->st.skipped, sizeof a->st.skipped) == 0);
        FZ_CHECK(a->st.objects == b->st.objects);
    }
    (void)seg;
    free(hashes);
    steparc_cursor_close(c);
    steparc_buf_free(&js);
    steparc_buf_free(&sj);
    steparc_reader_close(r);
}

/* Converts the input once into w; fills *seg. */
static void convert_once(steparc_writer *w, const uint8_t *data, size_t size, steparc_input_format fmt,
                         int skip_invalid, int strict, int threads, segment *seg)
{
    steparc_convert_options co;
    steparc_convert_options_init(&co);
    co.format = fmt;
    co.skip_invalid = skip_invalid;
    co.strict = strict;
    co.threads = threads;
    skip_ctx sk = {0};
    co.skipped = on_skip;
    co.skipped_ctx = &sk;
    steparc_converter *c = NULL;
    int rc = steparc_converter_open(&c, w, &co);
    FZ_CHECK(rc == 0 && c != NULL);
    seg->first = steparc_writer_count(w);

    int arc = steparc_converter_add_memory(c, "fuzz-input", data, size);
    FZ_STATUS_IN(arc, 0, STEPARC_E_INPUT, STEPARC_E_LIMIT);
    FZ_CHECK(steparc_converter_errmsg(c) != NULL);
    if (arc != 0)
        FZ_CHECK(steparc_converter_errmsg(c)[0] != 0);
    const steparc_convert_stats *s = steparc_converter_stats(c);
    FZ_CHECK(s != NULL);
    steparc_convert_stats st = *s;
    FZ_CHECK(st.inputs == 1);
    FZ_CHECK(st.rebuilt + st.messages_rebuilt <= st.records);
    uint64_t by_kind = 0;
    for (int k = 0; k < STEPARC_CONVERT_KINDS; k++)
        by_kind += st.by_kind[k];
    FZ_CHECK(by_kind == st.records && st.by_kind[STEPARC_KIND_OTHER] == 0);
    uint64_t skipped = 0;
    for (int k = 0; k < STEPARC_SKIP_REASONS; k++)
        skipped += st.skipped[k];
    /* invalid text, non-JSON inputs and bodies, directory links: no objects */
    uint64_t accounted = st.records + skipped - st.skipped[STEPARC_SKIP_INVALID] -
                         st.skipped[STEPARC_SKIP_NOT_JSON] - st.skipped[STEPARC_SKIP_LINK];
    if (arc == 0) {
        if (st.objects != accounted)
            FZ_FAIL("stats do not add up: %llu objects, %llu records, %llu skipped",
                    (unsigned long long)st.objects, (unsigned long long)st.records,
                    (unsigned long long)skipped);
    } else {
        FZ_CHECK(st.objects == accounted || st.objects == accounted + 1);
    }
    if (!skip_invalid)
        FZ_CHECK(st.skipped[STEPARC_SKIP_INVALID] == 0);
    /* every skip is reported; so are steps whose deltas could not be applied */
    if (arc == 0 && sk.calls != skipped + st.unrebuilt)
        FZ_FAIL("%llu skip callbacks for %llu skipped + %llu unrebuilt", (unsigned long long)sk.calls,
                (unsigned long long)skipped, (unsigned long long)st.unrebuilt);
    if (strict)
        FZ_CHECK(st.skipped[STEPARC_SKIP_NOT_A_STEP] == 0 && st.skipped[STEPARC_SKIP_NO_ID] == 0);
    /* after a failure the converter refuses more input */
    if (arc != 0) {
        rc = steparc_converter_add_memory(c, "again", "{}", 2);
        FZ_CHECK(rc == STEPARC_E_MISUSE);
    }
    seg->n = steparc_writer_count(w) - seg->first;
    if (seg->n != st.records)
        FZ_FAIL("the writer received %llu records, the converter reports %llu",
                (unsigned long long)seg->n, (unsigned long long)st.records);
    seg->rc = arc;
    seg->st = st;
    steparc_converter_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init_alloc();
    if (size > 200000)
        return 0;
    static const steparc_input_format fmts[4] = {STEPARC_IN_AUTO, STEPARC_IN_JSONL, STEPARC_IN_JSON,
                                                 STEPARC_IN_SSE};
    /* strict mode for some inputs, chosen by a hash of the bytes */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    int strict = (h & 7) == 0;

    /* One archive receives every conversion in turn (a writer is expensive
     * under ASan); each conversion's records are a segment of it. */
    const char *dir = fz_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/out.steparc", dir);
    unlink(path);
    steparc_writer_options wo;
    steparc_writer_options_init(&wo);
    wo.block_size = 1024; /* the minimum: several blocks from small inputs */
    wo.level = 1;
    wo.threads = 1;
    wo.no_fsync = 1;
    steparc_writer *w = NULL;
    char werr[256];
    int rc = steparc_writer_open(&w, path, &wo, werr, sizeof werr);
    if (rc != 0)
        FZ_FAIL("steparc_writer_open failed: %d: %s", rc, werr);
    segment seg[9];
    int nseg = 0, jsonl_skip = -1;
    uint64_t total = 0;
    for (int f = 0; f < 4; f++)
        for (int skip = 0; skip < 2; skip++) {
            if (fmts[f] == STEPARC_IN_JSONL && skip)
                jsonl_skip = nseg;
            convert_once(w, data, size, fmts[f], skip, strict && skip == 0, 0, &seg[nseg]);
            total += seg[nseg++].n;
        }
    /* JSONL again with parsing threads: must give the same records */
    convert_once(w, data, size, STEPARC_IN_JSONL, 1, 0, 2, &seg[nseg]);
    total += seg[nseg++].n;
    FZ_CHECK(steparc_writer_count(w) == total);
    rc = steparc_writer_finish(w);
    if (rc != 0)
        FZ_FAIL("steparc_writer_finish failed: %d: %s", rc, steparc_writer_errmsg(w));
    steparc_writer_close(w);
    /* only the archive is left in the directory */
    FZ_CHECK(dir_entries(dir) == 1);
    check_archive(path, seg, nseg, total, jsonl_skip, nseg - 1);
    unlink(path);
    fz_check_leaks();
    return 0;
}
