/* pool.c - the ordered worker pool (pool.h). One mutex guards the slots'
 * states; workers take the oldest queued item, the caller delivers the item
 * whose sequence number is next. Slots are few (2-3 per thread), so they are
 * scanned rather than linked. */
#include <pthread.h>

#include "common.h"
#include "pool.h"

typedef enum {
    SLOT_FREE,       /* the pool's to hand out */
    SLOT_FILLING,    /* acquired, being filled by the caller */
    SLOT_QUEUED,     /* submitted, waiting for a worker */
    SLOT_WORKING,    /* on a worker */
    SLOT_DONE,       /* worked, waiting for its turn to be delivered */
    SLOT_DELIVERING  /* in deliver, on the caller */
} slot_state;

typedef struct {
    slot_state state;
    int status;      /* work's */
    unsigned long long seq;
} slot_meta;

struct sa_pool {
    sa_pool_def def;
    unsigned char *items;
    slot_meta *meta;
    size_t nslots;
    pthread_t *th;
    int nthreads;
    void *inline_tls;            /* threads == 0: the caller's state */
    int inline_tls_rc;
    unsigned long long next_seq, next_out;
    int err;                     /* sticky */
    int stop;
    int sync_ready;              /* mutex and conditions initialised */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
};

static void *item_at(sa_pool *p, size_t i)
{
    return p->items + i * p->def.item_size;
}

static size_t slot_of(sa_pool *p, const void *item)
{
    return (size_t)((const unsigned char *)item - p->items) / p->def.item_size;
}

static void *worker(void *arg)
{
    sa_pool *p = (sa_pool *)arg;
    void *tls = NULL;
    int init_rc = p->def.thread_init ? p->def.thread_init(p->def.ctx, &tls) : 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        slot_meta *m = NULL;
        size_t at = 0;
        while (!p->stop) {
            for (size_t i = 0; i < p->nslots; i++)
                if (p->meta[i].state == SLOT_QUEUED && (m == NULL || p->meta[i].seq < m->seq)) {
                    m = &p->meta[i];
                    at = i;
                }
            if (m)
                break;
            pthread_cond_wait(&p->cv_work, &p->mu);
        }
        if (m == NULL)
            break;
        m->state = SLOT_WORKING;
        pthread_mutex_unlock(&p->mu);
        int rc = init_rc ? init_rc : p->def.work(p->def.ctx, tls, item_at(p, at));
        pthread_mutex_lock(&p->mu);
        m->status = rc;
        m->state = SLOT_DONE;
        pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    if (p->def.thread_fini && init_rc == 0)
        p->def.thread_fini(p->def.ctx, tls);
    return NULL;
}

int sa_pool_open(sa_pool **out, const sa_pool_def *def)
{
    *out = NULL;
    sa_pool *p = (sa_pool *)sa_calloc(1, sizeof *p);
    if (p == NULL)
        return STEPARC_E_NOMEM;
    p->def = *def;
    p->nslots = def->threads > 0 && def->nslots > 0 ? def->nslots : 1;
    p->items = (unsigned char *)sa_calloc(p->nslots, def->item_size);
    p->meta = (slot_meta *)sa_calloc(p->nslots, sizeof *p->meta);
    if (p->items == NULL || p->meta == NULL)
        goto fail;
    if (def->threads <= 0) {
        if (def->thread_init && (p->inline_tls_rc = def->thread_init(def->ctx, &p->inline_tls)) != 0) {
            int rc = p->inline_tls_rc;
            sa_pool_close(p);
            return rc;
        }
        *out = p;
        return 0;
    }
    p->th = (pthread_t *)sa_calloc((size_t)def->threads, sizeof *p->th);
    if (p->th == NULL)
        goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    p->sync_ready = 1;
    for (int i = 0; i < def->threads; i++) {
        if (pthread_create(&p->th[i], NULL, worker, p) != 0)
            break;
        p->nthreads++;
    }
    if (p->nthreads == 0)
        goto fail;
    *out = p;
    return 0;
fail:
    sa_pool_close(p);
    return STEPARC_E_NOMEM;
}

/* Drops every queued item and waits for those on workers (mu held). */
static void drop_in_flight(sa_pool *p)
{
    for (;;) {
        int working = 0;
        for (size_t i = 0; i < p->nslots; i++) {
            if (p->meta[i].state == SLOT_QUEUED || p->meta[i].state == SLOT_DONE)
                p->meta[i].state = SLOT_FREE;
            working |= p->meta[i].state == SLOT_WORKING;
        }
        if (!working)
            return;
        pthread_cond_wait(&p->cv_done, &p->mu);
    }
}

/* Delivers the next item when it is done (mu held; released around
 * deliver). 1 when one was delivered, 0 when the next is not done, -1
 * when nothing is in flight. */
static int deliver_next(sa_pool *p)
{
    slot_meta *head = NULL;
    size_t at = 0;
    for (size_t i = 0; i < p->nslots; i++) {
        slot_state s = p->meta[i].state;
        if ((s == SLOT_QUEUED || s == SLOT_WORKING || s == SLOT_DONE) &&
            p->meta[i].seq == p->next_out) {
            head = &p->meta[i];
            at = i;
        }
    }
    if (head == NULL)
        return -1;
    if (head->state != SLOT_DONE)
        return 0;
    head->state = SLOT_DELIVERING;
    pthread_mutex_unlock(&p->mu);
    int rc = p->def.deliver(p->def.ctx, item_at(p, at), head->status);
    pthread_mutex_lock(&p->mu);
    head->state = SLOT_FREE;
    p->next_out++;
    if (rc) {
        p->err = rc;
        drop_in_flight(p);
    }
    return 1;
}

int sa_pool_acquire(void **item, sa_pool *p)
{
    *item = NULL;
    if (p->nthreads == 0) {
        if (p->err == 0)
            p->meta[0].state = SLOT_FILLING, *item = item_at(p, 0);
        return p->err;
    }
    pthread_mutex_lock(&p->mu);
    int rc;
    for (;;) {
        if ((rc = p->err) != 0)
            break;
        if (deliver_next(p) == 1)
            continue;
        if (p->err)
            continue;
        size_t i = 0;
        while (i < p->nslots && p->meta[i].state != SLOT_FREE)
            i++;
        if (i < p->nslots) {
            p->meta[i].state = SLOT_FILLING;
            *item = item_at(p, i);
            break;
        }
        pthread_cond_wait(&p->cv_done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sa_pool_submit(sa_pool *p, void *item)
{
    size_t i = slot_of(p, item);
    if (p->nthreads == 0) {
        int st = p->inline_tls_rc ? p->inline_tls_rc : p->def.work(p->def.ctx, p->inline_tls, item);
        p->meta[i].state = SLOT_DELIVERING;
        int rc = p->def.deliver(p->def.ctx, item, st);
        p->meta[i].state = SLOT_FREE;
        if (rc)
            p->err = rc;
        return rc;
    }
    pthread_mutex_lock(&p->mu);
    int rc = p->err;
    if (rc == 0) {
        p->meta[i].seq = p->next_seq++;
        p->meta[i].state = SLOT_QUEUED;
        pthread_cond_signal(&p->cv_work);
    } else {
        p->meta[i].state = SLOT_FREE;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sa_pool_finish(sa_pool *p)
{
    if (p->nthreads == 0)
        return p->err;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->err)
            break;
        int d = deliver_next(p);
        if (d < 0)
            break;
        if (d == 0)
            pthread_cond_wait(&p->cv_done, &p->mu);
    }
    int rc = p->err;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int sa_pool_cancel(sa_pool *p, int status)
{
    if (p->nthreads == 0) {
        if (p->err == 0)
            p->err = status;
        return p->err;
    }
    pthread_mutex_lock(&p->mu);
    if (p->err == 0)
        p->err = status;
    drop_in_flight(p);
    int rc = p->err;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void *sa_pool_item(sa_pool *p, size_t i)
{
    return i < p->nslots ? item_at(p, i) : NULL;
}

size_t sa_pool_nslots(const sa_pool *p)
{
    return p->nslots;
}

int sa_pool_threads(const sa_pool *p)
{
    return p->nthreads;
}

void sa_pool_close(sa_pool *p)
{
    if (p == NULL)
        return;
    if (p->sync_ready) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->cv_work);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->nthreads; i++)
            pthread_join(p->th[i], NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv_work);
        pthread_cond_destroy(&p->cv_done);
    }
    if (p->def.thread_fini && p->nthreads == 0 && p->def.threads <= 0 && p->inline_tls_rc == 0 &&
        p->inline_tls)
        p->def.thread_fini(p->def.ctx, p->inline_tls);
    if (p->def.item_fini && p->items)
        for (size_t i = 0; i < p->nslots; i++)
            p->def.item_fini(p->def.ctx, item_at(p, i));
    sa_free(p->th);
    sa_free(p->meta);
    sa_free(p->items);
    sa_free(p);
}
