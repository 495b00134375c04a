/* test_value.c - format/value.c: the value-tree decoder (every MessagePack
 * type, limits, truncation, allocation failures) and the MessagePack writer
 * (the smallest form at every boundary, checked against the bytes and against
 * msgpack-c, the writer the library used before), and decode∘write = identity
 * on random canonical MessagePack. */
#include <math.h>
#include <msgpack.h>

#include "alloc_hook.h"
#include "harness.h"
#include "value.h"

/* ---- helpers ------------------------------------------------------------------ */

static int decode(steparc_value **v, sa_arena *a, const void *mp, size_t len)
{
    return sa_value_decode(v, a, mp, len);
}

/* Decodes hex-free byte strings: decode_bytes("\x91\xc0", 2). */
static int decode_rc(const char *mp, size_t len)
{
    sa_arena a = {0};
    steparc_value *v = NULL;
    int rc = decode(&v, &a, mp, len);
    sa_arena_free(&a);
    return rc;
}

static int buf_is(const steparc_buf *b, const char *want, size_t n)
{
    return b->len == n && memcmp(b->data, want, n) == 0;
}

static int sbuf_sink(void *data, const char *p, size_t n)
{
    return msgpack_sbuffer_write((msgpack_sbuffer *)data, p, n);
}

/* ---- decoder ------------------------------------------------------------------ */

static void test_decode_scalars(void)
{
    static const struct {
        const char *mp;
        size_t len;
        steparc_vtype type;
        int64_t i;
        uint64_t u;
        double f;
    } c[] = {
        {"\xc0", 1, STEPARC_V_NULL, 0, 0, 0},
        {"\xc2", 1, STEPARC_V_BOOL, 0, 0, 0},
        {"\xc3", 1, STEPARC_V_BOOL, 1, 0, 0},
        {"\x00", 1, STEPARC_V_INT, 0, 0, 0},
        {"\x7f", 1, STEPARC_V_INT, 127, 0, 0},
        {"\xcc\x80", 2, STEPARC_V_INT, 128, 0, 0},
        {"\xcc\x05", 2, STEPARC_V_INT, 5, 0, 0}, /* not the smallest form: still read */
        {"\xcd\x01\x00", 3, STEPARC_V_INT, 256, 0, 0},
        {"\xce\x00\x01\x00\x00", 5, STEPARC_V_INT, 65536, 0, 0},
        {"\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9, STEPARC_V_INT, INT64_MAX, 0, 0},
        {"\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9, STEPARC_V_UINT, 0, UINT64_C(1) << 63, 0},
        {"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, STEPARC_V_UINT, 0, UINT64_MAX, 0},
        {"\xff", 1, STEPARC_V_INT, -1, 0, 0},
        {"\xe0", 1, STEPARC_V_INT, -32, 0, 0},
        {"\xd0\xdf", 2, STEPARC_V_INT, -33, 0, 0},
        {"\xd1\xff\x7f", 3, STEPARC_V_INT, -129, 0, 0},
        {"\xd2\xff\xff\x7f\xff", 5, STEPARC_V_INT, -32769, 0, 0},
        {"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, STEPARC_V_INT, INT64_MIN, 0, 0},
        {"\xca\x3f\xc0\x00\x00", 5, STEPARC_V_FLOAT, 0, 0, 1.5},
        {"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9, STEPARC_V_FLOAT, 0, 0, 1.5},
        {"\xcb\x80\x00\x00\x00\x00\x00\x00\x00", 9, STEPARC_V_FLOAT, 0, 0, -0.0},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        sa_arena a = {0};
        steparc_value *v = NULL;
        int rc = decode(&v, &a, c[k].mp, c[k].len);
        CHECK_EQ_INT(rc, 0);
        if (rc == 0) {
            CHECK_EQ_INT(v->type, c[k].type);
            if (c[k].type == STEPARC_V_BOOL)
                CHECK_EQ_INT(v->v.b, c[k].i);
            if (c[k].type == STEPARC_V_INT)
                CHECK(v->v.i == c[k].i);
            if (c[k].type == STEPARC_V_UINT)
                CHECK(v->v.u == c[k].u);
            if (c[k].type == STEPARC_V_FLOAT)
                CHECK(memcmp(&v->v.f, &c[k].f, sizeof(double)) == 0);
        }
        sa_arena_free(&a);
    }
}

static void test_decode_strings_and_containers(void)
{
    /* every str header, an array and a map of every header size */
    size_t lens[] = {0, 31, 32, 255, 256, 65535, 65536};
    unsigned char hdr[][2] = {{0xA0, 1}, {0xA0, 1}, {0xD9, 2}, {0xD9, 2}, {0xDA, 3}, {0xDA, 3}, {0xDB, 5}};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        steparc_buf b = {0};
        unsigned char h[5];
        size_t hl = sa_mp_put_strhdr(h, lens[k]);
        CHECK_EQ_INT(hl, hdr[k][1]);
        CHECK_EQ_INT(h[0] & (hdr[k][0] == 0xA0 ? 0xE0 : 0xFF), hdr[k][0]);
        sa_buf_append(&b, h, hl);
        for (size_t i = 0; i < lens[k]; i++)
            sa_buf_append(&b, "x", 1);
        sa_arena a = {0};
        steparc_value *v = NULL;
        CHECK_EQ_INT(decode(&v, &a, b.data, b.len), 0);
        if (v) {
            CHECK_EQ_INT(v->type, STEPARC_V_STRING);
            CHECK_EQ_INT(v->v.s.len, lens[k]);
            CHECK(v->v.s.ptr != b.data + hl); /* a copy in the arena */
        }
        sa_arena_free(&a);
        steparc_buf_free(&b);
    }
    /* array16 and array32 headers, map16 and map32 headers (read, never written) */
    static const char arr16[] = "\xdc\x00\x02\xc0\xc3";
    static const char arr32[] = "\xdd\x00\x00\x00\x01\x05";
    static const char map16[] = "\xde\x00\x01\xa1k\xc0";
    static const char map32[] = "\xdf\x00\x00\x00\x02\xa1" "a\x01\xa1" "b\xa0";
    CHECK_EQ_INT(decode_rc(arr16, 5), 0);
    CHECK_EQ_INT(decode_rc(arr32, 6), 0);
    CHECK_EQ_INT(decode_rc(map16, 6), 0);
    CHECK_EQ_INT(decode_rc(map32, 11), 0);
    sa_arena a = {0};
    steparc_value *v = NULL;
    CHECK_EQ_INT(decode(&v, &a, map32, 11), 0);
    if (v) {
        CHECK_EQ_INT(v->type, STEPARC_V_OBJECT);
        CHECK_EQ_INT(v->v.object.count, 2);
        const steparc_value *b = sa_value_get(v, "b");
        CHECK(b && b->type == STEPARC_V_STRING && b->v.s.len == 0);
        const steparc_value *x = sa_value_get(v, "a");
        CHECK(x && x->type == STEPARC_V_INT && x->v.i == 1);
        CHECK(sa_value_get(v, "c") == NULL);
        CHECK(sa_value_get(v, "") == NULL);
        CHECK(sa_value_get(NULL, "a") == NULL);
        CHECK(sa_value_get(x, "a") == NULL); /* not an object */
    }
    sa_arena_free(&a);
}

static void test_decode_refused(void)
{
    static const struct {
        const char *mp;
        size_t len;
        int rc;
    } c[] = {
        {"", 0, STEPARC_E_INPUT},
        {"\xc1", 1, STEPARC_E_INPUT},                 /* reserved */
        {"\xc4\x01x", 3, STEPARC_E_INPUT},            /* bin8 */
        {"\xc5\x00\x01x", 4, STEPARC_E_INPUT},        /* bin16 */
        {"\xc6\x00\x00\x00\x01x", 6, STEPARC_E_INPUT},/* bin32 */
        {"\xc7\x01\x01x", 4, STEPARC_E_INPUT},        /* ext8 */
        {"\xd4\x01x", 3, STEPARC_E_INPUT},            /* fixext1 */
        {"\xd8\x01xxxxxxxxxxxxxxxx", 18, STEPARC_E_INPUT}, /* fixext16 */
        {"\xc0\xc0", 2, STEPARC_E_INPUT},             /* trailing bytes */
        {"\x81\x01\xc0", 3, STEPARC_E_INPUT},         /* a key that is not a str */
        {"\x81\xc0\xc0", 3, STEPARC_E_INPUT},
        {"\xa1\xff", 2, STEPARC_E_INPUT},             /* invalid UTF-8 */
        {"\xa2\xc0\x80", 3, STEPARC_E_INPUT},         /* overlong */
        {"\xa3\xed\xa0\x80", 4, STEPARC_E_INPUT},     /* a surrogate */
        {"\x81\xa1\xff\xc0", 4, STEPARC_E_INPUT},     /* invalid UTF-8 key */
        {"\x91\xa1\x80", 3, STEPARC_E_INPUT},
        {"\xdd\x00\x01\x00\x00", 5, STEPARC_E_INPUT}, /* more items than bytes */
        {"\xdf\xff\xff\xff\xff", 5, STEPARC_E_INPUT},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        int rc = decode_rc(c[k].mp, c[k].len);
        if (rc != c[k].rc)
            fprintf(stderr, "  case %zu: status %d, expected %d\n", k, rc, c[k].rc);
        CHECK_EQ_INT(rc, c[k].rc);
    }
    /* U+0000 and the largest code point are valid */
    CHECK_EQ_INT(decode_rc("\xa1\x00", 2), 0);
    CHECK_EQ_INT(decode_rc("\xa4\xf4\x8f\xbf\xbf", 5), 0);
}

static void test_decode_limits(void)
{
    /* depth: the root is depth 0, a value at depth STEPARC_MAX_DEPTH is the
     * deepest allowed */
    for (int extra = 0; extra <= 1; extra++) {
        steparc_buf b = {0};
        int n = STEPARC_MAX_DEPTH + extra;
        for (int i = 0; i < n; i++)
            sa_buf_append(&b, "\x91", 1);
        sa_buf_append(&b, "\xc0", 1); /* at depth n */
        CHECK_EQ_INT(decode_rc(b.data, b.len), extra ? STEPARC_E_LIMIT : 0);
        /* maps too */
        b.len = 0;
        for (int i = 0; i < n; i++)
            sa_buf_append(&b, "\x81\xa1k", 3);
        sa_buf_append(&b, "\xc0", 1);
        CHECK_EQ_INT(decode_rc(b.data, b.len), extra ? STEPARC_E_LIMIT : 0);
        /* an empty array at depth n has nothing deeper */
        b.len = 0;
        for (int i = 0; i <= n; i++)
            sa_buf_append(&b, "\x91", 1);
        b.data[b.len - 1] = (char)0x90;
        CHECK_EQ_INT(decode_rc(b.data, b.len), extra ? STEPARC_E_LIMIT : 0);
        steparc_buf_free(&b);
    }
    /* counts: STEPARC_MAX_KEYS items and pairs are allowed */
    steparc_buf b = {0};
    sa_mpw_array(&b, STEPARC_MAX_KEYS);
    for (int i = 0; i < STEPARC_MAX_KEYS; i++)
        sa_mpw_nil(&b);
    CHECK_EQ_INT(decode_rc(b.data, b.len), 0);
    b.len = 0;
    sa_mpw_map(&b, STEPARC_MAX_KEYS);
    for (int i = 0; i < STEPARC_MAX_KEYS; i++) {
        char k[8];
        int kl = snprintf(k, sizeof k, "%d", i);
        sa_mpw_str(&b, k, (size_t)kl);
        sa_mpw_int(&b, i);
    }
    CHECK_EQ_INT(decode_rc(b.data, b.len), 0);
    /* one more is STEPARC_E_LIMIT (with the bytes there: fewer are truncation) */
    b.len = 0;
    sa_mpw_array(&b, STEPARC_MAX_KEYS + 1);
    for (int i = 0; i <= STEPARC_MAX_KEYS; i++)
        sa_mpw_nil(&b);
    CHECK_EQ_INT(decode_rc(b.data, b.len), STEPARC_E_LIMIT);
    b.len = 0;
    sa_mpw_map(&b, STEPARC_MAX_KEYS + 1);
    for (int i = 0; i <= STEPARC_MAX_KEYS; i++)
        sa_mpw_str(&b, "", 0), sa_mpw_nil(&b);
    CHECK_EQ_INT(decode_rc(b.data, b.len), STEPARC_E_LIMIT);
    steparc_buf_free(&b);
}

/* A value with every type and header size, for the truncation and
 * allocation tests (about 80 KB: several arena chunks). */
static void rich_value(steparc_buf *b)
{
    b->len = 0;
    sa_mpw_map(b, 7);
    sa_mpw_str(b, "scalars", 7);
    sa_mpw_array(b, 12);
    sa_mpw_nil(b);
    sa_mpw_bool(b, 1);
    sa_mpw_int(b, 5);
    sa_mpw_int(b, 300);
    sa_mpw_int(b, -20000);
    sa_mpw_int(b, INT64_MIN);
    sa_mpw_uint(b, UINT64_MAX);
    sa_mpw_double(b, 2.25);
    sa_mpw_raw(b, "\xca\x3f\xc0\x00\x00", 5);
    sa_mpw_str(b, "h\xc3\xa9", 3);
    sa_mpw_int(b, 70000);
    sa_mpw_int(b, 5000000000);
    sa_mpw_str(b, "str8", 4);
    char s8[200];
    memset(s8, 'z', sizeof s8);
    sa_mpw_str(b, s8, sizeof s8);
    sa_mpw_str(b, "big", 3);
    sa_mpw_array(b, 300);
    for (int i = 0; i < 300; i++) {
        sa_mpw_map(b, 2);
        sa_mpw_str(b, "i", 1);
        sa_mpw_int(b, i);
        sa_mpw_str(b, "s", 1);
        sa_mpw_str(b, "a string of some length, to fill the chunks", 43);
    }
    sa_mpw_str(b, "long", 4);
    steparc_buf s = {0};
    for (int i = 0; i < 70000; i++)
        sa_buf_append(&s, i % 100 == 0 ? "\xe2\x82\xac" : "y", i % 100 == 0 ? 3 : 1);
    sa_mpw_str(b, s.data, s.len);
    steparc_buf_free(&s);
    sa_mpw_str(b, "empty", 5);
    sa_mpw_map(b, 0);
    sa_mpw_str(b, "e2", 2);
    sa_mpw_array(b, 0);
    sa_mpw_str(b, "deep", 4);
    for (int i = 0; i < 20; i++)
        sa_mpw_array(b, 1);
    sa_mpw_str(b, "", 0);
}

static void test_decode_truncated(void)
{
    steparc_buf b = {0};
    rich_value(&b);
    CHECK_EQ_INT(decode_rc(b.data, b.len), 0);
    /* every prefix (in the long string: every 997th, it has no structure) */
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i + 5 < b.len; i++)
        if (memcmp(b.data + i, "\xdb\x00\x01", 3) == 0) {
            lo = i + 5;
            hi = lo + 70000 + 700 * 2;
            break;
        }
    CHECK(lo != 0);
    size_t tried = 0;
    for (size_t n = 0; n < b.len; n += (n > lo && n < hi) ? 997 : 1) {
        int rc = decode_rc(b.data, n);
        if (rc != STEPARC_E_INPUT && h_fail_count < 3)
            fprintf(stderr, "  prefix %zu of %zu: status %d\n", n, b.len, rc);
        CHECK_EQ_INT(rc, STEPARC_E_INPUT);
        tried++;
    }
    printf("# %zu prefixes of a %zu-byte value refused\n", tried, b.len);
    steparc_buf_free(&b);
}

static void test_decode_copies(void)
{
    char mp[] = "\x82\xa1k\xa3v\xc3\xa9\xa2k2\x92\x01\xa1x";
    size_t len = sizeof mp - 1;
    sa_arena a = {0};
    steparc_value *v = NULL;
    CHECK_EQ_INT(decode(&v, &a, mp, len), 0);
    memset(mp, 0, sizeof mp); /* the tree does not point into the input */
    if (v) {
        const steparc_value *k = sa_value_get(v, "k");
        CHECK(k && k->type == STEPARC_V_STRING && k->v.s.len == 3 && memcmp(k->v.s.ptr, "v\xc3\xa9", 3) == 0);
        const steparc_value *k2 = sa_value_get(v, "k2");
        CHECK(k2 && k2->type == STEPARC_V_ARRAY && k2->v.array.count == 2);
        /* add members: the old ones move, the new one is null */
        steparc_str key = {"n", 1};
        steparc_value *nv = sa_value_add_member(&a, v, key);
        CHECK(nv && nv->type == STEPARC_V_NULL);
        CHECK_EQ_INT(v->v.object.count, 3);
        CHECK(sa_value_get(v, "n") == nv);
        k = sa_value_get(v, "k");
        CHECK(k && k->v.s.len == 3);
        steparc_buf out = {0};
        CHECK_EQ_INT(sa_mpw_value(&out, v, 0), 0);
        CHECK(buf_is(&out, "\x83\xa1k\xa3v\xc3\xa9\xa2k2\x92\x01\xa1x\xa1n\xc0", 17));
        steparc_buf_free(&out);
    }
    sa_arena_free(&a);
    sa_arena_free(&a); /* freeing an empty arena is fine */
    /* an arena is reusable after a free, and an empty object takes members */
    steparc_value obj = {.type = STEPARC_V_OBJECT};
    steparc_str key = {"a", 1};
    CHECK(sa_value_add_member(&a, &obj, key) != NULL);
    CHECK_EQ_INT(obj.v.object.count, 1);
    CHECK(sa_arena_alloc(&a, 0) != NULL);
    void *p = sa_arena_alloc(&a, 3), *q = sa_arena_alloc(&a, 1);
    CHECK(p && q && ((uintptr_t)p % 16) == 0 && ((uintptr_t)q % 16) == 0);
    CHECK(sa_arena_alloc(&a, SIZE_MAX) == NULL);
    sa_arena_free(&a);
}

/* Fails every allocation in turn: STEPARC_E_NOMEM, nothing left behind. */
static void test_decode_oom(void)
{
    steparc_buf b = {0};
    rich_value(&b);
    size_t chunks[] = {0, 2048};
    for (size_t c = 0; c < 2; c++) {
        long live0 = atomic_load(&g_live), n;
        for (n = 1; n < 10000; n++) {
            sa_arena a = {0};
            a.chunk = chunks[c];
            steparc_value *v = NULL;
            arm_at(n);
            int rc = decode(&v, &a, b.data, b.len);
            steparc_value *m = NULL;
            if (rc == 0) {
                steparc_str key = {"added", 5};
                m = sa_value_add_member(&a, v, key);
                if (m == NULL)
                    rc = STEPARC_E_NOMEM;
            }
            disarm();
            int injected = atomic_load(&g_injected);
            sa_arena_free(&a);
            CHECK_EQ_INT(atomic_load(&g_live), live0);
            if (!injected) {
                CHECK_EQ_INT(rc, 0);
                break;
            }
            CHECK_EQ_INT(rc, STEPARC_E_NOMEM);
        }
        printf("# decode (chunk %zu): %ld allocation point(s)\n", chunks[c], n - 1);
        CHECK(n > 2);
    }
    /* the writer: a failing growth is STEPARC_E_NOMEM */
    sa_arena a = {0};
    steparc_value *v = NULL;
    CHECK_EQ_INT(decode(&v, &a, b.data, b.len), 0);
    steparc_buf ref = {0}; /* b but its float32 as float64 */
    CHECK(v && sa_mpw_value(&ref, v, 0) == 0 && ref.len == b.len + 4);
    long n;
    for (n = 1; n < 1000 && v; n++) {
        steparc_buf out = {0};
        arm_at(n);
        int rc = sa_mpw_value(&out, v, 0);
        disarm();
        int injected = atomic_load(&g_injected);
        if (rc == 0)
            CHECK(out.len == ref.len && memcmp(out.data, ref.data, ref.len) == 0);
        steparc_buf_free(&out);
        if (!injected) {
            CHECK_EQ_INT(rc, 0);
            break;
        }
        CHECK_EQ_INT(rc, STEPARC_E_NOMEM);
    }
    printf("# write: %ld allocation point(s)\n", n - 1);
    CHECK(n > 2);
    steparc_buf_free(&ref);
    sa_arena_free(&a);
    steparc_buf_free(&b);
}

/* ---- writer --------------------------------------------------------------------- */

/* b holds exactly the bytes msgpack-c's call writes (pack is that call). */
#define SAME_AS_MSGPACK_C(b, pack)                                               \
    do {                                                                         \
        msgpack_sbuffer sb;                                                      \
        msgpack_packer pk;                                                       \
        msgpack_sbuffer_init(&sb);                                               \
        msgpack_packer_init(&pk, &sb, sbuf_sink);                                \
        pack;                                                                    \
        CHECK(buf_is(&(b), sb.data, sb.size));                                   \
        msgpack_sbuffer_destroy(&sb);                                            \
    } while (0)

static void test_write_uint_boundaries(void)
{
    static const struct {
        uint64_t v;
        const char *mp;
        size_t len;
    } c[] = {
        {0, "\x00", 1},
        {0x7f, "\x7f", 1},
        {0x80, "\xcc\x80", 2},
        {0xff, "\xcc\xff", 2},
        {0x100, "\xcd\x01\x00", 3},
        {0xffff, "\xcd\xff\xff", 3},
        {0x10000, "\xce\x00\x01\x00\x00", 5},
        {0xffffffff, "\xce\xff\xff\xff\xff", 5},
        {UINT64_C(0x100000000), "\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9},
        {INT64_MAX, "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9},
        {UINT64_C(1) << 63, "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", 9},
        {UINT64_MAX, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        steparc_buf b = {0};
        CHECK_EQ_INT(sa_mpw_uint(&b, c[k].v), 0);
        CHECK(buf_is(&b, c[k].mp, c[k].len));
        SAME_AS_MSGPACK_C(b, msgpack_pack_uint64(&pk, c[k].v));
        if (c[k].v <= INT64_MAX) {
            b.len = 0;
            CHECK_EQ_INT(sa_mpw_int(&b, (int64_t)c[k].v), 0);
            CHECK(buf_is(&b, c[k].mp, c[k].len));
            SAME_AS_MSGPACK_C(b, msgpack_pack_int64(&pk, (int64_t)c[k].v));
        }
        steparc_buf_free(&b);
    }
}

static void test_write_int_boundaries(void)
{
    static const struct {
        int64_t v;
        const char *mp;
        size_t len;
    } c[] = {
        {-1, "\xff", 1},
        {-32, "\xe0", 1},
        {-33, "\xd0\xdf", 2},
        {-128, "\xd0\x80", 2},
        {-129, "\xd1\xff\x7f", 3},
        {-32768, "\xd1\x80\x00", 3},
        {-32769, "\xd2\xff\xff\x7f\xff", 5},
        {INT32_MIN, "\xd2\x80\x00\x00\x00", 5},
        {(int64_t)INT32_MIN - 1, "\xd3\xff\xff\xff\xff\x7f\xff\xff\xff", 9},
        {INT64_MIN, "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        steparc_buf b = {0};
        CHECK_EQ_INT(sa_mpw_int(&b, c[k].v), 0);
        CHECK(buf_is(&b, c[k].mp, c[k].len));
        SAME_AS_MSGPACK_C(b, msgpack_pack_int64(&pk, c[k].v));
        steparc_buf_free(&b);
    }
    /* every value near a boundary, against msgpack-c */
    int64_t edges[] = {0, 127, 255, 65535, 4294967295LL, -32, -128, -32768, INT32_MIN, INT64_MAX, INT64_MIN};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++)
        for (int d = -2; d <= 2; d++) {
            int64_t v = edges[k];
            if ((d < 0 && v < INT64_MIN - d) || (d > 0 && v > INT64_MAX - d))
                continue;
            v += d;
            steparc_buf b = {0};
            sa_mpw_int(&b, v);
            SAME_AS_MSGPACK_C(b, msgpack_pack_int64(&pk, v));
            steparc_buf_free(&b);
        }
}

static void test_write_headers(void)
{
    /* str: fixstr to 31, str8 to 255, str16 to 65535, then str32 */
    static const struct {
        size_t n;
        const char *h;
        size_t hl;
    } s[] = {
        {0, "\xa0", 1},           {31, "\xbf", 1},          {32, "\xd9\x20", 2},
        {255, "\xd9\xff", 2},     {256, "\xda\x01\x00", 3}, {65535, "\xda\xff\xff", 3},
        {65536, "\xdb\x00\x01\x00\x00", 5},
    };
    char *body = (char *)calloc(1, 65536);
    for (size_t k = 0; body && k < sizeof s / sizeof s[0]; k++) {
        steparc_buf b = {0};
        CHECK_EQ_INT(sa_mpw_str(&b, body, s[k].n), 0);
        CHECK(b.len == s[k].hl + s[k].n && memcmp(b.data, s[k].h, s[k].hl) == 0);
        SAME_AS_MSGPACK_C(b, (msgpack_pack_str(&pk, s[k].n), msgpack_pack_str_body(&pk, body, s[k].n)));
        b.len = 0;
        CHECK_EQ_INT(sa_mpw_text(&b, body, s[k].n), 0);
        CHECK(b.len == s[k].hl + s[k].n && memcmp(b.data, s[k].h, s[k].hl) == 0);
        /* bin: bin8 from 0, bin16 from 256, bin32 from 65536 */
        b.len = 0;
        CHECK_EQ_INT(sa_mpw_bin(&b, body, s[k].n), 0);
        SAME_AS_MSGPACK_C(b, (msgpack_pack_bin(&pk, s[k].n), msgpack_pack_bin_body(&pk, body, s[k].n)));
        CHECK_EQ_INT((unsigned char)b.data[0], s[k].n < 256 ? 0xC4 : s[k].n < 65536 ? 0xC5 : 0xC6);
        steparc_buf_free(&b);
    }
    free(body);
    /* array and map headers: fix to 15, 16-bit to 65535, then 32-bit */
    static const struct {
        uint32_t n;
        const char *a, *m;
        size_t len;
    } c[] = {
        {0, "\x90", "\x80", 1},
        {15, "\x9f", "\x8f", 1},
        {16, "\xdc\x00\x10", "\xde\x00\x10", 3},
        {255, "\xdc\x00\xff", "\xde\x00\xff", 3},
        {256, "\xdc\x01\x00", "\xde\x01\x00", 3},
        {65535, "\xdc\xff\xff", "\xde\xff\xff", 3},
        {65536, "\xdd\x00\x01\x00\x00", "\xdf\x00\x01\x00\x00", 5},
        {UINT32_MAX, "\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff", 5},
    };
    for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
        steparc_buf b = {0};
        CHECK_EQ_INT(sa_mpw_array(&b, c[k].n), 0);
        CHECK(buf_is(&b, c[k].a, c[k].len));
        SAME_AS_MSGPACK_C(b, msgpack_pack_array(&pk, c[k].n));
        b.len = 0;
        CHECK_EQ_INT(sa_mpw_map(&b, c[k].n), 0);
        CHECK(buf_is(&b, c[k].m, c[k].len));
        SAME_AS_MSGPACK_C(b, msgpack_pack_map(&pk, c[k].n));
        steparc_buf_free(&b);
    }
}

static void test_write_scalars(void)
{
    steparc_buf b = {0};
    CHECK(sa_mpw_nil(&b) == 0 && buf_is(&b, "\xc0", 1));
    b.len = 0;
    CHECK(sa_mpw_bool(&b, 0) == 0 && sa_mpw_bool(&b, 7) == 0 && buf_is(&b, "\xc2\xc3", 2));
    double ds[] = {0.0, -0.0, 1.5, -2.5e-300, 1e308, 5e-324, NAN, INFINITY};
    for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
        b.len = 0;
        CHECK_EQ_INT(sa_mpw_double(&b, ds[k]), 0);
        CHECK(b.len == 9 && (unsigned char)b.data[0] == 0xCB);
        SAME_AS_MSGPACK_C(b, msgpack_pack_double(&pk, ds[k]));
    }
    b.len = 0;
    sa_mpw_double(&b, 1.5);
    CHECK(buf_is(&b, "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9));
    b.len = 0;
    CHECK(sa_mpw_raw(&b, "\x91\xc0", 2) == 0 && sa_mpw_raw(&b, NULL, 0) == 0 && buf_is(&b, "\x91\xc0", 2));
    steparc_buf_free(&b);
}

static void test_write_refused(void)
{
    steparc_buf b = {0};
    CHECK_EQ_INT(sa_mpw_text(&b, NULL, 1), STEPARC_E_ARG);
    CHECK_EQ_INT(sa_mpw_text(&b, NULL, 0), 0);
    CHECK_EQ_INT(sa_mpw_text(&b, "\xff", 1), STEPARC_E_ARG);
    CHECK_EQ_INT(sa_mpw_text(&b, "\xed\xa0\x80", 3), STEPARC_E_ARG);
    CHECK_EQ_INT(sa_mpw_text(&b, "x", (size_t)STEPARC_MAX_RECORD_SIZE + 1), STEPARC_E_LIMIT);
    CHECK_EQ_INT(sa_mpw_str(&b, "x", (size_t)UINT32_MAX + 1), STEPARC_E_LIMIT);
    CHECK_EQ_INT(sa_mpw_bin(&b, "x", (size_t)UINT32_MAX + 1), STEPARC_E_LIMIT);
    CHECK_EQ_INT(sa_mpw_value(&b, NULL, 0), STEPARC_E_ARG);
    steparc_value v = {.type = STEPARC_V_FLOAT};
    v.v.f = NAN;
    CHECK_EQ_INT(sa_mpw_value(&b, &v, 0), STEPARC_E_ARG);
    v.v.f = -INFINITY;
    CHECK_EQ_INT(sa_mpw_value(&b, &v, 0), STEPARC_E_ARG);
    v.v.f = 1.0;
    CHECK_EQ_INT(sa_mpw_value(&b, &v, STEPARC_MAX_DEPTH), 0);
    CHECK_EQ_INT(sa_mpw_value(&b, &v, STEPARC_MAX_DEPTH + 1), STEPARC_E_LIMIT);
    v.type = (steparc_vtype)99;
    CHECK_EQ_INT(sa_mpw_value(&b, &v, 0), STEPARC_E_ARG);
    steparc_value a = {.type = STEPARC_V_ARRAY};
    a.v.array.count = 2;
    CHECK_EQ_INT(sa_mpw_value(&b, &a, 0), STEPARC_E_ARG); /* items NULL */
    steparc_value items[1] = {{.type = STEPARC_V_NULL}};
    a.v.array.items = items;
    a.v.array.count = STEPARC_MAX_KEYS + 1;
    CHECK_EQ_INT(sa_mpw_value(&b, &a, 0), STEPARC_E_ARG);
    steparc_value o = {.type = STEPARC_V_OBJECT};
    o.v.object.count = 1;
    CHECK_EQ_INT(sa_mpw_value(&b, &o, 0), STEPARC_E_ARG);
    steparc_member m = {{"\xc0", 1}, {.type = STEPARC_V_NULL}};
    o.v.object.items = &m;
    CHECK_EQ_INT(sa_mpw_value(&b, &o, 0), STEPARC_E_ARG); /* the key is not UTF-8 */
    m.key.ptr = "k";
    m.value.type = STEPARC_V_STRING;
    m.value.v.s.ptr = NULL;
    m.value.v.s.len = 3;
    CHECK_EQ_INT(sa_mpw_value(&b, &o, 0), STEPARC_E_ARG);
    /* nesting: a chain of one-item arrays */
    steparc_value chain[STEPARC_MAX_DEPTH + 2];
    for (int i = 0; i < STEPARC_MAX_DEPTH + 2; i++) {
        chain[i].type = STEPARC_V_ARRAY;
        chain[i].v.array.items = &chain[i + 1];
        chain[i].v.array.count = 1;
    }
    chain[STEPARC_MAX_DEPTH].type = STEPARC_V_NULL;
    CHECK_EQ_INT(sa_mpw_value(&b, &chain[0], 0), 0);
    chain[STEPARC_MAX_DEPTH].type = STEPARC_V_ARRAY;
    chain[STEPARC_MAX_DEPTH + 1].type = STEPARC_V_NULL;
    CHECK_EQ_INT(sa_mpw_value(&b, &chain[0], 0), STEPARC_E_LIMIT);
    steparc_buf_free(&b);
}

/* ---- random round trips ------------------------------------------------------------ */

static uint64_t pick(uint64_t n)
{
    return h_rand() % n;
}

/* A random integer, often near a form's boundary. */
static int64_t rand_int(void)
{
    static const int64_t edges[] = {0, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
                                    INT64_MAX, -1, -32, -33, -128, -129, -32768, -32769,
                                    INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN};
    if (pick(2))
        return (int64_t)h_rand() >> pick(64);
    int64_t v = edges[pick(sizeof edges / sizeof edges[0])];
    int64_t d = (int64_t)pick(3) - 1;
    return (d > 0 && v == INT64_MAX) || (d < 0 && v == INT64_MIN) ? v : v + d;
}

static void rand_utf8(msgpack_packer *pk, steparc_buf *s)
{
    static const size_t lens[] = {0, 1, 5, 31, 32, 33, 255, 256, 300};
    size_t want = pick(50) == 0 ? 65536 + pick(3) : lens[pick(sizeof lens / sizeof lens[0])];
    s->len = 0;
    while (s->len < want) {
        unsigned char u[4];
        size_t k = pick(10);
        uint32_t c = k < 7 ? (uint32_t)pick(0x80) : k == 7 ? 0x80 + (uint32_t)pick(0x780)
                   : k == 8 ? 0x800 + (uint32_t)pick(0xF800) : 0x10000 + (uint32_t)pick(0x100000);
        if (c >= 0xD800 && c <= 0xDFFF)
            c = 'x';
        size_t n;
        if (c < 0x80) { u[0] = (unsigned char)c; n = 1; }
        else if (c < 0x800) { u[0] = (unsigned char)(0xC0 | c >> 6); u[1] = (unsigned char)(0x80 | (c & 0x3F)); n = 2; }
        else if (c < 0x10000) { u[0] = (unsigned char)(0xE0 | c >> 12); u[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F)); u[2] = (unsigned char)(0x80 | (c & 0x3F)); n = 3; }
        else { u[0] = (unsigned char)(0xF0 | c >> 18); u[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F)); u[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F)); u[3] = (unsigned char)(0x80 | (c & 0x3F)); n = 4; }
        sa_buf_append(s, u, n);
    }
    msgpack_pack_str(pk, s->len);
    msgpack_pack_str_body(pk, s->data, s->len);
}

/* Random canonical MessagePack (FORMAT.md 6.1's written forms), by msgpack-c. */
static void rand_value(msgpack_packer *pk, steparc_buf *s, int depth)
{
    size_t k = pick(depth >= 6 ? 7 : 10);
    switch (k) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: pick(2) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case 2: msgpack_pack_int64(pk, rand_int()); break;
    case 3: msgpack_pack_uint64(pk, pick(2) ? (UINT64_C(1) << 63) + pick(1000) : UINT64_MAX - pick(1000)); break;
    case 4: {
        double d;
        do {
            uint64_t bits = h_rand();
            memcpy(&d, &bits, sizeof d);
        } while (!isfinite(d));
        msgpack_pack_double(pk, pick(4) ? d : (double)rand_int() / 8);
        break;
    }
    case 5:
    case 6: rand_utf8(pk, s); break;
    case 7:
    case 8: {
        size_t n = pick(8) == 0 ? 14 + pick(5) : pick(4);
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++)
            rand_value(pk, s, depth + 1);
        break;
    }
    default: {
        size_t n = pick(8) == 0 ? 14 + pick(5) : pick(4);
        msgpack_pack_map(pk, n);
        for (size_t i = 0; i < n; i++) {
            rand_utf8(pk, s);
            rand_value(pk, s, depth + 1);
        }
        break;
    }
    }
}

static void test_round_trip_random(void)
{
    uint64_t seed = h_seed();
    printf("# test_round_trip_random: seed %" PRIu64 " (set STEPARC_SEED to replay)\n", seed);
    h_rng_state = seed;
    steparc_buf s = {0}, out = {0};
    size_t bytes = 0;
    for (int round = 0; round < 400; round++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, sbuf_sink);
        rand_value(&pk, &s, 0);
        sa_arena a = {0};
        a.chunk = pick(2) ? 0 : 256;
        steparc_value *v = NULL;
        int rc = decode(&v, &a, sb.data, sb.size);
        CHECK_EQ_INT(rc, 0);
        out.len = 0;
        if (rc == 0)
            CHECK_EQ_INT(sa_mpw_value(&out, v, 0), 0);
        if (!buf_is(&out, sb.data, sb.size) && h_fail_count < 3)
            fprintf(stderr, "  round %d: %zu bytes in, %zu out\n", round, sb.size, out.len);
        CHECK(buf_is(&out, sb.data, sb.size));
        bytes += sb.size;
        sa_arena_free(&a);
        msgpack_sbuffer_destroy(&sb);
    }
    printf("# %zu bytes of random MessagePack: decode then write gave them back\n", bytes);
    steparc_buf_free(&s);
    steparc_buf_free(&out);
}

int main(void)
{
    hook_install();
    RUN(test_decode_scalars);
    RUN(test_decode_strings_and_containers);
    RUN(test_decode_refused);
    RUN(test_decode_limits);
    RUN(test_decode_truncated);
    RUN(test_decode_copies);
    RUN(test_decode_oom);
    RUN(test_write_uint_boundaries);
    RUN(test_write_int_boundaries);
    RUN(test_write_headers);
    RUN(test_write_scalars);
    RUN(test_write_refused);
    RUN(test_round_trip_random);
    return h_done();
}
