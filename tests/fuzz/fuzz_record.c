/* fuzz_record.c - the input bytes are one MessagePack record.
 *
 * Invariants:
 * - the validator (sa_mp_validate, what steparc_writer_add_msgpack runs),
 *   steparc_step_decode, steparc_step_encode, steparc_msgpack_to_json and
 *   steparc_json_to_msgpack return only documented statuses, never crash,
 *   never leak;
 * - a record that validates decodes; its struct encodes again; when the input
 *   uses the encodings FORMAT.md 6.1 says writers produce ("canonical": the
 *   smallest int/str/array/map header, float64), the re-encoding is exactly the
 *   input; otherwise it is the canonical encoding of the same value;
 * - a valid record converts to JSON; that JSON (compact and pretty) parses
 *   back to MessagePack whose JSON is the same text, and that MessagePack is
 *   the canonical encoding; steparc_step_to_json gives the same text;
 * - for any input at all, whenever msgpack->JSON and JSON->msgpack both
 *   succeed, the second JSON equals the first. */
#include "fuzz_common.h"
#include "record.h"

/* Is mp[0..len) (already validated) in the encodings the writer produces? */
static int canon_item(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    if (p >= end)
        return 0;
    unsigned c = *p++;
    uint64_t n = 0, v = 0;
    int items = 0; /* 1 array, 2 map */
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        *pp = p;
        return 1;
    }
    if (c >= 0x80 && c <= 0x8f) {
        n = c & 0x0f;
        items = 2;
    } else if (c >= 0x90 && c <= 0x9f) {
        n = c & 0x0f;
        items = 1;
    } else if (c >= 0xa0 && c <= 0xbf) {
        n = c & 0x1f;
        if ((uint64_t)(end - p) < n)
            return 0;
        *pp = p + n;
        return 1;
    } else {
        int w;
        switch (c) {
        case 0xcb: w = 8; break;
        case 0xcc: case 0xd0: case 0xd9: w = 1; break;
        case 0xcd: case 0xd1: case 0xda: case 0xdc: case 0xde: w = 2; break;
        case 0xce: case 0xd2: case 0xdb: w = 4; break;
        case 0xcf: case 0xd3: w = 8; break;
        default: return 0; /* float32, array32, map32 and everything else */
        }
        if ((uint64_t)(end - p) < (uint64_t)w)
            return 0;
        for (int i = 0; i < w; i++)
            v = (v << 8) | p[i];
        p += w;
        int ok;
        switch (c) {
        case 0xcb: ok = 1; break;
        case 0xcc: ok = v > 0x7f; break;
        case 0xcd: ok = v > 0xff; break;
        case 0xce: ok = v > 0xffff; break;
        case 0xcf: ok = v > 0xffffffffu; break;
        case 0xd0: ok = (int8_t)(uint8_t)v < -32; break;
        case 0xd1: ok = (int16_t)(uint16_t)v < -128; break;
        case 0xd2: ok = (int32_t)(uint32_t)v < -32768; break;
        case 0xd3: ok = (int64_t)v < -2147483648LL; break;
        case 0xd9: ok = v >= 32; break;
        case 0xda: ok = v >= 256; break;
        case 0xdb: ok = v >= 65536; break;
        case 0xdc: case 0xde: ok = v >= 16; break;
        default: ok = 0; break;
        }
        if (!ok)
            return 0;
        if (c == 0xd9 || c == 0xda || c == 0xdb) {
            if ((uint64_t)(end - p) < v)
                return 0;
            *pp = p + v;
            return 1;
        }
        if (c == 0xdc || c == 0xde) {
            n = v;
            items = c == 0xdc ? 1 : 2;
        } else {
            *pp = p;
            return 1;
        }
    }
    for (uint64_t i = 0; i < n * (uint64_t)items; i++)
        if (!canon_item(&p, end))
            return 0;
    *pp = p;
    return 1;
}

static int is_canonical(const unsigned char *mp, size_t len)
{
    const unsigned char *p = mp;
    return canon_item(&p, mp + len) && p == mp + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init_alloc();
    char why[160];
    int valid = sa_mp_validate(data, size, why, sizeof why);
    FZ_STATUS_IN(valid, 0, STEPARC_E_INPUT, STEPARC_E_LIMIT);
    int canonical = valid == 0 && is_canonical(data, size);

    steparc_buf enc = {0}, enc2 = {0}, js = {0}, pj = {0}, mp2 = {0}, js2 = {0}, sj = {0};
    steparc_step *st = (steparc_step *)&why; /* must become NULL on failure */
    int drc = steparc_step_decode(&st, data, size);
    FZ_STATUS_IN(drc, 0, STEPARC_E_INPUT, STEPARC_E_LIMIT);
    if (drc != 0)
        FZ_CHECK(st == NULL);
    if (valid == 0 && drc != 0)
        FZ_FAIL("record passes validation but steparc_step_decode returns %d", drc);

    if (drc == 0) {
        int erc = steparc_step_encode(&enc, st);
        FZ_STATUS_IN(erc, 0, STEPARC_E_ARG, STEPARC_E_LIMIT);
        if (valid == 0 && erc != 0)
            FZ_FAIL("valid record decodes but does not encode again: %d", erc);
        if (erc == 0) {
            /* the encoder promises a valid record */
            if (sa_mp_validate(enc.data, enc.len, NULL, 0) != 0)
                FZ_FAIL("steparc_step_encode produced an invalid record");
            if (!is_canonical((const unsigned char *)enc.data, enc.len))
                FZ_FAIL("steparc_step_encode produced a non-canonical encoding");
            if (canonical && (enc.len != size || memcmp(enc.data, data, size) != 0)) {
                fz_dump("input", data, size);
                fz_dump("re-encoded", enc.data, enc.len);
                FZ_FAIL("decode+encode of a canonical record does not give back its bytes");
            }
            /* encoding is a fixed point */
            steparc_step *st2 = NULL;
            int rc = steparc_step_decode(&st2, enc.data, enc.len);
            FZ_CHECK(rc == 0);
            rc = steparc_step_encode(&enc2, st2);
            FZ_CHECK(rc == 0);
            FZ_CHECK(fz_buf_eq(&enc, &enc2));
            steparc_step_free(st2);
            rc = steparc_step_to_json(&sj, st, 0);
            FZ_CHECK(rc == 0);
        }
    }

    int jrc = steparc_msgpack_to_json(&js, data, size, 0);
    FZ_STATUS_IN(jrc, 0, STEPARC_E_CORRUPT);
    if (valid == 0 && jrc != 0)
        FZ_FAIL("valid record but steparc_msgpack_to_json returns %d", jrc);
    if (jrc == 0) {
        steparc_json_error err;
        int prc = steparc_json_to_msgpack(&mp2, js.data, js.len, 0, &err);
        FZ_STATUS_IN(prc, 0, STEPARC_E_INPUT, STEPARC_E_LIMIT);
        if (valid == 0 && prc != 0) {
            fz_dump("json", js.data, js.len);
            FZ_FAIL("JSON of a valid record does not parse: %s (offset %zu)", err.reason, err.offset);
        }
        if (prc == 0) {
            int rc = steparc_msgpack_to_json(&js2, mp2.data, mp2.len, 0);
            FZ_CHECK(rc == 0);
            if (!fz_buf_eq(&js, &js2)) {
                fz_dump("json", js.data, js.len);
                fz_dump("json again", js2.data, js2.len);
                FZ_FAIL("msgpack->JSON->msgpack->JSON is not stable");
            }
            if (!is_canonical((const unsigned char *)mp2.data, mp2.len))
                FZ_FAIL("steparc_json_to_msgpack produced a non-canonical encoding");
            if (canonical && (mp2.len != size || memcmp(mp2.data, data, size) != 0))
                FZ_FAIL("canonical record -> JSON -> MessagePack does not give back its bytes");
            if (valid == 0 && drc == 0 && !fz_buf_eq(&enc, &mp2)) {
                fz_dump("struct re-encoding", enc.data, enc.len);
                fz_dump("via JSON", mp2.data, mp2.len);
                FZ_FAIL("the struct's re-encoding is not the canonical encoding of the record");
            }
        }
        if (drc == 0 && sj.len) {
            /* steparc_step_to_json must agree with the direct export */
            if (valid == 0 && !fz_buf_eq(&sj, &js)) {
                fz_dump("msgpack_to_json", js.data, js.len);
                fz_dump("step_to_json", sj.data, sj.len);
                FZ_FAIL("steparc_step_to_json differs from steparc_msgpack_to_json");
            }
        }
        int qrc = steparc_msgpack_to_json(&pj, data, size, STEPARC_JSON_PRETTY);
        FZ_CHECK(qrc == 0);
        prc = steparc_json_to_msgpack(&mp2, pj.data, pj.len, 0, &err);
        FZ_STATUS_IN(prc, 0, STEPARC_E_INPUT, STEPARC_E_LIMIT);
        if (valid == 0)
            FZ_CHECK(prc == 0);
        if (prc == 0) {
            int rc = steparc_msgpack_to_json(&js2, mp2.data, mp2.len, 0);
            FZ_CHECK(rc == 0);
            if (!fz_buf_eq(&js, &js2)) {
                fz_dump("compact", js.data, js.len);
                fz_dump("via pretty", js2.data, js2.len);
                FZ_FAIL("pretty JSON does not read back to the compact JSON");
            }
        }
    }
    steparc_step_free(drc == 0 ? st : NULL);
    steparc_buf_free(&enc);
    steparc_buf_free(&enc2);
    steparc_buf_free(&js);
    steparc_buf_free(&pj);
    steparc_buf_free(&mp2);
    steparc_buf_free(&js2);
    steparc_buf_free(&sj);
    fz_check_leaks();
    return 0;
}
