/* test_format.c - unit tests of format/: CRC32C, layout structures, the
 * JSON <-> MessagePack codec, float formatting, validation. */
#include "harness.h"
#include "layout.h"
#include "record.h"
#include "steparc.h"

uint32_t sa_crc32c_soft(uint32_t crc, const void *data, size_t n);

static void test_crc32c_vectors(void)
{
    CHECK_EQ_INT(sa_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_INT(sa_crc32c_soft(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ_INT(sa_crc32c(0, "", 0), 0);
    /* hardware and portable paths agree on every length and alignment */
    unsigned char buf[300];
    h_rng_state = 7;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)h_rand();
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n + off <= sizeof buf; n += 7)
            CHECK_EQ_INT(sa_crc32c(0, buf + off, n), sa_crc32c_soft(0, buf + off, n));
    /* incremental equals one-shot */
    uint32_t a = sa_crc32c(sa_crc32c(0, buf, 100), buf + 100, 200);
    CHECK_EQ_INT(a, sa_crc32c(0, buf, 300));
}

static void test_layout_roundtrip(void)
{
    unsigned char sync[SA_SYNC_SIZE] = "0123456789abcde";
    sa_block_header h = {SA_BLOCK_DATA, SA_LAYOUT_ROWS, SA_CODEC_ZSTD, 0, 3, 42, -5, 99, 100, 200, 0xdeadbeef};
    unsigned char buf[SA_BLOCK_HEADER_SIZE];
    sa_block_header_encode(sync, &h, buf);
    sa_block_header g;
    const char *why;
    CHECK_EQ_INT(sa_block_header_decode(sync, buf, &g, &why), 0);
    CHECK(g.record_count == 3 && g.first_ordinal == 42 && g.min_created_at == -5 &&
          g.max_created_at == 99 && g.stored_size == 100 && g.raw_size == 200 &&
          g.payload_crc == 0xdeadbeef && g.codec == SA_CODEC_ZSTD);
    /* every single bit flip is caught */
    for (size_t i = 0; i < sizeof buf; i++)
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (unsigned char)(1 << bit);
            CHECK(sa_block_header_decode(sync, buf, &g, &why) != 0);
            buf[i] ^= (unsigned char)(1 << bit);
        }
    sa_footer f = {1000, 6, 77, 5, 2, 0, SA_FOOTER_TIME_ORDERED}, f2;
    unsigned char fb[SA_FOOTER_SIZE];
    sa_footer_encode(&f, fb);
    CHECK_EQ_INT(sa_footer_decode(fb, &f2, &why), 0);
    CHECK(f2.section_table_offset == 1000 && f2.section_count == 6 && f2.section_table_crc == 77 &&
          f2.record_count == 5 && f2.block_count == 2 && f2.flags == SA_FOOTER_TIME_ORDERED);
    for (size_t i = 0; i < sizeof fb; i++) {
        fb[i] ^= 0x10;
        CHECK(sa_footer_decode(fb, &f2, &why) != 0);
        fb[i] ^= 0x10;
    }
    sa_file_header fh = {1, 0, 0, {0}, 1 << 20}, fh2;
    memcpy(fh.sync, sync, SA_SYNC_SIZE);
    unsigned char hb[SA_FILE_HEADER_SIZE];
    sa_file_header_encode(&fh, hb);
    CHECK_EQ_INT(sa_file_header_decode(hb, &fh2), 0);
    CHECK(memcmp(fh2.sync, sync, SA_SYNC_SIZE) == 0 && fh2.block_size == 1u << 20);
    /* a newer major version is refused as such */
    fh.major = 2;
    sa_file_header_encode(&fh, hb);
    CHECK_EQ_INT(sa_file_header_decode(hb, &fh2), STEPARC_E_VERSION);
    /* designated: rows_size (layout 1) sits between raw_size and the times */
    sa_block_entry e = {.offset = 123456789, .first_ordinal = 77, .record_count = 5,
                        .stored_size = 1000, .raw_size = 2000, .rows_size = 3000,
                        .min_created_at = INT64_MIN, .max_created_at = INT64_MAX}, e2;
    unsigned char eb[SA_BLOCK_INDEX_ENTRY_SIZE];
    sa_block_entry_encode(&e, eb);
    sa_block_entry_decode(eb, &e2);
    /* field by field: the struct has padding */
    CHECK(e2.offset == e.offset && e2.first_ordinal == e.first_ordinal &&
          e2.record_count == e.record_count && e2.stored_size == e.stored_size &&
          e2.raw_size == e.raw_size && e2.rows_size == e.rows_size &&
          e2.min_created_at == e.min_created_at &&
          e2.max_created_at == e.max_created_at);
}

static void test_key32_vectors(void)
{
    /* the test vectors of docs/FORMAT.md, "key32" */
    CHECK(sa_hash64("", 0) == 0xcbf29ce484222325ULL);
    CHECK(sa_hash64("step_abc123", 11) == 0x9d022b0223160a60ULL);
    CHECK_EQ_INT(sa_key32("", 0), 0xefd01f60u);
    CHECK_EQ_INT(sa_key32("step_abc123", 11), 0x292cfdf2u);
    CHECK_EQ_INT(sa_key32("run_abc123", 10), 0x515dfd05u);
    CHECK_EQ_INT(sa_key32("thread_abc123", 13), 0xbfdf97f7u);
}

static void test_rows_check(void)
{
    unsigned char raw[4 * 3 + 6];
    sa_put_u32(raw, 1);
    sa_put_u32(raw + 4, 3);
    sa_put_u32(raw + 8, 6);
    memset(raw + 12, 0x80, 6);
    CHECK_EQ_INT(sa_rows_check(raw, sizeof raw, 3), 0);
    const unsigned char *p;
    size_t n;
    sa_rows_get(raw, 3, 1, &p, &n);
    CHECK(p == raw + 13 && n == 2);
    sa_put_u32(raw + 4, 1); /* empty record */
    CHECK(sa_rows_check(raw, sizeof raw, 3) != 0);
    sa_put_u32(raw + 4, 7); /* past the end */
    CHECK(sa_rows_check(raw, sizeof raw, 3) != 0);
    sa_put_u32(raw + 4, 3);
    sa_put_u32(raw + 8, 5); /* does not end at the end */
    CHECK(sa_rows_check(raw, sizeof raw, 3) != 0);
    CHECK(sa_rows_check(raw, 8, 3) != 0);
}

/* JSON -> MessagePack -> JSON, expecting `want` (canonical form). */
static void rt(const char *in, const char *want)
{
    steparc_buf mp = {0}, js = {0};
    steparc_json_error e;
    int rc = steparc_json_to_msgpack(&mp, in, strlen(in), 0, &e);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        CHECK_EQ_INT(steparc_msgpack_to_json(&js, mp.data, mp.len, 0), 0);
        js.data = realloc(js.data, js.len + 1);
        js.data[js.len] = 0;
        CHECK_STR(js.data, want);
    } else {
        fprintf(stderr, "  input %s: %s\n", in, e.reason);
    }
    steparc_buf_free(&mp);
    steparc_buf_free(&js);
}

static void test_json_canonical(void)
{
    rt("{}", "{}");
    rt("[]", "[]");
    rt(" { \"a\" : [ 1 , 2 ] } ", "{\"a\":[1,2]}");
    rt("{\"b\":1,\"a\":2}", "{\"b\":1,\"a\":2}"); /* key order kept */
    rt("1.0", "1.0");
    rt("-0.0", "-0.0");
    rt("-0", "0");
    rt("0.1", "0.1");
    rt("1e-07", "1e-07");
    rt("1E+16", "1e+16");
    rt("1e15", "1000000000000000.0");
    rt("0.0001", "0.0001");
    rt("0.00001", "1e-05");
    rt("5e-324", "5e-324");
    rt("1.7976931348623157e308", "1.7976931348623157e+308");
    rt("0.7051032442882943", "0.7051032442882943");
    rt("0.03201844170689583", "0.03201844170689583");
    rt("123456789.123", "123456789.123");
    rt("1.5e300", "1.5e+300");
    rt("100.0", "100.0");
    rt("2.5e-5", "2.5e-05");
    rt("9007199254740993", "9007199254740993");
    rt("18446744073709551615", "18446744073709551615");
    rt("-9223372036854775808", "-9223372036854775808");
    rt("9223372036854775807", "9223372036854775807");
    rt("true", "true");
    rt("null", "null");
    rt("\"\\u0000a\\u001f\\u007f\\b\\f\\n\\r\\t\\/\\\"\\\\\"", "\"\\u0000a\\u001f\x7f\\b\\f\\n\\r\\t/\\\"\\\\\"");
    rt("\"\\ud83d\\ude00 \xc3\xa9 \xe2\x80\xa8\"", "\"\xf0\x9f\x98\x80 \xc3\xa9 \xe2\x80\xa8\"");
    rt("\"\\u00e9\\u4e2d\"", "\"\xc3\xa9\xe4\xb8\xad\"");
    rt("\"\\uFFFF\"", "\"\xef\xbf\xbf\"");
}

/* Reference escaping for test_json_string_positions: byte by byte. */
static size_t ref_escape(const unsigned char *s, size_t n, char *out)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                        : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (e) {
            memcpy(out + o, e, 2);
            o += 2;
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    return o;
}

/* MessagePack str header for n bytes (n < 256). */
static size_t mp_str_head(unsigned char *p, size_t n)
{
    if (n < 32) {
        p[0] = (unsigned char)(0xA0 | n);
        return 1;
    }
    p[0] = 0xD9;
    p[1] = (unsigned char)n;
    return 2;
}

static void test_json_string_positions(void)
{
    /* The writer scans strings 16 bytes at a time and copies short clean ones
     * whole, reading ahead inside the record: every length around those
     * steps, a special byte (or UTF-8 sequence) at every position, the
     * string as value or key, at the end of the record or not. */
    static const char *const specials[] = {"\"", "\\", "\n", "\x01", "\x1f", "\x7f", "/",
                                           "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    static const char *const bad[] = {"\xc3", "\xed\xa0\x80", "\xc0\x80", "\xf5\x80\x80\x80",
                                      "\xe2\x82", "\x80"};
    unsigned char str[128], mp[512];
    char want[1024];
    steparc_buf out = {0};
    int fails = 0;
    for (size_t len = 0; len <= 70; len++) {
        for (size_t sp = 0; sp < sizeof specials / sizeof *specials + sizeof bad / sizeof *bad; sp++) {
            int is_bad = sp >= sizeof specials / sizeof *specials;
            const char *x = is_bad ? bad[sp - sizeof specials / sizeof *specials] : specials[sp];
            size_t xl = strlen(x);
            for (size_t pos = 0; pos + xl <= len; pos++) {
                for (size_t i = 0; i < len; i++)
                    str[i] = (unsigned char)('a' + i % 26);
                memcpy(str + pos, x, xl);
                for (int shape = 0; shape < 3; shape++) {
                    /* 0: {"k": S}   1: {"k": S, "z": <40 bytes>}   2: {S: 1} */
                    size_t m = 0;
                    mp[m++] = shape == 1 ? 0x82 : 0x81;
                    if (shape != 2) {
                        mp[m++] = 0xA1;
                        mp[m++] = 'k';
                    }
                    m += mp_str_head(mp + m, len);
                    memcpy(mp + m, str, len);
                    m += len;
                    if (shape == 1) {
                        mp[m++] = 0xA1;
                        mp[m++] = 'z';
                        m += mp_str_head(mp + m, 40);
                        memset(mp + m, 'p', 40);
                        m += 40;
                    }
                    if (shape == 2)
                        mp[m++] = 0x01;
                    size_t w = 0;
                    want[w++] = '{';
                    if (shape != 2) {
                        memcpy(want + w, "\"k\":", 4);
                        w += 4;
                    }
                    w += ref_escape(str, len, want + w);
                    if (shape == 1) {
                        memcpy(want + w, ",\"z\":\"", 6);
                        w += 6;
                        memset(want + w, 'p', 40);
                        w += 40;
                        want[w++] = '"';
                    }
                    if (shape == 2) {
                        memcpy(want + w, ":1", 2);
                        w += 2;
                    }
                    want[w++] = '}';
                    /* appended after a prefix, which an error leaves alone */
                    out.len = 0;
                    CHECK(sa_buf_append(&out, "xy", 2) == 0);
                    int rc = steparc_msgpack_to_json(&out, mp, m, STEPARC_JSON_APPEND);
                    int ok = is_bad ? rc == STEPARC_E_CORRUPT && out.len == 2
                                    : rc == 0 && out.len == 2 + w && memcmp(out.data + 2, want, w) == 0;
                    if (!ok && fails++ < 5)
                        fprintf(stderr, "  len %zu special %zu at %zu shape %d: rc %d\n", len, sp, pos,
                                shape, rc);
                }
            }
        }
    }
    /* two of them, at every pair of positions: the escapes of one 16-byte
     * chunk are handled one after the other */
    static const size_t lens2[] = {17, 32, 33, 48, 64};
    for (size_t li = 0; li < sizeof lens2 / sizeof *lens2; li++) {
        size_t len = lens2[li];
        for (size_t a = 0; a < len; a++) {
            for (size_t b = a + 1; b < len; b++) {
                for (size_t i = 0; i < len; i++)
                    str[i] = (unsigned char)('A' + i % 26);
                const char *xa = specials[(a + b) % 5], *xb = specials[(a * 3 + b) % 10];
                size_t la = strlen(xa), lb = strlen(xb);
                if (a + la > b || b + lb > len)
                    continue;
                memcpy(str + a, xa, la);
                memcpy(str + b, xb, lb);
                size_t m = 0;
                mp[m++] = 0x82;
                m += mp_str_head(mp + m, len);
                memcpy(mp + m, str, len);
                m += len;
                mp[m++] = 0xC0;
                mp[m++] = 0xA1;
                mp[m++] = 'z';
                m += mp_str_head(mp + m, 40);
                memset(mp + m, 'p', 40);
                m += 40;
                size_t w = 0;
                want[w++] = '{';
                w += ref_escape(str, len, want + w);
                memcpy(want + w, ":null,\"z\":\"", 11);
                w += 11;
                memset(want + w, 'p', 40);
                w += 40;
                memcpy(want + w, "\"}", 2);
                w += 2;
                out.len = 0;
                int rc = steparc_msgpack_to_json(&out, mp, m, 0);
                if ((rc != 0 || out.len != w || memcmp(out.data, want, w) != 0) && fails++ < 5)
                    fprintf(stderr, "  len %zu specials at %zu and %zu: rc %d\n", len, a, b, rc);
            }
        }
    }
    CHECK_EQ_INT(fails, 0);
    steparc_buf_free(&out);
}

static void test_json_pretty(void)
{
    const char *in = "{\"a\":[1,{\"b\":null}],\"c\":{},\"d\":[]}";
    steparc_buf mp = {0}, js = {0};
    CHECK_EQ_INT(steparc_json_to_msgpack(&mp, in, strlen(in), 0, NULL), 0);
    CHECK_EQ_INT(steparc_msgpack_to_json(&js, mp.data, mp.len, STEPARC_JSON_PRETTY), 0);
    const char *want = "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}";
    CHECK(js.len == strlen(want) && memcmp(js.data, want, js.len) == 0);
    steparc_buf_free(&mp);
    steparc_buf_free(&js);
}

/* Expects a parse failure with this reason at this line:column. */
static void bad(const char *in, int status, size_t line, size_t col, const char *reason)
{
    steparc_buf mp = {0};
    steparc_json_error e;
    memset(&e, 0, sizeof e);
    int rc = steparc_json_to_msgpack(&mp, in, strlen(in), STEPARC_JSON_REQUIRE_OBJECT, &e);
    CHECK_EQ_INT(rc, status);
    CHECK_EQ_INT(e.line, line);
    CHECK_EQ_INT(e.column, col);
    CHECK(strstr(e.reason, reason) != NULL);
    if (strstr(e.reason, reason) == NULL)
        fprintf(stderr, "  for %s: reason \"%s\"\n", in, e.reason);
    CHECK_EQ_INT(mp.len, 0);
    steparc_buf_free(&mp);
}

static void test_json_errors(void)
{
    bad("{\"a\":1,\"a\":2}", STEPARC_E_INPUT, 1, 1, "duplicate key \"a\"");
    bad("{\"a\":18446744073709551616}", STEPARC_E_INPUT, 1, 6, "does not fit in 64 bits");
    bad("{\"a\":-9223372036854775809}", STEPARC_E_INPUT, 1, 6, "does not fit in 64 bits");
    bad("{\"a\":\"\\ud800\"}", STEPARC_E_INPUT, 1, 7, "lone UTF-16 surrogate");
    bad("{\"a\":\"\\udc00x\"}", STEPARC_E_INPUT, 1, 7, "lone UTF-16 surrogate");
    bad("{\"a\":1e400}", STEPARC_E_INPUT, 1, 6, "beyond the range of a double");
    bad("{\"a\":NaN}", STEPARC_E_INPUT, 1, 6, "NaN and Infinity");
    bad("{\"a\":01}", STEPARC_E_INPUT, 1, 6, "leading zero");
    bad("{\"a\":1.}", STEPARC_E_INPUT, 1, 6, "digit expected after decimal point");
    bad("{\"a\":1,}", STEPARC_E_INPUT, 1, 8, "object key (a string) expected");
    bad("{\n  \"a\": [1,\n 2,,3]}", STEPARC_E_INPUT, 3, 4, "value expected");
    bad("{\"a\":\"x\ny\"}", STEPARC_E_INPUT, 1, 8, "unescaped control character");
    bad("{\"a\":\"\xff\"}", STEPARC_E_INPUT, 1, 7, "invalid UTF-8");
    bad("{\"a\":\"\xc0\xaf\"}", STEPARC_E_INPUT, 1, 7, "invalid UTF-8");
    bad("{\"a\":\"\xed\xa0\x80\"}", STEPARC_E_INPUT, 1, 7, "invalid UTF-8");
    /* in a run of non-ASCII characters the column is the first bad byte's */
    bad("{\"a\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\xe8\xaa\x9e\"}", STEPARC_E_INPUT, 1, 13, "invalid UTF-8");
    bad("{\"a\":\"0123456789abcdefghij\\n\xc3\xa9\xc3\"}", STEPARC_E_INPUT, 1, 31, "invalid UTF-8");
    bad("{\"a\":\"\xc3\xa9\xc3" "A\"}", STEPARC_E_INPUT, 1, 9, "invalid UTF-8");
    bad("{\"a\":\"\\x\"}", STEPARC_E_INPUT, 1, 7, "invalid escape");
    bad("{\"a\":tru}", STEPARC_E_INPUT, 1, 6, "invalid literal");
    bad("{\"a\":1", STEPARC_E_INPUT, 1, 7, "unterminated object");
    bad("{\"a\":1} x", STEPARC_E_INPUT, 1, 9, "unexpected text after");
    bad("[1]", STEPARC_E_INPUT, 1, 1, "a JSON object was expected");
    /* nesting limit */
    char deep[200];
    size_t k = 0;
    deep[k++] = '{';
    deep[k++] = '"';
    deep[k++] = 'a';
    deep[k++] = '"';
    deep[k++] = ':';
    for (int i = 0; i < 70; i++)
        deep[k++] = '[';
    deep[k] = 0;
    bad(deep, STEPARC_E_LIMIT, 1, 69, "nesting deeper than 64");
    /* 64 levels is fine */
    char ok[300];
    k = 0;
    for (int i = 0; i < 64; i++)
        ok[k++] = '[';
    for (int i = 0; i < 64; i++)
        ok[k++] = ']';
    steparc_buf mp = {0};
    CHECK_EQ_INT(steparc_json_to_msgpack(&mp, ok, k, 0, NULL), 0);
    CHECK_EQ_INT(sa_mp_validate(mp.data, mp.len, NULL, 0), STEPARC_E_INPUT); /* not a map */
    steparc_buf_free(&mp);
}

static void test_duplicate_keys_many(void)
{
    /* the sorted path (more than 16 keys) finds a duplicate anywhere */
    char buf[4096];
    size_t k = 0;
    buf[k++] = '{';
    for (int i = 0; i < 100; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s\"k%d\":%d", i ? "," : "", i == 77 ? 3 : i, i);
    buf[k++] = '}';
    steparc_buf mp = {0};
    steparc_json_error e;
    CHECK_EQ_INT(steparc_json_to_msgpack(&mp, buf, k, 0, &e), STEPARC_E_INPUT);
    CHECK(strstr(e.reason, "duplicate key \"k3\"") != NULL);
    buf[k - 1] = ',';
    k--;
    k = 0;
    buf[k++] = '{';
    for (int i = 0; i < 100; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s\"k%d\":%d", i ? "," : "", i, i);
    buf[k++] = '}';
    CHECK_EQ_INT(steparc_json_to_msgpack(&mp, buf, k, 0, &e), 0);
    CHECK_EQ_INT(sa_mp_validate(mp.data, mp.len, NULL, 0), 0);
    steparc_buf_free(&mp);
}

static void test_msgpack_encoding_minimal(void)
{
    /* the transcoder uses the smallest MessagePack forms, like msgpack-c */
    struct {
        const char *json;
        const char *hex;
    } cases[] = {
        {"{\"a\":0}", "81a16100"},
        {"{\"a\":-32}", "81a161e0"},
        {"{\"a\":-33}", "81a161d0df"},
        {"{\"a\":127}", "81a1617f"},
        {"{\"a\":128}", "81a161cc80"},
        {"{\"a\":65536}", "81a161ce00010000"},
        {"{\"a\":1.0}", "81a161cb3ff0000000000000"},
        {"{\"a\":\"\"}", "81a161a0"},
        {"{\"a\":[]}", "81a16190"},
        {"{\"a\":null,\"b\":true,\"c\":false}", "83a161c0a162c3a163c2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        steparc_buf mp = {0};
        CHECK_EQ_INT(steparc_json_to_msgpack(&mp, cases[i].json, strlen(cases[i].json), 0, NULL), 0);
        char hex[128] = "";
        for (size_t j = 0; j < mp.len && j < 60; j++)
            snprintf(hex + 2 * j, 3, "%02x", (unsigned char)mp.data[j]);
        CHECK_STR(hex, cases[i].hex);
        steparc_buf_free(&mp);
    }
    /* long string and many keys use 16-bit headers */
    char big[70000];
    big[0] = '"';
    memset(big + 1, 'x', 65535);
    big[65536] = '"';
    steparc_buf mp = {0};
    CHECK_EQ_INT(steparc_json_to_msgpack(&mp, big, 65537, 0, NULL), 0);
    CHECK((unsigned char)mp.data[0] == 0xDA && mp.len == 65538);
    steparc_buf_free(&mp);
}

static void test_validate(void)
{
    /* bin, ext, non-string keys, bad UTF-8, trailing bytes, NaN */
    const unsigned char bin[] = {0x81, 0xa1, 'a', 0xc4, 0x01, 0x00};
    const unsigned char intkey[] = {0x81, 0x01, 0x02};
    const unsigned char badutf[] = {0x81, 0xa1, 'a', 0xa1, 0xff};
    const unsigned char trailing[] = {0x80, 0x00};
    const unsigned char nan[] = {0x81, 0xa1, 'a', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    const unsigned char dup[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02};
    const unsigned char bigcount[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    const unsigned char f32[] = {0x81, 0xa1, 'a', 0xca, 0x3f, 0xc0, 0, 0};
    char why[160];
    CHECK_EQ_INT(sa_mp_validate(bin, sizeof bin, why, sizeof why), STEPARC_E_INPUT);
    CHECK_EQ_INT(sa_mp_validate(intkey, sizeof intkey, why, sizeof why), STEPARC_E_INPUT);
    CHECK_EQ_INT(sa_mp_validate(badutf, sizeof badutf, why, sizeof why), STEPARC_E_INPUT);
    CHECK_EQ_INT(sa_mp_validate(trailing, sizeof trailing, why, sizeof why), STEPARC_E_INPUT);
    CHECK_EQ_INT(sa_mp_validate(nan, sizeof nan, why, sizeof why), STEPARC_E_INPUT);
    CHECK_EQ_INT(sa_mp_validate(dup, sizeof dup, why, sizeof why), STEPARC_E_INPUT);
    CHECK_EQ_INT(sa_mp_validate(bigcount, sizeof bigcount, why, sizeof why), STEPARC_E_INPUT);
    CHECK_EQ_INT(sa_mp_validate(f32, sizeof f32, why, sizeof why), 0);
    steparc_buf js = {0};
    CHECK_EQ_INT(steparc_msgpack_to_json(&js, f32, sizeof f32, 0), 0);
    CHECK(js.len == 9 && memcmp(js.data, "{\"a\":1.5}", 9) == 0);
    CHECK_EQ_INT(steparc_msgpack_to_json(&js, badutf, sizeof badutf, 0), STEPARC_E_CORRUPT);
    CHECK_EQ_INT(steparc_msgpack_to_json(&js, bin, sizeof bin, 0), STEPARC_E_CORRUPT);
    CHECK_EQ_INT(steparc_msgpack_to_json(&js, bigcount, sizeof bigcount, 0), STEPARC_E_CORRUPT);
    /* truncation at every length is refused, never read past the end */
    const char *rec = "{\"id\":\"step_1\",\"x\":[1,2.5,\"abc\",{\"y\":null}]}";
    steparc_buf mp = {0};
    CHECK_EQ_INT(steparc_json_to_msgpack(&mp, rec, strlen(rec), 0, NULL), 0);
    for (size_t n = 0; n < mp.len; n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, mp.data, n);
        CHECK(sa_mp_validate(copy, n, NULL, 0) != 0);
        CHECK(steparc_msgpack_to_json(&js, copy, n, 0) != 0);
        free(copy);
    }
    steparc_buf_free(&mp);
    steparc_buf_free(&js);
}

static void test_double_property(void)
{
    /* every double's text reads back to the same bits; integers-valued floats
     * keep ".0"; checked on random bit patterns */
    uint64_t seed = h_seed();
    h_rng_state = seed;
    char txt[40];
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = h_rand();
        double d;
        memcpy(&d, &bits, 8);
        if (d != d || d - d != 0.0)
            continue;
        size_t n = sa_format_double(d, txt);
        txt[n] = 0;
        double back = sa_strtod(txt, NULL);
        uint64_t bb;
        memcpy(&bb, &back, 8);
        if (bb != bits && bad++ < 5)
            fprintf(stderr, "  seed %" PRIu64 ": %016" PRIx64 " printed %s reads back %016" PRIx64 "\n",
                    seed, bits, txt, bb);
        /* at most 17 significant digits (leading and trailing zeros aside) */
        char dig[40];
        int nd = 0;
        for (char *p = txt; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9' && (nd > 0 || *p != '0'))
                dig[nd++] = *p;
        while (nd > 0 && dig[nd - 1] == '0')
            nd--;
        CHECK(nd <= 17);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_keyfields(void)
{
    const char *rec = "{\"id\":\"step_1\",\"object\":\"thread.run.step\",\"created_at\":-5,"
                      "\"run_id\":\"run_1\",\"thread_id\":7,\"step_details\":{\"id\":\"no\"},"
                      "\"assistant_id\":\"asst_1\",\"status\":\"completed\"}";
    steparc_buf mp = {0};
    CHECK_EQ_INT(steparc_json_to_msgpack(&mp, rec, strlen(rec), 0, NULL), 0);
    sa_keyfields kf;
    CHECK_EQ_INT(sa_mp_keyfields(mp.data, mp.len, &kf), 0);
    CHECK(kf.id.len == 6 && memcmp(kf.id.ptr, "step_1", 6) == 0);
    CHECK(kf.has_created_at && kf.created_at == -5);
    CHECK(kf.run_id.len == 5 && kf.thread_id.ptr == NULL);
    CHECK(kf.assistant_id.len == 6 && kf.status.len == 9);
    steparc_buf_free(&mp);
}


static void test_decimal_fast_property(void)
{
    /* Clinger's fast path gives strtod's bits whenever it answers, and it
     * answers for the usual JSON doubles (scores, ratios) */
    uint64_t seed = h_seed() ^ 0xDEC;
    h_rng_state = seed;
    printf("# test_decimal_fast_property seed %" PRIu64 "\n", seed);
    char txt[80];
    int bad = 0, hits = 0, total = 0;
    for (int i = 0; i < 300000; i++) {
        int nd = 1 + (int)(h_rand() % 20);
        size_t k = 0;
        if (h_rand() % 3 == 0)
            txt[k++] = '-';
        int point = (int)(h_rand() % (uint64_t)(nd + 1)); /* digits before '.' */
        if (point == 0)
            txt[k++] = '0';
        for (int d = 0; d < nd; d++) {
            if (d == point && point > 0)
                txt[k++] = '.';
            if (d == 0 && point > 0)
                txt[k++] = (char)('1' + h_rand() % 9);
            else
                txt[k++] = (char)('0' + h_rand() % 10);
            if (point == 0 && d == 0) {
                /* "0.ddd": move the first digit after the point */
                txt[k] = txt[k - 1];
                txt[k - 1] = '.';
                k++;
            }
        }
        if (h_rand() % 4 == 0)
            k += (size_t)snprintf(txt + k, sizeof txt - k, "e%d", (int)(h_rand() % 61) - 30);
        txt[k] = 0;
        double fast, slow = sa_strtod(txt, NULL);
        total++;
        if (!sa_decimal_fast((const unsigned char *)txt, k, &fast))
            continue;
        hits++;
        uint64_t a, b;
        memcpy(&a, &fast, 8);
        memcpy(&b, &slow, 8);
        if (a != b && bad++ < 5)
            fprintf(stderr, "  seed %" PRIu64 ": %s fast %016" PRIx64 " strtod %016" PRIx64 "\n", seed,
                    txt, a, b);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(hits > total / 3);
    /* edges: signed zeros, 2^53, exponent +-22, and what must go to strtod */
    static const struct { const char *t; int fast; } v[] = {
        {"-0.0", 1}, {"0.0", 1}, {"-0e0", 1}, {"9007199254740992.0", 1}, {"9007199254740993.0", 0},
        {"1e22", 1}, {"1e23", 0}, {"1.5e-21", 1}, {"1.5e-22", 0}, {"1e-23", 0}, {"2.50", 1}, {"0.7051032442882943", 1},
        {"0.45123456789012345", 0}, {"12345678901234567890.0", 0}, {"5e-324", 0},
        {"1.7976931348623157e308", 0}, {"100E-2", 1}, {"0.1e1", 1},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        double fast, slow = sa_strtod(v[i].t, NULL);
        int r = sa_decimal_fast((const unsigned char *)v[i].t, strlen(v[i].t), &fast);
        CHECK_EQ_INT(r, v[i].fast);
        if (r)
            CHECK(memcmp(&fast, &slow, 8) == 0);
    }
}

static void test_duplicate_keys_filter(void)
{
    /* objects of 2..64 keys (the filtered path), a repeat at random places:
     * found and named; none reported when all keys differ */
    uint64_t seed = h_seed() ^ 0xD0B;
    h_rng_state = seed;
    printf("# test_duplicate_keys_filter seed %" PRIu64 "\n", seed);
    char buf[8192];
    steparc_buf mp = {0};
    for (int t = 0; t < 3000; t++) {
        int n = 2 + (int)(h_rand() % 63);
        int dup = (int)(h_rand() % 2), i1 = (int)(h_rand() % (uint64_t)n), i0 = (int)(h_rand() % (uint64_t)n);
        if (i0 == i1)
            dup = 0;
        size_t k = 0;
        buf[k++] = '{';
        char want[32] = "";
        for (int i = 0; i < n; i++) {
            /* short keys of one length: many share the filter's bit */
            int id = (dup && i == (i0 > i1 ? i0 : i1)) ? (i0 < i1 ? i0 : i1) : i;
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s\"k%02d\":%d", i ? "," : "", id, i);
            if (dup && i == (i0 > i1 ? i0 : i1))
                snprintf(want, sizeof want, "duplicate key \"k%02d\"", id);
        }
        buf[k++] = '}';
        steparc_json_error e;
        int rc = steparc_json_to_msgpack(&mp, buf, k, 0, &e);
        if (dup) {
            CHECK_EQ_INT(rc, STEPARC_E_INPUT);
            if (rc == STEPARC_E_INPUT && strstr(e.reason, want) == NULL) {
                CHECK(0); /* wrong key named */
                fprintf(stderr, "  seed %" PRIu64 " case %d: %s / %s\n", seed, t, e.reason, want);
                break;
            }
        } else {
            CHECK_EQ_INT(rc, 0);
        }
    }
    steparc_buf_free(&mp);
}

int main(void)
{
    RUN(test_crc32c_vectors);
    RUN(test_layout_roundtrip);
    RUN(test_key32_vectors);
    RUN(test_rows_check);
    RUN(test_json_canonical);
    RUN(test_json_string_positions);
    RUN(test_json_pretty);
    RUN(test_json_errors);
    RUN(test_duplicate_keys_many);
    RUN(test_msgpack_encoding_minimal);
    RUN(test_validate);
    RUN(test_double_property);
    RUN(test_keyfields);
    RUN(test_decimal_fast_property);
    RUN(test_duplicate_keys_filter);
    return h_done();
}
