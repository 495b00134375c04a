/* fuzz_common.h - shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Every target is an LLVMFuzzerTestOneInput built two ways: with libFuzzer and
 * sanitizers (make fuzz) and, linked with regression_driver.c, as a plain
 * replay program (make test). Invariant violations call FZ_FAIL, which prints
 * the condition and traps, so both builds stop on them.
 *
 * The targets route the library's allocations through a counting hook
 * (steparc_set_allocator) and check after each input that everything the
 * library allocated was freed: leaks are found even without LeakSanitizer. */
#ifndef STEPARC_FUZZ_COMMON_H
#define STEPARC_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif

#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steparc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_FAIL(...)                                                        \
    do {                                                                    \
        fprintf(stderr, "fuzz invariant violated at %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                                       \
        fputc('\n', stderr);                                                \
        fflush(stderr);                                                     \
        __builtin_trap();                                                   \
    } while (0)

#define FZ_CHECK(cond)                                                      \
    do {                                                                    \
        if (!(cond))                                                        \
            FZ_FAIL("%s", #cond);                                           \
    } while (0)

/* rc must be one of the listed statuses (up to 6; pad with rc itself). */
#define FZ_STATUS_IN(rc, ...) fz_status_in((rc), #rc, __FILE__, __LINE__, (int[]){__VA_ARGS__}, \
                                           sizeof((int[]){__VA_ARGS__}) / sizeof(int))
__attribute__((unused)) static void fz_status_in(int rc, const char *what, const char *file, int line,
                                                 const int *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc == ok[i])
            return;
    fprintf(stderr, "fuzz invariant violated at %s:%d: %s returned %d (%s), not an allowed status\n",
            file, line, what, rc, steparc_strerror(rc));
    fflush(stderr);
    __builtin_trap();
}

/* ---- counting allocation hook (tests/alloc_hook.h, never armed here) ---------- */

#include "../alloc_hook.h"

/* Installs the counting hook once (before any other library call). */
__attribute__((unused)) static void fz_init_alloc(void)
{
    static int done;
    if (!done) {
        hook_install();
        done = 1;
    }
}

/* Call at the end of each input, after everything was closed and freed. */
__attribute__((unused)) static void fz_check_leaks(void)
{
    long live = atomic_load(&g_live);
    if (live != 0)
        FZ_FAIL("library allocations not freed after this input: %ld", live);
}

/* ---- scratch directory (memory-backed when /dev/shm exists) -------------------- */

static char fz_dir[512];

static void fz_rm_dir(void)
{
    if (!fz_dir[0])
        return;
    DIR *d = opendir(fz_dir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", fz_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(fz_dir);
    fz_dir[0] = 0;
}

__attribute__((unused)) static const char *fz_tmpdir(void)
{
    if (!fz_dir[0]) {
        const char *base = getenv("STEPARC_FUZZ_TMP");
        if (base == NULL || !*base)
            base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : NULL;
        if (base == NULL)
            base = getenv("TMPDIR");
        if (base == NULL || !*base)
            base = "/tmp";
        snprintf(fz_dir, sizeof fz_dir, "%s/steparc-fuzz-XXXXXX", base);
        if (mkdtemp(fz_dir) == NULL)
            FZ_FAIL("cannot create a scratch directory under %s", base);
        atexit(fz_rm_dir);
    }
    return fz_dir;
}

/* Reads a whole file (malloc'd, not through the hook); NULL on failure. */
__attribute__((unused)) static unsigned char *fz_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0, k;
    unsigned char *b = (unsigned char *)malloc(cap);
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            unsigned char *nb = (unsigned char *)realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

/* Byte-string equality of two buffers. */
__attribute__((unused)) static int fz_buf_eq(const steparc_buf *a, const steparc_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Prints a buffer for a failure report (escaped, truncated). */
__attribute__((unused)) static void fz_dump(const char *label, const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    fprintf(stderr, "%s (%zu bytes): ", label, n);
    for (size_t i = 0; i < n && i < 600; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
            fputc(s[i], stderr);
        else
            fprintf(stderr, "\\x%02x", s[i]);
    }
    fputc('\n', stderr);
}

#endif
