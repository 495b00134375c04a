/* thread_view.c - the records of one thread in transcript order.
 *
 * Open reads the thread's records once through a thread cursor and keeps, per
 * record, its ordinal, kind, created_at and the keys that place it (the
 * message id, the run id, a message_creation step's message_id): not the
 * records. Messages are sorted by (created_at, ordinal); each step gets an
 * anchor, the index of the message it goes before: the message its
 * message_creation step creates, else the first message created after it;
 * anchors are made monotonic backwards within a run so that a run's tool calls
 * stay before the message the run then writes. A run goes just before its first
 * step (a run without steps: by its created_at, so after the user message that
 * started it). next() fetches each record again by ordinal. */
#include <stdlib.h>

#include "common.h"
#include "steparc.h"

typedef struct {
    uint64_t ordinal;
    int64_t created_at;
    int kind;
    unsigned flags;
    size_t anchor;      /* message index it goes before; messages: their own index */
    size_t run;         /* index of its run group (steps, runs), else SIZE_MAX */
    int64_t run_time;   /* created_at of its run (ties between runs) */
    uint64_t run_ord;
    int seq;            /* 0 the thread, 1 a run, 2 a step, 3 a message */
    size_t id_off, id_len;       /* message id / run id (of a run record) */
    size_t run_off, run_len;     /* step, message: run_id */
    size_t mid_off, mid_len;     /* step: message_creation.message_id */
} tv_item;

struct steparc_thread_view {
    steparc_reader *r;
    tv_item *items;
    size_t n, cap, pos;
    steparc_buf keys; /* the ids, back to back */
    steparc_buf rec;
    char err[200];
};

static int keep_str(steparc_thread_view *v, const steparc_opt_str *s, size_t *off, size_t *len)
{
    *off = v->keys.len;
    *len = 0;
    if (s->state != STEPARC_SET)
        return 0;
    *len = s->v.len;
    return sa_buf_append(&v->keys, s->v.ptr, s->v.len);
}

static int created(const steparc_opt_int *t)
{
    return t->state == STEPARC_SET;
}

/* The fields of one record that place it. */
static int add_record(steparc_thread_view *v, uint64_t ord, const void *mp, size_t len)
{
    int kind = STEPARC_KIND_OTHER, rc = steparc_record_kind(&kind, mp, len);
    if (rc != 0 || (kind != STEPARC_KIND_MESSAGE && kind != STEPARC_KIND_STEP &&
                    kind != STEPARC_KIND_RUN && kind != STEPARC_KIND_THREAD))
        return 0; /* nothing else belongs in a transcript */
    if (SA_GROW(v->items, v->cap, v->n, 64) != 0)
        return STEPARC_E_NOMEM;
    tv_item *it = &v->items[v->n];
    memset(it, 0, sizeof *it);
    it->ordinal = ord;
    it->kind = kind;
    it->run = SIZE_MAX;
    if (kind == STEPARC_KIND_MESSAGE) {
        steparc_message *m = NULL;
        if ((rc = steparc_message_decode(&m, mp, len)) != 0)
            return rc;
        it->created_at = created(&m->created_at) ? m->created_at.v : 0;
        it->seq = 3;
        rc = keep_str(v, &m->id, &it->id_off, &it->id_len);
        if (rc == 0)
            rc = keep_str(v, &m->run_id, &it->run_off, &it->run_len);
        steparc_message_free(m);
    } else if (kind == STEPARC_KIND_STEP) {
        steparc_step *s = NULL;
        if ((rc = steparc_step_decode(&s, mp, len)) != 0)
            return rc;
        it->created_at = created(&s->created_at) ? s->created_at.v : 0;
        it->seq = 2;
        rc = keep_str(v, &s->run_id, &it->run_off, &it->run_len);
        if (rc == 0 && s->step_details.state == STEPARC_SET &&
            s->step_details.v.message_creation.state == STEPARC_SET)
            rc = keep_str(v, &s->step_details.v.message_creation.v.message_id, &it->mid_off,
                          &it->mid_len);
        steparc_step_free(s);
    } else if (kind == STEPARC_KIND_RUN) {
        steparc_run *run = NULL;
        if ((rc = steparc_run_decode(&run, mp, len)) != 0)
            return rc;
        it->created_at = created(&run->created_at) ? run->created_at.v : 0;
        it->seq = 1;
        rc = keep_str(v, &run->id, &it->id_off, &it->id_len);
        steparc_run_free(run);
    }
    if (rc == 0)
        v->n++;
    return rc;
}

static int cmp_time(const void *a, const void *b)
{
    const tv_item *x = a, *y = b;
    if (x->created_at != y->created_at)
        return x->created_at < y->created_at ? -1 : 1;
    return x->ordinal < y->ordinal ? -1 : x->ordinal > y->ordinal;
}

/* Final order: by anchor; before a message its runs (by the run's time),
 * each run then its steps by time; the thread first. */
static int cmp_final(const void *a, const void *b)
{
    const tv_item *x = a, *y = b;
    if ((x->seq == 0) != (y->seq == 0))
        return x->seq == 0 ? -1 : 1;
    if (x->anchor != y->anchor)
        return x->anchor < y->anchor ? -1 : 1;
    if ((x->seq == 3) != (y->seq == 3))
        return x->seq == 3 ? 1 : -1;
    if (x->run != y->run) {
        if (x->run_time != y->run_time)
            return x->run_time < y->run_time ? -1 : 1;
        return x->run_ord < y->run_ord ? -1 : 1;
    }
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return cmp_time(a, b);
}

static int same(const steparc_thread_view *v, size_t o1, size_t l1, size_t o2, size_t l2)
{
    return l1 == l2 && memcmp(v->keys.data + o1, v->keys.data + o2, l1) == 0;
}

/* Message index of the message with id (off, len) among the sorted messages
 * items[0..nm), or SIZE_MAX. Linear: a thread's messages are few. */
static size_t message_index(const steparc_thread_view *v, size_t nm, size_t off, size_t len)
{
    for (size_t i = 0; i < nm && len > 0; i++)
        if (same(v, v->items[i].id_off, v->items[i].id_len, off, len))
            return i;
    return SIZE_MAX;
}

/* The first message created after t (index nm: the end). */
static size_t time_anchor(const steparc_thread_view *v, size_t nm, int64_t t)
{
    size_t i = 0;
    while (i < nm && v->items[i].created_at <= t)
        i++;
    return i;
}

/* Groups the steps of each run (by run_id) and gives every item its anchor.
 * items are sorted: messages first (by time), then the rest (by time). */
static void place(steparc_thread_view *v, size_t nm, size_t *minv)
{
    for (size_t i = 0; i < v->n; i++)
        minv[i] = SIZE_MAX;
    for (size_t i = 0; i < nm; i++)
        v->items[i].anchor = i;
    for (size_t i = nm; i < v->n; i++) {
        tv_item *it = &v->items[i];
        if (it->seq == 0)
            continue;
        /* the run group: the first run record or step with this run id */
        size_t key_off = it->seq == 1 ? it->id_off : it->run_off;
        size_t key_len = it->seq == 1 ? it->id_len : it->run_len;
        it->run = i;
        for (size_t j = nm; j < i; j++) {
            const tv_item *o = &v->items[j];
            size_t ooff = o->seq == 1 ? o->id_off : o->run_off;
            size_t olen = o->seq == 1 ? o->id_len : o->run_len;
            if (o->seq != 0 && same(v, ooff, olen, key_off, key_len)) {
                it->run = o->run;
                break;
            }
        }
        it->anchor = time_anchor(v, nm, it->created_at);
        if (it->seq == 2 && it->mid_len > 0) {
            size_t m = message_index(v, nm, it->mid_off, it->mid_len);
            if (m == SIZE_MAX)
                it->flags |= STEPARC_TV_MISSING_MESSAGE;
            else
                it->anchor = m;
        }
    }
    /* Within a run, backwards: an item never goes after a later one of its
     * run. minv[run] is the smallest anchor of the run's later items. */
    for (size_t i = v->n; i-- > nm;) {
        tv_item *it = &v->items[i];
        if (it->seq == 0)
            continue;
        it->run_time = v->items[it->run].created_at;
        it->run_ord = v->items[it->run].ordinal;
        if (minv[it->run] < it->anchor)
            it->anchor = minv[it->run];
        minv[it->run] = it->anchor;
    }
}

static int by_messages_first(const void *a, const void *b)
{
    const tv_item *x = a, *y = b;
    if ((x->seq == 3) != (y->seq == 3))
        return x->seq == 3 ? -1 : 1;
    if ((x->seq == 0) != (y->seq == 0))
        return x->seq == 0 ? -1 : 1;
    return cmp_time(a, b);
}

int steparc_thread_view_open(steparc_thread_view **out, steparc_reader *r, const char *thread_id,
                             size_t len)
{
    if (!out)
        return STEPARC_E_ARG;
    *out = NULL;
    if (!r || (!thread_id && len) || len == 0)
        return STEPARC_E_ARG;
    steparc_thread_view *v = sa_calloc(1, sizeof *v);
    if (!v)
        return STEPARC_E_NOMEM;
    v->r = r;
    steparc_filter f;
    memset(&f, 0, sizeof f);
    f.thread_id.ptr = thread_id;
    f.thread_id.len = len;
    f.kinds = STEPARC_KIND_BIT(STEPARC_KIND_THREAD) | STEPARC_KIND_BIT(STEPARC_KIND_MESSAGE) |
              STEPARC_KIND_BIT(STEPARC_KIND_RUN) | STEPARC_KIND_BIT(STEPARC_KIND_STEP);
    steparc_cursor *c = NULL;
    int rc = steparc_cursor_open(&c, r, &f);
    uint64_t ord;
    const void *mp;
    size_t mlen;
    while (rc == 0 && (rc = steparc_cursor_next(&ord, &mp, &mlen, c)) == 0)
        rc = add_record(v, ord, mp, mlen);
    steparc_cursor_close(c);
    if (rc != STEPARC_END)
        goto fail;
    if (v->n > 0)
        qsort(v->items, v->n, sizeof *v->items, by_messages_first);
    size_t nm = 0;
    while (nm < v->n && v->items[nm].seq == 3)
        nm++;
    size_t *minv = sa_malloc((v->n ? v->n : 1) * sizeof *minv);
    if (!minv) {
        rc = STEPARC_E_NOMEM;
        goto fail;
    }
    place(v, nm, minv);
    sa_free(minv);
    if (v->n > 0)
        qsort(v->items, v->n, sizeof *v->items, cmp_final);
    *out = v;
    return 0;
fail:
    steparc_thread_view_close(v);
    return rc;
}

int steparc_thread_view_next(steparc_tv_entry *entry, steparc_thread_view *v)
{
    if (!entry || !v)
        return STEPARC_E_ARG;
    if (v->pos >= v->n)
        return STEPARC_END;
    const tv_item *it = &v->items[v->pos++];
    int rc = steparc_reader_get_msgpack(&v->rec, v->r, it->ordinal);
    if (rc != 0)
        return rc;
    memset(entry, 0, sizeof *entry);
    entry->kind = it->kind;
    entry->ordinal = it->ordinal;
    entry->flags = it->flags;
    entry->mp = v->rec.data;
    entry->mp_len = v->rec.len;
    return 0;
}

size_t steparc_thread_view_count(const steparc_thread_view *v)
{
    return v ? v->n : 0;
}

void steparc_thread_view_close(steparc_thread_view *v)
{
    if (!v)
        return;
    sa_free(v->items);
    steparc_buf_free(&v->keys);
    steparc_buf_free(&v->rec);
    sa_free(v);
}
