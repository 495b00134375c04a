/* alloc_hook.h - the test allocator for steparc_set_allocator: it counts the
 * library's live allocations and, when armed, fails the allocation with a
 * given number. Shared by test_oom.c and test_columnar.c. Counters are
 * atomic: the writer allocates from its compression threads too. */
#ifndef STEPARC_ALLOC_HOOK_H
#define STEPARC_ALLOC_HOOK_H

#include <stdatomic.h>
#include <stdlib.h>

#include "steparc.h"

static atomic_long g_live;      /* successful allocations minus frees */
static atomic_long g_count;     /* allocations attempted while armed */
static long g_fail_at;          /* fail the allocation with this number (1-based); 0 = none */
static atomic_int g_armed;
static atomic_int g_injected;   /* a failure was injected in this run */

static int should_fail(void)
{
    if (!atomic_load(&g_armed))
        return 0;
    long n = atomic_fetch_add(&g_count, 1) + 1;
    if (g_fail_at != 0 && n == g_fail_at) {
        atomic_store(&g_injected, 1);
        return 1;
    }
    return 0;
}

static void *h_malloc(void *o, size_t n)
{
    (void)o;
    if (should_fail())
        return NULL;
    void *p = malloc(n);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

static void *h_realloc(void *o, void *p, size_t n)
{
    (void)o;
    if (should_fail())
        return NULL;
    void *q = realloc(p, n);
    if (q && p == NULL)
        atomic_fetch_add(&g_live, 1);
    return q;
}

static void h_free(void *o, void *p)
{
    (void)o;
    if (p) {
        atomic_fetch_sub(&g_live, 1);
        free(p);
    }
}

/* Before any other library call. */
__attribute__((unused)) static void hook_install(void)
{
    steparc_allocator a = {.malloc_fn = h_malloc, .realloc_fn = h_realloc, .free_fn = h_free};
    steparc_set_allocator(&a);
}

__attribute__((unused)) static void arm(void)
{
    atomic_store(&g_armed, 1);
}

__attribute__((unused)) static void disarm(void)
{
    atomic_store(&g_armed, 0);
}

/* Arms the hook to fail allocation number n of the next run (counted from
 * here); g_injected tells afterwards whether the run got that far. */
__attribute__((unused)) static void arm_at(long n)
{
    atomic_store(&g_count, 0);
    atomic_store(&g_injected, 0);
    g_fail_at = n;
    arm();
}

#endif
