/* regression_driver.c - runs a fuzz target without libFuzzer.
 *
 * Usage: fuzzreplay_TARGET [-v] PATH...
 * Every PATH is a file (one input) or a directory (every regular file in it,
 * in name order, hidden files skipped). Each input goes through
 * LLVMFuzzerTestOneInput once. A violated invariant traps, so the exit status
 * tells whether every input passed; -v names each input on stderr first, so
 * the last name printed is the culprit. Prints "N inputs" at the end. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int g_verbose;
static unsigned long g_inputs;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    size_t cap = 4096, n = 0, k;
    uint8_t *b = (uint8_t *)malloc(cap);
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *nb = (uint8_t *)realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (b == NULL || err) {
        fprintf(stderr, "cannot read %s\n", path);
        free(b);
        return 1;
    }
    if (g_verbose) {
        fprintf(stderr, "input %s (%zu bytes)\n", path, n);
        fflush(stderr);
    }
    /* an exact-size copy, so that reading past the input is caught by ASan */
    uint8_t *exact = (uint8_t *)malloc(n ? n : 1);
    if (exact == NULL) {
        free(b);
        return 1;
    }
    if (n)
        memcpy(exact, b, n);
    free(b);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    g_inputs++;
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "cannot stat %s\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "cannot open directory %s\n", path);
        return 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = (char **)realloc(names, cap * sizeof *names);
            if (nn == NULL)
                abort();
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (names[n] == NULL)
            abort();
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(path) + strlen(names[i]) + 2;
        char *p = (char *)malloc(len);
        if (p == NULL)
            abort();
        snprintf(p, len, "%s/%s", path, names[i]);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            rc |= run_file(p);
        free(p);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0, first = 1;
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        g_verbose = 1;
        first = 2;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: %s [-v] FILE-OR-DIRECTORY...\n", argv[0]);
        return 2;
    }
    for (int i = first; i < argc; i++)
        rc |= run_path(argv[i]);
    printf("%lu inputs\n", g_inputs);
    return rc;
}
