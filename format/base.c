/* base.c - allocation hook, buffers, status strings, versions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

/* The ABI on LP64: the size of every public struct, pinned. A change here is an
 * ABI change: bump STEPARC_VERSION_MINOR (the soname follows, see steparc.h)
 * and the pinned size together; the caller-allocated option and report structs
 * grow into their reserved_ tails instead. */
#if defined(__LP64__) || defined(_LP64)
#define PIN_SIZE(T, n) _Static_assert(sizeof(T) == (n), #T " changed size: ABI change")
PIN_SIZE(steparc_buf, 24);
PIN_SIZE(steparc_allocator, 64);
PIN_SIZE(steparc_str, 16);
PIN_SIZE(steparc_value, 24);
PIN_SIZE(steparc_member, 40);
PIN_SIZE(steparc_extras, 16);
PIN_SIZE(steparc_keyorder, 16);
PIN_SIZE(steparc_opt_str, 32);
PIN_SIZE(steparc_opt_enum, 40);
PIN_SIZE(steparc_opt_int, 24);
PIN_SIZE(steparc_opt_num, 32);
PIN_SIZE(steparc_opt_value, 16);
PIN_SIZE(steparc_last_error, 104);
PIN_SIZE(steparc_message_creation, 64);
PIN_SIZE(steparc_ci_image, 64);
PIN_SIZE(steparc_ci_output, 184);
PIN_SIZE(steparc_code_interpreter, 96);
PIN_SIZE(steparc_ranking_options, 104);
PIN_SIZE(steparc_fs_content, 104);
PIN_SIZE(steparc_fs_result, 160);
PIN_SIZE(steparc_file_search, 184);
PIN_SIZE(steparc_function, 128);
PIN_SIZE(steparc_tool_call, 560);
PIN_SIZE(steparc_step_details, 184);
PIN_SIZE(steparc_usage, 104);
PIN_SIZE(steparc_step, 888);
PIN_SIZE(steparc_json_error, 216);
PIN_SIZE(steparc_writer_options, 64);
PIN_SIZE(steparc_convert_stats, 248);
PIN_SIZE(steparc_convert_options, 88);
PIN_SIZE(steparc_reader_options, 40);
PIN_SIZE(steparc_info, 160);
PIN_SIZE(steparc_filter, 184);
PIN_SIZE(steparc_problem, 216);
PIN_SIZE(steparc_recover_report, 104);
#endif

static steparc_allocator g_alloc; /* all NULL: libc. Set once before use. */

void steparc_set_allocator(const steparc_allocator *a)
{
    if (a == NULL || a->malloc_fn == NULL || a->realloc_fn == NULL || a->free_fn == NULL)
        memset(&g_alloc, 0, sizeof g_alloc);
    else
        g_alloc = *a;
}

void *sa_malloc(size_t n)
{
    if (n == 0)
        n = 1;
    return g_alloc.malloc_fn ? g_alloc.malloc_fn(g_alloc.opaque, n) : malloc(n);
}

void *sa_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *p = sa_malloc(count * size);
    if (p != NULL)
        memset(p, 0, count * size != 0 ? count * size : 1);
    return p;
}

void *sa_realloc(void *p, size_t n)
{
    if (n == 0)
        n = 1;
    return g_alloc.realloc_fn ? g_alloc.realloc_fn(g_alloc.opaque, p, n) : realloc(p, n);
}

void sa_free(void *p)
{
    if (p == NULL)
        return;
    if (g_alloc.free_fn)
        g_alloc.free_fn(g_alloc.opaque, p);
    else
        free(p);
}

int sa_buf_reserve(steparc_buf *b, size_t extra)
{
    if (b->len + extra < b->len)
        return STEPARC_E_NOMEM;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return STEPARC_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = (char *)sa_realloc(b->data, cap);
    if (p == NULL)
        return STEPARC_E_NOMEM;
    b->data = p;
    b->cap = cap;
    return STEPARC_OK;
}

int sa_grow(void *arrp, size_t *cap, size_t n, size_t esize, size_t first)
{
    if (n < *cap)
        return STEPARC_OK;
    size_t nc = *cap ? *cap : first;
    while (nc <= n) {
        if (nc > SIZE_MAX / 2 / esize)
            return STEPARC_E_NOMEM;
        nc *= 2;
    }
    if (nc > SIZE_MAX / esize)
        return STEPARC_E_NOMEM;
    void *old, *p;
    memcpy(&old, arrp, sizeof old); /* arrp points at a T *: any object pointer */
    p = sa_realloc(old, nc * esize);
    if (p == NULL)
        return STEPARC_E_NOMEM;
    memcpy(arrp, &p, sizeof p);
    *cap = nc;
    return STEPARC_OK;
}

void steparc_buf_free(steparc_buf *b)
{
    if (b == NULL)
        return;
    sa_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sa_fmt(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (cap == 0 || dst == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

const char *steparc_strerror(int status)
{
    switch (status) {
    case STEPARC_OK: return "ok";
    case STEPARC_END: return "end of iteration";
    case STEPARC_E_IO: return "I/O error";
    case STEPARC_E_NOMEM: return "out of memory";
    case STEPARC_E_CORRUPT: return "archive is damaged";
    case STEPARC_E_VERSION: return "unsupported format version";
    case STEPARC_E_ARG: return "invalid argument";
    case STEPARC_E_NOTFOUND: return "not found";
    case STEPARC_E_LIMIT: return "limit exceeded";
    case STEPARC_E_INPUT: return "invalid input";
    case STEPARC_E_MISUSE: return "call out of sequence";
    default: return "unknown status";
    }
}

unsigned steparc_version_number(void)
{
    return STEPARC_VERSION_NUMBER;
}

const char *steparc_version_string(void)
{
    return STEPARC_VERSION_STRING;
}
