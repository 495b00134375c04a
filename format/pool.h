/* pool.h - the ordered worker pool: items are worked on by N threads in any
 * order and handed back to the caller strictly in the order they were
 * submitted. Pure threading, no I/O: the writer's block compression, the
 * converter's JSONL parsing and the reader's parallel export use it.
 *
 * The pool owns nslots items of item_size bytes (zeroed at open; what they
 * point to is the caller's). The caller thread, and only it, calls
 * acquire/submit/finish/cancel/close; `deliver` runs on it too, inside those
 * calls, in submission order. `work` runs on a worker thread (or, with no
 * threads, inline in submit), on one item at a time, with that thread's
 * state from thread_init.
 *
 *     sa_pool_open(&p, &def);
 *     for each piece:  sa_pool_acquire(&item, p); fill item; sa_pool_submit(p, item);
 *     sa_pool_finish(p);                        (or sa_pool_cancel on failure)
 *     sa_pool_close(p);                         (item_fini frees what items point to)
 *
 * Errors: the first nonzero status of deliver is sticky: nothing more is delivered, the
 * items in flight are waited for and dropped, and acquire, submit and finish
 * return it. */
#ifndef STEPARC_POOL_H
#define STEPARC_POOL_H

#include <stddef.h>

typedef struct sa_pool sa_pool;

typedef struct {
    void *ctx;           /* passed to every callback */
    size_t item_size;    /* bytes of one item */
    size_t nslots;       /* items in flight at most (with threads: >= 1; without: 1 is used) */
    int threads;         /* worker threads; 0: work runs inline in submit */
    /* optional: a worker's own state (compression contexts...), made on the
     * worker before its first item; a nonzero status fails its items */
    int (*thread_init)(void *ctx, void **tls);
    void (*thread_fini)(void *ctx, void *tls);
    /* works on an item; its status (or thread_init's failure, without a
     * call) is handed to deliver */
    int (*work)(void *ctx, void *tls, void *item);
    /* takes a worked item in submission order; nonzero stops the pool */
    int (*deliver)(void *ctx, void *item, int work_status);
    /* optional: frees what an item points to, for every slot, at close */
    void (*item_fini)(void *ctx, void *item);
} sa_pool_def;

/* 0 or STEPARC_E_NOMEM (memory, or no thread could be started; with some
 * started, the pool runs with those). With threads == 0, the inline state of
 * thread_init is made here (its failure is returned). */
int sa_pool_open(sa_pool **out, const sa_pool_def *def);
/* A free item, after delivering every item done in order (waits for one when
 * all are in flight). 0, or the pool's sticky error (*item NULL). */
int sa_pool_acquire(void **item, sa_pool *p);
/* Queues an item returned by acquire. Inline (no threads): works on it and
 * delivers it now, returning deliver's status. */
int sa_pool_submit(sa_pool *p, void *item);
/* Delivers every item in flight, in order. 0 or the sticky error. */
int sa_pool_finish(sa_pool *p);
/* Stops with status (nonzero; kept when an error is already set): waits
 * for the items in flight and drops them. Returns the sticky error. */
int sa_pool_cancel(sa_pool *p, int status);
/* Item i (0..nslots-1); NULL beyond. */
void *sa_pool_item(sa_pool *p, size_t i);
size_t sa_pool_nslots(const sa_pool *p);
/* Worker threads running (0: inline). */
int sa_pool_threads(const sa_pool *p);
/* Stops and joins the workers (undelivered items are dropped), frees the
 * pool. NULL is a no-op. */
void sa_pool_close(sa_pool *p);

#endif
