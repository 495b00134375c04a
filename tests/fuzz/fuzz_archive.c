/* fuzz_archive.c - the input bytes are an archive.
 *
 * Opens them with steparc_reader_open_memory and exercises every read path:
 * info, steparc_verify, a full cursor scan, filtered cursors (run, thread,
 * assistant, time range, combined; values taken from the records found),
 * lookups by position (MessagePack, JSON, pretty JSON, typed step and
 * steparc_step_to_json) and by id.
 *
 * On any input: no crash, no leak, only documented statuses, no endless
 * iteration, and whatever two paths both return agrees. When steparc_verify
 * says the archive is intact, the indexes must also agree with a brute-force
 * scan of the records: filtered cursors return exactly the matching records,
 * find_id the first record with that id, info the true time range.
 * steparc_recover runs over the same bytes (a quarter of the inputs, and every
 * intact one): what it writes verifies; from an intact archive it saves every
 * record unchanged.
 *
 * Under libFuzzer a custom mutator recomputes every checksum of the mutated
 * archive half of the time, so mutations reach the code behind the CRC checks
 * (index contents, block payloads, records). */
#define _GNU_SOURCE
#include "fuzz_common.h"
#include "layout.h"
#include "record.h"

/* ---- what the full scan saw -------------------------------------------------- */

typedef struct {
    uint64_t ordinal;
    uint64_t hash; /* FNV-1a of the MessagePack bytes */
    size_t len;
    int keys_ok;   /* sa_mp_keyfields succeeded */
    int valid;     /* sa_mp_validate succeeded */
    /* owned copies (NULL ptr = absent / not a string) */
    steparc_str id, run_id, thread_id, assistant_id;
    int has_created_at;
    int64_t created_at;
} seen_rec;

#define MAX_SEEN 20000

typedef struct {
    seen_rec *r;
    size_t n, cap;
    int complete; /* every ordinal 0..count-1 is in r (in order) */
} seen_set;

static steparc_str dup_str(steparc_str s)
{
    steparc_str d = {NULL, 0};
    if (s.ptr == NULL)
        return d;
    char *p = (char *)malloc(s.len ? s.len : 1);
    if (p == NULL)
        abort();
    memcpy(p, s.ptr, s.len);
    d.ptr = p;
    d.len = s.len;
    return d;
}

static void seen_free(seen_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((void *)(uintptr_t)s->r[i].id.ptr);
        free((void *)(uintptr_t)s->r[i].run_id.ptr);
        free((void *)(uintptr_t)s->r[i].thread_id.ptr);
        free((void *)(uintptr_t)s->r[i].assistant_id.ptr);
    }
    free(s->r);
    memset(s, 0, sizeof *s);
}

static int str_eq(steparc_str a, steparc_str b)
{
    return a.ptr != NULL && b.ptr != NULL && a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    return sa_hash64(p, n);
}

static void fill_rec(seen_rec *sr, uint64_t ord, const void *mp, size_t len)
{
    memset(sr, 0, sizeof *sr);
    sr->ordinal = ord;
    sr->hash = hash_bytes(mp, len);
    sr->len = len;
    sr->valid = sa_mp_validate(mp, len, NULL, 0) == 0;
    sa_keyfields kf;
    if (sa_mp_keyfields(mp, len, &kf) == 0) {
        sr->keys_ok = 1;
        sr->id = dup_str(kf.id);
        sr->run_id = dup_str(kf.run_id);
        sr->thread_id = dup_str(kf.thread_id);
        sr->assistant_id = dup_str(kf.assistant_id);
        sr->has_created_at = kf.has_created_at;
        sr->created_at = kf.created_at;
    }
}

static const seen_rec *seen_find(const seen_set *s, uint64_t ord)
{
    if (s->complete)
        return ord < s->n ? &s->r[ord] : NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->r[i].ordinal == ord)
            return &s->r[i];
    return NULL;
}

/* ---- checks on one record's bytes ------------------------------------------------ */

/* Both JSON forms, a typed decode and its JSON, consistent with each other. */
static void check_record_bytes(const void *mp, size_t len, int must_be_valid)
{
    steparc_buf js = {0}, pj = {0}, back = {0}, sj = {0};
    int valid = sa_mp_validate(mp, len, NULL, 0) == 0;
    if (must_be_valid && !valid)
        FZ_FAIL("steparc_verify passed but a record does not validate");
    int rc = steparc_msgpack_to_json(&js, mp, len, 0);
    FZ_STATUS_IN(rc, 0, STEPARC_E_CORRUPT);
    if (valid && rc != 0)
        FZ_FAIL("valid record but steparc_msgpack_to_json failed: %d", rc);
    if (rc == 0) {
        int prc = steparc_msgpack_to_json(&pj, mp, len, STEPARC_JSON_PRETTY);
        FZ_CHECK(prc == 0);
        if (valid) {
            steparc_json_error err;
            prc = steparc_json_to_msgpack(&back, pj.data, pj.len, STEPARC_JSON_REQUIRE_OBJECT, &err);
            if (prc != 0) {
                fz_dump("pretty", pj.data, pj.len);
                FZ_FAIL("pretty JSON of a valid record does not parse: %s", err.reason);
            }
            prc = steparc_msgpack_to_json(&sj, back.data, back.len, 0);
            FZ_CHECK(prc == 0);
            if (!fz_buf_eq(&sj, &js)) {
                fz_dump("compact", js.data, js.len);
                fz_dump("via pretty", sj.data, sj.len);
                FZ_FAIL("pretty JSON does not read back to the compact JSON");
            }
        }
    }
    steparc_step *st = NULL;
    int drc = steparc_step_decode(&st, mp, len);
    FZ_STATUS_IN(drc, 0, STEPARC_E_INPUT, STEPARC_E_LIMIT);
    if (valid && drc != 0)
        FZ_FAIL("valid record but steparc_step_decode failed: %d", drc);
    if (drc == 0 && valid) {
        int src = steparc_step_to_json(&sj, st, 0);
        FZ_CHECK(src == 0);
        if (!fz_buf_eq(&sj, &js)) {
            fz_dump("msgpack_to_json", js.data, js.len);
            fz_dump("step_to_json", sj.data, sj.len);
            FZ_FAIL("steparc_step_to_json differs from steparc_msgpack_to_json");
        }
    }
    steparc_step_free(st);
    steparc_buf_free(&js);
    steparc_buf_free(&pj);
    steparc_buf_free(&back);
    steparc_buf_free(&sj);
}

/* ---- verification report ----------------------------------------------------------- */

typedef struct {
    uint64_t n;
} vreport;

static void on_problem(void *ctx, const steparc_problem *p)
{
    vreport *v = (vreport *)ctx;
    FZ_CHECK(memchr(p->what, 0, sizeof p->what) != NULL);
    FZ_CHECK(p->block >= -1);
    v->n++;
}

/* ---- filtered iteration ------------------------------------------------------------ */

static int rec_matches(const seen_rec *s, const steparc_filter *f)
{
    if (!s->keys_ok)
        return 0;
    if (f->run_id.ptr && !str_eq(s->run_id, f->run_id))
        return 0;
    if (f->thread_id.ptr && !str_eq(s->thread_id, f->thread_id))
        return 0;
    if (f->assistant_id.ptr && !str_eq(s->assistant_id, f->assistant_id))
        return 0;
    if ((f->has_since || f->has_until) && !s->has_created_at)
        return 0;
    if (f->has_since && s->created_at < f->since)
        return 0;
    if (f->has_until && s->created_at > f->until)
        return 0;
    return 1;
}

static void run_filter(steparc_reader *r, const steparc_filter *f, const seen_set *all,
                       uint64_t count, uint64_t nblocks, int intact)
{
    steparc_cursor *c = NULL;
    int rc = steparc_cursor_open(&c, r, f);
    FZ_STATUS_IN(rc, 0, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
    if (rc != 0) {
        FZ_CHECK(c == NULL);
        if (intact)
            FZ_FAIL("cursor_open failed (%d) on an archive that verifies", rc);
        return;
    }
    uint64_t prev = 0, got = 0, errors = 0;
    int first = 1;
    size_t next_expected = 0; /* index into all->r when intact and complete */
    for (uint64_t guard = 0;; guard++) {
        if (guard > count + nblocks + 2)
            FZ_FAIL("filtered cursor does not end (%llu calls, %llu records)",
                    (unsigned long long)guard, (unsigned long long)count);
        uint64_t ord = 0;
        const void *mp = NULL;
        size_t len = 0;
        rc = steparc_cursor_next(&ord, &mp, &len, c);
        FZ_STATUS_IN(rc, 0, STEPARC_END, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
        if (rc == STEPARC_END)
            break;
        FZ_CHECK(steparc_cursor_errmsg(c) != NULL);
        if (rc != 0) {
            if (intact)
                FZ_FAIL("filtered cursor failed (%d: %s) on an archive that verifies", rc,
                        steparc_cursor_errmsg(c));
            if (++errors > nblocks + 1)
                FZ_FAIL("filtered cursor reports more errors than there are blocks");
            continue;
        }
        FZ_CHECK(ord < count);
        FZ_CHECK(first || ord > prev);
        FZ_CHECK(mp != NULL && len > 0);
        first = 0;
        prev = ord;
        got++;
        seen_rec me;
        fill_rec(&me, ord, mp, len);
        if (!rec_matches(&me, f))
            FZ_FAIL("filtered cursor returned record %llu, which does not match the filter",
                    (unsigned long long)ord);
        const seen_rec *s = seen_find(all, ord);
        if (s && (s->hash != me.hash || s->len != me.len))
            FZ_FAIL("filtered cursor and full scan give different bytes for record %llu",
                    (unsigned long long)ord);
        if (intact && all->complete) {
            while (next_expected < all->n && !rec_matches(&all->r[next_expected], f))
                next_expected++;
            if (next_expected >= all->n || all->r[next_expected].ordinal != ord)
                FZ_FAIL("filtered cursor returned record %llu; a scan expects %lld",
                        (unsigned long long)ord,
                        next_expected < all->n ? (long long)all->r[next_expected].ordinal : -1LL);
            next_expected++;
        }
        free((void *)(uintptr_t)me.id.ptr);
        free((void *)(uintptr_t)me.run_id.ptr);
        free((void *)(uintptr_t)me.thread_id.ptr);
        free((void *)(uintptr_t)me.assistant_id.ptr);
    }
    if (intact && all->complete) {
        while (next_expected < all->n && !rec_matches(&all->r[next_expected], f))
            next_expected++;
        if (next_expected < all->n)
            FZ_FAIL("filtered cursor missed record %llu (returned %llu records)",
                    (unsigned long long)all->r[next_expected].ordinal, (unsigned long long)got);
    }
    steparc_cursor_close(c);
}

/* ---- lookups by position ----------------------------------------------------------- */

static void check_position(steparc_reader *r, uint64_t n, uint64_t count, const seen_set *all,
                           int intact)
{
    steparc_buf mp = {0}, js = {0}, pj = {0}, tmp = {0}, sj = {0};
    int rc = steparc_reader_get_msgpack(&mp, r, n);
    FZ_STATUS_IN(rc, 0, STEPARC_E_NOTFOUND, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
    if (n >= count)
        FZ_CHECK(rc == STEPARC_E_NOTFOUND);
    else
        FZ_CHECK(rc != STEPARC_E_NOTFOUND);
    if (intact && n < count && rc != 0)
        FZ_FAIL("get_msgpack(%llu) failed (%d) on an archive that verifies", (unsigned long long)n, rc);
    int have_mp = rc == 0;
    if (have_mp) {
        const seen_rec *s = seen_find(all, n);
        if (s && (s->hash != hash_bytes(mp.data, mp.len) || s->len != mp.len))
            FZ_FAIL("get_msgpack(%llu) differs from the cursor's bytes", (unsigned long long)n);
        check_record_bytes(mp.data, mp.len, intact);
    }

    rc = steparc_reader_get_json(&js, r, n, 0);
    FZ_STATUS_IN(rc, 0, STEPARC_E_NOTFOUND, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
    FZ_CHECK(steparc_reader_errmsg(r) != NULL);
    if (n >= count)
        FZ_CHECK(rc == STEPARC_E_NOTFOUND);
    if (intact && n < count && rc != 0)
        FZ_FAIL("get_json(%llu) failed (%d) on an archive that verifies", (unsigned long long)n, rc);
    int have_js = rc == 0;
    if (have_js && have_mp) {
        int trc = steparc_msgpack_to_json(&tmp, mp.data, mp.len, 0);
        FZ_CHECK(trc == 0);
        FZ_CHECK(fz_buf_eq(&tmp, &js));
    }
    if (have_mp && !have_js && n < count) {
        /* the same bytes must fail the same way */
        int trc = steparc_msgpack_to_json(&tmp, mp.data, mp.len, 0);
        FZ_CHECK(trc != 0);
    }

    rc = steparc_reader_get_json(&pj, r, n, STEPARC_JSON_PRETTY);
    FZ_STATUS_IN(rc, 0, STEPARC_E_NOTFOUND, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
    FZ_CHECK((rc == 0) == have_js);
    if (rc == 0 && have_mp) {
        int trc = steparc_msgpack_to_json(&tmp, mp.data, mp.len, STEPARC_JSON_PRETTY);
        FZ_CHECK(trc == 0);
        FZ_CHECK(fz_buf_eq(&tmp, &pj));
    }

    steparc_step *st = NULL;
    rc = steparc_reader_get_step(&st, r, n);
    FZ_STATUS_IN(rc, 0, STEPARC_E_NOTFOUND, STEPARC_E_CORRUPT, STEPARC_E_LIMIT, STEPARC_E_NOMEM);
    if (rc != 0)
        FZ_CHECK(st == NULL);
    if (n >= count)
        FZ_CHECK(rc == STEPARC_E_NOTFOUND);
    if (intact && n < count && rc != 0)
        FZ_FAIL("get_step(%llu) failed (%d) on an archive that verifies", (unsigned long long)n, rc);
    if (rc == 0) {
        int src = steparc_step_to_json(&sj, st, 0);
        FZ_STATUS_IN(src, 0, STEPARC_E_ARG, STEPARC_E_LIMIT, STEPARC_E_CORRUPT);
        if (intact || (have_mp && sa_mp_validate(mp.data, mp.len, NULL, 0) == 0)) {
            FZ_CHECK(src == 0);
            FZ_CHECK(have_js);
            if (!fz_buf_eq(&sj, &js)) {
                fz_dump("get_json", js.data, js.len);
                fz_dump("step_to_json", sj.data, sj.len);
                FZ_FAIL("steparc_step_to_json(get_step(%llu)) differs from get_json",
                        (unsigned long long)n);
            }
        }
    }
    steparc_step_free(st);
    steparc_buf_free(&mp);
    steparc_buf_free(&js);
    steparc_buf_free(&pj);
    steparc_buf_free(&tmp);
    steparc_buf_free(&sj);
}

/* ---- lookups by id ------------------------------------------------------------------ */

static void check_id(steparc_reader *r, steparc_str id, const seen_set *all, const steparc_info *info,
                     int intact)
{
    uint64_t ord = UINT64_MAX;
    int rc = steparc_reader_find_id(&ord, r, id.ptr, id.len);
    FZ_STATUS_IN(rc, 0, STEPARC_E_NOTFOUND, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
    if (!info->has_id_index)
        FZ_CHECK(rc == STEPARC_E_NOTFOUND);
    if (rc == 0) {
        FZ_CHECK(ord < info->records);
        /* find_id reads the record to confirm the match: it must hold the id */
        const seen_rec *s = seen_find(all, ord);
        if (s && !(s->keys_ok && str_eq(s->id, id)))
            FZ_FAIL("find_id returned record %llu, whose id differs", (unsigned long long)ord);
    }
    if (intact && info->has_id_index && all->complete) {
        const seen_rec *want = NULL;
        for (size_t i = 0; i < all->n && want == NULL; i++)
            if (all->r[i].keys_ok && str_eq(all->r[i].id, id))
                want = &all->r[i];
        if (want == NULL && rc != STEPARC_E_NOTFOUND)
            FZ_FAIL("find_id found an id no record has (rc %d)", rc);
        if (want != NULL && (rc != 0 || ord != want->ordinal))
            FZ_FAIL("find_id gave rc %d ordinal %llu; the first record with that id is %llu", rc,
                    (unsigned long long)ord, (unsigned long long)want->ordinal);
    }
}

/* ---- recovery -------------------------------------------------------------------------- */

/* steparc_recover over the same bytes: its output archive always verifies and
 * holds what it reports; from an intact archive it saves every record,
 * unchanged and in order. */
static void check_recover(const uint8_t *data, size_t size, const seen_set *all, uint64_t count,
                          int intact)
{
    char path[600];
    snprintf(path, sizeof path, "%s/recovered.steparc", fz_tmpdir());
    steparc_writer_options wo;
    steparc_writer_options_init(&wo);
    wo.level = 1;
    wo.no_fsync = 1;
    wo.block_size = 1024;
    steparc_writer *w = NULL;
    char werr[256];
    int rc = steparc_writer_open(&w, path, &wo, werr, sizeof werr);
    if (rc != 0)
        FZ_FAIL("steparc_writer_open: %d: %s", rc, werr);
    steparc_recover_report rep;
    vreport vr = {0};
    rc = steparc_recover(&rep, data, size, w, on_problem, &vr);
    FZ_STATUS_IN(rc, 0, STEPARC_E_NOMEM, STEPARC_E_LIMIT);
    FZ_CHECK(steparc_writer_count(w) == rep.records_saved);
    FZ_CHECK(vr.n >= rep.blocks_damaged);
    if (intact) {
        FZ_CHECK(rc == 0);
        if (rep.blocks_damaged != 0 || rep.records_saved < count)
            FZ_FAIL("recover of an intact archive: %llu damaged blocks, %llu of %llu records",
                    (unsigned long long)rep.blocks_damaged, (unsigned long long)rep.records_saved,
                    (unsigned long long)count);
        FZ_CHECK(rep.footer_found && rep.records_expected == count);
    }
    if (rc == 0) {
        rc = steparc_writer_finish(w);
        if (rc != 0)
            FZ_FAIL("finish after recover: %d: %s", rc, steparc_writer_errmsg(w));
    }
    steparc_writer_close(w);
    if (rc != 0)
        return;
    char errbuf[256];
    steparc_reader *r = NULL;
    rc = steparc_reader_open(&r, path, NULL, errbuf, sizeof errbuf);
    if (rc != 0)
        FZ_FAIL("the recovered archive does not open: %s", errbuf);
    FZ_CHECK(steparc_reader_count(r) == rep.records_saved);
    uint64_t np = 0;
    rc = steparc_verify(&np, r, NULL, NULL);
    if (rc != 0)
        FZ_FAIL("the recovered archive does not verify: %s", steparc_reader_errmsg(r));
    /* from an intact archive: the same records in the same order */
    if (intact && all->complete && rep.records_saved == count) {
        steparc_cursor *c = NULL;
        FZ_CHECK(steparc_cursor_open(&c, r, NULL) == 0);
        uint64_t ord;
        const void *mp;
        size_t len;
        for (size_t i = 0; i < all->n; i++) {
            FZ_CHECK(steparc_cursor_next(&ord, &mp, &len, c) == 0);
            if (len != all->r[i].len || hash_bytes(mp, len) != all->r[i].hash)
                FZ_FAIL("recovered record %zu differs from the original", i);
        }
        steparc_cursor_close(c);
    }
    steparc_reader_close(r);
    unlink(path);
}

/* ---- the target ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init_alloc();
    steparc_reader_options ro;
    steparc_reader_options_init(&ro);
    ro.cache_blocks = size % 3 == 0 ? 0 : size % 3 == 1 ? 1 : 4;
    char errbuf[256];
    errbuf[0] = 0;
    steparc_reader *r = (steparc_reader *)&errbuf; /* must be reset to NULL on failure */
    int rc = steparc_reader_open_memory(&r, data, size, &ro, errbuf, sizeof errbuf);
    FZ_STATUS_IN(rc, 0, STEPARC_E_CORRUPT, STEPARC_E_VERSION, STEPARC_E_NOMEM);
    if (rc != 0) {
        FZ_CHECK(r == NULL);
        FZ_CHECK(memchr(errbuf, 0, sizeof errbuf) != NULL);
        if (sa_hash64(data, size) % 4 == 0) {
            seen_set none = {0};
            check_recover(data, size, &none, 0, 0);
        }
        fz_check_leaks();
        return 0;
    }
    uint64_t count = steparc_reader_count(r);
    steparc_info info;
    rc = steparc_reader_info(&info, r);
    FZ_CHECK(rc == 0);
    FZ_CHECK(info.records == count);
    FZ_CHECK(info.file_size == size);
    FZ_CHECK(info.blocks <= count);
    FZ_CHECK(info.format_major == STEPARC_FORMAT_MAJOR);

    /* verification decides how strict the rest is */
    vreport vr = {0};
    uint64_t nprob = 777;
    int vrc = steparc_verify(&nprob, r, on_problem, &vr);
    FZ_STATUS_IN(vrc, 0, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
    if (vrc == 0)
        FZ_CHECK(nprob == 0 && vr.n == 0);
    else if (vrc == STEPARC_E_CORRUPT)
        FZ_CHECK(nprob > 0 && nprob == vr.n);
    int intact = vrc == 0;

    /* full scan */
    seen_set all = {0};
    all.complete = 1;
    steparc_cursor *c = NULL;
    rc = steparc_cursor_open(&c, r, NULL);
    FZ_STATUS_IN(rc, 0, STEPARC_E_NOMEM);
    if (rc == 0) {
        uint64_t errors = 0, expect = 0;
        for (uint64_t guard = 0;; guard++) {
            if (guard > count + info.blocks + 2)
                FZ_FAIL("cursor does not end (%llu calls, %llu records)", (unsigned long long)guard,
                        (unsigned long long)count);
            uint64_t ord = 0;
            const void *mp = NULL;
            size_t len = 0;
            rc = steparc_cursor_next(&ord, &mp, &len, c);
            FZ_STATUS_IN(rc, 0, STEPARC_END, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
            if (rc == STEPARC_END)
                break;
            if (rc != 0) {
                if (intact)
                    FZ_FAIL("cursor failed (%d: %s) on an archive that verifies", rc,
                            steparc_cursor_errmsg(c));
                all.complete = 0;
                if (++errors > info.blocks + 1)
                    FZ_FAIL("cursor reports more errors than there are blocks");
                continue;
            }
            FZ_CHECK(ord < count);
            FZ_CHECK(all.n == 0 || ord > all.r[all.n - 1].ordinal);
            FZ_CHECK(mp != NULL && len > 0);
            if (ord != expect)
                all.complete = 0;
            expect = ord + 1;
            if (all.n < MAX_SEEN) {
                if (all.n == all.cap) {
                    all.cap = all.cap ? 2 * all.cap : 64;
                    all.r = (seen_rec *)realloc(all.r, all.cap * sizeof(seen_rec));
                    if (all.r == NULL)
                        abort();
                }
                fill_rec(&all.r[all.n++], ord, mp, len);
            } else {
                all.complete = 0;
            }
            if (all.n <= 64 || intact)
                check_record_bytes(mp, len, intact);
        }
        if (expect != count)
            all.complete = 0;
        if (intact)
            FZ_CHECK(all.complete || count > MAX_SEEN);
        steparc_cursor_close(c);
    }

    /* when intact, the statistics in the block index are the records' */
    if (intact && all.complete) {
        int64_t mn = INT64_MAX, mx = INT64_MIN;
        uint64_t raw = 0;
        for (size_t i = 0; i < all.n; i++) {
            raw += all.r[i].len;
            if (all.r[i].has_created_at) {
                if (all.r[i].created_at < mn)
                    mn = all.r[i].created_at;
                if (all.r[i].created_at > mx)
                    mx = all.r[i].created_at;
            }
        }
        FZ_CHECK(info.min_created_at == mn);
        FZ_CHECK(info.max_created_at == mx);
        FZ_CHECK(info.raw_bytes == raw);
    }

    /* lookups by position */
    uint64_t pos[10];
    size_t npos = 0;
    pos[npos++] = 0;
    pos[npos++] = count;
    pos[npos++] = count ? count - 1 : 1;
    pos[npos++] = count / 2;
    pos[npos++] = UINT64_MAX;
    for (size_t i = 0; i < 4 && size >= 8 * (i + 1); i++) {
        uint64_t v = sa_get_u64(data + size - 8 * (i + 1));
        pos[npos++] = count ? v % (count + 1) : v;
    }
    for (size_t i = 0; i < npos; i++)
        check_position(r, pos[i], count, &all, intact);

    /* lookups by id: ids of the first records, and one nobody has */
    size_t nid = 0;
    for (size_t i = 0; i < all.n && nid < 4; i++)
        if (all.r[i].keys_ok && all.r[i].id.ptr) {
            check_id(r, all.r[i].id, &all, &info, intact);
            nid++;
        }
    steparc_str none = {"\xf4\x8f\xbf\xbf no such id", 15};
    check_id(r, none, &all, &info, intact);
    steparc_str empty = {"", 0};
    check_id(r, empty, &all, &info, intact);

    /* filtered cursors, their values from the records found */
    steparc_str run = {NULL, 0}, thread = {NULL, 0}, asst = {NULL, 0};
    int64_t t0 = 0, t1 = 0;
    int have_t = 0;
    for (size_t i = 0; i < all.n && i < 64; i++) {
        const seen_rec *s = &all.r[i];
        if (!run.ptr && s->run_id.ptr)
            run = s->run_id;
        if (!thread.ptr && s->thread_id.ptr)
            thread = s->thread_id;
        if (!asst.ptr && s->assistant_id.ptr)
            asst = s->assistant_id;
        if (s->has_created_at) {
            if (!have_t) {
                t0 = t1 = s->created_at;
                have_t = 1;
            } else if (have_t < 3) {
                if (s->created_at < t0)
                    t0 = s->created_at;
                if (s->created_at > t1)
                    t1 = s->created_at;
                have_t++;
            }
        }
    }
    steparc_filter f;
    if (run.ptr) {
        memset(&f, 0, sizeof f);
        f.run_id = run;
        run_filter(r, &f, &all, count, info.blocks, intact);
    }
    if (thread.ptr) {
        memset(&f, 0, sizeof f);
        f.thread_id = thread;
        run_filter(r, &f, &all, count, info.blocks, intact);
    }
    if (asst.ptr) {
        memset(&f, 0, sizeof f);
        f.assistant_id = asst;
        run_filter(r, &f, &all, count, info.blocks, intact);
    }
    if (have_t) {
        memset(&f, 0, sizeof f);
        f.has_since = 1;
        f.since = t0;
        f.has_until = 1;
        f.until = t1;
        run_filter(r, &f, &all, count, info.blocks, intact);
        memset(&f, 0, sizeof f);
        f.has_until = 1;
        f.until = t0;
        run_filter(r, &f, &all, count, info.blocks, intact);
        memset(&f, 0, sizeof f);
        f.has_since = 1;
        f.since = t1;
        run_filter(r, &f, &all, count, info.blocks, intact);
    }
    if (run.ptr || thread.ptr) {
        memset(&f, 0, sizeof f);
        f.run_id = run;
        f.thread_id = thread;
        f.assistant_id = asst;
        if (have_t) {
            f.has_since = 1;
            f.since = t0;
        }
        run_filter(r, &f, &all, count, info.blocks, intact);
    }
    memset(&f, 0, sizeof f);
    f.run_id = none;
    run_filter(r, &f, &all, count, info.blocks, intact);
    memset(&f, 0, sizeof f);
    f.has_since = 1;
    f.since = INT64_MAX;
    f.has_until = 1;
    f.until = INT64_MIN;
    run_filter(r, &f, &all, count, info.blocks, intact);

    /* recovery: for intact archives and a quarter of the rest (a writer is
     * expensive under ASan) */
    if (intact || sa_hash64(data, size) % 4 == 0)
        check_recover(data, size, &all, count, intact);

    uint64_t hits = 0, misses = 0;
    steparc_reader_cache_stats(&hits, &misses, r);
    if (ro.cache_blocks == 0)
        FZ_CHECK(hits == 0);

    seen_free(&all);
    steparc_reader_close(r);
    fz_check_leaks();
    return 0;
}

/* ---- checksum-repairing mutator (libFuzzer builds only) ------------------------------- */

#ifdef STEPARC_LIBFUZZER
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static void put_crc(uint8_t *at, const uint8_t *p, size_t n)
{
    sa_put_u32(at, sa_crc32c(0, p, n));
}

/* Recomputes, in place, every checksum whose structure can be located. */
static void repair(uint8_t *d, size_t size)
{
    if (size < SA_FILE_HEADER_SIZE + SA_FOOTER_SIZE)
        return;
    if (memcmp(d, SA_MAGIC, 8) == 0)
        put_crc(d + 36, d, 36);
    uint8_t *ft = d + size - SA_FOOTER_SIZE;
    if (memcmp(ft + 56, SA_END_MAGIC, 8) != 0)
        return;
    uint64_t toff = sa_get_u64(ft);
    uint32_t nsec = sa_get_u32(ft + 8);
    uint64_t body = size - SA_FOOTER_SIZE;
    if (nsec <= SA_MAX_SECTIONS && toff <= body && (uint64_t)nsec * SA_SECTION_ENTRY_SIZE <= body - toff) {
        uint8_t *tbl = d + toff;
        /* data blocks, through the block index */
        for (uint32_t i = 0; i < nsec; i++) {
            uint8_t *e = tbl + (size_t)i * SA_SECTION_ENTRY_SIZE;
            uint64_t off = sa_get_u64(e + 8), len = sa_get_u64(e + 16);
            if (sa_get_u32(e) != SA_SEC_BLOCK_INDEX || off > toff || len > toff - off)
                continue;
            for (uint64_t b = 0; b + SA_BLOCK_INDEX_ENTRY_SIZE <= len; b += SA_BLOCK_INDEX_ENTRY_SIZE) {
                uint64_t boff = sa_get_u64(d + off + b);
                if (boff > toff || SA_BLOCK_HEADER_SIZE > toff - boff)
                    continue;
                uint8_t *h = d + boff + SA_SYNC_SIZE;
                uint32_t stored = sa_get_u32(h + 32);
                if (stored <= toff - boff - SA_BLOCK_HEADER_SIZE)
                    put_crc(h + 40, d + boff + SA_BLOCK_HEADER_SIZE, stored);
                put_crc(h + 44, d + boff, SA_SYNC_SIZE + 44);
            }
        }
        /* sections, the table */
        for (uint32_t i = 0; i < nsec; i++) {
            uint8_t *e = tbl + (size_t)i * SA_SECTION_ENTRY_SIZE;
            uint64_t off = sa_get_u64(e + 8), len = sa_get_u64(e + 16);
            if (off <= toff && len <= toff - off)
                put_crc(e + 24, d + off, (size_t)len);
        }
        put_crc(ft + 12, tbl, (size_t)nsec * SA_SECTION_ENTRY_SIZE);
    }
    put_crc(ft + 52, ft, 52);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    size_t n = LLVMFuzzerMutate(data, size, max_size);
    if (seed % 2 == 0)
        repair(data, n);
    return n;
}
#endif
