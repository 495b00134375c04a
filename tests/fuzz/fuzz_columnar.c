/* fuzz_columnar.c - the columnar block layout (format/columnar.c, FORMAT.md 5.5).
 *
 * The input bytes are used twice:
 *
 * (a) as a columnar payload: byte 0 gives n = byte 0 + 1 when it is below
 *     0x80, else n = ((byte 0 & 0x7F) << 8 | byte 1) + 1 (up to 32,768
 *     records); the payload is the rest. sa_col_decode must return 0 or
 *     STEPARC_E_CORRUPT (NOMEM only if an allocation failed); on success the
 *     rows pass sa_rows_check and have the size sa_col_rows_size declares,
 *     and when those rows are MessagePack the encoder takes (0; INPUT and
 *     LIMIT are allowed), encoding them and decoding again gives the same
 *     rows.
 *
 * (b) as records: scanning from the start, every complete MessagePack map
 *     (sa_mp_skip) is taken as a record and the scan goes on after it; other
 *     bytes are skipped. Those records, as a rows payload (5.3), must encode
 *     (0, or LIMIT when too varied; INPUT only for records sa_mp_validate
 *     rejects, e.g. with a non-string key) and decode back to exactly the
 *     rows; a second encoding with the same encoder gives the same bytes;
 *     the encoded payload cut short is corrupt.
 *
 * Seeds (tests/fuzz/corpus/columnar/) are real encoded payloads with their
 * n byte in front, which (b) also reads as partial records, and rows of
 * generated steps for (b). */
#include "fuzz_common.h"
#include "columnar.h"
#include "layout.h"
#include "record.h"

#define MAX_RECORDS 4096
#define REENCODE_MAX (8u << 20) /* bigger decoded rows are not re-encoded: speed */

static void check_decoded(const unsigned char *rows, size_t size, uint32_t n,
                          const unsigned char *col, size_t col_len)
{
    if (sa_rows_check(rows, size, n) != 0)
        FZ_FAIL("sa_col_decode succeeded but its rows fail sa_rows_check");
    if (sa_col_rows_size(col, col_len) != size)
        FZ_FAIL("decoded %zu bytes, the payload declares %llu", size,
                (unsigned long long)sa_col_rows_size(col, col_len));
}

/* (a): the bytes as a columnar payload. */
static void as_payload(const uint8_t *data, size_t size)
{
    if (size == 0)
        return;
    uint32_t n;
    size_t skip;
    if (data[0] < 0x80) {
        n = (uint32_t)data[0] + 1;
        skip = 1;
    } else {
        if (size < 2)
            return;
        n = ((uint32_t)(data[0] & 0x7F) << 8 | data[1]) + 1;
        skip = 2;
    }
    const unsigned char *col = data + skip;
    size_t len = size - skip;
    unsigned char *rows = NULL;
    size_t rows_size = 0;
    const char *why = NULL;
    int rc = sa_col_decode(col, len, n, &rows, &rows_size, &why);
    FZ_STATUS_IN(rc, 0, STEPARC_E_CORRUPT, STEPARC_E_NOMEM);
    if (rc != 0) {
        FZ_CHECK(rows == NULL && rows_size == 0);
        if (rc == STEPARC_E_CORRUPT)
            FZ_CHECK(why != NULL && why[0] != 0);
        return;
    }
    check_decoded(rows, rows_size, n, col, len);
    if (rows_size <= REENCODE_MAX) {
        sa_colenc *e = sa_colenc_new();
        FZ_CHECK(e != NULL);
        steparc_buf again = {0};
        int erc = sa_col_encode(e, rows, rows_size, n, &again);
        FZ_STATUS_IN(erc, 0, STEPARC_E_INPUT, STEPARC_E_LIMIT);
        if (erc == 0) {
            unsigned char *rows2 = NULL;
            size_t size2 = 0;
            rc = sa_col_decode((const unsigned char *)again.data, again.len, n, &rows2, &size2, &why);
            if (rc != 0)
                FZ_FAIL("re-encoded decoded rows do not decode: %s", why ? why : "?");
            if (size2 != rows_size || memcmp(rows2, rows, size2) != 0)
                FZ_FAIL("decode, encode, decode changes the rows");
            sa_free(rows2);
        }
        steparc_buf_free(&again);
        sa_colenc_free(e);
    }
    sa_free(rows);
}

/* (b): the maps found in the bytes, as records of one block. */
static void as_records(const uint8_t *data, size_t size)
{
    steparc_buf rows = {0};
    uint32_t *ends = (uint32_t *)malloc(MAX_RECORDS * sizeof *ends);
    size_t *starts = (size_t *)malloc(MAX_RECORDS * sizeof *starts);
    FZ_CHECK(ends != NULL && starts != NULL);
    uint32_t n = 0;
    size_t at = 0, total = 0;
    int all_valid = 1;
    while (at < size && n < MAX_RECORDS) {
        unsigned c = data[at];
        int is_map = (c >= 0x80 && c <= 0x8F) || c == 0xDE || c == 0xDF;
        sa_mpr r = {data + at, data + size};
        if (!is_map || sa_mp_skip(&r, STEPARC_MAX_DEPTH) != 0) {
            at++;
            continue;
        }
        size_t len = (size_t)(r.p - (data + at));
        all_valid &= sa_mp_validate(data + at, len, NULL, 0) == 0;
        total += len;
        starts[n] = at;
        ends[n++] = (uint32_t)total;
        at += len;
    }
    if (n == 0) {
        free(ends);
        free(starts);
        return;
    }
    /* the rows payload: offsets, then the records found, in order */
    FZ_CHECK(sa_buf_reserve(&rows, 4 * (size_t)n + total) == 0);
    for (uint32_t i = 0; i < n; i++)
        sa_put_u32((unsigned char *)rows.data + 4 * (size_t)i, ends[i]);
    rows.len = 4 * (size_t)n;
    for (uint32_t i = 0; i < n; i++)
        FZ_CHECK(sa_buf_append(&rows, data + starts[i], ends[i] - (i ? ends[i - 1] : 0)) == 0);
    free(starts);
    FZ_CHECK(rows.len == 4 * (size_t)n + total);
    FZ_CHECK(sa_rows_check((const unsigned char *)rows.data, rows.len, n) == 0);

    sa_colenc *e = sa_colenc_new();
    FZ_CHECK(e != NULL);
    steparc_buf col = {0}, col2 = {0};
    int rc = sa_col_encode(e, (const unsigned char *)rows.data, rows.len, n, &col);
    if (all_valid)
        FZ_STATUS_IN(rc, 0, STEPARC_E_LIMIT);
    else
        FZ_STATUS_IN(rc, 0, STEPARC_E_LIMIT, STEPARC_E_INPUT);
    if (rc == 0) {
        unsigned char *back = NULL;
        size_t back_size = 0;
        const char *why = NULL;
        int drc = sa_col_decode((const unsigned char *)col.data, col.len, n, &back, &back_size, &why);
        if (drc != 0) {
            fz_dump("payload", col.data, col.len);
            FZ_FAIL("an encoded block does not decode: %s", why ? why : "?");
        }
        if (back_size != rows.len || memcmp(back, rows.data, rows.len) != 0) {
            fz_dump("rows", rows.data, rows.len);
            fz_dump("decoded", back, back_size);
            FZ_FAIL("encode + decode does not give back the rows");
        }
        sa_free(back);
        /* the same encoder again (its tables now hold the previous block) */
        FZ_CHECK(sa_col_encode(e, (const unsigned char *)rows.data, rows.len, n, &col2) == 0);
        if (!fz_buf_eq(&col, &col2))
            FZ_FAIL("a reused encoder gives other bytes for the same block");
        /* the parts add up to the payload exactly: a prefix is corrupt */
        size_t cut = size ? (size_t)data[size - 1] * col.len / 256 : 0;
        drc = sa_col_decode((const unsigned char *)col.data, cut, n, &back, &back_size, &why);
        if (drc != STEPARC_E_CORRUPT)
            FZ_FAIL("a payload cut to %zu of %zu bytes decodes (%d)", cut, col.len, drc);
    }
    steparc_buf_free(&col);
    steparc_buf_free(&col2);
    steparc_buf_free(&rows);
    sa_colenc_free(e);
    free(ends);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init_alloc();
    as_payload(data, size);
    as_records(data, size);
    fz_check_leaks();
    return 0;
}
