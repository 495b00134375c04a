/* fuzz_roundtrip.c - structure-aware: the input bytes are choices that build
 * run-step JSON records.
 *
 * Each choice picks a key (a known field of the step schema at that level, or
 * an unknown one), a value kind (the field's own type, or a mistyped value),
 * string contents (ASCII, controls, quotes, NUL, 2/3/4-byte UTF-8, U+2028,
 * each written raw or as an escape or a surrogate pair), integers (64-bit
 * extremes, -0, random), floats from raw bits (NaN and infinity skipped,
 * written as %.17g, %.17e, shortest, with upper-case E), nesting, whitespace.
 * Now and then an error is planted: a duplicate key, a lone surrogate,
 * invalid UTF-8, a raw control character, an integer beyond 64 bits, a
 * leading zero, a float beyond the double range, nesting beyond 64 levels.
 *
 * The target writes the generator's own canonical JSON (compact and pretty,
 * Python's json.dumps rules, independent of the library) next to the input
 * text, then checks:
 * - steparc_json_to_msgpack and steparc_writer_add_json accept exactly the
 *   valid records and fail planted errors with E_INPUT / E_LIMIT;
 * - steparc_msgpack_to_json of the MessagePack is the expected text;
 * - after steparc_writer_finish (into a memory-backed scratch directory) the
 *   archive verifies, holds the valid records, and get_json / pretty get_json
 *   equal the expected texts; steparc_step_to_json(get_step) equals get_json
 *   (--via-struct); find_id finds the first record with each id. */
#define _GNU_SOURCE
#include <math.h>

#include "fuzz_common.h"

/* ---- byte source ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n, i;
    uint64_t rng; /* for choices that should not cost input bytes (whitespace) */
} src;

static unsigned take(src *s, unsigned mod)
{
    if (s->i >= s->n || mod <= 1)
        return 0;
    return s->p[s->i++] % mod;
}

static uint64_t take64(src *s)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v = (v << 8) | (s->i < s->n ? s->p[s->i++] : 0);
    return v;
}

static unsigned rnd(src *s, unsigned mod)
{
    s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)((s->rng >> 33) % mod);
}

/* ---- output buffers (plain malloc: not library allocations) ------------------------ */

typedef struct {
    char *d;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = (char *)realloc(b->d, cap);
        if (d == NULL)
            abort();
        b->d = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->d + b->len, p, n);
    b->len += n;
    b->d[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_ch(sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

/* ---- generator state --------------------------------------------------------------- */

typedef struct {
    src s;
    sbuf in;      /* the JSON text given to the library */
    sbuf exp;     /* its canonical compact JSON */
    sbuf pexp;    /* its canonical pretty JSON (indent=2) */
    int err_input, err_limit; /* planted errors */
    int ws_rate;  /* 0..3: how much whitespace between tokens */
    int errs_ok;  /* whether errors may be planted in this record */
    int nodes;    /* values generated so far (bounds the record size) */
} gen;

static void ws(gen *g)
{
    if (g->ws_rate == 0 || rnd(&g->s, 4) >= (unsigned)g->ws_rate)
        return;
    static const char *const spaces[] = {" ", "\n", "\t", "\r\n", "  ", " \n    "};
    sb_str(&g->in, spaces[rnd(&g->s, 6)]);
}

static void indent(sbuf *b, int depth)
{
    sb_ch(b, '\n');
    for (int i = 0; i < depth; i++)
        sb_str(b, "  ");
}

/* ---- strings ------------------------------------------------------------------------ */

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The canonical form of one code point (FORMAT.md 6.3). */
static void canon_cp(sbuf *b, uint32_t cp)
{
    char tmp[8];
    switch (cp) {
    case '"': sb_str(b, "\\\""); return;
    case '\\': sb_str(b, "\\\\"); return;
    case '\b': sb_str(b, "\\b"); return;
    case '\f': sb_str(b, "\\f"); return;
    case '\n': sb_str(b, "\\n"); return;
    case '\r': sb_str(b, "\\r"); return;
    case '\t': sb_str(b, "\\t"); return;
    default: break;
    }
    if (cp < 0x20) {
        snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)cp);
        sb_str(b, tmp);
        return;
    }
    sb_put(b, tmp, utf8_put(tmp, cp));
}

/* One code point in the input text: raw when JSON allows it, else (or by
 * choice) as an escape. */
static void input_cp(gen *g, uint32_t cp, unsigned style)
{
    char tmp[16];
    if (style == 1 || style == 2) { /* \u escape, lower or upper hex */
        const char *f = style == 1 ? "\\u%04x" : "\\u%04X";
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            snprintf(tmp, sizeof tmp, f, (unsigned)(0xD800 + (v >> 10)));
            sb_str(&g->in, tmp);
            snprintf(tmp, sizeof tmp, f, (unsigned)(0xDC00 + (v & 0x3FF)));
            sb_str(&g->in, tmp);
        } else {
            snprintf(tmp, sizeof tmp, f, (unsigned)cp);
            sb_str(&g->in, tmp);
        }
        return;
    }
    switch (cp) { /* short escapes, always used for these */
    case '"': sb_str(&g->in, "\\\""); return;
    case '\\': sb_str(&g->in, "\\\\"); return;
    case '\b': sb_str(&g->in, "\\b"); return;
    case '\f': sb_str(&g->in, "\\f"); return;
    case '\n': sb_str(&g->in, "\\n"); return;
    case '\r': sb_str(&g->in, "\\r"); return;
    case '\t': sb_str(&g->in, "\\t"); return;
    case '/':
        if (style == 3) {
            sb_str(&g->in, "\\/");
            return;
        }
        break;
    default: break;
    }
    if (cp < 0x20) {
        snprintf(tmp, sizeof tmp, "\\u%04x", (unsigned)cp);
        sb_str(&g->in, tmp);
        return;
    }
    sb_put(&g->in, tmp, utf8_put(tmp, cp));
}

static uint32_t pick_cp(gen *g)
{
    switch (take(&g->s, 12)) {
    case 0: return 0x20 + take(&g->s, 0x5F);              /* printable ASCII */
    case 1: return take(&g->s, 0x20);                     /* controls, NUL */
    case 2: {
        static const uint32_t special[] = {'"', '\\', '/', 0x7F, 0x2028, 0x2029, 0xFEFF, 0xFFFD,
                                           0xFFFF, 0x10FFFF, 0x1F600, 0x80, 0x7FF, 0x800, 0xD7FF,
                                           0xE000};
        return special[take(&g->s, 16)];
    }
    case 3: return 0x80 + ((take(&g->s, 256) << 3) | take(&g->s, 8)) % 0x780;        /* 2 bytes */
    case 4: {                                                                      /* 3 bytes */
        uint32_t v = 0x800 + ((take(&g->s, 256) << 8) | take(&g->s, 256)) % 0xF800;
        return (v >= 0xD800 && v <= 0xDFFF) ? v + 0x800 : v;
    }
    case 5: return 0x10000 + ((take(&g->s, 256) << 12) | (take(&g->s, 256) << 4) | take(&g->s, 16)) % 0x100000;
    default: return 'a' + take(&g->s, 26);
    }
}

/* Decodes the UTF-8 code point of a literal at lit[*i] (leaves *i on its last byte). */
static uint32_t lit_cp(const char *lit, size_t n, size_t *i)
{
    const unsigned char *s = (const unsigned char *)lit;
    uint32_t c = s[*i];
    int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    if (more)
        c &= (uint32_t)(0x3F >> more);
    for (int k = 0; k < more && *i + 1 < n; k++)
        c = (c << 6) | (s[++*i] & 0x3F);
    return c;
}

/* Writes a string token into in/exp (see gen_string_both for pexp); *raw (when non-NULL) receives the
 * decoded bytes. `lit` (when non-NULL) fixes the contents. */
static void gen_string(gen *g, const char *lit, size_t litlen, sbuf *raw)
{
    sbuf dec = {0};
    sb_ch(&g->in, '"');
    sb_ch(&g->exp, '"');
    unsigned style_all = take(&g->s, 4); /* 0 raw, 1/2 all escaped, 3 mixed */
    size_t n = lit ? litlen : take(&g->s, 24);
    if (!lit && take(&g->s, 16) == 0)
        n = 40 + take(&g->s, 250); /* str8 / str16 headers */
    for (size_t i = 0; i < n; i++) {
        uint32_t cp;
        if (lit) {
            cp = lit_cp(lit, litlen, &i);
        } else if (g->errs_ok && take(&g->s, 64) == 0) {
            /* planted string error */
            switch (take(&g->s, 6)) {
            case 0: sb_str(&g->in, "\\ud800x"); break;           /* lone high surrogate */
            case 1: sb_str(&g->in, "\\udc00"); break;            /* lone low surrogate */
            case 2: sb_str(&g->in, "\xff"); break;               /* invalid UTF-8 */
            case 3: sb_str(&g->in, "\xed\xa0\x80"); break;       /* encoded surrogate */
            case 4: sb_str(&g->in, "\n"); break;                 /* raw control character */
            default: sb_str(&g->in, "\\x"); break;               /* invalid escape */
            }
            g->err_input = 1;
            continue;
        } else {
            cp = pick_cp(g);
        }
        unsigned style = style_all == 3 ? rnd(&g->s, 4) : style_all;
        input_cp(g, cp, style);
        canon_cp(&g->exp, cp);
        char tmp[8];
        sb_put(&dec, tmp, utf8_put(tmp, cp));
    }
    sb_ch(&g->in, '"');
    sb_ch(&g->exp, '"');
    if (raw)
        sb_put(raw, dec.d, dec.len);
    free(dec.d);
}

/* gen_string writes exp only; this copies the last string token into pexp too. */
static void gen_string_both(gen *g, const char *lit, size_t litlen, sbuf *raw)
{
    size_t at = g->exp.len;
    gen_string(g, lit, litlen, raw);
    sb_put(&g->pexp, g->exp.d + at, g->exp.len - at);
}

/* ---- numbers ------------------------------------------------------------------------ */

static void put_both(gen *g, const char *s)
{
    sb_str(&g->exp, s);
    sb_str(&g->pexp, s);
}

static void gen_int(gen *g)
{
    char in[48], ex[48];
    unsigned k = take(&g->s, 16);
    if (g->errs_ok && take(&g->s, 48) == 0) {
        static const char *const bad[] = {"18446744073709551616", "-9223372036854775809",
                                          "99999999999999999999999", "01", "-", "1.", "1e", "+1",
                                          ".5", "0x10"};
        sb_str(&g->in, bad[take(&g->s, 10)]);
        g->err_input = 1;
        put_both(g, "0");
        return;
    }
    switch (k) {
    case 0: snprintf(in, sizeof in, "0"); break;
    case 1: snprintf(in, sizeof in, "-0"); break;
    case 2: snprintf(in, sizeof in, "%lld", (long long)INT64_MAX); break;
    case 3: snprintf(in, sizeof in, "%lld", (long long)INT64_MIN); break;
    case 4: snprintf(in, sizeof in, "%llu", (unsigned long long)UINT64_MAX); break;
    case 5: snprintf(in, sizeof in, "%llu", (unsigned long long)INT64_MAX + 1); break;
    case 6: snprintf(in, sizeof in, "%llu", (unsigned long long)take64(&g->s)); break;
    case 7: snprintf(in, sizeof in, "%lld", (long long)take64(&g->s)); break;
    case 8: snprintf(in, sizeof in, "%d", (int)take(&g->s, 256) - 128); break;
    case 9: snprintf(in, sizeof in, "%lld", -(long long)(take(&g->s, 256) << 8 | take(&g->s, 256)) - 30); break;
    case 10: { /* around the msgpack header boundaries */
        static const long long edge[] = {127, 128, 255, 256, 65535, 65536, 4294967295LL, 4294967296LL,
                                         -32, -33, -128, -129, -32768, -32769, -2147483648LL,
                                         -2147483649LL};
        snprintf(in, sizeof in, "%lld", edge[take(&g->s, 16)]);
        break;
    }
    default: snprintf(in, sizeof in, "%u", (unsigned)take(&g->s, 256) * 1000003u); break;
    }
    sb_str(&g->in, in);
    snprintf(ex, sizeof ex, "%s", strcmp(in, "-0") == 0 ? "0" : in);
    put_both(g, ex);
}

/* Shortest round-trip digits of x > 0: digits (no trailing zeros) and decpt,
 * the value being 0.d1d2... x 10^decpt. Independent of the library's code. */
static int parse_e(const char *t, char *dig, int *decpt)
{
    int n = 0;
    const char *s = t;
    while (*s && *s != 'e') {
        if (*s >= '0' && *s <= '9')
            dig[n++] = *s;
        s++;
    }
    int e = atoi(s + 1);
    *decpt = e + 1;
    return n;
}

static int digits_roundtrip(const char *dig, int n, int decpt, double x)
{
    char t[64];
    int k = 0;
    t[k++] = '0';
    t[k++] = '.';
    for (int i = 0; i < n; i++)
        t[k++] = dig[i];
    snprintf(t + k, sizeof t - (size_t)k, "e%d", decpt);
    return strtod(t, NULL) == x;
}

static int step_digits(char *dig, int n, int *decpt, int dir)
{
    /* adds dir (+1/-1) units in the last place; returns the new length */
    int i = n - 1;
    if (dir > 0) {
        while (i >= 0 && dig[i] == '9')
            dig[i--] = '0';
        if (i < 0) {
            memmove(dig + 1, dig, (size_t)n);
            dig[0] = '1';
            (*decpt)++;
            n++;
        } else {
            dig[i]++;
        }
    } else {
        while (i >= 0 && dig[i] == '0')
            dig[i--] = '9';
        if (i < 0)
            return 0;
        dig[i]--;
        if (dig[0] == '0') {
            memmove(dig, dig + 1, (size_t)n - 1);
            n--;
            (*decpt)--;
        }
    }
    return n;
}

static int shortest(double x, char *dig, int *decpt)
{
    for (int p = 1; p <= 17; p++) {
        char t[64], c[40];
        snprintf(t, sizeof t, "%.*e", p - 1, x);
        int dp;
        int n = parse_e(t, c, &dp);
        if (digits_roundtrip(c, n, dp, x)) {
            memcpy(dig, c, (size_t)n);
            *decpt = dp;
            return n;
        }
        for (int dir = 1; dir >= -1; dir -= 2) {
            char c2[40];
            int dp2 = dp;
            memcpy(c2, c, (size_t)n);
            int n2 = step_digits(c2, n, &dp2, dir);
            if (n2 > 0 && n2 <= p + 1 && digits_roundtrip(c2, n2, dp2, x)) {
                memcpy(dig, c2, (size_t)n2);
                *decpt = dp2;
                return n2;
            }
        }
    }
    char t[64];
    snprintf(t, sizeof t, "%.16e", x);
    return parse_e(t, dig, decpt);
}

/* Python's repr of a finite double. */
static void py_repr(double x, char *out, size_t cap)
{
    if (x == 0) {
        snprintf(out, cap, "%s", signbit(x) ? "-0.0" : "0.0");
        return;
    }
    char dig[40];
    int decpt;
    int n = shortest(fabs(x), dig, &decpt);
    while (n > 1 && dig[n - 1] == '0')
        n--;
    sbuf b = {0};
    if (x < 0)
        sb_ch(&b, '-');
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            sb_str(&b, "0.");
            for (int i = 0; i < -decpt; i++)
                sb_ch(&b, '0');
            sb_put(&b, dig, (size_t)n);
        } else if (decpt < n) {
            sb_put(&b, dig, (size_t)decpt);
            sb_ch(&b, '.');
            sb_put(&b, dig + decpt, (size_t)(n - decpt));
        } else {
            sb_put(&b, dig, (size_t)n);
            for (int i = 0; i < decpt - n; i++)
                sb_ch(&b, '0');
            sb_str(&b, ".0");
        }
    } else {
        sb_ch(&b, dig[0]);
        if (n > 1) {
            sb_ch(&b, '.');
            sb_put(&b, dig + 1, (size_t)(n - 1));
        }
        char e[16];
        int ex = decpt - 1;
        snprintf(e, sizeof e, "e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
        sb_str(&b, e);
    }
    snprintf(out, cap, "%s", b.d);
    free(b.d);
}

static void gen_float(gen *g)
{
    char in[80], ex[48];
    unsigned k = take(&g->s, 8);
    double x;
    if (g->errs_ok && take(&g->s, 64) == 0) {
        sb_str(&g->in, take(&g->s, 2) ? "1e400" : "-2.5E+999");
        g->err_input = 1;
        put_both(g, "0.0");
        return;
    }
    if (k == 7) {
        static const char *const fixed[][2] = {
            {"1e-400", "0.0"},   {"-1e-400", "-0.0"}, {"1E2", "100.0"}, {"1.0", "1.0"},
            {"-0.0", "-0.0"},    {"0e0", "0.0"},      {"1e16", "1e+16"}, {"1e-5", "1e-05"},
            {"123456789012345678e-2", "1234567890123456.8"}, {"5e-324", "5e-324"},
            {"1.7976931348623157e308", "1.7976931348623157e+308"}, {"0.1", "0.1"},
            {"2.5e-324", "5e-324"}, {"9007199254740993.0", "9007199254740992.0"},
            {"0.30000000000000004", "0.30000000000000004"}, {"1e-4", "0.0001"}};
        unsigned i = take(&g->s, 16);
        sb_str(&g->in, fixed[i][0]);
        put_both(g, fixed[i][1]);
        return;
    }
    uint64_t bits = take64(&g->s);
    if (k == 6)
        bits = (bits & 0x800FFFFFFFFFFFFFULL) | ((uint64_t)(0x3F0 + take(&g->s, 32)) << 52); /* moderate exponents */
    memcpy(&x, &bits, 8);
    if (x != x || x - x != 0.0)
        x = 0.5; /* NaN and infinity have no JSON form */
    py_repr(x, ex, sizeof ex);
    switch (k % 4) {
    case 0: snprintf(in, sizeof in, "%.17g", x); break;
    case 1: snprintf(in, sizeof in, "%.17e", x); break;
    case 2: snprintf(in, sizeof in, "%.20E", x); break;
    default: snprintf(in, sizeof in, "%s", ex); break;
    }
    if (strpbrk(in, ".eE") == NULL)
        strcat(in, ".0"); /* keep it a float */
    sb_str(&g->in, in);
    put_both(g, ex);
}

/* ---- the schema ---------------------------------------------------------------------- */

typedef enum { F_STR, F_ID, F_ENUM, F_INT, F_NUM, F_VALUE, F_OBJ, F_ARR } fkind;

typedef struct schema schema;
typedef struct {
    const char *name;
    fkind k;
    const schema *sub;
    const char *const *names;
} field;

struct schema {
    const field *f;
    int n;
};

#define N(a) (int)(sizeof(a) / sizeof(a[0]))

static const char *const e_object[] = {"thread.run.step", "thread.run.step.delta", "list", NULL};
static const char *const e_type[] = {"message_creation", "tool_calls", "retrieval", NULL};
static const char *const e_status[] = {"in_progress", "cancelled", "failed", "completed", "expired", NULL};
static const char *const e_code[] = {"server_error", "rate_limit_exceeded", "invalid_prompt", NULL};
static const char *const e_tool[] = {"code_interpreter", "file_search", "function", "browser", NULL};
static const char *const e_out[] = {"logs", "image", NULL};
static const char *const e_ranker[] = {"auto", "default_2024_08_21", NULL};
static const char *const e_content[] = {"text", NULL};

static const field f_image[] = {{"file_id", F_STR, NULL, NULL}};
static const schema s_image = {f_image, N(f_image)};
static const field f_output[] = {{"type", F_ENUM, NULL, e_out}, {"logs", F_STR, NULL, NULL},
                                 {"image", F_OBJ, &s_image, NULL}};
static const schema s_output = {f_output, N(f_output)};
static const field f_ci[] = {{"input", F_STR, NULL, NULL}, {"outputs", F_ARR, &s_output, NULL}};
static const schema s_ci = {f_ci, N(f_ci)};
static const field f_ro[] = {{"ranker", F_ENUM, NULL, e_ranker}, {"score_threshold", F_NUM, NULL, NULL}};
static const schema s_ro = {f_ro, N(f_ro)};
static const field f_content[] = {{"type", F_ENUM, NULL, e_content}, {"text", F_STR, NULL, NULL}};
static const schema s_content = {f_content, N(f_content)};
static const field f_result[] = {{"file_id", F_STR, NULL, NULL}, {"file_name", F_STR, NULL, NULL},
                                 {"score", F_NUM, NULL, NULL}, {"content", F_ARR, &s_content, NULL}};
static const schema s_result = {f_result, N(f_result)};
static const field f_fs[] = {{"ranking_options", F_OBJ, &s_ro, NULL}, {"results", F_ARR, &s_result, NULL}};
static const schema s_fs = {f_fs, N(f_fs)};
static const field f_fn[] = {{"name", F_STR, NULL, NULL}, {"arguments", F_STR, NULL, NULL},
                             {"output", F_STR, NULL, NULL}};
static const schema s_fn = {f_fn, N(f_fn)};
static const field f_tc[] = {{"id", F_STR, NULL, NULL}, {"type", F_ENUM, NULL, e_tool},
                             {"code_interpreter", F_OBJ, &s_ci, NULL}, {"file_search", F_OBJ, &s_fs, NULL},
                             {"function", F_OBJ, &s_fn, NULL}};
static const schema s_tc = {f_tc, N(f_tc)};
static const field f_mc[] = {{"message_id", F_STR, NULL, NULL}};
static const schema s_mc = {f_mc, N(f_mc)};
static const field f_det[] = {{"type", F_ENUM, NULL, e_type}, {"message_creation", F_OBJ, &s_mc, NULL},
                              {"tool_calls", F_ARR, &s_tc, NULL}};
static const schema s_det = {f_det, N(f_det)};
static const field f_err[] = {{"code", F_ENUM, NULL, e_code}, {"message", F_STR, NULL, NULL}};
static const schema s_err = {f_err, N(f_err)};
static const field f_usage[] = {{"prompt_tokens", F_INT, NULL, NULL}, {"completion_tokens", F_INT, NULL, NULL},
                                {"total_tokens", F_INT, NULL, NULL}};
static const schema s_usage = {f_usage, N(f_usage)};
static const field f_step[] = {
    {"id", F_ID, NULL, NULL},           {"object", F_ENUM, NULL, e_object},
    {"created_at", F_INT, NULL, NULL},  {"run_id", F_ID, NULL, NULL},
    {"assistant_id", F_ID, NULL, NULL}, {"thread_id", F_ID, NULL, NULL},
    {"type", F_ENUM, NULL, e_type},     {"status", F_ENUM, NULL, e_status},
    {"cancelled_at", F_INT, NULL, NULL}, {"completed_at", F_INT, NULL, NULL},
    {"expires_at", F_INT, NULL, NULL},  {"expired_at", F_INT, NULL, NULL},
    {"failed_at", F_INT, NULL, NULL},   {"last_error", F_OBJ, &s_err, NULL},
    {"step_details", F_OBJ, &s_det, NULL}, {"usage", F_OBJ, &s_usage, NULL},
    {"metadata", F_VALUE, NULL, NULL}};
static const schema s_step = {f_step, N(f_step)};

/* ---- values ------------------------------------------------------------------------------ */

#define MAX_NODES 400

static void gen_value(gen *g, int depth, int level, sbuf *raw);
static void gen_object(gen *g, const schema *sc, int depth, int level, sbuf *id_out);

static void open_container(gen *g, char c, int level)
{
    sb_ch(&g->in, c);
    sb_ch(&g->exp, c);
    sb_ch(&g->pexp, c);
    if (level > STEPARC_MAX_DEPTH)
        g->err_limit = 1;
}

static void gen_array(gen *g, const schema *items, int depth, int level)
{
    open_container(g, '[', level);
    unsigned n = take(&g->s, 6);
    if (n == 5)
        n = 5 + take(&g->s, 20);
    if (g->nodes > MAX_NODES || depth > 10)
        n = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i) {
            sb_ch(&g->in, ',');
            sb_ch(&g->exp, ',');
            sb_ch(&g->pexp, ',');
        }
        ws(g);
        indent(&g->pexp, depth + 1);
        if (items && take(&g->s, 16) != 0)
            gen_object(g, items, depth + 1, level + 1, NULL);
        else
            gen_value(g, depth + 1, level + 1, NULL);
        ws(g);
    }
    if (n)
        indent(&g->pexp, depth);
    sb_ch(&g->in, ']');
    sb_ch(&g->exp, ']');
    sb_ch(&g->pexp, ']');
}

/* A value nested in `extra` single-item arrays/objects (deep nesting). */
static void gen_deep(gen *g, int depth, int level)
{
    unsigned extra = take(&g->s, 80);
    char close[128];
    unsigned n = 0;
    for (unsigned i = 0; i < extra && n < sizeof close; i++) {
        int obj = (int)take(&g->s, 2);
        open_container(g, obj ? '{' : '[', level + (int)i);
        indent(&g->pexp, depth + (int)i + 1);
        if (obj) {
            sb_str(&g->in, "\"k\":");
            sb_str(&g->exp, "\"k\":");
            sb_str(&g->pexp, "\"k\": ");
        }
        close[n++] = obj ? '}' : ']';
    }
    sb_str(&g->in, "7");
    put_both(g, "7");
    while (n > 0) {
        n--;
        indent(&g->pexp, depth + (int)n);
        sb_ch(&g->in, close[n]);
        sb_ch(&g->exp, close[n]);
        sb_ch(&g->pexp, close[n]);
    }
}

/* depth: pretty-printing depth; level: the nesting level the value has if it
 * is a container. raw (when non-NULL) receives a string's decoded bytes. */
static void gen_value(gen *g, int depth, int level, sbuf *raw)
{
    g->nodes++;
    unsigned k = take(&g->s, 10);
    if (g->nodes > MAX_NODES && (k == 7 || k == 8 || k == 9))
        k = 0;
    switch (k) {
    case 0: sb_str(&g->in, "null"); put_both(g, "null"); break;
    case 1: sb_str(&g->in, "true"); put_both(g, "true"); break;
    case 2: sb_str(&g->in, "false"); put_both(g, "false"); break;
    case 3: gen_int(g); break;
    case 4: gen_float(g); break;
    case 5: case 6: gen_string_both(g, NULL, 0, raw); break;
    case 7: gen_array(g, NULL, depth, level); break;
    case 8: gen_object(g, NULL, depth, level, NULL); break;
    default:
        if (take(&g->s, 4) == 0)
            gen_deep(g, depth, level);
        else
            gen_array(g, NULL, depth, level);
        break;
    }
}

static void gen_field(gen *g, const field *f, int depth, int level, sbuf *id_out)
{
    g->nodes++;
    if (take(&g->s, 10) == 0) { /* mistyped (or null) */
        gen_value(g, depth, level, id_out);
        return;
    }
    switch (f->k) {
    case F_ID: {
        /* few distinct values, so that filters and duplicate ids happen */
        char v[32];
        unsigned m = take(&g->s, 8);
        if (m < 6) {
            snprintf(v, sizeof v, "%s_%u", f->name, m);
            gen_string_both(g, v, strlen(v), id_out);
        } else {
            gen_string_both(g, NULL, 0, id_out);
        }
        break;
    }
    case F_STR: gen_string_both(g, NULL, 0, NULL); break;
    case F_ENUM: {
        int n = 0;
        while (f->names[n])
            n++;
        unsigned i = take(&g->s, (unsigned)n + 1);
        if (i < (unsigned)n)
            gen_string_both(g, f->names[i], strlen(f->names[i]), NULL);
        else
            gen_string_both(g, NULL, 0, NULL);
        break;
    }
    case F_INT: gen_int(g); break;
    case F_NUM:
        if (take(&g->s, 2))
            gen_float(g);
        else
            gen_int(g);
        break;
    case F_VALUE: gen_value(g, depth, level, NULL); break;
    case F_OBJ: gen_object(g, f->sub, depth, level, NULL); break;
    case F_ARR: gen_array(g, f->sub, depth, level); break;
    }
}

static const char *const unknown_keys[] = {"note", "score", "", "prompt_token_details", "x-extra",
                                           "retrieval", "ID", "id ", "\xc3\xa9t\xc3\xa9", "a\\b"};

/* An object: known fields of sc (or none), unknown keys, unique keys unless
 * a duplicate is planted. id_out receives the decoded "id" when it is a string. */
static void gen_object(gen *g, const schema *sc, int depth, int level, sbuf *id_out)
{
    open_container(g, '{', level);
    unsigned n = take(&g->s, 8);
    if (n == 7)
        n = 7 + take(&g->s, 16);
    if (g->nodes > MAX_NODES || depth > 10)
        n = 0;
    sbuf keys = {0}; /* decoded keys, each followed by a 0xFF separator (never in UTF-8) */
    unsigned written = 0;
    for (unsigned i = 0; i < n; i++) {
        const field *f = NULL;
        sbuf key = {0};
        size_t in_at = g->in.len, exp_at = g->exp.len, pexp_at = g->pexp.len;
        if (written) {
            sb_ch(&g->in, ',');
            sb_ch(&g->exp, ',');
            sb_ch(&g->pexp, ',');
        }
        ws(g);
        indent(&g->pexp, depth + 1);
        size_t kexp_at = g->exp.len;
        unsigned pick = take(&g->s, 4);
        if (sc && pick != 0) {
            f = &sc->f[take(&g->s, (unsigned)sc->n)];
            gen_string(g, f->name, strlen(f->name), &key);
        } else if (take(&g->s, 3) == 0) {
            const char *u = unknown_keys[take(&g->s, N(unknown_keys))];
            gen_string(g, u, strlen(u), &key);
        } else {
            gen_string(g, NULL, 0, &key);
        }
        sb_put(&g->pexp, g->exp.d + kexp_at, g->exp.len - kexp_at);
        /* duplicate? */
        int dup = 0;
        for (size_t at = 0; at < keys.len;) {
            char *end = (char *)memchr(keys.d + at, 0xFF, keys.len - at);
            size_t kl = (size_t)(end - (keys.d + at));
            if (kl == key.len && (kl == 0 || memcmp(keys.d + at, key.d, kl) == 0))
                dup = 1;
            at += kl + 1;
        }
        if (dup && !(g->errs_ok && take(&g->s, 8) == 0)) {
            /* drop this member: roll the outputs back */
            g->in.len = in_at;
            g->exp.len = exp_at;
            g->pexp.len = pexp_at;
            g->in.d[in_at] = g->exp.d[exp_at] = g->pexp.d[pexp_at] = 0;
            free(key.d);
            continue;
        }
        if (dup)
            g->err_input = 1;
        sb_put(&keys, key.d ? key.d : "", key.len);
        sb_ch(&keys, (char)0xFF);
        ws(g);
        sb_ch(&g->in, ':');
        sb_ch(&g->exp, ':');
        sb_str(&g->pexp, ": ");
        ws(g);
        sbuf idv = {0};
        int is_id = id_out && f && strcmp(f->name, "id") == 0 && !dup;
        size_t exp_before = g->exp.len;
        if (f)
            gen_field(g, f, depth + 1, level + 1, is_id ? &idv : NULL);
        else
            gen_value(g, depth + 1, level + 1, NULL);
        if (is_id) {
            /* a string value starts with '"' in exp */
            if (g->exp.d[exp_before] == '"') {
                id_out->len = 0;
                sb_put(id_out, idv.d ? idv.d : "", idv.len);
                id_out->cap = id_out->cap ? id_out->cap : 1;
            } else {
                id_out->len = 0;
                id_out->cap = 0; /* marks "not a string" */
                free(id_out->d);
                id_out->d = NULL;
            }
        }
        free(idv.d);
        ws(g);
        free(key.d);
        written++;
    }
    free(keys.d);
    if (written)
        indent(&g->pexp, depth);
    sb_ch(&g->in, '}');
    sb_ch(&g->exp, '}');
    sb_ch(&g->pexp, '}');
}

/* ---- the target ------------------------------------------------------------------------- */

#define MAX_RECORDS 6

typedef struct {
    sbuf in, exp, pexp;
    sbuf id; /* decoded id; id.d != NULL when "id" is a string */
    int has_id;
    int ok, err_input, err_limit;
} record;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init_alloc();
    if (size > 20000)
        return 0;
    src s = {data, size, 0, 0x9E3779B97F4A7C15ULL ^ size};
    record recs[MAX_RECORDS];
    memset(recs, 0, sizeof recs);
    int nrec = 0;
    unsigned style = take(&s, 256);
    s.rng ^= style;
    while (nrec < MAX_RECORDS && (nrec == 0 || s.i < s.n)) {
        record *r = &recs[nrec++];
        gen g;
        memset(&g, 0, sizeof g);
        g.s = s;
        g.ws_rate = (int)(style & 3);
        g.errs_ok = (style & 4) != 0;
        ws(&g);
        gen_object(&g, &s_step, 0, 1, &r->id);
        ws(&g);
        s = g.s;
        r->in = g.in;
        r->exp = g.exp;
        r->pexp = g.pexp;
        r->has_id = r->id.cap != 0;
        r->err_input = g.err_input;
        r->err_limit = g.err_limit;
        r->ok = !g.err_input && !g.err_limit;
    }

    /* the codec alone */
    steparc_buf mp = {0}, js = {0}, pj = {0};
    for (int i = 0; i < nrec; i++) {
        record *r = &recs[i];
        steparc_json_error err;
        int rc = steparc_json_to_msgpack(&mp, r->in.d, r->in.len, STEPARC_JSON_REQUIRE_OBJECT, &err);
        if (r->ok && rc != 0) {
            fz_dump("input", r->in.d, r->in.len);
            FZ_FAIL("valid JSON rejected: %d: %s at offset %zu", rc, err.reason, err.offset);
        }
        if (!r->ok) {
            if (rc == 0) {
                fz_dump("input", r->in.d, r->in.len);
                FZ_FAIL("invalid JSON accepted (planted %s error)", r->err_input ? "input" : "limit");
            }
            if (r->err_input && !r->err_limit)
                FZ_CHECK(rc == STEPARC_E_INPUT);
            else if (r->err_limit && !r->err_input)
                FZ_CHECK(rc == STEPARC_E_LIMIT);
            else
                FZ_STATUS_IN(rc, STEPARC_E_INPUT, STEPARC_E_LIMIT);
            FZ_CHECK(err.offset <= r->in.len);
            continue;
        }
        rc = steparc_msgpack_to_json(&js, mp.data, mp.len, 0);
        FZ_CHECK(rc == 0);
        if (js.len != r->exp.len || memcmp(js.data, r->exp.d, js.len) != 0) {
            fz_dump("input", r->in.d, r->in.len);
            fz_dump("expected", r->exp.d, r->exp.len);
            fz_dump("library", js.data, js.len);
            FZ_FAIL("canonical JSON differs from the expected text");
        }
        rc = steparc_msgpack_to_json(&pj, mp.data, mp.len, STEPARC_JSON_PRETTY);
        FZ_CHECK(rc == 0);
        if (pj.len != r->pexp.len || memcmp(pj.data, r->pexp.d, pj.len) != 0) {
            fz_dump("expected", r->pexp.d, r->pexp.len);
            fz_dump("library", pj.data, pj.len);
            FZ_FAIL("pretty JSON differs from the expected text");
        }
    }

    /* through an archive */
    char path[600];
    snprintf(path, sizeof path, "%s/rt.steparc", fz_tmpdir());
    steparc_writer_options wo;
    steparc_writer_options_init(&wo);
    wo.block_size = 1024 + (uint32_t)(style >> 3) * 64; /* 1 .. 3 KiB: one or more records per block */
    wo.level = 1;
    wo.no_fsync = 1;
    steparc_writer *w = NULL;
    char werr[256];
    int rc = steparc_writer_open(&w, path, &wo, werr, sizeof werr);
    if (rc != 0)
        FZ_FAIL("steparc_writer_open: %d: %s", rc, werr);
    int stored[MAX_RECORDS], nstored = 0;
    for (int i = 0; i < nrec; i++) {
        record *r = &recs[i];
        steparc_json_error err;
        rc = steparc_writer_add_json(w, r->in.d, r->in.len, &err);
        if (r->ok) {
            if (rc != 0)
                FZ_FAIL("steparc_writer_add_json rejected a valid record: %d: %s", rc,
                        steparc_writer_errmsg(w));
            stored[nstored++] = i;
        } else {
            FZ_STATUS_IN(rc, STEPARC_E_INPUT, STEPARC_E_LIMIT);
        }
    }
    FZ_CHECK(steparc_writer_count(w) == (uint64_t)nstored);
    rc = steparc_writer_finish(w);
    if (rc != 0)
        FZ_FAIL("steparc_writer_finish: %d: %s", rc, steparc_writer_errmsg(w));
    steparc_writer_close(w);

    char errbuf[256];
    steparc_reader *rd = NULL;
    rc = steparc_reader_open(&rd, path, NULL, errbuf, sizeof errbuf);
    if (rc != 0)
        FZ_FAIL("the archive just written does not open: %s", errbuf);
    FZ_CHECK(steparc_reader_count(rd) == (uint64_t)nstored);
    uint64_t nprob = 0;
    rc = steparc_verify(&nprob, rd, NULL, NULL);
    if (rc != 0)
        FZ_FAIL("the archive just written does not verify: %s", steparc_reader_errmsg(rd));
    steparc_buf sj = {0};
    for (int k = 0; k < nstored; k++) {
        record *r = &recs[stored[k]];
        rc = steparc_reader_get_json(&js, rd, (uint64_t)k, 0);
        FZ_CHECK(rc == 0);
        if (js.len != r->exp.len || memcmp(js.data, r->exp.d, js.len) != 0) {
            fz_dump("expected", r->exp.d, r->exp.len);
            fz_dump("get_json", js.data, js.len);
            FZ_FAIL("get_json(%d) differs from the expected text", k);
        }
        rc = steparc_reader_get_json(&pj, rd, (uint64_t)k, STEPARC_JSON_PRETTY);
        FZ_CHECK(rc == 0);
        FZ_CHECK(pj.len == r->pexp.len && memcmp(pj.data, r->pexp.d, pj.len) == 0);
        steparc_step *st = NULL;
        rc = steparc_reader_get_step(&st, rd, (uint64_t)k);
        FZ_CHECK(rc == 0);
        rc = steparc_step_to_json(&sj, st, 0);
        FZ_CHECK(rc == 0);
        if (!fz_buf_eq(&sj, &js)) {
            fz_dump("get_json", js.data, js.len);
            fz_dump("via struct", sj.data, sj.len);
            FZ_FAIL("steparc_step_to_json(get_step(%d)) differs from get_json", k);
        }
        /* the struct re-encodes to the stored bytes */
        rc = steparc_reader_get_msgpack(&mp, rd, (uint64_t)k);
        FZ_CHECK(rc == 0);
        steparc_buf enc = {0};
        rc = steparc_step_encode(&enc, st);
        FZ_CHECK(rc == 0);
        FZ_CHECK(fz_buf_eq(&enc, &mp));
        steparc_buf_free(&enc);
        steparc_step_free(st);
        if (r->has_id) {
            uint64_t at = UINT64_MAX;
            int first = k;
            for (int j = 0; j < k; j++) {
                record *o = &recs[stored[j]];
                if (o->has_id && o->id.len == r->id.len &&
                    (r->id.len == 0 || memcmp(o->id.d, r->id.d, r->id.len) == 0)) {
                    first = j;
                    break;
                }
            }
            rc = steparc_reader_find_id(&at, rd, r->id.d ? r->id.d : "", r->id.len);
            if (rc != 0 || at != (uint64_t)first)
                FZ_FAIL("find_id(record %d's id) gave %d / %llu, expected %d", k, rc,
                        (unsigned long long)at, first);
        }
    }
    steparc_reader_close(rd);
    unlink(path);
    steparc_buf_free(&mp);
    steparc_buf_free(&js);
    steparc_buf_free(&pj);
    steparc_buf_free(&sj);
    for (int i = 0; i < nrec; i++) {
        free(recs[i].in.d);
        free(recs[i].exp.d);
        free(recs[i].pexp.d);
        free(recs[i].id.d);
    }
    fz_check_leaks();
    return 0;
}
