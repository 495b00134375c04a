#define _GNU_SOURCE
/* test_columnar.c - the columnar block layout (format/columnar.c, FORMAT.md
 * 5.5), attacked from every side: random records (every MessagePack size
 * boundary, non-canonical encodings, shared and repeated values) must come
 * back byte for byte; the encoder's limits must fall back to rows; any bytes
 * given to the decoder must yield either a valid rows payload or
 * STEPARC_E_CORRUPT; every rule of 5.5 is checked on hand-made payloads; and
 * through the public API the two layouts must be indistinguishable. */
#include <stdatomic.h>
#include <unistd.h>

#include "alloc_hook.h"
#include "columnar.h"
#include "harness.h"
#include "layout.h"
#include "record.h"
#include "steparc.h"

static char g_dir[256];

/* ---- small buffer helpers (the library's buffers, so its allocator) ---------- */

static void put(steparc_buf *b, const void *p, size_t n)
{
    if (sa_buf_append(b, p, n) != 0)
        abort();
}

static void put1(steparc_buf *b, unsigned c)
{
    unsigned char x = (unsigned char)c;
    put(b, &x, 1);
}

/* Big-endian integer of `bytes` bytes (MessagePack's byte order). */
static void put_be(steparc_buf *b, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        put1(b, (unsigned)(v >> (8 * i)) & 0xFF);
}

/* LEB128 varint in the shortest form (5.5). */
static void put_varint(steparc_buf *b, uint64_t v)
{
    while (v >= 0x80) {
        put1(b, (unsigned)(v & 0x7F) | 0x80);
        v >>= 7;
    }
    put1(b, (unsigned)v);
}

static uint64_t rnd(uint64_t n)
{
    return n ? h_rand() % n : 0;
}

/* ---- a random record generator ------------------------------------------------ */

/* strict: only what sa_mp_validate (and so the writer) accepts: distinct
 * keys, finite floats, valid UTF-8. big: strings up to 64 KiB + 1 may occur. */
typedef struct {
    int strict, big;
} genopt;

/* Keys shared by many records, so that their streams are shared: ids,
 * timestamps, plain keys, and the empty key. */
static const char *const g_keys[] = {
    "id", "object", "created_at", "run_id", "thread_id", "assistant_id", "type", "status",
    "step_details", "usage", "file_id", "call_id", "completed_at", "expires_at", "tool_calls",
    "function", "name", "arguments", "output", "message_id", "x", "", "prompt_tokens", "metadata",
};
#define NKEYS (sizeof g_keys / sizeof g_keys[0])

/* id prefixes (up to the first '_' or '-' within 16 bytes), and near misses:
 * a 16-byte prefix (the longest allowed) and a separator at byte 17. */
static const char *const g_prefixes[] = {
    "step_", "run_", "file-", "thread_", "call_", "msg_", "asst_", "a_", "-", "_",
    "abcdefghijklmno_", "abcdefghijklmnop_", "x-y_z",
};
#define NPREFIXES (sizeof g_prefixes / sizeof g_prefixes[0])

/* Strings seen before, to repeat them (dictionary codes), short and > 64 bytes. */
#define POOL 48
static steparc_buf g_pool[POOL];
static size_t g_npool;
static int64_t g_clock = 1700000000;

/* One string's bytes (not its header) into s. */
static void gen_str_bytes(const genopt *o, steparc_buf *s)
{
    s->len = 0;
    if (g_npool && rnd(100) < 35) { /* a repeat */
        steparc_buf *p = &g_pool[rnd(g_npool)];
        if (p->len)
            put(s, p->data, p->len);
        return;
    }
    static const size_t lens[] = {0, 1, 2, 5, 8, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 66, 100, 255, 256};
    static const size_t biglens[] = {65535, 65536, 65537};
    size_t len = o->big && rnd(400) == 0 ? biglens[rnd(3)] : lens[rnd(sizeof lens / sizeof lens[0])];
    if (rnd(3) == 0)
        len = rnd(40);
    if (rnd(2)) {
        const char *p = g_prefixes[rnd(NPREFIXES)];
        size_t pn = strlen(p);
        if (pn <= len) {
            put(s, p, pn);
            len -= pn;
        }
    }
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789_-ABCXYZ";
    for (size_t i = 0; i < len; i++) {
        unsigned c = (unsigned char)alpha[rnd(sizeof alpha - 1)];
        if (rnd(50) == 0)
            c = 0; /* U+0000 is allowed */
        else if (!o->strict && rnd(40) == 0)
            c = (unsigned)rnd(256); /* any bytes: the codec never looks at them */
        put1(s, c);
    }
    int ascii = 1;
    for (size_t i = 0; i < s->len; i++)
        ascii &= (unsigned char)s->data[i] < 0x80;
    /* only ASCII goes to the pool: strict records reuse it and must stay UTF-8 */
    if (ascii && s->len <= 300 && rnd(3) == 0) {
        steparc_buf *p = &g_pool[g_npool < POOL ? g_npool++ : rnd(POOL)];
        p->len = 0;
        if (s->len)
            put(p, s->data, s->len);
    }
}

/* A str header for n bytes: the smallest one, or (noncanon) any wider one. */
static void str_header(steparc_buf *b, uint64_t n, int noncanon)
{
    int smallest = n < 32 ? 0 : n < 256 ? 1 : n < 65536 ? 2 : 3;
    int form = noncanon ? smallest + (int)rnd((uint64_t)(4 - smallest)) : smallest;
    switch (form) {
    case 0: put1(b, 0xA0 | (unsigned)n); break;
    case 1: put1(b, 0xD9); put_be(b, n, 1); break;
    case 2: put1(b, 0xDA); put_be(b, n, 2); break;
    default: put1(b, 0xDB); put_be(b, n, 4); break;
    }
}

static void put_str(steparc_buf *b, const void *p, size_t n, int noncanon)
{
    str_header(b, n, noncanon);
    if (n)
        put(b, p, n);
}

/* An integer in the smallest encoding or, when noncanon, any encoding that can
 * hold it (5 as int8 D0 05, 200 as int16, 1 as uint64, ...). */
static void put_int(steparc_buf *b, int64_t v, int noncanon)
{
    /* candidate forms: 0 fixint, 1..4 uint8..64, 5..8 int8..64 */
    int ok[9] = {0};
    ok[0] = v >= -32 && v <= 127;
    ok[1] = v >= 0 && v <= 0xFF;
    ok[2] = v >= 0 && v <= 0xFFFF;
    ok[3] = v >= 0 && v <= 0xFFFFFFFFLL;
    ok[4] = v >= 0;
    ok[5] = v >= INT8_MIN && v <= INT8_MAX;
    ok[6] = v >= INT16_MIN && v <= INT16_MAX;
    ok[7] = v >= INT32_MIN && v <= INT32_MAX;
    ok[8] = 1;
    int form = -1;
    if (noncanon) {
        int cand[9], nc = 0;
        for (int i = 0; i < 9; i++)
            if (ok[i])
                cand[nc++] = i;
        form = cand[rnd((uint64_t)nc)];
    } else if (ok[0]) {
        form = 0;
    } else if (v >= 0) {
        form = ok[1] ? 1 : ok[2] ? 2 : ok[3] ? 3 : 4;
    } else {
        form = ok[5] ? 5 : ok[6] ? 6 : ok[7] ? 7 : 8;
    }
    static const unsigned tag[9] = {0, 0xCC, 0xCD, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3};
    static const int width[9] = {0, 1, 2, 4, 8, 1, 2, 4, 8};
    if (form == 0) {
        put1(b, (unsigned)(uint8_t)(int8_t)v);
        return;
    }
    put1(b, tag[form]);
    put_be(b, (uint64_t)v, width[form]);
}

/* Integers at every MessagePack size boundary, and their neighbours. */
static int64_t gen_int(void)
{
    static const int64_t edges[] = {
        0, 1, 31, 32, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 2147483647LL,
        2147483648LL, 4294967295LL, 4294967296LL, INT64_MAX, -1, -31, -32, -33, -127, -128,
        -129, -32767, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN,
    };
    switch (rnd(4)) {
    case 0:
        return edges[rnd(sizeof edges / sizeof edges[0])];
    case 1: /* a neighbour of an edge, wrapping like the delta streams do */
        return (int64_t)((uint64_t)edges[rnd(sizeof edges / sizeof edges[0])] + rnd(3) - 1);
    case 2: /* random width */
        return (int64_t)(h_rand() >> rnd(64));
    default:
        return (int64_t)rnd(1000) - 500;
    }
}

/* float64 bits: zeros of both signs, subnormals, extremes, random (strict:
 * finite only, since FORMAT.md 6.1 forbids NaN and infinities). */
static uint64_t gen_f64_bits(int strict)
{
    static const uint64_t edges[] = {
        0, 0x8000000000000000ULL, 1, 0x8000000000000001ULL, 0x000FFFFFFFFFFFFFULL,
        0x0010000000000000ULL, 0x7FEFFFFFFFFFFFFFULL, 0xFFEFFFFFFFFFFFFFULL,
        0x3FF0000000000000ULL, 0xBFF8000000000000ULL, 0x3FB999999999999AULL,
    };
    uint64_t v = rnd(2) ? edges[rnd(sizeof edges / sizeof edges[0])] : h_rand();
    if (strict && ((v >> 52) & 0x7FF) == 0x7FF)
        v &= ~(1ULL << 62); /* clear an exponent bit: finite */
    return v;
}

static void gen_value(const genopt *o, steparc_buf *b, const char *key, int depth);

/* A map of up to `maxkeys` keys; at the top level `top` adds the usual fields. */
static void gen_map(const genopt *o, steparc_buf *b, int depth, unsigned maxkeys, int top)
{
    char keys[NKEYS + 8][16];
    unsigned nk = 0;
    unsigned want = (unsigned)rnd(maxkeys + 1);
    if (top) {
        snprintf(keys[nk++], sizeof keys[0], "id");
        if (rnd(4))
            snprintf(keys[nk++], sizeof keys[0], "created_at");
    }
    for (unsigned tries = 0; nk < want && tries < 3 * want; tries++) {
        char k[16];
        if (rnd(6) == 0) /* a less common key, shared by fewer records */
            snprintf(k, sizeof k, "k%u%s", (unsigned)rnd(30), rnd(3) ? "" : "_at");
        else
            snprintf(k, sizeof k, "%s", g_keys[rnd(NKEYS)]);
        int dup = 0;
        for (unsigned i = 0; i < nk; i++)
            dup |= strcmp(keys[i], k) == 0;
        /* non-strict maps may repeat a key: the codec does not care */
        if (dup && (o->strict || rnd(4)))
            continue;
        memcpy(keys[nk++], k, sizeof k);
    }
    switch (rnd(12)) {
    case 0: put1(b, 0xDE); put_be(b, nk, 2); break; /* map16 with few pairs */
    case 1: put1(b, 0xDF); put_be(b, nk, 4); break; /* map32 */
    default: put1(b, 0x80 | nk); break;             /* nk <= 12 */
    }
    for (unsigned i = 0; i < nk; i++) {
        put_str(b, keys[i], strlen(keys[i]), rnd(10) == 0);
        gen_value(o, b, keys[i], depth + 1);
    }
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static void gen_value(const genopt *o, steparc_buf *b, const char *key, int depth)
{
    int noncanon = rnd(8) == 0;
    /* ids are mostly strings, timestamps mostly ascending integers: the
     * streams the writer is built for */
    if (key && (strcmp(key, "id") == 0 || ends_with(key, "_id")) && rnd(5)) {
        steparc_buf s = {0};
        gen_str_bytes(o, &s);
        put_str(b, s.data, s.len, noncanon);
        steparc_buf_free(&s);
        return;
    }
    if (key && ends_with(key, "_at") && rnd(5)) {
        g_clock += (int64_t)rnd(5);
        put_int(b, rnd(10) ? g_clock : gen_int(), noncanon);
        return;
    }
    unsigned kind = (unsigned)rnd(depth >= 4 ? 7 : 9);
    switch (kind) {
    case 0: put1(b, 0xC0); break;
    case 1: put1(b, rnd(2) ? 0xC2 : 0xC3); break;
    case 2: case 3: {
        if (rnd(8) == 0) { /* uint64 above INT64_MAX: stays literal */
            put1(b, 0xCF);
            put_be(b, rnd(2) ? UINT64_MAX : (1ULL << 63) + rnd(1000), 8);
        } else {
            put_int(b, gen_int(), noncanon);
        }
        break;
    }
    case 4:
        if (rnd(4) == 0) { /* float32 */
            uint32_t f = (uint32_t)h_rand();
            if (o->strict && ((f >> 23) & 0xFF) == 0xFF)
                f &= ~(1u << 30);
            put1(b, 0xCA);
            put_be(b, f, 4);
        } else {
            put1(b, 0xCB);
            put_be(b, gen_f64_bits(o->strict), 8);
        }
        break;
    case 5: case 6: {
        steparc_buf s = {0};
        gen_str_bytes(o, &s);
        put_str(b, s.data, s.len, noncanon);
        steparc_buf_free(&s);
        break;
    }
    case 7: { /* array: one key path for all its elements */
        unsigned n = (unsigned)rnd(6);
        switch (rnd(8)) {
        case 0: put1(b, 0xDC); put_be(b, n, 2); break;
        case 1: put1(b, 0xDD); put_be(b, n, 4); break;
        default: put1(b, 0x90 | n); break;
        }
        for (unsigned i = 0; i < n; i++)
            gen_value(o, b, NULL, depth + 1);
        break;
    }
    default:
        gen_map(o, b, depth, 5, 0);
        break;
    }
}

/* One record (a map) into b, replacing its contents. */
static void gen_record(const genopt *o, steparc_buf *b)
{
    b->len = 0;
    gen_map(o, b, 1, 10, 1);
}

/* ---- rows payloads ------------------------------------------------------------ */

/* A batch of records: their bytes concatenated and their end offsets. */
typedef struct {
    steparc_buf data;
    uint32_t *ends;
    uint32_t n, cap;
} recs;

static void recs_add(recs *r, const void *p, size_t len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->ends = (uint32_t *)realloc(r->ends, r->cap * sizeof *r->ends);
        if (r->ends == NULL)
            abort();
    }
    put(&r->data, p, len);
    r->ends[r->n++] = (uint32_t)r->data.len;
}

static void recs_free(recs *r)
{
    steparc_buf_free(&r->data);
    free(r->ends);
    memset(r, 0, sizeof *r);
}

/* The rows payload of FORMAT.md 5.3: n u32 LE end offsets, then the records. */
static void rows_build(const recs *r, steparc_buf *rows)
{
    rows->len = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        unsigned char x[4];
        sa_put_u32(x, r->ends[i]);
        put(rows, x, 4);
    }
    if (r->data.len)
        put(rows, r->data.data, r->data.len);
}

static void gen_recs(const genopt *o, recs *r, uint32_t n)
{
    steparc_buf one = {0};
    for (uint32_t i = 0; i < n; i++) {
        gen_record(o, &one);
        recs_add(r, one.data, one.len);
    }
    steparc_buf_free(&one);
}

/* Decodes a columnar payload from an exact-size copy (so that ASan sees any
 * read past its end). Any bytes must give 0 and a valid rows payload of the
 * declared size, or STEPARC_E_CORRUPT with a reason and no output. Returns
 * the status; the rows (when wanted) are the caller's to sa_free. */
static int decode_any(const void *col, size_t len, uint32_t n, unsigned char **rows_out,
                      size_t *size_out)
{
    unsigned char *copy = (unsigned char *)malloc(len ? len : 1);
    if (copy == NULL)
        abort();
    if (len)
        memcpy(copy, col, len);
    unsigned char *rows = (unsigned char *)&rows; /* must be overwritten */
    size_t size = 1;
    const char *why = NULL;
    int rc = sa_col_decode(copy, len, n, &rows, &size, &why);
    CHECK(rc == 0 || rc == STEPARC_E_CORRUPT);
    if (rc == 0) {
        CHECK(rows != NULL);
        CHECK(why == NULL);
        CHECK_EQ_INT(sa_rows_check(rows, size, n), 0);
        CHECK(size == sa_col_rows_size(copy, len));
        CHECK(size <= STEPARC_MAX_BLOCK_RAW);
    } else {
        CHECK(rows == NULL);
        CHECK(size == 0);
        CHECK(why != NULL && why[0] != 0);
    }
    free(copy);
    if (rows_out && rc == 0) {
        *rows_out = rows;
        *size_out = size;
    } else {
        sa_free(rc == 0 ? rows : NULL);
    }
    return rc;
}

/* Encodes, decodes and compares; also with a fresh encoder, which must give
 * the same bytes (no state from earlier blocks leaks into a block). */
static void roundtrip(sa_colenc *enc, const recs *r, steparc_buf *col)
{
    steparc_buf rows = {0}, col2 = {0};
    rows_build(r, &rows);
    CHECK_EQ_INT(sa_rows_check((const unsigned char *)rows.data, rows.len, r->n), 0);
    int rc = sa_col_encode(enc, (const unsigned char *)rows.data, rows.len, r->n, col);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        CHECK(sa_col_rows_size((const unsigned char *)col->data, col->len) == rows.len);
        unsigned char *back = NULL;
        size_t size = 0;
        rc = decode_any(col->data, col->len, r->n, &back, &size);
        CHECK_EQ_INT(rc, 0);
        if (rc == 0) {
            CHECK_EQ_INT(size, rows.len);
            CHECK(size == rows.len && memcmp(back, rows.data, size) == 0);
            sa_free(back);
        }
        sa_colenc *fresh = sa_colenc_new();
        CHECK(fresh != NULL);
        if (fresh) {
            CHECK_EQ_INT(sa_col_encode(fresh, (const unsigned char *)rows.data, rows.len, r->n, &col2), 0);
            CHECK(col2.len == col->len && memcmp(col2.data, col->data, col->len) == 0);
            sa_colenc_free(fresh);
        }
    }
    steparc_buf_free(&rows);
    steparc_buf_free(&col2);
}

/* ---- round trip --------------------------------------------------------------- */

static void test_roundtrip_property(void)
{
    uint64_t seed = h_seed();
    printf("# test_roundtrip_property seed %" PRIu64 "\n", seed);
    h_rng_state = seed;
    sa_colenc *enc = sa_colenc_new();
    CHECK(enc != NULL);
    if (enc == NULL)
        return;
    steparc_buf col = {0};
    static const uint32_t sizes[] = {1, 2, 100, 3000, 1, 2, 3, 100};
    for (int it = 0; it < 300; it++) {
        genopt o = {(int)rnd(2), it % 3 == 0};
        uint32_t n = it < 8 ? sizes[it] : it % 40 == 0 ? 3000 : (uint32_t)(1 + rnd(it % 2 ? 4 : 300));
        recs r = {0};
        gen_recs(&o, &r, n);
        int before = h_fail_count;
        roundtrip(enc, &r, &col);
        if (h_fail_count != before)
            fprintf(stderr, "  (iteration %d, n %u)\n", it, n);
        recs_free(&r);
    }
    steparc_buf_free(&col);
    sa_colenc_free(enc);
}

/* One record holding every awkward value at once, each alone in a block and
 * all together: exercises each branch of the splitter deterministically. */
static void test_roundtrip_edges(void)
{
    static const int64_t ints[] = {
        0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL, INT64_MAX,
        -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN,
    };
    static const size_t slens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
    sa_colenc *enc = sa_colenc_new();
    steparc_buf col = {0}, one = {0}, s = {0};
    recs all = {0};
    for (int canon = 0; canon < 2; canon++) {
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            for (int key = 0; key < 2; key++) { /* plain key, and a delta-coded "_at" key */
                recs r = {0};
                one.len = 0;
                put1(&one, 0x81);
                put_str(&one, key ? "t_at" : "v", key ? 4 : 1, 0);
                /* canonical, then each wider form in turn via the random picker */
                put_int(&one, ints[i], !canon);
                recs_add(&r, one.data, one.len);
                recs_add(&all, one.data, one.len);
                roundtrip(enc, &r, &col);
                recs_free(&r);
            }
        for (size_t i = 0; i < sizeof slens / sizeof slens[0]; i++)
            for (int key = 0; key < 2; key++) {
                recs r = {0};
                s.len = 0;
                if (key)
                    put(&s, "file-", 5);
                while (s.len < slens[i])
                    put1(&s, (unsigned)('a' + s.len % 26));
                s.len = slens[i];
                one.len = 0;
                put1(&one, 0x81);
                put_str(&one, key ? "file_id" : "s", key ? 7 : 1, 0);
                put_str(&one, s.data, s.len, !canon);
                /* the same string twice: a code the second time when <= 64 bytes */
                recs_add(&r, one.data, one.len);
                recs_add(&r, one.data, one.len);
                recs_add(&all, one.data, one.len);
                roundtrip(enc, &r, &col);
                recs_free(&r);
            }
    }
    /* floats: -0.0, subnormals, float32 */
    static const uint64_t fl[] = {0, 0x8000000000000000ULL, 1, 0x000FFFFFFFFFFFFFULL,
                                  0x7FEFFFFFFFFFFFFFULL, 0x7FF8000000000000ULL};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
        one.len = 0;
        put1(&one, 0x82);
        put_str(&one, "f", 1, 0);
        put1(&one, 0xCB);
        put_be(&one, fl[i], 8);
        put_str(&one, "g", 1, 0);
        put1(&one, 0xCA);
        put_be(&one, (uint32_t)(fl[i] >> 32), 4);
        recs_add(&all, one.data, one.len);
    }
    /* empty map, empty key, nil/true/false, empty containers of every header */
    static const unsigned char odd[][12] = {
        {0x80}, {0x81, 0xA0, 0xC0}, {0x83, 0xA1, 'a', 0xC2, 0xA1, 'b', 0xC3, 0xA1, 'c', 0xC0},
        {0x81, 0xA1, 'a', 0x90}, {0x81, 0xA1, 'a', 0xDC, 0, 0}, {0x81, 0xA1, 'a', 0xDD, 0, 0, 0, 0},
        {0xDE, 0, 0}, {0xDF, 0, 0, 0, 0}, {0x81, 0xA1, 'a', 0x80},
        {0x81, 0xA1, 'a', 0xDE, 0, 1, 0xA0, 0xA0}, {0x81, 0xA0, 0xA0},
    };
    static const size_t oddlen[] = {1, 3, 10, 4, 6, 8, 3, 5, 4, 8, 3};
    for (size_t i = 0; i < sizeof oddlen / sizeof oddlen[0]; i++) {
        recs r = {0};
        recs_add(&r, odd[i], oddlen[i]);
        recs_add(&all, odd[i], oddlen[i]);
        roundtrip(enc, &r, &col);
        recs_free(&r);
    }
    roundtrip(enc, &all, &col);
    recs_free(&all);
    /* A fresh encoder whose first block has only empty keys and empty
     * strings: its buffers for keys and string bytes were never allocated
     * (NULL), which UBSan checks on every use (make asan). */
    static const unsigned char empties[][8] = {
        {0x81, 0xA0, 0xA0}, {0x81, 0xA0, 0x92, 0xA0, 0xA0}, {0x82, 0xA0, 0xA0, 0xA2, 'i', 'd', 0xA0},
    };
    static const size_t emptylen[] = {3, 5, 7};
    for (size_t i = 0; i < sizeof emptylen / sizeof emptylen[0]; i++) {
        sa_colenc *fresh = sa_colenc_new();
        recs r = {0};
        recs_add(&r, empties[i], emptylen[i]);
        recs_add(&r, empties[i], emptylen[i]);
        recs_add(&r, empties[0], emptylen[0]);
        roundtrip(fresh, &r, &col);
        recs_free(&r);
        sa_colenc_free(fresh);
    }
    steparc_buf_free(&one);
    steparc_buf_free(&s);
    steparc_buf_free(&col);
    sa_colenc_free(enc);
}

/* The encoder refuses what is not a rows payload of well-formed MessagePack. */
static void test_encode_rejects(void)
{
    sa_colenc *enc = sa_colenc_new();
    steparc_buf col = {0};
    unsigned char rows[16];
    sa_put_u32(rows, 1);
    rows[4] = 0x80;
    CHECK_EQ_INT(sa_col_encode(enc, rows, 5, 1, &col), 0);
    CHECK_EQ_INT(sa_col_encode(enc, rows, 5, 0, &col), STEPARC_E_INPUT);
    CHECK_EQ_INT(sa_col_encode(enc, rows, 3, 1, &col), STEPARC_E_INPUT);
    sa_put_u32(rows, 2); /* offset past the end */
    CHECK_EQ_INT(sa_col_encode(enc, rows, 5, 1, &col), STEPARC_E_INPUT);
    sa_put_u32(rows, 1);
    rows[4] = 0x81; /* truncated map */
    CHECK_EQ_INT(sa_col_encode(enc, rows, 5, 1, &col), STEPARC_E_INPUT);
    rows[4] = 0xC1; /* never used */
    CHECK_EQ_INT(sa_col_encode(enc, rows, 5, 1, &col), STEPARC_E_INPUT);
    sa_put_u32(rows, 2); /* two values in one record */
    rows[4] = 0x80;
    rows[5] = 0x80;
    CHECK_EQ_INT(sa_col_encode(enc, rows, 6, 1, &col), STEPARC_E_INPUT);
    /* a byte after the last record */
    sa_put_u32(rows, 1);
    rows[4] = 0x80;
    CHECK_EQ_INT(sa_col_encode(enc, rows, 6, 1, &col), STEPARC_E_INPUT);
    /* a map key that is not a string */
    sa_put_u32(rows, 3);
    rows[4] = 0x81;
    rows[5] = 0x01;
    rows[6] = 0x01;
    CHECK_EQ_INT(sa_col_encode(enc, rows, 7, 1, &col), STEPARC_E_INPUT);
    /* after all that, the encoder still works */
    sa_put_u32(rows, 1);
    rows[4] = 0x80;
    CHECK_EQ_INT(sa_col_encode(enc, rows, 5, 1, &col), 0);
    steparc_buf_free(&col);
    sa_colenc_free(enc);
}

/* ---- limits: too varied for columns ------------------------------------------- */

/* Records of `per` keys "k%07u" (unique over the whole block) with value 1:
 * one int stream each. */
static void unique_key_records(recs *r, uint32_t nrec, uint32_t per, uint32_t *next_key)
{
    steparc_buf one = {0};
    char k[16];
    for (uint32_t i = 0; i < nrec; i++) {
        one.len = 0;
        if (per < 16)
            put1(&one, 0x80 | per);
        else {
            put1(&one, 0xDE);
            put_be(&one, per, 2);
        }
        for (uint32_t j = 0; j < per; j++) {
            snprintf(k, sizeof k, "k%07u", (*next_key)++);
            put_str(&one, k, 8, 0);
            put1(&one, 0x01);
        }
        recs_add(r, one.data, one.len);
    }
    steparc_buf_free(&one);
}

static void test_limit_streams(void)
{
    sa_colenc *enc = sa_colenc_new();
    steparc_buf col = {0}, rows = {0};
    /* exactly 65,535 streams: allowed; round trips */
    recs r = {0};
    uint32_t key = 0;
    unique_key_records(&r, 655, 100, &key);
    unique_key_records(&r, 1, 35, &key);
    roundtrip(enc, &r, &col);
    /* one more: STEPARC_E_LIMIT, and the encoder is still usable after it */
    unique_key_records(&r, 1, 1, &key);
    rows_build(&r, &rows);
    CHECK_EQ_INT(sa_col_encode(enc, (const unsigned char *)rows.data, rows.len, r.n, &col),
                 STEPARC_E_LIMIT);
    recs_free(&r);
    unique_key_records(&r, 3, 3, &key);
    roundtrip(enc, &r, &col);
    recs_free(&r);
    steparc_buf_free(&rows);
    steparc_buf_free(&col);
    sa_colenc_free(enc);
}

/* Records {"<1000-byte unique key>": nil}: nothing is taken out, so each
 * record is its own skeleton of 1008 bytes (00, varint 1005, the record). */
static void unique_skeleton_records(recs *r, uint32_t nrec)
{
    steparc_buf one = {0};
    char k[1001];
    for (uint32_t i = 0; i < nrec; i++) {
        snprintf(k, sizeof k, "%01000u", i);
        one.len = 0;
        put1(&one, 0x81);
        put_str(&one, k, 1000, 0);
        put1(&one, 0xC0);
        recs_add(r, one.data, one.len);
    }
    steparc_buf_free(&one);
}

static void test_limit_skeleton_bytes(void)
{
    sa_colenc *enc = sa_colenc_new();
    steparc_buf col = {0}, rows = {0};
    recs r = {0};
    /* 4161 x 1008 = 4,194,288 <= 4 MiB */
    unique_skeleton_records(&r, 4161);
    roundtrip(enc, &r, &col);
    recs_free(&r);
    /* 4162 x 1008 = 4,195,296 > 4 MiB */
    unique_skeleton_records(&r, 4162);
    rows_build(&r, &rows);
    CHECK_EQ_INT(sa_col_encode(enc, (const unsigned char *)rows.data, rows.len, r.n, &col),
                 STEPARC_E_LIMIT);
    recs_free(&r);
    steparc_buf_free(&rows);
    steparc_buf_free(&col);
    sa_colenc_free(enc);
}

/* ---- hostile payloads ------------------------------------------------------- */

/* Every truncation, single-byte and multi-byte corruptions of one payload. */
static void attack(const steparc_buf *col, uint32_t n)
{
    const unsigned char *c = (const unsigned char *)col->data;
    size_t len = col->len;
    CHECK_EQ_INT(decode_any(c, len, n, NULL, NULL), 0);
    /* a payload never decodes with another record count (the ids area and
     * the offset table both depend on it) */
    CHECK_EQ_INT(decode_any(c, len, n + 1, NULL, NULL), STEPARC_E_CORRUPT);
    CHECK_EQ_INT(decode_any(c, len, 0, NULL, NULL), STEPARC_E_CORRUPT);
    if (n > 1)
        CHECK_EQ_INT(decode_any(c, len, n - 1, NULL, NULL), STEPARC_E_CORRUPT);
    /* the parts add up to the payload exactly: every prefix is corrupt */
    for (size_t t = 0; t < len; t++)
        CHECK_EQ_INT(decode_any(c, t, n, NULL, NULL), STEPARC_E_CORRUPT);
    /* one trailing byte too many */
    unsigned char *m = (unsigned char *)malloc(len + 1);
    memcpy(m, c, len);
    m[len] = 0;
    CHECK_EQ_INT(decode_any(m, len + 1, n, NULL, NULL), STEPARC_E_CORRUPT);
    static const unsigned vals[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
    for (size_t i = 0; i < len; i++) {
        for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
            m[i] = (unsigned char)vals[v];
            decode_any(m, len, n, NULL, NULL);
        }
        m[i] = (unsigned char)(c[i] ^ (1u << rnd(8)));
        decode_any(m, len, n, NULL, NULL);
        m[i] = c[i];
    }
    for (int k = 0; k < 400; k++) {
        int flips = 2 + (int)rnd(6);
        for (int f = 0; f < flips; f++) {
            size_t i = rnd(len);
            m[i] = (unsigned char)(rnd(2) ? h_rand() : (unsigned)m[i] + rnd(3) - 1);
        }
        decode_any(m, len, n, NULL, NULL);
        memcpy(m, c, len);
    }
    free(m);
}

static void test_hostile_mutations(void)
{
    uint64_t seed = h_seed() ^ 0x5A5A;
    printf("# test_hostile_mutations seed %" PRIu64 "\n", seed);
    h_rng_state = seed;
    sa_colenc *enc = sa_colenc_new();
    steparc_buf col = {0}, rows = {0};
    static const uint32_t ns[] = {1, 2, 3, 5, 8, 13, 30};
    int attacked = 0;
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        for (int rep = 0; rep < 2; rep++) {
            genopt o = {rep, 0};
            recs r = {0};
            gen_recs(&o, &r, ns[k]);
            rows_build(&r, &rows);
            int rc = sa_col_encode(enc, (const unsigned char *)rows.data, rows.len, r.n, &col);
            CHECK_EQ_INT(rc, 0);
            if (rc == 0 && col.len <= 6000) {
                attack(&col, r.n);
                attacked++;
            }
            recs_free(&r);
        }
    }
    CHECK(attacked >= 8); /* most payloads are small enough */
    steparc_buf_free(&rows);
    steparc_buf_free(&col);
    sa_colenc_free(enc);
}

static void test_hostile_random(void)
{
    uint64_t seed = h_seed() ^ 0xA5A5;
    printf("# test_hostile_random seed %" PRIu64 "\n", seed);
    h_rng_state = seed;
    steparc_buf b = {0};
    for (int k = 0; k < 20000; k++) {
        b.len = 0;
        uint32_t n = (uint32_t)(1 + rnd(k % 3 ? 8 : 1000));
        if (k % 2) {
            /* a plausible header, so that the checks after it are reached */
            put_varint(&b, 5 * (uint64_t)n + rnd(64));
            put_varint(&b, 1 + rnd(n));
            put_varint(&b, rnd(5));
            put_varint(&b, rnd(2 * (uint64_t)n + 2));
        }
        size_t extra = rnd(k % 5 ? 64 : 600);
        for (size_t i = 0; i < extra; i++)
            put1(&b, (unsigned)(rnd(3) ? rnd(8) : rnd(256)));
        decode_any(b.data, b.len, n, NULL, NULL);
    }
    steparc_buf_free(&b);
}

/* ---- hand-made payloads: each rule of FORMAT.md 5.5 ----------------------------- */

/* The parts of a payload, assembled in 5.5's order. The header fields are
 * varints; the rest is given as bytes, so that any part can be broken alone. */
typedef struct {
    uint64_t hdr[8]; /* rows_size, S, T, ids_length, S skeleton lengths */
    size_t nhdr;
    unsigned char table[64], skel[64], ids[32], areas[64];
    size_t ntable, nskel, nids, nareas;
} parts;

static void setb(unsigned char *dst, size_t *n, const char *src, size_t len)
{
    memcpy(dst, src, len);
    *n = len;
}

/* Two records, {"a":1} and {"a":"run_x"}:
 *   rows_size 21 (8 + 4 + 9), S 2, T 2, ids_length 2, skeleton lengths 6, 6;
 *   stream 0: int, 1 value byte; stream 1: string, 1 code byte, prefix "run_",
 *   1 length byte, 1 string byte;
 *   skeletons: [lit 81 A1 61, stream 0] [lit 81 A1 61, stream 1];
 *   ids 0 1; areas: zigzag(1) = 2 | code 0 | length 1 | "x". */
static parts base(void)
{
    parts p;
    memset(&p, 0, sizeof p);
    uint64_t h[] = {21, 2, 2, 2, 6, 6};
    memcpy(p.hdr, h, sizeof h);
    p.nhdr = 6;
    setb(p.table, &p.ntable, "\x01\x01" "\x04\x01\x04run_\x01\x01", 11);
    setb(p.skel, &p.nskel, "\x00\x03\x81\xA1\x61\x01" "\x00\x03\x81\xA1\x61\x02", 12);
    setb(p.ids, &p.nids, "\x00\x01", 2);
    setb(p.areas, &p.nareas, "\x02" "\x00\x01x", 4);
    return p;
}

static void assemble(const parts *p, steparc_buf *b)
{
    b->len = 0;
    for (size_t i = 0; i < p->nhdr; i++)
        put_varint(b, p->hdr[i]);
    put(b, p->table, p->ntable);
    put(b, p->skel, p->nskel);
    put(b, p->ids, p->nids);
    put(b, p->areas, p->nareas);
}

/* Decodes the assembled parts with n records; expects rc; for 0, also the
 * exact rows `want` (when given). */
static void expect(const char *name, const parts *p, uint32_t n, int rc, const void *want,
                   size_t want_len)
{
    steparc_buf b = {0};
    assemble(p, &b);
    unsigned char *rows = NULL;
    size_t size = 0;
    int got = decode_any(b.data, b.len, n, &rows, &size);
    if (got != rc)
        fprintf(stderr, "  case %s: status %d, expected %d\n", name, got, rc);
    CHECK_EQ_INT(got, rc);
    if (got == 0) {
        if (want)
            CHECK(size == want_len && memcmp(rows, want, want_len) == 0);
        sa_free(rows);
    }
    steparc_buf_free(&b);
}

#define BAD(name, p, n) expect(name, &(p), n, STEPARC_E_CORRUPT, NULL, 0)

static void test_rules(void)
{
    static const unsigned char base_rows[21] = {
        4, 0, 0, 0, 13, 0, 0, 0, 0x81, 0xA1, 0x61, 0x01,
        0x81, 0xA1, 0x61, 0xA5, 'r', 'u', 'n', '_', 'x',
    };
    parts p = base();
    expect("base", &p, 2, 0, base_rows, sizeof base_rows);

    /* rows_size: 5n <= rows_size <= 80 MiB */
    p = base(); p.hdr[0] = 9; BAD("rows_size < 5n", p, 2);
    p = base(); p.hdr[0] = 20; BAD("output longer than rows_size", p, 2);
    p = base(); p.hdr[0] = 22; BAD("output shorter than rows_size", p, 2);
    p = base(); p.hdr[0] = 83886081; BAD("rows_size > 80 MiB", p, 2);
    /* 5n exactly: two 1-byte records {} {} from one skeleton */
    p = base();
    {
        uint64_t h[] = {10, 1, 0, 2, 3};
        memcpy(p.hdr, h, sizeof h);
        p.nhdr = 5;
        p.ntable = 0;
        setb(p.skel, &p.nskel, "\x00\x01\x80", 3);
        setb(p.ids, &p.nids, "\x00\x00", 2);
        p.nareas = 0;
        static const unsigned char want[10] = {1, 0, 0, 0, 2, 0, 0, 0, 0x80, 0x80};
        expect("rows_size == 5n", &p, 2, 0, want, sizeof want);
        parts q = p; q.hdr[1] = 0; q.nhdr = 4; q.nskel = 0; BAD("S = 0", q, 2);
        q = p; q.hdr[1] = 3; q.hdr[4] = 1; q.hdr[5] = 1; q.hdr[6] = 1; q.nhdr = 7; BAD("S > n", q, 2);
        /* S = 3 > n = 2 even with three well-formed skeletons */
        q = p; q.hdr[1] = 3; q.hdr[5] = 3; q.hdr[6] = 3; q.nhdr = 7;
        setb(q.skel, &q.nskel, "\x00\x01\x80\x00\x01\x80\x00\x01\x80", 9);
        BAD("S > n (well-formed)", q, 2);
        q = p; q.hdr[4] = 0; q.nskel = 0; BAD("skeleton length 0 (an empty record)", q, 2);
        q = p; q.hdr[2] = 65536; BAD("T > 65535", q, 2);
        q = p; q.hdr[2] = 1; BAD("T says 1 stream, table empty", q, 2);
        q = p; q.hdr[3] = 3; BAD("ids_length beyond the payload", q, 2);
        /* leftover skeleton id: ids_length 3 with 3 ids for 2 records */
        q = p; q.hdr[0] = 10; q.hdr[3] = 3; setb(q.ids, &q.nids, "\x00\x00\x00", 3);
        BAD("leftover bytes in the skeleton ids", q, 2);
        q = p; q.nids = 1; q.hdr[3] = 1; BAD("skeleton ids exhausted", q, 2);
        /* one skeleton id written in 2 bytes (a longer varint is allowed) */
        q = p; q.hdr[3] = 3; setb(q.ids, &q.nids, "\x80\x00\x00", 3);
        expect("long varint skeleton id", &q, 2, 0, want, sizeof want);
    }
    /* skeleton ids >= S */
    p = base(); setb(p.ids, &p.nids, "\x00\x02", 2); BAD("skeleton id >= S", p, 2);
    /* a varint running past the end of its area (into the stream areas) */
    p = base(); setb(p.ids, &p.nids, "\x00\x80", 2); BAD("skeleton id varint leaves its area", p, 2);
    /* stream table */
    p = base(); p.table[0] = 0; BAD("stream kind 0", p, 2);
    p = base(); p.table[0] = 5; BAD("stream kind 5", p, 2);
    p = base(); p.table[2] = 3; BAD("int stream declared as float64", p, 2);
    /* an unknown kind is corrupt even when no skeleton uses the stream */
    p = base(); p.hdr[2] = 3; p.table[p.ntable++] = 1; p.table[p.ntable++] = 0;
    expect("unused third stream of kind 1", &p, 2, 0, base_rows, sizeof base_rows);
    p.table[p.ntable - 2] = 5; BAD("unused stream of kind 5", p, 2);
    p.table[p.ntable - 2] = 0; BAD("unused stream of kind 0", p, 2);
    p = base(); p.table[4] = 17; BAD("prefix_length > 16", p, 2);
    /* prefix_length 17 with 17 prefix bytes present */
    p = base();
    setb(p.table, &p.ntable, "\x01\x01" "\x04\x01\x11" "abcdefghijklmnopq" "\x01\x01", 24);
    p.hdr[0] = 21 + 13;
    BAD("prefix_length 17, bytes present", p, 2);
    /* prefix_length 16: the maximum, accepted */
    p = base();
    setb(p.table, &p.ntable, "\x01\x01" "\x04\x01\x10" "abcdefghijklmno_" "\x01\x01", 23);
    p.hdr[0] = 21 + 12;
    {
        unsigned char want[33] = {4, 0, 0, 0, 25, 0, 0, 0, 0x81, 0xA1, 0x61, 0x01, 0x81, 0xA1, 0x61, 0xB1};
        memcpy(want + 16, "abcdefghijklmno_x", 17);
        expect("prefix_length 16", &p, 2, 0, want, sizeof want);
    }
    /* parts not adding up */
    p = base(); p.areas[p.nareas++] = 0; BAD("a trailing byte", p, 2);
    p = base(); p.nareas--; BAD("a byte missing", p, 2);
    p = base(); p.table[1] = 2; BAD("values_length one too big", p, 2);
    p = base(); p.table[9] = 2; BAD("lengths_length one too big", p, 2);
    p = base(); p.table[10] = 0; BAD("bytes_length one too small", p, 2);
    p = base(); p.hdr[4] = 7; BAD("skeleton length one too big", p, 2);
    p = base(); p.hdr[4] = 4; p.hdr[5] = 8; BAD("skeleton lengths shifted into a literal", p, 2);
    /* leftovers in each area, with the sizes adding up */
    p = base(); p.table[1] = 2; setb(p.areas, &p.nareas, "\x02\x02" "\x00\x01x", 5);
    BAD("leftover int value", p, 2);
    p = base(); p.table[3] = 2; setb(p.areas, &p.nareas, "\x02" "\x00\x00\x01x", 5);
    BAD("leftover string code", p, 2);
    p = base(); p.table[9] = 2; setb(p.areas, &p.nareas, "\x02" "\x00\x01\x01x", 5);
    BAD("leftover string length", p, 2);
    p = base(); p.table[10] = 2; setb(p.areas, &p.nareas, "\x02" "\x00\x01xy", 5);
    BAD("leftover string byte", p, 2);
    /* exhausted areas */
    p = base(); p.table[1] = 0; setb(p.areas, &p.nareas, "\x00\x01x", 3); BAD("int stream empty", p, 2);
    p = base(); p.table[3] = 0; setb(p.areas, &p.nareas, "\x02\x01x", 3); BAD("codes empty", p, 2);
    p = base(); p.table[9] = 0; setb(p.areas, &p.nareas, "\x02\x00x", 3); BAD("lengths empty", p, 2);
    p = base(); p.table[10] = 0; setb(p.areas, &p.nareas, "\x02\x00\x01", 3); BAD("bytes empty", p, 2);
    p = base(); setb(p.areas, &p.nareas, "\x02\x00\x02x", 4); p.table[10] = 1; BAD("length beyond bytes", p, 2);
    /* stream references: x <= T */
    p = base(); p.skel[11] = 3; BAD("stream reference x > T", p, 2);
    p = base(); p.skel[11] = 0x80; BAD("truncated stream reference", p, 2);
    /* literals: L >= 1, within the skeleton (not into the next one) */
    p = base(); setb(p.skel, &p.nskel, "\x00\x00\x81\xA1\x61\x01" "\x00\x03\x81\xA1\x61\x02", 12);
    BAD("literal L = 0", p, 2);
    p = base(); setb(p.skel, &p.nskel, "\x00\x05\x81\xA1\x61\x01" "\x00\x03\x81\xA1\x61\x02", 12);
    BAD("literal beyond its skeleton", p, 2);
    p = base(); p.hdr[4] = 2; p.hdr[5] = 10; BAD("skeleton cut inside a literal", p, 2);
    p = base(); p.hdr[4] = 1; p.hdr[5] = 11; BAD("skeleton cut after op 0", p, 2);
    /* string codes: k <= strings seen so far */
    p = base(); p.table[9] = 0; p.table[10] = 0; p.hdr[0] = 20;
    setb(p.areas, &p.nareas, "\x02\x01", 2);
    BAD("string code 1 before any string", p, 2);
    /* three records; the third repeats the string: code 1 valid, code 2 not */
    p = base();
    {
        uint64_t h[] = {21 + 13, 2, 2, 3, 6, 6};
        memcpy(p.hdr, h, sizeof h);
        p.table[3] = 2;
        setb(p.ids, &p.nids, "\x00\x01\x01", 3);
        setb(p.areas, &p.nareas, "\x02" "\x00\x01" "\x01x", 5);
        static const unsigned char want[34] = {
            4, 0, 0, 0, 13, 0, 0, 0, 22, 0, 0, 0, 0x81, 0xA1, 0x61, 0x01,
            0x81, 0xA1, 0x61, 0xA5, 'r', 'u', 'n', '_', 'x',
            0x81, 0xA1, 0x61, 0xA5, 'r', 'u', 'n', '_', 'x',
        };
        expect("string code 1 (a repeat)", &p, 3, 0, want, sizeof want);
        parts q = p;
        q.areas[2] = 2;
        BAD("string code 2 with one string seen", q, 3);
        q.areas[2] = 0x7F;
        BAD("string code 127", q, 3);
    }
    /* varints: at most 10 bytes, a 10th byte of at most 1 */
    {
        /* {"a": INT64_MIN}: zigzag = 2^64 - 1, ten bytes FF x 9, 01 */
        parts q;
        memset(&q, 0, sizeof q);
        uint64_t h[] = {4 + 12, 1, 1, 1, 6};
        memcpy(q.hdr, h, sizeof h);
        q.nhdr = 5;
        setb(q.table, &q.ntable, "\x01\x0A", 2);
        setb(q.skel, &q.nskel, "\x00\x03\x81\xA1\x61\x01", 6);
        setb(q.ids, &q.nids, "\x00", 1);
        setb(q.areas, &q.nareas, "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01", 10);
        static const unsigned char want[16] = {12, 0, 0, 0, 0x81, 0xA1, 0x61, 0xD3, 0x80, 0, 0, 0, 0, 0, 0, 0};
        expect("10-byte varint, 10th byte 1", &q, 1, 0, want, sizeof want);
        q.areas[9] = 2;
        BAD("10-byte varint, 10th byte 2", q, 1);
        q.areas[9] = 0x7F;
        BAD("10-byte varint, 10th byte 7F", q, 1);
        /* 11 bytes: 80 x 10, 00 */
        setb(q.table, &q.ntable, "\x01\x0B", 2);
        setb(q.areas, &q.nareas, "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 11);
        q.hdr[0] = 4 + 4;
        BAD("11-byte varint", q, 1);
        /* the same value in a long header varint: rows_size as 10 bytes, 10th 0 */
        parts r0 = base();
        steparc_buf b = {0}, t = {0};
        assemble(&r0, &t);
        put(&b, "\x95\x80\x80\x80\x80\x80\x80\x80\x80\x00", 10); /* 21 */
        put(&b, t.data + 1, t.len - 1);
        CHECK_EQ_INT(decode_any(b.data, b.len, 2, NULL, NULL), 0);
        b.data[9] = 0x02; /* the 10th byte above 1 */
        CHECK_EQ_INT(decode_any(b.data, b.len, 2, NULL, NULL), STEPARC_E_CORRUPT);
        b.data[9] = 0x01; /* 21 + 2^63: far out of range */
        CHECK_EQ_INT(decode_any(b.data, b.len, 2, NULL, NULL), STEPARC_E_CORRUPT);
        steparc_buf_free(&b);
        steparc_buf_free(&t);
    }
    /* float64: 8 bytes per value */
    {
        parts q;
        memset(&q, 0, sizeof q);
        uint64_t h[] = {4 + 12, 1, 1, 1, 6};
        memcpy(q.hdr, h, sizeof h);
        q.nhdr = 5;
        setb(q.table, &q.ntable, "\x03\x08", 2);
        setb(q.skel, &q.nskel, "\x00\x03\x81\xA1\x61\x01", 6);
        setb(q.ids, &q.nids, "\x00", 1);
        setb(q.areas, &q.nareas, "\x80\x00\x00\x00\x00\x00\x00\x00", 8); /* -0.0 */
        static const unsigned char want[16] = {12, 0, 0, 0, 0x81, 0xA1, 0x61, 0xCB, 0x80, 0, 0, 0, 0, 0, 0, 0};
        expect("float64 -0.0", &q, 1, 0, want, sizeof want);
        parts r1 = q;
        r1.table[1] = 7; r1.nareas = 7; BAD("float64 stream of 7 bytes", r1, 1);
        r1 = q; r1.table[1] = 9; r1.areas[r1.nareas++] = 0; BAD("float64 stream of 9 bytes", r1, 1);
        /* delta stream: 5, then +(-10): -5; wrapping around 2^64 */
        r1 = q;
        r1.hdr[0] = 8 + 4 + 4; r1.hdr[1] = 1; r1.hdr[3] = 2;
        setb(r1.table, &r1.ntable, "\x02\x02", 2);
        setb(r1.ids, &r1.nids, "\x00\x00", 2);
        setb(r1.areas, &r1.nareas, "\x0A\x13", 2);
        static const unsigned char want2[16] = {4, 0, 0, 0, 8, 0, 0, 0, 0x81, 0xA1, 0x61, 0x05,
                                                0x81, 0xA1, 0x61, 0xFB};
        expect("delta stream", &r1, 2, 0, want2, sizeof want2);
        /* INT64_MAX then +1 wraps to INT64_MIN */
        r1.hdr[0] = 8 + 12 + 12;
        /* deltas INT64_MAX (zigzag 2^64 - 2) and 1 (zigzag 2) */
        setb(r1.table, &r1.ntable, "\x02\x0B", 2);
        setb(r1.areas, &r1.nareas, "\xFE\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x01\x02", 11);
        unsigned char want3[32] = {12, 0, 0, 0, 24, 0, 0, 0, 0x81, 0xA1, 0x61, 0xCF, 0x7F, 0xFF, 0xFF, 0xFF,
                                   0xFF, 0xFF, 0xFF, 0xFF, 0x81, 0xA1, 0x61, 0xD3, 0x80, 0, 0, 0, 0, 0, 0, 0};
        /* mp_int writes INT64_MAX as uint64 (CF), INT64_MIN as int64 (D3) */
        expect("delta wraps", &r1, 2, 0, want3, sizeof want3);
    }
    /* skeletons over 4 MiB in total (a real payload of that size) */
    {
        const size_t limit = 4u << 20;
        for (int over = 0; over < 2; over++) {
            /* one record: 81 A1 61 DB len32 bytes; its skeleton: 00 varint(L) L bytes */
            size_t L = limit - 1 - 4 + (size_t)over; /* 4-byte varint for L in 2^21..2^28 */
            steparc_buf b = {0};
            put_varint(&b, 4 + L);
            put_varint(&b, 1);
            put_varint(&b, 0);
            put_varint(&b, 1);
            put_varint(&b, 1 + 4 + L);
            put1(&b, 0);
            put_varint(&b, L);
            unsigned char *rec = (unsigned char *)calloc(1, L);
            memcpy(rec, "\x81\xA1\x61\xDB", 4);
            sa_put_u32(rec + 4, 0); /* length set below, big-endian */
            uint32_t sl = (uint32_t)(L - 8);
            rec[4] = (unsigned char)(sl >> 24); rec[5] = (unsigned char)(sl >> 16);
            rec[6] = (unsigned char)(sl >> 8); rec[7] = (unsigned char)sl;
            put(&b, rec, L);
            put1(&b, 0); /* skeleton id 0 */
            CHECK_EQ_INT(decode_any(b.data, b.len, 1, NULL, NULL), over ? STEPARC_E_CORRUPT : 0);
            free(rec);
            steparc_buf_free(&b);
        }
    }
}

/* ---- allocation failures ---------------------------------------------------- */

/* Every allocation of an encode and of a decode failing in turn: NOMEM,
 * nothing leaked, and the same encoder then encodes the block correctly
 * (no table left half-grown). */
static void test_oom(void)
{
    h_rng_state = h_seed() ^ 0x0F0F;
    genopt o = {0, 0};
    recs r = {0};
    gen_recs(&o, &r, 60);
    steparc_buf rows = {0}, col = {0}, out = {0};
    rows_build(&r, &rows);
    sa_colenc *ref = sa_colenc_new();
    CHECK_EQ_INT(sa_col_encode(ref, (const unsigned char *)rows.data, rows.len, r.n, &col), 0);
    sa_colenc_free(ref);
    long points = 0;
    for (long k = 1; k < 100000; k++) {
        long before = g_live;
        arm_at(k);
        sa_colenc *e = sa_colenc_new();
        int rc = e ? sa_col_encode(e, (const unsigned char *)rows.data, rows.len, r.n, &out)
                   : STEPARC_E_NOMEM;
        disarm();
        int injected = g_injected;
        if (injected) {
            CHECK_EQ_INT(rc, STEPARC_E_NOMEM);
            if (e) { /* the encoder recovers */
                CHECK_EQ_INT(sa_col_encode(e, (const unsigned char *)rows.data, rows.len, r.n, &out), 0);
                CHECK(out.len == col.len && memcmp(out.data, col.data, col.len) == 0);
            }
        } else {
            CHECK_EQ_INT(rc, 0);
            CHECK(out.len == col.len && memcmp(out.data, col.data, col.len) == 0);
        }
        sa_colenc_free(e);
        steparc_buf_free(&out);
        CHECK_EQ_INT(g_live, before);
        if (!injected) {
            points = k - 1;
            break;
        }
    }
    printf("# sa_col_encode: %ld allocation points\n", points);
    CHECK(points > 5);
    for (long k = 1; k < 100000; k++) {
        long before = g_live;
        arm_at(k);
        unsigned char *back = NULL;
        size_t size = 0;
        const char *why = NULL;
        int rc = sa_col_decode((const unsigned char *)col.data, col.len, r.n, &back, &size, &why);
        disarm();
        int injected = g_injected;
        CHECK_EQ_INT(rc, injected ? STEPARC_E_NOMEM : 0);
        if (rc == 0)
            CHECK(size == rows.len && memcmp(back, rows.data, size) == 0);
        sa_free(back);
        CHECK_EQ_INT(g_live, before);
        if (!injected) {
            printf("# sa_col_decode: %ld allocation points\n", k - 1);
            break;
        }
    }
    recs_free(&r);
    steparc_buf_free(&rows);
    steparc_buf_free(&col);
}

/* ---- through the public API --------------------------------------------------- */

typedef struct {
    steparc_buf *mp; /* the records, as added */
    size_t n, cap;
} recset;

static void set_add(recset *s, const void *p, size_t len)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->mp = (steparc_buf *)realloc(s->mp, s->cap * sizeof *s->mp);
        if (s->mp == NULL)
            abort();
    }
    memset(&s->mp[s->n], 0, sizeof s->mp[0]);
    put(&s->mp[s->n], p, len);
    s->n++;
}

static void set_free(recset *s)
{
    for (size_t i = 0; i < s->n; i++)
        steparc_buf_free(&s->mp[i]);
    free(s->mp);
    memset(s, 0, sizeof *s);
}

/* Records for the archive tests: generated steps (tests/gen_steps.py, when
 * tests/run.sh made them) and the strict random records. */
static void gen_set(recset *s, size_t nrandom, size_t ngen)
{
    const char *gen = getenv("STEPARC_GEN");
    size_t len = 0;
    char *text = gen ? h_read_file(gen, &len) : NULL;
    steparc_buf mp = {0};
    if (text) {
        size_t used = 0;
        for (char *line = text; *line && used < ngen;) {
            char *nl = strchr(line, '\n');
            size_t ll = nl ? (size_t)(nl - line) : strlen(line);
            if (ll && steparc_json_to_msgpack(&mp, line, ll, STEPARC_JSON_REQUIRE_OBJECT, NULL) == 0) {
                set_add(s, mp.data, mp.len);
                used++;
            }
            if (!nl)
                break;
            line = nl + 1;
        }
        free(text);
    }
    genopt o = {1, 0};
    for (size_t i = 0; i < nrandom; i++) {
        gen_record(&o, &mp);
        set_add(s, mp.data, mp.len);
    }
    steparc_buf_free(&mp);
}

static int write_set(const char *path, const recset *s, size_t from, size_t to, int layout,
                     uint32_t block_size, int threads, int append)
{
    steparc_writer_options o;
    steparc_writer_options_init(&o);
    o.layout = layout;
    o.block_size = block_size;
    o.threads = threads;
    o.no_fsync = 1;
    steparc_writer *w = NULL;
    char err[256] = "";
    int rc = append ? steparc_writer_open_append(&w, path, &o, err, sizeof err)
                    : steparc_writer_open(&w, path, &o, err, sizeof err);
    if (rc) {
        fprintf(stderr, "  open %s: %s\n", path, err);
        return rc;
    }
    for (size_t i = from; i < to && rc == 0; i++) {
        rc = steparc_writer_add_msgpack(w, s->mp[i].data, s->mp[i].len);
        if (rc)
            fprintf(stderr, "  record %zu: %s\n", i, steparc_writer_errmsg(w));
    }
    if (rc == 0 && (rc = steparc_writer_finish(w)) != 0)
        fprintf(stderr, "  finish: %s\n", steparc_writer_errmsg(w));
    steparc_writer_close(w);
    return rc;
}

/* Opens path; checks every record is exactly s[from..] (in order) and that
 * the archive verifies; fills info. */
static void check_archive(const char *path, const recset *s, size_t count, steparc_info *info)
{
    steparc_reader *r = NULL;
    memset(info, 0, sizeof *info);
    int rc = steparc_reader_open(&r, path, NULL, NULL, 0);
    CHECK_EQ_INT(rc, 0);
    if (rc)
        return;
    CHECK_EQ_INT(steparc_reader_count(r), count);
    CHECK_EQ_INT(steparc_reader_info(info, r), 0);
    steparc_buf b = {0};
    size_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        rc = steparc_reader_get_msgpack(&b, r, i);
        if (rc != 0 || b.len != s->mp[i].len || memcmp(b.data, s->mp[i].data, b.len) != 0)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
    uint64_t np = 99;
    CHECK_EQ_INT(steparc_verify(&np, r, NULL, NULL), 0);
    CHECK_EQ_INT(np, 0);
    steparc_buf_free(&b);
    steparc_reader_close(r);
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static void test_api_layouts(void)
{
    h_rng_state = h_seed() ^ 0x77;
    recset s = {0};
    gen_set(&s, 1500, 1500);
    char pc[512], pr[512], pd[512], pt[512];
    path_of(pc, sizeof pc, "col.steparc");
    path_of(pr, sizeof pr, "rows.steparc");
    path_of(pd, sizeof pd, "default.steparc");
    path_of(pt, sizeof pt, "threads.steparc");
    steparc_info ic, ir, id;
    CHECK_EQ_INT(write_set(pc, &s, 0, s.n, STEPARC_LAYOUT_COLUMNAR, 16384, 0, 0), 0);
    CHECK_EQ_INT(write_set(pr, &s, 0, s.n, STEPARC_LAYOUT_ROWS, 16384, 0, 0), 0);
    CHECK_EQ_INT(write_set(pd, &s, 0, s.n, STEPARC_LAYOUT_DEFAULT, 16384, 0, 0), 0);
    CHECK_EQ_INT(write_set(pt, &s, 0, s.n, STEPARC_LAYOUT_COLUMNAR, 16384, 3, 0), 0);
    check_archive(pc, &s, s.n, &ic);
    check_archive(pr, &s, s.n, &ir);
    check_archive(pd, &s, s.n, &id);
    CHECK(ic.blocks > 10);
    CHECK_EQ_INT(ic.columnar_blocks, ic.blocks);
    CHECK_EQ_INT(ic.format_minor, 3); /* columnar blocks, packed key sets, block kinds */
    CHECK_EQ_INT(id.columnar_blocks, id.blocks);
    CHECK_EQ_INT(ir.columnar_blocks, 0);
    CHECK_EQ_INT(ir.format_minor, 0);
    CHECK_EQ_INT(ic.blocks, ir.blocks); /* blocks are cut on the rows' size either way */
    CHECK(ic.raw_bytes == ir.raw_bytes);
    /* compression threads change nothing, columnar encoders included */
    size_t la = 0, lb = 0;
    char *a = h_read_file(pc, &la), *b = h_read_file(pt, &lb);
    CHECK(a && b && la == lb && memcmp(a, b, la) == 0);
    free(a);
    free(b);
    /* both layouts agree record by record, by id too */
    steparc_reader *rc1 = NULL, *rr1 = NULL;
    CHECK_EQ_INT(steparc_reader_open(&rc1, pc, NULL, NULL, 0), 0);
    CHECK_EQ_INT(steparc_reader_open(&rr1, pr, NULL, NULL, 0), 0);
    if (rc1 && rr1) {
        steparc_buf x = {0}, y = {0};
        size_t diff = 0;
        for (uint64_t i = s.n; i-- > 0;) { /* backwards: another block order through the cache */
            int r1 = steparc_reader_get_msgpack(&x, rc1, i), r2 = steparc_reader_get_msgpack(&y, rr1, i);
            if (r1 || r2 || !(x.len == y.len && memcmp(x.data, y.data, x.len) == 0))
                diff++;
            r1 = steparc_reader_get_json(&x, rc1, i, 0);
            r2 = steparc_reader_get_json(&y, rr1, i, 0);
            if (r1 || r2 || !(x.len == y.len && memcmp(x.data, y.data, x.len) == 0))
                diff++;
        }
        CHECK_EQ_INT(diff, 0);
        steparc_buf_free(&x);
        steparc_buf_free(&y);
    }
    steparc_reader_close(rc1);
    steparc_reader_close(rr1);
    unlink(pc);
    unlink(pr);
    unlink(pd);
    unlink(pt);
    set_free(&s);
}

/* A block with more than 65,535 streams is stored as rows, the next one as
 * columns; both read back exactly. */
static void test_api_limit_fallback(void)
{
    h_rng_state = h_seed() ^ 0x99;
    recs r = {0};
    uint32_t key = 0;
    /* 1100 records of 100 unique keys (1003 bytes each): the first 1 MiB block
     * holds 1041 of them, over 104,000 streams */
    unique_key_records(&r, 1100, 100, &key);
    recset s = {0};
    uint32_t prev = 0;
    for (uint32_t i = 0; i < r.n; i++) {
        set_add(&s, r.data.data + prev, r.ends[i] - prev);
        prev = r.ends[i];
    }
    recs_free(&r);
    genopt o = {1, 0};
    steparc_buf mp = {0};
    for (int i = 0; i < 300; i++) {
        gen_record(&o, &mp);
        set_add(&s, mp.data, mp.len);
    }
    steparc_buf_free(&mp);
    char p[512];
    path_of(p, sizeof p, "limit.steparc");
    steparc_info info;
    CHECK_EQ_INT(write_set(p, &s, 0, s.n, STEPARC_LAYOUT_COLUMNAR, 1u << 20, 0, 0), 0);
    check_archive(p, &s, s.n, &info);
    CHECK_EQ_INT(info.blocks, 2);
    CHECK_EQ_INT(info.columnar_blocks, 1);
    CHECK_EQ_INT(info.format_minor, 3);
    /* which one: the rows block is the first (the second holds record 1100 on) */
    unlink(p);
    /* the too-varied records alone: one rows block, still a 1.1 archive */
    CHECK_EQ_INT(write_set(p, &s, 0, 1041, STEPARC_LAYOUT_COLUMNAR, 1u << 20, 0, 0), 0);
    check_archive(p, &s, 1041, &info);
    CHECK_EQ_INT(info.blocks, 1);
    CHECK_EQ_INT(info.columnar_blocks, 0);
    unlink(p);
    set_free(&s);
}

/* Append keeps an archive's version: rows stay rows in a 1.0 archive. */
static void test_api_append(void)
{
    h_rng_state = h_seed() ^ 0x55;
    recset s = {0};
    gen_set(&s, 600, 600);
    size_t half = s.n / 2;
    char p[512];
    path_of(p, sizeof p, "append.steparc");
    steparc_info info;
    /* a 1.0 archive of rows, appended with columnar asked for */
    CHECK_EQ_INT(write_set(p, &s, 0, half, STEPARC_LAYOUT_ROWS, 8192, 0, 0), 0);
    check_archive(p, &s, half, &info);
    CHECK_EQ_INT(info.format_minor, 0);
    CHECK_EQ_INT(write_set(p, &s, half, s.n, STEPARC_LAYOUT_COLUMNAR, 8192, 0, 1), 0);
    check_archive(p, &s, s.n, &info);
    CHECK_EQ_INT(info.format_minor, 0);
    CHECK_EQ_INT(info.columnar_blocks, 0);
    size_t len = 0;
    char *img = h_read_file(p, &len);
    CHECK(img && len > 12 && img[10] == 0 && img[11] == 0); /* header minor, little-endian */
    free(img);
    unlink(p);
    /* a 1.3 archive: columnar appends columnar, rows appends rows */
    CHECK_EQ_INT(write_set(p, &s, 0, half, STEPARC_LAYOUT_COLUMNAR, 8192, 0, 0), 0);
    check_archive(p, &s, half, &info);
    uint64_t first = info.columnar_blocks;
    CHECK_EQ_INT(first, info.blocks);
    size_t q = half + (s.n - half) / 2;
    CHECK_EQ_INT(write_set(p, &s, half, q, STEPARC_LAYOUT_ROWS, 8192, 0, 1), 0);
    check_archive(p, &s, q, &info);
    CHECK_EQ_INT(info.columnar_blocks, first);
    uint64_t blocks_before = info.blocks;
    CHECK_EQ_INT(write_set(p, &s, q, s.n, STEPARC_LAYOUT_DEFAULT, 8192, 0, 1), 0);
    check_archive(p, &s, s.n, &info);
    CHECK_EQ_INT(info.format_minor, 3);
    CHECK_EQ_INT(info.columnar_blocks, first + (info.blocks - blocks_before));
    CHECK(info.blocks > blocks_before && blocks_before > first);
    unlink(p);
    set_free(&s);
}

/* Dedup reads finished blocks back (columnar ones decoded): the result is the
 * same as with rows. Recovery of a columnar archive gives all its records. */
static void test_api_dedup_recover(void)
{
    h_rng_state = h_seed() ^ 0x33;
    recset s = {0};
    gen_set(&s, 0, 800);
    if (s.n == 0) {
        /* no generated steps: records with repeated ids */
        steparc_buf mp = {0};
        char json[200];
        for (int i = 0; i < 800; i++) {
            snprintf(json, sizeof json,
                     "{\"id\":\"step_%d\",\"created_at\":%d,\"status\":\"%s\",\"run_id\":\"run_%d\"}",
                     (int)rnd(300), 1700000000 + i, rnd(2) ? "completed" : "in_progress", i % 7);
            CHECK_EQ_INT(steparc_json_to_msgpack(&mp, json, strlen(json), 0, NULL), 0);
            set_add(&s, mp.data, mp.len);
        }
        steparc_buf_free(&mp);
    } else {
        /* repeat some records: duplicates to drop */
        size_t n0 = s.n;
        for (size_t i = 0; i < n0; i += 3)
            set_add(&s, s.mp[i].data, s.mp[i].len);
    }
    char pc[512], pr[512], pv[512];
    path_of(pc, sizeof pc, "dedup-col.steparc");
    path_of(pr, sizeof pr, "dedup-rows.steparc");
    path_of(pv, sizeof pv, "recovered.steparc");
    for (int layout = STEPARC_LAYOUT_ROWS; layout <= STEPARC_LAYOUT_COLUMNAR; layout++) {
        steparc_writer_options o;
        steparc_writer_options_init(&o);
        o.layout = layout;
        o.block_size = 4096;
        o.dedup = 1;
        o.no_fsync = 1;
        o.dict_size = -1; /* block 0 is then a data block: damaged below */
        steparc_writer *w = NULL;
        CHECK_EQ_INT(steparc_writer_open(&w, layout == STEPARC_LAYOUT_ROWS ? pr : pc, &o, NULL, 0), 0);
        for (size_t i = 0; w && i < s.n; i++)
            CHECK_EQ_INT(steparc_writer_add_msgpack(w, s.mp[i].data, s.mp[i].len), 0);
        CHECK_EQ_INT(steparc_writer_finish(w), 0);
        CHECK(steparc_writer_duplicates(w) > 0);
        steparc_writer_close(w);
    }
    steparc_reader *a = NULL, *b = NULL;
    CHECK_EQ_INT(steparc_reader_open(&a, pc, NULL, NULL, 0), 0);
    CHECK_EQ_INT(steparc_reader_open(&b, pr, NULL, NULL, 0), 0);
    if (a && b) {
        steparc_info ia, ib;
        steparc_reader_info(&ia, a);
        steparc_reader_info(&ib, b);
        CHECK_EQ_INT(ia.columnar_blocks, ia.blocks);
        CHECK_EQ_INT(ib.columnar_blocks, 0);
        CHECK_EQ_INT(steparc_reader_count(a), steparc_reader_count(b));
        steparc_buf x = {0}, y = {0};
        size_t diff = 0;
        for (uint64_t i = 0; i < steparc_reader_count(a); i++) {
            int r1 = steparc_reader_get_msgpack(&x, a, i), r2 = steparc_reader_get_msgpack(&y, b, i);
            if (r1 || r2 || !(x.len == y.len && memcmp(x.data, y.data, x.len) == 0))
                diff++;
        }
        CHECK_EQ_INT(diff, 0);
        steparc_buf_free(&x);
        steparc_buf_free(&y);
    }
    steparc_reader_close(b);
    /* recovery decodes every columnar block and writes the same records */
    size_t la = 0;
    char *img = h_read_file(pc, &la);
    CHECK(img != NULL);
    for (int damage = 0; img && a && damage < 2; damage++) {
        steparc_writer_options o;
        steparc_writer_options_init(&o);
        o.no_fsync = 1;
        o.block_size = 4096;
        steparc_writer *w = NULL;
        CHECK_EQ_INT(steparc_writer_open(&w, pv, &o, NULL, 0), 0);
        if (damage) /* a byte inside block 0's payload (no dictionary: block 0 is data) */
            img[40 + 64 + 10] ^= 0x55;
        steparc_recover_report rep;
        CHECK_EQ_INT(steparc_recover(&rep, img, la, w, NULL, NULL), 0);
        CHECK_EQ_INT(rep.blocks_damaged, damage);
        CHECK_EQ_INT(steparc_writer_finish(w), 0);
        steparc_writer_close(w);
        uint64_t total = steparc_reader_count(a);
        if (!damage) {
            CHECK_EQ_INT(rep.records_saved, total);
        } else {
            CHECK(rep.records_saved > 0 && rep.records_saved < total);
        }
        steparc_reader *v = NULL;
        CHECK_EQ_INT(steparc_reader_open(&v, pv, NULL, NULL, 0), 0);
        if (v) {
            /* the saved records are the last records_saved ones of the original */
            uint64_t skip = total - steparc_reader_count(v);
            steparc_buf x = {0}, y = {0};
            size_t diff = 0;
            for (uint64_t i = 0; i < steparc_reader_count(v); i++) {
                int r1 = steparc_reader_get_msgpack(&x, v, i), r2 = steparc_reader_get_msgpack(&y, a, skip + i);
                if (r1 || r2 || !(x.len == y.len && memcmp(x.data, y.data, x.len) == 0))
                    diff++;
            }
            CHECK_EQ_INT(diff, 0);
            steparc_buf_free(&x);
            steparc_buf_free(&y);
            steparc_reader_close(v);
        }
    }
    free(img);
    steparc_reader_close(a);
    unlink(pc);
    unlink(pr);
    unlink(pv);
    set_free(&s);
}

int main(void)
{
    /* before any other library call (steparc.h) */
    hook_install();
    const char *tmp = getenv("STEPARC_TMP");
    snprintf(g_dir, sizeof g_dir, "%s/columnar.XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL)
        return 1;
    printf("# seed %" PRIu64 " (set STEPARC_SEED to replay)\n", h_seed());
    RUN(test_roundtrip_edges);
    RUN(test_roundtrip_property);
    RUN(test_encode_rejects);
    RUN(test_limit_streams);
    RUN(test_limit_skeleton_bytes);
    RUN(test_rules);
    RUN(test_hostile_mutations);
    RUN(test_hostile_random);
    RUN(test_oom);
    RUN(test_api_layouts);
    RUN(test_api_limit_fallback);
    RUN(test_api_append);
    RUN(test_api_dedup_recover);
    for (size_t i = 0; i < POOL; i++)
        steparc_buf_free(&g_pool[i]);
    rmdir(g_dir);
    /* everything the library allocated was freed, by it or by these tests */
    if (g_live != 0) {
        printf("FAIL library allocations left: %ld\n", (long)atomic_load(&g_live));
        return 1;
    }
    return h_done();
}
